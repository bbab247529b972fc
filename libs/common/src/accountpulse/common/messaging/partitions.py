"""Which partition a keyed record goes to: the Kafka clients' default partitioner (murmur2 of
the key, positive, modulo the partition count), computed for a whole round of keys at once.

aiokafka's own murmur2 is pure Python (~30 µs a key, the largest single cost of a relay round
in the profile); the same arithmetic over numpy columns costs well under a microsecond a key.
The result is the partition aiokafka's ``send`` would choose, so a key's records stay on one
partition whichever path published them (tests compare the two).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_SEED = 0x9747B28C
_M = np.uint32(0x5BD1E995)

UInt32s = npt.NDArray[np.uint32]


def positive_murmur2(keys: Sequence[bytes]) -> list[int]:
    """``murmur2(key) & 0x7fffffff`` of each key (the partition is this modulo the count)."""
    hashes = np.empty(len(keys), dtype=np.uint32)
    by_length: dict[int, list[int]] = {}
    for index, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(index)
    for length, indices in by_length.items():
        data = np.frombuffer(b"".join(keys[i] for i in indices), dtype=np.uint8)
        hashes[indices] = _murmur2(data.reshape(len(indices), length), length)
    return (hashes & np.uint32(0x7FFFFFFF)).tolist()  # type: ignore[no-any-return]


def _murmur2(data: npt.NDArray[np.uint8], length: int) -> UInt32s:
    """Kafka's ``Utils.murmur2`` of each row of ``data`` (all ``length`` bytes long); uint32
    arithmetic wraps like Java's int."""
    h = np.full(data.shape[0], (_SEED ^ length) & 0xFFFFFFFF, dtype=np.uint32)
    words = length // 4
    if words:
        columns = np.ascontiguousarray(data[:, : words * 4]).view("<u4")
        for j in range(words):
            k = columns[:, j] * _M
            k ^= k >> np.uint32(24)
            k *= _M
            h *= _M
            h ^= k
    tail, base = length % 4, words * 4
    if tail == 3:
        h ^= data[:, base + 2].astype(np.uint32) << np.uint32(16)
    if tail >= 2:
        h ^= data[:, base + 1].astype(np.uint32) << np.uint32(8)
    if tail >= 1:
        h ^= data[:, base].astype(np.uint32)
        h *= _M
    h ^= h >> np.uint32(13)
    h *= _M
    h ^= h >> np.uint32(15)
    return h
