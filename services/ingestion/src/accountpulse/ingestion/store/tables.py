"""Ingestion's tables (schema ``ingestion``) as SQLAlchemy Core, for the queries of the store."""

from __future__ import annotations

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
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from accountpulse.ingestion.store.base import SCHEMA

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
