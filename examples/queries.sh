#!/bin/sh
# Scripts pass query strings to `attune search` and read JSON or CSV back.
# Usage: ATTUNE_LIBRARY=/path/to/library sh examples/queries.sh
set -eu
attune search 'genre:soul energy<0.4 limit:5' --format csv
attune search "like:artist(\"${ARTIST:-Al Green}\") per:artist=1 limit:5" --format json
# A bad query exits 2 with the caret message on stderr:
attune search 'energey<0.4' || echo "exit status $?"
