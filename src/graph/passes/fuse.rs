//! Operator fusion on the specialised graph. Each rule matches a small subgraph by operator
//! type and constant operands and replaces it with one operator that does the same arithmetic
//! in fewer passes over memory:
//!
//! | pattern | becomes |
//! |---|---|
//! | `x * clip(x + 3, 0, 6) / 6` | `HardSwish(x)` |
//! | `(x * 0.5) * (1 + erf(x / sqrt 2))` (and the other association) | `GELU(x)` |
//! | `Conv -> BatchNormalization` | `Conv` with rescaled filters and bias |
//! | `Conv -> Add(per-channel constant)` | `Conv` with bias |
//! | `MatMul(x, W constant) [-> Add(b constant)]` | `Linear` (packed `W`, bias in the epilogue) |
//! | `Conv` or `Linear` `-> Relu / Clip / HardSwish / GELU / Sigmoid / Tanh / HardSigmoid` | activation in the epilogue |
//! | `Conv` or `Linear` `-> Add(residual)` | residual in the epilogue |
//! | `LayerNormalization(last axis, constant scale and bias) -> Linear` (f32, no activation) | `LayerNormLinear` |
//! | `MatMul(Q, Transpose(K)) [-> Mul/Div(scale)] [-> Add(mask)] -> Softmax -> MatMul(., V)` | `Attention` |
//! | `Transpose(Transpose(x, p), q)` | one `Transpose(x, p then q)`, or `x` itself when that is the identity |
//!
//! A rule only fires when the intermediate values have no other reader, so the graph computes
//! the same outputs (up to float rounding of the folded constants). With `quantize` set,
//! `Linear` gets int8 weights (see [`super::quantize`]).
use super::prepare::WeightCache;
use super::{dce, quantize};
use crate::graph::error::Result;
use crate::graph::ops::conv::Conv;
use crate::graph::ops::elementwise::{Binary, BinaryKind};
use crate::graph::ops::fused::{Attention, LayerNormLinear, Linear, LinearWeights};
use crate::graph::ops::matmul::MatMul;
use crate::graph::ops::norm::{batch_norm_affine, BatchNorm, LayerNorm};
use crate::graph::ops::shape_ops::{Movement, ShapeOp};
use crate::graph::ops::softmax::Softmax;
use crate::graph::ops::unary::{Unary, UnaryKind};
use crate::graph::ops::Op;
use crate::graph::tensor::Tensor;
use crate::graph::typed::{TensorSpec, TypedGraph, TypedValue};
use crate::Activation;
use std::sync::Arc;

/// Runs every fusion, in an order where each rule sees the previous rules' results.
pub(crate) fn run(g: &mut TypedGraph, weights: &WeightCache, quantize: bool) -> Result<()> {
    transposes(g);
    activation_subgraphs(g);
    dce::run(g);
    fold_batch_norm(g)?;
    conv_bias(g)?;
    linear(g, weights, quantize)?;
    absorb_activation(g);
    absorb_residual(g);
    layer_norm_linear(g);
    attention(g);
    dce::run(g);
    Ok(())
}

fn op<T: 'static>(g: &TypedGraph, k: usize) -> Option<&T> {
    g.nodes[k].op.as_any().downcast_ref::<T>()
}

/// The two inputs of node `k` if it is the binary operator `kind`.
fn binary(g: &TypedGraph, k: usize, kind: BinaryKind) -> Option<(usize, usize)> {
    match (
        op::<Binary>(g, k)?.kind == kind,
        g.nodes[k].inputs.as_slice(),
    ) {
        (true, [Some(a), Some(b)]) => Some((*a, *b)),
        _ => None,
    }
}

/// The value of a one-element f32 constant.
fn scalar(g: &TypedGraph, v: usize) -> Option<f32> {
    let c = g.constant(v)?;
    match c.as_f32()? {
        [x] => Some(*x),
        _ => None,
    }
}

fn near(a: Option<f32>, b: f32) -> bool {
    a.is_some_and(|a| (a - b).abs() <= 1e-6 * b.abs().max(1.0))
}

/// `(other, scalar)` if `(a, b)` is a value and a constant scalar in either order.
fn with_scalar(g: &TypedGraph, (a, b): (usize, usize)) -> Option<(usize, f32)> {
    match (scalar(g, a), scalar(g, b)) {
        (None, Some(s)) => Some((a, s)),
        (Some(s), None) => Some((b, s)),
        _ => None,
    }
}

fn add_constant(g: &mut TypedGraph, name: String, t: Tensor) -> usize {
    g.values.push(TypedValue {
        name,
        spec: TensorSpec::of(&t),
        constant: Some(Arc::new(t)),
    });
    g.values.len() - 1
}

fn remove(g: &mut TypedGraph, dead: &[bool]) {
    let mut k = 0;
    g.nodes.retain(|_| {
        k += 1;
        !dead[k - 1]
    });
}

/// The axis permutation of node `k` if it is a `Transpose` (ONNX's default: reversed axes).
fn transpose_perm(g: &TypedGraph, k: usize) -> Option<Vec<usize>> {
    let ShapeOp::Transpose { perm } = &op::<Movement>(g, k)?.op else {
        return None;
    };
    let rank = g.values[g.nodes[k].inputs.first().copied()??]
        .spec
        .shape
        .len();
    match perm {
        None => Some((0..rank).rev().collect()),
        Some(p) => {
            let p: Vec<usize> = p
                .iter()
                .map(|&a| usize::try_from(a).ok())
                .collect::<Option<_>>()?;
            let mut seen = vec![false; rank];
            // Only well-formed permutations (shape inference has checked them already).
            let ok = p.len() == rank
                && p.iter()
                    .all(|&a| a < rank && !std::mem::replace(&mut seen[a], true));
            ok.then_some(p)
        }
    }
}

/// `Transpose(Transpose(x, p), q)`: output axis `i` is axis `p[q[i]]` of `x`, one transpose
/// instead of two copies; when that permutation is the identity the reader takes `x` directly
/// (or, for a graph output, the node becomes an `Identity`). The inner transpose stays for its
/// other readers, or goes to dead-node elimination.
fn transposes(g: &mut TypedGraph) {
    // Rewrites change inputs, never which node produces a value.
    let producers = g.producers();
    for k in 0..g.nodes.len() {
        let Some(q) = transpose_perm(g, k) else {
            continue;
        };
        let Some(Some(y)) = g.nodes[k].inputs.first().copied() else {
            continue;
        };
        let Some(j) = producers[y] else { continue };
        let Some(p) = transpose_perm(g, j) else {
            continue;
        };
        let Some(Some(x)) = g.nodes[j].inputs.first().copied() else {
            continue;
        };
        let composed: Vec<usize> = q.iter().map(|&i| p[i]).collect();
        let out = g.nodes[k].output;
        if composed.iter().enumerate().all(|(i, &a)| i == a) {
            if g.outputs.contains(&out) {
                g.nodes[k].op = Box::new(Unary {
                    kind: UnaryKind::Identity,
                });
                g.nodes[k].inputs = vec![Some(x)];
            } else {
                for n in &mut g.nodes {
                    for i in n.inputs.iter_mut().flatten() {
                        if *i == out {
                            *i = x;
                        }
                    }
                }
            }
        } else {
            g.nodes[k].op = Box::new(Movement::new(ShapeOp::Transpose {
                perm: Some(composed.iter().map(|&a| a as i64).collect()),
            }));
            g.nodes[k].inputs = vec![Some(x)];
        }
    }
}

/// Rewrites the HardSwish and GELU subgraphs into one activation each (their inner nodes are
/// left for dead-node elimination).
fn activation_subgraphs(g: &mut TypedGraph) {
    let producers = g.producers();
    let prod = |v: usize| producers[v];
    for k in 0..g.nodes.len() {
        let found = hard_swish(g, k, &prod)
            .map(|x| (x, Activation::HardSwish))
            .or_else(|| gelu(g, k, &prod).map(|x| (x, Activation::GeluErf)));
        if let Some((x, act)) = found {
            g.nodes[k].op = Box::new(Unary {
                kind: UnaryKind::Act(act),
            });
            g.nodes[k].inputs = vec![Some(x)];
        }
    }
}

/// `x` if node `k` computes `x * clip(x + 3, 0, 6) / 6` (or `* (1/6)`).
fn hard_swish(g: &TypedGraph, k: usize, prod: &dyn Fn(usize) -> Option<usize>) -> Option<usize> {
    let (m, s) = binary(g, k, BinaryKind::Div)
        .and_then(|p| with_scalar(g, p))
        .filter(|&(_, s)| near(Some(s), 6.0))
        .or_else(|| {
            binary(g, k, BinaryKind::Mul)
                .and_then(|p| with_scalar(g, p))
                .filter(|&(_, s)| near(Some(s), 1.0 / 6.0))
        })?;
    let _ = s;
    let (a, b) = binary(g, prod(m)?, BinaryKind::Mul)?;
    for (x, c) in [(a, b), (b, a)] {
        let ck = prod(c)?;
        let UnaryKind::Clip { min, max } = op::<Unary>(g, ck)?.kind else {
            continue;
        };
        let ins = &g.nodes[ck].inputs;
        let bound = |i: usize, fixed: f32| match ins.get(i).copied().flatten() {
            Some(v) => scalar(g, v),
            None => Some(fixed),
        };
        if !near(bound(1, min), 0.0) || !near(bound(2, max), 6.0) {
            continue;
        }
        let (y, three) = with_scalar(g, binary(g, prod(ins[0]?)?, BinaryKind::Add)?)?;
        if y == x && near(Some(three), 3.0) {
            return Some(x);
        }
    }
    None
}

/// `x` if node `k` computes `(x * 0.5) * (1 + erf(x / sqrt 2))` or `(x * (1 + erf(..))) * 0.5`.
fn gelu(g: &TypedGraph, k: usize, prod: &dyn Fn(usize) -> Option<usize>) -> Option<usize> {
    // `1 + erf(x / sqrt 2)` -> x
    let one_plus_erf = |v: usize| -> Option<usize> {
        let (e, one) = with_scalar(g, binary(g, prod(v)?, BinaryKind::Add)?)?;
        if !near(Some(one), 1.0) {
            return None;
        }
        let ek = prod(e)?;
        if op::<Unary>(g, ek)?.kind != UnaryKind::Erf {
            return None;
        }
        let sk = prod(g.nodes[ek].inputs[0]?)?;
        let (x, s) = binary(g, sk, BinaryKind::Mul)
            .and_then(|p| with_scalar(g, p))
            .filter(|&(_, s)| near(Some(s), core::f32::consts::FRAC_1_SQRT_2))
            .or_else(|| {
                binary(g, sk, BinaryKind::Div)
                    .and_then(|p| with_scalar(g, p))
                    .filter(|&(_, s)| near(Some(s), core::f32::consts::SQRT_2))
            })?;
        let _ = s;
        Some(x)
    };
    let (p, q) = binary(g, k, BinaryKind::Mul)?;
    // Form 1: (x * 0.5) * (1 + erf)
    for (h, a) in [(p, q), (q, p)] {
        if let Some(hk) = prod(h) {
            if let Some((x, half)) = binary(g, hk, BinaryKind::Mul).and_then(|t| with_scalar(g, t))
            {
                if near(Some(half), 0.5) && one_plus_erf(a) == Some(x) {
                    return Some(x);
                }
            }
        }
    }
    // Form 2: (x * (1 + erf)) * 0.5
    let (inner, half) = with_scalar(g, (p, q))?;
    if !near(Some(half), 0.5) {
        return None;
    }
    let (a, b) = binary(g, prod(inner)?, BinaryKind::Mul)?;
    [(a, b), (b, a)]
        .into_iter()
        .find(|&(x, e)| one_plus_erf(e) == Some(x))
        .map(|(x, _)| x)
}

/// The node producing `v` if it is the only reader's input, and `v` has exactly one reader.
fn sole_producer(uses: &[usize], producers: &[Option<usize>], v: usize) -> Option<usize> {
    if uses[v] == 1 {
        producers[v]
    } else {
        None
    }
}

/// A convolution that still accepts fused steps (no activation or residual yet).
fn plain_conv(g: &TypedGraph, k: usize) -> bool {
    op::<Conv>(g, k).is_some_and(|c| c.activation == Activation::Identity)
        && g.nodes[k].inputs.len() <= 3
}

/// `Conv -> BatchNormalization`: scale the filters and bias per output channel.
fn fold_batch_norm(g: &mut TypedGraph) -> Result<()> {
    let (uses, producers) = (g.use_counts(), g.producers());
    let mut dead = vec![false; g.nodes.len()];
    for b in 0..g.nodes.len() {
        if op::<BatchNorm>(g, b).is_none() {
            continue;
        }
        let eps = op::<BatchNorm>(g, b).map_or(0.0, |n| n.epsilon);
        let ins = g.nodes[b].inputs.clone();
        let Some(c) = ins[0].and_then(|x| sole_producer(&uses, &producers, x)) else {
            continue;
        };
        if !plain_conv(g, c) || dead[c] {
            continue;
        }
        let params: Option<Vec<&[f32]>> = ins[1..]
            .iter()
            .map(|v| v.and_then(|v| g.constant(v)).and_then(Tensor::as_f32))
            .collect();
        let conv_ins = &g.nodes[c].inputs;
        let w = conv_ins[1].and_then(|v| g.constant(v));
        let bias = conv_ins.get(2).copied().flatten();
        let bias = match bias {
            Some(v) => match g.constant(v).and_then(Tensor::as_f32) {
                Some(b) => Some(b),
                None => continue,
            },
            None => None,
        };
        let (Some(p), Some(w)) = (params, w) else {
            continue;
        };
        let (Some(wd), [co, ..]) = (w.as_f32(), w.shape()) else {
            continue;
        };
        let co = *co;
        if p.iter().any(|v| v.len() != co) || co == 0 {
            continue;
        }
        let per = wd.len() / co;
        let mut nw = wd.to_vec();
        let mut nb = vec![0.0f32; co];
        for o in 0..co {
            let (a, shift) = batch_norm_affine(p[0][o], p[1][o], p[2][o], p[3][o], eps);
            nw[o * per..(o + 1) * per].iter_mut().for_each(|v| *v *= a);
            nb[o] = bias.map_or(0.0, |b| b[o]) * a + shift;
        }
        let wshape = w.shape().to_vec();
        let name = g.nodes[c].name.clone();
        let wv = add_constant(
            g,
            format!("{name}/bn_weight"),
            Tensor::from_f32(&wshape, nw)?,
        );
        let bv = add_constant(g, format!("{name}/bn_bias"), Tensor::from_f32(&[co], nb)?);
        let x = g.nodes[c].inputs[0];
        g.nodes[c].inputs = vec![x, Some(wv), Some(bv)];
        g.nodes[c].output = g.nodes[b].output;
        dead[b] = true;
    }
    remove(g, &dead);
    Ok(())
}

/// `Conv -> Add(c)` with `c` one value per output channel (`[C]`, `[C,1,1]`, `[1,C,1,1]`).
fn conv_bias(g: &mut TypedGraph) -> Result<()> {
    let (uses, producers) = (g.use_counts(), g.producers());
    let mut dead = vec![false; g.nodes.len()];
    for a in 0..g.nodes.len() {
        let Some((p, q)) = binary(g, a, BinaryKind::Add) else {
            continue;
        };
        for (y, c) in [(p, q), (q, p)] {
            let Some(k) = sole_producer(&uses, &producers, y) else {
                continue;
            };
            let co = g.values[y].spec.shape.get(1).copied().unwrap_or(0);
            let cs = g.values[c].spec.shape.clone();
            let per_channel = matches!(cs.as_slice(), [1, n, 1, 1] | [n, 1, 1] if *n == co);
            let Some(cv) = g.constant(c).and_then(Tensor::as_f32) else {
                continue;
            };
            if !plain_conv(g, k) || dead[k] || !per_channel {
                continue;
            }
            let old = match g.nodes[k].inputs.get(2).copied().flatten() {
                Some(v) => match g.constant(v).and_then(Tensor::as_f32) {
                    Some(b) => b.to_vec(),
                    None => continue,
                },
                None => vec![0.0; co],
            };
            let nb: Vec<f32> = old.iter().zip(cv).map(|(a, b)| a + b).collect();
            let name = format!("{}/bias", g.nodes[k].name);
            let bv = add_constant(g, name, Tensor::from_f32(&[co], nb)?);
            g.nodes[k].inputs.resize(3, None);
            g.nodes[k].inputs[2] = Some(bv);
            g.nodes[k].output = g.nodes[a].output;
            dead[a] = true;
            break;
        }
    }
    remove(g, &dead);
    Ok(())
}

/// `MatMul(x, W)` with constant 2-D `W` becomes `Linear`, taking a following constant bias.
fn linear(g: &mut TypedGraph, cache: &WeightCache, quantize: bool) -> Result<()> {
    let uses = g.use_counts();
    // Reader of each value when it has exactly one.
    let mut reader = vec![None; g.values.len()];
    for (k, n) in g.nodes.iter().enumerate() {
        for &i in n.inputs.iter().flatten() {
            reader[i] = Some(k);
        }
    }
    let mut dead = vec![false; g.nodes.len()];
    for m in 0..g.nodes.len() {
        if op::<MatMul>(g, m).is_none() {
            continue;
        }
        let [Some(x), Some(w)] = g.nodes[m].inputs[..] else {
            continue;
        };
        let Some(wt) = g.values[w].constant.clone() else {
            continue;
        };
        let Some(weights) = quantize::linear_weights(g, x, &wt, cache, quantize)? else {
            continue;
        };
        let n = weights.n();
        let y = g.nodes[m].output;
        let mut bias = None;
        if let Some(a) = reader[y].filter(|_| uses[y] == 1) {
            if let Some((p, q)) = binary(g, a, BinaryKind::Add) {
                let c = if p == y { q } else { p };
                let cs = &g.values[c].spec.shape;
                let row = cs.last() == Some(&n) && cs.iter().rev().skip(1).all(|&d| d == 1);
                let out_rank = g.values[y].spec.shape.len();
                if let Some(cv) = g.constant(c).and_then(Tensor::as_f32) {
                    if row && cs.len() <= out_rank && !dead[a] {
                        bias = Some(cv.to_vec());
                        g.nodes[m].output = g.nodes[a].output;
                        dead[a] = true;
                    }
                }
            }
        }
        g.nodes[m].op = Box::new(Linear::new(weights, bias));
        g.nodes[m].inputs = vec![Some(x)];
    }
    remove(g, &dead);
    Ok(())
}

/// The activation a node applies, if it is one the epilogues can apply.
fn activation_of(g: &TypedGraph, k: usize) -> Option<Activation> {
    match op::<Unary>(g, k)?.kind {
        UnaryKind::Act(a) => Some(a),
        UnaryKind::Clip { min, max } => {
            let ins = &g.nodes[k].inputs;
            let bound = |i: usize, fixed: f32| match ins.get(i).copied().flatten() {
                Some(v) => scalar(g, v),
                None => Some(fixed),
            };
            let act = Activation::Clamp {
                min: bound(1, min)?,
                max: bound(2, max)?,
            };
            act.validate().ok()?;
            Some(act)
        }
        _ => None,
    }
}

/// `Conv` or `Linear` followed by an activation: the activation moves into the epilogue.
fn absorb_activation(g: &mut TypedGraph) {
    let (uses, producers) = (g.use_counts(), g.producers());
    let mut dead = vec![false; g.nodes.len()];
    for u in 0..g.nodes.len() {
        let Some(act) = activation_of(g, u) else {
            continue;
        };
        let Some(y) = g.nodes[u].inputs[0] else {
            continue;
        };
        let Some(k) = sole_producer(&uses, &producers, y) else {
            continue;
        };
        if dead[k] {
            continue;
        }
        let fused = if plain_conv(g, k) {
            let mut conv = op::<Conv>(g, k).cloned();
            conv.as_mut().map(|c| {
                c.activation = act;
                Box::new(c.clone()) as Box<dyn Op>
            })
        } else {
            match op::<Linear>(g, k) {
                Some(l) if l.activation == Activation::Identity && g.nodes[k].inputs.len() == 1 => {
                    let mut l = l.clone();
                    l.activation = act;
                    Some(Box::new(l) as Box<dyn Op>)
                }
                _ => None,
            }
        };
        if let Some(f) = fused {
            g.nodes[k].op = f;
            g.nodes[k].output = g.nodes[u].output;
            dead[u] = true;
        }
    }
    remove(g, &dead);
}

/// `Conv` or `Linear` followed by `Add(residual)` of the same shape: the residual is added in
/// the epilogue. The residual must be computed before the fused node runs.
fn absorb_residual(g: &mut TypedGraph) {
    let (uses, producers) = (g.use_counts(), g.producers());
    let mut dead = vec![false; g.nodes.len()];
    for a in 0..g.nodes.len() {
        let Some((p, q)) = binary(g, a, BinaryKind::Add) else {
            continue;
        };
        for (y, r) in [(p, q), (q, p)] {
            let Some(k) = sole_producer(&uses, &producers, y) else {
                continue;
            };
            let ready = producers[r].is_none_or(|pr| pr < k) && !dead[k];
            if !ready || g.values[r].spec != g.values[y].spec {
                continue;
            }
            let conv = op::<Conv>(g, k).is_some() && g.nodes[k].inputs.len() <= 3;
            let lin = op::<Linear>(g, k).is_some() && g.nodes[k].inputs.len() == 1;
            if conv {
                g.nodes[k].inputs.resize(3, None);
                g.nodes[k].inputs.push(Some(r));
            } else if lin {
                g.nodes[k].inputs.push(Some(r));
            } else {
                continue;
            }
            g.nodes[k].output = g.nodes[a].output;
            dead[a] = true;
            break;
        }
    }
    remove(g, &dead);
}

/// `LayerNormalization -> Linear` (f32 weights, optional bias and residual, no activation)
/// becomes [`LayerNormLinear`], which normalises rows block by block straight into the GEMM.
/// Only when the Linear is the normalised tensor's sole reader: the fused node never
/// materialises it. (In post-LN BERT, e.g. MiniLM, every LayerNorm output also feeds a
/// residual `Add` or several projections, so nothing there matches.)
fn layer_norm_linear(g: &mut TypedGraph) {
    let (uses, producers) = (g.use_counts(), g.producers());
    for k in 0..g.nodes.len() {
        let Some(l) = op::<Linear>(g, k) else {
            continue;
        };
        let LinearWeights::F32(weights) = &l.weights else {
            continue;
        };
        let Some(x) = g.nodes[k].inputs[0] else {
            continue;
        };
        let Some(ln) = sole_producer(&uses, &producers, x) else {
            continue;
        };
        let Some(norm) = op::<LayerNorm>(g, ln) else {
            continue;
        };
        let shape = &g.values[x].spec.shape;
        let last_axis = norm.axis == -1 || norm.axis + 1 == shape.len() as i64;
        let ins = &g.nodes[ln].inputs;
        let param = |i: usize| {
            ins.get(i)
                .copied()
                .flatten()
                .and_then(|v| g.constant(v))
                .and_then(Tensor::as_f32)
                .map(<[f32]>::to_vec)
        };
        let (gamma, beta) = (param(1), param(2));
        let beta_ok = ins.get(2).copied().flatten().is_none() || beta.is_some();
        let (Some(gamma), Some(src)) = (gamma, ins[0]) else {
            continue;
        };
        if l.activation != Activation::Identity || !last_axis || !beta_ok {
            continue;
        }
        let fused = LayerNormLinear {
            gamma,
            beta,
            epsilon: norm.epsilon,
            weights: weights.clone(),
            bias: l.bias.clone(),
            scratch: Default::default(),
        };
        g.nodes[k].op = Box::new(fused);
        g.nodes[k].inputs[0] = Some(src);
    }
}

/// The attention subgraph of BERT-style encoders (as exported by PyTorch and Hugging Face):
/// `MatMul(Q, Transpose(K, [0,2,3,1]))`, an optional scale, an optional additive mask, a
/// softmax over the last axis and `MatMul(., V)`, all on `[batch, heads, seq, dim]`. The key
/// transpose is changed to `[0,2,1,3]` (K, not K^T) and the final `MatMul` becomes
/// [`Attention`]; the rest is left for dead-node elimination.
fn attention(g: &mut TypedGraph) {
    let (uses, producers) = (g.use_counts(), g.producers());
    let single = |v: usize| sole_producer(&uses, &producers, v);
    for pv in 0..g.nodes.len() {
        let Some(found) = match_attention(g, pv, &single) else {
            continue;
        };
        let (q, kt, t, v, scale, mask) = found;
        let kt_shape = &g.values[kt].spec.shape;
        let k_shape = vec![kt_shape[0], kt_shape[1], kt_shape[3], kt_shape[2]];
        g.values[kt].spec.shape = k_shape;
        g.nodes[t].op = Box::new(Movement::new(ShapeOp::Transpose {
            perm: Some(vec![0, 2, 1, 3]),
        }));
        let mut inputs = vec![Some(q), Some(kt), Some(v)];
        if let Some(m) = mask {
            inputs.push(Some(m));
        }
        g.nodes[pv].op = Box::new(Attention::new(scale));
        g.nodes[pv].inputs = inputs;
    }
}

/// `(q, k^T value, its Transpose node, v, scale, mask)` if node `pv` ends an attention block.
#[allow(clippy::type_complexity)]
fn match_attention(
    g: &TypedGraph,
    pv: usize,
    single: &dyn Fn(usize) -> Option<usize>,
) -> Option<(usize, usize, usize, usize, f32, Option<usize>)> {
    op::<MatMul>(g, pv)?;
    let [Some(p), Some(v)] = g.nodes[pv].inputs[..] else {
        return None;
    };
    let rank4 = |x: usize| g.values[x].spec.shape.len() == 4;
    // Softmax over the last axis.
    let sm = single(p)?;
    let soft = op::<Softmax>(g, sm)?;
    if soft.axis != -1 && soft.axis != 3 {
        return None;
    }
    let mut x = g.nodes[sm].inputs[0]?;
    // Optional additive mask.
    let mut mask = None;
    if let Some(a) = single(x) {
        if let Some((l, r)) = binary(g, a, BinaryKind::Add) {
            let scores_first = single(l)
                .is_some_and(|k| op::<MatMul>(g, k).is_some() || op::<Binary>(g, k).is_some());
            let (s, m) = if scores_first { (l, r) } else { (r, l) };
            let ms = &g.values[m].spec.shape;
            let ss = &g.values[s].spec.shape;
            let fits = ms.len() == 4
                && ss.len() == 4
                && (ms[0] == ss[0] || ms[0] == 1)
                && ms[1] == 1
                && (ms[2] == ss[2] || ms[2] == 1)
                && ms[3] == ss[3];
            if !fits {
                return None;
            }
            mask = Some(m);
            x = s;
        }
    }
    // Optional scale.
    let mut scale = 1.0;
    let mut qk_node = single(x)?;
    if let Some((s, c)) = binary(g, qk_node, BinaryKind::Mul).and_then(|t| with_scalar(g, t)) {
        scale = c;
        qk_node = single(s)?;
    } else if let Some((s, c)) = binary(g, qk_node, BinaryKind::Div).and_then(|t| with_scalar(g, t))
    {
        scale = 1.0 / c;
        qk_node = single(s)?;
    }
    op::<MatMul>(g, qk_node)?;
    let [Some(q), Some(kt)] = g.nodes[qk_node].inputs[..] else {
        return None;
    };
    let t = single(kt)?;
    let perm_ok = matches!(
        &op::<Movement>(g, t)?.op,
        ShapeOp::Transpose { perm: Some(p) } if p == &[0, 2, 3, 1]
    );
    let fits = perm_ok && rank4(q) && rank4(kt) && rank4(v) && scale.is_finite();
    fits.then_some((q, kt, t, v, scale, mask))
}
