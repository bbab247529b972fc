"""What each consumed event does to ingestion: the latest score snapshot of each account is
kept beside the account (``scores.current.v1``), so the accounts list can filter and sort by
scores. Ingestion consumes nothing else: it is where accounts and facts come from."""

from __future__ import annotations

from accountpulse.common.events import ScoreSnapshot
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store import account_scores


async def on_score_snapshot(uow: UnitOfWork, envelope: Envelope[ScoreSnapshot]) -> None:
    """Keep the snapshot unless a later one was applied. A tombstone (the account erased or
    merged away) never reaches a handler: the erasure itself removed the row with its
    account, and a merged account's scores are no longer shown."""
    event = envelope.payload
    await account_scores.apply_snapshot(
        uow,
        event.account_id,
        snapshot_id=event.snapshot_id,
        account_version=event.version,
        model_version=event.model_version,
        computed_at=event.computed_at,
        tier=event.tier,
        at_risk=event.at_risk,
        scores=event.scores,
        revenue_ttm=event.revenue_ttm,
        whitespace=event.whitespace,
    )
