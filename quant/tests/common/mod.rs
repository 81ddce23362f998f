//! Shared test helpers: a deterministic RNG, strided 8-bit matrices and scalar references.
#![allow(dead_code)]

use wasmnn_quant::{QMatMut, QMatRef, Q8};

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
    /// A uniform value of `Z`.
    pub fn q<Z: Q8>(&mut self) -> Z {
        Z::saturate(self.int(Z::MIN_Q as i64, Z::MAX_Q as i64) as i32)
    }
}

/// A strided layout for a `rows x cols` matrix.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    RowMajor,
    ColMajor,
    /// Row-major with `pad` unused elements after each row.
    PaddedRows(usize),
}

impl Layout {
    pub const ALL: [Layout; 3] = [Layout::RowMajor, Layout::ColMajor, Layout::PaddedRows(3)];
    /// (row stride, col stride, buffer length).
    pub fn strides(self, rows: usize, cols: usize) -> (usize, usize, usize) {
        let (rs, cs) = match self {
            Layout::RowMajor => (cols, 1),
            Layout::ColMajor => (1, rows),
            Layout::PaddedRows(p) => (cols + p, 1),
        };
        let len = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        };
        (rs, cs, len)
    }
}

/// A matrix of any element type stored with a layout; unused elements hold `fill`.
#[derive(Clone, Debug)]
pub struct Strided<T> {
    pub data: Vec<T>,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<T: Copy + PartialEq + std::fmt::Debug> Strided<T> {
    pub fn new(
        rows: usize,
        cols: usize,
        layout: Layout,
        fill: T,
        mut f: impl FnMut(usize, usize) -> T,
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
    pub fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.rs + j * self.cs]
    }
    pub fn view(&self) -> QMatRef<'_, T> {
        QMatRef::new(&self.data, self.rows, self.cols, self.rs, self.cs).unwrap()
    }
    pub fn view_mut(&mut self) -> QMatMut<'_, T> {
        QMatMut::new(&mut self.data, self.rows, self.cols, self.rs, self.cs).unwrap()
    }
    /// The elements of the buffer outside the matrix (must never be written).
    pub fn padding(&self) -> Vec<(usize, T)> {
        let mut inside = vec![false; self.data.len()];
        for i in 0..self.rows {
            for j in 0..self.cols {
                inside[i * self.rs + j * self.cs] = true;
            }
        }
        self.data
            .iter()
            .enumerate()
            .filter(|(p, _)| !inside[*p])
            .map(|(p, v)| (p, *v))
            .collect()
    }
}

/// `sum_k (a[i][k] - za[i]) (b[k][j] - zb[j])` in wrapping i32 (row-major result).
pub fn reference_i32<A: Q8, B: Q8>(
    a: &Strided<A>,
    za: &dyn Fn(usize) -> i32,
    b: &Strided<B>,
    zb: &dyn Fn(usize) -> i32,
) -> Vec<i32> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut out = vec![0i32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0i32;
            for p in 0..k {
                let x = a.at(i, p).to_i32() - za(i);
                let y = b.at(p, j).to_i32() - zb(j);
                s = s.wrapping_add(x.wrapping_mul(y));
            }
            out[i * n + j] = s;
        }
    }
    out
}

/// Round half to even in f32 (std's, independent of the crate's implementation).
pub fn rte(x: f32) -> f32 {
    x.round_ties_even()
}

/// ONNX QuantizeLinear of one value, written from the spec: saturate(round(x / s) + zp); NaN
/// counts as 0 (the crate's documented choice: it becomes the zero point).
pub fn quantize_ref<Z: Q8>(x: f32, scale: f32, zp: i32) -> Z {
    let r = rte(x / scale);
    if r.is_nan() {
        return Z::saturate(zp);
    }
    let v = if r >= 1e9 {
        i64::MAX / 4
    } else if r <= -1e9 {
        i64::MIN / 4
    } else {
        r as i64 + zp as i64
    };
    Z::saturate(v.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
}

/// ONNX DynamicQuantizeLinear parameters of `x` for `Z`, written from the spec in f32:
/// range including 0, scale = (max - min) / (qmax - qmin) (1 when the range is empty),
/// zero point = round_half_even(clamp(qmin - min / scale)). NaN values are ignored.
pub fn dynamic_ref<Z: Q8>(x: &[f32]) -> (f32, i32) {
    let (mut lo, mut hi) = (0.0f32, 0.0f32);
    for &v in x {
        if v < lo {
            lo = v;
        }
        if v > hi {
            hi = v;
        }
    }
    let (qmin, qmax) = (Z::MIN_Q as f32, Z::MAX_Q as f32);
    let mut scale = if hi == lo {
        1.0
    } else {
        (hi - lo) / (qmax - qmin)
    };
    if !(scale.is_finite() && scale > 0.0) {
        scale = 1.0;
    }
    let zp = rte((qmin - lo / scale).clamp(qmin, qmax)) as i32;
    (scale, zp)
}

/// The f32 dequantization epilogue of one element, with the documented operation order.
pub fn dequant_ref(
    acc: i32,
    sa: f32,
    sb: f32,
    bias: Option<f32>,
    act: wasmnn_kernels::Activation,
) -> f32 {
    let mut y = acc as f32 * (sa * sb);
    if let Some(b) = bias {
        y += b;
    }
    if act == wasmnn_kernels::Activation::Identity {
        y
    } else {
        act.apply_scalar(y)
    }
}

/// The requantization of one element from the spec: zp + clamp(round_half_even(f32(acc + bias)
/// * ((sa * sb) / scale)), qmin - zp, qmax - zp).
pub fn requant_ref<Z: Q8>(acc: i32, bias: i32, sa: f32, sb: f32, scale: f32, zp: i32) -> Z {
    let m = (sa * sb) / scale;
    let y = rte(acc.wrapping_add(bias) as f32 * m);
    let y = y.clamp((Z::MIN_Q - zp) as f32, (Z::MAX_Q - zp) as f32);
    Z::saturate(y as i32 + zp)
}
