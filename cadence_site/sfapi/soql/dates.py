"""SOQL date literals as half-open day ranges [start, end).

Salesforce evaluates them in the user's time zone with the locale's first day of
the week; this org runs on UTC with weeks starting on Sunday (the en_US locale).
"""

from __future__ import annotations

import datetime as dt

ONE_DAY = dt.timedelta(days=1)


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month ``months`` after the month of ``day``."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _period_start(unit: str, today: dt.date) -> dt.date:
    if unit == "DAYS":
        return today
    if unit == "WEEKS":
        return today - dt.timedelta(days=(today.weekday() + 1) % 7)  # Sunday
    if unit == "MONTHS":
        return today.replace(day=1)
    if unit == "QUARTERS":
        return dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return dt.date(today.year, 1, 1)  # YEARS


def _shift(start: dt.date, unit: str, count: int) -> dt.date:
    if unit == "DAYS":
        return start + dt.timedelta(days=count)
    if unit == "WEEKS":
        return start + dt.timedelta(weeks=count)
    months = {"MONTHS": 1, "QUARTERS": 3, "YEARS": 12}[unit]
    return _add_months(start, count * months)


FIXED = {
    # name: (unit, first period relative to the current one, number of periods)
    "YESTERDAY": ("DAYS", -1, 1),
    "TODAY": ("DAYS", 0, 1),
    "TOMORROW": ("DAYS", 1, 1),
    "LAST_WEEK": ("WEEKS", -1, 1),
    "THIS_WEEK": ("WEEKS", 0, 1),
    "NEXT_WEEK": ("WEEKS", 1, 1),
    "LAST_MONTH": ("MONTHS", -1, 1),
    "THIS_MONTH": ("MONTHS", 0, 1),
    "NEXT_MONTH": ("MONTHS", 1, 1),
    "LAST_QUARTER": ("QUARTERS", -1, 1),
    "THIS_QUARTER": ("QUARTERS", 0, 1),
    "NEXT_QUARTER": ("QUARTERS", 1, 1),
    "LAST_YEAR": ("YEARS", -1, 1),
    "THIS_YEAR": ("YEARS", 0, 1),
    "NEXT_YEAR": ("YEARS", 1, 1),
    # Salesforce: "includes the current day", so 91 days; the next 90 start tomorrow.
    "LAST_90_DAYS": ("DAYS", -90, 91),
    "NEXT_90_DAYS": ("DAYS", 1, 90),
}


def date_range(name: str, n: int | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days a literal covers: ``TODAY`` -> (today, tomorrow)."""
    if name in FIXED:
        unit, first, count = FIXED[name]
    else:
        # LAST_N_DAYS:n, NEXT_N_WEEKS:n, N_MONTHS_AGO:n ...
        words = name.split("_")
        n = n or 0
        if words[0] == "N":  # N_DAYS_AGO:n -> the one period n periods back
            unit, first, count = words[1], -n, 1
        elif words[0] == "LAST":
            unit = words[2]
            # LAST_N_DAYS:n includes today; the other units end with the previous period.
            first, count = (-n, n + 1) if unit == "DAYS" else (-n, n)
        else:  # NEXT
            unit, first, count = words[2], 1, n
    start = _shift(_period_start(unit, today), unit, first)
    return start, _shift(start, unit, count)


def as_datetimes(days: tuple[dt.date, dt.date]) -> tuple[dt.datetime, dt.datetime]:
    start, end = days
    midnight = dt.time(tzinfo=dt.UTC)
    return dt.datetime.combine(start, midnight), dt.datetime.combine(end, midnight)
