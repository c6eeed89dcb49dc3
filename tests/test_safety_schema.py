"""`compliance schema observation` says what import accepts: source_party optional (the registry supplies it),
a description for every field, the agreement's kinds and the methods as allowed values, external_id described."""

from __future__ import annotations

from compliance.process import bundled_process_ids, load_process

import json
from pathlib import Path


from compliance.clauses import load_agreement
from compliance.observation import METHODS, OBSERVATION_FIELDS

from safety_cli import run

FIXTURE = Path(__file__).parent / "fixtures" / "example-ceasefire.yaml"


def schema_of(*args: str) -> dict:
    result = run("schema", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_source_party_is_optional_and_every_field_is_described():
    schema = schema_of("observation")
    assert "source_party" not in schema["required"]
    assert "registry" in schema["properties"]["source_party"]["description"]
    assert all(schema["properties"][name].get("description") for name in OBSERVATION_FIELDS)
    assert "import" in schema["description"]


def test_kinds_and_methods_are_listed():
    schema = schema_of("observation")
    process = load_process(bundled_process_ids())  # with no --agreement: every kind of the bundled process
    assert schema["properties"]["kind"]["enum"] == list(process.kinds)
    assert tuple(schema["properties"]["method"]["anyOf"][0]["enum"]) == METHODS
    other = schema_of("observation", "--agreement", str(FIXTURE))
    assert other["properties"]["kind"]["enum"] == list(load_agreement(FIXTURE).kinds)


def test_external_id_is_described_as_import_uses_it():
    text = schema_of("observation")["properties"]["external_id"]["description"]
    assert "skips" in text and "correction" in text


def test_what_if_observations_still_need_source_party():
    schema = schema_of("scenario")
    assert "source_party" in schema["$defs"]["Observation"]["required"]
    assert schema["$defs"]["Observation"]["properties"]["kind"]["enum"][0] == "ceasefire.breach"
