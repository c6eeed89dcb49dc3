"""Shared CLI plumbing: the global options and their precedence, and turning errors into exit codes."""

from __future__ import annotations

import functools
import getpass
import os
import sqlite3
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])

STORE_HELP = ("The observation log: a SQLite file, or a PostgreSQL URL for a team (postgresql://user@host:5432/db, "
              "?schema=NAME; the password from PGPASSWORD or ~/.pgpass); 'sample' opens the bundled sample log "
              "read-only. [env: COMPLIANCE_STORE]")
AGREEMENT_HELP = ("Which agreements to evaluate (or, for a new store, to track): bundled IDs or clause file/folder paths; "
                  "repeatable or comma-separated. [env: COMPLIANCE_AGREEMENT]")
AS_HELP = ("Who is recording (stored as recorded_by; on PostgreSQL recorded_by is the server role and this name is "
           "kept beside it). [env: COMPLIANCE_MONITOR]")

StoreOption = typer.Option(None, "--store", help=STORE_HELP, show_default="observations/observations.db")
AgreementOption = typer.Option(None, "--agreement", help=AGREEMENT_HELP,
                               show_default="the store's tracked agreements; for a new store, the bundled process")
AsOption = typer.Option(None, "--as", help=AS_HELP, show_default="your user name")


@dataclass
class GlobalOptions:
    """Values of --store, --agreement and --as given before the subcommand."""

    store: Optional[str] = None
    agreement: Optional[list[str]] = None
    monitor: Optional[str] = None
    noted_missing: bool = False  # the note that the store does not exist was printed


def _root(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalOptions):
        root.obj = GlobalOptions()
    return root.obj


def resolve(ctx: typer.Context, name: str, given: Optional[str]) -> str:
    """The option's value: after the subcommand, then before it, then the environment, then the default."""
    if given:
        return given
    before = getattr(_root(ctx), name)
    if before:
        return before
    env = {"store": "COMPLIANCE_STORE", "monitor": "COMPLIANCE_MONITOR"}[name]
    if os.environ.get(env):
        return os.environ[env]
    if name == "store":
        return os.path.join("observations", "observations.db")
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "unknown"


def agreement_refs(ctx: typer.Context, agreement: Optional[list[str]]) -> list[str]:
    """The --agreement values (after the subcommand, then before it, then COMPLIANCE_AGREEMENT), split on commas;
    empty when none was given (every agreement the store tracks)."""
    from ..process import split_refs

    if agreement:
        return split_refs(agreement)
    before = _root(ctx).agreement
    if before:
        return split_refs(before)
    return split_refs(os.environ.get("COMPLIANCE_AGREEMENT"))


def open_store(ctx: typer.Context, store: Optional[str], agreement: Optional[list[str]], *, write: bool = False,
               note_missing: bool = True):
    """Open the store; reads never create it (a read of a store that does not exist says so on stderr, once, and
    reads an empty log). A new store tracks the agreements named (default: the bundled process); a write to an
    existing store with --agreement naming one it does not track is an error."""
    from ..errors import InputError
    from ..store import Store

    refs = agreement_refs(ctx, agreement)
    db = Store.open(resolve(ctx, "store", store), refs or None, write=write)
    if not write and not db.exists and note_missing and not _noted(ctx):
        print(f"compliance: note: {db.where}: no store here yet: reading an empty log", file=sys.stderr)
    if write and refs:
        from ..check import resolve_agreements

        for chosen in resolve_agreements(db, refs):
            if chosen.id not in db.process.ids:
                raise InputError(f"the store does not track {chosen.id}; track it first: compliance track {chosen.id}",
                                 "--agreement")
    return db


def _noted(ctx: typer.Context) -> bool:
    """True once the note that the store does not exist was printed for this command (it opens the store twice)."""
    root = _root(ctx)
    noted = getattr(root, "noted_missing", False)
    root.noted_missing = True
    return noted


def store_vocabulary(ctx: typer.Context, store: Optional[str], agreement: Optional[list[str]]):
    """The agreements the store tracks (for a store not yet written, those it will track), without creating it:
    what new observations are validated against."""
    db = open_store(ctx, store, agreement, note_missing=False)  # (a write: it creates the store)
    try:
        return db.process
    finally:
        db.close()


def selected_agreements(ctx: typer.Context, db, agreement: Optional[list[str]]):
    """The agreements a read evaluates: those named by --agreement, or every one the store tracks."""
    from ..check import resolve_agreements

    return resolve_agreements(db, agreement_refs(ctx, agreement))


def open_agreement(ctx: typer.Context, agreement: Optional[list[str]]):
    """The first agreement named by --agreement (or the first of the bundled process)."""
    from ..clauses import load_agreement
    from ..process import bundled_process_ids

    refs = agreement_refs(ctx, agreement)
    return load_agreement(refs[0] if refs else bundled_process_ids()[0])


def declared_codes(declare: Optional[list[str]]) -> frozenset[str]:
    """Actor codes the monitor declares, from --declare and COMPLIANCE_DECLARED_ACTORS."""
    codes = set(declare or [])
    codes.update(c.strip() for c in os.environ.get("COMPLIANCE_DECLARED_ACTORS", "").split(",") if c.strip())
    return frozenset(codes)


def fail(where: Optional[str], reason: str, code: int = 2) -> None:
    """Print one error line and exit with `code`."""
    prefix = f"{where}: " if where else ""
    print(f"compliance: error: {prefix}{reason}", file=sys.stderr)
    raise typer.Exit(code)


def handles_errors(func: F) -> F:
    """Run a command body; turn errors into one line on stderr and the documented exit code."""
    from ..errors import ComplianceError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ComplianceError as error:
            fail(error.where, error.reason.replace("\n", " "), error.exit_code)
        except BrokenPipeError:  # the reader went away (`compliance ... | head`): stop quietly
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            raise typer.Exit(0)
        except sqlite3.DatabaseError as error:
            fail("store", str(error), 4)
        except OSError as error:
            fail(getattr(error, "filename", None), error.strerror or str(error), 4)
        except KeyboardInterrupt:
            fail(None, "interrupted", 130)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as error:  # a bug: one line, never a bare traceback, never exit code 1
            if os.environ.get("COMPLIANCE_DEBUG"):
                raise
            fail("internal error", f"{type(error).__name__}: {error} (set COMPLIANCE_DEBUG=1 for a traceback)", 4)

    return wrapper  # type: ignore[return-value]


def parse_date_option(value: Optional[str], option: str, tz: Any):
    """An ISO date option, read in the agreement's time zone."""
    from ..dates import parse_day
    from ..errors import InputError

    if value is None:
        return None
    try:
        return parse_day(value, tz)
    except InputError as error:
        raise InputError(error.reason, option) from None


def parse_fail_on(value: Optional[str]) -> set[str]:
    """The --fail-on list of verdicts."""
    from ..errors import InputError
    from ..verdicts import VERDICTS

    if not value:
        return set()
    wanted = {v.strip() for v in value.split(",") if v.strip()}
    unknown = wanted - set(VERDICTS)
    if unknown:
        raise InputError(f"unknown verdict(s) {', '.join(sorted(unknown))} (valid: {', '.join(VERDICTS)})", "--fail-on")
    return wanted
