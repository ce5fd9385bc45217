"""A real headless Chromium, driven over the DevTools protocol, for lapse's web page.

Chromium (Debian's ``chromium``) runs with a profile of its own and a DevTools port
it picks; the test speaks the protocol over a websocket with aiohttp (a dependency
of textual-serve already). The page is emulated at a phone's or a desktop's size,
taps are touch events, and the terminal's text is read from the page's own xterm.js
buffer: the screen a person sees, row by row.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.system_tools import require_tool

START_S = 30.0
"""How long Chromium may take to open its DevTools port on a busy machine."""

# The page keeps its terminal in a local of textual.js: found once among the page's
# objects (DevTools' queryObjects, as its console does) and kept in a global of the
# page's own, then read from there as xterm.js's buffer. queryObjects walks the whole
# heap: asked at every look, a busy renderer took tens of seconds a call.
FIND_TERMINAL = """function () {
    const session = this.find(o => o && o.fitAddon && o.terminal && o.element);
    if (session) globalThis.__lapseTestSession = session;
    return Boolean(session);
}"""
READ_TERMINAL = """(() => {
    const session = globalThis.__lapseTestSession;
    if (!session) return null;
    const term = session.terminal;
    const rows = [];
    for (let i = 0; i < term.rows; i++) {
        const line = term.buffer.active.getLine(i);
        rows.push(line ? line.translateToString(true) : "");
    }
    const screen = term.element.querySelector(".xterm-screen").getBoundingClientRect();
    const cell = term._core._renderService.dimensions.css.cell;
    return {
        rows: rows,
        cols: term.cols,
        box: {left: screen.left, top: screen.top, width: screen.width, height: screen.height},
        cell: {width: cell.width, height: cell.height},
        fontSize: Number(term.options.fontSize),
        window: {width: window.innerWidth, height: window.innerHeight},
    };
})()"""


@dataclass(frozen=True)
class Screen:
    """The terminal as the page shows it."""

    rows: list[str]
    cols: int
    box: dict[str, float]
    """The terminal's drawn area in the window (CSS pixels)."""
    cell: dict[str, float]
    font_size: float
    window: dict[str, float]

    @property
    def text(self) -> str:
        return "\n".join(self.rows)

    def find(self, words: str) -> tuple[int, int]:
        """(row, column) of ``words`` nearest the bottom (the footer's keys are there);
        AssertionError when they are not on the screen."""
        for row in reversed(range(len(self.rows))):
            column = self.rows[row].find(words)
            if column >= 0:
                return row, column
        raise AssertionError(f"{words!r} is not on the screen:\n{self.text}")

    def centre_of(self, words: str) -> tuple[float, float]:
        """The point in the window at the middle of ``words`` on the screen."""
        row, column = self.find(words)
        x = self.box["left"] + (column + len(words) / 2) * self.cell["width"]
        y = self.box["top"] + (row + 0.5) * self.cell["height"]
        return x, y


ANSWER_S = 30.0
"""How long one DevTools call may take, events included, before the test fails."""


class Browser:
    """One Chromium page, spoken to over the DevTools protocol."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call ``method`` and return its result; events that come meanwhile are dropped.

        The answer must come within :data:`ANSWER_S` in all: a page that keeps sending
        events but never answers (a renderer gone busy) fails the test, never hangs it."""
        (result,) = await self.send_together((method, params))
        return result

    async def send_together(self, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Send every call at once, then await their results, in order (see :meth:`send`)."""
        numbers = [next(self._ids) for _ in calls]
        for number, (method, params) in zip(numbers, calls, strict=True):
            message = {"id": number, "method": method, "params": params}
            await self._socket.send_str(json.dumps(message))
        results: dict[int, dict[str, Any]] = {}
        names = ", ".join(method for method, _ in calls)
        try:
            async with asyncio.timeout(ANSWER_S):
                while len(results) < len(numbers):
                    message = await self._socket.receive_json()
                    number = message.get("id")
                    if number not in numbers:
                        continue
                    if "error" in message:
                        raise AssertionError(f"{names}: {message['error']}")
                    results[number] = message["result"]
        except TimeoutError:
            raise AssertionError(f"{names}: Chromium did not answer within {ANSWER_S:g}s") from None
        return [results[number] for number in numbers]

    async def emulate(self, width: int, height: int, *, phone: bool) -> None:
        """Size the page as a phone (touch, mobile viewport) or a desktop window."""
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=phone,
        )
        await self.send("Emulation.setTouchEmulationEnabled", enabled=phone, maxTouchPoints=1)

    async def open(self, url: str) -> None:
        await self.send("Page.enable")
        await self.send("Page.navigate", url=url)

    async def _find_terminal(self) -> bool:
        """Keep the page's terminal where :data:`READ_TERMINAL` reads it; False while the
        page has none yet."""
        prototype = await self.send(
            "Runtime.evaluate", expression="Object.prototype", objectGroup="look"
        )
        try:
            found = await self.send(
                "Runtime.queryObjects",
                prototypeObjectId=prototype["result"]["objectId"],
                objectGroup="look",
            )
            kept = await self.send(
                "Runtime.callFunctionOn",
                objectId=found["objects"]["objectId"],
                functionDeclaration=FIND_TERMINAL,
                returnByValue=True,
                objectGroup="look",
            )
        finally:
            await self.send("Runtime.releaseObjectGroup", objectGroup="look")
        return bool(kept["result"].get("value"))

    async def screen(self) -> Screen | None:
        """The terminal's rows and geometry now; None before the page has one."""
        for _ in range(2):
            read = await self.send("Runtime.evaluate", expression=READ_TERMINAL, returnByValue=True)
            value = read["result"].get("value")
            if value is not None:
                return Screen(
                    rows=value["rows"],
                    cols=value["cols"],
                    box=value["box"],
                    cell=value["cell"],
                    font_size=value["fontSize"],
                    window=value["window"],
                )
            # None kept yet, or a page loaded since: look for its terminal once more.
            if not await self._find_terminal():
                return None
        return None

    async def wait_for(self, words: str, timeout: float = 30.0) -> Screen:
        """The screen once ``words`` are on it; AssertionError after ``timeout`` seconds
        in all, DevTools' answers included."""
        last: Screen | None = None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    last = await self.screen()
                    if last is not None and words in last.text:
                        return last
                    await asyncio.sleep(0.2)
        except TimeoutError:
            shown = last.text if last is not None else "(no terminal)"
            raise AssertionError(f"{words!r} never came on the screen:\n{shown}") from None

    async def tap(self, x: float, y: float) -> None:
        """A finger's tap at (x, y): touch down and up, as a phone sends it.

        Both are sent before either answer is awaited: sent one after the other's
        answer, they arrived as far apart as a busy machine made them, and a touch held
        past a tap's time is a long press, which clicks nothing."""
        point = [{"x": x, "y": y}]
        await self.send_together(
            ("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": point}),
            ("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []}),
        )

    async def tap_words(self, words: str) -> None:
        """Tap the middle of ``words`` where the screen shows them."""
        shown = await self.wait_for(words)
        await self.tap(*shown.centre_of(words))


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium with a profile of its own, and its one page; all of it ends
    with the block (its helper processes share its session)."""
    program = require_tool("chromium", "chromium")
    with tempfile.TemporaryDirectory(prefix="lapse-chromium-") as profile:
        # --no-sandbox: Chromium's sandbox refuses to run as root, as CI containers do.
        browser = subprocess.Popen(
            [
                program,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port = _devtools_port(Path(profile), browser)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as listed:
                    targets = await listed.json()
                page = next(t for t in targets if t.get("type") == "page")
                async with session.ws_connect(
                    page["webSocketDebuggerUrl"], max_msg_size=0
                ) as socket:
                    yield Browser(socket)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(browser.pid, signal.SIGKILL)
            browser.wait(10)


def _devtools_port(profile: Path, browser: subprocess.Popen[bytes]) -> int:
    """The port Chromium chose, from the file it writes in its profile once it listens."""
    written = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            raise AssertionError(f"chromium ended at once (status {browser.returncode})")
        # Written, then filled: an empty file is not yet the port.
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            return int(written.read_text().splitlines()[0])
        time.sleep(0.05)
    raise AssertionError("chromium never opened its DevTools port")
