//! A one-line progress display on stderr (`12/300 done, 16 running, 2 not ok`),
//! shown only when stderr is a terminal unless `--progress` asks for it, so
//! agents and pipes never see it and stdout stays pure JSON.

use crate::wire::Status;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Default)]
struct Counters {
    done: AtomicU64,
    not_ok: AtomicU64,
    in_flight: AtomicUsize,
    finished: AtomicBool,
}

/// Cheap to update from the runner; drawn by a background task.
#[derive(Clone)]
pub(crate) struct Progress {
    counters: Option<Arc<Counters>>,
}

impl Progress {
    /// A progress display that draws nothing.
    pub(crate) fn hidden() -> Self {
        Progress { counters: None }
    }

    /// Decides from the flags and the terminal whether to draw, and starts
    /// the drawing task when it does. Must be called inside the runtime.
    pub(crate) fn start(tool: &'static str, forced: Option<bool>, total: u64) -> Self {
        let show = forced.unwrap_or_else(|| std::io::stderr().is_terminal());
        if !show {
            return Progress::hidden();
        }
        let counters = Arc::new(Counters::default());
        let drawn = counters.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                if drawn.finished.load(Ordering::Relaxed) {
                    break;
                }
                let line = format!(
                    "\r\x1b[K{tool}: {}/{total} done, {} running, {} not ok",
                    drawn.done.load(Ordering::Relaxed),
                    drawn.in_flight.load(Ordering::Relaxed),
                    drawn.not_ok.load(Ordering::Relaxed),
                );
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        });
        Progress {
            counters: Some(counters),
        }
    }

    pub(crate) fn finished(&self, status: Status) {
        if let Some(counters) = &self.counters {
            counters.done.fetch_add(1, Ordering::Relaxed);
            if !matches!(status, Status::Ok | Status::Skipped) {
                counters.not_ok.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn set_in_flight(&self, in_flight: usize) {
        if let Some(counters) = &self.counters {
            counters.in_flight.store(in_flight, Ordering::Relaxed);
        }
    }

    /// Stops drawing and clears the line.
    pub(crate) fn clear(&self) {
        if let Some(counters) = &self.counters {
            counters.finished.store(true, Ordering::Relaxed);
            let _ = std::io::stderr().write_all(b"\r\x1b[K");
        }
    }
}
