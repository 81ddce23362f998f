//! The arena's contracts (alignment, padding, contents, capacity, reset, scopes) on fixed cases,
//! then a property test that replays random allocate / scope / reset sequences against a model
//! of the layout rules. Runs natively, under Miri, in Node and in headless Chromium.
use core::mem::{align_of, size_of};

use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_arena::{bytemuck, Align, Arena, Error, Padded, Pod, Scope, PADDING};

const ALIGNS: [Align; 3] = [Align::B16, Align::B32, Align::B64];

/// A 128-byte aligned element type: more than the arena provides.
#[derive(Clone, Copy)]
#[repr(C, align(128))]
struct Over128([u8; 128]);
// SAFETY: a byte array with no padding (size 128 = alignment), valid for every bit pattern.
unsafe impl bytemuck::Zeroable for Over128 {}
// SAFETY: as above; `Copy`, `repr(C)`, no pointers.
unsafe impl Pod for Over128 {}

/// Allocates `n` values of `T` after a `u8` of `lead` bytes (to shift the position), and checks
/// alignment, length and that the next allocation starts past the padding.
fn check_layout<T: Pod>(n: usize, align: Align, lead: usize) {
    let arena = Arena::with_capacity(8192).unwrap();
    arena.alloc_slice::<u8>(lead).unwrap();
    let want_align = align.bytes().max(align_of::<T>());
    let x = arena.alloc_slice_aligned::<T>(n, align).unwrap();
    let (start, end) = (
        x.as_ptr() as usize,
        x.as_ptr() as usize + n * size_of::<T>(),
    );
    assert_eq!(x.len(), n);
    assert_eq!(
        start % want_align,
        0,
        "{} x{n} {align:?}",
        core::any::type_name::<T>()
    );
    assert_eq!(arena.used() % 16, 0);
    let next = arena.alloc_slice::<u8>(1).unwrap().as_ptr() as usize;
    assert!(next >= end + PADDING, "next allocation inside the padding");
}

#[wasm_bindgen_test(unsupported = test)]
fn alignment_and_padding_hold_for_every_type() {
    for n in [0, 1, 3, 4, 5, 17] {
        for align in ALIGNS {
            for lead in [0, 1, 16, 40] {
                check_layout::<u8>(n, align, lead);
                check_layout::<i16>(n, align, lead);
                check_layout::<f32>(n, align, lead);
                check_layout::<f64>(n, align, lead);
                check_layout::<u128>(n, align, lead);
                check_layout::<[u32; 5]>(n, align, lead);
                check_layout::<[u8; 3]>(n, align, lead);
            }
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn exact_layout_of_a_sequence() {
    let arena = Arena::with_capacity(1000).unwrap();
    assert_eq!(arena.capacity(), 1024);
    let base = arena.alloc_slice::<u8>(1).unwrap().as_ptr() as usize;
    assert_eq!(base % 64, 0, "the region is 64-byte aligned");
    assert_eq!(arena.used(), 32); // 1 byte, 16 of padding, rounded to 16
    let b = arena.alloc_slice_aligned::<f32>(4, Align::B64).unwrap();
    assert_eq!(b.as_ptr() as usize - base, 64);
    assert_eq!(arena.used(), 96);
    let c = arena.alloc_slice::<[u32; 5]>(1).unwrap(); // 20 bytes of data, a 20-byte tail
    assert_eq!(c.as_ptr() as usize - base, 96);
    assert_eq!(arena.used(), 96 + 48);
    assert_eq!(arena.remaining(), 1024 - 144);
}

#[wasm_bindgen_test(unsupported = test)]
fn out_of_capacity_is_an_error_and_changes_nothing() {
    let arena = Arena::with_capacity(256).unwrap();
    arena.alloc_slice::<f32>(10).unwrap(); // 40 + 16 -> 64 bytes
    assert_eq!(arena.used(), 64);
    let err = arena.alloc_slice::<f32>(45).unwrap_err(); // 180 + 16 -> 208 > 192
    assert_eq!(
        err,
        Error::OutOfCapacity {
            needed: 208,
            remaining: 192
        }
    );
    assert_eq!((arena.used(), arena.peak()), (64, 64));
    // Alignment counts too: 64 bytes fit at offset 64, but B64 at offset 80 needs 48 more.
    arena.alloc_slice::<u8>(0).unwrap();
    assert!(matches!(
        arena.alloc_slice_aligned::<u8>(160, Align::B64),
        Err(Error::OutOfCapacity {
            needed: 224,
            remaining: 176
        })
    ));
    // Exactly what is left still fits.
    let last = arena.alloc_slice::<u8>(176 - 16).unwrap();
    assert_eq!(last.len(), 160);
    assert_eq!(arena.remaining(), 0);
    assert!(matches!(
        arena.alloc_slice::<u8>(0),
        Err(Error::OutOfCapacity { .. })
    ));
    assert!(err.to_string().contains("208"));
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_sizes_and_types_are_typed_errors() {
    let arena = Arena::with_capacity(1024).unwrap();
    assert_eq!(
        arena.alloc_slice::<f32>(usize::MAX / 2),
        Err(Error::Overflow { what: "allocation" })
    );
    assert!(matches!(
        arena.alloc_slice::<u8>(usize::MAX - 8),
        Err(Error::Overflow { .. })
    ));
    assert!(matches!(
        arena.alloc_slice::<Over128>(1),
        Err(Error::InvalidArgument { what: "T", .. })
    ));
    assert!(matches!(
        Arena::footprint::<Over128>(1, Align::B16),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        Arena::footprint::<u8>(usize::MAX, Align::B16),
        Err(Error::Overflow { .. })
    ));
    assert_eq!(arena.used(), 0);
    assert!(matches!(
        Arena::with_capacity(usize::MAX),
        Err(Error::Overflow { .. })
    ));
    assert!(matches!(
        Arena::with_capacity(isize::MAX as usize),
        Err(Error::Overflow { .. })
    ));
    for e in [
        Error::Overflow { what: "x" },
        Error::InvalidArgument {
            what: "x",
            why: "y",
        },
        Error::AllocFailed { bytes: 7 },
    ] {
        assert!(!e.to_string().is_empty());
    }
}

/// A region the allocator cannot provide. Native only: wasm32 may really have 2 GiB, and Miri
/// stops on huge allocations instead of failing them.
#[cfg(all(not(target_arch = "wasm32"), not(miri)))]
#[test]
fn refused_region_is_alloc_failed() {
    let bytes = isize::MAX as usize - 1023;
    assert!(matches!(
        Arena::with_capacity(bytes),
        Err(Error::AllocFailed { .. })
    ));
}

#[wasm_bindgen_test(unsupported = test)]
fn empty_and_zero_sized_allocations() {
    let arena = Arena::with_capacity(1024).unwrap();
    let a = arena.alloc_slice::<f32>(0).unwrap();
    assert!(a.is_empty());
    assert_eq!(
        arena.used(),
        16,
        "an empty allocation still owns its padding"
    );
    let units = arena.alloc_slice::<()>(1_000_000).unwrap();
    assert_eq!(units.len(), 1_000_000);
    assert_eq!(arena.used(), 32);
    let p = arena.alloc_padded::<()>(3, Align::B16).unwrap();
    assert_eq!((p.len(), p.tail_len()), (3, 0));
}

#[wasm_bindgen_test(unsupported = test)]
fn footprint_is_always_enough() {
    for lead in [0, 1, 17, 50] {
        for n in [0, 1, 7, 100] {
            for align in ALIGNS {
                let arena = Arena::with_capacity(4096).unwrap();
                arena.alloc_slice::<u8>(lead).unwrap();
                let before = arena.used();
                arena.alloc_slice_aligned::<[u8; 3]>(n, align).unwrap();
                let fp = Arena::footprint::<[u8; 3]>(n, align).unwrap();
                assert!(arena.used() - before <= fp, "lead={lead} n={n} {align:?}");
            }
        }
    }
    // Exact for the default alignment.
    assert_eq!(Arena::footprint::<f32>(10, Align::B16).unwrap(), 64);
    assert_eq!(Arena::footprint::<f32>(10, Align::B64).unwrap(), 112);
}

#[wasm_bindgen_test(unsupported = test)]
fn contents_are_zero_then_stale_and_initialisers_work() {
    let mut arena = Arena::with_capacity(1024).unwrap();
    let x = arena.alloc_slice::<u32>(8).unwrap();
    assert_eq!(x, &[0; 8], "a fresh region is zeroed");
    x.fill(0xdead_beef);
    arena.reset();
    // Reused bytes keep what was written, reinterpreted as the new type.
    let y = arena.alloc_slice::<u16>(4).unwrap();
    assert_eq!(y, &[0xbeef, 0xdead, 0xbeef, 0xdead]);
    arena.reset();
    assert_eq!(arena.alloc_slice_zeroed::<u32>(8).unwrap(), &[0; 8]);
    let src = [1.5f64, -2.0, 3.25];
    let copy = arena.alloc_slice_copy(&src).unwrap();
    assert_eq!(copy, &src);
    assert_ne!(copy.as_ptr(), src.as_ptr());
}

#[wasm_bindgen_test(unsupported = test)]
fn reset_reuses_memory_and_keeps_the_peak() {
    let mut arena = Arena::with_capacity(4096).unwrap();
    let first: Vec<usize> = (1..5)
        .map(|n| arena.alloc_slice::<f32>(n * 10).unwrap().as_ptr() as usize)
        .collect();
    let peak = arena.peak();
    assert_eq!(peak, arena.used());
    for _ in 0..3 {
        arena.reset();
        assert_eq!(arena.used(), 0);
        let again: Vec<usize> = (1..5)
            .map(|n| arena.alloc_slice::<f32>(n * 10).unwrap().as_ptr() as usize)
            .collect();
        assert_eq!(again, first);
    }
    arena.reset();
    assert_eq!(arena.peak(), peak);
    arena.alloc_slice::<u8>(1).unwrap();
    arena.reset_peak();
    assert_eq!(arena.peak(), 32);
    let s = format!("{arena:?}");
    assert!(
        s.contains("capacity: 4096") && s.contains("used: 32"),
        "{s}"
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn scopes_rewind_and_keep_outer_allocations() {
    let mut arena = Arena::with_capacity(4096).unwrap();
    let mut outer = arena.scope();
    let keep = outer.alloc_slice_copy(&[7u8; 40]).unwrap();
    let mark = outer.used();
    let mut inner_ptr = None;
    for round in 0..3u8 {
        let mut inner = outer.scope();
        let tmp = inner.alloc_slice::<u8>(100).unwrap();
        tmp.fill(round);
        inner_ptr.get_or_insert(tmp.as_ptr() as usize);
        assert_eq!(
            Some(tmp.as_ptr() as usize),
            inner_ptr,
            "same memory each round"
        );
        {
            let deepest = inner.scope();
            deepest.alloc_slice_zeroed::<f64>(20).unwrap();
            assert!(deepest.used() > mark + 100);
        }
        assert_eq!(inner.remaining(), 4096 - mark - 128);
        assert!(tmp.iter().all(|&b| b == round));
        assert_eq!(keep, &[7u8; 40]);
    }
    assert_eq!(outer.used(), mark);
    let keep_ptr = keep.as_ptr() as usize;
    drop(outer);
    assert_eq!(arena.used(), 0);
    assert_eq!(
        arena.alloc_slice::<u8>(1).unwrap().as_ptr() as usize,
        keep_ptr
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn leaked_scope_only_leaks_until_its_parent_rewinds() {
    let mut arena = Arena::with_capacity(4096).unwrap();
    {
        let mut outer = arena.scope();
        let inner = outer.scope();
        inner.alloc_slice::<u8>(100).unwrap();
        core::mem::forget(inner);
        assert_eq!(outer.used(), 128);
        outer.alloc_slice::<u8>(1).unwrap();
        assert_eq!(outer.used(), 160);
    }
    assert_eq!(arena.used(), 0);
}

#[wasm_bindgen_test(unsupported = test)]
fn padded_tail_is_readable_exclusive_and_stable() {
    let arena = Arena::with_capacity(4096).unwrap();
    let mut x = arena.alloc_padded::<f32>(5, Align::B16).unwrap();
    assert_eq!((x.len(), x.tail_len(), x.padded().len()), (5, 4, 9));
    x.copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    let tail_before: Vec<u32> = x.padded()[5..].iter().map(|v| v.to_bits()).collect();
    // Neighbours are written in full; the tail must not change.
    let next = arena.alloc_slice::<u8>(64).unwrap();
    next.fill(0xff);
    let tail_after: Vec<u32> = x.padded()[5..].iter().map(|v| v.to_bits()).collect();
    assert_eq!(tail_before, tail_after);
    let end_of_tail = x.padded().as_ptr_range().end as usize;
    assert!(next.as_ptr() as usize >= end_of_tail);
    // Over-read: two 4-lane chunks cover 5 values.
    let lanes = x.padded();
    let sum: f32 = (0..4).map(|i| lanes[i] + lanes[4 + i]).sum();
    assert_eq!(sum - lanes[5..8].iter().sum::<f32>(), 15.0);
    // Element types larger than the padding get one whole element of tail.
    let big = arena.alloc_padded::<[f32; 8]>(2, Align::B16).unwrap();
    assert_eq!(big.tail_len(), 1);
    let (data, tail) = arena
        .alloc_padded::<u8>(3, Align::B64)
        .unwrap()
        .into_parts();
    assert_eq!((data.len(), tail.len()), (3, 16));
    assert_eq!(x.into_slice().len(), 5);
}

#[wasm_bindgen_test(unsupported = test)]
fn arena_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Arena>();
    let mut arena = Arena::with_capacity(256).unwrap();
    let p = arena.alloc_slice::<u8>(4).unwrap().as_ptr() as usize;
    let moved = Box::new(arena); // moving the arena does not move the region
    assert_eq!(
        moved.alloc_slice::<u8>(4).unwrap().as_ptr() as usize,
        p + 32
    );
    arena = *moved;
    arena.reset();
    assert_eq!(arena.alloc_slice::<u8>(4).unwrap().as_ptr() as usize, p);
}

// ---------------------------------------------------------------------------------------------
// Property test: random programs of allocations, nested scopes and resets, checked against a
// model of the documented layout rules.

#[derive(Clone, Debug)]
enum Op {
    /// Allocate `n` values of element kind `kind` (see `alloc_kind`).
    Alloc { kind: u8, n: usize, align: Align },
    /// Open a nested scope.
    Push,
    /// Close the innermost scope (ignored at the top level).
    Pop,
    /// `Arena::reset` (top level only; ignored inside a scope, where it cannot compile).
    Reset,
}

/// What the model knows: the documented layout rules applied by hand.
struct Model {
    capacity: usize,
    used: usize,
    /// Address of the region, learned from the first allocation.
    base: Option<usize>,
    /// Live allocations as address ranges, data plus padding.
    ranges: Vec<(usize, usize)>,
    next_fill: u8,
}

/// One live allocation: its data (filled with `fill`) and a snapshot of its tail, both checked
/// before it dies.
struct Live<'a> {
    data: &'a mut [u8],
    fill: u8,
    tail: &'a [u8],
    tail_snapshot: Vec<u8>,
}

fn verify(lives: &[Live<'_>]) {
    for l in lives {
        assert!(
            l.data.iter().all(|&b| b == l.fill),
            "allocation overwritten"
        );
        assert_eq!(l.tail, &l.tail_snapshot[..], "padding tail overwritten");
    }
}

/// The arena itself or a scope: where allocations of lifetime `'a` come from.
trait Source<'a> {
    fn padded<T: Pod>(&self, n: usize, align: Align) -> wasmnn_arena::Result<Padded<'a, T>>;
    fn used(&self) -> usize;
}
impl<'a> Source<'a> for &'a Arena {
    fn padded<T: Pod>(&self, n: usize, align: Align) -> wasmnn_arena::Result<Padded<'a, T>> {
        let arena: &'a Arena = self;
        arena.alloc_padded(n, align)
    }
    fn used(&self) -> usize {
        Arena::used(self)
    }
}
impl<'a> Source<'a> for Scope<'a> {
    fn padded<T: Pod>(&self, n: usize, align: Align) -> wasmnn_arena::Result<Padded<'a, T>> {
        self.alloc_padded(n, align)
    }
    fn used(&self) -> usize {
        Scope::used(self)
    }
}

fn alloc_checked<'a, T: Pod, S: Source<'a>>(
    src: &S,
    n: usize,
    align: Align,
    m: &mut Model,
    lives: &mut Vec<Live<'a>>,
) {
    let size = size_of::<T>();
    let eff = align.bytes().max(align_of::<T>());
    let tail_bytes = PADDING.div_ceil(size) * size;
    let start = m.used.next_multiple_of(eff);
    let end = (start + n * size + tail_bytes.max(PADDING)).next_multiple_of(16);
    assert_eq!(src.used(), m.used);
    match src.padded::<T>(n, align) {
        Ok(p) => {
            assert!(end <= m.capacity, "allocation past the capacity succeeded");
            let (data, tail) = p.into_parts();
            let addr = data.as_ptr() as usize;
            let base = *m.base.get_or_insert(addr - start);
            assert_eq!(addr, base + start, "not where the layout rules put it");
            assert_eq!(addr % eff, 0, "misaligned");
            assert_eq!(data.len(), n);
            assert!(
                std::mem::size_of_val(tail) >= PADDING,
                "tail shorter than the padding"
            );
            let range = (addr, base + end);
            for &(lo, hi) in &m.ranges {
                assert!(
                    range.1 <= lo || hi <= range.0,
                    "overlap: {range:?} and {lo}..{hi}"
                );
            }
            m.ranges.push(range);
            m.used = end;
            assert_eq!(src.used(), end);
            m.next_fill = m.next_fill.wrapping_add(1).max(1);
            let data: &mut [u8] = bytemuck::cast_slice_mut(data);
            data.fill(m.next_fill);
            let tail: &[u8] = bytemuck::cast_slice(tail);
            lives.push(Live {
                data,
                fill: m.next_fill,
                tail,
                tail_snapshot: tail.to_vec(),
            });
        }
        Err(Error::OutOfCapacity { needed, remaining }) => {
            assert!(end > m.capacity, "allocation that fits was refused");
            assert_eq!((needed, remaining), (end - m.used, m.capacity - m.used));
            assert_eq!(src.used(), m.used, "a refused allocation changed the arena");
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// Runs allocations from `src` until the next non-allocation op.
fn allocs<'a, S: Source<'a>>(
    src: &S,
    ops: &mut core::iter::Peekable<std::slice::Iter<'_, Op>>,
    m: &mut Model,
    lives: &mut Vec<Live<'a>>,
) {
    while let Some(Op::Alloc { kind, n, align }) = ops.peek() {
        let (n, align) = (*n, *align);
        match kind {
            0 => alloc_checked::<u8, _>(src, n, align, m, lives),
            1 => alloc_checked::<f32, _>(src, n, align, m, lives),
            2 => alloc_checked::<f64, _>(src, n, align, m, lives),
            3 => alloc_checked::<[u32; 5], _>(src, n, align, m, lives),
            _ => alloc_checked::<[u8; 3], _>(src, n, align, m, lives),
        }
        ops.next();
    }
}

/// One scope level: allocations, nested scopes, until `Pop` or the end.
fn level(
    scope: &mut Scope<'_>,
    ops: &mut core::iter::Peekable<std::slice::Iter<'_, Op>>,
    m: &mut Model,
) {
    let mut lives = Vec::new();
    loop {
        allocs(&*scope, ops, m, &mut lives);
        match ops.next() {
            Some(Op::Push) => nested(scope, ops, m),
            Some(Op::Reset) => {}
            Some(Op::Pop) | None => break,
            Some(Op::Alloc { .. }) => unreachable!(),
        }
        verify(&lives);
    }
    verify(&lives);
    m.ranges.truncate(m.ranges.len() - lives.len());
}

fn nested(
    parent: &mut Scope<'_>,
    ops: &mut core::iter::Peekable<std::slice::Iter<'_, Op>>,
    m: &mut Model,
) {
    let checkpoint = m.used;
    level(&mut parent.scope(), ops, m);
    assert_eq!(parent.used(), checkpoint, "scope did not rewind");
    m.used = checkpoint;
}

fn run_program(capacity: usize, ops: &[Op]) {
    let mut arena = Arena::with_capacity(capacity).unwrap();
    assert_eq!(arena.capacity(), capacity.max(1).next_multiple_of(64));
    let mut m = Model {
        capacity: arena.capacity(),
        used: 0,
        base: None,
        ranges: Vec::new(),
        next_fill: 0,
    };
    let mut ops = ops.iter().peekable();
    loop {
        {
            let mut lives = Vec::new();
            allocs(&&arena, &mut ops, &mut m, &mut lives);
            verify(&lives);
            m.ranges.truncate(m.ranges.len() - lives.len());
        }
        match ops.next() {
            Some(Op::Push) => {
                let checkpoint = m.used;
                level(&mut arena.scope(), &mut ops, &mut m);
                assert_eq!(arena.used(), checkpoint);
                m.used = checkpoint;
            }
            Some(Op::Reset) => {
                arena.reset();
                assert!(m.ranges.is_empty());
                m.used = 0; // the next allocation must land at the base again
            }
            Some(Op::Pop) => {}
            None => break,
            Some(Op::Alloc { .. }) => unreachable!(),
        }
    }
    assert!(arena.peak() <= arena.capacity());
}

/// Random programs: allocations never overlap (padding included), are aligned, have their
/// padding tail, land exactly where the layout rules say (so reset and scope exit reuse memory),
/// and fail with `OutOfCapacity` exactly when they do not fit. A `TestRunner` with a fixed seed
/// instead of the `proptest!` macro, so the same property also runs on wasm32.
#[wasm_bindgen_test(unsupported = test)]
fn proptest_random_programs_follow_the_layout_rules() {
    use proptest::prelude::{prop_oneof, Just, Strategy};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases: if cfg!(miri) { 6 } else { 256 },
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let align = prop_oneof![Just(Align::B16), Just(Align::B32), Just(Align::B64)];
    let op = prop_oneof![
        6 => (0u8..5, 0usize..48, align).prop_map(|(kind, n, align)| Op::Alloc { kind, n, align }),
        1 => Just(Op::Push),
        1 => Just(Op::Pop),
        1 => Just(Op::Reset),
    ];
    let program = (0usize..3000, proptest::collection::vec(op, 0..60));
    runner
        .run(&program, |(capacity, ops)| {
            run_program(capacity, &ops);
            Ok(())
        })
        .unwrap();
}
