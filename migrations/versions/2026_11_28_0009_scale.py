"""The queue at scale: per-status counts kept by triggers, search indexes, failed-work indexes, saved views,
and merged duplicates (a case closed into another, without an outcome of its own).

``case_status_deltas`` gets a row for every change in the number of cases of a status, written by triggers on
``cases`` (insert, delete, a changed status) on both databases; the sweep folds the rows together. On SQLite a
batch migration that recreates ``cases`` drops its triggers: such a migration must create them again
(``create_status_triggers``), and tests/platform/test_migrations.py checks that they exist at head.

An index on the lower-cased e-mail serves search and finding a consumer's other cases with the same company;
SQLAlchemy cannot reflect it on SQLite, so it is left out of comparisons (migrations/env.py) and, like the
triggers, must be created again by a batch migration that recreates ``cases`` there. PostgreSQL also gets a
trigram index on names (``pg_trgm``) for "part of a name" searches.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casework.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    """CREATE TRIGGER cases_status_count_insert AFTER INSERT ON cases BEGIN
         INSERT INTO case_status_deltas (status, delta) VALUES (NEW.status, 1); END""",
    """CREATE TRIGGER cases_status_count_delete AFTER DELETE ON cases BEGIN
         INSERT INTO case_status_deltas (status, delta) VALUES (OLD.status, -1); END""",
    """CREATE TRIGGER cases_status_count_update AFTER UPDATE OF status ON cases
         WHEN OLD.status IS NOT NEW.status BEGIN
         INSERT INTO case_status_deltas (status, delta) VALUES (OLD.status, -1);
         INSERT INTO case_status_deltas (status, delta) VALUES (NEW.status, 1); END""",
)
POSTGRESQL_TRIGGERS = (
    """CREATE FUNCTION cases_status_count() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
           RETURN NULL;
         END IF;
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           INSERT INTO case_status_deltas (status, delta) VALUES (OLD.status, -1);
         END IF;
         IF TG_OP IN ('UPDATE', 'INSERT') THEN
           INSERT INTO case_status_deltas (status, delta) VALUES (NEW.status, 1);
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER cases_status_count AFTER INSERT OR DELETE OR UPDATE OF status ON cases
       FOR EACH ROW EXECUTE FUNCTION cases_status_count()""",
)


def create_status_triggers() -> None:
    """The triggers that keep ``case_status_deltas``; call again after recreating ``cases`` on SQLite."""
    for statement in POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def drop_status_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS cases_status_count ON cases")
        op.execute("DROP FUNCTION IF EXISTS cases_status_count()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS cases_status_count_{name}")


OLD_OUTCOME_RULE = "(status IN ('resolved', 'closed')) = (outcome IS NOT NULL)"
OUTCOME_RULE = ("((status IN ('resolved', 'closed')) = (outcome IS NOT NULL))"
                " OR (status = 'closed' AND outcome IS NULL AND merged_into_id IS NOT NULL)")


def upgrade() -> None:
    # First the change that recreates ``cases`` on SQLite, then the triggers on it.
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_cases_merged_into_id_cases"), "cases", ["merged_into_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_cases_merged_into_id"), ["merged_into_id"])
        batch_op.drop_constraint("outcome_iff_resolved", type_="check")
        batch_op.create_check_constraint("outcome_iff_finished", OUTCOME_RULE)

    op.create_table(
        "case_status_deltas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_status_deltas")),
    )
    op.execute("INSERT INTO case_status_deltas (status, delta) SELECT status, COUNT(*) FROM cases GROUP BY status")
    create_status_triggers()

    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.String(length=2000), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"], name=op.f("fk_saved_views_staff_id_staff_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("staff_id", "name", name="uq_saved_views_staff_id_name"),
    )

    op.create_index("ix_letters_failed_case", "letters", ["case_id"],
                    postgresql_where=sa.text("status = 'failed'"), sqlite_where=sa.text("status = 'failed'"))
    op.create_index("ix_outbound_emails_failed_case", "outbound_emails", ["case_id"],
                    postgresql_where=sa.text("status = 'failed'"), sqlite_where=sa.text("status = 'failed'"))
    op.execute("CREATE INDEX ix_cases_email_lower ON cases (lower(consumer_email), provider_slug)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_cases_name_trgm", "cases", ["consumer_name"], postgresql_using="gin",
                    postgresql_ops={"consumer_name": "gin_trgm_ops"})


def downgrade() -> None:
    op.drop_index("ix_cases_name_trgm", table_name="cases")
    op.execute("DROP INDEX IF EXISTS ix_cases_email_lower")
    op.drop_index("ix_outbound_emails_failed_case", table_name="outbound_emails")
    op.drop_index("ix_letters_failed_case", table_name="letters")
    op.drop_table("saved_views")
    drop_status_triggers()
    op.drop_table("case_status_deltas")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint("outcome_iff_finished", type_="check")
        batch_op.create_check_constraint("outcome_iff_resolved", OLD_OUTCOME_RULE)
        batch_op.drop_index(batch_op.f("ix_cases_merged_into_id"))
        batch_op.drop_constraint(batch_op.f("fk_cases_merged_into_id_cases"), type_="foreignkey")
        batch_op.drop_column("merged_into_id")
