//! Offline memory planning: given the size, alignment and lifetime of every tensor of a graph,
//! assign each an offset in one region so that tensors alive at the same time never share a
//! byte (their padding included), and report the region's size.
//!
//! The heuristic is *greedy by size*, as in TensorFlow Lite's arena planner: place the largest
//! tensors first, each at the lowest offset that is free throughout its lifetime (first fit over
//! the already placed tensors whose lifetimes overlap its own). It is not optimal (the problem
//! is NP-hard) but is close on real graphs, and deterministic.
use alloc::vec::Vec;
use core::ops::Range;

use crate::align::{block_end, round_up, Align};
use crate::error::{Error, Result};

/// One tensor to place: `size` bytes at `align`, alive from step `first` to step `last`
/// (inclusive; steps are e.g. the indices of the graph's nodes in execution order).
///
/// ```
/// use wasmnn_arena::{Align, Request};
/// let r = Request::new(4096, 2, 5).with_align(Align::B64);
/// assert_eq!((r.size, r.align, r.first, r.last), (4096, Align::B64, 2, 5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// Bytes of data. The plan adds [`PADDING`](crate::PADDING) after them.
    pub size: usize,
    /// Alignment of the offset (relative to the region, which must be at least as aligned).
    pub align: Align,
    /// First step at which the tensor is alive (written).
    pub first: usize,
    /// Last step at which the tensor is alive (read); `first <= last`.
    pub last: usize,
}

impl Request {
    /// A request at the default [`Align::B16`].
    ///
    /// ```
    /// let r = wasmnn_arena::Request::new(100, 0, 1);
    /// assert_eq!(r.align, wasmnn_arena::Align::B16);
    /// ```
    pub fn new(size: usize, first: usize, last: usize) -> Self {
        Self {
            size,
            align: Align::B16,
            first,
            last,
        }
    }

    /// The same request at another alignment.
    ///
    /// ```
    /// use wasmnn_arena::{Align, Request};
    /// assert_eq!(Request::new(1, 0, 0).with_align(Align::B32).align, Align::B32);
    /// ```
    pub fn with_align(self, align: Align) -> Self {
        Self { align, ..self }
    }

    /// Whether two tensors are alive at a common step, and so must not overlap in memory.
    ///
    /// ```
    /// use wasmnn_arena::Request;
    /// assert!(Request::new(1, 0, 2).overlaps(&Request::new(1, 2, 3)));
    /// assert!(!Request::new(1, 0, 1).overlaps(&Request::new(1, 2, 3)));
    /// ```
    pub fn overlaps(&self, other: &Request) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// Offsets for a set of [`Request`]s in one region of [`peak_bytes`](Plan::peak_bytes).
/// Each tensor owns `[offset, offset + size)` plus at least 16 bytes of padding after it for
/// the steps it is alive.
///
/// To use it, allocate one region of `peak_bytes()` at the largest requested alignment and cut
/// each tensor's [`range`](Plan::range) out of it:
///
/// ```
/// use wasmnn_arena::{bytemuck, Align, Arena, Plan, Request};
/// // x -> [matmul] -> h -> [relu] -> y: x and y can share memory, h cannot.
/// let plan = Plan::new(&[
///     Request::new(4 * 64, 0, 1), // x
///     Request::new(4 * 64, 1, 2), // h
///     Request::new(4 * 64, 2, 3), // y
/// ])?;
/// assert_eq!(plan.offset(0), plan.offset(2));
/// assert_eq!(plan.peak_bytes(), 2 * (256 + 16));
///
/// let arena = Arena::with_capacity(plan.peak_bytes() + 64)?;
/// let region: &mut [u8] = arena.alloc_slice_aligned(plan.peak_bytes(), Align::B64)?;
/// let (x_and_y, h) = region.split_at_mut(plan.offset(1).unwrap());
/// let x: &mut [f32] = bytemuck::cast_slice_mut(&mut x_and_y[plan.range(0).unwrap()]);
/// let h: &mut [f32] = bytemuck::cast_slice_mut(&mut h[..plan.range(1).unwrap().len()]);
/// x.fill(-1.0);
/// h.copy_from_slice(x);
/// assert_eq!(h[63], -1.0);
/// # Ok::<(), wasmnn_arena::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// `offsets[i]` is where request `i` starts.
    offsets: Vec<usize>,
    /// `sizes[i]` is request `i`'s size in bytes.
    sizes: Vec<usize>,
    peak: usize,
}

/// A tensor already placed: its bytes (padding included) and its lifetime.
#[derive(Clone, Copy)]
struct Placed {
    start: usize,
    end: usize,
    first: usize,
    last: usize,
}

impl Plan {
    /// Places every request (greedy by size, first fit; see the [module docs](self)).
    ///
    /// Errors: [`Error::InvalidArgument`] when a request has `first > last`,
    /// [`Error::Overflow`] when an offset would not fit in `usize`.
    ///
    /// ```
    /// use wasmnn_arena::{Error, Plan, Request};
    /// let plan = Plan::new(&[Request::new(100, 0, 3), Request::new(50, 1, 2)])?;
    /// assert_eq!(plan.offsets(), &[0, 128]);
    /// assert!(matches!(Plan::new(&[Request::new(1, 2, 1)]), Err(Error::InvalidArgument { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(requests: &[Request]) -> Result<Plan> {
        if requests.iter().any(|r| r.first > r.last) {
            return Err(Error::InvalidArgument {
                what: "request",
                why: "lifetime starts after it ends (first > last)",
            });
        }
        // Largest first; ties by earliest start, then by index, so the plan is deterministic.
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_unstable_by_key(|&i| {
            (core::cmp::Reverse(requests[i].size), requests[i].first, i)
        });

        let overflow = Error::Overflow { what: "plan" };
        let mut offsets = alloc::vec![0; requests.len()];
        // Placed tensors sorted by start offset.
        let mut placed: Vec<Placed> = Vec::with_capacity(requests.len());
        let mut peak = 0;
        for i in order {
            let r = requests[i];
            let align = r.align.bytes();
            // Lowest free offset: walk the conflicting tensors by address and stop at the first
            // gap large enough; past each one that is in the way, try right after it.
            let mut candidate = 0;
            for p in placed
                .iter()
                .filter(|p| p.first <= r.last && r.first <= p.last)
            {
                let start = round_up(candidate, align).ok_or(overflow.clone())?;
                let end = block_end(start, r.size, 0).ok_or(overflow.clone())?;
                if end <= p.start {
                    break;
                }
                candidate = candidate.max(p.end);
            }
            let start = round_up(candidate, align).ok_or(overflow.clone())?;
            let end = block_end(start, r.size, 0).ok_or(overflow.clone())?;
            let at = placed.partition_point(|p| p.start <= start);
            placed.insert(
                at,
                Placed {
                    start,
                    end,
                    first: r.first,
                    last: r.last,
                },
            );
            offsets[i] = start;
            peak = peak.max(end);
        }
        Ok(Plan {
            offsets,
            sizes: requests.iter().map(|r| r.size).collect(),
            peak,
        })
    }

    /// Bytes the region needs: the end of the last tensor's padding.
    ///
    /// ```
    /// use wasmnn_arena::{Plan, Request};
    /// assert_eq!(Plan::new(&[Request::new(10, 0, 0)])?.peak_bytes(), 32);
    /// assert_eq!(Plan::new(&[])?.peak_bytes(), 0);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn peak_bytes(&self) -> usize {
        self.peak
    }

    /// Where request `i` starts, or `None` if there is no request `i`.
    ///
    /// ```
    /// use wasmnn_arena::{Plan, Request};
    /// let plan = Plan::new(&[Request::new(10, 0, 0)])?;
    /// assert_eq!((plan.offset(0), plan.offset(1)), (Some(0), None));
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn offset(&self, i: usize) -> Option<usize> {
        self.offsets.get(i).copied()
    }

    /// Every request's offset, in request order.
    ///
    /// ```
    /// use wasmnn_arena::{Plan, Request};
    /// let plan = Plan::new(&[Request::new(8, 0, 0), Request::new(8, 1, 1)])?;
    /// assert_eq!(plan.offsets(), &[0, 0]); // never alive together: same memory
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// The bytes of request `i` in the region, padding excluded: `offset..offset + size`.
    ///
    /// ```
    /// use wasmnn_arena::{Plan, Request};
    /// let plan = Plan::new(&[Request::new(100, 0, 1), Request::new(8, 1, 1)])?;
    /// assert_eq!(plan.range(1), Some(128..136));
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        let start = self.offset(i)?;
        Some(start..start + self.sizes[i])
    }

    /// The bytes of the tensors `ids`, cut out of `region` (a buffer of at least
    /// [`peak_bytes`](Plan::peak_bytes)) as disjoint mutable slices: what one graph step needs,
    /// e.g. its inputs and outputs. No heap allocation. Tensors alive at the same step never
    /// share memory, so asking for the operands of one step always succeeds.
    ///
    /// For typed access, cast each slice with `bytemuck::try_cast_slice_mut`; the offsets are
    /// aligned as requested, so the casts succeed when `region` starts on a 64-byte boundary
    /// (as [`Arena::alloc_slice_aligned`](crate::Arena::alloc_slice_aligned) with
    /// [`Align::B64`] gives).
    ///
    /// Errors ([`Error::InvalidArgument`]): `region` is shorter than the plan, an id has no
    /// request, or two of the tensors share memory (the same id twice, or tensors never alive
    /// together).
    ///
    /// ```
    /// use wasmnn_arena::{bytemuck, Align, Arena, Plan, Request};
    /// let plan = Plan::new(&[Request::new(16, 0, 1), Request::new(16, 1, 2), Request::new(16, 2, 3)])?;
    /// let arena = Arena::with_capacity(plan.peak_bytes() + 64)?;
    /// let region = arena.alloc_slice_aligned::<u8>(plan.peak_bytes(), Align::B64)?;
    /// for step in 1..3 {
    ///     let [x, y] = plan.tensors_mut(region, [step - 1, step])?;
    ///     let (x, y): (&mut [f32], &mut [f32]) =
    ///         (bytemuck::cast_slice_mut(x), bytemuck::cast_slice_mut(y));
    ///     if step == 1 {
    ///         x.fill(1.0);
    ///     }
    ///     for (y, x) in y.iter_mut().zip(x.iter()) {
    ///         *y = 2.0 * x;
    ///     }
    /// }
    /// let [out] = plan.tensors_mut(region, [2])?;
    /// assert_eq!(bytemuck::cast_slice::<u8, f32>(out), &[4.0; 4]);
    /// assert!(plan.tensors_mut(region, [0, 2]).is_err()); // never alive together: same memory
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn tensors_mut<'r, const N: usize>(
        &self,
        region: &'r mut [u8],
        ids: [usize; N],
    ) -> Result<[&'r mut [u8]; N]> {
        if region.len() < self.peak {
            return Err(Error::InvalidArgument {
                what: "region",
                why: "shorter than the plan's peak bytes",
            });
        }
        // (start, end, position in `ids`), sorted by address, must not overlap.
        let mut ranges = [(0, 0, 0); N];
        for (slot, &id) in ids.iter().enumerate() {
            let r = self.range(id).ok_or(Error::InvalidArgument {
                what: "ids",
                why: "no request with this index",
            })?;
            ranges[slot] = (r.start, r.end, slot);
        }
        ranges.sort_unstable();
        if ranges.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(Error::InvalidArgument {
                what: "ids",
                why: "two of the tensors share memory",
            });
        }
        // Cut the slices front to back; every cut is in bounds because the ranges are sorted,
        // disjoint and end within `peak <= region.len()`.
        let mut out: [&'r mut [u8]; N] = core::array::from_fn(|_| Default::default());
        let (mut rest, mut pos) = (region, 0);
        for (start, end, slot) in ranges {
            let (_, tail) = core::mem::take(&mut rest).split_at_mut(start - pos);
            let (piece, tail) = tail.split_at_mut(end - start);
            out[slot] = piece;
            (rest, pos) = (tail, end);
        }
        Ok(out)
    }

    /// Number of requests placed.
    ///
    /// ```
    /// let plan = wasmnn_arena::Plan::new(&[wasmnn_arena::Request::new(1, 0, 0)])?;
    /// assert_eq!(plan.len(), 1);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether the plan has no requests.
    ///
    /// ```
    /// assert!(wasmnn_arena::Plan::new(&[])?.is_empty());
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }
}
