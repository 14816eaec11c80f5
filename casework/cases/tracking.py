"""A case without a letter: its reminders planned and the consumer e-mailed their way back to it, at filing.

App-store billing (the company cannot cancel it) and a one-time purchase with no refund to ask for get no letter,
but their address is confirmed all the same: this first e-mail carries a confirmation code (the letter cases'
codes, without a letter), and until it is used no other e-mail goes to the address (casework.mail.services) and
the case expires after 7 days (casework.privacy.expiry). It carries the case's private link, what they do
themselves (the platform's steps and refund page, or the plan's reason and the assessment's steps), the dates that
matter and exactly the reminders planned for them, sent once the address is confirmed, and says what casework does
not do. Nothing is sent to any company.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.confirmation import issue_code
from casework.cases.models import Case
from casework.cases.platforms import platform_for
from casework.cases.states import RequestedOutcome
from casework.cases.tokens import status_link
from casework.config import Settings
from casework.letters.plan import letter_plan_for_case
from casework.letters.render import format_long_date
from casework.mail.models import OutboundEmail
from casework.mail.services import queue_email
from casework.reminders.models import Reminder
from casework.reminders.planning import case_deadlines, plan_reminders

TRACKING_EMAIL = "case_without_letter"


def tracking_key(case_id: int) -> str:
    """One e-mail per case, whoever asks for it again: its Message-ID follows from this key."""
    return f"no_letter:{case_id}"


def tracking_email(session: Session, case_id: int) -> OutboundEmail | None:
    """The case's e-mail with its link, if one was queued (the case page says whether it went out)."""
    return session.execute(select(OutboundEmail).where(OutboundEmail.idempotency_key == tracking_key(case_id))
                           ).scalar_one_or_none()


def start_tracking(session: Session, settings: Settings, case: Case, now: dt.datetime) -> OutboundEmail | None:
    """Plan the case's reminders now (so the e-mail can name them) and queue the e-mail, once.

    A case with a letter is left alone: its reminders wait for the confirmation, and its e-mail is the letter's.
    """
    if letter_plan_for_case(case).letter or case.personal_data_deleted_at is not None:
        return None
    existing = tracking_email(session, case.id)
    if existing is not None:
        return existing
    return send_tracking(session, settings, case, now, tracking_key(case.id))


def send_tracking(session: Session, settings: Settings, case: Case, now: dt.datetime, key: str | None = None
                  ) -> OutboundEmail:
    """The e-mail with a fresh confirmation code (earlier ones stop working) and the reminders planned anew.

    ``key`` is the filing e-mail's; a new code asked for from the case page gets its own key from the code's row.
    """
    reminders = plan_reminders(session, case, now)
    row, code = issue_code(session, case.id, None, case.consumer_email, settings.secret_key, now)
    link = status_link(session, settings, case)
    context = tracking_context(case, reminders, link, now)
    context.update(code=code, confirm_url=f"{link}/confirm?code={code}", expires_on=row.expires_at.date().isoformat())
    return queue_email(
        session, settings, key=key or f"confirmation:{row.id}", kind=TRACKING_EMAIL, to=[case.consumer_email],
        template=TRACKING_EMAIL, context=context, now=now, case_id=case.id,
    )


def _words(day: dt.date | str, case: Case) -> str:
    return format_long_date(day, case.country)


def _listed(items: list[str]) -> str:
    """"1 May, 4 May and 9 May": a list as a sentence says it."""
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def tracking_context(case: Case, reminders: list[Reminder], link: str, now: dt.datetime) -> dict[str, Any]:
    """What the e-mail says, all of it from the stored case and the reminders actually planned for it.

    The dates are the case's deadlines still ahead, as its page lists them, each with the days it is reminded of.
    """
    assessment = case.assessment or {}
    plan = letter_plan_for_case(case)
    platform = platform_for(case.billing_channel.value)
    zone = ZoneInfo(case.timezone)
    today = now.astimezone(zone).date()
    reminded: dict[tuple[str, dt.date | None], list[dt.date]] = {}
    for reminder in sorted(reminders, key=lambda r: r.due_at):
        reminded.setdefault((reminder.kind, reminder.deadline), []).append(reminder.due_at.astimezone(zone).date())
    dates = []
    for deadline in case_deadlines(case):
        day = dt.date.fromisoformat(deadline["date"])
        if day < today:
            continue
        days = reminded.get((deadline["kind"], day), [])
        dates.append({"kind": deadline["kind"], "label": str(deadline["label"]), "date": _words(day, case),
                      "act_by": _words(deadline["act_by"], case),
                      "reminders": _listed([_words(when, case) for when in days])})
    refund_asked = case.requested_outcome is RequestedOutcome.CANCEL_AND_REFUND
    return {
        "case": case,
        "company": (case.company or {}).get("name") or (assessment.get("provider") or {}).get("name")
        or case.provider_slug,
        "plan_name": (case.company or {}).get("plan_name") or (assessment.get("plan") or {}).get("name") or "",
        "platform": platform,
        "reason": plan.reason or "",
        "steps": [str(s) for s in assessment.get("steps") or [] if s != plan.reason],
        "refund_asked": refund_asked,
        "payment_date": _words(case.payment_date, case) if case.payment_date else "",
        "dates": dates,
        "renewal_known": any(d["kind"] == "renewal" for d in dates),
        "reminders": bool(reminders),
        "status_url": link,
    }
