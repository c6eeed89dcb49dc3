"""`compliance observe ...`: add, import, list, show, correct, retract and export observations."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from enum import Enum
from typing import Any, Iterator, Optional

import typer

from . import app
from .common import (AgreementOption, AsOption, StoreOption, declared_codes, handles_errors, open_store,
                     resolve)

observe_app = typer.Typer(help="Log observations and correct them without erasing history.\n\n"
                               "Example: compliance observe add --kind ceasefire.breach --date 2021-07-13 --actor AM "
                               "--source 'Russian MoD' --source-party RU", no_args_is_help=True)
app.add_typer(observe_app, name="observe")

DeclareOption = typer.Option(None, "--declare", help="Declare an actor code the agreement does not know (repeatable). [env: COMPLIANCE_DECLARED_ACTORS]")
REGISTRY_HELP = ("The monitor's source registry (YAML), which takes precedence over the bundled one. "
                 "[env: COMPLIANCE_SOURCES]")
RegistryOption = typer.Option(None, "--registry", help=REGISTRY_HELP, show_default="sources.yaml beside the store")


def registry_path(ctx: typer.Context, registry: Optional[str], store: Optional[str]):
    """The monitor's registry file: --registry, else COMPLIANCE_SOURCES, else sources.yaml beside the store."""
    from ..sources import user_registry_path

    return user_registry_path(registry, resolve(ctx, "store", store))


def open_registry(ctx: typer.Context, registry: Optional[str], store: Optional[str]):
    """The source registry: the bundled entries and the monitor's file (`registry_path`)."""
    from ..sources import load_registry

    return load_registry(registry_path(ctx, registry, store))


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


class ShowFormat(str, Enum):
    table = "table"
    json = "json"


def _fields(**options: Any) -> dict[str, Any]:
    """Observation fields from command-line options (names as in the exchange format)."""
    return {key: value for key, value in options.items() if value is not None}


# One set of field options, shared by `add` (some required) and `correct` (all optional).
def _field_options(required: bool) -> dict[str, Any]:
    need = ... if required else None
    return dict(
        kind=typer.Option(need, "--kind", help="What was observed, from the agreement's vocabulary (see `compliance clauses show`)."),
        date=typer.Option(need, "--date", help="When it happened: ISO date or date-time (read in the agreement's time zone)."),
        actor=typer.Option(need, "--actor", help="Party code whose conduct or forces it concerns."),
        source=typer.Option(need, "--source", help="Who reported it."),
        source_party=typer.Option(None, "--source-party", help="The source's alignment: a party code or 'independent'. "
                                  "Left out: the source registry's alignment for --source (see `compliance sources list`)."),
    )


_OPTIONAL_FIELDS = dict(
    value=typer.Option(None, "--value", help="A count (whole number >= 0)."),
    low=typer.Option(None, "--low", help="Lower end of a reported range."),
    high=typer.Option(None, "--high", help="Upper end of a reported range."),
    claim=typer.Option(None, "--claim", help="affirms (default) or denies."),
    subject=typer.Option(None, "--subject", help="A district, or conflict-zone / state-border for ceasefire.breach."),
    place=typer.Option(None, "--place", help="Where, in words."),
    lat=typer.Option(None, "--lat", help="Latitude (-90..90)."),
    lon=typer.Option(None, "--lon", help="Longitude (-180..180)."),
    date_end=typer.Option(None, "--date-end", help="For something that lasted: the last date."),
    method=typer.Option(None, "--method", help="seen, heard, imagery, statement or media-report."),
    supervised_by=typer.Option(None, "--supervised-by", help="The body that supervised it (UNHCR for returns)."),
    url=typer.Option(None, "--url", help="Link to the source."),
    quote=typer.Option(None, "--quote", help="A short attributed excerpt of the source."),
    notes=typer.Option(None, "--notes", help="Free text."),
    attr=typer.Option(None, "--attr", metavar="NAME=VALUE", help="An attribute the clause file declares for the "
                      "kind, such as calibre_mm=122 (repeatable; see `compliance clauses show`)."),
)


@observe_app.command("add")
@handles_errors
def add(
    ctx: typer.Context,
    kind: str = _field_options(True)["kind"],
    date: str = _field_options(True)["date"],
    actor: str = _field_options(True)["actor"],
    source: str = _field_options(True)["source"],
    source_party: Optional[str] = _field_options(True)["source_party"],
    value: Optional[int] = _OPTIONAL_FIELDS["value"],
    low: Optional[int] = _OPTIONAL_FIELDS["low"],
    high: Optional[int] = _OPTIONAL_FIELDS["high"],
    claim: Optional[str] = _OPTIONAL_FIELDS["claim"],
    subject: Optional[str] = _OPTIONAL_FIELDS["subject"],
    place: Optional[str] = _OPTIONAL_FIELDS["place"],
    lat: Optional[float] = _OPTIONAL_FIELDS["lat"],
    lon: Optional[float] = _OPTIONAL_FIELDS["lon"],
    date_end: Optional[str] = _OPTIONAL_FIELDS["date_end"],
    method: Optional[str] = _OPTIONAL_FIELDS["method"],
    supervised_by: Optional[str] = _OPTIONAL_FIELDS["supervised_by"],
    url: Optional[str] = _OPTIONAL_FIELDS["url"],
    quote: Optional[str] = _OPTIONAL_FIELDS["quote"],
    notes: Optional[str] = _OPTIONAL_FIELDS["notes"],
    attr: Optional[list[str]] = _OPTIONAL_FIELDS["attr"],
    declare: Optional[list[str]] = DeclareOption,
    registry: Optional[str] = RegistryOption,
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
    monitor: Optional[str] = AsOption,
) -> None:
    """Validate and append one observation; print its ID.

    Without --source-party, the source's alignment comes from the source registry; a source it does not
    know is an error that says how to register it (`compliance sources add`).

    Attributes the clause file declares for the kind (a calibre, a distance) are given with --attr
    NAME=VALUE, once for each.

    Example: compliance observe add --kind contingent.personnel --date 2020-11-20 --actor RU --value 1960
    --source 'Russian MoD' --source-party RU --method statement
    """
    from ..recording import add_observation

    fields = _fields(kind=kind, date=date, actor=actor, source=source, source_party=source_party, value=value,
                     low=low, high=high, claim=claim, subject=subject, place=place, lat=lat, lon=lon,
                     date_end=date_end, method=method, supervised_by=supervised_by, url=url, quote=quote, notes=notes)
    db = open_store(ctx, store, agreement, write=True)
    with _attributes_as_options():
        new_id = add_observation(db, fields, attributes=attr or (), declared=declared_codes(declare),
                                 registry=registry_path(ctx, registry, store), recorded_by=resolve(ctx, "monitor", monitor))
    typer.echo(new_id)


@contextmanager
def _attributes_as_options() -> Iterator[None]:
    """An error about an attribute (`attributes.NAME`, as the exchange format names it) named as the option that
    gives it on the command line (`--attr NAME`)."""
    from ..errors import ComplianceError

    try:
        yield
    except ComplianceError as error:
        field = error.field or ""
        if field.startswith("attributes.") and error.file is None and error.line is None:
            raise error.in_field(f"--attr {field.removeprefix('attributes.')}") from None
        raise


@observe_app.command("correct")
@handles_errors
def correct(
    ctx: typer.Context,
    observation_id: str = typer.Argument(..., metavar="ID", help="The observation to correct (the latest of its chain)."),
    kind: Optional[str] = _field_options(False)["kind"],
    date: Optional[str] = _field_options(False)["date"],
    actor: Optional[str] = _field_options(False)["actor"],
    source: Optional[str] = _field_options(False)["source"],
    source_party: Optional[str] = _field_options(False)["source_party"],
    value: Optional[int] = _OPTIONAL_FIELDS["value"],
    low: Optional[int] = _OPTIONAL_FIELDS["low"],
    high: Optional[int] = _OPTIONAL_FIELDS["high"],
    claim: Optional[str] = _OPTIONAL_FIELDS["claim"],
    subject: Optional[str] = _OPTIONAL_FIELDS["subject"],
    place: Optional[str] = _OPTIONAL_FIELDS["place"],
    lat: Optional[float] = _OPTIONAL_FIELDS["lat"],
    lon: Optional[float] = _OPTIONAL_FIELDS["lon"],
    date_end: Optional[str] = _OPTIONAL_FIELDS["date_end"],
    method: Optional[str] = _OPTIONAL_FIELDS["method"],
    supervised_by: Optional[str] = _OPTIONAL_FIELDS["supervised_by"],
    url: Optional[str] = _OPTIONAL_FIELDS["url"],
    quote: Optional[str] = _OPTIONAL_FIELDS["quote"],
    notes: Optional[str] = _OPTIONAL_FIELDS["notes"],
    attr: Optional[list[str]] = _OPTIONAL_FIELDS["attr"],
    declare: Optional[list[str]] = DeclareOption,
    registry: Optional[str] = RegistryOption,
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
    monitor: Optional[str] = AsOption,
) -> None:
    """Append a corrected copy of an observation that supersedes it; print the new ID.

    A new --source without --source-party takes the source registry's alignment for it. --attr NAME=VALUE
    changes one attribute and keeps the others; --attr NAME= drops it.

    Example: compliance observe correct 12 --date 2021-09-11
    """
    from ..recording import correct_observation

    changes = _fields(kind=kind, date=date, actor=actor, source=source, source_party=source_party, value=value,
                      low=low, high=high, claim=claim, subject=subject, place=place, lat=lat, lon=lon,
                      date_end=date_end, method=method, supervised_by=supervised_by, url=url, quote=quote, notes=notes)
    db = open_store(ctx, store, agreement, write=True)
    with _attributes_as_options():
        new_id = correct_observation(db, observation_id, changes, attributes=attr or (), declared=declared_codes(declare),
                                     registry=registry_path(ctx, registry, store),
                                     recorded_by=resolve(ctx, "monitor", monitor))
    typer.echo(new_id)


@observe_app.command("retract")
@handles_errors
def retract(
    ctx: typer.Context,
    observation_id: str = typer.Argument(..., metavar="ID", help="The observation to retract (the latest of its chain)."),
    reason: str = typer.Option(..., "--reason", help="Why it is retracted."),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
    monitor: Optional[str] = AsOption,
) -> None:
    """Append a retraction of an observation; the original stays in the log. Prints the retraction's ID.

    Example: compliance observe retract 20 --reason "duplicate of 19"
    """
    from ..recording import retract_observation

    db = open_store(ctx, store, agreement, write=True)
    typer.echo(retract_observation(db, observation_id, reason, recorded_by=resolve(ctx, "monitor", monitor)))


class ImportFormat(str, Enum):
    jsonl = "jsonl"
    acled = "acled"


@observe_app.command("import")
@handles_errors
def import_(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="JSON Lines file (or an ACLED CSV export with --format acled); - for standard input."),
    input_format: ImportFormat = typer.Option(ImportFormat.jsonl, "--format", help="jsonl (the exchange format) or acled (an ACLED CSV export)."),
    mapping: Optional[str] = typer.Option(None, "--mapping", help="ACLED only: a mapping file (event types, actors, places); default: the bundled acled_mapping.yaml.", show_default=False),
    default_source_party: Optional[str] = typer.Option(None, "--default-source-party", help="ACLED only: the alignment to record when an event's outlets are not in the source registry or disagree (a party code or 'independent')."),
    declare: Optional[list[str]] = DeclareOption,
    registry: Optional[str] = RegistryOption,
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
    monitor: Optional[str] = AsOption,
) -> None:
    """Validate every line, then append all of them or none; print how many were stored.

    A JSON line may leave out source_party when the source registry knows its source. With --format acled,
    mapped events become observations (see docs/monitor-workflow.md); a summary of what was imported and
    skipped goes to stderr, and re-importing an updated export adds only new events and corrections.

    Example: compliance observe import observations/sample.jsonl

    Example: compliance observe import --format acled acled-export.csv
    """
    from ..acled import import_acled
    from ..errors import InputError
    from ..recording import import_jsonl

    if input_format == ImportFormat.jsonl:
        for option, value in (("--mapping", mapping), ("--default-source-party", default_source_party)):
            if value is not None:
                raise InputError("applies only to --format acled", option)
    source: Any = sys.stdin.buffer if file == "-" else file
    where = "<stdin>" if file == "-" else file
    db = open_store(ctx, store, agreement, write=True)
    options = dict(where=where, declared=declared_codes(declare), registry=registry_path(ctx, registry, store),
                   recorded_by=resolve(ctx, "monitor", monitor))
    if input_format == ImportFormat.acled:
        plan, ids = import_acled(source, db.process, db, mapping=mapping, default_source_party=default_source_party,
                                 **options)
        typer.echo(f"{len(ids)}")
        typer.echo(plan.summary(len(ids)), err=True)
        return
    count, plan = import_jsonl(db, source, **options)
    typer.echo(f"{count}")
    if plan.external:
        typer.echo(plan.summary(count), err=True)


@observe_app.command("export")
@handles_errors
def export(ctx: typer.Context, store: Optional[str] = StoreOption, agreement: Optional[list[str]] = AgreementOption) -> None:
    """Write the whole log to stdout as JSON Lines, store fields included (restore it with `observe import`).

    Example: compliance observe export > backup.jsonl
    """
    from ..exchange import export_lines

    db = open_store(ctx, store, agreement)
    out = sys.stdout
    for line in export_lines(db.records()):
        out.write(line + "\n")


@observe_app.command("list")
@handles_errors
def list_(
    ctx: typer.Context,
    kind: Optional[str] = typer.Option(None, "--kind", help="Only this kind."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Only this actor."),
    since: Optional[str] = typer.Option(None, "--since", help="Only observations dated on or after this date."),
    until: Optional[str] = typer.Option(None, "--until", help="Only observations dated on or before this date."),
    output: ListFormat = typer.Option(ListFormat.table, "--format", help="Output format."),
    declare: Optional[list[str]] = DeclareOption,
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
) -> None:
    """List the live observations (not superseded or retracted), by date then ID.

    The filters are checked as `observe add` checks its fields: an unknown kind or actor, or --since after
    --until, is an error (exit 2), not an empty list.

    Example: compliance --store sample observe list --kind ceasefire.breach --since 2021-07-01
    """
    from tabulate import tabulate

    from ..listing import list_observations
    from ..observation import count_text

    records = list_observations(open_store(ctx, store, agreement), kind=kind, actor=actor, since=since, until=until,
                                declared=declared_codes(declare))
    if output == ListFormat.json:
        typer.echo(json.dumps([r.export() for r in records], indent=2, ensure_ascii=False))
    elif output == ListFormat.jsonl:
        for r in records:
            typer.echo(json.dumps(r.export(), ensure_ascii=False))
    else:
        rows = [(r.id, r.body["date"], r.body["kind"], r.body["actor"], r.body.get("subject", ""), count_text(r.body),
                 r.body.get("claim", "affirms"), r.body["source"], r.body["source_party"], r.body.get("method", ""))
                for r in records]
        typer.echo(tabulate(rows, headers=["id", "date", "kind", "actor", "subject", "count", "claim", "source",
                                           "alignment", "method"], maxcolwidths=[None] * 7 + [40, None, None]))
        typer.echo(f"{len(records)} observation{'s' if len(records) != 1 else ''}")


@observe_app.command("show")
@handles_errors
def show(
    ctx: typer.Context,
    observation_id: str = typer.Argument(..., metavar="ID"),
    output: ShowFormat = typer.Option(ShowFormat.table, "--format", help="Output format."),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
) -> None:
    """Show one observation with its history: what it corrected, and what superseded or retracted it.

    Example: compliance --store sample observe show 24
    """
    from ..listing import history_status

    db = open_store(ctx, store, agreement)
    record = db.get(observation_id)
    chain = db.history(observation_id)
    if output == ShowFormat.json:
        typer.echo(json.dumps({"record": record.export(), "history": [
            {**r.export(), "status": history_status(r)} for r in chain]}, indent=2, ensure_ascii=False))
        return
    for key, value in record.export().items():
        typer.echo(f"{key:>13}: {value}")
    typer.echo("")
    typer.echo("history:")
    for r in chain:
        mark = "*" if r.id == record.id else " "
        typer.echo(f" {mark} {r.id:>6}  {r.recorded_at}  {r.recorded_by:<14} {history_status(r)}")
