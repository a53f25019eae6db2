"""A real `attune serve` on a free loopback port, over a copy of the fixture library."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from attune.engine import Library

from tests.engine.conftest import write_fixture_csv


def attune(*args: str, library: Path, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "attune.tui.main", *args, "--library", str(library)],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    if check:
        assert out.returncode == 0, out.stderr
    return out


class Server:
    """`attune serve` in a subprocess; `url` once it listens; stopped by `stop()`."""

    def __init__(self, library: Path, *extra: str, host: str = "127.0.0.1") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "attune.tui.main", "serve", "--library", str(library), "--host", host, "--port", "0",
             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                if self.process.poll() is not None:
                    raise AssertionError(f"attune serve exited {self.process.returncode}: {''.join(lines)}")
                continue
            lines.append(line)
            found = re.search(r"on (http://\S+?:\d+)", line)
            if found:
                url = found.group(1).replace("0.0.0.0", "127.0.0.1")
                while time.monotonic() < deadline:  # and the library is open
                    if httpx.get(url + "/health").status_code == 200:
                        return url
                    time.sleep(0.05)
        raise AssertionError("attune serve did not start: " + "".join(lines))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def library(tmp_path) -> Path:
    path = tmp_path / "lib"
    Library.open(path).import_spotify([write_fixture_csv(tmp_path / "fixture.csv")])
    return path


@pytest.fixture
def server(library):
    s = Server(library)
    yield s
    s.stop()
