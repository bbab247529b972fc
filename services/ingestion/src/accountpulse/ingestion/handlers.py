"""What each consumed event does to ingestion: the latest score snapshot of each account is
kept beside the account (``scores.current.v1``), so the accounts list can filter and sort by
scores. Ingestion consumes nothing else: it is where accounts and facts come from."""

from __future__ import annotations

from collections.abc import Sequence

from accountpulse.common.events import ScoreSnapshot
from accountpulse.common.messaging.consumer import standing_by_version
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store import account_scores


async def on_score_snapshots(uow: UnitOfWork, envelopes: Sequence[Envelope[ScoreSnapshot]]) -> None:
    """Set-based: per account the snapshot applying them one by one would leave (the last of
    the latest account version and time), in one statement; one applied later than it wins.
    A tombstone (the account erased or merged away) never reaches a handler: the erasure
    itself removed the row with its account, and a merged account's scores are no longer
    shown."""
    standing = standing_by_version(envelopes, lambda e: (e.payload.version, e.payload.computed_at))
    await account_scores.apply_snapshots(uow, [envelope.payload for envelope in standing])
