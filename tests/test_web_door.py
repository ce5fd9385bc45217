"""``lapse web`` is no door around the socket's permissions.

The real ``lapse web`` in a subprocess on a free loopback port, spoken to with
aiohttp's client: without the key it prints, nothing is served; with it the page
sets a cookie that lets in its assets and its websocket, and the websocket that
drives the TUI must come from the page's own origin.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tests.browser import chromium
from tests.conftest import Lapse
from tests.system_tools import require_tool
from tui import cli
from tui.web import cookie_name

START_S = 20.0
"""How long ``lapse web`` may take to answer (a busy machine imports Textual slowly)."""


@dataclass
class Web:
    """A running ``lapse web``: the address it printed, split into its parts."""

    url: str
    port: int
    output: Path
    """Where its output goes: the address first, then its access log."""

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.url).query).get("token", [""])[0]

    @property
    def cookie(self) -> dict[str, str]:
        """The header a browser sends once the page has set its cookie."""
        return {"Cookie": f"{cookie_name(self.port)}={self.token}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("localhost", port), timeout=1):
        return True
    return False


@contextlib.contextmanager
def lapse_web(lapse: Lapse, *args: str) -> Iterator[Web]:
    """``lapse web`` running until the block ends; then it and every process it started end.

    A daemon is started first and ended by the ``lapse`` fixture: a TUI that a
    websocket starts finds it and never starts one of its own, which could
    outlive the test.
    """
    lapse.start_daemon()
    port = free_port()
    out = lapse.root / "web.out"
    with open(out, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "web", "--port", str(port), *args],
            # Wide enough that no line of the server's access log is wrapped.
            env={**lapse.env, "PYTHONUNBUFFERED": "1", "COLUMNS": "300"},
            cwd=lapse.root,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_S
        while not answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"lapse web did not start: {out.read_text()}")
            time.sleep(0.05)
        printed = re.search(r"http://\S+", out.read_text())
        assert printed is not None, out.read_text()
        yield Web(url=printed.group(0), port=port, output=out)
    finally:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        # The TUI a websocket started runs in the server's session: end it too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture
def web(lapse: Lapse) -> Iterator[Web]:
    with lapse_web(lapse) as running:
        yield running


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Status, body and Set-Cookie of one GET, as a browser with no cookies of its own."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers=headers) as response,
    ):
        return response.status, await response.text(), response.headers.get("Set-Cookie", "")


REFUSAL = "open the address `lapse web` printed"


# -- the key -------------------------------------------------------------------------------
# One server per test: each starts a daemon and ``lapse web``, which take seconds.
WRONG_KEYS = ("", "x", "not-the-key", "é", "%00")


async def test_without_the_key_nothing_is_served(web: Web) -> None:
    assert web.url == f"http://localhost:{web.port}/?token={web.token}"
    assert len(web.token) >= 32
    for path in ("/", "/static/js/textual.js", "/ws", "/download/x"):
        status, text, cookie = await get(web.origin + path)
        assert status == 403, path
        assert REFUSAL in text and len(text.splitlines()) == 1
        assert cookie == ""
    off = web.token[:-1] + ("A" if web.token[-1] != "A" else "B")
    for wrong in (*WRONG_KEYS, off):
        status, text, cookie = await get(f"{web.origin}/?token={wrong}")
        assert (status, cookie) == (403, ""), wrong
        assert REFUSAL in text
        status, _, _ = await get(web.origin + "/", {"Cookie": f"{cookie_name(web.port)}={wrong}"})
        assert status == 403, wrong


async def test_the_key_opens_the_page_and_its_cookie_the_rest(web: Web) -> None:
    status, text, cookie = await get(web.url)
    assert status == 200 and "data-session-websocket-url" in text
    assert cookie.startswith(f"{cookie_name(web.port)}={web.token};")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    for path in ("/", "/static/js/textual.js"):
        status, _, cookie = await get(web.origin + path, web.cookie)
        assert status == 200, path
        assert cookie == ""  # the cookie is set where the key came in the address


async def test_the_key_never_reaches_the_servers_log(web: Web) -> None:
    status, _, _ = await get(web.url, {"Referer": web.url})
    assert status == 200
    # The access line is written once the answer has gone: wait for it, boundedly.
    deadline = time.monotonic() + 10
    while "/?token=…" not in web.output.read_text():
        assert time.monotonic() < deadline, web.output.read_text()
        time.sleep(0.05)
    log = web.output.read_text()
    assert log.count(web.token) == 1, "only in the address printed at start"
    assert log.index(web.token) < log.index("/?token=…")


# -- what changes something ------------------------------------------------------------------
async def handshake(web: Web, headers: dict[str, str]) -> int:
    """The status of a websocket handshake to the page's socket (101 when upgraded)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        try:
            async with session.ws_connect(f"ws://localhost:{web.port}/ws", headers=headers) as ws:
                await ws.close()
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status
    return 101


FOREIGN_ORIGINS = (
    "http://evil.example",
    "http://localhost",  # another port
    "https://localhost:{port}",  # another scheme
    "null",  # a sandboxed frame or a file
    None,  # no Origin at all
)


async def test_a_change_from_elsewhere_is_refused(web: Web) -> None:
    for origin in FOREIGN_ORIGINS:
        headers = dict(web.cookie)
        if origin is not None:
            headers["Origin"] = origin.format(port=web.port)
        assert await handshake(web, headers) == 403, origin
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.post(web.url, headers=headers) as response,
        ):
            assert response.status == 403, origin
    # The page's own origin without the key is no better.
    assert await handshake(web, {"Origin": web.origin}) == 403


async def test_a_websocket_from_the_page_with_its_cookie_is_upgraded(web: Web) -> None:
    assert await handshake(web, {**web.cookie, "Origin": web.origin}) == 101


# -- where it listens ----------------------------------------------------------------------
def served_by_cli(
    lapse: Lapse,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
) -> tuple[str, str]:
    """What ``lapse web`` prints before it serves (serving itself is stood in for)."""
    from textual_serve.server import Server

    monkeypatch.setattr(Server, "serve", lambda server: None)
    assert cli.main(["web", *args], environ=lapse.env) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_each_start_makes_a_new_key(
    lapse: Lapse, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = served_by_cli(lapse, capsys, monkeypatch)
    second, _ = served_by_cli(lapse, capsys, monkeypatch)
    assert first.startswith("lapse: open http://localhost:8000/?token=")
    assert first != second


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1", "127.0.0.2"])
def test_on_this_machine_only_there_is_no_warning(
    lapse: Lapse, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    _, err = served_by_cli(lapse, capsys, monkeypatch, "--host", host)
    assert err == ""


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", ""])
def test_on_the_network_it_warns_in_one_line(
    lapse: Lapse, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    out, err = served_by_cli(lapse, capsys, monkeypatch, "--host", host)
    (line,) = err.splitlines()
    assert line.startswith("lapse: warning: ")
    assert "reachable from the network" in line and "protected only by the key" in line
    # An address another machine can open: never http://0.0.0.0.
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    assert out.startswith(f"lapse: open http://{shown}:8000/?token="), out


def test_an_ipv6_address_is_printed_in_brackets(
    lapse: Lapse, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = served_by_cli(lapse, capsys, monkeypatch, "--host", "::1")
    assert out.startswith("lapse: open http://[::1]:8000/?token="), out


# -- a real browser ------------------------------------------------------------------------
BROWSER_S = 60.0


def dump_dom(url: str) -> str:
    """The page at ``url`` as headless Chromium has it once loaded, with a profile of its own."""
    chromium = require_tool("chromium", "chromium")
    # --no-sandbox: Chromium's sandbox refuses to run as root, as CI containers do.
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"]
    with tempfile.TemporaryDirectory(prefix="lapse-chromium-") as profile:
        browser = subprocess.Popen(
            [chromium, *flags, f"--user-data-dir={profile}", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            page, errors = browser.communicate(timeout=BROWSER_S)
        finally:
            # Chromium's helper processes share its session: none outlives the test.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(browser.pid, signal.SIGKILL)
            browser.wait(10)
    assert browser.returncode == 0, errors[-2000:]
    return page


async def test_a_browser_opens_the_printed_address_and_not_the_bare_one(web: Web) -> None:
    async with chromium() as browser:
        await browser.open(web.url)
        # The TUI is drawn: textual.js, fetched with the cookie alone, built the terminal
        # and opened its websocket, which the door let through (the server logs 101).
        await browser.wait_for("d Start")
    # The server logs the websocket once it has ended: with the browser gone.
    upgraded = re.compile(r'"GET /ws\?\S* HTTP/1\.1" 101 ')
    deadline = time.monotonic() + 10
    while not upgraded.search(web.output.read_text()):
        assert time.monotonic() < deadline, web.output.read_text()
        time.sleep(0.05)

    refused = dump_dom(web.origin + "/")
    assert REFUSAL in refused and "xterm" not in refused
