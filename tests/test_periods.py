"""Reporting periods: months, quarters, series and the previous period of the same length."""

from __future__ import annotations

import datetime as dt

import pytest

from compliance.errors import InputError
from compliance.periods import month, month_to_date, parse_bound, parse_period, quarter, series

D = dt.date


@pytest.mark.parametrize("text, start, end, kind", [
    ("2021-07", D(2021, 7, 1), D(2021, 7, 31), "month"),
    ("2021-06", D(2021, 6, 1), D(2021, 6, 30), "month"),
    ("2021-12", D(2021, 12, 1), D(2021, 12, 31), "month"),
    ("2024-02", D(2024, 2, 1), D(2024, 2, 29), "month"),
    ("2023-02", D(2023, 2, 1), D(2023, 2, 28), "month"),
    ("2000-02", D(2000, 2, 1), D(2000, 2, 29), "month"),
    ("2100-02", D(2100, 2, 1), D(2100, 2, 28), "month"),
    ("2021-Q1", D(2021, 1, 1), D(2021, 3, 31), "quarter"),
    ("2021-Q2", D(2021, 4, 1), D(2021, 6, 30), "quarter"),
    ("2021-Q3", D(2021, 7, 1), D(2021, 9, 30), "quarter"),
    ("2021-Q4", D(2021, 10, 1), D(2021, 12, 31), "quarter"),
    ("2024-q1", D(2024, 1, 1), D(2024, 3, 31), "quarter"),
])
def test_period_boundaries(text, start, end, kind):
    period = parse_period(text)
    assert (period.start, period.end, period.kind) == (start, end, kind)
    assert period.label == text.upper()


def test_quarter_label_is_normalised():
    assert parse_period("2024-q1").label == "2024-Q1"
    assert parse_period(" 2021-07 ").label == "2021-07"


@pytest.mark.parametrize("text, previous", [
    ("2021-07", ("2021-06", D(2021, 6, 1), D(2021, 6, 30))),
    ("2021-01", ("2020-12", D(2020, 12, 1), D(2020, 12, 31))),
    ("2024-03", ("2024-02", D(2024, 2, 1), D(2024, 2, 29))),
    ("2021-Q3", ("2021-Q2", D(2021, 4, 1), D(2021, 6, 30))),
    ("2021-Q1", ("2020-Q4", D(2020, 10, 1), D(2020, 12, 31))),
])
def test_previous_period_of_the_same_length(text, previous):
    before = parse_period(text).previous()
    assert (before.label, before.start, before.end) == previous
    assert before.kind == parse_period(text).kind


def test_month_to_date_and_its_previous_period():
    period = month_to_date(D(2021, 7, 15))
    assert (period.start, period.end, period.label, period.kind) == (D(2021, 7, 1), D(2021, 7, 15), "2021-07-15", "to-date")
    before = period.previous()
    assert (before.start, before.end) == (D(2021, 6, 1), D(2021, 6, 15))
    # the 31st of a month compares with the whole of a shorter month before it
    before = month_to_date(D(2024, 3, 31)).previous()
    assert (before.start, before.end) == (D(2024, 2, 1), D(2024, 2, 29))


def test_month_and_quarter_of_a_day():
    assert month(D(2020, 11, 10)).label == "2020-11"
    assert quarter(D(2020, 11, 10)).label == "2020-Q4"
    assert quarter(D(2020, 11, 10)).end == D(2020, 12, 31)
    assert parse_period("2021-07").days == 31
    assert parse_period("2021-Q1").days == 90


@pytest.mark.parametrize("text", ["2021-13", "2021-00", "2021-Q5", "2021-Q0", "2021-7", "July 2021", "", "2021-07-01",
                                  "21-07", "2021/07"])
def test_bad_period_names_the_parameter(text):
    with pytest.raises(InputError) as caught:
        parse_period(text)
    assert caught.value.param == caught.value.where == "period"
    assert caught.value.reason == f"{text!r} is not a month (YYYY-MM) or quarter (YYYY-Qn)"


def test_bad_period_message_is_exact():
    with pytest.raises(InputError) as caught:
        parse_period("2021-13")
    assert str(caught.value) == "period: '2021-13' is not a month (YYYY-MM) or quarter (YYYY-Qn)"


def test_year_out_of_range():
    with pytest.raises(InputError, match="outside"):
        parse_period("1850-01")


def test_monthly_series():
    periods = series("2021-11", "2022-02", "month")
    assert [p.label for p in periods] == ["2021-11", "2021-12", "2022-01", "2022-02"]
    assert periods[-1].end == D(2022, 2, 28)


def test_quarterly_series_from_months_and_dates():
    periods = series("2020-11", "2023-12", "quarter")
    assert [p.label for p in periods][:2] == ["2020-Q4", "2021-Q1"]
    assert periods[-1].label == "2023-Q4"
    assert len(periods) == 13
    assert [p.label for p in series("2021-02-15", "2021-04-01", "quarter")] == ["2021-Q1", "2021-Q2"]
    assert [p.label for p in series("2021-Q1", "2021-Q2", "month")] == ["2021-01", "2021-02", "2021-03", "2021-04",
                                                                           "2021-05", "2021-06"]


def test_series_periods_are_contiguous():
    periods = series("2020-01", "2024-12", "month")
    for before, after in zip(periods, periods[1:]):
        assert after.start == before.end + dt.timedelta(days=1)
        assert after.previous() == before


def test_bad_series():
    with pytest.raises(InputError) as caught:
        series("2022-01", "2021-01", "month")
    assert (caught.value.where, caught.value.reason) == ("start", "2022-01 is after end 2021-01")
    with pytest.raises(InputError) as caught:
        series("2021-01", "2021-02-30", "month")
    assert caught.value.where == "end"
    with pytest.raises(InputError) as caught:
        series("2021-01", "2021-02", "week")
    assert caught.value.where == "every"
    with pytest.raises(InputError) as caught:
        parse_bound("soon", "start")
    assert caught.value.reason == "'soon' is not a date (YYYY-MM-DD), month (YYYY-MM) or quarter (YYYY-Qn)"
