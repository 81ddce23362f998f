//! The integer vectors as plain arrays: the portable path for native hosts and wasm without
//! SIMD. Lane-wise loops that LLVM vectorises on native targets.
// Lane-wise `add`/`sub`/`mul` are named after the wasm instructions (wrapping), not operators.
#![allow(clippy::should_implement_trait)]
use wasmnn_kernels::simd::F32x4;

/// Eight i16 lanes.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
pub struct I16x8([i16; 8]);

/// Four i32 lanes.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
pub struct I32x4([i32; 4]);

/// Sixteen bytes.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
pub struct I8x16([u8; 16]);

impl I16x8 {
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: i16) -> Self {
        Self([x; 8])
    }
    /// Loads 8 lanes.
    ///
    /// # Safety
    /// `p..p+8` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const i16) -> Self {
        // SAFETY: 16 readable bytes (caller); read_unaligned has no alignment requirement.
        Self(unsafe { p.cast::<[i16; 8]>().read_unaligned() })
    }
    /// Stores 8 lanes.
    ///
    /// # Safety
    /// `p..p+8` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut i16) {
        // SAFETY: 16 writable bytes (caller).
        unsafe { p.cast::<[i16; 8]>().write_unaligned(self.0) }
    }
    /// Loads 8 bytes and zero-extends them.
    ///
    /// # Safety
    /// `p..p+8` must be readable.
    #[inline(always)]
    pub unsafe fn load_extend_u8(p: *const u8) -> Self {
        // SAFETY: 8 readable bytes (caller).
        let b = unsafe { p.cast::<[u8; 8]>().read_unaligned() };
        Self(b.map(i16::from))
    }
    /// Loads 8 bytes and sign-extends them.
    ///
    /// # Safety
    /// `p..p+8` must be readable.
    #[inline(always)]
    pub unsafe fn load_extend_i8(p: *const i8) -> Self {
        // SAFETY: 8 readable bytes (caller).
        let b = unsafe { p.cast::<[i8; 8]>().read_unaligned() };
        Self(b.map(i16::from))
    }
    /// Lane-wise wrapping `self - o`.
    #[inline(always)]
    pub fn sub(self, o: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i].wrapping_sub(o.0[i])))
    }
    /// Lane-wise wrapping `self + o`.
    #[inline(always)]
    pub fn add(self, o: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i].wrapping_add(o.0[i])))
    }
    /// Narrows two i32 vectors (`lo` = lanes 0..4) to i16 with saturation.
    #[inline(always)]
    pub fn narrow_i32(lo: I32x4, hi: I32x4) -> Self {
        let sat = |x: i32| x.clamp(i16::MIN as i32, i16::MAX as i32) as i16;
        Self(core::array::from_fn(|i| {
            sat(if i < 4 { lo.0[i] } else { hi.0[i - 4] })
        }))
    }
    /// The lanes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [i16; 8] {
        self.0
    }
}

impl I8x16 {
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: u8) -> Self {
        Self([x; 16])
    }
    /// Loads 16 bytes.
    ///
    /// # Safety
    /// `p..p+16` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const u8) -> Self {
        // SAFETY: 16 readable bytes (caller).
        Self(unsafe { p.cast::<[u8; 16]>().read_unaligned() })
    }
    /// Loads 8 bytes into both halves.
    ///
    /// # Safety
    /// `p..p+8` must be readable.
    #[inline(always)]
    pub unsafe fn load64_splat(p: *const u8) -> Self {
        // SAFETY: 8 readable bytes (caller).
        let h = unsafe { p.cast::<[u8; 8]>().read_unaligned() };
        Self(core::array::from_fn(|i| h[i & 7]))
    }
    /// Stores 16 bytes.
    ///
    /// # Safety
    /// `p..p+16` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut u8) {
        // SAFETY: 16 writable bytes (caller).
        unsafe { p.cast::<[u8; 16]>().write_unaligned(self.0) }
    }
    /// Stores the low 8 bytes.
    ///
    /// # Safety
    /// `p..p+8` must be writable.
    #[inline(always)]
    pub unsafe fn store_low8(self, p: *mut u8) {
        let mut h = [0u8; 8];
        h.copy_from_slice(&self.0[..8]);
        // SAFETY: 8 writable bytes (caller).
        unsafe { p.cast::<[u8; 8]>().write_unaligned(h) }
    }
    /// Stores the low 4 bytes.
    ///
    /// # Safety
    /// `p..p+4` must be writable.
    #[inline(always)]
    pub unsafe fn store_low4(self, p: *mut u8) {
        let mut h = [0u8; 4];
        h.copy_from_slice(&self.0[..4]);
        // SAFETY: 4 writable bytes (caller).
        unsafe { p.cast::<[u8; 4]>().write_unaligned(h) }
    }
    /// Bytes 0..8 sign-extended.
    #[inline(always)]
    pub fn extend_low_i8(self) -> I16x8 {
        I16x8(core::array::from_fn(|i| self.0[i] as i8 as i16))
    }
    /// Bytes 8..16 sign-extended.
    #[inline(always)]
    pub fn extend_high_i8(self) -> I16x8 {
        I16x8(core::array::from_fn(|i| self.0[i + 8] as i8 as i16))
    }
    /// Bytes 0..8 zero-extended.
    #[inline(always)]
    pub fn extend_low_u8(self) -> I16x8 {
        I16x8(core::array::from_fn(|i| self.0[i] as i16))
    }
    /// Bytes 8..16 zero-extended.
    #[inline(always)]
    pub fn extend_high_u8(self) -> I16x8 {
        I16x8(core::array::from_fn(|i| self.0[i + 8] as i16))
    }
    /// Narrows 16 i16 lanes to u8 with saturation.
    #[inline(always)]
    pub fn narrow_u8(lo: I16x8, hi: I16x8) -> Self {
        Self(core::array::from_fn(|i| {
            let x = if i < 8 { lo.0[i] } else { hi.0[i - 8] };
            x.clamp(0, 255) as u8
        }))
    }
    /// Narrows 16 i16 lanes to i8 with saturation.
    #[inline(always)]
    pub fn narrow_i8(lo: I16x8, hi: I16x8) -> Self {
        Self(core::array::from_fn(|i| {
            let x = if i < 8 { lo.0[i] } else { hi.0[i - 8] };
            x.clamp(-128, 127) as i8 as u8
        }))
    }
    /// Bitwise `self & o`.
    #[inline(always)]
    pub fn and(self, o: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i] & o.0[i]))
    }
    /// Bitwise `self ^ o`.
    #[inline(always)]
    pub fn xor(self, o: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i] ^ o.0[i]))
    }
    /// Each byte shifted right by 7 as unsigned: its top bit (0 or 1).
    #[inline(always)]
    pub fn top_bit(self) -> Self {
        Self(self.0.map(|x| x >> 7))
    }
    /// The bytes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [u8; 16] {
        self.0
    }
}

impl I32x4 {
    /// All lanes zero.
    #[inline(always)]
    pub fn zero() -> Self {
        Self([0; 4])
    }
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: i32) -> Self {
        Self([x; 4])
    }
    /// Loads 4 lanes.
    ///
    /// # Safety
    /// `p..p+4` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const i32) -> Self {
        // SAFETY: 16 readable bytes (caller).
        Self(unsafe { p.cast::<[i32; 4]>().read_unaligned() })
    }
    /// Stores 4 lanes.
    ///
    /// # Safety
    /// `p..p+4` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut i32) {
        // SAFETY: 16 writable bytes (caller).
        unsafe { p.cast::<[i32; 4]>().write_unaligned(self.0) }
    }
    /// Builds a vector from four lanes.
    #[inline(always)]
    pub fn from_array(a: [i32; 4]) -> Self {
        Self(a)
    }
    /// The lanes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [i32; 4] {
        self.0
    }
    /// Lane-wise wrapping `self + o`.
    #[inline(always)]
    pub fn add(self, o: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i].wrapping_add(o.0[i])))
    }
    /// Lane-wise wrapping `self - o`.
    #[inline(always)]
    pub fn sub(self, o: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i].wrapping_sub(o.0[i])))
    }
    /// Lane-wise wrapping `self * o`.
    #[inline(always)]
    pub fn mul(self, o: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i].wrapping_mul(o.0[i])))
    }
    /// Lane-wise `self << 7` (wrapping).
    #[inline(always)]
    pub fn shl7(self) -> Self {
        Self(self.0.map(|x| x.wrapping_shl(7)))
    }
    /// Lane-wise `max(self, o)`.
    #[inline(always)]
    pub fn max(self, o: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i].max(o.0[i])))
    }
    /// Lane-wise `min(self, o)`.
    #[inline(always)]
    pub fn min(self, o: Self) -> Self {
        Self(core::array::from_fn(|i| self.0[i].min(o.0[i])))
    }
    /// `self + dot(a, b)`: lane `l` adds `a[2l] b[2l] + a[2l+1] b[2l+1]`, exact in i32.
    #[inline(always)]
    pub fn dot_add(self, a: I16x8, b: I16x8) -> Self {
        Self(core::array::from_fn(|l| {
            let p0 = a.0[2 * l] as i32 * b.0[2 * l] as i32;
            let p1 = a.0[2 * l + 1] as i32 * b.0[2 * l + 1] as i32;
            self.0[l].wrapping_add(p0.wrapping_add(p1))
        }))
    }
    /// `self + relaxed_dot(a, b)`: lane `l` adds `sum_t a[4l+t] * b[4l+t]` with both operands
    /// signed bytes (the exact result whenever every byte of `b` is in `0..=127`).
    #[inline(always)]
    pub fn relaxed_dot_add(self, a: I8x16, b: I8x16) -> Self {
        Self(core::array::from_fn(|l| {
            let s: i32 = (0..4)
                .map(|t| a.0[4 * l + t] as i8 as i32 * b.0[4 * l + t] as i8 as i32)
                .sum();
            self.0[l].wrapping_add(s)
        }))
    }
    /// The same sum as [`I32x4::relaxed_dot_add`] (the SIMD builds compute it another way).
    #[inline(always)]
    pub fn relaxed_dot_add_via_i16(self, a: I8x16, b: I8x16) -> Self {
        self.relaxed_dot_add(a, b)
    }
    /// `[sum(a), sum(b), sum(c), sum(d)]`: the horizontal sums of four vectors.
    #[inline(always)]
    pub fn hsum4(a: Self, b: Self, c: Self, d: Self) -> Self {
        let s = |v: Self| (v.0[0].wrapping_add(v.0[2])).wrapping_add(v.0[1].wrapping_add(v.0[3]));
        Self([s(a), s(b), s(c), s(d)])
    }
    /// `[a0 + a1, a2 + a3, b0 + b1, b2 + b3]`: the pair sums of two vectors.
    #[inline(always)]
    pub fn pair_sums(a: Self, b: Self) -> Self {
        Self([
            a.0[0].wrapping_add(a.0[1]),
            a.0[2].wrapping_add(a.0[3]),
            b.0[0].wrapping_add(b.0[1]),
            b.0[2].wrapping_add(b.0[3]),
        ])
    }
    /// Lane-wise conversion to f32 (round to nearest even).
    #[inline(always)]
    pub fn to_f32(self) -> F32x4 {
        F32x4::from_array(self.0.map(|x| x as f32))
    }
    /// The bits of four f32 lanes as i32.
    #[inline(always)]
    pub fn from_f32_bits(x: F32x4) -> Self {
        Self(x.to_array().map(|v| v.to_bits() as i32))
    }
    /// Lane-wise f32 to i32: truncates toward zero, saturates, NaN becomes 0.
    #[inline(always)]
    pub fn from_f32_sat(x: F32x4) -> Self {
        Self(x.to_array().map(|v| v as i32))
    }
}

/// `x` with NaN lanes replaced by `+0.0`.
#[inline(always)]
pub fn nan_to_zero(x: F32x4) -> F32x4 {
    F32x4::from_array(x.to_array().map(|v| if v.is_nan() { 0.0 } else { v }))
}
