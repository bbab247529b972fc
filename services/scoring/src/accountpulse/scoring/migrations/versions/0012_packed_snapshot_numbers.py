"""A compact snapshot's numbers and score columns as one ``bytea`` (``packed``): its float8s,
big-endian, the numbers (layout ``layout``'s fixed order) then the score columns.

The two ``float8[]`` columns cost the writer a type check and an encoding per element (~106
an account, ~17 % of a rescore's CPU in scoring); a chunk's rows now go as one byte string,
sliced per row by ``substring``. Snapshots written before keep their arrays and are read as
before. ``scoring.packed_number(packed, k)`` reads the k-th float8 (counting from 0) in SQL,
for an operator's ad-hoc query and the tests, bit for bit what was stored.

Catalogue-only: a nullable column, the check replaced NOT VALID, a function.

Revision ID: 0012
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    op.execute(
        f"""ALTER TABLE {S}.snapshots
            ADD COLUMN packed bytea,
            DROP CONSTRAINT snapshots_json_or_compact,
            ADD CONSTRAINT snapshots_json_or_compact CHECK (
                (layout IS NULL AND features IS NOT NULL AND explanation IS NOT NULL)
                OR (layout IS NOT NULL AND texts IS NOT NULL
                    AND ((numbers IS NOT NULL AND score_columns IS NOT NULL)
                         OR packed IS NOT NULL))) NOT VALID"""
    )
    # IEEE 754 binary64 from its 8 bytes: sign, 11 exponent bits, 52 fraction bits; powers of
    # two and a 53-bit significand are exact in float8, so the value is the stored one
    op.execute(
        f"""CREATE FUNCTION {S}.packed_number(packed bytea, k integer) RETURNS float8
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT CASE
              WHEN e = 2047 AND f <> 0 THEN 'NaN'::float8
              WHEN e = 2047 THEN sign * 'Infinity'::float8
              WHEN e = 0 THEN sign * f * 2::float8 ^ -1074
              ELSE sign * (1 + f * 2::float8 ^ -52) * 2::float8 ^ (e - 1023)
            END
            FROM (SELECT CASE WHEN b < 0 THEN -1::float8 ELSE 1::float8 END AS sign,
                         ((b >> 52) & 2047)::integer AS e,
                         (b & 4503599627370495)::float8 AS f
                  FROM (SELECT ('x' || encode(substring(packed FROM k * 8 + 1 FOR 8), 'hex'))
                               ::bit(64)::bigint AS b) AS bits) AS parts
            $$"""
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {S}.packed_number(bytea, integer)")
    op.execute(
        f"""ALTER TABLE {S}.snapshots
            DROP CONSTRAINT snapshots_json_or_compact,
            ADD CONSTRAINT snapshots_json_or_compact CHECK (
                (layout IS NULL AND features IS NOT NULL AND explanation IS NOT NULL)
                OR (layout IS NOT NULL AND numbers IS NOT NULL AND texts IS NOT NULL
                    AND score_columns IS NOT NULL)) NOT VALID,
            DROP COLUMN packed"""
    )
