"""What typed text may hold: one line for names, addresses and identifiers; line breaks only in long text.

A name or an e-mail address ends up in an e-mail header, a subject or a PDF line, where a line break, another
control character or a Unicode line separator either breaks the message (it can never be sent) or changes
its meaning (a second header). So single-line fields refuse them all, and multi-line fields (a postal
address, details, a summary) keep their line breaks and tabs but refuse every other control character.
"""

from __future__ import annotations

import re
from email.headerregistry import Address, AddressHeader, HeaderRegistry
from typing import cast

# C0 controls (tab and line breaks included), DEL, C1 controls (NEL among them), and U+2028/U+2029.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same, less what a multi-line text keeps: tab, line feed, carriage return and the Unicode separators.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

ONE_LINE = "must be a single line without control characters"
NO_CONTROLS = "must not contain control characters (line breaks are fine)"


def is_one_line(value: str) -> bool:
    """True when ``value`` fits a header or a single line: no control character, no line separator."""
    return _NOT_ONE_LINE.search(value) is None


def is_clean_text(value: str) -> bool:
    """True when ``value`` holds no control character other than tab and line breaks."""
    return _NOT_TEXT.search(value) is None


def flattened(value: str) -> str:
    """``value`` on one line: control characters and line separators become spaces, runs of spaces one.

    Only for courtesy text that may be shortened or tidied (a display name); stored input is refused instead.
    """
    return " ".join(_NOT_ONE_LINE.sub(" ", value).split())


def single_line(value: str) -> str:
    """A pydantic validator: refuse a value that is not one clean line."""
    if not is_one_line(value):
        raise ValueError(ONE_LINE)
    return value


def multi_line(value: str) -> str:
    """A pydantic validator: refuse control characters other than tab and line breaks."""
    if not is_clean_text(value):
        raise ValueError(NO_CONTROLS)
    return value


_HEADERS = HeaderRegistry()


def addresses_in(text: str) -> tuple[Address, ...]:
    """The addresses an address header (``To``, ``Reply-To``…) written as ``text`` would hold."""
    return tuple(cast(AddressHeader, _HEADERS("To", text)).addresses)
