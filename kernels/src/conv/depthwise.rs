//! Depthwise convolution (one filter per channel): one multiply-add per input value loaded, so it
//! is memory-bound and gets its own kernels instead of a GEMM.
//!
//! - NHWC: vectorised over channels, 16 channels (four independent accumulators) at a time.
//! - NCHW: vectorised over 4 adjacent output pixels of a row where the whole window is inside the
//!   input and the horizontal stride is 1; other pixels (borders, strided) go one at a time.
use super::{ConvEpilogue, Geometry, TensorLayout};
use crate::simd::F32x4;

/// The taps of output pixel `(oy, ox)` that land inside the input: `ky` and `kx` ranges.
#[inline(always)]
fn tap_ranges(
    g: &Geometry,
    oy: usize,
    ox: usize,
) -> (core::ops::Range<usize>, core::ops::Range<usize>) {
    let range = |o: usize, s: usize, d: usize, pad: usize, k: usize, size: usize| {
        // ky valid iff 0 <= o*s + ky*d - pad < size
        let base = o * s;
        let lo = if base >= pad {
            0
        } else {
            (pad - base).div_ceil(d)
        };
        let hi = if base + (k - 1) * d < pad + size {
            k
        } else {
            // largest ky with base + ky*d < pad + size, plus one
            (pad + size).saturating_sub(base).div_ceil(d).min(k)
        };
        lo.min(hi)..hi
    };
    (
        range(
            oy,
            g.p.stride_h,
            g.p.dilation_h,
            g.p.pad_top,
            g.p.kernel_h,
            g.h,
        ),
        range(
            ox,
            g.p.stride_w,
            g.p.dilation_w,
            g.p.pad_left,
            g.p.kernel_w,
            g.w,
        ),
    )
}

pub(crate) fn run(
    g: &Geometry,
    input: &[f32],
    w_hwc: &[f32],
    w_chw: &[f32],
    output: &mut [f32],
    epi: &ConvEpilogue<'_>,
) {
    match g.layout {
        TensorLayout::Nhwc => nhwc(g, input, w_hwc, output, epi),
        TensorLayout::Nchw => nchw(g, input, w_chw, output, epi),
    }
}

/// Loads `n <= 4` floats of `s` starting at `i` into lanes (zeros after).
#[inline(always)]
fn load_n(s: &[f32], i: usize, n: usize) -> F32x4 {
    if n == 4 {
        // SAFETY-free path: the slice index checks the bounds.
        let a: [f32; 4] = s[i..i + 4].try_into().unwrap_or([0.0; 4]);
        F32x4::from_array(a)
    } else {
        let mut a = [0.0f32; 4];
        a[..n].copy_from_slice(&s[i..i + n]);
        F32x4::from_array(a)
    }
}

#[inline(always)]
fn store_n(d: &mut [f32], i: usize, n: usize, v: F32x4) {
    let a = v.to_array();
    d[i..i + n].copy_from_slice(&a[..n]);
}

fn nhwc(g: &Geometry, input: &[f32], w: &[f32], output: &mut [f32], epi: &ConvEpilogue<'_>) {
    let c = g.c_in;
    let kw = g.p.kernel_w;
    for n in 0..g.batch {
        for oy in 0..g.ho {
            for ox in 0..g.wo {
                let (kys, kxs) = tap_ranges(g, oy, ox);
                let out_at = ((n * g.ho + oy) * g.wo + ox) * c;
                let mut c0 = 0;
                while c0 < c {
                    // Up to 4 vectors (16 channels) per pass; `lanes[v]` valid lanes in vector v.
                    let width = (c - c0).min(16);
                    let nv = width.div_ceil(4);
                    let lanes = |v: usize| (width - 4 * v).min(4);
                    let mut acc = [F32x4::zero(); 4];
                    if let Some(b) = epi.bias {
                        for (v, a) in acc.iter_mut().enumerate().take(nv) {
                            *a = load_n(b, c0 + 4 * v, lanes(v));
                        }
                    }
                    for ky in kys.clone() {
                        let iy = oy * g.p.stride_h + ky * g.p.dilation_h - g.p.pad_top;
                        for kx in kxs.clone() {
                            let ix = ox * g.p.stride_w + kx * g.p.dilation_w - g.p.pad_left;
                            let src = ((n * g.h + iy) * g.w + ix) * c + c0;
                            let wt = (ky * kw + kx) * c + c0;
                            for (v, a) in acc.iter_mut().enumerate().take(nv) {
                                let x = load_n(input, src + 4 * v, lanes(v));
                                *a = x.mul_add(load_n(w, wt + 4 * v, lanes(v)), *a);
                            }
                        }
                    }
                    for (v, a) in acc.iter().enumerate().take(nv) {
                        let mut y = epi.activation.apply(*a);
                        if let Some(r) = epi.residual {
                            y = y.add(load_n(r, out_at + c0 + 4 * v, lanes(v)));
                        }
                        store_n(output, out_at + c0 + 4 * v, lanes(v), y);
                    }
                    c0 += width;
                }
            }
        }
    }
}

fn nchw(g: &Geometry, input: &[f32], w: &[f32], output: &mut [f32], epi: &ConvEpilogue<'_>) {
    let (kh, kw) = (g.p.kernel_h, g.p.kernel_w);
    let full_x = |ox: usize| tap_ranges(g, 0, ox).1 == (0..kw);
    for n in 0..g.batch {
        for ch in 0..g.c_in {
            let plane = &input[(n * g.c_in + ch) * g.h * g.w..][..g.h * g.w];
            let taps = &w[ch * kh * kw..(ch + 1) * kh * kw];
            let out_base = (n * g.c_out + ch) * g.ho * g.wo;
            let bias = epi.bias.map_or(0.0, |b| b[ch]);
            for oy in 0..g.ho {
                let kys = tap_ranges(g, oy, 0).0;
                let row_out = out_base + oy * g.wo;
                let mut ox = 0;
                while ox < g.wo {
                    if g.p.stride_w == 1 && ox + 4 <= g.wo && full_x(ox) && full_x(ox + 3) {
                        // Four adjacent outputs whose windows are all inside the row.
                        let mut acc = F32x4::splat(bias);
                        for ky in kys.clone() {
                            let iy = oy * g.p.stride_h + ky * g.p.dilation_h - g.p.pad_top;
                            let row = &plane[iy * g.w..(iy + 1) * g.w];
                            for kx in 0..kw {
                                let ix = ox + kx * g.p.dilation_w - g.p.pad_left;
                                acc = load_n(row, ix, 4)
                                    .mul_add(F32x4::splat(taps[ky * kw + kx]), acc);
                            }
                        }
                        let mut y = epi.activation.apply(acc);
                        if let Some(r) = epi.residual {
                            y = y.add(load_n(r, row_out + ox, 4));
                        }
                        store_n(output, row_out + ox, 4, y);
                        ox += 4;
                    } else {
                        let kxs = tap_ranges(g, oy, ox).1;
                        let mut acc = bias;
                        for ky in kys.clone() {
                            let iy = oy * g.p.stride_h + ky * g.p.dilation_h - g.p.pad_top;
                            for kx in kxs.clone() {
                                let ix = ox * g.p.stride_w + kx * g.p.dilation_w - g.p.pad_left;
                                acc += plane[iy * g.w + ix] * taps[ky * kw + kx];
                            }
                        }
                        let mut y = epi.activation.apply_scalar(acc);
                        if let Some(r) = epi.residual {
                            y += r[row_out + ox];
                        }
                        output[row_out + ox] = y;
                        ox += 1;
                    }
                }
            }
        }
    }
}
