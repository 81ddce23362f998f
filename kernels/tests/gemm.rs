//! GEMM against an f64 reference: exact on small-integer inputs (every summation order gives the
//! same f32 result), bounded on random floats. Runs natively, in Node and in headless Chromium.
mod common;

use common::{reference_activation, reference_gemm, Layout, Rng, Strided};
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::{
    gemm, gemm_packed_with, Activation, Blocking, EpilogueOp, Error, MatMut, MatRef, PackedB,
};

const SCALARS: [f32; 4] = [0.0, 1.0, -0.5, 2.0];

#[derive(Clone, Copy, Debug)]
enum Epi {
    None,
    ColBias,
    RowBias,
    Relu,
    BiasReluResidual,
    Clamp,
    ScaleBias,
}
const EPIS: [Epi; 7] = [
    Epi::None,
    Epi::ColBias,
    Epi::RowBias,
    Epi::Relu,
    Epi::BiasReluResidual,
    Epi::Clamp,
    Epi::ScaleBias,
];

/// One exact case: integer inputs in -4..=4, the given layouts, scalars, epilogue and blocking.
#[allow(clippy::too_many_arguments)]
fn exact_case(
    m: usize,
    n: usize,
    k: usize,
    la: Layout,
    lb: Layout,
    lc: Layout,
    alpha: f32,
    beta: f32,
    epi: Epi,
    kc: usize,
    blocking: Blocking,
    rng: &mut Rng,
) {
    let mut int = || rng.int(-4, 4) as f32;
    let a = Strided::new(m, k, la, f32::NAN, |_, _| int());
    let b = Strided::new(k, n, lb, f32::NAN, |_, _| int());
    let c0 = if beta == 0.0 { f32::NAN } else { 0.0 };
    let mut c = Strided::new(m, n, lc, -7.0, |_, _| if beta == 0.0 { c0 } else { int() });
    let col: Vec<f32> = (0..n).map(|_| int()).collect();
    let scale: Vec<f32> = (0..n).map(|j| [0.5, 2.0, -1.0, 0.25][j % 4]).collect();
    let row: Vec<f32> = (0..m).map(|_| int()).collect();
    let res = Strided::new(m, n, Layout::PaddedRows(1), f32::NAN, |_, _| int());

    let mut want = reference_gemm(alpha as f64, &a, &b, beta as f64, &c);
    let relu = |x: f64| if x < 0.0 { 0.0 } else { x };
    for i in 0..m {
        for j in 0..n {
            let w = &mut want[i * n + j];
            match epi {
                Epi::None => {}
                Epi::ColBias => *w += col[j] as f64,
                Epi::RowBias => *w += row[i] as f64,
                Epi::Relu => *w = relu(*w),
                Epi::BiasReluResidual => *w = relu(*w + col[j] as f64) + res.at(i, j) as f64,
                Epi::Clamp => *w = w.clamp(-3.0, 5.5),
                Epi::ScaleBias => *w = *w * scale[j] as f64 + col[j] as f64,
            }
        }
    }
    let ops: Vec<EpilogueOp<'_>> = match epi {
        Epi::None => vec![],
        Epi::ColBias => vec![EpilogueOp::AddColBias(&col)],
        Epi::RowBias => vec![EpilogueOp::AddRowBias(&row)],
        Epi::Relu => vec![EpilogueOp::Activation(Activation::Relu)],
        Epi::BiasReluResidual => vec![
            EpilogueOp::AddColBias(&col),
            EpilogueOp::Activation(Activation::Relu),
            EpilogueOp::AddMatrix(res.view()),
        ],
        Epi::Clamp => vec![EpilogueOp::Activation(Activation::Clamp {
            min: -3.0,
            max: 5.5,
        })],
        Epi::ScaleBias => vec![
            EpilogueOp::MulColScale(&scale),
            EpilogueOp::AddColBias(&col),
        ],
    };
    let packed = PackedB::with_kc(b.view(), kc).unwrap();
    let padding_before: Vec<(usize, f32)> = padding(&c);
    gemm_packed_with(alpha, a.view(), &packed, beta, c.view_mut(), &ops, blocking).unwrap();
    for i in 0..m {
        for j in 0..n {
            let (got, exp) = (c.at(i, j), want[i * n + j] as f32);
            assert!(
                got == exp || (got.is_nan() && exp.is_nan()),
                "m={m} n={n} k={k} {la:?}/{lb:?}/{lc:?} alpha={alpha} beta={beta} {epi:?} kc={kc} \
                 {blocking:?}: C[{i},{j}] = {got}, want {exp}"
            );
        }
    }
    assert_eq!(padding(&c), padding_before, "padding of C was written");
}

/// The elements of C's buffer that are not part of the matrix (must never be written).
fn padding(c: &Strided) -> Vec<(usize, f32)> {
    let mut inside = vec![false; c.data.len()];
    for i in 0..c.rows {
        for j in 0..c.cols {
            inside[i * c.rs + j * c.cs] = true;
        }
    }
    c.data
        .iter()
        .enumerate()
        .filter(|(p, _)| !inside[*p])
        .map(|(p, v)| (p, *v))
        .collect()
}

/// Every m, n, k in 0..=33, rotating layouts, alpha/beta, epilogues and small blockings so every
/// combination appears many times.
#[wasm_bindgen_test(unsupported = test)]
fn exact_every_small_shape() {
    let mut rng = Rng::new(1);
    let mut idx = 0usize;
    for m in 0..=33 {
        for n in 0..=33 {
            for k in 0..=33 {
                let l = Layout::ALL;
                let (kc, blocking) = match idx % 3 {
                    0 => (256, Blocking::default()),
                    1 => (
                        1 + idx % 9,
                        Blocking {
                            mc: 4 + idx % 5,
                            nc: 8 + idx % 17,
                        },
                    ),
                    _ => (5, Blocking { mc: 8, nc: 16 }),
                };
                exact_case(
                    m,
                    n,
                    k,
                    l[idx % 4],
                    l[(idx / 4) % 4],
                    l[(idx / 16) % 4],
                    SCALARS[(idx / 3) % 4],
                    SCALARS[(idx / 7) % 4],
                    EPIS[idx % 7],
                    kc,
                    blocking,
                    &mut rng,
                );
                idx += 1;
            }
        }
    }
}

/// Around KC = 256 and the default MC (128) and NC (1024) blocks, one dimension at a time.
#[wasm_bindgen_test(unsupported = test)]
fn exact_default_block_edges() {
    let mut rng = Rng::new(2);
    let cases = [
        (5, 9, 255),
        (5, 9, 256),
        (5, 9, 257),
        (6, 17, 513),
        (127, 9, 20),
        (128, 9, 20),
        (129, 9, 20),
        (257, 3, 7),
        (3, 1023, 6),
        (3, 1024, 6),
        (1, 1025, 6),
        (9, 1025, 257),
    ];
    exact_shapes(&cases, 1, 256, &mut rng);
}

/// Around the block of A the driver packs on its stack (16 Ki floats: K deeper than 4096 reads
/// A in place; 6-row strips fit up to K = 2730, 4-row ones above; K = 768 packs 20 rows at a
/// time in 4-row strips, 18 in 6-row ones), with leftover rows.
#[wasm_bindgen_test(unsupported = test)]
fn exact_a_pack_edges() {
    let mut rng = Rng::new(7);
    let cases = [
        (5, 9, 4095),
        (7, 9, 4096),
        (6, 9, 4097),
        (13, 9, 2730),
        (13, 9, 2731),
        (8, 9, 3072),
        (17, 9, 768),
        (18, 9, 768),
        (19, 17, 768),
        (20, 9, 768),
        (21, 9, 768),
        (22, 9, 768),
        (37, 9, 768),
        (43, 9, 768),
        (14, 33, 1025),
    ];
    exact_shapes(&cases, 3, 8192, &mut rng); // the default KC: one K block
}

/// [`exact_case`] for each `(m, n, k)` with the default blocking and K blocks of `kc`; layouts,
/// alpha, epilogue and (shifted by `beta_shift`) beta rotate with the case index.
fn exact_shapes(cases: &[(usize, usize, usize)], beta_shift: usize, kc: usize, rng: &mut Rng) {
    for (idx, &(m, n, k)) in cases.iter().enumerate() {
        exact_case(
            m,
            n,
            k,
            Layout::ALL[idx % 4],
            Layout::ALL[(idx + 1) % 4],
            Layout::ALL[(idx + 2) % 4],
            SCALARS[idx % 4],
            SCALARS[(idx + beta_shift) % 4],
            EPIS[idx % 7],
            kc,
            Blocking::default(),
            rng,
        );
    }
}

/// Small explicit blockings: shapes at block multiples +-1 for KC, MC, NC.
#[wasm_bindgen_test(unsupported = test)]
fn exact_small_block_edges() {
    let mut rng = Rng::new(3);
    for kc in [1, 4, 7, 8] {
        for (mc, nc) in [(4, 8), (8, 16), (12, 24)] {
            for dm in [mc - 1, mc, mc + 1, 2 * mc + 1] {
                for dn in [nc - 1, nc, nc + 1, 2 * nc + 3] {
                    for dk in [kc.max(2) - 1, kc, kc + 1, 3 * kc + 1] {
                        exact_case(
                            dm,
                            dn,
                            dk,
                            Layout::RowMajor,
                            Layout::ColMajor,
                            Layout::PaddedRows(2),
                            1.0,
                            -0.5,
                            Epi::BiasReluResidual,
                            kc,
                            Blocking { mc, nc },
                            &mut rng,
                        );
                    }
                }
            }
        }
    }
}

/// beta = 0 must not read C: NaN and infinities in C vanish.
#[wasm_bindgen_test(unsupported = test)]
fn beta_zero_never_reads_c() {
    let (m, n, k) = (7, 13, 5);
    let a = vec![1.0f32; m * k];
    let b = vec![2.0f32; k * n];
    let mut c = vec![f32::NAN; m * n];
    c[3] = f32::INFINITY;
    gemm(
        1.0,
        MatRef::row_major(&a, m, k).unwrap(),
        MatRef::row_major(&b, k, n).unwrap(),
        0.0,
        MatMut::row_major(&mut c, m, n).unwrap(),
    )
    .unwrap();
    assert!(c.iter().all(|&x| x == 10.0), "{c:?}");
}

/// Each activation as an epilogue, against f64 on the exact GEMM result.
#[wasm_bindgen_test(unsupported = test)]
fn every_activation_epilogue() {
    let acts = [
        Activation::Identity,
        Activation::Relu,
        Activation::Clamp {
            min: -1.0,
            max: 2.5,
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
    let mut rng = Rng::new(4);
    let (m, n, k) = (11, 19, 9);
    for act in acts {
        // Integer A and B scaled by 1/8: the GEMM stays exact, so only the activation errs.
        let a = Strided::new(m, k, Layout::RowMajor, 0.0, |_, _| {
            rng.int(-8, 8) as f32 / 8.0
        });
        let b = Strided::new(k, n, Layout::RowMajor, 0.0, |_, _| {
            rng.int(-8, 8) as f32 / 8.0
        });
        let mut c = Strided::new(m, n, Layout::RowMajor, 0.0, |_, _| f32::NAN);
        let packed = PackedB::new(b.view()).unwrap();
        let ops = [EpilogueOp::Activation(act)];
        gemm_packed_with(
            1.0,
            a.view(),
            &packed,
            0.0,
            c.view_mut(),
            &ops,
            Blocking::default(),
        )
        .unwrap();
        let pre = reference_gemm(1.0, &a, &b, 0.0, &c);
        for i in 0..m {
            for j in 0..n {
                let want = reference_activation(act, pre[i * n + j]);
                let got = c.at(i, j) as f64;
                assert!(
                    (got - want).abs() <= 2e-6 + 4e-6 * want.abs(),
                    "{act:?}({}) = {got}, want {want}",
                    pre[i * n + j]
                );
            }
        }
    }
}

/// Random floats, random shapes and layouts: bounded by the classic `k * u * sum |a||b|` bound.
#[wasm_bindgen_test(unsupported = test)]
fn random_floats_within_error_bound() {
    let mut rng = Rng::new(5);
    for case in 0..300 {
        let m = rng.int(0, 40) as usize;
        let n = rng.int(0, 40) as usize;
        let k = rng.int(0, 300) as usize;
        let alpha = rng.unit() * 2.0;
        let beta = if case % 3 == 0 { 0.0 } else { rng.unit() };
        check_random(m, n, k, alpha, beta, case, &mut rng);
    }
}

fn check_random(m: usize, n: usize, k: usize, alpha: f32, beta: f32, case: usize, rng: &mut Rng) {
    let l = Layout::ALL;
    let a = Strided::new(m, k, l[case % 4], f32::NAN, |_, _| rng.unit());
    let b = Strided::new(k, n, l[(case / 4) % 4], f32::NAN, |_, _| rng.unit());
    let mut c = Strided::new(m, n, l[(case / 16) % 4], 0.0, |_, _| rng.unit());
    let want = reference_gemm(alpha as f64, &a, &b, beta as f64, &c);
    let old: Vec<f64> = (0..m * n)
        .map(|x| c.at(x / n.max(1), x % n.max(1)) as f64)
        .collect();
    gemm(alpha, a.view(), b.view(), beta, c.view_mut()).unwrap();
    let u = f32::EPSILON as f64 / 2.0;
    for i in 0..m {
        for j in 0..n {
            let abs_sum: f64 = (0..k)
                .map(|p| (a.at(i, p) as f64 * b.at(p, j) as f64).abs())
                .sum();
            let bound = 2.0
                * (k as f64 + 3.0)
                * u
                * (alpha.abs() as f64 * abs_sum + (beta as f64 * old[i * n + j]).abs())
                + 1e-30;
            let err = (c.at(i, j) as f64 - want[i * n + j]).abs();
            assert!(
                err <= bound,
                "m={m} n={n} k={k} case={case}: err {err} > bound {bound}"
            );
        }
    }
}

/// proptest over shapes, strides and remainders around the tile (4 or 6 x 8), K, alpha and beta. A
/// `TestRunner` with a fixed seed instead of the `proptest!` macro, so the same property also runs
/// on wasm32 (where the macro's `#[test]` functions would not).
#[wasm_bindgen_test(unsupported = test)]
fn proptest_gemm_matches_f64() {
    use proptest::prelude::{any, prop_oneof, Just, Strategy};
    let mut runner = common::proptest_runner(96);
    let strategy = (
        (0usize..24, 0usize..40, 0usize..40),
        -2.0f32..2.0,
        prop_oneof![Just(0.0f32), -1.0f32..1.0],
        0usize..64,
        any::<u64>(),
    )
        .prop_map(|x| x);
    runner
        .run(&strategy, |((m, n, k), alpha, beta, case, seed)| {
            check_random(m, n, k, alpha, beta, case, &mut Rng::new(seed));
            Ok(())
        })
        .unwrap();
}

/// Every validation error is reported, and C is untouched when a call is refused.
#[wasm_bindgen_test(unsupported = test)]
fn bad_inputs_are_typed_errors() {
    let a = vec![1.0f32; 6];
    let b = vec![1.0f32; 12];
    // Views that do not fit their buffers.
    assert!(matches!(
        MatRef::row_major(&a, 3, 3),
        Err(Error::BufferTooSmall {
            needed: 9,
            len: 6,
            ..
        })
    ));
    assert!(matches!(
        MatRef::new(&a, 2, 3, usize::MAX, 1),
        Err(Error::Overflow { .. })
    ));
    assert!(matches!(
        MatMut::new(&mut [0.0; 8], 2, 3, 2, 1),
        Err(Error::OverlappingOutput { .. })
    ));
    assert!(matches!(
        MatMut::new(&mut [0.0; 8], 2, 2, 0, 1),
        Err(Error::OverlappingOutput { .. })
    ));
    assert!(MatMut::new(&mut [0.0; 8], 1, 3, 0, 1).is_ok()); // one row: any row stride
    assert!(matches!(
        PackedB::from_row_major(&b, 5, 3),
        Err(Error::BufferTooSmall { .. })
    ));
    assert!(matches!(
        PackedB::with_kc(MatRef::row_major(&b, 4, 3).unwrap(), 0),
        Err(Error::InvalidArgument { what: "kc", .. })
    ));

    let av = MatRef::row_major(&a, 2, 3).unwrap(); // 2x3
    let pb = PackedB::from_row_major(&b, 3, 4).unwrap(); // 3x4
    let bad_k = PackedB::from_row_major(&b, 4, 3).unwrap();
    let mut c = vec![9.0f32; 8];
    let run = |c: &mut [f32], rows, cols, pb: &PackedB, ops: &[EpilogueOp<'_>], blk| {
        gemm_packed_with(
            1.0,
            av,
            pb,
            0.0,
            MatMut::row_major(c, rows, cols).unwrap(),
            ops,
            blk,
        )
    };
    let d = Blocking::default();
    assert!(matches!(
        run(&mut c, 2, 3, &bad_k, &[], d),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        run(&mut c, 1, 4, &pb, &[], d),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        run(&mut c, 2, 3, &pb, &[], d),
        Err(Error::ShapeMismatch { .. })
    ));
    let short = [0.0f32; 3];
    for op in [
        EpilogueOp::AddColBias(&short),
        EpilogueOp::MulColScale(&short),
        EpilogueOp::AddRowBias(&short),
        EpilogueOp::AddMatrix(MatRef::row_major(&b, 3, 4).unwrap()),
    ] {
        assert!(
            matches!(
                run(&mut c, 2, 4, &pb, &[op], d),
                Err(Error::ShapeMismatch { .. })
            ),
            "{op:?}"
        );
    }
    for act in [
        Activation::Clamp { min: 1.0, max: 0.0 },
        Activation::Clamp {
            min: f32::NAN,
            max: 0.0,
        },
        Activation::HardSigmoid {
            alpha: f32::INFINITY,
            beta: 0.0,
        },
    ] {
        let r = run(&mut c, 2, 4, &pb, &[EpilogueOp::Activation(act)], d);
        assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{act:?}");
    }
    let r = run(&mut c, 2, 4, &pb, &[], Blocking { mc: 0, nc: 8 });
    assert!(matches!(
        r,
        Err(Error::InvalidArgument {
            what: "blocking",
            ..
        })
    ));
    assert!(c.iter().all(|&x| x == 9.0), "a refused call wrote to C");
    // Errors print a readable message.
    let e = MatRef::row_major(&a, 3, 3).unwrap_err();
    assert!(e.to_string().contains("holds 6 elements"), "{e}");
}

/// The wasm build really runs the SIMD kernels (plain RUSTFLAGS would silently drop simd128).
#[wasm_bindgen_test(unsupported = test)]
fn build_uses_expected_isa() {
    let isa = wasmnn_kernels::isa();
    if cfg!(target_arch = "wasm32") {
        assert_ne!(isa, "portable", "wasm32 build without simd128");
    }
    if let Some(expected) = option_env!("WASMNN_EXPECT_ISA") {
        assert_eq!(isa, expected);
    }
}

/// `gemm_packed_par` equals `gemm_packed` bit for bit, for any thread count and task order
/// (natively the tasks really run on several threads).
#[wasm_bindgen_test(unsupported = test)]
fn parallel_tiles_are_bit_identical() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use wasmnn_kernels::gemm_packed_par;
    let mut rng = Rng::new(9);
    let tasks_seen = AtomicUsize::new(0);
    // Runs tasks in reverse order, on scoped threads where the target has them.
    let par = |count: usize, task: &(dyn Fn(usize) + Sync)| {
        tasks_seen.fetch_add(count, Ordering::Relaxed);
        #[cfg(not(target_arch = "wasm32"))]
        std::thread::scope(|s| {
            for t in (0..count).rev() {
                s.spawn(move || task(t));
            }
        });
        #[cfg(target_arch = "wasm32")]
        (0..count).rev().for_each(task);
    };
    for &(m, n, k) in &[
        (130, 70, 300),
        (257, 33, 200),
        (9, 1000, 150),
        (1, 4096, 300),
        (64, 64, 1),
    ] {
        let a = Strided::new(m, k, Layout::RowMajor, 0.0, |_, _| rng.unit());
        let b = Strided::new(k, n, Layout::RowMajor, 0.0, |_, _| rng.unit());
        let bias: Vec<f32> = (0..n).map(|_| rng.unit()).collect();
        let packed = PackedB::new(b.view()).unwrap();
        let ops = [
            EpilogueOp::AddColBias(&bias),
            EpilogueOp::Activation(Activation::GeluErf),
        ];
        let mut want = Strided::new(m, n, Layout::ColMajor, 0.0, |_, _| rng.unit());
        let mut got = Strided::new(m, n, Layout::ColMajor, 0.0, |i, j| want.at(i, j));
        gemm_packed_with(
            0.5,
            a.view(),
            &packed,
            2.0,
            want.view_mut(),
            &ops,
            Blocking::default(),
        )
        .unwrap();
        for threads in [1, 2, 3, 4] {
            let mut g = Strided::new(m, n, Layout::ColMajor, 0.0, |i, j| got.at(i, j));
            gemm_packed_par(
                0.5,
                a.view(),
                &packed,
                2.0,
                g.view_mut(),
                &ops,
                threads,
                &par,
            )
            .unwrap();
            assert!(
                g.data
                    .iter()
                    .zip(&want.data)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{m}x{n}x{k} with {threads} threads differs"
            );
        }
        got.data.clear();
    }
    assert!(
        tasks_seen.load(Ordering::Relaxed) > 20,
        "the work was never split"
    );
}
