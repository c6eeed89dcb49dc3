"""The clause catalogue: every obligation of the spec, as data, validated on load."""

from __future__ import annotations


import pytest
import yaml

from compliance.agreement import INDEPENDENT
from compliance.clauses import load_agreement, parse_agreement
from compliance.errors import ClauseFileError, UnknownReferenceError
from compliance.resources import clauses_dir

SPEC_OBLIGATIONS = [
    ("P1-ceasefire-AM", 1, ["AM"]), ("P1-ceasefire-AZ", 1, ["AZ"]), ("P2-aghdam-return", 2, ["AM"]),
    ("P3-personnel-cap", 3, ["RU"]), ("P3-apc-cap", 3, ["RU"]), ("P3-vehicle-cap", 3, ["RU"]),
    ("P4-parallel-withdrawal", 4, ["AM"]), ("P4-term", 4, ["AM", "AZ"]), ("P5-monitoring-centre", 5, ["RU"]),
    ("P6-kalbajar-return", 6, ["AM"]), ("P6-lachin-return", 6, ["AM"]), ("P6-corridor-passage", 6, ["AZ"]),
    ("P6-new-route-plan", 6, ["AM", "AZ"]), ("P7-displaced-return", 7, ["AM", "AZ"]),
    ("P8-detainee-exchange-AM", 8, ["AM"]), ("P8-detainee-exchange-AZ", 8, ["AZ"]),
    ("P9-transport-links", 9, ["AM", "AZ"]), ("P9-nakhchivan-transit", 9, ["AM"]),
]
SPEC_KINDS = ["ceasefire.breach", "district.returned", "contingent.personnel", "contingent.apc", "contingent.vehicles",
              "contingent.deployment-complete", "armed-forces.presence", "term.notice", "monitoring-centre.operating",
              "corridor.obstruction", "route-plan.agreed", "displaced.return", "detainees.withheld",
              "transport.blocked", "transit.obstruction"]


def test_bundled_agreement_has_every_spec_obligation_in_order(agreement):
    assert [(o.id, o.point, o.bearers) for o in agreement.obligations] == SPEC_OBLIGATIONS


def test_only_the_three_spec_obligations_are_joint(agreement):
    assert sorted(o.id for o in agreement.obligations if o.joint) == ["P4-term", "P6-new-route-plan", "P7-displaced-return"]


def test_every_obligation_quotes_its_text_from_a_declared_version(agreement):
    for ob in agreement.obligations:
        assert len(ob.text.quote) > 20, ob.id
        assert ob.text.version in agreement.versions
        for term in ob.terms.values():
            assert term.quote and term.version in agreement.versions


def test_terms_caps_deadlines_and_inclusive_reading(agreement):
    limits = {ob.id: ob.terms["limit"].value for ob in agreement.obligations if ob.template == "cap"}
    assert limits == {"P3-personnel-cap": 1960, "P3-apc-cap": 90, "P3-vehicle-cap": 380}
    deadlines = {ob.id: str(ob.terms["deadline"].value) for ob in agreement.obligations if ob.template == "deadline"}
    assert deadlines == {"P2-aghdam-return": "2020-11-20", "P6-kalbajar-return": "2020-11-15",
                         "P6-lachin-return": "2020-12-01", "P6-new-route-plan": "2023-11-10"}
    assert all(ob.terms["deadline"].inclusive is True for ob in agreement.obligations if ob.template == "deadline")
    assert "inclusive" in agreement.reading_of_deadlines


def test_interpretation_notes_where_the_spec_requires_them(agreement):
    by_id = {ob.id: ob for ob in agreement.obligations}
    assert "maximum" in by_id["P3-personnel-cap"].terms["limit"].interpretation
    assert "no bearer" in by_id["P5-monitoring-centre"].interpretation
    assert "state border" in by_id["P1-ceasefire-AM"].interpretation


def test_vocabulary_windows_sides_and_zone(agreement):
    assert set(SPEC_KINDS) <= set(agreement.kinds)
    assert agreement.window("ceasefire.breach") == 1
    assert all(agreement.window(k) == 31 for k in SPEC_KINDS if k != "ceasefire.breach")
    assert agreement.sides == [["AM", "NK"], ["AZ", "TR"], ["RU"]]
    assert agreement.side_of("NK") == agreement.side_of("AM") != agreement.side_of("AZ")
    assert agreement.side_of(INDEPENDENT) is None
    assert agreement.timezone == "+03:00" and str(agreement.in_force_day) == "2020-11-10"


def test_the_kalbajar_amendment_is_recorded_as_data(agreement):
    (a1,) = agreement.amendments
    assert (a1.id, a1.obligation, a1.term, str(a1.value), str(a1.agreed_on)) == (
        "nov-10-2020-A1", "P6-kalbajar-return", "deadline", "2020-11-25", "2020-11-15")
    assert a1.by == ["AZ"] and a1.requested_by == ["AM"] and a1.relayed_by == ["RU"]
    assert agreement.endings == []
    kalbajar = next(o for o in agreement.obligations if o.id == "P6-kalbajar-return")
    assert str(kalbajar.terms["deadline"].value) == "2020-11-15", "the original term is never edited"


def test_load_by_path_and_by_folder(tmp_path):
    bundled = clauses_dir() / "nov-10-2020.yaml"
    assert load_agreement(str(bundled)).id == "nov-10-2020"
    folder = tmp_path / "agreement"
    folder.mkdir()
    (folder / "mine.yaml").write_text(bundled.read_text(encoding="utf-8").replace("id: nov-10-2020", "id: my-agreement"),
                                      encoding="utf-8")
    assert load_agreement(str(folder)).id == "my-agreement"


def test_unknown_agreement_names_the_parameter():
    with pytest.raises(UnknownReferenceError) as error:
        load_agreement("no-such-agreement")
    assert error.value.param == "agreements"


def _mutated(change) -> str:
    data = yaml.safe_load((clauses_dir() / "nov-10-2020.yaml").read_text(encoding="utf-8"))
    change(data)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@pytest.mark.parametrize("change, field, reason", [
    (lambda d: d["obligations"][3]["rule"].update(kind="contingent.tanks"), None, "unknown kind 'contingent.tanks'"),
    (lambda d: d["obligations"][3]["terms"].pop("limit"), "obligations.3", "reads the term 'limit'"),
    (lambda d: d["obligations"][2]["terms"]["deadline"].pop("inclusive"), "obligations.2", "inclusive"),
    (lambda d: d["obligations"][0].update(colour="red"), "obligations.0.colour", "unknown key"),
    (lambda d: d["obligations"][0].update(bearers=["XX"]), "obligations.0", "bearer 'XX' is neither a party nor"),
    (lambda d: d["obligations"][3]["terms"]["limit"].update(value="many"), "obligations.3.terms.limit.value", ""),
    (lambda d: d["amendments"][0].update(term="limit"), None, "has no term 'limit'"),
    (lambda d: d.update(timezone="Mars/Olympus"), "timezone", "unknown time zone"),
])
def test_invalid_clause_file_names_file_line_field_and_reason(change, field, reason):
    with pytest.raises(ClauseFileError) as error:
        parse_agreement(_mutated(change), "bad.yaml")
    message = str(error.value)
    assert message.startswith("bad.yaml:"), message
    assert error.value.where.split(":")[1].isdigit(), "the line number is given"
    if field:
        assert field in message
    assert reason in message


def test_not_yaml_and_not_a_mapping():
    with pytest.raises(ClauseFileError, match=r"bad.yaml:2: not valid YAML"):
        parse_agreement("id: x\n  - : [\n", "bad.yaml")
    with pytest.raises(ClauseFileError, match="must be a YAML mapping"):
        parse_agreement("- just\n- a list\n", "bad.yaml")


def test_clause_files_are_never_executed():
    text = "!!python/object/apply:os.system ['echo pwned']\n"
    with pytest.raises(ClauseFileError):
        parse_agreement(text, "evil.yaml")
