//! Dead-node elimination: drop nodes whose output nothing reads (after folding, the remains of
//! shape subgraphs; after fusion, the nodes a fused operator replaced).
use crate::graph::typed::TypedGraph;

/// Removes unused nodes, repeatedly, until every node's output is read.
pub(crate) fn run(g: &mut TypedGraph) {
    loop {
        let uses = g.use_counts();
        let before = g.nodes.len();
        g.nodes.retain(|n| uses[n.output] > 0);
        if g.nodes.len() == before {
            break;
        }
    }
}
