"""Differential test: the engine's `check` against the slow reference evaluator (tests/reference.py).

Hypothesis writes small random logs (every kind, actors incl. NK, sources of every alignment incl.
independent, claims, counts and ranges around the caps, dates around windows and deadlines,
date_end, corrections, retractions, amendments to limits and deadlines, endings), stores them in
a few appends through the real Store, and compares, for every obligation and bearer, the verdict,
evidence IDs, evidence_count, inconclusive IDs and due (and term_end) with the reference, at random
as-of, since and as-recorded points, with and without amendments.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference  # noqa: E402
from compliance.check import check  # noqa: E402
from compliance.clauses import load_agreement  # noqa: E402
from compliance.exchange import amendment_record, ending_record, observation_record, retraction_record  # noqa: E402
from compliance.store import Store  # noqa: E402
from compliance.verdicts import MAX_EVIDENCE  # noqa: E402

AGREEMENT = load_agreement("nov-10-2020")
D = dt.date

# dates around entry into force, the deadlines (original and amended), the 31-day windows and the term
ANCHORS = [D(2020, 11, 9), D(2020, 11, 10), D(2020, 11, 15), D(2020, 11, 20), D(2020, 11, 25), D(2020, 12, 1),
           D(2021, 1, 1), D(2021, 7, 13), D(2023, 11, 10), D(2025, 5, 10), D(2025, 11, 10), D(2030, 5, 10)]
OFFSETS = [0, 0, 0, 1, -1, 2, -2, 30, 31, 32, -31, -32]
ACTORS = ["AM", "AZ", "RU", "NK", "TR"]
ALIGNMENTS = ["AM", "AZ", "RU", "NK", "TR", "independent"]
CAPS = {"contingent.personnel": 1960, "contingent.apc": 90, "contingent.vehicles": 380}
KINDS = list(AGREEMENT.kinds)


# whose conduct each kind is usually about (the rest of the time: any actor)
NATURAL_ACTORS = {
    "ceasefire.breach": ["AM", "AZ", "NK"], "district.returned": ["AM"], "contingent.personnel": ["RU"],
    "contingent.apc": ["RU"], "contingent.vehicles": ["RU"], "contingent.deployment-complete": ["RU"],
    "armed-forces.presence": ["AM", "NK"], "term.notice": ["AM", "AZ", "RU", "TR"],
    "monitoring-centre.operating": ["RU"], "corridor.obstruction": ["AZ"], "route-plan.agreed": ["AM", "AZ"],
    "displaced.return": ["AM", "AZ", "NK"], "detainees.withheld": ["AM", "AZ"], "transport.blocked": ["AM", "AZ"],
    "transit.obstruction": ["AM"],
}


@st.composite
def days(draw, early: bool = True, around: dt.date | None = None) -> dt.date:
    """A date near an anchor (or near `around`, most of the time), a day either side or a window away."""
    if around is not None and draw(st.integers(0, 3)):
        anchor = around
    else:
        anchor = draw(st.sampled_from(ANCHORS if early else ANCHORS[1:]))
    day = anchor + dt.timedelta(days=draw(st.sampled_from(OFFSETS)))
    return max(day, D(2020, 11, 9)) if early else max(day, D(2020, 11, 10))


@st.composite
def date_texts(draw, around: dt.date | None = None) -> str:
    day = draw(days(around=around))
    form = draw(st.sampled_from(["date", "date", "date", "late-utc", "early-local"]))
    if form == "late-utc":  # 22:30 UTC is 01:30 the next day in Moscow time
        return f"{day.isoformat()}T22:30:00Z"
    if form == "early-local":
        return f"{day.isoformat()}T00:15:00"
    return day.isoformat()


def _count_fields(draw, kind: str, claim: str) -> dict[str, Any]:
    spec = AGREEMENT.kinds[kind]
    if spec.count == "none":
        return {}
    cap = CAPS.get(kind, 100)
    if spec.count == "optional" and draw(st.booleans()):
        return {}
    if claim == "denies" and draw(st.booleans()):
        return {}
    near = st.sampled_from([cap - 1, cap, cap + 1, cap + 40, max(1, cap - 40), 2 * cap, 1])
    if draw(st.booleans()):
        return {"value": draw(near)}
    low, high = sorted((draw(near), draw(near)))
    fields = {"low": low, "high": high}
    if draw(st.integers(0, 4)) == 0:
        fields["value"] = draw(st.sampled_from([low, high]))
    return fields


@st.composite
def observations(draw, focus: tuple[str, ...] = (), around: dt.date | None = None) -> dict[str, Any]:
    """One valid observation; mostly of the example's focus kinds, natural actors and dates near `around`,
    so that matters, contradictions and disputes form."""
    if focus and draw(st.integers(0, 3)):
        kind = draw(st.sampled_from(focus))
    else:
        kind = draw(st.sampled_from(KINDS))
    actor = draw(st.sampled_from(NATURAL_ACTORS[kind] if draw(st.integers(0, 4)) else ACTORS))
    claim = draw(st.sampled_from(["affirms", "affirms", "denies"]))
    party = draw(st.sampled_from(ALIGNMENTS))
    fields: dict[str, Any] = {"kind": kind, "date": draw(date_texts(around)), "actor": actor,
                              "source": f"source aligned with {party}", "source_party": party}
    if claim == "denies" or draw(st.booleans()):
        fields["claim"] = claim
    fields.update(_count_fields(draw, kind, claim))
    spec = AGREEMENT.kinds[kind]
    if spec.subjects:
        if spec.subject_required or draw(st.booleans()):
            fields["subject"] = draw(st.sampled_from(spec.subjects))
    if kind == "displaced.return" and draw(st.booleans()):
        fields["supervised_by"] = draw(st.sampled_from(["UNHCR", "ICRC"]))
    if draw(st.integers(0, 4)) == 0:
        shift = draw(st.sampled_from([0, 1, 2, 33])) + (1 if fields["date"].endswith("Z") else 0)  # local day
        fields["date_end"] = (D.fromisoformat(fields["date"][:10]) + dt.timedelta(days=shift)).isoformat()
    return fields


# kinds that one obligation reads together, so that each rule shape meets enough of its own evidence
FOCUS = [("contingent.deployment-complete", "armed-forces.presence"), ("ceasefire.breach",), ("contingent.personnel",),
         ("contingent.apc", "contingent.vehicles"), ("district.returned",), ("route-plan.agreed",), ("term.notice",),
         ("displaced.return", "monitoring-centre.operating"), ("corridor.obstruction", "detainees.withheld"),
         ("transport.blocked", "transit.obstruction")]

TERMS = [("P3-personnel-cap", "limit", [1959, 1960, 2000, 3920]), ("P3-apc-cap", "limit", [89, 91, 130]),
         ("P3-vehicle-cap", "limit", [379, 381, 420]), ("P2-aghdam-return", "deadline", None),
         ("P6-kalbajar-return", "deadline", None), ("P6-lachin-return", "deadline", None),
         ("P6-new-route-plan", "deadline", None)]


@st.composite
def operations(draw) -> list[tuple[str, Any]]:
    """A log as operations: observations, and (by index into earlier ones) corrections and retractions;
    amendments and endings; `batch` marks where one append ends and the next begins."""
    ops: list[tuple[str, Any]] = []
    focus = draw(st.sampled_from(FOCUS) | st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True).map(tuple))
    around = draw(st.sampled_from(ANCHORS))
    for _ in range(draw(st.integers(0, 24))):
        what = draw(st.sampled_from(["obs"] * 9 + ["correct", "retract", "amend", "end", "batch", "batch"]))
        if what == "obs":
            ops.append(("obs", draw(observations(focus, around))))
        elif what in ("correct", "retract"):
            ops.append((what, (draw(st.integers(0, 10_000)), draw(observations(focus, around)))))
        elif what == "amend":
            ob, term, values = draw(st.sampled_from(TERMS))
            value = draw(st.sampled_from(values)) if values else draw(days(early=False)).isoformat()
            ops.append(("amend", {"obligation": ob, "term": term, "value": value,
                                  "agreed_on": draw(days()).isoformat(), "by": "AM,AZ", "source": "test"}))
        elif what == "end":
            ob = draw(st.sampled_from([o.id for o in AGREEMENT.obligations]))
            ops.append(("end", {"obligation": ob, "on": draw(days()).isoformat(), "by": "AZ,RU", "source": "test"}))
        else:
            ops.append(("batch", None))
    return ops


def build(ops: list[tuple[str, Any]]) -> tuple[Store, list[dict[str, Any]]]:
    """Append the operations through the real Store; return it and the log as the reference reads it."""
    store = Store.memory(AGREEMENT)
    log: list[dict[str, Any]] = []
    live: list[str] = []  # observations that are the latest of their chain, in earlier batches
    batch: list[tuple[Any, dict[str, Any]]] = []
    # an obligation ends once: a later ending supersedes the one in effect (IDs are numbered as the store does)
    ending_numbers = [int(e.id.rsplit("-E", 1)[1]) for e in AGREEMENT.endings]
    in_effect = {e.obligation: e.id for e in AGREEMENT.endings}

    def flush() -> None:
        if not batch:
            return
        ids = store.append([record for record, _ in batch], recorded_by="differential")
        for record_id, (_, entry) in zip(ids, batch):
            entry["id"] = record_id
            log.append(entry)
            if entry["type"] == "observation":
                live.append(record_id)
        batch.clear()

    for what, data in ops:
        if what == "batch":
            flush()
        elif what == "obs":
            batch.append((observation_record(data, AGREEMENT), {"type": "observation", "fields": data}))
        elif what in ("correct", "retract"):
            index, fields = data
            if not live:
                continue
            target = live.pop(index % len(live))
            if what == "retract":
                batch.append((retraction_record(target, "test"), {"type": "retraction", "retracts": target}))
            else:
                batch.append((observation_record(fields, AGREEMENT, supersedes=target),
                              {"type": "observation", "fields": fields, "supersedes": target}))
        elif what == "amend":
            batch.append((amendment_record(data, AGREEMENT), {"type": "amendment", **data}))
        else:
            ending_numbers.append(max(ending_numbers, default=0) + 1)
            if data["obligation"] in in_effect:
                data = {**data, "supersedes": in_effect[data["obligation"]]}
            in_effect[data["obligation"]] = f"{AGREEMENT.id}-E{ending_numbers[-1]}"
            batch.append((ending_record(data, AGREEMENT), {"type": "ending", **data}))
    flush()
    times = {r.id: r.recorded_at for r in store.records()}
    for entry in log:
        entry["recorded_at"] = times[entry["id"]]
    return store, log


def compare(store: Store, log: list[dict[str, Any]], as_of: dt.date, since: dt.date | None,
            as_recorded: str | None, without_amendments: bool) -> None:
    recorded = None if as_recorded is None else dt.datetime.fromisoformat(as_recorded.replace("Z", "+00:00"))
    got = check(store, as_of=as_of, since=since, as_recorded=recorded, without_amendments=without_amendments,
                agreements=[AGREEMENT])
    want = reference.evaluate(AGREEMENT, log, as_of=as_of, since=since, as_recorded=as_recorded,
                              without_amendments=without_amendments)
    assert [(o.id, o.bearer) for o in got.obligations] == [(w["id"], w["bearer"]) for w in want]
    for o, w in zip(got.obligations, want):
        engine = {"id": o.id, "bearer": o.bearer, "verdict": o.verdict.value, "evidence": o.evidence,
                  "evidence_count": o.evidence_count, "inconclusive": o.inconclusive, "due": o.due,
                  "term_end": o.term_end}
        differing = {k: (engine[k], w[k]) for k in engine if engine[k] != w[k]}
        assert not differing, f"{o.id}/{o.bearer}: engine, reference differ in {differing}; reason: {o.reason}"
        assert len(o.evidence) <= MAX_EVIDENCE and len(o.inconclusive) <= MAX_EVIDENCE


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ops=operations(), data=st.data())
def test_engine_matches_reference(ops, data):
    store, log = build(ops)
    assert store.summary_problem() is None  # the evidence summary kept by appends equals a fresh grouping
    as_of = data.draw(st.one_of(days(), st.sampled_from([D(2024, 6, 30), D(2031, 1, 1)])), label="as_of")
    since = data.draw(st.one_of(st.none(), days(early=False)).filter(lambda d: d is None or d <= as_of), label="since")
    times = sorted({entry["recorded_at"] for entry in log})
    as_recorded = data.draw(st.one_of(st.none(), st.sampled_from(times)) if times else st.none(), label="as_recorded")
    without = data.draw(st.booleans(), label="without_amendments")
    compare(store, log, as_of, since, as_recorded, without)


def test_evidence_stays_within_twenty_ids_at_scale():
    """Thousands of breach reports in one corroborated matter still cite at most 20 IDs, the earliest first."""
    store = Store.memory(AGREEMENT)
    records = []
    for i in range(3000):
        day = D(2021, 1, 1) + dt.timedelta(days=i % 200)
        records.append(observation_record({"kind": "ceasefire.breach", "date": day.isoformat(), "actor": "AZ",
                                           "source": "s", "source_party": ALIGNMENTS[i % len(ALIGNMENTS)]}, AGREEMENT))
        records.append(observation_record({"kind": "contingent.personnel", "date": day.isoformat(), "actor": "RU",
                                           "source": "s", "source_party": "AZ", "low": 1900, "high": 2100 + i}, AGREEMENT))
    store.append(records, recorded_by="differential")
    result = check(store, as_of=D(2021, 12, 31))
    for o in result.obligations:
        assert len(o.evidence) <= MAX_EVIDENCE and len(o.inconclusive) <= MAX_EVIDENCE
    p1 = next(o for o in result.obligations if o.id == "P1-ceasefire-AZ")
    assert p1.verdict.value == "violated" and p1.evidence_count == 3000
    by_date_then_id = sorted(range(3000), key=lambda i: (i % 200, i))
    assert p1.evidence == [str(2 * i + 1) for i in by_date_then_id[:MAX_EVIDENCE]]
    p3 = next(o for o in result.obligations if o.id == "P3-personnel-cap")
    assert p3.verdict.value == "unknown" and len(p3.inconclusive) == MAX_EVIDENCE


@pytest.mark.parametrize("as_of", [D(2020, 11, 20), D(2021, 9, 30), D(2025, 6, 1)])
def test_sample_log_matches_reference(as_of):
    """The bundled sample log (real-world shaped) gives the same answers as the reference."""
    store = Store.sample(AGREEMENT)
    log = []
    for r in store.records():
        if r.type == "observation" and r.body["kind"] not in AGREEMENT.kinds:
            continue  # an observation for a later statement of the process: the reference reads nov-10-2020
        body = dict(r.body)
        if r.type == "observation":
            supersedes = body.pop("supersedes", None)
            log.append({"type": "observation", "id": r.id, "recorded_at": r.recorded_at, "fields": body,
                        "supersedes": supersedes})
        else:
            log.append({"type": r.type, "id": r.id, "recorded_at": r.recorded_at, **body})
    compare(store, log, as_of, None, None, False)


# ---- the fast paths of import are the slow paths, exactly ----------------------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["ceasefire.breach", "AM", "independent", "2021-07-13", " AZ ", "", "affirms", "denies", "seen", "UNHCR"])
VALUES = st.one_of(st.none(), TEXT, st.integers(-3, 2**64), st.booleans(), st.floats(allow_nan=True),
                   st.sampled_from([0, 1, 1960, 2**63 - 1, 2**63, "1960"]), st.lists(st.integers(), max_size=2))
FIELD_NAMES = st.sampled_from(["kind", "date", "actor", "source", "source_party", "value", "low", "high", "claim",
                               "subject", "place", "lat", "lon", "date_end", "method", "supervised_by", "url", "quote",
                               "notes", "external_id", "other"])


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.dictionaries(FIELD_NAMES, VALUES, max_size=8), observations())
def test_plain_fields_are_what_pydantic_gives(extra, base):
    """observation._plain_fields (the common case, without pydantic) gives what ObservationFields gives, or
    leaves the input to pydantic; so parse_observation accepts, rejects and normalises exactly as before."""
    from pydantic import ValidationError

    from compliance.observation import ObservationFields, _plain_fields

    for cleaned in (base, {**base, **{k: v for k, v in extra.items() if v is not None}}):
        fast = _plain_fields(cleaned)
        if fast is None:
            continue
        model = ObservationFields.model_validate(cleaned)  # must not raise when the fast path accepted
        assert list(fast.__dict__.items()) == list(model.__dict__.items())
        for key, value in fast.__dict__.items():
            assert type(value) is type(getattr(model, key))
    try:
        ObservationFields.model_validate(extra)
    except ValidationError:
        assert _plain_fields(extra) is None


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(TEXT, st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                                                      st.lists(TEXT, max_size=2)), max_size=6),
       TEXT, st.sampled_from(["observation", "retraction", "amendment", "ending"]), TEXT, st.one_of(st.none(), TEXT))
def test_chain_hash_is_the_hash_of_the_canonical_content(body, record_id, record_type, recorded_by, recorded_as):
    """The chain hash writes the content out around the body's canonical JSON (made once for the hash and the stored
    body); it equals the SHA-256 of the previous hash and the canonical JSON of the whole content, the form
    spec'd for the chain (a display name, when set, is part of it)."""
    import hashlib
    import json as json_module

    from compliance.records import canonical_json, chain_hash, chain_hash_of_text

    at = "2024-06-30T12:00:00.000000Z"
    assert canonical_json(body) == json_module.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    content = {"id": record_id, "type": record_type, "body": body, "recorded_at": at, "recorded_by": recorded_by}
    if recorded_as is not None:
        content["recorded_as"] = recorded_as
    expected = "sha256:" + hashlib.sha256(("sha256:00\n" + json_module.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)).encode()).hexdigest()
    assert chain_hash_of_text("sha256:00", record_id, record_type, canonical_json(body), at, recorded_by, recorded_as) == \
        chain_hash("sha256:00", record_id, record_type, body, at, recorded_by, recorded_as) == expected


WHITE_AND_CONTROL = st.sampled_from([" ", "\t", "\n", "\x0b", "\x1c", "\x1f", "\x7f", "\x85", "\xa0", "\u2028", "\u3000",
                                     "\u200b", "\ufeff", "\x00", "\u180e", ""])


def _odd_text(draw, text: str) -> str:
    """`text` with white space or control characters around or inside it, sometimes."""
    where = draw(st.sampled_from(["none", "start", "end", "inside"]))
    odd = draw(WHITE_AND_CONTROL)
    if where == "start":
        return odd + text
    if where == "end":
        return text + odd
    if where == "inside" and len(text) > 1:
        return text[:1] + odd + text[1:]
    return text


@st.composite
def json_lines(draw) -> bytes:
    """Observation lines as an import reads them: valid ones, and ones changed in every way the fast path must
    leave to the full path (odd text, other types, nulls, unknown or repeated keys, raw JSON quirks)."""
    fields = dict(draw(observations()))
    for key in draw(st.lists(FIELD_NAMES, max_size=3)):
        fields[key] = draw(VALUES)
    if draw(st.booleans()):
        fields["url"] = draw(st.sampled_from(["https://example.org/a", "http://x.example/?q=1", "ftp://example.org",
                                              "https://", "https://a b", "example.org", "HTTPS://EXAMPLE.ORG"]))
    for key, value in list(fields.items()):
        if isinstance(value, str) and draw(st.booleans()):
            fields[key] = _odd_text(draw, value)
    text = json.dumps(fields, ensure_ascii=draw(st.booleans()))
    quirk = draw(st.sampled_from(["none", "none", "repeat", "escape", "spaces", "bom", "number"]))
    if quirk == "repeat" and fields:
        key = draw(st.sampled_from(sorted(fields)))
        text = text[:-1] + f', {json.dumps(key)}: {json.dumps(draw(VALUES))}}}'
    elif quirk == "escape":
        text = text.replace("e", "\\u0065", 1) if '"e' not in text[:2] else text
    elif quirk == "spaces":
        text = " \t" + text + " \r"
    elif quirk == "bom":
        text = "\ufeff" + text
    elif quirk == "number" and "value" in fields:
        text = text.replace(f'"value": {json.dumps(fields["value"])}', '"value": 1e3', 1)
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=600, derandomize=True, deadline=None)
@given(json_lines())
def test_the_import_fast_path_is_the_full_path(raw):
    """plain_lines.PlainLines (pydantic-core on the line's bytes) gives, for every line it accepts, the record the
    full path gives: the same body, canonical JSON and derived columns; every other line is left to the full path."""
    from compliance.exchange import _decode, parse_line
    from compliance.plain_lines import PlainLines
    from compliance.records import canonical_json
    from compliance.store.chain import derived_values

    fast = PlainLines(AGREEMENT).prepare(raw)
    if fast is None:
        return
    record = parse_line(_decode(raw.decode("utf-8")), AGREEMENT, frozenset())  # must not raise: the fast path accepted
    assert record.type == "observation" and record.target is None and not record.is_restore
    body, body_json, columns = fast
    assert body == record.body
    assert body_json == canonical_json(record.body)
    assert columns == derived_values(record)
    assert [type(c) for c in columns] == [type(c) for c in derived_values(record)]


def test_the_fast_path_takes_the_common_lines():
    """The sample log's observations, as new lines (store fields left out), go the fast way unless they hold
    coordinates: the fast path is taken by ordinary lines, not only by odd test lines."""
    from compliance.plain_lines import PlainLines
    from compliance.resources import sample_log

    from compliance.process import bundled_process_ids, load_process

    plain = PlainLines(load_process(bundled_process_ids()))  # the agreements the sample log tracks
    lines = [json.loads(line) for line in sample_log().read_text(encoding="utf-8").splitlines()]
    new = [json.dumps({k: v for k, v in line.items() if k not in ("id", "recorded_at", "recorded_by", "hash")}).encode()
           for line in lines if not {"retracts", "supersedes", "record", "lat", "lon", "attributes"} & set(line)]
    taken = [raw for raw in new if plain.prepare(raw) is not None]
    assert len(new) >= 50 and len(taken) == len(new), [raw for raw in new if plain.prepare(raw) is None][:3]
