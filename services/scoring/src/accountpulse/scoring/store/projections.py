"""What scoring keeps of planning's and notification's events for the worklist: each account's
plan staleness (``plan_status``) and each alert's state (``account_alerts``).

Gating: a plan event applies unless an event of a later plan version was applied; an alert's
state moves only forward in time and never out of ``resolved``. Events of an account scoring
erased or merged away are dropped. (A redelivered event never gets here: the inbox.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork

_LIVE_ACCOUNT = (
    "NOT EXISTS (SELECT 1 FROM scoring.accounts a WHERE a.tenant_id = :t"
    " AND a.account_id = :a AND (a.erased_at IS NOT NULL OR a.merged_into IS NOT NULL))"
)

_APPLY_PLAN = f"""
INSERT INTO scoring.plan_status AS p (tenant_id, account_id, plan_id, plan_version,
                                      stale_reasons, stale_since, last_reviewed_at)
SELECT :t, :a, :plan, CAST(:version AS integer), coalesce(CAST(:reasons AS text[]), '{{}}'),
       CAST(:since AS timestamptz), CAST(:reviewed AS timestamptz)
 WHERE {_LIVE_ACCOUNT}
ON CONFLICT (tenant_id, account_id) DO UPDATE SET
  plan_id = EXCLUDED.plan_id,
  plan_version = EXCLUDED.plan_version,
  stale_reasons = CASE WHEN CAST(:reasons AS text[]) IS NULL THEN p.stale_reasons
                       ELSE EXCLUDED.stale_reasons END,
  stale_since = CASE WHEN CAST(:reasons AS text[]) IS NULL THEN p.stale_since
                     ELSE EXCLUDED.stale_since END,
  last_reviewed_at = coalesce(EXCLUDED.last_reviewed_at, p.last_reviewed_at)
WHERE p.plan_id <> EXCLUDED.plan_id OR p.plan_version <= EXCLUDED.plan_version
"""


async def apply_plan(
    uow: UnitOfWork,
    account_id: str,
    plan_id: str,
    plan_version: int,
    *,
    stale_reasons: list[str] | None = None,
    stale_since: datetime | None = None,
    reviewed_at: datetime | None = None,
) -> None:
    """Record a plan event: its version, and its staleness when the event states it
    (``stale_reasons`` None: an event that says nothing about staleness keeps what we know)."""
    await uow.session.execute(
        text(_APPLY_PLAN),
        {
            "t": uow.tenant_id,
            "a": account_id,
            "plan": plan_id,
            "version": plan_version,
            "reasons": stale_reasons,
            "since": stale_since if stale_reasons else None,
            "reviewed": reviewed_at,
        },
    )


async def raise_alert(
    uow: UnitOfWork,
    alert_id: str,
    account_id: str,
    *,
    rule: str,
    severity: str,
    recipient_id: str,
    raised_at: datetime,
) -> None:
    await uow.session.execute(
        text(
            "INSERT INTO scoring.account_alerts (tenant_id, alert_id, account_id, rule, severity,"
            " recipient_id, state, raised_at, state_at)"
            " SELECT :t, :id, :a, :rule, :severity, :recipient, 'open',"
            f" CAST(:at AS timestamptz), CAST(:at AS timestamptz) WHERE {_LIVE_ACCOUNT}"
            " ON CONFLICT (tenant_id, alert_id) DO NOTHING"
        ),
        {
            "t": uow.tenant_id,
            "id": alert_id,
            "a": account_id,
            "rule": rule,
            "severity": severity,
            "recipient": recipient_id,
            "at": raised_at,
        },
    )


async def move_alert(
    uow: UnitOfWork,
    alert_id: str,
    state: str,
    at: datetime,
    snoozed_until: datetime | None = None,
) -> None:
    """Move a known alert to ``state`` as of ``at`` (not back in time, not out of resolved)."""
    await uow.session.execute(
        text(
            "UPDATE scoring.account_alerts SET state = :state, state_at = :at,"
            " snoozed_until = :until WHERE tenant_id = :t AND alert_id = :id"
            " AND state <> 'resolved' AND state_at <= :at"
        ),
        {"t": uow.tenant_id, "id": alert_id, "state": state, "at": at, "until": snoozed_until},
    )


async def mark_escalation(uow: UnitOfWork, escalation_alert_id: str, alert_id: str) -> None:
    """The manager's copy of an escalated alert is the same matter: counted once."""
    await uow.session.execute(
        text(
            "UPDATE scoring.account_alerts SET escalation_of = :of"
            " WHERE tenant_id = :t AND alert_id = :id"
        ),
        {"t": uow.tenant_id, "id": escalation_alert_id, "of": alert_id},
    )


async def erase_account(uow: UnitOfWork, account_id: str) -> None:
    """Nothing of an erased account may remain here either."""
    for table in ("plan_status", "account_alerts"):
        await uow.session.execute(
            text(f"DELETE FROM scoring.{table} WHERE tenant_id = :t AND account_id = :a"),
            {"t": uow.tenant_id, "a": account_id},
        )


async def fold_merged_accounts(uow: UnitOfWork, survivor: str, merged: list[str]) -> None:
    """The merged accounts' alerts now concern the survivor; their plans are archived."""
    params = {"t": uow.tenant_id, "s": survivor, "m": merged}
    await uow.session.execute(
        text(
            "UPDATE scoring.account_alerts SET account_id = :s"
            " WHERE tenant_id = :t AND account_id = ANY(:m)"
        ),
        params,
    )
    await uow.session.execute(
        text("DELETE FROM scoring.plan_status WHERE tenant_id = :t AND account_id = ANY(:m)"),
        params,
    )
