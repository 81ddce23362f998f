//! 2-D convolution and pooling over NCHW or NHWC activations.
//!
//! [`Conv2d`] holds filters packed once (like [`crate::PackedB`]) and picks a method per shape:
//!
//! | case | method | why |
//! |---|---|---|
//! | 1x1, stride 1, no padding | GEMM reading the input in place | no copy at all: NHWC rows are pixels; NCHW is the same matrix with strides `(1, H*W)` |
//! | depthwise (`groups == C_in == C_out`) | `depthwise.rs` kernel, SIMD over channels (NHWC) or pixels (NCHW) | one multiply-add per loaded value: memory-bound, a GEMM would waste its tile |
//! | 3x3, stride 1, groups 1, 8 (NHWC: 16) to 512 input channels, output at least 8 wide | `winograd.rs`, F(2x2, 3x3): 16 GEMMs in the transform domain through the GEMM's microkernel | 16 multiply-adds per 2x2 tile and channel instead of 36; against im2col in Node, 64x56x56 took 0.65x the time, 256x14x14 0.64x (Chromium 64x56x56: 1.37x ORT-web before, 2.10-2.28x after); below 8 channels the transforms cost more than they save |
//! | everything else | the packed GEMM, its A strips gathered straight from the input (an implicit im2col, `im2col.rs`) | one copy of `K` floats per pixel against `2 K O_g` flops and no scratch memory; an im2col matrix packed afterwards cost two copies (64x56x56 k3: 6.4 -> 4.9 ms in Node), and it keeps one microkernel, which an indirection buffer would not |
//!
//! Bias, activation and a residual are fused into the GEMM epilogue. The output layout is the
//! input layout; NCHW output is written through column-major GEMM tiles (transposed stores).
//!
//! Threads ([`Conv2d::run_par`]): the (image, group, pixel block) GEMMs, the rows of Winograd
//! tiles and the depthwise output rows are independent tasks, run through a caller-supplied
//! [`ParallelFor`]; the 1x1 GEMM is tiled in 2-D by [`crate::gemm_packed_par`]. Blocks never
//! depend on the thread count, so the result is bit-identical for any number of threads.
mod depthwise;
mod gather;
mod im2col;
pub mod layout;
pub mod pool;
mod winograd;

use crate::epilogue::{Activation, EpilogueOp};
use crate::error::{Error, Result};
use crate::gemm::{
    gemm_packed_par, gemm_packer_raw, pack_rows, packer_strip, Blocking, PackedB, ParallelFor,
    Strided, CACHE_LINE_FLOATS, MAX_PACKER_KC,
};
use crate::matrix::{MatMut, MatRef};
use crate::par::task_count;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

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

/// Output pixels per task of the GEMM method for a K block of depth `kc`: whole blocks of rows
/// the driver packs at once (a partial one would reload B's panels for a few rows), at least
/// 64, so that a 56x56 layer makes dozens of tasks and two threads end within a few percent of
/// each other (13 tasks of 256 pixels capped 2 threads at 1.86x), and a multiple of 16: in an
/// NCHW output a block is a run of pixels in every channel plane, and blocks that start on
/// 64-byte boundaries never share a cache line with the task next door (84-pixel blocks did,
/// in all 64 planes, and the lines ping-ponged between the cores).
fn pixel_block(kc: usize) -> usize {
    let rows = pack_rows(kc).clamp(packer_strip(kc), mc_rows(kc));
    // rows is a multiple of GEMM_MR (4 or 6): a few more steps reach a multiple of 16.
    let mut block = rows * 64usize.div_ceil(rows);
    while block % CACHE_LINE_FLOATS != 0 {
        block += rows;
    }
    block
}

/// The rows of an M block of the GEMM driver for a packer with K blocks of depth `kc`: the
/// default MC rounded up to whole strips.
fn mc_rows(kc: usize) -> usize {
    let strip = packer_strip(kc);
    Blocking::default().mc.div_ceil(strip) * strip
}

/// Runs the tasks one after the other on the calling thread (the single-threaded `par`).
fn sequential(count: usize, task: &(dyn Fn(usize) + Sync)) {
    (0..count).for_each(task);
}

/// A buffer shared by the tasks of one call. Each task touches only its own part (an output
/// block, a scratch slot) through the raw pointer, never through overlapping references.
struct Disjoint(*mut f32);

impl Disjoint {
    /// The address of element `i` (dereferenced only by the task owning that element).
    fn at(&self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

// SAFETY: tasks write disjoint elements (see the users), and the buffer's exclusive borrow
// outlives them all: `par` returns only when every task is done.
unsafe impl Send for Disjoint {}
unsafe impl Sync for Disjoint {}

/// How a [`Conv2d`] call computes its output: chosen per call from the layer, the layout and
/// the output width (see the module docs for the rules and the measurements behind them), and
/// reported by [`Conv2d::method`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvMethod {
    /// 1x1, stride 1, no padding: the GEMM reads the input in place.
    Pointwise,
    /// One filter per channel (`groups == c_in == c_out`): the depthwise kernels.
    Depthwise,
    /// 3x3, stride 1: Winograd F(2x2, 3x3).
    Winograd,
    /// Everything else: the packed GEMM with an implicit im2col.
    Im2col,
}

impl ConvMethod {
    /// The lower-case name (`"pointwise"`, `"depthwise"`, `"winograd"`, `"im2col"`).
    ///
    /// ```
    /// assert_eq!(wasmnn_kernels::conv::ConvMethod::Winograd.name(), "winograd");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            ConvMethod::Pointwise => "pointwise",
            ConvMethod::Depthwise => "depthwise",
            ConvMethod::Winograd => "winograd",
            ConvMethod::Im2col => "im2col",
        }
    }
}

#[derive(Clone, Debug)]
enum Method {
    /// One packed `(kh kw C_g) x O_g` matrix per group, K ordered `(ky, kx, c)`; and for
    /// 3x3 stride-1 layers, the Winograd filters the NCHW calls use.
    Gemm {
        packs: Vec<PackedB>,
        winograd: Option<winograd::WinogradFilters>,
    },
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
    ///
    /// Layers that can take Winograd (3x3, stride 1, groups 1, 8 to 512 input channels) keep
    /// their filters twice: packed for im2col (narrow outputs, NHWC below 16 channels) and
    /// transformed for Winograd, 16/9 of their size; 25/9 of the filters' size in all.
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
                // K blocks of at most MAX_PACKER_KC: the implicit im2col packs A per K block.
                packs.push(PackedB::with_kc(
                    MatRef::row_major(&b, k, og)?,
                    MAX_PACKER_KC,
                )?);
            }
            let winograd = winograd::WinogradFilters::applies(&params, c_in)
                .then(|| winograd::WinogradFilters::new(weights, c_out, c_in));
            Method::Gemm { packs, winograd }
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

    /// The method a call on `h x w` input in `layout` runs.
    ///
    /// ```
    /// use wasmnn_kernels::conv::{Conv2d, Conv2dParams, ConvMethod, TensorLayout};
    /// let conv = Conv2d::new(&[0.5; 16 * 16 * 9], 16, 16, Conv2dParams::new(3, 3).padding(1, 1, 1, 1))?;
    /// assert_eq!(conv.method(TensorLayout::Nchw, 32, 32)?, ConvMethod::Winograd);
    /// // Outputs narrower than 8 pixels take im2col.
    /// assert_eq!(conv.method(TensorLayout::Nchw, 6, 6)?, ConvMethod::Im2col);
    /// # Ok::<(), wasmnn_kernels::Error>(())
    /// ```
    pub fn method(&self, layout: TensorLayout, h: usize, w: usize) -> Result<ConvMethod> {
        let (_, wo) = self.params.output_size(h, w)?;
        Ok(self.method_for(layout, wo))
    }

    /// [`Conv2d::method`] for an output `wo` wide: the one place the choice is made.
    fn method_for(&self, layout: TensorLayout, wo: usize) -> ConvMethod {
        match &self.method {
            Method::Depthwise { .. } => ConvMethod::Depthwise,
            Method::Gemm {
                winograd: Some(f), ..
            } if f.takes(layout, wo) => ConvMethod::Winograd,
            Method::Gemm { .. } if self.params.is_pointwise() => ConvMethod::Pointwise,
            Method::Gemm { .. } => ConvMethod::Im2col,
        }
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
        self.run_par(input, layout, batch, h, w, output, epilogue, 1, &sequential)
    }

    /// [`Conv2d::run`] split into tasks for `threads` threads, run through `par`; bit-identical
    /// to [`Conv2d::run`] for any `threads` and any `par`.
    ///
    /// ```
    /// use wasmnn_kernels::conv::{Conv2d, Conv2dParams, ConvEpilogue, TensorLayout};
    /// let (c, o, h, w) = (16, 32, 20, 20);
    /// let wt: Vec<f32> = (0..o * c * 9).map(|i| (i % 5) as f32 - 2.0).collect();
    /// let conv = Conv2d::new(&wt, o, c, Conv2dParams::new(3, 3).padding(1, 1, 1, 1))?;
    /// let x: Vec<f32> = (0..c * h * w).map(|i| (i % 3) as f32).collect();
    /// let (mut y1, mut y4) = (vec![0.0; o * h * w], vec![0.0; o * h * w]);
    /// let epi = ConvEpilogue::default();
    /// conv.run(&x, TensorLayout::Nchw, 1, h, w, &mut y1, &epi)?;
    /// // Any "parallel for" works; this one runs the tasks backwards on one thread.
    /// let par = |n: usize, task: &(dyn Fn(usize) + Sync)| (0..n).rev().for_each(task);
    /// conv.run_par(&x, TensorLayout::Nchw, 1, h, w, &mut y4, &epi, 4, &par)?;
    /// assert_eq!(y1, y4);
    /// # Ok::<(), wasmnn_kernels::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn run_par(
        &self,
        input: &[f32],
        layout: TensorLayout,
        batch: usize,
        h: usize,
        w: usize,
        output: &mut [f32],
        epilogue: &ConvEpilogue<'_>,
        threads: usize,
        par: ParallelFor<'_>,
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
        match (&self.method, self.method_for(layout, wo)) {
            (Method::Depthwise { hwc, chw }, _) => {
                run_depthwise(&geo, hwc, chw, input, output, epilogue, threads, par);
                Ok(())
            }
            (
                Method::Gemm {
                    winograd: Some(f), ..
                },
                ConvMethod::Winograd,
            ) => {
                run_winograd(&geo, f, input, output, epilogue, threads, par);
                Ok(())
            }
            // Pointwise or im2col: run_gemm tells them apart.
            (Method::Gemm { packs, .. }, _) => {
                self.run_gemm(&geo, packs, input, output, epilogue, threads, par)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_gemm(
        &self,
        geo: &Geometry,
        packs: &[PackedB],
        input: &[f32],
        output: &mut [f32],
        epi: &ConvEpilogue<'_>,
        threads: usize,
        par: ParallelFor<'_>,
    ) -> Result<()> {
        let g = self.params.groups;
        let (cg, og) = (self.c_in / g, self.c_out / g);
        let (hw, howo) = (geo.h * geo.w, geo.ho * geo.wo);
        let k = packs[0].k();
        if self.params.is_pointwise() {
            // The input is already the A matrix: one GEMM per (image, group) over all its
            // pixels, tiled in 2-D across the threads.
            for n in 0..geo.batch {
                for (gi, pack) in packs.iter().enumerate() {
                    let (off, rs, cs) = out_block(geo, og, n, gi, 0);
                    let a = match geo.layout {
                        TensorLayout::Nhwc => MatRef::new(
                            &input[n * hw * self.c_in + gi * cg..],
                            howo,
                            cg,
                            self.c_in,
                            1,
                        )?,
                        TensorLayout::Nchw => {
                            MatRef::new(&input[(n * self.c_in + gi * cg) * hw..], howo, cg, 1, hw)?
                        }
                    };
                    let mut ops = [EpilogueOp::Activation(Activation::Identity); 3];
                    let ops = epilogue_ops(epi, gi, og, off, howo, rs, cs, &mut ops)?;
                    let c = MatMut::new(&mut output[off..], howo, og, rs, cs)?;
                    gemm_packed_par(1.0, a, pack, 0.0, c, ops, threads, par)?;
                }
            }
            return Ok(());
        }
        // Tasks: (image, group, block of `pixel_block` output pixels). Each packs its own A
        // strips straight from the input (implicit im2col), so they share nothing but B; the
        // blocks never depend on the thread count (bit-identical results).
        let block = pixel_block(packs[0].kc().min(packs[0].k()));
        let blocks = howo.div_ceil(block);
        // At most batch * c_out * howo (the validated output length): no overflow.
        let tasks = geo.batch * g * blocks;
        let chunks = task_count(threads, tasks, output.len().saturating_mul(k));
        let out = Disjoint(output.as_mut_ptr());
        let per = tasks.div_ceil(chunks);
        let failed = AtomicBool::new(false);
        let run_chunk = |c: usize| {
            for t in c * per..((c + 1) * per).min(tasks) {
                // SAFETY: `out` is the validated output of `geo`; task t writes only the
                // elements of its own (image, group, pixel block), which no other task writes.
                if unsafe { self.gemm_block(geo, packs, input, &out, epi, t) }.is_err() {
                    failed.store(true, Ordering::Relaxed);
                    break;
                }
            }
        };
        if chunks == 1 {
            run_chunk(0);
        } else {
            par(chunks, &run_chunk);
        }
        if failed.load(Ordering::Relaxed) {
            // Unreachable: every block view lies inside the validated tensors.
            return Err(Error::InvalidArgument {
                what: "conv block",
                why: "a block view fell outside the validated tensors",
            });
        }
        Ok(())
    }

    /// Task `t` of the GEMM method (tasks ordered by image, group, pixel block): one GEMM of
    /// the block's output pixels, A packed from the input on the fly, epilogue fused.
    ///
    /// # Safety
    /// `out` points to an output tensor of `geo`'s validated length, and no one else reads or
    /// writes the elements of block `t` during the call.
    unsafe fn gemm_block(
        &self,
        geo: &Geometry,
        packs: &[PackedB],
        input: &[f32],
        out: &Disjoint,
        epi: &ConvEpilogue<'_>,
        t: usize,
    ) -> Result<()> {
        let g = self.params.groups;
        let (cg, og) = (self.c_in / g, self.c_out / g);
        let howo = geo.ho * geo.wo;
        let block = pixel_block(packs[0].kc().min(packs[0].k()));
        let blocks = howo.div_ceil(block);
        let (n, gi, p0) = (t / (g * blocks), t / blocks % g, t % blocks * block);
        let rows = p0..(p0 + block).min(howo);
        // The whole (image, group) output as C; this task computes its `rows`.
        let (off, rs, cs) = out_block(geo, og, n, gi, 0);
        let mut ops = [EpilogueOp::Activation(Activation::Identity); 3];
        let ops = epilogue_ops(epi, gi, og, off, howo, rs, cs, &mut ops)?;
        let c = Strided {
            ptr: out.at(off),
            rs,
            cs,
        };
        let a = im2col::Im2col {
            geo,
            input,
            n,
            c0: gi * cg,
            cg,
        };
        // SAFETY: the howo x og matrix at `off` with strides (rs, cs) lies inside the output:
        // pixels 0 .. howo and channels gi * og .. (gi + 1) * og of image n. `a` packs inside the
        // validated input. Exclusive access to `rows`: the caller's contract.
        unsafe { gemm_packer_raw(howo, &a, &packs[gi], c, ops, rows) }
    }
}

/// Output offset and (row, column) strides of the `pixels x og` block of image `n`, group `gi`,
/// starting at pixel `p0`: rows are pixels, columns the group's output channels.
fn out_block(geo: &Geometry, og: usize, n: usize, gi: usize, p0: usize) -> (usize, usize, usize) {
    let howo = geo.ho * geo.wo;
    match geo.layout {
        TensorLayout::Nhwc => ((n * howo + p0) * geo.c_out + gi * og, geo.c_out, 1),
        TensorLayout::Nchw => ((n * geo.c_out + gi * og) * howo + p0, 1, howo),
    }
}

/// The GEMM epilogue of group `gi`'s output block (`rows x og` at `off`, strides `rs`, `cs`):
/// `[bias] [activation] [residual]`, built in `list`.
#[allow(clippy::too_many_arguments)]
fn epilogue_ops<'a>(
    epi: &ConvEpilogue<'a>,
    gi: usize,
    og: usize,
    off: usize,
    rows: usize,
    rs: usize,
    cs: usize,
    list: &'a mut [EpilogueOp<'a>; 3],
) -> Result<&'a [EpilogueOp<'a>]> {
    let mut len = 0;
    if let Some(b) = epi.bias {
        list[len] = EpilogueOp::AddColBias(&b[gi * og..(gi + 1) * og]);
        len += 1;
    }
    if epi.activation != Activation::Identity {
        list[len] = EpilogueOp::Activation(epi.activation);
        len += 1;
    }
    if let Some(r) = epi.residual {
        list[len] = EpilogueOp::AddMatrix(MatRef::new(&r[off..], rows, og, rs, cs)?);
        len += 1;
    }
    Ok(&list[..len])
}

/// Winograd over `threads`: rows of output tiles are independent, so contiguous runs of them
/// are the tasks.
#[allow(clippy::too_many_arguments)]
fn run_winograd(
    geo: &Geometry,
    f: &winograd::WinogradFilters,
    input: &[f32],
    output: &mut [f32],
    epi: &ConvEpilogue<'_>,
    threads: usize,
    par: ParallelFor<'_>,
) {
    let units = winograd::units(geo);
    // 16 multiply-adds per 4 output pixels and input channel.
    let work = output.len().saturating_mul(4 * geo.c_in);
    let tasks = task_count(threads, units, work);
    let mut per = units.div_ceil(tasks);
    // A task pairs half panels only among its own rows: with an odd number of them a row, an
    // odd number of rows leaves its last panel half empty (at 2 threads, a 56-wide layer ran
    // one row per task, each with 7 half panels).
    if winograd::half_panels_per_row(geo) % 2 == 1 && per % 2 == 1 && per < units {
        per += 1;
    }
    let out = Disjoint(output.as_mut_ptr());
    let run = |t: usize| {
        // SAFETY: `out` is the validated NCHW output of `geo`, `input` and `epi` were validated
        // against it, `f` belongs to this convolution, and the tile rows of different tasks
        // (hence their output rows) are disjoint.
        unsafe {
            winograd::run(
                geo,
                f,
                input,
                &out,
                epi,
                t * per..((t + 1) * per).min(units),
            )
        }
    };
    if tasks == 1 {
        run(0);
    } else {
        par(units.div_ceil(per), &run);
    }
}

/// The depthwise kernels over `threads`: output rows (NHWC) or planes (NCHW) are independent,
/// so contiguous runs of them are the tasks.
#[allow(clippy::too_many_arguments)]
fn run_depthwise(
    geo: &Geometry,
    hwc: &[f32],
    chw: &[f32],
    input: &[f32],
    output: &mut [f32],
    epi: &ConvEpilogue<'_>,
    threads: usize,
    par: ParallelFor<'_>,
) {
    let (units, unit_len) = depthwise::units(geo);
    let taps = geo.p.kernel_h * geo.p.kernel_w;
    let tasks = task_count(threads, units, output.len().saturating_mul(taps));
    if tasks == 1 {
        depthwise::run(geo, input, hwc, chw, 0..units, output, epi);
        return;
    }
    let per = units.div_ceil(tasks);
    let out = Disjoint(output.as_mut_ptr());
    par(units.div_ceil(per), &|t| {
        let span = t * per..((t + 1) * per).min(units);
        // SAFETY: units * unit_len == output.len(); the spans of different tasks are disjoint.
        let part = unsafe {
            core::slice::from_raw_parts_mut(out.at(span.start * unit_len), span.len() * unit_len)
        };
        depthwise::run(geo, input, hwc, chw, span, part, epi);
    });
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

#[cfg(test)]
mod tests {
    use super::{mc_rows, pixel_block, CACHE_LINE_FLOATS, MAX_PACKER_KC};
    use crate::gemm::kernel::GEMM_MR;
    use crate::gemm::{pack_rows, packer_strip};

    #[test]
    fn pixel_blocks_are_whole_pack_blocks_on_cache_lines() {
        for kc in 1..=MAX_PACKER_KC {
            let (block, rows) = (
                pixel_block(kc),
                pack_rows(kc).clamp(packer_strip(kc), mc_rows(kc)),
            );
            assert!(
                block >= 64 && block % rows == 0 && block % CACHE_LINE_FLOATS == 0,
                "{kc}"
            );
        }
        // 3x3 over 64 channels: 4 blocks of 28 rows (4-row strips), or 4 of 24 (6-row strips).
        assert_eq!(pixel_block(576), if GEMM_MR == 4 { 112 } else { 96 });
    }
}
