//! The pattern guides in `references/` as doc-tests: rustdoc compiles (and,
//! unless a block says `no_run`, runs) every ```rust block in them, so the
//! Rust an agent copies from a guide is known to build against the crates this
//! package uses; a block marked `compile_fail` must not compile (a guide shows
//! what the compiler refuses that way). Python blocks are run by
//! `tests/references.rs`, which also checks that every guide is listed here;
//! the service templates are run by `tests/templates.rs`.
//!
//! Only compiled under `cfg(doctest)`: it adds nothing to the library.

#[doc = include_str!("../references/concurrency-patterns.md")]
mod concurrency_patterns {}

#[doc = include_str!("../references/http-clients.md")]
mod http_clients {}

#[doc = include_str!("../references/timeouts-and-cancellation.md")]
mod timeouts_and_cancellation {}

#[doc = include_str!("../references/error-handling.md")]
mod error_handling {}

#[doc = include_str!("../references/mixing-sync-async.md")]
mod mixing_sync_async {}

#[doc = include_str!("../references/debugging.md")]
mod debugging {}

#[doc = include_str!("../references/production-patterns.md")]
mod production_patterns {}

#[doc = include_str!("../references/performance.md")]
mod performance {}
