//! Following a paginated API: where the next page is, and when to stop.
//!
//! The seeds' `fetch_pages` async generator, as a decision per page: the
//! next URL comes from a `Link: <...>; rel="next"` header (RFC 8288, as
//! GitHub and most REST APIs send it), from a JSON pointer into the body
//! (`--next-url /next`), or from a cursor in the body put into the next
//! request's query (`--next-cursor /next_cursor --cursor-param cursor`).
//! A chain ends when there is no next page, at `--max-pages`, or when a next
//! URL was already visited (a loop in the links).

use serde_json::Value;
use std::collections::HashSet;

/// How to find the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NextPage {
    /// `Link` headers, `rel="next"`.
    LinkHeader,
    /// A URL (absolute or relative to the page's) at this JSON pointer.
    BodyUrl(String),
    /// An opaque cursor at `pointer`, sent back as query parameter `param`.
    Cursor { pointer: String, param: String },
}

/// Where the chain goes after a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Fetch this URL next.
    Next(reqwest::Url),
    /// No next page: the chain is complete.
    Done,
    /// The next URL was already fetched in this chain.
    Loop(reqwest::Url),
}

/// The `rel="next"` target of a set of `Link` header values, resolved
/// against `base` (the page's URL).
pub(crate) fn link_next<'a>(
    values: impl IntoIterator<Item = &'a str>,
    base: &reqwest::Url,
) -> Option<reqwest::Url> {
    for value in values {
        for link in split_links(value) {
            let Some((target, params)) = parse_link(link) else {
                continue;
            };
            let is_next = params.iter().any(|(key, value)| {
                key.eq_ignore_ascii_case("rel")
                    && value
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return base.join(target).ok();
            }
        }
    }
    None
}

/// Splits a `Link` value at the commas between links, not those inside
/// `<...>` or quoted parameter values.
fn split_links(value: &str) -> Vec<&str> {
    let mut links = Vec::new();
    let (mut in_target, mut in_quotes, mut escaped) = (false, false, false);
    let mut start = 0;
    for (at, c) in value.char_indices() {
        if in_quotes {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match c {
            '<' => in_target = true,
            '>' => in_target = false,
            '"' if !in_target => in_quotes = true,
            ',' if !in_target => {
                links.push(&value[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    links.push(&value[start..]);
    links
}

/// `<target>; key=value; key="value"` -> the target and its parameters.
fn parse_link(link: &str) -> Option<(&str, Vec<(String, String)>)> {
    let link = link.trim();
    let rest = link.strip_prefix('<')?;
    let (target, rest) = rest.split_once('>')?;
    let params = rest
        .split(';')
        .filter_map(|param| {
            let (key, value) = param.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|inner| inner.strip_suffix('"'))
                .unwrap_or(value);
            Some((key.trim().to_string(), value.to_string()))
        })
        .collect();
    Some((target.trim(), params))
}

/// A string (or number) at `pointer` in `body`; null, absent or empty
/// means "no next page".
fn text_at(body: &Value, pointer: &str) -> Option<String> {
    match body.pointer(pointer)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The chain of one item: the URLs it visited, as 64-bit hashes (8 bytes a
/// page whatever the URL's length; at most `--max-pages` of them).
#[derive(Debug, Default)]
pub(crate) struct Chain {
    visited: HashSet<u64>,
}

/// A URL's hash: SipHash with fixed keys, the same in every run.
fn url_hash(url: &reqwest::Url) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    url.as_str().hash(&mut hasher);
    hasher.finish()
}

impl Chain {
    /// Records a URL about to be fetched.
    pub(crate) fn visit(&mut self, url: &reqwest::Url) {
        self.visited.insert(url_hash(url));
    }

    /// Decides the step after a page fetched from `url`, given its `Link`
    /// headers and its body (parsed JSON, when it was JSON).
    pub(crate) fn step<'a>(
        &self,
        how: &NextPage,
        url: &reqwest::Url,
        links: impl IntoIterator<Item = &'a str>,
        body: Option<&Value>,
    ) -> Step {
        let next = match how {
            NextPage::LinkHeader => link_next(links, url),
            NextPage::BodyUrl(pointer) => body
                .and_then(|body| text_at(body, pointer))
                .and_then(|next| url.join(&next).ok()),
            NextPage::Cursor { pointer, param } => {
                body.and_then(|body| text_at(body, pointer)).map(|cursor| {
                    let mut next = url.clone();
                    let kept: Vec<(String, String)> = url
                        .query_pairs()
                        .filter(|(key, _)| key != param.as_str())
                        .map(|(key, value)| (key.into_owned(), value.into_owned()))
                        .collect();
                    next.query_pairs_mut()
                        .clear()
                        .extend_pairs(kept)
                        .append_pair(param, &cursor);
                    next
                })
            }
        };
        match next {
            None => Step::Done,
            Some(next) if self.visited.contains(&url_hash(&next)) => Step::Loop(next),
            Some(next) => Step::Next(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn link_headers_as_apis_send_them() {
        let base = url("https://api.example.com/items?page=2");
        let github = "<https://api.example.com/items?page=3>; rel=\"next\", <https://api.example.com/items?page=9>; rel=\"last\"";
        assert_eq!(
            link_next([github], &base),
            Some(url("https://api.example.com/items?page=3"))
        );
        // rel lists, upper case, relative targets, commas inside the target and
        // in quoted values, and several header lines.
        assert_eq!(
            link_next(["<./p?a=1,2>; title=\"x, y\"; REL=\"prev Next\""], &base),
            Some(url("https://api.example.com/p?a=1,2"))
        );
        assert_eq!(
            link_next(["<a>; rel=\"prev\"", "</b>; rel=next"], &base),
            Some(url("https://api.example.com/b"))
        );
        assert_eq!(link_next(["<x>; rel=\"last\""], &base), None);
        assert_eq!(link_next(["garbage, <unclosed; rel=next"], &base), None);
    }

    #[test]
    fn next_urls_and_cursors_from_the_body() {
        let page = url("http://h/list?per_page=2&cursor=old");
        let mut chain = Chain::default();
        chain.visit(&page);
        let by_url = NextPage::BodyUrl("/next".into());
        assert_eq!(
            chain.step(&by_url, &page, [], Some(&json!({"next": "/list?page=2"}))),
            Step::Next(url("http://h/list?page=2"))
        );
        assert_eq!(
            chain.step(&by_url, &page, [], Some(&json!({"next": null}))),
            Step::Done
        );
        assert_eq!(chain.step(&by_url, &page, [], None), Step::Done);
        let by_cursor = NextPage::Cursor {
            pointer: "/meta/next_cursor".into(),
            param: "cursor".into(),
        };
        assert_eq!(
            chain.step(
                &by_cursor,
                &page,
                [],
                Some(&json!({"meta": {"next_cursor": "c 2/3"}}))
            ),
            Step::Next(url("http://h/list?per_page=2&cursor=c+2%2F3"))
        );
        assert_eq!(
            chain.step(&by_cursor, &page, [], Some(&json!({"meta": {}}))),
            Step::Done
        );
    }

    #[test]
    fn a_link_back_to_a_visited_page_is_a_loop() {
        let first = url("http://h/p?page=0");
        let second = url("http://h/p?page=1");
        let mut chain = Chain::default();
        chain.visit(&first);
        chain.visit(&second);
        assert_eq!(
            chain.step(
                &NextPage::LinkHeader,
                &second,
                ["<http://h/p?page=0>; rel=\"next\""],
                None
            ),
            Step::Loop(first)
        );
    }
}
