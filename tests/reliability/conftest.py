"""Fixtures for the reliability tests: a small library on disk, libraries on object storage
(S3 on moto's server, Azure Blob on Azurite), and running `attune` as a user does."""

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
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_for(port, server, "moto S3")
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


def _free_port() -> int:
    import socket

    with socket.socket() as probe:  # a free port (the servers cannot report one they picked)
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port: int, server: subprocess.Popen, name: str) -> None:
    import socket
    import time

    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the {name} server did not start") from None
            time.sleep(0.1)


#: Azurite's well-known development account (the same in every Azurite, not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#: Where the tests install Azurite (npm) on first use.
AZURITE_HOME = Path(__file__).resolve().parents[2] / ".cache" / "azurite"


@pytest.fixture(scope="session")
def azure_server():
    """Azurite's Blob service (Microsoft's Azure Storage emulator, from npm: a real HTTP
    endpoint on loopback), installed into .cache/azurite on first use, started for the
    session and stopped after it. Yields the storage options that point LanceDB and obstore
    at it: (the Blob endpoint, storage options). Skipped where npm is not installed."""
    import shutil
    import tempfile

    binary = AZURITE_HOME / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        if shutil.which("npm") is None:
            pytest.skip("Azure Blob tests need Azurite, from npm, and npm is not installed")
        subprocess.run(["npm", "install", "--prefix", str(AZURITE_HOME), "azurite@3.35.0", "--no-audit", "--no-fund"],
                       check=True, capture_output=True, timeout=600)
    port = _free_port()
    data = tempfile.mkdtemp(prefix="azurite-")
    server = subprocess.Popen([str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", data,
                               "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, server, "Azurite")
        # The emulator's address goes in AZURITE_BLOB_STORAGE_URL (object_store's emulator mode
        # reads it there; without it, 127.0.0.1:10000).
        yield (f"http://127.0.0.1:{port}", {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY,
                                            "allow_http": "true", "azure_storage_use_emulator": "true"})
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(data, ignore_errors=True)


def create_container(endpoint: str, name: str) -> None:
    """Create a blob container on Azurite: one PUT signed with the account's shared key
    (obstore and LanceDB read and write blobs but do not create containers)."""
    import base64
    import hashlib
    import hmac
    import urllib.request
    from email.utils import formatdate

    date, version = formatdate(usegmt=True), "2021-08-06"
    signed = ("PUT\n\n\n\n\napplication/octet-stream\n" + "\n" * 6 + f"x-ms-date:{date}\nx-ms-version:{version}\n"
              f"/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{name}\nrestype:container")
    signature = base64.b64encode(hmac.new(base64.b64decode(AZURITE_KEY), signed.encode(), hashlib.sha256).digest()).decode()
    request = urllib.request.Request(
        f"{endpoint}/{AZURITE_ACCOUNT}/{name}?restype=container", method="PUT", data=b"",
        headers={"x-ms-date": date, "x-ms-version": version, "Authorization": f"SharedKey {AZURITE_ACCOUNT}:{signature}",
                 "Content-Length": "0", "Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201, answer.status


class Remote:
    """A fresh library location on one object store: its URI and the environment that
    reaches it (the standard AWS variables for S3; ATTUNE_STORAGE_OPTIONS for Azure)."""

    def __init__(self, uri: str, env: dict[str, str]) -> None:
        self.uri, self.env = uri, env


@pytest.fixture(params=["s3", "az"])
def object_library(request, monkeypatch) -> Remote:
    """A fresh library location on S3 (moto) and on Azure Blob storage (Azurite)."""
    import json
    import re
    import uuid

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + "-" + uuid.uuid4().hex[:8]
    if request.param == "s3":
        remote = Remote(f"s3://{name}/music", request.getfixturevalue("s3_server"))
    else:
        endpoint, options = request.getfixturevalue("azure_server")
        remote = Remote(f"az://{name}/music", {"ATTUNE_STORAGE_OPTIONS": json.dumps(options), "AZURITE_BLOB_STORAGE_URL": endpoint})
    for key, value in remote.env.items():
        monkeypatch.setenv(key, value)
    if request.param == "s3":
        import boto3

        boto3.client("s3", endpoint_url=remote.env["AWS_ENDPOINT_URL"]).create_bucket(Bucket=name)
    else:
        create_container(endpoint, name)
    return remote
