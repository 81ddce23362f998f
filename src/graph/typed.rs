//! The graph specialised to concrete input shapes: every value has a concrete type
//! ([`TensorSpec`]), constants are known, and operators are instantiated. The passes rewrite
//! this form and the memory planner turns it into an executable program.
use super::error::{GraphError, Result};
use super::ops::Op;
use super::tensor::{numel, DType, Tensor};
use std::sync::Arc;

/// A concrete tensor type: element type and shape.
///
/// ```
/// use wasmnn::graph::{DType, TensorSpec};
/// let s = TensorSpec::new(DType::F32, &[2, 3]);
/// assert_eq!(s.bytes().unwrap(), 24);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<usize>,
}

impl TensorSpec {
    /// A spec from a type and shape.
    pub fn new(dtype: DType, shape: &[usize]) -> Self {
        Self {
            dtype,
            shape: shape.to_vec(),
        }
    }
    /// Number of elements.
    pub fn numel(&self) -> Result<usize> {
        numel(&self.shape)
    }
    /// Size of the data in bytes.
    pub fn bytes(&self) -> Result<usize> {
        self.numel()?
            .checked_mul(self.dtype.size())
            .ok_or_else(|| GraphError::invalid("tensor size overflows usize"))
    }
    /// The spec of a tensor.
    pub fn of(t: &Tensor) -> Self {
        Self::new(t.dtype(), t.shape())
    }
}

/// A value of the specialised graph.
#[derive(Clone, Debug)]
pub(crate) struct TypedValue {
    pub name: String,
    pub spec: TensorSpec,
    pub constant: Option<Arc<Tensor>>,
}

/// A node of the specialised graph: one operator, its inputs, one output.
#[derive(Clone, Debug)]
pub(crate) struct TypedNode {
    pub name: String,
    pub op: Box<dyn Op>,
    pub inputs: Vec<Option<usize>>,
    pub output: usize,
}

/// The specialised graph. Nodes are in execution order.
#[derive(Clone, Debug)]
pub(crate) struct TypedGraph {
    pub values: Vec<TypedValue>,
    pub nodes: Vec<TypedNode>,
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
}

impl TypedGraph {
    /// How many nodes read each value, plus one per appearance among the graph outputs.
    pub fn use_counts(&self) -> Vec<usize> {
        let mut uses = vec![0; self.values.len()];
        for n in &self.nodes {
            for &i in n.inputs.iter().flatten() {
                uses[i] += 1;
            }
        }
        for &o in &self.outputs {
            uses[o] += 1;
        }
        uses
    }

    /// The node that produces each value, if any.
    pub fn producers(&self) -> Vec<Option<usize>> {
        let mut p = vec![None; self.values.len()];
        for (k, n) in self.nodes.iter().enumerate() {
            p[n.output] = Some(k);
        }
        p
    }

    /// The constant value of `v`, if it is one.
    pub fn constant(&self, v: usize) -> Option<&Tensor> {
        self.values[v].constant.as_deref()
    }
}
