"""The intake wizard: one question group per page, answers kept in a draft, check your answers.

Each step validates the whole case as the API would and shows only the problems of its own fields,
so the rules live in one place. Works without JavaScript; no case is made before the last step. The answers
so far are a draft on the server (casework.cases.drafts): the browser's cookie holds only its random key.

A subscription Apple or Google bills takes a shorter path: right after the billing answer a page says that no letter
can cancel it and gives the platform's own steps, then only what its dates, the refund's routing and the e-mail with
the case's link need are asked, and no consent to a letter (none is written): pressing "Track my case" on the check
page, which says what that does, is the consumer's go-ahead.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from casework.access import route_rule
from casework.cases.deadlines import most_urgent
from casework.cases.drafts import DRAFT_LIFETIME, DRAFT_SESSION_KEY, discard_draft, find_draft, save_draft
from casework.cases.filing import CaseError, NewCase, assessment_of, fact_columns, facts_letter_plan, file_case
from casework.cases.intake import IntakeErrors, UnknownSlug, countries, parse_case
from casework.cases.models import Case
from casework.cases.platforms import Platform, platform_for
from casework.cases.views import form_to_case_input, region_choices
from casework.catalog import default_catalog
from casework.db import utcnow
from casework.languages import default_language
from casework.letters.plan import LetterPlan
from casework.letters.render import renderer
from casework.letters.snapshot import cancellation_snapshot, delivery_target
from casework.presentation import page_errors
from casework.regions import region_name
from casework.runtime import runtime_of
from casework.web import count_filing, db, filing_limit, limiter, wait_in_words

bp = Blueprint("wizard", __name__, url_prefix="/start")
COOKIE_ANSWERS_KEY = "intake"  # where the cookie once held the answers themselves; emptied on sight
# The letter preview renders in the web process, so it is bounded: per client (the limiter, by address), per
# wizard session (the times of its previews in the last hour) and to one render at a time in each process.
PREVIEW_LIMIT = "10 per hour"
PREVIEWS_PER_SESSION = 5
PREVIEWS_KEY = "intake_previews"
PREVIEW_BUSY_SECONDS = 5
_preview_lock = threading.Lock()

# Each step: the form fields it asks, and the validator paths whose problems it shows.
STEPS: dict[str, tuple[str, ...]] = {
    "company": ("provider", "company.name", "company.email", "company.web_form_url", "company.postal_address"),
    "plan": ("plan", "billing_channel", "company.plan_name", "company.trial_days", "company.refund_window_days"),
    "dates": ("country", "region", "payment_date", "trial_start_date", "subscription_start_date",
              "subscription_start_unknown", "amount.value", "amount.currency", "certificate_earned"),
    "outcome": ("requested_outcome",),
    "details": ("consumer.name", "consumer.email", "consumer.postal_address", "account_identifier", "details",
                "language", "consent.send_in_my_name"),
}
ORDER = [*STEPS, "check"]
APP_STORES = ("apple_app_store", "google_play")
PLATFORM_PAGE = "app-store"  # after the plan on the app-store path: what a letter cannot do, and the platform's steps
# The app-store path asks only what its dates, the refund's routing and the e-mail need; no postal address, account
# or consent to a letter, none of which serves a case without a letter.
APP_STORE_STEPS: dict[str, tuple[str, ...]] = {
    "company": STEPS["company"],
    "plan": STEPS["plan"],
    "dates": ("country", "region", "payment_date", "trial_start_date", "next_renewal_date"),
    "outcome": ("requested_outcome",),
    "details": ("consumer.name", "consumer.email", "details", "language"),
}
APP_STORE_ORDER = ["company", "plan", PLATFORM_PAGE, *list(APP_STORE_STEPS)[2:], "check"]
CHECKBOXES = ("certificate_earned", "consent.send_in_my_name", "subscription_start_unknown")
# Stand-ins for the details step's answers, so the letter plan is known on that step (its consent depends on it).
DETAILS_STAND_INS = {"consumer.name": "-", "consumer.email": "stand-in@example.com", "consumer.postal_address": "",
                     "account_identifier": "", "details": "", "consent.send_in_my_name": "yes"}


def draft_hours() -> int:
    return DRAFT_LIFETIME // dt.timedelta(hours=1)


@bp.before_request
def _load_draft() -> None:
    """This browser's draft, once per request. A cookie set before drafts existed may still carry answers: they
    leave it here. A key whose draft has ended leaves too, and the page says why the answers are gone."""
    session.pop(COOKIE_ANSWERS_KEY, None)
    key = session.get(DRAFT_SESSION_KEY)
    g.wizard_draft = find_draft(db(), key, utcnow()) if key is not None else None
    if key is not None and g.wizard_draft is None:
        del session[DRAFT_SESSION_KEY]
        flash(f"Your answers were deleted {draft_hours()} hours after your last change, as they always are when "
              "they are not sent. Please start again.")


def answers() -> dict[str, str]:
    """This browser's answers so far (none without a draft, or once it has expired)."""
    draft = g.get("wizard_draft")
    return dict(draft.answers) if draft is not None else {}


def app_store(values: dict[str, str]) -> bool:
    """Apple or Google bills it: the company cannot cancel it, so no letter is written (casework.letters.plan)."""
    return values.get("billing_channel") in APP_STORES


def steps_of(values: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """The questions of the path these answers take."""
    return APP_STORE_STEPS if app_store(values) else STEPS


def order_of(values: dict[str, str]) -> list[str]:
    """The pages of that path, in order, the check page last."""
    return APP_STORE_ORDER if app_store(values) else ORDER


def asked(values: dict[str, str]) -> dict[str, str]:
    """Only the answers the path asks: an answer given on the other path before the billing answer changed is left
    out. The app-store path asks no consent to a letter (none is written); filing it is its go-ahead."""
    fields = {field for group in steps_of(values).values() for field in group}
    kept = {name: value for name, value in values.items() if name in fields}
    if app_store(values):
        kept["consent.send_in_my_name"] = "yes"
    return kept


def _problems(values: dict[str, str]) -> tuple[NewCase | None, dict[str, str]]:
    try:
        return parse_case(form_to_case_input(asked(values)), utcnow()), {}
    except IntakeErrors as errors:
        return None, dict(errors.fields)  # every problem, the later stages' rules too
    except UnknownSlug as error:
        return None, {"provider" if error.what == "provider" else "plan": "choose one from the list"}


def _step_errors(step: str, problems: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    fields = steps_of(values)[step]
    mine = {path: why for path, why in problems.items() if path in fields or path.split(".")[0] in fields}
    if step == "company" and "company" in problems:
        mine["provider"] = problems["company"]
    return mine


def _first_incomplete(values: dict[str, str]) -> str:
    _, problems = _problems(values)
    for step in steps_of(values):
        if _step_errors(step, problems, values):
            return step
    return "check"


def _plan_so_far(values: dict[str, str]) -> LetterPlan | None:
    """The letter plan once the steps before the details are answered (None until they all are)."""
    facts, _ = _problems({**values, **DETAILS_STAND_INS})
    return None if facts is None else facts_letter_plan(facts, assessment_of(facts, utcnow()))


def certificate_asked(values: dict[str, str]) -> bool:
    """Whether the chosen plan's refund is one a certificate earned since the payment voids (asked only then)."""
    provider = default_catalog().get(values.get("provider", ""))
    plan = provider.plan(values.get("plan", "")) if provider else None
    return plan is not None and plan.refund.certificate_voids


RETURN_TO_CHECK: dict[str, Any] = {"return": "check"}


def _returning() -> bool:
    """Sent from checking the answers by a "Change" link: saving the step goes straight back there."""
    return request.args.get("return") == "check"


def _back(step: str, values: dict[str, str]) -> str:
    order = order_of(values)
    if _returning():
        return url_for("wizard.step", name="check")
    return url_for("wizard.step", name=order[order.index(step) - 1]) if order.index(step) else url_for("wizard.start")


def _render(step: str, values: dict[str, str], errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    catalog = default_catalog()
    provider = catalog.get(values.get("provider", ""))
    order = order_of(values)
    return render_template(
        f"wizard/{step}.html", step=step, number=order.index(step) + 1, total=len(order), values=values,
        errors=page_errors(errors, values), providers=catalog.for_choice(), provider=provider,
        letter_plan=_plan_so_far(values) if step == "details" else None,
        countries=sorted(countries().items(), key=lambda item: item[1]), regions=region_choices(),
        back=_back(step, values), returning=_returning(), certificate_asked=certificate_asked(values),
        platform=_platform(values), language_default=default_language(values.get("country")),
    ), status


def _platform(values: dict[str, str]) -> Platform | None:
    """Apple or Google where they bill it (the short path), else None."""
    return platform_for(values.get("billing_channel", "")) if app_store(values) else None


@bp.get("")
@route_rule("anonymous")
def start() -> ResponseReturnValue:
    """The start page: what you need, how long it takes and what happens; "Start now" leads to the first question."""
    values = answers()
    resume = _first_incomplete(values) if values else None
    return render_template("wizard/start.html", first=url_for("wizard.step", name=ORDER[0]),
                           resume=url_for("wizard.step", name=resume) if resume else None,
                           draft_hours=draft_hours())


@bp.get("/<name>")
@route_rule("anonymous")
def step(name: str) -> ResponseReturnValue:
    values = answers()
    if name == PLATFORM_PAGE and not app_store(values):  # not (or no longer) billed by an app store
        return redirect(url_for("wizard.step", name=_first_incomplete(values)))
    if name not in order_of(values):
        abort(404)
    if name == "check":
        return _check_page(values)
    if name == PLATFORM_PAGE:
        return _platform_page(values)
    # Sent back from checking the answers: show what is still wrong here.
    errors = _step_errors(name, _problems(values)[1], values) if request.args.get("review") else {}
    return _render(name, values, errors)


def _platform_page(values: dict[str, str]) -> ResponseReturnValue:
    """Before anything else is asked: no letter can cancel what Apple or Google bills, what we do and do not do
    for it, and the platform's own steps. It asks nothing; "Continue" goes on (or back to check)."""
    order = order_of(values)
    provider = default_catalog().get(values.get("provider", ""))
    company = values.get("company.name") or (provider.name if provider is not None else "the company")
    following = "check" if _returning() else order[order.index(PLATFORM_PAGE) + 1]
    return render_template("wizard/app_store.html", step=PLATFORM_PAGE, number=order.index(PLATFORM_PAGE) + 1,
                           total=len(order), platform=_platform(values), company=company,
                           back=_back(PLATFORM_PAGE, values), following=url_for("wizard.step", name=following),
                           change=url_for("wizard.step", name="plan", **(RETURN_TO_CHECK if _returning() else {})))


@bp.post("/<name>")
@route_rule("anonymous")
@limiter.limit("120 per hour", methods=["POST"])
def save(name: str) -> ResponseReturnValue:
    if name not in STEPS:
        abort(404)
    values = answers()
    was_app_store = app_store(values)
    for field in steps_of(values)[name]:
        if field in CHECKBOXES:
            values[field] = "yes" if request.form.get(field) == "yes" else ""
        else:
            values[field] = request.form.get(field, "").strip()[:5000]
    if values.get("subscription_start_unknown") == "yes":
        values["subscription_start_date"] = ""  # "I don't know" clears a date typed before
    if name == "company" and values.get("provider") != "other":
        for field in ("company.name", "company.email", "company.web_form_url", "company.postal_address"):
            values.pop(field, None)
    _, problems = _problems(values)
    errors = _step_errors(name, problems, values)
    if errors:
        return _render(name, values, errors, 422)  # the page shows what was typed; the draft stays as it was
    session_db = db()
    session[DRAFT_SESSION_KEY] = save_draft(session_db, session.get(DRAFT_SESSION_KEY), values, utcnow())
    session_db.commit()
    if name == "plan" and app_store(values) != was_app_store:
        # The other path from here on: the app-store page first, or the dates a letter needs.
        following = PLATFORM_PAGE if app_store(values) else "dates"
        return redirect(url_for("wizard.step", name=following, **(RETURN_TO_CHECK if _returning() else {})), 303)
    if _returning():
        return redirect(url_for("wizard.step", name="check"), 303)
    order = order_of(values)
    return redirect(url_for("wizard.step", name=order[order.index(name) + 1]), 303)


def _check_page(values: dict[str, str], status: int = 200, wait: str = "") -> ResponseReturnValue:
    if not values:  # nothing answered yet (or the draft has ended): the start page
        return redirect(url_for("wizard.start"), 303 if request.method == "POST" else 302)
    facts, _ = _problems(values)
    if facts is None:  # what is still wrong, then back here
        return redirect(url_for("wizard.step", name=_first_incomplete(values), review=1, **RETURN_TO_CHECK))
    assessment = assessment_of(facts, utcnow())
    plan = facts_letter_plan(facts, assessment)
    provider = default_catalog().get(facts.provider)
    channel = delivery_target(_unsaved_case(facts, assessment), provider)[0] if plan.letter and provider else ""
    order = order_of(values)
    return render_template("wizard/check.html", step="check", number=len(order), total=len(order), values=values,
                           facts=facts, assessment=assessment, back=url_for("wizard.step", name="details"),
                           platform=_platform(values), provider=provider, place=place_name(facts),
                           letter_plan=plan, channel=channel, wait=wait,
                           urgent=most_urgent(assessment, dt.date.fromisoformat(assessment["today"])),
                           certificate_asked=certificate_asked(values),
                           previews_per_session=PREVIEWS_PER_SESSION), status


def _check_page_to_wait(seconds: int) -> ResponseReturnValue:
    """Over the filing limit: the answers as they are, and when they can be sent again."""
    return _check_page(answers(), 429, wait=wait_in_words(seconds))


def place_name(facts: NewCase) -> str:
    """Where the consumer lives, in words: "California, United States", or the country's English name alone."""
    country = countries().get(facts.country, facts.country)
    region = region_name(facts.region)
    return f"{region}, {country}" if region else country


@bp.get("/preview.pdf")
@route_rule("anonymous")
@limiter.limit(PREVIEW_LIMIT)
def preview() -> ResponseReturnValue:
    """The exact letter the answers would make, rendered now and stored nowhere.

    Rendered here, not by the worker: the answers are not filed yet, and a job row would keep the person's name,
    address and account before they chose to send anything. So the render is bounded instead: only complete
    answers that make a letter, a few per wizard session and per client, and one at a time in each web process
    (a busy process answers at once rather than making a request wait).
    """
    facts, _ = _problems(answers())
    assessment = assessment_of(facts, utcnow()) if facts is not None else {}
    if facts is None or not facts_letter_plan(facts, assessment).letter:
        abort(404)
    now = utcnow().timestamp()
    recent = [t for t in session.get(PREVIEWS_KEY, []) if isinstance(t, int | float) and 0 <= now - t < 3600]
    if len(recent) >= PREVIEWS_PER_SESSION:
        wait = max(int(min(recent) + 3600 - now) + 1, 1)
        return _preview_refused(429, wait, f"You have opened the preview {PREVIEWS_PER_SESSION} times in the last "
                                f"hour. Try again in {wait_in_words(wait)}, or file the case: the letter comes "
                                "by e-mail to confirm before anything is sent in your name.")
    if not _preview_lock.acquire(blocking=False):
        return _preview_refused(503, PREVIEW_BUSY_SECONDS, "Another preview is being made right now. Try again in "
                                "a few seconds.")
    try:
        case = _unsaved_case(facts, assessment)
        pdf = renderer().render("cancellation", cancellation_snapshot(case, 1, utcnow())).pdf
    finally:
        _preview_lock.release()
    session[PREVIEWS_KEY] = [*recent, now]
    return pdf, 200, {"Content-Type": "application/pdf", "Content-Disposition": 'inline; filename="preview.pdf"'}


def _preview_refused(status: int, wait: int, message: str) -> ResponseReturnValue:
    page = render_template("wizard/preview_refused.html", message=message, back=url_for("wizard.step", name="check"))
    return page, status, {"Retry-After": str(wait)}


def _unsaved_case(facts: NewCase, assessment: dict[str, Any]) -> Case:
    """The case filing would make, with its assessment (the letter asks for a refund only where that allows)."""
    provider = default_catalog().get(facts.provider)
    policy_version = provider.policy_version if provider else ""
    return Case(reference="(preview)", **fact_columns(facts, policy_version), assessment=assessment)


@bp.post("/check")
@route_rule("anonymous")
@filing_limit(_check_page_to_wait)
def submit() -> ResponseReturnValue:
    values = answers()
    if not values:  # nothing answered yet (or the draft has ended, or was filed): the start page
        return redirect(url_for("wizard.start"), 303)
    facts, _ = _problems(values)
    if facts is None:
        return redirect(url_for("wizard.step", name=_first_incomplete(values), review=1), 303)
    db_session = db()
    try:
        filed = file_case(db_session, facts, runtime_of().settings.secret_key, settings=runtime_of().settings)
    except CaseError:
        db_session.rollback()
        return redirect(url_for("wizard.step", name=_first_incomplete(values), review=1), 303)
    discard_draft(db_session, session.get(DRAFT_SESSION_KEY))  # gone with the filing, in its transaction
    db_session.commit()
    count_filing()
    session.pop(DRAFT_SESSION_KEY, None)
    return redirect(url_for("consumer.status", token=filed.access_token), 303)
