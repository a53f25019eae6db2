"""Paths between two tracks: N tracks stepping from A to B in one space.

    path_between(snap, "A", "B", steps=10, space="attr", mask=None)

Each step is nearer to B and farther from A than the one before (squared whitened
distances, strictly), so the path never doubles back; no artist appears twice; A is first
and B last. Step k (of N - 1) aims at the point a fraction k / (N - 1) of the way from A to
B and takes the eligible track nearest to it among those that keep both orders and leave
room for the steps after it (its distance to A stays below |A - B|^2, so B can still be
farther). Only tracks between A and B qualify at all (nearer to each than they are to each
other), which is usually a small share of a library: the per-step search runs on those.
When no track qualifies for a step, the path is shorter than asked and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..errors import LibraryError, NotAvailableError
from ..spaces import space as space_of
from ..storage import Snapshot


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
    to_a = np.maximum(sq - 2.0 * (z @ za.astype(z.dtype)) + float(za @ za), 0.0)
    to_b = np.maximum(sq - 2.0 * (z @ zb.astype(z.dtype)) + float(zb @ zb), 0.0)
    between = data.has & (to_a < d_ab) & (to_b < d_ab)
    if mask is not None:
        between &= mask
    between[[a, b]] = False
    rows = np.flatnonzero(between)
    index = snap.text_index("artist")  # one code per track (lower case); "" for none
    nobody = int(index.values.index_of("")) if len(index.values) and index.values[0] == "" else -1
    codes = index.codes[rows]
    blocked = np.zeros(len(rows), dtype=bool)  # taken, or an artist already on the path
    for used in {int(index.codes[a]), int(index.codes[b])} - {nobody}:
        blocked |= codes == used
    ra, rb = to_a[rows], to_b[rows]
    # Distances of every candidate to every step's target point in one product (the
    # |target|^2 term is the same for every row of a step and left out).
    targets = np.stack([za + (zb - za) * (k / (steps - 1)) for k in range(1, steps - 1)]).astype(z.dtype) \
        if steps > 2 else np.zeros((0, z.shape[1]), dtype=z.dtype)
    to_targets = sq[rows][:, None] - 2.0 * (z[rows] @ targets.T)
    chosen = [a]
    last_a, last_b = 0.0, d_ab
    for k in range(1, steps - 1):
        ok = ~blocked & (ra > last_a) & (rb < last_b)
        if not ok.any():
            break
        pick = int(np.argmin(np.where(ok, to_targets[:, k - 1], np.inf)))
        chosen.append(int(rows[pick]))
        last_a, last_b = float(ra[pick]), float(rb[pick])
        blocked[pick] = True
        if int(codes[pick]) != nobody:
            blocked |= codes == codes[pick]
    chosen.append(b)
    notes = []
    if len(chosen) < steps:
        notes.append(f"only {len(chosen)} of {steps} steps: no more tracks lie between the two, each nearer to the end "
                     "and farther from the start than the one before" + (" and pass the filter" if mask is not None else ""))
    return Path(chosen, [float(to_a[r]) for r in chosen], [float(to_b[r]) for r in chosen], notes)
