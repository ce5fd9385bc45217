"""``lapse clock``: whether the clock is kept, the crystal's error, and lapse's trim."""

from __future__ import annotations

import json

import pytest

from core import clock as clock_module
from core.clock import KernelClock
from core.model.clock_report import clock_advice, crystal_error_ppm
from tests.conftest import Lapse
from tui import cli


def test_the_crystals_error_is_the_correction_turned_round() -> None:
    # A crystal 18 ppm fast is slowed by the time daemon: the kernel runs it at -18 ppm.
    assert crystal_error_ppm(-18.25) == 18.25
    assert str(crystal_error_ppm(0.0)) == "0.0", "never -0.0"


def test_the_advice_follows_what_keeps_the_clock() -> None:
    kept = clock_advice(True, -18.25, 0.0)
    assert kept.startswith("a time daemon disciplines this clock") and "keep clock_ppm at 0" in kept
    assert "the crystal's error is +18.2 ppm" in kept
    assert "lapse trims by +18.0 ppm now" in clock_advice(True, -18.25, 18.0), "a double trim"
    still = clock_advice(False, -18.25, 0.0)
    assert "the kernel still corrects the crystal by -18.2 ppm until the next boot" in still
    alone = clock_advice(False, 0.0, 0.0)
    assert alone.startswith("nothing corrects this clock's crystal: for a run without a network")
    assert "does not say" in clock_advice(None, None, 0.0)


@pytest.mark.parametrize(
    ("kernel", "lines"),
    [
        (
            KernelClock(synchronised=True, freq_ppm=-18.25, maxerror_us=12_000),
            [
                "system clock: synchronised (error within 12.0ms)",
                "kernel correction: -18.250 ppm (the crystal's error: +18.250 ppm)",
            ],
        ),
        (
            KernelClock(synchronised=False, freq_ppm=0.0, maxerror_us=16_000_000),
            ["system clock: not synchronised"],
        ),
        (None, ["system clock: the kernel does not say (no adjtimex)"]),
    ],
    ids=["kept", "alone", "unknown"],
)
def test_lapse_clock_says_it(
    lapse: Lapse,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kernel: KernelClock | None,
    lines: list[str],
) -> None:
    monkeypatch.setattr(clock_module, "read_kernel_clock", lambda: kernel)
    lapse.config.write_text("[run]\nclock_ppm = 18.0\n")
    assert cli.main(["clock"], environ=lapse.env) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[: len(lines)] == lines
    assert (
        said[-2]
        == "lapse's trim: clock_ppm +18.0 (the next run's, from the config and your choices)"
    )
    assert said[-1] == clock_advice(
        None if kernel is None else kernel.synchronised,
        None if kernel is None else kernel.freq_ppm,
        18.0,
    )


def test_lapse_clock_reads_the_running_runs_trim(lapse: Lapse) -> None:
    lapse.start_daemon()
    assert lapse.cli("run", "--interval", "10s", "--clock-ppm", "-7.5").returncode == 0
    said = lapse.cli("clock", "--json")
    assert said.returncode == 0, said.stderr
    data = json.loads(said.stdout)
    run = lapse.journal.latest_run()
    assert run is not None
    assert (data["trim_ppm"], data["trim_run"]) == (-7.5, run.id)
    assert data["synchronised"] in (True, False)  # this Linux answers for its clock
    assert f"lapse's trim: clock_ppm -7.5 (run {run.id})" in lapse.cli("clock").stdout
