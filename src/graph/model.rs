//! [`Model`]: a loaded graph with its operators instantiated, and the compilation pipeline
//! (specialise -> fuse -> prepare -> plan) that turns it into a [`Session`].
use super::error::{GraphError, Result};
use super::exec::Session;
use super::ir::Graph;
use super::ops::{self, Op};
use super::passes;
use super::plan;
use super::shape;
use super::tensor::{Tensor, TensorRef};
use super::typed::TensorSpec;

/// Limits and switches for compiling a model.
///
/// ```
/// use wasmnn::graph::Options;
/// let small = Options { max_tensor_bytes: 1 << 20, fuse: false, ..Options::default() };
/// assert_eq!(small.max_arena_bytes, Options::default().max_arena_bytes);
/// let int8 = Options { quantize_weights: true, ..Options::default() };
/// assert!(int8.fuse);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Largest single tensor, in bytes (default 1 GiB).
    pub max_tensor_bytes: usize,
    /// Largest arena (all intermediate tensors), in bytes (default 2 GiB, or 1 GiB on 32-bit).
    pub max_arena_bytes: usize,
    /// Run the fusion passes (default on). Off, each ONNX node runs as its own operator.
    pub fuse: bool,
    /// Quantize weights to int8 (default off): `MatMul` / `Linear` by a constant matrix,
    /// symmetric per output column, with activations quantized per row on the fly, where the
    /// input allows it (LayerNorm outputs read by one projection, smoothed; not the inputs of
    /// attention's Q, K, V nor post-activation inputs; see `passes/quantize.rs`). MiniLM: cosine
    /// >= 0.9995 to the f32 embeddings.
    pub quantize_weights: bool,
    /// Also quantize pointwise `Conv` weights to int8 (default off). Accurate (MobileNetV3:
    /// same classes, probabilities within 2e-3) but slower than the f32 convolution at
    /// MobileNet's channel counts (Node: 3.5 ms vs 2.1 ms), hence separate.
    pub quantize_convs: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_tensor_bytes: 1 << 30,
            max_arena_bytes: if usize::BITS > 32 { 1 << 31 } else { 1 << 30 },
            fuse: true,
            quantize_weights: false,
            quantize_convs: false,
        }
    }
}

/// A model ready to run: the graph and its operators, checked at load time.
///
/// ```
/// use wasmnn::graph::{DType, GraphBuilder, Model, Tensor, TensorType};
/// let mut b = GraphBuilder::new(17);
/// let x = b.input("x", TensorType::new(DType::F32, vec!["n".into()]));
/// let y = b.node("Sqrt", &[x], &[]);
/// b.output(y);
/// let mut model = Model::from_graph(b.build()?)?;
/// let out = model.run(&[Tensor::from_f32(&[2], vec![4.0, 9.0])?.view()])?;
/// assert_eq!(out[0].as_f32().unwrap(), &[2.0, 3.0]);
/// # Ok::<(), wasmnn::graph::GraphError>(())
/// ```
#[derive(Debug)]
pub struct Model {
    graph: Graph,
    ops: Vec<Box<dyn Op>>,
    options: Options,
    /// The session for the most recent input types, reused while they stay the same.
    cached: Option<Session>,
    /// Packed weights shared by all sessions.
    weights: passes::prepare::WeightCache,
}

impl Model {
    /// Instantiates every operator of `graph` (unsupported operators and attributes are
    /// reported here, with the node's name).
    pub fn from_graph(mut graph: Graph) -> Result<Self> {
        graph.validate()?;
        let ops = graph
            .nodes
            .iter()
            .map(|n| ops::create(n, graph.opset))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            graph,
            ops,
            options: Options::default(),
            cached: None,
            weights: Default::default(),
        })
    }

    /// Imports ONNX bytes (tensors stored in the file) and instantiates the operators.
    pub fn from_onnx(bytes: &[u8]) -> Result<Self> {
        Self::from_graph(super::onnx::import(bytes)?)
    }

    /// Replaces the compilation options.
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self.cached = None;
        self
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Names of the graph inputs, in order.
    pub fn input_names(&self) -> Vec<&str> {
        let g = &self.graph;
        g.inputs
            .iter()
            .map(|&i| g.values[i].name.as_str())
            .collect()
    }

    /// Names of the graph outputs, in order.
    pub fn output_names(&self) -> Vec<&str> {
        let g = &self.graph;
        g.outputs
            .iter()
            .map(|&i| g.values[i].name.as_str())
            .collect()
    }

    /// Compiles the model for inputs of these types: shape inference with constant folding,
    /// fusion, weight packing and memory planning.
    pub fn session(&self, inputs: &[TensorSpec]) -> Result<Session> {
        let o = &self.options;
        let mut typed = shape::specialize(&self.graph, &self.ops, inputs, o.max_tensor_bytes)?;
        passes::dce::run(&mut typed);
        if o.fuse {
            passes::fuse::run(&mut typed, &self.weights, o.quantize_weights)?;
            passes::dce::run(&mut typed);
        }
        if o.quantize_weights || o.quantize_convs {
            let q = &self.weights;
            passes::quantize::run(&mut typed, q, o.quantize_weights, o.quantize_convs)?;
        }
        passes::prepare::run(&mut typed)?;
        Session::new(plan::plan(typed, o.max_arena_bytes)?)
    }

    /// Runs the model on `inputs` (graph order). The compiled session is kept and reused while
    /// the input types stay the same, so repeated calls allocate only the returned tensors.
    pub fn run(&mut self, inputs: &[TensorRef<'_>]) -> Result<Vec<Tensor>> {
        let specs: Vec<TensorSpec> = inputs
            .iter()
            .map(|t| TensorSpec::new(t.dtype(), t.shape))
            .collect();
        let reuse = matches!(&self.cached, Some(s) if s.input_specs() == specs);
        if !reuse {
            self.cached = Some(self.session(&specs)?);
        }
        match &mut self.cached {
            Some(s) => s.run(inputs),
            None => Err(GraphError::invalid("no session")),
        }
    }

    /// Arena bytes of the session compiled by the last [`Model::run`] (0 before any run).
    pub fn session_peak_bytes(&self) -> usize {
        self.cached.as_ref().map_or(0, Session::peak_bytes)
    }

    /// Runs with inputs given by name; returns `(name, tensor)` for every output.
    pub fn run_named(&mut self, inputs: &[(&str, TensorRef<'_>)]) -> Result<Vec<(String, Tensor)>> {
        let mut ordered = Vec::with_capacity(self.graph.inputs.len());
        for name in self.input_names() {
            let t = inputs
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| GraphError::invalid(format!("missing input `{name}`")))?;
            ordered.push(t.1);
        }
        if inputs.len() != ordered.len() {
            return Err(GraphError::invalid("unknown or repeated input names"));
        }
        let names: Vec<String> = self.output_names().iter().map(|s| s.to_string()).collect();
        let outs = self.run(&ordered)?;
        Ok(names.into_iter().zip(outs).collect())
    }
}
