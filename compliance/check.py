"""`check`: evaluate the obligations of one or more agreements as of a date, from the log as it stood at a
recorded time."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from .agreement import Agreement, Amendment, Ending
from .dates import day_param, today, utc_param
from .errors import InputError
from .evaluate import Context, codes_of_rows, evaluate
from .evidence import Row
from .exchange import amendment_model, ending_model
from .process import Process
from .records import AMENDMENT, ENDING
from .store import Head, Store
from .verdicts import CheckResult


@dataclass
class Snapshot:
    """What a check reads from the store: the chain head, evidence rows, amendments and endings. Plain data: it
    holds no connection, so it can be evaluated after the store is closed."""

    process: Process
    head: Head
    as_of: dt.date
    rows: list[Row]
    amendments: list[Amendment]
    endings: list[Ending]
    as_recorded: dt.datetime | None = None
    exact_days: frozenset[dt.date] = frozenset()

    @property
    def agreement(self) -> Agreement:
        """The first tracked agreement."""
        return self.process.first

    def amendments_of(self, agreement: Agreement) -> list[Amendment]:
        """The agreement's amendments: its clause file's, then those in the log."""
        ids = {ob.id for ob in agreement.obligations}
        return list(agreement.amendments) + [a for a in self.amendments if a.obligation in ids
                                             and a not in agreement.amendments]

    def endings_of(self, agreement: Agreement) -> list[Ending]:
        """The agreement's endings: its clause file's, then those in the log."""
        ids = {ob.id for ob in agreement.obligations}
        return list(agreement.endings) + [e for e in self.endings if e.obligation in ids and e not in agreement.endings]


def moment_days(agreements: Iterable[Agreement]) -> frozenset[dt.date]:
    """Days on which a rule starts at a moment other than midnight (an entry into force at 13:00; a `starts`
    term with a time): on those days evidence is read with its own time of day."""
    days: set[dt.date] = set()
    for agreement in agreements:
        tz = agreement.tz
        moments = [agreement.in_force]
        for ob in agreement.obligations:
            if ob.rule.starts is not None:
                moments.append(ob.terms[ob.rule.starts].value)
            for amendment in agreement.amendments:
                if amendment.obligation == ob.id and amendment.term == ob.rule.starts:
                    moments.append(amendment.value)
        for moment in moments:
            if isinstance(moment, dt.datetime):
                local = (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(tz)
                if local.time() != dt.time(0, 0):
                    days.add(local.date())
    return frozenset(days)


def snapshot(store: Store, as_of: dt.date | None = None, as_recorded: dt.datetime | None = None,
             agreements: Sequence[Agreement] | None = None) -> Snapshot:
    """Read the evidence rows, amendments and endings of the log as recorded at `as_recorded`."""
    process = store.process
    evaluated = list(agreements) if agreements else list(process.agreements)
    as_of = as_of or today(evaluated[0].tz)
    head = store.head(as_recorded)
    exact = moment_days(evaluated)
    rows = store.evidence_groups(head, as_of, exact)
    vocabulary = Process([*process.agreements, *(a for a in evaluated if a.id not in process.ids)]) \
        if all(a.id not in process.ids or process.agreement(a.id) == a for a in evaluated) else process
    amendments = [amendment_model(r, vocabulary) for r in store.agreement_records(head, AMENDMENT)
                  if vocabulary.obligation_owner(r.body["obligation"]) is not None]
    endings = [ending_model(r) for r in store.agreement_records(head, ENDING)]
    superseded = {e.supersedes for e in endings if e.supersedes}
    endings = [e for e in endings if e.id not in superseded]
    return Snapshot(process, head, as_of, rows, amendments, endings, as_recorded, exact)


def evaluate_snapshot(snap: Snapshot, *, agreements: Sequence[Agreement] | None = None,
                      since: dt.date | None = None, ignore_amendments: bool | set[str] = False,
                      overrides: dict[str, dict[str, Any]] | None = None,
                      attribute: dict[str, str] | None = None, rows: list[Row] | None = None,
                      digest: str | None = None) -> CheckResult:
    """Evaluate a snapshot for some agreements (default: every one the store tracks), optionally with what-if
    changes (other rows, terms, amendments, attribution)."""
    evaluated = list(agreements) if agreements else list(snap.process.agreements)
    if since is not None and since > snap.as_of:
        raise InputError(f"{since.isoformat()} is after the as-of date {snap.as_of.isoformat()}", param="since")
    by_kind: dict[str, list[Row]] = defaultdict(list)
    for row in snap.rows if rows is None else rows:
        by_kind[row.kind].append(row)
    results = []
    ignore = ignore_amendments if isinstance(ignore_amendments, bool) else frozenset(ignore_amendments)
    codes = codes_of_rows(by_kind)
    for agreement in evaluated:
        effective = max(since or agreement.in_force_day, agreement.in_force_day)
        ctx = Context(agreement, snap.as_of, effective, tuple(snap.amendments_of(agreement)),
                      tuple(snap.endings_of(agreement)), by_kind, ignore, dict(overrides or {}), dict(attribute or {}),
                      codes)
        results += evaluate(ctx)
    one = len(evaluated) == 1
    first_since = max(since or evaluated[0].in_force_day, evaluated[0].in_force_day)
    return CheckResult(
        agreement=evaluated[0].id if one else None, agreements=[a.id for a in evaluated], as_of=snap.as_of.isoformat(),
        since=first_since.isoformat() if one else (since.isoformat() if since else None),
        as_recorded=snap.as_recorded.isoformat().replace("+00:00", "Z") if snap.as_recorded else None,
        without_amendments=ignore_amendments is True, log_digest=digest or snap.head.digest, obligations=results)


def resolve_agreements(store: Store, refs: Iterable[str | Path | Agreement] | None) -> list[Agreement]:
    """The agreements a read evaluates: those named (tracked ones by ID, others by bundled ID or path; default:
    the `agreement` setting, COMPLIANCE_AGREEMENT), or every agreement the store tracks."""
    from .clauses import load_agreement
    from .settings import load

    refs = list(refs or load().agreement)
    if not refs:
        return list(store.process.agreements)
    chosen: list[Agreement] = []
    for ref in refs:
        if isinstance(ref, Agreement):
            agreement = ref
        elif isinstance(ref, str) and ref in store.process.ids:
            agreement = store.process.agreement(ref)
        else:
            agreement = load_agreement(ref)
        if all(a.id != agreement.id for a in chosen):
            chosen.append(agreement)
    Process(chosen)  # obligation IDs unique, one vocabulary
    return chosen


def check(store: Store, *, as_of: dt.date | str | None = None, since: dt.date | str | None = None,
          as_recorded: dt.datetime | str | None = None, without_amendments: bool = False,
          agreements: Iterable[str | Path | Agreement] | None = None) -> CheckResult:
    """Evaluate the obligations of the store's agreements (or those named), for each bearer, as of a date (default:
    today). Dates may be ISO text, read in the first agreement's time zone; `as_recorded` reads the log as it
    stood at that UTC time."""
    chosen = resolve_agreements(store, agreements)
    tz = chosen[0].tz
    recorded = utc_param(as_recorded, "as_recorded")
    as_of, since = day_param(as_of, tz, "as_of"), day_param(since, tz, "since")
    snap = snapshot(store, as_of, recorded, chosen)
    return evaluate_snapshot(snap, agreements=chosen, since=since, ignore_amendments=without_amendments)
