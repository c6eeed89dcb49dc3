"""A reference evaluator written from spec/verdicts.md and spec/obligations.md, the slow obvious way.

It shares no code with the engine (no compliance.evaluate, compliance.rules, compliance.evidence,
compliance.store or compliance.check): it takes the clause data from compliance.clauses and each
observation's validated fields and calendar dates from compliance.observation, and evaluates one
obligation and bearer at a time over plain lists, re-scanning the whole log for every question.
Quadratic everywhere; meant for logs of a few dozen records.

Input: the log as a list of plain dicts in recorded order, each with its store-assigned `id` and
`recorded_at` (an ISO string in UTC, comparable as text), of one of these forms:

    {"type": "observation", "id": "7", "recorded_at": T, "fields": {...exchange fields...}, "supersedes": "3"|None}
    {"type": "retraction", "id": "8", "recorded_at": T, "retracts": "7"}
    {"type": "amendment", "id": "...", "recorded_at": T, "obligation": O, "term": N, "value": V, "agreed_on": D}
    {"type": "ending", "id": "...", "recorded_at": T, "obligation": O, "on": D}

(V and D as ISO dates or integers; the reference only compares them.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from compliance.agreement import INDEPENDENT, Agreement
from compliance.observation import parse_observation

MAX_EVIDENCE = 20


@dataclass(frozen=True)
class Obs:
    """One live observation, reduced to what the rules read."""

    id: str
    kind: str
    actor: str
    source_party: str
    claim: str
    subject: str | None
    supervised_by: str | None
    lo: int | None
    hi: int | None
    day: dt.date
    day_end: dt.date


def _obs(entry: dict[str, Any], agreement: Agreement) -> Obs:
    parsed = parse_observation(entry["fields"], agreement, frozenset())
    f = parsed.fields
    if "value" in f:
        lo = hi = f["value"]
    elif "low" in f:
        lo, hi = f["low"], f["high"]
    else:
        lo = hi = None
    return Obs(str(entry["id"]), f["kind"], f["actor"], f["source_party"], f.get("claim", "affirms"),
               f.get("subject"), f.get("supervised_by"), lo, hi, parsed.day, parsed.day_end)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _recorded(log: list[dict[str, Any]], as_recorded: str | None) -> list[dict[str, Any]]:
    """The records recorded at or before `as_recorded` (all when None)."""
    return [e for e in log if as_recorded is None or e["recorded_at"] <= as_recorded]


def live_observations(log: list[dict[str, Any]], agreement: Agreement, as_recorded: str | None) -> list[Obs]:
    """Observations not superseded or retracted by any record recorded at or before `as_recorded`."""
    records = _recorded(log, as_recorded)
    ended = {e["supersedes"] for e in records if e["type"] == "observation" and e.get("supersedes")}
    ended |= {e["retracts"] for e in records if e["type"] == "retraction"}
    return [_obs(e, agreement) for e in records if e["type"] == "observation" and str(e["id"]) not in ended]


# ---- sides ----------------------------------------------------------------------------------------

def side(agreement: Agreement, code: str) -> str | None:
    """A code's side: its group in the clause file, or itself; None for `independent` (not a side)."""
    if code == INDEPENDENT:
        return None
    for group in agreement.sides:
        if code in group:
            return "+".join(group)
    return code


def gap(a: tuple[dt.date, dt.date], b: tuple[dt.date, dt.date]) -> int:
    """Days between two spans (0 when they overlap)."""
    return max(0, (b[0] - a[1]).days, (a[0] - b[1]).days)


def span(o: Obs) -> tuple[dt.date, dt.date]:
    return (o.day, o.day_end)


def near(a: Obs, b: Obs, window: int) -> bool:
    """Dates within `window` days of each other (spans widened by the window overlap)."""
    return gap(span(a), span(b)) <= window


def window_of(agreement: Agreement, kind: str) -> int:
    spec = agreement.kinds[kind]
    return agreement.default_window_days if spec.window_days is None else spec.window_days


def matters_of(breach: list[Obs], window: int) -> list[list[Obs]]:
    """Group breach evidence into matters: within the window of each other, transitively."""
    groups: list[list[Obs]] = [[o] for o in breach]
    changed = True
    while changed:
        changed = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if any(near(a, b, window) for a in groups[i] for b in groups[j]):
                    groups[i] += groups.pop(j)
                    changed = True
                    break
            if changed:
                break
    return groups


def order(observations: list[Obs]) -> list[Obs]:
    """By date, then ID (logged IDs are whole numbers)."""
    return sorted(observations, key=lambda o: (o.day, int(o.id)))


def evidence_list(*groups: list[Obs]) -> list[str]:
    """Breach, then contradicting, then compliance evidence, each by date then ID; each ID once; at most 20."""
    ids: list[str] = []
    for group in groups:
        for o in order(group):
            if o.id not in ids:
                ids.append(o.id)
    return ids[:MAX_EVIDENCE]


# ---- terms, endings --------------------------------------------------------------------------------

def term_in_force(agreement: Agreement, log: list[dict[str, Any]], ob_id: str, term: str, as_of: dt.date,
                  as_recorded: str | None, without_amendments: bool) -> Any:
    """The original term changed by the amendments agreed on or before `as_of` (the latest agreed wins;
    on the same day, the one recorded later)."""
    ob = agreement.obligation_or_none(ob_id)
    value = ob.terms[term].value
    if without_amendments:
        return value
    changes = [(a.agreed_on, 0, i, a.value) for i, a in enumerate(agreement.amendments)
               if a.obligation == ob_id and a.term == term]
    changes += [(_date(e["agreed_on"]), 1, i, e["value"]) for i, e in enumerate(_recorded(log, as_recorded))
                if e["type"] == "amendment" and e["obligation"] == ob_id and e["term"] == term]
    changes = [c for c in changes if c[0] <= as_of]
    if not changes:
        return value
    latest = max(changes, key=lambda c: c[:3])[3]
    return _date(latest) if isinstance(value, dt.date) else int(latest)


def ended(agreement: Agreement, log: list[dict[str, Any]], ob_id: str, as_of: dt.date, as_recorded: str | None) -> bool:
    """True when an ending of the obligation takes effect on or before `as_of` (an ending superseded by a later
    one, recorded by `as_recorded`, no longer applies)."""
    recorded = [e for e in _recorded(log, as_recorded) if e["type"] == "ending"]
    superseded = {e["supersedes"] for e in recorded if e.get("supersedes")}
    days = [e.on for e in agreement.endings if e.obligation == ob_id and e.id not in superseded]
    days += [_date(e["on"]) for e in recorded if e["obligation"] == ob_id and e["id"] not in superseded]
    return any(day <= as_of for day in days)


# ---- obligations ------------------------------------------------------------------------------------

def result(ob_id: str, bearer: str, verdict: str, evidence: list[str] = (), evidence_count: int = 0,
           inconclusive: list[str] = (), due: str | None = None, term_end: str | None = None) -> dict[str, Any]:
    return {"id": ob_id, "bearer": bearer, "verdict": verdict, "evidence": list(evidence),
            "evidence_count": evidence_count, "inconclusive": list(inconclusive), "due": due, "term_end": term_end}


def graded(agreement, ob, bearer, reports: list[Obs], breach_of, within_cap_of, window: int):
    """Verdict of a cap, prohibition or linked series from the observations that bear on it.

    `breach_of(o)`: is `o` breach evidence; `within_cap_of(o)`: is `o` compliance evidence (caps)."""
    bearer_side = side(agreement, bearer)
    breach = [o for o in reports if breach_of(o)]
    compliance = [o for o in reports if within_cap_of(o)]
    bearer_side_against = [o for o in reports if o.source_party != INDEPENDENT and side(agreement, o.source_party) == bearer_side
                           and (o.claim == "denies" or within_cap_of(o))]
    matters = matters_of(breach, window)
    statuses = []
    for matter in matters:
        sides = {side(agreement, o.source_party) for o in matter if o.source_party != INDEPENDENT}
        corroborated = (any(o.source_party == INDEPENDENT for o in matter) or bearer_side in sides or len(sides) >= 2)
        contradicted = any(near(c, o, window) for c in bearer_side_against for o in matter)
        statuses.append("corroborated" if corroborated else "disputed" if contradicted else "alleged")
    contradicting = [c for c in bearer_side_against if any(near(c, o, window) for m in matters for o in m)]
    if "corroborated" in statuses:
        verdict = "violated"
        decisive = [o for m, s in zip(matters, statuses) if s == "corroborated" for o in m]
    elif "alleged" in statuses:
        verdict, decisive = "alleged", breach
    elif "disputed" in statuses:
        verdict, decisive = "disputed", breach
    else:
        verdict, decisive = None, []
    return verdict, decisive, contradicting, compliance


def evaluate(agreement: Agreement, log: list[dict[str, Any]], *, as_of: dt.date, since: dt.date | None = None,
             as_recorded: str | None = None, without_amendments: bool = False) -> list[dict[str, Any]]:
    """Every obligation for each bearer, in clause-file order (bearers in listed order)."""
    live = live_observations(log, agreement, as_recorded)
    in_force_day = agreement.in_force.astimezone(agreement.tz).date()
    since = max(since or in_force_day, in_force_day)
    results = []
    for ob in agreement.obligations:
        for bearer in ob.bearers:
            results.append(_one(agreement, log, live, ob, bearer, as_of, since, as_recorded, without_amendments,
                                in_force_day))
    return results


def _one(agreement, log, live, ob, bearer, as_of, since, as_recorded, without_amendments, in_force_day):
    rule = ob.rule
    shape = rule.shape
    term = lambda name: term_in_force(agreement, log, ob.id, name, as_of, as_recorded, without_amendments)  # noqa: E731
    is_ended = ended(agreement, log, ob.id, as_of, as_recorded)
    off = as_of < in_force_day or is_ended
    bearers = set(ob.bearers) if ob.joint else {bearer}

    def mine(o: Obs) -> bool:
        return ob.joint or o.actor == bearer

    if shape in ("cap", "prohibition"):
        if off:
            return result(ob.id, bearer, "not-in-force")
        subject = getattr(rule, "subject", None)
        reports = [o for o in live if o.kind == rule.kind and mine(o) and since <= o.day <= as_of
                   and (subject is None or o.subject == subject)]
        window = window_of(agreement, rule.kind)
        if shape == "cap":
            limit = term("limit")
            breach_of = lambda o: o.claim == "affirms" and o.lo is not None and o.lo > limit  # noqa: E731
            within = lambda o: o.claim == "affirms" and o.hi is not None and o.hi <= limit  # noqa: E731
            straddling = [o for o in reports if o.claim == "affirms" and o.lo is not None and o.lo <= limit < o.hi]
        else:
            breach_of = lambda o: o.claim == "affirms"  # noqa: E731
            within = lambda o: False  # noqa: E731
            straddling = []
        verdict, decisive, contradicting, compliance = graded(agreement, ob, bearer, reports, breach_of, within, window)
        if verdict is None:
            if shape == "cap":
                verdict = "compliant" if compliance else "unknown"
            else:
                verdict = "compliant"
        return result(ob.id, bearer, verdict, evidence_list(decisive, contradicting, compliance), len(reports),
                      [o.id for o in order(straddling)][:MAX_EVIDENCE])

    if shape == "linked-series":
        if off:
            return result(ob.id, bearer, "not-in-force")
        # the series it follows (deployment complete) is a fact about the world: any actor, whatever --since
        triggers = [o for o in live if o.kind == rule.trigger_kind and o.day <= as_of]
        started = [o.day for o in triggers if o.claim == "affirms"]
        if not started:
            return result(ob.id, bearer, "pending", [], len(triggers))
        first = min(started)
        reports = [o for o in live if o.kind == rule.kind and mine(o) and max(since, first) <= o.day <= as_of]
        verdict, decisive, contradicting, _ = graded(agreement, ob, bearer, reports, lambda o: o.claim == "affirms",
                                                     lambda o: False, window_of(agreement, rule.kind))
        return result(ob.id, bearer, verdict or "compliant", evidence_list(decisive, contradicting, []),
                      len(reports) + len(triggers))

    if shape in ("deadline", "establishment"):
        deadline = term("deadline") if shape == "deadline" else None
        due = deadline.isoformat() if deadline is not None and not is_ended else None
        if off:
            return result(ob.id, bearer, "not-in-force", due=due)
        subject = getattr(rule, "subject", None)
        supervised = getattr(rule, "supervised_by", None)
        relevant = [o for o in live if o.kind == rule.kind and mine(o) and o.day <= as_of
                    and (subject is None or o.subject == subject)
                    and (supervised is None or (o.supervised_by or "").upper() == supervised.upper())]
        reports = [o for o in relevant if o.claim == "affirms"]
        denials = [o for o in relevant if o.claim == "denies"]
        if not reports:
            if shape == "establishment":
                return result(ob.id, bearer, "pending", [], len(relevant))
            return result(ob.id, bearer, "overdue" if as_of > deadline else "pending", [], len(relevant), due=due)
        # reported only from the bearer's side and denied from another side (any source not on the side that
        # reported it, independent included), within the kind's window of a report: disputed
        report_sides = {side(agreement, o.source_party) for o in reports}
        bearer_sides = {side(agreement, b) for b in bearers}
        only_bearer_side = len(report_sides) == 1 and None not in report_sides and report_sides <= bearer_sides
        window = window_of(agreement, rule.kind)
        disputing = [d for d in denials if only_bearer_side and side(agreement, d.source_party) not in report_sides
                     and any(near(d, r, window) for r in reports)]
        if disputing:
            return result(ob.id, bearer, "disputed", evidence_list([], disputing, reports), len(relevant), due=due)
        first = min(o.day for o in reports)
        if shape == "establishment" or first <= deadline:
            return result(ob.id, bearer, "compliant", evidence_list([], [], reports), len(relevant), due=due)
        return result(ob.id, bearer, "violated", evidence_list(reports, [], []), len(relevant), due=due)

    if shape == "term-renewal":
        if off:
            return result(ob.id, bearer, "not-in-force")
        start, years, months = term("start"), int(term("period_years")), int(term("notice_months"))
        relevant = [o for o in live if o.kind == rule.kind and o.day <= as_of]
        notices = [o for o in relevant if o.claim == "affirms" and o.actor in agreement.parties]
        previous_deadline = dt.date.min
        k = 1
        while True:
            term_end = _add_months(start, 12 * years * k)
            notice_deadline = _add_months(term_end, -months)
            given = [o for o in notices if previous_deadline < o.day <= notice_deadline]
            if given:
                verdict = "not-in-force" if as_of >= term_end else "compliant"
                return result(ob.id, bearer, verdict, evidence_list([], [], given), len(relevant),
                              term_end=term_end.isoformat())
            if as_of < term_end:
                late = [o for o in notices if o.day > notice_deadline]
                due = notice_deadline if as_of <= notice_deadline else _add_months(term_end, 12 * years - months)
                return result(ob.id, bearer, "compliant", evidence_list([], [], late), len(relevant),
                              due=due.isoformat(), term_end=term_end.isoformat())
            previous_deadline, k = notice_deadline, k + 1

    raise AssertionError(f"no reference for shape {shape}")


def _add_months(day: dt.date, months: int) -> dt.date:
    """Whole months later (earlier), the day clamped to the month's length."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")
