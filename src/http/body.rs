//! How a response body appears in the result: parsed JSON under `json`, other
//! UTF-8 under `text`, anything else under `base64`; or only the values named
//! by `--pick` JSON Pointers, under the names the picks give them. Secrets are
//! scrubbed before any of that.

use crate::redact::Redactor;
use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};

/// `--body auto|text|none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BodyMode {
    /// JSON parsed under `json`, UTF-8 under `text`, other bytes under `base64`.
    Auto,
    /// Always `text` (invalid UTF-8 replaced by U+FFFD).
    Text,
    /// No body in the output (it is still read, up to --max-body, and counted).
    None,
}

/// The body fields of a result.
#[derive(Debug, Default, Serialize, PartialEq)]
pub(crate) struct RenderedBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) json: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) base64: Option<String>,
    /// `--pick`: name → value, for the pointers that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) picked: Option<Map<String, Value>>,
    /// Why the body shows the way it does, when that is not obvious.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

/// One `--pick NAME=/pointer`: the value at `pointer` (RFC 6901) of a JSON
/// body, shown as `picked.NAME`. Without a name, the pointer is the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pick {
    pub(crate) name: String,
    pub(crate) pointer: String,
}

impl std::str::FromStr for Pick {
    type Err = String;

    /// `/data/0/id` (named `/data/0/id`) or `id=/data/0/id`. A text that
    /// starts with `/` is a pointer whole, `=` and all.
    fn from_str(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.starts_with('/') {
            return Ok(Pick {
                name: text.to_string(),
                pointer: text.to_string(),
            });
        }
        let Some((name, pointer)) = text.split_once('=') else {
            return Err(format!(
                "`{text}` is not a JSON Pointer: it must start with `/` (e.g. /data/0/id), \
                 or name it: `{text}=/{text}`"
            ));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`{text}`: the name before `=` is empty"));
        }
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            return Err(format!(
                "`{text}`: `{pointer}` is not a JSON Pointer: it must start with `/` (e.g. {name}=/data/0/id)"
            ));
        }
        Ok(Pick {
            name: name.to_string(),
            pointer: pointer.to_string(),
        })
    }
}

/// Whether a Content-Type announces JSON (`application/json`, `+json`).
fn is_json_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        let essence = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        essence == "application/json" || essence.ends_with("+json") || essence == "text/json"
    })
}

/// The body as text: valid UTF-8 without NUL bytes (NUL marks binary data,
/// as `grep` and `git` decide), allowing a character cut by the size cap.
fn utf8_prefix(bytes: &[u8], truncated: bool) -> Option<&str> {
    if memchr::memchr(0, bytes).is_some() {
        return None;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text),
        // A cut in the last (at most 3) bytes is the cap's doing, not the server's.
        Err(error)
            if truncated
                && error.error_len().is_none()
                && bytes.len() - error.valid_up_to() < 4 =>
        {
            std::str::from_utf8(&bytes[..error.valid_up_to()]).ok()
        }
        Err(_) => None,
    }
}

/// `cut_at`: the body was longer than `--max-body`; `raw` holds the kept
/// bytes plus a little lookahead, scrubbed and then cut there.
pub(crate) fn render(
    raw: &[u8],
    content_type: Option<&str>,
    mode: BodyMode,
    cut_at: Option<usize>,
    picks: &[Pick],
    redactor: &Redactor,
) -> RenderedBody {
    if mode == BodyMode::None {
        return RenderedBody::default();
    }
    let truncated = cut_at.is_some();
    let bytes = match cut_at {
        Some(cap) => std::borrow::Cow::Owned(redactor.scrub_head(raw, cap)),
        None => redactor.scrub_bytes(raw),
    };
    let mut out = RenderedBody::default();
    if mode == BodyMode::Text {
        out.text = Some(match utf8_prefix(&bytes, truncated) {
            Some(text) => text.to_string(),
            None => String::from_utf8_lossy(&bytes).into_owned(),
        });
        return out;
    }
    let looks_json = is_json_type(content_type)
        || (content_type.is_none()
            && bytes
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| matches!(b, b'{' | b'[')));
    if looks_json && !bytes.is_empty() {
        if truncated {
            out.note = Some("body cut at --max-body, so it was not parsed as JSON".into());
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(mut value) => {
                    redactor.scrub_json(&mut value);
                    if picks.is_empty() {
                        out.json = Some(value);
                    } else {
                        pick(&value, picks, &mut out);
                    }
                    return out;
                }
                Err(error) => {
                    out.note = Some(format!(
                        "the body is not valid JSON ({error}); shown as text"
                    ));
                }
            }
        }
    }
    if !picks.is_empty() && out.note.is_none() {
        out.note = Some("--pick needs a JSON body; this one is not JSON".into());
    }
    match utf8_prefix(&bytes, truncated) {
        Some(text) => out.text = Some(text.to_string()),
        None => out.base64 = Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
    }
    out
}

fn pick(value: &Value, picks: &[Pick], out: &mut RenderedBody) {
    let mut picked = Map::new();
    let mut missing = Vec::new();
    for pick in picks {
        match value.pointer(&pick.pointer) {
            Some(found) => {
                picked.insert(pick.name.clone(), found.clone());
            }
            None => missing.push(pick.pointer.as_str()),
        }
    }
    if !missing.is_empty() {
        out.note = Some(format!("--pick found nothing at {}", missing.join(", ")));
    }
    out.picked = Some(picked);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::SecretSet;
    use serde_json::json;

    fn auto(body: &[u8], content_type: Option<&str>) -> RenderedBody {
        render(
            body,
            content_type,
            BodyMode::Auto,
            None,
            &[],
            &Redactor::default(),
        )
    }

    #[test]
    fn json_text_and_binary() {
        assert_eq!(
            auto(br#"{"a":1}"#, Some("application/json")).json,
            Some(json!({"a":1}))
        );
        assert_eq!(
            auto(
                br#"{"a":1}"#,
                Some("application/problem+json; charset=utf-8")
            )
            .json,
            Some(json!({"a":1}))
        );
        assert_eq!(
            auto(b"hello", Some("text/plain")).text.as_deref(),
            Some("hello")
        );
        assert!(auto(&[0xff, 0x00, 0xfe], None).base64.is_some());
        assert!(auto(&[0, 0, 0], Some("text/plain")).base64.is_some());
    }

    #[test]
    fn broken_json_is_text_with_a_note() {
        let body = auto(b"{not json", Some("application/json"));
        assert_eq!(body.text.as_deref(), Some("{not json"));
        assert!(body.note.unwrap().contains("not valid JSON"));
    }

    #[test]
    fn a_cut_multibyte_character_stays_text() {
        let body = "héllo".as_bytes();
        let cut = &body[..2]; // 'h' and half of 'é'
        let shown = render(
            cut,
            Some("text/plain"),
            BodyMode::Auto,
            Some(cut.len()),
            &[],
            &Redactor::default(),
        );
        assert_eq!(shown.text.as_deref(), Some("h"));
    }

    #[test]
    fn picks_are_pointers_with_an_optional_name() {
        let parse = |text: &str| text.parse::<Pick>();
        let pick = |name: &str, pointer: &str| Pick {
            name: name.into(),
            pointer: pointer.into(),
        };
        assert_eq!(parse("/data/0/id"), Ok(pick("/data/0/id", "/data/0/id")));
        assert_eq!(parse("id=/data/0/id"), Ok(pick("id", "/data/0/id")));
        assert_eq!(parse("whole="), Ok(pick("whole", "")));
        assert_eq!(parse(""), Ok(pick("", "")));
        // A pointer may hold `=`: a leading `/` makes the whole text one.
        assert_eq!(parse("/a=b"), Ok(pick("/a=b", "/a=b")));
        assert_eq!(parse("k=/a=b"), Ok(pick("k", "/a=b")));
        assert!(parse("total").unwrap_err().contains("must start with `/`"));
        assert!(
            parse("=/x")
                .unwrap_err()
                .contains("name before `=` is empty")
        );
        assert!(
            parse("n=x")
                .unwrap_err()
                .contains("`x` is not a JSON Pointer")
        );
    }

    #[test]
    fn pick_keeps_only_the_pointed_values() {
        let picks = vec![
            Pick {
                name: "first".into(),
                pointer: "/data/0/id".into(),
            },
            "/missing".parse().unwrap(),
        ];
        let shown = render(
            br#"{"data":[{"id":7,"big":"x"}]}"#,
            Some("application/json"),
            BodyMode::Auto,
            None,
            &picks,
            &Redactor::default(),
        );
        assert_eq!(shown.json, None);
        assert_eq!(
            shown.picked.unwrap(),
            json!({"first": 7}).as_object().unwrap().clone()
        );
        assert!(shown.note.unwrap().contains("/missing"));
    }

    #[test]
    fn echoed_secrets_are_scrubbed() {
        let mut secrets = SecretSet::default();
        secrets.add("Bearer abc123xyz");
        let shown = render(
            br#"{"headers":{"authorization":"Bearer abc123xyz"}}"#,
            Some("application/json"),
            BodyMode::Auto,
            None,
            &[],
            &secrets.redactor(),
        );
        assert_eq!(
            shown.json,
            Some(json!({"headers":{"authorization":"<redacted>"}}))
        );
    }
}
