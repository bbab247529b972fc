"""The worklist's read: every active account of one owner with what may need attention —
its scores and tier, its plan's staleness, its open alerts, its next renewal within 90 days.

One statement; an owner carries tens of accounts (an AM 10–20, a KAM a handful), so the
ranking (:mod:`domain.worklist`) runs over all of them and pages are cut from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.worklist import RENEWAL_WINDOW_DAYS, AccountSituation

_SEVERITIES = ("low", "medium", "high")

# Open: not acknowledged, snoozed or resolved — or snoozed until a time now past. The
# manager's copy of an escalated alert is the same matter (escalation_of): left out.
_OWNER_ACCOUNTS = """
SELECT a.account_id, a.name, c.tier, c.priority, c.health, coalesce(c.at_risk, false) AS at_risk,
       coalesce(p.stale_reasons, '{}') AS stale_reasons,
       coalesce(al.open_alerts, 0) AS open_alerts, al.severity,
       (SELECT min(k.ends_on) FROM scoring.contracts k
         WHERE k.tenant_id = a.tenant_id AND k.account_id = a.account_id
           AND k.ends_on >= :today AND k.ends_on <= :renewal_until) AS renewal_on
  FROM scoring.accounts a
  LEFT JOIN scoring.current_scores c ON c.tenant_id = a.tenant_id AND c.account_id = a.account_id
  LEFT JOIN scoring.plan_status p ON p.tenant_id = a.tenant_id AND p.account_id = a.account_id
  LEFT JOIN LATERAL (
    SELECT count(*) AS open_alerts,
           max(array_position(CAST(:severities AS text[]), x.severity)) AS severity
      FROM scoring.account_alerts x
     WHERE x.tenant_id = a.tenant_id AND x.account_id = a.account_id
       AND x.escalation_of IS NULL
       AND (x.state = 'open' OR (x.state = 'snoozed' AND x.snoozed_until <= :now))
  ) al ON true
 WHERE a.tenant_id = :t AND a.owner_id = :owner AND a.lifecycle_status = 'active'
   AND a.erased_at IS NULL AND a.merged_into IS NULL
"""


async def owner_accounts(uow: UnitOfWork, owner_id: str, now: datetime) -> list[AccountSituation]:
    today = now.date()
    rows = await uow.session.execute(
        text(_OWNER_ACCOUNTS),
        {
            "t": uow.tenant_id,
            "owner": owner_id,
            "now": now,
            "today": today,
            "renewal_until": today + timedelta(days=RENEWAL_WINDOW_DAYS),
            "severities": list(_SEVERITIES),
        },
    )
    return [
        AccountSituation(
            account_id=r.account_id,
            name=r.name,
            tier=r.tier,
            priority=r.priority,
            health=r.health,
            at_risk=r.at_risk,
            stale_reasons=tuple(r.stale_reasons),
            open_alerts=int(r.open_alerts),
            highest_severity=_SEVERITIES[r.severity - 1] if r.severity else None,
            renewal_on=r.renewal_on,
        )
        for r in rows
    ]
