"""The Redis broker, publishing through one client per channel.

kombu's Redis channel builds a new ``redis.Redis`` client (and its table of response callbacks) for
every message it publishes; at filing rates that was a quarter of a web worker's time. This channel
keeps one client for as long as its connection pool lives. Registered for ``redis://`` URLs.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _sync_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[misc]
        client = self._sync_client
        if client is None or client.connection_pool is not self.pool:
            client = self._sync_client = super()._create_client()  # type: ignore[misc]
        return client


class Transport(kombu_redis.Transport):
    Channel = Channel


def register() -> None:
    TRANSPORT_ALIASES["redis"] = f"{__name__}:Transport"


__all__ = ["Transport", "register"]
