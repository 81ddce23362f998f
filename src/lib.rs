//! # wasmnn
//!
//! Fast neural-network inference kernels for WebAssembly SIMD128, with a portable path so the
//! same crate builds and tests natively.
//!
//! This facade re-exports the kernel crates and adds the layer-level entry points:
//! - [`Linear`]: `y = act(x W + b) [+ residual]`, weights packed once;
//! - [`layer_norm_matmul_add`]: `y = LayerNorm(x) W + b + residual` in one pass;
//! - [`gemm()`] / [`gemm_packed`]: BLAS-like `C = alpha A B + beta C` with any strides.
//!
//! ```
//! use wasmnn::{Activation, Linear};
//! // 2 inputs -> 3 outputs, weights row-major [in][out].
//! let w = [1.0, 0.0, -1.0,
//!          0.0, 1.0, -1.0];
//! let layer = Linear::new(&w, 2, 3, Some(&[0.5, 0.5, 0.5]), Activation::Relu)?;
//! let mut y = [0.0; 3];
//! layer.forward(&[2.0, 3.0], 1, &mut y)?;
//! assert_eq!(y, [2.5, 3.5, 0.0]);
//! # Ok::<(), wasmnn::Error>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub use wasmnn_kernels as kernels;
pub use wasmnn_kernels::{
    gemm, gemm_packed, gemm_packed_with, gemm_scratch, isa, Activation, Blocking, EpilogueOp,
    Error, GemmScratch, MatMut, MatRef, PackedB, Result,
};

/// The int8 path: quantize / dequantize, packed int8 weights, exact integer GEMM and GEMV with
/// fused epilogues, ONNX-shaped entry points, [`QLinear`] and int8 convolution.
pub use wasmnn_quant as quant;
pub use wasmnn_quant::{
    dequantize_linear, dynamic_quantize_linear, qgemm, qgemm_dynamic, quantize_linear,
    DynamicQuant, PackedQB, QLinear, QMatMut, QMatRef, QOutput, QScratch, QuantParams,
};

pub mod fused;
pub use fused::{layer_norm_matmul_add, FusedScratch, LayerNormParams};
pub mod graph;
mod linear;
pub mod parallel;
pub use linear::Linear;

#[cfg(feature = "js")]
pub mod js;
