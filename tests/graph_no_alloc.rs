//! After the first run, `Session::run_into` allocates nothing: every tensor lives in the
//! planned arena and every operator keeps its scratch memory. Checked with a counting global
//! allocator (native only: the wasm test harness allocates on its own), in the default build:
//! with the `threads` feature, rayon's own job bookkeeping allocates (a heap job per helper of a
//! parallel call), which is not our code (see `tests/no_alloc.rs`).
#![cfg(all(not(target_arch = "wasm32"), not(feature = "threads")))]
mod counting_alloc;
mod graph_common;

use counting_alloc::count;
use wasmnn::graph::{
    Attr, DType, GraphBuilder, Model, Options, Session, Tensor, TensorSpec, TensorType,
};

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// Allocations made by the second and third `run_into` calls.
fn allocations_after_first_run(session: &mut Session, inputs: &[Tensor]) -> usize {
    let specs = session.output_specs();
    let mut outputs: Vec<Tensor> = specs
        .iter()
        .map(|s| Tensor::zeros(s.dtype, &s.shape).unwrap())
        .collect();
    let views: Vec<_> = inputs.iter().map(Tensor::view).collect();
    let mut outs: Vec<_> = outputs.iter_mut().map(Tensor::view_mut).collect();
    session.run_into(&views, &mut outs).unwrap();
    let ((), n) = count(|| {
        for _ in 0..2 {
            session.run_into(&views, &mut outs).unwrap();
        }
    });
    n
}

#[test]
fn operators_with_scratch_do_not_allocate_per_run() {
    // Transpose, Slice, ReduceSum, a MatMul of two computed operands, Gemm, Softmax, Conv.
    let mut b = GraphBuilder::new(17);
    let x = b.input("x", TensorType::fixed(DType::F32, &[2, 4, 6]));
    let t = b.node("Transpose", &[x], &[("perm", Attr::Ints(vec![0, 2, 1]))]);
    let mm = b.node("MatMul", &[x, t], &[]);
    let starts = b.constant("s", Tensor::from_i64(&[1], vec![1]).unwrap());
    let ends = b.constant("e", Tensor::from_i64(&[1], vec![3]).unwrap());
    let axes = b.constant("a", Tensor::from_i64(&[1], vec![2]).unwrap());
    let sl = b.node("Slice", &[mm, starts, ends, axes], &[]);
    let red = b.node("ReduceSum", &[sl, axes], &[]);
    let sm = b.node("Softmax", &[red], &[]);
    let sh = b.constant("sh", Tensor::from_i64(&[4], vec![1, 2, 2, 2]).unwrap());
    let img = b.node("Reshape", &[sm, sh], &[]);
    let w = b.constant("w", Tensor::from_f32(&[3, 2, 1, 1], vec![0.5; 6]).unwrap());
    let cv = b.node("Conv", &[img, w], &[]);
    let sh2 = b.constant("sh2", Tensor::from_i64(&[2], vec![3, 4]).unwrap());
    let flat = b.node("Reshape", &[cv, sh2], &[]);
    let gm = b.node("Gemm", &[flat, flat], &[("transB", Attr::Int(1))]);
    b.output(gm);
    let model = Model::from_graph(b.build().unwrap()).unwrap();
    let mut s = model
        .session(&[TensorSpec::new(DType::F32, &[2, 4, 6])])
        .unwrap();
    let x = Tensor::from_f32(&[2, 4, 6], (0..48).map(|i| i as f32 * 0.01).collect()).unwrap();
    assert_eq!(allocations_after_first_run(&mut s, &[x]), 0);
}

#[test]
fn real_models_do_not_allocate_per_run() {
    let Some(dir) = graph_common::models_dir("real_models_do_not_allocate_per_run") else {
        return;
    };
    // f32, and int8 weights (the quantized GEMM keeps its buffers in the operators too).
    for options in [
        Options::default(),
        Options {
            quantize_weights: true,
            quantize_convs: true,
            ..Options::default()
        },
    ] {
        let int8 = options.quantize_weights;
        let bytes = std::fs::read(dir.join("mobilenetv3-textdir/model.onnx")).unwrap();
        let model = Model::from_onnx(&bytes)
            .unwrap()
            .with_options(options.clone());
        let shape = [1, 3, 48, 192];
        let mut s = model
            .session(&[TensorSpec::new(DType::F32, &shape)])
            .unwrap();
        let x = Tensor::from_f32(&shape, vec![0.25; 3 * 48 * 192]).unwrap();
        let n = allocations_after_first_run(&mut s, &[x]);
        assert_eq!(n, 0, "MobileNetV3, int8 {int8}");

        let bytes = std::fs::read(dir.join("minilm-l6-v2/model.onnx")).unwrap();
        let model = Model::from_onnx(&bytes).unwrap().with_options(options);
        let ids = Tensor::from_i64(
            &[2, 5],
            vec![101, 2023, 2003, 1037, 102, 101, 7592, 102, 0, 0],
        )
        .unwrap();
        let mask = Tensor::from_i64(&[2, 5], vec![1, 1, 1, 1, 1, 1, 1, 1, 0, 0]).unwrap();
        let types = Tensor::zeros(DType::I64, &[2, 5]).unwrap();
        let specs = vec![TensorSpec::new(DType::I64, &[2, 5]); 3];
        let mut s = model.session(&specs).unwrap();
        let n = allocations_after_first_run(&mut s, &[ids, mask, types]);
        assert_eq!(n, 0, "MiniLM, int8 {int8}");
    }
}
