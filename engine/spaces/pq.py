"""Product quantisation: a few bytes per vector, for ranking many vectors approximately.

    pq = train(sample, subspaces=25)     # k-means (256 centres) in each 8-d slice
    codes = pq.encode(z)                 # (n, 25) uint8
    d = pq.distances(pq.table(centre), codes)   # approximate squared distances

A served space (`served.py`) keeps the codes of every track in memory (25 bytes a track
for 200-d vectors: 250 MB at 10M tracks, where float32 vectors take 8 GB) and ranks the
tracks a selective filter passes with them, then ranks the best few hundred again on
their exact vectors. Jegou, Douze & Schmid, "Product quantization for nearest neighbor
search", IEEE TPAMI 2011 (asymmetric distance computation).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

#: Centres per subspace (codes are one byte).
CENTRES = 256
#: Dimensions per subspace.
SLICE = 8


@dataclass(frozen=True)
class PQ:
    dims: int
    centres: np.ndarray  # (m, CENTRES, SLICE) float32

    @property
    def subspaces(self) -> int:
        return int(self.centres.shape[0])

    def _slices(self, z: np.ndarray) -> np.ndarray:
        """(n, m, SLICE): the vectors cut into subspaces (zero-padded to m * SLICE)."""
        z = np.asarray(z, dtype=np.float32)
        pad = self.subspaces * SLICE - z.shape[1]
        if pad:
            z = np.pad(z, ((0, 0), (0, pad)))
        return z.reshape(len(z), self.subspaces, SLICE)

    def encode(self, z: np.ndarray, chunk: int = 65_536) -> np.ndarray:
        """The nearest centre of each slice of each vector: (n, m) uint8."""
        out = np.empty((len(z), self.subspaces), dtype=np.uint8)
        norms = np.einsum("mkd,mkd->mk", self.centres, self.centres)
        for start in range(0, len(z), chunk):
            parts = self._slices(z[start : start + chunk])
            for j in range(self.subspaces):
                x = parts[:, j, :]
                out[start : start + chunk, j] = np.argmin(norms[j] - 2.0 * (x @ self.centres[j].T), axis=1)
        return out

    def table(self, centre: np.ndarray) -> np.ndarray:
        """(m, CENTRES): squared distance from each slice of `centre` to each centre."""
        parts = self._slices(np.asarray(centre, dtype=np.float32)[None, :])[0]
        diff = self.centres - parts[:, None, :]
        return np.einsum("mkd,mkd->mk", diff, diff)

    def distances(self, table: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Approximate squared distances of the coded vectors to the table's centre: one
        lookup per subspace over the codes laid out subspace by subspace (100,000 codes of
        25 subspaces: 9 ms, against 52 ms for one 2-d fancy index)."""
        by_subspace = np.ascontiguousarray(np.asarray(codes).T)
        out = np.zeros(by_subspace.shape[1], dtype=np.float32)
        for j in range(self.subspaces):
            out += table[j].take(by_subspace[j])
        return out

    def to_json(self) -> dict:
        return {"dims": self.dims, "shape": list(self.centres.shape),
                "centres": base64.b64encode(np.ascontiguousarray(self.centres, dtype="<f4").tobytes()).decode("ascii")}

    @classmethod
    def from_json(cls, data: dict) -> PQ:
        centres = np.frombuffer(base64.b64decode(data["centres"]), dtype="<f4").reshape(data["shape"]).astype(np.float32)
        return cls(int(data["dims"]), centres)


def train(sample: np.ndarray, *, seed: int = 0, iterations: int = 20) -> PQ:
    """Centres for each SLICE-dimensional subspace, by k-means over a sample of vectors."""
    from scipy.cluster.vq import kmeans2

    sample = np.asarray(sample, dtype=np.float32)
    d = sample.shape[1]
    m = -(-d // SLICE)
    pq = PQ(d, np.zeros((m, CENTRES, SLICE), dtype=np.float32))
    parts = pq._slices(sample)
    rng = np.random.default_rng(seed)
    centres = np.zeros_like(pq.centres)
    for j in range(m):
        x = parts[:, j, :].astype(np.float64)
        k = min(CENTRES, len(x))
        found, _ = kmeans2(x, x[rng.choice(len(x), k, replace=False)], iter=iterations, minit="matrix")
        centres[j, :k] = found
        if k < CENTRES:  # too few samples: repeat the centres found (codes never point past them)
            centres[j, k:] = found[np.arange(CENTRES - k) % k]
    return PQ(d, centres)
