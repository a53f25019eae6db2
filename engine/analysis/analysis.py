"""Playlist analysis (Patwari et al., ISMIR 2020, section 3.2): does a playlist hang
together, and in which space?

In each whitened space, for entry i of playlist k and every playlist j:

    d_ikj     = || e_ik - m_j ||^2          (m_j: the mean of playlist j's entries)
    M[k, j]   = mean over i of d_ikj        (the paper's Figure 2)
    Delta_ik  = min over j != k of d_ikj  -  d_ikk   (Figure 3; > 0: closer to its own centre)

Two spaces are compared on the entries that have vectors in both, with the
one-tailed paired Student t-test and the Welch unequal-variance t-test of Delta
(H1: Delta is larger in the first space), as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..errors import LibraryError
from ..spaces import SPACE_NAMES, vectors_missing
from ..spaces import space as space_of
from ..storage import Snapshot


@dataclass
class SpaceAnalysis:
    space: str
    playlists: list[str]
    mean_distances: np.ndarray  # (K, K)
    deltas: pl.DataFrame  # playlist, track_id, delta, own (d_ikk), nearest (playlist of the min)


@dataclass
class Analysis:
    spaces: dict[str, SpaceAnalysis] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def deltas(self) -> pl.DataFrame:
        """(playlist, track_id, space, delta) for every entry in every analysed space."""
        frames = [a.deltas.select("playlist", "track_id", pl.lit(name).alias("space"), "delta") for name, a in self.spaces.items()]
        return pl.concat(frames) if frames else pl.DataFrame(schema={"playlist": pl.String, "track_id": pl.String, "space": pl.String, "delta": pl.Float64})

    def mean_distances(self, space: str) -> pl.DataFrame:
        a = self._space(space)
        return pl.DataFrame({"playlist": a.playlists, **{name: a.mean_distances[:, j] for j, name in enumerate(a.playlists)}})

    def ttest(self, space_a: str, space_b: str) -> tuple[float, float, float, float]:
        """(t_paired, p_paired, t_welch, p_welch), one-tailed: is Delta larger in space_a?"""
        from scipy import stats

        a, b = self._space(space_a).deltas, self._space(space_b).deltas
        both = a.join(b, on=["playlist", "track_id"], suffix="_b").drop_nulls(["delta", "delta_b"])
        if both.height < 2:
            raise LibraryError(f"fewer than two playlist entries have vectors in both {space_a} and {space_b}")
        x, y = both["delta"].to_numpy(), both["delta_b"].to_numpy()
        paired = stats.ttest_rel(x, y, alternative="greater")
        welch = stats.ttest_ind(x, y, equal_var=False, alternative="greater")
        return float(paired.statistic), float(paired.pvalue), float(welch.statistic), float(welch.pvalue)

    def summary(self, space: str) -> pl.DataFrame:
        """Per playlist: entries, compactness (mean distance to its own centre), nearest
        neighbouring playlist, mean Delta and how many entries are outliers (Delta < 0)."""
        a = self._space(space)
        m = a.mean_distances.copy()
        np.fill_diagonal(m, np.inf)
        nearest = [a.playlists[j] if np.isfinite(m[k, j]) else None for k, j in enumerate(np.argmin(m, axis=1))] if len(a.playlists) > 1 else [None] * len(a.playlists)
        stats_ = a.deltas.group_by("playlist").agg(
            pl.len().alias("entries"),
            pl.col("delta").mean().alias("mean_delta"),
            (pl.col("delta") < 0).sum().alias("outliers"),
        )
        base = pl.DataFrame({"playlist": a.playlists, "compactness": np.diag(a.mean_distances), "nearest": nearest})
        return base.join(stats_, on="playlist", how="left").sort("mean_delta", descending=True, nulls_last=True)

    def outliers(self, space: str, playlist: str) -> pl.DataFrame:
        """Entries of a playlist closer to another playlist's centre than to their own."""
        return self._space(space).deltas.filter((pl.col("playlist") == playlist) & (pl.col("delta") < 0)).sort("delta")

    def _space(self, space: str) -> SpaceAnalysis:
        if space not in self.spaces:
            why = self.skipped.get(space, "it was not analysed")
            raise LibraryError(f"no analysis in the {space} space: {why}")
        return self.spaces[space]


def analyze_space(snap: Snapshot, space: str, playlists: list[str] | None = None) -> SpaceAnalysis:
    data = space_of(snap, space)
    names = [n for n in (playlists or list(snap.playlists)) if n in snap.playlists]
    member = snap.membership.filter(pl.col("playlist").is_in(names)).unique(["playlist", "_row"], maintain_order=True)
    rows = member["_row"].to_numpy()
    keep = data.has[rows]
    member, rows = member.filter(pl.Series(keep)), rows[keep]
    names = [n for n in names if n in set(member["playlist"].to_list())]
    index = {n: k for k, n in enumerate(names)}
    k_of = np.array([index[p] for p in member["playlist"].to_list()], dtype=np.int64)
    z = data.z[rows].astype(np.float64)
    counts = np.bincount(k_of, minlength=len(names))
    means = np.zeros((len(names), z.shape[1]))
    np.add.at(means, k_of, z)
    means /= np.maximum(counts, 1)[:, None]
    d = (z * z).sum(axis=1)[:, None] - 2.0 * z @ means.T + (means * means).sum(axis=1)[None, :]  # (entries, K)
    mean_distances = np.zeros((len(names), len(names)))
    np.add.at(mean_distances, k_of, d)
    mean_distances /= np.maximum(counts, 1)[:, None]
    own = d[np.arange(len(d)), k_of]
    other = d.copy()
    other[np.arange(len(d)), k_of] = np.inf
    nearest = np.argmin(other, axis=1) if len(names) > 1 else np.zeros(len(d), dtype=np.int64)
    delta = other[np.arange(len(d)), nearest] - own if len(names) > 1 else np.full(len(d), np.nan)
    deltas = pl.DataFrame(
        {
            "playlist": member["playlist"],
            "track_id": member["track_id"],
            "delta": delta,
            "own": own,
            "nearest": [names[j] for j in nearest] if len(names) > 1 else [None] * len(d),
        }
    )
    return SpaceAnalysis(space, names, mean_distances, deltas)


def analyze(snap: Snapshot, spaces=("attr", "audio", "colisten"), playlists: list[str] | None = None) -> Analysis:
    unknown = [s for s in spaces if s not in SPACE_NAMES]
    if unknown:
        raise LibraryError(f"unknown space '{unknown[0]}'; spaces are {', '.join(SPACE_NAMES)}")
    result = Analysis()
    for space in spaces:
        if not any(len(snap.playlist_rows(name)) >= 2 for name in (playlists or snap.playlists) if name in snap.playlists):
            result.skipped[space] = "no playlist has two or more tracks in the library"
        elif space != "attr" and vectors_missing(snap, space):
            result.skipped[space] = f"no track has a vector in the {space} space"
        else:
            result.spaces[space] = analyze_space(snap, space, playlists)
    return result


def histogram(values: np.ndarray, bins: int = 16, width: int = 40) -> str:
    """A text histogram, one line per bin."""
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return "(no values)"
    counts, edges = np.histogram(values, bins=bins)
    top = counts.max() or 1
    return "\n".join(
        f"{edges[i]:>9.2f} .. {edges[i + 1]:>9.2f} | {'█' * int(round(c / top * width))} {c}" for i, c in enumerate(counts)
    )
