"""SVG snapshots of the main screen, an error, the detail pane and the help screen.

Deterministic: a fixed library path, a fixed clock, no cursor blink, a fixed size.
Update with `pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate change.
"""

import itertools
import shutil
import tempfile
from pathlib import Path

import pytest

from attune.engine import Library
from attune.tui.app import AttuneApp

SIZE = (130, 34)


@pytest.fixture
def app():
    path = Path(tempfile.gettempdir()) / "attune-snapshot-library"
    shutil.rmtree(path, ignore_errors=True)
    from tests.engine.conftest import write_fixture_csv

    lib = Library.open(path)
    lib.import_spotify([write_fixture_csv(Path(tempfile.gettempdir()) / "attune-snapshot.csv")])
    ticks = itertools.count(0, 0.004)
    return AttuneApp(lib, clock=lambda: next(ticks), cursor_blink=False)


async def _settle(pilot):
    """Wait until the results and the detail pane of the selected row are on screen."""
    app = pilot.app
    for _ in range(500):
        await pilot.pause(0.01)
        await app.workers.wait_for_complete()
        selected = app.table.selected()
        if app.results_serial == app.serial and selected is not None and app.detail_for == selected["track_id"]:
            break
    await pilot.pause()


def test_main_screen(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=_settle)


def test_error(snap_compare, app):
    async def before(pilot):
        await _settle(pilot)
        await pilot.press("slash", "e", "n", "e", "r", "g", "e", "y", "less_than_sign")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_detail_pane(snap_compare, app):
    async def before(pilot):
        await _settle(pilot)
        await pilot.press("down", "down")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_help(snap_compare, app):
    async def before(pilot):
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
