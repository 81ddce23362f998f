//! JavaScript functions for the row kernels: `softmax`, `log_softmax`, `layernorm`, `rmsnorm`
//! on a dense row-major `rows x cols` `Float32Array`, and `RowsBench` to time them on buffers
//! resident in wasm memory.
//!
//! ```js
//! const p = softmax(scores, rows, cols);                     // new Float32Array
//! const y = layernorm(x, rows, cols, gamma, beta, 1e-5);     // beta may be undefined
//! softmax_into(scores, rows, cols, out);                     // into an existing Float32Array
//! ```
//!
//! One call copies the input into a staging buffer in wasm memory (`staging.rs`: kept between
//! calls, placed to avoid 4K aliasing), normalises it there in place and copies it out: two
//! copies and no allocation once warm. The `_into` forms write into the caller's array:
//! first-touching a fresh 512 KiB typed array costs ~0.27 ms of page faults in Chromium, more
//! than the softmax itself.
use super::js_err;
use super::staging::with_staged;
use crate::kernels::rows as k;
use crate::Error;
use js_sys::Float32Array;
use wasm_bindgen::prelude::*;

/// Checks that `len == rows * cols`.
fn expect_shape(len: usize, rows: usize, cols: usize) -> Result<(), Error> {
    let expected = rows
        .checked_mul(cols)
        .ok_or(Error::Overflow { what: "x" })?;
    if len == expected {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what: "length of x (= rows * cols)",
            expected,
            found: len,
        })
    }
}

/// Checks that `gamma` has `cols` elements (the kernels take the row width from it).
fn expect_gamma(gamma: &[f32], cols: usize) -> Result<(), Error> {
    if gamma.len() == cols {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what: "length of gamma (= cols)",
            expected: cols,
            found: gamma.len(),
        })
    }
}

/// One row operation and its parameters.
#[derive(Clone, Debug)]
enum RowOp {
    Softmax,
    LogSoftmax,
    LayerNorm {
        gamma: Vec<f32>,
        beta: Option<Vec<f32>>,
        eps: f32,
    },
    RmsNorm {
        gamma: Vec<f32>,
        eps: f32,
    },
}

impl RowOp {
    /// Out of place, `x` into `y` (same length).
    fn run_into(&self, x: &[f32], y: &mut [f32], rows: usize, cols: usize) -> Result<(), Error> {
        expect_shape(x.len(), rows, cols)?;
        match self {
            RowOp::Softmax => k::softmax(x, y, cols),
            RowOp::LogSoftmax => k::log_softmax(x, y, cols),
            RowOp::LayerNorm { gamma, beta, eps } => {
                expect_gamma(gamma, cols)?;
                k::layer_norm(x, y, gamma, beta.as_deref(), *eps)
            }
            RowOp::RmsNorm { gamma, eps } => {
                expect_gamma(gamma, cols)?;
                k::rms_norm(x, y, gamma, *eps)
            }
        }
    }

    /// In place.
    fn run(&self, x: &mut [f32], rows: usize, cols: usize) -> Result<(), Error> {
        expect_shape(x.len(), rows, cols)?;
        match self {
            RowOp::Softmax => k::softmax_inplace(x, cols),
            RowOp::LogSoftmax => k::log_softmax_inplace(x, cols),
            RowOp::LayerNorm { gamma, beta, eps } => {
                expect_gamma(gamma, cols)?;
                k::layer_norm_inplace(x, gamma, beta.as_deref(), *eps)
            }
            RowOp::RmsNorm { gamma, eps } => {
                expect_gamma(gamma, cols)?;
                k::rms_norm_inplace(x, gamma, *eps)
            }
        }
    }

    /// Stages `x`, runs in place, returns the result as a new `Float32Array`.
    fn apply(&self, x: &Float32Array, rows: usize, cols: usize) -> Result<Float32Array, JsError> {
        with_staged(x, |buf| {
            self.run(buf, rows, cols).map_err(js_err)?;
            let out = Float32Array::new_with_length(x.length());
            out.copy_from(buf);
            Ok(out)
        })
    }

    /// Stages `x`, runs in place, copies the result into `out` (same length as `x`).
    fn apply_into(
        &self,
        x: &Float32Array,
        rows: usize,
        cols: usize,
        out: &Float32Array,
    ) -> Result<(), JsError> {
        if out.length() != x.length() {
            return Err(js_err(Error::ShapeMismatch {
                what: "length of out (= length of x)",
                expected: x.length() as usize,
                found: out.length() as usize,
            }));
        }
        with_staged(x, |buf| {
            self.run(buf, rows, cols).map_err(js_err)?;
            out.copy_from(buf);
            Ok(())
        })
    }
}

/// Softmax along the last axis of a `rows x cols` array; returns a new `Float32Array`.
#[wasm_bindgen]
pub fn softmax(x: &Float32Array, rows: usize, cols: usize) -> Result<Float32Array, JsError> {
    RowOp::Softmax.apply(x, rows, cols)
}

/// Log-softmax along the last axis of a `rows x cols` array.
#[wasm_bindgen]
pub fn log_softmax(x: &Float32Array, rows: usize, cols: usize) -> Result<Float32Array, JsError> {
    RowOp::LogSoftmax.apply(x, rows, cols)
}

/// LayerNorm of each row (`gamma.length == cols`, `beta` of the same length or `undefined`).
#[wasm_bindgen]
pub fn layernorm(
    x: &Float32Array,
    rows: usize,
    cols: usize,
    gamma: Vec<f32>,
    beta: Option<Vec<f32>>,
    eps: f32,
) -> Result<Float32Array, JsError> {
    RowOp::LayerNorm { gamma, beta, eps }.apply(x, rows, cols)
}

/// RMSNorm of each row (`gamma.length == cols`).
#[wasm_bindgen]
pub fn rmsnorm(
    x: &Float32Array,
    rows: usize,
    cols: usize,
    gamma: Vec<f32>,
    eps: f32,
) -> Result<Float32Array, JsError> {
    RowOp::RmsNorm { gamma, eps }.apply(x, rows, cols)
}

/// [`softmax`] into a caller's `Float32Array` of `rows * cols` elements (no new JS array).
#[wasm_bindgen]
pub fn softmax_into(
    x: &Float32Array,
    rows: usize,
    cols: usize,
    out: &Float32Array,
) -> Result<(), JsError> {
    RowOp::Softmax.apply_into(x, rows, cols, out)
}

/// [`log_softmax`] into a caller's `Float32Array`.
#[wasm_bindgen]
pub fn log_softmax_into(
    x: &Float32Array,
    rows: usize,
    cols: usize,
    out: &Float32Array,
) -> Result<(), JsError> {
    RowOp::LogSoftmax.apply_into(x, rows, cols, out)
}

/// [`layernorm`] into a caller's `Float32Array`.
#[wasm_bindgen]
pub fn layernorm_into(
    x: &Float32Array,
    rows: usize,
    cols: usize,
    gamma: Vec<f32>,
    beta: Option<Vec<f32>>,
    eps: f32,
    out: &Float32Array,
) -> Result<(), JsError> {
    RowOp::LayerNorm { gamma, beta, eps }.apply_into(x, rows, cols, out)
}

/// [`rmsnorm`] into a caller's `Float32Array`.
#[wasm_bindgen]
pub fn rmsnorm_into(
    x: &Float32Array,
    rows: usize,
    cols: usize,
    gamma: Vec<f32>,
    eps: f32,
    out: &Float32Array,
) -> Result<(), JsError> {
    RowOp::RmsNorm { gamma, eps }.apply_into(x, rows, cols, out)
}

/// Kernel-only benchmark of a row operation: input and output stay in wasm memory and each run
/// is one out-of-place kernel call (no copy, no JS boundary).
#[wasm_bindgen]
#[derive(Clone, Debug)]
pub struct RowsBench {
    op: RowOp,
    x: Vec<f32>,
    /// Output storage; the output starts at `offset` (see [`RowsBench::new`]).
    y: Vec<f32>,
    offset: usize,
    rows: usize,
    cols: usize,
}

#[wasm_bindgen]
impl RowsBench {
    /// `op` is `"softmax"`, `"log_softmax"`, `"layernorm"` or `"rmsnorm"`; `gamma`, `beta` and
    /// `eps` are used by the norms (pass `undefined` / 0 for softmax).
    #[wasm_bindgen(constructor)]
    pub fn new(
        op: &str,
        x: Vec<f32>,
        rows: usize,
        cols: usize,
        gamma: Option<Vec<f32>>,
        beta: Option<Vec<f32>>,
        eps: f32,
    ) -> Result<RowsBench, JsError> {
        let gamma = || {
            gamma
                .clone()
                .ok_or_else(|| JsError::new("this op needs gamma"))
        };
        let op = match op {
            "softmax" => RowOp::Softmax,
            "log_softmax" => RowOp::LogSoftmax,
            "layernorm" => RowOp::LayerNorm {
                gamma: gamma()?,
                beta,
                eps,
            },
            "rmsnorm" => RowOp::RmsNorm {
                gamma: gamma()?,
                eps,
            },
            other => {
                return Err(JsError::new(&format!(
                    "unknown row op {other:?}; valid: softmax, log_softmax, layernorm, rmsnorm"
                )))
            }
        };
        // Place the output half a page (mod 4 KiB) away from the input: when the two start at
        // the same address mod 4 KiB, as back-to-back allocations tend to, every load waits on
        // an older store to a look-alike address ("4K aliasing"). That is an artefact of the
        // benchmark's allocations, not something to time.
        const PAGE_FLOATS: usize = 1024;
        let y = vec![0.0; x.len() + PAGE_FLOATS];
        let distance = (y.as_ptr() as usize / 4).wrapping_sub(x.as_ptr() as usize / 4);
        let offset = (PAGE_FLOATS / 2).wrapping_sub(distance) % PAGE_FLOATS;
        let mut bench = RowsBench {
            op,
            x,
            y,
            offset,
            rows,
            cols,
        };
        bench.run_once().map_err(js_err)?; // validates shapes once, up front
        Ok(bench)
    }

    /// Runs the operation `reps` times.
    pub fn run(&mut self, reps: u32) -> Result<(), JsError> {
        for _ in 0..reps {
            self.run_once().map_err(js_err)?;
        }
        Ok(())
    }

    fn run_once(&mut self) -> Result<(), Error> {
        let y = &mut self.y[self.offset..self.offset + self.x.len()];
        self.op.run_into(&self.x, y, self.rows, self.cols)
    }

    /// A copy of the output after the last run.
    pub fn output(&self) -> Vec<f32> {
        self.y[self.offset..self.offset + self.x.len()].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_and_shape_errors() {
        let x = vec![1.0, 2.0, 3.0, 4.0];
        let mut y = x.clone();
        RowOp::Softmax.run(&mut y, 2, 2).unwrap();
        assert!((y[0] + y[1] - 1.0).abs() < 1e-6);
        assert!(RowOp::Softmax.run(&mut y, 3, 2).is_err());
        assert!(RowOp::Softmax.run(&mut y, usize::MAX, 2).is_err());
        let ln = RowOp::LayerNorm {
            gamma: vec![1.0; 3],
            beta: None,
            eps: 1e-5,
        };
        assert!(ln.run(&mut y, 2, 2).is_err()); // gamma length != cols
        let ln = RowOp::LayerNorm {
            gamma: vec![1.0; 2],
            beta: Some(vec![0.5; 2]),
            eps: 1e-5,
        };
        let mut z = x.clone();
        ln.run(&mut z, 2, 2).unwrap();
        assert!((z[0] - 0.5 + 1.0).abs() < 1e-3 && (z[1] - 1.5).abs() < 1e-3);
        let rms = RowOp::RmsNorm {
            gamma: vec![1.0; 2],
            eps: 0.0,
        };
        rms.run(&mut z, 2, 2).unwrap();
    }
}
