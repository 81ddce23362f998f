//! Operators made by the fusion passes, not found in ONNX files.
//!
//! - [`Linear`]: `MatMul` by a constant matrix, plus bias, activation and residual, all in the
//!   GEMM epilogue (one pass over the output instead of up to four); f32 weights, or int8
//!   weights (per output column, symmetric) with the activations quantized per row on the fly;
//! - [`LayerNormLinear`]: `LayerNorm(x) W + b [+ residual]` on [`crate::layer_norm_matmul_add`],
//!   which never materialises the normalised rows;
//! - [`Attention`]: scaled dot-product attention with an additive mask.
use super::{arity, input, op_common, optional, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::tensor::{DType, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;
use crate::kernels::attention::{AttentionMask, AttentionOptions, AttentionShape};
use crate::parallel::{attention, AttentionScratches};
use crate::quant::{DynamicQuant, PackedQB, QMatMut, QOutput, QScratch};
use crate::{
    layer_norm_matmul_add, Activation, EpilogueOp, FusedScratch, LayerNormParams, MatMut, MatRef,
    PackedB,
};
use std::sync::Arc;

/// The weights of a [`Linear`], shared with other sessions of the same model (packed once).
#[derive(Clone, Debug)]
pub(crate) enum LinearWeights {
    /// f32, packed for the f32 GEMM.
    F32(Arc<PackedB>),
    /// int8, one symmetric scale per output column; activations are quantized per row.
    Int8(Arc<QWeights>),
}

/// int8 weights, optionally *smoothed*: `x W = (x / s) (diag(s) W)` with one factor `s` per
/// input channel, chosen so that the channels of `x / s` and the rows of `diag(s) W` have
/// balanced ranges (SmoothQuant, alpha = 1/2). Transformer hidden states have a few channels
/// much larger than the rest; dividing them down keeps the per-row activation scale fine.
#[derive(Debug)]
pub(crate) struct QWeights {
    /// `diag(s) W`, quantized per column.
    pub packed: PackedQB,
    /// `s`, when smoothed.
    pub scale: Option<Vec<f32>>,
    /// `1 / s`, applied to `x` before it is quantized.
    pub inv_scale: Option<Vec<f32>>,
}

impl LinearWeights {
    /// Input width.
    pub fn k(&self) -> usize {
        match self {
            LinearWeights::F32(w) => w.k(),
            LinearWeights::Int8(w) => w.packed.k(),
        }
    }
    /// Output width.
    pub fn n(&self) -> usize {
        match self {
            LinearWeights::F32(w) => w.n(),
            LinearWeights::Int8(w) => w.packed.n(),
        }
    }
}

/// `y = act(x W + b) [+ residual]` over the last dimension of `x`; inputs `[x, residual?]`.
#[derive(Clone, Debug)]
pub(crate) struct Linear {
    pub weights: LinearWeights,
    pub bias: Option<Vec<f32>>,
    pub activation: Activation,
    /// Buffers of the int8 GEMM, kept between runs.
    scratch: QScratch,
    /// `x / s` for smoothed int8 weights (grows on the first run, then reused).
    smoothed: Vec<f32>,
}

impl Linear {
    /// `x W + b`, no activation yet.
    pub fn new(weights: LinearWeights, bias: Option<Vec<f32>>) -> Self {
        Self {
            weights,
            bias,
            activation: Activation::Identity,
            scratch: QScratch::new(),
            smoothed: Vec::new(),
        }
    }

    /// The int8 form: `x` divided by the smoothing factors (if any), dynamic quantization of
    /// it (per row, u8), exact i32 products, then dequantization, bias and activation in the
    /// epilogue; the residual is added after.
    fn run_int8(
        &mut self,
        q: &QWeights,
        x: &[f32],
        residual: Option<&[f32]>,
        y: &mut [f32],
    ) -> Result<()> {
        let w = &q.packed;
        let (k, n) = (w.k(), w.n());
        let rows = x.len().checked_div(k).unwrap_or(0);
        let x = match &q.inv_scale {
            None => x,
            Some(inv) => {
                if self.smoothed.len() < x.len() {
                    self.smoothed.resize(x.len(), 0.0);
                }
                let xs = &mut self.smoothed[..x.len()];
                for (d, s) in xs.chunks_exact_mut(k).zip(x.chunks_exact(k)) {
                    d.iter_mut()
                        .zip(s.iter().zip(inv))
                        .for_each(|(d, (s, i))| *d = s * i);
                }
                xs
            }
        };
        crate::parallel::qgemm_dynamic_scratch(
            MatRef::row_major(x, rows, k)?,
            DynamicQuant::PerRow,
            w,
            QOutput::F32 {
                c: QMatMut::row_major(y, rows, n)?,
                bias: self.bias.as_deref(),
                activation: self.activation,
            },
            &mut self.scratch,
        )?;
        if let Some(r) = residual {
            add_assign(y, r)?;
        }
        Ok(())
    }
}

/// `y += r` (a residual added after an epilogue that cannot take it).
pub(crate) fn add_assign(y: &mut [f32], r: &[f32]) -> Result<()> {
    if y.len() != r.len() {
        return Err(GraphError::invalid(
            "residual must have the output's length",
        ));
    }
    y.iter_mut().zip(r).for_each(|(y, r)| *y += r);
    Ok(())
}

impl Op for Linear {
    fn kind(&self) -> &'static str {
        match self.weights {
            LinearWeights::F32(_) => "Linear",
            LinearWeights::Int8(_) => "LinearInt8",
        }
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 1, 2)?;
        let x = input(inputs, 0)?.spec;
        let k = self.weights.k();
        if x.dtype != DType::F32 || x.shape.len() < 2 || x.shape.last() != Some(&k) {
            return Err(GraphError::invalid(format!(
                "Linear needs f32 [..., {k}], got {:?}",
                x.shape
            )));
        }
        let mut shape = x.shape.clone();
        if let Some(last) = shape.last_mut() {
            *last = self.weights.n();
        }
        let out = TensorSpec::new(DType::F32, &shape);
        if let Some(r) = optional(inputs, 1) {
            if *r.spec != out {
                return Err(GraphError::invalid("residual must have the output's type"));
            }
        }
        Ok(out)
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let x = input(inputs, 0)?;
        let weights = match &self.weights {
            LinearWeights::F32(w) => w,
            LinearWeights::Int8(w) => {
                let w = w.clone();
                let residual = match optional(inputs, 1) {
                    Some(r) => Some(r.f32()?),
                    None => None,
                };
                return self.run_int8(&w, x.f32()?, residual, out.f32()?);
            }
        };
        let (k, n) = (weights.k(), weights.n());
        let xs = x.f32()?;
        let rows = xs.len().checked_div(k).unwrap_or(0);
        let mut ops = [EpilogueOp::Activation(Activation::Identity); 3];
        let mut len = 0;
        if let Some(b) = &self.bias {
            ops[len] = EpilogueOp::AddColBias(b);
            len += 1;
        }
        if self.activation != Activation::Identity {
            ops[len] = EpilogueOp::Activation(self.activation);
            len += 1;
        }
        if let Some(r) = optional(inputs, 1) {
            ops[len] = EpilogueOp::AddMatrix(MatRef::row_major(r.f32()?, rows, n)?);
            len += 1;
        }
        let y = MatMut::row_major(out.f32()?, rows, n)?;
        crate::parallel::gemm_packed(
            1.0,
            MatRef::row_major(xs, rows, k)?,
            weights,
            0.0,
            y,
            &ops[..len],
        )?;
        Ok(())
    }

    op_common!();
}

/// `y = LayerNorm(x) W + b [+ residual]`, the normalisation over the last dimension of `x`;
/// inputs `[x, residual?]`. Made from `LayerNormalization -> Linear` when nothing else reads
/// the normalised tensor.
#[derive(Clone, Debug)]
pub(crate) struct LayerNormLinear {
    pub gamma: Vec<f32>,
    pub beta: Option<Vec<f32>>,
    pub epsilon: f32,
    pub weights: Arc<PackedB>,
    pub bias: Option<Vec<f32>>,
    /// One block of normalised rows, reused by every run.
    pub scratch: FusedScratch,
}

impl Op for LayerNormLinear {
    fn kind(&self) -> &'static str {
        "LayerNormLinear"
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        // The output type is that of the Linear it replaces.
        Linear::new(LinearWeights::F32(self.weights.clone()), None).infer(inputs)
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let x = input(inputs, 0)?.f32()?;
        let (k, n) = (self.weights.k(), self.weights.n());
        let rows = x.len().checked_div(k).unwrap_or(0);
        let residual = match optional(inputs, 1) {
            Some(r) => Some(MatRef::row_major(r.f32()?, rows, n)?),
            None => None,
        };
        layer_norm_matmul_add(
            MatRef::row_major(x, rows, k)?,
            LayerNormParams {
                gamma: &self.gamma,
                beta: self.beta.as_deref(),
                eps: self.epsilon,
            },
            &self.weights,
            self.bias.as_deref(),
            residual,
            MatMut::row_major(out.f32()?, rows, n)?,
            &mut self.scratch,
        )?;
        Ok(())
    }

    op_common!();
}

/// Scaled dot-product attention on `[batch, heads, seq, dim]` tensors:
/// `softmax(Q K^T * scale + mask) V`, inputs `[Q, K, V, mask?]` with K *not* transposed and
/// the mask `[batch or 1, 1, seq_q or 1, seq_k]`. Made from the `MatMul -> Mul -> Add ->
/// Softmax -> MatMul` subgraph; runs on [`crate::kernels::attention`], which never holds the
/// whole score matrix.
#[derive(Clone, Debug)]
pub(crate) struct Attention {
    pub scale: f32,
    /// Heads run in parallel, one scratch per task.
    scratch: AttentionScratches,
}

impl Attention {
    pub fn new(scale: f32) -> Self {
        Self {
            scale,
            scratch: AttentionScratches::default(),
        }
    }
}

/// `(batch, heads, seq_q, seq_k, head_dim, value_dim)` from the shapes of Q, K and V.
fn attention_dims(q: &[usize], k: &[usize], v: &[usize]) -> Result<[usize; 6]> {
    match (q, k, v) {
        (&[b, h, sq, d], &[b2, h2, sk, d2], &[b3, h3, sk2, dv])
            if b == b2 && b == b3 && h == h2 && h == h3 && d == d2 && sk == sk2 =>
        {
            Ok([b, h, sq, sk, d, dv])
        }
        _ => Err(GraphError::invalid(format!(
            "attention shapes {q:?}, {k:?}, {v:?} do not fit [b, h, s, d]"
        ))),
    }
}

/// Mask strides: `(batch stride, row stride)`, or an error if the shape is not supported.
fn mask_strides(m: &[usize], b: usize, sq: usize, sk: usize) -> Result<(usize, usize)> {
    match *m {
        [mb, 1, mq, k] if (mb == b || mb == 1) && (mq == sq || mq == 1) && k == sk => Ok((
            if mb == 1 { 0 } else { mq * sk },
            if mq == 1 { 0 } else { sk },
        )),
        _ => Err(GraphError::invalid(format!(
            "attention mask {m:?} is not [batch or 1, 1, seq_q or 1, seq_k]"
        ))),
    }
}

impl Op for Attention {
    fn kind(&self) -> &'static str {
        "Attention"
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 3, 4)?;
        let (q, k, v) = (
            input(inputs, 0)?.spec,
            input(inputs, 1)?.spec,
            input(inputs, 2)?.spec,
        );
        let [b, h, sq, sk, _, dv] = attention_dims(&q.shape, &k.shape, &v.shape)?;
        if let Some(m) = optional(inputs, 3) {
            mask_strides(&m.spec.shape, b, sq, sk)?;
        }
        let all_f32 = [q, k, v].iter().all(|s| s.dtype == DType::F32);
        if !all_f32 {
            return Err(GraphError::unsupported("non-f32", "attention operand type"));
        }
        Ok(TensorSpec::new(DType::F32, &[b, h, sq, dv]))
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let (q, k, v) = (input(inputs, 0)?, input(inputs, 1)?, input(inputs, 2)?);
        let [b, h, sq, sk, d, dv] = attention_dims(q.shape, k.shape, v.shape)?;
        let mask = optional(inputs, 3);
        let (qs, ks, vs) = (q.f32()?, k.f32()?, v.f32()?);
        let y = out.f32()?;
        let shape = AttentionShape {
            heads: h,
            seq_q: sq,
            seq_k: sk,
            head_dim: d,
            value_dim: dv,
        };
        let (qn, kn, vn, on) = (h * sq * d, h * sk * d, h * sk * dv, h * sq * dv);
        for i in 0..b {
            let m = match mask {
                Some(m) => {
                    let (bs, rs) = mask_strides(m.shape, b, sq, sk)?;
                    Some(AttentionMask {
                        data: &m.f32()?[i * bs..],
                        head_stride: 0,
                        row_stride: rs,
                    })
                }
                None => None,
            };
            let opts = AttentionOptions {
                scale: self.scale,
                mask: m,
                causal: false,
            };
            attention(
                &qs[i * qn..(i + 1) * qn],
                &ks[i * kn..(i + 1) * kn],
                &vs[i * vn..(i + 1) * vn],
                &mut y[i * on..(i + 1) * on],
                shape,
                &opts,
                &mut self.scratch,
            )?;
        }
        Ok(())
    }

    op_common!();
}
