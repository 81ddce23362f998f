//! Shared helpers: errors, argument parsing, running commands, finding tools.
use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// An error with a message for the user; `usage` errors also print the command's usage.
#[derive(Debug)]
pub struct Error {
    pub msg: String,
    pub usage: bool,
}

pub type Result<T = ()> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        fail(e.to_string())
    }
}

pub fn fail(msg: impl Into<String>) -> Error {
    Error {
        msg: msg.into(),
        usage: false,
    }
}

pub fn usage_error(msg: impl Into<String>) -> Error {
    Error {
        msg: msg.into(),
        usage: true,
    }
}

/// Message from xtask itself. Always on stderr, so that stdout carries only data
/// (test output, benchmark JSON lines).
pub fn log(msg: impl AsRef<str>) {
    eprintln!("[xtask] {}", msg.as_ref());
}

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent directory")
        .to_path_buf()
}

/// Minimal flag parser: `--name`, `--name value` and `--name=value`.
pub struct Args {
    rest: Vec<String>,
}

impl Args {
    pub fn new(args: &[String]) -> Self {
        Self {
            rest: args.to_vec(),
        }
    }

    /// True if `--name` was given (every occurrence is consumed).
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    /// Every value of `--name` in order (consumed).
    pub fn values(&mut self, name: &str) -> Result<Vec<String>> {
        let prefix = format!("{name}=");
        let mut found = Vec::new();
        let mut i = 0;
        while i < self.rest.len() {
            if self.rest[i] == name {
                if i + 1 >= self.rest.len() {
                    return Err(usage_error(format!("{name} needs a value")));
                }
                found.push(self.rest.remove(i + 1));
                self.rest.remove(i);
            } else if let Some(v) = self.rest[i].strip_prefix(&prefix) {
                found.push(v.to_string());
                self.rest.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(found)
    }

    /// The last value of `--name`, if given.
    pub fn value(&mut self, name: &str) -> Result<Option<String>> {
        Ok(self.values(name)?.pop())
    }

    /// The positional arguments left (errors on an unknown `--flag`).
    pub fn positional(self) -> Result<Vec<String>> {
        match self.rest.iter().find(|a| a.starts_with("--")) {
            Some(a) => Err(usage_error(format!("unexpected argument `{a}`"))),
            None => Ok(self.rest),
        }
    }

    /// Errors on anything not consumed.
    pub fn finish(self) -> Result {
        match self.rest.first() {
            None => Ok(()),
            Some(a) => Err(usage_error(format!("unexpected argument `{a}`"))),
        }
    }
}

/// A command to run from the workspace root, echoed before it runs.
///
/// `RUSTFLAGS` and `CARGO_ENCODED_RUSTFLAGS` are always removed from the child's environment:
/// either one *replaces* the `+simd128` rustflags of `.cargo/config.toml` (toolchain pitfall P3).
pub struct Cmd {
    cmd: Command,
    shown_env: Vec<String>,
    shown: String,
}

impl Cmd {
    pub fn new(program: impl AsRef<str>) -> Self {
        let program = program.as_ref();
        let mut cmd = Command::new(program);
        cmd.current_dir(root())
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        Self {
            cmd,
            shown_env: Vec::new(),
            shown: program.to_string(),
        }
    }

    pub fn cargo() -> Self {
        Self::new("cargo")
    }

    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        let arg = arg.as_ref();
        self.cmd.arg(arg);
        self.shown.push(' ');
        self.shown.push_str(&shell_quote(arg));
        self
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<str>) -> Self {
        let value = value.as_ref();
        self.cmd.env(key, value);
        self.shown_env
            .push(format!("{key}={} ", shell_quote(value)));
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    /// Runs in `dir` (absolute, or relative to the workspace root).
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(root().join(dir));
        self
    }

    /// Sends the child's stdout to our stderr (for tools that chat on stdout: npm, apt-get).
    pub fn stdout_to_stderr(mut self) -> Self {
        self.cmd.stdout(Stdio::from(io::stderr()));
        self
    }

    pub fn display(&self) -> String {
        format!("{}{}", self.shown_env.concat(), self.shown)
    }

    /// Runs the command; an error says which command failed and how.
    pub fn run(mut self) -> Result {
        log(format!("$ {}", self.display()));
        let status = self
            .cmd
            .stdin(Stdio::null())
            .status()
            .map_err(|e| fail(format!("could not start `{}`: {e}", self.display())))?;
        if status.success() {
            Ok(())
        } else {
            Err(fail(format!("`{}` failed ({status})", self.display())))
        }
    }

    /// Runs quietly and returns stdout if the command exists and succeeds (for probing tools).
    pub fn probe(mut self) -> Option<String> {
        let out = self
            .cmd
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs the command and hands each line of its stdout to `on_line` as it arrives.
    pub fn run_lines(mut self, mut on_line: impl FnMut(&str) -> Result) -> Result {
        log(format!("$ {}", self.display()));
        let mut child = self
            .cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("could not start `{}`: {e}", self.display())))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut read_result: Result = Ok(());
        for line in BufReader::new(stdout).lines() {
            read_result = line.map_err(Error::from).and_then(|l| on_line(&l));
            if read_result.is_err() {
                let _ = child.kill();
                break;
            }
        }
        let status = child.wait()?;
        read_result?;
        if status.success() {
            Ok(())
        } else {
            Err(fail(format!("`{}` failed ({status})", self.display())))
        }
    }
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Finds an executable in `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

// Elsewhere (and so that the workspace type-checks for wasm32): any file counts.
#[cfg(not(unix))]
pub fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file())
}

/// True when running as root (owner of `/proc/self` is our uid).
#[cfg(unix)]
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(not(unix))]
pub fn is_root() -> bool {
    false
}

pub fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists() && which("apt-get").is_some()
}

/// The version of `package` pinned in a Cargo.lock text.
pub fn locked_version(lock: &str, package: &str) -> Option<String> {
    let wanted = format!("name = \"{package}\"");
    let mut lines = lock.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line == wanted {
            let version = lines.next()?.strip_prefix("version = \"")?;
            return Some(version.trim_end_matches('"').to_string());
        }
    }
    None
}

/// `12.3s` or `4m05s`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// Copies the directory tree `from` into `to` (skipping `node_modules`), making the copies
/// writable: the source may be a read-only checkout.
pub fn copy_tree(from: &Path, to: &Path) -> Result {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "node_modules" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            if dst.exists() {
                make_writable(&dst)?;
            }
            fs::copy(&src, &dst)?;
            make_writable(&dst)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn make_writable(p: &Path) -> Result {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = fs::metadata(p)?.permissions();
    perms.set_mode(perms.mode() | 0o200);
    fs::set_permissions(p, perms)?;
    Ok(())
}

// The lint warns of world-writable files on Unix, which this one never runs on.
#[cfg(not(unix))]
#[allow(clippy::permissions_set_readonly_false)]
fn make_writable(p: &Path) -> Result {
    let mut perms = fs::metadata(p)?.permissions();
    perms.set_readonly(false);
    fs::set_permissions(p, perms)?;
    Ok(())
}

/// Collects benchmark JSON lines: to stdout and, with `--out`, to a file. Other lines go to
/// stderr, so stdout stays pure JSON Lines.
pub struct JsonSink {
    file: Option<fs::File>,
    pub count: usize,
}

impl JsonSink {
    pub fn new(out: Option<&Path>) -> Result<Self> {
        let file = match out {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    fs::create_dir_all(dir)?;
                }
                Some(
                    fs::File::create(p)
                        .map_err(|e| fail(format!("cannot create {}: {e}", p.display())))?,
                )
            }
            None => None,
        };
        Ok(Self { file, count: 0 })
    }

    pub fn line(&mut self, line: &str) -> Result {
        if line.trim_start().starts_with('{') {
            let mut stdout = io::stdout().lock();
            writeln!(stdout, "{line}")?;
            stdout.flush()?;
            if let Some(f) = &mut self.file {
                writeln!(f, "{line}")?;
            }
            self.count += 1;
        } else {
            eprintln!("{line}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_version_finds_exact_package() {
        let lock = "[[package]]\nname = \"wasm-bindgen-test\"\nversion = \"0.3.80\"\n\n\
                    [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\nsource = \"x\"\n";
        assert_eq!(
            locked_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(
            locked_version(lock, "wasm-bindgen-test").as_deref(),
            Some("0.3.80")
        );
        assert_eq!(locked_version(lock, "serde"), None);
    }

    #[test]
    fn args_parse_flags_and_values() {
        let raw: Vec<String> = [
            "--quick",
            "--only",
            "node",
            "--only=lint",
            "--env",
            "chromium",
        ]
        .map(String::from)
        .to_vec();
        let mut a = Args::new(&raw);
        assert!(a.flag("--quick"));
        assert!(!a.flag("--peers"));
        assert_eq!(a.values("--only").unwrap(), ["node", "lint"]);
        assert_eq!(a.value("--env").unwrap().as_deref(), Some("chromium"));
        assert!(a.finish().is_ok());

        let mut b = Args::new(&["--env".to_string()]);
        assert!(b.value("--env").is_err());
        assert!(Args::new(&["stray".to_string()]).finish().is_err());
    }

    #[test]
    fn quoting_and_durations() {
        assert_eq!(shell_quote("17x33x9"), "17x33x9");
        assert_eq!(shell_quote("a;b"), "'a;b'");
        assert_eq!(fmt_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(fmt_duration(Duration::from_secs(245)), "4m05s");
    }
}
