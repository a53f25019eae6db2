"""Previewing a track with whichever player is installed (mpv, ffplay or afplay)."""

from __future__ import annotations

import shutil
import subprocess

PLAYERS = ("mpv", "ffplay", "afplay")


class Player:
    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> str | None:
        return next((p for p in PLAYERS if shutil.which(p)), None)

    def play(self, path: str) -> str | None:
        """Start playing `path`; returns the player's name, or None when none is installed."""
        player = self.available()
        if player is None:
            return None
        self.stop()
        if player == "mpv":
            args = [player, "--no-video", path]
        elif player == "ffplay":
            args = [player, "-nodisp", "-autoexit", path]
        else:
            args = [player, path]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return player

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
        self.process = None
