//! Standalone activation kernels: the same bits as the GEMM epilogue (`Activation::apply`),
//! within the bounds of `activation.rs` against f64 over the float range, every tail length,
//! in place, and bad inputs.
mod common;

use common::{reference_activation, Rng};
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::{activate, activate_inplace, Activation, Error};

const ALL: [Activation; 11] = [
    Activation::Identity,
    Activation::Relu,
    Activation::Clamp {
        min: -1.5,
        max: 6.0,
    },
    Activation::GeluErf,
    Activation::GeluTanh,
    Activation::Silu,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::HardSigmoid {
        alpha: 0.2,
        beta: 0.5,
    },
    Activation::HardSigmoid {
        alpha: -1.3,
        beta: 0.25,
    },
    Activation::HardSwish,
];

/// The documented bound `abs + abs_x |x| + rel |want|` (activation.rs).
fn bound(act: Activation) -> (f64, f64, f64) {
    match act {
        Activation::Identity | Activation::Relu | Activation::Clamp { .. } => (0.0, 0.0, 0.0),
        Activation::HardSigmoid { .. } => (1.2e-7, 0.0, 0.0),
        Activation::HardSwish => (1e-45, 1.2e-7, 1.2e-7),
        Activation::Sigmoid => (1e-30, 0.0, 1e-6),
        Activation::Tanh => (1e-7, 0.0, 2e-6),
        Activation::GeluErf => (1.5e-6, 0.0, 2e-6),
        Activation::GeluTanh | Activation::Silu => (1e-6, 0.0, 2e-6),
        _ => unreachable!(),
    }
}

/// A sweep of the float range (every 8191st bit pattern) plus special values.
fn inputs() -> Vec<f32> {
    let step = if cfg!(target_arch = "wasm32") {
        65521
    } else {
        8191
    };
    let mut v: Vec<f32> = (0..=u32::MAX).step_by(step).map(f32::from_bits).collect();
    v.extend([
        0.0,
        -0.0,
        3.0,
        -3.0,
        6.0,
        -1.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MAX,
        -f32::MAX,
    ]);
    v
}

#[wasm_bindgen_test(unsupported = test)]
fn same_bits_as_epilogue_and_within_bounds() {
    let x = inputs();
    let mut y = vec![0.0f32; x.len()];
    for act in ALL {
        activate(act, &x, &mut y).unwrap();
        let (abs, abs_x, rel) = bound(act);
        for (&xi, &yi) in x.iter().zip(&y) {
            let e = act.apply_scalar(xi);
            assert!(
                e.to_bits() == yi.to_bits() || (e.is_nan() && yi.is_nan()),
                "{act:?}({xi:e}) = {yi:e}, epilogue gives {e:e}"
            );
            if xi.is_nan() {
                assert!(yi.is_nan(), "{act:?}(NaN) = {yi}");
                continue;
            }
            let want = reference_activation(act, xi as f64);
            if want.is_nan() || want.is_infinite() || want.abs() > f32::MAX as f64 {
                assert!(
                    yi as f64 == want || !want.is_finite() || !yi.is_finite(),
                    "{act:?}({xi:e}) = {yi:e}, want {want:e}"
                );
                continue;
            }
            let err = (yi as f64 - want).abs();
            let b = if (abs, abs_x, rel) == (0.0, 0.0, 0.0) {
                0.0
            } else {
                let ax = if abs_x > 0.0 {
                    abs_x * (xi as f64).abs()
                } else {
                    0.0
                };
                abs + ax + rel * want.abs()
            };
            assert!(
                err <= b,
                "{act:?}({xi:e}) = {yi:e}, want {want:e}, err {err:e} > {b:e}"
            );
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn tails_and_in_place() {
    let mut rng = Rng::new(9);
    for act in ALL {
        for n in 0..=40 {
            let x: Vec<f32> = (0..n).map(|_| rng.unit() * 8.0).collect();
            let mut y = vec![f32::NAN; n + 2];
            y[n..].copy_from_slice(&[5.0, 5.0]);
            activate(act, &x, &mut y[..n]).unwrap();
            assert_eq!(&y[n..], &[5.0, 5.0], "wrote past the end");
            let mut z = x.clone();
            activate_inplace(act, &mut z).unwrap();
            for i in 0..n {
                assert_eq!(y[i].to_bits(), z[i].to_bits(), "{act:?} n={n} [{i}]");
                assert_eq!(y[i].to_bits(), act.apply_scalar(x[i]).to_bits());
            }
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_inputs_are_typed_errors() {
    let x = [1.0f32; 5];
    let mut y = [3.0f32; 5];
    assert!(matches!(
        activate(Activation::Relu, &x, &mut y[..4]),
        Err(Error::ShapeMismatch { .. })
    ));
    for act in [
        Activation::Clamp { min: 2.0, max: 1.0 },
        Activation::Clamp {
            min: 0.0,
            max: f32::NAN,
        },
        Activation::HardSigmoid {
            alpha: f32::NAN,
            beta: 0.0,
        },
    ] {
        assert!(matches!(
            activate(act, &x, &mut y),
            Err(Error::InvalidArgument { .. })
        ));
        let mut z = x;
        assert!(activate_inplace(act, &mut z).is_err());
        assert_eq!(z, x);
    }
    assert_eq!(y, [3.0; 5], "a refused call wrote to y");
}
