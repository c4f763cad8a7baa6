//! What `bash scripts/package` makes, used the way a user gets it:
//!
//! - the zip, unpacked by `unzip` and by an extractor that drops file modes
//!   (Python's `zipfile`, like some agent products' upload paths), run with
//!   a PATH that has no cargo, rustc or `~/.cargo`: the demo and every tool
//!   work, from the prebuilt binary, which needs no glibc newer than 2.17;
//! - the wheel, installed into a fresh venv: every tool runs from its bin/.
//!
//! The package is built once per run of this file (a release build through
//! zig: minutes). The script installs maturin and ziglang itself.

mod common;

use common::TOOL_NAMES;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The artifacts of one `scripts/package` run.
struct Package {
    zip: PathBuf,
    wheel: PathBuf,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageSummary {
    version: String,
    target: String,
    zip: String,
    zip_bytes: u64,
    wheel: String,
    wheel_bytes: u64,
    binary_bytes: u64,
    glibc_max: String,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files a test put in the work tree, removed when it ends (even by a panic).
struct Planted(Vec<PathBuf>);

impl Drop for Planted {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What a stray file in the work tree is called (untracked: not shipped).
const STRAY: &str = "assets/.package-test-untracked.md";

fn package() -> &'static Package {
    static PACKAGE: OnceLock<Package> = OnceLock::new();
    PACKAGE.get_or_init(|| {
        // A work tree as a developer's is: an untracked file among what is
        // shipped, and an unrelated wheel of this version in dist/, newer
        // than anything the script makes.
        std::fs::create_dir_all(repo().join("dist")).unwrap();
        let decoy = repo().join(format!("dist/async_patterns-{VERSION}-py3-none-any.whl"));
        let _planted = Planted(vec![repo().join(STRAY), decoy.clone()]);
        std::fs::write(repo().join(STRAY), "an editor's leftover\n").unwrap();
        std::fs::write(&decoy, "not a wheel").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&decoy)
            .unwrap()
            .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600))
            .unwrap();
        let output = Command::new("bash")
            .arg("scripts/package")
            .current_dir(repo())
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/package");
        assert!(output.status.success(), "scripts/package failed");
        let summary: PackageSummary = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{error}: {}", text(&output.stdout)));
        assert_eq!(summary.version, VERSION);
        assert_eq!(summary.target, "x86_64-unknown-linux-gnu");
        assert_eq!(summary.glibc_max, "2.17");
        assert!(summary.zip_bytes > 0 && summary.wheel_bytes > 0 && summary.binary_bytes > 0);
        assert!(
            summary.wheel.contains("manylinux") && summary.wheel.ends_with("x86_64.whl"),
            "the wheel just made, not another in dist/: {}",
            summary.wheel
        );
        Package {
            zip: repo().join(summary.zip),
            wheel: repo().join(summary.wheel),
        }
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command with nothing of the developer's environment: no cargo, rustc
/// or `~/.cargo` anywhere on PATH, and a fresh home.
fn bare(program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Command {
    for dir in ["/usr/bin", "/bin"] {
        assert!(
            !Path::new(dir).join("cargo").exists(),
            "{dir}/cargo exists: this test needs a PATH without cargo"
        );
    }
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .current_dir(home);
    command
}

fn assert_ok(output: &Output, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{what}\nstdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Unpacks the zip with `unzip` (modes and links kept).
fn unzip(zip: &Path, into: &Path) {
    let status = Command::new("unzip")
        .arg("-q")
        .arg(zip)
        .arg("-d")
        .arg(into)
        .status()
        .expect("unzip");
    assert!(status.success());
}

/// Unpacks the zip with Python's `zipfile`, which drops every file mode
/// (no run bits) and writes links as small text files.
fn extract_dropping_modes(zip: &Path, into: &Path) {
    let status = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(zip)
        .arg(into)
        .status()
        .expect("python3 zipfile");
    assert!(status.success());
    let binary = into.join("async-patterns/bin/linux-x86_64/async-patterns");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&binary).unwrap().permissions());
    assert_eq!(mode & 0o111, 0, "the extractor really dropped the run bit");
}

fn check_bundle(skill: &Path) {
    let home = tempfile::tempdir().unwrap();
    for absent in ["src", "target", "Cargo.toml", "tests"] {
        assert!(!skill.join(absent).exists(), "{absent} is not shipped");
    }
    assert!(
        !skill.join(STRAY).exists(),
        "untracked files are not shipped"
    );
    // The size the launchers check the binary against.
    let binary = skill.join("bin/linux-x86_64/async-patterns");
    let size = std::fs::read_to_string(binary.with_extension("size")).unwrap();
    assert_eq!(
        size.trim(),
        std::fs::metadata(&binary).unwrap().len().to_string()
    );
    for present in [
        "SKILL.md",
        "README.md",
        "LICENSE",
        "VERSION",
        "scripts/demo",
        "references",
        "assets/schemas",
    ] {
        assert!(skill.join(present).exists(), "{present} is shipped");
    }
    let demo = bare("bash", home.path())
        .arg(skill.join("scripts/demo"))
        .output()
        .unwrap();
    assert_ok(&demo, "scripts/demo from the bundle");
    assert!(text(&demo.stderr).contains("every step exited as expected"));

    for tool in TOOL_NAMES {
        let out = bare("bash", home.path())
            .arg(skill.join("scripts").join(tool))
            .arg("--version")
            .output()
            .unwrap();
        assert_ok(&out, tool);
        assert_eq!(text(&out.stdout).trim(), format!("{tool} {VERSION}"));
    }
    // A first real result, and nothing was built for it.
    let out = bare("bash", home.path())
        .arg(skill.join("scripts/async_file_reader"))
        .arg(skill.join("VERSION"))
        .output()
        .unwrap();
    assert_ok(&out, "async_file_reader on the bundle's VERSION");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["results"][0]["lines"], 1);
    assert!(!skill.join("target").exists());
    let cached_builds = std::fs::read_dir(home.path().join(".cache/async-patterns"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|entry| entry.file_name().to_string_lossy().starts_with("target"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(cached_builds, 0, "nothing was built");
}

#[test]
fn the_bundle_runs_without_cargo_when_unpacked_by_unzip() {
    let dir = tempfile::tempdir().unwrap();
    unzip(&package().zip, dir.path());
    let skill = dir.path().join("async-patterns");
    let linked = skill.join("bin/linux-x86_64/async_requests");
    assert!(
        linked.is_symlink(),
        "tool names are links to the one binary"
    );
    check_bundle(&skill);
}

#[test]
fn the_bundle_runs_without_cargo_when_the_extractor_drops_file_modes() {
    let dir = tempfile::tempdir().unwrap();
    extract_dropping_modes(&package().zip, dir.path());
    check_bundle(&dir.path().join("async-patterns"));
}

#[test]
fn the_bundle_binary_needs_no_glibc_newer_than_2_17() {
    let dir = tempfile::tempdir().unwrap();
    unzip(&package().zip, dir.path());
    let binary = dir
        .path()
        .join("async-patterns/bin/linux-x86_64/async-patterns");
    let dump = Command::new("objdump")
        .arg("-T")
        .arg(&binary)
        .output()
        .unwrap();
    assert!(dump.status.success());
    let symbols = text(&dump.stdout);
    let mut newest = (2u32, 0u32);
    for version in symbols.split("GLIBC_").skip(1) {
        let digits: String = version
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = digits
            .split('.')
            .map(|part| part.parse::<u32>().unwrap_or(0));
        let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        newest = newest.max(found);
    }
    assert!(newest <= (2, 17), "needs glibc {}.{}", newest.0, newest.1);
    assert!(
        symbols.contains("GLIBC_2."),
        "dynamically linked against glibc"
    );
}

#[test]
fn the_wheel_puts_every_tool_on_a_fresh_venvs_path() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let installed = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--no-index",
            "--disable-pip-version-check",
        ])
        .arg(&package().wheel)
        .output()
        .unwrap();
    assert_ok(&installed, "pip install the wheel");

    let bin = venv.join("bin");
    let home = tempfile::tempdir().unwrap();
    for tool in TOOL_NAMES {
        let out = bare(bin.join(tool), home.path())
            .arg("--version")
            .output()
            .unwrap();
        assert_ok(&out, tool);
        assert!(
            text(&out.stdout).trim().ends_with(VERSION),
            "{tool}: {}",
            text(&out.stdout)
        );
    }
    let out = bare(bin.join("async-patterns"), home.path())
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        format!("async-patterns {VERSION}")
    );

    // Real work through the wheel's launchers: a request to its demo API,
    // a file read, a command run, a scan.
    let mut server = bare(bin.join("demo_api"), home.path())
        .arg("--exit-on-stdin-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut url,
    )
    .unwrap();
    let url = url.trim();
    let source = home.path().join("handler.py");
    std::fs::write(
        &source,
        "import time\nasync def handler():\n    time.sleep(1)\n",
    )
    .unwrap();
    let runs: [(&str, Vec<String>, i32); 4] = [
        ("async_requests", vec![format!("{url}/json/2")], 0),
        ("async_file_reader", vec![source.display().to_string()], 0),
        ("async_timeout", vec!["echo hi".to_string()], 0),
        ("find_blocking_calls", vec![source.display().to_string()], 1),
    ];
    for (tool, args, code) in runs {
        let out = bare(bin.join(tool), home.path())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{tool}: {}",
            text(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["tool"], tool);
        assert_eq!(doc["summary"]["total"], 1);
    }
    let _ = server.kill();
    let _ = server.wait();
}
