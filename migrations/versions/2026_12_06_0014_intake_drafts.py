"""Wizard drafts: the answers of a case being filled in, kept on the server; the cookie holds only a random key.

The key itself is never stored, only its SHA-256. Drafts end 24 hours after their last change (the minute sweep
deletes them) or at filing. A new table: nothing existing changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "intake_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("answers", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_drafts")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_intake_drafts_key_sha256")),
    )
    op.create_index(op.f("ix_intake_drafts_updated_at"), "intake_drafts", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_intake_drafts_updated_at"), table_name="intake_drafts")
    op.drop_table("intake_drafts")
