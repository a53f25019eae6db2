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

echo; echo "== plain words, genres and tags"
run ask "chill latin summer hits" --limit 5
run ask "something like Drake but slower, no trap" --limit 5
run search 'genre:pop like:"sad acoustic ballads" limit:5'
run genres
run tags related "hip hop" --limit 5
run recipe --explain "$PLAYLIST"
run analyze --spaces attr,colisten --top 5

echo; echo "== audio: the musicnn models, the test clip (and \$ATTUNE_DEMO_MUSIC if set)"
CLIP_DIR=../shared/testdata/audio
if [ -d "$CLIP_DIR" ]; then
    run models install
    mkdir -p .demo-audio
    cp "$CLIP_DIR"/*.mp3 .demo-audio/
    # three 9-second excerpts of the clip, so the audio space has neighbours to rank
    python -c "
import soundfile, sys
from attune.indexer.audio import decode
d = decode(sys.argv[1])
for i, start in enumerate((0, 9, 18)):
    soundfile.write(f'.demo-audio/excerpt-{i}.wav', d.samples[start * 16000:(start + 9) * 16000], 16000)
" "$(ls "$CLIP_DIR"/*.mp3 | head -n 1)"
    run index .demo-audio ${ATTUNE_DEMO_MUSIC:-}
    run index --errors
    run search 'path:demo-audio tempo:60..200' --format csv
    run search "like:track(\"$(pwd)/.demo-audio/excerpt-0.wav\") in:audio limit:5"
else
    echo "(no $CLIP_DIR beside the repository: skipping audio)"
fi
exit 0
