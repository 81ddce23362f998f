//! The loop nest around the int8 microkernels, and the per-call packing of A.
//!
//! ```text
//! M = 1: GEMV                      stream the raw int8 panels of B (two at a time) from memory
//! for i0 in rows, step MC          LOOP 3: pack an MC x K block of A (i16, minus zero points; L2)
//!   for p in panels of B           LOOP 2: one K x 4 panel of B as i16 (pre-widened in the
//!                                          PackedQB, or widened here when compact; L1)
//!     for t in row tiles of 2      LOOP 1: the 2 x 4 tile streams A past the panel
//!       tile_2x4                   registers: 8 accumulators; the tile goes to a scratch column
//!     every 4 panels: epilogue     rows outer, 16 columns inner (whole cache lines of C)
//! ```
//! K is never blocked: every tile sees the whole K, so the epilogue runs once on the exact
//! sums, whatever the output type. MC keeps the packed A block near 256 KiB.
use crate::epilogue::{Epilogue, MAX_BLOCKS};
use crate::kernel::{
    gemv_2panels, gemv_2panels_relaxed, relaxed_dot_is_native, tile_2x4, tile_2x4_relaxed,
    GEMV_PANELS, KB, MR, NR,
};
use crate::matrix::QMatRef;
use crate::pack::PackedQB;
use crate::quantize::{quantize_offsets_blocks, DynamicParams};
use crate::simd::{I16x8, I32x4};
use crate::types::QuantParams;
use alloc::vec::Vec;
use wasmnn_kernels::{Error, MatRef, Result};

/// Which microkernel family runs the GEMM tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KernelKind {
    /// `i32x4.dot_i16x8_s` on widened operands.
    Baseline,
    /// `relaxed_dot_i8x16_i7x16_add` on split u8 activations and raw int8 weights.
    Relaxed,
}

/// Where the rows of A come from.
pub(crate) enum ASource<'a> {
    /// Quantized rows: the raw bytes, whether they are i8 (else u8), and the zero points
    /// (per tensor or per row).
    Q8 {
        a: QMatRef<'a, u8>,
        signed: bool,
        params: QuantParams<'a>,
    },
    /// f32 rows quantized on the fly to u8 with these parameters (one, or one per row).
    F32(MatRef<'a>, &'a [DynamicParams]),
}

impl ASource<'_> {
    fn dynamic(params: &[DynamicParams], i: usize) -> DynamicParams {
        params[if params.len() == 1 { 0 } else { i }]
    }

    /// Row `i` as `a - zero_point` (i16) in `kbn` blocks of 8: block `q` goes to
    /// `dst[q * stride ..][..8]`, zeros past `k`. `buf` is scratch for strided f32 rows.
    #[allow(clippy::too_many_arguments)]
    fn row_blocks(
        &self,
        i: usize,
        k: usize,
        kbn: usize,
        dst: &mut [i16],
        stride: usize,
        buf: &mut [f32],
    ) {
        match self {
            ASource::Q8 { a, signed, params } => {
                offsets_q8(a, *signed, params.zero_point(i), i, k, kbn, dst, stride)
            }
            ASource::F32(a, params) => {
                let p = Self::dynamic(params, i);
                let row = f32_row(a, i, buf);
                quantize_offsets_blocks::<u8>(&row[..k], p, dst, stride, kbn);
            }
        }
    }

    /// Row `i` as raw u8 values (i8 values + 128) in `out[..k]`, zeros after; returns the zero
    /// point in the same u8 domain.
    fn row_u8(&self, i: usize, k: usize, out: &mut [u8], off: &mut [i16], buf: &mut [f32]) -> i32 {
        out[k..].fill(0);
        match self {
            ASource::Q8 { a, signed, params } => {
                // i8 values become u8 by adding 128 (flipping the top bit), and so does the
                // zero point.
                let flip = if *signed { 0x80 } else { 0 };
                for (p, o) in out[..k].iter_mut().enumerate() {
                    *o = a.get(i, p).unwrap_or(0) ^ flip;
                }
                params.zero_point(i) + if *signed { 128 } else { 0 }
            }
            ASource::F32(a, params) => {
                let p = Self::dynamic(params, i);
                let row = f32_row(a, i, buf);
                let kbn = off.len() / KB;
                quantize_offsets_blocks::<u8>(&row[..k], p, off, KB, kbn);
                for (o, &v) in out[..k].iter_mut().zip(off.iter()) {
                    *o = (v as i32 + p.zero_point) as u8;
                }
                p.zero_point
            }
        }
    }
}

/// Row `i` of an f32 matrix as a slice (copied into `buf`, of at least `cols` floats, when
/// strided).
fn f32_row<'b>(a: &'b MatRef<'_>, i: usize, buf: &'b mut [f32]) -> &'b [f32] {
    if a.col_stride() == 1 {
        &a.data()[i * a.row_stride()..][..a.cols()]
    } else {
        let buf = &mut buf[..a.cols()];
        for (j, v) in buf.iter_mut().enumerate() {
            *v = a.get(i, j).unwrap_or(0.0);
        }
        buf
    }
}

/// Row `i` of quantized A as `a - zp` (bytes read as i8 when `signed`) in `kbn` blocks of 8,
/// block `q` at `dst[q * stride ..]`, zeros past `k`: one widening load per full block when
/// the row is contiguous.
#[allow(clippy::too_many_arguments)]
fn offsets_q8(
    a: &QMatRef<'_, u8>,
    signed: bool,
    zp: i32,
    i: usize,
    k: usize,
    kbn: usize,
    dst: &mut [i16],
    stride: usize,
) {
    let zp16 = I16x8::splat(zp as i16);
    let mut done = 0;
    if let Some(row) = a.row_slice(i) {
        for (q, src) in row.chunks_exact(KB).enumerate() {
            let out = &mut dst[q * stride..q * stride + KB];
            // SAFETY: 8 readable bytes in `src` and 8 writable i16 in `out`.
            unsafe {
                let v = if signed {
                    I16x8::load_extend_i8(src.as_ptr().cast::<i8>())
                } else {
                    I16x8::load_extend_u8(src.as_ptr())
                };
                v.sub(zp16).store(out.as_mut_ptr());
            }
            done += 1;
        }
    }
    for q in done..kbn {
        let mut blk = [0i16; KB];
        for (x, v) in blk.iter_mut().enumerate() {
            let p = q * KB + x;
            if p < k {
                let b = a.get(i, p).unwrap_or(0);
                let b = if signed { b as i8 as i32 } else { b as i32 };
                *v = (b - zp) as i16;
            }
        }
        dst[q * stride..q * stride + KB].copy_from_slice(&blk);
    }
}

/// One validated problem: `C = epilogue(A B)` with A `m x k`, packed B `k x n`.
pub(crate) struct Problem<'a> {
    pub m: usize,
    pub k: usize,
    pub a: ASource<'a>,
    pub b: &'a PackedQB,
    pub mc: usize,
    pub kernel: KernelKind,
}

/// Element counts of the scratch buffers of one problem (see [`Scratch`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sizes {
    tiles: usize,
    a16: usize,
    b16: usize,
    row16: usize,
    a8: usize,
    row8: usize,
    sums: usize,
    zps: usize,
    f32_row: usize,
}

/// Scratch memory of one task, borrowed from a reusable [`Buffers`] or carved from an arena.
/// Every buffer has exactly the size [`Problem::sizes`] asks for; the contents are whatever
/// the last user left (the driver writes every element before it reads it).
pub(crate) struct Scratch<'s> {
    /// One column block (4 columns) of finished tiles for the rows of an M block: the tile loop
    /// only stores here, and the epilogue runs afterwards in its own loop, so the tile loop
    /// keeps the kernel's registers (with the epilogue inlined, V8 reloaded ~13 spilled
    /// vectors per tile: measured 10% slower).
    tiles: &'s mut [I32x4],
    a16: &'s mut [i16],
    b16: &'s mut [i16],
    row16: &'s mut [i16],
    a8: &'s mut [u8],
    row8: &'s mut [u8],
    sums: &'s mut [i32],
    zps: &'s mut [i32],
    /// One strided f32 row of A, copied contiguous before it is quantized.
    f32_row: &'s mut [f32],
}

/// Grows `v` to at least `len` elements (never shrinks): the only allocation of a reused
/// scratch, made before anything is written.
pub(crate) fn grow<T: Clone>(v: &mut Vec<T>, len: usize, fill: T) -> Result<()> {
    if v.len() < len {
        v.try_reserve_exact(len - v.len())
            .map_err(|_| Error::InvalidArgument {
                what: "scratch",
                why: "not enough memory",
            })?;
        v.resize(len, fill);
    }
    Ok(())
}

/// The heap-owned storage behind one [`Scratch`], reused from call to call: it grows to the
/// largest problem seen and then allocates nothing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Buffers {
    tiles: Vec<I32x4>,
    a16: Vec<i16>,
    b16: Vec<i16>,
    row16: Vec<i16>,
    a8: Vec<u8>,
    row8: Vec<u8>,
    sums: Vec<i32>,
    zps: Vec<i32>,
    f32_row: Vec<f32>,
}

impl Buffers {
    /// Grows every buffer to at least `z` (allocates only what is missing).
    pub(crate) fn reserve(&mut self, z: &Sizes) -> Result<()> {
        grow(&mut self.tiles, z.tiles, I32x4::zero())?;
        grow(&mut self.a16, z.a16, 0)?;
        grow(&mut self.b16, z.b16, 0)?;
        grow(&mut self.row16, z.row16, 0)?;
        grow(&mut self.a8, z.a8, 0)?;
        grow(&mut self.row8, z.row8, 0)?;
        grow(&mut self.sums, z.sums, 0)?;
        grow(&mut self.zps, z.zps, 0)?;
        grow(&mut self.f32_row, z.f32_row, 0.0)
    }

    /// The first `z` elements of every buffer; [`Buffers::reserve`] with `z` (or larger) must
    /// have succeeded.
    pub(crate) fn view(&mut self, z: &Sizes) -> Scratch<'_> {
        Scratch {
            tiles: &mut self.tiles[..z.tiles],
            a16: &mut self.a16[..z.a16],
            b16: &mut self.b16[..z.b16],
            row16: &mut self.row16[..z.row16],
            a8: &mut self.a8[..z.a8],
            row8: &mut self.row8[..z.row8],
            sums: &mut self.sums[..z.sums],
            zps: &mut self.zps[..z.zps],
            f32_row: &mut self.f32_row[..z.f32_row],
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.tiles.len() * 16
            + (self.a16.len() + self.b16.len() + self.row16.len()) * 2
            + self.a8.len()
            + self.row8.len()
            + (self.sums.len() + self.zps.len() + self.f32_row.len()) * 4
    }
}

/// A scratch carved from an arena scope: no heap allocation at all.
pub(crate) fn arena_scratch<'a>(scope: &wasmnn_arena::Scope<'a>, z: &Sizes) -> Result<Scratch<'a>> {
    let err = |e: wasmnn_arena::Error| match e {
        wasmnn_arena::Error::OutOfCapacity { needed, remaining } => Error::BufferTooSmall {
            what: "arena (bytes for the int8 GEMM scratch)",
            needed,
            len: remaining,
        },
        _ => Error::Overflow {
            what: "int8 GEMM scratch",
        },
    };
    let words: &'a mut [i32] = scope
        .alloc_slice(
            z.tiles
                .checked_mul(4)
                .ok_or(Error::Overflow { what: "scratch" })?,
        )
        .map_err(err)?;
    if words.as_ptr() as usize % core::mem::align_of::<I32x4>() != 0 {
        // The arena aligns every allocation to 16 bytes; refuse rather than misalign.
        return Err(Error::InvalidArgument {
            what: "arena",
            why: "allocation not aligned to 16 bytes",
        });
    }
    // SAFETY: `words` is an exclusive, initialised region of 4 * z.tiles i32 values, aligned to
    // 16 bytes (checked above); I32x4 is 16 bytes of plain integer lanes (repr C [i32; 4] or
    // repr transparent v128), valid for any bit pattern, with alignment 16.
    let tiles =
        unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<I32x4>(), z.tiles) };
    Ok(Scratch {
        tiles,
        a16: scope.alloc_slice(z.a16).map_err(err)?,
        b16: scope.alloc_slice(z.b16).map_err(err)?,
        row16: scope.alloc_slice(z.row16).map_err(err)?,
        a8: scope.alloc_slice(z.a8).map_err(err)?,
        row8: scope.alloc_slice(z.row8).map_err(err)?,
        sums: scope.alloc_slice(z.sums).map_err(err)?,
        zps: scope.alloc_slice(z.zps).map_err(err)?,
        f32_row: scope.alloc_slice(z.f32_row).map_err(err)?,
    })
}

impl Problem<'_> {
    fn kbn(&self) -> usize {
        self.b.k_padded() / KB
    }

    /// Rows per M block, a multiple of [`MR`].
    pub(crate) fn mc(&self) -> usize {
        self.mc.max(1).div_ceil(MR) * MR
    }

    /// The scratch buffers this problem needs (per task).
    pub(crate) fn sizes(&self) -> Sizes {
        let kp = self.b.k_padded();
        let rows = self.mc().min(self.m.div_ceil(MR) * MR);
        let gemv = self.m == 1;
        let relaxed = self.kernel == KernelKind::Relaxed;
        let baseline = !gemv && !relaxed;
        let size = |on: bool, x: usize| if on { x } else { 0 };
        let strided_f32 = match &self.a {
            ASource::F32(a, _) => a.col_stride() != 1,
            ASource::Q8 { .. } => false,
        };
        Sizes {
            tiles: size(!gemv, rows.saturating_mul(MAX_BLOCKS)),
            a16: size(baseline, rows.saturating_mul(kp)),
            b16: size(baseline && self.b.wide_panel(0).is_none(), kp * NR),
            row16: kp,
            a8: size(relaxed, rows.saturating_mul(2 * kp)),
            row8: size(relaxed, kp),
            sums: size(relaxed, rows),
            zps: size(relaxed, rows),
            f32_row: size(strided_f32, self.k),
        }
    }

    /// Runs the whole problem.
    ///
    /// # Safety
    /// `epi` must address a valid, exclusively borrowed output of `m x n` elements, where `n`
    /// is `b.n()`.
    pub(crate) unsafe fn run(&self, epi: &Epilogue<'_>, s: &mut Scratch<'_>) {
        if self.m == 0 || self.b.n() == 0 {
            return;
        }
        if self.m == 1 {
            // SAFETY: forwarded.
            unsafe { self.gemv(epi, s) };
            return;
        }
        let mc = self.mc();
        let mut i0 = 0;
        while i0 < self.m {
            let rows = mc.min(self.m - i0);
            // SAFETY: forwarded; rows i0..i0+rows are inside the output.
            unsafe { self.block(epi, s, i0, rows) };
            i0 += rows;
        }
    }

    /// The M block of rows `i0 .. i0 + rows` (`rows <= mc`) with the chosen kernel: the unit of
    /// work of [`Problem::run`], and a task of the multi-threaded GEMM (blocks write disjoint
    /// rows of the output).
    ///
    /// # Safety
    /// As [`Problem::run`], with `m >= 2`; rows `i0 .. i0 + rows` exist; no one else writes
    /// them during the call.
    pub(crate) unsafe fn block(
        &self,
        epi: &Epilogue<'_>,
        s: &mut Scratch<'_>,
        i0: usize,
        rows: usize,
    ) {
        // SAFETY: forwarded.
        unsafe {
            match self.kernel {
                KernelKind::Baseline => self.block_baseline(epi, s, i0, rows),
                KernelKind::Relaxed => self.block_relaxed(epi, s, i0, rows),
            }
        }
    }

    /// Packs rows `i0 .. i0 + rows` of A as i16 tiles of [`MR`] rows.
    fn pack_a16(&self, s: &mut Scratch<'_>, i0: usize, rows: usize) {
        let kbn = self.kbn();
        if kbn == 0 {
            return; // K = 0: nothing to pack, every tile is zero
        }
        let tiles = rows.div_ceil(MR);
        for t in 0..tiles {
            let tile = &mut s.a16[t * kbn * MR * KB..(t + 1) * kbn * MR * KB];
            for r in 0..MR {
                // Row r of the tile: block q at (q * MR + r) * KB.
                let dst = &mut tile[r * KB..];
                if t * MR + r < rows {
                    let i = i0 + t * MR + r;
                    self.a.row_blocks(i, self.k, kbn, dst, MR * KB, s.f32_row);
                } else {
                    for q in 0..kbn {
                        dst[q * MR * KB..q * MR * KB + KB].fill(0);
                    }
                }
            }
        }
    }

    /// One M block with the baseline kernel.
    ///
    /// # Safety
    /// As [`Problem::run`]; rows `i0 .. i0 + rows` exist.
    unsafe fn block_baseline(
        &self,
        epi: &Epilogue<'_>,
        s: &mut Scratch<'_>,
        i0: usize,
        rows: usize,
    ) {
        let n = self.b.n();
        let kbn = self.kbn();
        let panels = n.div_ceil(NR);
        self.pack_a16(s, i0, rows);
        for p in 0..panels {
            // The pre-widened panel of the pack, or this call's widened copy.
            let panel = match self.b.wide_panel(p) {
                Some(w) => w.as_ptr(),
                None => {
                    self.b.widen_panel(p, s.b16);
                    s.b16.as_ptr()
                }
            };
            // Tiles of MAX_BLOCKS consecutive panels are stored together, row by row.
            let g = p % MAX_BLOCKS;
            for t in 0..rows.div_ceil(MR) {
                // SAFETY: tile t of the packed block holds kbn blocks of 2 x 8 i16, the widened
                // panel kbn blocks of 4 x 8 i16.
                let acc = unsafe { tile_2x4(kbn, s.a16.as_ptr().add(t * kbn * MR * KB), panel) };
                s.tiles[(t * MR) * MAX_BLOCKS + g] = acc[0];
                s.tiles[(t * MR + 1) * MAX_BLOCKS + g] = acc[1];
            }
            if g + 1 == MAX_BLOCKS || p + 1 == panels {
                let blocks = g + 1;
                let j0 = (p - g) * NR;
                // Compact [row][MAX_BLOCKS] into [row][blocks] when the group is partial.
                if blocks < MAX_BLOCKS {
                    for r in 0..rows {
                        for b in 0..blocks {
                            s.tiles[r * blocks + b] = s.tiles[r * MAX_BLOCKS + b];
                        }
                    }
                }
                // SAFETY: rows i0..i0+rows < m, columns j0.. < n, 1 <= blocks <= MAX_BLOCKS.
                unsafe { epi.store_rows(&s.tiles[..rows * blocks], blocks, i0, j0, n) };
            }
        }
    }

    /// One M block with the relaxed kernel (raw u8 planes, zero points corrected after).
    ///
    /// # Safety
    /// As [`Problem::run`]; rows `i0 .. i0 + rows` exist.
    unsafe fn block_relaxed(
        &self,
        epi: &Epilogue<'_>,
        s: &mut Scratch<'_>,
        i0: usize,
        rows: usize,
    ) {
        let (n, kbn, kp) = (self.b.n(), self.kbn(), self.b.k_padded());
        let tiles = rows.div_ceil(MR);
        // Pack the planes: per tile and K block, [row 0 lo | row 0 hi | row 1 lo | row 1 hi].
        for t in 0..tiles {
            for r in 0..MR {
                let local = t * MR + r;
                let row = &mut s.row8[..kp];
                if local < rows {
                    s.zps[local] =
                        self.a
                            .row_u8(i0 + local, self.k, row, &mut s.row16[..kp], s.f32_row);
                    s.sums[local] = row.iter().fold(0i32, |acc, &v| acc.wrapping_add(v as i32));
                } else {
                    row.fill(0);
                }
                let at = (t * kbn * MR + r) * 2 * KB;
                split_planes(row, kbn, &mut s.a8[at..], MR * 2 * KB);
            }
        }
        let signed = self.b.is_signed();
        let via_i16 = !relaxed_dot_is_native();
        let k = self.k as i32;
        for p in 0..n.div_ceil(NR) {
            let (j0, cols) = (p * NR, NR.min(n - p * NR));
            let panel = self.b.as_bytes()[p * kp * NR..].as_ptr();
            let (zb, cs) = self.relaxed_panel_terms(j0, cols);
            for t in 0..tiles {
                let a = s.a8.as_ptr().wrapping_add(t * kbn * MR * 2 * KB);
                // SAFETY: tile t holds kbn blocks of 32 bytes; the panel kbn blocks of 32 bytes.
                let acc = unsafe {
                    match (signed, via_i16) {
                        (true, false) => tile_2x4_relaxed::<false, false>(kbn, a, panel),
                        (false, false) => tile_2x4_relaxed::<true, false>(kbn, a, panel),
                        (true, true) => tile_2x4_relaxed::<false, true>(kbn, a, panel),
                        (false, true) => tile_2x4_relaxed::<true, true>(kbn, a, panel),
                    }
                };
                for (r, v) in acc.into_iter().enumerate().take((rows - t * MR).min(MR)) {
                    let local = t * MR + r;
                    let v = relaxed_correction(v, s.zps[local], s.sums[local], zb, cs, k);
                    // SAFETY: row i0 + local < m, columns j0..j0+cols < n.
                    unsafe { epi.store_rows(&[v], 1, i0 + local, j0, n) };
                }
            }
        }
    }

    /// M = 1 with the chosen kernel family.
    ///
    /// # Safety
    /// As [`Problem::run`].
    unsafe fn gemv(&self, epi: &Epilogue<'_>, s: &mut Scratch<'_>) {
        // SAFETY: forwarded.
        unsafe {
            match self.kernel {
                KernelKind::Baseline => self.gemv_baseline(epi, s),
                KernelKind::Relaxed => self.gemv_relaxed(epi, s),
            }
        }
    }

    /// M = 1, baseline: one packed row of A (i16, its zero point subtracted) against raw int8
    /// panels; the zero points of B are corrected with the row's sum:
    /// `sum a (b - zb) = sum a b - zb sum a`.
    ///
    /// # Safety
    /// As [`Problem::run`].
    unsafe fn gemv_baseline(&self, epi: &Epilogue<'_>, s: &mut Scratch<'_>) {
        let (n, kbn, kp) = (self.b.n(), self.kbn(), self.b.k_padded());
        let row = &mut s.row16[..kp];
        self.a.row_blocks(0, self.k, kbn, row, KB, s.f32_row);
        let row = &row[..kp];
        let sum_a = row.iter().fold(0i32, |acc, &v| acc.wrapping_add(v as i32));
        let panels = n.div_ceil(NR);
        let bytes = self.b.as_bytes();
        let symmetric = self.b.is_symmetric();
        let mut p = 0;
        while p < panels {
            let count = (panels - p).min(GEMV_PANELS);
            // A missing second panel aliases the first: computed, never stored.
            let ptrs: [*const u8; GEMV_PANELS] = core::array::from_fn(|q| {
                bytes[(p + if q < count { q } else { 0 }) * kp * NR..].as_ptr()
            });
            // SAFETY: the packed row has kbn blocks of 8 i16, each panel kbn blocks of 32 bytes.
            let acc = unsafe {
                if self.b.is_signed() {
                    gemv_2panels::<true>(kbn, row.as_ptr(), ptrs)
                } else {
                    gemv_2panels::<false>(kbn, row.as_ptr(), ptrs)
                }
            };
            for (q, v) in acc.into_iter().enumerate().take(count) {
                let j0 = (p + q) * NR;
                let v = if symmetric {
                    v
                } else {
                    let zb = I32x4::from_array(core::array::from_fn(|c| {
                        self.b.zero_points().get(j0 + c).copied().unwrap_or(0)
                    }));
                    v.sub(zb.mul(I32x4::splat(sum_a)))
                };
                // SAFETY: row 0 < m, columns j0..j0+cols < n.
                unsafe { epi.store_rows(&[v], 1, 0, j0, n) };
            }
            p += count;
        }
    }

    /// M = 1, relaxed: the raw u8 row split into 7-bit planes against raw int8 panels, zero
    /// points corrected after, as in [`Problem::block_relaxed`].
    ///
    /// # Safety
    /// As [`Problem::run`].
    unsafe fn gemv_relaxed(&self, epi: &Epilogue<'_>, s: &mut Scratch<'_>) {
        let (n, kbn, kp) = (self.b.n(), self.kbn(), self.b.k_padded());
        let row = &mut s.row8[..kp];
        let za = self.a.row_u8(0, self.k, row, &mut s.row16[..kp], s.f32_row);
        let sum_a = row.iter().fold(0i32, |acc, &v| acc.wrapping_add(v as i32));
        let planes = &mut s.a8[..2 * kp];
        split_planes(row, kbn, planes, 2 * KB);
        let (signed, via_i16) = (self.b.is_signed(), !relaxed_dot_is_native());
        let k = self.k as i32;
        let panels = n.div_ceil(NR);
        let bytes = self.b.as_bytes();
        let mut p = 0;
        while p < panels {
            let count = (panels - p).min(GEMV_PANELS);
            // A missing second panel aliases the first: computed, never stored.
            let ptrs: [*const u8; GEMV_PANELS] = core::array::from_fn(|q| {
                bytes[(p + if q < count { q } else { 0 }) * kp * NR..].as_ptr()
            });
            let a = planes.as_ptr();
            // SAFETY: the planes hold kbn blocks of 16 bytes, each panel kbn blocks of 32 bytes.
            let acc = unsafe {
                match (signed, via_i16) {
                    (true, false) => gemv_2panels_relaxed::<false, false>(kbn, a, ptrs),
                    (false, false) => gemv_2panels_relaxed::<true, false>(kbn, a, ptrs),
                    (true, true) => gemv_2panels_relaxed::<false, true>(kbn, a, ptrs),
                    (false, true) => gemv_2panels_relaxed::<true, true>(kbn, a, ptrs),
                }
            };
            for (q, v) in acc.into_iter().enumerate().take(count) {
                let j0 = (p + q) * NR;
                let (zb, cs) = self.relaxed_panel_terms(j0, NR.min(n - j0));
                let v = relaxed_correction(v, za, sum_a, zb, cs, k);
                // SAFETY: row 0 < m, columns j0..j0+cols < n.
                unsafe { epi.store_rows(&[v], 1, 0, j0, n) };
            }
            p += count;
        }
    }

    /// The zero points and column sums of columns `j0 .. j0 + cols` of B in the signed form
    /// the relaxed kernels multiply (`w` for i8 weights, `w - 128` for u8), zero past `cols`.
    fn relaxed_panel_terms(&self, j0: usize, cols: usize) -> (I32x4, I32x4) {
        let shift = if self.b.is_signed() { 0 } else { 128 };
        let lane = |v: &[i32], c: usize| v.get(j0 + c).copied().unwrap_or(0);
        let zb = I32x4::from_array(core::array::from_fn(|c| {
            if c < cols {
                lane(self.b.zero_points(), c) - shift
            } else {
                0
            }
        }));
        let cs = I32x4::from_array(core::array::from_fn(|c| {
            if c < cols {
                lane(self.b.col_sums(), c)
            } else {
                0
            }
        }));
        (zb, cs)
    }
}

/// Splits a u8 row (`kbn` blocks of [`KB`]) into the 7-bit planes of the relaxed kernels: block
/// `q` goes to `dst[q * stride ..]` as 8 bytes `a & 127`, then 8 bytes `a >> 7`.
fn split_planes(row: &[u8], kbn: usize, dst: &mut [u8], stride: usize) {
    for q in 0..kbn {
        let block = &row[q * KB..(q + 1) * KB];
        let at = q * stride;
        for (x, &v) in block.iter().enumerate() {
            dst[at + x] = v & 0x7f;
            dst[at + KB + x] = v >> 7;
        }
    }
}

/// `sum (a - za)(b - zb)` per column from a relaxed kernel's raw `sum a b` (B in signed form,
/// see [`Problem::relaxed_panel_terms`]): `- zb sum a - za sum b + k za zb`, all wrapping.
fn relaxed_correction(v: I32x4, za: i32, sum_a: i32, zb: I32x4, cs: I32x4, k: i32) -> I32x4 {
    v.sub(zb.mul(I32x4::splat(sum_a)))
        .sub(I32x4::splat(za).mul(cs))
        .add(zb.mul(I32x4::splat(k.wrapping_mul(za))))
}
