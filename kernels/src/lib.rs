//! # wasmnn-kernels
//!
//! The f32 compute kernels of [wasmnn]: a packed, register-tiled GEMM with fused epilogues,
//! written once against a 4-lane vector type ([`simd::F32x4`]) that is WebAssembly SIMD128 on
//! `wasm32` (relaxed-SIMD FMA when built with `+relaxed-simd`) and a portable array elsewhere.
//!
//! `no_std` + `alloc`. All public functions are safe: every shape, stride and length is checked
//! and reported as an [`Error`]; the `unsafe` microkernels sit behind those checks.
//!
//! ```
//! use wasmnn_kernels::{gemm_packed, Activation, EpilogueOp, MatMut, MatRef, PackedB};
//! let (m, k, n) = (3, 4, 5);
//! let w: Vec<f32> = (0..k * n).map(|i| i as f32).collect();
//! let packed = PackedB::from_row_major(&w, k, n)?; // once per weight matrix
//! let x = vec![1.0f32; m * k];
//! let mut y = vec![0.0f32; m * n];
//! gemm_packed(1.0, MatRef::row_major(&x, m, k)?, &packed, 0.0,
//!     MatMut::row_major(&mut y, m, n)?, &[EpilogueOp::Activation(Activation::Relu)])?;
//! assert_eq!(&y[..5], &[30.0, 34.0, 38.0, 42.0, 46.0]);
//! # Ok::<(), wasmnn_kernels::Error>(())
//! ```
//!
//! [wasmnn]: https://docs.rs/wasmnn
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod activation;
pub mod attention;
pub mod conv;
pub mod elementwise;
pub mod epilogue;
pub mod error;
pub mod gemm;
pub mod math;
pub mod matrix;
pub mod par;
pub mod rows;
pub mod simd;
mod stream;

pub use activation::{activate, activate_inplace};
pub use elementwise::{binary, binary_inplace, unary, unary_inplace, BinaryOp, Shape, UnaryOp};
pub use epilogue::{Activation, EpilogueOp};
pub use error::{Error, Result};
pub use gemm::{
    gemm, gemm_packed, gemm_packed_par, gemm_packed_with, gemm_scratch, Blocking, GemmScratch,
    PackedB, ParallelFor,
};
pub use matrix::{MatMut, MatRef};
pub use rows::{
    layer_norm, layer_norm_inplace, log_softmax, log_softmax_inplace, rms_norm, rms_norm_inplace,
    softmax, softmax_inplace,
};

/// The SIMD flavour this build was compiled with: `"relaxed-simd"`, `"simd128"` or `"portable"`.
///
/// ```
/// let isa = wasmnn_kernels::isa();
/// assert!(["relaxed-simd", "simd128", "portable"].contains(&isa));
/// ```
pub fn isa() -> &'static str {
    if cfg!(all(target_arch = "wasm32", target_feature = "relaxed-simd")) {
        "relaxed-simd"
    } else if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
        "simd128"
    } else {
        "portable"
    }
}
