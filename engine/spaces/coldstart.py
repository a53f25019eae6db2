"""Cold start: a co-listen position for tracks in no playlist, learned from what every
track has (after Huang et al. 2020 and Alonso-Jimenez et al. 2023, who learn
playlist-space embeddings from content).

Features of a track (`features`): its numeric attributes (the attribute space's scaling),
year and popularity (each standardised, a missing value at the mean), its own genres
(not those it inherits from playlists, which a track in no playlist never has), its
audio embedding when indexed (standardised, with a flag), and its artist's co-listen
centroid: the mean co-listen vector of the artist's *other* tracks that have one (with
a flag; zero for an artist with none).

The mapping is a one-hidden-layer network, f(x) = (W2 tanh(W1 x + b1) + b2) * s + m, into
the *whitened* co-listen space (s, m: the whitened vectors' spread and mean), because
that is where distances are measured: errors along directions in which playlists are
tight count for as much as they do in search. It is trained on playlist co-occurrence
with a contrastive (symmetric InfoNCE) objective: for a batch of (track i, playlist mate j) pairs,

    loss = mean_i -log softmax_k( -|f(x_i) - z_k|^2 / tau ) at k = i, averaged with the
           same over i for each k (which track is this mate's?),
    tau = 2 * dims (the expected squared distance between two mates in a whitened space)

where z_k is the whitened co-listen vector of the k-th pair's mate: a track's predicted
position must be nearer its own playlist mate than the other pairs' mates. The held-out
loss is measured on tracks (10%, seeded) whose pairs were never trained on; `chance` is
ln(batch), the loss of a mapping that knows nothing. A contrastive loss alone places a
track only relative to the others in its batch (|f(x_i)|^2 is the same for every k in a
row), so an anchoring term, ANCHOR * |f(x_i) - z_i|^2 / tau to the mate, pins it down.

Predictions are returned as raw co-listen vectors (through the inverse of the whitening
it was trained under), so the space whitens them like any other vector. An estimate is
nearer the middle than a learned vector (it regresses towards what is likely), so the
space measures its distance as the expected one, |z_hat - c|^2 + `residual`, where
`residual` is the held-out mean squared error of the estimates: a track in no playlist
is neither favoured nor buried next to one with a learned position.

Plain numpy (the gradient is a few lines, see `_loss`) so the engine can retrain it
whenever the playlists change, like the co-listen vectors, without importing torch
(the engine's layering rule). Seeded: the same library gives the same mapping.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field

import numpy as np
from attune.query.fields import SPACE_DIMS

from ..storage import Snapshot
from .whitening import Whitener

HIDDEN = 128
BATCH = 256
STEPS = 1500
LEARNING_RATE = 3e-3
HELD_OUT = 0.1
#: Fewer tracks with a co-listen vector than this: no mapping (too little to learn from).
MIN_TRACKS = 40
SEED = 0
#: Weight of the anchoring term (mean squared distance to the mate / tau) next to InfoNCE.
ANCHOR = 1.0
#: Own genres used as features (the most frequent).
GENRES = 32


@dataclass
class Mapping:
    """A trained cold-start mapping and how it did."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    #: Feature standardisation (x - mean) / scale; raw output = net(x) @ out_matrix + out_bias.
    x_mean: np.ndarray
    x_scale: np.ndarray
    out_matrix: np.ndarray
    out_bias: np.ndarray
    feature_names: tuple[str, ...]
    report: dict = field(default_factory=dict)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Raw co-listen vectors for feature rows (in chunks: bounded memory)."""
        out = np.empty((len(x), len(self.b2)), dtype=np.float32)
        for start in range(0, len(x), 65536):
            part = (x[start:start + 65536] - self.x_mean) / self.x_scale
            y = np.tanh(part @ self.w1 + self.b1) @ self.w2 + self.b2
            out[start:start + 65536] = y @ self.out_matrix + self.out_bias
        return out

    def to_json(self) -> dict:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, w1=self.w1, b1=self.b1, w2=self.w2, b2=self.b2, x_mean=self.x_mean,
                            x_scale=self.x_scale, out_matrix=self.out_matrix, out_bias=self.out_bias)
        return {"arrays": base64.b64encode(buffer.getvalue()).decode("ascii"), "features": list(self.feature_names),
                "report": self.report}

    @classmethod
    def from_json(cls, data: dict) -> Mapping:
        arrays = np.load(io.BytesIO(base64.b64decode(data["arrays"])))
        return cls(**{k: arrays[k] for k in ("w1", "b1", "w2", "b2", "x_mean", "x_scale", "out_matrix", "out_bias")},
                   feature_names=tuple(data["features"]), report=dict(data.get("report", {})))


def features(snap: Snapshot, colisten: np.ndarray, has: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """(len(rows), F) float32 features of some tracks (every track when rows is None) and
    their names (see the module docstring). `colisten`/`has`: the co-listen vectors
    learned from playlists and which rows have one."""
    frame = snap.tracks.frame
    rows = np.arange(len(snap)) if rows is None else rows
    columns: list[np.ndarray] = []
    names: list[str] = []
    for dim in [*SPACE_DIMS, "year", "popularity"]:
        if dim not in frame.columns:
            continue
        values = snap.numbers(dim).astype(np.float64)
        if np.isnan(values).all():
            continue
        columns.append(np.where(np.isnan(values), np.nanmean(values), values)[rows])
        names.append(dim)
    own = snap.tracks.text_index("genre")  # the track's own genres, never inherited ones
    if own.rows is not None and len(own.values):
        counts = np.bincount(own.codes, minlength=len(own.values))
        for code in np.argsort(-counts, kind="stable")[:GENRES]:
            if counts[code] == 0:
                break
            column = np.zeros(len(snap), dtype=bool)
            column[own.rows[own.codes == code]] = True
            columns.append(column[rows])
            names.append(f"genre:{own.values[int(code)]}")
    audio, audio_has = snap.tracks.vectors("embedding")
    if audio_has.any():
        columns += [audio[rows], audio_has[rows]]
        names += [f"audio{j}" for j in range(audio.shape[1])] + ["audio?"]
    centroid, known = artist_centroids(snap, colisten, has, rows)
    columns += [centroid, known]
    names += [f"artist_colisten{j}" for j in range(centroid.shape[1])] + ["artist_colisten?"]
    out = np.empty((len(rows), len(names)), dtype=np.float32)
    at = 0
    for column in columns:
        width = 1 if column.ndim == 1 else column.shape[1]
        out[:, at:at + width] = column.reshape(len(rows), width)
        at += width
    return out, tuple(names)


def artist_centroids(snap: Snapshot, colisten: np.ndarray, has: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the mean co-listen vector of the other tracks by its artist that have one,
    and whether there is any (a track's own vector never counts towards its own feature)."""
    artist = snap.tracks.text_index("artist")
    nameless = (artist.values == "").to_numpy()
    k = len(artist.values)
    sums = np.zeros((k, colisten.shape[1]))
    np.add.at(sums, artist.codes[has], colisten[has])
    counts = np.bincount(artist.codes[has], minlength=k).astype(float)
    codes = artist.codes[rows]
    own = has[rows]
    total = sums[codes] - np.where(own[:, None], colisten[rows], 0.0)
    count = counts[codes] - own
    known = (count > 0) & ~nameless[codes]
    return np.where(known[:, None], total / np.maximum(count, 1)[:, None], 0.0), known


def mate_pairs(snap: Snapshot, has: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, mate row) for every ordered pair of tracks sharing a playlist, both with a
    co-listen vector; long playlists contribute at most 50 mates per track (sampled)."""
    rng = np.random.default_rng(SEED)
    a, b = [], []
    for p in snap.playlists.values():
        rows = np.unique(snap.playlist_rows(p.name))
        rows = rows[has[rows]]
        if len(rows) < 2:
            continue
        if len(rows) <= 51:
            i, j = np.meshgrid(rows, rows, indexing="ij")
            off = i != j
            a.append(i[off])
            b.append(j[off])
        else:
            i = np.repeat(rows, 50)
            j = rows[rng.integers(0, len(rows), len(i))]
            keep = i != j
            a.append(i[keep])
            b.append(j[keep])
    if not a:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(a).astype(np.int64), np.concatenate(b).astype(np.int64)


def train(snap: Snapshot, colisten: np.ndarray, has: np.ndarray, whitener: Whitener, *, steps: int = STEPS) -> Mapping | None:
    """Fit the mapping on the library's playlists (None when there is too little to learn).
    `colisten`/`has`: the raw co-listen vectors learned from the playlists; `whitener`: the
    space's whitening."""
    started = time.perf_counter()
    if int(has.sum()) < MIN_TRACKS:
        return None
    rows = np.flatnonzero(has)
    x, names = features(snap, colisten, has, rows)
    position = np.full(len(has), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    pairs = mate_pairs(snap, has)
    if len(pairs[0]) < BATCH:
        return None
    a_all, b_all = position[pairs[0]], position[pairs[1]]
    rng = np.random.default_rng(SEED)
    held = np.zeros(len(rows), dtype=bool)
    held[rng.choice(len(rows), size=max(1, int(len(rows) * HELD_OUT)), replace=False)] = True
    a, b = a_all[~held[a_all] & ~held[b_all]], b_all[~held[a_all] & ~held[b_all]]
    test_a, test_b = a_all[held[a_all] & ~held[b_all]], b_all[held[a_all] & ~held[b_all]]
    if len(a) < BATCH:
        return None
    fit = ~held
    z = whitener.transform(colisten[rows])
    x_mean = x[fit].mean(axis=0)
    x_scale = x[fit].std(axis=0)
    x_scale = np.where(x_scale > 1e-6, x_scale, 1.0)
    z_mean = z[fit].mean(axis=0)
    z_scale = np.where(z[fit].std(axis=0) > 1e-6, z[fit].std(axis=0), 1.0).astype(np.float32)
    xs = ((x - x_mean) / x_scale).astype(np.float32)
    zc = (z - z_mean).astype(np.float32)  # targets, centred (the net's b2 carries the mean)
    tau = 2.0 * z.shape[1]
    params = _init(xs.shape[1], z.shape[1], rng)
    adam = _Adam(params)
    for _ in range(steps):
        pick = rng.integers(0, len(a), BATCH)
        _, grads = _loss(params, xs[a[pick]], zc[b[pick]], z_scale, tau, grad=True)
        adam.step(params, grads)
    # raw = (net * s + m) @ M^-T + mean, M the whitening matrix (z = (raw - mean) @ M^T).
    back = np.linalg.inv(whitener.matrix.T)
    out_matrix = (np.diag(z_scale) @ back).astype(np.float32)
    out_bias = (z_mean @ back + whitener.mean).astype(np.float32)
    held_rows = np.flatnonzero(held)
    guess = (np.tanh(xs[held_rows] @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]) * z_scale
    report = {
        # E|f(x) - z|^2 over held-out tracks and their own learned vectors (whitened units):
        # the space adds it to an estimated position's distances (its expected error).
        "residual": round(float(((guess - zc[held_rows]) ** 2).sum(axis=1).mean()), 4),
        # for scale: the same between two random tracks, and between playlist mates
        "random_distance": round(float(((zc[rng.permutation(len(zc))] - zc) ** 2).sum(axis=1).mean()), 4),
        "mate_distance": round(float(((zc[a[:100_000]] - zc[b[:100_000]]) ** 2).sum(axis=1).mean()), 4),
        "train_loss": _mean_loss(params, xs, zc, z_scale, a, b, tau, rng),
        "held_out_loss": _mean_loss(params, xs, zc, z_scale, test_a, test_b, tau, rng),
        "chance_loss": round(float(np.log(BATCH)), 4),
        "tracks": int(fit.sum()),
        "held_out_tracks": int(held.sum()),
        "pairs": int(len(a)),
        "features": len(names),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return Mapping(params["w1"], params["b1"], params["w2"], params["b2"], x_mean, x_scale, out_matrix, out_bias, names, report)


def _init(f: int, d: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "w1": (rng.standard_normal((f, HIDDEN)) / np.sqrt(f)).astype(np.float32),
        "b1": np.zeros(HIDDEN, dtype=np.float32),
        "w2": (rng.standard_normal((HIDDEN, d)) / np.sqrt(HIDDEN)).astype(np.float32),
        "b2": np.zeros(d, dtype=np.float32),
    }


def _loss(params: dict[str, np.ndarray], x: np.ndarray, v: np.ndarray, scale: np.ndarray, tau: float, *,
          grad: bool, anchor: float = ANCHOR) -> tuple[float, dict]:
    """Symmetric InfoNCE with squared-distance logits, and its gradient (when asked).

    y = (W2 h + b2) * scale, s_ik = -|y_i - v_k|^2 / tau. The loss is the mean of the
    cross-entropy of each row (which mate is i's?) and of each column (whose mate is k?)
    at the diagonal. The row term alone cannot see |y_i|^2 (it is the same for every k),
    so it would place a track only relative to others; the column term pins it down.
    With G = dL/ds = ((softmax_rows(s) - I) + (softmax_cols(s) - I)) / (2B):
    dL/dy_i = (2 / tau) (sum_k G_ik (v_k - y_i)).
    """
    h = np.tanh(x @ params["w1"] + params["b1"])
    y = (h @ params["w2"] + params["b2"]) * scale
    s = -((y * y).sum(1)[:, None] - 2.0 * y @ v.T + (v * v).sum(1)[None, :]) / tau
    rows = np.exp(s - s.max(axis=1, keepdims=True))
    rows /= rows.sum(axis=1, keepdims=True)
    cols = np.exp(s - s.max(axis=0, keepdims=True))
    cols /= cols.sum(axis=0, keepdims=True)
    b = len(x)
    diag = np.arange(b)
    loss = float(-(np.log(np.maximum(rows[diag, diag], 1e-30)) + np.log(np.maximum(cols[diag, diag], 1e-30))).mean() / 2)
    loss += anchor * float(-s[diag, diag].mean())
    if not grad:
        return loss, {}
    g = rows + cols
    g[diag, diag] -= 2.0
    g /= 2 * b
    g[diag, diag] -= anchor / b
    dy = (2.0 / tau) * (g @ v - y * g.sum(axis=1, keepdims=True)) * scale
    dh = (dy @ params["w2"].T) * (1.0 - h * h)
    return loss, {"w2": h.T @ dy, "b2": dy.sum(0), "w1": x.T @ dh, "b1": dh.sum(0)}


def _mean_loss(params, xs, ys, scale, a, b, tau, rng) -> float:
    """The contrastive loss (without the anchoring term) over batches of the given pairs
    (at most 20 batches, seeded)."""
    if len(a) < BATCH:
        return float("nan")
    losses = []
    for _ in range(min(20, len(a) // BATCH)):
        pick = rng.choice(len(a), BATCH, replace=False)
        losses.append(_loss(params, xs[a[pick]], ys[b[pick]], scale, tau, grad=False, anchor=0.0)[0])
    return round(float(np.mean(losses)), 4)


class _Adam:
    def __init__(self, params: dict[str, np.ndarray], lr: float = LEARNING_RATE) -> None:
        self.lr, self.t = lr, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for k, g in grads.items():
            self.m[k] = 0.9 * self.m[k] + 0.1 * g
            self.v[k] = 0.999 * self.v[k] + 0.001 * g * g
            m_hat = self.m[k] / (1 - 0.9 ** self.t)
            v_hat = self.v[k] / (1 - 0.999 ** self.t)
            params[k] -= (self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(params[k].dtype)
