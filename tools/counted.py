#!/usr/bin/env python3
"""Print the deterministic benchmark tables of README's benchmark section.

Instructions are counted with `valgrind --tool=callgrind`, which repeats to
the instruction on a busy machine where timings do not:

* per critical section, 1 000 tasks on one thread, each holding the lock
  across one `yield_now().await` (`benches/instructions.rs`), on a minimal
  FIFO executor and on smol's `LocalExecutor`. Each implementation runs
  twice, with 8 and 16 sections per task, and the difference of the totals
  is divided by the difference of the sections (8 000), so that start-up
  (spawning, the first 999 waiters queueing) cancels out. "Lock's own" is
  the figure minus that of a no-op lock on the same executor;
* per uncontended lock + unlock (`benches/uncontended.rs`, via
  `tools/callgrind_uncontended.py`).

Polls, wake-ups and allocations per critical section come from
`benches/counts.rs` (run natively, no valgrind): the same single-thread
scenario, and 2 and 64 tasks on two threads (medians of several runs).

    python3 tools/counted.py                  # all tables, about 5 minutes
    python3 tools/counted.py --check          # also fail if a target is missed
    python3 tools/counted.py --only turnlock-fifo,async-lock   # a few locks, instructions only
    python3 tools/counted.py --breakdown turnlock-new [--executor fifo]
    python3 tools/counted.py --rw [--check]  # reader-writer locks only, about 2 minutes
    python3 tools/counted.py --rw --breakdown turnlock-new   # one section of the read-mostly mix

`--only NAMES` (comma-separated names of the first table) counts only the
instructions of those locks (per section on both executors, and uncontended
where the uncontended bench has the name), without the no-op lock and the
count tables: a quick look while changing one lock, about 20 seconds a lock.

`--breakdown NAME` prints where the instructions of one section go:
turnlock's code, event-listener's code, its list mutex, malloc/free, the
executor, other; and the calls into event-listener per section with their
inclusive cost. It builds the instruction bench with line tables
(debug info) in `<target>/callgrind`, so that inlined code is attributed to
the source file it comes from.

`--rw` prints the reader-writer table instead (`tools/counted_rw.py`):
uncontended read and write, and a read-mostly mix, against async-lock's
and tokio's `RwLock`.

Honours CARGO_TARGET_DIR. Standard library only; needs valgrind.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import callgrind_uncontended  # noqa: E402
import counted_rw  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TASKS = 1000
PER_TASK = (8, 16)
SECTIONS = TASKS * (PER_TASK[1] - PER_TASK[0])
EXECUTORS = [("fifo", "minimal FIFO executor"), ("smol-local", "smol `LocalExecutor`")]
LOCKS = [
    "turnlock-new",
    "turnlock-fifo",
    "async-lock",
    "tokio",
    "futures-intrusive",
    "maitake-sync",
    "futures-lock",
    "floor-listen",
    "floor-stack",
    "noop",
]
LABELS = {
    "floor-listen": "floor: smallest FIFO lock on `Event::listen` (boxed listener)",
    "floor-stack": "floor: smallest FIFO lock on `listener!` (no allocation)",
    "noop": "no-op lock (the executor alone)",
}
UNCONTENDED_LIMIT = 25
# Targets of the contended scenario: at most this times async-lock's figure.
TARGET_RATIO = 0.9


def executables(benches, target_dir=None, debug=False):
    """Builds the bench binaries and returns {name: path}."""
    command = ["cargo", "bench", "--no-run", "--message-format=json"]
    for bench in benches:
        command += ["--bench", bench]
    env = dict(os.environ)
    if target_dir:
        env["CARGO_TARGET_DIR"] = str(target_dir)
    if debug:
        env["CARGO_PROFILE_BENCH_DEBUG"] = "line-tables-only"
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT).stdout
    found = {}
    for line in out.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message.get("executable"):
            found[message["target"]["name"]] = message["executable"]
    missing = [b for b in benches if b not in found]
    if missing:
        sys.exit(f"cargo did not report the executables of {missing}")
    return found


def callgrind(binary, env, out, extra=()):
    """Runs `binary` under callgrind with `env` added; returns the total."""
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *extra, binary],
        check=True,
        env=dict(os.environ, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(out) as f:
        for line in f:
            match = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if match:
                return int(match.group(1))
    sys.exit(f"no instruction total in {out}")


def per_section(binary, executor, name):
    """Instructions per critical section of `name` on `executor`."""
    totals = []
    with tempfile.TemporaryDirectory() as tmp:
        for per_task in PER_TASK:
            env = {"TURNLOCK_BENCH_INSTR": f"{executor}:{name}:{per_task}"}
            totals.append(callgrind(binary, env, os.path.join(tmp, "out")))
    return (totals[1] - totals[0]) / SECTIONS


def fmt(value):
    return f"{value:,.0f}"


def only_table(binaries, names):
    """Instructions of the locks in `names` only: per section on each
    executor, and uncontended where the uncontended bench knows the name."""
    unknown = [name for name in names if name not in LOCKS]
    if unknown:
        sys.exit(f"unknown lock(s) {unknown}; the locks are {LOCKS}")
    lines = [
        "| lock | " + " | ".join(f"{title}: per section" for _, title in EXECUTORS)
        + " | uncontended lock + unlock |",
        "|---|" + "---|" * len(EXECUTORS) + "---|",
    ]
    for name in names:
        cells = [fmt(per_section(binaries["instructions"], executor, name)) for executor, _ in EXECUTORS]
        if name in callgrind_uncontended.NAMES:
            low, high = (
                callgrind_uncontended.instructions(binaries["uncontended"], name, rounds)
                for rounds in callgrind_uncontended.ROUNDS
            )
            rounds = callgrind_uncontended.ROUNDS
            cells.append(fmt((high - low) / (rounds[1] - rounds[0])))
        else:
            cells.append("—")
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def instruction_table(binaries):
    figures = {}
    for executor, _ in EXECUTORS:
        for name in LOCKS:
            figures[executor, name] = per_section(binaries["instructions"], executor, name)
            print(f"{executor} {name}: {figures[executor, name]:.1f}", file=sys.stderr)
    uncontended = {}
    for name in ["floor", "turnlock-new", "turnlock-fifo", "async-lock", "tokio",
                 "futures-intrusive", "maitake-sync", "futures-lock"]:
        low, high = (
            callgrind_uncontended.instructions(binaries["uncontended"], name, rounds)
            for rounds in callgrind_uncontended.ROUNDS
        )
        rounds = callgrind_uncontended.ROUNDS
        uncontended[name] = (high - low) / (rounds[1] - rounds[0])
        print(f"uncontended {name}: {uncontended[name]:.1f}", file=sys.stderr)

    lines = [
        "| lock | " + " | ".join(
            f"{title}: per section | lock's own | vs async-lock" for _, title in EXECUTORS
        ) + " | uncontended lock + unlock |",
        "|---|" + "---|---|---|" * len(EXECUTORS) + "---|",
    ]
    for name in LOCKS:
        cells = []
        for executor, _ in EXECUTORS:
            value = figures[executor, name]
            own = value - figures[executor, "noop"]
            ratio = value / figures[executor, "async-lock"]
            bold = name.startswith("turnlock")
            cells += [
                f"**{fmt(value)}**" if bold else fmt(value),
                fmt(own) if name != "noop" else "—",
                f"{ratio:.2f}x" if name != "noop" else "—",
            ]
        unc = uncontended.get(name)
        cells.append(fmt(unc) if unc is not None else "—")
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Floor of an uncontended lock + unlock (a CAS to take, a store to give back): "
        f"{fmt(uncontended['floor'])} instructions."
    )
    return "\n".join(lines), figures, uncontended


COUNT_COLUMNS = [
    ("waited", "waited"),
    ("polls", "polls"),
    ("wakes", "wake-ups"),
    ("futile_wakes", "wake-ups that find the lock taken"),
    ("listener_allocations", "listener allocations"),
    ("repeat_listeners", "acquisitions with 2+ listeners"),
    ("unused_listeners", "listeners of acquisitions that did not wait"),
    ("allocations", "allocations"),
    ("extra_polls_per_wait", "per waiting acquisition: polls after the first"),
    ("wakes_per_wait", "wake-ups"),
    ("listeners_per_wait", "listener allocations"),
]


def count_tables(binary, runs):
    env = dict(os.environ, TURNLOCK_BENCH_RUNS=str(runs))
    out = subprocess.run([binary, "--json"], check=True, stdout=subprocess.PIPE, text=True, env=env).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    header = " | ".join(title for _, title in COUNT_COLUMNS)
    rule = "---|" * len(COUNT_COLUMNS)
    single = [f"| lock | {header} |", f"|---|{rule}"]
    threaded = [f"| scenario | lock | {header} |", f"|---|---|{rule}"]
    per_wait = [key for key, _ in COUNT_COLUMNS if key.endswith("_per_wait")]
    for row in rows:
        # Two threads: per 1 000 sections, as waits are rare there.
        scale = 1.0 if row["kind"] == "single" else 1000.0
        cells = " | ".join(
            f"{row[key] * (1.0 if key in per_wait else scale):.2f}" for key, _ in COUNT_COLUMNS
        )
        if row["kind"] == "single":
            single.append(f"| {LABELS.get(row['lock'], row['lock'])} | {cells} |")
        else:
            threaded.append(f"| {row['scenario']} | {row['lock']} | {cells} |")
    return "\n".join(single), "\n".join(threaded), rows


# --- breakdown ---------------------------------------------------------------

MALLOC = re.compile(
    r"^(?:__rustc::)?(malloc|free|cfree|calloc|realloc|_int_malloc|_int_free\w*|tcache_\w+|"
    r"malloc_consolidate|unlink_chunk\w*|__libc_\w+|__rust_alloc|__rust_dealloc|"
    r"__rdl_alloc|__rdl_dealloc|__rust_no_alloc_shim_is_unstable\w*)$"
)
KNOWN_CRATES = [
    "turnlock", "event_listener", "async_lock", "tokio", "maitake_sync",
    "futures_intrusive", "futures_util", "futures_lite", "async_executor",
    "async_task", "instructions", "rwlock", "event_listener_strategy",
]
EXECUTOR_CRATES = {"instructions", "rwlock", "futures_lite", "async_executor", "async_task"}


def crate_of_fn(name):
    """The crate a function symbol belongs to (generic std code goes to the
    crate it is instantiated for)."""
    s = name
    for prefix in ("core::ptr::drop_in_place<",):
        if s.startswith(prefix):
            s = s[len(prefix):]
    s = s.lstrip("<&*").replace("mut ", "").replace("const ", "")
    first = s.split("::")[0]
    if first in KNOWN_CRATES:
        return first
    # Generic library code, or `<T as Trait>::f`: the first crate named.
    positions = [(name.find(c + "::"), c) for c in KNOWN_CRATES if name.find(c + "::") >= 0]
    if positions:
        return min(positions)[1]
    return first


def crate_of_file(path):
    if path is None or path == "???":
        return None
    if "/event-listener-" in path:
        return "event_listener"
    if path.startswith(str(ROOT / "src") + "/"):
        return "turnlock"
    if path.endswith("/benches/common/floor.rs"):
        return "floor lock"
    if "/benches/" in path:
        return "instructions"
    if "library/std/src/sys/sync/mutex" in path or "library/std/src/sync/poison" in path \
            or "library/std/src/panicking.rs" in path:
        return "std-mutex"
    if "/malloc/" in path:
        return "malloc"
    match = re.search(r"/registry/src/[^/]+/([a-z0-9_-]+?)-\d+\.\d+\.\d+", path)
    if match:
        return match.group(1).replace("-", "_")
    return None  # core, alloc, std: attributed by function


def category(fn, path):
    if MALLOC.match(fn) or crate_of_file(path) == "malloc":
        return "malloc/free"
    fcrate = crate_of_fn(fn)
    file_crate = crate_of_file(path)
    if file_crate == "std-mutex":
        return "event-listener: list mutex" if fcrate in ("event_listener", "turnlock", "async_lock") else "other"
    owner = file_crate or fcrate
    if owner == "event_listener":
        return "event-listener"
    if owner == "turnlock":
        return "turnlock"
    if owner == "floor lock":
        return "the floor lock's own code"
    if owner in EXECUTOR_CRATES:
        return "executor and task"
    if owner in ("alloc",) and "alloc::alloc" in fn:
        return "malloc/free"
    if owner in KNOWN_CRATES:
        return owner
    return "other"


def parse_callgrind(path):
    """Self cost per (function, file) and call edges (caller, callee) ->
    (calls, inclusive cost), from an uncompressed callgrind output."""
    selfcost = defaultdict(int)
    edges = defaultdict(lambda: [0, 0])
    fn = fl = fi = None
    cfn = None
    pending_call = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line[0] == "#":
                continue
            if line.startswith("fn="):
                fn = line[3:]
                fi = None
            elif line.startswith("fl="):
                fl = line[3:]
                fi = None
            elif line.startswith(("fi=", "fe=")):
                fi = line[3:]
                if fi == fl:
                    fi = None
            elif line.startswith("cfn="):
                cfn = line[4:]
            elif line.startswith("calls="):
                pending_call = int(line[6:].split()[0])
            elif line[0].isdigit() or line[0] in "+-*":
                parts = line.split()
                if len(parts) < 2:
                    continue
                cost = int(parts[1])
                if pending_call is not None:
                    edge = edges[fn, cfn]
                    edge[0] += pending_call
                    edge[1] += cost
                    pending_call = None
                else:
                    selfcost[fn, fi or fl] += cost
    return selfcost, edges


def breakdown(name, executor):
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "callgrind"
    binary = executables(["instructions"], target_dir=target, debug=True)["instructions"]
    envs = [{"TURNLOCK_BENCH_INSTR": f"{executor}:{name}:{per_task}"} for per_task in PER_TASK]
    print_breakdown(binary, envs, SECTIONS, f"{name} on the {executor} executor")


def print_breakdown(binary, envs, sections, title):
    """Where the instructions of one section go: `binary` runs under
    callgrind once per `env` of `envs` (two sizes of one scenario), and the
    difference is divided by `sections`."""
    parsed = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, env in enumerate(envs):
            out = os.path.join(tmp, f"out.{i}")
            callgrind(binary, env, out, ["--compress-strings=no", "--compress-pos=no"])
            parsed.append(parse_callgrind(out))
    (self_low, edges_low), (self_high, edges_high) = parsed
    totals = defaultdict(float)
    by_fn = defaultdict(float)
    for key in set(self_low) | set(self_high):
        diff = (self_high.get(key, 0) - self_low.get(key, 0)) / sections
        if diff:
            totals[category(*key)] += diff
            by_fn[category(*key), key[0]] += diff
    print(f"Instructions per critical section of {title}, by owner of the code:\n")
    print("| part | instructions per section |\n|---|---|")
    for cat, value in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"| {cat} | {value:.1f} |")
    print(f"| total | {sum(totals.values()):.1f} |")

    print("\nLargest functions per category (self cost per section):\n")
    for cat in sorted(totals, key=lambda c: -totals[c]):
        top = sorted(((v, f) for (c, f), v in by_fn.items() if c == cat), reverse=True)[:6]
        for value, fn in top:
            if abs(value) >= 0.5:
                print(f"  {cat:28} {value:7.1f}  {fn[:150]}")

    print("\nCalls into event-listener per section (inclusive cost: includes its mutex, malloc/free and the wakers it calls):\n")
    print("| caller -> event-listener function | calls | instructions (inclusive) |\n|---|---|---|")
    rows = []
    for key in set(edges_low) | set(edges_high):
        caller, callee = key
        if crate_of_fn(callee) != "event_listener" or crate_of_fn(caller) == "event_listener":
            continue
        low, high = edges_low.get(key, [0, 0]), edges_high.get(key, [0, 0])
        calls = (high[0] - low[0]) / sections
        cost = (high[1] - low[1]) / sections
        if calls or cost:
            rows.append((cost, calls, caller, callee))
    for cost, calls, caller, callee in sorted(rows, reverse=True):
        print(f"| {short(caller)} -> {short(callee)} | {calls:.2f} | {cost:.1f} |")

    print("\nCall counts per section of selected functions:\n")
    counts = defaultdict(float)
    for key in set(edges_low) | set(edges_high):
        low, high = edges_low.get(key, [0, 0]), edges_high.get(key, [0, 0])
        counts[key[1]] += (high[0] - low[0]) / sections
    for fn, calls in sorted(counts.items(), key=lambda kv: -kv[1]):
        if calls >= 0.01 and re.search(r"event_listener|malloc|^free|turnlock|wake|mutex|futex", fn):
            print(f"  {calls:6.2f}  {short(fn)}")


def short(fn):
    fn = re.sub(r"\[[^\]]*\]", "", fn)
    return fn if len(fn) < 110 else fn[:107] + "..."


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--runs", type=int, default=7, help="runs of each 2-thread scenario (median)")
    parser.add_argument("--breakdown", metavar="NAME", help="split one implementation's cost")
    parser.add_argument("--executor", default="fifo", help="executor of --breakdown")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated locks: their instruction counts only")
    parser.add_argument("--rw", action="store_true", help="the reader-writer table only")
    args = parser.parse_args()

    if args.rw and args.breakdown:
        counted_rw.breakdown(executables, print_breakdown, args.breakdown)
        return
    if args.rw:
        counted_rw.main(executables, callgrind, args.check)
        return
    if args.breakdown:
        breakdown(args.breakdown, args.executor)
        return
    if args.only:
        binaries = executables(["instructions", "uncontended"])
        print(only_table(binaries, [name for name in args.only.split(",") if name]))
        return

    binaries = executables(["instructions", "uncontended", "counts"])
    table, figures, uncontended = instruction_table(binaries)
    single, threaded, rows = count_tables(binaries["counts"], args.runs)
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"

    print("Instructions per critical section, 1 000 tasks on one thread, each holding the lock")
    print(f"across one `yield_now().await` (callgrind, differenced over {PER_TASK[0]} and {PER_TASK[1]} sections per task),")
    print("and per uncontended lock + unlock:\n")
    print(table)
    print("\nPer critical section in the same single-thread scenario (minimal FIFO executor), counted:\n")
    print(single)
    print(f"\nTwo threads, a smol `LocalExecutor` on each (task i on thread i % 2); \"short\": the section")
    print("only increments the counter, \"held\": it holds the lock across one `yield_now().await`.")
    print(f"Per 1 000 sections: median of {args.runs} runs; per acquisition that waited: pooled over the runs")
    print(f"(load average {load} when measured):\n")
    print(threaded)

    failures = []
    for name in ("turnlock-new", "turnlock-fifo"):
        if round(uncontended[name], 1) > UNCONTENDED_LIMIT:
            failures.append(f"{name}: {uncontended[name]:.1f} instructions uncontended > {UNCONTENDED_LIMIT}")
        for executor, _ in EXECUTORS:
            ratio = figures[executor, name] / figures[executor, "async-lock"]
            if round(ratio, 2) > TARGET_RATIO:
                failures.append(f"{name} on {executor}: {ratio:.2f}x async-lock > {TARGET_RATIO}x")
    for row in rows:
        if row["kind"] == "threaded" and row["lock"].startswith("turnlock") and round(row["listeners_per_wait"], 2) > 1.0:
            failures.append(
                f"{row['lock']}, {row['scenario']}: {row['listeners_per_wait']:.2f} listener allocations per waiting acquisition > 1"
            )
    if failures:
        print("\nTargets missed:\n" + "\n".join(f"- {f}" for f in failures), file=sys.stderr)
        if args.check:
            sys.exit(1)


if __name__ == "__main__":
    main()
