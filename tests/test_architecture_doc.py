"""docs/architecture.md names exactly the run states, moves, commands and events the code has."""

from __future__ import annotations

import re
from pathlib import Path

from core.model import protocol
from core.model.run_state import TRANSITIONS, RunState

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def section(number: int) -> str:
    """The text of ``## N.`` up to the next section."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {number}\. .*?(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/architecture.md has no section {number}"
    return match.group(0)


def table_rows(text: str, header: str) -> list[list[str]]:
    """The rows of the table whose header row starts with ``| header |``, cell by cell."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def ticked(cell: str) -> list[str]:
    """The names in backticks in a cell."""
    return re.findall(r"`([^`]+)`", cell)


def test_the_run_states_are_the_codes() -> None:
    rows = table_rows(section(5), "state")
    assert [ticked(row[0])[0] for row in rows] == [state.value for state in RunState]


def test_the_moves_between_states_are_the_codes_table() -> None:
    rows = table_rows(section(5), "from")
    documented = {
        RunState(ticked(row[0])[0]): {RunState(name) for name in ticked(row[1])} for row in rows
    }
    assert documented == TRANSITIONS


def test_the_commands_are_the_contracts() -> None:
    rows = table_rows(section(6), "command")
    documented = {ticked(row[0])[0]: ticked(row[1])[0].partition("(")[0] for row in rows}
    assert documented == {name: kind.__name__ for name, kind in protocol.COMMANDS.items()}


def test_the_events_are_the_contracts() -> None:
    rows = table_rows(section(6), "event")
    documented = {ticked(row[0])[0]: ticked(row[1])[0] for row in rows}
    assert documented == {name: kind.__name__ for name, kind in protocol.EVENTS.items()}


def test_the_doc_speaks_the_protocols_version() -> None:
    assert f'"v": {protocol.PROTOCOL_VERSION}' in section(6)
