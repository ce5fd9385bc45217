"""The upload queue's file, read: ``uploads.jsonl`` in the state directory
(docs/architecture.md §14). Only the daemon writes it (:mod:`core.daemon.outbox`); the
command line reads it, daemon or none, to say what waits."""

from __future__ import annotations

from pathlib import Path

from core.model.upload import Replayed, replay

OUTBOX_FILE = "uploads.jsonl"


def read_outbox(state_dir: Path) -> Replayed | None:
    """What the outbox says: the files still to go, the last one sent; None when there
    is no outbox (nothing was ever uploaded). :class:`OSError` when it cannot be read."""
    try:
        data = (state_dir / OUTBOX_FILE).read_bytes()
    except FileNotFoundError:
        return None
    return replay(data.splitlines())
