"""A library on object storage, each test run on two: S3 (moto's server mode, reached
through the standard AWS variables) and Azure Blob storage (Azurite, Microsoft's emulator
from npm, reached through ATTUNE_STORAGE_OPTIONS), both real HTTP endpoints on loopback
started by the test session.

Import, search, playlist edits, the history, API keys, reopening, two processes writing
at once, a dead writer's lock, and the command line's `--library s3://...` / `az://...`.
"""

import json
import multiprocessing as mp
import os
import time

import pytest
from attune.engine import Library
from attune.engine.storage.place import LEASE_SECONDS, BusyError, ObjectPlace, place_of

from .conftest import attune, bare_tracks

pytestmark = pytest.mark.slow


def test_a_remote_library_imports_searches_edits_and_reopens(object_library, fixture_csv):
    lib = Library.open(object_library.uri)
    assert isinstance(lib.store.place, ObjectPlace) and lib.path == object_library.uri
    report = lib.import_spotify([fixture_csv])
    assert report.tracks_new == 12
    found = lib.search('artist:"Al Green"').frame["track_id"].to_list()
    assert sorted(found) == ["t01", "t02"]
    lib.playlists.create("Mine", ["t01", "t05"])
    lib.playlists.add("Mine", ["t12"])
    like = lib.search('like:playlist("Mine") limit:3').frame["track_id"].to_list()
    assert len(like) == 3 and not {"t01", "t05", "t12"} & set(like)

    again = Library.open(object_library.uri, create=False)  # another process's view: nothing local
    assert again.track_count() == 12
    assert again.playlists.get("Mine").track_ids == ("t01", "t05", "t12")
    assert again.search('like:playlist("Mine") limit:3').frame["track_id"].to_list() == like
    whats = [e.what for e in again.history()]
    assert any("Mine" in w for w in whats) and any("import" in w.lower() for w in whats)


def test_a_remote_library_over_its_budget_is_served_from_its_index(object_library, monkeypatch):
    """`attune optimize` on object storage writes the audio space's table and index and
    records the table version they describe; a library opened with a budget ranks through
    that version and finds the in-memory path's rows."""
    import pyarrow as pa
    from attune.engine.spaces import served as served_module
    from attune.engine.storage import TRACKS_SCHEMA
    from attune.engine.storage import vectors as vector_indexes

    from tests.engine.test_budget import _rows

    monkeypatch.setattr(served_module, "EXACT_ROWS_READ", 100)  # small: take the index
    monkeypatch.setattr(vector_indexes, "NPROBES_SHARE", 1.0)  # every partition: the index is exact
    lib = Library.open(object_library.uri)
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(0, 400, 1), schema=TRACKS_SCHEMA))
    for p in range(3):
        lib.playlists.create(f"List {p}", [f"t{i:04d}" for i in range(p, 400, 17)][:20])
    done = lib.optimize()
    assert done["audio"]["rows"] == 400 and lib.store.vectors.state("audio").table_version >= 0
    query = 'like:track("t0005") in:audio limit:10'
    served = Library.open(object_library.uri, memory_budget="1KB").search(query)
    memory = Library.open(object_library.uri).search(query)
    assert served.plan.served is not None and "IVF_FLAT" in served.plan.served_how
    assert served.frame["track_id"].to_list() == memory.frame["track_id"].to_list()


def test_history_restore_works_on_object_storage(object_library, fixture_csv):
    lib = Library.open(object_library.uri)
    lib.import_spotify([fixture_csv])
    lib.playlists.create("Short", ["t01"])
    lib.playlists.add("Short", ["t02", "t03"])
    added = lib.history(1)[0]
    lib.restore(added.number)
    assert Library.open(object_library.uri).playlists.get("Short").track_ids == ("t01",)


def test_keys_live_in_the_bucket(object_library):
    lib = Library.open(object_library.uri)
    key = lib.keys.create("player", "read")
    other = Library.open(object_library.uri)
    assert other.keys.check(key).name == "player"
    other.keys.revoke("player")
    time.sleep(1.1)  # a remote key file is looked at again at most once a second
    assert lib.keys.check(key) is None


def test_a_missing_remote_library_is_an_error_not_an_empty_one(object_library):
    from attune.engine import LibraryError

    with pytest.raises(LibraryError, match="no attune library at (s3|az)://"):
        Library.open(object_library.uri + "-typo", create=False)


def _adder(uri: str, env: dict, offset: int, n: int, ids: list[str]) -> None:
    os.environ.update(env)
    lib = Library.open(uri)
    for i in range(n):
        lib.playlists.add("Both", [ids[(offset + i) % len(ids)]])


def _importer(uri: str, env: dict, csv_path: str) -> None:
    os.environ.update(env)
    Library.open(uri).import_spotify([csv_path])


def test_two_processes_writing_one_remote_library_both_land(object_library, fixture_csv):
    """An import and playlist edits from two processes at once: every edit is kept and
    every track is there once (the lease serialises read-change-write; the commits are
    LanceDB's conditional PUTs)."""
    lib = Library.open(object_library.uri)
    lib.import_spotify([fixture_csv])
    many = bare_tracks(lib, 30)
    lib.playlists.create("Both", [])
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_adder, args=(object_library.uri, object_library.env, 0, 15, many)),
             ctx.Process(target=_adder, args=(object_library.uri, object_library.env, 15, 15, many)),
             ctx.Process(target=_importer, args=(object_library.uri, object_library.env, str(fixture_csv)))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    after = Library.open(object_library.uri)
    assert sorted(after.playlists.get("Both").track_ids) == many
    ids = after.store.read("tracks", ["track_id"])["track_id"].to_pylist()
    assert len(ids) == len(set(ids)) == 12 + 30


def test_a_dead_writers_lease_is_taken_over_and_a_live_one_waits(object_library):
    place = place_of(object_library.uri)
    assert isinstance(place, ObjectPlace)
    release = place.acquire("playlists", wait=1)
    with pytest.raises(BusyError, match="playlists"):
        place.acquire("playlists", wait=0.5)  # held and renewed: a second writer waits, then a retryable error
    release()
    place.acquire("playlists", wait=1)()  # released: taken at once
    # A holder that died: its lease says it expired, nobody renews it.
    place.write(".locks/meta.lock", json.dumps({"owner": "gone:1", "until": time.time() - 1}).encode())
    started = time.monotonic()
    place.acquire("meta", wait=5)()
    assert time.monotonic() - started < LEASE_SECONDS


def test_the_command_line_takes_a_remote_library(object_library, fixture_csv):
    out = attune("--library", object_library.uri, "import", "spotify", str(fixture_csv), env=object_library.env)
    assert out.returncode == 0, out.stderr
    out = attune("search", 'artist:"Al Green"', "--library", object_library.uri, "--format", "csv", env=object_library.env)
    assert out.returncode == 0, out.stderr
    assert "Let's Stay Together" in out.stdout and "Tired of Being Alone" in out.stdout
    missing = attune("search", "energy>0", "--library", object_library.uri + "-nothing", env=object_library.env)
    assert missing.returncode != 0 and "no attune library" in missing.stderr


def test_storage_that_stops_answering_is_a_retryable_error_not_a_damaged_library(tmp_path, monkeypatch, fixture_csv):
    """The server goes away under an open library: a search, an edit, opening it again and
    the command line say the storage did not answer (retry), never that the library is
    damaged or how to restore it (a network error is no reason to restore anything)."""
    import subprocess
    import sys

    import boto3
    from attune.engine.storage.place import UnreachableError
    from attune.engine.storage.store import DamagedError

    from .conftest import _free_port, _wait_for

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ACCESS_KEY_ID": "attune-test", "AWS_SECRET_ACCESS_KEY": "attune-test", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ALLOW_HTTP": "true"}
    try:
        _wait_for(port, server, "moto S3")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket="goes-away")
        uri = "s3://goes-away/music"
        Library.open(uri).import_spotify([fixture_csv])
        lib = Library.open(uri)
        ids = lib.search("energy>0").frame["track_id"].to_list()
        assert ids
    finally:
        server.terminate()
        server.wait(10)
    for attempt in (lambda: lib.search("energy>0.2"), lambda: lib.playlists.create("New", ids[:2]),
                    lambda: Library.open(uri)):
        with pytest.raises(UnreachableError) as caught:
            attempt()
        assert not isinstance(caught.value, DamagedError)
        text = str(caught.value)
        assert f"the storage at {uri} did not answer" in text and "retry" in text, text
        assert "restore" not in text and ".rs:" not in text and "max_retries" not in text, text
    out = attune("search", "--library", uri, "genre:soul", env=env)
    assert out.returncode == 1, out.stderr  # not the user's input: 1, not 2
    assert out.stderr.startswith(f"error: the storage at {uri} did not answer") and "Traceback" not in out.stderr


def test_credentials_the_storage_refuses_are_told_as_such(azure_server, monkeypatch):
    """Azurite checks the shared key: a wrong one is a DeniedError naming the credentials,
    not a missing or damaged library."""
    from attune.engine.storage.place import DeniedError

    from .conftest import create_container

    endpoint, options = azure_server
    monkeypatch.setenv("AZURITE_BLOB_STORAGE_URL", endpoint)
    create_container(endpoint, "refused")
    uri = "az://refused/music"
    Library.open(uri, storage_options=options).playlists.create("Kept", [])
    wrong = dict(options, account_key=base64_key(b"not the account key"))
    for attempt in (lambda: Library.open(uri, storage_options=wrong, create=False),
                    lambda: Library.open(uri, storage_options=wrong)):
        with pytest.raises(DeniedError, match=f"the storage at {uri} refused access .*check the credentials") as caught:
            attempt()
        assert "AZURE_STORAGE_ACCOUNT_KEY" in str(caught.value) and "AWS_" not in str(caught.value)


def base64_key(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def test_a_service_started_while_the_storage_is_down_serves_once_it_is_back(monkeypatch, fixture_csv):
    """`attune serve` opening a library whose storage does not answer keeps trying (503
    'storage unreachable ... keeps trying', /health 'retrying') and serves once it is back,
    without a restart."""
    import subprocess
    import sys

    import boto3
    from attune.service import Service, ServiceError
    from attune.service import core as service_core

    from .conftest import _free_port, _wait_for

    port = _free_port()
    env = {"AWS_ACCESS_KEY_ID": "attune-test", "AWS_SECRET_ACCESS_KEY": "attune-test", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ALLOW_HTTP": "true"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(service_core, "OPEN_RETRY", (0.2, 0.5))
    uri = "s3://comes-back/music"
    service = Service(uri)
    server = None
    try:
        deadline = time.monotonic() + 60
        while service.health()["status"] != "retrying":
            assert service.health()["status"] == "opening" and time.monotonic() < deadline
            time.sleep(0.1)
        with pytest.raises(ServiceError) as refused:
            service.search("genre:soul")
        assert refused.value.status == 503 and refused.value.title == "storage unreachable"
        assert "did not answer" in refused.value.message and "keeps trying" in refused.value.message
        server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(port, server, "moto S3")
        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket="comes-back")
        Library.open(uri).import_spotify([fixture_csv])
        service.wait_open(60)
        assert service.health()["status"] == "ok"
        # (it may have opened the bucket before the import landed: another process's writes
        # are seen within CONSISTENCY_SECONDS)
        while len(service.search("genre:soul")["results"]) != 4:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        service.close()
        if server is not None:
            server.terminate()
            server.wait(10)
