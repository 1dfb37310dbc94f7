"""The rule language's semantics, on a miniature rule base (tests/fixtures/mini)."""
from __future__ import annotations

import pytest

from engine.result import Decisions

LUAD_G12C = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}]}


def verdicts(result) -> dict[str, str]:
    return {o.therapy: o.verdict for o in result.options}


def ev(mini, **case):
    case.setdefault("as_of", "2026-01-01")
    return mini.evaluate(case)


def test_eligible_when_every_criterion_holds(mini):
    r = ev(mini, **LUAD_G12C, prior_therapies=[{"drugs": ["carboplatin", "pemetrexed"]}])
    opt = r.option("sotorasib")
    assert opt.verdict == "eligible"
    assert opt.rules == ["TLNG-001"]
    assert opt.missing == []
    assert "KRAS G12C" in opt.explanation and "NSCLC" in opt.explanation


def test_failed_criterion_gives_not_eligible_and_is_named(mini):
    r = ev(mini, **LUAD_G12C, prior_therapies=[])
    opt = r.option("sotorasib")
    assert opt.verdict == "not_eligible"
    assert opt.failed_criteria == ["at least one prior systemic therapy"]
    assert "at least one prior systemic therapy" in opt.explanation


def test_unknown_history_is_conditional_never_false(mini):
    r = ev(mini, **LUAD_G12C)  # prior_therapies absent: unknown
    opt = r.option("sotorasib")
    assert opt.verdict == "conditional"
    assert opt.missing == ["prior therapy history"]


def test_unknown_stage_names_stage(mini):
    case = dict(LUAD_G12C)
    del case["stage"]
    r = ev(mini, **case, prior_therapies=[{"drugs": ["docetaxel"]}])
    assert r.option("sotorasib").verdict == "conditional"
    assert r.option("sotorasib").missing == ["stage"]


def test_untested_gene_in_when_gives_conditional_with_the_gene(mini):
    r = ev(mini, cancer_type="LUAD", stage="metastatic", prior_therapies=[{"drugs": ["docetaxel"]}])
    opt = r.option("sotorasib")
    assert opt.verdict == "conditional"
    assert opt.missing == ["KRAS testing"]


def test_other_variant_of_tested_gene_is_false_not_unknown(mini):
    r = ev(mini, cancer_type="LUAD", stage="metastatic", alterations=[{"gene": "KRAS", "variant": "G12D"}],
           prior_therapies=[{"drugs": ["docetaxel"]}])
    assert r.option("sotorasib") is None


def test_unspecified_mutation_is_unknown_for_a_specific_variant(mini):
    r = ev(mini, cancer_type="LUAD", stage="metastatic", alterations=[{"gene": "KRAS", "variant": "mutation"}],
           prior_therapies=[{"drugs": ["docetaxel"]}])
    opt = r.option("sotorasib")
    assert opt.verdict == "conditional"
    assert opt.missing == ["the exact KRAS variant"]


def test_rule_silent_before_its_date(mini):
    r = mini.evaluate({**LUAD_G12C, "prior_therapies": [{"drugs": ["docetaxel"]}], "as_of": "2021-05-27"})
    assert r.option("sotorasib") is None
    assert any("TLNG-001: not yet in effect on 2021-05-27" in t for t in r.trace)
    r = mini.evaluate({**LUAD_G12C, "prior_therapies": [{"drugs": ["docetaxel"]}], "as_of": "2021-05-28"})
    assert r.option("sotorasib").verdict == "eligible"


def test_as_of_argument_overrides_case_date(mini):
    case = {**LUAD_G12C, "prior_therapies": [{"drugs": ["docetaxel"]}], "as_of": "2026-01-01"}
    assert mini.evaluate(case, as_of="2020-01-01").option("sotorasib") is None


def test_other_jurisdiction_rules_do_not_apply(mini):
    case = {**LUAD_G12C, "prior_therapies": [{"drugs": ["docetaxel"], "outcome": "stable"}], "as_of": "2026-01-01"}
    fda = mini.evaluate(case)
    assert fda.option("sotorasib").verdict == "eligible" and fda.option("sotorasib").rules == ["TLNG-001"]
    ema = mini.evaluate({**case, "jurisdiction": "ema"})
    assert ema.jurisdiction == "EMA"
    assert ema.option("sotorasib").verdict == "not_eligible" and ema.option("sotorasib").rules == ["TLNG-002"]
    assert any("TLNG-001: FDA rule, evaluating for EMA" in t for t in ema.trace)


def test_unknown_jurisdiction_is_an_error_with_suggestion(mini):
    from engine.errors import CaseError

    with pytest.raises(CaseError) as info:
        mini.evaluate({"cancer_type": "LUAD", "jurisdiction": "EMEA"})
    assert info.value.problems[0].render() == (
        "jurisdiction: unknown jurisdiction 'EMEA'; the rules know: EMA, FDA (did you mean 'EMA'?)"
    )


def test_ras_wildtype_needs_both_genes_tested(mini):
    only_kras = ev(mini, cancer_type="COADREAD", tested_genes=["KRAS"])
    assert only_kras.option("cetuximab").verdict == "conditional"
    assert only_kras.option("cetuximab").missing == ["NRAS testing"]
    assert only_kras.facts["ras_mutant"] is None
    both = ev(mini, cancer_type="COADREAD", tested_genes=["KRAS", "NRAS"])
    assert both.option("cetuximab").verdict == "eligible"
    assert both.facts["ras_mutant"] is False


@pytest.mark.parametrize("gene,variant", [("KRAS", "G12D"), ("KRAS", "Q61H"), ("NRAS", "G13D")])
def test_exclusion_beats_eligibility_and_chain_is_explained(mini, gene, variant):
    r = ev(mini, cancer_type="COADREAD", alterations=[{"gene": gene, "variant": variant}])
    opt = r.option("cetuximab")
    assert opt.verdict == "excluded"
    assert opt.rules == ["TCRC-001", "TDER-001"]  # deciding rule, then the derived fact it rests on
    assert f"{gene} {variant}" in opt.explanation
    # the derived fact in words (what its derivation rule's title says it means), not its rule id
    assert "From the case: RAS-mutant: yes" in opt.explanation
    assert "TDER-001" not in opt.explanation and "ras_mutant" not in opt.explanation
    assert [c.rule for c in opt.considered] == ["TCRC-002"]
    assert {c.rule for c in opt.citations} == {"TCRC-001", "TDER-001"}


def test_override_sets_the_exclusion_aside_for_the_combination_only(mini):
    case = dict(cancer_type="COADREAD", alterations=[{"gene": "KRAS", "variant": "G12C"}],
                prior_therapies=[{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}])
    r = ev(mini, **case)
    combo = r.option("adagrasib+cetuximab")
    assert combo.verdict == "eligible"
    assert combo.considered[0].rule == "TCRC-001" and combo.considered[0].set_aside_by == "TCRC-003"
    assert f"Takes precedence over \u201c{mini.rulebase.by_id['TCRC-001'].title}\u201d" in combo.explanation
    assert "TCRC-001" not in combo.explanation  # rule ids stay in the structured fields
    assert r.option("cetuximab").verdict == "excluded"


def test_an_override_whose_gate_is_unknown_makes_the_exclusion_wait_and_says_which_verdict_stands(mini):
    # NRAS Q61K, KRAS untested: the combination rule's `when` is unknown, so its override sets
    # nothing aside, but the class-wide exclusion is not sure either: were KRAS G12C found, the
    # combination's own rule would decide. Unknown is not false: conditional, naming KRAS testing,
    # with the exclusion named as the verdict that stands where the combination's rule does not apply
    r = ev(mini, cancer_type="COADREAD", tested_genes=["NRAS"], alterations=[{"gene": "NRAS", "variant": "Q61K"}],
           prior_therapies=[{"regimen": "FOLFOXIRI"}])
    combo = r.option("adagrasib+cetuximab")
    assert combo.verdict == "conditional" and combo.rules[0] == "TCRC-003" and combo.missing == ["KRAS testing"]
    assert [(c.rule, c.verdict, c.set_aside_by) for c in combo.considered] == [("TCRC-001", "excluded", None)]
    assert "does not apply" in combo.considered[0].reason
    assert "If KRAS testing showed that" in combo.explanation and "would decide (excluded)" in combo.explanation
    assert r.option("cetuximab").verdict == "excluded"  # no rule would set it aside
    assert "would decide" not in r.option("cetuximab").explanation
    # KRAS tested, no G12C: the combination's gate is false and the exclusion decides
    r = ev(mini, cancer_type="COADREAD", tested_genes=["NRAS", "KRAS"], alterations=[{"gene": "NRAS", "variant": "Q61K"}],
           prior_therapies=[{"regimen": "FOLFOXIRI"}])
    assert r.option("adagrasib+cetuximab") is None or r.option("adagrasib+cetuximab").verdict == "excluded"


def test_class_exclusion_gives_no_option_outside_the_therapy_scope(mini):
    # G12D: no rule about the combination applies, so the class-wide exclusion does not list it
    r = ev(mini, cancer_type="COADREAD", alterations=[{"gene": "KRAS", "variant": "G12D"}],
           prior_therapies=[{"regimen": "FOLFOXIRI"}])
    assert r.option("adagrasib+cetuximab") is None
    assert r.option("cetuximab").verdict == "excluded"  # cetuximab's own rule applies
    assert not any(t.startswith("TCRC-001 -> adagrasib+cetuximab") for t in r.trace)
    assert any(t.startswith("TCRC-001 -> cetuximab: excluded") for t in r.trace)


def test_combination_not_eligible_without_irinotecan_is_not_excluded(mini):
    r = ev(mini, cancer_type="COADREAD", alterations=[{"gene": "KRAS", "variant": "G12C"}],
           prior_therapies=[{"regimen": "FOLFOX"}])
    combo = r.option("adagrasib+cetuximab")
    assert combo.verdict == "not_eligible"
    assert combo.failed_criteria == ["prior fluoropyrimidine, oxaliplatin and irinotecan"]


def test_note_fires_only_when_germline_testing_not_known(mini):
    r = ev(mini, cancer_type="PDAC")
    assert any(n.rule == "TNOTE-001" for n in r.note_details)
    assert mini.rulebase.by_id["TNOTE-001"].note in r.notes
    assert not any(n.rule == "TNOTE-001" for n in ev(mini, cancer_type="PDAC", germline_tested=True).note_details)
    germline = ev(mini, cancer_type="PDAC", alterations=[{"gene": "BRCA2", "variant": "E1953*", "origin": "germline"}])
    assert not any(n.rule == "TNOTE-001" for n in germline.note_details)


def test_knowledge_currency_note_after_version(mini):
    r = mini.evaluate({"cancer_type": "LUAD", "as_of": "2026-11-21"})
    assert any("current to 2026-06-30" in n for n in r.notes)
    r = mini.evaluate({"cancer_type": "LUAD", "as_of": "2026-06-01"})
    assert not any("current to" in n for n in r.notes)


def test_result_is_deterministic_and_order_independent(mini):
    a = dict(cancer_type="COADREAD", alterations=[{"gene": "KRAS", "variant": "G12C"}, {"gene": "TP53", "variant": "R175H"}],
             prior_therapies=[{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}], as_of="2026-01-01", id="x")
    b = dict(a, alterations=list(reversed(a["alterations"])))
    assert mini.evaluate(a).model_dump() == mini.evaluate(b).model_dump()
    # prior therapies are a chronology: the other order decides the same here (no rule reads a
    # line's position), and the texts name the lines in the order given
    c = dict(a, prior_therapies=list(reversed(a["prior_therapies"])))
    ra, rc = mini.evaluate(a), mini.evaluate(c)
    assert Decisions.of(ra) == Decisions.of(rc) and [o.criteria for o in ra.options] == [o.criteria for o in rc.options]
    texts = [o.explanation for o in ra.options if "prior" in o.explanation]
    assert texts and all("FOLFOX" in t and t.index("FOLFOX") < t.index("FOLFIRI") for t in texts)
    assert all(t.index("FOLFIRI") < t.index("FOLFOX") for t in (o.explanation for o in rc.options if "prior" in o.explanation))
