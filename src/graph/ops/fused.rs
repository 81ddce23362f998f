//! Operators made by the fusion passes, not found in ONNX files.
//!
//! [`Linear`]: `MatMul` by a constant matrix, plus bias, activation and residual, all in the
//! GEMM epilogue (one pass over the output instead of up to four).
use super::{arity, input, op_common, optional, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::tensor::{DType, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;
use crate::{gemm_packed, Activation, EpilogueOp, MatMut, MatRef, PackedB};

/// `y = act(x W + b) [+ residual]` over the last dimension of `x`; inputs `[x, residual?]`.
#[derive(Clone, Debug)]
pub(crate) struct Linear {
    pub weights: PackedB,
    pub bias: Option<Vec<f32>>,
    pub activation: Activation,
}

impl Op for Linear {
    fn kind(&self) -> &'static str {
        "Linear"
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
        let (k, n) = (self.weights.k(), self.weights.n());
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
        gemm_packed(
            1.0,
            MatRef::row_major(xs, rows, k)?,
            &self.weights,
            0.0,
            y,
            &ops[..len],
        )?;
        Ok(())
    }

    op_common!();
}
