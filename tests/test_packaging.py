"""`pip install .` ships the four packages under attune.* and the grammar, nothing bare."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_wheel_contents(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("attune-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"attune"}
    for package in ("query", "engine", "indexer", "tui"):
        assert f"attune/{package}/__init__.py" in names
    assert "attune/query/grammar.lark" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "attune = attune.tui.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    # Test fixtures (a non-commercial clip among them) and demo data never ship in the wheel.
    assert not [n for n in names if n.endswith((".mp3", ".ogg", ".gz", ".json")) and "dist-info" not in n]
