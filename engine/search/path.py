"""Paths between two tracks: N tracks stepping from A to B in one space.

    path_between(snap, "A", "B", steps=10, space="attr", mask=None)

Each step is nearer to B and farther from A than the one before (squared whitened
distances, strictly), so the path never doubles back; no artist appears twice; A is first
and B last. Step k (of N - 1) aims at the point a fraction k / (N - 1) of the way from A to
B and takes the eligible track nearest to it among those that keep both orders and leave
room for the steps after it (its distance to A stays below |A - B|^2, so B can still be
farther). Only tracks between A and B qualify at all (nearer to each than they are to each
other). The targets lie on the line from A to B, so a track's distance to each follows from
its distances to A and B (one pass over the space for both); each step searches the
CORRIDOR tracks nearest that line first and the whole library only when a track outside
the corridor could still be nearer. When no track qualifies for a step, the path is
shorter than asked and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..errors import LibraryError, NotAvailableError
from ..spaces import space as space_of
from ..storage import Snapshot

#: How many tracks nearest the line from A to B each step searches first (see path_between).
CORRIDOR = 20_000


@dataclass
class Path:
    rows: list[int]
    to_a: list[float]  # squared distance of each step to A
    to_b: list[float]  # ... and to B
    notes: list[str] = field(default_factory=list)
    frame: pl.DataFrame | None = None  # the rows, filled in by the library

    @property
    def track_ids(self) -> list[str]:
        return [] if self.frame is None else self.frame["track_id"].to_list()


def path_between(snap: Snapshot, a: int, b: int, *, steps: int = 10, space: str = "attr",
                 mask: np.ndarray | None = None) -> Path:
    """The path from row `a` to row `b` (see the module docstring). `mask`: the rows a
    query's filter passes (A and B are kept whatever it says)."""
    if steps < 2:
        raise LibraryError("a path has at least 2 steps (A and B)")
    if a == b:
        raise LibraryError("a path needs two different tracks")
    data = space_of(snap, space)
    if not (data.has[a] and data.has[b]):
        raise NotAvailableError(f"both tracks need a vector in the {space} space")
    z, sq = data.z, data.sqnorm
    za, zb = z[a].astype(np.float64), z[b].astype(np.float64)
    d_ab = float(((za - zb) ** 2).sum())
    # Squared distances of every track to A and to B in one pass over the space.
    dots = z @ np.stack([za, zb], axis=1).astype(z.dtype)
    to_a = np.maximum(sq - 2.0 * dots[:, 0] + float(za @ za), 0.0)
    to_b = np.maximum(sq - 2.0 * dots[:, 1] + float(zb @ zb), 0.0)
    valid = data.has & (to_a < d_ab) & (to_b < d_ab)
    if mask is not None:
        valid &= mask
    valid[[a, b]] = False
    index = snap.text_index("artist")  # one code per track (lower case); "" for none
    nobody = 0 if len(index.values) and index.values[0] == "" else -1  # values are sorted: "" comes first
    used = {int(index.codes[a]), int(index.codes[b])} - {nobody}  # artists on the path
    # Every step's target lies on the line from A to B, so a track's distance to it follows
    # from its distances to A and B alone: with s its position along the line (0 at A, 1 at
    # B) and h^2 its squared distance from the line, |x - t_k|^2 = h^2 + (s - f_k)^2 |A - B|^2.
    along = (to_a - to_b + d_ab) / (2.0 * d_ab)
    off_line = np.where(valid, np.maximum(to_a - along * along * d_ab, 0.0), np.inf)
    # Each step looks first in a corridor, the CORRIDOR tracks nearest the line; its best
    # is the library's best when no track outside (all at least `edge` off the line) can
    # beat it, and otherwise that step searches every track.
    count = int(valid.sum())
    if count > CORRIDOR:
        corridor = np.argpartition(off_line, CORRIDOR - 1)[:CORRIDOR]
        edge = float(off_line[corridor].max())
    else:
        corridor, edge = np.flatnonzero(valid), np.inf
    taken: list[int] = []

    def best(rows: np.ndarray, f: float, last_a: float, last_b: float) -> tuple[int, float]:
        ok = (to_a[rows] > last_a) & (to_b[rows] < last_b) & np.isfinite(off_line[rows])
        if used:
            ok &= ~np.isin(index.codes[rows], list(used))
        if taken:
            ok &= ~np.isin(rows, taken)
        if not ok.any():
            return -1, np.inf
        value = np.where(ok, off_line[rows] + (along[rows] - f) ** 2 * d_ab, np.inf)
        i = int(np.argmin(value))
        return int(rows[i]), float(value[i])

    chosen = [a]
    last_a, last_b = 0.0, d_ab
    for k in range(1, steps - 1):
        f = k / (steps - 1)
        pick, value = best(corridor, f, last_a, last_b)
        if value > edge:
            pick, value = best(np.flatnonzero(valid), f, last_a, last_b)
        if pick < 0:
            break
        chosen.append(pick)
        taken.append(pick)
        last_a, last_b = float(to_a[pick]), float(to_b[pick])
        if int(index.codes[pick]) != nobody:
            used.add(int(index.codes[pick]))
    chosen.append(b)
    notes = []
    if len(chosen) < steps:
        notes.append(f"only {len(chosen)} of {steps} steps: no more tracks lie between the two, each nearer to the end "
                     "and farther from the start than the one before" + (" and pass the filter" if mask is not None else ""))
    return Path(chosen, [float(to_a[r]) for r in chosen], [float(to_b[r]) for r in chosen], notes)
