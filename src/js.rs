//! JavaScript bindings (`--features js`, built with `wasm-bindgen --target web`).
//!
//! Every function checks its shapes and returns a `JsError` (a thrown `Error` in JavaScript)
//! instead of panicking. Slices passed in from JavaScript are copied into wasm memory by the
//! generated glue, and returned `Vec<f32>`s are copied out into a fresh `Float32Array`; the
//! `_into` forms take typed arrays and copy through reused staging buffers instead
//! (`staging.rs`).
//!
//! ```js
//! import init, { PackedMatrix, Linear, build_info } from './pkg/wasmnn.js';
//! await init();
//! const w = new PackedMatrix(weights, k, n);     // packed once
//! const y = w.matmul(x, m);                      // Float32Array, m x n
//! const fc = new Linear(weights, k, n, bias, 'gelu');
//! const z = fc.forward(x, m);
//! ```
//!
//! [`MatmulBench`] keeps its operands resident in wasm memory so that the GEMM alone can be
//! timed, without the copies across the JavaScript boundary.
// Products go through the parallel GEMM: all threads after `initThreadPool`, one otherwise.
use crate::parallel::gemm_packed;
use crate::{Activation, EpilogueOp, Error, MatMut, MatRef, PackedB};
use js_sys::Float32Array;
use staging::{staged_into, TypedArray};
use wasm_bindgen::prelude::*;

mod conv;
mod graph;
mod threads;
pub use conv::*;
pub use graph::*;
pub use threads::*;
mod rows;
pub use rows::*;
mod quant;
pub use quant::*;
mod staging;

/// The activation names accepted by [`JsLinear::new`] and [`MatmulBench::new`].
const ACTIVATIONS: &str = "none, relu, gelu, gelu_tanh, silu, sigmoid, tanh, hardswish";

/// Parses an activation name; the error message lists the valid names.
fn parse_activation(name: &str) -> Result<Activation, String> {
    Ok(match name {
        "none" => Activation::Identity,
        "relu" => Activation::Relu,
        "gelu" => Activation::GeluErf,
        "gelu_tanh" => Activation::GeluTanh,
        "silu" => Activation::Silu,
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "hardswish" => Activation::HardSwish,
        other => {
            return Err(format!(
                "unknown activation {other:?}; valid activations: {ACTIVATIONS}"
            ))
        }
    })
}

/// `rows * cols`, or an overflow error naming the operand.
fn elements(what: &'static str, rows: usize, cols: usize) -> Result<usize, Error> {
    rows.checked_mul(cols).ok_or(Error::Overflow { what })
}

/// Checks that a dense row-major buffer holds exactly `rows * cols` elements.
fn expect_len(what: &'static str, len: usize, rows: usize, cols: usize) -> Result<(), Error> {
    let expected = elements(what, rows, cols)?;
    if len == expected {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what,
            expected,
            found: len,
        })
    }
}

/// Builds the epilogue list `[bias] [activation]` in `list`, returning the used prefix.
fn epilogue<'a>(
    bias: Option<&'a [f32]>,
    activation: Activation,
    list: &'a mut [EpilogueOp<'a>; 2],
) -> &'a [EpilogueOp<'a>] {
    let mut len = 0;
    if let Some(b) = bias {
        list[len] = EpilogueOp::AddColBias(b);
        len += 1;
    }
    if activation != Activation::Identity {
        list[len] = EpilogueOp::Activation(activation);
        len += 1;
    }
    &list[..len]
}

/// `c = epilogue(a · b)` for a dense row-major `a` (`m x k`) and `c` (`m x n`).
fn gemm_dense(
    a: &[f32],
    m: usize,
    b: &PackedB,
    c: &mut [f32],
    ops: &[EpilogueOp<'_>],
) -> Result<(), Error> {
    let (k, n) = (b.k(), b.n());
    expect_len("length of a (= m * k)", a.len(), m, k)?;
    expect_len("length of out (= m * n)", c.len(), m, n)?;
    gemm_packed(
        1.0,
        MatRef::row_major(a, m, k)?,
        b,
        0.0,
        MatMut::row_major(c, m, n)?,
        ops,
    )
}

/// Converts a kernel error into a JavaScript `Error`.
fn js_err(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

/// A weight matrix `B` (`k x n`) packed once for repeated products `A B`.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct PackedMatrix {
    inner: PackedB,
}

#[wasm_bindgen]
impl PackedMatrix {
    /// Packs a dense row-major `k x n` matrix (`data.length == k * n`).
    #[wasm_bindgen(constructor)]
    pub fn new(data: &[f32], k: usize, n: usize) -> Result<PackedMatrix, JsError> {
        Self::build(data, k, n).map_err(js_err)
    }

    fn build(data: &[f32], k: usize, n: usize) -> Result<PackedMatrix, Error> {
        expect_len("length of b (= k * n)", data.len(), k, n)?;
        Ok(PackedMatrix {
            inner: PackedB::from_row_major(data, k, n)?,
        })
    }

    /// Rows of `B` (the inner dimension of the product).
    #[wasm_bindgen(getter)]
    pub fn k(&self) -> usize {
        self.inner.k()
    }

    /// Columns of `B`.
    #[wasm_bindgen(getter)]
    pub fn n(&self) -> usize {
        self.inner.n()
    }

    /// `A B` for a dense row-major `A` (`m x k`); returns a new `Float32Array` (`m x n`).
    pub fn matmul(&self, a: &[f32], m: usize) -> Result<Vec<f32>, JsError> {
        self.product(a, m).map_err(js_err)
    }

    /// `out = A B` into a caller-provided `Float32Array` of exactly `m * n` elements: one copy
    /// in, one copy out, no allocation per call (see `staging.rs`).
    pub fn matmul_into(
        &self,
        a: &Float32Array,
        m: usize,
        out: &Float32Array,
    ) -> Result<(), JsError> {
        let (k, n) = (self.inner.k(), self.inner.n());
        expect_len("length of a (= m * k)", a.len(), m, k).map_err(js_err)?;
        expect_len("length of out (= m * n)", out.len(), m, n).map_err(js_err)?;
        staged_into(a, out, |a, c| gemm_dense(a, m, &self.inner, c, &[]))
    }

    fn product(&self, a: &[f32], m: usize) -> Result<Vec<f32>, Error> {
        let mut out = vec![0.0; elements("out", m, self.inner.n())?];
        gemm_dense(a, m, &self.inner, &mut out, &[])?;
        Ok(out)
    }
}

/// A dense layer `y = act(x W + b)` (JavaScript class `Linear`), weights packed once.
#[wasm_bindgen(js_name = Linear)]
#[derive(Clone, Debug)]
pub struct JsLinear {
    inner: crate::Linear,
}

#[wasm_bindgen(js_class = Linear)]
impl JsLinear {
    /// Builds the layer from row-major weights `w[in][out]`, an optional bias of length
    /// `out_features` and an activation: `"none"`, `"relu"`, `"gelu"` (erf form),
    /// `"gelu_tanh"`, `"silu"`, `"sigmoid"`, `"tanh"` or `"hardswish"`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        weights: &[f32],
        in_features: usize,
        out_features: usize,
        bias: Option<Vec<f32>>,
        activation: &str,
    ) -> Result<JsLinear, JsError> {
        let activation = parse_activation(activation).map_err(|e| JsError::new(&e))?;
        Self::build(weights, in_features, out_features, bias, activation).map_err(js_err)
    }

    fn build(
        weights: &[f32],
        in_features: usize,
        out_features: usize,
        bias: Option<Vec<f32>>,
        activation: Activation,
    ) -> Result<JsLinear, Error> {
        expect_len(
            "length of weights (= in_features * out_features)",
            weights.len(),
            in_features,
            out_features,
        )?;
        let inner = crate::Linear::new(
            weights,
            in_features,
            out_features,
            bias.as_deref(),
            activation,
        )?;
        Ok(JsLinear { inner })
    }

    /// Input width.
    #[wasm_bindgen(getter)]
    pub fn in_features(&self) -> usize {
        self.inner.in_features()
    }

    /// Output width.
    #[wasm_bindgen(getter)]
    pub fn out_features(&self) -> usize {
        self.inner.out_features()
    }

    /// `act(x W + b)` for `rows` row-major input rows (`x.length == rows * in_features`);
    /// returns a new `Float32Array` of `rows * out_features` elements.
    pub fn forward(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, JsError> {
        self.apply(x, rows).map_err(js_err)
    }

    /// `y = act(x W + b)` into a caller-provided `Float32Array` of exactly
    /// `rows * out_features` elements: one copy in, one copy out, no allocation per call.
    pub fn forward_into(
        &self,
        x: &Float32Array,
        rows: usize,
        y: &Float32Array,
    ) -> Result<(), JsError> {
        let (k, n) = (self.inner.in_features(), self.inner.out_features());
        expect_len("length of x (= rows * in_features)", x.len(), rows, k).map_err(js_err)?;
        expect_len("length of y (= rows * out_features)", y.len(), rows, n).map_err(js_err)?;
        staged_into(x, y, |x, y| self.apply_into(x, rows, y))
    }

    fn apply(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, Error> {
        let mut y = vec![0.0; elements("y", rows, self.inner.out_features())?];
        self.apply_into(x, rows, &mut y)?;
        Ok(y)
    }

    fn apply_into(&self, x: &[f32], rows: usize, y: &mut [f32]) -> Result<(), Error> {
        expect_len(
            "length of x (= rows * in_features)",
            x.len(),
            rows,
            self.inner.in_features(),
        )?;
        self.inner.forward(x, rows, y)
    }
}

/// Kernel-only benchmark: A (`m x k`), packed B, bias and C all live in wasm memory, so
/// [`MatmulBench::run`] times the GEMM (with its epilogue) and nothing else.
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct MatmulBench {
    a: Vec<f32>,
    m: usize,
    b: PackedB,
    bias: Option<Vec<f32>>,
    activation: Activation,
    c: Vec<f32>,
}

#[wasm_bindgen]
impl MatmulBench {
    /// Copies `a` (`m x k`, row-major) in, packs `b` (`k x n`, row-major) and allocates C
    /// (`m x n`). `bias` (length `n`) and `activation` (names as for `Linear`) form the
    /// epilogue; use `undefined` and `"none"` for a plain product.
    #[wasm_bindgen(constructor)]
    pub fn new(
        a: &[f32],
        m: usize,
        b: &[f32],
        k: usize,
        n: usize,
        bias: Option<Vec<f32>>,
        activation: &str,
    ) -> Result<MatmulBench, JsError> {
        let activation = parse_activation(activation).map_err(|e| JsError::new(&e))?;
        Self::build(a, m, b, k, n, bias, activation).map_err(js_err)
    }

    fn build(
        a: &[f32],
        m: usize,
        b: &[f32],
        k: usize,
        n: usize,
        bias: Option<Vec<f32>>,
        activation: Activation,
    ) -> Result<MatmulBench, Error> {
        expect_len("length of a (= m * k)", a.len(), m, k)?;
        let b = PackedMatrix::build(b, k, n)?.inner;
        let mut bench = MatmulBench {
            a: a.to_vec(),
            m,
            b,
            bias,
            activation,
            c: vec![0.0; elements("c", m, n)?],
        };
        bench.run_once()?; // validates bias length and activation once, up front
        Ok(bench)
    }

    /// Runs the GEMM `reps` times on the resident buffers (C is overwritten each time).
    pub fn run(&mut self, reps: u32) -> Result<(), JsError> {
        for _ in 0..reps {
            self.run_once().map_err(js_err)?;
        }
        Ok(())
    }

    fn run_once(&mut self) -> Result<(), Error> {
        let mut list = [EpilogueOp::Activation(Activation::Identity); 2];
        let ops = epilogue(self.bias.as_deref(), self.activation, &mut list);
        gemm_dense(&self.a, self.m, &self.b, &mut self.c, ops)
    }

    /// A copy of C (`m x n`, row-major) after the last run.
    pub fn output(&self) -> Vec<f32> {
        self.c.clone()
    }
}

/// Build information as JSON: `{"isa": "simd128" | "relaxed-simd" | "portable", "version":
/// "…", "int8_gemm": "baseline" | "relaxed", "int8_gemv": "baseline" | "relaxed"}`, the last two
/// the int8 kernels `KernelChoice::Auto` picks in this build and engine.
#[wasm_bindgen]
pub fn build_info() -> String {
    format!(
        "{{\"isa\":\"{}\",\"version\":\"{}\",\"int8_gemm\":\"{}\",\"int8_gemv\":\"{}\"}}",
        crate::isa(),
        env!("CARGO_PKG_VERSION"),
        wasmnn_quant::gemm::auto_kernel(),
        wasmnn_quant::gemm::auto_gemv_kernel(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_names() {
        assert_eq!(parse_activation("gelu"), Ok(Activation::GeluErf));
        assert_eq!(parse_activation("none"), Ok(Activation::Identity));
        let err = parse_activation("swish").unwrap_err();
        assert!(err.contains("swish") && err.contains(ACTIVATIONS), "{err}");
    }

    #[test]
    fn packed_matrix_product_and_shape_errors() {
        let pm = PackedMatrix::build(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3).unwrap();
        assert_eq!((pm.k(), pm.n()), (2, 3));
        assert_eq!(pm.product(&[1.0, 1.0], 1).unwrap(), vec![5.0, 7.0, 9.0]);
        assert!(pm.product(&[1.0, 1.0, 1.0], 1).is_err()); // a too long
        let mut out = [0.0; 2];
        assert!(gemm_dense(&[1.0, 1.0], 1, &pm.inner, &mut out, &[]).is_err());
        assert!(PackedMatrix::build(&[1.0; 5], 2, 3).is_err());
        assert!(pm.product(&[], usize::MAX).is_err()); // m * n overflows
    }

    #[test]
    fn linear_and_bench_agree() {
        let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect(); // 3 x 4
        let bias = vec![0.5, -0.5, 0.0, 1.0];
        let x = [1.0, -2.0, 0.5, 0.0, 1.0, 1.0];
        let lin = JsLinear::build(&w, 3, 4, Some(bias.clone()), Activation::Relu).unwrap();
        let y = lin.apply(&x, 2).unwrap();
        let mut bench = MatmulBench::build(&x, 2, &w, 3, 4, Some(bias), Activation::Relu).unwrap();
        bench.run_once().unwrap();
        assert_eq!(bench.output(), y);
        assert!(y.iter().all(|&v| v >= 0.0));
        assert!(JsLinear::build(&w, 3, 4, Some(vec![0.0; 3]), Activation::Relu).is_err());
        assert!(MatmulBench::build(&x, 2, &w, 3, 4, Some(vec![0.0; 3]), Activation::Relu).is_err());
    }

    #[test]
    fn build_info_is_json() {
        let info = build_info();
        assert!(info.starts_with("{\"isa\":\"") && info.contains("\"version\":\""));
        assert!(info.contains("\"int8_gemm\":\"") && info.contains("\"int8_gemv\":\""));
    }
}
