"""`attune index`: a music folder -> tracks, segments and attributes in the library.

- Walks folders (following symlinks once, recording unreadable folders), keeps
  files with an audio extension, skips files whose size and mtime are as last
  indexed, and re-indexes changed ones. `prune` removes tracks whose files are gone.
- Each file is decoded, embedded and described in a worker process (the model
  is loaded once per worker); results are written in batches. For each batch
  the segments are written first and the tracks last, so a track row means
  "done": killing the run at any moment loses at most the batch in flight and a
  re-run picks up where it stopped.
- A file that cannot be indexed never stops the run: its path and the reason
  are stored (`attune index --errors`) and cleared when it indexes later.

Track id = "audio:" + BLAKE2b-80 of the decoded 16 kHz audio quantised to
16 bits, so moving, renaming or retagging a file keeps its id.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from attune.engine import Library

AUDIO_EXTENSIONS = frozenset(
    {".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".wav", ".wave", ".aif", ".aiff", ".aifc", ".wma", ".alac", ".mka", ".webm"}
)


@dataclass
class IndexReport:
    files: int = 0
    indexed: int = 0
    unchanged: int = 0
    failed: int = 0
    pruned: int = 0
    seconds: float = 0.0
    audio_seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        rate = self.indexed / self.seconds * 60 if self.seconds else 0.0
        lines = [
            f"{self.files} audio files: {self.indexed} indexed, {self.unchanged} unchanged, {self.failed} failed"
            + (f", {self.pruned} pruned" if self.pruned else "")
            + f" in {self.seconds:.1f} s ({rate:.1f} tracks/min, {self.audio_seconds / 60:.1f} min of audio)"
        ]
        lines += [f"  failed {p}: {r}" for p, r in self.errors]
        return "\n".join(lines)


def walk(paths: Iterable[str | Path], errors: list[tuple[str, str]]) -> Iterator[Path]:
    """Audio files under the given files and folders, each once, symlink loops cut."""
    seen_dirs: set[str] = set()
    for root in paths:
        root = Path(root).expanduser()
        if root.is_file():
            if root.suffix.lower() in AUDIO_EXTENSIONS:
                yield root.resolve()
            continue
        if not root.exists():
            errors.append((str(root), "no such file or folder"))
            continue

        def on_error(exc: OSError) -> None:
            errors.append((str(exc.filename), f"cannot read folder: {exc.strerror or exc}"))

        for folder, dirs, files in os.walk(root, followlinks=True, onerror=on_error):
            real = os.path.realpath(folder)
            if real in seen_dirs:
                dirs[:] = []
                continue
            seen_dirs.add(real)
            dirs.sort()
            for name in sorted(files):
                if Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                    yield Path(folder, name).resolve()


def audio_id(samples: np.ndarray) -> str:
    quantised = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    return "audio:" + hashlib.blake2b(quantised.tobytes(), digest_size=10).hexdigest()


# -- worker side ------------------------------------------------------------------------------

_BACKBONE = None
_HEADS = None


def _init_worker(backbone: str, precision: str | None, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    global _BACKBONE, _HEADS
    from .backbones import load_backbone
    from .heads import active_heads

    _BACKBONE = load_backbone(backbone, precision=precision)
    _HEADS = active_heads(backbone)


def process_file(path: str, backbone=None, known_id: str | None = None) -> dict[str, Any]:
    """Everything the library stores for one file, or {"path", "error"}.

    `known_id` is the id this path had when last indexed: if the decoded audio
    still hashes to it (only the file's date or tags changed), the models are
    not run again and only the file's size and date are updated.
    """
    from .attributes import segment_loudness, tempo, track_attributes
    from .audio import AudioError, decode, read_tags

    model = backbone or _BACKBONE
    assert model is not None
    try:
        stat = os.stat(path)
        decoded = decode(path)
        if decoded.duration < 0.5:
            raise AudioError(f"{Path(path).name} is too short to index ({decoded.duration:.2f} s)")
        if known_id is not None and audio_id(decoded.samples) == known_id:
            return {"path": path, "same": known_id, "file_size": stat.st_size, "file_mtime": stat.st_mtime, "length": decoded.duration}
        segments = model.embed(decoded.samples)
        loudness = segment_loudness(decoded.samples, segments.starts, model.segment_seconds)
        attrs = track_attributes(segments.taggram, model.tags, loudness, segments.starts, decoded.duration)
        if _HEADS is not None and backbone is None:
            apply_heads(_HEADS, attrs, segments, decoded.duration)
        bpm = tempo(decoded.samples)
        tags = read_tags(path)
    except AudioError as exc:
        return {"path": path, "error": str(exc)}
    except MemoryError:
        return {"path": path, "error": "out of memory while decoding"}
    except Exception as exc:  # one bad file must not stop the run; the reason is kept
        return {"path": path, "error": f"{type(exc).__name__}: {exc}"}
    year = None
    if tags["date"] and tags["date"][:4].isdigit():
        year = int(tags["date"][:4])
    # The file's genre tag as written; the writer normalises it (attune.engine.genres).
    file_genres = [g.strip() for g in (tags["genre"] or "").split("\x00") if g.strip()]
    track_id = audio_id(decoded.samples)
    return {
        "path": path,
        "track": {
            "track_id": track_id,
            "source": "audio",
            "title": tags["title"] or Path(path).stem,
            "artist": tags["artist"],
            "album": tags["album"],
            "release_date": tags["date"],
            "year": year,
            "length": decoded.duration,
            "genres": attrs["genres"],
            "raw_genres": file_genres,
            "tags": model_tags(segments.taggram, model.tags),
            "path": path,
            "energy": attrs["energy"],
            "valence": attrs["valence"],
            "vocalness": attrs["vocalness"],
            "tempo": bpm,
            "consistency": attrs["consistency"],
            "embedding": segments.embeddings.mean(axis=0).astype(np.float32).tolist(),
            "taggram": segments.taggram.mean(axis=0).astype(np.float32).tolist() if segments.taggram.size else [],
            "energy_tiles": attrs["energy_tiles"],
            "genre_scores": [{"genre": g, "score": s} for g, s in attrs["genre_scores"].items()],
            "backbone": model.name,
            "file_size": stat.st_size,
            "file_mtime": stat.st_mtime,
        },
        "segments": {
            "start": segments.starts.astype(float).tolist(),
            "embedding": segments.embeddings.astype(np.float32),
            "taggram": segments.taggram.astype(np.float32),
            "segment_seconds": model.segment_seconds,
        },
    }


def apply_heads(heads, attrs: dict, segments, duration: float) -> None:
    """Replace heuristic attributes with the trained heads' (energy per segment, then tiles)."""
    from . import temporal

    predictions = heads.predict(segments.embeddings)
    if "energy" in predictions:
        tiles = temporal.tiles(segments.starts, predictions["energy"][:, 0], duration)
        attrs.update(energy=temporal.peak_energy(tiles), consistency=temporal.consistency(tiles), energy_tiles=tiles.astype(np.float32).tolist())
    for name in ("valence", "vocalness"):
        if name in predictions:
            attrs[name] = float(predictions[name][:, 0].mean())
    if "genres" in predictions:
        scores = predictions["genres"].mean(axis=0)
        attrs["genre_scores"] = dict(zip(heads.vocabulary, map(float, scores)))
        attrs["genres"] = [g for g, v in sorted(attrs["genre_scores"].items(), key=lambda kv: -kv[1]) if v >= 0.5]


# -- parent side ------------------------------------------------------------------------------


class _Writer:
    """Batches results into LanceDB: segments first, then tracks, then error rows."""

    def __init__(self, lib: "Library", batch_size: int) -> None:
        self.lib = lib
        self.batch_size = batch_size
        self.pending: list[dict] = []

    def add(self, result: dict) -> None:
        self.pending.append(result)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        from attune.engine.store import INDEX_ERRORS_SCHEMA, SEGMENTS_SCHEMA, TRACKS_SCHEMA, now, sql_string

        if not self.pending:
            return
        store = self.lib.store
        # The same audio under two paths is one track: the last path read wins.
        done = list({r["track"]["track_id"]: r for r in self.pending if "track" in r}.values())
        failed = [r for r in self.pending if "error" in r]
        for r in self.pending:
            if "same" in r:
                self.lib.store.update_file(r["same"], r["file_size"], r["file_mtime"])
        stamp = now()
        if done:
            ids = sorted({r["track"]["track_id"] for r in done})
            store.delete("segments", "track_id IN (" + ", ".join(sql_string(i) for i in ids) + ")")
            rows = []
            for r in done:
                seg = r["segments"]
                for j, start in enumerate(seg["start"]):
                    rows.append(
                        {
                            "track_id": r["track"]["track_id"],
                            "start": start,
                            "end": start + seg["segment_seconds"],
                            "embedding": seg["embedding"][j].tolist(),
                            "taggram": seg["taggram"][j].tolist(),
                        }
                    )
            store.add("segments", pa.Table.from_pylist(rows, schema=SEGMENTS_SCHEMA))
            tracks = [dict(r["track"], updated_at=stamp) for r in done]
            self.lib._normalize_genres(tracks)
            store.upsert("tracks", "track_id", pa.Table.from_pylist(tracks, schema=TRACKS_SCHEMA))
            paths = [r["path"] for r in done]
            store.delete("index_errors", "path IN (" + ", ".join(sql_string(p) for p in paths) + ")")
        if failed:
            rows = [{"path": r["path"], "reason": r["error"], "at": stamp} for r in failed]
            store.upsert("index_errors", "path", pa.Table.from_pylist(rows, schema=INDEX_ERRORS_SCHEMA))
        self.pending = []


#: A track is tagged with the backbone's tags whose mean probability reaches this (at most MAX_MODEL_TAGS).
MODEL_TAG_THRESHOLD = 0.1
MAX_MODEL_TAGS = 8


def model_tags(taggram: np.ndarray, tags: tuple[str, ...]) -> list[str]:
    """The backbone's most probable tags for the track, lower case (searchable with tag:)."""
    if not len(taggram) or not tags:
        return []
    mean = taggram.mean(axis=0)
    order = np.argsort(-mean, kind="stable")[:MAX_MODEL_TAGS]
    return list(dict.fromkeys(tags[i].lower() for i in order if mean[i] >= MODEL_TAG_THRESHOLD))


def _remember_model_tags(lib: "Library", name: str, tags: tuple[str, ...]) -> None:
    """The backbone's tag vocabulary, kept in meta so plain-words search knows it."""
    stored = lib.store.get_meta("model_tags") or {}
    lowered = [t.lower() for t in tags]
    if lowered and stored.get(name) != lowered:
        lib.store.set_meta("model_tags", stored | {name: lowered})


def _known_files(lib: "Library") -> dict[str, tuple[int, float, str]]:
    table = lib.store.read("tracks", ["path", "file_size", "file_mtime", "track_id"], where="path IS NOT NULL")
    data = table.to_pydict()
    return {p: (s, m, t) for p, s, m, t in zip(data["path"], data["file_size"], data["file_mtime"], data["track_id"])}


def index(
    lib: "Library",
    paths: Iterable[str | Path],
    *,
    backbone: str = "msd-musicnn",
    workers: int | None = None,
    precision: str | None = None,
    prune: bool = False,
    batch_size: int = 16,
    progress: Callable[[int, int, str], None] | None = None,
) -> IndexReport:
    """Index audio files and folders into the library; see the module docstring."""
    from .backbones import load_backbone

    t0 = time.perf_counter()
    report = IndexReport()
    walk_errors: list[tuple[str, str]] = []
    files = list(dict.fromkeys(str(p) for p in walk(paths, walk_errors)))
    report.files = len(files)
    known = _known_files(lib)
    todo = []
    for path in files:
        try:
            stat = os.stat(path)
        except OSError as exc:
            walk_errors.append((path, f"cannot read: {exc.strerror or exc}"))
            continue
        if known.get(path, (None, None))[:2] == (stat.st_size, stat.st_mtime):
            report.unchanged += 1
        else:
            todo.append(path)
    model = load_backbone(backbone, precision=precision)  # fail fast, with the install hint, before any work
    _remember_model_tags(lib, model.name, model.tags)
    writer = _Writer(lib, batch_size)
    for path, reason in walk_errors:
        writer.add({"path": path, "error": reason})
        report.failed += 1
        report.errors.append((path, reason))
    cores = os.cpu_count() or 1
    workers = max(1, min(workers or cores, len(todo) or 1))

    def handle(result: dict, done: int) -> None:
        if "same" in result:
            report.unchanged += 1
        elif "error" in result:
            report.failed += 1
            report.errors.append((result["path"], result["error"]))
        else:
            report.indexed += 1
            report.audio_seconds += result["track"]["length"] or 0.0
        writer.add(result)
        if progress:
            progress(done, len(todo), result["path"])

    if workers == 1:
        _init_worker(backbone, precision, max(1, cores))
        for n, path in enumerate(todo, start=1):
            handle(process_file(path, known_id=known.get(path, (0, 0, None))[2]), n)
    else:
        threads = max(1, cores // workers)
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(backbone, precision, threads)) as pool:
            pending: set[Future] = set()
            queue = iter(todo)
            done = 0
            for path in queue:
                pending.add(pool.submit(process_file, path, None, known.get(path, (0, 0, None))[2]))
                if len(pending) >= workers * 2:
                    break
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    done += 1
                    handle(future.result(), done)
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending.add(pool.submit(process_file, nxt, None, known.get(nxt, (0, 0, None))[2]))
    writer.flush()
    if prune:
        report.pruned = prune_missing(lib)
    report.seconds = time.perf_counter() - t0
    return report


def prune_missing(lib: "Library") -> int:
    """Remove tracks (and their segments) whose files no longer exist."""
    from attune.engine.store import sql_string

    table = lib.store.read("tracks", ["track_id", "path"], where="path IS NOT NULL").to_pydict()
    gone = [tid for tid, p in zip(table["track_id"], table["path"]) if not os.path.exists(p)]
    for start in range(0, len(gone), 500):
        ids = ", ".join(sql_string(t) for t in gone[start : start + 500])
        lib.store.delete("segments", f"track_id IN ({ids})")
        lib.store.delete("tracks", f"track_id IN ({ids})")
    return len(gone)
