"""`attune eval expand`: recall@k of playlist expansion against simple baselines.

Protocol (the dev data's README): for every playlist with at least
`min_size` tracks, hide a seeded `holdout` fraction; build the library as if
those entries did not exist (so genres inherited from a playlist and the
whitening fitted on playlists do not leak them); expand each playlist from its
visible part; recall@k = hidden tracks found in the top k / hidden tracks,
averaged over playlists. The catalogue is every track in the library; the
visible tracks of the playlist itself are never candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from attune.query.fields import SPACE_DIMS

from ..playlists.expand import ConstraintMasks, colisten_proximity, expansion_parts, expansion_score
from ..playlists.recipe import derive_recipe
from ..search import largest
from ..storage import Playlist, Snapshot

#: The z-scored centroid baseline's attributes: the attribute space's numeric dimensions.
BASELINE_ATTRIBUTES = tuple(SPACE_DIMS)


@dataclass
class EvalResult:
    k: int
    holdout: float
    playlists: int
    hidden: int
    recall: dict[str, float]

    def __str__(self) -> str:
        lines = [
            f"recall@{self.k} over {self.playlists} playlists ({self.hidden} hidden tracks, holdout {self.holdout:g}):"
        ]
        for name, value in sorted(self.recall.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {name:<28} {value:.3f}")
        return "\n".join(lines)


def split_playlists(snap: Snapshot, *, holdout: float, min_size: int, seed: int) -> tuple[list[Playlist], dict[str, set[str]]]:
    rng = np.random.default_rng(seed)
    known = set(snap.tracks.frame["track_id"].to_list())
    visible, hidden = [], {}
    for p in snap.playlists.values():
        ids = [t for t in p.track_ids if t in known]
        if len(ids) >= min_size:
            order = rng.permutation(len(ids))
            n_hide = int(round(holdout * len(ids)))
            hide = {ids[i] for i in order[:n_hide]}
            hidden[p.name] = hide
            ids = [t for t in ids if t not in hide]
        visible.append(Playlist(p.playlist_id, p.name, tuple(ids), p.genres, p.source))
    return visible, hidden


def baselines(snap: Snapshot, seed: int) -> dict[str, Callable[[Playlist, np.ndarray], np.ndarray]]:
    """name -> f(playlist, candidate mask) -> score per row (higher first; -inf excluded)."""
    frame = snap.tracks.frame
    rng = np.random.default_rng(seed + 1)
    pop = frame["popularity"].fill_null(0).fill_nan(0).to_numpy().astype(float)
    x = np.column_stack([frame[c].cast(pl.Float64).to_numpy() for c in BASELINE_ATTRIBUTES if c in frame.columns])
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1)
    artists = snap.text_index("artist").codes

    def random(p, mask):
        return np.where(mask, rng.random(len(mask)), -np.inf)

    def popular(p, mask):
        return np.where(mask, pop, -np.inf)

    def centroid(p, mask):
        rows = snap.playlist_rows(p.name)
        d = ((x - x[rows].mean(axis=0)) ** 2).sum(axis=1)
        return np.where(mask, -d, -np.inf)

    def strict_recipe(p, mask):
        recipe = derive_recipe(snap, p)
        ok = ConstraintMasks(snap, recipe).all(1.0, {"genre": False, "year": True, "artist": True})
        return np.where(mask & ok, pop, -np.inf)

    def same_artists(p, mask):
        rows = snap.playlist_rows(p.name)
        ok = np.isin(artists, np.unique(artists[rows]))
        return np.where(mask & ok, pop, -np.inf)

    def colisten_centroid(p, mask):
        closeness = colisten_proximity(snap, snap.playlist_rows(p.name))
        return np.where(mask, closeness, -np.inf)

    return {
        "random": random,
        "most popular": popular,
        "co-listen centroid": colisten_centroid,
        "centroid (z-scored attrs)": centroid,
        "strict recipe by popularity": strict_recipe,
        "same artists by popularity": same_artists,
    }


def evaluate_expansion(
    snap: Snapshot,
    *,
    holdout: float = 0.2,
    k: int = 100,
    min_size: int = 40,
    seed: int = 0,
    weights: list[dict[str, float]] | None = None,
) -> EvalResult:
    visible, hidden = split_playlists(snap, holdout=holdout, min_size=min_size, seed=seed)
    view = snap.with_playlists(visible)
    ids = view.frame["track_id"].to_numpy()
    methods = baselines(view, seed)
    recalls: dict[str, list[float]] = {name: [] for name in methods}
    # The score with a co-listen part, to show what that signal adds (off by default, see WEIGHTS).
    variants = {"attune expand": None, "expand with co-listen 0.5": {"colisten": 0.5}}
    variants |= {f"expand {w}": w for w in (weights or [])}
    for name in variants:
        recalls[name] = []
    for name, hide in hidden.items():
        if not hide:
            continue
        playlist = view.playlists[name]
        mask = np.ones(view.frame.height, dtype=bool)
        mask[view.playlist_rows(name)] = False

        def recall(score: np.ndarray) -> float:
            return len(hide & set(ids[largest(score, k)])) / len(hide)

        for method, fn in methods.items():
            recalls[method].append(recall(fn(playlist, mask)))
        parts = expansion_parts(view, playlist, derive_recipe(view, playlist), limit=k, colisten=True)
        for label, w in variants.items():
            recalls[label].append(recall(expansion_score(parts, w)))
    return EvalResult(
        k, holdout, len(hidden), sum(len(h) for h in hidden.values()), {m: float(np.mean(v)) for m, v in recalls.items()}
    )
