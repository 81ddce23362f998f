//! int8 2-D convolution on NHWC data through the integer GEMM.
//!
//! With the input `n x h x w x c` (NHWC) and the weights in HWIO order, i.e. a
//! `(kh * kw * c) x cout` matrix (row `(ky * kw + kx) * c + ci`), a convolution is a GEMM whose
//! A rows are output pixels:
//! - **1x1, stride 1, no padding**: A *is* the input, viewed as `(n * h * w) x c`; no copy;
//! - **k x k** (and strided 1x1): im2col copies each output pixel's receptive field into one
//!   row of A; padding positions hold the input's zero point, so they contribute exactly 0.
//!
//! The output is the GEMM's `(n * ho * wo) x cout` matrix, i.e. NHWC, through any
//! [`QOutput`] (i32, dequantized f32 with bias and activation, or requantized u8 / i8 with an
//! i32 bias as in ONNX `QLinearConv`).
use crate::driver::grow;
use crate::epilogue::QOutput;
use crate::gemm::{qgemm_scratch, qgemm_slots, QGemmOptions};
use crate::matrix::QMatRef;
use crate::pack::PackedQB;
use crate::scratch::QScratch;
use crate::types::{QuantParams, Q8};
use wasmnn_kernels::{Error, Result};

/// Kernel size, stride, padding and dilation of a 2-D convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// `(kh, kw)`.
    pub kernel: (usize, usize),
    /// `(sh, sw)`, at least 1.
    pub stride: (usize, usize),
    /// `(top, left, bottom, right)`.
    pub padding: (usize, usize, usize, usize),
    /// `(dh, dw)`, at least 1.
    pub dilation: (usize, usize),
}

impl ConvGeometry {
    /// A square `k x k` kernel with the same stride and padding on every side, no dilation.
    pub fn square(k: usize, stride: usize, pad: usize) -> Self {
        Self {
            kernel: (k, k),
            stride: (stride, stride),
            padding: (pad, pad, pad, pad),
            dilation: (1, 1),
        }
    }

    /// Output height and width for an `h x w` input.
    ///
    /// ```
    /// use wasmnn_quant::conv::ConvGeometry;
    /// assert_eq!(ConvGeometry::square(3, 2, 1).output_hw(224, 224)?, (112, 112));
    /// assert!(ConvGeometry::square(5, 1, 0).output_hw(3, 3).is_err());
    /// # Ok::<(), wasmnn_quant::Error>(())
    /// ```
    pub fn output_hw(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.stride;
        let (dh, dw) = self.dilation;
        if kh == 0 || kw == 0 || sh == 0 || sw == 0 || dh == 0 || dw == 0 {
            return Err(Error::InvalidArgument {
                what: "conv geometry",
                why: "kernel, stride and dilation must be at least 1",
            });
        }
        let (pt, pl, pb, pr) = self.padding;
        let span = |k: usize, d: usize| (k - 1).checked_mul(d).and_then(|x| x.checked_add(1));
        let out = |size: usize, p0: usize, p1: usize, k: usize, d: usize, s: usize| {
            let padded = size
                .checked_add(p0)
                .and_then(|x| x.checked_add(p1))
                .ok_or(Error::Overflow { what: "conv input" })?;
            let span = span(k, d).ok_or(Error::Overflow {
                what: "conv kernel",
            })?;
            if span > padded {
                return Err(Error::InvalidArgument {
                    what: "conv geometry",
                    why: "the (dilated) kernel is larger than the padded input",
                });
            }
            Ok((padded - span) / s + 1)
        };
        Ok((out(h, pt, pb, kh, dh, sh)?, out(w, pl, pr, kw, dw, sw)?))
    }
}

/// int8 convolution of an NHWC input `shape = [n, h, w, c]` (per-tensor quantization) with
/// packed HWIO weights (`(kh * kw * c) x cout`), into `out` (`(n * ho * wo) x cout`, NHWC).
///
/// ```
/// use wasmnn_quant::{conv::{conv2d_nhwc, ConvGeometry}, PackedQB, QMatMut, QOutput, QuantParams};
/// // 1 image 3x3x1, 3x3 kernel of ones, padding 1: each output sums a 3x3 neighbourhood.
/// let x: [u8; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 9];
/// let w = PackedQB::from_row_major(&[1i8; 9], 9, 1, QuantParams::IDENTITY)?;
/// let mut y = [0i32; 9];
/// conv2d_nhwc(&x, [1, 3, 3, 1], QuantParams::IDENTITY, &w, ConvGeometry::square(3, 1, 1),
///     QOutput::I32(QMatMut::row_major(&mut y, 9, 1)?))?;
/// assert_eq!(y, [12, 21, 16, 27, 45, 33, 24, 39, 28]);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn conv2d_nhwc<A: Q8>(
    input: &[A],
    shape: [usize; 4],
    a_params: QuantParams<'_>,
    weights: &PackedQB,
    geometry: ConvGeometry,
    out: QOutput<'_>,
) -> Result<()> {
    conv2d_nhwc_scratch(
        input,
        shape,
        a_params,
        weights,
        geometry,
        out,
        &mut QScratch::new(),
    )
}

/// [`conv2d_nhwc`] with reusable scratch memory (the im2col matrix and the GEMM buffers): once
/// `scratch` has served a convolution of this size, the call makes no heap allocation.
///
/// ```
/// use wasmnn_quant::{conv::{conv2d_nhwc_scratch, ConvGeometry}, PackedQB, QMatMut, QOutput, QScratch, QuantParams};
/// let x: [u8; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 9];
/// let w = PackedQB::from_row_major(&[1i8; 9], 9, 1, QuantParams::IDENTITY)?;
/// let mut scratch = QScratch::new();
/// for _ in 0..2 {
///     let mut y = [0i32; 9];
///     conv2d_nhwc_scratch(&x, [1, 3, 3, 1], QuantParams::IDENTITY, &w, ConvGeometry::square(3, 1, 1),
///         QOutput::I32(QMatMut::row_major(&mut y, 9, 1)?), &mut scratch)?;
///     assert_eq!(y[4], 45);
/// }
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn conv2d_nhwc_scratch<A: Q8>(
    input: &[A],
    shape: [usize; 4],
    a_params: QuantParams<'_>,
    weights: &PackedQB,
    geometry: ConvGeometry,
    out: QOutput<'_>,
    scratch: &mut QScratch,
) -> Result<()> {
    let [n, h, w, c] = shape;
    let len = n
        .checked_mul(h)
        .and_then(|x| x.checked_mul(w))
        .and_then(|x| x.checked_mul(c))
        .ok_or(Error::Overflow { what: "conv input" })?;
    if input.len() != len {
        return Err(Error::ShapeMismatch {
            what: "length of the conv input (= n * h * w * c)",
            expected: len,
            found: input.len(),
        });
    }
    let QuantParams::PerTensor { zero_point, .. } = a_params else {
        return Err(Error::InvalidArgument {
            what: "a quantization",
            why: "the conv input takes per-tensor parameters",
        });
    };
    a_params.validate::<A>("a quantization", 1)?;
    let (ho, wo) = geometry.output_hw(h, w)?;
    let (kh, kw) = geometry.kernel;
    let k = kh
        .checked_mul(kw)
        .and_then(|x| x.checked_mul(c))
        .ok_or(Error::Overflow {
            what: "conv weights",
        })?;
    if weights.k() != k {
        return Err(Error::ShapeMismatch {
            what: "rows of the conv weights (= kh * kw * c)",
            expected: k,
            found: weights.k(),
        });
    }
    let rows = n
        .checked_mul(ho)
        .and_then(|x| x.checked_mul(wo))
        .ok_or(Error::Overflow {
            what: "conv output",
        })?;
    let opts = QGemmOptions::default();
    let direct = geometry == ConvGeometry::square(1, 1, 0);
    if direct {
        let a = QMatRef::named("conv input", input, rows, c, c, 1)?;
        return qgemm_scratch(a, a_params, weights, out, opts, scratch);
    }
    // Check the output before allocating the im2col buffer (qgemm checks it again).
    if out.shape() != (rows, weights.n()) {
        return Err(Error::ShapeMismatch {
            what: "conv output elements (= n * ho * wo * cout)",
            expected: rows.saturating_mul(weights.n()),
            found: out.shape().0.saturating_mul(out.shape().1),
        });
    }
    let len = rows
        .checked_mul(k)
        .ok_or(Error::Overflow { what: "im2col" })?;
    // Split borrow: the im2col bytes stay borrowed by A while the GEMM uses the other buffers.
    let QScratch {
        im2col: bytes,
        slots,
        ..
    } = scratch;
    grow(bytes, len, 0)?;
    let cols = as_q8_mut::<A>(&mut bytes[..len]);
    // Padding positions keep the zero point, so they contribute exactly 0.
    cols.fill(A::saturate(zero_point));
    im2col(input, shape, geometry, (ho, wo), cols);
    let a = QMatRef::named("im2col", &*cols, rows, k, k, 1)?;
    qgemm_slots(a, a_params, weights, out, opts, slots)
}

/// The bytes as values of the 8-bit type `A`.
fn as_q8_mut<A: Q8>(bytes: &mut [u8]) -> &mut [A] {
    const { assert!(core::mem::size_of::<A>() == 1 && core::mem::align_of::<A>() == 1) };
    // SAFETY: `A` is u8 or i8 (Q8 is sealed): one byte, alignment 1, every bit pattern a valid
    // value; the result borrows `bytes` exclusively for its whole lifetime.
    unsafe { core::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<A>(), bytes.len()) }
}

/// Copies each output pixel's receptive field into one row of `cols` (pre-filled with the
/// zero point, which padding positions keep).
fn im2col<A: Q8>(
    input: &[A],
    [n, h, w, c]: [usize; 4],
    g: ConvGeometry,
    (ho, wo): (usize, usize),
    cols: &mut [A],
) {
    let (kh, kw) = g.kernel;
    let k = kh * kw * c;
    let mut row = 0;
    for b in 0..n {
        for oy in 0..ho {
            for ox in 0..wo {
                let dst = &mut cols[row * k..(row + 1) * k];
                for ky in 0..kh {
                    // Input row: oy * sh + ky * dh - top, skipped when it falls in the padding.
                    let iy = (oy * g.stride.0 + ky * g.dilation.0).checked_sub(g.padding.0);
                    let Some(iy) = iy.filter(|&y| y < h) else {
                        continue;
                    };
                    for kx in 0..kw {
                        let ix = (ox * g.stride.1 + kx * g.dilation.1).checked_sub(g.padding.1);
                        let Some(ix) = ix.filter(|&x| x < w) else {
                            continue;
                        };
                        let src = ((b * h + iy) * w + ix) * c;
                        let at = (ky * kw + kx) * c;
                        dst[at..at + c].copy_from_slice(&input[src..src + c]);
                    }
                }
                row += 1;
            }
        }
    }
}
