"""The playlist sidebar: the library's playlists; Enter opens one."""

from __future__ import annotations

from textual.widgets import OptionList
from textual.widgets.option_list import Option


class PlaylistSidebar(OptionList):
    def show(self, names: list[str], opened: str | None) -> None:
        self.clear_options()
        self.add_options([Option(("▸ " if n == opened else "  ") + n, id=n) for n in names])

    def highlighted_name(self) -> str | None:
        if self.highlighted is None:
            return None
        return self.get_option_at_index(self.highlighted).id
