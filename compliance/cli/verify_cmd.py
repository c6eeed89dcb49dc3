"""`compliance verify`: check that the log is the one the tool wrote (exit 3 if it was altered)."""

from __future__ import annotations

from typing import Optional

import typer

from . import app
from .common import AgreementOption, StoreOption, handles_errors, open_store


@app.command("verify")
@handles_errors
def verify_command(
    ctx: typer.Context,
    head: Optional[str] = typer.Option(None, "--head", help="A chain head published earlier (a report's log_digest): "
                                       "fail unless the log still contains it (catches a log rewritten or cut short since)."),
    store: Optional[str] = StoreOption,
    agreement: Optional[list[str]] = AgreementOption,
) -> None:
    """Check the log's integrity: the hash chain, every record against its hash and the agreement,
    the columns queries read, and the record count and chain head of the last append. Never writes.

    Prints `ok: N records, chain head sha256:...`; exits 3 naming the first record that does not match.

    Example: compliance --store observations/observations.db verify --head sha256:a839...
    """
    from ..integrity import verify

    db = open_store(ctx, store, agreement, quiet=True)
    try:
        report = verify(db, expect_head=head.strip() if head else None)
    finally:
        db.close()
    typer.echo(report.summary())
