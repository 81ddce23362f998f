//! Attention against an f64 reference: random shapes around the query block, masks, causal.
mod common;

use common::Rng;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn_kernels::attention::{
    attention, AttentionMask, AttentionOptions, AttentionScratch, AttentionShape,
};
use wasmnn_kernels::Error;

#[allow(clippy::too_many_arguments)]
fn reference(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: AttentionShape,
    scale: f64,
    mask: Option<(&[f32], usize, usize)>,
    causal: bool,
) -> Vec<f64> {
    let mut out = vec![0.0; s.heads * s.seq_q * s.value_dim];
    for h in 0..s.heads {
        for i in 0..s.seq_q {
            let mut sc = vec![f64::NEG_INFINITY; s.seq_k];
            for (j, x) in sc.iter_mut().enumerate() {
                if causal && j + s.seq_q > i + s.seq_k {
                    continue;
                }
                let mut d = 0.0;
                for t in 0..s.head_dim {
                    d += q[(h * s.seq_q + i) * s.head_dim + t] as f64
                        * k[(h * s.seq_k + j) * s.head_dim + t] as f64;
                }
                *x = d * scale + mask.map_or(0.0, |(m, hs, rs)| m[h * hs + i * rs + j] as f64);
            }
            let mx = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            if mx == f64::NEG_INFINITY {
                continue; // fully masked: zeros
            }
            let e: Vec<f64> = sc.iter().map(|x| (x - mx).exp()).collect();
            let sum: f64 = e.iter().sum();
            for c in 0..s.value_dim {
                let mut acc = 0.0;
                for j in 0..s.seq_k {
                    acc += e[j] / sum * v[(h * s.seq_k + j) * s.value_dim + c] as f64;
                }
                out[(h * s.seq_q + i) * s.value_dim + c] = acc;
            }
        }
    }
    out
}

#[wasm_bindgen_test(unsupported = test)]
fn attention_matches_f64() {
    let mut rng = Rng::new(21);
    let mut scratch = AttentionScratch::default();
    for case in 0..60 {
        let s = AttentionShape {
            heads: 1 + case % 3,
            seq_q: [1, 5, 63, 64, 65, 130][case % 6],
            seq_k: [1, 7, 33, 64, 70][case % 5],
            head_dim: [1, 8, 32, 33][case % 4],
            value_dim: [1, 9, 32][case % 3],
        };
        let gen = |n: usize, rng: &mut Rng| (0..n).map(|_| rng.unit()).collect::<Vec<f32>>();
        let q = gen(s.heads * s.seq_q * s.head_dim, &mut rng);
        let k = gen(s.heads * s.seq_k * s.head_dim, &mut rng);
        let v = gen(s.heads * s.seq_k * s.value_dim, &mut rng);
        let causal = case % 2 == 1;
        // Mask kinds: none, key padding (row stride 0, -inf on some keys), full per-head mask.
        let (mdata, hs, rs): (Vec<f32>, usize, usize) = match case % 3 {
            0 => (vec![], 0, 0),
            1 => (
                (0..s.seq_k)
                    .map(|j| if j % 4 == 3 { f32::NEG_INFINITY } else { 0.0 })
                    .collect(),
                0,
                0,
            ),
            _ => (
                gen(s.heads * s.seq_q * s.seq_k, &mut rng),
                s.seq_q * s.seq_k,
                s.seq_k,
            ),
        };
        let mask = (case % 3 != 0).then_some((&mdata[..], hs, rs));
        let scale = 1.0 / (s.head_dim as f32).sqrt();
        let want = reference(&q, &k, &v, s, scale as f64, mask, causal);
        let mut out = vec![f32::NAN; want.len()];
        let opts = AttentionOptions {
            scale,
            mask: mask.map(|(data, head_stride, row_stride)| AttentionMask {
                data,
                head_stride,
                row_stride,
            }),
            causal,
        };
        attention(&q, &k, &v, &mut out, s, &opts, &mut scratch).unwrap();
        for (i, (&g, &w)) in out.iter().zip(&want).enumerate() {
            // Softmax weights sum to 1 and |v| <= 1: absolute bound.
            assert!(
                (g as f64 - w).abs() <= 2e-6 * (s.head_dim as f64).sqrt() + 1e-6,
                "case {case} {s:?} causal={causal}: out[{i}] = {g}, want {w}"
            );
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn fully_masked_rows_are_zero_and_errors_are_typed() {
    let s = AttentionShape {
        heads: 1,
        seq_q: 2,
        seq_k: 3,
        head_dim: 2,
        value_dim: 2,
    };
    let (q, k, v) = ([1.0f32; 4], [1.0f32; 6], [5.0f32; 6]);
    let mask = [f32::NEG_INFINITY; 3];
    let opts = AttentionOptions {
        scale: 1.0,
        mask: Some(AttentionMask {
            data: &mask,
            head_stride: 0,
            row_stride: 0,
        }),
        causal: false,
    };
    let mut out = [9.0f32; 4];
    let mut scr = AttentionScratch::default();
    attention(&q, &k, &v, &mut out, s, &opts, &mut scr).unwrap();
    assert_eq!(out, [0.0; 4]);
    let mut out = [9.0f32; 4];
    let none = AttentionOptions {
        scale: 1.0,
        mask: None,
        causal: false,
    };
    assert!(matches!(
        attention(&q[..3], &k, &v, &mut out, s, &none, &mut scr),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        attention(&q, &k, &v, &mut out[..3], s, &none, &mut scr),
        Err(Error::ShapeMismatch { .. })
    ));
    let short = AttentionOptions {
        mask: Some(AttentionMask {
            data: &mask[..2],
            head_stride: 0,
            row_stride: 0,
        }),
        ..none
    };
    assert!(matches!(
        attention(&q, &k, &v, &mut out, s, &short, &mut scr),
        Err(Error::BufferTooSmall { what: "mask", .. })
    ));
    let nan_scale = AttentionOptions {
        scale: f32::NAN,
        ..none
    };
    assert!(matches!(
        attention(&q, &k, &v, &mut out, s, &nan_scale, &mut scr),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(out, [9.0; 4], "a refused call wrote its output");
}
