//! Reusable workspaces give the same results as fresh ones: a [`QScratch`] carried across calls
//! of growing and shrinking shapes (stale data from a larger problem left in its buffers), and
//! the GEMM scratch carved from an arena (`qgemm_in`), exact against a scalar i32 reference or
//! bit-identical to a call with a fresh scratch. Runs natively, in Node and in headless
//! Chromium. (That a reused scratch allocates nothing is checked natively by the facade's
//! `tests/no_alloc.rs`.)
mod common;

use common::Rng;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_arena::Arena;
use wasmnn_kernels::{Activation, Error, MatRef};
use wasmnn_quant::conv::{conv2d_nhwc, conv2d_nhwc_scratch, ConvGeometry};
use wasmnn_quant::{
    qgemm_dynamic, qgemm_dynamic_par_scratch, qgemm_dynamic_scratch, qgemm_in, qgemm_par_scratch,
    qgemm_scratch, DynamicQuant, KernelChoice, PackedQB, QGemmOptions, QMatMut, QMatRef, QOutput,
    QScratch, QuantParams, Q8,
};

/// Shapes `(m, k, n)` in an order that grows and shrinks: the GEMV, tiles, M blocks, odd edges.
const SHAPES: [(usize, usize, usize); 6] = [
    (70, 300, 50),
    (1, 77, 33),
    (2, 16, 8),
    (33, 130, 41),
    (1, 300, 64),
    (5, 9, 3),
];

const KERNELS: [KernelChoice; 2] = [KernelChoice::Baseline, KernelChoice::Relaxed];

/// A problem: u8 A with a zero point, i8 B with per-column zero points, and its exact result.
struct Problem {
    m: usize,
    k: usize,
    n: usize,
    a: Vec<u8>,
    za: i32,
    b: PackedQB,
    expected: Vec<i32>,
}

fn problem(rng: &mut Rng, (m, k, n): (usize, usize, usize)) -> Problem {
    let a: Vec<u8> = (0..m * k).map(|_| rng.q::<u8>()).collect();
    let w: Vec<i8> = (0..k * n).map(|_| rng.q::<i8>()).collect();
    let zb: Vec<i32> = (0..n).map(|_| rng.int(-5, 5) as i32).collect();
    let scales = vec![1.0; n];
    let za = rng.int(0, 255) as i32;
    let params = QuantParams::PerChannel {
        scales: &scales,
        zero_points: &zb,
    };
    let b = PackedQB::from_row_major(&w, k, n, params).unwrap();
    let mut expected = vec![0i32; m * n];
    for i in 0..m {
        for j in 0..n {
            expected[i * n + j] = (0..k).fold(0i32, |s, p| {
                let x = a[i * k + p] as i32 - za;
                let y = w[p * n + j].to_i32() - zb[j];
                s.wrapping_add(x.wrapping_mul(y))
            });
        }
    }
    Problem {
        m,
        k,
        n,
        a,
        za,
        b,
        expected,
    }
}

impl Problem {
    fn a(&self) -> QMatRef<'_, u8> {
        QMatRef::row_major(&self.a, self.m, self.k).unwrap()
    }
    fn a_params(&self) -> QuantParams<'static> {
        QuantParams::PerTensor {
            scale: 1.0,
            zero_point: self.za,
        }
    }
}

/// Runs the tasks backwards on this thread: any order must give the same bits.
fn backwards(count: usize, task: &(dyn Fn(usize) + Sync)) {
    (0..count).rev().for_each(task);
}

#[wasm_bindgen_test(unsupported = test)]
fn reused_scratch_is_exact_across_shapes() {
    let mut rng = Rng::new(11);
    let mut scratch = QScratch::new();
    for _round in 0..2 {
        for shape in SHAPES {
            let p = problem(&mut rng, shape);
            for kernel in KERNELS {
                let opts = QGemmOptions { kernel, mc: 0 };
                let mut c = vec![0i32; p.m * p.n];
                let out = QOutput::I32(QMatMut::row_major(&mut c, p.m, p.n).unwrap());
                qgemm_scratch(p.a(), p.a_params(), &p.b, out, opts, &mut scratch).unwrap();
                assert_eq!(c, p.expected, "{shape:?} {kernel:?}");
            }
            let mut c = vec![0i32; p.m * p.n];
            let out = QOutput::I32(QMatMut::row_major(&mut c, p.m, p.n).unwrap());
            qgemm_par_scratch(p.a(), p.a_params(), &p.b, out, 3, &backwards, &mut scratch).unwrap();
            assert_eq!(c, p.expected, "{shape:?} 3 threads");
        }
    }
    assert!(scratch.bytes() > 0);
}

#[wasm_bindgen_test(unsupported = test)]
fn arena_scratch_is_exact() {
    let mut rng = Rng::new(12);
    let mut arena = Arena::with_capacity(2 << 20).unwrap();
    for shape in SHAPES {
        let p = problem(&mut rng, shape);
        for kernel in KERNELS {
            let opts = QGemmOptions { kernel, mc: 0 };
            let mut c = vec![0i32; p.m * p.n];
            {
                let scope = arena.scope();
                let out = QOutput::I32(QMatMut::row_major(&mut c, p.m, p.n).unwrap());
                qgemm_in(&scope, p.a(), p.a_params(), &p.b, out, opts).unwrap();
            }
            assert_eq!(c, p.expected, "{shape:?} {kernel:?}");
            assert_eq!(arena.used(), 0, "the scope gives the scratch back");
        }
    }
    assert!(arena.peak() > 0);
}

#[wasm_bindgen_test(unsupported = test)]
fn arena_too_small_is_a_typed_error() {
    let mut rng = Rng::new(13);
    let p = problem(&mut rng, (8, 300, 16));
    let mut arena = Arena::with_capacity(512).unwrap();
    for kernel in KERNELS {
        let opts = QGemmOptions { kernel, mc: 0 };
        let mut c = vec![7i32; p.m * p.n];
        let out = QOutput::I32(QMatMut::row_major(&mut c, p.m, p.n).unwrap());
        let err = qgemm_in(&arena.scope(), p.a(), p.a_params(), &p.b, out, opts);
        assert!(
            matches!(err, Err(Error::BufferTooSmall { needed, len, .. }) if needed > len),
            "{err:?}"
        );
        assert!(c.iter().all(|&v| v == 7), "output untouched on error");
        assert_eq!(arena.used(), 0);
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn reused_dynamic_scratch_matches_a_fresh_one() {
    let mut rng = Rng::new(14);
    let mut scratch = QScratch::new();
    for (m, k, n) in SHAPES {
        let w: Vec<f32> = (0..k * n).map(|_| rng.unit()).collect();
        let b = PackedQB::quantize_f32(MatRef::row_major(&w, k, n).unwrap()).unwrap();
        let x: Vec<f32> = (0..m * k).map(|_| 3.0 * rng.unit()).collect();
        let x2: Vec<f32> = x.iter().flat_map(|&v| [v, f32::NAN]).collect();
        let views = [
            MatRef::row_major(&x, m, k).unwrap(),
            MatRef::new(&x2, m, k, 2 * k, 2).unwrap(),
        ];
        for a in views {
            for quant in [DynamicQuant::PerTensor, DynamicQuant::PerRow] {
                let what = format!("{m}x{k}x{n} {quant:?} col stride {}", a.col_stride());
                let mut fresh = vec![0.0f32; m * n];
                let c = QMatMut::row_major(&mut fresh, m, n).unwrap();
                qgemm_dynamic(a, quant, &b, out(c)).unwrap();
                let mut y = vec![0.0f32; m * n];
                let c = QMatMut::row_major(&mut y, m, n).unwrap();
                let opts = QGemmOptions::default();
                qgemm_dynamic_scratch(a, quant, &b, out(c), opts, &mut scratch).unwrap();
                assert_eq!(bits(&y), bits(&fresh), "{what}");
                let c = QMatMut::row_major(&mut y, m, n).unwrap();
                qgemm_dynamic_par_scratch(a, quant, &b, out(c), 3, &backwards, &mut scratch)
                    .unwrap();
                assert_eq!(bits(&y), bits(&fresh), "{what} 3 threads");
            }
        }
    }
}

/// Dequantized f32 output without bias or activation.
fn out(c: QMatMut<'_, f32>) -> QOutput<'_> {
    QOutput::F32 {
        c,
        bias: None,
        activation: Activation::Identity,
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The im2col buffer is shared by u8 and i8 inputs and by every geometry.
#[wasm_bindgen_test(unsupported = test)]
fn reused_conv_scratch_matches_a_fresh_one() {
    let mut rng = Rng::new(15);
    let mut scratch = QScratch::new();
    let (n, h, w, c, cout) = (2, 9, 7, 5, 12);
    for g in [
        ConvGeometry::square(3, 1, 1),
        ConvGeometry::square(1, 1, 0),
        ConvGeometry::square(3, 2, 0),
        ConvGeometry::square(5, 1, 2),
    ] {
        let (kh, kw) = g.kernel;
        let k = kh * kw * c;
        let wq: Vec<i8> = (0..k * cout).map(|_| rng.q::<i8>()).collect();
        let wts = PackedQB::from_row_major(&wq, k, cout, QuantParams::IDENTITY).unwrap();
        let (ho, wo) = g.output_hw(h, w).unwrap();
        let rows = n * ho * wo;
        let xu: Vec<u8> = (0..n * h * w * c).map(|_| rng.q::<u8>()).collect();
        let xi: Vec<i8> = (0..n * h * w * c).map(|_| rng.q::<i8>()).collect();
        let pu = QuantParams::PerTensor {
            scale: 1.0,
            zero_point: 130,
        };
        let pi = QuantParams::PerTensor {
            scale: 1.0,
            zero_point: -7,
        };
        let run = |fresh: bool, u8_input: bool, scratch: &mut QScratch| {
            let mut y = vec![0i32; rows * cout];
            let out = QOutput::I32(QMatMut::row_major(&mut y, rows, cout).unwrap());
            let shape = [n, h, w, c];
            match (fresh, u8_input) {
                (true, true) => conv2d_nhwc(&xu, shape, pu, &wts, g, out),
                (true, false) => conv2d_nhwc(&xi, shape, pi, &wts, g, out),
                (false, true) => conv2d_nhwc_scratch(&xu, shape, pu, &wts, g, out, scratch),
                (false, false) => conv2d_nhwc_scratch(&xi, shape, pi, &wts, g, out, scratch),
            }
            .unwrap();
            y
        };
        for u8_input in [true, false] {
            let expected = run(true, u8_input, &mut scratch);
            assert_eq!(
                run(false, u8_input, &mut scratch),
                expected,
                "{g:?} u8 {u8_input}"
            );
        }
    }
}
