//! The int8 kernels at the very ends of exact-size buffers: remainders of M around the 2-row
//! tile and the GEMV, of N around the 4-column panel, of K around the 8-deep block, and the
//! vector tails of quantization. Every buffer is a `Vec` of exactly the length the API asks for,
//! so under Miri (`cargo xtask test --only miri`) any access one element past it is undefined
//! behaviour; natively and on wasm32 these are exact differential tests. Tiny shapes: Miri runs
//! about a million times slower than native code.
mod common;

use common::Rng;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::{Activation, MatRef};
use wasmnn_quant::{
    dequantize_linear, dynamic_quantize_linear, qgemm_dynamic, qgemm_with, quantize_linear,
    DynamicQuant, KernelChoice, PackedQB, QGemmOptions, QMatMut, QMatRef, QOutput, QuantParams, Q8,
};

/// `sum_k (a - za) * b` in i32, row-major A (`m x k`) and B (`k x n`).
fn reference<A: Q8>(a: &[A], za: i32, b: &[i8], m: usize, k: usize, n: usize) -> Vec<i32> {
    let mut c = vec![0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|p| (a[i * k + p].to_i32() - za) * b[p * n + j] as i32)
                .sum();
        }
    }
    c
}

/// Both kernel families (the relaxed one emulated natively), u8 and i8 activations, the i32
/// and the dequantizing epilogue.
#[wasm_bindgen_test(unsupported = test)]
fn integer_gemm_tiles_at_the_end_of_every_buffer() {
    let mut rng = Rng::new(31);
    for m in [1, 2, 3] {
        for n in [1, 3, 4, 5, 9] {
            for k in [1, 7, 8, 9, 17] {
                let b: Vec<i8> = (0..k * n).map(|_| rng.q::<i8>()).collect();
                let packed = PackedQB::from_row_major(&b, k, n, QuantParams::IDENTITY).unwrap();
                let au: Vec<u8> = (0..m * k).map(|_| rng.q::<u8>()).collect();
                let ai: Vec<i8> = (0..m * k).map(|_| rng.q::<i8>()).collect();
                let bias: Vec<f32> = (0..n).map(|j| j as f32).collect();
                for kernel in [KernelChoice::Baseline, KernelChoice::Relaxed] {
                    let opts = QGemmOptions { kernel, mc: 0 };
                    let what = format!("{m}x{k}x{n} {kernel:?}");
                    let zp = QuantParams::PerTensor {
                        scale: 1.0,
                        zero_point: 128,
                    };
                    let mut c = vec![i32::MIN; m * n];
                    let out = QOutput::I32(QMatMut::row_major(&mut c, m, n).unwrap());
                    let a = QMatRef::row_major(&au, m, k).unwrap();
                    qgemm_with(a, zp, &packed, out, opts).unwrap();
                    assert_eq!(c, reference(&au, 128, &b, m, k, n), "u8 {what}");

                    let mut y = vec![f32::NAN; m * n];
                    let out = QOutput::F32 {
                        c: QMatMut::row_major(&mut y, m, n).unwrap(),
                        bias: Some(&bias),
                        activation: Activation::Identity,
                    };
                    let a = QMatRef::row_major(&ai, m, k).unwrap();
                    qgemm_with(a, QuantParams::IDENTITY, &packed, out, opts).unwrap();
                    let want = reference(&ai, 0, &b, m, k, n);
                    for (i, (got, w)) in y.iter().zip(&want).enumerate() {
                        assert_eq!(*got, *w as f32 + bias[i % n], "i8 f32 out {what}");
                    }
                }
            }
        }
    }
}

/// `DynamicQuantizeLinear -> MatMulInteger` on f32 rows of every short length, against the
/// same chain in scalar code (quantize, then the i32 reference, then scale).
#[wasm_bindgen_test(unsupported = test)]
fn dynamic_gemm_rows_at_the_end_of_the_input() {
    let mut rng = Rng::new(32);
    for (m, k, n) in [(1, 5, 3), (2, 9, 4), (3, 17, 5)] {
        let x: Vec<f32> = (0..m * k).map(|_| 3.0 * rng.unit()).collect();
        let w: Vec<f32> = (0..k * n).map(|_| rng.unit()).collect();
        let b = PackedQB::quantize_f32(MatRef::row_major(&w, k, n).unwrap()).unwrap();
        let mut y = vec![f32::NAN; m * n];
        let out = QOutput::F32 {
            c: QMatMut::row_major(&mut y, m, n).unwrap(),
            bias: None,
            activation: Activation::Identity,
        };
        let xv = MatRef::row_major(&x, m, k).unwrap();
        qgemm_dynamic(xv, DynamicQuant::PerTensor, &b, out).unwrap();
        // The f32 product, within the quantization error of both operands.
        for i in 0..m {
            for j in 0..n {
                let exact: f32 = (0..k).map(|p| x[i * k + p] * w[p * n + j]).sum();
                let got = y[i * n + j];
                assert!(
                    (got - exact).abs() < 0.05 * k as f32,
                    "{m}x{k}x{n} ({i}, {j})"
                );
            }
        }
    }
}

/// Quantize, dequantize and dynamic quantization with every vector tail (1..=17 values).
#[wasm_bindgen_test(unsupported = test)]
fn quantization_with_every_tail() {
    let mut rng = Rng::new(33);
    for len in 1..=17 {
        let x: Vec<f32> = (0..len).map(|_| 2.0 * rng.unit()).collect();
        let p = QuantParams::PerTensor {
            scale: 0.02,
            zero_point: -3,
        };
        let mut q = vec![0i8; len];
        let xv = MatRef::row_major(&x, 1, len).unwrap();
        quantize_linear(xv, p, QMatMut::row_major(&mut q, 1, len).unwrap()).unwrap();
        for (v, got) in x.iter().zip(&q) {
            let want = ((v / 0.02).round_ties_even() - 3.0).clamp(-128.0, 127.0);
            assert_eq!(*got as f32, want, "quantize, len {len}");
        }
        let mut back = vec![f32::NAN; len];
        let qv = QMatRef::row_major(&q, 1, len).unwrap();
        dequantize_linear(qv, p, QMatMut::row_major(&mut back, 1, len).unwrap()).unwrap();
        for (got, qi) in back.iter().zip(&q) {
            assert_eq!(
                *got,
                (*qi as i32 + 3) as f32 * 0.02,
                "dequantize, len {len}"
            );
        }
        let mut u = vec![0u8; len];
        let d = dynamic_quantize_linear(&x, &mut u).unwrap();
        for (v, got) in x.iter().zip(&u) {
            let back = (*got as i32 - d.zero_point) as f32 * d.scale;
            assert!((back - v).abs() <= d.scale, "dynamic, len {len}");
        }
    }
}
