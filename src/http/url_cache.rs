//! Parsing item URLs without parsing the same host again for every item.
//!
//! The url crate's parse of `http://127.0.0.1:8080/x` costs about 6,000
//! instructions, half of it the host: the IDNA mapping runs and the host is
//! printed back even for an IP literal. Every item is parsed twice (the
//! checking pass and the running pass), and the items of one run nearly
//! always share a few `scheme://authority` prefixes. So the parse of such a
//! prefix is kept (a few, per thread) and a URL that starts with one is
//! parsed as its path-absolute rest joined onto it. The WHATWG parser gives
//! the same URL either way when the authority text is the same: a relative
//! reference starting with one `/` takes scheme, host and port from its
//! base and parses only the path, query and fragment, as the whole string
//! would. Anything unusual (not printable ASCII, a scheme in capitals, user
//! info, a backslash, a rest starting with `//`) takes the full parse.

use reqwest::Url;
use std::cell::RefCell;

/// How many prefixes a thread keeps: more than a run's hosts usually are,
/// few enough that the linear search costs nothing.
const KEPT: usize = 8;

thread_local! {
    /// The most recently used prefix first.
    static PREFIXES: RefCell<Vec<(String, Url)>> = const { RefCell::new(Vec::new()) };
}

/// `Url::parse(value)`, cheaper for a URL whose prefix was parsed before.
pub(crate) fn parse_url(value: &str) -> Result<Url, url::ParseError> {
    let Some((prefix, rest)) = split_simple(value) else {
        return Url::parse(value);
    };
    PREFIXES.with(|cell| {
        let mut prefixes = cell.borrow_mut();
        let position = prefixes.iter().position(|(kept, _)| kept == prefix);
        let base = match position {
            Some(0) => &prefixes[0].1,
            Some(at) => {
                let entry = prefixes.remove(at);
                prefixes.insert(0, entry);
                &prefixes[0].1
            }
            None => {
                // A prefix that does not parse (a bad host) gets its error
                // from the whole URL, as before, and is not kept.
                let Ok(base) = Url::parse(prefix) else {
                    return Url::parse(value);
                };
                prefixes.truncate(KEPT - 1);
                prefixes.insert(0, (prefix.to_string(), base));
                &prefixes[0].1
            }
        };
        base.join(rest)
    })
}

/// Whether `value` is a URL [`parse_url`] takes apart on a prefix it keeps
/// (and so a prefix that parsed), with no `%` in the authority: its parse
/// cannot fail, and its host is printed back as the same letters, digits
/// and punctuation (or an IP address).
pub(crate) fn on_kept_prefix(value: &str) -> bool {
    let Some((prefix, _)) = split_simple(value) else {
        return false;
    };
    !prefix.contains('%')
        && PREFIXES.with(|cell| cell.borrow().iter().any(|(kept, _)| kept == prefix))
}

/// `value` cut into `http(s)://authority` and a rest that starts with
/// exactly one `/`, when it is that simple; `None` sends it to the full
/// parse.
fn split_simple(value: &str) -> Option<(&str, &str)> {
    let after_scheme = if value.starts_with("http://") {
        "http://".len()
    } else if value.starts_with("https://") {
        "https://".len()
    } else {
        return None;
    };
    // One pass over the bytes: the parser strips or removes tabs, newlines,
    // controls and spaces, and maps non-ASCII, so none of that here; and
    // the authority ends at the first of `/?#\@`.
    let mut authority_end = None;
    for (at, &byte) in value.as_bytes().iter().enumerate().skip(after_scheme) {
        if !(0x21..=0x7e).contains(&byte) {
            return None;
        }
        if authority_end.is_none() && matches!(byte, b'/' | b'?' | b'#' | b'\\' | b'@') {
            authority_end = Some(at);
        }
    }
    let (prefix, rest) = value.split_at(authority_end.filter(|&at| at > after_scheme)?);
    // `//x` or `/\x` as a relative reference names another host.
    let simple = rest.starts_with('/') && !matches!(rest.as_bytes().get(1), Some(b'/' | b'\\'));
    simple.then_some((prefix, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same result (URL or error) as the url crate's own parse, in any
    /// order of calls: the kept prefixes change nothing.
    #[test]
    fn parses_exactly_as_the_url_crate_does() {
        let hosts = [
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.0.0.1:80",
            "127.0.0.1:443",
            "LOCALHOST:08080",
            "localhost:",
            "[::1]:9000",
            "[::1",
            "0x7f.1",
            "1.2.3.999",
            "xn--nxasmq6b.example",
            "xn--a.example",
            "ex%41mple.com",
            "exa mple.com",
            "a..b",
            "host:99999",
            "host:12ab",
            "h\u{e9}llo.example",
            "user:pw@host",
            "@host",
            "host.",
            "%zz",
            "2130706433",
            "127.1",
            "[::ffff:127.0.0.1]:8080",
            "XN--nxasmq6b.example",
        ];
        let rests = [
            "/",
            "/delay/0",
            "/a/../b/./c",
            "/%2e%2E/x",
            "/a b",
            "/x?q=1&r=%zz#frag",
            "/\u{e9}",
            "//other/x",
            "/\\other",
            "/x\\y",
            "/..",
            "/x\ty",
            "/?",
            "/#",
            "",
            "?q",
            "#f",
            "\\x",
            "/a@b:c[d]",
            "/?a=@:[]",
        ];
        for _round in 0..2 {
            for scheme in ["http://", "https://", "HTTP://", "ftp://", "http:/"] {
                for host in hosts {
                    for rest in rests {
                        let value = format!("{scheme}{host}{rest}");
                        let ours = parse_url(&value).map(|url| parts(&url));
                        let theirs = Url::parse(&value).map(|url| parts(&url));
                        assert_eq!(ours, theirs, "{value}");
                    }
                }
            }
        }
    }

    /// What a request is built from, beside the serialization itself.
    fn parts(url: &Url) -> (String, Option<u16>, Option<String>, String, Option<String>) {
        (
            url.as_str().to_string(),
            url.port(),
            url.host().map(|host| host.to_string()),
            url.path().to_string(),
            url.query().map(str::to_string),
        )
    }

    #[test]
    fn only_simple_urls_take_the_kept_prefix() {
        assert_eq!(
            split_simple("http://127.0.0.1:8080/delay/0?x=1"),
            Some(("http://127.0.0.1:8080", "/delay/0?x=1"))
        );
        assert_eq!(split_simple("https://h/"), Some(("https://h", "/")));
        for value in [
            "http://h",
            "http://h?q",
            "http:///x",
            "http://h//x",
            "http://h/\\x",
            "http://u@h/x",
            "http://h\\x",
            "HTTP://h/x",
            "http://h/x y",
            "http://h\u{e9}/x",
        ] {
            assert_eq!(split_simple(value), None, "{value}");
        }
    }

    #[test]
    fn at_most_a_few_prefixes_are_kept() {
        for port in 1000..1000 + 3 * KEPT {
            let value = format!("http://127.0.0.1:{port}/x");
            assert_eq!(parse_url(&value).map(String::from), Ok(value));
        }
        PREFIXES.with(|cell| assert_eq!(cell.borrow().len(), KEPT));
    }
}
