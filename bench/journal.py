"""What a long journal costs: daemon readiness and ``lapse status`` with an empty journal
and with one of millions of lines, side by side.

Two state folders, each holding one active run at 1 s (a run a daemon left, which the
next daemon resumes):

- **empty**: a run with no frame yet, its first slot a minute away; made afresh for each
  round, so it stays empty.
- **long**: a run of ``--lines`` (2,000,000) frame lines written straight to
  ``frames.jsonl``, its newest slot half a second before the journal is made. A first,
  untimed daemon start counts the whole file (no summary yet, as a journal from before
  summaries) and saves ``summary.json``; its time is shown apart. Each round's daemon
  resumes the run and adds a few lines.

Each round, for each folder in turn:

(a) Readiness: from just before this process spawns ``lapse daemon`` (its
    ``time.monotonic()``) to the first ``hello`` answered on the socket (the same clock,
    when the reply is read). The daemon resumes the run before its socket answers, so
    this includes reading the journal.
(b) ``lapse status`` with that daemon up: from just before this process spawns it to
    its exit (``subprocess.run`` returning), same clock.
(c) ``lapse status --json`` with no daemon: the run's counts are read from the journal
    (the summary and the lines after it). Same two timestamps as (b).

Medians of ``--repeats`` rounds (5). Target: the long journal's median within 1.5 times
the empty one's, plus 50 ms for the noise of starting a process.

Run from the repo root: ``.venv/bin/python bench/journal.py [--lines 2000000] [--json FILE]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    Processes,
    Report,
    bench_parser,
    daemon_env,
    lapse_command,
    median,
    run_benchmark,
    start_daemon,
    stop_daemon,
    temp_dir,
    wait_for_hello,
)
from core.clock import SystemClock
from core.daemon.journal_writer import create_run
from core.journal import Journal
from core.model.durations import NS_PER_S, wall_iso
from core.model.settings import Settings

TITLE = "lapse journal benchmark: readiness and status, empty journal vs a long one"
INTERVAL_NS = NS_PER_S
SLACK_S = 0.05
"""Added to the target: starting a process varies by this much on its own."""
RATIO = 1.5
BATCH = 100_000
"""Lines written to the long journal at a time."""


@dataclass
class Figures:
    """One folder's timings, in seconds."""

    name: str
    ready: list[float] = field(default_factory=list)
    status_up: list[float] = field(default_factory=list)
    status_down: list[float] = field(default_factory=list)


def new_run(state_dir: Path, newest_ago_ns: int | None, lines: int) -> str:
    """An active run at 1 s in ``state_dir``: ``lines`` ok frames whose newest slot was
    ``newest_ago_ns`` ago, or none, the first slot a minute away. Another boot's, so a
    daemon re-anchors it through the wall clock."""
    wall = SystemClock().wall_ns()
    if newest_ago_ns is None:
        anchor_wall = wall + 60 * NS_PER_S
    else:
        anchor_wall = wall - newest_ago_ns - (lines - 1) * INTERVAL_NS
    with create_run(
        Journal(state_dir),
        settings=Settings(interval_ns=INTERVAL_NS),
        anchor_ns=0,
        anchor_wall_ns=anchor_wall,
        boot_id="bench-journal: another boot",
        created_wall_ns=anchor_wall - NS_PER_S,
        rig="simulated",
    ) as writer:
        write_lines(writer.info.frames_path, lines, anchor_wall)
        return writer.info.id


def write_lines(path: Path, count: int, anchor_wall: int) -> None:
    """``count`` ok frame lines, written straight to the file, a batch at a time."""
    with path.open("ab") as file:
        for start in range(0, count, BATCH):
            lines = []
            for frame in range(start, min(count, start + BATCH)):
                due = frame * INTERVAL_NS
                lines.append(
                    f'{{"frame":{frame},"due_ns":{due},"fired_ns":{due + 40_000},'
                    f'"wall":"{wall_iso(anchor_wall + due + 40_000)}","status":"ok",'
                    f'"file":null,"error":null,"lateness_ns":40000}}\n'
                )
            file.write("".join(lines).encode("ascii"))


def timed_daemon(processes: Processes, root: Path) -> tuple[float, Any]:
    """Spawn a daemon in ``root``; seconds from spawn to its first hello, and its handle."""
    started = time.monotonic()
    handle = start_daemon(processes, root, daemon_env(root))
    wait_for_hello(handle, timeout=600.0)
    return time.monotonic() - started, handle


def timed_status(env: dict[str, str], *extra: str) -> float:
    """Seconds from spawning ``lapse status`` to its exit; raises if it failed."""
    started = time.monotonic()
    done = subprocess.run(
        [*lapse_command(), "status", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"`lapse status` failed: {done.stderr.strip()}")
    if extra:
        json.loads(done.stdout)  # the counts were read: the answer is whole
    return elapsed


def one_round(processes: Processes, root: Path, figures: Figures) -> None:
    """(a), (b) and (c) once for the run in ``root``; the run stays active."""
    ready, handle = timed_daemon(processes, root)
    figures.ready.append(ready)
    try:
        figures.status_up.append(timed_status(handle.env))
    finally:
        stop_daemon(processes, handle)
    figures.status_down.append(timed_status(handle.env, "--json"))


def measure(processes: Processes, report: Report, args: Any) -> None:
    with temp_dir("lapse-bj-", args.keep) as work:
        long_root = work / "long"
        long_root.mkdir()
        print(f"\nwriting {args.lines:,} frame lines to the long journal…")
        made = time.monotonic()
        run_id = new_run(long_root / "state", NS_PER_S // 2, args.lines)
        frames = long_root / "state" / "runs" / run_id / "frames.jsonl"
        print(f"    {frames.stat().st_size / 1e6:,.0f} MB in {time.monotonic() - made:.1f} s")
        first, handle = timed_daemon(processes, long_root)
        stop_daemon(processes, handle)
        print(
            f"    first start, no summary yet (the whole file counted once): {first:.2f} s"
            " spawn → hello"
        )
        report.data["first_start_s"] = first

        empty, long = Figures("empty"), Figures(f"{args.lines:,} lines")
        for number in range(args.repeats):
            empty_root = work / f"empty-{number}"
            empty_root.mkdir()
            new_run(empty_root / "state", None, 0)
            one_round(processes, empty_root, empty)
            one_round(processes, long_root, long)
            print(f"    round {number + 1} of {args.repeats} done")

    rows = [
        ("(a) spawn `lapse daemon` → first hello answered", "ready"),
        ("(b) spawn `lapse status` → its exit (daemon up)", "status_up"),
        ("(c) spawn `lapse status --json` → its exit (no daemon)", "status_down"),
    ]
    print(f"\nmedians of {args.repeats} rounds")
    print(f"    {'':<56} {empty.name:>10} {long.name:>16}")
    for label, key in rows:
        a, b = median(getattr(empty, key)), median(getattr(long, key))
        print(f"    {label:<56} {a * 1000:8.0f}ms {b * 1000:14.0f}ms")
        report.check(
            f"{label[:3]} long journal ≤ {RATIO:g} × empty + {SLACK_S * 1000:.0f} ms",
            b <= RATIO * a + SLACK_S,
            f"{b * 1000:.0f} ms vs {a * 1000:.0f} ms",
        )
    report.data["rounds"] = [vars(empty), vars(long)]


def parse_args(argv: Sequence[str] | None) -> Any:
    parser = bench_parser("bench/journal.py", __doc__)
    parser.add_argument(
        "--lines", type=int, default=2_000_000, help="the long journal's lines (2000000)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="rounds (default 5)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(TITLE, parse_args(argv), measure)


if __name__ == "__main__":
    sys.exit(main())
