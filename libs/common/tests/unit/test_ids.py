"""Time-ordered ids: what the outbox, the inbox and the snapshots key their rows by."""

from __future__ import annotations

import time
import uuid

from accountpulse.common.ids import new_id


def test_ids_are_version_7_uuids_that_sort_in_the_order_they_were_made() -> None:
    made = []
    for _ in range(5):
        made += [new_id() for _ in range(200)]
        time.sleep(0.002)  # the next millisecond
    assert all(uuid.UUID(made_id).version == 7 for made_id in made)
    assert len(set(made)) == len(made)
    starts = [made[k] for k in range(0, len(made), 200)]
    assert starts == sorted(starts)  # across milliseconds, always
    assert made == sorted(made)  # within one, by uuid-utils' counter
