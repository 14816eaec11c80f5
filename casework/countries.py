"""The country → time zone table of the API contract: "today" is the date in this zone."""

from __future__ import annotations

COUNTRY_ZONES = {
    "AU": "Australia/Sydney", "NZ": "Pacific/Auckland", "GB": "Europe/London", "IE": "Europe/Dublin",
    "US": "America/New_York", "CA": "America/Toronto", "DE": "Europe/Berlin", "FR": "Europe/Paris",
    "ES": "Europe/Madrid", "IT": "Europe/Rome", "NL": "Europe/Amsterdam", "BE": "Europe/Brussels",
    "AT": "Europe/Vienna", "SE": "Europe/Stockholm", "DK": "Europe/Copenhagen", "FI": "Europe/Helsinki",
    "PL": "Europe/Warsaw", "PT": "Europe/Lisbon", "CH": "Europe/Zurich", "NO": "Europe/Oslo",
    "JP": "Asia/Tokyo", "SG": "Asia/Singapore", "IN": "Asia/Kolkata", "ZA": "Africa/Johannesburg",
    "BR": "America/Sao_Paulo",
}


def zone_for_country(country: str) -> str:
    """The zone that decides a consumer's "today" when they gave none; any other country is UTC."""
    return COUNTRY_ZONES.get(country.upper(), "UTC")


EU_MEMBER_STATES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
})
"""The 27 EU member states (ISO 3166-1 alpha-2; Greece is GR, not the EU's own EL)."""

EU = "EU"
"""The group name data files use for "a consumer in any EU member state"."""


def in_group(country: str, group: str) -> bool:
    """Whether ``country`` is ``group``: itself, ``EU`` for the member states, or ``*`` for anywhere."""
    country = country.upper()
    return group == "*" or group == country or (group == EU and country in EU_MEMBER_STATES)
