"""JSON Schema (draft 2020-12) of the exchange formats, generated from the pydantic models: an observation
(a line of `observe import`), a what-if scenario, and the result of a check (`check --format json`)."""

from __future__ import annotations

from typing import Any

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


IMPORT_DESCRIPTION = (
    "One observation, as a line of `compliance observe import` (JSON Lines) reads it and `observe export` writes "
    "it. Text is trimmed and must not be empty; at most 1,000 characters (quote and notes 10,000); no control "
    "characters but newline and tab. source_party may be left out for a source in the source registry. Import "
    "also reads corrections (these fields and supersedes: ID), retractions ({retracts, reason}), amendments and "
    "endings ({record: amendment|ending, ...}), and, into an empty store only, export lines with their store "
    "fields (id, recorded_at, recorded_by, hash).")


def observation_schema(agreement: Any = None, *, for_import: bool = True) -> dict[str, Any]:
    """The observation fields (spec/observations.md), as `observe import` reads them and `observe export` writes
    them: `kind` one of the agreement's kinds; `source_party` optional on import (the source registry supplies it),
    required where nothing supplies it (a what-if's added observations, `for_import=False`)."""
    from .observation import ObservationFields

    schema = ObservationFields.model_json_schema(mode="validation")
    schema["description"] = IMPORT_DESCRIPTION if for_import else "A hypothetical observation (source_party required)."
    if for_import:
        schema["required"] = [name for name in schema["required"] if name != "source_party"]
    if agreement is not None:
        properties = schema["properties"]
        properties["kind"]["enum"] = list(agreement.kinds)
        codes = ", ".join(agreement.known_codes)
        named = getattr(agreement, "id", None) or ", ".join(agreement.ids)
        properties["actor"]["description"] += f" Known to {named}: {codes}."
        properties["source_party"]["description"] += f" Known to {named}: {codes}, independent."
    return schema


def scenario_schema(agreement: Any = None) -> dict[str, Any]:
    """A what-if scenario file; each item of `add` is an observation."""
    from .scenario import Scenario

    schema = Scenario.model_json_schema(mode="validation")
    add = schema.get("properties", {}).get("add")
    if isinstance(add, dict) and add.get("type") == "array":
        observation = observation_schema(agreement, for_import=False)
        defs = schema.setdefault("$defs", {})
        defs.update(observation.pop("$defs", {}))
        defs["Observation"] = observation
        add["items"] = {"$ref": "#/$defs/Observation"}
    return schema


def check_schema(agreement: Any = None) -> dict[str, Any]:
    """The result `check --format json` prints (spec/verdicts.md)."""
    from .verdicts import CheckResult

    return CheckResult.model_json_schema(mode="serialization")


_BUILDERS = {"observation": observation_schema, "scenario": scenario_schema, "check": check_schema}
SCHEMAS = tuple(_BUILDERS)


def schema_for(name: str, agreement: Any = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `observation`, `scenario` or `check`; with an agreement (or a process),
    the kinds and party codes it knows. InputError naming the parameter `name` for another name."""
    builder = _BUILDERS.get(name)
    if builder is None:
        from .errors import InputError

        raise InputError(f"{name!r} is not one of: {', '.join(SCHEMAS)}", param="name")
    return {"$schema": JSON_SCHEMA_DIALECT, **builder(agreement)}
