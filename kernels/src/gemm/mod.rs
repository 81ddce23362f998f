//! Packed f32 GEMM: `C = alpha * A B + beta * C`, then an epilogue.
//!
//! - [`gemm`]: any A, B, C layout (strides), B packed on the fly.
//! - [`gemm_packed`]: B pre-packed once ([`PackedB`]) and reused; the inference path.
//!
//! Semantics follow BLAS: `beta == 0` means C is *not read* (it may hold NaN or garbage);
//! A is read in place (no packing, no scratch memory). Every shape, length, stride and overflow
//! problem is reported as an [`Error`] before anything is written.
//!
//! Module map: [`kernel`] (microkernels and their contract), [`pack`] (B layout), `tile`
//! (alpha/beta/epilogue/store of one register tile), `driver` (the cache-blocking loop nest).
pub mod kernel;
pub mod pack;

mod driver;
mod tile;

pub use driver::Blocking;
pub use pack::PackedB;

use crate::epilogue::{validate_epilogue, EpilogueOp};
use crate::error::{Error, Result};
use crate::matrix::{MatMut, MatRef};
use tile::Strided;

/// `C = alpha * A B + beta * C` for any layouts; B is packed for this call only.
///
/// For repeated products with the same B (weights), pack it once with [`PackedB::new`] and call
/// [`gemm_packed`].
///
/// ```
/// use wasmnn_kernels::{gemm, MatMut, MatRef};
/// let a = [1.0, 2.0, 3.0, 4.0]; // 2x2
/// let b = [5.0, 6.0, 7.0, 8.0]; // 2x2
/// let mut c = [f32::NAN; 4]; // beta = 0: never read
/// gemm(1.0, MatRef::row_major(&a, 2, 2)?, MatRef::row_major(&b, 2, 2)?, 0.0,
///      MatMut::row_major(&mut c, 2, 2)?)?;
/// assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn gemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) -> Result<()> {
    check_shapes(&a, b.rows(), b.cols(), &c)?;
    let packed = PackedB::new(b)?;
    gemm_packed(alpha, a, &packed, beta, c, &[])
}

/// `C = alpha * A B + beta * C` with pre-packed B, followed by the epilogue `ops` (bias,
/// activation, residual, ...) applied in order on each register tile before it is stored.
///
/// ```
/// use wasmnn_kernels::{gemm_packed, Activation, EpilogueOp, MatMut, MatRef, PackedB};
/// let w = PackedB::from_row_major(&[1.0, -1.0, 2.0, -2.0], 2, 2)?; // k = 2, n = 2
/// let x = [1.0, 1.0];
/// let bias = [0.5, 0.5];
/// let mut y = [0.0; 2];
/// gemm_packed(1.0, MatRef::row_major(&x, 1, 2)?, &w, 0.0, MatMut::row_major(&mut y, 1, 2)?,
///     &[EpilogueOp::AddColBias(&bias), EpilogueOp::Activation(Activation::Relu)])?;
/// assert_eq!(y, [3.5, 0.0]);
/// # Ok::<(), wasmnn_kernels::Error>(())
/// ```
pub fn gemm_packed(
    alpha: f32,
    a: MatRef<'_>,
    b: &PackedB,
    beta: f32,
    c: MatMut<'_>,
    ops: &[EpilogueOp<'_>],
) -> Result<()> {
    gemm_packed_with(alpha, a, b, beta, c, ops, Blocking::default())
}

/// [`gemm_packed`] with explicit cache blocking (for tuning and for tests of the block edges).
pub fn gemm_packed_with(
    alpha: f32,
    a: MatRef<'_>,
    b: &PackedB,
    beta: f32,
    mut c: MatMut<'_>,
    ops: &[EpilogueOp<'_>],
    blocking: Blocking,
) -> Result<()> {
    check_shapes(&a, b.k(), b.n(), &c)?;
    validate_epilogue(ops, c.rows(), c.cols())?;
    if blocking.mc == 0 || blocking.nc == 0 {
        return Err(Error::InvalidArgument {
            what: "blocking",
            why: "mc and nc must be at least 1",
        });
    }
    let (m, n) = (c.rows(), c.cols());
    let problem = driver::Problem {
        m,
        n,
        k: b.k(),
        alpha,
        beta,
        a: Strided {
            ptr: a.data().as_ptr(),
            rs: a.row_stride(),
            cs: a.col_stride(),
        },
        b,
        c: Strided {
            ptr: c.as_mut_ptr(),
            rs: c.row_stride(),
            cs: c.col_stride(),
        },
        ops,
    };
    // SAFETY: shapes checked above; MatRef / MatMut validated their strides against their
    // slices; C is exclusively borrowed and non-overlapping; ops validated for m x n.
    unsafe { driver::run(&problem, 0..m, 0..n, blocking) };
    Ok(())
}

fn check_shapes(a: &MatRef<'_>, k: usize, n: usize, c: &MatMut<'_>) -> Result<()> {
    if a.cols() != k {
        return Err(Error::ShapeMismatch {
            what: "k (columns of A vs rows of B)",
            expected: k,
            found: a.cols(),
        });
    }
    if c.rows() != a.rows() {
        return Err(Error::ShapeMismatch {
            what: "rows of C (= rows of A)",
            expected: a.rows(),
            found: c.rows(),
        });
    }
    if c.cols() != n {
        return Err(Error::ShapeMismatch {
            what: "columns of C (= columns of B)",
            expected: n,
            found: c.cols(),
        });
    }
    Ok(())
}
