//! Acceptance tests on real models (../shared/models): MiniLM sentence embeddings and the
//! MobileNetV3 text-direction classifier, against ONNX Runtime's outputs.
mod graph_common;

use graph_common::{max_abs_diff, models_dir, read_npy_f32};
use wasmnn::graph::{Model, Tensor};

#[test]
fn mobilenet_matches_reference() {
    let Some(dir) = models_dir("mobilenet_matches_reference") else {
        return;
    };
    let dir = dir.join("mobilenetv3-textdir");
    let bytes = std::fs::read(dir.join("model.onnx")).unwrap();
    let mut model = Model::from_onnx(&bytes).unwrap();
    let (shape, x) = read_npy_f32(&std::fs::read(dir.join("input.npy")).unwrap());
    let (_, want) = read_npy_f32(&std::fs::read(dir.join("reference_output.npy")).unwrap());
    let x = Tensor::from_f32(&shape, x).unwrap();
    let out = model.run(&[x.view()]).unwrap();
    let got = out[0].as_f32().unwrap();
    println!("{got:?} vs {want:?}");
    assert!(max_abs_diff(got, &want) < 1e-4);
}

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn int_matrix(v: &serde_json::Value) -> (Vec<usize>, Vec<i64>) {
    let rows = v.as_array().unwrap();
    let data: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()))
        .collect();
    (vec![rows.len(), data.len() / rows.len()], data)
}

#[test]
fn minilm_matches_reference() {
    let Some(dir) = models_dir("minilm_matches_reference") else {
        return;
    };
    let dir = dir.join("minilm-l6-v2");
    let bytes = std::fs::read(dir.join("model.onnx")).unwrap();
    let mut model = Model::from_onnx(&bytes).unwrap();
    println!(
        "inputs {:?} outputs {:?}",
        model.input_names(),
        model.output_names()
    );
    let reference = json(&dir.join("reference.json"));
    let (shape, ids) = int_matrix(&reference["input_ids"]);
    let (_, mask) = int_matrix(&reference["attention_mask"]);
    let types = vec![0i64; ids.len()];
    let ids = Tensor::from_i64(&shape, ids).unwrap();
    let mask = Tensor::from_i64(&shape, mask).unwrap();
    let types = Tensor::from_i64(&shape, types).unwrap();
    let out = model
        .run_named(&[
            ("input_ids", ids.view()),
            ("attention_mask", mask.view()),
            ("token_type_ids", types.view()),
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
    println!("max abs diff of embeddings: {err:e}");
    assert!(err < 1e-4);
}
