//! Fused LayerNorm + MatMul + Add: `y = LayerNorm(x) W + b + residual`, the pre-norm
//! transformer sublayer (`h + Linear(LN(h))`) as one call.
//!
//! The rows of `x` are normalised a block at a time into a small scratch buffer, and each block
//! goes straight into the packed GEMM with the bias and the residual in its epilogue
//! (`EpilogueOp::AddColBias` + `EpilogueOp::AddMatrix`). A block is [`BLOCK_ROWS`] rows, the
//! GEMM's own L2 row block (`Blocking::default().mc`): the normalised block stays in L2 while
//! the GEMM reuses it against every panel of `W`, `W` is streamed once per block exactly as in
//! an unfused GEMM, and the full normalised matrix never exists in memory. The results are
//! bit-identical to `layer_norm` followed by `gemm_packed` with the same epilogue; each block's
//! GEMM is tiled over the threads ([`crate::parallel::gemm_packed`], the same bits).
//!
//! The scratch lives in a [`FusedScratch`] that the caller keeps between calls: it grows to
//! `BLOCK_ROWS * K` floats on first use and is reused after that, so a steady-state call
//! allocates nothing.
use crate::kernels::layer_norm;
use crate::parallel::gemm_packed;
use crate::{EpilogueOp, Error, MatMut, MatRef, PackedB, Result};

/// Rows normalised and multiplied per block: the GEMM's default L2 row block
/// (`Blocking::default().mc`), and a multiple of its 4-row tile, so that every block is cut into
/// the same tiles as the unfused GEMM would use (hence bit-identical results).
pub const BLOCK_ROWS: usize = 128;

/// The LayerNorm of the fused op: `(x - mean) / sqrt(var + eps) * gamma + beta` over each row.
#[derive(Clone, Copy, Debug)]
pub struct LayerNormParams<'a> {
    /// Scale, one per input feature (`K` values).
    pub gamma: &'a [f32],
    /// Shift, one per input feature, or none.
    pub beta: Option<&'a [f32]>,
    /// Added to the variance; finite and `>= 0`.
    pub eps: f32,
}

/// Reusable scratch of [`layer_norm_matmul_add`]: one block of normalised rows.
///
/// ```
/// let mut scratch = wasmnn::FusedScratch::new();
/// assert_eq!(scratch.capacity(), 0); // grows on first use, then stays
/// ```
#[derive(Clone, Debug, Default)]
pub struct FusedScratch {
    buf: Vec<f32>,
}

impl FusedScratch {
    /// An empty scratch; the first call sizes it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Floats currently held (`BLOCK_ROWS * K` after a call with `K` input features).
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The first `len` floats, growing the buffer (the only allocation) when it is shorter.
    fn take(&mut self, len: usize) -> Result<&mut [f32]> {
        if self.buf.len() < len {
            let extra = len - self.buf.len();
            self.buf
                .try_reserve_exact(extra)
                .map_err(|_| Error::InvalidArgument {
                    what: "scratch",
                    why: "not enough memory for one block of normalised rows",
                })?;
            self.buf.resize(len, 0.0);
        }
        Ok(&mut self.buf[..len])
    }
}

/// `y = LayerNorm(x) W + b + residual` for `x` (`M x K`, unit column stride), packed `W`
/// (`K x N`), optional `bias` (`N`) and optional `residual` (`M x N`), into `y` (`M x N`).
///
/// Every shape and parameter is checked before anything is written; `y` is untouched on
/// error. The error of each output is that of the LayerNorm (bound in
/// `wasmnn_kernels::rows`, per element of the normalised row) carried through the dot
/// product, plus the GEMM's own rounding (asserted in `tests/fused.rs`).
///
/// ```
/// use wasmnn::{layer_norm_matmul_add, FusedScratch, LayerNormParams, MatMut, MatRef, PackedB};
/// let (m, k, n) = (2, 4, 3);
/// let x = [1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 8.0];
/// let w = PackedB::from_row_major(&[1.0; 12], k, n)?; // every output sums the normalised row
/// let gamma = [1.0; 4];
/// let residual = [10.0; 6];
/// let mut y = [0.0f32; 6];
/// let mut scratch = FusedScratch::new();
/// layer_norm_matmul_add(
///     MatRef::row_major(&x, m, k)?,
///     LayerNormParams { gamma: &gamma, beta: None, eps: 1e-5 },
///     &w,
///     Some(&[0.5, 0.5, 0.5]),
///     Some(MatRef::row_major(&residual, m, n)?),
///     MatMut::row_major(&mut y, m, n)?,
///     &mut scratch,
/// )?;
/// assert!(y.iter().all(|v| (v - 10.5).abs() < 1e-5)); // a normalised row sums to 0
/// # Ok::<(), wasmnn::Error>(())
/// ```
pub fn layer_norm_matmul_add(
    x: MatRef<'_>,
    norm: LayerNormParams<'_>,
    w: &PackedB,
    bias: Option<&[f32]>,
    residual: Option<MatRef<'_>>,
    mut y: MatMut<'_>,
    scratch: &mut FusedScratch,
) -> Result<()> {
    let (m, k) = (x.rows(), w.k());
    check(&x, &norm, w, bias, residual.as_ref(), &y)?;
    let rows_per_block = BLOCK_ROWS.min(m.max(1));
    let block_len = rows_per_block
        .checked_mul(k)
        .ok_or(Error::Overflow { what: "scratch" })?;
    let scratch = scratch.take(block_len)?;

    let mut i0 = 0;
    while i0 < m {
        let rows = rows_per_block.min(m - i0);
        let block = &mut scratch[..rows * k];
        // Normalise the block's rows into the scratch (row stride k).
        let xb = x.row_block(i0, rows)?;
        for (r, dst) in block.chunks_exact_mut(k.max(1)).enumerate().take(rows) {
            let start = r * xb.row_stride();
            let src = xb
                .data()
                .get(start..start + k)
                .ok_or(Error::BufferTooSmall {
                    what: "x",
                    needed: start + k,
                    len: xb.data().len(),
                })?;
            layer_norm(src, dst, norm.gamma, norm.beta, norm.eps)?;
        }
        // ... and multiply it, with bias and residual in the GEMM epilogue.
        let mut ops = [EpilogueOp::AddColBias(&[]); 2];
        let mut len = 0;
        if let Some(b) = bias {
            ops[len] = EpilogueOp::AddColBias(b);
            len += 1;
        }
        if let Some(r) = residual {
            ops[len] = EpilogueOp::AddMatrix(r.row_block(i0, rows)?);
            len += 1;
        }
        let a = MatRef::row_major(block, rows, k)?;
        gemm_packed(1.0, a, w, 0.0, y.row_block(i0, rows)?, &ops[..len])?;
        i0 += rows;
    }
    Ok(())
}

/// Every check of [`layer_norm_matmul_add`], before any write.
fn check(
    x: &MatRef<'_>,
    norm: &LayerNormParams<'_>,
    w: &PackedB,
    bias: Option<&[f32]>,
    residual: Option<&MatRef<'_>>,
    y: &MatMut<'_>,
) -> Result<()> {
    let (m, k, n) = (x.rows(), w.k(), w.n());
    let mismatch = |what, expected, found| {
        if expected == found {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                what,
                expected,
                found,
            })
        }
    };
    mismatch("columns of x (= rows of W)", k, x.cols())?;
    if k > 1 && x.col_stride() != 1 {
        return Err(Error::InvalidArgument {
            what: "x",
            why: "rows must be contiguous (column stride 1) to be normalised",
        });
    }
    mismatch("length of gamma (= columns of x)", k, norm.gamma.len())?;
    if let Some(beta) = norm.beta {
        mismatch("length of beta (= columns of x)", k, beta.len())?;
    }
    if !(norm.eps.is_finite() && norm.eps >= 0.0) {
        return Err(Error::InvalidArgument {
            what: "eps",
            why: "must be a finite number >= 0",
        });
    }
    mismatch("rows of y (= rows of x)", m, y.rows())?;
    mismatch("columns of y (= columns of W)", n, y.cols())?;
    if let Some(b) = bias {
        mismatch("length of bias (= columns of W)", n, b.len())?;
    }
    if let Some(r) = residual {
        mismatch("rows of residual (= rows of x)", m, r.rows())?;
        mismatch("columns of residual (= columns of W)", n, r.cols())?;
    }
    Ok(())
}
