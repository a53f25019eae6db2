"""attune's audio indexer: audio -> segments -> embeddings -> attributes."""
