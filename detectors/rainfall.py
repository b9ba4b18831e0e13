"""Rolling rainfall accumulations and BMKG categories.

A reading says "`value` mm fell over the `interval_s` before `observed_at`".
Its amount is spread evenly over that span into 5-minute buckets (the last
3 h) and hourly buckets (the last 24 h), so gauges reporting every 5 min,
every hour or once a day all give comparable 1 h, 3 h and 24 h totals.

BMKG categories: per hour light 1–5 mm, moderate 5–10, heavy 10–20, very
heavy > 20; per day light 0.5–20, moderate 20–50, heavy 50–100, very heavy
100–150, extreme > 150. Heavy or worse maps to an alert level: heavy → 3,
very heavy → 2, extreme → 1.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.state import RAIN_COARSE_S, RAIN_COARSE_SLOTS, RAIN_FINE_S, RAIN_FINE_SLOTS

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
F32 = npt.NDArray[np.float32]

# beyond ~year 5000 a bucket number no longer fits the int32 ids with room to spare
_SAFE_T = 1e11
_POSITIVE_INF_BITS = 0x7F800000  # as uint32: anything above is a NaN or has the sign bit
_ARANGE = np.arange(64)

HOURLY = ((20.0, "very_heavy", 2), (10.0, "heavy", 3), (5.0, "moderate", 4),
          (1.0, "light", 4))
DAILY = ((150.0, "extreme", 1), (100.0, "very_heavy", 2), (50.0, "heavy", 3),
         (20.0, "moderate", 4), (0.5, "light", 4))


def category(total_mm: float, table: tuple[tuple[float, str, int], ...]) -> tuple[str, int]:
    """(BMKG category, alert level) of one total. "very heavy > 20": 20.0 mm is still heavy."""
    for i, (lower, name, level) in enumerate(table):
        # the top category of each table is "> bound", the others "from bound"
        if (total_mm > lower) if i == 0 else (total_mm >= lower):
            return name, level
    return "none", 4


def levels(totals_mm: F64, table: tuple[tuple[float, str, int], ...]) -> npt.NDArray[np.int8]:
    """Alert level (4 = nothing to alert) per total, vectorised: the level of the first
    category in table order that a total reaches and that alerts at all."""
    out = np.full(len(totals_mm), 4, dtype=np.int8)
    # written from the last category up, so the first one that applies is left
    for i in range(len(table) - 1, -1, -1):
        lower, _, level = table[i]
        if level != 4:
            out[(totals_mm > lower) if i == 0 else (totals_mm >= lower)] = level
    return out


def spread(
    ids_stored: npt.NDArray[np.int32],
    amounts: npt.NDArray[np.float32],
    start: F64,
    end: F64,
    total_mm: F64,
    bucket_s: float,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Add each row's amount over [start, end) to its ring of buckets.

    Returns the updated (ids, amounts) rings and the slot of each row's newest
    bucket. Slots are absolute bucket numbers modulo the ring size; a slot
    still holding an expired bucket is cleared before it is reused.
    """
    rate = total_mm / np.maximum(end - start, 1e-9)
    return _spread(ids_stored, amounts, start, end, rate, bucket_s,
                   _plain_spans(start, end, rate))


def spread_and_total(fine_ids: I32, fine_mm: F32, coarse_ids: I32, coarse_mm: F32,
                     start: F64, end: F64, total_mm: F64
                     ) -> tuple[I32, F32, I32, F32, F64, F64]:
    """`spread` of the same readings into the fine (5 min) and coarse (hourly) rings, and
    `window_total` of each: the new rings, then the rain of the last hour and of 24 h.

    Where `_spread`'s shortcut applies to both, the two rings go through one set of
    array operations side by side: for a handful of gauges the number of numpy calls,
    not the arithmetic, is the cost. Each element sees the same operations either way.
    """
    rate = total_mm / np.maximum(end - start, 1e-9)
    plain = _plain_spans(start, end, rate)
    both = _spread_both(fine_ids, fine_mm, coarse_ids, coarse_mm, start, end, rate
                        ) if plain else None
    if both is None:
        fine_ids, fine_mm, _ = _spread(fine_ids, fine_mm, start, end, rate, RAIN_FINE_S, plain)
        coarse_ids, coarse_mm, _ = _spread(coarse_ids, coarse_mm, start, end, rate,
                                           RAIN_COARSE_S, plain)
        return (fine_ids, fine_mm, coarse_ids, coarse_mm,
                window_total(fine_ids, fine_mm, end, 3600.0, RAIN_FINE_S),
                window_total(coarse_ids, coarse_mm, end, 86_400.0, RAIN_COARSE_S))
    ids, amounts = both
    totals = _window_totals_both(ids, amounts, end)
    f = RAIN_FINE_SLOTS
    return ids[:, :f], amounts[:, :f], ids[:, f:], amounts[:, f:], totals[0], totals[1]


# both rings side by side: fine slots first, then coarse
_BUCKETS = np.array([RAIN_FINE_S, RAIN_COARSE_S])
_SLOTS = np.array([RAIN_FINE_SLOTS, RAIN_COARSE_SLOTS])
_BOTH_BUCKET = np.repeat(_BUCKETS, _SLOTS)
_BOTH_WINDOW = np.repeat([3600.0, 86_400.0], _SLOTS)


def _spread_both(fine_ids: I32, fine_mm: F32, coarse_ids: I32, coarse_mm: F32,
                 start: F64, end: F64, rate: F64) -> tuple[I32, F32] | None:
    """`_spread`'s shortcut for both rings at once, as (n, fine + coarse slots) arrays;
    None where either ring needs the full computation. Only for `plain` spans."""
    if (fine_mm.view(np.uint32).max() > _POSITIVE_INF_BITS
            or coarse_mm.view(np.uint32).max() > _POSITIVE_INF_BITS):
        return None
    newest_f = np.floor((end - 1e-6)[:, np.newaxis] / _BUCKETS)
    reach = (newest_f - np.floor(start[:, np.newaxis] / _BUCKETS)).max(axis=0)
    reach += 2.0
    if reach[0] >= RAIN_FINE_SLOTS or reach[1] >= RAIN_COARSE_SLOTS:
        return None
    newest = newest_f.astype(np.int64)
    remainder = newest % _SLOTS
    labels = _both_offsets()[remainder[:, 0], remainder[:, 1]]
    base = (newest - remainder).astype(np.int32)
    f = RAIN_FINE_SLOTS
    labels[:, :f] += base[:, :1]
    labels[:, f:] += base[:, 1:]
    ids = np.concatenate((fine_ids, coarse_ids), axis=1)
    amounts = np.concatenate((fine_mm, coarse_mm), axis=1)
    new_amounts = np.where(ids == labels, amounts, np.float32(0.0))
    ring, back, bucket, slots, first = _wanted_columns(max(int(reach[0]), 1),
                                                       max(int(reach[1]), 1))
    wanted = newest[:, ring] - back
    added = _rain_into(wanted * bucket, bucket, start, end, rate)
    flat = wanted % slots
    flat += first
    flat += np.arange(0, len(end) * labels.shape[1], labels.shape[1])[:, np.newaxis]
    cells = new_amounts.reshape(-1)
    added += cells[flat]
    cells[flat] = added
    return labels, new_amounts


@functools.cache
def _both_offsets() -> I32:
    """`_slot_offsets` of both rings side by side, by (fine remainder, coarse remainder)."""
    fine, coarse = _slot_offsets(RAIN_FINE_SLOTS), _slot_offsets(RAIN_COARSE_SLOTS)
    table: I32 = np.concatenate(
        (np.broadcast_to(fine[:, np.newaxis, :], (len(fine), len(coarse), fine.shape[1])),
         np.broadcast_to(coarse[np.newaxis, :, :], (len(fine), len(coarse), coarse.shape[1]))),
        axis=2)
    return table


@functools.cache
def _wanted_columns(fine: int, coarse: int
                    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], F64,
                               npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For the newest `fine` and `coarse` buckets side by side: each column's ring, how
    many buckets back from the newest it is, its ring's bucket length and slot count,
    and where its ring starts among the side-by-side slots."""
    ring = np.repeat(np.arange(2), (fine, coarse))
    back = np.concatenate((_ARANGE[:fine], _ARANGE[:coarse]))
    first = np.where(ring == 0, 0, RAIN_FINE_SLOTS)
    return ring, back, _BUCKETS[ring], _SLOTS[ring], first


def _window_totals_both(ids: I32, amounts: F32, end: F64) -> tuple[F64, F64]:
    """`window_total` of 1 h over the fine and of 24 h over the coarse ring, side by side;
    each ring's part of a row is summed alone, so the sums round as `window_total`'s."""
    b_start = ids.astype(np.float64)
    b_start *= _BOTH_BUCKET
    end_c = end[:, np.newaxis]
    lo = end_c - _BOTH_WINDOW
    b_end = b_start + _BOTH_BUCKET
    np.minimum(b_end, end_c, out=b_end)
    overlap = np.maximum(lo, b_start)
    np.subtract(b_end, overlap, out=overlap)
    np.maximum(overlap, 0.0, out=overlap)
    valid = ids >= 0
    valid &= b_end > b_start
    weight = np.zeros(overlap.shape)
    np.divide(overlap, b_end - b_start, out=weight, where=valid)
    weight *= amounts
    f = RAIN_FINE_SLOTS
    return weight[:, :f].sum(axis=1), weight[:, f:].sum(axis=1)


def _plain_spans(start: F64, end: F64, rate: F64) -> bool:
    """Finite spans, rates and times whose bucket numbers fit int32 with room to spare:
    the inputs for which the shortcut in `_spread` gives the full computation's bits.
    (NaN × 0.0 is NaN: non-finite input spreads into every slot.)"""
    # a sum of finite numbers is finite unless it overflows, and then we just decline
    return (len(end) > 0 and bool(np.isfinite(rate + start).all())
            and bool(np.abs(end).max() <= _SAFE_T))


def _spread(ids_stored: npt.NDArray[np.int32], amounts: npt.NDArray[np.float32],
            start: F64, end: F64, rate: F64, bucket_s: float, plain: bool
            ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    slots = ids_stored.shape[1]
    newest_f = np.floor((end - 1e-6) / bucket_s)
    newest = newest_f.astype(np.int64)
    # adding +0.0 turns a stored −0.0 into +0.0 and may quieten a NaN: leave those alone
    if not plain or amounts.view(np.uint32).max() > _POSITIVE_INF_BITS:
        return _spread_all(ids_stored, amounts, start, end, rate, newest, bucket_s)
    # one bucket of margin: start / bucket_s can round up across a bucket boundary
    reach = float((newest_f - np.floor(start / bucket_s)).max()) + 2.0
    if reach >= slots:
        return _spread_all(ids_stored, amounts, start, end, rate, newest, bucket_s)
    columns = max(int(reach), 1)
    # Every slot is relabelled to the bucket it holds now, as if all were written; only
    # the newest `columns` buckets receive rain. The others would get rate × 0.0 added,
    # which leaves their amounts as they are.
    # (bucket numbers fit int32 here, so the labels are built as int32 from the start)
    remainder = newest % slots
    labels = _slot_offsets(slots)[remainder]
    labels += (newest - remainder).astype(np.int32)[:, np.newaxis]
    new_amounts = np.where(ids_stored == labels, amounts, np.float32(0.0))
    wanted = newest[:, np.newaxis] - _ARANGE[:columns]
    added = _rain_into(wanted * bucket_s, bucket_s, start, end, rate)
    # flat indexes into the rows: cheaper than indexing by (rows, slots) pairs
    flat = wanted % slots
    flat += np.arange(0, len(end) * slots, slots)[:, np.newaxis]
    ring = new_amounts.reshape(-1)
    added += ring[flat]
    ring[flat] = added
    return labels, new_amounts, newest


def _rain_into(bucket_start: npt.NDArray[np.floating[Any]], bucket_s: F64 | float,
               start: F64, end: F64, rate: F64) -> F64:
    """Rain each row's span [start, end) puts into each of its buckets (one per column,
    starting at `bucket_start`): the overlap in seconds times the row's rate."""
    added: F64 = np.minimum(end[:, np.newaxis], bucket_start + bucket_s)
    added -= np.maximum(start[:, np.newaxis], bucket_start)
    np.maximum(added, 0.0, out=added)
    added *= rate[:, np.newaxis]
    return added


@functools.cache
def _slot_offsets(slots: int) -> npt.NDArray[np.int32]:
    """Row r: for each slot j, its bucket minus (newest − r) when newest % slots == r."""
    j = np.arange(slots)
    wrapped = j[np.newaxis, :] > j[:, np.newaxis]
    offsets: npt.NDArray[np.int32] = (j[np.newaxis, :] - slots * wrapped).astype(np.int32)
    return offsets


def _spread_all(ids_stored: npt.NDArray[np.int32], amounts: npt.NDArray[np.float32],
                start: F64, end: F64, rate: F64, newest: npt.NDArray[np.int64], bucket_s: float
                ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """`spread` over every slot of the ring, for inputs its shortcut cannot take."""
    slots = ids_stored.shape[1]
    wanted = newest[:, np.newaxis] - np.arange(slots)[np.newaxis, :]  # newest first
    b_start = wanted * bucket_s
    overlap = np.maximum(
        np.minimum(end[:, np.newaxis], b_start + bucket_s)
        - np.maximum(start[:, np.newaxis], b_start), 0.0)
    add = rate[:, np.newaxis] * overlap
    slot = wanted % slots
    rows = np.arange(len(end))[:, np.newaxis]
    held = ids_stored[rows, slot]
    current = np.where(held == wanted, amounts[rows, slot], 0.0)
    new_ids = ids_stored.copy()
    new_amounts = amounts.copy()
    new_ids[rows, slot] = wanted.astype(np.int32)
    new_amounts[rows, slot] = (current + add).astype(np.float32)
    return new_ids, new_amounts, newest


def window_total(ids: npt.NDArray[np.int32], amounts: npt.NDArray[np.float32], end: F64,
                 window_s: float, bucket_s: float) -> F64:
    """Rain in (end − window_s, end] per row, taking a partial bucket pro rata.

    Within a bucket the rain is taken as even, the same assumption `spread` makes.
    """
    b_start = ids.astype(np.float64)
    b_start *= bucket_s
    lo = (end - window_s)[:, np.newaxis]
    # the newest bucket is only filled up to `end`: no rain has fallen after it
    b_end = b_start + bucket_s
    np.minimum(b_end, end[:, np.newaxis], out=b_end)
    overlap = np.maximum(lo, b_start)
    np.subtract(b_end, overlap, out=overlap)
    np.maximum(overlap, 0.0, out=overlap)
    valid = ids >= 0
    valid &= b_end > b_start
    # dividing only where valid: elsewhere the width may be 0 or NaN, and the weight is 0
    weight = np.zeros_like(overlap)
    np.divide(overlap, b_end - b_start, out=weight, where=valid)
    weight *= amounts
    total: F64 = weight.sum(axis=1)
    return total
