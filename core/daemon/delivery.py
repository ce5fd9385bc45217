"""Where the daemon's events go besides its clients: the hooks and the uploads
(docs/architecture.md §14).

The daemon publishes every event through :meth:`Delivery.hear` as well as to its
clients. It turns them into :class:`~core.model.hooks.Happening`\\ s (a frame's file
saved, a run started or ended, a fault; the work after a run says what it made through
:meth:`Delivery.made`), makes a frame's file absolute (the run's photo folder, read once
per run), and hands each to the hooks' queues and the upload queue. Nothing here waits
for a hook or a transfer: it is called on the journal thread and the socket loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from core.clock import Clock
from core.daemon.hooks import Hooks
from core.daemon.outbox import Outbox
from core.daemon.uploads import Uploads, UploadSetup
from core.journal import Journal
from core.model.camera_policy import saved_on_the_pi
from core.model.errors import LapseError
from core.model.hooks import Happening, Happenings, HookEvent, HooksConfig
from core.model.protocol import Event, HooksStatus, UploadStatus
from core.model.records import FrameRecord
from core.model.upload import catch_up_from

log = logging.getLogger("lapse.daemon")

FOLDERS_KEPT = 8
"""Runs whose photo folder is remembered (a run's frames come together)."""


@dataclass(frozen=True)
class DeliverySetup:
    """What the composition root gives the daemon for its hooks and uploads."""

    hooks: HooksConfig
    environ: Mapping[str, str]
    """The environment every hook starts from."""
    upload: UploadSetup | None = None
    """None when nothing is uploaded."""

    @property
    def wanted(self) -> bool:
        """A hook is set, or something is uploaded."""
        return bool(self.hooks.events) or (self.upload is not None and self.upload.config.wanted)


class Delivery:
    """The hooks and the uploads, fed from the daemon's events."""

    def __init__(
        self, setup: DeliverySetup, journal: Journal, clock: Clock, changed: Callable[[], None]
    ) -> None:
        """``changed``: called when a status here changes (the daemon publishes it)."""
        self.journal = journal
        self.hooks = Hooks(setup.hooks, setup.environ, changed) if setup.hooks.events else None
        upload = setup.upload
        self.uploads = (
            Uploads(upload, Outbox(journal.state_dir), clock, changed)
            if upload is not None and upload.config.wanted
            else None
        )
        active = journal.active_run()
        self._happenings = Happenings(going=None if active is None else active.id)
        self._lock = threading.Lock()
        self._folders: dict[str, Path | None] = {}

    def start(self) -> None:
        """Start the hooks' threads and the upload thread."""
        if self.hooks is not None:
            self.hooks.start()
        if self.uploads is not None:
            self.uploads.start(first=self._catch_up)

    def _catch_up(self) -> None:
        """Queue the files saved just before the daemon last stopped that the outbox never
        heard of (a kill between the journal's line and the outbox's): of the run that
        resumes (all its frames when none was queued), and of the latest run when some of
        its frames were, from :func:`catch_up_from` its newest queued on."""
        uploads = self.uploads
        assert uploads is not None
        active, latest = self.journal.active_run(), self.journal.latest_run()
        runs = {info.id: info for info in (active, latest) if info is not None}
        for info in runs.values():
            mark = uploads.outbox.mark(info.id)
            if mark is None and (active is None or info.id != active.id):
                continue  # a run that was never uploaded: not this queue's to start
            since = catch_up_from(mark)
            if mark is None:
                records: Iterable[FrameRecord] = self.journal.frames(info.id)
            else:
                newest = self.journal.last_frame(info.id)
                if newest is None:
                    continue
                records = self.journal.last_frames(info.id, newest.last_slot - since + 1)
            saved = [
                (record.frame, str(info.photos_path / record.file))
                for record in records
                if record.frame >= since and saved_on_the_pi(record.file)
            ]
            queued = uploads.catch_up(info.id, saved)
            if queued:
                log.warning(
                    "uploads: %d file(s) of run %s saved as the daemon last stopped were"
                    " not queued; they are now",
                    queued,
                    info.id,
                )

    def close(self) -> None:
        """Stop them; what waits for an upload stays in the outbox."""
        if self.hooks is not None:
            self.hooks.close()
        if self.uploads is not None:
            self.uploads.close()

    def statuses(self) -> tuple[HooksStatus | None, UploadStatus | None]:
        """The hooks' and the uploads' status (None for what is not set)."""
        return (
            None if self.hooks is None else self.hooks.status(),
            None if self.uploads is None else self.uploads.status(),
        )

    def hear(self, event: Event) -> None:
        """An event the daemon publishes (from any thread)."""
        with self._lock:
            happenings = self._happenings.of(event)
        for happening in happenings:
            if happening.event is HookEvent.FRAME_SAVED:
                folder = self._folder(happening.run)
                if folder is None:
                    continue
                happening = replace(happening, file=str(folder / happening.file))
            self._hand(happening)

    def made(self, run: str, file: str, product: str) -> None:
        """The work after a run made ``file`` (absolute), its ``product``."""
        self._hand(Happening(HookEvent.RENDER_DONE, run, file=file, status=product))

    def _hand(self, happening: Happening) -> None:
        if self.hooks is not None:
            self.hooks.hear(happening)
        if self.uploads is not None:
            self.uploads.hear(happening)

    def _folder(self, run: str) -> Path | None:
        """The run's photo folder, read once (its ``run.toml``) and then remembered."""
        with self._lock:
            if run in self._folders:
                return self._folders[run]
        try:
            folder: Path | None = self.journal.get_run(run).photos_path
        except (LapseError, OSError, ValueError) as error:
            log.warning("run %s: cannot tell where its photos are: %s", run, error)
            folder = None
        with self._lock:
            self._folders[run] = folder
            while len(self._folders) > FOLDERS_KEPT:
                del self._folders[next(iter(self._folders))]
        return folder
