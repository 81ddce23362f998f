//! `cargo xtask setup [--threads]`: installs whatever is missing, idempotently, saying what it
//! does. `test`, `bench` and `demo` call [`run`] with just what they need.
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{fail, is_debian, is_executable, is_root, locked_version, log, root, which};
use crate::util::{Args, Cmd, Result};

/// The pinned nightly of the threads build and of Miri; see docs/toolchain.md, pitfall P12.
pub const NIGHTLY: &str = "nightly-2026-05-20";
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// What a command needs set up.
#[derive(Clone, Copy, Debug, Default)]
pub struct Needs {
    /// clippy and rustfmt.
    pub lint: bool,
    /// The wasm32 target and wasm-bindgen-cli at the Cargo.lock version.
    pub wasm: bool,
    /// Node.js (wasm tests run in it; benchmarks and the demo are Node scripts).
    pub node: bool,
    /// `npm ci` in bench/.
    pub bench_npm: bool,
    /// Chromium and ChromeDriver.
    pub browser: bool,
    /// The pinned nightly with rust-src, miri and the wasm32 target (threads build, Miri; opt-in).
    pub nightly: bool,
}

impl Needs {
    pub fn everything() -> Self {
        Self {
            lint: true,
            wasm: true,
            node: true,
            bench_npm: true,
            browser: true,
            nightly: false,
        }
    }
}

/// Browser tools found (either may be missing when the browser was not needed or could not be
/// installed).
#[derive(Debug, Default)]
pub struct Tools {
    pub chromium: Option<PathBuf>,
    pub chromedriver: Option<PathBuf>,
}

pub fn main(args: &[String]) -> Result {
    let mut args = Args::new(args);
    let threads = args.flag("--threads");
    args.finish()?;
    let tools = run(Needs {
        nightly: threads,
        ..Needs::everything()
    })?;
    if tools.chromium.is_none() || tools.chromedriver.is_none() {
        log("warning: no Chromium/ChromeDriver: the chromium stages of `cargo xtask test` will fail \
             (use `cargo xtask test --quick` to skip them)");
    }
    log("setup: done");
    Ok(())
}

pub fn run(needs: Needs) -> Result<Tools> {
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        if env::var_os(var).is_some() {
            log(format!(
                "note: {var} is set; xtask removes it for every command it runs, because it would \
                 replace the +simd128 flags of .cargo/config.toml. To add flags to the wasm build \
                 use CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS."
            ));
        }
    }
    if needs.lint {
        rust_components()?;
    }
    if needs.wasm {
        wasm_target()?;
        wasm_bindgen_cli()?;
    }
    if needs.node {
        node()?;
    }
    if needs.bench_npm {
        bench_npm()?;
    }
    let tools = if needs.browser {
        browser()?
    } else {
        find_browser()
    };
    if needs.nightly {
        nightly()?;
    }
    Ok(tools)
}

fn rustup() -> Result<PathBuf> {
    which("rustup").ok_or_else(|| {
        fail("rustup not found in PATH: install Rust with rustup (https://rustup.rs) first")
    })
}

fn rust_components() -> Result {
    for (component, subcommand) in [("clippy", "clippy"), ("rustfmt", "fmt")] {
        if Cmd::cargo()
            .args([subcommand, "--version"])
            .probe()
            .is_some()
        {
            log(format!("setup: {component}: ok"));
        } else {
            log(format!("setup: {component}: missing, installing"));
            Cmd::new(rustup()?.to_string_lossy())
                .args(["component", "add", component])
                .run()?;
        }
    }
    Ok(())
}

fn wasm_target() -> Result {
    let sysroot = Cmd::new("rustc")
        .args(["--print", "sysroot"])
        .probe()
        .ok_or_else(|| fail("`rustc --print sysroot` failed: is Rust installed?"))?;
    let lib = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(WASM_TARGET);
    if lib.is_dir() {
        log(format!("setup: target {WASM_TARGET}: ok"));
        return Ok(());
    }
    log(format!("setup: target {WASM_TARGET}: missing, installing"));
    Cmd::new(rustup()?.to_string_lossy())
        .args(["target", "add", WASM_TARGET])
        .run()
}

/// wasm-bindgen-cli must be exactly the version of the `wasm-bindgen` crate in Cargo.lock.
fn wasm_bindgen_cli() -> Result {
    let lock_path = root().join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path)
        .map_err(|e| fail(format!("cannot read {}: {e}", lock_path.display())))?;
    let wanted = locked_version(&lock, "wasm-bindgen")
        .ok_or_else(|| fail("Cargo.lock has no `wasm-bindgen` package"))?;
    let installed = installed_wasm_bindgen();
    let runner = which("wasm-bindgen-test-runner").is_some();
    if installed.as_deref() == Some(wanted.as_str()) && runner {
        log(format!("setup: wasm-bindgen-cli {wanted}: ok"));
        return Ok(());
    }
    log(format!(
        "setup: wasm-bindgen-cli: found {}, Cargo.lock wants {wanted}: installing (about 3 min; \
         no --locked, see toolchain pitfall P1)",
        installed.as_deref().unwrap_or("none")
    ));
    let mut install = Cmd::cargo().args(["install", "wasm-bindgen-cli", "--version", &wanted]);
    if installed.is_some() {
        // Replace the wrong version even if cargo did not install it (or thinks it is current).
        install = install.arg("--force");
    }
    install.run()?;
    match installed_wasm_bindgen() {
        Some(v) if v == wanted => Ok(()),
        other => Err(fail(format!(
            "installed wasm-bindgen-cli {wanted}, but `wasm-bindgen --version` in PATH reports \
             {other:?}: put ~/.cargo/bin first in PATH"
        ))),
    }
}

fn installed_wasm_bindgen() -> Option<String> {
    let out = Cmd::new("wasm-bindgen").arg("--version").probe()?;
    out.split_whitespace().nth(1).map(str::to_string)
}

fn node() -> Result {
    let version = Cmd::new("node").arg("--version").probe().ok_or_else(|| {
        fail("Node.js not found in PATH: install Node 20 or newer (https://nodejs.org)")
    })?;
    let version = version.trim();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        log(format!(
            "setup: node {version}: warning, Node 20 or newer is expected"
        ));
    } else {
        log(format!("setup: node {version}: ok"));
    }
    Ok(())
}

fn bench_npm() -> Result {
    let bench = root().join("bench");
    if !bench.join("package.json").exists() {
        log("setup: bench/package.json not present yet: no npm dependencies to install");
        return Ok(());
    }
    // npm writes node_modules/.package-lock.json last: older than package-lock.json means the
    // pinned dependencies changed since the last install (e.g. the peers were added).
    let modified = |p: &str| fs::metadata(bench.join(p)).and_then(|m| m.modified()).ok();
    let installed = modified("node_modules/.package-lock.json");
    if bench.join("node_modules").is_dir() && installed >= modified("package-lock.json") {
        log("setup: bench/node_modules: ok");
        return Ok(());
    }
    if which("npm").is_none() {
        return Err(fail(
            "npm not found in PATH (it comes with Node.js): needed for bench/",
        ));
    }
    let subcommand = if bench.join("package-lock.json").exists() {
        "ci"
    } else {
        "install"
    };
    log("setup: bench/node_modules missing or stale: installing");
    Cmd::new("npm")
        .args([subcommand, "--no-audit", "--no-fund"])
        .dir("bench")
        .stdout_to_stderr()
        .run()
}

/// Chromium: `$CHROMIUM_PATH`, else /usr/bin/chromium, else `chromium` in PATH.
/// ChromeDriver: `$CHROMEDRIVER`, else `chromedriver` in PATH.
pub fn find_browser() -> Tools {
    let from_env = |var: &str| {
        env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| is_executable(p))
    };
    let chromium = from_env("CHROMIUM_PATH")
        .or_else(|| Some(PathBuf::from(DEFAULT_CHROMIUM)).filter(|p| is_executable(p)))
        .or_else(|| which("chromium"));
    let chromedriver = from_env("CHROMEDRIVER").or_else(|| which("chromedriver"));
    Tools {
        chromium,
        chromedriver,
    }
}

fn browser() -> Result<Tools> {
    let tools = find_browser();
    if let (Some(c), Some(d)) = (&tools.chromium, &tools.chromedriver) {
        log(format!(
            "setup: chromium {} and chromedriver {}: ok",
            c.display(),
            d.display()
        ));
        return Ok(tools);
    }
    if !(is_root() && is_debian()) {
        log(
            "setup: Chromium and/or ChromeDriver not found, and this is not root on Debian, so \
             they are not installed automatically. Install them (Debian: `apt-get install \
             chromium chromium-driver`), or set CHROMIUM_PATH and CHROMEDRIVER.",
        );
        return Ok(tools);
    }
    log("setup: Chromium and/or ChromeDriver missing: installing with apt-get");
    Cmd::new("apt-get").arg("update").stdout_to_stderr().run()?;
    Cmd::new("apt-get")
        .args(["install", "-y", "chromium", "chromium-driver"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout_to_stderr()
        .run()?;
    Ok(find_browser())
}

fn nightly() -> Result {
    let rustup = rustup()?.to_string_lossy().into_owned();
    let has = |args: &[&str], needle: &str| {
        Cmd::new(&rustup)
            .args(args)
            .probe()
            .is_some_and(|out| out.lines().any(|l| l.starts_with(needle)))
    };
    let ready = has(&["toolchain", "list"], NIGHTLY)
        && ["rust-src", "miri"].iter().all(|component| {
            has(
                &["component", "list", "--installed", "--toolchain", NIGHTLY],
                component,
            )
        })
        && has(
            &["target", "list", "--installed", "--toolchain", NIGHTLY],
            WASM_TARGET,
        );
    if ready {
        log(format!(
            "setup: {NIGHTLY} with rust-src, miri, {WASM_TARGET}: ok"
        ));
        return Ok(());
    }
    log(format!(
        "setup: {NIGHTLY} with rust-src, miri, {WASM_TARGET}: installing (~15 s)"
    ));
    // RUSTUP_AUTO_INSTALL=0 may be set: nothing installs implicitly, so name everything.
    Cmd::new(&rustup)
        .args(["toolchain", "install", NIGHTLY, "--profile", "minimal"])
        .args(["--component", "rust-src,miri", "--target", WASM_TARGET])
        .run()
}
