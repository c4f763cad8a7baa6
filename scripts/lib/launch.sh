# Shared by the launchers in scripts/: find the one `async-patterns` binary
# (or build it, once), then become the tool. Sourced, not executed; works under
# `bash scripts/<tool>` without the run bit, from any directory.
#
# Where the binary comes from; the first found wins:
#   1. $ASYNC_PATTERNS_BIN_DIR: a folder of binaries built elsewhere; never builds
#   2. bin/<os>-<arch>/ inside this skill folder: the prebuilt bundle (if the
#      unpacker dropped the run bit, it is restored, or a copy runs from the
#      cache, or the dynamic loader runs it; a binary cut short is refused)
#   3. an up-to-date build of this folder's sources (target/release, or the
#      cache dir when this folder is read-only)
#   4. `async-patterns` on PATH with the same version (pip or cargo installed)
#   5. a build from source: in the background, one at a time (a lock), its
#      progress on stderr, waited for at most $ASYNC_PATTERNS_BUILD_WAIT
#      seconds (default 90); after that (or on SIGTERM, SIGINT, SIGHUP while
#      waiting) the launcher exits 75 with one JSON document saying when to
#      retry, and the build goes on. A failed build exits 127 with the end of
#      its log on stderr.
#
# stdout is the tool's: everything the launcher says goes to stderr, except
# the JSON of exit 75 and 127, which an agent parses like any tool error.
#
# The lock is the folder `<target>/async-patterns-build/lock` (mkdir is
# atomic everywhere); `lock/owner` names its holder as "PID START", START
# being when that process started (so a PID reused after a reboot or a kill
# is not mistaken for the build). The launcher that takes the lock writes
# itself there, and the build process it starts replaces it before the
# launcher goes on. A lock whose holder is gone is taken over where it is
# and the build starts over; so is a lock without an owner after a minute (a
# launcher killed between the two steps). Only its holder ever removes the
# lock: a lock moved aside to be broken left a moment without one, in which
# another launcher took a second lock (two builds), or the first came back
# inside the second (left behind, no owner: every launcher waited a minute).
# The owner file is the token that changes hands, renamed aside and back
# (see _ap_lock_swap).

# Builtins where they do: the bundle's first result should come within tens
# of milliseconds, and every process started here costs about one.
_ap_here="${BASH_SOURCE[0]%/*}"
[ "$_ap_here" = "${BASH_SOURCE[0]}" ] && _ap_here=.
# CDPATH would make `cd` print the folder (and could pick another one); the
# "x" keeps a folder name that ends in a newline.
ASYNC_PATTERNS_ROOT="$(CDPATH='' cd -- "$_ap_here/../.." && pwd && echo x)"
ASYNC_PATTERNS_ROOT="${ASYNC_PATTERNS_ROOT%$'\n'x}"
_ap_lib="$ASYNC_PATTERNS_ROOT/scripts/lib/launch.sh"

if [ -f "$ASYNC_PATTERNS_ROOT/VERSION" ]; then
  # (a last line without its newline still counts, even under set -e)
  read -r ASYNC_PATTERNS_VERSION <"$ASYNC_PATTERNS_ROOT/VERSION" || true
else
  ASYNC_PATTERNS_VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ASYNC_PATTERNS_ROOT/Cargo.toml" 2>/dev/null | head -n 1)"
fi
# A VERSION file that went through a Windows editor or `unzip -a`.
ASYNC_PATTERNS_VERSION="${ASYNC_PATTERNS_VERSION%$'\r'}"

# The tools of the one binary: links or copies of it under these names run
# the tool of that name.
ASYNC_PATTERNS_TOOLS=(async_requests async_file_reader async_timeout find_blocking_calls demo_api)

# CPU seconds a clean release build takes (user + sys: about 205 s on 2
# cores, 101-104 s of wall since ruff's Python parser came in, 45 s of it;
# see BENCHMARKS.md), for the estimate shown while building: this over the
# cores, plus 10 s for this crate's own last step.
ASYNC_PATTERNS_BUILD_CPU_SECONDS=200

_ap_say() { echo "async-patterns: $*" >&2; }

# A JSON string for any bash string: control characters escaped, and bytes
# that are not UTF-8 (a path is any bytes) replaced by U+FFFD, so the
# document always parses. Only error paths call it.
_ap_json_string() {
  local LC_ALL=C
  local text="$1" out="" c n i=0 len need j lo hi ok
  text="${text//\\/\\\\}"
  text="${text//\"/\\\"}"
  case "$text" in
    *[![:print:]]*) ;;
    *)
      printf '"%s"' "$text"
      return 0
      ;;
  esac
  len=${#text}
  while [ "$i" -lt "$len" ]; do
    c="${text:i:1}"
    printf -v n '%d' "'$c"
    n=$((n & 255))
    if [ "$n" -ge 32 ] && [ "$n" -lt 127 ]; then
      out+="$c"
      i=$((i + 1))
      continue
    fi
    if [ "$n" -lt 128 ]; then
      case "$n" in
        9) out+='\t' ;;
        10) out+='\n' ;;
        13) out+='\r' ;;
        *)
          printf -v c '\\u%04x' "$n"
          out+="$c"
          ;;
      esac
      i=$((i + 1))
      continue
    fi
    # A UTF-8 sequence: its lead byte says how many bytes follow, and the
    # first of them has a narrower range for E0, ED, F0 and F4 (no overlong
    # forms, no surrogates, nothing past U+10FFFF).
    need=0 lo=128 hi=191
    if [ "$n" -ge 194 ] && [ "$n" -le 223 ]; then
      need=1
    elif [ "$n" -ge 224 ] && [ "$n" -le 239 ]; then
      need=2
      [ "$n" = 224 ] && lo=160
      [ "$n" = 237 ] && hi=159
    elif [ "$n" -ge 240 ] && [ "$n" -le 244 ]; then
      need=3
      [ "$n" = 240 ] && lo=144
      [ "$n" = 244 ] && hi=143
    fi
    ok=0
    if [ "$need" -gt 0 ] && [ $((i + need)) -lt "$len" ]; then
      ok=1
      for ((j = 1; j <= need; j++)); do
        printf -v n '%d' "'${text:i+j:1}"
        n=$((n & 255))
        if [ "$n" -lt "$lo" ] || [ "$n" -gt "$hi" ]; then
          ok=0
          break
        fi
        lo=128 hi=191
      done
    fi
    if [ "$ok" = 1 ]; then
      out+="${text:i:need+1}"
      i=$((i + need + 1))
    else
      out+='\ufffd'
      i=$((i + 1))
    fi
  done
  printf '"%s"' "$out"
}

# Prints the launcher's own error document on stdout (the tool's contract:
# stdout is JSON), the words on stderr too.
_ap_error_json() {
  local tool="$1" kind="$2" message="$3" extra="${4:-}"
  printf '{"tool":%s,"version":%s,"error":{"kind":%s,"message":%s%s}}\n' \
    "$(_ap_json_string "$tool")" "$(_ap_json_string "$ASYNC_PATTERNS_VERSION")" \
    "$(_ap_json_string "$kind")" "$(_ap_json_string "$message")" "$extra"
}

# Says it on stderr, prints the JSON error on stdout and exits 127.
_ap_not_installed() {
  local tool="$1" message="$2" words="${3:-$2}"
  _ap_say "$words"
  _ap_error_json "$tool" not_installed "$message"
  exit 127
}

# Sets _ap_plat to "<os>-<arch>" (once: uname is a process).
_ap_platform() {
  [ -n "${_ap_plat:-}" ] && return 0
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
  _ap_plat="$os-$arch"
}

# Sets _ap_abs to $1 made absolute against the current directory: a
# relative path would name another folder once the build runs from the
# skill folder.
_ap_absolute() {
  case "$1" in
    /*) _ap_abs="$1" ;;
    *) _ap_abs="$PWD/$1" ;;
  esac
}

# True when $1 is a folder this user can write and enter, made if missing.
# A folder in a shared /tmp must be this user's own and not a link (another
# user could have made it first and put a binary in it).
_ap_usable_dir() {
  local dir="$1" shared="$2"
  if [ ! -d "$dir" ]; then
    if [ "$shared" = shared ]; then
      mkdir -m 700 -- "$dir" 2>/dev/null || return 1
    else
      mkdir -p -- "$dir" 2>/dev/null || return 1
    fi
  fi
  [ -w "$dir" ] && [ -x "$dir" ] || return 1
  if [ "$shared" = shared ]; then
    [ -O "$dir" ] && [ ! -L "$dir" ] || return 1
  fi
  return 0
}

# Sets _ap_cache to the user's cache folder: $ASYNC_PATTERNS_CACHE_DIR when
# set (and only that), else the first usable of $XDG_CACHE_HOME/async-patterns,
# ~/.cache/async-patterns, $TMPDIR/async-patterns-<uid>,
# /tmp/async-patterns-<uid>. A relative XDG_CACHE_HOME or HOME is skipped, as
# the XDG spec says. When none is usable, the first: later steps say so.
_ap_cache_dir() {
  [ -n "${_ap_cache:-}" ] && return 0
  if [ -n "${ASYNC_PATTERNS_CACHE_DIR:-}" ]; then
    _ap_absolute "$ASYNC_PATTERNS_CACHE_DIR"
    _ap_cache="$_ap_abs"
    return 0
  fi
  local candidates=() shared=() i
  case "${XDG_CACHE_HOME:-}" in /*) candidates+=("$XDG_CACHE_HOME/async-patterns") shared+=(own) ;; esac
  case "${HOME:-}" in /*) candidates+=("${HOME%/}/.cache/async-patterns") shared+=(own) ;; esac
  case "${TMPDIR:-}" in /*) candidates+=("${TMPDIR%/}/async-patterns-$UID") shared+=(shared) ;; esac
  candidates+=("/tmp/async-patterns-$UID") shared+=(shared)
  for i in "${!candidates[@]}"; do
    if _ap_usable_dir "${candidates[$i]}" "${shared[$i]}"; then
      _ap_cache="${candidates[$i]}"
      return 0
    fi
  done
  _ap_cache="${candidates[0]}"
}

# Sets _ap_target to where a source build goes: CARGO_TARGET_DIR, else
# target/ in this folder when it is writable, else the user's cache dir
# (skills are often installed read-only).
_ap_target_dir() {
  if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    _ap_absolute "$CARGO_TARGET_DIR"
    _ap_target="$_ap_abs"
  elif { [ -d "$ASYNC_PATTERNS_ROOT/target" ] && [ -w "$ASYNC_PATTERNS_ROOT/target" ]; } \
    || { [ ! -e "$ASYNC_PATTERNS_ROOT/target" ] && [ -w "$ASYNC_PATTERNS_ROOT" ]; }; then
    _ap_target="$ASYNC_PATTERNS_ROOT/target"
  else
    _ap_cache_dir
    _ap_target="$_ap_cache/target-$ASYNC_PATTERNS_VERSION"
  fi
}

# One process (wc), not a pipeline: the bundle's every start checks a size.
# BSD wc pads the number with spaces.
_ap_file_size() {
  local size
  size="$(wc -c 2>/dev/null <"$1")"
  echo "${size//[!0-9]/}"
}

# The bundle's binary against the size scripts/package wrote next to it
# (async-patterns.size): a binary cut short by an upload limit or a full disk
# would crash, or run as a shell script, instead of saying what is wrong.
_ap_check_size() {
  local tool="$1" binary="$2" expected="" actual
  [ -f "$binary.size" ] || return 0
  read -r expected 2>/dev/null <"$binary.size"
  actual="$(wc -c 2>/dev/null <"$binary")"
  actual="${actual//[!0-9]/}"
  [ "$actual" = "$expected" ] && return 0
  _ap_not_installed "$tool" \
    "the prebuilt binary $binary is damaged: ${actual:-?} bytes instead of $expected; unpack the bundle again" \
    "the prebuilt binary $binary is damaged (${actual:-?} bytes, $expected expected: cut short by an upload limit or a full disk?); unpack the bundle again"
}

# True when the two files hold the same bytes (the same size, without cmp).
_ap_same_file() {
  if command -v cmp >/dev/null 2>&1; then
    cmp -s -- "$1" "$2"
  else
    [ "$(_ap_file_size "$1")" = "$(_ap_file_size "$2")" ]
  fi
}

# glibc's dynamic loader for this platform: it runs a binary that has no run
# bit (though not one on a noexec mount).
_ap_loader() {
  local loader
  case "$_ap_plat" in
    linux-x86_64) loader=/lib64/ld-linux-x86-64.so.2 ;;
    linux-aarch64) loader=/lib/ld-linux-aarch64.so.1 ;;
    *) return 1 ;;
  esac
  [ -x "$loader" ] || return 1
  _ap_loader_path="$loader"
}

# A prebuilt binary whose run bit an unpacker dropped: restore it, or run a
# copy from the cache when this folder is read-only (or mounted noexec), or
# run it through the dynamic loader when no folder can take a copy. Sets
# ASYNC_PATTERNS_EXE and ASYNC_PATTERNS_CMD; returns 1 when none works.
_ap_runnable() {
  local binary="$1" copy same=0
  ASYNC_PATTERNS_EXE="$binary"
  ASYNC_PATTERNS_CMD=("$binary")
  [ -x "$binary" ] && return 0
  chmod +x "$binary" 2>/dev/null
  [ -x "$binary" ] && return 0
  _ap_platform
  _ap_cache_dir
  copy="$_ap_cache/bin/$ASYNC_PATTERNS_VERSION-$_ap_plat/async-patterns"
  # Compared by content: an older build of the same version may be there.
  if [ -f "$copy" ] && _ap_same_file "$binary" "$copy"; then
    same=1
  elif mkdir -p -- "${copy%/*}" 2>/dev/null \
    && cp -- "$binary" "$copy.$$" 2>/dev/null \
    && chmod 755 "$copy.$$" 2>/dev/null \
    && mv -f -- "$copy.$$" "$copy" 2>/dev/null; then
    same=1
  else
    rm -f -- "$copy.$$" 2>/dev/null
  fi
  # Not runnable there either (a noexec mount): kept, so the next call does
  # not copy again, and passed over.
  if [ "$same" = 1 ] && [ -x "$copy" ]; then
    ASYNC_PATTERNS_EXE="$copy"
    ASYNC_PATTERNS_CMD=("$copy")
    return 0
  fi
  if [ -r "$binary" ] && _ap_loader; then
    _ap_say "$binary has no run bit and no folder here takes a runnable copy (tried $_ap_cache); running it through $_ap_loader_path"
    ASYNC_PATTERNS_CMD=("$_ap_loader_path" "$binary")
    return 0
  fi
  return 1
}

# True when a source build is at least as new as every source file.
_ap_fresh() {
  local binary="$1" newer
  [ -x "$binary" ] || return 1
  [ -d "$ASYNC_PATTERNS_ROOT/src" ] || return 0
  newer="$(cd "$ASYNC_PATTERNS_ROOT" && find src Cargo.toml Cargo.lock -newer "$binary" -print -quit 2>/dev/null)"
  [ -z "$newer" ]
}

# The first line `$1 --version` prints, in _ap_said; at most 5 s (a program
# of that name that hangs must not hang the launcher) and 200 bytes, and
# never the launcher's stdin (the tool may read its items from there).
_ap_version_of() {
  if command -v timeout >/dev/null 2>&1; then
    _ap_said="$(timeout -k 1 5 "$1" --version </dev/null 2>/dev/null | head -c 200 | head -n 1)"
  else
    _ap_said="$("$1" --version </dev/null 2>/dev/null | head -c 200 | head -n 1)"
  fi
}

# Sets ASYNC_PATTERNS_EXE (the binary) and ASYNC_PATTERNS_CMD (how to run it;
# the tool's name or subcommand comes next) to a binary that runs here,
# without building; returns 1 when there is none, exits 127 when the
# prebuilt one is damaged or cannot be run.
async_patterns_find() {
  local tool="$1" candidate
  ASYNC_PATTERNS_EXE=""
  ASYNC_PATTERNS_CMD=()
  if [ -n "${ASYNC_PATTERNS_BIN_DIR:-}" ]; then
    for candidate in "$ASYNC_PATTERNS_BIN_DIR/async-patterns" "$ASYNC_PATTERNS_BIN_DIR/$tool"; do
      if [ -f "$candidate" ]; then
        _ap_runnable "$candidate" && return 0
      fi
    done
    _ap_not_installed "$tool" "no async-patterns binary in ASYNC_PATTERNS_BIN_DIR=$ASYNC_PATTERNS_BIN_DIR" \
      "no async-patterns binary in ASYNC_PATTERNS_BIN_DIR=$ASYNC_PATTERNS_BIN_DIR (it is set, so nothing is built)"
  fi
  _ap_platform
  candidate="$ASYNC_PATTERNS_ROOT/bin/$_ap_plat/async-patterns"
  if [ -f "$candidate" ]; then
    _ap_check_size "$tool" "$candidate"
    _ap_runnable "$candidate" && return 0
    _ap_not_installed "$tool" \
      "the prebuilt binary $candidate has no run bit and cannot get one: run chmod +x on it, or set ASYNC_PATTERNS_CACHE_DIR to a folder that allows running programs" \
      "the prebuilt binary $candidate has no run bit, this folder is read-only and no cache folder takes a runnable copy (tried $_ap_cache). Run: chmod +x '$candidate', or set ASYNC_PATTERNS_CACHE_DIR to a writable folder that allows running programs."
  fi
  _ap_target_dir
  candidate="$_ap_target/release/async-patterns"
  if [ -d "$ASYNC_PATTERNS_ROOT/src" ] && _ap_fresh "$candidate"; then
    ASYNC_PATTERNS_EXE="$candidate"
    ASYNC_PATTERNS_CMD=("$candidate")
    return 0
  fi
  candidate="$(command -v async-patterns 2>/dev/null)"
  if [ -n "$candidate" ] && [ -f "$candidate" ] && [ -x "$candidate" ]; then
    _ap_version_of "$candidate"
    if [ "$_ap_said" = "async-patterns $ASYNC_PATTERNS_VERSION" ]; then
      ASYNC_PATTERNS_EXE="$candidate"
      ASYNC_PATTERNS_CMD=("$candidate")
      return 0
    fi
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

# Seconds a clean build should take here: CPU seconds over the cores, plus
# this crate's own last step, which cannot use every core (about 10 s); never
# below 40 s.
_ap_estimate() {
  local cores estimate
  cores="$(_ap_cores)"
  case "$cores" in '' | *[!0-9]* | 0) cores=2 ;; esac
  estimate=$((ASYNC_PATTERNS_BUILD_CPU_SECONDS / cores + 10))
  [ "$estimate" -lt 40 ] && estimate=40
  echo "$estimate"
}

# Sets _ap_start to when process $1 started, as a word that differs for a
# later process with the same PID: the boot's id and the start in clock
# ticks from /proc (builtins only), else what `ps` says. Empty when unknown.
_ap_proc_start() {
  _ap_start=""
  local stat="" boot="" i=0
  if [ -r "/proc/$1/stat" ]; then
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
    # Field 22; the name in parentheses (field 2) may hold spaces.
    stat="${stat##*) }"
    while [ "$i" -lt 19 ]; do
      stat="${stat#* }"
      i=$((i + 1))
    done
    [ -r /proc/sys/kernel/random/boot_id ] && read -r boot </proc/sys/kernel/random/boot_id
    _ap_start="$boot/${stat%% *}"
  elif [ ! -d /proc/self ]; then
    _ap_start="$(ps -o lstart= -p "$1" 2>/dev/null)"
    _ap_start="${_ap_start// /_}"
  fi
}

# True when "PID START" names a process that is still running.
_ap_alive() {
  local pid="${1%% *}" start="${1#* }"
  case "$pid" in '' | *[!0-9]* | 0*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  _ap_proc_start "$pid"
  [ -z "$_ap_start" ] || [ -z "$start" ] || [ "$_ap_start" = "$start" ]
}

# True when the lock in state folder $1 was left by a process that is gone;
# _ap_stale_owner is the owner it names.
_ap_lock_stale() {
  local lock="$1/lock" owner=""
  _ap_stale_owner=""
  [ -d "$lock" ] || return 1
  read -r owner 2>/dev/null <"$lock/owner"
  _ap_stale_owner="$owner"
  if [ -z "$owner" ]; then
    # Taken, owner not yet written, or held aside this instant (see
    # _ap_lock_swap): only a launcher killed in that instant leaves it so
    # for long.
    [ -n "$(find "$lock" -maxdepth 0 -mmin +1 2>/dev/null)" ]
    return
  fi
  ! _ap_alive "$owner"
}

# _ap_lock_stale, or the lock held in this launcher's own name (see the wait
# loop in async_patterns_build); _ap_stale_owner is the owner it names.
_ap_lock_mine_or_stale() {
  local owner=""
  read -r owner 2>/dev/null <"$1/lock/owner"
  _ap_proc_start $$
  if [ -n "$owner" ] && [ "$owner" = "$$ $_ap_start" ]; then
    _ap_stale_owner="$owner"
    return 0
  fi
  _ap_lock_stale "$1"
}

# Hands the lock from owner $2 to $3 (the lock's folder stays where it is):
# the owner file is renamed aside (rename is atomic: of several processes
# after it, one gets it) and read; when it names $2 an owner file naming
# $3 takes its place, else it goes back. While one process holds it aside
# the lock has no owner, and nothing else writes one (a lock without an
# owner is taken only after a minute), so it goes back with a plain
# rename; an owner being written into the file as it is renamed still
# lands in it. $2 empty: an owner file left empty a minute ago (a launcher
# killed as it wrote, a full disk), not one being written. Returns 0 when
# handed over, 1 when the owner is another, 2 when there is no owner to
# take (another process holds it aside this instant, or there is no lock).
_ap_lock_swap() {
  local lock="$1/lock" from="$2" to="$3" owner="" ok=""
  mv -f -- "$lock/owner" "$lock/owner.$$" 2>/dev/null || return 2
  read -r owner 2>/dev/null <"$lock/owner.$$"
  if [ "$owner" = "$from" ]; then
    ok=1
    [ -n "$from" ] || [ -n "$(find "$lock/owner.$$" -mmin +1 2>/dev/null)" ] || ok=""
  fi
  if [ -n "$ok" ]; then
    echo "$to" 2>/dev/null >"$lock/owner" || return 1
    rm -f -- "$lock/owner.$$"
    return 0
  fi
  mv -f -- "$lock/owner.$$" "$lock/owner" 2>/dev/null
  return 1
}

# Takes over the lock _ap_lock_mine_or_stale found for this launcher ($2,
# "PID START"): one in its own name is its own already; one whose holder is
# gone is handed over from that holder (of several launchers that found it
# stale, one gets it); one without an owner for a minute gets this one only
# if there is still none (noclobber opens with O_EXCL), or from the empty
# owner file left there. Returns 1 when another launcher was first.
_ap_lock_take() {
  local state="$1" me="$2"
  if [ "$_ap_stale_owner" = "$me" ]; then
    _ap_say "the build this launcher started did not take its lock over; starting it again"
    return 0
  fi
  if [ -n "$_ap_stale_owner" ]; then
    _ap_lock_swap "$state" "$_ap_stale_owner" "$me" || return 1
  else
    (set -C && echo "$me" >"$state/lock/owner") 2>/dev/null \
      || _ap_lock_swap "$state" "" "$me" || return 1
  fi
  _ap_say "a build left its lock behind (its process is gone); starting over"
}

# The build process (started by _ap_start_build, detached from the
# launcher): takes the lock over from the launcher that started it, builds,
# records the result, lets the lock go if it is still its own.
_ap_builder() {
  local me owner="" code n swap=2
  _ap_proc_start $$
  me="$$ $_ap_start"
  # A launcher that found the lock stale a moment ago holds the owner aside
  # while it looks (_ap_lock_swap): an owner missing for a moment is not
  # another's.
  for ((n = 0; n < 40; n++)); do
    _ap_lock_swap "$AP_STATE" "$AP_LAUNCHER" "$me"
    swap=$?
    [ "$swap" = 2 ] || break
    sleep 0.05
  done
  if [ "$swap" != 0 ]; then
    # The launcher was taken for dead and its lock taken over: another
    # build runs.
    exit 0
  fi
  CARGO_TARGET_DIR="$AP_TARGET" "$AP_CARGO" build --release --bin async-patterns >>"$AP_STATE/log" 2>&1
  code=$?
  [ "$code" = 0 ] && touch "$AP_TARGET/release/async-patterns"
  # The state folder may have been deleted meanwhile (cargo clean): the
  # result still counts.
  mkdir -p "$AP_STATE"
  echo "$code" >"$AP_STATE/status.$$" && mv -f "$AP_STATE/status.$$" "$AP_STATE/status"
  # Lets the lock go if it is still its own (the owner may be held aside
  # for a moment, as above), the whole folder at once: renamed aside, then
  # removed, whatever a launcher held aside in it.
  for ((n = 0; n < 40; n++)); do
    owner=""
    read -r owner 2>/dev/null <"$AP_STATE/lock/owner"
    if [ -n "$owner" ] || [ ! -d "$AP_STATE/lock" ]; then
      break
    fi
    sleep 0.05
  done
  if [ "$owner" = "$me" ] && mv -- "$AP_STATE/lock" "$AP_STATE/released.$$" 2>/dev/null; then
    rm -rf -- "$AP_STATE/released.$$"
  fi
  return 0
}

# Starts the background build unless one is running (then it is joined);
# takes over a lock its holder left behind. Returns 1 when the state folder
# cannot be made.
_ap_start_build() {
  local state="$1" target="$2" cargo="$3" me owner n taken=""
  mkdir -p -- "$state" 2>/dev/null || return 1
  _ap_proc_start $$
  me="$$ $_ap_start"
  for _ in 1 2 3; do
    if mkdir "$state/lock" 2>/dev/null; then
      echo "$me" 2>/dev/null >"$state/lock/owner" && taken=1 && break
    elif ! _ap_lock_mine_or_stale "$state"; then
      # A live build: joined.
      return 0
    elif _ap_lock_take "$state" "$me"; then
      taken=1
      break
    fi
  done
  [ -n "$taken" ] || return 0
  rm -f "$state/status"
  date +%s >"$state/started"
  : >"$state/log"
  # The build must outlive this launcher, which an agent's harness may
  # kill (often its whole process group) at its own time limit: its own
  # session (setsid), or at least its own process group (set -m).
  local starter=()
  command -v setsid >/dev/null 2>&1 && starter=(setsid)
  # shellcheck disable=SC2016 # $1 is the builder's own argument
  (
    cd "$ASYNC_PATTERNS_ROOT" || exit 1
    set -m
    AP_STATE="$state" AP_TARGET="$target" AP_CARGO="$cargo" AP_LAUNCHER="$me" \
      nohup ${starter[@]+"${starter[@]}"} "$BASH" -c 'source "$1" && _ap_builder' async-patterns-build "$_ap_lib" \
      </dev/null >/dev/null 2>&1 &
  )
  # Hand the lock over before going on: a launcher that exits (or is
  # killed) before its build wrote itself there would look gone. A lock
  # gone is a build over already (only its holder removes it).
  for ((n = 0; n < 200; n++)); do
    owner=""
    read -r owner 2>/dev/null <"$state/lock/owner"
    [ -n "$owner" ] && [ "$owner" != "$me" ] && break
    [ -d "$state/lock" ] || break
    sleep 0.05
  done
  return 0
}

# The answer while a build goes on: exit 75 and when to try again.
_ap_building() {
  local tool="$1" state="$2" estimate="$3" started="" now elapsed left
  read -r started 2>/dev/null <"$state/started"
  now="$(date +%s)"
  case "$started" in '' | *[!0-9]*) started="$now" ;; esac
  elapsed=$((now - started))
  [ "$elapsed" -lt 0 ] && elapsed=0
  left=$((estimate - elapsed))
  [ "$left" -lt 5 ] && left=5
  _ap_say "still building after ${SECONDS} s here (${elapsed} s in all); it goes on in the background. Run the same command again in about ${left} s (it waits for this build), or run: bash $ASYNC_PATTERNS_ROOT/scripts/build"
  _ap_error_json "$tool" "building" \
    "async-patterns is being built from source (first run, about ${estimate} s in all, ${elapsed} s so far); run the same command again in about ${left} s, or run 'bash scripts/build' to wait for it" \
    ",\"retry_after_s\":$left,\"log\":$(_ap_json_string "$state/log")"
  exit 75
}

# Builds from source (or joins the build under way) and waits at most
# `wait` seconds; "forever" waits to the end.
async_patterns_build() {
  local tool="$1" wait="$2" target cargo state estimate shown=0 size status="" ticks=0 restarts=0
  _ap_platform
  if [ ! -d "$ASYNC_PATTERNS_ROOT/src" ]; then
    _ap_not_installed "$tool" "no prebuilt binary for $_ap_plat and no sources to build" \
      "no prebuilt binary for $_ap_plat in $ASYNC_PATTERNS_ROOT/bin and no sources to build; install with 'pip install async-patterns' or use a bundle for this platform"
  fi
  if ! cargo="$(_ap_cargo)"; then
    _ap_not_installed "$tool" "no prebuilt binary for $_ap_plat and cargo is not installed" \
      "cargo is not installed, and there is no prebuilt binary for $_ap_plat. Install Rust (https://rustup.rs), or use the prebuilt bundle or the wheel (see README)."
  fi
  _ap_target_dir
  target="$_ap_target"
  state="$target/async-patterns-build"
  mkdir -p -- "$target" 2>/dev/null
  if ! _ap_start_build "$state" "$target" "$cargo"; then
    _ap_say "cannot create $state"
    _ap_error_json "$tool" "build_failed" "cannot create the build directory $state"
    exit 127
  fi
  estimate="$(_ap_estimate)"
  # Killed while waiting (an agent's own time limit, Ctrl-C): still the answer
  # an agent can act on. The build goes on.
  trap '_ap_building "$tool" "$state" "$estimate"' TERM INT HUP
  _ap_say "building async-patterns $ASYNC_PATTERNS_VERSION from source into $target: about ${estimate} s on $(_ap_cores) cores for a first build; cargo's progress follows. The build log is $state/log."
  while :; do
    size="$(_ap_file_size "$state/log")"
    if [ -n "$size" ] && [ "$size" -gt "$shown" ]; then
      tail -c +"$((shown + 1))" "$state/log" 2>/dev/null | head -c "$((size - shown))" >&2
      shown="$size"
    fi
    if [ ! -d "$state/lock" ]; then
      status=""
      read -r status 2>/dev/null <"$state/status"
      [ -n "$status" ] && break
      # Neither lock nor result: the state folder was deleted, or the lock
      # broken. Start (or join) again, a few times.
      restarts=$((restarts + 1))
      if [ "$restarts" -gt 3 ] || ! _ap_start_build "$state" "$target" "$cargo"; then
        break
      fi
      shown=0
      continue
    fi
    # Every 2 s: is the holder still there (a build killed by the OOM
    # killer, a reboot)? Then this launcher takes the lock over and starts
    # it again. So too when the holder is this launcher itself: its build
    # gave up before taking the lock over (it never started, or found no
    # owner for 2 s), and no one builds.
    ticks=$((ticks + 1))
    if [ $((ticks % 4)) = 0 ] && _ap_lock_mine_or_stale "$state"; then
      restarts=$((restarts + 1))
      if [ "$restarts" -gt 3 ] || ! _ap_start_build "$state" "$target" "$cargo"; then
        break
      fi
      shown=0
      continue
    fi
    if [ "$wait" != forever ] && [ "$SECONDS" -ge "$wait" ]; then
      _ap_building "$tool" "$state" "$estimate"
    fi
    sleep 0.5
  done
  trap - TERM INT HUP
  if [ "$status" != 0 ] || [ ! -x "$target/release/async-patterns" ]; then
    if [ -z "$status" ]; then
      _ap_say "the build stopped without a result ($state was deleted or its lock broken, again and again); the end of its log ($state/log):"
    else
      _ap_say "the build failed; the end of its log ($state/log):"
    fi
    tail -n 40 "$state/log" >&2 2>/dev/null
    _ap_error_json "$tool" "build_failed" "the build from source failed; see the log" ",\"log\":$(_ap_json_string "$state/log")"
    exit 127
  fi
  _ap_say "built $target/release/async-patterns"
  ASYNC_PATTERNS_EXE="$target/release/async-patterns"
  ASYNC_PATTERNS_CMD=("$ASYNC_PATTERNS_EXE")
}

# Sets _ap_wait from ASYNC_PATTERNS_BUILD_WAIT: whole seconds (default 90);
# more digits than bash compares is "forever".
_ap_wait_seconds() {
  _ap_wait="${ASYNC_PATTERNS_BUILD_WAIT:-90}"
  case "$_ap_wait" in
    '' | *[!0-9]*)
      _ap_say "ASYNC_PATTERNS_BUILD_WAIT=$_ap_wait is not a whole number of seconds; waiting 90"
      _ap_wait=90
      ;;
    *)
      _ap_wait="${_ap_wait#"${_ap_wait%%[!0]*}"}"
      [ -z "$_ap_wait" ] && _ap_wait=0
      [ "${#_ap_wait}" -gt 9 ] && _ap_wait=forever
      ;;
  esac
}

# Finds or builds the binary: sets ASYNC_PATTERNS_EXE and ASYNC_PATTERNS_CMD,
# or exits 75 / 127.
async_patterns_ensure() {
  local tool="$1"
  async_patterns_find "$tool" && return 0
  if [ -x "$_ap_target/release/async-patterns" ]; then
    _ap_say "sources changed since the last build; rebuilding"
  fi
  _ap_wait_seconds
  # `|| exit`: the build's steps may fail on purpose, and scripts that source
  # this under set -e (scripts/demo) must not stop at the first.
  async_patterns_build "$tool" "$_ap_wait" || exit 127
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

# Finds or builds the binary, then replaces this shell with the tool. When
# the kernel refuses the binary (another architecture, a damaged file), an
# error an agent can parse instead of bash's words alone.
async_patterns_exec() {
  local tool="$1"
  shift
  async_patterns_ensure "$tool"
  shopt -s execfail
  if [ "${#ASYNC_PATTERNS_CMD[@]}" -gt 1 ] && [ "${ASYNC_PATTERNS_EXE##*/}" = async-patterns ]; then
    # Through the loader the binary is called by its own name: the tool is
    # the first argument.
    exec "${ASYNC_PATTERNS_CMD[@]}" "$tool" "$@"
  elif [ "${#ASYNC_PATTERNS_CMD[@]}" -gt 1 ]; then
    exec "${ASYNC_PATTERNS_CMD[@]}" "$@"
  else
    exec -a "$tool" "$ASYNC_PATTERNS_EXE" "$@"
  fi
  local code=$?
  _ap_platform
  _ap_not_installed "$tool" \
    "$ASYNC_PATTERNS_EXE cannot run here (exit $code): built for another system than $_ap_plat, or damaged" \
    "$ASYNC_PATTERNS_EXE cannot run here (exit $code): it is built for another system than $_ap_plat, or damaged. Use the bundle or wheel for this platform, or build from source (see README)."
}
