"""Tutoring API: catalogue, why-not, what-if, summaries, schemas, text output, and the two
embedding bugs (shared citation objects; an edited vocabulary folder not reloaded)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from pydantic import BaseModel

from engine.api import Engine
from engine.contract import fields_without_description, json_schema
from engine.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
CASES = sorted((REPO / "cases").glob("*.json"))


def _ids_pattern():
    from engine.api import default_engine

    rb = default_engine().rulebase
    names = sorted(rb.by_id) + sorted({r.derive for r in rb.rules if r.derive})
    return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")


RULE_ID = _ids_pattern()  # rule ids and fact names: structured fields only, never in the prose


def load(name: str) -> dict:
    return json.loads((REPO / "cases" / name).read_text())


# --------------------------------------------------------------------------- catalogue


def test_catalogue_lists_every_therapy_with_names_and_drugs(engine):
    cat = engine.catalogue()
    assert {t.id for t in cat.therapies} == set(engine.rulebase.therapies)
    t = next(t for t in cat.therapies if t.id == "adagrasib+cetuximab")
    assert t.name == "adagrasib + cetuximab" and t.drugs == ["adagrasib", "cetuximab"]
    assert "CRC-004" in t.rules
    assert "KRAS" in cat.genes and any(v.gene == "KRAS" and v.variant == "G12C" for v in cat.variants)
    codes = {c.code: c for c in cat.cancer_types}
    assert codes["COADREAD"].in_rules and not codes["LUSC"].in_rules and "NSCLC" in codes["LUSC"].lineage
    assert any(r.name == "FOLFOX" and "oxaliplatin" in r.drugs for r in cat.regimens)
    assert any(d.name == "sotorasib" and "kras_g12c_inhibitor" in d.classes for d in cat.drugs)
    assert any(s.id == "LUMAKRAS-LABEL" for s in cat.sources)
    assert "FDA" in cat.jurisdictions and "EMA" in cat.jurisdictions


@pytest.mark.parametrize("text", ["adagrasib+cetuximab", "cetuximab+adagrasib", "Cetuximab + Adagrasib",
                                  "adagrasib + cetuximab", "Krazati + Erbitux", "MRTX849/cetuximab"])
def test_therapy_lookup_by_any_drug_order_or_name(engine, text):
    assert engine.therapy(text).id == "adagrasib+cetuximab"


def test_therapy_lookup_by_display_name_and_regimen(engine):
    assert engine.therapy("sotorasib + panitumumab").id == "panitumumab+sotorasib"
    assert engine.therapy("encorafenib + cetuximab + mFOLFOX6").id == "cetuximab+encorafenib+fluorouracil+leucovorin+oxaliplatin"


def test_unknown_therapy_says_what_was_probably_meant(engine):
    with pytest.raises(UsageError) as e:
        engine.therapy("cetuximab+adagrasob")
    assert e.value.problems[0].suggestion == "adagrasib+cetuximab"
    with pytest.raises(UsageError):
        engine.therapy("aspirin")


# --------------------------------------------------------------------------- why not


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_case_every_therapy_has_an_answer_with_criteria(engine, path):
    case = json.loads(path.read_text())
    answers = engine.explain(case, include_all=True)
    result = engine.evaluate(case)
    assert [a.therapy for a in answers] == [t.id for t in engine.catalogue().therapies]
    for a in answers:
        assert a.explanation.strip() and 0 < len(a.summary) <= 140
        assert a.criteria, a.therapy
        opt = result.option(a.therapy)
        assert a.in_result == (opt is not None)
        assert a.verdict == (opt.verdict if opt else None)
        assert not RULE_ID.search(a.explanation), a.explanation  # rules and facts in words, not by id
        if opt is None:
            assert any(c.status != "met" for c in a.criteria) or any(not r.in_effect for r in a.rules)
        if a.verdict == "not_eligible":  # every not_eligible option has a criterion not met
            assert any(c.status == "not_met" for c in a.criteria), a.therapy
            assert set(opt.failed_criteria) <= {c.text for c in a.criteria if c.status == "not_met"}
        if opt is not None:  # the answer's checklist is the option's, with what the case holds
            assert [(c.id, c.status) for c in a.criteria] == [(c.id, c.status) for c in opt.criteria]
        for c in a.criteria:
            assert not RULE_ID.search(c.text), c.text


def test_g12d_lung_adagrasib_cetuximab_names_the_colorectal_and_g12c_gates(engine):
    a = engine.explain(load("luad-g12d-second-line.json"), "adagrasib + cetuximab")
    assert a.verdict is None and not a.in_result
    gates = {c.text: c.status for c in a.criteria if c.kind == "gate"}
    assert any("COADREAD" in t and "Colorectal" in t for t in gates) and set(gates.values()) == {"not_met"}
    assert any("KRAS G12C" in t for t in gates)
    assert "Colorectal" in a.explanation and "KRAS G12C" in a.explanation and "KRAS G12D" in a.explanation
    assert "DER-" not in a.explanation and "kras_g12c" not in a.explanation
    assert a.rules[0].rule == "CRC-004"  # the approval the case comes closest to


def test_a_summary_names_the_gate_a_case_fails_before_a_date_it_is_not_in_effect_at(engine):
    """Daraxonrasib's approval (pancreatic cancer, from 2026-08-26) asked about for a colorectal
    cancer in 2025 was summed up as "not in effect (it holds from 2026-08-26 ...)": a student reads
    an option for this cancer once the date comes. The gate comes first; a case that meets the
    gate keeps the date."""
    crc = json.loads((REPO / "cases" / "crc-g12c-folfox-only.json").read_text(encoding="utf-8"))
    a = engine.explain(crc, "daraxonrasib")
    assert a.summary.startswith("daraxonrasib: no option, not met: cancer type: Pancreatic Adenocarcinoma (PAAD)")
    assert a.summary.endswith("nor in effect on the evaluation date")
    luad = json.loads((REPO / "cases" / "luad-g12c-2021-01-15.json").read_text(encoding="utf-8"))
    assert engine.explain(luad, "sotorasib").summary == (
        "sotorasib: no option, not in effect (it holds from 2021-05-28, after the evaluation date 2021-01-15)")


def test_an_ended_trial_option_names_the_note_in_its_place(engine):
    """BI 1701963's trial option (RES-015) ended the day the rule base recorded the report of its
    phase I studies; the note FAIL-007 holds from then. Asked why there is no option, the answer
    says when the rule ended (on the evaluation date itself: its end is the first day it no longer
    holds), names the rule in its place and, where that note applies to the case, says why; the
    summary stays short. Before that date the trial option stands."""
    case = {"cancer_type": "PAAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12D"}],
            "tested_genes": ["KRAS"], "as_of": "2026-12-06"}
    a = engine.explain(case, "BI 1701963")
    assert a.verdict is None and not a.in_result and a.rules[0].rule == "RES-015"
    assert a.summary == "BI 1701963: no option, not in effect (it ended on the evaluation date, 2026-12-06)"
    assert ("\u201cBI 1701963 (SOS1 inhibitor) after its phase I studies reported\u201d holds from then" in a.rules[0].reason)
    assert "Since 2026-12-06: The SOS1 inhibitor BI 1701963 is no longer a trial option" in a.explanation
    later = engine.explain({**case, "as_of": "2027-03-01"}, "BI 1701963")
    assert "ended on 2026-12-06, before the evaluation date 2027-03-01" in later.summary
    assert "Since 2026-12-06:" in later.explanation
    # the note is about advanced disease: an early-stage case is told the rule ended, not the note
    early = engine.explain({**case, "stage": "early"}, "BI 1701963")
    assert "holds from then" in early.rules[0].reason and "Since 2026-12-06" not in early.explanation
    before = engine.explain({**case, "as_of": "2026-12-05"}, "BI 1701963")
    assert before.verdict == "consider" and before.rules[0].rule == "RES-015"


def test_an_ended_approval_names_the_approval_in_its_place(engine):
    """The FDA accelerated approval of encorafenib + cetuximab + mFOLFOX6 (BRAF-002) ended when the
    regular approval with fluorouracil-based chemotherapy (BRAF-005) replaced it: after that day
    the ended rule's reason names its successor; a rule that ended without one names none."""
    a = engine.explain(load("crc-braf-v600e-untreated-2026-03-01.json"), "encorafenib + cetuximab + mFOLFOX6")
    assert a.verdict == "eligible" and a.rules[0].rule == "BRAF-005"
    ended = next(r for r in a.rules if r.rule == "BRAF-002")
    assert ended.reason == ("does not apply: it ended on 2026-02-24, before the evaluation date 2026-03-01, and "
                            "\u201cEncorafenib + cetuximab + fluorouracil-based chemotherapy (mFOLFOX6 or FOLFIRI) for "
                            "BRAF V600E metastatic colorectal cancer (FDA)\u201d holds from then")
    case = {"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}], "as_of": "2026-01-01"}
    b = engine.explain(case, "sotorasib + panitumumab")
    assert next(r for r in b.rules if r.rule == "CRC-007").reason == (
        "does not apply: it ended on 2025-01-16, before the evaluation date 2026-01-01")


def _replaced_rules():
    from engine.api import default_engine

    rb = default_engine().rulebase
    return [r.id for r in rb.rules if r.replaced_by and rb.targets.get(r.id)]


@pytest.mark.parametrize("rule_id", _replaced_rules())
def test_every_replaced_rule_names_its_successor_where_that_is_in_effect(engine, rule_id):
    """Every rule that names a successor (``replaced_by``: an approval after a trial option, a
    note after a retired finding), asked about with a case of its own examples on the day the
    successor starts: the rule's reason names the successor, for the successor's regulator, and
    not for another regulator (the FDA approval that ended a trial option is not what an EU
    evaluation has in its place) nor the day before the successor starts."""
    import datetime as dt

    rb = engine.rulebase
    rule = rb.rule(rule_id)
    nxt = rb.rule(rule.replaced_by)
    therapy = rb.targets[rule_id][0]
    start = nxt.effective_from if rule.effective_to is None else max(nxt.effective_from, rule.effective_to)
    case = {**rule.examples[0].case, "as_of": start.isoformat()}
    if nxt.jurisdiction:
        case["jurisdiction"] = nxt.jurisdiction

    def reason(c) -> str:
        return next(r.reason for r in engine.explain(c, therapy).rules if r.rule == rule_id)

    named = f"\u201c{nxt.title}\u201d"
    assert named in reason(case)
    other = next(j for j in sorted(engine.jurisdictions) if j != nxt.jurisdiction) if nxt.jurisdiction else None
    if other is not None and (rule.jurisdiction is None or rule.jurisdiction == other):
        assert named not in reason({**case, "jurisdiction": other})
    assert named not in reason({**case, "as_of": (start - dt.timedelta(days=1)).isoformat()})


def test_the_closest_rule_is_one_whose_gate_the_case_meets(engine):
    """Early-stage, resected KRAS G12C endometrial cancer, sotorasib: the trial option for G12C
    cancers outside lung and colorectal cancer (gate met, silent at an early stage) is the rule the
    case comes closest to, before the lung approval whose cancer type it does not have."""
    case = {"cancer_type": "UCEC", "stage": "early", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "tested_genes": ["KRAS"], "prior_therapies": [], "as_of": "2026-07-01"}
    a = engine.explain(case, "sotorasib")
    assert a.verdict is None and a.rules[0].rule == "LNG-006"
    assert "The closest rule, \u201cKRAS G12C inhibitor monotherapy for KRAS G12C cancers other" in a.explanation
    assert "(the case: stage early)" in a.explanation


def test_a_rule_not_yet_in_effect_reads_its_facts_as_they_are_defined_where_it_is(engine):
    """Olaparib for PDAC evaluated before its first label (2019-12-27), germline testing not
    reported: the rule does not apply because of its date, and its germline BRCA gate is unknown,
    not "not met" (the fact's derivation dates from the same label: read at the case's own date
    it would be false, as if testing had found none)."""
    case = {"cancer_type": "PAAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12D"}],
            "prior_therapies": [{"regimen": "FOLFIRINOX", "setting": "metastatic", "outcome": "stable"}],
            "as_of": "2019-06-01"}
    a = engine.explain(case, "olaparib")
    assert a.verdict is None and not a.rules[0].in_effect and "holds from 2019-12-27" in a.rules[0].reason
    gates = {c.text: (c.status, c.case) for c in a.criteria if c.kind == "gate"}
    assert gates["Germline BRCA1 or BRCA2 mutation"] == ("unknown", "unknown: germline testing")
    # a case whose germline testing found none fails it; one with a germline BRCA2 variant meets it
    for extra, want in (({"germline_tested": True}, "not_met"),
                        ({"germline_tested": True, "alterations": case["alterations"] + [
                            {"gene": "BRCA2", "variant": "p.E1953*", "origin": "germline"}]}, "met")):
        b = engine.explain({**case, **extra}, "olaparib")
        assert {c.text: c.status for c in b.criteria}["Germline BRCA1 or BRCA2 mutation"] == want
    # the EMA rule, read for its own regulator, says the same of an FDA case
    ema = next(r for r in a.rules if "(EMA)" in r.title)
    assert not ema.in_effect and {c.text: c.status for c in ema.criteria}["Germline BRCA1 or BRCA2 mutation"] == "unknown"


def test_a_gate_that_leaves_out_cancer_types_and_needs_a_known_biomarker_reads_plainly(engine):
    """BRAF V600E melanoma, dabrafenib + trametinib: the tumour-agnostic rule leaves melanoma out
    (it has its own label). Its gate reads "BRAF V600E (confirmed)" and "a solid tumour other
    than ... or any melanoma (...)" (the eight melanoma branches of OncoTree by one name), not
    "not: not shown: ..." and "not: cancer type: ..."."""
    a = engine.explain(load("mel-braf-v600e.json"), "dabrafenib + trametinib")
    gates = {c.text: c.status for c in a.criteria if c.kind == "gate"}
    assert gates == {"BRAF V600E (confirmed)": "met",
                     "a solid tumour other than Colorectal Adenocarcinoma (COADREAD) or any melanoma (cutaneous, "
                     "mucosal, ocular or of the central nervous system)": "not_met"}
    assert "not: " not in a.explanation and "not shown" not in a.explanation


def test_under_one_regulator_the_closest_rule_is_its_own_and_another_regulators_date_is_named(engine):
    """EMA, olaparib maintenance for germline BRCA2 pancreatic cancer on 2019-12-20, before either
    approval: the closest rule was the FDA approval ("does not apply: it is an FDA rule") with the
    FDA label's criteria; it is the EU authorisation, which holds from 2020-07-03, and the FDA rule
    says when it holds there. On 2020-03-01, between the two approvals, the EU rule for that
    window decides (an option to consider), and the FDA rule says that it holds there and that
    this case meets it."""
    case = {"cancer_type": "PAAD", "stage": "metastatic", "germline_tested": True,
            "alterations": [{"gene": "BRCA2", "variant": "p.E1953*", "origin": "germline"}, {"gene": "KRAS", "variant": "G12D"}],
            "prior_therapies": [{"regimen": "FOLFIRINOX", "setting": "metastatic", "outcome": "stable", "weeks": 18}],
            "as_of": "2019-12-20", "jurisdiction": "EMA"}
    a = engine.explain(case, "olaparib")
    assert a.verdict is None
    assert a.rules[0].title.endswith("(EMA)") and "holds from 2020-07-03" in a.explanation
    fda = next(r for r in a.rules if r.title.endswith("(FDA)"))
    assert fda.reason.endswith("it is an FDA rule, in effect there from 2019-12-27 (after the evaluation date), and "
                               "this evaluation is for EMA")
    case["as_of"] = "2020-03-01"
    a = engine.explain(case, "olaparib")
    assert a.verdict == "consider" and a.rules[0].decided and a.rules[0].title.startswith("Olaparib maintenance")
    assert "EMA, from the FDA approval of 2019-12-27" in a.rules[0].title
    fda = next(r for r in a.rules if r.title.endswith("(FDA)"))
    assert fda.reason.endswith("it is an FDA rule, in effect there from 2019-12-27, and this evaluation is for EMA; "
                               "there, this case meets every criterion")
    # a case the FDA rule does not take says so (no platinum before: the label's population)
    other = engine.explain(case | {"prior_therapies": [{"regimen": "gemcitabine", "setting": "metastatic",
                                                         "outcome": "stable", "weeks": 18}]}, "olaparib")
    fda = next(r for r in other.rules if r.title.endswith("(FDA)"))
    assert "; there, this case does not meet " in fda.reason
    a = engine.explain(case | {"jurisdiction": "FDA"}, "olaparib")  # (and the reverse: the FDA rule decides)
    assert a.rules[0].title.endswith("(FDA)") and a.rules[0].decided


def test_the_closest_rule_is_one_about_the_therapy_and_the_fewest_gates_away(engine):
    """The FOLFIRI triplet in a BRAF V600E colorectal case before its approval: the closest rule
    is the triplet's own (not yet in effect), not the class-wide anti-EGFR exclusion, which only
    speaks where a rule about the therapy applies. Dabrafenib + trametinib in colorectal cancer
    without BRAF V600E: the label's colorectal exclusion (one gate away) before the tumour-agnostic
    rule (two gates away). A rule both out of date and out of scope says both."""
    a = engine.explain(load("crc-braf-v600e-untreated-2025-06-01.json"), "encorafenib + cetuximab + FOLFIRI")
    assert a.rules[0].rule == "BRAF-005" and "holds from 2026-02-24" in a.explanation
    assert "RAS-mutant" not in a.summary
    a = engine.explain(load("crc-braf-v600e-ema-after-folfox.json"), "encorafenib + cetuximab + FOLFIRI")
    assert a.rules[0].rule == "BRAF-005" and "it is an FDA rule, in effect there from 2026-02-24, and this evaluation is for EMA" in a.explanation
    a = engine.explain(load("crc-g12c-folfox-folfiri.json"), "dabrafenib + trametinib")
    assert a.rules[0].rule == "BRAF-004"
    a = engine.explain(load("crc-g12c-folfox-folfiri.json"), "encorafenib + cetuximab + FOLFIRI")
    assert a.rules[0].rule == "BRAF-005"
    assert "holds from 2026-02-24, after the evaluation date 2025-06-01; nor does this case meet BRAF V600E" in " ".join(
        a.explanation.split())


def test_a_use_no_rule_is_about_is_said_to_lie_outside_the_knowledge_base(engine):
    """BRAF V600E melanoma: no rule about vemurafenib or dabrafenib + trametinib is about melanoma
    (their melanoma labels are not encoded), so the answer says the use is outside the knowledge
    base, not ruled out by it. Where a rule is about the cancer type (the tumour-agnostic label's
    colorectal exclusion), it is not said."""
    for therapy in ("vemurafenib", "dabrafenib + trametinib"):
        a = engine.explain(load("mel-braf-v600e.json"), therapy)
        assert "for Melanoma (MEL): such a use, if there is one, is outside the knowledge base, not ruled out by it." in (
            " ".join(a.explanation.split()))
    a = engine.explain(load("crc-g12c-folfox-folfiri.json"), "dabrafenib + trametinib")
    assert "outside the knowledge base" not in a.explanation


def test_a_pending_exclusion_names_what_to_find_out(engine):
    """An exclusion waiting on an untested gene names the test ("NRAS testing"), never an empty
    "to know, find out: ."."""
    a = engine.explain(load("crc-kras-tested-nras-untested.json"), "cetuximab")
    reasons = [r.reason for r in a.rules if "would conclude" in r.reason]
    assert reasons and all(r.endswith("to know, find out: NRAS testing") for r in reasons), reasons
    for path in CASES:
        for ans in engine.explain(json.loads(path.read_text()), include_all=True):
            for r in ans.rules:
                assert "find out: ." not in r.reason and not r.reason.endswith("find out: "), (path.stem, r.reason)
            assert "find out: ." not in ans.explanation, path.stem


def test_a_germline_brca_variant_is_what_the_case_holds_for_the_germline_gate(engine):
    """Olaparib with a germline BRCA2 variant: the gate's case words name the variant, not "germline
    testing found none" (the BRCA1 branch of the same fact, which does not decide it)."""
    a = engine.explain(load("paad-gbrca2-olaparib.json"), "olaparib")
    gate = next(c for c in a.criteria if c.text == "Germline BRCA1 or BRCA2 mutation")
    assert (gate.status, gate.case) == ("met", "BRCA2 E1953* (germline)")
    a = engine.explain(load("paad-somatic-brca2.json"), "olaparib")
    gate = next(c for c in a.criteria if c.text == "Germline BRCA1 or BRCA2 mutation")
    assert gate.status == "not_met" and "germline testing found none" in gate.case


def test_the_text_answer_lists_the_rules_its_explanation_points_to(engine, tmp_path, capsys):
    """`why` in text: the explanation names a few rules and points to the rest ("see the rules
    listed"): the answer lists every rule about the therapy, by title, with what it made of the case."""
    import json

    from engine.cli import main

    f = tmp_path / "ucec.json"
    f.write_text(json.dumps({"cancer_type": "UCEC", "stage": "early", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
                             "tested_genes": ["KRAS"], "prior_therapies": [], "as_of": "2026-07-01"}))
    assert main(["why", str(f), "sotorasib"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    answer = engine.explain(json.loads(f.read_text()), "sotorasib")
    assert "(see the rules listed)" in answer.explanation and "Rules about it:" in out
    for r in answer.rules:
        assert f"\u201c{r.title}\u201d: " in out, r.rule


def test_treatment_naive_g12c_lung_sotorasib_prior_therapy_not_met(engine):
    a = engine.explain(load("luad-g12c-treatment-naive.json"), "sotorasib")
    st = {c.text: c.status for c in a.criteria}
    assert st["at least one prior systemic therapy"] == "not_met"
    assert st["locally advanced or metastatic disease"] == "met"
    assert st["KRAS G12C present"] == "met"
    assert a.verdict == "not_eligible"


def test_explain_needs_a_therapy_or_include_all(engine):
    with pytest.raises(UsageError):
        engine.explain(load("luad-g12c-second-line.json"))


# --------------------------------------------------------------------------- what if


def test_compare_folfiri_added_makes_exactly_the_two_g12c_combinations_eligible(engine):
    before = load("crc-g12c-folfox-only.json")
    after = json.loads(json.dumps(before))
    after["prior_therapies"].append({"regimen": "FOLFIRI", "setting": "metastatic", "outcome": "progression"})
    cmp = engine.compare(before, after)
    assert {o.therapy for o in cmp.options} == {"adagrasib+cetuximab", "panitumumab+sotorasib"}
    for o in cmp.options:
        assert o.after.verdict == "eligible" and o.before.verdict != "eligible"
        assert o.why and len(o.summary) <= 140
    assert [(f.fact, f.before, f.after) for f in cmp.facts] == [("prior_fp_ox_iri", False, True)]
    assert [c.field for c in cmp.changes] == ["prior_therapies"]


@pytest.mark.parametrize("path", CASES[::6], ids=lambda p: p.stem)
def test_compare_with_itself_is_empty(engine, path):
    case = json.loads(path.read_text())
    assert engine.compare(case, case).empty


def test_compare_reports_a_level_change_and_a_vanished_option(engine):
    before = load("luad-g12c-second-line.json")
    after = dict(before, alterations=[{"gene": "KRAS", "variant": "G12D"}])
    cmp = engine.compare(before, after)
    soto = next(o for o in cmp.options if o.therapy == "sotorasib")
    assert soto.before.verdict == "eligible" and soto.after.verdict == "excluded"
    assert any(o.after.verdict is None for o in cmp.options)  # e.g. the G12C combinations in trials
    assert any(f.fact == "kras_g12c" and f.after is False for f in cmp.facts)


def test_compare_shows_a_caution_that_a_co_mutation_adds_and_why_says_it(engine):
    """Adding an NRAS mutation to KRAS G12C colorectal cancer leaves the G12C combinations
    eligible but cautioned: the what-if must say so (it said "No option changed")."""
    from engine.tutoring.cli import render_answer

    before = load("crc-g12c-folfox-only.json")
    before["prior_therapies"].append({"regimen": "FOLFIRI", "setting": "metastatic", "outcome": "progression"})
    after = json.loads(json.dumps(before))
    after["alterations"].append({"gene": "NRAS", "variant": "Q61K"})
    cmp = engine.compare(before, after)
    combo = next(o for o in cmp.options if o.therapy == "adagrasib+cetuximab")
    assert combo.before.verdict == combo.after.verdict == "eligible"
    assert len(combo.cautions_gained) == 1 and "NRAS" in combo.cautions_gained[0] and not combo.cautions_lost
    assert "caution added" in combo.why and len(combo.summary) <= 140
    back = engine.compare(after, before)
    assert next(o for o in back.options if o.therapy == "adagrasib+cetuximab").cautions_lost == combo.cautions_gained
    assert render_answer(engine.explain(after, "adagrasib+cetuximab")).splitlines()[0] == \
        "adagrasib + cetuximab: eligible (with a caution)"
    assert render_answer(engine.explain(before, "adagrasib+cetuximab")).splitlines()[0] == "adagrasib + cetuximab: eligible"
    # an option that becomes excluded has no cautions: its verdict is the news, not "no longer cautioned"
    excluded = json.loads(json.dumps(after))
    excluded["alterations"].append({"gene": "KRAS", "variant": "G12D", "acquired": True})
    excluded["prior_therapies"].append({"drugs": ["adagrasib", "cetuximab"], "setting": "metastatic", "outcome": "progression"})
    gone = next(o for o in engine.compare(after, excluded).options if o.therapy == "adagrasib+cetuximab")
    assert gone.after.verdict == "excluded" and gone.cautions_lost == [] and "No longer cautioned" not in gone.why


def test_compare_shows_a_note_that_a_co_alteration_adds(engine):
    """STK11 loss added to KRAS G12C lung adenocarcinoma changes no verdict: the lesson is the note
    about PD-1 inhibitors (COM-001), which the what-if must show (it said "No option changed" and
    nothing else); the other way round, the note goes."""
    from engine.tutoring.cli import render_comparison

    before = load("luad-g12c-second-line.json")
    after = json.loads(json.dumps(before))
    after["alterations"].append({"gene": "STK11", "variant": "loss"})
    cmp = engine.compare(before, after)
    assert [n.rule for n in cmp.notes_gained] == ["COM-001"] and not cmp.notes_lost and not cmp.empty
    assert "PD-1" in cmp.notes_gained[0].text
    assert "Note now: Caution with PD-1 inhibitors" in render_comparison(cmp)
    back = engine.compare(after, before)
    assert [n.rule for n in back.notes_lost] == ["COM-001"] and not back.notes_gained
    assert "Note no longer: Caution with PD-1 inhibitors" in render_comparison(back)


def test_compare_across_the_day_an_option_ended_shows_the_note_in_its_place(engine):
    """The same KRAS-mutant pancreatic case the day before and the day BI 1701963's trial option
    ended: the option goes and the note that says why (FAIL-007) comes."""
    case = {"cancer_type": "PAAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12D"}],
            "tested_genes": ["KRAS"], "as_of": "2026-12-05"}
    cmp = engine.compare(case, {**case, "as_of": "2026-12-06"})
    gone = next(o for o in cmp.options if o.therapy == "bi-1701963")
    assert (gone.before.verdict, gone.after.verdict) == ("consider", None)
    assert [n.rule for n in cmp.notes_gained] == ["FAIL-007"] and not cmp.notes_lost


# --------------------------------------------------------------------------- summaries and text


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_option_has_a_short_summary_without_internal_names(engine, path):
    r = engine.evaluate(json.loads(path.read_text()))
    for o in r.options:
        assert 0 < len(o.summary) <= 140
        assert o.summary.startswith(o.name)
        assert not RULE_ID.search(o.summary), o.summary


def test_text_output_shows_literature_exclusions_one_line_each(engine):
    from engine import formats

    r = engine.evaluate(load("luad-g12d-second-line.json"))
    full, short, brief = formats.text(r, detail=True), formats.text(r), formats.text(r, brief=True)
    vem = [ln for ln in short.splitlines() if "vemurafenib" in ln.lower()]
    assert len(vem) == 1 and "vemurafenib" in full and len(full) > len(short) > len(brief)
    assert "Sources:" in full and "--detail" in short
    flat = " ".join(brief.split())
    for o in r.options:
        assert o.summary in flat


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_text_output_names_each_options_evidence_in_words(engine, path):
    """The option headers of the text format say "preclinical resistance evidence", not the
    result's token ("resistance_preclinical"), beside the OncoKB level."""
    from engine import formats
    from engine.semantics import EVIDENCE_WORDS

    r = engine.evaluate(json.loads(path.read_text()))
    heads = [ln.strip() for ln in formats.text(r, detail=True).splitlines() if ln.startswith("    * ")]
    assert len(heads) == len(r.options)
    for o in r.options:
        head = [h for h in heads if h.startswith(f"* {o.name}: ")]
        assert len(head) == 1 and head[0].startswith(f"* {o.name}: {EVIDENCE_WORDS[o.evidence]}"), head


def test_results_carry_the_contract_version(engine):
    from engine.result import CONTRACT_VERSION

    r = engine.evaluate(load("luad-g12c-second-line.json"))
    assert json.loads(r.to_json())["contract_version"] == CONTRACT_VERSION
    assert CONTRACT_VERSION.split(".")[0] == "1"


# --------------------------------------------------------------------------- schemas


def test_every_field_of_both_schemas_has_a_description():
    assert fields_without_description("case") == []
    assert fields_without_description("result") == []

    def walk(node, path="$"):
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                assert prop.get("description"), f"{path}.{name}"
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    for which in ("case", "result"):
        walk(json_schema(which))


def test_every_example_case_and_its_result_validate_against_the_schemas(engine):
    case_v = jsonschema.Draft202012Validator(json_schema("case"))
    result_v = jsonschema.Draft202012Validator(json_schema("result"))
    jsonschema.Draft202012Validator.check_schema(json_schema("case"))
    jsonschema.Draft202012Validator.check_schema(json_schema("result"))
    for path in CASES:
        case = json.loads(path.read_text())
        case_v.validate(case)
        result_v.validate(json.loads(engine.evaluate(case).to_json()))


def test_the_case_schema_rejects_what_the_engine_rejects():
    v = jsonschema.Draft202012Validator(json_schema("case"))
    assert not v.is_valid({"cancer_type": "LUAD", "stagee": "metastatic"})
    assert not v.is_valid({"cancer_type": "LUAD", "stage": "late"})
    assert not v.is_valid({"stage": "metastatic"})


def test_cli_schema_prints_the_same_schema():
    out = subprocess.run([sys.executable, "-m", "engine", "schema", "result"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and json.loads(out.stdout) == json_schema("result")


# --------------------------------------------------------------------------- the two embedding bugs


def _models_and_lists(obj, out: dict, frozen_ok=True):
    if isinstance(obj, BaseModel):
        if not (frozen_ok and obj.model_config.get("frozen")):
            out[id(obj)] = obj
        for v in obj.__dict__.values():
            _models_and_lists(v, out, frozen_ok)
    elif isinstance(obj, (list, dict)):
        out[id(obj)] = obj
        for v in (obj.values() if isinstance(obj, dict) else obj):
            _models_and_lists(v, out, frozen_ok)


def test_results_share_no_mutable_object(engine):
    case = load("crc-g12c-folfox-folfiri.json")
    a, b = engine.evaluate(case), engine.evaluate(case)
    ma, mb = {}, {}
    _models_and_lists(a, ma)
    _models_and_lists(b, mb)
    shared = set(ma) & set(mb)
    assert not shared, [type(ma[i]).__name__ for i in shared][:5]


def test_a_citation_of_one_result_cannot_change_another(engine):
    case = load("luad-g12c-second-line.json")
    a = engine.evaluate(case)
    before = engine.evaluate(case).to_json()
    with pytest.raises(Exception):  # noqa: B017 - refused whichever way (frozen model or read-only view)
        a.options[0].citations[0].quote = "changed by one student's session"
    a.options[0].citations.append(a.options[0].citations[0])
    a.options[0].citations.pop(0)
    assert engine.evaluate(case).to_json() == before


def test_an_edited_vocabulary_folder_is_reloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("KRAS_RULES_CACHE", str(tmp_path / "cache"))
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    case = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "tested_genes": ["KRAS"],  # (its copy number too: after a G12C inhibitor an acquired amplification would exclude)
            # (stopped for intolerance: a G12C inhibitor the disease did not progress on)
            "prior_therapies": [{"drugs": ["Zorkatinib"], "outcome": "intolerance"}], "as_of": "2026-07-01"}
    from engine.errors import CaseError

    with pytest.raises(CaseError):
        Engine(rules).evaluate(case)
    drugs = rules / "vocabulary" / "drugs.yaml"
    drugs.write_text(drugs.read_text().replace("    brands: [Krazati]\n", "    brands: [Krazati, Zorkatinib]\n"))
    assert Engine(rules).evaluate(case).option("sotorasib").verdict == "eligible"
    # the on-disk cache now holds the edited copy under the new content hash, also in a new process
    code = ("import json,sys; from engine.api import Engine; "
            f"r=Engine({str(rules)!r}).evaluate(json.loads(sys.argv[1])); print(r.option('sotorasib').verdict)")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(case)], capture_output=True, text=True, cwd=REPO,
                         env={**__import__("os").environ, "KRAS_RULES_CACHE": str(tmp_path / "cache")})
    assert out.stdout.strip() == "eligible", out.stderr
    # and edited back, the old vocabulary is seen again (never a stale copy)
    drugs.write_text(drugs.read_text().replace("    brands: [Krazati, Zorkatinib]\n", "    brands: [Krazati]\n"))
    with pytest.raises(CaseError):
        Engine(rules).evaluate(case)


def test_an_edited_rule_file_is_reloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("KRAS_RULES_CACHE", str(tmp_path / "cache"))
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    case = load("luad-g12c-second-line.json")
    assert Engine(rules).evaluate(case).option("sotorasib").verdict == "eligible"
    lung = rules / "kb" / "lung.yaml"
    lung.write_text(lung.read_text().replace("conclude: {therapy: sotorasib, verdict: eligible}",
                                             "conclude: {therapy: sotorasib, verdict: consider}", 1))
    assert Engine(rules).evaluate(case).option("sotorasib").verdict != "eligible"


# --------------------------------------------------------------------------- command line


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=REPO)


def test_cli_why_and_compare_json_equal_the_api(engine):
    case = "cases/luad-g12d-second-line.json"
    out = _cli("why", case, "cetuximab + adagrasib", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip("\n") == engine.explain(json.loads((REPO / case).read_text()), "adagrasib+cetuximab",
                                                     default_id=case).model_dump_json()
    out = _cli("compare", "cases/crc-g12c-folfox-only.json", "cases/crc-g12c-folfox-folfiri.json")
    assert out.returncode == 0 and "not eligible → eligible" in out.stdout
    out = _cli("why", case, "cetuximab+adagrasob")
    assert out.returncode == 2 and "did you mean 'adagrasib+cetuximab'" in out.stderr
    out = _cli("catalogue", "--therapy", "Krazati + Erbitux")
    assert out.stdout.startswith("adagrasib+cetuximab\t")
    out = _cli("why", "cases/luad-g12c-treatment-naive.json", "sotorasib")
    assert "[ ] label: at least one prior systemic therapy" in out.stdout


def test_an_approval_set_aside_by_several_exclusions_is_set_aside_by_the_deciding_one(engine):
    """Acquired KRAS G13D: both the clinical second-allele exclusion (RES-007) and the in-vitro
    sotorasib finding (RES-003) override the sotorasib approval; the clinical one decides, so the
    approval is said to be set aside by it, and the explanation says it takes precedence."""
    o = engine.evaluate(load("luad-g12c-g13d-acquired.json")).option("sotorasib")
    assert o.rules[0] == "RES-007"
    lng = next(c for c in o.considered if c.rule == "LNG-001")
    assert lng.set_aside_by == "RES-007"
    assert "Takes precedence over" in o.explanation


def test_a_use_the_label_leaves_out_names_the_label_criterion_it_fails(engine):
    """Adagrasib alone in KRAS G12C colorectal cancer: the criterion not met is the label's
    "in combination with cetuximab" (the rule's `conclude.criterion`), not the rule's title."""
    o = engine.evaluate(load("crc-g12c-folfox-folfiri.json")).option("adagrasib")
    assert o.verdict == "not_eligible"
    (c,) = [c for c in o.criteria if c.status == "not_met"]
    assert (c.id, c.text) == ("CRC-009/verdict", engine.rulebase.by_id["CRC-009"].conclude.criterion)
    assert c.text.startswith("given in combination with cetuximab")


def test_a_criterion_is_only_for_a_not_eligible_conclusion():
    from pydantic import ValidationError

    from engine.rules_model import Conclusion

    Conclusion(therapy="x", verdict="not_eligible", criterion="given with y")
    with pytest.raises(ValidationError, match="only with that verdict"):
        Conclusion(therapy="x", verdict="eligible", criterion="given with y")


def test_the_text_answer_calls_a_trial_rules_criteria_its_population_not_a_label(engine):
    """why in text: the criteria of a rule that is not an approval (daraxonrasib before its label,
    a phase 3 option) are its evidence's population; an approval's are its label's, except those
    the rule adds from the population of the approval's trials, which say so."""
    from engine.tutoring.cli import render_answer

    trial = render_answer(engine.explain(load("pdac-g12d-second-line.json"), "daraxonrasib"))
    assert "] population: metastatic disease" in trial and "] label:" not in trial
    label = render_answer(engine.explain(load("luad-g12c-treatment-naive.json"), "sotorasib"))
    assert "[ ] label: at least one prior systemic therapy" in label
    assert "[x] population: no progression on a KRAS G12C inhibitor given before" in label
    assert [c.kind for c in engine.explain(load("luad-g12c-treatment-naive.json"), "sotorasib").criteria] == [
        "gate", "gate", "label", "label", "population", "population", "population"]
    assert "[x] population: no other oncogenic driver found" in label


def test_the_closest_rule_is_never_retired_and_testing_that_could_open_an_option_comes_first(engine):
    """Endometrial cancer before 2021-11-15: the closest sotorasib rule is not the retired in-vitro
    rule (it says nothing at any date). Pancreatic cancer with KRAS untested: the trial option KRAS
    testing could open (its gate "confirmed" is unknown, not failed) comes before the
    exclusions waiting on the same test."""
    a = engine.explain({"cancer_type": "UCEC", "stage": "metastatic", "as_of": "2021-06-01"}, "sotorasib")
    retired = {r.id for r in engine.rulebase.rules if r.status == "retired"}
    assert a.rules[0].rule not in retired and "retired" not in a.summary
    a = engine.explain({"cancer_type": "PAAD", "stage": "metastatic", "as_of": "2026-07-01"}, "sotorasib")
    assert a.rules[0].rule == "LNG-006"
    gate = next(c for c in a.criteria if c.text.startswith("KRAS G12C present"))
    assert (gate.status, gate.case) == ("unknown", "unknown: KRAS testing")
    # (a gate that must be known to hold: the rule gives nothing until testing shows it, and says so)
    assert "does not apply yet: it gives an option only once KRAS G12C present is confirmed, and the case " \
           "does not say (to find out: KRAS testing)" in a.explanation, a.explanation


def test_an_option_decided_by_an_exclusion_carries_no_pending_exclusion(engine):
    """BRAF V600E colorectal cancer, KRAS and NRAS untested: cetuximab is excluded (BRAF-003); the
    RAS-mutant exclusion waiting on RAS testing belongs to the approval it set aside (conditional
    on the same tests), not to the option."""
    o = engine.evaluate({"cancer_type": "COADREAD", "stage": "metastatic", "tested_genes": ["BRAF"],
                         "alterations": [{"gene": "BRAF", "variant": "V600E"}], "as_of": "2025-01-16"}).option("cetuximab")
    assert (o.verdict, o.rules) == ("excluded", ["BRAF-003"])
    assert [(c.rule, c.verdict) for c in o.considered] == [("CRC-002", "conditional")]
    assert not [c for c in o.criteria if c.id.endswith("/exclusion")] and "Would be excluded" not in o.explanation


def test_an_approval_that_would_override_an_exclusion_is_named_with_what_it_waits_on(engine):
    """NRAS-mutant colorectal cancer, KRAS untested: sotorasib + panitumumab waits on KRAS testing
    (a KRAS G12C would have the combination's own label decide, over the RAS-mutant exclusion), so
    it is conditional, not excluded; the explanation names the exclusion as the verdict that stands
    where the label does not apply, and why the label takes precedence where it does. With KRAS
    tested wild-type no rule about the combination applies (no option)."""
    case = {"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [{"gene": "NRAS", "variant": "G13C"}],
            "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}], "as_of": "2025-01-16"}
    o = engine.evaluate(case).option("panitumumab+sotorasib")
    assert (o.verdict, o.rules[0], o.missing) == ("conditional", "CRC-005", ["KRAS testing"])
    assert [(c.rule, c.verdict, c.set_aside_by) for c in o.considered] == [("CRC-001", "excluded", None)]
    assert ("If KRAS testing showed that “Sotorasib + panitumumab for KRAS G12C metastatic colorectal cancer"
            in o.explanation)
    assert "“Anti-EGFR antibodies in RAS-mutant (KRAS or NRAS) colorectal cancer” would decide (excluded)" in o.explanation
    assert engine.evaluate(case).option("panitumumab").verdict == "excluded"  # the antibody alone: no label sets it aside
    assert engine.evaluate({**case, "tested_genes": ["KRAS", "NRAS"]}).option("panitumumab+sotorasib") is None


def test_a_caution_qualifies_only_an_option_that_may_be_given(engine):
    """After progression on adagrasib with an acquired Q99L: sotorasib + trametinib (consider)
    carries the caution about G12C inhibitors after progression on one; adagrasib, excluded, and
    sotorasib, not eligible (its approval's evidence does not reach a tumour that progressed on a
    G12C inhibitor), carry none (nor does the caution become a note while an option of its
    therapies exists)."""
    r = engine.evaluate(load("luad-g12c-q99l-acquired.json"))
    assert "RES-111" in [c.rule for c in r.option("sotorasib+trametinib").cautions]
    assert r.option("adagrasib").verdict == "excluded" and r.option("adagrasib").cautions == []
    assert r.option("sotorasib").verdict == "not_eligible" and r.option("sotorasib").cautions == []
    assert "LNG-001/requires/3" in [c.id for c in r.option("sotorasib").criteria if c.status == "not_met"]
    assert "RES-111" not in [n.rule for n in r.note_details]
    for path in CASES:
        for o in engine.evaluate(json.loads(path.read_text())).options:
            assert not o.cautions or o.verdict in ("eligible", "conditional", "consider"), (path.stem, o.therapy)


def test_a_regular_approval_in_any_line_decides_before_an_accelerated_one_after_prior_treatment(engine):
    """BRAF V600E lung cancer: the NSCLC approval (regular, any line) and the tumour-agnostic one
    (accelerated, after prior treatment) reach the same verdict; the NSCLC rule decides, so a
    student is asked for the stage and whether the cancer already progressed on a BRAF inhibitor
    (the history not given: never read as no), never for a prior treatment, and told 'not
    metastatic', never 'no prior treatment'."""
    braf = [{"gene": "BRAF", "variant": "V600E"}]
    res = engine.evaluate({"cancer_type": "LUAD", "alterations": braf, "as_of": "2026-07-01"})
    dt = {o.therapy: o for o in res.options}["dabrafenib+trametinib"]
    assert dt.verdict == "conditional" and dt.rules[0] == "BRAF-008"
    assert dt.missing == ["prior therapy history (did the cancer progress on a BRAF inhibitor given before?)",
                          "stage: is the NSCLC metastatic?"]
    res = engine.evaluate({"cancer_type": "LUAD", "stage": "locally_advanced", "alterations": braf, "prior_therapies": [],
                           "as_of": "2026-07-01"})
    dt = {o.therapy: o for o in res.options}["dabrafenib+trametinib"]
    assert dt.verdict == "not_eligible" and dt.rules[0] == "BRAF-008"
    assert not any("prior" in f for f in dt.failed_criteria)


def test_why_not_ranks_a_rule_failing_no_criterion_before_one_failing_a_label_criterion(engine):
    """Treatment-naive lung cancer, BRAF untested: the closest rule for dabrafenib + trametinib is
    the NSCLC approval (waiting on BRAF testing), not the tumour-agnostic one the case fails on
    its prior-treatment criterion."""
    a = engine.explain({"cancer_type": "LUAD", "stage": "metastatic", "prior_therapies": [], "as_of": "2026-07-01"},
                       "dabrafenib + trametinib")
    assert a.rules[0].rule == "BRAF-008"
    assert "progressed following prior treatment" not in a.summary


def test_compare_names_the_rule_and_date_that_decide_after_a_date_change(engine):
    """The day sotorasib was approved: the trial rule gave way to the approval. The change names
    the approval and its date; criteria both rules share (cancer type, KRAS G12C) did not change."""
    case = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "prior_therapies": [{"drugs": ["carboplatin"]}], "as_of": "2021-05-27"}
    got = {o.therapy: o for o in engine.compare(case, dict(case, as_of="2021-05-28")).options}["sotorasib"]
    assert "which holds from 2021-05-28" in got.why and "Now decided by" in got.summary
    # both rules read the same case on both days: no criterion changed, the date is the news
    assert got.criteria == [] and "checked now" not in got.why and "no longer checked" not in got.why


def test_compare_lists_no_fact_that_only_one_side_evaluated(engine):
    """Before sotorasib's approval no rule in effect read "KRAS G12C present" for lung cancer, so
    the result did not report it; the what-if must not say it went from unknown to true (the case
    lists G12C on both days)."""
    before, after = load("luad-g12c-2021-01-15.json"), load("luad-g12c-2021-05-28.json")
    assert "kras_g12c" not in engine.evaluate(before).facts and engine.evaluate(after).facts["kras_g12c"] is True
    cmp = engine.compare(before, after)
    assert not any(f.fact == "kras_g12c" for f in cmp.facts)
    assert [f.fact for f in engine.compare(after, dict(after, alterations=[{"gene": "KRAS", "variant": "G12D"}])).facts] \
        == ["kras_g12c"]  # (a fact both sides read still shows its change)


def test_compare_says_why_an_option_went_in_full_with_the_criterion_that_failed(engine):
    """KRAS G12C replaced by G12D in colorectal cancer after FOLFOX and FOLFIRI: adagrasib +
    cetuximab goes. The what-if names the criterion of its rule that is now not met, and why the
    rule no longer applies, in full (not the 140-character summary cut with an ellipsis), and does
    not list every criterion as "no longer checked"."""
    before = load("crc-g12c-folfox-folfiri.json")
    after = dict(before, alterations=[{"gene": "KRAS", "variant": "G12D"}])
    got = {o.therapy: o for o in engine.compare(before, after).options}["adagrasib+cetuximab"]
    assert (got.before.verdict, got.after.verdict) == ("eligible", None)
    assert [(c.text, c.before, c.after) for c in got.criteria] == [("KRAS G12C present", "met", "not_met")]
    assert got.why == "adagrasib + cetuximab: eligible \u2192 no option. KRAS G12C present: now not met."
    # another rule decides sotorasib after: it is named, with its criteria that changed; the rule
    # that no longer decides is not gone through line by line ("no longer checked")
    soto = {o.therapy: o for o in engine.compare(before, after).options}["sotorasib"]
    assert (soto.before.verdict, soto.after.verdict) == ("not_eligible", "excluded")
    assert soto.why.startswith("sotorasib: not eligible \u2192 excluded. Now decided by \u201cKRAS G12C inhibitors for a KRAS-mutant tumour without G12C")
    assert [(c.text, c.before, c.after) for c in soto.criteria] == [("KRAS G12C present: no", "not_met", "met")]
    assert "no longer checked" not in soto.why and "\u2026" not in soto.why
    # an option whose rule ended: none of its criteria changed, the reason says why it went
    case = {"cancer_type": "PAAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12D"}],
            "tested_genes": ["KRAS"], "as_of": "2026-12-05"}
    bi = {o.therapy: o for o in engine.compare(case, dict(case, as_of="2026-12-06")).options}["bi-1701963"]
    assert bi.why.startswith("BI 1701963: consider \u2192 no option. \u201cBI 1701963 (SOS1 inhibitor) for KRAS-mutant cancer in a phase 1 trial\u201d does not apply: it ended on the evaluation date, 2026-12-06")


def test_compare_when_another_rule_decides_says_what_it_finds_unmet_and_never_leaves_a_dangling_with(engine):
    """The day sotorasib was approved, for an untreated patient: the trial rule gives way to the
    approval, which the case fails; the what-if says on what (it said only which rule decides).
    FDA to EMA for RAS wild-type colorectal cancer: the verdict stays, the rule changes; the text
    read "still eligible, with ." and listed the FDA rule's criteria as now not met."""
    case = dict(load("luad-g12c-treatment-naive.json"), as_of="2021-05-27")
    got = {o.therapy: o for o in engine.compare(case, dict(case, as_of="2021-05-28")).options}["sotorasib"]
    assert got.why.endswith("which holds from 2021-05-28. Not met: at least one prior systemic therapy.")
    wt = load("crc-ras-wild-type.json")
    switched = engine.compare(wt, dict(wt, jurisdiction="EMA")).options
    # (the loop below must have options whose verdict stays while the rule changes: cetuximab, panitumumab)
    assert {o.therapy for o in switched if o.before.verdict == o.after.verdict} >= {"cetuximab", "panitumumab"}
    for o in switched:
        assert "with ." not in o.why and "with ." not in o.summary
        if o.before.verdict == o.after.verdict:
            assert o.why.startswith(f"{o.name}: still {o.after.verdict.replace('_', ' ')}. Now decided by"), o.why
            assert o.criteria == [] or all(c.id.startswith(o.after.rule + "/") for c in o.criteria)


def test_compare_says_what_became_of_an_exclusion_that_waited(engine):
    """After progression on sotorasib, KRAS G12C listed alone, adagrasib + TNO155 (an option to
    consider: adagrasib alone is not eligible there) waits on KRAS copy number (RES-007 would
    exclude it on an acquired amplification). Listing KRAS in tested_genes, from testing after
    progression, settles it one way, an acquired amplification the other: the change says which,
    not "no longer checked"."""
    case = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "prior_therapies": [{"drugs": ["carboplatin", "pemetrexed"], "outcome": "progression"},
                                {"drugs": ["sotorasib"], "outcome": "progression"}], "as_of": "2026-07-01"}
    covered = {o.therapy: o for o in engine.compare(case, dict(case, tested_genes=["KRAS"], tested_after_prior_therapy=True)
                                                    ).options}["adagrasib+tno155"]
    assert (covered.before.verdict, covered.after.verdict) == ("consider", "consider")
    assert ("Nothing is left to find out (before: KRAS copy-number testing after progression on the KRAS G12C "
            "inhibitor, whether the KRAS results are from testing after progression on the KRAS G12C inhibitor).") in " ".join(
        covered.why.split())
    (c,) = [c for c in covered.criteria if c.id == "RES-007/exclusion"]
    assert (c.before, c.after) == ("unknown", None)
    assert "no longer in question (the exclusion is known not to apply)" in covered.why
    amplified = dict(case, alterations=case["alterations"] + [{"gene": "KRAS", "variant": "amplification", "acquired": True}])
    got = {o.therapy: o for o in engine.compare(case, amplified).options}["adagrasib+tno155"]
    assert got.after.verdict == "excluded" and got.after.rule == "RES-007"
    # the exclusion decides now: it is named once, as the deciding rule, with the criterion that
    # changed (not also as "Not excluded by ...: the exclusion now applies")
    assert got.why.startswith("adagrasib + TNO155: consider \u2192 excluded. Now decided by \u201cA second activating KRAS allele")
    assert "KRAS amplification (acquired on a KRAS G12C inhibitor): now met" in got.why
    assert "not excluded" not in got.why.lower() and "no longer in question" not in got.why


def test_words_typed_while_a_student_types_resolve_as_meant(engine):
    assert engine.normalise({"cancer_type": "colorectal"}).cancer.code == "COADREAD"
    assert engine.therapy("cetuximab adagrasib").id == "adagrasib+cetuximab"
    assert engine.therapy("Krazati Erbitux").id == "adagrasib+cetuximab"
    assert engine.therapy("BI 1701963").id == "bi-1701963"  # (a name with a space stays one drug)


def test_compare_names_the_side_an_error_is_on(engine):
    from engine.errors import CaseError

    with pytest.raises(CaseError) as info:
        engine.compare({"cancer_type": "LUAD"}, {"cancer_type": "LUAD", "stage": "IV"})
    assert info.value.problems[0].path[:2] == ("after", "stage")


def test_a_rule_whose_gate_holds_decides_before_one_whose_gate_is_unknown(engine):
    """BRAF V600E 'lung cancer' of unknown histology: the tumour-agnostic rule, whose gate holds,
    decides (with its OncoKB level), not the NSCLC rule waiting on the histology."""
    res = engine.evaluate({"cancer_type": "lung cancer", "stage": "metastatic", "alterations": [{"gene": "BRAF", "variant": "V600E"}],
                           "tested_genes": ["KRAS", "BRAF", "EGFR", "ALK"], "as_of": "2026-07-01"})
    dt = {o.therapy: o for o in res.options}["dabrafenib+trametinib"]
    assert dt.rules[0] == "BRAF-006" and dt.verdict == "conditional"
    decided = engine.decide({"cancer_type": "lung cancer", "stage": "metastatic", "alterations": [{"gene": "BRAF", "variant": "V600E"}],
                             "tested_genes": ["KRAS", "BRAF", "EGFR", "ALK"], "as_of": "2026-07-01"})
    assert {d.therapy: d.rule for d in decided.options}["dabrafenib+trametinib"] == "BRAF-006"  # (decide chooses alike)


def test_compare_from_no_option_lists_no_criterion_as_no_longer_checked(engine):
    before = {"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "Q22K"}],
              "tested_genes": ["KRAS", "NRAS", "BRAF"], "prior_therapies": [], "as_of": "2026-07-01"}
    after = dict(before, alterations=[{"gene": "KRAS", "variant": "G12D"}])
    changed = [o for o in engine.compare(before, after).options if o.before.verdict is None]
    assert changed and not any(c.after is None for o in changed for c in o.criteria)


def test_compare_names_a_change_of_what_is_left_to_find_out(engine):
    """A second KRAS allele G12V replaced by G12D, whether it was acquired still unknown: every
    verdict and criterion stays, but the question names the other allele, and compare says so."""
    before = load("luad-g12c-g12v-sotorasib-outcome-unknown.json")
    after = json.loads(json.dumps(before))
    after["alterations"] = [a if a["variant"] != "G12V" else {**a, "variant": "G12D"} for a in after["alterations"]]
    c = engine.compare(before, after)
    o = next(o for o in c.options if o.therapy == "adagrasib")
    assert o.before == o.after and o.criteria == []
    assert o.why.startswith("adagrasib: still conditional. To find out: how prior therapy 2 (sotorasib) ended, "
                            "whether KRAS G12D was acquired")
    assert o.summary.startswith("adagrasib: still conditional. To find out: how prior therapy 2 (sotorasib) ended, "
                                "whether KRAS G12D")
    assert "(before: how prior therapy 2 (sotorasib) ended, whether KRAS G12V was acquired" in o.why
    assert not engine.compare(before, before).options


def test_a_rule_passed_over_for_a_fact_it_asks_to_be_absent_is_not_a_double_negative(engine):
    """Pancreatic KRAS G12C: the rule for KRAS-mutant tumours without G12C does not apply, and the
    sentence quotes its criterion ("does not meet “KRAS G12C present: no”"), not "does not meet
    KRAS G12C present: no"."""
    case = {"cancer_type": "PAAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "prior_therapies": [{"regimen": "FOLFIRINOX"}], "as_of": "2026-12-01"}
    text = engine.explain(case, "sotorasib").model_dump_json()
    assert "does not meet \u201cKRAS G12C present: no\u201d (the case: KRAS G12C)" in text
    assert "does not meet KRAS G12C present: no" not in text


def test_the_brief_view_never_cuts_what_to_find_out(engine: Engine) -> None:
    from engine.formats import text

    case = {"id": "x", "cancer_type": "PAAD", "alterations": [{"gene": "BRCA2", "variant": "V2716Wfs*17"},
                                                             {"gene": "KRAS", "variant": "G12D"}], "as_of": "2026-12-01"}
    res = engine.evaluate(case)
    olaparib = res.option("olaparib")
    assert olaparib.verdict == "conditional" and olaparib.summary.endswith("\u2026")  # the card's summary is cut
    brief = " ".join(text(res, brief=True).split())
    for item in olaparib.missing:  # the brief view names every question
        assert " ".join(item.split()) in brief, item


def test_a_datetime_as_of_is_read_as_its_day_and_a_bad_one_is_a_usage_error(engine):
    """A tutoring tool passing ``datetime.now()`` got "can't compare datetime.datetime to
    datetime.date" from deep inside the engine; it is read as its day."""
    import datetime as dt

    from engine.errors import UsageError

    case = load("luad-g12c-second-line.json")
    moment = dt.datetime(2021, 5, 28, 15, 30)
    assert engine.evaluate(case, as_of=moment).evaluated_as_of == "2021-05-28"
    assert engine.evaluate(case, as_of=moment) == engine.evaluate(case, as_of="2021-05-28")
    assert engine.explain(case, "sotorasib", as_of=moment).verdict == "eligible"
    assert engine.compare(case, case, as_of=moment).empty
    with pytest.raises(UsageError) as info:
        engine.evaluate(case, as_of=20210528)
    assert info.value.problems[0].path == ("as_of",)


def test_an_ended_rule_does_not_cite_the_report_that_ended_it(engine):
    """BI 1701963 on 2026-07-01: a trial option. The phase I report that ended the option (recorded
    on 2026-12-06) is cited by the note in its place (FAIL-007), not as a source for the option."""
    case = {"cancer_type": "PAAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12D"}],
            "tested_genes": ["KRAS"], "as_of": "2026-07-01"}
    o = engine.evaluate(case).option("bi-1701963")
    assert o.verdict == "consider" and o.citations
    assert "BI-1701963-PHASE1-REPORT" not in {c.source for c in o.citations}
    later = engine.evaluate(dict(case, as_of="2026-12-06"))
    assert "BI-1701963-PHASE1-REPORT" in {c.source for n in later.note_details if n.rule == "FAIL-007" for c in n.citations}


def test_the_case_line_names_what_the_case_holds_in_words_a_student_reads(engine):
    """The "Case:" sentence of an explanation: (1) a failed requirement that is a derived fact
    ("prior fluoropyrimidine-, oxaliplatin- and irinotecan-based chemotherapy") names the prior
    lines behind it, as a requirement on the history itself does; (2) a treatment-naive case
    says so once, not "not a prior line of oxaliplatin in the adjuvant setting, ending in
    progression"; (3) cancer types a gate leaves out are named, not only coded."""
    folfox = engine.explain(load("crc-g12c-folfox-only.json"), "adagrasib + cetuximab")
    assert folfox.verdict == "not_eligible"
    assert folfox.explanation.startswith("Case: COADREAD (Colorectal Adenocarcinoma); KRAS G12C; stage metastatic; "
                                         "prior FOLFOX (metastatic, 30 weeks, progression). ")
    naive = engine.evaluate(load("crc-ras-untested.json"))
    for o in naive.options:
        assert "not a prior line" not in o.explanation, o.therapy
        assert o.explanation.count("no prior systemic therapy (treatment-naive)") <= 1, o.therapy
    ucec = {"cancer_type": "UCEC", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "tested_genes": ["KRAS"], "prior_therapies": [{"drugs": ["carboplatin"], "outcome": "progression"}], "as_of": "2026-07-01"}
    text = engine.evaluate(ucec).option("sotorasib").explanation
    # (the blood-cancer branches a solid-tumour rule leaves out are one group, by its words)
    assert text.startswith("Case: KRAS G12C; UCEC (Endometrial Carcinoma), a solid tumour, not Non-Small Cell Lung "
                           "Cancer (NSCLC) or Colorectal Adenocarcinoma (COADREAD); ")


def test_an_exclusion_that_waits_names_its_rule_and_what_the_case_holds(engine):
    """Cetuximab for RAS- and BRAF-untested colorectal cancer: the option waits on the BRAF V600E
    exclusion. Its criterion names the excluding rule by title and says what the case holds (BRAF
    not tested); it read "not excluded by: cancer type: ... and BRAF V600E" with nothing after."""
    a = engine.explain(load("crc-ras-untested.json"), "cetuximab")
    (c,) = [c for c in a.criteria if c.id.endswith("/exclusion")]
    assert c.status == "unknown"
    assert c.text.startswith("not excluded by \u201cAnti-EGFR antibody without a BRAF inhibitor in BRAF V600E colorectal cancer")
    assert c.case == "COADREAD (Colorectal Adenocarcinoma); unknown: BRAF testing"


def test_a_drug_no_therapy_of_the_catalogue_is_gets_no_lookalike_suggestion(engine):
    """A student asks about pembrolizumab (the note on STK11 loss names PD-1 inhibitors): it is a
    drug the vocabulary knows, not a misspelling of panitumumab, which the answer suggested. A drug
    that a catalogue therapy holds points to that therapy."""
    from engine.errors import UsageError

    with pytest.raises(UsageError) as info:
        engine.therapy("pembrolizumab")
    p = info.value.problems[0]
    assert p.suggestion is None and p.message == (
        "no therapy of the catalogue is pembrolizumab: the catalogue holds the therapies the rules decide, "
        "and none of them gives pembrolizumab")
    with pytest.raises(UsageError) as info:
        engine.therapy("Tafinlar")
    assert info.value.problems[0].suggestion == "dabrafenib+trametinib"
    with pytest.raises(UsageError) as info:
        engine.therapy("panitumab")  # a misspelling still gets the therapy it resembles
    assert info.value.problems[0].suggestion == "panitumumab"


def test_the_case_line_of_a_conditional_option_says_what_the_case_holds_beside_what_is_missing(engine):
    """Daraxonrasib for untreated metastatic pancreatic cancer waits on whether the patient can
    have multiagent therapy: its Case line says the case is treatment-naive (it named the stage
    only); cetuximab after maintenance only names the lines the history holds."""
    a = engine.explain(load("pdac-g12v-untreated-2026-10-01.json"), "daraxonrasib")
    assert a.verdict == "conditional"
    assert a.explanation.startswith("Case: PAAD (Pancreatic Adenocarcinoma); stage metastatic; no prior systemic therapy (treatment-naive). ")
    c = engine.explain(load("crc-ras-wild-type-maintenance-only.json"), "cetuximab")
    assert c.verdict == "conditional" and "bevacizumab + capecitabine (maintenance" in c.explanation.split(". ")[0]


def test_a_field_written_differently_with_the_same_meaning_is_marked_and_is_no_difference(engine):
    """'COADREAD' and 'colorectal cancer', p.G12C and p.Gly12Cys: the case fields differ in
    writing only. The what-if marks them (same) and, nothing else changing, the comparison is
    empty; a real change beside them is not."""
    from engine.tutoring.cli import render_comparison

    a = load("crc-g12c-folfox-folfiri.json")
    b = dict(a, cancer_type="colorectal cancer", alterations=[{"gene": "KRAS", "variant": "p.Gly12Cys"}])
    cmp = engine.compare(a, b)
    assert [(c.field, c.same) for c in cmp.changes] == [("alterations", True), ("cancer_type", True)]
    assert cmp.empty and engine.compare(b, a).empty
    assert render_comparison(cmp) == "No difference: the two evaluations agree."
    c = engine.compare(a, dict(b, stage="locally_advanced"))
    assert not c.empty and [(x.field, x.same) for x in c.changes][-1] == ("stage", False)
    assert "Case field cancer_type: \"COADREAD\" -> \"colorectal cancer\" (the same to the engine, written differently)" \
        in render_comparison(c)


def test_compare_names_the_rule_whose_case_changed_when_a_class_rule_decides(engine):
    """KRAS G12C colorectal cancer, BRAF untested then tested negative: encorafenib + cetuximab was
    excluded by the anti-EGFR class rule (which speaks only where a rule about the therapy itself
    applies) and then has no option. None of the class rule's criteria changed: the what-if names
    the BRAF V600E rule whose gate did, both ways round."""
    a = dict(load("crc-g12c-folfox-folfiri.json"), tested_genes=["KRAS"])
    b = dict(a, tested_genes=["KRAS", "NRAS", "BRAF"])
    gone = {o.therapy: o for o in engine.compare(a, b).options}["cetuximab+encorafenib"]
    assert (gone.before.verdict, gone.after.verdict) == ("excluded", None)
    assert "For \u201cEncorafenib + cetuximab for BRAF V600E metastatic colorectal cancer after prior therapy (FDA)\u201d: " \
           "BRAF V600E: now not met." in gone.why
    back = {o.therapy: o for o in engine.compare(b, a).options}["cetuximab+encorafenib"]
    assert "BRAF V600E: now unknown." in back.why


def test_the_case_line_names_each_prior_line_once_and_a_tested_gene_behind_an_open_criterion(engine):
    """A history text (every line) and a line a requirement reads ("prior FOLFIRINOX ...") named
    the same line twice; colorectal cancer with KRAS tested and NRAS not said nothing of KRAS,
    word for word as when nothing was tested."""
    c = {"cancer_type": "PAAD", "stage": "metastatic", "germline_tested": True, "tested_genes": ["KRAS", "BRCA1", "BRCA2"],
         "alterations": [{"gene": "KRAS", "variant": "G12D"}, {"gene": "BRCA2", "variant": "p.E1953*", "origin": "germline"}],
         "prior_therapies": [{"regimen": "FOLFIRINOX", "setting": "metastatic", "outcome": "stable", "weeks": 18},
                             {"drugs": ["olaparib"], "setting": "maintenance", "outcome": "progression", "weeks": 20}],
         "as_of": "2026-07-01"}
    line = engine.evaluate(c).option("olaparib").explanation.split(". ")[0]
    assert line.count("FOLFIRINOX (metastatic, 18 weeks, stable)") == 1 and line.count("olaparib (maintenance") == 1
    kras = engine.evaluate(load("crc-kras-tested-nras-untested.json")).option("cetuximab").explanation.split(". ")[0]
    none = engine.evaluate(load("crc-ras-untested.json")).option("cetuximab").explanation.split(". ")[0]
    assert kras.endswith("; no KRAS mutation at codon 12, 13, 59, 61, 117, 146") and "KRAS" not in none


def test_the_case_line_says_which_driver_genes_were_not_tested(engine):
    """The Case line of a KRAS G12C lung cancer's explanation lists the other drivers the case
    does not hold. Where a driver's gene was not tested, nothing identified is not a negative
    test: it says so ("no ROS1 fusion identified (ROS1 not tested)"); a tested gene keeps the
    plain words. A batch reusing records gives two cases that differ only in that testing their
    own words."""
    case = load("luad-g12c-second-line.json")  # EGFR, ALK and BRAF tested; ROS1, RET, MET not
    line = engine.evaluate(case).option("sotorasib").explanation.split(". From the case")[0]
    assert "no ROS1 fusion identified (ROS1 not tested)" in line
    assert "no MET exon 14 skipping identified (MET not tested)" in line
    assert "no ALK fusion identified;" in line and "ALK not tested" not in line
    tested = {**case, "tested_genes": case["tested_genes"] + ["ROS1", "RET", "MET", "NTRK1", "NTRK2", "NTRK3"]}
    line = engine.evaluate(tested).option("sotorasib").explanation.split(". From the case")[0]
    assert "not tested" not in line and "no ROS1 fusion identified" in line
    from engine.batch.run import Processor

    p = Processor(engine, "json")
    first = p.record("a:1", json.dumps(case))[0]
    second = p.record("a:2", json.dumps({**tested, "id": case["id"]}))[0]
    assert b"ROS1 not tested" in first and b"ROS1 not tested" not in second


def test_a_one_line_summary_says_a_failed_criterion_is_the_trial_populations(engine):
    """"not met: no progression on a KRAS G12C inhibitor given before" read as the label's words
    in the brief and TSV lines; the labels say nothing of it (a trial's eligibility does)."""
    from engine import formats
    case = {"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "tested_genes": ["KRAS", "NRAS", "BRAF"], "as_of": "2026-07-01",
            "prior_therapies": [{"regimen": "FOLFOX", "outcome": "progression"}, {"regimen": "FOLFIRI", "outcome": "progression"},
                                {"drugs": ["adagrasib", "cetuximab"], "outcome": "progression"}]}
    r = engine.evaluate(case)
    combo = r.option("adagrasib+cetuximab")
    assert combo.failed_criteria == ["no progression on a KRAS G12C inhibitor given before"]  # (the field keeps its words)
    brief = formats.text(r, brief=True)
    assert ("adagrasib + cetuximab: not eligible, not met: no progression on a KRAS G12C inhibitor given before "
            "(the trial population, not the label's words) [CRC-004]") in " ".join(brief.split())
    # a label criterion is not marked
    alone = r.option("adagrasib")
    assert alone.verdict == "not_eligible" and "trial population" not in alone.summary
