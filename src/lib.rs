//! # async-patterns
//!
//! Concurrent I/O tools for AI agents and people at a terminal, printing
//! JSON: many HTTP calls ([`http`], `async_requests`), many files read and
//! measured ([`files`], `async_file_reader`), commands under timeouts that
//! kill their whole process tree ([`tasks`], `async_timeout`), and blocking
//! calls found inside async Python and Rust ([`blocking`],
//! `find_blocking_calls`); plus [`demo_api`], the loopback API of the demo
//! and the tests. They are one binary, `async-patterns`, which picks the
//! tool by the name it was called by or by its first argument
//! ([`multicall`]).
//!
//! Every tool is one [`app::Tool`] and runs through one pipeline
//! ([`app::main`]); each stage lives in one module:
//!
//! ```text
//!  argv ──► cli (clap, shared flags) ──► Tool::from_cli
//!                               │
//!                               ▼
//!       input: check every item (pass 1, ParseItem), then feed them (pass 2)
//!                               │ items, in input order
//!                               ▼
//!       Tool::Expand: items → specs (the walk of the file tools;
//!                     the items themselves for requests and tasks)
//!                               │
//!       stop (deadline, --fail-fast, --first, SIGINT/SIGTERM)
//!                               │
//!                               ▼
//!       runner::run_bounded (at most N in flight; Job::run per spec)
//!                               │ Finished<Report> per item, into a Sink
//!                               ▼
//!       printer (JSON document, NDJSON, --output FILE; to a pipe
//!                through writer_thread, so a slow reader stalls no request)
//!                               │
//!                               ▼
//!       exit (one code table for every tool)
//! ```
//!
//! A tool supplies three things: what an item is ([`input::ParseItem`]),
//! how items become specs (the expansion step, [`app::Expand`]), and
//! what one spec does ([`runner::Job`]). Failures are typed, and each kind
//! decides its item's status ([`error::Failure`]). The wire format (what an
//! agent parses) is documented once, in [`wire`] and `docs/CONTRACT.md`;
//! the exit codes once, in [`exit`].
//!
//! Everything is private to the crate except [`multicall::main`], which
//! `src/main.rs` calls: read these docs with `cargo doc --document-private-items`.

#![allow(rustdoc::private_intra_doc_links)]

mod app;
mod blocking;
mod cli;
mod demo_api;
#[cfg(doctest)]
mod doc_references;
mod error;
mod exit;
mod files;
mod http;
mod input;
mod latency;
pub mod multicall;
mod offload;
mod output;
mod printer;
mod progress;
mod redact;
mod runner;
mod stop;
mod table;
mod tasks;
mod units;
mod walk;
mod wire;
mod writer_thread;

/// The crate version every tool reports in its JSON (`"version"`).
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
