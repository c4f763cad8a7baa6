//! `${NAME}` expansion from the environment, for URLs, headers and bodies.
//!
//! Every expanded value is a secret by definition (it is how API keys get into
//! requests without being written into input files), so expansion returns two
//! strings: the real one that is sent, and the one that may be shown, with
//! each expansion replaced by `<redacted>`. An unset variable is bad input.
//! `$${` writes a literal `${`.

use crate::error::FieldError;
use crate::redact::REDACTED;
use std::borrow::Cow;

/// Looks up an environment variable; injectable for tests.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A template after expansion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Expanded {
    /// What is sent.
    pub(crate) value: String,
    /// What may be printed: expansions replaced by `<redacted>`.
    pub(crate) shown: String,
    /// The values that came from the environment.
    pub(crate) secrets: Vec<String>,
}

/// Expands every `${NAME}` in `template`. `field` names the input field for errors.
pub(crate) fn expand(
    template: &str,
    field: &str,
    env: EnvLookup<'_>,
) -> Result<Expanded, FieldError> {
    expand_with(template, field, env, |value| Cow::Borrowed(value))
}

/// [`expand`], each value from the environment passed through `encode`
/// before it goes in. The value stays a secret, and so does what it was
/// encoded to.
pub(crate) fn expand_with(
    template: &str,
    field: &str,
    env: EnvLookup<'_>,
    encode: impl Fn(&str) -> Cow<'_, str>,
) -> Result<Expanded, FieldError> {
    let mut out = Expanded::default();
    // No `$`, no `${`: the common case, found by a byte search.
    if !template.contains('$') {
        out.value = template.to_string();
        out.shown = template.to_string();
        return Ok(out);
    }
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        let (before, from_dollar) = rest.split_at(at);
        out.value.push_str(before);
        out.shown.push_str(before);
        if let Some(after) = from_dollar.strip_prefix("$${") {
            out.value.push_str("${");
            out.shown.push_str("${");
            rest = after;
        } else if let Some(after) = from_dollar.strip_prefix("${") {
            let Some(close) = after.find('}') else {
                return Err(FieldError::new(
                    field,
                    "unterminated `${` (write `$${` for a literal `${`)",
                ));
            };
            let name = &after[..close];
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(FieldError::new(
                    field,
                    format!("`${{{name}}}` is not a valid variable name"),
                ));
            }
            let Some(value) = env(name) else {
                return Err(FieldError::new(
                    field,
                    format!("environment variable `{name}` is not set"),
                ));
            };
            let encoded = encode(&value);
            out.value.push_str(&encoded);
            out.shown.push_str(REDACTED);
            if encoded != value {
                out.secrets.push(encoded.into_owned());
            }
            out.secrets.push(value);
            rest = &after[close + 1..];
        } else {
            out.value.push('$');
            out.shown.push('$');
            rest = &from_dollar[1..];
        }
    }
    out.value.push_str(rest);
    out.shown.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("t0ps3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_and_redacts() {
        let got = expand("Bearer ${TOKEN}!", "h", &env).unwrap();
        assert_eq!(got.value, "Bearer t0ps3cret!");
        assert_eq!(got.shown, "Bearer <redacted>!");
        assert_eq!(got.secrets, vec!["t0ps3cret".to_string()]);
        assert_eq!(expand("a${EMPTY}b", "h", &env).unwrap().value, "ab");
    }

    #[test]
    fn literal_dollars_and_escapes() {
        let got = expand("cost $5, keep $${TOKEN}", "h", &env).unwrap();
        assert_eq!(got.value, "cost $5, keep ${TOKEN}");
        assert!(got.secrets.is_empty());
    }

    #[test]
    fn unset_and_malformed_are_field_errors() {
        let error = expand("${NOPE}", "headers.X", &env).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("headers.X"));
        assert!(error.message.contains("NOPE"));
        assert!(expand("${TOKEN", "h", &env).is_err());
        assert!(expand("${1X}", "h", &env).is_err());
        assert!(expand("${A-B}", "h", &env).is_err());
    }
}
