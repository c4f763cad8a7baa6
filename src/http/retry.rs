//! Pacing and retrying: exponential backoff with full jitter, `Retry-After`,
//! the run-wide `--rate` limiter, the `--per-host` limiter, and the
//! `--accept-status` set.
//!
//! Full jitter (a random wait in `[0, min(cap, base·2ⁿ)]`) spreads the
//! retries of many clients that failed together, where a fixed exponential
//! wait would make them all come back at the same instant.

use reqwest::Method;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// When and how long to wait before trying a request again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`--retries`).
    pub retries: u32,
    /// First backoff ceiling (`--backoff`); doubles each retry.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub cap: Duration,
    /// Longest `Retry-After` honoured (`--max-retry-wait`); longer means give up.
    pub max_wait: Duration,
    /// Retry POST and PATCH too (`--retry-unsafe`).
    pub retry_unsafe: bool,
}

impl RetryPolicy {
    /// Idempotent methods may be sent twice without changing the outcome.
    pub fn method_allows(&self, method: &Method) -> bool {
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

    /// The jittered wait before retry number `retry` (1 for the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(
                1u32.checked_shl(retry.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
/// Delta-seconds too large to count are `Duration::MAX`: longer than any
/// `--max-retry-wait`, never a reason to retry at once.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
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
pub struct RateLimiter {
    interval: Duration,
    next_slot: Mutex<Instant>,
}

impl RateLimiter {
    pub fn per_second(rate: f64) -> Self {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / rate),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this request's slot.
    pub async fn acquire(&self) {
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
pub struct HostLimiter {
    limit: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostLimiter {
    pub fn new(limit: usize) -> Self {
        HostLimiter {
            limit,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    pub async fn acquire(&self, host: &str) -> Option<OwnedSemaphorePermit> {
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
pub struct StatusSet {
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
    pub fn contains(&self, code: u16) -> bool {
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

    #[test]
    fn backoff_is_jittered_under_a_doubling_ceiling() {
        let policy = policy();
        for _ in 0..200 {
            assert!(policy.backoff(1) <= Duration::from_millis(100));
            assert!(policy.backoff(3) <= Duration::from_millis(400));
            assert!(policy.backoff(30) <= Duration::from_secs(1));
        }
        let waits: std::collections::HashSet<Duration> =
            (0..50).map(|_| policy.backoff(4)).collect();
        assert!(waits.len() > 10, "full jitter spreads the waits");
    }

    #[test]
    fn only_idempotent_methods_retry_by_default() {
        let mut policy = policy();
        assert!(policy.method_allows(&Method::GET));
        assert!(policy.method_allows(&Method::PUT));
        assert!(!policy.method_allows(&Method::POST));
        policy.retry_unsafe = true;
        assert!(policy.method_allows(&Method::POST));
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
