"""The rules engine: compiled from clause data, exact and synchronous on durable-rules."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from compliance.check import check
from compliance.clauses import load_agreement
from compliance.errors import EngineError
from compliance.rules import RuleEngine, compile_rules

from conftest import build_store

FIXTURES = Path(__file__).parent / "fixtures"


def test_rules_are_compiled_per_obligation_from_the_clause_file(agreement):
    rules = compile_rules(agreement)
    assert "P3-personnel-cap|evidence|breach" in rules
    assert "P6-kalbajar-return|verdict|violated" in rules
    assert {name.split("|")[0] for name in rules} == {ob.id for ob in agreement.obligations}


def test_a_fact_fires_every_rule_it_matches(agreement):
    engine = RuleEngine.for_agreement(agreement)
    with engine.session() as session:
        (outcome,) = session.assert_facts([{"t": "count", "ob": "P3-personnel-cap", "rel": "bearer",
                                            "claim": "affirms", "lo": 1960, "hi": 1960, "limit": 1960}])
    assert outcome == ["compliance", "contradiction"]


def test_every_action_has_run_when_assert_facts_returns(agreement):
    engine = RuleEngine.for_agreement(agreement)
    rng = random.Random(7)
    facts = []
    for _ in range(3000):
        lo = rng.randint(0, 4000)
        hi = lo + rng.choice([0, 0, 300])
        facts.append({"t": "count", "ob": "P3-personnel-cap", "rel": rng.choice(["other", "independent"]),
                      "claim": "affirms", "lo": lo, "hi": hi, "limit": 1960})
    with engine.session() as session:
        outcomes = session.assert_facts(facts)
    expected = [["breach"] if f["lo"] > 1960 else ["compliance"] if f["hi"] <= 1960 else ["inconclusive"] for f in facts]
    assert outcomes == expected


def test_identical_facts_are_not_deduplicated(agreement):
    engine = RuleEngine.for_agreement(agreement)
    fact = {"t": "act", "ob": "P1-ceasefire-AZ", "rel": "other", "claim": "affirms"}
    with engine.session() as session:
        assert session.assert_facts([fact, dict(fact), dict(fact)]) == [["breach"]] * 3


def test_a_fact_that_matches_no_rule_is_an_error_not_a_silent_gap(agreement):
    engine = RuleEngine.for_agreement(agreement)
    with engine.session() as session, pytest.raises(EngineError, match="produced no outcome"):
        session.assert_facts([{"t": "act", "ob": "P1-ceasefire-AZ", "rel": "other", "claim": "perhaps"}])


def test_an_error_inside_an_action_is_raised_not_swallowed(agreement):
    engine = RuleEngine.for_agreement(agreement)

    class Broken(dict):
        def __getitem__(self, key):
            raise RuntimeError("action failed")

    with engine.session() as session:
        engine._outcomes[session.sid] = Broken()
        with pytest.raises(EngineError, match="action failed"):
            session.assert_facts([{"t": "act", "ob": "P1-ceasefire-AZ", "rel": "other", "claim": "affirms"}])


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
    engine = RuleEngine.for_agreement(agreement)
    fact = {"t": "act", "ob": "P1-ceasefire-AZ", "rel": "other", "claim": "affirms"}
    for _ in range(1100):  # durable-rules allows 1,024 live sessions: each evaluation must delete its own
        with engine.session() as session:
            assert session.assert_facts([fact]) == [["breach"]]


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
