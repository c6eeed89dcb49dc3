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
    attributes: tuple = ()
    end_early: dt.datetime | None = None  # the earliest and latest moment the reported thing may have ended
    end_late: dt.datetime | None = None


def _local_day_bounds(day: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    return start, start + dt.timedelta(days=1) - dt.timedelta(minutes=1)


def _obs(entry: dict[str, Any], agreement: Agreement) -> Obs:
    parsed = parse_observation(entry["fields"], agreement, frozenset())
    f = parsed.fields
    if "value" in f:
        lo = hi = f["value"]
    elif "low" in f:
        lo, hi = f["low"], f["high"]
    else:
        lo = hi = None
    # a plain date is the whole local day; a date-time is its minute
    if "date_end" in f and parsed.timed_end:
        early = late = parsed.instant_end
    elif "date_end" in f:
        early, late = _local_day_bounds(parsed.day_end, agreement.tz)
        if parsed.timed and parsed.day_end == parsed.day:
            early = max(early, parsed.instant)
    elif parsed.timed:
        early = late = parsed.instant
    else:
        early, late = _local_day_bounds(parsed.day, agreement.tz)
    floor = lambda moment: moment.replace(second=0, microsecond=0)  # noqa: E731 - compared by the minute
    return Obs(str(entry["id"]), f["kind"], f["actor"], f["source_party"], f.get("claim", "affirms"),
               f.get("subject"), f.get("supervised_by"), lo, hi, parsed.day, parsed.day_end,
               tuple(sorted((f.get("attributes") or {}).items())), floor(early), floor(late))


def timing(o: Obs, start: dt.datetime | None) -> str:
    """'counted' when the observation certainly ended at or after `start` (None: no start), 'straddles' when
    it may have, 'before' when it ended before."""
    if start is None or o.end_early >= start:
        return "counted"
    return "straddles" if o.end_late >= start else "before"


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
    on the same day, the one recorded later). For a count, `as_of` is the count's own day (and no later than
    the check's as-of date: the caller passes the earlier of the two)."""
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
    """Every obligation for each bearer, in clause-file order (bearers in listed order; one result with bearer
    None for an obligation that names no bearer)."""
    live = live_observations(log, agreement, as_recorded)
    in_force_day = agreement.in_force.astimezone(agreement.tz).date()
    since = max(since or in_force_day, in_force_day)
    results = []
    for ob in agreement.obligations:
        for bearer in (ob.bearers or [None]):
            results.append(_one(agreement, log, live, ob, bearer, as_of, since, as_recorded, without_amendments,
                                in_force_day))
    return results


def period_start(agreement: Agreement, since: dt.date) -> dt.datetime:
    """The moment from which a period's evidence counts: entry into force, or the start of `since`'s day."""
    return max(agreement.in_force, _local_day_bounds(since, agreement.tz)[0])


def _one(agreement, log, live, ob, bearer, as_of, since, as_recorded, without_amendments, in_force_day):
    shape = ob.template
    reads = ob.rule.reads
    kind = reads[-1].kind if reads else None
    subject = reads[-1].subject if reads else None
    supervised = reads[-1].supervised_by if reads else None
    trigger_kind = reads[0].kind if shape == "linked-series" else None
    term = lambda name: term_in_force(agreement, log, ob.id, name, as_of, as_recorded, without_amendments)  # noqa: E731
    is_ended = ended(agreement, log, ob.id, as_of, as_recorded)
    off = as_of < in_force_day or is_ended
    bearers = set(ob.bearers) if ob.joint else {bearer}

    def mine(o: Obs) -> bool:
        return ob.joint or bearer is None or o.actor == bearer

    if ob.id == "C4-artillery-line":  # the test fixture's rule written out: a prohibition on attributes
        shape = "artillery"
    special = _fixture_shapes(agreement, log, live, ob, bearer, as_of, as_recorded, without_amendments, in_force_day,
                              shape, off, mine, term, is_ended)
    if special is not None:
        return special

    if shape in ("cap", "prohibition", "artillery"):
        if off:
            return result(ob.id, bearer, "not-in-force")
        # dated in the period, or lasting into it; on the day of a start at a moment, plain dates straddle it
        start = period_start(agreement, since)
        candidates = [o for o in live if o.kind == kind and mine(o) and o.day <= as_of
                      and (subject is None or o.subject == subject)]
        reports = [o for o in candidates if timing(o, start) == "counted"]
        straddling_time = [o for o in candidates if timing(o, start) == "straddles"]
        window = window_of(agreement, kind)
        if shape == "cap":
            def limits(o: Obs) -> set[int]:
                """The caps in force on the days the count covers (each judged by the caps of its own days)."""
                days = [o.day + dt.timedelta(days=n) for n in range((o.day_end - o.day).days + 1)]
                days = [d for d in days if since <= d <= as_of] or [max(o.day, since)]
                return {term_in_force(agreement, log, ob.id, "limit", min(d, as_of), as_recorded, without_amendments)
                        for d in days}
            breach_of = lambda o: o.claim == "affirms" and o.lo is not None and any(o.lo > c for c in limits(o))  # noqa: E731
            within = lambda o: o.claim == "affirms" and o.hi is not None and any(o.hi <= c for c in limits(o))  # noqa: E731
            straddling = [o for o in reports if o.claim == "affirms" and o.lo is not None
                          and any(o.lo <= c < o.hi for c in limits(o))]
        elif shape == "artillery":
            calibre, distance = term("min_calibre"), term("min_distance")
            breach_of = lambda o: (o.claim == "affirms" and dict(o.attributes).get("calibre_mm", -1) >= calibre  # noqa: E731
                                   and dict(o.attributes).get("distance_km", 10**9) < distance)
            within = lambda o: False  # noqa: E731
            straddling = []
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
        if verdict == "compliant" and shape != "cap":
            compliance = []
        return result(ob.id, bearer, verdict, evidence_list(decisive, contradicting, compliance),
                      len(reports) + len(straddling_time),
                      [o.id for o in order(straddling + straddling_time)][:MAX_EVIDENCE])

    if shape == "linked-series":
        if off:
            return result(ob.id, bearer, "not-in-force")
        # the series it follows (deployment complete) is a fact about the world: any actor, whatever --since
        triggers = [o for o in live if o.kind == trigger_kind and o.day <= as_of]
        started = [o.day for o in triggers if o.claim == "affirms"]
        if not started:
            return result(ob.id, bearer, "pending", [], len(triggers))
        first = min(started)
        # from the day it started (and the period's start): presence dated then or lasting into it counts
        reports = [o for o in live if o.kind == kind and mine(o) and o.day_end >= max(since, first) and o.day <= as_of]
        verdict, decisive, contradicting, _ = graded(agreement, ob, bearer, reports, lambda o: o.claim == "affirms",
                                                     lambda o: False, window_of(agreement, kind))
        return result(ob.id, bearer, verdict or "compliant", evidence_list(decisive, contradicting, []),
                      len(reports) + len(triggers))

    if shape in ("deadline", "establishment"):
        deadline = term("deadline") if shape == "deadline" else None
        if deadline is not None and ob.terms["deadline"].inclusive is False:
            deadline = deadline - dt.timedelta(days=1)  # "before D": the last day in time is the day before
        due = deadline.isoformat() if deadline is not None and not is_ended else None
        if off:
            return result(ob.id, bearer, "not-in-force", due=due)
        relevant = [o for o in live if o.kind == kind and mine(o) and o.day <= as_of
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
        window = window_of(agreement, kind)
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
        relevant = [o for o in live if o.kind == kind and o.day <= as_of]
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


# ---- the clause language's other templates (exact day, counted from an event, pairs, simultaneity) -----------

def _first_reports(live: list[Obs], kind: str, as_of: dt.date, actor_ok, subject: str | None = None) -> list[Obs]:
    return [o for o in live if o.kind == kind and actor_ok(o) and o.claim == "affirms" and o.day <= as_of
            and (subject is None or o.subject == subject)]


def _fixture_shapes(agreement, log, live, ob, bearer, as_of, as_recorded, without_amendments, in_force_day,
                    shape, off, mine, term, is_ended):
    """The templates that the November 10 statement does not use, the slow obvious way; None for the others."""
    if shape not in ("exact-day", "deadline-after", "begin-complete", "simultaneous"):
        return None
    reads = ob.rule.reads
    counted = lambda read, actor_ok: [o for o in live if o.kind == read.kind and actor_ok(o) and o.day <= as_of  # noqa: E731
                                      and (read.subject is None or o.subject == read.subject)]

    bearers = set(ob.bearers) if (ob.joint or bearer is None) else {bearer}

    def disputing(relevant: list[Obs], reports: list[Obs]) -> list[Obs]:
        """Denials from another side near a report, when every report comes from one bearer's side."""
        denials = [o for o in relevant if o.claim == "denies"]
        report_sides = {side(agreement, o.source_party) for o in reports}
        bearer_sides = {side(agreement, b) for b in bearers}
        if not (len(report_sides) == 1 and None not in report_sides and report_sides <= bearer_sides):
            return []
        window = window_of(agreement, reads[0].kind)
        return [d for d in denials if side(agreement, d.source_party) not in report_sides
                and any(near(d, r, window) for r in reports)]

    if shape == "exact-day":
        day = term("day")
        if off:
            return result(ob.id, bearer, "not-in-force", due=None if is_ended else day.isoformat())
        relevant = counted(reads[0], mine)
        reports = [o for o in relevant if o.claim == "affirms"]
        if not reports:
            return result(ob.id, bearer, "overdue" if as_of > day else "pending", [], len(relevant), due=day.isoformat())
        against = disputing(relevant, reports)
        if against:
            return result(ob.id, bearer, "disputed", evidence_list([], against, reports), len(relevant), due=day.isoformat())
        held = min(o.day for o in reports)
        verdict = "compliant" if held == day else "violated"
        cited = evidence_list([], [], reports) if verdict == "compliant" else evidence_list(reports, [], [])
        return result(ob.id, bearer, verdict, cited, len(relevant), due=day.isoformat())

    if shape == "deadline-after":
        spec = ob.rule.deadlines["due"]
        ref = spec.after
        if ref.entry_into_force:
            base = in_force_day
        elif ref.kind is not None:
            days = [o.day for o in live if o.kind == ref.kind and o.claim == "affirms" and in_force_day <= o.day <= as_of]
            base = min(days) if days else None
        else:
            other = agreement.obligation_or_none(ref.obligation)
            role_read = other.rule.reads[1] if other.template == "begin-complete" and ref.event == "completed" \
                else other.rule.reads[0]
            joint_or_any = other.joint or not other.bearers
            actor_ok = (lambda o: True) if joint_or_any else (lambda o: o.actor in other.bearers)
            days = [o.day for o in _first_reports(live, role_read.kind, as_of, actor_ok, role_read.subject)
                    if o.day >= in_force_day and (joint_or_any or bearer not in other.bearers or o.actor == bearer
                                                  or bearer is None)]
            base = min(days) if days else None
        count = lambda v: int(term(v)) if isinstance(v, str) else v  # noqa: E731
        due = None
        if base is not None:
            due = base
            if spec.months:
                due = _add_months(due, count(spec.months))
            if spec.days:
                due = due + dt.timedelta(days=count(spec.days))
        shown = None if due is None or is_ended else due.isoformat()
        if off:
            return result(ob.id, bearer, "not-in-force", due=shown)
        relevant = counted(reads[0], mine)
        reports = [o for o in relevant if o.claim == "affirms"]
        if due is None:
            return result(ob.id, bearer, "pending", [], len(relevant), due=None)
        if not reports:
            return result(ob.id, bearer, "overdue" if as_of > due else "pending", [], len(relevant), due=shown)
        against = disputing(relevant, reports)
        if against:
            return result(ob.id, bearer, "disputed", evidence_list([], against, reports), len(relevant), due=shown)
        first = min(o.day for o in reports)
        if first <= due:
            return result(ob.id, bearer, "compliant", evidence_list([], [], reports), len(relevant), due=shown)
        return result(ob.id, bearer, "violated", evidence_list(reports, [], []), len(relevant), due=shown)

    if shape == "begin-complete":
        begin_due = in_force_day + dt.timedelta(days=int(term("begin_days")))
        complete_due = in_force_day + dt.timedelta(days=int(term("complete_days")))
        begins = counted(reads[0], mine)
        completes = counted(reads[1], mine)
        began = [o for o in begins if o.claim == "affirms"]
        done = [o for o in completes if o.claim == "affirms"]
        due = (begin_due if not began else complete_due).isoformat()
        if off:
            return result(ob.id, bearer, "not-in-force", due=None if is_ended else due)
        count = len(begins) + len(completes)
        first_began = min((o.day for o in began), default=None)
        first_done = min((o.day for o in done), default=None)
        if first_began is not None and first_began > begin_due:
            return result(ob.id, bearer, "violated", evidence_list(began, [], []), count, due=due)
        if first_done is not None and first_done > complete_due:
            return result(ob.id, bearer, "violated", evidence_list(done, [], began), count, due=due)
        if first_began is None and as_of > begin_due:
            return result(ob.id, bearer, "overdue", [], count, due=due)
        if first_done is None and as_of > complete_due:
            return result(ob.id, bearer, "overdue", evidence_list([], [], began), count, due=due)
        if first_began is not None and first_done is not None:
            return result(ob.id, bearer, "compliant", evidence_list([], [], began + done), count, due=due)
        if first_began is not None:
            return result(ob.id, bearer, "pending", evidence_list([], [], began), count, due=due)
        return result(ob.id, bearer, "pending", [], count, due=due)

    # simultaneous: both acts reported, within the term of each other
    if off:
        return result(ob.id, bearer, "not-in-force")
    within = int(term("within_days"))
    firsts = counted(reads[0], lambda o: reads[0].actor is None or o.actor == reads[0].actor)
    seconds = counted(reads[1], lambda o: reads[1].actor is None or o.actor == reads[1].actor)
    one = [o for o in firsts if o.claim == "affirms"]
    other = [o for o in seconds if o.claim == "affirms"]
    count = len({o.id for o in firsts + seconds})
    if one and other:
        gap = abs((min(o.day for o in one) - min(o.day for o in other)).days)
        if gap <= within:
            return result(ob.id, bearer, "compliant", evidence_list([], [], one + other), count)
        return result(ob.id, bearer, "violated", evidence_list(one + other, [], []), count)
    return result(ob.id, bearer, "pending", evidence_list([], [], one + other), count)
