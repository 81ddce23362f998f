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
//! Scope: NCHW, groups 1, [`MIN_C`] to [`MAX_C`] input channels (the 16 `V_ξ` panels of one
//! strip of tiles live on the stack: no scratch memory), outputs at least [`MIN_WIDTH`] wide.
//! Everything else takes the implicit im2col GEMM. Node 20, relaxed build, interleaved A/B
//! against im2col (10th percentiles): 64x56x56 0.65, 128x28x28 0.69, 64x14x14 0.66, 16x56x56
//! 0.84, 8 channels 0.93, 4 channels 0.98, 3 channels 1.54 (16 microkernel calls of depth 3 per
//! strip: the call and transform costs dominate).
//!
//! Accuracy: `B` and `A` hold only 0 and ±1, `G` also ±1/2, so on small integers (the tests)
//! the result is exact; on general data the error stays within a few ulp of the sum of
//! `|x| |w|` (measured in the tests).
use super::{ConvEpilogue, Disjoint, Geometry};
use crate::epilogue::Activation;
use crate::gemm::kernel::{tile_4x8_packed, Tile, MR, NR};
use crate::simd::F32x4;
use alloc::vec::Vec;

/// Input channels the stack panels hold: 16 positions x 8 tiles x 128 channels = 64 KiB.
pub(super) const MAX_C: usize = 128;
/// Fewest input channels where Winograd pays (see the table above).
pub(super) const MIN_C: usize = 8;
/// Narrowest output where Winograd pays: a row of tiles fills at least half of its 8-tile panel.
pub(super) const MIN_WIDTH: usize = 8;
/// Positions of the 4x4 transform.
const XI: usize = 16;
/// Tiles per B panel (one microkernel call): the GEMM's `NR`.
const TILES: usize = NR;
/// Input columns half a panel of tiles (4) reads: 2 per tile plus the 2 the last window adds.
const HALF_SPAN: usize = 2 * 4 + 2;

/// Filters in the transform domain: `u[((ξ * strips + s) * c + ci) * MR + r]` is
/// `U_ξ[s * MR + r][ci]`, zero past the last output channel (the packed-A layout of
/// [`tile_4x8_packed`]: one strip of `MR` output channels per call).
#[derive(Clone, Debug)]
pub(super) struct WinogradFilters {
    u: Vec<f32>,
    c: usize,
    o: usize,
}

impl WinogradFilters {
    /// Whether a 3x3 layer of this geometry can take Winograd (the output width is checked per
    /// call, see [`MIN_WIDTH`]).
    pub fn applies(p: &super::Conv2dParams, c_in: usize) -> bool {
        (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w) == (3, 3, 1, 1)
            && (p.dilation_h, p.dilation_w, p.groups) == (1, 1, 1)
            && (MIN_C..=MAX_C).contains(&c_in)
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

/// Computes the tile rows `units` (ordered by image, then tile row) of the NCHW output,
/// bias, activation and residual fused.
///
/// # Safety
/// `out` points to an output tensor of `geo`'s validated length (NCHW), `input` and the
/// epilogue's slices were validated against `geo`, `f` was built for `geo`'s channels, and no
/// one else reads or writes the output rows of these units during the call.
// `r` and `half` pick the same vector out of all 16 tiles of `m`: index loops read best.
#[allow(clippy::needless_range_loop)]
pub(super) unsafe fn run(
    geo: &Geometry,
    f: &WinogradFilters,
    input: &[f32],
    out: &Disjoint,
    epi: &ConvEpilogue<'_>,
    units: core::ops::Range<usize>,
) {
    let (c, o, h, w, ho, wo) = (f.c, f.o, geo.h, geo.w, geo.ho, geo.wo);
    let (th, tw) = (ho.div_ceil(2), wo.div_ceil(2));
    let strips = o.div_ceil(MR);
    // V_ξ panels of one strip of tiles: v[(ξ * c + ci) * 2 + half] holds tiles 4 half .. +4.
    let mut v = [F32x4::zero(); XI * MAX_C * 2];
    let mut patch = [[0.0f32; HALF_SPAN]; 4];
    for unit in units {
        let (n, ty) = (unit / th, unit % th);
        let image = &input[n * c * h * w..][..c * h * w];
        let y0 = (2 * ty) as isize - geo.p.pad_top as isize;
        let rows_inside = y0 >= 0 && y0 as usize + 4 <= h;
        for tx0 in (0..tw).step_by(TILES) {
            // Each half of the panel (4 tiles, 10 input columns) on its own: a window in the
            // padding costs one half a zero-filled copy, not both, and a half past the last
            // tile is not transformed at all (its lanes are computed from stale panels and
            // never stored).
            for half in 0..2 {
                if tx0 + 4 * half >= tw {
                    break;
                }
                let x0 = (2 * (tx0 + 4 * half)) as isize - geo.p.pad_left as isize;
                let inside = rows_inside && x0 >= 0 && x0 as usize + HALF_SPAN <= w;
                for ci in 0..c {
                    let plane = &image[ci * h * w..][..h * w];
                    let rows: [*const f32; 4] = if inside {
                        let start = y0 as usize * w + x0 as usize;
                        core::array::from_fn(|i| plane[start + i * w..][..HALF_SPAN].as_ptr())
                    } else {
                        for (i, row) in patch.iter_mut().enumerate() {
                            let y = y0 + i as isize;
                            for (k, val) in row.iter_mut().enumerate() {
                                let x = x0 + k as isize;
                                *val = if y >= 0 && y < h as isize && x >= 0 && x < w as isize {
                                    plane[y as usize * w + x as usize]
                                } else {
                                    0.0
                                };
                            }
                        }
                        core::array::from_fn(|i| patch[i].as_ptr())
                    };
                    // SAFETY: each row pointer has HALF_SPAN = 10 readable floats (a checked
                    // slice of the plane or a patch row), which is what the transform reads.
                    let vx = unsafe { input_transform(rows) };
                    let dst = v[ci * 2 + half..].as_mut_ptr();
                    for (xi, val) in vx.into_iter().enumerate() {
                        // SAFETY: (xi * c + ci) * 2 + half < XI * MAX_C * 2 = v.len(), as
                        // c <= MAX_C: inside `v`, whose tail `dst` starts at ci * 2 + half.
                        unsafe { *dst.add(xi * c * 2) = val };
                    }
                }
            }
            for s in 0..strips {
                let m: [Tile<MR>; XI] = core::array::from_fn(|xi| {
                    // SAFETY: strip s of U_ξ holds c * MR floats; V_ξ holds c panels rows of
                    // NR = 8 floats (2 vectors each), all written above for ci < c.
                    unsafe {
                        tile_4x8_packed(
                            c,
                            f.u.as_ptr().add((xi * strips + s) * c * MR),
                            v.as_ptr().add(xi * c * 2).cast::<f32>(),
                        )
                    }
                });
                for r in 0..MR.min(o - s * MR) {
                    let oc = s * MR + r;
                    let bias = F32x4::splat(epi.bias.map_or(0.0, |b| b[oc]));
                    for half in 0..2 {
                        let ox0 = 2 * (tx0 + 4 * half);
                        if ox0 >= wo {
                            break;
                        }
                        let y = output_transform(&core::array::from_fn(|xi| m[xi][r][half]));
                        for (dy, pair) in y.iter().enumerate() {
                            let oy = 2 * ty + dy;
                            if oy >= ho {
                                break;
                            }
                            let px = [
                                F32x4::interleave_low(pair[0], pair[1]),
                                F32x4::interleave_high(pair[0], pair[1]),
                            ];
                            let at = ((n * geo.c_out + oc) * ho + oy) * wo + ox0;
                            // SAFETY: pixels ox0 .. ox0 + count of row oy, channel oc, image n
                            // lie in the output and belong to this unit; forwarded contract.
                            unsafe { store(px, bias, epi, out, at, (wo - ox0).min(8)) };
                        }
                    }
                }
            }
        }
    }
}

/// Applies `act(px + bias) + residual` to 8 output pixels and stores the first `count`.
///
/// # Safety
/// `out.at(at) .. out.at(at + count)` writable by this task; the residual (if any) holds
/// `at + count` elements.
#[inline(always)]
unsafe fn store(
    px: [F32x4; 2],
    bias: F32x4,
    epi: &ConvEpilogue<'_>,
    out: &Disjoint,
    at: usize,
    count: usize,
) {
    let finish = |x: F32x4, k: usize| {
        let mut y = x.add(bias);
        if epi.activation != Activation::Identity {
            y = epi.activation.apply(y);
        }
        if let Some(res) = epi.residual {
            let r = if count == 8 {
                let r = &res[at + 4 * k..][..4];
                // SAFETY: a checked slice of 4 floats.
                unsafe { F32x4::load(r.as_ptr()) }
            } else {
                F32x4::from_array(core::array::from_fn(|l| {
                    res.get(at + 4 * k + l).copied().unwrap_or(0.0)
                }))
            };
            y = y.add(r);
        }
        y
    };
    if count == 8 {
        for (k, &x) in px.iter().enumerate() {
            // SAFETY: the caller's contract, count == 8.
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
