//! The kernel-only benchmark classes of the JavaScript bindings (`--features js`, wasm32 only:
//! their errors are JavaScript exceptions): `Conv2d.bench` gives a `ConvBench` whose output is
//! bit for bit what `Conv2d.run` returns, run after run, and a wrong input length throws the
//! Rust message.
//!
//! Run with `cargo test --target wasm32-unknown-unknown -p wasmnn --features js --test js_bench`.
#![cfg(all(target_arch = "wasm32", feature = "js"))]

mod js_common;

use js_common::message;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::js;

/// Values in [-0.5, 0.5).
fn input(n: usize, seed: u32) -> Vec<f32> {
    js_common::input(n, seed, 0.5)
}

#[wasm_bindgen_test]
fn conv_bench_output_is_the_run_output() {
    // A Winograd-sized 3x3 layer, a strided one (im2col) and a depthwise one.
    let cases: [(usize, usize, usize, u32, usize, &str); 3] = [
        (16, 16, 3, 1, 1, "winograd"),
        (3, 8, 3, 2, 1, "im2col"),
        (8, 8, 3, 1, 8, "depthwise"),
    ];
    for (c_in, c_out, k, s, groups, method) in cases {
        let weights = input(c_out * c_in / groups * k * k, 5);
        let conv = js::JsConv2d::new(
            &weights,
            Some(input(c_out, 6)),
            c_out,
            c_in,
            &[k as u32, k as u32],
            &[s, s],
            &[1, 1, 1, 1],
            &[1, 1],
            groups,
            "relu",
        )
        .unwrap();
        let side = 20;
        let x = input(2 * c_in * side * side, 7);
        for layout in ["nchw", "nhwc"] {
            if layout == "nchw" {
                assert_eq!(conv.method(layout, side, side).unwrap(), method);
            }
            let want = conv.run(&x, layout, 2, side, side).unwrap();
            let mut bench = conv.bench(x.clone(), layout, 2, side, side).unwrap();
            for reps in [1, 3] {
                bench.run(reps).unwrap();
                let got = bench.output();
                assert_eq!(got.len(), want.len());
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        a.to_bits() == b.to_bits(),
                        "{method} {layout} [{i}] {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[wasm_bindgen_test]
fn conv_bench_rejects_a_wrong_input_length() {
    let conv = js::JsConv2d::new(
        &[1.0; 2 * 9],
        None,
        1,
        2,
        &[3, 3],
        &[1, 1],
        &[1, 1, 1, 1],
        &[1, 1],
        1,
        "none",
    )
    .unwrap();
    let e = message(conv.bench(vec![0.0; 17], "nchw", 1, 3, 3).unwrap_err());
    assert!(e.contains("input length") && e.contains("18"), "{e}");
    let e = message(conv.bench(vec![0.0; 18], "chwn", 1, 3, 3).unwrap_err());
    assert!(e.contains("unknown layout"), "{e}");
}
