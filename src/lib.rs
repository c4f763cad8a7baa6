//! # async-patterns
//!
//! Concurrent I/O tools for AI agents and people at a terminal: many HTTP calls
//! ([`http`], binary `async_requests`), with more tools built on the same parts.
//!
//! Every tool is the same pipeline, and each stage lives in one module:
//!
//! ```text
//!  argv ──► cli (clap) ──► input (items, checked before anything runs)
//!                               │
//!                               ▼
//!       stop (deadline, --fail-fast, --first, SIGINT/SIGTERM)
//!                               │
//!                               ▼
//!                 runner::run_bounded (at most N items in flight)
//!                               │ Finished<Report> per item
//!                               ▼
//!                 printer (JSON document, NDJSON, --output FILE)
//!                               │
//!                               ▼
//!                 exit (one code table for every tool)
//! ```
//!
//! The wire format (what an agent parses) is documented once, in [`wire`]; the
//! exit codes once, in [`exit`].

pub mod app;
pub mod blocking;
pub mod cli;
pub mod demo_api;
#[cfg(doctest)]
mod doc_references;
pub mod error;
pub mod exit;
pub mod files;
pub mod http;
pub mod input;
#[allow(dead_code)] // wired into the summary next
mod latency;
pub mod multicall;
pub mod printer;
pub mod progress;
pub mod redact;
pub mod runner;
pub mod stop;
pub mod tasks;
pub mod units;
pub mod walk;
pub mod wire;

/// The crate version every tool reports in its JSON (`"version"`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
