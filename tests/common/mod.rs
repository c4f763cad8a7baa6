//! The shared test harness: spawns the real binaries (and the bundled
//! `demo_api` server on loopback), feeds them input, and reads their stdout
//! into test-side structs that reject unknown fields, so any change of the
//! wire format fails a test until the schema, docs and tests agree.
//!
//! Every child runs under a watchdog: a test can fail, never hang.

#![allow(dead_code)]
// each test binary uses its own part of the harness
// `pub` for the sibling modules of the harness; each test binary holds it
// as a private module.
#![allow(unreachable_pub)]

pub mod keep_alive;
pub mod raw_server;
pub mod schema;
pub mod wire;
pub mod wire_blocking;
pub mod wire_files;
pub mod wire_tasks;

use serde::de::DeserializeOwned;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest any spawned tool may run in a test before it is killed.
pub const WATCHDOG: Duration = Duration::from_secs(60);

/// The multicall binary cargo built for the tests.
pub fn multicall_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_async-patterns"))
}

/// The names the multicall binary answers to: each tool's, and its own.
pub const TOOL_NAMES: [&str; 5] = [
    "async_requests",
    "async_file_reader",
    "async_timeout",
    "find_blocking_calls",
    "demo_api",
];

/// Path of a tool: a link named after it to the one binary, so every test
/// also checks the dispatch on the name the binary was called by. The
/// folder also holds `async-patterns` itself (the launchers' `BIN_DIR`).
pub fn binary(name: &str) -> PathBuf {
    static TOOLS_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = TOOLS_DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tools");
        std::fs::create_dir_all(&dir).expect("create the tools folder");
        let target = multicall_binary();
        for name in TOOL_NAMES.iter().chain(&["async-patterns"]) {
            let link = dir.join(name);
            if std::fs::read_link(&link).ok().as_deref() == Some(target.as_path()) {
                continue;
            }
            // Test binaries may run at once: link under a private name, then
            // rename over (atomic), never remove-then-create.
            let private = dir.join(format!(".{name}.{}", std::process::id()));
            let _ = std::fs::remove_file(&private);
            std::os::unix::fs::symlink(&target, &private).expect("link a tool name");
            std::fs::rename(&private, &link).expect("put the tool link in place");
        }
        dir
    });
    dir.join(name)
}

/// The interpreter `python3` runs, resolved once: version managers (pyenv)
/// put a shell script in front of it that costs more than a short block.
pub fn python_interpreter() -> &'static std::path::Path {
    static RESOLVED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    RESOLVED.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("python3"))
    })
}

/// A running `demo_api` on 127.0.0.1; killed when dropped. It also exits on
/// its own when the test process dies (its stdin closes).
pub struct DemoServer {
    child: Child,
    pub url: String,
}

impl DemoServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// `args` such as `["--delay-scale", "0.1"]`.
    pub fn start_with(args: &[&str]) -> Self {
        let mut child = Command::new(binary("demo_api"))
            .args(["--exit-on-stdin-eof"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start demo_api");
        let stdout = child.stdout.take().expect("demo_api stdout");
        let mut first_line = String::new();
        BufReader::new(stdout)
            .read_line(&mut first_line)
            .expect("demo_api prints its URL");
        let url = first_line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "demo_api said {url:?}"
        );
        DemoServer { child, url }
    }

    /// `http://127.0.0.1:PORT` + path.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// `host:port`.
    pub fn authority(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// GET a path with a bare HTTP/1.0 request (the harness must not depend
    /// on the client it tests) and parse the JSON body.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let mut stream = TcpStream::connect(self.authority()).expect("connect to demo_api");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.authority()
        )
        .unwrap();
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read demo_api response");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
        serde_json::from_str(body).unwrap_or_else(|error| panic!("{path}: {error}: {response}"))
    }

    /// Requests the server has seen (excluding `/stats` itself).
    pub fn requests_seen(&self) -> u64 {
        self.get_json("/stats")["requests"].as_u64().unwrap()
    }

    pub fn max_in_flight(&self) -> u64 {
        self.get_json("/stats")["max_in_flight"].as_u64().unwrap()
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// What a finished tool run left behind.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// The stdout document, parsed strictly.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout does not match the test's schema: {error}\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The stdout NDJSON lines, each parsed strictly.
    pub fn lines<T: DeserializeOwned>(&self) -> Vec<T> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|error| {
                    panic!("line does not match the schema: {error}\n{line}")
                })
            })
            .collect()
    }

    /// Whether `needle` appears anywhere in stdout or stderr.
    pub fn mentions(&self, needle: &str) -> bool {
        self.stdout.contains(needle) || self.stderr.contains(needle)
    }
}

/// A tool invocation being built.
pub struct Tool {
    command: Command,
    stdin: Option<Vec<u8>>,
    /// Stdout is read only once this says so (or its sender is dropped).
    stdout_gate: Option<mpsc::Receiver<()>>,
}

/// Removes the proxy settings of the developer's environment from `command`:
/// no proxy may route a test's loopback traffic.
pub fn without_proxies(command: &mut Command) -> &mut Command {
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(var);
    }
    command
}

pub fn tool(name: &str) -> Tool {
    let mut command = Command::new(binary(name));
    without_proxies(&mut command);
    Tool {
        command,
        stdin: None,
        stdout_gate: None,
    }
}

impl Tool {
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.command.env(name, value);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<std::path::Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Nobody reads the tool's stdout until `gate` receives, or its sender
    /// is dropped: a reader slower than the tool.
    pub fn hold_stdout_until(mut self, gate: mpsc::Receiver<()>) -> Self {
        self.stdout_gate = Some(gate);
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Starts the tool without waiting (for signal tests).
    pub fn spawn(mut self) -> Running {
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = self.command.spawn().expect("spawn the tool");
        if let Some(input) = self.stdin.take() {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (out_tx, out_rx) = mpsc::channel();
        let gate = self.stdout_gate.take();
        std::thread::spawn(move || {
            if let Some(gate) = gate {
                let _ = gate.recv();
            }
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            let _ = out_tx.send(text);
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = err_tx.send(text);
        });
        Running {
            child,
            started,
            stdout: out_rx,
            stderr: err_rx,
        }
    }

    /// Runs the tool to the end (killed by the watchdog if it hangs).
    pub fn run(self) -> Output {
        self.spawn().wait()
    }
}

/// A tool still running.
pub struct Running {
    pub child: Child,
    started: Instant,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe {
            libc::kill(self.pid(), signal);
        }
    }

    pub fn wait(mut self) -> Output {
        let deadline = self.started + WATCHDOG;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the tool") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the tool ran longer than {WATCHDOG:?} and was killed");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.started.elapsed();
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        Output {
            code,
            stdout: self
                .stdout
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_default(),
            stderr: self
                .stderr
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_default(),
            elapsed,
        }
    }
}

/// The flags `--help` documents for every tool: the shared `CommonArgs`
/// and each tool's own `--timeout`.
pub const SHARED_FLAGS: &[&str] = &[
    "--input",
    "--concurrency",
    "--timeout",
    "--deadline",
    "--fail-fast",
    "--first",
    "--ndjson",
    "--output",
    "--progress",
    "--no-progress",
];

/// Runs `name --help` and asserts that it succeeds and mentions every shared
/// flag, every one of `own` (the tool's own flags), and its `Examples:` and
/// `Exit codes:` sections.
pub fn assert_help_documents(name: &str, own: &[&str]) {
    let out = tool(name).arg("--help").run();
    assert_eq!(out.code, 0, "{name} --help failed: {}", out.stderr);
    for flag in SHARED_FLAGS
        .iter()
        .chain(own)
        .chain(&["Examples:", "Exit codes:"])
    {
        assert!(out.stdout.contains(flag), "--help does not mention {flag}");
    }
}

/// Waits until `condition` holds, polling; panics after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Writes `content` to a fresh file in `dir` and returns its path.
pub fn write_file(dir: &std::path::Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Makes a FIFO (named pipe) at `path`.
pub fn mkfifo(path: &std::path::Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo reads a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
}

/// The write end of the FIFO at `path`, once a tool has opened its read end
/// (opening it without blocking fails until then). Items written to it and
/// never closed keep the tool reading.
pub fn fifo_writer(path: &std::path::Path) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    let mut writer = None;
    wait_until(Duration::from_secs(20), "the tool opening the FIFO", || {
        writer = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .ok();
        writer.is_some()
    });
    writer.unwrap()
}
