//! Packed B ("weights"): the layout the microkernels stream.
//!
//! B (`k x n`, any strides) is cut into K blocks of `kc` rows (the L1-sized depth of one
//! microkernel call) and each block into panels of [`NR`] columns. A panel stores, for each of its
//! `kc` rows, `NR` consecutive floats, zero-padded past column `n`:
//!
//! ```text
//! data = [ block 0: panel 0 (kc x NR) | panel 1 | ... ] [ block 1: ... ] ...
//! offset(block starting at k0, panel q) = k0 * n_padded + q * kc_block * NR
//! ```
//!
//! Inference weights are constant, so a `PackedB` is built once and reused for every call.
use super::kernel::NR;
use crate::error::{Error, Result};
use crate::matrix::MatRef;
use alloc::vec::Vec;

/// Default depth of one K block. Measured on this machine (Zen 4, V8): GEMM speed does not
/// depend on KC between 256 and 8192 (A is read in place and a 4x8 step does 64 flops per 48
/// bytes loaded, which L2 sustains), while a GEMV (M = 1) streaming B from DRAM runs ~1.5x
/// faster with one deep block than with 256-deep blocks. So blocks are deep.
pub const DEFAULT_KC: usize = 8192;

/// B packed for the GEMM microkernels. Build once, use for many calls.
///
/// ```
/// use wasmnn_kernels::{MatRef, PackedB};
/// let w = vec![1.0f32; 3 * 5]; // k = 3, n = 5, row-major
/// let packed = PackedB::new(MatRef::row_major(&w, 3, 5).unwrap()).unwrap();
/// assert_eq!((packed.k(), packed.n()), (3, 5));
/// ```
#[derive(Clone, Debug)]
pub struct PackedB {
    k: usize,
    n: usize,
    kc: usize,
    data: Vec<f32>,
}

impl PackedB {
    /// Packs `b` (`k x n`) with the default K block depth.
    pub fn new(b: MatRef<'_>) -> Result<Self> {
        Self::with_kc(b, DEFAULT_KC)
    }

    /// Packs a dense row-major `k x n` matrix.
    pub fn from_row_major(data: &[f32], k: usize, n: usize) -> Result<Self> {
        Self::new(MatRef::named("b", data, k, n, n, 1)?)
    }

    /// An empty `0 x 0` packing that holds no memory (a buffer for [`PackedB::repack`]).
    pub(crate) fn empty() -> Self {
        Self {
            k: 0,
            n: 0,
            kc: DEFAULT_KC,
            data: Vec::new(),
        }
    }

    /// Packs `b` with K blocks of `kc` rows (`kc >= 1`). Smaller blocks trade more passes over C
    /// for a smaller cache footprint; see [`DEFAULT_KC`].
    pub fn with_kc(b: MatRef<'_>, kc: usize) -> Result<Self> {
        let mut packed = Self::empty();
        packed.repack(b, kc)?;
        Ok(packed)
    }

    /// Packs `b` into this `PackedB`, reusing its memory: no allocation once the buffer is large
    /// enough (for activations packed per call, e.g. the K and V of attention).
    ///
    /// ```
    /// use wasmnn_kernels::{MatRef, PackedB};
    /// let mut p = PackedB::from_row_major(&[1.0; 64], 8, 8)?;
    /// p.repack(MatRef::row_major(&[2.0; 32], 4, 8)?, 256)?;
    /// assert_eq!((p.k(), p.n()), (4, 8));
    /// # Ok::<(), wasmnn_kernels::Error>(())
    /// ```
    pub fn repack(&mut self, b: MatRef<'_>, kc: usize) -> Result<()> {
        if kc == 0 {
            return Err(Error::InvalidArgument {
                what: "kc",
                why: "the K block depth must be at least 1",
            });
        }
        let (k, n) = (b.rows(), b.cols());
        let n_padded = n
            .checked_add(NR - 1)
            .map(|x| x / NR * NR)
            .ok_or(Error::Overflow { what: "b" })?;
        let len = k
            .checked_mul(n_padded)
            .filter(|&l| {
                l.checked_mul(4)
                    .is_some_and(|bytes| bytes <= isize::MAX as usize)
            })
            .ok_or(Error::Overflow { what: "b" })?;
        // Reserve before clearing: on failure the old packing is still intact.
        self.data
            .try_reserve_exact(len.saturating_sub(self.data.len()))
            .map_err(|_| Error::InvalidArgument {
                what: "b",
                why: "not enough memory to pack B",
            })?;
        self.data.clear();
        let (src, rs, cs) = (b.data(), b.row_stride(), b.col_stride());
        let mut k0 = 0;
        while k0 < k {
            let kb = kc.min(k - k0);
            for j0 in (0..n_padded).step_by(NR) {
                for p in k0..k0 + kb {
                    for j in j0..j0 + NR {
                        // In range: MatRef validated (k-1)*rs + (n-1)*cs < len.
                        self.data
                            .push(if j < n { src[p * rs + j * cs] } else { 0.0 });
                    }
                }
            }
            k0 += kb;
        }
        debug_assert_eq!(self.data.len(), len);
        (self.k, self.n, self.kc) = (k, n, kc);
        Ok(())
    }

    /// Rows of B (the shared dimension K).
    pub fn k(&self) -> usize {
        self.k
    }
    /// Columns of B (the output width N).
    pub fn n(&self) -> usize {
        self.n
    }
    /// Depth of one K block.
    pub fn kc(&self) -> usize {
        self.kc
    }
    /// `n` rounded up to a whole number of panels.
    pub fn n_padded(&self) -> usize {
        self.n.div_ceil(NR) * NR
    }
    /// Bytes of packed data.
    pub fn size_bytes(&self) -> usize {
        self.data.len() * 4
    }
    /// The packed floats (layout in the module docs).
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
}
