"""Reporting periods: months (`2021-07`), quarters (`2021-Q3`), series of them, and the period before.

A period is a span of calendar days in the agreement's time zone, both ends inclusive. Reports compare
a period with the previous period of the same length: the month before a month, the quarter before a
quarter, and, for a report as of a single date (month to date), the same days of the month before.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from .dates import EARLIEST_YEAR, LATEST_YEAR, add_months, not_a_date
from .errors import InputError

PeriodKind = Literal["month", "quarter", "to-date"]
EVERY = ("month", "quarter")

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month."""
    return add_months(day.replace(day=1), 1) - dt.timedelta(days=1)


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period: its first and last day, kind, and label (`2021-07`, `2021-Q3`, `2021-07-15`)."""

    start: dt.date
    end: dt.date
    kind: PeriodKind
    label: str

    @property
    def days(self) -> int:
        """How many days the period spans."""
        return (self.end - self.start).days + 1

    def previous(self) -> "Period":
        """The previous period of the same length (month, quarter, or the same days of the previous month)."""
        if self.kind == "month":
            return month(add_months(self.start, -1))
        if self.kind == "quarter":
            return quarter(add_months(self.start, -3))
        return month_to_date(add_months(self.end, -1))

    def describe(self) -> str:
        """'2021-07-01 to 2021-07-31' (with 'month to date' for a report as of a date)."""
        span = f"{self.start.isoformat()} to {self.end.isoformat()}"
        return f"{span} (month to date)" if self.kind == "to-date" else span

    def contains(self, day: dt.date) -> bool:
        """True when `day` lies in the period."""
        return self.start <= day <= self.end


def month(day: dt.date) -> Period:
    """The calendar month containing `day`."""
    start = day.replace(day=1)
    return Period(start, month_end(start), "month", f"{start.year:04d}-{start.month:02d}")


def quarter(day: dt.date) -> Period:
    """The calendar quarter containing `day` (Q1 January-March, ..., Q4 October-December)."""
    number = (day.month - 1) // 3 + 1
    start = dt.date(day.year, 3 * number - 2, 1)
    return Period(start, month_end(add_months(start, 2)), "quarter", f"{start.year:04d}-Q{number}")


def month_to_date(day: dt.date) -> Period:
    """From the first of `day`'s month to `day`: the period of a report as of a single date."""
    return Period(day.replace(day=1), day, "to-date", day.isoformat())


def _bad(text: str, param: str, what: str) -> InputError:
    return InputError(f"{text!r} is not {what}", param=param)


def _year(year: int, text: str, param: str) -> None:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise InputError(f"{text!r}: year {year} is outside {EARLIEST_YEAR}-{LATEST_YEAR}", param=param)


def parse_period(text: str, param: str = "period") -> Period:
    """A month (`YYYY-MM`) or a quarter (`YYYY-Qn`); InputError naming the parameter `param` otherwise."""
    value = (text or "").strip()
    found = _MONTH.match(value)
    if found and 1 <= int(found.group(2)) <= 12:
        _year(int(found.group(1)), value, param)
        return month(dt.date(int(found.group(1)), int(found.group(2)), 1))
    found = _QUARTER.match(value)
    if found:
        _year(int(found.group(1)), value, param)
        return quarter(dt.date(int(found.group(1)), 3 * int(found.group(2)) - 2, 1))
    raise _bad(text, param, "a month (YYYY-MM) or quarter (YYYY-Qn)")


def parse_bound(text: str, param: str) -> Period:
    """A series' `start` or `end`: a date (`YYYY-MM-DD`, as a one-day span), a month or a quarter."""
    value = (text or "").strip()
    if _DAY.match(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise InputError(not_a_date(value, "a date (YYYY-MM-DD)"), param=param) from None
        _year(day.year, value, param)
        return Period(day, day, "to-date", day.isoformat())
    try:
        return parse_period(value, param)
    except InputError:
        raise _bad(text, param, "a date (YYYY-MM-DD), month (YYYY-MM) or quarter (YYYY-Qn)") from None


def series(start: str, end: str, every: str) -> list[Period]:
    """The months or quarters from the one containing `start` to the one containing `end`, in order."""
    if every not in EVERY:
        raise InputError(f"{every!r} is not one of: {', '.join(EVERY)}", param="every")
    first, last = parse_bound(start, "start"), parse_bound(end, "end")
    if first.start > last.end:
        raise InputError(f"{start} is after {{end}} {end}", param="start", mentions=("end",))
    step = month if every == "month" else quarter
    periods = [step(first.start)]
    while periods[-1].end < last.end:
        periods.append(step(periods[-1].end + dt.timedelta(days=1)))
    return periods
