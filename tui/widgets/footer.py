"""The key line at the bottom of every screen."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's footer, showing each screen's keys whether or not the app has focus.

    Textual's own waits for focus before it shows a new screen's keys. In a browser
    the page starts without it (``lapse web``'s driver says so until the first tap),
    and the footer's words are what a phone taps: they must be there from the start.
    """

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self.recompose)


def key_footer() -> Footer:
    """Compact, so 40 columns hold what matters, and without the command palette's key:
    the kiosk has no palette, and elsewhere Ctrl+P opens it all the same."""
    return KeyFooter(compact=True, show_command_palette=False)
