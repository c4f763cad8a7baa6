//! `async_timeout` end to end: the real binary running real processes.
//!
//! "No process left behind" is checked by a unique marker: every long-lived
//! process a test starts is `sleep <token>`, where the token is a number no
//! other process carries, and `/proc/*/cmdline` is searched for it. A
//! [`Marker`] kills whatever still carries its token when the test ends, so
//! even a failing test leaves nothing behind.

mod common;

use common::wire::UsageError;
use common::wire_tasks::{TaskResult, TasksDoc, TasksLine};
use common::{Output, tool, wait_until, write_file};
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn timeout_tool() -> common::Tool {
    tool("async_timeout").args(["--no-progress"])
}

fn statuses(doc: &TasksDoc) -> Vec<&str> {
    doc.results
        .iter()
        .map(|result| result.status.as_str())
        .collect()
}

/// A unique `sleep` argument, and the processes that carry it.
struct Marker {
    token: String,
}

impl Marker {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| since.subsec_nanos())
            .unwrap_or(0);
        // 800-899 seconds: a process found alive clearly is not a short sleep.
        let token = format!(
            "{}.{}{:09}",
            800 + NEXT.fetch_add(1, Ordering::Relaxed) % 100,
            std::process::id(),
            nanos
        );
        Marker { token }
    }

    /// A command that sleeps "forever" and carries the token.
    fn sleep(&self) -> String {
        format!("sleep {}", self.token)
    }

    /// Live (non-zombie) processes with the token as one of their arguments.
    fn alive(&self) -> Vec<i32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                    return false;
                };
                let carries = cmdline
                    .split(|&byte| byte == 0)
                    .any(|arg| arg == self.token.as_bytes());
                let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|stat| {
                        let after = stat.rfind(')')?;
                        stat[after + 1..]
                            .split_whitespace()
                            .next()
                            .map(|s| s == "Z")
                    })
                    .unwrap_or(true);
                carries && !zombie
            })
            .collect()
    }

    fn wait_alive(&self) {
        wait_until(
            Duration::from_secs(20),
            "the marked process to start",
            || !self.alive().is_empty(),
        );
    }

    fn assert_gone(&self) {
        let alive = self.alive();
        assert!(
            alive.is_empty(),
            "processes {alive:?} carrying {} survived",
            self.token
        );
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        for pid in self.alive() {
            // SAFETY: kill(2) has no memory effects.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn assert_no_nulls(out: &Output) {
    assert!(
        !out.stdout.contains(":null"),
        "fields that do not apply are left out, never null:\n{}",
        out.stdout
    );
}

#[test]
fn the_seeds_example_fast_ok_slow_timeout() {
    let out = timeout_tool()
        .args(["--timeout", "2s", "--input", "-"])
        .stdin(
            json!([{"name": "Fast task", "sleep": 0.5}, {"name": "Slow task", "sleep": 5}])
                .to_string(),
        )
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_no_nulls(&out);
    let doc: TasksDoc = out.json();
    assert_eq!(doc.tool, "async_timeout");
    let names: Vec<_> = doc.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Fast task", "Slow task"]);
    assert_eq!(statuses(&doc), ["ok", "timeout"]);
    let slow = &doc.results[1];
    assert_eq!(slow.kind(), "timeout");
    assert!(
        slow.error.as_ref().unwrap().message.contains("2s"),
        "{slow:?}"
    );
    // A simulated task starts no process: no exit code, no output fields.
    assert!(slow.exit_code.is_none() && slow.stdout.is_none() && slow.killed_with.is_none());
    // Unlike the seed's loop, both ran at once.
    assert_eq!(doc.summary.max_in_flight, 2);
    assert_eq!((doc.summary.ok, doc.summary.timeout), (1, 1));
}

#[test]
fn exit_codes_signals_and_output() {
    let items = [
        json!({"name": "talks", "cmd": "echo out; echo err >&2"}),
        json!({"cmd": "exit 3"}),
        json!({"cmd": "kill -SEGV $$"}),
        json!({"argv": ["sh", "-c", "exit 7"]}),
    ];
    let out = timeout_tool()
        .args(["--input", "-"])
        .stdin(items.map(|item| item.to_string()).join("\n"))
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_no_nulls(&out);
    let doc: TasksDoc = out.json();
    assert_eq!(statuses(&doc), ["ok", "error", "error", "error"]);

    let talks = &doc.results[0];
    assert_eq!(talks.name, "talks");
    assert_eq!(talks.exit_code, Some(0));
    assert_eq!(talks.stdout.as_deref(), Some("out\n"));
    assert_eq!(talks.stderr.as_deref(), Some("err\n"));
    assert_eq!((talks.stdout_bytes, talks.stderr_bytes), (Some(4), Some(4)));
    assert!(talks.truncated.is_none() && talks.error.is_none());

    let three = &doc.results[1];
    assert_eq!(three.name, "exit 3", "the name defaults to the command");
    assert_eq!((three.kind(), three.exit_code), ("exit_status", Some(3)));

    let segv = &doc.results[2];
    assert_eq!(segv.kind(), "signal");
    assert_eq!(segv.signal.as_deref(), Some("SIGSEGV"));
    assert!(segv.exit_code.is_none(), "no exit code after a signal");
    assert!(segv.killed_with.is_none(), "the tool did not send it");

    let argv = &doc.results[3];
    assert_eq!(argv.name, "sh -c exit 7");
    assert_eq!(argv.exit_code, Some(7));
    assert_eq!(doc.summary.killed, 0);
}

#[test]
fn missing_commands_fail_as_the_shell_says_or_as_spawn_failed() {
    let out = timeout_tool()
        .args(["--input", "-"])
        .stdin(
            [
                json!({"argv": ["/nonexistent/async-timeout-test-prog"]}),
                json!("async-timeout-no-such-command --flag"),
            ]
            .map(|item| item.to_string())
            .join("\n"),
        )
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc: TasksDoc = out.json();
    let argv = &doc.results[0];
    assert_eq!(argv.kind(), "spawn_failed");
    assert!(argv.exit_code.is_none() && argv.stdout.is_none());
    assert!(
        argv.error
            .as_ref()
            .unwrap()
            .message
            .contains("/nonexistent"),
        "{argv:?}"
    );
    // A command line goes through the shell: exit 127 and its message.
    let shell = &doc.results[1];
    assert_eq!((shell.kind(), shell.exit_code), ("exit_status", Some(127)));
    assert!(
        shell.stderr.as_deref().unwrap().contains("not found"),
        "{shell:?}"
    );
}

#[test]
fn a_timeout_kills_the_group_and_keeps_the_output_so_far() {
    let marker = Marker::new();
    let out = timeout_tool()
        .args(["--timeout", "300ms", "--grace", "30s"])
        .arg(format!("echo before; {}", marker.sleep()))
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    marker.assert_gone();
    let doc: TasksDoc = out.json();
    let result = &doc.results[0];
    assert_eq!(result.status, "timeout");
    assert_eq!(result.kind(), "timeout");
    assert_eq!(result.killed_with.as_deref(), Some("TERM"));
    assert_eq!(result.signal.as_deref(), Some("SIGTERM"));
    assert!(result.exit_code.is_none());
    assert_eq!(result.stdout.as_deref(), Some("before\n"));
    assert_eq!(doc.summary.killed, 1);
    // SIGTERM was enough: nobody waited for the 30 s grace.
    assert!(out.elapsed < Duration::from_secs(15), "{:?}", out.elapsed);
}

#[test]
fn a_grandchild_dies_with_its_task() {
    let timed_out = Marker::new();
    let finished = Marker::new();
    let out = timeout_tool()
        .args(["--timeout", "500ms", "--grace", "5s", "--input", "-"])
        .stdin(
            [
                // The task's shell starts a shell that starts the sleep.
                json!({"name": "nested", "cmd": format!("sh -c '{} & wait'", timed_out.sleep())}),
                // Exits at once, leaving a background job holding its stdout.
                json!({"name": "background", "cmd": format!("{} & echo started", finished.sleep())}),
            ]
            .map(|item| item.to_string())
            .join("\n"),
        )
        .run();
    timed_out.assert_gone();
    finished.assert_gone();
    let doc: TasksDoc = out.json();
    assert_eq!(statuses(&doc), ["timeout", "ok"]);
    assert_eq!(doc.results[0].killed_with.as_deref(), Some("TERM"));
    let background = &doc.results[1];
    assert_eq!(background.stdout.as_deref(), Some("started\n"));
    assert_eq!(background.leftovers, Some(1), "{background:?}");
    assert!(background.killed_with.is_none());
    assert_eq!(doc.summary.leftovers, 1);
}

#[test]
fn a_task_that_ignores_sigterm_gets_sigkill_after_the_grace() {
    let marker = Marker::new();
    let out = timeout_tool()
        .args(["--timeout", "200ms", "--grace", "300ms"])
        .arg(format!("trap '' TERM; {}", marker.sleep()))
        .run();
    marker.assert_gone();
    let doc: TasksDoc = out.json();
    let result = &doc.results[0];
    assert_eq!(result.status, "timeout");
    assert_eq!(result.killed_with.as_deref(), Some("KILL"));
    assert_eq!(result.signal.as_deref(), Some("SIGKILL"));
    assert!(
        result.error.as_ref().unwrap().message.contains("SIGKILL"),
        "{result:?}"
    );
    // The grace was honoured before SIGKILL.
    assert!(result.elapsed_ms >= 500, "{result:?}");
}

#[test]
fn setsid_escapees_are_ended_and_never_hang_the_run() {
    let marked = Marker::new();
    let unmarked = Marker::new();
    let timed_out = Marker::new();
    let holder = Marker::new();
    let out = timeout_tool()
        .args(["--timeout", "1s", "--grace", "300ms", "--input", "-"])
        .stdin(
            [
                // Leaves its session at once; holds the task's stdout.
                json!({"name": "escapee", "cmd": format!("setsid {} & echo x", marked.sleep())}),
                // Also clears its environment, so no marker leads to its task:
                // the sweep at the end of the run ends it.
                json!({"name": "hidden", "cmd": format!("setsid env -i {} & sleep 0.2; echo y", unmarked.sleep())}),
                // Escapes, then its task times out.
                json!({"name": "timed out", "cmd": format!("setsid {} & {}", holder.sleep(), timed_out.sleep())}),
            ]
            .map(|item| item.to_string())
            .join("\n"),
        )
        .run();
    for marker in [&marked, &unmarked, &timed_out, &holder] {
        marker.assert_gone();
    }
    assert!(
        out.elapsed < Duration::from_secs(15),
        "a held pipe hung the run: {:?}",
        out.elapsed
    );
    let doc: TasksDoc = out.json();
    assert_eq!(statuses(&doc), ["ok", "ok", "timeout"]);
    assert_eq!(doc.results[0].stdout.as_deref(), Some("x\n"));
    assert_eq!(doc.results[0].leftovers, Some(1), "{:?}", doc.results[0]);
    assert_eq!(doc.results[1].stdout.as_deref(), Some("y\n"));
    assert_eq!(doc.results[2].leftovers, Some(1), "{:?}", doc.results[2]);
}

/// Peak resident memory of a running process, in KiB, sampled until it exits.
fn peak_rss_kib(running: &common::Running) -> u64 {
    let status = format!("/proc/{}/status", running.pid());
    let mut peak = 0;
    while let Ok(text) = std::fs::read_to_string(&status) {
        let rss = text
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok());
        match rss {
            Some(rss) => peak = peak.max(rss),
            None => break, // a zombie has no VmRSS: it has exited
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    peak
}

#[test]
fn endless_output_stays_capped_and_memory_flat() {
    let zeros = json!({"cmd": "head -c 200000000 /dev/zero", "timeout": 30});
    let running = timeout_tool()
        .args([
            "--timeout",
            "500ms",
            "--grace",
            "1s",
            "--max-output",
            "1KiB",
        ])
        .args(["yes", "--input", "-"])
        .stdin(zeros.to_string())
        .spawn();
    let peak = peak_rss_kib(&running);
    let out = running.wait();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc: TasksDoc = out.json();

    let yes = &doc.results[0];
    assert_eq!(
        (yes.status.as_str(), yes.killed_with.as_deref()),
        ("timeout", Some("TERM"))
    );
    assert_eq!(yes.truncated, Some(true));
    let bytes = yes.stdout_bytes.unwrap();
    assert!(bytes > 64 * 1024, "yes printed only {bytes} bytes");
    let stdout = yes.stdout.as_deref().unwrap();
    assert!(stdout.starts_with("y\ny\ny\n"), "{stdout:.40}");
    assert!(stdout.contains("bytes omitted"));
    assert!(stdout.len() <= 1024 + 64, "kept {} bytes", stdout.len());

    let zeros = &doc.results[1];
    assert_eq!(zeros.status, "ok", "{:?}", zeros.error);
    assert_eq!(zeros.stdout_bytes, Some(200_000_000));
    assert_eq!(zeros.truncated, Some(true));
    // 200 MB went through; memory did not follow.
    assert!(peak < 100 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn stdin_is_dev_null_cwd_and_env_apply_and_env_values_stay_secret() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let item = json!({
        "name": "where",
        "cmd": "pwd; echo \"token=$DEPLOY_TOKEN\"",
        "cwd": dir_path,
        "env": {"DEPLOY_TOKEN": "hunter2-very-secret"}
    });
    let input = write_file(dir.path(), "tasks.ndjson", &item.to_string());
    let out = timeout_tool()
        .arg("--input")
        .arg(&input)
        .arg("cat")
        .stdin("this must not reach the task")
        .run();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        !out.mentions("hunter2"),
        "an env value leaked:\n{}",
        out.stdout
    );
    let doc: TasksDoc = out.json();
    // Positional items come first, then --input.
    let cat = &doc.results[0];
    assert_eq!(cat.stdout.as_deref(), Some(""), "stdin is /dev/null");
    let whereami = &doc.results[1];
    assert_eq!(
        whereami.stdout.as_deref(),
        Some(format!("{}\ntoken=<redacted>\n", dir_path.display()).as_str())
    );
    // The count is of what the task printed, not of what is shown.
    assert_eq!(
        whereami.stdout_bytes,
        Some(
            (dir_path.display().to_string().len() + 1 + "token=hunter2-very-secret\n".len()) as u64
        )
    );
}

#[test]
fn an_env_secret_cut_by_max_output_never_shows_in_part() {
    // With --max-output 64 the head shows 32 bytes and the tail 32: put the
    // secret across the head's cut, then across the tail's start.
    let secret = "SUPERSECRETVALUE";
    let items: Vec<String> = (16..=40)
        .flat_map(|offset| [(offset, 60), (60, offset)])
        .map(|(before, after)| {
            json!({
                "cmd": format!("printf %0{before}d 0; printf %s \"$S\"; printf %0{after}d 0"),
                "env": {"S": secret},
            })
            .to_string()
        })
        .collect();
    let out = timeout_tool()
        .args(["--max-output", "64", "--input", "-"])
        .stdin(items.join("\n"))
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: TasksDoc = out.json();
    assert_eq!(doc.results.len(), items.len());
    for result in &doc.results {
        let stdout = result.stdout.as_deref().unwrap();
        assert_eq!(result.truncated, Some(true));
        // The filler is zeros and the rest lowercase: any capital letter
        // is part of the secret.
        assert!(
            !stdout.bytes().any(|byte| byte.is_ascii_uppercase()),
            "{}: part of the secret shows: {stdout:?}",
            result.name
        );
    }
}

#[test]
fn values_expanded_from_env_variables_never_show() {
    let out = timeout_tool()
        .env("API_KEY", "sekrit123")
        .env("OTHER_TOKEN", "other-s3cret")
        .args([
            "--input",
            "-",
            "echo key=${API_KEY}",
            r#"sh -xc "true $API_KEY""#,
        ])
        .stdin(json!({"argv": ["sh", "-c", "echo $OTHER_TOKEN"]}).to_string())
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    for value in ["sekrit123", "other-s3cret"] {
        assert!(!out.mentions(value), "{value} leaked:\n{}", out.stdout);
    }
    let doc: TasksDoc = out.json();
    assert_eq!(doc.results[0].stdout.as_deref(), Some("key=<redacted>\n"));
    assert_eq!(
        doc.results[0].name, "echo key=${API_KEY}",
        "the name is as written"
    );
    assert_eq!(
        doc.results[1].stderr.as_deref(),
        Some("+ true <redacted>\n")
    );
    assert_eq!(doc.results[2].stdout.as_deref(), Some("<redacted>\n"));
}

#[test]
fn fail_fast_kills_the_running_and_cancels_the_rest() {
    let marker = Marker::new();
    let out = timeout_tool()
        .args(["--fail-fast", "-c", "2", "--grace", "30s"])
        .args([marker.sleep().as_str(), "sleep 0.2; exit 1", "echo never"])
        .run();
    assert_eq!(out.code, 1);
    marker.assert_gone();
    let doc: TasksDoc = out.json();
    assert_eq!(statuses(&doc), ["cancelled", "error", "cancelled"]);
    assert_eq!(doc.results[0].kind(), "cancelled");
    assert_eq!(doc.results[0].killed_with.as_deref(), Some("TERM"));
    assert!(doc.results[2].stdout.is_none(), "never started");
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("fail_fast"));
    // SIGTERM was enough: nobody waited for the 30 s grace.
    assert!(out.elapsed < Duration::from_secs(15), "{:?}", out.elapsed);
}

#[test]
fn first_success_wins_and_kills_the_others() {
    let marker = Marker::new();
    let out = timeout_tool()
        .args(["--first"])
        .args([marker.sleep().as_str(), "sleep 0.1"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stdout);
    marker.assert_gone();
    let doc: TasksDoc = out.json();
    assert_eq!(statuses(&doc), ["cancelled", "ok"]);
    assert_eq!(doc.results[0].killed_with.as_deref(), Some("TERM"));
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("first"));
}

#[test]
fn the_deadline_times_out_running_tasks_and_cancels_waiting_ones() {
    let marker = Marker::new();
    let out = timeout_tool()
        .args(["--deadline", "300ms", "-c", "1"])
        .args([marker.sleep().as_str(), "echo later"])
        .run();
    assert_eq!(out.code, 1);
    marker.assert_gone();
    let doc: TasksDoc = out.json();
    assert_eq!(statuses(&doc), ["timeout", "cancelled"]);
    assert_eq!(doc.results[0].kind(), "deadline");
    assert_eq!(doc.results[0].killed_with.as_deref(), Some("TERM"));
    assert_eq!(doc.results[1].kind(), "deadline");
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("deadline"));
}

#[test]
fn sigint_kills_every_running_group_prints_and_exits_130() {
    let plain = Marker::new();
    let stubborn = Marker::new();
    let escaped = Marker::new();
    let escaper = Marker::new();
    let running = timeout_tool()
        .args(["-c", "3", "--grace", "300ms", "--ndjson"])
        .args([
            plain.sleep(),
            format!("trap '' TERM; {}", stubborn.sleep()),
            format!("setsid {} & {}", escaped.sleep(), escaper.sleep()),
            "echo never".to_string(),
        ])
        .spawn();
    for marker in [&plain, &stubborn, &escaped, &escaper] {
        marker.wait_alive();
    }
    running.signal(libc::SIGINT);
    let out = running.wait();
    assert_eq!(out.code, 130, "{}", out.stderr);
    for marker in [&plain, &stubborn, &escaped, &escaper] {
        marker.assert_gone();
    }
    let lines: Vec<TasksLine> = out.lines();
    let mut results: Vec<TaskResult> = Vec::new();
    let mut summary = None;
    for line in lines {
        match line {
            TasksLine::Result(result) => results.push(*result),
            TasksLine::Summary(line) => summary = Some(line),
        }
    }
    results.sort_by_key(|result| result.index);
    let killed: Vec<_> = results.iter().map(|r| r.killed_with.as_deref()).collect();
    assert_eq!(killed, [Some("TERM"), Some("KILL"), Some("TERM"), None]);
    assert!(results.iter().all(|result| result.status == "cancelled"));
    assert_eq!(results[2].leftovers, Some(1), "{:?}", results[2]);
    let summary = summary.expect("a summary line");
    assert_eq!(summary.stopped_by.as_deref(), Some("sigint"));
    assert_eq!(summary.killed, 3);
}

/// Two SIGINTs, the second long before the `--grace` is over, on two
/// tasks that outlive SIGTERM (one in its group, one escaped with setsid)
/// and one never started; `extra` adds flags. Returns the run's output
/// once every marked process is gone.
fn interrupted_twice(dir: &std::path::Path, extra: &[&str]) -> Output {
    let termed = dir.join("termed");
    let stubborn = Marker::new();
    let escaped = Marker::new();
    // The first SIGINT sends SIGTERM to the task's group: its sleep dies,
    // the shell notes it and sleeps again. A wait for the whole grace
    // would outlast the harness's watchdog.
    let running = timeout_tool()
        .args(["--grace", "10m", "-c", "2"])
        .args(extra)
        .arg(format!(
            "trap 'touch {}' TERM; while :; do {}; done",
            termed.display(),
            stubborn.sleep()
        ))
        .arg(format!("setsid {} & trap '' TERM; wait", escaped.sleep()))
        .arg("echo never")
        .spawn();
    stubborn.wait_alive();
    escaped.wait_alive();
    running.signal(libc::SIGINT);
    wait_until(
        Duration::from_secs(20),
        "the first SIGINT to reach the tasks",
        || termed.exists(),
    );
    running.signal(libc::SIGINT);
    let out = running.wait();
    for marker in [&stubborn, &escaped] {
        marker.assert_gone();
    }
    out
}

fn assert_every_task_once_killed(doc: &TasksDoc) {
    assert_eq!(statuses(doc), ["cancelled", "cancelled", "cancelled"]);
    let killed: Vec<_> = doc
        .results
        .iter()
        .map(|r| r.killed_with.as_deref())
        .collect();
    assert_eq!(killed, [Some("KILL"), Some("KILL"), None]);
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("sigint"));
    assert_eq!(doc.summary.killed, 2);
}

#[test]
fn a_second_sigint_kills_every_task_at_once_and_still_prints_everything() {
    let dir = tempfile::tempdir().unwrap();
    let out = interrupted_twice(dir.path(), &[]);
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert!(out.stderr.contains("second signal"), "{}", out.stderr);
    assert_every_task_once_killed(&out.json());
}

#[test]
fn a_second_sigint_still_writes_the_whole_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.json");
    let out = interrupted_twice(dir.path(), &["--output", file.to_str().unwrap()]);
    assert_eq!(out.code, 130, "{}", out.stderr);
    let pointer: common::wire::OutputPointer<common::wire_tasks::TasksSummary> = out.json();
    assert_eq!(pointer.summary.total, 3);
    let written = std::fs::read_to_string(&file).unwrap();
    let doc: TasksDoc = serde_json::from_str(&written)
        .unwrap_or_else(|error| panic!("{error}: the --output file is not whole:\n{written}"));
    assert_every_task_once_killed(&doc);
}

#[test]
fn a_signal_while_the_input_is_checked_ends_with_json_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("tasks.ndjson");
    let ran = dir.path().join("ran");
    common::mkfifo(&fifo);
    let running = timeout_tool().arg("--input").arg(&fifo).spawn();
    // Valid items, and the pipe held open: the checking pass waits for more.
    let mut writer = common::fifo_writer(&fifo);
    let item = json!({"cmd": format!("touch {}", ran.display())}).to_string();
    std::io::Write::write_all(&mut writer, format!("{item}\n").as_bytes()).unwrap();
    running.signal(libc::SIGTERM);
    let out = running.wait();
    drop(writer);
    assert_eq!(out.code, 143, "{}", out.stderr);
    let doc: TasksDoc = out.json();
    assert!(doc.results.is_empty(), "no item was known whole");
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("sigterm"));
    assert!(!ran.exists(), "nothing ran");
}

#[test]
fn sighup_ends_the_run_like_sigterm_with_129() {
    let marker = Marker::new();
    let running = timeout_tool().arg(marker.sleep()).spawn();
    marker.wait_alive();
    running.signal(libc::SIGHUP);
    let out = running.wait();
    assert_eq!(out.code, 129, "{}", out.stderr);
    marker.assert_gone();
    let stdout: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    common::schema::assert_valid(
        &common::schema::validator("async_timeout.schema.json", None),
        &stdout,
        "a run SIGHUP stopped",
    );
    let doc: TasksDoc = out.json();
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("sighup"));
    assert_eq!(doc.results[0].killed_with.as_deref(), Some("TERM"));
}

/// `--input` with `count` quick items after a first one that waits for a
/// `go` file in `dir` (and says it started): more than the reading pass
/// buffers, so the file is still being read while the first item runs.
fn waiting_input(dir: &std::path::Path, count: usize) -> std::path::PathBuf {
    let first = format!(
        "touch {started}; while [ ! -e {go} ]; do sleep 0.02; done",
        started = dir.join("started").display(),
        go = dir.join("go").display()
    );
    let mut lines = vec![json!({"name": "first", "cmd": first}).to_string()];
    for at in 1..count {
        // Padded names: a few hundred kilobytes in all.
        lines.push(json!({"name": format!("quick {at:0>80}"), "sleep": 0}).to_string());
    }
    write_file(dir, "tasks.ndjson", &(lines.join("\n") + "\n"))
}

/// Runs `waiting_input`, changes the file with `change` while its first
/// item runs, and returns the run's output.
fn run_while_the_input_changes(
    change: impl FnOnce(&std::path::Path),
) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let input = waiting_input(dir.path(), 3000);
    let running = timeout_tool()
        .args(["-c", "1", "--input"])
        .arg(&input)
        .spawn();
    wait_until(Duration::from_secs(20), "the first task to start", || {
        dir.path().join("started").exists()
    });
    change(&input);
    std::fs::write(dir.path().join("go"), "").unwrap();
    (running.wait(), dir)
}

#[test]
fn lines_appended_to_the_input_during_the_run_are_not_run() {
    let (out, dir) = run_while_the_input_changes(|input| {
        let appended = input.parent().unwrap().join("appended");
        let line = json!({"cmd": format!("touch {}", appended.display())}).to_string();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(input)
            .unwrap();
        std::io::Write::write_all(&mut file, format!("{line}\n").as_bytes()).unwrap();
    });
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !dir.path().join("appended").exists(),
        "an unchecked item ran"
    );
    let doc: TasksDoc = out.json();
    assert_eq!(doc.results.len(), 3000);
    assert_eq!(doc.summary.ok, 3000);
}

#[test]
fn an_input_truncated_during_the_run_still_runs_every_checked_item() {
    let (out, _dir) = run_while_the_input_changes(|input| {
        let file = std::fs::OpenOptions::new().write(true).open(input).unwrap();
        file.set_len(1000).unwrap();
    });
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: TasksDoc = out.json();
    assert_eq!(doc.results.len(), 3000);
    assert_eq!(doc.summary.ok, 3000);
}

#[test]
fn sigterm_exits_143_and_kills_the_task() {
    let marker = Marker::new();
    let running = timeout_tool().arg(marker.sleep()).spawn();
    marker.wait_alive();
    running.signal(libc::SIGTERM);
    let out = running.wait();
    assert_eq!(out.code, 143);
    marker.assert_gone();
    let doc: TasksDoc = out.json();
    assert_eq!(doc.summary.stopped_by.as_deref(), Some("sigterm"));
    assert_eq!(doc.results[0].killed_with.as_deref(), Some("TERM"));
}

#[test]
fn bad_input_exits_2_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("ran");
    let first = json!({"cmd": format!("touch {}", witness.display())}).to_string();
    let cases = [
        (
            format!("{first}\n{{\"name\": \"no command\"}}\n"),
            Some(2),
            None,
        ),
        (
            format!("{first}\n{{\"cmd\": \"true\", \"cwd\": \"/no/such/dir\"}}\n"),
            Some(2),
            Some("cwd"),
        ),
        (
            format!("{first}\n{{\"cmd\": \"a\", \"argv\": [\"b\"]}}\n"),
            Some(2),
            Some("argv"),
        ),
        (
            format!("{first}\n{{\"cmd\": \"true\", \"env\": {{\"K\": 5}}}}\n"),
            Some(2),
            Some("env.K"),
        ),
        (
            format!("{first}\n{{\"cmd\": \"true\", \"comand\": \"x\"}}\n"),
            Some(2),
            Some("comand"),
        ),
        (format!("{first}\n[oops\n"), Some(2), None),
    ];
    for (input, line, field) in cases {
        let out = timeout_tool()
            .args(["--input", "-"])
            .stdin(input.clone())
            .run();
        assert_eq!(out.code, 2, "{input}: {}", out.stdout);
        let error: UsageError = out.json();
        assert_eq!(error.tool, "async_timeout");
        assert_eq!(error.error.kind, "invalid_input");
        assert_eq!(error.error.line, line, "{input}");
        assert_eq!(error.error.field.as_deref(), field, "{input}");
        assert!(!witness.exists(), "a task ran despite bad input");
    }
    let out = timeout_tool().run();
    assert_eq!(out.code, 2, "no items at all");
}

#[test]
fn a_zero_timeout_is_rejected_on_the_command_line_and_in_items() {
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("ran");
    let touch = format!("touch {}", witness.display());
    // A zero timeout would end every task before it starts: bad usage.
    for zero in ["0", "0s", "0ms", "0.0000000001"] {
        let out = timeout_tool().args(["--timeout", zero, &touch]).run();
        assert_eq!(out.code, 2, "--timeout {zero}: {}", out.stdout);
        let error: UsageError = out.json();
        assert_eq!(error.error.kind, "invalid_input");
        assert_eq!(error.error.field.as_deref(), Some("--timeout"));
    }
    // The same for an item's own timeout, in every form a duration takes,
    // on a command or a sleep.
    for zero in [
        json!(0),
        json!(0.0),
        json!("0s"),
        json!("0ms"),
        json!(1e-12),
    ] {
        for work in [json!({"cmd": touch}), json!({"sleep": 1})] {
            let mut item = work.clone();
            item["timeout"] = zero.clone();
            let input = format!("{}\n{item}\n", json!({"cmd": touch}));
            let out = timeout_tool().args(["--input", "-"]).stdin(input).run();
            assert_eq!(out.code, 2, "{item}: {}", out.stdout);
            let error: UsageError = out.json();
            assert_eq!(error.error.kind, "invalid_input");
            assert_eq!(
                (error.error.line, error.error.field.as_deref()),
                (Some(2), Some("timeout"))
            );
            assert_eq!(error.error.message, "must be more than 0", "{item}");
        }
    }
    assert!(!witness.exists(), "a task ran despite a zero timeout");
}

#[test]
fn ndjson_streams_each_task_as_it_finishes() {
    let out = timeout_tool()
        .args(["--ndjson", "sleep 0.3; echo slow", "echo fast"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<TasksLine> = out.lines();
    let order: Vec<String> = lines
        .iter()
        .filter_map(|line| match line {
            TasksLine::Result(result) => Some(result.name.clone()),
            TasksLine::Summary(_) => None,
        })
        .collect();
    assert_eq!(order, ["echo fast", "sleep 0.3; echo slow"]);
    match lines.last() {
        Some(TasksLine::Summary(summary)) => {
            assert_eq!(summary.tool.as_deref(), Some("async_timeout"));
            assert_eq!(summary.ok, 2);
        }
        other => panic!("the last line is not the summary: {other:?}"),
    }
}

#[test]
fn help_documents_every_flag_with_examples() {
    common::assert_help_documents("async_timeout", &["--grace", "--max-output"]);
    let help = timeout_tool().arg("--help").run().stdout;
    assert!(
        help.contains("$VAR or ${VAR}") && help.contains("<redacted>"),
        "--help does not say that expanded values are secrets"
    );
}

/// The processes whose real uid is `uid` (any state), by pid.
fn processes_of(uid: u32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|status| {
                    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
                    line.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(uid)
        })
        .collect()
}

/// A user id of its own for one test: RLIMIT_NPROC counts every process of
/// the real uid, so sharing one (`nobody`) with other tests would let them
/// fill each other's table. Everything it still runs is killed on drop.
struct ScratchUser {
    uid: u32,
}

impl ScratchUser {
    fn new() -> Self {
        // Unassigned ids, one per test process.
        ScratchUser {
            uid: 61_000 + std::process::id() % 4_000,
        }
    }

    /// `program args...` as this user, at most `nproc` processes (and
    /// threads) for the user at once. RLIMIT_NPROC does not hold for root:
    /// hence the other uid.
    fn command(&self, nproc: usize, program: &std::path::Path) -> std::process::Command {
        let mut command = std::process::Command::new("prlimit");
        command
            .arg(format!("--nproc={nproc}:{nproc}"))
            .arg("setpriv")
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.uid))
            .args(["--clear-groups", "--inh-caps=-all"])
            .arg(program)
            .current_dir("/");
        common::without_proxies(&mut command);
        command
    }

    fn kill_all(&self) {
        for pid in processes_of(self.uid) {
            // SAFETY: kill(2) has no memory effects; these are the test's own.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for ScratchUser {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// A task's fork bomb fills the process table (RLIMIT_NPROC for the
/// tool's user, which is how a full table looks to it): a start that then
/// fails is that item's `spawn_failed`, the tool never panics, the run
/// ends within the bomb's timeout and grace, and nothing is left behind.
///
/// About 15 s: the tool used to panic only once tokio's idle blocking
/// threads had exited (10 s keep-alive) and it needed a new one.
#[test]
fn a_fork_bomb_filling_the_process_table_never_panics_the_tool() {
    let user = ScratchUser::new();
    assert!(
        processes_of(user.uid).is_empty(),
        "uid {} is in use",
        user.uid
    );
    // Fills every slot, refills any that frees, ignores SIGTERM.
    let bomb = "import os, signal, time\n\
                signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
                while True:\n\
                \x20   try:\n\
                \x20       if os.fork() == 0:\n\
                \x20           time.sleep(300)\n\
                \x20           os._exit(0)\n\
                \x20   except OSError:\n\
                \x20       time.sleep(0.01)\n";
    let items = [
        json!({"name": "bomb", "argv": ["python3", "-c", bomb], "timeout": 14}),
        // Starts the late tasks once the bomb has had 12 s to fill the table.
        json!({"name": "gate", "sleep": 12}),
        json!({"name": "late argv", "argv": ["true"]}),
        json!({"name": "late cmd", "cmd": "echo late | cat"}),
    ]
    .map(|item| item.to_string())
    .join("\n");
    // The tool's own threads (main, one runtime worker per core, a few
    // helpers) and room for a dozen bomb processes.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut command = user.command(cores + 24, &common::binary("async_timeout"));
    command
        .args(["--no-progress", "-c", "2", "--grace", "1s", "--input", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = std::time::Instant::now();
    let mut child = command.spawn().expect("prlimit and setpriv");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(items.as_bytes()).unwrap();
    }
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let (stdout, stderr) = (read(Box::new(stdout)), read(Box::new(stderr)));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > common::WATCHDOG {
            let _ = child.kill();
            let _ = child.wait();
            user.kill_all();
            panic!("async_timeout ran past the watchdog");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    // Nothing of the bomb outlives the tool.
    let left = processes_of(user.uid);
    assert!(left.is_empty(), "left behind: {left:?}\nstderr: {stderr}");

    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(1), "stderr: {stderr}\nstdout: {stdout}");
    let doc: TasksDoc = serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("{error}\nstdout: {stdout}\nstderr: {stderr}"));
    let names: Vec<_> = doc.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["bomb", "gate", "late argv", "late cmd"]);
    assert_eq!(statuses(&doc), ["timeout", "ok", "error", "error"]);
    assert_eq!(doc.results[0].killed_with.as_deref(), Some("KILL"));
    for late in &doc.results[2..] {
        assert_eq!(late.kind(), "spawn_failed", "{late:?}");
        let message = &late.error.as_ref().unwrap().message;
        assert!(message.contains("temporarily unavailable"), "{message}");
    }
    // Within the bomb's timeout and grace, give or take the cleanup (the
    // bound is loose: it catches a hang, not a slow machine).
    assert!(elapsed < Duration::from_secs(14 + 1 + 15), "{elapsed:?}");
}
