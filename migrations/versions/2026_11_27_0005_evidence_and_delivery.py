"""Evidence and delivery: letter verification codes, what the SMTP server refused, where an address
came from, post tracking numbers, and a caseworker's approval of company delivery.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verification_code", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_letters_verification_code"), ["verification_code"])
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipients_refused", sa.JSON().with_variant(
            postgresql.JSONB(), "postgresql"), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("address_source", sa.String(length=100), nullable=True))
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.alter_column("recipients_refused", server_default=None)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tracking_number", sa.String(length=100), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivery_approved_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_cases_delivery_approved_by_id_staff_users"), "staff_users",
                                    ["delivery_approved_by_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_cases_delivery_approved_by_id_staff_users"), type_="foreignkey")
        batch_op.drop_column("delivery_approved_by_id")
        batch_op.drop_column("delivery_approved_at")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("tracking_number")
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.drop_column("address_source")
        batch_op.drop_column("recipients_refused")
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_letters_verification_code"), type_="unique")
        batch_op.drop_column("verification_code")
