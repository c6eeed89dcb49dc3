"""Rendering check results as a terminal table, markdown or JSON."""

from __future__ import annotations

import json
import re

from tabulate import tabulate

from .verdicts import CheckResult


_MARKDOWN = re.compile(r"([\\`*_~\[\]])")  # backslash, code, emphasis, strikethrough, link brackets


def escape_markdown(text: object) -> str:
    """Make observation text safe inside a markdown table cell: it renders as the text it is. HTML entities, escaped
    pipes, no newlines; emphasis (`*`, `_`, `~`), code spans and link brackets escaped, so no markup and no link."""
    value = "" if text is None else str(text)
    value = _MARKDOWN.sub(r"\\\1", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = value.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return value.replace("](", "]\\(")  # no inline link or image: `![x](http://...)` would load a remote image


def check_json(result: CheckResult) -> str:
    """The JSON `check --format json` prints."""
    return json.dumps(result.to_json_dict(), indent=2, ensure_ascii=False)


def _evidence_cell(ids: list[str], count: int) -> str:
    shown = ", ".join(ids[:6]) + (" …" if len(ids) > 6 else "")
    return f"{shown} ({count})" if shown else f"({count})"


def check_table(result: CheckResult) -> str:
    """A plain-text table for the terminal, with a header naming the as-of date and log digest."""
    rows = [(o.id, o.bearer, o.verdict.value, o.due or "", _evidence_cell(o.evidence, o.evidence_count), o.reason)
            for o in result.obligations]
    head = (f"{result.agreement} as of {result.as_of} (period from {result.since})"
            + (f", as recorded at {result.as_recorded}" if result.as_recorded else "")
            + (", original terms (without amendments)" if result.without_amendments else "")
            + f"\nlog {result.log_digest}\n")
    return head + tabulate(rows, headers=["obligation", "bearer", "verdict", "due", "evidence (count)", "reason"],
                           tablefmt="simple", maxcolwidths=[None, None, None, None, 24, 70])


def check_markdown(result: CheckResult) -> str:
    """A markdown table of the verdicts with their reasons and evidence."""
    lines = [f"# {result.agreement}: compliance as of {result.as_of}", "",
             f"Period from {result.since}" + (f", as recorded at {result.as_recorded}" if result.as_recorded else "")
             + (", original terms (without amendments)" if result.without_amendments else "") + ".", "",
             f"Log digest: `{result.log_digest}`", "",
             "| obligation | bearer | verdict | due | reason | evidence |", "|---|---|---|---|---|---|"]
    for o in result.obligations:
        lines.append(f"| {o.id} | {o.bearer} | **{o.verdict.value}** | {o.due or ''} | {escape_markdown(o.reason)} | "
                     f"{escape_markdown(_evidence_cell(o.evidence, o.evidence_count))} |")
    return "\n".join(lines) + "\n"
