//! The direct client's connections: hyper's HTTP/1 over plain TCP, kept in a
//! pool of our own.
//!
//! hyper-util's pooled client did the same job with machinery a plain
//! `http://` request to a few hosts does not need: the pool key (scheme and
//! authority) cloned, hashed and dropped several times a request, a
//! connection lent through a boxed `Pooled` guard, the request URI cloned
//! and rewritten, and a task spawned after every response to wait until the
//! connection was idle again before it went back. Together about a tenth of
//! a small request's user-space instructions (BENCHMARKS.md, workload 2).
//!
//! Here a connection goes back to the pool when hyper says it is ready for
//! the next request, which it is, in the common case, by the time its
//! response's body has been read to the end (hyper's connection task goes
//! idle in the same turn): then at once, with no task. One still busy when
//! its response is dropped (the rest of a body cut short, which hyper drains
//! if it already has it and closes the connection otherwise; an upload the
//! server answered before reading it) waits on a task of its own, as
//! hyper-util made every connection wait, and goes back only if it becomes
//! ready. So a connection that may still carry part of an old answer is
//! never lent. What hyper-util also did, kept: a request that a
//! reused connection closed under before sending a byte of it is sent again
//! on another; idle connections are dropped after [`POOL_IDLE`], and at most
//! `max_idle_per_host` are kept a host. Added: at most 256 (or one host's
//! fill, if more) in all, the one idle longest making room, so a run over
//! thousands of hosts does not hold a file descriptor for each.

use super::client::DirectResolver;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower_service::Service;

/// How long an idle connection is kept.
pub(super) const POOL_IDLE: Duration = Duration::from_secs(30);

type Sender = SendRequest<Full<Bytes>>;

/// The pooled client of plain `http://` requests without a proxy.
pub(super) struct DirectClient {
    connector: HttpConnector<DirectResolver>,
    pool: Arc<Pool>,
}

impl DirectClient {
    pub(super) fn new(connector: HttpConnector<DirectResolver>, max_idle_per_host: usize) -> Self {
        DirectClient {
            connector,
            pool: Arc::new(Pool::new(
                max_idle_per_host,
                max_idle_per_host.max(IDLE_TOTAL_FLOOR),
            )),
        }
    }

    /// A service sending requests to `authority` (`host[:port]`, as the URL
    /// writes it): what tower-http's decoding layer wraps.
    pub(super) fn to<'a>(&'a self, authority: &'a str) -> SendTo<'a> {
        SendTo {
            client: self,
            authority,
        }
    }

    /// Sends `request` (its target in origin form, its `Host` set) on a
    /// pooled connection to `authority`, or a new one.
    async fn send(
        &self,
        mut request: hyper::Request<Full<Bytes>>,
        authority: &str,
    ) -> Result<hyper::Response<PooledBody>, DirectError> {
        loop {
            let (mut sender, host, reused) = match self.pool.take(authority, Instant::now()) {
                Some((sender, host)) => (sender, host, true),
                None => {
                    let (sender, host) = self.connect(authority).await?;
                    (sender, host, false)
                }
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let lent = Lent {
                        sender: Some(sender),
                        host,
                        pool: self.pool.clone(),
                    };
                    return Ok(response.map(|body| PooledBody { body, _lent: lent }));
                }
                Err(mut failed) => match failed.take_message() {
                    // Closed before a byte of the request went out: on a
                    // reused connection that is the server ending an idle
                    // connection as it was picked, and another will do.
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(DirectError::Send(failed.into_error())),
                },
            }
        }
    }

    /// Opens a connection to `authority` and starts its task.
    async fn connect(&self, authority: &str) -> Result<(Sender, Arc<str>), DirectError> {
        let target: hyper::Uri = format!("http://{authority}/")
            .parse()
            .map_err(|error| DirectError::Connect(Box::new(error)))?;
        let io = self
            .connector
            .clone()
            .call(target)
            .await
            .map_err(|error| DirectError::Connect(error.into()))?;
        let (sender, connection) = http1::Builder::new()
            .handshake::<TokioIo<_>, Full<Bytes>>(io)
            .await
            .map_err(|error| DirectError::Connect(Box::new(error)))?;
        // The task ends when the connection closes, or when every sender
        // is dropped and it is idle; its error is the one a request sees.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok((sender, self.pool.key(authority)))
    }
}

/// [`DirectClient::send`] to one authority, as a tower service.
pub(super) struct SendTo<'a> {
    client: &'a DirectClient,
    authority: &'a str,
}

type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<hyper::Response<PooledBody>, DirectError>> + Send + 'a>>;

impl<'a> Service<hyper::Request<Full<Bytes>>> for SendTo<'a> {
    type Response = hyper::Response<PooledBody>;
    type Error = DirectError;
    type Future = SendFuture<'a>;

    /// Always ready: the pool waits inside the call.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DirectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: hyper::Request<Full<Bytes>>) -> SendFuture<'a> {
        let (client, authority) = (self.client, self.authority);
        Box::pin(client.send(request, authority))
    }
}

/// Why a direct exchange failed; the cause is the error's source.
#[derive(Debug)]
pub(super) enum DirectError {
    /// Opening the connection (resolving, connecting).
    Connect(Box<dyn StdError + Send + Sync>),
    /// Sending the request or reading the response's head.
    Send(hyper::Error),
}

impl DirectError {
    pub(super) fn is_connect(&self) -> bool {
        matches!(self, DirectError::Connect(_))
    }
}

impl std::fmt::Display for DirectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DirectError::Connect(_) => "cannot connect",
            DirectError::Send(_) => "cannot send the request",
        })
    }
}

impl StdError for DirectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            DirectError::Connect(error) => Some(&**error),
            DirectError::Send(error) => Some(error),
        }
    }
}

/// A response's body, holding the connection it arrives on until it is
/// dropped.
pub(super) struct PooledBody {
    body: Incoming,
    /// Held for its `Drop`, which gives the connection back.
    _lent: Lent,
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The connections not in use, by host.
struct Pool {
    idle: Mutex<IdleSet>,
    max_idle_per_host: usize,
    /// Over all hosts: each idle connection holds a file descriptor, and a
    /// run over thousands of hosts would otherwise keep one a host for
    /// [`POOL_IDLE`].
    max_idle_total: usize,
}

/// The least the direct client's [`Pool::max_idle_total`] is, whatever the
/// concurrency (it is at least the fill of one host).
const IDLE_TOTAL_FLOOR: usize = 256;

struct IdleSet {
    /// Only hosts with idle connections.
    hosts: HashMap<Arc<str>, Host>,
    /// Idle connections over all hosts.
    total: usize,
    /// When connections idle too long were last dropped everywhere.
    swept: Instant,
}

struct Host {
    /// The map's key, handed to every connection lent for this host.
    key: Arc<str>,
    /// Oldest first: connections are taken and given back at the end.
    idle: Vec<Idle>,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// The connection a response arrived on; back to the pool when dropped,
/// once ready for another request.
struct Lent {
    /// Always `Some` until dropped (a value with `Drop` cannot be taken
    /// apart otherwise).
    sender: Option<Sender>,
    host: Arc<str>,
    pool: Arc<Pool>,
}

impl Drop for Lent {
    fn drop(&mut self) {
        let Some(mut sender) = self.sender.take() else {
            return;
        };
        if sender.is_ready() {
            self.pool.give_back(&self.host, sender, Instant::now());
            return;
        }
        if sender.is_closed() {
            return;
        }
        // Still busy with this exchange: back if it becomes ready, dropped
        // if it closes. (Outside a runtime, as when the run ends, dropped.)
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (pool, host) = (self.pool.clone(), self.host.clone());
            runtime.spawn(async move {
                if sender.ready().await.is_ok() {
                    pool.give_back(&host, sender, Instant::now());
                }
            });
        }
    }
}

impl Pool {
    /// A pool keeping at most `max_idle_per_host` idle connections a host
    /// and `max_idle_total` in all (both at least 1).
    fn new(max_idle_per_host: usize, max_idle_total: usize) -> Self {
        Pool {
            idle: Mutex::new(IdleSet {
                hosts: HashMap::new(),
                total: 0,
                swept: Instant::now(),
            }),
            max_idle_per_host: max_idle_per_host.max(1),
            max_idle_total: max_idle_total.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, IdleSet> {
        // A panic elsewhere while holding the lock leaves a consistent map.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The pool's name for `authority`: one string shared by its
    /// connections while it has idle ones.
    fn key(&self, authority: &str) -> Arc<str> {
        match self.lock().hosts.get(authority) {
            Some(host) => host.key.clone(),
            None => Arc::from(authority),
        }
    }

    /// The most recently used connection to `authority` that is idle and
    /// ready for a request. Connections met closed, or idle too long, are
    /// dropped. [`Lent`] gives connections back only once ready, so one not
    /// ready is never lent but passed over (and left for later), as a guard
    /// rather than a case that arises.
    fn take(&self, authority: &str, now: Instant) -> Option<(Sender, Arc<str>)> {
        let mut guard = self.lock();
        let set = &mut *guard;
        let host = set.hosts.get_mut(authority)?;
        let before = host.idle.len();
        let mut found = None;
        let mut at = before;
        while at > 0 {
            at -= 1;
            let candidate = &host.idle[at];
            if now.duration_since(candidate.since) >= POOL_IDLE {
                // Those before it were given back earlier still.
                host.idle.drain(..=at);
                break;
            }
            if candidate.sender.is_ready() {
                found = Some(host.idle.remove(at).sender);
                break;
            }
            if candidate.sender.is_closed() {
                host.idle.remove(at);
            }
        }
        set.total -= before - host.idle.len();
        let key = host.key.clone();
        if host.idle.is_empty() {
            set.hosts.remove(authority);
        }
        found.map(|sender| (sender, key))
    }

    /// Keeps `sender` as an idle connection to `host`, unless it is closed
    /// or the host has its fill; drops connections idle too long, and the
    /// one idle longest anywhere when the pool is past its fill.
    fn give_back(&self, host: &Arc<str>, sender: Sender, now: Instant) {
        if sender.is_closed() {
            return;
        }
        let mut guard = self.lock();
        let set = &mut *guard;
        if now.duration_since(set.swept) >= POOL_IDLE {
            set.swept = now;
            set.hosts.retain(|_, host| {
                host.idle
                    .retain(|idle| now.duration_since(idle.since) < POOL_IDLE);
                !host.idle.is_empty()
            });
            set.total = set.hosts.values().map(|host| host.idle.len()).sum();
        }
        let kept = set.hosts.entry(host.clone()).or_insert_with(|| Host {
            key: host.clone(),
            idle: Vec::new(),
        });
        // Oldest first: usually one look says none is stale.
        if kept
            .idle
            .first()
            .is_some_and(|oldest| now.duration_since(oldest.since) >= POOL_IDLE)
        {
            let stale = kept
                .idle
                .partition_point(|idle| now.duration_since(idle.since) >= POOL_IDLE);
            kept.idle.drain(..stale);
            set.total -= stale;
        }
        if kept.idle.len() >= self.max_idle_per_host {
            return;
        }
        kept.idle.push(Idle { sender, since: now });
        set.total += 1;
        if set.total > self.max_idle_total {
            set.evict_oldest();
        }
    }
}

impl IdleSet {
    /// Drops the connection idle longest, of any host. A scan of the hosts
    /// (at most the pool's fill), only when the pool is past its fill.
    fn evict_oldest(&mut self) {
        let oldest = self
            .hosts
            .values()
            .filter_map(|host| host.idle.first().map(|idle| (idle.since, &host.key)))
            .min_by_key(|(since, _)| *since)
            .map(|(_, key)| key.clone());
        let Some(key) = oldest else { return };
        if let Some(host) = self.hosts.get_mut(&key) {
            host.idle.remove(0);
            self.total -= 1;
            if host.idle.is_empty() {
                self.hosts.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real HTTP/1 connection over an in-memory pipe, ready for a
    /// request; the pipe's other end is the server's (dropping it closes the
    /// connection).
    async fn connection() -> (Sender, tokio::io::DuplexStream) {
        let (client, server) = tokio::io::duplex(1024);
        let (sender, connection) = http1::handshake(TokioIo::new(client)).await.unwrap();
        tokio::spawn(connection);
        settle(|| sender.is_ready()).await;
        assert!(sender.is_ready());
        (sender, server)
    }

    /// Lets the connections' tasks run until `done` (at most 1,000 turns).
    async fn settle(done: impl Fn() -> bool) {
        for _ in 0..1000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
    }

    fn idle_count(pool: &Pool, host: &str) -> usize {
        pool.lock()
            .hosts
            .get(host)
            .map_or(0, |host| host.idle.len())
    }

    #[tokio::test]
    async fn a_host_keeps_its_fill_of_idle_connections_until_they_go_stale() {
        let pool = Pool::new(2, 8);
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        let _ends = give_back_one_each(&pool, &["127.0.0.1:1"; 3], start).await;
        let host = pool.lock().hosts["127.0.0.1:1"].key.clone();
        assert_eq!(
            idle_count(&pool, "127.0.0.1:1"),
            2,
            "the third is past the fill"
        );
        assert!(
            pool.take("127.0.0.1:2", at(2)).is_none(),
            "another host has none"
        );
        let (_, key) = pool.take("127.0.0.1:1", at(2)).expect("an idle one");
        assert!(Arc::ptr_eq(&key, &host));
        assert_eq!(idle_count(&pool, "127.0.0.1:1"), 1);
        // The one left was given back at 0: stale at 30.
        assert!(pool.take("127.0.0.1:1", at(30)).is_none());
        assert_eq!(idle_count(&pool, "127.0.0.1:1"), 0);

        // Giving back after 30 s sweeps the stale ones of every host.
        let other = pool.key("127.0.0.1:2");
        let (sender, _end) = connection().await;
        pool.give_back(&other, sender, at(1));
        let (sender, _end2) = connection().await;
        pool.give_back(&host, sender, at(40));
        assert_eq!(idle_count(&pool, "127.0.0.1:2"), 0);
        assert_eq!(idle_count(&pool, "127.0.0.1:1"), 1);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_neither_kept_nor_lent() {
        let pool = Pool::new(4, 8);
        let now = Instant::now();
        let host = pool.key("127.0.0.1:1");

        let (sender, end) = connection().await;
        drop(end);
        settle(|| sender.is_closed()).await;
        assert!(sender.is_closed());
        pool.give_back(&host, sender, now);
        assert_eq!(idle_count(&pool, "127.0.0.1:1"), 0);

        let (sender, end) = connection().await;
        pool.give_back(&host, sender, now);
        assert_eq!(idle_count(&pool, "127.0.0.1:1"), 1);
        drop(end);
        settle(|| {
            pool.lock().hosts["127.0.0.1:1"]
                .idle
                .iter()
                .all(|idle| idle.sender.is_closed())
        })
        .await;
        assert!(pool.take("127.0.0.1:1", now).is_none());
        assert_eq!(idle_count(&pool, "127.0.0.1:1"), 0);
    }

    #[tokio::test]
    async fn a_connection_still_busy_is_passed_over_not_waited_for() {
        let pool = Pool::new(4, 8);
        let now = Instant::now();
        let host = pool.key("127.0.0.1:1");
        let (ready, _end) = connection().await;
        pool.give_back(&host, ready, now);
        // A request the server never answers keeps this one busy.
        let (mut busy, _busy_end) = connection().await;
        let _unanswered = busy.send_request(hyper::Request::new(Full::new(Bytes::new())));
        assert!(!busy.is_ready() && !busy.is_closed());
        pool.give_back(&host, busy, now);
        assert_eq!(idle_count(&pool, "127.0.0.1:1"), 2);

        let (lent, _) = pool.take("127.0.0.1:1", now).expect("the ready one");
        assert!(lent.is_ready());
        assert!(pool.take("127.0.0.1:1", now).is_none(), "not the busy one");
        assert_eq!(idle_count(&pool, "127.0.0.1:1"), 1, "kept for later");
    }

    /// Gives back a new connection to each host, at `start` plus its
    /// place in the list in seconds; the pipes' server ends are returned
    /// (dropping them closes the connections).
    async fn give_back_one_each(
        pool: &Pool,
        hosts: &[&str],
        start: Instant,
    ) -> Vec<tokio::io::DuplexStream> {
        let mut ends = Vec::new();
        for (given, host) in hosts.iter().enumerate() {
            let (sender, end) = connection().await;
            ends.push(end);
            let at = start + Duration::from_secs(given as u64);
            pool.give_back(&pool.key(host), sender, at);
        }
        ends
    }

    #[tokio::test]
    async fn a_full_pool_drops_the_connection_idle_longest_of_any_host() {
        let pool = Pool::new(4, 3);
        let start = Instant::now();
        let _ends = give_back_one_each(&pool, &["a:1", "b:1", "a:1", "c:1"], start).await;
        // a's first (given at 0) made room for c's.
        assert_eq!(pool.lock().total, 3);
        assert_eq!(idle_count(&pool, "a:1"), 1);
        assert_eq!(idle_count(&pool, "b:1"), 1);
        assert_eq!(idle_count(&pool, "c:1"), 1);
        let (sender, _end) = connection().await;
        pool.give_back(&pool.key("d:1"), sender, start + Duration::from_secs(4));
        assert!(!pool.lock().hosts.contains_key("b:1"), "b's was the oldest");
        assert_eq!(pool.lock().total, 3);
        assert!(pool.take("a:1", start + Duration::from_secs(5)).is_some());
        assert!(
            !pool.lock().hosts.contains_key("a:1"),
            "an empty host is forgotten"
        );
        assert_eq!(pool.lock().total, 2);

        // A host at its own fill keeps no more, and costs no other host its
        // connection.
        let pool = Pool::new(1, 2);
        let _ends = give_back_one_each(&pool, &["b:1", "a:1", "a:1"], start).await;
        assert_eq!(idle_count(&pool, "a:1"), 1);
        assert_eq!(idle_count(&pool, "b:1"), 1);
    }

    /// A response dropped while its connection is still busy: the
    /// connection comes back once the exchange is over, not before.
    #[tokio::test]
    async fn a_connection_busy_when_its_response_is_dropped_comes_back_when_ready() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let pool = Arc::new(Pool::new(4, 8));
        let (mut sender, mut server) = connection().await;
        let unanswered = sender.send_request(hyper::Request::new(Full::new(Bytes::new())));
        drop(Lent {
            sender: Some(sender),
            host: pool.key("127.0.0.1:1"),
            pool: pool.clone(),
        });
        let mut request = [0u8; 256];
        let read = server.read(&mut request).await.unwrap();
        assert!(request[..read].starts_with(b"GET / HTTP/1.1"));
        settle(|| false).await;
        assert_eq!(idle_count(&pool, "127.0.0.1:1"), 0, "busy: not in the pool");

        server
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
        let response = unanswered.await.unwrap();
        drop(response);
        settle(|| idle_count(&pool, "127.0.0.1:1") == 1).await;
        assert_eq!(idle_count(&pool, "127.0.0.1:1"), 1, "ready: back");
        assert!(pool.take("127.0.0.1:1", Instant::now()).is_some());
    }
}
