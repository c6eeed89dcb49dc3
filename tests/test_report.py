"""`compliance report`: golden report, escaping, periods, change column, re-run identity, index, CLI errors.

The golden report is tests/golden/nov-10-2020-2021-07.md; after an intended change to the report's
format, regenerate it with `COMPLIANCE_UPDATE_GOLDEN=1 pytest tests/test_report.py -k golden` (the test then
rewrites the file and skips) and review the diff. A normal run never writes it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compliance.cli import app
from compliance.errors import InputError
from compliance.exchange import observation_record, read_jsonl
from compliance.render import escape_markdown
from compliance.report import GENERATED_PREFIX, write_reports
from compliance.store import Store

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "report_log.jsonl"
GOLDEN = HERE / "golden" / "nov-10-2020-2021-07.md"
TODAY = dt.date(2025, 1, 1)
GENERATED = "2025-01-01T00:00:00Z"
_PIPE = re.compile(r"(?<!\\)\|")


def fixture_store(agreement, extra: list[dict] | None = None) -> Store:
    """The fixed report log restored into memory, then any extra observations appended."""
    store = Store.memory(agreement)
    store.append(read_jsonl(FIXTURE.read_text(encoding="utf-8").splitlines(), agreement, str(FIXTURE)), "test")
    for fields in extra or []:
        store.append([observation_record(fields, agreement)], "test")
    return store


def without_generated(text: str) -> str:
    lines = text.splitlines(keepends=True)
    assert sum(line.startswith(GENERATED_PREFIX) for line in lines) == 1
    return "".join(line for line in lines if not line.startswith(GENERATED_PREFIX))


def table_rows(text: str) -> list[list[str]]:
    """Every markdown table row, split on unescaped pipes (the leading and trailing empty parts dropped)."""
    return [_PIPE.split(line)[1:-1] for line in text.splitlines() if line.startswith("|")]


def section(text: str, title: str) -> str:
    """The text of one '## ' section."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def summary(text: str) -> dict[tuple[str, str], list[str]]:
    """{(obligation ID, bearer): [period verdict, cumulative verdict, change]} from the summary table."""
    rows = table_rows(section(text, "Summary"))[2:]
    return {(cells[1].strip().split(":")[0], cells[2].strip()): [c.strip() for c in cells[3:6]] for cells in rows}


@pytest.fixture(scope="module")
def series_runs(tmp_path_factory, agreement):
    """The same monthly series (2021-06, 2021-07) written twice from the same log, charts included."""
    runs = []
    for name in ("first", "second"):
        out = tmp_path_factory.mktemp(name)
        paths = write_reports(fixture_store(agreement), out, start="2021-06", end="2021-07", every="month",
                              today=TODAY, generated_at=GENERATED if name == "first" else "2099-12-31T23:59:59Z")
        runs.append((out, paths))
    return runs


# ---- golden ------------------------------------------------------------------------------------


def test_golden_report(series_runs):
    out, _paths = series_runs[0]
    text = (out / "nov-10-2020-2021-07.md").read_text(encoding="utf-8")
    if os.environ.get("COMPLIANCE_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8", newline="\n")
        pytest.skip(f"{GOLDEN} rewritten (COMPLIANCE_UPDATE_GOLDEN=1): review the diff")
    assert without_generated(text) == without_generated(GOLDEN.read_text(encoding="utf-8"))


def test_report_header_and_summary(series_runs):
    out, _ = series_runs[0]
    text = (out / "nov-10-2020-2021-07.md").read_text(encoding="utf-8")
    assert text.splitlines()[1] == "# nov-10-2020: compliance report for 2021-07"
    assert "- Period: **2021-07**, 2021-07-01 to 2021-07-31" in text
    assert "- As of: **2021-07-31**, the period's last day" in text
    assert "- Log digest: `sha256:cc76c56c245bf5c49ec56fef8720e451a3d2eaa219dd8649f448b892e6f28382`" in text
    rows = summary(text)
    assert len(rows) == 19  # the joint obligations (P4-term, P6-new-route-plan, P7) have one row for both bearers
    assert rows[("P1-ceasefire-AM", "AM")] == ["violated", "violated", "compliant → violated"]
    assert rows[("P1-ceasefire-AZ", "AZ")] == ["compliant", "alleged", "alleged → compliant"]
    assert rows[("P3-personnel-cap", "RU")] == ["alleged", "alleged", "unknown → alleged"]
    assert rows[("P9-transport-links", "AM")] == ["disputed", "disputed", "compliant → disputed"]
    assert rows[("P2-aghdam-return", "AM")] == ["compliant", "compliant", "unchanged"]
    assert rows[("P6-new-route-plan", "AM, AZ")] == ["pending", "pending", "unchanged"]


def test_sections_terms_evidence_and_deadlines(series_runs):
    out, _ = series_runs[0]
    text = (out / "nov-10-2020-2021-07.md").read_text(encoding="utf-8")
    for point in range(1, 10):
        assert f"\n## Point {point}\n" in text
    point6 = section(text, "Point 6")
    assert "| deadline | 2020-11-25 (inclusive) | 2020-11-15 |" in point6
    assert "nov-10-2020-A1: 2020-11-25, agreed 2020-11-15 by AZ at the request of AM, relayed by RU" in point6
    assert "> The Republic of Armenia shall cede the Kalbajar District" in point6
    point1 = section(text, "Point 1")
    # the decisive evidence of the violation, with the correction that replaced observation 11
    assert "| 10 | 2021-07-13 | AM | ceasefire.breach, conflict-zone, at Shusha direction |" in point1
    assert "| 13 (corrects 11) | 2021-07-13 | AM |" in point1
    assert "[example.org](https://example.org/az-mod/2021-07-14?lang=en&amp;page=2)" in point1
    outside = section(text, "Observations no obligation reads")
    assert [r[0].strip() for r in table_rows(outside)[2:]] == ["12"]
    assert "ceasefire.breach, state-border, at Tovuz direction" in outside
    upcoming = table_rows(section(text, "Upcoming deadlines and notice dates"))[2:]
    assert [(r[0].strip(), r[1].split(":")[0].strip()) for r in upcoming] == [
        ("2023-11-10", "P6-new-route-plan"), ("2025-05-10", "P4-term"), ("2025-11-10", "P4-term")]
    assert upcoming[0][2].strip() == "AM, AZ"
    observed = table_rows(section(text, "Observations dated in the period"))[2:]
    # dated in July, live: the retracted 16 and the superseded 11 are left out
    assert [r[0].strip() for r in observed] == ["9", "10", "13 (corrects 11)", "12", "14", "15"]


def test_previous_period_before_entry_into_force_is_new(agreement, tmp_path):
    (path, *_rest) = write_reports(fixture_store(agreement), tmp_path, period="2020-11", today=TODAY, charts=False)
    text = path.read_text(encoding="utf-8")
    changes = {row[2] for row in summary(text).values()}
    assert changes == {"new"}
    assert "ended before the agreement entered into force" in text
    assert "the agreement entered into force on 2020-11-10, so the period's verdicts count from then" in text


# ---- escaping ----------------------------------------------------------------------------------


NASTY = "pipe | in notes\nsecond line <script>alert(1)</script> & more\n\tthird | line"
LONG = ("a|b <i>c</i> & d\n" * 700)[:9_999] + "z"


def test_observation_text_is_escaped(agreement, tmp_path):
    extra = [
        {"kind": "ceasefire.breach", "date": "2021-07-20", "actor": "AZ", "source": "outlet | <b>bold</b>",
         "source_party": "AM", "place": "village\nwith a newline", "notes": NASTY,
         "url": "https://evil.example/x)](javascript:alert(1)"},  # javascript: itself is refused on input
        {"kind": "ceasefire.breach", "date": "2021-07-21", "actor": "AZ", "source": "long notes",
         "source_party": "AM", "notes": LONG},
    ]
    assert len(LONG) == 10_000
    (path, *_rest) = write_reports(fixture_store(agreement, extra), tmp_path, period="2021-07", today=TODAY,
                                   charts=False)
    text = path.read_text(encoding="utf-8")
    assert "<script>" not in text and "<b>" not in text and "<i>" not in text
    assert escape_markdown(NASTY) in text
    assert "outlet \\| &lt;b&gt;bold&lt;/b&gt;" in text
    assert "javascript:alert(1)" in text and "](javascript" not in text
    # the 10,000-character notes stay on one table row
    long_rows = [line for line in text.splitlines() if escape_markdown(LONG) in line]
    assert long_rows and all(line.startswith("| ") and line.endswith(" |") for line in long_rows)
    # no table anywhere has a row with more or fewer cells than its header
    for block in re.split(r"\n\n", text):
        rows = table_rows(block)
        if rows:
            assert {len(r) for r in rows} == {len(rows[0])}, block[:200]


def test_escaped_report_renders_to_html(agreement, tmp_path):
    markdown_it = pytest.importorskip("markdown_it")
    extra = [{"kind": "ceasefire.breach", "date": "2021-07-20", "actor": "AZ", "source": "x", "source_party": "AM",
              "notes": NASTY}]
    (path, *_rest) = write_reports(fixture_store(agreement, extra), tmp_path, period="2021-07", today=TODAY,
                                   charts=False)
    text = path.read_text(encoding="utf-8")
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    separators = [line for line in table_lines if re.fullmatch(r"\|(---\|)+", line)]
    assert html.count("<tr>") == len(table_lines) - len(separators)


# ---- periods and dates -------------------------------------------------------------------------


def test_unfinished_period_is_reported_as_of_today(agreement, tmp_path):
    (path, *_rest) = write_reports(fixture_store(agreement), tmp_path, period="2021-07", today=dt.date(2021, 7, 15),
                                   charts=False)
    text = path.read_text(encoding="utf-8")
    assert "- As of: **2021-07-15** (today). This period has not ended: it runs to 2021-07-31" in text
    assert '"as_of": "2021-07-15"' in text.splitlines()[0]
    observed = [r[0].strip() for r in table_rows(section(text, "Observations dated in the period"))[2:]]
    assert observed == ["9", "10", "13 (corrects 11)", "12"]   # 14 and 15 are dated 2021-07-20


def test_quarter_report_reads_the_whole_quarter(agreement, tmp_path):
    (path, *_rest) = write_reports(fixture_store(agreement), tmp_path, period="2021-Q3", today=TODAY, charts=False)
    assert path.name == "nov-10-2020-2021-Q3.md"
    text = path.read_text(encoding="utf-8")
    assert "- Period: **2021-Q3**, 2021-07-01 to 2021-09-30" in text
    assert "- As of: **2021-09-30**, the period's last day" in text
    rows = summary(text)
    assert rows[("P1-ceasefire-AZ", "AZ")][0] == "alleged"            # 18 is dated 2021-08-03
    assert rows[("P1-ceasefire-AZ", "AZ")][2] == "unchanged"                # 8 is dated 2021-06-05, in Q2
    assert "Change: compared with the verdicts in the previous period of the same length, 2021-Q2 (2021-04-01 to 2021-06-30)." in text


def test_as_of_report_is_named_by_the_date(agreement, tmp_path):
    (path, *_rest) = write_reports(fixture_store(agreement), tmp_path, as_of="2021-07-15", today=TODAY, charts=False)
    assert path.name == "nov-10-2020-2021-07-15.md"
    text = path.read_text(encoding="utf-8")
    assert "- Period: **2021-07-15**, 2021-07-01 to 2021-07-15 (month to date)" in text
    assert "2021-06-01 to 2021-06-15 (month to date)" in text


def test_periods_that_cannot_be_reported(agreement, tmp_path):
    store = fixture_store(agreement)
    with pytest.raises(InputError) as caught:
        write_reports(store, tmp_path, period="2021-08", today=dt.date(2021, 7, 15), charts=False)
    assert (caught.value.param, caught.value.reason) == ("period", "2021-08 has not begun (today is 2021-07-15)")
    with pytest.raises(InputError, match="entered into force on 2020-11-10"):
        write_reports(store, tmp_path, period="2020-10", today=TODAY, charts=False)
    with pytest.raises(InputError) as caught:
        write_reports(store, tmp_path, period="2021-07", as_of="2021-07-01", today=TODAY, charts=False)
    assert (caught.value.param, caught.value.reason) == ("as_of", "give one of as_of, period or start/end (got as_of, "
                                                              "period)")
    with pytest.raises(InputError) as caught:
        write_reports(store, tmp_path, start="2021-01", today=TODAY, charts=False)
    assert (caught.value.param, caught.value.reason) == ("end", "a series needs both start and end")
    assert not list(tmp_path.iterdir())


# ---- re-runs, charts, index --------------------------------------------------------------------


def test_rerun_is_byte_identical_but_for_the_generated_line(series_runs):
    (first, first_paths), (second, second_paths) = series_runs
    assert [p.name for p in first_paths] == [p.name for p in second_paths]
    for path in first_paths:
        one, two = path.read_bytes(), (second / path.name).read_bytes()
        if path.suffix == ".md" and path.name != "index.md":
            assert one != two     # the generated-at lines differ ...
            assert without_generated(one.decode()) == without_generated(two.decode())   # ... and nothing else
        else:
            assert one == two, path.name
    pngs = [p for p in first_paths if p.suffix == ".png"]
    assert len(pngs) == 5 and all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert all(b"Software" not in p.read_bytes() for p in pngs)


def test_paths_order_and_chart_links(series_runs):
    out, paths = series_runs[0]
    assert [p.name for p in paths] == [
        "nov-10-2020-2021-06.md", "nov-10-2020-2021-07.md", "index.md",
        "nov-10-2020-2021-06-caps.png", "nov-10-2020-2021-06-verdicts.png", "nov-10-2020-2021-07-caps.png",
        "nov-10-2020-2021-07-verdicts.png", "nov-10-2020-verdicts-2021-06-2021-07.png"]
    for name in ("nov-10-2020-2021-06.md", "nov-10-2020-2021-07.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "](nov-10-2020-verdicts-2021-06-2021-07.png)" not in text  # the series is the index's
        assert f"]({name[:-3]}-verdicts.png)" in text  # each report's own grid, up to its own period
        assert f"]({name[:-3]}-caps.png)" in text
    assert "](nov-10-2020-verdicts-2021-06-2021-07.png)" in (out / "index.md").read_text(encoding="utf-8")


def test_index_lists_every_report(agreement, tmp_path):
    store = fixture_store(agreement)
    write_reports(store, tmp_path, period="2021-07", today=TODAY, charts=False)
    write_reports(store, tmp_path, period="2021-Q3", today=TODAY, charts=False)
    (tmp_path / "notes.md").write_text("hand-written\n", encoding="utf-8")
    paths = write_reports(store, tmp_path, as_of="2021-07-15", today=TODAY, charts=False)
    assert [p.name for p in paths] == ["nov-10-2020-2021-07-15.md", "index.md"]
    index = (tmp_path / "index.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+)\)", index)
    assert set(links) == {"nov-10-2020-2021-07.md", "nov-10-2020-2021-Q3.md", "nov-10-2020-2021-07-15.md", "notes.md"}
    assert "## Quarterly reports" in index and "## Monthly reports" in index and "## Reports as of a date" in index
    assert "| 2021-Q3 | 2021-07-01 to 2021-09-30 | 2021-09-30 | [report](nov-10-2020-2021-Q3.md): " in index
    # the process summary leads with the period that ends last (the quarter, to 30 September)
    assert section(index, "The process in 2021-Q3").count("nov-10-2020-2021-Q3.md") == 1


# ---- command line ------------------------------------------------------------------------------


def test_cli_writes_reports_and_prints_paths(agreement, tmp_path):
    db = tmp_path / "log.db"
    store = Store.open(db, agreement, write=True)
    store.append(read_jsonl(FIXTURE.read_text(encoding="utf-8").splitlines(), agreement, str(FIXTURE)), "test")
    store.close()
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["report", "--period", "2021-07", "--out", str(out), "--store", str(db),
                                      "--agreement", "nov-10-2020"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [str(out / "nov-10-2020-2021-07.md"), str(out / "index.md"),
                                          str(out / "nov-10-2020-2021-07-caps.png"),
                                          str(out / "nov-10-2020-2021-07-verdicts.png")]
    text = (out / "nov-10-2020-2021-07.md").read_text(encoding="utf-8")
    assert "`sha256:cc76c56c245bf5c49ec56fef8720e451a3d2eaa219dd8649f448b892e6f28382`" in text


@pytest.mark.parametrize("args, message", [
    (["--period", "2021-13"], "compliance: error: --period: '2021-13' is not a month (YYYY-MM) or quarter (YYYY-Qn)"),
    (["--period", "2021-Q5"], "compliance: error: --period: '2021-Q5' is not a month (YYYY-MM) or quarter (YYYY-Qn)"),
    (["--as-of", "2021-02-30"], "compliance: error: --as-of: 2021-02-30 is not a day of the calendar"),
    (["--from", "2021-01"], "compliance: error: --to: a series needs both --from and --to"),
    (["--every", "month"], "compliance: error: --every: goes with --from and --to"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(app, ["--store", "sample", "report", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr == message + "\n"
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_ending_and_stored_amendment_are_reported(agreement, tmp_path):
    from compliance.exchange import amendment_record, ending_record

    store = fixture_store(agreement)
    store.append([amendment_record({"obligation": "P3-apc-cap", "term": "limit", "value": 120,
                                    "agreed_on": "2021-03-01", "by": "AM,AZ,RU", "source": "joint <statement>"},
                                   agreement),
                  ending_record({"obligation": "P9-nakhchivan-transit", "on": "2021-07-10", "by": "AM",
                                 "source": "notice | press"}, agreement)], "test")
    (path, *_rest) = write_reports(store, tmp_path, period="2021-07", today=TODAY, charts=False)
    text = path.read_text(encoding="utf-8")
    assert summary(text)[("P9-nakhchivan-transit", "AM")][:2] == ["not-in-force", "not-in-force"]
    assert ("Ended: not in force from 2021-07-10 (nov-10-2020-E1, agreed by AM; source: notice \\| press)"
            in section(text, "Point 9"))
    assert ("| limit | 120 armoured personnel carriers | 90 armoured personnel carriers |" in section(text, "Point 3"))
    assert "nov-10-2020-A2: 120 armoured personnel carriers, agreed 2021-03-01 by AM, AZ, RU; source: joint &lt;statement&gt;" in text


def test_as_of_report_title(agreement, tmp_path):
    (path, *_rest) = write_reports(fixture_store(agreement), tmp_path, as_of=dt.date(2021, 7, 15), today=TODAY,
                                   charts=False)
    assert path.read_text(encoding="utf-8").splitlines()[1] == "# nov-10-2020: compliance report as of 2021-07-15"


def test_a_long_period_list_is_cut_at_500_rows_and_counts_the_rest(tmp_path):
    from compliance.clauses import load_agreement
    from compliance.exchange import observation_record
    from compliance.report import write_reports
    from compliance.store import Store

    agreement = load_agreement("nov-10-2020")
    store = Store.memory(agreement)
    store.append([observation_record({"kind": "ceasefire.breach", "date": f"2021-07-{1 + n % 28:02d}", "actor": "AZ",
                                      "source": f"report {n}", "source_party": "AM"}, agreement) for n in range(503)], "t")
    (path, *_rest) = write_reports(store, tmp_path, period="2021-07", charts=False)
    text = path.read_text(encoding="utf-8")
    section = text.split("## Observations dated in the period", 1)[1]
    assert "503 observations of the agreement's kinds dated from 2021-07-01 to 2021-07-31" in section
    assert sum(1 for line in section.splitlines() if line.startswith("| ") and "ceasefire.breach" in line) == 500
    assert "3 more are in the log (`compliance observe list --since 2021-07-01 --until 2021-07-31`)" in section
