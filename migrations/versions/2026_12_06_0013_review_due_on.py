"""The day by which a caseworker looks at what the consumer told us, as the consumer's case page says.

Nullable: set when something calls for a caseworker's look and cleared by the look. Cases flagged before it
existed keep no day (their page promises none). A plain ADD COLUMN: on SQLite no table is recreated, so the
triggers of migration 0009 stay as they are.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("review_due_on", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("cases", "review_due_on")
