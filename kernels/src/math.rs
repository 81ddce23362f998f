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
