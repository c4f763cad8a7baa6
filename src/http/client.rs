//! The shared HTTP clients (and their connection pools) of a run, their DNS
//! resolver, the response they give ([`Response`]), and the translation of
//! transport errors into [`RequestError`].
//!
//! Two ways out, one behaviour: a plain `http://` request with no proxy in
//! the environment goes straight to hyper's HTTP/1 connections in a pool of
//! our own ([`super::direct`]), with tower-http's gzip/deflate decoding (the
//! layer reqwest itself uses); an
//! `https://` request, or any request when a proxy is set, goes through
//! reqwest, which brings TLS and the proxy variables. Both send the same
//! default headers and decode the same encodings. The direct way skips
//! reqwest's per-request layers (the URL turned into an `http::Uri` and
//! parsed back into a `Url` twice, a redirect policy that runs with redirects
//! off, a retry layer, the proxy matcher): a fifth of a small request's
//! user-space instructions, 9-17 % of its CPU (BENCHMARKS.md, workload 2).
//!
//! Redirects are followed by [`super::fetch`], not by reqwest: reqwest strips
//! only `Authorization`, `Cookie` and `Proxy-Authorization` when a redirect
//! leaves the origin, and an `X-Api-Key` header would travel on.

use super::direct::{DirectClient, POOL_IDLE, PooledBody};
use super::error::RequestError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name as DirectName;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, HOST, HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Method, StatusCode, Url};
use std::cell::RefCell;
use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tower_http::decompression::{Decompression, DecompressionBody};
use tower_service::Service;
use url::Position;

/// The `User-Agent` every request carries unless it names its own.
const USER_AGENT_VALUE: &str = concat!("async-patterns/", env!("CARGO_PKG_VERSION"));

/// The sockets of both clients: TCP keepalive probes after 15 s idle,
/// every 15 s, 3 of them; unacknowledged data fails the connection after
/// 30 s (reqwest's defaults, set on both so a dead peer is noticed the same
/// either way).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEPALIVE_PROBES: u32 = 3;
#[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
const USER_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle connections kept a host: one a request in flight.
fn idle_per_host(concurrency: usize) -> usize {
    concurrency.max(1)
}

/// The run's clients: the direct one for plain `http://` without a proxy,
/// ready at once, and reqwest for the rest (`https://`, or everything when
/// a proxy is set), built on first use (at once when a proxy is set, so a
/// bad proxy setting is a usage error).
///
/// Building reqwest's client reads the system's root certificates
/// (hundreds of files under /etc/ssl/certs, about 5 ms, most of a one-item
/// run's start); a run that only talks plain HTTP (a local service, the demo
/// API) never pays it. Every hop of a redirect chain and every page picks
/// its client by its own scheme, so `http://` redirected to `https://` still
/// verifies.
pub(crate) struct Clients {
    /// `None` when the environment names a proxy: then reqwest, which
    /// reads the proxy variables, sends plain requests too.
    direct: Option<DirectClient>,
    reqwest: OnceLock<Result<reqwest::Client, String>>,
    concurrency: usize,
    insecure: bool,
}

impl Clients {
    /// Builds the client plain requests use now (a failure is a usage
    /// error: nothing ran).
    pub(crate) fn new(concurrency: usize, insecure: bool) -> Result<Self, String> {
        // A proxy named by the environment may itself be `https://`: then
        // even plain requests need the roots, and reqwest serves all.
        let proxied = PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
        let clients = Clients {
            direct: (!proxied).then(|| direct_client(concurrency)),
            reqwest: OnceLock::new(),
            concurrency,
            insecure,
        };
        if proxied {
            clients.reqwest()?;
        }
        Ok(clients)
    }

    /// The reqwest client, built on first use.
    fn reqwest(&self) -> Result<&reqwest::Client, String> {
        self.reqwest
            .get_or_init(|| build_client(self.concurrency, self.insecure))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Sends one request and waits for the head of its response.
    pub(crate) async fn execute(
        &self,
        method: &Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Response, RequestError> {
        if url.scheme() == "http"
            && let Some(direct) = &self.direct
        {
            return send_direct(direct, method, url, headers, body).await;
        }
        let client = self.reqwest().map_err(RequestError::TlsSetup)?;
        let mut request = reqwest::Request::new(method.clone(), url.clone());
        *request.headers_mut() = headers;
        if let Some(bytes) = body {
            *request.body_mut() = Some(bytes.into());
        }
        client
            .execute(request)
            .await
            .map(|response| Response(Inner::Reqwest(response)))
            .map_err(|error| classify(error, url, Stage::Sending))
    }
}

/// Sends `method url` through the direct client, with the default headers
/// reqwest would add (`Accept: */*`, the user agent) where `headers` has
/// none of its own.
async fn send_direct(
    direct: &DirectClient,
    method: &Method,
    url: &Url,
    mut headers: HeaderMap,
    body: Option<Bytes>,
) -> Result<Response, RequestError> {
    // The Host header, the pool's name for the server, CONNECT's target.
    let host_and_port = host_and_port(url);
    // Room for the four added here and by the layers below, at once.
    headers.reserve(4);
    if !headers.contains_key(ACCEPT) {
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    }
    // What hyper-util would add, kept instead of formatted anew each
    // request (this client speaks HTTP/1 only: HTTP/2 would take
    // `:authority`).
    if !headers.contains_key(HOST)
        && let Some(host) = host_header(host_and_port)
    {
        headers.insert(HOST, host);
    }
    // How reqwest converts it too. The input check refuses the URLs this
    // fails on (too long, characters a request target cannot carry); a
    // redirect or a next page can still lead to one: then reqwest's words,
    // so both ways say the same.
    let uri: hyper::Uri = url.as_str().parse().map_err(|_| {
        RequestError::Connect(format!("{}: Parsed Url is not a valid Uri", authority(url)))
    })?;
    let mut request = hyper::Request::new(Full::new(body.unwrap_or_default()));
    *request.method_mut() = method.clone();
    *request.uri_mut() = request_target(uri, host_and_port, method);
    *request.headers_mut() = headers;
    // The pool waits inside the call, so the service is called without
    // polling it for readiness.
    let response = Decompression::new(direct.to(host_and_port))
        .call(request)
        .await
        .map_err(|error| {
            let stage = match error.is_connect() {
                true => Stage::Connecting,
                false => Stage::Sending,
            };
            classify_chain(&error, url, stage)
        })?;
    Ok(Response(Inner::Direct(Box::new(response))))
}

/// The request target a server is sent when no proxy is between (RFC 9112
/// section 3.2): `/path?query` of `uri`, or for `CONNECT` the host and port
/// alone (never the URL's user info).
fn request_target(uri: hyper::Uri, host_and_port: &str, method: &Method) -> hyper::Uri {
    if method == Method::CONNECT
        && let Ok(authority) = host_and_port.parse()
    {
        return authority;
    }
    let mut parts = uri.into_parts();
    parts.scheme = None;
    parts.authority = None;
    // A path and query without scheme and authority is always a URI.
    hyper::Uri::from_parts(parts).unwrap_or_default()
}

/// `host[:port]` as `url` writes it: the port only when it is not the
/// scheme's default, an IPv6 host in brackets, never the user info.
fn host_and_port(url: &Url) -> &str {
    &url[Position::BeforeHost..Position::AfterPort]
}

/// The `Host` header of a URL from its [`host_and_port`] (what hyper-util
/// sends when a request has none). The last one made is kept: a run's
/// requests mostly go to one host.
fn host_header(authority: &str) -> Option<HeaderValue> {
    thread_local! {
        static LAST: RefCell<Option<HeaderValue>> = const { RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(value) = last
            .as_ref()
            .filter(|kept| kept.as_bytes() == authority.as_bytes())
        {
            return Some(value.clone());
        }
        let value =
            HeaderValue::from_maybe_shared(Bytes::copy_from_slice(authority.as_bytes())).ok()?;
        *last = Some(value.clone());
        Some(value)
    })
}

/// Builds the direct client: the pool and socket settings of reqwest's
/// ([`build_client`]), `TCP_NODELAY`, the resolver below.
fn direct_client(concurrency: usize) -> DirectClient {
    let mut connector = HttpConnector::new_with_resolver(DirectResolver);
    connector.set_nodelay(true);
    connector.set_keepalive(Some(KEEPALIVE_IDLE));
    connector.set_keepalive_interval(Some(KEEPALIVE_INTERVAL));
    connector.set_keepalive_retries(Some(KEEPALIVE_PROBES));
    // Linux's TCP_USER_TIMEOUT: hyper-util has it on Linux-like systems only.
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    connector.set_tcp_user_timeout(Some(USER_TIMEOUT));
    DirectClient::new(connector, idle_per_host(concurrency))
}

/// A response whose head has arrived, from either client.
pub(crate) struct Response(Inner);

enum Inner {
    /// Boxed: the decoder's state makes it about 450 bytes, moved several
    /// times on its way to the body's reader.
    Direct(Box<hyper::Response<DecompressionBody<PooledBody>>>),
    Reqwest(reqwest::Response),
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Response {
    pub(crate) fn status(&self) -> StatusCode {
        match &self.0 {
            Inner::Direct(response) => response.status(),
            Inner::Reqwest(response) => response.status(),
        }
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        match &self.0 {
            Inner::Direct(response) => response.headers(),
            Inner::Reqwest(response) => response.headers(),
        }
    }

    /// The headers, taken out of the response (a read body needs them no
    /// more), instead of copied.
    pub(crate) fn take_headers(&mut self) -> HeaderMap {
        match &mut self.0 {
            Inner::Direct(response) => std::mem::take(response.headers_mut()),
            Inner::Reqwest(response) => std::mem::take(response.headers_mut()),
        }
    }

    /// The body's size when the server declared it and it is not decoded.
    pub(crate) fn content_length(&self) -> Option<u64> {
        match &self.0 {
            Inner::Direct(response) => hyper::body::Body::size_hint(response.body()).exact(),
            Inner::Reqwest(response) => response.content_length(),
        }
    }

    /// The next piece of the body, decoded; `None` at its end. A failure is
    /// classified as one while reading a body (`url`: where it came from).
    pub(crate) async fn chunk(&mut self, url: &Url) -> Result<Option<Bytes>, RequestError> {
        match &mut self.0 {
            Inner::Direct(response) => loop {
                match response.body_mut().frame().await {
                    None => return Ok(None),
                    Some(Ok(frame)) => {
                        // Trailers carry no body bytes.
                        if let Ok(data) = frame.into_data() {
                            return Ok(Some(data));
                        }
                    }
                    Some(Err(error)) => {
                        return Err(classify_chain(&*error, url, Stage::ReadingBody));
                    }
                }
            },
            Inner::Reqwest(response) => response
                .chunk()
                .await
                .map_err(|error| classify(error, url, Stage::ReadingBody)),
        }
    }
}

/// The variables reqwest reads a proxy from.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Builds reqwest's client: rustls (no system OpenSSL) with the system's
/// roots, gzip/deflate decoding, no automatic redirects, proxies from the
/// environment.
fn build_client(concurrency: usize, insecure: bool) -> Result<reqwest::Client, String> {
    // Installing twice (several clients in one process) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder()
        .user_agent(USER_AGENT_VALUE)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .dns_resolver(Arc::new(LoopbackAwareResolver))
        .pool_max_idle_per_host(idle_per_host(concurrency))
        .pool_idle_timeout(POOL_IDLE)
        .tcp_nodelay(true)
        .tcp_keepalive(KEEPALIVE_IDLE)
        .tcp_keepalive_interval(KEEPALIVE_INTERVAL)
        .tcp_keepalive_retries(KEEPALIVE_PROBES)
        .tls_danger_accept_invalid_certs(insecure);
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    let builder = builder.tcp_user_timeout(USER_TIMEOUT);
    builder
        .build()
        .map_err(|error| format!("cannot build the HTTP client: {}", with_causes(&error)))
}

/// `error` and the errors under it ([`chain`]), `: `-joined: reqwest's
/// builder error alone says only "builder error".
fn with_causes(error: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    for said in chain(error).iter().map(|error| error.to_string()) {
        if !text.contains(&said) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&said);
        }
    }
    text
}

/// A DNS failure, recognisable in an error's source chain.
#[derive(Debug)]
pub(super) struct DnsFailure(String);

impl std::fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for DnsFailure {}

/// The system resolver, except for the names RFC 6761 reserves: `localhost`
/// always means loopback, and `*.invalid` never resolves (answered here, so no
/// query ever leaves the machine). Port 0: the connector sets the URL's.
async fn resolve(name: &str) -> Result<Vec<SocketAddr>, DnsFailure> {
    let host = name.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return Ok([
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]
        .into_iter()
        .map(|ip| SocketAddr::new(ip, 0))
        .collect());
    }
    if host == "invalid" || host.ends_with(".invalid") {
        return Err(DnsFailure(
            "no such host (.invalid is reserved, RFC 6761)".into(),
        ));
    }
    match tokio::net::lookup_host((host.as_str(), 0)).await {
        Ok(found) => {
            let addrs: Vec<SocketAddr> = found.collect();
            if addrs.is_empty() {
                return Err(DnsFailure("no addresses".into()));
            }
            Ok(addrs)
        }
        Err(error) => Err(DnsFailure(error.to_string())),
    }
}

/// [`resolve`] for reqwest.
struct LoopbackAwareResolver;

impl Resolve for LoopbackAwareResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let name = name.as_str().to_string();
        Box::pin(async move {
            match resolve(&name).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(failure) => Err(Box::new(failure) as _),
            }
        })
    }
}

/// [`resolve`] for the direct client's connector (hyper-util's).
#[derive(Clone, Copy)]
pub(super) struct DirectResolver;

impl Service<DirectName> for DirectResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = DnsFailure;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DnsFailure>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DnsFailure>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: DirectName) -> Self::Future {
        let name = name.as_str().to_string();
        Box::pin(async move { resolve(&name).await.map(Vec::into_iter) })
    }
}

/// Every error in a chain, looking inside `io::Error`s too (whose `source()`
/// skips the error they wrap).
fn chain<'a>(top: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut found = Vec::new();
    let mut next = Some(top);
    while let Some(error) = next {
        found.push(error);
        next = match error
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => error.source(),
        };
        if found.len() > 16 {
            break;
        }
    }
    found
}

/// The root cause of an error chain, in words, without the URL (which may
/// hold secrets): "Connection refused (os error 111)" rather than three
/// layers of "client error (Connect)".
fn detail(errors: &[&(dyn StdError + 'static)]) -> String {
    errors
        .iter()
        .rev()
        .map(|error| error.to_string())
        .find(|text| !text.trim().is_empty())
        .unwrap_or_else(|| "unknown error".to_string())
}

/// Whether `error` says an open connection ended under the request: the
/// server closed it before a complete response head, or reset it.
fn closed_early(error: &(dyn StdError + 'static)) -> bool {
    if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
        return hyper.is_incomplete_message() || hyper.is_canceled();
    }
    error.downcast_ref::<io::Error>().is_some_and(|io| {
        matches!(
            io.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        )
    })
}

/// `host:port` of `url` (the scheme's port when it names none): how error
/// messages and the per-host limits name a server. Never the path or the
/// query, which may hold secrets.
pub(crate) fn authority(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Where in an exchange a transport error came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Opening the connection (the client says so).
    Connecting,
    /// Sending the request or waiting for the response's head.
    Sending,
    /// Reading the response's body.
    ReadingBody,
}

/// Classifies a reqwest error from a request to `url` at `stage` (reqwest
/// knows better when it failed to connect or to read or decode a body).
fn classify(error: reqwest::Error, url: &Url, stage: Stage) -> RequestError {
    let error = error.without_url();
    let stage = if error.is_connect() {
        Stage::Connecting
    } else if error.is_body() || error.is_decode() {
        Stage::ReadingBody
    } else {
        stage
    };
    classify_chain(&error, url, stage)
}

/// Classifies a transport error from a request to `url` by what its chain
/// holds and the `stage` it came at. The message names the server
/// (`host:port`), never the URL.
fn classify_chain(error: &(dyn StdError + 'static), url: &Url, stage: Stage) -> RequestError {
    let errors = chain(error);
    let message = detail(&errors);
    let authority = authority(url);
    if let Some(dns) = errors.iter().find_map(|e| e.downcast_ref::<DnsFailure>()) {
        return RequestError::Dns {
            host: url.host_str().unwrap_or_default().to_string(),
            detail: dns.0.clone(),
        };
    }
    if errors.iter().any(|e| e.is::<rustls::Error>()) {
        return RequestError::Tls(format!("{authority}: {message}"));
    }
    if stage == Stage::ReadingBody {
        return RequestError::BodyRead(message);
    }
    if errors.iter().any(|e| {
        e.downcast_ref::<hyper::Error>()
            .is_some_and(|hyper| hyper.is_parse())
    }) {
        return RequestError::Protocol(message);
    }
    if stage != Stage::Connecting && errors.iter().any(|e| closed_early(*e)) {
        return RequestError::ConnectionClosed(format!("{authority}: {message}"));
    }
    RequestError::Connect(format!("{authority}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/path?query`, without the user info, the fragment or the host; for
    /// CONNECT the host and port alone.
    #[test]
    fn the_request_target_is_the_origin_form_or_for_connect_the_authority() {
        for (method, url, target) in [
            (
                Method::GET,
                "http://u:p@127.0.0.1:8080/a/b?c=d#e",
                "/a/b?c=d",
            ),
            (Method::POST, "http://127.0.0.1:8080", "/"),
            (
                Method::CONNECT,
                "http://u:p@127.0.0.1:8080/a",
                "127.0.0.1:8080",
            ),
            (Method::CONNECT, "http://[::1]:9000/", "[::1]:9000"),
        ] {
            let url = Url::parse(url).unwrap();
            let uri: hyper::Uri = url.as_str().parse().unwrap();
            assert_eq!(
                request_target(uri, host_and_port(&url), &method).to_string(),
                target,
                "{url}"
            );
        }
    }

    /// What hyper-util would send: the port only when it is not the
    /// scheme's default, an IPv6 host in brackets; the kept value never
    /// answers for another host.
    #[test]
    fn the_host_header_is_the_authority_without_a_default_port() {
        for (url, host) in [
            ("http://127.0.0.1:8080/a", "127.0.0.1:8080"),
            ("http://127.0.0.1:8081/a", "127.0.0.1:8081"),
            ("http://127.0.0.1:8081/b?c", "127.0.0.1:8081"),
            ("http://Example.COM:80/", "example.com"),
            ("https://example.com:443/", "example.com"),
            ("https://example.com:80/", "example.com:80"),
            ("http://u:p@[::1]:9000/", "[::1]:9000"),
            ("http://[::1]/", "[::1]"),
            ("http://127.0.0.1:8080/a", "127.0.0.1:8080"),
        ] {
            let url = Url::parse(url).unwrap();
            assert_eq!(host_header(host_and_port(&url)).unwrap(), host, "{url}");
        }
    }
}
