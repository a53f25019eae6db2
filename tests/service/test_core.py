"""The service's limits, in process: 503 while the library opens, the search time limit,
the bounded queue."""

import asyncio
import threading
import time

import httpx
import pytest
from attune.service import Service, ServiceError, create_app, wrap

pytestmark = pytest.mark.asyncio


async def test_503_while_the_library_opens(library, monkeypatch):
    from attune.engine import Library as Lib

    opened = threading.Event()
    real_open = Lib.open

    def slow_open(*args, **kwargs):
        opened.wait(10)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Lib, "open", slow_open)
    service = Service(library)
    transport = httpx.ASGITransport(app=wrap(create_app(service)), client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://attune") as c:
        health = await c.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "opening"
        busy = await c.get("/search", params={"q": "genre:soul"})
        assert busy.status_code == 503 and busy.json()["error"] == "opening"
        opened.set()
        service.wait_open()
        assert (await c.get("/search", params={"q": "genre:soul"})).status_code == 200
    service.close()


async def test_a_slow_request_is_abandoned_and_the_queue_is_bounded(library):
    service = Service(library, workers=1, queue=1)
    service.wait_open()
    with pytest.raises(ServiceError) as slow:
        await service.call(time.sleep, 0.5, timeout=0.05)
    assert slow.value.status == 503 and "took longer than 0.05 s" in slow.value.message
    await asyncio.sleep(0.6)  # the abandoned call finishes and frees its worker
    calls = [asyncio.create_task(service.call(time.sleep, 0.3)) for _ in range(3)]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, ServiceError)]
    assert len(refused) == 1 and refused[0].status == 503 and refused[0].title == "busy"
    service.close()


async def test_non_loopback_clients_need_a_key_even_without_keys(library):
    service = Service(library)
    service.wait_open()
    transport = httpx.ASGITransport(app=wrap(create_app(service)), client=("192.0.2.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://attune") as c:
        response = await c.get("/search", params={"q": "genre:soul"})
        assert response.status_code == 401 and "loopback only" in response.json()["message"]
        assert (await c.get("/health")).status_code == 200
    service.close()


@pytest.mark.parametrize("kind, status", [("unreachable", 503), ("denied", 500)])
async def test_storage_failures_are_a_retry_later_or_the_services_own_fault(library, monkeypatch, kind, status):
    """The library's object storage not answering is a 503 (retry later, as for a busy
    library); the storage refusing the service's credentials is the service's fault (500),
    not a bad request; both with the engine's message."""
    from attune.engine import Library as Lib
    from attune.engine.storage.place import DeniedError, UnreachableError

    error = (UnreachableError if kind == "unreachable" else DeniedError)(f"the storage at s3://b/m did not work ({kind})")

    def failing(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(Lib, "search", failing)
    service = Service(library)
    service.wait_open()
    transport = httpx.ASGITransport(app=wrap(create_app(service)), client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://attune") as c:
        response = await c.get("/search", params={"q": "genre:soul"})
    assert response.status_code == status, response.text
    assert response.json()["error"] == error.title and f"({kind})" in response.json()["message"]
    service.close()


async def test_the_service_builds_the_attribute_space_once_open_so_the_first_like_query_does_not(library):
    """`Library.warm` runs once the library is open (requests are served meanwhile);
    /health says when it is done."""
    from attune.engine.spaces import computed

    service = Service(library)
    service.wait_open()
    deadline = time.monotonic() + 60
    while service.warmed is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "attribute space" in service.warmed and service.health()["warm"] is True
    assert computed(service.lib.snapshot(), "attr") is not None  # built before any query asked for it
    assert service.search('like:track("t01") limit:3')["count"] == 3
    service.close()


async def test_tracks_another_process_writes_are_warmed_before_a_query_asks(library, tmp_path):
    """After an import by another writer the service builds the new snapshot's attribute
    space itself (11-14 s at 10M tracks: past the search limit if the first `like:` had to)."""
    from attune.engine import Library as Lib
    from attune.engine.spaces import computed

    service = Service(library, watch_seconds=0.05)
    service.wait_open()
    deadline = time.monotonic() + 60
    while service.warmed is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    tracks, first = len(service.lib.snapshot()), service.warmed
    more = _one_track_csv(tmp_path / "more.csv", "new01", "New Song", "New Artist")
    Lib.open(library).import_spotify([more])  # another writer: a Library of its own
    deadline = time.monotonic() + 60
    while True:  # no query here builds a space: only the service's watch can
        snap = service.lib.snapshot()
        if len(snap) == tracks + 1 and computed(snap, "attr") is not None and service.warmed is not first:
            break  # warmed in full again (the genre index, over a budget the audio index map)
        assert time.monotonic() < deadline, "the new tracks' attribute space was not built"
        time.sleep(0.05)
    assert service.search('like:track("new01") limit:3')["count"] == 3
    service.close()


async def test_the_services_watch_never_hides_another_processs_write(library):
    """The service looks for other processes' writes every 0.3 s here. A request that
    comes more than CONSISTENCY_SECONDS after the last request sees every commit made
    before it: had a look renewed the store's cached versions, a commit made just after
    a look would be hidden from requests for a second."""
    from attune.engine import Library as Lib
    from attune.engine.storage.store import CONSISTENCY_SECONDS

    service = Service(library, watch_seconds=0.3)
    service.wait_open()
    other = Lib.open(library)
    tracks = [t for t in other.snapshot().tracks.column("track_id").to_list() if t not in other.playlists.get("Gym").track_ids]
    for track in tracks[:5]:
        time.sleep(CONSISTENCY_SECONDS + 0.1)  # the last request's view has aged
        other.playlists.add("Gym", [track])
        time.sleep(0.05)
        assert track in service.playlist("Gym")["track_ids"]
    service.close()


async def test_playlists_read_here_show_another_processs_edit_at_once(library, tmp_path, monkeypatch):
    """A search takes the tables' versions as read up to CONSISTENCY_SECONDS ago; reading a
    playlist looks again first. Here the cached versions would last a minute: the edit, the
    new playlist and the track imported for it are there on the first read all the same."""
    from attune.engine import Library as Lib
    from attune.engine.storage import store

    monkeypatch.setattr(store, "CONSISTENCY_SECONDS", 60.0)
    service = Service(library, watch_seconds=3600)
    service.wait_open()
    for _ in range(2):  # the first search may store the whitening (a write: the versions are read again)
        assert service.search("artist:newcomer")["results"] == []
    assert service.lib.store.cached_versions is not None  # read now, and kept
    more = _one_track_csv(tmp_path / "more.csv", "n01", "Fresh", "Newcomer")
    other = Lib.open(library)  # another writer: a Library of its own
    other.import_spotify([more])
    other.playlists.add("Gym", ["n01"])
    other.playlists.create("Fresh picks", ["n01"])
    gym = service.playlist("Gym")
    assert gym["track_ids"][-1] == "n01" and gym["tracks"][-1]["title"] == "Fresh"
    assert "Fresh picks" in [p["name"] for p in service.playlists()]
    assert "n01" in service.playlist("Fresh picks", fmt="m3u")
    service.close()


def _one_track_csv(path, track_id: str, title: str, artist: str):
    """A Spotify export of one new track (the fixture's columns)."""
    import csv

    from tests.engine.conftest import HEADER

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerow([track_id, title, artist, 40, f"alb_{track_id}", "New Album", "2021-05-01", "", "", "", "",
                         0.5, 0.7, 5, -8.0, 1, 0.05, 0.3, 0.0, 0.1, 0.6, 120.0, 200000])
    return path
