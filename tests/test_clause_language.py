"""The clause language on an agreement that is not the November 10 statement (tests/fixtures/withdrawal-ceasefire.yaml):
a timed entry into force, deadlines counted from events, a pair of deadlines, an exact-day meeting, a condition
on declared attributes, a bearer that is not a signatory, an obligation that names no bearer, and simultaneous
acts. Every expected verdict below is derived by hand from the fixture's text, in the comment beside it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from compliance.check import check
from compliance.clauses import load_agreement, parse_agreement, validate_clause_file
from compliance.errors import ClauseFileError, InputError
from compliance.exchange import observation_record
from compliance.store import Store
from compliance.whatif import whatif

FIXTURE = Path(__file__).parent / "fixtures" / "withdrawal-ceasefire.yaml"
AGREEMENT = load_agreement(FIXTURE)


def obs(kind: str, date: str, actor: str, party: str, **more) -> dict:
    return {"kind": kind, "date": date, "actor": actor, "source": f"a source aligned with {party}",
            "source_party": party, **more}


# The log, in order (IDs 1, 2, ...). Entry into force: 13:00 (UTC+3) on 20 September 2023.
LOG = [
    obs("hostilities", "2023-09-20T11:30", "NTH", "STH"),            # 1: before 13:00: not counted against NTH
    obs("hostilities", "2023-09-20", "NTH", "STH"),                  # 2: a plain date on that day: cannot show it came after 13:00
    obs("hostilities", "2023-09-20T14:00", "STH", "NTH"),            # 3: after 13:00, one side
    obs("hostilities", "2023-09-21", "STH", "independent"),          # 4: the next day, independent: same matter, corroborated
    obs("heavy-weapons.withdrawal-begun", "2023-09-21", "NTH", "independent"),      # 5: day 2: in time
    obs("heavy-weapons.withdrawal-completed", "2023-10-06", "NTH", "independent"),  # 6: due 4 Oct: 2 days late
    obs("talks.meeting", "2023-09-24", "STH", "independent"),        # 7: the day before 25 Sept: early is not on the day
    obs("weapons.position", "2023-09-22", "STH", "NTH", attributes={"calibre_mm": 122, "distance_km": 30}),  # 8: breach
    obs("weapons.position", "2023-09-23", "STH", "independent", attributes={"calibre_mm": 82, "distance_km": 10}),  # 9: small
    obs("weapons.position", "2023-09-23", "NTH", "independent", attributes={"calibre_mm": 152, "distance_km": 60}),  # 10: far
    obs("formations.disarmed", "2023-10-12", "NTHF", "independent"),  # 11: 6 days after completion (6 Oct): in time
    obs("infrastructure.strike", "2023-09-28", "STH", "NTH"),         # 12: anyone's conduct counts
    obs("infrastructure.strike", "2023-10-02", "NTH", "STH"),         # 13: another matter
    obs("detainees.released", "2023-10-01", "NTH", "independent"),    # 14
    obs("detainees.released", "2023-10-02", "STH", "independent"),    # 15: the next day: simultaneous
]


@pytest.fixture(scope="module")
def store() -> Store:
    db = Store.memory(AGREEMENT)
    for entry in LOG:
        db.append([observation_record(entry, AGREEMENT)], "tester")
    return db


def results(store: Store, as_of: str) -> dict[tuple[str, str | None], object]:
    return {(o.id, o.bearer): o for o in check(store, as_of=dt.date.fromisoformat(as_of)).obligations}


def test_the_fixture_loads_and_validates_without_warnings():
    report = validate_clause_file(FIXTURE)
    assert report.warnings == []
    assert [ob.template for ob in AGREEMENT.obligations] == [
        "prohibition", "prohibition", "begin-complete", "exact-day", "rule", "deadline-after", "prohibition",
        "simultaneous"]


def test_verdicts_derived_by_hand(store):
    got = results(store, "2023-10-31")
    expected = {
        ("C1-ceasefire-NTH", "NTH"): "compliant",       # 1 before 13:00, 2 inconclusive: no breach evidence
        ("C1-ceasefire-STH", "STH"): "violated",        # 3 and 4 one matter, 4 independent
        ("C2-heavy-withdrawal", "NTH"): "violated",     # began 21 Sept (due 21), completed 6 Oct (due 4)
        ("C3-talks", "NTH"): "violated", ("C3-talks", "STH"): "violated",  # met 24 Sept, not on the 25th
        ("C4-artillery-line", "NTH"): "compliant",      # 152 mm at 60 km: far enough
        ("C4-artillery-line", "STH"): "alleged",        # 122 mm at 30 km, one side; 82 mm is below the calibre
        ("C5-formations-disarm", "NTHF"): "compliant",  # due 13 Oct (7 days after 6 Oct), disarmed 12 Oct
        ("C6-infrastructure", None): "alleged",         # two matters, each from one side
        ("C7-detainee-exchange", "NTH"): "compliant", ("C7-detainee-exchange", "STH"): "compliant",  # 1 Oct, 2 Oct
    }
    assert {key: o.verdict.value for key, o in got.items()} == expected


def test_a_timed_start_counts_only_what_came_after_it(store):
    got = results(store, "2023-10-31")
    north = got[("C1-ceasefire-NTH", "NTH")]
    assert north.inconclusive == ["2"] and north.evidence == [] and north.evidence_count == 1
    south = got[("C1-ceasefire-STH", "STH")]
    assert south.evidence == ["3", "4"] and "an independent source" in south.reason


def test_deadlines_counted_from_events(store):
    before = results(store, "2023-10-05")
    # completion was due on 4 October: by the 5th, with no report, it is overdue
    assert before[("C2-heavy-withdrawal", "NTH")].verdict.value == "overdue"
    disarm = before[("C5-formations-disarm", "NTHF")]
    # counted from the completion, not yet reported: pending with no date
    assert disarm.verdict.value == "pending" and disarm.due is None
    assert "C2-heavy-withdrawal's event 'completed', which is not reported yet" in disarm.reason
    after = results(store, "2023-10-31")
    assert after[("C5-formations-disarm", "NTHF")].due == "2023-10-13"
    assert "7 days after C2-heavy-withdrawal's event 'completed' on 2023-10-06" in after[("C5-formations-disarm", "NTHF")].reason
    pair = after[("C2-heavy-withdrawal", "NTH")]
    assert "completed late" in pair.reason and "late by 2 days" in pair.reason and pair.due == "2023-10-04"
    assert results(store, "2023-10-01")[("C2-heavy-withdrawal", "NTH")].verdict.value == "pending"


def test_an_exact_day_met_early_is_violated(store):
    talks = results(store, "2023-10-31")[("C3-talks", "NTH")]
    assert "early by 1 day" in talks.reason and talks.due == "2023-09-25"
    on_the_day = Store.memory(AGREEMENT)
    on_the_day.append([observation_record(obs("talks.meeting", "2023-09-25", "STH", "independent"), AGREEMENT)], "t")
    assert results(on_the_day, "2023-10-31")[("C3-talks", "STH")].verdict.value == "compliant"
    assert results(on_the_day, "2023-09-24")[("C3-talks", "STH")].verdict.value == "pending"


def test_a_condition_on_attributes_compared_with_terms(store):
    artillery = results(store, "2023-10-31")[("C4-artillery-line", "STH")]
    assert artillery.evidence == ["8"] and artillery.evidence_count == 2
    # if the line were 20 km, 30 km would be far enough
    result = whatif({"as_of": "2023-10-31", "terms": {"C4-artillery-line": {"min_distance": 20}}}, store=store)
    assert result.scenario.verdict_of("C4-artillery-line", "STH").value == "compliant"


def test_no_bearer_and_a_bearer_that_is_not_a_signatory(store):
    data = check(store, as_of=dt.date(2023, 10, 31)).to_json_dict()
    by_id = {o["id"]: o for o in data["obligations"]}
    assert by_id["C6-infrastructure"]["bearer"] is None
    assert "2 matters" in by_id["C6-infrastructure"]["reason"] and "any actor" in by_id["C6-infrastructure"]["reason"]
    assert by_id["C5-formations-disarm"]["bearer"] == "NTHF" and "NTHF" not in AGREEMENT.parties


def test_simultaneous_acts(store):
    assert results(store, "2023-10-01")[("C7-detainee-exchange", "NTH")].verdict.value == "pending"
    apart = Store.memory(AGREEMENT)
    apart.append([observation_record(obs("detainees.released", "2023-10-01", "NTH", "independent"), AGREEMENT),
                  observation_record(obs("detainees.released", "2023-10-05", "STH", "independent"), AGREEMENT)], "t")
    late = results(apart, "2023-10-31")[("C7-detainee-exchange", "STH")]
    assert late.verdict.value == "violated" and "more than 1 days apart" in late.reason


def test_before_entry_into_force_nothing_is_in_force(store):
    assert {o.verdict.value for o in results(store, "2023-09-19").values()} == {"not-in-force"}


def test_attributes_are_validated_against_the_declaration():
    base = obs("weapons.position", "2023-09-22", "STH", "NTH")
    with pytest.raises(InputError, match="declares no attribute 'colour'"):
        observation_record({**base, "attributes": {"colour": "green"}}, AGREEMENT)
    with pytest.raises(InputError, match="must be a whole number"):
        observation_record({**base, "attributes": {"calibre_mm": "big"}}, AGREEMENT)
    with pytest.raises(InputError, match="declares no attributes"):
        observation_record({**obs("hostilities", "2023-09-22", "STH", "NTH"), "attributes": {"calibre_mm": 1}}, AGREEMENT)
    record = observation_record({**base, "attributes": {"distance_km": 12.5, "calibre_mm": 152}}, AGREEMENT)
    assert record.body["attributes"] == {"calibre_mm": 152, "distance_km": 12.5}


def test_old_clause_files_with_rule_shapes_still_load():
    text = FIXTURE.read_text(encoding="utf-8").replace("rule: {template: prohibition, kind: hostilities}",
                                                      "rule: {shape: prohibition, kind: hostilities}")
    assert parse_agreement(text, "old.yaml").obligations[0].template == "prohibition"


@pytest.mark.parametrize("change, where, reason", [
    ("rule: {template: exact-day, kind: talks.meeting}", ":88", "reads the term 'day'"),
    ("calibre_mm: {ge: min_calibre}", ":", "compares attribute"),
    ("from_obligation: C2-heavy-withdrawal", ":", "unknown obligation"),
])
def test_a_broken_fixture_names_file_line_and_reason(change, where, reason):
    text = FIXTURE.read_text(encoding="utf-8")
    broken = {
        "rule: {template: exact-day, kind: talks.meeting}": text.replace(
            "    terms:\n      day: {value: 2023-09-25, quote: on 25 September 2023, version: text}\n", ""),
        "calibre_mm: {ge: min_calibre}": text.replace("calibre_mm: {ge: min_calibre}", "calibre: {ge: min_calibre}"),
        "from_obligation: C2-heavy-withdrawal": text.replace("from_obligation: C2-heavy-withdrawal",
                                                             "from_obligation: C9-nothing"),
    }[change]
    with pytest.raises(ClauseFileError) as caught:
        parse_agreement(broken, "broken.yaml")
    assert str(caught.value).startswith("broken.yaml:") and reason in str(caught.value), str(caught.value)


def test_clauses_show_json_writes_the_rule_out(tmp_path):
    from typer.testing import CliRunner

    from compliance.cli import app

    result = CliRunner().invoke(app, ["clauses", "show", "C2-heavy-withdrawal", "--format", "json",
                                      "--agreement", str(FIXTURE), "--store", str(tmp_path / "none.db")])
    assert result.exit_code == 0, result.output
    rule = json.loads(result.stdout)["obligation"]["rule"]
    assert rule["template"] == "begin-complete" and set(rule["deadlines"]) == {"begin", "complete"}
    assert rule["deadlines"]["complete"]["days"] == "complete_days"
