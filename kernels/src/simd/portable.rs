//! [`F32x4`] as a plain array: the portable path for native hosts and wasm without SIMD.
//! Lane-wise loops over `[f32; 4]`, which LLVM turns into SSE/NEON on native targets.

/// Four f32 lanes.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
pub struct F32x4([f32; 4]);

macro_rules! lanewise {
    ($a:expr, |$x:ident| $e:expr) => {{
        let a = $a;
        F32x4([
            {
                let $x = a[0];
                $e
            },
            {
                let $x = a[1];
                $e
            },
            {
                let $x = a[2];
                $e
            },
            {
                let $x = a[3];
                $e
            },
        ])
    }};
    ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let (a, b) = ($a, $b);
        F32x4([
            {
                let ($x, $y) = (a[0], b[0]);
                $e
            },
            {
                let ($x, $y) = (a[1], b[1]);
                $e
            },
            {
                let ($x, $y) = (a[2], b[2]);
                $e
            },
            {
                let ($x, $y) = (a[3], b[3]);
                $e
            },
        ])
    }};
}

// Named methods rather than operator traits: kernels read as the instruction sequence they
// compile to (`a.mul_add(b, c)` next to `a.add(b)`), with no hidden conversions.
#[allow(clippy::should_implement_trait)]
impl F32x4 {
    /// All lanes zero.
    #[inline(always)]
    pub fn zero() -> Self {
        Self([0.0; 4])
    }
    /// All lanes `x`.
    #[inline(always)]
    pub fn splat(x: f32) -> Self {
        Self([x; 4])
    }
    /// Loads 4 floats from `p` (any alignment).
    ///
    /// # Safety
    /// `p..p+4` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 16 readable bytes; read_unaligned has no alignment needs.
        Self(unsafe { p.cast::<[f32; 4]>().read_unaligned() })
    }
    /// Loads one float from `p` into all lanes.
    ///
    /// # Safety
    /// `p` must be readable.
    #[inline(always)]
    pub unsafe fn load_splat(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 4 readable bytes.
        Self([unsafe { p.read_unaligned() }; 4])
    }
    /// Stores 4 floats at `p` (any alignment).
    ///
    /// # Safety
    /// `p..p+4` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 16 writable bytes.
        unsafe { p.cast::<[f32; 4]>().write_unaligned(self.0) }
    }
    /// Lane `i` (0..4).
    #[inline(always)]
    pub fn lane(self, i: usize) -> f32 {
        self.0[i & 3]
    }
    /// The four lanes as an array.
    #[inline(always)]
    pub fn to_array(self) -> [f32; 4] {
        self.0
    }
    /// Builds a vector from four lanes.
    #[inline(always)]
    pub fn from_array(a: [f32; 4]) -> Self {
        Self(a)
    }
    /// Lane-wise `self + o`.
    #[inline(always)]
    pub fn add(self, o: Self) -> Self {
        lanewise!(self.0, o.0, |x, y| x + y)
    }
    /// Lane-wise `self - o`.
    #[inline(always)]
    pub fn sub(self, o: Self) -> Self {
        lanewise!(self.0, o.0, |x, y| x - y)
    }
    /// Lane-wise `self * o`.
    #[inline(always)]
    pub fn mul(self, o: Self) -> Self {
        lanewise!(self.0, o.0, |x, y| x * y)
    }
    /// Lane-wise `self / o`.
    #[inline(always)]
    pub fn div(self, o: Self) -> Self {
        lanewise!(self.0, o.0, |x, y| x / y)
    }
    /// `self * b + c`, unfused (product rounded), like the SIMD128 build.
    #[inline(always)]
    pub fn mul_add(self, b: Self, c: Self) -> Self {
        self.mul(b).add(c)
    }
    /// wasm `pmax`: `if self < o { o } else { self }` (NaN handling: see the module docs).
    #[inline(always)]
    pub fn max_or_self(self, o: Self) -> Self {
        lanewise!(self.0, o.0, |x, y| if x < y { y } else { x })
    }
    /// wasm `pmin`: `if o < self { o } else { self }` (NaN handling: see the module docs).
    #[inline(always)]
    pub fn min_or_self(self, o: Self) -> Self {
        lanewise!(self.0, o.0, |x, y| if y < x { y } else { x })
    }
    /// Absolute value.
    #[inline(always)]
    pub fn abs(self) -> Self {
        lanewise!(self.0, |x| f32::from_bits(x.to_bits() & 0x7fff_ffff))
    }
    /// Negation.
    #[inline(always)]
    pub fn neg(self) -> Self {
        lanewise!(self.0, |x| -x)
    }
    /// Rounds to the nearest integer, ties to even.
    #[inline(always)]
    pub fn round_even(self) -> Self {
        // Adding and subtracting 1.5 * 2^23 rounds to even for |x| < 2^22; larger values are
        // already integers (or inf/NaN) and pass through unchanged.
        lanewise!(self.0, |x| {
            if x.abs() < 4_194_304.0 {
                (x + 12_582_912.0) - 12_582_912.0
            } else {
                x
            }
        })
    }
    /// `2^n` for integer-valued lanes `n` in `-126..=127`.
    #[inline(always)]
    pub fn exp2_int(self) -> Self {
        lanewise!(self.0, |x| f32::from_bits(((x as i32 + 127) as u32) << 23))
    }
    /// Lanes where `self < o` keep `a`, the others `b`.
    #[inline(always)]
    pub fn select_lt(self, o: Self, a: Self, b: Self) -> Self {
        let (s, o, a, b) = (self.0, o.0, a.0, b.0);
        Self(core::array::from_fn(
            |i| if s[i] < o[i] { a[i] } else { b[i] },
        ))
    }
    /// Lanes that are NaN in `self` become NaN in `x`.
    #[inline(always)]
    pub fn keep_nan(self, x: Self) -> Self {
        lanewise!(self.0, x.0, |s, x| if s.is_nan() { s } else { x })
    }
    /// `1 / self`.
    #[inline(always)]
    pub fn recip(self) -> Self {
        lanewise!(self.0, |x| 1.0 / x)
    }
    /// Lane-wise square root (correctly rounded).
    #[inline(always)]
    pub fn sqrt(self) -> Self {
        lanewise!(self.0, |x| libm::sqrtf(x))
    }
    /// All lanes hold the float with bit pattern `bits`.
    #[inline(always)]
    pub fn splat_bits(bits: u32) -> Self {
        Self([f32::from_bits(bits); 4])
    }
    /// Bitwise `self & o`.
    #[inline(always)]
    pub fn and_bits(self, o: Self) -> Self {
        lanewise!(self.0, o.0, |x, y| f32::from_bits(
            x.to_bits() & y.to_bits()
        ))
    }
    /// Bitwise `self | o`.
    #[inline(always)]
    pub fn or_bits(self, o: Self) -> Self {
        lanewise!(self.0, o.0, |x, y| f32::from_bits(
            x.to_bits() | y.to_bits()
        ))
    }
    /// The lanes' bits as `i32`, shifted left by `n` (`n < 32`).
    #[inline(always)]
    pub fn shl_i32(self, n: u32) -> Self {
        lanewise!(self.0, |x| f32::from_bits(x.to_bits() << (n & 31)))
    }
    /// The lanes' bits as `i32`, shifted right arithmetically by `n` (`n < 32`).
    #[inline(always)]
    pub fn shr_i32(self, n: u32) -> Self {
        lanewise!(self.0, |x| f32::from_bits(
            ((x.to_bits() as i32) >> (n & 31)) as u32
        ))
    }
    /// The lanes' bits as `i32`: wrapping `self + o`.
    #[inline(always)]
    pub fn add_i32(self, o: Self) -> Self {
        lanewise!(self.0, o.0, |x, y| f32::from_bits(
            x.to_bits().wrapping_add(y.to_bits())
        ))
    }
    /// The lanes' bits as `i32`: wrapping `self - o`.
    #[inline(always)]
    pub fn sub_i32(self, o: Self) -> Self {
        lanewise!(self.0, o.0, |x, y| f32::from_bits(
            x.to_bits().wrapping_sub(y.to_bits())
        ))
    }
    /// The lanes' bits read as `i32` and converted to the nearest f32.
    #[inline(always)]
    pub fn i32_to_f32(self) -> Self {
        lanewise!(self.0, |x| x.to_bits() as i32 as f32)
    }
    /// Sum of the four lanes.
    #[inline(always)]
    pub fn reduce_add(self) -> f32 {
        let a = self.0;
        (a[0] + a[2]) + (a[1] + a[3])
    }
    /// Largest lane of a NaN-free vector (with a NaN lane the result is unspecified).
    #[inline(always)]
    pub fn reduce_max(self) -> f32 {
        let a = self.0;
        a[0].max(a[1]).max(a[2].max(a[3]))
    }
    /// The even lanes of `a` then of `b`: `[a0, a2, b0, b2]` (every second float of the eight
    /// in `a, b`, as a stride-2 gather needs).
    #[inline(always)]
    pub fn even_lanes(a: Self, b: Self) -> Self {
        Self([a.0[0], a.0[2], b.0[0], b.0[2]])
    }
    /// The odd lanes of `a` then of `b`: `[a1, a3, b1, b3]`.
    #[inline(always)]
    pub fn odd_lanes(a: Self, b: Self) -> Self {
        Self([a.0[1], a.0[3], b.0[1], b.0[3]])
    }
    /// The low halves of `a` and `b` interleaved: `[a0, b0, a1, b1]`.
    #[inline(always)]
    pub fn interleave_low(a: Self, b: Self) -> Self {
        Self([a.0[0], b.0[0], a.0[1], b.0[1]])
    }
    /// The high halves of `a` and `b` interleaved: `[a2, b2, a3, b3]`.
    #[inline(always)]
    pub fn interleave_high(a: Self, b: Self) -> Self {
        Self([a.0[2], b.0[2], a.0[3], b.0[3]])
    }
    /// Transposes the 4x4 matrix whose rows are `r`: returns its columns.
    #[inline(always)]
    pub fn transpose4(r: [Self; 4]) -> [Self; 4] {
        core::array::from_fn(|j| Self(core::array::from_fn(|i| r[i].0[j])))
    }
    /// Accumulates a NaN mask: lanes of `self` that are NaN set all bits of the lane in
    /// `mask` (use with [`F32x4::nan_if_mask`]).
    #[inline(always)]
    pub fn nan_mask_or(self, mask: Self) -> Self {
        lanewise!(self.0, mask.0, |s, m| if s.is_nan() {
            f32::from_bits(u32::MAX)
        } else {
            m
        })
    }
    /// Lanes where `self` (a mask from [`F32x4::nan_mask_or`]) is set become NaN in `x`.
    #[inline(always)]
    pub fn nan_if_mask(self, x: Self) -> Self {
        lanewise!(self.0, x.0, |m, x| f32::from_bits(
            m.to_bits() | x.to_bits()
        ))
    }
}
