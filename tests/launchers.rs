//! The launchers in `scripts/`: they find a binary before building one
//! (`ASYNC_PATTERNS_BIN_DIR`, the bundle's `bin/<os>-<arch>/`, a fresh local
//! build, the same version on PATH), and when they must build, they build
//! once (a lock), into the cache dir when the skill folder is read-only,
//! show cargo's progress on stderr, stop waiting after
//! `ASYNC_PATTERNS_BUILD_WAIT` with exit 75 and a JSON answer, and report a
//! failed build with exit 127.
//!
//! A real build takes minutes, so these tests run a copy of `scripts/` with
//! a stand-in `cargo` that logs its calls, can be slow or fail on request,
//! and "builds" by copying the real multicall binary cargo made for the
//! tests: everything after the build is the real tool. The real build is
//! exercised by `tests/package.rs` and CI's clean clone.

mod common;

use common::{TOOL_NAMES, binary, multicall_binary};
use serde::Deserialize;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A copy of the bundle's launchers with stand-in sources, a folder for
/// commands on PATH (the stand-in `cargo`, optionally), and a home.
struct Bundle {
    _dir: tempfile::TempDir,
    root: PathBuf,
    path_dir: PathBuf,
    home: PathBuf,
    log: PathBuf,
}

impl Bundle {
    /// A source checkout: scripts, stand-in sources, and a stand-in cargo
    /// when `with_cargo`.
    fn source(with_cargo: bool) -> Self {
        let bundle = Bundle::scripts_only();
        std::fs::create_dir_all(bundle.root.join("src")).unwrap();
        std::fs::write(bundle.root.join("src/lib.rs"), "// stand-in\n").unwrap();
        std::fs::write(
            bundle.root.join("Cargo.toml"),
            format!("[package]\nname = \"async-patterns\"\nversion = \"{VERSION}\"\n"),
        )
        .unwrap();
        std::fs::write(bundle.root.join("Cargo.lock"), "# stand-in\n").unwrap();
        if with_cargo {
            bundle.install_fake_cargo();
        }
        bundle
    }

    /// An unpacked prebuilt bundle: scripts, VERSION and the binary in
    /// `bin/<os>-<arch>/`, no sources, no cargo.
    fn prebuilt(mode: u32) -> Self {
        let bundle = Bundle::scripts_only();
        std::fs::write(bundle.root.join("VERSION"), format!("{VERSION}\n")).unwrap();
        let bin = bundle.root.join("bin").join(platform());
        std::fs::create_dir_all(&bin).unwrap();
        let binary = bin.join("async-patterns");
        std::fs::copy(multicall_binary(), &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(mode)).unwrap();
        bundle
    }

    fn scripts_only() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Readable by `nobody` for the read-only tests.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.path().join("bundle");
        std::fs::create_dir_all(root.join("scripts/lib")).unwrap();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for file in ["scripts/lib/launch.sh", "scripts/build"] {
            std::fs::copy(repo.join(file), root.join(file)).unwrap();
        }
        for tool in TOOL_NAMES {
            let file = format!("scripts/{tool}");
            std::fs::copy(repo.join(&file), root.join(&file)).unwrap();
        }
        let path_dir = dir.path().join("path");
        std::fs::create_dir(&path_dir).unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let log = dir.path().join("cargo.log");
        Bundle {
            _dir: dir,
            root,
            path_dir,
            home,
            log,
        }
    }

    /// The stand-in cargo: logs the call, sleeps `FAKE_CARGO_SLEEP`, fails
    /// with `FAKE_CARGO_FAIL`, else "builds" the real binary into
    /// `$CARGO_TARGET_DIR/release`, printing cargo-like progress.
    fn install_fake_cargo(&self) {
        let script = format!(
            r#"#!/bin/bash
echo "$PWD $CARGO_TARGET_DIR $*" >> "{log}"
echo '   Compiling async-patterns v{VERSION}' >&2
sleep "${{FAKE_CARGO_SLEEP:-0}}"
if [ -n "${{FAKE_CARGO_FAIL:-}}" ]; then
  echo 'error[E0425]: cannot find value `oops` in this scope' >&2
  exit 101
fi
mkdir -p "$CARGO_TARGET_DIR/release"
cp "{real}" "$CARGO_TARGET_DIR/release/async-patterns.tmp"
mv "$CARGO_TARGET_DIR/release/async-patterns.tmp" "$CARGO_TARGET_DIR/release/async-patterns"
echo '    Finished `release` profile [optimized] target(s)' >&2
"#,
            log = self.log.display(),
            real = multicall_binary().display(),
        );
        let cargo = self.path_dir.join("cargo");
        std::fs::write(&cargo, script).unwrap();
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The log is appended to by whoever runs the launcher.
        std::fs::write(&self.log, "").unwrap();
        std::fs::set_permissions(&self.log, std::fs::Permissions::from_mode(0o666)).unwrap();
    }

    /// `bash <bundle>/scripts/<tool> args`, from an unrelated directory,
    /// with PATH holding the system's commands and the bundle's `path`
    /// folder (never the developer's cargo).
    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let mut command = Command::new("/bin/bash");
        command
            .arg(self.root.join("scripts").join(tool))
            .args(args)
            .current_dir(&self.home)
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin:/usr/sbin:/sbin", self.path_dir.display()),
            )
            .env("HOME", &self.home);
        command
    }

    fn launch(&self, tool: &str, args: &[&str]) -> Output {
        self.command(tool, args).output().unwrap()
    }

    fn builds(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .map(|log| log.lines().count())
            .unwrap_or(0)
    }

    /// Makes the whole bundle read-only and hands the home to `nobody`, for
    /// launches as `nobody` (root writes anywhere, so a read-only folder
    /// needs another user to mean anything).
    fn make_read_only_for_nobody(&self) {
        chmod_recursive(&self.root, false);
        let status = Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(&self.home)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// Makes a tree read-only (or writable again) for its owner; everyone may
/// read it, enter its folders and run what was runnable.
fn chmod_recursive(path: &Path, writable: bool) {
    let metadata = std::fs::symlink_metadata(path).unwrap();
    if metadata.file_type().is_symlink() {
        return;
    }
    if metadata.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chmod_recursive(&entry.unwrap().path(), writable);
        }
    }
    let mode = metadata.permissions().mode() & 0o777;
    let mode = if writable {
        mode | 0o200
    } else {
        mode & !0o222
    };
    let runnable = metadata.is_dir() || mode & 0o100 != 0;
    let mode = mode | 0o444 | if runnable { 0o111 } else { 0 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // Let the temp dir go even when a test made it read-only.
        if self.root.exists() {
            chmod_recursive(&self.root, true);
        }
    }
}

/// `nobody`'s view: the same command, run as uid 65534.
fn as_nobody(command: Command) -> Command {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(program)
        .args(args);
    wrapped.env_clear();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            wrapped.env(key, value);
        }
    }
    if let Some(dir) = command.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The launcher's own error document (exit 75 and 127).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LauncherDoc {
    tool: String,
    version: String,
    error: LauncherError,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LauncherError {
    kind: String,
    message: String,
    retry_after_s: Option<u64>,
    log: Option<String>,
}

fn launcher_doc(output: &Output) -> LauncherDoc {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&output.stdout)))
}

fn assert_version(output: &Output, tool: &str) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{tool}: {}",
        text(&output.stderr)
    );
    assert_eq!(text(&output.stdout).trim(), format!("{tool} {VERSION}"));
}

#[test]
fn builds_once_from_any_directory_then_runs_the_tool() {
    let bundle = Bundle::source(true);
    let first = bundle.launch("async_requests", &["--version"]);
    assert_version(&first, "async_requests");
    let stderr = text(&first.stderr);
    assert!(stderr.contains("building async-patterns"), "{stderr}");
    assert!(
        stderr.contains("Compiling async-patterns"),
        "cargo's own lines: {stderr}"
    );
    assert!(stderr.contains(" s on "), "an estimate: {stderr}");
    assert_eq!(bundle.builds(), 1);
    let log = std::fs::read_to_string(&bundle.log).unwrap();
    assert!(
        log.contains(&format!("{} ", bundle.root.join("target").display()))
            && log.contains("build --release --bin async-patterns"),
        "{log}"
    );
    assert!(
        !log.contains("--quiet"),
        "progress must stay visible: {log}"
    );

    for tool in TOOL_NAMES {
        let again = bundle.launch(tool, &["--version"]);
        assert_version(&again, tool);
        assert!(again.stderr.is_empty(), "{}", text(&again.stderr));
    }
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn rebuilds_when_a_source_is_newer_than_the_binary() {
    let bundle = Bundle::source(true);
    bundle.launch("async_requests", &["--version"]);
    assert_eq!(bundle.builds(), 1);
    let source = bundle.root.join("src/lib.rs");
    let later = std::time::SystemTime::now() + Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&source)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let out = bundle.launch("async_requests", &["--version"]);
    assert_version(&out, "async_requests");
    assert!(
        text(&out.stderr).contains("sources changed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(bundle.builds(), 2);
}

#[test]
fn works_without_the_execute_bit() {
    let bundle = Bundle::source(true);
    let script = bundle.root.join("scripts/async_requests");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bundle.launch("async_requests", &["--version"]);
    assert_version(&out, "async_requests");
}

#[test]
fn says_clearly_when_cargo_is_missing() {
    let bundle = Bundle::source(false);
    let out = bundle.launch("async_requests", &["--version"]);
    assert_eq!(out.status.code(), Some(127));
    let doc = launcher_doc(&out);
    assert_eq!(doc.tool, "async_requests");
    assert_eq!(doc.version, VERSION);
    assert_eq!(doc.error.kind, "not_installed");
    assert!(
        text(&out.stderr).contains("cargo is not installed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_slow_first_build_answers_75_with_json_and_a_later_call_uses_it() {
    let bundle = Bundle::source(true);
    let first = bundle
        .command("async_requests", &["--version"])
        .env("FAKE_CARGO_SLEEP", "3")
        .env("ASYNC_PATTERNS_BUILD_WAIT", "0")
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(75), "{}", text(&first.stderr));
    let doc = launcher_doc(&first);
    assert_eq!(doc.tool, "async_requests");
    assert_eq!(doc.version, VERSION);
    assert_eq!(doc.error.kind, "building");
    assert!(doc.error.retry_after_s.is_some_and(|after| after >= 1));
    assert!(doc.error.message.contains("again"), "{}", doc.error.message);
    let log = PathBuf::from(doc.error.log.expect("the build log"));
    assert!(log.exists(), "{}", log.display());

    // The build went on without the launcher; the next call waits for it.
    let later = bundle.launch("async_requests", &["--version"]);
    assert_version(&later, "async_requests");
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn two_first_calls_at_once_run_one_build() {
    let bundle = Bundle::source(true);
    let spawn = |tool: &str| {
        bundle
            .command(tool, &["--version"])
            .env("FAKE_CARGO_SLEEP", "2")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let one = spawn("async_requests");
    let two = spawn("async_timeout");
    let one = one.wait_with_output().unwrap();
    let two = two.wait_with_output().unwrap();
    assert_version(&one, "async_requests");
    assert_version(&two, "async_timeout");
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn a_broken_build_exits_127_with_the_end_of_its_log() {
    let bundle = Bundle::source(true);
    let out = bundle
        .command("async_requests", &["--version"])
        .env("FAKE_CARGO_FAIL", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the build failed"), "{stderr}");
    assert!(stderr.contains("error[E0425]"), "the log's tail: {stderr}");
    assert_eq!(launcher_doc(&out).error.kind, "build_failed");
    // A later call tries again rather than trusting a failed build.
    let again = bundle.launch("async_requests", &["--version"]);
    assert_version(&again, "async_requests");
    assert_eq!(bundle.builds(), 2);
}

#[test]
fn a_read_only_skill_folder_builds_into_the_cache_dir() {
    let bundle = Bundle::source(true);
    bundle.make_read_only_for_nobody();
    let out = as_nobody(bundle.command("async_file_reader", &["--version"]))
        .output()
        .unwrap();
    assert_version(&out, "async_file_reader");
    assert!(!bundle.root.join("target").exists());
    let cached = bundle.home.join(format!(
        ".cache/async-patterns/target-{VERSION}/release/async-patterns"
    ));
    assert!(cached.exists(), "{}", text(&out.stderr));
    let again = as_nobody(bundle.command("async_timeout", &["--version"]))
        .output()
        .unwrap();
    assert_version(&again, "async_timeout");
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn a_prebuilt_bundle_runs_without_cargo_or_sources() {
    let bundle = Bundle::prebuilt(0o755);
    for tool in TOOL_NAMES {
        let out = bundle.launch(tool, &["--version"]);
        assert_version(&out, tool);
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    }
}

#[test]
fn a_prebuilt_binary_that_lost_its_run_bit_still_runs() {
    // Writable folder: the run bit is restored in place.
    let bundle = Bundle::prebuilt(0o644);
    let out = bundle.launch("async_requests", &["--version"]);
    assert_version(&out, "async_requests");
    let binary = bundle
        .root
        .join("bin")
        .join(platform())
        .join("async-patterns");
    let mode = std::fs::metadata(&binary).unwrap().permissions().mode();
    assert_ne!(mode & 0o111, 0, "run bit restored: {mode:o}");

    // Read-only folder: a copy in the cache runs instead; never a build.
    let bundle = Bundle::prebuilt(0o644);
    bundle.make_read_only_for_nobody();
    let out = as_nobody(bundle.command("async_requests", &["--version"]))
        .output()
        .unwrap();
    assert_version(&out, "async_requests");
    assert!(
        bundle
            .home
            .join(format!(
                ".cache/async-patterns/bin/{VERSION}-{}/async-patterns",
                platform()
            ))
            .exists()
    );
}

#[test]
fn the_same_version_on_path_is_used_before_building() {
    let bundle = Bundle::source(true);
    std::os::unix::fs::symlink(multicall_binary(), bundle.path_dir.join("async-patterns")).unwrap();
    let out = bundle.launch("find_blocking_calls", &["--version"]);
    assert_version(&out, "find_blocking_calls");
    assert_eq!(bundle.builds(), 0);

    // Another version on PATH is not ours: build instead.
    let bundle = Bundle::source(true);
    let other = bundle.path_dir.join("async-patterns");
    std::fs::write(&other, "#!/bin/sh\necho 'async-patterns 0.0.0-other'\n").unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = bundle.launch("find_blocking_calls", &["--version"]);
    assert_version(&out, "find_blocking_calls");
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn scripts_build_waits_and_links_every_tool_name() {
    let bundle = Bundle::source(true);
    let out = bundle
        .command("build", &[])
        .env("FAKE_CARGO_SLEEP", "1")
        .env("ASYNC_PATTERNS_BUILD_WAIT", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let built: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let binary = PathBuf::from(built["binary"].as_str().unwrap());
    assert_eq!(binary, bundle.root.join("target/release/async-patterns"));
    for tool in TOOL_NAMES {
        let out = Command::new(binary.with_file_name(tool))
            .arg("--version")
            .output()
            .unwrap();
        assert_version(&out, tool);
    }
}

#[test]
fn real_launchers_run_the_real_tools_from_another_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = binary("demo_api").parent().unwrap().to_path_buf();
    for tool in TOOL_NAMES {
        let out = Command::new("bash")
            .arg(repo.join("scripts").join(tool))
            .arg("--version")
            .current_dir(elsewhere.path())
            .env("ASYNC_PATTERNS_BIN_DIR", &bin_dir)
            .output()
            .unwrap();
        assert_version(&out, tool);
    }
}
