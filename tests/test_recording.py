"""The write commands' library functions (compliance.recording, acled.import_acled, exchange.correction_record):
what `observe add|correct|retract|import` do, called from Python, with errors that name fields, parameters and
file lines as data."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from compliance.acled import import_acled
from compliance.errors import InputError, UnknownReferenceError
from compliance.exchange import correction_record
from compliance.listing import history_status, list_observations
from compliance.recording import add_observation, correct_observation, import_jsonl, retract_observation
from compliance.store import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BREACH = {"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "Armenian MoD"}
COUNT = {"kind": "contingent.personnel", "date": "2021-07-01", "actor": "RU", "source": "Russian MoD",
         "source_party": "RU"}


@pytest.fixture
def store(agreement, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_TODAY", "2021-09-30")
    monkeypatch.setenv("COMPLIANCE_SOURCES", str(tmp_path / "sources.yaml"))
    return Store.open(tmp_path / "log.db", agreement, write=True)


def test_add_takes_the_alignment_from_the_source_registry(store):
    new_id = add_observation(store, BREACH, recorded_by="script")
    record = store.get(new_id)
    assert (record.body["source_party"], record.recorded_by) == ("AM", "script")


def test_add_refuses_an_unregistered_source_and_a_future_date(store):
    with pytest.raises(InputError) as caught:
        add_observation(store, {**BREACH, "source": "Unknown Daily"})
    assert caught.value.where == "source_party" and "give source_party" in caught.value.reason
    with pytest.raises(InputError) as caught:
        add_observation(store, {**BREACH, "date": "2021-10-01"})
    assert caught.value.where == "date" and "is after today (2021-09-30" in caught.value.reason
    assert store.is_empty()


def test_a_correction_replaces_a_range_by_a_count_and_keeps_the_rest(store):
    first = add_observation(store, {**COUNT, "low": 1900, "high": 2000, "notes": "estimate"})
    second = correct_observation(store, first, {"value": 1960, "notes": None})
    body = store.get(second).body
    assert (body["value"], "low" in body, "high" in body, body["notes"], body["supersedes"]) == (
        1960, False, False, "estimate", first)
    assert [history_status(r) for r in store.history(second)] == [f"observation (ended by {second})",
                                                                   f"correction of {first} (current)"]


def test_a_correction_from_python_names_its_parameters(store):
    first = add_observation(store, BREACH)
    with pytest.raises(InputError) as caught:
        correct_observation(store, first, {})
    assert (caught.value.param, caught.value.reason) == ("changes", "give at least one field to change (for example "
                                                                    "date 2021-07-14)")
    retraction = retract_observation(store, first, "duplicate")
    with pytest.raises(InputError) as caught:
        correction_record(store.get(retraction), {"date": "2021-07-12"}, store.process)
    assert (caught.value.param, caught.value.reason) == ("observation_id",
                                                         f"record {retraction} is a retraction, not an observation")
    with pytest.raises(UnknownReferenceError) as caught:
        correct_observation(store, "999", {"date": "2021-07-12"})
    assert caught.value.param == "record_id"


def test_list_checks_its_filters(store):
    add_observation(store, BREACH)
    assert [r.body["actor"] for r in list_observations(store, kind="ceasefire.breach", since="2021-07-01")] == ["AZ"]
    with pytest.raises(InputError) as caught:
        list_observations(store, since="2021-08-01", until="2021-07-01")
    assert str(caught.value) == "since: 2021-08-01 is after until 2021-07-01"
    with pytest.raises(InputError) as caught:
        list_observations(store, kind="no.such.kind")
    assert caught.value.param == "kind"


def test_an_import_error_the_store_finds_names_the_file_and_line(store, tmp_path):
    path = tmp_path / "lines.jsonl"
    lines = [{**BREACH, "source_party": "AM"}, {**BREACH, "source_party": "AM", "supersedes": "999"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(UnknownReferenceError) as caught:  # found by the store's chain, which knows only the line
        import_jsonl(store, path)
    error = caught.value
    assert (error.file, error.line, error.field, error.reason) == (str(path), 2, "supersedes", "no observation with ID 999")
    assert store.is_empty()


def test_an_import_reads_a_binary_stream_named_as_given(store):
    stream = io.BytesIO((json.dumps({**BREACH, "date": "bad"}) + "\n").encode())
    with pytest.raises(InputError) as caught:
        import_jsonl(store, stream, where="<stdin>")
    assert (caught.value.file, caught.value.line, caught.value.field) == ("<stdin>", 1, "date")


def test_an_acled_export_from_a_stream(store, monkeypatch):
    monkeypatch.setenv("COMPLIANCE_TODAY", "2024-12-31")
    stream = io.BytesIO((FIXTURES / "acled_sample.csv").read_bytes())
    plan, ids = import_acled(stream, store.process, store, "script", where="<stdin>")
    assert (plan.new, len(ids)) == (10, 10)
