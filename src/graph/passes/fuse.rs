//! Operator fusion on the specialised graph.
use crate::graph::error::Result;
use crate::graph::typed::TypedGraph;

/// Runs every fusion.
pub(crate) fn run(_g: &mut TypedGraph) -> Result<()> {
    Ok(())
}
