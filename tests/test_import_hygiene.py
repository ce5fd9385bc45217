"""Import hygiene (DESIGN §2): ``core`` is standard library only, and the daemon starts lean.

Each check imports in a fresh interpreter, so what this test process has
already loaded (gpiozero for the rig tests, say) cannot hide or fake a
result. ``hw.select`` is checked in test_hw_select.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("textual", "gpiozero", "gphoto2", "tomli_w")
"""Never loaded by importing ``core``: the UI, the hardware, and the writer loaded on save."""

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
    report = probe(["tui.cli"], forbidden=("textual", "gpiozero", "gphoto2"))
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
