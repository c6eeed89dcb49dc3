"""`index.md`: every report in a folder, by period, with the process summary of the latest period first.

The index is built from the folder alone: each report's first line carries its agreement, period, as-of
date, log digest and a brief summary (findings and changes), so reports written by earlier runs are listed
with the ones just written."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from urllib.parse import quote as url_quote

from ..render import escape_markdown as esc
from .gather import ProcessEntry, ReportSummary
from .render import META_PREFIX, PROCESS_HEADERS, _table, process_rows

INDEX = "index.md"
_KIND_TITLES = (("quarter", "Quarterly reports"), ("month", "Monthly reports"), ("to-date", "Reports as of a date"))
_SPAN = re.compile(r"^(\d{4}-(?:\d{2}|Q\d)(?:-\d{2})?)-(\d{4}-(?:\d{2}|Q\d)(?:-\d{2})?)$")


def read_meta(path: Path) -> dict | None:
    """The metadata on a report's first line; None for a file that is not a report."""
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not (first.startswith(META_PREFIX) and first.endswith("-->")):
        return None
    try:
        meta = json.loads(first[len(META_PREFIX):-3])
    except json.JSONDecodeError:
        return None
    return meta if isinstance(meta, dict) else None


def _span(text: str) -> str:
    """'2020-Q4-2023-Q4' as '2020-Q4 to 2023-Q4' (the first and last period of a series chart's name)."""
    found = _SPAN.match(text)
    return f"{found.group(1)} to {found.group(2)}" if found else text


def _date(text: object, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        return default


def _brief(name: str, meta: dict) -> str:
    summary = ReportSummary.from_json(meta.get("summary"))
    link = f"[report]({url_quote(name)})"
    if summary is None:
        return link
    bits = [f"{len(summary.findings)} not compliant"]
    if summary.previous is not None:
        bits.append(f"{len(summary.changes)} changed")
    return f"{link}: {', '.join(bits)}"


def _same(values: list[str]) -> str:
    return values[0] if len(set(values)) == 1 else "differs: see each report"


def render_index(out_dir: str | Path) -> str:
    """The markdown of `index.md`: the process in the latest period, then every report by kind and period (one
    column per agreement), then the verdict charts of series."""
    folder = Path(out_dir)
    periods: dict[tuple[str, str], dict[str, tuple[str, dict]]] = {}
    in_force: dict[str, dt.date] = {}
    others = []
    for path in sorted(folder.glob("*.md")):
        if path.name == INDEX:
            continue
        meta = read_meta(path)
        if meta is None or meta.get("kind") not in dict(_KIND_TITLES) or not isinstance(meta.get("agreement"), str):
            others.append(path.name)
            continue
        agreement = meta["agreement"]
        periods.setdefault((meta["kind"], str(meta.get("period"))), {})[agreement] = (path.name, meta)
        in_force[agreement] = min(in_force.get(agreement, dt.date.max), _date(meta.get("in_force"), dt.date.min))
        process = meta.get("process")
        for other, day in (process.items() if isinstance(process, dict) else ()):
            if isinstance(other, str):
                in_force.setdefault(other, _date(day, dt.date.min))
    agreements = sorted(in_force, key=lambda a: (in_force[a], a))
    charts = sorted(p.name for p in folder.glob("*-verdicts-*.png"))
    lines = ["# Compliance reports", "",
             "Every report in this folder by period, one column per agreement, with its as-of date and the log "
             "digest it read. This index is rewritten each time reports are written here.", ""]
    if periods:
        lines += _latest(periods, agreements, in_force)
    for kind, title in _KIND_TITLES:
        keys = sorted((key for key in periods if key[0] == kind),
                      key=lambda key: (min(str(m.get("start", "")) for _, m in periods[key].values()), key[1]))
        if not keys:
            continue
        rows = []
        for key in keys:
            reports = periods[key]
            metas = [meta for _, meta in reports.values()]
            rows.append([esc(key[1]), esc(_same([f"{m.get('start')} to {m.get('end')}" for m in metas])),
                         esc(_same([str(m.get("as_of")) for m in metas]))]
                        + [_brief(*reports[a]) if a in reports else "—" for a in agreements]
                        + [_same([f"`{esc(m.get('log_digest'))}`" for m in metas])])
        lines += [f"## {title}", ""]
        lines += _table(["period", "dates", "as of", *map(esc, agreements), "log digest"], rows) + [""]
        lines += ["“—”: no report of that agreement for the period (not in force then, or not asked for).", ""]
    for agreement in agreements:
        mine = [c for c in charts if c.startswith(f"{agreement}-verdicts-")]
        if not mine:
            continue
        lines += [f"## Verdicts per period: {esc(agreement)}", ""]
        spans = [_span(name[len(f"{agreement}-verdicts-"):-len(".png")]) for name in mine]
        lines += [f"- [{esc(span)}]({url_quote(name)})" for name, span in zip(mine, spans)] + [""]
        for name, span in zip(mine, spans):
            lines += [f"![Verdicts per period, {esc(agreement)}, {esc(span)}]({url_quote(name)})", ""]
    rest = [c for c in charts if not any(c.startswith(f"{a}-verdicts-") for a in agreements)]
    if others or rest:
        lines += ["## Other files", ""] + [f"- [{esc(name)}]({url_quote(name)})" for name in others + rest] + [""]
    if not periods and not others and not rest:
        lines += ["No reports yet.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _latest(periods: dict[tuple[str, str], dict[str, tuple[str, dict]]], agreements: list[str],
            in_force: dict[str, dt.date]) -> list[str]:
    """The process summary of the latest period reported (the one that ends last; a quarter before a month)."""
    rank = {kind: index for index, (kind, _) in enumerate(_KIND_TITLES)}

    def ends(key: tuple[str, str]) -> tuple:
        metas = [meta for _, meta in periods[key].values()]
        return (max(str(m.get("end", "")) for m in metas), max(str(m.get("as_of", "")) for m in metas), -rank[key[0]])

    key = max(periods, key=ends)
    reports = periods[key]
    end = _date(max(str(m.get("end", "")) for _, m in reports.values()), dt.date.max)
    entries = [ProcessEntry(a, in_force[a], reports[a][0] if a in reports else None,
                            ReportSummary.from_json(reports[a][1].get("summary")) if a in reports else None)
               for a in agreements]
    return ([f"## The process in {esc(key[1])}", "",
             f"The latest period reported: for each agreement, its verdicts in {esc(key[1])} that are not compliant "
             "and the verdicts that changed since the previous period (each report has the reasons and the evidence).",
             ""] + _table(PROCESS_HEADERS, process_rows(entries, end)) + [""])
