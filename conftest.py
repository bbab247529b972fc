"""Session fixtures shared by every test that needs the real infrastructure."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from support import System, Tenant, infrastructure, migrate, new_tenant, start_system

from accountpulse.common.auth import Principal, create_tenant
from accountpulse.common.clock import OffsetClock
from accountpulse.common.db import Sessions, create_engine, create_sessions


@pytest.fixture(scope="session")
def infra() -> Iterator[dict[str, str]]:
    with infrastructure() as env:
        migrate(env)
        yield env


@pytest.fixture(scope="session")
def system(infra: dict[str, str]) -> Iterator[System]:
    running = start_system(infra)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="session")
async def owner_sessions(infra: dict[str, str]) -> AsyncIterator[Sessions]:
    """Sessions as the owner role: for creating tenants and inspecting tables in tests."""
    engine = create_engine(infra["MIGRATIONS_DATABASE_URL"], pool_size=4)
    yield create_sessions(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
async def app_sessions(infra: dict[str, str]) -> AsyncIterator[Sessions]:
    """Sessions as the services' role (row-level security applies): for calling a service's
    handlers in-process."""
    engine = create_engine(infra["DATABASE_URL"], pool_size=2)
    yield create_sessions(engine)
    await engine.dispose()


@pytest.fixture
async def principal(owner_sessions: Sessions) -> Principal:
    """A fresh tenant, created in the database only, and a writing principal of it."""
    tenant_id, _ = await create_tenant(
        owner_sessions, f"test-{uuid.uuid4().hex[:8]}", tenant_id=f"t-{uuid.uuid4()}"
    )
    return Principal(tenant_id, "test-key", frozenset({"read", "write"}))


@pytest.fixture
def service_clock(system: System) -> Iterator[OffsetClock]:
    """The running services' clock, to move in a test; put back to real time afterwards."""
    clock = system.clock
    clock.move(-clock.offset())
    yield clock
    clock.move(-clock.offset())


@pytest.fixture
async def tenant(owner_sessions: Sessions, system: System) -> AsyncIterator[Tenant]:
    created = await new_tenant(owner_sessions, system)
    yield created
    await created.close()


@pytest.fixture
async def other_tenant(owner_sessions: Sessions, system: System) -> AsyncIterator[Tenant]:
    """A second tenant, for what one tenant must never see or disturb of another."""
    created = await new_tenant(owner_sessions, system)
    yield created
    await created.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that touches the real infrastructure carries the ``integration`` mark."""
    for item in items:
        if "infra" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
