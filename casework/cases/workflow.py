"""What happens to a case after filing: confirmation, delivery by the company's channel, withdrawal.

Every function here changes rows in the caller's transaction and raises a domain error instead of
committing; side effects (e-mails) are job rows dispatched after commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from casework.cases import clock
from casework.cases.answers import notify_change
from casework.cases.confirmation import CodeRefused, check_code, current_code, issue_code

__all__ = ["CaseConflict", "CodeRefused", "approve_delivery", "confirm", "record_submission", "retry_email",
           "withdraw"]
from casework.cases.models import Case, CaseEvent, CompanyResponse, Delivery
from casework.cases.services import CaseError, NewCase
from casework.cases.states import Actor, BillingChannel, CaseStatus, Outcome, can_transition
from casework.cases.tokens import issue_token
from casework.catalog import default_catalog
from casework.config import Settings
from casework.db import utcnow, writing_session
from casework.letters.models import Letter
from casework.letters.services import latest_letter, request_letter
from casework.mail.models import OutboundEmail
from casework.mail.services import queue_email, requeue_failed
from casework.privacy.erasure import erase_case
from casework.reminders import planning as reminder_planning
from casework.reminders.models import Reminder
from casework.runtime import Runtime

UNCONFIRMED_LIFETIME = dt.timedelta(days=7)
CONFIRM_EMAIL = "confirm_letter"
LETTER_TO_COMPANY = "letter_to_company"
# The letter asks the company to confirm "within 10 days"; the clock starts when delivery is recorded.
ANSWER_DAYS = 10
TRACKING_MAX = 100


class CaseConflict(CaseError):
    """The case's status does not allow this action (HTTP 409)."""


def transition(session: Session, case: Case, target: CaseStatus, actor: Actor, action: str,
               now: dt.datetime, outcome: Outcome | None = None, data: dict[str, Any] | None = None,
               staff_id: int | None = None) -> None:
    current = case.status
    if not can_transition(current, target, case.status_before_needs_info):
        raise CaseConflict(f"A case that is {current.value.replace('_', ' ')} cannot become "
                           f"{target.value.replace('_', ' ')}.")
    if target is CaseStatus.RESOLVED and outcome is None:
        raise CaseError("A resolved case needs an outcome.", {"outcome": "required"})
    case.status = target
    case.outcome = outcome if target in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else None
    case.updated_at = now
    reminder_planning.cancel_if_finished(session, case)
    clock.status_changed(case, target, now)
    session.add(CaseEvent(case_id=case.id, at=now, actor=actor, actor_staff_id=staff_id, action=action,
                          from_status=current, to_status=target, data=data or {}))
    notify_change(session, case, action, now, data)


def after_letter_rendered(session: Session, settings: Settings, case: Case, letter: Letter,
                          now: dt.datetime) -> None:
    """A new cancellation letter for an unconfirmed case goes to the consumer to confirm."""
    if letter.kind == "cancellation" and case.status is CaseStatus.NEW and case.confirmed_at is None:
        send_confirmation(session, settings, case, letter, now)
    clock.letter_rendered(session, settings, case, letter, now)


def send_confirmation(session: Session, settings: Settings, case: Case, letter: Letter,
                      now: dt.datetime) -> OutboundEmail:
    """E-mail the letter with a fresh code and a private link to the page that confirms it."""
    row, code = issue_code(session, case.id, letter.id, case.consumer_email, settings.secret_key, now)
    token = issue_token(session, case, settings.secret_key)
    status_url = f"{settings.base_url}/c/{token}"
    return queue_email(
        session, settings,
        key=f"confirmation:{row.id}",
        kind=CONFIRM_EMAIL,
        to=[case.consumer_email],
        template=CONFIRM_EMAIL,
        context={"case": case, "letter": letter, "snapshot": letter.data_snapshot, "code": code,
                 "confirm_url": f"{status_url}/confirm?code={code}", "status_url": status_url,
                 "expires_on": row.expires_at.date().isoformat()},
        now=now,
        case_id=case.id,
        attachments=[{"letter_id": letter.id, "filename": letter_filename(case, letter)}],
    )


def letter_filename(case: Case, letter: Letter) -> str:
    return f"{case.reference}-{letter.kind}-v{letter.version}.pdf"


def resend_confirmation(session: Session, settings: Settings, case: Case, now: dt.datetime,
                        email: str | None = None) -> OutboundEmail:
    if case.confirmed_at is not None or case.status is not CaseStatus.NEW:
        raise CaseConflict("This case is already confirmed.")
    letter = latest_letter(session, case.id)
    if letter is None or letter.status != "rendered":
        raise CaseConflict("Your letter is still being prepared; it will be e-mailed to you shortly.")
    if email and email != case.consumer_email:
        session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="email_corrected",
                              data={}))
        case.consumer_email = email
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="confirmation_resent",
                          data={}))
    return send_confirmation(session, settings, case, letter, now)


def confirm(session: Session, settings: Settings, case: Case, code: str, now: dt.datetime) -> None:
    """The consumer's one act: their e-mail address and the letter, confirmed together (→ ready).

    A wrong code raises CodeRefused after counting the attempt; the caller commits either way.
    """
    if case.confirmed_at is not None or case.status is not CaseStatus.NEW:
        raise CaseConflict("This case is already confirmed.")
    row = current_code(session, case.id)
    if row is None:
        raise CodeRefused("There is no code waiting for this case. Ask for a new one.")
    check_code(row, code, settings.secret_key, now)
    letter = session.get(Letter, row.letter_id)
    latest = latest_letter(session, case.id)
    if letter is None or latest is None or letter.id != latest.id or letter.status != "rendered":
        raise CaseConflict("Your letter has changed since this code was sent; use the newest e-mail.")
    case.email_confirmed_at = now
    case.confirmed_at = now
    transition(session, case, CaseStatus.READY, Actor.CONSUMER, "confirmed", now,
               data={"letter_id": letter.id, "letter_sha256": letter.sha256, "email": row.email})
    reminder_planning.plan_reminders(session, case, now)
    if not awaiting_approval(settings, case):
        start_delivery(session, settings, case, letter, now)


def awaiting_approval(settings: Settings, case: Case) -> bool:
    """Where the deployment requires it, nothing reaches the company before a caseworker's check."""
    return settings.require_delivery_approval and case.delivery_approved_at is None


def approve_delivery(session: Session, settings: Settings, case: Case, staff_id: int, now: dt.datetime) -> None:
    """A caseworker checked the confirmed letter: delivery starts (the e-mail to the company is queued)."""
    if case.status is not CaseStatus.READY or case.confirmed_at is None:
        raise CaseConflict("Only a confirmed letter waiting for delivery can be approved.")
    if case.delivery_approved_at is not None:
        raise CaseConflict("Delivery of this letter is already approved.")
    letter = latest_letter(session, case.id)
    if letter is None or letter.status != "rendered":
        raise CaseConflict("There is no letter to deliver yet.")
    case.delivery_approved_at = now
    case.delivery_approved_by_id = staff_id
    case.updated_at = now
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.STAFF, actor_staff_id=staff_id,
                          action="delivery_approved", data={"letter_id": letter.id, "letter_sha256": letter.sha256}))
    start_delivery(session, settings, case, letter, now)


def delivery_channel(letter: Letter) -> tuple[str, str]:
    return snapshot_channel(letter.data_snapshot)


def snapshot_channel(snapshot: dict[str, Any]) -> tuple[str, str]:
    """How the company takes the letter (kind, address), as frozen in the letter's facts."""
    company = snapshot["company"]
    return str(company["delivery_kind"]), str(company["delivery_address"])


def start_delivery(session: Session, settings: Settings, case: Case, letter: Letter,
                   now: dt.datetime) -> None:
    """E-mail the letter where the company takes e-mail; otherwise the consumer submits it."""
    kind, address = delivery_channel(letter)
    if kind != "email":
        return
    snapshot = letter.data_snapshot
    source = ("consumer:company" if case.provider_slug == "other"
              else f"catalog:{case.provider_slug}@{snapshot.get('policy_version') or case.policy_version}")
    queue_email(
        session, settings,
        key=f"letter:{letter.id}:company",
        kind=LETTER_TO_COMPANY,
        to=[address],
        cc=[case.consumer_email],
        reply_to=f"{case.consumer_name} <{case.consumer_email}>",
        template=LETTER_TO_COMPANY,
        context={"case": case, "letter": letter, "snapshot": letter.data_snapshot},
        now=now,
        case_id=case.id,
        letter_id=letter.id,
        attachments=[{"letter_id": letter.id, "filename": letter_filename(case, letter)}],
        address_source=source,
    )


def answer_due(case: Case, delivered_at: dt.datetime) -> dt.date:
    """The day the company's written answer is due: its catalog's answer days (10 by default) after delivery,
    in the consumer's calendar."""
    return delivered_at.astimezone(ZoneInfo(case.timezone)).date() + dt.timedelta(days=clock.answer_days(case))


def record_email_delivery(session: Session, email: OutboundEmail, now: dt.datetime, confirmation: str) -> None:
    """The company's server accepted the letter: that is its delivery (→ sent)."""
    case = session.get(Case, email.case_id) if email.case_id is not None else None
    letter = session.get(Letter, email.letter_id) if email.letter_id is not None else None
    if case is None or letter is None:
        return
    session.add(Delivery(case_id=case.id, letter_id=letter.id, outbound_email_id=email.id, channel="email",
                         address=email.recipients[0], at=now, by=Actor.SYSTEM,
                         confirmation=f"{confirmation}; Message-ID {email.message_id}"[:500]))
    letter.sent_at = now
    if case.status is CaseStatus.READY:
        transition(session, case, CaseStatus.SENT, Actor.SYSTEM, "delivered", now,
                   data={"channel": "email", "letter_id": letter.id, "message_id": email.message_id,
                         "at": now.isoformat(), "answer_due": answer_due(case, now).isoformat()})
    clock.letter_delivered(session, case, letter, now, now, {"channel": "email", "message_id": email.message_id})


def channel_address(case: Case, letter: Letter, channel: str) -> str:
    """Where the letter went by this channel: the letter's own target, else the company's other channel."""
    kind, address = delivery_channel(letter)
    if kind == channel:
        return address
    if case.provider_slug == "other":
        key = {"web_form": "web_form_url", "post": "postal_address"}.get(channel, "")
        return str((case.company or {}).get(key) or channel)
    provider = default_catalog().get(case.provider_slug)
    known = provider.channel(channel) if provider is not None else None
    return known.address if known is not None else channel


def record_submission(session: Session, settings: Settings, case: Case, channel: str, at: dt.datetime,
                      confirmation: str | None, actor: Actor, now: dt.datetime,
                      staff_id: int | None = None) -> Delivery:
    """"I have submitted it": the consumer (or staff) used the web form or the post (→ sent).

    For the post, ``confirmation`` is the carrier's tracking number and ``at`` the time of posting.
    The company-answer clock starts at ``at``.
    """
    if channel not in ("web_form", "post"):
        raise CaseError("Choose the web form or the post.", {"channel": "must be web_form or post"})
    if case.status is not CaseStatus.READY and (reminder := clock.awaiting_submission(session, case)) is not None:
        return clock.record_reminder_submission(session, case, reminder, channel, at, confirmation, actor, now,
                                                staff_id)
    if case.status is not CaseStatus.READY:
        raise CaseConflict("Only a confirmed letter waiting for delivery can be marked as submitted.")
    if awaiting_approval(settings, case):
        raise CaseConflict("A caseworker checks the letter before it goes to the company; please wait for that.")
    if at > now + dt.timedelta(minutes=5):
        raise CaseError("The time of submission cannot be in the future.", {"at": "must not be in the future"})
    if channel == "post" and confirmation and len(confirmation) > TRACKING_MAX:
        raise CaseError("A tracking number has at most 100 characters.",
                        {"confirmation": f"at most {TRACKING_MAX} characters for a tracking number"})
    letter = latest_letter(session, case.id)
    if letter is None or letter.status != "rendered":
        raise CaseConflict("There is no letter to deliver yet.")
    delivery = Delivery(case_id=case.id, letter_id=letter.id, channel=channel,
                        address=channel_address(case, letter, channel)[:2000], at=at, by=actor,
                        by_staff_id=staff_id, confirmation=confirmation,
                        tracking_number=confirmation if channel == "post" else None)
    session.add(delivery)
    letter.sent_at = at
    data: dict[str, Any] = {"channel": channel, "letter_id": letter.id, "at": at.isoformat(),
                            "answer_due": answer_due(case, at).isoformat()}
    if channel == "post" and confirmation:
        data["tracking_number"] = confirmation
    clock.start_clock(case, at)
    transition(session, case, CaseStatus.SENT, actor, "delivered", now, data=data, staff_id=staff_id)
    return delivery


def retry_email(session: Session, case: Case, email: OutboundEmail, staff_id: int, now: dt.datetime) -> None:
    """A caseworker sends a failed e-mail again: the same row and Message-ID, fresh attempts, an audit event."""
    if email.case_id != case.id or email.status != "failed":
        raise CaseConflict("Only a failed e-mail of this case can be sent again.")
    if case.personal_data_deleted_at is not None or case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise CaseConflict("This case is finished; nothing more is sent for it.")
    if email.kind == LETTER_TO_COMPANY and case.status is not CaseStatus.READY:
        raise CaseConflict("The letter is no longer waiting for delivery.")
    previous = email.last_error
    requeue_failed(session, email, now)
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.STAFF, actor_staff_id=staff_id,
                          action="email_retried",
                          data={"email_id": email.id, "kind": email.kind, "message_id": email.message_id,
                                "previous_error": (previous or "")[:500]}))


def _words(iso_day: str) -> str:
    """A date as the letter writes it (4 December 2026), so the pasted text and the PDF agree."""
    day = dt.date.fromisoformat(iso_day)
    return f"{day.day} {day:%B %Y}"


def paste_text(case: Case, letter: Letter) -> str:
    """A short plain-text request for a company's web form, from the letter's frozen facts only.

    It says what the letter says (who, which account, what is asked, the reference), never the consumer's
    free text, and points to the attached PDF as the formal notice.
    """
    s = letter.data_snapshot
    company = s["company"].get("legal_name") or s["company"]["name"]
    refund = bool(s.get("ask_refund", s.get("requested_outcome") == "cancel_and_refund"))
    account = (f"the account {s['account_identifier']}" if s.get("account_identifier")
               else f"the account registered to {s['consumer']['email']}")
    dated = f" dated {_words(s['letter_date'])}" if s.get("letter_date") else ""
    asks = ["cancel this subscription now and stop all further charges to my payment method for it"]
    if refund:
        amount = s.get("amount")
        paid = f"the payment of {amount['value']} {amount['currency']}" if amount else "my most recent payment"
        if amount and s.get("payment_date"):
            paid += f" made on {_words(s['payment_date'])}"
        asks.append(f"refund {paid} to the original payment method")
    asks.append(f"confirm in writing within {ANSWER_DAYS} days that the subscription is cancelled"
                f"{' and the refund is made' if refund else ''}, quoting the reference "
                f"{s.get('reference') or case.reference}")
    lines = [
        f"To {company}:",
        "",
        f"I am cancelling my {s['plan']['name']} subscription, held under {account}. "
        f"My formal letter{dated} is attached (PDF). Please:",
        *[f"- {ask};" if i < len(asks) - 1 else f"- {ask}." for i, ask in enumerate(asks)],
        "",
        str(s["consumer"]["name"]),
        str(s["consumer"]["email"]),
    ]
    return "\n".join(lines)


def withdraw(session: Session, case: Case, actor: Actor, now: dt.datetime) -> None:
    """The consumer changed their mind: resolved as withdrawn; nothing more goes out."""
    if case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise CaseConflict("This case is already finished.")
    previous = case.status
    case.status_before_needs_info = None
    case.status = CaseStatus.RESOLVED
    case.outcome = Outcome.WITHDRAWN
    case.updated_at = now
    clock.status_changed(case, CaseStatus.RESOLVED, now)
    session.add(CaseEvent(case_id=case.id, at=now, actor=actor, action="withdrawn", from_status=previous,
                          to_status=CaseStatus.RESOLVED, data={}))
    _cancel_pending(session, case.id)


def _cancel_pending(session: Session, case_id: int) -> None:
    session.execute(
        update(OutboundEmail)
        .where(OutboundEmail.case_id == case_id, OutboundEmail.status == "pending",
               OutboundEmail.kind == LETTER_TO_COMPANY, OutboundEmail.claim_token.is_(None))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Reminder).where(Reminder.case_id == case_id, Reminder.status == "scheduled")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


def expire_unconfirmed(session: Session, now: dt.datetime, batch: int = 200, outbox: Path | None = None) -> int:
    """Letter cases never confirmed within 7 days: closed, personal data deleted, the anonymous record kept.

    App-store cases have no letter to confirm: they stay open, with their reminders, until the consumer
    says they cancelled.
    """
    cutoff = now - UNCONFIRMED_LIFETIME
    cases = list(session.scalars(
        select(Case).where(Case.status == CaseStatus.NEW, Case.confirmed_at.is_(None),
                           Case.billing_channel == BillingChannel.DIRECT,
                           Case.personal_data_deleted_at.is_(None), Case.created_at < cutoff)
        .order_by(Case.id).limit(batch)
    ))
    for case in cases:
        previous = case.status
        case.status, case.outcome, case.updated_at = CaseStatus.CLOSED, Outcome.WITHDRAWN, now
        session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action="expired_unconfirmed",
                              from_status=previous, to_status=CaseStatus.CLOSED, data={}))
        erase_case(session, case, "expired", now, outbox=outbox)
    return len(cases)


def run_expiry(runtime: Runtime) -> int:
    """Beat: expire unconfirmed cases, batch by batch, each batch its own transaction."""
    total = 0
    while True:
        with writing_session(runtime.sessions) as session, session.begin():
            done = expire_unconfirmed(session, utcnow(), outbox=runtime.settings.outbox)
        total += done
        if done == 0:
            return total


def case_as_request(case: Case) -> dict[str, Any]:
    """The case's facts in the API's request shape, so a correction can be validated as a whole."""
    return {
        "provider": case.provider_slug, "plan": case.plan_slug, "billing_channel": case.billing_channel.value,
        "country": case.country, "region": case.region, "timezone": case.timezone,
        "payment_date": case.payment_date.isoformat() if case.payment_date else None,
        "trial_start_date": case.trial_start_date.isoformat() if case.trial_start_date else None,
        "next_renewal_date": case.next_renewal_date.isoformat() if case.next_renewal_date else None,
        "certificate_earned": case.certificate_earned,
        "amount": ({"value": f"{case.amount_value:.2f}", "currency": case.amount_currency}
                   if case.amount_value is not None else None),
        "requested_outcome": case.requested_outcome.value,
        "consumer": {"name": case.consumer_name, "email": case.consumer_email,
                     "postal_address": case.consumer_postal_address, "phone": case.consumer_phone},
        "account_identifier": case.account_identifier, "details": case.details, "company": case.company,
        "consent": {"send_in_my_name": True},
    }


def correctable(session: Session, case: Case) -> None:
    """Facts can be corrected until the letter is delivered (and never while an e-mail to the company is queued)."""
    if case.status is CaseStatus.NEW:
        return
    letter = latest_letter(session, case.id)
    if case.status is CaseStatus.READY and letter is not None and delivery_channel(letter)[0] != "email":
        return
    raise CaseConflict("The letter is already on its way; its facts can no longer be corrected.")


def correct_facts(session: Session, case: Case, facts: NewCase, assessment: dict[str, Any],
                  now: dt.datetime) -> None:
    """New facts, a new assessment and a new letter version (the old one superseded)."""
    correctable(session, case)
    if facts.provider != case.provider_slug or facts.billing_channel is not case.billing_channel:
        raise CaseError("File a new case for another company or billing channel.",
                        {"provider": "cannot be changed", "billing_channel": "cannot be changed"})
    for name in ("plan", "consumer_name", "consumer_email", "country", "timezone", "requested_outcome",
                 "payment_date", "trial_start_date", "next_renewal_date", "certificate_earned", "amount_value",
                 "amount_currency", "consumer_postal_address", "consumer_phone", "account_identifier", "details",
                 "region", "company"):
        setattr(case, "plan_slug" if name == "plan" else name, getattr(facts, name))
    case.assessment = assessment
    case.updated_at = now
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="facts_corrected", data={}))
    reminder_planning.replan(session, case, now)
    session.flush()
    request_letter(session, case, "cancellation", now)


def record_response(session: Session, case: Case, kind: str, received_on: dt.date, summary: str,
                    actor: Actor, now: dt.datetime) -> CompanyResponse:
    """The company's answer; being charged again reopens a finished case (never a withdrawn one)."""
    finished = case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED)
    if kind == "charged_again" and finished:
        if case.merged_into_id is not None:
            raise CaseConflict("This case was merged into another case, which carries on with the request; "
                               "record it there.")
        if case.outcome is Outcome.WITHDRAWN:
            raise CaseConflict("A withdrawn case cannot be reopened; file a new case.")
        target = CaseStatus.SENT if case.billing_channel is BillingChannel.DIRECT else CaseStatus.NEW
        previous = case.status
        case.status, case.outcome, case.updated_at = target, None, now
        clock.status_changed(case, target, now)
        session.add(CaseEvent(case_id=case.id, at=now, actor=actor, action="reopened", from_status=previous,
                              to_status=target, data={"because": kind}))
        reminder_planning.replan(session, case, now)
    elif finished or case.status in (CaseStatus.NEW, CaseStatus.NEEDS_INFO):
        raise CaseConflict("An answer can be recorded once the letter is confirmed and until the case is finished.")
    response = CompanyResponse(case_id=case.id, type=kind, received_on=received_on, summary=summary,
                               recorded_by=actor, created_at=now)
    session.add(response)
    clock.stop_clock(case)
    session.add(CaseEvent(case_id=case.id, at=now, actor=actor, action="response_recorded", data={"type": kind}))
    return response


def confirm_cancelled(session: Session, case: Case, now: dt.datetime) -> None:
    """App-store cases: the consumer cancelled with Apple or Google themselves (→ resolved)."""
    if case.billing_channel is BillingChannel.DIRECT:
        raise CaseConflict("Only a subscription billed by Apple or Google is cancelled in their settings.")
    if case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise CaseConflict("This case is already finished.")
    previous = case.status
    case.status, case.outcome, case.updated_at = CaseStatus.RESOLVED, Outcome.REDIRECTED_APP_STORE, now
    clock.status_changed(case, CaseStatus.RESOLVED, now)
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="cancelled_with_app_store",
                          from_status=previous, to_status=CaseStatus.RESOLVED, data={}))
    _cancel_pending(session, case.id)


def send_links(session: Session, settings: Settings, email: str, now: dt.datetime) -> int:
    """"Lost your link?": new private links to every open case of this address, in one e-mail."""
    cases = list(session.scalars(
        select(Case).where(func.lower(Case.consumer_email) == email.lower(), Case.personal_data_deleted_at.is_(None),
                           Case.status.not_in((CaseStatus.RESOLVED, CaseStatus.CLOSED)))
        .order_by(Case.id)
    ))
    if not cases:
        return 0
    links = [{"reference": case.reference, "company": (case.company or {}).get("name") or case.provider_slug,
              "url": f"{settings.base_url}/c/{issue_token(session, case, settings.secret_key)}"} for case in cases]
    queue_email(session, settings, key=f"links:{secrets.token_hex(16)}", kind="lost_link", to=[email],
                template="lost_link", context={"links": links}, now=now)
    for case in cases:
        session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="links_resent", data={}))
    return len(cases)
