"""`compliance sources list|add|lookup`: the source registry, the alignment of known sources."""

from __future__ import annotations

import json
from enum import Enum
from typing import Optional

import typer

from . import app
from .common import AgreementOption, StoreOption, declared_codes, handles_errors, open_agreement
from .observe import DeclareOption, RegistryOption, open_registry, registry_path

sources_app = typer.Typer(help="The source registry: which side each known source is aligned with. Used when an "
                               "observation leaves out its source_party.\n\n"
                               "Example: compliance sources add \"Caucasian Knot\" --party independent",
                          no_args_is_help=True)
app.add_typer(sources_app, name="sources")


class SourcesFormat(str, Enum):
    table = "table"
    json = "json"


@sources_app.command("list")
@handles_errors
def sources_list(
    ctx: typer.Context,
    party: Optional[str] = typer.Option(None, "--party", help="Only sources with this alignment."),
    output: SourcesFormat = typer.Option(SourcesFormat.table, "--format", help="Output format."),
    registry: Optional[str] = RegistryOption,
    store: Optional[str] = StoreOption,
    agreement: Optional[str] = AgreementOption,
) -> None:
    """List the known sources: the monitor's registry first, then the bundled one.

    Example: compliance sources list --party RU
    """
    from tabulate import tabulate

    from ..sources import source_rows

    reg = open_registry(ctx, registry, store)
    rows = source_rows(reg, party, lambda: open_agreement(ctx, agreement).known_codes)
    if output == SourcesFormat.json:
        typer.echo(json.dumps({"user_registry": str(reg.user_origin), "user_registry_exists": bool(
            reg.user_path and reg.user_path.exists()), "sources": rows}, indent=2, ensure_ascii=False))
        return
    table = [(r["name"], r["party"], ", ".join(r["aliases"]), r["type"] or "",
              r["origin"] + (f" (replaced by {r['replaced_by']!r})" if r["replaced_by"] else "")) for r in rows]
    typer.echo(tabulate(table, headers=["name", "alignment", "aliases", "type", "from"],
                        maxcolwidths=[40, None, 50, 20, 40]))
    user = sum(1 for r in rows if r["origin"] != "bundled")
    typer.echo(f"{len(rows)} source{'s' if len(rows) != 1 else ''} ({user} from {reg.user_origin}, "
               f"{len(rows) - user} bundled)")


@sources_app.command("add")
@handles_errors
def sources_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The source's name as observations give it."),
    party: str = typer.Option(..., "--party", help="Its alignment: a party code or 'independent'."),
    alias: Optional[list[str]] = typer.Option(None, "--alias", help="Another name of the same source (repeatable)."),
    source_type: Optional[str] = typer.Option(None, "--type", help="What it is (ministry, outlet, ...); informative."),
    note: Optional[str] = typer.Option(None, "--note", help="Free text, e.g. why this alignment."),
    declare: Optional[list[str]] = DeclareOption,
    registry: Optional[str] = RegistryOption,
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
) -> None:
    """Add a source to the monitor's registry (created if missing); it takes precedence over the bundled one.

    Example: compliance sources add "Caucasian Knot" --party independent --alias "Kavkazsky Uzel"
    """
    from ..sources import register_source

    path = registry_path(ctx, registry, store)
    entry, replaced = register_source(path, name, party, alias or [], source_type, note,
                                      known_codes=open_agreement(ctx, agreement).known_codes,
                                      declared=declared_codes(declare))
    typer.echo(f"added {entry.name!r} ({entry.party}) to {path}")
    for old, old_party in replaced.items():
        typer.echo(f"note: replaces the bundled entry {old!r} ({old_party})", err=True)


@sources_app.command("lookup")
@handles_errors
def sources_lookup(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="A source name as an observation would give it."),
    output: SourcesFormat = typer.Option(SourcesFormat.table, "--format", help="Output format."),
    registry: Optional[str] = RegistryOption,
    store: Optional[str] = StoreOption,
) -> None:
    """Show which registry entry a source name matches, and its alignment (exit 2 if none).

    Example: compliance sources lookup "azerbaijani mod"
    """
    from ..errors import UnknownReferenceError

    found = open_registry(ctx, registry, store).lookup(name)
    if found is None:
        shown = name.replace('"', "'")
        raise UnknownReferenceError(f"{name!r} is not in the source registry; register it: compliance sources add "
                                    f"\"{shown}\" --party CODE", "NAME")
    if output == SourcesFormat.json:
        from ..sources import source_row

        typer.echo(json.dumps(source_row(found.entry, found.origin), indent=2, ensure_ascii=False))
        return
    typer.echo(f"{found.entry.name}: {found.entry.party} (from {found.origin})")
