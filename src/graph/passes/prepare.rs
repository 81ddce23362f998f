//! Weight preparation: give every operator its constant inputs once, so it can pack weights
//! (GEMM panels, convolution filters) before the first run instead of in every run.
use crate::graph::error::Result;
use crate::graph::ops::Fact;
use crate::graph::typed::TypedGraph;

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
