//! After one warm-up call, every kernel entry point with a caller-kept workspace makes zero heap
//! allocations: f32 GEMM (B packed per call or pre-packed, every epilogue), `Linear`, conv
//! (1x1, k x k by im2col, grouped, depthwise; NCHW and NHWC), attention, the fused
//! LayerNorm + MatMul + Add, the int8 GEMM (i32, f32 and requantized outputs; GEMV and tiled;
//! both kernel families; quantized and f32 A), `QLinear` and the int8 convolution. The int8
//! GEMM with its scratch carved from an arena allocates nothing even on its first call.
//!
//! Each check also compares the result of the reused workspace with a fresh call (same bits):
//! a scratch holding stale data from a larger problem must not change anything.
//!
//! Threads: the kernels' `*_par` entry points run here with a "parallel for" that runs the
//! tasks one after the other on this thread, with 4 "threads" (so they take the multi-task
//! path: several tasks, one scratch slot per thread), and the counting sees all of our code.
//! On a real rayon pool the tasks run on worker threads this thread-local counter does not
//! see, and rayon's own job bookkeeping (injector blocks, latches) may allocate, which is not
//! our code; so the facade's `parallel::*` functions are counted in the default build, where
//! they run on the calling thread.
//!
//! Native only: the global allocator of a wasm test binary belongs to the wasm-bindgen runtime.
#![cfg(not(target_arch = "wasm32"))]
mod counting_alloc;

use counting_alloc::count;
use wasmnn::kernels::attention::{
    attention, AttentionMask, AttentionOptions, AttentionScratch, AttentionShape,
};
use wasmnn::kernels::conv::{Conv2d, Conv2dParams, ConvEpilogue, TensorLayout};
use wasmnn::kernels::{gemm_packed_par, ParallelFor};
use wasmnn::quant::conv::{conv2d_nhwc, conv2d_nhwc_scratch, ConvGeometry};
use wasmnn::quant::{
    qgemm_dynamic_par_scratch, qgemm_dynamic_scratch, qgemm_in, qgemm_par_scratch, qgemm_scratch,
    qgemm_with, KernelChoice, QGemmOptions,
};
use wasmnn::{
    gemm, gemm_packed, gemm_packed_with, gemm_scratch, layer_norm_matmul_add, parallel, Activation,
    Blocking, DynamicQuant, EpilogueOp, FusedScratch, GemmScratch, LayerNormParams, Linear, MatMut,
    MatRef, PackedB, PackedQB, QLinear, QMatMut, QMatRef, QOutput, QScratch, QuantParams,
};
use wasmnn_arena::Arena;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// Runs `call` once (the warm-up sizes its workspace), then asserts that a second call makes no
/// heap allocation.
fn steady(what: &str, mut call: impl FnMut()) {
    call();
    let ((), n) = count(&mut call);
    assert_eq!(n, 0, "{what}: {n} heap allocations after the warm-up call");
}

/// [`steady`] for the facade's `parallel::*` entry points. With feature `threads` they run on
/// rayon's pool: the tasks run on worker threads (not counted here) and handing the job to the
/// pool may allocate on this thread (rayon's injector queue grows by a block every 63 jobs),
/// which is not our code; so there they are only run (results still compared), not counted.
/// Our code inside them is counted through the kernels' `*_par` entry points with [`SEQ`].
fn steady_facade(what: &str, call: impl FnMut()) {
    if cfg!(feature = "threads") {
        let mut call = call;
        call();
        call();
    } else {
        steady(what, call);
    }
}

/// Runs the tasks one after the other on this thread (see the module docs).
fn sequential(count: usize, task: &(dyn Fn(usize) + Sync)) {
    (0..count).for_each(task);
}
const SEQ: ParallelFor<'static> = &sequential;

/// Deterministic values in [-1, 1) (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.next()).collect()
    }
    fn bytes<T>(&mut self, len: usize, f: impl Fn(u8) -> T) -> Vec<T> {
        (0..len)
            .map(|_| f(((self.next() + 1.0) * 127.9) as u8))
            .collect()
    }
}

/// Dequantized f32 output without bias or activation.
fn f32_out(c: QMatMut<'_, f32>) -> QOutput<'_> {
    QOutput::F32 {
        c,
        bias: None,
        activation: Activation::Identity,
    }
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn f32_gemm_packs_b_into_its_scratch() {
    let mut rng = Rng(1);
    let (m, k, n) = (37, 70, 45);
    let (a, b) = (rng.vec(m * k), rng.vec(k * n));
    let mut expected = vec![0.0; m * n];
    gemm(
        1.5,
        MatRef::row_major(&a, m, k).unwrap(),
        MatRef::row_major(&b, k, n).unwrap(),
        0.0,
        MatMut::row_major(&mut expected, m, n).unwrap(),
    )
    .unwrap();
    let mut scratch = GemmScratch::new();
    // Warm up on a larger B: the smaller one must reuse (and ignore the rest of) the buffer.
    let (a_big, b_big) = (rng.vec(m * (k + 9)), rng.vec((k + 9) * (n + 17)));
    let mut c_big = vec![0.0; m * (n + 17)];
    gemm_scratch(
        1.0,
        MatRef::row_major(&a_big, m, k + 9).unwrap(),
        MatRef::row_major(&b_big, k + 9, n + 17).unwrap(),
        0.0,
        MatMut::row_major(&mut c_big, m, n + 17).unwrap(),
        &mut scratch,
    )
    .unwrap();
    let mut c = vec![0.0; m * n];
    steady("gemm_scratch", || {
        gemm_scratch(
            1.5,
            MatRef::row_major(&a, m, k).unwrap(),
            MatRef::row_major(&b, k, n).unwrap(),
            0.0,
            MatMut::row_major(&mut c, m, n).unwrap(),
            &mut scratch,
        )
        .unwrap()
    });
    assert!(same_bits(&c, &expected));
}

#[test]
fn f32_gemm_packed_with_every_epilogue() {
    let mut rng = Rng(2);
    for (m, k, n) in [(1, 64, 40), (13, 33, 27), (64, 96, 72), (128, 128, 96)] {
        let (a, bias, scale, rows) = (rng.vec(m * k), rng.vec(n), rng.vec(n), rng.vec(m));
        let res = rng.vec(m * n);
        let b = PackedB::from_row_major(&rng.vec(k * n), k, n).unwrap();
        let residual = MatRef::row_major(&res, m, n).unwrap();
        let acts = [
            Activation::Relu,
            Activation::Clamp {
                min: -0.5,
                max: 0.5,
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
            Activation::HardSwish,
        ];
        let mut c = rng.vec(m * n);
        for act in acts {
            let ops = [
                EpilogueOp::AddColBias(&bias),
                EpilogueOp::MulColScale(&scale),
                EpilogueOp::AddRowBias(&rows),
                EpilogueOp::Activation(act),
                EpilogueOp::AddMatrix(residual),
            ];
            let a = MatRef::row_major(&a, m, k).unwrap();
            steady("gemm_packed", || {
                let c = MatMut::row_major(&mut c, m, n).unwrap();
                gemm_packed(0.5, a, &b, 0.25, c, &ops).unwrap()
            });
            let blocking = Blocking { mc: 8, nc: 16 };
            steady("gemm_packed_with", || {
                let c = MatMut::row_major(&mut c, m, n).unwrap();
                gemm_packed_with(1.0, a, &b, 0.0, c, &ops, blocking).unwrap()
            });
            steady("gemm_packed_par", || {
                let c = MatMut::row_major(&mut c, m, n).unwrap();
                gemm_packed_par(1.0, a, &b, 0.0, c, &ops, 4, SEQ).unwrap()
            });
            steady_facade("parallel::gemm_packed", || {
                let c = MatMut::row_major(&mut c, m, n).unwrap();
                parallel::gemm_packed(1.0, a, &b, 0.0, c, &ops).unwrap()
            });
        }
    }
}

#[test]
fn linear_layer() {
    let mut rng = Rng(3);
    // Below the threads' size threshold: one task on this thread even with feature `threads`.
    let (rows, k, n) = (9, 48, 40);
    let layer = Linear::new(
        &rng.vec(k * n),
        k,
        n,
        Some(&rng.vec(n)),
        Activation::GeluErf,
    )
    .unwrap();
    let (x, res) = (rng.vec(rows * k), rng.vec(rows * n));
    let mut y = vec![0.0; rows * n];
    steady("Linear::forward", || {
        layer.forward(&x, rows, &mut y).unwrap()
    });
    steady("Linear::forward_residual", || {
        layer.forward_residual(&x, rows, &res, &mut y).unwrap()
    });
}

/// Every conv method in both layouts, single-threaded and split into tasks.
#[test]
fn conv_every_method_and_layout() {
    let mut rng = Rng(4);
    // (c_in, c_out, kernel, stride, pad, groups): 1x1, k x k (3x3 stride 1 with 8 or more
    // channels: Winograd in NCHW, im2col in NHWC), strided, grouped, depthwise.
    // The large cases are above the size threshold, so `*_par` really cuts them into tasks.
    let (small, large) = ((2, 23, 19), (1, 48, 44));
    let cases = [
        (16, 24, 1, 1, 0, 1, small),
        (64, 64, 1, 1, 0, 1, large),
        (8, 16, 3, 1, 1, 1, small),
        (32, 32, 3, 1, 1, 1, large),
        (6, 12, 5, 2, 2, 1, small),
        (8, 8, 3, 1, 1, 2, small),
        (32, 32, 3, 1, 1, 2, large),
        (12, 12, 3, 1, 1, 12, small),
        (12, 12, 3, 2, 1, 12, small),
        (64, 64, 3, 1, 1, 64, large),
    ];
    for (c_in, c_out, kk, s, p, g, (batch, h, w)) in cases {
        let params = Conv2dParams::new(kk, kk)
            .stride(s, s)
            .padding(p, p, p, p)
            .groups(g);
        let conv = Conv2d::new(&rng.vec(c_out * c_in / g * kk * kk), c_out, c_in, params).unwrap();
        let (ho, wo) = params.output_size(h, w).unwrap();
        let x = rng.vec(batch * c_in * h * w);
        let (bias, res) = (rng.vec(c_out), rng.vec(batch * c_out * ho * wo));
        let epi = ConvEpilogue {
            bias: Some(&bias),
            activation: Activation::Relu,
            residual: Some(&res),
        };
        for layout in [TensorLayout::Nchw, TensorLayout::Nhwc] {
            let what = format!("conv {c_in}->{c_out} k{kk} s{s} g{g} {layout:?}");
            let mut expected = vec![0.0; batch * c_out * ho * wo];
            conv.run(&x, layout, batch, h, w, &mut expected, &epi)
                .unwrap();
            let mut y = vec![0.0; expected.len()];
            steady(&what, || {
                conv.run(&x, layout, batch, h, w, &mut y, &epi).unwrap()
            });
            assert!(same_bits(&y, &expected), "{what}");
            steady(&what, || {
                conv.run_par(&x, layout, batch, h, w, &mut y, &epi, 4, SEQ)
                    .unwrap()
            });
            assert!(same_bits(&y, &expected), "{what} (4 tasks)");
            steady_facade(&what, || {
                parallel::conv2d(&conv, &x, layout, batch, h, w, &mut y, &epi).unwrap()
            });
            assert!(same_bits(&y, &expected), "{what} (parallel::conv2d)");
        }
    }
}

#[test]
fn attention_with_mask_and_causal() {
    let mut rng = Rng(5);
    let shape = AttentionShape {
        heads: 3,
        seq_q: 70,
        seq_k: 90,
        head_dim: 16,
        value_dim: 24,
    };
    let q = rng.vec(shape.heads * shape.seq_q * shape.head_dim);
    let k = rng.vec(shape.heads * shape.seq_k * shape.head_dim);
    let v = rng.vec(shape.heads * shape.seq_k * shape.value_dim);
    let mask = rng.vec(shape.seq_k);
    let mut out = vec![0.0; shape.heads * shape.seq_q * shape.value_dim];
    let mut scratch = AttentionScratch::default();
    for (mask, causal) in [(None, false), (Some(&mask[..]), true)] {
        let opts = AttentionOptions {
            scale: 0.25,
            mask: mask.map(|data| AttentionMask {
                data,
                head_stride: 0,
                row_stride: 0,
            }),
            causal,
        };
        steady("attention", || {
            attention(&q, &k, &v, &mut out, shape, &opts, &mut scratch).unwrap()
        });
    }
}

#[test]
fn fused_layer_norm_matmul_add() {
    let mut rng = Rng(6);
    let (m, k, n) = (150, 40, 24); // two row blocks
    let (x, gamma, beta) = (rng.vec(m * k), rng.vec(k), rng.vec(k));
    let (bias, res) = (rng.vec(n), rng.vec(m * n));
    let w = PackedB::from_row_major(&rng.vec(k * n), k, n).unwrap();
    let mut y = vec![0.0; m * n];
    let mut scratch = FusedScratch::new();
    steady("layer_norm_matmul_add", || {
        layer_norm_matmul_add(
            MatRef::row_major(&x, m, k).unwrap(),
            LayerNormParams {
                gamma: &gamma,
                beta: Some(&beta),
                eps: 1e-5,
            },
            &w,
            Some(&bias),
            Some(MatRef::row_major(&res, m, n).unwrap()),
            MatMut::row_major(&mut y, m, n).unwrap(),
            &mut scratch,
        )
        .unwrap()
    });
}

/// Packed int8 weights `k x n`, per-column scales, asymmetric u8 when `zp` (else symmetric i8).
fn int8_weights(rng: &mut Rng, k: usize, n: usize, zp: bool) -> PackedQB {
    let scales: Vec<f32> = (0..n).map(|j| 0.01 + j as f32 * 1e-3).collect();
    if zp {
        let zps: Vec<i32> = (0..n).map(|j| 120 + (j % 9) as i32).collect();
        let w = rng.bytes(k * n, |b| b);
        let params = QuantParams::PerChannel {
            scales: &scales,
            zero_points: &zps,
        };
        PackedQB::from_row_major(&w, k, n, params).unwrap()
    } else {
        let w = rng.bytes(k * n, |b| b as i8);
        let params = QuantParams::PerChannel {
            scales: &scales,
            zero_points: &[],
        };
        PackedQB::from_row_major(&w, k, n, params).unwrap()
    }
}

#[test]
fn int8_gemm_every_output_and_kernel() {
    let mut rng = Rng(7);
    let kernels = [
        KernelChoice::Auto,
        KernelChoice::Baseline,
        KernelChoice::Relaxed,
    ];
    let mut scratch = QScratch::new();
    // Warm the scratch on the largest problem first: the later ones reuse its buffers.
    for (m, k, n) in [(70, 300, 50), (1, 77, 33), (2, 16, 8), (33, 130, 41)] {
        for zp in [false, true] {
            let b = int8_weights(&mut rng, k, n, zp);
            let a_u8 = rng.bytes(m * k, |v| v);
            let a_i8 = rng.bytes(m * k, |v| v as i8);
            let (pa, pi) = (
                QuantParams::PerTensor {
                    scale: 0.02,
                    zero_point: 131,
                },
                QuantParams::PerTensor {
                    scale: 0.02,
                    zero_point: -3,
                },
            );
            let bias: Vec<f32> = rng.vec(n);
            let ibias: Vec<i32> = (0..n as i32).map(|j| j * 7 - 50).collect();
            for kernel in kernels {
                let opts = QGemmOptions { kernel, mc: 0 };
                let what = format!("qgemm {m}x{k}x{n} zp={zp} {kernel:?}");
                let a = QMatRef::row_major(&a_u8, m, k).unwrap();
                let mut expected = vec![0i32; m * n];
                let out = QOutput::I32(QMatMut::row_major(&mut expected, m, n).unwrap());
                qgemm_with(a, pa, &b, out, opts).unwrap();
                let mut c = vec![0i32; m * n];
                steady(&what, || {
                    let out = QOutput::I32(QMatMut::row_major(&mut c, m, n).unwrap());
                    qgemm_scratch(a, pa, &b, out, opts, &mut scratch).unwrap()
                });
                assert_eq!(c, expected, "{what}");
                let ai = QMatRef::row_major(&a_i8, m, k).unwrap();
                steady(&what, || {
                    let out = QOutput::I32(QMatMut::row_major(&mut c, m, n).unwrap());
                    qgemm_scratch(ai, pi, &b, out, opts, &mut scratch).unwrap()
                });
                let mut y = vec![0.0f32; m * n];
                steady(&what, || {
                    let c = QMatMut::row_major(&mut y, m, n).unwrap();
                    let out = QOutput::F32 {
                        c,
                        bias: Some(&bias),
                        activation: Activation::Silu,
                    };
                    qgemm_scratch(a, pa, &b, out, opts, &mut scratch).unwrap()
                });
                let mut q = vec![0u8; m * n];
                steady(&what, || {
                    let c = QMatMut::row_major(&mut q, m, n).unwrap();
                    let out = QOutput::U8 {
                        c,
                        bias: Some(&ibias),
                        scale: 0.05,
                        zero_point: 128,
                    };
                    qgemm_scratch(a, pa, &b, out, opts, &mut scratch).unwrap()
                });
                let mut q = vec![0i8; m * n];
                steady(&what, || {
                    let c = QMatMut::row_major(&mut q, m, n).unwrap();
                    let out = QOutput::I8 {
                        c,
                        bias: None,
                        scale: 0.05,
                        zero_point: 0,
                    };
                    qgemm_scratch(ai, pi, &b, out, opts, &mut scratch).unwrap()
                });
            }
            // Threads: 4 tasks with their own scratch slots, and the facade's entry point.
            let a = QMatRef::row_major(&a_u8, m, k).unwrap();
            let mut expected = vec![0i32; m * n];
            let out = QOutput::I32(QMatMut::row_major(&mut expected, m, n).unwrap());
            qgemm_with(a, pa, &b, out, QGemmOptions::default()).unwrap();
            let mut c = vec![0i32; m * n];
            steady("qgemm_par_scratch", || {
                let out = QOutput::I32(QMatMut::row_major(&mut c, m, n).unwrap());
                qgemm_par_scratch(a, pa, &b, out, 4, SEQ, &mut scratch).unwrap()
            });
            assert_eq!(c, expected, "qgemm_par_scratch {m}x{k}x{n}");
            steady_facade("parallel::qgemm_scratch", || {
                let out = QOutput::I32(QMatMut::row_major(&mut c, m, n).unwrap());
                parallel::qgemm_scratch(a, pa, &b, out, &mut scratch).unwrap()
            });
            assert_eq!(c, expected, "parallel::qgemm_scratch {m}x{k}x{n}");
        }
    }
}

/// The arena path allocates nothing at all, not even on the first call.
#[test]
fn int8_gemm_from_the_arena() {
    let mut rng = Rng(8);
    let mut arena = Arena::with_capacity(4 << 20).unwrap();
    for (m, k, n) in [(1, 200, 40), (70, 300, 50)] {
        let b = int8_weights(&mut rng, k, n, true);
        let a_u8 = rng.bytes(m * k, |v| v);
        let p = QuantParams::PerTensor {
            scale: 0.02,
            zero_point: 131,
        };
        let a = QMatRef::row_major(&a_u8, m, k).unwrap();
        for kernel in [KernelChoice::Baseline, KernelChoice::Relaxed] {
            let opts = QGemmOptions { kernel, mc: 0 };
            let mut expected = vec![0i32; m * n];
            let out = QOutput::I32(QMatMut::row_major(&mut expected, m, n).unwrap());
            qgemm_with(a, p, &b, out, opts).unwrap();
            let mut c = vec![0i32; m * n];
            let ((), allocations) = count(|| {
                let scope = arena.scope();
                let out = QOutput::I32(QMatMut::row_major(&mut c, m, n).unwrap());
                qgemm_in(&scope, a, p, &b, out, opts).unwrap();
            });
            assert_eq!(allocations, 0, "qgemm_in {m}x{k}x{n} {kernel:?}");
            assert_eq!(c, expected, "qgemm_in {m}x{k}x{n} {kernel:?}");
            assert_eq!(arena.used(), 0); // the scope gave the scratch back
        }
    }
    // Too small an arena: a typed error, the output untouched.
    let mut small = Arena::with_capacity(256).unwrap();
    let b = int8_weights(&mut rng, 300, 50, false);
    let a_u8 = rng.bytes(8 * 300, |v| v);
    let mut c = vec![7i32; 8 * 50];
    let out = QOutput::I32(QMatMut::row_major(&mut c, 8, 50).unwrap());
    let a = QMatRef::row_major(&a_u8, 8, 300).unwrap();
    let opts = QGemmOptions {
        kernel: KernelChoice::Baseline,
        mc: 0,
    };
    let err = qgemm_in(&small.scope(), a, QuantParams::IDENTITY, &b, out, opts);
    assert!(
        matches!(err, Err(wasmnn::Error::BufferTooSmall { .. })),
        "{err:?}"
    );
    assert!(c.iter().all(|&v| v == 7));
}

#[test]
fn int8_dynamic_gemm_and_qlinear() {
    let mut rng = Rng(9);
    let mut scratch = QScratch::new();
    for (m, k, n) in [(40, 200, 64), (1, 96, 40), (7, 33, 20)] {
        let b = int8_weights(&mut rng, k, n, false);
        let x = rng.vec(m * k);
        // A strided view of the same rows (column stride 2) too: its rows are copied.
        let x2: Vec<f32> = x.iter().flat_map(|&v| [v, f32::NAN]).collect();
        let views = [
            MatRef::row_major(&x, m, k).unwrap(),
            MatRef::new(&x2, m, k, 2 * k, 2).unwrap(),
        ];
        for (a, quant) in views
            .into_iter()
            .flat_map(|a| [(a, DynamicQuant::PerTensor), (a, DynamicQuant::PerRow)])
        {
            let what = format!("qgemm_dynamic {m}x{k}x{n} {quant:?} cs={}", a.col_stride());

            let mut expected = vec![0.0f32; m * n];
            wasmnn::qgemm_dynamic(
                a,
                quant,
                &b,
                f32_out(QMatMut::row_major(&mut expected, m, n).unwrap()),
            )
            .unwrap();
            let mut y = vec![0.0f32; m * n];
            steady(&what, || {
                let c = QMatMut::row_major(&mut y, m, n).unwrap();
                qgemm_dynamic_scratch(
                    a,
                    quant,
                    &b,
                    f32_out(c),
                    QGemmOptions::default(),
                    &mut scratch,
                )
                .unwrap()
            });
            assert!(same_bits(&y, &expected), "{what}");
            steady(&what, || {
                let c = QMatMut::row_major(&mut y, m, n).unwrap();
                qgemm_dynamic_par_scratch(a, quant, &b, f32_out(c), 4, SEQ, &mut scratch).unwrap()
            });
            assert!(same_bits(&y, &expected), "{what} (4 tasks)");
            steady_facade(&what, || {
                let c = QMatMut::row_major(&mut y, m, n).unwrap();
                parallel::qgemm_dynamic_scratch(a, quant, &b, f32_out(c), &mut scratch).unwrap()
            });
            assert!(same_bits(&y, &expected), "{what} (parallel)");
        }
        let layer =
            QLinear::new(&rng.vec(k * n), k, n, Some(&rng.vec(n)), Activation::Relu).unwrap();
        let mut expected = vec![0.0f32; m * n];
        layer.forward(&x, m, &mut expected).unwrap();
        let mut y = vec![0.0f32; m * n];
        steady("QLinear::forward_scratch", || {
            layer.forward_scratch(&x, m, &mut y, &mut scratch).unwrap()
        });
        assert!(same_bits(&y, &expected), "QLinear {m}x{k}x{n}");
    }
}

#[test]
fn int8_conv() {
    let mut rng = Rng(10);
    let mut scratch = QScratch::new();
    let (n, h, w, c, cout) = (2, 13, 11, 8, 24);
    let x = rng.bytes(n * h * w * c, |v| v);
    let p = QuantParams::PerTensor {
        scale: 0.02,
        zero_point: 100,
    };
    for g in [
        ConvGeometry::square(3, 1, 1),
        ConvGeometry::square(1, 1, 0),
        ConvGeometry::square(3, 2, 0),
    ] {
        let (kh, kw) = g.kernel;
        let wts = int8_weights(&mut rng, kh * kw * c, cout, false);
        let (ho, wo) = g.output_hw(h, w).unwrap();
        let rows = n * ho * wo;
        let mut expected = vec![0i32; rows * cout];
        let out = QOutput::I32(QMatMut::row_major(&mut expected, rows, cout).unwrap());
        conv2d_nhwc(&x, [n, h, w, c], p, &wts, g, out).unwrap();
        let mut y = vec![0i32; rows * cout];
        steady("conv2d_nhwc_scratch", || {
            let out = QOutput::I32(QMatMut::row_major(&mut y, rows, cout).unwrap());
            conv2d_nhwc_scratch(&x, [n, h, w, c], p, &wts, g, out, &mut scratch).unwrap()
        });
        assert_eq!(y, expected, "int8 conv {g:?}");
    }
}
