//! After the arena is created, using it (allocate scratch, nested scopes, reset, repeat) makes
//! no heap allocation at all. A counting global allocator watches this test's thread only, so
//! the test harness's own allocations on other threads do not count. Native only: the global
//! allocator of a wasm test binary belongs to the wasm-bindgen runtime.
#![cfg(not(target_arch = "wasm32"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use wasmnn_arena::{bytemuck, Align, Arena, Plan, Request};

struct Counting;

thread_local! {
    /// Whether allocations on this thread are being counted, and how many there were.
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
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations (and frees) made by `f` on this thread.
fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    WATCH.with(|w| w.set((true, 0)));
    let r = f();
    let (_, n) = WATCH.with(|w| w.replace((false, 0)));
    (r, n)
}

/// One "inference call": the scratch a layer might take, used and given back.
fn layer(arena: &mut Arena, x: &[f32]) -> f32 {
    let mut scope = arena.scope();
    let packed = scope.alloc_slice_aligned::<f32>(256, Align::B64).unwrap();
    let acc = scope.alloc_slice_zeroed::<i32>(64).unwrap();
    for (i, p) in packed.iter_mut().enumerate() {
        *p = x[i % x.len()] * i as f32;
    }
    let sum = {
        let inner = scope.scope();
        let row = inner.alloc_padded::<f32>(7, Align::B16).unwrap();
        row.padded().len() as f32
    };
    acc[0] = packed.iter().sum::<f32>() as i32;
    sum + acc[0] as f32
}

#[test]
fn steady_state_use_makes_no_heap_allocation() {
    let x: Vec<f32> = (0..16).map(|i| i as f32).collect();
    // Warm-up: creating the arena is its one allocation (the counter sees it).
    let (mut arena, warmup) = count(|| Arena::with_capacity(1 << 16).unwrap());
    assert_eq!(warmup, 1, "the counter must see the region's allocation");
    let first = layer(&mut arena, &x);
    // A planned chain of 6 activations in a second arena, as a graph runner would hold them.
    let plan = Plan::new(
        &(0..6)
            .map(|i| Request::new(256, i, i + 1))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let activations = Arena::with_capacity(plan.peak_bytes() + 64).unwrap();
    let region = activations
        .alloc_slice_aligned::<u8>(plan.peak_bytes(), Align::B64)
        .unwrap();

    let (results, allocations) = count(|| {
        let mut last = (0.0, 0.0);
        for _ in 0..100 {
            let l = layer(&mut arena, &x);
            arena.alloc_slice::<u8>(1000).unwrap();
            arena.reset();
            let [input] = plan.tensors_mut(region, [0]).unwrap();
            bytemuck::cast_slice_mut::<u8, f32>(input).fill(1.0);
            for step in 1..6 {
                let [a, b] = plan.tensors_mut(region, [step - 1, step]).unwrap();
                let (a, b) = (
                    bytemuck::cast_slice_mut::<u8, f32>(a),
                    bytemuck::cast_slice_mut::<u8, f32>(b),
                );
                b.iter_mut().zip(a.iter()).for_each(|(b, a)| *b = a + 1.0);
            }
            let [out] = plan.tensors_mut(region, [5]).unwrap();
            last = (l, bytemuck::cast_slice::<u8, f32>(out)[63]);
        }
        last
    });
    assert_eq!(results, (first, 6.0));
    assert_eq!(allocations, 0, "the arena touched the heap in steady state");
    assert!(arena.peak() > 0 && arena.used() == 0);
}
