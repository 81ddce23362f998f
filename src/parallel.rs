//! Thread-level parallelism: the kernels split their work into independent tiles
//! ([`crate::kernels::ParallelFor`]); this module runs those tiles on rayon's pool when the
//! `threads` feature is on, and in a plain loop otherwise. Results are bit-identical either way.
use crate::kernels::attention::{AttentionOptions, AttentionScratch, AttentionShape};
use crate::kernels::conv::{Conv2d, ConvEpilogue, TensorLayout};
use crate::kernels::par::task_count;
use crate::quant::{DynamicQuant, PackedQB, QMatRef, QOutput, QScratch, QuantParams, Q8};
use crate::{EpilogueOp, MatMut, MatRef, PackedB, Result};
use std::sync::Mutex;

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

/// The cap of [`set_thread_limit`]; 0: none.
static THREAD_LIMIT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Threads the kernels split their work over: the pool's threads (1 without the `threads`
/// feature, or before `initThreadPool` on wasm), at most the [`set_thread_limit`] cap.
///
/// ```
/// assert!(wasmnn::parallel::threads() >= 1);
/// ```
pub fn threads() -> usize {
    let pool = pool_threads();
    match thread_limit() {
        Some(limit) => pool.min(limit.get()),
        None => pool,
    }
}

/// Threads the pool runs, whatever the cap.
pub(crate) fn pool_threads() -> usize {
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

/// Caps the threads every later call splits its work over (`None`: all of the pool's).
///
/// A pool cannot be resized once started (on wasm, `initThreadPool` runs once per page), so this
/// is how a caller runs on fewer threads later: to leave a core to the page, or to time 1 and 2
/// threads side by side in one pool. It is a process-wide setting. Results are bit-identical
/// for any cap, also for a call running while the cap changes (its tasks are then shared by the
/// old or the new number of threads).
///
/// ```
/// use std::num::NonZeroUsize;
/// use wasmnn::parallel::{set_thread_limit, thread_limit, threads};
/// set_thread_limit(NonZeroUsize::new(1));
/// assert_eq!(threads(), 1);
/// set_thread_limit(None);
/// assert_eq!(thread_limit(), None);
/// ```
pub fn set_thread_limit(limit: Option<core::num::NonZeroUsize>) {
    THREAD_LIMIT.store(
        limit.map_or(0, core::num::NonZeroUsize::get),
        core::sync::atomic::Ordering::Relaxed,
    );
}

/// The cap set by [`set_thread_limit`], if any.
///
/// ```
/// assert_eq!(wasmnn::parallel::thread_limit(), None);
/// ```
pub fn thread_limit() -> Option<core::num::NonZeroUsize> {
    core::num::NonZeroUsize::new(THREAD_LIMIT.load(core::sync::atomic::Ordering::Relaxed))
}

/// Runs `f` on one of the pool's threads and returns its result (feature `threads`, more than
/// one thread, called from outside the pool); otherwise simply calls `f`.
///
/// A [`parallel_for`] made from inside the pool pushes its helper jobs onto that thread's own
/// queue, where idle pool threads steal them, rather than onto the pool's global queue. The
/// graph executor runs a whole model this way (many small parallel calls, one per layer).
///
/// ```
/// assert_eq!(wasmnn::parallel::install(|| 6 * 7), 42);
/// ```
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "threads")]
    {
        if rayon::current_thread_index().is_none() && threads() > 1 {
            return rayon::join(f, || ()).0;
        }
    }
    f()
}

/// Runs `task(i)` for `i < count` on [`threads`] threads of the pool (feature `threads`) or
/// sequentially.
///
/// The calling thread takes tasks itself, next to `threads() - 1` helper jobs on the pool, each
/// taking the next task index from a shared counter until none is left. The caller starts at
/// once; a helper joins when its thread wakes (tens to hundreds of microseconds in a browser),
/// and the caller does the tasks it would have done meanwhile. When every task is claimed, the
/// caller waits for the helpers' last tasks by spinning, not asleep, so no wake-up is needed
/// at the end either. (Before: every pool thread got a broadcast job while the caller slept,
/// so each call paid a wake-up at the start and at the end; through `into_par_iter` the second
/// thread started only after two wake-ups in a row.)
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
        use core::sync::atomic::{AtomicUsize, Ordering};
        let workers = threads();
        if count <= 1 || workers <= 1 {
            (0..count).for_each(task);
            return;
        }
        // Counts on drop, so a helper that unwinds (a panicking task) still counts as gone.
        struct Exit<'a>(&'a AtomicUsize);
        impl Drop for Exit<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Release);
            }
        }
        let (next, done, exited) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        let take_tasks = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= count {
                break;
            }
            task(i);
            done.fetch_add(1, Ordering::Release);
        };
        let take_tasks = &take_tasks;
        let helpers = workers.min(count) - 1;
        rayon::in_place_scope(|scope| {
            for _ in 0..helpers {
                scope.spawn(|_| {
                    let _exit = Exit(&exited);
                    take_tasks();
                });
            }
            take_tasks();
            // Every task is claimed: the helpers' last ones take at most a task's time.
            while done.load(Ordering::Acquire) < count && exited.load(Ordering::Acquire) < helpers {
                core::hint::spin_loop();
            }
        });
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

/// [`Conv2d::run`] split over all [`threads`]: implicit-im2col GEMM blocks, rows of Winograd
/// tiles and depthwise rows as tasks, the 1x1 GEMM in 2-D tiles (a single task below the size threshold). Bit-identical to
/// the single-threaded call.
///
/// ```
/// use wasmnn::kernels::conv::{Conv2d, Conv2dParams, ConvEpilogue, TensorLayout};
/// let conv = Conv2d::new(&[1.0; 9], 1, 1, Conv2dParams::new(3, 3).padding(1, 1, 1, 1))?;
/// let mut y = [0.0; 16];
/// wasmnn::parallel::conv2d(&conv, &[1.0; 16], TensorLayout::Nchw,
///     1, 4, 4, &mut y, &ConvEpilogue::default())?;
/// assert_eq!(&y[..4], &[4.0, 6.0, 6.0, 4.0]);
/// # Ok::<(), wasmnn::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    conv: &Conv2d,
    input: &[f32],
    layout: TensorLayout,
    batch: usize,
    h: usize,
    w: usize,
    output: &mut [f32],
    epilogue: &ConvEpilogue<'_>,
) -> Result<()> {
    // A small convolution stays on one thread: handing tasks to another costs more than it
    // saves (MobileNetV3's layers of 1-4 M multiply-adds ran slower on 2 threads than on 1).
    let p = conv.params();
    let macs = output
        .len()
        .saturating_mul(conv.c_in() / p.groups.max(1))
        .saturating_mul(p.kernel_h * p.kernel_w);
    let threads = if macs < MIN_PARALLEL_CONV_MACS {
        1
    } else {
        threads()
    };
    conv.run_par(
        input,
        layout,
        batch,
        h,
        w,
        output,
        epilogue,
        threads,
        &parallel_for,
    )
}

/// Least multiply-adds of a convolution that [`conv2d`] splits over threads: 8 tasks' worth of
/// [`crate::kernels::par::MIN_MACS_PER_TASK`], measured on MobileNetV3 (2 threads, Node).
pub const MIN_PARALLEL_CONV_MACS: usize = 1 << 22;

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

/// Most tasks [`attention`] cuts one call into (each holds one [`AttentionScratch`]).
const MAX_ATTENTION_TASKS: usize = 16;

/// Scratch memory of [`attention`]: one kernel scratch per task, grown on the first call and
/// reused after that.
#[derive(Debug, Default)]
pub struct AttentionScratches(Vec<Mutex<AttentionScratch>>);

impl Clone for AttentionScratches {
    /// Scratch is never shared: a copy starts empty.
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// [`crate::kernels::attention::attention`] with the heads split over all [`threads`] (one call
/// below the size threshold). Heads are independent and each is computed by the same code as
/// in the single-threaded call, so the result is bit-identical for any thread count.
///
/// ```
/// use wasmnn::kernels::attention::{AttentionOptions, AttentionShape};
/// use wasmnn::parallel::{attention, AttentionScratches};
/// let shape = AttentionShape { heads: 2, seq_q: 1, seq_k: 2, head_dim: 1, value_dim: 1 };
/// let (q, k, v) = ([1.0, 1.0], [0.0; 4], [1.0, 3.0, 2.0, 4.0]); // equal scores: means of V
/// let mut out = [0.0; 2];
/// let opts = AttentionOptions { scale: 1.0, mask: None, causal: false };
/// attention(&q, &k, &v, &mut out, shape, &opts, &mut AttentionScratches::default())?;
/// assert_eq!(out, [2.0, 3.0]);
/// # Ok::<(), wasmnn::Error>(())
/// ```
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    shape: AttentionShape,
    opts: &AttentionOptions<'_>,
    scratch: &mut AttentionScratches,
) -> Result<()> {
    use crate::kernels::attention::attention as kernel;
    let s = shape;
    let macs = s
        .heads
        .saturating_mul(s.seq_q)
        .saturating_mul(s.seq_k)
        .saturating_mul(s.head_dim.saturating_add(s.value_dim));
    let threads = threads();
    let tasks = task_count(threads, s.heads, macs)
        .min(2 * threads)
        .min(MAX_ATTENTION_TASKS);
    let (q_len, k_len) = (s.seq_q * s.head_dim, s.seq_k * s.head_dim);
    let (v_len, o_len) = (s.seq_k * s.value_dim, s.seq_q * s.value_dim);
    // Splitting needs inputs the kernel accepts (so that no task fails after others wrote):
    // every operand exactly `heads` blocks, a finite scale, a mask that covers every score.
    // Anything else (an error for the kernel to report, or empty work) runs as one call.
    let exact = [(q, q_len), (k, k_len), (v, v_len)]
        .iter()
        .all(|(x, l)| Some(x.len()) == s.heads.checked_mul(*l))
        && Some(out.len()) == s.heads.checked_mul(o_len)
        && o_len > 0
        && s.heads > 0
        && opts.scale.is_finite()
        && opts.mask.is_none_or(|m| {
            let last = (s.heads - 1)
                .checked_mul(m.head_stride)
                .zip((s.seq_q - 1).checked_mul(m.row_stride))
                .and_then(|(a, b)| a.checked_add(b)?.checked_add(s.seq_k));
            last.is_some_and(|l| l <= m.data.len())
        });
    let tasks = if exact { tasks } else { 1 };
    let cells = &mut scratch.0;
    if cells.len() < tasks {
        cells.resize_with(tasks, Default::default);
    }
    if tasks == 1 {
        let cell = cells[0].get_mut().map_err(|_| poisoned())?;
        return kernel(q, k, v, out, s, opts, cell);
    }
    // Contiguous runs of heads; each task owns one output chunk and one scratch.
    let per = s.heads.div_ceil(tasks);
    let mut chunks = out.chunks_mut(per * o_len);
    let outs: [Mutex<Option<&mut [f32]>>; MAX_ATTENTION_TASKS] =
        core::array::from_fn(|_| Mutex::new(chunks.next()));
    let count = s.heads.div_ceil(per);
    let results: [Mutex<Result<()>>; MAX_ATTENTION_TASKS] =
        core::array::from_fn(|_| Mutex::new(Ok(())));
    let cells = &cells[..];
    parallel_for(count, &|t| {
        let h0 = t * per;
        let heads = per.min(s.heads - h0);
        let result = (|| {
            let mut o = outs[t].lock().map_err(|_| poisoned())?;
            let o = o.as_deref_mut().ok_or_else(poisoned)?;
            let mut cell = cells[t].lock().map_err(|_| poisoned())?;
            let mut opts = *opts;
            if let Some(m) = &mut opts.mask {
                m.data = m.data.get(h0 * m.head_stride..).unwrap_or(&[]);
            }
            let part = AttentionShape { heads, ..s };
            kernel(
                &q[h0 * q_len..][..heads * q_len],
                &k[h0 * k_len..][..heads * k_len],
                &v[h0 * v_len..][..heads * v_len],
                o,
                part,
                &opts,
                &mut cell,
            )
        })();
        if let Ok(mut r) = results[t].lock() {
            *r = result;
        }
    });
    for r in &results[..count] {
        r.lock().map_err(|_| poisoned())?.clone()?;
    }
    Ok(())
}

/// A lock held by a task that panicked (cannot happen: the kernels return errors).
fn poisoned() -> crate::Error {
    crate::Error::InvalidArgument {
        what: "attention scratch",
        why: "a task panicked",
    }
}
