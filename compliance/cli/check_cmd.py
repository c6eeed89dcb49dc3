"""`compliance check`: evaluate every obligation as of a date."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from . import app
from .common import AgreementOption, StoreOption, handles_errors, open_store, parse_fail_on, selected_agreements


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command("check")
@handles_errors
def check_command(
    ctx: typer.Context,
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of this date (default: today in the agreement's time zone)."),
    since: Optional[str] = typer.Option(None, "--since", help="For caps, prohibitions and linked series, count only observations dated on or after this date (default: entry into force)."),
    as_recorded: Optional[str] = typer.Option(None, "--as-recorded", help="Read the log as it stood at this UTC time (default: now)."),
    without_amendments: bool = typer.Option(False, "--without-amendments", help="Use the original terms."),
    output: CheckFormat = typer.Option(CheckFormat.table, "--format", help="Output format."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 if any obligation has one of these verdicts (comma-separated)."),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
) -> None:
    """Evaluate every obligation, for each bearer, as of a date.

    Example: compliance --store sample check --as-of 2021-09-30 --format json
    """
    from ..check import check
    from ..render import check_json, check_markdown, check_table

    failing = parse_fail_on(fail_on)
    db = open_store(ctx, store, agreement)
    result = check(db, as_of=as_of, since=since, as_recorded=as_recorded, without_amendments=without_amendments,
                   agreements=selected_agreements(ctx, db, agreement))
    text = {CheckFormat.table: check_table, CheckFormat.json: check_json, CheckFormat.markdown: check_markdown}[output](result)
    typer.echo(text.rstrip("\n"))
    if failing and any(o.verdict.value in failing for o in result.obligations):
        raise typer.Exit(1)
