"""Property-based tests of the two parsers that read untrusted files: JSON Lines imports and clause files.

The property is the same for both: whatever the input, the parser returns a valid result or raises
`ComplianceError` (which the command line turns into one line and exit 2); never any other exception,
which would reach the user as an 'internal error'. What an import accepts must also append to a store
without any other exception; what the clause loader accepts must hold only dates within 1900-2199.

Runs are derandomized (the same cases on every run, no example database) and sized to take a few
seconds in all (`EXAMPLES` below: 520 cases). `FUZZ_SCALE=20` multiplies them for a long local run.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.agreement import Agreement
from compliance.clauses import parse_agreement
from compliance.errors import ComplianceError
from compliance.exchange import read_jsonl
from compliance.integrity import verify
from compliance.observation import OBSERVATION_FIELDS
from compliance.records import NewRecord
from compliance.resources import clauses_dir
from compliance.store import Store

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
EXAMPLES = {  # cases per property; the suite's total is their sum
    "import_records": 100, "import_json": 60, "import_bytes": 80, "import_text": 50, "import_numbers": 40,
    "clauses_typed_edits": 70, "clauses_structure": 20, "clauses_text": 60, "clauses_yaml": 40,
}
BUNDLED_TEXT = (clauses_dir() / "nov-10-2020.yaml").read_text(encoding="utf-8")
AGREEMENT = parse_agreement(BUNDLED_TEXT, "nov-10-2020.yaml")
BUNDLED_DATA = yaml.load(BUNDLED_TEXT, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def fuzz(name: str):
    return settings(max_examples=EXAMPLES[name] * SCALE, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- JSON Lines imports -------------------------------------------------------------------------

HOSTILE_JSON = [
    "", " ", "\t", "\ud800", "a\udcff", "x" * 1001, "q" * 10_001, "a\x00b", "\x1b[31mred", "a\x85b", "\u2028", "\ufeff", "\U0001f600",
    "²", "٣", "007", "0", "-1", "1.5", "1e3", "0x10", "NaN", "null", "true",
    "AM", "AZ", "RU", "NK", "XX", "am", "A", "independent", "UNHCR",
    "ceasefire.breach", "contingent.personnel", "district.returned", "armed-forces.presence", "displaced.return",
    "conflict-zone", "state-border", "Aghdam", "affirms", "denies", "seen", "statement",
    "2021-07-01", "2021-07-01T12:00:00+03:00", "0001-01-01", "9999-12-31", "2020-13-45", "2020-02-30",
    "1899-12-31T23:00:00-05:00", "2199-12-31T23:59:59-12:00", "2020-W01-1", "2021-07-01T25:00", "2021-07-01T12:00+99:00",
    "1", "2", "54", "999", "nov-10-2020-A1", "nov-10-2020-A٣", "nov-10-2020-E1", "P3-personnel-cap", "P4-term",
    "limit", "deadline", "period_years", "notice_months", "start", "amendment", "ending", "retraction", "observation",
    "2021-07-01T09:00:00.000000Z", "1900-01-01", "sha256:00",
]
scalars = st.one_of(
    st.sampled_from(HOSTILE_JSON),
    st.sampled_from([None, True, False, 0, -1, 1, 5, 1960, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1,
                     0.5, -0.0, 1e308, 91.0, -181.0]),
    st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.text(alphabet=string.printable + "\x00\x1b\x85\u2028\ufeff\U0001f600²٣", max_size=12),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=10)
KEYS = [*OBSERVATION_FIELDS, "supersedes", "retracts", "reason", "record", "id", "recorded_at", "recorded_by",
        "hash", "obligation", "term", "agreed_on", "by", "requested_by", "relayed_by", "on", "note", "unknown"]
VALID = {"kind": "contingent.personnel", "date": "2020-11-20", "actor": "RU", "value": 1960,
         "source": "Russian MoD", "source_party": "RU"}
RESTORE = {"id": "1", "recorded_at": "2021-01-01T00:00:00Z", "recorded_by": "me"}
BASES = [
    VALID, {**VALID, **RESTORE}, {"retracts": "1", "reason": "dup"}, {"supersedes": "1", **VALID},
    {"record": "amendment", "obligation": "P3-personnel-cap", "term": "limit", "value": 2000,
     "agreed_on": "2021-01-01", "by": ["AM"], "source": "s"},
    {"record": "amendment", "obligation": "P4-term", "term": "period_years", "value": 5,
     "agreed_on": "2021-01-01", "by": ["AM"], "source": "s"},
    {"record": "ending", "obligation": "P9-transport-links", "on": "2021-01-01", "by": "AM,AZ", "source": "s"},
]


@st.composite
def records(draw) -> dict:
    """Objects shaped like lines of the format: a valid line with some fields replaced, added or removed."""
    base = dict(draw(st.sampled_from(BASES)))
    for key in draw(st.lists(st.sampled_from(KEYS + sorted(base) * 3), min_size=1, max_size=3)):
        base[key] = draw(st.one_of(st.sampled_from(HOSTILE_JSON), scalars, json_values))
    for key in draw(st.lists(st.sampled_from(sorted(base)), max_size=1)):
        base.pop(key, None)
    return base


def check_import(lines: list) -> None:
    try:
        result = read_jsonl(lines, AGREEMENT, "fuzz.jsonl")
    except ComplianceError:
        return
    assert all(isinstance(r, NewRecord) for r in result)
    # what validated must also be appended, or refused with ComplianceError; what is appended must verify
    seeded = Store.memory(AGREEMENT)
    seeded.append([BASE_RECORD], recorded_by="fuzz")  # an observation 1 to correct or retract
    for store in (seeded, Store.memory(AGREEMENT)):  # and an empty store, where restore lines are accepted
        try:
            store.append(result, recorded_by="fuzz")
        except ComplianceError:
            continue
        verify(store)


BASE_RECORD = read_jsonl([json.dumps(VALID)], AGREEMENT, "base")[0]


@fuzz("import_records")
@given(st.lists(records(), min_size=1, max_size=3))
def test_import_of_record_shaped_objects(objects: list) -> None:
    check_import([json.dumps(o, allow_nan=True) for o in objects])


@fuzz("import_json")
@given(st.lists(json_values, min_size=1, max_size=3))
def test_import_of_arbitrary_json_values(values: list) -> None:
    check_import([json.dumps(v, allow_nan=True) for v in values])


@fuzz("import_bytes")
@given(st.lists(st.binary(max_size=80), min_size=1, max_size=4))
def test_import_of_arbitrary_bytes(lines: list) -> None:
    check_import(lines)


@fuzz("import_text")
@given(st.lists(st.text(alphabet=st.characters(), max_size=60), min_size=1, max_size=3))
def test_import_of_arbitrary_text(lines: list) -> None:
    check_import(lines)


@fuzz("import_numbers")
@given(st.sampled_from([*sorted(VALID), "lat", "notes", "unknown"]),
       st.sampled_from(["NaN", "-Infinity", "1e400", "-1e400", "1" * 5000, "9" * 4300, "-0", "1.0",
                        "[" * 3000 + "]" * 3000, '{"a":' * 3000 + "1" + "}" * 3000, '"\\ud800"', '"a\\udfffb"',
                        '"\\u0000"', "18446744073709551616"]))
def test_import_of_numbers_text_and_nesting_json_allows(field: str, raw: str) -> None:
    # spliced in as raw JSON text: values json.dumps of a Python value would not write
    check_import([json.dumps({**VALID, field: "@@"}).replace('"@@"', raw)])


# ---- clause files -------------------------------------------------------------------------------

DATE_POOL = ["2020-13-45", "2020-02-30", "0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01", "0000-01-01",
             "2020-11-10T25:00:00", "9999-12-31T23:59:59-12:00", "2020-11-10T00:00:00+25:00", "'2020-11-10'",
             "2020-11-10 junk", "!!timestamp 2020-02-30", "!!timestamp x", "2199-12-31T23:59:59-12:00"]
INT_POOL = ["-1", "0", "99999999999999999999", "1" * 5000, ".nan", ".inf", "-.inf", "1.5", "!!int 0x", "!!int x",
            "0x10", "0o17", "true", "'5'", "[]", "{}", "1_000", "!!float abc", "2020-11-10"]
TEXT_POOL = ["''", "' '", "'" + "x" * 2000 + "'", '"\\0"', '"\\x1b[31m"', '"\\ud800"', "Europe", "Mars/Base",
             "'a/../../b'", "'" + "a" * 300 + "'", "null", "~", "[a, b]", "{a: 1}", "!!binary '%%%'",
             "!!python/object/apply:os.system ['true']", "!!python/name:os.system", "*undefined_alias", "&a x",
             "'+25:00'", "'-03:00'", "UTC", "cap", "deadline", "prohibition", "term-renewal", "AM", "XX"]
VALUE_LINE = re.compile(r"^(\s*(?:- )?[A-Za-z_][\w.-]*:) (\S.*)$")
BUNDLED_LINES = BUNDLED_TEXT.splitlines()
EDITABLE = {"date": [], "int": [], "text": []}
for _index, _line in enumerate(BUNDLED_LINES):
    _match = VALUE_LINE.match(_line)
    if _match:
        _value = _match.group(2).split(" #")[0].strip()
        EDITABLE["date" if re.match(r"\d{4}-\d\d-\d\d", _value) else "int" if re.fullmatch(r"-?\d+", _value) else "text"].append(_index)
POOLS = {"date": DATE_POOL, "int": INT_POOL, "text": TEXT_POOL}


def check_clauses(text: str) -> None:
    try:
        result = parse_agreement(text, "fuzz.yaml")
    except ComplianceError:
        return
    assert isinstance(result, Agreement)
    result.tz, result.in_force_day, result.known_codes  # usable: these must not fail

    def dates(value):
        if isinstance(value, dt.date):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from dates(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from dates(item)

    assert all(1900 <= d.year <= 2199 for d in dates(result.model_dump())), "a date out of range was accepted"


@st.composite
def typed_edits(draw) -> str:
    """The bundled file with 1-3 values replaced by hostile ones of the kind the line holds (date, number, text)."""
    lines = list(BUNDLED_LINES)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(sorted(EDITABLE)))
        index = draw(st.sampled_from(EDITABLE[kind]))
        pool = POOLS[kind] + POOLS["text"][:8] if kind != "text" else POOLS["text"]
        lines[index] = f"{VALUE_LINE.match(lines[index]).group(1)} {draw(st.sampled_from(pool))}"
    return "\n".join(lines)


@fuzz("clauses_typed_edits")
@given(typed_edits())
def test_clause_loader_on_hostile_values_in_the_bundled_file(text: str) -> None:
    check_clauses(text)


def paths(data, prefix=()):
    """Every path into a nested structure of dicts and lists."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths(value, (*prefix, index))


ALL_PATHS = list(paths(BUNDLED_DATA))[1:]
yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), st.dates(),
                         st.sampled_from(["AM", "P3-personnel-cap", "contingent.personnel", "cap", "deadline",
                                          "prohibition", "+03:00", "Europe", "ceasefire.breach", "am-pm", "none"]))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)


@st.composite
def structural_edits(draw) -> str:
    """The bundled file's data with 1-3 nodes replaced, deleted or given an extra key, dumped back to YAML."""
    data = copy.deepcopy(BUNDLED_DATA)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        try:
            parent = data
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(yaml_values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.sampled_from(["extra", "id", "value", "rule", "kind", "shape"]))] = draw(yaml_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False)


@fuzz("clauses_structure")
@given(structural_edits())
def test_clause_loader_on_structural_edits_of_the_bundled_file(text: str) -> None:
    check_clauses(text)


@fuzz("clauses_text")
@given(st.text(alphabet=st.characters(), max_size=200))
def test_clause_loader_on_random_text(text: str) -> None:
    check_clauses(text)


@fuzz("clauses_yaml")
@given(yaml_values)
def test_clause_loader_on_random_yaml_documents(value) -> None:
    check_clauses(yaml.dump(value, Dumper=_Dumper, allow_unicode=True))
