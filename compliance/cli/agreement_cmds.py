"""`compliance clauses list|show`, `amend` and `end`: the agreement as data, and changes to it."""

from __future__ import annotations

import json
from contextlib import contextmanager
from enum import Enum
from typing import Iterator, Optional

import typer

from . import app
from .common import AgreementOption, AsOption, StoreOption, handles_errors, open_store, parse_date_option, resolve

clauses_app = typer.Typer(help="The agreement's obligations, their text, terms in force, amendments and endings.\n\n"
                               "Example: compliance clauses show P6-kalbajar-return", no_args_is_help=True)
app.add_typer(clauses_app, name="clauses")


class ClauseFormat(str, Enum):
    table = "table"
    json = "json"


def _state(ctx: typer.Context, store: Optional[str], agreement: Optional[str], as_of: Optional[str]):
    from ..check import snapshot
    from ..terms import agreement_state

    db = open_store(ctx, store, agreement)
    day = parse_date_option(as_of, "--as-of", db.agreement.tz)
    snap = snapshot(db, day)
    return db.agreement, snap, agreement_state(db.agreement, snap.as_of, snap.amendments, snap.endings)


def _value(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else f"{value:,}" if isinstance(value, int) else str(value)


@clauses_app.command("list")
@handles_errors
def clauses_list(
    ctx: typer.Context,
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Show terms in force on this date (default: today)."),
    output: ClauseFormat = typer.Option(ClauseFormat.table, "--format"),
    store: Optional[str] = StoreOption,
    agreement: Optional[str] = AgreementOption,
) -> None:
    """List the obligations with their bearers, rule and terms in force.

    Example: compliance clauses list --as-of 2020-11-14
    """
    from tabulate import tabulate

    agr, snap, state = _state(ctx, store, agreement, as_of)
    rows = []
    for ob in agr.obligations:
        terms = ", ".join(f"{name} {_value(t.value)}" + (" (amended)" if t.amended_by else "")
                          for name, t in state.terms[ob.id].items())
        ended = state.endings.get(ob.id)
        rows.append({"id": ob.id, "point": ob.point, "bearers": ",".join(ob.bearers) + (" (joint)" if ob.joint else ""),
                     "rule": ob.rule.shape, "terms in force": terms + (f"; ended {ended.on}" if ended else ""),
                     "title": ob.title})
    if output == ClauseFormat.json:
        typer.echo(json.dumps({"agreement": agr.id, "as_of": snap.as_of.isoformat(), "obligations": rows}, indent=2))
        return
    typer.echo(f"{agr.id}: {agr.title}\nterms in force on {snap.as_of.isoformat()}\n")
    typer.echo(tabulate([list(r.values()) for r in rows], headers=list(rows[0].keys()), maxcolwidths=[None, None, None, None, 40, 50]))


@clauses_app.command("show")
@handles_errors
def clauses_show(
    ctx: typer.Context,
    obligation_id: str = typer.Argument(..., metavar="ID", help="An obligation ID (see `clauses list`)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Show terms in force on this date (default: today)."),
    output: ClauseFormat = typer.Option(ClauseFormat.table, "--format"),
    store: Optional[str] = StoreOption,
    agreement: Optional[str] = AgreementOption,
) -> None:
    """Show one obligation: quoted text, rule, terms in force with their amendment history, endings.

    Example: compliance clauses show P6-kalbajar-return --as-of 2020-11-14
    """
    from ..errors import UnknownReferenceError

    agr, snap, state = _state(ctx, store, agreement, as_of)
    ob = agr.obligation_or_none(obligation_id)
    if ob is None:
        raise UnknownReferenceError(f"unknown obligation {obligation_id!r} (known: {', '.join(o.id for o in agr.obligations)})", "ID")
    amendments = [a for a in snap.amendments if a.obligation == ob.id]
    endings = [e for e in snap.endings if e.obligation == ob.id]
    if output == ClauseFormat.json:
        typer.echo(json.dumps({
            "obligation": ob.model_dump(mode="json"), "as_of": snap.as_of.isoformat(),
            "terms_in_force": {n: _value(t.value) for n, t in state.terms[ob.id].items()},
            "amendments": [a.model_dump(mode="json") for a in amendments],
            "endings": [e.model_dump(mode="json") for e in endings]}, indent=2, ensure_ascii=False))
        return
    version = agr.versions[ob.text.version]
    lines = [f"{ob.id}: {ob.title}", f"point {ob.point}; bearer{'s' if len(ob.bearers) > 1 else ''} "
             f"{', '.join(ob.bearers)}{' (joint)' if ob.joint else ''}; rule: {ob.rule.shape}", "",
             f"  \"{ob.text.quote}\"", f"  ({version.publisher})"]
    for variant in ob.text.variants:
        lines.append(f"  variant ({agr.versions[variant.version].publisher}): \"{variant.quote}\"")
    rule = ob.rule.model_dump(exclude={"shape"}, exclude_none=True)
    lines += ["", "rule reads: " + ", ".join(f"{k} {v}" for k, v in rule.items())]
    lines += ["", f"terms in force on {snap.as_of.isoformat()}:"]
    for name, term in state.terms[ob.id].items():
        clause = ob.terms[name]
        extra = " (inclusive)" if clause.inclusive else (" (exclusive)" if clause.inclusive is False else "")
        lines.append(f"  {name}: {_value(term.value)}{extra}; text: \"{clause.quote}\"")
        if clause.interpretation:
            lines.append(f"    reading: {clause.interpretation}")
        for amendment in term.amended_by:
            lines.append(f"    amended by {amendment.id}: {_value(amendment.value)}, agreed {amendment.agreed_on} by "
                         f"{', '.join(amendment.by)}; source: {amendment.source}")
    later = [a for a in amendments if a.agreed_on > snap.as_of]
    for amendment in later:
        lines.append(f"  later amendment {amendment.id}: {amendment.term} {_value(amendment.value)}, agreed {amendment.agreed_on}")
    if ob.interpretation:
        lines += ["", f"interpretation: {ob.interpretation}"]
    lines += ["", "endings: " + ("; ".join(f"{e.id} from {e.on} by {', '.join(e.by)} ({e.source})" for e in endings) or "none")]
    typer.echo("\n".join(lines))


_OPTIONS = {"obligation": "OBLIGATION", "term": "--term", "value": "--value", "agreed_on": "--agreed-on", "by": "--by",
            "on": "--on", "source": "--source", "note": "--note", "supersedes": "--supersedes"}


@contextmanager
def _named_as_options() -> Iterator[None]:
    """Errors of an amendment or ending record name the command-line option, not the exchange field."""
    from ..errors import InputError

    try:
        yield
    except InputError as error:
        raise type(error)(error.reason, _OPTIONS.get(error.where or "", error.where)) from None


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
    agreement: Optional[str] = AgreementOption,
    monitor: Optional[str] = AsOption,
) -> None:
    """Record an amendment to a term (the original term is kept); print its ID.

    Example: compliance amend P3-personnel-cap --term limit --value 2500 --agreed-on 2022-01-01 --by AM,AZ,RU --source "joint statement"
    """
    from ..exchange import amendment_record
    from .common import open_agreement

    agr = open_agreement(ctx, agreement)
    with _named_as_options():
        record = amendment_record({"obligation": obligation, "term": term, "value": value, "agreed_on": agreed_on,
                                   "by": by, "source": source, "note": note}, agr)
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
    agreement: Optional[str] = AgreementOption,
    monitor: Optional[str] = AsOption,
) -> None:
    """Record that an obligation stopped applying; print the ending's ID.

    An obligation ends once: a second ending is refused unless it names the one it corrects with --supersedes
    (a wrong end date, say); the superseded ending stays in the log and no longer applies.

    Example: compliance end P3-personnel-cap --on 2024-06-12 --by AZ,RU --source "RU MoD statement"

    Example: compliance end P3-personnel-cap --on 2024-06-14 --by AZ,RU --source "RU MoD" --supersedes nov-10-2020-E1
    """
    from ..exchange import ending_record
    from .common import open_agreement

    agr = open_agreement(ctx, agreement)
    with _named_as_options():
        record = ending_record({"obligation": obligation, "on": on, "by": by, "source": source, "note": note,
                                "supersedes": supersedes}, agr)
    db = open_store(ctx, store, agreement, write=True)
    with _named_as_options():
        (new_id,) = db.append([record], resolve(ctx, "monitor", monitor))
    typer.echo(new_id)
