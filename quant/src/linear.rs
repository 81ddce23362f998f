//! `QLinear`: a fully connected layer with int8 weights, f32 in and f32 out.
//!
//! `y = act(x W + b)` where `W` is quantized once (i8, symmetric, one scale per output column)
//! and `x` is quantized on the fly (u8, per row by default), fused into the GEMM's packing; the
//! exact i32 products are dequantized, biased and activated on the register tile. Decode steps
//! (one row) run the GEMV, which streams one byte per weight.
use crate::epilogue::QOutput;
use crate::gemm::{qgemm_dynamic_scratch, DynamicQuant, QGemmOptions};
use crate::matrix::QMatMut;
use crate::pack::PackedQB;
use crate::scratch::QScratch;
use alloc::vec::Vec;
use wasmnn_kernels::{Activation, Error, MatRef, Result};

/// A dense layer with int8 weights: `y = act(x W + b)`, f32 in and out.
///
/// Accuracy: with per-column weight scales and per-row activation scales, the relative error
/// `max |y - y_f32| / max |y_f32|` on random data (24 x 384 x 200, uniform inputs and weights)
/// is 0.57% (`tests/layers.rs` asserts <= 2%).
///
/// ```
/// use wasmnn_kernels::Activation;
/// use wasmnn_quant::QLinear;
/// let w = [1.0f32, 0.0, -1.0,
///          0.0, 1.0, -1.0]; // 2 inputs -> 3 outputs, row-major [in][out]
/// let layer = QLinear::new(&w, 2, 3, Some(&[0.5, 0.5, 0.5]), Activation::Relu)?;
/// let mut y = [0.0f32; 3];
/// layer.forward(&[2.0, 3.0], 1, &mut y)?;
/// assert!((y[0] - 2.5).abs() < 0.05 && (y[1] - 3.5).abs() < 0.05 && y[2] == 0.0);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct QLinear {
    weights: PackedQB,
    bias: Option<Vec<f32>>,
    activation: Activation,
    quant: DynamicQuant,
}

impl QLinear {
    /// Quantizes row-major f32 weights `w[in][out]` (i8, per output column) and builds the
    /// layer with an optional bias of length `out_features`.
    pub fn new(
        w: &[f32],
        in_features: usize,
        out_features: usize,
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Result<Self> {
        if Some(w.len()) != in_features.checked_mul(out_features) {
            return Err(Error::ShapeMismatch {
                what: "length of weights (= in_features * out_features)",
                expected: in_features.saturating_mul(out_features),
                found: w.len(),
            });
        }
        let weights = PackedQB::quantize_f32(MatRef::row_major(w, in_features, out_features)?)?;
        Self::from_packed(weights, bias, activation)
    }

    /// Builds the layer from already quantized and packed weights (`in x out`, with scales).
    pub fn from_packed(
        weights: PackedQB,
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Result<Self> {
        activation.validate()?;
        if let Some(b) = bias {
            if b.len() != weights.n() {
                return Err(Error::ShapeMismatch {
                    what: "bias length (= out_features)",
                    expected: weights.n(),
                    found: b.len(),
                });
            }
        }
        Ok(Self {
            weights,
            bias: bias.map(<[f32]>::to_vec),
            activation,
            quant: DynamicQuant::PerRow,
        })
    }

    /// The same layer quantizing its input per tensor (ONNX `DynamicQuantizeLinear`) instead
    /// of per row.
    pub fn with_input_quant(mut self, quant: DynamicQuant) -> Self {
        self.quant = quant;
        self
    }

    /// Input width.
    pub fn in_features(&self) -> usize {
        self.weights.k()
    }
    /// Output width.
    pub fn out_features(&self) -> usize {
        self.weights.n()
    }
    /// The packed int8 weights.
    pub fn weights(&self) -> &PackedQB {
        &self.weights
    }

    /// `y = act(x W + b)` for `rows` row-major input rows.
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut [f32]) -> Result<()> {
        self.forward_scratch(x, rows, y, &mut QScratch::new())
    }

    /// [`QLinear::forward`] with reusable scratch memory: once `scratch` has served this many
    /// rows, the call makes no heap allocation (see [`QScratch`]).
    pub fn forward_scratch(
        &self,
        x: &[f32],
        rows: usize,
        y: &mut [f32],
        scratch: &mut QScratch,
    ) -> Result<()> {
        let (k, n) = (self.in_features(), self.out_features());
        let x = MatRef::new(x, rows, k, k, 1)?;
        let y = QMatMut::new(y, rows, n, n, 1)?;
        self.forward_views_scratch(x, y, scratch)
    }

    /// The general form on strided views.
    pub fn forward_views(&self, x: MatRef<'_>, y: QMatMut<'_, f32>) -> Result<()> {
        self.forward_views_scratch(x, y, &mut QScratch::new())
    }

    /// [`QLinear::forward_views`] with reusable scratch memory.
    ///
    /// ```
    /// use wasmnn_kernels::{Activation, MatRef};
    /// use wasmnn_quant::{QLinear, QMatMut, QScratch};
    /// let layer = QLinear::new(&[1.0, 0.0, 0.0, 1.0], 2, 2, None, Activation::Identity)?;
    /// let x = [0.5f32, 9.0, -1.0, 9.0]; // 1 x 2 read with column stride 2
    /// let mut y = [0.0f32; 2];
    /// layer.forward_views_scratch(MatRef::new(&x, 1, 2, 4, 2)?,
    ///     QMatMut::row_major(&mut y, 1, 2)?, &mut QScratch::new())?;
    /// assert!((y[0] - 0.5).abs() < 0.01 && (y[1] + 1.0).abs() < 0.01);
    /// # Ok::<(), wasmnn_quant::Error>(())
    /// ```
    pub fn forward_views_scratch(
        &self,
        x: MatRef<'_>,
        y: QMatMut<'_, f32>,
        scratch: &mut QScratch,
    ) -> Result<()> {
        qgemm_dynamic_scratch(
            x,
            self.quant,
            &self.weights,
            QOutput::F32 {
                c: y,
                bias: self.bias.as_deref(),
                activation: self.activation,
            },
            QGemmOptions::default(),
            scratch,
        )
    }
}
