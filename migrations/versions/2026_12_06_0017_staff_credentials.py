"""Staff credentials: API tokens expire and may be read-only; a password someone else saw is changed at the next
sign-in; wrong passwords no longer lock an account (they are counted with the rate limits), so its failure count and
lock go.

Tokens made before get 90 days from their creation, the default lifetime of a new one (those older than that
have expired). Only staff tables change (no triggers there), so SQLite may recreate them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from casework.db import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

EARLIER_TOKENS_LIVE = dt.timedelta(days=90)


def upgrade() -> None:
    op.add_column("staff_api_tokens", sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("staff_api_tokens", sa.Column("read_only", sa.Boolean(), nullable=False,
                                                server_default=sa.false()))
    tokens = sa.table("staff_api_tokens", sa.column("id", sa.Integer()), sa.column("created_at", UTCDateTime()),
                      sa.column("expires_at", UTCDateTime()))
    connection = op.get_bind()
    for token_id, created_at in connection.execute(sa.select(tokens.c.id, tokens.c.created_at)).all():
        connection.execute(tokens.update().where(tokens.c.id == token_id)
                           .values(expires_at=created_at + EARLIER_TOKENS_LIVE))
    with op.batch_alter_table("staff_api_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=UTCDateTime(timezone=True), nullable=False)
        batch_op.alter_column("read_only", existing_type=sa.Boolean(), server_default=None)
    op.add_column("staff_users", sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                           server_default=sa.false()))
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.alter_column("must_change_password", existing_type=sa.Boolean(), server_default=None)
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("locked_until", UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_column("must_change_password")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.alter_column("failed_logins", existing_type=sa.Integer(), server_default=None)
    with op.batch_alter_table("staff_api_tokens", schema=None) as batch_op:
        batch_op.drop_column("read_only")
        batch_op.drop_column("expires_at")
