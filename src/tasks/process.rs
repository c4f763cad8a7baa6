//! Running one task's process to its end, whatever it does.
//!
//! The process starts in its own process group, stdin from `/dev/null`,
//! stdout and stderr piped into bounded captures read concurrently. Then the
//! first of three things ends the wait: the process exits, its timeout
//! passes, or the run stops (`--deadline`, `--fail-fast`, `--first`,
//! SIGINT/SIGTERM). In the last two cases the whole group gets SIGTERM (and
//! SIGCONT, in case it is stopped), and SIGKILL if the leader is still there
//! after `--grace`. Either way, once the leader is gone, what is left of the
//! task is ended too (see [`super::reaper`]), and the pipes get a short,
//! bounded time to deliver their last bytes, since an escaped descendant
//! may hold them open forever.

use super::capture::{Capture, read_stream};
use super::error::{KillSignal, TaskError};
use super::reaper::{Reaper, Spawned, signal_group};
use super::spec::{TaskSpec, Work};
use crate::stop::{StopReason, StopToken};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long the pipes may stay open once the task's processes are gone.
const PIPE_DRAIN: Duration = Duration::from_millis(200);

/// The tool-wide settings a process runs under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) grace: Duration,
    pub(crate) max_output: u64,
}

/// What ended the wait for the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Exited,
    TimedOut,
    Stopped(StopReason),
}

/// Everything known about a finished process.
#[derive(Debug)]
pub(crate) struct ProcessOutcome {
    pub(crate) ending: Ending,
    /// `None` only when waiting for the process failed (it is then gone).
    pub(crate) status: Option<ExitStatus>,
    pub(crate) killed_with: Option<KillSignal>,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
    /// Processes still there after the leader ended, which the tool ended.
    pub(crate) leftovers: u32,
}

/// Kills the group with SIGKILL if the task is dropped while its leader
/// runs (a panic, or the runtime shutting down): never leave it behind.
struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pgid, libc::SIGKILL);
        }
    }
}

/// Builtins and reserved words of `sh` (dash, and bash as `sh`): a command
/// line starting with one of these needs the shell.
const SHELL_WORDS: &[&str] = &[
    ".",
    ":",
    "[",
    "alias",
    "bg",
    "break",
    "builtin",
    "caller",
    "case",
    "cd",
    "chdir",
    "command",
    "compgen",
    "complete",
    "continue",
    "coproc",
    "declare",
    "dirs",
    "disown",
    "do",
    "done",
    "echo",
    "elif",
    "else",
    "enable",
    "esac",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "fi",
    "for",
    "function",
    "getopts",
    "hash",
    "help",
    "history",
    "if",
    "in",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "select",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "then",
    "time",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "until",
    "wait",
    "while",
];

/// The words of a command line that `sh -c` would run as one plain program
/// call, or `None` when the shell has work to do (quotes, variables, globs,
/// redirections, pipes, builtins, assignments...). Such lines are run
/// without the shell, as GNU make does: one process start instead of two,
/// which is most of the cost of a short command.
pub(crate) fn plain_words(line: &str) -> Option<Vec<&str>> {
    let words: Vec<&str> = line
        .split([' ', '\t'])
        .filter(|word| !word.is_empty())
        .collect();
    let first = *words.first()?;
    if first.contains('=') || SHELL_WORDS.contains(&first) {
        return None;
    }
    let plain = |byte: u8| byte.is_ascii_alphanumeric() || b"-_./,:=+@%".contains(&byte);
    words
        .iter()
        .all(|word| word.bytes().all(plain))
        .then_some(words)
}

/// How a task's process is started.
enum Launch<'a> {
    Program(&'a str, &'a [String]),
    Words(Vec<&'a str>),
    Shell(&'a str),
}

fn build_command(spec: &TaskSpec, launch: &Launch<'_>) -> Command {
    let mut command = match launch {
        Launch::Program(program, args) => {
            let mut command = Command::new(program);
            command.args(*args);
            command
        }
        Launch::Words(words) => {
            let mut command = Command::new(words[0]);
            command.args(&words[1..]);
            command
        }
        Launch::Shell(line) => {
            let mut command = Command::new("/bin/sh");
            command.arg("-c").arg(line);
            command
        }
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    for (name, value) in &spec.env {
        command.env(name, value);
    }
    command
}

/// Starts the task's process. A plain command line that cannot be started
/// directly goes to `sh -c` after all, so the result is the shell's own
/// (exit 127 and "not found" for a missing program, scripts without `#!`);
/// not when no process could be started at all (a full process table, no
/// memory): the shell would fail the same way.
async fn start(spec: &TaskSpec, reaper: &Arc<Reaper>) -> Result<Spawned, TaskError> {
    let launch = match &spec.work {
        Work::Argv(argv) => Launch::Program(&argv[0], &argv[1..]),
        Work::Shell(line) => match plain_words(line) {
            Some(words) => {
                let program = words[0].to_string();
                match reaper
                    .spawn(build_command(spec, &Launch::Words(words)))
                    .await
                {
                    Ok(spawned) => return Ok(spawned),
                    Err(error) if no_process_at_all(&error) => {
                        return Err(TaskError::SpawnFailed {
                            program,
                            detail: error.to_string(),
                        });
                    }
                    Err(_) => Launch::Shell(line),
                }
            }
            None => Launch::Shell(line),
        },
        Work::Sleep(_) => {
            return Err(TaskError::SpawnFailed {
                program: "sleep".into(),
                detail: "a sleep task starts no process".into(),
            });
        }
    };
    let program = match &launch {
        Launch::Program(program, _) => program.to_string(),
        _ => "/bin/sh".to_string(),
    };
    reaper
        .spawn(build_command(spec, &launch))
        .await
        .map_err(|error| TaskError::SpawnFailed {
            program,
            detail: error.to_string(),
        })
}

/// Whether a start failed for want of a process (`EAGAIN`: the process
/// table or the user's limit is full; `ENOMEM`), not for this program.
fn no_process_at_all(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EAGAIN | libc::ENOMEM))
}

/// Runs a `cmd` or `argv` task under `timeout`.
///
/// `look` is how many bytes the captures keep around their cuts so that a
/// secret the cut splits can be scrubbed whole ([`Redactor::longest`] − 1).
///
/// [`Redactor::longest`]: crate::redact::Redactor::longest
pub(crate) async fn run_process(
    spec: &TaskSpec,
    timeout: Duration,
    limits: Limits,
    look: usize,
    reaper: &Arc<Reaper>,
    stop: &StopToken,
) -> Result<ProcessOutcome, TaskError> {
    let Spawned {
        mut child,
        pid,
        serial,
    } = start(spec, reaper).await?;
    let mut guard = GroupGuard {
        pgid: pid,
        armed: true,
    };
    let close = CancellationToken::new();
    let blank = Capture::new(limits.max_output, look);
    let stdout = child
        .stdout
        .take()
        .map(|pipe| tokio::spawn(read_stream(pipe, blank.clone(), close.clone())));
    let stderr = child
        .stderr
        .take()
        .map(|pipe| tokio::spawn(read_stream(pipe, blank.clone(), close.clone())));

    let ending = tokio::select! {
        biased;
        status = child.wait() => (Ending::Exited, status.ok()),
        _ = tokio::time::sleep(timeout) => (Ending::TimedOut, None),
        reason = stop.stopped() => (Ending::Stopped(reason), None),
    };
    let (ending, status, killed_with, term_until) = match ending {
        (Ending::Exited, status) => {
            let grace = if stop.is_hurried() {
                Duration::ZERO
            } else {
                limits.grace
            };
            (Ending::Exited, status, None, Instant::now() + grace)
        }
        (ending, _) => {
            let term_sent = Instant::now();
            signal_group(pid, libc::SIGTERM);
            signal_group(pid, libc::SIGCONT);
            // A second signal ends the grace (its hook sent SIGKILL already).
            let waited = tokio::select! {
                biased;
                () = stop.hurried() => None,
                status = tokio::time::timeout(limits.grace, child.wait()) => status.ok(),
            };
            match waited {
                Some(status) => (
                    ending,
                    status.ok(),
                    Some(KillSignal::Term),
                    term_sent + limits.grace,
                ),
                None => {
                    signal_group(pid, libc::SIGKILL);
                    (
                        ending,
                        child.wait().await.ok(),
                        Some(KillSignal::Kill),
                        term_sent,
                    )
                }
            }
        }
    };
    reaper.leader_reaped(pid);
    guard.armed = false;
    let leftovers = reaper
        .clean_up_task(pid, serial, term_until, killed_with.is_some())
        .await;

    let closer = {
        let close = close.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PIPE_DRAIN).await;
            close.cancel();
        })
    };
    let stdout = collect(stdout, &blank).await;
    let stderr = collect(stderr, &blank).await;
    closer.abort();
    Ok(ProcessOutcome {
        ending,
        status,
        killed_with,
        stdout,
        stderr,
        leftovers,
    })
}

/// The capture a reader filled, or `blank` (an empty one) without a reader.
async fn collect(reader: Option<JoinHandle<Capture>>, blank: &Capture) -> Capture {
    match reader {
        Some(reader) => reader.await.unwrap_or_else(|_| blank.clone()),
        None => blank.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_program_calls_skip_the_shell() {
        assert_eq!(plain_words("sleep 0.05"), Some(vec!["sleep", "0.05"]));
        assert_eq!(
            plain_words("  cargo test -p core --lib\tx=1 "),
            Some(vec!["cargo", "test", "-p", "core", "--lib", "x=1"])
        );
        assert_eq!(plain_words("./run.sh"), Some(vec!["./run.sh"]));
        for shell_work in [
            "",
            "echo hi",
            "exit 3",
            "FOO=1 make",
            "ls *.rs",
            "cat a > b",
            "a | b",
            "a && b",
            "a; b",
            "echo $HOME",
            "ls ~",
            "grep 'x y' f",
            "sleep 1 &",
            "cd /tmp",
            "true",
            "ls\nrm x",
            "caf\u{e9}",
        ] {
            assert_eq!(plain_words(shell_work), None, "{shell_work:?}");
        }
    }
}
