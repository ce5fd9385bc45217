"""The box's own controls in the daemon: its switches, button and LED (docs/architecture.md §13).

The rules are :mod:`core.model.panel`'s and the LED's signals :mod:`core.model.led`'s; this
module gives them a thread (``lapse-box``) and the pins:

- A change on any input only notes the moment (gpiozero calls from its own thread). The
  box thread reads every input once they have kept still for ``SETTLE_NS``, so a
  chattering contact is one change, and publishes the new positions to every client.
- A press of the button starts a run with the controls' settings when none is going;
  during a run it stops it only once held ``LONG_PRESS_NS``.
- Between a run's phases, and with no run, the LED gives the box's signal (armed, a
  switch turned during the run, a fault). The engine's phases always win: the LED is
  shared through :class:`SharedLed`, and the box writes it only while no line is active,
  no phase lights it, and no shutter is about to open (``quiet_left_ns``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from core.clock import Clock, sleep_ns
from core.model.durations import NS_PER_MS, NS_PER_S
from core.model.errors import LapseError
from core.model.led import BoxSignal, box_fault, box_signal, next_signal_change, signal_level
from core.model.panel import (
    LONG_PRESS_NS,
    SETTLE_NS,
    Panel,
    Press,
    origin_panel,
    panel_of,
    press_does,
    turned,
)
from core.model.plan import Line
from core.model.protocol import FaultEvent, PanelStatus, Status
from core.model.rig import Controls, Rig
from core.model.settings import Settings
from core.model.toml_text import echo

if TYPE_CHECKING:
    from core.daemon.controller import RunController

log = logging.getLogger("lapse.daemon")

RECHECK_NS = 10 * NS_PER_S
"""How often the box looks at the status on its own, for a fault no event announces (a
disk filling between runs)."""
MAX_HELD_S = 60
"""The longest a simulated press holds the button."""
MAX_BOUNCE = 100
"""The most a simulated contact chatters before it settles."""
HANDLED_WAIT_NS = NS_PER_S
"""How long a simulated hand's move waits for the box to have read it before answering."""


@dataclass(frozen=True)
class BoxSetup:
    """How the daemon gets the box's controls: the composition root claims the pins."""

    claim: Callable[[Rig], Controls | None]
    """The controls on the rig's pins; None when ``[inputs]`` wires none."""
    base: Callable[[], Settings]
    """The settings a run the button starts is built on (asked at each press)."""

    def build(self, rig: Rig, clock: Clock) -> Box | None:
        """The box over ``rig``, or None when no control is wired."""
        controls = self.claim(rig)
        if controls is None:
            return None
        return Box(controls, SharedLed(rig), clock, self.base)


class SharedLed:
    """The rig, with its status LED shared between the engine's phases and the box's signal.

    The engine keeps calling :meth:`set_led` and :meth:`set_line` from its timing thread as
    on the bare rig; the box's signal shows only while no line is active and no phase
    lights the LED. The lock is held for one LED write, by either side.
    """

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self._lock = threading.Lock()
        self._active: set[Line] = set()
        self._phase = 0.0
        self._signal = 0.0

    @property
    def description(self) -> str:
        """The rig's description."""
        return self.rig.description

    @property
    def simulated(self) -> bool:
        """The rig is simulated."""
        return self.rig.simulated

    def __getattr__(self, name: str) -> Any:
        # The simulated rig's pins and devices, read by tests and diagnostics.
        return getattr(self.rig, name)

    def set_line(self, line: Line, on: bool) -> None:
        """Switch ``line`` as the rig does (the latency-critical call: no lock)."""
        self.rig.set_line(line, on)
        if on:
            self._active.add(line)
        else:
            self._active.discard(line)

    def set_led(self, level: float) -> None:
        """A phase's level; where the phase leaves the LED dark between frames, the box's
        signal shows instead."""
        with self._lock:
            self._phase = level
            self.rig.set_led(level if self._busy() else self._signal)

    def show_signal(self, level: float) -> None:
        """The box's signal at this moment; written now unless a phase has the LED."""
        with self._lock:
            self._signal = level
            if not self._busy():
                self.rig.set_led(level)

    def _busy(self) -> bool:
        return bool(self._active) or self._phase > 0

    def outputs(self) -> dict[str, float]:
        """What each output is doing, read back."""
        return self.rig.outputs()

    def release(self) -> None:
        """Release every output; the signal comes back at its next change."""
        with self._lock:
            self.rig.release()
            self._active.clear()
            self._phase = self._signal = 0.0

    def close(self) -> None:
        """Release and give the pins back."""
        self.rig.close()


class Box:
    """The ``lapse-box`` thread: reads the controls, acts on the button, drives the signal."""

    def __init__(
        self,
        controls: Controls,
        led: SharedLed,
        clock: Clock,
        base: Callable[[], Settings],
    ) -> None:
        """``base``: the settings a run the button starts is built on (the config's ``[run]``
        and the screens' choices), asked at each press."""
        self.controls = controls
        self.led = led
        self.clock = clock
        self.base = base
        self.controller: RunController | None = None
        """Set by :meth:`start`; the box starts and stops runs through it."""
        self._base = base()
        """The settings as of the last press: every rule but the press itself uses only
        their interval and power, which the controls give."""
        levels = controls.levels()
        self._steps = levels.encoder_steps
        self.panel = panel_of(replace(levels, encoder_steps=0), origin_panel(self._base))
        """Where the controls stand, as last read once settled."""
        self.signal = BoxSignal.DARK
        self._wake = clock.event()
        self._closing = False
        self._pending = False
        self._changed_at = 0
        self._reads = 0
        self._button_down = bool(controls.levels().button)
        self._pressed_at: int | None = None
        self._heard: Status | None = None
        self._shown = -1.0
        self._thread: threading.Thread | None = None

    def start(self, controller: RunController) -> None:
        """Start watching the controls for ``controller``."""
        self.controller = controller
        self.controls.watch(self._changed)
        self._thread = self.clock.start_thread(self._loop, "lapse-box")

    def close(self) -> None:
        """Stop the thread and give the pins back."""
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.controls.close()

    def hear(self, status: Status) -> None:
        """The status every client is told (a state event): the box's signal follows it."""
        self._heard = status
        self._wake.set()

    def status(self, running: Settings | None) -> PanelStatus:
        """The controls for the status, ``running`` the settings of the run going (if any)."""
        panel, config = self.panel, self.controls.config
        preset = panel.preset if config.sets_interval else None
        return PanelStatus(
            switches=config.switches,
            value=None if preset is None else preset.value,
            unit=None if preset is None else preset.unit,
            power=self.controls.levels().power,
            button=config.button_pin is not None,
            said=self.said(panel),
            next_run=running is not None and self._turned(running),
            signal=str(self.signal),
        )

    def said(self, panel: Panel) -> str:
        """The controls in one line."""
        if self.controls.config.sets_interval:
            return panel.said()
        settings = self.settings_for(panel)
        return (
            f"{'button' if self.controls.config.button_pin is not None else 'toggle'} only:"
            f" the config's interval, power {'on' if settings and settings.power else 'off'}"
        )

    def settings_for(self, panel: Panel) -> Settings | None:
        """The settings a press starts a run with; None while a switch is between positions."""
        base = self._base
        if not self.controls.config.sets_interval:
            return replace(base, power=panel.power)
        return panel.settings(base)

    def handle(self, control: str, to: str, *, held_s: float, bounce: int) -> None:
        """A simulated hand on the box: move the control, then wait (a moment at most) for
        the box to have read its last move, so the answer shows it and the next move is
        read on its own."""
        if control == "button":
            if to != "press":
                raise LapseError(f"the button is pressed (to = press); not {echo(to)}")
            if not 0 <= held_s <= MAX_HELD_S:
                raise LapseError(f"a press is held 0 to {MAX_HELD_S} s; not {held_s:g}")
        if not 0 <= bounce <= MAX_BOUNCE:
            raise LapseError(f"a contact chatters 0 to {MAX_BOUNCE} times; not {bounce}")
        if control == "button":
            self.controls.drive("button", "down", bounce=bounce)
            sleep_ns(self.clock, int(held_s * NS_PER_S))
            control, to = "button", "up"
        reads = self._reads
        self.controls.drive(control, to, bounce=bounce)
        deadline = self.clock.now_ns() + HANDLED_WAIT_NS
        while self._reads == reads and self.clock.now_ns() < deadline:
            sleep_ns(self.clock, 5 * NS_PER_MS)

    # -- the thread -----------------------------------------------------------------------
    def _changed(self) -> None:
        # gpiozero's thread: note the moment, nothing more.
        self._changed_at = self.clock.now_ns()
        self._pending = True
        self._wake.set()

    def _loop(self) -> None:
        recheck_at = self.clock.now_ns()
        while not self._closing:
            try:
                recheck_at = self._one_pass(recheck_at)
            except Exception:  # a bug here must not leave the box deaf for the rest of the run
                log.exception("the box's controls: reading them failed; trying again")
                self.clock.wait_until(self.clock.now_ns() + NS_PER_S, self._wake)

    def _one_pass(self, recheck_at: int) -> int:
        """One pass: read what settled, act on a long press, follow the status, show the
        signal, then sleep until the next of those is due; the next recheck's time."""
        clock = self.clock
        self._wake.clear()
        now = clock.now_ns()
        if self._pending and now >= self._changed_at + SETTLE_NS:
            self._pending = False  # first: a change during the read is read again
            self._read(now)
        pressed = self._pressed_at
        if pressed is not None and now >= pressed + LONG_PRESS_NS:
            self._pressed_at = None
            if self._live():
                self._act(Press.STOP)
        if now >= recheck_at:
            recheck_at = now + RECHECK_NS
            self._refresh_base()
            self._heard = self._controller().status()
        self._show_signal(clock.now_ns())
        deadlines = [recheck_at]
        if self._pending:
            deadlines.append(self._changed_at + SETTLE_NS)
        if self._pressed_at is not None:
            deadlines.append(self._pressed_at + LONG_PRESS_NS)
        change = next_signal_change(self.signal, clock.now_ns())
        if change is not None:
            deadlines.append(change)
        clock.wait_until(min(deadlines), self._wake)
        return recheck_at

    def _read(self, now: int) -> None:
        levels = self.controls.levels()
        steps, self._steps = levels.encoder_steps - self._steps, levels.encoder_steps
        panel = panel_of(replace(levels, encoder_steps=steps), self.panel)
        moved, self.panel = panel != self.panel, panel
        down = bool(levels.button)
        if down and not self._button_down:
            self._pressed(now, panel)
        elif not down:
            self._pressed_at = None  # let go before the long press: nothing
        self._button_down = down
        self._reads += 1
        if moved:
            log.info("the box's controls: %s", self.said(panel))
            self._controller().publish_state()

    def _pressed(self, now: int, panel: Panel) -> None:
        live = self._live()
        does = press_does(0, running=live, panel=panel)
        if does is Press.START:
            self._act(Press.START)
        elif live:
            self._pressed_at = now  # a stop needs the press held
        else:
            log.info("the button starts nothing: %s", self.said(panel))

    def _act(self, does: Press) -> None:
        controller = self._controller()
        try:
            if does is Press.STOP:
                log.info("the box's button stops the run (held %.1fs)", LONG_PRESS_NS / 1e9)
                controller.stop()
                return
            self._refresh_base()  # the screens' latest choices (frames, a delay)
            settings = self.settings_for(self.panel)
            if settings is None:
                return
            log.info("the box's button starts a run: %s", self.said(self.panel))
            controller.start(settings)
        except (LapseError, OSError) as error:
            message = f"the box's button could not {does} a run: {error}"
            log.error("%s", message)
            controller.publish(FaultEvent(message=message))

    def _show_signal(self, now: int) -> None:
        heard = self._heard
        running = heard is not None and heard.run is not None and heard.state.live
        self.signal = box_signal(
            fault=None if heard is None else box_fault(heard),
            running=running,
            turned=running and heard is not None and self._turned(heard.run.settings),  # type: ignore[union-attr]
            armed=self.settings_for(self.panel) is not None,
        )
        level = signal_level(self.signal, now)
        if level == self._shown:
            return
        controller = self._controller()
        while (left := controller.quiet_left_ns()) > 0 and not self._closing:
            self.clock.wait_until(self.clock.now_ns() + left)
        self.led.show_signal(level)
        self._shown = level

    def _refresh_base(self) -> None:
        """Read the settings a run is built on again; with no power toggle wired, the
        power is theirs (a screen's toggle)."""
        self._base = self.base()
        if self.controls.config.power_pin is None and self.panel.power != self._base.power:
            self.panel = replace(self.panel, power=self._base.power)
            self._controller().publish_state()

    def _turned(self, running: Settings) -> bool:
        return turned(self.settings_for(self.panel), running)

    def _live(self) -> bool:
        return self._controller().status_state().live

    def _controller(self) -> RunController:
        controller = self.controller
        assert controller is not None, "Box.start was not called"
        return controller
