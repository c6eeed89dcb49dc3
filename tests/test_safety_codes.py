"""Small refusals that must say what is wrong: a malformed --head, party codes in the wrong case, unknown
filter values."""

from __future__ import annotations

import pytest

from safety_cli import one_error_line as error, run


@pytest.mark.parametrize("head", ["banana", "sha256:xyz", "SHA256:" + "a" * 64, "sha256:" + "a" * 63])
def test_verify_head_that_is_not_a_digest_is_bad_input(head):
    line = error(run("--store", "sample", "verify", "--head", head), "--head")
    assert "is not a chain head" in line


def test_verify_head_well_formed_but_absent_is_still_exit_3():
    assert run("--store", "sample", "verify", "--head", "sha256:" + "0" * 64).exit_code == 3


def test_sources_add_suggests_the_upper_case_code(tmp_path):
    line = error(run("sources", "add", "X", "--party", "am", "--registry", str(tmp_path / "s.yaml")), "--party")
    assert line.endswith("did you mean AM?") and "--declare" not in line
    assert not (tmp_path / "s.yaml").exists()


@pytest.mark.parametrize("args, where", [
    (["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-01", "--actor", "am", "--source", "x",
      "--source-party", "AZ"], "actor"),
    (["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-01", "--actor", "AM", "--source", "x",
      "--source-party", "Independent"], "source_party"),
    (["amend", "P3-personnel-cap", "--term", "limit", "--value", "2500", "--agreed-on", "2021-01-01", "--by", "am,AZ",
      "--source", "x"], "--by"),
])
def test_a_code_in_the_wrong_case_is_told_the_code_it_means(tmp_path, args, where):
    line = error(run(*args, "--store", str(tmp_path / "log.db")), where)
    assert "did you mean" in line and "--declare" not in line


def test_sources_list_party_filter_is_validated():
    error(run("sources", "list", "--party", "XX"), "--party")
    assert "did you mean RU?" in error(run("sources", "list", "--party", "ru"), "--party")
    assert run("sources", "list", "--party", "RU").exit_code == 0


@pytest.mark.parametrize("args, where, words", [
    (["--kind", "ceasfire.breach"], "--kind", ["unknown kind 'ceasfire.breach'", "ceasefire.breach"]),
    (["--actor", "XX"], "--actor", ["unknown party code 'XX'", "--declare XX"]),
    (["--actor", "az"], "--actor", ["did you mean AZ?"]),
    (["--since", "2021-05-01", "--until", "2021-01-01"], "--since", ["2021-05-01 is after --until 2021-01-01"]),
    (["--since", "soon"], "--since", ["'soon' is not"]),
    (["--kind", " "], "--kind", ["must not be empty"]),
])
def test_observe_list_filters_are_validated_like_add(args, where, words):
    line = error(run("--store", "sample", "observe", "list", *args), where)
    assert all(word in line for word in words), line


def test_observe_list_valid_filters_and_declared_actors():
    assert run("--store", "sample", "observe", "list", "--actor", "NK").stdout.endswith("3 observations\n")
    declared = run("--store", "sample", "observe", "list", "--actor", "XX", "--declare", "XX")
    assert declared.exit_code == 0 and declared.stdout.endswith("0 observations\n")
    same_day = run("--store", "sample", "observe", "list", "--since", "2021-07-13", "--until", "2021-07-13")
    assert same_day.exit_code == 0
