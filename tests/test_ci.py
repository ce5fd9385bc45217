"""CI cannot pass by skipping: a missing program fails its tests, and .ci/run stops on failure.

``.ci/run`` itself runs here against stubs, in a copy of the script with a
README whose test command is a stand-in, on a PATH that holds only what the
script needs: so its exit-status rules are the file's own, not a copy of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.system_tools import require_tool

# --- tests/system_tools.py -------------------------------------------------------------------


def outcome(environ: dict[str, str]) -> BaseException:
    """What ``require_tool`` raises for tmux in ``environ``: pytest's fail or skip.

    Caught here whatever it is, so a skip cannot pass for a test that expects a failure.
    """
    with pytest.raises(BaseException) as caught:
        require_tool("tmux", "tmux", environ=environ)
    return caught.value


def test_a_missing_program_fails_the_test_under_ci(tmp_path: Path) -> None:
    failed = outcome({"CI": "true", "PATH": str(tmp_path)})
    assert isinstance(failed, pytest.fail.Exception), repr(failed)
    assert str(failed) == (
        "tmux is not installed (Debian package: tmux); under CI a missing program fails the test"
    )


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_a_missing_program_skips_the_test_elsewhere(tmp_path: Path, ci: str | None) -> None:
    skipped = outcome({"PATH": str(tmp_path)} | ({} if ci is None else {"CI": ci}))
    assert isinstance(skipped, pytest.skip.Exception), repr(skipped)
    assert str(skipped) == "tmux is not installed (Debian package: tmux)"


def test_a_program_on_the_path_or_in_a_further_folder_is_found(tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    program = stub(folder / "tmux", "exit 0")
    environ = {"CI": "true", "PATH": str(tmp_path)}
    assert require_tool("tmux", "tmux", environ=environ | {"PATH": str(folder)}) == str(program)
    assert require_tool("tmux", "tmux", environ=environ, also=[str(folder)]) == str(program)


@pytest.mark.parametrize(("ci", "outcome"), [("true", "error"), (None, "skipped")])
def test_the_tmux_tests_fail_under_ci_without_tmux(
    tmp_path: Path, ci: str | None, outcome: str
) -> None:
    """The real module, run by pytest on a PATH without tmux: errors in CI, skips elsewhere."""
    environ = {
        key: value for key, value in os.environ.items() if key not in ("CI", "PYTEST_ADDOPTS")
    }
    environ["PATH"] = str(tmp_path)  # no tmux; python is named by its full path
    if ci is not None:
        environ["CI"] = ci
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_tui_tmux.py"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert outcome in summary and "passed" not in summary, result.stdout
    if outcome == "error":
        assert result.returncode != 0 and "tmux is not installed" in result.stdout
    else:
        assert result.returncode == 0 and "error" not in summary


# --- .ci/run ---------------------------------------------------------------------------------

README = """\
<!-- ci: test command (the next line is what .ci/run runs) -->
```sh
echo "$CI" > ran-with-ci.txt; exit {status}
```
"""


def stub(path: Path, body: str) -> Path:
    """An executable shell script at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def ci_run(
    tmp_path: Path,
    *,
    tests: int = 0,
    have: tuple[str, ...] = ("tmux", "systemd-analyze", "chromium", "sftp"),
    apt_update: int = 0,
    apt_install: int = 0,
) -> subprocess.CompletedProcess[str]:
    """.ci/run in a checkout of its own whose test command exits ``tests``.

    ``have``: the programs found on PATH; apt-get answers ``apt_update`` and
    ``apt_install``. Every call of apt-get and ruff is written to ``calls.log``.
    """
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", checkout / ".ci" / "run")
    (checkout / "README.md").write_text(README.format(status=tests))
    log = tmp_path / "calls.log"
    stub(checkout / ".venv" / "bin" / "ruff", f'echo "ruff $*" >> {log}')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("bash", "awk", "dirname"):
        found = shutil.which(program)
        assert found is not None, program
        (bin_dir / program).symlink_to(found)
    for program in have:
        stub(bin_dir / program, "exit 0")
    stub(
        bin_dir / "apt-get",
        f'echo "apt-get $*" >> {log}\n'
        f'case "$1" in update) exit {apt_update};; *) exit {apt_install};; esac',
    )
    environ = {"PATH": str(bin_dir)}  # and no CI: the script exports it
    return subprocess.run(
        [str(bin_dir / "bash"), str(checkout / ".ci" / "run")],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def ran_the_tests(tmp_path: Path) -> bool:
    return (tmp_path / "checkout" / "ran-with-ci.txt").exists()


def test_passing_tests_then_the_linter_pass(tmp_path: Path) -> None:
    result = ci_run(tmp_path, tests=0)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == ["ruff check ."]
    # Exported by the script, though the environment had no CI.
    assert (tmp_path / "checkout" / "ran-with-ci.txt").read_text() == "true\n"


@pytest.mark.parametrize("status", [5, 1, 2])
def test_no_tests_collected_is_a_failure_like_any_other(tmp_path: Path, status: int) -> None:
    """pytest's exit 5 ("no tests collected") once passed CI: it must fail it."""
    result = ci_run(tmp_path, tests=status)
    assert result.returncode == status, (result.stdout, result.stderr)
    assert ran_the_tests(tmp_path) and calls(tmp_path) == [], "no linter after failed tests"
    if status == 5:
        assert "ci: pytest collected no tests" in result.stderr


def test_a_missing_program_is_installed_first(tmp_path: Path) -> None:
    result = ci_run(tmp_path, have=("systemd-analyze", "chromium", "sftp"))
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == [
        "apt-get update -qq",
        "apt-get install -y -qq tmux",
        "ruff check .",
    ]


@pytest.mark.parametrize(
    ("apt_update", "apt_install", "said"),
    [
        (100, 0, "ci: apt-get update failed"),
        (0, 100, "ci: apt-get install tmux systemd chromium openssh-client failed"),
    ],
)
def test_a_failed_apt_get_stops_ci_before_the_tests(
    tmp_path: Path, apt_update: int, apt_install: int, said: str
) -> None:
    result = ci_run(tmp_path, have=(), apt_update=apt_update, apt_install=apt_install)
    assert result.returncode != 0
    assert said in result.stderr
    assert not ran_the_tests(tmp_path)
    if apt_update:
        assert calls(tmp_path) == ["apt-get update -qq"], "no install after a failed update"


def test_the_readme_names_the_pytest_command_ci_runs() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    marker = next(i for i, line in enumerate(lines) if line.startswith("<!-- ci: test command"))
    assert lines[marker + 1] == "```sh"
    assert "-m pytest" in lines[marker + 2]
