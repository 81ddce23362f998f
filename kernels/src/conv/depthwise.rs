//! Depthwise convolution (one filter per channel): one multiply-add per input value loaded, so it
//! is memory-bound and gets its own kernels instead of a GEMM.
//!
//! - NHWC: vectorised over channels, 16 channels (four independent accumulators) at a time.
//! - NCHW: vectorised over adjacent output pixels of a row, in blocks of up to 7 vectors. Each
//!   plane is copied into a stack buffer with its horizontal padding materialised (in bands of
//!   rows when it is taller than the buffer), so every pixel takes the vector path, at
//!   horizontal stride 1 or 2 (rows of 8 outputs and more split into even and odd columns
//!   once, so that every tap is one load; narrower rows two loads and a shuffle per tap).
//!   Layers that cannot (stride 3 and more, windows of more than 64 taps, rows too wide for a
//!   window's rows to fit the buffer) run only pixels whose window is inside the row at
//!   stride 1 as vectors, the rest one at a time.
use super::gather::gather4;
use super::{ConvEpilogue, Geometry, TensorLayout};
use crate::epilogue::Activation;
use crate::simd::F32x4;
use crate::stream::{map_ops, InOut};
use core::mem::MaybeUninit;
use core::ops::Range;

/// The taps of output pixel `(oy, ox)` that land inside the input: `ky` and `kx` ranges.
#[inline(always)]
fn tap_ranges(
    g: &Geometry,
    oy: usize,
    ox: usize,
) -> (core::ops::Range<usize>, core::ops::Range<usize>) {
    let range = |o: usize, s: usize, d: usize, pad: usize, k: usize, size: usize| {
        // ky valid iff 0 <= o*s + ky*d - pad < size
        let base = o * s;
        let lo = if base >= pad {
            0
        } else {
            (pad - base).div_ceil(d)
        };
        let hi = if base + (k - 1) * d < pad + size {
            k
        } else {
            // largest ky with base + ky*d < pad + size, plus one
            (pad + size).saturating_sub(base).div_ceil(d).min(k)
        };
        lo.min(hi)..hi
    };
    (
        range(
            oy,
            g.p.stride_h,
            g.p.dilation_h,
            g.p.pad_top,
            g.p.kernel_h,
            g.h,
        ),
        range(
            ox,
            g.p.stride_w,
            g.p.dilation_w,
            g.p.pad_left,
            g.p.kernel_w,
            g.w,
        ),
    )
}

/// The independent units of work and the output elements of each: output rows `(n, oy)` for
/// NHWC, output planes `(n, channel)` for NCHW. Units are contiguous in the output.
pub(crate) fn units(g: &Geometry) -> (usize, usize) {
    match g.layout {
        TensorLayout::Nhwc => (g.batch * g.ho, g.wo * g.c_out),
        TensorLayout::Nchw => (g.batch * g.c_out, g.ho * g.wo),
    }
}

/// Computes the output units `span` (see [`units`]) into `output`, which holds exactly those
/// units (the whole output when `span` is all of them).
pub(crate) fn run(
    g: &Geometry,
    input: &[f32],
    w_hwc: &[f32],
    w_chw: &[f32],
    span: Range<usize>,
    output: &mut [f32],
    epi: &ConvEpilogue<'_>,
) {
    match g.layout {
        TensorLayout::Nhwc => nhwc(g, input, w_hwc, span, output, epi),
        TensorLayout::Nchw => nchw(g, input, w_chw, span, output, epi),
    }
}

/// Loads `n <= 4` floats of `s` starting at `i` into lanes (zeros after).
#[inline(always)]
fn load_n(s: &[f32], i: usize, n: usize) -> F32x4 {
    if n == 4 {
        // SAFETY-free path: the slice index checks the bounds.
        let a: [f32; 4] = s[i..i + 4].try_into().unwrap_or([0.0; 4]);
        F32x4::from_array(a)
    } else {
        let mut a = [0.0f32; 4];
        a[..n].copy_from_slice(&s[i..i + n]);
        F32x4::from_array(a)
    }
}

#[inline(always)]
fn store_n(d: &mut [f32], i: usize, n: usize, v: F32x4) {
    let a = v.to_array();
    d[i..i + n].copy_from_slice(&a[..n]);
}

/// Most taps a window may have for the fast NHWC path (offsets live on the stack).
const MAX_TAPS: usize = 64;

/// Floats of the stack buffer an NCHW plane is copied into with its horizontal padding
/// materialised (32 KiB: e.g. 56 rows of 60 or 24 rows of 100 fit).
const PADDED_PLANE_FLOATS: usize = 8 * 1024;

fn nhwc(
    g: &Geometry,
    input: &[f32],
    w: &[f32],
    rows: Range<usize>,
    output: &mut [f32],
    epi: &ConvEpilogue<'_>,
) {
    let c = g.c_in;
    let kw = g.p.kernel_w;
    let full = if g.p.kernel_h * kw <= MAX_TAPS {
        c / 16 * 16
    } else {
        0
    };
    // Input and output lengths were validated by Conv2d::run_par: every offset computed below
    // from a valid (n, iy, ix), or (n, oy, ox) of `rows` minus `base`, plus c0 + 16 <= c is in
    // bounds.
    debug_assert_eq!(input.len(), g.batch * g.h * g.w * c);
    debug_assert!(rows.end <= g.batch * g.ho);
    debug_assert_eq!(output.len(), rows.len() * g.wo * c);
    let base = rows.start * g.wo * c; // output[0] is this element of the whole output
    let (inp, out, wp) = (input.as_ptr(), output.as_mut_ptr(), w.as_ptr());
    let mut src = [0usize; MAX_TAPS]; // input offset of each valid tap
    let mut wt = [0usize; MAX_TAPS]; // weight offset of each valid tap
    for row in rows {
        let (n, oy) = (row / g.ho, row % g.ho);
        for ox in 0..g.wo {
            let (kys, kxs) = tap_ranges(g, oy, ox);
            let at = ((n * g.ho + oy) * g.wo + ox) * c; // in the whole output (residual)
            let out_at = at - base; // in `output`
            let mut taps = 0;
            if full > 0 {
                for ky in kys.clone() {
                    let iy = oy * g.p.stride_h + ky * g.p.dilation_h - g.p.pad_top;
                    for kx in kxs.clone() {
                        let ix = ox * g.p.stride_w + kx * g.p.dilation_w - g.p.pad_left;
                        src[taps] = ((n * g.h + iy) * g.w + ix) * c;
                        wt[taps] = (ky * kw + kx) * c;
                        taps += 1;
                    }
                }
            }
            // Hot path: 16 channels (four independent accumulators) per pass.
            for c0 in (0..full).step_by(16) {
                let mut acc = [F32x4::zero(); 4];
                if let Some(b) = epi.bias {
                    // SAFETY: c0 + 16 <= c == b.len() (validated by Conv2d::run_par).
                    acc = core::array::from_fn(|v| unsafe {
                        F32x4::load(b.as_ptr().add(c0 + 4 * v))
                    });
                }
                for t in 0..taps {
                    // SAFETY: src[t] is a valid pixel's offset and c0 + 16 <= c (see above);
                    // wt[t] + c0 + 16 <= kh * kw * c == w.len().
                    unsafe {
                        let x = inp.add(src[t] + c0);
                        let k = wp.add(wt[t] + c0);
                        acc[0] = F32x4::load(x).mul_add(F32x4::load(k), acc[0]);
                        acc[1] = F32x4::load(x.add(4)).mul_add(F32x4::load(k.add(4)), acc[1]);
                        acc[2] = F32x4::load(x.add(8)).mul_add(F32x4::load(k.add(8)), acc[2]);
                        acc[3] = F32x4::load(x.add(12)).mul_add(F32x4::load(k.add(12)), acc[3]);
                    }
                }
                for (v, a) in acc.iter().enumerate() {
                    let mut y = epi.activation.apply(*a);
                    if let Some(r) = epi.residual {
                        // SAFETY: residual has the whole output's length (validated).
                        y = y.add(unsafe { F32x4::load(r.as_ptr().add(at + c0 + 4 * v)) });
                    }
                    // SAFETY: out_at + c0 + 16 <= output.len() (see above).
                    unsafe { y.store(out.add(out_at + c0 + 4 * v)) };
                }
            }
            // Remaining channels (fewer than 16, or windows too large for the tap list).
            let mut c0 = full;
            while c0 < c {
                let width = (c - c0).min(4);
                let mut acc = epi.bias.map_or(F32x4::zero(), |b| load_n(b, c0, width));
                for ky in kys.clone() {
                    let iy = oy * g.p.stride_h + ky * g.p.dilation_h - g.p.pad_top;
                    for kx in kxs.clone() {
                        let ix = ox * g.p.stride_w + kx * g.p.dilation_w - g.p.pad_left;
                        let x = load_n(input, ((n * g.h + iy) * g.w + ix) * c + c0, width);
                        acc = x.mul_add(load_n(w, (ky * kw + kx) * c + c0, width), acc);
                    }
                }
                let mut y = epi.activation.apply(acc);
                if let Some(r) = epi.residual {
                    y = y.add(load_n(r, at + c0, width));
                }
                store_n(output, out_at + c0, width, y);
                c0 += width;
            }
        }
    }
}

fn nchw(
    g: &Geometry,
    input: &[f32],
    w: &[f32],
    planes: Range<usize>,
    output: &mut [f32],
    epi: &ConvEpilogue<'_>,
) {
    let (kh, kw) = (g.p.kernel_h, g.p.kernel_w);
    let full_x = |ox: usize| tap_ranges(g, 0, ox).1 == (0..kw);
    // Output columns whose whole window is inside the input row (contiguous for any stride).
    let x_lo = (0..g.wo).find(|&ox| full_x(ox)).unwrap_or(g.wo);
    let x_hi = (0..g.wo).rfind(|&ox| full_x(ox)).map_or(0, |x| x + 1);
    // The window's weights pre-splatted, on the stack (no allocation per call); windows larger
    // than MAX_TAPS take the one-pixel path below.
    let vector_ok = kh * kw <= MAX_TAPS;
    let mut splat_buf = [F32x4::zero(); MAX_TAPS];
    // Rows with their horizontal padding materialised run every pixel through the vector path;
    // otherwise the border pixels go one at a time (for a 56x56 3x3 layer those 5 pixels of 56
    // took ~40% of the time).
    let layout = RowLayout::new(g);
    // Planes taller than the buffer go in bands of output rows whose windows' input rows fit.
    let window_rows = window_rows(g);
    let band = match (PADDED_PLANE_FLOATS / layout.len).checked_sub(window_rows) {
        Some(spare) => spare / g.p.stride_h + 1,
        None => 0,
    };
    let padded = vector_ok && g.p.stride_w <= 2 && band > 0;
    // Rows [`padded_plane`] computes several to a block (with the vertical padding as zeros).
    let narrow = g.wo < NARROW_OUTPUTS;
    let table = TapTable::new(g, layout);
    let mut buf = [const { MaybeUninit::<f32>::uninit() }; PADDED_PLANE_FLOATS];
    debug_assert_eq!(output.len(), planes.len() * g.ho * g.wo);
    let base = planes.start * g.ho * g.wo; // output[0] is this element of the whole output
    for unit in planes {
        let (n, ch) = (unit / g.c_in, unit % g.c_in);
        let plane = &input[(n * g.c_in + ch) * g.h * g.w..][..g.h * g.w];
        let taps = &w[ch * kh * kw..(ch + 1) * kh * kw];
        for (s, &t) in splat_buf.iter_mut().zip(taps) {
            *s = F32x4::splat(t);
        }
        let splat = &splat_buf[..taps.len().min(MAX_TAPS)];
        let out_base = (n * g.c_out + ch) * g.ho * g.wo; // in the whole output (residual)
        let bias = epi.bias.map_or(0.0, |b| b[ch]);
        if padded {
            let dst = &mut output[out_base - base..][..g.ho * g.wo];
            let mut oy0 = 0;
            while oy0 < g.ho {
                let oy1 = (oy0 + band).min(g.ho);
                // The padded rows (input row iy is padded row iy + pad_top) the band's windows
                // reach: (band - 1) stride_h + window_rows at most, which fit the buffer. Narrow
                // rows, which go several to a block with all the taps, get the rows of the
                // vertical padding as zeros; wide ones use only the rows inside the image.
                let (py0, py1) = (oy0 * g.p.stride_h, (oy1 - 1) * g.p.stride_h + window_rows);
                let in_image = |y: usize| y.saturating_sub(g.p.pad_top).min(g.h);
                let (iy0, iy1) = (in_image(py0), in_image(py1));
                let (above, below) = if narrow {
                    let above = g.p.pad_top.min(py1).saturating_sub(py0);
                    (above, py1 - py0 - above - (iy1 - iy0))
                } else {
                    (0, 0)
                };
                // The first row in the buffer, as a padded row.
                let row0 = if narrow { py0 } else { iy0 + g.p.pad_top };
                let dst_rows = buf.as_mut_ptr().cast::<f32>();
                // SAFETY: `buf` holds PADDED_PLANE_FLOATS >= (py1 - py0) * layout.len floats:
                // the zero rows above, the input rows, the zero rows below, all written.
                let rows = unsafe {
                    zero_floats(dst_rows, above * layout.len);
                    let inside = (iy1 - iy0) * layout.len;
                    let at = dst_rows.add(above * layout.len);
                    pad_rows(g, &plane[iy0 * g.w..iy1 * g.w], iy1 - iy0, layout, at);
                    zero_floats(at.add(inside), below * layout.len);
                    core::slice::from_raw_parts(dst_rows, (above + iy1 - iy0 + below) * layout.len)
                };
                let band_dst = &mut dst[oy0 * g.wo..oy1 * g.wo];
                // One copy of the kernel per gather stride.
                let plane = if layout.gather == 1 {
                    padded_plane::<1>
                } else {
                    padded_plane::<2>
                };
                plane(
                    g,
                    rows,
                    layout,
                    &table,
                    row0,
                    oy0..oy1,
                    splat,
                    bias,
                    band_dst,
                );
                oy0 = oy1;
            }
            epilogue_pass(
                epi,
                epi.residual.map(|r| &r[out_base..][..g.ho * g.wo]),
                dst,
            );
            continue;
        }
        for oy in 0..g.ho {
            let kys = tap_ranges(g, oy, 0).0;
            let row_at = out_base + oy * g.wo;
            let row_out = row_at - base; // in `output`
            let mut ox = 0;
            while ox < g.wo {
                if vector_ok && g.p.stride_w == 1 && ox >= x_lo && ox + 16 <= x_hi {
                    // 16 adjacent outputs whose windows are inside the row: four chains.
                    let mut acc = [F32x4::splat(bias); 4];
                    for ky in kys.clone() {
                        let iy = oy * g.p.stride_h + ky * g.p.dilation_h - g.p.pad_top;
                        let x0 = ox - g.p.pad_left;
                        // Inside the row (ox >= x_lo, ox + 15 < x_hi); checked once here.
                        let row = plane
                            [iy * g.w + x0..iy * g.w + x0 + 16 + (kw - 1) * g.p.dilation_w]
                            .as_ptr();
                        for (kx, t) in splat[ky * kw..(ky + 1) * kw].iter().enumerate() {
                            // SAFETY: kx*d + 16 <= the slice length checked above.
                            unsafe {
                                let p = row.add(kx * g.p.dilation_w);
                                acc[0] = F32x4::load(p).mul_add(*t, acc[0]);
                                acc[1] = F32x4::load(p.add(4)).mul_add(*t, acc[1]);
                                acc[2] = F32x4::load(p.add(8)).mul_add(*t, acc[2]);
                                acc[3] = F32x4::load(p.add(12)).mul_add(*t, acc[3]);
                            }
                        }
                    }
                    for (v, a) in acc.iter().enumerate() {
                        let mut y = epi.activation.apply(*a);
                        if let Some(r) = epi.residual {
                            y = y.add(load_n(r, row_at + ox + 4 * v, 4));
                        }
                        store_n(output, row_out + ox + 4 * v, 4, y);
                    }
                    ox += 16;
                } else if vector_ok && g.p.stride_w == 1 && ox >= x_lo && ox + 4 <= x_hi {
                    // Row tail: four adjacent outputs, one chain.
                    let mut acc = F32x4::splat(bias);
                    for ky in kys.clone() {
                        let iy = oy * g.p.stride_h + ky * g.p.dilation_h - g.p.pad_top;
                        let x0 = ox - g.p.pad_left;
                        let row = plane
                            [iy * g.w + x0..iy * g.w + x0 + 4 + (kw - 1) * g.p.dilation_w]
                            .as_ptr();
                        for (kx, t) in splat[ky * kw..(ky + 1) * kw].iter().enumerate() {
                            // SAFETY: kx*d + 4 <= the slice length checked above.
                            acc = unsafe { F32x4::load(row.add(kx * g.p.dilation_w)) }
                                .mul_add(*t, acc);
                        }
                    }
                    let mut y = epi.activation.apply(acc);
                    if let Some(r) = epi.residual {
                        y = y.add(load_n(r, row_at + ox, 4));
                    }
                    store_n(output, row_out + ox, 4, y);
                    ox += 4;
                } else {
                    let kxs = tap_ranges(g, oy, ox).1;
                    let mut acc = bias;
                    for ky in kys.clone() {
                        let iy = oy * g.p.stride_h + ky * g.p.dilation_h - g.p.pad_top;
                        for kx in kxs.clone() {
                            let ix = ox * g.p.stride_w + kx * g.p.dilation_w - g.p.pad_left;
                            acc += plane[iy * g.w + ix] * taps[ky * kw + kx];
                        }
                    }
                    let mut y = epi.activation.apply_scalar(acc);
                    if let Some(r) = epi.residual {
                        y += r[row_at + ox];
                    }
                    output[row_out + ox] = y;
                    ox += 1;
                }
            }
        }
    }
}

/// Output rows narrower than this go several to a block in [`padded_plane`].
const NARROW_OUTPUTS: usize = 16;

/// How [`pad_rows`] lays out one padded input row (padded column `j` is input column
/// `j - pad_left`, zero outside the input).
#[derive(Clone, Copy, Debug)]
struct RowLayout {
    /// Floats from the inputs of one output to those of the next: 1, or 2 for a stride-2 row
    /// kept whole (read with two loads and a shuffle per tap and 4 outputs).
    gather: usize,
    /// A split stride-2 row: the length of each half (see [`RowLayout::at`]); 0 otherwise.
    half: usize,
    /// Floats per padded row.
    len: usize,
}

/// Narrowest stride-2 output rows whose input rows are split. Narrower, the split's fixed cost
/// per row outweighs the shuffles it saves: a 14x14 5x5 layer (7 outputs a row) ran 1.11x
/// slower split, a 28x28 one (14) the same, wider ones 1.1-1.4x faster.
const SPLIT_MIN_OUTPUTS: usize = 8;

impl RowLayout {
    fn new(g: &Geometry) -> Self {
        // Room for the outputs rounded up to a vector, plus the window's reach.
        let reach = (g.p.kernel_w - 1) * g.p.dilation_w;
        let outputs = g.wo.next_multiple_of(4);
        if g.p.stride_w == 1 {
            Self {
                gather: 1,
                half: 0,
                len: outputs + reach,
            }
        } else if g.wo >= SPLIT_MIN_OUTPUTS {
            let half = outputs + reach / 2;
            Self {
                gather: 1,
                half,
                len: 2 * half,
            }
        } else {
            Self {
                gather: 2,
                half: 0,
                len: 2 * outputs + reach,
            }
        }
    }

    /// Where in the row padded column `j` is: `j`, but in a split row the even columns come
    /// first and the odd ones `half` floats later, so that the columns `2 ox + j` of adjacent
    /// outputs `ox` sit side by side (a deinterleave once per input row instead of a shuffle
    /// per tap and vector).
    fn at(&self, j: usize) -> usize {
        if self.half > 0 {
            j % 2 * self.half + j / 2
        } else {
            j
        }
    }
}

/// Writes `n` zeros at `d`: a plain loop of vector stores, not `write_bytes`, which becomes a
/// `memory.fill` call into the engine (see [`pad_rows`]).
///
/// # Safety
/// `d[0 .. n]` writable.
unsafe fn zero_floats(d: *mut f32, n: usize) {
    let zero = core::hint::black_box(F32x4::zero());
    let mut i = 0;
    // SAFETY: i + 4 <= n, then i < n: inside d[0 .. n].
    unsafe {
        while i + 4 <= n {
            zero.store(d.add(i));
            i += 4;
        }
        while i < n {
            *d.add(i) = zero.lane(0);
            i += 1;
        }
    }
}

/// Copies the `n` input rows `rows` (`n * g.w` floats) into `dst` as padded rows laid out as
/// `layout` says. Returns the filled `n * layout.len` floats.
///
/// # Safety
/// `dst[0 .. n * layout.len]` writable (uninitialised is fine) and not aliased.
unsafe fn pad_rows<'a>(
    g: &Geometry,
    rows: &[f32],
    n: usize,
    layout: RowLayout,
    dst: *mut f32,
) -> &'a [f32] {
    let rows = &rows[..n * g.w];
    if layout.half > 0 {
        // SAFETY: forwarded (2 half == layout.len).
        return unsafe { SplitRow::new(g.p.pad_left, g.w, layout.half).pad_rows(rows, n, dst) };
    }
    // Whole rows: `pad_left` zeros, the row, zeros up to `row_len`.
    let row_len = layout.len;
    let left = g.p.pad_left.min(row_len);
    let body = g.w.min(row_len - left);
    // Plain loops, not `copy_nonoverlapping` / `write_bytes`: those become `memory.copy` and
    // `memory.fill`, which V8 runs as calls into the engine, three per row of a few dozen
    // floats. The zero is opaque (and ORed into the copied vectors) so that LLVM cannot turn
    // the loops back into those calls.
    let zero = core::hint::black_box(F32x4::zero());
    let z = zero.lane(0);
    // SAFETY: the caller provides n * row_len writable floats; every one is written below
    // before the slice is formed; reads stay within row iy of `rows` (body <= g.w).
    unsafe {
        for iy in 0..n {
            let d = dst.add(iy * row_len);
            let s = rows.as_ptr().add(iy * g.w);
            for j in 0..left {
                *d.add(j) = z;
            }
            let d = d.add(left);
            let mut j = 0;
            while j + 4 <= body {
                F32x4::load(s.add(j)).or_bits(zero).store(d.add(j));
                j += 4;
            }
            while j < body {
                *d.add(j) = f32::from_bits((*s.add(j)).to_bits() | z.to_bits());
                j += 1;
            }
            for j in body..row_len - left {
                *d.add(j) = z;
            }
        }
        core::slice::from_raw_parts(dst, n * row_len)
    }
}

/// Padding one row at stride 2, split (see [`RowLayout::at`]): `d[e]` is padded column `2 e`
/// and `d[half + e]` padded column `2 e + 1`, for `e < half`. Every row of a layer has the same
/// shape, so where its parts start is worked out once, in [`SplitRow::new`]; per row the work
/// is vectors, and no per-column bounds tests (the scalar edges of a first version made a
/// 14-wide row's padding cost three times the unsplit one).
struct SplitRow {
    left: usize,
    w: usize,
    half: usize,
    /// `e < first`: both columns left of the row (but for column `2 first - 1` when that is
    /// `left`: the row's first float).
    first: usize,
    /// `first <= e < body_end`, by 4: 8 floats of the row from `2 e - left`.
    body_end: usize,
    /// Bit masks of the floats of the 8 from `2 body_end - left` that are inside the row, when
    /// some are and `body_end + 4 <= half` (the row's last floats); past it, zeros.
    last: Option<[F32x4; 2]>,
}

impl SplitRow {
    /// [`pad_rows`] for split rows: the `n` rows of `rows` (`n w` floats) into `dst`, `2 half`
    /// floats each. A function of its own: inlined into the depthwise driver, a 56-wide
    /// layer's padding ran 1.06x slower, while the whole-row loop runs faster inlined.
    ///
    /// # Safety
    /// `dst[0 .. 2 half n]` writable (uninitialised is fine) and not aliased.
    #[inline(never)]
    unsafe fn pad_rows<'a>(&self, rows: &[f32], n: usize, dst: *mut f32) -> &'a [f32] {
        let len = 2 * self.half;
        for iy in 0..n {
            // SAFETY: row iy of the n * len floats the caller provides, all written.
            unsafe { self.pad(&rows[iy * self.w..], dst.add(iy * len)) };
        }
        // SAFETY: every one of the n * len floats was written above.
        unsafe { core::slice::from_raw_parts(dst, n * len) }
    }

    fn new(left: usize, w: usize, half: usize) -> Self {
        let first = left.div_ceil(2).min(half);
        let mut body_end = first;
        while body_end + 4 <= half && 2 * body_end - left + 8 <= w {
            body_end += 4;
        }
        let at = 2 * body_end;
        let last = (body_end + 4 <= half && at < left + w).then(|| {
            let inside = |i: usize| if at + i < left + w { u32::MAX } else { 0 };
            [0, 4].map(|o| F32x4::from_array([0, 1, 2, 3].map(|i| f32::from_bits(inside(o + i)))))
        });
        Self {
            left,
            w,
            half,
            first,
            body_end,
            last,
        }
    }

    /// Pads the row at the start of `rest` (the rest of the band: the row's last vector may
    /// read, then mask off, floats of the next row) into `d`.
    ///
    /// # Safety
    /// `d[0 .. 2 half]` writable, not overlapping `rest`; `rest.len() >= w`.
    #[inline(always)]
    unsafe fn pad(&self, rest: &[f32], d: *mut f32) {
        let (left, w, half) = (self.left, self.w, self.half);
        let row = &rest[..w];
        // Opaque, so that LLVM cannot turn the stores into `memory.fill` calls (see pad_row).
        let zero = core::hint::black_box(F32x4::zero());
        let z = zero.lane(0);
        let split = |a: F32x4, b: F32x4, e: usize| {
            // SAFETY: e + 4 <= half (callers below): inside d[0 .. 2 half].
            unsafe {
                F32x4::even_lanes(a, b).store(d.add(e));
                F32x4::odd_lanes(a, b).store(d.add(half + e));
            }
        };
        // SAFETY: every e written below is < half: d[e] and d[half + e] are inside
        // d[0 .. 2 half]; the body reads row[2 e - left ..][..8] (inside the row, SplitRow::new).
        unsafe {
            for e in 0..self.first {
                *d.add(e) = z;
                *d.add(half + e) = z;
            }
            if self.first > 0 && 2 * self.first - 1 == left && w > 0 {
                *d.add(half + self.first - 1) = row[0];
            }
            let mut e = self.first;
            while e < self.body_end {
                let p = row.as_ptr().add(2 * e - left);
                split(F32x4::load(p), F32x4::load(p.add(4)), e);
                e += 4;
            }
            if let Some([ma, mb]) = self.last {
                let from = 2 * e - left;
                let [a, b] = match rest.get(from..from + 8) {
                    Some(x) => [0, 4].map(|o| F32x4::load(x.as_ptr().add(o))),
                    None => {
                        // The band's last row: copy what is left (not copy_from_slice, which
                        // becomes a `memory.copy` call).
                        let mut t = [z; 8];
                        for (t, x) in t.iter_mut().zip(&row[from..]) {
                            *t = f32::from_bits(x.to_bits() | z.to_bits());
                        }
                        [0, 4].map(|o| F32x4::from_array([t[o], t[o + 1], t[o + 2], t[o + 3]]))
                    }
                };
                split(a.and_bits(ma), b.and_bits(mb), e);
                e += 4;
            }
            // Past the row: zeros.
            while e + 4 <= half {
                zero.store(d.add(e));
                zero.store(d.add(half + e));
                e += 4;
            }
            // Padded column j: the row's float j - left, or zero outside the row.
            let column = |j: usize| {
                j.checked_sub(left)
                    .and_then(|i| row.get(i))
                    .map_or(z, |v| *v)
            };
            while e < half {
                *d.add(e) = column(2 * e);
                *d.add(half + e) = column(2 * e + 1);
                e += 1;
            }
        }
    }
}

/// Output rows `oys` of one NCHW plane (`dst`, `oys.len() x g.wo`) of a depthwise layer with
/// horizontal stride 1 or 2 from padded input rows (with the vertical padding's zero rows when
/// `g.wo < NARROW_OUTPUTS`), the first of which is padded row `row0` (input row
/// `row0 - pad_top`); bias only (the activation and residual follow in [`epilogue_pass`]).
///
/// Each output row goes in blocks of up to 7 vectors of adjacent outputs (see below for why
/// not more), the last block moved back to end at the row's end (recomputing, bit-identically,
/// outputs the block before wrote) rather than narrowed: a block's vectors are independent
/// chains of one multiply-add per tap, so a block takes about taps times the multiply-add
/// latency for any width the registers hold, and fewer, wider blocks finish a row sooner.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn padded_plane<const G: usize>(
    g: &Geometry,
    rows: &[f32],
    layout: RowLayout,
    table: &TapTable,
    row0: usize,
    oys: Range<usize>,
    splat: &[F32x4],
    bias: f32,
    dst: &mut [f32],
) {
    debug_assert!(layout.gather == G && g.p.kernel_h * g.p.kernel_w <= MAX_TAPS);
    let plane = Plane {
        g,
        rows,
        len: layout.len,
        table,
        row0,
        splat,
        bias,
    };
    // The widest blocks the row holds, up to 7 vectors (4 when gathering), and for narrow
    // rows up to 7 vectors over several rows. V8 schedules a loop body's loads (effectful,
    // kept in program order) ahead of its arithmetic (pure, placed late), so during a tap all
    // of a block's input vectors (when gathering, twice as many loads, before the shuffles)
    // are live at once with its accumulators and the weight, and x64 V8 allocates 15 vector
    // registers. Wider blocks spill: 8 vectors, or 4 with three taps per loop turn, ran at
    // half the speed. Narrow rows one at a time left a 7x7 layer's blocks one or two chains:
    // 1.5x slower than unrolled taps. Wide rows: as few blocks as 7 vectors allow, each as
    // narrow as that many allow (a block takes about as long at 5 vectors as at 7; 96 outputs
    // are 4 blocks of 6).
    let blocks = g.wo.div_ceil(28);
    match (G, g.wo) {
        (1, 28..) => match g.wo.div_ceil(4 * blocks) {
            7 => plane.wide::<G, 7>(oys, dst),
            6 => plane.wide::<G, 6>(oys, dst),
            5 => plane.wide::<G, 5>(oys, dst),
            _ => plane.wide::<G, 4>(oys, dst),
        },
        (_, NARROW_OUTPUTS..) => plane.wide::<G, 4>(oys, dst),
        (1, 8..) => plane.narrow::<G, 2, 3, 3>(oys, dst),
        (_, 8..) => plane.wide::<G, 2>(oys, dst),
        (1, 4..) => plane.narrow::<G, 1, 7, 3>(oys, dst),
        (_, 4..) => plane.narrow::<G, 1, 4, 2>(oys, dst),
        _ => plane.tiny::<G>(oys, dst),
    }
}

/// What [`padded_plane`]'s loops share. Each loop is a function of its own: as one function,
/// the block shapes' code made V8 allocate the hot loops' registers worse (a 56x56 layer
/// 1.03-1.07x, 2x96 planes 1.06x slower).
struct Plane<'a> {
    g: &'a Geometry,
    rows: &'a [f32],
    /// Floats per padded row.
    len: usize,
    table: &'a TapTable,
    /// The first row of `rows`, as a padded row.
    row0: usize,
    splat: &'a [F32x4],
    bias: f32,
}

impl Plane<'_> {
    /// The windows of output row `oy`: all the taps for blocks of several rows (`all`, over
    /// the zero rows of the vertical padding); for one row, only the window rows inside the
    /// image (a flat plane, 3 rows under a 5x5 window, would otherwise do 5/3 the work).
    #[inline(always)]
    fn window(&self, oy: usize, all: bool) -> Window<'_> {
        let (g, kh, kw) = (self.g, self.g.p.kernel_h, self.g.p.kernel_w);
        let inside = &self.table.inside;
        debug_assert!(!inside.contains(&oy) || tap_ranges(g, oy, 0).0 == (0..kh));
        let kys = if all || inside.contains(&oy) {
            0..kh
        } else {
            tap_ranges(g, oy, 0).0
        };
        // Padded row oy stride_h + ky dilation_h is window row ky's. (No rows: a window all in
        // the padding, which reads nothing.)
        let first_row = if kys.is_empty() {
            0
        } else {
            (oy * g.p.stride_h + kys.start * g.p.dilation_h - self.row0) * self.len
        };
        Window {
            rows: self.rows,
            first_row,
            row_stride: g.p.stride_h * self.len,
            offsets: &self.table.offsets[..kys.len() * kw],
            slack: self.table.slack,
            taps: &self.splat[kys.start * kw..kys.end * kw],
            bias: self.bias,
        }
    }

    /// Rows `oys` into `dst`, one at a time in blocks of `V` vectors (`g.wo >= 4 V`).
    #[inline(never)]
    fn wide<const G: usize, const V: usize>(&self, oys: Range<usize>, dst: &mut [f32]) {
        let wo = self.g.wo;
        for (i, oy) in oys.enumerate() {
            self.window(oy, false)
                .rows::<G, V, 1>(&mut dst[i * wo..(i + 1) * wo], wo);
        }
    }

    /// Rows `oys` into `dst`, `R` at a time (then `R2`, then one) in blocks of `V` vectors
    /// (`g.wo >= 4 V`; the rows include the vertical padding's zero rows).
    #[inline(never)]
    fn narrow<const G: usize, const V: usize, const R: usize, const R2: usize>(
        &self,
        oys: Range<usize>,
        dst: &mut [f32],
    ) {
        let (wo, oy0, end) = (self.g.wo, oys.start, oys.end);
        let mut oy = oy0;
        while oy < end {
            let out = &mut dst[(oy - oy0) * wo..(end - oy0) * wo];
            oy += match end - oy {
                left if left >= R => self.window(oy, true).rows::<G, V, R>(out, wo),
                left if R2 > 1 && left >= R2 => self.window(oy, true).rows::<G, V, R2>(out, wo),
                _ => self.window(oy, false).rows::<G, V, 1>(out, wo),
            };
        }
    }

    /// Rows `oys` of fewer than 4 outputs into `dst`; the reads stay inside the rows (their
    /// layout has room for the outputs rounded up to 4).
    #[inline(never)]
    fn tiny<const G: usize>(&self, oys: Range<usize>, dst: &mut [f32]) {
        let wo = self.g.wo;
        for (i, oy) in oys.enumerate() {
            let [[acc]] = self.window(oy, false).block::<G, 1, 1>(0);
            store_n(dst, i * wo, wo, acc);
        }
    }
}

/// What the planes of a padded depthwise layer share, worked out once per call (not per
/// plane: a 2x96 plane's kernel is short enough for a table built with two divisions per tap
/// to weigh).
struct TapTable {
    /// Offset of tap `(ky, kx)` from the window's first padded row, for output 0: window row
    /// `ky` is `ky dilation_h` rows further. Output `ox` adds `ox` (in units of the gather) in
    /// either layout.
    offsets: [usize; MAX_TAPS],
    /// How far the furthest tap of a window row lies past its last one (the odd half of a
    /// split row comes after the even half).
    slack: usize,
    /// Output rows whose window lies wholly inside the image vertically (so that the hot loop
    /// tests a range instead of dividing for every row).
    inside: Range<usize>,
}

impl TapTable {
    fn new(g: &Geometry, layout: RowLayout) -> Self {
        let (kh, kw, d) = (g.p.kernel_h, g.p.kernel_w, g.p.dilation_w);
        let row_step = g.p.dilation_h * layout.len;
        let mut offsets = [0usize; MAX_TAPS];
        if kh * kw <= MAX_TAPS {
            for ky in 0..kh {
                for kx in 0..kw {
                    offsets[ky * kw + kx] = ky * row_step + layout.at(kx * d);
                }
            }
        }
        let furthest = (0..kw).map(|kx| layout.at(kx * d)).max().unwrap_or(0);
        let first_inside = g.p.pad_top.div_ceil(g.p.stride_h);
        let inside_end = (g.h + g.p.pad_top)
            .checked_sub(window_rows(g))
            .map_or(0, |span| span / g.p.stride_h + 1);
        Self {
            offsets,
            slack: furthest - layout.at((kw - 1) * d),
            inside: first_inside..inside_end.max(first_inside),
        }
    }
}

/// Rows of the input one output row's window spans.
fn window_rows(g: &Geometry) -> usize {
    (g.p.kernel_h - 1) * g.p.dilation_h + 1
}

/// The part of the padded rows the windows of one output row read, and of the rows after it
/// when they have the same taps (see [`padded_plane`]).
struct Window<'a> {
    rows: &'a [f32],
    /// Offset in `rows` of the first window row.
    first_row: usize,
    /// Floats from one output row's window to the next's.
    row_stride: usize,
    /// Offset of each tap from `first_row`, for output 0.
    offsets: &'a [usize],
    /// How far the largest offset lies past the last: 0 unless the rows are split.
    slack: usize,
    /// The taps' weights, splatted.
    taps: &'a [F32x4],
    bias: f32,
}

impl Window<'_> {
    /// Output rows `0 .. R` of `out` (`wo >= 4 V` outputs each), in blocks of `V` vectors
    /// per row, the last moved back to end at the row's end. Returns `R`.
    #[inline(always)]
    fn rows<const G: usize, const V: usize, const R: usize>(
        &self,
        out: &mut [f32],
        wo: usize,
    ) -> usize {
        let mut ox = 0;
        loop {
            let at = ox.min(wo - 4 * V);
            for (r, row) in self.block::<G, V, R>(at).into_iter().enumerate() {
                for (v, a) in row.into_iter().enumerate() {
                    store_n(out, r * wo + at + 4 * v, 4, a);
                }
            }
            if at + 4 * V == wo {
                return R;
            }
            ox += 4 * V;
        }
    }

    /// Bias plus the window's taps for the `4 V` adjacent outputs from output column `ox` of
    /// `R` rows: one loop turn per tap, so the loop body holds only that tap's loads (see
    /// [`padded_plane`]).
    #[inline(always)]
    fn block<const G: usize, const V: usize, const R: usize>(&self, ox: usize) -> [[F32x4; V]; R] {
        let mut acc = [[F32x4::splat(self.bias); V]; R];
        // (Written with `last`, not a precomputed largest offset: Node's V8 ran that 1.04x
        // slower.)
        let Some(&last) = self.offsets.last() else {
            return acc;
        };
        // One bounds check for the block: its furthest read is the last row's last vector's
        // at the largest offset.
        let start = self.first_row + G * ox;
        let reach = (R - 1) * self.row_stride + last + self.slack;
        let base = self.rows[start..start + reach + 4 * G * V].as_ptr();
        for (&o, t) in self.offsets.iter().zip(self.taps) {
            // SAFETY: vector v of row r of a tap reads 4 G floats from r row_stride + o + 4 G v
            // <= reach + 4 G (V - 1), inside the range checked above.
            unsafe {
                let p = base.add(o);
                for (r, row) in acc.iter_mut().enumerate() {
                    let q = p.add(r * self.row_stride);
                    for (v, a) in row.iter_mut().enumerate() {
                        *a = gather4::<G>(q.add(4 * G * v)).mul_add(*t, *a);
                    }
                }
            }
        }
        acc
    }
}

/// Activation and residual over a finished plane `dst` (still in L1), as passes of their own:
/// inside the multiply-add loop the activation's code (a `match` over every kind, GELU's
/// included) bloated the loop V8 has to allocate registers for; here each is one tight loop.
fn epilogue_pass(epi: &ConvEpilogue<'_>, residual: Option<&[f32]>, dst: &mut [f32]) {
    if epi.activation != Activation::Identity {
        // Validated by Conv2d::run_par.
        crate::activation::run(epi.activation, InOut::in_place(dst));
    }
    if let Some(r) = residual {
        map_ops(&mut InOut::in_place(dst), r, 0.0, |y, r| y.add(r));
    }
}
