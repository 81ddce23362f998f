//! Epilogues: what happens to a GEMM register tile after the K loop and before the store.
//!
//! An epilogue is data, a short list of [`EpilogueOp`]s applied in order to `alpha * A B + beta * C`
//! while the tile is still in registers. One mechanism serves `Linear` (bias + activation),
//! residual connections (`AddMatrix`) and the conv epilogues.
use crate::error::{Error, Result};
use crate::math;
use crate::matrix::MatRef;
use crate::simd::F32x4;

/// An elementwise activation function.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Activation {
    /// `x`.
    Identity,
    /// `max(x, 0)`; NaN stays NaN.
    Relu,
    /// `min(max(x, min), max)`; NaN stays NaN.
    Clamp {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// GELU, exact erf form (`x/2 (1 + erf(x/sqrt 2))`).
    GeluErf,
    /// GELU, tanh approximation.
    GeluTanh,
    /// SiLU / swish: `x sigmoid(x)`.
    Silu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `clamp(alpha x + beta, 0, 1)` (ONNX HardSigmoid).
    HardSigmoid {
        /// Slope (ONNX default 0.2).
        alpha: f32,
        /// Offset (ONNX default 0.5).
        beta: f32,
    },
    /// `x * clamp(x/6 + 1/2, 0, 1)` (ONNX HardSwish).
    HardSwish,
}

impl Activation {
    /// Checks parameters (finite, `min <= max`).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Activation::Clamp { min, max } if min.is_nan() || max.is_nan() || min > max => {
                Err(Error::InvalidArgument {
                    what: "clamp",
                    why: "bounds must be ordered numbers (min <= max)",
                })
            }
            Activation::HardSigmoid { alpha, beta } if !alpha.is_finite() || !beta.is_finite() => {
                Err(Error::InvalidArgument {
                    what: "hard_sigmoid",
                    why: "alpha and beta must be finite",
                })
            }
            _ => Ok(()),
        }
    }

    /// Applies the activation to four lanes.
    #[inline(always)]
    pub fn apply(&self, x: F32x4) -> F32x4 {
        match *self {
            Activation::Identity => x,
            Activation::Relu => relu(x),
            Activation::Clamp { min, max } => clamp(x, F32x4::splat(min), F32x4::splat(max)),
            Activation::GeluErf => math::gelu_erf(x),
            Activation::GeluTanh => math::gelu_tanh(x),
            Activation::Silu => math::silu(x),
            Activation::Sigmoid => math::sigmoid(x),
            Activation::Tanh => math::tanh(x),
            Activation::HardSigmoid { alpha, beta } => {
                hard_sigmoid(x, F32x4::splat(alpha), F32x4::splat(beta))
            }
            Activation::HardSwish => hard_swish(x),
        }
    }

    /// Applies the activation to one value (same arithmetic as [`Activation::apply`]).
    pub fn apply_scalar(&self, x: f32) -> f32 {
        self.apply(F32x4::splat(x)).lane(0)
    }
}

/// NaN lanes of `x` made NaN in `y`, in the relaxed-SIMD build only: there LLVM turns
/// `pmax`/`pmin` into `f32x4.relaxed_max`/`relaxed_min`, which may return the other operand
/// for a NaN (x86 `maxps`). In the other builds `pmax`/`pmin` already keep a NaN `self`.
#[inline(always)]
fn keep_nan_of(x: F32x4, y: F32x4) -> F32x4 {
    if cfg!(target_feature = "relaxed-simd") {
        x.keep_nan(y)
    } else {
        y
    }
}

/// `max(x, 0)`, NaN kept.
#[inline(always)]
pub(crate) fn relu(x: F32x4) -> F32x4 {
    keep_nan_of(x, x.max_or_self(F32x4::zero()))
}

/// `min(max(x, lo), hi)`, NaN kept.
#[inline(always)]
pub(crate) fn clamp(x: F32x4, lo: F32x4, hi: F32x4) -> F32x4 {
    keep_nan_of(x, x.max_or_self(lo).min_or_self(hi))
}

/// `clamp(alpha x + beta, 0, 1)`, NaN kept.
#[inline(always)]
pub(crate) fn hard_sigmoid(x: F32x4, alpha: F32x4, beta: F32x4) -> F32x4 {
    let y = x
        .mul_add(alpha, beta)
        .max_or_self(F32x4::zero())
        .min_or_self(F32x4::splat(1.0));
    keep_nan_of(x, y)
}

/// `x clamp(x/6 + 1/2, 0, 1)`, NaN kept.
#[inline(always)]
pub(crate) fn hard_swish(x: F32x4) -> F32x4 {
    x.mul(hard_sigmoid(x, F32x4::splat(1.0 / 6.0), F32x4::splat(0.5)))
}

/// One step of a GEMM epilogue, applied to every element `(i, j)` of the output.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum EpilogueOp<'a> {
    /// `y += bias[j]` (length = columns of C): the Linear / conv bias.
    AddColBias(&'a [f32]),
    /// `y += bias[i]` (length = rows of C).
    AddRowBias(&'a [f32]),
    /// `y *= scale[j]` (length = columns of C), e.g. a per-channel dequantization scale.
    MulColScale(&'a [f32]),
    /// `y = act(y)`.
    Activation(Activation),
    /// `y += r(i, j)` with `r` the same shape as C: a residual connection.
    AddMatrix(MatRef<'a>),
}

/// Checks that every op fits a `rows x cols` output.
pub fn validate_epilogue(ops: &[EpilogueOp<'_>], rows: usize, cols: usize) -> Result<()> {
    for op in ops {
        match op {
            EpilogueOp::AddColBias(v) | EpilogueOp::MulColScale(v) if v.len() != cols => {
                return Err(Error::ShapeMismatch {
                    what: "length of column bias/scale (= columns of C)",
                    expected: cols,
                    found: v.len(),
                })
            }
            EpilogueOp::AddRowBias(v) if v.len() != rows => {
                return Err(Error::ShapeMismatch {
                    what: "length of row bias (= rows of C)",
                    expected: rows,
                    found: v.len(),
                })
            }
            EpilogueOp::AddMatrix(r) if r.rows() != rows || r.cols() != cols => {
                return Err(Error::ShapeMismatch {
                    what: "residual shape (= shape of C), rows*cols",
                    expected: rows.saturating_mul(cols),
                    found: r.rows().saturating_mul(r.cols()),
                })
            }
            EpilogueOp::Activation(a) => a.validate()?,
            _ => {}
        }
    }
    Ok(())
}
