"""Ids of rows written in bulk: time-ordered UUIDs (version 7, RFC 9562).

An outbox event, an inbox entry or a snapshot is keyed by a UUID. A random one (version 4)
lands on a random page of its unique index, so a run of a million writes touches the whole
index, and after each checkpoint nearly every insert logs a full page image. A version 7 id
starts with the time in milliseconds: each insert goes to the right-hand end of the index,
where the previous one went. The ids stay unguessable enough for what they name (74 random
bits) and are ordinary UUIDs to every reader.
"""

from __future__ import annotations

import uuid_utils


def new_id() -> str:
    """A new time-ordered UUID, as text."""
    return str(uuid_utils.uuid7())
