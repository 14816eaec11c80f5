"""What never reaches a log line: consumers' secret links and codes, e-mail addresses and staff searches.

Logs are kept longer and read by more people than the database's personal data, and are not covered by
erasure: a status link in a log opens the case, an address in a log outlives the case's deletion. The web layer's
access-log filter and the mail job's failure lines go through here.
"""

from __future__ import annotations

import re

_SECRET_IN_URL = re.compile(r"(/c/)[A-Za-z0-9_-]{16,}|(code=)[A-Za-z0-9-]+")
# A staff search (``q=``) holds a name or an address, and the sign-in page's ``next=`` the whole URL a search
# was sent to: both are blanked whole, in any encoding.
_SEARCH_IN_URL = re.compile(r"(?<=[?&;])((?:q|next)=)[^&;\s\"']*")
# The local part's usual characters only: in a URL a "/" or "=" before it is the path's or the query's.
_ADDRESS = re.compile(r"(?P<first>[A-Za-z0-9_])[A-Za-z0-9._%+-]*?(?:@|%40|%2540)"
                      r"(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def redact_addresses(text: str) -> str:
    """Every e-mail address (also percent-encoded) as ``j***@example.com``: enough to tell cases apart, not to
    write to anyone."""
    return _ADDRESS.sub(lambda m: f"{m.group('first')}***@{m.group('domain')}", text)


def redact(text: str) -> str:
    """A log line with consumers' links and codes blanked, staff searches blanked and addresses shortened."""
    text = _SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)
    text = _SEARCH_IN_URL.sub(r"\1[redacted]", text)
    return redact_addresses(text)
