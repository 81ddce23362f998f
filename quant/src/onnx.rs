//! Entry points shaped like ONNX operators, so a graph runner can map nodes one to one.
//!
//! | ONNX (sub)graph | here |
//! |---|---|
//! | `MatMulInteger(A, B, a_zero_point, b_zero_point)` | [`matmul_integer`] (B's zero point lives in the [`PackedQB`]) |
//! | `DynamicQuantizeLinear(X) -> MatMulInteger(., B, zp, b_zp) -> Cast(float) -> Mul(., x_scale * b_scale)` (what `quantize_dynamic` emits) | [`dynamic_quant_matmul`] |
//! | `QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)` | [`qlinear_matmul`] |
//! | `QuantizeLinear` / `DequantizeLinear` / `DynamicQuantizeLinear` | [`crate::quantize_linear`], [`crate::dequantize_linear`], [`crate::dynamic_quantize_linear`] |
//!
//! ONNX allows `a_zero_point` to be a scalar or one value per row of A; both are accepted here
//! as a slice of length 1 or M (or empty for no zero point).
use crate::epilogue::QOutput;
use crate::gemm::{qgemm, qgemm_dynamic, DynamicQuant};
use crate::matrix::{QMatMut, QMatRef};
use crate::pack::PackedQB;
use crate::types::{QuantParams, Q8};
use alloc::vec::Vec;
use wasmnn_kernels::{Activation, Error, MatRef, Result};

/// Zero points given as ONNX does (none, one, or one per row) as [`QuantParams`] with scale 1.
fn row_zero_points<'a>(zp: &'a [i32], rows: usize, ones: &'a [f32]) -> Result<QuantParams<'a>> {
    match zp.len() {
        0 => Ok(QuantParams::IDENTITY),
        1 => Ok(QuantParams::PerTensor {
            scale: 1.0,
            zero_point: zp[0],
        }),
        len if len == rows => Ok(QuantParams::PerChannel {
            scales: &ones[..rows],
            zero_points: zp,
        }),
        len => Err(Error::ShapeMismatch {
            what: "number of zero points of A (0, 1 or rows)",
            expected: rows,
            found: len,
        }),
    }
}

/// ONNX `MatMulInteger`: `Y = (A - a_zero_point) (B - b_zero_point)` in exact i32 (wrapping,
/// i.e. exact whenever the result fits i32).
///
/// ```
/// use wasmnn_quant::{onnx::matmul_integer, PackedQB, QMatMut, QMatRef, QuantParams};
/// let b = PackedQB::from_row_major(&[-128i8, 127], 2, 1, QuantParams::IDENTITY)?;
/// let a = [0u8, 255];
/// let mut y = [0i32];
/// matmul_integer(QMatRef::row_major(&a, 1, 2)?, &[128], &b, QMatMut::row_major(&mut y, 1, 1)?)?;
/// assert_eq!(y, [(0 - 128) * -128 + (255 - 128) * 127]);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn matmul_integer<A: Q8>(
    a: QMatRef<'_, A>,
    a_zero_point: &[i32],
    b: &PackedQB,
    y: QMatMut<'_, i32>,
) -> Result<()> {
    let ones = alloc::vec![1.0f32; if a_zero_point.len() > 1 { a.rows() } else { 0 }];
    let params = row_zero_points(a_zero_point, a.rows(), &ones)?;
    qgemm(a, params, b, QOutput::I32(y))
}

/// `DynamicQuantizeLinear(A) -> MatMulInteger(., B) -> Cast -> Mul(a_scale * b_scale)`, fused:
/// f32 A is quantized to u8 per tensor while it is packed, and the i32 products are scaled by
/// `a_scale * b_scale[j]` on the register tile. `b_scale` is the packed B's scale (per tensor
/// or per column).
///
/// ```
/// use wasmnn_kernels::MatRef;
/// use wasmnn_quant::{onnx::dynamic_quant_matmul, PackedQB, QMatMut, QuantParams};
/// let b = PackedQB::from_row_major(&[100i8, -50], 2, 1, QuantParams::symmetric(0.01))?;
/// let x = [1.0f32, 2.0];
/// let mut y = [0.0f32];
/// dynamic_quant_matmul(MatRef::row_major(&x, 1, 2)?, &b, QMatMut::row_major(&mut y, 1, 1)?)?;
/// assert!((y[0] - 0.0).abs() < 0.02); // 1 * 1.0 + 2 * -0.5
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn dynamic_quant_matmul(a: MatRef<'_>, b: &PackedQB, y: QMatMut<'_, f32>) -> Result<()> {
    qgemm_dynamic(
        a,
        DynamicQuant::PerTensor,
        b,
        QOutput::F32 {
            c: y,
            bias: None,
            activation: Activation::Identity,
        },
    )
}

/// ONNX `QLinearMatMul`: `y = saturate(round((a_scale * b_scale[j] / y_scale) * ((a - a_zp)(b - b_zp))) + y_zp)`
/// with the fp32 requantization of [`crate::epilogue`]; A per tensor, B per tensor or per
/// column (its packed parameters), Y per tensor, of type `u8` or `i8`.
///
/// ```
/// use wasmnn_quant::{onnx::qlinear_matmul, PackedQB, QMatMut, QMatRef, QuantParams};
/// let b = PackedQB::from_row_major(&[2i8, 3], 2, 1, QuantParams::symmetric(0.5))?;
/// let a = [10u8, 20];
/// let mut y = [0i8];
/// qlinear_matmul(QMatRef::row_major(&a, 1, 2)?, QuantParams::PerTensor { scale: 0.1, zero_point: 0 },
///     &b, QMatMut::row_major(&mut y, 1, 1)?, 0.2, -10)?;
/// assert_eq!(y, [10]); // 80 * 0.05 / 0.2 = 20, minus 10
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn qlinear_matmul<A: Q8, Y: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    y: QMatMut<'_, Y>,
    y_scale: f32,
    y_zero_point: i32,
) -> Result<()> {
    if !matches!(a_params, QuantParams::PerTensor { .. }) {
        return Err(Error::InvalidArgument {
            what: "a quantization",
            why: "QLinearMatMul takes per-tensor parameters for A",
        });
    }
    let bytes = y.into_bytes();
    let out = if Y::SIGNED {
        QOutput::I8 {
            c: bytes.into_i8(),
            bias: None,
            scale: y_scale,
            zero_point: y_zero_point,
        }
    } else {
        QOutput::U8 {
            c: bytes,
            bias: None,
            scale: y_scale,
            zero_point: y_zero_point,
        }
    };
    qgemm(a, a_params, b, out)
}

/// The scales ONNX multiplies by after `MatMulInteger` in the dynamic graph: `a_scale *
/// b_scale[j]` for each column (one value when B is per tensor). For a graph runner that keeps
/// the nodes separate.
pub fn output_scales(a_scale: f32, b: &PackedQB) -> Vec<f32> {
    b.scales().iter().map(|&s| a_scale * s).collect()
}
