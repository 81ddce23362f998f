//! Packed int8 weights: the `k x n` matrix B of `A B`, stored once in the layout the kernels
//! stream, with its quantization parameters and column sums.
//!
//! # Layout
//! B is cut into panels of [`NR`] = 4 columns and each panel into blocks of [`KB`] = 8 rows.
//! A block stores, for each of its 4 columns, the 8 bytes of that column:
//!
//! ```text
//! data = [ panel 0: block 0 (col 0: 8 bytes | col 1 | col 2 | col 3) | block 1 | ... ] [ panel 1 ] ...
//! offset(panel p, block q) = (p * k_padded / 8 + q) * 32 bytes
//! ```
//! `k` is padded to a multiple of 8 and `n` to a multiple of 4 with zero bytes. The bytes are the
//! raw weights (`i8`, or `u8` when [`PackedQB::is_signed`] is false): one byte per weight, so a
//! GEMV streams 4x fewer bytes than f32 weights. The GEMM widens one panel at a time to i16
//! (subtracting the zero points) into a small scratch buffer that stays in L1, and a 16-byte
//! load of a block is exactly two columns of 8 values, so widening needs no shuffles.
//!
//! Stored with the data: per-column scales and zero points (per-tensor parameters are expanded),
//! per-column sums of the weights in signed form (`w` for i8, `w - 128` for u8), which the
//! relaxed-SIMD kernel needs for its zero-point correction, and by default the same panels
//! pre-widened to i16 with the zero points subtracted (`w - zero_point`, in `-255..=255`), which
//! the baseline GEMM streams directly. The i16 copy costs 2 more bytes per weight;
//! [`PackedQB::into_compact`] drops it (the GEMM then widens one panel at a time per call,
//! about 2% slower at 128x768x768; the GEMV never reads it).
use crate::kernel::{KB, NR};
use crate::matrix::QMatRef;
use crate::simd::{I16x8, I8x16};
use crate::types::{QuantParams, Q8};
use alloc::vec::Vec;
use wasmnn_kernels::{Error, MatRef, Result};

/// Int8 (or uint8) weights packed for the integer GEMM and GEMV. Build once, use for many calls.
///
/// ```
/// use wasmnn_quant::{PackedQB, QuantParams};
/// let w: [i8; 6] = [1, -2, 3, -4, 5, -6]; // k = 2, n = 3, row-major
/// let b = PackedQB::from_row_major(&w, 2, 3, QuantParams::symmetric(0.5))?;
/// assert_eq!((b.k(), b.n(), b.get(1, 2)), (2, 3, Some(-6)));
/// assert_eq!(b.col_sums(), &[-3, 3, -3]);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PackedQB {
    k: usize,
    n: usize,
    k_padded: usize,
    signed: bool,
    data: Vec<u8>,
    scales: Vec<f32>,
    zero_points: Vec<i32>,
    col_sums: Vec<i32>,
    /// `data` widened to i16 minus the zero points, same layout; empty when compact.
    wide: Vec<i16>,
}

/// `Vec::with_capacity` that reports allocation failure as an error instead of aborting.
pub(crate) fn try_vec<T: Clone>(what: &'static str, len: usize, fill: T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| Error::InvalidArgument {
            what,
            why: "not enough memory",
        })?;
    v.resize(len, fill);
    Ok(v)
}

impl PackedQB {
    /// Packs `b` (`k x n`, any strides) with its quantization parameters: per tensor, or per
    /// column (`n` scales; `n` zero points or none).
    pub fn new<Z: Q8>(b: QMatRef<'_, Z>, params: QuantParams<'_>) -> Result<Self> {
        let (k, n) = (b.rows(), b.cols());
        params.validate::<Z>("b quantization", n)?;
        let k_padded = k.checked_add(KB - 1).ok_or(Error::Overflow { what: "b" })? / KB * KB;
        let n_padded = n.checked_add(NR - 1).ok_or(Error::Overflow { what: "b" })? / NR * NR;
        let len = k_padded
            .checked_mul(n_padded)
            .filter(|&l| l <= isize::MAX as usize)
            .ok_or(Error::Overflow { what: "b" })?;
        let mut data = try_vec("b", len, 0u8)?;
        let (src, rs, cs) = (b.data(), b.row_stride(), b.col_stride());
        let mut out = 0;
        for j0 in (0..n_padded).step_by(NR) {
            for k0 in (0..k_padded).step_by(KB) {
                for j in j0..j0 + NR {
                    for p in k0..k0 + KB {
                        if j < n && p < k {
                            // In range: QMatRef validated (k-1)*rs + (n-1)*cs < len.
                            data[out] = src[p * rs + j * cs].to_bits();
                        }
                        out += 1;
                    }
                }
            }
        }
        let scales = (0..n).map(|j| params.scale(j)).collect();
        let zero_points = (0..n).map(|j| params.zero_point(j)).collect();
        let mut col_sums = try_vec("b", n, 0i32)?;
        for (j, s) in col_sums.iter_mut().enumerate() {
            let signed = |q: Z| q.to_i32() - if Z::SIGNED { 0 } else { 128 };
            *s = (0..k).fold(0i32, |acc, p| {
                acc.wrapping_add(signed(src[p * rs + j * cs]))
            });
        }
        let mut packed = Self {
            k,
            n,
            k_padded,
            signed: Z::SIGNED,
            data,
            scales,
            zero_points,
            col_sums,
            wide: Vec::new(),
        };
        let mut wide = try_vec("b", len, 0i16)?;
        for p in 0..n_padded / NR {
            packed.widen_panel(p, &mut wide[p * k_padded * NR..(p + 1) * k_padded * NR]);
        }
        packed.wide = wide;
        Ok(packed)
    }

    /// Packs a dense row-major `k x n` matrix.
    pub fn from_row_major<Z: Q8>(
        data: &[Z],
        k: usize,
        n: usize,
        params: QuantParams<'_>,
    ) -> Result<Self> {
        Self::new(QMatRef::named("b", data, k, n, n, 1)?, params)
    }

    /// Quantizes f32 weights (`k x n`, e.g. `W[in][out]` of a linear layer) to i8, symmetric
    /// per output column: `scale[j] = max_k |w[k][j]| / 127` (1 for an all-zero column) and
    /// `q = round_half_even(w / scale)` in `-127..=127`.
    ///
    /// ```
    /// use wasmnn_kernels::MatRef;
    /// use wasmnn_quant::PackedQB;
    /// let w = [0.5f32, -1.0, 0.25, 2.0]; // k = 2, n = 2
    /// let b = PackedQB::quantize_f32(MatRef::row_major(&w, 2, 2)?)?;
    /// assert_eq!(b.scales(), &[0.5 / 127.0, 2.0 / 127.0]);
    /// assert_eq!((b.get(0, 0), b.get(1, 1), b.get(0, 1)), (Some(127), Some(127), Some(-64)));
    /// # Ok::<(), wasmnn_quant::Error>(())
    /// ```
    pub fn quantize_f32(w: MatRef<'_>) -> Result<Self> {
        let (k, n) = (w.rows(), w.cols());
        let mut scales = try_vec("w", n, 1.0f32)?;
        for (j, s) in scales.iter_mut().enumerate() {
            let mut max = 0.0f32;
            for p in 0..k {
                let x = w.get(p, j).unwrap_or(0.0);
                if !x.is_finite() {
                    return Err(Error::InvalidArgument {
                        what: "w",
                        why: "weights must be finite to be quantized",
                    });
                }
                max = max.max(x.abs());
            }
            if max > 0.0 {
                *s = max / 127.0;
            }
        }
        let mut q = try_vec("w", k.saturating_mul(n), 0i8)?;
        for p in 0..k {
            for j in 0..n {
                let x = w.get(p, j).unwrap_or(0.0) / scales[j];
                q[p * n + j] = crate::quantize::round_half_even(x).clamp(-127.0, 127.0) as i8;
            }
        }
        Self::from_row_major(
            &q,
            k,
            n,
            QuantParams::PerChannel {
                scales: &scales,
                zero_points: &[],
            },
        )
    }

    /// Rows of B (the shared dimension K).
    pub fn k(&self) -> usize {
        self.k
    }
    /// Columns of B (the output width N).
    pub fn n(&self) -> usize {
        self.n
    }
    /// `k` rounded up to a multiple of [`KB`].
    pub fn k_padded(&self) -> usize {
        self.k_padded
    }
    /// `n` rounded up to a whole number of panels.
    pub fn n_padded(&self) -> usize {
        self.n.div_ceil(NR) * NR
    }
    /// `true` for i8 weights, `false` for u8.
    pub fn is_signed(&self) -> bool {
        self.signed
    }
    /// Per-column scales (length `n`).
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }
    /// Per-column zero points (length `n`).
    pub fn zero_points(&self) -> &[i32] {
        &self.zero_points
    }
    /// Whether every zero point is 0.
    pub fn is_symmetric(&self) -> bool {
        self.zero_points.iter().all(|&z| z == 0)
    }
    /// Per-column sums of the weights in signed form (`w`, or `w - 128` for u8), wrapping.
    pub fn col_sums(&self) -> &[i32] {
        &self.col_sums
    }
    /// Bytes of packed weight data (the int8 panels plus the i16 copy unless compact).
    pub fn size_bytes(&self) -> usize {
        self.data.len() + 2 * self.wide.len()
    }

    /// The same weights without the pre-widened i16 copy: one byte per weight. GEMMs then widen
    /// one panel per call (slightly slower); the GEMV is unaffected.
    ///
    /// ```
    /// use wasmnn_quant::{PackedQB, QuantParams};
    /// let b = PackedQB::from_row_major(&[1i8; 64 * 8], 64, 8, QuantParams::IDENTITY)?;
    /// assert_eq!((b.size_bytes(), b.into_compact().size_bytes()), (3 * 512, 512));
    /// # Ok::<(), wasmnn_quant::Error>(())
    /// ```
    pub fn into_compact(mut self) -> Self {
        self.wide = Vec::new();
        self
    }

    /// The pre-widened i16 panel `p` (`k_padded * 4` values), if kept.
    pub(crate) fn wide_panel(&self, p: usize) -> Option<&[i16]> {
        let len = self.k_padded * NR;
        self.wide.get(p * len..(p + 1) * len)
    }

    /// Widens panel `p` to i16 with the column zero points subtracted, into `out`
    /// (`k_padded * 4` values).
    pub(crate) fn widen_panel(&self, p: usize, out: &mut [i16]) {
        let kp = self.k_padded;
        let bytes = &self.data[p * kp * NR..(p + 1) * kp * NR];
        let zp = |c: usize| {
            let z = self.zero_points.get(p * NR + c).copied().unwrap_or(0);
            I16x8::splat(z as i16)
        };
        let z = [zp(0), zp(1), zp(2), zp(3)];
        // A block is 32 bytes: columns 0 and 1, then columns 2 and 3, 8 values each.
        for (src, dst) in bytes
            .chunks_exact(2 * 16)
            .zip(out.chunks_exact_mut(NR * KB))
        {
            for h in 0..2 {
                // SAFETY: 16 readable bytes at src[16h..] and 16 writable i16 at dst[16h..].
                unsafe {
                    let r = I8x16::load(src.as_ptr().add(16 * h));
                    let (c0, c1) = if self.signed {
                        (r.extend_low_i8(), r.extend_high_i8())
                    } else {
                        (r.extend_low_u8(), r.extend_high_u8())
                    };
                    let d = dst.as_mut_ptr().add(16 * h);
                    c0.sub(z[2 * h]).store(d);
                    c1.sub(z[2 * h + 1]).store(d.add(KB));
                }
            }
        }
    }
    /// The packed bytes (layout in the module docs).
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }
    /// Weight `(p, j)` as an integer, or `None` outside `k x n`.
    pub fn get(&self, p: usize, j: usize) -> Option<i32> {
        if p >= self.k || j >= self.n {
            return None;
        }
        let byte =
            self.data[((j / NR) * self.k_padded + p / KB * KB) * NR + (j % NR) * KB + p % KB];
        Some(if self.signed {
            byte as i8 as i32
        } else {
            byte as i32
        })
    }
}
