//! Implicit im2col: the rows of the convolution's A matrix (one per output pixel, the input
//! values under its window in `(ky, kx, c)` order, zeros over the padding) are gathered straight
//! into the GEMM's packed strips, never stored as a matrix. One copy instead of two (im2col,
//! then packing), and no scratch buffer.
//!
//! A strip is `R` output pixels (4, or [`GEMM_MR`] = 6 in FMA builds for deeper K) at
//! depths `k0 .. k0 + kc`: `dst[p * R + r]`. Depth runs over taps, and within a tap over a
//! range of channels, so each tap is one short loop with a fixed source pattern:
//! - NCHW, the strip's pixels on one output row at unit stride (all but the row ends and the
//!   padding): the values of a channel are contiguous in the input, one vector load per 4
//!   pixels; at stride 2, two loads and a shuffle ([`gather_channels`]);
//! - NHWC, all the windows inside the image: contiguous channel runs, transposed 4x4 at a
//!   time ([`pack_a`]);
//! - anything else (padding, row wrap, strides, dilation): one element at a time.
use super::gather::{gather_channels, strip_reach};
use super::{Geometry, TensorLayout};
use crate::gemm::kernel::{pack_a, GEMM_MR, MR};
use crate::gemm::PackA;

/// The A matrix of image `n`, channel group `c0 .. c0 + cg`: `ho * wo` rows (output pixels),
/// `kh * kw * cg` columns.
pub(crate) struct Im2col<'a> {
    pub geo: &'a Geometry,
    /// The whole validated input tensor.
    pub input: &'a [f32],
    pub n: usize,
    pub c0: usize,
    pub cg: usize,
}

impl PackA for Im2col<'_> {
    unsafe fn pack(&self, rows: usize, r0: usize, end: usize, k0: usize, kc: usize, dst: *mut f32) {
        debug_assert!(rows == MR || rows == GEMM_MR);
        // SAFETY: forwarded contract.
        unsafe {
            if rows == MR {
                self.pack_strip::<MR>(r0, end, k0, kc, dst)
            } else {
                self.pack_strip::<GEMM_MR>(r0, end, k0, kc, dst)
            }
        }
    }
}

impl Im2col<'_> {
    /// [`PackA::pack`] for strips of `R` rows.
    ///
    /// # Safety
    /// As [`PackA::pack`] with `rows == R`.
    #[inline(always)]
    unsafe fn pack_strip<const R: usize>(
        &self,
        r0: usize,
        end: usize,
        k0: usize,
        kc: usize,
        dst: *mut f32,
    ) {
        let g = self.geo;
        // Output pixel of each lane; lanes past the end repeat the last pixel (not stored).
        // Mostly the strip's pixels are real and on one output row: one division, not one each.
        let (oy0, ox0) = (r0 / g.wo, r0 % g.wo);
        let one_row = r0 + R <= end && ox0 + R <= g.wo;
        if one_row && k0 == 0 && kc == g.p.kernel_h * g.p.kernel_w * self.cg {
            // SAFETY: forwarded contract (the whole depth of real pixels of one row).
            if unsafe { self.pack_window_inside::<R>(oy0, ox0, dst) } {
                return;
            }
        }
        let pixels: [(usize, usize); R] = core::array::from_fn(|r| {
            if one_row {
                (oy0, ox0 + r)
            } else {
                let p = (r0 + r).min(end - 1);
                (p / g.wo, p % g.wo)
            }
        });
        // Walk the taps from depth k0 on, each tap a run of channels (no division per tap).
        let (kw, cg) = (g.p.kernel_w, self.cg);
        let (mut ky, mut kx) = (k0 / cg / kw, k0 / cg % kw);
        let mut c_lo = k0 % cg;
        let mut left = kc;
        let mut d = dst;
        while left > 0 {
            let len = (cg - c_lo).min(left);
            // SAFETY: `len` depths from here stay inside this tap's channels and inside the
            // strip (kc - left + len <= kc), so `d[0 .. len * R]` is writable.
            unsafe { self.pack_tap::<R>(ky, kx, c_lo, len, pixels, one_row, d) };
            d = d.wrapping_add(len * R);
            left -= len;
            c_lo = 0;
            kx += 1;
            if kx == kw {
                (ky, kx) = (ky + 1, 0);
            }
        }
    }

    /// Channels `c_lo .. c_lo + len` of tap `(ky, kx)` for the strip's `pixels` into
    /// `d[c * R + r]`. `one_row`: the pixels are `(oy, ox .. ox + R)`, real outputs
    /// of one row.
    ///
    /// # Safety
    /// `d[0 .. len * R]` writable; `c_lo + len <= cg`; every pixel inside the output.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn pack_tap<const R: usize>(
        &self,
        ky: usize,
        kx: usize,
        c_lo: usize,
        len: usize,
        pixels: [(usize, usize); R],
        one_row: bool,
        d: *mut f32,
    ) {
        if one_row {
            // SAFETY: forwarded contract.
            if unsafe { self.pack_tap_inside::<R>(ky, kx, c_lo, len, pixels[0], d) } {
                return;
            }
        }
        let g = self.geo;
        // Offset of each lane's input pixel within a plane (NCHW) or the image (NHWC, in
        // pixels), or None over the padding.
        let at: [Option<usize>; R] = pixels.map(|(oy, ox)| {
            let (iy, ix) = (g.in_y(oy, ky)?, g.in_x(ox, kx)?);
            Some(iy * g.w + ix)
        });
        let c = self.c0 + c_lo;
        match g.layout {
            TensorLayout::Nchw => {
                let plane = g.h * g.w;
                let base = (self.n * g.c_in + c) * plane;
                // Padding, row wraps, other strides: one element at a time.
                for q in 0..len {
                    for (r, a) in at.iter().enumerate() {
                        let v = a.map_or(0.0, |a| self.input[base + q * plane + a]);
                        // SAFETY: q * R + r < len * R.
                        unsafe { *d.add(q * R + r) = v };
                    }
                }
            }
            TensorLayout::Nhwc => {
                let image = self.n * g.h * g.w;
                // Pixels inside the image but not on one row (a strip wrapping a row).
                if at.iter().all(Option::is_some) {
                    let rows = at.map(|a| {
                        let a = a.unwrap_or(0); // every lane is Some (checked above)
                        self.input.as_ptr().wrapping_add((image + a) * g.c_in + c)
                    });
                    // SAFETY: each row is `len` consecutive channels of one input pixel
                    // (c + len <= c0 + cg <= c_in); d has len * R floats.
                    unsafe { pack_a::<R>(len, rows, 1, d) };
                    return;
                }
                for q in 0..len {
                    for (r, a) in at.iter().enumerate() {
                        let v = a.map_or(0.0, |a| self.input[(image + a) * g.c_in + c + q]);
                        // SAFETY: q * R + r < len * R.
                        unsafe { *d.add(q * R + r) = v };
                    }
                }
            }
        }
    }

    /// The whole depth of a strip at once for NCHW input at horizontal stride 1 or 2, when the
    /// windows of the strip's outputs `(oy, ox .. ox + R)` lie inside the image: the taps
    /// as three plain nested loops with pointer steps. Tap by tap ([`Self::pack_tap`]) each tap
    /// redid the padding checks and the offset arithmetic, which for a first layer (3 channels
    /// per tap) cost more than the copying. Returns false (nothing written) otherwise.
    ///
    /// # Safety
    /// `dst[0 .. kh * kw * cg * R]` writable; the strip's pixels real and on one output
    /// row.
    #[inline(always)]
    unsafe fn pack_window_inside<const R: usize>(
        &self,
        oy: usize,
        ox: usize,
        dst: *mut f32,
    ) -> bool {
        let g = self.geo;
        if g.layout != TensorLayout::Nchw {
            return false;
        }
        // SAFETY: forwarded contract.
        unsafe {
            // Three channels (an RGB first layer): the channel loop unrolled.
            match (g.p.stride_w, self.cg) {
                (1, 3) => self.pack_window_inside_at::<1, 3, R>(oy, ox, dst),
                (2, 3) => self.pack_window_inside_at::<2, 3, R>(oy, ox, dst),
                (1, _) => self.pack_window_inside_at::<1, 0, R>(oy, ox, dst),
                (2, _) => self.pack_window_inside_at::<2, 0, R>(oy, ox, dst),
                _ => false,
            }
        }
    }

    /// [`Self::pack_window_inside`] at horizontal stride `S`, for `C` channels (0: any).
    ///
    /// # Safety
    /// As [`Self::pack_window_inside`]; `S` is the layer's horizontal stride, `C` 0 or `cg`.
    #[inline(always)]
    unsafe fn pack_window_inside_at<const S: usize, const C: usize, const R: usize>(
        &self,
        oy: usize,
        ox: usize,
        dst: *mut f32,
    ) -> bool {
        debug_assert!(C == 0 || C == self.cg);
        let cg = if C == 0 { self.cg } else { C };
        let g = self.geo;
        let (kh, kw) = (g.p.kernel_h, g.p.kernel_w);
        let (dh, dw) = (g.p.dilation_h, g.p.dilation_w);
        // First and last rows and columns the strip's windows touch.
        let (Some(iy), Some(_), Some(ix), Some(_)) = (
            g.in_y(oy, 0),
            g.in_y(oy, kh - 1),
            g.in_x(ox, 0),
            g.in_x(ox + R - 1, kw - 1),
        ) else {
            return false;
        };
        let plane = g.h * g.w;
        let base = (self.n * g.c_in + self.c0) * plane + iy * g.w + ix;
        // Furthest float read: the last channel's gather at the last tap row and column.
        let reach = (cg - 1) * plane + (kh - 1) * dh * g.w + (kw - 1) * dw + strip_reach(R, S);
        if base + reach > self.input.len() {
            return false;
        }
        let src = self.input.as_ptr().wrapping_add(base);
        let mut d = dst;
        for ky in 0..kh {
            let row = src.wrapping_add(ky * dh * g.w);
            for kx in 0..kw {
                // SAFETY: every read is within `base + reach` (checked above), and `d` advances
                // cg * R floats per tap: kh * kw * cg * R in all.
                unsafe {
                    gather_channels::<S, R>(row.wrapping_add(kx * dw), plane, cg, d);
                    d = d.add(cg * R);
                }
            }
        }
        true
    }

    /// The common case of [`Self::pack_tap`]: the outputs `(oy, ox .. ox + R)` whose inputs
    /// at this tap are all inside the image at horizontal stride 1 or 2 (NCHW) or any stride
    /// (NHWC); checked once for all lanes. Returns false (nothing written) otherwise.
    ///
    /// # Safety
    /// As [`Self::pack_tap`].
    #[inline(always)]
    unsafe fn pack_tap_inside<const R: usize>(
        &self,
        ky: usize,
        kx: usize,
        c_lo: usize,
        len: usize,
        (oy, ox): (usize, usize),
        d: *mut f32,
    ) -> bool {
        let g = self.geo;
        let sw = g.p.stride_w;
        let (Some(iy), Some(ix)) = (g.in_y(oy, ky), g.in_x(ox, kx)) else {
            return false;
        };
        // Lane r reads input column ix + r * sw.
        if ix + (R - 1) * sw >= g.w {
            return false;
        }
        let a0 = iy * g.w + ix;
        let c = self.c0 + c_lo;
        match g.layout {
            TensorLayout::Nchw => {
                let plane = g.h * g.w;
                let base = (self.n * g.c_in + c) * plane + a0;
                // Furthest float read: the last channel's gather (at stride 2 its last float,
                // loaded but unused, may lie past the row).
                let reach = base + (len - 1) * plane + strip_reach(R, sw);
                if !(sw == 1 || sw == 2) || reach > self.input.len() {
                    return false;
                }
                let src = self.input.as_ptr().wrapping_add(base);
                // SAFETY: every gather is within `reach` (checked); d has len * R floats.
                unsafe {
                    if sw == 1 {
                        gather_channels::<1, R>(src, plane, len, d);
                    } else {
                        gather_channels::<2, R>(src, plane, len, d);
                    }
                }
                true
            }
            TensorLayout::Nhwc => {
                let image = self.n * g.h * g.w;
                let rows: [*const f32; R] = core::array::from_fn(|r| {
                    let pixel = image + a0 + r * sw;
                    self.input.as_ptr().wrapping_add(pixel * g.c_in + c)
                });
                // SAFETY: each row is `len` consecutive channels of one input pixel inside the
                // image (c + len <= c0 + cg <= c_in); d has len * R floats.
                unsafe { pack_a::<R>(len, rows, 1, d) };
                true
            }
        }
    }
}
