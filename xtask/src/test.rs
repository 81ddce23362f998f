//! `cargo xtask test [--only STAGE,...] [--quick]`: setup, then every test stage in order,
//! stopping at the first failure, then a summary with each stage's time and status.
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bench::{self, relaxed, THREADS_CONFIG};
use crate::setup::{self, Needs, Tools, NIGHTLY, WASM_TARGET};
use crate::util::{fail, fmt_duration, log, root, usage_error, Args, Cmd, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Lint,
    Native,
    Miri,
    Node,
    Chromium,
    RelaxedNode,
    RelaxedChromium,
    ThreadsChromium,
    Bench,
}

const STAGES: [Stage; 9] = [
    Stage::Lint,
    Stage::Native,
    Stage::Miri,
    Stage::Node,
    Stage::Chromium,
    Stage::RelaxedNode,
    Stage::RelaxedChromium,
    Stage::ThreadsChromium,
    Stage::Bench,
];

/// The smoke benchmark run after the tests (it verifies its results against a reference).
const BENCH_SMOKE: [&str; 7] = [
    "--env", "node", "--op", "matmul", "--shape", "17x33x9", "--quick",
];

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Lint => "lint",
            Stage::Native => "native",
            Stage::Miri => "miri",
            Stage::Node => "node",
            Stage::Chromium => "chromium",
            Stage::RelaxedNode => "relaxed-node",
            Stage::RelaxedChromium => "relaxed-chromium",
            Stage::ThreadsChromium => "threads-chromium",
            Stage::Bench => "bench",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Stage::Lint => "rustfmt --check + clippy -D warnings (native, and wasm32 with the JS bindings) + rustdoc -D warnings",
            Stage::Native => {
                "native cargo test --workspace (portable), then the facade's tests with feature \
                 threads (rayon pools)"
            }
            Stage::Miri => {
                "cargo +nightly-2026-05-20 miri test: wasmnn-arena, the kernels' and int8 bounds tests \
                 (undefined behaviour check)"
            }
            Stage::Node => "wasm32 simd128 in Node",
            Stage::Chromium => "wasm32 simd128 in headless Chromium",
            Stage::RelaxedNode => "wasm32 relaxed-simd in Node",
            Stage::RelaxedChromium => "wasm32 relaxed-simd in headless Chromium",
            Stage::ThreadsChromium => {
                "wasm32 threads build (nightly, shared memory) on 2 workers in headless Chromium"
            }
            Stage::Bench => {
                "smoke benchmark (bench/run.mjs, verified) + side by side with the peers \
                 (bench/side.mjs) + JS smoke test (js/smoke.mjs) + \
                 demo page in headless Chromium (js/demo, checked against the references)"
            }
        }
    }

    fn browser(self) -> bool {
        matches!(
            self,
            Stage::Chromium | Stage::RelaxedChromium | Stage::ThreadsChromium
        )
    }

    fn wasm(self) -> bool {
        !matches!(self, Stage::Lint | Stage::Native | Stage::Miri)
    }
}

enum Status {
    Passed,
    Failed,
    Skipped(&'static str),
    NotRun,
}

pub fn main(args: &[String]) -> Result {
    let mut args = Args::new(args);
    let quick = args.flag("--quick");
    let only = args.values("--only")?;
    args.finish()?;
    let stages = select(&only, quick)?;

    let started = Instant::now();
    let mut summary: Vec<(String, Duration, Status)> = Vec::new();
    let t = Instant::now();
    let setup = setup::run(Needs {
        lint: stages.contains(&Stage::Lint),
        wasm: stages.iter().any(|s| s.wasm()),
        node: stages.iter().any(|s| s.wasm()),
        bench_npm: stages.contains(&Stage::Bench),
        browser: stages.iter().any(|s| s.browser()),
        nightly: false,
    });
    let tools = match setup {
        Ok(tools) => {
            summary.push(("setup".into(), t.elapsed(), Status::Passed));
            tools
        }
        Err(e) => {
            summary.push(("setup".into(), t.elapsed(), Status::Failed));
            print_summary(&summary, started.elapsed());
            return Err(fail(format!("setup failed: {e}")));
        }
    };

    let mut failure = None;
    for &stage in &stages {
        if failure.is_some() {
            summary.push((stage.name().into(), Duration::ZERO, Status::NotRun));
            continue;
        }
        if stage == Stage::Bench && !root().join("bench/run.mjs").exists() {
            let reason = "bench/run.mjs not present yet";
            summary.push((stage.name().into(), Duration::ZERO, Status::Skipped(reason)));
            continue;
        }
        if stage == Stage::ThreadsChromium && !threads_toolchain_available() {
            log(format!(
                "==> stage threads-chromium: SKIPPED: {NIGHTLY_MISSING}"
            ));
            summary.push((
                stage.name().into(),
                Duration::ZERO,
                Status::Skipped(NIGHTLY_MISSING),
            ));
            continue;
        }
        if stage == Stage::Miri && !miri_available() {
            log(format!("==> stage miri: SKIPPED: {MIRI_MISSING}"));
            summary.push((
                stage.name().into(),
                Duration::ZERO,
                Status::Skipped(MIRI_MISSING),
            ));
            continue;
        }
        log(format!("==> stage {}: {}", stage.name(), stage.what()));
        let t = Instant::now();
        let result = run_stage(stage, &tools);
        let status = if result.is_ok() {
            Status::Passed
        } else {
            Status::Failed
        };
        summary.push((stage.name().into(), t.elapsed(), status));
        if let Err(e) = result {
            failure = Some(format!("stage `{}` failed: {e}", stage.name()));
        }
    }
    print_summary(&summary, started.elapsed());
    match failure {
        Some(msg) => Err(fail(msg)),
        None => Ok(()),
    }
}

fn select(only: &[String], quick: bool) -> Result<Vec<Stage>> {
    let mut wanted = Vec::new();
    for name in only.iter().flat_map(|o| o.split(',')).map(str::trim) {
        match STAGES.iter().find(|s| s.name() == name) {
            Some(&s) => wanted.push(s),
            None => {
                let names: Vec<_> = STAGES.iter().map(|s| s.name()).collect();
                return Err(usage_error(format!(
                    "unknown stage `{name}`; stages: {}",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(STAGES
        .into_iter()
        .filter(|s| wanted.is_empty() || wanted.contains(s))
        .filter(|s| !(quick && s.browser()))
        .collect())
}

fn run_stage(stage: Stage, tools: &Tools) -> Result {
    match stage {
        Stage::Lint => {
            Cmd::cargo().args(["fmt", "--all", "--", "--check"]).run()?;
            Cmd::cargo()
                .args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
                .run()?;
            // The wasm32-only code: the JS bindings (feature js) and their wasm-bindgen tests,
            // which the native run above never compiles.
            Cmd::cargo()
                .args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--target",
                    WASM_TARGET,
                ])
                .args(["--features", "wasmnn/js", "--", "-D", "warnings"])
                .run()?;
            // Broken or private intra-doc links, and other rustdoc warnings.
            Cmd::cargo()
                .args(["doc", "--workspace", "--no-deps"])
                .env("RUSTDOCFLAGS", "-D warnings")
                .run()
        }
        Stage::Native => {
            Cmd::cargo().args(["test", "--workspace"]).run()?;
            // Every facade test with the `threads` feature: GEMM / Linear / conv inside rayon
            // pools of 1, 2 and 4 threads (`parallel`, `thread_limit`), and the graph runner,
            // attention and int8 paths running their parallel calls on a real pool.
            Cmd::cargo()
                .args(["test", "-p", "wasmnn", "--features", "threads", "--tests"])
                .run()
        }
        // `+toolchain` must win over the RUSTUP_TOOLCHAIN that `cargo xtask` inherits.
        // Strict provenance: an integer-to-pointer cast would let Miri miss out-of-bounds
        // accesses, so none is allowed. The kernels' bounds tests put every kernel at the ends
        // of exact-size buffers; libm's soft floats replace its x86 `sqrtss` asm, which Miri
        // cannot run.
        Stage::Miri => {
            let miri = |args: &[&str]| {
                Cmd::cargo()
                    .arg(format!("+{NIGHTLY}"))
                    .args(["miri", "test"])
                    .args(args)
                    .env("MIRIFLAGS", "-Zmiri-strict-provenance")
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .run()
            };
            miri(&["-p", "wasmnn-arena"])?;
            miri(&[
                "-p",
                "wasmnn-kernels",
                "--features",
                "libm/force-soft-floats",
                "--test",
                "bounds",
            ])?;
            miri(&["-p", "wasmnn-quant", "--test", "bounds"])
        }
        Stage::Node => wasm_test(false, None),
        Stage::Chromium => wasm_test(false, Some(tools)),
        Stage::RelaxedNode => wasm_test(true, None),
        Stage::RelaxedChromium => wasm_test(true, Some(tools)),
        Stage::ThreadsChromium => threads_test(tools),
        Stage::Bench => {
            let args: Vec<String> = BENCH_SMOKE.iter().map(|s| s.to_string()).collect();
            bench::main(&args)?;
            side_smoke(tools)?;
            // The built package through the JS loader, as a web developer would use it.
            Cmd::new("node")
                .args(["js/smoke.mjs", "--base", "bench/", "--build", "simd128"])
                .run()?;
            demo_page(tools)
        }
    }
}

/// The interleaved side-by-side (bench/side.mjs) on the simd128 package just built, against
/// both peers with their outputs checked: in Node, and on a Chromium page when there is one
/// (about 15 s).
fn side_smoke(tools: &Tools) -> Result {
    let side = |env: &str| {
        Cmd::new("node").args([
            "bench/side.mjs",
            "--env",
            env,
            "--op",
            "matmul",
            "--shape",
            "17x33x9",
            "--samples",
            "5",
            "--pkg",
            "bench/pkg-simd128/wasmnn.js",
        ])
    };
    side("node").run()?;
    match &tools.chromium {
        Some(chromium) => side("chromium")
            .env("CHROMIUM_PATH", chromium.to_string_lossy())
            .run(),
        None => {
            log("==> side.mjs in Chromium: SKIPPED: Chromium not found (see the setup messages)");
            Ok(())
        }
    }
}

/// The demo page (js/demo/) in headless Chromium on the simd128 package just built: its cosine
/// table must match the MiniLM reference and its classifier probabilities the Node run, within
/// 1e-4 (`bench/pipeline-browser.mjs --check`; about 6 s). Skipped, with a message, without the
/// models or without Chromium.
fn demo_page(tools: &Tools) -> Result {
    let Some(models) = crate::demo::models_dir(None) else {
        log("==> demo page: SKIPPED: ../shared/models not found");
        return Ok(());
    };
    let Some(chromium) = &tools.chromium else {
        log("==> demo page: SKIPPED: Chromium not found (see the setup messages)");
        return Ok(());
    };
    Cmd::new("node")
        .args([
            "bench/pipeline-browser.mjs",
            "--check",
            "--build",
            "simd128",
        ])
        .arg("--models")
        .arg(models.to_string_lossy())
        .env("CHROMIUM_PATH", chromium.to_string_lossy())
        .run()
}

/// `cargo test --target wasm32-unknown-unknown -p wasmnn-kernels -p wasmnn -p wasmnn-arena`, in
/// Node or (with `browser`) in headless Chromium. The +simd128 flags and the runner come from
/// .cargo/config.toml.
fn wasm_test(relaxed_simd: bool, browser: Option<&Tools>) -> Result {
    let mut cargo = Cmd::cargo().args(["test", "--target", WASM_TARGET]).args([
        "-p",
        "wasmnn-kernels",
        "-p",
        "wasmnn",
        "-p",
        "wasmnn-arena",
        "-p",
        "wasmnn-quant",
        // The JS bindings are tested where they run.
        "--features",
        "wasmnn/js",
    ]);
    if relaxed_simd {
        cargo = relaxed(cargo);
    }
    // The kernels' `build_uses_expected_isa` test asserts this at compile time, so a build that
    // silently lost its SIMD flags (e.g. through a plain RUSTFLAGS) fails.
    cargo = cargo.env(
        "WASMNN_EXPECT_ISA",
        if relaxed_simd {
            "relaxed-simd"
        } else {
            "simd128"
        },
    );
    match browser {
        None => {
            cargo = cargo.env_remove("WASM_BINDGEN_USE_BROWSER");
            if relaxed_simd {
                cargo = cargo.env("NODE_ARGS", bench::NODE_RELAXED_FLAG);
            }
        }
        Some(tools) => {
            let (Some(chromium), Some(driver)) = (&tools.chromium, &tools.chromedriver) else {
                return Err(fail(
                    "Chromium or ChromeDriver not found (see the setup messages above); \
                     `--quick` skips the browser stages",
                ));
            };
            cargo = cargo
                .env("WASM_BINDGEN_USE_BROWSER", "1")
                .env("CHROMEDRIVER", driver.to_string_lossy())
                .env("WASM_BINDGEN_TEST_TIMEOUT", "120");
            if let Some(json) = webdriver_json_for(chromium)? {
                cargo = cargo.env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", json.to_string_lossy());
            }
        }
    }
    cargo.run()
}

/// tests/threads.rs with the threads build (pinned nightly, build-std, shared memory) in a
/// dedicated Worker of headless Chromium: real rayon workers, as pages should run them. Node
/// cannot run threaded wasm-bindgen tests (no Worker API).
fn threads_test(tools: &Tools) -> Result {
    let (Some(chromium), Some(driver)) = (&tools.chromium, &tools.chromedriver) else {
        return Err(fail(
            "Chromium or ChromeDriver not found (see the setup messages above); \
             `--quick` skips the browser stages",
        ));
    };
    let mut cargo = Cmd::cargo()
        .arg(format!("+{NIGHTLY}"))
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["test", "--target", WASM_TARGET, "-p", "wasmnn"])
        .args(["--features", "js,threads", "--config", THREADS_CONFIG])
        .args(["--test", "threads"])
        .env_remove("WASM_BINDGEN_USE_BROWSER")
        .env("WASM_BINDGEN_USE_DEDICATED_WORKER", "1")
        .env("CHROMEDRIVER", driver.to_string_lossy())
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120");
    if let Some(json) = webdriver_json_for(chromium)? {
        cargo = cargo.env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", json.to_string_lossy());
    }
    cargo.run()
}

const NIGHTLY_MISSING: &str = "nightly-2026-05-20 with rust-src and the wasm32 target not \
     installed; to install: `cargo xtask setup --threads`";

/// Whether the pinned nightly has rust-src (build-std) and the wasm32 target.
fn threads_toolchain_available() -> bool {
    let sysroot = Cmd::new("rustc")
        .arg(format!("+{NIGHTLY}"))
        .args(["--print", "sysroot"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .probe();
    sysroot.is_some_and(|s| {
        let lib = Path::new(s.trim()).join("lib/rustlib");
        lib.join("src/rust/library").is_dir() && lib.join(WASM_TARGET).is_dir()
    })
}

const MIRI_MISSING: &str = "miri for nightly-2026-05-20 not installed; to install: `cargo xtask \
     setup --threads` (or `rustup component add miri rust-src --toolchain nightly-2026-05-20`)";

/// Whether `cargo +nightly-2026-05-20 miri` runs and that nightly has rust-src (Miri builds its
/// own std).
fn miri_available() -> bool {
    let nightly = |program: &str, args: &[&str]| {
        Cmd::new(program)
            .arg(format!("+{NIGHTLY}"))
            .args(args)
            .env_remove("RUSTUP_TOOLCHAIN")
            .probe()
    };
    let rust_src = nightly("rustc", &["--print", "sysroot"]).is_some_and(|s| {
        Path::new(s.trim())
            .join("lib/rustlib/src/rust/library")
            .is_dir()
    });
    rust_src && nightly("cargo", &["miri", "--version"]).is_some()
}

/// The repository's webdriver.json names /usr/bin/chromium. For another Chromium
/// (`CHROMIUM_PATH`), writes a copy naming that binary into target/ and returns its path.
fn webdriver_json_for(chromium: &Path) -> Result<Option<PathBuf>> {
    const DEFAULT: &str = "\"/usr/bin/chromium\"";
    let original = fs::read_to_string(root().join("webdriver.json"))?;
    let quoted = format!(
        "\"{}\"",
        chromium
            .to_string_lossy()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
    );
    if quoted == DEFAULT || !original.contains(DEFAULT) {
        return Ok(None);
    }
    let path = root().join("target/webdriver.json");
    fs::create_dir_all(root().join("target"))?;
    fs::write(&path, original.replace(DEFAULT, &quoted))?;
    Ok(Some(path))
}

fn print_summary(summary: &[(String, Duration, Status)], total: Duration) {
    eprintln!();
    eprintln!("==================== cargo xtask test: summary ====================");
    for (name, time, status) in summary {
        let (status, time) = match status {
            Status::Passed => ("ok".to_string(), fmt_duration(*time)),
            Status::Failed => ("FAILED".to_string(), fmt_duration(*time)),
            Status::Skipped(why) => (format!("skipped ({why})"), "-".into()),
            Status::NotRun => ("not run (an earlier stage failed)".into(), "-".into()),
        };
        eprintln!("  {name:<18} {time:>8}  {status}");
    }
    eprintln!("  {:<18} {:>8}", "total", fmt_duration(total));
    eprintln!("===================================================================");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_selection() {
        assert_eq!(select(&[], false).unwrap(), STAGES);
        let quick = select(&[], true).unwrap();
        assert!(!quick.contains(&Stage::Chromium) && !quick.contains(&Stage::RelaxedChromium));
        assert!(!quick.contains(&Stage::ThreadsChromium));
        assert_eq!(quick.len(), STAGES.len() - 3);
        let only = select(&["node,lint".into(), "relaxed-chromium".into()], false).unwrap();
        assert_eq!(only, [Stage::Lint, Stage::Node, Stage::RelaxedChromium]);
        assert_eq!(
            select(&["relaxed-chromium".into()], true).unwrap(),
            Vec::<Stage>::new()
        );
        assert_eq!(select(&["miri".into()], true).unwrap(), [Stage::Miri]);
        assert!(select(&["firefox".into()], false).is_err());
    }
}
