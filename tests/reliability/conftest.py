"""Fixtures for the reliability tests: a small library on disk, and running `attune` as a user does."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from attune.engine import Library

from tests.engine.conftest import fixture_csv, shared_lib  # noqa: F401  (the fixture library, shared)

ATTUNE = [str(Path(sys.executable).with_name("attune"))]


def bare_tracks(lib: Library, n: int) -> list[str]:
    """Add n tracks with only an id and a title (x000, x001, ...); returns their ids."""
    import pyarrow as pa
    from attune.engine.storage import TRACKS_SCHEMA

    ids = [f"x{i:03d}" for i in range(n)]
    rows = [dict.fromkeys(TRACKS_SCHEMA.names) | {"track_id": t, "title": t, "source": "test"} for t in ids]
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(rows, schema=TRACKS_SCHEMA))
    return ids


def attune(*args: str, cwd=None, env=None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`attune ARGS` in a subprocess, with its output."""
    return subprocess.run([*ATTUNE, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def one_line_error(out: subprocess.CompletedProcess, status: int = 2) -> str:
    """The command failed with `status`, a short message on stderr and no traceback."""
    assert out.returncode == status, (out.returncode, out.stdout[-500:], out.stderr[-2000:])
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr
    assert out.stderr.startswith("error: "), out.stderr
    return out.stderr


@pytest.fixture
def lib_path(tmp_path) -> Path:
    from tests.engine.conftest import write_fixture_csv

    path = tmp_path / "lib"
    Library.open(path).import_spotify([write_fixture_csv(tmp_path / "fixture.csv")])
    return path


@pytest.fixture(scope="session")
def s3_server():
    """A local S3-compatible server (moto's server mode, a real HTTP endpoint on loopback),
    started for the session and stopped after it. Yields the environment that points
    LanceDB, obstore and boto3 at it (the standard AWS variables)."""
    import socket
    import time

    with socket.socket() as probe:  # a free port (moto's server cannot report one it picked)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.1)
        yield {"AWS_ACCESS_KEY_ID": "attune-test", "AWS_SECRET_ACCESS_KEY": "attune-test", "AWS_REGION": "us-east-1",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true"}
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def s3_library(s3_server, monkeypatch, request):
    """A fresh bucket on the local S3 server; yields the library URI inside it."""
    import re
    import uuid

    import boto3

    for key, value in s3_server.items():
        monkeypatch.setenv(key, value)
    bucket = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + "-" + uuid.uuid4().hex[:8]
    boto3.client("s3", endpoint_url=s3_server["AWS_ENDPOINT_URL"]).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/music"
