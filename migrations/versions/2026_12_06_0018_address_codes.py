"""Confirmation codes without a letter: a case with no letter confirms its e-mail address alone.

``confirmation_codes.letter_id`` becomes nullable; nothing else changes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("confirmation_codes") as batch_op:
        batch_op.alter_column("letter_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM confirmation_codes WHERE letter_id IS NULL")
    with op.batch_alter_table("confirmation_codes") as batch_op:
        batch_op.alter_column("letter_id", existing_type=sa.Integer(), nullable=False)
