//! Reading `.safetensors` checkpoints (the Hugging Face weight format).
//!
//! The file is: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping each tensor
//! name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the end of the
//! header; an optional `"__metadata__"` entry holds strings), then the raw little-endian tensor
//! bytes. Nothing is trusted: the header length, every offset and every byte count is checked
//! against the file before use, so a malformed file gives [`GraphError::Malformed`] (or
//! [`GraphError::Unsupported`] for an element type this runner has no use for), never a panic.
//! Parsing borrows the bytes; only [`TensorInfo::to_tensor`] copies, and never more than the
//! tensor's own bytes, so memory stays bounded by the file size.
use super::error::{GraphError, Result};
use super::tensor::{numel, Tensor, TensorData};
use std::collections::BTreeMap;

/// Largest accepted JSON header (the reference implementation's limit).
pub const MAX_HEADER_BYTES: usize = 100 << 20;

/// Element types of the format; the integer ones map onto [`DType`](super::DType) directly,
/// the 16-bit floats are widened to f32 on conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StDType {
    /// 32-bit float.
    F32,
    /// IEEE half precision (widened to f32).
    F16,
    /// bfloat16 (widened to f32).
    BF16,
    /// 64-bit signed integer.
    I64,
    /// 32-bit signed integer.
    I32,
    /// 8-bit signed integer.
    I8,
    /// 8-bit unsigned integer.
    U8,
    /// Boolean, one byte each.
    Bool,
}

impl StDType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "F32" => Self::F32,
            "F16" => Self::F16,
            "BF16" => Self::BF16,
            "I64" => Self::I64,
            "I32" => Self::I32,
            "I8" => Self::I8,
            "U8" => Self::U8,
            "BOOL" => Self::Bool,
            _ => return None,
        })
    }

    /// Bytes per element in the file.
    pub fn size(self) -> usize {
        match self {
            Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }
}

/// One tensor of a checkpoint: its type, shape and bytes (borrowed from the file).
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo<'a> {
    /// Element type.
    pub dtype: StDType,
    /// Shape (row-major).
    pub shape: Vec<usize>,
    /// The raw little-endian data, exactly `numel(shape) * dtype.size()` bytes.
    pub data: &'a [u8],
}

impl TensorInfo<'_> {
    /// Copies the tensor into a runner [`Tensor`] (F16 and BF16 become f32).
    ///
    /// ```
    /// use wasmnn::graph::safetensors::{StDType, TensorInfo};
    /// let bytes = [0u8, 0, 128, 63]; // 1.0f32
    /// let t = TensorInfo { dtype: StDType::F32, shape: vec![1], data: &bytes }.to_tensor()?;
    /// assert_eq!(t.as_f32().unwrap(), &[1.0]);
    /// # Ok::<(), wasmnn::graph::GraphError>(())
    /// ```
    pub fn to_tensor(&self) -> Result<Tensor> {
        let n = numel(&self.shape)?;
        if n.checked_mul(self.dtype.size()) != Some(self.data.len()) {
            return Err(GraphError::malformed(format!(
                "safetensors: {:?} {:?} does not hold {} bytes",
                self.dtype,
                self.shape,
                self.data.len()
            )));
        }
        let d = self.data;
        let data = match self.dtype {
            StDType::F32 => TensorData::F32(words(d, |b: [u8; 4]| f32::from_le_bytes(b))),
            StDType::F16 => {
                TensorData::F32(words(d, |b: [u8; 2]| f16_to_f32(u16::from_le_bytes(b))))
            }
            StDType::BF16 => TensorData::F32(words(d, |b: [u8; 2]| {
                f32::from_bits(u32::from(u16::from_le_bytes(b)) << 16)
            })),
            StDType::I64 => TensorData::I64(words(d, i64::from_le_bytes)),
            StDType::I32 => TensorData::I32(words(d, i32::from_le_bytes)),
            StDType::I8 => TensorData::I8(d.iter().map(|&b| b as i8).collect()),
            StDType::U8 => TensorData::U8(d.to_vec()),
            StDType::Bool => TensorData::Bool(d.iter().map(|&b| u8::from(b != 0)).collect()),
        };
        Tensor::new(&self.shape, data)
    }
}

/// Decodes fixed-size little-endian words (the length was checked by the caller).
fn words<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| {
            let mut w = [0u8; N];
            w.copy_from_slice(c);
            f(w)
        })
        .collect()
}

/// IEEE binary16 to f32 (exact: every half is an f32).
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f32::from(h & 0x3ff);
    sign * match exp {
        0 => frac * (2.0f32).powi(-24),
        31 if frac == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + frac / 1024.0) * (2.0f32).powi(e - 15),
    }
}

/// A parsed checkpoint: the tensors by name, borrowing the file's bytes.
///
/// ```
/// use wasmnn::graph::safetensors::SafeTensors;
/// let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
/// let mut file = (header.len() as u64).to_le_bytes().to_vec();
/// file.extend_from_slice(header);
/// file.extend_from_slice(&[0, 0, 128, 63, 0, 0, 0, 64]); // 1.0, 2.0
/// let st = SafeTensors::parse(&file)?;
/// assert_eq!(st.names().collect::<Vec<_>>(), ["w"]);
/// assert_eq!(st.tensor("w")?.as_f32().unwrap(), &[1.0, 2.0]);
/// # Ok::<(), wasmnn::graph::GraphError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SafeTensors<'a> {
    tensors: BTreeMap<String, TensorInfo<'a>>,
    metadata: BTreeMap<String, String>,
}

fn bad(why: impl core::fmt::Display) -> GraphError {
    GraphError::malformed(format!("safetensors: {why}"))
}

impl<'a> SafeTensors<'a> {
    /// Parses and checks the header; tensor data stays in `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let (len, rest) = match bytes.split_first_chunk::<8>() {
            Some((len, rest)) => (u64::from_le_bytes(*len), rest),
            None => return Err(bad("shorter than the 8-byte header length")),
        };
        let n = usize::try_from(len)
            .ok()
            .filter(|&n| n <= MAX_HEADER_BYTES)
            .ok_or_else(|| bad(format!("header length {len} over {MAX_HEADER_BYTES}")))?;
        if n > rest.len() {
            return Err(bad(format!(
                "header length {n} exceeds the {} bytes after it",
                rest.len()
            )));
        }
        let (header, data) = rest.split_at(n);
        let json: serde_json::Value =
            serde_json::from_slice(header).map_err(|e| bad(format!("header: {e}")))?;
        let entries = json
            .as_object()
            .ok_or_else(|| bad("the header is not a JSON object"))?;
        let mut st = SafeTensors {
            tensors: BTreeMap::new(),
            metadata: BTreeMap::new(),
        };
        for (name, entry) in entries {
            if name == "__metadata__" {
                st.metadata = metadata(entry)?;
            } else {
                let info = tensor_entry(entry, data).map_err(|e| match e {
                    Entry::Malformed(why) => bad(format!("`{name}`: {why}")),
                    Entry::Dtype(d) => GraphError::unsupported(d, "safetensors dtype"),
                })?;
                st.tensors.insert(name.clone(), info);
            }
        }
        Ok(st)
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The `"__metadata__"` strings (e.g. `format: pt`).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// A tensor's type, shape and bytes, if present.
    pub fn info(&self, name: &str) -> Option<&TensorInfo<'a>> {
        self.tensors.get(name)
    }

    /// A tensor copied into a runner [`Tensor`]; a missing name is [`GraphError::Malformed`].
    pub fn tensor(&self, name: &str) -> Result<Tensor> {
        self.info(name)
            .ok_or_else(|| bad(format!("no tensor `{name}`")))?
            .to_tensor()
    }
}

fn metadata(v: &serde_json::Value) -> Result<BTreeMap<String, String>> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad("__metadata__ is not an object"))?;
    obj.iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.clone(), s.to_string())),
            None => Err(bad(format!("__metadata__ `{k}` is not a string"))),
        })
        .collect()
}

/// Why a header entry was rejected.
enum Entry {
    Malformed(String),
    Dtype(String),
}

impl From<&str> for Entry {
    fn from(s: &str) -> Self {
        Entry::Malformed(s.to_string())
    }
}

impl From<String> for Entry {
    fn from(s: String) -> Self {
        Entry::Malformed(s)
    }
}

/// One header entry, checked against the data section.
fn tensor_entry<'a>(
    v: &serde_json::Value,
    data: &'a [u8],
) -> core::result::Result<TensorInfo<'a>, Entry> {
    let dtype_name = v
        .get("dtype")
        .and_then(|d| d.as_str())
        .ok_or("no string `dtype`")?;
    let dtype = StDType::parse(dtype_name).ok_or_else(|| Entry::Dtype(dtype_name.to_string()))?;
    let uint = |x: &serde_json::Value| x.as_u64().and_then(|u| usize::try_from(u).ok());
    let shape = v
        .get("shape")
        .and_then(|s| s.as_array())
        .ok_or("no `shape` array")?
        .iter()
        .map(|d| uint(d).ok_or("a shape entry is not a size"))
        .collect::<core::result::Result<Vec<usize>, &str>>()?;
    let offsets = v
        .get("data_offsets")
        .and_then(|o| o.as_array())
        .ok_or("no `data_offsets` array")?;
    let [begin, end] = offsets.as_slice() else {
        return Err("`data_offsets` must have two entries".into());
    };
    let (begin, end) = match (uint(begin), uint(end)) {
        (Some(b), Some(e)) if b <= e && e <= data.len() => (b, e),
        _ => {
            return Err(format!(
                "data_offsets {offsets:?} outside the {} data bytes",
                data.len()
            )
            .into())
        }
    };
    let bytes = numel(&shape)
        .ok()
        .and_then(|n| n.checked_mul(dtype.size()))
        .ok_or("shape too large")?;
    if bytes != end - begin {
        return Err(format!(
            "{dtype_name} {shape:?} needs {bytes} bytes, data_offsets give {}",
            end - begin
        )
        .into());
    }
    Ok(TensorInfo {
        dtype,
        shape,
        data: &data[begin..end],
    })
}
