"""The evidence pack: one PDF that lists everything the case holds as proof.

The stored letters are the evidence; the pack is a report over them. A request builds its contents
(:func:`build_pack`, a few reads) and the worker renders them (casework.evidence.jobs); the PDF is kept
only while it still shows all the case's records (casework.evidence.stored). It says when it was
generated and lists each letter's SHA-256 and verification code, so anyone can check the letters
themselves against ``/verify/<code>``.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from weasyprint import CSS, HTML

from casework.cases.delivery import letter_filename
from casework.cases.models import Case, CaseEvent, CompanyResponse, Delivery
from casework.cases.states import INTERNAL_ACTIONS
from casework.catalog import default_catalog
from casework.letters.fetcher import ASSETS_DIR, AssetsOnlyFetcher
from casework.letters.law import card_dispute_clauses
from casework.letters.models import Letter
from casework.letters.render import LETTER_TEMPLATES, renderer
from casework.mail.models import OutboundEmail
from casework.mail.sealed import shown
from casework.presentation import STATUS_TITLES, event_text
from casework.staff.duplicates import merged_ids

PACK_TEMPLATE = "evidence_pack.html"
PACK_CSS = LETTER_TEMPLATES / "evidence.css"
EVIDENCE_STATUSES = ("rendered", "superseded")
# Event data worth quoting next to the words: what identifies a letter, a message or a channel.
EVENT_DETAILS = ("kind", "version", "channel", "sha256", "letter_sha256", "message_id", "type", "because", "error")
RESPONSE_WORDS = {
    "confirmed_cancellation": "Confirmed the cancellation",
    "refund_offered": "Offered a refund",
    "refused": "Refused",
    "retention_offer": "Made an offer to keep the subscription",
    "asked_for_information": "Asked for more information",
    "charged_again": "Charged again",
}
# WeasyPrint's font configuration is shared by the process; one pack renders at a time (in the worker).
_render_lock = threading.Lock()


def words(value: str) -> str:
    return value.replace("_", " ")


@dataclass(frozen=True)
class Clock:
    """Every time in the pack: the case's local time with its zone and UTC offset."""

    zone: ZoneInfo

    def __call__(self, value: dt.datetime | None) -> str:
        if value is None:
            return "—"
        local = value.astimezone(self.zone)
        offset = local.isoformat(timespec="seconds")[19:] or "+00:00"
        return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} (UTC{offset})"


@dataclass(frozen=True)
class EventRow:
    at: str
    actor: str
    action: str
    text: str
    status_change: str
    details: str


@dataclass(frozen=True)
class LetterRow:
    kind: str
    version: int
    letter_date: str
    status: str
    sha256: str | None
    pages: int | None
    verification_code: str | None
    verify_url: str | None
    rendered_at: str
    sent_at: str
    superseded_by: int | None
    template_version: str | None
    filename: str | None


@dataclass(frozen=True)
class DeliveryRow:
    channel: str
    address: str
    at: str
    by: str
    confirmation: str | None
    tracking_number: str | None
    letter: str


@dataclass(frozen=True)
class EmailRow:
    kind: str
    message_id: str
    subject: str
    recipients: list[str]
    cc: list[str]
    status: str
    sent_at: str
    recipients_refused: dict[str, str]
    address_source: str | None
    transport_confirmation: str | None
    attempts: int
    last_error: str | None
    # The plain text as it went out, each private link or code in it shown as removed (casework.mail.sealed).
    text: str = ""
    redacted: bool = False


@dataclass(frozen=True)
class ResponseRow:
    type: str
    received_on: str
    summary: str
    recorded_by: str
    recorded_at: str


@dataclass(frozen=True)
class CardDisputeRow:
    """The consumer's card-dispute law: theirs to use with the card issuer, never cited to the company."""

    instrument: str
    sections: str
    text: str
    source_title: str
    source_url: str


def card_dispute_rows(case: Case, day: dt.date) -> list[CardDisputeRow]:
    if not case.country:
        return []
    return [CardDisputeRow(c.instrument, ", ".join(c.sections), c.text, c.sources[0].title, c.sources[0].url)
            for c in card_dispute_clauses(case.country, case.region, day) if c.sources]


@dataclass(frozen=True)
class EvidencePack:
    reference: str
    consumer_name: str
    consumer_email: str
    company: str
    contracting_entity: str | None
    plan: str
    status: str
    status_words: str
    outcome: str | None
    timezone: str
    filed_at: str
    confirmed_at: str
    generated_at: str
    generated_at_utc: str
    verify_base: str
    events: list[EventRow]
    letters: list[LetterRow]
    deliveries: list[DeliveryRow]
    emails: list[EmailRow]
    responses: list[ResponseRow]
    card_dispute: list[CardDisputeRow]


def pack_filename(reference: str, extension: str) -> str:
    return f"{reference}-evidence.{extension}"


def letter_order(letter: Letter) -> tuple[str, int]:
    """A letter's place in the pack and the ZIP: by the date it bears, then the order it was requested in.

    The date is the snapshot's (the one printed on the letter), else the day the row was made. By kind, a
    cancellation re-issued after a follow-up was listed before that follow-up, out of the order things happened.
    """
    day = (letter.data_snapshot or {}).get("letter_date")
    if not day and letter.created_at is not None:
        day = letter.created_at.date().isoformat()
    return str(day or ""), letter.id


def case_letters(session: Session, case: Case) -> list[Letter]:
    letters = session.scalars(select(Letter).where(Letter.case_id == case.id, Letter.kind != "evidence_pack"))
    return sorted(letters, key=letter_order)


def _event_details(data: dict[str, Any]) -> str:
    return "; ".join(f"{words(key)} {data[key]}" for key in EVENT_DETAILS if data.get(key) not in (None, ""))


def _merged_details(reference: str | None, details: str) -> str:
    if reference is None:
        return details
    return "; ".join(part for part in (f"on {reference} (merged into this case)", details) if part)


def _letter_rows(session: Session, case: Case, clock: Clock, verify_base: str) -> list[LetterRow]:
    letters = case_letters(session, case)
    newer = {letter.supersedes_id: letter.version for letter in letters if letter.supersedes_id is not None}
    return [
        LetterRow(
            kind=words(letter.kind), version=letter.version,
            letter_date=str((letter.data_snapshot or {}).get("letter_date") or "—"), status=letter.status,
            sha256=letter.sha256, pages=letter.pages, verification_code=letter.verification_code,
            verify_url=f"{verify_base}{letter.verification_code}" if letter.verification_code else None,
            rendered_at=clock(letter.rendered_at), sent_at=clock(letter.sent_at),
            superseded_by=newer.get(letter.id), template_version=letter.template_version,
            filename=letter_filename(case, letter) if letter.status in EVIDENCE_STATUSES else None,
        )
        for letter in letters
    ]


def build_pack(session: Session, case: Case, base_url: str, now: dt.datetime) -> EvidencePack:
    """Everything the case holds as proof, with every time in the case's time zone."""
    clock = Clock(ZoneInfo(case.timezone))
    provider = default_catalog().get(case.provider_slug)
    plan = provider.plan(case.plan_slug) if provider is not None else None
    company = case.company or {}
    # The company the consumer contracts with, which the letters are addressed to (another company: as typed).
    entity = provider.entity_for(case.country) if provider is not None and case.provider_slug != "other" else None
    verify_base = f"{base_url.rstrip('/')}/verify/"
    letter_names = {letter.id: f"{words(letter.kind)} v{letter.version}" for letter in case_letters(session, case)}

    # A duplicate merged into this case brings its history along: one timeline, each event marked with the
    # case it happened on, so the pack still proves what was sent and when under either reference.
    merged = merged_ids(session, case)
    events = [
        EventRow(at=clock(event.at), actor=event.actor.value, action=event.action, text=event_text(event),
                 status_change=(f"{event.from_status.value if event.from_status else '—'} → {event.to_status.value}"
                                if event.to_status else ""),
                 details=_merged_details(merged.get(event.case_id), _event_details(event.data or {})))
        for event in session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_([case.id, *merged]),
                                                             CaseEvent.action.not_in(INTERNAL_ACTIONS))
                                     .order_by(CaseEvent.at, CaseEvent.id))
    ]
    deliveries = [
        DeliveryRow(channel=words(d.channel), address=d.address, at=clock(d.at), by=d.by.value,
                    confirmation=d.confirmation, tracking_number=d.tracking_number,
                    letter=letter_names.get(d.letter_id, "—") if d.letter_id is not None else "—")
        for d in session.scalars(select(Delivery).where(Delivery.case_id == case.id).order_by(Delivery.id))
    ]
    emails = [
        EmailRow(kind=words(e.kind), message_id=e.message_id, subject=e.subject, recipients=list(e.recipients),
                 cc=list(e.cc or []), status=e.status, sent_at=clock(e.sent_at),
                 recipients_refused=dict(e.recipients_refused or {}), address_source=e.address_source,
                 transport_confirmation=e.transport_confirmation, attempts=e.attempts,
                 last_error=e.last_error if e.status == "failed" else None,
                 text=shown(e.body_text), redacted=shown(e.body_text) != e.body_text)
        for e in session.scalars(select(OutboundEmail).where(OutboundEmail.case_id == case.id)
                                 .order_by(OutboundEmail.id))
    ]
    responses = [
        ResponseRow(type=RESPONSE_WORDS.get(r.type, words(r.type)), received_on=r.received_on.isoformat(),
                    summary=r.summary, recorded_by=r.recorded_by.value, recorded_at=clock(r.created_at))
        for r in session.scalars(select(CompanyResponse).where(CompanyResponse.case_id == case.id)
                                 .order_by(CompanyResponse.id))
    ]
    return EvidencePack(
        reference=case.reference,
        consumer_name=case.consumer_name,
        consumer_email=case.consumer_email,
        company=str(company.get("name") or (provider.name if provider else case.provider_slug)),
        contracting_entity=entity.name if entity is not None else None,
        plan=str(company.get("plan_name") or (plan.name if plan else case.plan_slug)),
        status=case.status.value,
        status_words=STATUS_TITLES[case.status],
        outcome=words(case.outcome.value) if case.outcome else None,
        timezone=case.timezone,
        filed_at=clock(case.created_at),
        confirmed_at=clock(case.confirmed_at),
        generated_at=clock(now),
        generated_at_utc=Clock(ZoneInfo("UTC"))(now),
        verify_base=verify_base,
        events=events,
        letters=_letter_rows(session, case, clock, verify_base),
        deliveries=deliveries,
        emails=emails,
        responses=responses,
        card_dispute=card_dispute_rows(case, now.astimezone(ZoneInfo(case.timezone)).date()),
    )


@cache
def _pack_stylesheet() -> CSS:
    return CSS(string=PACK_CSS.read_text(encoding="utf-8"), font_config=renderer().font_config,
               url_fetcher=AssetsOnlyFetcher(), base_url=ASSETS_DIR.as_uri() + "/")


def pack_html(pack: EvidencePack) -> str:
    return renderer().env.get_template(PACK_TEMPLATE).render(p=pack)


def render_pack(pack: EvidencePack) -> bytes:
    """The pack as PDF, with the letters' fonts, stylesheet and fetcher (which loads only bundled assets)."""
    letters = renderer()
    source = pack_html(pack)
    with _render_lock:
        document = HTML(string=source, base_url=ASSETS_DIR.as_uri() + "/", url_fetcher=AssetsOnlyFetcher()).render(
            font_config=letters.font_config, stylesheets=[letters.stylesheet, _pack_stylesheet()], pdf_tags=True)
        pdf: bytes = document.write_pdf(pdf_tags=True)
    return pdf
