//! JavaScript class `Conv2d`: a 2-D convolution with filters packed once; `ConvBench` times it on
//! buffers resident in wasm memory (the convolution alone, without the copies in and out).
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
#[derive(Clone, Debug)]
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

    /// A [`ConvBench`] of this convolution on a copy of `x` (`batch x c_in x h x w` in `layout`),
    /// with its output buffer: both stay in wasm memory, so `ConvBench.run` times the
    /// convolution alone.
    pub fn bench(
        &self,
        x: Vec<f32>,
        layout: &str,
        batch: usize,
        h: usize,
        w: usize,
    ) -> Result<ConvBench, JsError> {
        let layout = parse_layout(layout)?;
        let (in_len, out_len) = self.lengths(batch, h, w).map_err(js_err)?;
        expect_len("input length (batch * c_in * h * w)", x.len(), 1, in_len).map_err(js_err)?;
        let mut bench = ConvBench {
            conv: self.clone(),
            x,
            y: vec![0.0; out_len],
            layout,
            dims: [batch, h, w],
        };
        bench.run_once().map_err(js_err)?; // validates the call once, up front
        Ok(bench)
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

/// Kernel-only benchmark of a [`JsConv2d`] (JavaScript class `ConvBench`, made by
/// `Conv2d.bench`): input and output stay in wasm memory, so [`ConvBench::run`] times the
/// convolution alone, on all threads after `initThreadPool`, like `Conv2d.run`.
///
/// ```js
/// const bench = conv.bench(x, 'nchw', 1, 56, 56);
/// bench.run(10); // ten convolutions, no copies
/// const y = bench.output(); // Float32Array, as conv.run(x, 'nchw', 1, 56, 56) returns it
/// ```
#[wasm_bindgen]
#[derive(Debug)]
pub struct ConvBench {
    conv: JsConv2d,
    x: Vec<f32>,
    y: Vec<f32>,
    layout: TensorLayout,
    /// `[batch, h, w]` of the input.
    dims: [usize; 3],
}

#[wasm_bindgen]
impl ConvBench {
    /// Runs the convolution `reps` times (the output is overwritten each time).
    pub fn run(&mut self, reps: u32) -> Result<(), JsError> {
        for _ in 0..reps {
            self.run_once().map_err(js_err)?;
        }
        Ok(())
    }

    fn run_once(&mut self) -> Result<(), Error> {
        let [batch, h, w] = self.dims;
        self.conv
            .convolve(&self.x, self.layout, batch, h, w, &mut self.y)
    }

    /// A copy of the output of the last run.
    pub fn output(&self) -> Vec<f32> {
        self.y.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv() -> JsConv2d {
        // 2 -> 3 channels, 3x3, padding 1, ReLU.
        let weights: Vec<f32> = (0..3 * 2 * 9)
            .map(|i| ((i % 7) as f32 - 3.0) * 0.25)
            .collect();
        JsConv2d::new(
            &weights,
            Some(vec![0.5, -0.5, 0.0]),
            3,
            2,
            &[3, 3],
            &[1, 1],
            &[1, 1, 1, 1],
            &[1, 1],
            1,
            "relu",
        )
        .unwrap()
    }

    #[test]
    fn bench_output_is_the_run_output() {
        let conv = conv();
        let x: Vec<f32> = (0..2 * 5 * 6).map(|i| (i % 11) as f32 - 5.0).collect();
        for layout in ["nchw", "nhwc"] {
            let expected = conv.run(&x, layout, 1, 5, 6).unwrap();
            let mut bench = conv.bench(x.clone(), layout, 1, 5, 6).unwrap();
            bench.run(3).unwrap();
            assert_eq!(bench.output(), expected, "{layout}");
        }
    }
}
