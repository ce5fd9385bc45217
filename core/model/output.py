"""Where a run's photos go when not into its own folder (``lapse run --output DIR``).

The journal always stays in the run's folder; ``run.toml`` names the output folder.
"""

from __future__ import annotations

from core.model.toml_text import echo

MAX_PATH_BYTES = 4095
"""Linux's longest path (PATH_MAX less its NUL)."""


def output_refusal(folder: str) -> str | None:
    """Why ``folder`` cannot take a run's photos, in one line; None when it can.

    It must be absolute: the daemon does not share the client's working folder.
    """
    if not folder.startswith("/"):
        return f"the output folder must be an absolute path, not {echo(folder)}"
    if not folder.isprintable():
        return f"the output folder's name holds a character that cannot be shown: {echo(folder)}"
    if len(folder.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        return f"the output folder's path is longer than {MAX_PATH_BYTES} bytes"
    return None
