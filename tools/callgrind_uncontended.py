#!/usr/bin/env python3
"""Count instructions of one uncontended lock + unlock under callgrind.

Builds the `uncontended` bench binary, runs it under
`valgrind --tool=callgrind` in its counting mode
(TURNLOCK_BENCH_COUNT=<name>:<rounds>) twice per implementation with
different round counts, and divides the difference of the totals by the
difference of the rounds, so start-up costs cancel out. Instruction counts
are repeatable where timings on a shared machine are not.

    python3 tools/callgrind_uncontended.py [NAME ...]

Honours CARGO_TARGET_DIR; prints a Markdown table. Standard library only;
needs valgrind.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

NAMES = [
    "floor",
    "floor-rmw",
    "turnlock-new",
    "turnlock-fifo",
    "futures-lock",
    "maitake-sync",
    "async-lock",
    "futures-intrusive",
    "tokio",
]
ROUNDS = (100_000, 1_100_000)


def bench_binary():
    out = subprocess.run(
        ["cargo", "bench", "--no-run", "--bench", "uncontended", "--message-format=json"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    for line in out.splitlines():
        message = json.loads(line)
        if (
            message.get("reason") == "compiler-artifact"
            and message["target"]["name"] == "uncontended"
            and message.get("executable")
        ):
            return message["executable"]
    sys.exit("cargo did not report the uncontended bench executable")


def instructions(binary, name, rounds):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        env = dict(os.environ, TURNLOCK_BENCH_COUNT=f"{name}:{rounds}")
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with open(out) as f:
            for line in f:
                match = re.match(r"(?:summary|totals):\s+(\d+)", line)
                if match:
                    return int(match.group(1))
    sys.exit(f"no instruction total in the callgrind output for {name}")


def main():
    names = sys.argv[1:] or NAMES
    binary = bench_binary()
    per_op = {}
    for name in names:
        low, high = (instructions(binary, name, r) for r in ROUNDS)
        per_op[name] = (high - low) / (ROUNDS[1] - ROUNDS[0])
        print(f"{name}: {per_op[name]:.1f} instructions", file=sys.stderr)
    floor = per_op.get("floor")
    peers = [v for n, v in per_op.items() if not n.startswith(("turnlock", "floor"))]
    best = min(peers) if peers else None
    print("| implementation | instructions per lock + unlock | ratio to floor | ratio to best peer |")
    print("|---|---|---|---|")
    for name, value in per_op.items():
        to_floor = f"{value / floor:.2f}x" if floor else "—"
        to_best = f"{value / best:.2f}x" if best else "—"
        print(f"| {name} | {value:.1f} | {to_floor} | {to_best} |")


if __name__ == "__main__":
    main()
