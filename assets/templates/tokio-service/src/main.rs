//! A tokio service skeleton: a line-based TCP service with bounded
//! concurrency, a timeout on every request, a health check, and a graceful
//! shutdown on SIGINT/SIGTERM (stop accepting, close idle connections, let
//! requests in flight finish within a grace period, then exit 0).
//!
//! Protocol, one request a line, one reply a line:
//!
//! ```text
//! HEALTH      -> OK in_flight=N
//! WORK <ms>   -> DONE <ms> | TIMEOUT          (stands for your real work)
//! anything    -> ERROR ...
//! (too many connections: BUSY, then the connection closes)
//! ```
//!
//! Settings come from the environment, with these defaults: `SERVICE_ADDR`
//! (127.0.0.1:8080), `SERVICE_CONCURRENCY` (64 requests worked on at once),
//! `SERVICE_MAX_CONNECTIONS` (1024), `SERVICE_REQUEST_TIMEOUT_MS` (5000),
//! `SERVICE_SHUTDOWN_GRACE_MS` (10000). The first line on stdout is
//! `listening on HOST:PORT`; logs go to stderr. Unix only (SIGTERM).
//!
//! The asyncio twin is `../asyncio-service.py`; both are tested by
//! async-patterns' `tests/references.rs`. Replace `handle` with your work.

use std::future::Future;
use std::io;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The longest request line: a client cannot make the service buffer more.
const MAX_LINE: usize = 1024;

/// What the service reads from its environment.
pub struct Config {
    pub addr: String,
    pub concurrency: usize,
    pub max_connections: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        Ok(Config {
            addr: std::env::var("SERVICE_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into()),
            concurrency: env_number("SERVICE_CONCURRENCY", 64)? as usize,
            max_connections: env_number("SERVICE_MAX_CONNECTIONS", 1024)? as usize,
            request_timeout: Duration::from_millis(env_number("SERVICE_REQUEST_TIMEOUT_MS", 5000)?),
            shutdown_grace: Duration::from_millis(env_number("SERVICE_SHUTDOWN_GRACE_MS", 10_000)?),
        })
    }
}

/// A positive whole number from the environment, or `default` when unset.
fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(number) if number > 0 => Ok(number),
            _ => Err(format!("{name}={text:?}: expected a whole number above 0")),
        },
    }
}

/// What every connection task shares.
struct Shared {
    config: Config,
    /// Bounded concurrency: one permit per request being worked on.
    work_slots: Semaphore,
    in_flight: AtomicUsize,
    /// Cancelled once, on SIGINT/SIGTERM: idle connections close at once.
    shutdown: CancellationToken,
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("service: {message}");
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("service: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until SIGINT or SIGTERM, then drains and returns.
pub async fn run(config: Config) -> io::Result<()> {
    // Register the handlers before announcing the address: a supervisor may
    // send SIGTERM the moment it sees us listening.
    let mut stop = std::pin::pin!(shutdown_signal()?);
    let listener = TcpListener::bind(&config.addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let shared = Arc::new(Shared {
        work_slots: Semaphore::new(config.concurrency),
        in_flight: AtomicUsize::new(0),
        shutdown: CancellationToken::new(),
        config,
    });
    let connection_slots = Arc::new(Semaphore::new(shared.config.max_connections));
    // A TaskTracker (unlike a JoinSet) forgets finished tasks at once, so a
    // long-running accept loop does not pile up their results.
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors, or a peer gone before accept:
                    // neither is a reason to stop serving everyone else.
                    eprintln!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = connection_slots.clone().try_acquire_owned() else {
            // Shed load: saying BUSY now beats queueing without bound.
            connections.spawn(refuse(stream));
            continue;
        };
        let shared = shared.clone();
        connections.spawn(async move {
            if let Err(error) = serve_connection(stream, &shared).await {
                eprintln!("{peer}: {error}");
            }
            drop(slot);
        });
    }
    drop(listener); // new connections are refused from here on
    eprintln!(
        "shutting down: draining {} connection(s)",
        connections.len()
    );
    shared.shutdown.cancel();
    connections.close();
    if tokio::time::timeout(shared.config.shutdown_grace, connections.wait())
        .await
        .is_err()
    {
        // Returning drops the runtime, which cancels what is left.
        eprintln!(
            "grace period over: dropping {} connection(s)",
            connections.len()
        );
    }
    eprintln!("shutdown complete");
    Ok(())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM (`kill`, `docker stop`,
/// systemd). Registering happens now; waiting happens when awaited.
fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

async fn refuse(mut stream: TcpStream) {
    let _ = stream.write_all(b"BUSY\n").await;
}

/// Answers requests until the client leaves or the service shuts down. A
/// request already read is always answered before the connection closes.
async fn serve_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_LINE as u64 + 1);
        let read = tokio::select! {
            // `read_line` is not cancel-safe (a half-read line is lost), which
            // is fine here: the connection closes anyway.
            _ = shared.shutdown.cancelled() => return Ok(()),
            read = limited.read_line(&mut line) => read?,
        };
        if read == 0 {
            return Ok(()); // the client closed the connection
        }
        if line.len() > MAX_LINE {
            writer.write_all(b"ERROR line too long\n").await?;
            return Ok(());
        }
        let reply = respond(line.trim(), shared).await;
        writer.write_all(format!("{reply}\n").as_bytes()).await?;
    }
}

async fn respond(request: &str, shared: &Shared) -> String {
    let mut words = request.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("HEALTH"), None, _) => {
            format!("OK in_flight={}", shared.in_flight.load(Ordering::SeqCst))
        }
        (Some("WORK"), Some(ms), None) => match ms.parse::<u64>() {
            Ok(ms) => work(Duration::from_millis(ms), shared).await,
            Err(_) => "ERROR WORK takes a whole number of milliseconds".into(),
        },
        _ => "ERROR unknown request (HEALTH, or WORK <ms>)".into(),
    }
}

/// One request under the service's limits. The timeout covers the wait for a
/// slot too: it is the caller's clock that matters.
async fn work(duration: Duration, shared: &Shared) -> String {
    let limited = async {
        let Ok(_slot) = shared.work_slots.acquire().await else {
            return "ERROR shutting down".to_string(); // only if the semaphore is closed
        };
        let _counted = InFlight::enter(&shared.in_flight);
        handle(duration).await
    };
    match tokio::time::timeout(shared.config.request_timeout, limited).await {
        Ok(reply) => reply,
        // The timeout dropped `limited`: its slot and count were released by
        // their Drop impls, Rust's `finally`.
        Err(_elapsed) => "TIMEOUT".into(),
    }
}

/// Counts a request as in flight until dropped (finished, timed out or
/// cancelled alike).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Your work goes here. It stands for I/O (a query, an HTTP call); a timeout
/// or shutdown cancels it by dropping this future at its next `.await`.
async fn handle(duration: Duration) -> String {
    tokio::time::sleep(duration).await;
    format!("DONE {}", duration.as_millis())
}
