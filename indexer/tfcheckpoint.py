"""A small reader for TensorFlow's checkpoint format (the "tensor bundle"), without TensorFlow.

A checkpoint is two files:
- `<prefix>.index`: a LevelDB-style sorted table (SSTable) whose keys are tensor
  names and whose values are `BundleEntryProto` messages (dtype, shape, shard,
  offset, size); the empty key holds a `BundleHeaderProto`;
- `<prefix>.data-00000-of-00001`: the raw little-endian tensor bytes.

Only what reading float checkpoints needs is implemented: uncompressed table
blocks, prefix-compressed keys, and the few protobuf fields of the entry.
The format is documented in TensorFlow's `tensor_bundle.proto` and LevelDB's
`table_format.md`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from attune.engine import AttuneError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER = 5  # compression type (1 byte) + crc32c (4 bytes)

# tensorflow/core/framework/types.proto
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 9: np.int64, 10: np.bool_, 19: np.float16}


class CheckpointError(AttuneError):
    title = "checkpoint error"


@dataclass(frozen=True)
class Entry:
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """Yield (field number, wire type, value) of a protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = buf[pos : pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value = buf[pos : pos + length]
            pos += length
        elif wire == 5:
            value = buf[pos : pos + 4]
            pos += 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _entry(buf: bytes) -> Entry:
    dtype = shard = offset = size = 0
    shape: list[int] = []
    for number, _, value in _fields(buf):
        if number == 1:
            dtype = value
        elif number == 2:  # TensorShapeProto: repeated Dim dim = 2 { int64 size = 1 }
            for n2, _, dim in _fields(value):
                if n2 == 2:
                    shape.extend(v for n3, _, v in _fields(dim) if n3 == 1)
        elif number == 3:
            shard = value
        elif number == 4:
            offset = value
        elif number == 5:
            size = value
        elif number == 7:
            raise CheckpointError("sliced (partitioned) tensors are not supported")
    return Entry(dtype, tuple(shape), shard, offset, size)


def _block(data: bytes, offset: int, size: int) -> bytes:
    if data[offset + size] != 0:
        raise CheckpointError("compressed checkpoint index blocks are not supported")
    return data[offset : offset + size]


def _block_items(block: bytes):
    """Key/value pairs of one table block (keys are prefix-compressed)."""
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + length]
        pos += length


def read_index(path: Path) -> dict[str, Entry]:
    data = path.read_bytes()
    if len(data) < FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise CheckpointError(f"{path} is not a TensorFlow checkpoint index")
    footer = data[-FOOTER_SIZE:]
    _, pos = _varint(footer, 0)  # metaindex offset
    _, pos = _varint(footer, pos)  # metaindex size
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    entries = {}
    for _, handle in _block_items(_block(data, index_offset, index_size)):
        offset, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block_items(_block(data, offset, size)):
            if key:  # the empty key is the bundle header
                entries[key.decode("utf-8")] = _entry(value)
    return entries


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of a checkpoint, by name. `prefix` is the path without `.index`."""
    prefix = str(prefix)
    index = Path(prefix + ".index")
    if not index.exists():
        raise CheckpointError(f"no checkpoint index at {index}")
    entries = read_index(index)
    shards: dict[int, bytes] = {}
    tensors = {}
    for name, e in entries.items():
        if e.dtype not in DTYPES:
            continue  # strings and resources (e.g. the global step's name) are not weights
        if e.shard not in shards:
            n_shards = 1 + max(x.shard for x in entries.values())
            shards[e.shard] = Path(f"{prefix}.data-{e.shard:05d}-of-{n_shards:05d}").read_bytes()
        raw = shards[e.shard][e.offset : e.offset + e.size]
        array = np.frombuffer(raw, dtype=np.dtype(DTYPES[e.dtype]).newbyteorder("<"))
        tensors[name] = array.reshape(e.shape).copy()
    return tensors
