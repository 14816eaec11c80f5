"""Valid case facts to start from; a test changes only what it is about."""

from __future__ import annotations

import dataclasses
import decimal
from typing import Any

from casework.cases.filing import NewCase
from casework.cases.states import RequestedOutcome
from tests.support.today import days_ago


def case_facts(**changes: Any) -> NewCase:
    base = NewCase(
        provider="coursera",
        plan="coursera-plus-annual",
        consumer_name="Jane Q. Consumer",
        consumer_email="jane@example.com",
        country="AU",
        timezone="Australia/Melbourne",
        requested_outcome=RequestedOutcome.CANCEL_AND_REFUND,
        payment_date=days_ago(7),
        amount_value=decimal.Decimal("599.00"),
        amount_currency="AUD",
        consumer_postal_address="12 Example Street\nBrunswick VIC 3056",
        account_identifier="jane@example.com",
        consent=True,
    )
    return dataclasses.replace(base, **changes)
