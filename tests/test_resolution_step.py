"""The one resolution step of engine.semantics (apply_pending, choose) on hand-built candidates,
and the README renderer. Each case states the expected outcome from the candidates alone; the
rules are minimal stand-ins carrying only what resolution reads (id, evidence, verdict, overrides).

Then what engine.evaluation.resolve makes of a case's outcomes on the miniature rule base: options, checklists,
citations, considered rules, explanations, notes and trace, the parts shared between cases, and
the bounds of what is kept."""
from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace as NS

import pytest
import yaml

from engine.evaluation import resolve
from engine import semantics as sem
from engine.api import Engine
from engine.evaluation.evaluator import AllNode, AnyNode, AtomNode, FactNode, Inference, NotNode, RuleOutcome, UnmetNode, infer
from engine.formats import TSV_COLUMNS, tsv_row
from engine.evaluation.resolve import build_result, decisions
from engine.result import Decisions


def rule(rid, verdict="eligible", evidence="approved", overrides=(), status="regular"):
    return NS(rule=NS(id=rid, evidence=evidence, status=status, conclude=NS(verdict=verdict),
                      overrides=tuple(NS(rule=o, because=f"{rid} over {o}") for o in overrides)))


def outcome(rid, verdict, when_true=True, missing=(), pending=False):
    return RuleOutcome(rid, verdict, when_true, tuple(missing), (), pending)


def conditional(out, p_cr, p_out):
    """The outcome ``out`` becomes under the pending exclusion ``p_cr`` (as the engine's
    ``pending_applier``): an eligibility conditional, a consider standing, with its missing data."""
    missing = tuple(sorted(set(out.missing) | set(p_out.missing)))
    return RuleOutcome(out.rule_id, out.verdict if out.verdict == "consider" else "conditional", out.when_true,
                       missing, out.failed)


def pending_exclusion(rid, missing, overrides=()):
    return rule(rid, "excluded", "resistance_clinical", overrides), outcome(rid, "excluded", None, missing, True)


def verdicts(live):
    return {cr.rule.id: (out.verdict, out.missing) for cr, out in live}


def test_pending_exclusion_with_overrides_makes_only_the_rules_it_names_conditional():
    a, b = rule("A"), rule("B")
    p = pending_exclusion("P", ["KRAS status"], overrides=["B"])
    live, applied = sem.apply_pending([(a, outcome("A", "eligible")), (b, outcome("B", "eligible")), p], conditional)
    assert verdicts(live) == {"A": ("eligible", ()), "B": ("conditional", ("KRAS status",))}
    assert [cr.rule.id for cr, _ in applied] == ["P"]


def test_pending_exclusion_whose_targets_are_not_candidates_is_not_applied():
    a = rule("A")
    p = pending_exclusion("P", ["KRAS status"], overrides=["Z"])
    live, applied = sem.apply_pending([(a, outcome("A", "eligible")), p], conditional)
    assert verdicts(live) == {"A": ("eligible", ())}
    assert applied == []


def test_a_pending_exclusion_set_aside_does_not_stop_the_next_one():
    a = rule("A", overrides=["P1"])
    p1 = pending_exclusion("P1", ["BRAF status"])
    p2 = pending_exclusion("P2", ["NRAS status"])
    live, applied = sem.apply_pending([(a, outcome("A", "eligible")), p1, p2], conditional)
    assert verdicts(live) == {"A": ("conditional", ("NRAS status",))}
    assert [cr.rule.id for cr, _ in applied] == ["P2"]


def test_a_conditional_eligibility_gains_the_missing_data_of_the_pending_exclusion():
    a = rule("A")
    p = pending_exclusion("P", ["NRAS status"])
    live, applied = sem.apply_pending([(a, outcome("A", "conditional", missing=["stage"])), p], conditional)
    assert verdicts(live) == {"A": ("conditional", ("NRAS status", "stage"))}
    assert [cr.rule.id for cr, _ in applied] == ["P"]


def test_pending_exclusion_makes_consider_outcomes_wait_and_passes_over_unmet_ones():
    c, a, n = rule("C", "consider", "clinical"), rule("D"), rule("N", "not_eligible", "approved")
    p = pending_exclusion("P", ["NRAS status"])
    live, _ = sem.apply_pending([(c, outcome("C", "consider")), (a, outcome("D", "eligible")),
                                 (n, outcome("N", "not_eligible")), p], conditional)
    assert verdicts(live) == {"C": ("consider", ("NRAS status",)), "D": ("conditional", ("NRAS status",)),
                              "N": ("not_eligible", ())}


def test_a_pending_exclusion_naming_the_approvals_it_overrides_still_makes_consider_outcomes_wait():
    """Once confirmed, an exclusion decides over a consider by strength, named in its
    ``overrides`` or not; an approval it does not name it would not set aside."""
    c, a, b = rule("C", "consider", "clinical"), rule("A"), rule("B")
    p = pending_exclusion("P", ["KRAS status"], overrides=["B"])
    live, applied = sem.apply_pending([(c, outcome("C", "consider")), (a, outcome("A", "eligible")),
                                       (b, outcome("B", "eligible")), p], conditional)
    assert verdicts(live) == {"C": ("consider", ("KRAS status",)), "A": ("eligible", ()),
                              "B": ("conditional", ("KRAS status",))}
    assert [cr.rule.id for cr, _ in applied] == ["P"]


def test_a_consider_that_overrides_the_pending_exclusion_does_not_wait():
    c = rule("C", "consider", "clinical", overrides=["P"])
    p = pending_exclusion("P", ["KRAS status"])
    live, applied = sem.apply_pending([(c, outcome("C", "consider", when_true=True)), p], conditional)
    assert verdicts(live) == {"C": ("consider", ())} and applied == []


def test_a_rule_that_would_set_the_pending_exclusion_aside_does_not_wait_on_it_while_its_own_gate_is_unknown():
    """Where its gate holds it sets the exclusion aside; where not, it says nothing: the
    exclusion's missing data never decide its outcome (a G12C trial combination, KRAS untested,
    does not ask for NRAS testing)."""
    c = rule("C", "consider", "clinical", overrides=["P"])
    a = rule("A", overrides=["P"])
    p = pending_exclusion("P", ["NRAS status"])
    live, applied = sem.apply_pending([(c, outcome("C", "conditional", when_true=False, missing=["KRAS status"])),
                                       (a, outcome("A", "conditional", when_true=False, missing=["KRAS status"])), p],
                                      conditional)
    assert verdicts(live) == {"C": ("conditional", ("KRAS status",)), "A": ("conditional", ("KRAS status",))}
    assert applied == []


def test_only_pending_exclusions_leave_nothing_to_decide():
    p = pending_exclusion("P", ["NRAS status"])
    assert sem.apply_pending([p], conditional) == ([], [])


def test_choose_prefers_the_stronger_verdict_then_evidence_then_the_lower_id():
    e, x = rule("B", "eligible"), rule("A", "excluded", "resistance_standard")
    best_cr, best, aside = sem.choose([(e, outcome("B", "eligible")), (x, outcome("A", "excluded"))])
    assert (best_cr.rule.id, best.verdict, aside) == ("A", "excluded", {})
    lo, hi = rule("B", "consider", "clinical"), rule("C", "consider", "phase3")
    assert sem.choose([(lo, outcome("B", "consider")), (hi, outcome("C", "consider"))])[0].rule.id == "C"
    one, two = rule("B"), rule("A")
    assert sem.choose([(one, outcome("B", "eligible")), (two, outcome("A", "eligible"))])[0].rule.id == "A"
    # then a regular approval before an accelerated one, then the outcome missing fewer facts
    acc, reg = rule("A", status="accelerated"), rule("B")
    assert sem.choose([(acc, outcome("A", "eligible")), (reg, outcome("B", "eligible"))])[0].rule.id == "B"
    assert sem.choose([(acc, outcome("A", "conditional", missing=["x"])),
                       (reg, outcome("B", "conditional", missing=["x", "y"]))])[0].rule.id == "B"
    more, fewer = rule("A"), rule("B")
    assert sem.choose([(more, outcome("A", "conditional", missing=["x", "y"])),
                       (fewer, outcome("B", "conditional", missing=["x"]))])[0].rule.id == "B"


def test_render_readme_replaces_each_generated_section_and_keeps_the_rest():
    stale = ("intro\n<!-- generated: outcome-table -->\n| old | table |\n| --- | --- |\n<!-- end: outcome-table -->\nmiddle\n"
             "<!-- generated: check-codes -->\nold codes\n<!-- end: check-codes -->\nend\n")
    text = sem.render_readme(stale)
    assert text == ("intro\n<!-- generated: outcome-table -->\n" + sem.readme_outcome_table()
                    + "\n<!-- end: outcome-table -->\nmiddle\n<!-- generated: check-codes -->\n"
                    + sem.readme_check_table() + "\n<!-- end: check-codes -->\nend\n")
    assert sem.render_readme(text) == text


# ----------------------------------------------------------------------------- resolution's output
# What engine.evaluation.resolve makes of the rules' outcomes on the miniature rule base: each option's decided
# fields, checklist, citations, considered rules and explanation, and the result's notes, facts and
# trace. Each expectation follows from the rule file (tests/fixtures/mini/kb/mini.yaml) and the case:
# the deciding rule by verdict, then evidence, then precedence; criteria from its gate and
# requirements; the explanation from its `explain` sentences, the case's facts, the derived facts in
# words, precedence and what a pending exclusion is missing.

G12C = {"gene": "KRAS", "variant": "G12C"}
CARBOPLATIN = [{"drugs": ["carboplatin"]}]

#: cases on the miniature rule base (tests/fixtures/mini), each reaching another path of resolution
MINI_CASES = {
    "luad-second-line": {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C], "prior_therapies": CARBOPLATIN},
    "luad-first-line": {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C], "prior_therapies": []},
    "luad-stage-unknown": {"cancer_type": "LUAD", "alterations": [G12C], "prior_therapies": CARBOPLATIN},
    "luad-y96d-acquired": {"cancer_type": "LUAD", "stage": "metastatic",
                           "prior_therapies": [*CARBOPLATIN, {"drugs": ["sotorasib"]}],
                           "alterations": [G12C, {"gene": "KRAS", "variant": "Y96D", "acquired": True}]},
    "luad-y96d-baseline": {"cancer_type": "LUAD", "stage": "metastatic", "prior_therapies": CARBOPLATIN,
                           "alterations": [G12C, {"gene": "KRAS", "variant": "Y96D", "acquired": False}]},
    "crc-untested": {"cancer_type": "COADREAD"},
    "crc-g12d": {"cancer_type": "COADREAD", "alterations": [{"gene": "KRAS", "variant": "G12D"}]},
    "crc-wild-type": {"cancer_type": "COADREAD", "tested_genes": ["KRAS", "NRAS"]},
    "crc-g12c-after-three": {"cancer_type": "COADREAD", "alterations": [G12C],
                             "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}]},
    "pdac-g12c-late": {"cancer_type": "PDAC", "alterations": [G12C], "as_of": "2027-01-01"},
    "pdac-brca2": {"cancer_type": "PDAC", "alterations": [{"gene": "BRCA2", "variant": "E1953*", "origin": "germline"}],
                   "prior_therapies": [{"drugs": ["oxaliplatin"], "setting": "metastatic", "weeks": 18, "outcome": "stable"}]},
}


def mini_case(name: str) -> dict:
    return {"as_of": "2026-01-01", **MINI_CASES[name], "id": name}


def view(result) -> dict:
    """A result's fields, one line per criterion, considered rule, caution and note."""
    return {
        "result": (result.case_id, result.evaluated_as_of, result.knowledge_version, result.jurisdiction,
                   result.cancer_type, result.disclaimer, result.contract_version),
        "options": [{
            "decided": (o.therapy, o.name, o.drugs, o.verdict, o.evidence, o.oncokb_level, o.status, o.jurisdiction,
                        o.effective_from),
            "rules": o.rules, "cited": [f"{c.rule} {c.source} {c.section} {c.quote}: {c.title}" for c in o.citations],
            "missing": o.missing, "failed": o.failed_criteria,
            "criteria": [f"{c.id} {c.kind} {c.status} {','.join(c.facts)}: {c.text}" for c in o.criteria],
            "considered": [f"{c.rule} {c.verdict} {c.evidence} {c.set_aside_by}: {c.reason}" for c in o.considered],
            "cautions": [f"{c.rule}: {c.text}" for c in o.cautions],
            "explanation": o.explanation,
            "summary": o.summary,
        } for o in result.options],
        "notes": result.notes,
        "note_details": [f"{n.rule} {','.join(c.rule for c in n.citations)}: {n.text}" for n in result.note_details],
        "facts": result.facts,
        "trace": result.trace,
    }


RESOLVED = {
    "luad-second-line": {
        "result": ("luad-second-line", "2026-01-01", "2026-06-30", "FDA", "LUAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("sotorasib", "sotorasib", ["sotorasib"], "eligible", "approved", "1", "accelerated", "FDA", "2021-05-28"),
                "rules": ["TLNG-001"],
                "cited": ["TLNG-001 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": [], "failed": [],
                "criteria": [
                    "TLNG-001/gate/0 gate met cancer_type: cancer type: Non-Small Cell Lung Cancer (NSCLC)",
                    "TLNG-001/gate/1 gate met alterations: KRAS G12C",
                    "TLNG-001/requires/0 label met prior_therapies: at least one prior systemic therapy",
                    "TLNG-001/requires/1 label met stage: locally advanced or metastatic disease",
                ],
                "considered": [],
                "cautions": [],
                "explanation": "Case: LUAD (Lung Adenocarcinoma), a kind of NSCLC; KRAS G12C; prior carboplatin; stage metastatic. Approved after a prior line. (FDA accelerated approval; the rule holds from 2021-05-28.)",
                "summary": "sotorasib: eligible. Sotorasib for KRAS G12C NSCLC after a prior line",
            },
        ],
        "notes": [],
        "note_details": [],
        "facts": {},
        "trace": ["TLNG-001 -> sotorasib: eligible", "TLNG-002: EMA rule, evaluating for FDA"],
    },
    "luad-first-line": {
        "result": ("luad-first-line", "2026-01-01", "2026-06-30", "FDA", "LUAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("sotorasib", "sotorasib", ["sotorasib"], "not_eligible", "approved", "1", "accelerated", "FDA", "2021-05-28"),
                "rules": ["TLNG-001"],
                "cited": ["TLNG-001 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": [], "failed": ["at least one prior systemic therapy"],
                "criteria": [
                    "TLNG-001/gate/0 gate met cancer_type: cancer type: Non-Small Cell Lung Cancer (NSCLC)",
                    "TLNG-001/gate/1 gate met alterations: KRAS G12C",
                    "TLNG-001/requires/0 label not_met prior_therapies: at least one prior systemic therapy",
                    "TLNG-001/requires/1 label met stage: locally advanced or metastatic disease",
                ],
                "considered": [],
                "cautions": [],
                "explanation": "Case: LUAD (Lung Adenocarcinoma), a kind of NSCLC; KRAS G12C; stage metastatic; no prior systemic therapy (treatment-naive). Approved only after a prior line. Criteria not met: at least one prior systemic therapy. (FDA accelerated approval; the rule holds from 2021-05-28.)",
                "summary": "sotorasib: not eligible, not met: at least one prior systemic therapy",
            },
        ],
        "notes": [],
        "note_details": [],
        "facts": {},
        "trace": ["TLNG-001 -> sotorasib: not_eligible (failed: at least one prior systemic therapy)", "TLNG-002: EMA rule, evaluating for FDA"],
    },
    "luad-stage-unknown": {
        "result": ("luad-stage-unknown", "2026-01-01", "2026-06-30", "FDA", "LUAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("sotorasib", "sotorasib", ["sotorasib"], "conditional", "approved", "1", "accelerated", "FDA", "2021-05-28"),
                "rules": ["TLNG-001"],
                "cited": ["TLNG-001 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": ["stage"], "failed": [],
                "criteria": [
                    "TLNG-001/gate/0 gate met cancer_type: cancer type: Non-Small Cell Lung Cancer (NSCLC)",
                    "TLNG-001/gate/1 gate met alterations: KRAS G12C",
                    "TLNG-001/requires/0 label met prior_therapies: at least one prior systemic therapy",
                    "TLNG-001/requires/1 label unknown stage: locally advanced or metastatic disease",
                ],
                "considered": [],
                "cautions": [],
                "explanation": "Case: LUAD (Lung Adenocarcinoma), a kind of NSCLC; KRAS G12C; prior carboplatin. If the missing facts are confirmed: Approved after a prior line. Cannot decide without: stage. (FDA accelerated approval; the rule holds from 2021-05-28.)",
                "summary": "sotorasib: conditional, to find out: stage",
            },
        ],
        "notes": [],
        "note_details": [],
        "facts": {},
        "trace": ["TLNG-001 -> sotorasib: conditional (missing: stage)", "TLNG-002: EMA rule, evaluating for FDA"],
    },
    "luad-y96d-acquired": {
        "result": ("luad-y96d-acquired", "2026-01-01", "2026-06-30", "FDA", "LUAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("sotorasib", "sotorasib", ["sotorasib"], "excluded", "resistance_clinical", "R2", "literature", None, "2021-01-01"),
                "rules": ["TRES-001"],
                "cited": ["TRES-001 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": [], "failed": [],
                "criteria": [
                    "TRES-001/gate/0 gate met cancer_type: cancer type: Non-Small Cell Lung Cancer (NSCLC)",
                    "TRES-001/gate/1 gate met alterations,prior_therapies,tested_after_prior_therapy: KRAS Y96D (acquired on a KRAS G12C inhibitor)",
                ],
                "considered": ["TLNG-001 eligible approved TRES-001: set aside by “KRAS G12C inhibitors excluded after KRAS Y96D acquired on one”: the acquired allele blocks the drug the label approves."],
                "cautions": [],
                "explanation": "Case: LUAD (Lung Adenocarcinoma), a kind of NSCLC; KRAS Y96D acquired on a KRAS G12C inhibitor. KRAS Y96D acquired on a G12C inhibitor blocks every switch-II binder. Takes precedence over “Sotorasib for KRAS G12C NSCLC after a prior line”: the acquired allele blocks the drug the label approves. Also considered: “Sotorasib for KRAS G12C NSCLC after a prior line” (eligible, approved).",
                "summary": "sotorasib: excluded (predicted resistance). KRAS G12C inhibitors excluded after KRAS Y96D acquired on one",
            },
        ],
        "notes": [],
        "note_details": [],
        "facts": {},
        "trace": ["TLNG-001 -> sotorasib: eligible", "TRES-001 -> sotorasib: excluded", "TLNG-002: EMA rule, evaluating for FDA"],
    },
    "luad-y96d-baseline": {
        "result": ("luad-y96d-baseline", "2026-01-01", "2026-06-30", "FDA", "LUAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("sotorasib", "sotorasib", ["sotorasib"], "eligible", "approved", "1", "accelerated", "FDA", "2021-05-28"),
                "rules": ["TLNG-001"],
                "cited": ["TLNG-001 TEST-LABEL None test quote: A label used only by the engine's tests", "TRES-002 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": [], "failed": [],
                "criteria": [
                    "TLNG-001/gate/0 gate met cancer_type: cancer type: Non-Small Cell Lung Cancer (NSCLC)",
                    "TLNG-001/gate/1 gate met alterations: KRAS G12C",
                    "TLNG-001/requires/0 label met prior_therapies: at least one prior systemic therapy",
                    "TLNG-001/requires/1 label met stage: locally advanced or metastatic disease",
                ],
                "considered": [],
                "cautions": ["TRES-002: KRAS Y96D was found but not after a KRAS G12C inhibitor; the resistance evidence comes from tumours that acquired it on the drug."],
                "explanation": "Case: LUAD (Lung Adenocarcinoma), a kind of NSCLC; KRAS G12C; prior carboplatin; stage metastatic. Approved after a prior line. (FDA accelerated approval; the rule holds from 2021-05-28.) Caution: KRAS Y96D was found but not after a KRAS G12C inhibitor; the resistance evidence comes from tumours that acquired it on the drug.",
                "summary": "sotorasib: eligible (with a caution). Sotorasib for KRAS G12C NSCLC after a prior line",
            },
        ],
        "notes": [],
        "note_details": [],
        "facts": {},
        "trace": ["TLNG-001 -> sotorasib: eligible", "TRES-002: caution", "TLNG-002: EMA rule, evaluating for FDA"],
    },
    "crc-untested": {
        "result": ("crc-untested", "2026-01-01", "2026-06-30", "FDA", "COADREAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("adagrasib+cetuximab", "adagrasib + cetuximab", ["adagrasib", "cetuximab"], "conditional", "approved", "1", "accelerated", "FDA", "2024-06-21"),
                # (the approval sets the RAS-mutant exclusion aside where its own gate holds: it
                # does not wait on the exclusion's facts)
                "rules": ["TCRC-003"],
                "cited": ["TCRC-003 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": ["KRAS testing", "prior therapy history"], "failed": [],
                "criteria": [
                    "TCRC-003/gate/0 gate met cancer_type: cancer type: Colorectal Adenocarcinoma (COADREAD)",
                    "TCRC-003/gate/1 gate unknown alterations: KRAS G12C",
                    "TCRC-003/requires/0 label unknown prior_therapies: prior fluoropyrimidine, oxaliplatin and irinotecan",
                ],
                "considered": [],
                "cautions": [],
                "explanation": "Case: COADREAD (Colorectal Adenocarcinoma). Whether “Adagrasib with cetuximab for KRAS G12C colorectal cancer” applies to this case depends on what is missing. Cannot decide without: KRAS testing, prior therapy history. (FDA accelerated approval; the rule holds from 2024-06-21.)",
                "summary": "adagrasib + cetuximab: conditional, to find out: KRAS testing; prior therapy history",
            },
            {
                "decided": ("cetuximab", "cetuximab", ["cetuximab"], "conditional", "approved", "1", "regular", "FDA", "2009-01-01"),
                "rules": ["TCRC-002", "TCRC-001"],
                "cited": ["TCRC-002 TEST-LABEL None test quote: A label used only by the engine's tests", "TCRC-001 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": ["KRAS testing", "NRAS testing"], "failed": [],
                "criteria": [
                    "TCRC-002/gate/0 gate met cancer_type: cancer type: Colorectal Adenocarcinoma (COADREAD)",
                    "TCRC-002/requires/0 label unknown ras_mutant: KRAS and NRAS tested, no RAS mutation",
                    "TCRC-001/exclusion gate unknown cancer_type,ras_mutant: not excluded by \u201cAnti-EGFR antibodies excluded in RAS-mutant colorectal cancer\u201d (it applies to cancer type: Colorectal Adenocarcinoma (COADREAD) and RAS-mutant (KRAS or NRAS mutated at codon 12, 13 or 61))",
                ],
                "considered": [],
                "cautions": [],
                "explanation": "Case: COADREAD (Colorectal Adenocarcinoma). If the missing facts are confirmed: RAS wild-type colorectal cancer may respond to cetuximab. Cannot decide without: KRAS testing, NRAS testing. (FDA regular approval; the rule holds from 2009-01-01.) Would be excluded by “Anti-EGFR antibodies excluded in RAS-mutant colorectal cancer” if confirmed; to know, find out: KRAS testing, NRAS testing.",
                "summary": "cetuximab: conditional, to find out: KRAS testing; NRAS testing",
            },
        ],
        "notes": [],
        "note_details": [],
        "facts": {'ras_mutant': None},
        "trace": ["TCRC-001 -> adagrasib+cetuximab: excluded if confirmed (missing: KRAS testing, NRAS testing)", "TCRC-003 -> adagrasib+cetuximab: conditional (missing: KRAS testing, prior therapy history)", "TCRC-001 -> cetuximab: excluded if confirmed (missing: KRAS testing, NRAS testing)", "TCRC-002 -> cetuximab: conditional (missing: KRAS testing, NRAS testing)", "fact ras_mutant = unknown"],
    },
    "crc-g12d": {
        "result": ("crc-g12d", "2026-01-01", "2026-06-30", "FDA", "COADREAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("cetuximab", "cetuximab", ["cetuximab"], "excluded", "resistance_standard", "R1", "guideline", None, "2009-01-01"),
                "rules": ["TCRC-001", "TDER-001"],
                "cited": ["TCRC-001 TEST-LABEL None test quote: A label used only by the engine's tests", "TDER-001 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": [], "failed": [],
                "criteria": [
                    "TCRC-001/gate/0 gate met cancer_type: cancer type: Colorectal Adenocarcinoma (COADREAD)",
                    "TCRC-001/gate/1 gate met ras_mutant: RAS-mutant (KRAS or NRAS mutated at codon 12, 13 or 61)",
                ],
                "considered": ["TCRC-002 not_eligible approved None: weaker than “Anti-EGFR antibodies excluded in RAS-mutant colorectal cancer”"],
                "cautions": [],
                "explanation": "Case: COADREAD (Colorectal Adenocarcinoma); KRAS G12D. From the case: RAS-mutant: yes; so “Anti-EGFR antibodies excluded in RAS-mutant colorectal cancer” applies. RAS-mutant tumours do not respond to anti-EGFR antibodies. Also considered: “Cetuximab needs RAS wild-type shown by testing” (not eligible, approved).",
                "summary": "cetuximab: excluded (predicted resistance). Anti-EGFR antibodies excluded in RAS-mutant colorectal cancer",
            },
        ],
        "notes": [],
        "note_details": [],
        "facts": {'ras_mutant': True},
        "trace": ["TCRC-001 -> cetuximab: excluded", "TCRC-002 -> cetuximab: not_eligible (failed: KRAS and NRAS tested, no RAS mutation)", "fact ras_mutant = true"],
    },
    "crc-wild-type": {
        "result": ("crc-wild-type", "2026-01-01", "2026-06-30", "FDA", "COADREAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("cetuximab", "cetuximab", ["cetuximab"], "eligible", "approved", "1", "regular", "FDA", "2009-01-01"),
                "rules": ["TCRC-002", "TDER-001"],
                "cited": ["TCRC-002 TEST-LABEL None test quote: A label used only by the engine's tests", "TDER-001 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": [], "failed": [],
                "criteria": [
                    "TCRC-002/gate/0 gate met cancer_type: cancer type: Colorectal Adenocarcinoma (COADREAD)",
                    "TCRC-002/requires/0 label met ras_mutant: KRAS and NRAS tested, no RAS mutation",
                ],
                "considered": [],
                "cautions": [],
                "explanation": "Case: COADREAD (Colorectal Adenocarcinoma); no KRAS mutation at codon 12, 13, 61; no NRAS mutation at codon 12, 13, 61. From the case: RAS-mutant: no; so “Cetuximab needs RAS wild-type shown by testing” applies. RAS wild-type colorectal cancer may respond to cetuximab. (FDA regular approval; the rule holds from 2009-01-01.)",
                "summary": "cetuximab: eligible. Cetuximab needs RAS wild-type shown by testing",
            },
        ],
        "notes": [],
        "note_details": [],
        "facts": {'ras_mutant': False},
        "trace": ["TCRC-002 -> cetuximab: eligible", "fact ras_mutant = false"],
    },
    "crc-g12c-after-three": {
        "result": ("crc-g12c-after-three", "2026-01-01", "2026-06-30", "FDA", "COADREAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("adagrasib+cetuximab", "adagrasib + cetuximab", ["adagrasib", "cetuximab"], "eligible", "approved", "1", "accelerated", "FDA", "2024-06-21"),
                "rules": ["TCRC-003"],
                "cited": ["TCRC-003 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": [], "failed": [],
                "criteria": [
                    "TCRC-003/gate/0 gate met cancer_type: cancer type: Colorectal Adenocarcinoma (COADREAD)",
                    "TCRC-003/gate/1 gate met alterations: KRAS G12C",
                    "TCRC-003/requires/0 label met prior_therapies: prior fluoropyrimidine, oxaliplatin and irinotecan",
                ],
                "considered": ["TCRC-001 excluded resistance_standard TCRC-003: set aside by “Adagrasib with cetuximab for KRAS G12C colorectal cancer”: the G12C inhibitor blocks the mutant KRAS that makes the antibody fail alone."],
                "cautions": [],
                "explanation": "Case: COADREAD (Colorectal Adenocarcinoma); KRAS G12C; prior FOLFOX; FOLFIRI. The combination is approved after the three chemotherapies. (FDA accelerated approval; the rule holds from 2024-06-21.) Takes precedence over “Anti-EGFR antibodies excluded in RAS-mutant colorectal cancer”: the G12C inhibitor blocks the mutant KRAS that makes the antibody fail alone. Also considered: “Anti-EGFR antibodies excluded in RAS-mutant colorectal cancer” (excluded, standard-of-care resistance).",
                "summary": "adagrasib + cetuximab: eligible. Adagrasib with cetuximab for KRAS G12C colorectal cancer",
            },
            {
                "decided": ("cetuximab", "cetuximab", ["cetuximab"], "excluded", "resistance_standard", "R1", "guideline", None, "2009-01-01"),
                "rules": ["TCRC-001", "TDER-001"],
                "cited": ["TCRC-001 TEST-LABEL None test quote: A label used only by the engine's tests", "TDER-001 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": [], "failed": [],
                "criteria": [
                    "TCRC-001/gate/0 gate met cancer_type: cancer type: Colorectal Adenocarcinoma (COADREAD)",
                    "TCRC-001/gate/1 gate met ras_mutant: RAS-mutant (KRAS or NRAS mutated at codon 12, 13 or 61)",
                ],
                "considered": ["TCRC-002 not_eligible approved None: weaker than “Anti-EGFR antibodies excluded in RAS-mutant colorectal cancer”"],
                "cautions": [],
                "explanation": "Case: COADREAD (Colorectal Adenocarcinoma); KRAS G12C. From the case: RAS-mutant: yes; so “Anti-EGFR antibodies excluded in RAS-mutant colorectal cancer” applies. RAS-mutant tumours do not respond to anti-EGFR antibodies. Also considered: “Cetuximab needs RAS wild-type shown by testing” (not eligible, approved).",
                "summary": "cetuximab: excluded (predicted resistance). Anti-EGFR antibodies excluded in RAS-mutant colorectal cancer",
            },
        ],
        "notes": [],
        "note_details": [],
        "facts": {'ras_mutant': True},
        "trace": ["TCRC-001 -> adagrasib+cetuximab: excluded", "TCRC-003 -> adagrasib+cetuximab: eligible", "TCRC-001 -> cetuximab: excluded", "TCRC-002 -> cetuximab: not_eligible (failed: KRAS and NRAS tested, no RAS mutation)", "fact ras_mutant = true"],
    },
    "pdac-g12c-late": {
        "result": ("pdac-g12c-late", "2027-01-01", "2026-06-30", "FDA", "PAAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("olaparib", "olaparib", ["olaparib"], "conditional", "approved", "1", "regular", "FDA", "2019-12-27"),
                "rules": ["TPAN-001"],
                "cited": ["TPAN-001 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": ["germline testing", "prior therapy history"], "failed": [],
                "criteria": [
                    "TPAN-001/gate/0 gate met cancer_type: cancer type: Pancreatic Adenocarcinoma (PAAD)",
                    "TPAN-001/gate/1 gate unknown alterations: BRCA2 alteration (germline)",
                    "TPAN-001/requires/0 label unknown prior_therapies: no progression on at least 16 weeks of first-line platinum-based chemotherapy for metastatic disease",
                    "TPAN-001/requires/1 label unknown prior_therapies: no later line of therapy for metastatic disease",
                ],
                "considered": [],
                "cautions": [],
                "explanation": "Case: PAAD (Pancreatic Adenocarcinoma). Whether “Olaparib maintenance after first-line platinum without progression” applies to this case depends on what is missing. Cannot decide without: germline testing, prior therapy history. Reading of \"no progression on at least 16 weeks of first-line platinum-based chemotherapy for metastatic disease\": The label's first-line for metastatic disease - adjuvant or neoadjuvant therapy is not counted as a line. (FDA regular approval; the rule holds from 2019-12-27.)",
                "summary": "olaparib: conditional, to find out: germline testing; prior therapy history",
            },
            {
                "decided": ("sotorasib", "sotorasib", ["sotorasib"], "consider", "clinical", "3A", "investigational", None, "2022-01-01"),
                "rules": ["TPAN-002"],
                "cited": ["TPAN-002 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": [], "failed": [],
                "criteria": [
                    "TPAN-002/gate/0 gate met cancer_type: cancer type: Pancreatic Adenocarcinoma (PAAD)",
                    "TPAN-002/gate/1 gate met alterations: KRAS G12C",
                ],
                "considered": [],
                "cautions": [],
                "explanation": "Case: PAAD (Pancreatic Adenocarcinoma); KRAS G12C. Sotorasib showed activity in KRAS G12C pancreatic cancer in a test cohort.",
                "summary": "sotorasib: consider (clinical evidence). Sotorasib trial option for KRAS G12C pancreatic cancer",
            },
        ],
        "notes": ["Germline testing is recommended.", "The knowledge base is current to 2026-06-30; this evaluation is dated 2027-01-01, so approvals, label changes or withdrawals after 2026-06-30 are not reflected."],
        "note_details": ["TNOTE-001 TNOTE-001: Germline testing is recommended."],
        "facts": {},
        "trace": ["TPAN-001 -> olaparib: conditional (missing: germline testing, prior therapy history)", "TPAN-002 -> sotorasib: consider", "TNOTE-001: note"],
    },
    "pdac-brca2": {
        "result": ("pdac-brca2", "2026-01-01", "2026-06-30", "FDA", "PAAD", "Test rule base; educational only, not medical advice.", "1.1"),
        "options": [
            {
                "decided": ("olaparib", "olaparib", ["olaparib"], "eligible", "approved", "1", "regular", "FDA", "2019-12-27"),
                "rules": ["TPAN-001"],
                "cited": ["TPAN-001 TEST-LABEL None test quote: A label used only by the engine's tests"],
                "missing": [], "failed": [],
                "criteria": [
                    "TPAN-001/gate/0 gate met cancer_type: cancer type: Pancreatic Adenocarcinoma (PAAD)",
                    "TPAN-001/gate/1 gate met alterations: BRCA2 alteration (germline)",
                    "TPAN-001/requires/0 label met prior_therapies: no progression on at least 16 weeks of first-line platinum-based chemotherapy for metastatic disease",
                    "TPAN-001/requires/1 label met prior_therapies: no later line of therapy for metastatic disease",
                ],
                "considered": [],
                "cautions": [],
                "explanation": "Case: PAAD (Pancreatic Adenocarcinoma); BRCA2 E1953* (germline); prior oxaliplatin (metastatic, 18 weeks, stable). Olaparib maintenance is approved after first-line platinum without progression. Reading of \"no progression on at least 16 weeks of first-line platinum-based chemotherapy for metastatic disease\": The label's first-line for metastatic disease - adjuvant or neoadjuvant therapy is not counted as a line. (FDA regular approval; the rule holds from 2019-12-27.)",
                "summary": "olaparib: eligible. Olaparib maintenance after first-line platinum without progression",
            },
        ],
        "notes": [],
        "note_details": [],
        "facts": {},
        "trace": ["TPAN-001 -> olaparib: eligible"],
    },
}


def test_each_case_resolves_to_its_options_checklists_citations_and_explanations(mini):
    for name in MINI_CASES:
        assert view(mini.evaluate(mini_case(name))) == RESOLVED[name], name


def test_the_parts_shared_between_cases_give_each_case_its_own_output(mini):
    """The checklist, chain and explanation outline are shared per plan and atom values
    (``_Static.decided``, ``_Static.skeleton``): in any order of cases, rendered at once or late,
    each case gets the output computed for it alone."""
    names = list(MINI_CASES)
    for order in (names, names[::-1], names[1::2] + names[::2]):
        for name in order:
            norm = mini.normalise(mini_case(name))
            eager = build_result(infer(mini.program, norm), summary=mini.summaries().of)  # rendered at once
            assert view(eager) == RESOLVED[name], name
            late = mini.evaluate(norm)
            assert late.to_json() == eager.to_json(), name  # every field, in the contract's order
            assert view(late) == RESOLVED[name], name
    # the same atom values: the same criterion objects, not copies
    a, b = (mini.evaluate({**mini_case("luad-second-line"), "id": i}) for i in ("a", "b"))
    assert a.options[0].criteria == b.options[0].criteria
    assert all(x is y for x, y in zip(a.options[0].criteria, b.options[0].criteria, strict=True))


def test_a_pending_exclusion_adds_one_shared_criterion_to_every_option_it_conditions(mini):
    a, b = (mini.evaluate({**mini_case("crc-untested"), "id": i}) for i in ("a", "b"))
    found = [c for r in (a, b) for o in r.options for c in o.criteria if c.id == "TCRC-001/exclusion"]
    assert len(found) == 2 and found[0] is found[1]  # one immutable object per rule
    # only the option it conditions: not the combination whose rule would set it aside
    assert [o.therapy for o in a.options if any(c.id == "TCRC-001/exclusion" for c in o.criteria)] == ["cetuximab"]


def test_the_parts_kept_per_plan_and_per_plan_and_atom_values_are_bounded(mini, monkeypatch):
    monkeypatch.setattr(resolve, "_MAX_PLANS", 2)
    monkeypatch.setattr(resolve, "_MAX_STORED", 3)  # decided parts and skeletons, every plan's together
    st = resolve._static(mini.program)
    st._plans.clear()
    st._stored = 0
    plans, stored = [], []
    for name in MINI_CASES:
        r = mini.evaluate(mini_case(name))  # decided now, rendered when read
        plans.append(len(st._plans))
        stored.append(sum(len(seen) for _, _, seen in st._plans.values()))
        assert view(r) == RESOLVED[name], name  # (rendering keeps the skeletons)
        plans.append(len(st._plans))
        stored.append(sum(len(seen) for _, _, seen in st._plans.values()))
    assert max(plans) == 2 and max(stored) == 3  # reached, never passed


def test_the_summaries_kept_are_bounded_and_read_as_made_afresh(mini, monkeypatch):
    from engine.tutoring import short

    monkeypatch.setattr(short, "MAX_SUMMARIES", 2)
    memo = mini.summaries()._memo
    memo.clear()
    sizes = []
    for name in MINI_CASES:
        r = mini.evaluate(mini_case(name))
        got = [o.summary for o in r.options]  # (rendered when read, through the kept summaries)
        sizes.append(len(memo))
        fresh = short.Summaries(mini.rulebase)
        assert got == [fresh.of(o.__dict__) for o in r.options], name
    assert max(sizes) == 2  # reached, never passed


@pytest.fixture(scope="module")
def mini_chains(tmp_path_factory):
    """The mini rule base with derived facts in more places: the G12C combination's gate reads
    ``kras_g12c`` (derived by two rules, the first by id false in colorectal cancer); a cetuximab
    rule in pancreatic cancer rests on a chain of ten derived facts (``level_1`` from the cancer
    type, each next level from the one before) and requires KRAS G12C not shown (``unmet`` of the
    derived fact) and ``pancreatic`` (one step from the cancer type); a sotorasib rule on the same
    chain cites clinical evidence from lung cancer; a combination rule has a gate of every node
    kind and no population; an olaparib rule's own verdict is "not eligible" (a withdrawn approval
    with two readings); olaparib and cetuximab rules consider RAS-mutant metastatic colorectal
    cancer (evidence from lung cancer); a Y96D exclusion in colorectal cancer that the G12C combination
    does not override; a note on lung cancer comes after the Y96D caution by id."""
    dst = tmp_path_factory.mktemp("rb") / "mini"
    shutil.copytree(Path(__file__).resolve().parent / "fixtures" / "mini", dst)
    f = dst / "kb" / "mini.yaml"
    data = yaml.safe_load(f.read_text())
    cite = [{"source": "TEST-LABEL", "quote": "test quote"}]
    pdac = {"cancer_type": "PDAC"}
    for rule in data["rules"]:
        if rule["id"] == "TCRC-003":
            rule["when"] = {"all": [{"cancer": "COADREAD"}, {"fact": "kras_g12c"}]}
    data["rules"].append({  # a second rule deriving kras_g12c, first by id, false in colorectal cancer
        "id": "TDER-002", "title": "KRAS G12C in lung cancer means the G12C allele of KRAS found", "kind": "derivation",
        "derive": "kras_g12c", "rationale": "A second derivation of one fact.", "status": "literature",
        "effective_from": "2000-01-01", "when": {"all": [{"cancer": "NSCLC"}, {"alteration": {"gene": "KRAS", "variant": "G12C"}}]},
        "citations": cite,
        "examples": [{"name": "g12c", "case": {"cancer_type": "LUAD", "alterations": [G12C]}, "expect": {"fact": True}}]})
    data["rules"].append({
        "id": "TDER-003", "title": "KRAS G12C means the G12C allele of KRAS found", "kind": "derivation",
        "derive": "kras_g12c", "rationale": "A derived fact of one step.", "status": "literature",
        "effective_from": "2000-01-01", "when": {"alteration": {"gene": "KRAS", "variant": "G12C"}}, "citations": cite,
        "examples": [{"name": "g12c", "case": {"cancer_type": "COADREAD", "alterations": [G12C]}, "expect": {"fact": True}}]})
    data["rules"].append({
        "id": "TDER-004", "title": "Pancreatic means what PAAD means here", "kind": "derivation",
        "derive": "pancreatic", "rationale": "A derived fact of one step from the cancer type.", "status": "literature",
        "effective_from": "2000-01-01", "when": {"cancer": "PAAD"}, "citations": cite,
        "examples": [{"name": "pdac", "case": pdac, "expect": {"fact": True}}]})
    for k in range(1, 11):
        data["rules"].append({
            "id": f"TLVL-{k:03d}", "title": f"Level {k} means level {k - 1}", "kind": "derivation",
            "derive": f"level_{k}", "rationale": "A long chain of derived facts.", "status": "literature",
            "effective_from": "2000-01-01", "when": {"cancer": "PAAD"} if k == 1 else {"fact": f"level_{k - 1}"},
            "citations": cite, "examples": [{"name": "pdac", "case": pdac, "expect": {"fact": True}}]})
    data["rules"].append({
        "id": "TPAN-003", "title": "Cetuximab at the end of a long chain", "kind": "conclusion",
        "rationale": "A conclusion resting on ten derived facts.", "status": "regular", "jurisdiction": "FDA",
        "effective_from": "2009-01-01", "evidence": "approved", "when": {"fact": "level_10"},
        "requires": [{"criterion": "KRAS G12C not shown, pancreatic cancer",
                      "test": {"all": [{"unmet": {"fact": "kras_g12c"}}, {"fact": "pancreatic"}]}}],
        "conclude": {"therapy": "cetuximab", "verdict": "eligible"}, "explain": {"met": "The chain holds.", "unmet": "The chain does not hold."},
        "citations": cite, "examples": [{"name": "pdac", "case": pdac, "expect": {"verdict": "eligible"}}]})
    data["rules"].append({
        "id": "TOUT-001", "title": "Sotorasib considered from a lung cancer cohort", "kind": "conclusion",
        "rationale": "Clinical evidence from a population of another cancer type.", "status": "investigational",
        "effective_from": "2022-01-01", "evidence": "phase3",
        "population": {"text": "KRAS G12C NSCLC (test cohort)", "cancers": ["NSCLC"]}, "when": {"fact": "level_10"},
        "conclude": {"therapy": "sotorasib", "verdict": "consider"}, "explain": {"met": "Seen in lung cancer."},
        "citations": cite, "examples": [{"name": "pdac", "case": pdac, "expect": {"verdict": "consider"}}]})
    data["rules"].append({
        "id": "TOUT-002", "title": "Adagrasib with cetuximab considered on a gate of every shape", "kind": "conclusion",
        "rationale": "Clinical evidence with no population stated; a gate of every node kind.", "status": "investigational",
        "jurisdiction": "FDA",
        "effective_from": "2022-01-01", "evidence": "clinical",
        "when": {"all": [{"fact": "level_10"},
                         {"any": [{"cancer": "NSCLC"}, {"all": [{"cancer": "PAAD"}, {"stage": ["metastatic"]}]}]},
                         {"not": {"cancer": "COADREAD"}},
                         {"not": {"any": [{"cancer": "NSCLC"}, {"cancer": "COADREAD"}]}},
                         {"not": {"alteration": {"gene": "KRAS", "variant": "G12D"}}},
                         {"not": {"all": [{"cancer": "NSCLC"}, {"alteration": {"gene": "KRAS", "variant": "G13D"}}]}},
                         {"unmet": {"all": [{"germline_tested": True}, {"stage": ["early"]}]}}]},
        "conclude": {"therapy": "adagrasib+cetuximab", "verdict": "consider"}, "explain": {"met": "Every shape holds."},
        "citations": cite, "examples": [{"name": "pdac", "case": pdac, "expect": {"verdict": "consider"}}]})
    data["rules"].append({
        "id": "TOUT-003", "title": "Olaparib is not for lung cancer", "kind": "conclusion",
        "rationale": "A withdrawn approval whose own verdict is not eligible.", "status": "withdrawn", "jurisdiction": "FDA",
        "effective_from": "2019-01-01", "evidence": "approved", "when": {"cancer": "NSCLC"},
        "requires": [{"criterion": "metastatic disease", "test": {"stage": ["metastatic"]}, "reading": "Stage IV disease only."},
                     {"criterion": "lung cancer", "test": {"cancer": "NSCLC"}, "reading": "Any histology of it."}],
        "conclude": {"therapy": "olaparib", "verdict": "not_eligible"}, "explain": {"met": "Not in lung cancer.", "unmet": "Not met in this test."},
        "citations": cite, "examples": [{"name": "luad", "case": {"cancer_type": "LUAD"}, "expect": {"verdict": "not_eligible"}}]})
    crc = {"cancer_type": "COADREAD", "alterations": [{"gene": "KRAS", "variant": "G12D"}], "stage": "metastatic"}
    for rid, therapy in (("TOUT-004", "olaparib"), ("TOUT-005", "cetuximab")):
        data["rules"].append({
            "id": rid, "title": f"{therapy.capitalize()} considered in metastatic RAS-mutant colorectal cancer",
            "kind": "conclusion", "rationale": "Clinical evidence on a derived fact and the stage.",
            "status": "investigational", "effective_from": "2022-01-01", "evidence": "clinical",
            "population": {"text": "RAS-mutant lung cancer (test cohort)", "cancers": ["NSCLC"]},
            "when": {"all": [{"cancer": "COADREAD"}, {"fact": "ras_mutant"}]},
            "requires": [{"criterion": "a RAS mutation", "test": {"fact": "ras_mutant"}},
                         {"criterion": "metastatic disease", "test": {"stage": ["metastatic"]}}],
            "conclude": {"therapy": therapy, "verdict": "consider"}, "explain": {"met": "Seen in a test cohort.", "unmet": "Not met in this test."},
            "citations": cite, "examples": [{"name": "crc", "case": crc, "expect": {"verdict": "consider"}}]})
    data["rules"].append({
        "id": "TRES-003", "title": "KRAS G12C inhibitors excluded after KRAS Y96D acquired on one, colorectal",
        "kind": "conclusion", "rationale": "A resistance exclusion the combination does not override.",
        "status": "literature", "effective_from": "2021-01-01", "evidence": "resistance_clinical",
        "population": {"text": "KRAS G12C colorectal cancer (test cohort)", "cancers": ["COADREAD"],
                       "acquired_on": "kras_g12c_inhibitor"},
        "when": {"all": [{"cancer": "COADREAD"},
                         {"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired_on": "kras_g12c_inhibitor"}}]},
        "conclude": {"therapies": {"with_class": "kras_g12c_inhibitor"}, "verdict": "excluded"},
        "explain": {"met": "Y96D blocks the inhibitor."}, "citations": cite,
        "examples": [{"name": "crc", "case": {"cancer_type": "COADREAD", "alterations": [G12C, {"gene": "KRAS", "variant": "Y96D", "acquired": True}],
                                              "prior_therapies": [{"drugs": ["sotorasib"], "outcome": "progression"}]},
                      "expect": {"verdict": "excluded", "therapy": "adagrasib+cetuximab"}}]})
    data["rules"].append({
        "id": "TZN-001", "title": "A note on lung cancer", "kind": "note", "rationale": "A note after a caution by id.",
        "status": "guideline", "effective_from": "2000-01-01", "when": {"cancer": "NSCLC"}, "note": "A lung cancer note.",
        "citations": cite, "examples": [{"name": "luad", "case": {"cancer_type": "LUAD"}, "expect": {"note": True}}]})
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return Engine(dst)


CHAIN = [f"TLVL-{k:03d}" for k in range(2, 11)]  # level_1 lies past the depth limit (nine levels)
CHAIN_WORDS = ", ".join(f"Level {k}: yes" for k in range(2, 11))
PDAC = {"cancer_type": "PDAC", "as_of": "2026-01-01"}


def test_each_option_names_the_derived_facts_of_its_own_deciding_rule(mini_chains):
    r = mini_chains.evaluate(mini_case("crc-g12c-after-three"))
    combo, cetuximab = r.option("adagrasib+cetuximab"), r.option("cetuximab")
    # kras_g12c holds by its second rule (TDER-002, first by id, needs lung cancer)
    assert combo.rules == ["TCRC-003", "TDER-003"] and [c.rule for c in combo.citations] == combo.rules
    assert cetuximab.rules == ["TCRC-001", "TDER-001"] and [c.rule for c in cetuximab.citations] == cetuximab.rules
    # a derived fact in a criterion reads as the title of the first of its derivation rules by id
    assert [c.text for c in combo.criteria][1] == "KRAS G12C in lung cancer (the G12C allele of KRAS found)"
    assert ("From the case: KRAS G12C: yes; so \u201cAdagrasib with cetuximab for KRAS G12C colorectal cancer\u201d applies. "
            in combo.explanation)
    assert ("From the case: RAS-mutant: yes; so \u201cAnti-EGFR antibodies excluded in RAS-mutant colorectal cancer\u201d "
            "applies. " in cetuximab.explanation)


def test_a_chain_of_derived_facts_is_named_down_to_the_depth_limit_and_an_unknown_fact_names_none(mini_chains):
    # KRAS not tested: kras_g12c is unknown, so the requirement's "not shown" part names no chain;
    # its other part does (pancreatic, from the cancer type)
    r = mini_chains.evaluate(PDAC)
    o = r.option("cetuximab")
    assert (o.verdict, o.rules) == ("eligible", ["TPAN-003", *CHAIN, "TDER-004"])
    assert [(c.id, c.status) for c in o.criteria] == [("TPAN-003/gate/0", "met"), ("TPAN-003/requires/0", "met")]
    assert o.explanation == ("Case: PAAD (Pancreatic Adenocarcinoma). From the case: " + CHAIN_WORDS + ", Pancreatic: yes; "
                             "so \u201cCetuximab at the end of a long chain\u201d applies. The chain holds. "
                             "(FDA regular approval; the rule holds from 2009-01-01.)")
    assert "fact kras_g12c = unknown" in r.trace
    soto = r.option("sotorasib")
    assert (soto.verdict, soto.evidence, soto.rules) == ("consider", "phase3", ["TOUT-001", *CHAIN])
    # KRAS G12C found: the requirement fails, and the chain named is the gate's alone
    r = mini_chains.evaluate({**PDAC, "alterations": [G12C]})
    o = r.option("cetuximab")
    assert (o.verdict, o.rules, o.failed_criteria) == ("not_eligible", ["TPAN-003", *CHAIN], ["KRAS G12C not shown, pancreatic cancer"])
    # (the requirement is a derived fact: the Case line names what the case holds behind it)
    assert o.explanation == ("Case: KRAS G12C. From the case: " + CHAIN_WORDS + "; so \u201cCetuximab at the end of a long chain\u201d applies. "
                             "The chain does not hold. Criteria not met: KRAS G12C not shown, pancreatic cancer. "
                             "(FDA regular approval; the rule holds from 2009-01-01.)")


def test_a_chain_is_cut_at_the_same_depth_whichever_reader_reaches_it_first(mini_chains):
    # the gate of TPAN-003 reads level_10 (cut nine levels down, before level_1); a reader of
    # level_3 names its whole chain, down to the cancer type, even after the gate's walk passed it
    program = mini_chains.program
    ctx = infer(program, mini_chains.normalise(PDAC)).ctx
    st = resolve._static(program)
    gate, level_3 = program.by_id["TPAN-003"].when, program.by_id["TLVL-004"].when
    assert [cr.rule.id for cr in resolve._chain(gate, ctx, True)] == CHAIN
    assert [cr.rule.id for cr in resolve._chain(level_3, ctx, True)] == ["TLVL-001", "TLVL-002", "TLVL-003"]
    texts, chain = resolve._described(gate, ctx, True, st)
    assert texts == [] and chain == [f"Level {k}: yes" for k in range(2, 11)]
    texts, chain = resolve._described(level_3, ctx, True, st)
    assert chain == ["Level 1: yes", "Level 2: yes", "Level 3: yes"]
    assert [program.atoms[i].kind for i, v in texts] == ["cancer"] and [v for _, v in texts] == [True]


def test_a_gate_reads_in_words_node_by_node(mini_chains):
    r = mini_chains.evaluate({**PDAC, "stage": "metastatic", "tested_genes": ["KRAS"]})
    # options by verdict, then the stronger evidence first (phase 3 before clinical), then therapy
    assert [(o.therapy, o.verdict, o.evidence) for o in r.options] == [
        ("cetuximab", "eligible", "approved"), ("olaparib", "conditional", "approved"),
        ("sotorasib", "consider", "phase3"), ("adagrasib+cetuximab", "consider", "clinical")]
    o = r.option("adagrasib+cetuximab")
    # clinical evidence with no population stated: 3B; not a regulatory approval, whatever its jurisdiction
    assert (o.verdict, o.evidence, o.oncokb_level, o.rules) == ("consider", "clinical", "3B", ["TOUT-002", *CHAIN])
    assert o.explanation.endswith("so \u201cAdagrasib with cetuximab considered on a gate of every shape\u201d applies. Every shape holds.")
    assert [(c.status, c.text) for c in o.criteria] == [
        ("met", "Level 10 (level 9)"),
        ("met", "cancer type: Non-Small Cell Lung Cancer (NSCLC) or (cancer type: Pancreatic Adenocarcinoma (PAAD) and stage metastatic)"),
        ("met", "a cancer type other than Colorectal Adenocarcinoma (COADREAD)"),
        ("met", "not: (cancer type: Non-Small Cell Lung Cancer (NSCLC) or cancer type: Colorectal Adenocarcinoma (COADREAD))"),
        ("met", "no KRAS G12D"),
        ("met", "not: (cancer type: Non-Small Cell Lung Cancer (NSCLC) and KRAS G13D)"),
        ("met", "not shown: (germline testing done and stage early)"),
    ]


def test_a_not_eligible_rule_whose_criteria_are_all_met_fails_on_its_own_statement(mini_chains):
    o = mini_chains.evaluate({"cancer_type": "LUAD", "stage": "metastatic", "as_of": "2026-01-01"}).option("olaparib")
    # the statement is the criterion it fails, and so its failed criterion
    assert (o.verdict, o.failed_criteria) == ("not_eligible", ["Olaparib is not for lung cancer"])
    assert [(c.id, c.kind, c.status, c.text, c.facts) for c in o.criteria] == [
        ("TOUT-003/gate/0", "gate", "met", "cancer type: Non-Small Cell Lung Cancer (NSCLC)", ("cancer_type",)),
        ("TOUT-003/requires/0", "label", "met", "metastatic disease", ("stage",)),
        ("TOUT-003/requires/1", "label", "met", "lung cancer", ("cancer_type",)),
        ("TOUT-003/verdict", "label", "not_met", "Olaparib is not for lung cancer", ()),
    ]
    # a criterion not met: it is the one that fails, and the statement is not added
    o = mini_chains.evaluate({"cancer_type": "LUAD", "stage": "early", "as_of": "2026-01-01"}).option("olaparib")
    assert [(c.id, c.status) for c in o.criteria] == [
        ("TOUT-003/gate/0", "met"), ("TOUT-003/requires/0", "not_met"), ("TOUT-003/requires/1", "met")]


def test_texts_given_before_rendering_are_kept_and_the_rest_rendered(mini):
    r = mini.evaluate(mini_case("crc-g12d"))
    o, c = r.options[0], r.options[0].considered[0]
    o.__dict__.update(explanation="given", summary="given too")  # rendering fills only the texts missing
    c.__dict__["reason"] = "a given reason"
    r.__dict__.update(notes=["a given note"], facts={"given": True}, trace=["given"])
    r.explain()
    assert (o.explanation, o.summary, c.reason) == ("given", "given too", "a given reason")
    assert (r.notes, r.facts, r.trace) == (["a given note"], {"given": True}, ["given"])
    assert (o.therapy, o.name, o.drugs, o.status, o.jurisdiction) == ("cetuximab", "cetuximab", ["cetuximab"], "guideline", None)


def test_a_class_wide_outcome_for_a_therapy_out_of_scope_is_not_resolved(mini):
    """The evaluator keeps class-wide outcomes to the therapies in scope; resolution does too, for
    an inference that holds one anyway: the Y96D exclusion (over every G12C inhibitor) names the
    G12C combination, which no lung cancer rule names."""
    norm = mini.normalise(mini_case("luad-y96d-acquired"))
    inf = infer(mini.program, norm)
    assert set(inf.outcomes) == {"sotorasib"} and "adagrasib+cetuximab" not in inf.in_scope
    exclusion = next(co for co in inf.outcomes["sotorasib"] if co[0].rule.id == "TRES-001")
    outcomes = {"adagrasib+cetuximab": [exclusion], **inf.outcomes}  # the therapy out of scope first
    result = build_result(Inference(inf.ctx, outcomes, inf.notes, inf.skipped, inf.in_scope))
    assert [(o.therapy, o.verdict) for o in result.options] == [("sotorasib", "excluded")]


def test_the_atom_values_getter_and_the_closure_of_a_rule():
    assert [resolve._getter(ix)([10, 11, 12]) for ix in ((), (2,), (0, 2))] == [(), (12,), (10, 12)]
    # a cycle of derived facts (check rejects one; the closure still ends)
    a, b = FactNode("a"), FactNode("b")
    plan = NS(derivers={"a": [NS(when=AllNode([AtomNode(3), b]))], "b": [NS(when=NotNode(a))]})
    assert resolve._closure(NS(when=AnyNode([a, AtomNode(1)]), requires=(UnmetNode(AtomNode(0)),)), plan) == (0, 1, 3)


def test_a_result_rendered_at_once_without_a_summary_writer_has_empty_summaries(mini):
    norm = mini.normalise(mini_case("luad-second-line"))
    r = build_result(infer(mini.program, norm))
    assert "summary" in r.options[0].__dict__ and "trace" in r.__dict__  # rendered at once by default
    assert [o.summary for o in r.options] == [""]


def test_the_knowledge_base_note_only_for_a_case_dated_after_it(mini):
    kv = mini.rulebase.meta.knowledge_version.isoformat()
    on, after = ({**mini_case("luad-second-line"), "as_of": d} for d in (kv, "2026-07-01"))
    assert mini.evaluate(on).notes == []
    assert [n.split(";")[0] for n in mini.evaluate(after).notes] == [f"The knowledge base is current to {kv}"]


def test_every_failed_criterion_is_named_in_the_explanation_and_the_trace(mini):
    r = mini.evaluate({"cancer_type": "LUAD", "stage": "early", "alterations": [G12C], "prior_therapies": [],
                       "as_of": "2026-01-01"})
    failed = "at least one prior systemic therapy; locally advanced or metastatic disease"
    assert "Criteria not met: " + failed + "." in r.options[0].explanation
    assert "TLNG-001 -> sotorasib: not_eligible (failed: " + failed + ")" in r.trace


def test_the_explanation_outline_is_shared_per_outcome_not_only_per_atom_values(mini):
    """Two cases alike in every atom the approval reads: in one the Y96D exclusion might apply
    (acquired unknown) and makes the option conditional, in the other it does not. Every label
    criterion is met in both: the conditional one says so (the rule's "met" sentence), then what
    the exclusion waits on, never "if the missing facts are confirmed" of criteria that are met."""
    base = {"cancer_type": "LUAD", "stage": "metastatic", "prior_therapies": [{"drugs": ["sotorasib"]}], "as_of": "2026-01-01"}
    pending = {**base, "alterations": [G12C, {"gene": "KRAS", "variant": "Y96D"}]}
    settled_ = {**base, "alterations": [G12C, {"gene": "KRAS", "variant": "Y96D", "acquired": False}],
                "tested_after_prior_therapy": True}
    for order in ((pending, settled_), (settled_, pending)):
        got = {}
        for case in order:
            o = mini.evaluate(case).option("sotorasib")
            got[o.verdict] = o.explanation.split(". ", 1)[1]
        assert got["conditional"].startswith("Approved after a prior line. But an exclusion may still apply, and it waits on: whether KRAS Y96D was acquired")
        assert got["eligible"].startswith("Approved after a prior line. ")


def test_an_option_kept_alone_renders_when_an_earlier_option_is_gone(mini):
    r = mini.evaluate(mini_case("crc-untested"))
    second = r.options[1]
    del r
    assert second.explanation == RESOLVED["crc-untested"]["options"][1]["explanation"]


def test_a_pending_exclusion_is_applied_whatever_the_order_of_the_candidates(mini):
    # the approval (TLNG-001) sorts before the pending Y96D exclusion (TRES-001)
    o = mini.evaluate({"cancer_type": "LUAD", "stage": "metastatic", "as_of": "2026-01-01"}).option("sotorasib")
    assert (o.verdict, o.rules) == ("conditional", ["TLNG-001", "TRES-001"])
    assert o.criteria[-1].id == "TRES-001/exclusion"


def test_a_caution_with_no_option_to_attach_to_is_a_note_and_the_notes_after_it_stay(mini_chains):
    r = mini_chains.evaluate({"cancer_type": "LUAD", "stage": "metastatic", "as_of": "2026-01-01",
                              "alterations": [{"gene": "KRAS", "variant": "Y96D", "acquired": False}]})
    assert r.option("sotorasib") is None
    caution = "KRAS Y96D was found but not after a KRAS G12C inhibitor; the resistance evidence comes from tumours that acquired it on the drug."
    assert [(n.rule, n.text, [c.rule for c in n.citations]) for n in r.note_details] == [
        ("TRES-002", caution, ["TRES-002"]), ("TZN-001", "A lung cancer note.", ["TZN-001"])]
    assert r.notes == [caution, "A lung cancer note."]
    # attached to the sotorasib option, the caution is no note; the note after it stays
    r = mini_chains.evaluate({**mini_case("luad-y96d-baseline"), "id": "attached"})
    assert [c.rule for c in r.option("sotorasib").cautions] == ["TRES-002"]
    assert [n.rule for n in r.note_details] == ["TZN-001"]


def test_a_withdrawn_approval_reads_as_such_with_each_reading(mini_chains):
    o = mini_chains.evaluate({"cancer_type": "LUAD", "stage": "metastatic", "as_of": "2026-01-01"}).option("olaparib")
    assert o.explanation.endswith('Not in lung cancer. Reading of "metastatic disease": Stage IV disease only. '
                                  'Reading of "lung cancer": Any histology of it. (FDA withdrawn approval; the rule holds from 2019-01-01.)')


def test_cases_differing_in_one_atom_get_their_own_checklists_and_a_fact_read_twice_is_named_once(mini_chains):
    """Two colorectal cases that differ only in the stage, in either order: each its own checklist
    for the olaparib rule; RAS-mutant, read by its gate and a requirement, is one derivation rule
    and one line of the explanation; cetuximab's two other rules are both named as considered."""
    crc = {"cancer_type": "COADREAD", "alterations": [{"gene": "KRAS", "variant": "G12D"}], "as_of": "2026-01-01"}
    for order in (("metastatic", "early"), ("early", "metastatic")):
        for stage in order:
            o = mini_chains.evaluate({**crc, "stage": stage}).option("olaparib")
            want = ("consider", "met") if stage == "metastatic" else ("not_eligible", "not_met")
            assert (o.verdict, o.criteria[-1].status) == want, stage
            # clinical evidence from lung cancer: 3B in colorectal cancer; RAS-mutant, read by the
            # gate and a requirement, named once
            assert (o.oncokb_level, o.rules) == ("3B", ["TOUT-004", "TDER-001"])
            assert o.explanation.count("RAS-mutant: yes") == 1
    cetuximab = mini_chains.evaluate({**crc, "stage": "metastatic"}).option("cetuximab")
    assert cetuximab.explanation.endswith("Also considered: \u201cCetuximab needs RAS wild-type shown by testing\u201d "
                                          "(not eligible, approved); \u201cCetuximab considered in metastatic RAS-mutant "
                                          "colorectal cancer\u201d (consider, clinical evidence).")


def test_a_conditional_eligibility_keeps_its_precedence(mini_chains):
    """The G12C combination, made conditional by a Y96D exclusion that might apply, still sets
    the anti-EGFR exclusion aside (its gate is true)."""
    o = mini_chains.evaluate({"cancer_type": "COADREAD", "as_of": "2026-01-01",
                              "alterations": [G12C, {"gene": "KRAS", "variant": "Y96D"}],
                              "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"},
                                                  {"drugs": ["sotorasib"]}]}).option("adagrasib+cetuximab")
    assert (o.verdict, o.rules) == ("conditional", ["TCRC-003", "TDER-003", "TRES-003"])
    assert [(c.rule, c.set_aside_by) for c in o.considered] == [("TCRC-001", "TCRC-003")]


def test_an_atom_inference_left_unread_is_read_before_the_explanation_outline_is_shared(mini_chains):
    """The combination's gate holds `not (NSCLC and KRAS G13D)`: in pancreatic cancer inference
    stops at the cancer type, but the explanation names every false part, G13D too when it is
    false. Two cases alike but in G13D, in either order on one engine: each names its own."""
    case = {**PDAC, "stage": "metastatic", "tested_genes": ["KRAS"]}
    g13d = {**case, "alterations": [{"gene": "KRAS", "variant": "G13D"}]}
    for order in ((case, g13d), (g13d, case)):
        said = [mini_chains.evaluate(c).option("adagrasib+cetuximab").explanation.split(". ", 1)[0] for c in order]
        if order[0] is g13d:
            said.reverse()
        assert "no KRAS G13D" in said[0] and "no KRAS G13D" not in said[1], said


def test_options_are_listed_by_verdict_evidence_and_therapy_whatever_order_the_rules_give(engine):
    """The options of a result are sorted (positive verdicts first, then stronger evidence, then
    therapy id) however few they are, in the full result and in the decided fields alike; among
    the example cases are results whose options inference found in another order (74 of them
    today, two with two options). Read from the shipped cases, not pinned to them: a rule added
    or ended changes which case shows it, not whether one does."""
    import json

    def order(o):
        return (sem.OPTION_ORDER[o.verdict], -sem.EVIDENCE_RANK[o.evidence], o.therapy)

    reordered = 0
    for path in sorted((Path(__file__).resolve().parents[1] / "cases").glob("*.json")):
        case = json.loads(path.read_text())
        res = engine.evaluate(case)
        got = [o.therapy for o in res.options]
        assert got == [o.therapy for o in sorted(res.options, key=order)], path.name
        assert [o.therapy for o in engine.decide(case).options] == got, path.name
        found = [t for t in infer(engine.program, engine.normalise(case)).outcomes if t in got]
        reordered += found != got
    assert reordered, "no example case's options were found by inference in another order"


# what Engine.decide gives for each case: (therapy, verdict, OncoKB level, missing, deciding rule,
# gate unknown) per option, in the result's order
DECIDED = {
    "luad-second-line": [("sotorasib", "eligible", "1", (), "TLNG-001", False)],
    "luad-first-line": [("sotorasib", "not_eligible", "1", (), "TLNG-001", False)],
    "luad-stage-unknown": [("sotorasib", "conditional", "1", ("stage",), "TLNG-001", False)],
    "luad-y96d-acquired": [("sotorasib", "excluded", "R2", (), "TRES-001", False)],
    "luad-y96d-baseline": [("sotorasib", "eligible", "1", (), "TLNG-001", False)],
    "crc-untested": [("adagrasib+cetuximab", "conditional", "1", ("KRAS testing", "prior therapy history"),
                      "TCRC-003", True),
                     ("cetuximab", "conditional", "1", ("KRAS testing", "NRAS testing"), "TCRC-002", False)],
    "crc-g12d": [("cetuximab", "excluded", "R1", (), "TCRC-001", False)],
    "crc-wild-type": [("cetuximab", "eligible", "1", (), "TCRC-002", False)],
    "crc-g12c-after-three": [("adagrasib+cetuximab", "eligible", "1", (), "TCRC-003", False),
                             ("cetuximab", "excluded", "R1", (), "TCRC-001", False)],
    "pdac-g12c-late": [("olaparib", "conditional", "1", ("germline testing", "prior therapy history"), "TPAN-001", True),
                       ("sotorasib", "consider", "3A", (), "TPAN-002", False)],
    "pdac-brca2": [("olaparib", "eligible", "1", (), "TPAN-001", False)],
}


def test_decisions_are_the_decided_fields_of_the_result_and_write_the_same_row(mini):
    """``Engine.decide`` (what a TSV row and a cohort summary read) gives, option by option in the
    result's order, the values the full result holds: the pending exclusion's missing facts
    (crc-untested's cetuximab), the level of a clinical rule within its population (3A), a gate
    left unknown (the G12C combination of a colorectal case not tested for KRAS)."""
    assert set(DECIDED) == set(MINI_CASES)
    for name in MINI_CASES:
        case = mini_case(name)
        got = mini.decide(case)
        full = mini.evaluate(case)
        assert [tuple(o[:2]) + tuple(o[3:]) for o in got.options] == DECIDED[name], name
        assert all(o.evidence == f.evidence for o, f in zip(got.options, full.options, strict=True))
        assert got == Decisions.of(full), name
        assert (got.case_id, got.evaluated_as_of, got.cancer_type) == (name, case["as_of"], full.cancer_type)
        assert tsv_row(got) == tsv_row(full), name
    # a gate left unknown: the row gives the therapy no level (a level belongs to a biomarker)
    row = dict(zip(TSV_COLUMNS, tsv_row(mini.decide(mini_case("crc-untested"))).split("\t"), strict=True))
    assert row["level_1"] == "cetuximab" and row["conditional"] == "adagrasib+cetuximab,cetuximab"


def test_decisions_leave_out_a_class_wide_outcome_for_a_therapy_out_of_scope(mini):
    norm = mini.normalise(mini_case("luad-y96d-acquired"))
    inf = infer(mini.program, norm)
    exclusion = next(co for co in inf.outcomes["sotorasib"] if co[0].rule.id == "TRES-001")
    outcomes = {"adagrasib+cetuximab": [exclusion], **inf.outcomes}
    got = decisions(Inference(inf.ctx, outcomes, inf.notes, inf.skipped, inf.in_scope))
    assert [(o.therapy, o.verdict) for o in got.options] == [("sotorasib", "excluded")]


def test_an_option_whose_label_names_no_biomarker_has_no_oncokb_level(engine):
    """An OncoKB level grades a biomarker: daraxonrasib's label names none (KRAS wild-type pancreatic
    cancer included), so its option has no level, in the result and in the OncoKB-style TSV; a
    drug that has only entered a trial is graded by its laboratory rationale (4), not as clinical
    evidence (3A)."""
    from engine import formats
    case = {"cancer_type": "PAAD", "stage": "metastatic", "alterations": [], "tested_genes": ["KRAS"],
            "prior_therapies": [{"regimen": "FOLFIRINOX", "setting": "metastatic", "outcome": "progression"}],
            "as_of": "2026-10-01"}
    r = engine.evaluate(case)
    o = r.option("daraxonrasib")
    assert (o.verdict, o.evidence, o.oncokb_level) == ("eligible", "approved", None)
    assert "LEVEL_1" not in formats.tsv_row(r)
    mutant = engine.evaluate({**case, "alterations": [{"gene": "KRAS", "variant": "G12D"}]})
    assert mutant.option("daraxonrasib").oncokb_level is None
    bi = mutant.option("bi-1701963")
    assert (bi.verdict, bi.evidence, bi.oncokb_level) == ("consider", "preclinical", "4")


@pytest.mark.parametrize("cancer, as_of, level, rule", [
    ("PAAD", "2026-07-01", "3A", "LNG-014"),  # the pancreatic cohort's own results
    ("PAAD", "2022-06-01", "3B", "LNG-006"),  # before they were published
    ("UCEC", "2026-07-01", "3B", "LNG-006"),  # no cohort of its own: evidence from other cancer types
    ("SKCM", "2026-07-01", "3B", "LNG-006"),
])
def test_a_trial_option_is_3a_only_in_the_cancer_type_its_evidence_comes_from(engine, cancer, as_of, level, rule):
    """A KRAS G12C inhibitor alone outside lung and colorectal cancer was OncoKB 3A in any solid
    tumour (melanoma included), where OncoKB's 3A asks for clinical evidence in that cancer type."""
    r = engine.evaluate({"cancer_type": cancer, "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
                         "prior_therapies": [{"drugs": ["carboplatin", "paclitaxel"], "outcome": "progression"}],
                         "as_of": as_of})
    for therapy in ("sotorasib", "adagrasib"):
        o = r.option(therapy)
        assert (o.verdict, o.evidence, o.oncokb_level, o.rules[0]) == ("consider", "clinical", level, rule)
