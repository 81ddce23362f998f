//! Consecutive transposes fold: `Transpose(Transpose(x, p), q)` runs as one transpose, or as
//! none when the two cancel. Checked by the steps the session runs and by the values, exactly
//! (a transpose is a copy), against a hand-written index map and against the unfused graph.
mod graph_common;

use graph_common::values;

use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::graph::{Attr, DType, Graph, GraphBuilder, Model, Options, Tensor, TensorType};

/// `x -> Transpose(p) -> Transpose(q) -> Neg`; with `share`, the first transpose's output is
/// also a graph output (so it must stay). `None` perms are ONNX's default (reversed axes).
fn graph(shape: &[usize], p: Option<&[i64]>, q: Option<&[i64]>, share: bool) -> Graph {
    let mut b = GraphBuilder::new(17);
    let x = b.input("x", TensorType::fixed(DType::F32, shape));
    let attrs = |perm: Option<&[i64]>| perm.map(|p| ("perm", Attr::Ints(p.to_vec())));
    let t1 = b.node("Transpose", &[x], attrs(p).as_slice());
    let t2 = b.node("Transpose", &[t1], attrs(q).as_slice());
    let y = b.node("Neg", &[t2], &[]);
    b.output(y);
    if share {
        b.output(t1);
    }
    b.build().unwrap()
}

/// The session's step kinds and its outputs.
fn run(g: &Graph, shape: &[usize], fuse: bool) -> (Vec<&'static str>, Vec<Tensor>) {
    let x = Tensor::from_f32(shape, values(shape.iter().product(), 7)).unwrap();
    let options = Options {
        fuse,
        ..Options::default()
    };
    let mut model = Model::from_graph(g.clone()).unwrap().with_options(options);
    let kinds = model
        .session(&[wasmnn::graph::TensorSpec::new(DType::F32, shape)])
        .unwrap()
        .op_kinds();
    let out = model.run(&[x.view()]).unwrap();
    (kinds, out)
}

fn count(kinds: &[&str], kind: &str) -> usize {
    kinds.iter().filter(|&&k| k == kind).count()
}

#[wasm_bindgen_test(unsupported = test)]
fn inverse_transposes_cancel() {
    let shape = [2, 3, 4, 5];
    for (p, q) in [
        (Some(&[0i64, 2, 1, 3][..]), Some(&[0i64, 2, 1, 3][..])),
        (Some(&[1, 2, 3, 0][..]), Some(&[3, 0, 1, 2][..])),
        (None, None),
    ] {
        let g = graph(&shape, p, q, false);
        let (kinds, out) = run(&g, &shape, true);
        assert_eq!(count(&kinds, "Transpose"), 0, "{p:?} then {q:?}: {kinds:?}");
        let x = values(shape.iter().product(), 7);
        let want: Vec<f32> = x.iter().map(|v| -v).collect();
        assert_eq!(out[0].shape(), &shape);
        assert_eq!(out[0].as_f32().unwrap(), want.as_slice());
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn two_transposes_become_one() {
    // y[a][b][c] = x[b][a][c] (shape 3x2x4), z[a][b][c] = y[a][c][b]: z[a][b][c] = x[c][a][b].
    let shape = [2, 3, 4];
    let g = graph(&shape, Some(&[1, 0, 2]), Some(&[0, 2, 1]), false);
    let (kinds, out) = run(&g, &shape, true);
    assert_eq!(count(&kinds, "Transpose"), 1, "{kinds:?}");
    let x = values(24, 7);
    let mut want = Vec::new();
    for a in 0..3 {
        for b in 0..4 {
            for c in 0..2 {
                want.push(-x[(c * 3 + a) * 4 + b]);
            }
        }
    }
    assert_eq!(out[0].shape(), &[3, 4, 2]);
    assert_eq!(out[0].as_f32().unwrap(), want.as_slice());
    let (unfused_kinds, unfused) = run(&g, &shape, false);
    assert_eq!(count(&unfused_kinds, "Transpose"), 2);
    assert_eq!(out[0].as_f32(), unfused[0].as_f32());
}

#[wasm_bindgen_test(unsupported = test)]
fn shared_inner_transpose_stays() {
    // The first transpose is also a graph output: it still runs, the second reads x directly.
    let shape = [2, 3, 4];
    let g = graph(&shape, Some(&[1, 0, 2]), Some(&[1, 0, 2]), true);
    let (kinds, out) = run(&g, &shape, true);
    assert_eq!(count(&kinds, "Transpose"), 1, "{kinds:?}");
    let (_, unfused) = run(&g, &shape, false);
    assert_eq!(out.len(), 2);
    for (a, b) in out.iter().zip(&unfused) {
        assert_eq!(a.shape(), b.shape());
        assert_eq!(a.as_f32(), b.as_f32());
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn cancelled_transpose_as_graph_output() {
    // The second transpose is the output itself: it becomes an Identity step.
    let shape = [3, 5];
    let mut b = GraphBuilder::new(17);
    let x = b.input("x", TensorType::fixed(DType::F32, &shape));
    let t1 = b.node("Transpose", &[x], &[]);
    let t2 = b.node("Transpose", &[t1], &[]);
    b.output(t2);
    let g = b.build().unwrap();
    let (kinds, out) = run(&g, &shape, true);
    assert_eq!(count(&kinds, "Transpose"), 0, "{kinds:?}");
    assert_eq!(out[0].shape(), &shape);
    assert_eq!(out[0].as_f32().unwrap(), values(15, 7).as_slice());
}
