//! A one-line progress display on stderr (`12/300 done, 16 running, 2 not ok`),
//! shown only when stderr is a terminal unless `--progress` asks for it, so
//! agents and pipes never see it and stdout stays pure JSON.
//!
//! The line redraws in place. When the results go to the same terminal
//! (`--format table` for a person, or JSON), whatever writes them does it
//! inside [`Progress::pause`]: the line is erased first and drawn again at
//! the next tick, so a result line and the progress line never share a row.

use crate::wire::Status;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

#[derive(Default)]
struct Counters {
    done: AtomicU64,
    not_ok: AtomicU64,
    in_flight: AtomicUsize,
    /// The terminal's side: whether the line is on screen, and whether
    /// drawing has ended. One lock, so erasing and drawing never interleave.
    screen: Mutex<Screen>,
}

#[derive(Default)]
struct Screen {
    drawn: bool,
    finished: bool,
}

/// Cheap to update from the runner; drawn by a background task.
#[derive(Clone)]
pub(crate) struct Progress {
    counters: Option<Arc<Counters>>,
}

/// Moves the cursor to the start of the line and erases it.
const ERASE: &[u8] = b"\r\x1b[K";

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
                let line = format!(
                    "\r\x1b[K{tool}: {}/{total} done, {} running, {} not ok",
                    drawn.done.load(Ordering::Relaxed),
                    drawn.in_flight.load(Ordering::Relaxed),
                    drawn.not_ok.load(Ordering::Relaxed),
                );
                let mut screen = drawn.screen.lock().unwrap_or_else(PoisonError::into_inner);
                if screen.finished {
                    break;
                }
                let mut stderr = std::io::stderr().lock();
                let _ = stderr.write_all(line.as_bytes());
                let _ = stderr.flush();
                screen.drawn = true;
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

    /// Runs `write` with the progress line off the screen: erased first if
    /// it is drawn, and not drawn again until `write` is done (the next tick
    /// draws it below what `write` wrote).
    pub(crate) fn pause<R>(&self, write: impl FnOnce() -> R) -> R {
        let Some(counters) = &self.counters else {
            return write();
        };
        let mut screen = counters
            .screen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if screen.drawn {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(ERASE);
            let _ = stderr.flush();
            screen.drawn = false;
        }
        write()
    }

    /// Stops drawing and clears the line.
    pub(crate) fn clear(&self) {
        if let Some(counters) = &self.counters {
            let mut screen = counters
                .screen
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            screen.finished = true;
            if screen.drawn {
                let _ = std::io::stderr().write_all(ERASE);
                screen.drawn = false;
            }
        }
    }
}
