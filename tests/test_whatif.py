"""What-if scenarios: each key changes what it should, the log is never written, invalid scenarios exit 2."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from compliance.cli import app
from compliance.exchange import observation_record
from compliance.records import canonical_json
from compliance.scenario import Scenario
from compliance.store import Store
from compliance.verdicts import Verdict
from compliance.whatif import WhatIfResult, whatif, whatif_json, whatif_table

from conftest import build_store

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def obs(kind: str, date: str, actor: str, source_party: str, **fields) -> dict:
    """An observation dict with a test source."""
    return {"kind": kind, "date": date, "actor": actor, "source": f"test source ({source_party})",
            "source_party": source_party, **fields}


@pytest.fixture
def store_at(tmp_path, agreement):
    """Build a store file from entries (see conftest.build_store), close it, return its path."""
    def make(entries: list[dict]) -> Path:
        path = tmp_path / "log.db"
        build_store(agreement, entries, path=path).close()
        return path
    return make


def run_cli(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def verdict_map(check) -> dict[tuple[str, str], str]:
    return {(o.id, o.bearer): o.verdict.value for o in check.obligations}


def change_list(result: WhatIfResult) -> list[tuple[str, str, str, str]]:
    return [(c.id, c.bearer, c.from_.value, c.to.value) for c in result.changes]


def obligation(check, obligation_id: str, bearer: str | None = None):
    return next(o for o in check.obligations if o.id == obligation_id and (bearer is None or o.bearer == bearer))


# ---- each scenario key -------------------------------------------------------------------------------

def test_add_puts_hypothetical_observations_in_evidence_as_h1_h2(store_at):
    path = store_at([obs("contingent.personnel", "2021-01-01", "RU", "RU", value=1960)])  # ID 1: within the cap
    result = whatif({"as_of": "2021-03-31", "add": [
        obs("contingent.personnel", "2021-02-01", "RU", "independent", value=2500),   # h1: above the cap
        obs("contingent.personnel", "2021-02-02", "RU", "AZ", value=2600),            # h2: above the cap
    ]}, store=path)

    assert obligation(result.baseline, "P3-personnel-cap").verdict == Verdict.COMPLIANT
    assert obligation(result.baseline, "P3-personnel-cap").evidence == ["1"]
    scenario = obligation(result.scenario, "P3-personnel-cap")
    assert scenario.verdict == Verdict.VIOLATED
    assert scenario.evidence[:2] == ["h1", "h2"]
    assert scenario.evidence_count == 3
    assert change_list(result) == [("P3-personnel-cap", "RU", "compliant", "violated")]
    assert [item["id"] for item in result.normalised_scenario["add"]] == ["h1", "h2"]


def test_added_observation_dated_after_as_of_is_left_out(store_at):
    path = store_at([])
    result = whatif({"as_of": "2021-03-31", "add": [
        obs("contingent.personnel", "2021-04-01", "RU", "independent", value=5000)]}, store=path)
    assert obligation(result.scenario, "P3-personnel-cap").verdict == Verdict.UNKNOWN
    assert result.changes == []


def test_exclude_leaves_out_logged_observations_even_inside_a_shared_row(store_at):
    breach = obs("ceasefire.breach", "2021-03-01", "AZ", "independent")
    path = store_at([breach, dict(breach)])  # IDs 1 and 2: identical fields, one evidence row in the store

    one = whatif({"as_of": "2021-03-31", "exclude": [1]}, store=path)
    assert obligation(one.baseline, "P1-ceasefire-AZ").evidence == ["1", "2"]
    assert obligation(one.scenario, "P1-ceasefire-AZ").verdict == Verdict.VIOLATED
    assert obligation(one.scenario, "P1-ceasefire-AZ").evidence == ["2"]
    assert one.changes == []

    both = whatif({"as_of": "2021-03-31", "exclude": ["2", 1]}, store=path)
    assert obligation(both.scenario, "P1-ceasefire-AZ").verdict == Verdict.COMPLIANT
    assert change_list(both) == [("P1-ceasefire-AZ", "AZ", "violated", "compliant")]
    assert both.normalised_scenario["exclude"] == ["1", "2"]


def test_without_amendments_true_ignores_all_and_a_list_only_those_named(store_at):
    path = store_at([
        obs("district.returned", "2020-11-25", "AM", "AZ", subject="Kalbajar"),  # in time only with A1 (11-25)
        obs("contingent.personnel", "2021-02-01", "RU", "independent", value=2400),  # within the amended cap only
        {"amend": {"obligation": "P3-personnel-cap", "term": "limit", "value": 2500, "agreed_on": "2021-01-01",
                   "by": ["AM", "AZ", "RU"], "source": "test joint statement"}},  # logged: nov-10-2020-A2
    ])
    base = {"as_of": "2021-03-31"}

    listed = whatif({**base, "without_amendments": ["nov-10-2020-A1"]}, store=path)
    assert verdict_map(listed.baseline)[("P6-kalbajar-return", "AM")] == "compliant"
    assert verdict_map(listed.baseline)[("P3-personnel-cap", "RU")] == "compliant"
    assert change_list(listed) == [("P6-kalbajar-return", "AM", "compliant", "violated")]
    assert "late by 10 days" in listed.changes[0].reason

    logged = whatif({**base, "without_amendments": ["nov-10-2020-A2"]}, store=path)
    assert change_list(logged) == [("P3-personnel-cap", "RU", "compliant", "violated")]

    every = whatif({**base, "without_amendments": True}, store=path)
    assert change_list(every) == [("P3-personnel-cap", "RU", "compliant", "violated"),
                                  ("P6-kalbajar-return", "AM", "compliant", "violated")]
    assert every.scenario.without_amendments is True

    none = whatif({**base, "without_amendments": []}, store=path)
    assert none.changes == [] and none.normalised_scenario["without_amendments"] is False


def test_terms_override_a_cap_and_a_deadline_after_amendments(store_at):
    path = store_at([
        obs("contingent.personnel", "2021-02-01", "RU", "independent", value=2400),
        obs("district.returned", "2020-11-20", "AM", "AZ", subject="Aghdam"),
        obs("district.returned", "2020-11-25", "AM", "AZ", subject="Kalbajar"),
    ])
    result = whatif({"as_of": "2021-03-31", "terms": {
        "P3-personnel-cap": {"limit": 2500},
        "P2-aghdam-return": {"deadline": "2020-11-18"},
        "P6-kalbajar-return": {"deadline": "2020-11-15"},  # overrides the amended 2020-11-25 (nov-10-2020-A1)
    }}, store=path)
    assert change_list(result) == [
        ("P2-aghdam-return", "AM", "compliant", "violated"),
        ("P3-personnel-cap", "RU", "violated", "compliant"),
        ("P6-kalbajar-return", "AM", "compliant", "violated"),
    ]
    assert obligation(result.scenario, "P2-aghdam-return").due == "2020-11-18"
    assert "late by 2 days" in result.change_of("P2-aghdam-return").reason
    assert "cap of 2,500" in result.change_of("P3-personnel-cap").reason
    assert obligation(result.scenario, "P6-kalbajar-return").due == "2020-11-15"


def test_attribute_nk_to_am_turns_an_nk_breach_into_am_evidence(store_at):
    path = store_at([obs("ceasefire.breach", "2021-03-01", "NK", "independent")])  # ID 1
    result = whatif({"as_of": "2021-03-31", "attribute": {"NK": "AM"}}, store=path)
    assert obligation(result.baseline, "P1-ceasefire-AM").verdict == Verdict.COMPLIANT
    assert obligation(result.baseline, "P1-ceasefire-AM").evidence == []
    am = obligation(result.scenario, "P1-ceasefire-AM")
    assert am.verdict == Verdict.VIOLATED and am.evidence == ["1"]
    assert change_list(result) == [("P1-ceasefire-AM", "AM", "compliant", "violated")]


def test_since_applies_to_baseline_and_scenario(store_at):
    path = store_at([obs("ceasefire.breach", "2021-01-05", "AZ", "independent")])
    result = whatif({"as_of": "2021-03-31", "since": "2021-02-01", "add": [
        obs("ceasefire.breach", "2021-01-20", "AM", "independent")]}, store=path)
    assert result.baseline.since == result.scenario.since == "2021-02-01"
    assert verdict_map(result.baseline)[("P1-ceasefire-AZ", "AZ")] == "compliant"
    assert result.changes == []  # h1 is before the period too


def test_declare_lets_added_observations_name_a_new_actor(store_at):
    path = store_at([])
    added = obs("ceasefire.breach", "2021-03-01", "XX", "independent")
    with pytest.raises(Exception, match=r"add\.0\.actor: .*'XX'"):
        whatif({"as_of": "2021-03-31", "add": [added]}, store=path)
    result = whatif({"as_of": "2021-03-31", "add": [added], "declare": ["XX"], "attribute": {"XX": "AZ"}}, store=path)
    assert change_list(result) == [("P1-ceasefire-AZ", "AZ", "compliant", "violated")]


# ---- changes, digests, the log untouched ---------------------------------------------------------

def test_changes_are_exactly_the_differing_verdicts(store_at):
    path = store_at([
        obs("ceasefire.breach", "2021-03-01", "AZ", "AM"),  # ID 1: alleged
        obs("ceasefire.breach", "2021-03-01", "AZ", "independent"),  # ID 2: makes it violated
        obs("contingent.personnel", "2021-02-01", "RU", "RU", value=1960),
    ])
    result = whatif({"as_of": "2021-03-31", "exclude": [2], "terms": {"P3-apc-cap": {"limit": 5}},
                     "add": [obs("transport.blocked", "2021-03-10", "AM", "AZ")]}, store=path)
    before, after = verdict_map(result.baseline), verdict_map(result.scenario)
    expected = [(i, b, before[(i, b)], after[(i, b)]) for (i, b) in after if before[(i, b)] != after[(i, b)]]
    assert change_list(result) == expected == [
        ("P1-ceasefire-AZ", "AZ", "violated", "alleged"),
        ("P9-transport-links", "AM", "compliant", "alleged"),
    ]
    # the apc cap changed its term but not its verdict (no apc count): not a change, a changed reason
    assert [(c.id, c.to.value) for c in result.reasons_changed()] == [("P3-apc-cap", "unknown")]


def test_scenario_digest_is_stable_and_depends_on_scenario_and_log(store_at, agreement):
    path = store_at([obs("ceasefire.breach", "2021-03-01", "AZ", "AM"), obs("ceasefire.breach", "2021-03-02", "AZ", "AM")])
    one = {"as_of": "2021-03-31", "exclude": [1, 2], "terms": {"P3-personnel-cap": {"limit": 2500}},
           "attribute": {"NK": "AM"}}
    same = {"attribute": {"NK": "AM"}, "terms": {"P3-personnel-cap": {"limit": "2500"}}, "exclude": ["2", "1", 2],
            "as_of": "2021-03-31", "since": "2020-01-01"}  # same scenario, other order and spelling
    first, second, reordered = whatif(one, store=path), whatif(one, store=path), whatif(same, store=path)
    assert first.scenario_digest == second.scenario_digest == reordered.scenario_digest
    assert first.scenario_digest.startswith("sha256:") and len(first.scenario_digest) == 71
    expected = hashlib.sha256(canonical_json({"log_digest": first.baseline.log_digest,
                                              "scenario": first.normalised_scenario}).encode()).hexdigest()
    assert first.scenario_digest == "sha256:" + expected

    assert whatif({**one, "exclude": [1]}, store=path).scenario_digest != first.scenario_digest
    store = Store.open(path, agreement, write=True)
    store.append([observation_record(obs("ceasefire.breach", "2021-03-05", "AZ", "AM"), agreement)], "tester")
    store.close()
    assert whatif(one, store=path).scenario_digest != first.scenario_digest


def test_scenario_digest_is_the_same_in_a_fresh_process(store_at):
    path = store_at([obs("ceasefire.breach", "2021-03-01", "AZ", "AM")])
    scenario = {"as_of": "2021-03-31", "exclude": [1]}
    code = ("import json, sys; from compliance.whatif import whatif; "
            "print(whatif(json.loads(sys.argv[1]), store=sys.argv[2]).scenario_digest)")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # set and dict orders differ between processes: must not matter
    out = subprocess.run([sys.executable, "-c", code, json.dumps(scenario), str(path)],
                         capture_output=True, text=True, check=True, env=env).stdout.strip()
    assert out == whatif(scenario, store=path).scenario_digest


def test_whatif_never_writes_to_the_log(store_at, tmp_path, agreement):
    path = store_at([obs("ceasefire.breach", "2021-03-01", "AZ", "AM"), obs("ceasefire.breach", "2021-03-02", "NK", "AZ")])
    before_bytes = hashlib.sha256(path.read_bytes()).hexdigest()
    before_digest = Store.open(path, agreement).head().digest
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump({"as_of": "2021-03-31", "exclude": [1], "attribute": {"NK": "AM"},
                                        "without_amendments": True, "terms": {"P3-personnel-cap": {"limit": 1}},
                                        "add": [obs("contingent.personnel", "2021-03-03", "RU", "RU", value=9)]}))

    cli = run_cli("--store", str(path), "whatif", str(scenario), "--format", "json")
    assert cli.exit_code == 0, cli.output
    api = whatif(scenario, store=path)

    after_store = Store.open(path, agreement)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before_bytes
    assert after_store.head().digest == before_digest == api.baseline.log_digest
    assert json.loads(cli.stdout)["baseline"]["log_digest"] == before_digest
    assert [r.id for r in after_store.records() if r.type != "track"] == ["1", "2"]  # no hypothetical record appended


def test_a_missing_store_reads_as_an_empty_log_and_is_not_created(tmp_path):
    path = tmp_path / "none.db"
    result = whatif({"as_of": "2021-03-31", "add": [obs("ceasefire.breach", "2021-03-01", "AZ", "independent")]},
                    store=path)
    assert change_list(result) == [("P1-ceasefire-AZ", "AZ", "compliant", "violated")]
    assert not path.exists()


# ---- the Python API ---------------------------------------------------------------------------------

def test_api_takes_a_dict_a_path_or_a_model_and_a_store_path_or_object(store_at, tmp_path, agreement):
    path = store_at([obs("district.returned", "2020-11-25", "AM", "AZ", subject="Kalbajar")])
    data = {"as_of": "2020-12-31", "without_amendments": ["nov-10-2020-A1"]}
    file = tmp_path / "kalbajar.yaml"
    file.write_text("as_of: 2020-12-31\nwithout_amendments: [nov-10-2020-A1]\n")
    store = Store.open(path, agreement)
    results = [whatif(data, store=path), whatif(str(file), store=path), whatif(file, store=store),
               whatif(Scenario(**data), store=str(path)), whatif(Scenario.model_validate(data), store=store)]
    assert {r.scenario_digest for r in results} == {results[0].scenario_digest}
    for result in results:
        assert isinstance(result, WhatIfResult)
        assert change_list(result) == [("P6-kalbajar-return", "AM", "compliant", "violated")]
    assert results[0].scenario.verdict_of("P6-kalbajar-return") == Verdict.VIOLATED


def test_api_errors_name_the_source_and_field(tmp_path):
    from compliance.errors import InputError

    with pytest.raises(InputError) as error:
        whatif({"as_of": "2021-03-31", "terms": {"P3-personnel-cap": {"limt": 1}}}, store=tmp_path / "x.db")
    assert str(error.value).startswith("scenario: terms.P3-personnel-cap.limt: unknown term 'limt'")
    file = tmp_path / "bad.yaml"
    file.write_text("as_of: 2021-03-31\nexclude: [7]\n")
    with pytest.raises(InputError, match=r"bad\.yaml:2: exclude\.0: no observation with ID 7"):
        whatif(file, store=tmp_path / "x.db")


def test_api_with_the_sample_log():
    result = whatif({"as_of": "2020-12-31", "terms": {"P6-kalbajar-return": {"deadline": "2020-11-15"}}}, store="sample")
    assert change_list(result) == [("P6-kalbajar-return", "AM", "compliant", "violated")]


# ---- the command line -------------------------------------------------------------------------------

@pytest.fixture
def kalbajar(store_at, tmp_path):
    """A log where Kalbajar was returned on 25 Nov and an independent source reports an AZ ceasefire breach."""
    store = store_at([obs("district.returned", "2020-11-25", "AM", "AZ", subject="Kalbajar"),
                      obs("ceasefire.breach", "2020-12-01", "AZ", "independent")])  # ID 2
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("as_of: 2020-12-31\nwithout_amendments: true\n")
    return store, scenario


@pytest.mark.parametrize("fail_on, code", [("violated", 1), ("disputed", 0), ("disputed,violated", 1), (None, 0)])
def test_fail_on_reads_the_scenario_verdicts(kalbajar, fail_on, code):
    store, scenario = kalbajar
    args = ["--store", str(store), "whatif", str(scenario)] + (["--fail-on", fail_on] if fail_on else [])
    assert run_cli(*args).exit_code == code


def test_fail_on_ignores_baseline_verdicts(kalbajar, tmp_path):
    store, _ = kalbajar
    scenario = tmp_path / "clean.yaml"
    scenario.write_text("as_of: 2020-12-31\nexclude: [2]\n")  # baseline: P1-ceasefire-AZ violated; scenario: none
    result = run_cli("--store", str(store), "whatif", str(scenario), "--fail-on", "violated")
    assert result.exit_code == 0, result.output
    assert "P1-ceasefire-AZ" in result.stdout and "violated    compliant" in result.stdout


def test_fail_on_with_an_unknown_verdict_exits_2(kalbajar):
    store, scenario = kalbajar
    result = run_cli("--store", str(store), "whatif", str(scenario), "--fail-on", "broken")
    assert result.exit_code == 2 and "--fail-on" in result.stderr


def test_table_output_shows_digests_and_the_changes(kalbajar):
    store, scenario = kalbajar
    result = run_cli("whatif", str(scenario), "--store", str(store))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "nov-10-2020 what-if as of 2020-12-31 (period from 2020-11-10)"
    assert lines[1].startswith("log      sha256:") and lines[2].startswith("scenario sha256:")
    assert "original terms (every amendment ignored)" in result.stdout
    assert "1 verdict change:" in result.stdout
    row = next(line for line in lines if line.startswith("P6-kalbajar-return"))
    assert row.split()[:4] == ["P6-kalbajar-return", "AM", "compliant", "violated"]


def test_table_output_says_when_nothing_changes(kalbajar, tmp_path):
    store, _ = kalbajar
    scenario = tmp_path / "same.yaml"
    scenario.write_text("as_of: 2020-12-31\n")
    result = run_cli("--store", str(store), "whatif", str(scenario))
    assert result.exit_code == 0
    assert "no verdict changes: all 22 verdicts are the same" in result.stdout


def test_json_output_has_the_contract_keys(kalbajar):
    store, scenario = kalbajar
    result = run_cli("--store", str(store), "whatif", str(scenario), "--format", "json")
    data = json.loads(result.stdout)
    assert {"as_of", "baseline", "scenario", "changes", "scenario_digest"} <= set(data)
    assert data["as_of"] == "2020-12-31"
    assert data["changes"] == [{"id": "P6-kalbajar-return", "bearer": "AM", "from": "compliant", "to": "violated",
                                "reason": data["changes"][0]["reason"],
                                "baseline_reason": data["changes"][0]["baseline_reason"]}]
    assert data["baseline"]["log_digest"] == data["scenario"]["log_digest"]
    assert data["scenario"]["without_amendments"] is True
    assert data["scenario_digest"] == whatif(str(scenario), store=store).scenario_digest


def test_json_baseline_and_scenario_are_what_check_prints():
    """cli.md: `"baseline": <check json>`; with several agreements `check` leaves out `agreement` and `since`
    (process.md), and so must the what-if's checks (they were printed as null)."""
    import datetime as dt

    from compliance import open_store
    from compliance.check import check
    data = whatif({"as_of": "2021-09-30"}, store="sample").to_json_dict()
    assert "agreement" not in data["baseline"] and "since" not in data["baseline"]
    assert "agreement" not in data["scenario"] and "since" not in data["scenario"]
    checked = check(open_store("sample"), as_of=dt.date(2021, 9, 30)).to_json_dict()
    assert data["baseline"] == checked == data["scenario"]
    one = whatif({"as_of": "2021-09-30"}, store="sample", agreements=["nov-10-2020"]).to_json_dict()
    assert one["baseline"]["agreement"] == "nov-10-2020" and one["baseline"]["since"] == "2020-11-10"


def test_markdown_output_escapes_observation_text(store_at, tmp_path):
    path = store_at([])
    scenario = tmp_path / "md.yaml"
    scenario.write_text(yaml.safe_dump({"as_of": "2021-03-31", "add": [
        {**obs("ceasefire.breach", "2021-03-01", "AZ", "independent"), "source": "a | b <script>"}]}))
    result = run_cli("--store", str(path), "whatif", str(scenario), "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "a \\| b &lt;script&gt;" in result.stdout and "<script>" not in result.stdout
    assert "| P1-ceasefire-AZ | AZ | compliant | **violated** |" in result.stdout


def test_scenario_from_standard_input(kalbajar):
    store, scenario = kalbajar
    result = run_cli("--store", str(store), "whatif", "-", "--format", "json", input=scenario.read_text())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changes"][0]["id"] == "P6-kalbajar-return"


# ---- invalid scenarios: exit 2, one line naming file, field and reason ---------------------------

INVALID = [
    ("not YAML", "as_of: [2021\n", "scenario.yaml:2: not valid YAML"),
    ("not a mapping", "- as_of\n- 2021-03-31\n", "scenario.yaml:1: (top level): a scenario must be a mapping"),
    ("empty", "", "scenario.yaml: (top level): a scenario must be a mapping with as_of"),
    ("missing as_of", "exclude: [1]\n", "scenario.yaml:1: as_of: is required"),
    ("as_of not a date", "as_of: soon\n", "scenario.yaml:1: as_of: 'soon' is not a date"),
    ("unknown key", "as_of: 2021-03-31\natribute: {NK: AM}\n", "scenario.yaml:2: atribute: unknown key (valid keys: as_of"),
    ("duplicate key", "as_of: 2021-03-31\nas_of: 2021-04-30\n", "scenario.yaml:2: as_of: not valid YAML: duplicate key 'as_of' (first on line 1)"),
    ("unknown obligation", "as_of: 2021-03-31\nterms: {P3-personel-cap: {limit: 1}}\n",
     "scenario.yaml:2: terms.P3-personel-cap: unknown obligation 'P3-personel-cap'"),
    ("unknown term", "as_of: 2021-03-31\nterms: {P3-personnel-cap: {limt: 2500}}\n",
     "scenario.yaml:2: terms.P3-personnel-cap.limt: unknown term 'limt' (P3-personnel-cap has: limit)"),
    ("term of the wrong type", "as_of: 2021-03-31\nterms: {P6-kalbajar-return: {deadline: 5}}\n",
     "scenario.yaml:2: terms.P6-kalbajar-return.deadline: term 'deadline' of P6-kalbajar-return takes a date"),
    ("negative limit", "as_of: 2021-03-31\nterms: {P3-personnel-cap: {limit: -1}}\n",
     "scenario.yaml:2: terms.P3-personnel-cap.limit: must be a whole number >= 0"),
    ("unknown ID", "as_of: 2021-03-31\nexclude: [99]\n", "scenario.yaml:2: exclude.0: no observation with ID 99 in the log"),
    ("retracted ID", "as_of: 2021-03-31\nexclude: [1, 2]\n",
     "scenario.yaml:2: exclude.1: observation 2 was retracted by record 3"),
    ("superseded ID", "as_of: 2021-03-31\nexclude: [4]\n",
     "scenario.yaml:2: exclude.0: observation 4 was superseded by record 5"),
    ("not an observation", "as_of: 2021-03-31\nexclude: [3]\n",
     "scenario.yaml:2: exclude.0: record 3 is a retraction, not an observation"),
    ("unknown amendment", "as_of: 2021-03-31\nwithout_amendments: [nov-10-2020-A7]\n",
     "scenario.yaml:2: without_amendments.0: unknown amendment 'nov-10-2020-A7' (known: nov-10-2020-A1)"),
    ("invalid observation", "as_of: 2021-03-31\nadd:\n  - {kind: contingent.personnel, date: 2021-01-01, actor: RU, "
     "value: lots, source: s, source_party: independent}\n", "scenario.yaml:3: add.0.value: must be a whole number"),
    ("unknown kind", "as_of: 2021-03-31\nadd: [{kind: nope, date: 2021-01-01, actor: RU, source: s, "
     "source_party: RU}]\n", "scenario.yaml:2: add.0.kind: unknown kind 'nope'"),
    ("observation not a mapping", "as_of: 2021-03-31\nadd: [7]\n", "scenario.yaml:2: add.0: must be a mapping"),
    ("unknown attributed actor", "as_of: 2021-03-31\nattribute: {NK: QQ}\n",
     "scenario.yaml:2: attribute.NK: unknown actor code 'QQ'"),
    ("since after as_of", "as_of: 2021-03-31\nsince: 2021-04-01\n", "scenario.yaml:2: since: 2021-04-01 is after as_of"),
    ("python tag", "!!python/object/apply:os.system ['echo unsafe']\n", "scenario.yaml:1: (top level): not valid YAML: no constructor for the tag '!!python/object/apply:os.system'"),
]


@pytest.fixture
def messy_store(store_at):
    """IDs: 1, 2 observations; 3 retracts 2; 4 observation; 5 supersedes 4."""
    breach = obs("ceasefire.breach", "2021-03-01", "AZ", "AM")
    return store_at([breach, dict(breach), {"retract": "2", "reason": "duplicate"},
                     obs("ceasefire.breach", "2021-03-02", "AZ", "AM"), {"correct": "4", **breach}])


@pytest.mark.parametrize("text, message", [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_scenario_exits_2_with_one_line(messy_store, tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    Path("scenario.yaml").write_text(text)
    result = run_cli("--store", str(messy_store), "whatif", "scenario.yaml")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("compliance: error: " + message), result.stderr


def test_invalid_scenario_in_a_real_process_has_no_traceback(tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("as_of: 2021-03-31\nterms: {P3-personnel-cap: {limt: 2500}}\n")
    proc = subprocess.run([sys.executable, "-c", "from compliance.cli import main; main()", "--store", "sample",
                           "whatif", str(scenario)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == (f"compliance: error: {scenario}:2: terms.P3-personnel-cap.limt: unknown term 'limt' "
                           "(P3-personnel-cap has: limit)\n")


def test_unreadable_scenario_file_exits_4(tmp_path):
    result = run_cli("--store", "sample", "whatif", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 4
    assert result.stderr.startswith(f"compliance: error: {tmp_path / 'missing.yaml'}: cannot read")


# ---- the examples -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("kalbajar-without-extension.yaml", [("P6-kalbajar-return", "AM", "compliant", "violated")]),
    ("contingent-2500.yaml", [("P3-personnel-cap", "RU", "alleged", "violated")]),
    ("contingent-2500-cap.yaml", []),
    ("corridor-corroborated.yaml", []),
    ("nk-attributed-to-am.yaml", [("P9-transport-links", "AM", "alleged", "violated")]),
    ("exclusive-deadlines.yaml", [("P2-aghdam-return", "AM", "compliant", "violated"),
                                  ("P6-kalbajar-return", "AM", "compliant", "violated"),
                                  ("P6-lachin-return", "AM", "compliant", "violated")]),
    ("jan-11-exclusive-readings.yaml", [("J2-first-meeting", "AM", "compliant", "violated"),
                                        ("J2-first-meeting", "AZ", "compliant", "violated"),
                                        ("J2-first-meeting", "RU", "compliant", "violated")]),
])
def test_examples_against_the_sample_log(name, expected):
    text = (EXAMPLES / name).read_text()
    assert text.startswith("# Question:")
    result = whatif(EXAMPLES / name, store="sample")
    assert change_list(result) == expected


def test_corridor_example_rests_on_the_hypothetical_icrc_statement():
    result = whatif(EXAMPLES / "corridor-corroborated.yaml", store="sample")
    corridor = obligation(result.scenario, "P6-corridor-passage")
    assert corridor.verdict == Verdict.VIOLATED and corridor.evidence[:2] == ["99", "h1"]  # by date: 04-23, 04-25
    assert not {"103", "110"} & set(corridor.evidence)
    without_icrc = yaml.safe_load((EXAMPLES / "corridor-corroborated.yaml").read_text())
    del without_icrc["add"]
    assert change_list(whatif(without_icrc, store="sample")) == [("P6-corridor-passage", "AZ", "violated", "disputed")]


def test_a_change_of_an_obligation_that_names_no_bearer(tmp_path):
    # C6-infrastructure of the fixture agreement has `bearer: null`: evaluated on the conduct of any actor
    scenario = {"as_of": "2023-10-31", "add": [{"kind": "infrastructure.strike", "date": "2023-09-28", "actor": "STH",
                                                "source": "hypothetical report", "source_party": "NTH"}]}
    result = whatif(scenario, store=tmp_path / "none.db",
                    agreements=[Path(__file__).parent / "fixtures" / "withdrawal-ceasefire.yaml"])
    assert change_list(result) == [("C6-infrastructure", None, "compliant", "alleged")]
    assert "C6-infrastructure  (none)    compliant   alleged" in whatif_table(result)
    assert json.loads(whatif_json(result))["changes"][0]["bearer"] is None


# ---- as of a date before entry into force --------------------------------------------------------------

# What would bear on Nov 10 obligations were they in force: a return, a count above the cap, an obstruction
# from an independent source, a moved deadline.
BEFORE_FORCE = {
    "add": [obs("district.returned", "2020-11-01", "AM", "independent", subject="Aghdam"),
            obs("contingent.personnel", "2020-11-01", "RU", "independent", value=5000),
            obs("corridor.obstruction", "2020-11-01", "AZ", "independent", date_end="2020-11-04")],
    "terms": {"P6-kalbajar-return": {"deadline": "2020-11-01"}},
}


def test_a_scenario_as_of_a_date_before_entry_into_force_has_every_obligation_not_in_force(store_at):
    store = store_at([])
    before = whatif({"as_of": "2020-11-05", **BEFORE_FORCE}, store=store)
    assert {o.verdict for o in before.scenario.obligations} == {Verdict.NOT_IN_FORCE}
    assert before.changes == []
    # the premise: the same scenario in force (the additions re-dated into it) changes verdicts
    in_force = {**BEFORE_FORCE, "add": [{**item, "date": "2020-11-12"} for item in BEFORE_FORCE["add"]]}
    in_force["add"][2]["date_end"] = "2020-11-14"
    after = whatif({"as_of": "2020-11-15", **in_force}, store=store)
    assert Verdict.NOT_IN_FORCE not in {o.verdict for o in after.scenario.obligations}
    assert {"P2-aghdam-return", "P3-personnel-cap", "P6-corridor-passage"} <= {c.id for c in after.changes}


def test_a_scenario_between_two_entries_into_force_judges_each_agreement_by_its_own():
    # the sample log tracks nov-10-2020 (in force 10 Nov 2020), jan-11-2021 (11 Jan 2021), nov-26-2021 (26 Nov 2021)
    result = whatif({"as_of": "2021-06-01"}, store="sample")
    for side in (result.baseline, result.scenario):
        by_agreement: dict[str, set[Verdict]] = {}
        for o in side.obligations:
            by_agreement.setdefault(o.agreement, set()).add(o.verdict)
        assert set(by_agreement) == {"nov-10-2020", "jan-11-2021", "nov-26-2021"}
        assert by_agreement["nov-26-2021"] == {Verdict.NOT_IN_FORCE}
        assert Verdict.NOT_IN_FORCE not in by_agreement["nov-10-2020"] | by_agreement["jan-11-2021"]
