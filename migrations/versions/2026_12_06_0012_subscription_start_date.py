"""The day a subscription was first taken out: withdrawal-type rights count from it, not from the latest renewal.

Nullable: a case filed before it existed, or a consumer who does not know, has no start date, and then no
withdrawal right is cited in its letters. A plain ADD COLUMN: on SQLite no table is recreated, so the triggers
of migration 0009 stay as they are.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("subscription_start_date", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("cases", "subscription_start_date")
