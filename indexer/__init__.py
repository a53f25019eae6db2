"""attune's audio indexer: audio -> segments -> embeddings -> attributes.

    from attune.indexer import load_backbone
    backbone = load_backbone("msd-musicnn")       # after `attune models install`
    seg = backbone.embed_file("song.mp3")          # .starts, .embeddings, .taggram
    index(Library.open("~/attune"), ["~/Music"])  # a folder into a library

Imports the engine (to write) and torch.
"""

from .backbones import BACKBONES, DEFAULT_BACKBONE, Backbone, ModelError, Segments, load_backbone
from .pipeline import IndexReport, index

__all__ = ["BACKBONES", "DEFAULT_BACKBONE", "Backbone", "IndexReport", "ModelError", "Segments", "index", "load_backbone"]
