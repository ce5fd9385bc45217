"""The kiosk install: both systemd units pass ``systemd-analyze verify``; the installer parses.

``systemd-analyze verify`` exits 0 even for a misspelt key or a value it cannot
parse: it only logs "Unknown key …, ignoring" and carries on, as systemd
itself would. So the tests read its output as well as its status.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.system_tools import require_tool

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = ("lapse-daemon.service", "lapse-kiosk.service")
INSTALLED_LAPSE = "/opt/lapse/.venv/bin/lapse"
"""Where install.sh puts the command the units run."""


@pytest.fixture
def systemd_analyze() -> str:
    """The program that verifies units: skipped without it, failed under CI."""
    # Debian installs it in /usr/bin, which a restricted PATH may leave out.
    return require_tool("systemd-analyze", "systemd", also=("/usr/bin",))


COMPLAINT = re.compile(
    r"unknown (key|section|lvalue)|failed|ignoring|not executable|invalid|missing", re.I
)
"""What verify says about a unit it does not fully accept."""


def runnable_copy(unit: str, folder: Path) -> Path:
    """``unit`` copied into ``folder``, running this interpreter instead of the installed lapse.

    verify checks that each command's program exists, and /opt/lapse exists
    only on an installed Pi; ``python -m tui.cli`` is the same command. Nothing
    else changes (User=, groups, paths and all), so the verification is of
    the very unit install.sh copies.
    """
    text = (DEPLOY / unit).read_text()
    assert f"ExecStart={INSTALLED_LAPSE} " in text
    runnable = text.replace(INSTALLED_LAPSE, f"{sys.executable} -m tui.cli")
    changed = [
        line
        for line, original in zip(runnable.splitlines(), text.splitlines(), strict=True)
        if line != original
    ]
    assert all(INSTALLED_LAPSE not in line for line in changed)
    assert all(line.startswith(("ExecStart=", "ExecStopPost=")) for line in changed), changed
    path = folder / unit
    path.write_text(runnable)
    return path


def verify(systemd_analyze: str, *units: Path) -> tuple[int, str]:
    """``systemd-analyze verify`` on ``units``: its status and everything it said."""
    result = subprocess.run(
        [systemd_analyze, "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_LOG_COLOR": "0"},
    )
    return result.returncode, result.stdout + result.stderr


def complaints(output: str) -> list[str]:
    return [line for line in output.splitlines() if COMPLAINT.search(line)]


def test_both_units_verify_cleanly(tmp_path: Path, systemd_analyze: str) -> None:
    units = [runnable_copy(unit, tmp_path) for unit in UNITS]
    status, output = verify(systemd_analyze, *units)
    assert status == 0, output
    assert complaints(output) == [], output


@pytest.mark.parametrize(
    ("mistake", "said"),
    [
        (("TTYReset=yes", "TTYReset=yes\nTTYRest=yes"), "Unknown key"),
        (("Restart=always", "Restart=alwayz"), "Failed to parse"),
    ],
)
def test_verify_catches_a_mistake(
    tmp_path: Path, systemd_analyze: str, mistake: tuple[str, str], said: str
) -> None:
    """The test above can fail: a misspelt key or value is reported, though verify exits 0."""
    unit = runnable_copy("lapse-kiosk.service", tmp_path)
    unit.write_text(unit.read_text().replace(*mistake, 1))
    _status, output = verify(systemd_analyze, unit)
    assert said in output
    assert complaints(output) != []


def test_the_units_say_what_the_kiosk_needs() -> None:
    daemon = (DEPLOY / "lapse-daemon.service").read_text()
    kiosk = (DEPLOY / "lapse-kiosk.service").read_text()
    for line in (
        f"ExecStart={INSTALLED_LAPSE} daemon",
        "Restart=always",
        "User=lapse",
        "SupplementaryGroups=gpio plugdev",
        "StateDirectory=lapse",
        "RuntimeDirectory=lapse",
        "RuntimeDirectoryMode=0770",
    ):
        assert f"\n{line}\n" in daemon, line
    for line in (
        f"ExecStart={INSTALLED_LAPSE} --kiosk",
        "Conflicts=getty@tty1.service",
        "Wants=lapse-daemon.service",
        "StandardInput=tty",
        "TTYPath=/dev/tty1",
        "Environment=TERM=linux",
        "Restart=always",
        "User=lapse",
        "WantedBy=multi-user.target",
    ):
        assert f"\n{line}\n" in kiosk, line
    # Both find the same socket, so the kiosk never starts a daemon of its own.
    paths = "LAPSE_STATE_DIR=/var/lib/lapse LAPSE_SOCKET=/run/lapse/lapse.sock"
    assert paths in daemon and paths in kiosk
    # After any stop, even kill -9, `lapse release` drives every output inactive.
    assert f"\nExecStopPost={INSTALLED_LAPSE} release\n" in daemon


def test_the_installer_parses() -> None:
    result = subprocess.run(
        ["bash", "-n", str(DEPLOY / "install.sh")], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    text = (DEPLOY / "install.sh").read_text()
    assert "set -euo pipefail" in text
    assert "--system-site-packages" in text
