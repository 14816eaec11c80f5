"""What a running process shares: settings, the engine and session factory, the dispatcher.

Built once by ``create_app`` and kept in ``app.extensions``; the worker and the CLI use the same
object, so web, worker and commands agree on every setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, has_app_context
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from casework.config import Settings
from casework.db import make_engine, make_session_factory
from casework.jobs.dispatch import Dispatcher, install
from casework.timesource import set_offset

# Every session carries the settings, for the one caller that is not handed them: the tests' shortcut
# casework.cases.workflow.transition (a transition with the consumer's e-mail about it).
SETTINGS_KEY = "casework.settings"


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


def session_settings(session: Session) -> Settings | None:
    """The settings a session was made with, else the current app's (a test's session), else None."""
    settings = session.info.get(SETTINGS_KEY)
    if isinstance(settings, Settings):
        return settings
    return runtime_of().settings if has_app_context() else None
