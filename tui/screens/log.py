"""The frame log of the current and past runs, read from the journal."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from core.after.outputs import made_products
from core.client import DaemonRefused
from core.journal import DamagedRun, RunInfo
from core.model import protocol
from core.model.after import after_line
from core.model.durations import format_approx, format_duration
from core.model.errors import LapseError
from core.model.records import FrameRecord
from core.model.upload import upload_line
from tui.keys import LOG_KEYS, bindings
from tui.widgets.footer import key_footer

MAX_ROWS = 2000


class LogScreen(Screen[None]):
    """Runs, newest first; Enter opens one run's frames. Esc or * goes back."""

    BINDINGS: ClassVar[list[Binding]] = bindings(LOG_KEYS)

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunInfo | DamagedRun] = []
        self.showing: RunInfo | None = None

    def compose(self) -> ComposeResult:
        yield Static("RUNS", markup=False, id="log-title")
        yield Static("", markup=False, id="log-folder")
        yield DataTable(id="log-table", cursor_type="row", zebra_stripes=True)
        yield key_footer()

    def on_mount(self) -> None:
        self.load_runs()

    @work(thread=True, exclusive=True)
    def load_runs(self) -> None:
        journal = self.app.journal
        readable, damaged = journal.scan_runs() if journal is not None else ([], [])
        counts = {run.id: journal.frame_counts(run.id) for run in readable} if journal else {}
        # First: a damaged run may be one a daemon left running, and nothing resumes it.
        self.app.call_from_thread(self._show_runs, [*damaged, *readable], counts)

    def _show_runs(
        self, runs: list[RunInfo | DamagedRun], counts: dict[str, dict[str, int]]
    ) -> None:
        self.runs = runs
        self.showing = None
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns("run", "frames")
        for run in runs:
            # Two lines a run: two columns fit 40 columns whole.
            table.add_row(*run_row(run, counts.get(run.id, {})), height=2)
        title = "RUNS" if runs else "RUNS: none yet; start one with D"
        self.query_one("#log-title", Static).update(title)
        # Under the list's title: the upload queue, where there is one.
        status = self.app.status
        upload = status.upload if status is not None else None
        queue = self.query_one("#log-folder", Static)
        queue.update("" if upload is None else upload_line(upload))
        queue.display = upload is not None
        table.focus()

    def action_open_run(self) -> None:
        table = self.query_one(DataTable)
        if self.showing is not None or not self.runs:
            return
        run = self.runs[table.cursor_row]
        if isinstance(run, DamagedRun):
            self.query_one("#log-title", Static).update(f"RUN {run.id}: {run.problem}")
            return
        self.load_frames(run)

    def action_cursor(self, step: int) -> None:
        table = self.query_one(DataTable)
        if step < 0:
            table.action_cursor_up()
        else:
            table.action_cursor_down()

    @work(thread=True, exclusive=True)
    def load_frames(self, run: RunInfo) -> None:
        journal = self.app.journal
        records = journal.last_frames(run.id, MAX_ROWS) if journal is not None else []
        notes = [text for _, text in journal.notes(run)] if journal is not None else []
        # Listing the run's folder (every frame's file in it) is this thread's work too.
        folder = folder_text(run, made_products(run))
        self.app.call_from_thread(self._show_frames, run, records, notes, folder)

    def _show_frames(
        self, run: RunInfo, records: list[FrameRecord], notes: list[str], folder_said: str
    ) -> None:
        self.showing = run
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns("#", "time", "status", "late")
        for record in reversed(records):
            late = "" if record.lateness_ns is None else format_approx(record.lateness_ns)
            table.add_row(frame_cell(record), record.wall[11:19], record.status, late)
        # What the daemon found wrong with the journal comes first: it explains the rows.
        title = f"RUN {run.id} · {notes[-1]}" if notes else f"RUN {run.id} · newest first"
        self.query_one("#log-title", Static).update(title)
        folder = self.query_one("#log-folder", Static)
        folder.update(folder_said)
        folder.display = True

    def action_render(self) -> None:
        """Have the daemon make the video of the run shown (or under the cursor)."""
        run = self.showing
        if run is None and self.runs:
            chosen = self.runs[self.query_one(DataTable).cursor_row]
            run = chosen if isinstance(chosen, RunInfo) else None
        if run is not None:
            self.ask_for_video(run)

    @work(thread=True, group="make")
    def ask_for_video(self, run: RunInfo) -> None:
        try:
            status = self.app.link.command(protocol.Make(run.id, ("video",)))
        except (DaemonRefused, LapseError, OSError) as error:
            said = f"RUN {run.id} · no video: {error}"
        else:
            after = status.after
            said = f"RUN {run.id} · " + (after_line(after) if after else "video asked for")
        self.app.call_from_thread(self.query_one("#log-title", Static).update, said)

    def action_back(self) -> None:
        """From a run's frames, back to the list; from the list, back to the main screen."""
        if self.showing is not None:
            self.load_runs()
        else:
            self.app.pop_screen()


def folder_text(run: RunInfo, made: list[Path]) -> str:
    """Where the run is on disk: its folder, its photos when they went elsewhere, and the
    video and images made of it."""
    text = f"folder {run.path}"
    if run.output:
        text += f"\nphotos {run.output}"
    if made:
        text += "\nmade " + ", ".join(path.name for path in made)
    return text


def frame_cell(record: FrameRecord) -> str:
    """The frame number, or a gap's first and last (``12–2,600,011``): a range is one row."""
    return str(record.frame) if record.last is None else f"{record.frame:,}–{record.last:,}"


def run_row(run: RunInfo | DamagedRun, counts: dict[str, int]) -> tuple[str, str]:
    """A run's row in the list, two lines: its id and interval, its state and frames; a
    damaged one says so (Enter shows what is wrong)."""
    if isinstance(run, DamagedRun):
        return (run.id, "damaged")
    every = format_duration(run.settings.interval_ns)
    frames = f"{counts.get('ok', 0):,} ok, {missed_cell(counts)} missed"
    if counts.get("skipped", 0):
        # Outside the run's window: neither taken nor missed, and never counted as either.
        frames += f", {counts['skipped']:,} outside"
    return (f"{run.id}\nevery {every}", f"{run.state}\n{frames}")


def missed_cell(counts: dict[str, int]) -> str:
    """Slots missed, with those that may have fired (unknown) after them: ``3+2?``."""
    unknown = counts.get("unknown", 0)
    return f"{counts.get('missed', 0)}+{unknown}?" if unknown else str(counts.get("missed", 0))
