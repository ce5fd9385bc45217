"""The console theme: the 16 ANSI colours of the Pi's framebuffer console (``TERM=linux``).

The theme is an ANSI theme (``Theme(ansi=True)``) and names its colours
``ansi_*``, so Textual writes colour *numbers* (SGR 30–37, 90–97, 40–47) and
the console paints them from its own palette. A hex colour would instead be
matched to the nearest of Rich's 16 standard colours when Rich sees
``TERM=linux``, and Textual's derived shades (lightened, blended, with alpha)
would land on whatever colour happened to be nearest.

The linux console has eight background colours: it draws a bright background
(SGR 100–107) as the plain one and a bright foreground (90–97) as bold. So
bright colours appear only where a colour is drawn as text; everything that
can fill a cell (backgrounds, panels, cursors, selections, scrollbars, the
switch and the banner) is one of the eight plain colours.

Glyphs: the console font may lack box-drawing and block characters, so with
this theme the widgets draw with ``themes.glyphs.CONSOLE`` (plain ASCII).
"""

from __future__ import annotations

from textual.theme import Theme

from core.model.ui import ThemeName

CONFIG_NAME = ThemeName.CONSOLE
"""What ``ui.theme`` says for this theme."""
NAME = CONFIG_NAME.full_name

THEME = Theme(
    name=NAME,
    ansi=True,
    primary="ansi_blue",
    secondary="ansi_cyan",
    accent="ansi_yellow",
    foreground="ansi_white",
    background="ansi_black",
    surface="ansi_black",
    panel="ansi_blue",
    boost="ansi_black",
    success="ansi_green",
    warning="ansi_yellow",
    error="ansi_red",
    dark=True,
    variables={
        # Textual's ANSI theme leaves these transparent and ignores surface and
        # panel; give them their colours (the shades are the colour itself).
        **{
            f"{name}{shade}": colour
            for name, colour in (
                ("surface", "ansi_black"),
                ("panel", "ansi_blue"),
                ("boost", "ansi_black"),
            )
            for shade in (
                "",
                "-lighten-1",
                "-lighten-2",
                "-lighten-3",
                "-darken-1",
                "-darken-2",
                "-darken-3",
            )
        },
        # Textual's ANSI colour system leaves these four out (CSS that names them
        # fails to parse), and it spells surface-active "surface-actrive".
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_white",
        "foreground-disabled": "ansi_bright_black",
        "surface-active": "ansi_black",
        # Textual's ANSI defaults are the terminal's own colours (ansi_default); be explicit.
        "background-muted": "ansi_black",
        "button-foreground": "ansi_white",
        "button-color-foreground": "ansi_bright_white",
        "footer-description-background": "transparent",
        "footer-item-background": "transparent",
        "text": "ansi_white",
        "text-muted": "ansi_white",
        "text-disabled": "ansi_bright_black",
        "foreground-muted": "ansi_white",
        "border-blurred": "ansi_bright_black",
        "block-cursor-foreground": "ansi_bright_white",
        "block-cursor-background": "ansi_blue",
        "block-cursor-blurred-foreground": "ansi_white",
        "block-cursor-blurred-background": "ansi_black",
        "block-hover-background": "ansi_black",
        "footer-background": "ansi_blue",
        "footer-foreground": "ansi_white",
        "footer-description-foreground": "ansi_white",
        "footer-key-foreground": "ansi_bright_yellow",
        "input-cursor-background": "ansi_white",
        "input-cursor-foreground": "ansi_black",
        "input-selection-background": "ansi_cyan",
        "input-selection-foreground": "ansi_black",
        "screen-selection-background": "ansi_cyan",
        "screen-selection-foreground": "ansi_black",
        # Textual's ANSI defaults draw these on a bright background, which the console lacks.
        "scrollbar": "ansi_blue",
        "scrollbar-hover": "ansi_cyan",
        "scrollbar-active": "ansi_cyan",
        "scrollbar-background": "ansi_black",
        "scrollbar-background-hover": "ansi_black",
        "scrollbar-background-active": "ansi_black",
        "scrollbar-corner-color": "ansi_black",
        "link-background-hover": "ansi_blue",
        "link-color": "ansi_bright_cyan",
        "link-color-hover": "ansi_bright_white",
        # The timeline and LED are drawn as text, so they may be bright.
        "lapse-power": "ansi_bright_green",
        "lapse-focus": "ansi_bright_yellow",
        "lapse-shutter": "ansi_bright_red",
        "lapse-led": "ansi_bright_cyan",
        "lapse-trace-low": "ansi_bright_black",
        "lapse-switch": "ansi_cyan",
        "lapse-warning": "ansi_bright_yellow",
        "lapse-banner": "ansi_magenta",
    },
)
