"""Snapshots in compact form (domain/columnar/compact.py): the numbers the core consumed and
produced (``numbers``, float8[] in layout ``layout``'s fixed order), the stated texts
(``texts``, a JSON array), the score columns (``score_columns``, float8[]) and the CLV fit
scored with; the features and explanation are rendered on read from these and the stored
model version. ``features_digest`` lets the daily sweep tell an unchanged day without them.

Existing snapshots keep their JSON (``layout`` NULL) and are read as before: their inputs
were never stored, so a backfill could not rebuild a compact form — and they age out.
Every change here is catalogue-only (nullable columns, no default; the check is NOT VALID,
so no scan of a table that holds a row per account and day).

Revision ID: 0008
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    op.execute(
        f"""ALTER TABLE {S}.snapshots
            ALTER COLUMN features DROP NOT NULL,
            ALTER COLUMN explanation DROP NOT NULL,
            ADD COLUMN layout smallint,
            ADD COLUMN numbers float8[],
            ADD COLUMN texts jsonb,
            ADD COLUMN score_columns float8[],
            ADD COLUMN clv_fit_id uuid,
            ADD COLUMN features_digest bigint,
            ADD CONSTRAINT snapshots_json_or_compact CHECK (
                (layout IS NULL AND features IS NOT NULL AND explanation IS NOT NULL)
                OR (layout IS NOT NULL AND numbers IS NOT NULL AND texts IS NOT NULL
                    AND score_columns IS NOT NULL)) NOT VALID"""
    )
