"""attune's audio indexer: audio -> segments -> embeddings -> attributes.

    from attune.indexer import load_backbone
    backbone = load_backbone("msd-musicnn")       # after `attune models install`
    seg = backbone.embed_file("song.mp3")          # .starts, .embeddings, .taggram

Imports the engine (to write) and torch.
"""

from .backbones import BACKBONES, DEFAULT_BACKBONE, Backbone, ModelError, Segments, load_backbone

__all__ = ["BACKBONES", "DEFAULT_BACKBONE", "Backbone", "ModelError", "Segments", "load_backbone"]
