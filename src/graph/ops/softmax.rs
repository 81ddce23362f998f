//! `Softmax`. Opset 13+: along one axis. Opset < 13: the input is flattened to 2-D at `axis`
//! and each row (all trailing dimensions together) is normalised.
use super::{arity, input, op_common, Attrs, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::shape::axis;
use crate::graph::tensor::{DType, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;

/// Softmax with the semantics of its opset.
#[derive(Clone, Debug)]
pub(crate) struct Softmax {
    pub axis: i64,
    /// Opset < 13: normalise over all dimensions from `axis` on.
    pub flatten: bool,
}

pub(crate) fn create(a: &mut Attrs<'_>, opset: i64) -> Result<Box<dyn Op>> {
    let flatten = opset < 13;
    let ax = a.int("axis", if flatten { 1 } else { -1 })?;
    Ok(Box::new(Softmax { axis: ax, flatten }))
}

impl Softmax {
    /// `(outer, n, inner)`: softmax runs over `n` elements `inner` apart.
    fn geometry(&self, shape: &[usize]) -> Result<(usize, usize, usize)> {
        if shape.is_empty() {
            return Ok((1, 1, 1));
        }
        let ax = axis(self.axis, shape.len())?;
        let outer = shape[..ax].iter().product();
        if self.flatten {
            Ok((outer, shape[ax..].iter().product(), 1))
        } else {
            Ok((outer, shape[ax], shape[ax + 1..].iter().product()))
        }
    }
}

impl Op for Softmax {
    fn kind(&self) -> &'static str {
        "Softmax"
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 1, 1)?;
        let x = input(inputs, 0)?.spec;
        if x.dtype != DType::F32 {
            return Err(GraphError::unsupported(x.dtype.name(), "element type"));
        }
        self.geometry(&x.shape)?;
        Ok(x.clone())
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let x = input(inputs, 0)?;
        let (outer, n, inner) = self.geometry(x.shape)?;
        softmax(x.f32()?, out.f32()?, outer, n, inner);
        Ok(())
    }

    op_common!();
}

/// Softmax over `n` elements `inner` apart, for each of `outer x inner` lines. Subtracting the
/// maximum keeps `exp` in range; a line of all `-inf` gives NaN, as in ONNX Runtime.
pub(crate) fn softmax(x: &[f32], y: &mut [f32], outer: usize, n: usize, inner: usize) {
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            let at = |j: usize| base + j * inner;
            let mut max = f32::NEG_INFINITY;
            for j in 0..n {
                let v = x[at(j)];
                if v > max || v.is_nan() {
                    max = v;
                }
            }
            let mut sum = 0.0f32;
            for j in 0..n {
                let e = (x[at(j)] - max).exp();
                y[at(j)] = e;
                sum += e;
            }
            let inv = 1.0 / sum;
            for j in 0..n {
                y[at(j)] *= inv;
            }
        }
    }
}
