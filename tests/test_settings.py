"""The settings (spec/cli.md, "Where things live"): every COMPLIANCE_* variable in one typed model; a value given
(a command-line option, or an argument of `load`) wins over the environment, which wins over the default; an
invalid setting is one line naming the variable (or the option) and how to fix it, exit 2, and never shows the
value; the library's defaults come from the same settings as the command line's."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from compliance import open_store
from compliance.dates import today
from compliance.errors import SettingsError
from compliance.exchange import observation_record
from compliance.process import PROCESS
from compliance.settings import DEFAULT_STORE, Settings, load, variable
from compliance.sources import user_registry_path
from compliance.store import Store

from safety_cli import run

VARIABLES = ["COMPLIANCE_STORE", "COMPLIANCE_AGREEMENT", "COMPLIANCE_MONITOR", "COMPLIANCE_SOURCES",
             "COMPLIANCE_DECLARED_ACTORS", "COMPLIANCE_TODAY", "COMPLIANCE_DEBUG", "COMPLIANCE_NO_PROGRESS"]
ADD = ["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-13", "--actor", "AZ",
       "--source", "Armenian MoD", "--source-party", "AM"]


@pytest.fixture
def clean(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_variable_is_a_field_of_the_one_model():
    assert sorted(variable(name) for name in Settings.model_fields) == sorted(VARIABLES)


def test_the_defaults(clean):
    settings = load()
    assert (settings.store, settings.agreement, settings.monitor, settings.sources) == (str(DEFAULT_STORE), (),
                                                                                       None, None)
    assert (settings.declared_actors, settings.today, settings.debug, settings.no_progress) == ((), None, False, False)


def test_the_environment_over_the_default_and_a_given_value_over_the_environment(clean):
    clean.setenv("COMPLIANCE_STORE", "from-env.db")
    clean.setenv("COMPLIANCE_AGREEMENT", "nov-10-2020, jan-11-2021")
    assert load().store == "from-env.db"
    assert load().agreement == ("nov-10-2020", "jan-11-2021")
    assert load({"store": "given.db", "agreement": ["nov-26-2021"]}).store == "given.db"
    assert load({"store": None, "agreement": []}).store == "from-env.db"  # nothing given: the environment


def test_an_empty_variable_is_no_variable_and_flags_read_as_people_write_them(clean):
    clean.setenv("COMPLIANCE_STORE", "")
    clean.setenv("COMPLIANCE_DEBUG", "0")
    clean.setenv("COMPLIANCE_NO_PROGRESS", "yes")
    clean.setenv("COMPLIANCE_DECLARED_ACTORS", "NK, ,XX")
    settings = load()
    assert (settings.store, settings.debug, settings.no_progress) == (str(DEFAULT_STORE), False, True)
    assert settings.declared_actors == ("NK", "XX")


def test_a_changed_environment_is_seen_at_once(clean):
    clean.setenv("COMPLIANCE_TODAY", "2021-03-01")
    assert today(dt.timezone.utc) == dt.date(2021, 3, 1)
    clean.setenv("COMPLIANCE_TODAY", "2021-03-02")
    assert today(dt.timezone.utc) == dt.date(2021, 3, 2)


@pytest.mark.parametrize("value, reason", [
    ("2021-02-30", "is not a day of the calendar"),
    ("soon", "is not a date (YYYY-MM-DD)"),
    ("2500-01-01", "is outside the years 1900-2199"),
])
def test_a_bad_variable_names_itself_and_the_fix_never_the_value(clean, value, reason):
    clean.setenv("COMPLIANCE_TODAY", value)
    with pytest.raises(SettingsError) as caught:
        load()
    assert caught.value.where == "COMPLIANCE_TODAY"
    assert caught.value.reason == f"{reason}; set it to a date (YYYY-MM-DD), or unset it to use the clock"
    assert value not in str(caught.value)


def test_a_secret_in_a_bad_setting_is_not_shown_on_the_command_line():
    secret = "postgresql://alice:hunter2@db/x\x01"
    result = run(*ADD, "--store", "sample", env={"COMPLIANCE_MONITOR": secret})
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("compliance: error: COMPLIANCE_MONITOR: contains a control character (only newline and "
                             "tab are allowed); set it to a one-line name, or unset it to use the user name\n")


def test_a_bad_option_is_named_as_the_option(tmp_path):
    result = run(*ADD, "--store", str(tmp_path / "log.db"), "--as", "al\x01ice")
    assert result.exit_code == 2
    assert result.stderr.startswith("compliance: error: --as: contains a control character")
    assert not (tmp_path / "log.db").exists()


def test_the_option_after_the_subcommand_then_before_it_then_the_environment(tmp_path):
    after, before, env = (str(tmp_path / f"{name}.db") for name in ("after", "before", "env"))
    assert run("--store", before, *ADD, "--store", after, env={"COMPLIANCE_STORE": env}).exit_code == 0
    assert run("--store", before, *ADD, env={"COMPLIANCE_STORE": env}).exit_code == 0
    assert run(*ADD, env={"COMPLIANCE_STORE": env}).exit_code == 0
    assert [Path(p).exists() for p in (after, before, env)] == [True, True, True]
    assert [len(list(Store.open(p).live_observations(Store.open(p).head()))) for p in (after, before, env)] == [1, 1, 1]


def test_the_library_opens_the_store_the_settings_name(clean, tmp_path):
    clean.setenv("COMPLIANCE_STORE", str(tmp_path / "team.db"))
    clean.setenv("COMPLIANCE_MONITOR", "patrol-8")
    clean.setenv("COMPLIANCE_AGREEMENT", PROCESS[0])
    store = open_store(write=True)
    assert store.where == str(tmp_path / "team.db") and store.process.ids == [PROCESS[0]]
    record = observation_record({"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "s",
                                 "source_party": "AM"}, store.process)
    store.append([record])
    assert [r.recorded_by for r in store.records()][-1] == "patrol-8"


def test_the_library_finds_the_registry_the_settings_name(clean, tmp_path):
    assert user_registry_path() == Path("observations") / "sources.yaml"
    clean.setenv("COMPLIANCE_STORE", str(tmp_path / "team.db"))
    assert user_registry_path() == tmp_path / "sources.yaml"
    clean.setenv("COMPLIANCE_SOURCES", str(tmp_path / "mine.yaml"))
    assert user_registry_path() == tmp_path / "mine.yaml"
    assert user_registry_path(tmp_path / "given.yaml") == tmp_path / "given.yaml"


def test_the_bundled_default_agreement_is_written_once():
    package = Path(__file__).resolve().parent.parent / "compliance"
    found = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == PROCESS[0]:
                found.append(str(path.relative_to(package)))
    assert found == ["process.py"]
