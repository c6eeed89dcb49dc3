"""Evaluating an agreement's obligations: evidence rows in, verdicts with reasons and evidence out.

Each obligation's rule (a body of the clause language) has its compiled ruleset (`compliance/rules.py`);
this module feeds the rulesets stage by stage (context, evidence, groups, picks, deadlines, verdicts), does
between stages only what rules do badly (grouping rows into facts, matters and spans by window; the earliest
day of an event; calendar arithmetic for due dates and renewal periods), and renders the engine's decisions
(`compliance/explain.py`).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional

from .agreement import INDEPENDENT, Agreement, Amendment, Ending, Obligation
from .dates import add_months
from .errors import EngineError
from .evidence import Row, group_matters
from .language import EventRef, RuleBody
from .rules import NEG_INFINITY, UNITS_ALL, RuleEngine, RuleInfo, Session, read_slots
from .terms import Epoch, term_epochs
from .verdicts import ObligationResult

FAR_DAY = 3_000_000  # a day ordinal after every date the calendar holds (32-bit safe)
_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Context:
    """Everything a check of one agreement reads: the terms' history, the period, and the evidence rows."""

    agreement: Agreement
    as_of: dt.date
    since: dt.date
    amendments: tuple[Amendment, ...]
    endings: tuple[Ending, ...]
    rows_by_kind: dict[str, list[Row]]
    ignore_amendments: bool | frozenset[str] = False
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    attribute: dict[str, str] = field(default_factory=dict)
    # the actor and source-party codes of the rows (`codes_of_rows`), when the caller made them once for several
    # agreements evaluated on the same rows
    row_codes: frozenset[str] | None = None


def codes_of_rows(rows_by_kind: dict[str, list[Row]]) -> frozenset[str]:
    """Every actor and source-party code the evidence rows hold."""
    codes: set[str] = set()
    for rows in rows_by_kind.values():
        codes.update({row.source_party for row in rows})
        codes.update({row.actor for row in rows})
    return frozenset(codes)


# ---- instants ---------------------------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@lru_cache(maxsize=65536)
def day_start(day: dt.date, tz: dt.tzinfo) -> int:
    """The minute (since 1970, UTC) a local calendar day starts in `tz`."""
    moment = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    return int((moment - _EPOCH).total_seconds() // 60)


def minute_of(moment: dt.datetime) -> int:
    """A moment as minutes since 1970 (UTC), rounded down."""
    return int((moment - _EPOCH).total_seconds() // 60)


@lru_cache(maxsize=65536)
def _at_minute(text: str) -> int:
    return minute_of(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))


def row_end_range(row: Row, tz: dt.tzinfo) -> tuple[int, int]:
    """The earliest and latest minute the reported thing may have ended (a plain date is the whole day)."""
    if row.at_end is not None:
        minute = _at_minute(row.at_end)
        return minute, minute
    start = day_start(row.day_end, tz)
    end = day_start(row.day_end + dt.timedelta(days=1), tz) - 1
    if row.at is not None and row.day_end == row.day:
        start = max(start, _at_minute(row.at))
    return start, end


def moment_minute(value: Any, tz: dt.tzinfo) -> int:
    """A date (its start) or a moment, as minutes since 1970."""
    if isinstance(value, dt.datetime):
        return minute_of(value if value.tzinfo else value.replace(tzinfo=tz))
    return day_start(value, tz)


def local_day(value: Any, tz: dt.tzinfo) -> dt.date:
    """The calendar day of a date or a moment, in `tz`."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(tz).date()
    return value


# ---- units ------------------------------------------------------------------------------------------

@dataclass
class Group:
    """A matter or an event: evidence rows graded together."""

    id: str
    table: str
    rows: list[Row]
    start: dt.date
    end: dt.date
    window: int
    spans: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    status: Optional[str] = None


@dataclass
class Counter:
    """Evidence of a role from one source alignment, merged over a window (what `contradicted` reads)."""

    role: str
    sp: str
    rows: list[Row]
    start: dt.date
    end: dt.date


@dataclass
class Unit:
    """One obligation evaluated for one bearer (or once, for a joint obligation or one that names no bearer)."""

    ob: Obligation
    key: str
    bearers: tuple[str, ...]
    body: RuleBody
    engine: RuleEngine
    epochs: list[Epoch]
    rows: dict[str, list[Row]] = field(default_factory=dict)
    windows: dict[str, int] = field(default_factory=dict)
    facts: list[tuple[dict[str, Any], list[Row]]] = field(default_factory=list)
    roles: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    fact_roles: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    counted: list[Row] = field(default_factory=list)
    matters: list[Group] = field(default_factory=list)
    events: dict[str, Group] = field(default_factory=dict)
    counters: dict[int, Counter] = field(default_factory=dict)
    contradictions: list[tuple[Group, Counter, tuple[dt.date, dt.date]]] = field(default_factory=list)
    periods: list[dict[str, int]] = field(default_factory=list)
    noticed: Optional[int] = None
    dues: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    slots: dict[str, str] = field(default_factory=dict)
    verdict: Optional[str] = None
    verdict_rank: int = 0
    verdict_detail: str = ""

    @property
    def label(self) -> str:
        """`ob|unit`, how targets name it."""
        return f"{self.ob.id}|{self.key}"


def _unit_bearers(ob: Obligation, key: str) -> tuple[str, ...]:
    return tuple(ob.bearers) if key == UNITS_ALL else (key,)


def _role_kind(body: RuleBody, role: str) -> str:
    """The kind of the read a role's evidence comes from (the first read its condition names, else the first)."""
    condition = body.evidence[role]
    names: list[str] = []

    def walk(c: Any) -> None:
        if c.read:
            names.append(c.read)
        for inner in [*c.all, *c.any]:
            walk(inner)
    walk(condition)
    for read in body.reads:
        if not names or read.label == names[0]:
            return read.kind
    return body.reads[0].kind


class Evaluation:
    """The evaluation of one agreement as of one date: units, sessions and stages."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        agreement = ctx.agreement
        self.tz = agreement.tz
        self.units: list[Unit] = []
        for ob in agreement.obligations:
            terms = set(ob.terms)
            engine = RuleEngine.for_body(ob.rule, terms)
            epochs = term_epochs(ob, ctx.amendments, ctx.as_of, ignore=ctx.ignore_amendments,
                                 overrides=ctx.overrides.get(ob.id, {}))
            for bearer in ob.units:
                key = UNITS_ALL if bearer is None else bearer
                self.units.append(Unit(ob, key, _unit_bearers(ob, key), ob.rule, engine, epochs,
                                       slots=read_slots(ob.rule)))
        self.by_engine: dict[int, list[Unit]] = defaultdict(list)
        self.engines: dict[int, RuleEngine] = {}
        for unit in self.units:
            self.by_engine[id(unit.engine)].append(unit)
            self.engines[id(unit.engine)] = unit.engine
        self.sessions: dict[int, Session] = {}
        self._by_actor: dict[str, dict[str, list[Row]]] = {}
        self._earliest: dict[str, dt.date] = {}

    # ---- helpers ----------------------------------------------------------------------------------

    def _window_start(self, unit: Unit, read: Any) -> int:
        """The minute from which a read's evidence counts (before the rule's `after` event)."""
        if read.period == "record":
            return NEG_INFINITY
        agreement = self.ctx.agreement
        start = max(moment_minute(agreement.in_force, self.tz), day_start(self.ctx.since, self.tz))
        starts = unit.body.starts
        if starts is not None:
            start = max(start, moment_minute(unit.epochs[-1].values[starts], self.tz))
        return start

    def _select(self, unit: Unit, read: Any, from_day: dt.date) -> list[Row]:
        """The rows a read takes for a unit: its kind (subject, supervising body), the conduct it reads, and the
        days from which its period may count (rows that end before that day cannot)."""
        ctx = self.ctx
        any_actor = read.conduct == "any" or unit.key == UNITS_ALL
        rows = self._rows_of(read.kind, None if any_actor else unit.key)
        supervised = None if read.supervised_by is None else read.supervised_by.upper()
        attribute = ctx.attribute
        named = read.actor
        if named is None and read.subject is None and supervised is None and self._earliest_end(read.kind) >= from_day:
            return rows  # every row of the kind may count: no copy
        return [row for row in rows
                if row.day_end >= from_day
                and (named is None or attribute.get(row.actor, row.actor) == named)
                and (read.subject is None or row.subject == read.subject)
                and (supervised is None or row.sup == supervised)]

    def _rows_of(self, kind: str, actor: Optional[str]) -> list[Row]:
        """The rows of a kind (whose conduct is counted as `actor`'s, unless None), grouped once per evaluation."""
        index = self._by_actor.get(kind)
        if index is None:
            index = self._by_actor[kind] = defaultdict(list)
            attribute = self.ctx.attribute
            for row in self.ctx.rows_by_kind.get(kind, ()):
                index[attribute.get(row.actor, row.actor)].append(row)
        if actor is None:
            return self.ctx.rows_by_kind.get(kind, [])
        return index.get(actor, [])

    def _earliest_end(self, kind: str) -> dt.date:
        found = self._earliest.get(kind)
        if found is None:
            rows = self.ctx.rows_by_kind.get(kind, ())
            found = self._earliest[kind] = min((r.day_end for r in rows), default=dt.date.max)
        return found

    def _boundaries(self, unit: Unit) -> list[int]:
        """Day ordinals where the facts a rule sees may change (terms, periods, window starts)."""
        days = {epoch.first for epoch in unit.epochs[1:]}
        for period in unit.periods:
            days.update((period["after"] + 1, period["by"] + 1))
        for minute in unit.windows.values():
            if minute != NEG_INFINITY:
                day = dt.datetime.fromtimestamp(minute * 60, dt.timezone.utc).astimezone(self.tz).date()
                days.update((day.toordinal(), day.toordinal() + 1))
        return sorted(d for d in days if d > 0)

    def _facts_of(self, unit: Unit, read: Any, rows: list[Row]) -> list[tuple[dict[str, Any], list[Row]]]:
        """Rows grouped into evidence facts: rows that every rule sees alike (same fields, same segments of the
        calendar between the days where terms, periods or windows change) make one fact."""
        boundaries = self._boundaries(unit)
        tz = self.tz
        segment_of: dict[dt.date, int] = {}  # a log has a few thousand days: each is placed once

        def segment(day: dt.date) -> int:
            found = segment_of.get(day)
            if found is None:
                found = segment_of[day] = bisect.bisect_right(boundaries, day.toordinal())
            return found

        groups: dict[tuple, list[Row]] = {}
        for row in rows:
            if row.at is not None or row.at_end is not None:
                key = ("moment", row.key(), row.at, row.at_end)
            else:
                key = (row.signature(), segment(row.day), segment(row.day_end))
            members = groups.get(key)
            if members is None:
                groups[key] = [row]
            else:
                members.append(row)
        facts = []
        for key, members in groups.items():
            first = members[0]
            if key[0] == "moment":  # a few rows on the day of a moment
                ends = [row_end_range(r, tz) for r in members]
                e0, e1 = min(e[0] for e in ends), max(e[1] for e in ends)
                last_day = max(r.day_end for r in members)
            else:  # plain days: a row may have ended from the start of its last day to that day's end
                first_end, last_day = min(r.day_end for r in members), max(r.day_end for r in members)
                e0 = day_start(first_end, tz)
                e1 = day_start(last_day + _ONE_DAY, tz) - 1
            fact: dict[str, Any] = {
                "t": "ev", "ob": unit.ob.id, "unit": unit.key, "read": unit.slots[read.label], "kind": first.kind,
                "actor": first.actor, "sp": first.source_party, "claim": first.claim,
                "from": min(r.day for r in members).toordinal(), "to": last_day.toordinal(),
                "e0": e0, "e1": e1, "n": sum(r.n for r in members)}
            for name, value in (("subject", first.subject), ("sup", first.sup), ("lo", first.lo), ("hi", first.hi)):
                if value is not None:
                    fact[name] = value
            if first.attrs:
                for name, value in json.loads(first.attrs).items():
                    fact[f"a_{name}"] = int(value) if isinstance(value, bool) else value
            facts.append((fact, members))
        return facts

    def _assert(self, stage: dict[int, list[dict[str, Any]]]) -> list[tuple[str, RuleInfo, dict[str, dict[str, Any]]]]:
        fired = []
        for key, facts in stage.items():
            fired += self.sessions[key].assert_facts(facts)
        return fired

    # ---- stages -----------------------------------------------------------------------------------

    def run(self) -> list[Unit]:
        """Evaluate every unit; return them with their verdicts."""
        with ExitStack() as stack:
            for key, engine in self.engines.items():
                self.sessions[key] = stack.enter_context(engine.session())
            self._context()
            self._evidence(after=False)
            self._evidence(after=True)
            self._groups()
            self._deadlines()
            self._verdicts()
        return self.units

    def _codes(self) -> set[str]:
        agreement = self.ctx.agreement
        codes = set(agreement.known_codes)
        codes.update(self.ctx.row_codes if self.ctx.row_codes is not None else codes_of_rows(self.ctx.rows_by_kind))
        codes.update(self.ctx.attribute.values())
        codes.discard(INDEPENDENT)
        return codes

    def _context(self) -> None:
        ctx, agreement = self.ctx, self.ctx.agreement
        codes = sorted(self._codes())
        ended: dict[str, dt.date] = {}
        for ending in sorted(ctx.endings, key=lambda e: e.on):
            if ending.on <= ctx.as_of:
                ended.setdefault(ending.obligation, ending.on)
        stage: dict[int, list[dict[str, Any]]] = {}
        for key, units in self.by_engine.items():
            facts: list[dict[str, Any]] = [{"t": "side", "code": code, "side": agreement.side_of(code)} for code in codes]
            facts += [{"t": "party", "code": code} for code in agreement.parties]
            facts.append({"t": "asof", "day": ctx.as_of.toordinal()})
            seen: set[str] = set()
            for unit in units:
                facts += [{"t": "bearer", "ob": unit.ob.id, "unit": unit.key, "code": code} for code in unit.bearers]
                if unit.ob.id in seen:
                    continue
                seen.add(unit.ob.id)
                start_day = agreement.in_force_day
                if unit.body.starts is not None:
                    start_day = max(start_day, local_day(unit.epochs[-1].values[unit.body.starts], self.tz))
                facts.append({"t": "inforce", "ob": unit.ob.id, "day": start_day.toordinal()})
                if unit.ob.id in ended:
                    facts.append({"t": "ending", "ob": unit.ob.id, "day": ended[unit.ob.id].toordinal()})
                for epoch in unit.epochs:
                    facts.append({"t": "epoch", "ob": unit.ob.id, "from": epoch.first, "to": epoch.last,
                                  **{f"tm_{name}": _fact_value(value, self.tz) for name, value in epoch.values.items()}})
            stage[key] = facts
        fired = self._assert(stage)
        usides: dict[int, list[dict[str, Any]]] = defaultdict(list)
        seen_sides: set[tuple] = set()
        for name, info, bound in fired:
            if info.kind == "uside":
                b, s = bound["b"], bound["sd"]
                marker = (b["ob"], b["unit"], s["side"])
                if marker not in seen_sides:
                    seen_sides.add(marker)
                    for key, units in self.by_engine.items():
                        if any(u.ob.id == b["ob"] and u.key == b["unit"] for u in units):
                            usides[key].append({"t": "uside", "ob": b["ob"], "unit": b["unit"], "side": s["side"]})
        self._assert(usides)
        for unit in self.units:
            if unit.body.periods is not None:
                unit.periods = self._periods(unit)

    def _evidence(self, after: bool) -> None:
        """Evidence facts of the reads that start at an event (`after`) or of the others."""
        stage: dict[int, list[dict[str, Any]]] = defaultdict(list)
        windows: dict[int, list[dict[str, Any]]] = defaultdict(list)
        owner: dict[int, tuple[Unit, list[Row]]] = {}
        for key, units in self.by_engine.items():
            for unit in units:
                for read in unit.body.reads:
                    if (read.after is not None) != after:
                        continue
                    start = self._window_start(unit, read)
                    if after:
                        event_rows = unit.roles.get(unit.body.events[read.after].first, [])
                        if not event_rows:
                            continue  # the event has not happened: nothing of this read counts yet
                        start = max(start, day_start(min(r.day for r in event_rows), self.tz))
                    unit.windows[read.label] = start
                    windows[key].append({"t": "window", "ob": unit.ob.id, "unit": unit.key,
                                         "read": unit.slots[read.label], "start": start})
                    from_day = (dt.date.min if start == NEG_INFINITY else
                                dt.datetime.fromtimestamp(start * 60, dt.timezone.utc).astimezone(self.tz).date())
                    rows = self._select(unit, read, from_day)
                    unit.rows[read.label] = rows
                    for fact, members in self._facts_of(unit, read, rows):
                        stage[key].append(fact)
                        owner[id(fact)] = (unit, members)
        self._assert(windows)
        fired = self._assert(stage)
        timed: set[int] = set()  # facts are told apart by identity: each session numbers its own
        for facts in stage.values():
            for fact in facts:
                unit, members = owner[id(fact)]
                unit.facts.append((fact, members))
        for name, info, bound in fired:
            if info.kind != "role":
                continue
            fact = bound["e"]
            unit, members = owner[id(fact)]
            role = info.value
            if name.startswith("time|"):
                if id(fact) in timed:
                    raise EngineError(f"evidence fact {fact['id']} got two timing outcomes")
                timed.add(id(fact))
                if role == "counted" or role == "inconclusive":
                    unit.counted += members
            if role in unit.fact_roles[id(fact)]:
                continue
            unit.fact_roles[id(fact)].add(role)
            if role != "counted" and role != "before":
                unit.roles[role] += members
        missing = [fact for facts in stage.values() for fact in facts if id(fact) not in timed]
        if missing:
            fact = missing[0]
            raise EngineError(f"evidence fact {fact['id']} produced no outcome (no rule matched, or an action was "
                              f"lost): {json.dumps({k: v for k, v in fact.items() if k != 'id'}, sort_keys=True)}")

    def _window_of(self, unit: Unit, role: str, given: Optional[int]) -> int:
        return self.ctx.agreement.window(_role_kind(unit.body, role)) if given is None else given

    def _groups(self) -> None:
        members: dict[int, list[dict[str, Any]]] = defaultdict(list)
        group_facts: dict[int, list[dict[str, Any]]] = defaultdict(list)
        groups: dict[str, tuple[Unit, Group]] = {}
        counter_facts: list[tuple[dict[str, Any], Unit, Counter]] = []
        for key, units in self.by_engine.items():
            for unit in units:
                body = unit.body
                base = {"ob": unit.ob.id, "unit": unit.key}
                made: list[Group] = []
                if body.matters is not None:
                    window = self._window_of(unit, body.matters.of, body.matters.window_days)
                    for index, matter in enumerate(group_matters(unit.roles.get(body.matters.of, []), window)):
                        group = Group(f"{unit.label}|m{index}", "matters", matter.rows, matter.start, matter.end,
                                      window, [(matter.start, matter.end)])
                        unit.matters.append(group)
                        made.append(group)
                for name, event in body.events.items():
                    rows = unit.roles.get(event.first, [])
                    if not rows:
                        continue
                    window = self._window_of(unit, event.first, event.window_days)
                    group = Group(f"{unit.label}|e:{name}", f"event:{name}", rows, min(r.day for r in rows),
                                  max(r.day_end for r in rows), window, _merged_spans(rows, window))
                    unit.events[name] = group
                    made.append(group)
                windows_of_role: dict[str, int] = {}
                for table, grades, group_window in self._tables(unit):
                    for entry in grades:
                        for role in entry.when.roles():
                            windows_of_role[role] = min(windows_of_role.get(role, group_window), group_window)
                for role, window in windows_of_role.items():
                    by_party: dict[str, list[Row]] = defaultdict(list)
                    for row in unit.roles.get(role, []):
                        by_party[row.source_party].append(row)
                    for party, rows in sorted(by_party.items()):
                        for start, end, span_rows in _merged_runs(rows, window):
                            counter = Counter(role, party, span_rows, start, end)
                            fact = {"t": "counter", **base, "role": role, "sp": party,
                                    "start": start.toordinal(), "end": end.toordinal()}
                            members[key].append(fact)
                            counter_facts.append((fact, unit, counter))
                for group in made:
                    groups[group.id] = (unit, group)
                    for party in sorted({r.source_party for r in group.rows}):
                        members[key].append({"t": "member", "group": group.id, "sp": party})
                    for start, end in group.spans:
                        members[key].append({"t": "span", "group": group.id, "start": start.toordinal(),
                                             "end": end.toordinal()})
                    group_facts[key].append({"t": "group", **base, "group": group.id, "table": group.table,
                                             "start": group.start.toordinal(), "end": group.end.toordinal(),
                                             "window": group.window})
                for fact, fact_rows in unit.facts:
                    for role in unit.fact_roles[id(fact)]:
                        members[key].append({"t": "has", **base, "role": role, "from": fact["from"]})
                for period in unit.periods:
                    members[key].append({"t": "period", **base, **period})
        fired = self._assert(members)
        counters = {id(fact): (unit, counter) for fact, unit, counter in counter_facts}
        gsides: dict[int, list[dict[str, Any]]] = defaultdict(list)
        candidates: dict[int, list[dict[str, Any]]] = defaultdict(list)
        seen: set[tuple] = set()
        for name, info, bound in fired:
            if info.kind == "mside":
                m, s = bound["mb"], bound["sd"]
                marker = (m["group"], s["side"])
                if marker not in seen:
                    seen.add(marker)
                    gsides[self._engine_key(groups[m["group"]][0])].append(
                        {"t": "gside", "group": m["group"], "side": s["side"]})
            elif info.kind == "notice":
                p = bound["p"]
                unit = self._unit(p["ob"], p["unit"])
                candidates[self._engine_key(unit)].append({"t": "cand", "target": f"{unit.label}|periods",
                                                           "rank": p["k"], "value": p["k"]})
        self._assert(gsides)
        fired = self._assert(group_facts)
        for name, info, bound in fired:
            if info.kind != "grade":
                continue
            g = bound["g"]
            unit, group = groups[g["group"]]
            candidates[self._engine_key(unit)].append({"t": "cand", "target": g["group"], "rank": info.rank,
                                                       "value": info.value})
            if "k" in bound:
                counter = counters[id(bound["k"])][1]
                span = (dt.date.fromordinal(bound["sp"]["start"]), dt.date.fromordinal(bound["sp"]["end"]))
                unit.contradictions.append((group, counter, span))
        picks = self._pick(candidates)
        for target, value in picks.items():
            if target.endswith("|periods"):
                unit = self._unit(*target.rsplit("|", 1)[0].split("|", 1))
                unit.noticed = int(value)
            else:
                groups[target][1].status = value
        for group_id, (unit, group) in groups.items():
            if group.status is None:
                raise EngineError(f"{group_id}: the grade rules chose no status")

    def _tables(self, unit: Unit) -> list[tuple[str, list, int]]:
        body = unit.body
        tables = []
        if body.matters is not None:
            tables.append(("matters", body.matters.grade, self._window_of(unit, body.matters.of, body.matters.window_days)))
        for name, event in body.events.items():
            tables.append((f"event:{name}", event.grade, self._window_of(unit, event.first, event.window_days)))
        return tables

    def _engine_key(self, unit: Unit) -> int:
        return id(unit.engine)

    def _unit(self, ob_id: str, key: str) -> Unit:
        for unit in self.units:
            if unit.ob.id == ob_id and unit.key == key:
                return unit
        raise EngineError(f"no unit {ob_id}|{key}")  # pragma: no cover

    def _pick(self, candidates: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
        """The engine's choice of the lowest-ranked candidate per target."""
        self._assert(candidates)
        picks: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for key, facts in candidates.items():
            for target in dict.fromkeys(f["target"] for f in facts):
                picks[key].append({"t": "pick", "target": target})
        chosen: dict[str, Any] = {}
        for name, info, bound in self._assert(picks):
            if info.kind == "pick":
                target = bound["p"]["target"]
                if target in chosen and chosen[target] != bound["cd"]["value"]:
                    raise EngineError(f"{target}: two candidates of the same rank ({chosen[target]}, {bound['cd']['value']})")
                chosen[target] = bound["cd"]["value"]
        wanted = {f["target"] for facts in candidates.values() for f in facts}
        if wanted - set(chosen):
            raise EngineError(f"{sorted(wanted - set(chosen))[0]}: no candidate was picked (an action was lost)")
        return chosen

    def _periods(self, unit: Unit) -> list[dict[str, int]]:
        """The renewal periods up to the one the as-of date falls in: (after, by] is each one's notice window."""
        spec = unit.body.periods
        values = unit.epochs[-1].values
        start = local_day(values[spec.start], self.tz)
        years, months = int(values[spec.years]), int(values[spec.notice_months])
        periods = []
        previous = NEG_INFINITY
        number = 1
        term_start = start
        while True:
            term_end = add_months(start, 12 * years * number)
            deadline = add_months(term_end, -months)
            periods.append({"k": number, "after": previous, "by": deadline.toordinal(),
                            "start": term_start.toordinal(), "end": term_end.toordinal()})
            if self.ctx.as_of < term_end or number > 1000:
                return periods
            previous, term_start, number = deadline.toordinal(), term_end, number + 1

    def _deadlines(self) -> None:
        eventfs: dict[int, list[dict[str, Any]]] = defaultdict(list)
        dues: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for unit in self.units:
            key = self._engine_key(unit)
            base = {"ob": unit.ob.id, "unit": unit.key}
            for name, group in unit.events.items():
                eventfs[key].append({"t": "eventf", **base, "name": name, "day": group.start.toordinal(),
                                     "status": group.status})
            if unit.noticed is not None:
                period = unit.periods[unit.noticed - 1]
                eventfs[key].append({"t": "noticed", **base, "k": unit.noticed, "end": period["end"]})
            for name, spec in unit.body.deadlines.items():
                due = self._due(unit, name, spec)
                unit.dues[name] = due
                fact = {"t": "due", **base, "name": name, "event": spec.event}
                if due["last"] is None:
                    fact["undated"] = 1
                else:
                    fact["last"] = due["last"].toordinal()
                dues[key].append(fact)
        self._assert(eventfs)
        for name, info, bound in self._assert(dues):
            if info.kind == "deadline":
                d = bound["d"]
                unit = self._unit(d["ob"], d["unit"])
                if info.table in unit.outcomes and unit.outcomes[info.table] != info.value:
                    raise EngineError(f"{unit.label}: deadline {info.table} has two outcomes")
                unit.outcomes[info.table] = info.value
        for unit in self.units:
            for name in unit.body.deadlines:
                if name not in unit.outcomes:
                    raise EngineError(f"{unit.label}: deadline {name} has no outcome (an action was lost)")

    def _event_day(self, unit: Unit, ref: EventRef) -> tuple[Optional[dt.date], str]:
        """The day an event a deadline counts from happened (None: not yet), and what it is, in words."""
        agreement = self.ctx.agreement
        if ref.entry_into_force:
            return agreement.in_force_day, "entry into force"
        if ref.kind is not None:
            days = [r.day for r in self.ctx.rows_by_kind.get(ref.kind, ())
                    if r.claim == "affirms" and agreement.in_force_day <= r.day <= self.ctx.as_of]
            return (min(days) if days else None), f"the first {ref.kind}"
        if ref.obligation is None:
            group = unit.events.get(ref.event)
            return (group.start if group else None), ref.event
        others = [u for u in self.units if u.ob.id == ref.obligation]
        same = [u for u in others if u.key == unit.key] or others
        days = []
        for other in same:
            role = other.body.events[ref.event].first
            days += [r.day for r in other.roles.get(role, []) if r.day >= agreement.in_force_day]
        return (min(days) if days else None), f"{ref.obligation}'s event '{ref.event}'"

    def _due(self, unit: Unit, name: str, spec: Any) -> dict[str, Any]:
        """A deadline's due day and last compliant day, by calendar arithmetic."""
        values = unit.epochs[-1].values
        overrides = self.ctx.overrides.get(unit.ob.id, {})
        if spec.term is not None:
            day = local_day(values[spec.term], self.tz)
            term = unit.ob.terms[spec.term]
            inclusive = spec.inclusive if spec.inclusive is not None else term.inclusive
            if "inclusive" in overrides:
                inclusive = bool(overrides["inclusive"])
            if spec.exact:
                return {"day": day, "last": day, "inclusive": True, "exact": True, "from": None}
            last = day if inclusive is not False else day - dt.timedelta(days=1)
            return {"day": day, "last": last, "inclusive": inclusive is not False, "exact": False, "from": None}
        base, what = self._event_day(unit, spec.after)
        inclusive = spec.inclusive is not False
        if "inclusive" in overrides:
            inclusive = bool(overrides["inclusive"])
        if base is None:
            return {"day": None, "last": None, "inclusive": inclusive, "exact": spec.exact, "from": (what, None)}
        day = base
        months, days = (int(values[v]) if isinstance(v, str) else v for v in (spec.months, spec.days))
        if months:
            day = add_months(day, months)
        if days:
            day = day + dt.timedelta(days=days)
        last = day if (inclusive or spec.exact) else day - dt.timedelta(days=1)
        return {"day": day, "last": last, "inclusive": inclusive, "exact": spec.exact, "from": (what, base)}

    def _verdicts(self) -> None:
        stage: dict[int, list[dict[str, Any]]] = defaultdict(list)
        decide: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for unit in self.units:
            key = self._engine_key(unit)
            base = {"ob": unit.ob.id, "unit": unit.key}
            for status in sorted({g.status for g in unit.matters}):
                stage[key].append({"t": "gstat", **base, "table": "matters", "status": status})
            for name, outcome in unit.outcomes.items():
                stage[key].append({"t": "dlo", **base, "name": name, "outcome": outcome})
            decide[key].append({"t": "decide", **base, **{f"tm_{name}": _fact_value(value, self.tz)
                                                          for name, value in unit.epochs[-1].values.items()}})
        self._assert(stage)
        candidates: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for name, info, bound in self._assert(decide):
            if info.kind == "verdict":
                d = bound["d"]
                unit = self._unit(d["ob"], d["unit"])
                candidates[self._engine_key(unit)].append(
                    {"t": "cand", "target": f"{unit.label}|verdict", "rank": info.rank,
                     "value": json.dumps([info.value, info.rank, info.table])})
        for target, value in self._pick(candidates).items():
            unit = self._unit(*target.rsplit("|", 1)[0].split("|", 1))
            unit.verdict, unit.verdict_rank, unit.verdict_detail = json.loads(value)
        for unit in self.units:
            if unit.verdict is None:
                raise EngineError(f"{unit.label}: the verdict rules chose no verdict")


def _fact_value(value: Any, tz: dt.tzinfo) -> Any:
    """A term value as facts carry it: numbers as they are, dates as day ordinals, moments as minutes."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return moment_minute(value, tz)
    if isinstance(value, dt.date):
        return value.toordinal()
    return value


def _merged_runs(rows: list[Row], window: int) -> list[tuple[dt.date, dt.date, list[Row]]]:
    """Rows merged into runs whose windows touch: a run is near a span exactly when one of its rows is."""
    runs: list[tuple[dt.date, dt.date, list[Row]]] = []
    gap = dt.timedelta(days=2 * window + 1)
    for row in sorted(rows, key=lambda r: (r.day, r.day_end)):
        if runs and row.day - runs[-1][1] <= gap:
            start, end, members = runs[-1]
            members.append(row)
            runs[-1] = (start, max(end, row.day_end), members)
        else:
            runs.append((row.day, row.day_end, [row]))
    return runs


def _merged_spans(rows: list[Row], window: int) -> list[tuple[dt.date, dt.date]]:
    return [(start, end) for start, end, _ in _merged_runs(rows, window)]


def _near(row: Row, span: tuple[dt.date, dt.date], window: int) -> bool:
    reach = dt.timedelta(days=window)
    return row.day <= span[1] + reach and row.day_end >= span[0] - reach


def evaluate(ctx: Context) -> list[ObligationResult]:
    """Evaluate every obligation for each bearer, in clause-file order, bearers in listed order."""
    from .explain import results_of

    units = Evaluation(ctx).run()
    results: list[ObligationResult] = []
    for unit in units:
        results.extend(results_of(ctx, unit))
    return results
