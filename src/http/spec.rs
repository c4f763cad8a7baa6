//! One planned HTTP request ([`RequestSpec`]), parsed from a positional URL or
//! an `--input` object:
//!
//! ```json
//! {"id": "summarize", "method": "POST", "url": "/summarize",
//!  "headers": {"Authorization": "Bearer ${API_KEY}"}, "query": {"lang": "zh"},
//!  "json": {"text": "..."}, "timeout": "5s"}
//! ```
//!
//! `url` may be relative to `--base-url`, joined the way the seed's
//! `BASE_URL + endpoint` does, defined exactly ([`join`]):
//!
//! | `--base-url` | item `url` | request |
//! | --- | --- | --- |
//! | `http://h/v1` | `users`, `/users` | `http://h/v1/users` (one slash between, the base's path kept) |
//! | `http://h/v1/` | `/users/` | `http://h/v1/users/` |
//! | `http://h/v1?key=K` | `users?page=2` | `http://h/v1/users?key=K&page=2` (the base's query first) |
//! | `http://h/v1` | `?page=2` | `http://h/v1?page=2` (the base as it is, plus the query) |
//! | `http://h/v1` | `users#top` | `http://h/v1/users#top` (a fragment is never sent) |
//! | `https://h/v1` | `//cdn/x` | `https://cdn/x` (another host, the base's scheme: RFC 3986) |
//! | any | `http://other/x` | `http://other/x` (an item with `scheme://` ignores the base) |
//!
//! Dot segments are resolved after the join (`http://h/v1` + `../x` is
//! `http://h/x`), as any URL parser does. A base with a `#fragment`, or not
//! http(s), is bad usage.
//!
//! At most one of `json`, `body` and `form`; a request with one of them
//! defaults to POST. Everything is validated here, so a bad item stops the
//! run before any request is sent.

use super::template::{EnvLookup, Expanded, expand, expand_with};
use super::url_cache::{self, parse_url};
use crate::error::{FieldError, json_type};
use crate::input::{RawItem, parse_seconds, reject_unknown_fields, scalar_text};
use crate::redact::{REDACTED, SecretSet, is_secret_header};
use base64::Engine;
use bytes::Bytes;
use percent_encoding::percent_decode_str;
use reqwest::Method;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use std::time::Duration;

/// The fields an input object may have.
pub(crate) const FIELDS: &[&str] = &[
    "id", "method", "url", "headers", "query", "json", "body", "form", "timeout", "max_time",
    "save_as",
];

/// Settings from the command line that every item starts from.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestDefaults {
    /// `--method`; without it, GET (or POST for items with a body).
    pub(crate) method: Option<Method>,
    /// `--base-url`, expanded.
    pub(crate) base_url: Option<Expanded>,
    /// `-H` headers, expanded; an item's own header of the same name wins.
    pub(crate) headers: Vec<HeaderEntry>,
    /// `--save-dir` was given (an item's `save_as` needs it).
    pub(crate) save_dir: bool,
}

/// One header, ready to send, with the form that may be shown.
#[derive(Debug, Clone)]
pub(crate) struct HeaderEntry {
    pub(crate) name: HeaderName,
    /// Marked sensitive when any of it is secret (by the header's name or
    /// from `${ENV}`): such a header never follows a redirect to another origin.
    pub(crate) value: HeaderValue,
    pub(crate) shown: String,
    /// The secret strings in the value: the `${ENV}` expansions, and the
    /// whole value of a secret header (whatever its bytes).
    pub(crate) secrets: Vec<String>,
}

/// A request body, ready to send, with the form that may be shown.
#[derive(Debug, Clone)]
pub(crate) struct RequestBody {
    pub(crate) bytes: Bytes,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) shown: Value,
}

/// A fully checked request.
#[derive(Debug, Clone)]
pub(crate) struct RequestSpec {
    pub(crate) id: Option<String>,
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// The URL with secrets replaced by `<redacted>`: what the output shows.
    pub(crate) shown_url: String,
    pub(crate) headers: HeaderMap,
    /// Headers as a dry run shows them (secrets redacted), item's own first.
    pub(crate) shown_headers: Vec<(String, String)>,
    pub(crate) body: Option<RequestBody>,
    /// The item's own `timeout`, overriding `--timeout`.
    pub(crate) timeout: Option<Duration>,
    /// The item's own `max_time`, overriding `--max-time`.
    pub(crate) max_time: Option<Duration>,
    /// `--save-dir`: the file name the item asks for (sanitised when used).
    pub(crate) save_as: Option<String>,
    /// Secrets of this item alone (its expansions and secret header values).
    pub(crate) secrets: SecretSet,
}

/// Parses one `-H 'Name: value'` flag.
pub(crate) fn parse_header_flag(text: &str, env: EnvLookup<'_>) -> Result<HeaderEntry, FieldError> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(FieldError::new(
            "--header",
            format!("`{}` is not `Name: value`", shown_header_flag(text)),
        ));
    };
    header_entry(name.trim(), value.trim(), "--header", env)
}

/// A `-H` argument as it may appear in an error message.
fn shown_header_flag(text: &str) -> String {
    match text.split_once(':') {
        Some((name, _)) if is_secret_header(name.trim()) => format!("{}: {REDACTED}", name.trim()),
        _ => text.chars().take(60).collect(),
    }
}

fn header_entry(
    name: &str,
    value: &str,
    field: &str,
    env: EnvLookup<'_>,
) -> Result<HeaderEntry, FieldError> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| FieldError::new(field, format!("`{name}` is not a valid header name")))?;
    let expanded = expand(value, field, env)?;
    let mut header_value = HeaderValue::from_str(&expanded.value).map_err(|_| {
        FieldError::new(
            field,
            format!("the value of header `{name}` has characters a header cannot carry"),
        )
    })?;
    let secret_name = is_secret_header(name);
    header_value.set_sensitive(secret_name || !expanded.secrets.is_empty());
    let mut secrets = expanded.secrets;
    let shown = if secret_name {
        // The text, not `HeaderValue::to_str`, which refuses non-ASCII bytes.
        secrets.push(expanded.value);
        REDACTED.to_string()
    } else {
        expanded.shown
    };
    Ok(HeaderEntry {
        name: header_name,
        value: header_value,
        shown,
        secrets,
    })
}

/// The secrets the `-H` headers and `--base-url` bring to every item.
pub(crate) fn default_secrets(defaults: &RequestDefaults) -> SecretSet {
    let mut secrets = SecretSet::default();
    for header in &defaults.headers {
        header.secrets.iter().for_each(|secret| secrets.add(secret));
    }
    if let Some(base) = &defaults.base_url {
        base.secrets.iter().for_each(|secret| secrets.add(secret));
    }
    secrets
}

/// Whether `raw` parses into a request ([`parse_request`]'s error if not),
/// for the checking pass. Most inputs are URLs alone (or with an `id`) on a
/// few hosts: such an item is known to parse without parsing it when its scheme and
/// authority parsed before ([`url_cache::on_kept_prefix`]) and nothing in
/// it can fail the checks [`build_url`] makes after the parse (a template,
/// a character a request target cannot carry, a length that percent-encoding
/// could take past the limit). Anything else is parsed.
pub(crate) fn check_request(
    raw: RawItem,
    defaults: &RequestDefaults,
    env: EnvLookup<'_>,
) -> Result<(), FieldError> {
    let url_alone = match &raw {
        RawItem::Arg(url) | RawItem::Json(Value::String(url)) => Some(url),
        // `{"url": ...}`, or with an `id` as well (a string or a number).
        RawItem::Json(Value::Object(object)) => {
            let id_fine = match object.get("id") {
                None => object.len() == 1,
                Some(Value::String(_) | Value::Number(_)) => object.len() == 2,
                Some(_) => false,
            };
            match object.get("url") {
                Some(Value::String(url)) if id_fine => Some(url),
                _ => None,
            }
        }
        RawItem::Json(_) => None,
    };
    let known_good = url_alone.is_some_and(|url| {
        // Percent-encoding at most triples the rest; the host printed back
        // (an IPv6 address in full) is at most a few dozen bytes longer.
        3 * url.len() + 64 <= MAX_URL_BYTES
            && url.bytes().all(|byte| is_uri_byte(byte) && byte != b'$')
            && url_cache::on_kept_prefix(url)
    });
    match known_good {
        true => Ok(()),
        false => parse_request(raw, defaults, env).map(drop),
    }
}

/// Parses one item into a request.
pub(crate) fn parse_request(
    raw: RawItem,
    defaults: &RequestDefaults,
    env: EnvLookup<'_>,
) -> Result<RequestSpec, FieldError> {
    // A URL alone is an object with only `url`, without building one.
    let (object, url_alone) = match raw {
        RawItem::Arg(url) | RawItem::Json(Value::String(url)) => {
            (Map::new(), Some(Value::String(url)))
        }
        RawItem::Json(Value::Object(object)) => (object, None),
        RawItem::Json(other) => {
            return Err(FieldError::whole_item(format!(
                "an item must be a URL string or an object with `url`, not {}",
                json_type(&other)
            )));
        }
    };
    reject_unknown_fields(&object, FIELDS)?;
    let mut secrets = SecretSet::default();

    let id = match object.get("id") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Number(id)) => Some(id.to_string()),
        Some(other) => {
            return Err(FieldError::must_be("id", "a string or number", other));
        }
    };

    let url_field = url_alone.as_ref().or_else(|| object.get("url"));
    let (url, shown_url, credentials) =
        build_url(url_field, object.get("query"), defaults, env, &mut secrets)?;
    let body = build_body(&object, env, &mut secrets)?;

    let method = match object.get("method") {
        Some(Value::String(name)) => Method::from_bytes(name.to_ascii_uppercase().as_bytes())
            .map_err(|_| FieldError::new("method", format!("`{name}` is not an HTTP method")))?,
        Some(other) => {
            return Err(FieldError::must_be("method", "a string", other));
        }
        None => match (&defaults.method, &body) {
            (Some(method), _) => method.clone(),
            (None, Some(_)) => Method::POST,
            (None, None) => Method::GET,
        },
    };

    let mut headers = HeaderMap::new();
    let mut shown_headers = Vec::new();
    match object.get("headers") {
        None => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let field = format!("headers.{name}");
                let text = scalar_text(value, &field, "a string")?;
                let entry = header_entry(name, &text, &field, env)?;
                entry.secrets.iter().for_each(|secret| secrets.add(secret));
                shown_headers.push((entry.name.as_str().to_string(), entry.shown));
                headers.append(entry.name, entry.value);
            }
        }
        Some(other) => {
            return Err(FieldError::must_be("headers", "an object", other));
        }
    }
    for default in &defaults.headers {
        if !headers.contains_key(&default.name) {
            shown_headers.push((default.name.as_str().to_string(), default.shown.clone()));
            headers.insert(default.name.clone(), default.value.clone());
        }
    }
    // `http://user:pass@host/`: Basic authentication, as curl, requests and
    // aiohttp send it, unless an `Authorization` header (the item's or a
    // `-H`) is given. It is a secret header: dropped when a redirect or a
    // page leaves the origin.
    if let Some(credentials) = credentials.filter(|_| !headers.contains_key(AUTHORIZATION)) {
        // base64 is always a valid header value.
        if let Ok(mut value) = HeaderValue::from_str(&format!("Basic {credentials}")) {
            secrets.add(&credentials);
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
            shown_headers.push((AUTHORIZATION.as_str().to_string(), REDACTED.to_string()));
        }
    }
    if let Some(RequestBody {
        content_type: Some(content_type),
        ..
    }) = &body
        && !headers.contains_key(CONTENT_TYPE)
    {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        shown_headers.push((CONTENT_TYPE.as_str().to_string(), content_type.to_string()));
    }

    let timeout = object
        .get("timeout")
        .map(|value| parse_seconds(value, "timeout"))
        .transpose()?;
    if timeout == Some(Duration::ZERO) {
        return Err(FieldError::new("timeout", "must be more than 0"));
    }
    let max_time = object
        .get("max_time")
        .map(|value| parse_seconds(value, "max_time"))
        .transpose()?;
    if max_time == Some(Duration::ZERO) {
        return Err(FieldError::new("max_time", "must be more than 0"));
    }
    let save_as = match object.get("save_as") {
        None => None,
        Some(Value::String(name)) if defaults.save_dir => Some(name.clone()),
        Some(Value::String(_)) => {
            return Err(FieldError::new(
                "save_as",
                "names a file in --save-dir, which was not given",
            ));
        }
        Some(other) => return Err(FieldError::must_be("save_as", "a string", other)),
    };

    Ok(RequestSpec {
        id,
        method,
        url,
        shown_url,
        headers,
        shown_headers,
        body,
        timeout,
        max_time,
        save_as,
        secrets,
    })
}

/// The item's URL (joined with `--base-url`, its `query` added, without
/// user info), the URL as shown (secrets redacted), and the base64
/// credentials of the user info it had.
fn build_url(
    url_field: Option<&Value>,
    query: Option<&Value>,
    defaults: &RequestDefaults,
    env: EnvLookup<'_>,
    secrets: &mut SecretSet,
) -> Result<(Url, String, Option<String>), FieldError> {
    let template = match url_field {
        Some(Value::String(url)) if !url.trim().is_empty() => url.trim(),
        Some(Value::String(_)) => return Err(FieldError::new("url", "is empty")),
        Some(other) => {
            return Err(FieldError::must_be("url", "a string", other));
        }
        None => return Err(FieldError::new("url", "is missing")),
    };
    let path = expand_url(template, env)?;
    path.secrets.iter().for_each(|secret| secrets.add(secret));
    let (mut value, mut shown) = match (&defaults.base_url, has_scheme(&path.value)) {
        (_, true) => (path.value, path.shown),
        (Some(base), false) => (
            join(&base.value, &path.value),
            join(&base.shown, &path.shown),
        ),
        (None, false) => {
            return Err(FieldError::new(
                "url",
                format!(
                    "`{}` is not absolute (http://...) and no --base-url was given",
                    path.shown
                ),
            ));
        }
    };
    // The item's `query` object goes before the fragment, if there is one.
    let fragment = split_fragment(&mut value);
    let shown_fragment = split_fragment(&mut shown);
    match query {
        None => {}
        Some(Value::Object(pairs)) => {
            for (name, item) in pairs {
                let field = format!("query.{name}");
                let values: Vec<&Value> = match item {
                    Value::Array(items) => items.iter().collect(),
                    single => vec![single],
                };
                for item in values {
                    let text = scalar_text(item, &field, "a string or number")?;
                    let expanded = expand(&text, &field, env)?;
                    expanded
                        .secrets
                        .iter()
                        .for_each(|secret| secrets.add(secret));
                    let secret_name = is_secret_header(name);
                    if secret_name {
                        secrets.add(&expanded.value);
                    }
                    let separator = if value.contains('?') { '&' } else { '?' };
                    let encoded_name: String =
                        form_urlencoded::byte_serialize(name.as_bytes()).collect();
                    let encoded_value: String =
                        form_urlencoded::byte_serialize(expanded.value.as_bytes()).collect();
                    value.push_str(&format!("{separator}{encoded_name}={encoded_value}"));
                    let shown_value = if secret_name || !expanded.secrets.is_empty() {
                        REDACTED.to_string()
                    } else {
                        encoded_value
                    };
                    shown.push_str(&format!("{separator}{encoded_name}={shown_value}"));
                }
            }
        }
        Some(other) => {
            return Err(FieldError::must_be("query", "an object", other));
        }
    }
    value.push_str(&fragment);
    shown.push_str(&shown_fragment);
    // Every message below quotes the URL: never with its user info.
    if let Some(redacted) = without_userinfo(&shown) {
        shown = redacted;
    }
    let mut url = parse_url(&value).map_err(|error| {
        FieldError::new("url", format!("`{shown}` is not a valid URL: {error}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FieldError::new(
            "url",
            format!("`{shown}`: only http and https URLs are supported"),
        ));
    }
    // The user info becomes the credentials of Basic authentication and
    // leaves the URL, as reqwest's own request builder does: a proxy gets
    // the whole URL in its request line, and redirects and next pages are
    // joined onto this one.
    let credentials = basic_credentials(&url);
    if let Some(password) = url.password() {
        secrets.add(password);
        secrets.add(&percent_decode_str(password).decode_utf8_lossy());
    }
    if credentials.is_some() {
        // Only fails for URLs that cannot have a user (none here: http(s)).
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    if url.as_str().len() > MAX_URL_BYTES {
        return Err(FieldError::new(
            "url",
            format!(
                "the URL is {} bytes long; a request can carry at most {MAX_URL_BYTES}",
                url.as_str().len()
            ),
        ));
    }
    // The WHATWG parser keeps some characters in a host or a query that an
    // HTTP request cannot carry (`http://{{name}}/` from a template left
    // unfilled): refused now, not found out by every attempt. The full check
    // only runs on a URL with a character outside RFC 3986's.
    if !url.as_str().bytes().all(is_uri_byte) && url.as_str().parse::<hyper::Uri>().is_err() {
        return Err(FieldError::new(
            "url",
            format!("`{shown}` cannot be sent: it has characters a request target cannot carry"),
        ));
    }
    let mut shown = redact_secret_query(shown, secrets);
    // A password written a second time (in a query parameter not named
    // like a secret) is still the password. Values from the environment
    // show as `<redacted>` already; a literal one is in `shown` as written.
    for secret in secrets.iter() {
        if shown.contains(secret) {
            shown = shown.replace(secret, REDACTED);
        }
    }
    Ok((url, shown, credentials))
}

/// Expands a URL template. A value that goes into the user info (between
/// `://` and the template's own last `@` before the path) has the
/// characters that would end the user info percent-encoded: a password
/// holding `@`, `/`, `?` or `#` would otherwise send the request to another
/// host, with part of the password taken for its name (and shown in an
/// error about it). `:` and `%` are left as they are, so `${USER_AND_PASSWORD}`
/// and a value already encoded still work.
fn expand_url(template: &str, env: EnvLookup<'_>) -> Result<Expanded, FieldError> {
    let userinfo = template.contains('$').then(|| userinfo_range(template));
    let Some(userinfo) = userinfo.flatten() else {
        return expand(template, "url", env);
    };
    let scheme = expand(&template[..userinfo.start], "url", env)?;
    let user = expand_with(&template[userinfo.clone()], "url", env, |value| {
        percent_encoding::utf8_percent_encode(value, USERINFO_DELIMITERS).into()
    })?;
    let rest = expand(&template[userinfo.end..], "url", env)?;
    let mut out = scheme;
    for part in [user, rest] {
        out.value.push_str(&part.value);
        out.shown.push_str(&part.shown);
        out.secrets.extend(part.secrets);
    }
    Ok(out)
}

/// Where the user info of a URL (or of a template, as written) is: after
/// its `scheme://`, up to its last `@` before the first `/`, `?` or `#` (a
/// password may hold a literal `@`).
fn userinfo_range(url: &str) -> Option<std::ops::Range<usize>> {
    // A byte search: a `str` pattern builds a searcher each call.
    let start = url.as_bytes().windows(3).position(|w| w == b"://")? + 3;
    let authority = &url[start..];
    let authority = &authority[..authority.find(['/', '?', '#']).unwrap_or(authority.len())];
    let at = authority.rfind('@')?;
    Some(start..start + at)
}

/// What a value in a URL's user info cannot hold as it is: what ends the
/// user info (`@`, a path, a query, a fragment) and what the URL parser
/// drops or stops at (controls, space).
const USERINFO_DELIMITERS: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'@')
    .add(b'/')
    .add(b'?')
    .add(b'#')
    .add(b'\\');

/// The longest URL a request is sent with: the request target's limit in
/// the `http` crate, which both clients build on. Longer ones are refused
/// when the input is checked, not found out by a failed attempt.
const MAX_URL_BYTES: usize = u16::MAX as usize - 1;

/// A byte RFC 3986 allows in a URI (unreserved, reserved, `%`).
fn is_uri_byte(byte: u8) -> bool {
    URI_BYTES[usize::from(byte)]
}

/// [`is_uri_byte`] as a table: it runs over every URL of the input twice.
const URI_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric();
        byte += 1;
    }
    let others = b"-._~:/?#[]@!$&'()*+,;=%";
    let mut at = 0;
    while at < others.len() {
        table[others[at] as usize] = true;
        at += 1;
    }
    table
};

/// Cuts `#fragment` (with its `#`) off `url` and returns it ("" for none).
fn split_fragment(url: &mut String) -> String {
    match url.find('#') {
        Some(at) => url.split_off(at),
        None => String::new(),
    }
}

/// Whether `url` starts with `scheme://` (RFC 3986 scheme characters): an
/// absolute URL, which ignores `--base-url`. `/go?to=http://x` is relative.
fn has_scheme(url: &str) -> bool {
    // The first `://` ends the scheme exactly when the scheme characters
    // before it run up to it.
    let scheme_len = url
        .bytes()
        .take_while(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        .count();
    url.starts_with(|c: char| c.is_ascii_alphabetic()) && url[scheme_len..].starts_with("://")
}

/// The seed's `BASE_URL + endpoint`, defined (see the module's table): the
/// item's path after the base's with exactly one slash between, the base's
/// query before the item's, the item's fragment; `//host/...` takes only the
/// base's scheme. `base` is absolute and has no fragment; `reference` has
/// no scheme.
fn join(base: &str, reference: &str) -> String {
    if reference.starts_with("//") {
        let scheme = base.split_once("://").map_or("http", |(scheme, _)| scheme);
        return format!("{scheme}:{reference}");
    }
    let (base_head, base_query) = match base.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (base, None),
    };
    let (reference, fragment) = match reference.split_once('#') {
        Some((main, fragment)) => (main, Some(fragment)),
        None => (reference, None),
    };
    let (path, query) = match reference.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (reference, None),
    };
    let mut joined = if path.is_empty() {
        base_head.to_string()
    } else {
        format!(
            "{}/{}",
            base_head.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    };
    let queries: Vec<&str> = [base_query, query]
        .into_iter()
        .flatten()
        .filter(|query| !query.is_empty())
        .collect();
    if !queries.is_empty() {
        joined.push('?');
        joined.push_str(&queries.join("&"));
    }
    if let Some(fragment) = fragment {
        joined.push('#');
        joined.push_str(fragment);
    }
    joined
}

/// The base64 of `user:password` from `url`'s userinfo (percent-decoded),
/// when it has one.
fn basic_credentials(url: &Url) -> Option<String> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let mut pair: Vec<u8> = percent_decode_str(url.username()).collect();
    pair.push(b':');
    pair.extend(percent_decode_str(url.password().unwrap_or("")));
    Some(base64::engine::general_purpose::STANDARD.encode(pair))
}

/// `shown` with its user info replaced, when it has some.
fn without_userinfo(shown: &str) -> Option<String> {
    let userinfo = userinfo_range(shown)?;
    Some(format!(
        "{}{REDACTED}{}",
        &shown[..userinfo.start],
        &shown[userinfo.end..]
    ))
}

/// Hides the values of query parameters named like secrets (`api_key=...`).
pub(crate) fn redact_secret_query(shown: String, secrets: &mut SecretSet) -> String {
    let Some((head, query)) = shown.split_once('?') else {
        return shown;
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if is_secret_header(name) && value != REDACTED => {
                secrets.add(value);
                format!("{name}={REDACTED}")
            }
            _ => pair.to_string(),
        })
        .collect();
    let mut out = format!("{head}?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn build_body(
    object: &Map<String, Value>,
    env: EnvLookup<'_>,
    secrets: &mut SecretSet,
) -> Result<Option<RequestBody>, FieldError> {
    let given: Vec<&str> = ["json", "body", "form"]
        .into_iter()
        .filter(|key| object.contains_key(*key))
        .collect();
    if given.len() > 1 {
        return Err(FieldError::new(
            given[1],
            format!(
                "give only one of json, body and form (found {})",
                given.join(" and ")
            ),
        ));
    }
    if let Some(json) = object.get("json") {
        let mut sent = json.clone();
        let mut shown = json.clone();
        expand_json(&mut sent, &mut shown, "json", env, secrets)?;
        let bytes = serde_json::to_vec(&sent)
            .map_err(|error| FieldError::new("json", error.to_string()))?;
        return Ok(Some(RequestBody {
            bytes: Bytes::from(bytes),
            content_type: Some("application/json"),
            shown,
        }));
    }
    if let Some(body) = object.get("body") {
        let Value::String(text) = body else {
            return Err(FieldError::must_be(
                "body",
                "a string (use `json` for a JSON body)",
                body,
            ));
        };
        let expanded = expand(text, "body", env)?;
        expanded
            .secrets
            .iter()
            .for_each(|secret| secrets.add(secret));
        return Ok(Some(RequestBody {
            bytes: Bytes::from(expanded.value),
            content_type: None,
            shown: Value::String(expanded.shown),
        }));
    }
    if let Some(form) = object.get("form") {
        let Value::Object(pairs) = form else {
            return Err(FieldError::must_be("form", "an object", form));
        };
        let mut encoder = form_urlencoded::Serializer::new(String::new());
        let mut shown = Map::new();
        for (name, value) in pairs {
            let field = format!("form.{name}");
            let text = scalar_text(value, &field, "a string or number")?;
            let expanded = expand(&text, &field, env)?;
            expanded
                .secrets
                .iter()
                .for_each(|secret| secrets.add(secret));
            encoder.append_pair(name, &expanded.value);
            let shown_value = if is_secret_header(name) {
                REDACTED.to_string()
            } else {
                expanded.shown
            };
            if is_secret_header(name) {
                secrets.add(&expanded.value);
            }
            shown.insert(name.clone(), Value::String(shown_value));
        }
        return Ok(Some(RequestBody {
            bytes: Bytes::from(encoder.finish()),
            content_type: Some("application/x-www-form-urlencoded"),
            shown: Value::Object(shown),
        }));
    }
    Ok(None)
}

/// Expands `${NAME}` in every string of a JSON body (keys stay as written).
fn expand_json(
    sent: &mut Value,
    shown: &mut Value,
    field: &str,
    env: EnvLookup<'_>,
    secrets: &mut SecretSet,
) -> Result<(), FieldError> {
    match (sent, shown) {
        (Value::String(text), Value::String(shown_text)) => {
            let expanded = expand(text, field, env)?;
            expanded
                .secrets
                .iter()
                .for_each(|secret| secrets.add(secret));
            *text = expanded.value;
            *shown_text = expanded.shown;
        }
        (Value::Array(items), Value::Array(shown_items)) => {
            for (at, (item, shown_item)) in items.iter_mut().zip(shown_items.iter_mut()).enumerate()
            {
                expand_json(item, shown_item, &format!("{field}[{at}]"), env, secrets)?;
            }
        }
        (Value::Object(map), Value::Object(shown_map)) => {
            for (key, item) in map.iter_mut() {
                if let Some(shown_item) = shown_map.get_mut(key) {
                    expand_json(item, shown_item, &format!("{field}.{key}"), env, secrets)?;
                    if is_secret_header(key) && item.is_string() {
                        if let Some(text) = item.as_str() {
                            secrets.add(text);
                        }
                        *shown_item = Value::String(REDACTED.to_string());
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        (name == "API_KEY").then(|| "k3y-v4lue".to_string())
    }

    fn defaults() -> RequestDefaults {
        RequestDefaults {
            base_url: Some(expand("http://127.0.0.1:9/v1", "--base-url", &env).unwrap()),
            ..RequestDefaults::default()
        }
    }

    fn parse(value: Value) -> Result<RequestSpec, FieldError> {
        parse_request(RawItem::Json(value), &defaults(), &env)
    }

    /// The checking pass's shortcut accepts exactly what the parse accepts,
    /// with the same error, before and after the hosts are known.
    #[test]
    fn checking_an_item_answers_as_parsing_it_does() {
        let long_path = format!("/{}", "a".repeat(MAX_URL_BYTES / 3));
        let urls = [
            "http://127.0.0.1:9/x".to_string(),
            "http://127.0.0.1:9/x?y=1&z#f".to_string(),
            "https://example.com/a/../b".to_string(),
            "http://127.0.0.1:9/{{name}}".to_string(),
            "http://127.0.0.1:9/?q={{name}}".to_string(),
            "http://127.0.0.1:9/${API_KEY}".to_string(),
            "http://127.0.0.1:9/${MISSING}".to_string(),
            "http://127.0.0.1:9/$x".to_string(),
            "http://127.0.0.1:9/a b".to_string(),
            "http://127.0.0.1:9/a|b".to_string(),
            "http://127.0.0.1:9/%zz".to_string(),
            "http://ex%7Bample.com/x".to_string(),
            "http://1.2.3.999/x".to_string(),
            "http://[::1]:9/x".to_string(),
            "http://u:p@127.0.0.1:9/x".to_string(),
            "http://127.0.0.1:99999/x".to_string(),
            "ftp://127.0.0.1:9/x".to_string(),
            "users".to_string(),
            " http://127.0.0.1:9/x ".to_string(),
            format!("http://127.0.0.1:9{long_path}"),
            format!("http://127.0.0.1:9{long_path}{long_path}"),
            format!("http://127.0.0.1:9{}", long_path.replace('a', "{")),
        ];
        let mut items = Vec::new();
        for url in &urls {
            items.push(RawItem::Arg(url.clone()));
            items.push(RawItem::Json(json!(url)));
            items.push(RawItem::Json(json!({"url": url})));
            items.push(RawItem::Json(json!({"url": url, "method": "NOT A METHOD"})));
            items.push(RawItem::Json(json!({"url": url, "timeout": 0})));
            items.push(RawItem::Json(json!({"url": url, "id": "a"})));
            items.push(RawItem::Json(json!({"url": url, "id": 7.5})));
            items.push(RawItem::Json(json!({"url": url, "id": null})));
            items.push(RawItem::Json(json!({"url": url, "id": ["a"]})));
            items.push(RawItem::Json(json!({"url": url, "id": "a", "extra": 1})));
        }
        items.push(RawItem::Json(json!({"id": 1})));
        items.push(RawItem::Json(
            json!({"id": 1, "uri": "http://127.0.0.1:9/x"}),
        ));
        items.push(RawItem::Json(json!({"url": 1})));
        items.push(RawItem::Json(json!(["http://127.0.0.1:9/x"])));
        for round in 0..2 {
            for raw in &items {
                let checked = check_request(raw.clone(), &defaults(), &env);
                let parsed = parse_request(raw.clone(), &defaults(), &env).map(drop);
                assert_eq!(
                    checked.map_err(|e| format!("{e:?}")),
                    parsed.map_err(|e| format!("{e:?}")),
                    "round {round}: {raw:?}"
                );
            }
            // The shortcut was there to take in the second round.
            assert!(url_cache::on_kept_prefix("http://127.0.0.1:9/x"));
        }
    }

    /// A password from the environment that holds what ends user info
    /// still goes to the host the template names, whole, as Basic
    /// authentication; an encoded one and `${USER}:${PASS}` in one value
    /// work as before.
    #[test]
    fn values_in_user_info_cannot_move_the_request_to_another_host() {
        let env = |name: &str| {
            Some(
                match name {
                    "PW" => "p@evil.example/#?x\\ y",
                    "ENCODED" => "p%40ss",
                    "BOTH" => "al:pw",
                    _ => return None,
                }
                .to_string(),
            )
        };
        let base64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let parse = |url: &str| parse_request(RawItem::Arg(url.into()), &defaults(), &env);
        let spec = parse("http://al:${PW}@127.0.0.1:9/x?q=${PW}#${PW}").unwrap();
        assert_eq!(spec.url.host_str(), Some("127.0.0.1"));
        assert_eq!(spec.url.path(), "/x");
        let expected = format!("Basic {}", base64("al:p@evil.example/#?x\\ y"));
        assert_eq!(spec.headers[AUTHORIZATION], expected.as_str());
        assert_eq!(
            spec.shown_url,
            "http://<redacted>@127.0.0.1:9/x?q=<redacted>#<redacted>"
        );
        let spec = parse("http://al:${ENCODED}@127.0.0.1:9/").unwrap();
        assert_eq!(
            spec.headers[AUTHORIZATION],
            format!("Basic {}", base64("al:p@ss")).as_str()
        );
        let spec = parse("http://${BOTH}@127.0.0.1:9/").unwrap();
        assert_eq!(
            spec.headers[AUTHORIZATION],
            format!("Basic {}", base64("al:pw")).as_str()
        );
        // An `@` that only the value brings is not user info of the template.
        assert_eq!(userinfo_range("http://${HOST}/a@b"), None);
        assert_eq!(userinfo_range("http://u:${PW}@h@i/x"), Some(7..16));
    }

    #[test]
    fn a_password_written_twice_is_hidden_both_times() {
        let spec =
            parse(json!({"url": "http://al:s3cr3t-pw@127.0.0.1:9/x?echo=s3cr3t-pw"})).unwrap();
        assert_eq!(
            spec.shown_url,
            "http://<redacted>@127.0.0.1:9/x?echo=<redacted>"
        );
        assert_eq!(spec.url.as_str(), "http://127.0.0.1:9/x?echo=s3cr3t-pw");
    }

    #[test]
    fn user_info_becomes_basic_authentication_and_leaves_the_url() {
        let spec = parse(json!({"url": "http://al%20ice:p@ss@127.0.0.1:9/x?q=1"})).unwrap();
        // base64("al ice:p@ss")
        assert_eq!(spec.headers[AUTHORIZATION], "Basic YWwgaWNlOnBAc3M=");
        assert!(spec.headers[AUTHORIZATION].is_sensitive());
        assert_eq!(spec.url.as_str(), "http://127.0.0.1:9/x?q=1");
        assert_eq!(spec.shown_url, "http://<redacted>@127.0.0.1:9/x?q=1");
        assert!(
            spec.shown_headers
                .contains(&("authorization".to_string(), REDACTED.to_string()))
        );
        let own = parse(json!({
            "url": "http://u:pw@127.0.0.1:9/",
            "headers": {"Authorization": "Token t"}
        }))
        .unwrap();
        assert_eq!(own.headers[AUTHORIZATION], "Token t");
        assert_eq!(own.url.as_str(), "http://127.0.0.1:9/");
    }

    #[test]
    fn errors_about_a_url_never_quote_its_user_info() {
        for url in [
            "http://u:pw-s3cr3t@{{name}}/x",
            "http://u:pw-s3cr3t@h:99999/x",
            "ftp://u:pw-s3cr3t@h/x",
        ] {
            let error = parse(json!({"url": url})).err();
            let error = error.unwrap_or_else(|| panic!("{url} was accepted"));
            assert!(!error.message.contains("s3cr3t"), "{}", error.message);
            assert!(error.message.contains("<redacted>@"), "{}", error.message);
        }
        // Only what is sent counts towards the length limit.
        let long = format!(
            "http://u:pw@h/?q={}",
            "a".repeat(65_534 - "http://h/?q=".len())
        );
        assert!(parse(json!({"url": long})).is_ok());
    }

    #[test]
    fn urls_a_request_cannot_carry_are_refused() {
        for url in ["http://{{name}}/x", "http://a{b}c.example/"] {
            let error = parse(json!({"url": url})).err();
            let error = error.unwrap_or_else(|| panic!("{url} was accepted"));
            assert_eq!(error.field.as_deref(), Some("url"), "{url}");
        }
        // Fine: what url encodes on its own (a space, quotes, braces in a
        // path) and what a request target carries as it is (braces and a
        // backtick in a query).
        for url in [
            "http://h/a b",
            "http://h/?q=\"x\"",
            "http://h/{{path}}",
            "http://h/?q={x}`y`",
        ] {
            assert!(parse(json!({"url": url})).is_ok(), "{url}");
        }
    }

    #[test]
    fn seed_style_relative_url_keeps_the_base_path() {
        let spec = parse(json!({"url": "/summarize", "json": {"text": "hi"}})).unwrap();
        assert_eq!(spec.url.as_str(), "http://127.0.0.1:9/v1/summarize");
        assert_eq!(spec.method, Method::POST);
        assert_eq!(spec.headers[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn secrets_are_expanded_but_never_shown() {
        let spec = parse(json!({
            "url": "/x?api_key=literal-key",
            "query": {"q": "${API_KEY}", "page": 2},
            "headers": {"X-Api-Key": "${API_KEY}", "Accept": "text/plain"}
        }))
        .unwrap();
        assert!(spec.url.as_str().contains("q=k3y-v4lue"));
        assert_eq!(
            spec.shown_url,
            "http://127.0.0.1:9/v1/x?api_key=<redacted>&q=<redacted>&page=2"
        );
        assert!(
            spec.shown_headers
                .contains(&("x-api-key".into(), "<redacted>".into()))
        );
        let redactor = spec.secrets.redactor();
        assert_eq!(
            redactor.scrub_str("echo k3y-v4lue literal-key"),
            "echo <redacted> <redacted>"
        );
    }

    #[test]
    fn bad_items_name_their_field() {
        let cases = [
            (json!({"url": "/x", "hedaers": {}}), "hedaers"),
            (json!({"url": 5}), "url"),
            (json!({"url": "ftp://host/x"}), "url"),
            (json!({"url": "/x", "method": "BAD METHOD"}), "method"),
            (
                json!({"url": "/x", "headers": {"X": "${UNSET_VAR}"}}),
                "headers.X",
            ),
            (
                json!({"url": "/x", "headers": {"bad name": "v"}}),
                "headers.bad name",
            ),
            (json!({"url": "/x", "json": {}, "body": "x"}), "body"),
            (json!({"url": "/x", "timeout": "soon"}), "timeout"),
            (json!({"url": "/x", "timeout": 0}), "timeout"),
            (json!({"url": "/x", "max_time": 0}), "max_time"),
            (json!({"url": "/x", "max_time": "later"}), "max_time"),
            (
                json!({"url": "/x", "json": {"a": ["${NOPE}"]}}),
                "json.a[0]",
            ),
        ];
        for (item, field) in cases {
            let error = parse(item.clone()).unwrap_err();
            assert_eq!(
                error.field.as_deref(),
                Some(field),
                "{item}: {}",
                error.message
            );
        }
        assert!(parse(json!(42)).unwrap_err().field.is_none());
    }

    #[test]
    fn base_url_joins_are_defined_for_every_edge() {
        let cases = [
            ("http://h/v1", "users", "http://h/v1/users"),
            ("http://h/v1", "/users", "http://h/v1/users"),
            ("http://h/v1/", "/users/", "http://h/v1/users/"),
            ("http://h/v1//", "/users", "http://h/v1/users"),
            ("http://h", "users", "http://h/users"),
            ("http://h/", "/", "http://h/"),
            (
                "http://h/v1?key=K",
                "users?page=2",
                "http://h/v1/users?key=K&page=2",
            ),
            ("http://h/v1?key=K", "?page=2", "http://h/v1?key=K&page=2"),
            ("http://h/v1", "?page=2", "http://h/v1?page=2"),
            ("http://h/v1?", "users?", "http://h/v1/users"),
            ("http://h/v1", "users#top", "http://h/v1/users#top"),
            ("http://h/v1?k=1", "#top", "http://h/v1?k=1#top"),
            (
                "https://h/v1",
                "//cdn.example/x?y",
                "https://cdn.example/x?y",
            ),
            (
                "http://h/v1",
                "go?to=http://x/y",
                "http://h/v1/go?to=http://x/y",
            ),
        ];
        for (base, reference, want) in cases {
            assert_eq!(join(base, reference), want, "{base} + {reference}");
        }
        assert!(has_scheme("HTTPS://h/") && has_scheme("svn+ssh://h"));
        assert!(!has_scheme("/go?to=http://x") && !has_scheme("//h/x") && !has_scheme("a b://x"));
    }

    #[test]
    fn parsed_urls_resolve_dots_and_keep_query_objects_before_the_fragment() {
        let defaults = RequestDefaults {
            base_url: Some(
                expand("http://127.0.0.1:9/v1?key=${API_KEY}", "--base-url", &env).unwrap(),
            ),
            ..RequestDefaults::default()
        };
        let parse = |item: Value| parse_request(RawItem::Json(item), &defaults, &env).unwrap();
        let spec = parse(json!({"url": "users#f", "query": {"a": 1}}));
        assert_eq!(
            spec.url.as_str(),
            "http://127.0.0.1:9/v1/users?key=k3y-v4lue&a=1#f"
        );
        assert_eq!(
            spec.shown_url,
            "http://127.0.0.1:9/v1/users?key=<redacted>&a=1#f"
        );
        let spec = parse(json!({"url": "../x"}));
        assert_eq!(spec.url.as_str(), "http://127.0.0.1:9/x?key=k3y-v4lue");
        let spec = parse(json!({"url": "http://other:8/y?z=1"}));
        assert_eq!(spec.url.as_str(), "http://other:8/y?z=1");
    }

    #[test]
    fn relative_url_without_base_is_an_error() {
        let error = parse_request(RawItem::Arg("/x".into()), &RequestDefaults::default(), &env)
            .unwrap_err();
        assert_eq!(error.field.as_deref(), Some("url"));
    }
}
