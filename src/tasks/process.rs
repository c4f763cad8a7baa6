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
use std::time::Duration;
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long the pipes may stay open once the task's processes are gone.
const PIPE_DRAIN: Duration = Duration::from_millis(200);

/// The tool-wide settings a process runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub grace: Duration,
    pub max_output: u64,
}

/// What ended the wait for the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited,
    TimedOut,
    Stopped(StopReason),
}

/// Everything known about a finished process.
#[derive(Debug)]
pub struct ProcessOutcome {
    pub ending: Ending,
    /// `None` only when waiting for the process failed (it is then gone).
    pub status: Option<ExitStatus>,
    pub killed_with: Option<KillSignal>,
    pub stdout: Capture,
    pub stderr: Capture,
    /// Processes still there after the leader ended, which the tool ended.
    pub leftovers: u32,
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

fn build_command(spec: &TaskSpec) -> (Command, String) {
    let (mut command, program) = match &spec.work {
        Work::Argv(argv) => {
            let mut command = Command::new(&argv[0]);
            command.args(&argv[1..]);
            (command, argv[0].clone())
        }
        Work::Shell(line) => {
            let mut command = Command::new("/bin/sh");
            command.arg("-c").arg(line);
            (command, "/bin/sh".to_string())
        }
        Work::Sleep(_) => unreachable!("sleep tasks start no process"),
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
    (command, program)
}

/// Runs a `cmd` or `argv` task under `timeout`.
pub async fn run_process(
    spec: &TaskSpec,
    timeout: Duration,
    limits: Limits,
    reaper: &Reaper,
    stop: &StopToken,
) -> Result<ProcessOutcome, TaskError> {
    let (mut command, program) = build_command(spec);
    let Spawned {
        mut child,
        pid,
        serial,
    } = reaper
        .spawn(&mut command)
        .map_err(|error| TaskError::SpawnFailed {
            program,
            detail: error.to_string(),
        })?;
    let mut guard = GroupGuard {
        pgid: pid,
        armed: true,
    };
    let close = CancellationToken::new();
    let stdout = child
        .stdout
        .take()
        .map(|pipe| tokio::spawn(read_stream(pipe, limits.max_output, close.clone())));
    let stderr = child
        .stderr
        .take()
        .map(|pipe| tokio::spawn(read_stream(pipe, limits.max_output, close.clone())));

    let ending = tokio::select! {
        biased;
        status = child.wait() => (Ending::Exited, status.ok()),
        _ = tokio::time::sleep(timeout) => (Ending::TimedOut, None),
        reason = stop.stopped() => (Ending::Stopped(reason), None),
    };
    let (ending, status, killed_with, term_until) = match ending {
        (Ending::Exited, status) => (Ending::Exited, status, None, Instant::now() + limits.grace),
        (ending, _) => {
            let term_sent = Instant::now();
            signal_group(pid, libc::SIGTERM);
            signal_group(pid, libc::SIGCONT);
            match tokio::time::timeout(limits.grace, child.wait()).await {
                Ok(status) => (
                    ending,
                    status.ok(),
                    Some(KillSignal::Term),
                    term_sent + limits.grace,
                ),
                Err(_) => {
                    signal_group(pid, libc::SIGKILL);
                    (ending, child.wait().await.ok(), Some(KillSignal::Kill), term_sent)
                }
            }
        }
    };
    reaper.leader_reaped(pid, serial);
    guard.armed = false;
    let leftovers = reaper.clean_up_task(pid, term_until).await;

    let closer = {
        let close = close.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PIPE_DRAIN).await;
            close.cancel();
        })
    };
    let stdout = collect(stdout, limits.max_output).await;
    let stderr = collect(stderr, limits.max_output).await;
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

async fn collect(reader: Option<JoinHandle<Capture>>, cap: u64) -> Capture {
    match reader {
        Some(reader) => reader.await.unwrap_or_else(|_| Capture::new(cap)),
        None => Capture::new(cap),
    }
}
