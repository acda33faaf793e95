#!/usr/bin/env python3
"""Turn the latest benchmark results into docs/bench.svg and a Markdown table.

Reads criterion's medians (<criterion>/<group>/<function>/new/estimates.json,
divided by the group's throughput when it has one, so contended and keyed
figures are per critical section) and the fairness results
(<criterion>/turnlock-fairness.json). Each scenario is drawn as bars of its
ratio to the best peer (the fastest implementation that is neither turnlock
nor a floor); fairness is drawn as max/min acquisitions per task.

    python3 tools/bench_chart.py [--target-dir DIR] [--svg PATH]

The criterion directory is $CRITERION_HOME, else <target dir>/criterion, where
the target dir is --target-dir, else $CARGO_TARGET_DIR, else ./target. The
Markdown tables go to standard output. Standard library only.
"""

import argparse
import json
import os
import sys
from html import escape
from pathlib import Path

# (criterion group, title, table). Groups not listed here are not shown.
SCENARIOS = [
    ("uncontended", "uncontended lock + unlock, 1 thread", "lock"),
    ("short-2-tasks-2-threads", "short section, 2 tasks on 2 threads", "lock"),
    ("short-64-tasks-2-threads", "short section, 64 tasks on 2 threads", "lock"),
    ("held-64-tasks-2-threads", "held across .await, 64 tasks on 2 threads", "lock"),
    ("held-1000-tasks-1-thread", "held across .await, 1000 tasks on 1 thread", "lock"),
    ("keyed-4096-keys", "keyed, 64 tasks on 2 threads, 4096 keys", "keyed"),
    ("keyed-8-keys", "keyed, 64 tasks on 2 threads, 8 keys", "keyed"),
]
FAIRNESS = [
    ("held", "fairness, 16 tasks holding across .await: max/min acquisitions"),
    ("short", "fairness, 16 tasks, short section: max/min acquisitions"),
]
# Column order of the tables and bar order of the chart; others follow.
ORDER = [
    "turnlock-new",
    "turnlock-fifo",
    "async-lock",
    "tokio",
    "futures-intrusive",
    "maitake-sync",
    "futures-lock",
    "lockable",
    "hashmap-async-lock",
    "floor",
    "floor-rmw",
]


def is_ours(name):
    return name.startswith("turnlock")


def is_reference(name):
    return name.startswith("floor")


def order_key(name):
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def criterion_dir(args):
    if os.environ.get("CRITERION_HOME"):
        return Path(os.environ["CRITERION_HOME"])
    target = args.target_dir or os.environ.get("CARGO_TARGET_DIR") or "target"
    return Path(target) / "criterion"


def load_group(root, group):
    """{function: median per operation in ns} for one criterion group."""
    results = {}
    directory = root / group
    if not directory.is_dir():
        return results
    for function_dir in sorted(directory.iterdir()):
        estimates = function_dir / "new" / "estimates.json"
        benchmark = function_dir / "new" / "benchmark.json"
        if not estimates.is_file() or not benchmark.is_file():
            continue
        median = json.loads(estimates.read_text())["median"]["point_estimate"]
        meta = json.loads(benchmark.read_text())
        throughput = meta.get("throughput") or {}
        per = throughput.get("Elements") or throughput.get("Bytes") or 1
        results[meta["function_id"]] = median / per
    return results


def panels(root):
    """[(table, title, kind, {name: value})], kind "time" or "fairness"."""
    found = []
    for group, title, table in SCENARIOS:
        values = load_group(root, group)
        if values:
            found.append((table, title, "time", values))
    fairness = root / "turnlock-fairness.json"
    if fairness.is_file():
        data = json.loads(fairness.read_text())
        for variant, title in FAIRNESS:
            values = {
                r["name"]: r["max_over_min"] for r in data["results"] if r["variant"] == variant
            }
            if values:
                found.append(("fairness", title, "fairness", values))
    return found


def best_peer(values):
    peers = [v for name, v in values.items() if not is_ours(name) and not is_reference(name)]
    return min(peers) if peers else None


def bar_value(kind, value, best):
    """What a bar shows: the ratio to the best peer, or max/min itself."""
    if kind == "fairness":
        return value
    return value / best if best else None


def fmt_time(ns):
    if ns >= 1000:
        return f"{ns / 1000:.2f} µs"
    return f"{ns:.1f} ns" if ns >= 10 else f"{ns:.2f} ns"


def fmt_fairness(ratio):
    return f"{ratio:.0f}" if ratio >= 100 else f"{ratio:.2f}"


def markdown(found):
    out = []
    tables = {}
    for table, title, kind, values in found:
        tables.setdefault(table, []).append((title, kind, values))
    headings = {
        "lock": "Median time per lock + unlock (per critical section when contended), "
        "and its ratio to the best peer (lower is better)",
        "keyed": "Keyed locks: median time per critical section, and its ratio to the best peer",
        "fairness": "Fairness: max/min acquisitions per task (1.00 = perfectly even)",
    }
    for table, rows in tables.items():
        names = sorted({n for _, _, values in rows for n in values}, key=order_key)
        out.append(f"{headings.get(table, table)}:")
        out.append("")
        out.append("| scenario | " + " | ".join(names) + " |")
        out.append("|---|" + "---|" * len(names))
        for title, kind, values in rows:
            best = best_peer(values)
            cells = []
            for name in names:
                if name not in values:
                    cells.append("—")
                elif kind == "fairness":
                    cells.append(fmt_fairness(values[name]))
                else:
                    ratio = bar_value(kind, values[name], best)
                    cell = fmt_time(values[name])
                    if ratio is not None:
                        cell += f" ({ratio:.2f}x)"
                    cells.append(f"**{cell}**" if is_ours(name) else cell)
            out.append(f"| {title} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


COLOURS = {"turnlock-new": "#d9480f", "turnlock-fifo": "#f59f00"}
PEER = "#868e96"
REFERENCE = "#ced4da"


def svg(found):
    width, label_w, bar_w, right = 920, 170, 560, 180
    row_h, gap, title_h = 18, 14, 22
    cap = 3.0  # bars longer than this are cut and marked
    x0 = label_w

    def x_of(v):
        return x0 + bar_w * min(v, cap) / cap

    body = []
    y = 62
    for _, title, kind, values in found:
        best = best_peer(values)
        body.append(
            f'<text x="10" y="{y + 14}" class="title">{escape(title)}</text>'
        )
        y += title_h
        top = y
        for name in sorted(values, key=order_key):
            v = bar_value(kind, values[name], best)
            if v is None:
                continue
            colour = COLOURS.get(name, REFERENCE if is_reference(name) else PEER)
            end = x_of(v)
            body.append(f'<text x="{x0 - 8}" y="{y + 13}" class="label">{escape(name)}</text>')
            body.append(
                f'<rect x="{x0}" y="{y + 2}" width="{end - x0:.1f}" height="{row_h - 4}" '
                f'fill="{colour}"/>'
            )
            if v > cap:
                body.append(
                    f'<path d="M{end - 10:.1f} {y + 1} l6 {row_h - 2} M{end - 5:.1f} {y + 1} '
                    f'l6 {row_h - 2}" stroke="#fff" stroke-width="2"/>'
                )
            if kind == "fairness":
                text = fmt_fairness(v)
            else:
                text = f"{v:.2f}x  ({fmt_time(values[name])})"
            body.append(f'<text x="{min(end, x0 + bar_w) + 6:.1f}" y="{y + 13}">{text}</text>')
            y += row_h
        one = x_of(1.0)
        body.append(
            f'<line x1="{one:.1f}" y1="{top - 2}" x2="{one:.1f}" y2="{y + 2}" '
            f'stroke="#212529" stroke-dasharray="3 3"/>'
        )
        y += gap
    height = y + 30
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        "<style>.title{font-weight:bold;font-size:13px}.label{text-anchor:end}</style>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        '<text x="10" y="20" class="title" font-size="15">turnlock against its peers: '
        "ratio to the best peer per scenario (lower is better; dashed line = best peer)</text>",
        '<text x="10" y="36" fill="#495057">turnlock-new and turnlock-fifo in colour, peers in '
        "grey, the bare-atomic floors in light grey.</text>",
        f'<text x="10" y="50" fill="#495057">Bars beyond {cap:.0f}x are cut. Fairness rows show '
        "max/min acquisitions per task (1.00 = even).</text>",
    ]
    foot = [
        f'<text x="10" y="{height - 10}" fill="#495057">Regenerate: '
        "TURNLOCK_BENCH_QUICK=1 cargo bench &amp;&amp; python3 tools/bench_chart.py</text>",
        "</svg>",
    ]
    return "\n".join(head + body + foot) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target-dir", help="cargo target directory (default: $CARGO_TARGET_DIR or target)")
    parser.add_argument("--svg", default="docs/bench.svg", help="where to write the chart")
    args = parser.parse_args()
    root = criterion_dir(args)
    found = panels(root)
    if not found:
        sys.exit(f"no benchmark results under {root}; run `cargo bench` first")
    Path(args.svg).parent.mkdir(parents=True, exist_ok=True)
    Path(args.svg).write_text(svg(found), encoding="utf-8")
    print(markdown(found))
    print(f"wrote {args.svg} from {root}", file=sys.stderr)


if __name__ == "__main__":
    main()
