//! `MatMul` (numpy semantics: batched, broadcast batch dimensions, 1-D operands) and `Gemm`
//! (`alpha op(A) op(B) + beta C`), on the packed GEMM of the kernels.
//!
//! A constant 2-D right operand (a weight matrix) is packed once in `prepare`; then all rows of
//! all batches of A go through one GEMM call, tiled over the threads ([`crate::parallel`]).
use super::elementwise::for_each_row;
use super::{arity, input, op_common, optional, Attrs, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::shape::{broadcast, check_rank};
use crate::graph::tensor::{DType, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;
use crate::parallel::gemm_packed;
use crate::{MatMut, MatRef, PackedB};

/// `Y = A B` with numpy broadcasting.
#[derive(Clone, Debug, Default)]
pub(crate) struct MatMul {
    /// B packed once when it is a constant matrix.
    pub packed: Option<PackedB>,
    /// Reused buffer for packing a computed B per call.
    dynamic: Option<PackedB>,
    /// The shapes, computed in `prepare` so that `run` allocates nothing.
    dims: Option<MatMulDims>,
}

/// `Y = alpha op(A) op(B) + beta C`.
#[derive(Clone, Debug)]
pub(crate) struct Gemm {
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
    packed: Option<PackedB>,
    dynamic: Option<PackedB>,
}

/// Packs `b` into `slot`, reusing its memory after the first call.
fn pack_into<'a>(slot: &'a mut Option<PackedB>, b: MatRef<'_>) -> Result<&'a PackedB> {
    match slot {
        Some(p) => {
            let kc = p.kc();
            p.repack(b, kc)?;
        }
        None => *slot = Some(PackedB::new(b)?),
    }
    slot.as_ref()
        .ok_or_else(|| GraphError::invalid("packing failed"))
}

pub(crate) fn create(op: &str, a: &mut Attrs<'_>) -> Result<Box<dyn Op>> {
    Ok(match op {
        "MatMul" => Box::new(MatMul::default()),
        _ => Box::new(Gemm {
            alpha: a.float("alpha", 1.0)?,
            beta: a.float("beta", 1.0)?,
            trans_a: a.int("transA", 0)? != 0,
            trans_b: a.int("transB", 0)? != 0,
            packed: None,
            dynamic: None,
        }),
    })
}

/// Shapes of a `MatMul`: batch dims of the output, (m, k, n), and the output shape.
#[derive(Clone, Debug)]
pub(crate) struct MatMulDims {
    pub batch: Vec<usize>,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub out: Vec<usize>,
}

pub(crate) fn matmul_dims(a: &[usize], b: &[usize]) -> Result<MatMulDims> {
    if a.is_empty() || b.is_empty() {
        return Err(GraphError::invalid("MatMul operands must have rank >= 1"));
    }
    let (m, ka) = if a.len() == 1 {
        (1, a[0])
    } else {
        (a[a.len() - 2], a[a.len() - 1])
    };
    let (kb, n) = if b.len() == 1 {
        (b[0], 1)
    } else {
        (b[b.len() - 2], b[b.len() - 1])
    };
    if ka != kb {
        return Err(GraphError::invalid(format!(
            "MatMul inner dimensions differ: {a:?} x {b:?}"
        )));
    }
    let batch = broadcast(
        &a[..a.len().saturating_sub(2)],
        &b[..b.len().saturating_sub(2)],
    )?;
    let mut out = batch.clone();
    if a.len() > 1 {
        out.push(m);
    }
    if b.len() > 1 {
        out.push(n);
    }
    check_rank(out.len())?;
    Ok(MatMulDims {
        batch,
        m,
        k: ka,
        n,
        out,
    })
}

impl Op for MatMul {
    fn kind(&self) -> &'static str {
        "MatMul"
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 2, 2)?;
        let (a, b) = (input(inputs, 0)?.spec, input(inputs, 1)?.spec);
        if a.dtype != DType::F32 || b.dtype != DType::F32 {
            return Err(GraphError::unsupported("non-f32", "MatMul operand type"));
        }
        Ok(TensorSpec::new(
            DType::F32,
            &matmul_dims(&a.shape, &b.shape)?.out,
        ))
    }

    fn prepare(&mut self, inputs: &[Option<Fact<'_>>]) -> Result<()> {
        let (a, b) = (input(inputs, 0)?.spec, input(inputs, 1)?.spec);
        self.dims = Some(matmul_dims(&a.shape, &b.shape)?);
        if let Some(b) = input(inputs, 1)?.value {
            if b.shape.len() == 2 && input(inputs, 0)?.spec.shape.len() >= 2 {
                let (k, n) = (b.shape[0], b.shape[1]);
                self.packed = Some(PackedB::new(MatRef::row_major(b.f32()?, k, n)?)?);
            }
        }
        Ok(())
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let (a, b) = (input(inputs, 0)?, input(inputs, 1)?);
        let d = match &self.dims {
            Some(d) => d,
            None => return Err(GraphError::invalid("MatMul ran before prepare")),
        };
        let (x, w) = (a.f32()?, b.f32()?);
        let y = out.f32()?;
        if d.k == 0 {
            y.fill(0.0);
            return Ok(());
        }
        if let Some(p) = &self.packed {
            // All rows of A at once against the packed weights.
            let rows = x.len() / d.k;
            return Ok(gemm_packed(
                1.0,
                MatRef::row_major(x, rows, d.k)?,
                p,
                0.0,
                MatMut::row_major(y, rows, d.n)?,
                &[],
            )?);
        }
        let (sa, sb) = (d.m * d.k, d.k * d.n);
        let so = d.m * d.n;
        let ba = &a.shape[..a.shape.len().saturating_sub(2)];
        let bb = &b.shape[..b.shape.len().saturating_sub(2)];
        let mut result = Ok(());
        let slot = &mut self.dynamic;
        for_each_row(&d.batch, [ba, bb], |oo, [ao, bo], cnt, [as_, bs]| {
            for j in 0..cnt {
                if result.is_err() {
                    return;
                }
                let (ia, ib, io) = (ao + j * as_, bo + j * bs, oo + j);
                result = (|| -> Result<()> {
                    let am = MatRef::row_major(&x[ia * sa..(ia + 1) * sa], d.m, d.k)?;
                    let bm = MatRef::row_major(&w[ib * sb..(ib + 1) * sb], d.k, d.n)?;
                    let cm = MatMut::row_major(&mut y[io * so..(io + 1) * so], d.m, d.n)?;
                    let packed = pack_into(slot, bm)?;
                    Ok(gemm_packed(1.0, am, packed, 0.0, cm, &[])?)
                })();
            }
        })?;
        result
    }

    op_common!();
}

impl Gemm {
    fn dims(&self, a: &[usize], b: &[usize]) -> Result<(usize, usize, usize)> {
        if a.len() != 2 || b.len() != 2 {
            return Err(GraphError::invalid("Gemm operands must be matrices"));
        }
        let (m, ka) = if self.trans_a {
            (a[1], a[0])
        } else {
            (a[0], a[1])
        };
        let (kb, n) = if self.trans_b {
            (b[1], b[0])
        } else {
            (b[0], b[1])
        };
        if ka != kb {
            return Err(GraphError::invalid(format!(
                "Gemm inner dimensions differ: {a:?} x {b:?}"
            )));
        }
        Ok((m, ka, n))
    }

    fn b_view<'a>(&self, b: &'a [f32], shape: &[usize]) -> Result<MatRef<'a>> {
        let v = MatRef::row_major(b, shape[0], shape[1])?;
        Ok(if self.trans_b { v.t() } else { v })
    }
}

impl Op for Gemm {
    fn kind(&self) -> &'static str {
        "Gemm"
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        arity(inputs, 2, 3)?;
        let (a, b) = (input(inputs, 0)?.spec, input(inputs, 1)?.spec);
        if a.dtype != DType::F32 || b.dtype != DType::F32 {
            return Err(GraphError::unsupported("non-f32", "Gemm operand type"));
        }
        let (m, _, n) = self.dims(&a.shape, &b.shape)?;
        if let Some(c) = optional(inputs, 2) {
            if broadcast(&c.spec.shape, &[m, n])? != [m, n] || c.spec.dtype != DType::F32 {
                return Err(GraphError::invalid("Gemm C must broadcast to (M, N)"));
            }
        }
        Ok(TensorSpec::new(DType::F32, &[m, n]))
    }

    fn prepare(&mut self, inputs: &[Option<Fact<'_>>]) -> Result<()> {
        if let Some(b) = input(inputs, 1)?.value {
            self.packed = Some(PackedB::new(self.b_view(b.f32()?, b.shape)?)?);
        }
        Ok(())
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let (a, b) = (input(inputs, 0)?, input(inputs, 1)?);
        let (m, k, n) = self.dims(a.shape, b.shape)?;
        let y = out.f32()?;
        // beta * C first, then the product accumulates onto it (GEMM beta = 1).
        let mut beta = 0.0;
        if let Some(c) = optional(inputs, 2) {
            let cv = c.f32()?;
            let s = self.beta;
            for_each_row(&[m, n], [c.shape], |oo, [co], cnt, [cs]| {
                for j in 0..cnt {
                    y[oo + j] = s * cv[co + j * cs];
                }
            })?;
            beta = 1.0;
        } else {
            y.fill(0.0);
        }
        if k == 0 || m == 0 || n == 0 {
            return Ok(());
        }
        let av = MatRef::row_major(a.f32()?, a.shape[0], a.shape[1])?;
        let av = if self.trans_a { av.t() } else { av };
        let c = MatMut::row_major(y, m, n)?;
        let bv = self.b_view(b.f32()?, b.shape)?;
        let packed = match &self.packed {
            Some(p) => p,
            None => pack_into(&mut self.dynamic, bv)?,
        };
        gemm_packed(self.alpha, av, packed, beta, c, &[])?;
        Ok(())
    }

    op_common!();
}
