"""The reader-writer table of `tools/counted.py --rw`.

Instructions counted with callgrind in the counting mode of
`benches/rwlock.rs` (TURNLOCK_BENCH_RW=<scenario>:<name>:<n>), for
turnlock's `RwLock` (both policies), async-lock's and tokio's, in one run:

* uncontended `read` + drop and `write` + drop, each future polled once:
  differenced over two round counts, so start-up cancels out;
* the read-mostly mix: 1 000 tasks on the minimal FIFO executor, one
  section in ten a write, each held across one `yield_now().await`;
  differenced over 8 and 16 sections per task (8 000 sections).

Targets (issue 18): uncontended read and write each below both peers; the
mix at most 0.9x async-lock's.
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ROUNDS = (100_000, 1_100_000)
TASKS = 1000
PER_TASK = (8, 16)
SECTIONS = TASKS * (PER_TASK[1] - PER_TASK[0])
LOCKS = ["turnlock-new", "turnlock-fifo", "async-lock", "tokio"]
PEERS = ["async-lock", "tokio"]
MIX_RATIO = 0.9


def per_op(callgrind, binary, scenario, name, counts, divisor):
    """Instructions per operation: the difference of two runs over `divisor`."""
    totals = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            env = {"TURNLOCK_BENCH_RW": f"{scenario}:{name}:{n}"}
            totals.append(callgrind(binary, env, os.path.join(tmp, "out")))
    return (totals[1] - totals[0]) / divisor


def measure(callgrind, binary, names=LOCKS):
    """{(scenario, name): instructions per operation}, including the no-op
    lock's mix (the executor's share)."""
    figures = {}
    for name in names:
        for scenario in ("read", "write"):
            figures[scenario, name] = per_op(
                callgrind, binary, scenario, name, ROUNDS, ROUNDS[1] - ROUNDS[0]
            )
        figures["mix", name] = per_op(callgrind, binary, "mix", name, PER_TASK, SECTIONS)
        print(
            f"{name}: read {figures['read', name]:.1f}, write {figures['write', name]:.1f}, "
            f"mix {figures['mix', name]:.1f}",
            file=sys.stderr,
        )
    figures["mix", "noop"] = per_op(callgrind, binary, "mix", "noop", PER_TASK, SECTIONS)
    return figures


def table(figures, names=LOCKS):
    def ratio(scenario, name, peer):
        if (scenario, peer) not in figures:
            return "—"
        return f"{figures[scenario, name] / figures[scenario, peer]:.2f}x"

    noop = figures["mix", "noop"]
    lines = [
        "| lock | read + drop | write + drop | read-mostly mix: per section | lock's own "
        "| vs async-lock (read / write / mix) | vs tokio (read / write / mix) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        bold = (lambda s: f"**{s}**") if name.startswith("turnlock") else (lambda s: s)
        cells = [
            bold(f"{figures['read', name]:,.1f}"),
            bold(f"{figures['write', name]:,.1f}"),
            bold(f"{figures['mix', name]:,.0f}"),
            f"{figures['mix', name] - noop:,.0f}",
        ]
        for peer in PEERS:
            cells.append(
                " / ".join(ratio(scenario, name, peer) for scenario in ("read", "write", "mix"))
                if name != peer
                else "—"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"No-op lock, read-mostly mix (the executor alone): {noop:,.0f} instructions per section.")
    return "\n".join(lines)


def failures(figures):
    missed = []
    for name in ("turnlock-new", "turnlock-fifo"):
        for scenario in ("read", "write"):
            for peer in PEERS:
                if figures[scenario, name] >= figures[scenario, peer]:
                    missed.append(
                        f"{name}: uncontended {scenario} {figures[scenario, name]:.1f} "
                        f">= {peer}'s {figures[scenario, peer]:.1f}"
                    )
        ratio = figures["mix", name] / figures["mix", "async-lock"]
        if round(ratio, 2) > MIX_RATIO:
            missed.append(f"{name}: read-mostly mix {ratio:.2f}x async-lock > {MIX_RATIO}x")
    return missed


def breakdown(executables, print_breakdown, name):
    """Where the instructions of one section of the read-mostly mix go."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "callgrind"
    binary = executables(["rwlock"], target_dir=target, debug=True)["rwlock"]
    envs = [{"TURNLOCK_BENCH_RW": f"mix:{name}:{n}"} for n in PER_TASK]
    print_breakdown(binary, envs, SECTIONS, f"{name} in the read-mostly mix")


def main(executables, callgrind, check):
    binary = executables(["rwlock"])["rwlock"]
    figures = measure(callgrind, binary)
    print("Reader-writer locks: instructions per uncontended read + drop and write + drop")
    print(f"(callgrind, differenced over {ROUNDS[0]:,} and {ROUNDS[1]:,} rounds), and per section of")
    print(f"{TASKS:,} tasks on one thread (minimal FIFO executor), one section in ten a write, each")
    print(f"held across one `yield_now().await` (differenced over {PER_TASK[0]} and {PER_TASK[1]} sections per task):\n")
    print(table(figures))
    missed = failures(figures)
    if missed:
        print("\nTargets missed:\n" + "\n".join(f"- {m}" for m in missed), file=sys.stderr)
        if check:
            sys.exit(1)
