//! im2col: one row per output pixel, holding the input values under the window in
//! `(ky, kx, c)` order (channels fastest), zeros where the window hangs over the padding.
use super::{Geometry, TensorLayout};

/// Fills `cols` (`rows x kh*kw*cg`, row-major) for output pixels `p0 .. p0 + rows` of image `n`,
/// channels `c0 .. c0 + cg`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fill(
    g: &Geometry,
    input: &[f32],
    n: usize,
    c0: usize,
    cg: usize,
    p0: usize,
    rows: usize,
    cols: &mut [f32],
) {
    let (kh, kw) = (g.p.kernel_h, g.p.kernel_w);
    let k = kh * kw * cg;
    for (r, row) in cols.chunks_exact_mut(k).take(rows).enumerate() {
        let (oy, ox) = ((p0 + r) / g.wo, (p0 + r) % g.wo);
        for ky in 0..kh {
            let iy = g.in_y(oy, ky);
            for kx in 0..kw {
                let dst = &mut row[(ky * kw + kx) * cg..(ky * kw + kx + 1) * cg];
                let (Some(iy), Some(ix)) = (iy, g.in_x(ox, kx)) else {
                    dst.fill(0.0);
                    continue;
                };
                match g.layout {
                    TensorLayout::Nhwc => {
                        let s = ((n * g.h + iy) * g.w + ix) * g.c_in + c0;
                        dst.copy_from_slice(&input[s..s + cg]);
                    }
                    TensorLayout::Nchw => {
                        let plane = g.h * g.w;
                        let s = (n * g.c_in + c0) * plane + iy * g.w + ix;
                        for (c, d) in dst.iter_mut().enumerate() {
                            *d = input[s + c * plane];
                        }
                    }
                }
            }
        }
    }
}
