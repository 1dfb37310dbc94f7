"""Rule language v2 on the miniature rule base (tests/fixtures/mini): evidence populations,
alterations acquired on a drug class, cautions, exclusions whose gate is unknown, class-wide
exclusions limited to a therapy's own scope, the line of therapy, readings, cancer types coded
less specifically than a rule, OncoKB levels and structured criteria. Each test states the
expected outcome from the case alone; each fails if its feature is broken."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import Engine
from engine.formats import TSV_COLUMNS, tsv_row

from conftest import edited_rules

FIXTURES = Path(__file__).resolve().parent / "fixtures"
G12C = {"gene": "KRAS", "variant": "G12C"}
BRCA2 = {"gene": "BRCA2", "variant": "E1953*", "origin": "germline"}


def lung(*extra, **kw):
    case = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C, *extra], "as_of": "2026-01-01"}
    case.update(kw)
    return case


def pdac(*lines, **kw):
    case = {"cancer_type": "PDAC", "alterations": [BRCA2], "prior_therapies": list(lines), "as_of": "2026-01-01"}
    case.update(kw)
    return case


def platinum(setting="metastatic", weeks=18, outcome="stable", drug="oxaliplatin"):
    line = {"drugs": [drug]}
    for k, v in (("setting", setting), ("weeks", weeks), ("outcome", outcome)):
        if v is not None:
            line[k] = v
    return line


# --------------------------------------------------------------------------- acquired_on


def test_allele_flagged_acquired_excludes_the_class(mini):
    r = mini.evaluate(lung({"gene": "KRAS", "variant": "Y96D", "acquired": True},
                            prior_therapies=[{"drugs": ["carboplatin"]}, {"drugs": ["sotorasib"]}]))
    opt = r.option("sotorasib")
    assert opt.verdict == "excluded" and opt.rules[0] == "TRES-001"
    assert opt.cautions == []  # acquired: the caution's population finding does not hold


def test_allele_flagged_at_diagnosis_keeps_the_label_verdict_with_a_caution(mini):
    r = mini.evaluate(lung({"gene": "KRAS", "variant": "Y96D", "acquired": False}, prior_therapies=[{"drugs": ["carboplatin"]}]))
    opt = r.option("sotorasib")
    assert opt.verdict == "eligible" and opt.rules[0] == "TLNG-001"
    assert [c.rule for c in opt.cautions] == ["TRES-002"]
    assert "Caution: KRAS Y96D was found but not after" in opt.explanation
    assert any(c.rule == "TRES-002" for c in opt.citations)


def test_unflagged_allele_after_progression_on_the_class_is_acquired(mini):
    r = mini.evaluate(lung({"gene": "KRAS", "variant": "Y96D"}, prior_therapies=[{"drugs": ["sotorasib"], "outcome": "progression"}]))
    assert r.option("sotorasib").verdict == "excluded"
    assert r.option("sotorasib").rules[0] == "TRES-001"


def test_unflagged_allele_never_exposed_to_the_class_is_a_baseline_finding(mini):
    r = mini.evaluate(lung({"gene": "KRAS", "variant": "Y96D"}, prior_therapies=[{"drugs": ["carboplatin"]}]))
    opt = r.option("sotorasib")
    assert opt.verdict == "eligible"
    assert [c.rule for c in opt.cautions] == ["TRES-002"]


def test_unflagged_allele_exposed_without_outcome_makes_the_approval_conditional(mini):
    r = mini.evaluate(lung({"gene": "KRAS", "variant": "Y96D"}, prior_therapies=[{"drugs": ["sotorasib"]}]))
    opt = r.option("sotorasib")
    assert opt.verdict == "conditional" and opt.rules[0] == "TLNG-001"
    assert opt.missing == ["whether KRAS Y96D was acquired on a KRAS G12C inhibitor "
                           "(how prior therapy 1 (sotorasib) ended, or whether the report marks the alteration as acquired)"]
    title = mini.rulebase.by_id["TRES-001"].title
    assert f"Would be excluded by \u201c{title}\u201d if confirmed" in opt.explanation  # the rule in words
    assert "TRES-001" not in opt.explanation
    assert "TRES-001" in opt.rules
    ex = [c for c in opt.criteria if c.id == "TRES-001/exclusion"]
    assert len(ex) == 1 and ex[0].status == "unknown"


def test_the_question_of_acquisition_names_the_cases_own_allele(engine):
    """A rule naming several second alleles asks about the one the case carries, not the list."""
    case = {"cancer_type": "LUAD", "stage": "metastatic", "as_of": "2026-07-01",
            "alterations": [{"gene": "KRAS", "variant": "G12C"}, {"gene": "KRAS", "variant": "G12V"}],
            "prior_therapies": [{"drugs": ["carboplatin", "pemetrexed"], "setting": "metastatic", "outcome": "progression"},
                                {"drugs": ["sotorasib"], "setting": "metastatic"}]}
    opt = engine.evaluate(case).option("sotorasib")
    asked = [m for m in opt.missing if m.startswith("whether ")]
    # (and, for the alleles the profile does not list, whether it is from after the drug)
    assert asked == ["whether KRAS G12V was acquired on a KRAS G12C inhibitor (how prior therapy 2 (sotorasib) "
                     "ended, or whether the report marks the alteration as acquired)",
                     "whether the KRAS results are from testing after prior therapy 2 (sotorasib)"], opt.missing


def test_acquired_flag_is_optional_and_three_valued_in_the_case(mini):
    n = mini.normalise(lung({"gene": "KRAS", "variant": "Y96D"}, {"gene": "KRAS", "variant": "R68M", "acquired": False}))
    flags = {a.label: a.acquired for a in n.alterations}
    assert flags == {"G12C": None, "Y96D": None, "R68M": False}


def test_old_acquired_pattern_treats_an_unstated_flag_as_not_acquired(mini):
    from engine.conditions import KINDS

    vocab = mini.rulebase.vocab
    kind = KINDS["alteration"]
    cond = kind.model.model_validate({"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired": False}})
    _, fn, _, _ = kind.build(cond, vocab)
    assert fn(mini.normalise(lung({"gene": "KRAS", "variant": "Y96D"}))) is True
    assert fn(mini.normalise(lung({"gene": "KRAS", "variant": "Y96D", "acquired": True}))) is False


def test_caution_whose_therapies_have_no_option_goes_to_the_notes(mini):
    # before sotorasib's approval: no option for any G12C inhibitor, the caution is a note
    r = mini.evaluate(lung({"gene": "KRAS", "variant": "Y96D", "acquired": False}, as_of="2021-03-01"))
    assert r.option("sotorasib") is None
    assert [n.rule for n in r.note_details] == ["TRES-002"]


# --------------------------------------------------------------------------- scope


def test_class_exclusion_lists_only_therapies_in_scope(mini):
    r = mini.evaluate(lung({"gene": "KRAS", "variant": "Y96D", "acquired": True},
                            prior_therapies=[{"drugs": ["carboplatin"]}, {"drugs": ["sotorasib"]}]))
    # adagrasib + cetuximab holds a G12C inhibitor, but its only rule is about colorectal cancer
    assert r.option("adagrasib+cetuximab") is None
    assert r.option("sotorasib").verdict == "excluded"


def test_class_exclusion_lists_nothing_before_the_therapy_existed(mini):
    case = dict(cancer_type="COADREAD", alterations=[G12C], prior_therapies=[{"regimen": "FOLFOXIRI"}])
    assert Engine(FIXTURES / "mini").evaluate({**case, "as_of": "2024-06-20"}).option("adagrasib+cetuximab") is None
    assert mini.evaluate({**case, "as_of": "2024-06-21"}).option("adagrasib+cetuximab").verdict == "eligible"


# --------------------------------------------------------------------------- line of therapy


def test_first_line_platinum_without_progression_qualifies_and_the_reading_is_shown(mini):
    opt = mini.evaluate(pdac(platinum())).option("olaparib")
    assert opt.verdict == "eligible"
    assert "Reading of \"no progression on at least 16 weeks" in opt.explanation
    assert "adjuvant or neoadjuvant therapy is not counted as a line" in opt.explanation


def test_an_outcome_that_fails_criteria_shows_the_readings_of_those_only(engine):
    """A reading explains how a criterion was read: shown for the criteria that decided the
    outcome (every one when the verdict holds, the failed ones when it fails), not beside a
    failure of another criterion (stage) where it would only distract."""
    base = {"cancer_type": "COADREAD", "alterations": [], "tested_genes": ["KRAS", "NRAS", "BRAF"], "as_of": "2026-07-01"}
    setting = 'Reading of "a setting of the label'
    after_folfox = engine.evaluate({**base, "stage": "metastatic", "prior_therapies": [
        {"regimen": "FOLFOX", "setting": "metastatic", "outcome": "progression"}]}).option("cetuximab")
    assert after_folfox.verdict == "not_eligible" and setting in after_folfox.explanation
    not_metastatic = engine.evaluate({**base, "stage": "locally_advanced", "prior_therapies": []}).option("cetuximab")
    assert not_metastatic.failed_criteria == ["metastatic disease"] and setting not in not_metastatic.explanation
    first_line = engine.evaluate({**base, "stage": "metastatic", "prior_therapies": [
        {"regimen": "FOLFOX", "setting": "adjuvant", "outcome": "response"}]}).option("cetuximab")
    assert first_line.verdict == "eligible" and setting in first_line.explanation  # adjuvant does not count: said


def test_adjuvant_therapy_is_not_counted_as_a_line(mini):
    opt = mini.evaluate(pdac(platinum(setting="adjuvant", drug="fluorouracil"), platinum())).option("olaparib")
    assert opt.verdict == "eligible"


def test_platinum_given_as_second_line_does_not_count(mini):
    r = mini.evaluate(pdac({"drugs": ["gemcitabine"], "setting": "metastatic", "outcome": "progression"}, platinum()))
    opt = r.option("olaparib")
    assert opt.verdict == "not_eligible"
    assert opt.failed_criteria[0].startswith("no progression on at least 16 weeks of first-line platinum")


def test_progression_on_first_line_platinum_fails(mini):
    opt = mini.evaluate(pdac(platinum(outcome="progression"))).option("olaparib")
    assert opt.verdict == "not_eligible"


def test_platinum_stopped_for_toxicity_without_progression_counts(mini):
    assert mini.evaluate(pdac(platinum(outcome="intolerance"))).option("olaparib").verdict == "eligible"


def test_unknown_outcome_of_the_platinum_line_is_conditional(mini):
    opt = mini.evaluate(pdac(platinum(outcome=None))).option("olaparib")
    assert opt.verdict == "conditional"
    assert opt.missing == ["how prior therapy 1 (oxaliplatin) ended"]  # only what is not given


def test_a_line_of_unknown_setting_before_makes_the_position_unknown(mini):
    opt = mini.evaluate(pdac({"drugs": ["gemcitabine"]}, platinum())).option("olaparib")
    assert opt.verdict == "conditional"


def test_prior_lines_max_counts_a_line_of_unknown_setting_as_unknown(mini):
    # first-line platinum, then a line whose setting is not given: maybe a second metastatic line
    opt = mini.evaluate(pdac(platinum(), {"regimen": "FOLFIRI"})).option("olaparib")
    assert opt.verdict == "conditional"
    assert opt.missing == ["the setting of prior therapy 2 (FOLFIRI)"]
    opt = mini.evaluate(pdac(platinum(), {"regimen": "FOLFIRI", "setting": "metastatic"})).option("olaparib")
    assert opt.verdict == "not_eligible"


def _line_atom(mini, **pattern):
    from engine.conditions import KINDS

    kind = KINDS["prior_line"]
    cond = kind.model.model_validate({"prior_line": pattern})
    return kind.build(cond, mini.rulebase.vocab)[1]


def test_position_last_is_the_most_recent_line(mini):
    fn = _line_atom(mini, classes=["platinum"], position="last")
    assert fn(mini.normalise(pdac({"drugs": ["gemcitabine"]}, platinum()))) is True
    assert fn(mini.normalise(pdac(platinum(), {"drugs": ["gemcitabine"]}))) is False
    assert fn(mini.normalise(pdac())) is False
    assert fn(mini.normalise({"cancer_type": "PDAC"})) is None


def test_position_first_ignores_neoadjuvant_and_is_unknown_for_an_unset_line(mini):
    fn = _line_atom(mini, classes=["platinum"], position="first")
    assert fn(mini.normalise(pdac(platinum(setting="neoadjuvant", drug="gemcitabine"), platinum()))) is True
    assert fn(mini.normalise(pdac(platinum(setting=None)))) is None  # may have been adjuvant
    assert fn(mini.normalise(pdac(platinum(setting="adjuvant")))) is False


def test_outcome_not_is_unknown_without_an_outcome(mini):
    fn = _line_atom(mini, classes=["platinum"], outcome_not=["progression"])
    assert fn(mini.normalise(pdac(platinum(outcome="response")))) is True
    assert fn(mini.normalise(pdac(platinum(outcome="progression")))) is False
    assert fn(mini.normalise(pdac(platinum(outcome=None)))) is None


# --------------------------------------------------------------------------- cancer codes


def test_cancer_coded_less_specifically_than_the_rule_is_unknown(mini):
    r = mini.evaluate(lung(cancer_type="lung cancer", prior_therapies=[{"drugs": ["carboplatin"]}]))
    assert r.cancer_type == "LUNG"
    opt = r.option("sotorasib")
    assert opt.verdict == "conditional"
    assert opt.missing == ["cancer subtype (histology)"]


def test_cancer_outside_the_rule_is_false(mini):
    r = mini.evaluate(lung(cancer_type="BRCA", prior_therapies=[{"drugs": ["carboplatin"]}]))
    assert r.option("sotorasib") is None


# --------------------------------------------------------------------------- levels


def test_clinical_evidence_within_its_population_is_3A(mini):
    opt = mini.evaluate({"cancer_type": "PDAC", "alterations": [G12C], "as_of": "2026-01-01"}).option("sotorasib")
    assert (opt.verdict, opt.evidence, opt.oncokb_level) == ("consider", "clinical", "3A")


@pytest.fixture(scope="module")
def mini_variant(tmp_path_factory):
    """The mini rule base with TRES-001 preclinical, TPAN-002's population elsewhere and ending on
    2025-06-01, TCRC-001 without a population, and TLNG-001 counting metastatic lines only."""
    def edit(by_id, data):
        by_id["TRES-001"]["evidence"] = "resistance_preclinical"
        pan = by_id["TPAN-002"]
        pan["population"]["cancers"] = ["NSCLC"]
        pan["effective_to"] = "2025-06-01"
        for ex in pan["examples"]:
            ex["case"]["as_of"] = "2025-01-01"
        lng = by_id["TLNG-001"]
        lng["requires"][0]["test"] = {"prior_lines": {"min": 1, "setting": ["metastatic"]}}
        for ex in lng["examples"]:
            ex["case"]["prior_therapies"][0]["setting"] = "metastatic"
        del by_id["TCRC-001"]["population"]

    return Engine(edited_rules(tmp_path_factory.mktemp("rb"), FIXTURES / "mini", edit))


def test_clinical_evidence_outside_its_population_is_3B(mini_variant):
    opt = mini_variant.evaluate({"cancer_type": "PDAC", "alterations": [G12C], "as_of": "2025-01-01"}).option("sotorasib")
    assert opt.oncokb_level == "3B"


def test_a_rule_is_silent_from_its_effective_to_date(mini_variant):
    case = {"cancer_type": "PDAC", "alterations": [G12C]}
    assert mini_variant.evaluate({**case, "as_of": "2025-05-31"}).option("sotorasib").verdict == "consider"
    r = mini_variant.evaluate({**case, "as_of": "2025-06-01"})
    assert r.option("sotorasib") is None
    assert "TPAN-002: no longer in effect on 2025-06-01 (ended 2025-06-01)" in r.trace


@pytest.mark.parametrize("line,verdict", [
    ({"drugs": ["carboplatin"], "setting": "metastatic"}, "eligible"),
    ({"drugs": ["carboplatin"], "setting": "adjuvant"}, "not_eligible"),
    ({"drugs": ["carboplatin"]}, "conditional"),  # maybe metastatic: the minimum is unknown
])
def test_prior_lines_min_counts_only_lines_in_its_setting(mini_variant, line, verdict):
    opt = mini_variant.evaluate(lung(prior_therapies=[line])).option("sotorasib")
    assert opt.verdict == verdict
    if verdict == "conditional":  # the history is given: the line whose setting is not, not the rule's "prior therapy history"
        assert opt.missing == ["the setting of prior therapy 1 (carboplatin)"]
    # with no history, the requirement's own text
    assert mini_variant.evaluate(lung()).option("sotorasib").missing == ["prior therapy history"]


VARIANT_CASES = [
    {"cancer_type": "PDAC", "alterations": [G12C], "as_of": "2025-06-01"},
    {"cancer_type": "PDAC", "alterations": [G12C], "as_of": "2025-05-31"},
    lung(prior_therapies=[{"drugs": ["carboplatin"]}]),
    lung(prior_therapies=[{"drugs": ["carboplatin"], "setting": "adjuvant"}]),
]


@pytest.mark.parametrize("case", VARIANT_CASES)
def test_both_backends_agree_on_the_variant(mini_variant, case):
    pytest.importorskip("durable")
    assert mini_variant.evaluate(case, backend="durable").model_dump() == mini_variant.evaluate(case).model_dump()


def test_preclinical_resistance_has_no_oncokb_level(mini_variant):
    r = mini_variant.evaluate(lung({"gene": "KRAS", "variant": "Y96D", "acquired": True},
                            prior_therapies=[{"drugs": ["carboplatin"]}, {"drugs": ["sotorasib"]}]))
    opt = r.option("sotorasib")
    assert opt.evidence == "resistance_preclinical" and opt.oncokb_level is None
    row = dict(zip(TSV_COLUMNS, tsv_row(r).split("\t"), strict=True))
    assert row["level_R2"] == "" and row["highest_level"] == ""


def test_tsv_prints_no_level_while_the_biomarker_gate_is_unknown(mini):
    unknown = mini.evaluate({"cancer_type": "LUAD", "stage": "metastatic", "prior_therapies": [{"drugs": ["carboplatin"]}],
                             "as_of": "2026-01-01"})
    assert unknown.option("sotorasib").verdict == "conditional"
    assert unknown.option("sotorasib").oncokb_level == "1"
    row = dict(zip(TSV_COLUMNS, tsv_row(unknown).split("\t"), strict=True))
    assert row["level_1"] == "" and row["conditional"] == "sotorasib"
    known = mini.evaluate(lung())  # history unknown: conditional, but the gate (G12C NSCLC) holds
    row = dict(zip(TSV_COLUMNS, tsv_row(known).split("\t"), strict=True))
    assert row["level_1"] == "sotorasib"


# --------------------------------------------------------------------------- check


def test_population_not_stated_is_reported_with_the_severity_in_the_code_table(mini_variant):
    from engine.verify import CODES, verify

    rep = verify(mini_variant)
    hits = rep.find("V012", "TCRC-001")
    assert hits and hits[0].severity == CODES["V012"][1]
    v011 = rep.find("V011", "TPAN-002")
    assert v011 and v011[0].witness == {"cancer_type": "PAAD"}


def test_mini_rules_state_their_populations(mini):
    from engine.verify import verify

    rep = verify(mini)
    assert not rep.find("V011") and not rep.find("V012")


# --------------------------------------------------------------------------- criteria


def test_criteria_of_a_treatment_naive_g12c_lung_case(mini):
    opt = mini.evaluate(lung(prior_therapies=[])).option("sotorasib")
    assert opt.verdict == "not_eligible"
    status = {c.text: (c.kind, c.status) for c in opt.criteria}
    assert status["at least one prior systemic therapy"] == ("label", "not_met")
    assert status["locally advanced or metastatic disease"] == ("label", "met")
    assert status["KRAS G12C"] == ("gate", "met")
    assert ("gate", "met") == status["cancer type: Non-Small Cell Lung Cancer (NSCLC)"]
    facts = {c.id: c.facts for c in opt.criteria}
    assert facts["TLNG-001/requires/0"] == ("prior_therapies",)


def test_criteria_name_derived_facts_in_words_not_ids(mini):
    opt = mini.evaluate({"cancer_type": "COADREAD", "alterations": [{"gene": "KRAS", "variant": "G12D"}],
                         "as_of": "2026-01-01"}).option("cetuximab")
    gate = [c for c in opt.criteria if c.kind == "gate"]
    assert [c.status for c in gate] == ["met", "met"]
    assert gate[1].text.startswith("RAS-mutant (") and gate[1].facts == ("ras_mutant",)
    assert all("TDER" not in c.text for c in opt.criteria)


# --------------------------------------------------------------------------- both backends


LANGUAGE_CASES = [
    lung({"gene": "KRAS", "variant": "Y96D", "acquired": True},
                            prior_therapies=[{"drugs": ["carboplatin"]}, {"drugs": ["sotorasib"]}]),
    lung({"gene": "KRAS", "variant": "Y96D", "acquired": False}, prior_therapies=[{"drugs": ["carboplatin"]}]),
    lung({"gene": "KRAS", "variant": "Y96D"}, prior_therapies=[{"drugs": ["sotorasib"]}]),
    lung({"gene": "KRAS", "variant": "Y96D"}, prior_therapies=[{"drugs": ["sotorasib"], "outcome": "progression"}]),
    lung({"gene": "KRAS", "variant": "Y96D", "acquired": False}, as_of="2021-03-01"),
    lung(cancer_type="lung cancer", prior_therapies=[{"drugs": ["carboplatin"]}]),
    pdac(platinum()), pdac(platinum(), {"regimen": "FOLFIRI"}), pdac({"drugs": ["gemcitabine"]}, platinum()),
    {"cancer_type": "COADREAD", "alterations": [{"gene": "KRAS", "variant": "G12D"}], "as_of": "2026-01-01"},
    {"cancer_type": "COADREAD", "tested_genes": ["NRAS"], "alterations": [{"gene": "NRAS", "variant": "Q61K"}],
     "prior_therapies": [{"regimen": "FOLFOXIRI"}], "as_of": "2026-01-01"},
    {"cancer_type": "PDAC", "alterations": [G12C], "as_of": "2026-01-01"},
]


@pytest.mark.parametrize("case", LANGUAGE_CASES)
def test_both_backends_agree_on_the_language_features(mini, case):
    pytest.importorskip("durable")
    assert mini.evaluate(case, backend="durable").model_dump() == mini.evaluate(case).model_dump()


def test_a_fact_read_before_its_derivation_holds_is_reported(tmp_path):
    """A rule in effect on a day no rule derives a fact it reads would read the fact as false
    there (TCRC-002: "no RAS mutation" met for an untested tumour): check names the rule, the
    fact and the first such day, for each regulator."""
    from engine.verify import CODES, verify

    # the derivation from after TCRC-001 and TCRC-002 (2009-01-01), and for the FDA only
    eng = Engine(edited_rules(tmp_path, FIXTURES / "mini",
                              lambda by_id, data: by_id["TDER-001"].update(effective_from="2010-01-01", jurisdiction="FDA")))
    rep = verify(eng, search=False)
    found = {hit.rules: hit.message for hit in rep.find("V014")}
    assert set(found) == {("TCRC-001",), ("TCRC-002",)}
    # TCRC-001 holds for every regulator, so an EMA case reads the FDA-only derivation never: the
    # first day without one is its own first day either way
    assert "'ras_mutant' on 2009-01-01" in found[("TCRC-001",)]
    assert "'ras_mutant' on 2009-01-01 for FDA" in found[("TCRC-002",)]
    assert rep.find("V014")[0].severity == CODES["V014"][1] == "error"
    # what it guards against: the untested tumour met "no RAS mutation" before the derivation
    early = eng.evaluate({"cancer_type": "COADREAD", "as_of": "2009-06-01"}).option("cetuximab")
    assert early is not None and early.verdict == "eligible"


def test_the_shipped_rule_bases_read_facts_only_within_their_derivations_dates(mini, engine):
    from engine.verify import verify

    for eng in (mini, engine):
        assert not verify(eng, search=False).find("V014")
