//! `Conv` (2-D: dense, grouped, depthwise; strides, dilations, explicit or automatic padding)
//! on the kernels' [`Conv2d`], with bias and an activation fused into its epilogue.
//!
//! Filters are packed once in `prepare` when they are constant (always, in exported models).
//!
//! With int8 weights requested ([`Conv::int8`], from `Options::quantize_convs`), pointwise
//! convolutions (1x1, stride 1, no padding, one group: most of a MobileNet's arithmetic) run as
//! an int8 GEMM straight on the NCHW data: per image,
//! `Y^T (HW x Cout) = X^T (HW x Cin) W^T (Cin x Cout)`, both transposes being strided views, so
//! nothing is copied. The weights are quantized per output channel (symmetric) and each
//! pixel's channel vector per row on the fly. Other convolutions (depthwise, k x k) stay f32:
//! their weights are few and their error would add up.
//!
//! Measured on MobileNetV3 (Node, SIMD128): 3.5 ms with int8 pointwise convolutions against
//! 2.1 ms in f32. At these channel counts (16 to 576) the per-pixel quantization and packing
//! outweigh the cheaper products; copying to pixel-major order first was slower still (4.0 ms),
//! and restricting int8 to 128+ input channels only reached parity (2.25 ms).
use super::fused::add_assign;
use super::{arity, input, op_common, optional, Attrs, Fact, Op};
use crate::graph::error::{GraphError, Result};
use crate::graph::tensor::{DType, TensorMut, TensorRef};
use crate::graph::typed::TensorSpec;
use crate::kernels::conv::{Conv2d, Conv2dParams, ConvEpilogue, TensorLayout};
use crate::quant::{DynamicQuant, PackedQB, QMatMut, QOutput, QScratch};
use crate::{Activation, MatRef};
use std::sync::Arc;

/// How padding is chosen (ONNX `auto_pad`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AutoPad {
    /// Use `pads`.
    NotSet,
    /// Pad so that `out = ceil(in / stride)`; the odd cell goes at the end.
    SameUpper,
    /// Same, odd cell at the beginning.
    SameLower,
    /// No padding.
    Valid,
}

impl AutoPad {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "NOTSET" | "" => AutoPad::NotSet,
            "SAME_UPPER" => AutoPad::SameUpper,
            "SAME_LOWER" => AutoPad::SameLower,
            "VALID" => AutoPad::Valid,
            other => return Err(GraphError::unsupported(other, "auto_pad value")),
        })
    }
}

/// Window attributes shared by `Conv` and the pooling operators.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    pub kernel: Option<[usize; 2]>,
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    pub auto_pad: AutoPad,
}

fn pair(v: Option<Vec<i64>>, what: &str, default: usize) -> Result<[usize; 2]> {
    match v.as_deref() {
        None => Ok([default; 2]),
        Some([a, b]) if *a >= 1 && *b >= 1 => Ok([*a as usize, *b as usize]),
        Some(other) => Err(GraphError::unsupported(
            format!("{other:?}"),
            format!("{what} (2-D only, positive)"),
        )),
    }
}

impl Window {
    pub fn parse(a: &mut Attrs<'_>) -> Result<Self> {
        let kernel = match a.ints("kernel_shape")? {
            None => None,
            Some(k) => Some(pair(Some(k), "kernel_shape", 1)?),
        };
        let strides = pair(a.ints("strides")?, "strides", 1)?;
        let dilations = pair(a.ints("dilations")?, "dilations", 1)?;
        let pads = match a.ints("pads")?.as_deref() {
            None => [0; 4],
            Some(&[t, l, b, r]) if t >= 0 && l >= 0 && b >= 0 && r >= 0 => {
                [t as usize, l as usize, b as usize, r as usize]
            }
            Some(other) => {
                return Err(GraphError::unsupported(
                    format!("{other:?}"),
                    "pads (2-D only, non-negative)",
                ))
            }
        };
        let auto_pad = AutoPad::parse(&a.string("auto_pad", "NOTSET")?)?;
        Ok(Self {
            kernel,
            strides,
            dilations,
            pads,
            auto_pad,
        })
    }

    /// Kernel-crate geometry for an `h x w` input and a `kh x kw` window.
    pub fn params(&self, h: usize, w: usize, kh: usize, kw: usize) -> Result<Conv2dParams> {
        let pads = match self.auto_pad {
            AutoPad::NotSet => self.pads,
            AutoPad::Valid => [0; 4],
            AutoPad::SameUpper | AutoPad::SameLower => {
                let total = |x: usize, k: usize, s: usize, d: usize| {
                    let out = x.div_ceil(s);
                    ((out.saturating_sub(1)) * s + (k - 1) * d + 1).saturating_sub(x)
                };
                let th = total(h, kh, self.strides[0], self.dilations[0]);
                let tw = total(w, kw, self.strides[1], self.dilations[1]);
                if self.auto_pad == AutoPad::SameUpper {
                    [th / 2, tw / 2, th - th / 2, tw - tw / 2]
                } else {
                    [th - th / 2, tw - tw / 2, th / 2, tw / 2]
                }
            }
        };
        Ok(Conv2dParams::new(kh, kw)
            .stride(self.strides[0], self.strides[1])
            .dilation(self.dilations[0], self.dilations[1])
            .padding(pads[0], pads[1], pads[2], pads[3]))
    }
}

/// A 2-D convolution with optional fused activation.
#[derive(Clone, Debug)]
pub(crate) struct Conv {
    pub window: Window,
    pub groups: usize,
    /// Applied after the bias (set by the Conv+activation fusion).
    pub activation: Activation,
    /// Quantize the weights to int8 where that is supported (pointwise convolutions).
    pub int8: bool,
    prepared: Option<Conv2d>,
    /// The int8 weights (`Cin x Cout`), when `int8` is set and the convolution is pointwise.
    quantized: Option<Arc<PackedQB>>,
    scratch: QScratchCell,
}

/// Scratch memory of the int8 path, not copied when the operator is cloned.
#[derive(Debug, Default)]
struct QScratchCell(QScratch);
impl Clone for QScratchCell {
    fn clone(&self) -> Self {
        Self::default()
    }
}

pub(crate) fn create(a: &mut Attrs<'_>) -> Result<Box<dyn Op>> {
    let window = Window::parse(a)?;
    let groups = a.int("group", 1)?;
    if groups < 1 {
        return Err(GraphError::invalid("group must be at least 1"));
    }
    Ok(Box::new(Conv {
        window,
        groups: groups as usize,
        activation: Activation::Identity,
        int8: false,
        prepared: None,
        quantized: None,
        scratch: QScratchCell::default(),
    }))
}

impl Conv {
    /// Geometry and the kernel operator for these input and weight shapes.
    fn build(&self, x: &[usize], w: &[usize], weights: &[f32]) -> Result<Conv2d> {
        let params = self.geometry(x, w)?;
        Ok(Conv2d::new(weights, w[0], x[1], params)?)
    }

    fn geometry(&self, x: &[usize], w: &[usize]) -> Result<Conv2dParams> {
        if x.len() != 4 || w.len() != 4 {
            return Err(GraphError::unsupported(
                format!("input rank {}", x.len()),
                "Conv dimensionality (2-D only)",
            ));
        }
        if let Some(k) = self.window.kernel {
            if k != [w[2], w[3]] {
                return Err(GraphError::invalid("kernel_shape differs from the weights"));
            }
        }
        if x[1] != w[1] * self.groups || w[0] % self.groups != 0 {
            return Err(GraphError::invalid(format!(
                "input {x:?} and weights {w:?} disagree for group = {}",
                self.groups
            )));
        }
        Ok(self
            .window
            .params(x[2], x[3], w[2], w[3])?
            .groups(self.groups))
    }

    /// The int8 pointwise convolution: `x` is `N x Cin x HW`, `y` is `N x Cout x HW`.
    fn run_int8(
        &mut self,
        w: &PackedQB,
        x: TensorRef<'_>,
        bias: Option<&[f32]>,
        residual: Option<&[f32]>,
        y: &mut [f32],
    ) -> Result<()> {
        let (ci, co) = (w.k(), w.n());
        let &[_, _, h, wd] = x.shape else {
            return Err(GraphError::invalid("int8 Conv needs an NCHW input"));
        };
        let (x, hw) = (x.f32()?, h * wd);
        if ci == 0 || co == 0 {
            return Err(GraphError::invalid("int8 Conv needs channels"));
        }
        if hw == 0 {
            return Ok(());
        }
        for (xb, yb) in x.chunks_exact(ci * hw).zip(y.chunks_exact_mut(co * hw)) {
            // Rows are pixels (stride 1), columns are channels (stride HW).
            crate::parallel::qgemm_dynamic_scratch(
                MatRef::new(xb, hw, ci, 1, hw)?,
                DynamicQuant::PerRow,
                w,
                QOutput::F32 {
                    c: QMatMut::new(yb, hw, co, 1, hw)?,
                    bias,
                    activation: self.activation,
                },
                &mut self.scratch.0,
            )?;
        }
        if let Some(r) = residual {
            add_assign(y, r)?;
        }
        Ok(())
    }
}

impl Op for Conv {
    fn kind(&self) -> &'static str {
        match self.quantized {
            Some(_) => "ConvInt8",
            None => "Conv",
        }
    }

    fn infer(&self, inputs: &[Option<Fact<'_>>]) -> Result<TensorSpec> {
        // Input 3 (a residual added after the activation) exists only after fusion.
        arity(inputs, 2, 4)?;
        let (x, w) = (input(inputs, 0)?.spec, input(inputs, 1)?.spec);
        if x.dtype != DType::F32 || w.dtype != DType::F32 {
            return Err(GraphError::unsupported("non-f32", "Conv operand type"));
        }
        let p = self.geometry(&x.shape, &w.shape)?;
        if let Some(b) = optional(inputs, 2) {
            if b.spec.shape != [w.shape[0]] {
                return Err(GraphError::invalid("Conv bias must have C_out elements"));
            }
        }
        let (ho, wo) = p.output_size(x.shape[2], x.shape[3])?;
        Ok(TensorSpec::new(
            DType::F32,
            &[x.shape[0], w.shape[0], ho, wo],
        ))
    }

    fn prepare(&mut self, inputs: &[Option<Fact<'_>>]) -> Result<()> {
        let x = input(inputs, 0)?.spec;
        if let Some(w) = input(inputs, 1)?.value {
            let conv = self.build(&x.shape, w.shape, w.f32()?)?;
            if self.int8 && conv.params() == &Conv2dParams::new(1, 1) {
                // W is Cout x Cin row-major: as a Cin x Cout matrix, row stride 1.
                let (co, ci) = (w.shape[0], w.shape[1]);
                let wt = MatRef::new(w.f32()?, ci, co, 1, ci)?;
                self.quantized = Some(Arc::new(PackedQB::quantize_f32(wt)?));
            } else {
                self.prepared = Some(conv);
            }
        }
        Ok(())
    }

    fn run(&mut self, inputs: &[Option<TensorRef<'_>>], mut out: TensorMut<'_>) -> Result<()> {
        let (x, w) = (input(inputs, 0)?, input(inputs, 1)?);
        let bias = match optional(inputs, 2) {
            Some(b) => Some(b.f32()?),
            None => None,
        };
        let residual = match optional(inputs, 3) {
            Some(r) => Some(r.f32()?),
            None => None,
        };
        if let Some(q) = self.quantized.clone() {
            return self.run_int8(&q, x, bias, residual, out.f32()?);
        }
        let built;
        let conv = match &self.prepared {
            Some(c) => c,
            None => {
                built = self.build(x.shape, w.shape, w.f32()?)?;
                &built
            }
        };
        let epilogue = ConvEpilogue {
            bias,
            activation: self.activation,
            residual,
        };
        let s = x.shape;
        // On the thread pool when the `threads` feature is on (bit-identical results).
        crate::parallel::conv2d(
            conv,
            x.f32()?,
            TensorLayout::Nchw,
            s[0],
            s[2],
            s[3],
            out.f32()?,
            &epilogue,
        )?;
        Ok(())
    }

    op_common!();
}
