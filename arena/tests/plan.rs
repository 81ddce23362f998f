//! The offset planner: fixed cases, then a property test that no two tensors alive at the same
//! step share a byte (padding included), replayed in a real arena region.
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_arena::{Align, Arena, Error, Plan, Request, PADDING};

/// Bytes a block occupies: data plus at least 16 bytes of padding, rounded to 16.
fn block(size: usize) -> usize {
    (size + PADDING).next_multiple_of(16)
}

#[wasm_bindgen_test(unsupported = test)]
fn a_chain_reuses_memory_two_buffers_deep() {
    // t0 -> t1 -> ... -> t9, each alive for the step that writes it and the one that reads it.
    let reqs: Vec<Request> = (0..10).map(|i| Request::new(1000, i, i + 1)).collect();
    let plan = Plan::new(&reqs).unwrap();
    assert_eq!(plan.peak_bytes(), 2 * block(1000));
    for i in 0..10 {
        assert_eq!(plan.offset(i), Some((i % 2) * block(1000)), "tensor {i}");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn tensors_alive_together_are_stacked() {
    let reqs = [
        Request::new(10, 0, 5),
        Request::new(300, 0, 5),
        Request::new(20, 0, 5).with_align(Align::B64),
    ];
    let plan = Plan::new(&reqs).unwrap();
    // Largest first: 300 at 0 (its block ends at 320), then 20 at 320 (a multiple of 64), then
    // 10 after it.
    assert_eq!(plan.offsets(), &[368, 0, 320]);
    assert_eq!(plan.range(2), Some(320..340));
    assert_eq!(plan.peak_bytes(), 368 + 32);
    assert_eq!((plan.len(), plan.is_empty()), (3, false));
    assert_eq!(plan.range(3), None);
}

#[wasm_bindgen_test(unsupported = test)]
fn first_fit_uses_gaps_and_dead_memory() {
    let reqs = [
        Request::new(300, 0, 0), // dead after step 0
        Request::new(300, 0, 5),
        Request::new(150, 1, 5), // where the first one was
        Request::new(100, 1, 5), // in the gap between the 150 and the second 300
        Request::new(100, 0, 0), // alive with both 300s: above them
    ];
    let plan = Plan::new(&reqs).unwrap();
    assert_eq!(plan.offsets(), &[0, 320, 0, 176, 640]);
    assert_eq!(plan.peak_bytes(), 768);
    check_plan(&reqs, &plan);
}

#[wasm_bindgen_test(unsupported = test)]
fn tensors_mut_gives_disjoint_slices_or_an_error() {
    let reqs = [
        Request::new(40, 0, 2),
        Request::new(8, 1, 2),
        Request::new(100, 3, 4), // reuses the first tensor's memory
    ];
    let plan = Plan::new(&reqs).unwrap();
    let mut region = vec![0u8; plan.peak_bytes()];
    // Out of order ids come back in the order asked.
    let [b, a] = plan.tensors_mut(&mut region, [1, 0]).unwrap();
    assert_eq!((a.len(), b.len()), (40, 8));
    a.fill(1);
    b.fill(2);
    assert_eq!(&region[plan.range(0).unwrap()], &[1; 40]);
    assert_eq!(&region[plan.range(1).unwrap()], &[2; 8]);
    let [] = plan.tensors_mut(&mut region, []).unwrap();
    let invalid = |r: Result<[&mut [u8]; 2], Error>, what: &str| {
        assert!(
            matches!(r, Err(Error::InvalidArgument { what: w, .. }) if w == what),
            "{what}"
        );
    };
    invalid(plan.tensors_mut(&mut region, [0, 2]), "ids"); // same memory
    invalid(plan.tensors_mut(&mut region, [1, 1]), "ids"); // same id
    invalid(plan.tensors_mut(&mut region, [1, 3]), "ids"); // no such request
    let short = plan.peak_bytes() - 1;
    invalid(plan.tensors_mut(&mut region[..short], [0, 1]), "region");
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_requests_are_typed_errors() {
    assert!(matches!(
        Plan::new(&[Request::new(1, 0, 0), Request::new(1, 3, 2)]),
        Err(Error::InvalidArgument {
            what: "request",
            ..
        })
    ));
    assert_eq!(
        Plan::new(&[Request::new(usize::MAX - 4, 0, 0)]),
        Err(Error::Overflow { what: "plan" })
    );
    // Each fits alone, but not stacked.
    assert!(matches!(
        Plan::new(&[
            Request::new(usize::MAX / 2, 0, 0),
            Request::new(usize::MAX / 2, 0, 0)
        ]),
        Err(Error::Overflow { .. })
    ));
    let empty = Plan::new(&[]).unwrap();
    assert!(empty.is_empty() && empty.peak_bytes() == 0 && empty.offset(0).is_none());
}

/// Every invariant of a plan: alignment, no overlap between tensors alive together (padding
/// included), peak = end of the last block, and peak >= the bytes live at the busiest step.
fn check_plan(reqs: &[Request], plan: &Plan) {
    assert_eq!(plan.len(), reqs.len());
    let mut peak = 0;
    for (i, a) in reqs.iter().enumerate() {
        let off = plan.offset(i).unwrap();
        assert_eq!(off % a.align.bytes(), 0, "tensor {i} misaligned");
        assert_eq!(plan.range(i), Some(off..off + a.size));
        peak = peak.max(off + block(a.size));
        for (j, b) in reqs.iter().enumerate().skip(i + 1) {
            if a.overlaps(b) {
                let ob = plan.offset(j).unwrap();
                assert!(
                    off + block(a.size) <= ob || ob + block(b.size) <= off,
                    "tensors {i} {a:?} at {off} and {j} {b:?} at {ob} overlap"
                );
            }
        }
    }
    assert_eq!(plan.peak_bytes(), peak);
    let steps = reqs.iter().map(|r| r.last + 1).max().unwrap_or(0);
    for t in 0..steps {
        let live: usize = reqs
            .iter()
            .filter(|r| r.first <= t && t <= r.last)
            .map(|r| block(r.size))
            .sum();
        assert!(
            plan.peak_bytes() >= live,
            "peak below the live bytes at step {t}"
        );
    }
}

/// Runs the plan in a real region: each tensor is filled with its own byte when it is created
/// and must still hold it at every later step of its life.
fn replay(reqs: &[Request], plan: &Plan) {
    let arena = Arena::with_capacity(plan.peak_bytes() + 64).unwrap();
    let region: &mut [u8] = arena
        .alloc_slice_aligned(plan.peak_bytes(), Align::B64)
        .unwrap();
    let steps = reqs.iter().map(|r| r.last + 1).max().unwrap_or(0);
    let tag = |i: usize| (i % 251 + 1) as u8;
    for t in 0..steps {
        for (i, r) in reqs.iter().enumerate() {
            let bytes = &mut region[plan.range(i).unwrap()];
            if r.first == t {
                bytes.fill(tag(i));
            } else if r.first < t && t <= r.last {
                assert!(bytes.iter().all(|&b| b == tag(i)), "tensor {i} clobbered");
            }
        }
    }
}

/// Random graphs: sizes, alignments and lifetimes; every plan must satisfy `check_plan` and
/// survive `replay`. A seeded `TestRunner`, so it also runs on wasm32.
#[wasm_bindgen_test(unsupported = test)]
fn proptest_plans_never_overlap_live_tensors() {
    use proptest::prelude::{prop_oneof, Just, Strategy};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases: if cfg!(miri) { 4 } else { 256 },
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let align = prop_oneof![Just(Align::B16), Just(Align::B32), Just(Align::B64)];
    let size = prop_oneof![0usize..64, 0usize..3000];
    let request = (size, align, 0usize..24, 0usize..8).prop_map(|(size, align, first, len)| {
        Request::new(size, first, first + len).with_align(align)
    });
    let max_len = if cfg!(miri) { 12 } else { 48 };
    runner
        .run(&proptest::collection::vec(request, 0..max_len), |reqs| {
            let plan = Plan::new(&reqs).unwrap();
            check_plan(&reqs, &plan);
            replay(&reqs, &plan);
            assert_eq!(Plan::new(&reqs).unwrap(), plan, "not deterministic");
            Ok(())
        })
        .unwrap();
}
