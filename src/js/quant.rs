//! JavaScript bindings of the int8 path: `QuantMatrix` (packed int8 weights with the ONNX-shaped
//! products), `QLinear` (f32 in/out, int8 weights) and `QGemmBench` (resident buffers, for
//! timing the kernel alone).
//!
//! ```js
//! const b = new QuantMatrix(int8Weights, k, n, new Float32Array([0.01]), undefined);
//! const y = b.matmul_integer_u8(uint8A, m, 128);   // Int32Array, MatMulInteger
//! const z = b.dynamic_quant_matmul(float32A, m);   // Float32Array, DynamicQuantizeLinear chain
//! const fc = QLinear.quantize(weights, k, n, bias, 'gelu');
//! const h = fc.forward(x, m);
//! ```
use super::staging::{staged_into, TypedArray};
use super::{elements, expect_len, js_err, parse_activation};
use crate::quant::onnx::{dynamic_quant_matmul, matmul_integer};
use crate::quant::{PackedQB, QLinear, QMatMut, QMatRef, QuantParams};
use crate::{Error, MatRef};
use js_sys::{Float32Array, Int32Array, Uint8Array};
use wasm_bindgen::prelude::*;

/// Per-tensor (one value) or per-column (`n` values) parameters from JS arrays.
fn weight_params<'a>(scales: &'a [f32], zero_points: &'a [i32]) -> QuantParams<'a> {
    if scales.len() == 1 && zero_points.len() <= 1 {
        QuantParams::PerTensor {
            scale: scales[0],
            zero_point: zero_points.first().copied().unwrap_or(0),
        }
    } else {
        // Lengths other than n are reported by the packing (typed errors).
        QuantParams::PerChannel {
            scales,
            zero_points,
        }
    }
}

/// Int8 (or uint8) weights `B` (`k x n`) packed once, with their scales and zero points.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct QuantMatrix {
    inner: PackedQB,
}

impl QuantMatrix {
    fn wrap(inner: PackedQB) -> QuantMatrix {
        QuantMatrix { inner }
    }

    /// Checks `a` (`m x k`) and `out` (`m x n`) lengths before anything is copied.
    fn expect_lengths(&self, a_len: usize, m: usize, out_len: usize) -> Result<(), Error> {
        expect_len("length of a (= m * k)", a_len, m, self.inner.k())?;
        expect_len("length of out (= m * n)", out_len, m, self.inner.n())
    }
}

#[wasm_bindgen]
impl QuantMatrix {
    /// Packs row-major int8 weights (`Int8Array`, `k * n`) with `scales` (1 or `n` values) and
    /// optional zero points (`Int32Array` of 1 or `n` values).
    #[wasm_bindgen(constructor)]
    pub fn new(
        b: &[i8],
        k: usize,
        n: usize,
        scales: &[f32],
        zero_points: Option<Vec<i32>>,
    ) -> Result<QuantMatrix, JsError> {
        let zp = zero_points.unwrap_or_default();
        expect_len("length of b (= k * n)", b.len(), k, n).map_err(js_err)?;
        let inner =
            PackedQB::from_row_major(b, k, n, weight_params(scales, &zp)).map_err(js_err)?;
        Ok(QuantMatrix::wrap(inner))
    }

    /// Packs row-major uint8 weights (`Uint8Array`), as [`QuantMatrix::new`].
    pub fn from_u8(
        b: &[u8],
        k: usize,
        n: usize,
        scales: &[f32],
        zero_points: Option<Vec<i32>>,
    ) -> Result<QuantMatrix, JsError> {
        let zp = zero_points.unwrap_or_default();
        expect_len("length of b (= k * n)", b.len(), k, n).map_err(js_err)?;
        let inner =
            PackedQB::from_row_major(b, k, n, weight_params(scales, &zp)).map_err(js_err)?;
        Ok(QuantMatrix::wrap(inner))
    }

    /// Quantizes row-major f32 weights to int8, symmetric, one scale per column.
    pub fn quantize(w: &[f32], k: usize, n: usize) -> Result<QuantMatrix, JsError> {
        expect_len("length of w (= k * n)", w.len(), k, n).map_err(js_err)?;
        let inner = MatRef::row_major(w, k, n)
            .and_then(PackedQB::quantize_f32)
            .map_err(js_err)?;
        Ok(QuantMatrix::wrap(inner))
    }

    /// Rows of `B`.
    #[wasm_bindgen(getter)]
    pub fn k(&self) -> usize {
        self.inner.k()
    }

    /// Columns of `B`.
    #[wasm_bindgen(getter)]
    pub fn n(&self) -> usize {
        self.inner.n()
    }

    /// ONNX `MatMulInteger` with uint8 `A` (`m x k`) and one zero point: an `Int32Array`.
    pub fn matmul_integer_u8(
        &self,
        a: &[u8],
        m: usize,
        a_zero_point: i32,
    ) -> Result<Vec<i32>, JsError> {
        integer_product(&self.inner, a, m, a_zero_point).map_err(js_err)
    }

    /// ONNX `MatMulInteger` with int8 `A`.
    pub fn matmul_integer_i8(
        &self,
        a: &[i8],
        m: usize,
        a_zero_point: i32,
    ) -> Result<Vec<i32>, JsError> {
        integer_product(&self.inner, a, m, a_zero_point).map_err(js_err)
    }

    /// `DynamicQuantizeLinear(A) -> MatMulInteger -> Cast -> Mul(a_scale * b_scale)` for f32
    /// `A` (`m x k`): a `Float32Array` (`m x n`).
    pub fn dynamic_quant_matmul(&self, a: &[f32], m: usize) -> Result<Vec<f32>, JsError> {
        dynamic_product(&self.inner, a, m).map_err(js_err)
    }

    /// [`QuantMatrix::matmul_integer_u8`] from a `Uint8Array` into a caller's `Int32Array` of
    /// exactly `m * n` elements: one copy in, one copy out, no allocation per call (see
    /// `staging.rs`; in Chromium a fresh 1 MiB result array costs ~0.3 ms of page faults).
    pub fn matmul_integer_u8_into(
        &self,
        a: &Uint8Array,
        m: usize,
        a_zero_point: i32,
        out: &Int32Array,
    ) -> Result<(), JsError> {
        self.expect_lengths(a.len(), m, out.len()).map_err(js_err)?;
        staged_into(a, out, |a, y| {
            integer_product_into(&self.inner, a, m, a_zero_point, y)
        })
    }

    /// [`QuantMatrix::dynamic_quant_matmul`] from a `Float32Array` into a caller's
    /// `Float32Array` of `m * n` elements (staged like [`QuantMatrix::matmul_integer_u8_into`]).
    pub fn dynamic_quant_matmul_into(
        &self,
        a: &Float32Array,
        m: usize,
        out: &Float32Array,
    ) -> Result<(), JsError> {
        self.expect_lengths(a.len(), m, out.len()).map_err(js_err)?;
        staged_into(a, out, |a, y| dynamic_product_into(&self.inner, a, m, y))
    }
}

fn integer_product<A: crate::quant::Q8>(
    b: &PackedQB,
    a: &[A],
    m: usize,
    zp: i32,
) -> Result<Vec<i32>, Error> {
    let mut y = vec![0i32; elements("y", m, b.n())?];
    integer_product_into(b, a, m, zp, &mut y)?;
    Ok(y)
}

fn integer_product_into<A: crate::quant::Q8>(
    b: &PackedQB,
    a: &[A],
    m: usize,
    zp: i32,
    y: &mut [i32],
) -> Result<(), Error> {
    let (k, n) = (b.k(), b.n());
    expect_len("length of a (= m * k)", a.len(), m, k)?;
    expect_len("length of out (= m * n)", y.len(), m, n)?;
    matmul_integer(
        QMatRef::row_major(a, m, k)?,
        &[zp],
        b,
        QMatMut::row_major(y, m, n)?,
    )
}

fn dynamic_product(b: &PackedQB, a: &[f32], m: usize) -> Result<Vec<f32>, Error> {
    let mut y = vec![0.0f32; elements("y", m, b.n())?];
    dynamic_product_into(b, a, m, &mut y)?;
    Ok(y)
}

fn dynamic_product_into(b: &PackedQB, a: &[f32], m: usize, y: &mut [f32]) -> Result<(), Error> {
    let (k, n) = (b.k(), b.n());
    expect_len("length of a (= m * k)", a.len(), m, k)?;
    expect_len("length of out (= m * n)", y.len(), m, n)?;
    dynamic_quant_matmul(MatRef::row_major(a, m, k)?, b, QMatMut::row_major(y, m, n)?)
}

/// A dense layer with int8 weights (JavaScript class `QLinear`): `y = act(x W + b)`, f32 in
/// and out, activations quantized per row on the fly.
#[wasm_bindgen(js_name = QLinear)]
#[derive(Clone, Debug)]
pub struct JsQLinear {
    inner: QLinear,
}

#[wasm_bindgen(js_class = QLinear)]
impl JsQLinear {
    /// Quantizes row-major f32 weights `w[in][out]`; optional bias (`out_features`); activation
    /// names as for `Linear`.
    pub fn quantize(
        w: &[f32],
        in_features: usize,
        out_features: usize,
        bias: Option<Vec<f32>>,
        activation: &str,
    ) -> Result<JsQLinear, JsError> {
        let act = parse_activation(activation).map_err(|e| JsError::new(&e))?;
        let inner =
            QLinear::new(w, in_features, out_features, bias.as_deref(), act).map_err(js_err)?;
        Ok(JsQLinear { inner })
    }

    /// `act(x W + b)` for `rows` row-major rows: a new `Float32Array`.
    pub fn forward(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, JsError> {
        let n = self.inner.out_features();
        let mut y = vec![0.0f32; elements("y", rows, n).map_err(js_err)?];
        self.inner.forward(x, rows, &mut y).map_err(js_err)?;
        Ok(y)
    }
}

/// Kernel-only benchmark of the int8 products on buffers resident in wasm memory:
/// `"int8_matmul"` (uint8 A with a zero point, i32 out) or `"int8_dyn"` (f32 A, f32 out).
#[wasm_bindgen]
#[derive(Debug)]
pub struct QGemmBench {
    op: String,
    a_u8: Vec<u8>,
    a_f32: Vec<f32>,
    a_zero_point: i32,
    m: usize,
    b: PackedQB,
    y_i32: Vec<i32>,
    y_f32: Vec<f32>,
}

#[wasm_bindgen]
impl QGemmBench {
    /// `op` = `"int8_matmul"`: `a_u8` (`m x k`), `a_zero_point`; `"int8_dyn"`: `a_f32`.
    /// `b` is row-major int8 `k x n` with one scale `b_scale`.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        op: &str,
        a_u8: Option<Vec<u8>>,
        a_f32: Option<Vec<f32>>,
        a_zero_point: i32,
        m: usize,
        b: &[i8],
        k: usize,
        n: usize,
        b_scale: f32,
    ) -> Result<QGemmBench, JsError> {
        if op != "int8_matmul" && op != "int8_dyn" {
            return Err(JsError::new(&format!(
                "unknown op {op:?}; valid ops: int8_matmul, int8_dyn"
            )));
        }
        let b = QuantMatrix::new(b, k, n, &[b_scale], None)?.inner;
        let y_len = elements("y", m, n).map_err(js_err)?;
        let mut bench = QGemmBench {
            op: op.to_string(),
            a_u8: a_u8.unwrap_or_default(),
            a_f32: a_f32.unwrap_or_default(),
            a_zero_point,
            m,
            b,
            y_i32: vec![0; if op == "int8_matmul" { y_len } else { 0 }],
            y_f32: vec![0.0; if op == "int8_dyn" { y_len } else { 0 }],
        };
        bench.run_once().map_err(js_err)?; // validates shapes once, up front
        Ok(bench)
    }

    /// Runs the product `reps` times (the output is overwritten each time).
    pub fn run(&mut self, reps: u32) -> Result<(), JsError> {
        for _ in 0..reps {
            self.run_once().map_err(js_err)?;
        }
        Ok(())
    }

    fn run_once(&mut self) -> Result<(), Error> {
        let (m, k, n) = (self.m, self.b.k(), self.b.n());
        if self.op == "int8_matmul" {
            matmul_integer(
                QMatRef::row_major(&self.a_u8, m, k)?,
                &[self.a_zero_point],
                &self.b,
                QMatMut::row_major(&mut self.y_i32, m, n)?,
            )
        } else {
            dynamic_quant_matmul(
                MatRef::row_major(&self.a_f32, m, k)?,
                &self.b,
                QMatMut::row_major(&mut self.y_f32, m, n)?,
            )
        }
    }

    /// The output of the last run as a `Float64Array` (for verification).
    pub fn output(&self) -> Vec<f64> {
        if self.op == "int8_matmul" {
            self.y_i32.iter().map(|&v| v as f64).collect()
        } else {
            self.y_f32.iter().map(|&v| v as f64).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_and_dynamic_products() {
        let b = QuantMatrix::new(&[1, -2, 3, 4], 2, 2, &[0.5], None).unwrap();
        let y = integer_product(&b.inner, &[129u8, 130], 1, 128).unwrap();
        assert_eq!(y, vec![1 + 2 * 3, -2 + 2 * 4]);
        assert!(integer_product(&b.inner, &[1u8, 2, 3], 1, 0).is_err());
        let mut out = [0i32; 3];
        assert!(integer_product_into(&b.inner, &[1u8, 2], 1, 0, &mut out).is_err());
        let mut out = [0i32; 2];
        integer_product_into(&b.inner, &[129u8, 130], 1, 128, &mut out).unwrap();
        assert_eq!(out, [7, 6]);
        let z = dynamic_product(&b.inner, &[1.0, 1.0], 1).unwrap();
        assert!(
            (z[0] - 2.0).abs() < 0.05 && (z[1] - 1.0).abs() < 0.05,
            "{z:?}"
        );
        let mut bench = QGemmBench::new(
            "int8_matmul",
            Some(vec![129, 130]),
            None,
            128,
            1,
            &[1, -2, 3, 4],
            2,
            2,
            1.0,
        )
        .unwrap();
        bench.run_once().unwrap();
        assert_eq!(bench.output(), vec![7.0, 6.0]);
    }
}
