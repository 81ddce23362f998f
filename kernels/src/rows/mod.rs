//! Row kernels: operations along the last axis of a dense row-major `rows x cols` tensor, one
//! row at a time (softmax, log-softmax, LayerNorm, RMSNorm).
//!
//! Every function takes the input and output as flat slices plus `cols`; the number of rows is
//! `x.len() / cols`. Each has an in-place twin (`*_inplace`). Rows are independent, so a caller
//! may split the rows of one tensor across threads and get bit-identical results.
//!
//! A row is read two or three times (statistics, then the output pass). Rows up to a few
//! thousand floats stay in L1 between the passes, so the kernels run at close to the speed of one
//! streaming pass over memory.
mod norm;
mod softmax;

pub use norm::{layer_norm, layer_norm_inplace, rms_norm, rms_norm_inplace};
pub use softmax::{log_softmax, log_softmax_inplace, softmax, softmax_inplace};

use crate::error::{Error, Result};
use crate::simd::F32x4;
use crate::stream::InOut;

/// Number of rows in a dense buffer of `len` elements with `cols` per row.
fn rows_of(len: usize, cols: usize) -> Result<usize> {
    if cols == 0 {
        return if len == 0 {
            Ok(0)
        } else {
            Err(Error::InvalidArgument {
                what: "cols",
                why: "must be at least 1 for a non-empty input",
            })
        };
    }
    if len % cols != 0 {
        return Err(Error::ShapeMismatch {
            what: "length of x (a whole number of rows of `cols` elements)",
            expected: len - len % cols,
            found: len,
        });
    }
    Ok(len / cols)
}

/// Checks an out-of-place pair: same length, a whole number of rows.
fn check_pair(x: &[f32], y: &[f32], cols: usize) -> Result<()> {
    if x.len() != y.len() {
        return Err(Error::ShapeMismatch {
            what: "length of y (= length of x)",
            expected: x.len(),
            found: y.len(),
        });
    }
    rows_of(x.len(), cols).map(|_| ())
}

/// Checks a per-column parameter vector (gamma, beta).
fn check_param(what: &'static str, v: &[f32], cols: usize) -> Result<()> {
    if v.len() == cols {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what,
            expected: cols,
            found: v.len(),
        })
    }
}

/// Runs `row` on each `cols`-long row of `io`.
#[inline(always)]
fn for_each_row(mut io: InOut<'_>, cols: usize, mut row: impl FnMut(InOut<'_>)) {
    if cols == 0 {
        return;
    }
    let rows = io.len() / cols;
    for r in 0..rows {
        row(io.sub(r * cols, cols));
    }
}

/// One scalar through a vector operation (for the per-row scalars: `1/sqrt`, ...).
#[inline(always)]
fn scalar(x: f32, f: impl Fn(F32x4) -> F32x4) -> f32 {
    f(F32x4::splat(x)).lane(0)
}
