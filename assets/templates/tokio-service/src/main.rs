//! A tokio service skeleton: a line-based TCP service with bounded
//! concurrency, a timeout on every request, an idle timeout on every
//! connection, a health check, and a graceful shutdown on SIGINT/SIGTERM
//! (report draining, optionally keep accepting for a delay, stop accepting,
//! close idle connections, let requests in flight finish within a grace
//! period, then exit 0). A second SIGINT/SIGTERM exits at once (130/143).
//!
//! Protocol, one request a line, one reply a line:
//!
//! ```text
//! HEALTH      -> OK in_flight=N | DRAINING in_flight=N (after the first signal)
//! WORK <ms>   -> DONE <ms> | TIMEOUT          (stands for your real work)
//! anything    -> ERROR ...
//! (too many connections: BUSY, then the connection closes)
//! ```
//!
//! Settings come from the environment, with these defaults: `SERVICE_ADDR`
//! (127.0.0.1:8080), `SERVICE_CONCURRENCY` (64 requests worked on at once),
//! `SERVICE_MAX_CONNECTIONS` (1024), `SERVICE_REQUEST_TIMEOUT_MS` (5000),
//! `SERVICE_IDLE_TIMEOUT_MS` (30000: a connection that sends no complete
//! request, or takes no reply, for that long is closed),
//! `SERVICE_DRAIN_DELAY_MS` (0: how long to keep accepting after the first
//! signal, while HEALTH says DRAINING, so a load balancer stops routing here
//! before the listener closes), `SERVICE_SHUTDOWN_GRACE_MS` (10000). The first line on stdout is
//! `listening on HOST:PORT`; logs go to stderr. Unix only (SIGTERM).
//!
//! The asyncio twin is `../asyncio-service.py`; both are tested by
//! async-patterns' `tests/templates.rs`. Replace `handle` with your work.

use std::future::Future;
use std::io;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{Signal, SignalKind, signal};
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
    pub idle_timeout: Duration,
    pub drain_delay: Duration,
    pub shutdown_grace: Duration,
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        Ok(Config {
            addr: std::env::var("SERVICE_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into()),
            concurrency: env_number("SERVICE_CONCURRENCY", 64, 1)? as usize,
            max_connections: env_number("SERVICE_MAX_CONNECTIONS", 1024, 1)? as usize,
            request_timeout: millis("SERVICE_REQUEST_TIMEOUT_MS", 5000, 1)?,
            idle_timeout: millis("SERVICE_IDLE_TIMEOUT_MS", 30_000, 1)?,
            drain_delay: millis("SERVICE_DRAIN_DELAY_MS", 0, 0)?,
            shutdown_grace: millis("SERVICE_SHUTDOWN_GRACE_MS", 10_000, 1)?,
        })
    }
}

/// A whole number of at least `minimum` from the environment, or `default`
/// when unset.
fn env_number(name: &str, default: u64, minimum: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => match digits(text.trim()).then(|| text.trim().parse::<u64>()) {
            Some(Ok(number)) if number >= minimum => Ok(number),
            _ => Err(format!(
                "{name}={text:?}: expected a whole number, at least {minimum}"
            )),
        },
    }
}

fn millis(name: &str, default: u64, minimum: u64) -> Result<Duration, String> {
    env_number(name, default, minimum).map(Duration::from_millis)
}

/// Only ASCII digits: `parse::<u64>` alone also takes a leading `+`.
fn digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// What every connection task shares.
struct Shared {
    config: Config,
    /// Bounded concurrency: one permit per request being worked on.
    work_slots: Semaphore,
    in_flight: AtomicUsize,
    /// Set on the first SIGINT/SIGTERM: HEALTH says DRAINING (readiness).
    draining: AtomicBool,
    /// Cancelled once the listener is closed: idle connections close at once.
    shutdown: CancellationToken,
}

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("service: {message}");
            return ExitCode::from(2);
        }
    };
    // What #[tokio::main] does, but with a bounded end: dropping a runtime
    // waits for `spawn_blocking` work without any limit.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("service: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(config));
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("service: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until SIGINT or SIGTERM, then drains and returns. A second signal
/// exits the process at once.
pub async fn run(config: Config) -> io::Result<()> {
    // Register the handlers before announcing the address: a supervisor may
    // send SIGTERM the moment it sees us listening.
    let mut signals = Signals::register()?;
    let listener = TcpListener::bind(&config.addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let shared = Arc::new(Shared {
        work_slots: Semaphore::new(config.concurrency),
        in_flight: AtomicUsize::new(0),
        draining: AtomicBool::new(false),
        shutdown: CancellationToken::new(),
        config,
    });
    let server = Server {
        listener,
        connection_slots: Arc::new(Semaphore::new(shared.config.max_connections)),
        // A TaskTracker (unlike a JoinSet) forgets finished tasks at once, so a
        // long-running accept loop does not pile up their results.
        connections: TaskTracker::new(),
        shared: shared.clone(),
    };
    let name = server.accept_until(signals.next()).await;
    eprintln!("{name}: shutting down (send it again to exit at once)");
    // tokio's handlers stay installed for the life of the process: without
    // this task, a second Ctrl-C would do nothing while we drain.
    tokio::spawn(async move {
        let name = signals.next().await;
        eprintln!("{name} again: exiting now");
        std::process::exit(if name == "SIGINT" { 130 } else { 143 });
    });
    // Readiness first: HEALTH says DRAINING while we still accept, so a load
    // balancer that routes here for a few more seconds is not refused.
    shared.draining.store(true, Ordering::SeqCst);
    if !shared.config.drain_delay.is_zero() {
        eprintln!(
            "draining: still accepting for {:?}",
            shared.config.drain_delay
        );
        server
            .accept_until(tokio::time::sleep(shared.config.drain_delay))
            .await;
    }
    let Server {
        listener,
        connections,
        ..
    } = server;
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
        // Returning lets main shut the runtime down, which drops (cancels)
        // the tasks still running.
        eprintln!(
            "grace period over: dropping {} connection(s)",
            connections.len()
        );
    }
    eprintln!("shutdown complete");
    Ok(())
}

/// The listener and what its connections share.
struct Server {
    listener: TcpListener,
    connection_slots: Arc<Semaphore>,
    connections: TaskTracker,
    shared: Arc<Shared>,
}

impl Server {
    /// Accepts and serves connections until `stop` resolves; returns its output.
    async fn accept_until<T>(&self, stop: impl Future<Output = T>) -> T {
        let mut stop = std::pin::pin!(stop);
        loop {
            let (stream, peer) = tokio::select! {
                value = &mut stop => return value,
                accepted = self.listener.accept() => match accepted {
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
            let Ok(slot) = self.connection_slots.clone().try_acquire_owned() else {
                // Shed load: saying BUSY now beats queueing without bound.
                self.connections.spawn(refuse(stream));
                continue;
            };
            let shared = self.shared.clone();
            self.connections.spawn(async move {
                if let Err(error) = serve_connection(stream, &shared).await {
                    eprintln!("{peer}: {error}");
                }
                drop(slot);
            });
        }
    }
}

/// SIGINT (Ctrl-C) and SIGTERM (`kill`, `docker stop`, systemd), registered
/// when created; `next` waits for either and names it.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn register() -> io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

async fn refuse(mut stream: TcpStream) {
    let _ = stream.write_all(b"BUSY\n").await;
}

/// Answers requests until the client leaves, goes quiet for the idle timeout,
/// or the service shuts down. A request already read is always answered
/// before the connection closes.
async fn serve_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let idle = shared.config.idle_timeout;
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
            // The whole line within the idle timeout: a silent client, or one
            // sending a byte now and then, does not keep its slot.
            read = tokio::time::timeout(idle, limited.read_line(&mut line)) => match read {
                Ok(read) => read?,
                Err(_elapsed) => return Ok(()),
            },
        };
        if read == 0 {
            return Ok(()); // the client closed the connection
        }
        if line.len() > MAX_LINE {
            writer.write_all(b"ERROR line too long\n").await?;
            return Ok(());
        }
        let reply = respond(line.trim(), shared).await;
        // Back-pressure: wait while the client reads slowly, but not for ever
        // for a client that has stopped reading.
        let reply = format!("{reply}\n");
        match tokio::time::timeout(idle, writer.write_all(reply.as_bytes())).await {
            Ok(result) => result?,
            Err(_elapsed) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no reply taken within the idle timeout",
                ));
            }
        }
    }
}

async fn respond(request: &str, shared: &Shared) -> String {
    let mut words = request.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("HEALTH"), None, _) => {
            let state = match shared.draining.load(Ordering::SeqCst) {
                true => "DRAINING",
                false => "OK",
            };
            format!(
                "{state} in_flight={}",
                shared.in_flight.load(Ordering::SeqCst)
            )
        }
        (Some("WORK"), Some(ms), None) => match ms.parse::<u64>() {
            Ok(millis) if digits(ms) => work(Duration::from_millis(millis), shared).await,
            _ => "ERROR WORK takes a whole number of milliseconds".into(),
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
