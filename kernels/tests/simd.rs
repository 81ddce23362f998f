//! The lane reductions of `F32x4` (`reduce_max`, `reduce_add`), exact on small integers, for
//! every position of the answer: natively the portable vector, on wasm32 the SIMD128 one
//! (shuffles and `pmax`, or `relaxed_max` in the relaxed-SIMD build).
//! Also the lane shuffles (even/odd lanes, interleaves) the strided kernels build on.
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::simd::F32x4;

/// Every arrangement of `values` into four lanes (with repetition).
fn arrangements(values: &[f32]) -> impl Iterator<Item = [f32; 4]> + '_ {
    let n = values.len();
    (0..n.pow(4)).map(move |i| core::array::from_fn(|l| values[i / n.pow(l as u32) % n]))
}

#[wasm_bindgen_test(unsupported = test)]
fn reduce_max_finds_the_largest_lane_wherever_it_is() {
    let values = [f32::NEG_INFINITY, -3.0, -0.5, 0.0, 2.0, 7.0, f32::INFINITY];
    for lanes in arrangements(&values) {
        let expected = lanes.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(F32x4::from_array(lanes).reduce_max(), expected, "{lanes:?}");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn reduce_add_sums_the_lanes() {
    for lanes in arrangements(&[-4.0, 0.0, 1.0, 3.0, 100.0]) {
        let expected: f32 = lanes.iter().sum();
        assert_eq!(F32x4::from_array(lanes).reduce_add(), expected, "{lanes:?}");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn lane_shuffles_pick_the_documented_lanes() {
    let a = F32x4::from_array([0.0, 1.0, 2.0, 3.0]);
    let b = F32x4::from_array([4.0, 5.0, 6.0, 7.0]);
    assert_eq!(F32x4::even_lanes(a, b).to_array(), [0.0, 2.0, 4.0, 6.0]);
    assert_eq!(F32x4::odd_lanes(a, b).to_array(), [1.0, 3.0, 5.0, 7.0]);
    assert_eq!(F32x4::interleave_low(a, b).to_array(), [0.0, 4.0, 1.0, 5.0]);
    assert_eq!(
        F32x4::interleave_high(a, b).to_array(),
        [2.0, 6.0, 3.0, 7.0]
    );
}
