//! Integer GEMM entry points: `C = epilogue(A B)` with 8-bit A and packed 8-bit B.
//!
//! - [`qgemm`]: quantized A (`u8` or `i8`, zero point per tensor or per row);
//! - [`qgemm_dynamic`]: f32 A, quantized on the fly to u8 (ONNX `DynamicQuantizeLinear`, per
//!   tensor or per row), fused into the packing of A;
//! - the `_with` variants take [`QGemmOptions`] (kernel choice, M blocking), for tests and tuning;
//! - the `_par` variants split the rows over threads through a caller-supplied
//!   [`ParallelFor`] (M blocks as tasks; bit-identical for any thread count).
//!
//! The integer products are exact on every path, build and engine (see [`crate::kernel`]). Every
//! shape, length, parameter and overflow problem is reported as an [`Error`] before anything is
//! written; the output is untouched on error.
use crate::driver::{arena_scratch, grow, ASource, Buffers, KernelKind, Problem, Sizes};
use crate::epilogue::{Epilogue, QOutput, RowScales};
use crate::kernel::{relaxed_dot_is_native, relaxed_dot_is_signed, KB, MR};
use crate::matrix::QMatRef;
use crate::pack::PackedQB;
use crate::quantize::{min_max, params_from_range};
use crate::scratch::QScratch;
use crate::types::{QuantParams, Q8};
use alloc::vec::Vec;
use wasmnn_arena::Scope;
use wasmnn_kernels::par::{task_count, ParallelFor, Slots};
use wasmnn_kernels::{Error, MatRef, Result};

/// Where the scratch of one call comes from.
enum Work<'w, 'a> {
    /// Reusable heap buffers, one per thread (a [`QScratch`]'s).
    Heap(&'w mut Vec<Buffers>),
    /// Carved from an arena scope (single-threaded calls).
    Arena(&'w Scope<'a>),
}

/// How a call may split its work: `threads` threads running the tasks through `par`.
#[derive(Clone, Copy)]
struct Split<'p> {
    threads: usize,
    par: ParallelFor<'p>,
}

/// Runs the tasks one after the other (the single-threaded "parallel for").
fn sequential(count: usize, task: &(dyn Fn(usize) + Sync)) {
    (0..count).for_each(task);
}

const ONE_THREAD: Split<'static> = Split {
    threads: 1,
    par: &sequential,
};

/// Which microkernel family computes the GEMM tiles and the GEMV (M = 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelChoice {
    /// The fastest exact kernel for this build, engine and shape. In a relaxed-SIMD build:
    /// [`KernelChoice::Relaxed`] for the GEMM only where the relaxed dot product is Arm's `sdot`
    /// (V8 on x86 without VNNI lowers it to five instructions, measured 42 vs 88 GOP/s, and with
    /// VNNI the split kernel still measured 12-15% slower than the baseline one in Chromium
    /// 156); for the GEMV wherever the relaxed dot product is one instruction (x86 VNNI, `sdot`:
    /// [`crate::kernel::relaxed_dot_is_native`]), since the baseline GEMV also has to widen
    /// every weight byte. [`KernelChoice::Baseline`] otherwise.
    #[default]
    Auto,
    /// `i32x4.dot_i16x8_s` on operands widened to i16 (every build).
    Baseline,
    /// `relaxed_dot_i8x16_i7x16_add` on 7-bit planes of A. Exact on every engine; emulated with
    /// SIMD128 / scalar code in builds without relaxed SIMD, so its logic is tested everywhere.
    Relaxed,
}

/// Options of one GEMM call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QGemmOptions {
    /// Kernel family.
    pub kernel: KernelChoice,
    /// Rows of A per block (rounded up to a multiple of 2); 0 picks a block of about 256 KiB of
    /// packed A.
    pub mc: usize,
}

/// How f32 activations are quantized on the fly by [`qgemm_dynamic`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DynamicQuant {
    /// One scale and zero point for the whole of A (ONNX `DynamicQuantizeLinear`).
    #[default]
    PerTensor,
    /// One scale and zero point per row of A (more accurate when rows differ in range).
    PerRow,
}

/// The kernel [`KernelChoice::Auto`] selects for the GEMM (M >= 2) in this build and engine:
/// `"relaxed"` or `"baseline"`.
///
/// ```
/// assert!(["relaxed", "baseline"].contains(&wasmnn_quant::gemm::auto_kernel()));
/// ```
pub fn auto_kernel() -> &'static str {
    kernel_name(resolve(KernelChoice::Auto, false))
}

/// The kernel [`KernelChoice::Auto`] selects for the GEMV (M = 1) in this build and engine:
/// `"relaxed"` or `"baseline"`.
///
/// ```
/// assert!(["relaxed", "baseline"].contains(&wasmnn_quant::gemm::auto_gemv_kernel()));
/// ```
pub fn auto_gemv_kernel() -> &'static str {
    kernel_name(resolve(KernelChoice::Auto, true))
}

fn kernel_name(k: KernelKind) -> &'static str {
    match k {
        KernelKind::Relaxed => "relaxed",
        KernelKind::Baseline => "baseline",
    }
}

fn resolve(k: KernelChoice, gemv: bool) -> KernelKind {
    match k {
        KernelChoice::Baseline => KernelKind::Baseline,
        KernelChoice::Relaxed => KernelKind::Relaxed,
        KernelChoice::Auto => {
            let relaxed_build = cfg!(all(target_arch = "wasm32", target_feature = "relaxed-simd"));
            let fast_dot = if gemv {
                relaxed_dot_is_native()
            } else {
                relaxed_dot_is_signed()
            };
            if relaxed_build && fast_dot {
                KernelKind::Relaxed
            } else {
                KernelKind::Baseline
            }
        }
    }
}

/// Rows per M block: about 256 KiB of packed i16 A.
fn auto_mc(k_padded: usize) -> usize {
    (256 * 1024 / (2 * k_padded.max(KB))).clamp(16, 512) / MR * MR
}

/// `C = epilogue(A B)`: A (`m x k`, `u8` or `i8`, zero point and scale per tensor or per row)
/// times packed B (`k x n`).
///
/// ```
/// use wasmnn_quant::{qgemm, PackedQB, QMatMut, QMatRef, QOutput, QuantParams};
/// let b = PackedQB::from_row_major(&[1i8, -1, 2, 3], 2, 2, QuantParams::IDENTITY)?;
/// let a = [130u8, 126]; // zero point 128: values 2, -2
/// let mut c = [0i32; 2];
/// qgemm(QMatRef::row_major(&a, 1, 2)?, QuantParams::PerTensor { scale: 1.0, zero_point: 128 },
///       &b, QOutput::I32(QMatMut::row_major(&mut c, 1, 2)?))?;
/// assert_eq!(c, [2 * 1 - 2 * 2, 2 * -1 - 2 * 3]);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn qgemm<A: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
) -> Result<()> {
    qgemm_with(a, a_params, b, out, QGemmOptions::default())
}

/// [`qgemm`] with explicit options.
pub fn qgemm_with<A: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
    opts: QGemmOptions,
) -> Result<()> {
    qgemm_scratch(a, a_params, b, out, opts, &mut QScratch::new())
}

/// [`qgemm_with`] with reusable scratch memory: once `scratch` has served a problem of this size
/// it is reused, and the call makes no heap allocation.
///
/// ```
/// use wasmnn_quant::{qgemm_scratch, PackedQB, QGemmOptions, QMatMut, QMatRef, QOutput, QScratch, QuantParams};
/// let b = PackedQB::from_row_major(&[1i8, -1, 2, 3, 0, 1], 3, 2, QuantParams::IDENTITY)?;
/// let a = [1u8, 2, 3, 4, 5, 6]; // 2 x 3, zero point 0
/// let mut scratch = QScratch::new();
/// for _ in 0..3 {
///     let mut c = [0i32; 4];
///     qgemm_scratch(QMatRef::row_major(&a, 2, 3)?, QuantParams::IDENTITY, &b,
///         QOutput::I32(QMatMut::row_major(&mut c, 2, 2)?), QGemmOptions::default(), &mut scratch)?;
///     assert_eq!(c, [5, 8, 14, 17]);
/// }
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn qgemm_scratch<A: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
    opts: QGemmOptions,
    scratch: &mut QScratch,
) -> Result<()> {
    quantized(
        a,
        a_params,
        b,
        out,
        opts,
        ONE_THREAD,
        Work::Heap(&mut scratch.slots),
    )
}

/// [`qgemm_scratch`] on a [`QScratch`]'s GEMM buffers alone (for callers that hold its other
/// buffers meanwhile, e.g. the im2col matrix of a convolution).
pub(crate) fn qgemm_slots<A: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
    opts: QGemmOptions,
    slots: &mut Vec<Buffers>,
) -> Result<()> {
    quantized(a, a_params, b, out, opts, ONE_THREAD, Work::Heap(slots))
}

/// [`qgemm_with`] with its scratch carved from an arena scope: no heap allocation at all, even
/// on the first call. The scratch is given back when the scope is dropped. Single-threaded.
/// An arena too small for the scratch is reported as [`Error::BufferTooSmall`] (`needed` and
/// `len` in bytes) before anything is written.
///
/// ```
/// use wasmnn_arena::Arena;
/// use wasmnn_quant::{qgemm_in, PackedQB, QGemmOptions, QMatMut, QMatRef, QOutput, QuantParams};
/// let b = PackedQB::from_row_major(&[1i8, -1, 2, 3, 0, 1], 3, 2, QuantParams::IDENTITY)?;
/// let a = [1u8, 2, 3, 4, 5, 6]; // 2 x 3, zero point 0
/// let mut arena = Arena::with_capacity(64 * 1024).expect("arena");
/// let mut c = [0i32; 4];
/// {
///     let scope = arena.scope();
///     qgemm_in(&scope, QMatRef::row_major(&a, 2, 3)?, QuantParams::IDENTITY, &b,
///         QOutput::I32(QMatMut::row_major(&mut c, 2, 2)?), QGemmOptions::default())?;
/// } // the scratch goes back to the arena here
/// assert_eq!((c, arena.used()), ([5, 8, 14, 17], 0));
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn qgemm_in<A: Q8>(
    scope: &Scope<'_>,
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
    opts: QGemmOptions,
) -> Result<()> {
    quantized(a, a_params, b, out, opts, ONE_THREAD, Work::Arena(scope))
}

/// [`qgemm`] split over `threads` threads through `par`: blocks of rows of A are the tasks,
/// each packing its rows into its own scratch. Every row is computed whole (K is never split),
/// so the result is bit-identical for any thread count. M = 1 (the GEMV) runs on one thread.
///
/// ```
/// use wasmnn_quant::{qgemm, qgemm_par, PackedQB, QMatMut, QMatRef, QOutput, QuantParams};
/// let (m, k, n) = (64, 256, 64);
/// let a: Vec<u8> = (0..m * k).map(|i| (i * 7 % 256) as u8).collect();
/// let w: Vec<i8> = (0..k * n).map(|i| (i * 5 % 255) as i8).collect();
/// let b = PackedQB::from_row_major(&w, k, n, QuantParams::IDENTITY)?;
/// let p = QuantParams::PerTensor { scale: 1.0, zero_point: 128 };
/// let (mut c1, mut c4) = (vec![0i32; m * n], vec![0i32; m * n]);
/// qgemm(QMatRef::row_major(&a, m, k)?, p, &b, QOutput::I32(QMatMut::row_major(&mut c1, m, n)?))?;
/// // Any "parallel for" works; this one runs the tasks backwards on one thread.
/// let par = |count: usize, task: &(dyn Fn(usize) + Sync)| (0..count).rev().for_each(task);
/// qgemm_par(QMatRef::row_major(&a, m, k)?, p, &b,
///     QOutput::I32(QMatMut::row_major(&mut c4, m, n)?), 4, &par)?;
/// assert_eq!(c1, c4);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn qgemm_par<A: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
    threads: usize,
    par: ParallelFor<'_>,
) -> Result<()> {
    qgemm_par_scratch(a, a_params, b, out, threads, par, &mut QScratch::new())
}

/// [`qgemm_par`] with reusable scratch memory (one set of buffers per thread): once `scratch`
/// has served a problem of this size with this thread count, our code makes no heap
/// allocation (the "parallel for" itself may: rayon's job bookkeeping is not ours).
///
/// ```
/// use wasmnn_quant::{qgemm_par_scratch, PackedQB, QMatMut, QMatRef, QOutput, QScratch, QuantParams};
/// let (m, k, n) = (64, 256, 64);
/// let a: Vec<u8> = (0..m * k).map(|i| (i * 7 % 256) as u8).collect();
/// let b = PackedQB::from_row_major(&vec![1i8; k * n], k, n, QuantParams::IDENTITY)?;
/// let par = |count: usize, task: &(dyn Fn(usize) + Sync)| (0..count).for_each(task);
/// let (mut c, mut scratch) = (vec![0i32; m * n], QScratch::new());
/// qgemm_par_scratch(QMatRef::row_major(&a, m, k)?, QuantParams::IDENTITY, &b,
///     QOutput::I32(QMatMut::row_major(&mut c, m, n)?), 2, &par, &mut scratch)?;
/// assert_eq!(c[0], a[..k].iter().map(|&v| v as i32).sum::<i32>());
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn qgemm_par_scratch<A: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
    threads: usize,
    par: ParallelFor<'_>,
    scratch: &mut QScratch,
) -> Result<()> {
    let split = Split { threads, par };
    let work = Work::Heap(&mut scratch.slots);
    quantized(a, a_params, b, out, QGemmOptions::default(), split, work)
}

fn quantized<A: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
    opts: QGemmOptions,
    split: Split<'_>,
    work: Work<'_, '_>,
) -> Result<()> {
    a_params.validate::<A>("a quantization", a.rows())?;
    let scales = match a_params {
        QuantParams::PerTensor { scale, .. } => RowScales::Tensor(scale),
        QuantParams::PerChannel { scales, .. } => RowScales::Rows(scales),
    };
    let (m, k) = (a.rows(), a.cols());
    let src = ASource::Q8 {
        a: a.as_bytes(),
        signed: A::SIGNED,
        params: a_params,
    };
    run(src, m, k, scales, b, out, opts, split, work)
}

/// `C = epilogue(quantize(A) B)` for f32 A (`m x k`): A is quantized to u8 on the fly
/// (`DynamicQuantizeLinear` semantics, per tensor or per row) while it is packed.
///
/// ```
/// use wasmnn_kernels::{Activation, MatRef};
/// use wasmnn_quant::{qgemm_dynamic, DynamicQuant, PackedQB, QMatMut, QOutput};
/// let w = [1.0f32, 0.0, 0.0, 1.0]; // identity, 2 x 2
/// let b = PackedQB::quantize_f32(MatRef::row_major(&w, 2, 2)?)?;
/// let x = [0.5f32, -1.0];
/// let mut y = [0.0f32; 2];
/// qgemm_dynamic(MatRef::row_major(&x, 1, 2)?, DynamicQuant::PerTensor, &b,
///     QOutput::F32 { c: QMatMut::row_major(&mut y, 1, 2)?, bias: None,
///                    activation: Activation::Identity })?;
/// assert!((y[0] - 0.5).abs() < 0.01 && (y[1] + 1.0).abs() < 0.01);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn qgemm_dynamic(
    a: MatRef<'_>,
    quant: DynamicQuant,
    b: &PackedQB,
    out: QOutput<'_>,
) -> Result<()> {
    qgemm_dynamic_with(a, quant, b, out, QGemmOptions::default())
}

/// [`qgemm_dynamic`] with explicit options.
pub fn qgemm_dynamic_with(
    a: MatRef<'_>,
    quant: DynamicQuant,
    b: &PackedQB,
    out: QOutput<'_>,
    opts: QGemmOptions,
) -> Result<()> {
    qgemm_dynamic_scratch(a, quant, b, out, opts, &mut QScratch::new())
}

/// [`qgemm_dynamic_with`] with reusable scratch memory (the packed A, the quantization
/// parameters of its rows): once `scratch` has served a problem of this size, the call makes
/// no heap allocation.
///
/// ```
/// use wasmnn_kernels::{Activation, MatRef};
/// use wasmnn_quant::{qgemm_dynamic_scratch, DynamicQuant, PackedQB, QGemmOptions, QMatMut, QOutput, QScratch};
/// let b = PackedQB::quantize_f32(MatRef::row_major(&[1.0, 0.0, 0.0, 1.0], 2, 2)?)?;
/// let mut scratch = QScratch::new();
/// let mut y = [0.0f32; 2];
/// qgemm_dynamic_scratch(MatRef::row_major(&[0.5, -1.0], 1, 2)?, DynamicQuant::PerRow, &b,
///     QOutput::F32 { c: QMatMut::row_major(&mut y, 1, 2)?, bias: None,
///                    activation: Activation::Identity }, QGemmOptions::default(), &mut scratch)?;
/// assert!((y[0] - 0.5).abs() < 0.01 && (y[1] + 1.0).abs() < 0.01);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn qgemm_dynamic_scratch(
    a: MatRef<'_>,
    quant: DynamicQuant,
    b: &PackedQB,
    out: QOutput<'_>,
    opts: QGemmOptions,
    scratch: &mut QScratch,
) -> Result<()> {
    dynamic(a, quant, b, out, opts, ONE_THREAD, scratch)
}

/// [`qgemm_dynamic`] split over `threads` threads through `par`, as [`qgemm_par`]: the
/// quantization parameters are computed once for the whole of A first, so the result is
/// bit-identical for any thread count.
///
/// ```
/// use wasmnn_kernels::{Activation, MatRef};
/// use wasmnn_quant::{qgemm_dynamic, qgemm_dynamic_par, DynamicQuant, PackedQB, QMatMut, QOutput};
/// let (m, k, n) = (48, 128, 40);
/// let w: Vec<f32> = (0..k * n).map(|i| ((i % 13) as f32 - 6.0) * 0.1).collect();
/// let b = PackedQB::quantize_f32(MatRef::row_major(&w, k, n)?)?;
/// let x: Vec<f32> = (0..m * k).map(|i| ((i % 7) as f32 - 3.0) * 0.3).collect();
/// let (mut y1, mut y3) = (vec![0.0f32; m * n], vec![0.0f32; m * n]);
/// let out = |y| QOutput::F32 { c: y, bias: None, activation: Activation::Identity };
/// let x = MatRef::row_major(&x, m, k)?;
/// qgemm_dynamic(x, DynamicQuant::PerRow, &b, out(QMatMut::row_major(&mut y1, m, n)?))?;
/// let par = |count: usize, task: &(dyn Fn(usize) + Sync)| (0..count).for_each(task);
/// qgemm_dynamic_par(x, DynamicQuant::PerRow, &b, out(QMatMut::row_major(&mut y3, m, n)?), 3, &par)?;
/// assert_eq!(y1, y3);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
pub fn qgemm_dynamic_par(
    a: MatRef<'_>,
    quant: DynamicQuant,
    b: &PackedQB,
    out: QOutput<'_>,
    threads: usize,
    par: ParallelFor<'_>,
) -> Result<()> {
    qgemm_dynamic_par_scratch(a, quant, b, out, threads, par, &mut QScratch::new())
}

/// [`qgemm_dynamic_par`] with reusable scratch memory, as [`qgemm_par_scratch`].
///
/// ```
/// use wasmnn_kernels::{Activation, MatRef};
/// use wasmnn_quant::{qgemm_dynamic_par_scratch, DynamicQuant, PackedQB, QMatMut, QOutput, QScratch};
/// let b = PackedQB::quantize_f32(MatRef::row_major(&[1.0, 0.0, 0.0, 1.0], 2, 2)?)?;
/// let par = |count: usize, task: &(dyn Fn(usize) + Sync)| (0..count).for_each(task);
/// let (mut y, mut scratch) = ([0.0f32; 4], QScratch::new());
/// qgemm_dynamic_par_scratch(MatRef::row_major(&[0.5, -1.0, 2.0, 0.0], 2, 2)?,
///     DynamicQuant::PerRow, &b, QOutput::F32 { c: QMatMut::row_major(&mut y, 2, 2)?,
///     bias: None, activation: Activation::Identity }, 2, &par, &mut scratch)?;
/// assert!((y[2] - 2.0).abs() < 0.02);
/// # Ok::<(), wasmnn_quant::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn qgemm_dynamic_par_scratch(
    a: MatRef<'_>,
    quant: DynamicQuant,
    b: &PackedQB,
    out: QOutput<'_>,
    threads: usize,
    par: ParallelFor<'_>,
    scratch: &mut QScratch,
) -> Result<()> {
    let split = Split { threads, par };
    dynamic(a, quant, b, out, QGemmOptions::default(), split, scratch)
}

fn dynamic(
    a: MatRef<'_>,
    quant: DynamicQuant,
    b: &PackedQB,
    out: QOutput<'_>,
    opts: QGemmOptions,
    split: Split<'_>,
    scratch: &mut QScratch,
) -> Result<()> {
    let (m, k) = (a.rows(), a.cols());
    check_shapes(m, k, b, &out)?;
    let QScratch {
        slots,
        params,
        scales,
        row: buf,
        ..
    } = scratch;
    // Every buffer is sized before anything is written.
    grow(buf, if a.col_stride() == 1 { 0 } else { k }, 0.0)?;
    let count = match quant {
        DynamicQuant::PerTensor => 1,
        DynamicQuant::PerRow => m,
    };
    scales.clear();
    scales.try_reserve(count).map_err(|_| no_memory())?;
    params.clear();
    params.try_reserve(count).map_err(|_| no_memory())?;
    let row = |i: usize, buf: &mut [f32]| -> (f32, f32) {
        if a.col_stride() == 1 {
            min_max(&a.data()[i * a.row_stride()..][..k])
        } else {
            let buf = &mut buf[..k];
            for (j, v) in buf.iter_mut().enumerate() {
                *v = a.get(i, j).unwrap_or(0.0);
            }
            min_max(buf)
        }
    };
    match quant {
        DynamicQuant::PerTensor => {
            let (mut lo, mut hi) = (0.0f32, 0.0f32);
            for i in 0..m {
                let (l, h) = row(i, buf);
                lo = lo.min(l);
                hi = hi.max(h);
            }
            params.push(params_from_range::<u8>(lo, hi));
        }
        DynamicQuant::PerRow => {
            for i in 0..m {
                let (l, h) = row(i, buf);
                params.push(params_from_range::<u8>(l, h));
            }
        }
    }
    scales.extend(params.iter().map(|p| p.scale));
    let rs = match quant {
        DynamicQuant::PerTensor => RowScales::Tensor(scales[0]),
        DynamicQuant::PerRow => RowScales::Rows(scales),
    };
    let work = Work::Heap(slots);
    run(ASource::F32(a, params), m, k, rs, b, out, opts, split, work)
}

fn no_memory() -> Error {
    Error::InvalidArgument {
        what: "scratch",
        why: "not enough memory",
    }
}

fn check_shapes(m: usize, k: usize, b: &PackedQB, out: &QOutput<'_>) -> Result<()> {
    if k != b.k() {
        return Err(Error::ShapeMismatch {
            what: "k (columns of A vs rows of B)",
            expected: b.k(),
            found: k,
        });
    }
    let (rows, cols) = out.shape();
    if rows != m {
        return Err(Error::ShapeMismatch {
            what: "rows of C (= rows of A)",
            expected: m,
            found: rows,
        });
    }
    if cols != b.n() {
        return Err(Error::ShapeMismatch {
            what: "columns of C (= columns of B)",
            expected: b.n(),
            found: cols,
        });
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run(
    a: ASource<'_>,
    m: usize,
    k: usize,
    scales: RowScales<'_>,
    b: &PackedQB,
    mut out: QOutput<'_>,
    opts: QGemmOptions,
    split: Split<'_>,
    work: Work<'_, '_>,
) -> Result<()> {
    check_shapes(m, k, b, &out)?;
    out.validate(b.n())?;
    let mut problem = Problem {
        m,
        k,
        a,
        b,
        mc: if opts.mc == 0 {
            auto_mc(b.k_padded())
        } else {
            opts.mc
        },
        kernel: resolve(opts.kernel, m == 1),
    };
    // Threads: M blocks are the tasks, cut small enough that every thread gets several. Rows
    // are computed whole whatever the blocking, so the bits do not change.
    if split.threads > 1 && m > 1 {
        let rows = m.div_ceil(split.threads.saturating_mul(4)).div_ceil(MR) * MR;
        problem.mc = problem.mc().min(rows);
    }
    let blocks = m.div_ceil(problem.mc());
    let macs = m.saturating_mul(b.n()).saturating_mul(k);
    let tasks = if m > 1 {
        task_count(split.threads, blocks, macs)
    } else {
        1 // the GEMV stays on one thread
    };
    let sizes = problem.sizes();
    let slots = match work {
        Work::Arena(scope) => {
            let mut scratch = arena_scratch(scope, &sizes)?;
            let epi = Epilogue::new(&mut out, scales, b.scales());
            // SAFETY: as the heap path below.
            unsafe { problem.run(&epi, &mut scratch) };
            return Ok(());
        }
        Work::Heap(slots) => slots,
    };
    // One scratch per thread, all sized before anything is written; a task holds one while it
    // runs.
    let count = split
        .threads
        .min(tasks)
        .clamp(1, wasmnn_kernels::par::MAX_SLOTS);
    if slots.len() < count {
        slots
            .try_reserve(count - slots.len())
            .map_err(|_| no_memory())?;
        slots.resize_with(count, Buffers::default);
    }
    for s in slots[..count].iter_mut() {
        s.reserve(&sizes)?;
    }
    if tasks == 1 {
        let mut scratch = slots[0].view(&sizes);
        let epi = Epilogue::new(&mut out, scales, b.scales());
        // SAFETY: shapes checked above (A is m x k, B k x n, the output m x n); the output view
        // was validated against its exclusively borrowed slice; the scratch fits the problem.
        unsafe { problem.run(&epi, &mut scratch) };
        return Ok(());
    }
    let slots_held = Slots::new(count);
    let epi = Epilogue::new(&mut out, scales, b.scales());
    let shared = Shared {
        problem: &problem,
        epi: &epi,
        scratch: slots.as_mut_ptr(),
        sizes,
    };
    let mc = problem.mc();
    let per = blocks.div_ceil(tasks);
    (split.par)(blocks.div_ceil(per), &|t| {
        let shared = &shared;
        // A "parallel for" running more tasks at once than `threads` waits here for a slot.
        let slot = loop {
            match slots_held.claim() {
                Some(i) => break i,
                None => core::hint::spin_loop(),
            }
        };
        // SAFETY: slot < count <= the number of buffers, held by this task alone until it is
        // released below; every buffer was reserved for `sizes` above.
        let s = unsafe { &mut *shared.scratch.add(slot) };
        let mut view = s.view(&shared.sizes);
        for block in t * per..((t + 1) * per).min(blocks) {
            let i0 = block * mc;
            // SAFETY: as the single-threaded path above (m >= 2 here); rows i0 .. i0 + rows
            // belong to this task's blocks alone.
            unsafe {
                shared
                    .problem
                    .block(shared.epi, &mut view, i0, mc.min(m - i0))
            };
        }
        slots_held.release(slot);
    });
    Ok(())
}

/// What the tasks of one multi-threaded call share: the problem (read only), the output (each
/// task writes its own rows through the epilogue) and the scratch slots (one per thread).
struct Shared<'a> {
    problem: &'a Problem<'a>,
    epi: &'a Epilogue<'a>,
    scratch: *mut Buffers,
    sizes: Sizes,
}

// SAFETY: tasks only read the problem, write disjoint rows of the output, and use the scratch
// slot they hold; everything outlives `par`, which returns when every task is done.
unsafe impl Sync for Shared<'_> {}
