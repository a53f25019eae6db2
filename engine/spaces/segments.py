"""Passages: the 3-second segments of indexed tracks, measured in the audio space.

    passage_distances(snap, seed_segment)   # per track: nearest segment's distance, and where it starts

A segment's embedding is the audio model's output for 3 seconds of sound (the track's audio
vector is their mean); the segments table keeps every one with its start and end. A passage
query (`like:track("x" @ 1:30)`) takes the segment of x that holds 1:30 and ranks every
other track by its nearest segment, whitened like the audio space:

    D_passage(t) = min over segments s of t of |W(x_s - mean) - W(x_q - mean)|^2

computed without a whitened copy of the segments: with v = W^T q, |z_s - q|^2 =
|z_s|^2 - 2 (x_s . v - mean . v) + |q|^2, where |z_s|^2 is computed once per whitening
(a chunked pass) and the raw embeddings are read once per track data (float32,
4 * dims bytes a segment: 640 MB for 10,000 four-minute tracks of 200-d segments).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from attune.query import timestamp

from ..errors import NotAvailableError
from ..storage import Key, Snapshot
from ..storage.reads import matrix
from .space import space


@dataclass
class Segments:
    """Every segment of the snapshot's indexed tracks, grouped by track row (ascending)
    and in time order within a track."""

    x: np.ndarray  # (S, d) float32 raw embeddings
    rows: np.ndarray  # (S,) the track row of each segment
    starts: np.ndarray  # (S,) seconds
    ends: np.ndarray  # (S,) seconds
    first: np.ndarray  # (T,) index of each track's first segment
    tracks: np.ndarray  # (T,) the track row of each group
    group: np.ndarray  # (S,) the group (0..T-1) of each segment

    def of(self, row: int) -> slice:
        """The segments of one track row (empty when it has none)."""
        i = int(np.searchsorted(self.tracks, row))
        if i == len(self.tracks) or self.tracks[i] != row:
            return slice(0, 0)
        end = int(self.first[i + 1]) if i + 1 < len(self.first) else len(self.rows)
        return slice(int(self.first[i]), end)


_RAW = Key[Segments]("spaces.segments.raw", "tracks")
_NORMS = Key[tuple]("spaces.segments.norms")


def segments(snap: Snapshot) -> Segments:
    """The snapshot's segments (read on first use; NotAvailableError when there are none)."""
    return snap.memo(_RAW, lambda: _read(snap))


def _read(snap: Snapshot) -> Segments:
    read = snap.tracks.read_segments
    table = read(["track_id", "start", "end", "embedding"]) if read is not None else None
    if table is None or table.num_rows == 0:
        raise NotAvailableError("no track in this library has indexed segments; passages (like:track(\"x\" @ 1:30)) "
                                "need audio indexed with `attune index`")
    ids = table["track_id"].to_pylist()
    rows = snap.tracks.rows_or_missing(ids)
    starts = table["start"].to_numpy()
    keep = rows >= 0  # segments of tracks removed since are skipped
    order = np.lexsort((starts[keep], rows[keep]))
    kept = np.flatnonzero(keep)[order]
    x = matrix(table["embedding"].take(kept))
    rows, starts, ends = rows[kept], starts[kept], table["end"].to_numpy()[kept]
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, dtype=np.int64)
    group = np.repeat(np.arange(len(first), dtype=np.int32), np.diff(np.r_[first, len(rows)]))
    return Segments(x, rows.astype(np.int64), starts, ends, first, rows[first].astype(np.int64), group)


def segment_at(snap: Snapshot, row: int, seconds: float) -> int:
    """The index of the segment of track `row` that holds the moment `seconds` (the last one
    starting at or before it); ValueError naming the track's indexed length when it is past
    the end, NotAvailableError when the track has no segments."""
    seg = segments(snap)
    own = seg.of(row)
    if own.stop == own.start:
        raise NotAvailableError("this track has no indexed segments (it was imported, not indexed from audio); "
                                "passages need audio indexed with `attune index`")
    starts = seg.starts[own]
    if seconds >= float(seg.ends[own].max()):
        raise ValueError(f"past the end of its indexed audio ({timestamp(float(seg.ends[own].max()))})")
    return own.start + max(0, int(np.searchsorted(starts, seconds, side="right")) - 1)


def passage_distances(snap: Snapshot, segment: int) -> tuple[np.ndarray, np.ndarray]:
    """(distance, start) per track row: the squared whitened audio distance of the track's
    nearest segment to `segment`, and that segment's start in seconds (inf and NaN for a
    track without segments)."""
    seg = segments(snap)
    audio = space(snap, "audio")
    whitener = audio.whitener
    sq = snap.memo(_NORMS, lambda: (whitener, _squared_norms(seg.x, whitener)))
    if sq[0] is not whitener:  # the audio space was refitted since
        snap.forget(_NORMS)
        sq = snap.memo(_NORMS, lambda: (whitener, _squared_norms(seg.x, whitener)))
    q = whitener.transform(seg.x[segment : segment + 1])[0].astype(np.float64)
    v = whitener.matrix.T @ q
    d = sq[1] - 2.0 * (seg.x @ v.astype(np.float32) - float(whitener.mean @ v)) + float(q @ q)
    d = np.maximum(d, 0.0)
    best = np.minimum.reduceat(d, seg.first)
    # Where each track's minimum sits: the first segment of the group equal to it.
    hit = np.flatnonzero(d == best[seg.group])
    first_hit = hit[np.r_[True, seg.group[hit][1:] != seg.group[hit][:-1]]]
    distance = np.full(len(snap), np.inf)
    start = np.full(len(snap), np.nan)
    distance[seg.tracks] = best
    start[seg.tracks] = seg.starts[first_hit]
    return distance, start


def _squared_norms(x: np.ndarray, whitener, chunk: int = 65_536) -> np.ndarray:
    out = np.empty(len(x), dtype=np.float32)
    for i in range(0, len(x), chunk):
        z = whitener.transform(x[i : i + chunk])
        out[i : i + chunk] = np.einsum("ij,ij->i", z, z)
    return out

