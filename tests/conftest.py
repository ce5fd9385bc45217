"""Fixtures for tests that run the real ``lapse`` processes on a real unix socket."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.client import Client, daemon_answers
from core.journal import Journal
from hw.camera.virtual import use_virtual_camera

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Lapse:
    """One lapse installation in a temporary folder: its env, daemons and journal."""

    root: Path
    env: dict[str, str]
    daemons: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return Path(self.env["LAPSE_SOCKET"])

    @property
    def config(self) -> Path:
        return Path(self.env["LAPSE_CONFIG"])

    @property
    def state_dir(self) -> Path:
        return Path(self.env["LAPSE_STATE_DIR"])

    @property
    def journal(self) -> Journal:
        return Journal(self.state_dir)

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run the real ``lapse`` command line."""
        return subprocess.run(
            [sys.executable, "-m", "tui.cli", *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start_daemon(self) -> subprocess.Popen[bytes]:
        """``lapse daemon`` in the background; returns once it answers on the socket."""
        log = open(self.root / "daemon.out", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "daemon"],
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=log,
        )
        log.close()
        self.daemons.append(process)
        deadline = time.monotonic() + 15
        while daemon_answers(self.socket, timeout=1) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"daemon did not start: {self.daemon_output()}")
            time.sleep(0.02)
        return process

    def daemon_output(self) -> str:
        path = self.root / "daemon.out"
        return path.read_text() if path.exists() else ""

    def client(self) -> Client:
        return Client(self.socket, timeout=10).connect()

    def wait_for(self, predicate: Any, timeout: float = 20, what: str = "condition") -> Any:
        """Poll ``predicate`` until it returns something truthy (real processes take time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    def stop_all(self) -> None:
        # A daemon the command line started in the background is known by its lock file.
        lock = Path(self.env["LAPSE_STATE_DIR"]) / "daemon.lock"
        if lock.exists() and lock.read_text().strip().isdigit():
            pid = int(lock.read_text())
            if pid not in {p.pid for p in self.daemons}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                    for _ in range(500):
                        os.kill(pid, 0)
                        time.sleep(0.02)
        for process in self.daemons:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def lapse() -> Iterator[Lapse]:
    """A fresh installation: simulated rig, its own config, state and (short) socket path."""
    # Unix socket paths are limited to ~108 bytes: pytest's tmp_path can be longer.
    root = Path(tempfile.mkdtemp(prefix="lapse-", dir="/tmp"))
    # In-process camera tests point libgphoto2 at its virtual camera through the
    # environment; a daemon must choose its camera from its own config.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LAPSE_", "XDG_")) and key not in VIRTUAL_CAMERA_ENV
    }
    env.update(
        LAPSE_HW="sim",
        LAPSE_CONFIG=str(root / "config.toml"),
        LAPSE_STATE_DIR=str(root / "state"),
        LAPSE_SOCKET=str(root / "lapse.sock"),
        PYTHONPATH=str(REPO),
        HOME=str(root),
    )
    installation = Lapse(root=root, env=env)
    try:
        yield installation
    finally:
        installation.stop_all()
        shutil.rmtree(root, ignore_errors=True)


VIRTUAL_CAMERA_ENV = ("VCAMERADIR", "IOLIBS")
"""What points libgphoto2 at its virtual camera (hw/camera/virtual.py)."""


@pytest.fixture
def virtual_camera(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """libgphoto2's virtual camera, serving JPEGs from the folder returned, for the camera
    workers this test starts (they take it from the environment, put back after the test)."""
    for name in VIRTUAL_CAMERA_ENV:
        monkeypatch.delenv(name, raising=False)
    folder = use_virtual_camera(tmp_path / "virtual-camera")
    for name in VIRTUAL_CAMERA_ENV:
        monkeypatch.setenv(name, os.environ[name])  # so monkeypatch restores it afterwards
    return folder


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC for the test: run ids and wall times can be asserted."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()
