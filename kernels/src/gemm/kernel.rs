//! Microkernels: the innermost loop of the GEMM, one register tile at a time.
//!
//! # Contract (every microkernel here follows it)
//!
//! A microkernel computes the product of an `MR x kc` slice of A and a `kc x NR` packed panel of B
//! into registers and returns the accumulator tile. It does not touch C; [`super::tile`] applies
//! alpha, beta, the epilogue and the store. In detail:
//!
//! - **A** is read in place, never packed: row `r` of the tile starts at `a[r]`, and consecutive
//!   `k` are `a_cs` elements apart. Rows past the end of the matrix are handled by the caller
//!   passing an earlier valid row's pointer again (XNNPACK's trick): the hot loop has no
//!   branches, the duplicate rows are computed and simply not stored.
//! - **B** is a packed panel ([`super::pack`]): `kc` groups of `NR` consecutive floats, zero-padded
//!   past the last column, so partial-width tiles need no special case here.
//! - It reads exactly `a[r] + p * a_cs` for `p < kc` and `b[0 .. kc * NR]`: no over-read.
//! - `kc == 0` is allowed and returns a zero tile.
//! - It accumulates with [`F32x4::mul_add`]: fused in the relaxed-SIMD build, mul + add otherwise.
//!
//! # Register budget
//! V8 gives wasm 15 usable SIMD registers. The 4x8 tile holds 8 accumulators, 2 B vectors and 1
//! broadcast A value: 11 live registers, so V8 never spills in the loop. Wider tiles (6x8) spill
//! in compiled Rust and run at half speed (see `../shared/docs/simd128-peak.md`).
use crate::simd::F32x4;

/// Rows of the main tile.
pub const MR: usize = 4;
/// Columns of every tile and of a packed B panel (two `F32x4`).
pub const NR: usize = 8;
/// Panels one GEMV (`1 x 4NR`) kernel call covers.
pub const GEMV_PANELS: usize = 4;

/// A register tile: `R` rows of two vectors (8 columns).
pub type Tile<const R: usize> = [[F32x4; 2]; R];

/// `MR x NR` tile: rows `a[0..4]`, packed panel `b`.
///
/// # Safety
/// For each `r`, `a[r] + p * a_cs` must be readable for `p < kc`, and `b[0 .. kc * NR]` readable.
#[inline(always)]
pub unsafe fn tile_4x8(kc: usize, a: [*const f32; MR], a_cs: usize, b: *const f32) -> Tile<MR> {
    let z = F32x4::zero();
    let (mut c00, mut c01, mut c10, mut c11) = (z, z, z, z);
    let (mut c20, mut c21, mut c30, mut c31) = (z, z, z, z);
    let [mut a0, mut a1, mut a2, mut a3] = a;
    let mut b = b;
    for _ in 0..kc {
        // SAFETY: within the ranges the caller guarantees (p < kc); pointers advance one k per step.
        unsafe {
            let b0 = F32x4::load(b);
            let b1 = F32x4::load(b.add(4));
            let x = F32x4::load_splat(a0);
            c00 = x.mul_add(b0, c00);
            c01 = x.mul_add(b1, c01);
            let x = F32x4::load_splat(a1);
            c10 = x.mul_add(b0, c10);
            c11 = x.mul_add(b1, c11);
            let x = F32x4::load_splat(a2);
            c20 = x.mul_add(b0, c20);
            c21 = x.mul_add(b1, c21);
            let x = F32x4::load_splat(a3);
            c30 = x.mul_add(b0, c30);
            c31 = x.mul_add(b1, c31);
            a0 = a0.wrapping_add(a_cs);
            a1 = a1.wrapping_add(a_cs);
            a2 = a2.wrapping_add(a_cs);
            a3 = a3.wrapping_add(a_cs);
            b = b.add(NR);
        }
    }
    [[c00, c01], [c10, c11], [c20, c21], [c30, c31]]
}

/// `1 x 4NR` GEMV tile: one row of A against four consecutive packed panels (`b[p]`), eight
/// independent accumulators so the loop is bound by loads, not by add latency.
/// Returns one `Tile<1>` per panel.
///
/// # Safety
/// `a + p * a_cs` readable for `p < kc`; each `b[q][0 .. kc * NR]` readable.
#[inline(always)]
pub unsafe fn tile_1x32(
    kc: usize,
    a: *const f32,
    a_cs: usize,
    b: [*const f32; GEMV_PANELS],
) -> [Tile<1>; GEMV_PANELS] {
    let z = F32x4::zero();
    let (mut c0, mut c1, mut c2, mut c3) = (z, z, z, z);
    let (mut c4, mut c5, mut c6, mut c7) = (z, z, z, z);
    let [mut b0, mut b1, mut b2, mut b3] = b;
    let mut a = a;
    for _ in 0..kc {
        // SAFETY: within the ranges the caller guarantees (p < kc).
        unsafe {
            let x = F32x4::load_splat(a);
            c0 = x.mul_add(F32x4::load(b0), c0);
            c1 = x.mul_add(F32x4::load(b0.add(4)), c1);
            c2 = x.mul_add(F32x4::load(b1), c2);
            c3 = x.mul_add(F32x4::load(b1.add(4)), c3);
            c4 = x.mul_add(F32x4::load(b2), c4);
            c5 = x.mul_add(F32x4::load(b2.add(4)), c5);
            c6 = x.mul_add(F32x4::load(b3), c6);
            c7 = x.mul_add(F32x4::load(b3.add(4)), c7);
            a = a.wrapping_add(a_cs);
            b0 = b0.add(NR);
            b1 = b1.add(NR);
            b2 = b2.add(NR);
            b3 = b3.add(NR);
        }
    }
    [[[c0, c1]], [[c2, c3]], [[c4, c5]], [[c6, c7]]]
}
