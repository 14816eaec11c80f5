"""Jinja environment for e-mails, shared by the web app and the worker (autoescape on for HTML)."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from casework.config import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "templates"


@cache
def email_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "emails"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_email(name: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Render ``<name>.subject.txt``, ``<name>.txt`` and ``<name>.html``."""
    env = email_environment()
    subject = env.get_template(f"{name}.subject.txt").render(context).strip()
    text = env.get_template(f"{name}.txt").render(context)
    html = env.get_template(f"{name}.html").render(context)
    return subject, text, html
