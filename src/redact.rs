//! Keeping secrets out of the output.
//!
//! A value is secret when it was expanded from `${ENV_VAR}`, or when it is the
//! value of a secret header: `Authorization`, `Proxy-Authorization`, `Cookie`,
//! `Set-Cookie`, or any header whose name contains `key`, `token`, `secret`,
//! `password` or `auth`. Such values show as `"<redacted>"` wherever the tool
//! would echo them (URLs, headers, dry-run plans), and a [`Redactor`] scrubs
//! them from everything a server sends back (bodies, headers, redirect
//! targets, error messages), so an echo endpoint cannot leak them either.
//!
//! Values shorter than [`MIN_SCRUB_LEN`] bytes are not scrubbed from response
//! data (replacing every `1` in a body would destroy it); they are still
//! redacted where the tool itself prints them.

use aho_corasick::{AhoCorasick, MatchKind};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::borrow::Cow;

/// What a secret shows as.
pub const REDACTED: &str = "<redacted>";

/// Shorter secrets are not searched for in response data.
pub const MIN_SCRUB_LEN: usize = 4;

/// Whether a header's value is secret, by the header's name.
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || ["key", "token", "secret", "password", "auth", "session"]
        .iter()
        .any(|word| name.contains(word))
}

/// The secret strings of a run (or of one item), with the forms they take
/// when a server echoes them back.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SecretSet {
    needles: Vec<String>,
}

impl SecretSet {
    /// Adds a secret value and its echoed forms: the credential alone for
    /// `Bearer xyz`-style values, percent-encoded and JSON-escaped.
    pub fn add(&mut self, value: &str) {
        let mut forms = vec![value.to_string()];
        if let Some((_scheme, credential)) = value.split_once(' ') {
            forms.push(credential.trim().to_string());
        }
        for form in forms.clone() {
            forms.push(utf8_percent_encode(&form, NON_ALPHANUMERIC).to_string());
            forms.push(form_urlencoded::byte_serialize(form.as_bytes()).collect());
            if let Ok(quoted) = serde_json::to_string(&form) {
                forms.push(quoted[1..quoted.len() - 1].to_string());
            }
        }
        for form in forms {
            if form.len() >= MIN_SCRUB_LEN && !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
    }

    pub fn extend(&mut self, other: &SecretSet) {
        for needle in &other.needles {
            if !self.needles.contains(needle) {
                self.needles.push(needle.clone());
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Compiles the set into one multi-pattern matcher.
    pub fn redactor(&self) -> Redactor {
        if self.needles.is_empty() {
            return Redactor::default();
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&self.needles)
            .ok();
        Redactor {
            matcher,
            needles: self.needles.clone(),
        }
    }
}

/// Replaces every secret in response data with `<redacted>`, in one pass.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    needles: Vec<String>,
}

impl Redactor {
    /// The longest secret form, in bytes (0 without secrets). Data cut to a
    /// cap must be read this many bytes minus one past the cap, so that a
    /// secret straddling the cut is whole when it is scrubbed.
    pub fn longest(&self) -> usize {
        self.needles.iter().map(String::len).max().unwrap_or(0)
    }

    /// The first `cap` bytes of a stream's head, scrubbed: every secret
    /// that starts before the cut shows as one whole `<redacted>`, and a cut
    /// that still ends on a secret's first bytes (the stream stopped there)
    /// hides them too. `bytes` may run up to [`Redactor::longest`] − 1 bytes
    /// past the cap, so a secret that starts before the cut is found whole;
    /// nothing past the cap is shown, however much scrubbing shortens the text.
    pub fn scrub_head(&self, bytes: &[u8], cap: usize) -> Vec<u8> {
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
    pub fn scrub_tail(&self, bytes: &[u8]) -> Vec<u8> {
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
        self.longest_partial(|needle, len| data.ends_with(&needle[..len]))
    }

    /// The length of the longest proper suffix of a secret (at least
    /// [`MIN_SCRUB_LEN`] bytes) that `data` starts with; 0 if none.
    fn partial_at_start(&self, data: &[u8]) -> usize {
        self.longest_partial(|needle, len| data.starts_with(&needle[needle.len() - len..]))
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

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    pub fn scrub_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        match &self.matcher {
            Some(matcher) if matcher.is_match(bytes) => {
                let replacements = vec![REDACTED.as_bytes(); matcher.patterns_len()];
                Cow::Owned(matcher.replace_all_bytes(bytes, &replacements))
            }
            _ => Cow::Borrowed(bytes),
        }
    }

    pub fn scrub_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.matcher {
            Some(matcher) if matcher.is_match(text) => {
                let replacements = vec![REDACTED; matcher.patterns_len()];
                Cow::Owned(matcher.replace_all(text, &replacements))
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// Scrubs every string and object key inside a parsed JSON value (a
    /// secret can hide behind JSON escapes the byte pass did not see).
    pub fn scrub_json(&self, value: &mut Value) {
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

    #[test]
    fn tiny_values_are_not_scrubbed_from_data() {
        let mut secrets = SecretSet::default();
        secrets.add("1");
        assert!(secrets.is_empty());
        assert_eq!(secrets.redactor().scrub_str("1 2 3"), "1 2 3");
    }
}
