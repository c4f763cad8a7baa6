//! `--circuit-breaker N`: stop sending to a host that keeps failing.
//!
//! The circuit breaker of the references' error-handling guide, per host:
//! - **closed**: requests go through; N failed attempts in a row (connect
//!   errors, closed connections, timeouts, 5xx) open it.
//! - **open**: every request to the host fails at once (kind
//!   `circuit_open`) until `--circuit-cooldown` has passed.
//! - **half-open**: exactly one request (the probe) goes through; the others
//!   still fail at once. The probe's success closes the circuit, its failure
//!   opens it for another cool-down.
//!
//! Letting every waiting caller through after the cool-down (the usual
//! mistake) would hit a still-dead host with the whole backlog at once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Why a request was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CircuitOpen {
    /// The host as it may be shown (secrets redacted).
    pub(crate) host: String,
    /// Time left before a probe may go.
    pub(crate) retry_in: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// The probe is out; nothing else goes until it reports.
    HalfOpen,
}

/// The breakers of every host of a run.
#[derive(Debug)]
pub(crate) struct Breakers {
    threshold: u32,
    cooldown: Duration,
    hosts: Mutex<HashMap<String, State>>,
    /// Hosts whose circuit opened at least once, as they may be shown, for
    /// the summary.
    opened: Mutex<BTreeSet<String>>,
}

/// Leave to send one request; report how it went with [`Pass::record`].
#[derive(Debug)]
#[must_use = "report the attempt's outcome"]
pub(crate) struct Pass {
    host: String,
    /// The host as it may be shown.
    shown: String,
    probe: bool,
}

impl Breakers {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Breakers {
            threshold: threshold.max(1),
            cooldown,
            hosts: Mutex::new(HashMap::new()),
            opened: Mutex::new(BTreeSet::new()),
        }
    }

    /// May a request to `host` go now? `shown` is the host as the output may
    /// show it (a host name can hold a secret).
    pub(crate) fn admit(&self, host: &str, shown: &str) -> Result<Pass, CircuitOpen> {
        let mut hosts = self
            .hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = hosts
            .entry(host.to_string())
            .or_insert(State::Closed { failures: 0 });
        match *state {
            State::Closed { .. } => Ok(Pass {
                host: host.to_string(),
                shown: shown.to_string(),
                probe: false,
            }),
            State::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *state = State::HalfOpen;
                    Ok(Pass {
                        host: host.to_string(),
                        shown: shown.to_string(),
                        probe: true,
                    })
                } else {
                    Err(CircuitOpen {
                        host: shown.to_string(),
                        retry_in: until - now,
                    })
                }
            }
            State::HalfOpen => Err(CircuitOpen {
                host: shown.to_string(),
                retry_in: Duration::ZERO,
            }),
        }
    }

    /// Hosts whose circuit opened during the run, sorted.
    pub(crate) fn opened_hosts(&self) -> Vec<String> {
        self.opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    fn open(&self, state: &mut State, shown: &str) {
        *state = State::Open {
            until: Instant::now() + self.cooldown,
        };
        self.opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(shown.to_string());
    }
}

impl Pass {
    /// Reports the attempt: `failed` for the failures that count (the
    /// caller decides: connect errors, timeouts, 5xx). A pass dropped
    /// without a report (the item was cancelled) frees a probe slot.
    pub(crate) fn record(self, breakers: &Breakers, failed: bool) {
        let mut hosts = breakers
            .hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(state) = hosts.get_mut(&self.host) else {
            return;
        };
        match (*state, failed) {
            (State::HalfOpen, false) if self.probe => *state = State::Closed { failures: 0 },
            (State::HalfOpen, true) if self.probe => breakers.open(state, &self.shown),
            (State::Closed { .. }, false) => *state = State::Closed { failures: 0 },
            (State::Closed { failures }, true) => {
                let failures = failures + 1;
                if failures >= breakers.threshold {
                    breakers.open(state, &self.shown);
                } else {
                    *state = State::Closed { failures };
                }
            }
            // A late report from before the circuit opened changes nothing.
            _ => {}
        }
    }

    /// A probe that never reported (its item was cancelled): let the next
    /// request be the probe instead of leaving the host half-open forever.
    pub(crate) fn abandon(self, breakers: &Breakers) {
        if !self.probe {
            return;
        }
        let mut hosts = breakers
            .hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(state) = hosts.get_mut(&self.host)
            && *state == State::HalfOpen
        {
            *state = State::Open {
                until: Instant::now(),
            };
        }
    }
}

/// A request the circuit breaker let through. Its outcome is reported with
/// [`Admitted::record`]; dropped unreported (the attempt was cut by
/// `--max-time` or a stop), it gives up its probe slot, if it had one.
pub(crate) struct Admitted<'a> {
    breakers: &'a Breakers,
    pass: Option<Pass>,
}

impl<'a> Admitted<'a> {
    /// Wraps a pass of `breakers`.
    pub(crate) fn new(breakers: &'a Breakers, pass: Pass) -> Self {
        Admitted {
            breakers,
            pass: Some(pass),
        }
    }

    pub(crate) fn record(mut self, failed: bool) {
        if let Some(pass) = self.pass.take() {
            pass.record(self.breakers, failed);
        }
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if let Some(pass) = self.pass.take() {
            pass.abandon(self.breakers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn n_failures_in_a_row_open_the_circuit_for_the_cooldown() {
        let breakers = Breakers::new(3, Duration::from_secs(10));
        for _ in 0..2 {
            breakers.admit("h", "h").unwrap().record(&breakers, true);
        }
        // A success in between resets the count.
        breakers.admit("h", "h").unwrap().record(&breakers, false);
        for _ in 0..3 {
            breakers.admit("h", "h").unwrap().record(&breakers, true);
        }
        let refused = breakers.admit("h", "h").unwrap_err();
        assert_eq!(refused.host, "h");
        assert_eq!(refused.retry_in, Duration::from_secs(10));
        assert!(breakers.admit("other", "other").is_ok(), "per host");
        assert_eq!(breakers.opened_hosts(), vec!["h".to_string()]);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(breakers.admit("h", "h").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_cooldown_exactly_one_probe_goes() {
        let breakers = Breakers::new(1, Duration::from_secs(5));
        breakers.admit("h", "h").unwrap().record(&breakers, true);
        tokio::time::advance(Duration::from_secs(5)).await;
        let probe = breakers.admit("h", "h").expect("the probe");
        for _ in 0..50 {
            assert!(
                breakers.admit("h", "h").is_err(),
                "only one trial while half-open"
            );
        }
        probe.record(&breakers, false);
        for _ in 0..5 {
            breakers.admit("h", "h").unwrap().record(&breakers, false);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_it_again_and_an_abandoned_one_frees_the_slot() {
        let breakers = Breakers::new(1, Duration::from_secs(5));
        breakers.admit("h", "h").unwrap().record(&breakers, true);
        tokio::time::advance(Duration::from_secs(5)).await;
        breakers.admit("h", "h").unwrap().record(&breakers, true);
        assert_eq!(
            breakers.admit("h", "h").unwrap_err().retry_in,
            Duration::from_secs(5)
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        breakers.admit("h", "h").unwrap().abandon(&breakers);
        assert!(
            breakers.admit("h", "h").is_ok(),
            "the next request is the probe"
        );
    }
}
