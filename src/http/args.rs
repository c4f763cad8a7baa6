//! The command line of `async_requests`.

use super::body::{BodyMode, Pick};
use super::retry::StatusSet;
use crate::cli::{CommonArgs, duration_arg, nonzero_duration_arg, size_arg};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  # Three GETs at once, JSON out
  async_requests https://api.example.com/a https://api.example.com/b https://api.example.com/c

  # The seed's three POSTs against a base URL, with a secret header from the environment
  async_requests --base-url http://127.0.0.1:8080 -H 'Authorization: Bearer ${API_KEY}' \\
      --input assets/examples/seed_requests.json

  # A thousand requests, 50 at a time, at most 200 per second, only two fields of each body
  # (\"picked\":{\"id\":..,\"state\":..})
  async_requests --input urls.txt -c 50 --rate 200 --pick id=/id --pick state=/status --ndjson

  # Retry flaky endpoints harder; treat 404 as ok
  async_requests --retries 5 --backoff 500ms --accept-status 200-299,404 --input reqs.json

  # Download 40 files, 8 at a time, into dl/ (saved_to, bytes and sha256 in each result)
  async_requests --save-dir dl/ -c 8 --input urls.txt

  # Every page of a paginated API (Link: rel=\"next\"), one result line per page, in order;
  # jq gathers the pages' arrays into one
  async_requests --paginate https://api.example.com/issues | jq '[.results[].json[]]'

  # 500 calls to an API that may be down: after 5 failures in a row the rest fail at once
  async_requests --circuit-breaker 5 --input calls.ndjson

  # Check what would be sent, secrets redacted, without sending anything
  async_requests --dry-run --input reqs.json

Input items (--input): one URL a line (`#` comments), or JSON (array or NDJSON) of URL strings or
  {\"id\", \"method\", \"url\", \"headers\", \"query\", \"json\", \"body\", \"form\", \"timeout\", \"max_time\", \"save_as\"}
`${NAME}` in url, headers, query and bodies expands from the environment (and is never printed).

Exit codes: 0 all ok, 1 some not ok, 2 bad usage or input (nothing sent), 130/143/129 interrupted
(SIGINT/SIGTERM/SIGHUP).";

/// Send many HTTP requests concurrently and print one JSON result per request.
#[derive(Parser, Debug)]
#[command(name = "async_requests", version, after_help = EXAMPLES, max_term_width = 100)]
pub(crate) struct RequestsCli {
    /// URLs to request (GET unless --method). Relative URLs need --base-url.
    #[arg(value_name = "URL")]
    pub(crate) urls: Vec<String>,

    #[command(flatten)]
    pub(crate) common: CommonArgs,

    /// Per attempt: covers connecting, the headers and reading the whole body. E.g. `--timeout 5s`.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = nonzero_duration_arg, help_heading = "Running")]
    pub(crate) timeout: Duration,

    /// A budget per item: every attempt and every wait between them (curl's --max-time with
    /// --retry-max-time); past it the item ends `timeout`, kind `max_time`. "Give up on a URL after
    /// 2 s" is `--max-time 2s`. An item's own `max_time` overrides it.
    #[arg(long, value_name = "DUR", value_parser = nonzero_duration_arg, help_heading = "Running")]
    pub(crate) max_time: Option<Duration>,

    /// Default method for items that name none (default: GET, or POST for items with a body): `--method HEAD`.
    #[arg(long, value_name = "METHOD", help_heading = "Requests")]
    pub(crate) method: Option<String>,

    /// Add a header to every request (repeatable): `-H 'Authorization: Bearer ${TOKEN}'`.
    #[arg(
        short = 'H',
        long = "header",
        value_name = "'NAME: VALUE'",
        help_heading = "Requests"
    )]
    pub(crate) headers: Vec<String>,

    /// Prefix for relative item URLs, joined like `BASE_URL + endpoint`: one slash between the base
    /// and the item's path, the base's path kept; the base's query first, then the item's. With
    /// `--base-url http://h/v1?key=K`: `users` and `/users` go to http://h/v1/users?key=K, `?page=2`
    /// to http://h/v1?key=K&page=2, `//cdn/x` to http://cdn/x; an item with `scheme://` ignores it.
    #[arg(long, value_name = "URL", help_heading = "Requests")]
    pub(crate) base_url: Option<String>,

    /// Retries after a failed attempt (connect errors, timeouts, 408/425/429/500/502/503/504), idempotent methods only, at most 100: `--retries 5`.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 2,
        value_parser = clap::value_parser!(u32).range(0..=100),
        help_heading = "Retries and pacing"
    )]
    pub(crate) retries: u32,

    /// First backoff ceiling; it doubles each retry (up to 10s) and the wait is random below it (full jitter): `--backoff 1s`.
    #[arg(long, value_name = "DUR", default_value = "200ms", value_parser = duration_arg, help_heading = "Retries and pacing")]
    pub(crate) backoff: Duration,

    /// Longest Retry-After to honour; a server asking for more (or for too long to count) ends the retries: `--max-retry-wait 5m`.
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = duration_arg, help_heading = "Retries and pacing")]
    pub(crate) max_retry_wait: Duration,

    /// Also retry non-idempotent methods (POST, PATCH): only when the server de-duplicates.
    #[arg(long, help_heading = "Retries and pacing")]
    pub(crate) retry_unsafe: bool,

    /// At most N requests per second across the run (with -c still bounding how many are in flight): `--rate 20`.
    #[arg(long, value_name = "N", value_parser = positive_rate, help_heading = "Retries and pacing")]
    pub(crate) rate: Option<f64>,

    /// At most N requests in flight to any one host:port: `--per-host 4`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Retries and pacing")]
    pub(crate) per_host: Option<u32>,

    /// Body bytes kept per response, after decompression; the rest is not downloaded (`truncated: true`): `--max-body 64KiB`.
    /// Default 1MiB; with --save-dir no cap unless given (then a larger body fails, kind `too_large`).
    #[arg(long, value_name = "SIZE", value_parser = size_arg, help_heading = "Responses")]
    pub(crate) max_body: Option<u64>,

    /// How bodies appear: auto (JSON parsed, text, or base64), text, or none: `--body none` for status checks.
    #[arg(long = "body", value_name = "MODE", value_enum, default_value_t = BodyMode::Auto, help_heading = "Responses")]
    pub(crate) body_mode: BodyMode,

    /// Keep only these values of a JSON body, repeatable: `--pick id=/data/0/id --pick /total` gives
    /// `"picked":{"id":..,"/total":..}` (a JSON Pointer, RFC 6901; its NAME defaults to the pointer).
    #[arg(
        long = "pick",
        value_name = "[NAME=]POINTER",
        help_heading = "Responses"
    )]
    pub(crate) picks: Vec<Pick>,

    /// Include the response headers (secret ones redacted).
    #[arg(long, help_heading = "Responses")]
    pub(crate) include_headers: bool,

    /// Stream each ok body to a file in DIR (created if needed) instead of the JSON, in flat memory;
    /// the result carries `saved_to`, `bytes`, `sha256`. The name is the item's `save_as`, else the
    /// URL's last path segment, else the item's index, cut to one plain file name inside DIR; two
    /// items of one name get `name-1.ext`, `name-2.ext`. A file already there is kept (`skipped`,
    /// kind `exists`) unless --overwrite. Bytes go to a hidden temporary file renamed when complete:
    /// a failed, timed-out or interrupted download leaves nothing under its name. `--save-dir dl/`.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["picks", "body_mode", "paginate", "next_url", "next_cursor"], help_heading = "Downloads")]
    pub(crate) save_dir: Option<PathBuf>,

    /// With --save-dir: replace files already in DIR.
    #[arg(long, help_heading = "Downloads")]
    pub(crate) overwrite: bool,

    /// With --save-dir: name a file by the response's Content-Disposition (sanitised) when its item
    /// has no `save_as`.
    #[arg(long, help_heading = "Downloads")]
    pub(crate) content_disposition: bool,

    /// Redirects to follow; 0 returns the redirect itself. Secret headers, and headers with a `${ENV}` value, never follow to another origin: `--max-redirects 0`.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        help_heading = "Responses"
    )]
    pub(crate) max_redirects: u32,

    /// Statuses that count as ok: `--accept-status 200-299,404` (also `2xx`, `any`).
    #[arg(
        long,
        value_name = "LIST",
        default_value = "200-299",
        help_heading = "Responses"
    )]
    pub(crate) accept_status: StatusSet,

    /// Follow `Link: <URL>; rel="next"` headers (RFC 8288: GitHub and most REST APIs) from page to
    /// page. Each page is a result line of its own with the item's `index` and its `page` (0-based);
    /// the item's last line decides its status. Pages of one item go one after another.
    #[arg(long, help_heading = "Pagination")]
    pub(crate) paginate: bool,

    /// Follow the next page's URL found at this JSON Pointer of each body (absolute, or relative to
    /// the page): `--next-url /next`. Null, empty or missing: that was the last page.
    #[arg(long, value_name = "POINTER", value_parser = json_pointer, conflicts_with = "paginate", help_heading = "Pagination")]
    pub(crate) next_url: Option<String>,

    /// Follow a cursor: the value at this JSON Pointer of each body goes into the next request's
    /// query as --cursor-param: `--next-cursor /meta/next_cursor --cursor-param cursor`.
    #[arg(long, value_name = "POINTER", value_parser = json_pointer, conflicts_with_all = ["paginate", "next_url"], help_heading = "Pagination")]
    pub(crate) next_cursor: Option<String>,

    /// The query parameter that carries the cursor of --next-cursor: `--cursor-param page_token`.
    #[arg(long, value_name = "NAME", help_heading = "Pagination")]
    pub(crate) cursor_param: Option<String>,

    /// Pages per item at most; a chain cut there ends `ok` with `more_pages: true` on its last line.
    /// A next link back to a page already fetched ends the item (kind `pagination_loop`).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Pagination")]
    pub(crate) max_pages: u32,

    /// Per host: after N failed attempts in a row (connect errors, closed connections, timeouts,
    /// 5xx) every request to it fails at once (kind `circuit_open`) until --circuit-cooldown has
    /// passed; then one probe goes, and its success closes the circuit. `--circuit-breaker 5`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Retries and pacing")]
    pub(crate) circuit_breaker: Option<u32>,

    /// How long an open circuit refuses requests before its probe: `--circuit-cooldown 30s`.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = nonzero_duration_arg, help_heading = "Retries and pacing")]
    pub(crate) circuit_cooldown: Duration,

    /// Check the input and print the planned requests (secrets redacted) as `skipped`; send nothing.
    #[arg(long, help_heading = "Requests")]
    pub(crate) dry_run: bool,

    /// Accept invalid TLS certificates (self-signed test servers only).
    #[arg(long, help_heading = "Requests")]
    pub(crate) insecure: bool,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        // At least one request a week (the longest duration anything here
        // takes), at most a million a second.
        Ok(rate) if (1.0 / (7.0 * 24.0 * 3600.0)..=1e6).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a rate in requests per second between one a week and 1e6 (e.g. 20 or 0.5)"
        )),
    }
}

fn json_pointer(text: &str) -> Result<String, String> {
    if text.is_empty() || text.starts_with('/') {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a JSON Pointer: it must start with `/` (e.g. /next)"
        ))
    }
}
