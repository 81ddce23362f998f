//! [`F32x4`] over `core::arch::wasm32::v128` (SIMD128, optionally relaxed SIMD).
use core::arch::wasm32::*;

/// Four f32 lanes in one wasm `v128` register.
#[derive(Clone, Copy, Debug)]
#[repr(transparent)]
pub struct F32x4(v128);

// Named methods rather than operator traits: kernels read as the instruction sequence they
// compile to (`a.mul_add(b, c)` next to `a.add(b)`), with no hidden conversions.
#[allow(clippy::should_implement_trait)]
impl F32x4 {
    /// All lanes zero.
    #[inline(always)]
    pub fn zero() -> Self {
        Self(f32x4_splat(0.0))
    }
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: f32) -> Self {
        Self(f32x4_splat(x))
    }
    /// Loads 4 floats from `p` (any alignment).
    ///
    /// # Safety
    /// `p..p+4` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 16 readable bytes; v128_load has no alignment requirement.
        Self(unsafe { v128_load(p.cast::<v128>()) })
    }
    /// Loads one float from `p` into all lanes.
    ///
    /// # Safety
    /// `p` must be readable.
    #[inline(always)]
    pub unsafe fn load_splat(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 4 readable bytes.
        Self(unsafe { v128_load32_splat(p.cast::<u32>()) })
    }
    /// Stores 4 floats at `p` (any alignment).
    ///
    /// # Safety
    /// `p..p+4` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 16 writable bytes.
        unsafe { v128_store(p.cast::<v128>(), self.0) }
    }
    /// Lane `i` (0..4).
    #[inline(always)]
    pub fn lane(self, i: usize) -> f32 {
        match i & 3 {
            0 => f32x4_extract_lane::<0>(self.0),
            1 => f32x4_extract_lane::<1>(self.0),
            2 => f32x4_extract_lane::<2>(self.0),
            _ => f32x4_extract_lane::<3>(self.0),
        }
    }
    /// The four lanes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [f32; 4] {
        [self.lane(0), self.lane(1), self.lane(2), self.lane(3)]
    }
    /// Builds a vector from four lanes.
    #[inline(always)]
    pub fn from_array(a: [f32; 4]) -> Self {
        Self(f32x4(a[0], a[1], a[2], a[3]))
    }
    /// Lane-wise `self + o`.
    #[inline(always)]
    pub fn add(self, o: Self) -> Self {
        Self(f32x4_add(self.0, o.0))
    }
    /// Lane-wise `self - o`.
    #[inline(always)]
    pub fn sub(self, o: Self) -> Self {
        Self(f32x4_sub(self.0, o.0))
    }
    /// Lane-wise `self * o`.
    #[inline(always)]
    pub fn mul(self, o: Self) -> Self {
        Self(f32x4_mul(self.0, o.0))
    }
    /// Lane-wise `self / o`.
    #[inline(always)]
    pub fn div(self, o: Self) -> Self {
        Self(f32x4_div(self.0, o.0))
    }
    /// `self * b + c`; one fused instruction in the relaxed-SIMD build, mul + add otherwise.
    #[inline(always)]
    pub fn mul_add(self, b: Self, c: Self) -> Self {
        #[cfg(target_feature = "relaxed-simd")]
        {
            Self(f32x4_relaxed_madd(self.0, b.0, c.0))
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            Self(f32x4_add(f32x4_mul(self.0, b.0), c.0))
        }
    }
    /// wasm `pmax`: `if self < o { o } else { self }` (NaN handling: see the module docs).
    #[inline(always)]
    pub fn max_or_self(self, o: Self) -> Self {
        Self(f32x4_pmax(self.0, o.0))
    }
    /// wasm `pmin`: `if o < self { o } else { self }` (NaN handling: see the module docs).
    #[inline(always)]
    pub fn min_or_self(self, o: Self) -> Self {
        Self(f32x4_pmin(self.0, o.0))
    }
    /// Absolute value.
    #[inline(always)]
    pub fn abs(self) -> Self {
        Self(f32x4_abs(self.0))
    }
    /// Negation.
    #[inline(always)]
    pub fn neg(self) -> Self {
        Self(f32x4_neg(self.0))
    }
    /// Rounds to the nearest integer, ties to even.
    #[inline(always)]
    pub fn round_even(self) -> Self {
        Self(f32x4_nearest(self.0))
    }
    /// `2^n` for integer-valued lanes `n` in `-126..=127`.
    #[inline(always)]
    pub fn exp2_int(self) -> Self {
        let n = i32x4_trunc_sat_f32x4(self.0);
        Self(i32x4_shl(i32x4_add(n, i32x4_splat(127)), 23))
    }
    /// Lanes where `self < o` keep `a`, the others `b`.
    #[inline(always)]
    pub fn select_lt(self, o: Self, a: Self, b: Self) -> Self {
        Self(v128_bitselect(a.0, b.0, f32x4_lt(self.0, o.0)))
    }
    /// Lanes that are NaN in `self` become NaN in `x`.
    #[inline(always)]
    pub fn keep_nan(self, x: Self) -> Self {
        // OR with the all-ones NaN mask rather than a select: LLVM may turn select/min/max
        // chains into relaxed-SIMD ops (unspecified NaN handling) in the relaxed build.
        Self(v128_or(x.0, f32x4_ne(self.0, self.0)))
    }
    /// `1 / self`.
    #[inline(always)]
    pub fn recip(self) -> Self {
        Self(f32x4_div(f32x4_splat(1.0), self.0))
    }
    /// Lane-wise square root (correctly rounded).
    #[inline(always)]
    pub fn sqrt(self) -> Self {
        Self(f32x4_sqrt(self.0))
    }
    /// All lanes hold the float with bit pattern `bits`.
    #[inline(always)]
    pub fn splat_bits(bits: u32) -> Self {
        Self(u32x4_splat(bits))
    }
    /// Bitwise `self & o`.
    #[inline(always)]
    pub fn and_bits(self, o: Self) -> Self {
        Self(v128_and(self.0, o.0))
    }
    /// Bitwise `self | o`.
    #[inline(always)]
    pub fn or_bits(self, o: Self) -> Self {
        Self(v128_or(self.0, o.0))
    }
    /// The lanes' bits as `i32`, shifted left by `n` (`n < 32`).
    #[inline(always)]
    pub fn shl_i32(self, n: u32) -> Self {
        Self(i32x4_shl(self.0, n))
    }
    /// The lanes' bits as `i32`, shifted right arithmetically by `n` (`n < 32`).
    #[inline(always)]
    pub fn shr_i32(self, n: u32) -> Self {
        Self(i32x4_shr(self.0, n))
    }
    /// The lanes' bits as `i32`: wrapping `self + o`.
    #[inline(always)]
    pub fn add_i32(self, o: Self) -> Self {
        Self(i32x4_add(self.0, o.0))
    }
    /// The lanes' bits as `i32`: wrapping `self - o`.
    #[inline(always)]
    pub fn sub_i32(self, o: Self) -> Self {
        Self(i32x4_sub(self.0, o.0))
    }
    /// The lanes' bits read as `i32` and converted to the nearest f32.
    #[inline(always)]
    pub fn i32_to_f32(self) -> Self {
        Self(f32x4_convert_i32x4(self.0))
    }
    /// Sum of the four lanes.
    #[inline(always)]
    pub fn reduce_add(self) -> f32 {
        let a = self.to_array();
        (a[0] + a[2]) + (a[1] + a[3])
    }
    /// Largest lane of a NaN-free vector (with a NaN lane the result is unspecified).
    #[inline(always)]
    pub fn reduce_max(self) -> f32 {
        // Two shuffles and two `max_or_self` in registers: Rust's `f32::max` ignores NaN, a rule
        // wasm's `f32.max` does not have, so it compiled to three calls of libm's `fmaxf`.
        let m = self.max_or_self(Self(i32x4_shuffle::<2, 3, 0, 1>(self.0, self.0)));
        m.max_or_self(Self(i32x4_shuffle::<1, 0, 3, 2>(m.0, m.0)))
            .lane(0)
    }
    /// The even lanes of `a` then of `b`: `[a0, a2, b0, b2]` (every second float of the eight
    /// in `a, b`, as a stride-2 gather needs).
    #[inline(always)]
    pub fn even_lanes(a: Self, b: Self) -> Self {
        Self(i32x4_shuffle::<0, 2, 4, 6>(a.0, b.0))
    }
    /// The odd lanes of `a` then of `b`: `[a1, a3, b1, b3]`.
    #[inline(always)]
    pub fn odd_lanes(a: Self, b: Self) -> Self {
        Self(i32x4_shuffle::<1, 3, 5, 7>(a.0, b.0))
    }
    /// The low halves of `a` and `b` interleaved: `[a0, b0, a1, b1]`.
    #[inline(always)]
    pub fn interleave_low(a: Self, b: Self) -> Self {
        Self(i32x4_shuffle::<0, 4, 1, 5>(a.0, b.0))
    }
    /// The high halves of `a` and `b` interleaved: `[a2, b2, a3, b3]`.
    #[inline(always)]
    pub fn interleave_high(a: Self, b: Self) -> Self {
        Self(i32x4_shuffle::<2, 6, 3, 7>(a.0, b.0))
    }
    /// Transposes the 4x4 matrix whose rows are `r`: returns its columns.
    #[inline(always)]
    pub fn transpose4(r: [Self; 4]) -> [Self; 4] {
        let t0 = i32x4_shuffle::<0, 4, 1, 5>(r[0].0, r[1].0);
        let t1 = i32x4_shuffle::<2, 6, 3, 7>(r[0].0, r[1].0);
        let t2 = i32x4_shuffle::<0, 4, 1, 5>(r[2].0, r[3].0);
        let t3 = i32x4_shuffle::<2, 6, 3, 7>(r[2].0, r[3].0);
        [
            Self(i32x4_shuffle::<0, 1, 4, 5>(t0, t2)),
            Self(i32x4_shuffle::<2, 3, 6, 7>(t0, t2)),
            Self(i32x4_shuffle::<0, 1, 4, 5>(t1, t3)),
            Self(i32x4_shuffle::<2, 3, 6, 7>(t1, t3)),
        ]
    }
    /// Accumulates a NaN mask: lanes of `self` that are NaN set all bits of the lane in
    /// `mask` (use with [`F32x4::nan_if_mask`]).
    #[inline(always)]
    pub fn nan_mask_or(self, mask: Self) -> Self {
        Self(v128_or(mask.0, f32x4_ne(self.0, self.0)))
    }
    /// Lanes where `self` (a mask from [`F32x4::nan_mask_or`]) is set become NaN in `x`.
    #[inline(always)]
    pub fn nan_if_mask(self, x: Self) -> Self {
        Self(v128_or(x.0, self.0))
    }
}
