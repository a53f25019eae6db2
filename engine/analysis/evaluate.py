"""`attune eval expand`: how well playlist expansion finds what a curator would add, next
to simple baselines, in one run.

Protocol (the dev data's README): for every playlist with at least `min_size` tracks,
hide a seeded `holdout` fraction; build the library as if those entries did not exist
(so genres inherited from a playlist and the whitening fitted on playlists do not leak
them); expand each playlist from its visible part and take its top k. Per method,
averaged over playlists:

- recall:     hidden tracks in the top k / hidden tracks;
- discovery:  the same over hidden tracks whose artist is not in the visible part;
- cold start: the same over hidden tracks that are in no other visible playlist;
- artists:    distinct artists in the top k.

It also counts the hidden tracks by new artists that are in no visible playlist at all:
no co-occurrence can point to them, only their sound and year can. `shares` adds
`attune expand` ranked with other shares of places kept for new artists, which traces
the trade-off between overall recall and discovery.

The catalogue is every track in the library; the visible tracks of the playlist itself
are never candidates. Every method ranks: `attune expand` and `--discover` exactly as
the command does (`playlists.expand.rank`), the baselines by their one score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from attune.query.fields import SPACE_DIMS

from ..playlists.expand import ConstraintMasks, colisten_proximity, expansion_parts, rank
from ..playlists.recipe import derive_recipe
from ..search import largest
from ..spaces.related import incidence, related_artists
from ..storage import Playlist, Snapshot

#: The methods that are attune's own (the rest are baselines).
OURS = ("attune expand", "attune expand --discover", "expand with co-listen 0.5")

#: The z-scored centroid baseline's attributes: the attribute space's numeric dimensions.
BASELINE_ATTRIBUTES = tuple(SPACE_DIMS)


@dataclass
class EvalResult:
    k: int
    holdout: float
    playlists: int
    hidden: int
    recall: dict[str, float]
    discovery: dict[str, float] = field(default_factory=dict)
    cold: dict[str, float] = field(default_factory=dict)
    artists: dict[str, float] = field(default_factory=dict)
    #: Hidden tracks by artists the visible part lacks / in no other visible playlist.
    hidden_new_artist: int = 0
    hidden_cold: int = 0
    #: Hidden tracks by new artists that are in no visible playlist (nothing relates them).
    hidden_unlinked: int = 0
    #: The methods that are baselines (the rest are attune's own rankings).
    baselines: tuple[str, ...] = ()

    @property
    def best_baseline(self) -> float:
        """The best discovery recall of a baseline."""
        return max((self.discovery[n] for n in self.baselines if n in self.discovery), default=0.0)

    def __str__(self) -> str:
        lines = [
            f"@{self.k} over {self.playlists} playlists ({self.hidden} hidden tracks, holdout {self.holdout:g}; "
            f"{self.hidden_new_artist} by artists the visible part lacks, of which {self.hidden_unlinked} by artists in no "
            f"visible playlist; {self.hidden_cold} in no other visible playlist):",
            f"  {'method':<32}{'recall':>8}{'discovery':>11}{'cold start':>12}{'artists':>9}",
        ]
        for name, value in sorted(self.recall.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {name:<32}{value:>8.3f}{self.discovery.get(name, float('nan')):>11.3f}"
                         f"{self.cold.get(name, float('nan')):>12.3f}{self.artists.get(name, float('nan')):>9.1f}")
        best = self.best_baseline
        if best > 0:
            ours = [n for n in self.recall if n not in self.baselines]
            lines.append(f"  discovery against the best baseline ({best:.3f}): "
                         + ", ".join(f"{n} {self.discovery[n] / best:.2f}x" for n in ours if n in self.discovery))
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
    known = ~np.isnan(x)
    means = np.where(known.any(axis=0), np.nansum(x, axis=0) / np.maximum(known.sum(axis=0), 1), 0.0)
    x = np.where(known, x, means)  # a missing value at its column's mean (0 for a column with none)
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

    def cooccurring_artists(p, mask):
        """Artists that share other playlists with the playlist's artists (damped by how many
        playlists they are in), their two most popular tracks each."""
        rows = snap.playlist_rows(p.name)
        shares = np.bincount(artists[rows], minlength=int(artists.max()) + 1 if len(artists) else 0).astype(float)
        related = related_artists(snap, shares, p.name)[artists]
        related = np.where(np.isin(artists, np.unique(artists[rows])), 0.0, related)
        order = np.lexsort((-pop, artists))
        first = np.r_[True, artists[order][1:] != artists[order][:-1]]
        second = np.r_[False, first[:-1]] & ~first
        top_two = np.zeros(len(pop), dtype=bool)
        top_two[order[first | second]] = True
        return np.where(mask & top_two & (related > 0), related + pop / 1e4, -np.inf)

    return {
        "random": random,
        "most popular": popular,
        "co-listen centroid": colisten_centroid,
        "centroid (z-scored attrs)": centroid,
        "strict recipe by popularity": strict_recipe,
        "same artists by popularity": same_artists,
        "co-occurring artists": cooccurring_artists,
    }


def evaluate_expansion(
    snap: Snapshot,
    *,
    holdout: float = 0.2,
    k: int = 100,
    min_size: int = 40,
    seed: int = 0,
    weights: list[dict[str, float]] | None = None,
    shares: list[float] | None = None,
) -> EvalResult:
    visible, hidden = split_playlists(snap, holdout=holdout, min_size=min_size, seed=seed)
    view = snap.with_playlists(visible)
    ids = view.tracks.frame["track_id"].to_numpy()
    artists = view.text_index("artist").codes
    methods = baselines(view, seed)
    scores: dict[str, dict[str, list[float]]] = {m: {"recall": [], "discovery": [], "cold": [], "artists": []}
                                                 for m in [*methods, *OURS]}
    memberships: dict[str, int] = {}
    for p in view.playlists.values():
        for t in p.track_ids:
            memberships[t] = memberships.get(t, 0) + 1
    counted = {"new": 0, "cold": 0, "unlinked": 0}
    in_playlists = incidence(view)[2]  # visible playlists per artist code
    for name, hide in hidden.items():
        if not hide:
            continue
        playlist = view.playlists[name]
        rows = view.playlist_rows(name)
        mask = np.ones(len(view), dtype=bool)
        mask[rows] = False
        own_artists = set(artists[rows].tolist())
        new_artist = {t for t, r in zip(ids[view.rows_of(hide)], view.rows_of(hide)) if artists[r] not in own_artists}
        cold = {t for t in hide if not memberships.get(t)}  # hidden here, so in no visible playlist at all
        counted["new"] += len(new_artist)
        counted["cold"] += len(cold)
        counted["unlinked"] += int(sum(in_playlists[artists[r]] == 0 for r in view.rows_of(new_artist)))

        def measure(method: str, top: np.ndarray) -> None:
            got = set(ids[top])
            out = scores[method]
            out["recall"].append(len(hide & got) / len(hide))
            if new_artist:
                out["discovery"].append(len(new_artist & got) / len(new_artist))
            if cold:
                out["cold"].append(len(cold & got) / len(cold))
            out["artists"].append(len(set(artists[top].tolist())))

        for method, fn in methods.items():
            measure(method, largest(fn(playlist, mask), k))
        parts = expansion_parts(view, playlist, derive_recipe(view, playlist), limit=k, colisten=True)
        measure("attune expand", rank(view, parts, limit=k))
        measure("attune expand --discover", rank(view, parts, limit=k, discover=True))
        measure("expand with co-listen 0.5", rank(view, parts, limit=k, weights={"colisten": 0.5}))
        for share in shares or []:
            label = f"expand, {share:.0%} new"
            scores.setdefault(label, {"recall": [], "discovery": [], "cold": [], "artists": []})
            measure(label, rank(view, parts, limit=k, share=share))
        for w in weights or []:
            label = f"expand {w}"
            scores.setdefault(label, {"recall": [], "discovery": [], "cold": [], "artists": []})
            measure(label, rank(view, parts, limit=k, weights=w))
    mean = {m: {key: float(np.mean(v)) if v else float("nan") for key, v in d.items()} for m, d in scores.items()}
    return EvalResult(
        k, holdout, len(hidden), sum(len(h) for h in hidden.values()),
        {m: v["recall"] for m, v in mean.items()}, {m: v["discovery"] for m, v in mean.items()},
        {m: v["cold"] for m, v in mean.items()}, {m: v["artists"] for m, v in mean.items()},
        counted["new"], counted["cold"], counted["unlinked"], tuple(methods),
    )
