//! Alignment and padding: the arithmetic shared by the [`Arena`](crate::Arena) and the
//! [`Plan`](crate::Plan), so both lay blocks out by the same rules.

/// Bytes after every allocation (and every planned block) that no other allocation overlaps,
/// so SIMD code may read one 16-byte vector past the end of its data.
///
/// ```
/// assert_eq!(wasmnn_arena::PADDING, 16);
/// ```
pub const PADDING: usize = 16;

/// The largest alignment the arena provides (and the alignment of its region): one cache line.
///
/// ```
/// assert_eq!(wasmnn_arena::MAX_ALIGN, wasmnn_arena::Align::B64.bytes());
/// ```
pub const MAX_ALIGN: usize = 64;

/// The alignment of an allocation's first byte. The minimum is 16, one SIMD128 vector, so every
/// allocation can be read with aligned `v128` loads.
///
/// ```
/// use wasmnn_arena::{Align, Arena};
/// let arena = Arena::with_capacity(1024)?;
/// let row: &mut [f32] = arena.alloc_slice_aligned(10, Align::B64)?;
/// assert_eq!(row.as_ptr() as usize % 64, 0);
/// # Ok::<(), wasmnn_arena::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Align {
    /// 16 bytes: one SIMD128 vector (the default).
    #[default]
    B16,
    /// 32 bytes: two vectors.
    B32,
    /// 64 bytes: one cache line.
    B64,
}

impl Align {
    /// The alignment in bytes.
    ///
    /// ```
    /// use wasmnn_arena::Align;
    /// assert_eq!([Align::B16, Align::B32, Align::B64].map(Align::bytes), [16, 32, 64]);
    /// ```
    pub const fn bytes(self) -> usize {
        match self {
            Align::B16 => 16,
            Align::B32 => 32,
            Align::B64 => 64,
        }
    }
}

/// `x` rounded up to a multiple of `align` (a power of two), or `None` on overflow.
pub(crate) const fn round_up(x: usize, align: usize) -> Option<usize> {
    match x.checked_add(align - 1) {
        Some(y) => Some(y & !(align - 1)),
        None => None,
    }
}

/// Where the block that starts at `start` with `bytes` of data ends, padding included: at least
/// `max(PADDING, tail)` bytes after the data, rounded up to the next multiple of 16 so that the
/// following block needs no realignment for the default [`Align::B16`].
pub(crate) const fn block_end(start: usize, bytes: usize, tail: usize) -> Option<usize> {
    let pad = if tail > PADDING { tail } else { PADDING };
    match start.checked_add(bytes) {
        Some(end) => match end.checked_add(pad) {
            Some(end) => round_up(end, PADDING),
            None => None,
        },
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        assert_eq!(round_up(0, 16), Some(0));
        assert_eq!(round_up(17, 16), Some(32));
        assert_eq!(round_up(64, 64), Some(64));
        assert_eq!(round_up(usize::MAX, 16), None);
        assert_eq!(block_end(0, 0, 0), Some(16));
        assert_eq!(block_end(16, 3, 0), Some(48));
        assert_eq!(block_end(0, 16, 20), Some(48));
        assert_eq!(block_end(usize::MAX - 8, 1, 0), None);
    }
}
