"""`check`: evaluate every obligation as of a date, from the log as it stood at a recorded time."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from .agreement import Agreement, Amendment, Ending
from .dates import today
from .errors import InputError
from .evaluate import Context, evaluate
from .evidence import Row
from .exchange import amendment_model, ending_model
from .records import AMENDMENT, ENDING
from .rules import RuleEngine
from .store import Head, Store
from .terms import agreement_state
from .verdicts import CheckResult


@dataclass
class Snapshot:
    """What a check reads from the store: the chain head, evidence rows, amendments and endings."""

    agreement: Agreement
    head: Head
    as_of: dt.date
    rows: list[Row]
    amendments: list[Amendment]
    endings: list[Ending]
    as_recorded: dt.datetime | None = None
    store: Store | None = field(default=None, repr=False)


def snapshot(store: Store, as_of: dt.date | None = None, as_recorded: dt.datetime | None = None) -> Snapshot:
    """Read the evidence rows, amendments and endings of the log as recorded at `as_recorded`."""
    agreement = store.agreement
    as_of = as_of or today(agreement.tz)
    head = store.head(as_recorded)
    rows = [Row.from_group(group) for group in store.evidence_groups(head, as_of)]
    amendments = list(agreement.amendments) + [amendment_model(r, agreement) for r in store.agreement_records(head, AMENDMENT)]
    recorded = store.agreement_records(head, ENDING)
    superseded = {r.body["supersedes"] for r in recorded if r.body.get("supersedes")}  # corrected endings
    endings = [e for e in (*agreement.endings, *map(ending_model, recorded)) if e.id not in superseded]
    return Snapshot(agreement, head, as_of, rows, amendments, endings, as_recorded, store)


def evaluate_snapshot(snap: Snapshot, *, since: dt.date | None = None, ignore_amendments: bool | set[str] = False,
                      overrides: dict[str, dict[str, dt.date | int]] | None = None,
                      attribute: dict[str, str] | None = None, rows: list[Row] | None = None,
                      digest: str | None = None) -> CheckResult:
    """Evaluate a snapshot, optionally with what-if changes (other rows, terms, amendments, attribution)."""
    agreement = snap.agreement
    if since is not None and since > snap.as_of:
        raise InputError(f"{since.isoformat()} is after the as-of date {snap.as_of.isoformat()}", "--since")
    since = max(since or agreement.in_force_day, agreement.in_force_day)
    state = agreement_state(agreement, snap.as_of, snap.amendments, snap.endings,
                            ignore_amendments=ignore_amendments, overrides=overrides)
    by_kind: dict[str, list[Row]] = defaultdict(list)
    for row in snap.rows if rows is None else rows:
        by_kind[row.kind].append(row)
    ctx = Context(agreement, state, snap.as_of, since, dict(attribute or {}), by_kind)
    results = evaluate(ctx, RuleEngine.for_agreement(agreement))
    return CheckResult(
        agreement=agreement.id, as_of=snap.as_of.isoformat(), since=since.isoformat(),
        as_recorded=snap.as_recorded.isoformat().replace("+00:00", "Z") if snap.as_recorded else None,
        without_amendments=ignore_amendments is True, log_digest=digest or snap.head.digest, obligations=results)


def check(store: Store, *, as_of: dt.date | None = None, since: dt.date | None = None,
          as_recorded: dt.datetime | None = None, without_amendments: bool = False) -> CheckResult:
    """Evaluate every obligation of the store's agreement, for each bearer, as of a date."""
    snap = snapshot(store, as_of, as_recorded)
    return evaluate_snapshot(snap, since=since, ignore_amendments=without_amendments)
