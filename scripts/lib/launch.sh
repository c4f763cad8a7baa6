# Shared by the launchers in scripts/: find the bundle, build the release
# binaries when they are missing or older than the sources, then run one.
# Sourced, not executed; works under `bash scripts/<tool>` without the run bit.

# The bundle's root: two levels above this file, whatever the caller's cwd.
ASYNC_PATTERNS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ASYNC_PATTERNS_BIN="${CARGO_TARGET_DIR:-$ASYNC_PATTERNS_ROOT/target}/release"
# ASYNC_PATTERNS_BIN_DIR: use binaries already built there, never build (the
# tests point it at the debug binaries cargo test has just built).
if [ -n "${ASYNC_PATTERNS_BIN_DIR:-}" ]; then
  ASYNC_PATTERNS_BIN="$ASYNC_PATTERNS_BIN_DIR"
fi

# Builds every binary of the bundle once, when one is missing or stale.
async_patterns_ensure_built() {
  local tool="$1" root="$ASYNC_PATTERNS_ROOT" binary="$ASYNC_PATTERNS_BIN/$1"
  if [ -n "${ASYNC_PATTERNS_BIN_DIR:-}" ]; then
    [ -x "$binary" ] && return 0
    echo "async-patterns: $binary not found (ASYNC_PATTERNS_BIN_DIR is set, so nothing is built)" >&2
    exit 127
  fi
  if [ -x "$binary" ]; then
    local newer
    newer="$(cd "$root" && find src Cargo.toml Cargo.lock -newer "$binary" -print -quit 2>/dev/null)"
    [ -z "$newer" ] && return 0
    echo "async-patterns: sources changed ($newer); rebuilding" >&2
  else
    echo "async-patterns: building $tool (first run, about a minute)" >&2
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "async-patterns: cargo is not installed. Install Rust (https://rustup.rs), then run this again." >&2
    exit 127
  fi
  # Build chatter goes to stderr: stdout is reserved for the tool's JSON.
  (cd "$root" && cargo build --release --quiet --bins 1>&2) || {
    echo "async-patterns: the build failed (see above)" >&2
    exit 127
  }
  # cargo leaves up-to-date binaries alone; mark them fresh for the check above.
  local built
  for built in "$ASYNC_PATTERNS_BIN"/{async_requests,async_file_reader,async_timeout,find_blocking_calls,demo_api}; do
    [ -e "$built" ] && touch "$built"
  done
  return 0
}

# Builds if needed, then replaces this shell with the tool.
async_patterns_exec() {
  local tool="$1"
  shift
  async_patterns_ensure_built "$tool"
  exec "$ASYNC_PATTERNS_BIN/$tool" "$@"
}
