"""Filing, tokens, events and letter jobs against the real database, rolled back after each test."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casework.cases.filing import CaseError, FiledCase, file_case
from casework.cases.models import AccessToken, Case, CaseEvent
from casework.cases.references import decode_reference, encode_reference, is_reference, new_reference
from casework.cases.states import Actor, BillingChannel, CaseStatus, Outcome
from casework.cases.tokens import case_for_token, token_hmac
from casework.letters.models import Letter
from tests.support.factories import case_facts
from tests.support.today import iso_days_ahead

pytestmark = pytest.mark.storage
KEY = "k" * 40


def stored_case(session: Session, filed: FiledCase) -> Case:
    case = session.get(Case, filed.case_id)
    assert case is not None
    return case


def test_filing_writes_case_token_event_and_letter_job(db_session: Session) -> None:
    filed = file_case(db_session, case_facts(), KEY)
    case = stored_case(db_session, filed)
    assert is_reference(case.reference)
    assert case.reference == filed.reference
    assert case.status is CaseStatus.NEW
    assert case.policy_version == "coursera@2026-02-06"
    assert (case.version, case.certificate_earned, case.email_confirmed_at) == (1, False, None)
    events = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    assert [(e.action, e.actor) for e in events] == [("filed", Actor.CONSUMER), ("letter_requested", Actor.SYSTEM)]
    letter = db_session.execute(select(Letter).where(Letter.case_id == case.id)).scalar_one()
    assert (letter.kind, letter.version, letter.status, letter.attempts) == ("cancellation", 1, "pending", 0)
    assert letter.id == filed.letter_id
    assert events[0].data == {"provider": "coursera", "plan": "coursera-plus-annual"}
    assert events[1].data == {"letter_id": letter.id, "kind": "cancellation", "version": 1}
    snapshot = letter.data_snapshot
    assert snapshot["company"]["delivery_kind"] == "web_form"
    assert snapshot["amount"] == {"value": "599.00", "currency": "AUD"}
    assert "details" not in snapshot  # the consumer's free text never reaches a letter


def test_the_letter_is_dispatched_only_after_commit(db_session: Session) -> None:
    filed = file_case(db_session, case_facts(), KEY)
    pending = db_session.info["casework.dispatch.pending"]
    assert pending == [("letters.render", [filed.letter_id])]


def test_app_store_billing_files_a_case_without_a_letter(db_session: Session) -> None:
    filed = file_case(db_session, case_facts(billing_channel=BillingChannel.APPLE_APP_STORE), KEY)
    assert filed.letter_id is None
    assert db_session.execute(select(Letter).where(Letter.case_id == filed.case_id)).first() is None
    actions = [e.action for e in db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == filed.case_id))]
    assert actions == ["filed"]
    assert "casework.dispatch.pending" not in db_session.info


def test_filing_is_one_statement_on_postgresql_and_four_elsewhere(db_session: Session) -> None:
    statements: list[str] = []
    bind = db_session.get_bind()
    listener = lambda *args: statements.append(args[2]) if "SAVEPOINT" not in args[2] else None  # noqa: E731
    event.listen(bind, "before_cursor_execute", listener)
    try:
        file_case(db_session, case_facts(), KEY)
    finally:
        event.remove(bind, "before_cursor_execute", listener)
    expected = 1 if bind.dialect.name == "postgresql" else 4
    assert len(statements) == expected, statements


def test_token_is_stored_only_as_hmac_and_finds_its_case(db_session: Session) -> None:
    filed = file_case(db_session, case_facts(), KEY)
    stored = db_session.execute(select(AccessToken).where(AccessToken.case_id == filed.case_id)).scalar_one()
    assert stored.token_hmac == token_hmac(KEY, filed.access_token)
    assert stored.revoked_at is None
    assert stored.created_at.tzinfo is dt.UTC
    assert filed.access_token.encode() not in stored.token_hmac
    assert case_for_token(db_session, KEY, filed.access_token) is stored_case(db_session, filed)
    assert case_for_token(db_session, KEY, filed.access_token + "x") is None
    assert case_for_token(db_session, "another-key" * 4, filed.access_token) is None


def test_filing_without_consent_is_refused(db_session: Session) -> None:
    with pytest.raises(CaseError) as error:
        file_case(db_session, case_facts(consent=False), KEY)
    assert error.value.fields == {"consent.send_in_my_name": "must be true"}
    assert db_session.execute(select(Case)).first() is None


@pytest.mark.parametrize(("changes", "field"), [
    ({"provider": "nope"}, "provider"),
    ({"plan": "other-monthly"}, "plan"),
    ({"payment_date": None}, "payment_date"),
    ({"provider": "other", "plan": "other-monthly", "company": None}, "company"),
])
def test_bad_facts_name_the_field(db_session: Session, changes: dict[str, object], field: str) -> None:
    with pytest.raises(CaseError) as error:
        file_case(db_session, case_facts(**changes), KEY)
    assert field in error.value.fields


def test_another_company_letter_goes_to_its_email(db_session: Session) -> None:
    company = {"name": "Acme Streaming", "email": "cancel@acme.example", "postal_address": "1 Road"}
    filed = file_case(db_session, case_facts(provider="other", plan="other-monthly", company=company), KEY)
    letter = db_session.execute(select(Letter).where(Letter.case_id == filed.case_id)).scalar_one()
    assert letter.data_snapshot["company"] == {
        "name": "Acme Streaming", "legal_name": "Acme Streaming",
        "delivery_kind": "email", "delivery_address": "cancel@acme.example", "postal_address": "1 Road",
        "address_lines": ["1 Road"], "address_country": None, "entity_source": None,
    }


@given(st.integers(min_value=0, max_value=2**40 - 1), st.integers(min_value=2000, max_value=2999))
def test_reference_encoding_keeps_all_40_bits(bits: int, year: int) -> None:
    reference = encode_reference(year, bits)
    assert is_reference(reference)
    assert decode_reference(reference) == bits


def test_references_are_random_crockford() -> None:
    refs = {new_reference(2026) for _ in range(2000)}
    assert len(refs) == 2000
    assert all(is_reference(r) and r.startswith("CW-2026-") for r in refs)
    assert not any(set(r[8:]) & set("ILOU") for r in refs)


def test_case_events_are_append_only(db_session: Session) -> None:
    filed = file_case(db_session, case_facts(), KEY)
    event = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == filed.case_id)).first()
    assert event is not None
    event.action = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        db_session.flush()


def test_an_outcome_goes_with_resolved_only(db_session: Session) -> None:
    case = stored_case(db_session, file_case(db_session, case_facts(), KEY))
    case.status = CaseStatus.RESOLVED
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_resolved_with_outcome_is_stored(db_session: Session) -> None:
    case = stored_case(db_session, file_case(db_session, case_facts(), KEY))
    case.status, case.outcome = CaseStatus.RESOLVED, Outcome.WITHDRAWN
    db_session.flush()
    assert case.version == 2  # optimistic lock counter moved


def test_instants_come_back_aware_utc(db_session: Session) -> None:
    filed = file_case(db_session, case_facts(), KEY)
    db_session.expire_all()
    case = db_session.get(Case, filed.case_id)
    assert case is not None
    assert case.created_at.tzinfo is dt.UTC


def test_filing_keeps_the_assessment_it_was_filed_with(db_session: Session) -> None:
    filed = file_case(db_session, case_facts(), KEY)
    db_session.expire_all()
    assessment = stored_case(db_session, filed).assessment
    assert assessment is not None
    assert assessment == filed.assessment
    assert assessment["policy_version"] == "coursera@2026-02-06"
    assert assessment["refund"]["window_ends"] == iso_days_ahead(7)
    assert assessment["cancel_via"] == "formal_letter"
    assert assessment["deadlines"][0]["kind"] == "refund_window_end"
