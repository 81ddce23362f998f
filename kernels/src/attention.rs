//! Scaled dot-product attention, `softmax(Q K^T * scale + mask) V`, per head, on the packed GEMM.
//!
//! For each head, K^T and V are packed once into reusable buffers; queries are processed in
//! blocks of [`QUERY_BLOCK`] rows: one GEMM computes the block's scores (scale and mask fused into
//! its epilogue), a stable row softmax turns them into weights, and a second GEMM multiplies them
//! by V straight into the output. So at most `QUERY_BLOCK x seq_k` scores exist at a time, never
//! the whole `seq_q x seq_k` matrix.
use crate::epilogue::EpilogueOp;
use crate::error::{Error, Result};
use crate::gemm::{gemm_packed, PackedB};
use crate::matrix::{MatMut, MatRef};
use crate::rows::softmax_inplace;
use alloc::vec::Vec;

/// Query rows per block: a 64 x seq_k score tile stays in L2 for sequences up to a few thousand.
pub const QUERY_BLOCK: usize = 64;

/// Shapes of one attention call. Q is `heads x seq_q x head_dim`, K is `heads x seq_k x head_dim`,
/// V is `heads x seq_k x value_dim` and the output `heads x seq_q x value_dim`, all dense
/// row-major (`heads` may be batch x heads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    /// Independent heads (batch x heads).
    pub heads: usize,
    /// Query rows per head.
    pub seq_q: usize,
    /// Key / value rows per head.
    pub seq_k: usize,
    /// Width of Q and K rows.
    pub head_dim: usize,
    /// Width of V and output rows.
    pub value_dim: usize,
}

/// An additive mask: `0` keeps a score, `-inf` (or a large negative number) removes it.
/// Element `(head, i, j)` is `data[head * head_stride + i * row_stride + j]`; a zero stride
/// broadcasts (e.g. `row_stride = 0` for a key-padding mask shared by all queries).
#[derive(Clone, Copy, Debug)]
pub struct AttentionMask<'a> {
    /// Mask values.
    pub data: &'a [f32],
    /// Elements between heads (0: one mask for every head).
    pub head_stride: usize,
    /// Elements between query rows (0: one row for every query).
    pub row_stride: usize,
}

/// Options of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct AttentionOptions<'a> {
    /// Multiplies `Q K^T` (usually `1 / sqrt(head_dim)`).
    pub scale: f32,
    /// Optional additive mask.
    pub mask: Option<AttentionMask<'a>>,
    /// Query `i` sees only keys `j <= i + seq_k - seq_q` (aligned to the end, as in decoding).
    pub causal: bool,
}

/// Reusable buffers for [`attention`]: after a first call with the largest shape, no allocation.
#[derive(Debug, Default)]
pub struct AttentionScratch {
    k_t: Option<PackedB>,
    v: Option<PackedB>,
    scores: Vec<f32>,
}

/// `out = softmax(Q K^T * scale + mask) V` for every head.
///
/// A query row whose keys are all masked out (`-inf` everywhere) yields a zero output row.
///
/// ```
/// use wasmnn_kernels::attention::{attention, AttentionOptions, AttentionScratch, AttentionShape};
/// let shape = AttentionShape { heads: 1, seq_q: 1, seq_k: 2, head_dim: 1, value_dim: 1 };
/// let (q, k, v) = ([1.0], [0.0, 0.0], [1.0, 3.0]); // equal scores: the mean of V
/// let mut out = [0.0];
/// let opts = AttentionOptions { scale: 1.0, mask: None, causal: false };
/// attention(&q, &k, &v, &mut out, shape, &opts, &mut AttentionScratch::default())?;
/// assert_eq!(out, [2.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    shape: AttentionShape,
    opts: &AttentionOptions<'_>,
    scratch: &mut AttentionScratch,
) -> Result<()> {
    let s = shape;
    let len = |a: usize, b: usize, what| {
        s.heads
            .checked_mul(a)
            .and_then(|x| x.checked_mul(b))
            .ok_or(Error::Overflow { what })
    };
    for (what, found, expected) in [
        (
            "length of q (heads * seq_q * head_dim)",
            q.len(),
            len(s.seq_q, s.head_dim, "q")?,
        ),
        (
            "length of k (heads * seq_k * head_dim)",
            k.len(),
            len(s.seq_k, s.head_dim, "k")?,
        ),
        (
            "length of v (heads * seq_k * value_dim)",
            v.len(),
            len(s.seq_k, s.value_dim, "v")?,
        ),
        (
            "length of out (heads * seq_q * value_dim)",
            out.len(),
            len(s.seq_q, s.value_dim, "out")?,
        ),
    ] {
        if found != expected {
            return Err(Error::ShapeMismatch {
                what,
                expected,
                found,
            });
        }
    }
    if !opts.scale.is_finite() {
        return Err(Error::InvalidArgument {
            what: "scale",
            why: "must be finite",
        });
    }
    if let Some(m) = opts.mask {
        // Every (head, i, j) must be inside the mask.
        if s.heads > 0 && s.seq_q > 0 && s.seq_k > 0 {
            let last = (s.heads - 1)
                .checked_mul(m.head_stride)
                .and_then(|a| {
                    (s.seq_q - 1)
                        .checked_mul(m.row_stride)
                        .and_then(|b| a.checked_add(b))
                })
                .and_then(|a| a.checked_add(s.seq_k))
                .ok_or(Error::Overflow { what: "mask" })?;
            if last > m.data.len() {
                return Err(Error::BufferTooSmall {
                    what: "mask",
                    needed: last,
                    len: m.data.len(),
                });
            }
        }
    }
    if s.heads == 0 || s.seq_q == 0 || s.value_dim == 0 {
        return Ok(());
    }
    if s.seq_k == 0 {
        out.fill(0.0); // nothing to attend to
        return Ok(());
    }
    let block = QUERY_BLOCK.min(s.seq_q);
    scratch.scores.resize(block * s.seq_k, 0.0);
    for h in 0..s.heads {
        let qh = &q[h * s.seq_q * s.head_dim..][..s.seq_q * s.head_dim];
        let kh = &k[h * s.seq_k * s.head_dim..][..s.seq_k * s.head_dim];
        let vh = &v[h * s.seq_k * s.value_dim..][..s.seq_k * s.value_dim];
        let oh = &mut out[h * s.seq_q * s.value_dim..][..s.seq_q * s.value_dim];
        // K^T (head_dim x seq_k) is a transposed view of K: packing reads it with strides.
        let k_t = MatRef::row_major(kh, s.seq_k, s.head_dim)?.t();
        let vm = MatRef::row_major(vh, s.seq_k, s.value_dim)?;
        let kc = crate::gemm::pack::DEFAULT_KC;
        let pk = repack(&mut scratch.k_t, k_t, kc)?;
        let pv = repack(&mut scratch.v, vm, kc)?;
        let mut i0 = 0;
        while i0 < s.seq_q {
            let rows = block.min(s.seq_q - i0);
            let scores = &mut scratch.scores[..rows * s.seq_k];
            let qb = MatRef::new(&qh[i0 * s.head_dim..], rows, s.head_dim, s.head_dim, 1)?;
            let mask_view = match opts.mask {
                Some(m) => Some(MatRef::new(
                    &m.data[h * m.head_stride + i0 * m.row_stride..],
                    rows,
                    s.seq_k,
                    m.row_stride,
                    1,
                )?),
                None => None,
            };
            let ops_storage;
            let ops: &[EpilogueOp<'_>] = match mask_view {
                Some(mv) => {
                    ops_storage = [EpilogueOp::AddMatrix(mv)];
                    &ops_storage
                }
                None => &[],
            };
            let sm = MatMut::row_major(scores, rows, s.seq_k)?;
            gemm_packed(opts.scale, qb, pk, 0.0, sm, ops)?;
            for (r, row) in scores.chunks_exact_mut(s.seq_k).enumerate() {
                let visible = if opts.causal {
                    // keys j <= i + seq_k - seq_q
                    (i0 + r + 1 + s.seq_k).saturating_sub(s.seq_q).min(s.seq_k)
                } else {
                    s.seq_k
                };
                // Causally hidden keys get weight 0; the visible prefix is a stable row
                // softmax (a fully masked row gives zeros, see `rows::softmax`).
                let (live, hidden) = row.split_at_mut(visible);
                hidden.fill(0.0);
                if !live.is_empty() {
                    softmax_inplace(live, live.len())?;
                }
            }
            let ob = MatMut::new(
                &mut oh[i0 * s.value_dim..],
                rows,
                s.value_dim,
                s.value_dim,
                1,
            )?;
            gemm_packed(
                1.0,
                MatRef::row_major(scores, rows, s.seq_k)?,
                pv,
                0.0,
                ob,
                &[],
            )?;
            i0 += rows;
        }
    }
    Ok(())
}

fn repack<'a>(slot: &'a mut Option<PackedB>, b: MatRef<'_>, kc: usize) -> Result<&'a PackedB> {
    match slot {
        Some(p) => p.repack(b, kc)?,
        None => *slot = Some(PackedB::with_kc(b, kc)?),
    }
    Ok(slot.as_ref().expect("set above"))
}
