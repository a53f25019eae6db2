"""Small modal screens: confirm a deletion, ask for a name, show the key map."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class Confirm(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "yes"), Binding("n,escape", "answer(False)", "no")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield Vertical(Label(self.question), Label("y: yes   n: no"), id="dialog")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class Prompt(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question, self.value = question, value

    def compose(self) -> ComposeResult:
        yield Vertical(Label(self.question), Input(value=self.value, id="answer"), id="dialog")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


KEYS = """\
/            focus the query bar (Escape leaves it)
Enter        run the query (in the query bar) / open the playlist (in the sidebar)
?words       plain words ("? mellow jazz for a late night"): read into a query you can edit
Up / Down    previous / next query (in the query bar)
Tab          complete a field, option, playlist or artist name
space        mark the selected track (several can be marked)
a            add the marked (or selected) tracks to the open playlist
d            remove the marked (or selected) tracks from the open playlist
[ / ]        move the selected track up / down in the open playlist
u            undo the last playlist edit
n            new playlist       r  rename it      x  delete it (asks first)
o            open the playlist highlighted in the sidebar
e            expand the open playlist: its recipe goes to the query bar and runs
A            sequence the open playlist along an arc of energy (peak, rise, fall, valley,
             flat: press again for the next); saved, u undoes
s            switch the space (attribute / audio)
i            show / hide the detail pane (hidden below 120 columns)
t            light / dark theme
m            export the open playlist (M3U and XSPF, beside the library)
p / P        play the selected track / stop (mpv, ffplay or afplay)
?            this help          q  quit"""


class Help(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "close")]

    def compose(self) -> ComposeResult:
        yield Vertical(Label("[b]attune - keys[/b]"), Static(KEYS), id="help")

    def action_close(self) -> None:
        self.dismiss(None)
