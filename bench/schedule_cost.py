"""What windows and two paces cost the timing thread.

The engine asks the scheduler for each frame (``Scheduler.begin_next``) on the timing
thread, between one frame's last step and the next frame's first; with a window it
also asks whether the slot is inside, and once a week the sun's openings and closings
are worked out (``Windows``, astral). Three runs at 1 s, the same work each: no window
(the baseline), ``sunset..sunrise``, and a night interval of 2 s, at Greenwich from
2026-12-01 18:00 UTC.

Figures: the time between two ``time.perf_counter_ns()`` readings around 20,000
``begin_next`` calls in this process's one thread, divided by the calls, per round (7
rounds, the three runs in turn); and around the 52 weeks of a year's windows worked
out afresh.

Targets: median ``begin_next`` with a window or two paces ≤ 50 µs (a twentieth of the
1 ms a shutter may be late); a week's windows ≤ 1 ms.

Run from the repo root: ``.venv/bin/python bench/schedule_cost.py [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import fmt, median, print_table
from core.daemon.sky import AstralSky, run_grid, run_windows
from core.model.durations import NS_PER_S
from core.model.place import Place
from core.model.plan import make_plan
from core.model.scheduler import Scheduler
from core.model.settings import Settings
from core.model.windows import CHUNK_NS, When, Windows, window_rules

PLACE = Place(51.48, 0.0, 0.0)
WALL = int(datetime(2026, 12, 1, 18, tzinfo=UTC).timestamp()) * NS_PER_S
CALLS = 20_000
ROUNDS = 7
RUNS = {
    "no window (baseline)": Settings(interval_ns=NS_PER_S),
    "sunset..sunrise": Settings(interval_ns=NS_PER_S, between="sunset..sunrise"),
    "night every 2s": Settings(interval_ns=NS_PER_S, night_interval_ns=2 * NS_PER_S),
}
TARGET_US = 50.0
TARGET_WEEK_MS = 1.0


def scheduler(settings: Settings) -> Scheduler:
    return Scheduler(
        make_plan(settings),
        run_grid(settings, PLACE, anchor_ns=0, anchor_wall_ns=WALL),
        windows=run_windows(settings, PLACE, anchor_ns=0, anchor_wall_ns=WALL),
        night_plan=make_plan(settings.at_night()) if settings.paced else None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="keep the figures here")
    args = parser.parse_args()
    os.environ["TZ"] = "UTC"
    time.tzset()
    per_call: dict[str, list[float]] = {name: [] for name in RUNS}
    for _ in range(ROUNDS):
        for name, settings in RUNS.items():
            runs = scheduler(settings)
            for _ in range(200):
                runs.begin_next(0)  # past the first week's windows, worked out once
            start = time.perf_counter_ns()
            for _ in range(CALLS):
                runs.begin_next(0)
            per_call[name].append((time.perf_counter_ns() - start) / CALLS / 1000)
    weeks: dict[str, list[float]] = {}
    for rule, when in (("sunset-30min..sunrise", When.ALWAYS), ("", When.NIGHT)):
        name = rule or "the sun below -12°"
        weeks[name] = []
        for _ in range(5):
            windows = Windows(
                window_rules(rule, when, -12), AstralSky(PLACE), anchor_ns=0, anchor_wall_ns=0
            )
            start = time.perf_counter_ns()
            for week in range(52):
                windows.span_at(WALL + week * CHUNK_NS)
            weeks[name].append((time.perf_counter_ns() - start) / 52 / 1e6)
    base = median(per_call["no window (baseline)"])
    print(f"begin_next, µs a call ({CALLS:,} calls a round, {ROUNDS} rounds):")
    print_table(
        ["run", "median", "max", "× baseline"],
        [
            [name, fmt(median(us), 1), fmt(max(us), 1), fmt(median(us) / base, 1)]
            for name, us in per_call.items()
        ],
    )
    print("a week's windows worked out, ms (a year, 5 rounds):")
    print_table(
        ["rule", "median", "max"],
        [[name, fmt(median(ms), 2), fmt(max(ms), 2)] for name, ms in weeks.items()],
    )
    worst_call = max(median(per_call[name]) for name in list(RUNS)[1:])
    worst_week = max(median(ms) for ms in weeks.values())
    ok = worst_call <= TARGET_US and worst_week <= TARGET_WEEK_MS
    print(
        f"begin_next with a window or paces: {worst_call:.1f} µs (target ≤ {TARGET_US:g});"
        f" a week's windows: {worst_week:.2f} ms (target ≤ {TARGET_WEEK_MS:g}):"
        f" {'PASS' if ok else 'FAIL'}"
    )
    if args.json:
        args.json.write_text(json.dumps({"us": per_call, "week_ms": weeks, "pass": ok}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
