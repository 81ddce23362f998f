//! Shared test helpers: a deterministic RNG, strided matrices, an f64 reference GEMM and a
//! deterministic proptest runner.
#![allow(dead_code)]

pub mod conv;

/// SplitMix64: tiny, deterministic, identical on every target.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform integer in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }
    /// Uniform float in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// A strided layout for a `rows x cols` matrix.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    RowMajor,
    ColMajor,
    /// Row-major with `pad` unused elements after each row.
    PaddedRows(usize),
    /// Column-major with `pad` unused elements after each column.
    PaddedCols(usize),
}

impl Layout {
    pub const ALL: [Layout; 4] = [
        Layout::RowMajor,
        Layout::ColMajor,
        Layout::PaddedRows(3),
        Layout::PaddedCols(5),
    ];
    /// (row stride, col stride, buffer length).
    pub fn strides(self, rows: usize, cols: usize) -> (usize, usize, usize) {
        let (rs, cs) = match self {
            Layout::RowMajor => (cols, 1),
            Layout::ColMajor => (1, rows),
            Layout::PaddedRows(p) => (cols + p, 1),
            Layout::PaddedCols(p) => (1, rows + p),
        };
        let len = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        };
        (rs, cs, len)
    }
}

/// A matrix stored with a layout; unused (padding) elements hold `fill`.
pub struct Strided {
    pub data: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl Strided {
    pub fn new(
        rows: usize,
        cols: usize,
        layout: Layout,
        fill: f32,
        mut f: impl FnMut(usize, usize) -> f32,
    ) -> Self {
        let (rs, cs, len) = layout.strides(rows, cols);
        let mut data = vec![fill; len];
        for i in 0..rows {
            for j in 0..cols {
                data[i * rs + j * cs] = f(i, j);
            }
        }
        Self {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }
    pub fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
    pub fn view(&self) -> wasmnn_kernels::MatRef<'_> {
        wasmnn_kernels::MatRef::new(&self.data, self.rows, self.cols, self.rs, self.cs).unwrap()
    }
    pub fn view_mut(&mut self) -> wasmnn_kernels::MatMut<'_> {
        wasmnn_kernels::MatMut::new(&mut self.data, self.rows, self.cols, self.rs, self.cs).unwrap()
    }
}

/// `alpha * A B + beta * C` in f64 (C's value is ignored when beta == 0, as BLAS specifies).
pub fn reference_gemm(alpha: f64, a: &Strided, b: &Strided, beta: f64, c: &Strided) -> Vec<f64> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                s += a.at(i, p) as f64 * b.at(p, j) as f64;
            }
            let cij = if beta == 0.0 {
                0.0
            } else {
                beta * c.at(i, j) as f64
            };
            out[i * n + j] = alpha * s + cij;
        }
    }
    out
}

/// f64 reference of an activation.
pub fn reference_activation(act: wasmnn_kernels::Activation, x: f64) -> f64 {
    use wasmnn_kernels::Activation as A;
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    match act {
        A::Identity => x,
        A::Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        A::Clamp { min, max } => x.max(min as f64).min(max as f64),
        A::GeluErf => 0.5 * x * (1.0 + libm::erf(x / core::f64::consts::SQRT_2)),
        A::GeluTanh => {
            let u = (2.0 / core::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
            0.5 * x * (1.0 + u.tanh())
        }
        A::Silu => x * sigmoid(x),
        A::Sigmoid => sigmoid(x),
        A::Tanh => x.tanh(),
        A::HardSigmoid { alpha, beta } => (alpha as f64 * x + beta as f64).clamp(0.0, 1.0),
        A::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        _ => unreachable!("activation without reference"),
    }
}

/// A proptest runner for `cases` cases from a fixed seed, writing no failure files: the same
/// cases on every run and every target (the `proptest!` macro does not run on wasm).
pub fn proptest_runner(cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}
