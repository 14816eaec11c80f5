"""The rows one filing writes, in as few SQL statements as the database allows.

Filing is the busiest write in the system, and its cost is mostly Python work per statement, not
the commit. On PostgreSQL the case, its access token, the letter job and the two events go in one
statement (data-modifying common table expressions), built and compiled once per process; on other
databases they are four Core inserts. Either way the caller's transaction holds them all.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, Select, Table, bindparam, func, insert, null, select, union_all
from sqlalchemy.orm import Session

from casework.cases.models import AccessToken, Case, CaseEvent
from casework.db import is_postgresql
from casework.letters.models import Letter

CASES = cast(Table, Case.__table__)
TOKENS = cast(Table, AccessToken.__table__)
LETTERS = cast(Table, Letter.__table__)
EVENTS = cast(Table, CaseEvent.__table__)


@dataclass(frozen=True)
class FilingRows:
    """Column values of each row; ``case_id`` (and the letter's id in its event) are filled in here."""

    case: dict[str, Any]
    token: dict[str, Any]
    filed_event: dict[str, Any]
    letter: dict[str, Any] | None = None
    letter_event: dict[str, Any] | None = None


@dataclass(frozen=True)
class InsertedIds:
    case_id: int
    letter_id: int | None


def insert_filing(session: Session, rows: FilingRows) -> InsertedIds:
    if is_postgresql(session):
        return _insert_in_one_statement(session, rows)
    return _insert_one_by_one(session, rows)


def complete(table: Table, values: dict[str, Any], *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The given values plus each missing column's Python default; other columns are left NULL."""
    unknown = set(values) - {c.name for c in _columns(table)}
    if unknown:
        raise ValueError(f"{table.name} has no column {sorted(unknown)}")
    row: dict[str, Any] = {}
    for column in _columns(table, skip):
        if column.name in values:
            row[column.name] = values[column.name]
        elif column.default is not None and column.default.is_scalar:
            row[column.name] = column.default.arg  # type: ignore[attr-defined]
        elif column.default is not None and column.default.is_callable:
            row[column.name] = column.default.arg(None)  # type: ignore[attr-defined]
        elif not column.nullable:
            raise ValueError(f"{table.name}.{column.name} needs a value")
    return row


def _columns(table: Table, skip: tuple[str, ...] = ()) -> list[Column[Any]]:
    return [c for c in table.columns if not c.primary_key and c.name not in skip]


def _insert_one_by_one(session: Session, rows: FilingRows) -> InsertedIds:
    connection = session.connection()
    result = connection.execute(insert(CASES).values(complete(CASES, rows.case)))
    case_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    connection.execute(insert(TOKENS).values(complete(TOKENS, {**rows.token, "case_id": case_id})))
    events = [complete(EVENTS, {**rows.filed_event, "case_id": case_id})]
    letter_id = None
    if rows.letter is not None and rows.letter_event is not None:
        result = connection.execute(insert(LETTERS).values(complete(LETTERS, {**rows.letter, "case_id": case_id})))
        letter_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        data = {"letter_id": letter_id, **rows.letter_event["data"]}
        events.append(complete(EVENTS, {**rows.letter_event, "case_id": case_id, "data": data}))
    names = {name for row in events for name in row}
    connection.execute(insert(EVENTS), [{name: row.get(name) for name in names} for row in events])
    return InsertedIds(case_id, letter_id)


def _insert_in_one_statement(session: Session, rows: FilingRows) -> InsertedIds:
    parts = {
        "c": complete(CASES, rows.case),
        "t": complete(TOKENS, rows.token, skip=("case_id",)),
        "f": complete(EVENTS, rows.filed_event, skip=("case_id",)),
    }
    if rows.letter is not None and rows.letter_event is not None:
        parts["l"] = complete(LETTERS, rows.letter, skip=("case_id",))
        parts["r"] = complete(EVENTS, rows.letter_event, skip=("case_id", "data"))
        parts["r"] |= {"letter_kind": rows.letter_event["data"]["kind"],
                       "letter_version": rows.letter_event["data"]["version"]}
    shape = tuple((prefix, tuple(values)) for prefix, values in parts.items())
    params = {f"{prefix}_{name}": value for prefix, values in parts.items() for name, value in values.items()}
    found = session.execute(_one_statement(shape), params).one()
    return InsertedIds(int(found[0]), int(found[1]) if "l" in parts else None)


def _binds(prefix: str, table: Table, names: tuple[str, ...]) -> list[Any]:
    return [bindparam(f"{prefix}_{name}", type_=table.c[name].type).label(name) for name in names]


@functools.cache
def _one_statement(shape: tuple[tuple[str, tuple[str, ...]], ...]) -> Select[Any]:
    """``WITH new_case AS (INSERT … RETURNING id), … SELECT`` the new ids, built once per column set.

    ``shape`` names the columns given for each part: ``c`` the case, ``t`` the token, ``f`` the filed
    event, ``l`` the letter and ``r`` its event (whose data names the new letter's id).
    """
    columns = dict(shape)
    new_case = (
        insert(CASES).values({name: bindparam(f"c_{name}", type_=CASES.c[name].type) for name in columns["c"]})
        .returning(CASES.c.id).cte("new_case")
    )
    new_token = insert(TOKENS).from_select(
        ["case_id", *columns["t"]], select(new_case.c.id, *_binds("t", TOKENS, columns["t"]))
    ).cte("new_token")
    filed_event = select(new_case.c.id, *_binds("f", EVENTS, columns["f"]))
    if "l" not in columns:
        new_events = insert(EVENTS).from_select(["case_id", *columns["f"]], filed_event).cte("new_events")
        return select(new_case.c.id).add_cte(new_token, new_events)

    new_letter = (
        insert(LETTERS).from_select(["case_id", *columns["l"]],
                                    select(new_case.c.id, *_binds("l", LETTERS, columns["l"])))
        .returning(LETTERS.c.id, LETTERS.c.case_id).cte("new_letter")
    )
    data = func.jsonb_build_object(
        "letter_id", new_letter.c.id,
        "kind", bindparam("r_letter_kind", type_=LETTERS.c.kind.type),
        "version", bindparam("r_letter_version", type_=LETTERS.c.version.type),
    )
    requested_event = select(new_letter.c.case_id, *(  # in the filed event's column order
        data.label(name) if name == "data"
        else bindparam(f"r_{name}", type_=EVENTS.c[name].type).label(name) if name in columns["r"]
        else null().label(name)
        for name in columns["f"]
    ))
    new_events = insert(EVENTS).from_select(["case_id", *columns["f"]],
                                            union_all(filed_event, requested_event)).cte("new_events")
    return select(new_letter.c.case_id, new_letter.c.id).add_cte(new_token, new_events)
