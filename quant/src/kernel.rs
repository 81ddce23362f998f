//! Microkernels of the int8 GEMM and GEMV: the innermost loops, one register tile at a time.
//!
//! # Contract (every microkernel here follows it)
//!
//! A microkernel computes the exact integer products of a block of packed A and packed B over
//! `kb` blocks of [`KB`] = 8 values of K, and returns the accumulator tile as i32. It does not
//! touch C: `epilogue` converts and stores the tile. In detail:
//!
//! - **Exact.** Every product and every sum is exact in i32; results are congruent to the true
//!   integer sums modulo 2^32 (i.e. exactly equal whenever the true sum fits in i32, which holds
//!   for any 8-bit inputs when K <= 33025). There is no i16 accumulation and no saturating
//!   instruction on any path: the baseline multiplies i16 operands in `-255..=255` with
//!   `i32x4.dot_i16x8_s`, whose pair sums are at most `2 * 255^2`; the relaxed kernel keeps the
//!   second operand of `relaxed_dot_i8x16_i7x16_add` in `0..=127`, where every engine agrees.
//! - **A** is packed per call by the driver, [`MR`] = 2 rows at a time: for each K block, row 0's
//!   8 values then row 1's. Baseline kernels read i16 values `a - zero_point_a` (so no zero-point
//!   correction is needed afterwards); the relaxed kernel reads two byte planes per row, the low
//!   7 bits and the top bit of the u8 value (see [`tile_2x4_relaxed`]). K is zero-padded to a
//!   multiple of 8, and a missing second row is all zeros (computed, never stored).
//! - **B** is a panel of [`NR`] = 4 columns in the block layout of [`crate::pack`]: for each K
//!   block, 4 columns x 8 values. The baseline GEMM reads it widened to i16 with the column zero
//!   points subtracted (`b - zero_point_b`, also in `-255..=255`); the GEMV and the relaxed
//!   kernel read the raw bytes and leave the zero point to the caller.
//! - It reads exactly `a[0 .. kb * 8 * rows]` and `b[0 .. kb * 8 * NR]` of its packed panels (no
//!   over-read), and `kb == 0` returns a zero tile.
//!
//! # Register budget
//! V8 gives wasm 15 usable SIMD registers. The 2x4 baseline tile holds 8 accumulators, 2 A
//! vectors, 4 B vectors and one temporary for the dot result: 15. Each K block is 6 loads,
//! 8 `i32x4.dot_i16x8_s` and 8 `i32x4.add` (64 multiply-adds), and the loop body is left as one
//! block per iteration: with more, LLVM hoists every load of the unrolled body to the top and V8
//! spills (measured: 60 instead of 88 GOP/s). Larger tiles (2x5, 3x3, 3x4) spill or gain
//! nothing (measured 61-81 GOP/s), and the ORT-style 1x8 / 4x8 broadcast tiles run at 57-64.
use crate::simd::{bump, I16x8, I32x4, I8x16};

/// Rows of the GEMM tile.
pub const MR: usize = 2;
/// Columns of the GEMM tile and of a packed B panel.
pub const NR: usize = 4;
/// K values per block: one `v128` of i16 per row and column.
pub const KB: usize = 8;
/// Panels (of [`NR`] columns) one GEMV kernel call streams at once.
pub const GEMV_PANELS: usize = 2;

/// The exact `2 x 4` tile of the baseline GEMM: `acc[r][c] = sum_k a[r][k] * b[k][c]`.
///
/// `a`: packed A tile (per K block: 2 rows x 8 i16); `b`: widened B panel (per K block:
/// 4 columns x 8 i16). Returns one vector of 4 columns per row.
///
/// # Safety
/// `a[0 .. kb * 16]` and `b[0 .. kb * 32]` must be readable.
#[inline(always)]
pub unsafe fn tile_2x4(kb: usize, a: *const i16, b: *const i16) -> [I32x4; MR] {
    let z = I32x4::zero();
    let (mut c00, mut c01, mut c02, mut c03) = (z, z, z, z);
    let (mut c10, mut c11, mut c12, mut c13) = (z, z, z, z);
    let (mut a, mut b) = (a, b);
    let end = bump(a, kb * 2 * KB * 2);
    while a != end {
        // SAFETY: a block at `a` (16 i16) and `b` (32 i16) lies within the ranges the caller
        // guarantees: the loop runs kb times and advances one block per iteration.
        unsafe {
            let x0 = I16x8::load(a);
            let x1 = I16x8::load(a.add(KB));
            let y = I16x8::load(b);
            c00 = c00.dot_add(x0, y);
            c10 = c10.dot_add(x1, y);
            let y = I16x8::load(b.add(KB));
            c01 = c01.dot_add(x0, y);
            c11 = c11.dot_add(x1, y);
            let y = I16x8::load(b.add(2 * KB));
            c02 = c02.dot_add(x0, y);
            c12 = c12.dot_add(x1, y);
            let y = I16x8::load(b.add(3 * KB));
            c03 = c03.dot_add(x0, y);
            c13 = c13.dot_add(x1, y);
        }
        a = bump(a, 2 * KB * 2);
        b = bump(b, NR * KB * 2);
    }
    [
        I32x4::hsum4(c00, c01, c02, c03),
        I32x4::hsum4(c10, c11, c12, c13),
    ]
}

/// Widens 16 raw bytes of B (two columns of one K block) to i16.
#[inline(always)]
fn widen<const SIGNED: bool>(r: I8x16) -> (I16x8, I16x8) {
    if SIGNED {
        (r.extend_low_i8(), r.extend_high_i8())
    } else {
        (r.extend_low_u8(), r.extend_high_u8())
    }
}

/// The GEMV tile: one row of A (i16, packed as one row: 8 values per K block) against
/// [`GEMV_PANELS`] raw byte panels of B, widened in registers. Returns `sum_k a[k] * b[k][c]`
/// for the 4 columns of each panel (no zero-point correction).
///
/// Each panel is read as two streams, its first and its second half of K, side by side: four
/// streams of weights in all. Each K block reads 64 bytes of B and 16 of A for 64
/// multiply-adds. Why halves: when the weights come from DRAM rather than cache, more
/// concurrent sequential streams keep more cache-line fills in flight.
///
/// # Safety
/// `a[0 .. kb * 8]` and, for each panel, `b[q][0 .. kb * 32]` must be readable.
#[inline(always)]
pub unsafe fn gemv_2panels<const SIGNED: bool>(
    kb: usize,
    a: *const i16,
    b: [*const u8; GEMV_PANELS],
) -> [I32x4; GEMV_PANELS] {
    let z = I32x4::zero();
    let mut c = [[z; NR]; GEMV_PANELS];
    // One K block of A at `a` against one of each panel at `b[q]`, into `c`.
    #[inline(always)]
    unsafe fn block<const SIGNED: bool>(
        c: &mut [[I32x4; NR]; GEMV_PANELS],
        a: *const i16,
        b: [*const u8; GEMV_PANELS],
    ) {
        // SAFETY: one K block of A (8 i16) and of each panel (32 bytes): caller's ranges.
        unsafe {
            let x = I16x8::load(a);
            for (cq, bq) in c.iter_mut().zip(b) {
                let (y0, y1) = widen::<SIGNED>(I8x16::load(bq));
                cq[0] = cq[0].dot_add(x, y0);
                cq[1] = cq[1].dot_add(x, y1);
                let (y2, y3) = widen::<SIGNED>(I8x16::load(bq.add(16)));
                cq[2] = cq[2].dot_add(x, y2);
                cq[3] = cq[3].dot_add(x, y3);
            }
        }
    }
    let half = kb / 2;
    let [mut b0, mut b1] = b;
    let (mut h0, mut h1) = (bump(b0, half * NR * KB), bump(b1, half * NR * KB));
    let mut a_lo = a;
    let mut a_hi = bump(a, half * KB * 2);
    let end = a_hi;
    while a_lo != end {
        // SAFETY: blocks i < half and half + i < kb of A and of both panels.
        unsafe {
            block::<SIGNED>(&mut c, a_lo, [b0, b1]);
            block::<SIGNED>(&mut c, a_hi, [h0, h1]);
        }
        a_lo = bump(a_lo, KB * 2);
        a_hi = bump(a_hi, KB * 2);
        b0 = bump(b0, NR * KB);
        b1 = bump(b1, NR * KB);
        h0 = bump(h0, NR * KB);
        h1 = bump(h1, NR * KB);
    }
    if kb % 2 == 1 {
        // SAFETY: the last block, kb - 1 = 2 half: where the second halves stopped.
        unsafe { block::<SIGNED>(&mut c, a_hi, [h0, h1]) };
    }
    c.map(|[c0, c1, c2, c3]| I32x4::hsum4(c0, c1, c2, c3))
}

/// The GEMV (M = 1) with the relaxed dot product: [`GEMV_PANELS`] panels of raw weight bytes
/// against one row of A split into 7-bit planes, as [`tile_2x4_relaxed`] splits it (per K
/// block: `[lo | hi]`, 8 bytes each, `a = lo + 128 hi`). `FLIP` and `VIA_I16` as there.
///
/// Why a second GEMV: the baseline one must widen every weight byte to i16 before
/// `i32x4.dot_i16x8_s` (three instructions per 16 weights, plus a dot and an add per 8), while
/// here 16 weights take two instructions, one per plane. With VNNI (Chromium 156 on this x86
/// host) that leaves the GEMV bound by memory instead of by instructions.
///
/// # Safety
/// `a[0 .. kb * 16]` and, for each panel, `b[q][0 .. kb * 32]` must be readable.
#[inline(always)]
pub unsafe fn gemv_2panels_relaxed<const FLIP: bool, const VIA_I16: bool>(
    kb: usize,
    a: *const u8,
    b: [*const u8; GEMV_PANELS],
) -> [I32x4; GEMV_PANELS] {
    let z = I32x4::zero();
    let mut lo = [[z; 2]; GEMV_PANELS];
    let mut hi = [[z; 2]; GEMV_PANELS];
    let flip = I8x16::splat(if FLIP { 0x80 } else { 0 });
    let dot = |acc: I32x4, u: I8x16, v: I8x16| {
        if VIA_I16 {
            acc.relaxed_dot_add_via_i16(u, v)
        } else {
            acc.relaxed_dot_add(u, v)
        }
    };
    let [mut b0, mut b1] = b;
    let mut a = a;
    let end = bump(a, kb * 2 * KB);
    while a != end {
        // SAFETY: one K block of the row planes (16 bytes) and of each panel (32 bytes) within
        // the caller's ranges; the loop runs kb times.
        unsafe {
            let x_lo = I8x16::load64_splat(a);
            let x_hi = I8x16::load64_splat(a.add(KB));
            let y = I8x16::load(b0).xor(flip);
            lo[0][0] = dot(lo[0][0], y, x_lo);
            hi[0][0] = dot(hi[0][0], y, x_hi);
            let y = I8x16::load(b0.add(16)).xor(flip);
            lo[0][1] = dot(lo[0][1], y, x_lo);
            hi[0][1] = dot(hi[0][1], y, x_hi);
            let y = I8x16::load(b1).xor(flip);
            lo[1][0] = dot(lo[1][0], y, x_lo);
            hi[1][0] = dot(hi[1][0], y, x_hi);
            let y = I8x16::load(b1.add(16)).xor(flip);
            lo[1][1] = dot(lo[1][1], y, x_lo);
            hi[1][1] = dot(hi[1][1], y, x_hi);
        }
        a = bump(a, 2 * KB);
        b0 = bump(b0, NR * KB);
        b1 = bump(b1, NR * KB);
    }
    core::array::from_fn(|q| {
        let l = I32x4::pair_sums(lo[q][0], lo[q][1]);
        let h = I32x4::pair_sums(hi[q][0], hi[q][1]);
        l.add(h.shl7())
    })
}

/// The `2 x 4` tile of the relaxed-SIMD GEMM: `sum_k a[r][k] * b[k][c]` for u8 `a` (raw, no
/// zero point) and signed `b` (the raw i8 weights, or u8 weights minus 128 when `FLIP`).
///
/// `relaxed_dot_i8x16_i7x16_add` needs its second operand in `0..=127` to be deterministic,
/// so each u8 value of A is split into `lo = a & 127` and `hi = a >> 7` (two byte planes, packed
/// per K block as `[row 0 lo | row 0 hi | row 1 lo | row 1 hi]`, 8 bytes each), and
/// `a . b = lo . b + 128 (hi . b)`. A plane is loaded into both halves of a vector, against
/// 16 bytes of B that hold two columns of 8, so each lane sums four products of one column.
///
/// `VIA_I16` selects [`I32x4::relaxed_dot_add_via_i16`] instead of the accumulating instruction:
/// the driver sets it unless [`relaxed_dot_is_native`] (Arm `sdot`, x86 VNNI, where the
/// accumulating form is one instruction). Under `pmaddubsw` (x86 without VNNI) the i16 form is
/// both shorter and immune to a register-aliasing bug of V8 11.3's baseline compiler.
///
/// # Safety
/// `a[0 .. kb * 32]` and `b[0 .. kb * 32]` must be readable.
#[inline(always)]
pub unsafe fn tile_2x4_relaxed<const FLIP: bool, const VIA_I16: bool>(
    kb: usize,
    a: *const u8,
    b: *const u8,
) -> [I32x4; MR] {
    let z = I32x4::zero();
    let mut lo = [[z; 2]; MR];
    let mut hi = [[z; 2]; MR];
    let flip = I8x16::splat(if FLIP { 0x80 } else { 0 });
    let dot = |acc: I32x4, u: I8x16, v: I8x16| {
        if VIA_I16 {
            acc.relaxed_dot_add_via_i16(u, v)
        } else {
            acc.relaxed_dot_add(u, v)
        }
    };
    let (mut a, mut b) = (a, b);
    let end = bump(a, kb * 32);
    while a != end {
        // SAFETY: one K block (32 bytes) of each operand within the caller's ranges.
        unsafe {
            let b01 = I8x16::load(b).xor(flip);
            let b23 = I8x16::load(b.add(16)).xor(flip);
            for r in 0..MR {
                let x = I8x16::load64_splat(a.add(16 * r));
                lo[r][0] = dot(lo[r][0], b01, x);
                lo[r][1] = dot(lo[r][1], b23, x);
                let x = I8x16::load64_splat(a.add(16 * r + 8));
                hi[r][0] = dot(hi[r][0], b01, x);
                hi[r][1] = dot(hi[r][1], b23, x);
            }
        }
        a = bump(a, 32);
        b = bump(b, 32);
    }
    // Lanes of lo[r][0]: (col 0, k 0..4), (col 0, k 4..8), (col 1, ..), (col 1, ..).
    core::array::from_fn(|r| {
        let l = I32x4::pair_sums(lo[r][0], lo[r][1]);
        let h = I32x4::pair_sums(hi[r][0], hi[r][1]);
        l.add(h.shl7())
    })
}

/// Whether this engine lowers the relaxed dot product with x86 `pmaddubsw` (SSSE3/AVX2 without
/// VNNI, as V8's optimising compiler does): five instructions per call, which makes the split
/// relaxed kernel slower than the baseline one. Probed with an operand outside `0..=127`, where engines differ:
/// `pmaddubsw` treats it as unsigned and saturates pairs to i16 (`-65536` below), VNNI gives
/// `-130560`, Arm `sdot` gives `512`.
pub fn relaxed_dot_is_pmaddubsw() -> bool {
    relaxed_dot_probe() == -65536
}

/// Whether this engine's relaxed dot product multiplies both operands as signed bytes, as Arm's
/// `sdot` does (`512` in the probe of [`relaxed_dot_is_pmaddubsw`]). Only there does the split
/// relaxed kernel beat the baseline one: with x86 VNNI (`-130560`) it measured 12-15% slower
/// in Chromium 156 (512^3: 5.07-5.16 vs 4.44-4.59 ms; 128x768x768: 2.63-2.65 vs 2.35-2.38).
/// Builds without relaxed SIMD emulate the instruction exactly, as signed products.
///
/// ```
/// use wasmnn_quant::kernel::{relaxed_dot_is_pmaddubsw, relaxed_dot_is_signed};
/// // At most one of the two lowerings (neither: x86 VNNI).
/// assert!(!(relaxed_dot_is_signed() && relaxed_dot_is_pmaddubsw()));
/// ```
pub fn relaxed_dot_is_signed() -> bool {
    relaxed_dot_probe() == 512
}

/// Whether this engine runs the accumulating relaxed dot product as one exact instruction:
/// x86 VNNI (`-130560` in the probe of [`relaxed_dot_is_pmaddubsw`]) or Arm `sdot` (`512`).
/// The relaxed kernels use that instruction only then, and their `VIA_I16` form everywhere
/// else: under `pmaddubsw` (`-65536`) it is shorter, and V8 11.3's baseline compiler (Node 20),
/// which answers the probe with `-131072`, can alias the accumulator with a scratch register
/// (see [`I32x4::relaxed_dot_add_via_i16`]); an engine the probe does not know gets the safe
/// form too. Builds without relaxed SIMD emulate the instruction exactly, as signed products.
///
/// ```
/// use wasmnn_quant::kernel::{relaxed_dot_is_native, relaxed_dot_is_pmaddubsw};
/// assert!(!(relaxed_dot_is_native() && relaxed_dot_is_pmaddubsw()));
/// ```
pub fn relaxed_dot_is_native() -> bool {
    matches!(relaxed_dot_probe(), -130560 | 512)
}

/// One lane of `relaxed_dot_add(-128, 0xff)`: the engine's answer outside `0..=127`.
fn relaxed_dot_probe() -> i32 {
    let a = core::hint::black_box(I8x16::splat(0x80)); // -128 as i8
    let b = core::hint::black_box(I8x16::splat(0xff)); // 255 or -1: outside 0..=127 on purpose
    I32x4::zero().relaxed_dot_add(a, b).to_array()[0]
}
