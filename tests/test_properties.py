"""Properties of the shipped rule base, on hypothesis-generated cases (strategies: the engine.testing package).

Each test is named by its property. Cases come from :func:`engine.testing.cases` (varied valid
cases) and :func:`engine.testing.boundary_cases` (cases on the edges of each rule); boundary
values that matter are pinned with ``@example``. The number of examples follows the hypothesis
profile (``ci`` by default; ``--hypothesis-profile=long`` or ``KRAS_HYPOTHESIS_PROFILE=long`` for
long runs, see ``tests/conftest.py``).

The domain words the properties name (the fact ``ras_mutant``, the drug classes
``anti_egfr_antibody`` and ``kras_g12c_inhibitor``, the colorectal OncoTree code, KRAS G12C) are
the rule base's own terms; the strategies themselves know none of them.
"""
from __future__ import annotations

import re

import dataclasses
import datetime as dt
import random
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.api import Engine, default_engine
from engine.errors import CaseError, EngineError, TermError
from engine.testing import (
    REDUCTIONS,
    at_date,
    boundary_cases,
    case_genes,
    cases,
    completions,
    domain,
    labelled_invalid_cases,
    reduce_case,
    rules_concluding,
    shuffle_case,
    untest_gene,
    variant_spellings,
)

ENGINE = default_engine()
RB = ENGINE.rulebase
VOCAB = RB.vocab

VALID = st.one_of(cases(ENGINE), boundary_cases(ENGINE))

# Domain terms, checked against the rule base so that a renamed term fails loudly here.
RAS_MUTANT = "ras_mutant"
ANTI_EGFR = "anti_egfr_antibody"
G12C_INHIBITOR = "kras_g12c_inhibitor"
COLORECTAL = "COADREAD"
G12C = ("KRAS", "G12C")
RAS_GENES = ("KRAS", "NRAS")
RAS_CODONS = (12, 13, 59, 61, 117, 146)


def test_domain_terms_exist_in_the_rule_base():
    assert RAS_MUTANT in {r.derive for r in RB.rules if r.kind == "derivation"}
    assert {ANTI_EGFR, G12C_INHIBITOR} <= VOCAB.drug_classes
    assert VOCAB.cancer_code(COLORECTAL).code == COLORECTAL
    assert VOCAB.variant(G12C[0], G12C[1]).label == G12C[1]


def test_strategies_read_every_table_of_the_vocabulary():
    """The strategies reach names and notations beyond the rules' own words (so a renamed
    vocabulary table cannot quietly shrink what they draw)."""
    d = domain(ENGINE)
    assert {"p.Gly12Cys", "c.34G>T", "KRAS G12C"} <= set(variant_spellings(ENGINE, *G12C))
    assert ("PDAC", "PAAD") in d.names and ("non-small-cell lung cancer", "NSCLC") in d.names
    assert {"Lumakras", "AMG 510"} <= set(d.drug_names["sotorasib"])
    assert {"amp", "loss of function"} <= set(d.kind_words["amplification"]) | set(d.kind_words["loss"])
    assert "LKB1" in d.gene_spellings["STK11"]
    assert d.recurrent.get("KRAS") and d.positions.get("KRAS")
    assert "FOLFOX" in d.regimens


def drug_classes(option) -> set[str]:
    return {c for d in option.drugs for c in VOCAB.drug(d).classes}


def in_colorectal(result) -> bool:
    return COLORECTAL in VOCAB.cancer(result.cancer_type).lineage


def semantics(result) -> dict:
    """Everything a verdict rests on, without the wording that lists case facts in input order."""
    return {
        "options": [
            (
                o.therapy, o.verdict, o.evidence, o.oncokb_level, tuple(o.rules), tuple(sorted(o.missing)),
                tuple(sorted(o.failed_criteria)), o.status, o.jurisdiction, o.effective_from,
                tuple(sorted((c.rule, c.verdict, c.evidence, c.set_aside_by) for c in o.considered)),
                # (a citation's section may be absent: sorted as "", so two citations of one
                # source, with and without a section, still compare)
                tuple(sorted((c.source, c.section or "", c.quote, c.rule or "") for c in o.citations)),
            )
            for o in result.options
        ],
        "notes": sorted(result.notes),
        "facts": result.facts,
        "case": (result.case_id, result.evaluated_as_of, result.jurisdiction, result.cancer_type),
    }


def same_semantics(got, want) -> None:
    """Assert two results agree on :func:`semantics`, naming the first option that differs."""
    a, b = semantics(got), semantics(want)
    for key in ("case", "facts", "notes"):
        assert a[key] == b[key], (key, a[key], b[key])
    fields = ("therapy", "verdict", "evidence", "oncokb_level", "rules", "missing", "failed_criteria", "status",
              "jurisdiction", "effective_from", "considered (rule, verdict, evidence, set aside by)", "citations")
    assert [o[0] for o in a["options"]] == [o[0] for o in b["options"]]
    for x, y in zip(a["options"], b["options"], strict=True):
        diff = {f: (u, v) for f, u, v in zip(fields, x, y, strict=True) if u != v}
        assert not diff, (x[0], diff)


# --------------------------------------------------------------------------- the generated cases


@given(VALID)
def test_generated_cases_are_valid_input(case):
    ENGINE.normalise(case)


@given(cases(ENGINE, cancer_type="pancreatic cancer"), cases(ENGINE, cancer_type="DCIS"))
def test_cases_of_one_cancer_type_are_of_it_and_valid(pdac, in_situ):
    """A rule author asking for pancreatic cases got about none of 100 from cases(eng)."""
    assert ENGINE.normalise(pdac).cancer.code == "PAAD"
    assert ENGINE.normalise(in_situ).cancer.code == "DCIS"  # (an in-situ type: never a stage it cannot have)


def test_cases_of_an_unknown_cancer_type_say_so_when_asked_for():
    with pytest.raises(TermError) as info:
        cases(ENGINE, cancer_type="PADC")
    assert "unknown cancer type 'PADC'" in info.value.render()


MINI = Engine(Path(__file__).resolve().parent / "fixtures" / "mini")


def test_strategies_draw_from_the_rule_base_they_are_given():
    mini = domain(MINI)
    assert mini.live_rules == tuple(r.id for r in MINI.rulebase.rules if r.status != "retired")
    assert set(mini.rule_genes) == {p.gene for p in mini.patterns} != set(domain(ENGINE).rule_genes)
    assert mini.jurisdictions == tuple(sorted(MINI.jurisdictions))  # the mini rule base names FDA and EMA
    for rule in MINI.rulebase.rules:
        day = rule.effective_from
        assert {day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)} <= set(mini.dates)


@given(st.one_of(cases(MINI), boundary_cases(MINI)))
def test_cases_of_another_rule_base_are_valid_there(case):
    MINI.evaluate(case)


# --------------------------------------------------------------------------- determinism

ENGINE_AGAIN = Engine(RB.directory)


@given(VALID)
@example({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
          "prior_therapies": [{"regimen": "carboplatin/pemetrexed"}], "as_of": "2021-05-28"})
def test_evaluation_is_deterministic(case):
    first = ENGINE.evaluate(case)
    assert ENGINE.evaluate(case).model_dump() == first.model_dump()
    assert ENGINE_AGAIN.evaluate(case).model_dump() == first.model_dump()


# --------------------------------------------------------------------------- order independence


def _permuted_engines() -> list[Engine]:
    rules = list(RB.rules)
    orders = [rules[::-1]]
    for seed in (1, 2):
        shuffled = rules[:]
        random.Random(seed).shuffle(shuffled)
        orders.append(shuffled)
    return [Engine(rulebase=dataclasses.replace(RB, rules=order)) for order in orders]


PERMUTED = _permuted_engines()


@given(VALID, st.randoms(use_true_random=False))
@example({"cancer_type": "COADREAD", "stage": "metastatic",
          "alterations": [{"gene": "KRAS", "variant": "G12C"}, {"gene": "BRAF", "variant": "V600E"}],
          "tested_genes": ["KRAS", "NRAS", "BRAF"],
          "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}], "as_of": "2025-06-01"},
         random.Random(0))
def test_order_of_case_lists_does_not_matter(case, rnd):
    same_semantics(ENGINE.evaluate(shuffle_case(case, rnd)), ENGINE.evaluate(case))


@given(VALID, st.integers(0, len(PERMUTED) - 1))
@example({"cancer_type": "LUAD", "stage": "metastatic", "prior_therapies": [{"drugs": ["docetaxel"]}],
          "alterations": [{"gene": "KRAS", "variant": "G12C"}, {"gene": "KRAS", "variant": "G13D"}],
          "as_of": "2026-07-01"}, 0)  # two rules set the same approval aside
def test_order_of_rules_does_not_matter(case, which):
    same_semantics(PERMUTED[which].evaluate(case), ENGINE.evaluate(case))


# --------------------------------------------------------------------------- one verdict per therapy


@given(VALID)
def test_no_therapy_is_both_eligible_and_excluded(case):
    result = ENGINE.evaluate(case)
    therapies = [o.therapy for o in result.options]
    assert len(therapies) == len(set(therapies)), therapies
    drug_sets = [tuple(o.drugs) for o in result.options]
    assert len(drug_sets) == len(set(drug_sets)), drug_sets
    for o in result.options:
        if o.verdict == "eligible":
            # an exclusion that held can only lose to explicit precedence, never to strength
            held = [c for c in o.considered if c.verdict == "excluded" and c.set_aside_by is None]
            assert not held, (o.therapy, held)


# --------------------------------------------------------------------------- anti-EGFR in RAS-mutant colorectal


def _rules_about(pred) -> list[str]:
    return [r.id for r in RB.rules if r.status != "retired" and pred(r)]


def therapy_classes(therapy: str) -> set[str]:
    return {c for d in RB.therapies[therapy].drugs for c in VOCAB.drug(d).classes}


def near(rule_ids: list[str]) -> st.SearchStrategy[dict]:
    """Cases on the edges of the given rules (two in three), and valid cases of every kind."""
    around = boundary_cases(ENGINE, rule_ids)
    return st.one_of(around, around, VALID)


NEAR_ANTI_EGFR = near(_rules_about(
    lambda r: r.derive == RAS_MUTANT or any(ANTI_EGFR in therapy_classes(t) for t in RB.targets.get(r.id, ()))
))
NEAR_G12C_DRUGS = near(_rules_about(
    lambda r: any(G12C_INHIBITOR in therapy_classes(t) for t in RB.targets.get(r.id, ()))
))
NEAR_ELIGIBLE = near(_rules_about(lambda r: r.kind == "conclusion" and r.conclude.verdict == "eligible"))


EXTENDED_RAS_GUIDELINE = dt.date(2017, 2, 6)


@given(NEAR_ANTI_EGFR)
@example({"cancer_type": "CAIS", "alterations": [{"gene": "KRAS", "variant": "G12A"}, {"gene": "NRAS", "variant": "G12A"},
          {"gene": "BRAF", "variant": "V600E"}], "as_of": "2008-07-17", "jurisdiction": "ema"})
@example({"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12D"}],
          "prior_therapies": [{"regimen": "FOLFOX"}], "as_of": "2026-07-01"})
@example({"cancer_type": "colorectal cancer", "stage": "metastatic",
          "alterations": [{"gene": "NRAS", "variant": "p.Gln61Lys"}, {"gene": "BRAF", "variant": "V600E"}],
          "tested_genes": ["KRAS", "NRAS", "BRAF"], "prior_therapies": [{"regimen": "FOLFOXIRI"}],
          "as_of": "2026-07-01"})
@example({"cancer_type": "READ", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "c.34G>T"}],
          "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}], "as_of": "2025-01-16"})
def test_ras_mutant_colorectal_never_gets_an_anti_egfr_antibody_without_a_g12c_inhibitor_as_anything_but_excluded(case):
    # the precondition comes from the case itself (not from the engine's derived fact): an
    # activating KRAS or NRAS mutation at codon 12, 13, 59, 61, 117 or 146 (KNOWLEDGE: extended
    # RAS testing), in a colorectal tumour
    result = ENGINE.evaluate(case)
    norm = ENGINE.normalise(case)
    ras_mutant = any(a.gene in RAS_GENES and a.kind == "mutation" and a.codon in RAS_CODONS for a in norm.alterations)
    if not (ras_mutant and in_colorectal(result)):
        return
    for o in result.options:
        classes = drug_classes(o)
        if ANTI_EGFR in classes and G12C_INHIBITOR not in classes:
            # never offered, at any date or under any regulator ...
            assert o.verdict not in ("eligible", "conditional", "consider"), (o.therapy, o.verdict, o.rules)
            # ... and excluded from the extended-RAS guideline on (ASCO/CAP/AMP/ASCP, 2017-02-06);
            # before it a label restricted to RAS wild-type gives not_eligible (EMA, 2008-07-17 on)
            if norm.as_of >= EXTENDED_RAS_GUIDELINE:
                assert o.verdict == "excluded", (o.therapy, o.verdict, o.rules)


# --------------------------------------------------------------------------- G12C drugs need G12C


@given(NEAR_G12C_DRUGS)
@example({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12D"}],
          "prior_therapies": [{"drugs": ["docetaxel"]}], "as_of": "2026-07-01"})
@example({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "mutation"}],
          "prior_therapies": [{"drugs": ["docetaxel"]}], "as_of": "2026-07-01"})
@example({"cancer_type": "NSCLC", "stage": "metastatic", "tested_genes": ["EGFR", "ALK"],
          "prior_therapies": [{"drugs": ["docetaxel"]}], "as_of": "2026-07-01"})
def test_a_g12c_specific_drug_is_never_eligible_without_kras_g12c(case):
    result = ENGINE.evaluate(case)
    norm = ENGINE.normalise(case)
    has_g12c = any((a.gene, a.label) == G12C for a in norm.alterations)
    for o in result.options:
        if o.verdict == "eligible" and G12C_INHIBITOR in drug_classes(o):
            assert has_g12c, (o.therapy, o.rules, [a.describe() for a in norm.alterations])


# --------------------------------------------------------------------------- approval dates


@given(NEAR_ELIGIBLE)
@example({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
          "prior_therapies": [{"drugs": ["carboplatin", "pemetrexed"]}], "as_of": "2021-05-28"})
@example({"cancer_type": "COAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
          "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}], "as_of": "2024-06-21"})
@example({"cancer_type": "COAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
          "prior_therapies": [{"regimen": "FOLFOXIRI"}], "as_of": "2025-01-16"})
def test_nothing_is_eligible_before_its_approval_date(case):
    result = ENGINE.evaluate(case)
    as_of = dt.date.fromisoformat(result.evaluated_as_of)
    for o in result.options:
        if o.verdict != "eligible":
            continue
        rule = RB.by_id[o.rules[0]]
        assert rule.effective_from <= as_of, (o.therapy, rule.id, rule.effective_from)
        assert rule.effective_to is None or as_of < rule.effective_to, (o.therapy, rule.id, rule.effective_to)
        assert dt.date.fromisoformat(o.effective_from) <= as_of
        approvals = rules_concluding(ENGINE, o.therapy, "eligible", jurisdiction=result.jurisdiction)
        assert rule in approvals
        earliest = min(r.effective_from for r in approvals)
        before = ENGINE.evaluate(at_date(case, earliest - dt.timedelta(days=1)))
        earlier = before.option(o.therapy)
        assert earlier is None or earlier.verdict != "eligible", (o.therapy, earliest, earlier.rules)


# --------------------------------------------------------------------------- unknown data


def still_eligible(result, therapy: str, rule_id: str) -> bool:
    """Whether ``rule_id`` still concludes ``eligible`` for ``therapy`` (deciding, or outranked)."""
    o = result.option(therapy)
    if o is None:
        return False
    if o.rules[0] == rule_id:
        return o.verdict == "eligible"
    return any(c.rule == rule_id and c.verdict == "eligible" for c in o.considered)


@given(NEAR_ELIGIBLE)
@example({"cancer_type": "COADREAD", "stage": "metastatic", "tested_genes": ["KRAS", "NRAS", "BRAF"],
          "prior_therapies": [{"regimen": "FOLFOX"}], "as_of": "2026-07-01"})
@example({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
          "tested_genes": ["KRAS", "NRAS", "EGFR", "ALK"], "prior_therapies": [{"drugs": ["docetaxel"]}],
          "as_of": "2026-07-01"})
@example({"cancer_type": "PAAD", "stage": "metastatic", "germline_tested": True,
          "alterations": [{"gene": "BRCA2", "variant": "loss", "origin": "germline"}],
          "prior_therapies": [{"drugs": ["cisplatin"], "setting": "metastatic", "weeks": 16, "outcome": "stable"}],
          "as_of": "2026-07-01"})
@example({"cancer_type": "PAAD", "stage": "metastatic", "multiagent_candidate": False, "as_of": "2026-08-26",
          "prior_therapies": [{"drugs": ["daraxonrasib"]}, {"drugs": ["daraxonrasib"], "outcome": "progression"}]})
def test_unknown_data_never_produces_eligible(case):
    """Remove data (the history, the tested genes, one gene's test, the stage, germline testing):
    it becomes unknown. No option with something ``missing`` is eligible; and a rule that still
    concludes ``eligible`` must conclude it for every value the data could have had (the original
    one, and each value its conditions distinguish): otherwise it decided on data it did not have."""
    reductions = [(what, None, reduce_case(case, what)) for what in REDUCTIONS]
    reductions += [("gene", g, untest_gene(ENGINE, case, g)) for g in case_genes(ENGINE, case)]
    for what, gene, reduced_case in reductions:
        reduced = ENGINE.evaluate(reduced_case)
        for o in reduced.options:
            assert not (o.verdict == "eligible" and o.missing), (o.therapy, o.missing)
        for o in reduced.options:
            if o.verdict != "eligible":
                continue
            rule_id = o.rules[0]
            filled = [("the original data", case)] + completions(ENGINE, reduced_case, what, rule_id, gene)
            for label, other in filled:
                result = ENGINE.evaluate(other)
                assert still_eligible(result, o.therapy, rule_id), (
                    f"{rule_id} makes {o.therapy} eligible while {gene or what} is unknown, but not with "
                    f"{label}: {result.option(o.therapy).verdict if result.option(o.therapy) else 'no option'}"
                )


NEAR_NEGATIVE = near(_rules_about(lambda r: r.kind == "conclusion" and (
    r.conclude.verdict in ("excluded", "not_eligible") or bool(r.overrides))))
NEGATIVE = ("excluded", "not_eligible")


@settings(max_examples=max(settings().max_examples // 3, 20))  # each example evaluates dozens of completions
@given(NEAR_NEGATIVE)
@example({"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [{"gene": "NRAS", "variant": "Q61K"}],
          "tested_genes": ["KRAS", "NRAS", "BRAF"], "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}],
          "as_of": "2026-07-01"})
@example({"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [{"gene": "NRAS", "variant": "Q61K"}],
          "tested_genes": ["KRAS", "NRAS", "BRAF"], "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}],
          "jurisdiction": "EMA", "as_of": "2026-07-01"})
def test_unknown_data_never_produces_a_negative_verdict_that_a_value_of_it_would_turn(case):
    """Remove data (as above): an option that is still excluded or not eligible with nothing
    ``missing`` must stay negative (excluded, not eligible, or no option) for every value the data
    could have had, read from every rule's conditions: a rule that would set the negative verdict
    aside once the data is known (a KRAS G12C combination beside the RAS-mutant exclusion, KRAS
    untested) makes the verdict wait on it."""
    reductions = [(what, None, reduce_case(case, what)) for what in REDUCTIONS]
    reductions += [("gene", g, untest_gene(ENGINE, case, g)) for g in case_genes(ENGINE, case)]
    for what, gene, reduced_case in reductions:
        if len(reduced_case.get("alterations", ())) < len(case.get("alterations", ())):
            continue  # (germline findings dropped with the flag: a gene tested for another finding reads as without them)
        reduced = ENGINE.evaluate(reduced_case)
        sure = [o for o in reduced.options if o.verdict in NEGATIVE and not o.missing]
        if not sure:
            continue
        filled = [("the original data", case)] + completions(ENGINE, reduced_case, what, None, gene)
        for label, other in filled:
            result = ENGINE.evaluate(other)
            for o in sure:
                now = result.option(o.therapy)
                assert now is None or now.verdict in NEGATIVE, (
                    f"{o.therapy} is {o.verdict} ({o.rules[0]}) with nothing missing while {gene or what} is "
                    f"unknown, but {now.verdict} ({now.rules[0]}) with {label}")


@given(VALID)
@example({"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [], "tested_genes": ["KRAS", "NRAS", "BRAF"],
          "prior_therapies": [{"regimen": "FOLFOX", "setting": "metastatic", "outcome": "progression"}],
          "as_of": "2026-07-01"})
@example({"cancer_type": "LUAD", "stage": "early", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
          "prior_therapies": [{"regimen": "carboplatin + pemetrexed"}], "as_of": "2026-07-01"})
def test_a_criterion_not_met_is_explained_by_what_the_case_holds(case):
    """A not_eligible option's explanation names what the case holds where it fails the deciding
    rule: its stage, its prior therapies (not only the criterion it fails)."""
    result = ENGINE.evaluate(case)
    norm = ENGINE.normalise(case)
    for o in result.options:
        if o.verdict != "not_eligible":
            continue
        for c in o.criteria:
            if c.status != "not_met" or not c.id.startswith(o.rules[0] + "/requires/"):
                continue
            if list(c.facts) == ["stage"]:
                assert f"stage {norm.stage.replace('_', ' ')}" in o.explanation, (o.therapy, o.explanation)
            elif list(c.facts) == ["prior_therapies"]:
                lines = norm.lines or ()
                named = (any(ln.describe() in o.explanation for ln in lines) if lines
                         else "no prior systemic therapy" in o.explanation)
                assert named, (o.therapy, c.text, o.explanation)


@given(VALID)
@example({"cancer_type": "LUAD", "stage": "metastatic", "as_of": "2026-07-01",
          "alterations": [{"gene": "KRAS", "variant": "G12C"}, {"gene": "KRAS", "variant": "Y96D", "acquired": True}],
          "prior_therapies": [{"drugs": ["sotorasib"], "outcome": "progression"}]})
@example({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C"}], "prior_therapies": [],
          "as_of": "2026-07-01"})
@example({"cancer_type": "lung cancer", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
          "prior_therapies": [{"regimen": "carboplatin + pemetrexed", "outcome": "progression"}], "as_of": "2026-07-01"})
def test_explanations_read_as_sentences(case):
    """No garbled joins in what a student reads: a question is not followed by a full stop, an
    allele acquired on a drug is not called "(acquired) acquired", no sentence ends twice, and a
    rule is not said to apply just before its applying is said to depend on what is missing."""
    for o in ENGINE.evaluate(case).options:
        for text in (o.explanation, *(c.reason for c in o.considered)):
            assert "?." not in text and "(acquired) acquired" not in text and ".." not in text, (o.therapy, text)
            assert "applies. Whether" not in text, (o.therapy, text)


@given(VALID)
@example({"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [], "prior_therapies": [],
          "as_of": "2026-07-01"})
def test_a_failed_criterion_does_not_hide_an_unknown_biomarker(case):
    """A not_eligible option whose rule's gate is unknown (the biomarker untested) says so, with
    what to find out: otherwise the case reads as one that only lacks the failed criterion."""
    for o in ENGINE.evaluate(case).options:
        unknown_gate = any(c.kind == "gate" and c.status == "unknown" and c.id.startswith(o.rules[0] + "/")
                           for c in o.criteria)
        if o.verdict == "not_eligible" and unknown_gate:
            assert "is not known either; that waits on: " in o.explanation, (o.therapy, o.explanation)


@given(VALID)
@example({"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [], "tested_genes": ["KRAS", "NRAS", "BRAF"],
          "prior_therapies": [{"regimen": "FOLFOX", "setting": "metastatic", "outcome": "progression"},
                              {"regimen": "FOLFIRI", "setting": "metastatic"}], "as_of": "2026-07-01"})
def test_a_case_that_gives_its_history_is_not_asked_for_it(case):
    """Where the case gives prior_therapies, what is missing names the entries and what about
    them is not given, never "prior therapy history" (a requirement's text for a case without
    one); and each entry it names is one the case lists, by its place in the list."""
    if case.get("prior_therapies") is None:
        return
    listed = len(case["prior_therapies"])
    for o in ENGINE.evaluate(case).options:
        for m in o.missing:
            assert "prior therapy history" not in m, (o.therapy, o.missing)
            for n in re.findall(r"prior therapy (\d+) \(", m):
                assert 1 <= int(n) <= listed, (o.therapy, m)


# --------------------------------------------------------------------------- provenance


@given(VALID)
def test_every_option_carries_a_rule_id_and_a_citation(case):
    result = ENGINE.evaluate(case)
    for o in result.options:
        assert o.rules, o.therapy
        assert all(rid in RB.by_id for rid in o.rules), o.rules
        deciding = RB.by_id[o.rules[0]]
        assert deciding.kind == "conclusion" and o.therapy in RB.targets[deciding.id]
        assert o.citations, o.therapy
        cautions = {x.rule for x in o.cautions}
        for c in o.citations:
            assert c.source in RB.sources, c.source
            assert c.quote.strip()
            assert c.rule in o.rules or c.rule in cautions, (c.rule, o.rules)
    for n in result.note_details:
        assert n.rule in RB.by_id and n.citations


# --------------------------------------------------------------------------- invalid input


@given(labelled_invalid_cases(ENGINE))
@example(({"cancer_type": "NSCLCC"}, ("cancer_type",)))
@example(({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12G"}]}, ("alterations", 0, "variant")))
@example(({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "V600E"}]}, ("alterations", 0, "variant")))
@example(({"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["sotorasb"]}]}, ("prior_therapies", 0, "drugs", 0)))
@example(({"cancer_type": "LUAD", "as_of": "2026-02-30"}, ("as_of",)))
def test_invalid_input_always_raises_the_engines_own_error(pair):
    case, path = pair
    with pytest.raises(CaseError) as info:
        ENGINE.evaluate(case)
    err = info.value
    assert isinstance(err, EngineError) and err.problems
    paths = [tuple(p.path) for p in err.problems]
    assert any(p[: len(path)] == tuple(path) for p in paths), (path, err.render())
    assert all(p.message.strip() for p in err.problems)


# --------------------------------------------------------------------------- structured criteria


@given(VALID)
@example({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
          "prior_therapies": [], "as_of": "2026-07-01"})
def test_criteria_agree_with_the_verdict(case):
    """A checklist a student can trust: every criterion of an eligible option is met, a
    not_eligible option has one not met, a conditional option has one unknown."""
    for o in ENGINE.evaluate(case).options:
        statuses = {c.status for c in o.criteria}
        assert o.criteria, o.therapy
        if o.verdict == "eligible":
            assert statuses == {"met"}, (o.therapy, [(c.text, c.status) for c in o.criteria])
        elif o.verdict == "not_eligible":
            assert "not_met" in statuses, (o.therapy, [(c.text, c.status) for c in o.criteria])
        elif o.verdict == "conditional":
            assert "unknown" in statuses, (o.therapy, [(c.text, c.status) for c in o.criteria])
        for c in o.criteria:
            assert c.kind in ("gate", "label", "population") and c.text and not c.text.startswith(o.rules[0])


# --------------------------------------------------------------------------- what if


@given(VALID, VALID)
@example({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
          "prior_therapies": [], "as_of": "2026-07-01"},
         {"cancer_type": "LUAD", "stage": "metastatic",
          "alterations": [{"gene": "KRAS", "variant": "G12C"}, {"gene": "STK11", "variant": "loss"}],
          "prior_therapies": [{"regimen": "carboplatin + pemetrexed"}], "as_of": "2026-12-06"})
def test_a_comparison_is_the_mirror_of_its_reverse_and_accounts_for_every_note(a, b):
    """What if, for any two cases: comparing B with A shows the same options changed, each with its
    two sides swapped, the same facts, and the notes A to B gained as the notes B to A lost; and
    the notes gained and lost are exactly those of one result and not the other (a note is the
    lesson of many what-ifs: it is never left out)."""
    ab, ba = ENGINE.compare(a, b), ENGINE.compare(b, a)
    assert [(o.therapy, o.before, o.after) for o in ab.options] == [(o.therapy, o.after, o.before) for o in ba.options]
    assert [(f.fact, f.before, f.after) for f in ab.facts] == [(f.fact, f.after, f.before) for f in ba.facts]
    assert ab.notes_gained == ba.notes_lost and ab.notes_lost == ba.notes_gained
    assert ab.empty == ba.empty
    notes_a = {(n.rule, n.text) for n in ENGINE.evaluate(a).note_details}
    notes_b = {(n.rule, n.text) for n in ENGINE.evaluate(b).note_details}
    assert {(n.rule, n.text) for n in ab.notes_gained} == notes_b - notes_a
    assert {(n.rule, n.text) for n in ab.notes_lost} == notes_a - notes_b


def test_completions_leave_out_what_a_rule_asks_only_whether_it_was_found():
    """LNG-001 reads the other NSCLC drivers only as ``identified`` (the trial excluded a driver
    already identified; an untested gene counts as none found): with EGFR untested, finding an
    EGFR L858R is new information, not the value the verdict was reached without, so completions
    for the rule do not put it back. Its KRAS patterns, read as data, still are; and the rule
    base's other readers of EGFR (the co-alteration note reads it as data) keep it for completions
    over every rule."""
    from engine.testing import domain as testing_domain

    d = testing_domain(ENGINE)
    hood = d.neighbourhood("LNG-001")
    assert {p.gene for p in hood.found_only} >= {"EGFR", "ALK", "ROS1", "RET", "MET"}
    assert not any(p.gene == "KRAS" for p in hood.found_only)
    case = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "tested_genes": ["KRAS"], "prior_therapies": [{"drugs": ["docetaxel"]}], "as_of": "2026-07-01"}
    own = [label for label, _ in completions(ENGINE, case, "gene", "LNG-001", "EGFR")]
    assert own == ["EGFR tested wild-type"]
    every = [label for label, _ in completions(ENGINE, case, "gene", None, "EGFR")]
    assert len(every) > 1 and every[0] == "EGFR tested wild-type"  # (and an EGFR finding of each pattern)
    # finding it turns the verdict, as the rule says it may
    assert ENGINE.evaluate(case).option("sotorasib").verdict == "eligible"
    found = dict(case, alterations=case["alterations"] + [{"gene": "EGFR", "variant": "L858R"}])
    assert ENGINE.evaluate(found).option("sotorasib").verdict == "not_eligible"
