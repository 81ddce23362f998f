//! The threaded wasm build on real Web Workers, in headless Chromium (`cargo xtask test --only
//! threads-chromium`):
//!
//! ```text
//! WASM_BINDGEN_USE_BROWSER=1 cargo +nightly-2026-05-20 test --target wasm32-unknown-unknown \
//!     -p wasmnn --features js,threads --config .cargo/threads.toml --test threads
//! ```
//!
//! One test starts a pool of 2 workers (rayon's pool is global and fixed once started), then
//! checks that GEMM, `Linear`, every conv method and the int8 GEMM split for 1, 2 and 4 threads
//! give the bits of the single-threaded kernels. Node cannot run threaded wasm-bindgen tests (no Worker API).
#![cfg(all(feature = "threads", feature = "js", target_arch = "wasm32"))]

use std::collections::HashSet;
use std::sync::Mutex;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::kernels::conv::{Conv2d, Conv2dParams, ConvEpilogue, TensorLayout};
use wasmnn::{js, parallel, Activation, EpilogueOp, Linear, MatMut, MatRef, PackedB};

/// Deterministic floats in [-1, 1) (xorshift).
fn floats(seed: &mut u64, len: usize) -> Vec<f32> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[wasm_bindgen_test]
async fn two_workers_give_identical_bits() -> Result<(), JsValue> {
    // Before the pool: the build and the page are fit for threads, bad requests say why.
    assert!(js::threads_supported());
    assert_eq!(
        js::cross_origin_isolated(),
        Some(true),
        "test server sends COOP/COEP"
    );
    assert!(js::start_threads(0).is_err());

    let started: js_sys::Promise = js::start_threads(2)
        .map_err(JsValue::from)?
        .unchecked_into();
    JsFuture::from(started).await?;
    assert_eq!(js::num_threads(), 2);
    assert_eq!(parallel::threads(), 2);
    let again = js::start_threads(2).map_err(JsValue::from).unwrap_err();
    let again = again.dyn_into::<js_sys::Error>()?.message();
    assert!(
        String::from(again).contains("already fixed"),
        "second start"
    );

    // Tasks really run on two threads: the calling one (no pool index) and a pool worker.
    let seen = Mutex::new(HashSet::new());
    let b = PackedB::from_row_major(&[0.5; 64 * 64], 64, 64).unwrap();
    parallel::parallel_for(256, &|_| {
        let mut c = [0.0; 64 * 64];
        let a = [1.0; 64 * 64];
        let (a, c) = (
            MatRef::row_major(&a, 64, 64).unwrap(),
            MatMut::row_major(&mut c, 64, 64).unwrap(),
        );
        wasmnn::gemm_packed(1.0, a, &b, 0.0, c, &[]).unwrap();
        seen.lock().unwrap().insert(rayon::current_thread_index());
    });
    let seen = seen.into_inner().unwrap();
    assert!(
        seen.len() == 2 && seen.contains(&None),
        "threads used: {seen:?}"
    );

    // A cap of 1 on the started pool: the caller runs every task; lifted, both workers again.
    assert!(js::set_thread_limit(Some(0)).is_err());
    js::set_thread_limit(Some(1)).map_err(JsValue::from)?;
    assert_eq!(js::num_threads(), 1);
    let seen = Mutex::new(HashSet::new());
    parallel::parallel_for(64, &|_| {
        seen.lock().unwrap().insert(rayon::current_thread_index());
    });
    assert_eq!(
        seen.into_inner().unwrap(),
        HashSet::from([None]),
        "capped at 1"
    );
    js::set_thread_limit(None).map_err(JsValue::from)?;
    assert_eq!(js::num_threads(), 2);

    // GEMM and Linear: kernel tilings for 1, 2, 4 threads, and the facade (2 threads).
    let mut seed = 5;
    let (m, k, n) = (150, 260, 200);
    let a = floats(&mut seed, m * k);
    let w = floats(&mut seed, k * n);
    let bias = floats(&mut seed, n);
    let packed = PackedB::from_row_major(&w, k, n).unwrap();
    let ops = [
        EpilogueOp::AddColBias(&bias),
        EpilogueOp::Activation(Activation::GeluTanh),
    ];
    let a_view = MatRef::row_major(&a, m, k).unwrap();
    let mut want = vec![0.0; m * n];
    let c = MatMut::row_major(&mut want, m, n).unwrap();
    wasmnn::gemm_packed(1.0, a_view, &packed, 0.0, c, &ops).unwrap();
    for threads in [1, 2, 4] {
        let mut got = vec![f32::NAN; m * n];
        let c = MatMut::row_major(&mut got, m, n).unwrap();
        wasmnn::kernels::gemm_packed_par(
            1.0,
            a_view,
            &packed,
            0.0,
            c,
            &ops,
            threads,
            &parallel::parallel_for,
        )
        .unwrap();
        assert!(same_bits(&got, &want), "GEMM tiled for {threads} threads");
    }
    let linear = Linear::new(&w, k, n, Some(&bias), Activation::GeluTanh).unwrap();
    let mut got = vec![f32::NAN; m * n];
    linear.forward(&a, m, &mut got).unwrap();
    assert!(same_bits(&got, &want), "Linear on the pool");

    // Conv: im2col GEMM blocks (NCHW), 1x1 tiles (NHWC), depthwise rows (both layouts).
    let cases = [
        (TensorLayout::Nchw, 32, 40, 48, 3, 1),
        (TensorLayout::Nhwc, 64, 28, 96, 1, 1),
        (TensorLayout::Nchw, 64, 48, 64, 3, 64),
        (TensorLayout::Nhwc, 64, 48, 64, 3, 64),
    ];
    for (layout, c, h, o, kk, groups) in cases {
        let pad = kk / 2;
        let p = Conv2dParams::new(kk, kk)
            .padding(pad, pad, pad, pad)
            .groups(groups);
        let conv = Conv2d::new(&floats(&mut seed, o * c / groups * kk * kk), o, c, p).unwrap();
        let x = floats(&mut seed, c * h * h);
        let bias = floats(&mut seed, o);
        let epi = ConvEpilogue {
            bias: Some(&bias),
            activation: Activation::Relu,
            residual: None,
        };
        let mut want = vec![0.0; o * h * h];
        conv.run(&x, layout, 1, h, h, &mut want, &epi).unwrap();
        for threads in [1, 2, 4] {
            let mut got = vec![f32::NAN; o * h * h];
            let par = &parallel::parallel_for;
            conv.run_par(&x, layout, 1, h, h, &mut got, &epi, threads, par)
                .unwrap();
            assert!(
                same_bits(&got, &want),
                "conv {layout:?} c{c} g{groups}, {threads} threads"
            );
        }
        let mut got = vec![f32::NAN; o * h * h];
        parallel::conv2d(&conv, &x, layout, 1, h, h, &mut got, &epi).unwrap();
        assert!(same_bits(&got, &want), "parallel::conv2d {layout:?}");
    }

    // int8 GEMM: row blocks for 1, 2, 4 threads and the facade, exact i32 products.
    use wasmnn::quant::{PackedQB, QMatMut, QMatRef, QOutput, QuantParams};
    let (m, k, n) = (130, 512, 96);
    let w: Vec<i8> = floats(&mut seed, k * n)
        .iter()
        .map(|v| (v * 127.0) as i8)
        .collect();
    let b = PackedQB::from_row_major(&w, k, n, QuantParams::IDENTITY).unwrap();
    let a: Vec<u8> = floats(&mut seed, m * k)
        .iter()
        .map(|v| (v * 127.0 + 128.0) as u8)
        .collect();
    let a = QMatRef::row_major(&a, m, k).unwrap();
    let p = QuantParams::PerTensor {
        scale: 1.0,
        zero_point: 128,
    };
    let mut want = vec![0i32; m * n];
    let out = QOutput::I32(QMatMut::row_major(&mut want, m, n).unwrap());
    wasmnn::quant::qgemm(a, p, &b, out).unwrap();
    for threads in [1, 2, 4] {
        let mut got = vec![i32::MIN; m * n];
        let out = QOutput::I32(QMatMut::row_major(&mut got, m, n).unwrap());
        wasmnn::quant::qgemm_par(a, p, &b, out, threads, &parallel::parallel_for).unwrap();
        assert_eq!(got, want, "int8 GEMM, {threads} threads");
    }
    let mut got = vec![i32::MIN; m * n];
    let out = QOutput::I32(QMatMut::row_major(&mut got, m, n).unwrap());
    parallel::qgemm(a, p, &b, out).unwrap();
    assert_eq!(got, want, "parallel::qgemm");

    // Attention: heads split over the workers, from outside and from inside the pool.
    use wasmnn::kernels::attention::{
        attention, AttentionMask, AttentionOptions, AttentionScratch, AttentionShape,
    };
    let s = AttentionShape {
        heads: 12,
        seq_q: 70,
        seq_k: 70,
        head_dim: 32,
        value_dim: 32,
    };
    let (q, k, v) = (
        floats(&mut seed, 12 * 70 * 32),
        floats(&mut seed, 12 * 70 * 32),
        floats(&mut seed, 12 * 70 * 32),
    );
    let mask = floats(&mut seed, 70);
    let opts = AttentionOptions {
        scale: 0.2,
        mask: Some(AttentionMask {
            data: &mask,
            head_stride: 0,
            row_stride: 0,
        }),
        causal: false,
    };
    let mut want = vec![0.0; q.len()];
    attention(
        &q,
        &k,
        &v,
        &mut want,
        s,
        &opts,
        &mut AttentionScratch::default(),
    )
    .unwrap();
    let mut scratch = parallel::AttentionScratches::default();
    let mut got = vec![f32::NAN; q.len()];
    parallel::attention(&q, &k, &v, &mut got, s, &opts, &mut scratch).unwrap();
    assert!(same_bits(&got, &want), "parallel::attention");
    let mut got = vec![f32::NAN; q.len()];
    parallel::install(|| parallel::attention(&q, &k, &v, &mut got, s, &opts, &mut scratch))
        .unwrap();
    assert!(same_bits(&got, &want), "parallel::attention in the pool");
    Ok(())
}
