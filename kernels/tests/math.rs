//! Accuracy of the vector math over the whole f32 range, against f64 (`std` and `libm`).
//! Every `STEP`-th bit pattern of the 2^32 is checked (a denser sweep natively than on wasm,
//! where the runner has a time limit), plus the special values. The bounds asserted here are the ones documented in `math.rs`.
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::{math, simd::F32x4};

/// Distance between swept bit patterns: 34 million values natively, 4 million on wasm.
const STEP: u32 = if cfg!(target_arch = "wasm32") {
    1021
} else {
    127
};

/// Every `step`-th f32 bit pattern, NaNs included.
fn sweep(step: u32) -> impl Iterator<Item = f32> {
    (0..=u32::MAX / step).map(move |i| f32::from_bits(i * step))
}

fn eval(f: fn(F32x4) -> F32x4, x: f32) -> f32 {
    f(F32x4::splat(x)).lane(0)
}

/// Checks `f` against `reference` for every swept `x` where `reference` is finite (NaN from
/// `reference` marks inputs outside the documented domain),
/// with `|got - want| <= abs + rel * |want|`; returns the worst relative error seen.
fn check(name: &str, f: fn(F32x4) -> F32x4, reference: fn(f64) -> f64, abs: f64, rel: f64) -> f64 {
    let mut worst = 0.0f64;
    for x in sweep(STEP).chain([0.0, -0.0, 1e-30, -1e-30, f32::MIN_POSITIVE, 88.0, -87.0]) {
        let got = eval(f, x);
        let want = reference(x as f64);
        if x.is_nan() {
            assert!(got.is_nan(), "{name}(NaN) = {got}");
            continue;
        }
        if want.is_nan() || want.is_infinite() || want.abs() > f32::MAX as f64 {
            continue;
        }
        let err = (got as f64 - want).abs();
        assert!(
            err <= abs + rel * want.abs(),
            "{name}({x:e}) = {got:e}, want {want:e}, err {err:e}"
        );
        if want.abs() >= f32::MIN_POSITIVE as f64 {
            worst = worst.max(err / want.abs());
        }
    }
    worst
}

#[wasm_bindgen_test(unsupported = test)]
fn exp_whole_range() {
    // Where the true result is a normal float (x in [-87.33, 88.37]).
    let w = check(
        "exp",
        math::exp,
        |x| {
            if (-87.336_55..=88.376_26).contains(&x) {
                x.exp()
            } else {
                f64::NAN
            }
        },
        0.0,
        3e-7,
    );
    assert!(w <= 3e-7, "{w}");
    assert_eq!(eval(math::exp, f32::NEG_INFINITY), 0.0);
    assert_eq!(eval(math::exp, -100.0), 0.0);
    assert_eq!(eval(math::exp, f32::INFINITY), f32::INFINITY);
    assert_eq!(eval(math::exp, 89.0), f32::INFINITY);
    assert_eq!(eval(math::exp, 0.0), 1.0);
}

#[wasm_bindgen_test(unsupported = test)]
fn erf_whole_range() {
    check("erf", math::erf, libm::erf, 5e-7, 0.0);
    assert_eq!(eval(math::erf, f32::INFINITY), 1.0);
    assert_eq!(eval(math::erf, f32::NEG_INFINITY), -1.0);
}

#[wasm_bindgen_test(unsupported = test)]
fn sigmoid_whole_range() {
    check(
        "sigmoid",
        math::sigmoid,
        |x| 1.0 / (1.0 + (-x).exp()),
        1e-30,
        1e-6,
    );
    assert_eq!(eval(math::sigmoid, f32::NEG_INFINITY), 0.0);
    assert_eq!(eval(math::sigmoid, f32::INFINITY), 1.0);
}

#[wasm_bindgen_test(unsupported = test)]
fn tanh_whole_range() {
    check("tanh", math::tanh, f64::tanh, 1e-7, 2e-6);
    assert_eq!(eval(math::tanh, f32::INFINITY), 1.0);
    assert_eq!(eval(math::tanh, f32::NEG_INFINITY), -1.0);
}

#[wasm_bindgen_test(unsupported = test)]
fn gelu_and_silu_whole_range() {
    check(
        "gelu_erf",
        math::gelu_erf,
        |x| 0.5 * x * (1.0 + libm::erf(x / core::f64::consts::SQRT_2)),
        1.5e-6,
        2e-6,
    );
    check(
        "gelu_tanh",
        math::gelu_tanh,
        |x| {
            0.5 * x
                * (1.0 + ((2.0 / core::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
        },
        1e-6,
        2e-6,
    );
    check("silu", math::silu, |x| x / (1.0 + (-x).exp()), 1e-6, 2e-6);
    for f in [math::gelu_erf, math::gelu_tanh, math::silu] {
        assert_eq!(eval(f, f32::NEG_INFINITY), 0.0);
        assert_eq!(eval(f, f32::INFINITY), f32::INFINITY);
    }
}
