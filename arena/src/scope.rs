//! Scoped checkpoints: a [`Scope`] remembers the arena's position and gives back everything
//! allocated through it when it is dropped, while allocations made before it stay valid.
//!
//! Why this is safe: the position may only move back when nothing above it is alive.
//! - A scope is created from `&mut Arena` or `&mut Scope`, so its parent cannot allocate while
//!   the new scope lives; everything above the checkpoint comes from the new scope (or from its
//!   own children).
//! - Those allocations have the lifetime of that `&mut` borrow, so the parent stays frozen until
//!   they are dead, even if the scope object itself is dropped (or leaked) earlier.
//! - Allocations of the parent have the parent's lifetime, not a borrow of the parent object,
//!   so they stay usable inside the child scope.
use bytemuck::Pod;

use crate::align::Align;
use crate::arena::Arena;
use crate::error::Result;
use crate::padded::Padded;

/// A checkpoint of an [`Arena`]: allocations made through it live for `'a` and are given back
/// when the scope is dropped. Nest with [`Scope::scope`].
///
/// ```
/// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
/// let mut outer = arena.scope();
/// let weights: &mut [f32] = outer.alloc_slice_copy(&[0.5; 8])?;
/// for _ in 0..3 {
///     let inner = outer.scope();
///     let tmp: &mut [f32] = inner.alloc_slice(8)?;
///     for (t, w) in tmp.iter_mut().zip(weights.iter()) {
///         *t = 2.0 * w; // outer allocations stay usable inside the inner scope
///     }
///     assert_eq!(tmp[0], 1.0);
/// } // each inner scope gives its memory back here
/// assert_eq!(outer.used(), 48);
/// # Ok::<(), wasmnn_arena::Error>(())
/// ```
///
/// Using an inner allocation after the parent allocates again does not compile:
///
/// ```compile_fail,E0502
/// let mut arena = wasmnn_arena::Arena::with_capacity(4096).unwrap();
/// let mut outer = arena.scope();
/// let tmp: &mut [f32] = outer.scope().alloc_slice(8).unwrap(); // the inner scope is dropped here
/// let other: &mut [f32] = outer.alloc_slice(8).unwrap(); // error: `outer` is still borrowed by `tmp`
/// tmp[0] = other[0];
/// ```
#[derive(Debug)]
pub struct Scope<'a> {
    arena: &'a Arena,
    /// The arena's position when the scope was created; restored on drop.
    checkpoint: usize,
}

impl<'a> Scope<'a> {
    /// Called by [`Arena::scope`]; the `&mut` borrow is what makes the rewind safe.
    pub(crate) fn new(arena: &'a mut Arena) -> Self {
        Self {
            checkpoint: arena.used(),
            arena,
        }
    }

    /// A nested checkpoint. Borrows this scope mutably, so this scope cannot allocate while the
    /// child, or anything allocated through it, is alive; what this scope allocated earlier
    /// stays usable.
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let mut outer = arena.scope();
    /// outer.alloc_slice::<u8>(10)?;
    /// let before = outer.used();
    /// {
    ///     let inner = outer.scope();
    ///     inner.alloc_slice::<u8>(1000)?;
    ///     assert!(inner.used() > before);
    /// }
    /// assert_eq!(outer.used(), before);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn scope(&mut self) -> Scope<'_> {
        Scope {
            arena: self.arena,
            checkpoint: self.arena.used(),
        }
    }

    /// The arena's [`used`](Arena::used) bytes (all scopes included).
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let scope = arena.scope();
    /// scope.alloc_slice::<f32>(4)?;
    /// assert_eq!(scope.used(), 32);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn used(&self) -> usize {
        self.arena.used()
    }

    /// The arena's [`remaining`](Arena::remaining) bytes.
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let scope = arena.scope();
    /// assert_eq!(scope.remaining(), 4096);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn remaining(&self) -> usize {
        self.arena.remaining()
    }

    /// [`Arena::alloc_slice`] within this scope.
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let scope = arena.scope();
    /// assert_eq!(scope.alloc_slice::<f32>(10)?.len(), 10);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn alloc_slice<T: Pod>(&self, n: usize) -> Result<&'a mut [T]> {
        self.arena.alloc_slice(n)
    }

    /// [`Arena::alloc_slice_aligned`] within this scope.
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let scope = arena.scope();
    /// let x = scope.alloc_slice_aligned::<f32>(10, wasmnn_arena::Align::B64)?;
    /// assert_eq!(x.as_ptr() as usize % 64, 0);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn alloc_slice_aligned<T: Pod>(&self, n: usize, align: Align) -> Result<&'a mut [T]> {
        self.arena.alloc_slice_aligned(n, align)
    }

    /// [`Arena::alloc_slice_zeroed`] within this scope.
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let scope = arena.scope();
    /// assert_eq!(scope.alloc_slice_zeroed::<u16>(3)?, &[0, 0, 0]);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn alloc_slice_zeroed<T: Pod>(&self, n: usize) -> Result<&'a mut [T]> {
        self.arena.alloc_slice_zeroed(n)
    }

    /// [`Arena::alloc_slice_copy`] within this scope.
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let scope = arena.scope();
    /// assert_eq!(scope.alloc_slice_copy(&[7u8, 8])?, &[7, 8]);
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn alloc_slice_copy<T: Pod>(&self, src: &[T]) -> Result<&'a mut [T]> {
        self.arena.alloc_slice_copy(src)
    }

    /// [`Arena::alloc_padded`] within this scope.
    ///
    /// ```
    /// let mut arena = wasmnn_arena::Arena::with_capacity(4096)?;
    /// let scope = arena.scope();
    /// let x = scope.alloc_padded::<f32>(5, wasmnn_arena::Align::B16)?;
    /// assert_eq!((x.len(), x.padded().len()), (5, 9));
    /// # Ok::<(), wasmnn_arena::Error>(())
    /// ```
    pub fn alloc_padded<T: Pod>(&self, n: usize, align: Align) -> Result<Padded<'a, T>> {
        self.arena.alloc_padded(n, align)
    }
}

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        self.arena.rewind(self.checkpoint);
    }
}
