"""Explanations on demand, in plain words.

``Engine.evaluate`` decides a result at once and renders its prose (explanations, considered
reasons, summaries, notes, trace, facts) when first read, by ``Result.explain()`` or before any
serialisation. These tests check that

- the prose names rules by title and derived facts in words: no rule id of the rule base and no
  derived-fact name in an explanation, a summary, a considered reason or a note (they stay in the
  structured fields and in the trace);
- a result rendered late dumps to exactly the bytes of one rendered at once, on every example case
  and on generated cases, and so does one whose checklists, derivation chains and explanation
  outlines came from cases decided earlier (shared per plan and atom values) to one computed from
  nothing; those shared criteria are immutable, and the words of each case are its own;
- reading any text renders all of them, once, under concurrent readers too, and drops the case's
  evaluation state; copying, comparing, pickling and dumping render first;
- the TSV batch, which reads only decided fields, never renders.
"""
from __future__ import annotations

import copy
import gc
import json
import pickle
import re
import threading
import weakref
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel

from engine.evaluation import resolve
from engine.api import Engine, default_engine
from engine.batch.run import Processor
from engine.streams.codec import result_json
from engine.evaluation.evaluator import infer
from engine.evaluation.resolve import build_result
from engine.result import _PENDING, Result
from engine.testing import boundary_cases, cases

ENGINE = default_engine()
RB = ENGINE.rulebase
CASES = sorted((Path(__file__).resolve().parents[1] / "cases").glob("*.json"))
EXAMPLES = {p.stem: json.loads(p.read_text()) for p in CASES}

RULE_IDS = sorted({r.id for r in RB.rules}, key=len, reverse=True)
FACT_NAMES = sorted({r.derive for r in RB.rules if r.kind == "derivation" and r.derive}, key=len, reverse=True)
INTERNAL = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, RULE_IDS + FACT_NAMES)) + r")(?![\w-])")
GENERATED = max(3_000, settings().max_examples)


def internal_names(result) -> list[str]:
    """Every text shown to people that names a rule id or a derived fact, with what it names."""
    texts = list(result.notes)
    for o in result.options:
        texts += [o.explanation, o.summary] + [c.reason for c in o.considered]
    return [f"{m.group(1)} in {t!r}" for t in texts for m in [INTERNAL.search(t)] if m]


# A second engine on the same rule base, whose store of parts decided per plan and atom values
# (``_Static.decided``, ``_Static.skeleton``) is emptied before every case: what ENGINE, whose
# store stays warm across every case of this module, shares between cases must equal what is
# computed from nothing.
COLD = Engine(rulebase=RB)


def eager(case) -> str:
    """The result rendered at once, computed from nothing shared with earlier cases."""
    resolve._static(COLD.program)._plans.clear()
    norm = COLD.normalise(case)
    return build_result(infer(COLD.program, norm), summary=COLD.summaries().of).model_dump_json()


def pending(result) -> bool:
    return _PENDING.__get__(result, type(result)) is not None


def test_the_pattern_finds_the_internal_names():
    assert INTERNAL.search("Derived: kras_g12c=true (DER-003); so LNG-001 applies.")
    assert not INTERNAL.search("KRAS G12C present: yes; so \u201cAdagrasib for KRAS G12C NSCLC\u201d applies.")
    assert len(RULE_IDS) > 50 and "ras_mutant" in FACT_NAMES


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_case_prose_names_no_rule_id_or_fact_name_and_renders_late_as_at_once(name):
    case = EXAMPLES[name]
    lazy = ENGINE.evaluate(case)
    assert pending(lazy)
    assert lazy.to_json() == eager(case)
    assert internal_names(lazy) == []
    # the structured fields keep the ids the prose leaves out
    for o in lazy.options:
        assert o.rules and o.rules[0] in RB.by_id
        assert all(c.rule in RB.by_id for c in o.considered)
    assert all(n.rule in RB.by_id for n in lazy.note_details)


@pytest.mark.parametrize("name", ["luad-g12c-g12v-diagnosis-after-chemo-io", "crc-ras-untested",
                                  "crc-braf-v600e-ema-after-folfox", "crc-g12c-folfox-folfiri"])
def test_tutoring_answers_name_no_rule_id_or_fact_name(name):
    for ans in ENGINE.explain(EXAMPLES[name], include_all=True):
        assert not INTERNAL.search(ans.explanation), ans.explanation
        assert not INTERNAL.search(ans.summary), ans.summary
        for ra in ans.rules:
            assert not INTERNAL.search(ra.reason), ra.reason


@settings(max_examples=GENERATED, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases(ENGINE) | boundary_cases(ENGINE))
def test_generated_cases_render_late_as_at_once_in_plain_words(case):
    lazy = ENGINE.evaluate(case)
    assert result_json(lazy) == eager(case)  # the batch's fast writer renders first too
    assert internal_names(lazy) == []


def test_any_text_read_renders_every_text_once_and_drops_the_case_state():
    case = EXAMPLES["luad-g12c-g12v-diagnosis-after-chemo-io"]
    want = json.loads(eager(case))
    for read in (lambda r: r.options[0].explanation, lambda r: r.options[0].summary,
                 lambda r: next(c for o in r.options for c in o.considered).reason,
                 lambda r: r.trace, lambda r: r.notes, lambda r: r.facts, lambda r: r.explain()):
        r = ENGINE.evaluate(case)
        assert "explanation" not in r.options[0].__dict__ and "trace" not in r.__dict__
        renderer = _PENDING.__get__(r, type(r))
        read(r)
        assert renderer.inf is None and renderer.decided == [] and renderer.result is None  # all let go
        assert not pending(r) and not any(pending(o) for o in r.options)
        assert all(not pending(c) for o in r.options for c in o.considered)
        assert list(r.options[0].__dict__) == list(type(r.options[0]).model_fields)  # field order kept
        assert json.loads(r.to_json()) == want


def test_an_unread_result_is_freed_at_once_not_by_the_cycle_collector():
    """No reference cycle: a result dropped unrendered (the TSV batch) goes with its case state
    when its last reference goes, not when the cyclic garbage collector runs."""
    case = EXAMPLES["crc-braf-v600e-ema-after-folfox"]
    gc.collect()
    gc.disable()
    try:
        r = ENGINE.evaluate(case)
        gone = [weakref.ref(r), weakref.ref(r.options[0]), weakref.ref(_PENDING.__get__(r, type(r)).inf)]
        del r
        assert [w() for w in gone] == [None, None, None]
        r = ENGINE.evaluate(case)
        r.explain()
        gone = [weakref.ref(r), weakref.ref(r.options[0])]
        del r
        assert [w() for w in gone] == [None, None]
    finally:
        gc.enable()


def test_an_option_kept_alone_still_renders():
    case = EXAMPLES["crc-braf-v600e-ema-after-folfox"]
    want = json.loads(eager(case))["options"]
    r = ENGINE.evaluate(case)
    options = list(r.options)
    del r
    assert [json.loads(o.model_dump_json()) for o in options] == want


def test_explain_is_idempotent_and_returns_the_result():
    r = ENGINE.evaluate(EXAMPLES["crc-ras-untested"])
    assert r.explain() is r
    first = r.to_json()
    assert r.explain() is r and r.to_json() == first


def test_decided_fields_are_there_without_rendering():
    r = ENGINE.evaluate(EXAMPLES["crc-braf-v600e-ema-after-folfox"])
    decided = [(o.therapy, o.verdict, o.evidence, o.oncokb_level, tuple(o.rules), len(o.citations),
                tuple(o.missing), tuple((c.id, c.status) for c in o.criteria),
                tuple((c.rule, c.verdict, c.set_aside_by) for c in o.considered)) for o in r.options]
    assert pending(r)
    r.explain()
    assert decided == [(o.therapy, o.verdict, o.evidence, o.oncokb_level, tuple(o.rules), len(o.citations),
                        tuple(o.missing), tuple((c.id, c.status) for c in o.criteria),
                        tuple((c.rule, c.verdict, c.set_aside_by) for c in o.considered)) for o in r.options]


def test_copies_comparisons_pickles_and_dumps_render_first():
    case = EXAMPLES["crc-braf-v600e-ema-after-folfox"]
    want = eager(case)
    assert json.dumps(ENGINE.evaluate(case).model_dump(), separators=(",", ":"), ensure_ascii=False) == want
    assert ENGINE.evaluate(case).model_dump_json() == want
    assert pickle.loads(pickle.dumps(ENGINE.evaluate(case))).model_dump_json() == want
    assert ENGINE.evaluate(case).model_copy(deep=True).model_dump_json() == want
    assert copy.copy(ENGINE.evaluate(case)).model_dump_json() == want
    a, b = ENGINE.evaluate(case), ENGINE.evaluate(case)
    assert a == b and b == a.model_copy()
    one = ENGINE.evaluate(case).options[0]  # an option alone renders its whole result
    assert one.explanation == json.loads(want)["options"][0]["explanation"]
    assert "explanation=" in repr(ENGINE.evaluate(case).options[0])
    assert dict(ENGINE.evaluate(case))["trace"] == json.loads(want)["trace"]


def test_a_lazy_result_dumps_and_copies_as_the_validated_model_whatever_the_options():
    """Dump options reach pydantic as given (``exclude``, ``indent``, ``mode``, ``exclude_unset``:
    every field of a lazy result counts as set, as in the model validated from its JSON), and a
    deep copy keeps shared objects shared, as ``copy.deepcopy`` does: the citations two options
    hold, and an option copied along with its result."""
    case = EXAMPLES["crc-braf-v600e-ema-after-folfox"]
    want = Result.model_validate_json(eager(case))
    kw = dict(exclude={"trace": True, "options": {0: {"citations"}}}, indent=1)
    text = ENGINE.evaluate(case).model_dump_json(**kw)
    assert text == BaseModel.model_dump_json(want, **kw) and '"trace"' not in text and "\n " in text  # pydantic's own
    assert ENGINE.evaluate(case).model_dump(mode="json", exclude={"facts"}) == BaseModel.model_dump(want, mode="json", exclude={"facts"})
    r = ENGINE.evaluate(case)
    assert r.model_fields_set == want.model_fields_set == set(Result.model_fields)
    assert r.model_dump(exclude_unset=True) == want.model_dump(exclude_unset=True)
    shared = [(i, j) for i, o in enumerate(r.options) for j, c in enumerate(o.citations)
              if any(c is d for p in r.options[:i] for d in p.citations)]
    assert shared  # this case's options share citation objects
    r = ENGINE.evaluate(case)
    copied, option = copy.deepcopy([r, r.options[1]])
    assert option is copied.options[1] and copied.model_dump_json() == want.model_dump_json()
    for i, j in shared:
        c = copied.options[i].citations[j]
        assert c is not r.options[i].citations[j]
        assert any(c is d for p in copied.options[:i] for d in p.citations), (i, j)


def _read(r, barrier, got: list[str]) -> None:
    barrier.wait()
    got.append(r.options[-1].explanation + r.trace[0] + r.to_json())


def test_concurrent_readers_of_one_result_render_it_once():
    case = EXAMPLES["luad-g12c-second-line"]
    want = eager(case)
    calls = []
    real = resolve.Rendering._render

    def counting(self, inf):
        calls.append(1)
        return real(self, inf)

    resolve.Rendering._render = counting  # type: ignore[method-assign]
    try:
        for _ in range(20):
            r = ENGINE.evaluate(case)
            barrier = threading.Barrier(8)
            got: list[str] = []
            threads = [threading.Thread(target=_read, args=(r, barrier, got)) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(set(got)) == 1 and got[0].endswith(want)
    finally:
        resolve.Rendering._render = real  # type: ignore[method-assign]
    assert len(calls) == 20


def test_the_tsv_batch_never_renders(monkeypatch):
    calls = []
    real = resolve.Rendering._render
    monkeypatch.setattr(resolve.Rendering, "_render", lambda self, inf: (calls.append(1), real(self, inf))[1])
    records = [(p.name, p.read_text()) for p in CASES]
    for summary in (False, True):
        tsv = Processor(ENGINE, "tsv", summary=summary)
        out = [tsv(source, payload) for source, payload in records]
        assert all(not failed for _, _, failed in out)
        assert calls == []
    json_out = Processor(ENGINE, "json")
    rows = [json_out(source, payload)[0] for source, payload in records]
    # the JSON path renders each result once, except those whose record is reused
    # (engine.batch.reuse: two example cases differ only in their id)
    assert json_out.reuse.total_reused > 0
    assert len(calls) == len(records) - json_out.reuse.total_reused
    assert rows[0] == eager(json.loads(records[0][1])) + "\n"


def test_parts_shared_between_cases_are_immutable_and_each_case_keeps_its_own_words():
    # two colorectal cases alike in every atom the G12C combination reads (so they share its
    # checklist, chain and outline), told with different regimens: each explanation names its own
    a = {**EXAMPLES["crc-g12c-folfox-folfiri"], "id": "a"}
    b = json.loads(json.dumps(a))
    b["id"] = "b"
    b["prior_therapies"][0]["regimen"] = "CAPOX"
    ra, rb = ENGINE.evaluate(a), ENGINE.evaluate(b)
    oa, ob = ra.option("adagrasib+cetuximab"), rb.option("adagrasib+cetuximab")
    assert oa is not None and ob is not None and oa.verdict == ob.verdict == "eligible"
    assert oa.criteria == ob.criteria and oa.criteria[0] is ob.criteria[0]  # shared, not copied
    case_a, case_b = oa.explanation.split(". ", 1)[0], ob.explanation.split(". ", 1)[0]  # "Case: ..."
    assert case_a.startswith("Case: ") and case_b.startswith("Case: ")
    assert "FOLFOX" in case_a and "CAPOX" not in case_a
    assert "CAPOX" in case_b and "FOLFOX" not in case_b
    with pytest.raises(ValueError):  # pydantic's ValidationError: the model is frozen
        oa.criteria[0].status = "not_met"
    assert isinstance(oa.criteria[0].facts, tuple)
    # the option's lists are its own: changing one result's list leaves the next result alone
    oa.criteria.clear()
    oa.citations.clear()
    again = ENGINE.evaluate(a).option("adagrasib+cetuximab")
    assert again is not None and again.criteria == ob.criteria and again.citations == ob.citations


def test_an_unknown_gate_is_not_explained_as_if_the_biomarker_were_there():
    """With KRAS untested, the lung approvals are conditional on KRAS testing: the explanation
    says whether the rule applies depends on what is missing, not the rule's sentence for a case
    known to carry G12C; the resistance exclusions waiting on the same test are one sentence.
    With G12C known and the stage missing, the rule's own sentence for that case is used."""
    eng = ENGINE
    # (after a G12C inhibitor: the exclusions for alleles acquired on one wait on KRAS testing too;
    # after chemotherapy alone nothing can have been acquired on one, and only LNG-005 waits)
    chemo = {"cancer_type": "LUAD", "stage": "metastatic", "tested_genes": ["EGFR", "ALK"],
             "prior_therapies": [{"regimen": "carboplatin/pemetrexed"}], "as_of": "2026-07-01"}
    assert [c.id for c in eng.evaluate(chemo).option("sotorasib").criteria if c.id.endswith("/exclusion")] == [
        "LNG-005/exclusion"]
    # (progression on adagrasib: not eligible, KRAS testing or not: its evidence does not reach such a
    # tumour; how the adagrasib line ended not given: the verdict waits on it and on KRAS testing)
    progressed = {**chemo, "prior_therapies": [{"regimen": "carboplatin/pemetrexed"},
                                               {"drugs": ["adagrasib"], "outcome": "progression"}]}
    opt = eng.evaluate(progressed).option("sotorasib")
    assert opt.verdict == "not_eligible" and "Criteria not met: no progression on a KRAS G12C inhibitor" in opt.explanation
    untested = {**chemo, "prior_therapies": [{"regimen": "carboplatin/pemetrexed"}, {"drugs": ["adagrasib"]}]}
    opt = eng.evaluate(untested).option("sotorasib")
    assert opt.verdict == "conditional" and opt.missing == ["KRAS testing", "how prior therapy 2 (adagrasib) ended"]
    title = eng.rulebase.by_id[opt.rules[0]].title
    assert f"Whether \u201c{title}\u201d applies to this case depends on what is missing." in opt.explanation
    assert "for this KRAS G12C" not in opt.explanation
    pending = [c.id.split("/")[0] for c in opt.criteria if c.id.endswith("/exclusion")]
    assert len(pending) >= 2
    sentences = re.findall(r"Would be excluded by (.*?) if confirmed; to know, find out: ([^.]*)\.", opt.explanation)
    assert len(sentences) == 1 and sentences[0][1] == "KRAS testing"
    for rid in pending:
        assert f"\u201c{eng.rulebase.by_id[rid].title}\u201d" in sentences[0][0]
    g12c = {k: v for k, v in untested.items() if k != "stage"} | {
        "alterations": [{"gene": "KRAS", "variant": "G12C"}], "tested_genes": ["KRAS"]}
    opt = eng.evaluate(g12c).option("sotorasib")
    assert opt.verdict == "conditional" and "depends on what is missing" not in opt.explanation
    assert " ".join(eng.rulebase.by_id[opt.rules[0]].explain.unknown.split()) in opt.explanation


def test_the_case_line_names_what_the_case_holds_where_the_gate_is_unknown():
    """Lung cancer without a histology, KRAS G12C: the NSCLC approvals are conditional on the
    subtype, and the Case line says what the case holds there (its cancer type, not known to be
    the one the rule names) before the facts that are known. A gene not tested holds nothing:
    "Cannot decide without" names it, and the Case line does not repeat it."""
    case = {"cancer_type": "lung cancer", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "tested_genes": ["KRAS"], "prior_therapies": [{"regimen": "carboplatin/pemetrexed", "outcome": "progression"}],
            "as_of": "2026-07-01"}
    opt = ENGINE.evaluate(case).option("sotorasib")
    assert opt.verdict == "conditional" and opt.missing == ["cancer subtype (histology)"]
    assert opt.explanation.startswith("Case: LUNG (Lung), not known to be cancer type NSCLC; KRAS G12C; stage metastatic;")
    untested = {"cancer_type": "COADREAD", "stage": "metastatic", "as_of": "2026-07-01"}
    opt = ENGINE.evaluate(untested).option("adagrasib+cetuximab")
    assert opt.verdict == "conditional" and "KRAS testing" in opt.missing
    case_line = opt.explanation.split(". ")[0]
    assert case_line.startswith("Case: COADREAD") and "KRAS" not in case_line and "unknown" not in case_line


def test_a_regulatory_status_is_written_in_the_regulators_words():
    """The EU's counterpart of an FDA accelerated approval is a conditional marketing
    authorisation (``approval_words`` in rules/meta.yaml): the explanation says so."""
    case = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "prior_therapies": [{"regimen": "carboplatin/pemetrexed", "outcome": "progression"}], "as_of": "2026-10-01"}
    us = ENGINE.evaluate(case).option("sotorasib")
    eu = ENGINE.evaluate(case | {"jurisdiction": "EMA"}).option("sotorasib")
    assert us.status == eu.status == "accelerated"  # (the structured field keeps the model's word)
    assert "(FDA accelerated approval; the rule holds from 2021-05-28.)" in us.explanation
    assert "(EMA conditional marketing authorisation; the rule holds from 2022-01-06.)" in eu.explanation
    assert "EMA accelerated approval" not in eu.explanation
