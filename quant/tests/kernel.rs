//! Each microkernel alone against a scalar i32 reference on its packed layout (the contract of
//! `kernel.rs`): K blocks 0..=6, extreme values, both relaxed variants.
mod common;

use common::Rng;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_quant::kernel::{
    gemv_2panels, relaxed_dot_is_native, tile_2x4, tile_2x4_relaxed, KB, MR, NR,
};

/// Random values in `lo..=hi`, with the extremes first.
fn values(rng: &mut Rng, len: usize, lo: i64, hi: i64) -> Vec<i64> {
    (0..len)
        .map(|i| match i % 7 {
            0 => lo,
            1 => hi,
            _ => rng.int(lo, hi),
        })
        .collect()
}

#[wasm_bindgen_test(unsupported = test)]
fn baseline_tile_and_gemv() {
    let mut rng = Rng::new(51);
    for kb in 0..=6 {
        // Packed A: per block 2 rows x 8; widened B: per block 4 columns x 8; values in -255..=255.
        let a: Vec<i16> = values(&mut rng, kb * MR * KB, -255, 255)
            .iter()
            .map(|&v| v as i16)
            .collect();
        let b: Vec<i16> = values(&mut rng, kb * NR * KB, -255, 255)
            .iter()
            .map(|&v| v as i16)
            .collect();
        // SAFETY: the slices hold exactly kb blocks.
        let tile = unsafe { tile_2x4(kb, a.as_ptr(), b.as_ptr()) };
        for r in 0..MR {
            for c in 0..NR {
                let want: i32 = (0..kb * KB)
                    .map(|p| {
                        let (q, x) = (p / KB, p % KB);
                        a[(q * MR + r) * KB + x] as i32 * b[(q * NR + c) * KB + x] as i32
                    })
                    .sum();
                assert_eq!(tile[r].to_array()[c], want, "kb={kb} ({r},{c})");
            }
        }
        // GEMV: one row of A (8 i16 per block), two raw byte panels.
        let x: Vec<i16> = values(&mut rng, kb * KB, -255, 255)
            .iter()
            .map(|&v| v as i16)
            .collect();
        for signed in [true, false] {
            let (lo, hi) = if signed { (-128, 127) } else { (0, 255) };
            let p0: Vec<u8> = values(&mut rng, kb * NR * KB, lo, hi)
                .iter()
                .map(|&v| v as u8)
                .collect();
            let p1: Vec<u8> = values(&mut rng, kb * NR * KB, lo, hi)
                .iter()
                .map(|&v| v as u8)
                .collect();
            // SAFETY: kb blocks in every operand.
            let acc = unsafe {
                if signed {
                    gemv_2panels::<true>(kb, x.as_ptr(), [p0.as_ptr(), p1.as_ptr()])
                } else {
                    gemv_2panels::<false>(kb, x.as_ptr(), [p0.as_ptr(), p1.as_ptr()])
                }
            };
            for (q, panel) in [&p0, &p1].into_iter().enumerate() {
                for c in 0..NR {
                    let want: i32 = (0..kb * KB)
                        .map(|p| {
                            let byte = panel[(p / KB * NR + c) * KB + p % KB];
                            let w = if signed {
                                byte as i8 as i32
                            } else {
                                byte as i32
                            };
                            x[p] as i32 * w
                        })
                        .sum();
                    assert_eq!(
                        acc[q].to_array()[c],
                        want,
                        "kb={kb} signed={signed} panel {q}"
                    );
                }
            }
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn relaxed_tile_both_variants() {
    let mut rng = Rng::new(52);
    // The accumulating relaxed instruction is tested where the driver uses it (VNNI, sdot, and
    // the exact emulation of builds without relaxed SIMD): elsewhere the driver always uses the
    // i16 form, and V8 11.3's Liftoff (Node 20) miscompiles the accumulating one (see
    // `I32x4::relaxed_dot_add_via_i16`).
    let direct = !cfg!(target_feature = "relaxed-simd") || relaxed_dot_is_native();
    for kb in 0..=6 {
        // u8 activations per row, split into planes: per block [r0 lo|r0 hi|r1 lo|r1 hi] x 8.
        let a: Vec<i64> = values(&mut rng, kb * MR * KB, 0, 255);
        let mut planes = vec![0u8; kb * 32];
        for q in 0..kb {
            for r in 0..MR {
                for x in 0..KB {
                    let v = a[(q * MR + r) * KB + x] as u8;
                    planes[q * 32 + r * 16 + x] = v & 0x7f;
                    planes[q * 32 + r * 16 + 8 + x] = v >> 7;
                }
            }
        }
        let b: Vec<u8> = values(&mut rng, kb * NR * KB, 0, 255)
            .iter()
            .map(|&v| v as u8)
            .collect();
        for flip in [false, true] {
            for via in [true, false] {
                if !via && !direct {
                    continue;
                }
                // SAFETY: kb blocks of 32 bytes in each operand.
                let tile = unsafe {
                    match (flip, via) {
                        (false, false) => {
                            tile_2x4_relaxed::<false, false>(kb, planes.as_ptr(), b.as_ptr())
                        }
                        (false, true) => {
                            tile_2x4_relaxed::<false, true>(kb, planes.as_ptr(), b.as_ptr())
                        }
                        (true, false) => {
                            tile_2x4_relaxed::<true, false>(kb, planes.as_ptr(), b.as_ptr())
                        }
                        (true, true) => {
                            tile_2x4_relaxed::<true, true>(kb, planes.as_ptr(), b.as_ptr())
                        }
                    }
                };
                for r in 0..MR {
                    for c in 0..NR {
                        let want: i32 = (0..kb * KB)
                            .map(|p| {
                                let (q, x) = (p / KB, p % KB);
                                let byte = b[(q * NR + c) * KB + x];
                                // B in signed form: i8, or u8 - 128 when flipped.
                                let w = if flip {
                                    byte as i32 - 128
                                } else {
                                    byte as i8 as i32
                                };
                                a[(q * MR + r) * KB + x] as i32 * w
                            })
                            .sum();
                        assert_eq!(
                            tile[r].to_array()[c],
                            want,
                            "kb={kb} flip={flip} via={via} ({r},{c})"
                        );
                    }
                }
            }
        }
    }
}
