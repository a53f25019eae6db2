"""The co-listen space served from LanceDB, for libraries over the memory budget.

    build(snap, store, batches=..., versions=..., audio_dims=...)   # `attune optimize`
    estimate(snap, state, rows, audio)     # tracks added since: placed as the build would

In memory the co-listen space holds, for every track, its learned vector (tracks in a
playlist) or its cold-start estimate (`coldstart.py`), and measures an estimate's distance
as the expected one, |z - c|^2 + residual. At 10M tracks that is a 32-d matrix three times
over plus the features of every track (audio embeddings included): past any sensible
budget. So `attune optimize` streams the tracks table once, a batch at a time: each
track's features, its estimate, its whitened position, written to the space table
(`storage/vectors.py`) and indexed with IVF_FLAT like the audio space.

Each row of that table has one coordinate more than the space: sqrt(residual) for an
estimated position, 0 for a learned one. A query's centre has 0 there, so the table's
squared L2 distance is exactly the in-memory space's distance, residual included.

Only the estimated positions are indexed. The learned ones (the tracks in playlists, a
small share of a catalogue) go to a table of their own, `space_colisten_exact`, which a
served space reads whole and ranks exactly beside the index: an IVF index trained on the
millions of estimates partitions the learned positions badly (they lie where Word2Vec put
them, not where the estimates crowd), and with them in it recall@10 at 10M tracks was
0.93-0.98 from one build to the next; the nearest tracks to most queries are learned ones.

What the build used (the whitening, the mapping and its residual) is recorded with the
index; tracks added since are placed with them at search time (`estimate`), and the plan
says when the playlists changed since (positions, whitening and mapping are those of then).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import numpy as np
import polars as pl

from ..storage import Snapshot
from ..storage.vectors import IndexState
from .coldstart import CoListen, Mapping, features
from .colisten import DIMENSIONS
from .space import colisten_learned, colisten_mapping, colisten_whitener
from .whitening import Whitener

#: A batch of the tracks table: (track ids, audio embeddings (n, d) or None, has audio (n,),
#: numeric columns (NaN: unknown)).
Batch = tuple[list[str], np.ndarray | None, np.ndarray, dict[str, np.ndarray]]


def widen(z: np.ndarray, residual: float, estimated: bool) -> np.ndarray:
    """Whitened positions with the table's last coordinate (see the module docstring)."""
    last = np.full((len(z), 1), np.sqrt(max(residual, 0.0)) if estimated else 0.0, dtype=np.float32)
    return np.hstack([np.asarray(z, dtype=np.float32), last])


def build(snap: Snapshot, store, *, batches: Callable[[], Iterator[Batch]], versions, audio_dims: int,
          audio_of: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], since: datetime,
          progress: Callable[[int], None] | None = None) -> IndexState | None:
    """Learn the co-listen space of the snapshot's playlists (vectors, whitening, cold-start
    mapping: stored ones when current), write every track's position to the space table a
    batch at a time and index it. None when no track is in a playlist (nothing to learn).

    `batches()`: the tracks table in batches (every track); `versions`: the tables' versions
    the index is built from; `audio_of(rows)`: some rows' audio embeddings and whether each
    has one (the tracks the mapping is trained on); `since`: a time before the snapshot was
    taken (a track written after it and missing from the snapshot is placed at search time)."""
    learned = colisten_learned(snap)
    if not len(learned.rows):
        return None
    whitener = colisten_whitener(snap, learned)
    mapping = colisten_mapping(snap, whitener=whitener, audio_dims=audio_dims, audio_of=audio_of)
    residual = mapping.residual if mapping is not None else 0.0
    estimated = 0

    def positions() -> Iterator[tuple[list[str], np.ndarray, None]]:
        # Estimated positions only, in the tracks table's order (a served space maps the
        # table's places to snapshot rows by comparing runs of ids).
        nonlocal estimated
        if mapping is None:
            return
        has = learned.has(len(snap))
        for batch_ids, audio, audio_has, numbers in batches():
            rows = snap.tracks.rows_or_missing(pl.Series(batch_ids, dtype=pl.String))
            guess = rows >= 0  # (a track written after the snapshot: placed at search time)
            guess[guess] = ~has[rows[guess]]
            if not guess.any():
                continue
            given = None if audio is None else (audio[guess], audio_has[guess])
            placed = _place(snap, learned, mapping, whitener, rows[guess], given, {k: v[guess] for k, v in numbers.items()})
            estimated += int(guess.sum())
            yield [t for t, k in zip(batch_ids, guess) if k], widen(placed, residual, True), None

    built_at = since.astimezone(UTC).isoformat()

    # The learned positions beside the index, ranked exactly (written first: the index's
    # state, recorded last, says which version of them belongs to it).
    ids = snap.tracks.column("track_id").gather(learned.rows).to_list()
    exact = store.vectors.write_exact("colisten", ids, widen(whitener.transform(learned.x), residual, False))

    def state(rows: int, partitions: int) -> IndexState:
        extra = {"mapping": mapping.to_json() if mapping is not None else None, "residual": residual,
                 "learned": len(learned.rows), "estimated": estimated, "exact_version": exact}
        return IndexState("colisten", rows, DIMENSIONS + 1, partitions, versions.tracks, versions.segments,
                          whitener.to_json(), built_at, versions.playlists, None, extra)

    built = store.vectors.write("colisten", positions(), DIMENSIONS + 1, state=state, progress=progress)
    store.vectors.clean("colisten", exact=True)
    return built


def _place(snap: Snapshot, learned: CoListen, mapping: Mapping, whitener: Whitener, rows: np.ndarray,
           audio: tuple[np.ndarray, np.ndarray] | None, numbers: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Whitened cold-start positions of some rows."""
    return whitener.transform(mapping.predict(features(snap, learned, rows, mapping.plan, audio, numbers)))


def estimate(snap: Snapshot, state: IndexState, rows: np.ndarray, audio: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Positions (as the table holds them) of tracks added since the index was built, placed
    by the mapping it recorded. Their artists' co-listen centroids are read from the learned
    vectors when those are still the ones the index was built from (the playlists have not
    changed); otherwise they are left out (a retrained Word2Vec space is not the index's)."""
    extra = state.extra or {}
    whitener = Whitener.from_json(state.whitener)
    if extra.get("mapping") is None or not len(rows):
        return np.zeros((0, state.dims), dtype=np.float32)
    mapping = Mapping.from_json(extra["mapping"])
    current = snap.key is not None and getattr(snap.key, "playlists", None) == state.playlists_version
    learned = colisten_learned(snap) if current else CoListen(np.zeros(0, dtype=np.int64),
                                                               np.zeros((0, DIMENSIONS), dtype=np.float32))
    z = _place(snap, learned, mapping, whitener, np.asarray(rows, dtype=np.int64), audio)
    return widen(z, float(extra.get("residual", 0.0)), True)
