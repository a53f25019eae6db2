"""SVG snapshots of the main screen, an error, the detail pane and the help screen.

Deterministic: a library folder of a fixed name (under pytest's tmp_path), a fixed
clock, no cursor blink, a fixed size.
Update with `pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate change.
"""

import itertools

import pytest
from attune.engine import Library
from attune.tui.app import AttuneApp

from tests.tui.conftest import settle

SIZE = (130, 34)


@pytest.fixture
def app(tmp_path):
    from tests.engine.conftest import write_fixture_csv

    lib = Library.open(tmp_path / "attune-snapshot-library")
    lib.import_spotify([write_fixture_csv(tmp_path / "attune-snapshot.csv")])
    ticks = itertools.count(0, 0.004)
    return AttuneApp(lib, clock=lambda: next(ticks), cursor_blink=False)


async def _settle(pilot):
    """Wait until the results and the detail pane of the selected row are on screen."""
    await settle(pilot, until=lambda: pilot.app.table.selected() is not None)


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
