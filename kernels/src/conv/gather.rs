//! The inputs of adjacent outputs of one row at horizontal stride 1 or 2: the strided load the
//! implicit im2col's strips of 4 or 6 pixels are built from.
use crate::gemm::row_groups;
use crate::simd::F32x4;

/// Floats `p[0]`, `p[S]`, `p[2S]`, `p[3S]` for `S` = 1 or 2: one load, or two loads and a
/// shuffle keeping the even lanes.
///
/// # Safety
/// `p[0 .. 4 S]` readable (at stride 2 the eighth float is loaded but never used).
#[inline(always)]
pub(crate) unsafe fn gather4<const S: usize>(p: *const f32) -> F32x4 {
    const { assert!(S == 1 || S == 2) };
    // SAFETY: the caller's range.
    unsafe {
        if S == 1 {
            F32x4::load(p)
        } else {
            F32x4::even_lanes(F32x4::load(p), F32x4::load(p.add(4)))
        }
    }
}

/// Floats [`gather_channels`] reads at stride `s` from each channel's pointer for a strip of
/// `rows` pixels, plus at stride 2 one float loaded but never used (so it may lie past the
/// row, never past the tensor: callers bound their furthest read with this).
pub(crate) const fn strip_reach(rows: usize, s: usize) -> usize {
    rows * s
}

/// `len` gathers of a strip's `R` pixels, `plane` floats apart (the same pixels in
/// consecutive channels of an NCHW tensor), into `d[q * R .. (q + 1) * R]`: the packed strip
/// layout of the GEMM. Each is 4-lane gathers at pixels 0, 4, ... and `R - 4` (the last
/// overlaps the one before when `R` is not a multiple of 4).
///
/// # Safety
/// `R >= 4`; `src[q * plane .. q * plane + strip_reach(R, S)]` readable for `q < len`;
/// `d[0 .. len * R]` writable and not overlapping the source.
#[inline(always)]
pub(crate) unsafe fn gather_channels<const S: usize, const R: usize>(
    src: *const f32,
    plane: usize,
    len: usize,
    d: *mut f32,
) {
    for q in 0..len {
        for g0 in row_groups::<R>() {
            // SAFETY: pixels g0 .. g0 + 4 of channel q read src[q * plane + g0 * S ..][..4 * S]
            // (within strip_reach(R, S)), and write d[q * R + g0 ..][..4]: the caller's ranges.
            unsafe { gather4::<S>(src.wrapping_add(q * plane + g0 * S)).store(d.add(q * R + g0)) };
        }
    }
}
