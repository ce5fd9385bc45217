"""Whether the wall clock may carry a run over a reboot (core.model.clock_trust), what the
kernel says of its clock (core.clock.kernel_clock_synchronised), and where a run resumes
when the photographer vouches for a clock that is behind its journal (resume_point).

- On the same boot the clock is always trusted: the monotonic anchor holds.
- On another boot a wall clock behind the journal's newest wall time (its last frame,
  or run.toml's creation when it has none) is not, nor one the system says is not
  synchronised; where the system cannot tell, the journal alone decides.
- ``adjtimex``'s STA_UNSYNC bit, or a maximum error of 16 s or more, is "not
  synchronised"; a libc without ``adjtimex`` is "cannot tell".
- Resumed on another boot with the wall clock behind its last frame, a run goes on one
  interval after now rather than waiting until the clock catches up.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import pytest

from core import clock as clock_module
from core.model.clock_trust import (
    BEHIND,
    UNSYNCHRONISED,
    clock_trust,
    journal_wall_ns,
    wall_ns_of,
)
from core.model.durations import NS_PER_S, wall_iso
from core.model.ledger import resume_point
from core.model.records import FrameRecord
from core.model.scheduler import Grid

pytestmark = pytest.mark.usefixtures("utc")

WALL = 1_800_000_000 * NS_PER_S
YEAR = 365 * 86_400 * NS_PER_S
ANCHOR = 7_000 * NS_PER_S
INTERVAL = 10 * NS_PER_S
GRID = Grid(ANCHOR, INTERVAL)


def fired(frame: int) -> FrameRecord:
    due = GRID.due_ns(frame)
    return FrameRecord(
        frame=frame, due_ns=due, fired_ns=due, wall=wall_iso(WALL + due - ANCHOR), status="ok"
    )


@pytest.mark.parametrize("wall_ns", [WALL - YEAR, WALL, WALL + YEAR])
@pytest.mark.parametrize("synchronised", [True, False, None])
def test_on_the_same_boot_the_clock_is_always_trusted(
    wall_ns: int, synchronised: bool | None
) -> None:
    trust = clock_trust(
        same_boot=True, journal_wall_ns=WALL, wall_ns=wall_ns, synchronised=synchronised
    )
    assert trust.trusted and trust.why_not is None


@pytest.mark.parametrize("synchronised", [True, False, None])
def test_after_a_reboot_a_clock_behind_the_journal_is_not_trusted(
    synchronised: bool | None,
) -> None:
    trust = clock_trust(
        same_boot=False, journal_wall_ns=WALL, wall_ns=WALL - YEAR, synchronised=synchronised
    )
    assert not trust.trusted
    assert trust.why_not == f"{BEHIND} (2027-01-15 08:00:00)"


def test_after_a_reboot_a_clock_the_system_calls_unsynchronised_is_not_trusted() -> None:
    trust = clock_trust(
        same_boot=False, journal_wall_ns=WALL, wall_ns=WALL + YEAR, synchronised=False
    )
    assert trust.why_not == UNSYNCHRONISED


@pytest.mark.parametrize("synchronised", [True, None])
def test_after_a_reboot_a_clock_ahead_of_the_journal_is_trusted_unless_the_system_doubts_it(
    synchronised: bool | None,
) -> None:
    for wall_ns in (WALL, WALL + YEAR):
        assert clock_trust(
            same_boot=False, journal_wall_ns=WALL, wall_ns=wall_ns, synchronised=synchronised
        ).trusted


def test_the_journals_wall_time_is_its_last_frames_or_its_creation() -> None:
    created = wall_iso(WALL - 5 * NS_PER_S)
    assert journal_wall_ns(None, created) == WALL - 5 * NS_PER_S
    assert journal_wall_ns(fired(3), created) == WALL + 3 * INTERVAL
    assert wall_ns_of("2027-01-15T09:00:00.000001+01:00") == WALL + 1_000


class FakeLibc:
    """A libc whose ``adjtimex`` fills in the given status and maximum error."""

    def __init__(self, status: int, maxerror: int, answer: int = 0, freq: int = 0) -> None:
        self.status, self.maxerror, self.answer, self.freq = status, maxerror, answer, freq
        self.modes: list[int] = []

    def adjtimex(self, pointer: Any) -> int:
        timex = pointer._obj
        self.modes.append(timex.modes)
        timex.status, timex.maxerror, timex.freq = self.status, self.maxerror, self.freq
        return self.answer


@pytest.mark.parametrize(
    ("status", "maxerror", "answer", "synchronised"),
    [
        (0x0001, 500_000, 0, True),  # STA_PLL, a small error: timesyncd's clock
        (0x0041, 500_000, 5, False),  # STA_UNSYNC: since boot, or stepped by hand
        (0x0001, 16_000_000, 0, False),  # not disciplined for hours: the error grew to 16 s
        (0x0001, 500_000, -1, None),  # the call failed
    ],
)
def test_the_kernel_says_whether_its_clock_is_synchronised(
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    maxerror: int,
    answer: int,
    synchronised: bool | None,
) -> None:
    libc = FakeLibc(status, maxerror, answer)
    monkeypatch.setattr(ctypes, "CDLL", lambda *args, **kwargs: libc)
    assert clock_module.kernel_clock_synchronised() is synchronised
    assert libc.modes == [0], "read only: modes 0 changes nothing"


def test_the_kernels_frequency_correction_is_read_in_ppm(monkeypatch: pytest.MonkeyPatch) -> None:
    # struct timex's freq: ppm with a 16-bit fraction; -18.25 ppm slows a fast crystal.
    libc = FakeLibc(0x0001, 500_000, freq=round(-18.25 * 65_536))
    monkeypatch.setattr(ctypes, "CDLL", lambda *args, **kwargs: libc)
    kernel = clock_module.read_kernel_clock()
    assert kernel == clock_module.KernelClock(
        synchronised=True, freq_ppm=-18.25, maxerror_us=500_000
    )


def test_without_adjtimex_the_system_cannot_tell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes, "CDLL", lambda *args, **kwargs: object())
    assert clock_module.kernel_clock_synchronised() is None


def test_this_linux_answers_for_its_clock() -> None:
    assert clock_module.SystemClock().synchronised() in (True, False)


def test_a_clock_vouched_for_behind_the_journal_resumes_one_interval_after_now() -> None:
    # Rebooted with the wall clock a year behind frame 4; the photographer said it is
    # right: the wall clock cannot tell how long the Pi was down.
    now = 30 * NS_PER_S
    point = resume_point(anchor_ns=ANCHOR, anchor_wall_ns=WALL, run_boot_id="a", boot_id="b",
                         now_ns=now, wall_ns=WALL - YEAR, last=fired(4))  # fmt: skip
    assert point.next_frame == 5
    assert Grid(point.anchor_ns, INTERVAL).due_ns(5) == now + INTERVAL
    # A clock ahead of the journal still carries the grid over as it says.
    ahead = resume_point(anchor_ns=ANCHOR, anchor_wall_ns=WALL, run_boot_id="a", boot_id="b",
                         now_ns=now, wall_ns=WALL + YEAR, last=fired(4))  # fmt: skip
    assert ahead.anchor_ns == now - YEAR


def chips(tmp_path: Path, *seconds: str) -> Path:
    """A /sys/class/rtc with one clock chip per reading of ``since_epoch``."""
    for number, reading in enumerate(seconds):
        chip = tmp_path / f"rtc{number}"
        chip.mkdir()
        (chip / "since_epoch").write_text(f"{reading}\n")
    return tmp_path


def test_a_clock_chip_that_reads_the_wall_clocks_time_vouches_for_it(tmp_path: Path) -> None:
    wall = 1_790_000_000 * NS_PER_S + NS_PER_S // 2
    assert clock_module.clock_chip_agrees(wall, chips(tmp_path, "1790000001"))


@pytest.mark.parametrize(
    "readings",
    [
        (),  # no chip: fake-hwclock restored a time, nothing vouches for it
        ("1790000005",),  # a clock set by hand, the chip left as it was
        ("946684800",),  # a chip whose battery died: back to 2000
        ("garbage", ""),
    ],
)
def test_no_chip_or_one_that_disagrees_vouches_for_nothing(
    tmp_path: Path, readings: tuple[str, ...]
) -> None:
    wall = 1_790_000_000 * NS_PER_S
    assert not clock_module.clock_chip_agrees(wall, chips(tmp_path, *readings))
    assert not clock_module.clock_chip_agrees(wall, tmp_path / "no-rtc-class")


def test_the_system_clock_is_synchronised_when_its_chip_agrees(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(clock_module, "kernel_clock_synchronised", lambda: False)
    clock = clock_module.SystemClock()
    monkeypatch.setattr(clock_module, "RTC_CLASS", tmp_path / "none")
    assert clock.synchronised() is False
    monkeypatch.setattr(
        clock_module, "RTC_CLASS", chips(tmp_path, str(clock.wall_ns() // NS_PER_S))
    )
    assert clock.synchronised() is True
