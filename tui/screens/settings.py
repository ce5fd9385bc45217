"""Settings: frames, start delay, exposure, focus lead, minimum power-off, clock trim, the
window to shoot in (by the clock or the sun), the night's pace and sun angle, theme.

Every value is stepped through sensible choices with the arrows or the keypad, or
typed as digits (a frame count, seconds), so no keyboard is needed. A value is
taken only once it fits the interval; going back keeps what was chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from core.model.durations import NS_PER_MS, NS_PER_S, format_duration
from core.model.errors import LapseError
from core.model.plan import make_plan
from core.model.settings import Settings
from core.model.windows import When
from themes import THEMES, config_name
from tui.keys import SETTINGS_KEYS, bindings
from tui.widgets.footer import key_footer


@dataclass(frozen=True)
class Choice:
    """One row of the settings screen: a field and the values it steps through."""

    label: str
    field: str
    values: Sequence[Any]
    show: Callable[[Any], str]
    typed_unit: int | None = None
    """What one typed unit is worth (1 frame, a second in ns); None: stepped only."""
    typed_zero: Any = 0
    """What a typed 0 means (an exposure of 0 is the pulse)."""
    typed_noun: str = ""
    """What the digits count, for the row's hint: ``frames``, ``s``."""


MAX_TYPED_DIGITS = 9


def _frames(value: int) -> str:
    return "until stopped" if value == 0 else str(value)


WHEN_SAID = {When.ALWAYS: "any height", When.NIGHT: "night only", When.DAY: "day only"}


def _degrees(value: float) -> str:
    return f"{value:g}° (sun's altitude)"


def _exposure(value: int | None) -> str:
    return "pulse (camera times it)" if value is None else f"bulb {format_duration(value)}"


CHOICES: tuple[Choice, ...] = (
    Choice(
        "Frames",
        "frames",
        (0, 10, 24, 50, 100, 240, 300, 500, 1000, 2000, 5000, 10000),
        _frames,
        typed_unit=1,
        typed_noun="frames",
    ),
    Choice(
        "Start delay",
        "delay_ns",
        tuple(n * NS_PER_S for n in (0, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200)),
        format_duration,
        typed_unit=NS_PER_S,
        typed_noun="s",
    ),
    Choice(
        "Exposure",
        "exposure_ns",
        (
            None,
            *(
                n * NS_PER_MS
                for n in (
                    500,
                    1000,
                    2000,
                    5000,
                    10_000,
                    15_000,
                    20_000,
                    30_000,
                    60_000,
                    120_000,
                    300_000,
                )
            ),
        ),
        _exposure,
        typed_unit=NS_PER_S,
        typed_zero=None,
        typed_noun="s",
    ),
    Choice(
        "Focus lead",
        "focus_lead_ns",
        tuple(n * NS_PER_MS for n in (0, 250, 500, 1000, 2000, 3000, 4000, 6000, 8000, 10_000)),
        format_duration,
        typed_unit=NS_PER_S,
        typed_noun="s",
    ),
    Choice(
        "Power off",
        "min_power_off_ns",
        tuple(
            n * NS_PER_MS
            for n in (100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000)
        ),
        lambda v: f"at least {format_duration(v)}",
        typed_unit=NS_PER_S,
        typed_noun="s",
    ),
    Choice(
        "Clock trim", "clock_ppm", tuple(x / 2 for x in range(-100, 101)), lambda v: f"{v:+.1f} ppm"
    ),
    Choice(
        "Window",
        "between",
        (
            "",
            "sunset..sunrise",
            "sunset-30min..sunrise",
            "dusk..dawn",
            "sunrise..sunset",
            "06:00..20:00",
            "20:00..06:00",
        ),
        lambda v: v or "none: every slot",
    ),
    Choice("Sun", "when", tuple(When), lambda v: WHEN_SAID[v]),
    Choice(
        "Night pace",
        "night_interval_ns",
        tuple(n * NS_PER_S for n in (0, 10, 30, 60, 300, 600, 1800, 3600)),
        lambda v: f"every {format_duration(v)}" if v else "as by day",
        typed_unit=NS_PER_S,
        typed_noun="s",
    ),
    Choice("Night below", "night_angle", tuple(float(a) for a in range(-18, 1)), _degrees),
)
THEME_ROW = len(CHOICES)


class SettingsScreen(Screen[None]):
    """Step each setting (or type its digits); Esc, * or Enter keeps the choices and goes
    back; # is help, as everywhere."""

    BINDINGS: ClassVar[list[Binding]] = bindings(SETTINGS_KEYS)

    def __init__(self) -> None:
        super().__init__()
        self.row = 0
        self.settings: Settings | None = None
        """The settings being edited, each change checked; the app's config until kept."""
        self.theme_name = ""
        self.typed = ""
        """The digits typed on this row since it was chosen or stepped."""

    def compose(self) -> ComposeResult:
        yield Static("SETTINGS", markup=False, id="settings-title")
        with VerticalScroll(id="settings-rows"):
            for index in range(len(CHOICES) + 1):
                yield Static("", markup=False, id=f"row-{index}", classes="setting")
        yield Static("", markup=False, id="settings-message")
        yield key_footer()

    def on_mount(self) -> None:
        self.settings = self.app.config.run
        self.theme_name = self.app.theme
        self._draw()

    def _draw(self) -> None:
        assert self.settings is not None
        for index, choice in enumerate(CHOICES):
            value = getattr(self.settings, choice.field)
            self._row(index, choice.label, choice.show(value))
        self._row(THEME_ROW, "Theme", config_name(self.theme_name))

    def _row(self, index: int, label: str, value: str) -> None:
        row = self.query_one(f"#row-{index}", Static)
        g = self.app.glyphs
        marked = f"{g.switch_left}{value}{g.switch_right}" if index == self.row else f" {value} "
        row.update(f"{label:<12}{marked}")
        row.set_class(index == self.row, "-selected")
        if index == self.row:
            row.scroll_visible()

    def action_move(self, step: int) -> None:
        self.row = (self.row + step) % (len(CHOICES) + 1)
        self.typed = ""
        self._say("")
        self._draw()

    def action_step(self, step: int) -> None:
        self.typed = ""
        if self.row == THEME_ROW:
            names = list(THEMES)
            self.theme_name = names[(names.index(self.theme_name) + step) % len(names)]
            self.app.theme = self.theme_name
            self._draw()
            return
        choice = CHOICES[self.row]
        assert self.settings is not None
        current = getattr(self.settings, choice.field)
        values = list(choice.values)
        index = values.index(current) if current in values else _nearest(values, current)
        index = max(0, min(len(values) - 1, index + step))
        self._take(choice, values[index])

    def on_key(self, event: events.Key) -> None:
        """Digits type the chosen row's value: a frame count, or seconds."""
        if event.character is None or event.character not in "0123456789":
            return
        # Here a digit is a number: never the main screen's log (0) or theme (9) key.
        event.stop()
        event.prevent_default()
        self.type_digit(event.character)

    def type_digit(self, digit: str) -> None:
        """Add ``digit`` to the number typed on this row and take it if it fits."""
        choice = CHOICES[self.row] if self.row < THEME_ROW else None
        if choice is None or choice.typed_unit is None:
            label = "Theme" if choice is None else choice.label
            self._say(f"{label} is stepped: C less, D more")
            return
        typed = (self.typed + digit).lstrip("0") or "0"
        if len(typed) > MAX_TYPED_DIGITS:
            self.app.bell()
            return
        number = int(typed)
        value = choice.typed_zero if number == 0 else number * choice.typed_unit
        # A number refused is dropped: the next digit starts a new one.
        self.typed = (
            typed if self._take(choice, value, typed=f"{typed} {choice.typed_noun}") else ""
        )
        if self.typed:
            self._say(f"typed {typed} {choice.typed_noun}")

    def _take(self, choice: Choice, value: Any, *, typed: str = "") -> bool:
        """Set ``choice`` to ``value`` if the run it makes can be planned; else say why."""
        assert self.settings is not None
        try:
            candidate = self.settings.with_changes(**{choice.field: value})
            make_plan(candidate)
            make_plan(candidate.at_night())
        except LapseError as error:
            self._say(f"{typed}: {error}" if typed else str(error))
            self.app.bell()
            return False
        self.settings = candidate
        self._say("")
        self._draw()
        return True

    def action_save(self) -> None:
        """Keep the choices (the settings and the theme) and go back."""
        assert self.settings is not None
        config = self.app.config
        if self.settings == config.run and config_name(self.theme_name) == config.ui.theme:
            self.app.pop_screen()  # nothing chosen: nothing to keep, nothing to say
            return
        try:
            make_plan(self.settings)
            make_plan(self.settings.at_night())
        except LapseError as error:
            self._say(f"Not kept: {error}")
            self.app.bell()
            return
        self.app.save_choices(
            run=self.settings, ui=replace(config.ui, theme=config_name(self.theme_name))
        )
        self.app.notify(self.app.choices_said(), timeout=5, markup=False)
        self.app.pop_screen()

    def _say(self, text: str) -> None:
        self.query_one("#settings-message", Static).update(text)


def _nearest(values: list[Any], current: Any) -> int:
    if current is None or isinstance(current, str):
        return 0  # a window typed in the config file: stepping starts from the first
    numbers = [v for v in values if v is not None]
    best = min(numbers, key=lambda v: abs(v - current))
    return values.index(best)
