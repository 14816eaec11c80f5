"""What a letter asks, by name: the four requests of POLICY-FACTS §2 "What the letter asks".

The first letter chooses its request from the facts of its day; every later letter asks the same again, so the
request is frozen in each snapshot (``asked``). Letters frozen before requests were recorded asked the old way:
:func:`request_of_earlier` reads them as that.
"""

from __future__ import annotations

from typing import Any

STOP_RENEWAL = "stop_renewal"            # end at the end of the paid period; no payment from the renewal on
REFUND_AND_CANCEL = "refund_and_cancel"  # end now and refund, or else end at the end of the paid period
END_TRIAL = "end_trial"                  # end within the free trial; no payment on the first-charge day
ONE_TIME_REFUND = "one_time_refund"      # nothing to renew: the refund of the purchase
REQUESTS = (STOP_RENEWAL, REFUND_AND_CANCEL, END_TRIAL, ONE_TIME_REFUND)


def request_of_earlier(first: dict[str, Any]) -> dict[str, Any]:
    """What an earlier letter asked; a letter frozen before requests were recorded asked the old way."""
    asked = first.get("asked")
    if asked:
        return dict(asked)
    return {"request": REFUND_AND_CANCEL if first.get("ask_refund") else STOP_RENEWAL,
            "refund": bool(first.get("ask_refund")), "refund_eligibility": None, "refund_basis": None,
            "access_until": None, "renewal_date": None, "first_charge_date": None}
