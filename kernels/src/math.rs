//! Vector transcendental functions on [`F32x4`], shared by the activation kernels and the GEMM
//! epilogue. Error bounds (max over the whole f32 range, against an f64 reference) are asserted
//! in `tests/math.rs`:
//!
//! | function | bound |
//! |---|---|
//! | [`exp`] | relative 3e-7 where the result is a normal float; 0 below `ln(f32::MIN_POSITIVE)` (flushes subnormal results); +inf above 88.376 |
//! | [`erf`] | absolute 5e-7 |
//! | [`sigmoid`] | relative 1e-6 |
//! | [`tanh`] | relative 2e-6 (absolute 1e-7 near 0) |
//! | [`gelu_erf`] | absolute 1.5e-6 + relative 2e-6 |
//! | [`gelu_tanh`], [`silu`] | absolute 1e-6 + relative 2e-6 |
//! | [`exp_nonpositive`] | relative 3e-7 + 8e-8 * \|x\| for x in `[-87.33, 0]`; 0 below -87.7 (asserted in `tests/unary.rs`) |
//! | [`ln`] | relative 1.5e-7 over all positive floats, subnormals included (asserted in `tests/unary.rs`) |
//!
//! NaN inputs give NaN outputs everywhere.
use crate::simd::F32x4;

/// `ln(f32::MIN_POSITIVE)`: below this `exp` returns 0.
const EXP_LO: f32 = -87.336_55;
/// Largest input whose `2^n` scale is still a normal float (n <= 127).
const EXP_HI: f32 = 88.376_26;

/// The Cephes `expf` polynomial: `exp(r) = 1 + r + r^2 * p(r)` for `|r| <= ln(2)/2`.
#[inline(always)]
fn exp_poly(r: F32x4) -> F32x4 {
    let mut p = F32x4::splat(1.987_569_2e-4);
    p = p.mul_add(r, F32x4::splat(1.398_199_9e-3));
    p = p.mul_add(r, F32x4::splat(8.333_452e-3));
    p = p.mul_add(r, F32x4::splat(4.166_579_6e-2));
    p = p.mul_add(r, F32x4::splat(1.666_666_5e-1));
    p.mul_add(r, F32x4::splat(0.5))
}

/// `e^x` lane-wise.
#[inline(always)]
pub fn exp(x: F32x4) -> F32x4 {
    // Clamp first (NaN passes through `min_or_self` / `max_or_self`), so `2^n` stays normal.
    let xc = x
        .min_or_self(F32x4::splat(EXP_HI))
        .max_or_self(F32x4::splat(EXP_LO));
    let n = xc.mul(F32x4::splat(core::f32::consts::LOG2_E)).round_even();
    // Two-constant Cody-Waite reduction: r = x - n ln2 with ln2 split so n * C1 is exact.
    let r = n.mul(F32x4::splat(-0.693_359_4)).add(xc);
    let r = n.mul(F32x4::splat(2.121_944_4e-4)).add(r);
    let y = exp_poly(r).mul(r.mul(r)).add(r).add(F32x4::splat(1.0));
    let y = y.mul(n.exp2_int());
    let y = x.select_lt(F32x4::splat(EXP_LO), F32x4::zero(), y);
    // Above EXP_HI the true result may still be finite up to 88.72; we saturate to +inf.
    let y = F32x4::splat(EXP_HI).select_lt(x, F32x4::splat(f32::INFINITY), y);
    // NaN in, NaN out, stated explicitly: the clamps above are not relied on for it.
    x.keep_nan(y)
}

/// `e^x - 1` for `x <= 0`, accurate near 0 (used by `tanh`).
#[inline(always)]
fn expm1_nonpositive(x: F32x4) -> F32x4 {
    // Near 0 use the polynomial directly (no cancellation); elsewhere exp(x) - 1 loses at most a
    // factor 1 / (1 - e^-0.3466) = 3.4 of relative accuracy.
    let small = x.mul(x).mul(exp_poly(x)).add(x);
    let big = exp(x).sub(F32x4::splat(1.0));
    F32x4::splat(-0.346_6).select_lt(x, small, big)
}

/// The error function `erf(x)`, lane-wise (Eigen's rational approximation on `[-4, 4]`).
#[inline(always)]
pub fn erf(x: F32x4) -> F32x4 {
    let xc = x
        .min_or_self(F32x4::splat(4.0))
        .max_or_self(F32x4::splat(-4.0));
    let x2 = xc.mul(xc);
    let mut p = F32x4::splat(-2.726_142_3e-10);
    for c in [
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ] {
        p = p.mul_add(x2, F32x4::splat(c));
    }
    let mut q = F32x4::splat(-1.456_607_2e-5);
    for c in [-2.133_740_6e-4, -1.682_827e-3, -7.373_329e-3, -1.426_474e-2] {
        q = q.mul_add(x2, F32x4::splat(c));
    }
    let approx = xc.mul(p).div(q);
    // Beyond |x| = 3.9, erf(x) rounds to +-1 in f32; the rational is 1e-7 short there.
    let one = x.select_lt(F32x4::zero(), F32x4::splat(-1.0), F32x4::splat(1.0));
    x.keep_nan(x.abs().select_lt(F32x4::splat(3.9), approx, one))
}

/// The logistic function `1 / (1 + e^-x)`, lane-wise.
#[inline(always)]
pub fn sigmoid(x: F32x4) -> F32x4 {
    F32x4::splat(1.0).div(F32x4::splat(1.0).add(exp(x.neg())))
}

/// Hyperbolic tangent, lane-wise: `sign(x) * (1 - e^-2|x|) / (1 + e^-2|x|)` with an accurate
/// `e^-2|x| - 1` near 0.
#[inline(always)]
pub fn tanh(x: F32x4) -> F32x4 {
    let t = expm1_nonpositive(x.abs().mul(F32x4::splat(-2.0)));
    // tanh|x| = -t / (2 + t)
    let mag = t.neg().div(t.add(F32x4::splat(2.0)));
    // Restore the sign of x (x < 0 -> -mag); NaN stays NaN through the arithmetic above.
    x.keep_nan(x.select_lt(F32x4::zero(), mag.neg(), mag))
}

/// GELU, erf form: `x/2 * (1 + erf(x / sqrt 2))`.
#[inline(always)]
pub fn gelu_erf(x: F32x4) -> F32x4 {
    let e = erf(x.mul(F32x4::splat(core::f32::consts::FRAC_1_SQRT_2)));
    let y = x.mul(F32x4::splat(0.5)).mul(F32x4::splat(1.0).add(e));
    flush_far_negative(x, y)
}

/// GELU and SiLU tend to 0 as x -> -inf, but `x * 0` is NaN at -inf. Below -104 both true values
/// are under 1e-43 in magnitude (subnormal), so 0 is the correctly flushed result there.
#[inline(always)]
fn flush_far_negative(x: F32x4, y: F32x4) -> F32x4 {
    x.select_lt(F32x4::splat(-FAR_NEGATIVE), F32x4::zero(), y)
}
const FAR_NEGATIVE: f32 = 104.0;

/// GELU, tanh form: `x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, computed as the identical
/// `x * sigmoid(2u)`, which has no cancellation for negative `x`.
#[inline(always)]
pub fn gelu_tanh(x: F32x4) -> F32x4 {
    const TWO_SQRT_2_OVER_PI: f32 = 1.595_769;
    let x3 = x.mul(x).mul(x);
    let u2 = x3
        .mul_add(F32x4::splat(0.044_715), x)
        .mul(F32x4::splat(TWO_SQRT_2_OVER_PI));
    flush_far_negative(x, x.mul(sigmoid(u2)))
}

/// SiLU (swish): `x * sigmoid(x)`.
#[inline(always)]
pub fn silu(x: F32x4) -> F32x4 {
    flush_far_negative(x, x.mul(sigmoid(x)))
}

/// Below this, [`exp_nonpositive`] rounds `n` to -127, whose scale `2^n` is built as +0.
const EXP_FLUSH: f32 = -88.0;
/// `1.5 * 2^23 + 127`: adding it to an integer `n` (`|n| < 2^22`) gives a float whose low
/// mantissa bits hold `n + 127`, the biased exponent of `2^n`.
const EXP_MAGIC: f32 = 12_583_039.0;

/// `e^x` for `x <= 0`, the exponential of softmax (after the row maximum is subtracted):
/// cheaper than [`exp`] because it has no overflow to handle, and arranged for a short
/// dependency chain, since a softmax pass is bound by how many exponentials the core can keep
/// in flight, not by its arithmetic throughput.
///
/// `n = round(x / ln 2)`; `2^n` comes from `n` plus a magic constant (whose low bits are then
/// the biased exponent of `2^n`), off the critical path. `r = x - n ln 2` uses a
/// single-constant reduction (its error grows with `|x|`, hence the `|x|` term of the bound),
/// and `e^r = 1 + r + r^2 q(r)` with a cubic `q` fitted by Lawson's minimax iteration
/// (relative error 1.05e-7 on `[-ln2/2, ln2/2]` with its f32 coefficients), evaluated in
/// Estrin's form. Eight constants in all: few enough for a softmax loop to keep them in V8's
/// 15 SIMD registers, once the loop takes them as values rather than literals (the softmax
/// kernel does; V8 rebuilds a literal vector constant at every use inside a loop).
///
/// Bounds (against f64, asserted in `tests/unary.rs`): relative error `<= 3e-7 + 8e-8 * |x|`
/// where the result is a normal float (`x >= -87.33`); exactly 0 for `x <= -87.7`, -inf
/// included; subnormal or 0 in between; `exp(0) = 1` exactly; NaN stays NaN. Meant for
/// `x <= 0`; up to 88.3 the result is still accurate, beyond that it is unspecified (but
/// never UB).
///
/// ```
/// use wasmnn_kernels::{math, simd::F32x4};
/// let y = math::exp_nonpositive(F32x4::from_array([0.0, -1.0, -100.0, f32::NEG_INFINITY]));
/// assert_eq!(y.lane(0), 1.0);
/// assert!((y.lane(1) - 0.367_879_44).abs() < 1e-7);
/// assert_eq!((y.lane(2), y.lane(3)), (0.0, 0.0));
/// ```
#[inline(always)]
pub fn exp_nonpositive(x: F32x4) -> F32x4 {
    let y = exp_nonpositive_unchecked(x);
    // The relaxed build turns the clamp's pmax into relaxed_max, which may drop a NaN.
    if cfg!(target_feature = "relaxed-simd") {
        x.keep_nan(y)
    } else {
        y
    }
}

/// [`exp_nonpositive`] for callers that handle NaN inputs themselves (softmax checks each row
/// for NaN first): in the relaxed-SIMD build a NaN input may give any value here.
#[inline(always)]
pub(crate) fn exp_nonpositive_unchecked(x: F32x4) -> F32x4 {
    ExpNonpositive::new().eval(x)
}

/// The eight constants of [`exp_nonpositive`], as values a loop can hold.
///
/// V8 does not hoist a `v128.const` out of a loop: it rebuilds the constant at every use, three
/// instructions each (`movq r, imm64; vmovq; vpunpcklqdq`), so the eight constants of one
/// exponential cost 24 instructions per loop iteration, more than the arithmetic. A loop that
/// takes its constants from [`ExpNonpositive::in_registers`] sees them as ordinary values,
/// computed once before the loop, and keeps them in registers (or reads them as memory
/// operands where registers run out).
#[derive(Clone, Copy)]
pub(crate) struct ExpNonpositive {
    flush: F32x4,
    log2e: F32x4,
    neg_ln2: F32x4,
    magic: F32x4,
    c2: F32x4,
    c3: F32x4,
    c4: F32x4,
    c5: F32x4,
}

impl ExpNonpositive {
    /// The constants as literals (what a single call inlines).
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self {
            flush: F32x4::splat(EXP_FLUSH),
            log2e: F32x4::splat(core::f32::consts::LOG2_E),
            neg_ln2: F32x4::splat(-core::f32::consts::LN_2),
            magic: F32x4::splat(EXP_MAGIC),
            c2: F32x4::splat(4.999_923e-1),
            c3: F32x4::splat(1.666_711_4e-1),
            c4: F32x4::splat(4.189_015_6e-2),
            c5: F32x4::splat(8.312_537e-3),
        }
    }

    /// The same constants, hidden from the optimiser so that neither LLVM nor V8 turns them
    /// back into per-use literals: for the setup of a loop (see the type's doc).
    #[inline(always)]
    pub(crate) fn in_registers() -> Self {
        core::hint::black_box(Self::new())
    }

    /// `e^x` for `x <= 0`: [`exp_nonpositive_unchecked`] with these constants.
    #[inline(always)]
    pub(crate) fn eval(&self, x: F32x4) -> F32x4 {
        // Far below: clamp so that n = -127 and the scale is exactly +0.
        let x = x.max_or_self(self.flush);
        let n = x.mul(self.log2e).round_even();
        // n + MAGIC is exact (n is an integer) and holds n + 127 in its low bits.
        let scale = n.add(self.magic).shl_i32(23);
        let r = n.mul_add(self.neg_ln2, x);
        // q(r) = (c2 + c3 r) + r^2 (c4 + c5 r); e^r - 1 = r + r^2 q(r).
        let r2 = r.mul(r);
        let lo = r.mul_add(self.c3, self.c2);
        let hi = r.mul_add(self.c5, self.c4);
        let em1 = r2.mul_add(r2.mul_add(hi, lo), r);
        em1.mul_add(scale, scale)
    }
}

/// `ln 2` split so that `k * LN2_HI` is exact for every exponent `k` (|k| < 256).
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Bits of `sqrt(1/2)`: mantissas are split into `[sqrt(1/2), sqrt(2))`.
const SQRT_HALF_BITS: u32 = 0x3f35_04f3;

/// The natural logarithm, lane-wise.
///
/// `x = 2^k m` with `m` in `[sqrt(1/2), sqrt 2)`, `f = m - 1`, `s = f / (2 + f)`, and
/// `ln m = 2 atanh(s)`, summed as `f - (f^2/2 - s (f^2/2 + R(s^2)))` so the rounding errors
/// stay in the small correction terms. Relative error `<= 1.5e-7` for every positive float,
/// subnormals included (asserted in `tests/unary.rs`). `ln(+-0) = -inf`, `ln(+inf) = +inf`,
/// negative inputs and NaN give NaN.
///
/// ```
/// use wasmnn_kernels::{math, simd::F32x4};
/// let y = math::ln(F32x4::from_array([1.0, core::f32::consts::E, 0.0, -1.0]));
/// assert_eq!(y.lane(0), 0.0);
/// assert!((y.lane(1) - 1.0).abs() <= 1.2e-7);
/// assert_eq!(y.lane(2), f32::NEG_INFINITY);
/// assert!(y.lane(3).is_nan());
/// ```
#[inline(always)]
pub fn ln(x: F32x4) -> F32x4 {
    // Subnormals: scale by 2^23 first so the exponent field below is meaningful.
    let min_normal = F32x4::splat(f32::MIN_POSITIVE);
    let xs = x.select_lt(min_normal, x.mul(F32x4::splat(8_388_608.0)), x);
    let k_bias = x.select_lt(min_normal, F32x4::splat(-23.0), F32x4::zero());
    // Subtracting the bits of sqrt(1/2) makes the exponent field count from that mantissa on.
    let ix = xs.sub_i32(F32x4::splat_bits(SQRT_HALF_BITS));
    let k = ix.shr_i32(23).i32_to_f32().add(k_bias);
    let m = ix
        .and_bits(F32x4::splat_bits(0x007f_ffff))
        .add_i32(F32x4::splat_bits(SQRT_HALF_BITS));
    let f = m.sub(F32x4::splat(1.0));
    let s = f.div(f.add(F32x4::splat(2.0)));
    let z = s.mul(s);
    // 2 atanh(s) = 2s + s R(z), R(z) = z (2/3 + z (2/5 + z (2/7 + z 2/9))).
    let mut r = F32x4::splat(2.0 / 9.0);
    r = r.mul_add(z, F32x4::splat(2.0 / 7.0));
    r = r.mul_add(z, F32x4::splat(2.0 / 5.0));
    r = r.mul_add(z, F32x4::splat(2.0 / 3.0));
    let r = r.mul(z);
    let hfsq = f.mul(f).mul(F32x4::splat(0.5));
    let lo = s.mul_add(hfsq.add(r), k.mul(F32x4::splat(LN2_LO)));
    let y = k.mul_add(F32x4::splat(LN2_HI), f.sub(hfsq.sub(lo)));
    // Special values: +inf, +-0 (|x| below the smallest subnormal), negatives, NaN.
    let inf = F32x4::splat(f32::INFINITY);
    let y = x.select_lt(inf, y, inf);
    let y = x
        .abs()
        .select_lt(F32x4::splat_bits(1), F32x4::splat(f32::NEG_INFINITY), y);
    let y = x.select_lt(F32x4::zero(), F32x4::splat(f32::NAN), y);
    x.keep_nan(y)
}
