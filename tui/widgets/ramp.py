"""The exposure ramp: auto exposure's settings over the run, as a small bar plot.

The brightest setting so far labels the top row and the darkest the bottom one, so a
dusk reads as a climb from ``1/1000 ISO 100`` to ``20 ISO 1600``. Shown from 80×24 up
(the kiosk's 40×15 has no rows to spare); hidden while the run has no setting to plot.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from themes.glyphs import UNICODE, Glyphs
from tui.ramp import Ramp, plot_rows

TITLE = "EXPOSURE"


class ExposureRamp(Widget):
    """A plot of :class:`tui.ramp.Ramp`; give it the ramp with :meth:`show`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"exposure-ramp--bars", "exposure-ramp--label"}

    DEFAULT_CSS = """
    ExposureRamp {
        width: 1fr;
        height: 3;
        text-wrap: nowrap;
        text-overflow: clip;
        & > .exposure-ramp--bars { color: $lapse-shutter; }
        & > .exposure-ramp--label { color: $text-muted; }
    }
    ExposureRamp.-empty { display: none; }
    """

    glyphs: reactive[Glyphs] = reactive(UNICODE)
    """The characters to draw with (the console theme's are plain ASCII)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="-empty")
        self._ramp: Ramp | None = None
        self._shown: tuple[object, ...] = ()
        """Which ramp, and how many frames of it, the drawing shows."""

    def show(self, ramp: Ramp | None) -> None:
        """Plot ``ramp`` (None: nothing); redrawn only when it has a new frame."""
        key = () if ramp is None else (id(ramp), ramp.counted)
        if key == self._shown:
            return
        self._shown = key
        self._ramp = ramp
        self.set_class(ramp is None or ramp.latest is None, "-empty")
        self.refresh()

    def render(self) -> Text:
        ramp = self._ramp
        height = self.size.height
        text = Text(no_wrap=True)
        if ramp is None or ramp.most is None or ramp.least is None or height <= 0:
            return text
        top = ramp.most.setting
        bottom = "" if ramp.most.stops == ramp.least.stops else ramp.least.setting
        labels = [""] * height
        labels[height // 2] = TITLE
        labels[0] = top
        if height > 1:
            labels[-1] = bottom
        label_width = max(len(label) for label in labels)
        plot_width = self.size.width - label_width - 1
        rows = plot_rows(ramp.columns(plot_width), height, self.glyphs.ramp_bars)
        label_style = self.get_component_rich_style("exposure-ramp--label")
        bars_style = self.get_component_rich_style("exposure-ramp--bars")
        for index, (label, row) in enumerate(zip(labels, rows, strict=True)):
            if index:
                text.append("\n")
            text.append(label.rjust(label_width) + " ", label_style)
            text.append(row, bars_style)
        return text
