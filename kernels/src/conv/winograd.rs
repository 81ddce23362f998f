//! Winograd F(2x2, 3x3): 3x3 stride-1 convolutions with 16 multiply-adds per 2x2 output tile
//! and input channel, where im2col needs 36.
//!
//! Per tile and channel, the 4x4 input patch `d` becomes `V = Bᵀ d B`, the filter `g` becomes
//! `U = G g Gᵀ` (once, in [`WinogradFilters::new`]), and the output tile is
//! `Y = Aᵀ (Σ_c U ⊙ V) A` (Lavin and Gray, 2015). The channel sum is 16 independent GEMMs, one
//! per position `ξ` of the 4x4 transform: `M_ξ[o][tile] = Σ_c U_ξ[o][c] V_ξ[c][tile]`. The GEMM's
//! 4x8 microkernel computes them unchanged, with `U_ξ` as its A strip (4 output channels, packed
//! once) and `V_ξ` as its B panel (8 tiles, transformed straight into the panel layout). Lanes
//! are tiles, so the output transform yields vectors of 4 tiles whose interleaved pairs are 8
//! consecutive pixels of an NCHW output row: plain vector stores.
//!
//! Scope: groups 1, [`MIN_C`] (NHWC: [`MIN_C_NHWC`]) to [`MAX_C`] input channels, outputs at
//! least [`MIN_WIDTH`] wide; everything else takes the implicit im2col GEMM. NHWC runs the same
//! arithmetic with one 4x4 transpose more on each side (lanes are channels there), so both
//! layouts give the same bits.
//!
//! No scratch memory: the 16 `V_ξ` panels of one strip of tiles, for up to 128 channels, live
//! on the stack (64 KiB); wider layers sum over blocks of 128 channels through the output (see
//! [`run_blocked`]).
//!
//! Node 20, relaxed build, interleaved A/B against im2col (10th percentiles): 64x56x56 0.65,
//! 128x28x28 0.69, 64x14x14 0.66, 16x56x56 0.84, 8 channels 0.93, 4 channels 0.98, 3 channels
//! 1.54 (16 microkernel calls of depth 3 per strip: the call and transform costs dominate).
//! These figures predate the panels that pair half panels across rows ([`Panel`]), which made
//! rows of an odd number of half panels faster still (64x56x56: 1.08-1.13x).
//!
//! Accuracy: `B` and `A` hold only 0 and ±1, `G` also ±1/2, so on small integers (the tests)
//! the result is exact; on general data the error stays within a few ulp of the sum of
//! `|x| |w|` (measured in the tests).
use super::{ConvEpilogue, Disjoint, Geometry, TensorLayout};
use crate::epilogue::Activation;
use crate::gemm::kernel::{tile_packed, Tile, MR, NR};
use crate::simd::F32x4;
use alloc::vec::Vec;

/// Input channels the stack panels hold: 16 positions x 8 tiles x 128 channels = 64 KiB.
/// Wider layers sum over blocks of this many channels.
const BLOCK_C: usize = 128;
/// Most input channels Winograd takes: its filters are 16/9 the size of im2col's, and the
/// convolution keeps both (narrow outputs, and NHWC below 16 channels, use im2col), so
/// 512 x 512 filters hold 25 MiB.
const MAX_C: usize = 512;
/// Fewest input channels where Winograd pays in NCHW (see the table above).
const MIN_C: usize = 8;
/// The same in NHWC, whose transforms cost a transpose more: 8 channels ran 1.10x the time of
/// im2col, 16 0.85-0.94x, 32 0.76x, 64 and more 0.65-0.67x (Node 20, interleaved, p10).
const MIN_C_NHWC: usize = 16;
/// Narrowest output where Winograd pays: the tiles of a row fill at least one half panel (4).
const MIN_WIDTH: usize = 8;
/// Positions of the 4x4 transform.
const XI: usize = 16;
/// Tiles per B panel (one microkernel call): the GEMM's `NR`.
const TILES: usize = NR;
/// Input columns half a panel of tiles (4) reads: 2 per tile plus the 2 the last window adds.
const HALF_SPAN: usize = 2 * 4 + 2;

/// Filters in the transform domain: `u[((ξ * strips + s) * c + ci) * MR + r]` is
/// `U_ξ[s * MR + r][ci]`, zero past the last output channel (the packed-A layout of
/// [`tile_packed`]: one strip of `MR` output channels per call).
#[derive(Clone, Debug)]
pub(super) struct WinogradFilters {
    u: Vec<f32>,
    c: usize,
    o: usize,
}

impl WinogradFilters {
    /// Whether a 3x3 layer of this geometry can take Winograd (the layout and output width are
    /// checked per call, see [`WinogradFilters::takes`]).
    pub fn applies(p: &super::Conv2dParams, c_in: usize) -> bool {
        (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w) == (3, 3, 1, 1)
            && (p.dilation_h, p.dilation_w, p.groups) == (1, 1, 1)
            && (MIN_C..=MAX_C).contains(&c_in)
    }

    /// Whether a call in `layout` with outputs `wo` wide runs here (or takes im2col).
    pub fn takes(&self, layout: TensorLayout, wo: usize) -> bool {
        wo >= MIN_WIDTH && (layout == TensorLayout::Nchw || self.c >= MIN_C_NHWC)
    }

    /// Transforms ONNX-layout 3x3 filters `weights[o][c][3][3]`, in f64 and rounded once.
    pub fn new(weights: &[f32], o: usize, c: usize) -> Self {
        const G: [[f64; 3]; 4] = [
            [1.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [0.5, -0.5, 0.5],
            [0.0, 0.0, 1.0],
        ];
        let strips = o.div_ceil(MR);
        let mut u = alloc::vec![0.0f32; XI * strips * c * MR];
        for oc in 0..o {
            for ci in 0..c {
                let g = &weights[(oc * c + ci) * 9..][..9];
                // G g: 4x3.
                let gg: [[f64; 3]; 4] = core::array::from_fn(|i| {
                    core::array::from_fn(|b| (0..3).map(|a| G[i][a] * g[a * 3 + b] as f64).sum())
                });
                for (i, ggi) in gg.iter().enumerate() {
                    for (j, gj) in G.iter().enumerate() {
                        let v: f64 = (0..3).map(|b| ggi[b] * gj[b]).sum();
                        let xi = i * 4 + j;
                        u[((xi * strips + oc / MR) * c + ci) * MR + oc % MR] = v as f32;
                    }
                }
            }
        }
        Self { u, c, o }
    }
}

/// `Bᵀ d B` of four tiles side by side: `rows[i]` is input row `i` of the first tile's 4x4
/// patch, the next tiles start 2 columns further (reads `rows[i][0 .. 10]`). Returns `V_ξ` with
/// one tile per lane.
///
/// # Safety
/// `rows[i][0 .. 10]` readable.
#[inline(always)]
unsafe fn input_transform(rows: [*const f32; 4]) -> [F32x4; XI] {
    // d[i][j]: patch element (i, j) of the four tiles. Columns 0 and 1 of tile t are lanes
    // 2t and 2t+1 of the first 8 floats; columns 2 and 3, the same from 2 floats on.
    let d: [[F32x4; 4]; 4] = core::array::from_fn(|i| {
        // SAFETY: the four loads read rows[i][0 .. 10], the caller's contract.
        let (a, b, c, e) = unsafe {
            (
                F32x4::load(rows[i]),
                F32x4::load(rows[i].add(4)),
                F32x4::load(rows[i].add(2)),
                F32x4::load(rows[i].add(6)),
            )
        };
        [
            F32x4::even_lanes(a, b),
            F32x4::odd_lanes(a, b),
            F32x4::even_lanes(c, e),
            F32x4::odd_lanes(c, e),
        ]
    });
    patch_transform(&d)
}

/// `Bᵀ d B` of 4x4 patches `d[i][j]`, lane by lane (lanes are tiles in NCHW, channels in
/// NHWC): `V_ξ`, `ξ = 4 i + j`.
#[inline(always)]
fn patch_transform(d: &[[F32x4; 4]; 4]) -> [F32x4; XI] {
    // Bᵀ d (rows), then (Bᵀ d) B (columns).
    let t: [[F32x4; 4]; 4] = core::array::from_fn(|j| {
        [
            d[0][j].sub(d[2][j]),
            d[1][j].add(d[2][j]),
            d[2][j].sub(d[1][j]),
            d[1][j].sub(d[3][j]),
        ]
    });
    let mut v = [F32x4::zero(); XI];
    for i in 0..4 {
        v[i * 4] = t[0][i].sub(t[2][i]);
        v[i * 4 + 1] = t[1][i].add(t[2][i]);
        v[i * 4 + 2] = t[2][i].sub(t[1][i]);
        v[i * 4 + 3] = t[1][i].sub(t[3][i]);
    }
    v
}

/// `Aᵀ m A`: the 2x2 output tiles `y[dy][dx]` (one tile per lane) of the 16 products `m[ξ]`.
#[inline(always)]
fn output_transform(m: &[F32x4; XI]) -> [[F32x4; 2]; 2] {
    let s: [[F32x4; 4]; 2] = [
        core::array::from_fn(|j| m[j].add(m[4 + j]).add(m[8 + j])),
        core::array::from_fn(|j| m[4 + j].sub(m[8 + j]).sub(m[12 + j])),
    ];
    s.map(|r| [r[0].add(r[1]).add(r[2]), r[1].sub(r[2]).sub(r[3])])
}

/// Rows of 2x2 tiles of one call: `batch * ceil(Ho / 2)` (the tasks' units).
pub(super) fn units(geo: &Geometry) -> usize {
    geo.batch * geo.ho.div_ceil(2)
}

/// Half panels (4 tiles) per row of output tiles.
pub(super) fn half_panels_per_row(geo: &Geometry) -> usize {
    geo.wo.div_ceil(2).div_ceil(TILES / 2)
}

/// V_ξ panels of one strip of tiles, for up to [`BLOCK_C`] channels at depth `d`:
/// `v[(ξ * d + ci) * 2 + half]` holds tiles `4 half .. 4 half + 4` of channel `ci`.
type Panels = [F32x4; XI * BLOCK_C * 2];
/// `M_ξ` of one strip of output channels: 16 tiles of 4 channels x 8 tiles.
type Products = [Tile<MR>; XI];

/// Half a panel: the 4 tiles `tx .. tx + 4` of tile row `ty` of image `n` (fewer where the row
/// ends).
#[derive(Clone, Copy)]
struct Half {
    n: usize,
    ty: usize,
    tx: usize,
}

/// One panel of 8 tiles (one microkernel call per strip of output channels): two halves that
/// follow each other in the order of tile rows, so a row of an odd number of halves shares its
/// last panel with the next row. With a panel per row's 8 tiles, a 56-wide output (7 halves a
/// row) wasted 1/8 of its products on lanes past the row's end. A missing second half (the
/// last of a task's units) is neither transformed nor stored.
struct Panel<'a> {
    /// The whole input tensor, in `geo`'s layout.
    input: &'a [f32],
    halves: [Option<Half>; 2],
}

/// Computes the tile rows `units` (ordered by image, then tile row) of the output, bias,
/// activation and residual fused.
///
/// # Safety
/// `out` points to an output tensor of `geo`'s validated length and layout, `input` and the
/// epilogue's slices were validated against `geo`, `f` was built for `geo`'s channels, and no
/// one else reads or writes the output rows of these units during the call.
// A function of its own: inlined into the convolution's dispatch (which LLVM did once the
// panels were paired across rows), NHWC layers measured 1.5-3.5% slower in Node 20, close to
// the noise (the same package against itself: 0.989).
#[inline(never)]
pub(super) unsafe fn run(
    geo: &Geometry,
    f: &WinogradFilters,
    input: &[f32],
    out: &Disjoint,
    epi: &ConvEpilogue<'_>,
    units: core::ops::Range<usize>,
) {
    let (c, h, w) = (f.c, geo.h, geo.w);
    let (th, tw) = (geo.ho.div_ceil(2), geo.wo.div_ceil(2));
    let strips = f.o.div_ceil(MR);
    let mut v: Panels = [F32x4::zero(); XI * BLOCK_C * 2];
    debug_assert!(input.len() >= geo.batch * c * h * w);
    let mut halves = units.flat_map(|unit| {
        (0..tw).step_by(TILES / 2).map(move |tx| Half {
            n: unit / th,
            ty: unit % th,
            tx,
        })
    });
    while let Some(first) = halves.next() {
        let panel = Panel {
            input,
            halves: [Some(first), halves.next()],
        };
        if c <= BLOCK_C {
            transform(geo, &panel, 0..c, &mut v);
            for s in 0..strips {
                let m = products(f, s, 0..c, &v);
                // SAFETY: forwarded contract.
                unsafe { finish_strip(geo, f.o, &panel, s, &m, epi, out, ONE_PASS) };
            }
        } else {
            // SAFETY: forwarded contract.
            unsafe { run_blocked(geo, f, &panel, &mut v, epi, out) };
        }
    }
}

/// A panel with more than [`BLOCK_C`] input channels: the channel sum in blocks of
/// `BLOCK_C`. The output transform is linear, so each block's products are transformed and
/// added to the output pixels the earlier blocks stored (the last block applies the
/// epilogue): every input channel is transformed once, and nothing but the 64 KiB of panels
/// lives on the stack. Node 20, against im2col: 256x14x14 0.64, 256x28x28 0.66, 512x14x14
/// 0.69. Accumulating the products instead, for 64 output channels at a time (32 KiB more
/// stack, each block transformed again per 64 channels), ran 1.10-1.18x slower than this;
/// for 128 at a time (64 KiB more), 1.00-1.04x. One block of 256 channels (128 KiB of
/// panels) ran 0.54 of im2col at 256 channels, but a wasm thread's stack overflows silently
/// (into memory it does not own), so the panels stay at 64 KiB. Not inlined: the narrow
/// layers' loop stays small.
///
/// # Safety
/// [`run`]'s contract, for this panel's output pixels.
#[inline(never)]
unsafe fn run_blocked(
    geo: &Geometry,
    f: &WinogradFilters,
    panel: &Panel<'_>,
    v: &mut Panels,
    epi: &ConvEpilogue<'_>,
    out: &Disjoint,
) {
    for c0 in (0..f.c).step_by(BLOCK_C) {
        let cs = c0..(c0 + BLOCK_C).min(f.c);
        let pass = Pass {
            add_earlier: c0 > 0,
            last: cs.end == f.c,
        };
        transform(geo, panel, cs.clone(), v);
        for s in 0..f.o.div_ceil(MR) {
            let m = products(f, s, cs.clone(), v);
            // SAFETY: forwarded contract.
            unsafe { finish_strip(geo, f.o, panel, s, &m, epi, out, pass) };
        }
    }
}

/// `V_ξ` of the panel's tiles for input channels `cs` (at most [`BLOCK_C`]) into `v`, at
/// depth `cs.len()`. Each half of the panel (4 tiles, 10 input columns) on its own
/// ([`half_windows`]): a window in the padding costs one half a zero-filled copy, not both.
#[inline(always)]
fn transform(geo: &Geometry, panel: &Panel<'_>, cs: core::ops::Range<usize>, v: &mut Panels) {
    match geo.layout {
        TensorLayout::Nchw => transform_nchw(geo, panel, cs, v),
        TensorLayout::Nhwc => transform_nhwc(geo, panel, cs, v),
    }
}

/// Half a panel of tiles (4): their windows cover input rows `y0 .. y0 + 4` and columns
/// `x0 .. x0 + HALF_SPAN` (negative or past the end in the padding) of `image`.
struct HalfWindow<'a> {
    half: usize,
    image: &'a [f32],
    y0: isize,
    x0: isize,
    /// The whole window lies inside the input.
    inside: bool,
}

impl HalfWindow<'_> {
    /// The input pixel at row `i`, column `j` of the window, or `None` in the padding.
    #[inline(always)]
    fn pixel(&self, geo: &Geometry, i: usize, j: usize) -> Option<(usize, usize)> {
        let (y, x) = (self.y0 + i as isize, self.x0 + j as isize);
        let inside = self.inside || (y >= 0 && y < geo.h as isize && x >= 0 && x < geo.w as isize);
        inside.then_some((y as usize, x as usize))
    }
}

/// The windows of the halves `panel` holds: a missing half is not transformed at all (its
/// lanes are computed from stale panels and never stored).
#[inline(always)]
fn half_windows<'a>(
    geo: &'a Geometry,
    panel: &'a Panel<'_>,
) -> impl Iterator<Item = HalfWindow<'a>> + 'a {
    let image_len = geo.c_in * geo.h * geo.w;
    panel
        .halves
        .iter()
        .enumerate()
        .filter_map(move |(half, h)| {
            let h = (*h)?;
            let y0 = (2 * h.ty) as isize - geo.p.pad_top as isize;
            let x0 = (2 * h.tx) as isize - geo.p.pad_left as isize;
            let rows_inside = y0 >= 0 && y0 as usize + 4 <= geo.h;
            Some(HalfWindow {
                half,
                image: &panel.input[h.n * image_len..][..image_len],
                y0,
                x0,
                inside: rows_inside && x0 >= 0 && x0 as usize + HALF_SPAN <= geo.w,
            })
        })
}

/// [`transform`] of NCHW planes: lanes are tiles from the start (stride-2 shuffles of rows).
#[inline(always)]
fn transform_nchw(geo: &Geometry, panel: &Panel<'_>, cs: core::ops::Range<usize>, v: &mut Panels) {
    let (h, w, d) = (geo.h, geo.w, cs.len());
    let mut patch = [[0.0f32; HALF_SPAN]; 4];
    for win in half_windows(geo, panel) {
        let half = win.half;
        for (k, ci) in cs.clone().enumerate() {
            let plane = &win.image[ci * h * w..][..h * w];
            let rows: [*const f32; 4] = if win.inside {
                let start = win.y0 as usize * w + win.x0 as usize;
                core::array::from_fn(|i| plane[start + i * w..][..HALF_SPAN].as_ptr())
            } else {
                for (i, row) in patch.iter_mut().enumerate() {
                    for (j, val) in row.iter_mut().enumerate() {
                        *val = win.pixel(geo, i, j).map_or(0.0, |(y, x)| plane[y * w + x]);
                    }
                }
                core::array::from_fn(|i| patch[i].as_ptr())
            };
            // SAFETY: each row pointer has HALF_SPAN = 10 readable floats (a checked slice of
            // the plane or a patch row), which is what the transform reads.
            let vx = unsafe { input_transform(rows) };
            let dst = v[k * 2 + half..].as_mut_ptr();
            for (xi, val) in vx.into_iter().enumerate() {
                // SAFETY: (xi * d + k) * 2 + half < XI * BLOCK_C * 2 = v.len(), as
                // k < d <= BLOCK_C: inside `v`, whose tail `dst` starts at k * 2 + half.
                unsafe { *dst.add(xi * d * 2) = val };
            }
        }
    }
}

/// [`transform`] of NHWC pixels: lanes are 4 channels of a pixel, transformed as they are
/// loaded, then turned into lanes of tiles by one 4x4 transpose per `ξ`.
#[inline(always)]
fn transform_nhwc(geo: &Geometry, panel: &Panel<'_>, cs: core::ops::Range<usize>, v: &mut Panels) {
    let (w, c, d) = (geo.w, geo.c_in, cs.len());
    for win in half_windows(geo, panel) {
        let half = win.half;
        for k0 in (0..d).step_by(4) {
            let (c0, lanes) = (cs.start + k0, (d - k0).min(4));
            // px[i][j]: channels c0 .. c0 + 4 of pixel (y0 + i, x0 + j), zero outside the
            // input and past the block's last channel.
            let px: [[F32x4; HALF_SPAN]; 4] = core::array::from_fn(|i| {
                core::array::from_fn(|j| match win.pixel(geo, i, j) {
                    Some((y, x)) => {
                        let p = &win.image[(y * w + x) * c + c0..][..lanes];
                        if lanes == 4 {
                            // SAFETY: a checked slice of 4 floats.
                            unsafe { F32x4::load(p.as_ptr()) }
                        } else {
                            F32x4::from_array(core::array::from_fn(|l| {
                                p.get(l).copied().unwrap_or(0.0)
                            }))
                        }
                    }
                    None => F32x4::zero(),
                })
            });
            // V_ξ of tile t (lanes: channels), tile t's patch being columns 2t .. 2t + 4.
            let vt: [[F32x4; XI]; 4] = core::array::from_fn(|t| {
                patch_transform(&core::array::from_fn(|i| {
                    core::array::from_fn(|j| px[i][2 * t + j])
                }))
            });
            for xi in 0..XI {
                let by_channel = F32x4::transpose4([vt[0][xi], vt[1][xi], vt[2][xi], vt[3][xi]]);
                for (l, &val) in by_channel.iter().enumerate().take(lanes) {
                    v[(xi * d + k0 + l) * 2 + half] = val;
                }
            }
        }
    }
}

/// The 16 products `M_ξ` of output strip `s` over input channels `cs`, from panels `v`
/// transformed for `cs`.
#[inline(always)]
fn products(f: &WinogradFilters, s: usize, cs: core::ops::Range<usize>, v: &Panels) -> Products {
    let (strips, d) = (f.o.div_ceil(MR), cs.len());
    core::array::from_fn(|xi| {
        let u = &f.u[((xi * strips + s) * f.c + cs.start) * MR..][..d * MR];
        let panel = &v[xi * d * 2..][..d * 2];
        // SAFETY: `u` is a checked strip of d * MR floats and `panel` d rows of NR = 8 floats
        // (2 vectors each): the microkernel reads exactly these.
        unsafe { tile_packed::<MR>(d, u.as_ptr(), panel.as_ptr().cast::<f32>()) }
    })
}

/// The output transform of strip `s` (`MR` output channels) of the panel, stored as `pass`
/// says (in one pass: bias, activation and residual fused).
///
/// # Safety
/// [`run`]'s contract, for this panel's output pixels.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn finish_strip(
    geo: &Geometry,
    o: usize,
    panel: &Panel<'_>,
    s: usize,
    m: &Products,
    epi: &ConvEpilogue<'_>,
    out: &Disjoint,
    pass: Pass,
) {
    // SAFETY: forwarded contract.
    unsafe {
        match geo.layout {
            TensorLayout::Nchw => finish_strip_nchw(geo, o, panel, s, m, epi, out, pass),
            TensorLayout::Nhwc => finish_strip_nhwc(geo, o, panel, s, m, epi, out, pass),
        }
    }
}

/// [`finish_strip`] into NCHW rows: lanes are tiles, so each output channel's interleaved
/// pairs are 8 consecutive pixels of a row.
///
/// # Safety
/// [`run`]'s contract, for this panel's output pixels.
// `r` and `half` pick the same vector out of all 16 tiles of `m`: index loops read best.
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
#[inline(always)]
unsafe fn finish_strip_nchw(
    geo: &Geometry,
    o: usize,
    panel: &Panel<'_>,
    s: usize,
    m: &Products,
    epi: &ConvEpilogue<'_>,
    out: &Disjoint,
    pass: Pass,
) {
    let (ho, wo) = (geo.ho, geo.wo);
    for r in 0..MR.min(o - s * MR) {
        let oc = s * MR + r;
        let bias = F32x4::splat(epi.bias.map_or(0.0, |b| b[oc]));
        for (half, h) in panel.halves.iter().enumerate() {
            let Some(h) = h else { break };
            let ox0 = 2 * h.tx;
            let y = output_transform(&core::array::from_fn(|xi| m[xi][r][half]));
            for (dy, pair) in y.iter().enumerate() {
                let oy = 2 * h.ty + dy;
                if oy >= ho {
                    break;
                }
                let px = [
                    F32x4::interleave_low(pair[0], pair[1]),
                    F32x4::interleave_high(pair[0], pair[1]),
                ];
                let at = ((h.n * geo.c_out + oc) * ho + oy) * wo + ox0;
                // SAFETY: pixels ox0 .. ox0 + count of row oy, channel oc, image n lie in the
                // output and belong to this unit; forwarded contract.
                unsafe { store(px, bias, epi, out, at, (wo - ox0).min(8), pass) };
            }
        }
    }
}

/// [`finish_strip`] into NHWC pixels: the 4 output channels of the strip are a vector per
/// pixel, one 4x4 transpose of the 4 channels' tiles away.
///
/// # Safety
/// [`run`]'s contract, for this panel's output pixels.
// `half`, `dy` and `dx` pick one vector out of all the tiles at once: index loops read best.
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
#[inline(always)]
unsafe fn finish_strip_nhwc(
    geo: &Geometry,
    o: usize,
    panel: &Panel<'_>,
    s: usize,
    m: &Products,
    epi: &ConvEpilogue<'_>,
    out: &Disjoint,
    pass: Pass,
) {
    let (ho, wo) = (geo.ho, geo.wo);
    let (oc0, lanes) = (s * MR, (o - s * MR).min(MR));
    let bias = F32x4::from_array(core::array::from_fn(|l| match epi.bias {
        Some(b) if l < lanes => b[oc0 + l],
        _ => 0.0,
    }));
    for (half, h) in panel.halves.iter().enumerate() {
        let Some(h) = h else { break };
        let ox0 = 2 * h.tx;
        let y: [[[F32x4; 2]; 2]; MR] =
            core::array::from_fn(|r| output_transform(&core::array::from_fn(|xi| m[xi][r][half])));
        for dy in 0..2 {
            let oy = 2 * h.ty + dy;
            if oy >= ho {
                break;
            }
            for dx in 0..2 {
                let by_tile = F32x4::transpose4(core::array::from_fn(|r| y[r][dy][dx]));
                for (t, &px) in by_tile.iter().enumerate() {
                    let ox = ox0 + 2 * t + dx;
                    if ox >= wo {
                        continue;
                    }
                    let at = ((h.n * ho + oy) * wo + ox) * geo.c_out + oc0;
                    // SAFETY: channels oc0 .. oc0 + lanes of pixel (oy, ox) of image n lie in
                    // the output and belong to this unit; forwarded contract.
                    unsafe { store([px], bias, epi, out, at, lanes, pass) };
                }
            }
        }
    }
}

/// Which part of the channel sum a call of [`finish_strip`] stores.
#[derive(Clone, Copy)]
struct Pass {
    /// Add the output's current value (the earlier channel blocks' partial sum).
    add_earlier: bool,
    /// The last block: apply `act(sum + bias) + residual`; otherwise store the raw sum.
    last: bool,
}

/// The whole channel sum in one block.
const ONE_PASS: Pass = Pass {
    add_earlier: false,
    last: true,
};

/// Stores the first `count` of the `4 V` output values `px` (8 pixels of an NCHW row, or 4
/// channels of an NHWC pixel), finished as `pass` says; `bias` is added to each vector.
///
/// # Safety
/// `out.at(at) .. out.at(at + count)` readable and writable by this task; the residual (if
/// any) holds `at + count` elements.
#[inline(always)]
unsafe fn store<const V: usize>(
    px: [F32x4; V],
    bias: F32x4,
    epi: &ConvEpilogue<'_>,
    out: &Disjoint,
    at: usize,
    count: usize,
    pass: Pass,
) {
    // Lanes 4k .. 4k + 4 of a slice-like source, zero past `count`.
    let load = |k: usize, get: &dyn Fn(usize) -> f32, base: *const f32| {
        if count == 4 * V {
            // SAFETY: all 4 V floats at base are inside (the caller's contract).
            unsafe { F32x4::load(base.add(4 * k)) }
        } else {
            F32x4::from_array(core::array::from_fn(|l| {
                if 4 * k + l < count {
                    get(4 * k + l)
                } else {
                    0.0
                }
            }))
        }
    };
    let finish = |x: F32x4, k: usize| {
        let mut y = x;
        if pass.add_earlier {
            // SAFETY: this task's own output pixels (the caller's contract).
            let earlier = |i: usize| unsafe { *out.at(at + i) };
            y = y.add(load(k, &earlier, out.at(at)));
        }
        if !pass.last {
            return y;
        }
        y = y.add(bias);
        if epi.activation != Activation::Identity {
            y = epi.activation.apply(y);
        }
        if let Some(res) = epi.residual {
            let r = &res[at..at + count];
            y = y.add(load(k, &|i| r[i], r.as_ptr()));
        }
        y
    };
    if count == 4 * V {
        for (k, &x) in px.iter().enumerate() {
            // SAFETY: the caller's contract, count == 4 V.
            unsafe { finish(x, k).store(out.at(at + 4 * k)) };
        }
    } else {
        for (k, &x) in px.iter().enumerate() {
            let lanes = finish(x, k).to_array();
            for (l, &val) in lanes.iter().enumerate().take(count.saturating_sub(4 * k)) {
                // SAFETY: 4 k + l < count, the caller's contract.
                unsafe { *out.at(at + 4 * k + l) = val };
            }
        }
    }
}
