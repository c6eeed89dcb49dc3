"""Which periods a report run covers, with their as-of dates, and the columns of a report's own verdict grid."""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from ..agreement import Agreement
from ..dates import parse_day, today as today_in
from ..errors import InputError
from ..periods import Period, month, month_to_date, parse_period, quarter, series

PLAN_PARAMS = ("as_of", "period", "start", "end")  # the parameters an error of the plan may name
GRID_PERIODS = 12  # the periods a report's own verdict grid shows: its own and the ones before it


def as_of_for(period: Period, agreement: Agreement, today: dt.date, param: str) -> dt.date:
    """The period's last day, or today for a period that has not ended (a report as of a future date too);
    InputError naming the parameter `param` for a period that cannot be reported."""
    if period.start > today:
        raise InputError(f"{period.label} has not begun (today is {today.isoformat()})", param=param)
    as_of = min(period.end, today)
    if as_of < agreement.in_force_day:
        raise InputError(f"{period.label} ends before the agreement entered into force on "
                         f"{agreement.in_force_day.isoformat()}", param=param)
    return as_of


def history(period: Period, agreement: Agreement, today: dt.date) -> list[tuple[Period, dt.date]]:
    """The columns of the verdict grid a report embeds, with their as-of dates: the report's period and up to
    GRID_PERIODS - 1 periods of the same length before it (not before the one in which the agreement entered
    into force). A report as of a date has the months before its own, then itself. Nothing after the report's
    own period is in it, and nothing depends on a series the report is written in."""
    step = quarter if period.kind == "quarter" else month
    periods = [period]
    while len(periods) < GRID_PERIODS and periods[0].start > agreement.in_force_day:
        periods.insert(0, step(periods[0].start - dt.timedelta(days=1)))
    return [(p, min(p.end, today)) for p in periods]


def _day(value: dt.date | str | None, param: str, agreement: Agreement) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return parse_day(value, agreement.tz)
    except InputError as error:
        raise InputError(error.reason, param=param) from None


def _text(value: dt.date | str | Period | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Period):
        return value.label
    return value.isoformat()


def plan(agreements: Agreement | Sequence[Agreement], *, as_of: dt.date | str | None = None,
         period: str | Period | None = None, start: dt.date | str | None = None, end: dt.date | str | None = None,
         every: str | None = None, today: dt.date | None = None) -> tuple[list[tuple[Period, dt.date]], bool]:
    """The periods to report with their as-of dates, and whether they form a series (`start`/`end`).

    With several agreements a period is refused only when it ends before every one of them entered into
    force; `periods_of()` then says which agreements each period reports on."""
    chosen = [agreements] if isinstance(agreements, Agreement) else list(agreements)
    agreement = min(chosen, key=lambda a: a.in_force_day)  # the first in force decides what can be reported
    today = today or today_in(agreement.tz)
    given = [name for name, value in (("as_of", as_of), ("period", period), ("start", start), ("end", end))
             if value is not None]
    is_series = start is not None or end is not None
    one_of = "give one of {as_of}, {period} or {start}/{end}"
    if as_of is not None and len(given) > 1:
        raise InputError(f"{one_of} (got {', '.join('{' + name + '}' for name in given)})", param="as_of",
                         mentions=PLAN_PARAMS)
    if period is not None and is_series:
        raise InputError(f"{one_of}, not both", param="period", mentions=PLAN_PARAMS)
    if every is not None and not is_series:
        raise InputError("goes with {start} and {end}", param="every", mentions=PLAN_PARAMS)
    if is_series and (start is None or end is None):
        raise InputError("a series needs both {start} and {end}", param="start" if start is None else "end",
                         mentions=PLAN_PARAMS)
    if is_series:
        periods = series(_text(start), _text(end), every or "month")
        planned = [(p, as_of_for(p, agreement, today, "start" if i == 0 else "end")) for i, p in enumerate(periods)]
        return planned, True
    if period is not None:
        chosen_period = period if isinstance(period, Period) else parse_period(period, "period")
        return [(chosen_period, as_of_for(chosen_period, agreement, today, "period"))], False
    day = _day(as_of, "as_of", agreement) or today
    chosen_period = month_to_date(day)
    return [(chosen_period, as_of_for(chosen_period, agreement, today, "as_of"))], False


def in_force_by(agreement: Agreement, as_of: dt.date) -> bool:
    """True when the agreement has entered into force by the as-of date (it has a report for the period)."""
    return as_of >= agreement.in_force_day
