//! A 4-lane f32 vector, chosen at compile time.
//!
//! Every kernel in this crate is written once against [`F32x4`]. On `wasm32` with `simd128` it is
//! a `v128` and each method is one wasm instruction; with `relaxed-simd` on as well,
//! [`F32x4::mul_add`] becomes the fused `f32x4.relaxed_madd`. Everywhere else (native hosts, wasm
//! without SIMD) it is a plain `[f32; 4]` that LLVM auto-vectorises, so the same kernel source is
//! tested natively and runs fast on wasm.
//!
//! Semantics shared by both implementations (the tests rely on them):
//! - loads and stores are unaligned and touch exactly 16 bytes (4 bytes for `load_splat`);
//! - [`F32x4::max_or_self`] / [`F32x4::min_or_self`] are wasm's `pmax` / `pmin`: `if self < o { o }
//!   else { self }` for ordered inputs. Their NaN behaviour is **not** a contract: in the
//!   relaxed-SIMD build LLVM may lower them to `relaxed_max` / `relaxed_min`, whose NaN result is
//!   engine-defined. Code that must propagate NaN (activations, clamps, exp, max-pool) applies
//!   [`F32x4::keep_nan`] or a NaN mask explicitly; the tests check NaN in every build;
//! - `mul_add` may or may not round the product (fused only in the relaxed build).

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use wasm::F32x4;

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod portable;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub use portable::F32x4;

/// Lanes in one [`F32x4`].
pub const LANES: usize = 4;
