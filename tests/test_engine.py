"""The rules engine: the clause language compiled to durable-rules; decisions are rules that join facts;
exact and synchronous."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from compliance import evaluate as evaluate_module
from compliance.check import check
from compliance.clauses import load_agreement
from compliance.errors import EngineError
from compliance.rules import CompiledRules, RuleEngine, RuleInfo, compile_body

from conftest import build_store

FIXTURES = Path(__file__).parent / "fixtures"
DAY = dt.date(2021, 9, 10).toordinal()


def _cap_engine(agreement) -> RuleEngine:
    ob = agreement.obligation_or_none("P3-personnel-cap")
    return RuleEngine.for_body(ob.rule, ob.terms)


def _context(ob: str = "P3-personnel-cap", unit: str = "RU") -> list[dict]:
    return [{"t": "side", "code": "RU", "side": "RU"}, {"t": "side", "code": "AZ", "side": "AZ"},
            {"t": "side", "code": "TR", "side": "AZ"}, {"t": "bearer", "ob": ob, "unit": unit, "code": "RU"},
            {"t": "window", "ob": ob, "unit": unit, "read": "contingent.personnel", "start": 0},
            {"t": "epoch", "ob": ob, "from": 1, "to": DAY - 1, "tm_limit": 1960},
            {"t": "epoch", "ob": ob, "from": DAY, "to": 3_000_000, "tm_limit": 2500}]


def _count(day: int, lo: int, hi: int, sp: str = "AZ", claim: str = "affirms") -> dict:
    return {"t": "ev", "ob": "P3-personnel-cap", "unit": "RU", "read": "contingent.personnel", "kind": "contingent.personnel",
            "actor": "RU", "sp": sp, "claim": claim, "lo": lo, "hi": hi, "from": day, "to": day,
            "e0": 27_000_000, "e1": 27_000_000, "n": 1}


def _roles(fired) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for name, info, bound in fired:
        if info.kind == "role":
            found.setdefault(bound["e"]["id"], set()).add(info.value)
    return found


def _session_with_sides(session, ob: str = "P3-personnel-cap", unit: str = "RU") -> None:
    fired = session.assert_facts(_context(ob, unit))
    sides = [{"t": "uside", "ob": b["ob"], "unit": b["unit"], "side": s["side"]}
             for name, info, bound in fired if info.kind == "uside" for b, s in [(bound["b"], bound["sd"])]]
    assert sides == [{"t": "uside", "ob": ob, "unit": unit, "side": "RU"}]
    session.assert_facts(sides)


def test_obligations_with_the_same_rule_share_one_ruleset(agreement):
    engines = {ob.id: RuleEngine.for_body(ob.rule, ob.terms) for ob in agreement.obligations}
    assert engines["P3-personnel-cap"] is engines["P3-apc-cap"] is engines["P3-vehicle-cap"]
    assert engines["P1-ceasefire-AM"] is engines["P1-ceasefire-AZ"] is engines["P9-transport-links"]
    assert engines["P2-aghdam-return"] is engines["P6-kalbajar-return"] is engines["P6-new-route-plan"]
    assert engines["P3-personnel-cap"] is not engines["P1-ceasefire-AM"]
    rules = engines["P3-personnel-cap"].rules
    assert {"role|breach|0", "role|compliance|0", "grade|matters|0|0", "verdict|0|0", "pick"} <= set(rules.conditions)
    assert len(rules.conditions) < 400  # far below the size at which durable-rules' compiler hangs


def test_a_count_is_judged_by_joining_the_cap_of_its_own_date(agreement):
    # the same count, on either side of the day the cap was raised: the epoch fact decides, not the count fact
    with _cap_engine(agreement).session() as session:
        _session_with_sides(session)
        before, after = _count(DAY - 1, 2450, 2450), _count(DAY, 2450, 2450)
        roles = _roles(session.assert_facts([before, after]))
    assert roles[before["id"]] == {"breach", "counted"}
    assert roles[after["id"]] == {"compliance", "counted"}


def test_a_span_is_judged_against_every_cap_in_force_during_it(agreement):
    with _cap_engine(agreement).session() as session:
        _session_with_sides(session)
        span = {**_count(DAY - 3, 2000, 2000), "to": DAY + 3}
        roles = _roles(session.assert_facts([span]))
    assert roles[span["id"]] == {"breach", "compliance", "counted"}


def test_the_source_relation_is_a_join_with_the_sides(agreement):
    # a count within the cap contradicts an allegation only from the bearer's side: decided by the side facts
    with _cap_engine(agreement).session() as session:
        _session_with_sides(session)
        own, other = _count(DAY, 1960, 1960, sp="RU"), _count(DAY, 1960, 1960, sp="TR")
        roles = _roles(session.assert_facts([own, other]))
    assert roles[own["id"]] == {"compliance", "contradiction", "counted"}
    assert roles[other["id"]] == {"compliance", "counted"}


def test_every_action_has_run_when_assert_facts_returns(agreement):
    rng = random.Random(7)
    facts = []
    for _ in range(3000):
        lo = rng.randint(0, 4000)
        facts.append(_count(DAY - 100, lo, lo + rng.choice([0, 0, 300]), sp=rng.choice(["AZ", "independent"])))
    with _cap_engine(agreement).session() as session:
        _session_with_sides(session)
        roles = _roles(session.assert_facts(facts))
    expected = [{"breach"} if f["lo"] > 1960 else {"compliance"} if f["hi"] <= 1960 else {"inconclusive"} for f in facts]
    assert [roles[f["id"]] - {"counted"} for f in facts] == expected


def test_identical_facts_are_not_deduplicated(agreement):
    fact = _count(DAY, 3000, 3000)
    with _cap_engine(agreement).session() as session:
        _session_with_sides(session)
        copies = [fact, dict(fact), dict(fact)]
        roles = _roles(session.assert_facts(copies))
    assert [roles[f["id"]] for f in copies] == [{"breach", "counted"}] * 3


def test_precedence_is_decided_in_the_engine(agreement):
    with _cap_engine(agreement).session() as session:
        session.assert_facts([{"t": "cand", "target": "x", "rank": 2, "value": "alleged"},
                              {"t": "cand", "target": "x", "rank": 0, "value": "corroborated"},
                              {"t": "cand", "target": "x", "rank": 1, "value": "disputed"}])
        fired = session.assert_facts([{"t": "pick", "target": "x"}])
    assert [bound["cd"]["value"] for name, info, bound in fired if info.kind == "pick"] == ["corroborated"]


def test_an_error_inside_an_action_is_raised_not_swallowed(agreement):
    engine = _cap_engine(agreement)

    class Broken(list):
        def append(self, item):
            raise RuntimeError("action failed")

    with engine.session() as session:
        engine._fired[session.sid] = Broken()
        with pytest.raises(EngineError, match="action failed"):
            session.assert_facts(_context())


def test_evidence_without_an_outcome_is_an_error_not_a_silent_gap(agreement, monkeypatch):
    # an evidence fact no timing rule can place (its window was never asserted) must stop the check
    real = evaluate_module.Evaluation._evidence

    def without_windows(self, after):
        real_assert = self._assert
        self._assert = lambda stage: real_assert({k: [f for f in v if f.get("t") != "window"] for k, v in stage.items()})
        try:
            return real(self, after)
        finally:
            self._assert = real_assert

    monkeypatch.setattr(evaluate_module.Evaluation, "_evidence", without_windows)
    store = build_store(agreement, [{"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ",
                                     "source": "x", "source_party": "AM"}])
    with pytest.raises(EngineError, match="produced no outcome"):
        check(store, as_of=dt.date(2021, 7, 31))


def test_a_reserved_alias_is_refused_at_compile_time():
    # durable-rules reads the alias `s` as the session state: a rule naming a fact `s` silently never fires
    with pytest.raises(EngineError, match="reserved alias"):
        CompiledRules().add("x", [("s", {"t": "side"})], RuleInfo("context", "uside"))


def test_the_facts_the_engine_receives_carry_no_precomputed_outcome(agreement, monkeypatch):
    """Every fact holds observation fields, clause data or an earlier outcome of the engine; nothing names a
    relation to the bearer, a bucket against a limit or a corroboration already decided."""
    allowed = {
        "side": {"code", "side"}, "party": {"code"}, "bearer": {"ob", "unit", "code"}, "asof": {"day"},
        "inforce": {"ob", "day"}, "ending": {"ob", "day"}, "window": {"ob", "unit", "read", "start"},
        "epoch": {"ob", "from", "to"},
        "uside": {"ob", "unit", "side"},
        "ev": {"ob", "unit", "read", "kind", "actor", "sp", "claim", "subject", "sup", "lo", "hi", "from", "to", "e0",
               "e1", "n"},
        "member": {"group", "sp"}, "span": {"group", "start", "end"}, "gside": {"group", "side"},
        "counter": {"ob", "unit", "role", "sp", "start", "end"}, "has": {"ob", "unit", "role", "from"},
        "period": {"ob", "unit", "k", "after", "by", "start", "end"},
        "group": {"ob", "unit", "group", "table", "start", "end", "window"},
        "cand": {"target", "rank", "value"}, "pick": {"target"}, "eventf": {"ob", "unit", "name", "day", "status"},
        "noticed": {"ob", "unit", "k", "end"}, "due": {"ob", "unit", "name", "event", "last", "undated"},
        "gstat": {"ob", "unit", "table", "status"}, "dlo": {"ob", "unit", "name", "outcome"}, "decide": {"ob", "unit"},
    }
    seen: list[dict] = []
    real = evaluate_module.Evaluation._assert

    def spy(self, stage):
        for facts in stage.values():
            seen.extend(dict(f) for f in facts)
        return real(self, stage)

    monkeypatch.setattr(evaluate_module.Evaluation, "_assert", spy)
    from compliance.store import Store
    check(Store.sample(), as_of=dt.date(2023, 12, 31))
    assert seen
    for fact in seen:
        kind = fact.pop("t")
        fact.pop("id", None)
        keys = {k for k in fact if not k.startswith(("tm_", "a_"))}
        assert kind in allowed and keys <= allowed[kind], (kind, sorted(keys - allowed.get(kind, set())))


def test_sessions_are_isolated_and_repeatable(agreement):
    store = build_store(agreement, [{"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ",
                                     "source": "x", "source_party": "AM"}])
    empty = build_store(agreement, [])
    as_of = dt.date(2021, 7, 31)
    first = check(store, as_of=as_of)
    assert check(empty, as_of=as_of).verdict_of("P1-ceasefire-AZ").value == "compliant"
    assert check(store, as_of=as_of) == first
    assert first.verdict_of("P1-ceasefire-AZ").value == "alleged"


def test_many_sessions_do_not_exhaust_the_engine(agreement):
    engine = _cap_engine(agreement)
    for _ in range(1100):  # durable-rules allows 1,024 live sessions: each evaluation must delete its own
        with engine.session() as session:
            _session_with_sides(session)
            fact = _count(DAY, 3000, 3000)
            assert _roles(session.assert_facts([fact]))[fact["id"]] == {"breach", "counted"}


def test_a_second_agreement_needs_only_a_clause_file(tmp_path):
    other = load_agreement(str(FIXTURES / "example-ceasefire.yaml"))
    store = build_store(other, [
        {"kind": "shelling", "date": "2022-03-05", "actor": "NTH", "source": "South MoD", "source_party": "STH"},
        {"kind": "shelling", "date": "2022-03-06", "actor": "NTH", "source": "UN mission", "source_party": "independent"},
        {"kind": "heavy-weapons", "date": "2022-03-10", "actor": "STH", "value": 8, "source": "UN", "source_party": "independent"},
        {"kind": "withdrawal", "date": "2022-04-01", "actor": "STH", "source": "UN", "source_party": "independent"},
    ])
    result = check(store, as_of=dt.date(2022, 4, 30))
    assert [(o.id, o.bearer, o.verdict.value) for o in result.obligations] == [
        ("no-shelling-NTH", "NTH", "violated"),
        ("weapons-cap", "NTH", "unknown"),
        ("weapons-cap", "STH", "compliant"),
        ("withdrawal", "STH", "violated"),  # "before 1 April" is exclusive: on 1 April is late
    ]
    withdrawal = result.result_of("withdrawal")
    assert withdrawal.due == "2022-03-31" and "late by 1 day" in withdrawal.reason


ROOT = Path(__file__).parent.parent
EVERY_CLAUSE_FILE = [ROOT / "clauses" / name for name in ("nov-10-2020.yaml", "jan-11-2021.yaml", "nov-26-2021.yaml")] + [
    ROOT / "examples" / "clauses" / "minsk-feb-12-2015.yaml", FIXTURES / "withdrawal-ceasefire.yaml",
    FIXTURES / "example-ceasefire.yaml"]


@pytest.mark.parametrize("path", EVERY_CLAUSE_FILE, ids=lambda path: path.name)
def test_no_join_conjunction_can_fail_on_its_last_test(path):
    """durable-rules 2.0.28 reads past a join's tests when the last one fails (a rare segmentation fault, found
    with valgrind in test_simultaneous_acts): every conjunction with a join test ends by repeating its first."""
    guarded = 0
    for ob in load_agreement(str(path)).obligations:
        for patterns in compile_body(ob.rule, ob.terms).conditions.values():
            for _alias, condition in patterns:
                atoms = condition.get("$and", [])
                joins = [atom for atom in atoms if _compares_with_another_fact(atom)]
                if joins:
                    assert atoms[-1] == joins[0] and len(joins) >= 2, (ob.id, condition)
                    guarded += 1
    assert guarded > 0


def _compares_with_another_fact(atom: dict) -> bool:
    (key, value), = atom.items()
    if key.startswith("$"):
        (_, value), = value.items()
    return isinstance(value, dict)


def test_a_conjunction_whose_last_join_test_fails_still_does_not_match(agreement):
    """The repeated test changes nothing: the lowest-ranked candidate is picked and no other is. Candidates of
    rank 3 and 2 arrive after rank 1: each is then tested as the negated lower-ranked candidate of rank 1's pick,
    and the last real test of that conjunction (rank below 1) fails."""
    engine = RuleEngine.for_body(agreement.obligation_or_none("P3-personnel-cap").rule,
                                 agreement.obligation_or_none("P3-personnel-cap").terms)
    with engine.session() as session:
        session.assert_facts([{"t": "pick", "target": 7}])
        fired = session.assert_facts([{"t": "cand", "target": 7, "rank": rank, "value": f"r{rank}"} for rank in (1, 3, 2)])
    assert [bound["cd"]["value"] for name, info, bound in fired if info.kind == "pick"] == ["r1"]
