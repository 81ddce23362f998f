//! Max, average and global-average pooling with ONNX semantics (`pads`, `strides`, `dilations`
//! for max, `ceil_mode`, `count_include_pad`), over NCHW or NHWC.
use super::{Conv2dParams, TensorLayout};
use crate::error::{Error, Result};
use crate::simd::F32x4;

/// Which reduction a pooling window applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// Largest value in the window (NaN propagates); padding never wins.
    Max,
    /// Mean of the window. With `count_include_pad` the padding counts as zeros in the divisor
    /// (but only up to the declared pads, not the extra cells a `ceil_mode` window reaches).
    Average {
        /// ONNX `count_include_pad`.
        count_include_pad: bool,
    },
}

/// A pooling operator: kind, window geometry (`groups` is ignored) and rounding mode.
///
/// ```
/// use wasmnn_kernels::conv::{pool::{Pool2d, PoolKind}, Conv2dParams, TensorLayout};
/// let pool = Pool2d { kind: PoolKind::Max, window: Conv2dParams::new(2, 2).stride(2, 2), ceil_mode: false };
/// let x: Vec<f32> = (0..16).map(|v| v as f32).collect(); // 1x1x4x4
/// let mut y = [0.0; 4];
/// pool.run(&x, TensorLayout::Nchw, 1, 1, 4, 4, &mut y)?;
/// assert_eq!(y, [5.0, 7.0, 13.0, 15.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    /// Max or average.
    pub kind: PoolKind,
    /// Window size, strides, dilations and pads.
    pub window: Conv2dParams,
    /// Round the output size up (ONNX `ceil_mode = 1`).
    pub ceil_mode: bool,
}

impl Pool2d {
    /// Output `(height, width)` for an `h x w` input.
    pub fn output_size(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        let p = self.window;
        let (fh, fw) = p.groups(1).output_size(h, w)?; // validates and floors
        if !self.ceil_mode {
            return Ok((fh, fw));
        }
        let ceil = |floor: usize, x: usize, p0: usize, p1: usize, k: usize, d: usize, s: usize| {
            let span = (k - 1) * d + 1;
            let mut out = (x + p0 + p1 - span).div_ceil(s) + 1;
            // The last window must start inside the input or the leading padding.
            if (out - 1) * s >= x + p0 {
                out -= 1;
            }
            out.max(floor)
        };
        Ok((
            ceil(
                fh,
                h,
                p.pad_top,
                p.pad_bottom,
                p.kernel_h,
                p.dilation_h,
                p.stride_h,
            ),
            ceil(
                fw,
                w,
                p.pad_left,
                p.pad_right,
                p.kernel_w,
                p.dilation_w,
                p.stride_w,
            ),
        ))
    }

    /// Pools `batch x channels x h x w` input in `layout` into `output` (same layout).
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        input: &[f32],
        layout: TensorLayout,
        batch: usize,
        channels: usize,
        h: usize,
        w: usize,
        output: &mut [f32],
    ) -> Result<()> {
        if let PoolKind::Average { .. } = self.kind {
            if self.window.dilation_h != 1 || self.window.dilation_w != 1 {
                return Err(Error::InvalidArgument {
                    what: "dilation",
                    why: "average pooling has no dilation",
                });
            }
        }
        let (ho, wo) = self.output_size(h, w)?;
        check_len(
            "input length (batch * channels * h * w)",
            input.len(),
            &[batch, channels, h, w],
        )?;
        check_len(
            "output length (batch * channels * Ho * Wo)",
            output.len(),
            &[batch, channels, ho, wo],
        )?;
        let p = self.window;
        // Element strides (batch, channel, row, column) for each layout.
        let st = |hh: usize, ww: usize| match layout {
            TensorLayout::Nchw => (channels * hh * ww, hh * ww, ww, 1),
            TensorLayout::Nhwc => (hh * ww * channels, 1, ww * channels, channels),
        };
        if layout == TensorLayout::Nchw && self.kind == PoolKind::Max && h * w > 0 && ho * wo > 0 {
            max_nchw(input, output, batch * channels, (h, w), (ho, wo), &p);
            return Ok(());
        }
        let (ins, inc, iny, inx) = st(h, w);
        let (ons, onc, ony, onx) = st(ho, wo);
        for n in 0..batch {
            for oy in 0..ho {
                for ox in 0..wo {
                    let y0 = (oy * p.stride_h) as isize - p.pad_top as isize;
                    let x0 = (ox * p.stride_w) as isize - p.pad_left as isize;
                    // Divisor for count_include_pad: window clipped to the declared padding.
                    let clip = |start: isize, k: usize, d: usize, size: usize, pad_end: usize| {
                        let end =
                            (start + ((k - 1) * d) as isize + 1).min((size + pad_end) as isize);
                        (end - start).max(0) as usize
                    };
                    let padded_count = clip(y0, p.kernel_h, 1, h, p.pad_bottom)
                        * clip(x0, p.kernel_w, 1, w, p.pad_right);
                    let mut c = 0;
                    while c < channels {
                        // NHWC: 4 channels per vector; NCHW: one channel at a time.
                        let lanes = if inc == 1 { (channels - c).min(4) } else { 1 };
                        let mut acc = F32x4::splat(match self.kind {
                            PoolKind::Max => f32::NEG_INFINITY,
                            PoolKind::Average { .. } => 0.0,
                        });
                        let mut count = 0usize;
                        let mut nan = F32x4::zero();
                        for ky in 0..p.kernel_h {
                            let iy = y0 + (ky * p.dilation_h) as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kx in 0..p.kernel_w {
                                let ix = x0 + (kx * p.dilation_w) as isize;
                                if ix < 0 || ix >= w as isize {
                                    continue;
                                }
                                let at = n * ins + c * inc + iy as usize * iny + ix as usize * inx;
                                let mut a = [0.0f32; 4];
                                a[..lanes].copy_from_slice(&input[at..at + lanes]);
                                let v = F32x4::from_array(a);
                                acc = match self.kind {
                                    PoolKind::Max => {
                                        // NaNs are tracked in a separate mask: a max/select
                                        // chain can be rewritten by LLVM into relaxed_max in
                                        // the relaxed build, whose NaN handling is unspecified.
                                        nan = v.nan_mask_or(nan);
                                        v.max_or_self(acc)
                                    }
                                    PoolKind::Average { .. } => acc.add(v),
                                };
                                count += 1;
                            }
                        }
                        if self.kind == PoolKind::Max {
                            acc = nan.nan_if_mask(acc);
                        }
                        if let PoolKind::Average { count_include_pad } = self.kind {
                            let div = if count_include_pad {
                                padded_count
                            } else {
                                count
                            };
                            acc = acc.mul(F32x4::splat(if div == 0 {
                                0.0
                            } else {
                                1.0 / div as f32
                            }));
                        }
                        let at = n * ons + c * onc + oy * ony + ox * onx;
                        output[at..at + lanes].copy_from_slice(&acc.to_array()[..lanes]);
                        c += lanes;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Max pooling of `planes` NCHW planes. Four adjacent outputs at a time where their windows lie
/// inside the row at horizontal stride 1 or 2 (one load, or two and a shuffle, per tap); one
/// scalar output at a time elsewhere. The general loop in [`Pool2d::run`] moves each tap through
/// a stack copy and a vector register holding one channel in NCHW (the 2x2 MaxPool of
/// MobileNetV3 took a fifth of the model that way, and a tenth with scalar outputs, whose
/// data-dependent compare is a branch). Both paths take the same taps in the same order with
/// the same rule (`m = if v < m { m } else { v }`, NaN tracked aside), so the same bits.
fn max_nchw(
    input: &[f32],
    output: &mut [f32],
    planes: usize,
    (h, w): (usize, usize),
    (ho, wo): (usize, usize),
    p: &Conv2dParams,
) {
    // All-ones bits: what the vector path's NaN mask gives.
    let nan_out = f32::from_bits(u32::MAX);
    let inside = |o: usize, k: usize, s: usize, d: usize, pad: usize, size: usize| {
        (o * s + k * d).checked_sub(pad).filter(|&i| i < size)
    };
    let (sw, dw) = (p.stride_w, p.dilation_w);
    // Floats a four-output block reads from a row, from its first window's first column.
    let span = (p.kernel_w - 1) * dw + 4 * sw;
    for (x, y) in input
        .chunks_exact(h * w)
        .zip(output.chunks_exact_mut(ho * wo))
        .take(planes)
    {
        for (oy, y_row) in y.chunks_exact_mut(wo).enumerate() {
            let mut ox = 0;
            while ox < wo {
                // First input column of output ox's window, if it is inside the row.
                let first = (ox * sw).checked_sub(p.pad_left);
                if let Some(x0) = first.filter(|&x0| sw <= 2 && ox + 4 <= wo && x0 + span <= w) {
                    let mut m = F32x4::splat(f32::NEG_INFINITY);
                    let mut nan = F32x4::zero();
                    for ky in 0..p.kernel_h {
                        let Some(iy) = inside(oy, ky, p.stride_h, p.dilation_h, p.pad_top, h)
                        else {
                            continue;
                        };
                        let row = x[iy * w + x0..][..span].as_ptr();
                        for kx in 0..p.kernel_w {
                            // SAFETY: kx * dw + 4 * sw <= span, the slice length checked above.
                            let v = unsafe {
                                let t = row.add(kx * dw);
                                if sw == 1 {
                                    F32x4::load(t)
                                } else {
                                    F32x4::even_lanes(F32x4::load(t), F32x4::load(t.add(4)))
                                }
                            };
                            nan = v.nan_mask_or(nan);
                            m = v.max_or_self(m);
                        }
                    }
                    let r = nan.nan_if_mask(m).to_array();
                    y_row[ox..ox + 4].copy_from_slice(&r);
                    ox += 4;
                    continue;
                }
                let mut m = f32::NEG_INFINITY;
                let mut nan = false;
                for ky in 0..p.kernel_h {
                    let Some(iy) = inside(oy, ky, p.stride_h, p.dilation_h, p.pad_top, h) else {
                        continue;
                    };
                    let row = &x[iy * w..(iy + 1) * w];
                    for kx in 0..p.kernel_w {
                        let Some(ix) = inside(ox, kx, sw, dw, p.pad_left, w) else {
                            continue;
                        };
                        let v = row[ix];
                        nan |= v.is_nan();
                        m = if v < m { m } else { v };
                    }
                }
                y_row[ox] = if nan { nan_out } else { m };
                ox += 1;
            }
        }
    }
}

/// Mean over each channel's `h x w` plane: output `batch x channels` (i.e. `N x C x 1 x 1`).
///
/// ```
/// use wasmnn_kernels::conv::{pool::global_average_pool, TensorLayout};
/// let x = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0]; // 1x2x2x2 NCHW
/// let mut y = [0.0; 2];
/// global_average_pool(&x, TensorLayout::Nchw, 1, 2, 2, 2, &mut y)?;
/// assert_eq!(y, [2.5, 25.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn global_average_pool(
    input: &[f32],
    layout: TensorLayout,
    batch: usize,
    channels: usize,
    h: usize,
    w: usize,
    output: &mut [f32],
) -> Result<()> {
    check_len(
        "input length (batch * channels * h * w)",
        input.len(),
        &[batch, channels, h, w],
    )?;
    check_len(
        "output length (batch * channels)",
        output.len(),
        &[batch, channels],
    )?;
    let hw = h * w;
    let inv = if hw == 0 { 0.0 } else { 1.0 / hw as f32 };
    for n in 0..batch {
        let img = &input[n * channels * hw..(n + 1) * channels * hw];
        let out = &mut output[n * channels..(n + 1) * channels];
        match layout {
            TensorLayout::Nchw => {
                for (c, o) in out.iter_mut().enumerate() {
                    *o = sum(&img[c * hw..(c + 1) * hw]) * inv;
                }
            }
            TensorLayout::Nhwc => {
                out.fill(0.0);
                for px in img.chunks_exact(channels.max(1)) {
                    for (o, x) in out.iter_mut().zip(px) {
                        *o += x;
                    }
                }
                for o in out.iter_mut() {
                    *o *= inv;
                }
            }
        }
    }
    Ok(())
}

/// Sum with four vector accumulators (pairwise-ish, so error grows slowly with length).
fn sum(x: &[f32]) -> f32 {
    let mut acc = [F32x4::zero(); 4];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (v, a) in acc.iter_mut().enumerate() {
            *a = a.add(F32x4::from_array([
                c[4 * v],
                c[4 * v + 1],
                c[4 * v + 2],
                c[4 * v + 3],
            ]));
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    acc[0].add(acc[1]).add(acc[2].add(acc[3])).reduce_add() + tail
}

fn check_len(what: &'static str, found: usize, dims: &[usize]) -> Result<()> {
    let expected = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or(Error::Overflow { what })?;
    if found == expected {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what,
            expected,
            found,
        })
    }
}
