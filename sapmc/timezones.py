"""SAP time-zone codes (table TTZZ) of the common IANA zones, for SuccessDataDateTimeZone.

SAP MC names zones by its own codes of at most 6 characters ("CET", "EST", "AUSNSW"), not by
IANA names. The table covers the zones companies commonly run in; any other needs the code set
explicitly (SAPMC_SUCCESS_TIMEZONE_CODE) rather than a guess that would shift every day.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SAP_TIMEZONE_CODES: dict[str, str] = {
    "UTC": "UTC",
    "Etc/UTC": "UTC",
    "Etc/GMT": "UTC",
    "GMT": "UTC",
    "Europe/London": "GMTUK",
    **dict.fromkeys(
        (
            "Europe/Berlin",
            "Europe/Paris",
            "Europe/Madrid",
            "Europe/Rome",
            "Europe/Amsterdam",
            "Europe/Brussels",
            "Europe/Vienna",
            "Europe/Zurich",
            "Europe/Stockholm",
            "Europe/Oslo",
            "Europe/Copenhagen",
            "Europe/Warsaw",
            "Europe/Prague",
            "Europe/Budapest",
            "Europe/Luxembourg",
            "CET",
        ),
        "CET",
    ),  # fmt: skip
    **dict.fromkeys(
        ("Europe/Helsinki", "Europe/Athens", "Europe/Bucharest", "Europe/Sofia", "EET"), "EET"
    ),
    **dict.fromkeys(("America/New_York", "America/Toronto", "America/Detroit", "EST5EDT"), "EST"),
    **dict.fromkeys(("America/Chicago", "America/Winnipeg", "CST6CDT"), "CST"),
    **dict.fromkeys(("America/Denver", "America/Edmonton", "MST7MDT"), "MST"),
    **dict.fromkeys(("America/Los_Angeles", "America/Vancouver", "PST8PDT"), "PST"),
    "Australia/Sydney": "AUSNSW",
    "Australia/Melbourne": "AUSVIC",
    "Australia/Brisbane": "AUSQLD",
    "Asia/Tokyo": "JAPAN",
    "Asia/Kolkata": "INDIA",
}


def sap_timezone_code(zone_name: str) -> str:
    """The SAP code of an IANA zone; SAPMC_SUCCESS_TIMEZONE_CODE when set wins."""
    override = settings.SAPMC_SUCCESS_TIMEZONE_CODE.strip()
    if override:
        if len(override) > 6:
            raise ImproperlyConfigured(
                f"SAPMC_SUCCESS_TIMEZONE_CODE must be an SAP time-zone code of at most 6 "
                f"characters (such as CET or EST); got {override!r}"
            )
        return override
    try:
        return SAP_TIMEZONE_CODES[zone_name]
    except KeyError:
        raise ImproperlyConfigured(
            f"The company time zone {zone_name!r} has no known SAP time-zone code: set "
            "SAPMC_SUCCESS_TIMEZONE_CODE to the code SAP MC uses for it (table TTZZ, "
            "e.g. CET, EST, AUSNSW)"
        ) from None
