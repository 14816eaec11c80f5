"""The caseworkers' queue: every open case, most urgent first, with filters, search and "take next"."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from casework.access import route_rule
from casework.cases.states import CaseStatus
from casework.catalog import default_catalog
from casework.db import utcnow
from casework.staff import queue
from casework.staff.claiming import take_next as claim_next
from casework.staff.models import StaffUser
from casework.web import db, limiter

bp = Blueprint("queue", __name__, url_prefix="/staff")


def _companies() -> list[tuple[str, str]]:
    """(slug, name) of every catalog company, "Another company" last."""
    providers = default_catalog().providers.values()
    listed = sorted(((p.slug, p.name) for p in providers if p.slug != "other"), key=lambda item: item[1].lower())
    return [*listed, *((p.slug, p.name) for p in providers if p.slug == "other")]


def _caseworkers() -> list[StaffUser]:
    """The active accounts, for the assignee filter."""
    return list(db().scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.name,
                                                                                          StaffUser.id)))


@bp.get("")
@route_rule("staff")
def index() -> ResponseReturnValue:
    """The queue page: filters from the URL, one page of cases after ``after``, counts per status."""
    filters, notices = queue.parse_filters(request.args)
    now = utcnow()
    page = queue.queue_page(db(), filters, me=int(current_user.id), cursor=request.args.get("after") or None,
                            now=now)
    filters = page.filters
    other_args = queue.query_args(dataclasses.replace(filters, statuses=()))
    return render_template(
        "staff/queue.html", user=current_user, page=page, filters=filters, notices=[*notices, *page.notices],
        today=now.date(), statuses=list(CaseStatus),
        open_count=sum(page.counts.get(status.value, 0) for status in queue.OPEN_STATUSES),
        companies=_companies(), company_names={slug: name for slug, name in _companies()},
        caseworkers=_caseworkers(), other_args=other_args, urgency_words=queue.urgency_words,
        next_args=queue.query_args(filters, page.next_cursor) if page.next_cursor else None,
        filtered=bool(queue.query_args(filters)),
    )


@bp.post("/take-next")
@route_rule("staff")
@limiter.limit("60 per minute", methods=["POST"])
def take_next() -> ResponseReturnValue:
    """Give the signed-in caseworker the most urgent unassigned case and open it."""
    session = db()
    # Loading the signed-in account opened a read transaction. SQLite cannot turn that into a write once
    # another caseworker's claim has committed (it fails at once instead of waiting its turn), so the claim
    # starts a transaction of its own.
    session.commit()
    taken = claim_next(session, int(current_user.id), utcnow())
    session.commit()
    if taken is None:
        flash("No unassigned case is waiting.")
        return redirect(url_for("queue.index"), 303)
    flash(f"Case {taken.reference} is yours now.")
    return redirect(url_for("staff.case", reference=taken.reference), 303)
