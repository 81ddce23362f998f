//! 2-D convolution and pooling over NCHW or NHWC activations.
//!
//! [`Conv2d`] holds filters packed once (like [`crate::PackedB`]) and picks a method per shape:
//!
//! | case | method | why |
//! |---|---|---|
//! | 1x1, stride 1, no padding | GEMM reading the input in place | no copy at all: NHWC rows are pixels; NCHW is the same matrix with strides `(1, H*W)` |
//! | depthwise (`groups == C_in == C_out`) | [`depthwise`] kernel, SIMD over channels (NHWC) or pixels (NCHW) | one multiply-add per loaded value: memory-bound, a GEMM would waste its tile |
//! | everything else | im2col of a block of output pixels into scratch, then the packed GEMM | the copy is `K` floats per pixel against `2 K O_g` flops, a few percent for real layers; simpler than an indirection buffer and it keeps one microkernel |
//!
//! Bias, activation and a residual are fused into the GEMM epilogue. The output layout is the
//! input layout; NCHW output is written through column-major GEMM tiles (transposed stores).
mod depthwise;
mod im2col;
pub mod layout;
pub mod pool;

use crate::epilogue::{Activation, EpilogueOp};
use crate::error::{Error, Result};
use crate::gemm::{gemm_packed, PackedB};
use crate::matrix::{MatMut, MatRef};
use alloc::vec::Vec;

/// Memory order of a 4-D activation tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorLayout {
    /// `[batch][channel][row][column]` (ONNX, PyTorch).
    Nchw,
    /// `[batch][row][column][channel]` (TensorFlow, XNNPACK).
    Nhwc,
}

/// Geometry of a 2-D convolution or pooling window.
///
/// ```
/// use wasmnn_kernels::conv::Conv2dParams;
/// let p = Conv2dParams::new(3, 3).stride(2, 2).padding(1, 1, 1, 1);
/// assert_eq!(p.output_size(224, 224).unwrap(), (112, 112));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// Window height.
    pub kernel_h: usize,
    /// Window width.
    pub kernel_w: usize,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Vertical dilation.
    pub dilation_h: usize,
    /// Horizontal dilation.
    pub dilation_w: usize,
    /// Zero rows added above.
    pub pad_top: usize,
    /// Zero columns added on the left.
    pub pad_left: usize,
    /// Zero rows added below.
    pub pad_bottom: usize,
    /// Zero columns added on the right.
    pub pad_right: usize,
    /// Channel groups (1 = dense, C = depthwise).
    pub groups: usize,
}

impl Conv2dParams {
    /// A `kernel_h x kernel_w` window, stride 1, dilation 1, no padding, one group.
    pub fn new(kernel_h: usize, kernel_w: usize) -> Self {
        Self {
            kernel_h,
            kernel_w,
            stride_h: 1,
            stride_w: 1,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: 0,
            pad_left: 0,
            pad_bottom: 0,
            pad_right: 0,
            groups: 1,
        }
    }
    /// Sets the strides.
    pub fn stride(mut self, h: usize, w: usize) -> Self {
        (self.stride_h, self.stride_w) = (h, w);
        self
    }
    /// Sets the dilations.
    pub fn dilation(mut self, h: usize, w: usize) -> Self {
        (self.dilation_h, self.dilation_w) = (h, w);
        self
    }
    /// Sets the padding (top, left, bottom, right), ONNX `pads` order `[t, l, b, r]`.
    pub fn padding(mut self, top: usize, left: usize, bottom: usize, right: usize) -> Self {
        (self.pad_top, self.pad_left, self.pad_bottom, self.pad_right) = (top, left, bottom, right);
        self
    }
    /// Sets the number of groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }

    fn validate(&self) -> Result<()> {
        let all = [
            (self.kernel_h, "kernel_h"),
            (self.kernel_w, "kernel_w"),
            (self.stride_h, "stride_h"),
            (self.stride_w, "stride_w"),
            (self.dilation_h, "dilation_h"),
            (self.dilation_w, "dilation_w"),
            (self.groups, "groups"),
        ];
        for (v, what) in all {
            if v == 0 {
                return Err(Error::InvalidArgument {
                    what,
                    why: "must be at least 1",
                });
            }
        }
        Ok(())
    }

    /// Output `(height, width)` for an `h x w` input (floor rounding, as ONNX Conv).
    pub fn output_size(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        self.validate()?;
        let dim = |x: usize, p0: usize, p1: usize, k: usize, d: usize, s: usize| -> Result<usize> {
            let padded = x.checked_add(p0).and_then(|v| v.checked_add(p1));
            let span = (k - 1).checked_mul(d).and_then(|v| v.checked_add(1));
            match (padded, span) {
                (Some(p), Some(sp)) if p >= sp => Ok((p - sp) / s + 1),
                (Some(_), Some(_)) => Err(Error::InvalidArgument {
                    what: "kernel",
                    why: "the dilated window is larger than the padded input",
                }),
                _ => Err(Error::Overflow {
                    what: "conv geometry",
                }),
            }
        };
        Ok((
            dim(
                h,
                self.pad_top,
                self.pad_bottom,
                self.kernel_h,
                self.dilation_h,
                self.stride_h,
            )?,
            dim(
                w,
                self.pad_left,
                self.pad_right,
                self.kernel_w,
                self.dilation_w,
                self.stride_w,
            )?,
        ))
    }

    fn is_pointwise(&self) -> bool {
        self.kernel_h == 1
            && self.kernel_w == 1
            && self.stride_h == 1
            && self.stride_w == 1
            && self.pad_top + self.pad_left + self.pad_bottom + self.pad_right == 0
    }
}

/// What a convolution does to its output before storing it, in this order:
/// `y = act(conv + bias) + residual`.
#[derive(Clone, Copy, Debug)]
pub struct ConvEpilogue<'a> {
    /// Per-output-channel bias (length `C_out`).
    pub bias: Option<&'a [f32]>,
    /// Activation after the bias.
    pub activation: Activation,
    /// A tensor of the output's shape and layout added last (a residual connection).
    pub residual: Option<&'a [f32]>,
}

impl Default for ConvEpilogue<'_> {
    fn default() -> Self {
        Self {
            bias: None,
            activation: Activation::Identity,
            residual: None,
        }
    }
}

/// Reusable scratch memory for [`Conv2d::run_with`]: after the first call with a given shape,
/// further calls allocate nothing.
#[derive(Default, Debug)]
pub struct ConvScratch {
    cols: Vec<f32>,
}

#[derive(Clone, Debug)]
enum Method {
    /// One packed `(kh kw C_g) x O_g` matrix per group, K ordered `(ky, kx, c)`.
    Gemm(Vec<PackedB>),
    /// Weights as `[ky][kx][c]` (channels fastest), for the NHWC kernel; and `[c][ky][kx]`.
    Depthwise { hwc: Vec<f32>, chw: Vec<f32> },
}

/// A 2-D convolution with packed filters.
///
/// ```
/// use wasmnn_kernels::conv::{Conv2d, Conv2dParams, ConvEpilogue, TensorLayout};
/// // 1 input channel, 1 output channel, 3x3 box filter, padding 1.
/// let conv = Conv2d::new(&[1.0; 9], 1, 1, Conv2dParams::new(3, 3).padding(1, 1, 1, 1))?;
/// let x = [1.0f32; 16]; // 1x1x4x4
/// let mut y = [0.0f32; 16];
/// conv.run(&x, TensorLayout::Nchw, 1, 4, 4, &mut y, &ConvEpilogue::default())?;
/// assert_eq!(&y[..4], &[4.0, 6.0, 6.0, 4.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Conv2d {
    params: Conv2dParams,
    c_in: usize,
    c_out: usize,
    method: Method,
}

impl Conv2d {
    /// Packs ONNX-layout filters `weights[c_out][c_in / groups][kernel_h][kernel_w]`.
    pub fn new(weights: &[f32], c_out: usize, c_in: usize, params: Conv2dParams) -> Result<Self> {
        params.validate()?;
        let g = params.groups;
        if c_in % g != 0 || c_out % g != 0 || c_in == 0 || c_out == 0 {
            return Err(Error::InvalidArgument {
                what: "groups",
                why: "c_in and c_out must be positive multiples of groups",
            });
        }
        let (cg, og) = (c_in / g, c_out / g);
        let taps = params
            .kernel_h
            .checked_mul(params.kernel_w)
            .ok_or(Error::Overflow { what: "kernel" })?;
        let k = taps
            .checked_mul(cg)
            .ok_or(Error::Overflow { what: "kernel" })?;
        let expected = k
            .checked_mul(c_out)
            .ok_or(Error::Overflow { what: "weights" })?;
        if weights.len() != expected {
            return Err(Error::ShapeMismatch {
                what: "weights length (c_out * c_in/groups * kh * kw)",
                expected,
                found: weights.len(),
            });
        }
        let method = if cg == 1 && og == 1 {
            // weights[c][0][ky][kx]
            let mut hwc = alloc::vec![0.0; expected];
            for c in 0..c_out {
                for t in 0..taps {
                    hwc[t * c_out + c] = weights[c * taps + t];
                }
            }
            Method::Depthwise {
                hwc,
                chw: weights.to_vec(),
            }
        } else {
            let mut packs = Vec::with_capacity(g);
            let mut b = alloc::vec![0.0f32; k * og];
            for gi in 0..g {
                // B[(ky*kw + kx)*cg + c][o] = W[gi*og + o][c][ky][kx]
                for o in 0..og {
                    let w = &weights[(gi * og + o) * k..(gi * og + o + 1) * k];
                    for c in 0..cg {
                        for t in 0..taps {
                            b[(t * cg + c) * og + o] = w[c * taps + t];
                        }
                    }
                }
                packs.push(PackedB::new(MatRef::row_major(&b, k, og)?)?);
            }
            Method::Gemm(packs)
        };
        Ok(Self {
            params,
            c_in,
            c_out,
            method,
        })
    }

    /// The geometry.
    pub fn params(&self) -> &Conv2dParams {
        &self.params
    }
    /// Input channels.
    pub fn c_in(&self) -> usize {
        self.c_in
    }
    /// Output channels.
    pub fn c_out(&self) -> usize {
        self.c_out
    }

    #[allow(clippy::too_many_arguments)]
    /// Runs the convolution on `batch x c_in x h x w` input in `layout`, writing the output in the
    /// same layout (`batch x c_out x Ho x Wo`, see [`Conv2dParams::output_size`]).
    pub fn run(
        &self,
        input: &[f32],
        layout: TensorLayout,
        batch: usize,
        h: usize,
        w: usize,
        output: &mut [f32],
        epilogue: &ConvEpilogue<'_>,
    ) -> Result<()> {
        self.run_with(
            &mut ConvScratch::default(),
            input,
            layout,
            batch,
            h,
            w,
            output,
            epilogue,
        )
    }

    /// [`Conv2d::run`] with reusable scratch memory.
    #[allow(clippy::too_many_arguments)]
    pub fn run_with(
        &self,
        scratch: &mut ConvScratch,
        input: &[f32],
        layout: TensorLayout,
        batch: usize,
        h: usize,
        w: usize,
        output: &mut [f32],
        epilogue: &ConvEpilogue<'_>,
    ) -> Result<()> {
        let (ho, wo) = self.params.output_size(h, w)?;
        let len = |c: usize, a: usize, b: usize, what| {
            batch
                .checked_mul(c)
                .and_then(|v| v.checked_mul(a))
                .and_then(|v| v.checked_mul(b))
                .ok_or(Error::Overflow { what })
        };
        let in_len = len(self.c_in, h, w, "input")?;
        let out_len = len(self.c_out, ho, wo, "output")?;
        exact_len("input length (batch * c_in * h * w)", input.len(), in_len)?;
        exact_len(
            "output length (batch * c_out * Ho * Wo)",
            output.len(),
            out_len,
        )?;
        if let Some(b) = epilogue.bias {
            exact_len("bias length (= c_out)", b.len(), self.c_out)?;
        }
        if let Some(r) = epilogue.residual {
            exact_len("residual length (= output length)", r.len(), out_len)?;
        }
        epilogue.activation.validate()?;
        let geo = Geometry {
            batch,
            h,
            w,
            ho,
            wo,
            c_in: self.c_in,
            c_out: self.c_out,
            layout,
            p: self.params,
        };
        match &self.method {
            Method::Depthwise { hwc, chw } => {
                depthwise::run(&geo, input, hwc, chw, output, epilogue);
                Ok(())
            }
            Method::Gemm(packs) => self.run_gemm(&geo, packs, scratch, input, output, epilogue),
        }
    }

    fn run_gemm(
        &self,
        geo: &Geometry,
        packs: &[PackedB],
        scratch: &mut ConvScratch,
        input: &[f32],
        output: &mut [f32],
        epi: &ConvEpilogue<'_>,
    ) -> Result<()> {
        let g = self.params.groups;
        let (cg, og) = (self.c_in / g, self.c_out / g);
        let (hw, howo) = (geo.h * geo.w, geo.ho * geo.wo);
        let k = packs[0].k();
        let pointwise = self.params.is_pointwise();
        // Pixels per im2col block: ~128 KiB of scratch (L2), a multiple of the 4-row tile.
        let block = if pointwise {
            howo.max(1)
        } else {
            (32 * 1024 / k.max(1)).clamp(16, 1024) / 4 * 4
        };
        if !pointwise {
            scratch.cols.resize(block * k, 0.0);
        }
        for n in 0..geo.batch {
            for (gi, pack) in packs.iter().enumerate() {
                let mut p0 = 0;
                while p0 < howo {
                    let rows = block.min(howo - p0);
                    // Output (and residual) block as a rows x og matrix.
                    let (off, rs, cs) = match geo.layout {
                        TensorLayout::Nhwc => {
                            ((n * howo + p0) * self.c_out + gi * og, self.c_out, 1)
                        }
                        TensorLayout::Nchw => ((n * self.c_out + gi * og) * howo + p0, 1, howo),
                    };
                    let a = if pointwise {
                        match geo.layout {
                            TensorLayout::Nhwc => MatRef::new(
                                &input[(n * hw + p0) * self.c_in + gi * cg..],
                                rows,
                                cg,
                                self.c_in,
                                1,
                            )?,
                            TensorLayout::Nchw => MatRef::new(
                                &input[(n * self.c_in + gi * cg) * hw + p0..],
                                rows,
                                cg,
                                1,
                                hw,
                            )?,
                        }
                    } else {
                        let cols = &mut scratch.cols[..rows * k];
                        im2col::fill(geo, input, n, gi * cg, cg, p0, rows, cols);
                        MatRef::row_major(cols, rows, k)?
                    };
                    let bias = epi.bias.map(|b| &b[gi * og..(gi + 1) * og]);
                    let res = match epi.residual {
                        Some(r) => Some(MatRef::new(&r[off..], rows, og, rs, cs)?),
                        None => None,
                    };
                    let mut ops: [EpilogueOp<'_>; 3] =
                        [EpilogueOp::Activation(Activation::Identity); 3];
                    let mut nops = 0;
                    if let Some(b) = bias {
                        ops[nops] = EpilogueOp::AddColBias(b);
                        nops += 1;
                    }
                    if epi.activation != Activation::Identity {
                        ops[nops] = EpilogueOp::Activation(epi.activation);
                        nops += 1;
                    }
                    if let Some(r) = res {
                        ops[nops] = EpilogueOp::AddMatrix(r);
                        nops += 1;
                    }
                    let c = MatMut::new(&mut output[off..], rows, og, rs, cs)?;
                    gemm_packed(1.0, a, pack, 0.0, c, &ops[..nops])?;
                    p0 += rows;
                }
            }
        }
        Ok(())
    }
}

fn exact_len(what: &'static str, found: usize, expected: usize) -> Result<()> {
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

/// Validated shapes of one convolution call.
pub(crate) struct Geometry {
    pub batch: usize,
    pub h: usize,
    pub w: usize,
    pub ho: usize,
    pub wo: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub layout: TensorLayout,
    pub p: Conv2dParams,
}

impl Geometry {
    /// Input row of output row `oy` at tap `ky`, or `None` in the padding.
    #[inline(always)]
    pub fn in_y(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.p.stride_h + ky * self.p.dilation_h)
            .checked_sub(self.p.pad_top)
            .filter(|&y| y < self.h)
    }
    /// Input column of output column `ox` at tap `kx`, or `None` in the padding.
    #[inline(always)]
    pub fn in_x(&self, ox: usize, kx: usize) -> Option<usize> {
        (ox * self.p.stride_w + kx * self.p.dilation_w)
            .checked_sub(self.p.pad_left)
            .filter(|&x| x < self.w)
    }
}
