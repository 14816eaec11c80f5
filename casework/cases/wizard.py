"""The intake wizard: one question group per page, answers kept in the session, check your answers.

Each step validates the whole case as the API would and shows only the problems of its own fields,
so the rules live in one place. Works without JavaScript; nothing is saved before the last step.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from casework.access import route_rule
from casework.cases.deadlines import most_urgent
from casework.cases.filing import CaseError, NewCase, assessment_of, fact_columns, facts_letter_plan, file_case
from casework.cases.intake import IntakeErrors, UnknownSlug, countries, parse_case
from casework.cases.models import Case
from casework.cases.views import form_to_case_input, region_choices
from casework.catalog import default_catalog
from casework.db import utcnow
from casework.letters.plan import LetterPlan
from casework.letters.render import renderer
from casework.letters.snapshot import cancellation_snapshot
from casework.presentation import page_errors
from casework.regions import region_name
from casework.runtime import runtime_of
from casework.web import count_filing, db, filing_limit, limiter, wait_in_words

bp = Blueprint("wizard", __name__, url_prefix="/start")
SESSION_KEY = "intake"

# Each step: the form fields it asks, and the validator paths whose problems it shows.
STEPS: dict[str, tuple[str, ...]] = {
    "company": ("provider", "company.name", "company.email", "company.web_form_url", "company.postal_address"),
    "plan": ("plan", "billing_channel", "company.plan_name", "company.trial_days", "company.refund_window_days"),
    "dates": ("country", "region", "payment_date", "trial_start_date", "subscription_start_date",
              "subscription_start_unknown", "amount.value", "amount.currency", "certificate_earned"),
    "outcome": ("requested_outcome",),
    "details": ("consumer.name", "consumer.email", "consumer.postal_address", "account_identifier", "details",
                "consent.send_in_my_name"),
}
ORDER = [*STEPS, "check"]
CHECKBOXES = ("certificate_earned", "consent.send_in_my_name", "subscription_start_unknown")
# Stand-ins for the details step's answers, so the letter plan is known on that step (its consent depends on it).
DETAILS_STAND_INS = {"consumer.name": "-", "consumer.email": "stand-in@example.com", "consumer.postal_address": "",
                     "account_identifier": "", "details": "", "consent.send_in_my_name": "yes"}


def answers() -> dict[str, str]:
    stored: dict[str, str] = session.get(SESSION_KEY, {})
    return dict(stored)


def _problems(values: dict[str, str]) -> tuple[NewCase | None, dict[str, str]]:
    try:
        return parse_case(form_to_case_input(values), utcnow()), {}
    except IntakeErrors as errors:
        return None, dict(errors.fields)  # every problem, the later stages' rules too
    except UnknownSlug as error:
        return None, {"provider" if error.what == "provider" else "plan": "choose one from the list"}


def _step_errors(step: str, problems: dict[str, str]) -> dict[str, str]:
    fields = STEPS[step]
    mine = {path: why for path, why in problems.items() if path in fields or path.split(".")[0] in fields}
    if step == "company" and "company" in problems:
        mine["provider"] = problems["company"]
    return mine


def _first_incomplete(values: dict[str, str]) -> str:
    _, problems = _problems(values)
    for step in STEPS:
        if _step_errors(step, problems):
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


def _render(step: str, values: dict[str, str], errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    catalog = default_catalog()
    provider = catalog.get(values.get("provider", ""))
    returning = _returning()
    back = url_for("wizard.step", name="check") if returning else (
        url_for("wizard.step", name=ORDER[ORDER.index(step) - 1]) if ORDER.index(step) else url_for("wizard.start"))
    return render_template(
        f"wizard/{step}.html", step=step, number=ORDER.index(step) + 1, total=len(ORDER), values=values,
        errors=page_errors(errors, values), providers=list(catalog.providers.values()), provider=provider,
        letter_plan=_plan_so_far(values) if step == "details" else None,
        countries=sorted(countries().items(), key=lambda item: item[1]), regions=region_choices(),
        back=back, returning=returning, certificate_asked=certificate_asked(values),
    ), status


@bp.get("")
@route_rule("anonymous")
def start() -> ResponseReturnValue:
    """The start page: what you need, how long it takes and what happens; "Start now" leads to the first question."""
    values = answers()
    resume = _first_incomplete(values) if values else None
    return render_template("wizard/start.html", first=url_for("wizard.step", name=ORDER[0]),
                           resume=url_for("wizard.step", name=resume) if resume else None)


@bp.get("/<name>")
@route_rule("anonymous")
def step(name: str) -> ResponseReturnValue:
    if name not in ORDER:
        abort(404)
    values = answers()
    if name == "check":
        return _check_page(values)
    # Sent back from checking the answers: show what is still wrong here.
    errors = _step_errors(name, _problems(values)[1]) if request.args.get("review") else {}
    return _render(name, values, errors)


@bp.post("/<name>")
@route_rule("anonymous")
@limiter.limit("120 per hour", methods=["POST"])
def save(name: str) -> ResponseReturnValue:
    if name not in STEPS:
        abort(404)
    values = answers()
    for field in STEPS[name]:
        if field in CHECKBOXES:
            values[field] = "yes" if request.form.get(field) == "yes" else ""
        else:
            values[field] = request.form.get(field, "").strip()[:5000]
    if values.get("subscription_start_unknown") == "yes":
        values["subscription_start_date"] = ""  # "I don't know" clears a date typed before
    if name == "company" and values.get("provider") != "other":
        for field in ("company.name", "company.email", "company.web_form_url", "company.postal_address"):
            values.pop(field, None)
    session[SESSION_KEY] = values
    _, problems = _problems(values)
    errors = _step_errors(name, problems)
    if errors:
        return _render(name, values, errors, 422)
    if _returning():
        return redirect(url_for("wizard.step", name="check"), 303)
    if name == "plan" and values.get("billing_channel") in ("apple_app_store", "google_play"):
        return redirect(url_for("wizard.step", name="dates"), 303)
    return redirect(url_for("wizard.step", name=ORDER[ORDER.index(name) + 1]), 303)


def _check_page(values: dict[str, str], status: int = 200, wait: str = "") -> ResponseReturnValue:
    facts, _ = _problems(values)
    if facts is None:  # what is still wrong, then back here
        return redirect(url_for("wizard.step", name=_first_incomplete(values), review=1, **RETURN_TO_CHECK))
    assessment = assessment_of(facts, utcnow())
    return render_template("wizard/check.html", step="check", number=len(ORDER), total=len(ORDER), values=values,
                           facts=facts, assessment=assessment, back=url_for("wizard.step", name="details"),
                           provider=default_catalog().get(facts.provider), place=place_name(facts),
                           letter_plan=facts_letter_plan(facts, assessment), wait=wait,
                           urgent=most_urgent(assessment, dt.date.fromisoformat(assessment["today"])),
                           certificate_asked=certificate_asked(values)), status


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
@limiter.limit("20 per hour")
def preview() -> ResponseReturnValue:
    """The exact letter the answers would make, rendered now and stored nowhere."""
    facts, _ = _problems(answers())
    assessment = assessment_of(facts, utcnow()) if facts is not None else {}
    if facts is None or not facts_letter_plan(facts, assessment).letter:
        abort(404)
    case = _unsaved_case(facts, assessment)
    pdf = renderer().render("cancellation", cancellation_snapshot(case, 1, utcnow())).pdf
    return pdf, 200, {"Content-Type": "application/pdf", "Content-Disposition": 'inline; filename="preview.pdf"'}


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
    facts, _ = _problems(values)
    if facts is None:
        return redirect(url_for("wizard.step", name=_first_incomplete(values), review=1), 303)
    db_session = db()
    try:
        filed = file_case(db_session, facts, runtime_of().settings.secret_key, settings=runtime_of().settings)
    except CaseError:
        db_session.rollback()
        return redirect(url_for("wizard.step", name=_first_incomplete(values), review=1), 303)
    db_session.commit()
    count_filing()
    session.pop(SESSION_KEY, None)
    return redirect(url_for("consumer.status", token=filed.access_token), 303)
