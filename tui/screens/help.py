"""Help: every key, from the same table the bindings are made from."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tui.keys import APP_KEYS, HELP_KEYS, LOG_KEYS, MAIN_KEYS, SETTINGS_KEYS, bindings, spell
from tui.widgets.footer import key_footer


def help_lines(keymap: dict[str, str]) -> list[str]:
    """One line per binding, with any rebinding from config applied."""
    lines: list[str] = []
    for title, keys in (
        ("Main", MAIN_KEYS + APP_KEYS),
        ("Settings", SETTINGS_KEYS),
        ("Log", LOG_KEYS),
        ("Help", HELP_KEYS),
    ):
        lines.append(title.upper())
        seen: set[str] = set()
        for key in keys:
            if key.id in seen:
                continue
            seen.add(key.id)
            lines.append(f"  {spell(keymap.get(key.id, key.keys)):<16} {key.help_text}")
    return lines


class HelpScreen(Screen[None]):
    """Every key of every screen; A, B, C and D scroll; Esc, * or # goes back."""

    BINDINGS: ClassVar[list[Binding]] = bindings(HELP_KEYS)

    def compose(self) -> ComposeResult:
        yield Static("HELP: keypad and keyboard", markup=False, id="help-title")
        with VerticalScroll(id="help-body"):
            text = "\n".join(help_lines(dict(self.app.config.ui.keys)))
            if self.app.kiosk:
                text += "\n\nKiosk: lapse stays open; Ctrl+C and Ctrl+Q do nothing."
            yield Static(text, markup=False, id="help-text")
        yield key_footer()

    def action_scroll(self, lines: int) -> None:
        """A or B: a line up or down (the arrows too)."""
        self.query_one("#help-body", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_page(self, pages: int) -> None:
        """C or D: a page up or down."""
        body = self.query_one("#help-body", VerticalScroll)
        if pages < 0:
            body.scroll_page_up(animate=False)
        else:
            body.scroll_page_down(animate=False)
