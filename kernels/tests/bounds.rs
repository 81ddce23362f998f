//! Every kernel at the very ends of exact-size buffers: shapes whose last tile, gather, window
//! or vector tail ends at (or one element short of) the last element of an input or output.
//!
//! Natively and on wasm32 these are small differential tests. Their point is Miri (`cargo
//! xtask test --only miri`, which runs this file): every buffer here is a `Vec` of exactly the
//! length the API asks for, so a read or write one element past it (a stride-2 gather's eighth
//! float, a tail vector, a tile edge) is reported as undefined behaviour, even where the stray
//! value would be thrown away and no output could show it. The shapes are kept tiny because Miri
//! runs about a million times slower than native code.
mod common;

use common::conv::check_conv;
use common::Rng;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::attention::{attention, AttentionOptions, AttentionScratch, AttentionShape};
use wasmnn_kernels::conv::pool::{Pool2d, PoolKind};
use wasmnn_kernels::conv::{Conv2dParams, TensorLayout};
use wasmnn_kernels::{
    binary, gemm_packed, layer_norm, log_softmax, rms_norm, softmax, unary, Activation, BinaryOp,
    EpilogueOp, MatMut, MatRef, PackedB, UnaryOp,
};

/// Implicit im2col (NCHW gathers at stride 1 and 2, NHWC runs) and the 1x1 GEMM, on images
/// whose last window ends at the input's last float.
#[wasm_bindgen_test(unsupported = test)]
fn conv_windows_at_the_end_of_the_input() {
    let mut rng = Rng::new(21);
    let k3 = Conv2dParams::new(3, 3);
    // Stride 2, 3 x 9: one strip of four outputs whose last gather (tap column 2) would read
    // floats 2..10 of a 9-float row, past the end of the last channel's last row (3 channels:
    // the RGB copy of the window packer).
    for c in [1, 2, 3] {
        check_conv(
            1,
            c,
            3,
            9,
            2,
            k3.stride(2, 2),
            Activation::Relu,
            true,
            &mut rng,
        );
    }
    // Stride 2, width 10: the eighth float of the last gather is the input's last float.
    check_conv(
        1,
        1,
        3,
        10,
        1,
        k3.stride(2, 2),
        Activation::Identity,
        false,
        &mut rng,
    );
    // Stride 1, 3 x 6: four outputs whose windows end exactly at the last float.
    check_conv(1, 2, 3, 6, 3, k3, Activation::Identity, true, &mut rng);
    // Winograd (8 and 9 channels). 4 x 18 without padding: one row of 8 tiles, whose second
    // 4 x 10 window (read in place) ends at the last float. 4 x 13 with padding: zero-filled
    // copies, a partial panel and half tiles at the end of the output.
    check_conv(1, 8, 4, 18, 5, k3, Activation::Relu, true, &mut rng);
    let p = k3.padding(1, 1, 0, 1);
    check_conv(2, 9, 4, 13, 4, p, Activation::Identity, true, &mut rng);
    // 129 channels: two channel blocks, the second adding to the output the first stored.
    check_conv(1, 129, 4, 9, 1, p, Activation::Relu, true, &mut rng);
    // Padding on the right and bottom only, stride (2, 1), dilation 2.
    let p = k3.padding(0, 0, 1, 1).stride(2, 1);
    check_conv(1, 2, 5, 7, 3, p, Activation::Relu, false, &mut rng);
    let p = k3.dilation(2, 2);
    check_conv(1, 1, 5, 8, 2, p, Activation::Identity, false, &mut rng);
    // 1x1: 5 pixels (a 4-row tile and a leftover row), 9 output channels (a partial panel).
    check_conv(
        1,
        3,
        1,
        5,
        9,
        Conv2dParams::new(1, 1),
        Activation::Relu,
        true,
        &mut rng,
    );
    // Two images, the second one's last window at the end of the buffer.
    check_conv(
        2,
        1,
        3,
        9,
        1,
        k3.stride(2, 2),
        Activation::Identity,
        false,
        &mut rng,
    );
}

/// Depthwise rows (padded-plane kernel at stride 1 and 2: 32-, 16- and 4-output blocks, each
/// row's last block moved back to end at the row's end, and a partial block) and the generic
/// path, on planes whose last row ends the buffer.
#[wasm_bindgen_test(unsupported = test)]
fn depthwise_rows_at_the_end_of_the_input() {
    let mut rng = Rng::new(22);
    for (k, stride, pad, w) in [
        (3, 1, 1, 21),
        (3, 2, 1, 37),
        (3, 2, 0, 9),
        (5, 1, 2, 6),
        (3, 1, 0, 3),
        (3, 1, 0, 4),
        (3, 1, 1, 32),
        (3, 1, 1, 50),
        (3, 2, 1, 64),
    ] {
        let p = Conv2dParams::new(k, k)
            .stride(stride, stride)
            .padding(pad, pad, pad, pad)
            .groups(2);
        check_conv(1, 2, k.max(3), w, 2, p, Activation::Relu, true, &mut rng);
    }
}

/// Max and average pooling with `ceil_mode` windows that hang over the last row and column.
#[wasm_bindgen_test(unsupported = test)]
fn pooling_windows_at_the_end_of_the_input() {
    let (c, h, w) = (2, 5, 7);
    let x: Vec<f32> = (0..c * h * w).map(|i| (i % 11) as f32 - 5.0).collect();
    for kind in [
        PoolKind::Max,
        PoolKind::Average {
            count_include_pad: false,
        },
    ] {
        let pool = Pool2d {
            kind,
            window: Conv2dParams::new(3, 3).stride(2, 2),
            ceil_mode: true,
        };
        let (ho, wo) = pool.output_size(h, w).unwrap();
        assert_eq!((ho, wo), (2, 3));
        for layout in [TensorLayout::Nchw, TensorLayout::Nhwc] {
            let mut y = vec![f32::NAN; c * ho * wo];
            pool.run(&x, layout, 1, c, h, w, &mut y).unwrap();
            assert!(y.iter().all(|v| v.is_finite()), "{kind:?} {layout:?}");
        }
    }
}

/// The packed GEMM around its tile (4 or 6 rows, `GEMM_MR`, by 8 columns): every remainder of
/// M (the 1-row GEMV, partial tiles of 2 or more rows, one or two whole tiles before them), of
/// N (partial panels) and of K, with bias and residual epilogues and C exactly `m x n`; exact
/// on small integers.
#[wasm_bindgen_test(unsupported = test)]
fn gemm_tiles_at_the_end_of_every_buffer() {
    let mut rng = Rng::new(23);
    for m in [1, 2, 3, 4, 5, 6, 7, 9, 11, 13] {
        for n in [1, 7, 8, 9, 33] {
            for k in [1, 3, 5] {
                let a: Vec<f32> = (0..m * k).map(|_| rng.int(-3, 3) as f32).collect();
                let b: Vec<f32> = (0..k * n).map(|_| rng.int(-3, 3) as f32).collect();
                let bias: Vec<f32> = (0..n).map(|_| rng.int(-3, 3) as f32).collect();
                let res: Vec<f32> = (0..m * n).map(|_| rng.int(-3, 3) as f32).collect();
                let packed = PackedB::from_row_major(&b, k, n).unwrap();
                let res_view = MatRef::row_major(&res, m, n).unwrap();
                let ops = [
                    EpilogueOp::AddColBias(&bias),
                    EpilogueOp::AddMatrix(res_view),
                ];
                let mut c = vec![f32::NAN; m * n];
                let (av, cv) = (
                    MatRef::row_major(&a, m, k).unwrap(),
                    MatMut::row_major(&mut c, m, n).unwrap(),
                );
                gemm_packed(1.0, av, &packed, 0.0, cv, &ops).unwrap();
                for i in 0..m {
                    for j in 0..n {
                        let dot: f32 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                        let want = dot + bias[j] + res[i * n + j];
                        assert_eq!(c[i * n + j], want, "{m}x{k}x{n} at ({i}, {j})");
                    }
                }
            }
        }
    }
}

/// Row kernels with every vector tail (1..=9 columns, and 17): softmax, log-softmax, LayerNorm,
/// RMSNorm, against f64.
#[wasm_bindgen_test(unsupported = test)]
fn row_kernels_with_every_tail() {
    let mut rng = Rng::new(24);
    for cols in (1..=9).chain([17]) {
        let rows = 2;
        let x: Vec<f32> = (0..rows * cols).map(|_| 4.0 * rng.unit()).collect();
        let gamma: Vec<f32> = (0..cols).map(|_| 1.0 + rng.unit()).collect();
        let beta: Vec<f32> = (0..cols).map(|_| rng.unit()).collect();
        let mut y = vec![f32::NAN; rows * cols];
        let close = |got: &[f32], want: &[f64], what: &str| {
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                    "{what} cols {cols}"
                );
            }
        };
        for row in x.chunks(cols) {
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
            let want_soft: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp() / sum).collect();
            let want_log: Vec<f64> = row.iter().map(|&v| v as f64 - max - sum.ln()).collect();
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / cols as f64;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / cols as f64;
            let ms = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / cols as f64;
            let want_ln: Vec<f64> = (0..cols)
                .map(|j| {
                    (row[j] as f64 - mean) / (var + 1e-5).sqrt() * gamma[j] as f64 + beta[j] as f64
                })
                .collect();
            let want_rms: Vec<f64> = (0..cols)
                .map(|j| row[j] as f64 / (ms + 1e-5).sqrt() * gamma[j] as f64)
                .collect();
            let mut out = vec![f32::NAN; cols];
            softmax(row, &mut out, cols).unwrap();
            close(&out, &want_soft, "softmax");
            log_softmax(row, &mut out, cols).unwrap();
            close(&out, &want_log, "log_softmax");
            layer_norm(row, &mut out, &gamma, Some(&beta), 1e-5).unwrap();
            close(&out, &want_ln, "layer_norm");
            rms_norm(row, &mut out, &gamma, 1e-5).unwrap();
            close(&out, &want_rms, "rms_norm");
        }
        // The whole buffer at once too: the last row's tail is the buffer's end.
        softmax(&x, &mut y, cols).unwrap();
        let total: f32 = y.iter().sum();
        assert!(
            (total - rows as f32).abs() < 1e-5,
            "softmax rows sum to 1, cols {cols}"
        );
    }
}

/// Elementwise kernels with every vector tail, broadcasting a row and a column.
#[wasm_bindgen_test(unsupported = test)]
fn elementwise_with_every_tail() {
    for cols in 1..=9 {
        let rows = 3;
        let a: Vec<f32> = (0..rows * cols).map(|i| i as f32 - 4.0).collect();
        let row: Vec<f32> = (0..cols).map(|j| j as f32 + 1.0).collect();
        let col: Vec<f32> = (0..rows).map(|i| 2.0 * i as f32).collect();
        let mut y = vec![f32::NAN; rows * cols];
        binary(BinaryOp::Mul, &a, &[rows, cols], &row, &[cols], &mut y).unwrap();
        for (i, v) in y.iter().enumerate() {
            assert_eq!(*v, a[i] * row[i % cols], "mul row, cols {cols}");
        }
        binary(BinaryOp::Sub, &a, &[rows, cols], &col, &[rows, 1], &mut y).unwrap();
        for (i, v) in y.iter().enumerate() {
            assert_eq!(*v, a[i] - col[i / cols], "sub column, cols {cols}");
        }
        unary(UnaryOp::Abs, &a, &mut y).unwrap();
        for (i, v) in y.iter().enumerate() {
            assert_eq!(*v, a[i].abs(), "abs, cols {cols}");
        }
    }
}

/// Attention with head, sequence and value widths that are not multiples of 4, causal and not.
#[wasm_bindgen_test(unsupported = test)]
fn attention_with_odd_widths() {
    let mut rng = Rng::new(25);
    let s = AttentionShape {
        heads: 2,
        seq_q: 3,
        seq_k: 5,
        head_dim: 5,
        value_dim: 7,
    };
    let q: Vec<f32> = (0..s.heads * s.seq_q * s.head_dim)
        .map(|_| rng.unit())
        .collect();
    let k: Vec<f32> = (0..s.heads * s.seq_k * s.head_dim)
        .map(|_| rng.unit())
        .collect();
    let v: Vec<f32> = (0..s.heads * s.seq_k * s.value_dim)
        .map(|_| rng.unit())
        .collect();
    for causal in [false, true] {
        let opts = AttentionOptions {
            scale: 0.5,
            mask: None,
            causal,
        };
        let mut out = vec![f32::NAN; s.heads * s.seq_q * s.value_dim];
        attention(
            &q,
            &k,
            &v,
            &mut out,
            s,
            &opts,
            &mut AttentionScratch::default(),
        )
        .unwrap();
        for h in 0..s.heads {
            for i in 0..s.seq_q {
                // Causal with seq_k > seq_q: query i sees keys up to i + (seq_k - seq_q).
                let keys = if causal {
                    i + 1 + s.seq_k - s.seq_q
                } else {
                    s.seq_k
                };
                let score = |j: usize| {
                    (0..s.head_dim)
                        .map(|d| {
                            q[(h * s.seq_q + i) * s.head_dim + d] as f64
                                * k[(h * s.seq_k + j) * s.head_dim + d] as f64
                        })
                        .sum::<f64>()
                        * 0.5
                };
                let scores: Vec<f64> = (0..keys).map(score).collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = scores.iter().map(|x| (x - max).exp()).sum();
                for e in 0..s.value_dim {
                    let want: f64 = (0..keys)
                        .map(|j| {
                            (scores[j] - max).exp() / sum
                                * v[(h * s.seq_k + j) * s.value_dim + e] as f64
                        })
                        .sum();
                    let got = out[(h * s.seq_q + i) * s.value_dim + e] as f64;
                    assert!(
                        (got - want).abs() < 1e-5,
                        "causal {causal} head {h} row {i} col {e}"
                    );
                }
            }
        }
    }
}
