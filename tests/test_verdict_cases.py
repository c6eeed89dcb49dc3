"""Golden verdict cases from tests/cases/verdicts.yaml: one rule behaviour per case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from compliance.check import check
from compliance.whatif import whatif

from conftest import build_store

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "verdicts.yaml").read_text(encoding="utf-8"))
CASE_KEYS = {"name", "as_of", "since", "without_amendments", "terms", "log", "expect"}


def _entry(entry: dict) -> dict:
    entry = dict(entry)
    for key in ("date", "date_end"):
        if isinstance(entry.get(key), (dt.date, dt.datetime)):
            entry[key] = entry[key].isoformat()
    if "kind" in entry:
        entry.setdefault("source", "test source")
    return entry


def _result(case: dict, store):
    """The check the case describes; with `terms`, the scenario side of a what-if with those term overrides."""
    if "terms" in case:
        scenario = {"as_of": case["as_of"], "terms": case["terms"], "since": case.get("since"),
                    "without_amendments": case.get("without_amendments", False)}
        return whatif(scenario, store=store).scenario
    return check(store, as_of=case["as_of"], since=case.get("since"),
                 without_amendments=case.get("without_amendments", False))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_verdict_case(case, agreement):
    assert set(case) <= CASE_KEYS, f"unknown keys {sorted(set(case) - CASE_KEYS)}: the case would not test them"
    store = build_store(agreement, [_entry(e) for e in case["log"]])
    result = _result(case, store)
    got = {f"{o.id}/{o.bearer}": o for o in result.obligations}
    for key, want in case["expect"].items():
        want = {"verdict": want} if isinstance(want, str) else want
        item = got[key]
        for field, value in want.items():
            if field == "reason_has":
                assert value in item.reason, f"{key}: reason {item.reason!r} lacks {value!r}"
                continue
            actual = getattr(item, field)
            actual = actual.value if hasattr(actual, "value") else actual
            assert actual == value, f"{key}.{field}: got {actual!r}, want {value!r} (reason: {item.reason})"


def test_every_obligation_appears_once_per_bearer_in_spec_order(agreement):
    result = check(build_store(agreement, []), as_of=dt.date(2021, 1, 1))
    pairs = [(o.id, o.bearer) for o in result.obligations]
    assert pairs == [(ob.id, bearer) for ob in agreement.obligations for bearer in ob.bearers]
