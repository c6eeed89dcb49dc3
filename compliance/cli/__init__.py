"""The `compliance` command line: a thin layer over the library (heavy modules are imported lazily)."""

from __future__ import annotations

from typing import Optional

import typer

from .common import AgreementOption, AsOption, GlobalOptions, OneLineErrors, StoreOption

app = typer.Typer(
    name="compliance",
    cls=OneLineErrors,
    help="Track compliance with the November 10, 2020 trilateral statement (or another agreement encoded as data).\n\n"
         "Example: compliance --store sample check --as-of 2021-09-30",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def root(ctx: typer.Context, store: Optional[str] = StoreOption, agreement: Optional[list[str]] = AgreementOption,
         monitor: Optional[str] = AsOption) -> None:
    """Agreement-compliance tracking: log observations, check obligations, write reports."""
    ctx.obj = GlobalOptions(store, agreement, monitor)


# each command module registers its commands on `app`
from . import (agreement_cmds, check_cmd, grant_cmd, observe, report_cmd, schema_cmd, sources_cmd,  # noqa: E402,F401
               verify_cmd, whatif_cmd)


def main() -> None:
    """Console-script entry point."""
    app()
