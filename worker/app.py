"""The Celery app, configured from the same settings as the web app (``celery -A worker.app …``)."""

from __future__ import annotations

from celery import Celery
from flask import Flask

from casework import create_app
from casework.jobs.dispatch import broker_options
from casework.runtime import Runtime, runtime_of
from worker.schedule import beat_schedule


def make_celery(flask_app: Flask) -> Celery:
    runtime = runtime_of(flask_app)
    settings = runtime.settings
    celery = Celery("casework")
    celery.conf.update(broker_options(settings))
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=settings.worker_max_tasks_per_child,
        worker_max_memory_per_child=400_000,  # KiB: a leaking renderer is replaced, not kept
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        beat_schedule=beat_schedule(settings),
        timezone="UTC",
        # The embedded broker has no fanout: no remote control, events or gossip there.
        worker_enable_remote_control=not settings.embedded_broker,
        worker_send_task_events=False,
        include=["worker.tasks"],
    )
    celery.conf["casework_runtime"] = runtime
    return celery


flask_app = create_app()
app = make_celery(flask_app)


def runtime() -> Runtime:
    value: Runtime = app.conf["casework_runtime"]
    return value
