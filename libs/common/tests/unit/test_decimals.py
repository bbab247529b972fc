"""Every decimal string the document's pattern allows is accepted, within the declared bounds;
what it refuses (empty, exponent, too many digits) is refused by validation too."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from accountpulse.common.decimals import DecimalString

AMOUNT = DecimalString(15, 2, positive=True)
RATE = DecimalString(9, 8, positive=True)
WALLET = DecimalString(15, 2)
SIGNED = DecimalString(12, 4, signed=True)


class Body(BaseModel):
    amount: Annotated[Decimal, AMOUNT]
    rate: Annotated[Decimal, RATE] | None = None
    wallet: Annotated[Decimal, WALLET] = Decimal(0)
    signed: Annotated[Decimal, SIGNED] = Decimal(0)


@given(
    st.from_regex(AMOUNT.pattern, fullmatch=True),
    st.from_regex(RATE.pattern, fullmatch=True),
    st.from_regex(WALLET.pattern, fullmatch=True),
    st.from_regex(SIGNED.pattern, fullmatch=True),
)
def test_every_string_the_pattern_allows_is_accepted(
    amount: str, rate: str, wallet: str, signed: str
) -> None:
    body = Body.model_validate({"amount": amount, "rate": rate, "wallet": wallet, "signed": signed})
    assert body.amount == Decimal(amount) > 0
    assert body.rate == Decimal(rate) > 0
    assert body.wallet == Decimal(wallet) >= 0


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        (AMOUNT.pattern, "0"),
        (AMOUNT.pattern, "0.00"),
        (AMOUNT.pattern, ""),
        (AMOUNT.pattern, "1e3"),
        (AMOUNT.pattern, "1.234"),
        (AMOUNT.pattern, "1" * 16),
        (AMOUNT.pattern, "-1"),
        (WALLET.pattern, "01"),
        (RATE.pattern, "0.000000001"),
    ],
)
def test_the_pattern_refuses_what_validation_refuses(pattern: str, value: str) -> None:
    assert re.fullmatch(pattern, value) is None


@pytest.mark.parametrize("amount", ["0", "", "1e400", "1.234", "1" * 16, "-5", "NaN", "Infinity"])
def test_validation_refuses_beyond_the_bounds(amount: str) -> None:
    with pytest.raises(ValidationError):
        Body.model_validate({"amount": amount})


def test_numbers_are_read_within_the_same_bounds() -> None:
    assert Body.model_validate({"amount": 12.5}).amount == Decimal("12.5")
    with pytest.raises(ValidationError):
        Body.model_validate({"amount": 1e16})


def test_the_document_declares_a_string_with_the_pattern() -> None:
    schema = Body.model_json_schema()["properties"]
    assert schema["amount"] == {
        "type": "string",
        "pattern": AMOUNT.pattern,
        "examples": ["1250.50"],
        "title": "Amount",
    }
    assert Body.model_json_schema(mode="serialization")["properties"]["amount"]["type"] == "string"
    assert Body(amount=Decimal("3.50")).model_dump(mode="json")["amount"] == "3.50"
