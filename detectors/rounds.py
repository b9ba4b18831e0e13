"""Split a batch into rounds in which no station appears twice.

Readings of one station must be judged in arrival order, and each round is
judged as one set of array operations, so a station's k-th reading in the
batch belongs to round k.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


def batch_rounds(stations: I64, is_rain: B) -> tuple[list[tuple[I64, bool]], I64]:
    """The batch's rounds, each as (rows, rain gauges?) with rows in arrival order, water
    levels before rain within a round; and the stations the batch touches, sorted."""
    n = len(stations)
    order = np.argsort(stations, kind="stable")
    ordered = stations[order]
    starts = np.ones(n, dtype=np.bool_)
    starts[1:] = ordered[1:] != ordered[:-1]
    touched = ordered[starts]
    if len(touched) == n:
        # every station once (live batches): one round, water levels before rain
        rain = is_rain[stations]
        one_round = [((~rain).nonzero()[0], False), (rain.nonzero()[0], True)]
        return [(rows, kind) for rows, kind in one_round if len(rows)], touched
    # for each reading, how many readings of the same station precede it in the batch
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = np.arange(n) - first
    key = occurrence * 2 + is_rain[stations]
    by_key = np.argsort(key, kind="stable")
    keys = key[by_key]
    edges = [0, *((keys[1:] != keys[:-1]).nonzero()[0] + 1).tolist(), n]
    rounds = [(by_key[a:b], bool(keys[a] & 1)) for a, b in itertools.pairwise(edges) if b > a]
    return rounds, touched
