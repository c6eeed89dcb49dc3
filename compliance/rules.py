"""Rules compiled from a clause file and evaluated on durable-rules, exactly and synchronously.

Each obligation's rule shape (cap, prohibition, deadline, ...) compiles to a handful of durable-rules
rules whose conditions name the obligation; terms that change with the as-of date or a what-if (a
limit, a deadline) travel on the facts, so one compiled ruleset serves every check of the agreement.

durable-rules pitfalls handled here (see ../shared/notes/durable-rules.md):
- facts, not events: a fact fires every rule it matches (a bearer-side count within a cap is both
  compliance evidence and a contradiction);
- no background dispatch thread: the host's timer loop is disabled and queued actions are drained on
  the calling thread, so results are complete when `assert_facts` returns;
- every fact carries a unique small decimal `id` within its session; one session per evaluation,
  deleted afterwards;
- action errors are caught, kept, and re-raised after the call; and every fact is checked to have
  produced at least one outcome, so a dropped action is an error, never a silent wrong verdict.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import defaultdict
from typing import Any, Callable

from .agreement import Agreement, Obligation
from .errors import EngineError

Condition = dict[str, Any]


def _eq(field: str, value: Any) -> Condition:
    return {field: value}


def _cmp(op: str, field: str, other: Any) -> Condition:
    """A comparison of a fact field with a constant, or with another field of the same fact (`"$field"`)."""
    right = {"$m": other[1:]} if isinstance(other, str) and other.startswith("$") else other
    return {op: {field: right}}


def _and(*conditions: Condition) -> Condition:
    """A conjunction; nested conjunctions are flattened (durable-rules 2.0.28 crashes on some nested $and)."""
    flat: list[Condition] = []
    for condition in conditions:
        flat.extend(condition["$and"] if set(condition) == {"$and"} else [condition])
    return {"$and": flat}


def _or(*conditions: Condition) -> Condition:
    return {"$or": list(conditions)}


def _classification_rules(ob: Obligation) -> dict[str, Condition]:
    """Stage 1: classify evidence signatures (distinct combinations of claim, source relation and count)."""
    o = _eq("ob", ob.id)
    affirms, denies = _eq("claim", "affirms"), _eq("claim", "denies")
    bearer_side = _eq("rel", "bearer")
    not_bearer_side = _cmp("$neq", "rel", "bearer")
    shape = ob.rule.shape
    if shape == "cap":
        count = _eq("t", "count")
        return {
            "breach": _and(count, o, affirms, _cmp("$gt", "lo", "$limit")),
            "compliance": _and(count, o, affirms, _cmp("$lte", "hi", "$limit")),
            "inconclusive": _and(count, o, affirms, _cmp("$lte", "lo", "$limit"), _cmp("$gt", "hi", "$limit")),
            "contradiction": _and(count, o, bearer_side, _or(denies, _and(affirms, _cmp("$lte", "hi", "$limit")))),
            "noted": _and(count, o, denies, not_bearer_side),
        }
    if shape in ("prohibition", "linked-series"):
        act = _eq("t", "act")
        rules = {
            "breach": _and(act, o, affirms),
            "contradiction": _and(act, o, denies, bearer_side),
            "noted": _and(act, o, denies, not_bearer_side),
        }
        if shape == "linked-series":
            trigger = _eq("t", "trigger")
            rules["trigger"] = _and(trigger, o, affirms)
            rules["trigger-noted"] = _and(trigger, o, denies)
        return rules
    if shape in ("deadline", "establishment"):
        report = _eq("t", "report")
        return {"fulfilment": _and(report, o, affirms), "denial": _and(report, o, denies)}
    if shape == "term-renewal":
        notice = _eq("t", "notice")
        return {"notice": _and(notice, o, affirms, _eq("party", 1)),
                "noted": _and(notice, o, _or(denies, _eq("party", 0)))}
    raise EngineError(f"no rules for shape {shape!r}")  # pragma: no cover - the clause model forbids it


def _matter_rules(ob: Obligation) -> dict[str, Condition]:
    """Stage 2: grade a matter of breach evidence by corroboration and contradiction."""
    if ob.rule.shape not in ("cap", "prohibition", "linked-series"):
        return {}
    m = _and(_eq("t", "matter"), _eq("ob", ob.id))
    uncorroborated = _and(_eq("independent", 0), _eq("admission", 0), _cmp("$lt", "sides", 2))
    return {
        "corroborated": _and(m, _or(_eq("independent", 1), _eq("admission", 1), _cmp("$gte", "sides", 2))),
        "disputed": _and(m, uncorroborated, _eq("contradicted", 1)),
        "alleged": _and(m, uncorroborated, _eq("contradicted", 0)),
    }


def _verdict_rules(ob: Obligation) -> dict[str, Condition]:
    """Stage 3: the obligation's verdict for one bearer from its summary fact."""
    g = _and(_eq("t", "grade"), _eq("ob", ob.id))
    off, on = _eq("in_force", 0), _eq("in_force", 1)
    shape = ob.rule.shape
    if shape in ("cap", "prohibition", "linked-series"):
        graded = _and(g, on, _eq("pending", 0))
        no_matter = _and(_eq("corroborated", 0), _eq("alleged", 0), _eq("disputed", 0))
        rules = {
            "not-in-force": _and(g, off),
            "violated": _and(graded, _cmp("$gt", "corroborated", 0)),
            "alleged": _and(graded, _eq("corroborated", 0), _cmp("$gt", "alleged", 0)),
            "disputed": _and(graded, _eq("corroborated", 0), _eq("alleged", 0), _cmp("$gt", "disputed", 0)),
        }
        if shape == "linked-series":
            rules["pending"] = _and(g, on, _eq("pending", 1))
        if shape == "cap":
            rules["unknown"] = _and(graded, no_matter, _eq("compliance", 0))
            rules["compliant"] = _and(graded, no_matter, _cmp("$gt", "compliance", 0))
        else:
            rules["compliant"] = _and(graded, no_matter)
        return rules
    if shape == "deadline":
        inclusive = ob.terms["deadline"].inclusive is not False
        in_time, late = ("$lte", "$gt") if inclusive else ("$lt", "$gte")
        met, unmet = _and(g, on, _eq("fulfilled", 1)), _and(g, on, _eq("fulfilled", 0))
        return {
            "not-in-force": _and(g, off),
            "disputed": _and(met, _eq("disputed", 1)),
            "compliant": _and(met, _eq("disputed", 0), _cmp(in_time, "fulfilled_on", "$deadline")),
            "violated": _and(met, _eq("disputed", 0), _cmp(late, "fulfilled_on", "$deadline")),
            "overdue": _and(unmet, _cmp(late, "as_of", "$deadline")),
            "pending": _and(unmet, _cmp(in_time, "as_of", "$deadline")),
        }
    if shape == "establishment":
        return {
            "not-in-force": _and(g, off),
            "pending": _and(g, on, _eq("observed", 0)),
            "compliant": _and(g, on, _eq("observed", 1), _eq("disputed", 0)),
            "disputed": _and(g, on, _eq("observed", 1), _eq("disputed", 1)),
        }
    if shape == "term-renewal":
        return {"not-in-force": _and(g, off), "compliant": _and(g, on)}
    raise EngineError(f"no rules for shape {shape!r}")  # pragma: no cover


def compile_rules(agreement: Agreement) -> dict[str, Condition]:
    """Every rule of the agreement, named `<obligation>|<stage>|<outcome>`, as durable-rules conditions."""
    compiled: dict[str, Condition] = {}
    for ob in agreement.obligations:
        for stage, rules in (("evidence", _classification_rules), ("matter", _matter_rules), ("verdict", _verdict_rules)):
            for outcome, condition in rules(ob).items():
                compiled[f"{ob.id}|{stage}|{outcome}"] = condition
    return compiled


_names = itertools.count(1)
_sids = itertools.count(1)
_lock = threading.RLock()
_engines: dict[str, "RuleEngine"] = {}


class RuleEngine:
    """One compiled durable-rules ruleset for an agreement, evaluated in isolated sessions."""

    def __init__(self, agreement: Agreement):
        from durable import engine as durable_engine  # heavy C extension: imported only when a check runs
        import durable_rules_engine

        class _SynchronousHost(durable_engine.Host):
            def _run(self) -> None:  # no background dispatch thread: actions run on the calling thread
                pass

        self._native = durable_rules_engine
        self._outcomes: dict[str, dict[int, list[str]]] = {}
        self._errors: dict[str, list[BaseException]] = defaultdict(list)
        self.rules = compile_rules(agreement)
        self.name = f"compliance-{agreement.id}-{next(_names)}"
        definition = {name: {"all": [{"m": condition}], "run": self._action(name)} for name, condition in self.rules.items()}
        self._host = _SynchronousHost()
        self._host.register_rulesets({self.name: definition})
        self._ruleset = self._host.get_ruleset(self.name)
        self._not_handled = durable_engine.MessageNotHandledException
        self._observed = durable_engine.MessageObservedException

    @classmethod
    def for_agreement(cls, agreement: Agreement) -> "RuleEngine":
        """The cached engine for this agreement (rulesets live in a process-wide registry)."""
        key = json.dumps(compile_rules(agreement), sort_keys=True) + agreement.id
        with _lock:
            if key not in _engines:
                _engines[key] = cls(agreement)
            return _engines[key]

    def _action(self, rule_name: str) -> Callable[[Any], None]:
        def action(c: Any) -> None:
            sid = None
            try:
                sid = str(c.m["sid"])
                self._outcomes[sid][int(c.m["id"])].append(rule_name.rsplit("|", 1)[1])
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
        """Open a session; use it as a context manager and call `assert_facts` once per stage."""
        return Session(self)


class Session:
    """One durable-rules session (sid): facts asserted stage by stage, outcomes read back per fact."""

    def __init__(self, engine: RuleEngine):
        self.engine = engine
        self.sid = str(next(_sids))
        self._next_id = itertools.count(1)

    def __enter__(self) -> "Session":
        _lock.acquire()
        self.engine._outcomes[self.sid] = defaultdict(list)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            try:
                self.engine._host.delete_state(self.engine.name, self.sid)
            except Exception:
                pass
            self.engine._outcomes.pop(self.sid, None)
            self.engine._errors.pop(self.sid, None)
        finally:
            _lock.release()

    def assert_facts(self, facts: list[dict[str, Any]]) -> list[list[str]]:
        """Assert facts; return, for each fact in order, the outcomes of every rule it fired."""
        if not facts:
            return []
        engine = self.engine
        ids = []
        payload = []
        for fact in facts:
            fact_id = next(self._next_id)
            ids.append(fact_id)
            payload.append({**fact, "sid": self.sid, "id": fact_id})
        try:
            engine._host.assert_facts(engine.name, payload)
        except (engine._not_handled, engine._observed):
            pass  # reported per fact below: a fact that matched no rule has no outcome
        engine._drain(self.sid)
        errors = engine._errors.pop(self.sid, [])
        if errors:
            raise EngineError(f"a rule action failed: {errors[0]!r}")
        outcomes = engine._outcomes[self.sid]
        result = []
        for fact_id, fact in zip(ids, facts):
            fired = outcomes.pop(fact_id, None)
            if not fired:
                raise EngineError(f"fact {fact_id} produced no outcome (no rule matched, or an action was lost): "
                                  f"{json.dumps(fact, sort_keys=True)}")
            result.append(sorted(fired))
        return result
