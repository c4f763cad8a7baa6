//! The one shared HTTP client (and its connection pool) of a run, its DNS
//! resolver, and the translation of transport errors into [`RequestError`].
//!
//! Redirects are followed by [`super::fetch`], not by reqwest: reqwest strips
//! only `Authorization`, `Cookie` and `Proxy-Authorization` when a redirect
//! leaves the origin, and an `X-Api-Key` header would travel on.

use super::error::RequestError;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::error::Error as StdError;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The run's clients, one per kind of connection: a plain one for `http://`,
/// ready at once, and a TLS one for `https://`, built on first use.
///
/// Building a TLS client reads the system's root certificates (hundreds of
/// files under /etc/ssl/certs, about 5 ms, most of a one-item run's start);
/// a run that only talks plain HTTP (a local service, the demo API) never
/// pays it. Every hop of a redirect chain and every page picks its client by
/// its own scheme, so `http://` redirected to `https://` still verifies.
pub(crate) struct Clients {
    plain: reqwest::Client,
    tls: OnceLock<Result<reqwest::Client, String>>,
    concurrency: usize,
    insecure: bool,
}

impl Clients {
    /// Builds the plain client now (a failure is a usage error: nothing ran).
    pub(crate) fn new(concurrency: usize, insecure: bool) -> Result<Self, String> {
        // A proxy named by the environment may itself be `https://`: then
        // even plain requests need the roots, and one full client serves all.
        let proxied = PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
        let plain = build_client(concurrency, insecure, !proxied)?;
        Ok(Clients {
            tls: OnceLock::new(),
            plain,
            concurrency,
            insecure,
        })
    }

    /// The client for `url`'s scheme.
    pub(crate) fn for_url(&self, url: &reqwest::Url) -> Result<&reqwest::Client, RequestError> {
        if url.scheme() != "https" {
            return Ok(&self.plain);
        }
        self.tls
            .get_or_init(|| build_client(self.concurrency, self.insecure, false))
            .as_ref()
            .map_err(|message| RequestError::TlsSetup(message.clone()))
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

/// Builds a client: rustls (no system OpenSSL), gzip/deflate decoding, no
/// automatic redirects. `plain_only` leaves the root store empty instead of
/// loading the system's: such a client must never be given an `https://` URL.
fn build_client(
    concurrency: usize,
    insecure: bool,
    plain_only: bool,
) -> Result<reqwest::Client, String> {
    // Installing twice (several clients in one process) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder()
        .user_agent(concat!("async-patterns/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .dns_resolver(Arc::new(LoopbackAwareResolver))
        .pool_max_idle_per_host(concurrency.max(1))
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true);
    let builder = if plain_only {
        builder.tls_certs_only(std::iter::empty())
    } else {
        builder.tls_danger_accept_invalid_certs(insecure)
    };
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
struct DnsFailure(String);

impl std::fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for DnsFailure {}

/// The system resolver, except for the names RFC 6761 reserves: `localhost`
/// always means loopback, and `*.invalid` never resolves (answered here, so no
/// query ever leaves the machine).
struct LoopbackAwareResolver;

impl Resolve for LoopbackAwareResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs: Addrs = Box::new(
                    [
                        IpAddr::V4(Ipv4Addr::LOCALHOST),
                        IpAddr::V6(Ipv6Addr::LOCALHOST),
                    ]
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0)),
                );
                return Ok(addrs);
            }
            if host == "invalid" || host.ends_with(".invalid") {
                return Err(Box::new(DnsFailure(
                    "no such host (.invalid is reserved, RFC 6761)".into(),
                )) as _);
            }
            match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(found) => {
                    let addrs: Vec<SocketAddr> = found.collect();
                    if addrs.is_empty() {
                        return Err(Box::new(DnsFailure("no addresses".into())) as _);
                    }
                    Ok(Box::new(addrs.into_iter()) as Addrs)
                }
                Err(error) => Err(Box::new(DnsFailure(error.to_string())) as _),
            }
        })
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

/// Classifies a transport error from sending a request or reading its body.
/// `authority` is the `host:port` the request went to.
pub(crate) fn classify(error: reqwest::Error, authority: &str, reading_body: bool) -> RequestError {
    let error = error.without_url();
    let errors = chain(&error);
    let message = detail(&errors);
    if let Some(dns) = errors.iter().find_map(|e| e.downcast_ref::<DnsFailure>()) {
        return RequestError::Dns {
            host: authority.split(':').next().unwrap_or(authority).to_string(),
            detail: dns.0.clone(),
        };
    }
    if errors.iter().any(|e| e.is::<rustls::Error>()) {
        return RequestError::Tls(format!("{authority}: {message}"));
    }
    if reading_body || error.is_body() || error.is_decode() {
        return RequestError::BodyRead(message);
    }
    if errors.iter().any(|e| {
        e.downcast_ref::<hyper::Error>()
            .is_some_and(|hyper| hyper.is_parse())
    }) {
        return RequestError::Protocol(message);
    }
    if !error.is_connect() && errors.iter().any(|e| closed_early(*e)) {
        return RequestError::ConnectionClosed(format!("{authority}: {message}"));
    }
    RequestError::Connect(format!("{authority}: {message}"))
}
