"""What-if term overrides are refused in the words of the term they were meant for."""

from __future__ import annotations

import pytest

from safety_cli import run


@pytest.mark.parametrize("terms, reason", [
    ('{P3-personnel-cap: {limit: "2,500"}}',
     "terms.P3-personnel-cap.limit: a limit is a whole number >= 0, written without separators (2500); got '2,500'"),
    ('{P3-personnel-cap: {limit: "2 500"}}',
     "terms.P3-personnel-cap.limit: a limit is a whole number >= 0, written without separators (2500); got '2 500'"),
    ('{P6-kalbajar-return: {deadline: "15.11.2020"}}',
     "terms.P6-kalbajar-return.deadline: term 'deadline' of P6-kalbajar-return takes a date (YYYY-MM-DD), got 15.11.2020"),
])
def test_a_term_value_of_the_wrong_form(tmp_path, terms, reason):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"as_of: 2021-09-30\nterms: {terms}\n", encoding="utf-8")
    result = run("--store", "sample", "whatif", str(scenario))
    assert result.exit_code == 2
    assert result.stderr == f"compliance: error: {scenario}:2: {reason}\n"


def test_a_limit_given_as_digits_in_quotes_still_works(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text('as_of: 2021-09-30\nterms: {P3-personnel-cap: {limit: "8000"}}\n', encoding="utf-8")
    result = run("--store", "sample", "whatif", str(scenario))
    assert result.exit_code == 0 and "P3-personnel-cap" in result.stdout
