"""Personal data: codes that confirm a consumer's request to delete it, and letters whose PDF went with it.

An erased case keeps its letters' SHA-256, pages, dates, kind and version (the anonymous record, and what
``/verify`` answers), so a rendered letter may now have no PDF once ``pdf_erased_at`` says why. Only
``letters`` is recreated on SQLite (its check constraint changes); ``cases`` is left alone, so its triggers and
expression index stay as migration 0009 made them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from casework.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_PDF_RULE = ("(status <> 'rendered' OR (pdf IS NOT NULL AND sha256 IS NOT NULL)) "
                "AND (status IN ('rendered', 'superseded') OR pdf IS NULL)")
PDF_RULE = ("(status <> 'rendered' OR (sha256 IS NOT NULL AND (pdf IS NOT NULL OR pdf_erased_at IS NOT NULL))) "
            "AND (status IN ('rendered', 'superseded') OR pdf IS NULL)")


def upgrade() -> None:
    op.create_table(
        "erasure_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("code_hmac", sa.LargeBinary(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_erasure_codes_case_id_cases"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_codes")),
    )
    op.create_index(op.f("ix_erasure_codes_case_id"), "erasure_codes", ["case_id"])
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdf_erased_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_constraint("rendered_has_pdf", type_="check")
        batch_op.create_check_constraint("rendered_has_pdf", PDF_RULE)


def downgrade() -> None:
    # A letter whose PDF was erased cannot be "rendered" under the old rule; it stays as the evidence it was.
    op.execute("UPDATE letters SET status = 'superseded' WHERE status = 'rendered' AND pdf IS NULL")
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_constraint("rendered_has_pdf", type_="check")
        batch_op.create_check_constraint("rendered_has_pdf", OLD_PDF_RULE)
        batch_op.drop_column("pdf_erased_at")
    op.drop_index(op.f("ix_erasure_codes_case_id"), table_name="erasure_codes")
    op.drop_table("erasure_codes")
