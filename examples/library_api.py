"""The engine from Python: import, search, recipe, expand, playlists.

    python examples/library_api.py [SPOTIFY_CSV]
"""

import sys
import tempfile

from attune.engine import Library
from attune.query import QueryError

data = sys.argv[1] if len(sys.argv) > 1 else "examples/data/small_library.csv"
lib = Library.open(tempfile.mkdtemp(prefix="attune-"))
print(lib.import_spotify([data]))

name = lib.playlists.names()[0]
results = lib.search(f'like:playlist("{name}") energy>0.3 limit:5')
print(results.to_polars().select("title", "artist", "year", "energy", "score"))
print(results.explain())

recipe = lib.recipe(name)
print("recipe:", recipe)  # a query: edit it and run it with lib.search(str(recipe))
print(lib.expand(name, limit=5).to_polars().select("title", "artist", "score"))

lib.playlists.create("Picks", results.track_ids[:2])
print(lib.playlists.export("Picks", "m3u"))

try:
    lib.search("energey<0.4")
except QueryError as err:  # .message, .position, .expected, .hint
    print(err)
