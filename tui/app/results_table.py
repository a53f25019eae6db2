"""The results table: one row per track, marks with space, sortable by column."""

from __future__ import annotations

from functools import partial

from attune.query.fields import TABLE_COLUMNS, frame_column
from textual.binding import Binding
from textual.widgets import DataTable

from ..output import cell as _cell

COLUMNS = tuple(frame_column(name) for name in TABLE_COLUMNS)
# Fixed widths: the columns do not jump as results arrive, and every frame lays out the same.
WIDTHS = {"title": 24, "artist": 16, "year": 4, "energy": 6, "valence": 7, "vocalness": 9, "tempo": 5, "genres": 18, "score": 7}
cell = partial(_cell, digits=2, genres=2)


class ResultsTable(DataTable):
    BINDINGS = [Binding("space", "mark", "mark", show=True)]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.rows_data: list[dict] = []
        self.marked: set[str] = set()
        self._sort: tuple[str, bool] | None = None

    def on_mount(self) -> None:
        self.add_column(" ", key="mark", width=1)
        for column in COLUMNS:
            self.add_column(column, key=column, width=WIDTHS[column])

    def show(self, rows: list[dict]) -> None:
        self.rows_data = rows
        self.marked &= {r["track_id"] for r in rows}
        self._render_rows()

    def _render_rows(self) -> None:
        self.clear()
        for row in self.rows_data:  # add_row one by one: keys must be set per row
            mark = "*" if row["track_id"] in self.marked else " "
            self.add_row(mark, *(cell(row.get(c), c) for c in COLUMNS), key=row["track_id"])

    def selected(self) -> dict | None:
        if not self.rows_data or self.cursor_row is None or self.cursor_row >= len(self.rows_data):
            return None
        return self.rows_data[self.cursor_row]

    def chosen_ids(self) -> list[str]:
        """The marked tracks, or the selected one when none is marked."""
        if self.marked:
            return [r["track_id"] for r in self.rows_data if r["track_id"] in self.marked]
        row = self.selected()
        return [row["track_id"]] if row else []

    def action_mark(self) -> None:
        row = self.selected()
        if row is None:
            return
        self.marked ^= {row["track_id"]}
        self.update_cell(row["track_id"], "mark", "*" if row["track_id"] in self.marked else " ")
        if self.cursor_row < len(self.rows_data) - 1:
            self.move_cursor(row=self.cursor_row + 1)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column == "mark":
            return
        descending = self._sort == (column, False)
        self._sort = (column, descending)
        self.rows_data.sort(key=lambda r: (r.get(column) is None, r.get(column) if not isinstance(r.get(column), list) else ", ".join(r.get(column))), reverse=descending)
        self._render_rows()
