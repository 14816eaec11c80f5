"""``flask --app casework purge`` and ``export-consumer``: retention and access from the command line."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import click
from flask.cli import with_appcontext

from casework.cases.schemas import normalised_email
from casework.db import utcnow
from casework.privacy.export import build_export, cases_of_email
from casework.privacy.retention import count_due, purge_batch
from casework.runtime import runtime_of
from casework.staff.models import CaseRead

_AGE = re.compile(r"^(\d{1,5})([dy])$")


def parse_cutoff(value: str, now: dt.datetime) -> dt.datetime:
    """``90d``, ``2y`` (before this long ago) or ``2025-01-31`` (before that day began, UTC)."""
    raw = value.strip().lower()
    match = _AGE.match(raw)
    if match:
        count, unit = int(match.group(1)), match.group(2)
        if unit == "d":
            return now - dt.timedelta(days=count)
        if count >= now.year:
            raise ValueError("that is too long ago")
        # 29 February counted back in years is taken as 28 February (a day earlier in leap years: the safe side).
        return now.replace(year=now.year - count, day=28 if (now.month, now.day) == (2, 29) else now.day)
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError("give an age such as 90d or 2y, or a date such as 2025-01-31") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@click.command("purge")
@with_appcontext
@click.option("--older-than", "older_than", required=True, metavar="<N>d|<N>y|YYYY-MM-DD",
              help="Cases finished (resolved or closed) before this long ago, or before this date.")
@click.option("--dry-run", is_flag=True, help="Only count the cases; change nothing.")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 5000))
def purge(older_than: str, dry_run: bool, batch_size: int) -> None:
    """Delete the personal data of finished cases, keeping their anonymous record."""
    runtime = runtime_of()
    now = utcnow()
    try:
        cutoff = parse_cutoff(older_than, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    if cutoff > now:
        raise click.BadParameter("the cut-off is in the future", param_hint="--older-than")
    with runtime.sessions() as session:
        due = count_due(session, cutoff)
    day = f"{cutoff:%Y-%m-%d %H:%M} UTC"
    if dry_run:
        click.echo(f"{due} finished case{'s' if due != 1 else ''} from before {day} would lose their personal "
                   "data (dry run: nothing was changed).")
        return
    erased = 0
    after_id = 0
    with click.progressbar(length=due, label="Deleting personal data", show_pos=True) as bar:
        while True:
            done, after_id, seen = purge_batch(runtime, cutoff, after_id, batch_size, now)
            erased += done
            bar.update(done)
            if seen < batch_size:
                break
    click.echo(f"Deleted the personal data of {erased} case{'s' if erased != 1 else ''} finished before {day}; "
               "their anonymous records remain.")


@click.command("export-consumer")
@with_appcontext
@click.option("--email", required=True, help="The consumer's e-mail address (all their cases).")
@click.option("--output", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Where to write the ZIP.")
def export_consumer(email: str, output: Path) -> None:
    """Write everything held about one consumer (by e-mail address) to a ZIP; each case logs the export."""
    runtime = runtime_of()
    try:
        address = normalised_email(email.strip())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--email") from None
    now = utcnow()
    with runtime.sessions.begin() as session:
        cases = cases_of_email(session, address)
        exported = build_export(session, cases, address, now)
        # Who ran it is the operator of this machine, not a staff account: logged without a name.
        session.add_all(CaseRead(case_id=case_id, staff_id=None, via="export", at=now) for case_id in exported.case_ids)
    output.write_bytes(exported.data)
    count = len(exported.case_ids)
    click.echo(f"Wrote {output} ({len(exported.data)} bytes): {count} case{'s' if count != 1 else ''} of {address}.")

