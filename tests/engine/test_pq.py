"""Product quantisation: the distances from a centre to coded vectors are those to the
centres the codes name, computed subspace by subspace."""

import numpy as np
from attune.engine.spaces.pq import SLICE, train


def test_coded_distances_are_the_distances_to_the_reconstructed_vectors():
    rng = np.random.default_rng(4)
    z = rng.normal(0, 1, (3000, 20)).astype(np.float32)  # 20 dims: the last slice is padded
    pq = train(z, iterations=5)
    codes = pq.encode(z[:500])
    centre = rng.normal(0, 1, 20).astype(np.float32)
    rebuilt = np.concatenate([pq.centres[j, codes[:, j]] for j in range(pq.subspaces)], axis=1)[:, :20]
    padded = np.pad(centre, (0, pq.subspaces * SLICE - 20))[:20]
    want = ((rebuilt - padded) ** 2).sum(axis=1)
    np.testing.assert_allclose(pq.distances(pq.table(centre), codes), want, rtol=1e-4, atol=1e-4)
    # Encoding picks, per subspace, the nearest centre: no other code is nearer the vector.
    for j in range(pq.subspaces):
        x = np.pad(z[:500], ((0, 0), (0, pq.subspaces * SLICE - 20)))[:, j * SLICE : (j + 1) * SLICE]
        d = ((x[:, None, :] - pq.centres[j][None]) ** 2).sum(-1)
        assert np.allclose(d[np.arange(500), codes[:, j]], d.min(axis=1), atol=1e-4)
