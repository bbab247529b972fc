"""Company names as duplicates are recognised: legal forms and punctuation do not make two
companies different, so "Nordtec GmbH" and "NORDTEC G.m.b.H." normalise to one key.

The store applies the same rule in SQL (over a whole tenant's accounts at once); the legal
forms are listed here once and both read them.
"""

from __future__ import annotations

import re

LEGAL_FORMS = (
    "gmbh", "mbh", "ag", "se", "kg", "co", "ug", "ohg", "bv", "nv", "sa", "sarl", "srl", "spa",
    "inc", "ltd", "llc", "plc",
)  # fmt: skip
NO_COUNTRY = "??"

_LEGAL_FORM = re.compile(r"\b(" + "|".join(LEGAL_FORMS) + r")\b")
_NOT_ALNUM = re.compile(r"[\W_]", re.UNICODE)


def normalised_name(name: str) -> str:
    """``name`` without dots, legal forms, case, spaces and punctuation."""
    return _NOT_ALNUM.sub("", _LEGAL_FORM.sub("", name.replace(".", "").lower()))


def similar_name_key(country: str | None, name: str) -> str:
    """Accounts with the same key (within one country) are likely duplicates."""
    return f"{country or NO_COUNTRY}:{normalised_name(name)}"
