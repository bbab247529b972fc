"""Ingestion's REST routes, one module per resource: thin — parse, authorise, run a command
(or a store read) in a unit of work, shape the answer."""

from accountpulse.ingestion.api import (
    account_list,
    accounts,
    export,
    facts,
    harmonisation,
    imports,
    users,
)

# export first: its `/accounts/{id}:export` would otherwise match `GET /accounts/{id}`
ROUTERS = (
    export.router,
    accounts.router,
    account_list.router,
    facts.router,
    users.router,
    harmonisation.router,
    imports.router,
)

__all__ = ["ROUTERS"]
