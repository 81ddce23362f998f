//! The JavaScript row functions (`--features js`, wasm32 only: they take `Float32Array`s):
//! same bits as the kernels they wrap, for both the allocating and the `_into` forms, across
//! calls of different sizes (the staging buffer grows and is reused), and shape errors.
//!
//! Run with `cargo test --target wasm32-unknown-unknown -p wasmnn --features js --test js_rows`.
#![cfg(all(target_arch = "wasm32", feature = "js"))]

mod js_common;

use js_common::same;
use js_sys::Float32Array;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::js;
use wasmnn::kernels;

/// Values in [-3, 3): a spread that exercises the exponential and the normalisations.
fn input(n: usize, seed: u32) -> Vec<f32> {
    js_common::input(n, seed, 3.0)
}

#[wasm_bindgen_test]
fn functions_match_the_kernels() {
    // Sizes up, down and up again: the staging buffer is grown, then reused at a new alignment.
    for (seed, (rows, cols)) in [(3, 7), (128, 100), (2, 5), (64, 300)]
        .into_iter()
        .enumerate()
    {
        let n = rows * cols;
        let x = input(n, seed as u32);
        let gamma = input(cols, 99);
        let beta = input(cols, 7);
        let xa = Float32Array::from(&x[..]);
        let out = Float32Array::new_with_length(n as u32);

        let mut want = vec![0.0f32; n];
        kernels::softmax(&x, &mut want, cols).unwrap();
        same(&js::softmax(&xa, rows, cols).unwrap().to_vec(), &want);
        js::softmax_into(&xa, rows, cols, &out).unwrap();
        same(&out.to_vec(), &want);

        kernels::log_softmax(&x, &mut want, cols).unwrap();
        same(&js::log_softmax(&xa, rows, cols).unwrap().to_vec(), &want);
        js::log_softmax_into(&xa, rows, cols, &out).unwrap();
        same(&out.to_vec(), &want);

        kernels::layer_norm(&x, &mut want, &gamma, Some(&beta), 1e-5).unwrap();
        let got = js::layernorm(&xa, rows, cols, gamma.clone(), Some(beta.clone()), 1e-5);
        same(&got.unwrap().to_vec(), &want);
        js::layernorm_into(
            &xa,
            rows,
            cols,
            gamma.clone(),
            Some(beta.clone()),
            1e-5,
            &out,
        )
        .unwrap();
        same(&out.to_vec(), &want);

        kernels::rms_norm(&x, &mut want, &gamma, 1e-6).unwrap();
        same(
            &js::rmsnorm(&xa, rows, cols, gamma.clone(), 1e-6)
                .unwrap()
                .to_vec(),
            &want,
        );
        js::rmsnorm_into(&xa, rows, cols, gamma.clone(), 1e-6, &out).unwrap();
        same(&out.to_vec(), &want);

        // The input array is not modified.
        same(&xa.to_vec(), &x);
    }
}

#[wasm_bindgen_test]
fn shape_errors_are_thrown_and_write_nothing() {
    let xa = Float32Array::from(&[1.0f32; 12][..]);
    let out = Float32Array::from(&[5.0f32; 12][..]);
    assert!(js::softmax(&xa, 5, 3).is_err()); // 15 != 12
    assert!(js::softmax(&xa, usize::MAX, 2).is_err()); // overflow
    assert!(js::softmax_into(&xa, 4, 3, &Float32Array::new_with_length(11)).is_err());
    assert!(js::layernorm_into(&xa, 4, 3, vec![1.0; 4], None, 1e-5, &out).is_err()); // gamma
    assert!(js::layernorm_into(&xa, 4, 3, vec![1.0; 3], Some(vec![0.0; 2]), 1e-5, &out).is_err());
    assert!(js::rmsnorm_into(&xa, 4, 3, vec![1.0; 3], -1.0, &out).is_err()); // eps
    same(&out.to_vec(), &[5.0; 12]);
}
