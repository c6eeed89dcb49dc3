"""`compliance schema observation|scenario|check`: JSON Schema of the exchange formats, from the pydantic models."""

from __future__ import annotations

import json
from enum import Enum
from typing import Optional

import typer

from . import app
from .common import AgreementOption, agreement_refs, handles_errors


class SchemaName(str, Enum):
    observation = "observation"
    scenario = "scenario"
    check = "check"


@app.command("schema")
@handles_errors
def schema(
    ctx: typer.Context,
    name: SchemaName = typer.Argument(..., metavar="observation|scenario|check",
                                      help="observation: one JSON line of `observe import`; scenario: a `whatif` "
                                           "file; check: the output of `check --format json`."),
    agreement: Optional[str] = AgreementOption,
) -> None:
    """Print the JSON Schema (draft 2020-12) of an input or output format, generated from the models.

    The observation schema lists the kinds of the agreement (--agreement) and the methods; source_party is
    optional, as import takes it from the source registry.

    Example: compliance schema observation > observation.schema.json
    """
    from ..process import bundled_process_ids, load_process
    from ..schema import schema_for

    refs = agreement_refs(ctx, agreement) or bundled_process_ids()
    typer.echo(json.dumps(schema_for(name.value, load_process(refs)), indent=2, ensure_ascii=False))
