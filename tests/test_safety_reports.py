"""Reports: a report shows nothing after its own as-of date and is the same file alone or in a series; --as-of a
future date is treated like a future --period; a findings block leads; observation text renders as text; charts
that can be read (cap label clear of the bars, x-axis where the data starts, long grids split by year, a y-axis
that separates a count just above the cap from the cap)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from compliance import charts
from compliance.clauses import load_agreement
from compliance.errors import InputError
from compliance.exchange import observation_record, read_jsonl
from compliance.periods import month, quarter
from compliance.render import escape_markdown
from compliance.report import CapPanel, GENERATED_PREFIX, write_reports
from compliance.store import Store

AGREEMENT = load_agreement("nov-10-2020")
FIXTURE = Path(__file__).parent / "fixtures" / "report_log.jsonl"
TODAY = dt.date(2025, 1, 1)


def fixture_store(extra: list[dict] | None = None) -> Store:
    store = Store.memory(AGREEMENT)
    store.append(read_jsonl(FIXTURE.read_text(encoding="utf-8").splitlines(), AGREEMENT, str(FIXTURE)), "test")
    for fields in extra or []:
        store.append([observation_record(fields, AGREEMENT)], "test")
    return store


def sample() -> Store:
    return Store.sample(AGREEMENT)


def without_generated(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(GENERATED_PREFIX))


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


# ---- a report in a series is the report written alone -------------------------------------------


@pytest.mark.parametrize("every, label, start, end", [("quarter", "2021-Q3", "2021-Q2", "2022-Q1"),
                                                    ("month", "2021-07", "2021-06", "2021-08")])
def test_a_period_alone_or_in_a_series_gives_the_same_files(tmp_path, every, label, start, end):
    series_paths = write_reports(sample(), tmp_path / "series", start=start, end=end, every=every,
                                 today=TODAY, generated_at="2025-01-01T00:00:00Z")
    alone_paths = write_reports(sample(), tmp_path / "alone", period=label, today=TODAY,
                                generated_at="2099-01-01T00:00:00Z")
    name = f"nov-10-2020-{label}.md"
    in_series = (tmp_path / "series" / name).read_text(encoding="utf-8")
    alone = (tmp_path / "alone" / name).read_text(encoding="utf-8")
    assert in_series != alone  # the generated-at line
    assert without_generated(in_series) == without_generated(alone)
    for chart in (p.name for p in alone_paths if p.suffix == ".png"):  # the charts it embeds, byte for byte
        assert (tmp_path / "series" / chart).read_bytes() == (tmp_path / "alone" / chart).read_bytes(), chart
    assert {p.name for p in alone_paths if p.suffix == ".png"} <= {p.name for p in series_paths}


def test_a_report_in_a_series_shows_nothing_after_its_own_date(tmp_path):
    write_reports(sample(), tmp_path, start="2021-Q3", end="2022-Q2", every="quarter", today=TODAY, charts=True)
    text = (tmp_path / "nov-10-2020-2021-Q3.md").read_text(encoding="utf-8")
    charts_section = section(text, "Charts")
    assert "nov-10-2020-verdicts-2021-Q3-2022-Q2.png" not in text
    assert "](nov-10-2020-2021-Q3-verdicts.png)" in charts_section and "2020-Q4 to 2021-Q3" in charts_section
    # every observation shown (evidence tables: ID, then date) is dated on or before the report's as-of date
    dated = re.findall(r"^\| \d+(?: \(corrects \d+\))? \| (\d{4}-\d{2}-\d{2})", text, re.M)
    assert dated and max(dated) <= "2021-09-30"
    observed = section(text, "Observations dated in the period")
    assert all("2021-07-01" <= day <= "2021-09-30" for day in re.findall(r"\| (\d{4}-\d{2}-\d{2}) \|", observed))


# ---- --as-of a future date ----------------------------------------------------------------------


def test_as_of_a_future_date_is_reported_as_of_today(tmp_path):
    (path, *_rest) = write_reports(fixture_store(), tmp_path, as_of="2021-07-20", today=dt.date(2021, 7, 15),
                                   charts=False)
    text = path.read_text(encoding="utf-8")
    assert "- As of: **2021-07-15** (today). This period has not ended: it runs to 2021-07-20" in text
    assert '"as_of": "2021-07-15"' in text.splitlines()[0]
    assert "2021-07-20 |" not in section(text, "Observations dated in the period")


def test_as_of_a_date_whose_month_has_not_begun_is_refused(tmp_path):
    with pytest.raises(InputError) as caught:
        write_reports(fixture_store(), tmp_path, as_of="2021-08-03", today=dt.date(2021, 7, 15), charts=False)
    assert (caught.value.param, caught.value.reason) == ("as_of", "2021-08-03 has not begun (today is 2021-07-15)")
    assert not list(tmp_path.iterdir())


# ---- findings ----------------------------------------------------------------------------------


def test_the_findings_block_leads_in_order_of_seriousness(tmp_path):
    (path, *_rest) = write_reports(fixture_store(), tmp_path, period="2021-07", today=TODAY, charts=False)
    text = path.read_text(encoding="utf-8")
    assert text.index("## Findings") < text.index("## Summary")
    findings = section(text, "Findings")
    verdicts = re.findall(r"^- \*\*(\w+)\*\*: (\S+)", findings, re.M)
    assert verdicts == [("violated", "P1-ceasefire-AM"), ("alleged", "P3-personnel-cap"),
                        ("disputed", "P9-transport-links")]
    changes = re.findall(r"^- (\S+) \((\w+)\): (\S+) → \*\*(\S+)\*\*$", findings, re.M)
    assert changes == [("P1-ceasefire-AM", "AM", "compliant", "violated"), ("P3-personnel-cap", "RU", "unknown", "alleged"),
                       ("P9-transport-links", "AM", "compliant", "disputed"), ("P1-ceasefire-AZ", "AZ", "alleged", "compliant")]


def test_findings_group_the_bearers_of_one_obligation(tmp_path):
    (path, *_rest) = write_reports(sample(), tmp_path, period="2023-Q3", today=TODAY, charts=False)
    findings = section(path.read_text(encoding="utf-8"), "Findings")
    lines = [line for line in findings.splitlines() if line.startswith("- **")]
    ids = [re.match(r"- \*\*\w+\*\*: (\S+)", line).group(1) for line in lines]
    assert len(ids) == len(set(ids))


def test_findings_when_nothing_is_wrong_or_nothing_changed(tmp_path):
    (path, *_rest) = write_reports(fixture_store(), tmp_path, period="2020-11", today=TODAY, charts=False)
    findings = section(path.read_text(encoding="utf-8"), "Findings")
    assert "No change to report: the previous period of the same length (2020-10) ended before" in findings


def test_a_shared_reading_is_not_repeated(tmp_path):
    (path, *_rest) = write_reports(fixture_store(), tmp_path, period="2021-07", today=TODAY, charts=False)
    point1 = section(path.read_text(encoding="utf-8"), "Point 1")
    assert point1.count("Reading: The statement covers") == 1 and "Reading: as above." in point1


# ---- text --------------------------------------------------------------------------------------


def test_markdown_in_observation_text_renders_as_text(tmp_path):
    markdown_it = pytest.importorskip("markdown_it")
    notes = "**bold** _italic_ `code` ~~gone~~ [link](https://evil.example) ![img](https://evil.example/i.png) a\\b"
    (path, *_rest) = write_reports(fixture_store([
        {"kind": "ceasefire.breach", "date": "2021-07-20", "actor": "AZ", "source": "*outlet*", "source_party": "AM",
         "notes": notes, "place": "__Sotk__"}]), tmp_path, period="2021-07", today=TODAY, charts=False)
    text = path.read_text(encoding="utf-8")
    assert escape_markdown(notes) in text
    html = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    for tag in ("<strong>bold", "<em>italic", "<code>code", "<s>gone", "<del>gone", 'href="https://evil',
                'src="https://evil', "<em>outlet", "<strong>Sotk"):
        assert tag not in html, tag
    assert "**bold** _italic_ `code` ~~gone~~ [link](https://evil.example)" in html


def test_a_link_that_is_not_safe_is_not_clickable(tmp_path):
    (path, *_rest) = write_reports(fixture_store([
        {"kind": "ceasefire.breach", "date": "2021-07-20", "actor": "AZ", "source": "x", "source_party": "AM",
         "url": "https://evil.example/a)(b"}]), tmp_path, period="2021-07", today=TODAY, charts=False)
    text = path.read_text(encoding="utf-8")
    assert "](https://evil.example" not in text


def test_wording(tmp_path):
    (path, *_rest) = write_reports(fixture_store([
        {"kind": "ceasefire.breach", "date": "2021-07-20", "actor": "AZ", "source": "x", "source_party": "AM",
         "place": "near Sotk", "subject": "state-border"}]), tmp_path, period="2021-07", today=TODAY, charts=False)
    text = path.read_text(encoding="utf-8")
    assert "at near Sotk" not in text and "state-border, near Sotk" in text
    assert "at Shusha direction" in text
    assert "(of " not in text
    assert "| 10, 13; 2 observations considered |" in text and "| 8; 1 observation considered |" in text
    assert "| none |" in text
    (path, *_rest) = write_reports(fixture_store(), tmp_path / "one", period="2021-01", today=TODAY, charts=False)
    observed = section(path.read_text(encoding="utf-8"), "Observations dated in the period")
    assert "1 observation of the agreement's kinds dated from 2021-01-01" in observed and "1 observations" not in observed


# ---- charts ------------------------------------------------------------------------------------


def _panel(points):
    return CapPanel("P3-personnel-cap: contingent.personnel (RU)", "servicemen", [(dt.date(2020, 11, 10), 1960)], points)


def test_the_cap_label_sits_beside_the_panel_clear_of_the_bars():
    points = [(dt.date(2021, 9, 28), 7000, 8000, "AZ-side"), (dt.date(2021, 9, 29), 1900, 2100, "RU")]
    with charts._style():
        figure = charts.caps_figure([_panel(points)], ["AM-side", "AZ-side", "RU", "independent", "other"],
                                    dt.date(2021, 7, 1), dt.date(2021, 9, 30), quarter(dt.date(2021, 7, 1)))
        renderer = figure.canvas.get_renderer()
        ax = figure.axes[0]
        label = next(t for t in ax.texts if t.get_text().startswith("cap"))
        assert label.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1  # outside the data area


def test_the_y_axis_separates_a_count_just_above_the_cap():
    with charts._style():
        figure = charts.caps_figure([_panel([(dt.date(2021, 7, 5), 1990, 1990, "RU")])], ["RU", "independent", "other"],
                                    dt.date(2021, 7, 1), dt.date(2021, 7, 31), month(dt.date(2021, 7, 1)))
    low, high = figure.axes[0].get_ylim()
    assert low > 0 and 1990 < high
    assert (1990 - 1960) / (high - low) > 0.1  # at least a tenth of the panel's height apart


def test_the_x_axis_starts_where_the_counts_of_interest_start(tmp_path):
    from compliance.check import snapshot
    from compliance.report import Evaluator, caps_panels, caps_start, gather
    from compliance.report.gather import Run

    store = sample()
    snap = snapshot(store, dt.date(2023, 12, 31))
    run = Run(store, snap, Evaluator(snap), TODAY, {a.id: a for a in store.process.agreements})
    data = gather(run, snap.agreement, quarter(dt.date(2023, 10, 1)), dt.date(2023, 12, 31))
    assert caps_start(caps_panels(snap, data), data) == dt.date(2023, 10, 1)  # no count in the year before
    data = gather(run, snap.agreement, quarter(dt.date(2022, 4, 1)), dt.date(2022, 6, 30))
    assert caps_start(caps_panels(snap, data), data) == dt.date(2021, 9, 10)  # the range of 2021-09-10


def test_a_long_verdict_grid_is_split_by_year():
    from compliance.check import evaluate_snapshot, snapshot

    result = evaluate_snapshot(snapshot(sample(), dt.date(2021, 12, 31)))
    columns = [(f"{year}-{m:02d}", result) for year in (2020, 2021, 2022) for m in range(1, 13)][10:]  # 2020-11 on
    with charts._style():
        assert len(charts.verdict_figure(AGREEMENT, columns).axes) == 3
        assert len(charts.verdict_figure(AGREEMENT, columns[:12]).axes) == 1
