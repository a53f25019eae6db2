"""Where a library lives: a local folder or a prefix on object storage.

    place_of("~/Music/attune")                 # LocalPlace: a folder, flock locks
    place_of("s3://bucket/attune")             # ObjectPlace: S3 (or gs://, az://), lease locks

LanceDB reads both itself (`connect()`); the library's few small files of its own (the
history journal, the API keys, the write locks) go through the place, so everything
above the store works the same on either.

Credentials and endpoints of an object store come from the standard variables of its
provider (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL,
AWS_ALLOW_HTTP; GOOGLE_SERVICE_ACCOUNT; AZURE_STORAGE_ACCOUNT_NAME, ...), read by LanceDB
and by obstore (the Python binding of the same Rust `object_store` crate LanceDB uses),
or from a storage-options mapping (`Library.open(uri, storage_options={...})`, or the
JSON object in $ATTUNE_STORAGE_OPTIONS) with LanceDB's keys (`aws_endpoint`,
`allow_http`, ...), which win over the variables.

Write locks on object storage are lease objects (`<prefix>/.locks/<table>.lock`) taken
with a conditional PUT (If-None-Match): exactly one writer creates it. The holder renews
its lease every few seconds; a lease not renewed for LEASE_SECONDS (its holder died) is
taken over with a conditional PUT on the stale object's ETag (If-Match), so two waiters
never both take it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import LibraryError

#: URI schemes served from object storage (those LanceDB and obstore both read).
OBJECT_SCHEMES = ("s3", "s3+ddb", "gs", "gcs", "az", "abfs", "abfss")
#: A lease on object storage not renewed for this long is taken over (its holder died).
LEASE_SECONDS = 30.0


class BusyError(LibraryError):
    """Another process held the lock for too long; the write did not happen. Retry it."""

    title = "library busy"


class UnreachableError(LibraryError):
    """The library's object storage did not answer (the network, the endpoint's name, the
    server down or throttling): nothing is wrong with the library, and LanceDB commits a
    version whole or not at all. Retry."""

    title = "storage unreachable"
    user_error = False


class DeniedError(LibraryError):
    """The object storage refused the credentials it was given (or their permissions)."""

    title = "storage access denied"


#: What the object_store crate (LanceDB's and obstore's) says when a request got no answer
#: or a server error after its retries, and when the server refused the credentials.
_UNREACHABLE = re.compile(r"error sending request|connection (?:refused|reset|closed)|connecterror|timed out|"
                          r"dns error|broken pipe|status(?: code)?:? 5\d\d|service unavailable|slow ?down|"
                          r"internal ?server ?error|bad gateway|gateway time-?out|after \d+ retries", re.I)
_DENIED = re.compile(r"status(?: code)?:? 40[13]\b|\bforbidden\b|access ?denied|unauthori[sz]ed|invalidaccesskeyid|"
                     r"signaturedoesnotmatch|expiredtoken|authenticationfailed|authorizationfailure", re.I)
#: The parts of those messages that say nothing to a user: the wrappers LanceDB puts around
#: the crate's error, the retry settings, and where in the Rust sources it was raised.
_NOISE = re.compile(r"^(?:lance error: |LanceError\(\w+\): |Generic [\w/. ]+ error: )+|, max_retries: \d+, "
                    r"retry_timeout: \S+?(?=\s|$)|,?\s*/\S+\.rs:\d+:\d+\s*$")
#: The Rust debug form some of them come in (`uri: Some(http://...)`, `message: "Connection refused"`).
_DEBUG_URI = re.compile(r"uri: Some\(([^)\s]+)\)")
_DEBUG_WHAT = re.compile(r'message: "([^"]+)"|status: (\d{3})')
#: A server's XML or HTML answer quoted after the status line.
_BODY = re.compile(r":?\s*<[?!a-zA-Z].*$")


def _summary(text: str) -> str:
    """The one line of a storage error worth showing."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    uri, what = _DEBUG_URI.search(first), _DEBUG_WHAT.search(first)
    if uri and what:
        return f"{what.group(1) or 'status ' + what.group(2)}: {uri.group(1)}"
    while (shorter := _NOISE.sub("", first)) != first:
        first = shorter
    return _BODY.sub("", first).strip()[:300]


def storage_failure(uri: str, exc: BaseException, doing: str) -> LibraryError | None:
    """The error for a failure of object storage itself while `doing` something (the
    server unreachable or refusing the credentials), None for any other (a missing or
    damaged file: the caller's own error says that)."""
    text = str(exc)
    first = _summary(text) or type(exc).__name__
    endpoint, credentials = _WHERE_SET.get(uri.split("://", 1)[0].lower(), ("", ""))
    if _DENIED.search(text):
        return DeniedError(f"the storage at {uri} refused access while {doing} ({first}); check the credentials "
                           f"({credentials}the storage options) and what they may do there")
    if _UNREACHABLE.search(text):
        return UnreachableError(f"the storage at {uri} did not answer while {doing} ({first}); nothing is wrong "
                                f"with the library: check the network and the endpoint ({endpoint}the storage "
                                "options), then retry")
    return None


#: Where each provider's endpoint and credentials are set, besides the storage options.
_WHERE_SET = {
    "s3": ("AWS_ENDPOINT_URL or ", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "),
    "gs": ("", "GOOGLE_SERVICE_ACCOUNT or GOOGLE_APPLICATION_CREDENTIALS, or "),
    "az": ("", "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY, or "),
}
_WHERE_SET |= {"s3+ddb": _WHERE_SET["s3"], "gcs": _WHERE_SET["gs"], "abfs": _WHERE_SET["az"], "abfss": _WHERE_SET["az"]}


def is_uri(path: str | os.PathLike) -> bool:
    """Whether `path` names object storage (s3://, gs://, az://, ...) rather than a folder."""
    text = str(path)
    return "://" in text and text.split("://", 1)[0].lower() in OBJECT_SCHEMES


def place_of(path: str | os.PathLike, storage_options: Mapping[str, str] | None = None) -> Place:
    """The place a path or URI names (a `file://` URI is a local folder)."""
    text = str(path)
    if text.startswith("file://"):
        return LocalPlace(Path(text[len("file://"):]))
    if is_uri(text):
        return ObjectPlace(text, storage_options)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise LibraryError(f"attune cannot open a library at {scheme}:// ; use a folder or one of "
                           + ", ".join(f"{s}://" for s in OBJECT_SCHEMES))
    return LocalPlace(Path(text).expanduser())


class Place:
    """The interface the store uses (see the module docstring)."""

    #: The folder, for a local library; None on object storage.
    local: Path | None = None

    def prepare(self) -> None:
        """Make ready to hold a library (a folder is created)."""

    def append(self, name: str, text: str) -> None:
        """Add text at the end of a file (the caller holds the file's lock)."""
        self.write(name, (self.read(name) or b"") + text.encode("utf-8"))

    def tail(self, name: str, size: int) -> bytes:
        """The last `size` bytes of a file (b"" when it does not exist)."""
        return (self.read(name) or b"")[-size:]

    def connect(self, session=None):  # -> lancedb.DBConnection
        """LanceDB on this place; `session`: a lancedb.Session (its caches), None: LanceDB's default."""
        raise NotImplementedError

    def read(self, name: str) -> bytes | None:
        """A small file's bytes (None when it does not exist)."""
        raise NotImplementedError

    def write(self, name: str, data: bytes, *, private: bool = False) -> None:
        """Replace a small file at once (readers see the old or the new bytes, never half)."""
        raise NotImplementedError

    def stamp(self, name: str) -> tuple | None:
        """Something that changes whenever the file does (None when it does not exist)."""
        raise NotImplementedError

    def list(self, prefix: str) -> list[str]:
        """Names of the files under `prefix/` (relative to the place)."""
        raise NotImplementedError

    def rename(self, old: str, new: str) -> None:
        raise NotImplementedError

    def acquire(self, name: str, wait: float) -> Callable[[], None]:
        """Take the cross-process lock `name` (waiting up to `wait` seconds, else BusyError);
        returns the function that releases it."""
        raise NotImplementedError

    def has_library(self) -> bool:
        return bool(self.list("meta.lance/_versions"))

    def failure(self, exc: BaseException, doing: str) -> LibraryError | None:
        """The error for `exc` when it is the storage failing, not a file (`storage_failure`);
        None for a local folder, whose errors are about its files."""
        return None

    @contextmanager
    def guarding(self, doing: str) -> Iterator[None]:
        """LanceDB's errors inside the block that are the storage failing (unreachable,
        refusing the credentials) as the error that says so; any other passes unchanged."""
        try:
            yield
        except (RuntimeError, OSError, ValueError) as exc:
            error = self.failure(exc, doing)
            if error is None:
                raise
            raise error from None


class LocalPlace(Place):
    def __init__(self, folder: Path) -> None:
        self.local = folder
        self.folder = folder

    def __str__(self) -> str:
        return str(self.folder)

    def has_library(self) -> bool:
        return (self.folder / "meta.lance").is_dir()  # one stat, not a listing of its versions

    def prepare(self) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise LibraryError(f"{self.folder} is a file, not a library directory")
        self.folder.mkdir(parents=True, exist_ok=True)

    def connect(self, session=None):
        import lancedb

        return lancedb.connect(str(self.folder), session=session)

    def read(self, name: str) -> bytes | None:
        try:
            return (self.folder / name).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, name: str, data: bytes, *, private: bool = False) -> None:
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)

    def append(self, name: str, text: str) -> None:
        with (self.folder / name).open("a", encoding="utf-8") as handle:
            handle.write(text)

    def tail(self, name: str, size: int) -> bytes:
        try:
            with (self.folder / name).open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - size))
                return handle.read()
        except FileNotFoundError:
            return b""

    def stamp(self, name: str) -> tuple | None:
        try:
            st = (self.folder / name).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def list(self, prefix: str) -> list[str]:
        folder = self.folder / prefix
        if not folder.is_dir():
            return []
        return [str(p.relative_to(self.folder)) for p in folder.rglob("*") if p.is_file()]

    def rename(self, old: str, new: str) -> None:
        (self.folder / new).parent.mkdir(parents=True, exist_ok=True)
        (self.folder / old).rename(self.folder / new)

    def acquire(self, name: str, wait: float) -> Callable[[], None]:
        """An `flock` on `<library>/.locks/<name>.lock`: the operating system releases it
        when the holder dies (kill -9 included)."""
        import fcntl

        locks = self.folder / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise _busy(name, wait) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)

        def release() -> None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

        return release


def _busy(name: str, wait: float) -> BusyError:
    return BusyError(f"another attune process has been writing the {name} table for {wait:.0f} s; "
                     "try again when it is done")


def storage_options_from_env() -> dict[str, str]:
    """$ATTUNE_STORAGE_OPTIONS: a JSON object of LanceDB storage options (may be unset)."""
    text = os.environ.get("ATTUNE_STORAGE_OPTIONS")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise LibraryError(f"ATTUNE_STORAGE_OPTIONS is not a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise LibraryError("ATTUNE_STORAGE_OPTIONS must be a JSON object of storage options")
    return {str(k): str(v) for k, v in value.items()}


#: LanceDB's storage-option keys that obstore calls by another name (client options).
_CLIENT_KEYS = {"allow_http", "allow_invalid_certificates", "timeout", "connect_timeout", "proxy_url", "user_agent"}


class ObjectPlace(Place):
    def __init__(self, uri: str, storage_options: Mapping[str, str] | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.options = {**storage_options_from_env(), **{str(k): str(v) for k, v in (storage_options or {}).items()}}
        self._store = None

    def __str__(self) -> str:
        return self.uri

    @property
    def store(self):
        if self._store is None:
            from obstore.store import from_url

            client = {k: v for k, v in self.options.items() if k.lower() in _CLIENT_KEYS}
            config = {k: v for k, v in self.options.items() if k.lower() not in _CLIENT_KEYS}
            try:
                self._store = from_url(self.uri, config=config or None, client_options=client or None)
            except Exception as exc:  # noqa: BLE001 - obstore's errors name the bad option
                raise LibraryError(f"cannot reach {self.uri}: {exc}") from None
        return self._store

    def connect(self, session=None):
        import lancedb

        return lancedb.connect(self.uri, storage_options=dict(self.options) or None, session=session)

    def failure(self, exc: BaseException, doing: str) -> LibraryError | None:
        return storage_failure(self.uri, exc, doing)

    def _guard(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (FileNotFoundError, LibraryError):
            raise
        except Exception as exc:  # noqa: BLE001 - network and permission errors, with their cause
            from obstore.exceptions import AlreadyExistsError, PreconditionError

            if isinstance(exc, AlreadyExistsError | PreconditionError):  # the answers of a conditional PUT
                raise
            failed = self.failure(exc, f"trying to {what}")
            if failed is not None:
                raise failed from None
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise LibraryError(f"cannot {what} at {self.uri}: {first}") from None

    def read(self, name: str) -> bytes | None:
        import obstore

        try:
            return bytes(self._guard(f"read {name}", lambda: obstore.get(self.store, name).bytes()))
        except FileNotFoundError:
            return None

    def write(self, name: str, data: bytes, *, private: bool = False) -> None:
        import obstore

        self._guard(f"write {name}", lambda: obstore.put(self.store, name, data))  # a PUT replaces atomically

    def stamp(self, name: str) -> tuple | None:
        import obstore

        try:
            meta = self._guard(f"read {name}", lambda: obstore.head(self.store, name))
        except FileNotFoundError:
            return None
        return (meta.get("e_tag"), meta.get("size"), str(meta.get("last_modified")))

    def list(self, prefix: str) -> list[str]:
        import obstore

        def listing() -> list[str]:
            return [o["path"] for batch in obstore.list(self.store, prefix.rstrip("/") + "/") for o in batch]

        return self._guard(f"list {prefix}", listing)

    def tail(self, name: str, size: int) -> bytes:
        import obstore

        try:
            meta = self._guard(f"read {name}", lambda: obstore.head(self.store, name))
            start = max(0, int(meta["size"]) - size)
            return bytes(self._guard(f"read {name}", lambda: obstore.get_range(self.store, name, start=start, end=int(meta["size"]))))
        except FileNotFoundError:
            return b""

    def rename(self, old: str, new: str) -> None:
        import obstore

        self._guard(f"move {old}", lambda: obstore.rename(self.store, old, new))

    def acquire(self, name: str, wait: float) -> Callable[[], None]:
        return _Lease(self, f".locks/{name}.lock", name).take(wait)


def _if_match(etag: str | None, version: str | None) -> dict:
    """obstore's conditional-update mode (If-Match on the ETag, and the version where the store keeps them)."""
    mode = {"e_tag": etag}
    if version is not None:
        mode["version"] = version
    return mode


class _Lease:
    """One lease object on object storage (see the module docstring)."""

    def __init__(self, place: ObjectPlace, key: str, name: str) -> None:
        self.place, self.key, self.name = place, key, name
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.etag: str | None = None
        self._stop = threading.Event()

    def _body(self) -> bytes:
        return json.dumps({"owner": self.owner, "until": time.time() + LEASE_SECONDS}).encode()

    def _put(self, mode) -> bool:
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            result = self.place._guard(f"lock {self.name}", lambda: obstore.put(self.place.store, self.key, self._body(), mode=mode))
        except (AlreadyExistsError, PreconditionError):
            return False
        self.etag = result["e_tag"]
        return True

    def _try(self) -> bool:
        import obstore

        if self._put("create"):
            return True
        try:
            found = self.place._guard(f"lock {self.name}", lambda: obstore.get(self.place.store, self.key))
            meta, body = found.meta, bytes(found.bytes())
        except FileNotFoundError:  # released between our PUT and GET
            return False
        try:
            until = float(json.loads(body)["until"])
        except (ValueError, KeyError, TypeError):
            until = 0.0  # unreadable: treat as stale
        if until > time.time():
            return False
        return self._put(_if_match(meta["e_tag"], meta.get("version")))  # take over a dead holder's lease

    def take(self, wait: float) -> Callable[[], None]:
        deadline = time.monotonic() + wait
        delay = 0.02
        while not self._try():
            if time.monotonic() > deadline:
                raise _busy(self.name, wait)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        renewer = threading.Thread(target=self._renew, name=f"attune-lease-{self.name}", daemon=True)
        renewer.start()

        def release() -> None:
            import obstore

            self._stop.set()
            renewer.join()
            try:
                obstore.delete(self.place.store, self.key)
            except Exception:  # noqa: BLE001 - an unreleased lease expires by itself
                pass

        return release

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_SECONDS / 3):
            try:
                if not self._put(_if_match(self.etag, None)):
                    return  # lost (we were paused past the lease); the write's commit still is atomic
            except LibraryError:
                continue  # the store did not answer: try again at the next beat
