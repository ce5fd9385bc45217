"""Settings: frames, start delay, exposure, focus lead, clock trim and theme.

Every value is stepped through sensible choices with the arrows or the
keypad, so no keyboard is needed; the choice is checked against the
interval before it is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from core.model.durations import NS_PER_MS, NS_PER_S, format_duration
from core.model.errors import LapseError
from core.model.plan import make_plan
from core.model.settings import Settings
from themes import THEMES, config_name
from tui.keys import SETTINGS_KEYS, bindings


@dataclass(frozen=True)
class Choice:
    """One row of the settings screen: a field and the values it steps through."""

    label: str
    field: str
    values: Sequence[Any]
    show: Callable[[Any], str]


def _frames(value: int) -> str:
    return "until stopped" if value == 0 else str(value)


def _exposure(value: int | None) -> str:
    return "pulse (camera times it)" if value is None else f"bulb {format_duration(value)}"


CHOICES: tuple[Choice, ...] = (
    Choice(
        "Frames", "frames", (0, 10, 24, 50, 100, 240, 300, 500, 1000, 2000, 5000, 10000), _frames
    ),
    Choice(
        "Start delay",
        "delay_ns",
        tuple(n * NS_PER_S for n in (0, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200)),
        format_duration,
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
    ),
    Choice(
        "Focus lead",
        "focus_lead_ns",
        tuple(n * NS_PER_MS for n in (0, 250, 500, 1000, 2000, 3000, 4000, 6000, 8000, 10_000)),
        format_duration,
    ),
    Choice(
        "Clock trim", "clock_ppm", tuple(x / 2 for x in range(-100, 101)), lambda v: f"{v:+.1f} ppm"
    ),
)
THEME_ROW = len(CHOICES)


class SettingsScreen(Screen[None]):
    """Step each setting; Enter (or #) saves to config, Esc (or *) goes back."""

    BINDINGS: ClassVar[list[Binding]] = bindings(SETTINGS_KEYS)

    def __init__(self) -> None:
        super().__init__()
        self.row = 0
        self.settings: Settings | None = None
        """The settings being edited; the app's config until saved."""
        self.theme_name = ""

    def compose(self) -> ComposeResult:
        yield Static("SETTINGS", markup=False, id="settings-title")
        with VerticalScroll(id="settings-rows"):
            for index in range(len(CHOICES) + 1):
                yield Static("", markup=False, id=f"row-{index}", classes="setting")
        yield Static("", markup=False, id="settings-message")
        yield Footer()

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
        self._draw()

    def action_step(self, step: int) -> None:
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
        try:
            self.settings = self.settings.with_changes(**{choice.field: values[index]})
            make_plan(self.settings)
        except LapseError as error:
            self._say(str(error))
        else:
            self._say("")
        self._draw()

    def action_save(self) -> None:
        assert self.settings is not None
        try:
            make_plan(self.settings)
        except LapseError as error:
            self._say(f"Not saved: {error}")
            self.app.bell()
            return
        self.app.save_choices(
            run=self.settings, ui=replace(self.app.config.ui, theme=config_name(self.theme_name))
        )
        self.app.notify(self.app.choices_said(), timeout=5, markup=False)
        self.app.pop_screen()

    def _say(self, text: str) -> None:
        self.query_one("#settings-message", Static).update(text)


def _nearest(values: list[Any], current: Any) -> int:
    if current is None:
        return 0
    numbers = [v for v in values if v is not None]
    best = min(numbers, key=lambda v: abs(v - current))
    return values.index(best)
