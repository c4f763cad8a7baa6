//! Pacing and retrying: exponential backoff with full jitter, `Retry-After`,
//! the item's `--max-time` budget, the run-wide `--rate` limiter, the
//! `--per-host` limiter, and the `--accept-status` set.
//!
//! Full jitter (a random wait in `[0, min(cap, base·2ⁿ)]`) spreads the
//! retries of many clients that failed together, where a fixed exponential
//! wait would make them all come back at the same instant.

use crate::units::format_duration;
use reqwest::Method;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// When and how long to wait before trying a request again.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt (`--retries`).
    pub(crate) retries: u32,
    /// First backoff ceiling (`--backoff`); doubles each retry.
    pub(crate) base: Duration,
    /// Largest backoff ceiling.
    pub(crate) cap: Duration,
    /// Longest `Retry-After` honoured (`--max-retry-wait`); longer means give up.
    pub(crate) max_wait: Duration,
    /// Retry POST and PATCH too (`--retry-unsafe`).
    pub(crate) retry_unsafe: bool,
}

impl RetryPolicy {
    /// Idempotent methods may be sent twice without changing the outcome.
    pub(crate) fn method_allows(&self, method: &Method) -> bool {
        self.retry_unsafe
            || matches!(
                *method,
                Method::GET
                    | Method::HEAD
                    | Method::OPTIONS
                    | Method::TRACE
                    | Method::PUT
                    | Method::DELETE
            )
    }

    /// The backoff ceiling before retry number `retry` (1 for the first
    /// retry): `base·2ⁿ⁻¹`, at most `cap`.
    fn ceiling(&self, retry: u32) -> Duration {
        self.base
            .saturating_mul(
                1u32.checked_shl(retry.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.cap)
    }

    /// Whether and how long to wait before trying `failed` again: the whole
    /// retry decision, with no clock and no randomness of its own.
    pub(crate) fn decide(&self, failed: &Failed<'_>) -> Decision {
        if !failed.transient
            || failed.retries_done >= self.retries
            || !self.method_allows(failed.method)
        {
            return Decision::GiveUp { note: None };
        }
        let (wait, from_server) = match failed.retry_after {
            Some(asked) if asked > self.max_wait => {
                let asked = if asked == Duration::MAX {
                    "more than can be counted".to_string()
                } else {
                    format_duration(asked)
                };
                let note = format!(
                    "not retried: Retry-After asks for {asked}, more than --max-retry-wait {}",
                    format_duration(self.max_wait)
                );
                return Decision::GiveUp { note: Some(note) };
            }
            Some(asked) => (asked, true),
            None => {
                let jitter = failed.jitter.clamp(0.0, 1.0);
                (self.ceiling(failed.retries_done + 1).mul_f64(jitter), false)
            }
        };
        // A retry must start before the run's deadline and the item's
        // budget end, or it could not finish: waiting that long is giving up.
        for (left, flag) in [
            (failed.deadline_left, "the --deadline"),
            (failed.budget_left, "the item's --max-time"),
        ] {
            if let Some(left) = left
                && wait >= left
            {
                let waiting = if from_server {
                    format!("Retry-After asks for {}, which", format_duration(wait))
                } else {
                    format!("waiting {}", format_duration(wait))
                };
                return Decision::GiveUp {
                    note: Some(format!("not retried: {waiting} would pass {flag}")),
                };
            }
        }
        Decision::Retry { wait, from_server }
    }
}

/// `--max-time` (or an item's `max_time`): one item's budget, covering
/// every attempt and every wait between them, as curl's `--max-time` with
/// `--retry-max-time`. It starts when the item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    /// The whole budget, for messages.
    pub(crate) total: Duration,
    ends: Instant,
}

impl Budget {
    /// A budget of `total` starting now; `None` for no budget.
    pub(crate) fn start(total: Option<Duration>) -> Option<Self> {
        let total = total?;
        Some(Budget {
            total,
            // A budget too long to add (days of seconds) never ends.
            ends: Instant::now()
                .checked_add(total)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365 * 30)),
        })
    }

    /// When it runs out.
    pub(crate) fn ends(&self) -> Instant {
        self.ends
    }

    /// What is left of it (zero once spent).
    pub(crate) fn left(&self) -> Duration {
        self.ends.saturating_duration_since(Instant::now())
    }
}

/// A failed attempt, as the retry decision sees it.
#[derive(Debug, Clone)]
pub(crate) struct Failed<'a> {
    /// Whether trying again might help ([`super::RequestError::is_transient`]).
    pub(crate) transient: bool,
    pub(crate) method: &'a Method,
    /// Retries already made for this request.
    pub(crate) retries_done: u32,
    /// The wait the server asked for (`Retry-After`), if it did.
    pub(crate) retry_after: Option<Duration>,
    /// Time left before `--deadline`, if there is one.
    pub(crate) deadline_left: Option<Duration>,
    /// Time left of the item's `--max-time` budget, if it has one.
    pub(crate) budget_left: Option<Duration>,
    /// Where the backoff falls under its ceiling, from 0 to 1 (full jitter).
    pub(crate) jitter: f64,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// Wait, then send it again; `from_server` when the wait is `Retry-After`'s.
    Retry { wait: Duration, from_server: bool },
    /// Report the failure; `note` says why when a retry was possible.
    GiveUp { note: Option<String> },
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
/// Delta-seconds too large to count are `Duration::MAX`: longer than any
/// `--max-retry-wait`, never a reason to retry at once.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `--rate N`: at most N requests started per second across the whole run,
/// evenly spaced (no bursts).
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    next_slot: Mutex<Instant>,
}

impl RateLimiter {
    pub(crate) fn per_second(rate: f64) -> Self {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / rate),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this request's slot.
    pub(crate) async fn acquire(&self) {
        let slot = {
            let Ok(mut next) = self.next_slot.lock() else {
                return;
            };
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// `--per-host N`: at most N requests in flight to one `host:port`.
#[derive(Debug)]
pub(crate) struct HostLimiter {
    limit: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostLimiter {
    pub(crate) fn new(limit: usize) -> Self {
        HostLimiter {
            limit,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn acquire(&self, host: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut hosts = self.hosts.lock().ok()?;
            hosts
                .entry(host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
                .clone()
        };
        semaphore.acquire_owned().await.ok()
    }
}

/// `--accept-status`: the statuses that count as ok (default `200-299`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusSet {
    ranges: Vec<(u16, u16)>,
}

impl Default for StatusSet {
    fn default() -> Self {
        StatusSet {
            ranges: vec![(200, 299)],
        }
    }
}

impl StatusSet {
    pub(crate) fn contains(&self, code: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(low, high)| (low..=high).contains(&code))
    }
}

impl std::str::FromStr for StatusSet {
    type Err = String;

    /// `200-299,404`, `2xx,404`, `any`.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let parse = |code: &str| -> Result<u16, String> {
                code.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|code| (100..=599).contains(code))
                    .ok_or_else(|| format!("`{code}` is not an HTTP status (100-599)"))
            };
            let range = if part.eq_ignore_ascii_case("any") {
                (100, 599)
            } else if let Some(class) = part.strip_suffix("xx").or_else(|| part.strip_suffix("XX"))
            {
                let digit: u16 = class
                    .parse()
                    .ok()
                    .filter(|d| (1..=5).contains(d))
                    .ok_or_else(|| format!("`{part}` is not a status class like 2xx"))?;
                (digit * 100, digit * 100 + 99)
            } else if let Some((low, high)) = part.split_once('-') {
                let (low, high) = (parse(low)?, parse(high)?);
                if low > high {
                    return Err(format!("`{part}`: the range is reversed"));
                }
                (low, high)
            } else {
                let code = parse(part)?;
                (code, code)
            };
            ranges.push(range);
        }
        if ranges.is_empty() {
            return Err("empty status list (try 200-299,404)".into());
        }
        Ok(StatusSet { ranges })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            retries: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
            retry_unsafe: false,
        }
    }

    fn failed(method: &Method) -> Failed<'_> {
        Failed {
            transient: true,
            method,
            retries_done: 0,
            retry_after: None,
            deadline_left: None,
            budget_left: None,
            jitter: 0.5,
        }
    }

    fn wait(decision: Decision) -> Duration {
        match decision {
            Decision::Retry { wait, .. } => wait,
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    fn note(decision: Decision) -> Option<String> {
        match decision {
            Decision::GiveUp { note } => note,
            other => panic!("expected to give up, got {other:?}"),
        }
    }

    #[test]
    fn backoff_is_jittered_under_a_doubling_ceiling_up_to_the_cap() {
        let policy = policy();
        let get = Method::GET;
        let at = |retries_done: u32, jitter: f64| {
            wait(policy.decide(&Failed {
                retries_done,
                jitter,
                ..failed(&get)
            }))
        };
        assert_eq!(at(0, 1.0), Duration::from_millis(100));
        assert_eq!(at(2, 1.0), Duration::from_millis(400));
        assert_eq!(at(2, 0.5), Duration::from_millis(200));
        assert_eq!(at(0, 0.0), Duration::ZERO);
        // The ceiling stops doubling at the cap, however many retries.
        assert_eq!(at(4, 1.0), Duration::from_secs(1));
        let many = RetryPolicy {
            retries: u32::MAX,
            ..policy.clone()
        };
        let late = Failed {
            retries_done: 100,
            jitter: 1.0,
            ..failed(&get)
        };
        assert_eq!(wait(many.decide(&late)), Duration::from_secs(1));
    }

    #[test]
    fn no_retry_past_the_retries_or_for_a_lasting_failure() {
        let policy = policy();
        let get = Method::GET;
        let spent = Failed {
            retries_done: 5,
            ..failed(&get)
        };
        assert_eq!(note(policy.decide(&spent)), None);
        let lasting = Failed {
            transient: false,
            ..failed(&get)
        };
        assert_eq!(note(policy.decide(&lasting)), None);
    }

    #[test]
    fn unsafe_methods_retry_only_when_asked() {
        let mut policy = policy();
        let post = Method::POST;
        assert!(policy.method_allows(&Method::GET));
        assert!(policy.method_allows(&Method::PUT));
        assert_eq!(note(policy.decide(&failed(&post))), None);
        policy.retry_unsafe = true;
        assert_eq!(
            wait(policy.decide(&failed(&post))),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_max_retry_wait() {
        let policy = policy();
        let get = Method::GET;
        let asked = |seconds: u64| Failed {
            retry_after: Some(Duration::from_secs(seconds)),
            ..failed(&get)
        };
        assert_eq!(
            policy.decide(&asked(7)),
            Decision::Retry {
                wait: Duration::from_secs(7),
                from_server: true
            }
        );
        // Honoured as asked, even past the backoff cap.
        assert_eq!(wait(policy.decide(&asked(60))), Duration::from_secs(60));
        let too_long = note(policy.decide(&asked(61))).unwrap();
        assert!(too_long.contains("Retry-After asks for 61s"), "{too_long}");
        assert!(too_long.contains("--max-retry-wait 60s"), "{too_long}");
        let endless = Failed {
            retry_after: Some(Duration::MAX),
            ..failed(&get)
        };
        let endless = note(policy.decide(&endless)).unwrap();
        assert!(endless.contains("more than can be counted"), "{endless}");
    }

    #[test]
    fn no_wait_that_would_pass_the_deadline() {
        let policy = policy();
        let get = Method::GET;
        let short = Failed {
            deadline_left: Some(Duration::from_millis(50)),
            ..failed(&get)
        };
        let late = note(policy.decide(&short)).unwrap();
        assert!(late.contains("would pass the --deadline"), "{late}");
        let server = Failed {
            retry_after: Some(Duration::from_secs(2)),
            deadline_left: Some(Duration::from_secs(2)),
            ..failed(&get)
        };
        assert!(note(policy.decide(&server)).is_some());
        let roomy = Failed {
            deadline_left: Some(Duration::from_secs(2)),
            ..failed(&get)
        };
        assert_eq!(wait(policy.decide(&roomy)), Duration::from_millis(50));
    }

    #[test]
    fn no_retry_that_cannot_start_within_the_max_time_budget() {
        let policy = policy();
        let get = Method::GET;
        let tight = Failed {
            budget_left: Some(Duration::from_millis(50)),
            ..failed(&get)
        };
        let late = note(policy.decide(&tight)).unwrap();
        assert!(
            late.contains("waiting 50ms would pass the item's --max-time"),
            "{late}"
        );
        // A Retry-After past the rest of the budget ends the retries, even
        // under --max-retry-wait.
        let server = Failed {
            retry_after: Some(Duration::from_secs(3)),
            budget_left: Some(Duration::from_secs(2)),
            ..failed(&get)
        };
        let asked = note(policy.decide(&server)).unwrap();
        assert!(
            asked.contains("Retry-After asks for 3s, which would pass the item's --max-time"),
            "{asked}"
        );
        let spent = Failed {
            budget_left: Some(Duration::ZERO),
            jitter: 0.0,
            ..failed(&get)
        };
        assert!(
            note(policy.decide(&spent)).is_some(),
            "nothing left: no retry"
        );
        let roomy = Failed {
            budget_left: Some(Duration::from_secs(2)),
            deadline_left: Some(Duration::from_secs(5)),
            ..failed(&get)
        };
        assert_eq!(wait(policy.decide(&roomy)), Duration::from_millis(50));
        // The nearer of the two limits decides.
        let deadline_first = Failed {
            budget_left: Some(Duration::from_secs(5)),
            deadline_left: Some(Duration::from_millis(10)),
            ..failed(&get)
        };
        let first = note(policy.decide(&deadline_first)).unwrap();
        assert!(first.contains("--deadline"), "{first}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_shrinks_with_time_and_ends_the_retries() {
        let policy = RetryPolicy {
            base: Duration::from_millis(400),
            ..policy()
        };
        let get = Method::GET;
        let budget = Budget::start(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(Budget::start(None), None);
        assert_eq!(budget.left(), Duration::from_secs(1));
        let decide = |retries_done: u32| {
            policy.decide(&Failed {
                retries_done,
                jitter: 1.0,
                budget_left: Some(budget.left()),
                ..failed(&get)
            })
        };
        // 400 ms of backoff fits in the second that is left...
        assert_eq!(wait(decide(0)), Duration::from_millis(400));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(budget.left(), Duration::from_millis(500));
        // ...800 ms no longer fits in the 500 ms left.
        let note = note(decide(1)).unwrap();
        assert!(note.contains("--max-time"), "{note}");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            budget.left(),
            Duration::ZERO,
            "a spent budget stays at zero"
        );
        assert_eq!(
            tokio::time::Instant::now() - budget.ends(),
            Duration::from_millis(4500)
        );
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::MAX)
        );
    }

    #[test]
    fn status_sets() {
        let set: StatusSet = "200-299,404".parse().unwrap();
        assert!(set.contains(204) && set.contains(404) && !set.contains(403));
        let classes: StatusSet = "2xx,3xx".parse().unwrap();
        assert!(classes.contains(301) && !classes.contains(404));
        assert!("".parse::<StatusSet>().is_err());
        assert!("299-200".parse::<StatusSet>().is_err());
        assert!("abc".parse::<StatusSet>().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_requests_evenly() {
        let limiter = RateLimiter::per_second(10.0);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }
}
