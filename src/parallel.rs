//! Thread-level parallelism: the kernels split their work into independent tiles
//! ([`crate::kernels::ParallelFor`]); this module runs those tiles on rayon's pool when the
//! `threads` feature is on, and in a plain loop otherwise. Results are bit-identical either way.
use crate::kernels::conv::{Conv2d, ConvEpilogue, ConvScratch, TensorLayout};
use crate::quant::{DynamicQuant, PackedQB, QMatRef, QOutput, QScratch, QuantParams, Q8};
use crate::{EpilogueOp, MatMut, MatRef, PackedB, Result};

/// Set once rayon's global pool exists (on wasm32 the first use creates it, at 1 thread if
/// `initThreadPool` did not run first; JavaScript's `startThreads` checks it).
#[cfg(feature = "threads")]
static POOL_FIXED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether the thread pool is fixed already (always `true` without the `threads` feature).
pub fn pool_fixed() -> bool {
    #[cfg(feature = "threads")]
    {
        POOL_FIXED.load(core::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(not(feature = "threads"))]
    {
        true
    }
}

/// Threads the pool runs (1 without the `threads` feature, or before `initThreadPool` on wasm).
///
/// ```
/// assert!(wasmnn::parallel::threads() >= 1);
/// ```
pub fn threads() -> usize {
    #[cfg(feature = "threads")]
    {
        POOL_FIXED.store(true, core::sync::atomic::Ordering::Relaxed);
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// Runs `task(i)` for `i < count` on the pool (feature `threads`) or sequentially.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let sum = AtomicUsize::new(0);
/// wasmnn::parallel::parallel_for(10, &|i| { sum.fetch_add(i, Ordering::Relaxed); });
/// assert_eq!(sum.into_inner(), 45);
/// ```
pub fn parallel_for(count: usize, task: &(dyn Fn(usize) + Sync)) {
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        POOL_FIXED.store(true, core::sync::atomic::Ordering::Relaxed);
        (0..count).into_par_iter().for_each(task);
    }
    #[cfg(not(feature = "threads"))]
    {
        (0..count).for_each(task);
    }
}

/// [`crate::gemm_packed`] tiled over all [`threads`] (a single call below the size threshold).
///
/// ```
/// use wasmnn::{parallel, MatMut, MatRef, PackedB};
/// let b = PackedB::from_row_major(&[1.0; 6], 2, 3)?;
/// let mut c = [0.0; 3];
/// parallel::gemm_packed(1.0, MatRef::row_major(&[1.0, 2.0], 1, 2)?, &b, 0.0,
///     MatMut::row_major(&mut c, 1, 3)?, &[])?;
/// assert_eq!(c, [3.0; 3]);
/// # Ok::<(), wasmnn::Error>(())
/// ```
pub fn gemm_packed(
    alpha: f32,
    a: MatRef<'_>,
    b: &PackedB,
    beta: f32,
    c: MatMut<'_>,
    ops: &[EpilogueOp<'_>],
) -> Result<()> {
    crate::kernels::gemm_packed_par(alpha, a, b, beta, c, ops, threads(), &parallel_for)
}

/// [`Conv2d::run_with`] split over all [`threads`]: im2col GEMM blocks and depthwise rows as
/// tasks, the 1x1 GEMM in 2-D tiles (a single task below the size threshold). Bit-identical to
/// the single-threaded call.
///
/// ```
/// use wasmnn::kernels::conv::{Conv2d, Conv2dParams, ConvEpilogue, ConvScratch, TensorLayout};
/// let conv = Conv2d::new(&[1.0; 9], 1, 1, Conv2dParams::new(3, 3).padding(1, 1, 1, 1))?;
/// let mut y = [0.0; 16];
/// wasmnn::parallel::conv2d(&conv, &mut ConvScratch::default(), &[1.0; 16], TensorLayout::Nchw,
///     1, 4, 4, &mut y, &ConvEpilogue::default())?;
/// assert_eq!(&y[..4], &[4.0, 6.0, 6.0, 4.0]);
/// # Ok::<(), wasmnn::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    conv: &Conv2d,
    scratch: &mut ConvScratch,
    input: &[f32],
    layout: TensorLayout,
    batch: usize,
    h: usize,
    w: usize,
    output: &mut [f32],
    epilogue: &ConvEpilogue<'_>,
) -> Result<()> {
    conv.run_with_par(
        scratch,
        input,
        layout,
        batch,
        h,
        w,
        output,
        epilogue,
        threads(),
        &parallel_for,
    )
}

/// [`crate::qgemm`] (int8 A, packed int8 B) with blocks of rows over all [`threads`];
/// bit-identical to the single-threaded call.
///
/// ```
/// use wasmnn::quant::{PackedQB, QMatMut, QMatRef, QOutput, QuantParams};
/// let b = PackedQB::from_row_major(&[1i8, -1, 2, 3], 2, 2, QuantParams::IDENTITY)?;
/// let mut c = [0i32; 2];
/// wasmnn::parallel::qgemm(QMatRef::row_major(&[130u8, 126], 1, 2)?,
///     QuantParams::PerTensor { scale: 1.0, zero_point: 128 }, &b,
///     QOutput::I32(QMatMut::row_major(&mut c, 1, 2)?))?;
/// assert_eq!(c, [-2, -8]);
/// # Ok::<(), wasmnn::Error>(())
/// ```
pub fn qgemm<A: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
) -> Result<()> {
    qgemm_scratch(a, a_params, b, out, &mut QScratch::new())
}

/// [`qgemm`] with reusable scratch memory (one set of buffers per thread): once `scratch` has
/// served a problem of this size, our code allocates nothing (rayon's job bookkeeping may).
///
/// ```
/// use wasmnn::quant::{PackedQB, QMatMut, QMatRef, QOutput, QScratch, QuantParams};
/// let b = PackedQB::from_row_major(&[1i8, -1, 2, 3], 2, 2, QuantParams::IDENTITY)?;
/// let mut scratch = QScratch::new();
/// let mut c = [0i32; 2];
/// wasmnn::parallel::qgemm_scratch(QMatRef::row_major(&[130u8, 126], 1, 2)?,
///     QuantParams::PerTensor { scale: 1.0, zero_point: 128 }, &b,
///     QOutput::I32(QMatMut::row_major(&mut c, 1, 2)?), &mut scratch)?;
/// assert_eq!(c, [-2, -8]);
/// # Ok::<(), wasmnn::Error>(())
/// ```
pub fn qgemm_scratch<A: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
    scratch: &mut QScratch,
) -> Result<()> {
    crate::quant::qgemm_par_scratch(a, a_params, b, out, threads(), &parallel_for, scratch)
}

/// [`crate::qgemm_dynamic`] (f32 A quantized on the fly) with blocks of rows over all
/// [`threads`]; bit-identical to the single-threaded call.
///
/// ```
/// use wasmnn::quant::{DynamicQuant, PackedQB, QMatMut, QOutput};
/// use wasmnn::{Activation, MatRef};
/// let b = PackedQB::quantize_f32(MatRef::row_major(&[1.0, 0.0, 0.0, 1.0], 2, 2)?)?;
/// let mut y = [0.0f32; 2];
/// wasmnn::parallel::qgemm_dynamic(MatRef::row_major(&[0.5, -1.0], 1, 2)?,
///     DynamicQuant::PerTensor, &b, QOutput::F32 { c: QMatMut::row_major(&mut y, 1, 2)?,
///     bias: None, activation: Activation::Identity })?;
/// assert!((y[0] - 0.5).abs() < 0.01 && (y[1] + 1.0).abs() < 0.01);
/// # Ok::<(), wasmnn::Error>(())
/// ```
pub fn qgemm_dynamic(
    a: MatRef<'_>,
    quant: DynamicQuant,
    b: &PackedQB,
    out: QOutput<'_>,
) -> Result<()> {
    qgemm_dynamic_scratch(a, quant, b, out, &mut QScratch::new())
}

/// [`qgemm_dynamic`] with reusable scratch memory, as [`qgemm_scratch`].
///
/// ```
/// use wasmnn::quant::{DynamicQuant, PackedQB, QMatMut, QOutput, QScratch};
/// use wasmnn::{Activation, MatRef};
/// let b = PackedQB::quantize_f32(MatRef::row_major(&[1.0, 0.0, 0.0, 1.0], 2, 2)?)?;
/// let mut scratch = QScratch::new();
/// let mut y = [0.0f32; 2];
/// wasmnn::parallel::qgemm_dynamic_scratch(MatRef::row_major(&[0.5, -1.0], 1, 2)?,
///     DynamicQuant::PerTensor, &b, QOutput::F32 { c: QMatMut::row_major(&mut y, 1, 2)?,
///     bias: None, activation: Activation::Identity }, &mut scratch)?;
/// assert!((y[0] - 0.5).abs() < 0.01 && (y[1] + 1.0).abs() < 0.01);
/// # Ok::<(), wasmnn::Error>(())
/// ```
pub fn qgemm_dynamic_scratch(
    a: MatRef<'_>,
    quant: DynamicQuant,
    b: &PackedQB,
    out: QOutput<'_>,
    scratch: &mut QScratch,
) -> Result<()> {
    crate::quant::qgemm_dynamic_par_scratch(a, quant, b, out, threads(), &parallel_for, scratch)
}
