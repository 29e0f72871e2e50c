"""Chinese text search in milliseconds: the event's characters and character pairs, indexed

Chinese has no spaces and callers type two characters (井盖, 漏水, 噪音): trigram indexes
cannot serve a query shorter than three characters. `event.search_grams` holds the distinct
lower-cased characters and character pairs of the code, the description and the address
(`text_grams`), with a GIN index; a query of one character looks its character up, a longer
one all its pairs (`query_grams`), and `ILIKE` rechecks the rows found, so the results are
exactly those of the substring search.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-03 20:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0038'
down_revision: str | None = '0037'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_GRAMS = r"""
CREATE FUNCTION text_grams(content text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT g ORDER BY g), '{}')
    FROM (SELECT lower(content) AS t) s,
         generate_series(1, length(s.t)) AS i,
         LATERAL (VALUES (substr(s.t, i, 1)), (substr(s.t, i, 2))) AS v(g)
    WHERE g !~ '\s'
$$
"""
# A pair with a space in it is never stored, so never asked for (the recheck still applies it).
QUERY_GRAMS = r"""
CREATE FUNCTION query_grams(query text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT g ORDER BY g), '{}')
    FROM (SELECT lower(query) AS t) s,
         generate_series(1, greatest(length(s.t) - 1, 1)) AS i,
         LATERAL (VALUES (substr(s.t, i, least(length(s.t), 2)))) AS v(g)
    WHERE g !~ '\s'
$$
"""
SEARCHED = "coalesce(code, '') || E'\\n' || coalesce(description, '') || E'\\n' || coalesce(address, '')"


def upgrade() -> None:
    op.execute(TEXT_GRAMS)
    op.execute(QUERY_GRAMS)
    op.execute(
        f"ALTER TABLE event ADD COLUMN search_grams text[] "
        f"GENERATED ALWAYS AS (text_grams({SEARCHED})) STORED"
    )
    op.execute("CREATE INDEX ix_event_search_grams ON event USING gin (search_grams)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_event_search_grams")
    op.execute("ALTER TABLE event DROP COLUMN search_grams")
    op.execute("DROP FUNCTION query_grams(text)")
    op.execute("DROP FUNCTION text_grams(text)")
