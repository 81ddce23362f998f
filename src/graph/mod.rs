//! # A tiny graph runner
//!
//! Loads a model (ONNX, or built by hand with [`GraphBuilder`]), specialises it to the input
//! shapes of a call, optimises it and runs it single-threaded on the wasmnn kernels.
//!
//! | module | concept |
//! |---|---|
//! | [`tensor`] | typed tensors (f32, i8, u8, i32, i64, bool) and views |
//! | [`ir`] | the graph: values with static or symbolic shapes, nodes, attributes |
//! | [`builder`] | writing graphs by hand |
//! | [`onnx`] | ONNX import (protobuf via prost) |
//! | `ops` | the operators, one file per family |
//! | `shape` | shape inference on concrete shapes, folding shape subgraphs as it goes |
//! | `passes` | constant folding, fusion, weight packing, dead-node elimination |
//! | `plan` | memory planning: lifetimes to offsets in one arena |
//! | [`exec`] | the executor ([`Session`]) |
//! | [`model`] | [`Model`]: load, compile (cached per input shapes), run |
//! | [`tokenizer`] | BERT WordPiece tokenizer |
//! | [`safetensors`] | reading `.safetensors` checkpoints |
//! | [`bert`] | a BERT sentence encoder built from a safetensors checkpoint |
//!
//! ```
//! use wasmnn::graph::{Attr, DType, GraphBuilder, Model, Tensor, TensorType};
//! let mut b = GraphBuilder::new(17);
//! let x = b.input("x", TensorType::new(DType::F32, vec!["batch".into(), 3.into()]));
//! let two = b.constant("two", Tensor::from_f32(&[], vec![2.0])?);
//! let y = b.node("Mul", &[x, two], &[]);
//! b.output(y);
//! let mut model = Model::from_graph(b.build()?)?;
//! let y = model.run(&[Tensor::from_f32(&[1, 3], vec![1.0, 2.0, 3.0])?.view()])?;
//! assert_eq!(y[0].as_f32().unwrap(), &[2.0, 4.0, 6.0]);
//! # Ok::<(), wasmnn::graph::GraphError>(())
//! ```
pub mod bert;
pub mod builder;
pub mod error;
pub mod exec;
pub mod ir;
pub mod model;
pub mod onnx;
pub(crate) mod ops;
pub(crate) mod passes;
pub(crate) mod plan;
pub mod safetensors;
pub(crate) mod shape;
pub mod tensor;
pub mod tokenizer;
pub(crate) mod typed;

pub use builder::GraphBuilder;
pub use error::{GraphError, Result};
pub use exec::Session;
pub use ir::{Attr, Dim, Graph, Node, TensorType, Value, ValueId};
pub use model::{Model, Options};
pub use tensor::{numel, DType, DataMut, DataRef, Tensor, TensorData, TensorMut, TensorRef};
pub use typed::TensorSpec;
