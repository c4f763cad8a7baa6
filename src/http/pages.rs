//! One paginated item (`--paginate`, `--next-url`, `--next-cursor`): page
//! after page, each a request with its own retries, until there is no next
//! page, `--max-pages`, a loop, a failure or a stop. [`super::paginate`]
//! decides where the next page is; this module runs the chain.
//!
//! Every page but the last is written through the item's
//! [`crate::runner::ItemContext`] as soon as it is fetched (memory does not
//! grow with the chain); the last page is the item's result, and carries
//! the chain's counters for the summary. `--max-time` covers the whole
//! chain; credentials never follow it to another origin.

use super::args::RequestsCli;
use super::{Ended, RequestError, RequestReport, RequestsTool, add_note, fetch, paginate, spec};
use crate::error::InputError;
use crate::redact::Redactor;
use crate::runner::ItemContext;
use crate::stop::StopToken;
use crate::wire::Finished;
use serde_json::Value;
use spec::RequestSpec;

/// `--paginate`, `--next-url`, `--next-cursor`: how to find the next page.
#[derive(Debug)]
pub(crate) struct Pagination {
    pub(crate) how: paginate::NextPage,
    pub(crate) max_pages: u32,
}

/// The pagination the flags ask for, if any.
pub(crate) fn pagination(cli: &RequestsCli) -> Result<Option<Pagination>, InputError> {
    let how = match (&cli.next_cursor, &cli.cursor_param) {
        (Some(pointer), Some(param)) if !param.is_empty() => Some(paginate::NextPage::Cursor {
            pointer: pointer.clone(),
            param: param.clone(),
        }),
        (Some(_), _) => {
            return Err(InputError::new(
                "--next-cursor needs --cursor-param NAME (the query parameter)",
            )
            .with_field("--cursor-param"));
        }
        (None, Some(_)) => {
            return Err(
                InputError::new("--cursor-param goes with --next-cursor POINTER")
                    .with_field("--cursor-param"),
            );
        }
        (None, None) => match &cli.next_url {
            Some(pointer) => Some(paginate::NextPage::BodyUrl(pointer.clone())),
            None => cli.paginate.then_some(paginate::NextPage::LinkHeader),
        },
    };
    Ok(how.map(|how| Pagination {
        how,
        max_pages: cli.max_pages,
    }))
}

impl RequestsTool {
    /// A paginated item: page after page (each with its retries) until
    /// there is no next page, `--max-pages`, a loop, a failure or a stop.
    /// Every page but the last is written through `item` as it comes; the
    /// last is the item's result. `--max-time` covers the whole chain.
    pub(crate) async fn fetch_pages(
        &self,
        first: RequestSpec,
        pagination: &Pagination,
        mut item: Option<&mut ItemContext<RequestReport>>,
        redactor: &Redactor,
        stop: &StopToken,
    ) -> Finished<RequestReport> {
        let budget = super::retry::Budget::start(first.max_time.or(self.settings.max_time));
        let mut chain = paginate::Chain::default();
        let mut sent = 0u32;
        let mut received = 0u64;
        let mut page = 0u32;
        let mut spec = first.clone();
        loop {
            chain.visit(&spec.url);
            let mut report = self.identity_of(&spec);
            report.page = Some(page);
            let ended = self
                .request(&spec, budget, redactor, &mut report, None, stop)
                .await;
            sent += report.sent;
            received += report.received;
            // The item's counters ride on its last line, the one tallied.
            let last = |mut report: RequestReport| {
                report.sent = sent;
                report.received = received;
                report.pages = page + 1;
                report
            };
            let exchange = match ended {
                Ended::Accepted(exchange) => exchange,
                Ended::Failed(failed) => return self.failed(last(report), failed, redactor),
                Ended::Stopped(reason) => return Finished::stopped(last(report), reason, true),
            };
            let links: Vec<String> = exchange
                .headers
                .get_all(reqwest::header::LINK)
                .iter()
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                .collect();
            let body = match pagination.how {
                paginate::NextPage::LinkHeader => None,
                _ if exchange.truncated => None,
                _ => serde_json::from_slice::<Value>(&exchange.body).ok(),
            };
            let needs_body = pagination.how != paginate::NextPage::LinkHeader;
            let cut = exchange.truncated;
            // Relative next links are relative to where the page came from.
            let step = chain.step(
                &pagination.how,
                &exchange.final_url,
                links.iter().map(String::as_str),
                body.as_ref(),
            );
            drop(body);
            self.describe_response(&mut report, exchange, redactor);
            let next = match step {
                paginate::Step::Done => {
                    if needs_body && cut {
                        add_note(
                            &mut report,
                            "the body was cut at --max-body, so no next page could be read from it"
                                .into(),
                        );
                    }
                    return Finished::ok(last(report));
                }
                paginate::Step::Loop(url) => {
                    let failure = RequestError::PaginationLoop(url.to_string());
                    let message = redactor.scrub_str(&failure.to_string()).into_owned();
                    return Finished::failed_with_message(last(report), &failure, message);
                }
                paginate::Step::Next(_) if page + 1 >= pagination.max_pages => {
                    report.more_pages = Some(true);
                    add_note(
                        &mut report,
                        format!(
                            "stopped at --max-pages {}: the chain has more pages",
                            pagination.max_pages
                        ),
                    );
                    return Finished::ok(last(report));
                }
                paginate::Step::Next(url) => url,
            };
            if let Some(item) = item.as_deref_mut() {
                item.line(Finished::ok(report), stop).await;
            }
            spec = next_page(&first, next, redactor);
            page += 1;
        }
    }
}

/// The request for the next page at `url`: the item's method, headers and
/// body, its credentials only while the chain stays on its origin.
fn next_page(first: &RequestSpec, url: reqwest::Url, redactor: &Redactor) -> RequestSpec {
    let mut spec = first.clone();
    if !fetch::same_origin(&first.url, &url) {
        spec.headers = fetch::without_credentials(&first.headers);
    }
    // The server wrote this URL: its secrets are the item's (scrubbed) and
    // any query value named like one.
    let mut found = crate::redact::SecretSet::default();
    spec.shown_url =
        spec::redact_secret_query(redactor.scrub_str(url.as_str()).into_owned(), &mut found);
    spec.url = url;
    spec
}
