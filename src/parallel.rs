//! Thread-level parallelism: the kernels split their work into independent tiles
//! ([`crate::kernels::ParallelFor`]); this module runs those tiles on rayon's pool when the
//! `threads` feature is on, and in a plain loop otherwise. Results are bit-identical either way.
use crate::{EpilogueOp, MatMut, MatRef, PackedB, Result};

/// Threads the pool runs (1 without the `threads` feature, or before `initThreadPool` on wasm).
///
/// ```
/// assert!(wasmnn::parallel::threads() >= 1);
/// ```
pub fn threads() -> usize {
    #[cfg(feature = "threads")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// Runs `task(i)` for `i < count` on the pool (feature `threads`) or sequentially.
pub fn parallel_for(count: usize, task: &(dyn Fn(usize) + Sync)) {
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
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
