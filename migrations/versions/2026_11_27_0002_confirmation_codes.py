"""Confirmation codes; the letter an e-mail delivers; when personal data was deleted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "confirmation_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("code_hmac", sa.LargeBinary(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=True),
        sa.Column("superseded_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_confirmation_codes_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_confirmation_codes_letter_id_letters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmation_codes")),
    )
    with op.batch_alter_table("confirmation_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_confirmation_codes_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("personal_data_deleted_at", TIMESTAMP, nullable=True))

    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("letter_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbound_emails_letter_id_letters"),
            "letters",
            ["letter_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbound_emails_letter_id_letters"), type_="foreignkey")
        batch_op.drop_column("letter_id")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("personal_data_deleted_at")

    with op.batch_alter_table("confirmation_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_confirmation_codes_case_id"))

    op.drop_table("confirmation_codes")
