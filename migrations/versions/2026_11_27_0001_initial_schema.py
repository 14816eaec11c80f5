"""Initial schema: cases, tokens, events, letters, e-mails, deliveries, reminders, staff.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
CASE_STATUSES = ("new", "needs_info", "ready", "sent", "follow_up", "escalated", "resolved", "closed")
OUTCOMES = (
    "cancelled",
    "cancelled_refunded",
    "cancelled_partial_refund",
    "refund_denied",
    "refused",
    "no_response",
    "redirected_app_store",
    "withdrawn",
)
ACTORS = ("consumer", "staff", "system")


def _only_where(condition: str) -> dict[str, sa.TextClause]:
    """Partial-index options for both dialects."""
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    """VARCHAR with a named CHECK constraint, as the models declare it."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_login_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("role IN ('caseworker', 'supervisor')", name=op.f("ck_staff_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_users_email")),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("status", _enum("status", CASE_STATUSES), nullable=False),
        sa.Column("status_before_needs_info", _enum("status_before_needs_info", CASE_STATUSES), nullable=True),
        sa.Column("outcome", _enum("outcome", OUTCOMES), nullable=True),
        sa.Column("consumer_name", sa.String(length=200), nullable=False),
        sa.Column("consumer_email", sa.String(length=254), nullable=False),
        sa.Column("consumer_postal_address", sa.String(length=500), nullable=True),
        sa.Column("consumer_phone", sa.String(length=40), nullable=True),
        sa.Column("account_identifier", sa.String(length=200), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("provider_slug", sa.String(length=64), nullable=False),
        sa.Column("plan_slug", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("company", JSON, nullable=True),
        sa.Column(
            "billing_channel",
            _enum(
                "billing_channel",
                (
                    "direct",
                    "apple_app_store",
                    "google_play",
                ),
            ),
            nullable=False,
        ),
        sa.Column("payment_date", sa.Date(), nullable=True),
        sa.Column("trial_start_date", sa.Date(), nullable=True),
        sa.Column("next_renewal_date", sa.Date(), nullable=True),
        sa.Column("certificate_earned", sa.Boolean(), nullable=False),
        sa.Column("amount_value", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("amount_currency", sa.String(length=3), nullable=True),
        sa.Column(
            "requested_outcome",
            _enum(
                "requested_outcome",
                (
                    "cancel",
                    "cancel_and_refund",
                ),
            ),
            nullable=False,
        ),
        sa.Column("assessment", JSON, nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("consent_at", TIMESTAMP, nullable=False),
        sa.Column("email_confirmed_at", TIMESTAMP, nullable=True),
        sa.Column("confirmed_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(status IN ('resolved', 'closed')) = (outcome IS NOT NULL)",
            name=op.f("ck_cases_outcome_iff_resolved"),
        ),
        sa.CheckConstraint("amount_value IS NULL OR amount_value > 0", name=op.f("ck_cases_amount_positive")),
        sa.CheckConstraint(
            "payment_date IS NOT NULL OR trial_start_date IS NOT NULL",
            name=op.f("ck_cases_payment_or_trial_date"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["staff_users.id"],
            name=op.f("fk_cases_assignee_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_cases_reference")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_consumer_email"), ["consumer_email"], unique=False)
        batch_op.create_index("ix_cases_created_at", ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_provider_slug"), ["provider_slug"], unique=False)

    op.create_table(
        "access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("token_hmac", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_access_tokens_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_tokens")),
        sa.UniqueConstraint("token_hmac", name=op.f("uq_access_tokens_token_hmac")),
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_tokens_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", _enum("actor", ACTORS), nullable=False),
        sa.Column("actor_staff_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("from_status", _enum("from_status", CASE_STATUSES), nullable=True),
        sa.Column("to_status", _enum("to_status", CASE_STATUSES), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_case_events_actor_staff_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("data_snapshot", JSON, nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("template_version", sa.String(length=64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("rendered_at", TIMESTAMP, nullable=True),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", TIMESTAMP, nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("relay_at", TIMESTAMP, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(status = 'rendered') = (pdf IS NOT NULL AND sha256 IS NOT NULL)",
            name=op.f("ck_letters_rendered_has_pdf"),
        ),
        sa.CheckConstraint(
            "kind IN ('cancellation', 'follow_up', 'final_notice', 'evidence_pack')",
            name=op.f("ck_letters_kind"),
        ),
        sa.CheckConstraint("status IN ('pending', 'rendered', 'failed', 'superseded')", name=op.f("ck_letters_status")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_letters_case_id_cases"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["letters.id"],
            name=op.f("fk_letters_supersedes_id_letters"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letters")),
        sa.UniqueConstraint("case_id", "kind", "version", name="uq_letters_case_kind_version"),
    )
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_letters_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_letters_relay", ["relay_at"], unique=False, **_only_where("status = 'pending'"))

    op.create_table(
        "outbound_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("cc", JSON, nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("attachments", JSON, nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.Column("transport_confirmation", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", TIMESTAMP, nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("relay_at", TIMESTAMP, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed', 'cancelled')", name=op.f("ck_outbound_emails_status")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_outbound_emails_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_emails")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbound_emails_idempotency_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbound_emails_message_id")),
    )
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbound_emails_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_outbound_emails_relay", ["relay_at"], unique=False, **_only_where("status = 'pending'")
        )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=True),
        sa.Column("outbound_email_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=2000), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("by", _enum("by", ACTORS), nullable=False),
        sa.Column("by_staff_id", sa.Integer(), nullable=True),
        sa.Column("confirmation", sa.String(length=500), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("channel IN ('email', 'web_form', 'post')", name=op.f("ck_deliveries_channel")),
        sa.ForeignKeyConstraint(
            ["by_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_deliveries_by_staff_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_deliveries_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f("fk_deliveries_letter_id_letters"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["outbound_email_id"],
            ["outbound_emails.id"],
            name=op.f("fk_deliveries_outbound_email_id_outbound_emails"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_case_id"), ["case_id"], unique=False)

    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("due_at", TIMESTAMP, nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outbound_email_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "kind IN ('refund_window_end', 'trial_end', 'renewal', 'company_answer_due')",
            name=op.f("ck_reminders_kind"),
        ),
        sa.CheckConstraint("status IN ('scheduled', 'sent', 'cancelled', 'failed')", name=op.f("ck_reminders_status")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_reminders_case_id_cases"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["outbound_email_id"],
            ["outbound_emails.id"],
            name=op.f("fk_reminders_outbound_email_id_outbound_emails"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminders_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_reminders_due", ["due_at"], unique=False, **_only_where("status = 'scheduled'"))


def downgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_due", **_only_where("status = 'scheduled'"))
        batch_op.drop_index(batch_op.f("ix_reminders_case_id"))

    op.drop_table("reminders")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_case_id"))

    op.drop_table("deliveries")
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_emails_relay", **_only_where("status = 'pending'"))
        batch_op.drop_index(batch_op.f("ix_outbound_emails_case_id"))

    op.drop_table("outbound_emails")
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_index("ix_letters_relay", **_only_where("status = 'pending'"))
        batch_op.drop_index(batch_op.f("ix_letters_case_id"))

    op.drop_table("letters")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_case_id"))

    op.drop_table("case_events")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_tokens_case_id"))

    op.drop_table("access_tokens")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_provider_slug"))
        batch_op.drop_index("ix_cases_created_at")
        batch_op.drop_index(batch_op.f("ix_cases_consumer_email"))

    op.drop_table("cases")
    op.drop_table("staff_users")
