"""A caseworker's saved filters: the queue's query string under a name, listed on their queue page (rows of
SavedView, table saved_views).

The query is stored as the queue itself writes it (parse_filters then query_args), so a saved view holds only
known filters and never a page cursor: opening it always starts from the most urgent case. Saving a name
again replaces that view's filters, so "Mine, overdue" can be corrected without deleting it first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from casework.cases.filing import CaseError
from casework.db import utcnow
from casework.staff import queue
from casework.staff.models import SavedView
from casework.typed_text import is_one_line

NAME_MAX = 100
QUERY_MAX = 2000
MAX_VIEWS = 50
QUEUE_PATH = "/staff"


class ViewError(CaseError):
    """The view cannot be saved as typed (HTTP 422, with the field)."""


def queue_args(return_url: str) -> MultiDict[str, str]:
    """The query arguments of a queue URL sent back by a form; anything but a relative /staff URL gives none."""
    raw = return_url[:QUERY_MAX * 2]
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or parts.path != QUEUE_PATH or "\\" in raw:
        return MultiDict()
    return MultiDict(parse_qsl(parts.query, keep_blank_values=True))


def clean_query(args: Mapping[str, str] | object) -> str:
    """The query string of the queue's filters in these arguments: known filters only, no page cursor."""
    filters, _ = queue.parse_filters(args)
    return urlencode(queue.query_args(filters), doseq=True)


def views_of(session: Session, staff_id: int) -> list[SavedView]:
    return list(session.scalars(select(SavedView).where(SavedView.staff_id == staff_id)
                                .order_by(func.lower(SavedView.name), SavedView.id)))


def _name(raw: str) -> str:
    name = " ".join(raw[:NAME_MAX * 4].split())
    if not name:
        raise ViewError("Give the view a name.", {"view_name": "Give the view a name."})
    if len(name) > NAME_MAX:
        raise ViewError(f"At most {NAME_MAX} characters.",
                        {"view_name": f"At most {NAME_MAX} characters (this has {len(name)})."})
    if not is_one_line(name):
        raise ViewError("Remove the hidden control characters from the name.",
                        {"view_name": "Write the name without hidden control characters."})
    return name


def save(session: Session, staff_id: int, raw_name: str, query: str) -> tuple[SavedView, bool]:
    """Store ``query`` under the name (the same name again replaces its query); (view, replaced)."""
    name = _name(raw_name)
    if len(query) > QUERY_MAX:
        raise ViewError("These filters are too long to save.",
                        {"view_name": f"These filters are longer than {QUERY_MAX} characters; shorten the search."})
    existing = session.execute(select(SavedView).where(SavedView.staff_id == staff_id, SavedView.name == name)
                               ).scalar_one_or_none()
    if existing is not None:
        existing.query = query
        return existing, True
    count = session.execute(select(func.count(SavedView.id)).where(SavedView.staff_id == staff_id)).scalar_one()
    if count >= MAX_VIEWS:
        raise ViewError(f"At most {MAX_VIEWS} saved views.",
                        {"view_name": f"You have {MAX_VIEWS} saved views, the most there can be; delete one first."})
    view = SavedView(staff_id=staff_id, name=name, query=query, created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(view)
    except IntegrityError:  # the same name saved at the same moment in another tab
        raise ViewError("A view with this name was just saved.",
                        {"view_name": "A view with this name was just saved; save again to replace it."}) from None
    return view, False


def delete(session: Session, staff_id: int, view_id: int) -> SavedView | None:
    """Delete one of the caseworker's own views; None when they have no view with this id."""
    view = session.get(SavedView, view_id)
    if view is None or view.staff_id != staff_id:
        return None
    session.delete(view)
    return view


def current(views: list[SavedView], args: Mapping[str, str] | object) -> int | None:
    """The saved view showing now, if the page's filters are exactly one of them."""
    query = clean_query(args)
    return next((view.id for view in views if view.query == query), None)


def with_query(view: SavedView) -> dict[str, list[str]]:
    """A view's stored query as url_for arguments (stored rows are read through the filters again)."""
    filters, _ = queue.parse_filters(MultiDict(parse_qsl(view.query, keep_blank_values=True)))
    return queue.query_args(dataclasses.replace(filters))
