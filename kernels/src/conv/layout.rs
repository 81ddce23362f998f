//! NCHW <-> NHWC conversion: a batched transpose of `C x (H W)` planes, 4x4 SIMD blocks.
use super::TensorLayout;
use crate::error::{Error, Result};
use crate::simd::F32x4;

/// Converts a `batch x channels x h x w` tensor from layout `from` to `to` (a copy when equal).
///
/// ```
/// use wasmnn_kernels::conv::{layout::convert, TensorLayout};
/// let nchw = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 1 x 2 x 1 x 3
/// let mut nhwc = [0.0; 6];
/// convert(&nchw, TensorLayout::Nchw, &mut nhwc, TensorLayout::Nhwc, 1, 2, 1, 3)?;
/// assert_eq!(nhwc, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn convert(
    input: &[f32],
    from: TensorLayout,
    output: &mut [f32],
    to: TensorLayout,
    batch: usize,
    channels: usize,
    h: usize,
    w: usize,
) -> Result<()> {
    let len = [batch, channels, h, w]
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or(Error::Overflow { what: "tensor" })?;
    for (what, found) in [
        ("input length", input.len()),
        ("output length", output.len()),
    ] {
        if found != len {
            return Err(Error::ShapeMismatch {
                what,
                expected: len,
                found,
            });
        }
    }
    let hw = h * w;
    let (rows, cols) = match (from, to) {
        (TensorLayout::Nchw, TensorLayout::Nhwc) => (channels, hw),
        (TensorLayout::Nhwc, TensorLayout::Nchw) => (hw, channels),
        _ => {
            output.copy_from_slice(input);
            return Ok(());
        }
    };
    for n in 0..batch {
        let src = &input[n * len / batch.max(1)..][..rows * cols];
        let dst = &mut output[n * len / batch.max(1)..][..rows * cols];
        transpose(src, rows, cols, dst);
    }
    Ok(())
}

/// `dst (cols x rows) = src (rows x cols)^T`, both row-major.
fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    let (r4, c4) = (rows / 4 * 4, cols / 4 * 4);
    let load = |i: usize| F32x4::from_array([src[i], src[i + 1], src[i + 2], src[i + 3]]);
    for r in (0..r4).step_by(4) {
        for c in (0..c4).step_by(4) {
            let t = F32x4::transpose4([
                load(r * cols + c),
                load((r + 1) * cols + c),
                load((r + 2) * cols + c),
                load((r + 3) * cols + c),
            ]);
            for (j, v) in t.iter().enumerate() {
                dst[(c + j) * rows + r..][..4].copy_from_slice(&v.to_array());
            }
        }
    }
    for r in 0..rows {
        let c_start = if r < r4 { c4 } else { 0 };
        for c in c_start..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}
