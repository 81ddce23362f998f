//! Tensor shapes and numpy-style broadcasting.
//!
//! Two shapes broadcast by aligning them on the right; in each position the sizes must be equal
//! or one of them 1, and the result takes the larger. `[2, 3, 4]` and `[4]` give `[2, 3, 4]`;
//! `[5, 1]` and `[1, 7]` give `[5, 7]`; `[3]` and `[4]` do not broadcast.
//!
//! For the kernels, a broadcast is turned into a [`Plan`]: size-1 output dimensions dropped and
//! neighbouring dimensions merged wherever both inputs are laid out contiguously across them,
//! so that a same-shape operation is one flat loop and a trailing-vector broadcast is one loop
//! per row.
use crate::error::{Error, Result};

/// The largest rank the elementwise kernels accept.
pub const MAX_RANK: usize = 8;

/// A tensor shape of rank `0..=MAX_RANK` (rank 0 is a scalar), whose element count fits `usize`.
///
/// ```
/// use wasmnn_kernels::Shape;
/// let s = Shape::new(&[2, 3, 4])?;
/// assert_eq!((s.rank(), s.numel(), s.dims()), (3, 24, &[2, 3, 4][..]));
/// assert_eq!(Shape::broadcast(&[2, 1, 4], &[3, 1])?.dims(), &[2, 3, 4]);
/// assert!(Shape::broadcast(&[3], &[4]).is_err());
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: usize,
    numel: usize,
}

impl Shape {
    /// Validates `dims` (rank at most [`MAX_RANK`], element count without overflow).
    pub fn new(dims: &[usize]) -> Result<Self> {
        if dims.len() > MAX_RANK {
            return Err(Error::InvalidArgument {
                what: "shape",
                why: "rank above MAX_RANK (8)",
            });
        }
        let numel = dims
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or(Error::Overflow { what: "shape" })?;
        let mut s = Shape {
            dims: [1; MAX_RANK],
            rank: dims.len(),
            numel,
        };
        s.dims[..dims.len()].copy_from_slice(dims);
        Ok(s)
    }

    /// The shape two shapes broadcast to, or [`Error::ShapeMismatch`] naming the first
    /// incompatible pair of sizes.
    pub fn broadcast(a: &[usize], b: &[usize]) -> Result<Self> {
        let (a, b) = (Shape::new(a)?, Shape::new(b)?);
        let rank = a.rank.max(b.rank);
        let mut dims = [1usize; MAX_RANK];
        for (i, d) in dims.iter_mut().enumerate().take(rank) {
            let (x, y) = (
                a.dim_from_right(rank - 1 - i),
                b.dim_from_right(rank - 1 - i),
            );
            *d = match (x, y) {
                _ if x == y => x,
                (1, _) => y,
                (_, 1) => x,
                _ => {
                    return Err(Error::ShapeMismatch {
                        what: "broadcast dimension (sizes must be equal or 1)",
                        expected: x,
                        found: y,
                    })
                }
            };
        }
        Shape::new(&dims[..rank])
    }

    /// The sizes.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank]
    }
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.rank
    }
    /// Number of elements (1 for rank 0).
    pub fn numel(&self) -> usize {
        self.numel
    }

    /// Size of the dimension `i` places from the right (1 beyond the rank).
    fn dim_from_right(&self, i: usize) -> usize {
        if i < self.rank {
            self.dims[self.rank - 1 - i]
        } else {
            1
        }
    }
}

/// Checks that a buffer holds exactly the elements of its shape.
pub(crate) fn check_len(what: &'static str, len: usize, shape: &Shape) -> Result<()> {
    if len == shape.numel() {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what,
            expected: shape.numel(),
            found: len,
        })
    }
}

/// One merged dimension of a broadcast: its size and each input's element stride (0 when the
/// input is broadcast along it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dim {
    pub size: usize,
    pub sa: usize,
    pub sb: usize,
}

/// A broadcast `a op b -> out` as at most [`MAX_RANK`] merged dimensions, outermost first. The
/// output is dense row-major; the innermost dimension has input strides 0 or 1.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub dims: [Dim; MAX_RANK],
    pub rank: usize,
}

impl Plan {
    /// The plan of `a` and `b` (already validated to broadcast to `out`).
    pub(crate) fn new(a: &Shape, b: &Shape, out: &Shape) -> Plan {
        let rank = out.rank;
        // Contiguous strides of each input, aligned on the right; 0 where it is broadcast.
        let mut full = [Dim {
            size: 1,
            sa: 0,
            sb: 0,
        }; MAX_RANK];
        let (mut ra, mut rb) = (1usize, 1usize);
        for i in 0..rank {
            let (da, db) = (a.dim_from_right(i), b.dim_from_right(i));
            let size = out.dim_from_right(i);
            full[rank - 1 - i] = Dim {
                size,
                sa: if da == 1 { 0 } else { ra },
                sb: if db == 1 { 0 } else { rb },
            };
            ra *= da; // cannot overflow: bounded by numel of a valid shape
            rb *= db;
        }
        // Drop size-1 dimensions, then merge an outer dimension into the inner one when both
        // inputs continue contiguously across the boundary (stride_outer = stride_inner * size).
        let mut plan = Plan {
            dims: [Dim {
                size: 1,
                sa: 0,
                sb: 0,
            }; MAX_RANK],
            rank: 0,
        };
        for d in full[..rank].iter().copied().filter(|d| d.size != 1) {
            if plan.rank > 0 {
                let last = &mut plan.dims[plan.rank - 1];
                // `last` is the outer dimension, `d` the inner one being appended.
                if last.sa == d.sa * d.size && last.sb == d.sb * d.size {
                    *last = Dim {
                        size: last.size * d.size,
                        sa: d.sa,
                        sb: d.sb,
                    };
                    continue;
                }
            }
            plan.dims[plan.rank] = d;
            plan.rank += 1;
        }
        plan
    }

    /// The innermost dimension (a single element for a scalar result).
    pub(crate) fn inner(&self) -> Dim {
        if self.rank == 0 {
            Dim {
                size: 1,
                sa: 0,
                sb: 0,
            }
        } else {
            self.dims[self.rank - 1]
        }
    }

    /// Calls `f(offset_a, offset_b, offset_out)` for the start of every inner row, in output
    /// order (an odometer over the outer dimensions).
    pub(crate) fn for_each_row(&self, mut f: impl FnMut(usize, usize, usize)) {
        let outer = &self.dims[..self.rank.saturating_sub(1)];
        let rows: usize = outer.iter().map(|d| d.size).product();
        let inner = self.inner().size;
        let mut idx = [0usize; MAX_RANK];
        let (mut oa, mut ob) = (0usize, 0usize);
        for r in 0..rows {
            f(oa, ob, r * inner);
            // Advance the odometer: the innermost outer dimension first.
            for (k, d) in outer.iter().enumerate().rev() {
                idx[k] += 1;
                oa += d.sa;
                ob += d.sb;
                if idx[k] < d.size {
                    break;
                }
                oa -= d.sa * d.size;
                ob -= d.sb * d.size;
                idx[k] = 0;
            }
        }
    }
}
