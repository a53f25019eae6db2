"""Energy over time, queryable: how a track starts, ends and moves between the two.

From a track's energy tiles e_0..e_{N-1} (10-second means of its segments' energy, the
indexer's `temporal.tiles`):

    energy_start = mean of the tiles covering the first 30 seconds (e_0..e_2)
    energy_end   = mean of the tiles covering the last 30 seconds (e_{N-3}..e_{N-1})
    energy_slope = the least-squares slope of e_i against t_i = i / (N - 1): the energy the
                   straight line through the tiles gains from the first tile to the last
                   (a steady ramp from 0.2 to 0.8 gives 0.6; 0 for one tile; clipped to -1..1)

so `energy_start<0.3 energy_end>0.7` finds tracks that build up, `energy_slope<-0.3` tracks
that wind down. Tracks without tiles (imported attribute tables) have none of the three.
Libraries indexed before these columns existed get them from their stored tiles when they
are first opened (`backfill`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from ..storage import Store

EDGE_SECONDS = 30.0
#: The length of an energy tile (the indexer's `temporal.tiles` cuts them).
TILE_SECONDS = 10.0
COLUMNS = ("energy_start", "energy_end", "energy_slope")


def energy_shape(tiles) -> dict[str, float]:
    """energy_start, energy_end and energy_slope of one track's energy tiles (see above);
    empty when there are no tiles."""
    e = np.asarray(tiles if tiles is not None else [], dtype=np.float64)
    if e.size == 0:
        return {}
    edge = max(1, int(round(EDGE_SECONDS / TILE_SECONDS)))
    n = len(e)
    slope = 0.0
    if n > 1:
        t = np.arange(n) / (n - 1)
        slope = float(np.polyfit(t, e, 1)[0])
    return {"energy_start": float(e[:edge].mean()), "energy_end": float(e[-edge:].mean()),
            "energy_slope": float(np.clip(slope, -1.0, 1.0))}


def backfill(store: Store) -> int:
    """Fill energy_start/end/slope of tracks that have tiles but not the three (a library
    written before they existed); returns how many tracks were filled."""
    table = store.read("tracks", ["track_id", "energy_tiles"],
                       where="array_length(energy_tiles) > 0 AND energy_start IS NULL")
    if table.num_rows == 0:
        return 0
    shapes = [energy_shape(t) for t in table["energy_tiles"].to_pylist()]
    data = {"track_id": table["track_id"]} | {c: pa.array([s[c] for s in shapes], pa.float64()) for c in COLUMNS}
    return store.update_columns("tracks", "track_id", pa.table(data))
