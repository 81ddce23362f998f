//! The one error type of the arena and the planner. Variant names follow
//! `wasmnn_kernels::Error` where the meaning is the same (`Overflow`, `InvalidArgument`); this
//! crate depends on nothing, so it has its own type.
use core::fmt;

/// Why an allocation or a plan was refused. The arena is unchanged when this is returned.
///
/// ```
/// use wasmnn_arena::{Arena, Error};
/// let arena = Arena::with_capacity(64)?;
/// let err = arena.alloc_slice::<f32>(100).unwrap_err();
/// assert!(matches!(err, Error::OutOfCapacity { needed: 416, remaining: 64 }));
/// assert_eq!(arena.used(), 0);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The allocation does not fit in what is left of the arena's fixed capacity.
    OutOfCapacity {
        /// Bytes the allocation needs from the current position: alignment, data and padding.
        needed: usize,
        /// Bytes left in the arena.
        remaining: usize,
    },
    /// A size computation does not fit in `usize` (or in `isize`, for the region).
    Overflow {
        /// What was being sized.
        what: &'static str,
    },
    /// A parameter is outside its valid range.
    InvalidArgument {
        /// Which parameter.
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The global allocator could not provide the region.
    AllocFailed {
        /// Bytes requested.
        bytes: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::OutOfCapacity { needed, remaining } => write!(
                f,
                "arena out of capacity: allocation needs {needed} bytes, {remaining} left"
            ),
            Error::Overflow { what } => write!(f, "size of `{what}` overflows"),
            Error::InvalidArgument { what, why } => write!(f, "invalid `{what}`: {why}"),
            Error::AllocFailed { bytes } => {
                write!(f, "the global allocator refused a region of {bytes} bytes")
            }
        }
    }
}

impl core::error::Error for Error {}

/// Result with the arena's [`Error`].
///
/// ```
/// fn scratch(n: usize) -> wasmnn_arena::Result<usize> {
///     let arena = wasmnn_arena::Arena::with_capacity(4 * n + 16)?;
///     Ok(arena.alloc_slice::<f32>(n)?.len())
/// }
/// assert_eq!(scratch(8)?, 8);
/// # Ok::<(), wasmnn_arena::Error>(())
/// ```
pub type Result<T> = core::result::Result<T, Error>;
