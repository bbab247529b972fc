"""What an email or webhook says about an alert or a digest (rendered when the delivery row is
written, so the worker sends exactly what was decided in the alert's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from accountpulse.common.events.alerts import Severity

_SEVERITY_ORDER: dict[Severity, int] = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class AlertView:
    id: str
    account_id: str
    rule: str
    severity: Severity
    title: str
    detail: str
    created_at: datetime
    kind: str = "alert"


def highest_severity(severities: Sequence[Severity]) -> Severity:
    return max(severities, key=lambda s: _SEVERITY_ORDER[s], default="low")


def email_text(alert: AlertView, folded: Sequence[AlertView] = ()) -> tuple[str, str]:
    """(subject, plain-text body)."""
    if alert.kind == "digest":
        lines = [f"- [{a.severity}] {a.title} ({a.created_at:%Y-%m-%d %H:%M} UTC)" for a in folded]
        body = f"{alert.title}\n\n" + "\n".join(lines) + "\n"
        return f"[AccountPulse] Digest: {len(folded)} alerts", body
    subject = f"[AccountPulse] [{alert.severity}] {alert.title}"
    return subject, f"{alert.title}\n\n{alert.detail}\n\nRule: {alert.rule}\nAlert: {alert.id}\n"


def webhook_body(alert: AlertView, folded: Sequence[AlertView] = ()) -> str:
    """The JSON a webhook receives; signed byte for byte as stored."""
    document = {
        "type": alert.kind,
        "alert": _view(alert),
        "folded_alerts": [_view(a) for a in folded],
    }
    return orjson.dumps(document).decode()


def digest_title(count: int) -> str:
    return f"{count} more alerts this hour, collected in a digest"


# A digest's inbox item lists its first folded alerts a line each, then how many more: its
# size (and the cost of each fold's update) stays bounded however many alerts fold into it.
# Every folded alert is under the digest's ``folded_alerts`` and in its email and webhook.
DIGEST_DETAIL_LINES = 20


def digest_detail_line(count: int, severity: Severity, title: str) -> str:
    """The line the ``count``-th folded alert adds to its digest's inbox item: its own while
    the item lists fewer than :data:`DIGEST_DETAIL_LINES`, then the one that counts the rest
    (replacing the previous count)."""
    if count <= DIGEST_DETAIL_LINES:
        return f"[{severity}] {title}"
    return f"… and {count - DIGEST_DETAIL_LINES} more, every one listed in the digest's alerts"


def _view(alert: AlertView) -> dict[str, str]:
    return {
        "id": alert.id,
        "account_id": alert.account_id,
        "rule": alert.rule,
        "severity": alert.severity,
        "title": alert.title,
        "detail": alert.detail,
        "created_at": alert.created_at.isoformat(),
    }
