"""Evaluation details on the miniature rule base (tests/fixtures/mini): the cancer-type probe that
picks a case's candidate rules, retired and ended rules, the citations and criteria of an option,
and the missing data of rules that read one unknown fact; and, on hand-built nodes over atoms with
stated values, the leaves an explanation collects, derived facts (a cycle too), what a pending
exclusion is missing, the facts a plan reaches and the fallback of a plan that cannot be compiled.
Expected values come from the rule files, the case or the stated atom values alone."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import TypeAdapter

from engine.evaluation import evaluator, plancode
from engine.api import Engine
from engine.evaluation.evaluator import (
    _NO_PLAN,
    AllNode,
    AnyNode,
    AtomNode,
    Ctx,
    FactNode,
    NotNode,
    Program,
    RuleOutcome,
    UnmetNode,
    infer,
    missing_list,
    pending_missing,
    rule_outcome,
)
from engine.rules_model import Condition

from conftest import edited_rules

FIXTURES = Path(__file__).resolve().parent / "fixtures"
G12C = {"gene": "KRAS", "variant": "G12C"}


@pytest.fixture(scope="module")
def probe_engine():
    """A miniature engine of its own: compiling extra conditions adds atoms to its program, which
    must not leak into the shared ``mini`` engine that ``check`` verifies in other tests."""
    return Engine(FIXTURES / "mini")


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
    ({"unmet": {"cancer": "NSCLC"}}, "LUAD", False),
    ({"unmet": {"cancer": "NSCLC"}}, "COADREAD", True),
    ({"unmet": {"alteration": G12C}}, "LUAD", None),
])
def test_the_cancer_type_alone_decides_only_what_it_can(probe_engine, when, cancer_type, expected):
    assert probe(probe_engine, when, cancer_type) is expected


@pytest.fixture(scope="module")
def mini_retired(tmp_path_factory):
    """The mini rule base with the FDA sotorasib approval (TLNG-001) retired."""
    return Engine(edited_rules(tmp_path_factory.mktemp("rb"), FIXTURES / "mini",
                               lambda by_id, data: by_id["TLNG-001"].update(status="retired")))


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
    assert crit[0].text.startswith("not excluded by \u201cKRAS G12C inhibitors excluded after KRAS Y96D acquired on one\u201d (it applies to ")
    assert "KRAS Y96D" in crit[0].text


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


def test_a_missing_fact_named_more_closely_by_another_is_listed_once(engine):
    """Low-grade serous ovarian cancer with no history given: avutometinib + defactinib needs a
    prior line and recurrent disease. It listed "prior therapy history" and "prior therapy
    history (did the disease recur or progress after treatment?)": giving the second gives the
    first. (Two questions about the history, each named closely, are both listed.)"""
    assert missing_list({"prior therapy history", "prior therapy history (did it recur?)", "KRAS testing"}) == (
        "KRAS testing", "prior therapy history (did it recur?)")
    assert missing_list({"prior therapy history (a)", "prior therapy history (b)"}) == (
        "prior therapy history (a)", "prior therapy history (b)")
    assert missing_list({"prior therapy history"}) == ("prior therapy history",)
    case = {"cancer_type": "LGSOC", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12V"}],
            "tested_genes": ["KRAS", "BRAF", "NRAS"], "as_of": "2026-10-01"}
    for backend in ("default", "durable"):
        o = engine.evaluate(case, backend=backend).option("avutometinib+defactinib")
        assert o.verdict == "conditional"
        assert o.missing == ["prior therapy history (did the cancer progress on avutometinib + defactinib given before?)",
                             "prior therapy history (did the disease recur or progress after treatment?)"], backend
        assert o.explanation.count("prior therapy history") == 2, backend  # (no bare "prior therapy history")


@pytest.fixture(scope="module")
def mini_any_population(tmp_path_factory):
    """The mini rule base with the clinical sotorasib option (TPAN-002) studied in any cancer."""
    return Engine(edited_rules(tmp_path_factory.mktemp("rb"), FIXTURES / "mini",
                               lambda by_id, data: by_id["TPAN-002"]["population"].update(cancers=["any"])))


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


def test_cases_whose_rules_are_the_same_share_one_plan_and_keep_their_own_trace():
    fresh = Engine(FIXTURES / "mini")
    base = {"stage": "metastatic", "alterations": [G12C], "prior_therapies": [{"drugs": ["carboplatin"]}]}
    luad_2026 = fresh.normalise({**base, "cancer_type": "LUAD", "as_of": "2026-01-01"})
    lusc_2026 = fresh.normalise({**base, "cancer_type": "LUSC", "as_of": "2026-01-01"})
    # across the start of the EMA rule (2022-01-06), an FDA case's rules are the same
    luad_2021 = fresh.normalise({**base, "cancer_type": "LUAD", "as_of": "2021-06-01"})
    # before the FDA approval (2021-05-28) they are not
    luad_2020 = fresh.normalise({**base, "cancer_type": "LUAD", "as_of": "2020-01-01"})
    plan = fresh.program.plan(luad_2026)
    assert fresh.program.plan(lusc_2026) is plan and fresh.program.plan(luad_2021) is plan
    earlier = fresh.program.plan(luad_2020)
    assert earlier is not plan and [cr.rule.id for cr in earlier.not_in_effect] != [cr.rule.id for cr in plan.not_in_effect]
    assert len(fresh.program._plans) == 4  # one entry per (cancer code, date interval, jurisdiction)
    # a key seen before is looked up, not worked out again (neither its candidates nor its rules
    # in effect are asked for)
    asked = []
    for name in ("candidates", "_candidates", "_effect"):
        setattr(fresh.program, name, lambda case: asked.append(case) or (_ for _ in ()).throw(AssertionError("recomputed")))
    assert fresh.program.plan(luad_2026) is plan and fresh.program.plan(luad_2020) is earlier
    for name in ("candidates", "_candidates", "_effect"):
        delattr(fresh.program, name)
    assert asked == []
    # what is kept per plan does not leak between the cases that share it
    results = {c.as_of: fresh.evaluate(c) for c in (luad_2026, luad_2021, luad_2020)}
    assert results[luad_2026.as_of].option("sotorasib").verdict == "eligible"
    assert results[luad_2021.as_of].option("sotorasib").verdict == "eligible"
    assert results[luad_2020.as_of].option("sotorasib") is None
    assert any("TLNG-001" in line and "2021-05-28" in line for line in results[luad_2020.as_of].trace)
    assert fresh.evaluate(lusc_2026).option("sotorasib").verdict == "eligible"
    # an EMA case on either side of the FDA approval's date: one plan, each its own date in the trace
    ema = [fresh.normalise({**base, "cancer_type": "LUAD", "jurisdiction": "EMA", "as_of": d})
           for d in ("2021-03-01", "2021-06-01")]
    assert fresh.program.plan(ema[0]) is fresh.program.plan(ema[1])
    for c in ema:
        assert f"TLNG-002: not yet in effect on {c.as_of.isoformat()} (from 2022-01-06)" in fresh.evaluate(c).trace
    # an FDA and an EMA case on one date before both approvals: the same rules are not in effect
    # (one for its date, the other for its jurisdiction), so one plan; each trace names its own
    # reasons, compiled as interpreted
    fda, ema_case = (fresh.normalise({**base, "cancer_type": "LUAD", "jurisdiction": j, "as_of": "2021-03-01"})
                     for j in ("FDA", "EMA"))
    assert fresh.program.plan(fda) is fresh.program.plan(ema_case)
    for backend in ("compiled", "default", "compiled"):
        assert "TLNG-001: not yet in effect on 2021-03-01 (from 2021-05-28)" in fresh.evaluate(fda, backend=backend).trace
        assert "TLNG-001: FDA rule, evaluating for EMA" in fresh.evaluate(ema_case, backend=backend).trace


def test_the_keys_of_plans_are_bounded_whatever_the_jurisdiction_text(monkeypatch):
    # Program.plan takes any jurisdiction text (Engine rejects unknown ones before): the keys it
    # keeps stop at MAX_PLAN_KEYS, and a plan asked for again after they were emptied is the same
    # object, with the same rules
    monkeypatch.setattr(evaluator, "MAX_PLAN_KEYS", 8)
    fresh = Engine(FIXTURES / "mini")
    base = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C],
            "prior_therapies": [{"drugs": ["carboplatin"]}], "as_of": "2026-01-01"}
    fda = fresh.normalise(base)
    first = fresh.program.plan(fda)
    for i in range(40):
        fresh.program.plan(dataclasses.replace(fda, jurisdiction=f"J{i}"))
        assert len(fresh.program._plans) <= 8 and len(fresh.program._effects) <= 8
    assert fresh.program.plan(fda) is first
    assert fresh.evaluate(fda).option("sotorasib").verdict == "eligible"


def test_a_plan_holds_exactly_the_rules_in_effect_that_the_cancer_type_leaves():
    """Plans are worked out from bit masks kept per cancer code and per (date interval,
    jurisdiction): compared with the rules filtered one by one, for cancer codes the rules name,
    their parents and unrelated ones, on every date a rule starts or ends, the day before it and a
    date in between, in every jurisdiction. Two keys share a plan object exactly when their rules
    are the same."""
    import datetime as dt

    eng = Engine()
    prog = eng.program
    vocab = eng.rulebase.vocab
    dates = {dt.date(2015, 1, 1), dt.date(2030, 1, 1)}
    for cr in prog.rules:
        for d in (cr.start, cr.end):
            if d is not None:
                dates |= {d, d - dt.timedelta(days=1), d + dt.timedelta(days=3)}
    codes = ["LUAD", "NSCLC", "LUSC", "COADREAD", "COAD", "READ", "PAAD", "PDAC", "SOLID", "BRCA", "MEL", "AML", "MDSU", "OVT"]
    codes = [c for c in codes if c in vocab.cancer_types]
    assert len(codes) >= 10
    by_content: dict = {}
    for code in codes:
        for d in sorted(dates):
            for j in sorted(eng.jurisdictions):
                case = eng.normalise({"cancer_type": code, "as_of": d.isoformat(), "jurisdiction": j})
                plan = prog.plan(case)
                conclusions, notes = prog.candidates(case)
                want = ([cr.rule.id for cr in conclusions if cr.in_effect(case)],
                        [cr.rule.id for cr in notes if cr.in_effect(case)],
                        {name: [cr.rule.id for cr in crs if cr.in_effect(case)] for name, crs in prog.derivers.items()},
                        [cr.rule.id for cr in conclusions if not cr.in_effect(case)])
                got = ([cr.rule.id for cr in plan.conclusions], [cr.rule.id for cr in plan.notes],
                       {name: [cr.rule.id for cr in crs] for name, crs in plan.derivers.items()},
                       [cr.rule.id for cr in plan.not_in_effect])
                assert got == want, (code, d, j)
                frozen = repr(want)
                assert by_content.setdefault(frozen, plan) is plan, (code, d, j)
    assert len(set(map(id, by_content.values()))) == len(by_content) > 5


@pytest.mark.parametrize("when, genes", [
    ({"alteration": G12C}, {"KRAS"}),
    ({"all": [{"alteration": G12C}, {"alteration": {"gene": "STK11", "kind": "mutation"}}, {"cancer": "NSCLC"}]}, {"KRAS", "STK11"}),
    ({"any": [{"alteration": G12C}, {"alteration": {"gene": "KRAS", "variant": "G12D"}}]}, {"KRAS"}),
    ({"any": [{"alteration": G12C}, {"alteration": {"gene": "NRAS", "variant": "Q61K"}}]}, set()),
    ({"any": [{"alteration": G12C}, {"cancer": "NSCLC"}]}, set()),
    ({"not": {"alteration": G12C}}, set()),
    ({"unmet": {"alteration": G12C}}, set()),
    ({"cancer": "NSCLC"}, set()),
    # ras_mutant is derived from "KRAS or NRAS at codon 12, 13 or 61": no one gene is needed
    ({"all": [{"fact": "ras_mutant"}, {"alteration": G12C}]}, {"KRAS"}),
    # a derived fact under `any`: each part needs KRAS (the fact's rules, nothing; G12C, KRAS)
    ({"any": [{"all": [{"fact": "ras_mutant"}, {"alteration": G12C}]}, {"alteration": {"gene": "KRAS", "variant": "G12D"}}]},
     {"KRAS"}),
    ({"fact": "ras_mutant"}, set()),
    ({"fact": "no_such_fact"}, set()),
])
def test_what_a_condition_needs_the_case_to_list_for_it_to_be_true(probe_engine, when, genes):
    prog = probe_engine.program
    node = prog.compile(TypeAdapter(Condition).validate_python(when))
    assert evaluator.needs(node, prog.atoms, prog.derivers) == genes


def test_a_fact_derived_only_from_one_gene_needs_it_and_a_cycle_of_facts_needs_nothing(probe_engine):
    prog = probe_engine.program
    kras = prog.compile(TypeAdapter(Condition).validate_python({"alteration": G12C}))
    other = prog.compile(TypeAdapter(Condition).validate_python({"alteration": {"gene": "KRAS", "variant": "G12D"}}))
    derivers = {"g12": [SimpleNamespace(when=kras), SimpleNamespace(when=AllNode([other, FactNode("g12")]))],
                "loop": [SimpleNamespace(when=FactNode("loop"))],
                # a cycle through `any`: either part needs KRAS (the fact read again needs nothing)
                "g12_any": [SimpleNamespace(when=AnyNode([AllNode([FactNode("g12_any"), other]), kras]))]}
    assert evaluator.needs(FactNode("g12"), prog.atoms, derivers) == {"KRAS"}
    assert evaluator.needs(FactNode("loop"), prog.atoms, derivers) == set()
    assert evaluator.needs(FactNode("g12_any"), prog.atoms, derivers) == {"KRAS"}


def test_a_note_rule_the_case_cannot_make_true_is_skipped_and_no_note_is_lost():
    """Soundness of the notes' ``needs`` on the real rule base: on generated cases, every note
    rule whose needed genes the case does not all list has a `when` that is not true (evaluated
    in full by the interpreter), so skipping it loses nothing; and the notes inference reports
    are exactly those whose `when` is true."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("kras_bench_gen", Path(__file__).resolve().parents[1] / "bench" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    eng = Engine()
    prog = eng.program
    assert sum(1 for cr in prog.notes if cr.needs) >= 10
    gen = bench.Generator(eng, 11)
    skipped = 0
    for i in range(1500):
        case = eng.normalise(gen.case(i))
        plan = prog.plan(case)
        ctx = Ctx(prog, case, plan)
        listed = evaluator.listed_genes(case)
        for cr in plan.notes:
            if not cr.needs <= listed:
                skipped += 1
                assert cr.when.tv(ctx) is not True, (cr.rule.id, gen.case(i))
        truth = [cr for cr in plan.notes if cr.when.tv(ctx) is True]
        for compiled in (False, True):
            assert infer(prog, case, compiled=compiled).notes == truth
    assert skipped > 1000


def test_rules_in_effect_are_worked_out_once_per_date_interval_and_candidates_once_per_cancer_code(monkeypatch):
    fresh = Engine(FIXTURES / "mini")
    prog = fresh.program
    effects, masks = [], []
    work_out, mask = prog._effect, evaluator._mask
    monkeypatch.setattr(prog, "_effect", lambda case: effects.append((case.as_of.isoformat(), case.jurisdiction)) or work_out(case))
    monkeypatch.setattr(evaluator, "_mask", lambda rules: masks.append([cr.rule.id for cr in rules]) or mask(rules))
    keys = [("LUAD", "2026-01-01", "FDA"), ("LUSC", "2026-01-01", "FDA"), ("LUAD", "2020-01-01", "FDA"),
            ("COADREAD", "2020-06-01", "FDA"), ("LUAD", "2026-02-01", "EMA"), ("COADREAD", "2026-02-01", "EMA")]
    for code, as_of, j in keys:
        prog.plan(fresh.normalise({"cancer_type": code, "as_of": as_of, "jurisdiction": j}))
    # 2020-01-01 and 2020-06-01 lie between the same rule boundaries (2019-12-27 and 2021-01-01)
    assert effects == [("2026-01-01", "FDA"), ("2020-01-01", "FDA"), ("2026-02-01", "EMA")]
    # a mask of conclusions and one of notes per cancer code: LUAD, LUSC, COADREAD
    assert len(masks) == 6 and ["TCRC-001", "TCRC-002", "TCRC-003"] in masks


def test_a_plan_names_the_derived_facts_its_rules_in_effect_read(mini):
    # TCRC-001 (from 2009-01-01) reads `ras_mutant` in colorectal cancer; no rule of LUAD does
    def facts(code, as_of):
        return mini.program.plan(mini.normalise({"cancer_type": code, "as_of": as_of})).facts

    assert facts("COADREAD", "2026-01-01") == ("ras_mutant",)
    assert facts("COADREAD", "2005-01-01") == () and facts("LUAD", "2026-01-01") == ()


@pytest.fixture(scope="module")
def mini_derivers(tmp_path_factory):
    """The mini rule base with the derivation of `ras_mutant` (TDER-001) from 2001-01-01, and a
    second derivation of it from 2005-01-01, first of all rules by id (TABC-001): a plan's content
    counts the derivation rules in effect whatever their place in the rule order."""
    def edit(by_id, data):
        der = by_id["TDER-001"]
        der["effective_from"] = "2001-01-01"
        data["rules"].append({**der, "id": "TABC-001", "title": "RAS-mutant, a second derivation", "effective_from": "2005-01-01"})

    return Engine(edited_rules(tmp_path_factory.mktemp("rb"), FIXTURES / "mini", edit))


def test_plans_whose_rules_differ_only_in_their_derivation_rules_are_not_shared(mini_derivers):
    """Before 2001, from 2001 and from 2005, a LUAD case has the same conclusions and notes (none in
    effect before 2009) but not the same derivation rules: three plans, each with its own."""
    prog = mini_derivers.program
    assert prog.rules[0].rule.id == "TABC-001"
    plans = [prog.plan(mini_derivers.normalise({"cancer_type": "LUAD", "as_of": d})) for d in ("2000-06-01", "2003-01-01", "2007-01-01")]
    assert [[cr.rule.id for cr in p.derivers["ras_mutant"]] for p in plans] == [[], ["TDER-001"], ["TABC-001", "TDER-001"]]
    assert len({repr([[cr.rule.id for cr in rules] for rules in (p.conclusions, p.notes, p.not_in_effect)]) for p in plans}) == 1
    assert len({id(p) for p in plans}) == 3


@pytest.fixture(scope="module")
def mini_ended(tmp_path_factory):
    """The mini rule base with the FDA sotorasib approval (TLNG-001) ended on 2025-01-01."""
    return Engine(edited_rules(tmp_path_factory.mktemp("rb"), FIXTURES / "mini",
                               lambda by_id, data: by_id["TLNG-001"].update(effective_to="2025-01-01")))


def test_a_rule_past_its_end_date_is_silent_and_the_trace_says_when_it_ended(mini_ended):
    case = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C],
            "prior_therapies": [{"drugs": ["carboplatin"]}]}
    r = mini_ended.evaluate({**case, "as_of": "2026-01-01"})
    assert r.option("sotorasib") is None
    assert "TLNG-001: no longer in effect on 2026-01-01 (ended 2025-01-01)" in r.trace
    assert mini_ended.evaluate({**case, "as_of": "2024-12-31"}).option("sotorasib").verdict == "eligible"


def test_the_program_indexes_its_compiled_rules_by_id(mini):
    program = mini.program
    assert set(program.by_id) == {r.id for r in mini.rulebase.rules}
    for rid, cr in program.by_id.items():
        assert cr.rule.id == rid and program.rules[cr.order] is cr


def test_equal_leaves_share_one_atom_known_by_its_key_and_labelled_in_the_vocabularys_words(mini):
    program = mini.program
    for i, atom in enumerate(program.atoms):
        assert atom.index == i and program._atom_index[atom.key] == i
    # the FDA and EMA sotorasib rules state the same two leaves: they read the same two atoms
    fda, ema = (program.by_id[rid].when for rid in ("TLNG-001", "TLNG-002"))
    assert [k.i for k in fda.kids] == [k.i for k in ema.kids]
    assert len({a.key for a in program.atoms}) == len(program.atoms)
    # a drug class is named as the vocabulary names it
    assert "KRAS Y96D (acquired on a KRAS G12C inhibitor)" in [a.label for a in program.atoms]


# --------------------------------------------------------------------------- hand-built nodes

#: atom values of the hand-built context below: atom i reads values[i]
VALUES = (True, False, None, True)


def hand_ctx(values=VALUES, derivers=None) -> Ctx:
    """A context over atoms that read a tuple of values (atom i: ``values[i]``; when unknown it
    asks for "finding i"), with the given derivation rules (fact name -> rules with a ``when``)."""
    atoms = [SimpleNamespace(fn=lambda case, i=i: case[i], missing=lambda case, i=i: f"finding {i}", kind="test")
             for i in range(len(values))]
    plan = SimpleNamespace(derivers={name: [SimpleNamespace(when=w) for w in whens]
                                     for name, whens in (derivers or {}).items()})
    return Ctx(SimpleNamespace(atoms=atoms), values, plan)


def leaves(node, want, ctx=None) -> list:
    out: list = []
    node.leaves(ctx or hand_ctx(derivers={"f": [AtomNode(0)], "u": [AtomNode(2)]}), want, out)
    return out


def a(i):
    return ("atom", i)


def test_leaves_are_the_atoms_and_facts_whose_value_made_the_result():
    A = AtomNode
    # a leaf: itself when its value is the one wanted
    assert [leaves(A(0), w) for w in (True, False, None)] == [[a(0)], [], []]
    assert [leaves(A(2), w) for w in (True, False, None)] == [[], [], [a(2)]]
    assert [leaves(FactNode("f"), w) for w in (True, False, None)] == [[("fact", "f")], [], []]
    assert [leaves(FactNode("u"), w) for w in (True, False, None)] == [[], [], [("fact", "u")]]
    # all: every child's leaves of that value
    both = AllNode([A(0), A(1), A(2), A(3)])
    assert [leaves(both, w) for w in (True, False, None)] == [[a(0), a(3)], [a(1)], [a(2)]]
    # any: when true, only the first true branch is the reason; otherwise every child's
    assert leaves(AnyNode([A(1), A(0), A(3)]), True) == [a(0)]
    assert leaves(AnyNode([A(1), AllNode([A(0), A(3)]), A(3)]), True) == [a(0), a(3)]
    assert leaves(AnyNode([A(1), A(2), A(1)]), False) == [a(1), a(1)]
    assert leaves(AnyNode([A(1), A(2), A(1)]), None) == [a(2)]
    # not: the child's leaves of the opposite value (unknown stays unknown)
    assert [leaves(NotNode(A(1)), w) for w in (True, False, None)] == [[a(1)], [], []]
    assert [leaves(NotNode(A(0)), w) for w in (True, False, None)] == [[], [a(0)], []]
    assert leaves(NotNode(A(2)), None) == [a(2)]
    # unmet: true because its child is false or unknown (the leaves of both); false because its
    # child is known to hold (``not: {unmet: C}``, "C known to hold": C's true leaves); never unknown
    unmet = UnmetNode(AllNode([A(1), A(2), A(0)]))
    assert [leaves(unmet, w) for w in (True, False, None)] == [[a(1), a(2)], [], []]
    held = UnmetNode(AllNode([A(0), A(3)]))
    assert [leaves(held, w) for w in (True, False, None)] == [[], [a(0), a(3)], []]
    assert leaves(NotNode(held), True) == [a(0), a(3)]


def test_a_derived_fact_is_the_three_valued_any_of_its_rules_in_effect():
    derivers = {"yes": [AtomNode(1), AtomNode(0), AtomNode(2)], "unknown": [AtomNode(1), AtomNode(2)],
                "later": [AtomNode(2), AtomNode(3)], "no": [AtomNode(1)], "none": []}
    ctx = hand_ctx(derivers=derivers)
    assert ctx.fact("yes") is True
    assert ctx.atoms == [True, False, evaluator._UNSET, evaluator._UNSET]  # the first rule true decides
    names = ("yes", "unknown", "later", "no", "none", "not derived")
    assert [ctx.fact(n) for n in names] == [True, None, True, False, False, False]
    assert ctx.facts == dict(zip(names, [True, None, True, False, False, False], strict=True))


def test_a_cycle_of_facts_ends_and_names_what_is_missing_once():
    # check rejects a cycle of derived facts (V009); evaluation still ends: f from (g or atom 2), g from f
    ctx = hand_ctx(derivers={"f": [AnyNode([FactNode("g"), AtomNode(2)])], "g": [FactNode("f")]})
    assert ctx.fact("f") is None
    out: set[str] = set()
    FactNode("f").missing(ctx, out)
    assert out == {"finding 2"}
    out = set()
    AllNode([FactNode("g"), FactNode("f")]).missing(ctx, out)
    assert out == {"finding 2"}
    # facts that only derive each other are unknown
    ctx = hand_ctx(derivers={"f": [FactNode("g")], "g": [FactNode("f")]})
    assert (ctx.fact("f"), ctx.facts) == (None, {"f": None, "g": None})


def _pending_rule(rid, when, requires):
    """A stand-in for a compiled exclusion: requirement (node, stated missing text or None)."""
    return SimpleNamespace(rule=SimpleNamespace(id=rid, requires=[SimpleNamespace(missing=m) for _, m in requires]),
                           when=when, requires=tuple(n for n, _ in requires))


def test_a_pending_exclusion_is_missing_its_gate_and_its_unknown_requirements_each_its_own():
    ctx = hand_ctx((None, True, None, None))
    first = _pending_rule("R1", AtomNode(0), [(AtomNode(1), None), (AtomNode(2), None)])
    second = _pending_rule("R2", AtomNode(3), [(AtomNode(2), "the stated text")])
    assert pending_missing(first, ctx) == ("finding 0", "finding 2")  # the known requirement adds nothing
    assert pending_missing(second, ctx) == ("finding 3", "the stated text")
    assert pending_missing(first, ctx) == ("finding 0", "finding 2")


def test_the_facts_a_plan_reaches_through_facts_and_every_node_kind():
    def rule(when):
        return SimpleNamespace(when=when, requires=())

    derivers = {
        "f": [rule(AllNode([FactNode("g"), NotNode(FactNode("h"))]))],
        "g": [rule(AnyNode([AtomNode(0), UnmetNode(FactNode("i"))]))],
        "h": [rule(AtomNode(1))],
        "i": [rule(AtomNode(2))],
        "unused": [rule(FactNode("h"))],
    }
    reached = Program._facts_reached([rule(FactNode("f")), SimpleNamespace(when=AtomNode(0), requires=(FactNode("x"),))],
                                     derivers)
    assert reached == ("f", "g", "h", "i", "x")  # "x" no rule derives (false), still reported


def test_a_plan_that_cannot_be_compiled_is_interpreted(monkeypatch):
    eng = Engine(FIXTURES / "mini")
    case = eng.normalise({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C], "as_of": "2026-01-01"})
    want = infer(eng.program, case, compiled=False).outcomes

    def unsupported(plan, runtime, record=False, store=None):
        raise plancode.Unsupported("test")

    monkeypatch.setattr(plancode, "build", unsupported)
    got = infer(eng.program, case, compiled=True)
    assert got.outcomes == want and got.outcomes
    plan = eng.program.plan(case)
    assert plan.code.tried and plan.code.run is None
    # and so is a case recording its reads (engine.batch.reuse), which has a compiled function of its own
    ctx = Ctx(eng.program, case)
    ctx.trail = []
    got = infer(eng.program, case, compiled=True, ctx=ctx)
    assert got.outcomes == want and plan.code.rec_tried and plan.code.rec is None
    assert ctx.trail and all(isinstance(v, bool) or v is None for what, v in ctx.trail if type(what) is int)


def test_compiled_plan_functions_and_their_trace_lines_are_bounded_per_program():
    eng = Engine(FIXTURES / "mini")
    program = eng.program
    for k in range(evaluator.MAX_COMPILED):
        program._runs[("other", k)] = None
    for k in range(evaluator.MAX_SKIPS):
        program._skips[(k, None)] = ()
    case = eng.normalise({"cancer_type": "LUAD", "alterations": [G12C], "as_of": "2026-01-01"})
    inf = infer(program, case, compiled=True)
    assert len(program._runs) == 1 and program.plan(case).code.run is not None
    assert inf.skipped == ["TLNG-002: EMA rule, evaluating for FDA"] and len(program._skips) == 1


def test_once_compiled_a_plans_function_evaluates_its_cases():
    eng = Engine(FIXTURES / "mini")
    case = eng.normalise({"cancer_type": "LUAD", "alterations": [G12C], "as_of": "2026-01-01"})
    plan = eng.program.plan(case)
    want = infer(eng.program, case, compiled=True).outcomes
    calls = []
    run = plan.code.run

    def spy(ctx, c):
        calls.append(c)
        return run(ctx, c)

    plan.code.run = spy
    assert infer(eng.program, case).outcomes == want and calls == [case]
    assert infer(eng.program, case, compiled=False).outcomes == want and calls == [case]


def test_a_rules_outcome_reads_its_gate_when_not_given():
    # (check's verifier asks for outcomes without the gate's value)
    eng = Engine(FIXTURES / "mini")
    case = eng.normalise({"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C],
                          "prior_therapies": [{"drugs": ["carboplatin"]}], "as_of": "2026-01-01"})
    ctx = infer(eng.program, case, compiled=False).ctx
    cr = eng.program.by_id["TLNG-001"]
    assert rule_outcome(cr, ctx) == rule_outcome(cr, ctx, True) == RuleOutcome("TLNG-001", "eligible", True, (), ())
    assert rule_outcome(eng.program.by_id["TCRC-002"], ctx) is None  # its gate is false for LUAD
    # a context made without a plan reads the program's plan for the case
    alone = Ctx(eng.program, case)
    assert alone.plan is eng.program.plan(case) and rule_outcome(cr, alone) == rule_outcome(cr, ctx)


def test_a_plan_turns_hot_by_the_uses_of_its_own_rules(monkeypatch):
    monkeypatch.setattr(evaluator, "COMPILE_AFTER", 3)
    eng = Engine(FIXTURES / "mini")
    lung = eng.normalise({"cancer_type": "LUAD", "alterations": [G12C], "as_of": "2026-01-01"})
    bowel = eng.normalise({"cancer_type": "COADREAD", "alterations": [G12C], "as_of": "2026-01-01"})
    assert eng.program.plan(lung).signature() != eng.program.plan(bowel).signature()
    for _ in range(3):
        infer(eng.program, lung)
    infer(eng.program, bowel)
    assert eng.program.plan(bowel).code.run is None and eng.program.plan(lung).code.run is None
    infer(eng.program, lung)
    assert eng.program.plan(lung).code.run is not None and eng.program.plan(bowel).code.run is None
    # the use counts are bounded per program
    for k in range(evaluator.MAX_SKIPS - len(eng.program._uses)):
        eng.program._uses[("other", k)] = 1
    assert eng.program.hot(eng.program.plan(bowel)) is False
    assert eng.program._uses == {eng.program.plan(bowel).signature(): 2}


@pytest.fixture(scope="module")
def mini_out_of_scope(tmp_path_factory):
    """The mini rule base with the colorectal approval (TCRC-002) naming olaparib: in a colorectal
    case without KRAS G12C no rule names an anti-EGFR antibody, so the class-wide exclusion
    (TCRC-001, ordered before it) has no therapy in scope."""
    return Engine(edited_rules(tmp_path_factory.mktemp("rb"), FIXTURES / "mini",
                               lambda by_id, data: by_id["TCRC-002"]["conclude"].update(therapy="olaparib")))


def test_a_class_wide_rule_with_no_therapy_in_scope_does_not_stop_the_rules_after_it(mini_out_of_scope):
    eng = mini_out_of_scope
    case = eng.normalise({"cancer_type": "COADREAD", "tested_genes": ["KRAS"], "as_of": "2026-01-01"})
    for compiled in (False, True):
        inf = infer(eng.program, case, compiled=compiled)
        assert [cr.rule.id for cr in inf.ctx.plan.conclusions][:2] == ["TCRC-001", "TCRC-002"]
        assert {t: [(cr.rule.id, out.verdict) for cr, out in outs] for t, outs in inf.outcomes.items()} == {
            "olaparib": [("TCRC-002", "conditional")]}
        assert inf.in_scope == {"olaparib"}


def test_the_memo_of_trace_lines_is_bounded(mini_retired):
    cr = mini_retired.program.by_id["TLNG-001"]
    case = mini_retired.normalise({"cancer_type": "LUAD", "as_of": "2026-01-01"})
    kept = dict(evaluator._SKIP_LINES)
    try:
        evaluator._SKIP_LINES.clear()
        evaluator._SKIP_LINES.update({("filler", i): "" for i in range(100_000)})
        assert evaluator._not_in_effect(cr, case) == "TLNG-001: retired"
        assert len(evaluator._SKIP_LINES) == 100_001  # emptied only when over 100,000
        later = mini_retired.normalise({"cancer_type": "LUAD", "as_of": "2026-01-02"})
        assert evaluator._not_in_effect(cr, later) == "TLNG-001: retired"
        assert len(evaluator._SKIP_LINES) == 1
    finally:
        evaluator._SKIP_LINES.clear()
        evaluator._SKIP_LINES.update(kept)
