//! Integer vectors for the int8 kernels, chosen at compile time like `wasmnn_kernels::simd`.
//!
//! - [`I16x8`]: eight i16 lanes, the operand type of the exact integer dot product;
//! - [`I32x4`]: four i32 lanes, the accumulators;
//! - [`I8x16`]: sixteen bytes (raw i8 / u8 data, and the operands of the relaxed dot product).
//!
//! On `wasm32` with `simd128` each type is a `v128` and each method one (or a few) wasm
//! instructions; everywhere else they are plain arrays with the same lane semantics, so every
//! kernel is written once and tested natively.
//!
//! Semantics shared by both implementations (the tests rely on them):
//! - integer arithmetic wraps (two's complement), like wasm's `i32x4.add`;
//! - [`I32x4::dot_add`] is wasm's `i32x4.dot_i16x8_s` plus an add: each lane is
//!   `acc + a[2l] * b[2l] + a[2l+1] * b[2l+1]` computed exactly in i32 (it can only overflow
//!   when both products are `(-32768)^2`, which no caller produces: operands are within
//!   `-255..=255`);
//! - [`I32x4::relaxed_dot_add`] is `i32x4.relaxed_dot_i8x16_i7x16_add_s`: each lane adds the
//!   four products `a[4l+t] * b[4l+t]` with `a` signed. It is deterministic only when every
//!   byte of `b` is in `0..=127`; the kernels guarantee that by construction, and the portable
//!   and SIMD128 fallbacks compute the exact sum;
//! - [`nan_to_zero`] replaces NaN lanes by `+0.0` with an explicit compare: in relaxed-SIMD
//!   builds LLVM lowers `f32x4.pmin` / `pmax` to `relaxed_min` / `relaxed_max`, whose result for
//!   NaN inputs differs between engines, so the quantizers remove NaN first and only then clamp;
//! - conversions from f32 truncate toward zero, saturate, and map NaN to 0
//!   (`i32x4.trunc_sat_f32x4_s`, Rust's `as`); narrowing saturates.
//! - loads and stores are unaligned.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use wasm::{nan_to_zero, I16x8, I32x4, I8x16};

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod portable;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub use portable::{nan_to_zero, I16x8, I32x4, I8x16};

/// `p` advanced by `bytes` bytes: on wasm32 `(p as usize + bytes) as *const T`.
///
/// Advancing the kernels' pointers through an integer round trip hides the induction variable
/// from LLVM's loop strength reduction, which would otherwise rewrite `p + 16`, `p + 32`, ... as
/// separate adds. With the pointer opaque, the constant offsets of a loop body stay folded into
/// the wasm loads (`v128.load offset=16`), which saves one integer instruction per load in
/// V8's machine code (measured: the int8 GEMM runs ~10% faster). Elsewhere (native builds, Miri)
/// the pointer keeps its provenance, so Miri checks every access made through it.
#[inline(always)]
pub(crate) fn bump<T>(p: *const T, bytes: usize) -> *const T {
    #[cfg(target_arch = "wasm32")]
    {
        (p as usize).wrapping_add(bytes) as *const T
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        p.wrapping_byte_add(bytes)
    }
}
