//! Elementwise operations for a graph runner: binary arithmetic with numpy-style broadcasting
//! ([`binary`]) and unary math ([`unary`]). The activations have their own kernels
//! ([`crate::activate`]).
//!
//! All of them are single SIMD passes over dense row-major buffers, with out-of-place and
//! in-place forms; every shape and length is checked first, and nothing is written on error.
mod binary;
mod shape;
mod unary;

pub use binary::{binary, binary_inplace, BinaryOp};
pub use shape::{Shape, MAX_RANK};
pub use unary::{unary, unary_inplace, UnaryOp};
