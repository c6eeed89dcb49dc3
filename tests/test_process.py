"""The peace process (spec/process.md): the bundled statements, several agreements on one log, relative
deadlines, not-assessed provisions, tracking, and reports per agreement with an index for the process."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from compliance.check import check
from compliance.clauses import load_agreement
from compliance.dates import add_months
from compliance.errors import InputError
from compliance.exchange import observation_record
from compliance.process import PROCESS, Process, bundled_process_ids
from compliance.report import write_reports
from compliance.store import SCHEMA_VERSION, Store
from compliance.verdicts import Verdict
from safety_cli import one_error_line, run

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = dt.date(2026, 11, 29)


def store_of(*observations: dict, agreements=None) -> Store:
    """An in-memory store tracking the bundled process (or `agreements`), one record per observation."""
    store = Store.memory(agreements)
    for fields in observations:
        store.append([observation_record({"source": "test", "source_party": "independent", **fields},
                                         store.process)], "tester")
    return store


def verdicts_of(store: Store, as_of: str, obligation: str, **options) -> set[str]:
    """The verdicts of one obligation, over its bearers, as of a date."""
    result = check(store, as_of=dt.date.fromisoformat(as_of), **options)
    return {o.verdict.value for o in result.obligations if o.id == obligation}


def result_of(store: Store, as_of: str, obligation: str, **options):
    """The result of one obligation for its first bearer."""
    return check(store, as_of=dt.date.fromisoformat(as_of), **options).result_of(obligation)


MEETING = {"kind": "working-group.meeting", "actor": "RU"}


# ---- the catalogue ---------------------------------------------------------------------------------


def test_the_bundled_process_in_tracking_order():
    assert PROCESS == ("nov-10-2020", "jan-11-2021", "nov-26-2021")
    assert bundled_process_ids() == list(PROCESS)
    assert Store.memory().process.ids == list(PROCESS)  # a new store tracks the bundled process


@pytest.mark.parametrize("agreement_id, rows", [
    ("jan-11-2021", [("J1-working-group", 1, ["AM", "AZ", "RU"], True, "establishment"),
                     ("J2-first-meeting", 2, ["AM", "AZ", "RU"], True, "deadline"),
                     ("J2-directions-list", 2, ["AM", "AZ", "RU"], True, "establishment"),
                     ("J3-expert-subgroups", 3, ["AM", "AZ", "RU"], True, "establishment"),
                     ("J3-project-lists", 3, ["AM", "AZ", "RU"], True, "deadline-after"),
                     ("J4-infrastructure-list", 4, ["AM", "AZ", "RU"], True, "deadline")]),
    ("nov-26-2021", [("S1-reaffirmation", 1, ["AM", "AZ", "RU"], False, "not-assessed"),
                     ("S2-border-stability", 2, ["AM", "AZ"], False, "not-assessed"),
                     ("S2-delimitation-commission", 2, ["AM", "AZ"], True, "establishment")]),
])
def test_the_catalogue_of_each_statement(agreement_id, rows):
    agreement = load_agreement(agreement_id)
    assert [(ob.id, ob.point, ob.bearers, ob.joint, ob.template) for ob in agreement.obligations] == rows
    assert agreement.in_force == dt.datetime(int(agreement_id[-4:]), 1 if agreement_id.startswith("jan") else 11,
                                             11 if agreement_id.startswith("jan") else 26,
                                             tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert agreement.parties.keys() == {"AM", "AZ", "RU"}
    assert agreement.sides == load_agreement("nov-10-2020").sides
    assert all(agreement.window(kind) == 31 for kind in agreement.kinds)


def test_the_links_name_obligations_that_exist():
    process = Process([load_agreement(i) for i in PROCESS])
    links = [(ob.id, ref) for a in process.agreements for ob in a.obligations for ref in (*ob.implements, *ob.reaffirms)]
    assert ("J2-first-meeting", "nov-10-2020/P9-transport-links") in links
    assert ("S1-reaffirmation", "jan-11-2021/J4-infrastructure-list") in links
    for _, ref in links:
        agreement_id, _, obligation_id = ref.partition("/")
        assert process.agreement(agreement_id).obligation_or_none(obligation_id) is not None, ref


def test_both_readings_of_before_30_january_are_in_the_clause_file():
    term = load_agreement("jan-11-2021").obligation_or_none("J2-first-meeting").terms["deadline"]
    assert (term.value, term.inclusive, term.version) == (dt.date(2021, 1, 30), True, "am-gov")
    assert [(v.version, v.quote, v.inclusive) for v in term.variants] == [("az-pres", "before 30 January 2021", False)]
    assert "«до" in term.interpretation


def test_by_the_end_of_2021_is_not_a_deadline():
    ob = load_agreement("nov-26-2021").obligation_or_none("S2-delimitation-commission")
    assert not ob.rule.deadlines and "by the end of 2021" in ob.interpretation


# ---- within one month --------------------------------------------------------------------------------


@pytest.mark.parametrize("start, end", [
    (dt.date(2021, 1, 30), dt.date(2021, 2, 28)),  # no 30 February: the month's last day
    (dt.date(2021, 3, 31), dt.date(2021, 4, 30)),
    (dt.date(2024, 1, 31), dt.date(2024, 2, 29)),
    (dt.date(2021, 1, 15), dt.date(2021, 2, 15)),
])
def test_one_month_later(start, end):
    assert add_months(start, 1) == end


def test_project_lists_pending_with_no_date_until_the_first_meeting():
    store = store_of()
    result = result_of(store, "2021-06-30", "J3-project-lists")
    assert result.verdict == Verdict.PENDING and result.due is None


@pytest.mark.parametrize("meeting, due", [("2021-01-30", "2021-02-28"), ("2021-03-31", "2021-04-30")])
def test_project_lists_due_one_month_after_the_first_meeting_inclusive(meeting, due):
    store = store_of({**MEETING, "date": meeting})
    day_before = (dt.date.fromisoformat(due)).isoformat()
    assert result_of(store, day_before, "J3-project-lists").due == due
    assert verdicts_of(store, due, "J3-project-lists") == {"pending"}  # the last day is still in time
    after = (dt.date.fromisoformat(due) + dt.timedelta(days=1)).isoformat()
    assert verdicts_of(store, after, "J3-project-lists") == {"overdue"}
    on_time = store_of({**MEETING, "date": meeting},
                       {"kind": "project-lists.submitted", "date": due, "actor": "AM"})
    assert verdicts_of(on_time, after, "J3-project-lists") == {"compliant"}
    late = store_of({**MEETING, "date": meeting},
                    {"kind": "project-lists.submitted", "date": after, "actor": "AM"})
    assert verdicts_of(late, after, "J3-project-lists") == {"violated"}


def test_project_lists_count_from_the_earliest_meeting_whatever_the_first_meetings_verdict():
    late_meeting = store_of({**MEETING, "date": "2021-02-10"}, {**MEETING, "date": "2021-03-05"})
    assert verdicts_of(late_meeting, "2021-03-31", "J2-first-meeting") == {"violated"}
    assert result_of(late_meeting, "2021-03-31", "J3-project-lists").due == "2021-03-10"
    # a meeting dated before the statement's entry into force does not start the month
    before = store_of({**MEETING, "date": "2021-01-05"})
    assert result_of(before, "2021-03-31", "J3-project-lists").due is None


def test_first_meeting_on_30_january_is_in_time_and_on_31_january_late():
    assert verdicts_of(store_of({**MEETING, "date": "2021-01-30"}), "2021-02-28", "J2-first-meeting") == {"compliant"}
    assert verdicts_of(store_of({**MEETING, "date": "2021-01-31"}), "2021-02-28", "J2-first-meeting") == {"violated"}
    assert verdicts_of(store_of(), "2021-01-30", "J2-first-meeting") == {"pending"}
    assert verdicts_of(store_of(), "2021-01-31", "J2-first-meeting") == {"overdue"}


# ---- not assessed -----------------------------------------------------------------------------------


def test_not_assessed_is_never_compliant_and_says_where_the_reaffirmed_provisions_are_tracked():
    store = store_of({"kind": "delimitation-commission.established", "date": "2022-05-24", "actor": "AM"})
    result = check(store, as_of=dt.date(2022, 6, 30))
    s1 = [o for o in result.obligations if o.id == "S1-reaffirmation"]
    assert {o.verdict for o in s1} == {Verdict.NOT_ASSESSED} and len(s1) == 3
    assert "nov-10-2020 and jan-11-2021" in s1[0].reason
    assert {o.verdict for o in result.obligations if o.id == "S2-border-stability"} == {Verdict.NOT_ASSESSED}
    assert {o.verdict for o in result.obligations if o.id == "S2-delimitation-commission"} == {Verdict.COMPLIANT}
    before = check(store, as_of=dt.date(2021, 11, 25))
    assert {o.verdict for o in before.obligations if o.agreement == "nov-26-2021"} == {Verdict.NOT_IN_FORCE}


def test_the_check_table_groups_by_agreement_and_shows_not_assessed():
    result = run("--store", "sample", "check", "--as-of", "2023-12-31")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if line.split()[:1] in (["nov-10-2020"], ["jan-11-2021"], ["nov-26-2021"])]
    assert [lines[i].split()[0] for i in headers] == list(PROCESS)
    s1 = next(line for line in lines if line.startswith("S1-reaffirmation"))
    assert "not-assessed" in s1


# ---- one vocabulary, unique IDs ----------------------------------------------------------------------


def _variant_clause_file(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((Path(load_agreement("jan-11-2021").source_path)).read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_kind_declared_differently_by_two_agreements_is_refused(tmp_path):
    def redeclare(data):
        data["id"] = "variant"
        for ob in data["obligations"]:
            ob["id"] = "V-" + ob["id"]
            ob.pop("implements", None)
        nov10 = load_agreement("nov-10-2020").kinds["ceasefire.breach"]
        data["kinds"]["ceasefire.breach"] = {**nov10.model_dump(exclude_defaults=True), "window_days": 7}
        for ob in data["obligations"]:
            if "from_obligation" in ob["rule"]:
                ob["rule"]["from_obligation"] = "V-" + ob["rule"]["from_obligation"]

    path = _variant_clause_file(tmp_path, redeclare)
    with pytest.raises(InputError, match=r"kind 'ceasefire.breach' is declared differently by nov-10-2020 and variant"):
        Process([load_agreement("nov-10-2020"), load_agreement(path)])
    store = tmp_path / "log.db"
    assert run("observe", "add", "--kind", "working-group.meeting", "--date", "2021-01-30", "--actor", "RU",
               "--source", "x", "--source-party", "RU", "--store", str(store)).exit_code == 0
    line = one_error_line(run("track", str(path), "--store", str(store)), "--agreement", "declared differently")
    assert "window_days" in line
    assert json.loads(run("--store", str(store), "check", "--format", "json").stdout)["agreements"] == list(PROCESS)


def test_tracking_an_agreement_whose_obligation_ids_collide_is_refused(tmp_path):
    path = _variant_clause_file(tmp_path, lambda data: data.update(id="variant"))
    store = tmp_path / "log.db"
    assert run("observe", "add", "--kind", "working-group.meeting", "--date", "2021-01-30", "--actor", "RU",
               "--source", "x", "--source-party", "RU", "--store", str(store)).exit_code == 0
    before = run("observe", "export", "--store", str(store)).stdout
    one_error_line(run("track", str(path), "--store", str(store)), "--agreement", "J1-working-group",
                   "also an obligation of jan-11-2021")
    assert run("observe", "export", "--store", str(store)).stdout == before  # nothing written


# ---- a store written before the process ---------------------------------------------------------------


def test_a_store_of_one_agreement_written_by_an_earlier_version_opens_tracks_and_checks(tmp_path):
    """tests/fixtures/store-v1.db was written by the version before stores tracked several agreements (commit
    c9ceaa6): schema 1, meta agreement nov-10-2020, two observations and a retraction of the first."""
    path = tmp_path / "old.db"
    shutil.copy(FIXTURES / "store-v1.db", path)
    with sqlite3.connect(path) as db:
        assert dict(db.execute("SELECT key, value FROM meta"))["schema"] == "1"
    first = json.loads(run("--store", str(path), "check", "--as-of", "2021-07-31", "--format", "json").stdout)
    assert (FIXTURES / "store-v1.db").read_bytes() == path.read_bytes()  # a read leaves the file as it was
    assert first["agreement"] == "nov-10-2020" and first["agreements"] == ["nov-10-2020"]
    assert run("--store", str(path), "verify").exit_code == 0
    # jan-11-2021 is not tracked: a write of its kinds is refused until it is
    one_error_line(run("observe", "add", "--kind", "working-group.meeting", "--date", "2021-01-30", "--actor", "RU",
                       "--source", "Russian government", "--source-party", "RU", "--store", str(path)),
                   "kind", "working-group.meeting")
    tracked = run("track", "jan-11-2021", "--store", str(path))
    assert tracked.exit_code == 0, tracked.stderr
    assert run("observe", "add", "--kind", "working-group.meeting", "--date", "2021-01-30", "--actor", "RU",
               "--source", "Russian government", "--source-party", "RU", "--store", str(path)).exit_code == 0
    after = json.loads(run("--store", str(path), "check", "--as-of", "2021-07-31", "--format", "json").stdout)
    assert after["agreements"] == ["nov-10-2020", "jan-11-2021"] and "agreement" not in after
    verdicts = {(o["id"], o["bearer"]): o["verdict"] for o in after["obligations"]}
    assert verdicts[("J2-first-meeting", "AM")] == "compliant"
    assert verdicts[("J3-project-lists", "AM")] == "overdue"  # due 2021-02-28, nothing submitted
    # the earlier observations are still there and still judged: 2 (the breach of 13 July) is live, 1 retracted
    assert verdicts[("P1-ceasefire-AM", "AM")] == "alleged"
    assert run("--store", str(path), "verify").exit_code == 0
    with sqlite3.connect(path) as db:
        assert dict(db.execute("SELECT key, value FROM meta"))["schema"] == SCHEMA_VERSION  # migrated on its write
    listed = run("--store", str(path), "observe", "list").stdout
    assert re.search(r"^\s+2\s+2021-07-13", listed, re.M) and not re.search(r"^\s+1\s+2021-01-30", listed, re.M)


# ---- reports -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def process_reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("process-reports")
    paths = write_reports(Store.sample(), out, start="2021-10", end="2021-12", today=TODAY, charts=False,
                          generated_at="2025-01-01T00:00:00Z")
    return out, paths


def test_one_report_per_agreement_in_force_and_period(process_reports):
    out, paths = process_reports
    assert [p.name for p in paths] == [
        "nov-10-2020-2021-10.md", "jan-11-2021-2021-10.md",
        "nov-10-2020-2021-11.md", "jan-11-2021-2021-11.md", "nov-26-2021-2021-11.md",
        "nov-10-2020-2021-12.md", "jan-11-2021-2021-12.md", "nov-26-2021-2021-12.md", "index.md"]


def test_the_index_lists_every_report_by_period_with_the_process_summary_first(process_reports):
    out, _ = process_reports
    index = (out / "index.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", index, re.M)
    assert sections[:2] == ["The process in 2021-12", "Monthly reports"]
    monthly = index.split("## Monthly reports", 1)[1]
    assert "| period | dates | as of | nov-10-2020 | jan-11-2021 | nov-26-2021 | log digest |" in monthly
    rows = [line for line in monthly.splitlines() if line.startswith("| 2021-")]
    assert [row.split("|")[1].strip() for row in rows] == ["2021-10", "2021-11", "2021-12"]
    assert rows[0].split("|")[6].strip() == "—"  # nov-26-2021 was not in force in October 2021
    assert "[report](nov-26-2021-2021-11.md)" in rows[1]
    latest = index.split("## The process in 2021-12", 1)[1].split("## Monthly reports")[0]
    assert "[jan-11-2021](jan-11-2021-2021-12.md) | **overdue**: J3-project-lists (AM, AZ, RU), " \
           "J4-infrastructure-list (AM, AZ, RU) |" in latest


def test_a_report_opens_with_the_process_and_links_obligations_both_ways(process_reports):
    out, _ = process_reports
    nov10 = (out / "nov-10-2020-2021-12.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", nov10, re.M)
    assert sections[:3] == ["The process in 2021-12", "Findings", "Summary"]
    process = nov10.split("## The process in 2021-12", 1)[1].split("## Findings")[0]
    assert "| [nov-10-2020](nov-10-2020-2021-12.md) (this report) |" in process
    assert "| [nov-26-2021](nov-26-2021-2021-12.md) | none | none since 2021-11 |" in process
    p9 = nov10.split("### P9-transport-links", 1)[1].split("### ")[0]
    assert "Implemented by (verdicts in 2021-12):" in p9
    assert "- [jan-11-2021/J2-first-meeting](jan-11-2021-2021-12.md): compliant" in p9
    assert "- [jan-11-2021/J4-infrastructure-list](jan-11-2021-2021-12.md): overdue" in p9
    assert "- [nov-26-2021/S1-reaffirmation](nov-26-2021-2021-12.md): not-assessed" in p9
    jan11 = (out / "jan-11-2021-2021-12.md").read_text(encoding="utf-8")
    j2 = jan11.split("### J2-first-meeting", 1)[1].split("### ")[0]
    assert "Implements (verdicts in 2021-12):" in j2
    assert re.search(r"- \[nov-10-2020/P9-transport-links\]\(nov-10-2020-2021-12\.md\): \S", j2)
    # before the Sochi statement, nothing links to it yet
    october = (out / "jan-11-2021-2021-10.md").read_text(encoding="utf-8")
    assert "nov-26-2021/S1-reaffirmation" not in october


def test_a_not_assessed_provision_is_shown_with_its_text_and_reason(process_reports):
    out, _ = process_reports
    sochi = (out / "nov-26-2021-2021-12.md").read_text(encoding="utf-8")
    s2 = sochi.split("### S2-border-stability", 1)[1].split("### ")[0]
    assert "> We agreed to take steps to increase the level of stability and security on the" in s2.replace("\n", " ") \
        or "stability and security" in s2
    assert "| not-assessed |" in s2
    summary = sochi.split("## Summary", 1)[1].split("## ")[0]
    assert "| S2-border-stability: " in summary and "| not-assessed | not-assessed |" in summary
    findings = sochi.split("## Findings", 1)[1].split("## ")[0]
    assert "not-assessed" not in findings  # not a finding, and never compliant
    assert "| not-assessed | a provision no observation can test" in sochi


def test_a_report_lists_only_its_agreements_observations(process_reports):
    out, _ = process_reports
    jan11 = (out / "jan-11-2021-2021-12.md").read_text(encoding="utf-8")
    observed = jan11.split("## Observations dated in the period", 1)[1]
    assert "ceasefire.breach" not in observed


def test_reports_of_chosen_agreements(tmp_path):
    paths = write_reports(Store.sample(), tmp_path, period="2021-12", today=TODAY, charts=False,
                          agreements=["jan-11-2021"])
    assert [p.name for p in paths] == ["jan-11-2021-2021-12.md", "index.md"]
    text = paths[0].read_text(encoding="utf-8")
    assert "## The process in" not in text  # one agreement: no process summary
    assert "[nov-10-2020/P9-transport-links](" not in text  # linked, with its verdict, but no file to link to
    assert re.search(r"- nov-10-2020/P9-transport-links: (compliant|alleged|disputed|violated)", text)
    with pytest.raises(InputError, match="ends before the agreement entered into force on 2021-11-26"):
        write_reports(Store.sample(), tmp_path, period="2021-10", today=TODAY, charts=False, agreements=["nov-26-2021"])


def test_the_report_command_takes_agreement(tmp_path):
    result = run("--store", "sample", "report", "--period", "2021-12", "--out", str(tmp_path), "--agreement",
                 "nov-26-2021", env={"COMPLIANCE_TODAY": TODAY.isoformat(), "MPLBACKEND": "Agg"})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [str(tmp_path / "nov-26-2021-2021-12.md"), str(tmp_path / "index.md")]
    one_error_line(run("--store", "sample", "report", "--period", "2020-12", "--out", str(tmp_path), "--agreement",
                       "jan-11-2021", env={"COMPLIANCE_TODAY": TODAY.isoformat()}), "--period", "entered into force")
