//! Pooling: `MaxPool`, `AveragePool` and `GlobalAveragePool` (2-D, NCHW) on the kernels'
//! [`Pool2d`] and [`global_average_pool`].
use super::conv::Window;
use super::{arity, input, op_common, Attrs, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::tensor::{DType, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;
use crate::kernels::conv::pool::{global_average_pool, Pool2d, PoolKind};
use crate::kernels::conv::TensorLayout;

/// A windowed or global pooling operator.
#[derive(Clone, Debug)]
pub(crate) struct Pool {
    /// `None` for global average pooling.
    window: Option<(Window, PoolKind, bool)>,
}

pub(crate) fn create(op: &str, a: &mut Attrs<'_>) -> Result<Box<dyn Op>> {
    if op == "GlobalAveragePool" {
        return Ok(Box::new(Pool { window: None }));
    }
    let window = Window::parse(a)?;
    if window.kernel.is_none() {
        return Err(GraphError::invalid("kernel_shape is required"));
    }
    let ceil = a.int("ceil_mode", 0)? != 0;
    let kind = if op == "MaxPool" {
        if a.int("storage_order", 0)? != 0 {
            return Err(GraphError::unsupported(
                "storage_order=1",
                "attribute value",
            ));
        }
        PoolKind::Max
    } else {
        PoolKind::Average {
            count_include_pad: a.int("count_include_pad", 0)? != 0,
        }
    };
    Ok(Box::new(Pool {
        window: Some((window, kind, ceil)),
    }))
}

impl Pool {
    fn pool(&self, shape: &[usize]) -> Result<Option<Pool2d>> {
        if shape.len() != 4 {
            return Err(GraphError::unsupported(
                format!("rank {}", shape.len()),
                "pooling input (2-D NCHW only)",
            ));
        }
        let Some((w, kind, ceil_mode)) = &self.window else {
            return Ok(None);
        };
        let [kh, kw] = w.kernel.unwrap_or([1, 1]);
        Ok(Some(Pool2d {
            kind: *kind,
            window: w.params(shape[2], shape[3], kh, kw)?,
            ceil_mode: *ceil_mode,
        }))
    }
}

impl Op for Pool {
    fn kind(&self) -> &'static str {
        match &self.window {
            None => "GlobalAveragePool",
            Some((_, PoolKind::Max, _)) => "MaxPool",
            Some(_) => "AveragePool",
        }
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 1, 1)?;
        let x = input(inputs, 0)?.spec;
        if x.dtype != DType::F32 {
            return Err(GraphError::unsupported(x.dtype.name(), "element type"));
        }
        let s = &x.shape;
        let (ho, wo) = match self.pool(s)? {
            None => (1, 1),
            Some(p) => p.output_size(s[2], s[3])?,
        };
        Ok(TensorSpec::new(DType::F32, &[s[0], s[1], ho, wo]))
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let x = input(inputs, 0)?;
        let s = x.shape;
        let (xs, y) = (x.f32()?, out.f32()?);
        match self.pool(s)? {
            None => global_average_pool(xs, TensorLayout::Nchw, s[0], s[1], s[2], s[3], y)?,
            Some(p) => p.run(xs, TensorLayout::Nchw, s[0], s[1], s[2], s[3], y)?,
        }
        Ok(())
    }

    op_common!();
}
