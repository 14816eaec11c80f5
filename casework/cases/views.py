"""Consumer pages: the filing form, the private status page, confirmation, delivery, withdrawal."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from limits import parse
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer
from werkzeug.datastructures import MultiDict

from casework.access import route_rule
from casework.assess import consumer_today
from casework.cases import clock, entered_dates
from casework.cases.answers import (
    ANSWERABLE,
    RESPONSE_TYPES,
    UPLOAD_REQUEST_MAX,
    FormErrors,
    Upload,
    info_request,
    parse_answer,
    parse_info,
    parse_refund,
    provide_info,
    record_answer,
    record_refund,
)
from casework.cases.confirmation import CodeRefused, ever_confirmed
from casework.cases.deadlines import most_urgent
from casework.cases.delivery import TRACKING_MAX, delivery_channel, paste_text
from casework.cases.filing import CaseError, file_case
from casework.cases.intake import IntakeErrors, UnknownSlug, countries, parse_case
from casework.cases.limits import CaseFull, Held
from casework.cases.link_pages import found_or_404, link_case, live_link
from casework.cases.models import Case, CaseAttachment, CaseEvent, CompanyResponse, Delivery
from casework.cases.platforms import PLATFORMS
from casework.cases.progress import progress_of
from casework.cases.schemas import normalised_email
from casework.cases.states import INTERNAL_ACTIONS, Actor
from casework.cases.tokens import LinkState, issue_token
from casework.cases.tracking import tracking_email
from casework.cases.transitions import CaseConflict
from casework.cases.workflow import (
    awaiting_approval,
    confirm,
    confirm_button,
    confirm_cancelled,
    confirms_address_alone,
    record_submission,
    resend_confirmation,
    send_links,
    sign_out_everywhere,
    withdraw,
)
from casework.catalog import default_catalog
from casework.consumer_help import help_lines
from casework.db import utcnow
from casework.letters.models import Letter
from casework.letters.plan import letter_plan_for_case
from casework.letters.services import latest_letter
from casework.mail.models import OutboundEmail
from casework.presentation import ANSWER_MEANING, UNSETTLED_ANSWERS, page_errors
from casework.regions import REGIONS, regions_of, zone_for_region
from casework.runtime import runtime_of
from casework.web import (
    CounterStoreDown,
    checks_secret,
    count_filing,
    db,
    filing_limit,
    limiter,
    too_large_page,
    wait_in_words,
)

bp = Blueprint("consumer", __name__)

CHECKBOXES = ("consent.send_in_my_name", "certificate_earned", "subscription_start_unknown")
# Where the answer form shows that the case holds all the answers or files it may (casework.cases.limits).
ANSWER_FIELDS: dict[Held, str] = {"answers": "answer.summary", "files": "answer.file"}


def form_to_case_input(form: Mapping[str, str]) -> dict[str, Any]:
    """The form's flat, dotted field names → the nested shape the validator (and the API) use.

    The single-page form picks ``plan`` as ``provider:plan``; the wizard asks ``provider`` and ``plan`` apart.
    """
    if "provider" in form:
        provider, plan = form.get("provider", ""), form.get("plan", "")
    else:
        provider, _, plan = form.get("plan", "").partition(":")
    data: dict[str, Any] = {}
    if form.get("billing_channel"):
        data["billing_channel"] = form["billing_channel"]  # no answer is assumed: the pages ask who bills you
    if provider:
        data["provider"] = provider
    if plan:
        data["plan"] = plan
    for name, value in form.items():
        if name in ("plan", "provider", "billing_channel", "csrf_token") or name in CHECKBOXES:
            continue
        if name.startswith("company.") and provider != "other":
            continue
        if not value.strip():
            continue
        node = data
        *parents, leaf = name.split(".")
        for parent in parents:
            child = node.setdefault(parent, {})
            if not isinstance(child, dict):
                break  # a field named like a group ("consumer"): the validator refuses it
            node = child
        else:
            node[leaf] = value
    if form.get("subscription_start_unknown") == "yes":
        data.pop("subscription_start_date", None)  # "I don't know" wins over a date typed beside it
    data.setdefault("consumer", {})  # left empty, its fields are each named as missing, not the group
    _region_and_zone(data)
    data["consent"] = {"send_in_my_name": form.get("consent.send_in_my_name") == "yes"}
    data["certificate_earned"] = form.get("certificate_earned") == "yes"
    if provider == "other":
        data.setdefault("company", {})
        for key in ("trial_days", "refund_window_days"):
            raw = data["company"].get(key)
            if raw is not None:
                data["company"][key] = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else raw
    return data


def _region_and_zone(data: dict[str, Any]) -> None:
    """The region is asked only where it matters; a region of the country gives the zone when none was given."""
    region = data.get("region")
    if not isinstance(region, str):
        return
    offered = regions_of(str(data.get("country", "")))
    if not offered:
        del data["region"]  # an answer left over from another country, its question no longer asked
        return
    data["region"] = region = region.strip().upper()
    zone = zone_for_region(region)
    if region in offered and zone is not None:
        data.setdefault("timezone", zone)


def region_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The region select's groups: each asked country's English name with its regions, by name."""
    names = countries()
    return [(names[country], sorted(regions.items(), key=lambda item: item[1]))
            for country, regions in sorted(REGIONS.items(), key=lambda item: names[item[0]])]


def _form_page(values: MultiDict[str, str], errors: dict[str, str], status: int = 200,
               wait: str = "") -> ResponseReturnValue:
    catalog = default_catalog()
    return render_template(
        "cases/file.html", values=values, errors=page_errors(errors, values),
        providers=catalog.for_choice(), countries=sorted(countries().items(), key=lambda item: item[1]),
        regions=region_choices(), wait=wait,
    ), status


def _form_page_to_wait(seconds: int) -> ResponseReturnValue:
    """Over the filing limit: the form as it was sent, and when it can be sent again."""
    return _form_page(request.form, {}, 429, wait=wait_in_words(seconds))


@bp.get("/")
@route_rule("anonymous")
def file_form() -> ResponseReturnValue:
    return _form_page(MultiDict(), {})


@bp.post("/")
@route_rule("anonymous")
@filing_limit(_form_page_to_wait)
def file_submit() -> ResponseReturnValue:
    runtime = runtime_of()
    values = request.form
    try:
        facts = parse_case(form_to_case_input(values), utcnow())
        session = db()
        filed = file_case(session, facts, runtime.settings.secret_key, settings=runtime.settings)
        session.commit()
        count_filing()
    except IntakeErrors as errors:
        return _form_page(values, _form_fields(errors.fields), 422)
    except UnknownSlug:
        return _form_page(values, {"plan": "Choose a company and plan from the list."}, 422)
    except CaseError as error:
        return _form_page(values, _form_fields(error.fields) or {"plan": str(error)}, 422)
    if filed.letter_plan.letter:
        flash("Your case is filed. We are preparing your letter and will e-mail it to you to confirm.")
    else:
        flash("Your case is filed. No letter is written for it: this page says why, and what you can do.")
    return redirect(url_for("consumer.status", token=filed.access_token), 303)


def _form_fields(fields: dict[str, str]) -> dict[str, str]:
    """Validator paths → form fields (the form picks provider and plan in one list)."""
    mapped: dict[str, str] = {}
    for path, why in fields.items():
        mapped.setdefault("plan" if path in ("provider", "plan", "company") else path, why)
    return mapped


def _case_or_404(token: str) -> Case:
    return link_case(token)


def _status_page(case: Case, token: str, errors: dict[str, str] | None = None,
                 status: int = 200, values: Mapping[str, str] | None = None) -> ResponseReturnValue:
    session = db()
    # First, so that a change landing while the page is drawn makes the fingerprint stale, never the page.
    progress = progress_of(session, runtime_of().settings, case)
    letter = latest_letter(session, case.id)
    letters = list(session.scalars(select(Letter).where(Letter.case_id == case.id, Letter.status == "rendered")
                                   .order_by(Letter.id)))
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                          CaseEvent.action.not_in(INTERNAL_ACTIONS))
                                  .order_by(CaseEvent.id)))
    deliveries = list(session.scalars(select(Delivery).where(Delivery.case_id == case.id).order_by(Delivery.id)))
    channel = delivery_channel(letter) if letter is not None else None
    to_submit = clock.awaiting_submission(session, case)
    provider = default_catalog().get(case.provider_slug)
    channel_note = ""
    if provider is not None and channel is not None:
        catalog_channel = provider.channel(channel[0])
        channel_note = catalog_channel.note if catalog_channel else ""
    failed_emails = list(session.scalars(select(OutboundEmail).where(
        OutboundEmail.case_id == case.id, OutboundEmail.status == "failed").order_by(OutboundEmail.id)))
    delivered = [e for e in events if e.action == "delivered" and e.data.get("answer_due")]
    responses = list(session.scalars(select(CompanyResponse).where(CompanyResponse.case_id == case.id)
                                     .order_by(CompanyResponse.id)))
    attachments = list(session.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case.id)
                                       .order_by(CaseAttachment.id)))
    merged_into = session.get(Case, case.merged_into_id) if case.merged_into_id is not None else None
    today = consumer_today(utcnow(), case.timezone)
    answer = responses[-1] if responses and case.status in ANSWERABLE else None
    return render_template(
        "cases/status.html", case=case, token=token, letter=letter, letters=letters, events=events,
        deliveries=deliveries, channel=channel, channel_note=channel_note, failed_emails=failed_emails,
        to_submit=to_submit, to_submit_channel=delivery_channel(to_submit) if to_submit is not None else None,
        awaiting_approval=awaiting_approval(runtime_of().settings, case),
        answer_due=delivered[-1].data["answer_due"] if delivered else None,
        paste_text=paste_text(case, letter) if letter is not None and letter.status == "rendered" else "",
        zone=ZoneInfo(case.timezone), today=today.isoformat(), urgent=most_urgent(case.assessment, today),
        button=confirm_button(channel[0] if channel else "email"), answer=answer,
        answer_meaning=ANSWER_MEANING, unsettled=UNSETTLED_ANSWERS, help_lines=help_lines(case.country, case.region),
        platform=PLATFORMS.get(case.billing_channel.value),
        errors=errors or {}, values=values or {}, responses=responses, attachments=attachments,
        response_types=RESPONSE_TYPES, info_request=info_request(events),
        merged_into=merged_into.reference if merged_into is not None else None,
        address_alone=confirms_address_alone(case), may_expire=not ever_confirmed(session, case.id),
        letter_plan=letter_plan_for_case(case), link_email=tracking_email(session, case.id), progress=progress,
    ), status


@bp.get("/c/<token>")
@route_rule("consumer")
@limiter.limit("120 per minute")
def status(token: str) -> ResponseReturnValue:
    return _status_page(_case_or_404(token), token)


@bp.get("/c/<token>/progress")
@route_rule("consumer")
@limiter.limit("60 per minute")
def progress(token: str) -> ResponseReturnValue:
    """Asked every few seconds by the case page while it waits on the worker: has what the page shows changed?

    A case whose details are deleted answers too (its fingerprint changes), so the page refreshes into saying so.
    """
    found = found_or_404(token)
    if found.state not in (LinkState.LIVE, LinkState.ERASED):
        abort(404)  # the page itself says why, once reloaded
    state = progress_of(db(), runtime_of().settings, found.case)
    response = jsonify(version=state.version, pending=state.pending)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/c/<token>/confirm")
@route_rule("consumer")
@limiter.limit("60 per minute")
def confirm_page(token: str) -> ResponseReturnValue:
    """Shows the letter and the button. Opening this page (as mail scanners do) confirms nothing."""
    case = _case_or_404(token)
    letter = latest_letter(db(), case.id)
    return _confirm_page(case, token, letter, request.args.get("code", ""), None)


def _confirm_page(case: Case, token: str, letter: Letter | None, code: str, error: str | None,
                  status: int = 200) -> ResponseReturnValue:
    """The letter, who sends it by which channel (and by when, if the consumer does), and the button."""
    channel = delivery_channel(letter)[0] if letter is not None and letter.status == "rendered" else "email"
    urgent = most_urgent(case.assessment, consumer_today(utcnow(), case.timezone))
    return render_template("cases/confirm.html", case=case, token=token, letter=letter, code=code, error=error,
                           address_only=confirms_address_alone(case),
                           may_expire=not ever_confirmed(db(), case.id), channel=channel,
                           button=confirm_button(channel), act_by=urgent.act_by if urgent else None,
                           approval=runtime_of().settings.require_delivery_approval), status


@bp.post("/c/<token>/confirm")
@route_rule("consumer")
@limiter.limit("10 per 15 minutes")
def confirm_submit(token: str) -> ResponseReturnValue:
    case = _case_or_404(token)
    session = db()
    code = request.form.get("code", "")
    address_alone = confirms_address_alone(case)
    try:
        confirm(session, runtime_of().settings, case, code, utcnow())
    except CodeRefused as refused:
        session.commit()  # the attempt counts
        return _confirm_page(case, token, latest_letter(session, case.id), code, str(refused), 422)
    except CaseConflict as conflict:
        session.rollback()
        flash(str(conflict))
        return redirect(url_for("consumer.status", token=token), 303)
    # The links made before confirmation are revoked (whoever typed the address at filing held one): the browser
    # that confirmed goes on with a link of its own.
    fresh = issue_token(session, case, runtime_of().settings.secret_key)
    session.commit()
    flash("Thank you: your e-mail address is confirmed. Reminders for this case will come to it."
          if address_alone else "Thank you: your e-mail address and your letter are confirmed.")
    flash("This page has a new address: bookmark it. The links sent to you before no longer work; the e-mails we "
          "send from now on carry working ones.")
    return redirect(url_for("consumer.status", token=fresh), 303)


@bp.post("/c/<token>/resend")
@route_rule("consumer")
@limiter.limit("3 per hour")
def resend(token: str) -> ResponseReturnValue:
    case = _case_or_404(token)
    session = db()
    try:
        resend_confirmation(session, runtime_of().settings, case, utcnow())
    except CaseConflict as conflict:
        session.rollback()
        flash(str(conflict))
    else:
        session.commit()
        flash("A new code is on its way to the address you gave.")  # the page names it; the cookie must not
    return redirect(url_for("consumer.status", token=token), 303)


@bp.post("/c/<token>/delivery")
@route_rule("consumer")
@limiter.limit("20 per hour")
def submitted(token: str) -> ResponseReturnValue:
    case = _case_or_404(token)
    session = db()
    now = utcnow()
    errors: dict[str, str] = {}
    at = now
    raw_at = request.form.get("at", "").strip()[:40]
    if raw_at:
        try:
            at = dt.datetime.fromisoformat(raw_at).replace(tzinfo=ZoneInfo(case.timezone)).astimezone(dt.UTC)
        except (ValueError, OverflowError):
            errors["at"] = "Enter the date and time you submitted it, or leave it empty for now."
        else:
            problem = entered_dates.delivery_problem(at, case, now)
            if problem is not None:
                done = "posted" if request.form.get("channel") == "post" else "submitted"
                errors["at"] = entered_dates.delivery_message(problem, f"The time you {done} it")
    confirmation = request.form.get("confirmation", "").strip() or None
    limit = TRACKING_MAX if request.form.get("channel") == "post" else 500
    if confirmation and len(confirmation) > limit:
        errors["confirmation"] = f"At most {limit} characters."
    if not errors:
        try:
            record_submission(session, runtime_of().settings, case, request.form.get("channel", ""), at,
                              confirmation, Actor.CONSUMER, now)
        except CaseConflict as conflict:
            session.rollback()
            flash(str(conflict))
            return redirect(url_for("consumer.status", token=token), 303)
        except CaseError as error:
            errors = {key: str(error) for key in error.fields} or {"channel": str(error)}
    if errors:
        session.rollback()
        return _status_page(case, token, errors, 422, request.form)
    session.commit()
    flash("Recorded: your letter was delivered. The company's answer is now due.")
    return redirect(url_for("consumer.status", token=token), 303)


@bp.post("/c/<token>/withdraw")
@route_rule("consumer")
@limiter.limit("20 per hour")
def withdraw_case(token: str) -> ResponseReturnValue:
    case = _case_or_404(token)
    session = db()
    if request.form.get("sure") != "yes":
        return _status_page(case, token, {"sure": "Tick the box to confirm that you want to withdraw."}, 422)
    try:
        withdraw(session, case, Actor.CONSUMER, utcnow())
    except CaseConflict as conflict:
        session.rollback()
        flash(str(conflict))
    else:
        session.commit()
        flash("Your case is withdrawn. Nothing more will be sent in your name.")
    return redirect(url_for("consumer.status", token=token), 303)


@bp.post("/c/<token>/sign-out")
@route_rule("consumer")
@limiter.limit("3 per hour")
def sign_out(token: str) -> ResponseReturnValue:
    """Sign out of all devices: every link to the case stops working, this one too; a new one is e-mailed to the
    confirmed address. Whoever holds an old link (a shared computer, a forwarded e-mail) loses the case."""
    found = live_link(token)
    session = db()
    try:
        sign_out_everywhere(session, runtime_of().settings, found.case, found.token_id, utcnow())
    except CaseConflict as conflict:
        session.rollback()
        flash(str(conflict))
        return redirect(url_for("consumer.status", token=token), 303)
    session.commit()
    return render_template("cases/signed_out.html", case=found.case)


@bp.get("/c/<token>/letters/<int(max=2147483647):letter_id>.pdf")
@route_rule("consumer")
@limiter.limit("60 per minute")
def letter_pdf(token: str, letter_id: int) -> ResponseReturnValue:
    case = _case_or_404(token)
    letter = db().execute(
        select(Letter).where(Letter.id == letter_id, Letter.case_id == case.id, Letter.status == "rendered")
    ).scalar_one_or_none()
    if letter is None or letter.pdf is None:
        abort(404)
    etag = f'"{letter.sha256}"'
    if request.headers.get("If-None-Match") == etag:
        return "", 304
    filename = f"{case.reference}-{letter.kind}-v{letter.version}.pdf"
    return letter.pdf, 200, {
        "Content-Type": "application/pdf",
        "Content-Disposition": f'inline; filename="{filename}"',
        "ETag": etag,
    }


LINKS_PER_ADDRESS = parse("3 per hour")


def _may_mail(address: str) -> bool:
    """Whether this address may be sent its links again: LINKS_PER_ADDRESS, whoever asks and whether or not it has
    cases. Each e-mail replaces the links sent before (:func:`send_links`); past the allowance nothing is sent and
    nothing else changes: the answer is the usual one (it never says whether the address has cases), and the
    newest links mailed keep working, so asking over and over cannot lock the owner out."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    try:
        return limiter.limiter.hit(LINKS_PER_ADDRESS, "lost-link-address", digest)
    except Exception as error:
        raise CounterStoreDown from error


@bp.get("/lost-link")
@route_rule("anonymous")
def lost_link() -> ResponseReturnValue:
    return render_template("cases/lost_link.html", email="", errors={}, sent=False)


@bp.post("/lost-link")
@route_rule("anonymous")
@checks_secret
@limiter.limit("10 per hour", methods=["POST"])
def lost_link_submit() -> ResponseReturnValue:
    """The answer is the same whether or not the address has cases, and whether or not it was mailed."""
    raw = request.form.get("email", "").strip()[:254]
    try:
        address = normalised_email(raw)
    except ValueError:
        message = ("Enter the e-mail address you filed with, like name@example.com" if raw
                   else "Enter the e-mail address you filed with")
        return render_template("cases/lost_link.html", email=raw, errors={"email": message}, sent=False), 422
    if _may_mail(address):
        session = db()
        send_links(session, runtime_of().settings, address, utcnow())
        session.commit()
    return render_template("cases/lost_link.html", email=address, errors={}, sent=True)


@bp.post("/c/<token>/cancelled")
@route_rule("consumer")
@limiter.limit("20 per hour")
def cancelled_with_app_store(token: str) -> ResponseReturnValue:
    """App-store billing: the consumer cancelled in Apple's or Google's settings."""
    case = _case_or_404(token)
    session = db()
    try:
        confirm_cancelled(session, case, utcnow())
    except CaseConflict as conflict:
        session.rollback()
        flash(str(conflict))
    else:
        session.commit()
        flash("Recorded: you cancelled it with the app store. Tell us if you are charged again.")
    return redirect(url_for("consumer.status", token=token), 303)


UPLOAD_ENDPOINT = "consumer.company_answer"
FILE_TOO_LARGE = ("The file is larger than we accept (at most 5 MB); nothing was saved. Send a smaller copy or a "
                  "screenshot.")


@bp.url_value_preprocessor
def _allow_uploads(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """The answer form may carry a reply file; every other form keeps the app's small request limit.

    This runs before the CSRF check reads the form, so the larger limit applies to that read.
    """
    if endpoint == UPLOAD_ENDPOINT and request.method == "POST":
        request.max_content_length = UPLOAD_REQUEST_MAX


@too_large_page(UPLOAD_ENDPOINT)
def _answer_too_large() -> ResponseReturnValue:
    """The request is over the limit, so its form is never read: the page names the file and saves nothing."""
    token = (request.view_args or {}).get("token", "")
    return _status_page(_case_or_404(token), token, {"answer.file": FILE_TOO_LARGE}, 413)


def _upload() -> Upload | None:
    storage = request.files.get("answer.file")
    if storage is None or (not storage.filename and not storage.content_length):
        return None
    data = storage.stream.read(UPLOAD_REQUEST_MAX)
    if not storage.filename and not data:
        return None
    return Upload(storage.filename or "reply", data)


def _consumer_form(token: str, run: Any, done: str) -> ResponseReturnValue:
    """Check, record, commit; field errors re-render the page with what was typed, saving nothing."""
    case = _case_or_404(token)
    session = db()
    try:
        run(session, case, utcnow())
    except FormErrors as errors:
        session.rollback()
        return _status_page(case, token, errors.fields, 422, request.form)
    except CaseConflict as conflict:
        session.rollback()
        flash(str(conflict))
        return redirect(url_for("consumer.status", token=token), 303)
    session.commit()
    flash(done)
    return redirect(url_for("consumer.status", token=token), 303)


@bp.post("/c/<token>/answer")
@route_rule("consumer")
@limiter.limit("30 per hour")
def company_answer(token: str) -> ResponseReturnValue:
    """What the company said (or a new charge), with an optional reply file checked by its content."""
    def run(session: Session, case: Case, now: dt.datetime) -> None:
        answer = parse_answer(request.form, _upload(), case, now)
        try:
            record_answer(session, case, answer, Actor.CONSUMER, now)
        except CaseFull as full:  # on the field it is about, with what was typed kept
            raise FormErrors(str(full), {ANSWER_FIELDS[full.what]: str(full)}) from None

    return _consumer_form(token, run, "Recorded: thank you for telling us what happened.")


@bp.post("/c/<token>/refund")
@route_rule("consumer")
@limiter.limit("30 per hour")
def refund(token: str) -> ResponseReturnValue:
    def run(session: Session, case: Case, now: dt.datetime) -> None:
        record_refund(session, case, parse_refund(request.form, case, now), Actor.CONSUMER, now)

    return _consumer_form(token, run, "Recorded: your refund.")


@bp.post("/c/<token>/info")
@route_rule("consumer")
@limiter.limit("30 per hour")
def provide_information(token: str) -> ResponseReturnValue:
    def run(session: Session, case: Case, now: dt.datetime) -> None:
        provide_info(session, case, parse_info(request.form), now)

    return _consumer_form(token, run, "Thank you: your answer is with the caseworker.")


@bp.get("/c/<token>/attachments/<int(max=2147483647):attachment_id>")
@route_rule("consumer")
@limiter.limit("60 per minute")
def attachment(token: str, attachment_id: int) -> ResponseReturnValue:
    """A file the consumer added, always as a download of the type its content showed."""
    case = _case_or_404(token)
    row = db().execute(
        select(CaseAttachment).options(undefer(CaseAttachment.data))
        .where(CaseAttachment.id == attachment_id, CaseAttachment.case_id == case.id)
    ).scalar_one_or_none()
    if row is None:
        abort(404)
    return row.data, 200, {
        "Content-Type": row.content_type,
        "Content-Disposition": f'attachment; filename="{row.filename}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
