"""The clause language compiled to durable-rules rulesets, evaluated exactly and synchronously.

A rule body (`compliance/language.py`) compiles to one ruleset; obligations whose bodies are the same (most
share a template) share it, and facts name their obligation (`ob`) and unit (`unit`: a bearer, or `*` for an
obligation that is joint or names no bearer). The facts carry observations' fields and clause data; every
decision is a rule that fires in the engine, most of them joins across facts:

context    side {code, side} (clause data: which codes are on one side), party {code}, bearer {ob, unit, code},
           epoch {ob, from, to, tm_<term>...} (the terms in force over a range of days), window {ob, unit, read,
           start} (the moment a read's period starts), asof {day}, inforce {ob, day}, ending {ob, day}
           rule uside: bearer ⋈ side -> the sides of a unit's bearers
evidence   ev {ob, unit, read, kind, actor, sp, claim, subject, sup, lo, hi, a_<attr>, from, to, e0, e1, n}
           rules role|R|i: the role's condition (a disjunct), joined with the window (counted from its start),
           the epoch in force over the evidence's own dates (terms compared with), the sides of the source and
           of the unit's bearers (source relations), the parties (actor: party);
           rules time|counted, time|straddles (-> inconclusive), time|before: evidence against its window start
groups     member {group, sp}, span {group, start, end}, counter {ob, unit, role, sp, start, end},
           has {ob, unit, role, from}, period {ob, unit, k, after, by, start, end};
           rule mside: member ⋈ side; rules notice|k: period ⋈ has (a notice in the period's notice window);
           then group {ob, unit, group, table, start, end, window}: rules grade|T|i|j, a grade table's entry
           (group predicates: independent, bearer-side, other-side, two-sides, contradicted) -> candidate
pick       cand {target, rank, value}, then pick {target}: rule pick: the candidate of lowest rank (precedence
           decided in the engine)
deadlines  eventf {ob, unit, name, day, status}, noticed {ob, unit, k, end}, then due {ob, unit, name, event,
           last | undated}: rules deadline|N|outcome (in-time, late, early, overdue, pending)
verdict    gstat {ob, unit, table, status}, dlo {ob, unit, name, outcome}, then decide {ob, unit}: rules
           verdict|i|j (the verdict table's entries) and verdict|not-in-force|... -> candidates, then pick

Python sits between the stages only for what rules do badly: grouping evidence into matters and spans by
window, the earliest day of an event, and calendar arithmetic (due dates, renewal periods); it forwards the
engine's outcomes as the next stage's facts.

durable-rules pitfalls handled here (see ../shared/notes/durable-rules.md):
- facts, not events (a fact fires every rule it matches); context facts are asserted before the facts that
  negations (`none`) look at them from, so a negation never fires before what it negates exists;
- no background dispatch thread: the host's timer loop is disabled and queued actions are drained on the
  calling thread, so results are complete when `assert_facts` returns;
- every fact carries a unique small decimal `id` within its session; one session per evaluation, deleted
  afterwards; rulesets are built once per process and body, each well under the engine's limits (a ruleset of
  more than about 500 rules hangs its compiler);
- numbers stay within 32 bits (larger magnitudes compare wrongly);
- a conjunction's last join test never fails first (`guard_join_end`): when it does, durable-rules reads past
  the end of the join's tests, and now and then that read is a segmentation fault;
- action errors are caught, kept, and re-raised after the call; and every evidence fact, group and decision is
  checked to have produced an outcome, so a dropped action is an error, never a silent wrong verdict.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .errors import EngineError
from .language import (Condition, DeadlineSpec, GroupCondition, RuleBody, VerdictCondition)

Cond = dict[str, Any]
NEG_INFINITY = -2_000_000_000  # "no start": below every instant the engine compares (32-bit safe)
UNITS_ALL = "*"

_MIRROR = {"gt": "$lt", "ge": "$lte", "lt": "$gt", "le": "$gte", "ne": "$neq"}
_OPS = {"gt": "$gt", "ge": "$gte", "lt": "$lt", "le": "$lte", "ne": "$neq"}


def _and(*conditions: Cond) -> Cond:
    """A conjunction of conditions on one fact (nested conjunctions flattened: durable-rules 2.0.28 crashes on
    some nested $and)."""
    flat: list[Cond] = []
    for condition in conditions:
        flat.extend(condition["$and"] if set(condition) == {"$and"} else [condition])
    return {"$and": flat} if len(flat) != 1 else flat[0]


def _is_join(atom: Cond) -> bool:
    """Whether a test of one fact compares it with another fact (its value is a reference or an expression)."""
    (key, value), = atom.items()
    if key.startswith("$"):
        (_, value), = value.items()
    return isinstance(value, dict)


def guard_join_end(condition: Cond) -> Cond:
    """A conjunction whose last join test repeats its first (so the last can never fail first).

    durable-rules 2.0.28 reads past a join's expression list when the last join test of a conjunction fails
    (events.c, reduceExpressionSequence: after a failed test it steps over the closing marker and scans on
    through memory until a byte happens to match it); the scan ends in a segmentation fault when it reaches
    unmapped memory. The repeat is evaluated only when every join test before it held, the first included,
    so it holds too, and the verdicts are the same."""
    if set(condition) != {"$and"}:
        return condition
    joins = [atom for atom in condition["$and"] if _is_join(atom)]
    return {"$and": [*condition["$and"], joins[0]]} if joins else condition


def _ref(alias: str, name: str) -> Cond:
    return {alias: name}


def _cmp(op: str, name: str, value: Any) -> Cond:
    """`name OP value`, value a literal or a reference {alias: field} or an arithmetic expression."""
    if op == "eq":
        return {name: value}
    return {_OPS[op] if not op.startswith("$") else op: {name: value}}


def _plus(alias: str, name: str, other: Any) -> Cond:
    """alias.name + other (other: a literal or a reference)."""
    return {"$add": {"$l": {alias: name}, "$r": other}}


def _minus(alias: str, name: str, other: Any) -> Cond:
    return {"$sub": {"$l": {alias: name}, "$r": other}}


# ---- evidence conditions as disjunctive normal form ------------------------------------------------

@dataclass(frozen=True)
class Atom:
    """One test of an evidence fact: on its own fields, against a term, on its source, or on its actor."""

    kind: str  # "field", "term", "source", "party"
    name: str = ""
    op: str = ""
    value: Any = None


def _value_field(name: str) -> str:
    return {"low": "lo", "high": "hi"}.get(name, name)


def read_slots(body: RuleBody) -> dict[str, str]:
    """Each read's name in facts and rules: its position (`r0`, `r1`, ...), so that rules that differ only in the
    kinds they read (three caps) share one ruleset."""
    return {read.label: f"r{index}" for index, read in enumerate(body.reads)}


def dnf(condition: Condition, terms: set[str], slots: dict[str, str] | None = None) -> list[list[Atom]]:
    """A condition as alternatives, each a list of atoms that must all hold."""
    slots = slots or {}
    atoms: list[Atom] = []
    if condition.read is not None:
        atoms.append(Atom("field", "read", "eq", slots.get(condition.read, condition.read)))
    if condition.claim is not None:
        atoms.append(Atom("field", "claim", "eq", condition.claim))
    if condition.count is not None:
        atoms.append(Atom("field", "lo", "$ex" if condition.count == "present" else "$nex"))
    if condition.actor == "party":
        atoms.append(Atom("party"))
    for name, comparison in (("low", condition.low), ("high", condition.high)):
        if comparison is not None:
            for op, operand in comparison.items():
                kind = "term" if isinstance(operand, str) else "field"
                atoms.append(Atom(kind, _value_field(name), op, operand))
    for name, comparison in condition.attributes.items():
        for op, operand in comparison.items():
            kind = "term" if isinstance(operand, str) and operand in terms else "field"
            atoms.append(Atom(kind, f"a_{name}", op, operand))
    alternatives: list[list[Atom]] = [atoms]
    if condition.source == "not-bearer-side":
        alternatives = [a + [Atom("source", "independent")] for a in alternatives] + \
                       [a + [Atom("source", "other-side")] for a in alternatives]
    elif condition.source is not None:
        alternatives = [a + [Atom("source", condition.source)] for a in alternatives]
    for inner in condition.all:
        inner_dnf = dnf(inner, terms, slots)
        alternatives = [a + b for a in alternatives for b in inner_dnf]
    if condition.any:
        options = [alt for inner in condition.any for alt in dnf(inner, terms, slots)]
        alternatives = [a + b for a in alternatives for b in options]
    return alternatives


def _evidence_rule(conjunct: list[Atom]) -> list[tuple[str, Cond]]:
    """The patterns of one evidence disjunct: the evidence fact `e`, its window, and the joins it needs."""
    own: list[Cond] = [{"t": "ev"}]
    term_tests: list[Cond] = []
    patterns: list[tuple[str, Cond]] = []
    for atom in conjunct:
        if atom.kind == "field":
            if atom.op in ("$ex", "$nex"):
                own.append({atom.op: {atom.name: 1}})
            else:
                own.append(_cmp(atom.op, atom.name, atom.value))
        elif atom.kind == "term":
            # `e.lo > limit` is `epoch.limit < e.lo`: the comparison sits on the epoch pattern, mirrored; a join
            # that reads a property the fact lacks is an engine error (code 311), not a failed match: require it
            own.append({"$ex": {atom.name: 1}})
            name = f"tm_{atom.value}"
            if atom.op == "eq":
                term_tests.append({name: _ref("e", atom.name)})
            else:
                term_tests.append({_MIRROR[atom.op]: {name: _ref("e", atom.name)}})
    patterns.append(("e", _and(*own)))
    patterns.append(("w", _and({"t": "window"}, {"ob": _ref("e", "ob")}, {"unit": _ref("e", "unit")},
                               {"read": _ref("e", "read")}, {"$lte": {"start": _ref("e", "e0")}})))
    if term_tests:
        patterns.append(("x", _and({"t": "epoch"}, {"ob": _ref("e", "ob")}, {"$lte": {"from": _ref("e", "to")}},
                                   {"$gte": {"to": _ref("e", "from")}}, *term_tests)))
    for atom in conjunct:
        if atom.kind == "source":
            if atom.name == "independent":
                patterns[0] = ("e", _and(patterns[0][1], {"sp": "independent"}))
            elif atom.name == "bearer-side":
                patterns.append(("sd", _and({"t": "side"}, {"code": _ref("e", "sp")})))
                patterns.append(("u", _and({"t": "uside"}, {"ob": _ref("e", "ob")}, {"unit": _ref("e", "unit")},
                                           {"side": _ref("sd", "side")})))
            elif atom.name == "other-side":
                patterns[0] = ("e", _and(patterns[0][1], {"$neq": {"sp": "independent"}}))
                patterns.append(("sd", _and({"t": "side"}, {"code": _ref("e", "sp")})))
                patterns.append(("u$not", _and({"t": "uside"}, {"ob": _ref("e", "ob")}, {"unit": _ref("e", "unit")},
                                               {"side": _ref("sd", "side")})))
        elif atom.kind == "party":
            patterns.append(("p", _and({"t": "party"}, {"code": _ref("e", "actor")})))
    return patterns


# ---- group predicates -------------------------------------------------------------------------------

def _group_patterns(condition: GroupCondition) -> list[list[tuple[str, Cond]]]:
    """The alternatives of a group condition, each a list of patterns joined to the group fact `g`."""
    if condition.any:
        return [patterns for conjunct in condition.conjuncts() for patterns in _group_patterns(conjunct)]
    alternatives: list[list[tuple[str, Cond]]] = [[]]
    for index, predicate in enumerate(condition.predicates):
        m, s, u = f"m{index}", f"sd{index}", f"u{index}"
        member = _and({"t": "member"}, {"group": _ref("g", "group")})
        if predicate == "independent":
            extra = [[(m, _and(member, {"sp": "independent"}))]]
        elif predicate == "bearer-side":
            extra = [[(m, member), (s, _and({"t": "side"}, {"code": _ref(m, "sp")})),
                      (u, _and({"t": "uside"}, {"ob": _ref("g", "ob")}, {"unit": _ref("g", "unit")},
                               {"side": _ref(s, "side")}))]]
        elif predicate == "other-side":
            extra = [[(m, _and(member, {"$neq": {"sp": "independent"}})),
                      (s, _and({"t": "side"}, {"code": _ref(m, "sp")})),
                      (f"{u}$not", _and({"t": "uside"}, {"ob": _ref("g", "ob")}, {"unit": _ref("g", "unit")},
                                        {"side": _ref(s, "side")}))]]
        else:  # two-sides
            m2, s2 = f"n{index}", f"r{index}"
            extra = [[(m, member), (s, _and({"t": "side"}, {"code": _ref(m, "sp")})), (m2, member),
                      (s2, _and({"t": "side"}, {"code": _ref(m2, "sp")}, {"$neq": {"side": _ref(s, "side")}}))]]
        alternatives = [a + b for a in alternatives for b in extra]
    if condition.contradicted is not None:
        role, side = condition.contradicted.role, condition.contradicted.side
        near = [("sp", _and({"t": "span"}, {"group": _ref("g", "group")})),
                ("k", _and({"t": "counter"}, {"ob": _ref("g", "ob")}, {"unit": _ref("g", "unit")}, {"role": role},
                           {"$lte": {"start": _plus("sp", "end", _ref("g", "window"))}},
                           {"$gte": {"end": _minus("sp", "start", _ref("g", "window"))}}))]
        if side == "any":
            extra = [near]
        else:
            independent = [near[0], ("k", _and(near[1][1], {"sp": "independent"}))]
            other = [*near, ("sk", _and({"t": "side"}, {"code": _ref("k", "sp")})),
                     ("gs$not", _and({"t": "gside"}, {"group": _ref("g", "group")}, {"side": _ref("sk", "side")}))]
            extra = [independent, other]
        alternatives = [a + b for a in alternatives for b in extra]
    return alternatives


# ---- deadlines and verdicts ---------------------------------------------------------------------------

def _deadline_rules(name: str, spec: DeadlineSpec) -> dict[str, tuple[list[tuple[str, Cond]], str]]:
    """Rules giving one deadline's outcome (in-time, late, early, overdue, pending)."""
    due = ("d", _and({"t": "due"}, {"name": name}, {"$ex": {"last": 1}}))
    undated = ("d", _and({"t": "due"}, {"name": name}, {"undated": 1}))
    event = lambda extra: ("v", _and({"t": "eventf"}, {"ob": _ref("d", "ob")}, {"unit": _ref("d", "unit")},  # noqa: E731
                                     {"name": _ref("d", "event")}, *extra))
    none = ("v$not", _and({"t": "eventf"}, {"ob": _ref("d", "ob")}, {"unit": _ref("d", "unit")},
                          {"name": _ref("d", "event")}))
    rules = {
        "overdue": ([due, ("a", _and({"t": "asof"}, {"$gt": {"day": _ref("d", "last")}})), none], "overdue"),
        "pending": ([due, ("a", _and({"t": "asof"}, {"$lte": {"day": _ref("d", "last")}})), none], "pending"),
        "undated": ([undated], "pending"),
        "late": ([due, event([{"$gt": {"day": _ref("d", "last")}}])], "late"),
    }
    if spec.exact:
        rules["in-time"] = ([due, event([{"day": _ref("d", "last")}])], "in-time")
        rules["early"] = ([due, event([{"$lt": {"day": _ref("d", "last")}}])], "early")
    else:
        rules["in-time"] = ([due, event([{"$lte": {"day": _ref("d", "last")}}])], "in-time")
    return rules


def _verdict_patterns(condition: VerdictCondition) -> list[list[tuple[str, Cond]]]:
    """The alternatives of a verdict condition, each a list of patterns joined to the decision fact `d`."""
    result = []
    for conjunct in condition.conjuncts():
        patterns: list[tuple[str, Cond]] = []
        alternatives: list[list[tuple[str, Cond]]] = [[]]
        unit = [{"ob": _ref("d", "ob")}, {"unit": _ref("d", "unit")}]
        counter = itertools.count()
        if conjunct.matters is not None:
            patterns.append((f"q{next(counter)}", _and({"t": "gstat"}, *unit, {"table": "matters"},
                                                      {"status": conjunct.matters})))
        for name, state in conjunct.event.items():
            alias = f"q{next(counter)}"
            base = _and({"t": "eventf"}, *unit, {"name": name})
            if state == "absent":
                patterns.append((f"{alias}$not", base))
            elif state == "happened":
                patterns.append((alias, base))
            else:
                patterns.append((alias, _and(base, {"status": state})))
        for name, outcome in conjunct.deadline.items():
            patterns.append((f"q{next(counter)}", _and({"t": "dlo"}, *unit, {"name": name}, {"outcome": outcome})))
        if conjunct.evidence is not None:
            patterns.append((f"q{next(counter)}", _and({"t": "has"}, *unit, {"role": conjunct.evidence})))
        if conjunct.no_evidence is not None:
            patterns.append((f"q{next(counter)}$not", _and({"t": "has"}, *unit, {"role": conjunct.no_evidence})))
        if conjunct.periods == "ended":
            n = f"q{next(counter)}"
            patterns.append((n, _and({"t": "noticed"}, *unit)))
            patterns.append((f"q{next(counter)}", _and({"t": "asof"}, {"$gte": {"day": _ref(n, "end")}})))
        if conjunct.together is not None:
            a, b, within = conjunct.together
            within = _ref("d", f"tm_{within}") if isinstance(within, str) else within
            x, y = f"q{next(counter)}", f"q{next(counter)}"
            patterns.append((x, _and({"t": "eventf"}, *unit, {"name": a})))
            patterns.append((y, _and({"t": "eventf"}, *unit, {"name": b},
                                     {"$lte": {"day": _plus(x, "day", within)}},
                                     {"$gte": {"day": _minus(x, "day", within)}})))
        if conjunct.apart is not None:
            a, b, within = conjunct.apart
            within = _ref("d", f"tm_{within}") if isinstance(within, str) else within
            x, y = f"q{next(counter)}", f"q{next(counter)}"
            first = (x, _and({"t": "eventf"}, *unit, {"name": a}))
            alternatives = [[first, (y, _and({"t": "eventf"}, *unit, {"name": b},
                                             {"$gt": {"day": _plus(x, "day", within)}}))],
                            [first, (y, _and({"t": "eventf"}, *unit, {"name": b},
                                             {"$lt": {"day": _minus(x, "day", within)}}))]]
        result += [patterns + extra for extra in alternatives]
    return result


# ---- compiling a rule body --------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleInfo:
    """What a compiled rule decides: its stage, and what its firing means."""

    stage: str
    kind: str          # "role", "uside", "mside", "notice", "grade", "pick", "deadline", "verdict"
    value: Any = None  # the role, status, outcome or verdict it gives
    rank: int = 0      # precedence among candidates (lower wins)
    table: str = ""    # the grade table (matters, event:NAME) or the deadline name


_RESERVED_ALIASES = frozenset({"s", "m"})


@dataclass
class CompiledRules:
    """A rule body's durable-rules rules: conditions by rule name, and what each means."""

    conditions: dict[str, list[tuple[str, Cond]]] = field(default_factory=dict)
    info: dict[str, RuleInfo] = field(default_factory=dict)

    def add(self, name: str, patterns: list[tuple[str, Cond]], info: RuleInfo) -> None:
        for alias, _ in patterns:
            if alias.removesuffix("$not") in _RESERVED_ALIASES:  # `s` is the session state: a rule naming it never fires
                raise EngineError(f"rule {name!r} uses the reserved alias {alias!r}")  # pragma: no cover
        if name in self.conditions:
            raise EngineError(f"two rules named {name!r}")  # pragma: no cover - names are made unique below
        self.conditions[name] = [(alias, guard_join_end(condition)) for alias, condition in patterns]
        self.info[name] = info


def compile_body(body: RuleBody, terms: Iterable[str]) -> CompiledRules:
    """Every rule of one rule body. `terms`: the term names the obligations using it give (attribute
    comparisons with a string name a term when one of them has it)."""
    terms = set(terms)
    rules = CompiledRules()
    rules.add("uside", [("b", {"t": "bearer"}), ("sd", _and({"t": "side"}, {"code": _ref("b", "code")}))],
              RuleInfo("context", "uside"))
    slots = read_slots(body)
    for role, condition in body.evidence.items():
        for index, conjunct in enumerate(dnf(condition, terms, slots)):
            rules.add(f"role|{role}|{index}", _evidence_rule(conjunct), RuleInfo("evidence", "role", role))
    window = lambda test: ("w", _and({"t": "window"}, {"ob": _ref("e", "ob")}, {"unit": _ref("e", "unit")},  # noqa: E731
                                     {"read": _ref("e", "read")}, test))
    rules.add("time|counted", [("e", {"t": "ev"}), window({"$lte": {"start": _ref("e", "e0")}})],
              RuleInfo("evidence", "role", "counted"))
    # one pattern holds both tests: durable-rules binds a fact to one alias of a rule only
    rules.add("time|straddles", [("e", {"t": "ev"}), window(_and({"$gt": {"start": _ref("e", "e0")}},
                                                                 {"$lte": {"start": _ref("e", "e1")}}))],
              RuleInfo("evidence", "role", "inconclusive"))
    rules.add("time|before", [("e", {"t": "ev"}), window({"$gt": {"start": _ref("e", "e1")}})],
              RuleInfo("evidence", "role", "before"))
    rules.add("mside", [("mb", {"t": "member"}), ("sd", _and({"t": "side"}, {"code": _ref("mb", "sp")}))],
              RuleInfo("groups", "mside"))
    if body.periods is not None:
        rules.add("notice", [("p", {"t": "period"}),
                             ("h", _and({"t": "has"}, {"ob": _ref("p", "ob")}, {"unit": _ref("p", "unit")},
                                        {"role": body.periods.notice}, {"$gt": {"from": _ref("p", "after")}},
                                        {"$lte": {"from": _ref("p", "by")}}))],
                  RuleInfo("groups", "notice"))
    tables: list[tuple[str, list]] = []
    if body.matters is not None:
        tables.append(("matters", body.matters.grade))
    tables += [(f"event:{name}", event.grade) for name, event in body.events.items()]
    for table, grades in tables:
        for rank, entry in enumerate(grades):
            for index, patterns in enumerate(_group_patterns(entry.when)):
                rules.add(f"grade|{table}|{rank}|{index}",
                          [("g", _and({"t": "group"}, {"table": table})), *patterns],
                          RuleInfo("grade", "grade", entry.status, rank, table))
    rules.add("pick", [("p", {"t": "pick"}), ("cd", _and({"t": "cand"}, {"target": _ref("p", "target")})),
                       ("o$not", _and({"t": "cand"}, {"target": _ref("p", "target")},
                                      {"$lt": {"rank": _ref("cd", "rank")}}))],
              RuleInfo("pick", "pick"))
    for name, spec in body.deadlines.items():
        for outcome_name, (patterns, outcome) in _deadline_rules(name, spec).items():
            rules.add(f"deadline|{name}|{outcome_name}", patterns, RuleInfo("deadline", "deadline", outcome, 0, name))
    decide = ("d", {"t": "decide"})
    asof = ("a", {"t": "asof"})
    rules.add("verdict|not-in-force|before", [decide, asof, ("i", _and({"t": "inforce"}, {"ob": _ref("d", "ob")},
                                                                       {"$gt": {"day": _ref("a", "day")}}))],
              RuleInfo("verdict", "verdict", "not-in-force", -2, "before"))
    rules.add("verdict|not-in-force|ended", [decide, asof, ("n", _and({"t": "ending"}, {"ob": _ref("d", "ob")},
                                                                      {"$lte": {"day": _ref("a", "day")}}))],
              RuleInfo("verdict", "verdict", "not-in-force", -1, "ended"))
    for rank, entry in enumerate(body.verdict):
        for index, patterns in enumerate(_verdict_patterns(entry.when)):
            rules.add(f"verdict|{rank}|{index}", [decide, *patterns], RuleInfo("verdict", "verdict", entry.verdict, rank))
    if len(rules.conditions) > 400:
        raise EngineError(f"a rule compiles to {len(rules.conditions)} engine rules; at most 400 "
                          "(split its conditions, or its obligation)")
    return rules


def body_key(body: RuleBody, terms: Iterable[str]) -> str:
    """What makes two obligations share a ruleset: the same rule (less its words) and term names."""
    data = body.model_dump(mode="json", exclude={"what", "describe", "template"})
    for entry in data["verdict"]:
        entry.pop("reason", None)
        entry.pop("cite", None)
    slots = read_slots(body)
    for read in data["reads"]:
        for key in ("subject", "supervised_by", "kind", "name", "actor"):
            read.pop(key, None)

    def by_position(condition: dict[str, Any]) -> None:  # `read: LABEL` in conditions, by position
        if condition.get("read") is not None:
            condition["read"] = slots[condition["read"]]
        for inner in [*condition.get("all", []), *condition.get("any", [])]:
            by_position(inner)
    for condition in data["evidence"].values():
        by_position(condition)
    return json.dumps({"rule": data, "terms": sorted(terms)}, sort_keys=True)


# ---- the engine ---------------------------------------------------------------------------------------

_names = itertools.count(1)
_sids = itertools.count(1)
_lock = threading.RLock()
_engines: dict[str, "RuleEngine"] = {}


class RuleEngine:
    """One compiled durable-rules ruleset (for one rule body), evaluated in isolated sessions."""

    def __init__(self, rules: CompiledRules):
        from durable import engine as durable_engine  # heavy C extension: imported only when a check runs
        import durable_rules_engine

        class _SynchronousHost(durable_engine.Host):
            def _run(self) -> None:  # no background dispatch thread: actions run on the calling thread
                pass

        self._native = durable_rules_engine
        self.rules = rules
        self._fired: dict[str, list[tuple[str, dict[str, int]]]] = {}
        self._errors: dict[str, list[BaseException]] = defaultdict(list)
        self.name = f"compliance-{next(_names)}"
        definition = {}
        for rule_name, patterns in rules.conditions.items():
            aliases = [alias for alias, _ in patterns if not alias.endswith("$not")]
            definition[rule_name] = {"all": [{alias: condition} for alias, condition in patterns],
                                     "run": self._action(rule_name, aliases)}
        self._host = _SynchronousHost()
        self._host.register_rulesets({self.name: definition})
        self._ruleset = self._host.get_ruleset(self.name)
        self._not_handled = durable_engine.MessageNotHandledException
        self._observed = durable_engine.MessageObservedException

    @classmethod
    def for_body(cls, body: RuleBody, terms: Iterable[str]) -> "RuleEngine":
        """The cached engine for a rule body (rulesets live in a process-wide registry)."""
        terms = sorted(terms)
        key = body_key(body, terms)
        with _lock:
            if key not in _engines:
                _engines[key] = cls(compile_body(body, terms))
            return _engines[key]

    def _action(self, rule_name: str, aliases: list[str]) -> Callable[[Any], None]:
        def action(c: Any) -> None:
            sid = None
            try:
                bound = {alias: int(getattr(c, alias)["id"]) for alias in aliases}
                sid = str(getattr(c, aliases[0])["sid"])
                self._fired[sid].append((rule_name, bound))
            except BaseException as error:  # durable-rules would swallow it: keep it and re-raise later
                self._errors[sid or "?"].append(error)
        return action

    def _drain(self, sid: str) -> None:
        def complete(error: Any, _state: Any) -> None:
            if error:
                self._errors[sid].append(error if isinstance(error, BaseException) else EngineError(str(error)))
        while True:
            result = self._native.start_action(self._ruleset._handle)
            if not result:
                return
            self._ruleset._flush_actions(json.loads(result[0]), {"message": json.loads(result[1])}, result[2], complete)

    def session(self) -> "Session":
        """Open a session; use it as a context manager and call `assert_facts` stage by stage."""
        return Session(self)


class Session:
    """One durable-rules session (sid): facts asserted stage by stage; the rules each batch fired read back."""

    def __init__(self, engine: RuleEngine):
        self.engine = engine
        self.sid = str(next(_sids))
        self._next_id = itertools.count(1)
        self.facts: dict[int, dict[str, Any]] = {}

    def __enter__(self) -> "Session":
        _lock.acquire()
        self.engine._fired[self.sid] = []
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            try:
                self.engine._host.delete_state(self.engine.name, self.sid)
            except Exception:
                pass
            self.engine._fired.pop(self.sid, None)
            self.engine._errors.pop(self.sid, None)
        finally:
            _lock.release()

    def assert_facts(self, facts: list[dict[str, Any]]) -> list[tuple[str, RuleInfo, dict[str, dict[str, Any]]]]:
        """Assert facts (each gets its id); return every rule that fired, with what it means and its facts."""
        engine = self.engine
        if facts:
            payload = []
            for fact in facts:
                fact_id = next(self._next_id)
                fact["id"] = fact_id
                self.facts[fact_id] = fact
                payload.append({**fact, "sid": self.sid})
            try:
                engine._host.assert_facts(engine.name, payload)
            except (engine._not_handled, engine._observed):
                pass  # a context fact that no rule matches alone is expected; outcomes are checked by the caller
        engine._drain(self.sid)
        errors = engine._errors.pop(self.sid, [])
        if errors:
            raise EngineError(f"a rule action failed: {errors[0]!r}")
        fired = engine._fired[self.sid]
        engine._fired[self.sid] = []
        return [(name, engine.rules.info[name], {alias: self.facts[i] for alias, i in bound.items()})
                for name, bound in fired]
