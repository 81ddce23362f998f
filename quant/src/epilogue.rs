//! Epilogues: what happens to an exact i32 tile before it is stored, fused into the GEMM.
//!
//! [`QOutput`] names the destination and the conversion. All arithmetic is defined per element
//! `(i, j)` from the exact accumulator `acc`, A's scale `sa` (per tensor or per row `i`) and B's
//! scale `sb[j]`, in f32 with one rounding per operation (no fused multiply-add, so every build
//! and engine gives the same bits):
//!
//! - [`QOutput::I32`]: `acc` (ONNX `MatMulInteger`);
//! - [`QOutput::F32`]: `act(f32(acc) * (sa * sb[j]) + bias[j])` (dequantize + bias + activation;
//!   `MatMulInteger -> Cast -> Mul` is the case without bias and activation);
//! - [`QOutput::U8`] / [`QOutput::I8`]: requantization, fp32 path with per-channel multipliers:
//!   `q = zp + clamp(round_half_even(f32(acc + bias[j]) * m), qmin - zp, qmax - zp)` where
//!   `m = (sa * sb[j]) / scale` (the output's scale and zero point `zp`).
use crate::matrix::QMatMut;
use crate::simd::{I16x8, I32x4, I8x16};
use crate::types::{check_scale, check_zero_point, Q8};
use wasmnn_kernels::simd::F32x4;
use wasmnn_kernels::{Activation, Error, Result};

/// The destination of a quantized GEMM and how the i32 accumulators are converted.
#[derive(Debug)]
#[non_exhaustive]
pub enum QOutput<'a> {
    /// The exact integer products.
    I32(QMatMut<'a, i32>),
    /// Dequantized: `act(acc * (sa * sb[j]) + bias[j])`.
    F32 {
        /// The output matrix.
        c: QMatMut<'a, f32>,
        /// Optional per-column bias (length = columns).
        bias: Option<&'a [f32]>,
        /// Applied last.
        activation: Activation,
    },
    /// Requantized to u8 with the output's `scale` and `zero_point`.
    U8 {
        /// The output matrix.
        c: QMatMut<'a, u8>,
        /// Optional per-column i32 bias, in accumulator units (`sa * sb[j]`), as in ONNX
        /// `QLinearConv`.
        bias: Option<&'a [i32]>,
        /// Output scale.
        scale: f32,
        /// Output zero point (a u8 value).
        zero_point: i32,
    },
    /// Requantized to i8 with the output's `scale` and `zero_point`.
    I8 {
        /// The output matrix.
        c: QMatMut<'a, i8>,
        /// Optional per-column i32 bias, in accumulator units.
        bias: Option<&'a [i32]>,
        /// Output scale.
        scale: f32,
        /// Output zero point (an i8 value).
        zero_point: i32,
    },
}

impl QOutput<'_> {
    /// `(rows, cols)` of the destination.
    pub fn shape(&self) -> (usize, usize) {
        match self {
            QOutput::I32(c) => (c.rows(), c.cols()),
            QOutput::F32 { c, .. } => (c.rows(), c.cols()),
            QOutput::U8 { c, .. } => (c.rows(), c.cols()),
            QOutput::I8 { c, .. } => (c.rows(), c.cols()),
        }
    }

    /// Checks the parameters against `n` columns.
    pub(crate) fn validate(&self, n: usize) -> Result<()> {
        let check_len = |len: usize| {
            if len == n {
                Ok(())
            } else {
                Err(Error::ShapeMismatch {
                    what: "length of bias (= columns of the output)",
                    expected: n,
                    found: len,
                })
            }
        };
        match self {
            QOutput::I32(_) => Ok(()),
            QOutput::F32 {
                bias, activation, ..
            } => {
                if let Some(b) = bias {
                    check_len(b.len())?;
                }
                activation.validate()
            }
            QOutput::U8 {
                bias,
                scale,
                zero_point,
                ..
            } => {
                if let Some(b) = bias {
                    check_len(b.len())?;
                }
                check_scale("output scale", *scale)?;
                check_zero_point::<u8>("output zero point", *zero_point)
            }
            QOutput::I8 {
                bias,
                scale,
                zero_point,
                ..
            } => {
                if let Some(b) = bias {
                    check_len(b.len())?;
                }
                check_scale("output scale", *scale)?;
                check_zero_point::<i8>("output zero point", *zero_point)
            }
        }
    }
}

/// A's scale: one for the tensor, or one per row.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RowScales<'a> {
    Tensor(f32),
    Rows(&'a [f32]),
}

impl RowScales<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        match *self {
            RowScales::Tensor(s) => s,
            RowScales::Rows(s) => s[i],
        }
    }
}

/// Raw destination: base pointer and strides (validated by [`QMatMut`]).
#[derive(Clone, Copy)]
struct Dst<T> {
    ptr: *mut T,
    rs: usize,
    cs: usize,
}

impl<T: Copy> Dst<T> {
    fn of(c: &mut QMatMut<'_, T>) -> Self {
        Self {
            ptr: c.as_mut_ptr(),
            rs: c.row_stride(),
            cs: c.col_stride(),
        }
    }
    /// Stores `cols` lanes of `v` at row `i`, column `j0`.
    ///
    /// # Safety
    /// `(i, j0 .. j0 + cols)` inside the destination.
    #[inline(always)]
    unsafe fn store_lanes(&self, i: usize, j0: usize, cols: usize, v: [T; 4]) {
        let p = self.ptr.wrapping_add(i * self.rs + j0 * self.cs);
        for (c, x) in v.into_iter().enumerate().take(cols) {
            // SAFETY: element (i, j0 + c) is inside the destination (caller).
            unsafe { *p.add(c * self.cs) = x };
        }
    }
}

enum Kind<'a> {
    I32(Dst<i32>),
    F32 {
        c: Dst<f32>,
        bias: Option<&'a [f32]>,
        activation: Activation,
    },
    Q {
        c: Dst<u8>,
        signed: bool,
        bias: Option<&'a [i32]>,
        scale: f32,
        zero_point: i32,
    },
}

/// A validated [`QOutput`] ready to store tiles.
pub(crate) struct Epilogue<'a> {
    kind: Kind<'a>,
    sa: RowScales<'a>,
    sb: &'a [f32],
}

/// `v[j0 .. j0 + cols]` zero-padded to 4 lanes, as an array.
#[inline(always)]
fn lanes<T: Copy + Default>(v: &[T], j0: usize, cols: usize) -> [T; 4] {
    let mut a = [T::default(); 4];
    a[..cols].copy_from_slice(&v[j0..j0 + cols]);
    a
}

impl<'a> Epilogue<'a> {
    /// Prepares `out` (already validated) with A's row scales and B's column scales.
    pub(crate) fn new(out: &'a mut QOutput<'_>, sa: RowScales<'a>, sb: &'a [f32]) -> Self {
        let kind = match out {
            QOutput::I32(c) => Kind::I32(Dst::of(c)),
            QOutput::F32 {
                c,
                bias,
                activation,
            } => Kind::F32 {
                c: Dst::of(c),
                bias: *bias,
                activation: *activation,
            },
            QOutput::U8 {
                c,
                bias,
                scale,
                zero_point,
            } => Kind::Q {
                c: Dst::of(c),
                signed: false,
                bias: *bias,
                scale: *scale,
                zero_point: *zero_point,
            },
            QOutput::I8 {
                c,
                bias,
                scale,
                zero_point,
            } => {
                let d = Dst::of(c);
                Kind::Q {
                    c: Dst {
                        ptr: d.ptr.cast::<u8>(),
                        rs: d.rs,
                        cs: d.cs,
                    },
                    signed: true,
                    bias: *bias,
                    scale: *scale,
                    zero_point: *zero_point,
                }
            }
        };
        Self { kind, sa, sb }
    }

    /// Converts and stores row `i`, columns `j0 .. j0 + cols` (`cols <= 4`) from `acc`.
    ///
    /// # Safety
    /// The elements are inside the destination, which is exclusively borrowed, and
    /// `j0 + cols <= n` (the length of the column scales and bias).
    #[inline(always)]
    pub(crate) unsafe fn store_row(&self, acc: I32x4, i: usize, j0: usize, cols: usize) {
        let full = cols == 4;
        match self.kind {
            Kind::I32(c) => {
                if full && c.cs == 1 {
                    // SAFETY: 4 contiguous elements of row i (caller).
                    unsafe { acc.store(c.ptr.add(i * c.rs + j0)) }
                } else {
                    // SAFETY: caller.
                    unsafe { c.store_lanes(i, j0, cols, acc.to_array()) }
                }
            }
            Kind::F32 {
                c,
                bias,
                activation,
            } => {
                let sb = F32x4::from_array(lanes(self.sb, j0, cols));
                let scale = F32x4::splat(self.sa.get(i)).mul(sb);
                let mut y = acc.to_f32().mul(scale);
                if let Some(b) = bias {
                    y = y.add(F32x4::from_array(lanes(b, j0, cols)));
                }
                let y = activation.apply(y);
                if full && c.cs == 1 {
                    // SAFETY: 4 contiguous elements of row i (caller).
                    unsafe { y.store(c.ptr.add(i * c.rs + j0)) }
                } else {
                    // SAFETY: caller.
                    unsafe { c.store_lanes(i, j0, cols, y.to_array()) }
                }
            }
            Kind::Q {
                c,
                signed,
                bias,
                scale,
                zero_point,
            } => {
                let sb = F32x4::from_array(lanes(self.sb, j0, cols));
                let m = F32x4::splat(self.sa.get(i))
                    .mul(sb)
                    .div(F32x4::splat(scale));
                let acc = match bias {
                    Some(b) => acc.add(I32x4::from_array(lanes(b, j0, cols))),
                    None => acc,
                };
                let (qmin, qmax) = if signed { (-128, 127) } else { (0, 255) };
                let y = acc
                    .to_f32()
                    .mul(m)
                    .round_even()
                    .max_or_self(F32x4::splat((qmin - zero_point) as f32))
                    .min_or_self(F32x4::splat((qmax - zero_point) as f32));
                let q = I32x4::from_f32_sat(y).add(I32x4::splat(zero_point));
                let h = I16x8::narrow_i32(q, q);
                let bytes = if signed {
                    I8x16::narrow_i8(h, h)
                } else {
                    I8x16::narrow_u8(h, h)
                };
                if full && c.cs == 1 {
                    // SAFETY: 4 contiguous bytes of row i (caller).
                    unsafe { bytes.store_low4(c.ptr.add(i * c.rs + j0)) }
                } else {
                    let b = bytes.to_array();
                    // SAFETY: caller.
                    unsafe { c.store_lanes(i, j0, cols, [b[0], b[1], b[2], b[3]]) }
                }
            }
        }
    }
}

/// The requantization of one element, scalar (the reference the tests compare against).
///
/// ```
/// use wasmnn_quant::epilogue::requantize_scalar;
/// assert_eq!(requantize_scalar::<u8>(1000, 0.5, 0.01, 1.0, 3), 8); // 1000 * 0.005 = 5 -> 5 + 3
/// assert_eq!(requantize_scalar::<i8>(-7, 1.0, 1.0, 2.0, 0), -4); // -3.5 rounds to -4 (even)
/// ```
pub fn requantize_scalar<Z: Q8>(acc: i32, sa: f32, sb: f32, scale: f32, zero_point: i32) -> Z {
    let m = (sa * sb) / scale;
    let y = crate::quantize::round_half_even(acc as f32 * m);
    let lo = (Z::MIN_Q - zero_point) as f32;
    let hi = (Z::MAX_Q - zero_point) as f32;
    let y = if y < lo {
        lo
    } else if hi < y {
        hi
    } else {
        y
    };
    Z::saturate(y as i32 + zero_point)
}
