//! Reductions over a set of axes: `ReduceSum`, `ReduceMean`, `ReduceMax`. Axes come from the
//! `axes` attribute (older opsets) or from a second input (ReduceSum 13+, the others 18+).
use super::elementwise::for_each_row;
use super::{arity, input, op_common, optional, Attrs, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::shape::{axis, check_rank};
use crate::graph::tensor::{DType, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReduceKind {
    Sum,
    Mean,
    Max,
}

/// A reduction.
#[derive(Clone, Debug)]
pub(crate) struct Reduce {
    pub kind: ReduceKind,
    /// From the attribute; `None` when they come from input 1 (or mean "all").
    pub axes: Option<Vec<i64>>,
    pub keepdims: bool,
    pub noop_with_empty_axes: bool,
    /// `(input shape with reduced dims set to 1, elements per output)` for the specialised
    /// input, computed in `prepare` so that `run` allocates nothing.
    pub cached: Option<(Vec<usize>, usize)>,
}

pub(crate) fn create(op: &str, a: &mut Attrs<'_>, opset: i64) -> Result<Box<dyn Op>> {
    let kind = match op {
        "ReduceSum" => ReduceKind::Sum,
        "ReduceMean" => ReduceKind::Mean,
        _ => ReduceKind::Max,
    };
    let axes_as_input = if kind == ReduceKind::Sum {
        opset >= 13
    } else {
        opset >= 18
    };
    let axes = if axes_as_input { None } else { a.ints("axes")? };
    Ok(Box::new(Reduce {
        kind,
        axes,
        keepdims: a.int("keepdims", 1)? != 0,
        noop_with_empty_axes: a.int("noop_with_empty_axes", 0)? != 0,
        cached: None,
    }))
}

impl Reduce {
    /// Per-dimension flags: `true` where the dimension is reduced.
    fn reduced(&self, rank: usize, axes_input: Option<TensorRef<'_>>) -> Result<Vec<bool>> {
        let axes = match (&self.axes, axes_input) {
            (Some(a), _) => a.clone(),
            (None, Some(t)) => t.to_i64_vec()?,
            (None, None) => Vec::new(),
        };
        if axes.is_empty() {
            return Ok(vec![!self.noop_with_empty_axes; rank]);
        }
        let mut flags = vec![false; rank];
        for &a in &axes {
            flags[axis(a, rank)?] = true;
        }
        Ok(flags)
    }

    fn out_shape(&self, shape: &[usize], flags: &[bool]) -> (Vec<usize>, Vec<usize>) {
        let keep: Vec<usize> = shape
            .iter()
            .zip(flags)
            .map(|(&d, &r)| if r { 1 } else { d })
            .collect();
        let out = if self.keepdims {
            keep.clone()
        } else {
            shape
                .iter()
                .zip(flags)
                .filter(|(_, &r)| !r)
                .map(|(&d, _)| d)
                .collect()
        };
        (keep, out)
    }
}

impl Op for Reduce {
    fn kind(&self) -> &'static str {
        match self.kind {
            ReduceKind::Sum => "ReduceSum",
            ReduceKind::Mean => "ReduceMean",
            ReduceKind::Max => "ReduceMax",
        }
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 1, 2)?;
        let x = input(inputs, 0)?.spec;
        check_rank(x.shape.len())?;
        if x.dtype != DType::F32 {
            return Err(GraphError::unsupported(x.dtype.name(), "element type"));
        }
        let axes = match optional(inputs, 1) {
            Some(f) => Some(f.value.ok_or_else(|| {
                GraphError::unsupported("computed at run time", "reduction axes")
            })?),
            None => None,
        };
        let flags = self.reduced(x.shape.len(), axes)?;
        Ok(TensorSpec::new(
            DType::F32,
            &self.out_shape(&x.shape, &flags).1,
        ))
    }

    fn prepare(&mut self, inputs: &[Option<Fact<'_>>]) -> Result<()> {
        let x = input(inputs, 0)?.spec;
        let flags = self.reduced(x.shape.len(), optional(inputs, 1).and_then(|f| f.value))?;
        let (keep, _) = self.out_shape(&x.shape, &flags);
        let count = x
            .shape
            .iter()
            .zip(&flags)
            .filter(|(_, &r)| r)
            .map(|(&d, _)| d)
            .product();
        self.cached = Some((keep, count));
        Ok(())
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let x = input(inputs, 0)?;
        let (keep, count) = match &self.cached {
            Some((keep, count)) => (keep, *count),
            None => return Err(GraphError::invalid("Reduce ran before prepare")),
        };
        let xs = x.f32()?;
        let y = out.f32()?;
        let init = match self.kind {
            ReduceKind::Max => f32::NEG_INFINITY,
            _ => 0.0,
        };
        y.fill(init);
        let max = self.kind == ReduceKind::Max;
        // Walk the input; the kept-dims output broadcasts to it (stride 0 on reduced axes).
        for_each_row(x.shape, [keep], |xo, [yo], n, [ys]| {
            for j in 0..n {
                let (v, o) = (xs[xo + j], &mut y[yo + j * ys]);
                if max {
                    if v > *o || v.is_nan() {
                        *o = v;
                    }
                } else {
                    *o += v;
                }
            }
        })?;
        if self.kind == ReduceKind::Mean && count > 0 {
            let inv = 1.0 / count as f32;
            y.iter_mut().for_each(|v| *v *= inv);
        }
        Ok(())
    }

    op_common!();
}
