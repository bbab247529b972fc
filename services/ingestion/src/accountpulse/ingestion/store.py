"""Ingestion's tables (schema ``ingestion``) and the queries on them."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.db import driver

SCHEMA = "ingestion"
metadata = MetaData(schema=SCHEMA)

accounts = Table(
    "accounts",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("external_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("industry", Text),
    Column("employees", Integer),
    Column("annual_revenue_band", Text),
    Column("country", String(2)),
    Column("region", Text),
    Column("domain", Text),
    Column("owner_id", Text),
    Column("parent_account_id", Text),
    Column("lifecycle_status", Text, nullable=False),
    Column("wallet", Numeric(18, 2)),
    Column("pain_points", ARRAY(Text), nullable=False),
    Column("custom_attributes", JSONB, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", Text, nullable=False),
    Column("merged_into", Text),
)

revenue_lines = Table(
    "revenue_lines",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("line_id", Text, primary_key=True),
    Column("account_id", Text, nullable=False),
    Column("booked_on", Date, nullable=False),
    Column("amount", Numeric(18, 2), nullable=False),
    Column("original_amount", Numeric(18, 2), nullable=False),
    Column("original_currency", String(3), nullable=False),
    Column("fx_rate", Numeric(18, 8), nullable=False),
    Column("product", Text),
    Column("kind", Text, nullable=False),
    Column("account_version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("user_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("email", Text),
    Column("role", Text, nullable=False),
    Column("manager_id", Text),
    Column("capacity", Integer),
    Column("channels", ARRAY(Text), nullable=False),
    Column("timezone", Text, nullable=False),
    Column("quiet_hours", ARRAY(Integer)),
    Column("webhook_url", Text),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", Text, nullable=False),
)

ACCOUNT_FIELDS = (
    "name",
    "industry",
    "employees",
    "annual_revenue_band",
    "country",
    "region",
    "domain",
    "owner_id",
    "parent_account_id",
    "lifecycle_status",
    "wallet",
    "pain_points",
    "custom_attributes",
)


async def lock_account(session: AsyncSession, tenant_id: str, external_id: str) -> Any:
    """The account row, locked for this transaction (events of one account stay in order)."""
    query = (
        select(accounts)
        .where(accounts.c.tenant_id == tenant_id, accounts.c.external_id == external_id)
        .with_for_update()
    )
    return (await session.execute(query)).first()


async def bump_version(
    session: AsyncSession, tenant_id: str, external_id: str, now: datetime, by: str
) -> int | None:
    """Lock the account row and move it to its next version in one round trip; None when the
    account does not exist (or was merged away). Every fact write starts here, so the events
    of one account are staged in the order their transactions commit."""
    connection = await driver(session)
    version = await connection.fetchval(_BUMP_VERSION, tenant_id, external_id, now, by)
    return None if version is None else int(version)


_BUMP_VERSION = (
    f"UPDATE {SCHEMA}.accounts SET version = version + 1, updated_at = $3, updated_by = $4"
    " WHERE tenant_id = $1 AND external_id = $2 AND merged_into IS NULL RETURNING version"
)


async def get_account(session: AsyncSession, tenant_id: str, external_id: str) -> Any:
    query = select(accounts).where(
        accounts.c.tenant_id == tenant_id, accounts.c.external_id == external_id
    )
    return (await session.execute(query)).first()


async def list_accounts(
    session: AsyncSession, tenant_id: str, *, after: str | None, limit: int
) -> list[Any]:
    query = select(accounts).where(accounts.c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(accounts.c.external_id > after)
    query = query.order_by(accounts.c.external_id).limit(limit)
    return list((await session.execute(query)).all())


_CURRENCY_TTL_S = 60.0
_currencies: dict[str, tuple[float, str]] = {}


async def reporting_currency(session: AsyncSession, tenant_id: str) -> str:
    """The tenant's reporting currency, cached for a minute: it is read on every money write
    and changes only when a tenant is reconfigured."""
    cached = _currencies.get(tenant_id)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    currency = str(
        await session.scalar(text("SELECT reporting_currency FROM iam.tenants")) or "EUR"
    )
    _currencies[tenant_id] = (time.monotonic() + _CURRENCY_TTL_S, currency)
    return currency
