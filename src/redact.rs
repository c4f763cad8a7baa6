//! Keeping secrets out of the output.
//!
//! A value is secret when it was expanded from `${ENV_VAR}`, or when it is the
//! value of a secret header: `Authorization`, `Proxy-Authorization`, `Cookie`,
//! `Set-Cookie`, or any header whose name contains `key`, `token`, `secret`,
//! `password`, `auth` or `session`. Such values show as `"<redacted>"`
//! wherever the tool would echo them (URLs, headers, dry-run plans), and a
//! [`Redactor`] scrubs them from everything a server sends back (bodies,
//! header names and values, redirect targets, error messages), so an echo
//! endpoint cannot leak them either.
//!
//! A server echoes what it received, in the encodings its stack applies, so
//! the forms searched for are derived from what the tool sends: the bytes on
//! the wire (the URL parser's own encoding of a secret in a query, path,
//! fragment, user info or host; `application/x-www-form-urlencoded`; a JSON
//! string), and what an echo does to them (percent-encoding with the usual
//! sets, JSON escapes with `\/` and `\uXXXX`, percent-decoding). The forms are
//! computed once per set of secrets, in [`SecretSet::redactor`], and matched
//! ignoring ASCII case (hex digits, host names and header names change case
//! on the way), in one Aho-Corasick pass per text.
//!
//! Values shorter than [`MIN_SCRUB_LEN`] bytes are not scrubbed from response
//! data (replacing every `1` in a body would destroy it); they are still
//! redacted where the tool itself prints them. Encodings no HTTP, URL or JSON
//! stack applies on its own (base64 of a secret that was not sent that way,
//! hex dumps, a secret split by the server) are out of reach.

use aho_corasick::{AhoCorasick, MatchKind};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::Url;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashSet;

/// What a secret shows as.
pub(crate) const REDACTED: &str = "<redacted>";

/// Shorter secrets are not searched for in response data.
pub(crate) const MIN_SCRUB_LEN: usize = 4;

/// Whether a header's value is secret, by the header's name.
pub(crate) fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || ["key", "token", "secret", "password", "auth", "session"]
        .iter()
        .any(|word| name.contains(word))
}

/// RFC 3986 `unreserved` kept: what most `urlencode`/`quote` functions emit.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// JavaScript's `encodeURIComponent`.
const URI_COMPONENT: &AsciiSet = &UNRESERVED
    .remove(b'!')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');
/// Python's `urllib.parse.quote` (keeps `/`).
const PY_QUOTE: &AsciiSet = &UNRESERVED.remove(b'/');

/// The secret values of a run (or of one item). Cheap to build and compare:
/// the forms they take in response data are only derived when the set is
/// compiled into a [`Redactor`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SecretSet {
    values: Vec<String>,
}

impl SecretSet {
    /// Adds a secret value, exactly as it is sent. Values shorter than
    /// [`MIN_SCRUB_LEN`] bytes are left out (see the module doc).
    pub(crate) fn add(&mut self, value: &str) {
        if value.len() >= MIN_SCRUB_LEN && !self.values.iter().any(|known| known == value) {
            self.values.push(value.to_string());
        }
    }

    pub(crate) fn extend(&mut self, other: &SecretSet) {
        for value in &other.values {
            self.add(value);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values, as they were added.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(String::as_str)
    }

    /// Compiles the set, with every form of every secret (see
    /// `echo_forms`), into one case-insensitive multi-pattern matcher.
    pub(crate) fn redactor(&self) -> Redactor {
        if self.values.is_empty() {
            return Redactor::default();
        }
        let mut seen = HashSet::new();
        let mut needles = Vec::new();
        for value in &self.values {
            for form in echo_forms(value) {
                // The matcher ignores ASCII case: one needle per spelling.
                if form.len() >= MIN_SCRUB_LEN && seen.insert(form.to_ascii_lowercase()) {
                    needles.push(form);
                }
            }
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .build(&needles)
            // Too big to compile (megabytes of secrets): the secrets as sent
            // still are, rather than nothing at all.
            .or_else(|_| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .ascii_case_insensitive(true)
                    .build(&self.values)
            })
            .ok();
        let longest = needles.iter().map(String::len).max().unwrap_or(0);
        Redactor {
            matcher,
            needles,
            longest,
        }
    }
}

/// Every form `secret` may take in what a server sends back: the forms it
/// had on the wire, and what an echo commonly does to each of them.
fn echo_forms(secret: &str) -> Vec<String> {
    // The secret, the credential of a `Bearer xyz`-style value, and what a
    // server decodes either into (a value given already percent-encoded).
    let mut bases = vec![secret.to_string()];
    if let Some((_scheme, credential)) = secret.split_once(' ') {
        bases.push(credential.trim().to_string());
    }
    for base in bases.clone() {
        if base.contains('%') || base.contains('+') {
            if let Ok(decoded) = percent_decode_str(&base).decode_utf8() {
                bases.push(decoded.into_owned());
            }
            if let Ok(decoded) = percent_decode_str(&base.replace('+', " ")).decode_utf8() {
                bases.push(decoded.into_owned());
            }
        }
    }
    let mut forms = Vec::new();
    for base in &bases {
        for sent in wire_forms(base) {
            forms.push(utf8_percent_encode(&sent, NON_ALPHANUMERIC).to_string());
            forms.push(utf8_percent_encode(&sent, UNRESERVED).to_string());
            forms.push(utf8_percent_encode(&sent, URI_COMPONENT).to_string());
            forms.push(utf8_percent_encode(&sent, PY_QUOTE).to_string());
            forms.extend(json_escapes(&sent));
            forms.push(sent);
        }
    }
    forms
}

/// The bytes the tool itself puts on the wire for `value`, by where it goes:
/// as is (headers, plain bodies), form-encoded (`query`, `form`), encoded by
/// the URL parser in each part of a URL, and as a JSON string (`json`).
fn wire_forms(value: &str) -> Vec<String> {
    let mut forms = vec![
        value.to_string(),
        form_urlencoded::byte_serialize(value.as_bytes()).collect(),
    ];
    if let Ok(blank) = Url::parse("http://h.invalid/") {
        let mut url = blank.clone();
        url.set_query(Some(value));
        forms.extend(url.query().map(str::to_string));
        let mut url = blank.clone();
        url.set_fragment(Some(value));
        forms.extend(url.fragment().map(str::to_string));
        let mut url = blank.clone();
        url.set_path(&format!("/{value}"));
        forms.push(url.path()[1..].to_string());
        let mut url = blank.clone();
        if url.set_username(value).is_ok() {
            forms.push(url.username().to_string());
        }
        let mut url = blank.clone();
        if url.set_password(Some(value)).is_ok() {
            forms.extend(url.password().map(str::to_string));
        }
        let mut url = blank;
        if url.set_host(Some(value)).is_ok() {
            forms.extend(url.host_str().map(str::to_string));
        }
    }
    forms
}

/// How a JSON encoder may write `text` inside a string: minimal escapes
/// (serde, JavaScript), `/` as `\/` (PHP), non-ASCII as `\uXXXX` (Python,
/// PHP), HTML-sensitive characters as `\uXXXX` (Go: `<>&`; .NET also `'+``).
fn json_escapes(text: &str) -> Vec<String> {
    let mut forms = Vec::new();
    for slash in [false, true] {
        for non_ascii in [false, true] {
            for html in [
                &[][..],
                &['<', '>', '&'][..],
                &['<', '>', '&', '\'', '+', '`'][..],
            ] {
                forms.push(json_escaped(text, slash, non_ascii, html));
            }
        }
    }
    forms
}

fn json_escaped(text: &str, slash: bool, non_ascii: bool, html: &[char]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if slash => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (non_ascii && !c.is_ascii()) || html.contains(&c) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Replaces every secret in response data with `<redacted>`, in one pass.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    matcher: Option<AhoCorasick>,
    needles: Vec<String>,
    longest: usize,
}

impl Redactor {
    /// The longest secret form, in bytes (0 without secrets). Data cut to a
    /// cap must be read this many bytes minus one past the cap, so that a
    /// secret straddling the cut is whole when it is scrubbed.
    pub(crate) fn longest(&self) -> usize {
        self.longest
    }

    /// The first `cap` bytes of a stream's head, scrubbed: every secret
    /// that starts before the cut shows as one whole `<redacted>`, and a cut
    /// that still ends on a secret's first bytes (the stream stopped there)
    /// hides them too. `bytes` may run up to [`Redactor::longest`] − 1 bytes
    /// past the cap, so a secret that starts before the cut is found whole;
    /// nothing past the cap is shown, however much scrubbing shortens the text.
    pub(crate) fn scrub_head(&self, bytes: &[u8], cap: usize) -> Vec<u8> {
        let cap = cap.min(bytes.len());
        let Some(matcher) = &self.matcher else {
            return bytes[..cap].to_vec();
        };
        let mut clean = Vec::with_capacity(cap);
        let mut copied_to = 0;
        for found in matcher.find_iter(bytes) {
            if found.start() >= cap {
                break;
            }
            clean.extend_from_slice(&bytes[copied_to..found.start()]);
            clean.extend_from_slice(REDACTED.as_bytes());
            copied_to = found.end();
        }
        if copied_to < cap {
            clean.extend_from_slice(&bytes[copied_to..cap]);
        }
        let hidden = self.partial_at_end(&clean);
        if hidden > 0 {
            clean.truncate(clean.len() - hidden);
            clean.extend_from_slice(REDACTED.as_bytes());
        }
        clean
    }

    /// Scrubs the tail of a stream (its last bytes, which may begin in the
    /// middle of a secret): a start that is the end of a secret is hidden.
    pub(crate) fn scrub_tail(&self, bytes: &[u8]) -> Vec<u8> {
        let mut clean = self.scrub_bytes(bytes).into_owned();
        let hidden = self.partial_at_start(&clean);
        if hidden > 0 {
            clean.splice(..hidden, REDACTED.bytes());
        }
        clean
    }

    /// The length of the longest proper prefix of a secret (at least
    /// [`MIN_SCRUB_LEN`] bytes) that `data` ends with; 0 if none.
    fn partial_at_end(&self, data: &[u8]) -> usize {
        self.longest_partial(|needle, len| {
            data.len() >= len && data[data.len() - len..].eq_ignore_ascii_case(&needle[..len])
        })
    }

    /// The length of the longest proper suffix of a secret (at least
    /// [`MIN_SCRUB_LEN`] bytes) that `data` starts with; 0 if none.
    fn partial_at_start(&self, data: &[u8]) -> usize {
        self.longest_partial(|needle, len| {
            data.len() >= len && data[..len].eq_ignore_ascii_case(&needle[needle.len() - len..])
        })
    }

    /// The longest `len` (from [`MIN_SCRUB_LEN`] up to a secret's length,
    /// exclusive) for which `fits(secret, len)` holds, over every secret.
    fn longest_partial(&self, fits: impl Fn(&[u8], usize) -> bool) -> usize {
        self.needles
            .iter()
            .filter_map(|needle| {
                let needle = needle.as_bytes();
                (MIN_SCRUB_LEN..needle.len())
                    .rev()
                    .find(|&len| fits(needle, len))
            })
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `bytes` with every secret replaced, or `None` when there is none: one
    /// pass of the matcher, and no copy of clean data.
    fn replaced(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let matcher = self.matcher.as_ref()?;
        let mut found = matcher.find_iter(bytes).peekable();
        found.peek()?;
        let mut clean = Vec::with_capacity(bytes.len());
        let mut copied_to = 0;
        for secret in found {
            clean.extend_from_slice(&bytes[copied_to..secret.start()]);
            clean.extend_from_slice(REDACTED.as_bytes());
            copied_to = secret.end();
        }
        clean.extend_from_slice(&bytes[copied_to..]);
        Some(clean)
    }

    pub(crate) fn scrub_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        match self.replaced(bytes) {
            Some(clean) => Cow::Owned(clean),
            None => Cow::Borrowed(bytes),
        }
    }

    pub(crate) fn scrub_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.replaced(text.as_bytes()) {
            // Needles are whole UTF-8 strings and case folding is ASCII only,
            // so every match starts and ends on a character boundary.
            Some(clean) => Cow::Owned(
                String::from_utf8(clean)
                    .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()),
            ),
            None => Cow::Borrowed(text),
        }
    }

    /// Scrubs every string and object key inside a parsed JSON value (a
    /// secret can hide behind JSON escapes the byte pass did not see).
    pub(crate) fn scrub_json(&self, value: &mut Value) {
        if self.matcher.is_none() {
            return;
        }
        match value {
            Value::String(text) => {
                if let Cow::Owned(clean) = self.scrub_str(text) {
                    *text = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.scrub_json(item)),
            Value::Object(map) => {
                let needs_key_scrub = map
                    .keys()
                    .any(|key| matches!(self.scrub_str(key), Cow::Owned(_)));
                if needs_key_scrub {
                    let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
                    for (key, mut item) in entries {
                        self.scrub_json(&mut item);
                        map.insert(self.scrub_str(&key).into_owned(), item);
                    }
                } else {
                    map.values_mut().for_each(|item| self.scrub_json(item));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_headers_by_name() {
        for name in [
            "Authorization",
            "cookie",
            "X-API-Key",
            "x-auth-token",
            "Client-Secret",
            "Set-Cookie",
        ] {
            assert!(is_secret_header(name), "{name}");
        }
        for name in ["Accept", "Content-Type", "User-Agent", "X-Request-Id"] {
            assert!(!is_secret_header(name), "{name}");
        }
    }

    #[test]
    fn scrubs_raw_credential_encoded_and_escaped_forms() {
        let mut secrets = SecretSet::default();
        secrets.add("Bearer s3cr3t/tok en");
        let redactor = secrets.redactor();
        assert_eq!(
            redactor.scrub_str("auth=Bearer s3cr3t/tok en!"),
            "auth=<redacted>!"
        );
        assert_eq!(redactor.scrub_str("just s3cr3t/tok en"), "just <redacted>");
        assert_eq!(redactor.scrub_str("q=s3cr3t%2Ftok%20en"), "q=<redacted>");
        assert_eq!(redactor.scrub_str("q=s3cr3t%2Ftok+en"), "q=<redacted>");
        let mut doc = json!({"echo": {"s3cr3t/tok en": ["x s3cr3t/tok en y"]}});
        redactor.scrub_json(&mut doc);
        assert_eq!(doc, json!({"echo": {"<redacted>": ["x <redacted> y"]}}));
    }

    #[test]
    fn a_secret_cut_by_a_cap_is_hidden_on_both_edges() {
        let mut secrets = SecretSet::default();
        secrets.add("ABCDEFGHIJKLMNOP");
        let redactor = secrets.redactor();
        assert_eq!(redactor.longest(), 16);
        // The cap falls inside the secret; the lookahead holds the rest.
        let head = redactor.scrub_head(b"key=ABCDEFGHIJKLMNOP, more", 10);
        assert_eq!(head, b"key=<redacted>");
        // Scrubbing shortens the text, but nothing past the cap is shown:
        // not the start of a second secret the lookahead holds only in part.
        let two = redactor.scrub_head(b"ABCDEFGHIJKLMNOP ABCDEFGH", 17);
        assert_eq!(two, b"<redacted> ");
        // The stream itself ended inside the secret.
        assert_eq!(redactor.scrub_head(b"key=ABCDEFG", 100), b"key=<redacted>");
        // A tail that begins inside the secret.
        assert_eq!(
            redactor.scrub_tail(b"JKLMNOP and the end"),
            b"<redacted> and the end"
        );
        // Nothing to hide: unchanged.
        assert_eq!(redactor.scrub_head(b"plain text", 5), b"plain");
        assert_eq!(redactor.scrub_tail(b"plain text"), b"plain text");
    }

    /// Every form is searched for: `(secret, text with an echo of it)`.
    fn assert_scrubbed(cases: &[(&str, &str)]) {
        for (secret, echo) in cases {
            let mut secrets = SecretSet::default();
            secrets.add(secret);
            let clean = secrets.redactor().scrub_str(echo).into_owned();
            assert_eq!(clean, "x=<redacted>;", "{secret:?} in {echo:?}");
        }
    }

    #[test]
    fn forms_on_the_wire_are_derived_from_the_encoders() {
        assert_scrubbed(&[
            // The URL parser's query encoding: `"` escaped, `/` kept.
            (r#"ab/cd"ef-42"#, "x=ab/cd%22ef-42;"),
            // Its path and user-info encodings.
            ("a b{c}d", "x=a%20b%7Bc%7Dd;"),
            ("us:er@x", "x=us%3Aer%40x;"),
            // Form encoding of `query` and `form` values.
            ("a b&c=d", "x=a+b%26c%3Dd;"),
            // A host name, lower-cased (and IDNA-encoded) by the parser.
            ("MySecretHost", "x=mysecrethost;"),
            ("bücher-key", "x=xn--bcher-key-q9a;"),
        ]);
    }

    #[test]
    fn forms_an_echo_adds_are_searched_too() {
        assert_scrubbed(&[
            // Percent-encoding, upper and lower case hex, several sets.
            ("p/q:r-s", "x=p%2Fq%3Ar%2Ds;"),
            ("p/q:r-s", "x=p%2fq%3ar%2ds;"),
            ("p/q:r-s", "x=p%2Fq%3Ar-s;"),
            ("p/q:r-s", "x=p/q%3Ar-s;"),
            // JSON escapes: `\/`, `\uXXXX` for non-ASCII (either case of
            // hex), for HTML-sensitive characters, and surrogate pairs.
            ("tok/en\"q", r#"x=tok\/en\"q;"#),
            ("clé-secrète", r#"x=cl\u00e9-secr\u00e8te;"#),
            ("clé-secrète", r#"x=cl\u00E9-secr\u00E8te;"#),
            ("a<b>&c", r#"x=a\u003cb\u003e\u0026c;"#),
            ("key-😀-x", r#"x=key-\ud83d\ude00-x;"#),
            // A value given percent-encoded, echoed decoded.
            ("abc%2Fdef", "x=abc/def;"),
            ("abc+def", "x=abc def;"),
            // Case changed on the way (a header name, a host).
            ("MixedCaseToken", "x=mixedcasetoken;"),
        ]);
    }

    #[test]
    fn a_cut_is_found_whatever_the_case() {
        let mut secrets = SecretSet::default();
        secrets.add("ABCDEFGHIJKL");
        let redactor = secrets.redactor();
        assert_eq!(redactor.scrub_head(b"k=abcdefg", 100), b"k=<redacted>");
        assert_eq!(redactor.scrub_tail(b"hijkl end"), b"<redacted> end");
    }

    #[test]
    fn tiny_values_are_not_scrubbed_from_data() {
        let mut secrets = SecretSet::default();
        secrets.add("1");
        assert!(secrets.is_empty());
        assert_eq!(secrets.redactor().scrub_str("1 2 3"), "1 2 3");
    }
}
