"""The staff queue: urgency kept on each case, claiming, review flags, escalation, notes, read log, API tokens.

Existing cases get their urgency computed here, once; from then on the flush hook and the sweep keep it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from casework.cases.states import CaseStatus
from casework.cases.urgency import compute
from casework.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OPEN = "status NOT IN ('resolved', 'closed')"


def upgrade() -> None:
    op.create_table(
        "staff_api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hmac", sa.LargeBinary(length=32), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"],
                                name=op.f("fk_staff_api_tokens_staff_id_staff_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_api_tokens")),
        sa.UniqueConstraint("token_hmac", name=op.f("uq_staff_api_tokens_token_hmac")),
    )
    op.create_index(op.f("ix_staff_api_tokens_staff_id"), "staff_api_tokens", ["staff_id"])

    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"], name=op.f("fk_case_notes_staff_id_staff_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    op.create_index(op.f("ix_case_notes_case_id"), "case_notes", ["case_id"])

    op.create_table(
        "case_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_reads_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"], name=op.f("fk_case_reads_staff_id_staff_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_reads")),
    )
    op.create_index("ix_case_reads_case_id_at", "case_reads", ["case_id", "at"])

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assigned_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("urgency_on", sa.Date(), nullable=False, server_default="9999-12-31"))
        batch_op.add_column(sa.Column("urgency_kind", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("urgency_expires_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("needs_review", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("escalated_to", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("escalated_to_name", sa.String(length=200), nullable=True))
        batch_op.create_check_constraint(
            "escalated_to", "escalated_to IS NULL OR escalated_to IN ('regulator', 'ombudsman', 'card_issuer')")
    _compute_existing_urgency()
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column("urgency_on", server_default=None)
        batch_op.alter_column("needs_review", server_default=None)
        batch_op.create_index("ix_cases_assignee_queue", ["assignee_id", "urgency_on", "id"])
        batch_op.create_index("ix_cases_status_queue", ["status", "urgency_on", "id"])
        batch_op.create_index("ix_cases_open_queue", ["urgency_on", "id"],
                              postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.create_index("ix_cases_needs_review", ["urgency_on", "id"],
                              postgresql_where=sa.text("needs_review"), sqlite_where=sa.text("needs_review"))
        batch_op.create_index("ix_cases_urgency_expires", ["urgency_expires_at"],
                              postgresql_where=sa.text("urgency_expires_at IS NOT NULL"),
                              sqlite_where=sa.text("urgency_expires_at IS NOT NULL"))


def _compute_existing_urgency() -> None:
    """Open cases filed before this revision get their urgency now (finished ones keep the default)."""
    bind = op.get_bind()
    cases = sa.table("cases", sa.column("id", sa.Integer()), sa.column("status", sa.String()),
                     sa.column("assessment", sa.JSON()), sa.column("timezone", sa.String()),
                     sa.column("answer_due_on", sa.Date()), sa.column("escalation_due_at", UTCDateTime()),
                     sa.column("urgency_on", sa.Date()), sa.column("urgency_kind", sa.String()),
                     sa.column("urgency_expires_at", UTCDateTime()))
    now = dt.datetime.now(dt.UTC)
    rows = bind.execute(sa.select(cases.c.id, cases.c.status, cases.c.assessment, cases.c.timezone,
                                  cases.c.answer_due_on, cases.c.escalation_due_at).where(sa.text(OPEN))).all()
    for row in rows:
        assessment: Any = row.assessment
        if isinstance(assessment, str):
            assessment = json.loads(assessment)
        urgency = compute(status=CaseStatus(row.status), assessment=assessment, timezone=row.timezone,
                          answer_due_on=row.answer_due_on, escalation_due_at=row.escalation_due_at, now=now)
        bind.execute(sa.update(cases).where(cases.c.id == row.id).values(
            urgency_on=urgency.on, urgency_kind=urgency.kind, urgency_expires_at=urgency.expires_at))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for index in ("ix_cases_urgency_expires", "ix_cases_needs_review", "ix_cases_open_queue",
                      "ix_cases_status_queue", "ix_cases_assignee_queue"):
            batch_op.drop_index(index)
        batch_op.drop_constraint("escalated_to", type_="check")
        for column in ("escalated_to_name", "escalated_to", "needs_review", "urgency_expires_at", "urgency_kind",
                       "urgency_on", "assigned_at"):
            batch_op.drop_column(column)
    op.drop_index("ix_case_reads_case_id_at", table_name="case_reads")
    op.drop_table("case_reads")
    op.drop_index(op.f("ix_case_notes_case_id"), table_name="case_notes")
    op.drop_table("case_notes")
    op.drop_index(op.f("ix_staff_api_tokens_staff_id"), table_name="staff_api_tokens")
    op.drop_table("staff_api_tokens")
