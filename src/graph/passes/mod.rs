//! Graph passes on the specialised graph: constant folding (during shape inference), operator
//! fusion, weight preparation and dead-node elimination.
//!
//! Layout: activations stay in ONNX's NCHW. Measured on the 53 convolutions of the
//! MobileNetV3 text-direction model (input 1x3x48x192, kernels only, no conversions), NCHW
//! takes 1.48 ms and NHWC 1.76 ms in wasm SIMD128 (1.49 / 1.68 ms natively): the kernels'
//! in-place 1x1 GEMM and 16-wide depthwise rows favour NCHW at these channel counts, so there
//! is no NHWC conversion pass (it would add transposes for nothing). Transposes the model itself
//! chains are folded into one, or cancelled, by the fusion pass.
pub(crate) mod dce;
pub(crate) mod fold;
pub(crate) mod fuse;
pub(crate) mod prepare;
pub(crate) mod quantize;
