"""Words: what a library can answer in plain words. Word lists (`lexicon`), the library's
own vocabulary (`vocabulary`), genre normalisation (`genres`), the sentence-embedding
model (`textmodel`), tag relatedness (`tags`) and the reading of plain words into a
query (`translate`). Nothing here runs a search."""
