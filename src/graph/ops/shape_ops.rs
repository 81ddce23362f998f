//! Operators that move data without arithmetic, for every element type: `Reshape`, `Flatten`,
//! `Squeeze`, `Unsqueeze`, `Transpose`, `Concat`, `Slice`, `Gather`, `Shape`, `Expand`,
//! `ConstantOfShape`.
//!
//! Shape-like inputs (`Reshape`'s shape, `Slice`'s starts and ends, axes of opset 13+) must be
//! known when the graph is specialised: constants, or computed from input shapes (folded).
use super::elementwise::for_each_row;
use super::{arity, input, op_common, optional, Attrs, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::ir::Attr;
use crate::graph::shape::{axis, broadcast, check_rank, MAX_RANK};
use crate::graph::tensor::{DType, DataMut, DataRef, Tensor, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;
use std::sync::Arc;

/// Which data-movement operator.
#[derive(Clone, Debug)]
pub(crate) enum ShapeOp {
    Reshape {
        allowzero: bool,
    },
    Flatten {
        axis: i64,
    },
    /// Axes from the attribute (opset < 13) or from input 1.
    Squeeze {
        axes: Option<Vec<i64>>,
    },
    Unsqueeze {
        axes: Option<Vec<i64>>,
    },
    Transpose {
        perm: Option<Vec<i64>>,
    },
    Concat {
        axis: i64,
    },
    /// Opset < 10 keeps starts/ends/axes in attributes.
    Slice {
        attrs: Option<SliceAttrs>,
    },
    Gather {
        axis: i64,
    },
    Shape {
        start: i64,
        end: Option<i64>,
    },
    Expand,
    ConstantOfShape {
        value: Arc<Tensor>,
    },
}

/// `(starts, ends, axes)` of an opset < 10 `Slice`.
pub(crate) type SliceAttrs = (Vec<i64>, Vec<i64>, Option<Vec<i64>>);

/// A data-movement operator.
#[derive(Clone, Debug)]
pub(crate) struct Movement {
    pub op: ShapeOp,
    /// `Transpose` / `Slice` as a strided copy `(base, strides)`, computed in `prepare` for the
    /// specialised input shape so that `run` allocates nothing.
    pub strided: Option<(i64, Vec<i64>)>,
}

impl Movement {
    pub fn new(op: ShapeOp) -> Self {
        Self { op, strided: None }
    }
}

pub(crate) fn create(op: &str, a: &mut Attrs<'_>, opset: i64) -> Result<Box<dyn Op>> {
    let op = match op {
        "Reshape" => ShapeOp::Reshape {
            allowzero: a.int("allowzero", 0)? != 0,
        },
        "Flatten" => ShapeOp::Flatten {
            axis: a.int("axis", 1)?,
        },
        "Squeeze" => ShapeOp::Squeeze {
            axes: if opset < 13 { a.ints("axes")? } else { None },
        },
        "Unsqueeze" => ShapeOp::Unsqueeze {
            axes: if opset < 13 {
                Some(
                    a.ints("axes")?
                        .ok_or_else(|| GraphError::invalid("Unsqueeze needs axes"))?,
                )
            } else {
                None
            },
        },
        "Transpose" => ShapeOp::Transpose {
            perm: a.ints("perm")?,
        },
        "Concat" => ShapeOp::Concat {
            axis: a.int("axis", i64::MIN)?,
        },
        "Slice" => ShapeOp::Slice {
            attrs: if opset < 10 {
                let starts = a.ints("starts")?.unwrap_or_default();
                let ends = a.ints("ends")?.unwrap_or_default();
                Some((starts, ends, a.ints("axes")?))
            } else {
                None
            },
        },
        "Gather" => ShapeOp::Gather {
            axis: a.int("axis", 0)?,
        },
        "Shape" => ShapeOp::Shape {
            start: a.int("start", 0)?,
            end: match a.int("end", i64::MAX)? {
                i64::MAX => None,
                e => Some(e),
            },
        },
        "Expand" => ShapeOp::Expand,
        "ConstantOfShape" => {
            let value = match a.tensor("value")? {
                Some(t) if t.len() == 1 => t,
                Some(_) => return Err(GraphError::invalid("value must hold one element")),
                None => Arc::new(Tensor::from_f32(&[1], vec![0.0])?),
            };
            ShapeOp::ConstantOfShape { value }
        }
        other => return Err(GraphError::unsupported(other, "op type")),
    };
    if let ShapeOp::Concat { axis: i64::MIN } = op {
        return Err(GraphError::invalid("Concat needs an axis"));
    }
    Ok(Box::new(Movement::new(op)))
}

impl Attrs<'_> {
    fn tensor(&mut self, name: &'static str) -> Result<Option<Arc<Tensor>>> {
        match self.get_attr(name) {
            None => Ok(None),
            Some(Attr::Tensor(t)) => Ok(Some(t.clone())),
            Some(a) => Err(GraphError::invalid(format!(
                "attribute `{name}` must be a tensor, found {}",
                a.kind()
            ))),
        }
    }
}

/// The value of a shape-like input, which must be known at specialisation time.
fn known(f: Fact<'_>, what: &str) -> Result<Vec<i64>> {
    f.value
        .ok_or_else(|| GraphError::unsupported("computed at run time", what.to_string()))?
        .to_i64_vec()
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> [usize; MAX_RANK] {
    let mut s = [0usize; MAX_RANK];
    let mut acc = 1;
    for d in (0..shape.len()).rev() {
        s[d] = acc;
        acc *= shape[d];
    }
    s
}

/// Normalised `(start, step, count)` of each dimension for `Slice`.
fn slice_ranges(
    shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<Vec<(i64, i64, usize)>> {
    let mut r: Vec<(i64, i64, usize)> = shape.iter().map(|&d| (0, 1, d)).collect();
    if starts.len() != ends.len() {
        return Err(GraphError::invalid(
            "Slice starts and ends differ in length",
        ));
    }
    for (i, (&s, &e)) in starts.iter().zip(ends).enumerate() {
        let ax = match axes {
            Some(a) => axis(
                *a.get(i)
                    .ok_or_else(|| GraphError::invalid("Slice axes too short"))?,
                shape.len(),
            )?,
            None => i,
        };
        if ax >= shape.len() {
            return Err(GraphError::invalid("Slice has more starts than dimensions"));
        }
        let step = match steps {
            Some(st) => *st
                .get(i)
                .ok_or_else(|| GraphError::invalid("Slice steps too short"))?,
            None => 1,
        };
        if step == 0 {
            return Err(GraphError::invalid("Slice step must not be 0"));
        }
        let dim = shape[ax] as i64;
        let norm = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (s, e) = (norm(s), norm(e));
        let (s, e) = if step > 0 {
            (s.clamp(0, dim), e.clamp(0, dim))
        } else {
            (s.clamp(-1, dim - 1), e.clamp(-1, dim - 1))
        };
        let count = if step > 0 {
            if e > s {
                (e - s + step - 1) / step
            } else {
                0
            }
        } else if s > e {
            (s - e + (-step) - 1) / (-step)
        } else {
            0
        };
        r[ax] = (s, step, count as usize);
    }
    Ok(r)
}

/// Gathers `out[i] = x[base + sum_d i_d * strides[d]]` for the output `shape`, after checking
/// that every offset is inside `x`.
fn strided_copy<T: Copy>(
    x: &[T],
    base: i64,
    strides: &[i64],
    shape: &[usize],
    out: &mut [T],
) -> Result<()> {
    let rank = shape.len();
    check_rank(rank)?;
    if shape.contains(&0) {
        return Ok(());
    }
    let (mut lo, mut hi) = (base, base);
    for d in 0..rank {
        let span = (shape[d] as i64 - 1) * strides[d];
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    if lo < 0 || hi >= x.len() as i64 {
        return Err(GraphError::invalid("strided copy reads outside its input"));
    }
    let n = if rank == 0 { 1 } else { shape[rank - 1] };
    let inner = if rank == 0 { 0 } else { strides[rank - 1] };
    let outer_rank = rank.saturating_sub(1);
    let mut idx = [0usize; MAX_RANK];
    let mut off = base;
    for row in out.chunks_exact_mut(n) {
        if inner == 1 {
            let s = off as usize;
            row.copy_from_slice(&x[s..s + n]);
        } else {
            for (j, o) in row.iter_mut().enumerate() {
                *o = x[(off + j as i64 * inner) as usize];
            }
        }
        let mut d = outer_rank;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            off += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= strides[d] * shape[d] as i64;
            idx[d] = 0;
        }
    }
    Ok(())
}

/// Runs a generic function on same-typed input and output data.
macro_rules! same_type {
    ($x:expr, $o:expr, |$a:ident, $b:ident| $body:expr) => {
        match ($x, $o) {
            (DataRef::F32($a), DataMut::F32($b)) => $body,
            (DataRef::I64($a), DataMut::I64($b)) => $body,
            (DataRef::I32($a), DataMut::I32($b)) => $body,
            (DataRef::I8($a), DataMut::I8($b)) => $body,
            (DataRef::U8($a), DataMut::U8($b)) => $body,
            (DataRef::Bool($a), DataMut::Bool($b)) => $body,
            _ => Err(GraphError::invalid("input and output types differ")),
        }
    };
}

impl Movement {
    /// Axes for Squeeze/Unsqueeze from the attribute or input 1.
    fn axes(
        &self,
        attr: &Option<Vec<i64>>,
        inputs: &[Option<Fact<'_>>],
    ) -> Result<Option<Vec<i64>>> {
        match (attr, optional(inputs, 1)) {
            (Some(a), _) => Ok(Some(a.clone())),
            (None, Some(f)) => Ok(Some(known(f, "axes")?)),
            (None, None) => Ok(None),
        }
    }

    fn slice_params(&self, inputs: &[Option<Fact<'_>>]) -> Result<Vec<(i64, i64, usize)>> {
        let x = input(inputs, 0)?.spec;
        match &self.op {
            ShapeOp::Slice {
                attrs: Some((s, e, a)),
            } => slice_ranges(&x.shape, s, e, a.as_deref(), None),
            _ => {
                arity(inputs, 3, 5)?;
                let s = known(input(inputs, 1)?, "Slice starts")?;
                let e = known(input(inputs, 2)?, "Slice ends")?;
                let a = optional(inputs, 3)
                    .map(|f| known(f, "Slice axes"))
                    .transpose()?;
                let st = optional(inputs, 4)
                    .map(|f| known(f, "Slice steps"))
                    .transpose()?;
                slice_ranges(&x.shape, &s, &e, a.as_deref(), st.as_deref())
            }
        }
    }
}

impl Movement {
    /// The strided copy that implements `Transpose` or `Slice` for these inputs.
    fn strided_plan(&self, inputs: &[Option<Fact<'_>>]) -> Result<Option<(i64, Vec<i64>)>> {
        let x = input(inputs, 0)?.spec;
        let st = strides(&x.shape);
        Ok(match &self.op {
            ShapeOp::Transpose { perm } => {
                let p = permutation(perm, x.shape.len())?;
                Some((0, p.iter().map(|&i| st[i] as i64).collect()))
            }
            ShapeOp::Slice { .. } => {
                let ranges = self.slice_params(inputs)?;
                let mut base = 0i64;
                let mut ss = Vec::with_capacity(ranges.len());
                for (d, &(start, step, _)) in ranges.iter().enumerate() {
                    base += start * st[d] as i64;
                    ss.push(step * st[d] as i64);
                }
                Some((base, ss))
            }
            _ => None,
        })
    }
}

fn facts_of<'a>(
    inputs: &'a [Option<TensorRef<'a>>],
    specs: &'a [TensorSpec],
) -> Vec<Option<Fact<'a>>> {
    inputs
        .iter()
        .zip(specs)
        .map(|(t, s)| {
            t.map(|t| Fact {
                spec: s,
                value: Some(t),
            })
        })
        .collect()
}

impl Op for Movement {
    fn kind(&self) -> &'static str {
        match self.op {
            ShapeOp::Reshape { .. } => "Reshape",
            ShapeOp::Flatten { .. } => "Flatten",
            ShapeOp::Squeeze { .. } => "Squeeze",
            ShapeOp::Unsqueeze { .. } => "Unsqueeze",
            ShapeOp::Transpose { .. } => "Transpose",
            ShapeOp::Concat { .. } => "Concat",
            ShapeOp::Slice { .. } => "Slice",
            ShapeOp::Gather { .. } => "Gather",
            ShapeOp::Shape { .. } => "Shape",
            ShapeOp::Expand => "Expand",
            ShapeOp::ConstantOfShape { .. } => "ConstantOfShape",
        }
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        let x = input(inputs, 0)?.spec;
        let dtype = x.dtype;
        let s = &x.shape;
        let shape: Vec<usize> = match &self.op {
            ShapeOp::Reshape { allowzero } => {
                arity(inputs, 2, 2)?;
                let target = known(input(inputs, 1)?, "Reshape shape")?;
                reshape(s, &target, *allowzero)?
            }
            ShapeOp::Flatten { axis: a } => {
                let ax = if *a == s.len() as i64 {
                    s.len()
                } else {
                    axis(*a, s.len())?
                };
                vec![s[..ax].iter().product(), s[ax..].iter().product()]
            }
            ShapeOp::Squeeze { axes } => match self.axes(axes, inputs)? {
                None => s.iter().copied().filter(|&d| d != 1).collect(),
                Some(axes) => {
                    let mut drop = vec![false; s.len()];
                    for a in axes {
                        let ax = axis(a, s.len())?;
                        if s[ax] != 1 {
                            return Err(GraphError::invalid(
                                "Squeeze of a dimension that is not 1",
                            ));
                        }
                        drop[ax] = true;
                    }
                    s.iter()
                        .zip(&drop)
                        .filter(|(_, &d)| !d)
                        .map(|(&v, _)| v)
                        .collect()
                }
            },
            ShapeOp::Unsqueeze { axes } => {
                let axes = self
                    .axes(axes, inputs)?
                    .ok_or_else(|| GraphError::invalid("Unsqueeze needs axes"))?;
                let rank = s.len() + axes.len();
                let mut ones = vec![false; rank];
                for a in axes {
                    let ax = axis(a, rank)?;
                    if ones[ax] {
                        return Err(GraphError::invalid("Unsqueeze axes repeat"));
                    }
                    ones[ax] = true;
                }
                let mut rest = s.iter();
                ones.iter()
                    .map(|&one| {
                        if one {
                            1
                        } else {
                            rest.next().copied().unwrap_or(1)
                        }
                    })
                    .collect()
            }
            ShapeOp::Transpose { perm } => {
                let p = permutation(perm, s.len())?;
                p.iter().map(|&i| s[i]).collect()
            }
            ShapeOp::Concat { axis: a } => {
                let ax = axis(*a, s.len())?;
                let mut out = s.clone();
                out[ax] = 0;
                for f in inputs {
                    let f = f.ok_or_else(|| GraphError::invalid("Concat input missing"))?;
                    let t = &f.spec.shape;
                    let compatible = t.len() == s.len()
                        && f.spec.dtype == dtype
                        && t.iter()
                            .zip(s)
                            .enumerate()
                            .all(|(d, (a, b))| d == ax || a == b);
                    if !compatible {
                        return Err(GraphError::invalid(format!(
                            "Concat inputs {s:?} and {t:?} differ off axis {ax}"
                        )));
                    }
                    out[ax] += t[ax];
                }
                out
            }
            ShapeOp::Slice { .. } => self.slice_params(inputs)?.iter().map(|r| r.2).collect(),
            ShapeOp::Gather { axis: a } => {
                arity(inputs, 2, 2)?;
                let ax = axis(*a, s.len())?;
                let idx = input(inputs, 1)?.spec;
                if !matches!(idx.dtype, DType::I64 | DType::I32) {
                    return Err(GraphError::invalid("Gather indices must be i64 or i32"));
                }
                let mut out = s[..ax].to_vec();
                out.extend_from_slice(&idx.shape);
                out.extend_from_slice(&s[ax + 1..]);
                out
            }
            ShapeOp::Shape { start, end } => {
                let (a, b) = shape_range(s.len(), *start, *end);
                return Ok(TensorSpec::new(DType::I64, &[b - a]));
            }
            ShapeOp::Expand => {
                arity(inputs, 2, 2)?;
                let target = known(input(inputs, 1)?, "Expand shape")?;
                let target = target
                    .iter()
                    .map(|&d| usize::try_from(d))
                    .collect::<core::result::Result<Vec<_>, _>>()
                    .map_err(|_| GraphError::invalid("Expand shape is negative"))?;
                broadcast(s, &target)?
            }
            ShapeOp::ConstantOfShape { value } => {
                let target = known(input(inputs, 0)?, "ConstantOfShape shape")?;
                let shape = target
                    .iter()
                    .map(|&d| usize::try_from(d))
                    .collect::<core::result::Result<Vec<_>, _>>()
                    .map_err(|_| GraphError::invalid("ConstantOfShape shape is negative"))?;
                return Ok(TensorSpec::new(value.dtype(), &shape));
            }
        };
        check_rank(shape.len())?;
        Ok(TensorSpec { dtype, shape })
    }

    fn fold_from_types(&self, inputs: &[Option<Fact<'_>>]) -> Option<Result<Tensor>> {
        let ShapeOp::Shape { start, end } = self.op else {
            return None;
        };
        let s = &input(inputs, 0).ok()?.spec.shape;
        let (a, b) = shape_range(s.len(), start, end);
        let dims: Vec<i64> = s[a..b].iter().map(|&d| d as i64).collect();
        Some(Tensor::from_i64(&[dims.len()], dims))
    }

    fn prepare(&mut self, inputs: &[Option<Fact<'_>>]) -> Result<()> {
        self.strided = self.strided_plan(inputs)?;
        Ok(())
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], out: TensorMut<'_>) -> Result<()> {
        let x = input(inputs, 0)?;
        let TensorMut {
            shape: os,
            data: mut od,
        } = out;
        if let Some((base, ss)) = &self.strided {
            let base = *base;
            return same_type!(x.data, od, |a, b| strided_copy(a, base, ss, os, b));
        }
        match &self.op {
            ShapeOp::Reshape { .. }
            | ShapeOp::Flatten { .. }
            | ShapeOp::Squeeze { .. }
            | ShapeOp::Unsqueeze { .. } => od.copy_from(x.data),
            ShapeOp::Transpose { perm } => {
                let p = permutation(perm, x.shape.len())?;
                let st = strides(x.shape);
                let ps: Vec<i64> = p.iter().map(|&i| st[i] as i64).collect();
                same_type!(x.data, od, |a, b| strided_copy(a, 0, &ps, os, b))
            }
            ShapeOp::Concat { axis: a } => {
                let ax = axis(*a, os.len())?;
                let outer: usize = os[..ax].iter().product();
                let out_block: usize = os[ax..].iter().product();
                let mut at = 0;
                for t in inputs {
                    let t = t.ok_or_else(|| GraphError::invalid("Concat input missing"))?;
                    let block: usize = t.shape[ax..].iter().product();
                    same_type!(t.data, od.reborrow(), |src, dst| {
                        for o in 0..outer {
                            dst[o * out_block + at..o * out_block + at + block]
                                .copy_from_slice(&src[o * block..(o + 1) * block]);
                        }
                        Ok(())
                    })?;
                    at += block;
                }
                Ok(())
            }
            ShapeOp::Slice { .. } => {
                let specs: Vec<TensorSpec> = inputs
                    .iter()
                    .map(|t| {
                        t.map_or(TensorSpec::new(DType::I64, &[]), |t| {
                            TensorSpec::new(t.dtype(), t.shape)
                        })
                    })
                    .collect();
                let ranges = self.slice_params(&facts_of(inputs, &specs))?;
                let st = strides(x.shape);
                let mut base = 0i64;
                let mut ss = Vec::with_capacity(ranges.len());
                for (d, &(start, step, _)) in ranges.iter().enumerate() {
                    base += start * st[d] as i64;
                    ss.push(step * st[d] as i64);
                }
                same_type!(x.data, od, |a, b| strided_copy(a, base, &ss, os, b))
            }
            ShapeOp::Gather { axis: a } => {
                let ax = axis(*a, x.shape.len())?;
                let idx = input(inputs, 1)?;
                let n = x.shape[ax] as i64;
                let outer: usize = x.shape[..ax].iter().product();
                let inner: usize = x.shape[ax + 1..].iter().product();
                let resolve = |i: i64| -> Result<usize> {
                    let j = if i < 0 { i + n } else { i };
                    if j < 0 || j >= n {
                        return Err(GraphError::invalid(format!(
                            "Gather index {i} is out of range for dimension {n}"
                        )));
                    }
                    Ok(j as usize)
                };
                let count = idx.data.len();
                let index = |k: usize| -> Result<usize> {
                    match idx.data {
                        DataRef::I64(v) => resolve(v[k]),
                        DataRef::I32(v) => resolve(v[k] as i64),
                        _ => Err(GraphError::invalid("Gather indices must be integers")),
                    }
                };
                same_type!(x.data, od, |src, dst| {
                    for o in 0..outer {
                        for k in 0..count {
                            let j = index(k)?;
                            let d0 = (o * count + k) * inner;
                            let s0 = (o * n as usize + j) * inner;
                            dst[d0..d0 + inner].copy_from_slice(&src[s0..s0 + inner]);
                        }
                    }
                    Ok(())
                })
            }
            ShapeOp::Shape { start, end } => {
                let (a, b) = shape_range(x.shape.len(), *start, *end);
                match od {
                    DataMut::I64(o) => {
                        for (o, &d) in o.iter_mut().zip(&x.shape[a..b]) {
                            *o = d as i64;
                        }
                        Ok(())
                    }
                    _ => Err(GraphError::invalid("Shape output must be i64")),
                }
            }
            ShapeOp::Expand => same_type!(x.data, od, |src, dst| {
                for_each_row(os, [x.shape], |oo, [xo], n, [xs]| {
                    for j in 0..n {
                        dst[oo + j] = src[xo + j * xs];
                    }
                })
            }),
            ShapeOp::ConstantOfShape { value } => {
                let v = value.view().data;
                same_type!(v, od, |src, dst| {
                    dst.fill(src[0]);
                    Ok(())
                })
            }
        }
    }

    op_common!();
}

/// `[start, end)` of `Shape` (opset 15), clamped to the rank.
fn shape_range(rank: usize, start: i64, end: Option<i64>) -> (usize, usize) {
    let r = rank as i64;
    let norm = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let a = norm(start);
    let b = end.map_or(rank, norm);
    (a, b.max(a))
}

fn permutation(perm: &Option<Vec<i64>>, rank: usize) -> Result<Vec<usize>> {
    let p: Vec<usize> = match perm {
        None => (0..rank).rev().collect(),
        Some(p) => p.iter().map(|&a| axis(a, rank)).collect::<Result<_>>()?,
    };
    let mut seen = vec![false; rank];
    if p.len() != rank || p.iter().any(|&i| std::mem::replace(&mut seen[i], true)) {
        return Err(GraphError::invalid(format!(
            "perm {perm:?} is not a permutation of rank {rank}"
        )));
    }
    Ok(p)
}

/// ONNX `Reshape` target resolution: `0` copies the input dimension (unless `allowzero`), one
/// `-1` takes what is left.
fn reshape(input: &[usize], target: &[i64], allowzero: bool) -> Result<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, &t) in target.iter().enumerate() {
        out.push(match t {
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                1
            }
            0 if !allowzero => *input
                .get(i)
                .ok_or_else(|| GraphError::invalid("Reshape 0 past the input rank"))?,
            t if t >= 0 => t as usize,
            _ => {
                return Err(GraphError::invalid(format!(
                    "bad Reshape target {target:?}"
                )))
            }
        });
    }
    let known = out
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| GraphError::invalid("Reshape target overflows"))?;
    if let Some(i) = infer_at {
        if known == 0 || total % known != 0 {
            return Err(GraphError::invalid(format!(
                "cannot reshape {input:?} to {target:?}"
            )));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(GraphError::invalid(format!(
            "cannot reshape {input:?} ({total} elements) to {target:?}"
        )));
    }
    Ok(out)
}
