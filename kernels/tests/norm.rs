//! LayerNorm and RMSNorm against an f64 reference, with the error bounds documented in
//! `rows/norm.rs`: every row width around the 16-wide loop, offsets that defeat the one-pass
//! variance formula, eps, with and without beta, in place, special values, bad inputs.
mod common;

use common::Rng;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::{layer_norm, layer_norm_inplace, rms_norm, rms_norm_inplace, Error};

const U: f64 = 1.0 / (1u64 << 24) as f64;

/// Longest chain of additions in a row sum (rows/norm.rs).
fn chain(n: usize) -> f64 {
    n as f64 / 16.0 + 5.0
}

/// Checks LayerNorm (all forms) of `x` against f64; returns the worst error relative to the
/// bound (<= 1 when the bound holds).
fn check_layer_norm(x: &[f32], gamma: &[f32], beta: Option<&[f32]>, eps: f32) -> f64 {
    let n = gamma.len();
    let mut y = vec![f32::NAN; x.len()];
    layer_norm(x, &mut y, gamma, beta, eps).unwrap();
    let mut z = x.to_vec();
    layer_norm_inplace(&mut z, gamma, beta, eps).unwrap();
    assert!(y.iter().zip(&z).all(|(a, b)| a.to_bits() == b.to_bits()));
    let k = chain(n);
    let mut worst = 0.0f64;
    for (r, row) in x.chunks(n).enumerate() {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let rstd = 1.0 / (var + eps as f64).sqrt();
        let a = row.iter().map(|&v| (v as f64).abs()).sum::<f64>() / n as f64;
        for i in 0..n {
            let xh = (row[i] as f64 - mean) * rstd;
            let (g, b) = (gamma[i] as f64, beta.map_or(0.0, |b| b[i] as f64));
            let want = xh * g + b;
            let got = y[r * n + i] as f64;
            if want.is_nan() {
                assert!(got.is_nan(), "row {r} [{i}] = {got}, want NaN");
                continue;
            }
            let bound = U
                * (g.abs() * ((k / 2.0 + 6.0) * xh.abs() + (k + 2.0) * a * rstd)
                    + b.abs()
                    + want.abs());
            let err = (got - want).abs();
            assert!(
                err <= bound,
                "layer_norm n={n} eps={eps} row {r} [{i}] x={} = {got:e}, want {want:e}, err {err:e} > {bound:e}",
                row[i]
            );
            worst = worst.max(err / bound);
        }
    }
    worst
}

fn check_rms_norm(x: &[f32], gamma: &[f32], eps: f32) -> f64 {
    let n = gamma.len();
    let mut y = vec![f32::NAN; x.len()];
    rms_norm(x, &mut y, gamma, eps).unwrap();
    let mut z = x.to_vec();
    rms_norm_inplace(&mut z, gamma, eps).unwrap();
    assert!(y.iter().zip(&z).all(|(a, b)| a.to_bits() == b.to_bits()));
    let k = chain(n);
    let mut worst = 0.0f64;
    for (r, row) in x.chunks(n).enumerate() {
        let ms = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / n as f64;
        let rstd = 1.0 / (ms + eps as f64).sqrt();
        for i in 0..n {
            let want = row[i] as f64 * rstd * gamma[i] as f64;
            let got = y[r * n + i] as f64;
            let bound = U * (k / 2.0 + 5.0) * want.abs();
            let err = (got - want).abs();
            assert!(
                err <= bound,
                "rms_norm n={n} row {r} [{i}] = {got:e}, want {want:e}, err {err:e} > {bound:e}"
            );
            if bound > 0.0 {
                worst = worst.max(err / bound);
            }
        }
    }
    worst
}

/// Every width 1..=70 and some long rows; offsets up to 1e4 x the spread (where E[x^2] - E[x]^2
/// would lose every digit); several eps; with and without beta.
#[wasm_bindgen_test(unsupported = test)]
fn matches_f64_for_every_width() {
    let mut rng = Rng::new(5);
    let mut worst = 0.0f64;
    for (case, n) in (1..=70).chain([127, 128, 768, 1024, 4099]).enumerate() {
        let (scale, offset) = [(1.0, 0.0), (100.0, 5.0), (1.0, 1e4), (1e-3, -1.0)][case % 4];
        let eps = [1e-5, 0.0, 1e-3][case % 3];
        let rows = 3;
        let x: Vec<f32> = (0..rows * n).map(|_| rng.unit() * scale + offset).collect();
        let gamma: Vec<f32> = (0..n).map(|_| rng.unit() * 2.0).collect();
        let beta: Vec<f32> = (0..n).map(|_| rng.unit()).collect();
        if n == 1 && eps == 0.0 {
            continue; // a one-element row has variance 0: 0/0 (checked in special_values)
        }
        worst = worst.max(check_layer_norm(&x, &gamma, Some(&beta), eps));
        worst = worst.max(check_layer_norm(&x, &gamma, None, eps));
        worst = worst.max(check_rms_norm(&x, &gamma, eps));
    }
    // The bound is not vacuous: some errors use a fair part of it.
    assert!(worst > 0.01, "worst error / bound {worst}");
}

/// A row offset by 1e4 with a spread of 1: the two-pass variance keeps ~4 digits where
/// `E[x^2] - E[x]^2` in f32 would return garbage (even a negative variance).
#[wasm_bindgen_test(unsupported = test)]
fn large_offset_keeps_accuracy() {
    let x: Vec<f32> = (0..1024).map(|i| 1e4 + (i % 7) as f32 - 3.0).collect();
    let gamma = vec![1.0f32; 1024];
    let mut y = vec![0.0f32; 1024];
    layer_norm(&x, &mut y, &gamma, None, 0.0).unwrap();
    // Exact statistics of the row: mean and variance of (i % 7) - 3 over 1024 values.
    let m = x.iter().map(|&v| v as f64).sum::<f64>() / 1024.0;
    let var = x.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / 1024.0;
    for (i, &v) in y.iter().enumerate() {
        let want = (x[i] as f64 - m) / var.sqrt();
        assert!((v as f64 - want).abs() < 1e-3, "[{i}] {v} vs {want}");
    }
    check_layer_norm(&x, &gamma, None, 0.0);
}

#[wasm_bindgen_test(unsupported = test)]
fn special_values() {
    let g = [1.0f32; 4];
    let b = [0.5f32; 4];
    let mut y = [0.0f32; 4];
    // Constant row: x - mean = 0, so y = beta (eps > 0).
    layer_norm(&[3.0; 4], &mut y, &g, Some(&b), 1e-5).unwrap();
    assert_eq!(y, [0.5; 4]);
    // eps = 0 and a constant row: 0/0 = NaN, as the formula says.
    layer_norm(&[3.0; 4], &mut y, &g, None, 0.0).unwrap();
    assert!(y.iter().all(|v| v.is_nan()));
    // NaN or inf anywhere in a row: the whole row is NaN; other rows are untouched by it.
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let x = [1.0, bad, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0];
        let mut y = [0.0f32; 8];
        layer_norm(&x, &mut y, &g, Some(&b), 1e-5).unwrap();
        assert!(y[..4].iter().all(|v| v.is_nan()), "{bad}: {y:?}");
        assert!(y[4..].iter().all(|v| v.is_finite()));
        rms_norm(&x, &mut y, &g, 1e-5).unwrap();
        assert!(y[4..].iter().all(|v| v.is_finite()));
        assert!(y[..4].iter().any(|v| v.is_nan()) || bad.is_infinite());
    }
    // RMSNorm of zeros with eps > 0 is zeros.
    rms_norm(&[0.0; 4], &mut y, &g, 1e-6).unwrap();
    assert_eq!(y, [0.0; 4]);
}

#[wasm_bindgen_test(unsupported = test)]
fn proptest_layer_norm_bounds() {
    use proptest::prelude::Strategy;
    let mut runner = common::proptest_runner(128);
    let strategy = (
        1usize..300,
        1usize..4,
        -8i32..8,
        -1e5f32..1e5,
        0u64..u64::MAX,
    )
        .prop_map(|(n, rows, log_scale, offset, seed)| (n, rows, log_scale, offset, seed));
    runner
        .run(&strategy, |(n, rows, log_scale, offset, seed)| {
            let mut rng = Rng::new(seed);
            let scale = 10f32.powi(log_scale);
            let x: Vec<f32> = (0..rows * n).map(|_| rng.unit() * scale + offset).collect();
            let gamma: Vec<f32> = (0..n).map(|_| rng.unit() * 3.0).collect();
            let beta: Vec<f32> = (0..n).map(|_| rng.unit() * 3.0).collect();
            check_layer_norm(&x, &gamma, Some(&beta), 1e-5);
            check_rms_norm(&x, &gamma, 1e-6);
            Ok(())
        })
        .unwrap();
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_inputs_are_typed_errors() {
    let x = [1.0f32; 6];
    let g = [1.0f32; 3];
    let mut y = [7.0f32; 6];
    assert!(matches!(
        layer_norm(&x, &mut y[..5], &g, None, 1e-5),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        layer_norm(&x, &mut y, &[1.0; 4], None, 1e-5),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        layer_norm(&x, &mut y, &g, Some(&[0.0; 2]), 1e-5),
        Err(Error::ShapeMismatch { .. })
    ));
    for eps in [-1e-5, f32::NAN, f32::INFINITY] {
        assert!(matches!(
            layer_norm(&x, &mut y, &g, None, eps),
            Err(Error::InvalidArgument { what: "eps", .. })
        ));
        assert!(matches!(
            rms_norm(&x, &mut y, &g, eps),
            Err(Error::InvalidArgument { what: "eps", .. })
        ));
    }
    assert!(matches!(
        layer_norm(&x, &mut y, &[], None, 1e-5),
        Err(Error::InvalidArgument { what: "cols", .. })
    ));
    assert!(matches!(
        rms_norm(&x, &mut y, &[1.0; 4], 1e-5),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut xi = x;
    assert!(layer_norm_inplace(&mut xi, &[1.0; 4], None, 1e-5).is_err());
    assert!(layer_norm_inplace(&mut xi, &g, Some(&[1.0]), 1e-5).is_err());
    assert!(rms_norm_inplace(&mut xi, &g, -1.0).is_err());
    assert_eq!(y, [7.0; 6], "a refused call wrote to y");
    assert_eq!(xi, x);
    assert!(layer_norm(&[], &mut [], &[], None, 1e-5).is_ok());
}
