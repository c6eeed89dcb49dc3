"""The source registry: bundled and user entries, name matching, precedence, `sources add|list|lookup`, and its use
by `observe add`, `observe correct` and `observe import` when source_party is left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from compliance.cli import app
from compliance.cli.common import cli_words
from compliance.errors import InputError
from compliance.sources import add_source, load_registry, normalise, parse_registry, user_registry_path

runner = CliRunner()


def run(*args: str, env: dict | None = None):
    return runner.invoke(app, list(args), env={"COMPLIANCE_MONITOR": "tester", "COMPLIANCE_SOURCES": None,
                                               "COMPLIANCE_STORE": None, **(env or {})})


@pytest.fixture
def bundled():
    return load_registry(None)


@pytest.mark.parametrize("name, party, entry", [
    ("Azerbaijani Ministry of Defence", "AZ", "Azerbaijani Ministry of Defence"),
    ("azerbaijani   mod", "AZ", "Azerbaijani Ministry of Defence"),
    ("  Ministry of Defense of Armenia ", "AM", "Armenian Ministry of Defence"),
    ("Russian MoD", "RU", "Russian Ministry of Defence"),
    ("ITAR-TASS", "RU", "TASS"),
    ("tass", "RU", "TASS"),
    ("ICRC", "independent", "International Committee of the Red Cross"),
    ("UN Refugee Agency", "independent", "UNHCR"),
    ("haqqin.az", "AZ", "Haqqin.az"),
    ("ARMENPRESS", "AM", "Armenpress"),
    ("Artsakh Defence Army", "NK", "Nagorno-Karabakh Defense Army"),
    ("Ilham Aliyev, President of Azerbaijan", "AZ", "President of Azerbaijan"),
])
def test_bundled_names_and_aliases_match_case_and_whitespace_insensitively(bundled, name, party, entry):
    found = bundled.lookup(name)
    assert found is not None and found.origin == "bundled"
    assert (found.entry.name, found.entry.party) == (entry, party)
    assert bundled.alignment(name) == party


def test_an_unknown_source_is_not_guessed(bundled):
    assert bundled.lookup("Azerbaijani Ministry") is None
    assert bundled.lookup("TASS agency of somewhere") is None
    with pytest.raises(InputError) as error:
        bundled.alignment("Unknown Daily")
    assert error.value.where == "source_party"
    assert 'register it: compliance.sources.add_source(path, "Unknown Daily", party)' in error.value.reason
    assert 'compliance sources add "Unknown Daily" --party CODE' in error.value.describe(cli_words)[1]


def test_normalise_folds_case_and_whitespace_only():
    assert normalise("  Russian\t MoD \n") == "russian mod"
    assert normalise("ITAR-TASS") != normalise("ITAR TASS")


def test_the_bundled_registry_names_each_source_once(bundled):
    keys = [key for entry in bundled.bundled for key in set(entry.keys())]
    assert len(keys) == len(set(keys))
    codes = {entry.party for entry in bundled.bundled}
    assert codes <= {"AM", "AZ", "RU", "NK", "TR", "independent"}


def test_user_entries_take_precedence_and_replace_the_whole_bundled_entry(tmp_path):
    path = tmp_path / "sources.yaml"
    add_source(path, "TASS", "independent")
    registry = load_registry(path)
    assert registry.alignment("TASS") == "independent"
    assert registry.lookup("tass").origin == str(path)
    # the bundled entry's aliases now resolve to the user entry too
    assert registry.alignment("ITAR-TASS") == "independent"
    assert registry.alignment("Russian MoD") == "RU"


def test_add_source_appends_keeps_comments_and_rejects_duplicates(tmp_path):
    path = tmp_path / "sources.yaml"
    add_source(path, "Caucasian Knot", "independent", ["Kavkazsky Uzel"])
    path.write_text(path.read_text() + "# my note\n")
    add_source(path, "JAMnews", "independent", type_="outlet")
    text = path.read_text()
    assert "# my note" in text
    entries = parse_registry(text, str(path))
    assert [(e.name, e.party, e.aliases) for e in entries] == [
        ("Caucasian Knot", "independent", ["Kavkazsky Uzel"]), ("JAMnews", "independent", [])]
    with pytest.raises(InputError, match="already a name of 'Caucasian Knot'"):
        add_source(path, "kavkazsky  UZEL", "AZ")
    with pytest.raises(InputError, match="not a party code"):
        add_source(path, "Somebody", "neutral")
    assert parse_registry(path.read_text(), str(path)) == entries
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_add_source_rewrites_a_file_it_cannot_append_to(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources: [{name: A Outlet, party: AZ}]\n")
    add_source(path, "B Outlet", "AM")
    assert [(e.name, e.party) for e in parse_registry(path.read_text(), str(path))] == [("A Outlet", "AZ"), ("B Outlet", "AM")]


@pytest.mark.parametrize("text, where, reason", [
    ("sources: [{name: X, party: neutral}]\n", "reg.yaml:1", "party: 'neutral' is not a party code"),
    ("sources:\n- name: X\n  party: AZ\n- name: Y\n  party: AM\n  colour: red\n", "reg.yaml:6",
     "sources.1.colour: unknown field"),
    ("sources:\n- name: X\n  party: AZ\n- name: x\n  party: AM\n", "reg.yaml:4", "already a name of 'X'"),
    ("sources:\n- {name: X\n", "reg.yaml:3", "not valid YAML"),
    ("- name: X\n  party: AZ\n", "reg.yaml:1", "(top level): a source registry is a YAML mapping with one key"),
    ("sources:\n- name: X\n", "reg.yaml:2", "party: is required"),
])
def test_a_broken_registry_file_is_reported_with_file_line_and_field(text, where, reason):
    with pytest.raises(InputError) as error:
        parse_registry(text, "reg.yaml")
    assert error.value.where == where
    assert reason in error.value.reason


def test_the_user_registry_lives_beside_the_store_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPLIANCE_SOURCES", raising=False)
    assert user_registry_path(None, str(tmp_path / "logs" / "my.db")) == tmp_path / "logs" / "sources.yaml"
    assert user_registry_path(None, "sample") == Path("observations") / "sources.yaml"
    monkeypatch.setenv("COMPLIANCE_SOURCES", str(tmp_path / "env.yaml"))
    assert user_registry_path(None, "x.db") == tmp_path / "env.yaml"
    assert user_registry_path(str(tmp_path / "opt.yaml"), "x.db") == tmp_path / "opt.yaml"


ADD = ["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-13", "--actor", "AZ"]


def test_sources_add_then_observe_add_without_source_party(tmp_path):
    store = str(tmp_path / "log.db")
    unknown = run(*ADD, "--source", "Caucasian Knot", "--store", store)
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        "compliance: error: source_party: source 'Caucasian Knot' is not in the source registry and no "
        "source_party was given; give --source-party, or register it: compliance sources add \"Caucasian Knot\" "
        "--party CODE\n")
    assert not (tmp_path / "log.db").exists()

    added = run("sources", "add", "Caucasian Knot", "--party", "independent", "--alias", "Kavkazsky Uzel",
                "--store", store)
    assert added.exit_code == 0, added.stderr
    assert added.stdout == f"added 'Caucasian Knot' (independent) to {tmp_path / 'sources.yaml'}\n"

    assert run(*ADD, "--source", "kavkazsky uzel", "--store", store).stdout == "1\n"
    assert run(*ADD, "--source", "Azerbaijani MoD", "--store", store).stdout == "2\n"
    # an explicit --source-party always wins over the registry
    assert run(*ADD, "--source", "Azerbaijani MoD", "--source-party", "independent", "--store", store).stdout == "3\n"
    listed = json.loads(run("observe", "list", "--format", "json", "--store", store).stdout)
    assert [(r["source"], r["source_party"]) for r in listed] == [
        ("kavkazsky uzel", "independent"), ("Azerbaijani MoD", "AZ"), ("Azerbaijani MoD", "independent")]


def test_correct_with_a_new_source_takes_its_registered_alignment(tmp_path):
    store = str(tmp_path / "log.db")
    assert run(*ADD, "--source", "Armenpress", "--store", store).stdout == "1\n"
    assert run("observe", "correct", "1", "--source", "TASS", "--store", store).stdout == "2\n"
    assert run("observe", "correct", "2", "--place", "Shusha", "--store", store).stdout == "3\n"
    bad = run("observe", "correct", "3", "--source", "Unknown Daily", "--store", store)
    assert bad.exit_code == 2 and 'compliance sources add "Unknown Daily" --party CODE' in bad.stderr
    shown = json.loads(run("observe", "show", "3", "--format", "json", "--store", store).stdout)["record"]
    assert (shown["source"], shown["source_party"], shown["place"]) == ("TASS", "RU", "Shusha")


def test_user_registry_precedence_through_the_cli(tmp_path):
    store = str(tmp_path / "log.db")
    result = run("sources", "add", "TASS", "--party", "independent", "--store", store)
    assert result.exit_code == 0 and result.stderr == "note: replaces the bundled entry 'TASS' (RU)\n"
    assert run("sources", "lookup", "itar-tass", "--store", store).stdout == \
        f"TASS: independent (from {tmp_path / 'sources.yaml'})\n"
    other = tmp_path / "other.yaml"
    assert run("sources", "lookup", "itar-tass", "--registry", str(other), "--store", store).stdout == \
        "TASS: RU (from bundled)\n"
    assert run("sources", "lookup", "itar-tass", env={"COMPLIANCE_SOURCES": str(other)}).stdout == \
        "TASS: RU (from bundled)\n"
    assert run(*ADD, "--source", "TASS", "--store", store).stdout == "1\n"
    record = json.loads(run("observe", "show", "1", "--format", "json", "--store", store).stdout)["record"]
    assert record["source_party"] == "independent"


def test_sources_add_rejects_party_codes_the_agreement_does_not_know(tmp_path):
    store = str(tmp_path / "log.db")
    result = run("sources", "add", "Tehran Times", "--party", "IR", "--store", store)
    assert result.exit_code == 2
    assert result.stderr.startswith("compliance: error: --party: unknown party code 'IR' (known: AM, AZ, RU, NK")
    assert not (tmp_path / "sources.yaml").exists()
    assert run("sources", "add", "Tehran Times", "--party", "IR", "--declare", "IR", "--store", store).exit_code == 0
    duplicate = run("sources", "add", "tehran times", "--party", "IR", "--declare", "IR", "--store", store)
    assert duplicate.exit_code == 2 and "already a name of 'Tehran Times'" in duplicate.stderr


def test_sources_list_table_and_json(tmp_path):
    store = str(tmp_path / "log.db")
    run("sources", "add", "TASS", "--party", "independent", "--store", store)
    data = json.loads(run("sources", "list", "--format", "json", "--store", store).stdout)
    assert data["user_registry"] == str(tmp_path / "sources.yaml") and data["user_registry_exists"] is True
    rows = {(r["name"], r["origin"]): r for r in data["sources"]}
    assert rows[("TASS", str(tmp_path / "sources.yaml"))]["party"] == "independent"
    assert rows[("TASS", "bundled")]["replaced_by"] == "TASS"
    assert data["sources"][0]["origin"] != "bundled"
    table = run("sources", "list", "--party", "TR", "--store", store).stdout.splitlines()
    assert table[0].split() == ["name", "alignment", "aliases", "type", "from"]
    assert table[-1] == f"3 sources (0 from {tmp_path / 'sources.yaml'}, 3 bundled)"
    unknown = run("sources", "lookup", "Unknown Daily")
    assert unknown.exit_code == 2 and unknown.stderr.startswith("compliance: error: NAME: 'Unknown Daily' is not in")


def test_jsonl_lines_may_leave_out_source_party(tmp_path):
    store = str(tmp_path / "log.db")
    lines = [{"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "Armenpress"},
             {"kind": "ceasefire.breach", "date": "2021-07-14", "actor": "AM", "source": "Azerbaijani MoD",
              "source_party": "independent"}]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert run("observe", "import", str(path), "--store", store).stdout == "2\n"
    listed = json.loads(run("observe", "list", "--format", "json", "--store", store).stdout)
    assert [r["source_party"] for r in listed] == ["AM", "independent"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**lines[0], "source": "Nobody Weekly"}) + "\n")
    result = run("observe", "import", str(bad), "--store", store)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"compliance: error: {bad}:1: source_party: source 'Nobody Weekly' is not in "
                                    f"the source registry")
    assert "give source_party on the line" in result.stderr


def test_a_broken_user_registry_only_matters_when_it_is_needed(tmp_path):
    store = str(tmp_path / "log.db")
    (tmp_path / "sources.yaml").write_text("sources: [{name: X}]\n")
    with_party = tmp_path / "ok.jsonl"
    with_party.write_text(json.dumps({"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ",
                                      "source": "s", "source_party": "AM"}) + "\n")
    assert run("observe", "import", str(with_party), "--store", store).stdout == "1\n"
    result = run(*ADD, "--source", "TASS", "--store", store)
    assert result.exit_code == 2
    assert result.stderr == f"compliance: error: {tmp_path / 'sources.yaml'}:1: sources.0.party: is required\n"


def test_the_registry_file_written_is_plain_yaml(tmp_path):
    path = tmp_path / "sources.yaml"
    add_source(path, "Caucasian Knot", "independent", ["Kavkazsky Uzel"], note="Russian-language outlet")
    assert yaml.safe_load(path.read_text()) == {"sources": [
        {"name": "Caucasian Knot", "party": "independent", "aliases": ["Kavkazsky Uzel"],
         "note": "Russian-language outlet"}]}
