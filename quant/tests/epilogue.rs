//! The fused epilogues against scalar references written from the documented formulas:
//! dequantize to f32 (+ bias + activation) and requantize to u8 / i8 (+ i32 bias), bit-exact,
//! for per-tensor and per-row A scales, per-column B scales, partial tiles and column groups,
//! strided outputs, both kernels and the GEMV.
#![allow(clippy::needless_range_loop)] // (i, j) loops mirror the formulas
mod common;

use common::{dequant_ref, reference_i32, requant_ref, Layout, Rng, Strided};
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::Activation;
use wasmnn_quant::{qgemm_with, KernelChoice, PackedQB, QGemmOptions, QOutput, QuantParams, Q8};

const ACTS: [Activation; 4] = [
    Activation::Identity,
    Activation::Relu,
    Activation::GeluErf,
    Activation::Clamp {
        min: -0.5,
        max: 0.75,
    },
];

struct Setup {
    a: Strided<u8>,
    za: Vec<i32>,
    sa: Vec<f32>,
    b: Strided<i8>,
    zb: Vec<i32>,
    sb: Vec<f32>,
    acc: Vec<i32>,
}

/// Random A (u8) and B (i8) with per-row / per-column parameters (or per tensor), and the
/// exact integer products.
fn setup(m: usize, n: usize, k: usize, per_row: bool, rng: &mut Rng) -> Setup {
    let a = Strided::new(m, k, Layout::RowMajor, 0u8, |_, _| rng.q::<u8>());
    let b = Strided::new(k, n, Layout::ColMajor, 0i8, |_, _| rng.q::<i8>());
    let rows = if per_row { m } else { 1 };
    let za: Vec<i32> = (0..rows).map(|_| rng.int(0, 255) as i32).collect();
    let sa: Vec<f32> = (0..rows).map(|_| 0.001 + rng.unit().abs() * 0.02).collect();
    let zb: Vec<i32> = (0..n).map(|_| rng.int(-20, 20) as i32).collect();
    let sb: Vec<f32> = (0..n).map(|_| 0.001 + rng.unit().abs() * 0.05).collect();
    let acc = reference_i32(&a, &|i| za[if per_row { i } else { 0 }], &b, &|j| zb[j]);
    Setup {
        a,
        za,
        sa,
        b,
        zb,
        sb,
        acc,
    }
}

fn a_params(s: &Setup) -> QuantParams<'_> {
    if s.za.len() == 1 {
        QuantParams::PerTensor {
            scale: s.sa[0],
            zero_point: s.za[0],
        }
    } else {
        QuantParams::PerChannel {
            scales: &s.sa,
            zero_points: &s.za,
        }
    }
}

fn sa_of(s: &Setup, i: usize) -> f32 {
    s.sa[if s.sa.len() == 1 { 0 } else { i }]
}

#[wasm_bindgen_test(unsupported = test)]
fn dequantize_bias_activation_bit_exact() {
    let mut rng = Rng::new(21);
    let mut idx = 0;
    // n around the 4-column tile and the 4-tile (16-column) store groups.
    for (m, n, k) in [
        (1, 21, 13),
        (2, 4, 8),
        (3, 15, 40),
        (5, 16, 33),
        (7, 17, 9),
        (12, 33, 70),
    ] {
        for per_row in [false, true] {
            for act in ACTS {
                for bias_on in [false, true] {
                    for kernel in [KernelChoice::Baseline, KernelChoice::Relaxed] {
                        idx += 1;
                        let s = setup(m, n, k, per_row, &mut rng);
                        let bias: Vec<f32> = (0..n).map(|_| rng.unit()).collect();
                        let packed = PackedQB::new(
                            s.b.view(),
                            QuantParams::PerChannel {
                                scales: &s.sb,
                                zero_points: &s.zb,
                            },
                        )
                        .unwrap();
                        let lc =
                            [Layout::RowMajor, Layout::ColMajor, Layout::PaddedRows(5)][idx % 3];
                        let mut out = Strided::new(m, n, lc, -9.0f32, |_, _| f32::NAN);
                        let pad = out.padding();
                        qgemm_with(
                            s.a.view(),
                            a_params(&s),
                            &packed,
                            QOutput::F32 {
                                c: out.view_mut(),
                                bias: bias_on.then_some(&bias[..]),
                                activation: act,
                            },
                            QGemmOptions { kernel, mc: 4 },
                        )
                        .unwrap();
                        for i in 0..m {
                            for j in 0..n {
                                let want = dequant_ref(
                                    s.acc[i * n + j],
                                    sa_of(&s, i),
                                    s.sb[j],
                                    bias_on.then_some(bias[j]),
                                    act,
                                );
                                let got = out.at(i, j);
                                assert!(
                                    got.to_bits() == want.to_bits(),
                                    "m={m} n={n} k={k} per_row={per_row} {act:?} bias={bias_on} \
                                     {kernel:?} ({i},{j}): {got} != {want}"
                                );
                            }
                        }
                        assert_eq!(out.padding().len(), pad.len());
                        assert!(out.padding().iter().all(|(_, v)| *v == -9.0));
                    }
                }
            }
        }
    }
}

/// The requantized output of element type `Self`.
trait OutKind: Q8 {
    fn output<'a>(
        c: wasmnn_quant::QMatMut<'a, Self>,
        bias: Option<&'a [i32]>,
        scale: f32,
        zero_point: i32,
    ) -> QOutput<'a>;
}
impl OutKind for u8 {
    fn output<'a>(
        c: wasmnn_quant::QMatMut<'a, u8>,
        bias: Option<&'a [i32]>,
        scale: f32,
        zero_point: i32,
    ) -> QOutput<'a> {
        QOutput::U8 {
            c,
            bias,
            scale,
            zero_point,
        }
    }
}
impl OutKind for i8 {
    fn output<'a>(
        c: wasmnn_quant::QMatMut<'a, i8>,
        bias: Option<&'a [i32]>,
        scale: f32,
        zero_point: i32,
    ) -> QOutput<'a> {
        QOutput::I8 {
            c,
            bias,
            scale,
            zero_point,
        }
    }
}

fn requant_case<Y: OutKind>(rng: &mut Rng, out_zp: i32) {
    for (m, n, k) in [(1, 9, 31), (2, 4, 8), (4, 18, 50), (9, 7, 3)] {
        for per_row in [false, true] {
            for bias_on in [false, true] {
                for kernel in [KernelChoice::Baseline, KernelChoice::Relaxed] {
                    let s = setup(m, n, k, per_row, rng);
                    let bias: Vec<i32> = (0..n).map(|_| rng.int(-3000, 3000) as i32).collect();
                    let packed = PackedQB::new(
                        s.b.view(),
                        QuantParams::PerChannel {
                            scales: &s.sb,
                            zero_points: &s.zb,
                        },
                    )
                    .unwrap();
                    // An output scale that keeps typical values inside the range; the largest
                    // saturate.
                    let max_acc = s.acc.iter().map(|v| v.unsigned_abs()).max().unwrap_or(1) as f32;
                    let y_scale = (max_acc * 0.02 * 0.05 / 300.0).max(1e-6);
                    let mut out =
                        Strided::new(m, n, Layout::PaddedRows(2), Y::saturate(7), |_, _| {
                            Y::default()
                        });
                    let pad = out.padding();
                    let q = Y::output(
                        out.view_mut(),
                        bias_on.then_some(&bias[..]),
                        y_scale,
                        out_zp,
                    );
                    qgemm_with(
                        s.a.view(),
                        a_params(&s),
                        &packed,
                        q,
                        QGemmOptions { kernel, mc: 0 },
                    )
                    .unwrap();
                    let mut inside = 0;
                    for i in 0..m {
                        for j in 0..n {
                            let b = if bias_on { bias[j] } else { 0 };
                            let want: Y = requant_ref(
                                s.acc[i * n + j],
                                b,
                                sa_of(&s, i),
                                s.sb[j],
                                y_scale,
                                out_zp,
                            );
                            assert_eq!(
                                out.at(i, j),
                                want,
                                "m={m} n={n} k={k} {kernel:?} ({i},{j})"
                            );
                            inside +=
                                (want.to_i32() > Y::MIN_Q && want.to_i32() < Y::MAX_Q) as usize;
                        }
                    }
                    assert!(inside > 0 || m * n < 8, "every value saturated: weak test");
                    assert_eq!(out.padding(), pad, "padding written");
                }
            }
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn requantize_bit_exact() {
    let mut rng = Rng::new(22);
    requant_case::<u8>(&mut rng, 131);
    requant_case::<i8>(&mut rng, -5);
}
