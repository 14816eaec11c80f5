"""Idempotency keys belong to the client that used them: a scope (the staff token, or the consumer's address,
as keyed digests) is part of the key, and rows are purged after 24 hours, so the purge reads an index.

Keys made before this revision have an empty scope that no request looks up: they were only good for a day, and
the sweep purges them. SQLite cannot drop a constraint in place, so the table is rebuilt there (it has no
triggers); on PostgreSQL the batch runs as plain ALTERs.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=80), nullable=False, server_default=""))
        batch.drop_constraint("uq_idempotency_keys_key", type_="unique")
        batch.create_unique_constraint("uq_idempotency_keys_scope", ["scope", "key"])
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("scope", server_default=None)
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.execute("DELETE FROM idempotency_keys WHERE scope <> ''")  # keys of many clients cannot share one namespace
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_constraint("uq_idempotency_keys_scope", type_="unique")
        batch.create_unique_constraint("uq_idempotency_keys_key", ["key"])
        batch.drop_column("scope")
