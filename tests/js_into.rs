//! The `_into` entry points of the JavaScript classes (`--features js`, wasm32 only: they take
//! typed arrays): `PackedMatrix.matmul_into`, `Linear.forward_into`, `Conv2d.run_into`,
//! `QuantMatrix.matmul_integer_u8_into` and `QuantMatrix.dynamic_quant_matmul_into` give the
//! same bits as the allocating forms, call after call with new data and new sizes (the staging
//! buffers are reused, never stale), and a wrong length throws the Rust message and writes
//! nothing.
//!
//! Run with `cargo test --target wasm32-unknown-unknown -p wasmnn --features js --test js_into`.
#![cfg(all(target_arch = "wasm32", feature = "js"))]

mod js_common;

use js_common::{message, same};
use js_sys::{Float32Array, Int32Array, Uint8Array};
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::js;

/// Values in [-2, 2).
fn input(n: usize, seed: u32) -> Vec<f32> {
    js_common::input(n, seed, 2.0)
}

/// Sizes up, down and up again, each with fresh data: the staging buffers grow, then are
/// reused (at other lengths) and must hold this call's data, not the last one's.
const CALLS: [(usize, u32); 4] = [(3, 1), (40, 2), (1, 3), (40, 4)];

#[wasm_bindgen_test]
fn matmul_and_linear_into_match_the_allocating_forms() {
    let (k, n) = (37, 19);
    let b = input(k * n, 99);
    let bias = input(n, 7);
    let pm = js::PackedMatrix::new(&b, k, n).unwrap();
    let lin = js::JsLinear::new(&b, k, n, Some(bias), "gelu").unwrap();
    let mut last = Vec::new();
    for (m, seed) in CALLS {
        let a = input(m * k, seed);
        let (aa, out) = (
            Float32Array::from(&a[..]),
            Float32Array::new_with_length((m * n) as u32),
        );
        pm.matmul_into(&aa, m, &out).unwrap();
        let want = pm.matmul(&a, m).unwrap();
        same(&out.to_vec(), &want);
        assert_ne!(want, last, "each call's data gives a different product");
        last = want;
        lin.forward_into(&aa, m, &out).unwrap();
        same(&out.to_vec(), &lin.forward(&a, m).unwrap());
        same(&aa.to_vec(), &a); // the input is not modified
    }
}

#[wasm_bindgen_test]
fn conv_into_matches_the_allocating_form() {
    // A depthwise and two dense 3x3 convolutions (im2col, and Winograd where the output is at
    // least 8 wide), NCHW and NHWC.
    for (c_in, c_out, groups) in [(4, 4, 4), (3, 5, 1), (16, 6, 1)] {
        let w = input(c_out * (c_in / groups) * 9, 11);
        let bias = input(c_out, 12);
        let conv = js::JsConv2d::new(
            &w,
            Some(bias),
            c_out,
            c_in,
            &[3, 3],
            &[1, 1],
            &[1, 1, 1, 1],
            &[1, 1],
            groups,
            "relu",
        )
        .unwrap();
        for (side, seed) in CALLS {
            let len = c_in * side * side;
            let x = input(2 * len, seed);
            for layout in ["nchw", "nhwc"] {
                let method = match (groups, c_in, side) {
                    (4, ..) => "depthwise",
                    (_, 16, 40) => "winograd",
                    _ => "im2col",
                };
                assert_eq!(conv.method(layout, side, side).unwrap(), method);
                let out = Float32Array::new_with_length((2 * c_out * side * side) as u32);
                let xa = Float32Array::from(&x[..]);
                conv.run_into(&xa, layout, 2, side, side, &out).unwrap();
                same(&out.to_vec(), &conv.run(&x, layout, 2, side, side).unwrap());
            }
        }
    }
}

#[wasm_bindgen_test]
fn quant_into_matches_the_allocating_forms() {
    let (k, n) = (33, 17);
    let b: Vec<i8> = (0..k * n).map(|i| (i * 37 % 255) as i8).collect();
    let q = js::QuantMatrix::new(&b, k, n, &[0.02], None).unwrap();
    for (m, seed) in CALLS {
        let a = input(m * k, seed);
        let a_u8: Vec<u8> = a.iter().map(|&v| (v * 60.0 + 128.0) as u8).collect();
        let out = Int32Array::new_with_length((m * n) as u32);
        q.matmul_integer_u8_into(&Uint8Array::from(&a_u8[..]), m, 120, &out)
            .unwrap();
        assert_eq!(out.to_vec(), q.matmul_integer_u8(&a_u8, m, 120).unwrap());
        let out = Float32Array::new_with_length((m * n) as u32);
        q.dynamic_quant_matmul_into(&Float32Array::from(&a[..]), m, &out)
            .unwrap();
        same(&out.to_vec(), &q.dynamic_quant_matmul(&a, m).unwrap());
    }
}

#[wasm_bindgen_test]
fn wrong_lengths_throw_the_rust_message_and_write_nothing() {
    let (m, k, n) = (2, 3, 4);
    let sentinel = [7.5f32; 9];
    let pm = js::PackedMatrix::new(&input(k * n, 1), k, n).unwrap();
    let lin = js::JsLinear::new(&input(k * n, 1), k, n, None, "none").unwrap();
    let a = Float32Array::from(&input(m * k, 2)[..]);
    let short = Float32Array::from(&input(m * k - 1, 2)[..]);
    let out = Float32Array::from(&sentinel[..]); // m * n = 8 expected
    let good_out = Float32Array::from(&sentinel[..8]);

    let e = message(pm.matmul_into(&a, m, &out).unwrap_err());
    assert!(
        e.contains("length of out (= m * n)") && e.contains('8') && e.contains('9'),
        "{e}"
    );
    let e = message(pm.matmul_into(&short, m, &good_out).unwrap_err());
    assert!(e.contains("length of a (= m * k)"), "{e}");
    let e = message(lin.forward_into(&a, m, &out).unwrap_err());
    assert!(e.contains("length of y (= rows * out_features)"), "{e}");
    let e = message(lin.forward_into(&short, m, &good_out).unwrap_err());
    assert!(e.contains("length of x (= rows * in_features)"), "{e}");

    let conv = js::JsConv2d::new(
        &[1.0; 9],
        None,
        1,
        1,
        &[3, 3],
        &[1, 1],
        &[1, 1, 1, 1],
        &[1, 1],
        1,
        "none",
    )
    .unwrap();
    let x = Float32Array::from(&[1.0f32; 9][..]); // 3 x 3 in, 3 x 3 out
    let e = message(conv.run_into(&x, "nchw", 1, 3, 3, &good_out).unwrap_err());
    assert!(e.contains("output length"), "{e}");
    let e = message(conv.run_into(&good_out, "nchw", 1, 3, 3, &out).unwrap_err());
    assert!(e.contains("input length"), "{e}");

    let q = js::QuantMatrix::new(&[1; 12], k, n, &[1.0], None).unwrap();
    let e = message(q.dynamic_quant_matmul_into(&a, m, &out).unwrap_err());
    assert!(e.contains("length of out (= m * n)"), "{e}");
    let iout = Int32Array::from(&[3i32; 9][..]);
    let e = message(
        q.matmul_integer_u8_into(&Uint8Array::new_with_length(6), m, 0, &iout)
            .unwrap_err(),
    );
    assert!(e.contains("length of out (= m * n)"), "{e}");

    same(&out.to_vec(), &sentinel);
    same(&good_out.to_vec(), &sentinel[..8]);
    assert_eq!(iout.to_vec(), [3; 9]);
}
