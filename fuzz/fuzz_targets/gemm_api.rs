//! Fuzzes the safe GEMM entry points with arbitrary shapes, strides, buffer lengths and epilogue
//! parameters: every call must either succeed with a correct result or return an `Error`; never
//! panic, never touch memory outside the slices (run under ASan by cargo-fuzz).
//!
//! `cargo +nightly fuzz run gemm_api` (from `fuzz/`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use wasmnn::{gemm, gemm_packed_with, Activation, Blocking, EpilogueOp, MatMut, MatRef, PackedB};

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let d = |i: usize| data[i] as usize;
    let (m, k, n) = (d(0) % 40, d(1) % 40, d(2) % 40);
    let (ars, acs, brs, bcs, crs, ccs) = (
        d(3) % 50,
        d(4) % 50,
        d(5) % 50,
        d(6) % 50,
        d(7) % 50,
        d(8) % 50,
    );
    let (alen, blen, clen) = (d(9) * 7, d(10) * 7, d(11) * 7);
    let a: Vec<f32> = (0..alen).map(|i| (i % 5) as f32 - 2.0).collect();
    let b: Vec<f32> = (0..blen).map(|i| (i % 3) as f32 - 1.0).collect();
    let mut c = vec![f32::NAN; clen];
    let bias = vec![1.0f32; d(12) % 45];
    let act = match d(13) % 4 {
        0 => Activation::Relu,
        1 => Activation::GeluErf,
        2 => Activation::Clamp {
            min: data[14] as f32 - 128.0,
            max: data[15] as f32 - 100.0,
        },
        _ => Activation::Silu,
    };
    let (Ok(av), Ok(bv)) = (
        MatRef::new(&a, m, k, ars, acs),
        MatRef::new(&b, k, n, brs, bcs),
    ) else {
        return;
    };
    let Ok(cv) = MatMut::new(&mut c, m, n, crs, ccs) else {
        return;
    };
    if d(13) % 2 == 0 {
        let _ = gemm(1.0, av, bv, 0.0, cv);
    } else if let Ok(pb) = PackedB::with_kc(bv, 1 + d(14) % 9) {
        let ops = [EpilogueOp::AddColBias(&bias), EpilogueOp::Activation(act)];
        let blk = Blocking {
            mc: d(15) % 13,
            nc: 1 + d(3) % 20,
        };
        let _ = gemm_packed_with(2.0, av, &pb, 0.0, cv, &ops, blk);
    }
});
