//! The integer vector layer against scalar definitions, on every build (portable, SIMD128,
//! relaxed SIMD): the kernels' exactness rests on these lane semantics.
mod common;

use common::Rng;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::simd::F32x4;
use wasmnn_quant::simd::{I16x8, I32x4, I8x16};

fn bytes(rng: &mut Rng, lo: i64, hi: i64) -> [u8; 16] {
    core::array::from_fn(|_| rng.int(lo, hi) as i8 as u8)
}

fn load16(b: &[u8; 16]) -> I8x16 {
    // SAFETY: 16 readable bytes.
    unsafe { I8x16::load(b.as_ptr()) }
}

#[wasm_bindgen_test(unsupported = test)]
fn relaxed_dot_is_exact_for_7bit_second_operand() {
    let mut rng = Rng::new(11);
    for case in 0..2000 {
        let a = bytes(&mut rng, -128, 127);
        // Extremes first: -128 x 127 everywhere is the largest pair sum pmaddubsw sees.
        let b = if case == 0 {
            [127u8; 16]
        } else {
            bytes(&mut rng, 0, 127)
        };
        let a = if case == 0 { [0x80u8; 16] } else { a };
        let acc0 = [rng.int(-1000, 1000) as i32, 5, -7, i32::MAX];
        let got = I32x4::from_array(acc0)
            .relaxed_dot_add(load16(&a), load16(&b))
            .to_array();
        for l in 0..4 {
            let s: i32 = (0..4)
                .map(|t| a[4 * l + t] as i8 as i32 * b[4 * l + t] as i32)
                .sum();
            assert_eq!(
                got[l],
                acc0[l].wrapping_add(s),
                "case {case} lane {l}: a={a:?} b={b:?}"
            );
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn dot_i16_is_exact_at_the_extremes() {
    let mut rng = Rng::new(12);
    for case in 0..2000 {
        let v = |rng: &mut Rng| -> [i16; 8] {
            core::array::from_fn(|_| {
                if case < 4 {
                    [-255, 255, -255, 255][case]
                } else {
                    rng.int(-255, 255) as i16
                }
            })
        };
        let (a, b) = (v(&mut rng), v(&mut rng));
        // SAFETY: 8 readable i16 each.
        let (va, vb) = unsafe { (I16x8::load(a.as_ptr()), I16x8::load(b.as_ptr())) };
        let got = I32x4::splat(3).dot_add(va, vb).to_array();
        for l in 0..4 {
            let want =
                3 + a[2 * l] as i32 * b[2 * l] as i32 + a[2 * l + 1] as i32 * b[2 * l + 1] as i32;
            assert_eq!(got[l], want);
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn widen_narrow_and_convert() {
    let mut rng = Rng::new(13);
    let b = bytes(&mut rng, -128, 127);
    let v = load16(&b);
    let (lo_s, hi_s) = (v.extend_low_i8().to_array(), v.extend_high_i8().to_array());
    let (lo_u, hi_u) = (v.extend_low_u8().to_array(), v.extend_high_u8().to_array());
    for i in 0..8 {
        assert_eq!(lo_s[i], b[i] as i8 as i16);
        assert_eq!(hi_s[i], b[i + 8] as i8 as i16);
        assert_eq!(lo_u[i], b[i] as i16);
        assert_eq!(hi_u[i], b[i + 8] as i16);
    }
    // SAFETY: 8 readable bytes.
    let e = unsafe { I16x8::load_extend_i8(b.as_ptr().cast::<i8>()) }.to_array();
    assert_eq!(e, lo_s);
    // SAFETY: 8 readable bytes.
    let e = unsafe { I16x8::load_extend_u8(b.as_ptr()) }.to_array();
    assert_eq!(e, lo_u);
    let wide = [70000, -70000, 300, -300];
    let n = I16x8::narrow_i32(I32x4::from_array(wide), I32x4::splat(-1)).to_array();
    assert_eq!(n, [32767, -32768, 300, -300, -1, -1, -1, -1]);
    let h = I16x8::narrow_i32(I32x4::from_array([300, -300, 128, -129]), I32x4::splat(255));
    assert_eq!(
        I8x16::narrow_u8(h, h).to_array()[..8],
        [255, 0, 128, 0, 255, 255, 255, 255]
    );
    let s = I8x16::narrow_i8(h, h).to_array();
    assert_eq!(s[..4], [127, 0x80, 127, 0x80]);
    let f = I32x4::from_array([1 << 24 | 1, -3, 0, i32::MIN])
        .to_f32()
        .to_array();
    assert_eq!(f, [16777216.0, -3.0, 0.0, -2147483648.0]);
    let back = I32x4::from_f32_sat(F32x4::from_array([2.9, -2.9, f32::NAN, 3e9])).to_array();
    assert_eq!(back, [2, -2, 0, i32::MAX]);
    let t = load16(&[
        0, 1, 127, 128, 200, 255, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x80,
    ])
    .top_bit();
    assert_eq!(t.to_array()[..6], [0, 0, 0, 1, 1, 1]);
    let hs = I32x4::hsum4(
        I32x4::from_array([1, 2, 3, 4]),
        I32x4::splat(1),
        I32x4::splat(-1),
        I32x4::from_array([i32::MAX, 1, 0, 0]),
    );
    assert_eq!(hs.to_array(), [10, 4, -4, i32::MIN]);
    let ps = I32x4::pair_sums(
        I32x4::from_array([1, 2, 3, 4]),
        I32x4::from_array([5, 6, 7, 8]),
    );
    assert_eq!(ps.to_array(), [3, 7, 11, 15]);
}

/// The wasm build really runs the SIMD code (plain RUSTFLAGS would silently drop simd128), and
/// the relaxed build the relaxed instructions.
#[wasm_bindgen_test(unsupported = test)]
fn build_uses_expected_isa() {
    let isa = wasmnn_kernels::isa();
    if cfg!(target_arch = "wasm32") {
        assert_ne!(isa, "portable", "wasm32 build without simd128");
    }
    if let Some(expected) = option_env!("WASMNN_EXPECT_ISA") {
        assert_eq!(isa, expected);
    }
}
