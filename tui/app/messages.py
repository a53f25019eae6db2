"""Typed messages the app's workers post back to the app: what the session returned."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from .session import Detail, Edit, Names, Outcome


@dataclass
class LibraryOpened(Message):
    names: Names


@dataclass
class LibraryFailed(Message):
    error: Exception


@dataclass
class QueryAnswered(Message):
    """A query ran (or failed): `outcome.results`, or `outcome.error`; plain words carry `outcome.answer`."""

    outcome: Outcome


@dataclass
class DetailReady(Message):
    detail: Detail


@dataclass
class PlaylistsChanged(Message):
    names: list[str]
    opened: str | None = None
    status: str = ""


@dataclass
class Edited(Message):
    """A playlist edit was made (or refused): rerun the query when it changed something."""

    edit: Edit


@dataclass
class RecipeReady(Message):
    name: str
    query: str


@dataclass
class ClusterNamed(Message):
    name: str
    cluster: list[str]


@dataclass
class Exported(Message):
    paths: list[str]
    error: str = ""
