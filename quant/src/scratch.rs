//! [`QScratch`]: the reusable working memory of the int8 entry points.
//!
//! An int8 GEMM packs its A operand per call (rows widened to i16 minus the zero point, or split
//! into 7-bit planes), keeps one block of finished tiles, and for f32 A also the quantization
//! parameters of its rows; an int8 convolution adds its im2col matrix. A `QScratch` kept by
//! the caller holds all of it: each buffer grows to the largest problem it has served (never
//! shrinks) and is reused afterwards, so a steady-state call makes no heap allocation. The
//! entry points without a scratch argument build a temporary one.
//!
//! For memory that never touches the heap at all, [`crate::qgemm_in`] carves the same buffers
//! from a [`wasmnn_arena::Scope`] instead.
use crate::driver::Buffers;
use crate::quantize::DynamicParams;
use alloc::vec::Vec;

/// Reusable scratch memory of the int8 GEMM, [`crate::QLinear`] and [`crate::conv`] entry
/// points (one set of GEMM buffers per thread).
///
/// ```
/// use wasmnn_kernels::Activation;
/// use wasmnn_quant::{QLinear, QScratch};
/// let layer = QLinear::new(&[1.0, 0.0, 0.0, 1.0], 2, 2, None, Activation::Identity)?;
/// let mut scratch = QScratch::new();
/// assert_eq!(scratch.bytes(), 0); // grows on first use, then stays
/// let mut y = [0.0f32; 2];
/// layer.forward_scratch(&[0.5, -1.0], 1, &mut y, &mut scratch)?;
/// let held = scratch.bytes();
/// layer.forward_scratch(&[2.0, 1.0], 1, &mut y, &mut scratch)?;
/// assert_eq!(scratch.bytes(), held); // reused, not grown
/// assert!((y[0] - 2.0).abs() < 0.02);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct QScratch {
    /// GEMM buffers, one set per thread.
    pub(crate) slots: Vec<Buffers>,
    /// Quantization parameters of f32 A (one, or one per row).
    pub(crate) params: Vec<DynamicParams>,
    /// Their scales, as the epilogue reads them.
    pub(crate) scales: Vec<f32>,
    /// One strided f32 row of A, copied contiguous for its min / max.
    pub(crate) row: Vec<f32>,
    /// The im2col matrix of an int8 convolution (raw bytes of u8 or i8 values).
    pub(crate) im2col: Vec<u8>,
}

impl QScratch {
    /// An empty scratch; the first call sizes it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes currently held by the buffers (their lengths, not the allocator's capacities).
    ///
    /// ```
    /// assert_eq!(wasmnn_quant::QScratch::new().bytes(), 0);
    /// ```
    pub fn bytes(&self) -> usize {
        self.slots.iter().map(Buffers::bytes).sum::<usize>()
            + self.params.len() * core::mem::size_of::<DynamicParams>()
            + (self.scales.len() + self.row.len()) * 4
            + self.im2col.len()
    }
}
