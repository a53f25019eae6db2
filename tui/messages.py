"""Typed messages the engine workers post back to the app's widgets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class ResultsReady(Message):
    query: str
    results: Any  # attune.engine.Results
    seconds: float
    serial: int


@dataclass
class QueryFailed(Message):
    query: str
    error: Exception
    serial: int


@dataclass
class PlaylistsChanged(Message):
    names: list[str]
    opened: str | None = None
    status: str = ""


@dataclass
class DetailReady(Message):
    row: dict
    playlists: list[str]
    why: str


@dataclass
class AskAnswered(Message):
    """Plain words read into a query (attune.engine.ask.Answer), with its results."""

    text: str
    answer: Any
    seconds: float
    serial: int
