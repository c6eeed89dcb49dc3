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


def _groups(result: CheckResult) -> list[tuple[str, list]]:
    """The results grouped by agreement, in the order evaluated."""
    groups: dict[str, list] = {}
    for o in result.obligations:
        groups.setdefault(o.agreement, []).append(o)
    return [(agreement, groups.get(agreement, [])) for agreement in (result.agreements or list(groups))]


def _period(result: CheckResult) -> str:
    if result.since:
        return f"period from {result.since}"
    return "each agreement from its entry into force"


def bearer_text(value: str | None) -> str:
    """A result's bearer for a table: its code, or "(none)" for an obligation that names no bearer."""
    return value if value is not None else "(none)"


def check_table(result: CheckResult) -> str:
    """Plain-text tables for the terminal, one per agreement, under a header naming the as-of date and log digest."""
    head = (f"{', '.join(result.agreements)} as of {result.as_of} ({_period(result)})"
            + (f", as recorded at {result.as_recorded}" if result.as_recorded else "")
            + (", original terms (without amendments)" if result.without_amendments else "")
            + f"\nlog {result.log_digest}\n")
    blocks = []
    for agreement, items in _groups(result):
        rows = [(o.id, bearer_text(o.bearer), o.verdict.value, o.due or "", _evidence_cell(o.evidence, o.evidence_count),
                 o.reason) for o in items]
        table = tabulate(rows, headers=["obligation", "bearer", "verdict", "due", "evidence (count)", "reason"],
                         tablefmt="simple", maxcolwidths=[None, None, None, None, 24, 70])
        blocks.append(table if len(result.agreements) == 1 else f"{agreement}\n{table}")
    return head + "\n\n".join(blocks)


def check_markdown(result: CheckResult) -> str:
    """Markdown tables of the verdicts with their reasons and evidence, a section per agreement."""
    title = result.agreement or "the process"
    lines = [f"# {escape_markdown(title)}: compliance as of {result.as_of}", "",
             f"Agreements: {', '.join(result.agreements)}; {_period(result)}"
             + (f", as recorded at {result.as_recorded}" if result.as_recorded else "")
             + (", original terms (without amendments)" if result.without_amendments else "") + ".", "",
             f"Log digest: `{result.log_digest}`", ""]
    for agreement, items in _groups(result):
        if len(result.agreements) > 1:
            lines += [f"## {escape_markdown(agreement)}", ""]
        lines += ["| obligation | bearer | verdict | due | reason | evidence |", "|---|---|---|---|---|---|"]
        for o in items:
            lines.append(f"| {escape_markdown(o.id)} | {escape_markdown(bearer_text(o.bearer))} | **{o.verdict.value}** | "
                         f"{o.due or ''} | {escape_markdown(o.reason)} | "
                         f"{escape_markdown(_evidence_cell(o.evidence, o.evidence_count))} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
