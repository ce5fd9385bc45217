"""System programs some tests drive (tmux, systemd-analyze): a skip where missing, not in CI.

On a developer's machine a test that needs a program it lacks is skipped. CI
installs every one of them (``.ci/run``), so there a missing program is a
broken install step: with ``CI=true`` (set by the CI runner, and exported by
``.ci/run``) the test fails instead, and a run can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence

import pytest


def in_ci(environ: Mapping[str, str]) -> bool:
    """True where ``CI`` says so, as CI runners set it (``true``; ``1`` and ``yes`` too)."""
    return environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_tool(
    name: str,
    package: str,
    *,
    environ: Mapping[str, str] | None = None,
    also: Sequence[str] = (),
) -> str:
    """The path of the program ``name``; skips the calling test without it, or fails it in CI.

    ``package`` is the Debian package that installs it, for the message;
    ``also`` are folders searched after ``PATH``.
    """
    env = os.environ if environ is None else environ
    found = shutil.which(name, path=os.pathsep.join([env.get("PATH", ""), *also]))
    if found is not None:
        return found
    missing = f"{name} is not installed (Debian package: {package})"
    if in_ci(env):
        pytest.fail(f"{missing}; under CI a missing program fails the test", pytrace=False)
    pytest.skip(missing)
