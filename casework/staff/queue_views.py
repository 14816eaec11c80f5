"""The caseworkers' queue: every open case, most urgent first, with filters, search and "take next"; an action
on many ticked cases at once; each caseworker's saved views."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from casework.access import route_rule
from casework.cases.states import ESCALATION_KINDS, CaseStatus, Outcome
from casework.catalog import default_catalog
from casework.db import utcnow
from casework.runtime import runtime_of
from casework.staff import bulk, queue, saved_filters
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


def _page(args: MultiDict[str, str], status: int = 200, **extra: Any) -> ResponseReturnValue:
    """The queue page for these URL arguments; a refused bulk action or view form adds its errors."""
    filters, notices = queue.parse_filters(args)
    now = utcnow()
    me = int(current_user.id)
    page = queue.queue_page(db(), filters, me=me, cursor=args.get("after") or None, now=now)
    filters = page.filters
    other_args = queue.query_args(dataclasses.replace(filters, statuses=()))
    views = saved_filters.views_of(db(), me)
    context: dict[str, Any] = {"bulk_errors": {}, "refusals": [], "selected": set(), "bulk_values": {},
                               "view_errors": {}, "view_name": "", **extra}
    return render_template(
        "staff/queue.html", user=current_user, page=page, filters=filters, notices=[*notices, *page.notices],
        today=now.date(), statuses=list(CaseStatus),
        open_count=sum(page.counts.get(status.value, 0) for status in queue.OPEN_STATUSES),
        companies=_companies(), company_names={slug: name for slug, name in _companies()},
        caseworkers=_caseworkers(), other_args=other_args, urgency_words=queue.urgency_words,
        next_args=queue.query_args(filters, page.next_cursor) if page.next_cursor else None,
        filtered=bool(queue.query_args(filters)), return_url=_queue_url(args),
        saved_views=views, current_view=saved_filters.current(views, args), view_args=saved_filters.with_query,
        bulk_moves=[s.value for s in bulk.STATUS_MOVES], escalation_kinds=ESCALATION_KINDS,
        outcomes=[o.value for o in Outcome if o is not Outcome.WITHDRAWN],
        is_supervisor=current_user.role == "supervisor", me=me, **context,
    ), status


def _queue_url(args: MultiDict[str, str]) -> str:
    """The queue URL for these arguments, rebuilt from the filters (and page cursor) the queue knows."""
    filters, _ = queue.parse_filters(args)
    cursor = args.get("after", "")[:64] or None
    query = urlencode(queue.query_args(filters, cursor), doseq=True)
    return url_for("queue.index") + (f"?{query}" if query else "")


def _back() -> tuple[MultiDict[str, str], str]:
    """The queue a form came from (its ``return`` field), as arguments and as a local URL."""
    args = saved_filters.queue_args(request.form.get("return", ""))
    return args, _queue_url(args)


@bp.get("")
@route_rule("staff")
def index() -> ResponseReturnValue:
    """The queue page: filters from the URL, one page of cases after ``after``, counts per status."""
    return _page(request.args)


@bp.post("/bulk")
@route_rule("staff")
@limiter.limit("30 per minute", methods=["POST"])
def bulk_action() -> ResponseReturnValue:
    """One action on every ticked case, all or nothing; back to the same queue on success."""
    args, back = _back()
    picked = request.form.getlist("case")
    kept = {"selected": set(picked[:bulk.MAX_SELECTION]),
            "bulk_values": {k: v for k, v in request.form.items() if k not in ("csrf_token", "case", "return")}}
    session = db()
    session.commit()  # a transaction of its own for the writes (see take_next)
    me = session.get_one(StaffUser, int(current_user.id))
    try:
        selection = bulk.parse_selection(picked)
        action = bulk.parse_action(session, request.form, me)
        count = bulk.apply(session, runtime_of().settings, me, selection, action, utcnow())
        session.commit()
    except bulk.BulkFormError as error:
        session.rollback()
        return _page(args, 422, bulk_errors=dict(error.fields) or {"action": str(error)}, **kept)
    except bulk.BulkRefused as refused:
        session.rollback()
        return _page(args, refused.http_status, refusals=refused.refusals, **kept)
    except StaleDataError:
        session.rollback()
        return _page(args, 409, bulk_errors={"case": "Someone changed one of these cases at the same moment; "
                                                     "check them again."}, **kept)
    flash(bulk.done_message(count, action, me))
    return redirect(back, 303)


@bp.post("/views")
@route_rule("staff")
@limiter.limit("30 per minute", methods=["POST"])
def save_view() -> ResponseReturnValue:
    """Save the queue's current filters (never its page) under a name; the same name replaces them."""
    args, back = _back()
    session = db()
    typed = request.form.get("view_name", "")[:saved_filters.NAME_MAX * 4]
    try:
        view, replaced = saved_filters.save(session, int(current_user.id), typed, saved_filters.clean_query(args))
        session.commit()
    except saved_filters.ViewError as error:
        session.rollback()
        return _page(args, 422, view_errors=dict(error.fields), view_name=typed)
    flash(f"The view “{view.name}” is {'updated' if replaced else 'saved'}.")
    return redirect(back, 303)


@bp.post("/views/<int(max=2147483647):view_id>/delete")
@route_rule("staff")
def delete_view(view_id: int) -> ResponseReturnValue:
    """Delete one of the caseworker's own views (anyone else's is not found)."""
    _, back = _back()
    session = db()
    view = saved_filters.delete(session, int(current_user.id), view_id)
    if view is None:
        abort(404)
    session.commit()
    flash(f"The view “{view.name}” is deleted.")
    return redirect(back, 303)


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
