"""Finding live consumer secrets (access tokens, private links, codes) where they rest: database, var/, exports.

A secret is searched for as issued, URL-encoded and HTML-escaped, a code also without its dash, and a long token
also as any 20-character slice of it (a folded calendar line or a quoted-printable soft break splits a URL).
A finding names the place and the kind of secret, never the secret.
"""

from __future__ import annotations

import contextlib
import email
import html
import io
import json
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

SLICE = 20
LINK = re.compile(r"/c/([A-Za-z0-9_-]{16,})")
CODE_QUERY = re.compile(r"[?&](?:amp;)?code=([^&\s\"'<>]+)")
CODE_PHRASE = re.compile(r"\bcode is ([0-9A-Z]{4}-[0-9A-Z]{4})\b")
UNSUBSCRIBE = re.compile(r"/reminders/unsubscribe/([A-Za-z0-9_.-]{16,})")


@dataclass(frozen=True)
class Secret:
    kind: str  # e.g. "link token from the reminder e-mail"
    value: str = field(repr=False)  # never printed

    def forms(self) -> set[str]:
        found = {self.value, quote(self.value, safe=""), html.escape(self.value)}
        if len(self.value) <= 12:  # a code, typed with or without its dash
            found.add(self.value.replace("-", ""))
        if len(self.value) >= 2 * SLICE:
            found |= {self.value[i:i + SLICE] for i in range(len(self.value) - SLICE + 1)}
        return {f for f in found if len(f) >= 8}


@dataclass(frozen=True, order=True)
class Finding:
    place: str
    kind: str

    def __str__(self) -> str:
        return f"{self.place}: {self.kind}"


def _leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value (keys too) with its path, list indexes written ``[*]``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, str(key)
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, f"{path}[*]")
    elif isinstance(value, bytes | memoryview):
        yield from _blob(bytes(value), path)
    elif isinstance(value, str):
        yield path, value


def _blob(data: bytes, path: str) -> Iterator[tuple[str, str]]:
    """Bytes as they are (latin-1 keeps every byte), a ZIP's members and an e-mail's decoded parts too."""
    yield path, data.decode("latin-1")
    if data.startswith(b"PK\x03\x04"):
        with contextlib.suppress(zipfile.BadZipFile), zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                yield from _blob(archive.read(name), f"{path}!{name}")
    elif path.endswith(".eml"):
        for part in email.message_from_bytes(data).walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                yield path, payload.decode("latin-1")


def _findings(leaves: Iterable[tuple[str, str]], secrets: list[Secret]) -> list[Finding]:
    wanted = [(s.kind, s.forms()) for s in secrets]
    return sorted({Finding(place, kind) for place, text in leaves for kind, forms in wanted
                   if any(form in text for form in forms)})


def scan_database(engine: Engine, secrets: list[Secret]) -> list[Finding]:
    """Every text, JSON and binary value of every table of the live database (reflected: new tables count)."""
    metadata = MetaData()
    with warnings.catch_warnings():  # an expression index is not reflected; its table and columns are
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection")
        metadata.reflect(bind=engine)

    def leaves() -> Iterator[tuple[str, str]]:
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(table.select()):
                    for column, value in row._mapping.items():
                        yield from _leaves(value, f"{table.name}.{column}")

    return _findings(leaves(), secrets)


def _files(folder: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with contextlib.suppress(FileNotFoundError):  # a temporary file that went meanwhile
            yield from _blob(path.read_bytes(), str(path.relative_to(folder)))


def scan_files(folder: Path, secrets: list[Secret]) -> list[Finding]:
    """Every file under ``folder``, read as bytes."""
    return _findings(_files(folder), secrets)


def scan_export(archive: bytes, secrets: list[Secret]) -> list[Finding]:
    """A personal-data export: ``export.json`` by key, every other member as bytes."""
    leaves: list[tuple[str, str]] = []
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        for name in opened.namelist():
            data = opened.read(name)
            leaves += _leaves(json.loads(data), name) if name.endswith(".json") else _blob(data, name)
    return _findings(leaves, secrets)


def message_texts(message: Message) -> Iterator[str]:
    """The headers and every text part as a reader sees it: HTML unescaped, calendar lines unfolded."""
    yield "\n".join(str(value) for value in message.values())
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        text = payload.decode(part.get_content_charset() or "utf-8", "replace")
        if part.get_content_type() == "text/html":
            text = html.unescape(text)
        elif part.get_content_type() == "text/calendar":
            text = re.sub(r"\r?\n[ \t]", "", text).replace("\\,", ",").replace("\\;", ";")
        yield text


def secrets_in_message(message: Message, source: str) -> set[Secret]:
    """The private-link tokens and codes an e-mail carries; ``source`` says which e-mail (e.g. its kind)."""
    found: set[Secret] = set()
    for text in message_texts(message):
        found |= {Secret(f"link token from the {source} e-mail", t) for t in LINK.findall(text)}
        found |= {Secret(f"code from the {source} e-mail", unquote(c)) for c in CODE_QUERY.findall(text)}
        found |= {Secret(f"code from the {source} e-mail", c) for c in CODE_PHRASE.findall(text)}
        found |= {Secret(f"unsubscribe token from the {source} e-mail", t) for t in UNSUBSCRIBE.findall(text)}
    return found
