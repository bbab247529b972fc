from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from accountpulse.notification.domain.config import AlertRules
from accountpulse.notification.domain.signature import sign, verify

SECRET = "a-shared-secret-of-the-receiver"
BODY = b'{"type":"alert"}'


def test_the_signature_is_an_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1_700_000_000, BODY) == f"t=1700000000,v1={expected}"


def test_a_receiver_accepts_a_fresh_signature_and_rejects_a_tampered_body() -> None:
    header = sign(SECRET, 1_700_000_000, BODY)
    assert verify(SECRET, header, BODY, now=1_700_000_100)
    assert not verify(SECRET, header, BODY + b" ", now=1_700_000_100)
    assert not verify("another-secret", header, BODY, now=1_700_000_100)


def test_a_replay_after_the_tolerance_is_rejected() -> None:
    header = sign(SECRET, 1_700_000_000, BODY)
    assert not verify(SECRET, header, BODY, now=1_700_000_000 + 301)


def test_the_default_rules_are_those_of_the_domain() -> None:
    rules = AlertRules()
    assert (rules.health_dropped.below, rules.health_dropped.drop_points) == (40, 15)
    assert rules.health_dropped.drop_window_days == 30
    assert rules.plan_stale.escalate_after_days == 14
    assert [(w.days_before, w.severity) for w in rules.contract_renewal.windows] == [
        (90, "low"),
        (60, "medium"),
        (30, "high"),
    ]
    assert rules.detractor_nps.max_score == 6
    assert rules.max_alerts_per_hour == 20


def test_rules_refuse_unknown_fields_and_duplicate_windows() -> None:
    with pytest.raises(ValidationError):
        AlertRules.model_validate({"health_droped": {}})
    with pytest.raises(ValidationError):
        AlertRules.model_validate(
            {"contract_renewal": {"windows": [{"days_before": 30, "severity": "high"}] * 2}}
        )
