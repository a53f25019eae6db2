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
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from attune.engine.ingest import Failed, Indexed, Unchanged
from attune.engine.ingest.energy import COLUMNS as ENERGY_SHAPE
from attune.engine.ingest.energy import energy_shape
from attune.engine.ingest.spotify import normalise_isrc

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


def _init_worker(backbone: str, precision: str | None, threads: int, parent: int | None = None, device: str = "cpu") -> None:
    """A worker process's start: leave with the parent, then `load_worker`."""
    if parent is not None:
        _exit_with(parent)
    load_worker(backbone, precision, threads, device=device, limit_blas=parent is not None)


def load_worker(backbone: str, precision: str | None, threads: int, *, device: str = "cpu", limit_blas: bool = True) -> None:
    """Load the backbone and the trained heads this process's `process_file` uses, with
    torch (and, with `limit_blas`, numpy's BLAS) on `threads` threads."""
    import torch

    torch.set_num_threads(threads)
    if limit_blas:
        # numpy's BLAS would start a thread per core in every worker: two workers on two
        # cores then fight over four threads (this alone took 40 tracks from 49 s to 37 s).
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    global _BACKBONE, _HEADS
    from .backbones import load_backbone
    from .heads import active_heads

    _BACKBONE = load_backbone(backbone, precision=precision, device=device)
    _HEADS = active_heads(backbone)


def _exit_with(parent: int) -> None:
    """A worker leaves when the process that started it is gone (a `kill -9` of `attune
    index` included), instead of living on as an orphan."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="attune-parent-watch", daemon=True).start()


@dataclass
class Read:
    """A decoded file, ready for the model (the first of `process_file`'s three stages)."""

    path: str
    samples: np.ndarray  # mono float32, 16 kHz
    duration: float
    spectrogram: np.ndarray  # `audio.log_mel`
    file_size: int
    file_mtime: float


@dataclass(frozen=True)
class ModelInfo:
    """What the last stage needs of the backbone without the backbone itself (on a Ray
    cluster it runs where the model is not loaded)."""

    name: str
    tags: tuple[str, ...]
    segment_seconds: float

    @classmethod
    def of(cls, backbone) -> ModelInfo:
        return cls(backbone.name, tuple(backbone.tags), float(backbone.segment_seconds))


def _failed(path: str, exc: BaseException) -> Failed:
    """Why a file could not be indexed, in words (one bad file never stops a run)."""
    from .audio import AudioError

    if isinstance(exc, AudioError):
        return Failed(path, str(exc))
    if isinstance(exc, MemoryError):
        return Failed(path, "out of memory while decoding")
    return Failed(path, f"{type(exc).__name__}: {exc}")


def read_file(path: str, known_id: str | None = None) -> Read | Unchanged | Failed:
    """Stage 1: decode, check the audio against `known_id` (the id this path had when last
    indexed: the same audio is `Unchanged`, and the models are not run again), log-mel."""
    from .audio import AudioError, decode, log_mel

    try:
        stat = os.stat(path)
        decoded = decode(path)
        if decoded.duration < 0.5:
            raise AudioError(f"{Path(path).name} is too short to index ({decoded.duration:.2f} s)")
        if known_id is not None and audio_id(decoded.samples) == known_id:
            return Unchanged(path, known_id, stat.st_size, stat.st_mtime, decoded.duration)
        return Read(path, decoded.samples, decoded.duration, log_mel(decoded.samples), stat.st_size, stat.st_mtime)
    except Exception as exc:
        return _failed(path, exc)


def embed_read(model, read: Read):
    """Stage 2, the model: the segments of a read file (or why it failed)."""
    try:
        return model.embed_spectrogram(read.spectrogram, read.samples)
    except Exception as exc:
        return _failed(read.path, exc)


def finish(read: Read, segments, info: ModelInfo, heads=None) -> Indexed | Failed:
    """Stage 3: attributes, trained heads, the file's tags: the rows the library stores."""
    from .attributes import describe
    from .audio import read_tags

    path = read.path
    try:
        attrs = describe(read.samples, read.spectrogram, segments, info.tags, info.segment_seconds, read.duration)
        if heads is not None:
            apply_heads(heads, attrs, segments, read.duration)
        tags = read_tags(path)
    except Exception as exc:
        return _failed(path, exc)
    year = None
    if tags["date"] and tags["date"][:4].isdigit():
        year = int(tags["date"][:4])
    # The file's genre tag as written; the writer normalises it (attune.engine.genres).
    file_genres = [g.strip() for g in (tags["genre"] or "").split("\x00") if g.strip()]
    return Indexed(
        path,
        {
            "track_id": audio_id(read.samples),
            "source": "audio",
            "title": tags["title"] or Path(path).stem,
            "artist": tags["artist"],
            "album": tags["album"],
            "release_date": tags["date"],
            "year": year,
            "length": read.duration,
            "genres": attrs["genres"],
            "raw_genres": file_genres,
            "tags": model_tags(segments.taggram, info.tags),
            "path": path,
            "isrc": normalise_isrc(tags["isrc"]),
            **{name: attrs.get(name) for name in ATTRIBUTE_COLUMNS},
            "embedding": segments.embeddings.mean(axis=0).astype(np.float32).tolist(),
            "taggram": segments.taggram.mean(axis=0).astype(np.float32).tolist() if segments.taggram.size else [],
            "energy_tiles": attrs["energy_tiles"],
            "genre_scores": [{"genre": g, "score": s} for g, s in attrs["genre_scores"].items()],
            "backbone": info.name,
            "file_size": read.file_size,
            "file_mtime": read.file_mtime,
        },
        segments.starts.astype(np.float64),
        segments.embeddings.astype(np.float32),
        segments.taggram.astype(np.float32),
        info.segment_seconds,
    )


def process_file(path: str, backbone=None, known_id: str | None = None) -> Indexed | Unchanged | Failed:
    """Everything the library stores for one file (`Indexed`), or why it could not be read
    (`Failed`), or that its audio is as last indexed (`Unchanged`): the three stages in turn."""
    model = backbone or _BACKBONE
    assert model is not None
    read = read_file(path, known_id)
    if not isinstance(read, Read):
        return read
    segments = embed_read(model, read)
    if isinstance(segments, Failed):
        return segments
    return finish(read, segments, ModelInfo.of(model), _HEADS if backbone is None else None)


#: What the indexer stores of `attributes.track_attributes`' output, besides tiles and genres.
ATTRIBUTE_COLUMNS = ("energy", "energy_confidence", "valence", "valence_confidence", "vocalness", "vocalness_confidence",
                     "tempo", "tempo_confidence", "tempo_alternative", "consistency", "danceability", "acousticness",
                     *ENERGY_SHAPE)


def apply_heads(heads, attrs: dict, segments, duration: float) -> None:
    """Replace zero-shot attributes with the trained heads' (energy per segment, then tiles);
    each replaced value takes the head's cross-validated confidence."""
    from . import temporal
    from .heads import CONFIDENCE_COLUMNS, HEAD_ATTRIBUTES

    predictions = heads.predict(segments.embeddings)
    if "energy" in predictions:
        tiles = temporal.tiles(segments.starts, predictions["energy"][:, 0], duration)
        attrs.update(energy=temporal.peak_energy(tiles), consistency=temporal.consistency(tiles),
                     energy_tiles=tiles.astype(np.float32).tolist(), **energy_shape(tiles))
    for name in HEAD_ATTRIBUTES:
        if name in predictions and name != "energy":
            attrs[name] = float(predictions[name][:, 0].mean())
    for name in CONFIDENCE_COLUMNS:
        if name in predictions:
            attrs[name + "_confidence"] = heads.confidence.get(name)
    if "genres" in predictions:
        scores = predictions["genres"].mean(axis=0)
        attrs["genre_scores"] = dict(zip(heads.vocabulary, map(float, scores)))
        attrs["genres"] = [g for g, v in sorted(attrs["genre_scores"].items(), key=lambda kv: -kv[1]) if v >= 0.5]


# -- parent side ------------------------------------------------------------------------------


class _Writer:
    """Batches results and writes them through the library's one door for indexed rows."""

    def __init__(self, lib: Library, batch_size: int) -> None:
        self.lib = lib
        self.batch_size = batch_size
        self.pending: list[Indexed | Unchanged | Failed] = []

    def add(self, result: Indexed | Unchanged | Failed) -> None:
        self.pending.append(result)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.lib.write_indexed(self.pending)
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


def index(
    lib: Library,
    paths: Iterable[str | Path],
    *,
    backbone: str = "msd-musicnn",
    workers: int | None = None,
    precision: str | None = None,
    device: str = "cpu",
    prune: bool = False,
    batch_size: int = 16,
    progress: Callable[[int, int, str], None] | None = None,
) -> IndexReport:
    """Index audio files and folders into the library, on this machine; see the module
    docstring (`attune.indexer.index` also runs on a Ray cluster).

    Three steps: `discover` (which files, which changed), `schedule` (decode, embed and
    describe them in worker processes) and `consume` (count and write each result). The
    whole run is one entry of the library's history.
    """
    from .backbones import check_device

    check_device(device)
    return run_index(lib, paths, backbone=backbone, prune=prune, batch_size=batch_size, progress=progress,
                     results=lambda todo, known, tags: schedule(todo, known, backbone=backbone, precision=precision,
                                                                workers=workers, device=device))


def run_index(lib: Library, paths: Iterable[str | Path], *, backbone: str, prune: bool, batch_size: int,
              progress: Callable[[int, int, str], None] | None,
              results: Callable[[list[str], dict, tuple[str, ...]], Iterable[Indexed | Unchanged | Failed]]) -> IndexReport:
    """One index run, wherever the files are processed: discover them, check the backbone
    (before any work, with the install hint), then count and write each of
    `results(todo, known, tags)` as it arrives (a local pool's or a Ray cluster's), as one
    entry of the library's history."""
    from .backbones import check_backbone

    paths = [Path(p) for p in paths]
    with lib.recording("index " + ", ".join(str(p) for p in paths)[:300]):
        t0 = time.perf_counter()
        report = IndexReport()
        todo, known, unreadable = discover(lib, paths, report)
        tags = check_backbone(backbone)  # the workers load it
        lib.remember_model_tags(backbone, tags)
        writer = _Writer(lib, batch_size)
        for failed in unreadable:
            consume(failed, report, writer)
        for done, result in enumerate(results(todo, known, tags), start=1):
            consume(result, report, writer)
            if progress:
                progress(done, len(todo), result.path)
        writer.flush()
        if prune:
            report.pruned = lib.prune_missing()
        report.seconds = time.perf_counter() - t0
        return report


def last_id(known: dict, path: str) -> str | None:
    """The id a path had when last indexed (`discover`'s `known`), None for a new file."""
    return known.get(path, (0, 0, None))[2]


def discover(lib: Library, paths: Iterable[str | Path], report: IndexReport) -> tuple[list[str], dict, list[Failed]]:
    """The audio files to (re)index, what the library knows of each, and the unreadable ones.

    A file whose size and date are as last indexed is counted unchanged and skipped.
    """
    walk_errors: list[tuple[str, str]] = []
    files = list(dict.fromkeys(str(p) for p in walk(paths, walk_errors)))
    report.files = len(files)
    known = lib.indexed_files()
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
    return todo, known, [Failed(path, reason) for path, reason in walk_errors]


def schedule(todo: list[str], known: dict, *, backbone: str, precision: str | None, workers: int | None,
             device: str = "cpu") -> Iterator[Indexed | Unchanged | Failed]:
    """Process the files, in worker processes when there are several cores; yields each
    result as it finishes (at most two files in flight per worker)."""
    cores = os.cpu_count() or 1
    workers = max(1, min(workers or cores, len(todo) or 1))
    if workers == 1:
        load_worker(backbone, precision, max(1, cores), device=device, limit_blas=False)
        for path in todo:
            yield process_file(path, known_id=last_id(known, path))
        return
    threads = max(1, cores // workers)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(backbone, precision, threads, os.getpid(), device)) as pool:
        queue = iter(todo)
        pending: set[Future] = {pool.submit(process_file, path, None, last_id(known, path)) for path in islice(queue, workers * 2)}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(process_file, nxt, None, last_id(known, nxt)))


def consume(result: Indexed | Unchanged | Failed, report: IndexReport, writer: _Writer) -> None:
    """Count one result in the report and hand it to the writer."""
    if isinstance(result, Unchanged):
        report.unchanged += 1
    elif isinstance(result, Failed):
        report.failed += 1
        report.errors.append((result.path, result.reason))
    else:
        report.indexed += 1
        report.audio_seconds += result.track["length"] or 0.0
    writer.add(result)
