"""The languages a case can be in: its letter, the consumer's pages and e-mails (API.md 1.1, ``language``).

A case records one of them; when the consumer does not choose, it comes from their country. Each language is
offered under its own name, so a consumer finds theirs whatever language the page is in.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Language = Literal["en", "fr", "de"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
# Each language in itself, as a choice shows it (with ``lang`` set to the code).
NAMES: Final[dict[Language, str]] = {"en": "English", "fr": "Français", "de": "Deutsch"}
# Where the consumer's country speaks one of them; English everywhere else.
COUNTRY_LANGUAGES: Final[dict[str, Language]] = {
    "FR": "fr", "BE": "fr", "LU": "fr",
    "DE": "de", "AT": "de", "CH": "de",
}
DEFAULT: Final[Language] = "en"


def default_language(country: str | None) -> Language:
    """The language of a consumer who has not chosen one: their country's (API.md), else English."""
    return COUNTRY_LANGUAGES.get((country or "").upper(), DEFAULT)
