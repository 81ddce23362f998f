//! # wasmnn-quant
//!
//! The int8 path of [wasmnn]: quantization, packed int8 weights, and an exact integer GEMM /
//! GEMV for WebAssembly SIMD128 (relaxed SIMD optional) with fused epilogues.
//!
//! - [`quantize_linear`], [`dequantize_linear`], [`dynamic_quantize_linear`]: f32 <-> u8 / i8,
//!   per tensor or per column, ONNX semantics (round half to even, saturation).
//! - [`PackedQB`]: int8 weights packed once, with per-channel scales, zero points and column sums.
//! - [`qgemm`] / [`qgemm_dynamic`]: `A B` with 8-bit or f32 A into [`QOutput`]: exact i32, f32
//!   (dequantize + bias + activation) or requantized u8 / i8. M = 1 runs a GEMV that streams
//!   one byte per weight.
//! - [`onnx`]: `MatMulInteger`, `DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul`,
//!   `QLinearMatMul` shaped entry points for a graph runner.
//! - [`QLinear`]: a linear layer with int8 weights, f32 in and out (transformer layers).
//! - [`conv`]: int8 convolution on NHWC data through the same GEMM (1x1 and k x k by im2col).
//!
//! `no_std` + `alloc`. Every public function is safe: shapes, lengths, scales and zero points
//! are checked and reported as an [`Error`] (the variants of `wasmnn_kernels`) before anything
//! is written; the `unsafe` microkernels ([`kernel`]) sit behind those checks.
//!
//! ```
//! use wasmnn_quant::{qgemm, PackedQB, QMatMut, QMatRef, QOutput, QuantParams};
//! // B: 3 x 2 int8 weights, per-column scales; A: 2 x 3 uint8 activations, zero point 128.
//! let w: [i8; 6] = [1, -2, 3, 4, -5, 6];
//! let b = PackedQB::from_row_major(&w, 3, 2,
//!     QuantParams::PerChannel { scales: &[0.5, 0.25], zero_points: &[] })?;
//! let a: [u8; 6] = [129, 130, 131, 128, 127, 126];
//! let a_params = QuantParams::PerTensor { scale: 2.0, zero_point: 128 };
//! let mut acc = [0i32; 4];
//! qgemm(QMatRef::row_major(&a, 2, 3)?, a_params, &b, QOutput::I32(QMatMut::row_major(&mut acc, 2, 2)?))?;
//! assert_eq!(acc, [1 * 1 + 2 * 3 + 3 * -5, 1 * -2 + 2 * 4 + 3 * 6, -1 * 3 + -2 * -5, -1 * 4 + -2 * 6]);
//! # Ok::<(), wasmnn_quant::Error>(())
//! ```
//!
//! [wasmnn]: https://docs.rs/wasmnn
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

extern crate alloc;

pub mod conv;
mod driver;
pub mod epilogue;
pub mod gemm;
pub mod kernel;
mod linear;
pub mod matrix;
pub mod onnx;
pub mod pack;
pub mod quantize;
mod scratch;
pub mod simd;
pub mod types;

pub use epilogue::QOutput;
pub use gemm::{
    qgemm, qgemm_dynamic, qgemm_dynamic_par, qgemm_dynamic_par_scratch, qgemm_dynamic_scratch,
    qgemm_dynamic_with, qgemm_in, qgemm_par, qgemm_par_scratch, qgemm_scratch, qgemm_with,
    DynamicQuant, KernelChoice, QGemmOptions,
};
pub use linear::QLinear;
pub use matrix::{QMatMut, QMatRef};
pub use pack::PackedQB;
pub use quantize::{dequantize_linear, dynamic_quantize_linear, quantize_linear, DynamicParams};
pub use scratch::QScratch;
pub use types::{QuantParams, Q8};
pub use wasmnn_kernels::{Error, Result};
