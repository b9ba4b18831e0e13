"""siaga's producers place keys exactly where every Kafka client's default partitioner does."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from service.kafka import partition_for_key


@given(st.binary(max_size=80), st.integers(1, 64))
def test_a_key_lands_where_the_default_partitioner_puts_it(key: bytes, count: int) -> None:
    partitions = list(range(count))
    expected = DefaultPartitioner()(key, partitions, partitions)
    assert partition_for_key(key, partitions, partitions) == expected
    # and again, from the remembered hash
    assert partition_for_key(key, partitions, partitions) == expected


def test_no_key_spreads_over_the_available_partitions() -> None:
    seen = {partition_for_key(None, [0, 1, 2, 3], [1, 3]) for _ in range(200)}
    assert seen == {1, 3}
