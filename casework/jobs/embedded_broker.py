"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file, made usable for Celery.

kombu hands every transport option to ``create_engine``, including ``polling_interval``, which
SQLAlchemy rejects; without it the transport polls once a second. This subclass keeps the
transport's own options away from the engine. Registered for ``sqla+`` and ``sqlalchemy+`` URLs.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqla

_TRANSPORT_ONLY = ("polling_interval",)


class Channel(kombu_sqla.Channel):
    def _engine_from_config(self) -> Any:
        client: Any = self.connection.client
        saved = dict(client.transport_options)
        try:
            for key in _TRANSPORT_ONLY:
                client.transport_options.pop(key, None)
            return super()._engine_from_config()
        finally:
            client.transport_options.clear()
            client.transport_options.update(saved)


class Transport(kombu_sqla.Transport):
    Channel = Channel


def register() -> None:
    for alias in ("sqla", "sqlalchemy"):
        TRANSPORT_ALIASES[alias] = f"{__name__}:Transport"


__all__ = ["Transport", "register"]
