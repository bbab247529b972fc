"""The relay's partitioner against aiokafka's: the same partition for every key."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st

from accountpulse.common.messaging.partitions import positive_murmur2


@given(st.lists(st.binary(max_size=80), max_size=60), st.integers(min_value=1, max_value=64))
def test_a_key_goes_to_the_partition_aiokafka_would_choose(keys: list[bytes], count: int) -> None:
    partitions = list(range(count))
    expected = [DefaultPartitioner()(key, partitions, partitions) for key in keys]
    assert [h % count for h in positive_murmur2(keys)] == expected


def test_keys_hash_like_aiokafkas_murmur2() -> None:
    keys = [b"t-1:acc-0000001", b"", b"a", b"ab", b"abc", b"abcd", bytes(range(256)) * 2]
    assert positive_murmur2(keys) == [murmur2(key) & 0x7FFFFFFF for key in keys]
