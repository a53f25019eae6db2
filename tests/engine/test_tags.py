"""Tag relatedness by LSI over the track-by-tag matrix."""

import numpy as np
from attune.engine.words.tags import fit


def corpus():
    docs = []
    for i in range(200):
        if i % 2:
            docs.append(["soul", "funk"] + (["motown"] if i % 3 else []))
        else:
            docs.append(["metal", "punk"] + (["hardcore"] if i % 3 else []))
    docs += [["lonely tag"]]  # on one track only: left out
    return docs


def test_tags_that_share_tracks_are_related_and_others_are_not():
    space = fit(corpus())
    related = dict(space.related("soul"))
    assert set(list(related)[:2]) == {"funk", "motown"}
    assert related["funk"] > 0.9 and related["metal"] < 0.3
    assert "lonely tag" not in space and space.related("lonely tag") == []


def test_related_is_deterministic_and_cosines_are_bounded():
    a, b = fit(corpus()), fit(corpus())
    assert a.related("metal") == b.related("metal")
    assert np.allclose(np.linalg.norm(a.vectors, axis=1), 1.0, atol=1e-5)
    assert all(-1.0001 <= s <= 1.0001 for _, s in a.related("punk"))


def test_indirect_relations_come_through_shared_neighbours():
    # "trap" never appears with "soul", but both appear with "hip hop" and "r&b"
    docs = [["soul", "r&b"]] * 30 + [["r&b", "hip hop"]] * 30 + [["hip hop", "trap"]] * 30
    docs += [["polka", "accordion"]] * 30 + [["accordion", "folk"]] * 30
    space = fit(docs)
    sims = dict(space.related("soul", limit=20))
    assert sims["trap"] > sims["polka"] and sims["trap"] > sims["accordion"]
