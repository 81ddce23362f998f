//! Sets `cfg(wasmnn_models)` when the real-model test data (`../shared/models`, beside the
//! repository) is present, so tests can embed it with `include_bytes!` (wasm tests cannot read
//! files) and skip with a message when it is absent.
use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(wasmnn_models)");
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let models = Path::new(&root).join("../shared/models");
    println!("cargo::rerun-if-changed={}", models.display());
    let needed = [
        "mobilenetv3-textdir/model.onnx",
        "mobilenetv3-textdir/input.npy",
        "mobilenetv3-textdir/reference_output.npy",
        "mobilenetv3-textdir/reference.json",
        "minilm-l6-v2/vocab.txt",
        "minilm-l6-v2/reference.json",
    ];
    if needed.iter().all(|f| models.join(f).is_file()) {
        println!("cargo::rustc-cfg=wasmnn_models");
    }
}
