//! Constant folding: evaluate a node whose inputs are all known, once, at specialisation time.
//! Called by shape inference ([`crate::graph::shape`]) as it walks the graph, so shape
//! subgraphs (`Shape -> Gather -> Unsqueeze -> Concat`) fold before the `Reshape` that needs
//! them is typed.
use crate::graph::error::Result;
use crate::graph::ops::{Fact, Op};
use crate::graph::tensor::{Tensor, TensorRef};
use crate::graph::typed::TensorSpec;

/// Runs `op` on constant inputs into a new tensor of type `spec`.
pub(crate) fn evaluate(
    op: &dyn Op,
    facts: &[Option<Fact<'_>>],
    spec: &TensorSpec,
) -> Result<Tensor> {
    let mut op = op.box_clone();
    op.prepare(facts)?;
    let inputs: Vec<Option<TensorRef<'_>>> =
        facts.iter().map(|f| f.and_then(|f| f.value)).collect();
    let mut out = Tensor::zeros(spec.dtype, &spec.shape)?;
    op.run(&inputs, out.view_mut())?;
    Ok(out)
}
