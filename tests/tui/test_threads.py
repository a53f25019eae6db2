"""The terminal app never calls the engine from its main thread (the screen would freeze
while a large library answers): every call goes through the session, in a worker."""

import threading

import pytest
from attune.engine import Library
from attune.tui.app import AttuneApp

from tests.tui.conftest import settle

pytestmark = pytest.mark.asyncio


class Recording:
    """Stands for an engine object and notes every method called on the main thread."""

    def __init__(self, target, calls: list[str], name: str = "lib") -> None:
        self._target, self._calls, self._name = target, calls, name

    def __getattr__(self, attr):
        value = getattr(self._target, attr)
        if attr == "playlists":
            return Recording(value, self._calls, f"{self._name}.playlists")
        if not callable(value):
            return value

        def call(*args, **kwargs):
            if threading.current_thread() is threading.main_thread():
                self._calls.append(f"{self._name}.{attr}")
            return value(*args, **kwargs)

        return call


@pytest.fixture
def lib(tmp_path):
    from tests.engine.conftest import write_fixture_csv

    library = Library.open(tmp_path / "lib")
    library.import_spotify([write_fixture_csv(tmp_path / "f.csv")])
    library.playlists.create("Mine", ["t12"])
    return library


async def drive(pilot, app):
    """Every kind of engine work the app does: queries, plain words, the detail pane,
    completion, playlist edits and undo, expansion, the space switch, export."""
    await settle(pilot)
    await pilot.press("slash")
    app.query_bar.value = "artist:gre"
    await pilot.press("tab", "enter")
    await settle(pilot)
    app.query_bar.value = "? calm soul"
    await pilot.press("enter")
    await settle(pilot)
    app.table.focus()
    await pilot.press("down", "down")
    await settle(pilot)
    app.open_playlist("Mine")
    await settle(pilot)
    await pilot.press("slash")
    app.query_bar.value = "artist:green"
    await pilot.press("enter")
    await settle(pilot)
    app.table.focus()
    for keys in (("space", "a"), ("d",), ("u",), ("right_square_bracket",), ("e",), ("s",), ("s",), ("m",)):
        await pilot.press(*keys)
        await settle(pilot)
    await pilot.press("r")
    await pilot.pause()
    app.screen.query_one("#answer").value = "Renamed"
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("n")
    await pilot.pause()
    app.screen.query_one("#answer").value = "Fresh"
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("x", "y")
    await settle(pilot)


async def test_no_engine_call_on_the_main_thread(lib):
    calls: list[str] = []
    app = AttuneApp(Recording(lib, calls))
    async with app.run_test(size=(140, 40)) as pilot:
        await drive(pilot, app)
    names = lib.playlists.names()
    assert "Renamed" in names and "Fresh" not in names  # the edits went through (the last one deleted Fresh)
    assert calls == []


async def test_the_recorder_sees_main_thread_calls(lib):
    """Calling the engine from the main thread is caught (the check above can fail)."""
    calls: list[str] = []
    recorded = Recording(lib, calls)
    recorded.playlists.names()
    recorded.search("genre:soul")
    assert calls == ["lib.playlists.names", "lib.search"]
