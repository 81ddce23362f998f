//! Unary elementwise operations a graph runner needs besides the activations.
//!
//! | op | max error vs f64 (asserted in `tests/unary.rs`) |
//! |---|---|
//! | `Neg`, `Abs` | exact |
//! | `Sqrt`, `Reciprocal` | exact (correctly rounded IEEE operations) |
//! | `Exp` | relative 3e-7 ([`math::exp`]; 0 below -87.34, +inf above 88.376) |
//! | `Log` | relative 1.5e-7 ([`math::ln`]) |
//! | `Erf` | absolute 5e-7 ([`math::erf`]) |
//! | `Pow(p)`, p in {0, 1, 2, 3, -1, 0.5} | exact for 0, 1, 0.5 (sqrt), -1; relative 1.2e-7 for 2, 2.4e-7 for 3 |
//! | `Pow(p)`, other p | relative `4e-7 + 3e-7 \|ln y\|` (via `exp(p ln\|x\|)`, so like `Exp` it saturates to inf above 2.4e38 and flushes below 1.2e-38) |
use crate::error::{Error, Result};
use crate::math;
use crate::simd::F32x4;
use crate::stream::{map, InOut};

/// An elementwise unary operation.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum UnaryOp {
    /// `-x`.
    Neg,
    /// `|x|`.
    Abs,
    /// `sqrt(x)` (NaN for `x < 0`, `-0` for `-0`).
    Sqrt,
    /// `1 / x`.
    Reciprocal,
    /// `e^x`.
    Exp,
    /// `ln x` (`-inf` at 0, NaN below).
    Log,
    /// The error function.
    Erf,
    /// `x^p` for a finite scalar `p`. Follows C's `pow` for integer `p` (the sign of `x` is kept
    /// for odd `p`; `0^-1 = inf`); for non-integer `p`, negative `x` (`-inf` included) gives NaN,
    /// and `p = 0.5` is computed as `sqrt(x)`.
    Pow(f32),
}

impl UnaryOp {
    /// Checks the parameter of `Pow` (finite).
    pub fn validate(&self) -> Result<()> {
        match *self {
            UnaryOp::Pow(p) if !p.is_finite() => Err(Error::InvalidArgument {
                what: "pow exponent",
                why: "must be finite",
            }),
            _ => Ok(()),
        }
    }
}

/// `y = op(x)` elementwise; `x` and `y` have the same length.
///
/// ```
/// use wasmnn_kernels::{unary, UnaryOp};
/// let x = [4.0, 9.0, -1.0];
/// let mut y = [0.0; 3];
/// unary(UnaryOp::Pow(2.0), &x, &mut y)?;
/// assert_eq!(y, [16.0, 81.0, 1.0]);
/// unary(UnaryOp::Sqrt, &x, &mut y)?;
/// assert_eq!(&y[..2], &[2.0, 3.0]);
/// assert!(y[2].is_nan());
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn unary(op: UnaryOp, x: &[f32], y: &mut [f32]) -> Result<()> {
    op.validate()?;
    if x.len() != y.len() {
        return Err(Error::ShapeMismatch {
            what: "length of y (= length of x)",
            expected: x.len(),
            found: y.len(),
        });
    }
    run(op, InOut::new(x, y));
    Ok(())
}

/// `x = op(x)` elementwise, in place.
///
/// ```
/// use wasmnn_kernels::{unary_inplace, UnaryOp};
/// let mut x = [1.0, 0.0];
/// unary_inplace(UnaryOp::Exp, &mut x)?;
/// assert!((x[0] - core::f32::consts::E).abs() < 1e-6);
/// assert_eq!(x[1], 1.0);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn unary_inplace(op: UnaryOp, x: &mut [f32]) -> Result<()> {
    op.validate()?;
    run(op, InOut::in_place(x));
    Ok(())
}

fn run(op: UnaryOp, mut io: InOut<'_>) {
    let io = &mut io;
    match op {
        UnaryOp::Neg => map(io, |v| v.neg()),
        UnaryOp::Abs => map(io, |v| v.abs()),
        UnaryOp::Sqrt => map(io, |v| v.sqrt()),
        UnaryOp::Reciprocal => map(io, |v| v.recip()),
        UnaryOp::Exp => map(io, math::exp),
        UnaryOp::Log => map(io, math::ln),
        UnaryOp::Erf => map(io, math::erf),
        UnaryOp::Pow(p) => pow(io, p),
    }
}

/// `x^p`: exact shortcuts for the common exponents, `exp(p ln|x|)` with the sign of an odd
/// integer power otherwise.
fn pow(io: &mut InOut<'_>, p: f32) {
    if p == 0.0 {
        return map(io, |_| F32x4::splat(1.0));
    }
    if p == 1.0 {
        return map(io, |v| v);
    }
    if p == 2.0 {
        return map(io, |v| v.mul(v));
    }
    if p == 3.0 {
        return map(io, |v| v.mul(v).mul(v));
    }
    if p == -1.0 {
        return map(io, |v| v.recip());
    }
    if p == 0.5 {
        return map(io, |v| v.sqrt());
    }
    // Every f32 of magnitude >= 2^24 is an even integer.
    let big = p.abs() >= 16_777_216.0;
    let integer = big || (p as i32) as f32 == p;
    let odd = !big && integer && (p as i32) % 2 != 0;
    let pv = F32x4::splat(p);
    let general = move |v: F32x4| math::exp(pv.mul(math::ln(v.abs())));
    if odd {
        let sign = F32x4::splat(-0.0);
        map(io, |v| general(v).or_bits(v.and_bits(sign)))
    } else if integer {
        map(io, general)
    } else {
        let nan = F32x4::splat(f32::NAN);
        map(io, |v| v.select_lt(F32x4::zero(), nan, general(v)))
    }
}
