//! The one error type of the kernels: every invalid shape, stride or length is reported, never
//! turned into a panic or an out-of-bounds access.
use core::fmt;

/// Why a kernel call was refused. Nothing was written to any output when this is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A buffer is shorter than its shape and strides need.
    BufferTooSmall {
        /// Which operand (`"a"`, `"b"`, `"c"`, `"bias"`, ...).
        what: &'static str,
        /// Elements the shape and strides address.
        needed: usize,
        /// Elements the buffer has.
        len: usize,
    },
    /// Two operands disagree on a dimension they share.
    ShapeMismatch {
        /// Which dimension (`"k"`, `"rows of c"`, ...).
        what: &'static str,
        /// The size the other operands imply.
        expected: usize,
        /// The size found.
        found: usize,
    },
    /// An index or size computation does not fit in `usize`.
    Overflow {
        /// Which operand.
        what: &'static str,
    },
    /// The strides of an output make two elements share one memory location.
    OverlappingOutput {
        /// Which operand.
        what: &'static str,
    },
    /// A parameter is outside its valid range.
    InvalidArgument {
        /// Which parameter.
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BufferTooSmall { what, needed, len } => write!(
                f,
                "buffer `{what}` holds {len} elements but its shape and strides address {needed}"
            ),
            Error::ShapeMismatch {
                what,
                expected,
                found,
            } => write!(
                f,
                "shape mismatch in {what}: expected {expected}, found {found}"
            ),
            Error::Overflow { what } => write!(f, "size of `{what}` overflows usize"),
            Error::OverlappingOutput { what } => {
                write!(f, "strides of output `{what}` make elements overlap")
            }
            Error::InvalidArgument { what, why } => write!(f, "invalid `{what}`: {why}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Result with the kernels' [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
