"""The region question: states, provinces and territories where the law or the time zone depends on them.

ISO 3166-2 codes with their English names, for the countries whose consumers are asked (the United States with
the District of Columbia, Canada, Australia), and the IANA zone each region's "today" is counted in when the
consumer gives none. A region split across zones takes the zone most of its people live in: Florida, Kentucky and
Michigan Eastern; Indiana, Kansas, Nebraska, North and South Dakota, Tennessee and Texas Central; Idaho and Oregon
their southern and western zones; New South Wales Sydney (not Broken Hill); Nunavut Iqaluit; the Northwest
Territories Edmonton (Yellowknife's rules).
"""

from __future__ import annotations

REGIONS: dict[str, dict[str, str]] = {
    "US": {
        "US-AL": "Alabama", "US-AK": "Alaska", "US-AZ": "Arizona", "US-AR": "Arkansas", "US-CA": "California",
        "US-CO": "Colorado", "US-CT": "Connecticut", "US-DE": "Delaware", "US-DC": "District of Columbia",
        "US-FL": "Florida", "US-GA": "Georgia", "US-HI": "Hawaii", "US-ID": "Idaho", "US-IL": "Illinois",
        "US-IN": "Indiana", "US-IA": "Iowa", "US-KS": "Kansas", "US-KY": "Kentucky", "US-LA": "Louisiana",
        "US-ME": "Maine", "US-MD": "Maryland", "US-MA": "Massachusetts", "US-MI": "Michigan", "US-MN": "Minnesota",
        "US-MS": "Mississippi", "US-MO": "Missouri", "US-MT": "Montana", "US-NE": "Nebraska", "US-NV": "Nevada",
        "US-NH": "New Hampshire", "US-NJ": "New Jersey", "US-NM": "New Mexico", "US-NY": "New York",
        "US-NC": "North Carolina", "US-ND": "North Dakota", "US-OH": "Ohio", "US-OK": "Oklahoma", "US-OR": "Oregon",
        "US-PA": "Pennsylvania", "US-RI": "Rhode Island", "US-SC": "South Carolina", "US-SD": "South Dakota",
        "US-TN": "Tennessee", "US-TX": "Texas", "US-UT": "Utah", "US-VT": "Vermont", "US-VA": "Virginia",
        "US-WA": "Washington", "US-WV": "West Virginia", "US-WI": "Wisconsin", "US-WY": "Wyoming",
    },
    "CA": {
        "CA-AB": "Alberta", "CA-BC": "British Columbia", "CA-MB": "Manitoba", "CA-NB": "New Brunswick",
        "CA-NL": "Newfoundland and Labrador", "CA-NS": "Nova Scotia", "CA-NT": "Northwest Territories",
        "CA-NU": "Nunavut", "CA-ON": "Ontario", "CA-PE": "Prince Edward Island", "CA-QC": "Quebec",
        "CA-SK": "Saskatchewan", "CA-YT": "Yukon",
    },
    "AU": {
        "AU-ACT": "Australian Capital Territory", "AU-NSW": "New South Wales", "AU-NT": "Northern Territory",
        "AU-QLD": "Queensland", "AU-SA": "South Australia", "AU-TAS": "Tasmania", "AU-VIC": "Victoria",
        "AU-WA": "Western Australia",
    },
}
"""Country → {ISO 3166-2 code: English name}; only the countries whose consumers are asked for their region."""

_EASTERN, _CENTRAL, _MOUNTAIN, _PACIFIC = "America/New_York", "America/Chicago", "America/Denver", \
    "America/Los_Angeles"

REGION_ZONES: dict[str, str] = {
    "US-AL": _CENTRAL, "US-AK": "America/Anchorage", "US-AZ": "America/Phoenix", "US-AR": _CENTRAL,
    "US-CA": _PACIFIC, "US-CO": _MOUNTAIN, "US-CT": _EASTERN, "US-DE": _EASTERN, "US-DC": _EASTERN,
    "US-FL": _EASTERN, "US-GA": _EASTERN, "US-HI": "Pacific/Honolulu", "US-ID": "America/Boise", "US-IL": _CENTRAL,
    "US-IN": "America/Indiana/Indianapolis", "US-IA": _CENTRAL, "US-KS": _CENTRAL, "US-KY": _EASTERN,
    "US-LA": _CENTRAL, "US-ME": _EASTERN, "US-MD": _EASTERN, "US-MA": _EASTERN, "US-MI": "America/Detroit",
    "US-MN": _CENTRAL, "US-MS": _CENTRAL, "US-MO": _CENTRAL, "US-MT": _MOUNTAIN, "US-NE": _CENTRAL,
    "US-NV": _PACIFIC, "US-NH": _EASTERN, "US-NJ": _EASTERN, "US-NM": _MOUNTAIN, "US-NY": _EASTERN,
    "US-NC": _EASTERN, "US-ND": _CENTRAL, "US-OH": _EASTERN, "US-OK": _CENTRAL, "US-OR": _PACIFIC,
    "US-PA": _EASTERN, "US-RI": _EASTERN, "US-SC": _EASTERN, "US-SD": _CENTRAL, "US-TN": _CENTRAL,
    "US-TX": _CENTRAL, "US-UT": _MOUNTAIN, "US-VT": _EASTERN, "US-VA": _EASTERN, "US-WA": _PACIFIC,
    "US-WV": _EASTERN, "US-WI": _CENTRAL, "US-WY": _MOUNTAIN,
    "CA-AB": "America/Edmonton", "CA-BC": "America/Vancouver", "CA-MB": "America/Winnipeg",
    "CA-NB": "America/Moncton", "CA-NL": "America/St_Johns", "CA-NS": "America/Halifax",
    "CA-NT": "America/Edmonton", "CA-NU": "America/Iqaluit", "CA-ON": "America/Toronto",
    "CA-PE": "America/Halifax", "CA-QC": "America/Toronto", "CA-SK": "America/Regina",
    "CA-YT": "America/Whitehorse",
    "AU-ACT": "Australia/Sydney", "AU-NSW": "Australia/Sydney", "AU-NT": "Australia/Darwin",
    "AU-QLD": "Australia/Brisbane", "AU-SA": "Australia/Adelaide", "AU-TAS": "Australia/Hobart",
    "AU-VIC": "Australia/Melbourne", "AU-WA": "Australia/Perth",
}
"""Region → the IANA zone of most of its people."""

REGION_PAGE_MESSAGE = "choose a state, province or territory of the country you live in"
"""What a page says when the region chosen is not one of the country's (the API says it in its own words)."""


def regions_of(country: str) -> dict[str, str]:
    """The regions a consumer in ``country`` is asked to choose from (none: the question is not asked)."""
    return REGIONS.get(country.strip().upper(), {})


def region_name(region: str | None) -> str | None:
    if not region:
        return None
    return regions_of(region.split("-", 1)[0]).get(region.upper())


def zone_for_region(region: str | None) -> str | None:
    """The zone a consumer in ``region`` counts their days in, when they gave none (None: not in the table)."""
    return REGION_ZONES.get(region.strip().upper()) if region else None
