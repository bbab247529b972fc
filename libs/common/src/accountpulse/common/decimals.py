"""Decimal fields of the HTTP contract, declared exactly.

Pydantic documents a ``Decimal`` as "a number or any string", yet refuses ``""``, ``"1e400"``
or more places than the column keeps: a client (or a contract test) following the document gets
422s it could not foresee. ``Annotated[Decimal, DecimalString(15, 2)]`` declares the field as a
string with a pattern saying which digits are accepted and validates the same bounds, so every
value the document allows is accepted and none overflows a column. JSON numbers are still read,
within the same bounds, for the clients that send them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema


def decimal_pattern(integer_digits: int, places: int, *, positive: bool, signed: bool) -> str:
    """A regular expression of the decimals with at most ``integer_digits`` digits before the
    point and ``places`` after it; not zero when ``positive``; an optional ``-`` when ``signed``.
    No exponent, no ``+``, no leading zeros."""
    fraction = rf"(\.[0-9]{{1,{places}}})?" if places else ""
    nonzero_integer = rf"[1-9][0-9]{{0,{integer_digits - 1}}}"
    if not positive:
        body = rf"(0|{nonzero_integer}){fraction}"
    elif places:
        # below 1: "0." then 1..places digits, not all zero (by the position of the first 1-9)
        below_one = "|".join(
            rf"0{{{zeros}}}[1-9][0-9]{{0,{places - zeros - 1}}}" for zeros in range(places)
        )
        body = rf"({nonzero_integer}{fraction}|0\.({below_one}))"
    else:
        body = nonzero_integer
    return rf"^{'-?' if signed else ''}{body}$"


@dataclass(frozen=True)
class DecimalString:
    """Metadata for ``Annotated[Decimal, ...]``: at most ``integer_digits`` digits before the
    point and ``places`` after it; greater than 0 if ``positive``, else at least 0 unless
    ``signed``."""

    integer_digits: int
    places: int
    positive: bool = False
    signed: bool = False
    example: str = "1250.50"

    @property
    def pattern(self) -> str:
        return decimal_pattern(
            self.integer_digits, self.places, positive=self.positive, signed=self.signed
        )

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        bound = Decimal(10) ** self.integer_digits
        lower: dict[str, Decimal] = (
            {"gt": Decimal(0)}
            if self.positive
            else {"gt": -bound}
            if self.signed
            else {"ge": Decimal(0)}
        )
        return core_schema.decimal_schema(
            max_digits=self.integer_digits + self.places,
            decimal_places=self.places,
            lt=bound,
            **lower,  # type: ignore[arg-type]
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        if handler.mode == "serialization":
            return {"type": "string"}
        return {"type": "string", "pattern": self.pattern, "examples": [self.example]}
