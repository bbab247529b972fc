from __future__ import annotations

from accountpulse.planning.domain.stakeholders import Stakeholder, stakeholder_map


def _contact(cid: str, center: str | None, power: str | None) -> Stakeholder:
    return Stakeholder(cid, None, center, power, None)


def test_contacts_are_grouped_by_buying_center_and_decision_power_with_the_gaps() -> None:
    result = stakeholder_map(
        [
            _contact("c1", "it", "decision_maker"),
            _contact("c2", "it", "user"),
            _contact("c3", "finance", "influencer"),
        ],
        expected_buying_centers=["it", "procurement"],
    )
    assert [(c.name, c.contacts_by_power) for c in result.buying_centers] == [
        ("finance", {"influencer": ["c3"]}),
        ("it", {"decision_maker": ["c1"], "user": ["c2"]}),
    ]
    assert [(g.kind, g.value) for g in result.gaps] == [
        ("decision_power", "gatekeeper"),
        ("buying_center", "procurement"),
        ("buying_center_without_decision_maker", "finance"),
    ]


def test_an_account_without_contacts_lacks_every_decision_power() -> None:
    gaps = stakeholder_map([]).gaps
    assert [g.value for g in gaps] == ["decision_maker", "influencer", "user", "gatekeeper"]
