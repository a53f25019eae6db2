"""Reading LanceDB tables into Arrow and numpy: whole columns in large batches, rows by
position in the order asked, vector columns as matrices. Every bulk read of the storage
package goes through here."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

#: Rows per batch when reading a whole table or column: LanceDB's default batches (about a
#: thousand rows) make a 1M-row column read 15x slower (335 ms against 20 ms here).
READ_BATCH = 1 << 20


def read_all(query, timeout: float | None = None) -> pa.Table:
    """A query's rows as one Arrow table, read in large batches."""
    reader = query.to_batches(READ_BATCH, timeout=timedelta(seconds=timeout) if timeout else None)
    return pa.Table.from_batches(list(reader), schema=reader.schema)


def take_ordered(table, offsets: Sequence[int] | np.ndarray, columns: Sequence[str], *, by_row_id: bool = False) -> pa.Table:
    """The rows at these offsets (or LanceDB row ids) of a table, in the order given (LanceDB
    is asked for them sorted, which it reads fastest)."""
    if by_row_id:
        return _take_row_ids(table, np.asarray(offsets, dtype=np.uint64), columns)
    offsets = np.asarray(offsets, dtype=np.int64)
    order = np.argsort(offsets, kind="stable")
    data = table.take_offsets(offsets[order].tolist()).select(list(columns)).to_arrow()
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return data.take(pa.array(back))


def _take_row_ids(table, rowids: np.ndarray, columns: Sequence[str]) -> pa.Table:
    """LanceDB answers a take by row ids once per distinct id, in its own order: each row
    comes back with its id, and the rows are put in the order asked (repeats included)."""
    unique = np.unique(rowids)
    data = table.take_row_ids([int(x) for x in unique]).with_row_id().select(list(columns)).to_arrow()
    got = data["_rowid"].to_numpy()
    order = np.argsort(got, kind="stable")
    at = np.searchsorted(got[order], rowids)
    if len(got) != len(unique) or not np.array_equal(got[order][np.minimum(at, len(got) - 1)], rowids):
        raise LookupError(f"{len(unique) - len(got)} of {len(unique)} row ids are not in the table")
    return data.select(list(columns)).take(pa.array(order[at]))


def matrix(column: pa.ChunkedArray | pa.Array, dims: int = -1, dtype=np.float32) -> np.ndarray:
    """A list or fixed-size-list column as an (n, dims) matrix (dims -1: from the data)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) == 0:
        return np.zeros((0, max(dims, 0)), dtype=dtype)
    return np.asarray(array.values.to_numpy(zero_copy_only=False), dtype=dtype).reshape(len(array), dims)


def release() -> None:
    """Give the memory the allocators keep after a big read or a search back to the system:
    Arrow's (building 10M tracks' artist index from its column left 300 MB resident that
    nothing used, 230 MB of it returned here) and the C library's (with glibc, the freed
    temporaries of numpy and polars stay resident: 60-100 MB after 30 searches of a 1M-track
    library over a 1 GB budget; returning them takes 0.1-3 ms, but the next search faults
    the pages in again: 5-11 ms a query there). Called over the memory budget after reading a
    whole column, and after a search or an expansion that leaves the process near its budget."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def resident() -> int | None:
    """The process's resident set in bytes (None where /proc is not there to say)."""
    import os

    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def read_through(paths: Iterable[Path], chunk: int = 4 << 20) -> int:
    """Read files from start to end into one small buffer, so that the operating system's
    page cache holds them (nothing is kept in this process); returns the bytes read. A file
    that is gone (removed by a cleanup meanwhile) is passed over."""
    buffer, total = bytearray(chunk), 0
    for path in paths:
        try:
            with open(path, "rb", buffering=0) as f:
                while n := f.readinto(buffer):
                    total += n
        except FileNotFoundError:
            continue
    return total


def available() -> int | None:
    """Bytes of memory the system could give without swapping (Linux's MemAvailable: free
    memory and the page cache it can reclaim), None where /proc does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim (None where the C library has none: musl, macOS, Windows)."""
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim
