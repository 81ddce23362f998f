//! The integer GEMM / GEMV against a scalar i32 reference: exact equality on every path (both
//! kernel families, the GEMV, every remainder around the 2x4 tile, the 8-deep K block, the
//! 2-panel GEMV and the M blocks), for u8 and i8 on both sides, with and without zero points,
//! including the worst cases for i16 overflow and saturation. Runs natively, in Node and in
//! headless Chromium, in the simd128 and relaxed-simd builds.
mod common;

use common::{reference_i32, Layout, Rng, Strided};
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_quant::{qgemm_with, KernelChoice, PackedQB, QGemmOptions, QOutput, QuantParams, Q8};

const KERNELS: [KernelChoice; 3] = [
    KernelChoice::Auto,
    KernelChoice::Baseline,
    KernelChoice::Relaxed,
];

/// Zero-point modes: none, per tensor, per channel (rows of A / columns of B).
#[derive(Clone, Copy, Debug)]
enum Zp {
    None,
    Tensor,
    Channel,
}
const ZPS: [Zp; 3] = [Zp::None, Zp::Tensor, Zp::Channel];

struct Case {
    m: usize,
    n: usize,
    k: usize,
    la: Layout,
    lb: Layout,
    lc: Layout,
    za: Zp,
    zb: Zp,
    opts: QGemmOptions,
}

/// Random zero points of `Z` for `count` channels in the given mode.
fn zero_points<Z: Q8>(mode: Zp, count: usize, rng: &mut Rng) -> Vec<i32> {
    match mode {
        Zp::None => vec![],
        Zp::Tensor => vec![rng.q::<Z>().to_i32()],
        Zp::Channel => (0..count).map(|_| rng.q::<Z>().to_i32()).collect(),
    }
}

fn params<'a>(zp: &'a [i32], scales: &'a [f32], count: usize) -> QuantParams<'a> {
    match zp.len() {
        0 => QuantParams::PerChannel {
            scales: &scales[..count],
            zero_points: &[],
        },
        1 => QuantParams::PerTensor {
            scale: 1.0,
            zero_point: zp[0],
        },
        _ => QuantParams::PerChannel {
            scales: &scales[..count],
            zero_points: zp,
        },
    }
}

fn zp_of(zp: &[i32]) -> impl Fn(usize) -> i32 + '_ {
    move |i| match zp.len() {
        0 => 0,
        1 => zp[0],
        _ => zp[i],
    }
}

/// One exact case with element types A and B, values from `gen`.
fn check<A: Q8, B: Q8>(c: &Case, rng: &mut Rng, gen: &mut dyn FnMut(&mut Rng) -> (A, B)) {
    let mut pairs = Vec::new();
    let a = Strided::new(c.m, c.k, c.la, A::default(), |_, _| {
        let (x, y) = gen(rng);
        pairs.push(y);
        x
    });
    let mut ys = pairs.into_iter().cycle();
    let b = Strided::new(c.k, c.n, c.lb, B::default(), |_, _| {
        ys.next().unwrap_or_default()
    });
    let za = zero_points::<A>(c.za, c.m, rng);
    let zb = zero_points::<B>(c.zb, c.n, rng);
    let ones = vec![1.0f32; c.m.max(c.n)];
    let want = reference_i32(&a, &zp_of(&za), &b, &zp_of(&zb));
    let packed = PackedQB::new(b.view(), params(&zb, &ones, c.n)).unwrap();
    // Every other case drops the pre-widened copy: the GEMM then widens panels per call.
    let packed = if (c.m + c.n + c.k) % 2 == 0 {
        packed
    } else {
        packed.into_compact()
    };
    let mut out = Strided::new(c.m, c.n, c.lc, -7i32, |_, _| i32::MIN);
    let pad = out.padding();
    qgemm_with(
        a.view(),
        params(&za, &ones, c.m),
        &packed,
        QOutput::I32(out.view_mut()),
        c.opts,
    )
    .unwrap();
    for i in 0..c.m {
        for j in 0..c.n {
            assert_eq!(
                out.at(i, j),
                want[i * c.n + j],
                "{}x{} * {}: m={} n={} k={} za={:?} zb={:?} {:?}/{:?}/{:?} {:?} at ({i},{j})",
                A::NAME,
                B::NAME,
                c.k,
                c.m,
                c.n,
                c.k,
                c.za,
                c.zb,
                c.la,
                c.lb,
                c.lc,
                c.opts
            );
        }
    }
    assert_eq!(out.padding(), pad, "padding of C was written");
}

fn uniform<A: Q8, B: Q8>(rng: &mut Rng) -> (A, B) {
    (rng.q::<A>(), rng.q::<B>())
}

/// Every m in 0..=9, n in 0..=13, k in 0..=35 (remainders around MR = 2, NR = 4, KB = 8 and
/// the 2-panel GEMV), rotating element types, zero-point modes, layouts and kernels.
#[wasm_bindgen_test(unsupported = test)]
fn exact_every_small_shape() {
    let mut rng = Rng::new(1);
    let mut idx = 0usize;
    for m in 0..=9 {
        for n in 0..=13 {
            for k in 0..=35 {
                let l = Layout::ALL;
                let c = Case {
                    m,
                    n,
                    k,
                    la: l[idx % 3],
                    lb: l[(idx / 3) % 3],
                    lc: l[(idx / 9) % 3],
                    za: ZPS[idx % 3],
                    zb: ZPS[(idx / 3) % 3],
                    opts: QGemmOptions {
                        kernel: KERNELS[(idx / 2) % 3],
                        mc: [0, 2, 4, 6][(idx / 5) % 4],
                    },
                };
                match idx % 4 {
                    0 => check::<u8, i8>(&c, &mut rng, &mut uniform),
                    1 => check::<i8, i8>(&c, &mut rng, &mut uniform),
                    2 => check::<u8, u8>(&c, &mut rng, &mut uniform),
                    _ => check::<i8, u8>(&c, &mut rng, &mut uniform),
                }
                idx += 1;
            }
        }
    }
}

/// The worst cases for i16 overflow and saturating instructions: every product at its extreme
/// (`-128 * -128`, `255 * -128`, `(0 - 255) * (0 - 255)` with zero points, ...) over K = 4096
/// and neighbours, every kernel, the GEMV (m = 1) and the GEMM.
#[wasm_bindgen_test(unsupported = test)]
fn worst_case_values_large_k() {
    let mut rng = Rng::new(2);
    for k in [4096, 4095, 4097, 1 << 13] {
        for (m, n) in [(1, 9), (2, 4), (3, 5)] {
            for kernel in KERNELS {
                let c = Case {
                    m,
                    n,
                    k,
                    la: Layout::RowMajor,
                    lb: Layout::RowMajor,
                    lc: Layout::RowMajor,
                    za: Zp::None,
                    zb: Zp::None,
                    opts: QGemmOptions { kernel, mc: 0 },
                };
                check::<i8, i8>(&c, &mut rng, &mut |_| (-128, -128));
                check::<u8, i8>(&c, &mut rng, &mut |_| (255, -128));
                check::<u8, i8>(&c, &mut rng, &mut |_| (255, 127));
                check::<i8, u8>(&c, &mut rng, &mut |_| (-128, 255));
                // Zero points at the opposite extreme: every factor is -255 or 255.
                worst_with_zero_points(&c, kernel);
            }
        }
    }
}

fn worst_with_zero_points(c: &Case, kernel: KernelChoice) {
    let (m, n, k) = (c.m, c.n, c.k);
    let a = vec![0u8; m * k];
    let b = vec![0u8; k * n];
    let pb = PackedQB::from_row_major(
        &b,
        k,
        n,
        QuantParams::PerTensor {
            scale: 1.0,
            zero_point: 255,
        },
    )
    .unwrap();
    let mut y = vec![0i32; m * n];
    qgemm_with(
        wasmnn_quant::QMatRef::row_major(&a, m, k).unwrap(),
        QuantParams::PerTensor {
            scale: 1.0,
            zero_point: 255,
        },
        &pb,
        QOutput::I32(wasmnn_quant::QMatMut::row_major(&mut y, m, n).unwrap()),
        QGemmOptions { kernel, mc: 0 },
    )
    .unwrap();
    assert!(
        y.iter().all(|&v| v == 65025 * k as i32),
        "{kernel:?} k={k}: {:?}",
        &y[..2]
    );
    // i8: (-128 - 127) * (127 - (-128)) = -65025 per product.
    let a = vec![-128i8; m * k];
    let b = vec![127i8; k * n];
    let pb = PackedQB::from_row_major(
        &b,
        k,
        n,
        QuantParams::PerTensor {
            scale: 1.0,
            zero_point: -128,
        },
    )
    .unwrap();
    qgemm_with(
        wasmnn_quant::QMatRef::row_major(&a, m, k).unwrap(),
        QuantParams::PerTensor {
            scale: 1.0,
            zero_point: 127,
        },
        &pb,
        QOutput::I32(wasmnn_quant::QMatMut::row_major(&mut y, m, n).unwrap()),
        QGemmOptions { kernel, mc: 0 },
    )
    .unwrap();
    assert!(
        y.iter().all(|&v| v == -65025 * k as i32),
        "{kernel:?} k={k}: {:?}",
        &y[..2]
    );
}

/// Beyond i32 the results wrap exactly like the i32 reference (congruent modulo 2^32).
#[wasm_bindgen_test(unsupported = test)]
fn large_sums_wrap_like_i32() {
    let mut rng = Rng::new(3);
    for kernel in KERNELS {
        let c = Case {
            m: 3,
            n: 6,
            k: 40_000,
            la: Layout::RowMajor,
            lb: Layout::RowMajor,
            lc: Layout::RowMajor,
            za: Zp::Tensor,
            zb: Zp::Channel,
            opts: QGemmOptions { kernel, mc: 0 },
        };
        check::<u8, u8>(&c, &mut rng, &mut |r| {
            (if r.int(0, 9) == 0 { 0 } else { 255 }, 0)
        });
    }
}

/// M blocks: every m in 1..=13 with small explicit blockings (the block edges), and the
/// automatic one, for both kernels.
#[wasm_bindgen_test(unsupported = test)]
fn exact_m_block_edges() {
    let mut rng = Rng::new(4);
    for m in 1..=13 {
        for mc in [1, 2, 3, 4, 6, 0] {
            for kernel in [KernelChoice::Baseline, KernelChoice::Relaxed] {
                let c = Case {
                    m,
                    n: 17,
                    k: 19,
                    la: Layout::PaddedRows(3),
                    lb: Layout::ColMajor,
                    lc: Layout::PaddedRows(2),
                    za: Zp::Channel,
                    zb: Zp::Tensor,
                    opts: QGemmOptions { kernel, mc },
                };
                check::<u8, i8>(&c, &mut rng, &mut uniform);
            }
        }
    }
}

/// proptest over shapes, element types, zero points, layouts, kernels and blockings. A
/// `TestRunner` with a fixed seed, so the same property also runs on wasm32.
#[wasm_bindgen_test(unsupported = test)]
fn proptest_exact_against_reference() {
    use proptest::prelude::{any, Strategy};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let strategy = (
        (0usize..20, 0usize..40, 0usize..100),
        (0usize..4, 0usize..3, 0usize..3),
        (0usize..3, 0usize..3, 0usize..3),
        (0usize..3, 0usize..8),
        any::<u64>(),
    )
        .prop_map(|x| x);
    runner
        .run(
            &strategy,
            |((m, n, k), (types, za, zb), (la, lb, lc), (kernel, mc), seed)| {
                let l = Layout::ALL;
                let c = Case {
                    m,
                    n,
                    k,
                    la: l[la],
                    lb: l[lb],
                    lc: l[lc],
                    za: ZPS[za],
                    zb: ZPS[zb],
                    opts: QGemmOptions {
                        kernel: KERNELS[kernel],
                        mc,
                    },
                };
                let mut rng = Rng::new(seed);
                match types {
                    0 => check::<u8, i8>(&c, &mut rng, &mut uniform),
                    1 => check::<i8, i8>(&c, &mut rng, &mut uniform),
                    2 => check::<u8, u8>(&c, &mut rng, &mut uniform),
                    _ => check::<i8, u8>(&c, &mut rng, &mut uniform),
                }
                Ok(())
            },
        )
        .unwrap();
}
