"""Wake-up messages on the real broker: published after commit, never on rollback, never raising."""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu.simple import SimpleQueue

from casework.db import make_session_factory
from casework.jobs.dispatch import Dispatcher, dispatch_after_commit, install
from casework.runtime import Runtime
from tests.support.smtp import free_port

pytestmark = pytest.mark.worker


@pytest.fixture
def own_queue(runtime: Runtime) -> Iterator[tuple[Dispatcher, SimpleQueue]]:
    settings = dataclasses.replace(runtime.settings, queue_name=f"casework-dispatch-{uuid.uuid4().hex[:8]}")
    dispatcher = Dispatcher(settings)
    with dispatcher.client.connection_for_read() as connection:
        consumer = connection.SimpleQueue(settings.queue_name)
        yield dispatcher, consumer
        consumer.clear()
        consumer.close()
    dispatcher.close()


def received(consumer: SimpleQueue, timeout: float = 5.0) -> list[tuple[str, Any]]:
    messages = []
    while True:
        try:
            message = consumer.get(timeout=timeout if not messages else 0.5)
        except consumer.Empty:
            return messages
        message.ack()
        messages.append((message.headers["task"], message.payload[0]))


def test_a_commit_publishes_each_wake_up_once(runtime: Runtime, own_queue: tuple[Dispatcher, SimpleQueue]) -> None:
    dispatcher, consumer = own_queue
    sessions = make_session_factory(runtime.engine)
    install(sessions, dispatcher)
    with sessions.begin() as session:
        dispatch_after_commit(session, "letters.render", [41])
        dispatch_after_commit(session, "mail.send", [7])
    assert received(consumer) == [("letters.render", [41]), ("mail.send", [7])]


def test_a_rollback_publishes_nothing(runtime: Runtime, own_queue: tuple[Dispatcher, SimpleQueue]) -> None:
    dispatcher, consumer = own_queue
    sessions = make_session_factory(runtime.engine)
    install(sessions, dispatcher)
    with sessions() as session:
        dispatch_after_commit(session, "letters.render", [41])
        session.rollback()
        dispatch_after_commit(session, "letters.render", [42])
        session.commit()
    assert received(consumer) == [("letters.render", [42])]


def test_a_dead_broker_is_logged_and_left_to_the_relay(runtime: Runtime, tmp_path: Any,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    if runtime.settings.broker_url.startswith("redis"):
        dead = f"redis://127.0.0.1:{free_port()}/0"
    else:
        dead = f"sqla+sqlite:///{tmp_path / 'no-such-dir' / 'broker.sqlite'}"
    dispatcher = Dispatcher(dataclasses.replace(runtime.settings, broker_url=dead))
    with caplog.at_level(logging.WARNING, logger="casework.jobs"):
        assert dispatcher.send("letters.render", [9]) is False
    dispatcher.close()
    assert any("could not publish letters.render[9]" in r.getMessage() for r in caplog.records)


def test_a_broken_producer_is_replaced(own_queue: tuple[Dispatcher, SimpleQueue]) -> None:
    dispatcher, consumer = own_queue
    assert dispatcher.send("letters.render", [1])
    dispatcher._producer().connection.close()  # the broker dropped us between two messages
    dispatcher.send("letters.render", [2])  # may be refused once; the next one goes through
    assert dispatcher.send("letters.render", [3])
    assert [args for _, args in received(consumer)][-1] == [3]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_publishes_on_its_own_connection(own_queue: tuple[Dispatcher, SimpleQueue]) -> None:
    dispatcher, consumer = own_queue
    assert dispatcher.send("letters.render", [1])
    pid = os.fork()
    if pid == 0:  # the child must not write on its parent's socket
        try:
            os._exit(0 if dispatcher.send("letters.render", [2]) else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert dispatcher.send("letters.render", [3])
    assert sorted(received(consumer)) == [("letters.render", [1]), ("letters.render", [2]), ("letters.render", [3])]
