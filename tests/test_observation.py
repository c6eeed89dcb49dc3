"""Validating one observation: every field's bad input is rejected with the field and the reason."""

from __future__ import annotations

import pytest

from compliance.errors import InputError
from compliance.observation import parse_observation

GOOD = {"kind": "contingent.personnel", "date": "2020-11-20", "actor": "RU", "value": 1960,
        "source": "Russian MoD", "source_party": "RU", "method": "statement"}


def test_a_good_observation_is_normalised(agreement):
    obs = parse_observation({**GOOD, "source": "  Russian MoD  "}, agreement)
    assert obs.fields["source"] == "Russian MoD"
    assert obs.fields["claim"] == "affirms"
    assert str(obs.day) == "2020-11-20" and obs.lo == obs.hi == 1960


def test_defaults_subject_of_ceasefire_breach_to_conflict_zone(agreement):
    obs = parse_observation({"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "x",
                             "source_party": "AM"}, agreement)
    assert obs.fields["subject"] == "conflict-zone"


def test_dates_are_read_in_moscow_time(agreement):
    late_evening_utc = parse_observation({**GOOD, "date": "2020-11-19T22:30:00Z"}, agreement)
    assert str(late_evening_utc.day) == "2020-11-20"
    naive = parse_observation({**GOOD, "date": "2020-11-19T23:59:00"}, agreement)
    assert str(naive.day) == "2020-11-19"


@pytest.mark.parametrize("change, field, reason", [
    ({"kind": "contingent.tanks"}, "kind", "unknown kind 'contingent.tanks' (valid kinds: ceasefire.breach"),
    ({"kind": None}, "kind", "is required"),
    ({"date": "20/11/2020"}, "date", "not an ISO 8601 date"),
    ({"date": "2020-13-45"}, "date", "2020-13-45 is not a day of the calendar"),
    ({"date": "0001-01-01"}, "date", "outside 1900-2199"),
    ({"date": 20201120}, "date", "string"),
    ({"actor": "XX"}, "actor", "unknown party code 'XX' (known: AM, AZ, RU, NK, TR, UNHCR, ICRC"),
    ({"actor": "russia"}, "actor", "is not a party code"),
    ({"source": "   "}, "source", "must not be empty"),
    ({"source": "x" * 1001}, "source", "at most 1,000"),
    ({"source": "bad\x00byte"}, "source", "control character"),
    ({"source_party": "neutral"}, "source_party", "is not a party code"),
    ({"value": -1}, "value", "greater than or equal to 0"),
    ({"value": 19.5}, "value", "whole number"),
    ({"value": "1960"}, "value", "whole number"),
    ({"value": True}, "value", "whole number"),
    ({"value": None}, "value", "needs a count"),
    ({"value": None, "low": 2000}, "high", "low and high go together"),
    ({"value": None, "low": 3000, "high": 2000}, "low", "greater than high"),
    ({"value": 1000, "low": 1500, "high": 2000}, "value", "outside low-high"),
    ({"claim": "maybe"}, "claim", "must be one of"),
    ({"method": "rumour"}, "method", "must be one of"),
    ({"lat": 91, "lon": 10}, "lat", "less than or equal to 90"),
    ({"lat": 40, "lon": 181}, "lon", "less than or equal to 180"),
    ({"lat": float("nan"), "lon": 10}, "lat", "finite"),
    ({"lat": 40}, "lon", "lat and lon go together"),
    ({"date_end": "2020-11-19"}, "date_end", "before date"),
    ({"quote": "q" * 10_001}, "quote", "at most 10,000"),
    ({"notes": "tab\tand\nnewline are fine but \x07 is not"}, "notes", "control character"),
    ({"colour": "red"}, "colour", "unknown field"),
])
def test_bad_input_names_the_field_and_the_reason(agreement, change, field, reason):
    data = {**GOOD, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(InputError) as error:
        parse_observation(data, agreement)
    assert error.value.where == field, str(error.value)
    assert reason in error.value.reason


@pytest.mark.parametrize("data, field, reason", [
    ({"kind": "ceasefire.breach", "value": 3}, "value", "takes no count"),
    ({"kind": "ceasefire.breach", "subject": "moon"}, "subject", "not a subject"),
    ({"kind": "district.returned", "actor": "AM"}, "subject", "needs a subject"),
    ({"kind": "armed-forces.presence", "actor": "AM", "value": 0}, "value", "claim denies"),
])
def test_kind_specific_rules(agreement, data, field, reason):
    base = {"date": "2021-07-13", "actor": "AZ", "source": "x", "source_party": "AM"}
    with pytest.raises(InputError) as error:
        parse_observation({**base, **data}, agreement)
    assert error.value.where == field and reason in error.value.reason


def test_count_kinds_accept_a_denial_without_a_count(agreement):
    obs = parse_observation({"kind": "contingent.personnel", "date": "2021-09-12", "actor": "RU", "claim": "denies",
                             "source": "Russian MoD", "source_party": "RU"}, agreement)
    assert obs.lo is None and obs.fields["claim"] == "denies"


def test_declared_actor_codes_are_accepted(agreement):
    data = {**GOOD, "kind": "transport.blocked", "actor": "IR", "value": None}
    data.pop("value")
    with pytest.raises(InputError):
        parse_observation(data, agreement)
    assert parse_observation(data, agreement, frozenset({"IR"})).actor == "IR"
