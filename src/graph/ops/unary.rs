//! Elementwise operators of one input: math functions (`Sqrt`, `Erf`, `Exp`, ...),
//! activations (`Relu`, `Sigmoid`, `Tanh`, `HardSigmoid`, `HardSwish`, `Clip`), `Neg`, `Not`,
//! `Identity` and `Cast`.
//!
//! The f32 functions are the kernels' elementwise passes: [`crate::kernels::unary`] for the math
//! functions and [`crate::kernels::activate`] for the activations and `Clip` (the same vector
//! code the GEMM epilogues use).
use super::{arity, input, op_common, optional, Attrs, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::tensor::{DType, DataMut, DataRef, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;
use crate::kernels::{activate, unary, UnaryOp};
use crate::Activation;

/// Which function a [`Unary`] applies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum UnaryKind {
    Sqrt,
    Erf,
    Exp,
    Log,
    Abs,
    Neg,
    Reciprocal,
    /// An activation shared with the GEMM epilogues (Relu, Sigmoid, Tanh, HardSigmoid, ...).
    Act(Activation),
    /// `Clip` with bounds from inputs 1 and 2 (opset 11+) or fixed (attributes, opset < 11).
    Clip {
        min: f32,
        max: f32,
    },
    Not,
    Identity,
    Cast(DType),
}

/// A one-input elementwise operator.
#[derive(Clone, Debug)]
pub(crate) struct Unary {
    pub kind: UnaryKind,
}

pub(crate) fn create(op: &str, a: &mut Attrs<'_>, opset: i64) -> Result<Box<dyn Op>> {
    let kind = match op {
        "Sqrt" => UnaryKind::Sqrt,
        "Erf" => UnaryKind::Erf,
        "Exp" => UnaryKind::Exp,
        "Log" => UnaryKind::Log,
        "Abs" => UnaryKind::Abs,
        "Neg" => UnaryKind::Neg,
        "Reciprocal" => UnaryKind::Reciprocal,
        "Relu" => UnaryKind::Act(Activation::Relu),
        "Sigmoid" => UnaryKind::Act(Activation::Sigmoid),
        "Tanh" => UnaryKind::Act(Activation::Tanh),
        "HardSwish" => UnaryKind::Act(Activation::HardSwish),
        "HardSigmoid" => {
            let alpha = a.float("alpha", 0.2)?;
            let beta = a.float("beta", 0.5)?;
            let act = Activation::HardSigmoid { alpha, beta };
            act.validate()?;
            UnaryKind::Act(act)
        }
        "Clip" if opset < 11 => UnaryKind::Clip {
            min: a.float("min", f32::MIN)?,
            max: a.float("max", f32::MAX)?,
        },
        "Clip" => UnaryKind::Clip {
            min: f32::NEG_INFINITY,
            max: f32::INFINITY,
        },
        "Not" => UnaryKind::Not,
        "Identity" => UnaryKind::Identity,
        "Cast" => {
            let to = a.int("to", 0)?;
            let dtype = i32::try_from(to)
                .ok()
                .and_then(DType::from_onnx)
                .ok_or_else(|| GraphError::unsupported(to.to_string(), "Cast target type"))?;
            // `saturate` (opset 19) only concerns float8 targets.
            let _ = a.int("saturate", 1)?;
            UnaryKind::Cast(dtype)
        }
        other => return Err(GraphError::unsupported(other, "op type")),
    };
    Ok(Box::new(Unary { kind }))
}

impl Op for Unary {
    fn kind(&self) -> &'static str {
        match self.kind {
            UnaryKind::Sqrt => "Sqrt",
            UnaryKind::Erf => "Erf",
            UnaryKind::Exp => "Exp",
            UnaryKind::Log => "Log",
            UnaryKind::Abs => "Abs",
            UnaryKind::Neg => "Neg",
            UnaryKind::Reciprocal => "Reciprocal",
            UnaryKind::Act(_) => "Activation",
            UnaryKind::Clip { .. } => "Clip",
            UnaryKind::Not => "Not",
            UnaryKind::Identity => "Identity",
            UnaryKind::Cast(_) => "Cast",
        }
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        let max_inputs = if matches!(self.kind, UnaryKind::Clip { .. }) {
            3
        } else {
            1
        };
        arity(inputs, 1, max_inputs)?;
        let x = input(inputs, 0)?.spec;
        let dtype = match self.kind {
            UnaryKind::Identity => x.dtype,
            UnaryKind::Cast(to) => to,
            UnaryKind::Not if x.dtype == DType::Bool => DType::Bool,
            UnaryKind::Neg | UnaryKind::Abs
                if matches!(x.dtype, DType::F32 | DType::I64 | DType::I32) =>
            {
                x.dtype
            }
            _ if x.dtype == DType::F32 => DType::F32,
            _ => return Err(GraphError::unsupported(x.dtype.name(), "element type")),
        };
        for bound in [optional(inputs, 1), optional(inputs, 2)]
            .into_iter()
            .flatten()
        {
            if bound.spec.dtype != DType::F32 || bound.spec.numel()? != 1 {
                return Err(GraphError::invalid("Clip bounds must be f32 scalars"));
            }
        }
        Ok(TensorSpec {
            dtype,
            shape: x.shape.clone(),
        })
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let x = input(inputs, 0)?;
        match self.kind {
            UnaryKind::Identity => return out.data.copy_from(x.data),
            UnaryKind::Cast(_) => return cast(x.data, out.data),
            UnaryKind::Not => {
                if let (DataRef::Bool(x), DataMut::Bool(o)) = (x.data, &mut out.data) {
                    for (o, &x) in o.iter_mut().zip(x) {
                        *o = u8::from(x == 0);
                    }
                    return Ok(());
                }
            }
            UnaryKind::Neg | UnaryKind::Abs if x.dtype() != DType::F32 => {
                let neg = self.kind == UnaryKind::Neg;
                match (x.data, &mut out.data) {
                    (DataRef::I64(x), DataMut::I64(o)) => {
                        for (o, &x) in o.iter_mut().zip(x) {
                            *o = if neg {
                                x.wrapping_neg()
                            } else {
                                x.wrapping_abs()
                            };
                        }
                    }
                    (DataRef::I32(x), DataMut::I32(o)) => {
                        for (o, &x) in o.iter_mut().zip(x) {
                            *o = if neg {
                                x.wrapping_neg()
                            } else {
                                x.wrapping_abs()
                            };
                        }
                    }
                    _ => return Err(GraphError::invalid("unsupported element type")),
                }
                return Ok(());
            }
            _ => {}
        }
        let xs = x.f32()?;
        let o = out.f32()?;
        let op = match self.kind {
            UnaryKind::Sqrt => UnaryOp::Sqrt,
            UnaryKind::Erf => UnaryOp::Erf,
            UnaryKind::Exp => UnaryOp::Exp,
            UnaryKind::Log => UnaryOp::Log,
            UnaryKind::Abs => UnaryOp::Abs,
            UnaryKind::Neg => UnaryOp::Neg,
            UnaryKind::Reciprocal => UnaryOp::Reciprocal,
            UnaryKind::Act(act) => return Ok(activate(act, xs, o)?),
            UnaryKind::Clip { mut min, mut max } => {
                if let Some(m) = optional(inputs, 1) {
                    min = m.f32()?[0];
                }
                if let Some(m) = optional(inputs, 2) {
                    max = m.f32()?[0];
                }
                // A NaN bound is no bound. ONNX leaves min > max unspecified; this gives `max`
                // (like ONNX Runtime).
                let min = if min.is_nan() { f32::NEG_INFINITY } else { min };
                let max = if max.is_nan() { f32::INFINITY } else { max };
                let act = Activation::Clamp {
                    min: min.min(max),
                    max,
                };
                return Ok(activate(act, xs, o)?);
            }
            _ => return Err(GraphError::invalid("unsupported element type")),
        };
        Ok(unary(op, xs, o)?)
    }

    op_common!();
}

/// Element type conversion with ONNX Runtime's rules: float to integer truncates toward zero
/// (saturating here, where ONNX leaves overflow undefined), anything to bool is `!= 0`.
fn cast(x: DataRef<'_>, out: DataMut<'_>) -> Result<()> {
    macro_rules! from {
        ($src:expr, $to_f32:expr, $to_int:expr) => {{
            let src = $src;
            match out {
                DataMut::F32(o) => o.iter_mut().zip(src).for_each(|(o, &v)| *o = $to_f32(v)),
                DataMut::I64(o) => o.iter_mut().zip(src).for_each(|(o, &v)| *o = $to_int(v)),
                DataMut::I32(o) => o
                    .iter_mut()
                    .zip(src)
                    .for_each(|(o, &v)| *o = $to_int(v) as i32),
                DataMut::I8(o) => o
                    .iter_mut()
                    .zip(src)
                    .for_each(|(o, &v)| *o = $to_int(v) as i8),
                DataMut::U8(o) => o
                    .iter_mut()
                    .zip(src)
                    .for_each(|(o, &v)| *o = $to_int(v) as u8),
                DataMut::Bool(o) => o
                    .iter_mut()
                    .zip(src)
                    .for_each(|(o, &v)| *o = u8::from($to_f32(v) != 0.0)),
            }
        }};
    }
    match x {
        DataRef::F32(s) => from!(s, |v: f32| v, |v: f32| v as i64),
        DataRef::I64(s) => from!(s, |v: i64| v as f32, |v: i64| v),
        DataRef::I32(s) => from!(s, |v: i32| v as f32, |v: i32| v as i64),
        DataRef::I8(s) => from!(s, |v: i8| v as f32, |v: i8| v as i64),
        DataRef::U8(s) => from!(s, |v: u8| v as f32, |v: u8| v as i64),
        DataRef::Bool(s) => from!(s, |v: u8| u8::from(v != 0) as f32, |v: u8| i64::from(
            v != 0
        )),
    }
    Ok(())
}
