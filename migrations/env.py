"""Alembic environment: the URL comes from casework's settings; every model is imported."""

from __future__ import annotations

import warnings
from logging.config import fileConfig

from alembic import context

import casework.models  # noqa: F401 - registers every table on the metadata
from casework.config import load_settings
from casework.db import make_engine, metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else load_settings().database_url


# Expression indexes that SQLite cannot reflect: created by their migration, left out of comparisons.
UNCOMPARED_INDEXES = frozenset({"ix_cases_email_lower"})
for _name in UNCOMPARED_INDEXES:
    warnings.filterwarnings("ignore", message=f"Skipped unsupported reflection of expression-based index {_name}")


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "index" and name in UNCOMPARED_INDEXES)


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(database_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True,
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
