//! Packed f32 GEMM: `C = alpha * A B + beta * C`, then an epilogue.
//!
//! - [`gemm`]: any A, B, C layout (strides), B packed on the fly.
//! - [`gemm_packed`]: B pre-packed once ([`PackedB`]) and reused; the inference path.
//!
//! Semantics follow BLAS: `beta == 0` means C is *not read* (it may hold NaN or garbage);
//! A is read in place (no packing, no scratch memory). Every shape, length, stride and overflow
//! problem is reported as an [`Error`] before anything is written.
//!
//! Module map: [`kernel`] (microkernels and their contract), [`pack`] (B layout), `tile`
//! (alpha/beta/epilogue/store of one register tile), `driver` (the cache-blocking loop nest).
pub mod kernel;
pub mod pack;

mod driver;
mod tile;

pub use driver::Blocking;
pub(crate) use driver::{pack_rows, packer_strip, PackA, MAX_PACKER_KC};
pub use pack::PackedB;

use crate::epilogue::{validate_epilogue, EpilogueOp};
use crate::error::{Error, Result};
use crate::matrix::{MatMut, MatRef};
pub(crate) use kernel::row_groups;
pub(crate) use tile::Strided;

/// `C = alpha * A B + beta * C` for any layouts; B is packed for this call only.
///
/// For repeated products with the same B (weights), pack it once with [`PackedB::new`] and call
/// [`gemm_packed`].
///
/// ```
/// use wasmnn_kernels::{gemm, MatMut, MatRef};
/// let a = [1.0, 2.0, 3.0, 4.0]; // 2x2
/// let b = [5.0, 6.0, 7.0, 8.0]; // 2x2
/// let mut c = [f32::NAN; 4]; // beta = 0: never read
/// gemm(1.0, MatRef::row_major(&a, 2, 2)?, MatRef::row_major(&b, 2, 2)?, 0.0,
///      MatMut::row_major(&mut c, 2, 2)?)?;
/// assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn gemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) -> Result<()> {
    gemm_scratch(alpha, a, b, beta, c, &mut GemmScratch::new())
}

/// Reusable scratch memory of [`gemm_scratch`]: the packed copy of B. It grows to the largest
/// B it has packed (never shrinks) and is reused afterwards.
///
/// ```
/// let scratch = wasmnn_kernels::GemmScratch::new();
/// assert_eq!(scratch.bytes(), 0); // grows on first use
/// ```
#[derive(Clone, Debug)]
pub struct GemmScratch {
    b: PackedB,
}

impl Default for GemmScratch {
    fn default() -> Self {
        Self::new()
    }
}

impl GemmScratch {
    /// An empty scratch (no memory held); the first call sizes it.
    pub fn new() -> Self {
        Self {
            b: PackedB::empty(),
        }
    }

    /// Bytes of packed B currently held.
    pub fn bytes(&self) -> usize {
        self.b.size_bytes()
    }
}

/// [`gemm`] packing B into reusable scratch memory: once `scratch` has packed a B of this size,
/// the call makes no heap allocation (A is read in place, C written in place).
///
/// ```
/// use wasmnn_kernels::{gemm_scratch, GemmScratch, MatMut, MatRef};
/// let mut scratch = GemmScratch::new();
/// let mut c = [0.0f32; 4];
/// for s in [1.0, 2.0] {
///     let b = [s, 0.0, 0.0, s]; // s * identity
///     gemm_scratch(1.0, MatRef::row_major(&[1.0, 2.0, 3.0, 4.0], 2, 2)?,
///         MatRef::row_major(&b, 2, 2)?, 0.0, MatMut::row_major(&mut c, 2, 2)?, &mut scratch)?;
/// }
/// assert_eq!(c, [2.0, 4.0, 6.0, 8.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn gemm_scratch(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: MatMut<'_>,
    scratch: &mut GemmScratch,
) -> Result<()> {
    check_shapes(&a, b.rows(), b.cols(), &c)?;
    scratch.b.repack(b, pack::DEFAULT_KC)?;
    gemm_packed(alpha, a, &scratch.b, beta, c, &[])
}

/// `C = alpha * A B + beta * C` with pre-packed B, followed by the epilogue `ops` (bias,
/// activation, residual, ...) applied in order on each register tile before it is stored.
///
/// ```
/// use wasmnn_kernels::{gemm_packed, Activation, EpilogueOp, MatMut, MatRef, PackedB};
/// let w = PackedB::from_row_major(&[1.0, -1.0, 2.0, -2.0], 2, 2)?; // k = 2, n = 2
/// let x = [1.0, 1.0];
/// let bias = [0.5, 0.5];
/// let mut y = [0.0; 2];
/// gemm_packed(1.0, MatRef::row_major(&x, 1, 2)?, &w, 0.0, MatMut::row_major(&mut y, 1, 2)?,
///     &[EpilogueOp::AddColBias(&bias), EpilogueOp::Activation(Activation::Relu)])?;
/// assert_eq!(y, [3.5, 0.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn gemm_packed(
    alpha: f32,
    a: MatRef<'_>,
    b: &PackedB,
    beta: f32,
    c: MatMut<'_>,
    ops: &[EpilogueOp<'_>],
) -> Result<()> {
    gemm_packed_with(alpha, a, b, beta, c, ops, Blocking::default())
}

/// A "parallel for" supplied by the caller: run `task(i)` for every `i < count`, in any order,
/// on any threads, and return when all are done. The kernels stay free of any thread pool: the
/// facade passes rayon's (feature `threads`), a test may pass a sequential loop.
pub type ParallelFor<'a> = &'a (dyn Fn(usize, &(dyn Fn(usize) + Sync)) + Sync);

/// Least multiply-adds per task: below this, splitting costs more than it gains (a task of this
/// size runs for ~20 us at 40 GFLOP/s).
pub const MIN_MACS_PER_TASK: usize = 1 << 19;

/// [`gemm_packed`] split into disjoint 2-D tiles of C (rows in multiples of 4, columns in
/// multiples of 8), run through `par`. K is never split, so every element of C is computed by
/// one task in the same order as [`gemm_packed`]: the result is bit-identical for any thread
/// count and any `par`.
///
/// ```
/// use wasmnn_kernels::{gemm_packed, gemm_packed_par, MatMut, MatRef, PackedB};
/// let (m, k, n) = (64, 32, 48);
/// let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
/// let b = PackedB::from_row_major(&vec![0.5; k * n], k, n)?;
/// let (mut c1, mut c2) = (vec![0.0; m * n], vec![0.0; m * n]);
/// gemm_packed(1.0, MatRef::row_major(&a, m, k)?, &b, 0.0, MatMut::row_major(&mut c1, m, n)?, &[])?;
/// let sequential = |count: usize, task: &(dyn Fn(usize) + Sync)| (0..count).for_each(task);
/// gemm_packed_par(1.0, MatRef::row_major(&a, m, k)?, &b, 0.0, MatMut::row_major(&mut c2, m, n)?, &[], 4, &sequential)?;
/// assert_eq!(c1, c2);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed_par(
    alpha: f32,
    a: MatRef<'_>,
    b: &PackedB,
    beta: f32,
    mut c: MatMut<'_>,
    ops: &[EpilogueOp<'_>],
    threads: usize,
    par: ParallelFor<'_>,
) -> Result<()> {
    check_shapes(&a, b.k(), b.n(), &c)?;
    validate_epilogue(ops, c.rows(), c.cols())?;
    let (m, n, k) = (c.rows(), c.cols(), b.k());
    let macs = m.saturating_mul(n).saturating_mul(k.max(1));
    // Aim for several tiles per thread (load balance), each above the size threshold.
    let want = (threads.max(1) * 4).min(macs / MIN_MACS_PER_TASK).max(1);
    if threads <= 1 || want == 1 {
        return gemm_packed(alpha, a, b, beta, c, ops);
    }
    let (rows_per, cols_per) = tile_grid(m, n, want, c.row_stride() == 1);
    let (tr, tc) = (m.div_ceil(rows_per), n.div_ceil(cols_per));
    let problem = problem(alpha, &a, b, beta, &mut c, ops);
    let shared = SharedProblem(&problem);
    let task = move |t: usize| {
        let shared = &shared;
        let (ti, tj) = (t / tc, t % tc);
        let rows = ti * rows_per..((ti + 1) * rows_per).min(m);
        let cols = tj * cols_per..((tj + 1) * cols_per).min(n);
        // SAFETY: as in gemm_packed_with; tasks get disjoint (rows x cols) blocks of C (a tile
        // grid), so concurrent tasks never write the same element, and A, B, ops are read-only.
        unsafe { driver::run(shared.0, rows, cols, Blocking::default()) };
    };
    par(tr * tc, &task);
    Ok(())
}

/// Floats per 64-byte cache line: tasks' blocks of an output start on multiples of this.
pub(crate) const CACHE_LINE_FLOATS: usize = 16;

/// Rows and columns per tile of [`gemm_packed_par`]'s grid for an `m x n` C (both >= 1), about
/// `want` tiles, in units of the microkernel's tile ([`kernel::GEMM_MR`] x [`kernel::NR`]).
/// Exactly `want` tiles when `want` factors into a grid that fits: the factor pair with the
/// squarest tiles (least rows + columns per tile, i.e. least A and B per task; ties split the
/// rows). Otherwise the longer dimension is split first, then the other, until there are
/// `want`. An exact count matters: 9 tasks for 8 slots leave one thread a fifth task.
/// Along C's contiguous axis (rows if `col_major`, else columns) tile edges fall on multiples
/// of 16 floats (and of the tile), so that two tasks never write the same cache line of C (a shared line
/// ping-pongs between the cores); across it a shared line can only occur at the one element
/// where a row (column) ends, which is not worth coarser tiles.
fn tile_grid(m: usize, n: usize, want: usize, col_major: bool) -> (usize, usize) {
    let (mr, nr) = (kernel::GEMM_MR, kernel::NR);
    let (row_units, col_units) = (m.div_ceil(mr), n.div_ceil(nr));
    let per = |tr: usize, tc: usize| (row_units.div_ceil(tr) * mr, col_units.div_ceil(tc) * nr);
    let exact = (1..=want)
        .rev()
        .filter(|&tr| want % tr == 0 && tr <= row_units && want / tr <= col_units)
        .min_by_key(|&tr| {
            let (r, c) = per(tr, want / tr);
            r + c
        });
    let (tr, tc) = match exact {
        Some(tr) => (tr, want / tr),
        None => {
            let (mut tr, mut tc) = (1usize, 1usize);
            while tr * tc < want {
                if row_units / tr >= col_units / tc && tr < row_units {
                    tr += 1;
                } else if tc < col_units {
                    tc += 1;
                } else if tr < row_units {
                    tr += 1;
                } else {
                    break;
                }
            }
            (tr, tc)
        }
    };
    let (rows_per, cols_per) = per(tr, tc);
    // Whole tiles and whole cache lines: a multiple of both (16 is a power of two).
    let align = |x: usize, len: usize, unit: usize| {
        let step = unit / gcd(unit, CACHE_LINE_FLOATS) * CACHE_LINE_FLOATS;
        (x.div_ceil(step) * step).min(len)
    };
    if col_major {
        (align(rows_per, m, mr), cols_per)
    } else {
        (rows_per, align(cols_per, n, nr))
    }
}

const fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The problem shared by all tasks of [`gemm_packed_par`].
struct SharedProblem<'a>(&'a driver::Problem<'a>);
// SAFETY: tasks only read A, B and the epilogue operands, and write disjoint blocks of C
// through the raw pointer (see gemm_packed_par); the borrow of C outlives `par`.
unsafe impl Sync for SharedProblem<'_> {}
unsafe impl Send for SharedProblem<'_> {}

/// [`gemm_packed`] (`alpha = 1`, `beta = 0`) for rows `rows` of an `m x b.k()` A that `a`
/// packs strip by strip (a convolution's implicit im2col), into a C given as raw parts: for
/// callers whose concurrent tasks write disjoint but interleaved blocks of one output tensor
/// (the pixel blocks of a convolution), where no task can hold a `&mut` slice of its block.
/// Same loop nest and microkernel as [`gemm_packed`].
///
/// # Safety
/// `a` must honour [`PackA`]'s contract for an `m x b.k()` matrix; the `m x b.n()` elements that
/// `c` addresses must be in bounds of one allocation and valid for writes, and the `rows` of
/// them neither read nor written by anyone else during the call.
pub(crate) unsafe fn gemm_packer_raw(
    m: usize,
    a: &dyn PackA,
    b: &PackedB,
    c: Strided<*mut f32>,
    ops: &[EpilogueOp<'_>],
    rows: core::ops::Range<usize>,
) -> Result<()> {
    if b.kc() > MAX_PACKER_KC {
        return Err(Error::InvalidArgument {
            what: "packed B",
            why: "a packer source needs K blocks of at most MAX_PACKER_KC",
        });
    }
    if rows.start > rows.end || rows.end > m {
        return Err(Error::InvalidArgument {
            what: "rows",
            why: "the row range must lie inside 0..m",
        });
    }
    validate_epilogue(ops, m, b.n())?;
    let problem = driver::Problem {
        m,
        n: b.n(),
        k: b.k(),
        alpha: 1.0,
        beta: 0.0,
        a: driver::ASource::Packer(a),
        b,
        c,
        ops,
    };
    // SAFETY: rows inside 0..m, kc within the packer's limit, ops validated for m x n; A and C
    // as the caller promises.
    unsafe { driver::run(&problem, rows, 0..b.n(), Blocking::default()) };
    Ok(())
}

/// [`gemm_packed`] with explicit cache blocking (for tuning and for tests of the block edges).
pub fn gemm_packed_with(
    alpha: f32,
    a: MatRef<'_>,
    b: &PackedB,
    beta: f32,
    mut c: MatMut<'_>,
    ops: &[EpilogueOp<'_>],
    blocking: Blocking,
) -> Result<()> {
    check_shapes(&a, b.k(), b.n(), &c)?;
    validate_epilogue(ops, c.rows(), c.cols())?;
    if blocking.mc == 0 || blocking.nc == 0 {
        return Err(Error::InvalidArgument {
            what: "blocking",
            why: "mc and nc must be at least 1",
        });
    }
    let (m, n) = (c.rows(), c.cols());
    let problem = problem(alpha, &a, b, beta, &mut c, ops);
    // SAFETY: shapes checked above; MatRef / MatMut validated their strides against their
    // slices; C is exclusively borrowed and non-overlapping; ops validated for m x n.
    unsafe { driver::run(&problem, 0..m, 0..n, blocking) };
    Ok(())
}

/// The raw parts of a validated call (shapes and epilogue checked by the caller).
fn problem<'a>(
    alpha: f32,
    a: &MatRef<'a>,
    b: &'a PackedB,
    beta: f32,
    c: &mut MatMut<'_>,
    ops: &'a [EpilogueOp<'a>],
) -> driver::Problem<'a> {
    driver::Problem {
        m: c.rows(),
        n: c.cols(),
        k: b.k(),
        alpha,
        beta,
        a: driver::ASource::Matrix(Strided {
            ptr: a.data().as_ptr(),
            rs: a.row_stride(),
            cs: a.col_stride(),
        }),
        b,
        c: Strided {
            ptr: c.as_mut_ptr(),
            rs: c.row_stride(),
            cs: c.col_stride(),
        },
        ops,
    }
}

fn check_shapes(a: &MatRef<'_>, k: usize, n: usize, c: &MatMut<'_>) -> Result<()> {
    if a.cols() != k {
        return Err(Error::ShapeMismatch {
            what: "k (columns of A vs rows of B)",
            expected: k,
            found: a.cols(),
        });
    }
    if c.rows() != a.rows() {
        return Err(Error::ShapeMismatch {
            what: "rows of C (= rows of A)",
            expected: a.rows(),
            found: c.rows(),
        });
    }
    if c.cols() != n {
        return Err(Error::ShapeMismatch {
            what: "columns of C (= columns of B)",
            expected: n,
            found: c.cols(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{kernel, tile_grid, CACHE_LINE_FLOATS};

    #[test]
    fn tile_grid_edges_fall_on_cache_lines_along_the_contiguous_axis() {
        for m in 1..=80 {
            for n in [1, 3, 8, 16, 20, 33, 100, 512] {
                for want in 2..=16 {
                    for col_major in [false, true] {
                        let (rp, cp) = tile_grid(m, n, want, col_major);
                        // A tile as long as the matrix (or longer) means one tile that way.
                        assert!(rp >= 1 && cp >= 1);
                        let whole = |per: usize, len: usize, unit: usize, contiguous: bool| {
                            per >= len
                                || (per % unit == 0
                                    && (!contiguous || per % CACHE_LINE_FLOATS == 0))
                        };
                        assert!(whole(rp, m, kernel::GEMM_MR, col_major), "{m} {n} {want}");
                        assert!(whole(cp, n, kernel::NR, !col_major), "{m} {n} {want}");
                    }
                }
            }
        }
        let tiles = |m: usize, n: usize, (rp, cp): (usize, usize)| m.div_ceil(rp) * n.div_ceil(cp);
        if kernel::GEMM_MR == 4 {
            // The 512^3 case of two threads: 8 tiles of 128 x 256, aligned either way.
            assert_eq!(tile_grid(512, 512, 8, false), (128, 256));
            assert_eq!(tile_grid(512, 512, 8, true), (128, 256));
            // A 1x1 convolution's NCHW output (pixels as rows of a column-major C), 56x56
            // pixels to 64 channels: 392-pixel tiles would share a cache line with the next
            // task in every channel's column; 400 keep the edges on lines. Row-major, 392
            // rows are fine.
            assert_eq!(tile_grid(3136, 64, 8, true), (400, 64));
            assert_eq!(tile_grid(3136, 64, 8, false), (392, 64));
        } else {
            assert_eq!(kernel::GEMM_MR, 6);
            // 86 strips of 6 rows: 2 x 4 tiles (258 + 128 per tile against 132 + 256 for 4 x 2).
            assert_eq!(tile_grid(512, 512, 8, false), (258, 128));
            // Column-major rows on whole strips and whole lines: multiples of 48.
            assert_eq!(tile_grid(3136, 64, 8, true), (432, 64));
            assert_eq!(tile_grid(3136, 64, 8, false), (396, 64));
        }
        // Exactly 8 tasks for 8 slots in all of them (9 would leave one thread a fifth).
        for col_major in [false, true] {
            assert_eq!(tiles(512, 512, tile_grid(512, 512, 8, col_major)), 8);
            assert_eq!(tiles(3136, 64, tile_grid(3136, 64, 8, col_major)), 8);
            assert_eq!(tiles(128, 3072, tile_grid(128, 3072, 8, col_major)), 8);
        }
    }
}
