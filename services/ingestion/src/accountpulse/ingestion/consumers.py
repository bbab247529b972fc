"""Ingestion's subscription: the current scores (compacted), for the accounts list."""

from __future__ import annotations

from accountpulse.common.events import ScoreSnapshot
from accountpulse.common.messaging.consumer import Subscription
from accountpulse.common.messaging.topics import SCORES_CURRENT
from accountpulse.common.service import Runtime
from accountpulse.ingestion import handlers
from accountpulse.ingestion.settings import IngestionSettings


def subscriptions(runtime: Runtime[IngestionSettings]) -> list[Subscription]:
    return [
        Subscription("ingestion", [SCORES_CURRENT]).on_batch(
            [ScoreSnapshot], handlers.on_score_snapshots
        )
    ]
