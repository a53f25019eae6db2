#!/bin/sh
# attune's tour: the query language, then a fresh library built from real
# Spotify playlists (the dev data beside the repository, else a small sample),
# with a search, a recipe, an expansion and the expansion benchmark.
set -u
DATA="${ATTUNE_DEMO_DATA:-../shared/testdata/spotify_playlists_dev.csv}"
[ -f "$DATA" ] || DATA=examples/data/small_library.csv
export ATTUNE_LIBRARY="${ATTUNE_DEMO_LIBRARY:-.demo-library}"
rm -rf "$ATTUNE_LIBRARY"

run() {
    printf '\n$ attune'; printf " '%s'" "$@"; printf '\n'
    attune "$@"
    status=$?
    [ "$status" -eq 0 ] || printf '(exit status %s)\n' "$status"
}

attune --version
echo "== the query language"
run parse 'genre:soul energy<0.4 like:playlist("Sunday Morning") -artist:"Al Green" limit:50'
run parse --explain '(genre:soul OR genre:funk) energy:0.2..0.5 like:artist("Al Green") unlike:"loud guitars" in:audio per:artist=2 sort:-valence'
run parse 'energey<0.4'

echo; echo "== a library from $DATA (in $ATTUNE_LIBRARY)"
run import spotify "$DATA"
PLAYLIST=$(attune playlist list | head -n 1 | cut -f 1)
[ "$DATA" = examples/data/small_library.csv ] || PLAYLIST="RapCaviar"
run search 'genre:trap energy>0.8 -artist:Drake sort:-popularity limit:8'
run search "like:playlist(\"$PLAYLIST\") per:artist=1 limit:8"
run explain "like:playlist(\"$PLAYLIST\") year:2015.. artist:~\"^lil\""
run recipe "$PLAYLIST"
run expand "$PLAYLIST" --limit 10
run eval expand
exit 0
