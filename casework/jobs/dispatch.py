"""Wake-up messages to the workers, sent only after the transaction that made the job commits.

A service calls :func:`dispatch_after_commit`; the message is published once the session commits
and dropped if it rolls back. Publishing never raises into the caller: when the broker is down the
row stays pending and the relay dispatches it later, so a request never fails for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from casework.config import Settings
from casework.jobs import embedded_broker, redis_broker

log = logging.getLogger("casework.jobs")
embedded_broker.register()
redis_broker.register()

_PENDING_KEY = "casework.dispatch.pending"
_DISPATCHER_KEY = "casework.dispatcher"


def broker_options(settings: Settings) -> dict[str, Any]:
    """Broker settings shared by the publisher here and the Celery worker app."""
    transport_options: dict[str, Any] = {}
    if settings.embedded_broker:
        transport_options = {"polling_interval": 0.1, "connect_args": {"timeout": 30}}
    else:
        transport_options = {"socket_connect_timeout": 3, "socket_timeout": 5}
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_timeout": 3,
        "task_default_queue": settings.queue_name,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
    }


class Dispatcher:
    """Publishes task messages by name; casework never imports the worker package."""

    def __init__(self, settings: Settings) -> None:
        self.queue = settings.queue_name
        self.client = Celery("casework-dispatch", set_as_current=False)
        self.client.conf.update(broker_options(settings))
        self._local = threading.local()

    def send(self, task_name: str, args: list[Any]) -> bool:
        try:
            self.client.send_task(task_name, args=args, queue=self.queue, retry=False, producer=self._producer())
        except Exception as exc:
            self._drop_producer()
            log.warning("could not publish %s%s; the relay will dispatch it: %s", task_name, args, exc)
            return False
        return True

    def _producer(self) -> Any:
        """This thread's producer, kept across messages: acquiring one per message cost as much as sending."""
        held = getattr(self._local, "producer", None)
        if held is None or self._local.pid != os.getpid():
            held = self.client.amqp.Producer(self.client.connection_for_write())
            self._local.producer, self._local.pid = held, os.getpid()
        return held

    def close(self) -> None:
        """Let go of this thread's broker connection (it is opened again on the next message)."""
        self._drop_producer()

    def _drop_producer(self) -> None:
        held = getattr(self._local, "producer", None)
        self._local.producer = None
        if held is not None and self._local.pid == os.getpid():
            with contextlib.suppress(Exception):  # a broken connection may refuse to close; it is dropped anyway
                held.connection.close()


def dispatch_after_commit(session: Session, task_name: str, args: list[Any]) -> None:
    session.connection()  # the transaction the message waits for (already begun when a row was written)
    session.info.setdefault(_PENDING_KEY, []).append((task_name, args))


def install(factory: sessionmaker[Session], dispatcher: Dispatcher | None) -> None:
    """Attach the dispatcher to sessions made by ``factory`` and hook commit and rollback."""
    factory.kw.setdefault("info", {})[_DISPATCHER_KEY] = dispatcher

    @event.listens_for(factory, "after_commit")
    def _publish(session: Session) -> None:
        pending = session.info.pop(_PENDING_KEY, [])
        sender: Dispatcher | None = session.info.get(_DISPATCHER_KEY)
        if sender is None:
            return
        for task_name, args in pending:
            sender.send(task_name, args)

    @event.listens_for(factory, "after_soft_rollback")
    def _discard(session: Session, previous_transaction: SessionTransaction) -> None:
        # Every rollback of the whole transaction, even one that never reached the database. A
        # savepoint's rollback keeps them: a wake-up for a row that is gone finds nothing to do.
        if not previous_transaction.nested:
            session.info.pop(_PENDING_KEY, None)
