//! Fuzzes the `.safetensors` reader and the BERT graph built from it: parsing, converting every
//! tensor, sizing from the shapes, building, compiling and one run on a 1 x 3 input must each
//! succeed or return a `GraphError`; never panic, never allocate beyond the file's size and
//! the limits (tensors capped at 1 MiB, the arena at 16 MiB).
//!
//! `cargo +nightly fuzz run safetensors_bert` (from `fuzz/`). Seed it with a real checkpoint,
//! e.g. `cp ../target/models/minilm-l6-v2/model.safetensors corpus/safetensors_bert/` (after
//! `cargo xtask demo --fetch-models`), or any small one.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wasmnn::graph::bert::{bert_graph, BertConfig};
use wasmnn::graph::safetensors::SafeTensors;
use wasmnn::graph::{Model, Options, Tensor};

fuzz_target!(|data: &[u8]| {
    let Ok(st) = SafeTensors::parse(data) else {
        return;
    };
    for name in st.names() {
        let _ = st.tensor(name);
    }
    let Ok(config) = BertConfig::from_checkpoint(&st) else {
        return;
    };
    let Ok(graph) = bert_graph(&st, &config) else {
        return;
    };
    let Ok(model) = Model::from_graph(graph) else {
        return;
    };
    let mut model = model.with_options(Options {
        max_tensor_bytes: 1 << 20,
        max_arena_bytes: 16 << 20,
        ..Options::default()
    });
    let ids = Tensor::from_i64(&[1, 3], vec![0, 1, 0]).unwrap();
    let _ = model.run(&[ids.view(), ids.view(), ids.view()]);
});
