"""`compliance report`: write markdown compliance reports with charts, refresh the folder's index."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from . import app
from .common import AgreementOption, StoreOption, agreement_refs, handles_errors, open_store


class Every(str, Enum):
    month = "month"
    quarter = "quarter"


@app.command("report")
@handles_errors
def report_command(
    ctx: typer.Context,
    as_of: Optional[str] = typer.Option(None, "--as-of", help="One report as of this date (its month to date), named by the date. Default: today."),
    period: Optional[str] = typer.Option(None, "--period", help="One report for a month (2021-07) or a quarter (2021-Q3)."),
    start: Optional[str] = typer.Option(None, "--from", help="First period of a series: a date, month or quarter."),
    end: Optional[str] = typer.Option(None, "--to", help="Last period of a series: a date, month or quarter."),
    every: Optional[Every] = typer.Option(None, "--every", help="Length of each period of a series (default: month)."),
    out: str = typer.Option("reports", "--out", help="The folder to write reports, charts and index.md into."),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
) -> None:
    """Write markdown compliance reports (and charts beside them) and print their paths, period reports first.

    One report per agreement and period (every tracked agreement in force in the period, or those --agreement
    names); index.md lists them all by period, with the process summary of the latest period first. A period that has not ended is reported as of today. Re-running a report on the same log gives the same
    files, except the one line saying when it was generated.

    Example: compliance --store sample report --from 2020-11 --to 2023-12 --every quarter --out reports
    """
    from ..report import write_reports

    db = open_store(ctx, store, agreement)
    paths = write_reports(db, out, as_of=as_of, period=period, start=start, end=end,
                          every=every.value if every else None, agreements=agreement_refs(ctx, agreement) or None)
    for path in paths:
        typer.echo(str(path))
