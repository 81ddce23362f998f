//! Microkernels: the innermost loop of the GEMM, one register tile at a time.
//!
//! # Contract (every microkernel here follows it)
//!
//! A microkernel computes the product of an `R x kc` slice of A and a `kc x NR` packed panel of B
//! into registers and returns the accumulator tile. It does not touch C; `tile.rs` applies
//! alpha, beta, the epilogue and the store. In detail:
//!
//! - **A** comes in one of two forms. [`tile_packed`] reads a packed strip ([`pack_a`]): `kc`
//!   groups of `R` consecutive floats (one `k` of all `R` rows), so the loop walks one pointer
//!   and every load has a constant offset from it. [`tile_4x8`] reads A in place (used where
//!   packing does not pay): row `r` of the tile starts at `a[r]`, and consecutive `k` are `a_cs`
//!   elements apart. Rows past the end of the matrix are handled by repeating an earlier valid
//!   row (XNNPACK's trick): the hot loop has no branches, the duplicate rows are computed and
//!   simply not stored.
//! - **B** is a packed panel ([`super::pack`]): `kc` groups of `NR` consecutive floats, zero-padded
//!   past the last column, so partial-width tiles need no special case here.
//! - It reads exactly `a[0 .. kc * R]` (packed) or `a[r] + p * a_cs` for `p < kc` (in place),
//!   and `b[0 .. kc * NR]`: no over-read.
//! - `kc == 0` is allowed and returns a zero tile.
//! - It accumulates with [`F32x4::mul_add`]: fused in the relaxed-SIMD build, mul + add otherwise.
//!
//! # Register budget
//! V8 gives wasm 15 usable SIMD registers. The 4x8 tile holds 8 accumulators, 2 B vectors and 1
//! broadcast A value: 11 live registers. The matrix GEMM's 6x8 tile ([`GEMM_MR`], FMA builds)
//! holds 12 + 2 + 1 = 15: it fits only with LLVM's source-order scheduling (without it, loads
//! hoisted to the top of the loop made V8 spill, and 6x8 ran at half speed; see
//! `../shared/docs/simd128-peak.md`). Check the loop for stack traffic with
//! `node --print-wasm-code` after changing it.
use crate::simd::F32x4;

/// Rows of the 4x8 tile: the in-place kernel's, and the strip height of the convolution
/// packers (implicit im2col) and of Winograd's products.
pub const MR: usize = 4;
/// Rows of the packed tile of the matrix GEMM (matmul, `Linear`, 1x1 convolution): 6 with
/// fused multiply-add (the relaxed build, and native builds, which test this path), 4 without.
///
/// Why: with FMA the 4x8 tile has 8 independent accumulator chains of 4-cycle latency, exactly
/// what two FMA ports need, and it ran at 85% of the peak; the 6x8 tile's 12 chains leave slack
/// (standalone loop, Chromium 148 on a Sapphire Rapids class core: 47.0-47.9 GFLOP/s against
/// 40.9-41.3, Node 20: 45.0 against 42.7-43.5). It needs 12 accumulators, 2 B vectors and one
/// broadcast A value: 15 registers, V8's whole budget, and fits only because LLVM keeps each
/// block in source order (`.cargo/config.toml`). Without FMA the product needs one more
/// register and 6 rows lose (34.7 against 35.4 GFLOP/s, mul + add bound either way).
pub const GEMM_MR: usize = if cfg!(any(
    target_feature = "relaxed-simd",
    not(target_arch = "wasm32")
)) {
    6
} else {
    4
};
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

/// `R x NR` tile from a packed A strip: `a[p * R + r]` is row `r` at depth `p`. `R` is [`MR`]
/// for the convolution packers and Winograd, [`GEMM_MR`] for the matrix GEMM.
///
/// Why packed: the in-place kernel advances five pointers per step, and the address arithmetic
/// (V8 computes every wasm address that does not fold into `offset=`) costs about a sixth of
/// the loop's instructions, which is what bounds a 4x8 tile in Chromium. One pointer for A and
/// one for B leave only the two bumps.
///
/// # Safety
/// `a[0 .. kc * R]` and `b[0 .. kc * NR]` readable.
#[inline(always)]
pub unsafe fn tile_packed<const R: usize>(kc: usize, a: *const f32, b: *const f32) -> Tile<R> {
    // An array, not named locals: after monomorphisation LLVM keeps every accumulator in a
    // register, and the 4-row copy runs as fast as the written-out kernel did (Chromium 148,
    // standalone loop: 40.9 GFLOP/s both).
    let mut c = [[F32x4::zero(); 2]; R];
    let (mut a, mut b) = (a, b);
    let end = a.wrapping_add(kc * R);
    while a != end {
        // SAFETY: one step of A (R floats) and of B (NR floats) within the caller's ranges;
        // the loop runs kc times.
        unsafe {
            let b0 = F32x4::load(b);
            let b1 = F32x4::load(b.add(4));
            for (r, row) in c.iter_mut().enumerate() {
                let x = F32x4::load_splat(a.add(r));
                row[0] = x.mul_add(b0, row[0]);
                row[1] = x.mul_add(b1, row[1]);
            }
            a = a.add(R);
            b = b.add(NR);
        }
    }
    c
}

/// First rows of the groups of 4 rows that cover an `R`-row strip or tile (`R >= 4`): 0, 4,
/// ..., and `R - 4` last when `R` is not a multiple of 4 (that group overlaps the one before,
/// so its shared rows are written twice, with the same values). With `R` a constant the loop
/// over them unrolls completely.
#[inline(always)]
pub(crate) fn row_groups<const R: usize>() -> impl Iterator<Item = usize> {
    // Not a const assert: tile code generic over any R calls this only when R >= 4.
    debug_assert!(R >= 4);
    (0..R.div_ceil(4)).map(|g| (4 * g).min(R - 4))
}

/// Packs `kc` columns of `R` rows of A (`rows[r] + p * cs`) into the strip layout of
/// [`tile_packed`]: `dst[p * R + r]`. At unit stride each group of 4 rows goes through 4x4
/// register transposes (the last group overlaps the one before when `R` is not a multiple of 4:
/// its rows are stored twice, with the same values).
///
/// # Safety
/// `R >= 4`; `rows[r] + p * cs` readable for `p < kc`; `dst[0 .. kc * R]` writable and not
/// overlapping A.
#[inline(always)]
pub unsafe fn pack_a<const R: usize>(kc: usize, rows: [*const f32; R], cs: usize, dst: *mut f32) {
    const { assert!(R >= 4) };
    let mut p = 0;
    if cs == 1 {
        while p + 4 <= kc {
            for g0 in row_groups::<R>() {
                // SAFETY: columns p..p+4 of rows g0..g0+4 (< R) are readable (p + 4 <= kc, unit
                // stride), and dst[(p + q) * R + g0 ..][..4] lies in dst[p * R .. (p + 4) * R].
                unsafe {
                    let t = F32x4::transpose4(core::array::from_fn(|i| {
                        F32x4::load(rows[g0 + i].add(p))
                    }));
                    for (q, v) in t.into_iter().enumerate() {
                        v.store(dst.add((p + q) * R + g0));
                    }
                }
            }
            p += 4;
        }
    }
    while p < kc {
        for (r, row) in rows.iter().enumerate() {
            // SAFETY: p < kc: readable source, writable destination (caller contract).
            unsafe { *dst.add(p * R + r) = *row.wrapping_add(p * cs) };
        }
        p += 1;
    }
}

/// Packs `kc` columns of `R` consecutive rows of a column-major A (`col + p * cs` holds rows
/// `0..R` of column `p` side by side, e.g. the pixels of an NCHW 1x1 convolution) into the strip
/// layout of [`tile_packed`]: vector copies of 4 rows per column (overlapping for the last
/// group when `R` is not a multiple of 4).
///
/// # Safety
/// `R >= 4`; `col[p * cs .. p * cs + R]` readable for `p < kc`; `dst[0 .. kc * R]` writable and
/// not overlapping A.
#[inline(always)]
pub unsafe fn pack_a_col_major<const R: usize>(
    kc: usize,
    col: *const f32,
    cs: usize,
    dst: *mut f32,
) {
    const { assert!(R >= 4) };
    for p in 0..kc {
        for g0 in row_groups::<R>() {
            // SAFETY: p < kc and g0 + 4 <= R: four readable source floats, four writable
            // destination floats.
            unsafe { F32x4::load(col.wrapping_add(p * cs + g0)).store(dst.add(p * R + g0)) };
        }
    }
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
