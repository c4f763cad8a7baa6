//! Making sure nothing a task started outlives it, and nothing it left
//! behind can hang the tool.
//!
//! Every task's process leads its own process group (its pgid is its pid),
//! so one `kill(-pgid)` reaches the command and every descendant that stayed
//! in the group. Descendants can leave the group (`setsid`, daemons), so:
//!
//! - **Subreaper.** At start the tool calls
//!   `prctl(PR_SET_CHILD_SUBREAPER)` (Linux): a descendant whose parent dies
//!   is reparented to the tool instead of to init, so it stays findable.
//! - **Marker.** Every task's process gets `ASYNC_TIMEOUT_TASK=<tool pid>.<serial>`
//!   in its environment. Descendants inherit it, and `/proc/<pid>/environ`
//!   keeps it after `setsid`: that is how an orphan is traced to its task.
//! - **Registry.** The pids of running task leaders (owned and reaped by
//!   tokio), which are also the running tasks' pgids, and the number of
//!   spawns under way. This module only ever calls `waitpid` on specific
//!   pids outside the registry: while a spawn is under way (its new pid is
//!   not registered yet) only on pids a cleanup picked as leftovers; never
//!   `waitpid(-1)`, which would steal tokio's exit statuses.
//!
//! When a task's leader has exited (on its own or killed), [`Reaper::clean_up_task`]
//! polls a scan of `/proc`: its targets are the live members of the task's
//! group, and the live orphans (our children that are no task's leader, in
//! no running task's group) that carry the task's marker. Targets get
//! SIGTERM until the grace ends, then SIGKILL; zombies among our children
//! are reaped on every round; it ends when no target is left (or, for
//! processes that cannot die, a bounded time after SIGKILL).
//! Orphans that carry no marker (they cleared their environment) are killed
//! by [`Reaper::sweep_all`] when the run ends. Scans are shared: tasks that
//! ask at about the same time get the same snapshot, so a hundred tasks
//! ending together cost a few scans, not a hundred.
//!
//! A second SIGINT/SIGTERM makes the tool exit without waiting; just
//! before, [`Reaper::kill_all_now`] sends SIGKILL to every running group,
//! every known leftover, and every process that is our orphan or carries one
//! of this run's markers (registered with [`crate::stop::on_second_signal`]).
//!
//! Without `/proc` (not Linux) there is no scan and no subreaper: a task's
//! group still gets SIGTERM then SIGKILL, escapees are not found.
//!
//! Spawns and scans block, so they run on [`Offload`] threads, the first
//! started with the first spawn and all kept for the run: a task that fills
//! the process table (a fork bomb) makes the next spawn fail with `EAGAIN`,
//! that item's `spawn_failed`, and never leaves the reaper without a thread
//! to scan and reap with (tokio's `spawn_blocking` panicked there).

use crate::offload::Offload;
use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// The environment variable that ties a process to its task.
pub(crate) const MARKER_VAR: &str = "ASYNC_TIMEOUT_TASK";

/// How long to keep trying after SIGKILL before giving up on a process
/// (one stuck in uninterruptible sleep cannot die, and must not hang us).
const KILL_WAIT: Duration = Duration::from_secs(1);

/// Between two scans while waiting for targets to die.
const POLL: Duration = Duration::from_millis(10);

/// Threads for spawns and scans: a spawn waits for the child's `exec`, so
/// a few at once overlap those waits; past the cores, more buy nothing.
const OFFLOAD_THREADS: usize = 8;

/// How long a cleanup keeps looking at an orphan whose environment could
/// not be read (caught mid-`exec`) before leaving it to the final sweep.
const SETTLE: Duration = Duration::from_millis(50);

/// One line of `/proc/<pid>/stat`, the parts we need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcEntry {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    zombie: bool,
}

/// A scan of `/proc`; `None` where there is no `/proc`.
type Snapshot = Arc<Option<Vec<ProcEntry>>>;

/// What to signal: one process, or a whole group (used without `/proc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Process(i32),
    Group(i32),
}

/// A process or group to end, and whether it already got SIGTERM from the
/// tool (a group member of a task that timed out): it is then given the
/// rest of the grace to die before SIGKILL, and not signalled twice.
#[derive(Debug, Clone, Copy)]
struct Doomed {
    target: Target,
    termed_with_group: bool,
}

impl Target {
    fn signal(self, signal: i32) {
        let pid = match self {
            Target::Process(pid) => pid,
            Target::Group(pgid) => -pgid,
        };
        // SAFETY: kill(2) has no memory effects; a gone target gives ESRCH.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Sends `signal` to every process of the group led by `pgid`.
pub(crate) fn signal_group(pgid: i32, signal: i32) {
    Target::Group(pgid).signal(signal);
}

#[derive(Debug, Default)]
struct Registry {
    next_serial: u64,
    /// Task leaders not yet reaped by tokio: never waited for here. A
    /// leader's pid is its task's pgid, so these are also the running groups.
    leaders: HashSet<i32>,
    /// Spawns under way: their new pids are not in `leaders` yet, so no
    /// zombie may be reaped meanwhile (it could be one of them)...
    spawning: usize,
    /// ...except these: children a cleanup picked as leftovers (by group or
    /// marker, which a new leader never matches), until they are reaped or gone.
    leftovers: HashSet<i32>,
}

impl Registry {
    fn running_group(&self, pgid: i32) -> bool {
        self.leaders.contains(&pgid)
    }
}

/// A task's process, as started by [`Reaper::spawn`].
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) child: Child,
    /// The leader's pid, which is also the task's pgid.
    pub(crate) pid: i32,
    pub(crate) serial: u64,
}

/// The run's process supervisor: one per run, shared by every task.
#[derive(Debug)]
pub(crate) struct Reaper {
    me: i32,
    offload: Offload,
    registry: Mutex<Registry>,
    latest: tokio::sync::Mutex<Option<(Instant, Snapshot)>>,
}

impl Default for Reaper {
    fn default() -> Self {
        Self::new()
    }
}

impl Reaper {
    /// Makes this process a child subreaper (Linux) and starts an empty registry.
    pub(crate) fn new() -> Self {
        // Orphans reparent to us when this works; without it (not Linux)
        // the end-of-run sweep is all there is.
        let _ = become_subreaper();
        Reaper {
            me: std::process::id() as i32,
            offload: Offload::new("async_timeout-offload", OFFLOAD_THREADS),
            registry: Mutex::new(Registry::default()),
            latest: tokio::sync::Mutex::new(None),
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spawns `command` with its task marker and registers the leader.
    ///
    /// The spawn runs on an [`Offload`] thread: it waits for the child's
    /// exec, and two hundred of those on the runtime's workers would delay
    /// every other task's exit and output. The lock is not held meanwhile: a
    /// cleanup never takes the new child for a leftover (it is in no old
    /// group and carries its own marker), and zombies are left alone until
    /// no spawn is under way.
    pub(crate) async fn spawn(self: &Arc<Self>, mut command: Command) -> io::Result<Spawned> {
        let serial = {
            let mut registry = self.registry();
            let serial = registry.next_serial;
            registry.next_serial += 1;
            registry.spawning += 1;
            serial
        };
        command.env(MARKER_VAR, format!("{}.{serial}", self.me));
        // Tokio's spawn registers the child with the runtime: enter it there.
        let runtime = tokio::runtime::Handle::current();
        let spawned = self
            .offload
            .run(move || {
                let _inside = runtime.enter();
                command.spawn()
            })
            .await
            .unwrap_or_else(|| Err(io::Error::other("starting the process panicked")))
            .and_then(|child| {
                let pid = child
                    .id()
                    .and_then(|pid| i32::try_from(pid).ok())
                    .ok_or_else(|| io::Error::other("the new process has no pid"))?;
                Ok((child, pid))
            });
        let mut registry = self.registry();
        registry.spawning -= 1;
        spawned.map(|(child, pid)| {
            registry.leaders.insert(pid);
            Spawned { child, pid, serial }
        })
    }

    /// Tokio has reaped the leader: the task no longer runs, and what is
    /// left of it is a leftover.
    pub(crate) fn leader_reaped(&self, pid: i32) {
        self.registry().leaders.remove(&pid);
    }

    /// Ends what is left of a finished task: the rest of its group, and the
    /// orphans that carry its marker. SIGTERM until `term_until`, then
    /// SIGKILL. `group_termed`: the group already got SIGTERM (the task timed
    /// out or was stopped). Returns how many processes it had to signal:
    /// the task's leftovers.
    pub(crate) async fn clean_up_task(
        &self,
        pgid: i32,
        serial: u64,
        term_until: Instant,
        group_termed: bool,
    ) -> u32 {
        let me = self.me;
        self.terminate(term_until, |registry, snapshot, markers| {
            let Some(entries) = snapshot else {
                // No /proc: the group is all we can see.
                return if group_exists(pgid) && !registry.running_group(pgid) {
                    vec![Doomed {
                        target: Target::Group(pgid),
                        termed_with_group: group_termed,
                    }]
                } else {
                    Vec::new()
                };
            };
            // A pgid that is a running task's again means this group is gone
            // and the number was reused: never touch that group.
            let own_group = !registry.running_group(pgid);
            entries
                .iter()
                .filter(|entry| !entry.zombie && entry.pid != me)
                .filter(|entry| {
                    (own_group && entry.pgrp == pgid)
                        || (entry.ppid == me
                            && !registry.leaders.contains(&entry.pid)
                            && !registry.running_group(entry.pgrp)
                            && markers.of(entry.pid) == Some((me, serial)))
                })
                .map(|entry| Doomed {
                    target: Target::Process(entry.pid),
                    termed_with_group: group_termed && entry.pgrp == pgid,
                })
                .collect()
        })
        .await
    }

    /// The tool is about to exit without waiting (a second SIGINT or
    /// SIGTERM): SIGKILL, now, for every running task's group, every
    /// leftover a cleanup is ending, and every process that is our orphan
    /// or carries one of this run's markers. Synchronous, for
    /// [`crate::stop::on_second_signal`]: nothing awaits after it.
    pub(crate) fn kill_all_now(&self) {
        let (groups, leftovers) = {
            let registry = self.registry();
            (registry.leaders.clone(), registry.leftovers.clone())
        };
        for pgid in groups {
            Target::Group(pgid).signal(libc::SIGKILL);
        }
        for pid in leftovers {
            Target::Process(pid).signal(libc::SIGKILL);
        }
        // Escapees: in no task's group, found by parent or by marker.
        let Some(entries) = scan_proc() else { return };
        let mut markers = MarkerCache::default();
        for entry in entries {
            let ours = entry.ppid == self.me
                || markers
                    .of(entry.pid)
                    .is_some_and(|(tool, _serial)| tool == self.me);
            if ours && !entry.zombie && entry.pid != self.me {
                Target::Process(entry.pid).signal(libc::SIGKILL);
            }
        }
    }

    /// At the end of the run: ends every orphan still here (escapees that
    /// hid their marker), SIGTERM for `grace`, then SIGKILL.
    pub(crate) async fn sweep_all(&self, grace: Duration) -> u32 {
        let me = self.me;
        self.terminate(Instant::now() + grace, |registry, snapshot, _| {
            let Some(entries) = snapshot else {
                return Vec::new();
            };
            entries
                .iter()
                .filter(|entry| {
                    !entry.zombie
                        && entry.ppid == me
                        && !registry.leaders.contains(&entry.pid)
                        && !registry.running_group(entry.pgrp)
                })
                .map(|entry| Doomed {
                    target: Target::Process(entry.pid),
                    termed_with_group: false,
                })
                .collect()
        })
        .await
    }

    /// The loop shared by cleanups: scan, reap zombies, pick targets,
    /// signal, until no target is left or the bounded wait is over.
    async fn terminate(
        &self,
        term_until: Instant,
        mut pick: impl FnMut(&Registry, &Option<Vec<ProcEntry>>, &mut MarkerCache) -> Vec<Doomed>,
    ) -> u32 {
        let started = Instant::now();
        let give_up_at = term_until.max(started) + KILL_WAIT;
        let mut termed: HashSet<Target> = HashSet::new();
        let mut killed: HashSet<Target> = HashSet::new();
        let mut markers = MarkerCache::default();
        loop {
            let snapshot = self.snapshot_after(Instant::now()).await;
            markers.unsure = false;
            let targets = {
                let mut registry = self.registry();
                self.reap_zombies(&mut registry, &snapshot);
                let targets = pick(&registry, &snapshot, &mut markers);
                for doomed in &targets {
                    if let Target::Process(pid) = doomed.target {
                        registry.leftovers.insert(pid);
                    }
                }
                targets
            };
            let now = Instant::now();
            let settled = !markers.unsure || now >= started + SETTLE;
            if (targets.is_empty() && settled) || now >= give_up_at {
                break;
            }
            for Doomed {
                target,
                termed_with_group,
            } in targets
            {
                if now < term_until {
                    if !termed_with_group && termed.insert(target) {
                        target.signal(libc::SIGTERM);
                        // A stopped process only sees SIGTERM once continued.
                        target.signal(libc::SIGCONT);
                    }
                } else if killed.insert(target) {
                    target.signal(libc::SIGKILL);
                }
            }
            tokio::time::sleep(POLL).await;
        }
        let signalled: HashSet<Target> = termed.union(&killed).copied().collect();
        u32::try_from(signalled.len()).unwrap_or(u32::MAX)
    }

    /// Waits for zombies among our children that tokio does not own
    /// (orphans reparented to us), by pid.
    fn reap_zombies(&self, registry: &mut Registry, snapshot: &Option<Vec<ProcEntry>>) {
        let Some(entries) = snapshot else { return };
        let Registry {
            leaders,
            spawning,
            leftovers,
            ..
        } = registry;
        // A pid no longer in /proc was reaped elsewhere: forget it before
        // the number can come back as someone else.
        let present: HashSet<i32> = entries.iter().map(|entry| entry.pid).collect();
        leftovers.retain(|pid| present.contains(pid));
        for entry in entries {
            let ours = entry.zombie && entry.ppid == self.me && !leaders.contains(&entry.pid);
            if ours && (*spawning == 0 || leftovers.contains(&entry.pid)) {
                let mut status = 0;
                // SAFETY: waitpid on one pid that is our child and not a
                // leader tokio waits for (checked under the registry lock:
                // no spawn is under way, or a cleanup picked it as a
                // leftover). WNOHANG: never blocks.
                let reaped = unsafe { libc::waitpid(entry.pid, &mut status, libc::WNOHANG) };
                if reaped == entry.pid {
                    leftovers.remove(&entry.pid);
                }
            }
        }
    }

    /// A scan of `/proc` started at or after `since`: callers that ask
    /// while a scan runs share the next one.
    async fn snapshot_after(&self, since: Instant) -> Snapshot {
        let mut latest = self.latest.lock().await;
        if let Some((taken, snapshot)) = latest.as_ref()
            && *taken >= since
        {
            return snapshot.clone();
        }
        let taken = Instant::now();
        let snapshot: Snapshot = Arc::new(self.offload.run(scan_proc).await.flatten());
        *latest = Some((taken, snapshot.clone()));
        snapshot
    }
}

/// Task markers read from `/proc/<pid>/environ`, once per pid per cleanup.
///
/// A read can come back empty or fail while the process is in the middle
/// of an `exec` (the file holds the old memory map): the first such result
/// is not kept, and `unsure` tells the loop to look once more. The second
/// is believed (an environment cleared with `env -i` is empty for good).
#[derive(Debug, Default)]
struct MarkerCache {
    seen: HashMap<i32, Option<(i32, u64)>>,
    doubted: HashSet<i32>,
    unsure: bool,
}

impl MarkerCache {
    /// The `(tool pid, task serial)` in a process's environment, if any.
    fn of(&mut self, pid: i32) -> Option<(i32, u64)> {
        if let Some(marker) = self.seen.get(&pid) {
            return *marker;
        }
        match std::fs::read(format!("/proc/{pid}/environ")) {
            Ok(environ) if !environ.is_empty() => {
                let marker = parse_marker(&environ);
                self.seen.insert(pid, marker);
                marker
            }
            _ if self.doubted.insert(pid) => {
                self.unsure = true;
                None
            }
            _ => {
                self.seen.insert(pid, None);
                None
            }
        }
    }
}

fn parse_marker(environ: &[u8]) -> Option<(i32, u64)> {
    let prefix = format!("{MARKER_VAR}=");
    let value = environ
        .split(|&byte| byte == 0)
        .find_map(|entry| entry.strip_prefix(prefix.as_bytes()))?;
    let (tool, task) = std::str::from_utf8(value).ok()?.split_once('.')?;
    Some((tool.parse().ok()?, task.parse().ok()?))
}

fn group_exists(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks that the group exists.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

#[cfg(target_os = "linux")]
fn become_subreaper() -> bool {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes plain integers.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn become_subreaper() -> bool {
    false
}

/// Every process in `/proc`; `None` when there is no `/proc` to read.
fn scan_proc() -> Option<Vec<ProcEntry>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    let mut entries = Vec::new();
    // One read into a fixed buffer: `read_to_string` would also stat and
    // seek every file, and a scan reads hundreds of them.
    let mut buffer = [0u8; 1024];
    for item in dir.flatten() {
        let name = item.file_name();
        let Some(pid) = name.to_str().and_then(|name| name.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(mut file) = std::fs::File::open(format!("/proc/{pid}/stat")) else {
            continue; // gone since the listing
        };
        let Ok(read) = io::Read::read(&mut file, &mut buffer) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buffer[..read]);
        if let Some(entry) = parse_stat(pid, &text) {
            entries.push(entry);
        }
    }
    Some(entries)
}

/// Parses `pid (comm) S ppid pgrp ...`; `comm` may hold spaces and parentheses.
fn parse_stat(pid: i32, text: &str) -> Option<ProcEntry> {
    let after_comm = &text[text.rfind(')')? + 1..];
    let mut fields = after_comm.split_ascii_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(ProcEntry {
        pid,
        ppid,
        pgrp,
        zombie: matches!(state, "Z" | "X"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_odd_command_names() {
        let entry = parse_stat(42, "42 (my (odd) prog) S 7 42 42 0 -1 4194560").unwrap();
        assert_eq!(
            entry,
            ProcEntry {
                pid: 42,
                ppid: 7,
                pgrp: 42,
                zombie: false
            }
        );
        assert!(parse_stat(9, "9 (x) Z 1 9 9").unwrap().zombie);
        assert!(parse_stat(9, "garbage").is_none());
    }

    #[test]
    fn markers_are_found_in_an_environment_block() {
        let environ = b"PATH=/bin\0ASYNC_TIMEOUT_TASK=1234.56\0HOME=/root\0";
        assert_eq!(parse_marker(environ), Some((1234, 56)));
        assert_eq!(parse_marker(b"PATH=/bin\0"), None);
        assert_eq!(parse_marker(b"ASYNC_TIMEOUT_TASK=junk\0"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_scan_sees_this_process() {
        let me = std::process::id() as i32;
        let entries = scan_proc().expect("/proc is readable on Linux");
        assert!(entries.iter().any(|entry| entry.pid == me && !entry.zombie));
    }
}
