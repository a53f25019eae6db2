"""Search results: a polars frame, best first, and the explanation of each row."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from attune.query import AttuneError, render, timestamp
from attune.query.fields import BY_NAME, CONFIDENCE_OF, LOW_CONFIDENCE, RESULT_COLUMNS
from attune.query.walk import leaves

from .kernel import Centre, per_dimension

if TYPE_CHECKING:
    from ..execution import PolarsBackend
    from ..spaces import SpaceData
    from .plan import Plan

#: Result columns, in order (from the field registry): the frame's column names.
COLUMNS = tuple(BY_NAME[name].column or name for name in RESULT_COLUMNS)


def shown_attribute(name: str, row: dict) -> str | None:
    """An attribute as people read it: "energy 0.62", "tempo 180 (or 90)?", with "?" when
    its confidence is below LOW_CONFIDENCE (a guess, not a fact); None when the row lacks it."""
    value = row.get(name)
    if value is None or value != value:
        return None
    text = f"{name} {value:.0f}" if name == "tempo" else f"{name} {value:.2f}"
    alternative = row.get("tempo_alternative") if name == "tempo" else None
    confidence = row.get(CONFIDENCE_OF.get(name, ""))
    unsure = confidence is not None and confidence == confidence and confidence < LOW_CONFIDENCE
    if alternative and unsure:
        text += f" (or {alternative:.0f})"
    return text + ("?" if unsure else "")


#: The attributes an explanation shows, each with its confidence.
EXPLAINED_ATTRIBUTES = ("energy", "valence", "vocalness", "tempo")


class Results:
    def __init__(self, frame: pl.DataFrame, plan: Plan, backend: PolarsBackend) -> None:
        if "length" in frame.columns and "duration" not in frame.columns:
            frame = frame.with_columns(pl.col("length").alias("duration"))  # seconds, for audio front ends
        if "backbone" in frame.columns and (frame["backbone"] == "dsp").any():
            note = "tracks indexed with the dsp fallback backbone (no learned model) are among the results"
            if note not in plan.notes:
                plan.notes.append(note)
        self.frame = frame
        self.plan = plan
        self.backend = backend
        self.centres: list[Centre] = []
        self.weights: np.ndarray | None = None
        self.space: SpaceData | None = None
        self.extra_explanations: list[dict[str, Any]] | None = None
        #: The recipe an expansion was derived from (`lib.expand`), else None.
        self.recipe: Any = None

    def __len__(self) -> int:
        return self.frame.height

    def __iter__(self):
        return iter(self.to_polars().iter_rows(named=True))

    @property
    def track_ids(self) -> list[str]:
        return self.frame["track_id"].to_list()

    @property
    def notes(self) -> list[str]:
        return self.plan.notes

    def to_polars(self) -> pl.DataFrame:
        return self.frame.select([c for c in COLUMNS if c in self.frame.columns])

    def table(self, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """The result columns asked for, in that order (all of them when None); an unknown
        column is an error naming the columns there are."""
        frame = self.to_polars()
        if not columns:
            return frame
        unknown = [c for c in columns if c not in frame.columns]
        if unknown:
            raise AttuneError(f"unknown column '{unknown[0]}'; columns are {', '.join(COLUMNS)}")
        return frame.select(list(columns))

    def rows(self, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The results as plain rows (NaN as None): what the json formats write."""
        return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                for row in self.table(columns).iter_rows(named=True)]

    def to_csv(self, columns: Sequence[str] | None = None) -> str:
        """The results as CSV, list columns (genres, tags) joined with ";"."""
        frame = self.table(columns)
        lists = [c for c in frame.columns if frame[c].dtype == pl.List(pl.String)]
        return frame.with_columns(pl.col(c).list.join(";") for c in lists).write_csv().rstrip("\n")

    # -- explanations ----------------------------------------------------------------

    def explanations(self) -> list[dict[str, Any]]:
        """Per result: the filter predicates it meets and each dimension's share of its distance."""
        preds = leaves(self.plan.query.where)
        matched = {}
        if preds and self.frame.height:
            checks = self.frame.select(
                [self.backend.expr(p).fill_null(False).alias(str(i)) for i, p in enumerate(preds)]
            )
            matched = {render(p): checks[str(i)].to_list() for i, p in enumerate(preds)}
        contributions = self._contributions()
        versions = getattr(self.plan, "versions", {}) or {}
        rows = self.frame["_row"].to_list() if "_row" in self.frame.columns else [None] * self.frame.height
        wanted = [c for c in (*EXPLAINED_ATTRIBUTES, *(CONFIDENCE_OF[a] for a in EXPLAINED_ATTRIBUTES if a in CONFIDENCE_OF),
                              "tempo_alternative") if c in self.frame.columns]
        attributes = self.frame.select(wanted).to_dicts() if wanted else [{}] * self.frame.height
        passages = self.frame["passage"].to_list() if "passage" in self.frame.columns else [None] * self.frame.height
        out = []
        for i, row in enumerate(self.frame.select("track_id", "title", "artist", "score").iter_rows(named=True)):
            item = {
                "track_id": row["track_id"],
                "title": row["title"],
                "artist": row["artist"],
                "score": row["score"],
                "matched": {k: bool(v[i]) for k, v in matched.items()},
                "contributions": contributions[i] if contributions else {},
                "versions": versions.get(rows[i], []),
                "attributes": {a: {"value": attributes[i].get(a), "confidence": attributes[i].get(CONFIDENCE_OF.get(a, ""))}
                               for a in EXPLAINED_ATTRIBUTES if attributes[i].get(a) is not None},
                "shown": [t for t in (shown_attribute(a, attributes[i]) for a in EXPLAINED_ATTRIBUTES) if t],
            }
            if passages[i] is not None and passages[i] == passages[i]:
                item["passage"] = passages[i]
            if self.extra_explanations:
                item.update(self.extra_explanations[i])
            out.append(item)
        return out

    def _contributions(self) -> list[dict[str, float]]:
        if not self.centres or self.space is None:
            return []
        z = self.space.z[self.frame["_row"].to_numpy()]
        per_dim = per_dimension(z, self.centres, self.weights)
        dims = self.space.dims
        out = []
        for row in per_dim:
            top = np.argsort(-np.abs(row))[:5]
            out.append({dims[j]: round(float(row[j]), 3) for j in top if row[j] != 0})
        return out

    def explain(self) -> str:
        """A readable explanation of every result (a "?" marks a value the indexer is unsure of)."""
        lines = [self.plan.describe(), ""]
        unsure = False
        for n, item in enumerate(self.explanations(), start=1):
            score = "" if item["score"] is None or np.isnan(item["score"]) else f"  score {item['score']:.3f}"
            lines.append(f"{n:>3}. {item['title'] or item['track_id']} - {item['artist'] or '?'}{score}")
            if item["matched"]:
                lines.append("     " + "  ".join(("+ " if ok else "- ") + p for p, ok in item["matched"].items()))
            if item["shown"]:
                lines.append("     " + "  ".join(item["shown"]))
            if item["contributions"]:
                parts = ", ".join(f"{d} {v:+.2f}" for d, v in item["contributions"].items())
                lines.append(f"     distance by dimension: {parts}")
            if item.get("passage") is not None:
                lines.append(f"     its nearest passage starts at {timestamp(round(item['passage']))}")
            for key in ("why",):
                if item.get(key):
                    lines.append(f"     {item[key]}")
            if item.get("versions"):
                lines.append("     other versions: " + "; ".join(item["versions"]))
            unsure |= any(text.endswith("?") for text in item["shown"])
        if unsure:
            lines += ["", f"? marks a value the indexer is unsure of (confidence below {LOW_CONFIDENCE}: its cues disagree, "
                          "the clip is short or the sound is unlike music)"]
        return "\n".join(lines)
