//! Epilogues: what happens to an exact i32 tile before it is stored, fused into the GEMM.
//!
//! [`QOutput`] names the destination and the conversion. All arithmetic is defined per element
//! `(i, j)` from the exact accumulator `acc`, A's scale `sa` (per tensor or per row `i`) and B's
//! scale `sb[j]`, in f32 with one rounding per operation (no fused multiply-add, so every build
//! and engine gives the same bits):
//!
//! - [`QOutput::I32`]: `acc` (ONNX `MatMulInteger`);
//! - [`QOutput::F32`]: `act(f32(acc) * (sa * sb[j]) + bias[j])` (dequantize + bias + activation;
//!   `MatMulInteger -> Cast -> Mul` is the case without bias and activation);
//! - [`QOutput::U8`] / [`QOutput::I8`]: requantization, fp32 path with per-channel multipliers:
//!   `q = zp + clamp(round_half_even(f32(acc + bias[j]) * m), qmin - zp, qmax - zp)` where
//!   `m = (sa * sb[j]) / scale` (the output's scale and zero point `zp`).
use crate::matrix::QMatMut;
use crate::simd::{nan_to_zero, I16x8, I32x4, I8x16};
use crate::types::{check_scale, check_zero_point, Q8};
use wasmnn_kernels::simd::F32x4;
use wasmnn_kernels::{Activation, Error, Result};

/// The destination of a quantized GEMM and how the i32 accumulators are converted.
#[derive(Debug)]
#[non_exhaustive]
pub enum QOutput<'a> {
    /// The exact integer products.
    I32(QMatMut<'a, i32>),
    /// Dequantized: `act(acc * (sa * sb[j]) + bias[j])`.
    F32 {
        /// The output matrix.
        c: QMatMut<'a, f32>,
        /// Optional per-column bias (length = columns).
        bias: Option<&'a [f32]>,
        /// Applied last.
        activation: Activation,
    },
    /// Requantized to u8 with the output's `scale` and `zero_point`.
    U8 {
        /// The output matrix.
        c: QMatMut<'a, u8>,
        /// Optional per-column i32 bias, in accumulator units (`sa * sb[j]`), as in ONNX
        /// `QLinearConv`.
        bias: Option<&'a [i32]>,
        /// Output scale.
        scale: f32,
        /// Output zero point (a u8 value).
        zero_point: i32,
    },
    /// Requantized to i8 with the output's `scale` and `zero_point`.
    I8 {
        /// The output matrix.
        c: QMatMut<'a, i8>,
        /// Optional per-column i32 bias, in accumulator units.
        bias: Option<&'a [i32]>,
        /// Output scale.
        scale: f32,
        /// Output zero point (an i8 value).
        zero_point: i32,
    },
}

impl QOutput<'_> {
    /// `(rows, cols)` of the destination.
    pub fn shape(&self) -> (usize, usize) {
        match self {
            QOutput::I32(c) => (c.rows(), c.cols()),
            QOutput::F32 { c, .. } => (c.rows(), c.cols()),
            QOutput::U8 { c, .. } => (c.rows(), c.cols()),
            QOutput::I8 { c, .. } => (c.rows(), c.cols()),
        }
    }

    /// Checks the parameters against `n` columns.
    pub(crate) fn validate(&self, n: usize) -> Result<()> {
        let check_len = |len: usize| {
            if len == n {
                Ok(())
            } else {
                Err(Error::ShapeMismatch {
                    what: "length of bias (= columns of the output)",
                    expected: n,
                    found: len,
                })
            }
        };
        match self {
            QOutput::I32(_) => Ok(()),
            QOutput::F32 {
                bias, activation, ..
            } => {
                if let Some(b) = bias {
                    check_len(b.len())?;
                }
                activation.validate()
            }
            QOutput::U8 {
                bias,
                scale,
                zero_point,
                ..
            } => {
                if let Some(b) = bias {
                    check_len(b.len())?;
                }
                check_scale("output scale", *scale)?;
                check_zero_point::<u8>("output zero point", *zero_point)
            }
            QOutput::I8 {
                bias,
                scale,
                zero_point,
                ..
            } => {
                if let Some(b) = bias {
                    check_len(b.len())?;
                }
                check_scale("output scale", *scale)?;
                check_zero_point::<i8>("output zero point", *zero_point)
            }
        }
    }
}

/// A's scale: one for the tensor, or one per row.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RowScales<'a> {
    Tensor(f32),
    Rows(&'a [f32]),
}

impl RowScales<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        match *self {
            RowScales::Tensor(s) => s,
            RowScales::Rows(s) => s[i],
        }
    }
}

/// Raw destination: base pointer and strides (validated by [`QMatMut`]).
#[derive(Clone, Copy)]
struct Dst<T> {
    ptr: *mut T,
    rs: usize,
    cs: usize,
}

impl<T: Copy> Dst<T> {
    fn of(c: &mut QMatMut<'_, T>) -> Self {
        Self {
            ptr: c.as_mut_ptr(),
            rs: c.row_stride(),
            cs: c.col_stride(),
        }
    }
    /// Stores `cols` lanes of `v` at row `i`, column `j0`.
    ///
    /// # Safety
    /// `(i, j0 .. j0 + cols)` inside the destination.
    #[inline(always)]
    unsafe fn store_lanes(&self, i: usize, j0: usize, cols: usize, v: [T; 4]) {
        let p = self.ptr.wrapping_add(i * self.rs + j0 * self.cs);
        for (c, x) in v.into_iter().enumerate().take(cols) {
            // SAFETY: element (i, j0 + c) is inside the destination (caller).
            unsafe { *p.add(c * self.cs) = x };
        }
    }
}

enum Kind<'a> {
    I32(Dst<i32>),
    F32 {
        c: Dst<f32>,
        bias: Option<&'a [f32]>,
        activation: Activation,
    },
    Q {
        c: Dst<u8>,
        signed: bool,
        bias: Option<&'a [i32]>,
        scale: f32,
        zero_point: i32,
    },
}

/// A validated [`QOutput`] ready to store tiles.
pub(crate) struct Epilogue<'a> {
    kind: Kind<'a>,
    sa: RowScales<'a>,
    sb: &'a [f32],
}

/// `v[j0 .. j0 + cols]` zero-padded to 4 lanes, as an array.
#[inline(always)]
fn lanes<T: Copy + Default>(v: &[T], j0: usize, cols: usize) -> [T; 4] {
    let mut a = [T::default(); 4];
    if cols > 0 {
        a[..cols].copy_from_slice(&v[j0..j0 + cols]);
    }
    a
}

impl<'a> Epilogue<'a> {
    /// Prepares `out` (already validated) with A's row scales and B's column scales.
    pub(crate) fn new(out: &'a mut QOutput<'_>, sa: RowScales<'a>, sb: &'a [f32]) -> Self {
        let kind = match out {
            QOutput::I32(c) => Kind::I32(Dst::of(c)),
            QOutput::F32 {
                c,
                bias,
                activation,
            } => Kind::F32 {
                c: Dst::of(c),
                bias: *bias,
                activation: *activation,
            },
            QOutput::U8 {
                c,
                bias,
                scale,
                zero_point,
            } => Kind::Q {
                c: Dst::of(c),
                signed: false,
                bias: *bias,
                scale: *scale,
                zero_point: *zero_point,
            },
            QOutput::I8 {
                c,
                bias,
                scale,
                zero_point,
            } => {
                let d = Dst::of(c);
                Kind::Q {
                    c: Dst {
                        ptr: d.ptr.cast::<u8>(),
                        rs: d.rs,
                        cs: d.cs,
                    },
                    signed: true,
                    bias: *bias,
                    scale: *scale,
                    zero_point: *zero_point,
                }
            }
        };
        Self { kind, sa, sb }
    }

    /// Converts and stores a block of finished tiles: `acc` holds, for each row `i0 + r`,
    /// `blocks` vectors of 4 columns starting at column `j0` (`acc[r * blocks + b]` is columns
    /// `j0 + 4b ..`), clipped to the `n` columns of the output. Rows outer and column blocks
    /// inner, so a row's columns are written contiguously (a whole 64-byte line for 4 blocks of
    /// i32 or f32). The kind of output, the column parameters and the layout are resolved once
    /// per call, outside the row loop.
    ///
    /// # Safety
    /// Rows `i0 .. i0 + acc.len() / blocks` and columns `j0 .. min(j0 + 4 blocks, n)` are inside
    /// the destination, which is exclusively borrowed; `n` is its column count (the length of
    /// the column scales and bias); `1 <= blocks <= MAX_BLOCKS` and `j0 < n`.
    #[inline(never)]
    pub(crate) unsafe fn store_rows(
        &self,
        acc: &[I32x4],
        blocks: usize,
        i0: usize,
        j0: usize,
        n: usize,
    ) {
        let cols: [usize; MAX_BLOCKS] =
            core::array::from_fn(|b| n.saturating_sub(j0 + 4 * b).min(4));
        let contiguous = match self.kind {
            Kind::I32(c) => c.cs == 1,
            Kind::F32 { c, .. } => c.cs == 1,
            Kind::Q { c, .. } => c.cs == 1,
        };
        // Blocks whose 4 lanes are all inside the output, when rows are contiguous.
        let full: [bool; MAX_BLOCKS] = core::array::from_fn(|b| cols[b] == 4 && contiguous);
        let rows = acc.chunks_exact(blocks);
        match self.kind {
            Kind::I32(c) => {
                for (r, row) in rows.enumerate() {
                    let i = i0 + r;
                    for (b, v) in row.iter().enumerate() {
                        let j = j0 + 4 * b;
                        if full[b] {
                            // SAFETY: 4 contiguous elements of row i (caller).
                            unsafe { v.store(c.ptr.add(i * c.rs + j)) }
                        } else {
                            // SAFETY: caller.
                            unsafe { c.store_lanes(i, j, cols[b], v.to_array()) }
                        }
                    }
                }
            }
            Kind::F32 {
                c,
                bias,
                activation,
            } => {
                let sb: [F32x4; MAX_BLOCKS] =
                    core::array::from_fn(|b| load4(self.sb, j0 + 4 * b, cols[b]));
                let has_bias = bias.is_some();
                let bias: [F32x4; MAX_BLOCKS] = match bias {
                    Some(v) => core::array::from_fn(|b| load4(v, j0 + 4 * b, cols[b])),
                    None => [F32x4::zero(); MAX_BLOCKS],
                };
                let f = F32Rows {
                    c,
                    sa: self.sa,
                    sb,
                    bias,
                    activation,
                    full,
                    cols,
                };
                // One specialised loop per case, so the row loop has no per-element branches.
                let act = activation != Activation::Identity;
                // SAFETY: forwarded (caller).
                unsafe {
                    match (has_bias, act, matches!(self.sa, RowScales::Rows(_))) {
                        (false, false, false) => f.run::<false, false, false>(acc, blocks, i0, j0),
                        (false, false, true) => f.run::<false, false, true>(acc, blocks, i0, j0),
                        (true, false, false) => f.run::<true, false, false>(acc, blocks, i0, j0),
                        (true, false, true) => f.run::<true, false, true>(acc, blocks, i0, j0),
                        (false, true, false) => f.run::<false, true, false>(acc, blocks, i0, j0),
                        (false, true, true) => f.run::<false, true, true>(acc, blocks, i0, j0),
                        (true, true, false) => f.run::<true, true, false>(acc, blocks, i0, j0),
                        (true, true, true) => f.run::<true, true, true>(acc, blocks, i0, j0),
                    }
                }
            }
            Kind::Q {
                c,
                signed,
                bias,
                scale,
                zero_point,
            } => {
                let sb: [F32x4; MAX_BLOCKS] =
                    core::array::from_fn(|b| load4(self.sb, j0 + 4 * b, cols[b]));
                let bias: Option<[I32x4; MAX_BLOCKS]> = bias.map(|v| {
                    core::array::from_fn(|b| I32x4::from_array(lanes(v, j0 + 4 * b, cols[b])))
                });
                let (qmin, qmax) = if signed { (-128, 127) } else { (0, 255) };
                let lo = F32x4::splat((qmin - zero_point) as f32);
                let hi = F32x4::splat((qmax - zero_point) as f32);
                let zp = I32x4::splat(zero_point);
                let out_scale = F32x4::splat(scale);
                let magic = F32x4::splat(12_582_912.0);
                let magic_bits = I32x4::splat(12_582_912.0f32.to_bits() as i32);
                for (r, row) in rows.enumerate() {
                    let i = i0 + r;
                    let sa = F32x4::splat(self.sa.get(i));
                    for (b, v) in row.iter().enumerate() {
                        let j = j0 + 4 * b;
                        let m = sa.mul(sb[b]).div(out_scale);
                        let v = match &bias {
                            Some(bias) => v.add(bias[b]),
                            None => *v,
                        };
                        // Clamp (NaN, only possible when scales overflow, counts as 0), then
                        // round and convert with the magic add: the value is within
                        // -510..=510, where that is exact.
                        let y = nan_to_zero(v.to_f32().mul(m))
                            .max_or_self(lo)
                            .min_or_self(hi);
                        let q = I32x4::from_f32_bits(y.add(magic)).sub(magic_bits).add(zp);
                        let h = I16x8::narrow_i32(q, q);
                        let bytes = if signed {
                            I8x16::narrow_i8(h, h)
                        } else {
                            I8x16::narrow_u8(h, h)
                        };
                        if full[b] {
                            // SAFETY: 4 contiguous bytes of row i (caller).
                            unsafe { bytes.store_low4(c.ptr.add(i * c.rs + j)) }
                        } else {
                            let q = bytes.to_array();
                            // SAFETY: caller.
                            unsafe { c.store_lanes(i, j, cols[b], [q[0], q[1], q[2], q[3]]) }
                        }
                    }
                }
            }
        }
    }
}

/// The f32 (dequantize) epilogue of one block of rows, with its column parameters loaded.
struct F32Rows<'a> {
    c: Dst<f32>,
    sa: RowScales<'a>,
    sb: [F32x4; MAX_BLOCKS],
    bias: [F32x4; MAX_BLOCKS],
    activation: Activation,
    full: [bool; MAX_BLOCKS],
    cols: [usize; MAX_BLOCKS],
}

impl F32Rows<'_> {
    /// `act(f32(acc) * (sa * sb) + bias)` for each row and block (see `store_rows`).
    ///
    /// # Safety
    /// As [`Epilogue::store_rows`].
    #[inline(always)]
    unsafe fn run<const BIAS: bool, const ACT: bool, const PER_ROW: bool>(
        &self,
        acc: &[I32x4],
        blocks: usize,
        i0: usize,
        j0: usize,
    ) {
        let scale_of = |sa: f32| -> [F32x4; MAX_BLOCKS] {
            let sa = F32x4::splat(sa);
            core::array::from_fn(|b| sa.mul(self.sb[b]))
        };
        let tensor = scale_of(self.sa.get(0));
        for (r, row) in acc.chunks_exact(blocks).enumerate() {
            let i = i0 + r;
            let scale = if PER_ROW {
                scale_of(self.sa.get(i))
            } else {
                tensor
            };
            for (b, v) in row.iter().enumerate() {
                let mut y = v.to_f32().mul(scale[b]);
                if BIAS {
                    y = y.add(self.bias[b]);
                }
                if ACT {
                    y = self.activation.apply(y);
                }
                let j = j0 + 4 * b;
                if self.full[b] {
                    // SAFETY: 4 contiguous elements of row i (caller).
                    unsafe { y.store(self.c.ptr.add(i * self.c.rs + j)) }
                } else {
                    // SAFETY: caller.
                    unsafe { self.c.store_lanes(i, j, self.cols[b], y.to_array()) }
                }
            }
        }
    }
}

/// Column blocks (of 4) one [`Epilogue::store_rows`] call handles at most: 4 blocks of i32 or
/// f32 are one 64-byte cache line of a row.
pub(crate) const MAX_BLOCKS: usize = 4;

/// `v[j0 .. j0 + cols]` zero-padded to a vector (one load when all 4 lanes are in range).
#[inline(always)]
fn load4(v: &[f32], j0: usize, cols: usize) -> F32x4 {
    if cols == 4 && j0 + 4 <= v.len() {
        // SAFETY: v[j0 .. j0 + 4] is in bounds (checked just above).
        unsafe { F32x4::load(v.as_ptr().add(j0)) }
    } else {
        F32x4::from_array(lanes(v, j0, cols))
    }
}

/// The requantization of one element, scalar (the reference the tests compare against).
///
/// ```
/// use wasmnn_quant::epilogue::requantize_scalar;
/// assert_eq!(requantize_scalar::<u8>(1000, 0.5, 0.01, 1.0, 3), 8); // 1000 * 0.005 = 5 -> 5 + 3
/// assert_eq!(requantize_scalar::<i8>(-7, 1.0, 1.0, 2.0, 0), -4); // -3.5 rounds to -4 (even)
/// ```
pub fn requantize_scalar<Z: Q8>(acc: i32, sa: f32, sb: f32, scale: f32, zero_point: i32) -> Z {
    let m = (sa * sb) / scale;
    let y = crate::quantize::round_half_even(acc as f32 * m);
    let lo = (Z::MIN_Q - zero_point) as f32;
    let hi = (Z::MAX_Q - zero_point) as f32;
    let y = if y < lo {
        lo
    } else if hi < y {
        hi
    } else {
        y
    };
    Z::saturate(y as i32 + zero_point)
}
