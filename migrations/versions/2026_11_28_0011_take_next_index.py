""""Take next" reads its own partial index: unassigned cases in the statuses it hands out, by urgency.

With the open-queue index, every case claimed since the last vacuum stays at the head of the scan (its new
row version is still open), so each claim walked past all the earlier ones. A plain CREATE INDEX: on
SQLite no table is recreated, so the triggers and expression index of migration 0009 stay as they are.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TAKE_CONDITION = "assignee_id IS NULL AND status IN ('needs_info', 'ready', 'sent', 'follow_up', 'escalated')"


def upgrade() -> None:
    op.create_index("ix_cases_take_next", "cases", ["urgency_on", "id"],
                    postgresql_where=sa.text(TAKE_CONDITION), sqlite_where=sa.text(TAKE_CONDITION))


def downgrade() -> None:
    op.drop_index("ix_cases_take_next", table_name="cases")
