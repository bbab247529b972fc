"""Imports remember failed attempts at a chunk: how many, the last reason, and when to try
again; an import whose attempts run out is ``failed`` with that reason.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "ingestion"


def upgrade() -> None:
    op.execute(
        f"ALTER TABLE {S}.imports ADD COLUMN attempts integer NOT NULL DEFAULT 0,"
        " ADD COLUMN failure text, ADD COLUMN retry_at timestamptz"
    )
