"""The OpenAPI documents are the contract: schemathesis runs every operation of the four running
services (coverage and fuzzing phases, a bounded and deterministic number of examples each),
authenticated with a fresh tenant's admin key, and holds every answer to the service's own
document — no 5xx, no status code, content type or body the document does not declare, and no
request the document allows refused.

A request the document allows may still break a rule the document cannot say (one field
against another, against the path, the clock or the tenant's state): it answers 422 naming the
field and the rule. Those rules are listed in ``DOMAIN_RULES`` with why a schema cannot express
them; any other refusal of a schema-valid request fails this test — the document must then say
what is accepted (a pattern, a bound, an enum) or the service must accept it.

Excluded, and why:
- ``POST /v1/imports``: its body is a raw upload stream (NDJSON or CSV of any size, declared
  in the document as such) that schemathesis cannot generate meaningfully;
  test_ingestion_imports.py and test_bad_input.py drive it.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import CheckContext, CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from support import System, Tenant

SERVICES = ("ingestion", "scoring", "planning", "notification")
EXAMPLES_PER_OPERATION = 15
SEED = 20260113

# (field, rule) → why the document cannot say it. The field may use * for an index or key.
DOMAIN_RULES = {
    ("cursor", "opaque_cursor"): "a cursor is valid only as the list that returned it made it",
    ("*", "min_above_max"): "a range's lower bound against its upper bound",
    ("reassign_to", "another_user"): "against the path: the erased user cannot take the accounts",
    ("reassign_to", "one_value"): "the query and the body must not name different users",
    ("parent_account_id", "not_self"): "against the path: an account is not its own parent",
    ("manager_id", "not_self"): "against the path: a user is not their own manager",
    ("merged_ids", "excludes_survivor"): "against survivor_id",
    ("items.*.external_id", "unique"): "an id listed twice among the objects of a batch",
    ("ends_on", "after_starts_on"): "against starts_on",
    ("fx_rate", "must_be_one"): "against the tenant's reporting currency",
    ("fx_rate", "required_for_foreign_currency"): "against the tenant's reporting currency",
    ("*", "too_large"): "amount × fx_rate, converted, must fit the stored column",
    ("*", "max_amount"): "amount × fx_rate, converted, must fit the stored column",
    ("*", "vanishes"): "amount × fx_rate must not round to 0",
    ("weights.*", "sum_100"): "a sum across the fields of an object",
    ("contract_renewal.windows", "unique"): "a field repeated across the objects of a list",
    ("until", "in_future"): "against the clock",
    ("webhook_url", "unsafe_target"): "what the host resolves to (DNS), and the allowed networks",
}
# Answers to a schema-valid request that are not refusals of its form: the resource (or one
# the body names) does not exist, a conflict with the tenant's state, a stale If-Match.
ACCEPTABLE_STATUSES = ["2xx", "404", "409", "412"]


def _domain_rules_only(response: schemathesis.Response) -> bool:
    if response.status_code != 422:
        return False
    errors = json.loads(response.content).get("errors") or [{}]
    return all(
        _nul_in_a_key(error)
        or any(
            rule == error.get("rule") and fnmatch.fnmatchcase(str(error.get("field")), field)
            for field, rule in DOMAIN_RULES
        )
        for error in errors
    )


def _nul_in_a_key(error: dict[str, Any]) -> bool:
    """A NUL character in a key of the body (an extra property, or one of a free-form object):
    PostgreSQL cannot store it, and the document's string patterns say so for values only."""
    return error.get("rule") == "no_nul" and "\x00" in str(error.get("field"))


def schema_valid_request_accepted(
    ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """positive_data_acceptance, except for the listed domain rules."""
    if _domain_rules_only(response):
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    schema_valid_request_accepted,
]


def _config(key: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {key}"},
            "request-timeout": 30,
            "generation": {
                "mode": "all",  # negative cases too: a malformed value answers 4xx, never 5xx
                "max-examples": EXAMPLES_PER_OPERATION,
                "deterministic": True,
                "no-shrink": True,
            },
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTABLE_STATUSES}},
        }
    )


@pytest.fixture(params=SERVICES)
def api(request: pytest.FixtureRequest, system: System, tenant: Tenant) -> Any:
    """The document the running service serves, bound to it and to a fresh tenant's key."""
    url = system.url(request.param)
    return schemathesis.openapi.from_url(f"{url}/openapi.json", config=_config(tenant.key))


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis' lazy pytest integration (4.32) renames the test node per operation
    through ``Node._nodeid``, which pytest 9.2 no longer has: give it one to use."""
    request.node._nodeid = request.node.nodeid


contract = schemathesis.pytest.from_fixture("api").exclude(method="POST", path="/v1/imports")


@contract.parametrize()
def test_every_operation_keeps_its_document(case: schemathesis.Case[Any], tenant: Tenant) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {tenant.key}"}, checks=CHECKS)
