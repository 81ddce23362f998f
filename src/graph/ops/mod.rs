//! Operators: one file per family. Each operator is a struct built from a node's attributes
//! (checked once, at load time) that implements [`Op`]: type inference on concrete shapes and
//! a `run` that reads input views and writes one output view.
//!
//! Attributes an operator does not read are an error ([`Attrs::finish`]), so a model that relies
//! on unsupported behaviour is refused at load time instead of computing something else.
pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod fused;
pub(crate) mod matmul;
pub(crate) mod norm;
pub(crate) mod pool;
pub(crate) mod reduce;
pub(crate) mod shape_ops;
pub(crate) mod softmax;
pub(crate) mod unary;

use super::error::{GraphError, Result};
use super::ir::{Attr, Node};
use super::tensor::{TensorMut, TensorRef};
use super::typed::TensorSpec;
use core::any::Any;
use core::fmt::Debug;

/// What type inference knows about one input: its concrete type and, for constants, its value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fact<'a> {
    pub spec: &'a TensorSpec,
    pub value: Option<TensorRef<'a>>,
}

/// An operator instance with its attributes.
pub(crate) trait Op: Debug + Send + Sync {
    /// Operator name, e.g. `"MatMul"` or a fused `"Linear"`.
    fn kind(&self) -> &'static str;

    /// Output type from the input types (and constant values where the output shape depends on
    /// them, e.g. `Reshape`). `None` entries are omitted optional inputs.
    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec>;

    /// The output computed from the input *types* alone (e.g. `Shape`), if this op allows it.
    fn fold_from_types(&self, _inputs: &[Option<Fact<'_>>]) -> Option<Result<super::Tensor>> {
        None
    }

    /// Called once per specialised graph, with constant inputs known: pack weights here.
    fn prepare(&mut self, _inputs: &[Option<Fact<'_>>]) -> Result<()> {
        Ok(())
    }

    /// Computes the output. Input and output shapes are those given to `infer`.
    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], out: TensorMut<'_>) -> Result<()>;

    /// For pattern-matching passes.
    fn as_any(&self) -> &dyn Any;

    /// A copy of this operator (graphs are specialised from a shared template).
    fn box_clone(&self) -> Box<dyn Op>;
}

impl Clone for Box<dyn Op> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// Implements the boilerplate methods of [`Op`] for a `Clone + 'static` type.
macro_rules! op_common {
    () => {
        fn as_any(&self) -> &dyn core::any::Any {
            self
        }
        fn box_clone(&self) -> Box<dyn $crate::graph::ops::Op> {
            Box::new(self.clone())
        }
    };
}
pub(crate) use op_common;

/// Input `i`, which must be present.
pub(crate) fn input<T: Copy>(inputs: &[Option<T>], i: usize) -> Result<T> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| GraphError::invalid(format!("input {i} is required")))
}

/// Input `i` if present.
pub(crate) fn optional<T: Copy>(inputs: &[Option<T>], i: usize) -> Option<T> {
    inputs.get(i).copied().flatten()
}

/// Checks the number of inputs.
pub(crate) fn arity<T>(inputs: &[Option<T>], min: usize, max: usize) -> Result<()> {
    if inputs.len() < min || inputs.len() > max {
        return Err(GraphError::invalid(format!(
            "expected {min} to {max} inputs, got {}",
            inputs.len()
        )));
    }
    Ok(())
}

/// Typed access to a node's attributes that remembers which were read.
pub(crate) struct Attrs<'a> {
    node: &'a Node,
    read: Vec<&'a str>,
}

impl<'a> Attrs<'a> {
    pub fn new(node: &'a Node) -> Self {
        Self {
            node,
            read: Vec::new(),
        }
    }

    pub fn get_attr(&mut self, name: &'a str) -> Option<&'a Attr> {
        self.read.push(name);
        self.node.attrs.get(name)
    }

    fn wrong(name: &str, want: &str, a: &Attr) -> GraphError {
        GraphError::invalid(format!(
            "attribute `{name}` must be {want}, found {}",
            a.kind()
        ))
    }

    pub fn int(&mut self, name: &'a str, default: i64) -> Result<i64> {
        match self.get_attr(name) {
            None => Ok(default),
            Some(Attr::Int(v)) => Ok(*v),
            Some(a) => Err(Self::wrong(name, "an int", a)),
        }
    }

    pub fn float(&mut self, name: &'a str, default: f32) -> Result<f32> {
        match self.get_attr(name) {
            None => Ok(default),
            Some(Attr::Float(v)) => Ok(*v),
            Some(a) => Err(Self::wrong(name, "a float", a)),
        }
    }

    pub fn ints(&mut self, name: &'a str) -> Result<Option<Vec<i64>>> {
        match self.get_attr(name) {
            None => Ok(None),
            Some(Attr::Ints(v)) => Ok(Some(v.clone())),
            Some(a) => Err(Self::wrong(name, "ints", a)),
        }
    }

    pub fn string(&mut self, name: &'a str, default: &str) -> Result<String> {
        match self.get_attr(name) {
            None => Ok(default.to_string()),
            Some(Attr::String(v)) => Ok(String::from_utf8_lossy(v).into_owned()),
            Some(a) => Err(Self::wrong(name, "a string", a)),
        }
    }

    /// Errors on the first attribute that was never read: it would change the semantics.
    pub fn finish(self) -> Result<()> {
        for (name, value) in &self.node.attrs {
            if !self.read.contains(&name.as_str()) {
                return Err(GraphError::unsupported(
                    format!("{name} ({})", value.kind()),
                    "attribute",
                ));
            }
        }
        Ok(())
    }
}

/// Instantiates the operator of `node` under `opset`; errors name the node and operator.
pub(crate) fn create(node: &Node, opset: i64) -> Result<Box<dyn Op>> {
    create_inner(node, opset).map_err(|e| e.at(&node.name, &node.op_type))
}

fn create_inner(node: &Node, opset: i64) -> Result<Box<dyn Op>> {
    if !(node.domain.is_empty() || node.domain == "ai.onnx") {
        return Err(GraphError::unsupported(
            format!("{}::{}", node.domain, node.op_type),
            "operator domain",
        ));
    }
    let mut a = Attrs::new(node);
    let op: Box<dyn Op> = match node.op_type.as_str() {
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Equal" | "Less" | "Greater"
        | "Where" => elementwise::create(&node.op_type, &mut a)?,
        "Sqrt" | "Erf" | "Relu" | "Sigmoid" | "Tanh" | "Neg" | "Exp" | "Log" | "Abs"
        | "Reciprocal" | "HardSigmoid" | "HardSwish" | "Clip" | "Identity" | "Cast" | "Not" => {
            unary::create(&node.op_type, &mut a, opset)?
        }
        "MatMul" | "Gemm" => matmul::create(&node.op_type, &mut a)?,
        "Conv" => conv::create(&mut a)?,
        "LayerNormalization" | "BatchNormalization" => norm::create(&node.op_type, &mut a)?,
        "Softmax" => softmax::create(&mut a, opset)?,
        "ReduceSum" | "ReduceMean" | "ReduceMax" => reduce::create(&node.op_type, &mut a, opset)?,
        "MaxPool" | "AveragePool" | "GlobalAveragePool" => pool::create(&node.op_type, &mut a)?,
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Transpose" | "Concat" | "Slice"
        | "Gather" | "Shape" | "Expand" | "ConstantOfShape" => {
            shape_ops::create(&node.op_type, &mut a, opset)?
        }
        other => return Err(GraphError::unsupported(other, "op type")),
    };
    a.finish()?;
    // Ops with optional extra outputs (LayerNormalization's Mean, MaxPool's Indices, ...) are
    // supported only when those outputs are not requested.
    if node.outputs.iter().skip(1).any(Option::is_some) {
        return Err(GraphError::unsupported(
            format!("{} outputs", node.outputs.len()),
            "number of outputs",
        ));
    }
    if node.outputs.first().copied().flatten().is_none() {
        return Err(GraphError::invalid("the node has no output"));
    }
    Ok(op)
}
