"""Who on the staff looked at a case, and how: a row per read, kept apart from the case's timeline.

A page or download that logs a read opens only from our own pages (or an address typed or bookmarked): a link
on another site would otherwise make a signed-in caseworker's browser write "viewed by" rows at will (the
session cookie goes along with a top-level navigation). The browser says where a navigation came from in
``Sec-Fetch-Site``; one that does not send it is judged by its Referer's origin, and one that sends neither (an
older browser's typed address) counts as ours, as in the usual Fetch Metadata policy. Refused, the person gets
a page with our own link to the same address, and neither the data nor a row.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import render_template, request
from flask_login import current_user
from sqlalchemy.orm import Session

from casework.staff.models import CaseRead

VIAS = ("page", "api", "letter", "evidence", "export")  # export: everything held about a consumer
OUR_OWN = ("same-origin", "none")  # Sec-Fetch-Site values of a navigation from our pages, or typed
V = TypeVar("V", bound=Callable[..., Any])


def log_read(session: Session, case_id: int, staff_id: int, via: str, now: dt.datetime) -> None:
    """Record the read in the caller's transaction (the caller commits, also on a read-only page)."""
    if via not in VIAS:
        raise ValueError(f"unknown read channel {via!r}")
    session.add(CaseRead(case_id=case_id, staff_id=staff_id, via=via, at=now))


def log_read_now(session: Session, case_id: int, staff_id: int, via: str, now: dt.datetime) -> None:
    """For pages that only read: end the reading transaction, then write the log row in one of its own.

    On SQLite a transaction that has read cannot start writing once another connection has written since,
    so the log row must not come after the page's reads in the same transaction.
    """
    session.commit()
    log_read(session, case_id, staff_id, via, now)
    session.commit()


def _origin(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower()) if parts.scheme and parts.netloc else None


def from_our_site() -> bool:
    """Whether this navigation came from one of our pages, or from the address bar."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site.strip().lower() in OUR_OWN
    referer = request.headers.get("Referer")
    if not referer:
        return True
    return _origin(referer) == _origin(request.host_url)


def opened_from_our_site(view: V) -> V:
    """For a staff view that logs a read: from elsewhere, a page asking to open it from here instead."""
    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if from_our_site():
            return view(*args, **kwargs)
        target = request.full_path.rstrip("?")
        return render_template("staff/open_from_elsewhere.html", user=current_user, target=target,
                               reference=(request.view_args or {}).get("reference", ""))

    return cast(V, checked)
