# Shared by the launchers in scripts/: find the one `async-patterns` binary
# (or build it, once), then become the tool. Sourced, not executed; works under
# `bash scripts/<tool>` without the run bit, from any directory.
#
# Where the binary comes from; the first found wins:
#   1. $ASYNC_PATTERNS_BIN_DIR: a folder of binaries built elsewhere; never builds
#   2. bin/<os>-<arch>/ inside this skill folder: the prebuilt bundle (if the
#      unpacker dropped the run bit, it is restored, or a copy runs from the cache)
#   3. an up-to-date build of this folder's sources (target/release, or the
#      cache dir when this folder is read-only)
#   4. `async-patterns` on PATH with the same version (pip or cargo installed)
#   5. a build from source: in the background, one at a time (a lock), its
#      progress on stderr, waited for at most $ASYNC_PATTERNS_BUILD_WAIT
#      seconds (default 90); after that the launcher exits 75 with one JSON
#      document saying when to retry, and the build goes on. A failed build
#      exits 127 with the end of its log on stderr.
#
# stdout is the tool's: everything the launcher says goes to stderr, except
# the JSON of exit 75 and 127, which an agent parses like any tool error.

# Builtins where they do: the bundle's first result should come within tens
# of milliseconds, and every process started here costs about one.
_ap_here="${BASH_SOURCE[0]%/*}"
[ "$_ap_here" = "${BASH_SOURCE[0]}" ] && _ap_here=.
ASYNC_PATTERNS_ROOT="$(cd "$_ap_here/../.." && pwd)"

if [ -f "$ASYNC_PATTERNS_ROOT/VERSION" ]; then
  read -r ASYNC_PATTERNS_VERSION <"$ASYNC_PATTERNS_ROOT/VERSION"
else
  ASYNC_PATTERNS_VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ASYNC_PATTERNS_ROOT/Cargo.toml" 2>/dev/null | head -n 1)"
fi

# The tools of the one binary: links or copies of it under these names run
# the tool of that name.
ASYNC_PATTERNS_TOOLS=(async_requests async_file_reader async_timeout find_blocking_calls demo_api)

# CPU seconds a clean release build takes (measured on 2 cores, see
# BENCHMARKS.md), for the estimate shown while building.
ASYNC_PATTERNS_BUILD_CPU_SECONDS=170

_ap_say() { echo "async-patterns: $*" >&2; }

_ap_json_string() {
  local text="$1"
  text="${text//\\/\\\\}"
  text="${text//\"/\\\"}"
  text="${text//$'\n'/\\n}"
  text="${text//$'\t'/\\t}"
  printf '"%s"' "$text"
}

# Prints the launcher's own error document on stdout (the tool's contract:
# stdout is JSON), the words on stderr too.
_ap_error_json() {
  local tool="$1" kind="$2" message="$3" extra="${4:-}"
  printf '{"tool":%s,"version":%s,"error":{"kind":%s,"message":%s%s}}\n' \
    "$(_ap_json_string "$tool")" "$(_ap_json_string "$ASYNC_PATTERNS_VERSION")" \
    "$(_ap_json_string "$kind")" "$(_ap_json_string "$message")" "$extra"
}

_ap_platform() {
  local os arch
  read -r os arch < <(uname -sm)
  case "$os" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) os="$(echo "$os" | tr '[:upper:]' '[:lower:]')" ;;
  esac
  case "$arch" in
    amd64) arch=x86_64 ;;
    arm64) arch=aarch64 ;;
  esac
  echo "$os-$arch"
}

_ap_cache_dir() {
  if [ -n "${ASYNC_PATTERNS_CACHE_DIR:-}" ]; then
    echo "$ASYNC_PATTERNS_CACHE_DIR"
  elif [ -n "${XDG_CACHE_HOME:-}" ]; then
    echo "$XDG_CACHE_HOME/async-patterns"
  elif [ -n "${HOME:-}" ]; then
    echo "$HOME/.cache/async-patterns"
  else
    echo "/tmp/async-patterns-$(id -u)"
  fi
}

# Where a source build goes: CARGO_TARGET_DIR, else target/ in this folder
# when it is writable, else the user's cache dir (skills are often installed
# read-only).
_ap_target_dir() {
  if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    echo "$CARGO_TARGET_DIR"
  elif { [ -d "$ASYNC_PATTERNS_ROOT/target" ] && [ -w "$ASYNC_PATTERNS_ROOT/target" ]; } \
    || { [ ! -e "$ASYNC_PATTERNS_ROOT/target" ] && [ -w "$ASYNC_PATTERNS_ROOT" ]; }; then
    echo "$ASYNC_PATTERNS_ROOT/target"
  else
    echo "$(_ap_cache_dir)/target-$ASYNC_PATTERNS_VERSION"
  fi
}

_ap_file_size() { wc -c <"$1" 2>/dev/null | tr -d ' '; }

# A prebuilt binary whose run bit an unpacker dropped: restore it, or run a
# copy from the cache when this folder is read-only. Prints the runnable path.
_ap_runnable() {
  local binary="$1"
  if [ -x "$binary" ]; then
    echo "$binary"
    return 0
  fi
  chmod +x "$binary" 2>/dev/null
  if [ -x "$binary" ]; then
    echo "$binary"
    return 0
  fi
  local copy
  copy="$(_ap_cache_dir)/bin/$ASYNC_PATTERNS_VERSION-$(_ap_platform)/async-patterns"
  if [ ! -x "$copy" ] || [ "$(_ap_file_size "$copy")" != "$(_ap_file_size "$binary")" ]; then
    mkdir -p "$(dirname "$copy")" \
      && cp "$binary" "$copy.$$" && chmod 755 "$copy.$$" && mv -f "$copy.$$" "$copy" \
      || return 1
  fi
  echo "$copy"
}

# True when a source build is at least as new as every source file.
_ap_fresh() {
  local binary="$1" newer
  [ -x "$binary" ] || return 1
  [ -d "$ASYNC_PATTERNS_ROOT/src" ] || return 0
  newer="$(cd "$ASYNC_PATTERNS_ROOT" && find src Cargo.toml Cargo.lock -newer "$binary" -print -quit 2>/dev/null)"
  [ -z "$newer" ]
}

# Sets ASYNC_PATTERNS_EXE to a binary that runs here, without building;
# returns 1 when there is none.
async_patterns_find() {
  local tool="$1" candidate
  ASYNC_PATTERNS_EXE=""
  if [ -n "${ASYNC_PATTERNS_BIN_DIR:-}" ]; then
    for candidate in "$ASYNC_PATTERNS_BIN_DIR/async-patterns" "$ASYNC_PATTERNS_BIN_DIR/$tool"; do
      if [ -f "$candidate" ]; then
        ASYNC_PATTERNS_EXE="$(_ap_runnable "$candidate")" && return 0
      fi
    done
    _ap_say "no async-patterns binary in ASYNC_PATTERNS_BIN_DIR=$ASYNC_PATTERNS_BIN_DIR (it is set, so nothing is built)"
    _ap_error_json "$tool" "not_installed" "no async-patterns binary in ASYNC_PATTERNS_BIN_DIR=$ASYNC_PATTERNS_BIN_DIR"
    exit 127
  fi
  candidate="$ASYNC_PATTERNS_ROOT/bin/$(_ap_platform)/async-patterns"
  if [ -f "$candidate" ]; then
    ASYNC_PATTERNS_EXE="$(_ap_runnable "$candidate")" && return 0
  fi
  candidate="$(_ap_target_dir)/release/async-patterns"
  if [ -d "$ASYNC_PATTERNS_ROOT/src" ] && _ap_fresh "$candidate"; then
    ASYNC_PATTERNS_EXE="$candidate"
    return 0
  fi
  candidate="$(command -v async-patterns 2>/dev/null)"
  if [ -n "$candidate" ] && [ "$("$candidate" --version 2>/dev/null)" = "async-patterns $ASYNC_PATTERNS_VERSION" ]; then
    ASYNC_PATTERNS_EXE="$candidate"
    return 0
  fi
  return 1
}

_ap_cargo() {
  if command -v cargo >/dev/null 2>&1; then
    command -v cargo
  elif [ -n "${HOME:-}" ] && [ -x "$HOME/.cargo/bin/cargo" ]; then
    echo "$HOME/.cargo/bin/cargo"
  else
    return 1
  fi
}

_ap_cores() { getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2; }

# Seconds a clean build should take here: CPU seconds over the cores, but
# never below the part that cannot run in parallel.
_ap_estimate() {
  local cores estimate
  cores="$(_ap_cores)"
  estimate=$((ASYNC_PATTERNS_BUILD_CPU_SECONDS / cores + 5))
  [ "$estimate" -lt 40 ] && estimate=40
  echo "$estimate"
}

# Starts the background build unless one is running; the lock is a
# directory (mkdir is atomic everywhere), released by the build itself.
_ap_start_build() {
  local state="$1" target="$2" cargo="$3" pid
  mkdir -p "$state" || return 1
  if mkdir "$state/lock" 2>/dev/null; then
    rm -f "$state/status" "$state/pid"
    date +%s >"$state/started"
    : >"$state/log"
    # setsid: the build must outlive this launcher, which an agent's harness
    # may kill at its own time limit; the next call picks the build up.
    local starter=()
    command -v setsid >/dev/null 2>&1 && starter=(setsid)
    (
      cd "$ASYNC_PATTERNS_ROOT" || exit 1
      AP_STATE="$state" AP_TARGET="$target" AP_CARGO="$cargo" nohup ${starter[@]+"${starter[@]}"} bash -c '
        echo $$ >"$AP_STATE/pid.tmp" && mv -f "$AP_STATE/pid.tmp" "$AP_STATE/pid"
        CARGO_TARGET_DIR="$AP_TARGET" "$AP_CARGO" build --release --bin async-patterns >>"$AP_STATE/log" 2>&1
        code=$?
        [ "$code" = 0 ] && touch "$AP_TARGET/release/async-patterns"
        echo "$code" >"$AP_STATE/status.tmp" && mv -f "$AP_STATE/status.tmp" "$AP_STATE/status"
        rm -f "$AP_STATE/pid"
        rmdir "$AP_STATE/lock"
      ' </dev/null >/dev/null 2>&1 &
    )
    return 0
  fi
  # Held: by a live build (wait for it), or left by one that died (retry).
  pid="$(cat "$state/pid" 2>/dev/null)"
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && [ ! -f "$state/status" ]; then
    rm -f "$state/pid"
    rmdir "$state/lock" 2>/dev/null
    _ap_start_build "$state" "$target" "$cargo"
  fi
  return 0
}

# Builds from source (or joins the build under way) and waits at most
# `wait` seconds; "forever" waits to the end.
async_patterns_build() {
  local tool="$1" wait="$2" target cargo state estimate started now elapsed left shown=0 size
  target="$(_ap_target_dir)"
  state="$target/async-patterns-build"
  if [ ! -d "$ASYNC_PATTERNS_ROOT/src" ]; then
    _ap_say "no prebuilt binary for $(_ap_platform) in $ASYNC_PATTERNS_ROOT/bin and no sources to build; install with 'pip install async-patterns' or use a bundle for this platform"
    _ap_error_json "$tool" "not_installed" "no prebuilt binary for $(_ap_platform) and no sources to build"
    exit 127
  fi
  if ! cargo="$(_ap_cargo)"; then
    _ap_say "cargo is not installed, and there is no prebuilt binary for $(_ap_platform). Install Rust (https://rustup.rs), or use the prebuilt bundle or the wheel (see README)."
    _ap_error_json "$tool" "not_installed" "no prebuilt binary for $(_ap_platform) and cargo is not installed"
    exit 127
  fi
  mkdir -p "$target" 2>/dev/null
  if ! _ap_start_build "$state" "$target" "$cargo"; then
    _ap_say "cannot create $state"
    _ap_error_json "$tool" "build_failed" "cannot create the build directory $state"
    exit 127
  fi
  estimate="$(_ap_estimate)"
  started="$(cat "$state/started" 2>/dev/null || date +%s)"
  _ap_say "building async-patterns $ASYNC_PATTERNS_VERSION from source into $target (first run): about ${estimate} s on $(_ap_cores) cores; cargo's progress follows. The build log is $state/log."
  while :; do
    size="$(_ap_file_size "$state/log")"
    if [ -n "$size" ] && [ "$size" -gt "$shown" ]; then
      tail -c +"$((shown + 1))" "$state/log" | head -c "$((size - shown))" >&2
      shown="$size"
    fi
    if [ ! -d "$state/lock" ]; then
      break
    fi
    now="$(date +%s)"
    elapsed=$((now - started))
    if [ "$wait" != forever ] && [ "$SECONDS" -ge "$wait" ]; then
      left=$((estimate - elapsed))
      [ "$left" -lt 5 ] && left=5
      _ap_say "still building after ${SECONDS} s here (${elapsed} s in all); it goes on in the background. Run the same command again in about ${left} s (it waits for this build), or run: bash $ASYNC_PATTERNS_ROOT/scripts/build"
      _ap_error_json "$tool" "building" \
        "async-patterns is being built from source (first run, about ${estimate} s in all, ${elapsed} s so far); run the same command again in about ${left} s, or run 'bash scripts/build' to wait for it" \
        ",\"retry_after_s\":$left,\"log\":$(_ap_json_string "$state/log")"
      exit 75
    fi
    sleep 0.5
  done
  if [ "$(cat "$state/status" 2>/dev/null)" != 0 ] || [ ! -x "$target/release/async-patterns" ]; then
    _ap_say "the build failed; the end of its log ($state/log):"
    tail -n 40 "$state/log" >&2
    _ap_error_json "$tool" "build_failed" "the build from source failed; see the log" ",\"log\":$(_ap_json_string "$state/log")"
    exit 127
  fi
  _ap_say "built $target/release/async-patterns"
  ASYNC_PATTERNS_EXE="$target/release/async-patterns"
}

# Finds or builds the binary: sets ASYNC_PATTERNS_EXE, or exits 75 / 127.
async_patterns_ensure() {
  local tool="$1"
  async_patterns_find "$tool" && return 0
  local binary
  binary="$(_ap_target_dir)/release/async-patterns"
  if [ -x "$binary" ]; then
    _ap_say "sources changed since the last build; rebuilding"
  fi
  local wait="${ASYNC_PATTERNS_BUILD_WAIT:-90}"
  case "$wait" in
    '' | *[!0-9]*)
      _ap_say "ASYNC_PATTERNS_BUILD_WAIT=$wait is not a whole number of seconds; waiting 90"
      wait=90
      ;;
  esac
  async_patterns_build "$tool" "$wait"
}

# Puts a link named after each tool next to `binary`, so that folder can go
# on PATH (`async_requests ...`).
async_patterns_link_tools() {
  local dir tool
  dir="$(dirname "$1")"
  for tool in "${ASYNC_PATTERNS_TOOLS[@]}"; do
    ln -sfn async-patterns "$dir/$tool" 2>/dev/null || true
  done
}

# Finds or builds the binary, then replaces this shell with the tool.
async_patterns_exec() {
  local tool="$1"
  shift
  async_patterns_ensure "$tool"
  exec -a "$tool" "$ASYNC_PATTERNS_EXE" "$@"
}
