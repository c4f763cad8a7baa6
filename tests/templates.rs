//! The service templates in `assets/templates/` are code an agent copies, so
//! both twins are started as real processes, served over loopback and sent
//! real signals, and each test runs against both:
//!
//! - the protocol, its limits, and a graceful drain on SIGTERM;
//! - a second signal exits at once, while a request is still in flight;
//! - idle connections (silent, half a line, or not reading their replies)
//!   are closed after the idle timeout, so they cannot hold every slot;
//! - a client that pipelines requests and never reads cannot keep the
//!   service alive past its grace period;
//! - after the first signal, HEALTH reports DRAINING and new connections are
//!   still accepted for `SERVICE_DRAIN_DELAY_MS`.
//!
//! The tokio template is compiled into this test binary (`#[path]` below) and
//! runs in a child process that is this binary again; the asyncio one runs
//! under `python3`.

mod common;

#[allow(dead_code)] // the tests drive `run`; the template's own `main` is not called here
#[path = "../assets/templates/tokio-service/src/main.rs"]
#[allow(unreachable_pub)] // a binary of its own, where `pub` is its API
mod tokio_service;

use common::python_interpreter;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The environment both templates read, tuned for a quick test; each test
/// overrides what it exercises.
const SERVICE_ENV: &[(&str, &str)] = &[
    ("SERVICE_ADDR", "127.0.0.1:0"),
    ("SERVICE_CONCURRENCY", "4"),
    ("SERVICE_MAX_CONNECTIONS", "2"),
    ("SERVICE_REQUEST_TIMEOUT_MS", "1000"),
    ("SERVICE_IDLE_TIMEOUT_MS", "10000"),
    ("SERVICE_SHUTDOWN_GRACE_MS", "5000"),
];

/// The longest a test waits for anything the service should do promptly
/// (a bound on a hang, not a speed requirement).
const PATIENCE: Duration = Duration::from_secs(10);

/// Set in the environment of the re-executed test binary that plays the
/// tokio template's process.
const TOKIO_CHILD: &str = "ASYNC_PATTERNS_TOKIO_TEMPLATE_CHILD";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Clone, Copy, Debug)]
enum Template {
    Asyncio,
    Tokio,
}

impl Template {
    fn name(self) -> &'static str {
        match self {
            Template::Asyncio => "asyncio-service.py",
            Template::Tokio => "tokio-service",
        }
    }

    /// Starts the template with `SERVICE_ENV`, then `env` on top, and waits
    /// for the address it announces.
    fn start(self, env: &[(&str, &str)]) -> Service {
        let mut command = match self {
            Template::Asyncio => {
                let mut command = Command::new(python_interpreter());
                command
                    .args(["-W", "error::DeprecationWarning"])
                    .arg(root().join("assets/templates/asyncio-service.py"))
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                command
            }
            Template::Tokio => {
                // This binary again, running only `tokio_service_template_child`.
                let mut command = Command::new(std::env::current_exe().unwrap());
                command
                    .args([
                        "--exact",
                        "tokio_service_template_child",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(TOKIO_CHILD, "1");
                command
            }
        };
        common::without_proxies(&mut command);
        let mut child = command
            .envs(SERVICE_ENV.iter().copied())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", self.name()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        // The address follows "listening on " (a re-executed test binary
        // prints its own words first, on the same line).
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((_, addr)) = line.split_once("listening on ") {
                    let _ = addr_tx.send(addr.trim().to_string());
                }
            }
        });
        let (log_tx, log_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = log_tx.send(line);
            }
        });
        let mut service = Service {
            name: self.name(),
            child,
            addr: String::new(),
            log_rx,
            log: Vec::new(),
        };
        match addr_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => service.addr = addr,
            Err(_) => {
                let _ = service.child.kill();
                let _ = service.child.wait();
                let log = service.log_text();
                panic!("{} never said where it listens:\n{log}", service.name);
            }
        }
        service
    }
}

/// A running template.
struct Service {
    name: &'static str,
    child: Child,
    addr: String,
    log_rx: Receiver<String>,
    /// Its stderr lines read so far.
    log: Vec<String>,
}

impl Service {
    fn connect(&self) -> Connection {
        Connection::open(&self.addr)
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        let sent = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(sent, 0, "{}: kill({signal})", self.name);
    }

    /// Its whole log so far (waits for nothing).
    fn log_text(&mut self) -> String {
        while let Ok(line) = self.log_rx.try_recv() {
            self.log.push(line);
        }
        self.log.join("\n")
    }

    /// Waits for a log line containing `text`.
    fn wait_for_log(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.log.iter().any(|line| line.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log_rx.recv_timeout(left) {
                Ok(line) => self.log.push(line),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    let log = self.log_text();
                    panic!(
                        "{}: no log line with {text:?} within {PATIENCE:?}:\n{log}",
                        self.name
                    )
                }
            }
        }
    }

    /// Waits for the process to exit; kills it and fails when it outlives
    /// `limit`.
    fn wait_exit(&mut self, limit: Duration, after: &str) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The log ends when the process does; collect the rest.
                while let Ok(line) = self.log_rx.recv_timeout(Duration::from_secs(5)) {
                    self.log.push(line);
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let log = self.log_text();
                panic!("{} still ran {limit:?} after {after}:\n{log}", self.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Polls HEALTH on `connection` until the reply is `expected`.
    fn wait_for_health(&self, connection: &mut Connection, expected: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let reply = connection.ask("HEALTH");
            if reply == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: HEALTH never said {expected:?} (last: {reply:?})",
                self.name
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A new connection that is not told BUSY, waiting at most `patience`
    /// for a connection slot to free.
    fn connect_past_busy(&self, patience: Duration) -> Connection {
        let deadline = Instant::now() + patience;
        loop {
            let mut candidate = self.connect();
            // A refused connection may be closed before our request arrives:
            // the write can fail, and the reply is then BUSY or nothing.
            let _ = writeln!(candidate.writer, "HEALTH");
            match candidate.reply_or_closed().as_str() {
                "BUSY" | "" => {
                    assert!(
                        Instant::now() < deadline,
                        "{}: no connection slot freed within {patience:?}",
                        self.name
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                reply => {
                    assert_eq!(reply, "OK in_flight=0", "{}", self.name);
                    return candidate;
                }
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A line-protocol client of the templates.
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    fn open(addr: &str) -> Self {
        let stream =
            TcpStream::connect(addr).unwrap_or_else(|error| panic!("connect {addr}: {error}"));
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        Connection {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn send(&mut self, request: &str) {
        writeln!(self.writer, "{request}").unwrap();
    }

    /// The next reply line, or "" at end of stream.
    fn reply(&mut self) -> String {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .expect("a reply within the read timeout");
        line.trim_end().to_string()
    }

    /// The next reply line, or "" when the connection ended, cleanly or with
    /// a reset (a server closing with unread input resets it).
    fn reply_or_closed(&mut self) -> String {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(_) => line.trim_end().to_string(),
            Err(error) if is_timeout(&error) => panic!("no reply and no close: {error}"),
            Err(_) => String::new(),
        }
    }

    /// Whether the service closes this connection (without a reply) within
    /// `limit`.
    fn closed_within(&mut self, limit: Duration) -> bool {
        self.writer.set_read_timeout(Some(limit)).unwrap();
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => panic!("expected no reply, got {:?}", byte[0] as char),
            Err(error) if is_timeout(&error) => false,
            Err(_) => true, // reset
        }
    }

    fn ask(&mut self, request: &str) -> String {
        self.send(request);
        self.reply()
    }
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// A client that pipelines requests and never reads a reply: 1 MB of them,
/// each a 2-byte request that earns a 45-byte ERROR reply, so the replies
/// (23 MB) outgrow every buffer between us and the service stops reading
/// once they fill.
fn pipeline_without_reading(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    // Most of the megabyte waits in the socket buffers; if they are full
    // before it is all written, the service has the backlog it needs.
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let requests = b"x\n".repeat(512 * 1024);
    match (&stream).write_all(&requests) {
        Ok(()) => {}
        Err(error) if is_timeout(&error) => {}
        // With a short idle timeout the service may drop us first.
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
            ) => {}
        Err(error) => panic!("pipelining: {error}"),
    }
    stream
}

/// Waits until the service has stopped reading `stream` (a pipelining
/// client's connection): the unread bytes at its end, which fall while it
/// works through them, stay the same for a second. Then its replies fill every
/// buffer, its writes wait, and it has unsent replies of its own.
fn wait_until_service_stops_reading(stream: &TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    let mut steady_since = Instant::now();
    loop {
        let unread = service_unread_bytes(stream);
        if unread.is_none_or(|bytes| bytes == 0) || unread != last {
            last = unread;
            steady_since = Instant::now();
        } else if steady_since.elapsed() >= Duration::from_secs(1) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the service never stopped reading (unread: {unread:?})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The bytes waiting unread at the service's end of `stream`: the
/// `rx_queue` of its socket in /proc/net/tcp (Linux, IPv4 loopback).
fn service_unread_bytes(stream: &TcpStream) -> Option<u64> {
    let (ours, theirs) = (stream.local_addr().ok()?, stream.peer_addr().ok()?);
    let port = |address: &str| u16::from_str_radix(address.rsplit(':').next()?, 16).ok();
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    // "sl local_address rem_address st tx_queue:rx_queue ...", ports in hex.
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, remote, queues) = (fields.get(1)?, fields.get(2)?, fields.get(4)?);
        if port(local)? != theirs.port() || port(remote)? != ours.port() {
            return None;
        }
        u64::from_str_radix(queues.split_once(':')?.1, 16).ok()
    })
}

/// Generates one test per template from a function taking the template.
macro_rules! for_both_templates {
    ($($check:ident => ($asyncio:ident, $tokio:ident),)*) => {$(
        #[test]
        fn $asyncio() {
            $check(Template::Asyncio);
        }

        #[test]
        fn $tokio() {
            $check(Template::Tokio);
        }
    )*};
}

for_both_templates! {
    serves_and_drains_on_sigterm => (
        asyncio_service_serves_and_drains_on_sigterm,
        tokio_service_serves_and_drains_on_sigterm
    ),
    second_signal_exits_at_once => (
        asyncio_service_second_signal_exits_at_once,
        tokio_service_second_signal_exits_at_once
    ),
    closes_idle_connections => (
        asyncio_service_closes_idle_connections,
        tokio_service_closes_idle_connections
    ),
    drops_a_client_that_stops_reading => (
        asyncio_service_drops_a_client_that_stops_reading,
        tokio_service_drops_a_client_that_stops_reading
    ),
    exits_in_its_grace_period_when_a_client_never_reads => (
        asyncio_service_exits_in_its_grace_period_when_a_client_never_reads,
        tokio_service_exits_in_its_grace_period_when_a_client_never_reads
    ),
    keeps_accepting_while_draining => (
        asyncio_service_keeps_accepting_while_draining,
        tokio_service_keeps_accepting_while_draining
    ),
}

/// The protocol, its limits, and a graceful shutdown on SIGTERM.
fn serves_and_drains_on_sigterm(template: Template) {
    let mut service = template.start(&[]);
    let name = service.name;
    let mut a = service.connect();
    assert_eq!(a.ask("HEALTH"), "OK in_flight=0", "{name}");
    assert_eq!(a.ask("WORK 20"), "DONE 20", "{name}");
    assert_eq!(
        a.ask("WORK 10000"),
        "TIMEOUT",
        "{name}: the 1000 ms request timeout"
    );
    assert!(a.ask("FROBNICATE").starts_with("ERROR "), "{name}");
    assert!(a.ask("WORK soon").starts_with("ERROR "), "{name}");
    // A digit to str.isdigit(), not to int(): an error reply, not a crash.
    assert!(a.ask("WORK ²").starts_with("ERROR "), "{name}: WORK ²");
    assert!(a.ask("WORK +5").starts_with("ERROR "), "{name}: WORK +5");
    let long_line = "W".repeat(5000);
    let mut b = service.connect();
    assert!(
        b.ask(&long_line).starts_with("ERROR "),
        "{name}: a 5000-byte line"
    );
    assert_eq!(
        b.reply_or_closed(),
        "",
        "{name}: closes after a line too long"
    );

    // Two connections are the limit: a third is told BUSY and closed. (The
    // slot of the connection closed above is freed just after its close.)
    let mut b = service.connect_past_busy(PATIENCE);
    let mut c = service.connect();
    assert_eq!(c.reply(), "BUSY", "{name}: SERVICE_MAX_CONNECTIONS=2");
    assert_eq!(c.reply(), "", "{name}");

    // A request in flight when SIGTERM comes is answered, then all closes.
    b.send("WORK 250");
    service.wait_for_health(&mut a, "OK in_flight=1");
    service.signal(libc::SIGTERM);
    assert_eq!(
        b.reply(),
        "DONE 250",
        "{name}: the request in flight is drained"
    );
    assert_eq!(b.reply(), "", "{name}: then the connection closes");
    assert_eq!(
        a.reply(),
        "",
        "{name}: the idle connection is closed on shutdown"
    );
    let status = service.wait_exit(PATIENCE, "SIGTERM");
    let log = service.log_text();
    assert!(status.success(), "{name} exited with {status}:\n{log}");
    assert!(log.contains("shutdown complete"), "{name}'s log:\n{log}");
    assert!(
        TcpStream::connect(&service.addr).is_err(),
        "{name}: nothing listens after the exit"
    );
}

/// The first Ctrl-C drains; the second one must not wait for the drain (here
/// a 30 s request with a 60 s grace period).
fn second_signal_exits_at_once(template: Template) {
    let mut service = template.start(&[
        ("SERVICE_REQUEST_TIMEOUT_MS", "60000"),
        ("SERVICE_SHUTDOWN_GRACE_MS", "60000"),
    ]);
    let name = service.name;
    let mut a = service.connect();
    let mut b = service.connect();
    b.send("WORK 30000");
    service.wait_for_health(&mut a, "OK in_flight=1");
    service.signal(libc::SIGINT);
    service.wait_for_log("shutting down");
    service.signal(libc::SIGINT);
    let status = service.wait_exit(PATIENCE, "a second SIGINT");
    assert_eq!(
        status.code(),
        Some(130),
        "{name}: 128 + SIGINT\n{}",
        service.log_text()
    );
    assert_eq!(
        b.reply_or_closed(),
        "",
        "{name}: the request was not finished"
    );
}

/// A silent client and one that sends half a line are closed after the idle
/// timeout, which frees the connection slots they held.
fn closes_idle_connections(template: Template) {
    let service = template.start(&[
        ("SERVICE_MAX_CONNECTIONS", "2"),
        ("SERVICE_IDLE_TIMEOUT_MS", "300"),
    ]);
    let name = service.name;
    let mut silent = service.connect();
    let mut slow = service.connect();
    slow.writer.write_all(b"HEA").unwrap(); // and never the rest of the line
    assert!(
        silent.closed_within(PATIENCE),
        "{name}: a silent connection outlived the 300 ms idle timeout"
    );
    assert!(
        slow.closed_within(PATIENCE),
        "{name}: half a line kept the connection open past the idle timeout"
    );
    let mut fresh = service.connect_past_busy(PATIENCE);
    assert_eq!(fresh.ask("WORK 10"), "DONE 10", "{name}");
}

/// A client that stops reading its replies is dropped after the idle timeout:
/// with one connection slot, the next client is served. (Before it is stuck,
/// the service answers requests until the replies fill the socket buffers,
/// up to a few MB: seconds on a loaded machine, hence the patience.)
fn drops_a_client_that_stops_reading(template: Template) {
    let service = template.start(&[
        ("SERVICE_MAX_CONNECTIONS", "1"),
        ("SERVICE_IDLE_TIMEOUT_MS", "300"),
    ]);
    let _stuck = pipeline_without_reading(&service.addr);
    let mut next = service.connect_past_busy(Duration::from_secs(60));
    assert_eq!(next.ask("WORK 10"), "DONE 10", "{}", service.name);
}

/// Graceful shutdown with a client that pipelines requests and never reads:
/// the service must still exit when the grace period ends (the idle timeout
/// is set far away so that only the shutdown path is tested).
fn exits_in_its_grace_period_when_a_client_never_reads(template: Template) {
    let mut service = template.start(&[
        ("SERVICE_SHUTDOWN_GRACE_MS", "500"),
        ("SERVICE_IDLE_TIMEOUT_MS", "600000"),
    ]);
    let name = service.name;
    let stuck = pipeline_without_reading(&service.addr);
    // Stuck on its replies, not merely busy: that is when its close() has
    // unsent bytes to wait for.
    wait_until_service_stops_reading(&stuck);
    service.signal(libc::SIGTERM);
    let status = service.wait_exit(PATIENCE, "SIGTERM, with a 500 ms grace period");
    let log = service.log_text();
    assert!(status.success(), "{name} exited with {status}:\n{log}");
}

/// After SIGTERM, readiness turns first: HEALTH says DRAINING, and new
/// connections are still served for the drain delay; then the service
/// closes and exits as usual.
fn keeps_accepting_while_draining(template: Template) {
    let mut service = template.start(&[("SERVICE_DRAIN_DELAY_MS", "3000")]);
    let name = service.name;
    let mut a = service.connect();
    assert_eq!(a.ask("HEALTH"), "OK in_flight=0", "{name}");
    service.signal(libc::SIGTERM);
    service.wait_for_health(&mut a, "DRAINING in_flight=0");
    let mut late = service.connect();
    assert_eq!(
        late.ask("HEALTH"),
        "DRAINING in_flight=0",
        "{name}: a connection made while draining is served"
    );
    assert_eq!(late.ask("WORK 10"), "DONE 10", "{name}");
    let status = service.wait_exit(PATIENCE, "SIGTERM");
    let log = service.log_text();
    assert!(status.success(), "{name} exited with {status}:\n{log}");
    assert_eq!(a.reply_or_closed(), "", "{name}: closed after the delay");
    assert!(
        TcpStream::connect(&service.addr).is_err(),
        "{name}: nothing listens after the exit"
    );
}

/// Not a test of its own: the process the tokio tests start. Returns at once
/// unless a test set `TOKIO_CHILD`.
#[test]
fn tokio_service_template_child() {
    if std::env::var_os(TOKIO_CHILD).is_none() {
        return;
    }
    let config = tokio_service::Config::from_env().expect("SERVICE_* settings");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(tokio_service::run(config))
        .expect("the service runs and shuts down cleanly");
}
