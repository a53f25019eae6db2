#!/bin/sh
# A tour of the attune query language: canonical forms, explanations and errors.
set -u

parse() {
    printf "\n\$ attune parse %s'%s'\n" "${2:+$2 }" "$1"
    attune parse ${2:-} "$1"
    status=$?
    [ "$status" -eq 0 ] || printf '(exit status %s)\n' "$status"
}

attune --version
parse 'genre:soul energy<0.4 like:playlist("Sunday Morning") -artist:"Al Green" limit:50'
parse 'genre:soul | genre:funk  AND  NOT year:..1969   length<3:30'
parse '(genre:soul OR genre:funk) energy:0.2..0.5 like:artist("Al Green") unlike:"loud guitars" in:audio per:artist=2 sort:-valence' --explain
parse 'energey<0.4'
parse 'like:playlist("Sunday Morning"'
parse 'year:1990..abc'
parse 'limit:5 limit:6'
exit 0
