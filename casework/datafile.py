"""Reading hand-written TOML data files strictly: every mistake names the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn


class TableReader:
    """One TOML table: values are taken by key, unknown keys are an error, ``fail`` names the field."""

    error: type[Exception] = ValueError

    def __init__(self, path: Path, where: str, table: Any) -> None:
        self.path, self.where = path, where
        if not isinstance(table, dict):
            self.fail("", "must be a table")
        self.table: dict[str, Any] = table
        self.seen: set[str] = set()

    def fail(self, key: str, why: str) -> NoReturn:
        name = f"{self.where}.{key}" if self.where and key else (self.where or key)
        raise self.error(f"{self.path.name}: {name}: {why}")

    def value(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.table:
            if required:
                self.fail(key, "is missing")
            return None
        return self.table[key]

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            self.fail(unknown[0], "unknown field")
