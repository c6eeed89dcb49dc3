"""`compliance whatif`: evaluate a hypothetical scenario against the log (read-only) and show what changes."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer

from . import app
from .common import AgreementOption, StoreOption, handles_errors, open_store, parse_fail_on, selected_agreements


class WhatIfFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command("whatif")
@handles_errors
def whatif_command(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="SCENARIO.yaml", help="The scenario file (YAML), or - for standard input."),
    output: WhatIfFormat = typer.Option(WhatIfFormat.table, "--format", help="Output format."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 if any obligation has one of these verdicts "
                                          "in the scenario (comma-separated)."),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
) -> None:
    """Evaluate a what-if scenario against the log without writing anything; print the verdicts that change.

    A scenario is YAML: as_of (required), since, add (hypothetical observations, IDs h1, h2, ...),
    exclude (logged IDs to leave out), without_amendments (true or amendment IDs), terms (overrides per
    obligation), attribute ({NK: AM}), declare (extra actor codes). See examples/*.yaml.

    Example: compliance --store sample whatif examples/kalbajar-without-extension.yaml
    """
    from ..scenario import read_scenario_file, read_scenario_text
    from ..whatif import evaluate_scenario, whatif_json, whatif_markdown, whatif_table

    failing = parse_fail_on(fail_on)
    scenario = read_scenario_text(sys.stdin.read(), "<stdin>") if file == "-" else read_scenario_file(file)
    db = open_store(ctx, store, agreement)  # read-only: a missing store reads as an empty log
    try:
        result = evaluate_scenario(scenario, db, agreements=selected_agreements(ctx, db, agreement))
    finally:
        db.close()
    render = {WhatIfFormat.table: whatif_table, WhatIfFormat.json: whatif_json, WhatIfFormat.markdown: whatif_markdown}
    typer.echo(render[output](result).rstrip("\n"))
    if failing and any(o.verdict.value in failing for o in result.scenario.obligations):
        raise typer.Exit(1)
