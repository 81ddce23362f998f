//! The inputs of four adjacent outputs of one row at horizontal stride 1 or 2: the one strided
//! load both the implicit im2col and the depthwise kernels are built from.
use crate::gemm::kernel::MR;
use crate::simd::F32x4;

// A gather fills exactly one k-step (MR rows) of a packed strip.
const _: () = assert!(MR == 4);

/// Floats [`gather4`] reads at stride `s` from its pointer: 4, or 8 at stride 2, where the
/// eighth is loaded but never used, so it may lie past the row (never past the tensor: callers
/// bound their furthest read with this).
pub(crate) const fn gather_reach(s: usize) -> usize {
    4 * s
}

/// Floats `p[0]`, `p[S]`, `p[2S]`, `p[3S]` for `S` = 1 or 2: one load, or two loads and a
/// shuffle keeping the even lanes.
///
/// # Safety
/// `p[0 .. gather_reach(S)]` readable.
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

/// `len` gathers `plane` floats apart (the same pixels in consecutive channels of an NCHW
/// tensor) into `d[q * MR .. (q + 1) * MR]`: the packed strip layout of the GEMM.
///
/// # Safety
/// `src[q * plane .. q * plane + gather_reach(S)]` readable for `q < len`; `d[0 .. len * MR]`
/// writable and not overlapping the source.
#[inline(always)]
pub(crate) unsafe fn gather_channels<const S: usize>(
    src: *const f32,
    plane: usize,
    len: usize,
    d: *mut f32,
) {
    for q in 0..len {
        // SAFETY: channel q's gather and its four destination floats are in the caller's ranges.
        unsafe { gather4::<S>(src.wrapping_add(q * plane)).store(d.add(q * MR)) };
    }
}
