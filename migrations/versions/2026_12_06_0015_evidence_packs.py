"""Evidence packs rendered by the worker and kept while they still show the whole case.

A new table only: a job row per case and contents (``digest``), holding the pack's frozen contents and, once
rendered, its PDF and ZIP. Nothing else changes, so no table is recreated on SQLite.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from casework.db import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "evidence_packs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("archive", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("rendered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("relay_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'rendered', 'failed')", name=op.f("ck_evidence_packs_status")),
        sa.CheckConstraint("status <> 'rendered' OR (pdf IS NOT NULL AND archive IS NOT NULL)",
                           name=op.f("ck_evidence_packs_rendered_has_files")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_evidence_packs_case_id_cases"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_packs")),
        sa.UniqueConstraint("case_id", "digest", name="uq_evidence_packs_case_digest"),
    )
    op.create_index("ix_evidence_packs_relay", "evidence_packs", ["relay_at"], unique=False,
                    postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_evidence_packs_relay", table_name="evidence_packs", postgresql_where=PENDING,
                  sqlite_where=PENDING)
    op.drop_table("evidence_packs")
