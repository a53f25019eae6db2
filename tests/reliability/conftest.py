"""Fixtures for the reliability tests: a small library on disk, and running `attune` as a user does."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from attune.engine import Library

from tests.engine.conftest import fixture_csv, shared_lib  # noqa: F401  (the fixture library, shared)

ATTUNE = [str(Path(sys.executable).with_name("attune"))]


def attune(*args: str, cwd=None, env=None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`attune ARGS` in a subprocess, with its output."""
    return subprocess.run([*ATTUNE, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def one_line_error(out: subprocess.CompletedProcess, status: int = 2) -> str:
    """The command failed with `status`, a short message on stderr and no traceback."""
    assert out.returncode == status, (out.returncode, out.stdout[-500:], out.stderr[-2000:])
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr
    assert out.stderr.startswith("error: "), out.stderr
    return out.stderr


@pytest.fixture
def lib_path(tmp_path) -> Path:
    from tests.engine.conftest import write_fixture_csv

    path = tmp_path / "lib"
    Library.open(path).import_spotify([write_fixture_csv(tmp_path / "fixture.csv")])
    return path
