"""The newest frame on screen: its picture and its histogram, from 80×24 up.

The picture is drawn by ``textual-image``: Sixel or Kitty graphics where the terminal has
them, coloured half blocks elsewhere (the web page's terminal, tmux). The file is read
and shrunk in a worker thread, never on the UI's loop (a 24-megapixel JPEG takes a
while even decoded at an eighth of its size).
"""

from __future__ import annotations

import fcntl
import io
import os
import struct
import sys
import termios
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget

from core.after.pictures import open_picture
from core.model.after import AfterError
from themes.glyphs import UNICODE, Glyphs
from tui.ramp import plot_rows

if TYPE_CHECKING:
    from PIL.Image import Image as Picture

GRAPHICS = ("kitty", "sixel", "halfcell")
"""How the picture is drawn: Kitty's graphics protocol, Sixel, or coloured half blocks."""
SIXEL_TERMS = ("foot", "mlterm", "yaft", "contour")
SIXEL_PROGRAMS = ("WezTerm",)


def graphics_for(environ: Mapping[str, str]) -> str:
    """The graphics the terminal says it has, by its environment: ``LAPSE_GRAPHICS`` when
    set to one of :data:`GRAPHICS`, else Kitty's own ``TERM`` (it survives SSH), a
    terminal known for Sixel, else half blocks (tmux, the Linux console, the web page).

    The terminal is never asked: textual-image's question (an escape sequence, answered
    within 100 ms or not at all) leaks its answer into the keys when the answer is late,
    over SSH or on a busy Pi, and ``1;2c`` would turn the VALUE switch and the POWER
    toggle.
    """
    chosen = environ.get("LAPSE_GRAPHICS", "").strip().lower()
    if chosen in GRAPHICS:
        return chosen
    term = environ.get("TERM", "")
    if term == "xterm-kitty" or "KITTY_WINDOW_ID" in environ:
        return "kitty"
    if term.startswith(SIXEL_TERMS) or environ.get("TERM_PROGRAM") in SIXEL_PROGRAMS:
        return "sixel"
    return "halfcell"


class _NotATerminal(io.TextIOWrapper):
    """Standard output as textual-image sees it while it is imported: no terminal to ask."""

    def isatty(self) -> bool:
        return False


@contextmanager
def _no_questions() -> Iterator[None]:
    real = sys.__stdout__
    sys.__stdout__ = _NotATerminal(io.BytesIO())  # type: ignore[misc]
    try:
        yield
    finally:
        sys.__stdout__ = real  # type: ignore[misc]


with _no_questions():
    from textual_image import _terminal as image_terminal
    from textual_image.widget import HalfcellImage, SixelImage, TGPImage


def _cell_pixels() -> tuple[int, int] | None:
    """A cell's size in pixels from the terminal's window size (no escape sequence)."""
    try:
        rows, columns, width, height = struct.unpack(
            "HHHH",
            fcntl.ioctl(sys.__stdout__.fileno(), termios.TIOCGWINSZ, bytes(8)),  # type: ignore[union-attr]
        )
    except (OSError, AttributeError, ValueError):
        return None
    if not (rows and columns and width and height):
        return None
    return width // columns, height // rows


def image_widget(environ: Mapping[str, str] = os.environ) -> type[Any]:
    """The textual-image widget for this terminal (:func:`graphics_for`). Kitty or Sixel
    graphics need a cell's size in pixels; a terminal that does not give it in its window
    size gets half blocks."""
    graphics = graphics_for(environ)
    if graphics == "halfcell":
        return HalfcellImage
    cell = _cell_pixels()
    if cell is None:
        return HalfcellImage
    # textual-image keeps the size it found (none: it was not let ask) on its function.
    image_terminal.get_cell_size._result = image_terminal.CellSize(*cell)  # type: ignore[attr-defined]
    return TGPImage if graphics == "kitty" else SixelImage


PREVIEW_PX = (320, 240)
"""The picture is shrunk to fit this before it is drawn: more than any terminal shows in
the cells it gets."""
TITLE = "LAST FRAME"


@dataclass(frozen=True)
class Preview:
    """A frame's file, shrunk, and the counts of its grey levels (256 of them)."""

    path: Path
    picture: Picture
    levels: list[int]


def load_preview(path: Path) -> Preview:
    """The frame at ``path`` shrunk to :data:`PREVIEW_PX` and its histogram; raises
    :class:`AfterError` for a file that is not a picture."""
    picture = open_picture(path, PREVIEW_PX)
    picture.thumbnail(PREVIEW_PX)
    return Preview(path, picture, picture.convert("L").histogram())


def histogram_columns(levels: list[int], width: int) -> list[float]:
    """The 256 grey levels' counts in ``width`` columns, dark to bright."""
    if width <= 0:
        return []
    columns = [0.0] * width
    for level, count in enumerate(levels):
        columns[min(width - 1, level * width // len(levels))] += count
    return columns


class Histogram(Widget):
    """The grey levels of the frame shown, as bars from black (left) to white."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"histogram--bars", "histogram--label"}
    DEFAULT_CSS = """
    Histogram {
        width: 1fr;
        height: 100%;
        text-wrap: nowrap;
        text-overflow: clip;
        & > .histogram--bars { color: $lapse-shutter; }
        & > .histogram--label { color: $text-muted; }
    }
    """

    glyphs: reactive[Glyphs] = reactive(UNICODE)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.levels: list[int] = []
        self.label = ""

    def show(self, levels: list[int], label: str) -> None:
        self.levels, self.label = levels, label
        self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True)
        height, width = self.size.height - 1, self.size.width
        text.append(self.label[:width], self.get_component_rich_style("histogram--label"))
        if not self.levels or height <= 0:
            return text
        columns = histogram_columns(self.levels, width)
        rows = plot_rows(columns, height, self.glyphs.ramp_bars, low=0.0)
        bars = self.get_component_rich_style("histogram--bars")
        for row in rows:
            text.append("\n")
            text.append(row, bars)
        return text


class LastFrame(Horizontal):
    """The newest frame's picture beside its histogram; give it the file with
    :meth:`show`. Hidden until a frame has a file that reads."""

    # The rows the screen has left, and no more than a glance needs: the message line
    # under it must stay in view at 80×24 whatever else is shown.
    DEFAULT_CSS = """
    LastFrame { height: 1fr; max-height: 14; width: 100%; }
    LastFrame.-empty { display: none; }
    LastFrame > * { height: 100%; }
    LastFrame > #picture { width: auto; max-width: 50%; margin: 0 1 0 0; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="-empty")
        self._wanted: Path | None = None
        self.shown: Path | None = None
        """The file whose picture is drawn now."""

    def compose(self) -> ComposeResult:
        yield image_widget()(id="picture")
        yield Histogram(id="histogram")

    def show(self, path: Path | None) -> None:
        """Draw the frame at ``path`` (None: hide); a file already drawn is not read again."""
        if path == self._wanted:
            return
        self._wanted = path
        if path is None:
            self.add_class("-empty")
            return
        self._load(path)

    @work(thread=True, exclusive=True, group="last-frame")
    def _load(self, path: Path) -> None:
        try:
            preview: Preview | None = load_preview(path)
        except AfterError:
            preview = None  # gone, or not a picture: the one before stays
        self.app.call_from_thread(self._apply, path, preview)

    def _apply(self, path: Path, preview: Preview | None) -> None:
        if path != self._wanted or preview is None:
            return
        image: Any = self.query_one("#picture")
        image.image = preview.picture
        self.query_one(Histogram).show(preview.levels, f"{TITLE}  {path.name}")
        self.shown = path
        self.remove_class("-empty")
