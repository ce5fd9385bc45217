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
from core.model.settings import Settings
from tests.conftest import Lapse


class CountingReader:
    name = "ina219 0x42"

    def __init__(self, fail: bool = False) -> None:
        self.reads = 0
        self.fail = fail

    def read(self, average_ma: float | None = None, *, running_ns: int = 0) -> BatteryReading:
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
        assert outlook.battery(None, 0)["percent"] == 40.0  # type: ignore[index]
    assert reader.reads == 1
    clock.advance(READ_EVERY_NS)
    outlook.battery(None, 0)
    assert reader.reads == 2


def test_an_unreadable_monitor_says_why(tmp_path: Path) -> None:
    outlook = Outlook(
        CountingReader(fail=True), BatteryModel(), tmp_path, FakeClock(), reserve_bytes=0
    )
    battery = outlook.battery(None, 0)
    assert battery == {"error": "no answer at 0x42 on I²C bus 1", "source": "ina219 0x42"}


def test_the_report_warns_when_the_battery_will_not_last(tmp_path: Path) -> None:
    outlook = Outlook(CountingReader(), BatteryModel(), tmp_path, FakeClock(), reserve_bytes=0)
    settings = Settings(interval_ns=MINUTE_NS, frames=120)
    report = outlook.report(
        settings, make_plan(settings), frames_done=0, running_ns=0, average_file_bytes=None
    )
    assert report["battery"]["voltage_v"] == 7.4
    assert report["disk"]["free_bytes"] > 0
    assert report["outlook"]["battery_short"] is True
    assert report["outlook"]["warnings"] == ["the battery lasts about 1h; the run needs 2h"]


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
