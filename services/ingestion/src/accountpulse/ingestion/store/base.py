"""What every store module shares: the schema, and who a write is recorded as made by."""

from __future__ import annotations

from accountpulse.common.uow import UnitOfWork

SCHEMA = "ingestion"


def written_by(uow: UnitOfWork) -> str:
    """The API key (or the import) a write is made by: ``updated_by`` and the audit log."""
    if uow.principal is None:
        raise RuntimeError("an ingestion write is always made on behalf of a principal")
    return uow.principal.key_id
