//! Binary arithmetic (`+ - * /`) with numpy-style broadcasting.
//!
//! The broadcast is planned once ([`Plan`]): a same-shape operation becomes one flat SIMD loop,
//! a scalar operand a splatted vector, and a broadcast trailing vector (`[R, C] + [C]`, a bias)
//! one SIMD loop per row. Results are IEEE single-precision operations, so they are exact:
//! correctly rounded, equal to the f64 result rounded to f32 (asserted in
//! `tests/elementwise.rs`).
use super::shape::{check_len, Plan, Shape};
use crate::error::{Error, Result};
use crate::simd::F32x4;
use crate::stream::{map, map_ops, InOut};

/// An elementwise binary operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
}

/// `out = a op b`, broadcasting `a` (shape `a_shape`) and `b` (shape `b_shape`) numpy-style;
/// `out` holds exactly the elements of the broadcast shape ([`Shape::broadcast`]).
///
/// ```
/// use wasmnn_kernels::{binary, BinaryOp};
/// let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
/// let bias = [10.0, 20.0, 30.0];          // [3]
/// let mut y = [0.0; 6];
/// binary(BinaryOp::Add, &x, &[2, 3], &bias, &[3], &mut y)?;
/// assert_eq!(y, [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn binary(
    op: BinaryOp,
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
    out: &mut [f32],
) -> Result<()> {
    let (sa, sb) = (Shape::new(a_shape)?, Shape::new(b_shape)?);
    let so = Shape::broadcast(a_shape, b_shape)?;
    check_len("length of a (= elements of a_shape)", a.len(), &sa)?;
    check_len("length of b (= elements of b_shape)", b.len(), &sb)?;
    check_len(
        "length of out (= elements of the broadcast shape)",
        out.len(),
        &so,
    )?;
    let plan = Plan::new(&sa, &sb, &so);
    match op {
        BinaryOp::Add => run(&plan, a, b, out, |x, y| x.add(y)),
        BinaryOp::Sub => run(&plan, a, b, out, |x, y| x.sub(y)),
        BinaryOp::Mul => run(&plan, a, b, out, |x, y| x.mul(y)),
        BinaryOp::Div => run(&plan, a, b, out, |x, y| x.div(y)),
    }
    Ok(())
}

/// `a = a op b` in place; `b_shape` must broadcast to `a_shape` (the result keeps `a`'s shape).
///
/// ```
/// use wasmnn_kernels::{binary_inplace, BinaryOp};
/// let mut x = [1.0, 2.0, 3.0, 4.0]; // [2, 2]
/// binary_inplace(BinaryOp::Mul, &mut x, &[2, 2], &[10.0, 100.0], &[2, 1])?; // per-row scale
/// assert_eq!(x, [10.0, 20.0, 300.0, 400.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn binary_inplace(
    op: BinaryOp,
    a: &mut [f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
) -> Result<()> {
    let (sa, sb) = (Shape::new(a_shape)?, Shape::new(b_shape)?);
    let so = Shape::broadcast(a_shape, b_shape)?;
    if so != sa {
        return Err(Error::ShapeMismatch {
            what: "elements of a_shape (b must broadcast to the shape of a in place)",
            expected: so.numel(),
            found: sa.numel(),
        });
    }
    check_len("length of a (= elements of a_shape)", a.len(), &sa)?;
    check_len("length of b (= elements of b_shape)", b.len(), &sb)?;
    let plan = Plan::new(&sa, &sb, &so);
    match op {
        BinaryOp::Add => run_inplace(&plan, a, b, |x, y| x.add(y)),
        BinaryOp::Sub => run_inplace(&plan, a, b, |x, y| x.sub(y)),
        BinaryOp::Mul => run_inplace(&plan, a, b, |x, y| x.mul(y)),
        BinaryOp::Div => run_inplace(&plan, a, b, |x, y| x.div(y)),
    }
    Ok(())
}

/// Out of place: per inner row, the loop for whichever operand varies along it.
#[inline(always)]
fn run(plan: &Plan, a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(F32x4, F32x4) -> F32x4) {
    let inner = plan.inner();
    let n = inner.size;
    if out.is_empty() {
        return;
    }
    plan.for_each_row(|oa, ob, oo| {
        let Some(y) = out.get_mut(oo..oo + n) else {
            return; // unreachable: the plan covers `out` exactly
        };
        match (inner.sa, inner.sb) {
            (1, 1) => {
                let (Some(x), Some(bv)) = (a.get(oa..oa + n), b.get(ob..ob + n)) else {
                    return;
                };
                // Padding 1: the discarded lanes of a division stay finite.
                map_ops(&mut InOut::new(x, y), bv, 1.0, &f);
            }
            (1, _) => {
                let (Some(x), Some(&s)) = (a.get(oa..oa + n), b.get(ob)) else {
                    return;
                };
                let s = F32x4::splat(s);
                map(&mut InOut::new(x, y), |v| f(v, s));
            }
            (_, 1) => {
                let (Some(&s), Some(x)) = (a.get(oa), b.get(ob..ob + n)) else {
                    return;
                };
                let s = F32x4::splat(s);
                map(&mut InOut::new(x, y), |v| f(s, v));
            }
            _ => {
                // Neither varies: a one-element row (a scalar result).
                let (Some(&s), Some(&t)) = (a.get(oa), b.get(ob)) else {
                    return;
                };
                let r = f(F32x4::splat(s), F32x4::splat(t)).lane(0);
                y.iter_mut().for_each(|v| *v = r);
            }
        }
    });
}

/// In place: `a` is never broadcast (its shape is the output's).
#[inline(always)]
fn run_inplace(plan: &Plan, a: &mut [f32], b: &[f32], f: impl Fn(F32x4, F32x4) -> F32x4) {
    let inner = plan.inner();
    let n = inner.size;
    if a.is_empty() {
        return;
    }
    plan.for_each_row(|_, ob, oo| {
        let Some(x) = a.get_mut(oo..oo + n) else {
            return;
        };
        if inner.sb == 1 {
            let Some(bv) = b.get(ob..ob + n) else {
                return;
            };
            map_ops(&mut InOut::in_place(x), bv, 1.0, &f);
        } else {
            let Some(&s) = b.get(ob) else {
                return;
            };
            let s = F32x4::splat(s);
            map(&mut InOut::in_place(x), |v| f(v, s));
        }
    });
}
