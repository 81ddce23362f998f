//! Typed tensors: an element type ([`DType`]), a shape and row-major data, plus borrowed views
//! ([`TensorRef`], [`TensorMut`]) that the operators read and write.
//!
//! Booleans are stored as one byte each (`0` = false, anything else = true), the same as ONNX
//! raw data, so every element type is plain bytes and can live in the executor's arena.
use super::error::{GraphError, Result};
use wasmnn_arena::bytemuck;

/// Element type of a tensor.
///
/// ```
/// use wasmnn::graph::DType;
/// assert_eq!(DType::I64.size(), 8);
/// assert_eq!(DType::from_onnx(1), Some(DType::F32));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// Signed byte.
    I8,
    /// Unsigned byte.
    U8,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer (ONNX shapes and indices).
    I64,
    /// Boolean, one byte per element.
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::I64 => 8,
        }
    }

    /// The type for an ONNX `TensorProto.DataType` code, or `None` if unsupported.
    pub fn from_onnx(code: i32) -> Option<DType> {
        Some(match code {
            1 => DType::F32,
            2 => DType::U8,
            3 => DType::I8,
            6 => DType::I32,
            7 => DType::I64,
            9 => DType::Bool,
            _ => return None,
        })
    }

    /// Lower-case name (`"f32"`, `"i64"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
        }
    }
}

/// Owned element storage of a [`Tensor`].
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// `f32` elements.
    F32(Vec<f32>),
    /// `i8` elements.
    I8(Vec<i8>),
    /// `u8` elements.
    U8(Vec<u8>),
    /// `i32` elements.
    I32(Vec<i32>),
    /// `i64` elements.
    I64(Vec<i64>),
    /// Booleans as bytes (0 = false).
    Bool(Vec<u8>),
}

/// Borrowed, read-only element storage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DataRef<'a> {
    /// `f32` elements.
    F32(&'a [f32]),
    /// `i8` elements.
    I8(&'a [i8]),
    /// `u8` elements.
    U8(&'a [u8]),
    /// `i32` elements.
    I32(&'a [i32]),
    /// `i64` elements.
    I64(&'a [i64]),
    /// Booleans as bytes.
    Bool(&'a [u8]),
}

/// Borrowed, writable element storage.
#[derive(Debug, PartialEq)]
pub enum DataMut<'a> {
    /// `f32` elements.
    F32(&'a mut [f32]),
    /// `i8` elements.
    I8(&'a mut [i8]),
    /// `u8` elements.
    U8(&'a mut [u8]),
    /// `i32` elements.
    I32(&'a mut [i32]),
    /// `i64` elements.
    I64(&'a mut [i64]),
    /// Booleans as bytes.
    Bool(&'a mut [u8]),
}

/// Number of elements of a shape, or an error if the product overflows `usize`.
///
/// ```
/// assert_eq!(wasmnn::graph::numel(&[2, 3, 4]).unwrap(), 24);
/// assert!(wasmnn::graph::numel(&[usize::MAX, 2]).is_err());
/// ```
pub fn numel(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| GraphError::invalid("tensor size overflows usize"))
}

/// A tensor: element type, shape (row-major) and data.
///
/// ```
/// use wasmnn::graph::{DType, Tensor};
/// let t = Tensor::from_f32(&[2, 2], vec![1.0, 2.0, 3.0, 4.0])?;
/// assert_eq!(t.shape(), &[2, 2]);
/// assert_eq!(t.dtype(), DType::F32);
/// assert_eq!(t.as_f32().unwrap()[3], 4.0);
/// assert!(Tensor::from_f32(&[3], vec![1.0]).is_err()); // length must match the shape
/// # Ok::<(), wasmnn::graph::GraphError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: TensorData,
}

macro_rules! constructor {
    ($name:ident, $t:ty, $variant:ident) => {
        #[doc = concat!("A tensor of `", stringify!($t), "` elements; `data.len()` must equal the product of `shape`.")]
        pub fn $name(shape: &[usize], data: Vec<$t>) -> Result<Self> {
            Self::new(shape, TensorData::$variant(data))
        }
    };
}

impl Tensor {
    /// A tensor from a shape and data of matching length.
    pub fn new(shape: &[usize], data: TensorData) -> Result<Self> {
        let n = numel(shape)?;
        let len = data.len();
        if n != len {
            return Err(GraphError::invalid(format!(
                "tensor of shape {shape:?} needs {n} elements, got {len}"
            )));
        }
        Ok(Self {
            shape: shape.to_vec(),
            data,
        })
    }

    constructor!(from_f32, f32, F32);
    constructor!(from_i8, i8, I8);
    constructor!(from_u8, u8, U8);
    constructor!(from_i32, i32, I32);
    constructor!(from_i64, i64, I64);
    constructor!(from_bool_bytes, u8, Bool);

    /// A zero-filled tensor (`false` for booleans).
    pub fn zeros(dtype: DType, shape: &[usize]) -> Result<Self> {
        let n = numel(shape)?;
        let data = match dtype {
            DType::F32 => TensorData::F32(vec![0.0; n]),
            DType::I8 => TensorData::I8(vec![0; n]),
            DType::U8 => TensorData::U8(vec![0; n]),
            DType::I32 => TensorData::I32(vec![0; n]),
            DType::I64 => TensorData::I64(vec![0; n]),
            DType::Bool => TensorData::Bool(vec![0; n]),
        };
        Ok(Self {
            shape: shape.to_vec(),
            data,
        })
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The data.
    pub fn data(&self) -> &TensorData {
        &self.data
    }
    /// Takes the data out.
    pub fn into_data(self) -> TensorData {
        self.data
    }
    /// The elements if the tensor is `f32`.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::F32(v) => Some(v),
            _ => None,
        }
    }
    /// The elements if the tensor is `i64`.
    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            TensorData::I64(v) => Some(v),
            _ => None,
        }
    }
    /// A read-only view.
    pub fn view(&self) -> TensorRef<'_> {
        TensorRef {
            shape: &self.shape,
            data: self.data.as_ref(),
        }
    }
    /// A writable view (the shape stays fixed).
    pub fn view_mut(&mut self) -> TensorMut<'_> {
        TensorMut {
            shape: &self.shape,
            data: self.data.as_mut(),
        }
    }
}

impl TensorData {
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.as_ref().dtype()
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.as_ref().len()
    }
    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A read-only view.
    pub fn as_ref(&self) -> DataRef<'_> {
        match self {
            TensorData::F32(v) => DataRef::F32(v),
            TensorData::I8(v) => DataRef::I8(v),
            TensorData::U8(v) => DataRef::U8(v),
            TensorData::I32(v) => DataRef::I32(v),
            TensorData::I64(v) => DataRef::I64(v),
            TensorData::Bool(v) => DataRef::Bool(v),
        }
    }
    /// A writable view.
    pub fn as_mut(&mut self) -> DataMut<'_> {
        match self {
            TensorData::F32(v) => DataMut::F32(v),
            TensorData::I8(v) => DataMut::I8(v),
            TensorData::U8(v) => DataMut::U8(v),
            TensorData::I32(v) => DataMut::I32(v),
            TensorData::I64(v) => DataMut::I64(v),
            TensorData::Bool(v) => DataMut::Bool(v),
        }
    }
}

fn cast_err(_: bytemuck::PodCastError) -> GraphError {
    GraphError::invalid("arena slice is misaligned or of the wrong size for its element type")
}

impl<'a> DataRef<'a> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            DataRef::F32(_) => DType::F32,
            DataRef::I8(_) => DType::I8,
            DataRef::U8(_) => DType::U8,
            DataRef::I32(_) => DType::I32,
            DataRef::I64(_) => DType::I64,
            DataRef::Bool(_) => DType::Bool,
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            DataRef::F32(v) => v.len(),
            DataRef::I8(v) => v.len(),
            DataRef::U8(v) | DataRef::Bool(v) => v.len(),
            DataRef::I32(v) => v.len(),
            DataRef::I64(v) => v.len(),
        }
    }
    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Views raw bytes (suitably aligned) as elements of `dtype`; misaligned or ragged bytes
    /// are an error.
    ///
    /// ```
    /// use wasmnn::graph::{DType, DataRef};
    /// let words = [1.5f32, -2.0];
    /// let bytes = DataRef::F32(&words).as_bytes();
    /// assert_eq!(DataRef::from_bytes(DType::F32, bytes)?, DataRef::F32(&words));
    /// assert!(DataRef::from_bytes(DType::F32, &bytes[..7]).is_err());
    /// # Ok::<(), wasmnn::graph::GraphError>(())
    /// ```
    pub fn from_bytes(dtype: DType, bytes: &'a [u8]) -> Result<Self> {
        Ok(match dtype {
            DType::F32 => DataRef::F32(bytemuck::try_cast_slice(bytes).map_err(cast_err)?),
            DType::I8 => DataRef::I8(bytemuck::try_cast_slice(bytes).map_err(cast_err)?),
            DType::U8 => DataRef::U8(bytes),
            DType::I32 => DataRef::I32(bytemuck::try_cast_slice(bytes).map_err(cast_err)?),
            DType::I64 => DataRef::I64(bytemuck::try_cast_slice(bytes).map_err(cast_err)?),
            DType::Bool => DataRef::Bool(bytes),
        })
    }
    /// The elements as raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            DataRef::F32(v) => bytemuck::cast_slice(v),
            DataRef::I8(v) => bytemuck::cast_slice(v),
            DataRef::U8(v) | DataRef::Bool(v) => v,
            DataRef::I32(v) => bytemuck::cast_slice(v),
            DataRef::I64(v) => bytemuck::cast_slice(v),
        }
    }
    /// An owned copy.
    pub fn to_owned(&self) -> TensorData {
        match *self {
            DataRef::F32(v) => TensorData::F32(v.to_vec()),
            DataRef::I8(v) => TensorData::I8(v.to_vec()),
            DataRef::U8(v) => TensorData::U8(v.to_vec()),
            DataRef::I32(v) => TensorData::I32(v.to_vec()),
            DataRef::I64(v) => TensorData::I64(v.to_vec()),
            DataRef::Bool(v) => TensorData::Bool(v.to_vec()),
        }
    }
}

impl<'a> DataMut<'a> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.as_ref().dtype()
    }
    /// A read-only view of the same elements.
    pub fn as_ref(&self) -> DataRef<'_> {
        match self {
            DataMut::F32(v) => DataRef::F32(v),
            DataMut::I8(v) => DataRef::I8(v),
            DataMut::U8(v) => DataRef::U8(v),
            DataMut::I32(v) => DataRef::I32(v),
            DataMut::I64(v) => DataRef::I64(v),
            DataMut::Bool(v) => DataRef::Bool(v),
        }
    }
    /// A shorter-lived writable view of the same elements.
    pub fn reborrow(&mut self) -> DataMut<'_> {
        match self {
            DataMut::F32(v) => DataMut::F32(v),
            DataMut::I8(v) => DataMut::I8(v),
            DataMut::U8(v) => DataMut::U8(v),
            DataMut::I32(v) => DataMut::I32(v),
            DataMut::I64(v) => DataMut::I64(v),
            DataMut::Bool(v) => DataMut::Bool(v),
        }
    }
    /// Views raw bytes (suitably aligned) as writable elements of `dtype`.
    pub fn from_bytes(dtype: DType, bytes: &'a mut [u8]) -> Result<Self> {
        Ok(match dtype {
            DType::F32 => DataMut::F32(bytemuck::try_cast_slice_mut(bytes).map_err(cast_err)?),
            DType::I8 => DataMut::I8(bytemuck::try_cast_slice_mut(bytes).map_err(cast_err)?),
            DType::U8 => DataMut::U8(bytes),
            DType::I32 => DataMut::I32(bytemuck::try_cast_slice_mut(bytes).map_err(cast_err)?),
            DType::I64 => DataMut::I64(bytemuck::try_cast_slice_mut(bytes).map_err(cast_err)?),
            DType::Bool => DataMut::Bool(bytes),
        })
    }
    /// Copies `src` (same type and length) into these elements.
    pub fn copy_from(&mut self, src: DataRef<'_>) -> Result<()> {
        match (self, src) {
            (DataMut::F32(d), DataRef::F32(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (DataMut::I8(d), DataRef::I8(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (DataMut::U8(d), DataRef::U8(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (DataMut::I32(d), DataRef::I32(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (DataMut::I64(d), DataRef::I64(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (DataMut::Bool(d), DataRef::Bool(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (d, s) => {
                return Err(GraphError::invalid(format!(
                    "cannot copy {} x {} into {} x {}",
                    s.len(),
                    s.dtype().name(),
                    d.as_ref().len(),
                    d.dtype().name()
                )))
            }
        }
        Ok(())
    }
}

/// A read-only tensor view: shape and elements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorRef<'a> {
    /// Row-major shape.
    pub shape: &'a [usize],
    /// Elements.
    pub data: DataRef<'a>,
}

/// A writable tensor view: shape and elements.
#[derive(Debug)]
pub struct TensorMut<'a> {
    /// Row-major shape.
    pub shape: &'a [usize],
    /// Elements.
    pub data: DataMut<'a>,
}

impl<'a> TensorRef<'a> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }
    /// The elements if `f32`, else an error naming the type found.
    pub fn f32(&self) -> Result<&'a [f32]> {
        match self.data {
            DataRef::F32(v) => Ok(v),
            d => Err(wrong_type("f32", d.dtype())),
        }
    }
    /// The elements if `i64`, else an error.
    pub fn i64(&self) -> Result<&'a [i64]> {
        match self.data {
            DataRef::I64(v) => Ok(v),
            d => Err(wrong_type("i64", d.dtype())),
        }
    }
    /// Integer elements (`i64`, `i32`, `i8`, `u8`) widened to `i64`: shapes, axes, indices.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>> {
        Ok(match self.data {
            DataRef::I64(v) => v.to_vec(),
            DataRef::I32(v) => v.iter().map(|&x| x as i64).collect(),
            DataRef::I8(v) => v.iter().map(|&x| x as i64).collect(),
            DataRef::U8(v) => v.iter().map(|&x| x as i64).collect(),
            d => return Err(wrong_type("an integer type", d.dtype())),
        })
    }
    /// An owned copy.
    pub fn to_tensor(&self) -> Tensor {
        Tensor {
            shape: self.shape.to_vec(),
            data: self.data.to_owned(),
        }
    }
}

impl<'a> TensorMut<'a> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }
    /// The elements if `f32`, else an error.
    pub fn f32(&mut self) -> Result<&mut [f32]> {
        match &mut self.data {
            DataMut::F32(v) => Ok(v),
            d => Err(wrong_type("f32", d.dtype())),
        }
    }
}

fn wrong_type(expected: &str, found: DType) -> GraphError {
    GraphError::invalid(format!(
        "expected {expected} elements, found {}",
        found.name()
    ))
}
