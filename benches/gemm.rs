//! Native criterion benchmarks of the packed GEMM (the portable kernels, auto-vectorised).
//! The wasm numbers that matter are produced by `cargo xtask bench` (see BENCHMARKS.md); these
//! track the native path and catch regressions in the driver.
// Criterion is a native-only dev-dependency: on wasm32 this bench is empty (so that clippy can
// check all targets for wasm32).
#![cfg_attr(target_arch = "wasm32", no_main)]
#![cfg(not(target_arch = "wasm32"))]
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use wasmnn::{gemm_packed, Activation, EpilogueOp, MatMut, MatRef, PackedB};

/// (M, K, N): the peers' matmul list without the largest case.
const SHAPES: [(usize, usize, usize); 7] = [
    (1, 512, 512),
    (1, 4096, 4096),
    (16, 512, 512),
    (64, 512, 512),
    (128, 768, 768),
    (256, 256, 256),
    (512, 512, 512),
];

fn gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm_packed");
    group.sample_size(20);
    for &(m, k, n) in &SHAPES {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 - 3.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 - 2.0).collect();
        let packed = PackedB::from_row_major(&b, k, n).unwrap();
        let mut out = vec![0.0f32; m * n];
        group.throughput(Throughput::Elements((2 * m * k * n) as u64)); // flops
        group.bench_function(
            BenchmarkId::from_parameter(format!("{m}x{k}x{n}")),
            |bench| {
                bench.iter(|| {
                    let a = MatRef::row_major(&a, m, k).unwrap();
                    let c = MatMut::row_major(&mut out, m, n).unwrap();
                    gemm_packed(1.0, a, &packed, 0.0, c, &[]).unwrap();
                    black_box(&out);
                })
            },
        );
    }
    group.finish();
}

fn fused_linear(c: &mut Criterion) {
    let (m, k, n) = (128, 768, 3072);
    let a = vec![0.5f32; m * k];
    let b: Vec<f32> = (0..k * n).map(|i| ((i % 9) as f32 - 4.0) / 64.0).collect();
    let bias = vec![0.1f32; n];
    let packed = PackedB::from_row_major(&b, k, n).unwrap();
    let mut out = vec![0.0f32; m * n];
    let mut group = c.benchmark_group("fused_128x768x3072");
    group.sample_size(10);
    for (name, act) in [
        ("bias", Activation::Identity),
        ("bias+relu", Activation::Relu),
        ("bias+gelu", Activation::GeluErf),
    ] {
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let ops = [EpilogueOp::AddColBias(&bias), EpilogueOp::Activation(act)];
                let c = MatMut::row_major(&mut out, m, n).unwrap();
                gemm_packed(
                    1.0,
                    MatRef::row_major(&a, m, k).unwrap(),
                    &packed,
                    0.0,
                    c,
                    &ops,
                )
                .unwrap();
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, gemm, fused_linear);
criterion_main!(benches);
