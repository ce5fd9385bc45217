"""The app-specific colour variables every theme defines (used as ``$lapse-…`` in CSS)."""

THEME_VARIABLES: tuple[str, ...] = (
    "lapse-power",
    "lapse-focus",
    "lapse-shutter",
    "lapse-led",
    "lapse-trace-low",
    "lapse-switch",
    "lapse-warning",
    "lapse-banner",
)
"""power/focus/shutter/led: each timeline row's "on" colour and the LED lamp;
trace-low: a line that is off; switch: a rotary switch's chosen position;
warning: battery and fault warnings; banner: the "simulated hardware" banner."""
