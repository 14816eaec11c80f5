"""The company's clock, resolution time, refunds received, reminder lead days, unsubscribing from
reminders, and uploaded attachments.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer_due_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("follow_ups_sent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("escalation_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("refund_received_amount", sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.add_column(sa.Column("refund_received_currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("refund_received_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("reminders_unsubscribed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column("follow_ups_sent", server_default=None)
        batch_op.create_index("ix_cases_answer_due", ["answer_due_on"], unique=False,
                              postgresql_where=sa.text("answer_due_on IS NOT NULL"),
                              sqlite_where=sa.text("answer_due_on IS NOT NULL"))
        batch_op.create_index("ix_cases_resolved_at", ["resolved_at"], unique=False,
                              postgresql_where=sa.text("status = 'resolved'"),
                              sqlite_where=sa.text("status = 'resolved'"))
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lead_days", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.alter_column("lead_days", server_default=None)
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column(
            "uploaded_by",
            sa.Enum("consumer", "staff", "system", name="uploaded_by", native_enum=False, create_constraint=True,
                    length=32),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("content_type IN ('application/pdf', 'image/png', 'image/jpeg')",
                           name=op.f("ck_case_attachments_content_type")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_attachments_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["response_id"], ["company_responses.id"],
                                name=op.f("fk_case_attachments_response_id_company_responses"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachments")),
    )
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_attachments_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_attachments_case_id"))
    op.drop_table("case_attachments")
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_column("lead_days")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_resolved_at", sqlite_where=sa.text("status = 'resolved'"))
        batch_op.drop_index("ix_cases_answer_due", sqlite_where=sa.text("answer_due_on IS NOT NULL"))
        for column in ("reminders_unsubscribed_at", "refund_received_on", "refund_received_currency",
                       "refund_received_amount", "resolved_at", "escalation_due_at", "follow_ups_sent",
                       "answer_due_on"):
            batch_op.drop_column(column)
