//! Walking slices in vector steps: the loops every elementwise and row kernel shares.
//!
//! The body runs on blocks of [`BLOCK`] floats (four independent [`F32x4`]s, so the out-of-order
//! core overlaps their dependency chains), then on single vectors, and the last 1-3 elements go
//! through one *partial* vector: copied into a 4-lane stack buffer padded with a neutral value,
//! computed like any other vector, and only the valid lanes copied back. So there is no scalar
//! code path with different arithmetic, and nothing outside the slices is read or written.
//!
//! Outputs are an [`InOut`]: an input slice and an output slice of the same length, or one slice
//! that is both (in place). Each vector is loaded before the vector at the same position is
//! stored, so one loop serves both cases.
//!
//! The functions are `#[inline(always)]` and generic over the per-vector closure, so each kernel
//! gets its own monomorphised loop with the closure inlined into it.
use crate::simd::{F32x4, LANES};
use core::marker::PhantomData;

/// Floats per unrolled block: four vectors.
pub(crate) const BLOCK: usize = 4 * LANES;

/// A vector holding `src` (at most 4 elements; extra ones are ignored) in its first lanes and
/// `pad` in the others.
#[inline(always)]
pub(crate) fn load_partial(src: &[f32], pad: f32) -> F32x4 {
    // Lane by lane rather than a copy loop, which LLVM would turn into a `memcpy` call.
    let lane = |k: usize| src.get(k).copied().unwrap_or(pad);
    F32x4::from_array([lane(0), lane(1), lane(2), lane(3)])
}

/// An input and an output of the same length, possibly the same memory (in place).
pub(crate) struct InOut<'a> {
    src: *const f32,
    dst: *mut f32,
    len: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

impl<'a> InOut<'a> {
    /// Read `x`, write `y`; the shorter length counts (callers check that they are equal).
    pub(crate) fn new(x: &'a [f32], y: &'a mut [f32]) -> Self {
        Self {
            src: x.as_ptr(),
            dst: y.as_mut_ptr(),
            len: x.len().min(y.len()),
            _borrow: PhantomData,
        }
    }

    /// Read and write `x`.
    pub(crate) fn in_place(x: &'a mut [f32]) -> Self {
        // Both pointers come from the one unique borrow, so writes through `dst` keep `src` valid.
        let dst = x.as_mut_ptr();
        Self {
            src: dst,
            dst,
            len: x.len(),
            _borrow: PhantomData,
        }
    }

    /// The output, as both input and output: for the passes that rework what was written.
    pub(crate) fn output(&mut self) -> InOut<'_> {
        InOut {
            src: self.dst,
            dst: self.dst,
            len: self.len,
            _borrow: PhantomData,
        }
    }

    /// Elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The elements `start..start + len` (clamped to the end), reborrowed.
    pub(crate) fn sub(&mut self, start: usize, len: usize) -> InOut<'_> {
        let start = start.min(self.len);
        let len = len.min(self.len - start);
        InOut {
            // In bounds: start <= self.len.
            src: self.src.wrapping_add(start),
            dst: self.dst.wrapping_add(start),
            len,
            _borrow: PhantomData,
        }
    }

    /// The input as it is now (in place: including what was already written).
    pub(crate) fn input(&self) -> &[f32] {
        // SAFETY: `src..src+len` is readable for 'a (it came from a slice of at least `len`
        // elements), and `&self` prevents writes through `dst` while the slice lives.
        unsafe { core::slice::from_raw_parts(self.src, self.len) }
    }

    /// Loads the vector of input elements `i..i + 4`.
    ///
    /// # Safety
    /// `i + 4 <= self.len`.
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> F32x4 {
        debug_assert!(i + LANES <= self.len);
        // SAFETY: caller contract; the input is readable up to `len`.
        unsafe { F32x4::load(self.src.add(i)) }
    }

    /// Stores output elements `i..i + 4`.
    ///
    /// # Safety
    /// `i + 4 <= self.len`.
    #[inline(always)]
    unsafe fn store(&mut self, i: usize, v: F32x4) {
        debug_assert!(i + LANES <= self.len);
        // SAFETY: caller contract; the output is writable up to `len`.
        unsafe { v.store(self.dst.add(i)) }
    }

    /// The input elements `i..min(n, len)` (at most 4) in a vector padded with `pad`.
    #[inline(always)]
    fn load_tail(&self, i: usize, n: usize, pad: f32) -> F32x4 {
        load_partial(self.input().get(i..n.min(self.len)).unwrap_or(&[]), pad)
    }

    /// Stores the lanes of `v` for output elements `i..min(n, len)` (at most 4).
    #[inline(always)]
    fn store_tail(&mut self, i: usize, n: usize, v: F32x4) {
        let lanes = v.to_array();
        let valid = n.min(self.len).saturating_sub(i);
        for (j, &x) in lanes.iter().enumerate() {
            if j < valid {
                // SAFETY: i + j < len: the output is writable there.
                unsafe { *self.dst.add(i + j) = x };
            }
        }
    }
}

/// Read-only operands walked alongside an [`InOut`]: none, one slice (a second input) or two
/// (gamma and beta of a norm). Loads in the body are unchecked, so a kernel first clamps its
/// length to [`Operands::len`].
pub(crate) trait Operands: Copy {
    /// One vector of each operand.
    type V: Copy;
    /// The shortest operand's length.
    fn len(&self) -> usize;
    /// The vectors at `i..i + 4`.
    ///
    /// # Safety
    /// `i + 4 <= self.len()`.
    unsafe fn load(&self, i: usize) -> Self::V;
    /// The elements `i..n` (at most 4) padded with `pad`.
    fn load_tail(&self, i: usize, n: usize, pad: f32) -> Self::V;
}

impl Operands for () {
    type V = ();
    fn len(&self) -> usize {
        usize::MAX
    }
    #[inline(always)]
    unsafe fn load(&self, _: usize) {}
    #[inline(always)]
    fn load_tail(&self, _: usize, _: usize, _: f32) {}
}

impl Operands for &[f32] {
    type V = F32x4;
    fn len(&self) -> usize {
        <[f32]>::len(self)
    }
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> F32x4 {
        debug_assert!(i + LANES <= <[f32]>::len(self));
        // SAFETY: caller contract: 4 readable floats at i.
        unsafe { F32x4::load(self.as_ptr().add(i)) }
    }
    #[inline(always)]
    fn load_tail(&self, i: usize, n: usize, pad: f32) -> F32x4 {
        load_partial(self.get(i..n).unwrap_or(&[]), pad)
    }
}

impl<'a> Operands for (&'a [f32], &'a [f32]) {
    type V = (F32x4, F32x4);
    fn len(&self) -> usize {
        self.0.len().min(self.1.len())
    }
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> (F32x4, F32x4) {
        // SAFETY: caller contract, for both slices.
        unsafe { (self.0.load(i), self.1.load(i)) }
    }
    #[inline(always)]
    fn load_tail(&self, i: usize, n: usize, pad: f32) -> (F32x4, F32x4) {
        (self.0.load_tail(i, n, pad), self.1.load_tail(i, n, pad))
    }
}

/// `y[i] = f(x[i], ops[i])` for every element (callers pass operands at least as long as the
/// output; shorter ones limit the computation to their length). The padding lanes of the last
/// partial vector hold `pad` in every operand; their results are discarded.
#[inline(always)]
pub(crate) fn map_ops<O: Operands>(
    io: &mut InOut<'_>,
    ops: O,
    pad: f32,
    f: impl Fn(F32x4, O::V) -> F32x4,
) {
    let n = io.len().min(ops.len());
    let mut i = 0;
    while i + BLOCK <= n {
        // One vector after the other (load, compute, store), so that only one is live at a
        // time: V8 has 15 SIMD registers and the closures hold their constants in them.
        for j in (i..i + BLOCK).step_by(LANES) {
            // SAFETY: j + 4 <= i + 16 <= n <= the length of io and of every operand.
            unsafe {
                let y = f(io.load(j), ops.load(j));
                io.store(j, y);
            }
        }
        i += BLOCK;
    }
    while i + LANES <= n {
        // SAFETY: i + 4 <= n.
        unsafe {
            let y = f(io.load(i), ops.load(i));
            io.store(i, y);
        }
        i += LANES;
    }
    if i < n {
        let y = f(io.load_tail(i, n, pad), ops.load_tail(i, n, pad));
        io.store_tail(i, n, y);
    }
}

/// `y[i] = f(x[i])` for every element.
#[inline(always)]
pub(crate) fn map(io: &mut InOut<'_>, f: impl Fn(F32x4) -> F32x4) {
    map_ops(io, (), 0.0, |v, ()| f(v));
}

/// `y[i] = f(x[i])`, returning the vector sum of the outputs. Two accumulators, alternating
/// vector by vector (enough to hide the add latency behind an expensive `f`, and two registers
/// fewer than four). Padding lanes hold `pad`, which must give `f(pad) = 0`.
#[inline(always)]
pub(crate) fn map_sum(io: &mut InOut<'_>, pad: f32, f: impl Fn(F32x4) -> F32x4) -> F32x4 {
    let n = io.len();
    let mut acc = [F32x4::zero(); 2];
    let mut i = 0;
    while i + BLOCK <= n {
        for (k, j) in (i..i + BLOCK).step_by(LANES).enumerate() {
            // SAFETY: j + 4 <= i + 16 <= len.
            unsafe {
                let y = f(io.load(j));
                io.store(j, y);
                acc[k & 1] = acc[k & 1].add(y);
            }
        }
        i += BLOCK;
    }
    let mut k = 0;
    while i + LANES <= n {
        // SAFETY: i + 4 <= len.
        unsafe {
            let y = f(io.load(i));
            io.store(i, y);
            acc[k & 1] = acc[k & 1].add(y);
        }
        i += LANES;
        k += 1;
    }
    if i < n {
        let y = f(io.load_tail(i, n, pad));
        io.store_tail(i, n, y);
        acc[1] = acc[1].add(y);
    }
    acc[0].add(acc[1])
}

/// Folds `x` into four independent accumulators (of any vector-valued type `A`) with
/// `step(acc, v)` (padding lanes of the last partial vector hold `pad`, which must leave `step`
/// unchanged), then merges them pairwise with `merge`. The caller reduces the lanes.
#[inline(always)]
pub(crate) fn fold<A: Copy>(
    x: &[f32],
    pad: f32,
    init: A,
    step: impl Fn(A, F32x4) -> A,
    merge: impl Fn(A, A) -> A,
) -> A {
    let n = x.len();
    let p = x.as_ptr();
    let mut acc = [init; 4];
    let mut i = 0;
    while i + BLOCK <= n {
        // SAFETY: i + 16 <= len: 16 readable floats.
        unsafe {
            acc[0] = step(acc[0], F32x4::load(p.add(i)));
            acc[1] = step(acc[1], F32x4::load(p.add(i + 4)));
            acc[2] = step(acc[2], F32x4::load(p.add(i + 8)));
            acc[3] = step(acc[3], F32x4::load(p.add(i + 12)));
        }
        i += BLOCK;
    }
    let mut j = 0;
    while i + LANES <= n {
        // SAFETY: i + 4 <= len.
        acc[j & 3] = step(acc[j & 3], unsafe { F32x4::load(p.add(i)) });
        i += LANES;
        j += 1;
    }
    if i < n {
        acc[3] = step(acc[3], load_partial(&x[i..], pad));
    }
    merge(merge(acc[0], acc[1]), merge(acc[2], acc[3]))
}
