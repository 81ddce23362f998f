//! LayerNorm and RMSNorm along rows.
//!
//! LayerNorm: `y = (x - mean) / sqrt(var + eps) * gamma + beta`, with the mean and the (biased,
//! 1/n) variance of each row. RMSNorm: `y = x / sqrt(mean(x^2) + eps) * gamma`.
//!
//! # Why two passes for the variance
//! The variance is computed from the row *after* its mean is known, as `sum((x - mean)^2) / n`
//! (the textbook two-pass algorithm), not as `E[x^2] - E[x]^2`, which cancels catastrophically
//! when `|mean| >> std` (e.g. activations offset by 1e4). Two-pass is also better than
//! Welford's update here: Welford needs a division per element and a serial dependency, while
//! the second pass is one more multiply-add per element over a row that is still in L1 (a 1024-
//! float row is 4 KiB). Each pass sums into four vector accumulators (16 partial sums), which
//! also shortens the rounding-error chains by 16x.
//!
//! # Error bound
//! With `u = 2^-24`, `n = cols`, `k = n/16 + 5` (the longest chain of additions), `r` the exact
//! `1/sqrt(var + eps)`, `xh_i = (x_i - mean) r` and `a = mean(|x|)`, against an f64 reference:
//! - LayerNorm: `|y_i - ref_i| <= u (|gamma_i| ((k/2 + 6) |xh_i| + (k + 2) a r) + |beta_i| + |ref_i|)`
//!   (the `a r` term is the rounding of the mean relative to the spread of the row);
//! - RMSNorm: `|y_i - ref_i| <= u (k/2 + 5) |ref_i|`.
//!
//! Both are asserted in `tests/norm.rs`. `eps` must be finite and `>= 0`; with `eps = 0` a
//! constant row gives NaN (`0 / 0`), as the formula does.
use super::{check_pair, check_param, for_each_row, rows_of, scalar};
use crate::error::{Error, Result};
use crate::simd::F32x4;
use crate::stream::{fold, map_ops, InOut};

/// LayerNorm of each row of `x` into `y`; the row width is `gamma.len()`, `beta` (if any) has
/// the same length.
///
/// ```
/// let x = [1.0, 2.0, 3.0, 4.0];
/// let mut y = [0.0; 4];
/// wasmnn_kernels::layer_norm(&x, &mut y, &[1.0; 4], Some(&[0.5; 4]), 0.0)?;
/// let z = 1.0 / 1.25f32.sqrt(); // (x - 2.5) / std with var = 1.25
/// assert!((y[0] - (0.5 - 1.5 * z)).abs() < 1e-6);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn layer_norm(
    x: &[f32],
    y: &mut [f32],
    gamma: &[f32],
    beta: Option<&[f32]>,
    eps: f32,
) -> Result<()> {
    check_pair(x, y, gamma.len())?;
    check_norm_params(gamma, beta, eps)?;
    run_layer_norm(InOut::new(x, y), gamma, beta, eps);
    Ok(())
}

/// [`layer_norm`] in place.
///
/// ```
/// let mut x = [3.0, 5.0];
/// wasmnn_kernels::layer_norm_inplace(&mut x, &[2.0, 2.0], None, 0.0)?;
/// assert_eq!(x, [-2.0, 2.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn layer_norm_inplace(
    x: &mut [f32],
    gamma: &[f32],
    beta: Option<&[f32]>,
    eps: f32,
) -> Result<()> {
    rows_of(x.len(), gamma.len())?;
    check_norm_params(gamma, beta, eps)?;
    run_layer_norm(InOut::in_place(x), gamma, beta, eps);
    Ok(())
}

/// RMSNorm of each row of `x` into `y`; the row width is `gamma.len()`.
///
/// ```
/// let x = [3.0, 4.0]; // mean of squares 12.5
/// let mut y = [0.0; 2];
/// wasmnn_kernels::rms_norm(&x, &mut y, &[1.0, 1.0], 0.0)?;
/// assert!((y[1] - 4.0 / 12.5f32.sqrt()).abs() < 1e-6);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn rms_norm(x: &[f32], y: &mut [f32], gamma: &[f32], eps: f32) -> Result<()> {
    check_pair(x, y, gamma.len())?;
    check_norm_params(gamma, None, eps)?;
    run_rms_norm(InOut::new(x, y), gamma, eps);
    Ok(())
}

/// [`rms_norm`] in place.
///
/// ```
/// let mut x = [1.0, -1.0];
/// wasmnn_kernels::rms_norm_inplace(&mut x, &[3.0, 3.0], 0.0)?;
/// assert_eq!(x, [3.0, -3.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn rms_norm_inplace(x: &mut [f32], gamma: &[f32], eps: f32) -> Result<()> {
    rows_of(x.len(), gamma.len())?;
    check_norm_params(gamma, None, eps)?;
    run_rms_norm(InOut::in_place(x), gamma, eps);
    Ok(())
}

fn check_norm_params(gamma: &[f32], beta: Option<&[f32]>, eps: f32) -> Result<()> {
    if let Some(b) = beta {
        check_param("length of beta (= length of gamma)", b, gamma.len())?;
    }
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::InvalidArgument {
            what: "eps",
            why: "must be a finite number >= 0",
        });
    }
    Ok(())
}

fn run_layer_norm(io: InOut<'_>, gamma: &[f32], beta: Option<&[f32]>, eps: f32) {
    let cols = gamma.len();
    match beta {
        Some(beta) => for_each_row(io, cols, |mut row| {
            let (mean, rstd) = mean_rstd(row.input(), eps);
            map_ops(&mut row, (gamma, beta), 0.0, |v, (g, b)| {
                v.sub(mean).mul_add(g.mul(rstd), b)
            });
        }),
        None => for_each_row(io, cols, |mut row| {
            let (mean, rstd) = mean_rstd(row.input(), eps);
            map_ops(&mut row, gamma, 0.0, |v, g| v.sub(mean).mul(g.mul(rstd)));
        }),
    }
}

/// The row's mean and `1 / sqrt(var + eps)`, each splatted.
#[inline(always)]
fn mean_rstd(x: &[f32], eps: f32) -> (F32x4, F32x4) {
    let add = |a: F32x4, b: F32x4| a.add(b);
    let n = x.len() as f32;
    let mean = fold(x, 0.0, F32x4::zero(), add, add).reduce_add() / n;
    let m = F32x4::splat(mean);
    // Padding lanes hold the mean: their deviation is 0.
    let ss = fold(
        x,
        mean,
        F32x4::zero(),
        |acc, v| {
            let d = v.sub(m);
            d.mul_add(d, acc)
        },
        add,
    )
    .reduce_add();
    let rstd = scalar(ss / n + eps, |v| v.sqrt().recip());
    (m, F32x4::splat(rstd))
}

fn run_rms_norm(io: InOut<'_>, gamma: &[f32], eps: f32) {
    let cols = gamma.len();
    for_each_row(io, cols, |mut row| {
        let add = |a: F32x4, b: F32x4| a.add(b);
        let ss = fold(
            row.input(),
            0.0,
            F32x4::zero(),
            |acc, v| v.mul_add(v, acc),
            add,
        )
        .reduce_add();
        let rstd = F32x4::splat(scalar(ss / cols as f32 + eps, |v| v.sqrt().recip()));
        map_ops(&mut row, gamma, 0.0, |v, g| v.mul(g.mul(rstd)));
    });
}
