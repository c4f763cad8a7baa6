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
use std::ffi::OsStr;
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
        Bundle::source_at(OsStr::new("bundle"), with_cargo)
    }

    /// A source checkout in a folder of that name (odd names welcome).
    fn source_at(name: &OsStr, with_cargo: bool) -> Self {
        let bundle = Bundle::scripts_only(name);
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
    /// `bin/<os>-<arch>/async-patterns.size` holds its size in bytes, as
    /// `scripts/package` writes it.
    fn prebuilt(mode: u32) -> Self {
        let bundle = Bundle::scripts_only(OsStr::new("bundle"));
        std::fs::write(bundle.root.join("VERSION"), format!("{VERSION}\n")).unwrap();
        let bin = bundle.root.join("bin").join(platform());
        std::fs::create_dir_all(&bin).unwrap();
        let binary = bundle.prebuilt_binary();
        std::fs::copy(multicall_binary(), &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(mode)).unwrap();
        let size = std::fs::metadata(&binary).unwrap().len();
        std::fs::write(bin.join("async-patterns.size"), format!("{size}\n")).unwrap();
        bundle
    }

    fn prebuilt_binary(&self) -> PathBuf {
        self.root
            .join("bin")
            .join(platform())
            .join("async-patterns")
    }

    /// Where the launchers keep the build's lock, log and result.
    fn state(&self) -> PathBuf {
        self.root.join("target/async-patterns-build")
    }

    fn scripts_only(name: &OsStr) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Readable by `nobody` for the read-only tests.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.path().join(name);
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

    /// The stand-in cargo: logs the call, sleeps `FAKE_CARGO_SLEEP` (and
    /// waits, at most a minute, for the file `FAKE_CARGO_UNTIL` to be
    /// there), fails with `FAKE_CARGO_FAIL`, else "builds" the real binary
    /// into `$CARGO_TARGET_DIR/release`, printing cargo-like progress.
    fn install_fake_cargo(&self) {
        let script = format!(
            r#"#!/bin/bash
# One line a build, whatever newlines the paths hold.
line="$PWD $CARGO_TARGET_DIR $*"
echo "${{line//$'\n'/ }}" >> "{log}"
echo '   Compiling async-patterns v{VERSION}' >&2
sleep "${{FAKE_CARGO_SLEEP:-0}}"
if [ -n "${{FAKE_CARGO_UNTIL:-}}" ]; then
  for ((n = 0; n < 1200; n++)); do
    [ -e "$FAKE_CARGO_UNTIL" ] && break
    sleep 0.05
  done
fi
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
        // Bytes: the paths in it need not be UTF-8.
        std::fs::read(&self.log)
            .map(|log| log.iter().filter(|&&byte| byte == b'\n').count())
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
        "{tool}: stdout {} stderr {}",
        text(&output.stdout),
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

// ---------------------------------------------------------------------------
// A hostile environment and an impatient agent: killed launchers, stale
// locks, odd paths and values, things on PATH that misbehave, damaged
// binaries, links.

/// Runs `command` to its end with its output captured; a launcher that hangs
/// is killed and fails the test (this is a hang check, not a timing).
fn output_watched(mut command: Command) -> Output {
    use std::io::Read;
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = std::time::Instant::now() + common::WATCHDOG;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the launcher hung for {:?}", common::WATCHDOG);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Waits (at most the watchdog) until `path` holds `needle`.
fn wait_for_text(path: &Path, needle: &str) {
    let deadline = std::time::Instant::now() + common::WATCHDOG;
    while !std::fs::read_to_string(path).is_ok_and(|text| text.contains(needle)) {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never held {needle:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn set_mtime(path: &Path, when: std::time::SystemTime) {
    std::fs::File::open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// "PID START" as the launchers write a lock's owner, for this test process
/// but with a start it never had: the PID of a build from before a reboot,
/// now someone else's.
fn reused_pid_owner() -> String {
    format!(
        "{} 00000000-0000-0000-0000-000000000000/1",
        std::process::id()
    )
}

/// A PID no process has (one that just ended; PIDs are not reused at once).
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// A lock as a launcher leaves it, `owner` in `lock/owner` (none: killed
/// between taking the lock and writing itself there).
fn leave_lock(bundle: &Bundle, owner: Option<&str>, age: Duration) {
    let lock = bundle.state().join("lock");
    std::fs::create_dir_all(&lock).unwrap();
    if let Some(owner) = owner {
        std::fs::write(lock.join("owner"), format!("{owner}\n")).unwrap();
    }
    set_mtime(&lock, std::time::SystemTime::now() - age);
}

#[test]
fn a_lock_left_without_an_owner_by_a_killed_launcher_is_broken_after_a_minute() {
    let bundle = Bundle::source(true);
    leave_lock(&bundle, None, Duration::from_secs(120));
    let out = output_watched({
        let mut command = bundle.command("async_requests", &["--version"]);
        command.env("ASYNC_PATTERNS_BUILD_WAIT", "10");
        command
    });
    assert_version(&out, "async_requests");
    assert!(
        text(&out.stderr).contains("left its lock behind"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(bundle.builds(), 1);
    assert!(!bundle.state().join("lock").exists(), "released");
}

#[test]
fn a_lock_whose_holder_died_or_whose_pid_was_reused_after_a_reboot_is_broken() {
    for owner in [format!("{} 0/1", dead_pid()), reused_pid_owner()] {
        let bundle = Bundle::source(true);
        // Fresh: the owner, not the age, says it is stale.
        leave_lock(&bundle, Some(&owner), Duration::ZERO);
        let out = output_watched({
            let mut command = bundle.command("async_timeout", &["--version"]);
            command.env("ASYNC_PATTERNS_BUILD_WAIT", "10");
            command
        });
        assert_version(&out, "async_timeout");
        assert_eq!(bundle.builds(), 1, "{owner}: {}", text(&out.stderr));
    }
}

#[test]
fn a_live_build_is_joined_never_broken() {
    let bundle = Bundle::source(true);
    let first = output_watched({
        let mut command = bundle.command("async_requests", &["--version"]);
        command
            .env("FAKE_CARGO_SLEEP", "2")
            .env("ASYNC_PATTERNS_BUILD_WAIT", "0");
        command
    });
    assert_eq!(first.status.code(), Some(75), "{}", text(&first.stderr));
    // The build, not the launcher that exited, holds the lock now.
    let owner = std::fs::read_to_string(bundle.state().join("lock/owner")).unwrap();
    let pid: i32 = owner.split(' ').next().unwrap().parse().unwrap();
    // SAFETY: kill with signal 0 sends nothing; it only asks whether the
    // process exists.
    assert_eq!(unsafe { libc::kill(pid, 0) }, 0, "the build is alive");
    let later = output_watched(bundle.command("async_requests", &["--version"]));
    assert_version(&later, "async_requests");
    assert!(!text(&later.stderr).contains("left its lock behind"));
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn twenty_first_calls_at_once_over_a_stale_lock_run_one_build() {
    let bundle = Bundle::source(true);
    leave_lock(&bundle, Some(&reused_pid_owner()), Duration::ZERO);
    let launches: Vec<_> = (0..20)
        .map(|i| {
            let tool = TOOL_NAMES[i % TOOL_NAMES.len()];
            let mut command = bundle.command(tool, &["--version"]);
            // The wait is not what this test is about: twenty bash launchers
            // on a loaded 2-core machine (the other tests run alongside) can
            // take more than 20 s between them to see the one build finish.
            command
                .env("FAKE_CARGO_SLEEP", "2")
                .env("ASYNC_PATTERNS_BUILD_WAIT", "50");
            (tool, std::thread::spawn(move || output_watched(command)))
        })
        .collect();
    for (tool, launch) in launches {
        assert_version(&launch.join().unwrap(), tool);
    }
    assert_eq!(bundle.builds(), 1);
}

/// A stand-in `mv` on PATH that holds up the first call made to it, and the
/// next call from the same launcher, each until the test lets it go (the
/// file `<dir>/go-first`, `<dir>/go-second`), writing which one waits to
/// `<dir>/mv-held`. Every other call is the real `mv`.
fn install_held_mv(bundle: &Bundle, dir: &Path) {
    let script = format!(
        r#"#!/bin/bash
dir="{dir}"
hold() {{
  echo "$1" >>"$dir/mv-held"
  for ((n = 0; n < 1200; n++)); do
    [ -e "$dir/go-$1" ] && return
    sleep 0.05
  done
}}
by=""
if mkdir "$dir/first" 2>/dev/null; then
  echo "$PPID" >"$dir/first/by"
  hold first
elif read -r by 2>/dev/null <"$dir/first/by" && [ "$by" = "$PPID" ] \
  && mkdir "$dir/second" 2>/dev/null; then
  hold second
fi
exec /bin/mv "$@"
"#,
        dir = dir.display(),
    );
    let mv = bundle.path_dir.join("mv");
    std::fs::write(&mv, script).unwrap();
    std::fs::set_permissions(&mv, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_launcher_that_found_the_lock_stale_a_moment_too_late_joins_the_build_that_took_it_over() {
    // Launcher a finds the lock stale and is held up before its first `mv`
    // (its first step on that lock) while b takes the lock over and builds;
    // then a goes on with what it found and is held up again before its
    // next `mv`, while c comes. When breaking a lock moved it aside, a had
    // moved b's live lock away and was about to move it back: c took a
    // second lock (a second build), and b's went back inside it, where the
    // build that let c's go could not remove it (no owner: every launcher
    // waited a minute, then answered 75).
    let bundle = Bundle::source(true);
    leave_lock(&bundle, Some(&reused_pid_owner()), Duration::ZERO);
    let held = bundle.path_dir.parent().unwrap().join("held");
    std::fs::create_dir(&held).unwrap();
    install_held_mv(&bundle, &held);
    let built = held.join("built");
    let start = |tool: &'static str| {
        let mut command = bundle.command(tool, &["--version"]);
        command
            .env("FAKE_CARGO_UNTIL", &built)
            .env("ASYNC_PATTERNS_BUILD_WAIT", "30")
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(held.join(tool)).unwrap());
        (tool, command.spawn().unwrap())
    };
    let a = start("async_requests");
    wait_for_text(&held.join("mv-held"), "first");
    let b = start("async_timeout");
    wait_for_text(&bundle.state().join("log"), "Compiling");
    std::fs::write(held.join("go-first"), "").unwrap();
    wait_for_text(&held.join("mv-held"), "second");
    let c = start("async_file_reader");
    wait_for_text(&held.join("async_file_reader"), "progress follows");
    std::fs::write(held.join("go-second"), "").unwrap();
    wait_for_text(&held.join("async_requests"), "progress follows");
    std::fs::write(&built, "").unwrap();
    let mut said = Vec::new();
    for (tool, launcher) in [a, b, c] {
        let mut out = launcher.wait_with_output().unwrap();
        out.stderr = std::fs::read(held.join(tool)).unwrap();
        assert_version(&out, tool);
        said.push(text(&out.stderr));
    }
    assert_eq!(bundle.builds(), 1, "{said:#?}");
    assert!(!said[0].contains("left its lock behind"), "{}", said[0]);
    assert!(said[1].contains("left its lock behind"), "{}", said[1]);
    assert!(!bundle.state().join("lock").exists(), "released");
}

#[test]
fn the_harness_killing_the_launchers_process_group_leaves_the_build_going() {
    use std::os::unix::process::CommandExt;
    let bundle = Bundle::source(true);
    let mut launcher = bundle.command("async_requests", &["--version"]);
    launcher
        .env("FAKE_CARGO_SLEEP", "2")
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut launcher = launcher.spawn().unwrap();
    wait_for_text(&bundle.state().join("log"), "Compiling");
    let group = launcher.id() as i32;
    // SAFETY: a plain kill(2) of the process group this test made.
    assert_eq!(unsafe { libc::kill(-group, libc::SIGKILL) }, 0);
    launcher.wait().unwrap();
    let later = output_watched(bundle.command("async_requests", &["--version"]));
    assert_version(&later, "async_requests");
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn a_launcher_told_to_stop_while_waiting_answers_75_with_json() {
    use std::io::{BufRead, BufReader};
    let bundle = Bundle::source(true);
    let mut launcher = bundle
        .command("async_requests", &["--version"])
        .env("FAKE_CARGO_SLEEP", "3")
        .env("ASYNC_PATTERNS_BUILD_WAIT", "60")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(launcher.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("progress follows") {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no progress: {said}"
        );
        said.push_str(&line);
    }
    // SAFETY: a plain kill(2) of the child this test started.
    assert_eq!(
        unsafe { libc::kill(launcher.id() as i32, libc::SIGTERM) },
        0
    );
    let out = launcher.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(75), "{said}");
    let doc = launcher_doc(&out);
    assert_eq!(doc.error.kind, "building");
    assert!(doc.error.retry_after_s.is_some());
    let later = output_watched(bundle.command("async_requests", &["--version"]));
    assert_version(&later, "async_requests");
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn exit_75_json_parses_whatever_bytes_the_paths_hold() {
    use std::os::unix::ffi::OsStrExt;
    let names: [&[u8]; 6] = [
        b"with space and 'quote' \"double\" $HOME `tick` \\back",
        b"tab\there",
        b"return\rhere",
        b"new\nline",
        "unicod\u{e9} \u{1f980} \u{2028}".as_bytes(),
        b"latin1 caf\xe9 \xff",
    ];
    for name in names {
        let name = OsStr::from_bytes(name);
        let bundle = Bundle::source_at(name, true);
        let first = output_watched({
            let mut command = bundle.command("async_requests", &["--version"]);
            command
                .env("FAKE_CARGO_SLEEP", "1")
                .env("ASYNC_PATTERNS_BUILD_WAIT", "0");
            command
        });
        assert_eq!(
            first.status.code(),
            Some(75),
            "{name:?}: {}",
            text(&first.stderr)
        );
        assert_eq!(first.stdout.iter().filter(|&&b| b == b'\n').count(), 1);
        let doc = launcher_doc(&first);
        // Soon, but not a hammering: within the estimate of a whole build.
        let after = doc.error.retry_after_s.expect("retry_after_s");
        assert!((5..=200).contains(&after), "{after}");
        let log = doc.error.log.expect("the log");
        let expected = bundle.state().join("log");
        match expected.to_str() {
            Some(expected) => assert_eq!(log, expected),
            None => assert!(log.contains('\u{fffd}'), "{log}"),
        }
        let later = output_watched(bundle.command("async_requests", &["--version"]));
        assert_version(&later, "async_requests");
        assert_eq!(bundle.builds(), 1, "{name:?}");
    }
}

#[test]
fn odd_build_wait_values_still_build_and_say_so_once() {
    for wait in ["abc", "-3", "1.5", "0009", "99999999999999999999"] {
        let bundle = Bundle::source(true);
        let out = output_watched({
            let mut command = bundle.command("async_requests", &["--version"]);
            command
                .env("FAKE_CARGO_SLEEP", "1")
                .env("ASYNC_PATTERNS_BUILD_WAIT", wait);
            command
        });
        assert_version(&out, "async_requests");
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("integer"), "{wait}: {stderr}");
        assert!(!stderr.contains("line "), "a shell error: {wait}: {stderr}");
        let complaints = stderr.matches("not a whole number").count();
        let expected = usize::from(wait.contains(|c: char| !c.is_ascii_digit()));
        assert_eq!(complaints, expected, "{wait}: {stderr}");
    }
}

#[test]
fn relative_target_and_cache_dirs_mean_the_callers_folder() {
    // CARGO_TARGET_DIR relative to where the agent runs the launcher.
    let bundle = Bundle::source(true);
    let out = output_watched({
        let mut command = bundle.command("async_requests", &["--version"]);
        command
            .env("CARGO_TARGET_DIR", "rel-target")
            .env("ASYNC_PATTERNS_BUILD_WAIT", "10");
        command
    });
    assert_version(&out, "async_requests");
    assert!(
        bundle
            .home
            .join("rel-target/release/async-patterns")
            .exists()
    );
    assert_eq!(bundle.builds(), 1);

    // A read-only folder: a relative XDG_CACHE_HOME is skipped (the XDG
    // spec says so), a relative ASYNC_PATTERNS_CACHE_DIR is the caller's.
    for (variable, built) in [
        (
            "XDG_CACHE_HOME",
            format!(".cache/async-patterns/target-{VERSION}"),
        ),
        (
            "ASYNC_PATTERNS_CACHE_DIR",
            format!("rel-cache/target-{VERSION}"),
        ),
    ] {
        let bundle = Bundle::source(true);
        bundle.make_read_only_for_nobody();
        let value = if variable == "XDG_CACHE_HOME" {
            "rel-xdg"
        } else {
            "rel-cache"
        };
        let out = output_watched({
            let mut command = bundle.command("async_file_reader", &["--version"]);
            command
                .env(variable, value)
                .env("ASYNC_PATTERNS_BUILD_WAIT", "10");
            as_nobody(command)
        });
        assert_version(&out, "async_file_reader");
        assert!(
            bundle
                .home
                .join(&built)
                .join("release/async-patterns")
                .exists(),
            "{variable}: {}",
            text(&out.stderr)
        );
        assert_eq!(bundle.builds(), 1);
    }
}

#[test]
fn an_unwritable_or_missing_home_builds_under_tmpdir() {
    for home in ["read-only", "unset"] {
        let bundle = Bundle::source(true);
        bundle.make_read_only_for_nobody();
        let tmp = bundle.home.join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let status = Command::new("chown")
            .arg("nobody:nogroup")
            .arg(&tmp)
            .status()
            .unwrap();
        assert!(status.success());
        let mut command = bundle.command("async_timeout", &["--version"]);
        command.env("TMPDIR", &tmp);
        if home == "unset" {
            command.env_remove("HOME");
        } else {
            // The skill folder: read-only for nobody.
            command.env("HOME", &bundle.root);
        }
        let out = output_watched(as_nobody(command));
        assert_version(&out, "async_timeout");
        let built = tmp.join(format!(
            "async-patterns-65534/target-{VERSION}/release/async-patterns"
        ));
        assert!(built.exists(), "{home}: {}", text(&out.stderr));
        let mode = std::fs::metadata(built.ancestors().nth(3).unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "a folder in TMPDIR is private");
    }
}

#[test]
fn a_program_on_path_that_hangs_or_reads_stdin_is_passed_over() {
    let bundle = Bundle::source(true);
    // Eats whatever stdin it gets, then hangs: it must neither steal the
    // items meant for the tool nor stop the launcher.
    let impostor = bundle.path_dir.join("async-patterns");
    std::fs::write(&impostor, "#!/bin/sh\ncat >/dev/null\nexec sleep 1000\n").unwrap();
    std::fs::set_permissions(&impostor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let listed = bundle.home.join("listed.txt");
    std::fs::write(&listed, "one\ntwo\n").unwrap();
    let mut command = bundle.command("async_file_reader", &["--input", "-"]);
    command.stdin(
        std::fs::File::open({
            let items = bundle.home.join("items.json");
            std::fs::write(&items, format!("[{:?}]", listed.display().to_string())).unwrap();
            items
        })
        .unwrap(),
    );
    let out = output_watched(command);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["total"], 1, "the items reached the tool");
    assert_eq!(doc["results"][0]["lines"], 2);
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn a_damaged_or_foreign_prebuilt_binary_is_a_clear_error() {
    // Cut short (an upload limit, a full disk): refused before it can crash.
    let bundle = Bundle::prebuilt(0o755);
    let binary = bundle.prebuilt_binary();
    let bytes = std::fs::read(&binary).unwrap();
    std::fs::write(&binary, &bytes[..bytes.len() / 3]).unwrap();
    let out = output_watched(bundle.command("async_requests", &["--version"]));
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    let doc = launcher_doc(&out);
    assert_eq!(doc.error.kind, "not_installed");
    assert!(
        doc.error.message.contains("damaged"),
        "{}",
        doc.error.message
    );

    // Whole, but for another machine (e_machine says aarch64): the kernel
    // refuses it, and the launcher says so in JSON.
    let bundle = Bundle::prebuilt(0o755);
    let binary = bundle.prebuilt_binary();
    let mut bytes = std::fs::read(&binary).unwrap();
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes());
    std::fs::write(&binary, &bytes).unwrap();
    let out = output_watched(bundle.command("async_requests", &["--version"]));
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    let doc = launcher_doc(&out);
    assert_eq!(doc.error.kind, "not_installed");
    assert!(
        doc.error.message.contains("cannot run here"),
        "{}",
        doc.error.message
    );
}

#[test]
fn no_run_bit_and_nowhere_to_copy_runs_through_the_loader() {
    let bundle = Bundle::prebuilt(0o644);
    bundle.make_read_only_for_nobody();
    let cache = bundle.root.join("bin"); // read-only for nobody
    let out = output_watched({
        let mut command = bundle.command("async_requests", &["--version"]);
        command.env("ASYNC_PATTERNS_CACHE_DIR", &cache);
        as_nobody(command)
    });
    assert_version(&out, "async_requests");
    assert!(
        text(&out.stderr).contains("through"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_stale_cached_copy_is_replaced() {
    let bundle = Bundle::prebuilt(0o644);
    bundle.make_read_only_for_nobody();
    // A copy left by an older build of the same version, same size.
    let copy = bundle.home.join(format!(
        ".cache/async-patterns/bin/{VERSION}-{}/async-patterns",
        platform()
    ));
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let size = std::fs::metadata(bundle.prebuilt_binary()).unwrap().len();
    std::fs::write(&copy, "#!/bin/sh\necho stale\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_len(size)
        .unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let status = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(&bundle.home)
        .status()
        .unwrap();
    assert!(status.success());
    let out = output_watched(as_nobody(bundle.command("async_requests", &["--version"])));
    assert_version(&out, "async_requests");
}

#[test]
fn launchers_run_through_links_under_sh_and_with_cdpath_set() {
    let bundle = Bundle::source(true);
    let links = bundle.home.join("links");
    std::fs::create_dir(&links).unwrap();
    let absolute = links.join("async_requests");
    std::os::unix::fs::symlink(bundle.root.join("scripts/async_requests"), &absolute).unwrap();
    // A chain, the last link relative.
    let chained = links.join("areq");
    std::os::unix::fs::symlink("async_requests", &chained).unwrap();
    for link in [&absolute, &chained] {
        let out = output_watched({
            let mut command = Command::new("/bin/bash");
            command
                .arg(link)
                .arg("--version")
                .current_dir(&bundle.home)
                .env_clear()
                .env(
                    "PATH",
                    format!("{}:/usr/bin:/bin", bundle.path_dir.display()),
                )
                .env("HOME", &bundle.home);
            command
        });
        assert_version(&out, "async_requests");
    }
    // `sh scripts/...`: dash, not bash.
    let out = output_watched({
        let mut command = bundle.command("async_timeout", &["--version"]);
        let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
        let mut sh = Command::new("/bin/sh");
        sh.args(args).current_dir(&bundle.home).env_clear();
        for (key, value) in command.get_envs() {
            if let Some(value) = value {
                sh.env(key, value);
            }
        }
        command = sh;
        command
    });
    assert_version(&out, "async_timeout");
    // CDPATH names a folder that also holds bundle/scripts/lib: the
    // launcher still finds its own folder, and says nothing on stdout.
    let decoy = bundle.home.join("decoy");
    std::fs::create_dir_all(decoy.join("bundle/scripts/lib")).unwrap();
    let out = output_watched({
        let mut command = Command::new("/bin/bash");
        command
            .arg("bundle/scripts/find_blocking_calls")
            .arg("--version")
            .current_dir(bundle.root.parent().unwrap())
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", bundle.path_dir.display()),
            )
            .env("HOME", &bundle.home)
            .env("CDPATH", &decoy);
        command
    });
    assert_version(&out, "find_blocking_calls");
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn the_wheels_launchers_run_through_links_and_relative_path_entries() {
    // The wheel's bin/ as pip lays it out: the binary and one sh launcher per
    // tool (packaging/wheel-data/scripts).
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("venv/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(multicall_binary(), bin.join("async-patterns")).unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("packaging/wheel-data/scripts");
    for tool in TOOL_NAMES {
        std::fs::copy(data.join(tool), bin.join(tool)).unwrap();
        std::fs::set_permissions(bin.join(tool), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let links = dir.path().join("links");
    std::fs::create_dir(&links).unwrap();
    std::os::unix::fs::symlink("../venv/bin/async_requests", links.join("async_requests")).unwrap();
    std::os::unix::fs::symlink(links.join("async_requests"), links.join("areq")).unwrap();
    let sh = |program: &str, path: &str| {
        let mut command = Command::new(program);
        command
            .arg("--version")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", path);
        output_watched(command)
    };
    for (program, path) in [
        ("links/async_requests", "/usr/bin:/bin"),
        ("links/areq", "/usr/bin:/bin"),
        ("async_requests", "links:/usr/bin:/bin"),
        ("async_requests", "venv/bin:/usr/bin:/bin"),
    ] {
        let out = sh(program, path);
        assert_version(&out, "async_requests");
    }
}

#[test]
fn the_binary_follows_links_to_a_tool_name_and_ignores_case_and_exe() {
    let dir = tempfile::tempdir().unwrap();
    let tool_link = dir.path().join("async_requests");
    std::os::unix::fs::symlink(multicall_binary(), &tool_link).unwrap();
    // A name of the user's own for a tool's link.
    let alias_dir = dir.path().join("bin");
    std::fs::create_dir(&alias_dir).unwrap();
    std::os::unix::fs::symlink(&tool_link, alias_dir.join("areq")).unwrap();
    for (program, path) in [
        (alias_dir.join("areq"), "/usr/bin:/bin".to_string()),
        // Found on PATH: argv[0] is the bare name.
        (
            PathBuf::from("areq"),
            format!("{}:/usr/bin:/bin", alias_dir.display()),
        ),
    ] {
        let out = output_watched({
            let mut command = Command::new(&program);
            command.arg("--version").env("PATH", path);
            command
        });
        assert_version(&out, "async_requests");
    }
    for name in ["ASYNC_REQUESTS.EXE", "Async_Requests"] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(multicall_binary(), &link).unwrap();
        let out = output_watched({
            let mut command = Command::new(&link);
            command.arg("--version");
            command
        });
        assert_version(&out, "async_requests");
    }
    // `async-patterns help <tool>` is the tool's help.
    let out = output_watched({
        let mut command = Command::new(multicall_binary());
        command.args(["help", "requests"]);
        command
    });
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("--concurrency"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_state_folder_deleted_mid_build_is_not_a_failed_build() {
    let bundle = Bundle::source(true);
    let mut launcher = bundle.command("async_requests", &["--version"]);
    launcher
        .env("FAKE_CARGO_SLEEP", "2")
        .env("ASYNC_PATTERNS_BUILD_WAIT", "30");
    let launcher = std::thread::spawn(move || output_watched(launcher));
    wait_for_text(&bundle.state().join("log"), "Compiling");
    std::fs::remove_dir_all(bundle.state()).unwrap();
    let out = launcher.join().unwrap();
    assert_version(&out, "async_requests");
}

#[test]
fn a_failing_build_answers_every_launcher_waiting_for_it() {
    let bundle = Bundle::source(true);
    let launches: Vec<_> = ["async_requests", "async_timeout", "build"]
        .into_iter()
        .map(|tool| {
            let mut command = bundle.command(tool, &[]);
            command
                .env("FAKE_CARGO_SLEEP", "1")
                .env("FAKE_CARGO_FAIL", "1");
            std::thread::spawn(move || output_watched(command))
        })
        .collect();
    for launch in launches {
        let out = launch.join().unwrap();
        assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
        assert_eq!(launcher_doc(&out).error.kind, "build_failed");
        assert!(text(&out.stderr).contains("error[E0425]"));
    }
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn scripts_build_joins_the_build_a_tool_started() {
    let bundle = Bundle::source(true);
    let first = output_watched({
        let mut command = bundle.command("async_requests", &["--version"]);
        command
            .env("FAKE_CARGO_SLEEP", "2")
            .env("ASYNC_PATTERNS_BUILD_WAIT", "0");
        command
    });
    assert_eq!(first.status.code(), Some(75));
    let built = output_watched(bundle.command("build", &[]));
    assert_eq!(built.status.code(), Some(0), "{}", text(&built.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&built.stdout).unwrap();
    assert_eq!(doc["version"], VERSION);
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn the_binary_by_its_own_name_keeps_the_contract() {
    let run = |args: &[&str]| {
        output_watched({
            let mut command = Command::new(multicall_binary());
            command.args(args);
            command
        })
    };
    // No tool, or an unknown one: exit 2, the usage document on stdout,
    // the usage in words on stderr.
    for args in [&[][..], &["request"][..], &[""][..], &["--bogus"][..]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let doc: common::wire::UsageError = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|error| panic!("{args:?}: {error}: {}", text(&out.stdout)));
        assert_eq!(doc.tool, "async-patterns");
        assert_eq!(doc.version, VERSION);
        assert_eq!(doc.error.kind, "invalid_input");
        assert_eq!(doc.error.field.as_deref(), Some("tool"));
        assert!(text(&out.stderr).contains("Usage:"), "{args:?}");
    }
    for flag in ["--version", "-V"] {
        let out = run(&[flag]);
        assert_version(&out, "async-patterns");
    }
    for flag in ["--help", "-h", "help"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        let usage = text(&out.stdout);
        for tool in TOOL_NAMES {
            assert!(usage.contains(tool), "{flag}: {usage}");
        }
    }
    // A tool's own flags after its subcommand (or its name).
    for word in ["requests", "async_requests"] {
        assert_version(&run(&[word, "--version"]), "async_requests");
    }
}
