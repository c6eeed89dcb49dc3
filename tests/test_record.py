"""The record, exact (issue 14): every quote names a version with an address and is found word for word
in the stored excerpt of that version (tests/fixtures/official-texts/), or is marked UNCHECKED beside a
version that says it was not stored; no citation points at a local file, every registry alignment
carries its reason, and corrections cite their sources.

The checks read the bundled files themselves (clause files, the sample log and the
source registry); each checker is also run on a small bad input, so that the test can fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from compliance.resources import sample_log
from compliance.sources import bundled_path, parse_registry

ROOT = Path(__file__).resolve().parent.parent
CLAUSE_FILES = sorted((ROOT / "clauses").glob("*.yaml"))
LOCAL_PATH = re.compile(r"(?:\bsources/|\b\d{3}_[0-9a-f]{16}\.txt\b)")
VARIANT_COMMENT = re.compile(r"^\s*# variant: (\{.*\})\s*$")
ADDRESS = re.compile(r"https?://\S+")
EXCERPTS = ROOT / "tests" / "fixtures" / "official-texts"
VERSION_LINE = re.compile(r"\bversion:\s*([\w.-]+)")
NOT_STORED = "NOT among the stored copies"


# ---- checkers -----------------------------------------------------------------------------------


def quote_versions(clause: dict) -> Iterator[tuple[str, str]]:
    """(where, version) for every quote of a clause file: obligation text, its variants, every term."""
    for ob in clause.get("obligations") or []:
        text = ob.get("text") or {}
        if "quote" in text:
            yield f"{ob['id']} text", text.get("version")
        for index, variant in enumerate(text.get("variants") or []):
            yield f"{ob['id']} text.variants[{index}]", variant.get("version")
        for name, term in (ob.get("terms") or {}).items():
            yield f"{ob['id']} terms.{name}", term.get("version")
            for index, variant in enumerate(term.get("variants") or []):
                yield f"{ob['id']} terms.{name}.variants[{index}]", variant.get("version")


def comment_variants(text: str) -> Iterator[tuple[int, dict]]:
    """(line number, mapping) for every `# variant: {...}` comment of a clause file."""
    for number, line in enumerate(text.splitlines(), 1):
        match = VARIANT_COMMENT.match(line)
        if match:
            yield number, yaml.safe_load(match.group(1))


def version_problems(clause: dict, text: str) -> list[str]:
    """Quotes (and term variant comments) whose version is not listed, or is listed without an address."""
    versions = clause.get("versions") or {}
    problems = []
    named = list(quote_versions(clause))
    named += [(f"line {number} # variant", variant.get("version")) for number, variant in comment_variants(text)]
    for where, version in named:
        if version not in versions:
            problems.append(f"{where}: version {version!r} is not under versions:")
        elif not str((versions[version] or {}).get("url") or "").startswith(("http://", "https://")):
            problems.append(f"{where}: version {version!r} has no url")
    return problems


def quoted(clause: dict, text: str = "") -> Iterator[tuple[str, str, str]]:
    """(where, version, quote) for every quote of a clause file, term variants and `# variant` comments included."""
    for ob in clause.get("obligations") or []:
        body = ob.get("text") or {}
        if "quote" in body:
            yield f"{ob['id']} text", body.get("version"), body["quote"]
        for index, variant in enumerate(body.get("variants") or []):
            yield f"{ob['id']} text.variants[{index}]", variant.get("version"), variant.get("quote") or ""
        for name, term in (ob.get("terms") or {}).items():
            if "quote" in term:
                yield f"{ob['id']} terms.{name}", term.get("version"), term["quote"]
            for index, variant in enumerate(term.get("variants") or []):
                yield f"{ob['id']} terms.{name}.variants[{index}]", variant.get("version"), variant.get("quote") or ""
    for number, variant in comment_variants(text):
        yield f"line {number} # variant", variant.get("version"), variant.get("quote") or ""


def read_excerpt(path: Path) -> tuple[dict[str, str], str]:
    """The `# key: value` header and the text of a stored excerpt (tests/fixtures/official-texts)."""
    head, _, body = path.read_text(encoding="utf-8").partition("\n---\n")
    header = dict(line[2:].split(": ", 1) for line in head.splitlines() if line.startswith("# "))
    return header, body


def words(text: str) -> str:
    return " ".join(text.split())


def found_in_order(quote: str, text: str) -> bool:
    """Whether the quote's parts (split at "...") occur in the text, in that order, spacing aside."""
    text, start = words(text), 0
    for part in (words(p) for p in quote.split("...")):
        if not part:
            continue
        start = text.find(part, start)
        if start < 0:
            return False
        start += len(part)
    return True


def excerpt_problems(clause: dict, text: str, excerpts: dict[str, tuple[dict[str, str], str]]) -> list[str]:
    """Quotes not found word for word in their version's stored excerpt; versions with no excerpt whose
    title does not say so; UNCHECKED marks missing beside a version with no excerpt, or left beside one
    that has an excerpt."""
    versions = clause.get("versions") or {}
    problems = []
    for key, (header, _) in excerpts.items():
        if key in versions and header.get("address") != (versions[key] or {}).get("url"):
            problems.append(f"excerpt {key}: address {header.get('address')!r} is not the version's url")
    for where, version, quote in quoted(clause, text):
        if version in excerpts:
            if not found_in_order(quote, excerpts[version][1]):
                problems.append(f"{where}: quote not in the stored excerpt of {version}: {quote!r}")
        elif NOT_STORED not in str((versions.get(version) or {}).get("title") or ""):
            problems.append(f"{where}: version {version!r} has no stored excerpt and its title does not say {NOT_STORED!r}")
    for number, line in enumerate(text.splitlines(), 1):
        match = VERSION_LINE.search(line)
        if not match or match.group(1) not in versions:
            continue
        if match.group(1) in excerpts and "UNCHECKED" in line:
            problems.append(f"line {number}: UNCHECKED beside {match.group(1)}, which has a stored excerpt")
        elif match.group(1) not in excerpts and "UNCHECKED" not in line:
            problems.append(f"line {number}: {match.group(1)} has no stored excerpt, and the line does not say UNCHECKED")
    return problems


def strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) for every string inside a YAML/JSON value."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{where}[{index}]")


def local_path_citations(value: Any) -> list[str]:
    """Paths of the strings that cite a local article file (`sources/...txt`)."""
    return [where for where, text in strings(value) if LOCAL_PATH.search(text)]


def live_records(lines: list[str]) -> list[dict]:
    """The latest record of every correction chain that was not retracted (observations only)."""
    records = [json.loads(line) for line in lines if line.strip()]
    ended = {r["supersedes"] for r in records if "supersedes" in r} | {r["retracts"] for r in records if "retracts" in r}
    return [r for r in records if "kind" in r and r["id"] not in ended]


# ---- the checkers can fail ------------------------------------------------------------------------


def test_checkers_find_what_they_look_for():
    clause = {"versions": {"a": {"title": "t", "url": "https://example.org/a"}, "b": {"title": "t"}},
              "obligations": [{"id": "X1", "text": {"quote": "q", "version": "a",
                                                    "variants": [{"version": "b", "quote": "q"}]},
                               "terms": {"deadline": {"version": "c", "quote": "q"}}}]}
    text = "      # variant: {version: d, quote: \"before\", inclusive: false}\n"
    assert version_problems(clause, text) == [
        "X1 text.variants[0]: version 'b' has no url",
        "X1 terms.deadline: version 'c' is not under versions:",
        "line 1 # variant: version 'd' is not under versions:",
    ]
    assert local_path_citations({"notes": "Article: X (sources/002_45c57ab0aea99a55.txt). Y"}) == ["notes"]
    assert local_path_citations({"a": [{"interpretation": "see 004_2fb697d14d9e6469.txt"}]}) == ["a[0].interpretation"]
    assert local_path_citations({"notes": "https://example.org/sources-of-law"}) == []
    chain = ['{"id": "1", "kind": "k"}', '{"id": "2", "kind": "k", "supersedes": "1"}',
             '{"id": "3", "kind": "k"}', '{"id": "4", "retracts": "3", "reason": "r"}']
    assert [r["id"] for r in live_records(chain)] == ["2"]


def test_excerpt_checker_finds_what_it_looks_for():
    clause = {"versions": {"a": {"title": "t", "url": "https://example.org/a"},
                           "b": {"title": "t. NOT among the stored copies", "url": "https://example.org/b"},
                           "c": {"title": "t", "url": "https://example.org/c"}},
              "obligations": [{"id": "X1", "text": {"quote": "The Party shall ... by 1 May.", "version": "a",
                                                    "variants": [{"version": "c", "quote": "q"}]},
                               "terms": {"deadline": {"quote": "before 1 May", "version": "a"}}},
                              {"id": "X2", "text": {"quote": "Words nobody checked.", "version": "b"}}]}
    excerpts = {"a": ({"address": "https://example.org/a"}, "1. The  Party shall return\nthe district by 1 May.")}
    text = "    version: a\n    version: b\n    version: c  # UNCHECKED\n    version: a  # UNCHECKED\n"
    assert excerpt_problems(clause, text, excerpts) == [
        "X1 text.variants[0]: version 'c' has no stored excerpt and its title does not say 'NOT among the stored copies'",
        "X1 terms.deadline: quote not in the stored excerpt of a: 'before 1 May'",
        "line 2: b has no stored excerpt, and the line does not say UNCHECKED",
        "line 4: UNCHECKED beside a, which has a stored excerpt",
    ]
    assert found_in_order("The Party ... 1 May.", "The Party shall return the district by 1 May.")
    assert not found_in_order("1 May ... The Party", "The Party shall return the district by 1 May.")
    wrong = {"a": ({"address": "https://example.org/elsewhere"}, "")}
    assert excerpt_problems({"versions": clause["versions"]}, "", wrong) == [
        "excerpt a: address 'https://example.org/elsewhere' is not the version's url"]


# ---- clause files --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CLAUSE_FILES, ids=lambda p: p.name)
def test_every_quote_names_a_listed_version_with_an_address(path: Path):
    text = path.read_text(encoding="utf-8")
    clause = yaml.safe_load(text)
    assert list(quote_versions(clause)), f"{path.name}: no quotes found"
    assert version_problems(clause, text) == []


@pytest.mark.parametrize("path", CLAUSE_FILES, ids=lambda p: p.name)
def test_every_quote_is_in_the_stored_excerpt_of_its_version(path: Path):
    """A reader holding the official texts finds every quote where the catalogue says it is: each quote is
    checked word for word against the stored excerpt of its version (tests/fixtures/official-texts/, each
    with the address it was read at); a version with no stored excerpt says so, and its quotes are UNCHECKED."""
    text = path.read_text(encoding="utf-8")
    clause = yaml.safe_load(text)
    folder = EXCERPTS / clause["id"]
    excerpts = {p.stem: read_excerpt(p) for p in sorted(folder.glob("*.txt"))}
    assert excerpts, f"no stored excerpts under {folder}"
    assert all(header.get("version") == key for key, (header, _) in excerpts.items())
    assert excerpt_problems(clause, text, excerpts) == []


@pytest.mark.parametrize("path", CLAUSE_FILES, ids=lambda p: p.name)
def test_clause_files_cite_no_local_file(path: Path):
    assert local_path_citations(yaml.safe_load(path.read_text(encoding="utf-8"))) == []
    assert not LOCAL_PATH.search(path.read_text(encoding="utf-8"))     # comments included


def test_district_deadlines_keep_the_other_reading_as_a_variant():
    text = (ROOT / "clauses" / "nov-10-2020.yaml").read_text(encoding="utf-8")
    clause = yaml.safe_load(text)
    for ob_id in ("P2-aghdam-return", "P6-kalbajar-return", "P6-lachin-return"):
        ob = next(o for o in clause["obligations"] if o["id"] == ob_id)
        deadline = ob["terms"]["deadline"]
        assert deadline["inclusive"] is True and "«до" in deadline["interpretation"], ob_id
        variants = deadline.get("variants") or []
        assert variants and all(v["inclusive"] is False and v["quote"].startswith(("before", "until")) for v in variants), ob_id


# ---- the sample log ------------------------------------------------------------------------------


def test_live_sample_lines_cite_no_local_file():
    live = live_records(sample_log().read_text(encoding="utf-8").splitlines())
    assert len(live) > 40
    assert [r["id"] for r in live if local_path_citations(r)] == []


def test_facts_from_outside_the_articles_and_every_retraction_give_an_address():
    records = [json.loads(line) for line in sample_log().read_text(encoding="utf-8").splitlines() if line.strip()]
    live = live_records([json.dumps(r) for r in records])
    outside = [r for r in live if "outside the project's source articles" in r.get("notes", "")]
    assert outside
    assert [r["id"] for r in outside if not ADDRESS.search(r["notes"])] == []
    later = [r for r in records if r["recorded_at"] >= "2026-11-29"]
    assert later and all(r["recorded_by"] == "sample-curator" for r in later)
    assert [r["id"] for r in later if "retracts" in r and not ADDRESS.search(r["reason"])] == []


def test_the_log_only_grew():
    records = [json.loads(line) for line in sample_log().read_text(encoding="utf-8").splitlines() if line.strip()]
    numbered = [r["id"] for r in records if r.get("record") != "track"]  # track records say what the log tracks
    assert numbered == [str(n) for n in range(1, len(numbered) + 1)]
    assert [r["id"] for r in records if r.get("record") == "track"] == ["jan-11-2021-T", "nov-26-2021-T"]
    stamps = [r["recorded_at"] for r in records]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


def test_process_observations_cite_their_sources():
    """The sample's observations for the two later statements (after their track records) name their sources."""
    records = [json.loads(line) for line in sample_log().read_text(encoding="utf-8").splitlines() if line.strip()]
    first = next(i for i, r in enumerate(records) if r.get("record") == "track")
    lines = [r for r in records[first:] if r.get("record") != "track"]
    assert 10 <= len(lines) <= 20
    for line in lines:
        assert ADDRESS.search(line["notes"]) and "outside the project's source articles" in line["notes"], line
    assert local_path_citations(lines) == []


# ---- the source registry -------------------------------------------------------------------------


def test_every_registry_entry_states_its_reason():
    text = bundled_path().read_text(encoding="utf-8")
    entries = parse_registry(text, str(bundled_path()))
    assert len(entries) >= 60
    assert [e.name for e in entries if not (e.reason and e.reason.strip())] == []
    assert local_path_citations([e.model_dump() for e in entries]) == []


def test_registry_reason_is_optional_for_a_monitor_but_must_be_text():
    assert parse_registry("sources:\n- {name: X, party: AM}\n", "user.yaml")[0].reason is None
    assert parse_registry("sources:\n- {name: X, party: AM, reason: state body}\n", "user.yaml")[0].reason == "state body"
    with pytest.raises(Exception, match="reason"):
        parse_registry("sources:\n- {name: X, party: AM, reason: ''}\n", "user.yaml")
