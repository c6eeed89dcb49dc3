"""`compliance schema`: JSON Schema of observations, scenarios and check results, generated from the models.

The schemas are checked structurally and used: the bundled sample log, a real `check --format json` result and
the scenario example of spec/cli.md must validate against them, and broken instances must not. The validator
below covers the JSON Schema keywords pydantic emits for these models.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from compliance.cli import app
from compliance.observation import METHODS, OBSERVATION_FIELDS
from compliance.records import STORE_FIELDS
from compliance.resources import sample_log
from compliance.verdicts import VERDICTS

runner = CliRunner()

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def errors(instance: Any, schema: dict, root: dict, path: str = "$") -> list[str]:
    """Violations of `schema` by `instance` (keywords: $ref, anyOf, type, enum, const, minimum, maximum,
    required, properties, additionalProperties, items)."""
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        return errors(instance, root["$defs"][ref.removeprefix("#/$defs/")], root, path)
    if "anyOf" in schema:
        if any(not errors(instance, option, root, path) for option in schema["anyOf"]):
            return []
        return [f"{path}: matches none of anyOf"]
    found: list[str] = []
    kind = schema.get("type")
    if kind == "integer":
        ok = isinstance(instance, int) and not isinstance(instance, bool)
    elif kind == "number":
        ok = isinstance(instance, (int, float)) and not isinstance(instance, bool)
    elif kind is not None:
        ok = isinstance(instance, _TYPES[kind])
    else:
        ok = True
    if not ok:
        return [f"{path}: not of type {kind}"]
    if "enum" in schema and instance not in schema["enum"]:
        found.append(f"{path}: {instance!r} not in enum")
    if "const" in schema and instance != schema["const"]:
        found.append(f"{path}: not {schema['const']!r}")
    if "minimum" in schema and instance < schema["minimum"]:
        found.append(f"{path}: below minimum")
    if "maximum" in schema and instance > schema["maximum"]:
        found.append(f"{path}: above maximum")
    if isinstance(instance, dict):
        for key in schema.get("required", []):
            if key not in instance:
                found.append(f"{path}: missing {key}")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in properties:
                found += errors(value, properties[key], root, f"{path}.{key}")
            elif extra is False:
                found.append(f"{path}: unexpected property {key}")
            elif isinstance(extra, dict):
                found += errors(value, extra, root, f"{path}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for index, value in enumerate(instance):
            found += errors(value, schema["items"], root, f"{path}[{index}]")
    return found


def schema_of(name: str) -> dict:
    result = runner.invoke(app, ["schema", name])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return data


def _known_keywords(node: Any) -> None:
    """Every keyword in the schema is one the validator above understands (or an annotation)."""
    allowed = {"$schema", "$defs", "$ref", "anyOf", "type", "enum", "const", "minimum", "maximum", "required",
               "properties", "additionalProperties", "items", "title", "description", "default", "format"}
    if isinstance(node, dict):
        assert set(node) <= allowed, set(node) - allowed
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    _known_keywords(sub)
            elif key not in ("enum", "required", "default", "const"):
                _known_keywords(value)
    elif isinstance(node, list):
        for item in node:
            _known_keywords(item)


@pytest.mark.parametrize("name", ["observation", "scenario", "check"])
def test_each_schema_is_json_with_only_keywords_the_tests_understand(name):
    schema = schema_of(name)
    assert schema["type"] == "object"
    _known_keywords(schema)


def test_observation_schema_fields_and_required():
    schema = schema_of("observation")
    assert schema["required"] == ["kind", "date", "actor", "source"]  # source_party: the registry may supply it
    assert list(schema["properties"]) == list(OBSERVATION_FIELDS)
    assert "external_id" in schema["properties"]
    assert schema["additionalProperties"] is False
    method = schema["properties"]["method"]["anyOf"][0]
    assert tuple(method["enum"]) == METHODS
    assert schema["properties"]["lat"]["anyOf"][0]["minimum"] == -90


def test_every_sample_observation_validates_and_broken_ones_do_not():
    schema = schema_of("observation")
    checked = 0
    for line in sample_log().read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "retracts" in record or record.get("record") in ("amendment", "ending", "track"):
            continue
        fields = {k: v for k, v in record.items() if k not in (*STORE_FIELDS, "supersedes")}
        assert errors(fields, schema, schema) == [], fields
        checked += 1
        broken = [{**fields, "colour": "red"}, {**fields, "value": -1}, {**fields, "method": "rumour"},
                  {k: v for k, v in fields.items() if k != "source"}, {**fields, "lat": 91.5, "lon": 0.0},
                  {**fields, "kind": 7}]
        for instance in broken:
            assert errors(instance, schema, schema), instance
    assert checked > 40


def test_check_schema_validates_a_real_check_result():
    schema = schema_of("check")
    assert schema["required"] == ["agreements", "as_of", "log_digest", "obligations"]
    result = runner.invoke(app, ["--store", "sample", "check", "--as-of", "2021-09-30", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert errors(data, schema, schema) == []
    item = schema["$defs"]["ObligationResult"]
    assert {"id", "bearer", "verdict", "reason", "evidence", "evidence_count"} <= set(item["required"])
    assert tuple(schema["$defs"]["Verdict"]["enum"]) == VERDICTS
    data["obligations"][0]["verdict"] = "guilty"
    assert errors(data, schema, schema) == ["$.obligations[0].verdict: 'guilty' not in enum"]


SCENARIO = {
    "as_of": "2021-09-30",
    "add": [{"kind": "contingent.personnel", "date": "2021-01-01", "actor": "RU", "value": 2400,
             "source": "hypothetical survey", "source_party": "independent"}],
    "exclude": ["12", "13"],
    "without_amendments": True,
    "terms": {"P3-personnel-cap": {"limit": 2500}, "P6-kalbajar-return": {"deadline": "2020-11-15"}},
    "attribute": {"NK": "AM"},
}


def test_scenario_schema_required_fields_and_added_observations():
    schema = schema_of("scenario")
    assert schema["required"] == ["as_of"]
    assert schema["additionalProperties"] is False
    assert {"as_of", "add", "exclude", "without_amendments", "terms", "attribute"} <= set(schema["properties"])
    assert schema["properties"]["add"]["items"] == {"$ref": "#/$defs/Observation"}
    assert schema["$defs"]["Observation"]["required"] == ["kind", "date", "actor", "source", "source_party"]
    assert errors(SCENARIO, schema, schema) == []
    assert errors({**SCENARIO, "as_off": "2021-09-30"}, schema, schema)
    assert errors({k: v for k, v in SCENARIO.items() if k != "as_of"}, schema, schema) == ["$: missing as_of"]
    bad_add = {**SCENARIO, "add": [{**SCENARIO["add"][0], "value": "many"}]}
    assert errors(bad_add, schema, schema)


def test_an_unknown_schema_name_is_a_usage_error():
    result = runner.invoke(app, ["schema", "verdict"])
    assert result.exit_code == 2
