//! Elementwise operators with numpy broadcasting: arithmetic (`Add`, `Sub`, `Mul`, `Div`,
//! `Pow`, `Max`, `Min`), comparisons (`Equal`, `Less`, `Greater`) and `Where`.
//!
//! f32 `Add`, `Sub`, `Mul` and `Div` are the kernels' SIMD [`crate::kernels::binary`], and `Pow`
//! by a scalar exponent the kernels' `UnaryOp::Pow`. The rest (integers, comparisons, `Max`,
//! `Min`, `Where`, `Pow` by a tensor) walks the output row by row (innermost dimension), with
//! per-input strides that are 0 along broadcast dimensions, so every broadcast pattern costs one
//! multiply-free inner loop.
use super::{arity, input, op_common, Attrs, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::shape::{broadcast, check_rank, MAX_RANK};
use crate::graph::tensor::{DType, DataMut, DataRef, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;
use crate::kernels::{binary, unary, BinaryOp, UnaryOp};

/// The binary operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryKind {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
    Equal,
    Less,
    Greater,
}

impl BinaryKind {
    fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryKind::Equal | BinaryKind::Less | BinaryKind::Greater
        )
    }
}

/// A binary elementwise operator.
#[derive(Clone, Debug)]
pub(crate) struct Binary {
    pub kind: BinaryKind,
}

/// `Where(condition, x, y)`.
#[derive(Clone, Debug)]
pub(crate) struct Where;

pub(crate) fn create(op: &str, _a: &mut Attrs<'_>) -> Result<Box<dyn Op>> {
    let kind = match op {
        "Add" => BinaryKind::Add,
        "Sub" => BinaryKind::Sub,
        "Mul" => BinaryKind::Mul,
        "Div" => BinaryKind::Div,
        "Pow" => BinaryKind::Pow,
        "Max" => BinaryKind::Max,
        "Min" => BinaryKind::Min,
        "Equal" => BinaryKind::Equal,
        "Less" => BinaryKind::Less,
        "Greater" => BinaryKind::Greater,
        "Where" => return Ok(Box::new(Where)),
        other => return Err(GraphError::unsupported(other, "op type")),
    };
    Ok(Box::new(Binary { kind }))
}

impl Op for Binary {
    fn kind(&self) -> &'static str {
        match self.kind {
            BinaryKind::Add => "Add",
            BinaryKind::Sub => "Sub",
            BinaryKind::Mul => "Mul",
            BinaryKind::Div => "Div",
            BinaryKind::Pow => "Pow",
            BinaryKind::Max => "Max",
            BinaryKind::Min => "Min",
            BinaryKind::Equal => "Equal",
            BinaryKind::Less => "Less",
            BinaryKind::Greater => "Greater",
        }
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 2, 2)?;
        let (a, b) = (input(inputs, 0)?.spec, input(inputs, 1)?.spec);
        if a.dtype != b.dtype {
            return Err(GraphError::invalid(format!(
                "operand types differ: {} and {}",
                a.dtype.name(),
                b.dtype.name()
            )));
        }
        let supported = match self.kind {
            BinaryKind::Pow => a.dtype == DType::F32,
            _ => matches!(a.dtype, DType::F32 | DType::I64 | DType::I32),
        };
        if !supported {
            return Err(GraphError::unsupported(a.dtype.name(), "element type"));
        }
        let shape = broadcast(&a.shape, &b.shape)?;
        check_rank(shape.len())?;
        let dtype = if self.kind.is_comparison() {
            DType::Bool
        } else {
            a.dtype
        };
        Ok(TensorSpec { dtype, shape })
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], out: TensorMut<'_>) -> Result<()> {
        let (a, b) = (input(inputs, 0)?, input(inputs, 1)?);
        let k = self.kind;
        let (sa, sb, so) = (a.shape, b.shape, out.shape);
        match (a.data, b.data, out.data) {
            (DataRef::F32(x), DataRef::F32(y), DataMut::F32(o)) => {
                let arithmetic = match k {
                    BinaryKind::Add => Some(BinaryOp::Add),
                    BinaryKind::Sub => Some(BinaryOp::Sub),
                    BinaryKind::Mul => Some(BinaryOp::Mul),
                    BinaryKind::Div => Some(BinaryOp::Div),
                    _ => None,
                };
                if let Some(op) = arithmetic {
                    return Ok(binary(op, x, sa, y, sb, o)?);
                }
                if let (BinaryKind::Pow, &[p], true) = (k, y, x.len() == o.len()) {
                    if p.is_finite() {
                        return Ok(unary(UnaryOp::Pow(p), x, o)?);
                    }
                }
                let f = match k {
                    BinaryKind::Pow => |x: f32, y: f32| x.powf(y),
                    // NaN propagates, as in ONNX Runtime.
                    BinaryKind::Max => |x: f32, y: f32| if x.is_nan() || x > y { x } else { y },
                    BinaryKind::Min => |x: f32, y: f32| if x.is_nan() || x < y { x } else { y },
                    _ => return Err(GraphError::invalid("comparison needs a bool output")),
                };
                zip2(x, sa, y, sb, o, so, f)
            }
            (DataRef::F32(x), DataRef::F32(y), DataMut::Bool(o)) => {
                let f = comparison::<f32>(k)?;
                zip2(x, sa, y, sb, o, so, f)
            }
            (DataRef::I64(x), DataRef::I64(y), DataMut::I64(o)) => {
                let f = integer::<i64>(k, y)?;
                zip2(x, sa, y, sb, o, so, f)
            }
            (DataRef::I64(x), DataRef::I64(y), DataMut::Bool(o)) => {
                let f = comparison::<i64>(k)?;
                zip2(x, sa, y, sb, o, so, f)
            }
            (DataRef::I32(x), DataRef::I32(y), DataMut::I32(o)) => {
                let f = integer::<i32>(k, y)?;
                zip2(x, sa, y, sb, o, so, f)
            }
            (DataRef::I32(x), DataRef::I32(y), DataMut::Bool(o)) => {
                let f = comparison::<i32>(k)?;
                zip2(x, sa, y, sb, o, so, f)
            }
            _ => Err(GraphError::invalid("unsupported operand types")),
        }
    }

    op_common!();
}

/// Integer arithmetic: wrapping like ONNX Runtime; division by zero is refused.
trait Int: Copy + Ord + Default {
    fn wadd(self, o: Self) -> Self;
    fn wsub(self, o: Self) -> Self;
    fn wmul(self, o: Self) -> Self;
    fn wdiv(self, o: Self) -> Self;
}
macro_rules! int_impl {
    ($t:ty) => {
        impl Int for $t {
            fn wadd(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            fn wsub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            fn wmul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            fn wdiv(self, o: Self) -> Self {
                // The divisor was checked to be non-zero; MIN / -1 wraps.
                self.checked_div(o).unwrap_or(<$t>::MIN)
            }
        }
    };
}
int_impl!(i64);
int_impl!(i32);

fn integer<T: Int>(k: BinaryKind, divisor: &[T]) -> Result<fn(T, T) -> T> {
    Ok(match k {
        BinaryKind::Add => T::wadd,
        BinaryKind::Sub => T::wsub,
        BinaryKind::Mul => T::wmul,
        BinaryKind::Div => {
            if divisor.contains(&T::default()) {
                return Err(GraphError::invalid("integer division by zero"));
            }
            T::wdiv
        }
        BinaryKind::Max => |x: T, y: T| x.max(y),
        BinaryKind::Min => |x: T, y: T| x.min(y),
        _ => {
            return Err(GraphError::unsupported(
                "integer",
                "operand type for this op",
            ))
        }
    })
}

fn comparison<T: PartialOrd + Copy>(k: BinaryKind) -> Result<fn(T, T) -> u8> {
    Ok(match k {
        BinaryKind::Equal => |x: T, y: T| u8::from(x == y),
        BinaryKind::Less => |x: T, y: T| u8::from(x < y),
        BinaryKind::Greater => |x: T, y: T| u8::from(x > y),
        _ => return Err(GraphError::invalid("not a comparison")),
    })
}

impl Op for Where {
    fn kind(&self) -> &'static str {
        "Where"
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 3, 3)?;
        let (c, x, y) = (
            input(inputs, 0)?.spec,
            input(inputs, 1)?.spec,
            input(inputs, 2)?.spec,
        );
        if c.dtype != DType::Bool || x.dtype != y.dtype {
            return Err(GraphError::invalid(
                "Where needs a bool condition and two operands of one type",
            ));
        }
        let shape = broadcast(&broadcast(&c.shape, &x.shape)?, &y.shape)?;
        check_rank(shape.len())?;
        Ok(TensorSpec {
            dtype: x.dtype,
            shape,
        })
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], out: TensorMut<'_>) -> Result<()> {
        let (c, x, y) = (input(inputs, 0)?, input(inputs, 1)?, input(inputs, 2)?);
        let DataRef::Bool(cond) = c.data else {
            return Err(GraphError::invalid("condition must be bool"));
        };
        let shapes = [c.shape, x.shape, y.shape];
        macro_rules! select {
            ($xv:expr, $yv:expr, $o:expr) => {{
                let (xv, yv, o) = ($xv, $yv, $o);
                for_each_row(out.shape, shapes, |oo, [co, xo, yo], n, [cs, xs, ys]| {
                    for j in 0..n {
                        o[oo + j] = if cond[co + j * cs] != 0 {
                            xv[xo + j * xs]
                        } else {
                            yv[yo + j * ys]
                        };
                    }
                })
            }};
        }
        match (x.data, y.data, out.data) {
            (DataRef::F32(a), DataRef::F32(b), DataMut::F32(o)) => select!(a, b, o),
            (DataRef::I64(a), DataRef::I64(b), DataMut::I64(o)) => select!(a, b, o),
            (DataRef::I32(a), DataRef::I32(b), DataMut::I32(o)) => select!(a, b, o),
            (DataRef::Bool(a), DataRef::Bool(b), DataMut::Bool(o)) => select!(a, b, o),
            (DataRef::U8(a), DataRef::U8(b), DataMut::U8(o)) => select!(a, b, o),
            (DataRef::I8(a), DataRef::I8(b), DataMut::I8(o)) => select!(a, b, o),
            _ => Err(GraphError::invalid("operand types differ")),
        }
    }

    op_common!();
}

/// `out = f(a, b)` with broadcasting (shapes already checked by `infer`).
pub(crate) fn zip2<A: Copy, B: Copy, O>(
    a: &[A],
    sa: &[usize],
    b: &[B],
    sb: &[usize],
    out: &mut [O],
    so: &[usize],
    f: impl Fn(A, B) -> O,
) -> Result<()> {
    // Fast paths: same shape, or one scalar.
    if a.len() == out.len() && b.len() == out.len() && sa == sb {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
        return Ok(());
    }
    if a.len() == out.len() && b.len() == 1 && sa.len() == so.len() {
        let y = b[0];
        for (o, &x) in out.iter_mut().zip(a) {
            *o = f(x, y);
        }
        return Ok(());
    }
    for_each_row(so, [sa, sb], |oo, [ao, bo], n, [as_, bs]| {
        let o = &mut out[oo..oo + n];
        match (as_, bs) {
            (1, 1) => {
                for ((o, &x), &y) in o.iter_mut().zip(&a[ao..ao + n]).zip(&b[bo..bo + n]) {
                    *o = f(x, y);
                }
            }
            (1, 0) => {
                let y = b[bo];
                for (o, &x) in o.iter_mut().zip(&a[ao..ao + n]) {
                    *o = f(x, y);
                }
            }
            (0, 1) => {
                let x = a[ao];
                for (o, &y) in o.iter_mut().zip(&b[bo..bo + n]) {
                    *o = f(x, y);
                }
            }
            _ => {
                for (j, o) in o.iter_mut().enumerate() {
                    *o = f(a[ao + j * as_], b[bo + j * bs]);
                }
            }
        }
    })
}

/// Calls `row(out_offset, input_offsets, n, input_inner_strides)` for every innermost row of
/// the output `shape`, with each input broadcast to it (stride 0 along size-1 dimensions).
///
/// Errors if an input does not broadcast to `shape` or a rank exceeds [`MAX_RANK`].
pub(crate) fn for_each_row<const N: usize>(
    shape: &[usize],
    inputs: [&[usize]; N],
    mut row: impl FnMut(usize, [usize; N], usize, [usize; N]),
) -> Result<()> {
    let rank = shape.len();
    check_rank(rank)?;
    // Strides of each input over the output's dimensions.
    let mut strides = [[0usize; MAX_RANK]; N];
    for (k, s) in inputs.iter().enumerate() {
        if s.len() > rank {
            return Err(GraphError::invalid(format!(
                "shape {s:?} does not broadcast to {shape:?}"
            )));
        }
        let pad = rank - s.len();
        let mut acc = 1usize;
        for d in (0..rank).rev() {
            let dim = if d >= pad { s[d - pad] } else { 1 };
            if dim == shape[d] && dim != 1 {
                strides[k][d] = acc;
            } else if dim != 1 {
                return Err(GraphError::invalid(format!(
                    "shape {s:?} does not broadcast to {shape:?}"
                )));
            }
            acc *= dim;
        }
    }
    if shape.contains(&0) {
        return Ok(());
    }
    let (n, inner) = if rank == 0 {
        (1, [0; N])
    } else {
        (
            shape[rank - 1],
            core::array::from_fn(|k| strides[k][rank - 1]),
        )
    };
    let outer_rank = rank.saturating_sub(1);
    let rows: usize = shape[..outer_rank].iter().product();
    let mut idx = [0usize; MAX_RANK];
    let mut offs = [0usize; N];
    for r in 0..rows {
        row(r * n, offs, n, inner);
        // Advance the multi-index over the outer dimensions (odometer), updating offsets.
        let mut d = outer_rank;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            for k in 0..N {
                offs[k] += strides[k][d];
            }
            if idx[d] < shape[d] {
                break;
            }
            for k in 0..N {
                offs[k] -= strides[k][d] * shape[d];
            }
            idx[d] = 0;
        }
    }
    Ok(())
}
