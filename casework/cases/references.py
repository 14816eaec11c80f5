"""Case references: ``CW-<year>-`` and 8 random Crockford base32 characters (40 bits)."""

from __future__ import annotations

import re
import secrets

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_RE = re.compile(r"^CW-\d{4}-[0-9A-HJKMNP-TV-Z]{8}$")


def new_reference(year: int) -> str:
    bits = secrets.randbits(40)
    chars = "".join(CROCKFORD[(bits >> shift) & 0x1F] for shift in range(35, -1, -5))
    return f"CW-{year}-{chars}"


def is_reference(value: str) -> bool:
    return bool(REFERENCE_RE.match(value))
