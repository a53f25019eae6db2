"""What a voice front end does with `attune serve`: words in, the query shown, tracks played.

    attune serve &                                   # loopback, no key needed until one exists
    python examples/voice_client.py "something calm and acoustic for a sunday morning"
    python examples/voice_client.py --play mpv "upbeat 80s pop"   # hand the M3U to a player

Environment: ATTUNE_URL (default http://127.0.0.1:8765) and ATTUNE_KEY (a key from
`attune keys create NAME`, once the library has keys).

1. POST /ask with the transcribed words: the service says how it read each phrase and the
   query they became (a voice UI shows or speaks it, so the listener can correct it).
2. GET /search?q=<that query>&format=m3u: the tracks as a playlist of file paths.
3. The first tracks' paths go to a player (or are printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import httpx


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("words", nargs="+", help="what the listener said")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--play", metavar="PLAYER", help="a player that takes an M3U file (mpv, vlc, ...)")
    args = parser.parse_args()

    url = os.environ.get("ATTUNE_URL", "http://127.0.0.1:8765")
    key = os.environ.get("ATTUNE_KEY")
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"} if key else {}, timeout=30)

    asked = client.post("/ask", json={"text": " ".join(args.words), "limit": args.limit})
    if asked.status_code != 200:
        print(f"attune: {asked.json()['message']}", file=sys.stderr)
        return 1
    answer = asked.json()
    for term in answer["terms"]:
        print(f"  heard {term['phrase']!r:<28} -> {term['terms']}{'  (dropped)' if term['dropped'] else ''}")
    if answer["unmapped"]:
        print(f"  not understood: {', '.join(answer['unmapped'])}")
    print(f"query: {answer['query']}")
    if not answer["results"]:
        print("nothing matches; try other words")
        return 0
    for n, row in enumerate(answer["results"][:5], start=1):
        print(f"  {n}. {row['title']} - {row['artist']}")

    playlist = client.get("/search", params={"q": answer["query"], "limit": args.limit, "format": "m3u"})
    playlist.raise_for_status()
    paths = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
    if args.play and shutil.which(args.play):
        with tempfile.NamedTemporaryFile("w", suffix=".m3u", delete=False) as handle:
            handle.write(playlist.text)
        subprocess.run([args.play, handle.name], check=False)
    else:
        print("to play:", *paths[:3], sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
