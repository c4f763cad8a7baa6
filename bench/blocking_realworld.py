#!/usr/bin/env python3
"""find_blocking_calls against ruff's flake8-async rules on real projects.

    python3 bench/blocking_realworld.py DIR [--rounds 3] [--out FILE]

DIR holds one folder per project (public repositories, brought by hand; none
of their code belongs in this repository). Python projects are scanned by
both tools, Rust projects by ours alone (ruff reads no Rust). When DIR is
missing the script says so and exits 0, so a machine without the projects
skips it.

It prints, per tool: files, findings, time (median of --rounds, the tools
alternating), then the agreement on lines with a blocking call (ruff's
ASYNC2xx codes against our findings of category `blocking`), per project
and per rule. Disagreements are written with three lines of context to
--out (JSON) for judging by reading the code. Judgments live in
bench/blocking_realworld_judged.tsv (`project/path:line<TAB>tp|fp<TAB>note`,
no code); with them the script computes judged precision and recall for
both tools: lines both tools flag count as true positives unless judged
otherwise, and recall is over the pooled true positives of both.

ruff is installed from PyPI into DIR/.bench-venv (pinned, so figures can be
reproduced); our binary is the release build of this checkout, run through a link named
find_blocking_calls (built with `cargo build --release` when missing).
"""

import argparse
import ast
import collections
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / "target" / "release" / "find_blocking_calls"
JUDGED = Path(__file__).resolve().parent / "blocking_realworld_judged.tsv"
RUFF_VERSION = "0.17.6"
RUFF_BLOCKING = ("ASYNC210", "ASYNC212", "ASYNC220", "ASYNC221", "ASYNC222",
                 "ASYNC230", "ASYNC240", "ASYNC250", "ASYNC251")


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def ensure_ruff(work):
    venv = work / ".bench-venv"
    ruff = venv / "bin" / "ruff"
    if ruff.exists():
        return ruff
    log(f"installing ruff=={RUFF_VERSION} into {venv}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"ruff=={RUFF_VERSION}"], check=True)
    return ruff


def ensure_ours():
    binary = OURS.with_name("async-patterns")
    if not binary.exists():
        log("building async-patterns (release)")
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    if not OURS.is_symlink():
        OURS.unlink(missing_ok=True)
        OURS.symlink_to("async-patterns")
    return OURS


def projects(work):
    """(name, language) of each project folder: python when it has .py files."""
    found = []
    for entry in sorted(work.iterdir()):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        python = sum(1 for _ in entry.rglob("*.py"))
        rust = sum(1 for _ in entry.rglob("*.rs"))
        if python or rust:
            found.append((entry.name, "python" if python >= rust else "rust"))
    return found


CPU = []


def timed(command, cwd):
    """Wall time of one run; its CPU time (user + system) goes to CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed, done


def run_ruff(ruff, work, names):
    command = [str(ruff), "check", "--isolated", "--preview", "--select", "ASYNC2",
               "--output-format", "json", "--exit-zero", "--no-cache", *names]
    elapsed, done = timed(command, work)
    if done.returncode != 0:
        raise SystemExit(f"ruff failed: {done.stderr.decode(errors='replace')[:2000]}")
    found = set()
    rules = {}
    for item in json.loads(done.stdout):
        key = (os.path.relpath(item["filename"], work), item["location"]["row"])
        found.add(key)
        rules.setdefault(key, set()).add(item["code"])
    return elapsed, found, rules


def ruff_files(ruff, work, names):
    done = subprocess.run([str(ruff), "check", "--isolated", "--show-files", *names],
                          cwd=work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return {os.path.relpath(line, work) for line in done.stdout.decode().splitlines() if line.endswith(".py")}


def run_ours(ours, work, names, out_file, extension):
    # Patterns, so each run reads one language, as ruff reads only Python.
    patterns = [f"{name}/**/*.{extension}" for name in names]
    command = [str(ours), "--no-progress", "--output", str(out_file), *patterns]
    elapsed, done = timed(command, work)
    if done.returncode not in (0, 1):
        raise SystemExit(f"find_blocking_calls failed ({done.returncode}): {done.stderr.decode(errors='replace')[:2000]}")
    doc = json.loads(out_file.read_text())
    return elapsed, doc


def context(work, path, line, around=3):
    try:
        lines = (work / path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    low, high = max(0, line - 1 - around), min(len(lines), line + around)
    return "\n".join(f"{n + 1:>6} {'>' if n + 1 == line else ' '} {lines[n]}" for n in range(low, high))


# Names of calls that often block: the independent pass looks for them in
# every async body (Python's own parser) and lists those no tool flags.
BLOCKING_NAMES = set("""read_text write_text read_bytes write_bytes exists is_file is_dir is_symlink mkdir
rmdir unlink touch stat lstat open sleep listdir scandir remove makedirs rmtree copy2 copyfile copytree
move run check_output check_call Popen communicate system urlopen urlretrieve getaddrinfo gethostbyname
create_connection recv recv_into sendall accept execute executemany fetchall fetchone fetchmany commit
input glob iglob iterdir rglob resolve realpath isfile isdir islink getsize getmtime walk rename chmod
chown symlink readlink symlink_to which disk_usage NamedTemporaryFile TemporaryFile TemporaryDirectory
mkstemp mkdtemp ZipFile extractall popen waitpid load dump""".split())


def unflagged_candidates(work, paths, flagged):
    """Calls named like blocking ones, in async bodies, that no tool flags."""
    found = []
    for path in sorted(paths):
        try:
            source = (work / path).read_text(errors="replace")
            tree = ast.parse(source)
        except (OSError, SyntaxError, ValueError):
            continue
        for function in ast.walk(tree):
            if not isinstance(function, ast.AsyncFunctionDef):
                continue
            awaited, calls, stack = set(), [], list(function.body)
            while stack:
                node = stack.pop()
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                    continue
                if isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
                    awaited.add(id(node.value))
                if isinstance(node, ast.AsyncWith):
                    awaited.update(id(item.context_expr) for item in node.items)
                if isinstance(node, ast.Call):
                    calls.append(node)
                stack.extend(ast.iter_child_nodes(node))
            for call in calls:
                callee = call.func
                name = getattr(callee, "attr", None) or getattr(callee, "id", None)
                key = (path, call.lineno)
                if id(call) not in awaited and name in BLOCKING_NAMES and key not in flagged:
                    found.append({"where": f"{path}:{call.lineno}", "call": ast.get_source_segment(source, callee),
                                  "context": context(work, path, call.lineno)})
    return found


def read_judged():
    judged = {}
    if not JUDGED.exists():
        return judged
    for raw in JUDGED.read_text().splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        where, verdict, *_ = raw.split("\t")
        path, _, line = where.rpartition(":")
        # A miss is a true blocking call that no tool flagged when judged:
        # flagged now, it is a true positive.
        verdict = verdict.strip()
        judged[(path, int(line))] = "tp" if verdict == "miss" else verdict
    return judged


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/blocking_realworld.json"))
    args = parser.parse_args()
    work = args.dir.resolve()
    if not work.is_dir():
        print(f"blocking_realworld: {work} does not exist: skipped (bring the projects first)")
        return 0
    pool = projects(work)
    python = [name for name, language in pool if language == "python"]
    rust = [name for name, language in pool if language == "rust"]
    if not python:
        print(f"blocking_realworld: no Python project in {work}: skipped")
        return 0
    ruff = ensure_ruff(work)
    ours = ensure_ours()
    version = subprocess.run([str(ruff), "--version"], stdout=subprocess.PIPE).stdout.decode().strip()
    scratch = Path("/tmp") / f"blocking_realworld_{os.getpid()}.json"

    # Warm the page cache once, then alternate the tools round by round.
    run_ruff(ruff, work, python)
    run_ours(ours, work, python, scratch, "py")
    ruff_times, our_times, ruff_cpu, our_cpu = [], [], [], []
    for _ in range(args.rounds):
        elapsed, ruff_found, ruff_rules = run_ruff(ruff, work, python)
        ruff_times.append(elapsed)
        ruff_cpu.append(CPU[-1])
        elapsed, doc = run_ours(ours, work, python, scratch, "py")
        our_times.append(elapsed)
        our_cpu.append(CPU[-1])
    rust_times = []
    rust_doc = None
    if rust:
        for _ in range(args.rounds):
            elapsed, rust_doc = run_ours(ours, work, rust, scratch, "rs")
            rust_times.append(elapsed)
    scratch.unlink(missing_ok=True)

    seen_by_ruff = ruff_files(ruff, work, python)
    ours_found, our_rules, kinds = set(), {}, collections.Counter()
    our_files = set()
    dropped = []
    for result in doc["results"]:
        kinds[result.get("error", {}).get("kind", "ok")] += 1
        if result.get("language") == "python":
            our_files.add(result["path"])
        if result.get("unscanned"):
            dropped.append((result["path"], result.get("unscanned_total", 0)))
        for finding in result.get("findings") or []:
            if finding["category"] != "blocking":
                continue
            key = (finding["path"], finding["line"])
            ours_found.add(key)
            our_rules.setdefault(key, set()).add(finding["rule"])
    common_files = seen_by_ruff & our_files
    ours_cmp = {key for key in ours_found if key[0] in common_files}
    ruff_cmp = {key for key in ruff_found if key[0] in common_files}
    both, only_ours, only_ruff = ours_cmp & ruff_cmp, ours_cmp - ruff_cmp, ruff_cmp - ours_cmp

    summary = doc["summary"]
    print(f"# find_blocking_calls vs {version}, {len(python)} Python and {len(rust)} Rust projects in {work}")
    print(f"python projects: {', '.join(python)}")
    print(f"rust projects: {', '.join(rust)}")
    print()
    print("| tool | files | lines | lines with a blocking finding | median wall (s) | median CPU (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| find_blocking_calls (Python) | {len(our_files)} | {summary['lines']:,} | {len(ours_found)} | "
          f"{statistics.median(our_times):.3f} | {statistics.median(our_cpu):.2f} |")
    print(f"| ruff --select ASYNC2 (Python) | {len(seen_by_ruff)} | | {len(ruff_found)} | "
          f"{statistics.median(ruff_times):.3f} | {statistics.median(ruff_cpu):.2f} |")
    if rust_doc:
        rust_findings = sum(len(r.get("findings") or []) for r in rust_doc["results"])
        print(f"| find_blocking_calls (Rust) | {rust_doc['summary']['files']['rust']} | "
              f"{rust_doc['summary']['lines']:,} | {rust_findings} | {statistics.median(rust_times):.3f} | |")
    print()
    print(f"result kinds (Python run): {dict(kinds)}; files with unscanned regions: {len(dropped)}")
    print(f"lines flagged, on the {len(common_files)} files both tools read: both {len(both)}, "
          f"only ours {len(only_ours)}, only ruff {len(only_ruff)}")
    per_project = collections.defaultdict(lambda: [0, 0, 0])
    for group, at in ((both, 0), (only_ours, 1), (only_ruff, 2)):
        for path, _ in group:
            per_project[path.split("/")[0]][at] += 1
    print()
    print("| project | both | only ours | only ruff |")
    print("| --- | ---: | ---: | ---: |")
    for project in sorted(per_project):
        counts = per_project[project]
        print(f"| {project} | {counts[0]} | {counts[1]} | {counts[2]} |")
    by_rule = collections.Counter()
    for key in only_ours:
        for rule in our_rules[key]:
            by_rule[f"ours-only {rule}"] += 1
    for key in only_ruff:
        for code in ruff_rules[key]:
            by_rule[f"ruff-only {code}"] += 1
    print()
    print("disagreements by rule:", dict(sorted(by_rule.items())))

    judged = read_judged()
    out = {"only_ours": [], "only_ruff": [], "both": []}
    for name, group, rules in (("only_ours", only_ours, our_rules), ("only_ruff", only_ruff, ruff_rules),
                               ("both", both, our_rules)):
        for path, line in sorted(group):
            out[name].append({"where": f"{path}:{line}", "rules": sorted(rules.get((path, line), ())),
                              "judged": judged.get((path, line)), "context": context(work, path, line)})
    out["candidates"] = unflagged_candidates(work, common_files, ours_found | ruff_found)
    args.out.write_text(json.dumps(out, indent=1))
    print(f"disagreements with context: {args.out}")

    if judged:
        def verdict(key, default):
            return judged.get(key, default)
        # Agreements are true unless judged false; a disagreement not judged is left out.
        ours_tp = sum(verdict(k, "tp") == "tp" for k in both) + sum(verdict(k, "?") == "tp" for k in only_ours)
        ours_fp = sum(verdict(k, "tp") == "fp" for k in both) + sum(verdict(k, "?") == "fp" for k in only_ours)
        ruff_tp = sum(verdict(k, "tp") == "tp" for k in both) + sum(verdict(k, "?") == "tp" for k in only_ruff)
        ruff_fp = sum(verdict(k, "tp") == "fp" for k in both) + sum(verdict(k, "?") == "fp" for k in only_ruff)
        unjudged = sum(k not in judged for k in only_ours | only_ruff)
        pooled = ours_tp + ruff_tp - sum(verdict(k, "tp") == "tp" for k in both)
        # Real calls neither tool flags: found by the independent pass and
        # read (`miss`), or judged true when a tool flagged them once.
        flagged = ours_found | ruff_found
        in_dir = set(python)
        missed = sum(v == "tp" and k not in flagged and k[0].split("/")[0] in in_dir
                     for k, v in judged.items())
        print()
        print(f"judged ({len(judged)} lines; {unjudged} disagreements not judged, left out):")
        print("| tool | true positives | false positives | precision | recall |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for tool, tp, fp in (("find_blocking_calls", ours_tp, ours_fp), ("ruff ASYNC2", ruff_tp, ruff_fp)):
            precision = tp / max(1, tp + fp)
            recall = tp / max(1, pooled + missed)
            print(f"| {tool} | {tp} | {fp} | {precision:.3f} | {recall:.3f} |")
        print(f"real blocking calls: {pooled} found by either tool + {missed} neither found "
              f"(from {len(out['candidates'])} unflagged candidates of the independent pass, read)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
