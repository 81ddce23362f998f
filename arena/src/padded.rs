//! An allocation together with its padding tail, so SIMD code can over-read without undefined
//! behaviour: Rust forbids reading outside a slice even when the memory is there, so the tail is
//! part of the slice this type holds, and only a shared view of it is ever given out.
use core::ops::{Deref, DerefMut};

/// `len` values of `T` followed by a read-only tail of at least [`PADDING`](crate::PADDING)
/// bytes (whole elements) that no other allocation overlaps. Derefs to the `len` values.
///
/// The contract for kernels: read as far as [`padded`](Padded::padded) reaches, write only
/// through the `len` values.
///
/// ```
/// use wasmnn_arena::{Align, Arena};
/// let arena = Arena::with_capacity(1024)?;
/// let mut x = arena.alloc_padded::<f32>(3, Align::B16)?;
/// x.copy_from_slice(&[1.0, 2.0, 3.0]);
/// assert_eq!((x.len(), x.tail_len()), (3, 4));
/// assert_eq!(&x.padded()[..3], &[1.0, 2.0, 3.0]);
/// # Ok::<(), wasmnn_arena::Error>(())
/// ```
#[derive(Debug)]
pub struct Padded<'a, T> {
    /// The values and the tail; `len <= data.len()`.
    data: &'a mut [T],
    len: usize,
}

impl<'a, T> Padded<'a, T> {
    /// `data` is the values followed by the tail; `len <= data.len()`.
    pub(crate) fn new(data: &'a mut [T], len: usize) -> Self {
        debug_assert!(len <= data.len());
        Self { data, len }
    }

    /// The values and the tail after them, read-only. At least `len() + tail_len()` elements.
    ///
    /// ```
    /// use wasmnn_arena::{Align, Arena};
    /// let arena = Arena::with_capacity(1024)?;
    /// let x = arena.alloc_padded::<u8>(3, Align::B16)?;
    /// assert!(x.padded().len() >= 3 + 16);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn padded(&self) -> &[T] {
        self.data
    }

    /// Elements in the tail: enough to cover 16 bytes (4 for `f32`, 16 for `u8`, 1 for a
    /// 32-byte type; 0 for zero-sized types).
    ///
    /// ```
    /// use wasmnn_arena::{Align, Arena};
    /// let arena = Arena::with_capacity(1024)?;
    /// assert_eq!(arena.alloc_padded::<f64>(1, Align::B16)?.tail_len(), 2);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn tail_len(&self) -> usize {
        self.data.len() - self.len
    }

    /// Drops the view of the tail and keeps the values, for the whole lifetime of the
    /// allocation.
    ///
    /// ```
    /// use wasmnn_arena::{Align, Arena};
    /// let arena = Arena::with_capacity(1024)?;
    /// let x: &mut [i8] = arena.alloc_padded(7, Align::B16)?.into_slice();
    /// assert_eq!(x.len(), 7);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn into_slice(self) -> &'a mut [T] {
        &mut self.data[..self.len]
    }

    /// The values (writable) and the tail (read-only) as two slices for the whole lifetime of
    /// the allocation.
    ///
    /// ```
    /// use wasmnn_arena::{Align, Arena};
    /// let arena = Arena::with_capacity(1024)?;
    /// let (data, tail) = arena.alloc_padded::<u32>(2, Align::B16)?.into_parts();
    /// data.copy_from_slice(&[1, 2]);
    /// assert_eq!((data.len(), tail.len()), (2, 4));
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn into_parts(self) -> (&'a mut [T], &'a [T]) {
        let (data, tail) = self.data.split_at_mut(self.len);
        (data, tail)
    }
}

impl<T> Deref for Padded<'_, T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.data[..self.len]
    }
}

impl<T> DerefMut for Padded<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.data[..self.len]
    }
}
