//! Threads never change a result: every parallel path (GEMM tiles, conv pixel blocks, 1x1 conv
//! tiles, depthwise rows) gives the same bits as the single-threaded call, for any thread count.
//!
//! - Everywhere (native, Node, Chromium): the kernels' `*_par` entry points (conv, int8 GEMM)
//!   with a "parallel for" that runs the tasks backwards, natively each on its own scoped thread.
//! - Natively with feature `threads`: the facade (`parallel::gemm_packed`, `Linear`,
//!   `parallel::conv2d`) inside rayon pools of 1, 2 and 4 threads.
//!
//! Inputs are random floats (not small integers), so a different summation order or a block
//! computed twice would change the bits.
use std::sync::atomic::{AtomicUsize, Ordering};
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::kernels::conv::{Conv2d, Conv2dParams, ConvEpilogue, TensorLayout};
use wasmnn::Activation;

/// Deterministic floats in [-1, 1) (xorshift).
struct Rng(u64);

impl Rng {
    fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// A convolution case: `batch x c x h x h` input, `o` filters `k x k`, stride, padding, groups.
#[derive(Clone, Copy, Debug)]
struct Case {
    layout: TensorLayout,
    batch: usize,
    c: usize,
    h: usize,
    o: usize,
    k: usize,
    stride: usize,
    pad: usize,
    groups: usize,
}

/// `Case` from `(layout, batch, c, h, o, k, stride, pad, groups)`.
#[allow(clippy::too_many_arguments)]
const fn case(
    layout: TensorLayout,
    batch: usize,
    c: usize,
    h: usize,
    o: usize,
    k: usize,
    stride: usize,
    pad: usize,
    groups: usize,
) -> Case {
    Case {
        layout,
        batch,
        c,
        h,
        o,
        k,
        stride,
        pad,
        groups,
    }
}

/// Every conv method, each large enough to be split (above the per-task size threshold).
const CASES: [Case; 9] = {
    use TensorLayout::{Nchw, Nhwc};
    [
        // Winograd: 17 tiles (5 half panels) a row, so panels pair the rows' halves across
        // rows, and (two NHWC images of 17 tile rows) across images.
        case(Nchw, 1, 16, 34, 40, 3, 1, 1, 1),
        case(Nhwc, 2, 16, 34, 24, 3, 1, 1, 1),
        case(Nhwc, 2, 16, 30, 24, 3, 2, 1, 1), // two images, strided
        case(Nchw, 1, 32, 40, 32, 3, 1, 0, 4), // grouped
        case(Nhwc, 1, 64, 32, 72, 1, 1, 0, 1), // 1x1 in place: 2-D GEMM tiles
        case(Nchw, 2, 48, 24, 64, 1, 1, 0, 1), // 1x1, NCHW (column-major C)
        case(Nchw, 1, 64, 48, 64, 3, 1, 1, 64), // depthwise rows (planes)
        case(Nhwc, 2, 48, 40, 48, 5, 1, 2, 48), // depthwise rows (NHWC)
        case(Nhwc, 1, 64, 96, 64, 3, 2, 1, 64), // depthwise, strided
    ]
};

struct Prepared {
    case: Case,
    conv: Conv2d,
    x: Vec<f32>,
    bias: Vec<f32>,
    residual: Vec<f32>,
    out_len: usize,
}

impl Prepared {
    fn new(case: Case, rng: &mut Rng) -> Self {
        let p = Conv2dParams::new(case.k, case.k)
            .stride(case.stride, case.stride)
            .padding(case.pad, case.pad, case.pad, case.pad)
            .groups(case.groups);
        let w = rng.vec(case.o * case.c / case.groups * case.k * case.k);
        let conv = Conv2d::new(&w, case.o, case.c, p).unwrap();
        let (ho, wo) = p.output_size(case.h, case.h).unwrap();
        let out_len = case.batch * case.o * ho * wo;
        Self {
            case,
            conv,
            x: rng.vec(case.batch * case.c * case.h * case.h),
            bias: rng.vec(case.o),
            residual: rng.vec(out_len),
            out_len,
        }
    }

    fn epilogue(&self) -> ConvEpilogue<'_> {
        ConvEpilogue {
            bias: Some(&self.bias),
            activation: Activation::GeluErf,
            residual: Some(&self.residual),
        }
    }

    /// Single-threaded reference output.
    fn serial(&self) -> Vec<f32> {
        let c = self.case;
        let mut y = vec![f32::NAN; self.out_len];
        self.conv
            .run(
                &self.x,
                c.layout,
                c.batch,
                c.h,
                c.h,
                &mut y,
                &self.epilogue(),
            )
            .unwrap();
        y
    }
}

/// Runs tasks backwards; natively each on its own scoped thread (real concurrency).
fn backwards(count: usize, task: &(dyn Fn(usize) + Sync)) {
    #[cfg(not(target_arch = "wasm32"))]
    std::thread::scope(|s| {
        for t in (0..count).rev() {
            s.spawn(move || task(t));
        }
    });
    #[cfg(target_arch = "wasm32")]
    (0..count).rev().for_each(task);
}

#[wasm_bindgen_test(unsupported = test)]
fn conv_tasks_give_identical_bits() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let calls = AtomicUsize::new(0);
    let counting = |count: usize, task: &(dyn Fn(usize) + Sync)| {
        calls.fetch_add(1, Ordering::Relaxed);
        assert!(count > 1, "a parallel call with a single task");
        backwards(count, task);
    };
    for case in CASES {
        let prep = Prepared::new(case, &mut rng);
        let want = prep.serial();
        let before = calls.load(Ordering::Relaxed);
        for threads in [1, 2, 3, 4, 8] {
            let mut got = vec![f32::NAN; prep.out_len];
            prep.conv
                .run_par(
                    &prep.x,
                    case.layout,
                    case.batch,
                    case.h,
                    case.h,
                    &mut got,
                    &prep.epilogue(),
                    threads,
                    &counting,
                )
                .unwrap();
            assert!(
                same_bits(&got, &want),
                "{case:?} with {threads} threads differs"
            );
        }
        assert!(
            calls.load(Ordering::Relaxed) > before,
            "{case:?} was never split"
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn small_conv_stays_on_the_calling_thread() {
    let mut rng = Rng(7);
    let never = |_: usize, _: &(dyn Fn(usize) + Sync)| panic!("split below the size threshold");
    let small = case(TensorLayout::Nchw, 1, 4, 8, 8, 3, 1, 1, 1);
    let prep = Prepared::new(small, &mut rng);
    let mut got = vec![0.0; prep.out_len];
    prep.conv
        .run_par(
            &prep.x,
            small.layout,
            1,
            8,
            8,
            &mut got,
            &prep.epilogue(),
            4,
            &never,
        )
        .unwrap();
    assert!(same_bits(&got, &prep.serial()));
}

#[wasm_bindgen_test(unsupported = test)]
fn conv_par_rejects_bad_input_untouched() {
    let mut rng = Rng(3);
    let prep = Prepared::new(CASES[0], &mut rng);
    let mut y = vec![1.5; prep.out_len];
    let short = &prep.x[1..];
    let err = prep
        .conv
        .run_par(
            short,
            TensorLayout::Nchw,
            1,
            34,
            34,
            &mut y,
            &prep.epilogue(),
            4,
            &backwards,
        )
        .unwrap_err();
    assert!(matches!(err, wasmnn::Error::ShapeMismatch { .. }), "{err}");
    assert!(y.iter().all(|&v| v == 1.5), "output written on error");
}

/// The int8 GEMM of one case, single-threaded (`threads == 0`) or split for `threads`.
fn int8_case(case: usize, threads: usize, par: wasmnn::kernels::ParallelFor<'_>) -> Vec<u32> {
    use wasmnn::quant::{
        qgemm, qgemm_dynamic, qgemm_dynamic_par, qgemm_par, DynamicQuant, PackedQB, QMatMut,
        QMatRef, QOutput, QuantParams,
    };
    use wasmnn::MatRef;
    let (m, k, n) = (131, 300, 90); // odd m (partial 2-row tile), n not a multiple of 4
    let mut rng = Rng(case as u64 + 1);
    let w: Vec<i8> = rng.vec(k * n).iter().map(|v| (v * 127.0) as i8).collect();
    let b = PackedQB::from_row_major(&w, k, n, QuantParams::symmetric(0.02)).unwrap();
    let x = rng.vec(m * k);
    let a: Vec<u8> = x.iter().map(|v| (v * 127.0 + 128.0) as u8).collect();
    let bias = rng.vec(n);
    let row_scales: Vec<f32> = (0..m).map(|i| 0.01 + i as f32 * 1e-4).collect();
    let row_zps: Vec<i32> = (0..m).map(|i| 100 + (i % 50) as i32).collect();
    let (mut c32, mut cf) = (vec![0i32; m * n], vec![0f32; m * n]);
    let f32_out = |c| QOutput::F32 {
        c,
        bias: Some(&bias),
        activation: Activation::GeluErf,
    };
    let a_q = QMatRef::row_major(&a, m, k).unwrap();
    let a_f = MatRef::row_major(&x, m, k).unwrap();
    let per_tensor = QuantParams::PerTensor {
        scale: 0.01,
        zero_point: 128,
    };
    let per_row = QuantParams::PerChannel {
        scales: &row_scales,
        zero_points: &row_zps,
    };
    let out = if case == 0 {
        QOutput::I32(QMatMut::row_major(&mut c32, m, n).unwrap())
    } else {
        f32_out(QMatMut::row_major(&mut cf, m, n).unwrap())
    };
    let params = if case == 0 { per_tensor } else { per_row };
    let quant = if case == 2 {
        DynamicQuant::PerTensor
    } else {
        DynamicQuant::PerRow
    };
    match (case < 2, threads == 0) {
        (true, true) => qgemm(a_q, params, &b, out),
        (true, false) => qgemm_par(a_q, params, &b, out, threads, par),
        (false, true) => qgemm_dynamic(a_f, quant, &b, out),
        (false, false) => qgemm_dynamic_par(a_f, quant, &b, out, threads, par),
    }
    .unwrap();
    if case == 0 {
        c32.iter().map(|&v| v as u32).collect()
    } else {
        cf.iter().map(|v| v.to_bits()).collect()
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn int8_row_blocks_give_identical_bits() {
    let calls = AtomicUsize::new(0);
    let counting = |count: usize, task: &(dyn Fn(usize) + Sync)| {
        calls.fetch_add(1, Ordering::Relaxed);
        backwards(count, task);
    };
    // i32 out; f32 out with per-row A; dynamic per tensor; dynamic per row.
    for case in 0..4 {
        let want = int8_case(case, 0, &backwards);
        let before = calls.load(Ordering::Relaxed);
        for threads in [1, 2, 3, 4, 8] {
            let got = int8_case(case, threads, &counting);
            assert!(
                got == want,
                "int8 case {case} with {threads} threads differs"
            );
        }
        assert!(
            calls.load(Ordering::Relaxed) > before,
            "int8 case {case} never split"
        );
    }
}

/// Facade paths inside rayon pools of 1, 2 and 4 threads: identical to the serial kernels.
#[cfg(all(feature = "threads", not(target_arch = "wasm32")))]
#[test]
fn rayon_pools_give_identical_bits() {
    use std::collections::HashSet;
    use std::sync::Mutex;
    use wasmnn::{parallel, EpilogueOp, Linear, MatMut, MatRef, PackedB};

    let mut rng = Rng(11);
    let (m, k, n) = (200, 300, 136);
    let a = rng.vec(m * k);
    let w = rng.vec(k * n);
    let bias = rng.vec(n);
    let packed = PackedB::from_row_major(&w, k, n).unwrap();
    let linear = Linear::new(&w, k, n, Some(&bias), Activation::Silu).unwrap();
    let gemm = |c: &mut [f32], ops: &[EpilogueOp<'_>], par: bool| {
        let (a, c) = (
            MatRef::row_major(&a, m, k).unwrap(),
            MatMut::row_major(c, m, n).unwrap(),
        );
        if par {
            parallel::gemm_packed(1.0, a, &packed, 0.0, c, ops).unwrap();
        } else {
            wasmnn::gemm_packed(1.0, a, &packed, 0.0, c, ops).unwrap();
        }
    };
    let mut want_gemm = vec![0.0; m * n];
    gemm(&mut want_gemm, &[], false);
    let mut want_linear = vec![0.0; m * n];
    let ops = [
        EpilogueOp::AddColBias(&bias),
        EpilogueOp::Activation(Activation::Silu),
    ];
    gemm(&mut want_linear, &ops, false);
    let convs: Vec<(Prepared, Vec<f32>)> = CASES
        .iter()
        .map(|&c| {
            let p = Prepared::new(c, &mut rng);
            let want = p.serial();
            (p, want)
        })
        .collect();

    let int8_want: Vec<Vec<u32>> = (0..4).map(|c| int8_case(c, 0, &backwards)).collect();
    for threads in [1, 2, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            assert_eq!(parallel::threads(), threads);
            let mut c = vec![f32::NAN; m * n];
            gemm(&mut c, &[], true);
            assert!(same_bits(&c, &want_gemm), "GEMM, {threads} threads");
            linear.forward(&a, m, &mut c).unwrap();
            assert!(same_bits(&c, &want_linear), "Linear, {threads} threads");
            for (p, want) in &convs {
                let mut y = vec![f32::NAN; p.out_len];
                let case = p.case;
                parallel::conv2d(
                    &p.conv,
                    &p.x,
                    case.layout,
                    case.batch,
                    case.h,
                    case.h,
                    &mut y,
                    &p.epilogue(),
                )
                .unwrap();
                assert!(same_bits(&y, want), "{case:?}, {threads} threads");
            }
            for (case, want) in int8_want.iter().enumerate() {
                let got = int8_case(case, parallel::threads(), &parallel::parallel_for);
                assert!(&got == want, "int8 case {case}, {threads} threads");
            }
            // The pool really runs tasks on several threads.
            let seen = Mutex::new(HashSet::new());
            parallel::parallel_for(64, &|_| {
                std::thread::sleep(std::time::Duration::from_millis(1));
                let index = rayon::current_thread_index();
                seen.lock().unwrap().insert(index);
            });
            let seen = seen.into_inner().unwrap();
            assert!(
                seen.len() == threads || (threads > 2 && seen.len() >= 2),
                "{threads} threads, tasks ran on {seen:?}"
            );
        });
    }
}

/// Attention with heads split over rayon pools of 1, 2 and 4 threads (and from inside the pool,
/// through `parallel::install`): identical to the serial kernel; a mask too short is refused
/// before any output is written.
#[cfg(all(feature = "threads", not(target_arch = "wasm32")))]
#[test]
fn attention_heads_give_identical_bits() {
    use wasmnn::kernels::attention::{
        attention, AttentionMask, AttentionOptions, AttentionScratch, AttentionShape,
    };
    use wasmnn::parallel::{self, AttentionScratches};

    let mut rng = Rng(23);
    // 7 heads: uneven runs of heads per task; seq_q > 64: two query blocks per head.
    let s = AttentionShape {
        heads: 7,
        seq_q: 80,
        seq_k: 96,
        head_dim: 32,
        value_dim: 24,
    };
    let q = rng.vec(s.heads * s.seq_q * s.head_dim);
    let k = rng.vec(s.heads * s.seq_k * s.head_dim);
    let v = rng.vec(s.heads * s.seq_k * s.value_dim);
    let mask = rng.vec(s.heads * s.seq_q * s.seq_k);
    let opts = AttentionOptions {
        scale: 0.125,
        mask: Some(AttentionMask {
            data: &mask,
            head_stride: s.seq_q * s.seq_k,
            row_stride: s.seq_k,
        }),
        causal: false,
    };
    let len = s.heads * s.seq_q * s.value_dim;
    let mut want = vec![0.0; len];
    attention(
        &q,
        &k,
        &v,
        &mut want,
        s,
        &opts,
        &mut AttentionScratch::default(),
    )
    .unwrap();
    for threads in [1, 2, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut scratch = AttentionScratches::default();
            for _ in 0..2 {
                let mut got = vec![f32::NAN; len];
                parallel::attention(&q, &k, &v, &mut got, s, &opts, &mut scratch).unwrap();
                assert!(same_bits(&got, &want), "attention, {threads} threads");
            }
            let mut short = opts;
            short.mask = Some(AttentionMask {
                data: &mask[..mask.len() - 1],
                ..opts.mask.unwrap()
            });
            let mut got = vec![f32::NAN; len];
            assert!(parallel::attention(&q, &k, &v, &mut got, s, &short, &mut scratch).is_err());
            assert!(got.iter().all(|x| x.is_nan()), "output untouched on error");
            assert!(parallel::install(rayon::current_thread_index).is_some());
        });
    }
}

/// A task that panics on a helper thread makes `parallel_for` panic on the calling thread: the
/// caller's wait for the helpers' last tasks must not spin forever on a task that never ends.
#[cfg(all(feature = "threads", not(target_arch = "wasm32")))]
#[test]
fn a_panicking_helper_task_propagates_instead_of_hanging() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| {
        let caller = std::thread::current().id();
        let result = std::panic::catch_unwind(|| {
            wasmnn::parallel::parallel_for(64, &|_| {
                // Long enough that the helper takes tasks before the caller has claimed them all.
                std::thread::sleep(std::time::Duration::from_millis(1));
                assert_eq!(std::thread::current().id(), caller, "a helper's task");
            });
        });
        assert!(result.is_err(), "the helper's panic reached the caller");
    });
}
