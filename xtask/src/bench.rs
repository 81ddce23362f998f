//! `cargo xtask bench`: builds the release wasm package(s), then runs `bench/run.mjs` once for
//! all of them: our kernels and, with `--peers`, ORT-web and tfjs-wasm (pinned devDependencies
//! of bench/) on the same cases in the same engine. `--peers-from-shared` also runs the
//! reference harness of `../shared/peers`, as a cross-check.
//!
//! Every JSON line goes to stdout (and to `--out FILE`); everything else goes to stderr.
use std::fs;
use std::path::PathBuf;

use crate::setup::{self, Needs, NIGHTLY, WASM_TARGET};
use crate::util::{copy_tree, fail, log, root, usage_error, Args, Cmd, JsonSink, Result};

/// Appended to `.cargo/config.toml`'s `+simd128` (unlike `RUSTFLAGS`, which would replace it).
pub const RELAXED_RUSTFLAGS_VAR: &str = "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS";
pub const RELAXED_RUSTFLAGS: &str = "-C target-feature=+relaxed-simd";
/// Separate target dir, so switching flag sets never rebuilds everything.
pub const RELAXED_TARGET_DIR: &str = "target/relaxed";
/// Node 20 (V8 11.3) needs this for relaxed-SIMD opcodes; Chromium 114+ does not.
pub const NODE_RELAXED_FLAG: &str = "--experimental-wasm-relaxed-simd";
/// Extra config of the threads build (nightly build-std, atomics, shared memory); its
/// `build.target-dir` is target/threads.
pub const THREADS_CONFIG: &str = ".cargo/threads.toml";
const RELAXED_THREADS_TARGET_DIR: &str = "target/relaxed-threads";

const USAGE: &str =
    "cargo xtask bench [--env node|chromium] [--op matmul,...] [--shape \"S1;S2\"] \
                     [--threads 1[,2]] [--build simd128|relaxed|threads|relaxed-threads|all] \
                     [--quick] [--peers] [--peers-from-shared] [--weights f32|int8] [--out FILE] \
                     [--interleave-threads]
  --op model --shape \"minilm-seq14;minilm-seq128;mobilenetv3-textdir\": whole models (../shared/models);
  --weights int8: the graph runner quantizes wasmnn's weights (model cases)
  --threads with a count > 1 selects the threads flavour of each build (bench/pkg-threads: \
nightly build-std + shared memory), which then runs every listed count, 1 included
  --interleave-threads (with --threads 2): wasmnn times 1 thread and 2 in one pool, alternating \
sample by sample (records for both, with p10_ms), for a speedup a noisy host cannot skew";

/// One wasm artefact flavour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    Simd128,
    Relaxed,
    /// SIMD128 + atomics + shared memory + rayon on Web Workers (pinned nightly).
    Threads,
    RelaxedThreads,
}

impl Build {
    pub fn name(self) -> &'static str {
        match self {
            Build::Simd128 => "simd128",
            Build::Relaxed => "relaxed",
            Build::Threads => "threads",
            Build::RelaxedThreads => "relaxed-threads",
        }
    }

    fn relaxed(self) -> bool {
        matches!(self, Build::Relaxed | Build::RelaxedThreads)
    }

    fn threaded(self) -> bool {
        matches!(self, Build::Threads | Build::RelaxedThreads)
    }

    /// The same SIMD flavour with threads.
    fn with_threads(self) -> Self {
        if self.relaxed() {
            Build::RelaxedThreads
        } else {
            Build::Threads
        }
    }

    /// The `--target-dir` cargo uses for this build.
    fn target_dir(self) -> PathBuf {
        match self {
            Build::Simd128 => std::env::var_os("CARGO_TARGET_DIR")
                .map(|d| root().join(d))
                .unwrap_or_else(|| root().join("target")),
            Build::Relaxed => root().join(RELAXED_TARGET_DIR),
            Build::Threads => root().join("target/threads"),
            Build::RelaxedThreads => root().join(RELAXED_THREADS_TARGET_DIR),
        }
    }

    /// `bench/pkg-<name>/wasmnn.js`, relative to the workspace root.
    pub fn pkg_js(self) -> String {
        format!("bench/pkg-{}/wasmnn.js", self.name())
    }
}

/// Adds the relaxed-SIMD flags and target dir to a cargo build/test command.
pub fn relaxed(cargo: Cmd) -> Cmd {
    cargo
        .env(RELAXED_RUSTFLAGS_VAR, RELAXED_RUSTFLAGS)
        .args(["--target-dir", RELAXED_TARGET_DIR])
}

/// Release build of the `wasmnn` cdylib with the JS exports, then
/// `wasm-bindgen --target web --out-dir bench/pkg-<build>`. Returns the path of the JS module.
pub fn build_pkg(build: Build) -> Result<String> {
    let mut cargo = if build.threaded() {
        // `+toolchain` must win over the RUSTUP_TOOLCHAIN that `cargo xtask` inherits.
        Cmd::cargo()
            .arg(format!("+{NIGHTLY}"))
            .env_remove("RUSTUP_TOOLCHAIN")
            .args(["build", "--release", "--target", WASM_TARGET])
            .args(["-p", "wasmnn", "--features", "js,threads"])
            .args(["--config", THREADS_CONFIG])
    } else {
        Cmd::cargo()
            .args(["build", "--release", "--target", WASM_TARGET])
            .args(["-p", "wasmnn", "--features", "js"])
    }
    .stdout_to_stderr();
    cargo = match build {
        Build::Relaxed => relaxed(cargo),
        Build::RelaxedThreads => cargo
            .env(RELAXED_RUSTFLAGS_VAR, RELAXED_RUSTFLAGS)
            .args(["--target-dir", RELAXED_THREADS_TARGET_DIR]),
        Build::Simd128 | Build::Threads => cargo,
    };
    cargo.run()?;
    let wasm = build
        .target_dir()
        .join(WASM_TARGET)
        .join("release/wasmnn.wasm");
    Cmd::new("wasm-bindgen")
        .args(["--target", "web", "--out-dir"])
        .arg(format!("bench/pkg-{}", build.name()))
        .arg(wasm.to_string_lossy())
        .stdout_to_stderr()
        .run()?;
    Ok(build.pkg_js())
}

#[derive(Debug)]
pub struct Opts {
    env: String,
    op: Option<String>,
    shape: Option<String>,
    threads: Option<String>,
    weights: Option<String>,
    builds: Vec<Build>,
    quick: bool,
    peers: bool,
    peers_from_shared: bool,
    interleave_threads: bool,
    out: Option<PathBuf>,
}

pub fn main(args: &[String]) -> Result {
    run(&parse(args)?)
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut a = Args::new(args);
    if a.flag("--help") || a.flag("-h") {
        println!("usage: {USAGE}");
        std::process::exit(0);
    }
    let env = a.value("--env")?.unwrap_or_else(|| "node".into());
    if !["node", "chromium"].contains(&env.as_str()) {
        return Err(usage_error(format!(
            "--env must be node or chromium, not `{env}`"
        )));
    }
    let mut builds = match a.value("--build")?.as_deref().unwrap_or("simd128") {
        "simd128" => vec![Build::Simd128],
        "relaxed" => vec![Build::Relaxed],
        "threads" => vec![Build::Threads],
        "relaxed-threads" => vec![Build::RelaxedThreads],
        "all" => vec![Build::Simd128, Build::Relaxed],
        other => {
            return Err(usage_error(format!(
                "--build must be simd128, relaxed, threads, relaxed-threads or all, not `{other}`"
            )))
        }
    };
    let threads = a.value("--threads")?;
    let counts = threads.as_deref().unwrap_or("1").split(',');
    let mut max_threads = 1;
    for count in counts {
        match count.trim().parse::<usize>() {
            Ok(n) if n >= 1 => max_threads = max_threads.max(n),
            _ => {
                return Err(usage_error(format!(
                    "--threads takes counts >= 1 separated by commas, not `{count}`"
                )))
            }
        }
    }
    if max_threads > 1 {
        // Only the threads flavours can start workers; they run the 1-thread case too, so the
        // ratio compares one artefact with itself.
        builds = builds.into_iter().map(Build::with_threads).collect();
        builds.dedup();
    }
    let opts = Opts {
        env,
        op: a.value("--op")?,
        shape: a.value("--shape")?,
        threads,
        weights: a.value("--weights")?,
        builds,
        quick: a.flag("--quick"),
        peers: a.flag("--peers"),
        peers_from_shared: a.flag("--peers-from-shared"),
        interleave_threads: a.flag("--interleave-threads"),
        out: a.value("--out")?.map(PathBuf::from),
    };
    a.finish()
        .map_err(|e| usage_error(format!("{e}\nusage: {USAGE}")))?;
    Ok(opts)
}

/// The flags passed through to both harnesses.
fn case_args(opts: &Opts, default_threads: Option<&str>) -> Vec<String> {
    let mut v = Vec::new();
    let mut push = |flag: &str, value: Option<&str>| {
        if let Some(value) = value {
            v.push(flag.to_string());
            v.push(value.to_string());
        }
    };
    push("--op", opts.op.as_deref());
    push("--shape", opts.shape.as_deref());
    push("--threads", opts.threads.as_deref().or(default_threads));
    push("--weights", opts.weights.as_deref());
    if opts.quick {
        v.push("--quick".into());
    }
    v
}

/// Flags only our runner (bench/run.mjs) knows.
fn runner_args(opts: &Opts) -> Vec<String> {
    let mut v = Vec::new();
    if opts.interleave_threads {
        v.push("--interleave-threads".into());
    }
    v
}

pub fn run(opts: &Opts) -> Result {
    if !root().join("bench/run.mjs").exists() {
        return Err(fail(
            "bench/run.mjs not found: the benchmark runner is not written yet",
        ));
    }
    setup::run(Needs {
        wasm: true,
        node: true,
        bench_npm: true,
        browser: opts.env == "chromium",
        nightly: opts.builds.iter().any(|b| b.threaded()),
        ..Needs::default()
    })?;
    let mut sink = JsonSink::new(opts.out.as_deref())?;
    for &build in &opts.builds {
        build_pkg(build)?;
    }
    // One run for every build (and the peers): one browser, a fresh page or Node process per
    // (peer, threads, build); run.mjs adds V8's relaxed-SIMD flag to the children that need it.
    let builds: Vec<&str> = opts.builds.iter().map(|b| b.name()).collect();
    let peers = if opts.peers {
        "wasmnn,ort-web,tfjs-wasm"
    } else {
        "wasmnn"
    };
    Cmd::new("node")
        .args(["bench/run.mjs", "--env", &opts.env])
        .args(["--build", &builds.join(","), "--peer", peers])
        .args(case_args(opts, None))
        .args(runner_args(opts))
        .run_lines(|line| sink.line(line))?;
    if opts.peers_from_shared {
        run_peers(opts, &mut sink)?;
    }
    match &opts.out {
        Some(out) => log(format!(
            "bench: {} JSON records, also written to {}",
            sink.count,
            out.display()
        )),
        None => log(format!("bench: {} JSON records", sink.count)),
    }
    Ok(())
}

/// Cross-check only (`--peers-from-shared`): the reference harness of the peers lives in
/// `../shared/peers` (maybe read-only): it is synced into `target/peers`, `npm ci`'d there, and
/// run on the same cases.
fn run_peers(opts: &Opts, sink: &mut JsonSink) -> Result {
    let src = root().join("../shared/peers");
    if !src.join("bench.mjs").exists() {
        return Err(fail(
            "--peers: ../shared/peers/bench.mjs (next to the repository) not found",
        ));
    }
    let dest = root().join("target/peers");
    let lock = |dir: &PathBuf| fs::read(dir.join("package-lock.json")).ok();
    let lock_changed = lock(&src) != lock(&dest);
    log("bench: syncing ../shared/peers into target/peers");
    copy_tree(&src, &dest)?;
    if lock_changed || !dest.join("node_modules").is_dir() {
        Cmd::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .dir("target/peers")
            .stdout_to_stderr()
            .run()?;
    }
    Cmd::new("node")
        .args(["bench.mjs", "--env", &opts.env])
        .args(case_args(opts, Some("1")))
        .dir("target/peers")
        .run_lines(|line| sink.line(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_and_passes_case_flags_through() {
        let opts = parse(&strings(&[
            "--op",
            "matmul",
            "--shape",
            "1x2x3;4x5x6",
            "--quick",
            "--build",
            "all",
        ]))
        .unwrap();
        assert_eq!(opts.env, "node");
        assert_eq!(opts.builds, [Build::Simd128, Build::Relaxed]);
        assert_eq!(
            case_args(&opts, None),
            ["--op", "matmul", "--shape", "1x2x3;4x5x6", "--quick"]
        );
        assert_eq!(
            case_args(&opts, Some("1")),
            [
                "--op",
                "matmul",
                "--shape",
                "1x2x3;4x5x6",
                "--threads",
                "1",
                "--quick"
            ]
        );
    }

    #[test]
    fn threads_select_the_threads_flavours() {
        let opts = parse(&strings(&["--threads", "1,2", "--build", "all"])).unwrap();
        assert_eq!(opts.builds, [Build::Threads, Build::RelaxedThreads]);
        assert_eq!(case_args(&opts, None), ["--threads", "1,2"]);
        let opts = parse(&strings(&["--threads", "1"])).unwrap();
        assert_eq!(opts.builds, [Build::Simd128]);
        let opts = parse(&strings(&["--build", "threads"])).unwrap();
        assert_eq!(opts.builds, [Build::Threads]);
        assert_eq!(
            Build::RelaxedThreads.pkg_js(),
            "bench/pkg-relaxed-threads/wasmnn.js"
        );
    }

    #[test]
    fn rejects_bad_values() {
        assert!(parse(&strings(&["--env", "firefox"])).is_err());
        assert!(parse(&strings(&["--build", "sse"])).is_err());
        assert!(parse(&strings(&["--threads", "0"])).is_err());
        assert!(parse(&strings(&["--threads", "two"])).is_err());
        assert!(parse(&strings(&["--bogus"])).is_err());
    }

    #[test]
    fn peers_flags() {
        let opts = parse(&strings(&["--peers"])).unwrap();
        assert!(opts.peers && !opts.peers_from_shared);
        let opts = parse(&strings(&["--peers-from-shared"])).unwrap();
        assert!(!opts.peers && opts.peers_from_shared);
    }
}
