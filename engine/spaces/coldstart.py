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

from ..storage import Key, Snapshot
from .served import sorted_holds
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
    plan: FeaturePlan
    report: dict = field(default_factory=dict)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.plan.names

    @property
    def residual(self) -> float:
        """The held-out mean squared error of an estimate (whitened units; see the module docstring)."""
        return float(self.report.get("residual", 0.0))

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
        return {"arrays": base64.b64encode(buffer.getvalue()).decode("ascii"), "features": list(self.plan.names),
                "fill": self.plan.fill, "report": self.report}

    @classmethod
    def from_json(cls, data: dict) -> Mapping:
        arrays = np.load(io.BytesIO(base64.b64decode(data["arrays"])))
        return cls(**{k: arrays[k] for k in ("w1", "b1", "w2", "b2", "x_mean", "x_scale", "out_matrix", "out_bias")},
                   plan=FeaturePlan(tuple(data["features"]), {k: float(v) for k, v in data.get("fill", {}).items()}),
                   report=dict(data.get("report", {})))


@dataclass(frozen=True)
class CoListen:
    """The co-listen vectors learned from the playlists: the rows that have one (sorted)
    and their raw vectors. Every other track has none (its position is estimated)."""

    rows: np.ndarray  # (m,) int64, ascending
    x: np.ndarray  # (m, d) raw vectors

    @classmethod
    def of(cls, x: np.ndarray, has: np.ndarray) -> CoListen:
        rows = np.flatnonzero(has)
        return cls(rows, x[rows])

    def has(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        out[self.rows] = True
        return out

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of some of `self.rows`."""
        return self.x[np.searchsorted(self.rows, rows)]


@dataclass(frozen=True)
class FeaturePlan:
    """Which features a mapping reads: their names, and the value a missing number takes
    (the library's mean when the mapping was trained)."""

    names: tuple[str, ...]
    fill: dict[str, float]

    @property
    def numbers(self) -> list[str]:
        return [n for n in self.names if n in self.fill]

    @property
    def genres(self) -> tuple[str, ...]:
        return tuple(n[len("genre:"):] for n in self.names if n.startswith("genre:"))

    @property
    def audio(self) -> int:
        return sum(1 for n in self.names if n.startswith("audio") and n != "audio?")


def feature_plan(snap: Snapshot, colisten_dims: int, audio_dims: int | None = None) -> FeaturePlan:
    """The features of this library (see the module docstring); `audio_dims` the audio
    embedding's length (None: from the snapshot's audio vectors, read now)."""
    names: list[str] = []
    fill: dict[str, float] = {}
    for dim in [*SPACE_DIMS, "year", "popularity"]:
        if dim not in snap.tracks.columns:
            continue
        values = snap.tracks.numbers_at(dim)  # (over the memory budget read for this only, not kept)
        if np.isnan(values).all():
            continue
        names.append(dim)
        fill[dim] = float(np.nanmean(values))
    own = snap.tracks.text_index("genre")  # the track's own genres, never inherited ones
    if own.rows is not None and len(own.values):
        counts = np.bincount(own.codes, minlength=len(own.values))
        for code in np.argsort(-counts, kind="stable")[:GENRES]:
            if counts[code] == 0:
                break
            names.append(f"genre:{own.values[int(code)]}")
    if audio_dims is None:
        audio, audio_has = snap.tracks.vectors("embedding")
        audio_dims = audio.shape[1] if audio_has.any() else 0
    if audio_dims:
        names += [f"audio{j}" for j in range(audio_dims)] + ["audio?"]
    names += [f"artist_colisten{j}" for j in range(colisten_dims)] + ["artist_colisten?"]
    return FeaturePlan(tuple(names), fill)


def features(snap: Snapshot, learned: CoListen, rows: np.ndarray, plan: FeaturePlan,
             audio: tuple[np.ndarray, np.ndarray] | None = None, numbers: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """(len(rows), F) float32 features of some tracks, as `plan` names them (see the module
    docstring). `audio`: these rows' audio embeddings and whether each has one, `numbers`:
    their numeric columns (NaN: unknown), when the caller read them (over the memory
    budget, a batch at a time); else from the snapshot."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.empty((len(rows), len(plan.names)), dtype=np.float32)
    at = 0
    for dim in plan.numbers:
        values = numbers[dim] if numbers is not None and dim in numbers else snap.tracks.numbers_at(dim, rows)
        out[:, at] = np.where(np.isnan(values), plan.fill[dim], values)
        at += 1
    if plan.genres:
        bits = _genre_bits(snap, plan.genres)[rows]
        for j in range(len(plan.genres)):
            out[:, at] = (bits >> np.uint32(j)) & np.uint32(1)
            at += 1
    if plan.audio:
        if audio is None:
            x, has = snap.tracks.vectors("embedding")
            audio = (x[rows], has[rows]) if x.shape[1] == plan.audio else (np.zeros((len(rows), plan.audio)),
                                                                        np.zeros(len(rows), dtype=bool))
        out[:, at:at + plan.audio] = audio[0]
        out[:, at + plan.audio] = audio[1]
        at += plan.audio + 1
    centroid, known = artist_centroids(snap, learned, rows)
    out[:, at:at + centroid.shape[1]] = centroid
    out[:, at + centroid.shape[1]] = known
    return out


def _genre_bits(snap: Snapshot, genres: tuple[str, ...]) -> np.ndarray:
    """(N,) uint32: bit j set where the track's own genres include genres[j] (built once per
    genre list and track data: a batch of rows then reads its features from it)."""
    def build() -> np.ndarray:
        own = snap.tracks.text_index("genre")
        bits = np.zeros(len(snap), dtype=np.uint32)
        if own.rows is None or not len(own.values):
            return bits
        code = {str(v): c for c, v in enumerate(own.values.to_list())}
        for j, genre in enumerate(genres):
            if genre in code:
                bits[own.rows[own.codes == code[genre]]] |= np.uint32(1 << j)
        return bits

    return snap.memo(Key[np.ndarray](f"coldstart.genre_bits.{'|'.join(genres)}", "tracks"), build)


def artist_centroids(snap: Snapshot, learned: CoListen, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the mean co-listen vector of the other tracks by its artist that have one,
    and whether there is any (a track's own vector never counts towards its own feature)."""
    artist = snap.tracks.text_index("artist")
    nameless = (artist.values == "").to_numpy()
    k = len(artist.values)
    sums = np.zeros((k, learned.x.shape[1]))
    np.add.at(sums, artist.codes[learned.rows], learned.x)
    counts = np.bincount(artist.codes[learned.rows], minlength=k).astype(float)
    codes = artist.codes[rows]
    own = sorted_holds(learned.rows, rows)
    total = sums[codes]
    total[own] -= learned.vectors(rows[own])
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


def train(snap: Snapshot, learned: CoListen, whitener: Whitener, plan: FeaturePlan, *,
          audio: tuple[np.ndarray, np.ndarray] | None = None, steps: int = STEPS) -> Mapping | None:
    """Fit the mapping on the library's playlists (None when there is too little to learn).
    `learned`: the raw co-listen vectors learned from the playlists; `whitener`: the
    space's whitening; `plan`: the features (`feature_plan`); `audio`: the learned rows'
    audio embeddings when the caller read them (else from the snapshot)."""
    started = time.perf_counter()
    if len(learned.rows) < MIN_TRACKS:
        return None
    rows, has = learned.rows, learned.has(len(snap))
    x, names = features(snap, learned, rows, plan, audio), plan.names
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
    z = whitener.transform(learned.x)
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
    return Mapping(params["w1"], params["b1"], params["w2"], params["b2"], x_mean, x_scale, out_matrix, out_bias, plan, report)


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
