"""The HTML forms fuzzed through the test client with Hypothesis: the filing form, the intake wizard, "lost
your link", the consumer's forms behind their link, the staff sign-in and the caseworkers' case actions.

Any unicode, very long text, NUL bytes, huge numbers, odd dates, missing, duplicated and unknown fields: never
a 5xx; a refused form saves nothing (every table's row count, and the case's version, are as before) and
shows the page again with its errors and what was typed, HTML-escaped. Bounded and derandomized.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from casework.cases.filing import file_case
from casework.cases.models import Case
from casework.cases.states import CaseStatus, Outcome
from casework.db import metadata, utcnow
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.staff import PASSWORD, signed_in
from tests.support.today import TODAY_ISO, iso_days_ago
from tests.support.web import csrf_token, filing_form
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.storage]

FUZZ = settings(max_examples=25, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])

SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() says yes, int() says no
# Text a person (or a script) might type: any unicode but lone surrogates (a browser cannot send those).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
ODD_DATES = st.sampled_from([
    "0000-00-00", "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "20261120", "2026-W47-5", "+02026-11-20",
    "2026-11-20T25:00", "1e9", "\u0661\u0662\u0663\u0664-\u0661\u0661-\u0662\u0660", "2026-11-20\n",
    "9999-12-31T23:59", "0001-01-01T00:00", "2026-11-20T10:00+14:00", " "])
HUGE_NUMBERS = st.sampled_from([
    "9" * 5000, "1e999999", "-1", "0", "NaN", "Infinity", SUPERSCRIPT_TWO, "\u0661\u0662", "\uff11\uff12", "0.001",
    "99999999999.99", "12,00", "1_000", "0x10", "   7  "])
NASTY = st.one_of(
    TEXT,
    ODD_DATES,
    HUGE_NUMBERS,
    st.integers(1_000, 20_000).map(lambda n: "ü" * n),  # long, and longer than every limit
    st.sampled_from(["<script>alert(1)</script>", "\"' onfocus=x '\"", "&amp;", "{{ 7*7 }}", "\r\n", "\u202e",
                     "a@b", "x@example.com\nBcc: y@example.com", "yes", "me", "other"]),
)


def counts(runtime: Runtime) -> dict[str, int]:
    """Rows in every table: a refused form must leave them as they were."""
    with runtime.engine.connect() as connection:
        return {table.name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
                for table in metadata.sorted_tables}


def version_of(runtime: Runtime, reference: str) -> tuple[int, str]:
    with runtime.sessions() as session:
        case = session.execute(select(Case).where(Case.reference == reference)).scalar_one()
        return case.version, case.status.value


@st.composite
def mangled(draw: st.DrawFn, base: dict[str, str], extra_fields: tuple[str, ...] = ()) -> MultiDict[str, str]:
    """``base`` with some fields given nasty values, some left out, some sent twice, and an unknown one."""
    form: MultiDict[str, str] = MultiDict()
    names = sorted({*base, *extra_fields})
    for name in names:
        what = draw(st.sampled_from(("keep", "keep", "nasty", "nasty", "missing", "twice")), label=name)
        value = base.get(name, "")
        if what == "missing":
            continue
        if what == "nasty":
            value = draw(NASTY, label=name)
        form.add(name, value)
        if what == "twice":
            form.add(name, draw(NASTY, label=name + " again"))
    if form and draw(st.integers(0, 7), label="NUL byte") == 0:  # PostgreSQL cannot store one: a 400
        name = draw(st.sampled_from(sorted(form)), label="NUL in")
        form[name] = form[name] + "\x00"
    if draw(st.booleans(), label="unknown field"):
        form.add(draw(st.sampled_from(["consumer", "amount.value.x", "__class__", "company.", "x" * 300])), "1")
    return form


def has_nul(form: MultiDict[str, str]) -> bool:
    return any("\x00" in value for value in form.values())


def post(client: FlaskClient, url: str, form: MultiDict[str, str], page: str) -> TestResponse:
    limiter.reset()  # the limits are tested elsewhere; here every form must reach its view
    data = MultiDict(form)
    data["csrf_token"] = csrf_token(client, page)
    return client.post(url, data=data)


def assert_answered(response: TestResponse, form: MultiDict[str, str], before: dict[str, int], after: dict[str, int],
                    *, shown: tuple[str, ...] = (), keep: Callable[[str], str] = lambda v: v) -> bool:
    """Never a 5xx; a refusal saves nothing and shows its errors and the first value typed in each ``shown``
    field. True when the form was refused."""
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    if response.status_code < 400:
        return False
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    page = response.get_data(as_text=True)
    if response.status_code in (400, 413):  # a NUL byte or too large a body: malformed, nothing to show again
        assert response.status_code == 413 or has_nul(form)
        return True
    if response.status_code == 404:  # what the form names (an e-mail, a case to merge) is not there
        return True
    if "<h1>Your letter is being prepared</h1>" in page:  # a code for a letter not yet written: try again later
        return True
    assert 'class="error-summary"' in page or 'class="field-error"' in page, page[:3000]
    for name in shown:  # each field the page offers again (a form for another status is not offered)
        if name in form and keep(form[name]) and f'name="{name}"' in page:
            assert str(escape(keep(form[name]))) in page, (name, form[name][:200])
    return True


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


# --- the consumer's forms -----------------------------------------------------------------------------------

FILING_SHOWN = ("consumer.name", "consumer.email", "consumer.postal_address", "account_identifier", "details",
                "amount.value", "amount.currency", "payment_date", "trial_start_date")


@FUZZ
@given(form=mangled(filing_form(details="Cancel it please."),
                    ("trial_start_date", "consumer.phone", "company.name", "company.trial_days", "timezone",
                     "language")))
@example(form=MultiDict({**filing_form(plan="other:other-monthly"), "company.name": "Acme",
                         "company.email": "stop@acme.example", "company.trial_days": SUPERSCRIPT_TWO}))
@example(form=MultiDict({**filing_form(plan="other:other-monthly"), "company.name": "Acme",
                         "company.email": "stop@acme.example", "company.refund_window_days": "9" * 5000}))
@example(form=MultiDict([("consumer", "1"), *filing_form().items()]))  # a field named like a group of fields
def test_the_filing_form_never_fails_and_never_half_files(client: FlaskClient, committed: Runtime,
                                                          form: MultiDict[str, str]) -> None:
    before = counts(committed)
    response = post(client, "/", form, "/")
    after = counts(committed)
    if not assert_answered(response, form, before, after, shown=FILING_SHOWN):
        assert response.status_code == 303
        assert after["cases"] == before["cases"] + 1


WIZARD = {
    "company": {"provider": "coursera"},
    "plan": {"plan": "coursera-plus-annual", "billing_channel": "direct"},
    "dates": {"country": "AU", "payment_date": iso_days_ago(7), "amount.value": "599.00", "amount.currency": "AUD"},
    "outcome": {"requested_outcome": "cancel_and_refund"},
    "details": {"consumer.name": "Jane Q. Consumer", "consumer.email": "jane@example.com",
                "consumer.postal_address": "12 Example Street", "account_identifier": "jane@example.com",
                "consent.send_in_my_name": "yes"},
}
WIZARD_SHOWN = ("company.name", "company.email", "company.web_form_url", "company.postal_address", "company.plan_name",
                "company.trial_days", "company.refund_window_days", "payment_date", "trial_start_date",
                "amount.value", "amount.currency", "consumer.name", "consumer.email", "consumer.postal_address",
                "account_identifier")


@FUZZ
@given(step=st.sampled_from(list(WIZARD)), data=st.data(), provider=st.sampled_from(["coursera", "other"]))
@example(step="plan", data=None, provider="other")
def test_the_wizard_steps_never_fail_and_save_nothing_until_the_end(client: FlaskClient, committed: Runtime,
                                                                     step: str, data: Any, provider: str) -> None:
    for earlier in WIZARD:  # the steps before this one, answered well
        if earlier == step:
            break
        answers = {**WIZARD[earlier], **({"provider": provider, "company.name": "Acme",
                                          "company.email": "stop@acme.example"} if earlier == "company" else {})}
        if earlier == "plan" and provider == "other":
            answers["plan"] = "other-monthly"
        assert post(client, f"/start/{earlier}", MultiDict(answers), f"/start/{earlier}").status_code == 303
    extra = (*(name for name in WIZARD_SHOWN if name.startswith("company.")), "trial_start_date", "details",
             "language")
    if data is None:  # the regression example: a trial length only Unicode calls a digit
        form = MultiDict({**WIZARD[step], "company.trial_days": SUPERSCRIPT_TWO, "plan": "other-monthly"})
    else:
        form = data.draw(mangled(WIZARD[step], extra), label="form")
    before = counts(committed)
    response = post(client, f"/start/{step}", form, f"/start/{step}")
    assert_answered(response, form, before, counts(committed), shown=WIZARD_SHOWN, keep=lambda v: v.strip()[:5000])
    limiter.reset()
    checked = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/company")})
    assert checked.status_code == 303  # the check page files only a whole set of answers, else sends back


@FUZZ
@given(form=mangled({"email": "jane@example.com"}))
def test_lost_link_never_fails(client: FlaskClient, committed: Runtime, form: MultiDict[str, str]) -> None:
    before = counts(committed)
    response = post(client, "/lost-link", form, "/lost-link")
    assert_answered(response, form, before, counts(committed), shown=("email",), keep=lambda v: v.strip()[:254])


def filed(runtime: Runtime, status: CaseStatus) -> tuple[str, str]:
    """A filed case put straight into ``status``: its reference and the consumer's link token."""
    with writing(runtime) as session:
        new = file_case(session, case_facts(), runtime.settings.secret_key)
        case = session.get_one(Case, new.case_id)
        case.status = status
        case.outcome = Outcome.CANCELLED if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else None
        if status is CaseStatus.NEEDS_INFO:
            case.status_before_needs_info = CaseStatus.SENT
        if status is not CaseStatus.NEW:
            case.confirmed_at = case.email_confirmed_at = utcnow()
        return new.reference, new.access_token


CONSUMER_FORMS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "answer": ({"answer.type": "refused", "answer.received_on": iso_days_ago(2), "answer.summary": "They said no."},
               ("answer.received_on", "answer.summary")),
    "refund": ({"refund.amount": "599.00", "refund.currency": "AUD", "refund.on": iso_days_ago(2)},
               ("refund.amount", "refund.currency", "refund.on")),
    "info": ({"info.text": "My account e-mail is jane@example.com."}, ("info.text",)),
    "withdraw": ({"sure": "yes"}, ()),
    "resend": ({}, ()),
    "delivery": ({"channel": "web_form", "at": f"{TODAY_ISO}T10:00", "confirmation": "T-1234"},
                 ("at", "confirmation")),
    "confirm": ({"code": "123456"}, ()),
}


@FUZZ
@given(name=st.sampled_from(list(CONSUMER_FORMS)), status=st.sampled_from(list(CaseStatus)), data=st.data(),
       with_file=st.sampled_from([None, b"", b"%PDF-1.4 reply", b"GIF89a", b"\x00" * 64]))
@example(name="delivery", status=CaseStatus.READY, data=None, with_file=None)
def test_the_consumers_forms_never_fail_and_never_half_save(client: FlaskClient, committed: Runtime, name: str,
                                                            status: CaseStatus, data: Any,
                                                            with_file: bytes | None) -> None:
    reference, token = filed(committed, status)
    base, shown = CONSUMER_FORMS[name]
    if data is None:  # the regression example: a refused delivery keeps the time and number typed
        form = MultiDict({"channel": "web_form", "at": "<27 Nov, 10am>", "confirmation": "T-1234 & co"})
    else:
        form = data.draw(mangled(base), label="form")
    before, case_before = counts(committed), version_of(committed, reference)
    limiter.reset()
    payload: MultiDict[str, Any] = MultiDict(form)
    payload["csrf_token"] = csrf_token(client, f"/c/{token}")
    if name == "answer" and with_file is not None:
        payload.add("answer.file", (io.BytesIO(with_file), "reply.pdf"))
    response = client.post(f"/c/{token}/{name}", data=payload)
    refused = assert_answered(response, form, before, counts(committed), shown=shown, keep=str.strip)
    if refused:
        assert version_of(committed, reference) == case_before
    if data is None:
        assert response.status_code == 422
        assert 'value="&lt;27 Nov, 10am&gt;"' in response.get_data(as_text=True)
        assert 'value="T-1234 &amp; co"' in response.get_data(as_text=True)


# --- staff ---------------------------------------------------------------------------------------------------


@pytest.fixture
def supervisor(app: Flask, committed: Runtime) -> FlaskClient:
    with writing(committed) as session:
        create_staff(session, "sam@casework.test", "Sam", PASSWORD, "supervisor")
    return signed_in(app, "sam@casework.test")


@settings(FUZZ, max_examples=12)  # each attempt hashes a password, slowly by design
@given(form=mangled({"email": "sam@casework.test", "password": "not the password"}))
def test_the_staff_sign_in_never_fails(client: FlaskClient, committed: Runtime, supervisor: FlaskClient,
                                       form: MultiDict[str, str]) -> None:
    before = counts(committed)
    response = post(client, "/staff/login", form, "/staff/login")
    refused = assert_answered(response, form, before, counts(committed), shown=("email",),
                              keep=lambda v: v.strip().lower()[:254])
    assert refused or response.status_code == 303


STAFF_FORMS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "assign": ({"assignee": "me"}, ()),
    "notes": ({"note": "Called the company."}, ("note",)),
    "responses": ({"response.type": "refused", "response.received_on": iso_days_ago(2), "response.summary": "No."},
                  ("response.received_on", "response.summary")),
    "resolve": ({"outcome": "cancelled_refunded", "refund.amount": "599.00", "refund.currency": "AUD",
                 "refund.on": iso_days_ago(2)}, ("refund.amount", "refund.currency", "refund.on")),
    "close": ({}, ()),
    "reopen": ({"reason": "Charged again."}, ("reason",)),
    "ask": ({"question": "Which e-mail is on the account?"}, ("question",)),
    "escalate": ({"escalation.kind": "regulator", "escalation.name": "ACCC", "escalation.reference": "R-1",
                  "final_notice": "1"}, ("escalation.name", "escalation.reference")),
    "delivery": ({"channel": "post", "at": f"{TODAY_ISO}T10:00", "confirmation": "RR123"}, ()),
    "follow-up": ({}, ()),
    "merge": ({"absorb": "CW-2026-00000000", "absorb_version": "1"}, ()),
    "emails/1/retry": ({}, ()),
    f"emails/{SUPERSCRIPT_TWO}/retry": ({}, ()),
}


@FUZZ
@given(name=st.sampled_from(list(STAFF_FORMS)), status=st.sampled_from(list(CaseStatus)), data=st.data(),
       current=st.sampled_from([True, True, True, False]))
@example(name="assign", status=CaseStatus.SENT, data=None, current=True)
def test_the_staff_case_forms_never_fail_and_never_half_save(committed: Runtime, supervisor: FlaskClient, name: str,
                                                             status: CaseStatus, data: Any, current: bool) -> None:
    reference, _ = filed(committed, status)
    base, shown = STAFF_FORMS[name]
    # data is None in the regression example: an id only Unicode calls a digit
    form = MultiDict({"assignee": SUPERSCRIPT_TWO}) if data is None else data.draw(mangled(base), label="form")
    version = version_of(committed, reference)
    form.setdefault("version", str(version[0]) if current else "0")
    before = counts(committed)
    response = post(supervisor, f"/staff/cases/{reference}/{name}", form, f"/staff/cases/{reference}")
    after = counts(committed)
    after.pop("case_reads", None), before.pop("case_reads", None)  # opening the page is logged
    refused = assert_answered(response, form, before, after, shown=shown, keep=lambda v: v)
    if refused:
        assert version_of(committed, reference) == version


@pytest.mark.parametrize("url", [f"/staff/tokens/{SUPERSCRIPT_TWO}/revoke", f"/staff/users/{SUPERSCRIPT_TWO}/disable",
                                 f"/staff/users/{SUPERSCRIPT_TWO}/enable",
                                 f"/staff/users/{SUPERSCRIPT_TWO}/reset-password"])
def test_an_id_only_unicode_calls_a_digit_names_nothing(committed: Runtime, supervisor: FlaskClient, url: str) -> None:
    before = counts(committed)
    response = post(supervisor, url, MultiDict(), "/staff/tokens")
    assert response.status_code == 404
    assert counts(committed) == before
