"""QuitScreen: asks before abandoning a running training."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from aecli.tui.widgets.keys_bar import KeysBar


class QuitScreen(ModalScreen[bool]):
    """Asks ``question``; the answer is True to stop, save and quit."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Stop, save and quit"),
        Binding("n,escape", "answer(False)", "Keep training"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-dialog"):
            yield Label(self.question, id="quit-question")
            with Horizontal(id="quit-buttons"):
                yield Button("Stop, save & quit (y)", variant="error", id="quit-yes")
                yield Button("Keep training (n)", variant="primary", id="quit-no")
            yield KeysBar(id="quit-keys")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit-yes")

    def action_answer(self, answer: bool) -> None:
        """Close the question with ``answer``."""
        self.dismiss(answer)
