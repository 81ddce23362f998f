//! The 8-bit element types and their quantization parameters.
//!
//! A real value `x` is represented by an integer `q` of type `u8` or `i8` through a scale and a
//! zero point: `x = scale * (q - zero_point)` (ONNX `DequantizeLinear`). Parameters are either
//! one pair for the whole tensor or one pair per channel.
use wasmnn_kernels::{Error, Result};

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for i8 {}
}

/// An 8-bit quantized element type: `u8` or `i8`.
///
/// ```
/// use wasmnn_quant::Q8;
/// assert_eq!((u8::MIN_Q, u8::MAX_Q), (0, 255));
/// assert_eq!((i8::MIN_Q, i8::MAX_Q), (-128, 127));
/// assert_eq!(i8::saturate(300), 127);
/// ```
pub trait Q8:
    Copy + Default + core::fmt::Debug + PartialEq + Send + Sync + 'static + sealed::Sealed
{
    /// Smallest value, as i32.
    const MIN_Q: i32;
    /// Largest value, as i32.
    const MAX_Q: i32;
    /// Whether the type is signed (`i8`).
    const SIGNED: bool;
    /// `"u8"` or `"i8"`.
    const NAME: &'static str;
    /// The value as i32.
    fn to_i32(self) -> i32;
    /// `x` clamped to the type's range.
    fn saturate(x: i32) -> Self;
    /// The raw byte.
    fn to_bits(self) -> u8;
    /// The value with this raw byte.
    fn from_bits(b: u8) -> Self;
}

impl Q8 for u8 {
    const MIN_Q: i32 = 0;
    const MAX_Q: i32 = 255;
    const SIGNED: bool = false;
    const NAME: &'static str = "u8";
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn saturate(x: i32) -> Self {
        x.clamp(0, 255) as u8
    }
    #[inline(always)]
    fn to_bits(self) -> u8 {
        self
    }
    #[inline(always)]
    fn from_bits(b: u8) -> Self {
        b
    }
}

impl Q8 for i8 {
    const MIN_Q: i32 = -128;
    const MAX_Q: i32 = 127;
    const SIGNED: bool = true;
    const NAME: &'static str = "i8";
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn saturate(x: i32) -> Self {
        x.clamp(-128, 127) as i8
    }
    #[inline(always)]
    fn to_bits(self) -> u8 {
        self as u8
    }
    #[inline(always)]
    fn from_bits(b: u8) -> Self {
        b as i8
    }
}

/// Checks that `zero_point` is a value of `Z`.
pub(crate) fn check_zero_point<Z: Q8>(what: &'static str, zero_point: i32) -> Result<()> {
    if (Z::MIN_Q..=Z::MAX_Q).contains(&zero_point) {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what,
            why: "zero point outside the range of the quantized type",
        })
    }
}

/// Checks that a scale is a finite number greater than zero.
pub(crate) fn check_scale(what: &'static str, scale: f32) -> Result<()> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what,
            why: "scale must be finite and greater than zero",
        })
    }
}

/// Scales and zero points of a quantized tensor.
///
/// `PerChannel` has one scale per channel; what a channel is depends on the operand and is
/// stated where the parameters are taken (columns of weights, rows of activations). Its
/// `zero_points` has one entry per channel, or none for symmetric quantization (all zero).
///
/// ```
/// use wasmnn_quant::QuantParams;
/// let t = QuantParams::PerTensor { scale: 0.5, zero_point: 128 };
/// assert_eq!((t.scale(7), t.zero_point(7)), (0.5, 128));
/// let c = QuantParams::PerChannel { scales: &[0.1, 0.2], zero_points: &[] };
/// assert_eq!((c.scale(1), c.zero_point(1)), (0.2, 0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum QuantParams<'a> {
    /// One scale and one zero point for every element.
    PerTensor {
        /// `x = scale * (q - zero_point)`.
        scale: f32,
        /// The integer that represents 0.0.
        zero_point: i32,
    },
    /// One scale (and zero point) per channel.
    PerChannel {
        /// One per channel.
        scales: &'a [f32],
        /// One per channel, or empty for all zero (symmetric).
        zero_points: &'a [i32],
    },
}

impl QuantParams<'_> {
    /// Scale 1 and zero point 0: the integers are the values (plain integer matmul).
    pub const IDENTITY: QuantParams<'static> = QuantParams::PerTensor {
        scale: 1.0,
        zero_point: 0,
    };

    /// Per-tensor parameters with zero point 0.
    pub fn symmetric(scale: f32) -> QuantParams<'static> {
        QuantParams::PerTensor {
            scale,
            zero_point: 0,
        }
    }

    /// Scale of channel `c`.
    #[inline]
    pub fn scale(&self, c: usize) -> f32 {
        match *self {
            QuantParams::PerTensor { scale, .. } => scale,
            QuantParams::PerChannel { scales, .. } => scales[c],
        }
    }

    /// Zero point of channel `c`.
    #[inline]
    pub fn zero_point(&self, c: usize) -> i32 {
        match *self {
            QuantParams::PerTensor { zero_point, .. } => zero_point,
            QuantParams::PerChannel { zero_points, .. } => zero_points.get(c).copied().unwrap_or(0),
        }
    }

    /// Whether every zero point is 0.
    pub fn is_symmetric(&self) -> bool {
        match *self {
            QuantParams::PerTensor { zero_point, .. } => zero_point == 0,
            QuantParams::PerChannel { zero_points, .. } => zero_points.iter().all(|&z| z == 0),
        }
    }

    /// Checks lengths against `channels`, zero points against `Z`'s range and scales.
    pub(crate) fn validate<Z: Q8>(&self, what: &'static str, channels: usize) -> Result<()> {
        match *self {
            QuantParams::PerTensor { scale, zero_point } => {
                check_scale(what, scale)?;
                check_zero_point::<Z>(what, zero_point)
            }
            QuantParams::PerChannel {
                scales,
                zero_points,
            } => {
                if scales.len() != channels {
                    return Err(Error::ShapeMismatch {
                        what: "number of per-channel scales (= channels)",
                        expected: channels,
                        found: scales.len(),
                    });
                }
                if !zero_points.is_empty() && zero_points.len() != channels {
                    return Err(Error::ShapeMismatch {
                        what: "number of per-channel zero points (= channels, or 0)",
                        expected: channels,
                        found: zero_points.len(),
                    });
                }
                for &s in scales {
                    check_scale(what, s)?;
                }
                for &z in zero_points {
                    check_zero_point::<Z>(what, z)?;
                }
                Ok(())
            }
        }
    }
}
