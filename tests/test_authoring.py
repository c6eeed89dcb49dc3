"""The authoring guide and its worked example: docs/authoring.md, examples/clauses/minsk-feb-12-2015.yaml and
the what-if scenarios written for it (examples/minsk-*.yaml). The guide's `console` blocks are run by
tests/test_docs.py; here, its Python example and quoted YAML must be true, and the verdicts of the worked example,
derived by hand in the guide, must be the engine's."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from compliance.clauses import load_agreement, parse_agreement, validate_clause_file
from compliance.errors import ClauseFileError
from compliance.whatif import whatif

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "authoring.md"
CLAUSES = ROOT / "examples" / "clauses" / "minsk-feb-12-2015.yaml"
LOG = ROOT / "examples" / "minsk-hypothetical-log.yaml"
READING = ROOT / "examples" / "minsk-50km-reading.yaml"
DRAFT = ROOT / "tests" / "fixtures" / "authoring" / "draft-typo.yaml"
EMPTY = "empty.db"  # the store the guide names: it must not exist, so the log is empty

# The worked example's verdicts as of 2015-03-31, derived by hand (docs/authoring.md, "The worked example's
# verdicts"); (obligation, bearer): verdict.
HAND_DERIVED = {
    ("M1-ceasefire", "UA"): "violated",             # h1 is before 00:00 on 15 Feb; h2 + h3 one matter, h3 independent
    ("M1-ceasefire", "CADLR"): "disputed",          # h4 from UA's side, h5 a denial from CADLR's side the same day
    ("M2-withdrawal", "UA"): "compliant",           # began 16 Feb (due 16 Feb), completed 1 Mar (due 2 Mar)
    ("M2-withdrawal", "CADLR"): "violated",         # began 17 Feb, due 16 Feb: late by 1 day
    ("M2-security-zone", "UA"): "compliant",        # h11 before 3 Mar, h12 152 mm at 40 km >= 25, h13 82 mm < 100 mm
    ("M2-security-zone", "CADLR"): "alleged",       # h14 MLRS at 20 km < 35, one side only
    ("M3-osce-monitoring", "OSCE"): "compliant",    # withdrawal began 16 Feb (UA); monitoring reported 16 Feb
    ("M4-dialogue-elections", None): "not-assessed",
    ("M5-amnesty", None): "not-assessed",
    ("M6-hostage-release", "UA"): "compliant",      # released 7 Mar; the later completion 3 Mar + 5 = 8 Mar
    ("M6-hostage-release", "CADLR"): "overdue",     # no release logged; 8 Mar has passed
    ("M7-humanitarian-access", None): "not-assessed",
    ("M8-socio-economic-ties", None): "not-assessed",
    ("M9-border-control", "UA"): "not-assessed",
    ("M10-foreign-formations", None): "not-assessed",
    ("M11-constitutional-reform", None): "not-assessed",
    ("M12-local-elections", None): "not-assessed",
    ("M13-contact-group", None): "not-assessed",
}


# ---- the guide's examples ------------------------------------------------------------------------------
# (its console blocks are run by tests/test_docs.py, with every other document's)

def test_the_guide_python_example_prints_what_its_comments_say(capsys):
    (block,) = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), flags=re.S | re.M)
    promised = re.findall(r"^print\(.*\)\s+# (.+)$", block, flags=re.M)
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(block, "docs/authoring.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert promised and capsys.readouterr().out.splitlines() == promised
    assert not (ROOT / EMPTY).exists()


def test_yaml_fragments_the_guide_quotes_from_the_examples_are_in_them():
    blocks = re.findall(r"^```yaml\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), flags=re.S | re.M)
    checked = 0
    for block in blocks:
        head, _, body = block.partition("\n")
        found = re.fullmatch(r"# (from|lines from) (\S+)", head)
        if not found:
            continue
        source = (ROOT / found.group(2)).read_text(encoding="utf-8")
        if found.group(1) == "from":
            assert body in source, body
        else:
            lines = set(source.splitlines())
            assert all(line in lines for line in body.splitlines() if line.strip() != "# ..."), body
        checked += 1
    assert checked >= 8


def test_the_guide_table_of_hand_derived_verdicts_is_the_tests():
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## The worked example's verdicts", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (M\d+-[\w-]+) \| (\w+|none) \| `([\w-]+)` \|", section, flags=re.M)
    table = {(ob, None if bearer == "none" else bearer): verdict for ob, bearer, verdict in rows}
    assert table == HAND_DERIVED


# ---- the example clause file ------------------------------------------------------------------------

def test_the_example_loads_and_validates_without_warnings():
    report = validate_clause_file(CLAUSES)
    assert report.warnings == []
    assert [ob.id for ob in report.agreement.obligations][:7] == [
        "M1-ceasefire", "M2-withdrawal", "M2-security-zone", "M3-osce-monitoring", "M4-dialogue-elections",
        "M5-amnesty", "M6-hostage-release"]


def test_every_quote_names_a_version_and_unchecked_ones_say_so():
    agreement = load_agreement(CLAUSES)
    lines = CLAUSES.read_text(encoding="utf-8").splitlines()
    for line in lines:
        if re.match(r"^\s+version: unsc-2202-un\b", line):
            assert "UNCHECKED" in line, line
    checked = {ob.id for ob in agreement.obligations if ob.text.version == "unsc-2202"}
    assert checked == {"M1-ceasefire", "M2-withdrawal", "M2-security-zone", "M3-osce-monitoring",
                       "M4-dialogue-elections"}


def test_the_templates_the_example_defines_are_its_own():
    agreement = load_agreement(CLAUSES)
    assert set(agreement.templates) == {"withdrawal-window"}
    assert agreement.obligation_or_none("M2-withdrawal").template == "withdrawal-window"
    deadline = agreement.obligation_or_none("M2-withdrawal").rule.deadlines["complete"]
    assert deadline.after.event == "began" and deadline.days == "complete_days"


# ---- the worked example's verdicts --------------------------------------------------------------------

@pytest.fixture(scope="module")
def example(tmp_path_factory):
    return whatif(LOG, store=tmp_path_factory.mktemp("empty") / "none.db", agreements=[CLAUSES])


def test_the_hand_derived_verdicts_hold(example):
    got = {(o.id, o.bearer): o.verdict.value for o in example.scenario.obligations}
    assert got == HAND_DERIVED


def test_a_report_timed_before_the_ceasefire_moment_is_not_counted(example):
    ua = example.scenario.verdict_of("M1-ceasefire", "UA")
    result = next(o for o in example.scenario.obligations if o.id == "M1-ceasefire" and o.bearer == "UA")
    assert ua.value == "violated" and result.evidence == ["h2", "h3"] and result.evidence_count == 2


def test_completion_counts_from_the_day_the_withdrawal_began(example):
    by_bearer = {o.bearer: o for o in example.scenario.obligations if o.id == "M2-withdrawal"}
    assert by_bearer["UA"].due == "2015-03-02"      # began 16 Feb + 14 days
    assert by_bearer["CADLR"].due == "2015-03-03"   # began 17 Feb + 14 days
    assert "began late" in by_bearer["CADLR"].reason and "late by 1 day" in by_bearer["CADLR"].reason


def test_positions_are_compared_with_the_terms_by_class(example):
    zone = {o.bearer: o for o in example.scenario.obligations if o.id == "M2-security-zone"}
    assert zone["UA"].evidence_count == 2           # h12 and h13; h11 is before 3 March
    assert zone["CADLR"].evidence == ["h14"]


def test_the_release_counts_from_the_later_completed_withdrawal(example):
    release = {o.bearer: o for o in example.scenario.obligations if o.id == "M6-hostage-release"}
    assert "deadline 2015-03-08 (5 days after cadlr-withdrawal-completed on 2015-03-03" in release["UA"].reason
    # released on 7 March: late for UA's own completion (1 March + 5), in time for the later one
    assert release["UA"].verdict.value == "compliant"


def test_due_of_two_deadlines_read_together_is_the_later_day(example):
    release = {o.bearer: o for o in example.scenario.obligations if o.id == "M6-hostage-release"}
    assert release["CADLR"].due == "2015-03-08"    # `due: latest`: 3 March (CADLR's completion) + 5, not 1 March + 5


def test_the_monitoring_deadline_counts_from_the_first_side_to_begin(example):
    monitoring = next(o for o in example.scenario.obligations if o.id == "M3-osce-monitoring")
    assert monitoring.due == "2015-02-16" and monitoring.evidence == ["h8"]


def test_the_other_reading_of_the_zone_width_changes_one_verdict(tmp_path):
    result = whatif(READING, store=tmp_path / "none.db", agreements=[CLAUSES])
    assert [(c.id, c.bearer, c.from_.value, c.to.value) for c in result.changes] == [
        ("M2-security-zone", "UA", "compliant", "violated")]
    added = [{key: value for key, value in entry.items() if key != "id"} for entry in result.normalised_scenario["add"]]
    without = whatif({"as_of": "2015-03-31", "add": added}, store=tmp_path / "none.db", agreements=[CLAUSES])
    assert without.changes == []


def test_the_scenarios_are_labelled_hypothetical():
    for path in (LOG, READING):
        text = path.read_text(encoding="utf-8")
        sources = re.findall(r"source: ([^,}]+)", text)
        assert sources and all(s.startswith("hypothetical") for s in sources), path


# ---- the guide's table of mistakes ----------------------------------------------------------------------

MISTAKES = [
    ("kind: ceasefire.violation}", "knd: ceasefire.violation}",
     "draft.yaml:35: obligations.0.rule: template 'prohibition' has no parameter 'knd' (parameters: kind, subject)"),
    ("window_days: 1", "window_days: one",
     "draft.yaml:23: kinds.ceasefire.violation.window_days: Input should be a valid integer, unable to parse string "
     "as an integer"),
    ("    window_days: 1\n", "    window_days: 1\n    window_days: 2\n",
     "draft.yaml:24: kinds.ceasefire.violation.window_days: not valid YAML: duplicate key 'window_days' (first on line 23)"),
    ("version: unsc-2202\n    rule", "version: unsc2202\n    rule",
     "draft.yaml:26: obligations.0: unknown text version 'unsc2202'"),
    ("bearers: [UA, CADLR]", "bearers: [UA, CADRL]",
     "draft.yaml:26: obligations.0: bearer 'CADRL' is neither a party nor a declared actor (UA, CADLR)"),
    ("timezone: Europe/Kyiv", "timezone: Kyiv",
     "draft.yaml:7: timezone: unknown time zone 'Kyiv'; use an offset such as '+03:00' or an IANA name"),
]


@pytest.mark.parametrize("old, new, message", MISTAKES, ids=[m[2].split(": ", 2)[1] for m in MISTAKES])
def test_the_guide_table_of_mistakes_gives_these_messages(tmp_path, old, new, message):
    text = DRAFT.read_text(encoding="utf-8").replace("kind: ceasefire.violations}", "kind: ceasefire.violation}")
    assert old in text
    with pytest.raises(ClauseFileError) as caught:
        parse_agreement(text.replace(old, new, 1), "draft.yaml")
    assert str(caught.value) == message
    assert message in GUIDE.read_text(encoding="utf-8")


def test_since_in_a_reason_is_where_the_rule_starts(example):
    zone = {o.bearer: o for o in example.scenario.obligations if o.id == "M2-security-zone"}
    # `starts: zone_from` (3 March): the reason's period starts there, not at entry into force (15 February)
    assert "from 2015-03-03 to 2015-03-31" in zone["UA"].reason
