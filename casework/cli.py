"""``flask --app casework …`` commands: database, catalog, staff accounts and filing a case."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import cast
from zoneinfo import ZoneInfo

import click
from flask import Flask
from flask.cli import AppGroup

from casework import migrate
from casework.assess import consumer_today
from casework.cases.filing import CaseError, NewCase, file_case
from casework.cases.states import BillingChannel, RequestedOutcome
from casework.cases.tokens import status_url
from casework.catalog import CatalogError, default_catalog
from casework.countries import zone_for_country
from casework.db import utcnow
from casework.languages import LANGUAGES, Language
from casework.privacy.commands import export_consumer, purge
from casework.runtime import runtime_of
from casework.staff.accounts import (
    StaffError,
    create_staff,
    disable_staff,
    enable_staff,
    ensure_first_supervisor,
    find_staff,
    reset_password,
)

db_cli = AppGroup("db", help="Database migrations.")
catalog_cli = AppGroup("catalog", help="The company catalog.")
staff_cli = AppGroup("staff", help="Staff accounts.")
case_cli = AppGroup("case", help="Cases.")

@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    migrate.upgrade(runtime_of().settings.database_url, revision)


@db_cli.command("downgrade")
@click.argument("revision", default="base")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (default: base, which drops everything)."""
    migrate.downgrade(runtime_of().settings.database_url, revision)


@db_cli.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    migrate.check(runtime_of().settings.database_url)


@catalog_cli.command("check")
def catalog_check() -> None:
    """Load and validate every company data file."""
    try:
        catalog = default_catalog()
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    for provider in catalog.providers.values():
        channels = ", ".join(c.kind for c in provider.cancel_channels) or "given per case"
        click.echo(
            f"{provider.slug}: {len(provider.plans)} plans; channels: {channels}; {provider.policy_version}"
        )


@staff_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["caseworker", "supervisor"]), default="caseworker")
@click.password_option()
def staff_create(email: str, name: str, role: str, password: str) -> None:
    """Create a staff account."""
    with runtime_of().sessions.begin() as session:
        try:
            user = create_staff(session, email, name, password, role)
        except StaffError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"created {user.role} {user.email}")


@staff_cli.command("ensure")
@click.option("--email", default="supervisor@casework.localhost", show_default=True)
def staff_ensure(email: str) -> None:
    """Create a first supervisor if there is no staff account yet, and print its login once."""
    with runtime_of().sessions.begin() as session:
        created = ensure_first_supervisor(session, email)
    if created is None:
        click.echo("Staff accounts exist already; no new login created.")
        return
    user, password = created
    click.secho("A staff account was created. This password is shown only once:", bold=True)
    click.echo(f"  login:    {user.email}\n  password: {password}")
    click.echo("At the first sign-in it is replaced by a password of your own choosing.")


@staff_cli.command("disable")
@click.argument("email")
def staff_disable(email: str) -> None:
    """Disable an account; its open sessions end at once."""
    with runtime_of().sessions.begin() as session:
        try:
            user = find_staff(session, email)
            disable_staff(session, user)
        except StaffError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"disabled {user.email}")


@staff_cli.command("enable")
@click.argument("email")
def staff_enable(email: str) -> None:
    """Enable a disabled account again (its API tokens stay revoked)."""
    with runtime_of().sessions.begin() as session:
        try:
            user = find_staff(session, email)
        except StaffError as exc:
            raise click.ClickException(str(exc)) from None
        enable_staff(user)
        click.echo(f"enabled {user.email}")


@staff_cli.command("reset-password")
@click.argument("email")
def staff_reset_password(email: str) -> None:
    """Give an account a new random password, printed once; its open sessions end."""
    with runtime_of().sessions.begin() as session:
        try:
            user = find_staff(session, email)
        except StaffError as exc:
            raise click.ClickException(str(exc)) from None
        password = reset_password(session, user)
        address = user.email
    click.secho(f"The new password for {address} is shown only once:", bold=True)
    click.echo(f"  password: {password}")
    click.echo("At the next sign-in its owner replaces it with one of their own choosing.")


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _not_in_future(facts: NewCase) -> None:
    """The dates a consumer gives are not after their today, on the command line as on the form and the API."""
    today = consumer_today(utcnow(), facts.timezone)
    for name in ("payment_date", "trial_start_date", "subscription_start_date"):
        day = getattr(facts, name)
        if day is not None and day > today:
            raise click.BadParameter(f"{day} is after today in {facts.timezone} ({today})",
                                     param_hint="--" + name.replace("_", "-"))


@case_cli.command("file")
@click.option("--provider", default="coursera", show_default=True)
@click.option("--plan", required=True)
@click.option("--name", "consumer_name", required=True)
@click.option("--email", "consumer_email", required=True)
@click.option("--country", required=True)
@click.option("--timezone", default=None, help="IANA zone; default from the country.")
@click.option("--payment-date", default=None, help="YYYY-MM-DD")
@click.option("--trial-start-date", default=None, help="YYYY-MM-DD")
@click.option("--subscription-start-date", default=None,
              help="YYYY-MM-DD, the day the subscription was first taken out; leave out if not known.")
@click.option("--amount", default=None, help="e.g. 599.00")
@click.option("--currency", default=None)
@click.option("--outcome", type=click.Choice([o.value for o in RequestedOutcome]), default="cancel")
@click.option("--account-identifier", default=None)
@click.option("--postal-address", default=None)
@click.option("--company-json", default=None, help="For provider 'other': the company object as JSON.")
@click.option("--language", type=click.Choice(LANGUAGES), default=None,
              help="The language of the letter and e-mails; default from the country.")
def case_file(**options: str | None) -> None:
    """File a case as its consumer would (consent given) and print its reference and link."""
    runtime = runtime_of()
    country = str(options["country"]).upper()
    try:
        facts = NewCase(
            provider=str(options["provider"]),
            plan=str(options["plan"]),
            consumer_name=str(options["consumer_name"]),
            consumer_email=str(options["consumer_email"]),
            country=country,
            timezone=options["timezone"] or zone_for_country(country),
            requested_outcome=RequestedOutcome(str(options["outcome"])),
            billing_channel=BillingChannel.DIRECT,
            payment_date=_date(options["payment_date"]),
            trial_start_date=_date(options["trial_start_date"]),
            subscription_start_date=_date(options["subscription_start_date"]),
            amount_value=decimal.Decimal(options["amount"]) if options["amount"] else None,
            amount_currency=options["currency"],
            account_identifier=options["account_identifier"],
            consumer_postal_address=options["postal_address"],
            company=json.loads(options["company_json"]) if options["company_json"] else None,
            consent=True,
            language=cast("Language | None", options["language"]),
        )
        ZoneInfo(facts.timezone)
    except (ValueError, decimal.InvalidOperation, KeyError) as exc:
        raise click.ClickException(f"bad input: {exc}") from None
    _not_in_future(facts)
    with runtime.sessions.begin() as session:
        try:
            filed = file_case(session, facts, runtime.settings.secret_key, settings=runtime.settings)
        except CaseError as exc:
            raise click.ClickException(f"{exc} {exc.fields}") from None
        reference = filed.reference
    click.echo(f"filed {reference}")
    if not filed.letter_plan.letter:
        click.echo(f"no letter: {filed.letter_plan.reason}")
    click.echo(f"status page: {status_url(runtime.settings.base_url, filed.access_token)}")


def register(app: Flask) -> None:
    for group in (db_cli, catalog_cli, staff_cli, case_cli, purge, export_consumer):
        app.cli.add_command(group)
