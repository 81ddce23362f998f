//! Shape inference: from concrete input types to a concrete type for every value.
//!
//! The graph is specialised to the input shapes of a call (as tract and ONNX Runtime do when
//! shapes are known), so inference works on numbers, not symbols. Shape computations inside the
//! graph (`Shape -> Gather -> Concat -> Reshape`) are evaluated on the way: a node whose inputs
//! are all constants, or whose output follows from input types alone (`Shape`), becomes a
//! constant itself ([`super::passes::fold`]); its consumers then see the value they need.
use super::error::{GraphError, Result};
use super::ir::Graph;
use super::ops::{Fact, Op};
use super::passes::fold;
use super::typed::{TensorSpec, TypedGraph, TypedNode, TypedValue};
use std::sync::Arc;

/// Most dimensions an operator handles (index arithmetic uses fixed-size arrays of this length).
pub(crate) const MAX_RANK: usize = 8;

/// Numpy-style broadcast of two shapes.
///
/// ```ignore
/// assert_eq!(broadcast(&[2, 1, 4], &[3, 1]).unwrap(), vec![2, 3, 4]);
/// ```
pub(crate) fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for (i, o) in out.iter_mut().enumerate() {
        let da = dim_from_end(a, rank - 1 - i);
        let db = dim_from_end(b, rank - 1 - i);
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(GraphError::invalid(format!(
                    "shapes {a:?} and {b:?} do not broadcast"
                )))
            }
        };
    }
    Ok(out)
}

/// Dimension `k` counted from the end (0 = last), 1 past the rank.
fn dim_from_end(s: &[usize], k: usize) -> usize {
    if k < s.len() {
        s[s.len() - 1 - k]
    } else {
        1
    }
}

/// An ONNX axis (negative counts from the end) as an index below `rank`.
pub(crate) fn axis(axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(GraphError::invalid(format!(
            "axis {axis} is out of range for rank {rank}"
        )));
    }
    Ok(a as usize)
}

/// Checks a rank against [`MAX_RANK`].
pub(crate) fn check_rank(rank: usize) -> Result<()> {
    if rank > MAX_RANK {
        return Err(GraphError::unsupported(
            rank.to_string(),
            "tensor rank (max 8)",
        ));
    }
    Ok(())
}

/// Specialises `graph` (with its instantiated `ops`, one per node) to the given input types:
/// infers every value's type, folds constant subgraphs, and refuses any tensor over
/// `max_tensor_bytes`.
pub(crate) fn specialize(
    graph: &Graph,
    ops: &[Box<dyn Op>],
    inputs: &[TensorSpec],
    max_tensor_bytes: usize,
) -> Result<TypedGraph> {
    if inputs.len() != graph.inputs.len() {
        return Err(GraphError::invalid(format!(
            "the graph has {} inputs, {} were given",
            graph.inputs.len(),
            inputs.len()
        )));
    }
    let mut specs: Vec<Option<TensorSpec>> = vec![None; graph.values.len()];
    let mut consts: Vec<Option<Arc<crate::graph::Tensor>>> =
        graph.values.iter().map(|v| v.constant.clone()).collect();
    for (v, c) in consts.iter().enumerate() {
        if let Some(c) = c {
            specs[v] = Some(TensorSpec::of(c));
        }
    }
    for (&v, spec) in graph.inputs.iter().zip(inputs) {
        let value = &graph.values[v];
        if let Some(ty) = &value.ty {
            if !ty.matches(spec.dtype, &spec.shape) {
                return Err(GraphError::invalid(format!(
                    "input `{}` is {} {:?}, the graph declares {:?}",
                    value.name,
                    spec.dtype.name(),
                    spec.shape,
                    ty
                )));
            }
        }
        check_size(&value.name, spec, max_tensor_bytes)?;
        specs[v] = Some(spec.clone());
    }

    let mut nodes = Vec::new();
    for (node, op) in graph.nodes.iter().zip(ops) {
        let at = |e: GraphError| e.at(&node.name, &node.op_type);
        let out = node.outputs[0].ok_or_else(|| at(GraphError::invalid("no output")))?;
        let facts: Vec<Option<Fact<'_>>> = node
            .inputs
            .iter()
            .map(|i| {
                i.map(|i| {
                    Ok(Fact {
                        spec: specs[i].as_ref().ok_or_else(|| {
                            GraphError::invalid(format!(
                                "input `{}` has no type",
                                graph.values[i].name
                            ))
                        })?,
                        value: consts[i].as_deref().map(|t| t.view()),
                    })
                })
                .transpose()
            })
            .collect::<Result<_>>()
            .map_err(at)?;
        let spec = op.infer(&facts).map_err(at)?;
        check_size(&graph.values[out].name, &spec, max_tensor_bytes)?;
        let all_const = facts.iter().flatten().all(|f| f.value.is_some());
        let folded = if all_const {
            Some(fold::evaluate(op.as_ref(), &facts, &spec).map_err(at)?)
        } else {
            op.fold_from_types(&facts).transpose().map_err(at)?
        };
        specs[out] = Some(spec);
        match folded {
            Some(t) => consts[out] = Some(Arc::new(t)),
            None => nodes.push(TypedNode {
                name: node.name.clone(),
                op: op.clone(),
                inputs: node.inputs.clone(),
                output: out,
            }),
        }
    }

    // Values never typed (outputs of unused optional outputs) get an empty spec; the planner
    // ignores values that nothing reads or writes.
    let values = graph
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| TypedValue {
            name: v.name.clone(),
            spec: specs[i]
                .clone()
                .unwrap_or_else(|| TensorSpec::new(crate::graph::DType::F32, &[0])),
            constant: consts[i].clone(),
        })
        .collect();
    Ok(TypedGraph {
        values,
        nodes,
        inputs: graph.inputs.clone(),
        outputs: graph.outputs.clone(),
    })
}

fn check_size(name: &str, spec: &TensorSpec, limit: usize) -> Result<()> {
    let bytes = spec.bytes();
    match bytes {
        Ok(b) if b <= limit => Ok(()),
        _ => Err(GraphError::TooLarge {
            what: format!("tensor `{name}` {:?}", spec.shape),
            bytes: bytes.map_or(u128::MAX, |b| b as u128),
            limit: limit as u128,
        }),
    }
}
