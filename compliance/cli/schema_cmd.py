"""`compliance schema observation|scenario|check`: JSON Schema of the exchange formats, from the pydantic models."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import typer

from . import app
from .common import handles_errors

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class SchemaName(str, Enum):
    observation = "observation"
    scenario = "scenario"
    check = "check"


def _unavailable(name: str, module: str) -> Exception:
    from ..errors import ComplianceError

    class FeatureUnavailable(ComplianceError):
        exit_code = 4

    return FeatureUnavailable(f"the {name} model is not available in this installation ({module} is missing)",
                              "schema")


def observation_schema() -> dict[str, Any]:
    """The observation fields (spec/observations.md), as `observe import` reads them and `observe export` writes them."""
    from ..observation import ObservationFields

    return ObservationFields.model_json_schema(mode="validation")


def scenario_schema() -> dict[str, Any]:
    """A what-if scenario file; each item of `add` is an observation."""
    try:
        from ..scenario import Scenario
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("compliance"):
            raise _unavailable("scenario", "compliance.scenario") from None
        raise
    schema = Scenario.model_json_schema(mode="validation")
    add = schema.get("properties", {}).get("add")
    if isinstance(add, dict) and add.get("type") == "array":
        observation = observation_schema()
        defs = schema.setdefault("$defs", {})
        defs.update(observation.pop("$defs", {}))
        defs["Observation"] = observation
        add["items"] = {"$ref": "#/$defs/Observation"}
    return schema


def check_schema() -> dict[str, Any]:
    """The result `check --format json` prints (spec/verdicts.md)."""
    from ..verdicts import CheckResult

    return CheckResult.model_json_schema(mode="serialization")


_BUILDERS = {"observation": observation_schema, "scenario": scenario_schema, "check": check_schema}


def schema_for(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `observation`, `scenario` or `check`."""
    return {"$schema": JSON_SCHEMA_DIALECT, **_BUILDERS[name]()}


@app.command("schema")
@handles_errors
def schema(
    name: SchemaName = typer.Argument(..., metavar="observation|scenario|check",
                                      help="observation: one JSON line of `observe import`; scenario: a `whatif` "
                                           "file; check: the output of `check --format json`."),
) -> None:
    """Print the JSON Schema (draft 2020-12) of an input or output format, generated from the models.

    Example: compliance schema observation > observation.schema.json
    """
    typer.echo(json.dumps(schema_for(name.value), indent=2, ensure_ascii=False))
