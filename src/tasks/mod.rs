//! `async_timeout`: many commands at once, each under a timeout that really
//! ends it, one JSON result each.
//!
//! The seed's `asyncio.wait_for(task, timeout=2.0)` per named task, made into
//! what an agent needs for tests, builds and probes that might hang: the
//! tasks run concurrently (the seed awaits them one by one), every one is
//! reported, and a timeout kills the command's whole process group (SIGTERM,
//! then SIGKILL after `--grace`), including what it started in the
//! background or what escaped with `setsid`.
//!
//! - [`spec`]: input items → [`spec::TaskSpec`] (`cmd`, `argv` or `sleep`)
//! - [`process`]: one process, from spawn to its last byte of output
//! - [`reaper`]: the subreaper, the task registry, and ending leftovers
//! - [`capture`]: head + tail capture of stdout and stderr
//! - [`error`]: the error kinds
//! - [`args`]: the command line

pub(crate) mod args;
pub(crate) mod capture;
pub(crate) mod error;
pub(crate) mod process;
pub(crate) mod reaper;
pub(crate) mod spec;

pub(crate) use error::TaskError;

use crate::app::{Identity, NotRun, Tool};
use crate::error::FieldError;
use crate::input::{ParseItem, RawItem};
use crate::redact::Redactor;
use crate::runner::Job;
use crate::stop::{StopToken, on_second_signal};
use crate::wire::Finished;
use args::TimeoutCli;
use error::{KillSignal, signal_name};
use process::{Ending, Limits, ProcessOutcome, run_process};
use reaper::Reaper;
use serde::Serialize;
use spec::{TaskSpec, Work};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;

/// The tool's name, as `"tool"` in the JSON.
pub(crate) const NAME: &str = "async_timeout";

/// One task's result fields (besides `index`, `status`, `elapsed_ms`, `error`).
#[derive(Debug, Default, Serialize)]
pub(crate) struct TaskReport {
    /// The item's `name`, or the command as written.
    pub(crate) name: String,
    /// The exit status; absent when a signal ended the process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) exit_code: Option<i32>,
    /// The signal that ended the process, by name (`"SIGKILL"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) signal: Option<String>,
    /// `TERM` or `KILL`: the last signal the tool sent to the task's group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) killed_with: Option<KillSignal>,
    /// Processes still alive after the command ended (background jobs,
    /// escapees) that the tool ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) leftovers: Option<u32>,
    /// Bytes the task wrote to stdout, kept or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stdout_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stderr_bytes: Option<u64>,
    /// Present (true) when stdout or stderr was cut to `--max-output`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) truncated: Option<bool>,
    /// Captured stdout (UTF-8, lossy); head and tail when truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stdout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stderr: Option<String>,
}

impl crate::table::TableRow for TaskReport {
    fn row(&self) -> crate::table::Row {
        let result = match (&self.exit_code, &self.signal) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(signal)) => signal.clone(),
            (None, None) => String::new(),
        };
        crate::table::Row {
            result,
            item: self.name.clone(),
            below: Vec::new(),
        }
    }
}

/// The summary fields `async_timeout` adds.
#[derive(Debug, Default, Serialize)]
pub(crate) struct TaskTotals {
    /// Tasks whose process group the tool had to signal (timeout or stop).
    pub(crate) killed: u64,
    /// Leftover processes ended after their task's command ended.
    pub(crate) leftovers: u64,
}

/// The `async_timeout` tool: its limits and the run's process supervisor.
pub(crate) struct TasksTool {
    limits: Limits,
    reaper: Arc<Reaper>,
}

impl TasksTool {
    fn process_finished(
        &self,
        spec: &TaskSpec,
        redactor: &Redactor,
        mut report: TaskReport,
        outcome: ProcessOutcome,
    ) -> Finished<TaskReport> {
        report.stdout_bytes = Some(outcome.stdout.total());
        report.stderr_bytes = Some(outcome.stderr.total());
        report.truncated =
            (outcome.stdout.truncated() || outcome.stderr.truncated()).then_some(true);
        report.stdout = Some(outcome.stdout.render(redactor));
        report.stderr = Some(outcome.stderr.render(redactor));
        report.killed_with = outcome.killed_with;
        report.leftovers = (outcome.leftovers > 0).then_some(outcome.leftovers);
        let code = outcome.status.and_then(|status| status.code());
        let signal = outcome.status.and_then(|status| status.signal());
        report.exit_code = code;
        report.signal = signal.map(|signal| signal_name(signal).to_string());
        let timeout = spec.timeout.unwrap_or(self.limits.timeout);
        let failure = match (outcome.ending, code, signal) {
            (Ending::Stopped(reason), _, _) => return Finished::stopped(report, reason, true),
            (Ending::TimedOut, _, _) => TaskError::Timeout {
                after: timeout,
                ending: outcome.killed_with,
                grace: self.limits.grace,
            },
            (Ending::Exited, Some(0), _) => return Finished::ok(report),
            (Ending::Exited, Some(code), _) => TaskError::ExitStatus(code),
            (Ending::Exited, None, Some(signal)) => {
                TaskError::Signal(signal_name(signal).to_string())
            }
            (Ending::Exited, None, None) => {
                return Finished::internal(report, "cannot wait for the process");
            }
        };
        Finished::failed(report, &failure)
    }
}

impl ParseItem for TasksTool {
    type Item = TaskSpec;

    fn parse_item(&self, raw: RawItem) -> Result<TaskSpec, FieldError> {
        spec::parse_task(raw)
    }
}

impl Job for TasksTool {
    type Spec = TaskSpec;
    type Report = TaskReport;

    fn identity(&self, spec: &TaskSpec) -> TaskReport {
        TaskReport {
            name: spec.name.clone(),
            ..TaskReport::default()
        }
    }

    async fn run(self: Arc<Self>, spec: TaskSpec, stop: StopToken) -> Finished<TaskReport> {
        let report = self.identity(&spec);
        let timeout = spec.timeout.unwrap_or(self.limits.timeout);
        if let Work::Sleep(duration) = spec.work {
            let sleeping = tokio::time::timeout(timeout, tokio::time::sleep(duration));
            return match stop.race(sleeping).await {
                Err(reason) => Finished::stopped(report, reason, true),
                Ok(Ok(())) => Finished::ok(report),
                Ok(Err(_)) => {
                    let failure = TaskError::Timeout {
                        after: timeout,
                        ending: None,
                        grace: self.limits.grace,
                    };
                    Finished::failed(report, &failure)
                }
            };
        }
        let redactor = spec.secrets.redactor();
        // A secret the --max-output cut splits is kept whole, then scrubbed.
        let look = redactor.longest().saturating_sub(1);
        match run_process(&spec, timeout, self.limits, look, &self.reaper, &stop).await {
            Ok(outcome) => self.process_finished(&spec, &redactor, report, outcome),
            Err(failure) => Finished::failed(report, &failure),
        }
    }
}

crate::app::tool_cli!(TimeoutCli, commands);

impl Tool for TasksTool {
    const NAME: &'static str = NAME;
    type Cli = TimeoutCli;
    type Totals = TaskTotals;
    type Expand = Identity;

    /// Becomes a child subreaper. A second Ctrl-C ends the grace a first
    /// one started (see [`crate::stop::watch_signals`]): every task's
    /// processes get SIGKILL at once, then each task reports itself.
    fn from_cli(cli: &TimeoutCli) -> Result<Self, NotRun> {
        let reaper = Arc::new(Reaper::new());
        let hurried = Arc::downgrade(&reaper);
        on_second_signal(move || {
            if let Some(reaper) = hurried.upgrade() {
                reaper.kill_all_now();
            }
        });
        Ok(TasksTool {
            limits: Limits {
                timeout: cli.timeout,
                grace: cli.grace,
                max_output: cli.max_output,
            },
            reaper,
        })
    }

    fn tally(&self, totals: &mut TaskTotals, finished: &Finished<TaskReport>) {
        if finished.report.killed_with.is_some() {
            totals.killed += 1;
        }
        totals.leftovers += u64::from(finished.report.leftovers.unwrap_or(0));
    }

    /// A last sweep for orphans no task could claim, once every task has
    /// ended; after a second signal, without a grace.
    async fn after_run(&self, stop: &StopToken) {
        let grace = if stop.is_hurried() {
            Duration::ZERO
        } else {
            self.limits.grace
        };
        self.reaper.sweep_all(grace).await;
    }
}
