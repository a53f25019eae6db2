"""attune's audio indexer: audio -> segments -> embeddings -> attributes.

    from attune.indexer import load_backbone
    backbone = load_backbone("msd-musicnn")       # after `attune models install`
    seg = backbone.embed_file("song.mp3")          # .starts, .embeddings, .taggram
    index(Library.open("~/attune"), ["~/Music"])  # a folder into a library

Imports the engine (to write) and torch.
"""

from collections.abc import Iterable
from pathlib import Path

from .backbones import BACKBONES, DEFAULT_BACKBONE, Backbone, ModelError, Segments, load_backbone
from .pipeline import IndexReport
from .pipeline import index as index_here


def index(lib, paths: Iterable[str | Path], *, ray: str | None = None, **options) -> IndexReport:
    """Index audio files and folders into the library: on this machine (`pipeline.index`,
    whose keyword arguments `options` are), or on a Ray cluster when `ray` is given ("local"
    starts one here, else the cluster's address; `distributed.py`)."""
    if ray is None:
        return index_here(lib, paths, **options)
    from .distributed import index_on_ray

    unused = set(options) - {"backbone", "precision", "prune", "batch_size", "progress"}
    if unused:
        raise ModelError(f"{', '.join(sorted(unused))} do not apply to a run on Ray")
    return index_on_ray(lib, [Path(p) for p in paths], address=ray, backbone=options.get("backbone", DEFAULT_BACKBONE),
                        precision=options.get("precision"), prune=options.get("prune", False),
                        batch_size=options.get("batch_size", 16), progress=options.get("progress"))

__all__ = ["BACKBONES", "DEFAULT_BACKBONE", "Backbone", "IndexReport", "ModelError", "Segments", "index", "load_backbone"]
