"""``lapse web``'s page in a real headless Chromium: on a phone and on a desktop.

The real ``lapse web`` (tests/test_web_door.py's) and a real daemon; the browser is
sized as a phone (390×844, touch) or a desktop window (1280×800), every action is
taken by tapping the words the screen shows, and what the photographer reads is the
terminal's own rows.
"""

from __future__ import annotations

import asyncio
import time

from core.model.run_state import RunState
from tests.browser import Browser, Screen, chromium
from tests.conftest import Lapse
from tests.test_tui_after import finished_usb_run
from tests.test_web_door import lapse_web

PHONE = (390, 844)
DESKTOP = (1280, 800)
READABLE_PX = 12
"""The smallest font a person reads on a phone without zooming."""


def assert_fills_the_window(screen: Screen) -> None:
    """The interface takes at least two thirds of the window's height, in readable text:
    no strip of a few lines at the top of an empty page."""
    height = screen.window["height"]
    assert screen.box["height"] >= 2 / 3 * height, (screen.box, screen.window)
    assert screen.font_size >= READABLE_PX
    written = [row for row, line in enumerate(screen.rows) if line.strip()]
    assert written and (written[-1] + 1) * screen.cell["height"] >= 2 / 3 * height, screen.text


async def until_state(lapse: Lapse, state: RunState, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while lapse.client().status().state is not state:
        assert time.monotonic() < deadline, f"the daemon never got to {state}"
        await asyncio.sleep(0.1)


async def tap_and_see(browser: Browser, words: str, then: str) -> Screen:
    await browser.tap_words(words)
    return await browser.wait_for(then)


async def test_on_a_phone_every_action_is_a_tap_away(lapse: Lapse) -> None:
    lapse.config.write_text('[run]\ninterval = "1s"\n')
    with lapse_web(lapse) as web:
        async with chromium() as browser:
            await browser.emulate(*PHONE, phone=True)
            await browser.open(web.url)
            screen = await browser.wait_for("d Start")
            assert screen.cols >= 40, "the kiosk's 40 columns at least"
            assert_fills_the_window(screen)
            # Each screen, and back, by tapping the footer's words.
            await tap_and_see(browser, "Settings", "SETTINGS")
            await tap_and_see(browser, "Back", "d Start")
            await tap_and_see(browser, "Log", "RUNS")
            await tap_and_see(browser, "Back", "d Start")
            # The footer's keys, not the heading: the help's own lines say "Back" too, and
            # a tap on one of those before the footer is drawn does nothing.
            await tap_and_see(browser, "Help", "* Back a Up")
            await tap_and_see(browser, "Back", "d Start")
            await browser.tap_words("Start")
            await until_state(lapse, RunState.RUNNING)
            await browser.wait_for("frame 2 of")
            await browser.tap_words("Stop")
            await until_state(lapse, RunState.STOPPED)


async def test_on_a_desktop_the_interface_fills_the_window(lapse: Lapse) -> None:
    with lapse_web(lapse) as web:
        async with chromium() as browser:
            await browser.emulate(*DESKTOP, phone=False)
            await browser.open(web.url)
            assert_fills_the_window(await browser.wait_for("d Start"))


async def test_the_page_fetches_nothing_from_elsewhere(lapse: Lapse) -> None:
    """A Pi on its own access point has no internet: every part of the page is lapse's."""
    with lapse_web(lapse) as web:
        async with chromium() as browser:
            await browser.send("Network.enable")
            await browser.open(web.url)
            await browser.wait_for("d Start")
            urls = await browser.send(
                "Runtime.evaluate",
                expression="performance.getEntriesByType('resource').map(e => e.name)",
                returnByValue=True,
            )
            fetched = urls["result"]["value"]
            assert fetched, "the page's own script and styles were fetched"
            elsewhere = [url for url in fetched if not url.startswith(web.origin)]
            assert elsewhere == [], elsewhere
            viewport = await browser.send(
                "Runtime.evaluate",
                expression="document.querySelector('meta[name=viewport]').content",
                returnByValue=True,
            )
            assert "width=device-width" in viewport["result"]["value"]


async def test_on_a_desktop_the_last_frame_and_the_runs_video_are_shown(lapse: Lapse) -> None:
    """A phone or a laptop sees the newest frame as the screen draws it (coloured half
    blocks: the page's terminal has no graphics) and what was made after the run."""
    run_id = finished_usb_run(lapse)
    with lapse_web(lapse) as web:
        async with chromium() as browser:
            await browser.emulate(*DESKTOP, phone=False)
            await browser.open(web.url)
            screen = await browser.wait_for("LAST FRAME")
            assert "▀" in screen.text  # the picture, in half blocks
            await browser.wait_for(f"made {run_id}.mp4")
