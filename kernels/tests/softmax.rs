//! Softmax and log-softmax against an f64 reference, with the error bounds documented in
//! `rows/softmax.rs`; special values (-inf, all -inf rows, NaN, +inf, huge negatives); every
//! remainder of the 16-wide loop; in place vs out of place; bad inputs.
mod common;

use common::Rng;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::{log_softmax, log_softmax_inplace, softmax, softmax_inplace, Error};

const U: f64 = 1.0 / (1u64 << 24) as f64;

/// f64 softmax and log-softmax of one row, with the kernels' conventions for special rows.
struct Reference {
    y: Vec<f64>,
    log_y: Vec<f64>,
    /// `x_i - max`.
    d: Vec<f64>,
    /// `sum_j y_j |d_j|`.
    spread: f64,
}

fn reference(x: &[f32]) -> Reference {
    let n = x.len();
    let max = x
        .iter()
        .filter(|v| !v.is_nan())
        .fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let special = |y: f64, l: f64| Reference {
        y: vec![y; n],
        log_y: vec![l; n],
        d: vec![0.0; n],
        spread: 0.0,
    };
    if x.iter().any(|v| v.is_nan()) || max == f64::INFINITY {
        return special(f64::NAN, f64::NAN);
    }
    if max == f64::NEG_INFINITY {
        return special(0.0, f64::NEG_INFINITY);
    }
    let d: Vec<f64> = x.iter().map(|&v| v as f64 - max).collect();
    let s: f64 = d.iter().map(|d| d.exp()).sum();
    let y: Vec<f64> = d.iter().map(|d| d.exp() / s).collect();
    let log_y = d.iter().map(|d| d - s.ln()).collect();
    let spread = y
        .iter()
        .zip(&d)
        .filter(|(y, _)| **y > 0.0)
        .map(|(y, d)| y * d.abs())
        .sum();
    Reference {
        y,
        log_y,
        d,
        spread,
    }
}

/// Relative error bound of the row sum (rows/softmax.rs).
fn sum_bound(n: usize, spread: f64) -> f64 {
    6e-7 + 1.4e-7 * spread + (n as f64 / 8.0 + 7.0) * U
}

fn same(a: f32, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a as f64 == b
}

/// Runs all four entry points on `rows x cols` and checks every element against the bounds.
/// Returns the worst relative error of softmax seen where `|x - max| < 1` (for sanity checks).
fn check_rows(x: &[f32], cols: usize) -> f64 {
    let mut y = vec![f32::NAN; x.len()];
    let mut ly = vec![f32::NAN; x.len()];
    softmax(x, &mut y, cols).unwrap();
    log_softmax(x, &mut ly, cols).unwrap();
    // In place gives the same bits.
    let mut yi = x.to_vec();
    softmax_inplace(&mut yi, cols).unwrap();
    let mut li = x.to_vec();
    log_softmax_inplace(&mut li, cols).unwrap();
    assert!(y.iter().zip(&yi).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(ly.iter().zip(&li).all(|(a, b)| a.to_bits() == b.to_bits()));

    let mut worst = 0.0f64;
    for (r, row) in x.chunks(cols).enumerate() {
        let want = reference(row);
        let eb = sum_bound(cols, want.spread);
        for i in 0..cols {
            let (got, lgot) = (y[r * cols + i], ly[r * cols + i]);
            let (w, lw, d) = (want.y[i], want.log_y[i], want.d[i].abs());
            if w.is_nan() || w == 0.0 {
                assert!(
                    same(got, w),
                    "softmax row {r} [{i}] = {got}, want {w}: {row:?}"
                );
            } else {
                let err = (got as f64 - w).abs();
                let bound = w * (eb + 1.4e-7 * d) + 1e-37;
                assert!(
                    err <= bound,
                    "softmax cols={cols} row {r} [{i}] x={} = {got:e}, want {w:e}, err {err:e} > {bound:e}",
                    row[i]
                );
                if d < 1.0 {
                    worst = worst.max(err / w);
                }
            }
            if lw < -(f32::MAX as f64) {
                // Below the f32 range (x - max overflowed): -inf is the rounded result.
                assert_eq!(lgot, f32::NEG_INFINITY, "log_softmax row {r} [{i}]");
            } else if lw.is_nan() || lw.is_infinite() {
                assert!(
                    same(lgot, lw),
                    "log_softmax row {r} [{i}] = {lgot}, want {lw}"
                );
            } else {
                let err = (lgot as f64 - lw).abs();
                let bound = eb + 1.2e-7 * (d + lw.abs());
                assert!(
                    err <= bound,
                    "log_softmax cols={cols} row {r} [{i}] x={} = {lgot:e}, want {lw:e}, err {err:e} > {bound:e}",
                    row[i]
                );
            }
        }
    }
    worst
}

/// Every row width 1..=70 (all remainders of the 16- and 4-wide loops) and some long rows, with
/// values of several spreads and offsets.
#[wasm_bindgen_test(unsupported = test)]
fn matches_f64_for_every_width() {
    let mut rng = Rng::new(7);
    let mut worst = 0.0f64;
    let widths = (1..=70).chain([127, 128, 1000, 1024, 4099]);
    for (case, cols) in widths.enumerate() {
        let (scale, offset) = [(1.0, 0.0), (20.0, 0.0), (100.0, -30.0), (3.0, 1e4)][case % 4];
        let rows = 3;
        let x: Vec<f32> = (0..rows * cols)
            .map(|_| rng.unit() * scale + offset)
            .collect();
        worst = worst.max(check_rows(&x, cols));
    }
    // Near the maximum (where the outputs are large) the error is a few ulps.
    assert!(worst < 1e-6, "worst relative error {worst:e}");
}

#[wasm_bindgen_test(unsupported = test)]
fn special_values() {
    let ninf = f32::NEG_INFINITY;
    let cases: Vec<Vec<f32>> = vec![
        vec![0.0, ninf, 1.0, ninf, 2.0],         // -inf -> exactly 0
        vec![ninf; 7],                           // fully masked row
        vec![ninf, f32::NAN, ninf],              // masked row with a NaN -> NaN
        vec![1.0, 2.0, f32::NAN, 3.0, 4.0, 5.0], // NaN propagates to the row
        vec![1.0, f32::INFINITY, 3.0],           // +inf -> NaN, as inf - inf
        vec![0.0, -50.0, -87.0, -87.5, -88.0, -100.0, -1e30, -f32::MAX], // flush to 0
        vec![f32::MAX, -f32::MAX, 0.0],          // x - max overflows to -inf
        vec![1e30, 1e30, 1e30, 1e30, 1e30],      // equal huge values: uniform
        vec![42.0],                              // one element: 1 (log: 0)
        vec![-1e-45, 1e-45, 0.0, -0.0],          // subnormal inputs
        vec![0.0, -86.99, -40.0, -86.0, 0.5],    // spread < 87: exp without its clamp
        vec![0.0, -87.0, -87.4, -87.6, -87.8, -88.5, 1.0], // around the flush threshold
    ];
    for row in &cases {
        check_rows(row, row.len());
    }
    // Exact values where they are exact.
    let mut y = [9.0f32; 5];
    softmax(&cases[0], &mut y, 5).unwrap();
    assert_eq!((y[1], y[3]), (0.0, 0.0));
    let mut y7 = [9.0f32; 7];
    softmax(&cases[1], &mut y7, 7).unwrap();
    assert_eq!(y7, [0.0; 7]);
    log_softmax(&cases[1], &mut y7, 7).unwrap();
    assert_eq!(y7, [ninf; 7]);
    let mut y1 = [0.0f32];
    softmax(&[42.0], &mut y1, 1).unwrap();
    assert_eq!(y1, [1.0]);
    log_softmax(&[42.0], &mut y1, 1).unwrap();
    assert_eq!(y1, [0.0]);
    let mut y5 = [0.0f32; 5];
    softmax(&cases[7], &mut y5, 5).unwrap();
    assert!(y5.iter().all(|&v| (v - 0.2).abs() < 1e-7), "{y5:?}");
    // A NaN or +inf at any position of any width (body, 4-wide steps, tail) poisons its row.
    for cols in 1..=40 {
        for p in 0..cols {
            for bad in [f32::NAN, f32::INFINITY] {
                let mut x: Vec<f32> = (0..cols).map(|i| i as f32 * 0.1 - 1.0).collect();
                x[p] = bad;
                let mut y = vec![0.0f32; cols];
                softmax(&x, &mut y, cols).unwrap();
                assert!(y.iter().all(|v| v.is_nan()), "{bad} at {p}/{cols}: {y:?}");
                log_softmax(&x, &mut y, cols).unwrap();
                assert!(y.iter().all(|v| v.is_nan()), "{bad} at {p}/{cols}: {y:?}");
            }
        }
    }
    // A NaN in one row leaves the other rows alone.
    let x = [1.0, f32::NAN, 1.0, 1.0];
    let mut y4 = [0.0f32; 4];
    softmax(&x, &mut y4, 2).unwrap();
    assert!(y4[0].is_nan() && y4[1].is_nan());
    assert_eq!(&y4[2..], &[0.5, 0.5]);
}

/// Rows are independent: a row computed inside a batch equals the row computed alone.
#[wasm_bindgen_test(unsupported = test)]
fn rows_are_independent() {
    let mut rng = Rng::new(3);
    let cols = 37;
    let x: Vec<f32> = (0..5 * cols).map(|_| rng.unit() * 10.0).collect();
    let mut all = vec![0.0f32; x.len()];
    softmax(&x, &mut all, cols).unwrap();
    for (r, row) in x.chunks(cols).enumerate() {
        let mut one = vec![0.0f32; cols];
        softmax(row, &mut one, cols).unwrap();
        assert_eq!(&all[r * cols..(r + 1) * cols], &one[..]);
    }
}

/// proptest: random widths, values of random scale, and random -inf / huge-negative entries.
#[wasm_bindgen_test(unsupported = test)]
fn proptest_softmax_bounds() {
    use proptest::prelude::Strategy;
    let mut runner = common::proptest_runner(128);
    let strategy = (
        1usize..300,
        1usize..4,
        0.01f32..200.0,
        -1e4f32..1e4,
        0u64..u64::MAX,
    )
        .prop_map(|(cols, rows, scale, offset, seed)| (cols, rows, scale, offset, seed));
    runner
        .run(&strategy, |(cols, rows, scale, offset, seed)| {
            let mut rng = Rng::new(seed);
            let x: Vec<f32> = (0..rows * cols)
                .map(|_| match rng.int(0, 40) {
                    0 => f32::NEG_INFINITY,
                    1 => -1e20,
                    _ => rng.unit() * scale + offset,
                })
                .collect();
            check_rows(&x, cols);
            Ok(())
        })
        .unwrap();
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_inputs_are_typed_errors() {
    let x = [1.0f32; 6];
    let mut y = [7.0f32; 6];
    let mut short = [7.0f32; 5];
    assert!(matches!(
        softmax(&x, &mut short, 3),
        Err(Error::ShapeMismatch {
            expected: 6,
            found: 5,
            ..
        })
    ));
    assert!(matches!(
        softmax(&x, &mut y, 4),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        log_softmax(&x, &mut y, 0),
        Err(Error::InvalidArgument { what: "cols", .. })
    ));
    let mut xi = x;
    assert!(matches!(
        softmax_inplace(&mut xi, 5),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        log_softmax_inplace(&mut xi, 0),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(y, [7.0; 6], "a refused call wrote to y");
    assert_eq!(short, [7.0; 5]);
    assert_eq!(xi, x);
    // Empty input: nothing to do, for any width (even 0).
    assert!(softmax(&[], &mut [], 0).is_ok());
    assert!(log_softmax(&[], &mut [], 5).is_ok());
}
