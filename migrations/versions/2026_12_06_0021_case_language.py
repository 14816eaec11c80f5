"""The language of a case (its letter, the consumer's pages and e-mails): ``cases.language``, one of en, fr, de.

Existing cases take their country's language by the rule of casework.languages (FR, BE, LU French; DE, AT, CH
German; English elsewhere), in one UPDATE that touches only the cases of those six countries.

On SQLite the column is added in place (ADD COLUMN with its NOT NULL, default and named CHECK), so ``cases`` is not
recreated and the triggers and expression index of migration 0009 stay as they are; its DEFAULT 'en' stays in
that database's schema, where nothing relies on it (filing always names the language). On PostgreSQL the default
only fills the new column at once and is dropped again.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# The rule as it stands in casework.languages today, written out: a migration does not follow later changes.
COUNTRY_LANGUAGES = {"FR": "fr", "BE": "fr", "LU": "fr", "DE": "de", "AT": "de", "CH": "de"}
CHECK = "language IN ('en', 'fr', 'de')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE cases ADD COLUMN language VARCHAR(2) DEFAULT 'en' NOT NULL "
                   f"CONSTRAINT ck_cases_language CHECK ({CHECK})")
    else:
        op.add_column("cases", sa.Column("language", sa.String(2), server_default="en", nullable=False))
        op.create_check_constraint("language", "cases", CHECK)  # named ck_cases_language by the convention
    for language in sorted(set(COUNTRY_LANGUAGES.values())):
        countries = sorted(code for code, spoken in COUNTRY_LANGUAGES.items() if spoken == language)
        op.execute(sa.text("UPDATE cases SET language = :language WHERE country IN :countries")
                   .bindparams(sa.bindparam("countries", expanding=True), language=language, countries=countries))
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("cases", "language", server_default=None, existing_type=sa.String(2),
                        existing_nullable=False)


def downgrade() -> None:
    # SQLite drops it in place too: its only CHECK is the column's own, and no index or trigger names it.
    op.drop_column("cases", "language")
