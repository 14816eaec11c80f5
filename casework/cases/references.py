"""Case references: ``CW-<year>-`` and 8 random Crockford base32 characters (40 bits)."""

from __future__ import annotations

import re
import secrets

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_RE = re.compile(r"^CW-\d{4}-[0-9A-HJKMNP-TV-Z]{8}$")


def new_reference(year: int) -> str:
    return encode_reference(year, secrets.randbits(40))


def encode_reference(year: int, bits: int) -> str:
    """40 bits as 8 Crockford base32 characters, most significant first."""
    chars = "".join(CROCKFORD[(bits >> shift) & 0x1F] for shift in range(35, -1, -5))
    return f"CW-{year}-{chars}"


def decode_reference(reference: str) -> int:
    """The 40 random bits of a well-formed reference."""
    value = 0
    for char in reference[-8:]:
        value = value << 5 | CROCKFORD.index(char)
    return value


def is_reference(value: str) -> bool:
    return bool(REFERENCE_RE.match(value))
