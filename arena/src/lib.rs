//! # wasmnn-arena
//!
//! Scratch memory for the kernels and the graph runner of wasmnn: a bump [`Arena`] over one
//! contiguous region of linear memory, and an offset [`Plan`] that packs tensors with known
//! lifetimes into one region.
//!
//! `no_std` + `alloc`: the only heap allocation is the region itself, made once by
//! [`Arena::with_capacity`]. After that, allocating, leaving a [`Scope`] and [`Arena::reset`]
//! never touch the global allocator.
//!
//! ```
//! use wasmnn_arena::{Align, Arena};
//! let mut arena = Arena::with_capacity(4096)?;
//! for _ in 0..3 {
//!     let x: &mut [f32] = arena.alloc_slice_copy(&[1.0, 2.0, 3.0])?;
//!     let acc: &mut [f32] = arena.alloc_slice_aligned(8, Align::B64)?;
//!     acc.fill(0.0);
//!     acc[0] = x.iter().sum();
//!     assert_eq!(acc[0], 6.0);
//!     arena.reset(); // `&mut self`: only compiles once `x` and `acc` are dead
//! }
//! assert_eq!(arena.used(), 0);
//! # Ok::<(), wasmnn_arena::Error>(())
//! ```
//!
//! ## Contracts
//!
//! - **Alignment.** Every allocation starts on a multiple of 16 bytes (one SIMD128 vector), or of
//!   `align_of::<T>()` when that is larger. [`Align::B32`] and [`Align::B64`] (a cache line) are
//!   available on request. The region itself is 64-byte aligned, so an offset that is a multiple
//!   of 64 is a 64-byte aligned address. Element types whose alignment exceeds 64 are refused
//!   with [`Error::InvalidArgument`].
//! - **Padding.** After every allocation at least [`PADDING`] = 16 bytes, up to the next
//!   16-byte boundary, belong to that allocation alone: no other allocation ever overlaps them,
//!   and the arena never writes them. They are always initialised, so a SIMD kernel may *read*
//!   up to 16 bytes past the end of its data, e.g. to finish a row with one full `v128` load.
//!   Safe Rust cannot read outside a slice, so the over-read goes through [`Padded::padded`],
//!   which is the data plus its tail as one read-only slice. Kernels never *write* past the
//!   end of their data: the tail is reachable only through that shared slice.
//! - **Contents.** Memory is zeroed when the region is created. Afterwards an allocation holds
//!   whatever the last user of those bytes wrote, as values of any [`Pod`] type (initialised,
//!   never undefined). Use [`Arena::alloc_slice_zeroed`] or [`Arena::alloc_slice_copy`] when
//!   the initial values matter.
//! - **Growth.** The capacity is fixed when the arena is created and never grows, so live
//!   allocations never move. An allocation that does not fit returns
//!   [`Error::OutOfCapacity`] and leaves the arena unchanged; it never panics and never falls
//!   back to the heap. Size the arena from [`Plan::peak_bytes`], from [`Arena::footprint`], or
//!   from [`Arena::peak`] after a warm-up run.
//! - **Reset.** Memory comes back in two ways, both checked by the borrow checker, so a reset
//!   can never happen while an allocation is alive: [`Arena::reset`] takes `&mut self`, and a
//!   [`Scope`] (a checkpoint, taken with `&mut` access) gives back everything allocated through
//!   it when it is dropped. Allocations made before the scope stay valid.
//! - **Threads.** An [`Arena`] may be sent to another thread (one arena per worker), but not
//!   shared: allocation uses [`Cell`](core::cell::Cell)s, so `Arena` is not `Sync`.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

extern crate alloc;

pub mod align;
pub mod arena;
pub mod error;
pub mod padded;
pub mod plan;
pub mod scope;

pub use align::{Align, MAX_ALIGN, PADDING};
pub use arena::Arena;
pub use bytemuck::{self, Pod};
pub use error::{Error, Result};
pub use padded::Padded;
pub use plan::{Plan, Request};
pub use scope::Scope;
