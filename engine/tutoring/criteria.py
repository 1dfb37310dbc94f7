"""A rule's criteria for one case, in words: the gate (``when``: which tumours the rule is about)
and the label criteria (``requires``), each ``met``, ``not_met`` or ``unknown``.

Text is for a student: cancer types by name, alterations by gene and variant, derived facts by the
title of the rule that derives them; never a rule id or a fact name (those are in ``facts`` and in
the structured fields around). ``case`` says what the case itself holds for the criterion.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.evaluator import AllNode, AnyNode, AtomNode, Ctx, FactNode, NotNode, UnmetNode, atom_label
from engine.rules_model import (
    AlterationCond,
    All,
    Any_,
    CancerCond,
    FactCond,
    Not,
    StageCond,
    Unmet,
)

Status = Literal["met", "not_met", "unknown"]
STATUS = {True: "met", False: "not_met", None: "unknown"}


class CriterionOut(BaseModel):
    """One criterion of a rule for one case."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="stable id: the rule id, 'gate' or 'label', and the criterion's position")
    text: str = Field(description="the criterion in plain words")
    kind: Literal["gate", "label"] = Field(description="gate: which tumours the rule is about; label: a criterion of the approval or evidence")
    status: Status = Field(description="whether the case meets it: met, not_met or unknown")
    facts: list[str] = Field(description="the case fields and derived facts the criterion reads (structured names)")
    case: str = Field(description="what the case holds for this criterion, in words ('' when nothing applies)")


def _cancer_words(codes, vocab) -> str:
    names = []
    for c in codes:
        try:
            names.append(f"{vocab.cancer_code(c).name} ({c})")
        except Exception:  # noqa: BLE001 - a code the vocabulary no longer knows: show it as is
            names.append(c)
    return " or ".join(names)


class Words:
    """Criteria texts for one program (memoised: they depend on the rule, never on the case)."""

    def __init__(self, program):
        self.program = program
        self.vocab = program.rb.vocab
        self._fact_titles: dict[str, str] = {}
        for cr in program.rules:
            if cr.rule.derive and cr.rule.derive not in self._fact_titles:
                self._fact_titles[cr.rule.derive] = cr.rule.title.split(" means ", 1)[0]

    def text(self, cond) -> str:
        if isinstance(cond, All):
            return " and ".join(self.text(c) for c in cond.all)
        if isinstance(cond, Any_):
            return "either " + " or ".join(self.text(c) for c in cond.any)
        if isinstance(cond, Not):
            return "not: " + self.text(cond.not_)
        if isinstance(cond, Unmet):
            return "not shown: " + self.text(cond.unmet)
        if isinstance(cond, FactCond):
            return self._fact_titles.get(cond.fact, cond.fact.replace("_", " "))
        if isinstance(cond, CancerCond):
            return _cancer_words(cond.cancer, self.vocab)
        if isinstance(cond, StageCond):
            return "stage " + " or ".join(s.replace("_", " ") for s in cond.stage)
        if isinstance(cond, AlterationCond):
            return atom_label(cond)
        return atom_label(cond)


def _fields(node, ctx: Ctx, out: list[str], depth: int = 0) -> None:
    if isinstance(node, AtomNode):
        name = {"cancer": "cancer_type", "alteration": "alterations", "stage": "stage",
                "germline_tested": "germline_tested"}.get(ctx.program.atoms[node.i].kind, "prior_therapies")
        if name not in out:
            out.append(name)
    elif isinstance(node, FactNode):
        if node.name not in out:
            out.append(node.name)
    elif isinstance(node, AllNode):
        for k in node.kids:
            _fields(k, ctx, out, depth)
    elif isinstance(node, NotNode):
        _fields(node.kid, ctx, out, depth)


def _atoms_under(node, ctx: Ctx, out: list[int], depth: int = 0) -> None:
    if isinstance(node, AtomNode):
        if node.i not in out:
            out.append(node.i)
    elif isinstance(node, FactNode):
        if depth < 8:
            for cr in ctx.program.derivers.get(node.name, ()):
                _atoms_under(cr.when, ctx, out, depth + 1)
    elif isinstance(node, AllNode):
        for k in node.kids:
            _atoms_under(k, ctx, out, depth)
    elif isinstance(node, NotNode):
        _atoms_under(node.kid, ctx, out, depth)


def _atom_case(i: int, ctx: Ctx) -> str:
    """What the case holds for one leaf condition, in words."""
    atom = ctx.program.atoms[i]
    case = ctx.case
    v = ctx.atom(i)
    if v is True:
        return atom.describe(case)
    kind = atom.kind
    if kind == "cancer":
        return f"{case.cancer.name} ({case.cancer.code})"
    if kind == "alteration":
        gene = atom.spec.alteration.gene
        found = [a.describe() for a in case.alterations if a.gene == gene]
        if found:
            return ", ".join(found)
        if v is False:
            return f"{gene} tested, no such change" if atom.spec.alteration.origin != "germline" else "germline testing found none"
        return f"unknown: {atom.missing(case)}"
    if kind == "stage":
        return f"stage {case.stage.replace('_', ' ')}" if case.stage else "unknown: stage"
    if kind == "germline_tested":
        return "unknown: germline testing" if case.germline_tested is None else ("germline testing done" if case.germline_tested else "no germline testing")
    if case.lines is None:
        return "unknown: prior therapy history"
    if not case.lines:
        return "no prior systemic therapy (treatment-naive)"
    return "prior " + "; ".join(ln.describe() for ln in case.lines)


def _case_words(node, ctx: Ctx) -> str:
    atoms: list[int] = []
    _atoms_under(node, ctx, atoms)
    seen: list[str] = []
    for i in atoms:
        w = _atom_case(i, ctx)
        if w and w not in seen:
            seen.append(w)
    return "; ".join(seen)


def rule_criteria(cr, ctx: Ctx, words: Words) -> list[CriterionOut]:
    """The gate and label criteria of one compiled rule for the case of ``ctx``."""
    rule = cr.rule
    if isinstance(rule.when, All) and isinstance(cr.when, AllNode) and not isinstance(cr.when, AnyNode):
        gates = list(zip(rule.when.all, cr.when.kids))
    else:
        gates = [(rule.when, cr.when)]
    out: list[CriterionOut] = []
    for i, (cond, node) in enumerate(gates):
        facts: list[str] = []
        _fields(node, ctx, facts)
        out.append(CriterionOut(id=f"{rule.id}/gate/{i}", text=words.text(cond), kind="gate",
                                status=STATUS[node.tv(ctx)], facts=facts, case=_case_words(node, ctx)))
    for i, (req, node) in enumerate(zip(rule.requires, cr.requires)):
        facts = []
        _fields(node, ctx, facts)
        out.append(CriterionOut(id=f"{rule.id}/label/{i}", text=req.criterion, kind="label",
                                status=STATUS[node.tv(ctx)], facts=facts, case=_case_words(node, ctx)))
    return out
