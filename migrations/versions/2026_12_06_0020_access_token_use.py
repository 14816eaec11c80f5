"""Consumer links expire when unused: ``access_tokens.last_used_at``, renewed when a link is followed.

Existing links count as last used when they were made.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casework.db import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("access_tokens", sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE access_tokens SET last_used_at = created_at")
    with op.batch_alter_table("access_tokens") as batch_op:
        batch_op.alter_column("last_used_at", existing_type=UTCDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("access_tokens") as batch_op:
        batch_op.drop_column("last_used_at")
