"""`attune tui`: the curator's terminal app.

Widgets never touch the library: engine calls run in Textual workers (threads)
and post typed messages back (`messages.py`). Every playlist edit is one
library commit, made at once, so a crash loses nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, OptionList, Static

from attune.query import AttuneError, QueryError

from .detail_pane import DetailPane
from .dialogs import Confirm, Help, Prompt
from .messages import AskAnswered, DetailReady, PlaylistsChanged, QueryFailed, ResultsReady
from .playlist_sidebar import PlaylistSidebar
from .query_bar import QueryBar
from .results_table import ResultsTable

PLAYERS = ("mpv", "ffplay", "afplay")


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
        self.lib = library
        self.library_path = Path(library.path) if library is not None else library_path
        self.clock = clock
        self.cursor_blink = cursor_blink
        self.space = "attr"
        self.opened: str | None = None
        self.undo_stack: list[tuple[str, tuple[str, ...]]] = []
        self.serial = 0
        self.results = None
        self.explanations: dict[str, str] = {}
        self.player: subprocess.Popen | None = None
        self.last_status = ""
        self.notice = ""  # the last edit's message, kept beside the results summary
        self.results_serial = 0
        self.detail_for: str | None = None  # the track the detail pane shows

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        bar = QueryBar(self._load_history(), self._names, id="query")
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
        if self.lib is None:
            self.status("opening the library ...")
            self._open_library()
        else:
            self.library_ready()

    @work(thread=True, exclusive=True, group="open")
    def _open_library(self) -> None:
        from attune.engine import Library

        try:
            library = Library.open(self.library_path)
            library.snapshot()
        except Exception as exc:  # shown in the status bar; q still quits
            self.call_from_thread(self.status, f"cannot open the library: {str(exc).splitlines()[0]}")
            return
        self.call_from_thread(self._set_library, library)

    def _set_library(self, library) -> None:
        self.lib = library
        self.library_ready()

    def library_ready(self) -> None:
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

    # -- history and names --------------------------------------------------------------

    def _history_file(self) -> Path:
        return Path(self.library_path or ".") / "tui-history.json"

    def _load_history(self) -> list[str]:
        try:
            return list(json.loads(self._history_file().read_text()))[-200:]
        except (OSError, ValueError):
            return []

    def _save_history(self) -> None:
        try:
            self._history_file().write_text(json.dumps(self.query_bar.history[-200:]))
        except OSError:
            pass  # history is a convenience; a read-only library still works

    def _names(self) -> tuple[list[str], list[str]]:
        if self.lib is None:
            return [], []
        snap = self.lib.snapshot()
        return list(snap.playlists), sorted(snap.artists())[:5000]

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
        if self.query_bar.check() is not None or self.lib is None:
            return
        self.notice = ""
        self.query_bar.remember(event.value)
        self._save_history()
        words = self.query_bar.plain_words()
        if words is not None:
            self.run_ask(words)
        else:
            self.run_query(event.value)

    def run_ask(self, text: str) -> None:
        """Plain words: read into a query (shown in the bar, editable), then its results."""
        self._start(text, ask=True)

    def on_ask_answered(self, message: AskAnswered) -> None:
        if message.serial != self.serial:
            return
        answer = message.answer
        self.query_bar.value = answer.query
        self.query_bar.remember(answer.query)
        self._save_history()
        read = "; ".join(f"{t.phrase} -> {t.text() or '(nothing)'}" for t in answer.terms)
        self.notice = f"read '{message.text}' as: {read or 'nothing'}"
        if answer.unmapped:
            self.notice += " · not understood: " + ", ".join(answer.unmapped)
        if answer.dropped:
            self.notice += " · dropped: " + ", ".join(t.phrase for t in answer.dropped)
        self.on_results_ready(ResultsReady(answer.query, answer.results, message.seconds, message.serial))

    def effective_query(self, text: str) -> str:
        if self.space != "attr" and "in:" not in text and "like:" in text:
            return f"{text} in:{self.space}"
        return text

    def run_query(self, text: str) -> None:
        self._start(text, ask=False)

    def _start(self, text: str, *, ask: bool) -> None:
        self.serial += 1
        serial = self.serial
        label = f"reading: {text}" if ask else f"running: {text or '(everything)'}"
        # Say "running" only for a query that takes a while: a repaint costs more than most queries.
        self.set_timer(0.15, lambda: self.serial == serial and self.results_serial != serial and self.status(label))
        self._run(text if ask else self.effective_query(text), ask, serial)

    @work(thread=True, exclusive=True, group="query")
    def _run(self, text: str, ask: bool, serial: int) -> None:
        start = self.clock()
        try:
            out = self.lib.ask(text) if ask else self.lib.search(text)
        except Exception as exc:  # reported in the status bar; the app keeps running
            self.post_message(QueryFailed(text, exc, serial))
            return
        seconds = self.clock() - start
        self.post_message(AskAnswered(text, out, seconds, serial) if ask else ResultsReady(text, out, seconds, serial))

    def on_results_ready(self, message: ResultsReady) -> None:
        if message.serial != self.serial:
            return  # an older query finished after a newer one started
        self.results = message.results
        self.results_serial = message.serial
        self.explanations = {}  # filled on demand by the detail worker
        frame = message.results.frame
        keep = [c for c in frame.columns if not c.startswith("_")]
        with self.batch_update():
            self._show_results(message, frame, keep)

    def _show_results(self, message: ResultsReady, frame, keep) -> None:
        self.table.show(frame.select(keep).to_dicts())
        backbone = "imported attributes"
        if "backbone" in frame.columns and frame["backbone"].drop_nulls().len():
            backbone = frame["backbone"].drop_nulls()[0]
        notes = ("  · " + "; ".join(message.results.notes)) if message.results.notes else ""
        notes += f" · {self.notice}" if self.notice else ""
        self.status(
            f"{len(frame)} results in {message.seconds * 1000:.0f} ms · library {Path(self.lib.path).name} · "
            f"space {self.space} · model {backbone}" + (f" · playlist {self.opened}" if self.opened else "") + notes
        )
        self.show_detail()

    def on_query_failed(self, message: QueryFailed) -> None:
        if message.serial != self.serial:
            return
        self.results_serial = message.serial  # answered, if with an error
        error = message.error
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
        pane = self.query_one(DetailPane)
        if row is None:
            pane.show(None, [])
            return
        self._detail(row, self.serial)

    @work(thread=True, exclusive=True, group="detail")
    def _detail(self, row: dict, serial: int) -> None:
        results = self.results
        if results is not None and not self.explanations:
            self.explanations = {e["track_id"]: _why(e) for e in results.explanations()}
        snap = self.lib.snapshot()
        member = [name for name, p in snap.playlists.items() if row["track_id"] in p.track_ids]
        tiles = self.lib.energy_tiles(row["track_id"]) if row.get("path") else None
        self.post_message(DetailReady(dict(row, energy_tiles=tiles), member, self.explanations.get(row["track_id"], "")))

    def on_detail_ready(self, message: DetailReady) -> None:
        selected = self.table.selected()
        if selected is None or selected["track_id"] != message.row["track_id"]:
            return  # a worker for a row the cursor has already left finished late
        self.query_one(DetailPane).show(message.row, message.playlists, message.why)
        self.detail_for = message.row["track_id"]

    # -- playlists ----------------------------------------------------------------------------

    def refresh_playlists(self, status: str = "") -> None:
        if self.lib is None:
            return
        names = self.lib.playlists.names()
        if self.opened not in names:
            self.opened = None
        self.post_message(PlaylistsChanged(names, self.opened, status))

    def on_playlists_changed(self, message: PlaylistsChanged) -> None:
        self.query_one(PlaylistSidebar).show(message.names, message.opened)
        if message.status:
            self.notice = message.status
            self.status(message.status)

    @on(OptionList.OptionSelected, "#playlists")
    def playlist_selected(self, event: OptionList.OptionSelected) -> None:
        self.open_playlist(event.option.id)

    def action_open_playlist(self) -> None:
        name = self.query_one(PlaylistSidebar).highlighted_name()
        if name:
            self.open_playlist(name)

    def open_playlist(self, name: str) -> None:
        self.opened = name
        self.refresh_playlists()
        text = f'playlist:="{name}"'
        self.query_bar.value = text
        self.run_query(text)

    def _edit(self, verb: str, change) -> None:
        if self.opened is None:
            self.status("open a playlist first (select it in the sidebar and press Enter)")
            return
        before = self.lib.playlists.get(self.opened).track_ids
        try:
            after = change(self.opened)
        except AttuneError as exc:
            self.status(str(exc).splitlines()[0])
            return
        self.undo_stack.append((self.opened, before))
        self.refresh_playlists(f"{verb}; '{after.name}' has {len(after.track_ids)} tracks (u undoes)")
        self.table.marked.clear()
        self.run_query(self.query_bar.value)

    def action_add(self) -> None:
        if self.lib is None:
            return
        ids = self.table.chosen_ids()
        self._edit(f"added {len(ids)}", lambda name: self.lib.playlists.add(name, ids))

    def action_remove(self) -> None:
        if self.lib is None:
            return
        ids = self.table.chosen_ids()
        self._edit(f"removed {len(ids)}", lambda name: self.lib.playlists.remove(name, ids))

    def action_move(self, step: int) -> None:
        row = self.table.selected()
        if row is None or self.opened is None:
            return
        ids = list(self.lib.playlists.get(self.opened).track_ids)
        if row["track_id"] not in ids:
            return
        index = ids.index(row["track_id"]) + step
        self._edit("moved", lambda name: self.lib.playlists.move(name, row["track_id"], index))

    def action_undo(self) -> None:
        if self.lib is None:
            return
        if not self.undo_stack:
            self.status("nothing to undo")
            return
        name, before = self.undo_stack.pop()
        self.lib.playlists.set_tracks(name, before)
        self.refresh_playlists(f"undone: '{name}' has {len(before)} tracks again")
        self.run_query(self.query_bar.value)

    def action_new_playlist(self) -> None:
        if self.lib is None:
            return
        def create(name: str | None) -> None:
            if name:
                try:
                    self.lib.playlists.create(name, self.table.chosen_ids() if self.table.marked else [])
                except AttuneError as exc:
                    self.status(str(exc).splitlines()[0])
                    return
                self.opened = name
                self.refresh_playlists(f"created '{name}'")

        self.push_screen(Prompt("name of the new playlist"), create)

    def action_rename_playlist(self) -> None:
        old = self.opened or self.query_one(PlaylistSidebar).highlighted_name()
        if not old:
            return

        def rename(name: str | None) -> None:
            if name:
                try:
                    self.lib.playlists.rename(old, name)
                except AttuneError as exc:
                    self.status(str(exc).splitlines()[0])
                    return
                self.opened = name if self.opened == old else self.opened
                self.refresh_playlists(f"renamed '{old}' to '{name}'")

        self.push_screen(Prompt(f"rename '{old}' to", old), rename)

    def action_delete_playlist(self) -> None:
        name = self.opened or self.query_one(PlaylistSidebar).highlighted_name()
        if not name:
            return

        def delete(yes: bool | None) -> None:
            if yes:
                self.lib.playlists.delete(name)
                self.opened = None if self.opened == name else self.opened
                self.refresh_playlists(f"deleted '{name}'")

        self.push_screen(Confirm(f"delete playlist '{name}'?"), delete)

    # -- expansion, space, export, preview ---------------------------------------------------

    def action_expand(self) -> None:
        if self.lib is None:
            return
        name = self.opened or self.query_one(PlaylistSidebar).highlighted_name()
        if not name:
            self.status("open a playlist to expand it")
            return
        self.opened = name
        recipe = str(self.lib.recipe(name))
        self.query_bar.value = recipe
        self.query_bar.remember(recipe)
        self.run_query(recipe)
        self.refresh_playlists(_recipe_notice(name))
        self._name_cluster(name)

    @work(thread=True, exclusive=True, group="cluster")
    def _name_cluster(self, name: str) -> None:
        """The playlist's genre cluster, added to the notice when known (the tag model may take seconds)."""
        cluster = self.lib.recipe(name, cluster=True).cluster
        if cluster:
            self.call_from_thread(self._show_cluster, name, cluster)

    def _show_cluster(self, name: str, cluster: list[str]) -> None:
        if self.opened == name and self.notice == _recipe_notice(name):
            self.notice = _recipe_notice(name, cluster)
            self.status(self.notice)

    def action_switch_space(self) -> None:
        if self.lib is None:
            return
        self.space = "audio" if self.space == "attr" else "attr"
        self.run_query(self.query_bar.value)

    def action_export(self) -> None:
        if self.lib is None:
            return
        if self.opened is None:
            self.status("open a playlist to export it")
            return
        folder = Path(self.lib.path) / "exports"
        folder.mkdir(exist_ok=True)
        written = []
        for fmt in ("m3u", "xspf"):
            path = folder / f"{self.opened}.{fmt}"
            path.write_text(self.lib.playlists.export(self.opened, fmt), encoding="utf-8")
            written.append(str(path))
        self.status("exported " + " and ".join(written))

    def action_play(self) -> None:
        row = self.table.selected()
        if row is None or not row.get("path"):
            self.status("nothing to play: the selected track has no file")
            return
        player = next((p for p in PLAYERS if shutil.which(p)), None)
        if player is None:
            self.status("to preview tracks install mpv (or ffmpeg for ffplay)")
            return
        self.action_stop()
        args = [player, "--no-video", row["path"]] if player == "mpv" else [player, "-nodisp", "-autoexit", row["path"]] if player == "ffplay" else [player, row["path"]]
        self.player = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.status(f"playing {row.get('title')} with {player} (P stops)")

    def action_stop(self) -> None:
        if self.player and self.player.poll() is None:
            self.player.terminate()
        self.player = None

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


def _why(explanation: dict) -> str:
    parts = []
    if explanation.get("matched"):
        parts.append("  ".join(("+ " if ok else "- ") + p for p, ok in explanation["matched"].items()))
    if explanation.get("contributions"):
        parts.append("distance: " + ", ".join(f"{d} {v:+.2f}" for d, v in explanation["contributions"].items()))
    if explanation.get("why"):
        parts.append(explanation["why"])
    return "\n".join(parts)


def _recipe_notice(name: str, cluster: list[str] | None = None) -> str:
    named = f" (genre cluster: {' / '.join(cluster)})" if cluster else ""
    return f"recipe of '{name}'{named} in the query bar: edit it and press Enter; a adds candidates"
