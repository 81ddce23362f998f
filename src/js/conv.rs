//! JavaScript class `Conv2d`: a 2-D convolution with filters packed once.
use super::staging::{staged_into, TypedArray};
use super::{expect_len, js_err, parse_activation};
use crate::kernels::conv::{Conv2d, Conv2dParams, ConvEpilogue, TensorLayout};
use crate::{Activation, Error};
use js_sys::Float32Array;
use wasm_bindgen::prelude::*;

/// A 2-D convolution (JavaScript class `Conv2d`) with bias and activation fused.
///
/// ```js
/// const conv = new Conv2d(weightsOIHW, bias, cOut, cIn, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1, 'relu');
/// const y = conv.run(x, 'nchw', 1, 56, 56); // Float32Array, 1 x cOut x 56 x 56
/// ```
#[wasm_bindgen(js_name = Conv2d)]
#[derive(Debug)]
pub struct JsConv2d {
    conv: Conv2d,
    bias: Option<Vec<f32>>,
    activation: Activation,
}

fn pair(what: &'static str, v: &[u32]) -> Result<(usize, usize), Error> {
    match v {
        [a, b] => Ok((*a as usize, *b as usize)),
        _ => Err(Error::InvalidArgument {
            what,
            why: "expected 2 numbers [height, width]",
        }),
    }
}

fn parse_layout(s: &str) -> Result<TensorLayout, JsError> {
    match s {
        "nchw" | "NCHW" => Ok(TensorLayout::Nchw),
        "nhwc" | "NHWC" => Ok(TensorLayout::Nhwc),
        other => Err(JsError::new(&format!(
            "unknown layout {other:?}; valid layouts: nchw, nhwc"
        ))),
    }
}

#[wasm_bindgen(js_class = Conv2d)]
impl JsConv2d {
    /// Filters `weights[c_out][c_in/groups][kh][kw]` (ONNX layout), optional bias (`c_out`),
    /// `kernel = [kh, kw]`, `stride = [sh, sw]`, `pads = [top, left, bottom, right]`,
    /// `dilation = [dh, dw]`, `groups`, and an activation name (see `Linear`).
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        weights: &[f32],
        bias: Option<Vec<f32>>,
        c_out: usize,
        c_in: usize,
        kernel: &[u32],
        stride: &[u32],
        pads: &[u32],
        dilation: &[u32],
        groups: usize,
        activation: &str,
    ) -> Result<JsConv2d, JsError> {
        let activation = parse_activation(activation).map_err(|e| JsError::new(&e))?;
        let build = || -> Result<JsConv2d, Error> {
            let (kh, kw) = pair("kernel", kernel)?;
            let (sh, sw) = pair("stride", stride)?;
            let (dh, dw) = pair("dilation", dilation)?;
            let [t, l, b, r] = pads else {
                return Err(Error::InvalidArgument {
                    what: "pads",
                    why: "expected 4 numbers [top, left, bottom, right]",
                });
            };
            let params = Conv2dParams::new(kh, kw)
                .stride(sh, sw)
                .dilation(dh, dw)
                .padding(*t as usize, *l as usize, *b as usize, *r as usize)
                .groups(groups);
            let conv = Conv2d::new(weights, c_out, c_in, params)?;
            if let Some(b) = &bias {
                if b.len() != c_out {
                    return Err(Error::ShapeMismatch {
                        what: "bias length (= c_out)",
                        expected: c_out,
                        found: b.len(),
                    });
                }
            }
            Ok(JsConv2d {
                conv,
                bias,
                activation,
            })
        };
        build().map_err(js_err)
    }

    /// The method a call on `h x w` input in `layout` runs: `"pointwise"`, `"depthwise"`,
    /// `"winograd"` or `"im2col"`.
    pub fn method(&self, layout: &str, h: usize, w: usize) -> Result<String, JsError> {
        let layout = parse_layout(layout)?;
        let method = self.conv.method(layout, h, w).map_err(js_err)?;
        Ok(method.name().to_string())
    }

    /// Output `[height, width]` for an `h x w` input.
    pub fn output_size(&self, h: usize, w: usize) -> Result<Vec<u32>, JsError> {
        let (ho, wo) = self.conv.params().output_size(h, w).map_err(js_err)?;
        Ok(vec![ho as u32, wo as u32])
    }

    /// Convolves `batch x c_in x h x w` input in `layout` (`"nchw"` or `"nhwc"`); returns the
    /// output in the same layout as a new `Float32Array`.
    pub fn run(
        &self,
        x: &[f32],
        layout: &str,
        batch: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>, JsError> {
        let layout = parse_layout(layout)?;
        let (_, out_len) = self.lengths(batch, h, w).map_err(js_err)?;
        let mut y = vec![0.0; out_len];
        self.convolve(x, layout, batch, h, w, &mut y)
            .map_err(js_err)?;
        Ok(y)
    }

    /// [`JsConv2d::run`] into a caller-provided `Float32Array` of exactly the output's length:
    /// one copy in, one copy out, no allocation per call (see `staging.rs`).
    pub fn run_into(
        &self,
        x: &Float32Array,
        layout: &str,
        batch: usize,
        h: usize,
        w: usize,
        y: &Float32Array,
    ) -> Result<(), JsError> {
        let layout = parse_layout(layout)?;
        let (in_len, out_len) = self.lengths(batch, h, w).map_err(js_err)?;
        // Checked as `1 x len` arrays, with the kernel's messages.
        expect_len("input length (batch * c_in * h * w)", x.len(), 1, in_len).map_err(js_err)?;
        expect_len(
            "output length (batch * c_out * Ho * Wo)",
            y.len(),
            1,
            out_len,
        )
        .map_err(js_err)?;
        staged_into(x, y, |x, y| self.convolve(x, layout, batch, h, w, y))
    }
}

impl JsConv2d {
    /// Lengths of the input and the output of a `batch x c_in x h x w` convolution.
    fn lengths(&self, batch: usize, h: usize, w: usize) -> Result<(usize, usize), Error> {
        let (ho, wo) = self.conv.params().output_size(h, w)?;
        let volume = |c: usize, a: usize, b: usize, what| {
            [batch, c, a, b]
                .iter()
                .try_fold(1usize, |v, &d| v.checked_mul(d))
                .ok_or(Error::Overflow { what })
        };
        Ok((
            volume(self.conv.c_in(), h, w, "input")?,
            volume(self.conv.c_out(), ho, wo, "output")?,
        ))
    }

    /// The convolution with the fused epilogue, on all threads after `initThreadPool`
    /// (bit-identical to one thread).
    fn convolve(
        &self,
        x: &[f32],
        layout: TensorLayout,
        batch: usize,
        h: usize,
        w: usize,
        y: &mut [f32],
    ) -> Result<(), Error> {
        let epi = ConvEpilogue {
            bias: self.bias.as_deref(),
            activation: self.activation,
            residual: None,
        };
        crate::parallel::conv2d(&self.conv, x, layout, batch, h, w, y, &epi)
    }
}
