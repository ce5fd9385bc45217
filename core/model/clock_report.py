"""What ``lapse clock`` says of this Pi's clock: plain logic on the kernel's figures.

The grid runs on the monotonic clock, which the kernel steers with the time daemon's
frequency correction while it has one. ``clock_ppm`` is for the other case: a Pi in
the field with no time source, whose crystal runs as it runs.
"""

from __future__ import annotations


def crystal_error_ppm(kernel_freq_ppm: float) -> float:
    """The crystal's own error, as ``clock_ppm`` takes it (+18: 18 ppm fast), from the
    correction a time daemon had the kernel apply (−18 ppm slows a fast crystal)."""
    return -kernel_freq_ppm + 0.0  # + 0.0: never a negative zero


def clock_advice(synchronised: bool | None, kernel_freq_ppm: float | None, trim_ppm: float) -> str:
    """One sentence for the photographer: whether ``clock_ppm`` should be set, and to what."""
    trimmed = f" (lapse trims by {trim_ppm:+.1f} ppm now)" if trim_ppm else ""
    if synchronised:
        return (
            "a time daemon disciplines this clock, and the kernel steers lapse's clock with"
            f" it: keep clock_ppm at 0{trimmed}; the crystal's error is"
            f" {crystal_error_ppm(kernel_freq_ppm or 0.0):+.1f} ppm, for runs without a network"
        )
    if kernel_freq_ppm:
        return (
            f"no time source now, but the kernel still corrects the crystal by"
            f" {kernel_freq_ppm:+.1f} ppm until the next boot: keep clock_ppm at 0{trimmed}"
        )
    if synchronised is None:
        return f"the kernel does not say how its clock is kept: leave clock_ppm as it is{trimmed}"
    return (
        "nothing corrects this clock's crystal: for a run without a network set clock_ppm to"
        " its error, which `lapse clock` shows while a time daemon disciplines the clock" + trimmed
    )
