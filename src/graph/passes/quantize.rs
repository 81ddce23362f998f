//! Optional int8 weight quantization ([`crate::graph::Options::quantize_weights`] and
//! [`crate::graph::Options::quantize_convs`]).
//!
//! Weights are quantized once, symmetric, one scale per output channel (`PackedQB::quantize_f32`);
//! activations are quantized per row on the fly (dynamic quantization), so no calibration data
//! is needed. Applies to:
//! - `Linear` (made by fusion) and a `MatMul` by a constant matrix: `LinearInt8`, unless its
//!   input comes straight from a `LayerNormalization` (see [`reads_layer_norm`]);
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
use crate::graph::tensor::Tensor;
use crate::graph::typed::TypedGraph;
use std::sync::Arc;

/// The packed weights of a `Linear` computing `x W` (int8 when `quantize` and `x` is not a
/// LayerNorm output), or `None` when the product does not fit one (`W` not an f32 matrix, `x` of rank < 2).
pub(crate) fn linear_weights(
    g: &TypedGraph,
    x: usize,
    w: &Arc<Tensor>,
    cache: &WeightCache,
    quantize: bool,
) -> Result<Option<LinearWeights>> {
    if w.as_f32().is_none() || w.shape().len() != 2 || g.values[x].spec.shape.len() < 2 {
        return Ok(None);
    }
    let quantize = quantize && !reads_layer_norm(g, x);
    Ok(Some(if quantize {
        LinearWeights::Int8(cache.quantized(w)?)
    } else {
        LinearWeights::F32(cache.packed(w)?)
    }))
}

/// Whether `x` is the output of a `LayerNormalization`. Such inputs (transformer hidden
/// states) carry a few large outlier channels, which per-row activation quantization handles
/// worst, so those layers keep f32 weights. Measured on MiniLM (cosine of the int8 sentence
/// embeddings to the f32 ones, worst of the three reference sentences): every layer int8
/// 0.9983; all but the Q, K, V projections 0.9991; all but the LayerNorm-fed ones (Q, K, V and
/// FFN up; this rule) 0.9994; int8 weights with f32 activations 0.9994.
fn reads_layer_norm(g: &TypedGraph, x: usize) -> bool {
    g.nodes
        .iter()
        .find(|n| n.output == x)
        .is_some_and(|n| n.op.as_any().downcast_ref::<LayerNorm>().is_some())
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
