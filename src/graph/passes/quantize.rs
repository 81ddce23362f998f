//! Optional int8 weight quantization ([`crate::graph::Options::quantize_weights`] and
//! [`crate::graph::Options::quantize_convs`]).
//!
//! Weights are quantized once, symmetric, one scale per output channel (`PackedQB::quantize_f32`);
//! activations are quantized per row on the fly (dynamic quantization), so no calibration data
//! is needed. Applies to:
//! - `Linear` (made by fusion) and a `MatMul` by a constant matrix: `LinearInt8`, depending on
//!   what produces its input (see [`int8_input`]; LayerNorm outputs with smoothing factors);
//! - with `quantize_convs`, pointwise `Conv` (1x1, stride 1, no padding, one group):
//!   `ConvInt8` (decided in its `prepare`, where the geometry is known).
//!
//! Measured accuracy: see `tests/graph_quant.rs` (MiniLM sentence embeddings keep a cosine
//! >= 0.999 to the f32 ones).
use super::prepare::WeightCache;
use crate::graph::error::Result;
use crate::graph::ops::conv::Conv;
use crate::graph::ops::fused::{Linear, LinearWeights};
use crate::graph::ops::matmul::MatMul;
use crate::graph::ops::norm::LayerNorm;
use crate::graph::ops::unary::{Unary, UnaryKind};
use crate::graph::tensor::Tensor;
use crate::graph::typed::{TypedGraph, TypedNode};
use crate::Activation;
use std::sync::Arc;

/// The packed weights of a `Linear` computing `x W` (int8 when `quantize`), or `None` when the
/// product does not fit one (`W` not an f32 matrix, `x` of rank < 2).
pub(crate) fn linear_weights(
    g: &TypedGraph,
    x: usize,
    w: &Arc<Tensor>,
    cache: &WeightCache,
    quantize: bool,
) -> Result<Option<LinearWeights>> {
    let (Some(wd), &[k, n]) = (w.as_f32(), w.shape()) else {
        return Ok(None);
    };
    if g.values[x].spec.shape.len() < 2 {
        return Ok(None);
    }
    if !quantize {
        return Ok(Some(LinearWeights::F32(cache.packed(w)?)));
    }
    Ok(Some(match int8_input(g, x, k) {
        Some(None) => LinearWeights::Int8(cache.quantized(w, None)?),
        Some(Some(range)) => {
            let s = smoothing(&range, wd, n);
            LinearWeights::Int8(cache.quantized(w, Some(s))?)
        }
        None => LinearWeights::F32(cache.packed(w)?),
    }))
}

/// Whether a layer reading `x` (`k` wide) gets int8 weights, by what produces `x`:
/// `Some(None)` plain, `Some(Some(range))` smoothed with per-channel ranges, `None` f32.
///
/// - a `LayerNormalization` with constant parameters read by one projection (a transformer's
///   FFN input): int8, smoothed ([`layer_norm_range`]);
/// - a `LayerNormalization` read by several projections (attention's Q, K and V: the scores
///   multiply two quantized projections, so their errors compound): f32;
/// - an activation, standalone or fused into a `Linear` (the FFN's GELU output, whose outlier
///   channels have no range estimate): f32;
/// - anything else (e.g. attention's context before the output projection): int8.
///
/// Measured on MiniLM, cosine of the int8 sentence embedding to the f32 one, on the reference
/// sentences (worst of three) and on 128 tokens of vocabulary words (the benchmark's input):
/// every projection int8 and smoothed 0.99909 / 0.99828; no smoothing 0.99828 / -; LayerNorm
/// readers f32, the rest int8 0.99944 / 0.99907; this rule (FFN up smoothed and the attention
/// output int8, Q, K, V and FFN down f32) asserted in `tests/graph_quant.rs`.
fn int8_input(g: &TypedGraph, x: usize, k: usize) -> Option<Option<Vec<f32>>> {
    let Some(node) = g.nodes.iter().find(|n| n.output == x) else {
        return Some(None);
    };
    let op = node.op.as_any();
    if op.downcast_ref::<LayerNorm>().is_some() {
        let projections = g
            .nodes
            .iter()
            .filter(|n| n.inputs.first() == Some(&Some(x)))
            .filter(|n| {
                let op = n.op.as_any();
                op.downcast_ref::<MatMul>().is_some() || op.downcast_ref::<Linear>().is_some()
            })
            .count();
        return match projections {
            1 => layer_norm_range(g, node, k).map(Some),
            _ => None,
        };
    }
    let activated = op
        .downcast_ref::<Unary>()
        .is_some_and(|u| matches!(u.kind, UnaryKind::Act(a) if a != Activation::Identity))
        || op
            .downcast_ref::<Linear>()
            .is_some_and(|l| l.activation != Activation::Identity);
    if activated {
        None
    } else {
        Some(None)
    }
}

/// The bound `|gamma_j| + |beta_j|` of each of the `k` channels of the LayerNorm `node`'s
/// output, when its parameters are constants.
///
/// Transformer hidden states (LayerNorm outputs) carry a few channels far larger than the rest
/// (large `gamma_j`), which per-row activation quantization handles worst; the bound is the
/// calibration-free estimate of each channel's range that [`smoothing`] balances against W.
fn layer_norm_range(g: &TypedGraph, node: &TypedNode, k: usize) -> Option<Vec<f32>> {
    let param = |i: usize| -> Option<Option<&[f32]>> {
        match node.inputs.get(i).copied().flatten() {
            None => Some(None),
            Some(v) => g.constant(v).and_then(Tensor::as_f32).map(Some),
        }
    };
    let (gamma, beta) = (param(1)??, param(2)?);
    if gamma.len() != k || beta.is_some_and(|b| b.len() != k) {
        return None;
    }
    Some(
        (0..k)
            .map(|j| gamma[j].abs() + beta.map_or(0.0, |b| b[j].abs()))
            .collect(),
    )
}

/// SmoothQuant's factors with alpha = 1/2: `s_j = sqrt(range_j / max_n |W_jn|)`, so that
/// `x_j / s_j` and `s_j W_j` have the same range `sqrt(range_j max |W_j|)`. 1 where either is
/// zero or not finite.
fn smoothing(range: &[f32], w: &[f32], n: usize) -> Vec<f32> {
    range
        .iter()
        .zip(w.chunks_exact(n.max(1)))
        .map(|(&a, row)| {
            let m = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let s = (a / m).sqrt();
            if a > 0.0 && m > 0.0 && s.is_finite() && s > 0.0 {
                s
            } else {
                1.0
            }
        })
        .collect()
}

/// With `linear`, turns every remaining `MatMul` by a constant matrix into an int8 `Linear`
/// (without fusion these are all of them); with `convs`, asks every `Conv` for int8 weights.
pub(crate) fn run(
    g: &mut TypedGraph,
    cache: &WeightCache,
    linear: bool,
    convs: bool,
) -> Result<()> {
    for k in 0..g.nodes.len() {
        let node = &g.nodes[k];
        if let Some(c) = node.op.as_any().downcast_ref::<Conv>().filter(|_| convs) {
            let mut c = c.clone();
            c.int8 = true;
            g.nodes[k].op = Box::new(c);
            continue;
        }
        if !linear || node.op.as_any().downcast_ref::<MatMul>().is_none() {
            continue;
        }
        let [Some(x), Some(w)] = node.inputs[..] else {
            continue;
        };
        let Some(wt) = g.values[w].constant.clone() else {
            continue;
        };
        if let Some(weights) = linear_weights(g, x, &wt, cache, true)? {
            g.nodes[k].op = Box::new(Linear::new(weights, None));
            g.nodes[k].inputs = vec![Some(x)];
        }
    }
    Ok(())
}
