//! Softmax and log-softmax along rows, numerically stable: the row maximum `m` is subtracted
//! before exponentiating, so every `e^(x - m)` is in `(0, 1]` and the sum is in `[1, cols]`.
//!
//! Three passes over a row, each a SIMD loop (reductions with two to four accumulators):
//! 1. `m = max(x)`, and whether the row holds a NaN (such rows, and rows with `+inf` or only
//!    `-inf`, are filled directly; see below);
//! 2. `e = exp(x - m)` with [`math::exp_nonpositive`], stored (softmax) and summed into `s`;
//! 3. softmax: `y = e * (1 / s)`; log-softmax: `y = (x - m) - ln s`.
//!
//! # Special values
//! - `-inf` elements give 0 (log-softmax: `-inf`); large negative gaps (`x - m < -87.7`) give 0.
//! - A row whose elements are all `-inf` (a fully masked row) gives zeros (log-softmax: `-inf`)
//!   rather than the NaN of `0 / 0`: the useful answer for masked attention.
//! - A NaN anywhere in a row makes the whole row NaN; so does `+inf` (as `inf - inf` does in
//!   the textbook formula).
//!
//! # Error bound
//! With `u = 2^-24`, `d_i = x_i - m`, `D = sum_j y_j |d_j|` (the output-weighted mean distance
//! from the maximum, a few units for typical rows) and `n = cols`, the relative error of the
//! sum is `E_s = 6e-7 + 1.4e-7 D + (n/8 + 7) u` and, against an f64 reference:
//! - softmax: `|y_i - ref_i| <= ref_i (E_s + 1.4e-7 |d_i|) + 1e-37` (the `1e-37` covers
//!   results that flush to zero below `e^-87.3`);
//! - log-softmax: `|y_i - ref_i| <= E_s + 1.2e-7 (|d_i| + |ref_i|)`.
//!
//! Both are asserted in `tests/softmax.rs`.
use super::{check_pair, for_each_row, rows_of};
use crate::error::Result;
use crate::math::ExpNonpositive;
use crate::simd::F32x4;
use crate::stream::{fold, map, map_sum, InOut};

/// Softmax of each `cols`-long row of `x` into `y` (same length as `x`).
///
/// ```
/// let x = [1.0, 2.0, 3.0, 0.0, 0.0, f32::NEG_INFINITY];
/// let mut y = [0.0; 6];
/// wasmnn_kernels::softmax(&x, &mut y, 3)?;
/// assert!((y[2] - 0.665_240_94).abs() < 1e-6);
/// assert_eq!(&y[3..], &[0.5, 0.5, 0.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn softmax(x: &[f32], y: &mut [f32], cols: usize) -> Result<()> {
    check_pair(x, y, cols)?;
    for_each_row(InOut::new(x, y), cols, softmax_row);
    Ok(())
}

/// [`softmax`] in place.
///
/// ```
/// let mut x = [0.0, 0.0, 0.0, 0.0];
/// wasmnn_kernels::softmax_inplace(&mut x, 4)?;
/// assert_eq!(x, [0.25; 4]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn softmax_inplace(x: &mut [f32], cols: usize) -> Result<()> {
    rows_of(x.len(), cols)?;
    for_each_row(InOut::in_place(x), cols, softmax_row);
    Ok(())
}

/// Log-softmax (`x - max - ln(sum(exp(x - max)))`) of each `cols`-long row of `x` into `y`.
///
/// ```
/// let x = [0.0, 0.0, f32::NEG_INFINITY, f32::NEG_INFINITY];
/// let mut y = [0.0; 4];
/// wasmnn_kernels::log_softmax(&x, &mut y, 2)?;
/// assert!((y[0] + core::f32::consts::LN_2).abs() < 1e-7);
/// assert_eq!(&y[2..], &[f32::NEG_INFINITY; 2]); // a fully masked row
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn log_softmax(x: &[f32], y: &mut [f32], cols: usize) -> Result<()> {
    check_pair(x, y, cols)?;
    for_each_row(InOut::new(x, y), cols, log_softmax_row);
    Ok(())
}

/// [`log_softmax`] in place.
///
/// ```
/// let mut x = [5.0, 5.0];
/// wasmnn_kernels::log_softmax_inplace(&mut x, 2)?;
/// assert!((x[1] + core::f32::consts::LN_2).abs() < 1e-7);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn log_softmax_inplace(x: &mut [f32], cols: usize) -> Result<()> {
    rows_of(x.len(), cols)?;
    for_each_row(InOut::in_place(x), cols, log_softmax_row);
    Ok(())
}

/// What the first pass learns about a row.
enum RowKind {
    /// Every element finite or `-inf`, and at least one finite: the maximum.
    Finite(f32),
    /// A NaN or `+inf` somewhere: the whole output row is NaN.
    Nan,
    /// Every element `-inf` (or an empty row): zeros (log-softmax: `-inf`).
    Masked,
}

/// The row maximum, and whether the row holds a NaN, in one pass. NaN is tracked as a separate
/// mask rather than through `max`: the relaxed-SIMD build turns `pmax` into `relaxed_max`,
/// whose NaN behaviour is up to the engine, and the exponential pass then does not have to
/// care about NaN at all.
#[inline(always)]
fn row_kind(x: &[f32]) -> RowKind {
    let ninf = F32x4::splat(f32::NEG_INFINITY);
    let (max, nan) = fold(
        x,
        f32::NEG_INFINITY,
        (ninf, F32x4::zero()),
        |(m, nan), v| (m.max_or_self(v), v.nan_mask_or(nan)),
        |(m1, n1), (m2, n2)| (m1.max_or_self(m2), n1.or_bits(n2)),
    );
    // A set mask lane reads as NaN; the lane sum is NaN iff a lane is.
    if nan.reduce_add().is_nan() {
        return RowKind::Nan;
    }
    match max.reduce_max() {
        m if m == f32::INFINITY => RowKind::Nan,
        m if m == f32::NEG_INFINITY => RowKind::Masked,
        m => RowKind::Finite(m),
    }
}

fn softmax_row(mut io: InOut<'_>) {
    let max = match row_kind(io.input()) {
        RowKind::Finite(m) => F32x4::splat(m),
        RowKind::Nan => return fill(io, f32::NAN),
        RowKind::Masked => return fill(io, 0.0),
    };
    // Constants as values, captured by `move`: by reference they would be re-read from memory
    // on every iteration (LLVM cannot tell that the stores to `y` leave them alone).
    let exp = ExpNonpositive::in_registers();
    // Padding lanes are -inf: exp(-inf - m) = 0 adds nothing to the sum.
    let sum = map_sum(&mut io, f32::NEG_INFINITY, move |v| exp.eval(v.sub(max))).reduce_add();
    let inv = F32x4::splat(1.0 / sum);
    map(&mut io.output(), |e| e.mul(inv));
}

fn log_softmax_row(mut io: InOut<'_>) {
    let max = match row_kind(io.input()) {
        RowKind::Finite(m) => F32x4::splat(m),
        RowKind::Nan => return fill(io, f32::NAN),
        RowKind::Masked => return fill(io, f32::NEG_INFINITY),
    };
    let add = |a: F32x4, b: F32x4| a.add(b);
    let exp = ExpNonpositive::in_registers();
    let sum = fold(
        io.input(),
        f32::NEG_INFINITY,
        F32x4::zero(),
        move |acc, v| acc.add(exp.eval(v.sub(max))),
        add,
    )
    .reduce_add();
    // One logarithm per row, in f64: its error is negligible next to the sum's.
    let ln_sum = F32x4::splat(libm::log(sum as f64) as f32);
    // (x - m) first: exact when x is near m, so the largest outputs keep full accuracy.
    map(&mut io, |v| v.sub(max).sub(ln_sum));
}

/// Fills a row with one value.
fn fill(mut io: InOut<'_>, value: f32) {
    let value = F32x4::splat(value);
    map(&mut io, |_| value);
}
