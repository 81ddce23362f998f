//! Fuzzes the ONNX importer and, for files that import, compilation and one run on small
//! inputs: every step must succeed or return a `GraphError`; never panic, never allocate
//! beyond the limits (tensors capped at 1 MiB, the arena at 16 MiB).
//!
//! `cargo +nightly fuzz run onnx_import` (from `fuzz/`). Seed it with real models, e.g.
//! `cp ../../shared/models/mobilenetv3-textdir/model.onnx corpus/onnx_import/`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wasmnn::graph::{onnx, Dim, Model, Options, Tensor, TensorSpec};

fuzz_target!(|data: &[u8]| {
    let Ok(graph) = onnx::import(data) else {
        return;
    };
    // Concrete input types: declared dims capped at 64, a symbolic batch (axis 0) made 1 and
    // other symbols 64 (smaller spatial sizes stop real models such as MobileNetV3 at their
    // pooling layers, so the run would never be fuzzed); unknown ranks become scalars.
    let specs: Vec<TensorSpec> = graph
        .inputs
        .iter()
        .map(|&i| {
            let ty = graph.values[i].ty.clone();
            let dtype = ty.as_ref().map_or(wasmnn::graph::DType::F32, |t| t.dtype);
            let dims = ty
                .and_then(|t| t.dims)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(axis, d)| match d {
                    Dim::Known(n) => (*n).min(64),
                    Dim::Sym(_) if axis == 0 => 1,
                    Dim::Sym(_) => 64,
                })
                .collect::<Vec<_>>();
            TensorSpec::new(dtype, &dims)
        })
        .collect();
    let Ok(model) = Model::from_graph(graph) else {
        return;
    };
    let model = model.with_options(Options {
        max_tensor_bytes: 1 << 20,
        max_arena_bytes: 16 << 20,
        fuse: true,
        ..Options::default()
    });
    let Ok(mut session) = model.session(&specs) else {
        return;
    };
    let inputs: Vec<Tensor> = specs
        .iter()
        .filter_map(|s| Tensor::zeros(s.dtype, &s.shape).ok())
        .collect();
    let views: Vec<_> = inputs.iter().map(Tensor::view).collect();
    let _ = session.run(&views);
});
