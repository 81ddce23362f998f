//! `cargo xtask demo`: builds the release wasm package (simd128) and runs, in Node, the pipeline
//! demo `bench/pipeline.mjs` (tokenizer -> MiniLM -> sentence embeddings -> cosine table, and a
//! text-line image through the MobileNetV3 classifier, on `../shared/models`), then
//! `bench/demo.mjs` (GEMM correctness and speed against a naive JavaScript loop).
//! Extra arguments are sentences for the pipeline.
use crate::bench::{build_pkg, Build};
use crate::setup::{self, Needs};
use crate::util::{fail, root, Args, Cmd, Result};

pub fn main(args: &[String]) -> Result {
    let mut args = Args::new(args);
    let browser = args.flag("--browser");
    let sentences = args.positional()?;
    if browser {
        return Err(fail(
            "`cargo xtask demo --browser` is not available yet; run `cargo xtask demo` (Node)",
        ));
    }
    setup::run(Needs {
        wasm: true,
        node: true,
        bench_npm: true,
        ..Needs::default()
    })?;
    let pkg = build_pkg(Build::Simd128)?;
    if !root().join("bench/demo.mjs").exists() {
        return Err(fail(format!(
            "bench/demo.mjs not found: the wasm package was built ({pkg}), but the demo script \
             is not written yet"
        )));
    }
    let models = root().join("../shared/models");
    if models.join("minilm-l6-v2/model.onnx").exists() {
        Cmd::new("node")
            .args(["bench/pipeline.mjs", "--pkg", &pkg, "--models"])
            .arg(models.to_string_lossy())
            .args(sentences.iter().map(String::as_str))
            .run()?;
    } else {
        eprintln!(
            "[xtask] demo: ../shared/models not found: skipping the model pipeline (fetching the \
             models from PyPI is not implemented yet); running the GEMM demo only"
        );
    }
    Cmd::new("node")
        .args(["bench/demo.mjs", "--pkg", &pkg])
        .run()
}
