"""Ingestion's pure rules: money conversion, name normalisation, the checks of a write."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accountpulse.ingestion.domain.checks import (
    batch_ids_are_unique,
    contract_ends_after_start,
    merge_is_well_formed,
)
from accountpulse.ingestion.domain.money import to_reporting
from accountpulse.ingestion.domain.names import similar_name_key
from accountpulse.ingestion.domain.rules import RuleBroken


def test_a_foreign_amount_is_converted_with_the_callers_rate_to_the_cent() -> None:
    assert to_reporting(Decimal("100.00"), "USD", Decimal("0.9137"), "EUR", "amount") == Decimal(
        "91.37"
    )


def test_a_foreign_amount_without_a_rate_is_refused_naming_fx_rate() -> None:
    with pytest.raises(RuleBroken) as broken:
        to_reporting(Decimal("100"), "USD", None, "EUR", "arr")
    assert (broken.value.field, broken.value.rule) == ("fx_rate", "required_for_foreign_currency")
    assert "for arr" in broken.value.message


def test_an_amount_in_the_reporting_currency_takes_no_rate_but_one() -> None:
    assert to_reporting(Decimal("5"), "EUR", Decimal("1"), "EUR", "amount") == Decimal("5")
    with pytest.raises(RuleBroken, match="fx_rate: EUR is the reporting currency"):
        to_reporting(Decimal("5"), "EUR", Decimal("1.1"), "EUR", "amount")


def test_legal_forms_case_and_punctuation_do_not_make_two_companies_different() -> None:
    assert similar_name_key("DE", "Nordtec GmbH") == similar_name_key("DE", "NORDTEC G.m.b.H.")
    assert similar_name_key("DE", "Nordtec GmbH") == "DE:nordtec"
    assert similar_name_key("AT", "Nordtec GmbH") != similar_name_key("DE", "Nordtec GmbH")
    assert similar_name_key(None, "Acme Co. Ltd") == "??:acme"


def test_a_batch_names_the_first_repeated_item() -> None:
    with pytest.raises(RuleBroken) as broken:
        batch_ids_are_unique(["a", "b", "a", "b"])
    assert broken.value.field == "items.2.external_id"
    batch_ids_are_unique(["a", "b"])


def test_a_contract_cannot_end_before_it_starts() -> None:
    contract_ends_after_start(date(2026, 1, 1), None)
    with pytest.raises(RuleBroken, match="ends_on"):
        contract_ends_after_start(date(2026, 1, 1), date(2025, 12, 31))


def test_a_merge_lists_each_account_once_and_never_the_survivor() -> None:
    with pytest.raises(RuleBroken, match="cannot merge into itself"):
        merge_is_well_formed("keep", ["keep"])
    with pytest.raises(RuleBroken, match="listed twice"):
        merge_is_well_formed("keep", ["a", "a"])
