//! Normalisations: `LayerNormalization` (over the trailing dimensions from `axis`) and
//! `BatchNormalization` (inference form: per-channel affine from running statistics).
//!
//! LayerNorm runs on the kernels' row kernel ([`crate::kernels::layer_norm`]; the trailing
//! dimensions from `axis` form one row, the scale and bias one row-long vector each).
use super::{arity, input, op_common, optional, Attrs, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::shape::axis;
use crate::graph::tensor::{DType, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;
use crate::kernels::layer_norm;

/// `y = (x - mean) / sqrt(var + eps) * scale + bias` over each row of the trailing dimensions.
#[derive(Clone, Debug)]
pub(crate) struct LayerNorm {
    pub axis: i64,
    pub epsilon: f32,
}

/// `y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]`, channels on axis 1.
#[derive(Clone, Debug)]
pub(crate) struct BatchNorm {
    pub epsilon: f32,
}

pub(crate) fn create(op: &str, a: &mut Attrs<'_>) -> Result<Box<dyn Op>> {
    let epsilon = a.float("epsilon", 1e-5)?;
    if !(epsilon.is_finite() && epsilon >= 0.0) {
        return Err(GraphError::invalid("epsilon must be a non-negative number"));
    }
    if op == "LayerNormalization" {
        let ax = a.int("axis", -1)?;
        // stash_type 1 = compute in f32, the only type here.
        if a.int("stash_type", 1)? != 1 {
            return Err(GraphError::unsupported("stash_type", "attribute value"));
        }
        return Ok(Box::new(LayerNorm { axis: ax, epsilon }));
    }
    let _momentum = a.float("momentum", 0.9)?; // training only
    if a.int("training_mode", 0)? != 0 {
        return Err(GraphError::unsupported(
            "training_mode=1",
            "attribute value",
        ));
    }
    if a.int("spatial", 1)? != 1 {
        return Err(GraphError::unsupported("spatial=0", "attribute value"));
    }
    let _ = a.ints("consumed_inputs")?; // opset < 6 legacy, no effect on inference
    Ok(Box::new(BatchNorm { epsilon }))
}

impl LayerNorm {
    /// (rows, row length) for an input shape.
    fn split(&self, shape: &[usize]) -> Result<(usize, usize)> {
        let ax = axis(self.axis, shape.len())?;
        Ok((shape[..ax].iter().product(), shape[ax..].iter().product()))
    }
}

impl Op for LayerNorm {
    fn kind(&self) -> &'static str {
        "LayerNormalization"
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 2, 3)?;
        let x = input(inputs, 0)?.spec;
        let (_, d) = self.split(&x.shape)?;
        for p in [
            input(inputs, 1)?,
            optional(inputs, 2).unwrap_or(input(inputs, 1)?),
        ] {
            if p.spec.dtype != DType::F32 || p.spec.numel()? != d {
                return Err(GraphError::unsupported(
                    format!("{:?}", p.spec.shape),
                    "scale/bias shape (must cover the normalised dimensions exactly)",
                ));
            }
        }
        if x.dtype != DType::F32 {
            return Err(GraphError::unsupported(x.dtype.name(), "element type"));
        }
        Ok(x.clone())
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let x = input(inputs, 0)?;
        let scale = input(inputs, 1)?.f32()?;
        let bias = match optional(inputs, 2) {
            Some(b) => Some(b.f32()?),
            None => None,
        };
        Ok(layer_norm(x.f32()?, out.f32()?, scale, bias, self.epsilon)?)
    }

    op_common!();
}

impl Op for BatchNorm {
    fn kind(&self) -> &'static str {
        "BatchNormalization"
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 5, 5)?;
        let x = input(inputs, 0)?.spec;
        if x.dtype != DType::F32 || x.shape.len() < 2 {
            return Err(GraphError::invalid(
                "BatchNormalization needs f32 [N, C, ...]",
            ));
        }
        for i in 1..5 {
            let p = input(inputs, i)?.spec;
            if p.dtype != DType::F32 || p.shape != [x.shape[1]] {
                return Err(GraphError::invalid(format!(
                    "BatchNormalization parameter {i} must be f32 [C] = [{}]",
                    x.shape[1]
                )));
            }
        }
        Ok(x.clone())
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let x = input(inputs, 0)?;
        let p = [
            input(inputs, 1)?.f32()?,
            input(inputs, 2)?.f32()?,
            input(inputs, 3)?.f32()?,
            input(inputs, 4)?.f32()?,
        ];
        let c = x.shape[1];
        let plane: usize = x.shape[2..].iter().product();
        let y = out.f32()?;
        if plane == 0 || c == 0 {
            return Ok(());
        }
        for (i, (xp, yp)) in x
            .f32()?
            .chunks_exact(plane)
            .zip(y.chunks_exact_mut(plane))
            .enumerate()
        {
            let ch = i % c;
            let (a, b) = batch_norm_affine(p[0][ch], p[1][ch], p[2][ch], p[3][ch], self.epsilon);
            for (o, &v) in yp.iter_mut().zip(xp) {
                *o = v * a + b;
            }
        }
        Ok(())
    }

    op_common!();
}

/// The per-channel affine form `y = a x + b` of batch normalisation.
pub(crate) fn batch_norm_affine(
    scale: f32,
    bias: f32,
    mean: f32,
    var: f32,
    eps: f32,
) -> (f32, f32) {
    let a = scale / (var + eps).sqrt();
    (a, bias - mean * a)
}
