//! The `LayerNormalization -> MatMul [-> Add(bias)] [-> Add(residual)]` fusion: where it
//! applies (the normalised tensor has no other reader) the graph runs one `LayerNormLinear`
//! step, equal to the unfused graph; where it does not (BERT's post-LN blocks, whose LayerNorm
//! output is also the next residual), nothing changes.
//!
//! Bound: the fused and unfused graphs compute the same LayerNorm and the same GEMM; they may
//! differ by the rounding of the LayerNorm statistics, asserted as `1e-5 * (1 + |y|)`.
mod graph_common;

use graph_common::values;

use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::graph::{
    Attr, DType, Graph, GraphBuilder, Model, Options, Tensor, TensorSpec, TensorType,
};

const K: usize = 16;
const N: usize = 8;

/// `LN(x) W + b + r`; with `share`, the LayerNorm output is also added (post-LN BERT style:
/// `LN(x) W + b + LN(x)`, N = K) so it must stay materialised.
fn graph(share: bool, bias: bool) -> Graph {
    let n = if share { K } else { N };
    let mut b = GraphBuilder::new(17);
    let x = b.input("x", TensorType::fixed(DType::F32, &[2, 5, K]));
    let r = b.input("r", TensorType::fixed(DType::F32, &[2, 5, n]));
    let gamma = b.constant("gamma", Tensor::from_f32(&[K], values(K, 1)).unwrap());
    let beta = b.constant("beta", Tensor::from_f32(&[K], values(K, 2)).unwrap());
    let w = b.constant("w", Tensor::from_f32(&[K, n], values(K * n, 3)).unwrap());
    let c = b.constant("c", Tensor::from_f32(&[n], values(n, 4)).unwrap());
    let eps = ("epsilon", Attr::Float(1e-5));
    let h = b.node("LayerNormalization", &[x, gamma, beta], &[eps]);
    let mut y = b.node("MatMul", &[h, w], &[]);
    if bias {
        y = b.node("Add", &[y, c], &[]);
    }
    let y = b.node("Add", &[y, if share { h } else { r }], &[]);
    b.output(y);
    b.build().unwrap()
}

fn run(g: &Graph, fuse: bool) -> (Vec<&'static str>, Vec<f32>) {
    let n = g.values[g.inputs[1]]
        .ty
        .as_ref()
        .unwrap()
        .dims
        .as_ref()
        .unwrap()[2]
        .clone();
    let n = match n {
        wasmnn::graph::Dim::Known(n) => n,
        _ => unreachable!(),
    };
    let x = Tensor::from_f32(&[2, 5, K], values(10 * K, 5)).unwrap();
    let r = Tensor::from_f32(&[2, 5, n], values(10 * n, 6)).unwrap();
    let options = Options {
        fuse,
        ..Options::default()
    };
    let model = Model::from_graph(g.clone()).unwrap().with_options(options);
    let specs = [x.view(), r.view()].map(|t| TensorSpec::new(t.dtype(), t.shape));
    let mut s = model.session(&specs).unwrap();
    let kinds = s.op_kinds();
    let y = s.run(&[x.view(), r.view()]).unwrap().remove(0);
    (kinds, y.as_f32().unwrap().to_vec())
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "[{i}] {a} vs {b}");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn layer_norm_matmul_add_fuses_into_one_step() {
    for bias in [true, false] {
        let g = graph(false, bias);
        let (kinds, want) = run(&g, false);
        assert!(kinds.contains(&"LayerNormalization"), "{kinds:?}");
        let (kinds, got) = run(&g, true);
        assert_eq!(kinds, ["LayerNormLinear"]);
        assert_close(&got, &want);
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn shared_layer_norm_output_is_not_fused() {
    let g = graph(true, true);
    let (_, want) = run(&g, false);
    let (kinds, got) = run(&g, true);
    assert_eq!(kinds, ["LayerNormalization", "Linear"]);
    assert_close(&got, &want);
}

/// MiniLM is post-LN: every LayerNorm output is read by a residual Add or by the Q, K and V
/// projections, so the fusion must not fire there (the model's reference test checks it still
/// matches ONNX Runtime within 1e-4).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn minilm_has_no_fusable_layer_norm() {
    let Some(dir) = graph_common::models_dir("minilm_has_no_fusable_layer_norm") else {
        return;
    };
    let bytes = std::fs::read(dir.join("minilm-l6-v2/model.onnx")).unwrap();
    let model = Model::from_onnx(&bytes).unwrap();
    let specs = vec![TensorSpec::new(DType::I64, &[1, 7]); 3];
    let kinds = model.session(&specs).unwrap().op_kinds();
    let count = |name: &str| kinds.iter().filter(|&&k| k == name).count();
    assert_eq!(count("LayerNormLinear"), 0);
    assert_eq!(count("LayerNormalization"), 13);
}
