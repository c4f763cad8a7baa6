//! One task ([`TaskSpec`]), parsed from a positional shell command or an
//! `--input` item:
//!
//! ```json
//! "make test"
//! {"name": "unit tests", "cmd": "cargo test", "timeout": "5m", "cwd": "crates/core"}
//! {"name": "probe", "argv": ["curl", "-fsS", "http://127.0.0.1:8080/health"], "timeout": 2}
//! {"name": "Fast task", "sleep": 0.5}
//! {"cmd": "./deploy.sh", "env": {"DEPLOY_TOKEN": "..."}}
//! ```
//!
//! Exactly one of `cmd` (run by `sh -c`), `argv` (run directly, no shell) and
//! `sleep` (seconds; a simulated task, no process, as in the seed's example).
//! `timeout` overrides `--timeout`; `cwd` must be an existing directory;
//! `env` adds string variables to the inherited environment. Env values are
//! secrets: no message and no output ever shows them. So are the values the
//! shell would expand for `$NAME` and `${NAME}` in `cmd` or `argv` (the
//! tool's own environment's, at parse time): `echo key=${API_KEY}` prints
//! `key=<redacted>`, as the contract says of every `${ENV_VAR}`.

use crate::error::{FieldError, json_type};
use crate::input::{RawItem, parse_seconds, reject_unknown_fields};
use crate::redact::SecretSet;
use crate::units::format_duration;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The fields an input object may have.
pub(crate) const FIELDS: &[&str] = &["name", "cmd", "argv", "sleep", "timeout", "cwd", "env"];

/// What a task does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Work {
    /// A shell command line, run as `sh -c LINE`.
    Shell(String),
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
    /// A simulated task: wait this long, start no process.
    Sleep(Duration),
}

/// A fully checked task.
#[derive(Debug, Clone)]
pub(crate) struct TaskSpec {
    /// The `name`, or the command itself.
    pub(crate) name: String,
    pub(crate) work: Work,
    /// The item's own `timeout`, overriding `--timeout`.
    pub(crate) timeout: Option<Duration>,
    pub(crate) cwd: Option<PathBuf>,
    /// Added to the inherited environment.
    pub(crate) env: Vec<(String, String)>,
    /// The `env` values and the environment's values of the variables the
    /// command names, scrubbed from the captured output.
    pub(crate) secrets: SecretSet,
}

/// Parses one item: a string is a shell command, an object has the fields above.
pub(crate) fn parse_task(raw: RawItem) -> Result<TaskSpec, FieldError> {
    match raw {
        RawItem::Arg(line) | RawItem::Json(Value::String(line)) => shell_task(line),
        RawItem::Json(Value::Object(object)) => object_task(&object),
        RawItem::Json(other) => Err(FieldError::whole_item(format!(
            "a task is a shell command (a string) or an object {{\"name\", \"cmd\" | \"argv\" | \"sleep\", \"timeout\", \"cwd\", \"env\"}}, not {}",
            json_type(&other)
        ))),
    }
}

fn shell_task(line: String) -> Result<TaskSpec, FieldError> {
    check_command_text(&line, "cmd")?;
    let work = Work::Shell(line.clone());
    let mut secrets = SecretSet::default();
    add_referenced_values(&work, &mut secrets, environment_value);
    Ok(TaskSpec {
        name: line,
        work,
        timeout: None,
        cwd: None,
        env: Vec::new(),
        secrets,
    })
}

/// The names `text` refers to as `$NAME` or `${NAME}` (also `${NAME:-x}`,
/// `${#NAME}`, `${!NAME}`), NAME being `[A-Za-z_][A-Za-z0-9_]*`. Quoting
/// and escapes are not looked at: a name in single quotes counts too,
/// which only ever hides more.
pub(crate) fn env_references(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let is_start = |byte: u8| byte.is_ascii_alphabetic() || byte == b'_';
    let is_rest = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let mut names = Vec::new();
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|&byte| byte == b'$') {
        let mut start = at + offset + 1;
        if bytes.get(start) == Some(&b'{') {
            start += 1;
            if matches!(bytes.get(start), Some(b'#' | b'!')) {
                start += 1;
            }
        }
        at = start;
        if bytes.get(start).is_some_and(|&byte| is_start(byte)) {
            let end = bytes[start..]
                .iter()
                .position(|&byte| !is_rest(byte))
                .map_or(bytes.len(), |length| start + length);
            names.push(&text[start..end]);
            at = end;
        }
    }
    names
}

/// Adds to `secrets` the value `lookup` gives for every variable the
/// task's command names (see [`env_references`]).
fn add_referenced_values(
    work: &Work,
    secrets: &mut SecretSet,
    lookup: impl Fn(&str) -> Option<String>,
) {
    let texts: Vec<&str> = match work {
        Work::Shell(line) => vec![line.as_str()],
        Work::Argv(argv) => argv.iter().map(String::as_str).collect(),
        Work::Sleep(_) => Vec::new(),
    };
    for name in texts.into_iter().flat_map(env_references) {
        if let Some(value) = lookup(name) {
            secrets.add(&value);
        }
    }
}

/// A variable of the tool's own environment, which the task inherits.
fn environment_value(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn check_command_text(text: &str, field: &str) -> Result<(), FieldError> {
    if text.trim().is_empty() {
        return Err(FieldError::new(field, "the command is empty"));
    }
    if text.contains('\0') {
        return Err(FieldError::new(field, "the command contains a NUL byte"));
    }
    Ok(())
}

fn object_task(object: &Map<String, Value>) -> Result<TaskSpec, FieldError> {
    reject_unknown_fields(object, FIELDS)?;
    let given: Vec<&str> = ["cmd", "argv", "sleep"]
        .into_iter()
        .filter(|key| object.contains_key(*key))
        .collect();
    let work = match given.as_slice() {
        [] => {
            return Err(FieldError::whole_item(
                "a task needs one of `cmd` (a shell command), `argv` (a program and its arguments) or `sleep` (seconds)",
            ));
        }
        [_, second, ..] => {
            return Err(FieldError::new(
                *second,
                format!(
                    "give only one of cmd, argv and sleep (found {})",
                    given.join(" and ")
                ),
            ));
        }
        ["cmd"] => match &object["cmd"] {
            Value::String(line) => {
                check_command_text(line, "cmd")?;
                Work::Shell(line.clone())
            }
            other => return Err(FieldError::must_be("cmd", "a string", other)),
        },
        ["argv"] => Work::Argv(parse_argv(&object["argv"])?),
        _ => Work::Sleep(parse_seconds(&object["sleep"], "sleep")?),
    };
    let name = match object.get("name") {
        None => default_name(&work),
        Some(Value::String(name)) => name.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(other) => return Err(FieldError::must_be("name", "a string", other)),
    };
    let timeout = match object.get("timeout") {
        None => None,
        Some(value) => {
            let timeout = parse_seconds(value, "timeout")?;
            if timeout.is_zero() {
                return Err(FieldError::new("timeout", "must be more than 0"));
            }
            Some(timeout)
        }
    };
    let cwd = match object.get("cwd") {
        None => None,
        Some(Value::String(dir)) => Some(check_dir(dir)?),
        Some(other) => return Err(FieldError::must_be("cwd", "a string (a directory)", other)),
    };
    let (env, mut secrets) = match object.get("env") {
        None => (Vec::new(), SecretSet::default()),
        Some(Value::Object(vars)) => parse_env(vars)?,
        Some(other) => return Err(FieldError::must_be("env", "an object of strings", other)),
    };
    // The item's own `env` values are in already, whether named or not.
    add_referenced_values(&work, &mut secrets, environment_value);
    Ok(TaskSpec {
        name,
        work,
        timeout,
        cwd,
        env,
        secrets,
    })
}

fn parse_argv(value: &Value) -> Result<Vec<String>, FieldError> {
    let Value::Array(items) = value else {
        return Err(FieldError::must_be("argv", "an array of strings", value));
    };
    if items.is_empty() {
        return Err(FieldError::new(
            "argv",
            "is empty: it needs at least the program",
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(at, item)| {
            let field = format!("argv[{at}]");
            match item {
                Value::String(text) if text.contains('\0') => {
                    Err(FieldError::new(field, "contains a NUL byte"))
                }
                Value::String(text) if at == 0 && text.is_empty() => {
                    Err(FieldError::new(field, "the program name is empty"))
                }
                Value::String(text) => Ok(text.clone()),
                other => Err(FieldError::must_be(&field, "a string", other)),
            }
        })
        .collect()
}

fn check_dir(dir: &str) -> Result<PathBuf, FieldError> {
    let path = PathBuf::from(dir);
    match std::fs::metadata(&path) {
        Ok(metadata) if metadata.is_dir() => Ok(path),
        Ok(_) => Err(FieldError::new(
            "cwd",
            format!("`{dir}` is not a directory"),
        )),
        Err(error) => Err(FieldError::new(
            "cwd",
            format!("directory `{dir}` cannot be used: {error}"),
        )),
    }
}

fn parse_env(vars: &Map<String, Value>) -> Result<(Vec<(String, String)>, SecretSet), FieldError> {
    let mut env = Vec::with_capacity(vars.len());
    let mut secrets = SecretSet::default();
    for (name, value) in vars {
        let field = format!("env.{name}");
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(FieldError::new(
                field,
                "is not a variable name (empty, or contains `=` or NUL)",
            ));
        }
        // Messages name the variable, never its value.
        let Value::String(text) = value else {
            return Err(FieldError::must_be(field, "a string", value));
        };
        if text.contains('\0') {
            return Err(FieldError::new(field, "the value contains a NUL byte"));
        }
        secrets.add(text);
        env.push((name.clone(), text.clone()));
    }
    Ok((env, secrets))
}

/// The name of a task that has none: the command as written.
fn default_name(work: &Work) -> String {
    match work {
        Work::Shell(line) => line.clone(),
        Work::Argv(argv) => argv.join(" "),
        Work::Sleep(duration) => format!("sleep {}", format_duration(*duration)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<TaskSpec, FieldError> {
        parse_task(RawItem::Json(value))
    }

    #[test]
    fn the_seeds_tasks_parse() {
        let fast = parse(json!({"name": "Fast task", "sleep": 0.5})).unwrap();
        assert_eq!(fast.name, "Fast task");
        assert_eq!(fast.work, Work::Sleep(Duration::from_millis(500)));
        let slow = parse(json!({"name": "Slow task", "sleep": "5s"})).unwrap();
        assert_eq!(slow.work, Work::Sleep(Duration::from_secs(5)));
    }

    #[test]
    fn strings_are_shell_commands_named_after_themselves() {
        let task = parse_task(RawItem::Arg("make test".into())).unwrap();
        assert_eq!(task.name, "make test");
        assert_eq!(task.work, Work::Shell("make test".into()));
        let task = parse(json!("ls -l")).unwrap();
        assert_eq!(task.work, Work::Shell("ls -l".into()));
        let task = parse(json!({"argv": ["echo", "a b"], "timeout": "250ms"})).unwrap();
        assert_eq!(task.name, "echo a b");
        assert_eq!(task.timeout, Some(Duration::from_millis(250)));
    }

    #[test]
    fn env_values_are_kept_as_secrets_and_never_in_messages() {
        let task = parse(json!({"cmd": "true", "env": {"TOKEN": "hunter2-s3cret"}})).unwrap();
        assert_eq!(task.env, vec![("TOKEN".into(), "hunter2-s3cret".into())]);
        assert_eq!(
            task.secrets.redactor().scrub_str("got hunter2-s3cret"),
            "got <redacted>"
        );
        let error = parse(json!({"cmd": "true", "env": {"A=B": "hunter2-s3cret"}})).unwrap_err();
        assert!(!error.message.contains("hunter2"), "{}", error.message);
    }

    #[test]
    fn variable_references_are_found_in_every_shell_form() {
        assert_eq!(
            env_references("echo key=${API_KEY} $HOME/x ${T:-d} ${#LEN}${!REF} \"$_u1\""),
            ["API_KEY", "HOME", "T", "LEN", "REF", "_u1"]
        );
        for none in [
            "echo $$ $1 $? $@ ${1} $",
            "no dollar",
            "${",
            "$-x",
            "cost: 5$",
        ] {
            assert!(env_references(none).is_empty(), "{none}");
        }
        assert_eq!(env_references("$A$B${C}d"), ["A", "B", "C"]);
        assert_eq!(env_references("caf\u{e9}=$X\u{e9}"), ["X"]);
    }

    #[test]
    fn values_of_named_variables_become_secrets() {
        let lookup = |name: &str| match name {
            "API_KEY" => Some("sekrit123".to_string()),
            "SHORT" => Some("abc".to_string()),
            _ => None,
        };
        let mut secrets = SecretSet::default();
        let work = Work::Shell("echo ${API_KEY} $SHORT $UNSET".into());
        add_referenced_values(&work, &mut secrets, lookup);
        let redactor = secrets.redactor();
        assert_eq!(redactor.scrub_str("key=sekrit123"), "key=<redacted>");
        // Values under 4 bytes are not searched for (SecretSet::add).
        assert_eq!(redactor.scrub_str("abc"), "abc");
        let mut secrets = SecretSet::default();
        let work = Work::Argv(vec!["sh".into(), "-c".into(), "echo $API_KEY".into()]);
        add_referenced_values(&work, &mut secrets, lookup);
        assert!(!secrets.is_empty(), "argv strings are searched too");
        let mut secrets = SecretSet::default();
        add_referenced_values(&Work::Shell("echo API_KEY".into()), &mut secrets, lookup);
        assert!(secrets.is_empty(), "only $NAME and ${{NAME}} count");
    }

    #[test]
    fn bad_items_name_their_field() {
        let cases = [
            (json!({"name": "x"}), None),
            (json!({"cmd": "a", "argv": ["b"]}), Some("argv")),
            (json!({"cmd": "a", "sleep": 1}), Some("sleep")),
            (json!({"cmd": ""}), Some("cmd")),
            (json!({"cmd": 5}), Some("cmd")),
            (json!({"argv": []}), Some("argv")),
            (json!({"argv": ["ls", 3]}), Some("argv[1]")),
            (json!({"sleep": -1}), Some("sleep")),
            (json!({"cmd": "a", "timeout": 0}), Some("timeout")),
            (json!({"cmd": "a", "timeout": "soon"}), Some("timeout")),
            (json!({"cmd": "a", "cwd": "/no/such/dir/here"}), Some("cwd")),
            (json!({"cmd": "a", "cwd": "Cargo.toml"}), Some("cwd")),
            (json!({"cmd": "a", "env": {"X": 1}}), Some("env.X")),
            (json!({"cmd": "a", "env": ["X=1"]}), Some("env")),
            (json!({"cmd": "a", "comand": "b"}), Some("comand")),
            (json!(42), None),
        ];
        for (item, field) in cases {
            let error = parse(item.clone()).unwrap_err();
            assert_eq!(error.field.as_deref(), field, "{item}: {}", error.message);
        }
        assert!(parse_task(RawItem::Arg("   ".into())).is_err());
    }

    #[test]
    fn unknown_fields_are_named_as_every_tool_names_them() {
        let error = parse(json!({"cmd": "a", "comand": "b"})).unwrap_err();
        assert_eq!(
            error.message,
            "unknown field `comand` (expected one of: name, cmd, argv, sleep, timeout, cwd, env)"
        );
    }
}
