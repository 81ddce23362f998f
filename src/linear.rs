//! `Linear`: a fully connected layer on the packed GEMM with a fused epilogue.
use crate::parallel::gemm_packed;
use crate::{Activation, EpilogueOp, Error, MatMut, MatRef, PackedB, Result};

/// A dense layer `y = act(x W + b)`, with `W` (`in_features x out_features`) packed once.
///
/// Bias, activation and an optional residual are applied on the register tile before the
/// store: one pass over the output.
///
/// ```
/// use wasmnn::{Activation, Linear};
/// let w = vec![0.5f32; 4 * 8];
/// let layer = Linear::new(&w, 4, 8, None, Activation::GeluErf)?;
/// let x = vec![1.0f32; 2 * 4];
/// let mut y = vec![0.0f32; 2 * 8];
/// layer.forward(&x, 2, &mut y)?;
/// assert!((y[0] - 1.9545).abs() < 1e-3); // gelu(2.0)
/// # Ok::<(), wasmnn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Linear {
    weights: PackedB,
    bias: Option<Vec<f32>>,
    activation: Activation,
}

impl Linear {
    /// Builds the layer from row-major weights `w[in][out]` and an optional bias of length
    /// `out_features`.
    pub fn new(
        w: &[f32],
        in_features: usize,
        out_features: usize,
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Result<Self> {
        let weights = PackedB::new(MatRef::new(w, in_features, out_features, out_features, 1)?)?;
        Self::from_packed(weights, bias, activation)
    }

    /// Builds the layer from already packed weights.
    pub fn from_packed(
        weights: PackedB,
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
        })
    }

    /// Input width.
    pub fn in_features(&self) -> usize {
        self.weights.k()
    }
    /// Output width.
    pub fn out_features(&self) -> usize {
        self.weights.n()
    }
    /// The packed weights.
    pub fn weights(&self) -> &PackedB {
        &self.weights
    }

    /// `y = act(x W + b)` for `rows` row-major input rows.
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut [f32]) -> Result<()> {
        self.run(x, rows, y, None)
    }

    /// `y = act(x W + b) + residual` (a transformer's `x + Linear(h)`), residual row-major with
    /// the shape of `y`.
    pub fn forward_residual(
        &self,
        x: &[f32],
        rows: usize,
        residual: &[f32],
        y: &mut [f32],
    ) -> Result<()> {
        let r = MatRef::new(residual, rows, self.out_features(), self.out_features(), 1)?;
        self.run(x, rows, y, Some(r))
    }

    /// The general form on strided views: `y = act(x W + b) [+ residual]`.
    pub fn forward_views(
        &self,
        x: MatRef<'_>,
        y: MatMut<'_>,
        residual: Option<MatRef<'_>>,
    ) -> Result<()> {
        let mut ops: [Option<EpilogueOp<'_>>; 3] = [None; 3];
        ops[0] = self.bias.as_deref().map(EpilogueOp::AddColBias);
        if self.activation != Activation::Identity {
            ops[1] = Some(EpilogueOp::Activation(self.activation));
        }
        ops[2] = residual.map(EpilogueOp::AddMatrix);
        let mut list = [EpilogueOp::Activation(Activation::Identity); 3];
        let mut len = 0;
        for op in ops.into_iter().flatten() {
            list[len] = op;
            len += 1;
        }
        gemm_packed(1.0, x, &self.weights, 0.0, y, &list[..len])
    }

    fn run(&self, x: &[f32], rows: usize, y: &mut [f32], res: Option<MatRef<'_>>) -> Result<()> {
        let (k, n) = (self.in_features(), self.out_features());
        let x = MatRef::new(x, rows, k, k, 1)?;
        let y = MatMut::new(y, rows, n, n, 1)?;
        self.forward_views(x, y, res)
    }
}
