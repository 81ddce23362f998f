//! Weight preparation: give every operator its constant inputs once, so it can pack weights
//! (GEMM panels, convolution filters) before the first run instead of in every run.
use crate::graph::error::{GraphError, Result};
use crate::graph::ops::Fact;
use crate::graph::tensor::Tensor;
use crate::graph::typed::TypedGraph;
use crate::{MatRef, PackedB};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Packed weight matrices shared by every session of a model, so compiling for a new input
/// shape (another sentence length) does not pack the weights again. Keyed by the constant's
/// allocation, which the cache keeps alive so the key cannot be reused.
#[derive(Debug, Default)]
pub(crate) struct WeightCache {
    packed: Mutex<HashMap<usize, CacheEntry>>,
}

/// The weight (kept alive) and its packed form.
type CacheEntry = (Arc<Tensor>, Arc<PackedB>);

impl WeightCache {
    /// The packed form of the row-major `k x n` f32 matrix `w`.
    pub fn packed(&self, w: &Arc<Tensor>) -> Result<Arc<PackedB>> {
        let key = Arc::as_ptr(w) as usize;
        let mut map = self
            .packed
            .lock()
            .map_err(|_| GraphError::invalid("weight cache poisoned"))?;
        if let Some((_, p)) = map.get(&key) {
            return Ok(p.clone());
        }
        let (data, &[k, n]) = (w.as_f32(), w.shape()) else {
            return Err(GraphError::invalid("weights must be an f32 matrix"));
        };
        let data = data.ok_or_else(|| GraphError::invalid("weights must be f32"))?;
        let p = Arc::new(PackedB::new(MatRef::row_major(data, k, n)?)?);
        map.insert(key, (w.clone(), p.clone()));
        Ok(p)
    }
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
