"""`compliance clauses list|show|validate`, `amend`, `end` and `track`: the agreements as data, and changes to them."""

from __future__ import annotations

import json
from contextlib import contextmanager
from enum import Enum
from typing import Iterator, Optional

import typer

from . import app
from .common import (AgreementOption, AsOption, StoreOption, handles_errors, open_store, resolve,
                     selected_agreements, store_vocabulary)

clauses_app = typer.Typer(help="The agreements' obligations, their text, terms in force, amendments and endings.\n\n"
                               "Example: compliance clauses show P6-kalbajar-return", no_args_is_help=True)
app.add_typer(clauses_app, name="clauses")


class ClauseFormat(str, Enum):
    table = "table"
    json = "json"


def _state(ctx: typer.Context, store: Optional[str], agreement: Optional[list[str]], as_of: Optional[str]):
    """The selected agreements as of the date, with their terms in force, amendments and endings."""
    from ..agreement_view import agreement_views

    db = open_store(ctx, store, agreement)
    return agreement_views(db, selected_agreements(ctx, db, agreement), as_of)


@clauses_app.command("list")
@handles_errors
def clauses_list(
    ctx: typer.Context,
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Show terms in force on this date (default: today)."),
    output: ClauseFormat = typer.Option(ClauseFormat.table, "--format"),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
) -> None:
    """List the obligations with their bearers, rule and terms in force, agreement by agreement.

    Example: compliance clauses list --as-of 2020-11-14
    """
    from tabulate import tabulate

    views = _state(ctx, store, agreement, as_of)
    if output == ClauseFormat.json:
        typer.echo(json.dumps({"as_of": views[0].as_of.isoformat(),
                               "agreements": [view.listing() for view in views]}, indent=2, ensure_ascii=False))
        return
    blocks = []
    for view in views:
        rows = view.listing()["obligations"]
        blocks.append(f"{view.agreement.id}: {view.agreement.title}\nterms in force on {view.as_of.isoformat()}\n\n"
                      + tabulate([list(r.values()) for r in rows], headers=list(rows[0].keys()),
                                 maxcolwidths=[None, None, None, None, 40, 50]))
    typer.echo("\n\n".join(blocks))


@clauses_app.command("show")
@handles_errors
def clauses_show(
    ctx: typer.Context,
    obligation_id: str = typer.Argument(..., metavar="ID", help="An obligation ID (see `clauses list`)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Show terms in force on this date (default: today)."),
    output: ClauseFormat = typer.Option(ClauseFormat.table, "--format",
                                        help="table, or json (the obligation with its rule written out in full)."),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
) -> None:
    """Show one obligation: quoted text, rule, terms in force with their amendment history, endings, links.

    Example: compliance clauses show P6-kalbajar-return --as-of 2020-11-14
    """
    from ..agreement_view import find_obligation

    views = _state(ctx, store, agreement, as_of)
    view, ob = find_obligation(views, obligation_id)
    if output == ClauseFormat.json:
        typer.echo(json.dumps(view.obligation_json(ob, views), indent=2, ensure_ascii=False))
        return
    typer.echo(view.obligation_text(ob, views))


@clauses_app.command("validate")
@handles_errors
def clauses_validate(
    path: str = typer.Argument(..., metavar="PATH", help="A clause file (or a folder holding one)."),
) -> None:
    """Load a clause file as the engine would, and lint it: errors as file:line and field path (exit 2);
    warnings (kinds no rule reads, terms no rule reads, attributes without a unit, deadlines counted from
    what nothing produces) on stderr; then a one-line summary.

    Example: compliance clauses validate examples/clauses/minsk-feb-12-2015.yaml
    """
    from ..clauses import validate_clause_file

    report = validate_clause_file(path)
    for warning in report.warnings:
        typer.echo(f"compliance: warning: {warning}", err=True)
    agreement = report.agreement
    typer.echo(f"ok: {agreement.id}, {len(agreement.obligations)} obligations, {len(agreement.kinds)} kinds, "
               f"{len(report.warnings)} warning{'s' if len(report.warnings) != 1 else ''}")


_OPTIONS = {"obligation": "OBLIGATION", "term": "--term", "value": "--value", "agreed_on": "--agreed-on", "by": "--by",
            "on": "--on", "source": "--source", "note": "--note", "supersedes": "--supersedes"}


@contextmanager
def _named_as_options() -> Iterator[None]:
    """Errors of an amendment or ending record name the command-line option, not the exchange field."""
    from ..errors import InputError

    try:
        yield
    except InputError as error:
        if error.field in _OPTIONS and error.file is None and error.line is None and error.param is None:
            raise error.in_field(_OPTIONS[error.field]) from None
        raise


@app.command("amend")
@handles_errors
def amend(
    ctx: typer.Context,
    obligation: str = typer.Argument(..., metavar="OBLIGATION", help="The obligation ID."),
    term: str = typer.Option(..., "--term", help="The term to change (limit, deadline, ...)."),
    value: str = typer.Option(..., "--value", help="The new value (a date for deadlines, a whole number for limits)."),
    agreed_on: str = typer.Option(..., "--agreed-on", help="The date the change was agreed."),
    by: str = typer.Option(..., "--by", help="The parties that agreed, comma-separated (AZ,AM)."),
    source: str = typer.Option(..., "--source", help="Where the change is documented."),
    note: Optional[str] = typer.Option(None, "--note", help="Free text."),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
    monitor: Optional[str] = AsOption,
) -> None:
    """Record an amendment to a term (the original term is kept); print its ID.

    Example: compliance amend P3-personnel-cap --term limit --value 2500 --agreed-on 2022-01-01 --by AM,AZ,RU --source "joint statement"
    """
    from ..exchange import amendment_record

    with _named_as_options():
        record = amendment_record({"obligation": obligation, "term": term, "value": value, "agreed_on": agreed_on,
                                   "by": by, "source": source, "note": note}, store_vocabulary(ctx, store, agreement))
    db = open_store(ctx, store, agreement, write=True)
    (new_id,) = db.append([record], resolve(ctx, "monitor", monitor))
    typer.echo(new_id)


@app.command("end")
@handles_errors
def end(
    ctx: typer.Context,
    obligation: str = typer.Argument(..., metavar="OBLIGATION", help="The obligation ID."),
    on: str = typer.Option(..., "--on", help="The first date on which the obligation no longer applies."),
    by: str = typer.Option(..., "--by", help="The parties that agreed, comma-separated."),
    source: str = typer.Option(..., "--source", help="Where the ending is documented."),
    note: Optional[str] = typer.Option(None, "--note", help="Free text."),
    supersedes: Optional[str] = typer.Option(None, "--supersedes", help="The ending this one corrects (an ending ID "
                                             "of the same obligation); it then no longer applies."),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
    monitor: Optional[str] = AsOption,
) -> None:
    """Record that an obligation stopped applying; print the ending's ID.

    An obligation ends once: a second ending is refused unless it names the one it corrects with --supersedes
    (a wrong end date, say); the superseded ending stays in the log and no longer applies.

    Example: compliance end P3-personnel-cap --on 2024-06-12 --by AZ,RU --source "RU MoD statement"

    Example: compliance end P3-personnel-cap --on 2024-06-14 --by AZ,RU --source "RU MoD" --supersedes nov-10-2020-E1
    """
    from ..exchange import ending_record

    with _named_as_options():
        record = ending_record({"obligation": obligation, "on": on, "by": by, "source": source, "note": note,
                                "supersedes": supersedes}, store_vocabulary(ctx, store, agreement))
    db = open_store(ctx, store, agreement, write=True)
    with _named_as_options():
        (new_id,) = db.append([record], resolve(ctx, "monitor", monitor))
    typer.echo(new_id)


@app.command("track")
@handles_errors
def track(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="ID|PATH", help="A bundled agreement ID (jan-11-2021) or a clause file's path."),
    store: Optional[str] = StoreOption,
    monitor: Optional[str] = AsOption,
) -> None:
    """Make the store track one more agreement (a record in the log, hash-chained like an amendment); print its
    ID. Its obligation IDs must not collide with a tracked agreement's, and a kind both declare must mean the
    same thing.

    Example: compliance track jan-11-2021
    """
    from ..exchange import track_record

    db = open_store(ctx, store, None, write=True)
    (new_id,) = db.append([track_record(ref, db.process)], resolve(ctx, "monitor", monitor))
    typer.echo(new_id)
