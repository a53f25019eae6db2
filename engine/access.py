"""API keys of a library, for `attune serve`: created, listed, revoked and checked here.

A key is "attune_" + 32 random bytes (URL-safe base64), shown once when it is created.
The library keeps only its SHA-256 (a key has 256 bits of entropy, so a fast hash is as
safe as a slow one and keeps checking a request cheap), its name, its scope and when it
was made, in `<library>/access/keys.json`, written atomically under the library's lock
"keys". Scopes: "read" (search, ask, explain, recipes, expansion, playlists and tracks to
read) and "write" (also every playlist edit).

A service checks the file's modification time on every request and re-reads it when it
changed, so a key created or revoked while the service runs takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass

from .errors import LibraryError
from .storage import now

SCOPES = ("read", "write")
PREFIX = "attune_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Key:
    name: str
    scope: str
    created: str
    digest: str  # SHA-256 of the key, hex


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Keys:
    """The keys of the library at `folder`."""

    def __init__(self, place, locks=None) -> None:
        """`place`: the library's place (`storage.place`), or a folder."""
        from .storage.place import Place, place_of

        self.place = place if isinstance(place, Place) else place_of(place)
        self.file = "access/keys.json"
        self.path = f"{self.place}/{self.file}"  # for messages
        self._locks = locks
        self._seen: tuple[int, int] | None = None
        self._keys: list[Key] = []
        self._guard = threading.Lock()
        self._stamped: tuple[float, tuple | None] | None = None

    # -- reading -------------------------------------------------------------------

    def _stamp(self) -> tuple | None:
        """Changes when the file does. On object storage a HEAD request, made at most once
        a second (a revoked key stops working within a second)."""
        if self.place.local is not None:
            return self.place.stamp(self.file)
        clock = time.monotonic()
        if self._stamped is None or clock - self._stamped[0] > 1.0:
            self._stamped = (clock, self.place.stamp(self.file))
        return self._stamped[1]

    def all(self) -> list[Key]:
        """The keys as the file says now (re-read only when it changed)."""
        stamp = self._stamp()
        with self._guard:
            if stamp != self._seen:
                self._keys = self._read() if stamp is not None else []
                self._seen = stamp
            return list(self._keys)

    def _read(self) -> list[Key]:
        try:
            raw = self.place.read(self.file)
            if raw is None:
                return []
            data = json.loads(raw.decode("utf-8"))
            return [Key(k["name"], k["scope"], k["created"], k["sha256"]) for k in data.get("keys", [])]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A damaged key file must never open the service: refuse every key instead.
            raise LibraryError(f"cannot read the library's key file {self.path}: {exc}; restore it or delete it "
                               "and create the keys again") from None

    def any(self) -> bool:
        return bool(self.all())

    def check(self, key: str | None) -> Key | None:
        """The key's record, or None when it is no key of this library."""
        if not key or not key.startswith(PREFIX):
            return None
        digest = _digest(key)
        found = None
        for k in self.all():
            if hmac.compare_digest(k.digest, digest):
                found = k
        return found

    # -- writing -------------------------------------------------------------------

    def create(self, name: str, scope: str = "read") -> str:
        """A new key (returned once, never stored in clear)."""
        if scope not in SCOPES:
            raise LibraryError(f"unknown scope '{scope}'; use one of {', '.join(SCOPES)}")
        if not _NAME.fullmatch(name or ""):
            raise LibraryError(f"a key name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit: '{name}'")
        key = PREFIX + secrets.token_urlsafe(32)
        with self._writing():
            keys = self._read()
            if any(k.name == name for k in keys):
                raise LibraryError(f"a key named '{name}' exists; revoke it first or choose another name")
            keys.append(Key(name, scope, now().isoformat(timespec="seconds"), _digest(key)))
            self._write(keys)
        return key

    def revoke(self, name: str) -> None:
        with self._writing():
            keys = self._read()
            if not any(k.name == name for k in keys):
                names = ", ".join(k.name for k in keys) or "none"
                raise LibraryError(f"no key named '{name}' (keys: {names})")
            self._write([k for k in keys if k.name != name])

    def _writing(self):
        from contextlib import nullcontext

        return self._locks.hold("keys") if self._locks is not None else nullcontext()

    def _write(self, keys: list[Key]) -> None:
        data = {"keys": [{"name": k.name, "scope": k.scope, "created": k.created, "sha256": k.digest} for k in keys]}
        self.place.write(self.file, json.dumps(data, indent=2).encode("utf-8"), private=True)
        self._stamped = None
