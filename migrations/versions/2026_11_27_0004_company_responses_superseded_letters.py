"""Company responses; superseded letters keep their PDF.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RESPONSE_TYPES = (
    "confirmed_cancellation",
    "refund_offered",
    "refused",
    "retention_offer",
    "asked_for_information",
    "charged_again",
)


OLD_PDF_RULE = "(status = 'rendered') = (pdf IS NOT NULL AND sha256 IS NOT NULL)"
NEW_PDF_RULE = (
    "(status <> 'rendered' OR (pdf IS NOT NULL AND sha256 IS NOT NULL)) "
    "AND (status IN ('rendered', 'superseded') OR pdf IS NULL)"
)


def _pdf_rule(rule: str) -> None:
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_letters_rendered_has_pdf"), type_="check")
        batch_op.create_check_constraint("rendered_has_pdf", rule)


def upgrade() -> None:
    _pdf_rule(NEW_PDF_RULE)
    op.create_table(
        "company_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("summary", sa.String(length=2000), nullable=False),
        sa.Column(
            "recorded_by",
            sa.Enum(
                "consumer", "staff", "system", name="recorded_by", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            f"type IN {RESPONSE_TYPES}",
            name=op.f("ck_company_responses_type"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_company_responses_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_responses")),
    )
    with op.batch_alter_table("company_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_company_responses_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    _pdf_rule(OLD_PDF_RULE)
    with op.batch_alter_table("company_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_company_responses_case_id"))

    op.drop_table("company_responses")
