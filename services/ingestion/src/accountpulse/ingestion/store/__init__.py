"""Every SQL statement of ingestion, one module per kind of row it touches.

Functions take the :class:`~accountpulse.common.uow.UnitOfWork` of the request or job (the
tenant, the caller and the clock come with it); the hot paths speak asyncpg directly.
"""

from accountpulse.ingestion.store import base  # noqa: I001 (first: the others import it)
from accountpulse.ingestion.store import (
    account_list,
    account_scores,
    accounts,
    audit,
    duplicates,
    export,
    facts,
    imports,
    staging,
    tables,
    tenants,
    users,
)
from accountpulse.ingestion.store.base import SCHEMA

__all__ = [
    "SCHEMA",
    "account_list",
    "account_scores",
    "accounts",
    "audit",
    "base",
    "duplicates",
    "export",
    "facts",
    "imports",
    "staging",
    "tables",
    "tenants",
    "users",
]
