"""The Textual app (`attune tui`): widgets, one per module, over a session object that
knows nothing of Textual and owns every engine call."""

from .app import AttuneApp

__all__ = ["AttuneApp"]
