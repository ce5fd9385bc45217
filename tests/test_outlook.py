"""Battery and disk in ``status``, and the planner's warnings, from the daemon to the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from core.daemon.outlook import READ_EVERY_NS, Outlook
from core.fake_clock import FakeClock
from core.model.battery import BatteryModel, BatteryReading
from core.model.durations import MINUTE_NS, NS_PER_S
from core.model.errors import BatteryError
from core.model.plan import make_plan
from core.model.protocol import BatteryStatus, Counts, RunStatus, Status
from core.model.run_state import RunState
from core.model.settings import Settings
from tests.conftest import Lapse


class CountingReader:
    name = "ina219 0x42"

    def __init__(self, fail: bool = False) -> None:
        self.reads = 0
        self.fail = fail

    def read(self, average_ma: float | None = None) -> BatteryReading:
        self.reads += 1
        if self.fail:
            raise BatteryError("no answer at 0x42 on I²C bus 1")
        return BatteryReading(
            percent=40.0, source=self.name, voltage_v=7.4, lasts_ns=3600 * NS_PER_S
        )

    def close(self) -> None:
        pass


def test_a_monitor_is_read_at_most_every_10s(tmp_path: Path) -> None:
    clock = FakeClock()
    reader = CountingReader()
    outlook = Outlook(reader, BatteryModel(), tmp_path, clock, reserve_bytes=0)
    for _ in range(5):
        assert outlook.battery(None, running_ns=0, draining=False).percent == 40.0
    assert reader.reads == 1
    clock.advance(READ_EVERY_NS)
    outlook.battery(None, running_ns=0, draining=False)
    assert reader.reads == 2


def test_an_unreadable_monitor_says_why(tmp_path: Path) -> None:
    clock = FakeClock()
    outlook = Outlook(CountingReader(fail=True), BatteryModel(), tmp_path, clock, reserve_bytes=0)
    battery = outlook.battery(None, running_ns=0, draining=False)
    assert battery == BatteryStatus(
        source="ina219 0x42", at_ns=clock.now_ns(), error="no answer at 0x42 on I²C bus 1"
    )


def test_with_no_monitor_the_figure_is_the_model_of_this_pi_drained_by_the_plan(
    tmp_path: Path,
) -> None:
    # The one battery figure: the daemon's model (of the board it runs on), never a
    # client's guess. During a run it drains with the clock; idle it is the Pi alone.
    clock = FakeClock()
    model = BatteryModel(capacity_mah=2400.0, pi_ma=120.0)
    outlook = Outlook(None, model, tmp_path, clock, reserve_bytes=0)
    plan = make_plan(Settings(interval_ns=MINUTE_NS, power=True))
    running = outlook.battery(plan, running_ns=3 * 3600 * NS_PER_S, draining=True)
    expected = model.estimate(plan, running_ns=3 * 3600 * NS_PER_S, frames_left=None)
    assert (running.source, running.percent, running.lasts_ns, running.draw_ma) == (
        "model",
        expected.percent,
        expected.lasts_ns,
        expected.average_ma,
    )
    assert running.draining and running.at_ns == clock.now_ns()
    idle = outlook.battery(None, running_ns=0, draining=False)
    assert (idle.percent, idle.lasts_ns, idle.draining) == (100.0, 20 * 3600 * NS_PER_S, False)


def test_a_draining_figure_falls_with_the_clock_between_statuses() -> None:
    battery = BatteryStatus(
        source="model", percent=80.0, lasts_ns=8 * 3600 * NS_PER_S, at_ns=1000, draining=True
    )
    later = battery.at(1000 + 2 * 3600 * NS_PER_S)
    assert (later.percent, later.lasts_ns) == (60.0, 6 * 3600 * NS_PER_S)
    assert battery.at(1000 + 9 * 3600 * NS_PER_S).percent == 0.0
    held = BatteryStatus(source="sysfs BAT0", percent=80.0, lasts_ns=3600, at_ns=0)
    assert held.at(10**12) == held  # a monitor's figure stays until its next reading


def test_the_report_warns_when_the_battery_will_not_last(tmp_path: Path) -> None:
    clock = FakeClock()
    outlook = Outlook(CountingReader(), BatteryModel(), tmp_path, clock, reserve_bytes=0)
    settings = Settings(interval_ns=MINUTE_NS, frames=120)
    run = RunStatus(
        id="r",
        settings=settings,
        folder="/runs/r",
        photos="/runs/r",
        anchor_ns=0,
        counts=Counts(),
        last_frame=None,
    )
    status = Status(
        state=RunState.RUNNING, now_ns=0, rig="sim", simulated=True, outputs={}, run=run
    )
    report = outlook.report(status, make_plan(settings), None)
    assert report.battery is not None and report.battery.voltage_v == 7.4
    assert report.disk is not None and report.disk.free_bytes
    assert report.outlook is not None and report.outlook.battery_short is True
    assert report.outlook.warnings == ("the battery lasts about 1h; the run needs 2h",)
    preview = outlook.preview(settings, make_plan(settings))
    assert preview.outlook.warnings == report.outlook.warnings


def test_status_and_run_warn_when_the_battery_will_not_last(lapse: Lapse) -> None:
    lapse.config.write_text('[battery]\nsource = "model"\ncapacity_mah = 200.0\n')
    lapse.start_daemon()
    started = lapse.cli("run", "--interval", "1min", "--frames", "100")
    assert started.returncode == 0, started.stderr
    assert "Warning: the battery lasts about" in started.stdout
    status = json.loads(lapse.cli("status", "--json").stdout)
    assert status["battery"]["source"] == "model"
    assert status["outlook"]["battery_short"] is True
    assert status["disk"]["free_bytes"] > 0
    text = lapse.cli("status").stdout
    assert "  battery: 100% (model), lasts about" in text
    assert "  warning: the battery lasts about" in text
    lapse.cli("stop")


def test_a_run_that_fits_has_no_warning(lapse: Lapse) -> None:
    lapse.config.write_text('[battery]\nsource = "model"\n')
    lapse.start_daemon()
    started = lapse.cli("run", "--interval", "1min", "--frames", "10")
    assert "Warning" not in started.stdout
    status = json.loads(lapse.cli("status", "--json").stdout)
    assert status["outlook"]["warnings"] == []
    lapse.cli("stop")
