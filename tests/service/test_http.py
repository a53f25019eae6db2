"""`attune serve` over real HTTP: every endpoint, the error bodies, the key matrix, the limits."""

import json
import time
import xml.etree.ElementTree as ET

import httpx
import pytest
from attune.engine.storage.store import CONSISTENCY_SECONDS

from .conftest import Server, attune

pytestmark = pytest.mark.slow


def test_reading_endpoints(server):
    c = httpx.Client(base_url=server.url)
    health = c.get("/health").json()
    assert health["status"] == "ok" and health["tracks"] == 12
    assert c.get("/stats").json()["playlists"] == 3

    body = c.get("/search", params={"q": "artist:green   energy<0.5", "limit": 5}).json()
    assert body["query"] == "artist:green energy<0.5"  # the canonical query that ran
    assert [r["track_id"] for r in body["results"]] == ["t01", "t02"]
    assert {"track_id", "title", "artist", "album", "year", "score", "energy", "valence", "tempo"} <= set(body["results"][0])

    m3u = c.get("/search", params={"q": "playlist:Gym", "format": "m3u"})
    assert m3u.headers["content-type"].startswith("audio/x-mpegurl") and m3u.text.startswith("#EXTM3U")
    xspf = c.get("/search", params={"q": "playlist:Gym", "format": "xspf"})
    assert len(ET.fromstring(xspf.text).findall(".//{http://xspf.org/ns/0/}track")) == 4
    csv = c.get("/search", params={"q": "artist:green", "format": "csv"}).text.splitlines()
    assert csv[0].startswith("track_id,title,artist") and len(csv) == 3

    explained = c.get("/explain", params={"q": "genre:soul like:playlist(\"Sunday Morning\")"}).json()
    assert explained["query"] == 'genre:soul like:playlist("Sunday Morning")' and "space" in explained["plan"]
    reasons = c.get("/explain", params={"q": "artist:green", "results": "true"}).json()
    assert reasons["results"][0]["matched"] == {"artist:green": True}

    answer = c.post("/ask", json={"text": "calm soul"}).json()
    assert answer["asked"] == "calm soul" and "energy<" in answer["query"] and "results" in answer

    listed = {p["name"]: p for p in c.get("/playlists").json()}
    assert listed["Sunday Morning"]["tracks"] == 4
    sunday = c.get("/playlists/sunday morning").json()  # any case
    assert sunday["track_ids"] == ["t01", "t02", "t03", "t08"] and sunday["tracks"][0]["title"] == "Let's Stay Together"
    assert c.get("/playlists/Gym", params={"format": "m3u"}).text.startswith("#EXTM3U")

    recipe = c.get("/playlists/Sunday Morning/recipe").json()
    assert "like:playlist" in recipe["query"] and recipe["description"].startswith("recipe of 'Sunday Morning'")
    expanded = c.get("/playlists/Sunday Morning/expand", params={"limit": 3}).json()
    assert expanded["playlist"] == "Sunday Morning" and expanded["query"].startswith(recipe["query"].split(" like:")[0])
    assert all(r["track_id"] not in sunday["track_ids"] and r["why"] for r in expanded["results"])
    discover = c.get("/playlists/Sunday Morning/expand", params={"limit": 5, "discover": "true"}).json()
    assert not {r["artist"] for r in discover["results"]} & {"Al Green", "Ann Peebles", "Sigur Rós"}

    track = c.get("/tracks/t08").json()
    assert track["title"] == "Hoppípolla" and track["playlists"] == ["Sunday Morning"] and "energy" in track
    doc = c.get("/openapi.json").json()
    for path in ("/search", "/ask", "/playlists/{name}/expand", "/tracks/{track_id}", "/playlists/{name}/tracks"):
        assert path in doc["paths"], path
    assert c.get("/docs").status_code == 200


def test_editing_endpoints(server, library):
    c = httpx.Client(base_url=server.url)
    made = c.post("/playlists", json={"name": "Road Trip", "track_ids": ["t10", "t05"]})
    assert made.status_code == 201 and made.json()["tracks"] == 2
    assert c.post("/playlists", json={"name": "road trip"}).status_code == 409
    assert c.post("/playlists/Road Trip/tracks", json={"track_ids": ["t11", "t01"]}).json()["tracks"] == 4
    assert c.post("/playlists/Road Trip/tracks", json={"track_ids": ["t12"], "position": 0}).json()["tracks"] == 5
    assert c.post("/playlists/Road Trip/move", json={"track_id": "t01", "index": 1}).status_code == 200
    assert c.delete("/playlists/Road Trip/tracks/t05").json()["tracks"] == 4
    assert c.get("/playlists/Road Trip").json()["track_ids"] == ["t12", "t01", "t10", "t11"]
    assert c.post("/playlists/Road Trip/rename", json={"name": "Drive"}).json()["name"] == "Drive"
    assert attune("playlist", "show", "Drive", library=library).stdout.count("\n") >= 4  # the edits are in the library
    assert c.delete("/playlists/Drive").json() == {"deleted": "Drive"}
    assert c.get("/playlists/Drive").status_code == 404


def test_error_bodies(server):
    c = httpx.Client(base_url=server.url)
    bad = c.get("/search", params={"q": "energey<0.4"})
    assert bad.status_code == 400
    assert bad.json() | {} == {"error": "query error", "message": "unknown field 'energey'", "position": 0,
                               "expected": ["a field"], "hint": "did you mean 'energy'?", "query": "energey<0.4",
                               "status": 400}
    unclosed = c.get("/search", params={"q": "genre:(soul"}).json()
    assert unclosed["position"] == 11 and unclosed["expected"]
    assert c.get("/search", params={"q": ""}).status_code == 400
    assert c.get("/search", params={"q": "x" * 20_001}).json()["message"].startswith("the query is 20,001 characters")
    assert c.get("/search", params={"q": "genre:soul", "format": "mp3"}).json()["message"].startswith("unknown format")
    assert c.get("/search", params={"q": "genre:soul", "limit": 0}).status_code == 400

    missing = c.get("/playlists/Sunday Mornin")
    assert missing.status_code == 404 and missing.json()["hint"] == "did you mean 'Sunday Morning'?"
    for method, path in (("GET", "/playlists/nope/recipe"), ("GET", "/playlists/nope/expand"), ("GET", "/tracks/t99"),
                         ("DELETE", "/playlists/Gym/tracks/t01"), ("POST", "/playlists/nope/tracks"), ("GET", "/nothing")):
        response = c.request(method, path, json={"track_ids": ["t01"]} if method == "POST" else None)
        assert response.status_code == 404 and response.json()["message"], (method, path)
    assert c.post("/playlists/Gym/tracks", json={"track_ids": ["t99"]}).status_code == 400  # no such track
    assert c.post("/playlists/Gym/tracks", json={"ids": ["t01"]}).json()["message"].startswith("track_ids")
    assert c.post("/playlists", content=b"{not json", headers={"content-type": "application/json"}).status_code == 400

    big = c.post("/playlists", content=b"{" + b" " * (1 << 20) + b"}", headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.json()["error"] == "too large"

    def chunks():
        for _ in range(40):
            yield b" " * 65536

    streamed = c.post("/playlists", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_keys_matrix(library):
    assert attune("keys", "list", library=library).stdout.startswith("no keys")
    read = attune("keys", "create", "player", library=library).stdout.strip().splitlines()[-1]
    write = attune("keys", "create", "curator", "--scope", "write", library=library).stdout.strip().splitlines()[-1]
    assert read.startswith("attune_") and write.startswith("attune_") and read != write
    listed = attune("keys", "list", library=library).stdout
    assert "player" in listed and "curator" in listed and read not in listed
    assert read not in (library / "access" / "keys.json").read_text()  # stored hashed
    server = Server(library)
    try:
        c = httpx.Client(base_url=server.url)

        def as_(key):
            return {"Authorization": f"Bearer {key}"} if key else {}

        assert c.get("/health").status_code == 200  # open to all
        for key, status in ((None, 401), ("attune_wrong", 401), ("Basic xyz", 401), (read, 200), (write, 200)):
            response = c.get("/search", params={"q": "genre:soul"}, headers=as_(key) if key != "Basic xyz" else
                             {"Authorization": key})
            assert response.status_code == status, (key, response.text)
        assert c.get("/search", params={"q": "genre:soul"}).headers["www-authenticate"] == "Bearer"
        assert c.get("/openapi.json").status_code == 401 and c.get("/nothing").status_code == 401
        for key, status in ((None, 401), (read, 403), (write, 201)):
            response = c.post("/playlists", json={"name": "K"}, headers=as_(key))
            assert response.status_code == status, (key, response.text)
        assert c.delete("/playlists/K", headers=as_(read)).status_code == 403
        assert c.post("/playlists/K/tracks", json={"track_ids": ["t01"]}, headers=as_(read)).json()["error"] == "forbidden"
        assert c.delete("/playlists/K", headers=as_(write)).status_code == 200
        # a key revoked while the service runs is refused at once
        attune("keys", "revoke", "player", library=library)
        assert c.get("/search", params={"q": "genre:soul"}, headers=as_(read)).status_code == 401
        assert c.get("/search", params={"q": "genre:soul"}, headers=as_(write)).status_code == 200
    finally:
        server.stop()
    assert attune("keys", "revoke", "nobody", library=library, check=False).returncode == 2


def test_other_addresses_need_a_key(library):
    refused = attune("serve", "--host", "0.0.0.0", "--port", "0", library=library, check=False)
    assert refused.returncode != 0 and "refusing to listen on 0.0.0.0 without a key" in refused.stderr
    key = attune("keys", "create", "remote", library=library).stdout.strip().splitlines()[-1]
    server = Server(library, host="0.0.0.0")
    try:
        c = httpx.Client(base_url=server.url)
        assert c.get("/search", params={"q": "genre:soul"}).status_code == 401  # keys exist: loopback needs one too
        assert c.get("/search", params={"q": "genre:soul"}, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    finally:
        server.stop()


def test_a_write_from_another_process_is_picked_up(server, library, tmp_path):
    c = httpx.Client(base_url=server.url)
    assert c.get("/search", params={"q": "artist:newcomer"}).json()["results"] == []
    more = tmp_path / "more.csv"
    header = (tmp_path / "fixture.csv").read_text().splitlines()[0]
    cells = {name: "" for name in header.split(",")}
    cells.update(track_id="n01", track_name="Fresh", track_artist="Newcomer", track_popularity="10", energy="0.5",
                 valence="0.5", playlist_name="New", playlist_id="pl_new", duration_ms="200000")
    more.write_text(header + "\n" + ",".join(cells[h] for h in header.split(",")) + "\n")
    attune("import", "spotify", str(more), library=library)
    # A search sees another process's commit within CONSISTENCY_SECONDS (the service's own
    # look for writes may have read the versions just before it); reading a playlist at once.
    deadline = time.monotonic() + CONSISTENCY_SECONDS + 1.0
    while not (found := c.get("/search", params={"q": "artist:newcomer"}).json()["results"]):
        assert time.monotonic() < deadline, "the imported track was not found within the consistency delay"
        time.sleep(0.05)
    assert [r["track_id"] for r in found] == ["n01"]
    attune("playlist", "add", "Gym", "n01", library=library)
    assert "n01" in c.get("/playlists/Gym").json()["track_ids"]


def test_json_everywhere(server):
    """Every response body a script reads is JSON with the error fields when it fails."""
    c = httpx.Client(base_url=server.url)
    for path in ("/search?q=genre:(", "/tracks/none", "/playlists/none", "/ask"):
        response = c.post(path, json={}) if path == "/ask" else c.get(path)
        body = json.loads(response.text)
        assert set(body) >= {"error", "message", "position", "expected", "hint", "status"}


def test_the_voice_client_example(server):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "voice_client.py"
    out = subprocess.run([sys.executable, str(script), "calm", "soul"], capture_output=True, text=True,
                         env=dict(os.environ, ATTUNE_URL=server.url), timeout=60)
    assert out.returncode == 0, out.stderr
    assert "query: " in out.stdout and "heard 'calm'" in out.stdout
