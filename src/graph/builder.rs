//! A small API for writing graphs by hand in Rust (tests, examples, models without a file).
use super::error::Result;
use super::ir::{Attr, Graph, Node, TensorType, Value, ValueId};
use super::tensor::Tensor;
use std::sync::Arc;

/// Builds a [`Graph`] node by node. Operators use ONNX names and attributes.
///
/// ```
/// use wasmnn::graph::{Attr, DType, GraphBuilder, Model, Tensor, TensorType};
/// let mut b = GraphBuilder::new(17);
/// let x = b.input("x", TensorType::new(DType::F32, vec!["n".into(), 2.into()]));
/// let w = b.constant("w", Tensor::from_f32(&[2, 2], vec![1.0, 2.0, 3.0, 4.0])?);
/// let y = b.node("MatMul", &[x, w], &[]);
/// let z = b.node("Relu", &[y], &[]);
/// let s = b.node("Softmax", &[z], &[("axis", Attr::Int(-1))]);
/// b.output(s);
/// let mut model = Model::from_graph(b.build()?)?;
/// let x = Tensor::from_f32(&[1, 2], vec![1.0, -1.0])?;
/// let out = model.run(&[x.view()])?;
/// assert_eq!(out[0].as_f32().unwrap(), &[0.5, 0.5]); // relu([-2, -2]) = [0, 0]
/// # Ok::<(), wasmnn::graph::GraphError>(())
/// ```
#[derive(Clone, Debug)]
pub struct GraphBuilder {
    graph: Graph,
}

impl GraphBuilder {
    /// An empty graph whose operators follow `opset` (of the default ONNX domain).
    pub fn new(opset: i64) -> Self {
        Self {
            graph: Graph {
                opset,
                ..Graph::default()
            },
        }
    }

    fn value(&mut self, name: String, ty: Option<TensorType>, c: Option<Arc<Tensor>>) -> ValueId {
        self.graph.values.push(Value {
            name,
            ty,
            constant: c,
        });
        self.graph.values.len() - 1
    }

    /// Declares a graph input.
    pub fn input(&mut self, name: &str, ty: TensorType) -> ValueId {
        let id = self.value(name.to_string(), Some(ty), None);
        self.graph.inputs.push(id);
        id
    }

    /// Adds a constant (a weight).
    pub fn constant(&mut self, name: &str, t: Tensor) -> ValueId {
        self.value(name.to_string(), None, Some(Arc::new(t)))
    }

    /// Adds a node with one output and returns that output.
    pub fn node(&mut self, op_type: &str, inputs: &[ValueId], attrs: &[(&str, Attr)]) -> ValueId {
        let inputs: Vec<Option<ValueId>> = inputs.iter().copied().map(Some).collect();
        self.node_with_optional(op_type, &inputs, attrs)
    }

    /// Adds a node whose optional inputs may be omitted (`None`).
    pub fn node_with_optional(
        &mut self,
        op_type: &str,
        inputs: &[Option<ValueId>],
        attrs: &[(&str, Attr)],
    ) -> ValueId {
        let k = self.graph.nodes.len();
        let out = self.value(format!("{op_type}_{k}_out"), None, None);
        self.graph.nodes.push(Node {
            name: format!("{op_type}_{k}"),
            op_type: op_type.to_string(),
            domain: String::new(),
            inputs: inputs.to_vec(),
            outputs: vec![Some(out)],
            attrs: attrs
                .iter()
                .map(|(n, a)| (n.to_string(), a.clone()))
                .collect(),
        });
        out
    }

    /// Marks a value as a graph output.
    pub fn output(&mut self, v: ValueId) {
        self.graph.outputs.push(v);
    }

    /// Checks the structure (see [`Graph::validate`]) and returns the graph.
    pub fn build(mut self) -> Result<Graph> {
        self.graph.validate()?;
        Ok(self.graph)
    }
}
