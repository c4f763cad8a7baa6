//! The launchers in `scripts/`: they find their bundle from any directory,
//! run without the execute bit, build the release binaries only when missing
//! or stale (build chatter on stderr), say so clearly without cargo, and then
//! become the tool.
//!
//! Building for real takes minutes, so most tests run a copy of `scripts/` in a
//! temporary bundle with a stand-in `cargo` that records its calls and writes
//! stand-in binaries; the last test runs the real launchers on the binaries
//! cargo built for these tests.

mod common;

use common::binary;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TOOLS: [&str; 5] = [
    "async_requests",
    "async_file_reader",
    "async_timeout",
    "find_blocking_calls",
    "demo_api",
];

/// A copy of the bundle's launchers with fake sources, and a bin folder
/// holding only the commands the launchers need (plus, optionally, cargo).
struct Bundle {
    _dir: tempfile::TempDir,
    root: PathBuf,
    path_dir: PathBuf,
    log: PathBuf,
}

fn link_tool(dir: &Path, name: &str) {
    let found = ["/usr/bin", "/bin"]
        .iter()
        .map(|base| Path::new(base).join(name))
        .find(|path| path.exists());
    let target = found.unwrap_or_else(|| panic!("{name} is not installed"));
    std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
}

impl Bundle {
    fn new(with_cargo: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("bundle");
        std::fs::create_dir_all(root.join("scripts/lib")).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for file in [
            "scripts/lib/launch.sh",
            "scripts/async_requests",
            "scripts/async_timeout",
        ] {
            std::fs::copy(repo.join(file), root.join(file)).unwrap();
        }
        std::fs::write(root.join("src/lib.rs"), "// fake\n").unwrap();
        std::fs::write(root.join("Cargo.toml"), "# fake\n").unwrap();
        std::fs::write(root.join("Cargo.lock"), "# fake\n").unwrap();

        let path_dir = dir.path().join("bin");
        std::fs::create_dir(&path_dir).unwrap();
        for tool in [
            "env", "bash", "sh", "dirname", "find", "touch", "mkdir", "chmod", "cat",
        ] {
            link_tool(&path_dir, tool);
        }
        let log = dir.path().join("cargo.log");
        if with_cargo {
            let mut fake = String::from(
                "#!/usr/bin/env bash\necho \"$PWD: $*\" >> \"$FAKE_CARGO_LOG\"\necho '   Compiling async-patterns' >&2\nmkdir -p target/release\n",
            );
            for tool in TOOLS {
                fake.push_str(&format!(
                    "printf '#!/bin/sh\\necho \"{tool} ran with: $*\"\\n' > target/release/{tool}\nchmod +x target/release/{tool}\n"
                ));
            }
            let cargo = path_dir.join("cargo");
            std::fs::write(&cargo, fake).unwrap();
            std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Bundle {
            _dir: dir,
            root,
            path_dir,
            log,
        }
    }

    /// Runs `bash <bundle>/scripts/<tool> args` from an unrelated directory.
    fn launch(&self, tool: &str, args: &[&str]) -> Output {
        let elsewhere = tempfile::tempdir().unwrap();
        Command::new("/bin/bash")
            .arg(self.root.join("scripts").join(tool))
            .args(args)
            .current_dir(elsewhere.path())
            .env_clear()
            .env("PATH", &self.path_dir)
            .env("HOME", elsewhere.path())
            .env("FAKE_CARGO_LOG", &self.log)
            .output()
            .unwrap()
    }

    fn builds(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .map(|log| log.lines().count())
            .unwrap_or(0)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn builds_once_from_any_directory_then_execs_the_tool() {
    let bundle = Bundle::new(true);
    let first = bundle.launch("async_requests", &["--version", "two words"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(
        text(&first.stdout),
        "async_requests ran with: --version two words\n",
        "stdout is the tool's alone"
    );
    assert!(
        text(&first.stderr).contains("Compiling"),
        "build chatter goes to stderr"
    );
    assert_eq!(bundle.builds(), 1);
    let log = std::fs::read_to_string(&bundle.log).unwrap();
    assert!(
        log.starts_with(&format!("{}:", bundle.root.display())),
        "cargo ran in the bundle: {log}"
    );
    assert!(log.contains("build --release"), "{log}");

    // Fresh binaries: no second build, for this tool or another one.
    let again = bundle.launch("async_timeout", &["x"]);
    assert_eq!(text(&again.stdout), "async_timeout ran with: x\n");
    assert_eq!(bundle.builds(), 1);
}

#[test]
fn rebuilds_when_a_source_is_newer_than_the_binary() {
    let bundle = Bundle::new(true);
    bundle.launch("async_requests", &[]);
    assert_eq!(bundle.builds(), 1);
    let source = bundle.root.join("src/lib.rs");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&source)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let out = bundle.launch("async_requests", &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("sources changed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(bundle.builds(), 2);
}

#[test]
fn works_without_the_execute_bit() {
    let bundle = Bundle::new(true);
    let script = bundle.root.join("scripts/async_requests");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bundle.launch("async_requests", &["ok"]);
    assert_eq!(text(&out.stdout), "async_requests ran with: ok\n");
}

#[test]
fn says_clearly_when_cargo_is_missing() {
    let bundle = Bundle::new(false);
    let out = bundle.launch("async_requests", &["--version"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("cargo is not installed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn real_launchers_run_the_real_tools_from_another_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = binary("demo_api").parent().unwrap().to_path_buf();
    for tool in TOOLS {
        let out = Command::new("bash")
            .arg(repo.join("scripts").join(tool))
            .arg("--version")
            .current_dir(elsewhere.path())
            .env("ASYNC_PATTERNS_BIN_DIR", &bin_dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{tool}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout).trim(),
            format!("{tool} {}", env!("CARGO_PKG_VERSION"))
        );
    }
}
