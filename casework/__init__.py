"""casework: formal subscription-cancellation requests, tracked until each has an outcome."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from casework.version import __version__ as __version__


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app; ``config`` overrides settings (tests), the environment fills in the rest."""
    from casework.config import PROJECT_ROOT, ConfigError, load_settings
    from casework.runtime import Runtime

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        raise SystemExit(f"casework cannot start: {exc}") from None
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"), static_folder="static")
    app.config.update(SECRET_KEY=settings.secret_key)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the contract's field order
    app.extensions["casework"] = Runtime.build(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic.runtime.plugins", "weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from casework import cli, health, presentation, site, web
    from casework.api import catalog as api_catalog
    from casework.api import consumer_cases as api_cases
    from casework.api import staff as api_staff
    from casework.cases import views as consumer_views
    from casework.cases import wizard
    from casework.evidence import views as evidence_views
    from casework.privacy import api as api_privacy
    from casework.privacy import views as privacy_views
    from casework.reminders import views as reminder_views
    from casework.staff import queue_views, stats_views, token_views
    from casework.staff import user_views as staff_user_views
    from casework.staff import views as staff_views

    web.init_web(app)
    presentation.register(app)
    site.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(consumer_views.bp)
    app.register_blueprint(staff_views.bp)
    app.register_blueprint(staff_user_views.bp)
    app.register_blueprint(queue_views.bp)
    app.register_blueprint(token_views.bp)
    app.register_blueprint(stats_views.bp)
    app.register_blueprint(wizard.bp)
    app.register_blueprint(evidence_views.bp)
    app.register_blueprint(reminder_views.bp)
    app.register_blueprint(privacy_views.bp)
    app.register_blueprint(api_catalog.bp)
    app.register_blueprint(api_cases.bp)
    app.register_blueprint(api_staff.bp)
    app.register_blueprint(api_privacy.bp)
    for blueprint in (api_catalog.bp, api_cases.bp, api_privacy.bp):
        web.csrf.exempt(blueprint)  # no cookies authenticate the API
    web.limiter.exempt(health.bp)
    cli.register(app)
    return app
