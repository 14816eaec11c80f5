"""Case, its access tokens, its append-only event log and its deliveries."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from casework.cases import review, urgency
from casework.cases.states import (
    ESCALATION_KINDS,
    REVIEW_ACTIONS,
    Actor,
    BillingChannel,
    CaseStatus,
    Outcome,
    RequestedOutcome,
)
from casework.cases.urgency import NO_DEADLINE
from casework.db import Base, JsonType, partial_index, utcnow
from casework.languages import LANGUAGES

OPEN_CONDITION = "status NOT IN ('resolved', 'closed')"
# The cases "take next" hands out (casework.staff.claiming.TAKE_STATUSES): unassigned and waiting for someone.
TAKE_CONDITION = "assignee_id IS NULL AND status IN ('needs_info', 'ready', 'sent', 'follow_up', 'escalated')"
# A finished case has an outcome, an open one none; a case merged into another is closed without one.
OUTCOME_RULE = ("((status IN ('resolved', 'closed')) = (outcome IS NOT NULL))"
                " OR (status = 'closed' AND outcome IS NULL AND merged_into_id IS NOT NULL)")


def _enum(enum_cls: type[Any], name: str) -> Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint, the same on SQLite and PostgreSQL."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "status"), default=CaseStatus.NEW)
    status_before_needs_info: Mapped[CaseStatus | None] = mapped_column(
        _enum(CaseStatus, "status_before_needs_info")
    )
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, "outcome"))

    consumer_name: Mapped[str] = mapped_column(String(200))
    consumer_email: Mapped[str] = mapped_column(String(254), index=True)
    consumer_postal_address: Mapped[str | None] = mapped_column(String(500))
    consumer_phone: Mapped[str | None] = mapped_column(String(40))
    account_identifier: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(6))
    timezone: Mapped[str] = mapped_column(String(64))
    # The language of the case's letter and of the consumer's pages and e-mails (casework.languages).
    language: Mapped[str] = mapped_column(String(2))

    provider_slug: Mapped[str] = mapped_column(String(64), index=True)
    plan_slug: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(64))
    company: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    billing_channel: Mapped[BillingChannel] = mapped_column(_enum(BillingChannel, "billing_channel"))
    payment_date: Mapped[dt.date | None]
    trial_start_date: Mapped[dt.date | None]
    # The day the subscription was first taken out: withdrawal-type rights run from it, not from a renewal.
    subscription_start_date: Mapped[dt.date | None]
    next_renewal_date: Mapped[dt.date | None]
    certificate_earned: Mapped[bool] = mapped_column(default=False)
    amount_value: Mapped[decimal.Decimal | None] = mapped_column(Numeric(12, 2))
    amount_currency: Mapped[str | None] = mapped_column(String(3))
    requested_outcome: Mapped[RequestedOutcome] = mapped_column(
        _enum(RequestedOutcome, "requested_outcome")
    )
    assessment: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    assigned_at: Mapped[dt.datetime | None]
    # The staff queue's order (see casework.cases.urgency): kept by the flush hook below and the sweep.
    urgency_on: Mapped[dt.date] = mapped_column(default=NO_DEADLINE)
    urgency_kind: Mapped[str | None] = mapped_column(String(32))
    urgency_expires_at: Mapped[dt.datetime | None]
    # Something the consumer (or the clock) did that a caseworker has not looked at yet.
    needs_review: Mapped[bool] = mapped_column(default=False)
    # The day by which a caseworker looks at it, as the consumer was told (see casework.cases.review).
    review_due_on: Mapped[dt.date | None]
    # A duplicate folded into another case (same consumer and company): closed, and pointing to it.
    # (No ON DELETE action: a survivor is never deleted from under the cases merged into it.)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # Where an escalated case went: a regulator, an ombudsman or the consumer's card issuer, and its name.
    escalated_to: Mapped[str | None] = mapped_column(String(16))
    escalated_to_name: Mapped[str | None] = mapped_column(String(200))
    consent_at: Mapped[dt.datetime]
    email_confirmed_at: Mapped[dt.datetime | None]
    # When an unconfirmed case expired and its personal data was removed.
    personal_data_deleted_at: Mapped[dt.datetime | None]
    confirmed_at: Mapped[dt.datetime | None]
    # Where deployments require it, a caseworker approves company delivery of a confirmed letter.
    delivery_approved_at: Mapped[dt.datetime | None]
    delivery_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    # The company's clock: the day its written answer is due (set when delivery is recorded), the
    # follow-ups sent for silence so far, and when a second silence made escalation due.
    answer_due_on: Mapped[dt.date | None]
    follow_ups_sent: Mapped[int] = mapped_column(default=0)
    escalation_due_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    # The consumer's own report of a refund.
    refund_received_amount: Mapped[decimal.Decimal | None] = mapped_column(Numeric(12, 2))
    refund_received_currency: Mapped[str | None] = mapped_column(String(3))
    refund_received_on: Mapped[dt.date | None]
    # Deadline reminders stop (case e-mails do not) once the consumer unsubscribes.
    reminders_unsubscribed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan", passive_deletes=True
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once
    __table_args__ = (
        partial_index("ix_cases_answer_due", "answer_due_on", "answer_due_on IS NOT NULL"),
        partial_index("ix_cases_resolved_at", "resolved_at", "status = 'resolved'"),
        # The queue: open cases by urgency, then oldest; the same per status and per assignee; and the
        # few cases whose urgency runs out (for the sweep).
        partial_index("ix_cases_open_queue", ("urgency_on", "id"), OPEN_CONDITION),
        # "Take next": only the cases still to hand out, so claimed ones never pile up at the head of the scan.
        partial_index("ix_cases_take_next", ("urgency_on", "id"), TAKE_CONDITION),
        Index("ix_cases_status_queue", "status", "urgency_on", "id"),
        Index("ix_cases_assignee_queue", "assignee_id", "urgency_on", "id"),
        partial_index("ix_cases_needs_review", ("urgency_on", "id"), "needs_review"),
        partial_index("ix_cases_urgency_expires", "urgency_expires_at", "urgency_expires_at IS NOT NULL"),
        # Search by part of a name: a trigram index on PostgreSQL (a plain one elsewhere, where LIKE scans).
        Index("ix_cases_name_trgm", "consumer_name", postgresql_using="gin",
              postgresql_ops={"consumer_name": "gin_trgm_ops"}),
        CheckConstraint(f"escalated_to IS NULL OR escalated_to IN {ESCALATION_KINDS}", name="escalated_to"),

        CheckConstraint(OUTCOME_RULE, name="outcome_iff_finished"),
        CheckConstraint(f"language IN {LANGUAGES}", name="language"),
        CheckConstraint("amount_value IS NULL OR amount_value > 0", name="amount_positive"),
        CheckConstraint(
            "payment_date IS NOT NULL OR trial_start_date IS NOT NULL", name="payment_or_trial_date"
        ),
        Index("ix_cases_created_at", "created_at"),
    )


class AccessToken(Base):
    """A consumer's secret link to one case, stored only as HMAC-SHA-256 under the server key."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    token_hmac: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Renewed (at most daily) when the link is followed: a link unused for a while stops working.
    last_used_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class IdempotencyKey(Base):
    """A client's ``Idempotency-Key`` for filing: a repeat with the same body finds this case again.

    Keys live in the client's own namespace (``scope``, see :mod:`casework.cases.idempotency`), so nobody can
    claim a key before another client uses it; rows are purged 24 hours after they were made.
    """

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(128))
    body_sha256: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("scope", "key"),)


RESPONSE_TYPES = ("confirmed_cancellation", "refund_offered", "refused", "retention_offer",
                  "asked_for_information", "charged_again")


class CompanyResponse(Base):
    """The company's answer as the consumer (or a caseworker) got it."""

    __tablename__ = "company_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    received_on: Mapped[dt.date]
    summary: Mapped[str] = mapped_column(String(2000))
    recorded_by: Mapped[Actor] = mapped_column(_enum(Actor, "recorded_by"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint(f"type IN {RESPONSE_TYPES}", name="type"),)


class CaseAttachment(Base):
    """A file the consumer or a caseworker uploaded (a company's reply, a screenshot): checked by content."""

    __tablename__ = "case_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("company_responses.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by: Mapped[Actor] = mapped_column(_enum(Actor, "uploaded_by"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("content_type IN ('application/pdf', 'image/png', 'image/jpeg')", name="content_type"),
    )


class ConfirmationCode(Base):
    """A code sent with the letter (or, for a case without one, with its first e-mail); posting it confirms the
    e-mail address and that letter version."""

    __tablename__ = "confirmation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    code_hmac: Mapped[bytes] = mapped_column(LargeBinary(32))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    superseded_at: Mapped[dt.datetime | None]


class CaseEvent(Base):
    """Append-only audit trail: who did what to a case, and when."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[Actor] = mapped_column(_enum(Actor, "actor"))
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[CaseStatus | None] = mapped_column(_enum(CaseStatus, "from_status"))
    to_status: Mapped[CaseStatus | None] = mapped_column(_enum(CaseStatus, "to_status"))
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class Delivery(Base):
    """A letter reaching the company: by e-mail (system), or a web form or post (recorded by a person)."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"))
    outbound_email_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_emails.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(2000))
    at: Mapped[dt.datetime]
    by: Mapped[Actor] = mapped_column(_enum(Actor, "by"))
    by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    confirmation: Mapped[str | None] = mapped_column(String(500))
    # Post: the carrier's tracking number (``at`` is when it was posted).
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("channel IN ('email', 'web_form', 'post')", name="channel"),
    )


@event.listens_for(Session, "before_flush")
def _events_are_append_only(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, CaseEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise ValueError("case events are append-only")


@event.listens_for(Session, "before_flush")
def _keep_queue_columns(session: Session, flush_context: Any, instances: Any) -> None:
    """A new event may call for a caseworker's look (or be one); every changed case gets its urgency again."""
    now = utcnow()
    for obj in list(session.new):
        if not isinstance(obj, CaseEvent) or obj.case_id is None:
            continue
        reviewed = obj.actor is Actor.STAFF and obj.action not in PASSIVE_STAFF_ACTIONS
        wants_review = obj.actor is not Actor.STAFF and obj.action in REVIEW_ACTIONS
        if reviewed or wants_review:
            case = session.get(Case, obj.case_id)
            if case is not None and case.needs_review != wants_review:
                case.needs_review = wants_review
                case.review_due_on = review.review_due(now, case.timezone) if wants_review else None
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Case) and (obj in session.new or session.is_modified(obj)):
            urgency.apply(obj, now)


# Staff events that are not a look at the case's new facts (they leave "needs review" alone).
PASSIVE_STAFF_ACTIONS = frozenset({"assigned", "released", "note_added"})


class CaseStatusDelta(Base):
    """A change in the number of cases per status, written by database triggers on ``cases`` (migration 0009)
    and folded together by the sweep: the queue's counts are a sum over a few rows, never a count of the
    table, and no counter row is shared by concurrent transactions."""

    __tablename__ = "case_status_deltas"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    delta: Mapped[int]
