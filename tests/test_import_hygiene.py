"""Import hygiene (docs/architecture.md §2): ``core`` is standard library only, the model
is plain logic, the daemon starts lean, and only the daemon writes the journal.

Each import check imports in a fresh interpreter, so what this test process has
already loaded (gpiozero for the rig tests, say) cannot hide or fake a
result. ``hw.select`` is checked in test_hw_select.py. Who may import the
journal's writer is read from the source, without importing anything.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HEAVY = (
    "textual",
    "gpiozero",
    "gphoto2",
    "tomli_w",
    "av",
    "numpy",
    "PIL",
    "textual_image",
    "asyncssh",
)
"""Never loaded by importing ``core``: the UI, the hardware, the writer loaded on save, and
the libraries after a run takes and the uploads' SSH (the daemon starts that work in
processes of their own)."""

# Run as ``python -c _PROBE MODULES FORBIDDEN`` (both JSON lists): imports each
# module in turn ("core.*" stands for core and every module of the package) and
# prints, for each, the forbidden packages that came with it and which module
# imported them, and every package outside the standard library loaded at all.
_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    modules, forbidden = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
    importers = {}

    class Watch:
        # Sees the first import of each forbidden package and notes who asked for it.
        def find_spec(self, name, path=None, target=None):
            if name in forbidden:
                frame = sys._getframe(1)
                while frame and frame.f_globals.get("__name__", "").startswith(
                    ("importlib", "_frozen_importlib")
                ):
                    frame = frame.f_back
                importers[name] = frame.f_globals.get("__name__", "?") if frame else "?"
            return None

    sys.meta_path.insert(0, Watch())
    already = set(sys.modules)
    if "core.*" in modules:
        import core

        found = [info.name for info in pkgutil.walk_packages(core.__path__, "core.")]
        index = modules.index("core.*")
        modules[index : index + 1] = ["core", *found]
    report = {"imported": [], "forbidden": {}, "outside_stdlib": []}
    for name in modules:
        before = set(sys.modules)
        importlib.import_module(name)
        report["imported"].append(name)
        new = {module.partition(".")[0] for module in set(sys.modules) - before}
        heavy = sorted(new & forbidden)
        if heavy:
            report["forbidden"][name] = {package: importers.get(package, "?") for package in heavy}
    loaded = {module.partition(".")[0] for module in set(sys.modules) - already}
    report["outside_stdlib"] = sorted(loaded - set(sys.stdlib_module_names))
    print(json.dumps(report))
    """
)


def probe(modules: list[str], forbidden: tuple[str, ...] = HEAVY) -> dict:
    """Import ``modules`` in a fresh interpreter; which forbidden packages did each bring in?"""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(modules), json.dumps(forbidden)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"importing {modules} failed:\n{result.stderr}"
    return json.loads(result.stdout)


def culprits(forbidden: dict[str, dict[str, str]]) -> str:
    """``importing core.daemon.engine loaded gpiozero (imported by core.model.led)``, for each."""
    return "; ".join(
        f"importing {module} loaded {package} (imported by {importer})"
        for module, heavy in forbidden.items()
        for package, importer in heavy.items()
    )


@pytest.fixture(scope="module")
def core_report() -> dict:
    """What importing ``core`` and then each of its modules loaded."""
    return probe(["core.*"])


def test_core_and_every_core_module_load_nothing_heavy(core_report: dict) -> None:
    report = core_report
    imported = report["imported"]
    # Not vacuous: the walk found the package's modules.
    assert {
        "core",
        "core.daemon.engine",
        "core.model.scheduler",
        "core.config",
        "core.daemon.process",
    } <= set(imported)
    assert len(imported) >= 15, imported
    assert report["forbidden"] == {}, culprits(report["forbidden"])


def test_core_needs_nothing_outside_the_standard_library(core_report: dict) -> None:
    outside = [name for name in core_report["outside_stdlib"] if name != "core"]
    assert outside == [], (
        f"core imported {', '.join(outside)}: it may use the standard library only"
    )


def test_core_knows_nothing_of_the_ui_code() -> None:
    """The theme names and binding ids the config checks are the model's; the UI builds on them."""
    report = probe(["core.*"], forbidden=("tui", "themes", "hw"))
    assert report["forbidden"] == {}, culprits(report["forbidden"])


def test_the_model_imports_nothing_of_the_runtime() -> None:
    """``core.model`` is pure: no module of it imports the config file's reader, the daemon, …"""
    code = textwrap.dedent(
        """
        import importlib, json, pkgutil, sys
        import core.model

        for info in pkgutil.walk_packages(core.model.__path__, "core.model."):
            importlib.import_module(info.name)
        ours = ("core", "tui", "themes", "hw", "bench")
        outside = [
            name for name in sys.modules
            if name.partition(".")[0] in ours
            and name not in ("core", "core.model")
            and not name.startswith("core.model.")
        ]
        print(json.dumps(sorted(outside)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_command_line_loads_no_ui_or_hardware_at_import() -> None:
    """``lapse daemon`` starts from tui.cli: textual and gpiozero would slow every start."""
    report = probe(["tui.cli"], forbidden=("textual", "gpiozero", "gphoto2", "av", "numpy"))
    assert report["imported"] == ["tui.cli"]
    assert report["forbidden"] == {}, culprits(report["forbidden"])


def test_the_probe_catches_a_heavy_import() -> None:
    """The checks above can fail: a module that pulls in gpiozero is named with it."""
    report = probe(["core.model.plan", "gpiozero.pins.mock"])
    assert report["forbidden"] == {"gpiozero.pins.mock": {"gpiozero": "__main__"}}
    assert "gpiozero" in report["outside_stdlib"]
    report = probe(["core.model.plan", "hw.sim"])
    assert report["forbidden"] == {"hw.sim": {"gpiozero": "hw.sim"}}
    assert culprits(report["forbidden"]) == (
        "importing hw.sim loaded gpiozero (imported by hw.sim)"
    )


WRITER = "core.daemon.journal_writer"
"""Creates, reopens, appends to and ends runs: the daemon's alone."""


def imported_modules(source: str, package: str) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import in ``source``, lazy ones inside functions too.

    ``from a.b import c`` names both ``a.b`` and ``a.b.c``, since ``c`` may be a module;
    a relative import is resolved against ``package``, the file's (``"tui.screens"``).
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def imports_writer(module: str) -> bool:
    """True for the writer's module or anything inside it."""
    return module == WRITER or module.startswith(WRITER + ".")


def client_sources() -> list[Path]:
    """The interface, the command line and every module of ``core`` outside the daemon."""
    daemon = ROOT / "core" / "daemon"
    core = [path for path in (ROOT / "core").rglob("*.py") if daemon not in path.parents]
    return sorted((ROOT / "tui").rglob("*.py")) + sorted(core)


def test_only_the_daemon_imports_the_journal_writer() -> None:
    sources = client_sources()
    # Not vacuous: the readers and the command line are among them, the daemon is not.
    assert {ROOT / "tui" / "cli.py", ROOT / "tui" / "screens" / "log.py"} <= set(sources)
    assert {ROOT / "core" / "journal.py", ROOT / "core" / "client.py"} <= set(sources)
    assert ROOT / "core" / "daemon" / "controller.py" not in sources
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources
        for line, module in imported_modules(
            path.read_text(encoding="utf-8"), ".".join(path.relative_to(ROOT).parent.parts)
        )
        if imports_writer(module)
    ]
    assert found == [], "only the daemon writes the journal"


@pytest.mark.parametrize(
    "source",
    [
        "import core.daemon.journal_writer",
        "import core.daemon.journal_writer as writer",
        "from core.daemon import journal_writer",
        "from core.daemon.journal_writer import open_run",
        "def stop():\n    from core.daemon.journal_writer import open_run",
        "from .daemon import journal_writer",
        "from ..daemon.journal_writer import open_run",
    ],
)
def test_the_writer_check_sees_every_way_of_importing_it(source: str) -> None:
    # As written in core/client.py, or (the "..") in a module of core.model.
    package = "core.model" if source.startswith("from ..") else "core"
    code = f"from core.journal import Journal\n{source}\n"
    assert any(imports_writer(module) for _, module in imported_modules(code, package))


def test_the_writer_check_lets_the_readers_and_the_rest_of_the_daemon_through() -> None:
    code = "import core.journal\nfrom core.daemon import controller\nfrom . import journal\n"
    modules = [module for _, module in imported_modules(code, "core")]
    assert "core.daemon.controller" in modules and "core.journal" in modules
    assert not any(imports_writer(module) for module in modules)


# -- the pure model ---------------------------------------------------------------------
MODEL = ROOT / "core" / "model"
IMPURE_STDLIB = frozenset(
    {
        "os", "sys", "io", "time", "threading", "socket", "select", "selectors", "signal",
        "subprocess", "asyncio", "queue", "multiprocessing", "concurrent", "shutil",
        "tempfile", "glob", "fcntl", "pathlib", "logging", "random", "uuid",
    }
)  # fmt: skip
"""Files, processes, threads, sockets, clocks and randomness: none of it in the model."""


def type_checking_lines(source: str) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks: imports for annotations only, never run."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def impure_imports(source: str, package: str) -> list[tuple[int, str]]:
    """The imports of ``source`` the pure model may not make: IO and time from the standard
    library, anything outside it, and ``core`` outside ``core.model``."""
    hidden = type_checking_lines(source)
    found = []
    for line, module in imported_modules(source, package):
        top = module.partition(".")[0]
        if line in hidden or top == "__future__":
            continue
        if top == "core":
            allowed = module.startswith("core.model") or module == "core.model"
        else:
            allowed = top in sys.stdlib_module_names and top not in IMPURE_STDLIB
        if not allowed:
            found.append((line, module))
    return found


def test_the_model_does_no_io_reads_no_clock_and_needs_no_runtime() -> None:
    sources = sorted(MODEL.glob("*.py"))
    # Not vacuous: the grid, the ledger, the states and the contract are all here.
    names = {path.stem for path in sources}
    assert {"scheduler", "ledger", "run_state", "protocol", "camera_policy"} <= names
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources
        for line, module in impure_imports(path.read_text(encoding="utf-8"), "core.model")
    ]
    # Each import line is named once (``from a import b`` also yields ``a.b``).
    assert sorted(set(found)) == [], "the model is plain logic: " + "; ".join(sorted(set(found)))


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "import time",
        "from threading import Lock",
        "from pathlib import Path",
        "import gpiozero",
        "from core.clock import SystemClock",
        "from core import journal",
        "from ..daemon import controller",
        "def later():\n    import socket",
    ],
)
def test_the_model_check_catches_io_time_and_the_runtime(source: str) -> None:
    assert impure_imports(source, "core.model") != []


def test_the_model_check_lets_plain_logic_and_annotations_through() -> None:
    source = (
        "from __future__ import annotations\nimport re\nfrom fractions import Fraction\n"
        "from typing import TYPE_CHECKING\nfrom core.model.plan import Plan\n"
        "from . import durations\nif TYPE_CHECKING:\n    from pathlib import Path\n"
    )
    assert impure_imports(source, "core.model") == []
