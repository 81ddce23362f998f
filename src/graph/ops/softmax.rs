//! `Softmax`. Opset 13+: along one axis. Opset < 13: the input is flattened to 2-D at `axis`
//! and each row (all trailing dimensions together) is normalised.
//!
//! Runs on the kernels' row softmax ([`crate::kernels::rows`]): contiguous lines (the last axis,
//! or the flattened form) directly; a line along an inner axis is gathered into a scratch row,
//! normalised there and scattered back. Special values follow the kernel: a line of only `-inf`
//! (fully masked) gives zeros rather than ONNX Runtime's NaN; a NaN makes its line NaN.
use super::{arity, input, op_common, Attrs, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::shape::axis;
use crate::graph::tensor::{DType, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;
use crate::kernels::rows;

/// Softmax with the semantics of its opset.
#[derive(Clone, Debug)]
pub(crate) struct Softmax {
    pub axis: i64,
    /// Opset < 13: normalise over all dimensions from `axis` on.
    pub flatten: bool,
    /// One line, for a softmax along an inner axis (grows on the first run, then reused).
    line: Vec<f32>,
}

pub(crate) fn create(a: &mut Attrs<'_>, opset: i64) -> Result<Box<dyn Op>> {
    let flatten = opset < 13;
    let ax = a.int("axis", if flatten { 1 } else { -1 })?;
    Ok(Box::new(Softmax {
        axis: ax,
        flatten,
        line: Vec::new(),
    }))
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
        let (_, n, inner) = self.geometry(x.shape)?;
        let (x, y) = (x.f32()?, out.f32()?);
        if inner == 1 {
            return Ok(rows::softmax(x, y, n)?);
        }
        if x.is_empty() {
            return Ok(());
        }
        // Along an inner axis: each of the `outer x inner` lines has `n` elements `inner` apart.
        if self.line.len() < n {
            self.line.resize(n, 0.0);
        }
        let line = &mut self.line[..n];
        for (xb, yb) in x.chunks_exact(n * inner).zip(y.chunks_exact_mut(n * inner)) {
            for i in 0..inner {
                for (j, v) in line.iter_mut().enumerate() {
                    *v = xb[i + j * inner];
                }
                rows::softmax_inplace(line, n)?;
                for (j, v) in line.iter().enumerate() {
                    yb[i + j * inner] = *v;
                }
            }
        }
        Ok(())
    }

    op_common!();
}
