//! A small HTTP API on loopback, for the offline demo, the integration tests
//! and the benchmarks (binary `demo_api`).
//!
//! It serves the seed's three endpoints (`/summarize`, `/keywords`,
//! `/sentiment`, taking about 1.2, 0.9 and 1.1 s) and the awkward servers a
//! real HTTP client must survive: slow, flaky, rate-limiting, redirecting,
//! compressing, never-ending and echoing ones. `GET /` lists them all.
//!
//! It only ever binds a loopback address: nothing here is meant to be reachable
//! from another machine.

pub(crate) mod cli;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;

/// Settings of a demo server.
#[derive(Debug, Clone)]
pub(crate) struct DemoConfig {
    /// Multiplies the seed endpoints' delays (tests use a small factor).
    pub(crate) delay_scale: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig { delay_scale: 1.0 }
    }
}

/// Request counters, exposed at `/stats`.
#[derive(Default)]
struct Stats {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    requests: AtomicU64,
    arrivals: Mutex<Arrivals>,
}

/// When requests arrived: enough to check a client's rate limit from the
/// server's side.
#[derive(Default)]
struct Arrivals {
    first: Option<std::time::Instant>,
    last: Option<std::time::Instant>,
    /// The last arrival on the wall clock, for clients comparing with their own.
    last_unix: Option<SystemTime>,
    min_gap: Option<Duration>,
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Stats>);

impl InFlight {
    fn enter(stats: &Arc<Stats>) -> Self {
        stats.requests.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut arrivals) = stats.arrivals.lock() {
            let now = std::time::Instant::now();
            if let Some(last) = arrivals.last {
                let gap = now.duration_since(last);
                arrivals.min_gap = Some(arrivals.min_gap.map_or(gap, |min| min.min(gap)));
            }
            arrivals.first.get_or_insert(now);
            arrivals.last = Some(now);
            arrivals.last_unix = Some(SystemTime::now());
        }
        let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(stats.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Server {
    config: DemoConfig,
    stats: Arc<Stats>,
    /// Calls seen per `/flaky` id.
    flaky: Mutex<HashMap<String, u32>>,
    /// A simulated outage (`/outage/start`): every other endpoint fails until it ends.
    outage: Mutex<Option<Outage>>,
    base_url: String,
}

/// How the server fails during an outage, and until when.
#[derive(Debug, Clone, Copy)]
struct Outage {
    until: std::time::Instant,
    mode: OutageMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutageMode {
    /// Answer 503.
    Unavailable,
    /// Close the connection without answering.
    Close,
    /// Never answer (until the outage ends).
    Hang,
}

type DemoBody = Pin<Box<dyn Body<Data = Bytes, Error = Infallible> + Send>>;

/// A body produced chunk by chunk, optionally with a pause between chunks:
/// slow bodies, endless bodies and compressed streams without buffering.
struct GeneratedBody {
    next_chunk: Box<dyn FnMut() -> Option<Bytes> + Send>,
    interval: Option<Duration>,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for GeneratedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(pause) = self.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.pause = None;
        }
        match (self.next_chunk)() {
            Some(chunk) => {
                if let Some(interval) = self.interval {
                    self.pause = Some(Box::pin(tokio::time::sleep(interval)));
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            None => Poll::Ready(None),
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn full(bytes: impl Into<Bytes>) -> DemoBody {
    Box::pin(Full::new(bytes.into()))
}

fn json_response(status: StatusCode, value: &Value) -> Response<DemoBody> {
    let mut response = Response::new(full(serde_json::to_vec(value).unwrap_or_default()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn with_type(body: DemoBody, content_type: &'static str) -> Response<DemoBody> {
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn query_map(request: &Request<Incoming>) -> HashMap<String, String> {
    request
        .uri()
        .query()
        .map(|query| {
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

fn number<T: std::str::FromStr>(query: &HashMap<String, String>, name: &str, default: T) -> T {
    query
        .get(name)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The endpoints, as `GET /` lists them.
const ENDPOINTS: &[(&str, &str)] = &[
    (
        "/summarize, /keywords, /sentiment",
        "the seed's API: ~1.2 s, 0.9 s, 1.1 s (times --delay-scale); echoes the JSON it got",
    ),
    ("/delay/{ms}", "answers after ms milliseconds"),
    (
        "/status/{code}?retry_after=S&retry_after_date=S",
        "answers with that status, optionally with Retry-After (seconds or an HTTP date S seconds ahead)",
    ),
    (
        "/flaky?id=K&fail=N&code=503&retry_after=S",
        "the first N calls with id K fail with code, then 200",
    ),
    (
        "/bytes/{n}?chunk=SIZE&interval_ms=M&gzip=1",
        "n bytes of text, in chunks, optionally slow or gzip-compressed",
    ),
    (
        "/zeros/{n}?gzip=1",
        "n zero bytes (a compression bomb when gzipped)",
    ),
    ("/infinite", "a body that never ends"),
    ("/hang", "never answers"),
    ("/redirect?to=URL&code=302", "redirects to URL"),
    ("/redirect/chain/{n}", "n redirects, then /echo"),
    ("/redirect/loop", "redirects to itself forever"),
    (
        "/echo",
        "the request back as JSON: method, path, query, headers, body",
    ),
    ("/json/{n}", "a JSON document with n records (for --pick)"),
    (
        "/text, /bad-json, /binary",
        "plain text, invalid JSON labelled as JSON, non-UTF-8 bytes",
    ),
    (
        "/pages/link?total=N&per_page=K&page=P&delay_ms=M",
        "page P of N items; a Link: <...>; rel=\"next\" header while more remain",
    ),
    (
        "/pages/body?total=N&per_page=K&page=P",
        "page P of N items; the next page's URL in the body's \"next\" (null on the last)",
    ),
    (
        "/pages/cursor?total=N&per_page=K&cursor=C",
        "a page of N items after cursor C; the next cursor in \"next_cursor\" (null on the last)",
    ),
    (
        "/pages/loop?page=P",
        "pages whose next links go round in a circle (0, 1, 2, 0, ...)",
    ),
    (
        "/outage/start?ms=M&mode=503|close|hang, /outage/stop",
        "for M ms every other endpoint fails that way (a host that is down, then recovers)",
    ),
    (
        "/random/{n}?seed=S&chunk=SIZE&interval_ms=M&sha256=1",
        "n pseudo-random bytes (the same for the same seed), with Content-Length; sha256=1 answers their SHA-256 instead",
    ),
    (
        "/download/{name}?bytes=N&disposition=NAME",
        "N bytes named by the path, with Content-Disposition: attachment; filename=NAME when given",
    ),
    (
        "/stats, /stats/reset",
        "requests seen, the most in flight at once, and arrival spacing",
    ),
];

async fn route(server: Arc<Server>, request: Request<Incoming>) -> Response<DemoBody> {
    let path = request.uri().path().to_string();
    if path == "/stats" {
        let (span_ms, min_gap_ms, last_unix_ms) = match server.stats.arrivals.lock() {
            Ok(arrivals) => (
                arrivals
                    .first
                    .zip(arrivals.last)
                    .map(|(first, last)| last.duration_since(first).as_millis() as u64),
                arrivals.min_gap.map(|gap| gap.as_millis() as u64),
                arrivals
                    .last_unix
                    .and_then(|when| when.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map(|since| since.as_millis() as u64),
            ),
            Err(_) => (None, None, None),
        };
        return json_response(
            StatusCode::OK,
            &json!({
                "requests": server.stats.requests.load(Ordering::SeqCst),
                "in_flight": server.stats.in_flight.load(Ordering::SeqCst),
                "max_in_flight": server.stats.max_in_flight.load(Ordering::SeqCst),
                "arrival_span_ms": span_ms,
                "min_arrival_gap_ms": min_gap_ms,
                "last_arrival_unix_ms": last_unix_ms,
            }),
        );
    }
    if path == "/stats/reset" {
        server.stats.requests.store(0, Ordering::SeqCst);
        server.stats.max_in_flight.store(0, Ordering::SeqCst);
        if let Ok(mut arrivals) = server.stats.arrivals.lock() {
            *arrivals = Arrivals::default();
        }
        return json_response(StatusCode::OK, &json!({"reset": true}));
    }
    let _in_flight = InFlight::enter(&server.stats);
    let query = query_map(&request);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.first() != Some(&"outage")
        && let Some(failure) = outage_failure(&server).await
    {
        return failure;
    }
    match segments.as_slice() {
        [""] => {
            let endpoints: Map<String, Value> = ENDPOINTS
                .iter()
                .map(|(path, what)| (path.to_string(), Value::String(what.to_string())))
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"name": "async-patterns demo API", "endpoints": endpoints}),
            )
        }
        [endpoint @ ("summarize" | "keywords" | "sentiment")] => {
            let base_ms = match *endpoint {
                "summarize" => 1200.0,
                "keywords" => 900.0,
                _ => 1100.0,
            };
            let received = read_json(request).await;
            tokio::time::sleep(Duration::from_secs_f64(
                base_ms * server.config.delay_scale / 1000.0,
            ))
            .await;
            let text = received
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let result = match *endpoint {
                "summarize" => {
                    json!({"summary": text.split_whitespace().take(6).collect::<Vec<_>>().join(" ")})
                }
                "keywords" => {
                    let top_n = received.get("top_n").and_then(Value::as_u64).unwrap_or(3) as usize;
                    let mut words: Vec<String> = text
                        .split_whitespace()
                        .filter(|word| word.len() > 3)
                        .map(|word| word.to_lowercase())
                        .collect();
                    words.dedup();
                    words.truncate(top_n);
                    json!({"keywords": words})
                }
                _ => {
                    let positive = ["high", "quality", "good", "great"]
                        .iter()
                        .any(|word| text.to_lowercase().contains(word));
                    json!({"sentiment": if positive { "positive" } else { "neutral" }, "score": if positive { 0.9 } else { 0.5 }})
                }
            };
            json_response(
                StatusCode::OK,
                &json!({"endpoint": format!("/{endpoint}"), "result": result, "received": received}),
            )
        }
        ["delay", ms] => {
            let ms: u64 = ms.parse().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            json_response(StatusCode::OK, &json!({"delayed_ms": ms}))
        }
        ["status", code] => {
            let code = code
                .parse::<u16>()
                .ok()
                .and_then(|code| StatusCode::from_u16(code).ok())
                .unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = json_response(code, &json!({"status": code.as_u16()}));
            add_retry_after(&mut response, &query);
            response
        }
        ["flaky"] => {
            let key = query.get("id").cloned().unwrap_or_default();
            let fail: u32 = number(&query, "fail", 1);
            let code = StatusCode::from_u16(number(&query, "code", 503))
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let seen = {
                let mut calls = server
                    .flaky
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let count = calls.entry(key).or_insert(0);
                *count += 1;
                *count
            };
            if seen <= fail {
                let mut response = json_response(code, &json!({"attempt": seen, "failing": true}));
                add_retry_after(&mut response, &query);
                response
            } else {
                json_response(StatusCode::OK, &json!({"attempt": seen, "failing": false}))
            }
        }
        ["bytes", n] => {
            let total: u64 = n.parse().unwrap_or(0);
            let chunk: usize = number(&query, "chunk", 16 * 1024).max(1);
            let interval = query
                .get("interval_ms")
                .and_then(|ms| ms.parse().ok())
                .map(Duration::from_millis);
            let pattern = b"abcdefghijklmnopqrstuvwxyz0123456789\n";
            let mut sent = 0u64;
            let source = move || {
                if sent >= total {
                    return None;
                }
                let size = (total - sent).min(chunk as u64) as usize;
                let bytes: Vec<u8> = (0..size)
                    .map(|at| pattern[((sent as usize) + at) % pattern.len()])
                    .collect();
                sent += size as u64;
                Some(Bytes::from(bytes))
            };
            let gzip = query.contains_key("gzip");
            let mut response = generated(source, interval, gzip, "text/plain");
            if !gzip {
                response
                    .headers_mut()
                    .insert("content-length", HeaderValue::from(total));
            }
            response
        }
        ["zeros", n] => {
            let total: u64 = n.parse().unwrap_or(0);
            let mut sent = 0u64;
            let source = move || {
                if sent >= total {
                    return None;
                }
                let size = (total - sent).min(64 * 1024);
                sent += size;
                Some(Bytes::from(vec![0u8; size as usize]))
            };
            generated(
                source,
                None,
                query.contains_key("gzip"),
                "application/octet-stream",
            )
        }
        ["infinite"] => generated(
            || Some(Bytes::from_static(&[b'y'; 16 * 1024])),
            None,
            false,
            "text/plain",
        ),
        ["hang"] => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            json_response(StatusCode::OK, &json!({}))
        }
        ["redirect"] => {
            let target = query.get("to").cloned().unwrap_or_else(|| "/echo".into());
            redirect(number(&query, "code", 302), &target)
        }
        ["redirect", "loop"] => redirect(302, "/redirect/loop"),
        ["redirect", "chain", n] => {
            let left: u32 = n.parse().unwrap_or(0);
            if left == 0 {
                redirect(302, "/echo")
            } else {
                redirect(302, &format!("/redirect/chain/{}", left - 1))
            }
        }
        ["echo"] => {
            let method = request.method().to_string();
            let uri_query = request.uri().query().unwrap_or("").to_string();
            let mut headers = Map::new();
            for (name, value) in request.headers() {
                headers.insert(
                    name.to_string(),
                    Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
                );
            }
            let body = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            json_response(
                StatusCode::OK,
                &json!({
                    "method": method,
                    "path": path,
                    "query": uri_query,
                    "headers": headers,
                    "body": String::from_utf8_lossy(&body),
                    "server": server.base_url,
                }),
            )
        }
        ["json", n] => {
            let count: usize = n.parse().unwrap_or(0);
            let data: Vec<Value> = (0..count)
                .map(|id| json!({"id": id, "name": format!("item {id}"), "tags": ["a", "b"]}))
                .collect();
            json_response(StatusCode::OK, &json!({"total": count, "data": data}))
        }
        ["pages", style @ ("link" | "body" | "cursor" | "loop")] => {
            let delay = number(&query, "delay_ms", 0u64);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            page(&server.base_url, style, &query)
        }
        ["outage", "start"] => {
            let mode = match query.get("mode").map(String::as_str) {
                Some("close") => OutageMode::Close,
                Some("hang") => OutageMode::Hang,
                _ => OutageMode::Unavailable,
            };
            let until =
                std::time::Instant::now() + Duration::from_millis(number(&query, "ms", 1000));
            *server
                .outage
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Outage { until, mode });
            json_response(StatusCode::OK, &json!({"outage": true}))
        }
        ["outage", "stop"] => {
            *server
                .outage
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
            json_response(StatusCode::OK, &json!({"outage": false}))
        }
        ["random", n] => {
            let total: u64 = n.parse().unwrap_or(0);
            let seed: u64 = number(&query, "seed", 1);
            if query.contains_key("sha256") {
                use sha2::Digest;
                let mut hasher = sha2::Sha256::new();
                let mut stream = RandomBytes::new(seed, total, 256 * 1024);
                while let Some(chunk) = stream.next_chunk() {
                    hasher.update(&chunk);
                }
                let hex: String = hasher
                    .finalize()
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect();
                return json_response(StatusCode::OK, &json!({"bytes": total, "sha256": hex}));
            }
            let chunk: usize = number(&query, "chunk", 64 * 1024).max(1);
            let interval = query
                .get("interval_ms")
                .and_then(|ms| ms.parse().ok())
                .map(Duration::from_millis);
            let mut stream = RandomBytes::new(seed, total, chunk);
            let mut response = generated(
                move || stream.next_chunk(),
                interval,
                false,
                "application/octet-stream",
            );
            response
                .headers_mut()
                .insert("content-length", HeaderValue::from(total));
            response
        }
        ["download", _name] => {
            let total: u64 = number(&query, "bytes", 1024);
            let mut stream = RandomBytes::new(total, total, 64 * 1024);
            let mut response = generated(
                move || stream.next_chunk(),
                None,
                false,
                "application/octet-stream",
            );
            response
                .headers_mut()
                .insert("content-length", HeaderValue::from(total));
            if let Some(name) = query.get("disposition") {
                let value = format!("attachment; filename=\"{}\"", name.replace('"', "\\\""));
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert("content-disposition", value);
                }
            }
            response
        }
        ["text"] => with_type(
            full("hello from the demo API\n"),
            "text/plain; charset=utf-8",
        ),
        ["bad-json"] => with_type(full("{\"unterminated\": "), "application/json"),
        ["binary"] => with_type(
            full((0..=255u8).collect::<Vec<u8>>()),
            "application/octet-stream",
        ),
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "no such endpoint", "see": "GET /"}),
        ),
    }
}

/// A response that stands for "close the connection without answering":
/// the service turns it into an error, and hyper then drops the connection
/// before any byte of a response is sent.
fn close_connection() -> Response<DemoBody> {
    let mut response = Response::new(full(Bytes::new()));
    response.extensions_mut().insert(CloseWithoutAnswer);
    response
}

/// Marks a [`close_connection`] response.
#[derive(Debug, Clone, Copy)]
struct CloseWithoutAnswer;

/// While an outage lasts, how this request fails (`None`: serve it).
async fn outage_failure(server: &Server) -> Option<Response<DemoBody>> {
    let outage = {
        let mut current = server
            .outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match *current {
            Some(outage) if outage.until > std::time::Instant::now() => outage,
            Some(_) => {
                *current = None;
                return None;
            }
            None => return None,
        }
    };
    match outage.mode {
        OutageMode::Unavailable => Some(json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "outage"}),
        )),
        OutageMode::Hang => {
            tokio::time::sleep_until(tokio::time::Instant::from_std(outage.until)).await;
            Some(json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": "outage"}),
            ))
        }
        OutageMode::Close => Some(close_connection()),
    }
}

/// One page of the paginated endpoints: `items` is ids `offset..offset+per_page`
/// of `total`, and the way to the next page depends on the style.
fn page(base_url: &str, style: &str, query: &HashMap<String, String>) -> Response<DemoBody> {
    let total: u64 = number(query, "total", 50);
    let per_page: u64 = number(query, "per_page", 10).max(1);
    if style == "loop" {
        let page: u64 = number(query, "page", 0) % 3;
        let next = format!("{base_url}/pages/loop?page={}", (page + 1) % 3);
        let mut response = json_response(StatusCode::OK, &json!({"page": page, "items": [page]}));
        if let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert("link", link);
        }
        return response;
    }
    let offset = if style == "cursor" {
        query
            .get("cursor")
            .and_then(|cursor| cursor.strip_prefix("c-"))
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .unwrap_or(0)
    } else {
        number::<u64>(query, "page", 0).saturating_mul(per_page)
    };
    let end = offset.saturating_add(per_page).min(total);
    let items: Vec<Value> = (offset..end.max(offset))
        .map(|id| json!({"id": id, "name": format!("item {id}")}))
        .collect();
    let more = end < total;
    let page = offset / per_page;
    // A slow chain stays slow page after page.
    let delay = match query.get("delay_ms") {
        Some(ms) => format!("&delay_ms={}", ms.parse::<u64>().unwrap_or(0)),
        None => String::new(),
    };
    let next_url = |page: u64| {
        format!("{base_url}/pages/{style}?total={total}&per_page={per_page}&page={page}{delay}")
    };
    match style {
        "link" => {
            let mut response =
                json_response(StatusCode::OK, &json!({"page": page, "items": items}));
            let mut links = vec![format!("<{}>; rel=\"first\"", next_url(0))];
            if more {
                links.push(format!("<{}>; rel=\"next\"", next_url(page + 1)));
            }
            if let Ok(link) = HeaderValue::from_str(&links.join(", ")) {
                response.headers_mut().insert("link", link);
            }
            response
        }
        "body" => json_response(
            StatusCode::OK,
            &json!({"page": page, "items": items, "next": if more { Value::String(next_url(page + 1)) } else { Value::Null }}),
        ),
        _ => json_response(
            StatusCode::OK,
            &json!({"items": items, "next_cursor": if more { Value::String(format!("c-{end:x}")) } else { Value::Null }}),
        ),
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), in chunks: the same seed
/// gives the same stream whatever the chunk size, so a client's file can be
/// checked against `?sha256=1`.
struct RandomBytes {
    state: u64,
    left: u64,
    chunk: usize,
    /// Bytes of the last word that did not fit in the previous chunk.
    carry: Vec<u8>,
}

impl RandomBytes {
    fn new(seed: u64, total: u64, chunk: usize) -> Self {
        RandomBytes {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            left: total,
            chunk,
            carry: Vec::new(),
        }
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.left == 0 {
            return None;
        }
        let size = self.left.min(self.chunk as u64) as usize;
        let mut bytes = Vec::with_capacity(size + 8);
        bytes.append(&mut self.carry);
        while bytes.len() < size {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let word = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        self.carry = bytes.split_off(size);
        self.left -= size as u64;
        Some(Bytes::from(bytes))
    }
}

fn add_retry_after(response: &mut Response<DemoBody>, query: &HashMap<String, String>) {
    if let Some(seconds) = query.get("retry_after")
        && let Ok(value) = HeaderValue::from_str(seconds)
    {
        response.headers_mut().insert("retry-after", value);
    }
    if let Some(seconds) = query
        .get("retry_after_date")
        .and_then(|s| s.parse::<u64>().ok())
    {
        // HTTP dates have whole seconds: round up so the wait is never shorter.
        let when = SystemTime::now() + Duration::from_secs(seconds + 1);
        if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(when)) {
            response.headers_mut().insert("retry-after", value);
        }
    }
}

fn redirect(code: u16, target: &str) -> Response<DemoBody> {
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = StatusCode::from_u16(code)
        .ok()
        .filter(StatusCode::is_redirection)
        .unwrap_or(StatusCode::FOUND);
    if let Ok(location) = HeaderValue::from_str(target) {
        response.headers_mut().insert("location", location);
    }
    response
}

/// A generated body, gzip-compressed on the fly when asked.
fn generated(
    mut source: impl FnMut() -> Option<Bytes> + Send + 'static,
    interval: Option<Duration>,
    gzip: bool,
    content_type: &'static str,
) -> Response<DemoBody> {
    let next_chunk: Box<dyn FnMut() -> Option<Bytes> + Send> = if gzip {
        let mut encoder = Some(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        Box::new(move || {
            loop {
                let active = encoder.as_mut()?;
                match source() {
                    Some(chunk) => {
                        active.write_all(&chunk).ok()?;
                        let out = std::mem::take(active.get_mut());
                        if !out.is_empty() {
                            return Some(Bytes::from(out));
                        }
                    }
                    None => {
                        let finished = encoder.take()?.finish().ok()?;
                        return Some(Bytes::from(finished));
                    }
                }
            }
        })
    } else {
        Box::new(source)
    };
    let mut response = with_type(
        Box::pin(GeneratedBody {
            next_chunk,
            interval,
            pause: None,
        }),
        content_type,
    );
    if gzip {
        response
            .headers_mut()
            .insert("content-encoding", HeaderValue::from_static("gzip"));
    }
    response
}

async fn read_json(request: Request<Incoming>) -> Value {
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// Binds `addr`, which must be a loopback address.
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{addr} is not a loopback address; the demo API only serves 127.0.0.0/8 and ::1"
            ),
        ));
    }
    TcpListener::bind(addr).await
}

/// Serves until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, config: DemoConfig) -> std::io::Result<()> {
    let base_url = format!("http://{}", listener.local_addr()?);
    let server = Arc::new(Server {
        config,
        stats: Arc::new(Stats::default()),
        flaky: Mutex::new(HashMap::new()),
        outage: Mutex::new(None),
        base_url,
    });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: wait, do not die.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let server = server.clone();
                async move {
                    let response = route(server, request).await;
                    if response.extensions().get::<CloseWithoutAnswer>().is_some() {
                        return Err(std::io::Error::other("closing without an answer"));
                    }
                    Ok(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(seed: u64, total: u64, chunk: usize) -> Vec<u8> {
        let mut source = RandomBytes::new(seed, total, chunk);
        let mut out = Vec::new();
        while let Some(piece) = source.next_chunk() {
            assert!(piece.len() <= chunk && !piece.is_empty());
            out.extend_from_slice(&piece);
        }
        out
    }

    #[test]
    fn random_bytes_are_the_same_whatever_the_chunk_size() {
        let whole = stream(7, 100_003, 256 * 1024);
        assert_eq!(whole.len(), 100_003);
        for chunk in [1, 3, 7, 8, 9, 4096, 77_777] {
            assert_eq!(stream(7, 100_003, chunk), whole, "chunk {chunk}");
        }
        assert_ne!(stream(8, 100_003, 4096), whole, "another seed, other bytes");
        assert!(stream(7, 0, 10).is_empty());
    }
}
