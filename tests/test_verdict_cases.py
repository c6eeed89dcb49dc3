"""Golden verdict cases from tests/cases/verdicts.yaml: one rule behaviour per case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from compliance.check import check

from conftest import build_store

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "verdicts.yaml").read_text(encoding="utf-8"))


def _entry(entry: dict) -> dict:
    entry = dict(entry)
    for key in ("date", "date_end"):
        if isinstance(entry.get(key), (dt.date, dt.datetime)):
            entry[key] = entry[key].isoformat()
    if "kind" in entry:
        entry.setdefault("source", "test source")
    return entry


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_verdict_case(case, agreement):
    store = build_store(agreement, [_entry(e) for e in case["log"]])
    result = check(store, as_of=case["as_of"], since=case.get("since"),
                   without_amendments=case.get("without_amendments", False))
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
