//! The bump arena: one zeroed, 64-byte aligned region of fixed capacity, handed out front to back
//! as typed slices. The contracts (alignment, padding, contents, growth, reset) are in the
//! [crate documentation](crate).
use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::cell::Cell;
use core::fmt;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use bytemuck::Pod;

use crate::align::{block_end, round_up, Align, MAX_ALIGN, PADDING};
use crate::error::{Error, Result};
use crate::padded::Padded;
use crate::scope::Scope;

/// A bump allocator over one contiguous region. Allocation takes `&self` (the position is a
/// [`Cell`]), so many slices can be alive at once, each borrowing the arena; giving memory back
/// takes `&mut self` ([`reset`](Arena::reset)) or a [`Scope`], so it cannot happen while any of
/// them is alive.
///
/// ```
/// use wasmnn_arena::Arena;
/// let mut arena = Arena::with_capacity(1 << 16)?;
/// let a: &mut [f32] = arena.alloc_slice_zeroed(100)?;
/// let b: &mut [u8] = arena.alloc_slice_copy(b"over-read me")?;
/// a[0] = b.len() as f32; // both alive at once, never overlapping
/// assert_eq!(a[0], 12.0);
/// arena.reset();
/// # Ok::<(), wasmnn_arena::Error>(())
/// ```
///
/// Resetting while an allocation is alive does not compile:
///
/// ```compile_fail,E0502
/// let mut arena = wasmnn_arena::Arena::with_capacity(1024).unwrap();
/// let a: &mut [f32] = arena.alloc_slice(4).unwrap();
/// arena.reset(); // error: `arena` is still borrowed by `a`
/// a[0] = 1.0;
/// ```
pub struct Arena {
    /// Start of the region. A raw pointer, never a reference: every slice is derived from it,
    /// so moving the `Arena` does not invalidate them.
    base: NonNull<u8>,
    /// The region's layout: `capacity` bytes, aligned to [`MAX_ALIGN`].
    layout: Layout,
    /// Bytes in use: everything below is handed out (or padding); everything from here on is
    /// free. Always a multiple of 16.
    offset: Cell<usize>,
    /// The largest `offset` seen since creation or [`Arena::reset_peak`].
    peak: Cell<usize>,
}

// SAFETY: the Arena owns its region exclusively, like a `Box<[u8]>`: every slice into it
// borrows the Arena, so none can outlive (or coexist with) a move of the Arena to another
// thread. It is not `Sync`: its `Cell`s are not synchronised.
unsafe impl Send for Arena {}

impl Arena {
    /// Allocates the region, zeroed: `bytes` rounded up to a multiple of [`MAX_ALIGN`] (64),
    /// and at least 64. This is the arena's only heap allocation; the capacity never changes.
    ///
    /// Errors: [`Error::Overflow`] when the size does not fit a layout (over `isize::MAX`),
    /// [`Error::AllocFailed`] when the global allocator refuses it.
    ///
    /// ```
    /// use wasmnn_arena::{Arena, Error};
    /// assert_eq!(Arena::with_capacity(100)?.capacity(), 128);
    /// assert_eq!(Arena::with_capacity(0)?.capacity(), 64);
    /// assert!(matches!(Arena::with_capacity(usize::MAX), Err(Error::Overflow { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_capacity(bytes: usize) -> Result<Self> {
        let overflow = Error::Overflow { what: "capacity" };
        let capacity = round_up(bytes.max(1), MAX_ALIGN).ok_or(overflow.clone())?;
        let layout = Layout::from_size_align(capacity, MAX_ALIGN).map_err(|_| overflow)?;
        // SAFETY: `layout` has a non-zero size (at least MAX_ALIGN bytes).
        let ptr = unsafe { alloc_zeroed(layout) };
        let base = NonNull::new(ptr).ok_or(Error::AllocFailed { bytes: capacity })?;
        Ok(Self {
            base,
            layout,
            offset: Cell::new(0),
            peak: Cell::new(0),
        })
    }

    /// Total size of the region in bytes.
    ///
    /// ```
    /// assert_eq!(wasmnn_arena::Arena::with_capacity(4096)?.capacity(), 4096);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.layout.size()
    }

    /// Bytes in use now, alignment and padding included.
    ///
    /// ```
    /// let arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// arena.alloc_slice::<f32>(4)?; // 16 bytes of data + 16 of padding
    /// assert_eq!(arena.used(), 32);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn used(&self) -> usize {
        self.offset.get()
    }

    /// Bytes still free: `capacity() - used()`.
    ///
    /// ```
    /// let arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// arena.alloc_slice::<u8>(1)?;
    /// assert_eq!(arena.remaining(), 4096 - 32);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn remaining(&self) -> usize {
        self.capacity() - self.used()
    }

    /// High-water mark: the largest [`used`](Arena::used) since the arena was created or
    /// [`reset_peak`](Arena::reset_peak) was called. A warm-up run's peak is the capacity a
    /// later arena for the same work needs.
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// arena.alloc_slice::<f32>(100)?;
    /// arena.reset();
    /// arena.alloc_slice::<f32>(4)?;
    /// assert_eq!((arena.used(), arena.peak()), (32, 416));
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn peak(&self) -> usize {
        self.peak.get()
    }

    /// Starts a new high-water measurement from the current [`used`](Arena::used).
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// arena.alloc_slice::<f32>(100)?;
    /// arena.reset();
    /// arena.reset_peak();
    /// assert_eq!(arena.peak(), 0);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn reset_peak(&self) {
        self.peak.set(self.used());
    }

    /// Gives every byte back. Takes `&mut self`, so no allocation can be alive: the borrow
    /// checker refuses the call until every slice from this arena is dead. The contents are not
    /// cleared; the high-water mark is kept.
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let first = arena.alloc_slice::<u32>(8)?.as_ptr() as usize;
    /// arena.reset();
    /// let again = arena.alloc_slice::<u32>(8)?.as_ptr() as usize;
    /// assert_eq!(first, again); // the same memory, reused
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn reset(&mut self) {
        self.offset.set(0);
    }

    /// A checkpoint: allocations made through the returned [`Scope`] are given back when it is
    /// dropped. It borrows the arena mutably, so the arena itself cannot allocate (or reset)
    /// while the scope, or anything allocated through it, is alive.
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// {
    ///     let scope = arena.scope();
    ///     let tmp: &mut [f32] = scope.alloc_slice(64)?;
    ///     tmp.fill(1.0);
    /// }
    /// assert_eq!(arena.used(), 0);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn scope(&mut self) -> Scope<'_> {
        Scope::new(self)
    }

    /// `n` values of `T`, 16-byte aligned (or `align_of::<T>()` if larger). The contents are
    /// valid `T`s but otherwise unspecified: zero on first use of the bytes, or what an earlier
    /// user left there. At least [`PADDING`] bytes follow the slice (see [`Padded`]).
    ///
    /// Errors: [`Error::OutOfCapacity`] (the arena is unchanged), [`Error::Overflow`] when
    /// `n * size_of::<T>()` overflows, [`Error::InvalidArgument`] when `align_of::<T>() > 64`.
    ///
    /// ```
    /// let arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let x: &mut [f32] = arena.alloc_slice(10)?;
    /// assert_eq!((x.len(), x.as_ptr() as usize % 16), (10, 0));
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn alloc_slice<T: Pod>(&self, n: usize) -> Result<&mut [T]> {
        self.alloc_slice_aligned(n, Align::B16)
    }

    /// Like [`alloc_slice`](Arena::alloc_slice), starting on a multiple of `align` bytes.
    ///
    /// ```
    /// use wasmnn_arena::{Align, Arena};
    /// let arena = Arena::with_capacity(4096)?;
    /// arena.alloc_slice::<u8>(1)?;
    /// let line: &mut [f32] = arena.alloc_slice_aligned(16, Align::B64)?;
    /// assert_eq!(line.as_ptr() as usize % 64, 0);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn alloc_slice_aligned<T: Pod>(&self, n: usize, align: Align) -> Result<&mut [T]> {
        Ok(self.alloc_padded(n, align)?.into_slice())
    }

    /// `n` zeros of `T`.
    ///
    /// ```
    /// let arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let acc: &mut [i32] = arena.alloc_slice_zeroed(8)?;
    /// assert_eq!(acc, &[0; 8]);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn alloc_slice_zeroed<T: Pod>(&self, n: usize) -> Result<&mut [T]> {
        let slice = self.alloc_slice(n)?;
        slice.fill(T::zeroed());
        Ok(slice)
    }

    /// A copy of `src`.
    ///
    /// ```
    /// let arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let x: &mut [f32] = arena.alloc_slice_copy(&[1.0, 2.0])?;
    /// assert_eq!(x, &[1.0, 2.0]);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn alloc_slice_copy<T: Pod>(&self, src: &[T]) -> Result<&mut [T]> {
        let slice = self.alloc_slice(src.len())?;
        slice.copy_from_slice(src);
        Ok(slice)
    }

    /// `n` values of `T` together with their padding tail, for SIMD code that reads past the end
    /// of its data: [`Padded`] derefs to the `n` values, and [`Padded::padded`] is a read-only
    /// view of the values plus at least 16 bytes after them.
    ///
    /// ```
    /// use wasmnn_arena::{Align, Arena};
    /// let arena = Arena::with_capacity(4096)?;
    /// let mut row = arena.alloc_padded::<f32>(5, Align::B16)?;
    /// row.copy_from_slice(&[1.0; 5]);
    /// // Two full 4-lane loads cover all 5 values: the second reads 3 lanes of padding.
    /// let lanes = row.padded();
    /// assert!(lanes.len() >= 8);
    /// let sum: f32 = lanes[..4].iter().sum::<f32>() + lanes[4];
    /// assert_eq!(sum, 5.0);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn alloc_padded<T: Pod>(&self, n: usize, align: Align) -> Result<Padded<'_, T>> {
        let tail = tail_len::<T>();
        let start = self.bump::<T>(n, align)?;
        // SAFETY:
        // - `start` is a multiple of the allocation's alignment, which is at least
        //   `align_of::<T>()`, and the region base is MAX_ALIGN-aligned: the pointer is aligned
        //   and non-null.
        // - `bump` checked that the data and a tail of `tail` elements end at or before
        //   `capacity`: all `n + tail` elements lie inside the one region, whose size (a valid
        //   `Layout`) is at most `isize::MAX`. (For zero-sized `T`, `tail` is 0 and the slice
        //   covers no bytes.)
        // - Every byte of the region is initialised: it was zeroed at creation and is only
        //   ever written through slices of `Pod` types, which have no padding bytes. Any bit
        //   pattern is a valid `T` (`Pod`).
        // - No other live reference overlaps these bytes: they lay at or after the bump
        //   position, and the position only moves back through `reset(&mut self)` or the drop of
        //   a `Scope`, which the borrow checker orders after the end of this `&self` borrow
        //   (see `Scope`).
        let data = unsafe {
            let ptr = self.base.add(start).cast::<T>();
            core::slice::from_raw_parts_mut(ptr.as_ptr(), n + tail)
        };
        Ok(Padded::new(data, n))
    }

    /// The most bytes an allocation of `n` values of `T` at `align` can take from an arena,
    /// alignment and padding included. Summing footprints gives a capacity that always holds
    /// those allocations.
    ///
    /// ```
    /// use wasmnn_arena::{Align, Arena};
    /// let need = Arena::footprint::<f32>(100, Align::B16)? + Arena::footprint::<u8>(3, Align::B64)?;
    /// let arena = Arena::with_capacity(need)?;
    /// arena.alloc_slice::<f32>(100)?;
    /// arena.alloc_slice_aligned::<u8>(3, Align::B64)?;
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn footprint<T: Pod>(n: usize, align: Align) -> Result<usize> {
        let (bytes, align) = checked_layout::<T>(n, align)?;
        // The position is always a multiple of 16, so aligning it skips at most `align - 16`.
        let end = block_end(align - PADDING, bytes, tail_len::<T>() * size_of::<T>());
        end.ok_or(Error::Overflow { what: "allocation" })
    }

    /// Reserves `n` values of `T` (and their padding) after the current position and returns
    /// the byte offset where they start. On error the arena is unchanged.
    fn bump<T: Pod>(&self, n: usize, align: Align) -> Result<usize> {
        let (bytes, align) = checked_layout::<T>(n, align)?;
        let offset = self.offset.get();
        let overflow = Error::Overflow { what: "allocation" };
        let start = round_up(offset, align).ok_or(overflow.clone())?;
        let end = block_end(start, bytes, tail_len::<T>() * size_of::<T>()).ok_or(overflow)?;
        if end > self.capacity() {
            return Err(Error::OutOfCapacity {
                needed: end - offset,
                remaining: self.remaining(),
            });
        }
        self.offset.set(end);
        self.peak.set(self.peak.get().max(end));
        Ok(start)
    }

    /// Moves the position back to `checkpoint`. Only [`Scope`]'s `Drop` calls this, with the
    /// position it saw when it was created; its borrows guarantee that nothing allocated after
    /// that point is still alive.
    pub(crate) fn rewind(&self, checkpoint: usize) {
        self.offset.set(checkpoint);
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: `base` was returned by `alloc_zeroed(self.layout)` and is freed only here.
        unsafe { dealloc(self.base.as_ptr(), self.layout) }
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("capacity", &self.capacity())
            .field("used", &self.used())
            .field("peak", &self.peak())
            .finish()
    }
}

/// Elements of `T` in an allocation's padding tail: enough whole elements to cover
/// [`PADDING`] bytes (none for zero-sized types).
pub(crate) const fn tail_len<T>() -> usize {
    match size_of::<T>() {
        0 => 0,
        size => PADDING.div_ceil(size),
    }
}

/// The data size in bytes and the effective alignment of `n` values of `T` at `align`.
fn checked_layout<T>(n: usize, align: Align) -> Result<(usize, usize)> {
    if align_of::<T>() > MAX_ALIGN {
        return Err(Error::InvalidArgument {
            what: "T",
            why: "element alignment above 64 bytes",
        });
    }
    let bytes = n
        .checked_mul(size_of::<T>())
        .ok_or(Error::Overflow { what: "allocation" })?;
    Ok((bytes, align.bytes().max(align_of::<T>())))
}
