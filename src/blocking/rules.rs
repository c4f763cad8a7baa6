//! The rule table: every blocking call the tool knows, in one place.
//!
//! A rule names canonical call paths (`time.sleep`, `std::thread::sleep`),
//! the way an import-resolved call is spelled whatever alias the file used.
//! Methods are `Type.method` / `Type::method`, where `Type` comes from
//! [`PRODUCERS`]: the calls known to return an object of that type, so
//! `Path("a").read_text()` and `let c = Command::new("ls"); c.output()` both
//! resolve. A path `*.name` matches a method `name` on any receiver; it is
//! kept for names that mean one thing only (`block_on`, `run_until_complete`).
//!
//! Adding a rule is one entry in [`RULES`]; teaching the tool a new object
//! type is one entry in [`PRODUCERS`]. `--rules` prints both tables.

use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// The languages the tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Language {
    Python,
    Rust,
}

impl Language {
    /// The language of a path, from its extension.
    pub(crate) fn of_path(path: &std::path::Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "py" | "pyi" => Some(Language::Python),
            "rs" => Some(Language::Rust),
            _ => None,
        }
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
        }
    }
}

/// What a rule looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Check {
    /// A call to one of `calls`, not itself awaited.
    Call,
    /// A call to a known coroutine function (one of `calls`, or an `async def`
    /// of the same file) used as a whole statement: it never runs.
    NotAwaited,
    /// A `let guard = lock.lock().unwrap()` still alive at a later `.await`.
    GuardAcrossAwait,
}

/// What kind of bug a rule finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Category {
    /// The call blocks the event loop (or executor thread) while it waits.
    Blocking,
    /// Async used wrongly, without blocking: a coroutine never awaited, a
    /// loop started inside a running loop.
    Misuse,
}

/// One entry of the rule table.
#[derive(Debug, Serialize)]
pub(crate) struct Rule {
    /// Stable id, shown as `rule` in each finding.
    pub(crate) id: &'static str,
    pub(crate) language: Language,
    pub(crate) check: Check,
    pub(crate) category: Category,
    /// Canonical call paths the rule matches.
    pub(crate) calls: &'static [&'static str],
    /// A call is not matched when one of its arguments is (or ends with)
    /// one of these names, or is a keyword argument so named: `WNOHANG`,
    /// `fileobj`, `BytesIO` mean the call does not wait on anything.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) unless_args: &'static [&'static str],
    /// The rule's `*.name` entries match only on a receiver whose last
    /// name (leading underscores dropped, any case) is one of these:
    /// `db.commit()` not awaited is a synchronous session's, where
    /// `transaction.commit()` may be anything.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) receiver_names: &'static [&'static str],
    /// Why it is a problem inside async code (one line).
    pub(crate) why: &'static str,
    /// The async replacement, shown as `suggestion`: `{call}` (the callee as
    /// written), `{receiver}` (the object a method is called on), `{method}`
    /// (the function or method name) and `{args}` (the arguments as written,
    /// with their parentheses) are filled in from the call.
    pub(crate) replacement: &'static str,
    /// The replacement for a method called on an object of a known type
    /// (`file.read_to_end(..)`, `session.get(..)`), when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) method_replacement: Option<&'static str>,
    /// The codes of ruff's flake8-async rules (`ruff check --select ASYNC`)
    /// that find the same calls, to compare the two tools.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) ruff: &'static [&'static str],
}

use Category::*;
use Check::*;
use Language::*;

/// The fields most rules share; each entry overrides what it needs.
const BASE: Rule = Rule {
    id: "",
    language: Python,
    check: Call,
    category: Blocking,
    calls: &[],
    unless_args: &[],
    receiver_names: &[],
    why: "",
    replacement: "",
    method_replacement: None,
    ruff: &[],
};

/// Every rule. Order matters only when two rules name the same call (the first wins).
pub(crate) static RULES: &[Rule] = &[
    // ---- Python ----
    Rule {
        id: "py-time-sleep",
        calls: &["time.sleep"],
        why: "time.sleep blocks the event loop: no other task runs until it returns",
        replacement: "await asyncio.sleep{args}",
        ruff: &["ASYNC251"],
        ..BASE
    },
    Rule {
        id: "py-requests",
        calls: &[
            "requests.get",
            "requests.post",
            "requests.put",
            "requests.patch",
            "requests.delete",
            "requests.head",
            "requests.options",
            "requests.request",
            "requests.Session.get",
            "requests.Session.post",
            "requests.Session.put",
            "requests.Session.patch",
            "requests.Session.delete",
            "requests.Session.head",
            "requests.Session.options",
            "requests.Session.request",
            "requests.Session.send",
        ],
        why: "requests is synchronous: the whole event loop waits for the network",
        replacement: "async with aiohttp.ClientSession() as session: await session.{method}{args} (or httpx.AsyncClient)",
        method_replacement: Some(
            "await session.{method}{args} on an aiohttp.ClientSession (or httpx.AsyncClient)",
        ),
        ruff: &["ASYNC210"],
        ..BASE
    },
    Rule {
        id: "py-httpx-sync",
        calls: &[
            "httpx.get",
            "httpx.post",
            "httpx.put",
            "httpx.patch",
            "httpx.delete",
            "httpx.head",
            "httpx.options",
            "httpx.request",
            "httpx.stream",
            "httpx.Client.get",
            "httpx.Client.post",
            "httpx.Client.put",
            "httpx.Client.patch",
            "httpx.Client.delete",
            "httpx.Client.head",
            "httpx.Client.options",
            "httpx.Client.request",
            "httpx.Client.send",
            "httpx.Client.stream",
            "httpx.Client.close",
        ],
        why: "httpx's module functions and httpx.Client are synchronous: the event loop waits for the network",
        replacement: "async with httpx.AsyncClient() as client: await client.{method}{args}",
        method_replacement: Some("await client.{method}{args} on an httpx.AsyncClient"),
        ruff: &["ASYNC210", "ASYNC212"],
        ..BASE
    },
    Rule {
        id: "py-urllib",
        calls: &[
            "urllib.request.urlopen",
            "urllib.request.urlretrieve",
            "urllib3.request",
            "urllib3.PoolManager.request",
            "urllib3.PoolManager.urlopen",
            "urllib3.PoolManager.request_encode_body",
            "urllib3.PoolManager.request_encode_url",
            "http.client.HTTPConnection.request",
            "http.client.HTTPConnection.getresponse",
            "http.client.HTTPConnection.connect",
            "http.client.HTTPSConnection.request",
            "http.client.HTTPSConnection.getresponse",
            "http.client.HTTPSConnection.connect",
        ],
        why: "urllib, urllib3 and http.client are synchronous: the event loop waits for the network",
        replacement: "async with aiohttp.ClientSession() as session: await session.get(...) (or await asyncio.to_thread({call}{comma_args}))",
        ruff: &["ASYNC210"],
        ..BASE
    },
    Rule {
        id: "py-open",
        calls: &["builtins.open", "io.open", "codecs.open", "io.open_code"],
        why: "open() and reads/writes on its file object are blocking disk I/O on the event loop",
        replacement: "async with aiofiles.open{args} as f: await f.read() (or await asyncio.to_thread(...))",
        ruff: &["ASYNC230"],
        ..BASE
    },
    Rule {
        id: "py-pathlib-io",
        calls: &[
            "pathlib.Path.read_text",
            "pathlib.Path.read_bytes",
            "pathlib.Path.write_text",
            "pathlib.Path.write_bytes",
            "pathlib.Path.open",
            "pathlib.Path.exists",
            "pathlib.Path.is_dir",
            "pathlib.Path.is_file",
            "pathlib.Path.is_symlink",
            "pathlib.Path.is_mount",
            "pathlib.Path.is_socket",
            "pathlib.Path.is_fifo",
            "pathlib.Path.is_block_device",
            "pathlib.Path.is_char_device",
            "pathlib.Path.is_junction",
            "pathlib.Path.stat",
            "pathlib.Path.lstat",
            "pathlib.Path.mkdir",
            "pathlib.Path.rmdir",
            "pathlib.Path.unlink",
            "pathlib.Path.rename",
            "pathlib.Path.replace",
            "pathlib.Path.touch",
            "pathlib.Path.resolve",
            "pathlib.Path.glob",
            "pathlib.Path.rglob",
            "pathlib.Path.iterdir",
            "pathlib.Path.walk",
            "pathlib.Path.symlink_to",
            "pathlib.Path.hardlink_to",
            "pathlib.Path.readlink",
            "pathlib.Path.chmod",
            "pathlib.Path.lchmod",
            "pathlib.Path.owner",
            "pathlib.Path.group",
            "pathlib.Path.samefile",
            // Names only path-like objects have (pathlib, zipfile.Path,
            // importlib.resources, fsspec), all reading or writing files:
            // matched on any receiver, when not awaited (anyio.Path's are).
            "*.read_text",
            "*.write_text",
            "*.read_bytes",
            "*.write_bytes",
            "*.is_file",
            "*.is_dir",
        ],
        why: "pathlib methods that touch the file system are blocking disk I/O on the event loop",
        replacement: "await asyncio.to_thread({receiver}.{method}{comma_args}) (or anyio.Path)",
        ruff: &["ASYNC230", "ASYNC240"],
        ..BASE
    },
    Rule {
        id: "py-os-path",
        calls: &[
            "os.path.exists",
            "os.path.lexists",
            "os.path.isfile",
            "os.path.isdir",
            "os.path.islink",
            "os.path.ismount",
            "os.path.isjunction",
            "os.path.getsize",
            "os.path.getmtime",
            "os.path.getatime",
            "os.path.getctime",
            "os.path.samefile",
            "os.path.sameopenfile",
            "os.path.realpath",
        ],
        why: "os.path queries stat the file system: blocking disk I/O on the event loop",
        replacement: "await asyncio.to_thread({call}{comma_args}) (or anyio.Path)",
        ruff: &["ASYNC240"],
        ..BASE
    },
    Rule {
        id: "py-os-fs",
        calls: &[
            "os.open",
            "os.remove",
            "os.unlink",
            "os.rmdir",
            "os.removedirs",
            "os.listdir",
            "os.scandir",
            "os.rename",
            "os.renames",
            "os.replace",
            "os.mkdir",
            "os.makedirs",
            "os.walk",
            "os.fwalk",
            "os.stat",
            "os.lstat",
            "os.chmod",
            "os.chown",
            "os.lchown",
            "os.link",
            "os.symlink",
            "os.readlink",
            "os.truncate",
            "os.utime",
            "os.access",
            "os.statvfs",
            "os.mkfifo",
            "os.sync",
            "os.fsync",
            // Each entry's stat() is a system call of its own (is_dir() and
            // is_file() answer from what the directory listing said).
            "os.DirEntry.stat",
            "glob.glob",
            "glob.iglob",
        ],
        why: "os and glob file-system calls are blocking disk I/O on the event loop",
        replacement: "await asyncio.to_thread({call}{comma_args}) (or aiofiles.os / anyio)",
        ..BASE
    },
    Rule {
        id: "py-shutil",
        calls: &[
            "shutil.copy",
            "shutil.copy2",
            "shutil.copyfile",
            "shutil.copytree",
            "shutil.copyfileobj",
            "shutil.copymode",
            "shutil.copystat",
            "shutil.rmtree",
            "shutil.move",
            "shutil.which",
            "shutil.disk_usage",
            "shutil.chown",
            "shutil.make_archive",
            "shutil.unpack_archive",
        ],
        why: "shutil copies, moves, deletes and lookups are blocking disk I/O on the event loop",
        replacement: "await asyncio.to_thread({call}{comma_args})",
        ..BASE
    },
    Rule {
        id: "py-archive-tempfile",
        calls: &[
            "tarfile.open",
            "tarfile.TarFile.extractall",
            "tarfile.TarFile.extract",
            "tarfile.TarFile.add",
            "zipfile.ZipFile",
            "zipfile.ZipFile.extractall",
            "zipfile.ZipFile.extract",
            "zipfile.ZipFile.write",
            "tempfile.TemporaryFile",
            "tempfile.NamedTemporaryFile",
            "tempfile.TemporaryDirectory",
            "tempfile.mkstemp",
            "tempfile.mkdtemp",
        ],
        unless_args: &["fileobj", "BytesIO", "StringIO"],
        why: "archives and temporary files are blocking disk I/O on the event loop",
        replacement: "await asyncio.to_thread({call}{comma_args})",
        ..BASE
    },
    Rule {
        id: "py-subprocess",
        calls: &[
            "subprocess.run",
            "subprocess.call",
            "subprocess.check_call",
            "subprocess.check_output",
            "subprocess.getoutput",
            "subprocess.getstatusoutput",
            "subprocess.Popen.wait",
            "subprocess.Popen.communicate",
            "os.system",
            "os.spawnl",
            "os.spawnle",
            "os.spawnlp",
            "os.spawnlpe",
            "os.spawnv",
            "os.spawnve",
            "os.spawnvp",
            "os.spawnvpe",
            "os.posix_spawn",
            "os.posix_spawnp",
        ],
        why: "running a child process (and waiting for it) blocks the event loop until the process ends",
        replacement: "proc = await asyncio.create_subprocess_exec(...); await proc.communicate()",
        method_replacement: Some(
            "await proc.{method}{args} on proc = await asyncio.create_subprocess_exec(...)",
        ),
        ruff: &["ASYNC221"],
        ..BASE
    },
    Rule {
        id: "py-subprocess-spawn",
        calls: &["subprocess.Popen", "os.popen"],
        why: "starting a child process forks and execs on the event loop, and its pipes are blocking",
        replacement: "proc = await asyncio.create_subprocess_exec(...)",
        ruff: &["ASYNC220"],
        ..BASE
    },
    Rule {
        id: "py-os-wait",
        calls: &["os.wait", "os.wait3", "os.wait4", "os.waitid", "os.waitpid"],
        unless_args: &["WNOHANG"],
        why: "waiting for a child process blocks the event loop until it changes state",
        replacement: "await proc.wait() on an asyncio subprocess (or await asyncio.to_thread({call}{comma_args}))",
        ruff: &["ASYNC222"],
        ..BASE
    },
    Rule {
        id: "py-socket",
        calls: &[
            "socket.create_connection",
            "socket.getaddrinfo",
            "socket.gethostbyname",
            "socket.gethostbyname_ex",
            "socket.gethostbyaddr",
            "socket.socket.connect",
            "socket.socket.accept",
            "socket.socket.recv",
            "socket.socket.recv_into",
            "socket.socket.recvfrom",
            "socket.socket.send",
            "socket.socket.sendall",
            "socket.socket.sendto",
            // websocket-client (module `websocket`) is synchronous.
            "websocket.create_connection",
        ],
        // getaddrinfo(.., flags=AI_NUMERICHOST) parses a numeric address and
        // asks no resolver (trio and dask try it on the loop, then a thread).
        unless_args: &["AI_NUMERICHOST"],
        why: "a blocking socket call (or DNS lookup) stops the event loop until the peer answers",
        replacement: "reader, writer = await asyncio.open_connection(...) (or await loop.getaddrinfo(...))",
        method_replacement: Some(
            "await loop.sock_{method}({receiver}{comma_args}) on a non-blocking socket (or asyncio.open_connection streams)",
        ),
        ..BASE
    },
    Rule {
        id: "py-input",
        calls: &["builtins.input"],
        why: "input() waits for the terminal with the event loop stopped",
        replacement: "await asyncio.to_thread(input{comma_args})",
        ruff: &["ASYNC250"],
        ..BASE
    },
    Rule {
        id: "py-sync-db",
        calls: &[
            "sqlite3.connect",
            "sqlite3.Connection.execute",
            "sqlite3.Connection.executemany",
            "sqlite3.Connection.executescript",
            "sqlite3.Connection.commit",
            "sqlite3.Cursor.execute",
            "sqlite3.Cursor.executemany",
            "sqlite3.Cursor.executescript",
            "sqlite3.Cursor.fetchone",
            "sqlite3.Cursor.fetchall",
            "sqlite3.Cursor.fetchmany",
            "psycopg2.connect",
            "psycopg2.extensions.connection.commit",
            "psycopg2.extensions.cursor.execute",
            "psycopg2.extensions.cursor.executemany",
            "psycopg2.extensions.cursor.fetchone",
            "psycopg2.extensions.cursor.fetchall",
            "psycopg2.extensions.cursor.fetchmany",
            "pymysql.connect",
            "pymysql.connections.Connection.commit",
            "pymysql.cursors.Cursor.execute",
            "pymysql.cursors.Cursor.executemany",
            "pymysql.cursors.Cursor.fetchone",
            "pymysql.cursors.Cursor.fetchall",
            "pymysql.cursors.Cursor.fetchmany",
            // DB-API names: not awaited, they are a sync driver's.
            "*.fetchone",
            "*.fetchall",
            "*.fetchmany",
        ],
        why: "a synchronous database driver blocks the event loop for every query",
        replacement: "an async driver: await aiosqlite.{method}{args} (or asyncpg, psycopg async, aiomysql), or await asyncio.to_thread({call}{comma_args})",
        method_replacement: Some(
            "await {call}{args} on an async driver's connection (aiosqlite, asyncpg, psycopg async, aiomysql), or await asyncio.to_thread({call}{comma_args})",
        ),
        ..BASE
    },
    Rule {
        id: "py-sync-session",
        calls: &[
            "sqlalchemy.orm.Session.commit",
            "sqlalchemy.orm.Session.rollback",
            "sqlalchemy.orm.Session.execute",
            "sqlalchemy.orm.Session.scalar",
            "sqlalchemy.orm.Session.scalars",
            "sqlalchemy.orm.Session.get",
            "sqlalchemy.orm.Session.flush",
            "sqlalchemy.orm.Session.refresh",
            "sqlalchemy.orm.Session.merge",
            "sqlalchemy.orm.Session.connection",
            "sqlalchemy.engine.Engine.connect",
            "sqlalchemy.engine.Connection.execute",
            "sqlalchemy.engine.Connection.commit",
            // Not awaited, on something named like a database handle
            // (`self.db`, `session`, `conn`): a synchronous session or
            // connection (an async one's are awaited; one the function
            // awaits elsewhere is not matched).
            "*.commit",
            "*.rollback",
        ],
        receiver_names: &[
            "db",
            "database",
            "db_session",
            "dbsession",
            "session",
            "sess",
            "conn",
            "connection",
            "con",
            "cnx",
            "db_conn",
            "dbconn",
        ],
        why: "a synchronous database session or connection (SQLAlchemy's Session, a DB-API connection) blocks the event loop for every query and commit",
        replacement: "an async session: await {call}{args} on SQLAlchemy's AsyncSession (or an async driver), or await asyncio.to_thread({call}{comma_args})",
        ..BASE
    },
    Rule {
        id: "py-webbrowser",
        calls: &[
            "webbrowser.open",
            "webbrowser.open_new",
            "webbrowser.open_new_tab",
        ],
        why: "webbrowser.open starts a browser process (and on Linux first runs xdg-settings and waits for it) on the event loop",
        replacement: "await asyncio.to_thread({call}{comma_args})",
        ..BASE
    },
    Rule {
        id: "py-media-open",
        calls: &["PIL.Image.open", "av.open"],
        // Image.open(io.BytesIO(data)) decodes bytes already in memory.
        unless_args: &["BytesIO"],
        why: "PIL's Image.open and PyAV's av.open open and probe a file on disk: blocking I/O on the event loop",
        replacement: "await asyncio.to_thread({call}{comma_args})",
        ..BASE
    },
    Rule {
        id: "py-thread-wait",
        calls: &[
            "threading.Thread.join",
            "threading.Event.wait",
            "threading.Lock.acquire",
            "threading.Condition.acquire",
            "threading.Condition.wait",
            "threading.Condition.wait_for",
            "threading.Semaphore.acquire",
            "threading.Barrier.wait",
            "queue.Queue.get",
            "queue.Queue.join",
            "multiprocessing.Queue.get",
            "multiprocessing.Queue.join",
            "multiprocessing.connection.Connection.recv",
            "multiprocessing.connection.Connection.recv_bytes",
            "multiprocessing.connection.Connection.recv_bytes_into",
            "multiprocessing.connection.wait",
            "concurrent.futures.Future.result",
            "concurrent.futures.Future.exception",
            "concurrent.futures.Executor.shutdown",
            "concurrent.futures.wait",
            "concurrent.futures.as_completed",
        ],
        // `q.get(block=False)`, `lock.acquire(blocking=False)`,
        // `executor.shutdown(wait=False)` return at once.
        unless_args: &["block", "blocking", "wait"],
        why: "waiting for another thread or process (a join, a lock, an event, a queue, a future's result) blocks the event loop until it answers",
        replacement: "await asyncio.to_thread({call}{comma_args}) (or asyncio's own Event, Lock, Queue; await asyncio.wrap_future(future))",
        ..BASE
    },
    Rule {
        id: "py-asyncio-run-in-coroutine",
        category: Misuse,
        calls: &["asyncio.run", "*.run_until_complete"],
        why: "starting an event loop inside a coroutine fails (a loop is already running) or blocks it",
        replacement: "await the coroutine directly: await {args_inner} (or asyncio.create_task(...))",
        ..BASE
    },
    Rule {
        id: "py-coroutine-not-awaited",
        category: Misuse,
        check: NotAwaited,
        calls: &[
            "asyncio.sleep",
            "asyncio.wait_for",
            "asyncio.wait",
            "asyncio.gather",
            "asyncio.shield",
            "asyncio.open_connection",
            "asyncio.start_server",
            "asyncio.create_subprocess_exec",
            "asyncio.create_subprocess_shell",
            "asyncio.to_thread",
        ],
        why: "a coroutine called without await never runs (and its errors are lost)",
        replacement: "await {call}{args} (or asyncio.create_task({call}{args}) to run it in the background)",
        ..BASE
    },
    // ---- Rust ----
    Rule {
        id: "rs-thread-sleep",
        language: Rust,
        calls: &["std::thread::sleep", "std::thread::sleep_ms"],
        why: "std::thread::sleep parks the executor thread: every task on it stops",
        replacement: "tokio::time::sleep{args}.await",
        ..BASE
    },
    Rule {
        id: "rs-std-fs",
        language: Rust,
        calls: &[
            "std::fs::read",
            "std::fs::read_to_string",
            "std::fs::write",
            "std::fs::read_dir",
            "std::fs::copy",
            "std::fs::create_dir",
            "std::fs::create_dir_all",
            "std::fs::remove_file",
            "std::fs::remove_dir",
            "std::fs::remove_dir_all",
            "std::fs::rename",
            "std::fs::metadata",
            "std::fs::symlink_metadata",
            "std::fs::canonicalize",
            "std::fs::hard_link",
            "std::fs::read_link",
            "std::fs::set_permissions",
            "std::fs::exists",
            "std::fs::File::open",
            "std::fs::File::create",
            "std::fs::File::create_new",
            "std::fs::OpenOptions::open",
            "std::fs::File::read",
            "std::fs::File::read_to_string",
            "std::fs::File::read_to_end",
            "std::fs::File::read_exact",
            "std::fs::File::write",
            "std::fs::File::write_all",
            "std::fs::File::metadata",
            "std::fs::File::sync_all",
            "std::fs::File::sync_data",
            "std::fs::File::set_len",
        ],
        why: "std::fs is blocking disk I/O on an executor thread",
        replacement: "{tokio_path}{args}.await (or tokio::task::spawn_blocking)",
        method_replacement: Some(
            "{call}{args}.await on a tokio::fs::File (tokio::io::AsyncReadExt / AsyncWriteExt)",
        ),
        ..BASE
    },
    Rule {
        id: "rs-std-path",
        language: Rust,
        calls: &[
            "std::path::Path::exists",
            "std::path::Path::try_exists",
            "std::path::Path::is_file",
            "std::path::Path::is_dir",
            "std::path::Path::is_symlink",
            "std::path::Path::metadata",
            "std::path::Path::symlink_metadata",
            "std::path::Path::canonicalize",
            "std::path::Path::read_dir",
            "std::path::Path::read_link",
            "std::path::PathBuf::exists",
            "std::path::PathBuf::try_exists",
            "std::path::PathBuf::is_file",
            "std::path::PathBuf::is_dir",
            "std::path::PathBuf::is_symlink",
            "std::path::PathBuf::metadata",
            "std::path::PathBuf::symlink_metadata",
            "std::path::PathBuf::canonicalize",
            "std::path::PathBuf::read_dir",
            "std::path::PathBuf::read_link",
        ],
        why: "these std::path methods query the file system: blocking disk I/O on an executor thread",
        replacement: "tokio::fs::metadata / try_exists / canonicalize / read_dir ({receiver}).await",
        ..BASE
    },
    Rule {
        id: "rs-stdin",
        language: Rust,
        calls: &[
            "std::io::Stdin::read_line",
            "std::io::Stdin::read_to_string",
            "std::io::Stdin::read_to_end",
            "std::io::Stdin::lines",
            "std::io::StdinLock::read_line",
            "std::io::StdinLock::read_to_string",
            "std::io::StdinLock::read_to_end",
            "std::io::StdinLock::lines",
        ],
        why: "reading std::io::stdin waits for the terminal on an executor thread",
        replacement: "tokio::io::BufReader::new(tokio::io::stdin()).lines() with .next_line().await",
        ..BASE
    },
    Rule {
        id: "rs-reqwest-blocking",
        language: Rust,
        calls: &[
            "reqwest::blocking::get",
            "reqwest::blocking::Client::new",
            "reqwest::blocking::Client::builder",
            "reqwest::blocking::Client::execute",
            "reqwest::blocking::RequestBuilder::send",
        ],
        why: "reqwest::blocking waits for the network on an executor thread (and panics when created or dropped inside a runtime)",
        replacement: "reqwest::Client: client.get(url).send().await",
        ..BASE
    },
    Rule {
        id: "rs-std-net",
        language: Rust,
        calls: &[
            "std::net::TcpStream::connect",
            "std::net::TcpStream::connect_timeout",
            "std::net::TcpStream::read",
            "std::net::TcpStream::read_exact",
            "std::net::TcpStream::read_to_end",
            "std::net::TcpStream::read_to_string",
            "std::net::TcpStream::write",
            "std::net::TcpStream::write_all",
            "std::net::TcpStream::peek",
            "std::net::TcpListener::accept",
            "std::net::TcpListener::incoming",
            "std::net::UdpSocket::recv",
            "std::net::UdpSocket::recv_from",
            "std::net::UdpSocket::send",
            "std::net::UdpSocket::send_to",
        ],
        why: "std::net sockets block the executor thread until the peer answers",
        replacement: "{tokio_path}{args}.await (tokio::net; for DNS, tokio::net::lookup_host)",
        method_replacement: Some("{call}{args}.await on a tokio::net socket"),
        ..BASE
    },
    Rule {
        id: "rs-dns-lookup",
        language: Rust,
        calls: &["*.to_socket_addrs"],
        why: "ToSocketAddrs resolves host names with a blocking DNS lookup on the executor thread",
        replacement: "tokio::net::lookup_host({receiver}).await",
        ..BASE
    },
    Rule {
        id: "rs-std-process",
        language: Rust,
        calls: &[
            "std::process::Command::output",
            "std::process::Command::status",
            "std::process::Child::wait",
            "std::process::Child::wait_with_output",
        ],
        why: "waiting for a std::process child blocks the executor thread until it exits",
        replacement: "tokio::process::Command: .{method}().await",
        method_replacement: Some("{call}{args}.await on a tokio::process::Command / Child"),
        ..BASE
    },
    Rule {
        id: "rs-thread-join",
        language: Rust,
        calls: &["std::thread::JoinHandle::join"],
        why: "joining a std thread blocks the executor thread until that thread ends",
        replacement: "tokio::task::spawn_blocking(...) and handle.await",
        ..BASE
    },
    Rule {
        id: "rs-block-on",
        language: Rust,
        calls: &[
            "futures::executor::block_on",
            "futures_executor::block_on",
            "pollster::block_on",
            "async_std::task::block_on",
            "smol::block_on",
            "*.block_on",
        ],
        why: "block_on inside async code blocks the executor thread (tokio panics: a runtime cannot start from within a runtime)",
        replacement: "{args_inner}.await",
        ..BASE
    },
    Rule {
        id: "rs-mutex-guard-across-await",
        language: Rust,
        check: GuardAcrossAwait,
        calls: &[
            "std::sync::Mutex::lock",
            "std::sync::RwLock::read",
            "std::sync::RwLock::write",
        ],
        why: "a std::sync lock guard held across .await blocks every other task that wants the lock (and makes the future !Send)",
        replacement: "drop the guard before the .await (scope it in a block), or use tokio::sync::{Mutex, RwLock}",
        ..BASE
    },
];

/// A call (or, with `via_slash`, Python's `/` on such an object) known to
/// return an object of type `gives`.
#[derive(Debug, Serialize)]
pub(crate) struct Producer {
    pub(crate) language: Language,
    pub(crate) call: &'static str,
    pub(crate) gives: &'static str,
}

const fn py(call: &'static str, gives: &'static str) -> Producer {
    Producer {
        language: Python,
        call,
        gives,
    }
}

const fn rs(call: &'static str, gives: &'static str) -> Producer {
    Producer {
        language: Rust,
        call,
        gives,
    }
}

/// Calls whose result type the tool knows. A method listed with its own type
/// (`std::process::Command::arg` gives `std::process::Command`) is a builder.
pub(crate) static PRODUCERS: &[Producer] = &[
    py("pathlib.Path", "pathlib.Path"),
    py("pathlib.PosixPath", "pathlib.Path"),
    py("pathlib.WindowsPath", "pathlib.Path"),
    py("pathlib.Path.cwd", "pathlib.Path"),
    py("pathlib.Path.home", "pathlib.Path"),
    py("pathlib.Path.joinpath", "pathlib.Path"),
    py("pathlib.Path.with_name", "pathlib.Path"),
    py("pathlib.Path.with_suffix", "pathlib.Path"),
    py("pathlib.Path.with_stem", "pathlib.Path"),
    py("pathlib.Path.resolve", "pathlib.Path"),
    py("pathlib.Path.absolute", "pathlib.Path"),
    py("pathlib.Path.expanduser", "pathlib.Path"),
    py("io.BytesIO", "io.BytesIO"),
    py("io.StringIO", "io.StringIO"),
    py("tarfile.open", "tarfile.TarFile"),
    py("tarfile.TarFile.open", "tarfile.TarFile"),
    py("zipfile.ZipFile", "zipfile.ZipFile"),
    py("urllib3.PoolManager", "urllib3.PoolManager"),
    py("http.client.HTTPConnection", "http.client.HTTPConnection"),
    py("http.client.HTTPSConnection", "http.client.HTTPSConnection"),
    py("requests.Session", "requests.Session"),
    py("requests.session", "requests.Session"),
    py("httpx.Client", "httpx.Client"),
    py("subprocess.Popen", "subprocess.Popen"),
    py("socket.socket", "socket.socket"),
    py("socket.create_connection", "socket.socket"),
    py("socket.create_server", "socket.socket"),
    py("sqlite3.connect", "sqlite3.Connection"),
    py("sqlalchemy.orm.Session", "sqlalchemy.orm.Session"),
    py("sqlalchemy.orm.session.Session", "sqlalchemy.orm.Session"),
    py("sqlmodel.Session", "sqlalchemy.orm.Session"),
    py("sqlalchemy.create_engine", "sqlalchemy.engine.Engine"),
    py("sqlalchemy.engine.Engine", "sqlalchemy.engine.Engine"),
    py(
        "sqlalchemy.engine.Engine.connect",
        "sqlalchemy.engine.Connection",
    ),
    py(
        "sqlalchemy.engine.Connection",
        "sqlalchemy.engine.Connection",
    ),
    py("os.scandir", "os.ScandirIterator"),
    py("threading.Thread", "threading.Thread"),
    py("threading.Timer", "threading.Thread"),
    py("threading.Event", "threading.Event"),
    py("threading.Lock", "threading.Lock"),
    py("threading.RLock", "threading.Lock"),
    py("threading.Condition", "threading.Condition"),
    py("threading.Semaphore", "threading.Semaphore"),
    py("threading.BoundedSemaphore", "threading.Semaphore"),
    py("threading.Barrier", "threading.Barrier"),
    py("queue.Queue", "queue.Queue"),
    py("queue.LifoQueue", "queue.Queue"),
    py("queue.PriorityQueue", "queue.Queue"),
    py("queue.SimpleQueue", "queue.Queue"),
    py("multiprocessing.Queue", "multiprocessing.Queue"),
    py("multiprocessing.JoinableQueue", "multiprocessing.Queue"),
    py("multiprocessing.SimpleQueue", "multiprocessing.Queue"),
    py(
        "multiprocessing.connection.Client",
        "multiprocessing.connection.Connection",
    ),
    py(
        "multiprocessing.connection.Connection",
        "multiprocessing.connection.Connection",
    ),
    py(
        "concurrent.futures.ThreadPoolExecutor",
        "concurrent.futures.Executor",
    ),
    py(
        "concurrent.futures.ProcessPoolExecutor",
        "concurrent.futures.Executor",
    ),
    py(
        "concurrent.futures.Executor.submit",
        "concurrent.futures.Future",
    ),
    py("concurrent.futures.Future", "concurrent.futures.Future"),
    py("os.DirEntry", "os.DirEntry"),
    py("sqlite3.Connection.cursor", "sqlite3.Cursor"),
    py("sqlite3.Connection.execute", "sqlite3.Cursor"),
    py("sqlite3.Cursor.execute", "sqlite3.Cursor"),
    py("psycopg2.connect", "psycopg2.extensions.connection"),
    py(
        "psycopg2.extensions.connection.cursor",
        "psycopg2.extensions.cursor",
    ),
    py("pymysql.connect", "pymysql.connections.Connection"),
    py("pymysql.Connect", "pymysql.connections.Connection"),
    py(
        "pymysql.connections.Connection",
        "pymysql.connections.Connection",
    ),
    py(
        "pymysql.connections.Connection.cursor",
        "pymysql.cursors.Cursor",
    ),
    rs("std::path::Path::new", "std::path::Path"),
    rs("std::path::Path::join", "std::path::PathBuf"),
    rs("std::path::Path::to_path_buf", "std::path::PathBuf"),
    rs("std::path::PathBuf::new", "std::path::PathBuf"),
    rs("std::path::PathBuf::from", "std::path::PathBuf"),
    rs("std::path::PathBuf::join", "std::path::PathBuf"),
    rs("std::thread::spawn", "std::thread::JoinHandle"),
    rs("std::thread::Builder::spawn", "std::thread::JoinHandle"),
    rs("std::process::Command::new", "std::process::Command"),
    rs("std::process::Command::arg", "std::process::Command"),
    rs("std::process::Command::args", "std::process::Command"),
    rs("std::process::Command::env", "std::process::Command"),
    rs("std::process::Command::envs", "std::process::Command"),
    rs("std::process::Command::env_remove", "std::process::Command"),
    rs("std::process::Command::env_clear", "std::process::Command"),
    rs(
        "std::process::Command::current_dir",
        "std::process::Command",
    ),
    rs("std::process::Command::stdin", "std::process::Command"),
    rs("std::process::Command::stdout", "std::process::Command"),
    rs("std::process::Command::stderr", "std::process::Command"),
    rs("std::process::Command::spawn", "std::process::Child"),
    rs("std::fs::File::open", "std::fs::File"),
    rs("std::fs::File::create", "std::fs::File"),
    rs("std::fs::File::create_new", "std::fs::File"),
    rs("std::fs::OpenOptions::new", "std::fs::OpenOptions"),
    rs("std::fs::File::options", "std::fs::OpenOptions"),
    rs("std::fs::OpenOptions::read", "std::fs::OpenOptions"),
    rs("std::fs::OpenOptions::write", "std::fs::OpenOptions"),
    rs("std::fs::OpenOptions::append", "std::fs::OpenOptions"),
    rs("std::fs::OpenOptions::truncate", "std::fs::OpenOptions"),
    rs("std::fs::OpenOptions::create", "std::fs::OpenOptions"),
    rs("std::fs::OpenOptions::create_new", "std::fs::OpenOptions"),
    rs("std::fs::OpenOptions::open", "std::fs::File"),
    rs("std::net::TcpStream::connect", "std::net::TcpStream"),
    rs(
        "std::net::TcpStream::connect_timeout",
        "std::net::TcpStream",
    ),
    rs("std::net::TcpListener::bind", "std::net::TcpListener"),
    rs("std::net::UdpSocket::bind", "std::net::UdpSocket"),
    rs("std::io::stdin", "std::io::Stdin"),
    rs("std::io::Stdin::lock", "std::io::StdinLock"),
    rs(
        "reqwest::blocking::Client::new",
        "reqwest::blocking::Client",
    ),
    rs(
        "reqwest::blocking::Client::builder",
        "reqwest::blocking::ClientBuilder",
    ),
    rs(
        "reqwest::blocking::ClientBuilder::new",
        "reqwest::blocking::ClientBuilder",
    ),
    rs(
        "reqwest::blocking::ClientBuilder::timeout",
        "reqwest::blocking::ClientBuilder",
    ),
    rs(
        "reqwest::blocking::ClientBuilder::user_agent",
        "reqwest::blocking::ClientBuilder",
    ),
    rs(
        "reqwest::blocking::ClientBuilder::default_headers",
        "reqwest::blocking::ClientBuilder",
    ),
    rs(
        "reqwest::blocking::ClientBuilder::build",
        "reqwest::blocking::Client",
    ),
    rs(
        "reqwest::blocking::Client::get",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::Client::post",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::Client::put",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::Client::patch",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::Client::delete",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::Client::head",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::Client::request",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::RequestBuilder::header",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::RequestBuilder::headers",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::RequestBuilder::json",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::RequestBuilder::body",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::RequestBuilder::query",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::RequestBuilder::form",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::RequestBuilder::timeout",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::RequestBuilder::bearer_auth",
        "reqwest::blocking::RequestBuilder",
    ),
    rs(
        "reqwest::blocking::RequestBuilder::basic_auth",
        "reqwest::blocking::RequestBuilder",
    ),
];

/// The tables, indexed for lookups during a scan.
pub(crate) struct RuleIndex {
    /// Canonical call path → rule, per language.
    calls: HashMap<(Language, &'static str), &'static Rule>,
    /// Method name (from `*.name`) → rule, per language.
    any_receiver: HashMap<(Language, &'static str), &'static Rule>,
    /// `.name` for each `*.name` of a rule with [`Rule::receiver_names`]:
    /// what a source must hold for such a rule to match in it.
    named_receiver_methods: Vec<String>,
    producers: HashMap<(Language, &'static str), &'static str>,
    types: HashMap<Language, HashSet<&'static str>>,
    /// Modules that appear in some table (for `from M import *` / `use M::*`).
    modules: HashSet<(Language, String)>,
}

impl RuleIndex {
    pub(crate) fn get() -> &'static RuleIndex {
        static INDEX: OnceLock<RuleIndex> = OnceLock::new();
        INDEX.get_or_init(RuleIndex::build)
    }

    fn build() -> RuleIndex {
        let mut index = RuleIndex {
            calls: HashMap::new(),
            any_receiver: HashMap::new(),
            named_receiver_methods: Vec::new(),
            producers: HashMap::new(),
            types: HashMap::new(),
            modules: HashSet::new(),
        };
        for rule in RULES {
            for &call in rule.calls {
                if let Some(method) = call.strip_prefix("*.") {
                    if !rule.receiver_names.is_empty() {
                        index.named_receiver_methods.push(format!(".{method}"));
                    }
                    index
                        .any_receiver
                        .entry((rule.language, method))
                        .or_insert(rule);
                } else {
                    index.calls.entry((rule.language, call)).or_insert(rule);
                    index.add_modules(rule.language, call);
                }
            }
        }
        for producer in PRODUCERS {
            index
                .producers
                .insert((producer.language, producer.call), producer.gives);
            index
                .types
                .entry(producer.language)
                .or_default()
                .insert(producer.gives);
            index.add_modules(producer.language, producer.call);
        }
        index
    }

    fn add_modules(&mut self, language: Language, call: &str) {
        let separator = separator(language);
        let mut end = 0;
        while let Some(found) = call[end..].find(separator) {
            end += found;
            self.modules.insert((language, call[..end].to_string()));
            end += separator.len();
        }
    }

    /// The rule for a call with canonical path `path`.
    pub(crate) fn rule_for_call(&self, language: Language, path: &str) -> Option<&'static Rule> {
        self.calls.get(&(language, path)).copied()
    }

    /// `.name` for the methods rules match only on named receivers
    /// ([`Rule::receiver_names`]).
    pub(crate) fn named_receiver_methods(&self) -> &[String] {
        &self.named_receiver_methods
    }

    /// The rule for a method `name` on a receiver of unknown type.
    pub(crate) fn rule_for_method(&self, language: Language, name: &str) -> Option<&'static Rule> {
        self.any_receiver.get(&(language, name)).copied()
    }

    /// What type the call `path` returns, if known.
    pub(crate) fn produces(&self, language: Language, path: &str) -> Option<&'static str> {
        self.producers.get(&(language, path)).copied()
    }

    /// The interned name of a known type (for annotations such as `p: Path`).
    pub(crate) fn known_type(&self, language: Language, path: &str) -> Option<&'static str> {
        self.types.get(&language)?.get(path).copied()
    }

    /// Whether `path` is a module (or type) some table entry lives in.
    pub(crate) fn is_known_module(&self, language: Language, path: &str) -> bool {
        self.modules.contains(&(language, path.to_string()))
    }

    /// Whether `path` names anything in the tables (a call or a producer).
    pub(crate) fn is_known_name(&self, language: Language, path: &str) -> bool {
        self.calls.contains_key(&(language, path))
            || self.producers.contains_key(&(language, path))
            || self.is_known_module(language, path)
    }
}

/// The path separator of a language: `.` or `::`.
pub(crate) fn separator(language: Language) -> &'static str {
    match language {
        Language::Python => ".",
        Language::Rust => "::",
    }
}

/// The rule table as `--rules` prints it.
#[derive(Serialize)]
pub(crate) struct RuleTable {
    pub(crate) rules: &'static [Rule],
    pub(crate) types: &'static [Producer],
}

pub(crate) fn table() -> RuleTable {
    RuleTable {
        rules: RULES,
        types: PRODUCERS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_rules_are_complete() {
        let mut seen = HashSet::new();
        for rule in RULES {
            assert!(seen.insert(rule.id), "duplicate rule id {}", rule.id);
            assert!(!rule.calls.is_empty(), "{} matches nothing", rule.id);
            assert!(!rule.why.is_empty() && !rule.replacement.is_empty());
            assert!(
                rule.language == Language::Python || rule.unless_args.is_empty(),
                "{}: unless_args is read by the Python analyzer only",
                rule.id
            );
            for code in rule.ruff {
                assert!(code.starts_with("ASYNC"), "{}: {code}", rule.id);
            }
            let prefix = match rule.language {
                Language::Python => "py-",
                Language::Rust => "rs-",
            };
            assert!(rule.id.starts_with(prefix), "{}", rule.id);
        }
    }

    #[test]
    fn methods_use_known_types() {
        let index = RuleIndex::get();
        assert_eq!(
            index.produces(Language::Python, "pathlib.Path"),
            Some("pathlib.Path")
        );
        assert!(index.is_known_module(Language::Python, "time"));
        assert!(index.is_known_module(Language::Rust, "std::thread"));
        assert!(index.rule_for_method(Language::Rust, "block_on").is_some());
        assert!(
            index
                .known_type(Language::Rust, "std::process::Command")
                .is_some()
        );
    }
}
