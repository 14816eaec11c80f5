"""What a running process shares: settings, the engine and session factory, the dispatcher.

Built once by ``create_app`` and kept in ``app.extensions``; the worker and the CLI use the same
object, so web, worker and commands agree on every setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from casework.config import Settings
from casework.db import make_engine, make_session_factory
from casework.jobs.dispatch import Dispatcher, install
from casework.timesource import set_offset

SETTINGS_KEY = "casework.settings"  # every session carries the settings, for hooks deep in the workflow


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        if settings.clock_offset_seconds:
            set_offset(settings.clock_offset_seconds)
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        dispatcher = Dispatcher(settings)
        install(sessions, dispatcher)
        sessions.kw["info"][SETTINGS_KEY] = settings
        return cls(settings, engine, sessions, dispatcher)


def runtime_of(app: Flask | None = None) -> Runtime:
    runtime: Runtime = (app or current_app).extensions["casework"]
    return runtime
