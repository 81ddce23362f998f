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
use crate::driver::{ASource, KernelKind, Problem, Scratch};
use crate::epilogue::{Epilogue, QOutput, RowScales};
use crate::kernel::{relaxed_dot_is_pmaddubsw, KB, MR};
use crate::matrix::QMatRef;
use crate::pack::PackedQB;
use crate::quantize::{min_max, params_from_range, DynamicParams};
use crate::types::{QuantParams, Q8};
use alloc::vec::Vec;
use wasmnn_kernels::par::{task_count, ParallelFor, Slots};
use wasmnn_kernels::{Error, MatRef, Result};

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

/// Which microkernel family computes the GEMM tiles (M >= 2; M = 1 always uses the GEMV).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelChoice {
    /// The fastest exact kernel for this build and engine: [`KernelChoice::Relaxed`] in a
    /// relaxed-SIMD build on engines whose relaxed dot product is a native instruction,
    /// [`KernelChoice::Baseline`] otherwise (including V8 on x86 without VNNI, which lowers the
    /// relaxed dot product to five instructions: measured 42 vs 88 GOP/s).
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

/// The kernel [`KernelChoice::Auto`] selects in this build and engine: `"relaxed"` or
/// `"baseline"`.
///
/// ```
/// assert!(["relaxed", "baseline"].contains(&wasmnn_quant::gemm::auto_kernel()));
/// ```
pub fn auto_kernel() -> &'static str {
    match resolve(KernelChoice::Auto) {
        KernelKind::Relaxed => "relaxed",
        KernelKind::Baseline => "baseline",
    }
}

fn resolve(k: KernelChoice) -> KernelKind {
    match k {
        KernelChoice::Baseline => KernelKind::Baseline,
        KernelChoice::Relaxed => KernelKind::Relaxed,
        KernelChoice::Auto => {
            if cfg!(all(target_arch = "wasm32", target_feature = "relaxed-simd"))
                && !relaxed_dot_is_pmaddubsw()
            {
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
    quantized(a, a_params, b, out, opts, ONE_THREAD)
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
    let split = Split { threads, par };
    quantized(a, a_params, b, out, QGemmOptions::default(), split)
}

fn quantized<A: Q8>(
    a: QMatRef<'_, A>,
    a_params: QuantParams<'_>,
    b: &PackedQB,
    out: QOutput<'_>,
    opts: QGemmOptions,
    split: Split<'_>,
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
    run(src, m, k, scales, b, out, opts, split)
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
    dynamic(a, quant, b, out, opts, ONE_THREAD)
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
    let split = Split { threads, par };
    dynamic(a, quant, b, out, QGemmOptions::default(), split)
}

fn dynamic(
    a: MatRef<'_>,
    quant: DynamicQuant,
    b: &PackedQB,
    out: QOutput<'_>,
    opts: QGemmOptions,
    split: Split<'_>,
) -> Result<()> {
    let (m, k) = (a.rows(), a.cols());
    check_shapes(m, k, b, &out)?;
    let row = |i: usize, buf: &mut Vec<f32>| -> (f32, f32) {
        if a.col_stride() == 1 {
            min_max(&a.data()[i * a.row_stride()..][..k])
        } else {
            buf.clear();
            buf.extend((0..k).map(|j| a.get(i, j).unwrap_or(0.0)));
            min_max(buf)
        }
    };
    let mut buf = Vec::new();
    let params: Vec<DynamicParams> = match quant {
        DynamicQuant::PerTensor => {
            let (mut lo, mut hi) = (0.0f32, 0.0f32);
            for i in 0..m {
                let (l, h) = row(i, &mut buf);
                lo = lo.min(l);
                hi = hi.max(h);
            }
            alloc::vec![params_from_range::<u8>(lo, hi)]
        }
        DynamicQuant::PerRow => (0..m)
            .map(|i| {
                let (l, h) = row(i, &mut buf);
                params_from_range::<u8>(l, h)
            })
            .collect(),
    };
    let scales: Vec<f32> = params.iter().map(|p| p.scale).collect();
    let rs = match quant {
        DynamicQuant::PerTensor => RowScales::Tensor(scales[0]),
        DynamicQuant::PerRow => RowScales::Rows(&scales),
    };
    run(ASource::F32(a, &params), m, k, rs, b, out, opts, split)
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
        kernel: resolve(opts.kernel),
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
    if tasks == 1 {
        let mut scratch = problem.scratch()?;
        let epi = Epilogue::new(&mut out, scales, b.scales());
        // SAFETY: shapes checked above (A is m x k, B k x n, the output m x n); the output view
        // was validated against its exclusively borrowed slice; the scratch fits the problem.
        unsafe { problem.run(&epi, &mut scratch) };
        return Ok(());
    }
    // One scratch per thread, all allocated before anything is written; a task holds one while
    // it runs.
    let slots = Slots::new(split.threads.min(tasks));
    let mut scratch = (0..slots.count())
        .map(|_| problem.scratch())
        .collect::<Result<Vec<_>>>()?;
    let epi = Epilogue::new(&mut out, scales, b.scales());
    let shared = Shared {
        problem: &problem,
        epi: &epi,
        scratch: scratch.as_mut_ptr(),
    };
    let mc = problem.mc();
    let per = blocks.div_ceil(tasks);
    (split.par)(blocks.div_ceil(per), &|t| {
        let shared = &shared;
        // A "parallel for" running more tasks at once than `threads` waits here for a slot.
        let slot = loop {
            match slots.claim() {
                Some(i) => break i,
                None => core::hint::spin_loop(),
            }
        };
        // SAFETY: slot < slots.count() == scratch.len(), held by this task alone until it is
        // released below.
        let s = unsafe { &mut *shared.scratch.add(slot) };
        for block in t * per..((t + 1) * per).min(blocks) {
            let i0 = block * mc;
            // SAFETY: as the single-threaded path above (m >= 2 here); rows i0 .. i0 + rows
            // belong to this task's blocks alone.
            unsafe { shared.problem.block(shared.epi, s, i0, mc.min(m - i0)) };
        }
        slots.release(slot);
    });
    Ok(())
}

/// What the tasks of one multi-threaded call share: the problem (read only), the output (each
/// task writes its own rows through the epilogue) and the scratch slots (one per thread).
struct Shared<'a> {
    problem: &'a Problem<'a>,
    epi: &'a Epilogue<'a>,
    scratch: *mut Scratch,
}

// SAFETY: tasks only read the problem, write disjoint rows of the output, and use the scratch
// slot they hold; everything outlives `par`, which returns when every task is done.
unsafe impl Sync for Shared<'_> {}
