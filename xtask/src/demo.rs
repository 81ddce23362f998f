//! `cargo xtask demo`: builds the release wasm package (simd128) and runs `bench/demo.mjs`
//! (GEMM correctness and speed against a naive JavaScript loop) in Node.
use crate::bench::{build_pkg, Build};
use crate::setup::{self, Needs};
use crate::util::{fail, root, Args, Cmd, Result};

pub fn main(args: &[String]) -> Result {
    let mut args = Args::new(args);
    let browser = args.flag("--browser");
    args.finish()?;
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
    Cmd::new("node")
        .args(["bench/demo.mjs", "--pkg", &pkg])
        .run()
}
