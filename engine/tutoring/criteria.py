"""A rule's criteria for one case, in words: the gate (``when``: which tumours the rule is about)
and the label criteria (``requires``), each ``met``, ``not_met`` or ``unknown``.

The ids and texts are those of the options' checklists (``Option.criteria``, built by
:mod:`engine.evaluation.resolve`): cancer types by name, alterations by gene and variant, derived facts by
the title of the rule that derives them; never a rule id or a fact name (those are in ``facts``).
Here each criterion also says what the case itself holds for it (``case``), and criteria can be
had for any rule, also one that gave no option (for "why not").
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.conditions import KINDS
from engine.evaluation.evaluator import AllNode, AnyNode, AtomNode, Ctx, FactNode, NotNode, UnmetNode
from engine.result import EXCLUSION_CRITERION

Status = Literal["met", "not_met", "unknown"]
STATUS: dict[bool | None, Status] = {True: "met", False: "not_met", None: "unknown"}


class CriterionOut(BaseModel):
    """One criterion of a rule for one case."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="stable id: '<rule>/gate/<n>', '<rule>/requires/<n>', '<rule>/exclusion' or '<rule>/verdict'")
    text: str = Field(description="the criterion in plain words")
    kind: Literal["gate", "label", "population"] = Field(
        description="gate: which tumours the rule is about; label: a criterion of the approval or evidence; population: "
                    "a criterion an approval's rule adds from the population its evidence comes from (a trial's), "
                    "beyond the label's words")
    status: Status = Field(description="whether the case meets it: met, not_met or unknown")
    facts: list[str] = Field(description="the case fields and derived facts the criterion reads (structured names)")
    case: str = Field(description="what the case holds for this criterion, in words ('' when nothing applies)")




def _atoms_under(node, ctx: Ctx, out: list[int], depth: int = 0) -> None:
    """The leaves behind ``node`` whose case words say why it has its value: of an ``any`` that
    holds (or is unknown), the branches that hold (are unknown), not those that fail beside them
    (a germline BRCA2 variant, not "no germline BRCA1"); likewise the derivations of a fact."""
    if isinstance(node, AtomNode):
        if node.i not in out:
            out.append(node.i)
    elif isinstance(node, FactNode):
        if depth < 8:
            rules = ctx.program.derivers.get(node.name, ())
            v = ctx.fact(node.name) if node.name in ctx.plan.derivers else None
            if v is not False:
                rules = [cr for cr in rules if cr.when.tv(ctx) is v] or rules
            for cr in rules:
                _atoms_under(cr.when, ctx, out, depth + 1)
    elif isinstance(node, AnyNode):
        v = node.tv(ctx)
        kids = node.kids if v is False else [k for k in node.kids if k.tv(ctx) is v] or node.kids
        for k in kids:
            _atoms_under(k, ctx, out, depth)
    elif isinstance(node, AllNode):
        for k in node.kids:
            _atoms_under(k, ctx, out, depth)
    elif isinstance(node, NotNode):
        _atoms_under(node.kid, ctx, out, depth)


def _atom_case(i: int, ctx: Ctx) -> str:
    """What the case holds for one leaf condition, in words (as its kind words it)."""
    atom = ctx.program.atoms[i]
    return KINDS[atom.kind].case_words(atom, ctx.case, ctx.atom(i))


def _case_words(node, ctx: Ctx) -> str:
    atoms: list[int] = []
    _atoms_under(node, ctx, atoms)
    seen: list[str] = []
    for i in atoms:
        w = _atom_case(i, ctx)
        if w and w not in seen:
            seen.append(w)
    return "; ".join(seen)


def rule_criteria(cr, ctx: Ctx) -> list[CriterionOut]:
    """The gate and label criteria of one compiled rule for the case of ``ctx``: the texts and ids
    of the options' own checklists (:mod:`engine.evaluation.resolve`), with each status and what the case
    holds."""
    from engine.evaluation.resolve import _static

    out = []
    for cid, text, kind, node, facts in _static(ctx.program).criteria_of(cr):
        out.append(CriterionOut(id=cid, text=text, kind=kind, status=_status(node, ctx), facts=list(facts),
                                case=_case_words(node, ctx)))
    return out


def _status(node, ctx: Ctx) -> Status:
    """A criterion's status for the case. A condition that must be known to hold ("KRAS G12C
    present (confirmed)": ``not: {unmet: C}``) is false while C is unknown, and the rule is
    silent; to a reader that is a question testing would answer, so it is shown as unknown."""
    v = node.tv(ctx)
    if v is False and type(node) is NotNode and type(node.kid) is UnmetNode and node.kid.kid.tv(ctx) is None:
        return "unknown"
    return STATUS[v]


def option_criteria(option, cr, ctx: Ctx) -> list[CriterionOut]:
    """An option's checklist (``option.criteria``) with what the case holds for each criterion."""
    words = {c.id: c.case for c in rule_criteria(cr, ctx)} if cr is not None else {}
    for c in option.criteria:
        if c.id.endswith(EXCLUSION_CRITERION):  # an exclusion waiting on a fact: what the case holds for its gate
            excluding = ctx.program.by_id.get(c.id[: -len(EXCLUSION_CRITERION)])
            if excluding is not None:
                words[c.id] = _case_words(excluding.when, ctx)
    return [CriterionOut(id=c.id, text=c.text, kind=c.kind, status=c.status, facts=list(c.facts),
                         case=words.get(c.id, "")) for c in option.criteria]
