//! Acceptance tests on real models (`../shared/models`): the MobileNetV3 text-direction
//! classifier and the WordPiece tokenizer run natively and on wasm (data embedded at build time
//! when `build.rs` finds it); MiniLM (90 MB) runs natively only, read from disk.
//!
//! Bounds (from the issue): outputs within 1e-4 (max abs) of ONNX Runtime's.
mod graph_common;

// On wasm without the embedded data every test skips, and these have no user there (natively
// the MiniLM test reads its files from disk).
#[cfg_attr(all(target_arch = "wasm32", not(wasmnn_models)), allow(unused_imports))]
use graph_common::{max_abs_diff, read_npy_f32};
use wasm_bindgen_test::wasm_bindgen_test;
#[cfg(wasmnn_models)]
use wasmnn::graph::tokenizer::WordPiece;
#[cfg_attr(all(target_arch = "wasm32", not(wasmnn_models)), allow(unused_imports))]
use wasmnn::graph::{Model, Tensor};

#[cfg(wasmnn_models)]
mod data {
    macro_rules! model_file {
        ($path:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/models/",
                $path
            ))
        };
    }
    pub const MOBILENET: &[u8] = model_file!("mobilenetv3-textdir/model.onnx");
    pub const MOBILENET_INPUT: &[u8] = model_file!("mobilenetv3-textdir/input.npy");
    pub const MOBILENET_OUTPUT: &[u8] = model_file!("mobilenetv3-textdir/reference_output.npy");
    pub const MOBILENET_JSON: &[u8] = model_file!("mobilenetv3-textdir/reference.json");
    pub const VOCAB: &[u8] = model_file!("minilm-l6-v2/vocab.txt");
    pub const MINILM_JSON: &[u8] = model_file!("minilm-l6-v2/reference.json");
}

#[cfg_attr(wasmnn_models, allow(dead_code))]
fn skip(test: &str) {
    let msg = format!("SKIPPED {test}: ../shared/models was absent at build time");
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::console_log!("{msg}");
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{msg}");
}

// Only the embedded data is JSON bytes; without it (no ../shared/models at build time) these
// helpers have no caller.
#[cfg(wasmnn_models)]
fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[cfg_attr(all(target_arch = "wasm32", not(wasmnn_models)), allow(dead_code))]
fn f32_matrix(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect()
}

#[cfg(wasmnn_models)]
fn int_matrix(v: &serde_json::Value) -> (Vec<usize>, Vec<i64>) {
    let rows = v.as_array().unwrap();
    let data: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()))
        .collect();
    (vec![rows.len(), data.len() / rows.len()], data)
}

#[wasm_bindgen_test(unsupported = test)]
fn mobilenet_matches_reference() {
    #[cfg(not(wasmnn_models))]
    return skip("mobilenet_matches_reference");
    #[cfg(wasmnn_models)]
    {
        let mut model = Model::from_onnx(data::MOBILENET).unwrap();
        let (shape, x) = read_npy_f32(data::MOBILENET_INPUT);
        let (_, want) = read_npy_f32(data::MOBILENET_OUTPUT);
        let x = Tensor::from_f32(&shape, x).unwrap();
        let out = model.run(&[x.view()]).unwrap();
        let got = out[0].as_f32().unwrap();
        assert_eq!(out[0].shape(), &[2, 2]);
        assert!(max_abs_diff(got, &want) < 1e-4, "{got:?} vs {want:?}");

        // The synthetic input sin(0.01 i), and the second run reuses the session.
        let sin: Vec<f32> = (0..x.len())
            .map(|i| (0.01 * i as f64).sin() as f32)
            .collect();
        let sin = Tensor::from_f32(&shape, sin).unwrap();
        let out = model.run(&[sin.view()]).unwrap();
        let want = f32_matrix(&json(data::MOBILENET_JSON)["cls_sin_tensor"]);
        let got = out[0].as_f32().unwrap();
        assert!(max_abs_diff(got, &want) < 1e-4, "{got:?} vs {want:?}");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn mobilenet_unfused_matches_fused() {
    #[cfg(not(wasmnn_models))]
    return skip("mobilenet_unfused_matches_fused");
    #[cfg(wasmnn_models)]
    {
        use wasmnn::graph::Options;
        let (shape, x) = read_npy_f32(data::MOBILENET_INPUT);
        let x = Tensor::from_f32(&shape, x).unwrap();
        let plain = Options {
            fuse: false,
            ..Options::default()
        };
        let mut a = Model::from_onnx(data::MOBILENET)
            .unwrap()
            .with_options(plain);
        let mut b = Model::from_onnx(data::MOBILENET).unwrap();
        let spec = [wasmnn::graph::TensorSpec::new(
            wasmnn::graph::DType::F32,
            &shape,
        )];
        let (ka, kb) = (a.session(&spec).unwrap(), b.session(&spec).unwrap());
        let count = |k: &[&str], name: &str| k.iter().filter(|&&n| n == name).count();
        let (ka, kb) = (ka.op_kinds(), kb.op_kinds());
        // Fusion folds every BatchNormalization and activation after a Conv into the Conv.
        assert_eq!(count(&ka, "BatchNormalization"), 35);
        assert_eq!(count(&kb, "BatchNormalization"), 0);
        assert!(
            kb.len() < ka.len() / 2,
            "{} -> {} steps",
            ka.len(),
            kb.len()
        );
        let ya = a.run(&[x.view()]).unwrap();
        let yb = b.run(&[x.view()]).unwrap();
        let (ya, yb) = (ya[0].as_f32().unwrap(), yb[0].as_f32().unwrap());
        assert!(max_abs_diff(ya, yb) < 1e-5, "{ya:?} vs {yb:?}");
    }
}

/// MobileNetV3 with int8 weights (`Options::quantize_convs`: the pointwise convolutions;
/// depthwise and k x k stay f32; `quantize_weights` alone leaves every Conv f32): the same class as f32 on the reference images (upright and
/// rotated) and on the synthetic `sin` input. Measured: max |diff| of the probabilities 6e-10
/// (image) and 1.7e-3 (sin); asserted < 1e-2.
#[wasm_bindgen_test(unsupported = test)]
fn mobilenet_int8_agrees_with_f32() {
    #[cfg(not(wasmnn_models))]
    return skip("mobilenet_int8_agrees_with_f32");
    #[cfg(wasmnn_models)]
    {
        use wasmnn::graph::{DType, Options, TensorSpec};
        let (shape, x) = read_npy_f32(data::MOBILENET_INPUT);
        let spec = [TensorSpec::new(DType::F32, &shape)];
        let linear_only = Options {
            quantize_weights: true,
            ..Options::default()
        };
        let model = Model::from_onnx(data::MOBILENET).unwrap();
        let kinds = model
            .with_options(linear_only)
            .session(&spec)
            .unwrap()
            .op_kinds();
        assert_eq!(kinds.iter().filter(|&&k| k == "Conv").count(), 53);
        let int8 = Options {
            quantize_convs: true,
            ..Options::default()
        };
        let mut f32_session = Model::from_onnx(data::MOBILENET)
            .unwrap()
            .session(&spec)
            .unwrap();
        let model = Model::from_onnx(data::MOBILENET).unwrap();
        let mut int8_session = model.with_options(int8).session(&spec).unwrap();
        let kinds = int8_session.op_kinds();
        let count = |name: &str| kinds.iter().filter(|&&k| k == name).count();
        assert_eq!((count("ConvInt8"), count("Conv")), (41, 12), "{kinds:?}");
        let top1 = |y: &[f32]| -> Vec<bool> { y.chunks(2).map(|r| r[1] > r[0]).collect() };
        let sin: Vec<f32> = (0..x.len())
            .map(|i| (0.01 * i as f64).sin() as f32)
            .collect();
        for (name, x) in [("image", x), ("sin", sin)] {
            let x = Tensor::from_f32(&shape, x).unwrap();
            let want = f32_session.run(&[x.view()]).unwrap();
            let got = int8_session.run(&[x.view()]).unwrap();
            let (want, got) = (want[0].as_f32().unwrap(), got[0].as_f32().unwrap());
            let diff = max_abs_diff(got, want);
            let msg =
                format!("MobileNetV3 int8 ({name}): max |diff| {diff:e}, {got:?} vs {want:?}");
            #[cfg(target_arch = "wasm32")]
            wasm_bindgen_test::console_log!("{msg}");
            #[cfg(not(target_arch = "wasm32"))]
            println!("{msg}");
            assert_eq!(top1(got), top1(want), "{msg}");
            assert!(diff < 1e-2, "{msg}");
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn tokenizer_matches_reference_ids() {
    #[cfg(not(wasmnn_models))]
    return skip("tokenizer_matches_reference_ids");
    #[cfg(wasmnn_models)]
    {
        let tok = WordPiece::from_vocab(std::str::from_utf8(data::VOCAB).unwrap(), 512).unwrap();
        assert_eq!(tok.vocab_size(), 30522);
        let reference = json(data::MINILM_JSON);
        let sentences: Vec<&str> = reference["sentences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let batch = tok.encode_batch(&sentences).unwrap();
        let (shape, ids) = int_matrix(&reference["input_ids"]);
        let (_, mask) = int_matrix(&reference["attention_mask"]);
        assert_eq!(batch.input_ids.shape(), shape.as_slice());
        assert_eq!(batch.input_ids.as_i64().unwrap(), ids.as_slice());
        assert_eq!(batch.attention_mask.as_i64().unwrap(), mask.as_slice());
        assert!(batch
            .token_type_ids
            .as_i64()
            .unwrap()
            .iter()
            .all(|&t| t == 0));
    }
}

/// MiniLM end to end (natively; the 90 MB model is not embedded in wasm test binaries).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn minilm_matches_reference() {
    // Tokenized with our tokenizer: the ids are checked against the reference above.
    let Some(minilm) = graph_common::minilm("minilm_matches_reference") else {
        return;
    };
    let mut model = Model::from_onnx(&minilm.onnx).unwrap();
    let (dir, tok, batch) = (&minilm.dir, &minilm.tok, &minilm.batch);
    let specs: Vec<_> = [
        &batch.input_ids,
        &batch.attention_mask,
        &batch.token_type_ids,
    ]
    .iter()
    .map(|t| wasmnn::graph::TensorSpec::new(t.dtype(), t.shape()))
    .collect();
    let kinds = model.session(&specs).unwrap().op_kinds();
    let count = |name: &str| kinds.iter().filter(|&&k| k == name).count();
    // 6 layers: Q, K, V, output, FFN in and out projections; one fused attention each.
    assert_eq!((count("Linear"), count("Attention")), (36, 6), "{kinds:?}");
    assert_eq!(
        count("MatMul") + count("Softmax") + count("Erf"),
        0,
        "{kinds:?}"
    );
    let out = model
        .run_named(&[
            ("input_ids", batch.input_ids.view()),
            ("attention_mask", batch.attention_mask.view()),
            ("token_type_ids", batch.token_type_ids.view()),
        ])
        .unwrap();
    let emb = &out
        .iter()
        .find(|(n, _)| n == "sentence_embedding")
        .unwrap()
        .1;
    assert_eq!(emb.shape(), &[3, 384]);
    let got = emb.as_f32().unwrap();
    let (_, want) = read_npy_f32(&std::fs::read(dir.join("reference_embeddings.npy")).unwrap());
    let err = max_abs_diff(got, &want);
    println!("MiniLM: max abs diff of embeddings {err:e}");
    assert!(err < 1e-4);

    // Cosine matrix (embeddings are L2-normalised: cosine = dot / (|a| |b|)).
    let want_cos = f32_matrix(&minilm.reference["cosine"]);
    let row = |i: usize| &got[i * 384..(i + 1) * 384];
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x * y) as f64).sum::<f64>();
    for i in 0..3 {
        for j in 0..3 {
            let c = dot(row(i), row(j)) / (dot(row(i), row(i)) * dot(row(j), row(j))).sqrt();
            assert!(
                (c as f32 - want_cos[i * 3 + j]).abs() < 1e-4,
                "cos[{i}][{j}] = {c}"
            );
        }
    }

    // Sentence 0 alone ([1, 6], no padding): a second session for another shape, sharing the
    // packed weights with the first; same embedding.
    let single = tok.encode_batch(&[minilm.sentences[0].as_str()]).unwrap();
    assert_eq!(single.input_ids.shape(), &[1, 6]);
    let out1 = model
        .run(&[
            single.input_ids.view(),
            single.attention_mask.view(),
            single.token_type_ids.view(),
        ])
        .unwrap();
    let names = model.output_names();
    let e1 = &out1[names
        .iter()
        .position(|&n| n == "sentence_embedding")
        .unwrap()];
    let err = max_abs_diff(e1.as_f32().unwrap(), &want[..384]);
    assert!(err < 1e-4, "unpadded sentence 0: {err:e}");

    // last_hidden_state of sentence 0 (6 real tokens) against the unpadded reference.
    let hidden = &out
        .iter()
        .find(|(n, _)| n == "last_hidden_state")
        .unwrap()
        .1;
    assert_eq!(hidden.shape(), &[3, 14, 384]);
    let (_, want) =
        read_npy_f32(&std::fs::read(dir.join("reference_last_hidden_sentence0.npy")).unwrap());
    let err = max_abs_diff(&hidden.as_f32().unwrap()[..6 * 384], &want);
    println!("MiniLM: max abs diff of last_hidden_state[0, :6] {err:e}");
    assert!(err < 1e-4);
}

/// Structure-aware mutations of the real models (attribute values, shape and axis constants):
/// loading, compiling and running must return errors, never panic (test profile: overflow
/// checks on). A cheap, deterministic companion of the cargo-fuzz target.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn mutated_real_models_never_panic() {
    use std::sync::Arc;
    use wasmnn::graph::{onnx, Attr, DType, Options, TensorSpec};
    let Some(dir) = graph_common::models_dir("mutated_real_models_never_panic") else {
        return;
    };
    let cases = [
        (
            "mobilenetv3-textdir",
            vec![(DType::F32, vec![1usize, 3, 48, 192])],
            150,
        ),
        ("minilm-l6-v2", vec![(DType::I64, vec![1usize, 5]); 3], 40),
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Values that hit edge cases: negative, zero, one, small and out-of-range numbers.
    let pick = |n: u64| -> i64 {
        match n % 6 {
            0 => -1,
            1 => 0,
            2 => 1,
            3 => 2,
            4 => -3,
            _ => (n % 9) as i64 + 3,
        }
    };
    for (name, shapes, iterations) in cases {
        let bytes = std::fs::read(dir.join(name).join("model.onnx")).unwrap();
        let base = onnx::import(&bytes).unwrap();
        let specs: Vec<TensorSpec> = shapes.iter().map(|(d, s)| TensorSpec::new(*d, s)).collect();
        let inputs: Vec<Tensor> = shapes
            .iter()
            .map(|(d, s)| match d {
                DType::F32 => Tensor::from_f32(s, vec![0.5; s.iter().product()]).unwrap(),
                _ => Tensor::from_i64(s, vec![1; s.iter().product()]).unwrap(),
            })
            .collect();
        let views: Vec<_> = inputs.iter().map(Tensor::view).collect();
        for _ in 0..iterations {
            let mut g = base.clone();
            if next() % 2 == 0 {
                let k = (next() as usize) % g.nodes.len();
                let keys: Vec<String> = g.nodes[k].attrs.keys().cloned().collect();
                if keys.is_empty() {
                    continue;
                }
                let r = next();
                let key = &keys[(r as usize) % keys.len()];
                match g.nodes[k].attrs.get_mut(key) {
                    Some(Attr::Int(v)) => *v = pick(r),
                    Some(Attr::Float(f)) => *f = [-1.0, 0.0, f32::NAN, 1e30][(r % 4) as usize],
                    Some(Attr::Ints(v)) if !v.is_empty() => {
                        let i = (r as usize / 7) % v.len();
                        v[i] = pick(r);
                    }
                    _ => {}
                }
            } else {
                let ints: Vec<usize> = (0..g.values.len())
                    .filter(|&i| {
                        g.values[i]
                            .constant
                            .as_ref()
                            .is_some_and(|c| c.dtype() == DType::I64 && !c.is_empty())
                    })
                    .collect();
                let v = ints[(next() as usize) % ints.len()];
                let c = g.values[v].constant.as_ref().unwrap();
                let mut data = c.as_i64().unwrap().to_vec();
                let i = (next() as usize) % data.len();
                data[i] = pick(next());
                g.values[v].constant = Some(Arc::new(Tensor::from_i64(c.shape(), data).unwrap()));
            }
            let limits = Options {
                max_tensor_bytes: 1 << 24,
                max_arena_bytes: 1 << 26,
                fuse: next() % 2 == 0,
                ..Options::default()
            };
            if let Ok(m) = Model::from_graph(g) {
                if let Ok(mut s) = m.with_options(limits).session(&specs) {
                    let _ = s.run(&views);
                }
            }
        }
    }
}
