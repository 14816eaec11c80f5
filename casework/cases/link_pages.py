"""What following a consumer link shows when it no longer opens the case: the case's details are deleted, or the
link expired or was revoked (with the way to a new one). An unknown token stays a plain 404."""

from __future__ import annotations

from flask import Response, abort, render_template
from sqlalchemy import select

from casework.cases.models import Case
from casework.cases.tokens import CONSUMER_LINK_IDLE_DAYS, FoundToken, LinkState, find_token
from casework.catalog import default_catalog
from casework.db import utcnow
from casework.letters.models import Letter
from casework.runtime import runtime_of
from casework.web import db


def erased_page(case: Case) -> Response:
    """What a link to a case whose details are deleted shows: that, and what anonymous record is left."""
    provider = default_catalog().get(case.provider_slug)
    plan = provider.plan(case.plan_slug) if provider else None
    company = (case.company or {}).get("name") or (provider.name if provider else case.provider_slug)
    plan_name = (case.company or {}).get("plan_name") or (plan.name if plan else case.plan_slug)
    letters = list(db().scalars(select(Letter).where(Letter.case_id == case.id, Letter.sha256.is_not(None))
                                .order_by(Letter.id)))
    return Response(render_template("privacy/erased.html", case=case, company=company, letters=letters,
                                    plan=plan_name))


def gone_page(state: LinkState) -> Response:
    """410: the link was real but no longer opens the case; says why and how to get a new one."""
    return Response(render_template("cases/link_gone.html", expired=state is LinkState.EXPIRED,
                                    idle_days=CONSUMER_LINK_IDLE_DAYS), 410)


def found_or_404(token: str) -> FoundToken:
    found = find_token(db(), runtime_of().settings.secret_key, token, utcnow())
    if found is None:
        abort(404)
    return found


def live_link(token: str) -> FoundToken:
    """The live token of a consumer page; otherwise the page the request ends with."""
    found = found_or_404(token)
    if found.state is LinkState.ERASED:
        abort(erased_page(found.case))  # every page of the link says the details are gone, and what is left
    if found.state is not LinkState.LIVE:
        abort(gone_page(found.state))
    return found


def link_case(token: str) -> Case:
    """The case a consumer page's token opens; otherwise the page the request ends with."""
    return live_link(token).case
