"""Reasons and cited evidence for the engine's verdicts.

A verdict table entry's `reason` is text with fields in braces, filled from the evaluation; a field may take
an argument after a colon (`{term:limit}`, `{deadline:due}`). The fields:

`what` (the rule's own `what` text), `about[:READ]` (a read's kind, subject or supervising body), `kind[:READ]`,
`bearers`, `since`, `as_of`, `term:NAME` (a term in force on the as-of date), `term_history:NAME` (its value,
or its values over the period when it changed), `matters_summary`, `corroborated_from`, `corroboration`,
`earliest_breach`, `earliest_breach_source`, `count:ROLE[|WORD]` (how many observations of a role),
`latest:ROLE` (the latest count of a role), `inconclusive_note`, `denials_note`, `deadline:NAME`, `delay:NAME`,
`first_report:EVENT`, `event_day:EVENT`, `periods` (a renewable term's state).
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any, Callable

from .agreement import INDEPENDENT
from .dates import add_months
from .evidence import Row, first_ids, total
from .evaluate import Context, Group, Unit, _near, local_day
from .verdicts import MAX_EVIDENCE, ObligationResult, Verdict


def plural(count: int, word: str) -> str:
    """'1 count', '3 counts'."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def alignment_words(source_party: str) -> str:
    """'an independent source' or 'a source aligned with AZ'."""
    return "an independent source" if source_party == INDEPENDENT else f"a source aligned with {source_party}"


def value_text(value: Any) -> str:
    """A term value in a reason: thousands separated, dates and moments in ISO form."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}" if isinstance(value, float) else str(value)


class _Fields(string.Formatter):
    """str.format over named fields that take an optional argument (`{name:argument}`)."""

    def __init__(self, resolve: Callable[[str, str], str]):
        super().__init__()
        self.resolve = resolve

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        return key

    def format_field(self, value: Any, format_spec: str) -> str:
        return self.resolve(str(value), format_spec)


class Explanation:
    """The fields a reason can use, for one evaluated unit."""

    def __init__(self, ctx: Context, unit: Unit):
        self.ctx = ctx
        self.unit = unit
        self.body = unit.body
        self.agreement = ctx.agreement

    def text(self, template: str) -> str:
        """The reason with its fields filled in."""
        return _Fields(self.field).format(template)

    def field(self, name: str, arg: str) -> str:
        method = getattr(self, "f_" + name.replace("-", "_"), None)
        if method is None:
            raise KeyError(f"unknown reason field {{{name}}}")
        return method(arg)

    # ---- reads and bearers ----------------------------------------------------------------------

    def _read(self, label: str):
        for read in self.body.reads:
            if not label or read.label == label:
                return read
        return self.body.reads[0]

    def f_what(self, arg: str) -> str:
        return self.text(self.body.what)

    def f_kind(self, arg: str) -> str:
        return self._read(arg).kind

    def f_about(self, arg: str) -> str:
        read = self._read(arg)
        detail = read.subject or (f"supervised by {read.supervised_by}" if read.supervised_by else None)
        return f"{read.kind}{f' ({detail})' if detail else ''}"

    def f_bearers(self, arg: str) -> str:
        return "/".join(self.unit.bearers) if self.unit.bearers else "any actor"

    def _counted_from(self) -> dt.date:
        """The first day evidence counts: the period's start, or the rule's own start when later."""
        since = self.ctx.since
        if self.body.starts is not None:
            since = max(since, local_day(self.unit.epochs[-1].values[self.body.starts], self.agreement.tz))
        return since

    def f_since(self, arg: str) -> str:
        return self._counted_from().isoformat()

    def f_as_of(self, arg: str) -> str:
        return self.ctx.as_of.isoformat()

    # ---- terms ----------------------------------------------------------------------------------

    def f_term(self, arg: str) -> str:
        return value_text(self.unit.epochs[-1].values[arg])

    def f_term_history(self, arg: str) -> str:
        """The term's value, or its values over the period when it changed during it."""
        since, as_of = self.ctx.since.toordinal(), self.ctx.as_of.toordinal()
        seen = [e for e in self.unit.epochs if e.last >= since and e.first <= as_of]
        values = [e.values[arg] for e in seen]
        if len(set(map(repr, values))) <= 1:
            return value_text(values[-1] if values else self.unit.epochs[-1].values[arg])
        parts = []
        for index, epoch in enumerate(seen):
            value = value_text(epoch.values[arg])
            if index == 0:
                parts.append(f"{value} to {dt.date.fromordinal(seen[1].first - 1).isoformat()}")
            else:
                parts.append(f"{value} from {dt.date.fromordinal(epoch.first).isoformat()}")
        return ", ".join(parts) + " (each count against the cap of its date)"

    # ---- matters --------------------------------------------------------------------------------

    def _statuses(self) -> list[str]:
        return [m.status or "" for m in self.unit.matters]

    def f_matters_summary(self, arg: str) -> str:
        statuses = self._statuses()
        return (f"{plural(len(statuses), 'matter')} of breach evidence: {statuses.count('corroborated')} corroborated, "
                f"{statuses.count('alleged')} alleged, {statuses.count('disputed')} disputed")

    def _first_corroborated(self) -> Group:
        return next(m for m in self.unit.matters if m.status == "corroborated")

    def f_corroborated_from(self, arg: str) -> str:
        start, counted = self._first_corroborated().start, self._counted_from()
        # a span that began before the period counts from the period's first day: say both
        return start.isoformat() if start >= counted else f"{start.isoformat()}, counted from {counted.isoformat()}"

    def f_corroboration(self, arg: str) -> str:
        rows = self._first_corroborated().rows
        parties = {r.source_party for r in rows}
        sides = {self.agreement.side_of(p) for p in parties if p != INDEPENDENT}
        bearer_sides = {self.agreement.side_of(b) for b in self.unit.bearers}
        if INDEPENDENT in parties:
            return "an independent source"
        if sides & bearer_sides:
            return "an admission from the bearer's side"
        return f"sources on {len(sides)} sides: {', '.join(sorted(sides))}"

    def _breach(self) -> list[Row]:
        return [row for matter in self.unit.matters for row in matter.rows]

    def f_earliest_breach(self, arg: str) -> str:
        start, counted = min(r.day for r in self._breach()), self._counted_from()
        return start.isoformat() if start >= counted else f"{start.isoformat()}, counted from {counted.isoformat()}"

    def f_earliest_breach_source(self, arg: str) -> str:
        return alignment_words(min(self._breach(), key=lambda r: r.day).source_party)

    # ---- counts of roles ------------------------------------------------------------------------

    def f_count(self, arg: str) -> str:
        role, _, word = arg.partition("|")
        return plural(total(self.unit.roles.get(role, [])), word or "count")

    def f_latest(self, arg: str) -> str:
        rows = [r for r in self.unit.roles.get(arg, []) if r.hi is not None]
        latest = max(rows, key=lambda r: r.day)
        return f"{latest.hi:,} on {latest.day.isoformat()}, reported by {alignment_words(latest.source_party)}"

    def f_inconclusive_note(self, arg: str) -> str:
        count = total(self.unit.roles.get("inconclusive", []))
        return f"; {count} inconclusive" if count else ""

    def f_denials_note(self, arg: str) -> str:
        count = total(r for r in self.unit.counted if r.claim == "denies")
        return f" ({plural(count, 'denial')} recorded)" if count else ""

    # ---- events and deadlines -------------------------------------------------------------------

    def f_event_day(self, arg: str) -> str:
        return self.unit.events[arg].start.isoformat()

    def f_events_reported(self, arg: str) -> str:
        reported = [f"{name} on {group.start.isoformat()}" for name, group in self.unit.events.items()]
        return ", ".join(reported) or "neither"

    def f_first_report(self, arg: str) -> str:
        group = self.unit.events[arg]
        role = self.body.events[arg].first
        read = _read_of_role(self.body, role)
        return f"{self.f_about(read)} first reported for {group.start.isoformat()}"

    def f_deadline(self, arg: str) -> str:
        due = self.unit.dues[arg]
        spec = self.body.deadlines[arg]
        if due["day"] is None:
            what = due["from"][0]
            return f"deadline {_offset(spec, self.unit)} after {what}, which is not reported yet"
        if spec.term is not None:
            term = self.unit.ob.terms[spec.term]
            epoch = self.unit.epochs[-1]
            original = local_day(term.value, self.agreement.tz)
            details = []
            if due["exact"]:
                details.append("on that day, neither earlier nor later")
            elif due["inclusive"]:
                details.append("inclusive")
            else:
                details.append(f"exclusive: last day {due['last'].isoformat()}")
            amended = [a for a in self.ctx.amendments if a.obligation == self.unit.ob.id and a.term == spec.term
                       and a.agreed_on <= self.ctx.as_of
                       and not (self.ctx.ignore_amendments is True or (not isinstance(self.ctx.ignore_amendments, bool)
                                                                       and a.id in self.ctx.ignore_amendments))]
            text = f"{'day' if due['exact'] else 'deadline'} {due['day'].isoformat()} ({', '.join(details)}"
            if amended and local_day(epoch.values[spec.term], self.agreement.tz) != original:
                latest = sorted(amended, key=lambda a: (a.agreed_on, a.id))[-1]
                text += f", amended by {latest.id} from {original.isoformat()}"
            if spec.term in self.ctx.overrides.get(self.unit.ob.id, {}) or "inclusive" in self.ctx.overrides.get(self.unit.ob.id, {}):
                text += " (what-if override)"
            return text + ")"
        what, base = due["from"]
        if due["exact"]:
            reading = "on that day, neither earlier nor later"
        else:
            reading = "inclusive" if due["inclusive"] else f"exclusive: last day {due['last'].isoformat()}"
        return (f"{'day' if due['exact'] else 'deadline'} {due['day'].isoformat()} ({_offset(spec, self.unit)} after "
                f"{what} on {base.isoformat()}, {reading})")

    def f_delay(self, arg: str) -> str:
        due = self.unit.dues[arg]
        happened = self.unit.events[self.body.deadlines[arg].event].start
        return plural(abs((happened - due["last"]).days), "day")

    # ---- renewable terms ------------------------------------------------------------------------

    def f_periods(self, arg: str) -> str:
        return periods_outcome(self.ctx, self.unit)[0]


def _offset(spec: Any, unit: Unit) -> str:
    """'1 month', '14 days': a relative deadline's offset, its terms read as in force on the as-of date."""
    values = unit.epochs[-1].values
    months, days = (int(values[v]) if isinstance(v, str) else v for v in (spec.months, spec.days))
    parts = []
    if months:
        parts.append(plural(months, "month"))
    if days:
        parts.append(plural(days, "day"))
    return " and ".join(parts) or "0 days"


def _read_of_role(body: Any, role: str) -> str:
    condition = body.evidence[role]
    stack = [condition]
    while stack:
        current = stack.pop()
        if current.read:
            return current.read
        stack += [*current.all, *current.any]
    return body.reads[0].label if body.reads else ""


def periods_outcome(ctx: Context, unit: Unit) -> tuple[str, str | None, str | None, list[Row]]:
    """A renewable term's state as of the as-of date: reason, next notice deadline (`due`), the current
    term's end, and the notices that bear on it."""
    spec = unit.body.periods
    notices = sorted(unit.roles.get(spec.notice, []), key=lambda r: r.day)
    periods = unit.periods
    if unit.noticed is not None:
        period = periods[unit.noticed - 1]
        start, end = dt.date.fromordinal(period["start"]), dt.date.fromordinal(period["end"])
        after, by = period["after"], period["by"]
        given = [r for r in notices if after < r.day.toordinal() <= by]
        who = ", ".join(sorted({r.actor for r in given}))
        if ctx.as_of >= end:
            return (f"not in force from {end.isoformat()}: notice given by {who} on {given[0].day.isoformat()} ended "
                    f"the provision at the end of term {unit.noticed}", None, end.isoformat(), given)
        return (f"term {unit.noticed} ({start.isoformat()} to {end.isoformat()}) running; notice given by {who} on "
                f"{given[0].day.isoformat()}: the provision ends on {end.isoformat()}", None, end.isoformat(), given)
    period = periods[-1]
    start, end = dt.date.fromordinal(period["start"]), dt.date.fromordinal(period["end"])
    deadline = dt.date.fromordinal(period["by"])
    values = unit.epochs[-1].values
    years, months = int(values[spec.years]), int(values[spec.notice_months])
    next_deadline = deadline if ctx.as_of <= deadline else add_months(end, 12 * years - months)
    late = [r for r in notices if r.day > deadline]
    tail = f"; a notice given after {deadline.isoformat()} counts for the next term" if late else ""
    return (f"term {period['k']} ({start.isoformat()} to {end.isoformat()}) running; no notice given for it; next "
            f"notice deadline {next_deadline.isoformat()}{tail}", next_deadline.isoformat(), end.isoformat(), late)


def _cited(ctx: Context, unit: Unit, selectors: list[str]) -> list[Row]:
    """The rows the selectors name (a row named twice is listed once)."""
    body = unit.body
    if len(selectors) == 1 and selectors[0] in body.evidence and selectors[0] != getattr(body.periods, "notice", None):
        return unit.roles.get(selectors[0], [])  # one role: its rows, as they are (a cap's may be many)
    rows: list[Row] = []
    for selector in selectors:
        head, _, tail = selector.partition(".")
        if selector == "contradicting":
            for group, counter, span in unit.contradictions:
                rows += [r for r in counter.rows if _near(r, span, group.window)]
        elif head == "matters" and body.matters is not None and selector not in body.evidence:
            rows += [r for m in unit.matters if not tail or m.status == tail for r in m.rows]
        elif head == "event" and tail in unit.events:
            rows += unit.events[tail].rows
        elif body.periods is not None and selector == body.periods.notice:
            rows += periods_outcome(ctx, unit)[3]
        else:
            rows += unit.roles.get(selector, [])
    seen: set[int] = set()
    unique = []
    for row in rows:
        if id(row) not in seen:
            seen.add(id(row))
            unique.append(row)
    return unique


def _due(ctx: Context, unit: Unit, verdict: str) -> tuple[str | None, str | None]:
    """`due` (the last compliant day of the first deadline not yet met, else of the last; with `due: latest`, the
    latest of those not yet met) and `term_end`."""
    if unit.body.periods is not None:
        if unit.verdict_detail in ("before", "ended"):
            return None, None
        _, due, term_end, _ = periods_outcome(ctx, unit)
        return due, term_end
    if not unit.body.deadlines:
        return None, None
    if unit.verdict_detail == "ended":
        return None, None
    dues = [(unit.dues[name], spec.event not in unit.events) for name, spec in unit.body.deadlines.items()]
    if unit.body.due == "latest":  # deadlines read together: the latest last day binds (none while one is undated)
        candidates = [d for d, waiting in dues if waiting] or [d for d, _ in dues]
        chosen = None if any(d["last"] is None for d in candidates) else max(candidates, key=lambda d: d["last"])
    else:  # the first deadline whose event has not happened, else the last
        chosen = next((d for d, waiting in dues if waiting), dues[-1][0])
    return (chosen["last"].isoformat() if chosen and chosen["last"] else None), None


def _not_in_force_reason(ctx: Context, unit: Unit) -> str:
    agreement = ctx.agreement
    if unit.verdict_detail == "before":
        start = agreement.in_force_day
        if unit.body.starts is not None:
            start = max(start, local_day(unit.epochs[-1].values[unit.body.starts], agreement.tz))
        return f"not in force before {start.isoformat()} (entry into force)"
    ending = sorted((e for e in ctx.endings if e.obligation == unit.ob.id and e.on <= ctx.as_of), key=lambda e: e.on)[0]
    return (f"not in force from {ending.on.isoformat()}: ended ({ending.id}, agreed by {', '.join(ending.by)}; "
            f"source: {ending.source})")


def results_of(ctx: Context, unit: Unit) -> list[ObligationResult]:
    """One result per bearer (a joint obligation: the same verdict and evidence for each; none: bearer null)."""
    verdict = Verdict(unit.verdict)
    builtin = unit.verdict_rank < 0
    if builtin:
        reason, breach, contradicting, compliance, inconclusive = _not_in_force_reason(ctx, unit), [], [], [], []
        count = 0
    else:
        entry = unit.body.verdict[unit.verdict_rank]
        reason = Explanation(ctx, unit).text(entry.reason)
        breach = _cited(ctx, unit, entry.cite.breach)
        contradicting = _cited(ctx, unit, entry.cite.contradicting)
        compliance = _cited(ctx, unit, entry.cite.compliance)
        inconclusive = unit.roles.get("inconclusive", [])
        count = total(unit.counted)
    evidence: list[str] = []
    for rows in (breach, contradicting, compliance):  # one ID may play two roles: listed once, first role
        seen = set(evidence)
        evidence += [i for i in first_ids(rows, MAX_EVIDENCE + len(seen)) if i not in seen][:MAX_EVIDENCE - len(evidence)]
    due, term_end = _due(ctx, unit, unit.verdict)
    ob = unit.ob
    bearers = list(ob.bearers) if ob.bearers else [None]
    if unit.key != "*":
        bearers = [unit.key]
    return [ObligationResult(
        agreement=ctx.agreement.id, id=ob.id, point=ob.point, bearer=bearer, verdict=verdict, reason=reason,
        evidence=evidence, evidence_count=count, inconclusive=first_ids(inconclusive, MAX_EVIDENCE), due=due,
        term_end=term_end, title=ob.title, rule=ob.template) for bearer in bearers]


def describe_rule(ob: Any) -> str:
    """The rule in words, for reports: its template's (or its own) `describe` text with its reads filled in."""
    body = ob.rule
    if not body.describe:
        return f"{ob.template}: see the clause file"

    def field(name: str, arg: str) -> str:
        read = next((r for r in body.reads if not arg or r.label == arg), body.reads[0] if body.reads else None)
        if name == "kind":
            return read.kind if read else ""
        if name == "about":
            if read is None:
                return ""
            detail = read.subject or (f"supervised by {read.supervised_by}" if read.supervised_by else None)
            return f"{read.kind}{f' ({detail})' if detail else ''}"
        raise KeyError(f"unknown field {{{name}}} in a rule description")
    return _Fields(field).format(body.describe)
