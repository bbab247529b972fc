"""Every route of every service, and every dependency it resolves, is a coroutine function:
FastAPI hands a plain function to its thread pool, a hand-over to a worker thread and back on
each request (bench/NOTES.md, session 20: one such dependency was 2.5 % of ingestion's samples
at 100 changes/s). No servers needed: the routers are only inspected."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from accountpulse.common.health import health_router
from accountpulse.common.keys_api import router as keys_router

SERVICES = ("ingestion", "scoring", "planning", "notification")


def routes(service: str) -> Iterator[APIRoute]:
    spec = importlib.import_module(f"accountpulse.{service}.app").SPEC
    for router in [*spec.routers, keys_router, health_router({})]:
        yield from (route for route in router.routes if isinstance(route, APIRoute))


def calls(dependant: Dependant) -> Iterator[Any]:
    if dependant.call is not None:
        yield dependant.call
    for dependency in dependant.dependencies:
        yield from calls(dependency)


@pytest.mark.parametrize("service", SERVICES)
def test_no_route_or_dependency_runs_in_the_thread_pool(service: str) -> None:
    found = list(routes(service))
    assert found, f"{service} has no routes to check"
    in_pool = {
        f"{' '.join(sorted(route.methods or ()))} {route.path}: {call.__module__}.{call.__qualname__}"
        for route in found
        for call in calls(route.dependant)
        if not inspect.iscoroutinefunction(call)
    }
    assert not in_pool, "plain functions FastAPI would run in its thread pool:\n" + "\n".join(
        sorted(in_pool)
    )
