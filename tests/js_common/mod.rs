//! Helpers shared by the wasm tests of the JavaScript bindings (`js_into`, `js_rows`,
//! `js_bench`): deterministic inputs, bit-exact comparison, and the message of a thrown error.
// Each test binary uses its own subset.
#![allow(dead_code)]

use wasm_bindgen::{JsCast, JsError, JsValue};

/// `n` deterministic values spread over `[-half_width, half_width)`; `seed` picks the sequence.
pub fn input(n: usize, seed: u32, half_width: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let bits = (i as u32).wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503);
            (bits as f32 / u32::MAX as f32 * 2.0 - 1.0) * half_width
        })
        .collect()
}

/// Asserts that `a` and `b` hold the same bits, element by element.
pub fn same(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(x.to_bits() == y.to_bits(), "[{i}] {x} vs {y}");
    }
}

/// The message of a thrown `JsError`.
pub fn message(e: JsError) -> String {
    let e: js_sys::Error = JsValue::from(e).dyn_into().expect("an Error");
    e.message().into()
}
