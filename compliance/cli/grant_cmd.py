"""`compliance grant monitor|reader|owner ROLE`: give a server role its rights on a PostgreSQL store."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from . import app
from .common import AgreementOption, StoreOption, handles_errors, open_store


class Right(str, Enum):
    monitor = "monitor"
    reader = "reader"
    owner = "owner"


@app.command("grant")
@handles_errors
def grant_command(
    ctx: typer.Context,
    right: Right = typer.Argument(..., metavar="RIGHT", help="monitor (read, and append through the store's own path), "
                                  "reader (read only) or owner (migrate, restore an export, grant rights)."),
    role: str = typer.Argument(..., metavar="ROLE", help="An existing role of the PostgreSQL server."),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
) -> None:
    """Give an existing role of the PostgreSQL server its rights on the store's schema (run by an owner).

    A monitor appends only through the store's own functions: no role but the owner's may change or delete
    a record. A SQLite store is a file: who may read or write it is a matter of its file permissions.

    Example: compliance --store postgresql://owner@db.example.org/mission grant monitor alice
    """
    db = open_store(ctx, store, agreement, quiet=True)
    try:
        db.grant(right.value, role)
    finally:
        db.close()
    typer.echo(f"{role}: {right.value} of {db.where}")
