//! Weight preparation: give every operator its constant inputs once, so it can pack weights
//! (GEMM panels, convolution filters) before the first run instead of in every run.
use crate::graph::error::{GraphError, Result};
use crate::graph::ops::fused::QWeights;
use crate::graph::ops::Fact;
use crate::graph::tensor::Tensor;
use crate::graph::typed::TypedGraph;
use crate::quant::PackedQB;
use crate::{MatRef, PackedB};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Packed weight matrices shared by every session of a model, so compiling for a new input
/// shape (another sentence length) does not pack the weights again. Keyed by the constant's
/// allocation, which the cache keeps alive so the key cannot be reused.
#[derive(Debug, Default)]
pub(crate) struct WeightCache {
    packed: Mutex<HashMap<usize, CacheEntry<PackedB>>>,
    quantized: Mutex<HashMap<usize, CacheEntry<QWeights>>>,
}

/// The weight (kept alive) and its packed form.
type CacheEntry<P> = (Arc<Tensor>, Arc<P>);

impl WeightCache {
    /// The packed form of the row-major `k x n` f32 matrix `w`.
    pub fn packed(&self, w: &Arc<Tensor>) -> Result<Arc<PackedB>> {
        cached(&self.packed, w, |m| Ok(PackedB::new(m)?))
    }

    /// The int8 form of the row-major `k x n` f32 matrix `w`: symmetric, one scale per column,
    /// after scaling row `j` by `scale[j]` when given (see [`QWeights`]).
    pub fn quantized(&self, w: &Arc<Tensor>, scale: Option<Vec<f32>>) -> Result<Arc<QWeights>> {
        // An entry made with other smoothing factors is replaced (one W, one LayerNorm before
        // it: in practice the factors never change).
        let key = Arc::as_ptr(w) as usize;
        if let Some((_, q)) = self.lock_quantized()?.get(&key) {
            if q.scale == scale {
                return Ok(q.clone());
            }
        }
        let (data, &[k, n]) = (w.as_f32(), w.shape()) else {
            return Err(GraphError::invalid("weights must be an f32 matrix"));
        };
        let data = data.ok_or_else(|| GraphError::invalid("weights must be f32"))?;
        let packed = match &scale {
            None => PackedQB::quantize_f32(MatRef::row_major(data, k, n)?)?,
            Some(s) => {
                if s.len() != k {
                    return Err(GraphError::invalid("one smoothing factor per row of W"));
                }
                let scaled: Vec<f32> = data
                    .chunks_exact(n.max(1))
                    .zip(s)
                    .flat_map(|(row, s)| row.iter().map(move |v| v * s))
                    .collect();
                PackedQB::quantize_f32(MatRef::row_major(&scaled, k, n)?)?
            }
        };
        let inv_scale = scale.as_ref().map(|s| s.iter().map(|s| 1.0 / s).collect());
        let q = Arc::new(QWeights {
            packed,
            scale,
            inv_scale,
        });
        self.lock_quantized()?.insert(key, (w.clone(), q.clone()));
        Ok(q)
    }

    fn lock_quantized(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<usize, CacheEntry<QWeights>>>> {
        self.quantized
            .lock()
            .map_err(|_| GraphError::invalid("weight cache poisoned"))
    }
}

/// The entry of `map` for `w`, made by `make` from `w` as a matrix when missing.
fn cached<P>(
    map: &Mutex<HashMap<usize, CacheEntry<P>>>,
    w: &Arc<Tensor>,
    make: impl FnOnce(MatRef<'_>) -> Result<P>,
) -> Result<Arc<P>> {
    let key = Arc::as_ptr(w) as usize;
    let mut map = map
        .lock()
        .map_err(|_| GraphError::invalid("weight cache poisoned"))?;
    if let Some((_, p)) = map.get(&key) {
        return Ok(p.clone());
    }
    let (data, &[k, n]) = (w.as_f32(), w.shape()) else {
        return Err(GraphError::invalid("weights must be an f32 matrix"));
    };
    let data = data.ok_or_else(|| GraphError::invalid("weights must be f32"))?;
    let p = Arc::new(make(MatRef::row_major(data, k, n)?)?);
    map.insert(key, (w.clone(), p.clone()));
    Ok(p)
}

/// Calls [`crate::graph::ops::Op::prepare`] on every node.
pub(crate) fn run(g: &mut TypedGraph) -> Result<()> {
    let values = &g.values;
    for node in &mut g.nodes {
        let facts: Vec<Option<Fact<'_>>> = node
            .inputs
            .iter()
            .map(|i| {
                i.map(|i| Fact {
                    spec: &values[i].spec,
                    value: values[i].constant.as_deref().map(|t| t.view()),
                })
            })
            .collect();
        node.op
            .prepare(&facts)
            .map_err(|e| e.at(&node.name, node.op.kind()))?;
    }
    Ok(())
}
