"""Declared attributes on the command line (observations.md, `attributes`): `observe add` and `observe correct`
take `--attr name=value`, repeatable, validated against the kind's declaration in the clause file; a kind that
declares none refuses them. The test fixture agreement declares, for `weapons.position`, `calibre_mm` (integer,
mm) and `distance_km` (number, km)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compliance.clauses import load_agreement
from compliance.errors import InputError
from compliance.observation import attributes_from_text

from safety_cli import run

FIXTURE = Path(__file__).parent / "fixtures" / "withdrawal-ceasefire.yaml"
AGREEMENT = load_agreement(FIXTURE)
SEEN = ["--date", "2023-09-25", "--actor", "STH", "--source", "observer patrol", "--source-party", "independent"]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "log.db"


def compliance(store: Path, *args: str):
    return run(*args, "--agreement", str(FIXTURE), "--store", str(store))


def add(store: Path, kind: str, *attrs: str):
    return compliance(store, "observe", "add", "--kind", kind, *SEEN, *[a for attr in attrs for a in ("--attr", attr)])


def attributes_of(store: Path) -> dict[str, dict]:
    """{ID: attributes} of the live observations."""
    listed = json.loads(compliance(store, "observe", "list", "--format", "json").stdout)
    return {record["id"]: record.get("attributes") for record in listed}


def refused(result, message: str) -> None:
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"compliance: error: {message}\n")


def test_add_stores_attributes_in_their_declared_types(store: Path) -> None:
    result = add(store, "weapons.position", "calibre_mm=122", "distance_km=12.5")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "1\n", "")
    assert attributes_of(store) == {"1": {"calibre_mm": 122, "distance_km": 12.5}}


def test_attr_gives_the_record_a_json_line_with_attributes_gives(store: Path, tmp_path: Path) -> None:
    add(store, "weapons.position", "distance_km=30", "calibre_mm=122")
    line = {"kind": "weapons.position", "date": "2023-09-25", "actor": "STH", "source": "observer patrol",
            "source_party": "independent", "attributes": {"calibre_mm": 122, "distance_km": 30}}
    (tmp_path / "one.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    other = tmp_path / "other.db"
    assert compliance(other, "observe", "import", str(tmp_path / "one.jsonl")).stdout == "1\n"
    assert attributes_of(store) == attributes_of(other) == {"1": {"calibre_mm": 122, "distance_km": 30}}


def test_an_attribute_the_kind_does_not_declare_is_refused(store: Path) -> None:
    refused(add(store, "weapons.position", "calibre=122"),
            "--attr: kind 'weapons.position' declares no attribute 'calibre' (declared: calibre_mm, distance_km)")
    assert not store.exists()


def test_a_value_of_the_wrong_type_is_refused(store: Path) -> None:
    refused(add(store, "weapons.position", "calibre_mm=122.5"), "--attr calibre_mm: must be a whole number (mm), got '122.5'")
    refused(add(store, "weapons.position", "distance_km=far"), "--attr distance_km: must be a number (km), got 'far'")
    refused(add(store, "weapons.position", "distance_km=inf"), "--attr distance_km: must be a finite number (no NaN or infinity)")
    assert not store.exists()


def test_a_kind_without_attributes_refuses_them(store: Path) -> None:
    refused(add(store, "hostilities", "calibre_mm=122"), "--attr: kind 'hostilities' declares no attributes")
    assert not store.exists()


def test_an_attr_that_is_not_name_equals_value_is_refused(store: Path) -> None:
    refused(add(store, "weapons.position", "calibre_mm"),
            "--attr: 'calibre_mm' is not NAME=VALUE (kind 'weapons.position' declares calibre_mm, distance_km)")
    assert not store.exists()


def test_an_attribute_given_twice_is_refused(store: Path) -> None:
    refused(add(store, "weapons.position", "calibre_mm=122", "calibre_mm=152"),
            "--attr: attribute 'calibre_mm' is given twice")
    assert not store.exists()


def test_correct_changes_one_attribute_and_keeps_the_others(store: Path) -> None:
    add(store, "weapons.position", "calibre_mm=122", "distance_km=30")
    result = compliance(store, "observe", "correct", "1", "--attr", "distance_km=8")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "2\n", "")
    assert attributes_of(store) == {"2": {"calibre_mm": 122, "distance_km": 8}}


def test_correct_with_an_empty_value_drops_the_attribute(store: Path) -> None:
    add(store, "weapons.position", "calibre_mm=122", "distance_km=30")
    assert compliance(store, "observe", "correct", "1", "--attr", "distance_km=").stdout == "2\n"
    assert attributes_of(store) == {"2": {"calibre_mm": 122}}


def test_a_refused_correction_writes_nothing(store: Path) -> None:
    add(store, "weapons.position", "calibre_mm=122")
    before = compliance(store, "observe", "export").stdout
    refused(compliance(store, "observe", "correct", "1", "--attr", "calibre_mm=heavy"),
            "--attr calibre_mm: must be a whole number (mm), got 'heavy'")
    assert compliance(store, "observe", "export").stdout == before
    assert attributes_of(store) == {"1": {"calibre_mm": 122}}


def test_the_library_reads_attribute_texts_against_the_declaration() -> None:
    assert attributes_from_text(["calibre_mm=+152", " distance_km = 4 "], "weapons.position", AGREEMENT) == {
        "calibre_mm": 152, "distance_km": 4}
    with pytest.raises(InputError) as caught:
        attributes_from_text(["calibre_mm=1"], "talks.meeting", AGREEMENT)
    assert (caught.value.where, caught.value.reason) == ("attributes", "kind 'talks.meeting' declares no attributes")


MINSK = Path(__file__).parent.parent / "examples" / "clauses" / "minsk-feb-12-2015.yaml"
POSITION = {"kind": "heavy-weapons.position", "subject": "artillery", "date": "2015-03-01", "actor": "UA",
            "source": "OSCE SMM", "source_party": "independent"}


def test_a_required_attribute_left_out_is_named_as_the_option_or_the_line_field(store: Path, tmp_path: Path) -> None:
    args = [a for name, value in POSITION.items() for a in (f"--{name.replace('_', '-')}", value)]
    refused(run("observe", "add", *args, "--agreement", str(MINSK), "--store", str(store)),
            "--attr distance_km: kind 'heavy-weapons.position' needs the attribute 'distance_km'")
    assert not store.exists()
    (tmp_path / "one.jsonl").write_text(json.dumps(POSITION) + "\n", encoding="utf-8")
    refused(run("observe", "import", str(tmp_path / "one.jsonl"), "--agreement", str(MINSK), "--store", str(store)),
            f"{tmp_path / 'one.jsonl'}:1: attributes.distance_km: kind 'heavy-weapons.position' needs the attribute "
            "'distance_km'")
    assert not store.exists()
