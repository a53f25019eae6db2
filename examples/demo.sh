#!/bin/sh
# attune's tour, on any fresh clone: the query language; a library built from the real
# Spotify playlists in examples/data; search, recipe, expansion and its benchmark; plain
# words; then the main job: install the models, index the openly licensed recordings in
# examples/audio with msd-musicnn, and search them by what they sound like.
#
# Every step must succeed: the first one that fails stops the demo with its name and a
# non-zero exit status. Checks on the answers (which a person can judge by ear) fail
# the same way.
set -u
cd "$(dirname "$0")/.."
DATA="${ATTUNE_DEMO_DATA:-examples/data/spotify_playlists_dev.csv.gz}"
AUDIO="${ATTUNE_DEMO_AUDIO:-examples/audio}"
export ATTUNE_LIBRARY="${ATTUNE_DEMO_LIBRARY:-.demo-library}"
export ATTUNE_MODELS="${ATTUNE_MODELS:-$(pwd)/.models}"
OUT="${TMPDIR:-/tmp}/attune-demo.$$"
trap 'rm -f "$OUT"' EXIT
rm -rf "$ATTUNE_LIBRARY"

fail() {
    printf '\ndemo failed at step "%s": %s\n' "$STEP" "$1" >&2
    exit 1
}

# step NAME ARGS...: print and run `attune ARGS...`; stop the demo if it fails.
step() {
    STEP=$1
    shift
    printf '\n$ attune'; printf " '%s'" "$@"; printf '\n'
    attune "$@" >"$OUT" 2>&1
    status=$?
    cat "$OUT"
    [ "$status" -eq 0 ] || fail "attune exited with status $status"
}

# expect TEXT: the last step's output must contain TEXT.
expect() {
    grep -qF -- "$1" "$OUT" || fail "expected its output to contain '$1'"
}

# refuse TEXT: the last step's output must not contain TEXT.
refuse() {
    if grep -qF -- "$1" "$OUT"; then fail "did not expect '$1' in its output"; fi
}

attune --version || { STEP=install; fail "attune is not installed"; }
echo "== the query language"
step "parse" parse 'genre:soul energy<0.4 like:playlist("Sunday Morning") -artist:"Al Green" limit:50'
step "parse --explain" parse --explain '(genre:soul OR genre:funk) energy:0.2..0.5 like:artist("Al Green") unlike:"loud guitars" in:audio per:artist=2 sort:-valence'
STEP="a mistyped field"
printf "\n\$ attune parse 'energey<0.4'\n"
attune parse 'energey<0.4' >"$OUT" 2>&1
status=$?
cat "$OUT"
[ "$status" -eq 2 ] || fail "a bad query must exit with status 2, not $status"
expect "did you mean 'energy'"

echo; echo "== a library from $DATA (in $ATTUNE_LIBRARY)"
step "import" import spotify "$DATA"
expect "new tracks"
PLAYLIST="${ATTUNE_DEMO_PLAYLIST:-$(attune playlist list | head -n 1 | cut -f 1)}"
if attune playlist list | cut -f 1 | grep -qx "RapCaviar"; then PLAYLIST="RapCaviar"; fi
step "search" search 'genre:trap energy>0.8 -artist:Drake sort:-popularity limit:8'
refuse "Drake"
step "like a playlist" search "like:playlist(\"$PLAYLIST\") per:artist=1 limit:8"
step "explain" explain "like:playlist(\"$PLAYLIST\") year:2015.. artist:~\"^lil\""
step "recipe" recipe "$PLAYLIST"
step "expand" expand "$PLAYLIST" --limit 10
step "eval expand" eval expand
expect "attune expand"

echo; echo "== plain words, genres and tags"
step "ask" ask "chill latin summer hits" --limit 5
step "ask with a name" ask "something like Drake but slower, no trap" --limit 5
step "like free text" search 'genre:pop like:"sad acoustic ballads" limit:5'
step "genres" genres
step "related tags" tags related "hip hop" --limit 5
step "recipe --explain" recipe --explain "$PLAYLIST"
step "analyze" analyze --spaces attr,colisten --top 5

echo; echo "== the main job: index real recordings ($AUDIO) and search them by sound"
step "models install" models install
step "index" index "$AUDIO" --backbone msd-musicnn
expect "0 failed"
step "index errors" index --errors
COLUMNS_SHOWN=title,energy,valence,vocalness,tempo,consistency,tags
step "what the audio says" search "path:\"$AUDIO\" sort:title" --columns "$COLUMNS_SHOWN"
JAZZ="$(pwd)/$AUDIO/Kevin_MacLeod_-_Vibe_Ace.ogg"
[ -f "$JAZZ" ] || JAZZ=$(ls "$(pwd)/$AUDIO"/*.ogg | head -n 1)
step "nearest to the jazz recording" search "like:track(\"$JAZZ\") in:audio limit:6" --columns title,score,tags
step "sung or spoken: vocalness>0.5" search "path:\"$AUDIO\" vocalness>0.5" --columns title,vocalness,tags
if [ "$AUDIO" = examples/audio ]; then
    expect "Let's Go Fishin'"        # the sung folk song
    refuse "Hungarian Dance"         # the string orchestra
fi
step "instrumental: vocalness<0.4" search "path:\"$AUDIO\" vocalness<0.4 sort:-energy" --columns title,energy,vocalness,tags
if [ "$AUDIO" = examples/audio ]; then
    expect "Hungarian Dance"
fi
step "quiet: energy<0.15" search "path:\"$AUDIO\" energy<0.15 sort:energy" --columns title,energy,energy_confidence
if [ "$AUDIO" = examples/audio ]; then
    expect "glacier-bay-humpback"    # the whale
    refuse "Let's Go Fishin'"        # the folk band
fi
step "tracks that build up" search "path:\"$AUDIO\" energy_start<0.2 energy_slope>0.2" --columns title,energy_start,energy_end,energy_slope
if [ "$AUDIO" = examples/audio ]; then
    expect "Tchaikovsky"             # the Sugar Plum Fairy: a quiet opening that grows
    step "a passage: like 0:30 of Vibe Ace" search 'like:track("Vibe Ace" @ 0:30) limit:3'
    expect "passage"
fi
step "how sure: --explain" search --explain "path:\"$AUDIO\" sort:-valence limit:7"
if [ "$AUDIO" = examples/audio ]; then
    expect "tempo 180 (or 90)?"      # the 90 bpm trumpet loop: 180, or 90, not sure which
fi

printf '\ndemo finished: every step succeeded (library in %s, models in %s)\n' "$ATTUNE_LIBRARY" "$ATTUNE_MODELS"
