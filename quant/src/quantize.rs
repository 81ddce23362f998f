//! Quantize and dequantize: f32 <-> u8 / i8, with ONNX `QuantizeLinear`, `DequantizeLinear` and
//! `DynamicQuantizeLinear` semantics.
//!
//! - quantize: `q = saturate(round_half_even(x / scale) + zero_point)`; `x / scale` is a true
//!   f32 division, as in the ONNX reference. `+-inf` saturate; NaN is treated as 0 (it becomes
//!   the zero point) on every build and engine.
//! - dequantize: `x = (q - zero_point) * scale`, exact integer difference then one f32 rounding.
//! - dynamic parameters (`DynamicQuantizeLinear`, generalised to i8 and to one set per row):
//!   `lo = min(0, min x)`, `hi = max(0, max x)` (NaN ignored), `scale = (hi - lo) / (qmax - qmin)`
//!   (1 when `hi == lo`, i.e. all zeros), `zero_point = round_half_even(clamp(qmin - lo / scale,
//!   qmin, qmax))`.
//!
//! The hot loops (min/max and quantization of activations) run 16 values per step on SIMD128;
//! the tail goes through the same vector code on a padded copy, so every element gets
//! bit-identical arithmetic.
use crate::matrix::{QMatMut, QMatRef};
use crate::simd::{nan_to_zero, I16x8, I32x4, I8x16};
use crate::types::{QuantParams, Q8};
use wasmnn_kernels::simd::F32x4;
use wasmnn_kernels::{Error, MatRef, Result};

/// Rounds to the nearest integer, ties to even (the rounding of every quantizer here).
///
/// ```
/// use wasmnn_quant::quantize::round_half_even;
/// assert_eq!([0.5, 1.5, 2.5, -0.5, -2.5].map(round_half_even), [0.0, 2.0, 2.0, -0.0, -2.0]);
/// ```
pub fn round_half_even(x: f32) -> f32 {
    F32x4::splat(x).round_even().lane(0)
}

/// Scale and zero point of a tensor (or a row) quantized with [`dynamic_params`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynamicParams {
    /// `x = scale * (q - zero_point)`.
    pub scale: f32,
    /// The integer that represents 0.0.
    pub zero_point: i32,
}

/// Per-lane parameters of one 16-value step: `1 / scale` is *not* used (ONNX divides).
#[derive(Clone, Copy)]
struct Lanes {
    scale: [F32x4; 4],
    /// `qmin - zero_point` and `qmax - zero_point`: the clamp bounds of `round(x / scale)`.
    lo: [F32x4; 4],
    hi: [F32x4; 4],
}

impl Lanes {
    fn splat<Z: Q8>(scale: f32, zero_point: i32) -> Self {
        Self {
            scale: [F32x4::splat(scale); 4],
            lo: [F32x4::splat((Z::MIN_Q - zero_point) as f32); 4],
            hi: [F32x4::splat((Z::MAX_Q - zero_point) as f32); 4],
        }
    }
}

/// `1.5 * 2^23`: adding it to an f32 in `(-2^22, 2^22)` rounds to an integer (half to even, the
/// default rounding) held in the low mantissa bits.
const MAGIC: f32 = 12_582_912.0;

/// `clamp(round_half_even(x / scale), qmin - zp, qmax - zp)` as i32 for 16 values, i.e.
/// `q - zp`. NaN counts as 0 (offset 0).
///
/// The clamp comes first (with integer bounds it commutes with rounding) so the value lies in
/// `-510..=510`, where the magic-number add rounds and converts exactly: two instructions
/// instead of `f32x4.nearest` plus `i32x4.trunc_sat_f32x4_s`, which V8 lowers to a sequence on
/// x86.
#[inline(always)]
fn offsets16(x: &[f32; 16], l: &Lanes) -> [I32x4; 4] {
    let magic = F32x4::splat(MAGIC);
    let magic_bits = I32x4::splat(MAGIC.to_bits() as i32);
    core::array::from_fn(|v| {
        // SAFETY: x has 16 elements; lane group v reads x[4v .. 4v + 4].
        let xv = unsafe { F32x4::load(x.as_ptr().add(4 * v)) };
        // NaN is removed first: the clamp may be relaxed min/max (see `crate::simd`).
        let y = nan_to_zero(xv).div(l.scale[v]);
        let y = y.max_or_self(l.lo[v]).min_or_self(l.hi[v]);
        I32x4::from_f32_bits(y.add(magic)).sub(magic_bits)
    })
}

/// Quantizes 16 values to bytes of type `Z`.
#[inline(always)]
fn quantize16<Z: Q8>(x: &[f32; 16], l: &Lanes, zp: [I32x4; 4]) -> I8x16 {
    let q = offsets16(x, l);
    let lo = I16x8::narrow_i32(q[0].add(zp[0]), q[1].add(zp[1]));
    let hi = I16x8::narrow_i32(q[2].add(zp[2]), q[3].add(zp[3]));
    if Z::SIGNED {
        I8x16::narrow_i8(lo, hi)
    } else {
        I8x16::narrow_u8(lo, hi)
    }
}

/// Quantizes one contiguous run `x` into `out` (same length) with per-tensor parameters.
fn quantize_run<Z: Q8>(x: &[f32], scale: f32, zero_point: i32, out: &mut [Z]) {
    debug_assert_eq!(x.len(), out.len());
    let lanes = Lanes::splat::<Z>(scale, zero_point);
    let zp = [I32x4::splat(zero_point); 4];
    let mut xs = x.chunks_exact(16);
    let mut os = out.chunks_exact_mut(16);
    for (xc, oc) in (&mut xs).zip(&mut os) {
        let xc: &[f32; 16] = xc.try_into().expect("chunk of 16");
        // SAFETY: oc is 16 elements of a one-byte type (u8 or i8): 16 writable bytes.
        unsafe { quantize16::<Z>(xc, &lanes, zp).store(oc.as_mut_ptr().cast::<u8>()) };
    }
    let (xt, ot) = (xs.remainder(), os.into_remainder());
    if !xt.is_empty() {
        let mut buf = [0.0f32; 16];
        buf[..xt.len()].copy_from_slice(xt);
        let bytes = quantize16::<Z>(&buf, &lanes, zp).to_array();
        for (o, b) in ot.iter_mut().zip(bytes) {
            *o = Z::from_bits(b);
        }
    }
}

/// Writes `q - zero_point` as i16 (the packed-A form of the GEMM), with the same arithmetic as
/// [`quantize_linear`], in `kbn` blocks of 8: block `q` (values `8q .. 8q + 8` of `x`, zeros
/// past its end) goes to `dst[q * stride ..][..8]`.
pub(crate) fn quantize_offsets_blocks<Z: Q8>(
    x: &[f32],
    p: DynamicParams,
    dst: &mut [i16],
    stride: usize,
    kbn: usize,
) {
    debug_assert!(x.len() <= kbn * 8);
    let lanes = Lanes::splat::<Z>(p.scale, p.zero_point);
    let mut store = |q: usize, v: I16x8| {
        let out = &mut dst[q * stride..q * stride + 8];
        // SAFETY: `out` has 8 writable i16.
        unsafe { v.store(out.as_mut_ptr()) };
    };
    let mut chunks = x.chunks_exact(16);
    let mut q = 0;
    for c in &mut chunks {
        let v = offsets16(c.try_into().expect("chunk of 16"), &lanes);
        store(q, I16x8::narrow_i32(v[0], v[1]));
        store(q + 1, I16x8::narrow_i32(v[2], v[3]));
        q += 2;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut buf = [0.0f32; 16];
        buf[..tail.len()].copy_from_slice(tail);
        let v = offsets16(&buf, &lanes);
        // Lanes past the end of x quantized a 0.0: the zero point, offset 0. Exactly 0 is what
        // padding needs, so the whole block can be stored.
        store(q, I16x8::narrow_i32(v[0], v[1]));
        q += 1;
        if tail.len() > 8 {
            store(q, I16x8::narrow_i32(v[2], v[3]));
            q += 1;
        }
    }
    for q in q..kbn {
        store(q, I16x8::splat(0));
    }
}

/// One value quantized with the vector arithmetic (for strided data and per-column params).
fn quantize_one<Z: Q8>(x: f32, scale: f32, zero_point: i32) -> Z {
    let mut buf = [0.0f32; 16];
    buf[0] = x;
    let lanes = Lanes::splat::<Z>(scale, zero_point);
    let bytes = quantize16::<Z>(&buf, &lanes, [I32x4::splat(zero_point); 4]).to_array();
    Z::from_bits(bytes[0])
}

/// ONNX `QuantizeLinear` of a matrix: per tensor, or per column (`cols` scales / zero points).
///
/// ```
/// use wasmnn_kernels::MatRef;
/// use wasmnn_quant::{quantize_linear, QMatMut, QuantParams};
/// let x = [0.0f32, 0.5, 1.0, 1.25, -3.0, 1000.0];
/// let mut q = [0u8; 6];
/// quantize_linear(MatRef::row_major(&x, 2, 3)?,
///     QuantParams::PerTensor { scale: 0.5, zero_point: 10 }, QMatMut::row_major(&mut q, 2, 3)?)?;
/// assert_eq!(q, [10, 11, 12, 12, 4, 255]); // 1.25 / 0.5 = 2.5 rounds to 2 (half to even)
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn quantize_linear<Z: Q8>(
    x: MatRef<'_>,
    params: QuantParams<'_>,
    mut out: QMatMut<'_, Z>,
) -> Result<()> {
    check_same_shape(x.rows(), x.cols(), out.rows(), out.cols())?;
    params.validate::<Z>("quantization", x.cols())?;
    let (rows, cols) = (x.rows(), x.cols());
    for i in 0..rows {
        match params {
            QuantParams::PerTensor { scale, zero_point }
                if x.col_stride() == 1 && out.col_stride() == 1 =>
            {
                let xr = &x.data()[i * x.row_stride()..][..cols];
                let rs = out.row_stride();
                let ptr = out.as_mut_ptr();
                // SAFETY: QMatMut validated that row i (cols contiguous elements) is inside
                // its exclusively borrowed slice.
                let orow = unsafe { core::slice::from_raw_parts_mut(ptr.add(i * rs), cols) };
                quantize_run(xr, scale, zero_point, orow);
            }
            _ => {
                for j in 0..cols {
                    let v = x.get(i, j).unwrap_or(0.0);
                    out.set(
                        i,
                        j,
                        quantize_one::<Z>(v, params.scale(j), params.zero_point(j)),
                    );
                }
            }
        }
    }
    Ok(())
}

/// ONNX `DequantizeLinear` of a matrix: per tensor, or per column.
///
/// ```
/// use wasmnn_quant::{dequantize_linear, QMatMut, QMatRef, QuantParams};
/// let q: [i8; 3] = [-128, 0, 127];
/// let mut x = [0.0f32; 3];
/// dequantize_linear(QMatRef::row_major(&q, 1, 3)?,
///     QuantParams::PerChannel { scales: &[1.0, 0.5, 0.25], zero_points: &[0, 0, 1] },
///     QMatMut::row_major(&mut x, 1, 3)?)?;
/// assert_eq!(x, [-128.0, 0.0, 31.5]);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn dequantize_linear<Z: Q8>(
    q: QMatRef<'_, Z>,
    params: QuantParams<'_>,
    mut out: QMatMut<'_, f32>,
) -> Result<()> {
    check_same_shape(q.rows(), q.cols(), out.rows(), out.cols())?;
    params.validate::<Z>("quantization", q.cols())?;
    for i in 0..q.rows() {
        for j in 0..q.cols() {
            let v = q.get(i, j).map_or(0, Q8::to_i32) - params.zero_point(j);
            out.set(i, j, v as f32 * params.scale(j));
        }
    }
    Ok(())
}

fn check_same_shape(rows: usize, cols: usize, out_rows: usize, out_cols: usize) -> Result<()> {
    if (rows, cols) != (out_rows, out_cols) {
        return Err(Error::ShapeMismatch {
            what: "output elements (= input rows * cols)",
            expected: rows.saturating_mul(cols),
            found: out_rows.saturating_mul(out_cols),
        });
    }
    Ok(())
}

/// `(min(0, min x), max(0, max x))`, NaN ignored, 16 values per step.
pub fn min_max(x: &[f32]) -> (f32, f32) {
    let mut lo = [F32x4::zero(); 4];
    let mut hi = [F32x4::zero(); 4];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for v in 0..4 {
            // SAFETY: c has 16 elements.
            let xv = unsafe { F32x4::load(c.as_ptr().add(4 * v)) };
            // NaN becomes 0, which is already in the range (see `crate::simd::nan_to_zero`).
            let xv = nan_to_zero(xv);
            lo[v] = lo[v].min_or_self(xv);
            hi[v] = hi[v].max_or_self(xv);
        }
    }
    let mut l = 0.0f32;
    let mut h = 0.0f32;
    for v in 0..4 {
        for (a, b) in lo[v].to_array().into_iter().zip(hi[v].to_array()) {
            l = if a < l { a } else { l };
            h = if b > h { b } else { h };
        }
    }
    for &v in chunks.remainder() {
        l = if v < l { v } else { l };
        h = if v > h { v } else { h };
    }
    (l, h)
}

/// Dynamic quantization parameters of `x` for type `Z` (ONNX `DynamicQuantizeLinear` for `u8`).
///
/// ```
/// use wasmnn_quant::quantize::{dynamic_params, DynamicParams};
/// let p = dynamic_params::<u8>(&[-1.0, 0.0, 3.0]);
/// assert_eq!(p, DynamicParams { scale: 4.0 / 255.0, zero_point: 64 }); // 63.75 -> 64
/// assert_eq!(dynamic_params::<u8>(&[0.0; 3]), DynamicParams { scale: 1.0, zero_point: 0 });
/// ```
pub fn dynamic_params<Z: Q8>(x: &[f32]) -> DynamicParams {
    let (lo, hi) = min_max(x);
    params_from_range::<Z>(lo, hi)
}

/// Parameters for the range `[lo, hi]` (which contains 0).
pub(crate) fn params_from_range<Z: Q8>(lo: f32, hi: f32) -> DynamicParams {
    let (qmin, qmax) = (Z::MIN_Q as f32, Z::MAX_Q as f32);
    let scale = if hi == lo {
        1.0
    } else {
        (hi - lo) / (qmax - qmin)
    };
    // A range of +-inf gives an infinite scale; fall back to 1 so the result stays defined.
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    let zp = round_half_even((qmin - lo / scale).clamp(qmin, qmax));
    DynamicParams {
        scale,
        zero_point: zp as i32,
    }
}

/// ONNX `DynamicQuantizeLinear`: quantizes `x` to u8 with parameters computed from its range;
/// returns them.
///
/// ```
/// use wasmnn_quant::dynamic_quantize_linear;
/// let mut q = [0u8; 4];
/// let p = dynamic_quantize_linear(&[-1.0, 0.0, 1.0, 3.0], &mut q)?;
/// assert_eq!((p.zero_point, q), (64, [0, 64, 128, 255]));
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn dynamic_quantize_linear(x: &[f32], out: &mut [u8]) -> Result<DynamicParams> {
    dynamic_quantize::<u8>(x, out)
}

/// [`dynamic_quantize_linear`] for either 8-bit type.
pub fn dynamic_quantize<Z: Q8>(x: &[f32], out: &mut [Z]) -> Result<DynamicParams> {
    if out.len() != x.len() {
        return Err(Error::ShapeMismatch {
            what: "length of the quantized output (= input length)",
            expected: x.len(),
            found: out.len(),
        });
    }
    let p = dynamic_params::<Z>(x);
    quantize_run(x, p.scale, p.zero_point, out);
    Ok(p)
}

/// Dynamic quantization with one scale and zero point per row of `x` (better accuracy for
/// activations whose rows differ in range, e.g. transformer tokens). Writes the parameters of
/// row `i` to `params[i]`.
///
/// ```
/// use wasmnn_kernels::MatRef;
/// use wasmnn_quant::{quantize::{dynamic_quantize_rows, DynamicParams}, QMatMut};
/// let x = [1.0f32, -1.0, 100.0, 0.0];
/// let mut q = [0i8; 4];
/// let mut p = [DynamicParams { scale: 0.0, zero_point: 0 }; 2];
/// dynamic_quantize_rows(MatRef::row_major(&x, 2, 2)?, QMatMut::row_major(&mut q, 2, 2)?, &mut p)?;
/// assert_eq!((p[0].scale, p[1].scale), (2.0 / 255.0, 100.0 / 255.0));
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn dynamic_quantize_rows<Z: Q8>(
    x: MatRef<'_>,
    mut out: QMatMut<'_, Z>,
    params: &mut [DynamicParams],
) -> Result<()> {
    check_same_shape(x.rows(), x.cols(), out.rows(), out.cols())?;
    if params.len() != x.rows() {
        return Err(Error::ShapeMismatch {
            what: "number of row parameters (= rows)",
            expected: x.rows(),
            found: params.len(),
        });
    }
    let mut row = alloc::vec::Vec::new();
    for (i, p) in params.iter_mut().enumerate() {
        row.clear();
        row.extend((0..x.cols()).map(|j| x.get(i, j).unwrap_or(0.0)));
        *p = dynamic_params::<Z>(&row);
        let mut q = alloc::vec![Z::default(); row.len()];
        quantize_run(&row, p.scale, p.zero_point, &mut q);
        for (j, v) in q.into_iter().enumerate() {
            out.set(i, j, v);
        }
    }
    Ok(())
}
