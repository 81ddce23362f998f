//! Weight preparation: give every operator its constant inputs once, so it can pack weights
//! (GEMM panels, convolution filters) before the first run instead of in every run.
use crate::graph::error::{GraphError, Result};
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
    quantized: Mutex<HashMap<usize, CacheEntry<PackedQB>>>,
}

/// The weight (kept alive) and its packed form.
type CacheEntry<P> = (Arc<Tensor>, Arc<P>);

impl WeightCache {
    /// The packed form of the row-major `k x n` f32 matrix `w`.
    pub fn packed(&self, w: &Arc<Tensor>) -> Result<Arc<PackedB>> {
        cached(&self.packed, w, |m| Ok(PackedB::new(m)?))
    }

    /// The int8 form of the row-major `k x n` f32 matrix `w`: symmetric, one scale per column.
    pub fn quantized(&self, w: &Arc<Tensor>) -> Result<Arc<PackedQB>> {
        cached(&self.quantized, w, |m| Ok(PackedQB::quantize_f32(m)?))
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
