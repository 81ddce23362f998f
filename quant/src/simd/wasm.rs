//! The integer vectors over `core::arch::wasm32::v128` (SIMD128, optionally relaxed SIMD).
// Lane-wise `add`/`sub`/`mul` are named after the wasm instructions (wrapping), not operators.
#![allow(clippy::should_implement_trait)]
use core::arch::wasm32::*;
use wasmnn_kernels::simd::F32x4;

/// Eight i16 lanes in one `v128`.
#[derive(Clone, Copy, Debug)]
#[repr(transparent)]
pub struct I16x8(v128);

/// Four i32 lanes in one `v128`.
#[derive(Clone, Copy, Debug)]
#[repr(transparent)]
pub struct I32x4(v128);

/// Sixteen bytes in one `v128`.
#[derive(Clone, Copy, Debug)]
#[repr(transparent)]
pub struct I8x16(v128);

impl I16x8 {
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: i16) -> Self {
        Self(i16x8_splat(x))
    }
    /// Loads 8 lanes.
    ///
    /// # Safety
    /// `p..p+8` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const i16) -> Self {
        // SAFETY: 16 readable bytes (caller); v128_load has no alignment requirement.
        Self(unsafe { v128_load(p.cast()) })
    }
    /// Stores 8 lanes.
    ///
    /// # Safety
    /// `p..p+8` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut i16) {
        // SAFETY: 16 writable bytes (caller).
        unsafe { v128_store(p.cast(), self.0) }
    }
    /// Loads 8 bytes and zero-extends them (`v128.load8x8_u`).
    ///
    /// # Safety
    /// `p..p+8` must be readable.
    #[inline(always)]
    pub unsafe fn load_extend_u8(p: *const u8) -> Self {
        // SAFETY: 8 readable bytes (caller).
        Self(unsafe { u16x8_load_extend_u8x8(p) })
    }
    /// Loads 8 bytes and sign-extends them (`v128.load8x8_s`).
    ///
    /// # Safety
    /// `p..p+8` must be readable.
    #[inline(always)]
    pub unsafe fn load_extend_i8(p: *const i8) -> Self {
        // SAFETY: 8 readable bytes (caller).
        Self(unsafe { i16x8_load_extend_i8x8(p) })
    }
    /// Lane-wise wrapping `self - o`.
    #[inline(always)]
    pub fn sub(self, o: Self) -> Self {
        Self(i16x8_sub(self.0, o.0))
    }
    /// Lane-wise wrapping `self + o`.
    #[inline(always)]
    pub fn add(self, o: Self) -> Self {
        Self(i16x8_add(self.0, o.0))
    }
    /// Narrows two i32 vectors (`lo` = lanes 0..4) to i16 with saturation.
    #[inline(always)]
    pub fn narrow_i32(lo: I32x4, hi: I32x4) -> Self {
        Self(i16x8_narrow_i32x4(lo.0, hi.0))
    }
    /// The lanes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [i16; 8] {
        let mut a = [0i16; 8];
        // SAFETY: `a` is 16 writable bytes.
        unsafe { v128_store(a.as_mut_ptr().cast(), self.0) };
        a
    }
}

impl I8x16 {
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: u8) -> Self {
        Self(u8x16_splat(x))
    }
    /// Loads 16 bytes.
    ///
    /// # Safety
    /// `p..p+16` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const u8) -> Self {
        // SAFETY: 16 readable bytes (caller).
        Self(unsafe { v128_load(p.cast()) })
    }
    /// Loads 8 bytes into both halves.
    ///
    /// # Safety
    /// `p..p+8` must be readable.
    #[inline(always)]
    pub unsafe fn load64_splat(p: *const u8) -> Self {
        // SAFETY: 8 readable bytes (caller).
        Self(unsafe { v128_load64_splat(p.cast()) })
    }
    /// Stores 16 bytes.
    ///
    /// # Safety
    /// `p..p+16` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut u8) {
        // SAFETY: 16 writable bytes (caller).
        unsafe { v128_store(p.cast(), self.0) }
    }
    /// Stores the low 8 bytes.
    ///
    /// # Safety
    /// `p..p+8` must be writable.
    #[inline(always)]
    pub unsafe fn store_low8(self, p: *mut u8) {
        // SAFETY: 8 writable bytes (caller).
        unsafe { v128_store64_lane::<0>(self.0, p.cast()) }
    }
    /// Stores the low 4 bytes.
    ///
    /// # Safety
    /// `p..p+4` must be writable.
    #[inline(always)]
    pub unsafe fn store_low4(self, p: *mut u8) {
        // SAFETY: 4 writable bytes (caller).
        unsafe { v128_store32_lane::<0>(self.0, p.cast()) }
    }
    /// Bytes 0..8 sign-extended.
    #[inline(always)]
    pub fn extend_low_i8(self) -> I16x8 {
        I16x8(i16x8_extend_low_i8x16(self.0))
    }
    /// Bytes 8..16 sign-extended.
    #[inline(always)]
    pub fn extend_high_i8(self) -> I16x8 {
        I16x8(i16x8_extend_high_i8x16(self.0))
    }
    /// Bytes 0..8 zero-extended.
    #[inline(always)]
    pub fn extend_low_u8(self) -> I16x8 {
        I16x8(u16x8_extend_low_u8x16(self.0))
    }
    /// Bytes 8..16 zero-extended.
    #[inline(always)]
    pub fn extend_high_u8(self) -> I16x8 {
        I16x8(u16x8_extend_high_u8x16(self.0))
    }
    /// Narrows 16 i16 lanes to u8 with saturation.
    #[inline(always)]
    pub fn narrow_u8(lo: I16x8, hi: I16x8) -> Self {
        Self(u8x16_narrow_i16x8(lo.0, hi.0))
    }
    /// Narrows 16 i16 lanes to i8 with saturation.
    #[inline(always)]
    pub fn narrow_i8(lo: I16x8, hi: I16x8) -> Self {
        Self(i8x16_narrow_i16x8(lo.0, hi.0))
    }
    /// Bitwise `self & o`.
    #[inline(always)]
    pub fn and(self, o: Self) -> Self {
        Self(v128_and(self.0, o.0))
    }
    /// Bitwise `self ^ o`.
    #[inline(always)]
    pub fn xor(self, o: Self) -> Self {
        Self(v128_xor(self.0, o.0))
    }
    /// Each byte shifted right by 7 as unsigned: its top bit (0 or 1).
    #[inline(always)]
    pub fn top_bit(self) -> Self {
        Self(u8x16_shr(self.0, 7))
    }
    /// The bytes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [u8; 16] {
        let mut a = [0u8; 16];
        // SAFETY: `a` is 16 writable bytes.
        unsafe { v128_store(a.as_mut_ptr().cast(), self.0) };
        a
    }
}

impl I32x4 {
    /// All lanes zero.
    #[inline(always)]
    pub fn zero() -> Self {
        Self(i32x4_splat(0))
    }
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: i32) -> Self {
        Self(i32x4_splat(x))
    }
    /// Loads 4 lanes.
    ///
    /// # Safety
    /// `p..p+4` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const i32) -> Self {
        // SAFETY: 16 readable bytes (caller).
        Self(unsafe { v128_load(p.cast()) })
    }
    /// Stores 4 lanes.
    ///
    /// # Safety
    /// `p..p+4` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut i32) {
        // SAFETY: 16 writable bytes (caller).
        unsafe { v128_store(p.cast(), self.0) }
    }
    /// Builds a vector from four lanes.
    #[inline(always)]
    pub fn from_array(a: [i32; 4]) -> Self {
        Self(i32x4(a[0], a[1], a[2], a[3]))
    }
    /// The lanes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [i32; 4] {
        let mut a = [0i32; 4];
        // SAFETY: `a` is 16 writable bytes.
        unsafe { v128_store(a.as_mut_ptr().cast(), self.0) };
        a
    }
    /// Lane-wise wrapping `self + o`.
    #[inline(always)]
    pub fn add(self, o: Self) -> Self {
        Self(i32x4_add(self.0, o.0))
    }
    /// Lane-wise wrapping `self - o`.
    #[inline(always)]
    pub fn sub(self, o: Self) -> Self {
        Self(i32x4_sub(self.0, o.0))
    }
    /// Lane-wise wrapping `self * o`.
    #[inline(always)]
    pub fn mul(self, o: Self) -> Self {
        Self(i32x4_mul(self.0, o.0))
    }
    /// Lane-wise `self << 7` (wrapping).
    #[inline(always)]
    pub fn shl7(self) -> Self {
        Self(i32x4_shl(self.0, 7))
    }
    /// Lane-wise `max(self, o)`.
    #[inline(always)]
    pub fn max(self, o: Self) -> Self {
        Self(i32x4_max(self.0, o.0))
    }
    /// Lane-wise `min(self, o)`.
    #[inline(always)]
    pub fn min(self, o: Self) -> Self {
        Self(i32x4_min(self.0, o.0))
    }
    /// `self + dot(a, b)`: lane `l` adds `a[2l] b[2l] + a[2l+1] b[2l+1]` (`i32x4.dot_i16x8_s`).
    #[inline(always)]
    pub fn dot_add(self, a: I16x8, b: I16x8) -> Self {
        Self(i32x4_add(self.0, i32x4_dot_i16x8(a.0, b.0)))
    }
    /// `self + relaxed_dot(a, b)`: lane `l` adds `sum_t a[4l+t] * b[4l+t]`, `a` signed and
    /// every byte of `b` in `0..=127` (the only inputs on which the relaxed instruction is
    /// deterministic). Without relaxed SIMD the same sum is computed exactly with SIMD128.
    #[inline(always)]
    pub fn relaxed_dot_add(self, a: I8x16, b: I8x16) -> Self {
        #[cfg(target_feature = "relaxed-simd")]
        {
            Self(i32x4_relaxed_dot_i8x16_i7x16_add(a.0, b.0, self.0))
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            self.relaxed_dot_add_via_i16(a, b)
        }
    }
    /// [`I32x4::relaxed_dot_add`] through the i16x8 relaxed dot product and an i16 pair sum
    /// (`i32x4.dot_i16x8_s` with ones), never the accumulating instruction. Same lanes and
    /// input rules. V8 11.3's baseline compiler (Liftoff, Node 20 with
    /// `--experimental-wasm-relaxed-simd`) can pick a scratch register that aliases the
    /// accumulator of `relaxed_dot_i8x16_i7x16_add` (wrong tiles under `--liftoff-only`;
    /// TurboFan and Chromium 156 are right); this form has no accumulator operand. On x86 it is
    /// also shorter than V8's lowering of the accumulating form (3 instructions instead of 5).
    #[inline(always)]
    pub fn relaxed_dot_add_via_i16(self, a: I8x16, b: I8x16) -> Self {
        #[cfg(target_feature = "relaxed-simd")]
        {
            // Each i16 lane is at most 2 * 128 * 127 in magnitude: exact.
            let pairs = i16x8_relaxed_dot_i8x16_i7x16(a.0, b.0);
            Self(i32x4_add(self.0, i32x4_dot_i16x8(pairs, i16x8_splat(1))))
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            // Products fit i16 (|a b| <= 128 * 127); pairwise sums then the 4-byte groups.
            let lo = i32x4_extadd_pairwise_i16x8(i16x8_extmul_low_i8x16(a.0, b.0));
            let hi = i32x4_extadd_pairwise_i16x8(i16x8_extmul_high_i8x16(a.0, b.0));
            let even = i32x4_shuffle::<0, 2, 4, 6>(lo, hi);
            let odd = i32x4_shuffle::<1, 3, 5, 7>(lo, hi);
            Self(i32x4_add(self.0, i32x4_add(even, odd)))
        }
    }
    /// `[sum(a), sum(b), sum(c), sum(d)]`: the horizontal sums of four vectors.
    #[inline(always)]
    pub fn hsum4(a: Self, b: Self, c: Self, d: Self) -> Self {
        let ab = i32x4_add(
            i32x4_shuffle::<0, 4, 1, 5>(a.0, b.0),
            i32x4_shuffle::<2, 6, 3, 7>(a.0, b.0),
        );
        let cd = i32x4_add(
            i32x4_shuffle::<0, 4, 1, 5>(c.0, d.0),
            i32x4_shuffle::<2, 6, 3, 7>(c.0, d.0),
        );
        Self(i32x4_add(
            i32x4_shuffle::<0, 1, 4, 5>(ab, cd),
            i32x4_shuffle::<2, 3, 6, 7>(ab, cd),
        ))
    }
    /// `[a0 + a1, a2 + a3, b0 + b1, b2 + b3]`: the pair sums of two vectors.
    #[inline(always)]
    pub fn pair_sums(a: Self, b: Self) -> Self {
        Self(i32x4_add(
            i32x4_shuffle::<0, 2, 4, 6>(a.0, b.0),
            i32x4_shuffle::<1, 3, 5, 7>(a.0, b.0),
        ))
    }
    /// Lane-wise conversion to f32 (round to nearest even).
    #[inline(always)]
    pub fn to_f32(self) -> F32x4 {
        let mut buf = [0.0f32; 4];
        // SAFETY: `buf` is 16 bytes; the store/load pair is removed by the optimiser.
        unsafe {
            v128_store(buf.as_mut_ptr().cast(), f32x4_convert_i32x4(self.0));
            F32x4::load(buf.as_ptr())
        }
    }
    /// The bits of four f32 lanes as i32.
    #[inline(always)]
    pub fn from_f32_bits(x: F32x4) -> Self {
        let mut buf = [0.0f32; 4];
        // SAFETY: `buf` is 16 bytes; the store/load pair is removed by the optimiser.
        unsafe {
            x.store(buf.as_mut_ptr());
            Self(v128_load(buf.as_ptr().cast()))
        }
    }
    /// Lane-wise f32 to i32: truncates toward zero, saturates, NaN becomes 0.
    #[inline(always)]
    pub fn from_f32_sat(x: F32x4) -> Self {
        let mut buf = [0.0f32; 4];
        // SAFETY: `buf` is 16 bytes; the store/load pair is removed by the optimiser.
        unsafe {
            x.store(buf.as_mut_ptr());
            Self(i32x4_trunc_sat_f32x4(v128_load(buf.as_ptr().cast())))
        }
    }
}

/// `x` with NaN lanes replaced by `+0.0` (`x == x` as a mask).
#[inline(always)]
pub fn nan_to_zero(x: F32x4) -> F32x4 {
    let mut buf = [0.0f32; 4];
    // SAFETY: `buf` is 16 bytes; the store/load pairs are removed by the optimiser.
    unsafe {
        x.store(buf.as_mut_ptr());
        let v = v128_load(buf.as_ptr().cast());
        v128_store(buf.as_mut_ptr().cast(), v128_and(v, f32x4_eq(v, v)));
        F32x4::load(buf.as_ptr())
    }
}
