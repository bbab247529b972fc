"""Errors that say "try again": the database is unreachable, starting up or shutting down.

A consumer retries an event on these without ever dead-lettering it; the API answers 503 with
``Retry-After`` instead of 500.
"""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import exc as sa_exc

TRANSIENT_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    TimeoutError,  # the pool had no connection to give in time
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    asyncpg.InterfaceError,  # statements sent through db.driver() raise asyncpg's own errors
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,  # "the database system is starting up"
)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what SQLAlchemy wrapped in it) is a transient database error."""
    if isinstance(exc, TRANSIENT_DATABASE_ERRORS):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        cause = getattr(orig, "__cause__", None)
        return isinstance(orig, TRANSIENT_DATABASE_ERRORS) or isinstance(
            cause, TRANSIENT_DATABASE_ERRORS
        )
    return False


def cancelled_from_outside() -> bool:
    """Whether the running task itself is being cancelled (``Task.cancel()``), as opposed to a
    ``CancelledError`` raised by something it awaited (a library's cancelled future)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0
