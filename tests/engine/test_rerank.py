"""Re-ranking a selective filter's best candidates by the codes on their exact vectors, read
in steps: it stops once no candidate left could be nearer, and reads on while the codes'
errors leave room."""

import numpy as np
import pytest
from attune.engine.spaces import served


@pytest.fixture
def vectors():
    """2,000 vectors; every read of exact vectors is counted."""
    rng = np.random.default_rng(11)
    z = rng.normal(0, 1, (2000, 16)).astype(np.float32)
    reads: list[int] = []

    def read(at):
        reads.append(len(at))
        return z[at]

    return rng, z, read, reads


def _case(rng, z, noise: float):
    centre = rng.normal(0, 1, 16).astype(np.float32)
    exact = ((z - centre) ** 2).sum(axis=1)
    coded = exact + rng.normal(0, noise, len(z)).astype(np.float32)
    order = np.argsort(coded, kind="stable")[:1000]  # the best 1,000 by the codes, best first
    return centre, exact, order, coded[order]


def test_codes_that_order_well_stop_after_the_first_step(vectors):
    rng, z, read, reads = vectors
    centre, exact, order, coded = _case(rng, z, noise=0.01)
    rows, d = served.rerank(read, centre, 10, order, coded, np.zeros(0, dtype=np.float32))
    assert reads == [served.RERANK_FIRST] and len(rows) == served.RERANK_FIRST
    np.testing.assert_allclose(d, exact[rows], rtol=1e-5)
    assert set(rows[np.argsort(d)[:10]]) == set(np.argsort(exact)[:10])


def test_codes_with_wide_errors_read_on_and_find_what_reading_all_would(vectors):
    rng, z, read, reads = vectors
    centre, exact, order, coded = _case(rng, z, noise=4.0)
    rows, d = served.rerank(read, centre, 10, order, coded, np.zeros(0, dtype=np.float32))
    assert len(rows) > served.RERANK_FIRST and reads[1:] and all(r <= served.RERANK_STEP for r in reads[1:])
    everything = order[np.argsort(exact[order])[:10]]  # what reading all 1,000 would give
    assert len(set(rows[np.argsort(d)[:10]]) & set(everything)) >= 9


def test_rows_ranked_beside_the_index_tighten_the_bound(vectors):
    rng, z, read, reads = vectors
    centre, exact, order, coded = _case(rng, z, noise=4.0)
    near = np.zeros(10, dtype=np.float32)  # ten fresh rows nearer than anything: nothing else can enter
    rows, _ = served.rerank(read, centre, 10, order, coded, near)
    assert len(rows) == served.RERANK_FIRST
