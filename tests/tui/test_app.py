"""The terminal app driven with Textual's Pilot, asserting on the library and the app's state."""

import pytest
from attune.engine import Library
from attune.tui.app import AttuneApp
from attune.tui.app.dialogs import Help

from tests.tui.conftest import settle as wait_until_settled

pytestmark = pytest.mark.asyncio


@pytest.fixture
def lib(tmp_path):
    from tests.engine.conftest import write_fixture_csv

    library = Library.open(tmp_path / "lib")
    library.import_spotify([write_fixture_csv(tmp_path / "f.csv")])
    return library


async def type_text(pilot, text):
    from textual.keys import _character_to_key

    await pilot.press(*(_character_to_key(c) for c in text))


async def settle(pilot, app):
    await wait_until_settled(pilot)


async def run_query(pilot, app, text):
    await pilot.press("slash")
    app.query_bar.value = text
    await pilot.press("enter")
    await settle(pilot, app)


async def test_type_and_run(lib):
    app = AttuneApp(lib)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        assert len(app.table.rows_data) == 12
        await pilot.press("slash")
        await type_text(pilot, "artist:green")
        await pilot.press("enter")
        await settle(pilot, app)
        assert [r["track_id"] for r in app.table.rows_data] == ["t01", "t02"]
        assert app.last_status.startswith("2 results in ")
        assert "space attr" in app.last_status and "model imported attributes" in app.last_status


async def test_errors_show_inline_without_running(lib):
    app = AttuneApp(lib)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        serial = app.serial
        await pilot.press("slash")
        await type_text(pilot, "energey<0.4")
        error = str(app.query_one("#error").render())
        assert "did you mean 'energy'" in error and "^" in error
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.serial == serial  # nothing ran
        assert len(app.table.rows_data) == 12


async def test_complete_and_history(lib):
    app = AttuneApp(lib)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("slash", "g", "e", "n", "tab")
        assert app.query_bar.value == "genre:"
        app.query_bar.value = 'like:playlist("Sun'
        app.query_bar.cursor_position = len(app.query_bar.value)
        await pilot.press("tab")
        assert app.query_bar.value == 'like:playlist("Sunday Morning"'
        await run_query(pilot, app, "genre:soul")
        await run_query(pilot, app, "energy<0.3")
        await pilot.press("slash", "up")
        assert app.query_bar.value == "energy<0.3"
        await pilot.press("up")
        assert app.query_bar.value == "genre:soul"
    again = AttuneApp(lib)  # history is kept per library
    async with again.run_test(size=(140, 40)) as pilot:
        await settle(pilot, again)
        assert again.query_bar.history[-2:] == ["genre:soul", "energy<0.3"]


async def test_mark_add_remove_undo(lib):
    lib.playlists.create("Mine", ["t12"])
    app = AttuneApp(lib)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        app.open_playlist("Mine")
        await settle(pilot, app)
        await run_query(pilot, app, "artist:green")
        app.table.focus()
        await pilot.press("space", "space", "a")
        await settle(pilot, app)
        assert lib.playlists.get("Mine").track_ids == ("t12", "t01", "t02")
        await run_query(pilot, app, 'playlist:="Mine"')
        app.table.focus()
        app.table.move_cursor(row=[r["track_id"] for r in app.table.rows_data].index("t12"))
        await pilot.press("d")
        await settle(pilot, app)
        assert lib.playlists.get("Mine").track_ids == ("t01", "t02")
        await pilot.press("u")
        await settle(pilot, app)
        assert lib.playlists.get("Mine").track_ids == ("t12", "t01", "t02")
        assert "undone" in app.last_status
    # saved at once: a fresh library object sees the edit
    assert Library.open(lib.path).playlists.get("Mine").track_ids == ("t12", "t01", "t02")


async def test_sequence_key_orders_the_open_playlist_along_an_arc_and_undoes(lib):
    lib.playlists.create("Arc", ["t10", "t12", "t05", "t01", "t04", "t11"])
    before = lib.playlists.get("Arc").track_ids
    app = AttuneApp(lib)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        app.open_playlist("Arc")
        await settle(pilot, app)
        app.table.focus()
        await pilot.press("A")  # peak
        await settle(pilot, app)
        energies = [lib.track(t)["energy"] for t in lib.playlists.get("Arc").track_ids]
        assert max(energies) in energies[2:4] and "(peak)" in app.last_status and "energy" in app.last_status
        await pilot.press("A")  # rise
        await settle(pilot, app)
        energies = [lib.track(t)["energy"] for t in lib.playlists.get("Arc").track_ids]
        assert energies == sorted(energies) and "(rise)" in app.last_status
        await pilot.press("u", "u")
        await settle(pilot, app)
        assert lib.playlists.get("Arc").track_ids == before


async def test_the_genre_cluster_shows_when_the_playlist_refresh_finishes_after_it(lib, monkeypatch):
    """Under load the playlists refresh that shows the recipe's notice can finish after the
    worker that names the cluster; the cluster was then dropped (seen once in CI)."""
    import time as clock

    app = AttuneApp(lib)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        app.open_playlist("Gym")
        await settle(pilot, app)
        slow = app.session.playlist_names

        def late():
            clock.sleep(1.5)  # the cluster is named first
            return slow()

        monkeypatch.setattr(app.session, "playlist_names", late)
        await pilot.press("e")
        await settle(pilot, app)
        assert "recipe of 'Gym' (genre cluster: " in app.notice


async def test_expand_edit_recipe_and_add(lib):
    app = AttuneApp(lib)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        app.open_playlist("Gym")
        await settle(pilot, app)
        await pilot.press("e")
        await settle(pilot, app)
        assert app.query_bar.value == str(lib.recipe("Gym"))
        assert "recipe of 'Gym' (genre cluster: " in app.notice  # named by a background worker
        # the curator loosens the recipe: keep its year range and the like: term
        edited = " ".join(t for t in app.query_bar.value.split(" ") if t.startswith(("year:", "like:")))
        assert edited.startswith("year:") and edited.endswith("like:playlist(Gym)")
        await run_query(pilot, app, edited)
        candidates = [r["track_id"] for r in app.table.rows_data]
        assert candidates and not set(candidates) & {"t10", "t11", "t05", "t06"}
        app.table.focus()
        await pilot.press("a")
        await settle(pilot, app)
        assert candidates[0] in lib.playlists.get("Gym").track_ids


async def test_space_export_help_quit(lib):
    app = AttuneApp(lib)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        await run_query(pilot, app, "like:track(t01)")
        app.table.focus()
        await pilot.press("s")
        await settle(pilot, app)
        assert app.space == "audio"
        assert "attune index" in app.last_status  # an import-only library has no audio space
        app.open_playlist("Sunday Morning")
        await settle(pilot, app)
        app.table.focus()
        await pilot.press("m")
        await settle(pilot, app)
        assert "exported" in app.last_status
        assert (lib.path / "exports" / "Sunday Morning.m3u").read_text().startswith("#EXTM3U")
        assert (lib.path / "exports" / "Sunday Morning.xspf").exists()
        await pilot.press("question_mark")
        assert isinstance(app.screen, Help)
        await pilot.press("escape")
        assert not isinstance(app.screen, Help)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0  # None: the app never exited


async def test_delete_asks_first_and_create(lib):
    app = AttuneApp(lib)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        app.open_playlist("Gym")
        await settle(pilot, app)
        app.table.focus()
        await pilot.press("x", "n")
        assert "Gym" in lib.playlists.names()
        await pilot.press("x", "y")
        await settle(pilot, app)
        assert "Gym" not in lib.playlists.names()
        await pilot.press("n")
        await pilot.pause()
        await type_text(pilot, "Fresh")
        await pilot.press("enter")
        await settle(pilot, app)
        assert "Fresh" in lib.playlists.names()


async def test_opens_the_library_in_the_background(lib):
    app = AttuneApp(library_path=lib.path)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.query_bar is not None  # interactive before the library is open
        await settle(pilot, app)
        await settle(pilot, app)
        assert app.lib is not None and len(app.table.rows_data) == 12


async def test_narrow_terminal_shows_results_first(lib):
    app = AttuneApp(lib)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        from attune.tui.app.detail_pane import DetailPane
        from attune.tui.app.playlist_sidebar import PlaylistSidebar

        assert not app.query_one(DetailPane).display and not app.query_one(PlaylistSidebar).display
        await pilot.press("i")
        assert app.query_one(DetailPane).display


async def test_plain_words_become_an_editable_query(lib):
    app = AttuneApp(lib)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        await type_text(pilot, "? calm soul from the 70s")
        assert str(app.query_one("#error").render()) == ""  # plain words are never a query error
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.query_bar.value == "genre:soul energy<0.4 year:1970..1979"
        assert {r["track_id"] for r in app.table.rows_data} == {"t01", "t03"}
        assert "read '" in app.last_status and "calm -> energy<0.4" in app.last_status
        assert app.query_bar.history[-1] == "genre:soul energy<0.4 year:1970..1979"


async def test_detail_pane_marks_guesses(lib):
    """Indexed values carry a confidence: a guess is marked "?" with the other tempo octave,
    a sure value shows its confidence, an imported value shows none."""
    from attune.tui.app.detail_pane import DetailPane

    rows = lib.store.read("tracks", None).to_pylist()
    for row in rows:
        if row["track_id"] == "t01":
            row.update(energy_confidence=0.9, valence_confidence=0.2, tempo=180.0, tempo_confidence=0.1, tempo_alternative=90.0)
    lib.rescore(rows)
    app = AttuneApp(lib)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        await type_text(pilot, "artist:green sort:title")
        await pilot.press("enter")
        await settle(pilot, app)
        shown = {r["track_id"] for r in app.table.rows_data}
        assert "t01" in shown
        while app.table.selected()["track_id"] != "t01":
            await pilot.press("down")
            await settle(pilot, app)
        text = str(app.query_one(DetailPane).render())
        lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
        assert lines["energy"].endswith("(0.90)") and "?" not in lines["energy"]
        assert lines["valence"].endswith("? (0.20)")
        assert "180 BPM or 90 ? (0.10)" in lines["tempo"]
        assert "? a guess" in text
