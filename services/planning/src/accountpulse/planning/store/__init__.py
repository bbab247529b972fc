"""Every SQL statement of planning (schema ``planning``), by what it keeps: ``plans`` (plans,
their versions and staleness), ``accounts`` (the account projection: owner, segment, tier,
evaluation window), ``facts`` (revenue, NPS, contracts, contacts, users, erasure),
``portfolio`` (the reads whitespace and restructuring rank) and ``restructure`` (proposals and
their moves). Each function takes the unit of work, which knows the tenant.

The statements the consumer runs for every event go through the asyncpg driver with plain SQL
(``uow.connection()``, see docs/PERFORMANCE.md); the REST paths and the scheduler's reads stay
on SQLAlchemy.
"""
