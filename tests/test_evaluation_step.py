"""Evaluation details on the miniature rule base (tests/fixtures/mini): the cancer-type probe that
picks a case's candidate rules, retired rules, the citations and criteria of an option, and the
missing data of rules that read one unknown fact. Expected values come from the rule files and the
case alone."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from engine.api import Engine
from engine.evaluator import _NO_PLAN, Ctx
from engine.rules_model import Condition

FIXTURES = Path(__file__).resolve().parent / "fixtures"
G12C = {"gene": "KRAS", "variant": "G12C"}


def probe(engine, when, cancer_type):
    """The value of ``when`` known from the cancer type alone (None: it depends on the rest)."""
    node = engine.program.compile(TypeAdapter(Condition).validate_python(when))
    case = engine.normalise({"cancer_type": cancer_type, "as_of": "2026-01-01"})
    return node.probe(Ctx(engine.program, case, _NO_PLAN))


@pytest.mark.parametrize("when, cancer_type, expected", [
    ({"any": [{"cancer": "NSCLC"}, {"cancer": "PDAC"}]}, "LUAD", True),
    ({"any": [{"cancer": "NSCLC"}, {"cancer": "PDAC"}]}, "COADREAD", False),
    ({"any": [{"cancer": "COADREAD"}, {"alteration": G12C}]}, "LUAD", None),
    ({"any": [{"cancer": "NSCLC"}, {"alteration": G12C}]}, "LUAD", True),
    ({"not": {"cancer": "NSCLC"}}, "LUAD", False),
    ({"not": {"cancer": "NSCLC"}}, "COADREAD", True),
    ({"not": {"alteration": G12C}}, "LUAD", None),
    ({"all": [{"cancer": "COADREAD"}, {"alteration": G12C}]}, "LUAD", False),
    ({"all": [{"cancer": "NSCLC"}, {"alteration": G12C}]}, "LUAD", None),
    ({"all": [{"not": {"cancer": "COADREAD"}}, {"any": [{"cancer": "NSCLC"}, {"cancer": "PDAC"}]}]}, "LUAD", True),
])
def test_the_cancer_type_alone_decides_only_what_it_can(mini, when, cancer_type, expected):
    assert probe(mini, when, cancer_type) is expected


@pytest.fixture(scope="module")
def mini_retired(tmp_path_factory):
    """The mini rule base with the FDA sotorasib approval (TLNG-001) retired."""
    dst = tmp_path_factory.mktemp("rb") / "mini"
    shutil.copytree(FIXTURES / "mini", dst)
    f = dst / "kb" / "mini.yaml"
    data = yaml.safe_load(f.read_text())
    for rule in data["rules"]:
        if rule["id"] == "TLNG-001":
            rule["status"] = "retired"
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return Engine(dst)


def test_a_retired_rule_is_silent_and_the_trace_says_retired(mini_retired):
    case = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C],
            "prior_therapies": [{"drugs": ["carboplatin"]}], "as_of": "2026-01-01"}
    r = mini_retired.evaluate(case)
    assert r.option("sotorasib") is None
    assert "TLNG-001: retired" in r.trace


def test_an_option_cites_its_rules_source_and_quote(mini):
    r = mini.evaluate({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C],
                       "prior_therapies": [{"drugs": ["carboplatin"]}], "as_of": "2026-01-01"})
    opt = r.option("sotorasib")
    assert opt.rules[0] == "TLNG-001"
    assert [(c.source, c.quote, c.rule) for c in opt.citations] == [("TEST-LABEL", "test quote", "TLNG-001")]


def test_a_pending_exclusion_is_listed_as_an_unknown_criterion_in_words(mini):
    r = mini.evaluate({"cancer_type": "LUAD", "stage": "metastatic",
                       "alterations": [G12C, {"gene": "KRAS", "variant": "Y96D"}],
                       "prior_therapies": [{"drugs": ["sotorasib"]}], "as_of": "2026-01-01"})
    opt = r.option("sotorasib")
    assert opt.verdict == "conditional"
    crit = [c for c in opt.criteria if c.id == "TRES-001/exclusion"]
    assert len(crit) == 1 and crit[0].status == "unknown" and crit[0].kind == "gate"
    assert crit[0].text.startswith("not excluded by: ") and "KRAS Y96D" in crit[0].text


def test_every_option_cites_its_deciding_rule_first_with_source_section_and_quote(engine):
    import json

    case = json.loads((Path(__file__).resolve().parents[1] / "cases" / "chol-kras-g12c.json").read_text())
    by_id = {r.id: r for r in engine.rulebase.rules}
    options = engine.evaluate(case).options
    assert options
    for opt in options:
        rule = by_id[opt.rules[0]]
        head = [(c.source, c.section, c.quote, c.rule) for c in opt.citations[:len(rule.citations)]]
        assert head == [(c.source, c.section, c.quote, rule.id) for c in rule.citations]


def test_two_rules_reading_one_unknown_fact_each_name_what_is_missing(mini):
    # KRAS tested, NRAS not: ras_mutant is unknown for the exclusion's gate and for the approval's
    # criterion alike; each rule's own outcome names the NRAS test
    r = mini.evaluate({"cancer_type": "COADREAD", "tested_genes": ["KRAS"], "as_of": "2026-01-01"})
    assert "TCRC-001 -> cetuximab: excluded if confirmed (missing: NRAS testing)" in r.trace
    assert "TCRC-002 -> cetuximab: conditional (missing: NRAS testing)" in r.trace
    assert r.option("cetuximab").missing == ["NRAS testing"]


@pytest.fixture(scope="module")
def mini_any_population(tmp_path_factory):
    """The mini rule base with the clinical sotorasib option (TPAN-002) studied in any cancer."""
    dst = tmp_path_factory.mktemp("rb") / "mini"
    shutil.copytree(FIXTURES / "mini", dst)
    f = dst / "kb" / "mini.yaml"
    data = yaml.safe_load(f.read_text())
    for rule in data["rules"]:
        if rule["id"] == "TPAN-002":
            rule["population"]["cancers"] = ["any"]
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return Engine(dst)


def test_clinical_evidence_from_any_cancer_is_3A_in_every_cancer(mini_any_population):
    opt = mini_any_population.evaluate({"cancer_type": "PDAC", "alterations": [G12C], "as_of": "2026-01-01"}).option("sotorasib")
    assert (opt.verdict, opt.evidence, opt.oncokb_level) == ("consider", "clinical", "3A")


def test_the_first_case_of_a_cancer_type_does_not_decide_the_candidates_of_the_next():
    # the candidate rules are cached per cancer type: only the cancer type may decide them
    fresh = Engine(FIXTURES / "mini")
    base = {"cancer_type": "LUAD", "stage": "metastatic", "prior_therapies": [{"drugs": ["carboplatin"]}],
            "as_of": "2026-01-01"}
    assert fresh.evaluate({**base, "tested_genes": ["KRAS"]}).option("sotorasib") is None
    assert fresh.evaluate({**base, "alterations": [G12C]}).option("sotorasib").verdict == "eligible"
