//! ONNX import: protobuf bytes -> [`Graph`].
//!
//! Reads initializers (raw little-endian or typed fields, or external data files through an
//! [`ExternalData`] source), turns `Constant` nodes into constant values, keeps attributes as
//! given and the opset version of the default domain (operators follow its semantics).
//!
//! Malformed input is an error, never a panic: the protobuf decoder (prost) bounds every length
//! by the bytes left, and every tensor's declared size is checked against the bytes that carry
//! it before anything is allocated, so memory use stays proportional to the file.
//!
//! ```
//! use wasmnn::graph::{onnx, DType, GraphBuilder, Tensor};
//! assert!(onnx::import(b"\xff\xff not a model").is_err());
//! ```
mod proto;

use super::error::{GraphError, Result};
use super::ir::{Attr, Dim, Graph, Node, TensorType, Value, ValueId};
use super::tensor::{numel, DType, Tensor, TensorData};
use proto::{attribute_type as at, AttributeProto, TensorProto, ValueInfoProto};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Where the bytes of tensors stored outside the model file come from: files next to the
/// model ([`Directory`]), or anything else, e.g. bytes fetched by JavaScript in a browser.
///
/// ```
/// use wasmnn::graph::onnx::ExternalData;
/// use wasmnn::graph::{GraphError, Result};
/// /// One in-memory "file".
/// struct InMemory(Vec<u8>);
/// impl ExternalData for InMemory {
///     fn read(&self, _location: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
///         let (start, end) = (offset as usize, (offset + length) as usize);
///         self.0.get(start..end).map(<[u8]>::to_vec)
///             .ok_or_else(|| GraphError::malformed("external data out of range"))
///     }
/// }
/// assert_eq!(InMemory(vec![1, 2, 3]).read("w.bin", 1, 2).unwrap(), [2, 3]);
/// ```
pub trait ExternalData {
    /// Reads exactly `length` bytes at `offset` of the file `location` (a path relative to the
    /// model, already checked to stay inside its directory).
    fn read(&self, location: &str, offset: u64, length: u64) -> Result<Vec<u8>>;
}

/// External data read from files in a directory (the model's).
///
/// ```no_run
/// use wasmnn::graph::onnx::{import_with, Directory};
/// let bytes = std::fs::read("model/model.onnx").unwrap();
/// let graph = import_with(&bytes, Some(&Directory("model".into())))?;
/// # Ok::<(), wasmnn::graph::GraphError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Directory(pub std::path::PathBuf);

impl ExternalData for Directory {
    fn read(&self, location: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let io =
            |e: std::io::Error| GraphError::malformed(format!("external data `{location}`: {e}"));
        let path = self.0.join(location);
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        // Check against the file size before allocating: a lying header cannot make us reserve
        // more memory than the file holds.
        if offset.checked_add(length).is_none_or(|end| end > size) {
            return Err(GraphError::malformed(format!(
                "external data `{location}`: {length} bytes at offset {offset} exceed the file size {size}"
            )));
        }
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let len = usize::try_from(length)
            .map_err(|_| GraphError::malformed("external data length overflows usize"))?;
        let mut buf = vec![0u8; len];
        file.read_exact(&mut buf).map_err(io)?;
        Ok(buf)
    }
}

/// Imports an ONNX model whose tensors are all stored in the file itself.
///
/// Errors: [`GraphError::Malformed`] for bad protobuf or inconsistent references and sizes,
/// [`GraphError::Unsupported`] for data types and features outside the supported subset.
pub fn import(bytes: &[u8]) -> Result<Graph> {
    import_with(bytes, None)
}

/// Imports an ONNX model, reading external tensor data through `external`.
pub fn import_with(bytes: &[u8], external: Option<&dyn ExternalData>) -> Result<Graph> {
    let model =
        proto::decode_model(bytes).map_err(|e| GraphError::malformed(format!("protobuf: {e}")))?;
    let mut opset = None;
    for o in &model.opset_import {
        if o.domain.is_empty() || o.domain == "ai.onnx" {
            opset = Some(o.version);
        }
    }
    // IR version 3+ always lists opsets; very old files implied version 1.
    let opset = opset.unwrap_or(1);
    let g = model
        .graph
        .ok_or_else(|| GraphError::malformed("the model has no graph"))?;
    if !g.sparse_initializer.is_empty() {
        return Err(GraphError::unsupported(
            "sparse_initializer",
            "model feature",
        ));
    }

    let mut graph = Graph {
        opset,
        ..Graph::default()
    };
    let mut ids: HashMap<String, ValueId> = HashMap::new();
    let mut declared: HashMap<&str, &ValueInfoProto> = HashMap::new();
    for vi in g.input.iter().chain(&g.output).chain(&g.value_info) {
        declared.entry(vi.name.as_str()).or_insert(vi);
    }
    let new_value =
        |graph: &mut Graph, ids: &mut HashMap<String, ValueId>, name: &str| -> Result<ValueId> {
            if name.is_empty() {
                return Err(GraphError::malformed("a value has an empty name"));
            }
            if ids.contains_key(name) {
                return Err(GraphError::malformed(format!(
                    "value `{name}` is defined twice"
                )));
            }
            let ty = match declared.get(name) {
                Some(vi) => value_type(vi)?,
                None => None,
            };
            graph.values.push(Value {
                name: name.to_string(),
                ty,
                constant: None,
            });
            ids.insert(name.to_string(), graph.values.len() - 1);
            Ok(graph.values.len() - 1)
        };

    for t in &g.initializer {
        let id = new_value(&mut graph, &mut ids, &t.name)?;
        let tensor = tensor_from_proto(t, external)?;
        graph.values[id].constant = Some(Arc::new(tensor));
    }
    for vi in &g.input {
        // Old exporters also list initializers as inputs: they stay constants.
        if let Some(&id) = ids.get(vi.name.as_str()) {
            if graph.values[id].constant.is_some() {
                continue;
            }
        }
        let id = new_value(&mut graph, &mut ids, &vi.name)?;
        graph.inputs.push(id);
    }
    for n in &g.node {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            new_value(&mut graph, &mut ids, o)?;
        }
    }
    let lookup = |name: &str, node: &str| -> Result<Option<ValueId>> {
        if name.is_empty() {
            return Ok(None);
        }
        ids.get(name).copied().map(Some).ok_or_else(|| {
            GraphError::malformed(format!("node `{node}` reads unknown value `{name}`"))
        })
    };

    for (index, n) in g.node.iter().enumerate() {
        let name = if n.name.is_empty() {
            format!("{}_{index}", n.op_type)
        } else {
            n.name.clone()
        };
        let mut attrs = BTreeMap::new();
        for a in &n.attribute {
            let attr = attribute(a, external).map_err(|e| e.at(&name, &n.op_type))?;
            attrs.insert(a.name.clone(), attr);
        }
        let inputs = n
            .input
            .iter()
            .map(|i| lookup(i, &name))
            .collect::<Result<Vec<_>>>()?;
        let outputs = n
            .output
            .iter()
            .map(|o| lookup(o, &name))
            .collect::<Result<Vec<_>>>()?;
        if n.op_type == "Constant" && (n.domain.is_empty() || n.domain == "ai.onnx") {
            let tensor = constant_value(&attrs).map_err(|e| e.at(&name, "Constant"))?;
            match outputs.as_slice() {
                [Some(o)] => graph.values[*o].constant = Some(Arc::new(tensor)),
                _ => {
                    return Err(GraphError::invalid("Constant needs exactly one output")
                        .at(&name, "Constant"))
                }
            }
            continue;
        }
        graph.nodes.push(Node {
            name,
            op_type: n.op_type.clone(),
            domain: n.domain.clone(),
            inputs,
            outputs,
            attrs,
        });
    }
    for vi in &g.output {
        let id = lookup(&vi.name, "graph outputs")?
            .ok_or_else(|| GraphError::malformed("a graph output has an empty name"))?;
        graph.outputs.push(id);
    }
    graph.validate()?;
    Ok(graph)
}

/// The value of a `Constant` node from whichever `value*` attribute it has.
fn constant_value(attrs: &BTreeMap<String, Attr>) -> Result<Tensor> {
    let [(key, attr)] = attrs.iter().collect::<Vec<_>>()[..] else {
        return Err(GraphError::invalid(
            "Constant needs exactly one value attribute",
        ));
    };
    match (key.as_str(), attr) {
        ("value", Attr::Tensor(t)) => Ok((**t).clone()),
        ("value_float", Attr::Float(f)) => Tensor::from_f32(&[], vec![*f]),
        ("value_floats", Attr::Floats(f)) => Tensor::from_f32(&[f.len()], f.clone()),
        ("value_int", Attr::Int(i)) => Tensor::from_i64(&[], vec![*i]),
        ("value_ints", Attr::Ints(i)) => Tensor::from_i64(&[i.len()], i.clone()),
        (k, _) => Err(GraphError::unsupported(k, "Constant attribute")),
    }
}

fn value_type(vi: &ValueInfoProto) -> Result<Option<TensorType>> {
    let Some(t) = vi.r#type.as_ref().and_then(|t| t.tensor_type.as_ref()) else {
        return Ok(None);
    };
    let Some(dtype) = DType::from_onnx(t.elem_type) else {
        // An unknown element type on a declaration is harmless until a tensor has it.
        return Ok(None);
    };
    let dims = t.shape.as_ref().map(|s| {
        s.dim
            .iter()
            .map(|d| match &d.value {
                Some(proto::DimensionValue::DimValue(v)) if *v >= 0 => Dim::Known(*v as usize),
                Some(proto::DimensionValue::DimParam(p)) if !p.is_empty() => Dim::Sym(p.clone()),
                _ => Dim::Sym("?".to_string()),
            })
            .collect()
    });
    Ok(Some(TensorType { dtype, dims }))
}

fn attribute(a: &AttributeProto, external: Option<&dyn ExternalData>) -> Result<Attr> {
    if !a.ref_attr_name.is_empty() {
        return Err(GraphError::unsupported(
            &a.name,
            "function attribute reference",
        ));
    }
    let kind = if a.r#type != 0 {
        a.r#type
    } else if a.t.is_some() {
        // IR version 1 files carry no type: guess from the field that is set.
        at::TENSOR
    } else if !a.floats.is_empty() {
        at::FLOATS
    } else if !a.ints.is_empty() {
        at::INTS
    } else if !a.strings.is_empty() {
        at::STRINGS
    } else if !a.s.is_empty() {
        at::STRING
    } else {
        return Err(GraphError::malformed(format!(
            "attribute `{}` has no type",
            a.name
        )));
    };
    Ok(match kind {
        at::FLOAT => Attr::Float(a.f),
        at::INT => Attr::Int(a.i),
        at::STRING => Attr::String(a.s.clone()),
        at::TENSOR => {
            let t = a.t.as_ref().ok_or_else(|| {
                GraphError::malformed(format!("attribute `{}` has no tensor", a.name))
            })?;
            Attr::Tensor(Arc::new(tensor_from_proto(t, external)?))
        }
        at::FLOATS => Attr::Floats(a.floats.clone()),
        at::INTS => Attr::Ints(a.ints.clone()),
        at::STRINGS => Attr::Strings(a.strings.clone()),
        other => {
            return Err(GraphError::unsupported(
                format!("{} (type {other})", a.name),
                "attribute type (graphs, sparse tensors and type protos are not supported)",
            ))
        }
    })
}

/// Converts a `TensorProto`, checking that the data present matches the declared shape.
fn tensor_from_proto(t: &TensorProto, external: Option<&dyn ExternalData>) -> Result<Tensor> {
    let name = &t.name;
    let dtype = DType::from_onnx(t.data_type).ok_or_else(|| {
        GraphError::unsupported(format!("{} (in `{name}`)", t.data_type), "tensor data type")
    })?;
    if t.segment.is_some() {
        return Err(GraphError::unsupported(name, "segmented tensor"));
    }
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<core::result::Result<Vec<usize>, _>>()
        .map_err(|_| GraphError::malformed(format!("tensor `{name}` has a negative dimension")))?;
    let n = numel(&shape)
        .map_err(|_| GraphError::malformed(format!("tensor `{name}` is too large")))?;
    let bytes_needed = n
        .checked_mul(dtype.size())
        .ok_or_else(|| GraphError::malformed(format!("tensor `{name}` is too large")))?;
    let mismatch = |found: usize| {
        GraphError::malformed(format!(
            "tensor `{name}` of shape {shape:?} needs {n} elements ({bytes_needed} bytes), its data has {found}"
        ))
    };

    let external_bytes;
    let raw: Option<&[u8]> = if t.data_location == 1 {
        let source = external.ok_or_else(|| {
            GraphError::unsupported(name, "external data (no ExternalData source given)")
        })?;
        let (location, offset, length) = external_info(t)?;
        let length = length.unwrap_or(bytes_needed as u64);
        if length != bytes_needed as u64 {
            return Err(mismatch(usize::try_from(length).unwrap_or(usize::MAX)));
        }
        external_bytes = source.read(&location, offset, length)?;
        Some(&external_bytes)
    } else if !t.raw_data.is_empty() || n == 0 {
        Some(&t.raw_data)
    } else {
        None
    };

    if let Some(raw) = raw {
        if raw.len() != bytes_needed {
            return Err(mismatch(raw.len()));
        }
        fn le<T, const W: usize>(raw: &[u8], f: fn([u8; W]) -> T) -> Vec<T> {
            raw.chunks_exact(W)
                .map(|c| {
                    let mut b = [0u8; W];
                    b.copy_from_slice(c);
                    f(b)
                })
                .collect()
        }
        let data = match dtype {
            DType::F32 => TensorData::F32(le(raw, f32::from_le_bytes)),
            DType::I32 => TensorData::I32(le(raw, i32::from_le_bytes)),
            DType::I64 => TensorData::I64(le(raw, i64::from_le_bytes)),
            DType::I8 => TensorData::I8(raw.iter().map(|&b| b as i8).collect()),
            DType::U8 => TensorData::U8(raw.to_vec()),
            DType::Bool => TensorData::Bool(raw.iter().map(|&b| u8::from(b != 0)).collect()),
        };
        return Tensor::new(&shape, data);
    }

    // Typed fields: float_data for f32, int64_data for i64, int32_data for the narrower ints.
    let data = match dtype {
        DType::F32 if t.float_data.len() == n => TensorData::F32(t.float_data.clone()),
        DType::F32 => return Err(mismatch(t.float_data.len())),
        DType::I64 if t.int64_data.len() == n => TensorData::I64(t.int64_data.clone()),
        DType::I64 => return Err(mismatch(t.int64_data.len())),
        _ if t.int32_data.len() != n => return Err(mismatch(t.int32_data.len())),
        DType::I32 => TensorData::I32(t.int32_data.clone()),
        DType::I8 => TensorData::I8(t.int32_data.iter().map(|&v| v as i8).collect()),
        DType::U8 => TensorData::U8(t.int32_data.iter().map(|&v| v as u8).collect()),
        DType::Bool => TensorData::Bool(t.int32_data.iter().map(|&v| u8::from(v != 0)).collect()),
    };
    Tensor::new(&shape, data)
}

/// `location`, `offset` and `length` of an external tensor; the location must be a relative
/// path that stays inside the model's directory.
fn external_info(t: &TensorProto) -> Result<(String, u64, Option<u64>)> {
    let mut location = None;
    let (mut offset, mut length) = (0u64, None);
    let number = |key: &str, v: &str| {
        v.parse::<u64>().map_err(|_| {
            GraphError::malformed(format!(
                "external data `{key}` of `{}` is not a number",
                t.name
            ))
        })
    };
    for e in &t.external_data {
        match e.key.as_str() {
            "location" => location = Some(e.value.clone()),
            "offset" => offset = number("offset", &e.value)?,
            "length" => length = Some(number("length", &e.value)?),
            _ => {} // "checksum" and future keys are informational
        }
    }
    let location = location.ok_or_else(|| {
        GraphError::malformed(format!("external tensor `{}` has no location", t.name))
    })?;
    let path = std::path::Path::new(&location);
    let escapes = path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)));
    if location.is_empty() || escapes {
        return Err(GraphError::malformed(format!(
            "external data location `{location}` must be a relative path inside the model directory"
        )));
    }
    Ok((location, offset, length))
}
