"""E-mails keep no live secret: ``outbound_emails.sealed_secrets`` holds them, encrypted, until a message is sent.

Messages stored before this kept consumers' private links, codes and unsubscribe links in their bodies. Those of
messages no longer waiting to be sent are removed here (the same ``[removed]`` the record shows for new ones);
one still pending keeps its text, since it has yet to be delivered as written.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

REDACTED = "[removed]"
# A private link's token (32 random bytes, URL-safe base64), a code with its dash (Crockford base 32, as issued),
# and a signed unsubscribe token.
LINKS = (
    (re.compile(r"(/c/)[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(/reminders/unsubscribe/)[A-Za-z0-9_.-]+"), rf"\g<1>{REDACTED}"),
)
CODE = (re.compile(r"(?<![0-9A-Z])[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}(?![0-9A-Z])"), REDACTED)
# Only these messages carried a code; elsewhere (a letter to a company) such a pair of words may be anything.
KINDS_WITH_CODES = ("confirm_letter", "case_without_letter", "erasure_code")
BATCH = 500

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
emails = sa.table(
    "outbound_emails",
    sa.column("id", sa.Integer()), sa.column("status", sa.String()), sa.column("kind", sa.String()),
    sa.column("body_text", sa.Text()), sa.column("body_html", sa.Text()), sa.column("headers", JSON),
    sa.column("attachments", JSON),
)


def _cleaner(kind: str) -> Callable[[str | None], str | None]:
    patterns = LINKS + ((CODE,) if kind in KINDS_WITH_CODES else ())

    def clean(text: str | None) -> str | None:
        if text is None:
            return None
        for pattern, replacement in patterns:
            text = pattern.sub(replacement, text)
        return text

    return clean


def _unfolded(attachments: list[dict[str, Any]], clean: Callable[[str | None], str | None]) -> list[dict[str, Any]]:
    """A calendar entry's folded lines could split a link: unfold it before cleaning (readers accept long lines)."""
    return [{**ref, "ics": clean(re.sub(r"\r\n[ \t]", "", str(ref["ics"])))} if "ics" in ref else ref
            for ref in attachments or []]


def upgrade() -> None:
    with op.batch_alter_table("outbound_emails") as batch_op:
        batch_op.add_column(sa.Column("sealed_secrets", sa.Text(), nullable=True))
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(sa.select(emails).where(emails.c.id > last, emails.c.status != "pending")
                            .order_by(emails.c.id).limit(BATCH)).all()
        if not rows:
            break
        for row in rows:
            clean = _cleaner(row.kind)
            values = {"body_text": clean(row.body_text), "body_html": clean(row.body_html),
                      "headers": {name: clean(value) for name, value in (row.headers or {}).items()},
                      "attachments": _unfolded(row.attachments, clean)}
            if values != {"body_text": row.body_text, "body_html": row.body_html, "headers": row.headers or {},
                          "attachments": row.attachments or []}:
                bind.execute(sa.update(emails).where(emails.c.id == row.id).values(**values))
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("outbound_emails") as batch_op:
        batch_op.drop_column("sealed_secrets")
