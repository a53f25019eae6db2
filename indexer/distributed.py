"""`attune index PATH... --ray [ADDRESS]`: the indexer on a Ray cluster, with Ray Data.

The same three stages as the local indexer (`pipeline.read_file`, `embed_read`, `finish`),
as one Ray Data pipeline:

1. The driver (the `attune index` process) walks the folders and skips files whose size
   and date are as last indexed (`pipeline.discover`). Every node must read the files at
   the same paths: a shared filesystem, or object storage mounted at one path.
2. `map(read)`: CPU tasks decode each file, check its audio against the id it had when
   last indexed (unchanged audio stops here), and compute the log-mel spectrogram.
3. `map_batches(Embed)`: an autoscaling pool of actors, each holding the backbone once,
   embeds batches of tracks; each actor takes one GPU (`num_gpus=1`) and runs the model
   on it (batched, bf16 where the GPU has it).
4. `map(describe)`: CPU tasks compute the attributes, the trained heads and the tags.
   On a cluster without GPUs, stages 2-4 run in one actor per core instead (`IndexFiles`:
   the stages would compete for the same cores, and a track's 17 MB of samples and
   spectrogram would cross the object store twice for nothing).
5. One writer, the driver, receives every result as it streams out and writes them in
   batches through the library's one door for indexed rows (`write_indexed`: one commit
   per batch, segments before tracks), so the library on local disk, a shared
   filesystem or object storage sees exactly the writes of a local run. Why one writer:
   the results are small (a track's segments are 80 x 200 floats), a commit costs the
   same for 1 or 16 tracks, and a single writer never contends for the library's lock.

A file that cannot be indexed is a `Failed` row like any other (`attune index --errors`);
a worker that dies has its task retried by Ray (tasks: 3 times; actors are restarted and
their batches retried), and since only the driver writes, and only what Ray Data hands it
once, nothing is written twice. A killed run resumes like a local one: what was written is
skipped next time. Rows travel between stages as pickled objects (the samples and the
spectrogram of a track are about 17 MB; Ray's object store moves them).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from attune.engine.ingest import Failed, Indexed, Unchanged

from .pipeline import IndexReport, ModelInfo, Read, embed_read, finish, last_id, load_worker, process_file, read_file, run_index


def _pack(obj) -> np.ndarray:
    return np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8)


def _unpack(blob) -> object:
    return pickle.loads(np.asarray(blob, dtype=np.uint8).tobytes())


def _read(row: dict) -> dict:
    """Stage 2 (a CPU task per file)."""
    return {"item": _pack(read_file(row["path"], row["known_id"] or None))}


class IndexFiles:
    """All three stages in one actor (CPU-only clusters): the backbone is loaded once, and
    each file goes through `pipeline.process_file` as in a local worker."""

    def __init__(self, backbone: str, precision: str | None) -> None:
        load_worker(backbone, precision, 1)  # one core per actor, BLAS included

    def __call__(self, batch: dict) -> dict:
        out = [_pack(process_file(str(path), known_id=str(known) or None)) for path, known in zip(batch["path"], batch["known_id"])]
        return {"item": np.array(out, dtype=object)}


class Embed:
    """Stage 3 (an actor: the backbone is loaded once and embeds a batch of tracks)."""

    def __init__(self, backbone: str, precision: str | None, device: str) -> None:
        import torch

        from .backbones import load_backbone

        torch.set_num_threads(1 if device == "cpu" else max(1, (os.cpu_count() or 1)))
        self.model = load_backbone(backbone, precision=precision, device=device)

    def __call__(self, batch: dict) -> dict:
        out = []
        for blob in batch["item"]:
            item = _unpack(blob)
            if isinstance(item, Read):
                item = (item, embed_read(self.model, item))
            out.append(_pack(item))
        return {"item": np.array(out, dtype=object)}


_HEADS: dict[str, object] = {}


def _describe(row: dict, info: ModelInfo) -> dict:
    """Stage 4 (a CPU task per file): the rows the library stores, or why not."""
    from .heads import active_heads

    item = _unpack(row["item"])
    if isinstance(item, tuple):
        read, segments = item
        if isinstance(segments, Failed):
            item = segments
        else:
            if info.name not in _HEADS:
                _HEADS[info.name] = active_heads(info.name)
            item = finish(read, segments, info, _HEADS[info.name])
    return {"item": _pack(item)}


def cluster_gpus() -> int:
    import ray

    return int(ray.cluster_resources().get("GPU", 0))


def run(todo: list[str], known: dict, *, backbone: str, precision: str | None, info: ModelInfo,
        actors: int | None = None, split: bool | None = None) -> Iterator[Indexed | Unchanged | Failed]:
    """Results of the files in `todo` from the cluster `ray.init` connected to, as they stream
    out. `split`: the three stages apart (the default where the cluster has GPUs)."""
    import ray

    if not todo:
        return
    gpus = cluster_gpus()
    cpus = int(ray.cluster_resources().get("CPU", 1))
    rows = [{"path": p, "known_id": last_id(known, p) or ""} for p in todo]
    ds = ray.data.from_items(rows, override_num_blocks=min(len(rows), max(1, cpus * 4)))
    if split if split is not None else gpus > 0:
        # Decoding and attributes on CPU tasks, the model on the GPUs, batched.
        ds = ds.map(_read, num_cpus=1)
        device = "cuda" if gpus else "cpu"
        ds = ds.map_batches(Embed, fn_constructor_kwargs={"backbone": backbone, "precision": precision, "device": device},
                            batch_size=8, concurrency=(1, actors or max(gpus, 1)), num_gpus=1 if gpus else 0,
                            num_cpus=0 if gpus else 1)
        ds = ds.map(_describe, fn_kwargs={"info": info}, num_cpus=1)
    else:
        # No GPU: the stages would compete for the same cores, and a track's samples and
        # spectrogram (17 MB) would cross the object store twice for nothing; one actor per
        # core runs all three, like a local worker.
        ds = ds.map_batches(IndexFiles, fn_constructor_kwargs={"backbone": backbone, "precision": precision},
                            batch_size=1, concurrency=(1, actors or cpus), num_cpus=1)
    for batch in ds.iter_batches(batch_size=1, prefetch_batches=2):
        for blob in batch["item"]:
            yield _unpack(blob)


def connect(address: str | None, *, num_cpus: int | None = None) -> Callable[[], None]:
    """Connect to the Ray cluster at `address` (None or "local": start one on this machine
    with `num_cpus`); returns what disconnects (only a cluster started here is stopped)."""
    import ray

    if ray.is_initialized():
        return lambda: None
    if address in (None, "", "local"):
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    return ray.shutdown


def index_on_ray(lib, paths: list[Path], *, address: str | None, backbone: str, precision: str | None, prune: bool,
                 batch_size: int, progress: Callable[[int, int, str], None] | None, actors: int | None = None,
                 split: bool | None = None) -> IndexReport:
    """`pipeline.index` on a Ray cluster (see the module docstring): the same run
    (`pipeline.run_index`), its files processed by the cluster."""
    from .backbones import DSPBackbone, ModelError, TorchBackbone

    try:
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"--ray needs Ray Data: pip install 'ray[data]' ({exc})") from None
    seconds = DSPBackbone.segment_seconds if backbone == "dsp" else TorchBackbone.segment_seconds

    def results(todo: list[str], known: dict, tags: tuple[str, ...]) -> Iterator[Indexed | Unchanged | Failed]:
        disconnect = connect(address)
        try:
            yield from run(todo, known, backbone=backbone, precision=precision, info=ModelInfo(backbone, tags, float(seconds)),
                           actors=actors, split=split)
        finally:
            disconnect()

    return run_index(lib, paths, backbone=backbone, prune=prune, batch_size=batch_size, progress=progress, results=results)
