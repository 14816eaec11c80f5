"""What happens to a case after filing: confirmation, delivery by the company's channel, withdrawal.

Every function here changes rows in the caller's transaction and raises a domain error instead of
committing; side effects (e-mails) are job rows dispatched after commit. It stands on the clock, delivery,
notifying the consumer and the state machine (casework.cases.transitions), and none of those imports it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from casework.cases import clock, entered_dates
from casework.cases.confirmation import (
    CodeRefused,
    check_code,
    current_code,
    ever_confirmed,
    issue_code,
    supersede_codes,
)
from casework.cases.deadlines import act_by_words
from casework.cases.delivery import (
    ANSWER_DAYS,
    LETTER_TO_COMPANY,
    TRACKING_MAX,
    answer_due,
    channel_address,
    delivery_channel,
    letter_filename,
    paste_text,
    queue_letter_to_company,
    snapshot_channel,
)
from casework.cases.errors import CaseError
from casework.cases.filing import NewCase, facts_letter_plan
from casework.cases.limits import require_room
from casework.cases.models import Case, CaseEvent, CompanyResponse, Delivery
from casework.cases.notify import move
from casework.cases.states import Actor, BillingChannel, CaseStatus, Outcome
from casework.cases.tokens import revoke_tokens, status_link
from casework.cases.tracking import send_tracking
from casework.cases.transitions import (
    FINISHED,
    MERGED,
    WITHDRAWN,
    CaseConflict,
    finish,
    reopen,
    reopen_refusal,
)
from casework.config import Settings
from casework.letters.models import Letter
from casework.letters.plan import letter_plan_for_case
from casework.letters.services import latest_letter, request_letter
from casework.mail.models import OutboundEmail
from casework.mail.services import queue_email, requeue_failed
from casework.reminders import planning as reminder_planning
from casework.reminders.models import Reminder
from casework.runtime import session_settings
from casework.typed_text import is_one_line

# Names other modules have long imported from here; they live in delivery and transitions now.
__all__ = ["ANSWER_DAYS", "LETTER_TO_COMPANY", "TRACKING_MAX", "CaseConflict", "CodeRefused", "answer_due",
           "approve_delivery", "channel_address", "confirm", "delivery_channel", "letter_filename", "paste_text",
           "record_submission", "retry_email", "snapshot_channel", "withdraw"]

CONFIRM_EMAIL = "confirm_letter"
ADDRESS_EMAIL = "confirm_address"


def transition(session: Session, case: Case, target: CaseStatus, actor: Actor, action: str,
               now: dt.datetime, outcome: Outcome | None = None, data: dict[str, Any] | None = None,
               staff_id: int | None = None) -> None:
    """A transition with the consumer's e-mail about it, for callers that are not handed the settings
    (the e-mail job's delivery callback, tests): the settings the session was made with are used."""
    move(session, session_settings(session), case, target, actor, action, now, outcome=outcome, data=data,
         staff_id=staff_id)


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
    link = status_link(session, settings, case)
    channel, _ = delivery_channel(letter)
    return queue_email(
        session, settings,
        key=f"confirmation:{row.id}",
        kind=CONFIRM_EMAIL,
        to=[case.consumer_email],
        template=CONFIRM_EMAIL,
        context={"case": case, "letter": letter, "snapshot": letter.data_snapshot, "code": code,
                 "confirm_url": f"{link}/confirm?code={code}", "status_url": link,
                 "expires_on": row.expires_at.date().isoformat(), "channel": channel,
                 "button": confirm_button(channel), "act_by": act_by_words(case, now),
                 "approval": settings.require_delivery_approval},
        now=now,
        case_id=case.id,
        attachments=[{"letter_id": letter.id, "filename": letter_filename(case, letter)}],
    )


def confirm_button(channel: str) -> str:
    """The confirm button says what it does: only a letter we e-mail is sent in the consumer's name by us."""
    return "Confirm and send in my name" if channel == "email" else "Confirm the letter"


def confirms_address_alone(case: Case) -> bool:
    """Whether the case's code confirms the e-mail address alone: a case without a letter, or one whose letter
    was confirmed before its address changed."""
    return not letter_plan_for_case(case).letter or (case.confirmed_at is not None
                                                     and case.email_confirmed_at is None)


def change_address(session: Session, case: Case, email: str, now: dt.datetime) -> bool:
    """The consumer gives another e-mail address: it is unproven, whatever the old one was.

    A confirmation of the old address says nothing about the new one, so it is withdrawn (no e-mail but a
    confirmation code reaches the new address until its owner uses that code: casework.mail.services.withheld,
    the reminder sweep, "lost your link?" and duplicate merging all look at ``email_confirmed_at``), and codes
    sent to the old address stop working. The event keeps no address. Returns whether the address changed (an
    address differing only in upper and lower case is the same mailbox, as everywhere else here).
    """
    if email.lower() == case.consumer_email.lower():
        case.consumer_email = email
        return False
    was_confirmed = case.email_confirmed_at is not None
    case.consumer_email = email
    case.email_confirmed_at = None
    supersede_codes(session, case.id, now)
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="email_corrected",
                          data={"confirmation_withdrawn": was_confirmed}))
    return True


def send_address_code(session: Session, settings: Settings, case: Case, now: dt.datetime) -> OutboundEmail:
    """A case whose letter is confirmed, and whose address changed since: a code to confirm the new address."""
    row, code = issue_code(session, case.id, None, case.consumer_email, settings.secret_key, now)
    link = status_link(session, settings, case)
    return queue_email(
        session, settings, key=f"confirmation:{row.id}", kind=ADDRESS_EMAIL, to=[case.consumer_email],
        template=ADDRESS_EMAIL,
        context={"case": case, "code": code, "confirm_url": f"{link}/confirm?code={code}", "status_url": link,
                 "expires_on": row.expires_at.date().isoformat()},
        now=now, case_id=case.id,
    )


def confirm_new_address(session: Session, settings: Settings, case: Case, was_confirmed: bool,
                        now: dt.datetime) -> OutboundEmail | None:
    """After a change of address, a code goes to the new one. A letter not yet confirmed needs nothing here: its
    new version, once written, is e-mailed with its code. A case never confirmed without a letter gets its first
    e-mail again. A case whose address (or letter) was confirmed before gets an e-mail with the code alone, and
    does not expire while it waits (casework.privacy.expiry): someone proved it was theirs."""
    if case.status in FINISHED or case.personal_data_deleted_at is not None:
        return None
    if letter_plan_for_case(case).letter and case.confirmed_at is None:
        return None
    if was_confirmed or case.confirmed_at is not None or ever_confirmed(session, case.id):
        return send_address_code(session, settings, case, now)
    return send_tracking(session, settings, case, now)


def resend_confirmation(session: Session, settings: Settings, case: Case, now: dt.datetime,
                        email: str | None = None) -> OutboundEmail:
    if confirms_address_alone(case):
        return _resend_address_code(session, settings, case, now, email)
    if case.confirmed_at is not None or case.status is not CaseStatus.NEW:
        raise CaseConflict("This case is already confirmed.")
    letter = latest_letter(session, case.id)
    if letter is None or letter.status != "rendered":
        raise CaseConflict("Your letter is still being prepared; it will be e-mailed to you shortly.")
    if email:
        change_address(session, case, email, now)
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="confirmation_resent",
                          data={}))
    return send_confirmation(session, settings, case, letter, now)


def _resend_address_code(session: Session, settings: Settings, case: Case, now: dt.datetime,
                         email: str | None) -> OutboundEmail:
    """The address's code again, with a new code, to the (possibly corrected) address: a case without a letter
    gets its first e-mail again, a confirmed letter whose address changed the e-mail with the code alone."""
    if case.email_confirmed_at is not None:
        raise CaseConflict("Your e-mail address is already confirmed.")
    if case.status in FINISHED or case.personal_data_deleted_at is not None:
        raise CaseConflict("This case is already finished.")
    if email:
        change_address(session, case, email, now)
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="confirmation_resent", data={}))
    if letter_plan_for_case(case).letter or ever_confirmed(session, case.id):
        return send_address_code(session, settings, case, now)
    return send_tracking(session, settings, case, now)


def confirm_address(session: Session, settings: Settings, case: Case, code: str, now: dt.datetime, *,
                    keep_token: int | None = None) -> None:
    """A case without a letter, or a confirmed letter whose address changed since: the code confirms the e-mail
    address alone, and its reminders are planned anew (from today: none for a day that passed while it waited).
    The case stays as it is; nothing is sent. The links made before are revoked as in :func:`confirm`."""
    if case.email_confirmed_at is not None:
        raise CaseConflict("Your e-mail address is already confirmed.")
    if case.status in FINISHED or case.personal_data_deleted_at is not None:
        raise CaseConflict("This case is already finished.")
    row = current_code(session, case.id)
    if row is not None and row.letter_id is not None:  # sent with a letter that corrected facts took away
        raise CaseConflict(f"There is no letter to confirm for this case. {letter_plan_for_case(case).reason or ''} "
                           "Ask for a new code to confirm your e-mail address.")
    if row is None or row.email.lower() != case.consumer_email.lower():
        raise CodeRefused("There is no code waiting for this case. Ask for a new one.")
    check_code(row, code, settings.secret_key, now)
    revoke_tokens(session, [case.id], now, keep=keep_token)
    case.email_confirmed_at = now
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="email_confirmed",
                          data={"email": row.email}))
    reminder_planning.replan_if_open(session, case, now)


def confirm(session: Session, settings: Settings, case: Case, code: str, now: dt.datetime, *,
            keep_token: int | None = None) -> None:
    """The consumer's one act: their e-mail address and the letter, confirmed together (→ ready).

    A case without a letter, or whose confirmed letter outlived its address, confirms its address alone
    (:func:`confirm_address`). A wrong code raises CodeRefused after counting the attempt; the caller commits
    either way.
    Every link made before confirmation is revoked (whoever typed the address at filing held one), but
    ``keep_token``, the token id of the caller who showed the code, if the caller cannot be handed a new link.
    """
    if confirms_address_alone(case):
        confirm_address(session, settings, case, code, now, keep_token=keep_token)
        return
    if case.confirmed_at is not None or case.status is not CaseStatus.NEW:
        raise CaseConflict("This case is already confirmed.")
    row = current_code(session, case.id)
    if row is None or row.email.lower() != case.consumer_email.lower():
        raise CodeRefused("There is no code waiting for this case. Ask for a new one.")
    check_code(row, code, settings.secret_key, now)
    letter = session.get(Letter, row.letter_id) if row.letter_id is not None else None
    latest = latest_letter(session, case.id)
    if letter is None or latest is None or letter.id != latest.id or letter.status != "rendered":
        raise CaseConflict("Your letter has changed since this code was sent; use the newest e-mail.")
    revoke_tokens(session, [case.id], now, keep=keep_token)
    case.email_confirmed_at = now
    case.confirmed_at = now
    move(session, settings, case, CaseStatus.READY, Actor.CONSUMER, "confirmed", now,
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


def start_delivery(session: Session, settings: Settings, case: Case, letter: Letter,
                   now: dt.datetime) -> None:
    """E-mail the letter where the company takes e-mail; otherwise the consumer submits it."""
    if delivery_channel(letter)[0] != "email":
        return
    queue_letter_to_company(session, settings, case, letter, now)


def record_email_delivery(session: Session, settings: Settings, email: OutboundEmail, now: dt.datetime,
                          confirmation: str) -> None:
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
        move(session, settings, case, CaseStatus.SENT, Actor.SYSTEM, "delivered", now,
             data={"channel": "email", "letter_id": letter.id, "message_id": email.message_id,
                   "at": now.isoformat(), "answer_due": answer_due(case, now).isoformat()})
    clock.letter_delivered(session, settings, case, letter, now, now,
                           {"channel": "email", "message_id": email.message_id})


def record_submission(session: Session, settings: Settings, case: Case, channel: str, at: dt.datetime,
                      confirmation: str | None, actor: Actor, now: dt.datetime,
                      staff_id: int | None = None) -> Delivery:
    """"I have submitted it": the consumer (or staff) used the web form or the post (→ sent).

    For the post, ``confirmation`` is the carrier's tracking number and ``at`` the time of posting.
    The company-answer clock starts at ``at``.
    """
    if channel not in ("web_form", "post"):
        raise CaseError("Choose the web form or the post.", {"channel": "must be web_form or post"})
    if confirmation and not is_one_line(confirmation):
        why = "Write the confirmation or tracking number on one line, without line breaks or hidden characters."
        raise CaseError(why, {"confirmation": why})
    if case.status is not CaseStatus.READY and (reminder := clock.awaiting_submission(session, case)) is not None:
        return clock.record_reminder_submission(session, settings, case, reminder, channel, at, confirmation, actor,
                                                now, staff_id)
    if case.status is not CaseStatus.READY:
        raise CaseConflict("Only a confirmed letter waiting for delivery can be marked as submitted.")
    if awaiting_approval(settings, case):
        raise CaseConflict("A caseworker checks the letter before it goes to the company; please wait for that.")
    entered_dates.check_delivery(at, case, now)
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
    move(session, settings, case, CaseStatus.SENT, actor, "delivered", now, data=data, staff_id=staff_id)
    return delivery


def retry_email(session: Session, case: Case, email: OutboundEmail, staff_id: int, now: dt.datetime) -> None:
    """A caseworker sends a failed e-mail again: the same row and Message-ID, fresh attempts, an audit event."""
    if email.case_id != case.id or email.status != "failed":
        raise CaseConflict("Only a failed e-mail of this case can be sent again.")
    if case.personal_data_deleted_at is not None or case.status in FINISHED:
        raise CaseConflict("This case is finished; nothing more is sent for it.")
    if email.kind == LETTER_TO_COMPANY and case.status is not CaseStatus.READY:
        raise CaseConflict("The letter is no longer waiting for delivery.")
    previous = email.last_error
    requeue_failed(session, email, now)
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.STAFF, actor_staff_id=staff_id,
                          action="email_retried",
                          data={"email_id": email.id, "kind": email.kind, "message_id": email.message_id,
                                "previous_error": (previous or "")[:500]}))


def withdraw(session: Session, case: Case, actor: Actor, now: dt.datetime) -> None:
    """The consumer changed their mind: resolved as withdrawn; nothing more goes out."""
    if case.status in FINISHED:
        raise CaseConflict("This case is already finished.")
    case.status_before_needs_info = None
    finish(session, case, CaseStatus.RESOLVED, Outcome.WITHDRAWN, actor, "withdrawn", now)
    _cancel_pending(session, case.id)


def _cancel_pending(session: Session, case_id: int) -> None:
    """Nothing more goes out: a letter e-mail the sender has not taken yet, and every scheduled reminder."""
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


def correctable(session: Session, case: Case) -> None:
    """Facts can be corrected until the letter is delivered (and never while an e-mail to the company is queued)."""
    if case.status is CaseStatus.NEW:
        return
    letter = latest_letter(session, case.id)
    if case.status is CaseStatus.READY and letter is not None and delivery_channel(letter)[0] != "email":
        return
    raise CaseConflict("The letter is already on its way; its facts can no longer be corrected.")


def correct_facts(session: Session, case: Case, facts: NewCase, assessment: dict[str, Any],
                  now: dt.datetime, settings: Settings | None = None) -> None:
    """New facts, a new assessment and, as the letter plan for them says, a new letter version (the old one
    superseded) or none: corrected facts that leave nothing for a letter to ask supersede the waiting letter, so
    it can be neither confirmed nor delivered, and the case is tracked without one (reminders from now on).

    A letter the consumer already confirmed is not taken away by a correction (409): they withdraw instead.
    Another e-mail address is unproven (:func:`change_address`) and gets a code (:func:`confirm_new_address`).
    """
    correctable(session, case)
    if facts.provider != case.provider_slug or facts.billing_channel is not case.billing_channel:
        raise CaseError("File a new case for another company or billing channel.",
                        {"provider": "cannot be changed", "billing_channel": "cannot be changed"})
    plan = facts_letter_plan(facts, assessment)
    if not plan.letter and case.confirmed_at is not None:
        raise CaseConflict(f"You confirmed your letter, and with these facts no letter would be written. "
                           f"{plan.reason or ''} If you no longer need it, withdraw this case instead.".strip())
    was_confirmed = case.email_confirmed_at is not None
    changed = change_address(session, case, facts.consumer_email, now)
    for name in ("plan", "consumer_name", "consumer_email", "country", "timezone", "requested_outcome",
                 "payment_date", "trial_start_date", "next_renewal_date", "subscription_start_date",
                 "certificate_earned", "amount_value",
                 "amount_currency", "consumer_postal_address", "consumer_phone", "account_identifier", "details",
                 "region", "company"):
        setattr(case, "plan_slug" if name == "plan" else name, getattr(facts, name))
    case.language = facts.case_language()
    case.assessment = assessment
    case.updated_at = now
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="facts_corrected", data={}))
    reminder_planning.replan(session, case, now)
    session.flush()
    if plan.letter:
        request_letter(session, case, "cancellation", now)
    else:
        _drop_letter(session, case, now)
    if changed:
        confirm_new_address(session, settings or _settings_of(session), case, was_confirmed, now)


def _settings_of(session: Session) -> Settings:
    settings = session_settings(session)
    if settings is None:
        raise RuntimeError("correcting an e-mail address needs the settings to e-mail a code")
    return settings


def _drop_letter(session: Session, case: Case, now: dt.datetime) -> None:
    """The facts no longer call for a letter: the waiting one is superseded (the code sent with it confirms
    nothing now) and the timeline says so."""
    waiting = list(session.scalars(select(Letter).where(Letter.case_id == case.id, Letter.kind == "cancellation",
                                                        Letter.status != "superseded")))
    for letter in waiting:
        letter.status = "superseded"
    if waiting:
        session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action="letter_not_needed",
                              data={"letter_id": max(letter.id for letter in waiting)}))


def record_response(session: Session, case: Case, kind: str, received_on: dt.date, summary: str,
                    actor: Actor, now: dt.datetime) -> CompanyResponse:
    """The company's answer; being charged again reopens a finished case (never a withdrawn one). A case holds
    at most ANSWERS_PER_CASE answers (casework.cases.limits)."""
    finished = case.status in FINISHED
    if kind == "charged_again" and finished:
        refusal = reopen_refusal(case)
        if refusal == MERGED:
            raise CaseConflict("This case was merged into another case, which carries on with the request; "
                               "record it there.")
        if refusal == WITHDRAWN:
            raise CaseConflict("A withdrawn case cannot be reopened; file a new case.")
    elif finished or case.status in (CaseStatus.NEW, CaseStatus.NEEDS_INFO):
        raise CaseConflict("An answer can be recorded once the letter is confirmed and until the case is finished.")
    require_room(session, case, answers=1)
    if kind == "charged_again" and finished:
        reopen(session, case, actor, now, {"because": kind})
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
    if case.status in FINISHED:
        raise CaseConflict("This case is already finished.")
    finish(session, case, CaseStatus.RESOLVED, Outcome.REDIRECTED_APP_STORE, Actor.CONSUMER,
           "cancelled_with_app_store", now)
    _cancel_pending(session, case.id)


def send_links(session: Session, settings: Settings, email: str, now: dt.datetime) -> int:
    """"Lost your link?": new private links to every open case of this address, in one e-mail.

    Only cases whose address was confirmed: a case filed with someone else's address must not make us write to it.
    The links sent before stop working: a link that went astray is closed by asking for new ones.
    """
    cases = list(session.scalars(
        select(Case).where(func.lower(Case.consumer_email) == email.lower(), Case.personal_data_deleted_at.is_(None),
                           Case.status.not_in(FINISHED), Case.email_confirmed_at.is_not(None))
        .order_by(Case.id)
    ))
    if not cases:
        return 0
    revoke_tokens(session, [case.id for case in cases], now)
    links = [{"reference": case.reference, "company": (case.company or {}).get("name") or case.provider_slug,
              "url": status_link(session, settings, case)} for case in cases]
    queue_email(session, settings, key=f"links:{secrets.token_hex(16)}", kind="lost_link", to=[email],
                template="lost_link", context={"links": links}, now=now)
    for case in cases:
        session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="links_resent", data={}))
    return len(cases)


def sign_out_everywhere(session: Session, settings: Settings, case: Case, token_id: int, now: dt.datetime) -> None:
    """Every link to the case stops working; a new one goes to the confirmed address.

    Only once the address is confirmed: before that the new link could go nowhere, and the link in the
    confirmation e-mail is the consumer's only way in. ``token_id`` is the link the consumer used: it keys the
    e-mail, so a repeated request sends it once.
    """
    if case.email_confirmed_at is None or case.personal_data_deleted_at is not None:
        raise CaseConflict("Confirm your e-mail address first: the new link is sent to it. Until then only the links "
                           "we sent to you and the one you got when you filed open this case.")
    revoke_tokens(session, [case.id], now)
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="links_revoked", data={}))
    company = (case.company or {}).get("name") or case.provider_slug
    queue_email(session, settings, key=f"sign-out:{token_id}", kind="new_link", to=[case.consumer_email],
                template="new_link", context={"reference": case.reference, "company": company,
                                              "url": status_link(session, settings, case)},
                now=now, case_id=case.id)
