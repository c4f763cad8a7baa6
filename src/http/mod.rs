//! `async_requests`: many HTTP requests at once, one JSON result each.
//!
//! The seed's `aiohttp` + `gather` script, made safe for a thousand calls:
//! shared clients and connection pools, bounded concurrency, a per-attempt
//! timeout that covers the whole body, retries with jittered backoff and
//! `Retry-After`, a rate limit, capped bodies, and secrets that never reach
//! the output.
//!
//! - [`spec`]: input items → [`spec::RequestSpec`] (with [`template`] for `${ENV}`)
//! - [`fetch`]: one attempt (redirects, capped body)
//! - [`retry`]: backoff, `Retry-After`, `--max-time`, `--rate`, `--per-host`, `--accept-status`
//! - [`breaker`]: `--circuit-breaker`, per host
//! - [`paginate`]: where the next page is (`--paginate`, `--next-url`, `--next-cursor`)
//! - [`pages`]: a paginated item, page after page
//! - [`body`]: how a body appears in the result
//! - [`save`]: `--save-dir`, bodies streamed to files
//! - [`client`]: the clients (hyper directly for plain HTTP, reqwest for
//!   TLS and proxies), their response, and transport-error classification
//! - [`direct`]: the plain-HTTP client's connection pool
//! - [`error`]: the error kinds

pub(crate) mod args;
pub(crate) mod body;
pub(crate) mod breaker;
pub(crate) mod client;
mod direct;
pub(crate) mod error;
pub(crate) mod fetch;
pub(crate) mod pages;
pub(crate) mod paginate;
pub(crate) mod retry;
pub(crate) mod save;
pub(crate) mod spec;
pub(crate) mod template;
pub(crate) mod url_cache;

pub(crate) use error::RequestError;

/// The binary's name, as `"tool"` in the JSON.
pub(crate) const NAME: &str = "async_requests";

use crate::app::{Identity, NotRun, Scheduler, Tool};
use crate::error::{ErrorBody, FieldError, InputError};
use crate::input::{ParseItem, RawItem};
use crate::redact::{REDACTED, Redactor, SecretSet, is_secret_header};
use crate::runner::{ItemContext, Job};
use crate::stop::StopToken;
use crate::units::millis;
use crate::wire::Finished;
use args::RequestsCli;
use body::{BodyMode, RenderedBody};
use fetch::{Exchange, ExchangeLimits};
use retry::{
    Budget, Decision, Failed, HostLimiter, RateLimiter, RetryPolicy, StatusSet, parse_retry_after,
};
use save::{FileTarget, SaveDir, SaveSettings};
use serde::Serialize;
use serde_json::{Map, Value};
use spec::{RequestDefaults, RequestSpec};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The longest backoff ceiling, however many retries.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// `--max-body` when not given: body bytes kept in the JSON.
const DEFAULT_MAX_BODY: u64 = 1 << 20;

/// Settings from the command line that shape every request.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub(crate) timeout: Duration,
    /// `--max-time`: the budget of an item without its own `max_time`.
    pub(crate) max_time: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) accept: StatusSet,
    pub(crate) limits: ExchangeLimits,
    pub(crate) body_mode: BodyMode,
    pub(crate) picks: Vec<body::Pick>,
    pub(crate) include_headers: bool,
    pub(crate) dry_run: bool,
}

/// One request's result fields (besides `index`, `status`, `elapsed_ms`, `error`).
#[derive(Debug, Default, Serialize)]
pub(crate) struct RequestReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// Kept as the method itself: a standard one is copied without an
    /// allocation, and every item's report is made twice (see `identity`).
    #[serde(serialize_with = "method_name")]
    pub(crate) method: reqwest::Method,
    /// The request URL, secrets redacted.
    pub(crate) url: String,
    /// With pagination: which page of the item this line is (0-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) page: Option<u32>,
    /// With pagination: `--max-pages` cut the chain, more pages remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) more_pages: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) http_status: Option<u16>,
    /// Where the redirects ended (present only after a redirect).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) final_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) redirects: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content_type: Option<String>,
    /// Body bytes read (after decompression); with `truncated`, the bytes kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) truncated: Option<bool>,
    /// The full size the server declared, when the body was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) full_bytes: Option<u64>,
    #[serde(flatten)]
    pub(crate) body: RenderedBody,
    /// `--save-dir`: the file the body was written to, secrets redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) saved_to: Option<String>,
    /// `--save-dir`: bytes written to `saved_to`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bytes: Option<u64>,
    /// `--save-dir`: SHA-256 of what was written, in hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sha256: Option<String>,
    /// Response headers (`--include-headers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) headers: Option<Map<String, Value>>,
    /// Every attempt, when there was more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attempts: Option<Vec<AttemptRecord>>,
    /// `--dry-run`: the headers that would be sent (secrets redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) request_headers: Option<Map<String, Value>>,
    /// `--dry-run`: the body that would be sent (secrets redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) request_body: Option<Value>,
    /// Attempts sent (for `summary.requests_sent`).
    #[serde(skip)]
    pub(crate) sent: u32,
    /// Body bytes received over all attempts (for `summary.bytes_received`).
    #[serde(skip)]
    pub(crate) received: u64,
    /// Pages fetched (for `summary.pages`), on a paginated item's last line.
    #[serde(skip)]
    pub(crate) pages: u32,
}

/// A method as its name.
fn method_name<S: serde::Serializer>(
    method: &reqwest::Method,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(method.as_str())
}

impl crate::table::TableRow for RequestReport {
    fn row(&self) -> crate::table::Row {
        let result = match self.http_status {
            Some(status) => format!("{} {status}", self.method),
            None => self.method.to_string(),
        };
        let mut item = match &self.id {
            Some(id) => format!("{id}  {}", self.url),
            None => self.url.clone(),
        };
        if let Some(page) = self.page {
            item = format!("page {page}  {item}");
        }
        crate::table::Row {
            result,
            item,
            below: Vec::new(),
        }
    }
}

/// One attempt of a request that needed more than one.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AttemptRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) http_status: Option<u16>,
    pub(crate) elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<ErrorBody>,
    /// The wait before the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) wait_ms: Option<u64>,
    /// Whether that wait came from the server's Retry-After.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retry_after: Option<bool>,
}

/// The summary fields `async_requests` adds.
#[derive(Debug, Default, Serialize)]
pub(crate) struct RequestTotals {
    /// Attempts sent, retries included.
    pub(crate) requests_sent: u64,
    pub(crate) retries: u64,
    /// Response body bytes received, after decompression.
    pub(crate) bytes_received: u64,
    /// With pagination: pages fetched, over every item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pages: Option<u64>,
    /// `--circuit-breaker`: the hosts whose circuit opened, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) circuit_opened: Vec<String>,
}

/// The `async_requests` tool: shared clients, limiters and settings.
pub(crate) struct RequestsTool {
    settings: HttpSettings,
    defaults: RequestDefaults,
    clients: client::Clients,
    rate: Option<RateLimiter>,
    per_host: Option<HostLimiter>,
    /// `--save-dir`.
    save: Option<SaveSettings>,
    /// `--paginate`, `--next-url`, `--next-cursor`.
    pagination: Option<pages::Pagination>,
    /// `--circuit-breaker`.
    breakers: Option<breaker::Breakers>,
    default_secrets: SecretSet,
    default_redactor: Arc<Redactor>,
    /// The last merged redactor: items usually share the same secrets.
    redactor_cache: Mutex<Option<(SecretSet, Arc<Redactor>)>>,
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl RequestsTool {
    /// Builds the tool from its command line; errors are bad usage (exit 2).
    fn new(cli: &RequestsCli) -> Result<Self, InputError> {
        let env = &process_env;
        let method = match &cli.method {
            Some(name) => Some(
                reqwest::Method::from_bytes(name.to_ascii_uppercase().as_bytes()).map_err(
                    |_| {
                        InputError::new(format!("`{name}` is not an HTTP method"))
                            .with_field("--method")
                    },
                )?,
            ),
            None => None,
        };
        let base_url = match &cli.base_url {
            Some(base) => {
                let expanded = template::expand(base, "--base-url", env)
                    .map_err(|error| InputError::from_field(error, None))?;
                let parsed = reqwest::Url::parse(&expanded.value).map_err(|error| {
                    InputError::new(format!("`{}` is not a valid URL: {error}", expanded.shown))
                        .with_field("--base-url")
                })?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(InputError::new(format!(
                        "`{}`: the base URL must be http or https",
                        expanded.shown
                    ))
                    .with_field("--base-url"));
                }
                if expanded.value.contains('#') {
                    return Err(InputError::new(format!(
                        "`{}`: a base URL cannot have a #fragment (give it to the items)",
                        expanded.shown
                    ))
                    .with_field("--base-url"));
                }
                Some(expanded)
            }
            None => None,
        };
        let headers = cli
            .headers
            .iter()
            .map(|text| spec::parse_header_flag(text, env))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| InputError::from_field(error, None))?;
        let defaults = RequestDefaults {
            method,
            base_url,
            headers,
            save_dir: cli.save_dir.is_some(),
        };
        for (given, flag) in [
            (cli.overwrite, "--overwrite"),
            (cli.content_disposition, "--content-disposition"),
        ] {
            if given && cli.save_dir.is_none() {
                return Err(
                    InputError::new(format!("{flag} goes with --save-dir DIR")).with_field(flag)
                );
            }
        }
        let save = match &cli.save_dir {
            Some(dir) => Some(SaveSettings {
                dir: SaveDir::open(dir, cli.overwrite).map_err(|error| {
                    InputError::new(format!(
                        "cannot use {} as --save-dir: {error}",
                        dir.display()
                    ))
                    .with_field("--save-dir")
                })?,
                content_disposition: cli.content_disposition,
                max_bytes: cli.max_body,
            }),
            None => None,
        };
        let mut names = std::collections::HashSet::new();
        if let Some(pick) = cli.picks.iter().find(|pick| !names.insert(&pick.name)) {
            return Err(InputError::new(format!(
                "two --pick values are named `{}`: give each its own name (NAME=/pointer)",
                pick.name
            ))
            .with_field("--pick"));
        }
        let default_secrets = spec::default_secrets(&defaults);
        let concurrency = cli.common.concurrency as usize;
        let clients = client::Clients::new(concurrency, cli.insecure).map_err(InputError::new)?;
        Ok(RequestsTool {
            settings: HttpSettings {
                timeout: cli.timeout,
                max_time: cli.max_time,
                retry: RetryPolicy {
                    retries: cli.retries,
                    base: cli.backoff,
                    cap: MAX_BACKOFF.max(cli.backoff),
                    max_wait: cli.max_retry_wait,
                    retry_unsafe: cli.retry_unsafe,
                },
                accept: cli.accept_status.clone(),
                limits: ExchangeLimits {
                    max_redirects: cli.max_redirects,
                    max_body: cli.max_body.unwrap_or(DEFAULT_MAX_BODY),
                    // The next page may be in the body, shown or not.
                    keep_body: cli.body_mode != BodyMode::None
                        || cli.next_url.is_some()
                        || cli.next_cursor.is_some(),
                    lookahead: 0,
                },
                body_mode: cli.body_mode,
                picks: cli.picks.clone(),
                include_headers: cli.include_headers,
                dry_run: cli.dry_run,
            },
            defaults,
            clients,
            rate: cli.rate.map(RateLimiter::per_second),
            per_host: cli.per_host.map(|limit| HostLimiter::new(limit as usize)),
            save,
            pagination: pages::pagination(cli)?,
            breakers: cli
                .circuit_breaker
                .map(|threshold| breaker::Breakers::new(threshold, cli.circuit_cooldown)),
            default_redactor: Arc::new(default_secrets.redactor()),
            default_secrets,
            redactor_cache: Mutex::new(None),
        })
    }

    /// The redactor for one item: the run's secrets plus the item's own.
    fn redactor_for(&self, spec: &RequestSpec) -> Arc<Redactor> {
        if spec.secrets.is_empty() {
            return self.default_redactor.clone();
        }
        let mut merged = self.default_secrets.clone();
        merged.extend(&spec.secrets);
        if let Ok(mut cache) = self.redactor_cache.lock() {
            if let Some((secrets, redactor)) = cache.as_ref()
                && *secrets == merged
            {
                return redactor.clone();
            }
            let redactor = Arc::new(merged.redactor());
            *cache = Some((merged, redactor.clone()));
            return redactor;
        }
        Arc::new(merged.redactor())
    }

    /// Fills the report from a response, whatever its status.
    fn describe_response(
        &self,
        report: &mut RequestReport,
        exchange: Exchange,
        redactor: &Redactor,
    ) {
        report.http_status = Some(exchange.status.as_u16());
        if exchange.redirects > 0 {
            report.redirects = Some(exchange.redirects);
            report.final_url = Some(redactor.scrub_str(exchange.final_url.as_str()).into_owned());
        }
        let content_type = exchange
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| redactor.scrub_str(value).into_owned());
        if let Some(saved) = &exchange.saved {
            // The file is the body the user asked for, byte for byte: only
            // its name is shown, scrubbed like any URL-derived text.
            report.saved_to = Some(
                redactor
                    .scrub_str(&saved.path.display().to_string())
                    .into_owned(),
            );
            report.bytes = Some(saved.bytes);
            report.sha256 = Some(saved.sha256.clone());
        } else {
            report.body_bytes = Some(exchange.body_bytes);
            if exchange.truncated {
                report.truncated = Some(true);
                report.full_bytes = exchange.declared_bytes;
            }
            report.body = body::render(
                &exchange.body,
                content_type.as_deref(),
                self.settings.body_mode,
                exchange
                    .truncated
                    .then_some(self.settings.limits.max_body as usize),
                &self.settings.picks,
                redactor,
            );
        }
        report.content_type = content_type;
        if self.settings.include_headers {
            let mut shown = Map::new();
            for (name, value) in &exchange.headers {
                let text = if is_secret_header(name.as_str()) {
                    REDACTED.to_string()
                } else {
                    redactor
                        .scrub_str(&String::from_utf8_lossy(value.as_bytes()))
                        .into_owned()
                };
                // A server can reflect a secret as a header's name too.
                let name = redactor.scrub_str(name.as_str());
                match shown.get_mut(name.as_ref()) {
                    Some(Value::String(existing)) => {
                        existing.push_str(", ");
                        existing.push_str(&text);
                    }
                    _ => {
                        shown.insert(name.into_owned(), Value::String(text));
                    }
                }
            }
            report.headers = Some(shown);
        }
    }

    /// The dry-run result: the request as planned, nothing sent.
    fn planned(&self, spec: &RequestSpec) -> Finished<RequestReport> {
        let mut report = self.identity_of(spec);
        let headers: Map<String, Value> = spec
            .shown_headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        report.request_headers = Some(headers);
        report.request_body = spec.body.as_ref().map(|body| body.shown.clone());
        Finished::failed(report, &RequestError::DryRun)
    }

    /// One attempt: wait for the host slot and the rate slot, then exchange
    /// under the attempt timeout.
    async fn attempt(
        &self,
        spec: &RequestSpec,
        timeout: Duration,
        redactor: &Redactor,
        received: &mut u64,
        file: Option<&mut FileTarget>,
    ) -> Result<Exchange, RequestError> {
        let limits = ExchangeLimits {
            lookahead: redactor.longest().saturating_sub(1) as u64,
            ..self.settings.limits
        };
        let _host_permit = match &self.per_host {
            Some(limiter) => limiter.acquire(&client::authority(&spec.url)).await,
            None => None,
        };
        // Asked when the request could go: an item that waited for its host
        // slot while the circuit opened ends now, without a rate slot.
        let admitted = match &self.breakers {
            Some(breakers) => {
                let host = client::authority(&spec.url);
                let shown = redactor.scrub_str(&host).into_owned();
                match breakers.admit(&host, &shown) {
                    Ok(pass) => Some(breaker::Admitted::new(breakers, pass)),
                    Err(open) => {
                        return Err(RequestError::CircuitOpen {
                            host: open.host,
                            retry_in: open.retry_in,
                        });
                    }
                }
            }
            None => None,
        };
        if let Some(rate) = &self.rate {
            rate.acquire().await;
        }
        let exchange = async {
            let head = fetch::send(&self.clients, spec, limits).await?;
            match (file, &self.save) {
                (Some(file), Some(save))
                    if self.settings.accept.contains(head.status().as_u16()) =>
                {
                    let path = save.path_for(file, &head, spec.save_as.as_deref(), &spec.url)?;
                    save::stream_to_file(head, path, save.dir.overwrite(), save.max_bytes, received)
                        .await
                }
                _ => fetch::read_body(head, limits, received).await,
            }
        };
        let result = match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(RequestError::Timeout(timeout)),
        };
        if let Some(admitted) = admitted {
            let failed = match &result {
                Ok(exchange) => exchange.status.is_server_error(),
                Err(error) => error.counts_against_host(),
            };
            admitted.record(failed);
        }
        result
    }
}

/// Items travel boxed: a spec is about 500 bytes, moved from the input
/// thread's batches into the runner and into the item's future.
impl ParseItem for RequestsTool {
    type Item = Box<RequestSpec>;

    fn parse_item(&self, raw: RawItem) -> Result<Box<RequestSpec>, FieldError> {
        spec::parse_request(raw, &self.defaults, &process_env).map(Box::new)
    }

    fn check_item(&self, raw: RawItem) -> Result<(), FieldError> {
        spec::check_request(raw, &self.defaults, &process_env)
    }
}

impl Job for RequestsTool {
    type Spec = Box<RequestSpec>;
    type Report = RequestReport;

    fn identity(&self, spec: &Box<RequestSpec>) -> RequestReport {
        self.identity_of(spec)
    }

    fn run(
        self: Arc<Self>,
        spec: Box<RequestSpec>,
        stop: StopToken,
    ) -> impl Future<Output = Finished<RequestReport>> + Send {
        self.run_at(None, spec, stop)
    }

    /// Claims the item's file name here, on the runner's thread in input
    /// order, so that of two items of one name the first keeps it.
    fn run_item(
        self: Arc<Self>,
        item: ItemContext<RequestReport>,
        spec: Box<RequestSpec>,
        stop: StopToken,
    ) -> impl Future<Output = Finished<RequestReport>> + Send {
        self.run_at(Some(item), spec, stop)
    }
}

impl RequestsTool {
    /// What every result of `spec` starts from: its id, method and URL as
    /// shown.
    fn identity_of(&self, spec: &RequestSpec) -> RequestReport {
        RequestReport {
            id: spec.id.clone(),
            method: spec.method.clone(),
            url: spec.shown_url.clone(),
            ..RequestReport::default()
        }
    }

    /// One item. `item` is its place in the run and the way its pages are
    /// written (`None` only outside a run: then only the last page shows).
    fn run_at(
        self: Arc<Self>,
        mut item: Option<ItemContext<RequestReport>>,
        spec: Box<RequestSpec>,
        stop: StopToken,
    ) -> impl Future<Output = Finished<RequestReport>> + Send {
        let mut file = None;
        let mut kept = None;
        if let (Some(save), false) = (&self.save, self.settings.dry_run) {
            let index = item.as_ref().map_or(0, |item| item.index);
            match save.target(spec.save_as.as_deref(), &spec.url, index) {
                Ok(target) => file = Some(target),
                Err(path) => kept = Some(path),
            }
        }
        async move {
            if self.settings.dry_run {
                return self.planned(&spec);
            }
            let redactor = self.redactor_for(&spec);
            let report = self.identity_of(&spec);
            if let Some(path) = kept {
                let failure = RequestError::Exists(path.display().to_string());
                let message = redactor.scrub_str(&failure.to_string()).into_owned();
                return Finished::failed_with_message(report, &failure, message);
            }
            if let Some(pagination) = &self.pagination {
                return Box::pin(self.fetch_pages(
                    *spec,
                    pagination,
                    item.as_mut(),
                    &redactor,
                    &stop,
                ))
                .await;
            }
            self.fetch_item(spec, file, report, &redactor, &stop).await
        }
    }

    /// Sends one item (with its retries) and describes how it ended.
    ///
    /// A function returning its future rather than an `async fn`: an
    /// `async fn` keeps its arguments twice in its state (as given, and
    /// moved into its body), here the spec and the report, 1.2 KiB more an
    /// item to allocate and copy.
    fn fetch_item<'a>(
        &'a self,
        spec: Box<RequestSpec>,
        file: Option<FileTarget>,
        report: RequestReport,
        redactor: &'a Redactor,
        stop: &'a StopToken,
    ) -> impl Future<Output = Finished<RequestReport>> + Send + 'a {
        // Bound here, outside the block: `mut` parameters around a bare
        // `async move` read to clippy as an `async fn` written by hand.
        let (mut file, mut report) = (file, report);
        async move {
            let budget = Budget::start(spec.max_time.or(self.settings.max_time));
            match self
                .request(&spec, budget, redactor, &mut report, file.as_mut(), stop)
                .await
            {
                Ended::Accepted(exchange) => {
                    self.describe_response(&mut report, exchange, redactor);
                    Finished::ok(report)
                }
                Ended::Failed(failed) => self.failed(report, failed, redactor),
                Ended::Stopped(reason) => Finished::stopped(report, reason, true),
            }
        }
    }
}

/// Adds `note` to the result's note.
fn add_note(report: &mut RequestReport, note: String) {
    report.body.note = Some(match report.body.note.take() {
        Some(existing) => format!("{existing}; {note}"),
        None => note,
    });
}

/// How one request, retries included, ended.
// Made once per request and moved once: boxing the response would cost an
// allocation on the path every request takes, for no gain.
#[allow(clippy::large_enum_variant)]
enum Ended {
    /// A response whose status is accepted.
    Accepted(Exchange),
    /// The last failure, once no retry was left or allowed.
    Failed(GaveUp),
    /// The run stopped it (deadline, signal, --fail-fast, --first).
    Stopped(crate::stop::StopReason),
}

/// A request that failed for good.
struct GaveUp {
    failure: RequestError,
    /// The failure's message, secrets scrubbed.
    message: String,
    /// The response, when the failure is its status: its body is still shown.
    response: Option<Exchange>,
    /// Why no retry was made, when one was possible.
    note: Option<String>,
}

/// Runs `work` within what is left of `budget`: past it, the attempt ends
/// as `max_time`.
async fn within<T>(
    budget: Option<Budget>,
    work: impl std::future::Future<Output = Result<T, RequestError>>,
) -> Result<T, RequestError> {
    match budget {
        None => work.await,
        Some(budget) => tokio::time::timeout_at(budget.ends(), work)
            .await
            .unwrap_or_else(|_| Err(RequestError::MaxTime(budget.total))),
    }
}

impl RequestsTool {
    /// Sends `spec` until a response is accepted, the retries are spent or
    /// refused, the budget runs out or the run stops. Fills `report`'s
    /// `attempts` (when there was more than one) and its counters.
    async fn request(
        &self,
        spec: &RequestSpec,
        budget: Option<Budget>,
        redactor: &Redactor,
        report: &mut RequestReport,
        mut file: Option<&mut FileTarget>,
        stop: &StopToken,
    ) -> Ended {
        let timeout = spec.timeout.unwrap_or(self.settings.timeout);
        let policy = &self.settings.retry;
        let mut attempts: Vec<AttemptRecord> = Vec::new();
        let mut retry = 0u32;
        loop {
            let started = Instant::now();
            let mut received = 0u64;
            let attempt = within(
                budget,
                Box::pin(self.attempt(spec, timeout, redactor, &mut received, file.as_deref_mut())),
            );
            let outcome = stop.race(attempt).await;
            report.received += received;
            if !matches!(
                outcome,
                Ok(Err(
                    RequestError::CircuitOpen { .. } | RequestError::TlsSetup(_)
                ))
            ) {
                report.sent += 1;
            }
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(reason) => {
                    if !attempts.is_empty() {
                        report.attempts = Some(attempts);
                    }
                    return Ended::Stopped(reason);
                }
            };
            // A response whose status is not accepted is a failure that still
            // carries its body (an API's error message is worth reading).
            let (failure, response) = match outcome {
                Ok(exchange) if self.settings.accept.contains(exchange.status.as_u16()) => {
                    if !attempts.is_empty() {
                        attempts.push(AttemptRecord {
                            http_status: Some(exchange.status.as_u16()),
                            elapsed_ms: millis(started.elapsed()),
                            error: None,
                            wait_ms: None,
                            retry_after: None,
                        });
                        report.attempts = Some(attempts);
                    }
                    return Ended::Accepted(exchange);
                }
                Ok(exchange) => {
                    let failure = RequestError::HttpStatus {
                        code: exchange.status.as_u16(),
                        reason: exchange.status.canonical_reason().unwrap_or("").to_string(),
                    };
                    (failure, Some(exchange))
                }
                Err(error) => (error, None),
            };

            let error_body = ErrorBody::new(
                crate::error::Failure::kind(&failure),
                redactor.scrub_str(&failure.to_string()).into_owned(),
            );
            let mut record = AttemptRecord {
                http_status: response.as_ref().map(|exchange| exchange.status.as_u16()),
                elapsed_ms: millis(started.elapsed()),
                error: Some(error_body.clone()),
                wait_ms: None,
                retry_after: None,
            };

            // Decide whether and how long to wait before the next attempt.
            let retry_after = response
                .as_ref()
                .and_then(|exchange| exchange.headers.get(reqwest::header::RETRY_AFTER))
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, SystemTime::now()));
            let decision = policy.decide(&Failed {
                transient: failure.is_transient(),
                method: &spec.method,
                retries_done: retry,
                retry_after,
                deadline_left: stop.remaining(),
                budget_left: budget.map(|budget| budget.left()),
                jitter: fastrand::f64(),
            });
            let delay = match decision {
                Decision::Retry { wait, from_server } => {
                    record.wait_ms = Some(millis(wait));
                    record.retry_after = from_server.then_some(true);
                    wait
                }
                Decision::GiveUp { note } => {
                    if !attempts.is_empty() {
                        attempts.push(record);
                        report.attempts = Some(attempts);
                    }
                    return Ended::Failed(GaveUp {
                        failure,
                        message: error_body.message,
                        response,
                        note,
                    });
                }
            };
            attempts.push(record);
            retry += 1;
            if let Err(reason) = stop.race(tokio::time::sleep(delay)).await {
                report.attempts = Some(attempts);
                return Ended::Stopped(reason);
            }
        }
    }

    /// The result of a request that failed for good: its response (if any)
    /// described, the note on the missing retry added.
    fn failed(
        &self,
        mut report: RequestReport,
        gave_up: GaveUp,
        redactor: &Redactor,
    ) -> Finished<RequestReport> {
        if let Some(exchange) = gave_up.response {
            self.describe_response(&mut report, exchange, redactor);
        }
        if let Some(note) = gave_up.note {
            add_note(&mut report, note);
        }
        Finished::failed_with_message(report, &gave_up.failure, gave_up.message)
    }
}

crate::app::tool_cli!(RequestsCli, urls);

impl Tool for RequestsTool {
    const NAME: &'static str = NAME;
    type Cli = RequestsCli;
    type Totals = RequestTotals;
    type Expand = Identity;

    /// One thread: a request is mostly waiting, and on the multi-threaded
    /// scheduler each one cost several wake-ups between threads (the runner,
    /// the request's task, the connection's task, the input reader), which
    /// measured more CPU than the request itself (BENCHMARKS.md, issue 16).
    /// Hashing and writing a download run on blocking threads either way;
    /// decoding a compressed body is the one heavy step left on this thread.
    const SCHEDULER: Scheduler = Scheduler::CurrentThread;

    fn from_cli(cli: &RequestsCli) -> Result<Self, NotRun> {
        Ok(RequestsTool::new(cli)?)
    }

    fn tally(&self, totals: &mut RequestTotals, finished: &Finished<RequestReport>) {
        let report = &finished.report;
        totals.requests_sent += u64::from(report.sent);
        // A paginated item sends one request per page before any retry.
        totals.retries += u64::from(report.sent.saturating_sub(report.pages.max(1)));
        totals.bytes_received += report.received;
        if self.pagination.is_some() {
            *totals.pages.get_or_insert(0) += u64::from(report.pages);
        }
        if let Some(breakers) = &self.breakers {
            totals.circuit_opened = breakers.opened_hosts();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Job;
    use clap::Parser;

    /// Every item's future is built and copied into its own allocation: a
    /// rarely taken path held inline (pagination, a download, the retry
    /// loop's nesting) would make every request pay for its size. It was
    /// about 12 KiB before the rare paths were boxed.
    #[test]
    fn an_items_future_stays_small() {
        let cli = RequestsCli::try_parse_from(["async_requests", "http://127.0.0.1:9/"])
            .expect("arguments");
        let tool = Arc::new(RequestsTool::new(&cli).expect("tool"));
        let spec = tool
            .parse_item(RawItem::Arg("http://127.0.0.1:9/".into()))
            .expect("spec");
        let future = tool.run(spec, crate::stop::StopToken::new(None));
        let size = std::mem::size_of_val(&future);
        assert!(size <= 6 * 1024, "an item's future takes {size} bytes");
    }
}
