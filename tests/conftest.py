"""Shared fixtures: the bundled agreement, small stores built from observations written in the test."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from compliance.check import check
from compliance.clauses import load_agreement
from compliance.exchange import amendment_record, ending_record, observation_record, retraction_record
from compliance.store import Store


@pytest.fixture(scope="session")
def agreement():
    """The bundled nov-10-2020 agreement."""
    return load_agreement("nov-10-2020")


def build_store(agreement, entries: list[dict[str, Any]], path=None) -> Store:
    """A store holding `entries`: observation dicts, or {"retract": ID, "reason": ...}, {"correct": ID, ...fields},
    {"amend": {...}}, {"end": {...}}; appended in order, one record each."""
    store = Store.open(path, agreement, write=True) if path else Store.memory(agreement)
    for entry in entries:
        entry = dict(entry)
        if "retract" in entry:
            record = retraction_record(entry["retract"], entry.get("reason", "test"))
        elif "correct" in entry:
            target = entry.pop("correct")
            record = observation_record(entry, agreement, supersedes=str(target))
        elif "amend" in entry:
            record = amendment_record(entry["amend"], agreement)
        elif "end" in entry:
            record = ending_record(entry["end"], agreement)
        else:
            record = observation_record(entry, agreement)
        store.append([record], "tester")
    return store


@pytest.fixture
def make_store(agreement):
    """Build an in-memory store from entries (see build_store)."""
    return lambda entries: build_store(agreement, entries)


def verdicts(store: Store, as_of: str, **options: Any) -> dict[tuple[str, str], Any]:
    """{(obligation, bearer): ObligationResult} of a check as of an ISO date."""
    for key in ("since",):
        if isinstance(options.get(key), str):
            options[key] = dt.date.fromisoformat(options[key])
    result = check(store, as_of=dt.date.fromisoformat(as_of), **options)
    return {(o.id, o.bearer): o for o in result.obligations}
