"""`attune tui`: the curator's terminal app.

The app lays out the widgets and maps keys to actions; every engine call goes through the
session (`session.py`, which knows nothing of Textual) inside a Textual worker thread, and
comes back as a typed message (`messages.py`). So the screen never waits on the library,
and a query typed while another runs replaces it. Every playlist edit is one library
commit, made at once, so a crash loses nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from attune.query import AttuneError, QueryError
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, OptionList, Static

from . import history
from .detail_pane import DetailPane
from .dialogs import Confirm, Help, Prompt
from .messages import (
    ClusterNamed,
    DetailReady,
    Edited,
    Exported,
    LibraryFailed,
    LibraryOpened,
    PlaylistsChanged,
    QueryAnswered,
    RecipeReady,
)
from .player import Player
from .playlist_sidebar import PlaylistSidebar
from .query_bar import QueryBar
from .results_table import ResultsTable
from .session import Outcome, Session


class AttuneApp(App):
    TITLE = "attune"
    CSS = """
    QueryBar { height: 3; }
    #error { height: auto; color: $error; padding: 0 1; }
    #main { height: 1fr; }
    PlaylistSidebar { width: 22; border-right: solid $panel; }
    ResultsTable { width: 1fr; }
    DetailPane { width: 40; padding: 0 1; border-left: solid $panel; }
    #status { height: 1; background: $panel; padding: 0 1; }
    #dialog, #help { width: 80; height: auto; padding: 1 2; border: thick $accent; background: $surface; }
    Confirm, Prompt, Help { align: center middle; }
    """
    BINDINGS = [
        Binding("slash", "focus_query", "query"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
        Binding("a", "add", "add"),
        Binding("d", "remove", "remove"),
        Binding("left_square_bracket", "move(-1)", "up", show=False),
        Binding("right_square_bracket", "move(1)", "down", show=False),
        Binding("u", "undo", "undo"),
        Binding("n", "new_playlist", "new", show=False),
        Binding("r", "rename_playlist", "rename", show=False),
        Binding("x", "delete_playlist", "delete", show=False),
        Binding("o", "open_playlist", "open", show=False),
        Binding("e", "expand", "expand"),
        Binding("A", "sequence", "arc", show=False),
        Binding("s", "switch_space", "space"),
        Binding("m", "export", "export", show=False),
        Binding("p", "play", "play", show=False),
        Binding("P", "stop", "stop", show=False),
        Binding("t", "toggle_theme", "theme", show=False),
        Binding("i", "toggle_detail", "detail", show=False),
    ]

    def __init__(self, library=None, *, library_path: Path | None = None, clock=time.perf_counter, cursor_blink: bool = True) -> None:
        """`library`: an open Library; or `library_path`, opened in the background so the
        screen is interactive before the (slow to import) storage layer is ready."""
        super().__init__()
        self.session = Session(library, library_path=library_path, clock=clock)
        self.ready = False
        self.cursor_blink = cursor_blink
        self.space = "attr"
        self.results = None
        self.player = Player()
        self.last_status = ""
        self.notice = ""  # the last edit's message, kept beside the results summary
        self._named_cluster: tuple[str, list[str]] | None = None  # the last recipe's genre cluster
        self._arc = "flat"  # the arc the A key applied last (the next press takes the one after it)
        self.results_serial = 0
        self.detail_for: str | None = None  # the track the detail pane shows

    # -- what tests and the session share ------------------------------------------------

    @property
    def lib(self):
        """The library, once open (None before)."""
        return self.session.lib if self.ready else None

    @property
    def serial(self) -> int:
        return self.session.serial

    @property
    def opened(self) -> str | None:
        return self.session.opened

    @property
    def library_path(self) -> Path | None:
        return self.session.library_path

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        bar = QueryBar(history.load(self.library_path), lambda: (self.session.names.playlists, self.session.names.artists), id="query")
        bar.cursor_blink = self.cursor_blink
        yield bar
        yield Static("", id="error")
        with Horizontal(id="main"):
            yield PlaylistSidebar(id="playlists")
            yield ResultsTable(id="results")
            yield DetailPane("no track selected", id="detail")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()  # "/" then goes to the query bar; inside it "/" is just a character
        self.status("opening the library ...")
        self._open_library()

    @work(thread=True, exclusive=True, group="open")
    def _open_library(self) -> None:
        try:
            self.session.open()
        except Exception as exc:  # shown in the status bar; q still quits
            self.post_message(LibraryFailed(exc))
            return
        self.post_message(LibraryOpened(self.session.names))

    def on_library_failed(self, message: LibraryFailed) -> None:
        self.status(f"cannot open the library: {str(message.error).splitlines()[0]}")

    def on_library_opened(self, message: LibraryOpened) -> None:
        self.ready = True
        self.refresh_playlists()
        self.run_query(self.query_bar.value if self.query_bar.value and self.query_bar.check() is None else "")

    @property
    def query_bar(self) -> QueryBar:
        return self.query_one(QueryBar)

    @property
    def table(self) -> ResultsTable:
        return self.query_one(ResultsTable)

    def status(self, text: str) -> None:
        self.last_status = text
        self.query_one("#status", Static).update(text)

    def _remember(self, query: str) -> None:
        self.query_bar.remember(query)
        history.save(self.library_path, self.query_bar.history)

    # -- queries ---------------------------------------------------------------------------

    @on(Input.Changed, "#query")
    def check_query(self, event: Input.Changed) -> None:
        error = self.query_bar.check()
        box = self.query_one("#error", Static)
        box.update("" if error is None else str(error).replace("[", "\\["))

    def on_query_bar_left(self, message: QueryBar.Left) -> None:
        self.table.focus()

    @on(Input.Submitted, "#query")
    def submit_query(self, event: Input.Submitted) -> None:
        if self.query_bar.check() is not None or not self.ready:
            return
        self.notice = ""
        self._remember(event.value)
        words = self.query_bar.plain_words()
        if words is not None:
            self._start(words, ask=True)
        else:
            self.run_query(event.value)

    def effective_query(self, text: str) -> str:
        if self.space != "attr" and "in:" not in text and "like:" in text:
            return f"{text} in:{self.space}"
        return text

    def run_query(self, text: str) -> None:
        self._start(text, ask=False)

    def _start(self, text: str, *, ask: bool) -> None:
        serial = self.session.next_serial()
        label = f"reading: {text}" if ask else f"running: {text or '(everything)'}"
        # Say "running" only for a query that takes a while: a repaint costs more than most queries.
        self.set_timer(0.15, lambda: self.session.is_current(serial) and self.results_serial != serial and self.status(label))
        self._run(text if ask else self.effective_query(text), ask, serial)

    @work(thread=True, exclusive=True, group="query")
    def _run(self, text: str, ask: bool, serial: int) -> None:
        self.post_message(QueryAnswered(self.session.run(text, serial, ask=ask)))

    def on_query_answered(self, message: QueryAnswered) -> None:
        outcome = message.outcome
        if not self.session.is_current(outcome.serial):
            return  # an older query finished after a newer one started
        self.results_serial = outcome.serial
        if outcome.error is not None:
            self._show_error(outcome.error)
            return
        if outcome.answer is not None:
            self._show_reading(outcome)
        self.results = outcome.results
        frame = outcome.results.frame
        keep = [c for c in frame.columns if not c.startswith("_")]
        with self.batch_update():
            self._show_results(outcome, frame, keep)

    def _show_reading(self, outcome: Outcome) -> None:
        """Plain words: the query they became replaces them in the bar, ready to edit."""
        answer = outcome.answer
        self.query_bar.value = answer.query
        self._remember(answer.query)
        read = "; ".join(f"{t.phrase} -> {t.text() or '(nothing)'}" for t in answer.terms)
        self.notice = f"read '{outcome.text}' as: {read or 'nothing'}"
        if answer.unmapped:
            self.notice += " · not understood: " + ", ".join(answer.unmapped)
        if answer.dropped:
            self.notice += " · dropped: " + ", ".join(t.phrase for t in answer.dropped)

    def _show_results(self, outcome: Outcome, frame, keep) -> None:
        self.table.show(frame.select(keep).to_dicts())
        backbone = "imported attributes"
        if "backbone" in frame.columns and frame["backbone"].drop_nulls().len():
            backbone = frame["backbone"].drop_nulls()[0]
        results = outcome.results
        notes = ("  · " + "; ".join(results.notes)) if results.notes else ""
        notes += f" · {self.notice}" if self.notice else ""
        self.status(
            f"{len(frame)} results in {outcome.seconds * 1000:.0f} ms · library {Path(self.library_path or '.').name} · "
            f"space {self.space} · model {backbone}" + (f" · playlist {self.opened}" if self.opened else "") + notes
        )
        self.show_detail()

    def _show_error(self, error: Exception) -> None:
        text = str(error).splitlines()[0] if isinstance(error, AttuneError) else f"internal error: {error!r}"
        if isinstance(error, QueryError):
            self.query_one("#error", Static).update(str(error).replace("[", "\\["))
        self.status(text)

    # -- detail ------------------------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        row = self.table.selected()
        if row is None:
            self.query_one(DetailPane).show(None, [])
            return
        self._detail(self.results, row)

    @work(thread=True, exclusive=True, group="detail")
    def _detail(self, results, row: dict) -> None:
        self.post_message(DetailReady(self.session.detail(results, row)))

    def on_detail_ready(self, message: DetailReady) -> None:
        detail = message.detail
        selected = self.table.selected()
        if selected is None or selected["track_id"] != detail.row["track_id"]:
            return  # a worker for a row the cursor has already left finished late
        self.query_one(DetailPane).show(detail.row, detail.playlists, detail.why)
        self.detail_for = detail.row["track_id"]

    # -- playlists ----------------------------------------------------------------------------

    def refresh_playlists(self, status: str = "") -> None:
        if self.ready:
            self._playlists(status)

    @work(thread=True, group="playlists")
    def _playlists(self, status: str) -> None:
        names = self.session.playlist_names()
        self.session.refresh_names()
        self.post_message(PlaylistsChanged(names, self.session.opened, status))

    def on_playlists_changed(self, message: PlaylistsChanged) -> None:
        self.query_one(PlaylistSidebar).show(message.names, message.opened)
        status = message.status
        if status:
            named = self._named_cluster
            if named is not None and status == _recipe_notice(named[0]):  # the cluster came first
                status = _recipe_notice(*named)
            self.notice = status
            self.status(status)

    @on(OptionList.OptionSelected, "#playlists")
    def playlist_selected(self, event: OptionList.OptionSelected) -> None:
        self.open_playlist(event.option.id)

    def action_open_playlist(self) -> None:
        name = self.query_one(PlaylistSidebar).highlighted_name()
        if name:
            self.open_playlist(name)

    def open_playlist(self, name: str) -> None:
        self.session.opened = name
        self.refresh_playlists()
        text = f'playlist:="{name}"'
        self.query_bar.value = text
        self.run_query(text)

    @work(thread=True, group="edit")
    def _edit(self, kind: str, *args) -> None:
        """One playlist edit through the session (edits run one at a time, in order)."""
        edit = getattr(self.session, kind)(*args)
        self.post_message(Edited(edit))

    def on_edited(self, message: Edited) -> None:
        edit = message.edit
        if not edit.changed:
            if edit.message:
                self.status(edit.message)
            return
        self.refresh_playlists(edit.message)
        self.table.marked.clear()
        if edit.rerun:
            self.run_query(self.query_bar.value)

    def action_add(self) -> None:
        if self.ready:
            self._edit("add", self.table.chosen_ids())

    def action_remove(self) -> None:
        if self.ready:
            self._edit("remove", self.table.chosen_ids())

    def action_move(self, step: int) -> None:
        row = self.table.selected()
        if row is not None and self.ready:
            self._edit("move", row["track_id"], step)

    def action_undo(self) -> None:
        if self.ready:
            self._edit("undo")

    def action_new_playlist(self) -> None:
        if not self.ready:
            return
        chosen = self.table.chosen_ids() if self.table.marked else []

        def create(name: str | None) -> None:
            if name:
                self._edit("create", name, chosen)

        self.push_screen(Prompt("name of the new playlist"), create)

    def action_rename_playlist(self) -> None:
        old = self.opened or self.query_one(PlaylistSidebar).highlighted_name()
        if not old or not self.ready:
            return

        def rename(name: str | None) -> None:
            if name:
                self._edit("rename", old, name)

        self.push_screen(Prompt(f"rename '{old}' to", old), rename)

    def action_delete_playlist(self) -> None:
        name = self.opened or self.query_one(PlaylistSidebar).highlighted_name()
        if not name or not self.ready:
            return

        def delete(yes: bool | None) -> None:
            if yes:
                self._edit("delete", name)

        self.push_screen(Confirm(f"delete playlist '{name}'?"), delete)

    # -- expansion, space, export, preview ---------------------------------------------------

    def action_expand(self) -> None:
        if not self.ready:
            return
        name = self.opened or self.query_one(PlaylistSidebar).highlighted_name()
        if not name:
            self.status("open a playlist to expand it")
            return
        self._recipe(name)

    @work(thread=True, exclusive=True, group="recipe")
    def _recipe(self, name: str) -> None:
        try:
            query = self.session.recipe(name)
        except AttuneError as exc:
            self.post_message(Edited(_refused(exc)))
            return
        self.post_message(RecipeReady(name, query))
        cluster = self.session.cluster(name)  # the tag model may take seconds: after the recipe is shown
        if cluster:
            self.post_message(ClusterNamed(name, cluster))

    def on_recipe_ready(self, message: RecipeReady) -> None:
        self.query_bar.value = message.query
        self.query_bar.remember(message.query)
        self.run_query(message.query)
        self.refresh_playlists(_recipe_notice(message.name))

    def on_cluster_named(self, message: ClusterNamed) -> None:
        # The recipe's notice may not be shown yet (the playlists refresh that shows it can
        # finish after this worker): keep the cluster for it.
        self._named_cluster = (message.name, message.cluster)
        if self.opened == message.name and self.notice == _recipe_notice(message.name):
            self.notice = _recipe_notice(message.name, message.cluster)
            self.status(self.notice)

    def action_sequence(self) -> None:
        """Sequence the open playlist along the next arc (peak, rise, fall, valley, flat), saved."""
        if not self.ready:
            return
        if not self.opened:
            self.status("open a playlist to sequence it")
            return
        arcs = ("peak", "rise", "fall", "valley", "flat")
        self._arc = arcs[(arcs.index(self._arc) + 1) % len(arcs)]
        self._edit("sequence", self._arc)

    def action_switch_space(self) -> None:
        if self.ready:
            self.space = "audio" if self.space == "attr" else "attr"
            self.run_query(self.query_bar.value)

    def action_export(self) -> None:
        if not self.ready:
            return
        if self.opened is None:
            self.status("open a playlist to export it")
            return
        self._export(self.opened)

    @work(thread=True, group="export")
    def _export(self, name: str) -> None:
        try:
            paths = self.session.export(name)
        except (AttuneError, OSError) as exc:
            self.post_message(Exported([], str(exc).splitlines()[0]))
            return
        self.post_message(Exported([str(p) for p in paths]))

    def on_exported(self, message: Exported) -> None:
        self.status(f"cannot export: {message.error}" if message.error else "exported " + " and ".join(message.paths))

    def action_play(self) -> None:
        row = self.table.selected()
        if row is None or not row.get("path"):
            self.status("nothing to play: the selected track has no file")
            return
        player = self.player.play(row["path"])
        if player is None:
            self.status("to preview tracks install mpv (or ffmpeg for ffplay)")
            return
        self.status(f"playing {row.get('title')} with {player} (P stops)")

    def action_stop(self) -> None:
        self.player.stop()

    def on_resize(self, event) -> None:
        """Narrow terminals (80x24) show the results first: the side panes make room."""
        width = event.size.width
        self.query_one(DetailPane).display = width >= 120 or self._detail_forced
        self.query_one(PlaylistSidebar).display = width >= 90

    _detail_forced = False

    def action_toggle_detail(self) -> None:
        pane = self.query_one(DetailPane)
        pane.display = not pane.display
        self._detail_forced = pane.display

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme != "textual-light" else "textual-dark"

    # -- focus, help, quit --------------------------------------------------------------------

    def action_focus_query(self) -> None:
        self.query_bar.focus()
        self.query_bar.cursor_position = len(self.query_bar.value)

    def action_help(self) -> None:
        self.push_screen(Help())

    def action_quit(self) -> None:
        self.action_stop()
        self.exit()


def _refused(exc: AttuneError):
    from .session import Edit

    return Edit(str(exc).splitlines()[0], changed=False)


def _recipe_notice(name: str, cluster: list[str] | None = None) -> str:
    named = f" (genre cluster: {' / '.join(cluster)})" if cluster else ""
    return f"recipe of '{name}'{named} in the query bar: edit it and press Enter; a adds candidates"
