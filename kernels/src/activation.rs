//! Activations as standalone kernels over slices: the same arithmetic as the GEMM epilogue
//! ([`Activation::apply`]), one SIMD pass over the data.
//!
//! The `match` on the activation runs once per call, outside the loop: each arm is its own
//! loop with the same vector function as the epilogue inlined, so both give the same bits. Error bounds are those of [`crate::math`] (asserted over the
//! whole float range in `tests/math.rs`, and for these kernels in `tests/activation.rs`):
//!
//! | activation | max error vs f64 |
//! |---|---|
//! | ReLU, Clamp, Identity | exact |
//! | HardSigmoid | absolute 1.2e-7 (the rounding of `alpha x + beta`, clamped to `[0, 1]`) |
//! | HardSwish | absolute `1.2e-7 \|x\|` + relative 1.2e-7 (+ half a subnormal step) |
//! | Sigmoid | relative 1e-6 |
//! | Tanh | relative 2e-6, absolute 1e-7 near 0 |
//! | GELU (erf) | absolute 1.5e-6 + relative 2e-6 |
//! | GELU (tanh), SiLU | absolute 1e-6 + relative 2e-6 |
//!
//! NaN stays NaN in every activation (ReLU and Clamp included).
use crate::epilogue::{self, Activation};
use crate::error::{Error, Result};
use crate::math;
use crate::simd::F32x4;
use crate::stream::{map, InOut};

/// `y = act(x)` elementwise; `x` and `y` have the same length.
///
/// ```
/// use wasmnn_kernels::{activate, Activation};
/// let x = [-1.0, 0.0, 2.0, f32::NAN];
/// let mut y = [0.0; 4];
/// activate(Activation::Relu, &x, &mut y)?;
/// assert_eq!(&y[..3], &[0.0, 0.0, 2.0]);
/// assert!(y[3].is_nan());
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn activate(act: Activation, x: &[f32], y: &mut [f32]) -> Result<()> {
    act.validate()?;
    if x.len() != y.len() {
        return Err(Error::ShapeMismatch {
            what: "length of y (= length of x)",
            expected: x.len(),
            found: y.len(),
        });
    }
    run(act, InOut::new(x, y));
    Ok(())
}

/// `x = act(x)` elementwise, in place.
///
/// ```
/// use wasmnn_kernels::{activate_inplace, Activation};
/// let mut x = [-3.0, 0.5, 9.0];
/// activate_inplace(Activation::Clamp { min: 0.0, max: 6.0 }, &mut x)?;
/// assert_eq!(x, [0.0, 0.5, 6.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn activate_inplace(act: Activation, x: &mut [f32]) -> Result<()> {
    act.validate()?;
    if act != Activation::Identity {
        run(act, InOut::in_place(x));
    }
    Ok(())
}

/// `act` over `io` (validated by the caller), one loop per activation kind.
pub(crate) fn run(act: Activation, mut io: InOut<'_>) {
    let io = &mut io;
    match act {
        Activation::Identity => map(io, |v| v),
        Activation::Relu => map(io, epilogue::relu),
        Activation::Clamp { min, max } => {
            let (lo, hi) = (F32x4::splat(min), F32x4::splat(max));
            map(io, |v| epilogue::clamp(v, lo, hi))
        }
        Activation::GeluErf => map(io, math::gelu_erf),
        Activation::GeluTanh => map(io, math::gelu_tanh),
        Activation::Silu => map(io, math::silu),
        Activation::Sigmoid => map(io, math::sigmoid),
        Activation::Tanh => map(io, math::tanh),
        Activation::HardSigmoid { alpha, beta } => {
            let (a, b) = (F32x4::splat(alpha), F32x4::splat(beta));
            map(io, |v| epilogue::hard_sigmoid(v, a, b))
        }
        Activation::HardSwish => map(io, epilogue::hard_swish),
    }
}
