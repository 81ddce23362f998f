//! A global allocator that counts the heap allocations made on one thread while [`count`] runs,
//! for the tests that check that steady-state calls allocate nothing.
//!
//! Each test crate that includes this module declares the allocator itself (a
//! `#[global_allocator]` belongs to the crate that links it):
//!
//! ```ignore
//! mod counting_alloc;
//! #[global_allocator]
//! static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;
//! ```
//!
//! Native only: the global allocator of a wasm test binary belongs to the wasm-bindgen runtime.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting allocations and reallocations on threads inside [`count`].
pub struct Counting;

thread_local! {
    /// Whether allocations on this thread are being counted, and how many there were. Per
    /// thread, so that tests running side by side do not count each other's allocations.
    static WATCH: Cell<(bool, usize)> = const { Cell::new((false, 0)) };
}

fn note() {
    // `try_with`: the allocator can run while thread-locals are being torn down.
    let _ = WATCH.try_with(|w| {
        let (on, n) = w.get();
        if on {
            w.set((on, n + 1));
        }
    });
}

// SAFETY: forwards every call unchanged to the system allocator; counting has no effect on the
// memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // A free needs an allocation first, which is counted.
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Heap allocations (and reallocations) made by `f` on this thread.
pub fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    WATCH.with(|w| w.set((true, 0)));
    let r = f();
    let n = WATCH.with(|w| w.replace((false, 0)).1);
    (r, n)
}
