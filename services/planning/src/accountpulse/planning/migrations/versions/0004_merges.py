"""Merges: a merged account's projection row names its survivor, its plan is archived (kept,
read-only) and names it too; a stakeholder re-pointed to the survivor keeps its origin.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "planning"


def upgrade() -> None:
    for statement in (
        f"ALTER TABLE {S}.accounts ADD COLUMN merged_into text",
        f"ALTER TABLE {S}.plans ADD COLUMN archived_at timestamptz",
        f"ALTER TABLE {S}.plans ADD COLUMN merged_into text",
        f"ALTER TABLE {S}.contacts ADD COLUMN merged_from text",
    ):
        op.execute(statement)
