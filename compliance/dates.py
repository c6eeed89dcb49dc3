"""Dates in the agreement's time zone: parsing, calendar arithmetic and 'today'."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InputError

EARLIEST_YEAR = 1900
LATEST_YEAR = 2199

_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")


@lru_cache(maxsize=None)
def zone(name: str) -> dt.tzinfo:
    """Return the tzinfo for a fixed offset ('+03:00', 'UTC+03:00') or an IANA name ('Europe/Moscow')."""
    match = _OFFSET.match(name.strip())
    if match:
        sign, hours, minutes = match.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
        return dt.timezone(-delta if sign == "-" else delta)
    if name.strip().upper() in ("UTC", "Z"):
        return dt.timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:  # OSError: a folder such as 'Europe'
        raise InputError(f"unknown time zone {name!r}; use an offset such as '+03:00' or an IANA name") from error


_WELL_FORMED_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?=$|[T ])")


def not_a_date(text: str, expected: str) -> str:
    """Why `text` is not a date: a well-formed date that does not exist (`2021-02-30 is not a day of the
    calendar`), or text not in the `expected` form."""
    found = _WELL_FORMED_DAY.match(text)
    if found:
        try:
            dt.date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            return f"{found[0]} is not a day of the calendar"
    return f"{text!r} is not {expected}"


def _check_year(year: int) -> None:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise InputError(f"year {year} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")


def parse_moment(value: object, tz: dt.tzinfo) -> tuple[dt.date, dt.datetime]:
    """Read an ISO date or date-time; return its calendar date in `tz` and its UTC instant.

    A plain date, or a date-time without offset, is read in `tz`.
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise InputError("empty date")
        try:
            if len(text) <= 10:
                day = dt.date.fromisoformat(text)
                moment = dt.datetime(day.year, day.month, day.day)
            else:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InputError(not_a_date(text, "an ISO 8601 date (YYYY-MM-DD) or date-time")) from None
    else:
        raise InputError(f"expected an ISO 8601 date string, got {type(value).__name__}")
    _check_year(moment.year)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    local = moment.astimezone(tz)
    return local.date(), moment.astimezone(dt.timezone.utc)


def parse_day(value: object, tz: dt.tzinfo) -> dt.date:
    """Read an ISO date (or date-time) and return the calendar date in `tz`."""
    return parse_moment(value, tz)[0]


def day_param(value: dt.date | str | None, tz: dt.tzinfo, param: str) -> dt.date | None:
    """A date parameter given as a date or ISO text (read in `tz`); InputError naming `param` otherwise."""
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    try:
        return parse_day(value, tz)
    except InputError as error:
        raise error.as_param(param) from None


def utc_param(value: dt.datetime | str | None, param: str) -> dt.datetime | None:
    """A UTC date-time parameter given as a date-time or ISO text; InputError naming `param` otherwise."""
    if value is None:
        return None
    try:
        return parse_utc(value, param)
    except InputError as error:
        raise error.as_param(param) from None


def today(tz: dt.tzinfo) -> dt.date:
    """Today's date in `tz`; the `today` setting (COMPLIANCE_TODAY=YYYY-MM-DD) pins it (for tests, and to replay
    a past run)."""
    from .settings import load

    pinned = load().today
    return pinned if pinned is not None else dt.datetime.now(tz).date()


def add_months(day: dt.date, months: int) -> dt.date:
    """Shift a date by whole months, clamping the day to the month's length (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def utc_now() -> dt.datetime:
    """The current UTC time, to the microsecond."""
    return dt.datetime.now(dt.timezone.utc)


def format_utc(moment: dt.datetime) -> str:
    """ISO 8601 UTC with a 'Z', microsecond precision, so that text order is time order."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(value: object, field: str = "recorded_at") -> dt.datetime:
    """Read a UTC (or offset) date-time such as a `recorded_at` or an `as_recorded` value."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, 23, 59, 59, 999999)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) <= 10:
                day = dt.date.fromisoformat(text)
                moment = dt.datetime(day.year, day.month, day.day, 23, 59, 59, 999999)
            else:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InputError(not_a_date(text, "an ISO 8601 date-time"), field) from None
    else:
        raise InputError("expected an ISO 8601 date-time string", field)
    _check_year(moment.year)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)
