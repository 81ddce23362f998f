//! The BLIS-style loop nest around the microkernels.
//!
//! ```text
//! for jc in cols, step NC          LOOP 5: a column slab of B (L3)
//!   for k0 in 0..K, step KC        LOOP 4: one K block; C accumulates across blocks
//!     for ic in rows, step MC      LOOP 3: an MC x KC block of A stays in L2
//!       for jr in slab, step NR    LOOP 2: one KC x NR panel of B stays in L1 ...
//!         for ir in block, step R  LOOP 1: ... while R rows of A stream past it
//!           microkernel            registers: R x NR accumulators (R: GEMM_MR or MR)
//! ```
//! K is never split between calls that write the same C tile concurrently (BLIS never
//! parallelises loop 4), so results do not depend on how the rows and columns are tiled.
use super::kernel::{
    pack_a, pack_a_col_major, tile_1x32, tile_4x8, tile_packed, Tile, GEMM_MR, GEMV_PANELS, MR, NR,
};
use super::pack::PackedB;
use super::tile::{finish_simple, finish_tile, Finish, SimpleFinish, Strided};
use crate::epilogue::EpilogueOp;
use core::mem::MaybeUninit;
use core::ops::Range;

/// Floats of the stack buffer a block of A is packed into: 64 KiB, small enough for any wasm
/// stack (worker threads included) and for L2 beside the B panels. A block holds as many
/// strips of the current K block as fit (at most MC rows); deeper K blocks than
/// `A_PACK_FLOATS / strip height` read A in place instead.
const A_PACK_FLOATS: usize = 16 * 1024;

/// The deepest K block a [`PackA`] source may be asked for: one [`GEMM_MR`]-row strip of it
/// fills the stack buffer. Callers with a packer pack B with `kc <= MAX_PACKER_KC`.
pub(crate) const MAX_PACKER_KC: usize = A_PACK_FLOATS / GEMM_MR;

/// Rows per strip of a [`PackA`] source for K blocks of depth `kc`: [`GEMM_MR`], but 4 for
/// shallow blocks, whose tiles go through the paired fused finish ([`packed_tiles_simple2`]):
/// with 6-row tiles a first layer (K = 27) ran 1.085x slower (Node A/B), and 1.27x with the
/// fused finish at 6 rows, while deeper im2col layers ran 7-8% faster.
pub(crate) fn packer_strip(kc: usize) -> usize {
    if kc <= SHALLOW_KC {
        MR
    } else {
        GEMM_MR
    }
}

/// Rows of A a [`PackA`] source packs (and the GEMM multiplies) at once for a K block of depth
/// `kc`: the strips of [`packer_strip`] rows that fit the stack buffer (0 when none does).
pub(crate) fn pack_rows(kc: usize) -> usize {
    if packer_strip(kc) == MR {
        strip_rows::<MR>(kc)
    } else {
        strip_rows::<GEMM_MR>(kc)
    }
}

/// The rows of the `R`-row strips of depth `kc` that fit the stack buffer.
fn strip_rows<const R: usize>(kc: usize) -> usize {
    (A_PACK_FLOATS / kc.max(1)) / R * R
}

/// A source of A that writes its own packed strips instead of being read as a matrix: the
/// convolution's implicit im2col, which gathers the window of each output pixel straight from
/// the input tensor into the strip (one copy instead of im2col + packing).
pub(crate) trait PackA: Sync {
    /// Writes rows `r0 .. r0 + rows` of A at depths `k0 .. k0 + kc` into `dst` in [`pack_a`]'s
    /// layout (`dst[p * rows + r]`); rows at or past `end` repeat row `end - 1`.
    ///
    /// # Safety
    /// `rows` is [`MR`] or [`GEMM_MR`]; `r0 < end <= m`, `k0 + kc <= k`, and
    /// `dst[0 .. kc * rows]` writable.
    unsafe fn pack(&self, rows: usize, r0: usize, end: usize, k0: usize, kc: usize, dst: *mut f32);
}

/// Where the driver takes A from.
#[derive(Clone, Copy)]
pub(crate) enum ASource<'a> {
    /// A strided `m x k` matrix in memory, packed here when that pays (or read in place).
    Matrix(Strided<*const f32>),
    /// A packer that builds every strip itself; needs `b.kc() <= MAX_PACKER_KC`.
    Packer(&'a dyn PackA),
}

/// Cache blocking of the rows (MC) and columns (NC) of one GEMM call. The K block depth (KC) is
/// a property of the packed B ([`PackedB::with_kc`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Rows of A per L2 block (rounded up to a multiple of 4 internally).
    pub mc: usize,
    /// Columns of B per slab (rounded up to a multiple of 8 internally).
    pub nc: usize,
}

impl Default for Blocking {
    fn default() -> Self {
        // MC x KC = 128 x 256 floats = 128 KiB of A: half of a 256 KiB..1 MiB L2.
        Self { mc: 128, nc: 1024 }
    }
}

/// One validated GEMM problem as raw parts: `C = alpha * A B + beta * C`, then `ops`.
pub(crate) struct Problem<'a> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: f32,
    pub beta: f32,
    pub a: ASource<'a>,
    pub b: &'a PackedB,
    pub c: Strided<*mut f32>,
    pub ops: &'a [EpilogueOp<'a>],
}

/// [`tile_packed`] as a function of its own: inlined into the large driver, Node 20's V8
/// allocated its registers badly (18 instead of 41 GFLOP/s); alone it compiles cleanly. One call
/// per `kc`-deep tile costs nothing measurable.
///
/// # Safety
/// As [`tile_packed`].
#[inline(never)]
unsafe fn packed_tile<const R: usize>(kc: usize, a: *const f32, b: *const f32) -> Tile<R> {
    // SAFETY: forwarded contract.
    unsafe { tile_packed::<R>(kc, a, b) }
}

/// [`tile_packed`] and [`finish_simple`] in one function of their own: the tile goes from
/// registers to C without the round trip through memory of a returned tile, and the finish gets
/// the registers of a small function (see [`SimpleFinish`]).
///
/// # Safety
/// As [`tile_packed`] and [`finish_simple`].
#[inline(never)]
unsafe fn packed_tile_simple<const R: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: Strided<*mut f32>,
    i0: usize,
    j0: usize,
    s: &SimpleFinish<'_>,
) {
    // SAFETY: forwarded contract.
    unsafe { finish_simple(tile_packed::<R>(kc, a, b), c, i0, j0, s) }
}

/// Two [`packed_tile_simple`] tiles in one call: strips `a` and `a + kc * R` (rows `i0` and
/// `i0 + R`) against the same panel. For shallow tiles (`kc <= SHALLOW_KC`), where the call
/// itself weighs: a first layer (K = 27) makes 12,544 of them per image. Written out, not as
/// one function looping over a const number of strips: LLVM kept that loop rolled, and the
/// first layer's gain was gone (A/B 0.993-1.000).
///
/// # Safety
/// As [`packed_tile_simple`] for both strips.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn packed_tiles_simple2<const R: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: Strided<*mut f32>,
    i0: usize,
    j0: usize,
    s: &SimpleFinish<'_>,
) {
    // SAFETY: forwarded contract.
    unsafe {
        finish_simple(tile_packed::<R>(kc, a, b), c, i0, j0, s);
        finish_simple(tile_packed::<R>(kc, a.add(kc * R), b), c, i0 + R, j0, s);
    }
}

/// Deepest tiles that [`packed_tiles_simple2`] pairs: 3x224x224->32 k3s2 (K = 27) ran 1.031-1.035x
/// faster paired (Node 20, relaxed, A/B); deep tiles gain nothing (matmul 512^3: 0.988-0.995).
const SHALLOW_KC: usize = 64;

/// [`tile_1x32`] as a function of its own, for the same reason as [`packed_tile`] (inlined into
/// the driver, Node 20's V8 compiled the GEMV loop worse).
///
/// # Safety
/// As [`tile_1x32`].
#[inline(never)]
unsafe fn gemv_tiles(
    kc: usize,
    a: *const f32,
    a_cs: usize,
    b: [*const f32; GEMV_PANELS],
) -> [Tile<1>; GEMV_PANELS] {
    // SAFETY: forwarded contract.
    unsafe { tile_1x32(kc, a, a_cs, b) }
}

/// Computes the block `rows x cols` of C.
///
/// # Safety
/// `p` describes valid, non-overlapping buffers (A: `m x k`, C: `m x n`, exclusively borrowed),
/// `rows` within `0..m`, `cols` within `0..n` with `cols.start` a multiple of [`NR`], and `ops`
/// validated for `m x n`; an [`ASource::Packer`] needs `p.b.kc() <= MAX_PACKER_KC`. Concurrent
/// calls must use disjoint `rows x cols` blocks.
pub(crate) unsafe fn run(p: &Problem<'_>, rows: Range<usize>, cols: Range<usize>, blk: Blocking) {
    // A packer writes strips of `packer_strip` rows (its K blocks fit: MAX_PACKER_KC); a matrix
    // is packed here into GEMM_MR-row strips, unless the K blocks are too deep for one such
    // strip to fit the buffer (K above 2730 for 6 rows), where MR-row strips still fit up to
    // 4096.
    let deepest = p.b.kc().min(p.k);
    let tall = match p.a {
        ASource::Packer(_) => packer_strip(deepest) == GEMM_MR,
        ASource::Matrix(_) => strip_rows::<GEMM_MR>(deepest) >= GEMM_MR,
    };
    // SAFETY: forwarded contract; a packer gets R == packer_strip(deepest).
    unsafe {
        if tall {
            run_strips::<GEMM_MR>(p, rows, cols, blk)
        } else {
            run_strips::<MR>(p, rows, cols, blk)
        }
    }
}

/// [`run`] with packed strips of `R` rows.
///
/// # Safety
/// As [`run`]; `R == packer_strip(min(kc, k))` for an [`ASource::Packer`].
unsafe fn run_strips<const R: usize>(
    p: &Problem<'_>,
    rows: Range<usize>,
    cols: Range<usize>,
    blk: Blocking,
) {
    debug_assert!(cols.start % NR == 0 && rows.end <= p.m && cols.end <= p.n);
    if rows.is_empty() || cols.is_empty() {
        return;
    }
    let kc = p.b.kc();
    let n_padded = p.b.n_padded();
    let k_blocks = p.k.div_ceil(kc).max(1); // K = 0 still runs one (empty) block: C = beta C + ops
    let nc = blk.nc.max(1).div_ceil(NR) * NR;
    let mc = blk.mc.max(1).div_ceil(R) * R;
    let bdata = p.b.as_slice().as_ptr();
    let (a_mat, packer) = match p.a {
        ASource::Matrix(m) => (m, None),
        // Every strip comes from the packer: no in-place path below runs, `a` is never read.
        ASource::Packer(pk) => (
            Strided {
                ptr: core::ptr::null(),
                rs: 0,
                cs: 0,
            },
            Some(pk),
        ),
    };
    debug_assert!(packer.is_none() || kc <= MAX_PACKER_KC);
    // Written by `pack_a` before any kernel reads it (only the packed prefix is ever read).
    let mut a_pack = [const { MaybeUninit::<f32>::uninit() }; A_PACK_FLOATS];
    let a_pack = a_pack.as_mut_ptr().cast::<f32>();

    let mut jc = cols.start;
    while jc < cols.end {
        let jc_end = (jc + nc).min(cols.end);
        for kb in 0..k_blocks {
            let k0 = kb * kc;
            let kcl = kc.min(p.k - k0.min(p.k));
            let fin = Finish {
                alpha: p.alpha,
                beta: p.beta,
                first_k_block: kb == 0,
                last_k_block: kb + 1 == k_blocks,
                ops: p.ops,
            };
            let simple = SimpleFinish::of(&fin);
            // Panel q of this K block (layout in pack.rs). In bounds: q < n_padded / NR.
            let panel = |j: usize| bdata.wrapping_add(k0 * n_padded + (j / NR) * kcl * NR);
            // Row i of A at column k0.
            let a_row = |i: usize| a_mat.ptr.wrapping_add(i * a_mat.rs + k0 * a_mat.cs);

            // Rows of A packed at once: the R-row strips of depth kcl that fit the buffer.
            let pack_rows = strip_rows::<R>(kcl);
            let packed = (kcl > 0 || packer.is_some()) && pack_rows >= R;
            let mc_k = if packed { mc.min(pack_rows) } else { mc };
            // Rows per tile: R packed, MR read in place.
            let step = if packed { R } else { MR };

            let mut ic = rows.start;
            while ic < rows.end {
                let ic_end = (ic + mc_k).min(rows.end);
                let full_end = ic + (ic_end - ic) / step * step;
                let rem = ic_end - full_end;
                if packed {
                    // Full strips, plus 2 or more leftover rows padded by repeating the last
                    // row (a packer takes a single leftover row too: it has no in-place GEMV).
                    let tail = rem > 1 || (rem == 1 && packer.is_some());
                    let strips = (full_end - ic) / R + usize::from(tail);
                    for s in 0..strips {
                        let r0 = ic + s * R;
                        let dst = a_pack.wrapping_add(s * kcl * R);
                        // SAFETY: rows < m, k0 + kcl <= k; the strip lies inside the buffer
                        // (strips * R <= mc_k <= pack_rows, pack_rows * kcl <= A_PACK_FLOATS);
                        // R is the packer's strip height (see `run`).
                        unsafe {
                            match packer {
                                Some(pk) => pk.pack(R, r0, ic_end, k0, kcl, dst),
                                // Column-major A (NCHW 1x1 conv pixels): R rows are R floats.
                                None if a_mat.rs == 1 && r0 + R <= ic_end => {
                                    pack_a_col_major::<R>(kcl, a_row(r0), a_mat.cs, dst)
                                }
                                None => {
                                    let src =
                                        core::array::from_fn(|r| a_row((r0 + r).min(ic_end - 1)));
                                    pack_a::<R>(kcl, src, a_mat.cs, dst)
                                }
                            }
                        }
                    }
                    for jr in (jc..jc_end).step_by(NR) {
                        let ncols = NR.min(p.n - jr);
                        let b = panel(jr);
                        let mut s = 0;
                        while s < strips {
                            let r0 = ic + s * R;
                            let rows = R.min(ic_end - r0);
                            let a = a_pack.wrapping_add(s * kcl * R);
                            // The simple finish in the kernel's own function only for 4-row
                            // tiles: with the 6-row tile's 12 accumulators, V8 (Node 20)
                            // allocated that function's registers badly (matmul 512^3 1.27x
                            // slower, 1x1 conv 1.58x); returned through memory and finished
                            // below, the 6-row tile is the faster one.
                            if let Some(f) = &simple {
                                if R == MR
                                    && kcl <= SHALLOW_KC
                                    && ncols == NR
                                    && r0 + 2 * R <= ic_end
                                {
                                    // SAFETY: strips s and s + 1 were packed above and are
                                    // full (rows r0 .. r0 + 2 R <= ic_end <= m); panel in
                                    // bounds (caller); both tiles' columns are in C.
                                    unsafe { packed_tiles_simple2::<R>(kcl, a, b, p.c, r0, jr, f) };
                                    s += 2;
                                    continue;
                                }
                            }
                            s += 1;
                            // SAFETY: strip s was packed above; panel in bounds (caller); the
                            // tile's rows r0.. (at most R, < m) and columns are in C.
                            unsafe {
                                match &simple {
                                    Some(f) if rows == R && ncols == NR && R == MR => {
                                        packed_tile_simple::<R>(kcl, a, b, p.c, r0, jr, f)
                                    }
                                    _ => {
                                        let acc = packed_tile::<R>(kcl, a, b);
                                        finish_tile(acc, p.c, r0, jr, rows, ncols, &fin);
                                    }
                                }
                            }
                        }
                    }
                } else {
                    // Full MR-row tiles, A read in place.
                    for jr in (jc..jc_end).step_by(NR) {
                        let ncols = NR.min(p.n - jr);
                        let b = panel(jr);
                        for ir in (ic..full_end).step_by(MR) {
                            let a = [a_row(ir), a_row(ir + 1), a_row(ir + 2), a_row(ir + 3)];
                            // SAFETY: rows ir..ir+4 < m, k0 + kcl <= k, panel in bounds (caller).
                            unsafe {
                                let acc = tile_4x8(kcl, a, a_mat.cs, b);
                                finish_tile(acc, p.c, ir, jr, MR, ncols, &fin);
                            }
                        }
                    }
                }
                // Leftover rows (fewer than a tile) that the packed path did not take.
                if rem == 1 && packer.is_none() {
                    // One row (GEMV): four panels per call, i.e. four concurrent streams of B,
                    // which measured faster from DRAM than one sequential stream.
                    let a = a_row(full_end);
                    let mut jr = jc;
                    while jr < jc_end {
                        let panels = (jc_end - jr).div_ceil(NR).min(GEMV_PANELS);
                        // Missing panels alias the first one: computed, never stored.
                        let b: [*const f32; GEMV_PANELS] = core::array::from_fn(|q| {
                            panel(jr + NR * if q < panels { q } else { 0 })
                        });
                        // SAFETY: row full_end < m, k0 + kcl <= k; aliased panels are valid.
                        let tiles = unsafe { gemv_tiles(kcl, a, a_mat.cs, b) };
                        for (q, t) in tiles.into_iter().enumerate().take(panels) {
                            let j = jr + q * NR;
                            // SAFETY: row full_end < m, columns j..j+ncols < n.
                            unsafe { finish_tile(t, p.c, full_end, j, 1, NR.min(p.n - j), &fin) };
                        }
                        jr += panels * NR;
                    }
                } else if rem > 1 && !packed {
                    for jr in (jc..jc_end).step_by(NR) {
                        let ncols = NR.min(p.n - jr);
                        // Rows past the end repeat the last valid row (computed, not stored).
                        let a = core::array::from_fn(|r| a_row(full_end + r.min(rem - 1)));
                        // SAFETY: every row pointer is a valid row; panel in bounds.
                        unsafe {
                            let acc = tile_4x8(kcl, a, a_mat.cs, panel(jr));
                            finish_tile(acc, p.c, full_end, jr, rem, ncols, &fin);
                        }
                    }
                }
                ic = ic_end;
            }
        }
        jc = jc_end;
    }
}
