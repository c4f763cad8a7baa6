//! One attempt at one request: send it and follow redirects by hand
//! (dropping secret and `${ENV}`-carrying headers when a redirect leaves the
//! origin): [`send`]; then read the body up to `--max-body`, after
//! decompression, without buffering the rest: [`read_body`] (or stream it to
//! a file: [`super::save`]).

use super::client::Response;
use super::error::RequestError;
use super::spec::RequestSpec;
use crate::redact::is_secret_header;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, LOCATION};
use reqwest::{Method, StatusCode, Url};

/// Limits of one attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExchangeLimits {
    /// `--max-redirects`; 0 returns a redirect response as it is.
    pub(crate) max_redirects: u32,
    /// `--max-body`: body bytes kept (and read).
    pub(crate) max_body: u64,
    /// Keep the body bytes (false for `--body none`: read, count, drop).
    pub(crate) keep_body: bool,
    /// Bytes read past `max_body` so that a secret straddling the cut is
    /// whole when it is scrubbed (the item's longest secret, minus one).
    pub(crate) lookahead: u64,
}

/// A complete response.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    /// Where the last request went; differs from the spec's URL after redirects.
    pub(crate) final_url: Url,
    pub(crate) redirects: u32,
    /// The body as kept: at most `max_body` bytes, plus the lookahead when
    /// the body is longer (see [`crate::redact::Redactor::scrub_head`]).
    pub(crate) body: Vec<u8>,
    /// Bytes of the body read after decoding, at most `max_body`.
    pub(crate) body_bytes: u64,
    pub(crate) truncated: bool,
    /// The size the server declared, when it sent the body unencoded.
    pub(crate) declared_bytes: Option<u64>,
    /// `--save-dir`: the file the body went to (then `body` is empty).
    pub(crate) saved: Option<super::save::Saved>,
}

/// Scheme, host and port: what "the same origin" means for credentials.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A response whose head has arrived; the body is still to read.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) response: Response,
    /// Where the last request went; differs from the spec's URL after redirects.
    pub(crate) final_url: Url,
    pub(crate) redirects: u32,
}

impl Head {
    pub(crate) fn status(&self) -> StatusCode {
        self.response.status()
    }
}

/// `headers` less what may go to the origin the credentials were given for
/// only: secret headers, and any header carrying a `${ENV}` value (marked
/// sensitive in `spec`), whatever its name. For a redirect or a next page
/// that leaves the origin.
pub(crate) fn without_credentials(headers: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !is_secret_header(name.as_str()) && !value.is_sensitive() {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

/// Sends `spec` once, following redirects, up to the head of the last
/// response.
pub(crate) async fn send(
    clients: &super::client::Clients,
    spec: &RequestSpec,
    limits: ExchangeLimits,
) -> Result<Head, RequestError> {
    let mut method = spec.method.clone();
    let mut url = spec.url.clone();
    let mut headers = spec.headers.clone();
    let mut body = spec.body.as_ref().map(|body| body.bytes.clone());
    let mut redirects = 0u32;
    loop {
        let response = clients
            .execute(&method, &url, headers.clone(), body.clone())
            .await?;
        let status = response.status();

        let location = response.headers().get(LOCATION).cloned();
        if status.is_redirection()
            && status != StatusCode::NOT_MODIFIED
            && limits.max_redirects > 0
            && let Some(location) = location
        {
            if redirects >= limits.max_redirects {
                return Err(RequestError::TooManyRedirects(limits.max_redirects));
            }
            let target = location
                .to_str()
                .map_err(|_| RequestError::Redirect("the Location header is not text".into()))?;
            let next = url
                .join(target)
                .map_err(|error| RequestError::Redirect(format!("bad Location: {error}")))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(RequestError::Redirect(format!(
                    "refusing to follow a redirect to a {} URL",
                    next.scheme()
                )));
            }
            if !same_origin(&url, &next) {
                headers = without_credentials(&headers);
            }
            let becomes_get = (status == StatusCode::SEE_OTHER && method != Method::HEAD)
                || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                    && method == Method::POST);
            if becomes_get {
                method = Method::GET;
                body = None;
                headers.remove(CONTENT_TYPE);
                headers.remove(CONTENT_LENGTH);
            }
            redirects += 1;
            url = next;
            continue;
        }

        return Ok(Head {
            response,
            final_url: url,
            redirects,
        });
    }
}

/// The next piece of `response`'s body (`None` at its end), counted into
/// `received` as it arrives; a failure mid-body is classified as one.
pub(crate) async fn next_chunk(
    response: &mut Response,
    url: &Url,
    received: &mut u64,
) -> Result<Option<bytes::Bytes>, RequestError> {
    let chunk = response.chunk(url).await?;
    if let Some(chunk) = &chunk {
        *received += chunk.len() as u64;
    }
    Ok(chunk)
}

/// Reads the body of `head` up to the cap. `received` counts body bytes as
/// they arrive, so a timeout mid-body still accounts for them.
pub(crate) async fn read_body(
    head: Head,
    limits: ExchangeLimits,
    received: &mut u64,
) -> Result<Exchange, RequestError> {
    let Head {
        mut response,
        final_url,
        redirects,
    } = head;
    let status = response.status();
    let declared_bytes = response.content_length();
    let limit = limits.max_body.saturating_add(limits.lookahead);
    let mut kept = Vec::new();
    let mut read = 0u64;
    let mut more_than_read = false;
    if limits.keep_body {
        let hint = declared_bytes
            .unwrap_or(0)
            .min(limits.max_body)
            .min(1 << 20);
        kept.reserve(usize::try_from(hint).unwrap_or(0));
    }
    loop {
        let Some(chunk) = next_chunk(&mut response, &final_url, received).await? else {
            break;
        };
        let room = limit.saturating_sub(read);
        let take = (chunk.len() as u64).min(room) as usize;
        if limits.keep_body {
            kept.extend_from_slice(&chunk[..take]);
        }
        read += take as u64;
        if take < chunk.len() {
            // Over the cap: stop reading; dropping the response closes
            // the connection instead of downloading the rest.
            more_than_read = true;
            break;
        }
    }
    Ok(Exchange {
        status,
        headers: response.take_headers(),
        final_url,
        redirects,
        body: kept,
        body_bytes: read.min(limits.max_body),
        truncated: more_than_read || read > limits.max_body,
        declared_bytes,
        saved: None,
    })
}
