"""Uploads (README "Hooks and uploads"): the outbox as plain logic and on disk, and the
upload queue against a real asyncssh SFTP server on loopback (tests/sftp_server.py):
every file there once with the same bytes, through cut connections, a server that refuses
for a while, a daemon killed with -9; a resumed transfer, a bandwidth limit, and a key or
host key that is wrong is one clear line, not a retry loop."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.clock import SystemClock
from core.daemon import outbox as outbox_module
from core.daemon.outbox import Outbox
from core.daemon.uploads import Uploads, UploadSetup
from core.model.durations import NS_PER_S
from core.model.hooks import Happening, HookEvent
from core.model.protocol import UploadStatus
from core.model.upload import (
    FrameUploads,
    Parcel,
    UploadConfig,
    backoff_ns,
    frame_remote,
    render_remote,
    replay,
    upload_brief,
    upload_line,
    worker_login,
)
from core.outbox import OUTBOX_FILE
from core.sftp_worker import REWIND
from tests.conftest import Lapse
from tests.sftp_server import SftpServer
from tests.test_camera_virtual import use_camera

WORKER = [sys.executable, "-m", "core.sftp_worker"]


# -- plain logic --------------------------------------------------------------------------------
def test_the_outbox_lines_add_up_to_what_is_still_to_go() -> None:
    lines = [
        b'{"next": 7}',
        b'{"put": 7, "file": "/p/a.jpg", "remote": "lapse/r/a.jpg"}',
        b'{"put": 8, "file": "/p/b.jpg", "remote": "lapse/r/b.jpg"}',
        b'{"put": 9, "file": "/p/c.jpg", "remote": "lapse/latest.jpg", "replace": true}',
        b'{"sent": 7, "size": 10, "sha256": "ab", "at": "2026-12-02T01:02:03+00:00"}',
        b'{"given_up": 9, "why": "a newer latest frame"}',
        b'{"put": 10, "file": "/p/d.j',  # cut by a crash as it was written
    ]
    replayed = replay(lines)
    assert replayed.waiting == [Parcel(8, "/p/b.jpg", "lapse/r/b.jpg")]
    assert (replayed.next_id, replayed.sent, replayed.damaged) == (10, 1, 1)
    assert replayed.last_sent == ("lapse/r/a.jpg", "2026-12-02T01:02:03+00:00")


def test_each_file_has_its_place_and_a_hidden_name_until_whole() -> None:
    every = UploadConfig(host="h", folder="sky")
    assert frame_remote(every, "20261202-0100", "frame-000001.jpg") == (
        "sky/20261202-0100/frame-000001.jpg",
        False,
    )
    latest = UploadConfig(host="h", folder="/srv/sky", frames=FrameUploads.LATEST)
    assert frame_remote(latest, "r", "frame-000001.jpg") == ("/srv/sky/latest.jpg", True)
    assert frame_remote(UploadConfig(host="h", frames=FrameUploads.NONE), "r", "f.jpg") is None
    assert render_remote(every, "r", "/state/runs/r/r.mp4") == "sky/r/r.mp4"
    assert render_remote(UploadConfig(host="h", renders=False), "r", "/x/r.mp4") is None
    assert Parcel(3, "/p/a.jpg", "sky/r/a.jpg").part == "sky/r/.a.jpg.part"
    # Two latest frames never write the same part: a resume must be of the same file.
    assert Parcel(4, "/p/b.jpg", "sky/latest.jpg", replace=True).part == "sky/.latest.jpg.4.part"


def test_the_wait_after_failures_doubles_to_five_minutes() -> None:
    waits = [backoff_ns(n) // NS_PER_S for n in range(1, 10)]
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert backoff_ns(10_000) == 300 * NS_PER_S


def test_the_queue_in_a_line_and_in_a_few_words() -> None:
    status = UploadStatus(
        server="pi@sky:lapse",
        waiting=3,
        waiting_bytes=24_000_000,
        sent=120,
        last_file="lapse/r/a.jpg",
        last_at="2026-12-02T21:04:05+00:00",
        last_error="connection refused",
    )
    assert upload_line(status) == (
        "upload to pi@sky:lapse: 3 waiting (24 MB), 120 sent, last at 21:04:05;"
        " error: connection refused"
    )
    assert upload_brief(status) == "up: 3 waiting, failing"
    stopped = UploadStatus(server="s", waiting=2, last_error="key refused", stopped=True)
    assert upload_line(stopped) == "upload to s: STOPPED: key refused (2 waiting)"
    done = UploadStatus(server="s", sent=4, last_at="2026-12-02T21:04:05+00:00")
    assert upload_brief(done) == "up: all sent 21:04"


# -- the outbox on disk --------------------------------------------------------------------------
def test_the_outbox_keeps_what_waits_across_a_restart_and_a_cut_line(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    a, _ = box.put("/p/a.jpg", "sky/r/a.jpg")
    b, _ = box.put("/p/b.jpg", "sky/r/b.jpg")
    box.sent(a, 10, "ab", "2026-12-02T01:02:03+00:00")
    with open(tmp_path / OUTBOX_FILE, "ab") as file:
        file.write(b'{"put": 3, "file": "/p/c')  # a kill -9 in the middle of a line
    again = Outbox(tmp_path)
    assert again.waiting() == [b]
    c, _ = again.put("/p/c.jpg", "sky/r/c.jpg")
    assert c.id == 3
    assert Outbox(tmp_path).waiting() == [b, c]  # the cut line did not eat the new one


def test_an_empty_outbox_starts_afresh_and_keeps_counting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "COMPACT_BYTES", 200)
    box = Outbox(tmp_path)
    parcels = [box.put(f"/p/{n}.jpg", f"sky/r/{n}.jpg")[0] for n in range(5)]
    for parcel in parcels:
        box.sent(parcel, 1, "00", "2026-12-02T01:02:03+00:00")
    assert (tmp_path / OUTBOX_FILE).read_text() == '{"next": 6, "marks": {}}\n'
    assert Outbox(tmp_path).put("/p/x.jpg", "sky/r/x.jpg")[0].id == 6


def test_a_file_the_outbox_cannot_save_still_goes(tmp_path: Path, server: SftpServer) -> None:
    file = picture(tmp_path / "a.jpg", 1000)
    queue = Queue(tmp_path / "state", config_for(server))
    (tmp_path / "state" / OUTBOX_FILE).mkdir()  # no file can be written there
    try:
        queue.send(file)
        unsaved = queue.uploads.status()
        status = queue.wait(lambda s: s.sent == 1, what="the unsaved file")
    finally:
        queue.close()
    assert unsaved.last_error.startswith("the upload queue could not be saved: Is a directory")
    assert status.last_error is None
    assert same(file, server.home / "sky" / "r1" / "a.jpg")


def test_a_file_gone_from_the_pi_is_given_up_and_said(tmp_path: Path, server: SftpServer) -> None:
    queue = Queue(tmp_path / "state", config_for(server))
    try:
        queue.send(tmp_path / "deleted.jpg")
        queue.send(picture(tmp_path / "kept.jpg", 1000))
        status = queue.wait(lambda s: s.waiting == 0, what="the queue")
    finally:
        queue.close()
    assert status.sent == 1
    assert status.last_error is None  # a file went since
    outbox = (tmp_path / "state" / OUTBOX_FILE).read_text()
    assert f'"why": "{tmp_path / "deleted.jpg"} is no longer on the Pi"' in outbox
    assert not (server.home / "sky" / "r1" / "deleted.jpg").exists()


def test_the_outbox_remembers_each_runs_newest_frame_across_a_fresh_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "COMPACT_BYTES", 200)
    box = Outbox(tmp_path)
    parcels = [box.put(f"/p/{n}.jpg", f"sky/r1/{n}.jpg", run="r1", frame=n)[0] for n in range(100)]
    assert (box.mark("r1"), box.knows("r1", 99, "/p/99.jpg")) == (99, True)
    assert Outbox(tmp_path).knows("r1", 40, "/p/40.jpg")  # replayed
    assert not Outbox(tmp_path).knows("r1", 30, "/p/30.jpg")  # before any catch-up looks
    for parcel in parcels:
        box.sent(parcel, 1, "00", "2026-12-02T01:02:03+00:00")
    assert (tmp_path / OUTBOX_FILE).read_text() == '{"next": 101, "marks": {"r1": 99}}\n'
    fresh = Outbox(tmp_path)
    assert fresh.mark("r1") == 99 and fresh.mark("r2") is None


# -- the queue against a real server --------------------------------------------------------------
@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpServer]:
    with SftpServer(tmp_path / "server", tmp_path / "keys") as running:
        yield running


class Queue:
    """An upload queue in this process, its worker a real process, its state in a folder."""

    def __init__(self, state: Path, config: UploadConfig) -> None:
        state.mkdir(exist_ok=True)
        self.told: list[UploadStatus] = []
        """The status at each change the daemon would publish."""
        setup = UploadSetup(config, WORKER, dict(os.environ), "nobody")
        self.uploads = Uploads(setup, Outbox(state), SystemClock(), self._told)
        self.uploads.start()

    def _told(self) -> None:
        self.told.append(self.uploads.status())

    def send(self, file: Path, run: str = "r1") -> None:
        self.uploads.hear(Happening(HookEvent.FRAME_SAVED, run, 0, str(file)))

    def wait(self, done: Any, timeout: float = 60, what: str = "the uploads") -> UploadStatus:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.uploads.status()
            if done(status):
                return status
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}: {self.uploads.status()}")

    def close(self) -> None:
        self.uploads.close()


def config_for(server: SftpServer, **more: Any) -> UploadConfig:
    given: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "key": str(server.client_key_path),
        "known_hosts": str(server.known_hosts_path),
        "folder": "sky",
    }
    return UploadConfig(**{**given, **more})


def picture(path: Path, size: int, seed: int = 0) -> Path:
    path.write_bytes(hashlib.shake_256(f"{path.name}{seed}".encode()).digest(size))
    return path


def same(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


def test_a_file_cut_halfway_resumes_from_the_bytes_on_the_server(
    tmp_path: Path, server: SftpServer, capfd: pytest.CaptureFixture[str]
) -> None:
    big = picture(tmp_path / "big.jpg", 8_000_000)
    server.drop_after_bytes(4_000_000)
    queue = Queue(tmp_path / "state", config_for(server))
    try:
        queue.send(big)
        status = queue.wait(lambda s: s.sent == 1, what="the cut file")
    finally:
        queue.close()
    assert same(big, server.home / "sky" / "r1" / "big.jpg")
    assert server.drops == 1 and server.connections == 2
    # Resumed, not restarted: the first half went once (what may have been in flight at
    # the cut, REWIND, goes again).
    assert server.bytes_written <= 8_000_000 + REWIND
    assert status.last_error is None  # gone once a file went since
    assert not list((server.home / "sky" / "r1").glob(".*"))  # no part left behind
    # The worker's stderr is the daemon's log: the requests in flight at the cut fail
    # with the file, quietly.
    assert "Traceback" not in capfd.readouterr().err


def test_a_server_refusing_for_a_while_gets_every_file_once(
    tmp_path: Path, server: SftpServer
) -> None:
    files = [picture(tmp_path / f"f{n}.jpg", 50_000) for n in range(5)]
    server.refuse(True)
    queue = Queue(tmp_path / "state", config_for(server))
    try:
        for file in files:
            queue.send(file)
        failing = queue.wait(lambda s: s.last_error is not None, what="a failure")
        assert failing.waiting == 5 and failing.waiting_bytes == 250_000
        assert failing.last_error.endswith(
            f"cannot reach 127.0.0.1 port {server.port}: Connection refused"
        )
        time.sleep(1)
        server.refuse(False)
        queue.wait(lambda s: s.sent == 5, what="every file")
    finally:
        queue.close()
    for file in files:
        assert same(file, server.home / "sky" / "r1" / file.name)
    assert server.renames == 5  # each once
    outbox = (tmp_path / "state" / OUTBOX_FILE).read_text().splitlines()
    assert sum('"sent"' in line for line in outbox) == 5


def test_a_limited_upload_takes_at_least_size_over_the_limit(
    tmp_path: Path, server: SftpServer
) -> None:
    file = picture(tmp_path / "slow.jpg", 300_000)
    queue = Queue(tmp_path / "state", config_for(server, limit_kbps=100))
    try:
        started = time.monotonic()
        queue.send(file)
        queue.wait(lambda s: s.sent == 1, what="the limited file")
        took = time.monotonic() - started
    finally:
        queue.close()
    assert took >= 300_000 / 100_000
    assert same(file, server.home / "sky" / "r1" / "slow.jpg")


def test_the_latest_frame_replaces_the_last_one_whole(tmp_path: Path, server: SftpServer) -> None:
    # At 100 kB/s the first frame takes 2 s: the next two wait behind it, and the fourth
    # makes them stale.
    files = [picture(tmp_path / f"f{n}.jpg", 200_000) for n in range(4)]
    config = config_for(server, frames=FrameUploads.LATEST, limit_kbps=100, transfers=1)
    queue = Queue(tmp_path / "state", config)
    try:
        for file in files:
            queue.send(file)
        status = queue.wait(lambda s: s.waiting == 0, what="the latest frame")
    finally:
        queue.close()
    assert same(files[-1], server.home / "sky" / "latest.jpg")
    assert sorted(p.name for p in (server.home / "sky").iterdir()) == ["latest.jpg"]
    assert status.sent == server.renames == 2  # the first, then the newest
    outbox = (tmp_path / "state" / OUTBOX_FILE).read_text()
    assert outbox.count('"why": "a newer latest frame"') == 2


def test_a_file_sent_but_not_noted_is_not_sent_again(tmp_path: Path, server: SftpServer) -> None:
    file = picture(tmp_path / "a.jpg", 500_000)
    queue = Queue(tmp_path / "state", config_for(server))
    try:
        queue.send(file)
        queue.wait(lambda s: s.sent == 1, what="the file")
    finally:
        queue.close()
    # As if the daemon was killed after the rename, before it wrote the "sent" line.
    outbox = tmp_path / "state" / OUTBOX_FILE
    lines = outbox.read_text().splitlines()
    outbox.write_text("".join(f"{line}\n" for line in lines if '"sent"' not in line))
    written = server.bytes_written
    again = Queue(tmp_path / "state", config_for(server))
    try:
        status = again.wait(lambda s: s.sent == 1, what="the file, found whole")
    finally:
        again.close()
    assert status.waiting == 0
    assert (server.renames, server.bytes_written) == (1, written)  # looked, not sent
    assert same(file, server.home / "sky" / "r1" / "a.jpg")


@pytest.mark.parametrize("wrong", ["key", "host key"])
def test_a_wrong_key_or_host_key_stops_with_one_line_not_a_retry_loop(
    tmp_path: Path, server: SftpServer, wrong: str
) -> None:
    config = config_for(server)
    if wrong == "key":
        stranger = SftpServer(tmp_path / "other", tmp_path / "other-keys")
        config = config_for(server, key=str(stranger.client_key_path))
        expected = "the server refused the key"
    else:
        hosts = server.wrong_known_hosts(tmp_path / "known_hosts")
        config = config_for(server, known_hosts=str(hosts))
        expected = "the server's host key is not in"
    queue = Queue(tmp_path / "state", config)
    try:
        queue.send(picture(tmp_path / "a.jpg", 1000))
        status = queue.wait(lambda s: s.stopped, what="the stop")
        queue.send(picture(tmp_path / "b.jpg", 1000))
        time.sleep(3)  # past the first back-off: a retry loop would have tried again
        assert queue.uploads.status().waiting == 2
    finally:
        queue.close()
    assert status.last_error.startswith(expected), status.last_error
    assert "\n" not in status.last_error
    assert server.connections <= 1
    assert "STOPPED" in upload_line(status)


def test_a_key_file_that_is_missing_stops_with_its_path(tmp_path: Path, server: SftpServer) -> None:
    queue = Queue(tmp_path / "state", config_for(server, key=str(tmp_path / "no-such-key")))
    try:
        queue.send(picture(tmp_path / "a.jpg", 1000))
        status = queue.wait(lambda s: s.stopped, what="the stop")
    finally:
        queue.close()
    assert status.last_error.startswith(f"cannot use the key {tmp_path / 'no-such-key'}")
    assert server.connections == 0


# -- a real daemon -------------------------------------------------------------------------------
def upload_config(server: SftpServer, **more: object) -> str:
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in more.items())
    return (
        textwrap.dedent(
            f"""
        [upload]
        host = "{server.host}"
        port = {server.port}
        user = "{server.user}"
        key = "{server.client_key_path}"
        known_hosts = "{server.known_hosts_path}"
        folder = "sky"
        """
        )
        + extra
    )


def upload_status(lapse: Lapse) -> dict[str, Any]:
    result = lapse.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["upload"]


def assert_every_frame_there_once(
    lapse: Lapse, server: SftpServer, also: tuple[str, ...] = ()
) -> int:
    """Every frame of the latest run on the server with its bytes, nothing else but
    ``also`` (no part left behind); how many frames."""
    run = lapse.journal.latest_run()
    assert run is not None
    files = [r.file for r in lapse.journal.read_frames(run.id) if r.file]
    folder = server.home / "sky" / run.id
    assert sorted(p.name for p in folder.iterdir()) == sorted([*files, *also])
    for name in files:
        assert same(run.photos_path / name, folder / name)
    return len(files)


def test_a_run_on_the_virtual_camera_uploads_every_frame(lapse: Lapse, server: SftpServer) -> None:
    use_camera(lapse, upload_config(server) + "[after]\nkeogram = true\n", trigger="usb")
    server.drop_after_bytes(4000)  # the first frame's transfer is cut halfway
    lapse.start_daemon()
    result = lapse.cli("run", "--interval", "1s", "--frames", "5", "--wait", timeout=90)
    assert result.returncode == 0, result.stderr
    run = lapse.journal.latest_run()
    assert run is not None
    keogram = f"{run.id}-keogram.png"
    status = lapse.wait_for(
        lambda: (
            (s := upload_status(lapse))["waiting"] == 0 and s["last_file"].endswith(keogram) and s
        ),
        timeout=90,
        what="the frames and the keogram",
    )
    sent = assert_every_frame_there_once(lapse, server, also=(keogram,))
    assert same(run.path / keogram, server.home / "sky" / run.id / keogram)
    assert status["sent"] == sent + 1 == server.renames
    assert server.drops == 1
    assert "upload to lapse@127.0.0.1:sky" in lapse.cli("status").stdout
    log = lapse.cli("log").stdout
    assert f"uploads: 0 waiting, {sent + 1} sent; last sky/{run.id}/{keogram} at 20" in log


def test_a_daemon_killed_during_uploads_sends_every_frame_once(
    lapse: Lapse, server: SftpServer
) -> None:
    # 8 kB frames at 4 kB/s: a transfer is always under way when the daemon is killed.
    use_camera(lapse, upload_config(server, limit_kbps=4), trigger="usb")
    daemon = lapse.start_daemon()
    result = lapse.cli("run", "--interval", "1s", "--frames", "4", "--wait", timeout=90)
    assert result.returncode == 0, result.stderr
    lapse.wait_for(lambda: server.renames >= 1, timeout=30, what="a first upload")
    lapse.wait_for(lambda: server.bytes_written % 8192 != 0, timeout=30, what="a half file")
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(10)
    lapse.start_daemon()
    lapse.wait_for(
        lambda: upload_status(lapse)["waiting"] == 0, timeout=90, what="the rest, after restart"
    )
    sent = assert_every_frame_there_once(lapse, server)
    assert server.renames == sent  # none twice


# -- the screens -------------------------------------------------------------------------------
async def test_the_screens_show_the_queue_in_a_line_and_in_brief(
    lapse: Lapse, server: SftpServer
) -> None:
    from textual.widgets import Static

    from tests.test_tui_pilot import main_screen, make_app, message_of, wait_until

    lapse.config.write_text(upload_config(server))
    lapse.start_daemon()
    queue = f"upload to lapse@127.0.0.1:sky port {server.port}: 0 waiting, 0 sent"
    app = make_app(lapse)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.status is not None, what="the daemon link")
        delivery = main_screen(app).query_one("#delivery", Static)
        await wait_until(pilot, lambda: str(delivery.render()) == queue, what="the queue")
        assert delivery.display
        await pilot.press("0")  # the log: the queue under its title
        await wait_until(
            pilot,
            lambda: str(app.screen.query_one("#log-folder", Static).render()) == queue,
            what="the queue on the log screen",
        )
    app = make_app(lapse)
    async with app.run_test(size=(40, 15)) as pilot:
        await wait_until(pilot, lambda: app.status is not None, what="the daemon link")
        screen = main_screen(app)
        await wait_until(
            pilot, lambda: message_of(screen) == "up: nothing yet", what="the queue in brief"
        )
        assert not screen.query_one("#delivery").display


def test_a_cpu_with_aes_instructions_asks_for_aes_gcm_first() -> None:
    from core.sftp_worker import AES_FIRST, ciphers

    x86 = "processor\t: 0\nflags\t\t: fpu vme sse2 aes avx2\n"
    pi5 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"
    pi4 = "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
    assert ciphers(x86) == ciphers(pi5) == list(AES_FIRST)
    assert AES_FIRST[0] == "aes128-gcm@openssh.com"
    assert ciphers(pi4) is None  # asyncssh's own order: ChaCha20 first
    assert ciphers("flags\t: aesni_like\n") is None


def test_a_resume_goes_back_past_what_may_have_been_in_flight(tmp_path: Path) -> None:
    # A server may write the requests in flight at a cut in any order, leaving a hole of
    # up to REWIND before the end of its part: the resume starts before it. (A fake: the
    # real test server writes in order.)
    import asyncio

    from core.sftp_worker import Worker

    data = hashlib.shake_256(b"frame").digest(5 * REWIND)
    local = tmp_path / "big.jpg"
    local.write_bytes(data)
    have = 3 * REWIND
    holed = data[: have - REWIND // 2] + bytes(REWIND // 4) + data[have - REWIND // 4 : have]

    class Part:
        async def read(self, size: int, offset: int) -> bytes:
            return holed[offset : offset + size]

        async def close(self) -> None:
            pass

    class Server:
        async def stat(self, path: str) -> Any:
            return type("Attrs", (), {"size": have})

        async def open(self, path: str, mode: str, encoding: None) -> Part:
            return Part()

    worker = Worker({"limit_bps": 0}, lambda message: None)
    with open(local, "rb") as file:
        resume = asyncio.run(worker._resume_from(Server(), file, "p", len(data)))
    assert resume == have - REWIND
    assert holed[:resume] == data[:resume]  # all that is kept is the file's


def test_the_queue_logs_in_ahead_and_says_a_wrong_host_key_before_any_file(
    tmp_path: Path, server: SftpServer
) -> None:
    queue = Queue(tmp_path / "good", config_for(server))
    try:
        queue.wait(lambda s: server.connections == 1, what="the login ahead")
    finally:
        queue.close()
    hosts = server.wrong_known_hosts(tmp_path / "known_hosts")
    queue = Queue(tmp_path / "state", config_for(server, known_hosts=str(hosts)))
    try:
        status = queue.wait(lambda s: s.stopped, what="the stop, with nothing to send")
    finally:
        queue.close()
    assert status.last_error.startswith("the server's host key is not in")
    assert status.waiting == 0


def test_a_server_down_at_the_start_is_said_and_the_first_file_still_goes(
    tmp_path: Path, server: SftpServer
) -> None:
    server.refuse(True)
    queue = Queue(tmp_path / "state", config_for(server))
    try:
        down = queue.wait(lambda s: s.last_error is not None, what="the login ahead failing")
        server.refuse(False)
        queue.send(picture(tmp_path / "a.jpg", 1000))
        status = queue.wait(lambda s: s.sent == 1, what="the first file")
    finally:
        queue.close()
    assert down.last_error == f"cannot reach 127.0.0.1 port {server.port}: Connection refused"
    assert not down.stopped and status.last_error is None


def test_a_frame_journaled_but_not_queued_before_a_crash_goes_at_the_next_start(
    lapse: Lapse, server: SftpServer
) -> None:
    use_camera(lapse, upload_config(server), trigger="usb")
    daemon = lapse.start_daemon()
    result = lapse.cli("run", "--interval", "1s", "--frames", "5", "--wait", timeout=90)
    assert result.returncode == 0, result.stderr
    lapse.wait_for(lambda: upload_status(lapse)["waiting"] == 0, timeout=60, what="uploads")
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(10)
    # As a kill between the journal's line and the outbox's leaves it: the last two frames
    # journaled with their files, never queued, so never on the server.
    run = lapse.journal.latest_run()
    assert run is not None
    files = [r.file for r in lapse.journal.read_frames(run.id) if r.file]
    outbox = lapse.state_dir / OUTBOX_FILE
    lost = {str(run.photos_path / name) for name in files[-2:]}
    kept = [
        line for line in outbox.read_text().splitlines() if json.loads(line).get("file") not in lost
    ]
    outbox.write_text("".join(f"{line}\n" for line in kept))
    for name in files[-2:]:
        (server.home / "sky" / run.id / name).unlink()
    lapse.start_daemon()
    lapse.wait_for(lambda: upload_status(lapse)["sent"] == 2, timeout=60, what="the catch-up")
    assert_every_frame_there_once(lapse, server)
    assert "2 file(s) of run" in lapse.daemon_output()


def test_a_backlog_is_published_twice_a_second_and_its_end_at_once(
    tmp_path: Path, server: SftpServer
) -> None:
    files = [picture(tmp_path / f"f{n}.jpg", 20_000) for n in range(60)]
    queue = Queue(tmp_path / "state", config_for(server))
    try:
        started = time.monotonic()
        for file in files:
            queue.send(file)
        queue.wait(lambda s: s.sent == 60, what="the backlog")
        took = time.monotonic() - started
        queue.wait(lambda s: queue.told and queue.told[-1].sent == 60, what="its end told")
    finally:
        queue.close()
    sent_told = [status for status in queue.told if status.sent]
    assert len(sent_told) <= took / 0.5 + 2, (len(sent_told), took)
    assert queue.told[-1].waiting == 0


def test_a_worker_whose_daemon_is_gone_ends_without_a_traceback(
    tmp_path: Path, server: SftpServer
) -> None:
    # The daemon killed as a file went: the worker's answer meets a closed pipe.
    worker = subprocess.Popen(
        WORKER,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdin is not None and worker.stdout is not None
    login = worker_login(config_for(server), "nobody")
    file = picture(tmp_path / "a.jpg", 100_000)
    job = {"send": 1, "file": str(file), "remote": "sky/a.jpg", "part": "sky/.a.jpg.part"}
    worker.stdin.write(json.dumps(login) + "\n" + json.dumps(job) + "\n")
    worker.stdin.flush()
    worker.stdout.close()  # gone before it answers
    deadline = time.monotonic() + 30
    while server.renames == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.stdin.close()
    worker.wait(30)
    assert worker.stderr is not None
    err = worker.stderr.read()
    assert server.renames == 1
    assert worker.returncode == 0
    assert "Traceback" not in err and "never retrieved" not in err, err
