//! The graph IR: values (typed, static or symbolic shapes, optionally constant), nodes (an
//! operator type, attributes, input and output values) and the graph that owns both.
//!
//! The IR is deliberately close to ONNX: operator types are strings and attributes are kept as
//! given. Operators are instantiated (and their attributes checked) by the operator modules; the
//! executor never sees this IR directly but a copy specialised to concrete input shapes
//! (the typed graph).
use super::error::{GraphError, Result};
use super::tensor::{DType, Tensor};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One dimension of a declared shape: a number or a named symbol (`"batch"`, `"seq"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A fixed size.
    Known(usize),
    /// A size chosen at run time; equal names are equal sizes.
    Sym(String),
}

impl From<usize> for Dim {
    fn from(n: usize) -> Self {
        Dim::Known(n)
    }
}

impl From<&str> for Dim {
    fn from(s: &str) -> Self {
        Dim::Sym(s.to_string())
    }
}

/// Declared type of a value: element type and (possibly symbolic) shape.
///
/// ```
/// use wasmnn::graph::{DType, Dim, TensorType};
/// let t = TensorType::new(DType::I64, vec!["batch".into(), "seq".into()]);
/// assert!(t.matches(DType::I64, &[3, 14]));
/// assert!(!t.matches(DType::I64, &[3]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorType {
    /// Element type.
    pub dtype: DType,
    /// Shape; `None` when the rank is unknown.
    pub dims: Option<Vec<Dim>>,
}

impl TensorType {
    /// A type with a known rank.
    pub fn new(dtype: DType, dims: Vec<Dim>) -> Self {
        Self {
            dtype,
            dims: Some(dims),
        }
    }
    /// A type with a fixed shape.
    pub fn fixed(dtype: DType, shape: &[usize]) -> Self {
        Self::new(dtype, shape.iter().map(|&d| Dim::Known(d)).collect())
    }
    /// Whether a concrete tensor of `dtype` and `shape` fits this declaration (symbols match
    /// any size; consistency between equal symbols is not checked here).
    pub fn matches(&self, dtype: DType, shape: &[usize]) -> bool {
        dtype == self.dtype
            && match &self.dims {
                None => true,
                Some(dims) => {
                    dims.len() == shape.len()
                        && dims.iter().zip(shape).all(|(d, &s)| match d {
                            Dim::Known(n) => *n == s,
                            Dim::Sym(_) => true,
                        })
                }
            }
    }
}

/// Index of a value in [`Graph::values`].
pub type ValueId = usize;

/// A value: a graph input, a node output or a constant.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// Name (unique in the graph).
    pub name: String,
    /// Declared type, when known.
    pub ty: Option<TensorType>,
    /// The data, for initializers and `Constant` outputs.
    pub constant: Option<Arc<Tensor>>,
}

/// A node attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    /// One float.
    Float(f32),
    /// One integer.
    Int(i64),
    /// Bytes (ONNX strings are bytes).
    String(Vec<u8>),
    /// A tensor.
    Tensor(Arc<Tensor>),
    /// Floats.
    Floats(Vec<f32>),
    /// Integers.
    Ints(Vec<i64>),
    /// Byte strings.
    Strings(Vec<Vec<u8>>),
}

impl Attr {
    /// The attribute kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Attr::Float(_) => "float",
            Attr::Int(_) => "int",
            Attr::String(_) => "string",
            Attr::Tensor(_) => "tensor",
            Attr::Floats(_) => "floats",
            Attr::Ints(_) => "ints",
            Attr::Strings(_) => "strings",
        }
    }
}

/// An operator application.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Node name (may be empty in ONNX; the importer fills one in).
    pub name: String,
    /// Operator type (`"MatMul"`, `"Conv"`, ...).
    pub op_type: String,
    /// Operator domain (`""` is the default ONNX domain).
    pub domain: String,
    /// Inputs; `None` for an omitted optional input.
    pub inputs: Vec<Option<ValueId>>,
    /// Outputs; `None` for an omitted optional output.
    pub outputs: Vec<Option<ValueId>>,
    /// Attributes by name.
    pub attrs: BTreeMap<String, Attr>,
}

/// A computation graph: values, nodes in topological order, inputs and outputs.
///
/// Build one with [`super::GraphBuilder`] or import one with [`super::onnx::import`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    /// Every value.
    pub values: Vec<Value>,
    /// Nodes, each after the producers of its inputs.
    pub nodes: Vec<Node>,
    /// Graph inputs (fed by the caller).
    pub inputs: Vec<ValueId>,
    /// Graph outputs.
    pub outputs: Vec<ValueId>,
    /// Opset version of the default domain (operator semantics follow it).
    pub opset: i64,
}

impl Graph {
    /// The value with this name, if any.
    pub fn value_id(&self, name: &str) -> Option<ValueId> {
        self.values.iter().position(|v| v.name == name)
    }

    /// Checks the structure: ids in range, every value produced at most once (by a node, as an
    /// input or as a constant), every node input available before the node, outputs produced,
    /// and reorders the nodes topologically (ONNX requires it; this also accepts any order).
    pub fn validate(&mut self) -> Result<()> {
        let n = self.values.len();
        let bad = |what: &str| GraphError::malformed(format!("{what} refers to a missing value"));
        let mut producer: Vec<Option<usize>> = vec![None; n];
        let mut available = vec![false; n];
        for (i, v) in self.values.iter().enumerate() {
            if v.constant.is_some() {
                available[i] = true;
            }
        }
        for &i in &self.inputs {
            if i >= n {
                return Err(bad("graph input"));
            }
            if available[i] {
                return Err(GraphError::malformed(format!(
                    "graph input `{}` is also a constant",
                    self.values[i].name
                )));
            }
            available[i] = true;
        }
        for (k, node) in self.nodes.iter().enumerate() {
            for &o in node.outputs.iter().flatten() {
                if o >= n {
                    return Err(bad("node output"));
                }
                if available[o] || producer[o].is_some() {
                    return Err(GraphError::malformed(format!(
                        "value `{}` is produced twice (node `{}`)",
                        self.values[o].name, node.name
                    )));
                }
                producer[o] = Some(k);
            }
            if node.inputs.iter().flatten().any(|&i| i >= n) {
                return Err(bad("node input"));
            }
        }
        // Kahn's algorithm with a FIFO queue seeded in file order, so a file that is already
        // sorted keeps its order. Linear in nodes + edges.
        let mut missing: Vec<usize> = vec![0; self.nodes.len()];
        let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (k, node) in self.nodes.iter().enumerate() {
            for &i in node.inputs.iter().flatten() {
                if !available[i] {
                    missing[k] += 1;
                    consumers[i].push(k);
                }
            }
        }
        let mut queue: std::collections::VecDeque<usize> =
            (0..self.nodes.len()).filter(|&k| missing[k] == 0).collect();
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut done = vec![false; self.nodes.len()];
        while let Some(k) = queue.pop_front() {
            done[k] = true;
            order.push(k);
            for &o in self.nodes[k].outputs.iter().flatten() {
                available[o] = true;
                for &c in &consumers[o] {
                    missing[c] -= 1;
                    if missing[c] == 0 {
                        queue.push_back(c);
                    }
                }
            }
        }
        if let Some(k) = done.iter().position(|d| !d) {
            let node = &self.nodes[k];
            let missing = node
                .inputs
                .iter()
                .flatten()
                .find(|&&i| !available[i])
                .map(|&i| self.values[i].name.clone())
                .unwrap_or_default();
            return Err(GraphError::malformed(format!(
                "node `{}` ({}) reads `{missing}`, which is never produced (or a cycle)",
                node.name, node.op_type
            )));
        }
        for &o in &self.outputs {
            if o >= n {
                return Err(bad("graph output"));
            }
            if !available[o] {
                return Err(GraphError::malformed(format!(
                    "graph output `{}` is never produced",
                    self.values[o].name
                )));
            }
        }
        let mut nodes = std::mem::take(&mut self.nodes);
        let mut slots: Vec<Option<Node>> = nodes.drain(..).map(Some).collect();
        self.nodes = order.iter().filter_map(|&k| slots[k].take()).collect();
        Ok(())
    }
}
