"""Candidacy for multiagent systemic therapy: the case field, its condition kind, the label route
it opens (daraxonrasib, PAN-007) and its dimension in ``check``'s abstract domain."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import Engine
from engine.case import parse_case
from engine.conditions import KINDS, FieldDimension, MultiagentCandidateCond
from engine.errors import CaseError
from engine.verify.domain import Domain as _Domain, Unit as _Unit, witness

from conftest import REPO, edited_rules

RULES = REPO / "rules"

PDAC = {"cancer_type": "PDAC", "stage": "metastatic", "germline_tested": True, "as_of": "2026-10-01"}
MISSING = "whether the patient is a candidate for multiagent systemic therapy"


def daraxonrasib(engine, **case):
    return engine.evaluate({**PDAC, **case}).option("daraxonrasib")


@pytest.mark.parametrize("stated, want", [(None, None), (True, True), (False, False)])
def test_the_condition_is_three_valued_and_unknown_when_the_case_is_silent(engine, stated, want):
    kind = KINDS["multiagent_candidate"]
    case = {**PDAC, **({} if stated is None else {"multiagent_candidate": stated})}
    normal = engine.normalise(case)
    _key, fn, missing, _describe = kind.build(MultiagentCandidateCond(multiagent_candidate=True), engine.rulebase.vocab)
    assert fn(normal) is want
    _key, fn_not, _m, _d = kind.build(MultiagentCandidateCond(multiagent_candidate=False), engine.rulebase.vocab)
    assert fn_not(normal) is (None if want is None else not want)
    assert missing(normal) == MISSING


def test_untreated_pdac_with_candidacy_not_stated_is_conditional_naming_it(engine):
    opt = daraxonrasib(engine, prior_therapies=[])
    assert opt.verdict == "conditional"
    assert opt.missing == [MISSING]


def test_untreated_pdac_not_a_candidate_is_eligible(engine):
    assert daraxonrasib(engine, prior_therapies=[], multiagent_candidate=False).verdict == "eligible"


def test_not_a_candidate_is_eligible_whatever_the_number_of_prior_lines(engine):
    assert daraxonrasib(engine, multiagent_candidate=False, prior_therapies=[]).verdict == "eligible"
    treated = [{"regimen": "FOLFIRINOX", "setting": "metastatic", "outcome": "progression"}]
    assert daraxonrasib(engine, multiagent_candidate=False, prior_therapies=treated).verdict == "eligible"
    # the history not given: whether the cancer progressed on a RAS(ON) inhibitor is unknown, never no
    unknown = daraxonrasib(engine, multiagent_candidate=False)
    assert (unknown.verdict, unknown.missing) == (
        "conditional", ["prior therapy history (did the cancer progress on a RAS(ON) inhibitor given before?)"])


def test_only_a_candidate_without_prior_therapy_is_not_eligible(engine):
    assert daraxonrasib(engine, prior_therapies=[], multiagent_candidate=True).verdict == "not_eligible"
    treated = [{"regimen": "FOLFIRINOX", "setting": "metastatic", "outcome": "progression"}]
    assert daraxonrasib(engine, prior_therapies=treated, multiagent_candidate=True).verdict == "eligible"


def test_history_unknown_and_candidacy_unknown_names_both(engine):
    opt = daraxonrasib(engine)
    assert opt.verdict == "conditional"
    assert MISSING in opt.missing and any("prior therapy" in m for m in opt.missing)


def test_candidacy_never_matters_before_the_approval_or_outside_pancreatic_cancer(engine):
    before = {"as_of": "2026-08-25", "prior_therapies": []}
    assert daraxonrasib(engine, multiagent_candidate=False, **before) == daraxonrasib(engine, **before)
    lung = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "prior_therapies": [], "as_of": "2026-10-01"}
    assert engine.evaluate({**lung, "multiagent_candidate": False}).options == engine.evaluate(lung).options


@pytest.mark.parametrize("value, suggestion", [("no", "false"), ("yes", "true"), (0, "false"), ("maybe", None)])
def test_only_json_booleans_are_read(value, suggestion):
    with pytest.raises(CaseError) as info:
        parse_case({**PDAC, "multiagent_candidate": value})
    p = info.value.problems[0]
    assert p.path == ("multiagent_candidate",) and p.suggestion == suggestion


def _pan_007_alone(parent: Path) -> Path:
    """The shipped rules with only PAN-007 and the derivations (a domain of a few genes, built
    in a second)."""
    def keep(_by_id: dict, data: dict) -> None:
        data["rules"] = [r for r in data["rules"] if r["id"] == "PAN-007" or r["kind"] == "derivation"]

    dst = edited_rules(parent, RULES, keep)
    for ledger in ("verification.yaml", "ids.yaml"):  # they name the rules left out
        (dst / ledger).unlink()
    return dst


def test_check_enumerates_candidacy_from_the_registry_and_its_witnesses_reproduce(tmp_path):
    engine = Engine(_pan_007_alone(tmp_path))
    program = engine.program
    dom = _Domain(program)
    dims = {fd.field: (fd, d) for fd, d in dom.fields}
    fd, dim = dims["multiagent_candidate"]
    assert isinstance(fd, FieldDimension) and dim.values == [None, True, False]
    assert dim.atoms and all(program.atoms[i].kind == "multiagent_candidate" for i in dim.atoms)
    rules = [cr for cr in program.rules if cr.rule.id == "PAN-007"]
    unit = _Unit(dom, set(), rules)
    k = [name for name, _ in unit.dims].index("multiagent_candidate")
    assert unit.dims[k][1] == [None, True, False]
    sl = next(s for g in unit.groups for live, s in g if live[0])
    seen: dict = {(v, on): set() for v in (None, True, False) for on in (False, True)}
    for prof in unit.profiles():
        value = prof[1][k - 1]
        case = witness(dom, prof, sl)
        assert case.get("multiagent_candidate") is value  # absent when unknown
        normal = dom.case(*prof, sl)
        if normal.stage == "metastatic" and "PAAD" in normal.lineage:
            on = any("ras_on_inhibitor" in ln.classes for ln in normal.lines or ())  # a RAS(ON) inhibitor given before
            seen[(value, on)].add(engine.evaluate(case).option("daraxonrasib").verdict)
    assert seen[(False, False)] == {"eligible", "conditional"}  # the second route: whatever the lines (the history unknown: asked) ...
    assert seen[(False, True)] == {"eligible", "not_eligible", "conditional"}  # ... but progression on a RAS(ON) inhibitor
    assert seen[(True, False)] == {"eligible", "not_eligible", "conditional"}  # treated, untreated, history unknown
    assert {"eligible", "conditional"} <= seen[(None, False)]


def test_every_condition_kind_tells_check_how_it_enters_the_domain():
    """A kind is a FieldDimension (one scalar case field) or belongs to a structured dimension
    whose hook reports what that dimension is built from: with this, check needs no edit for a
    new kind."""
    hooks = {"cancer": "domain", "gene": "domain", "history": "history"}
    for key, kind in KINDS.items():
        if isinstance(kind.dimension, FieldDimension):
            assert kind.dimension.values[0] is None and len(set(kind.dimension.values)) == len(kind.dimension.values), key
        else:
            assert kind.dimension in hooks, key
            assert getattr(kind, hooks[kind.dimension]) is not None, key
