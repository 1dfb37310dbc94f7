"""What if? The differences between two evaluations (usually one case with one fact changed).

``changes`` lists the case fields that differ; ``facts`` the derived facts whose value changed;
``options`` every therapy whose verdict, evidence, OncoKB level, criteria or missing facts changed
(appearing or vanishing included), each with why in words; ``notes_gained`` and ``notes_lost`` the
notes of the result (a co-alteration's caution about immunotherapy, why an option is gone) that
appear or go. Comparing an evaluation with itself gives nothing.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.evaluation.resolve import ABSENT
from engine.result import EXCLUSION_CRITERION
from engine.semantics import POSITIVE
from engine.tutoring.short import fit


class FieldChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str = Field(description="the case field (top-level key of the case)")
    before: Any = Field(description="its value before (null: absent)")
    after: Any = Field(description="its value after (null: absent)")
    same: bool = Field(default=False, description="the two values mean the same to the engine, written differently "
                                                  "(a cancer type's code and its name, two spellings of a variant)")


class FactChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fact: str = Field(description="the derived fact's name")
    text: str = Field(description="the fact in words")
    before: bool | None = Field(description="value before (null: unknown)")
    after: bool | None = Field(description="value after (null: unknown)")


class CriterionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="the criterion's id")
    text: str = Field(description="the criterion in words")
    before: str | None = Field(description="status before (null: not reported)")
    after: str | None = Field(description="status after (null: not reported)")


class Side(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: str | None = Field(description="the option's verdict (null: no option)")
    evidence: str | None = Field(description="the option's evidence level")
    oncokb_level: str | None = Field(description="the option's OncoKB level")
    rule: str | None = Field(description="the deciding rule")


class OptionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    therapy: str = Field(description="therapy id")
    name: str = Field(description="display name")
    before: Side = Field(description="the option before")
    after: Side = Field(description="the option after")
    criteria: list[CriterionChange] = Field(description="criteria whose status changed")
    cautions_gained: list[str] = Field(default=[], description="texts of the cautions the option gained")
    cautions_lost: list[str] = Field(default=[], description="texts of the cautions the option lost")
    why: str = Field(description="what changed and why, in words")
    summary: str = Field(description="the change in at most 140 characters")


class NoteChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str = Field(description="the note rule")
    text: str = Field(description="the note")


class Comparison(BaseModel):
    """The differences between two evaluations; empty when they agree."""

    model_config = ConfigDict(extra="forbid")
    before_id: str = Field(description="case id of the first evaluation")
    after_id: str = Field(description="case id of the second evaluation")
    changes: list[FieldChange] = Field(description="case fields that differ")
    facts: list[FactChange] = Field(description="derived facts whose value changed")
    options: list[OptionChange] = Field(description="options whose verdict, level, criteria or missing facts changed")
    notes_gained: list[NoteChange] = Field(default=[], description="notes of the second evaluation the first has not "
                                                                   "(a note rule that now holds)")
    notes_lost: list[NoteChange] = Field(default=[], description="notes of the first evaluation the second has not")

    @property
    def empty(self) -> bool:
        """Whether the evaluations agree: no field changed but in its writing, and nothing else."""
        return not (any(not c.same for c in self.changes) or self.facts or self.options or self.notes_gained
                    or self.notes_lost)


def _side(o) -> Side:
    if o is None:
        return Side(verdict=None, evidence=None, oncokb_level=None, rule=None)
    return Side(verdict=o.verdict, evidence=o.evidence, oncokb_level=o.oncokb_level, rule=o.rules[0] if o.rules else None)


_WORD = {"met": "now met", "not_met": "now not met", "unknown": "now unknown"}
_CHECKED = {"met": "checked now, met", "not_met": "checked now, not met", "unknown": "checked now, unknown"}


def _change_words(c: CriterionChange) -> str:
    if c.after is None:
        if c.id.endswith(EXCLUSION_CRITERION) and c.before == "unknown":
            # a pending exclusion's criterion goes when its facts are known: it applies, and then
            # decides the option (the what-if names it as the rule deciding now, whose criteria
            # are shown instead), or it does not
            return "no longer in question (the exclusion is known not to apply)"
        return "no longer checked"
    if c.before is None and c.id.endswith(EXCLUSION_CRITERION):  # (an exclusion that now waits on a fact)
        return "now in question (whether it applies is unknown)"
    return (_WORD if c.before is not None else _CHECKED)[c.after]


def _criteria(answer, rules: list[str]) -> dict:
    """The criteria of ``rules`` in a why answer, by (kind, text): the option's own where the rule
    decides it (they include an exclusion that waits on a fact), the rule's answer otherwise."""
    out: dict = {}
    if answer is None:
        return out
    for rid in rules:
        if answer.in_result and answer.rules and answer.rules[0].rule == rid and answer.rules[0].decided:
            crits = answer.criteria
        else:
            crits = next((r.criteria for r in answer.rules if r.rule == rid), [])
        for c in crits:
            out.setdefault((c.kind, c.text), c)
    return out


def _other_change(xa, xb, skip: set) -> str:
    """The first rule about the therapy, other than ``skip``, whose criteria changed status from
    one answer to the other, with those changes in words ('' for none)."""
    for r in xa.rules:
        if r.rule in skip:
            continue
        after = next((q for q in xb.rules if q.rule == r.rule), None)
        if after is None:
            continue
        now = {(c.kind, c.text): c.status for c in after.criteria}
        changed = [f"{_quoted(c.text)}: {_WORD[now[(c.kind, c.text)]]}" for c in r.criteria
                   if (c.kind, c.text) in now and now[(c.kind, c.text)] != c.status]
        if changed:
            return f"For \u201c{r.title}\u201d: " + "; ".join(changed) + "."
    return ""


def _quoted(text: str) -> str:
    return f"\u201c{text}\u201d" if text.endswith(ABSENT) else text


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def compare(before_case: dict, after_case: dict, a, b, fact_words: dict[str, str], same=None) -> Comparison:
    """``a``/``b``: {therapy: TherapyAnswer} for every therapy of either result, plus the results;
    ``same(field)``, if given: whether the case's field means the same on both sides."""
    ra, rb_ = a["result"], b["result"]
    changes = []
    for k in sorted(set(before_case) | set(after_case)):
        if k == "id":
            continue
        if before_case.get(k) != after_case.get(k):
            changes.append(FieldChange(field=k, before=before_case.get(k), after=after_case.get(k),
                                       same=bool(same and same(k))))
    if ra.evaluated_as_of != rb_.evaluated_as_of and not any(c.field == "as_of" for c in changes):
        changes.append(FieldChange(field="as_of", before=ra.evaluated_as_of, after=rb_.evaluated_as_of))
    facts = []
    # (a fact is reported where a rule in effect reads it: one that only one side reports was not
    # evaluated on the other, which says nothing of its value there; it is not "unknown")
    for name in sorted(set(ra.facts) & set(rb_.facts)):
        x, y = ra.facts[name], rb_.facts[name]
        if x != y:
            facts.append(FactChange(fact=name, text=fact_words.get(name, name.replace("_", " ")), before=x, after=y))
    options = []
    for t in sorted(set(a["answers"]) | set(b["answers"])):
        xa, xb = a["answers"].get(t), b["answers"].get(t)
        oa, ob = ra.option(t), rb_.option(t)
        sa, sb = _side(oa), _side(ob)
        # the criteria of the rule that decides after (the same rule as before, or another), or,
        # where the option goes, of the rule that decided before: each read on both sides (a why
        # answer reads every rule that can decide the therapy), matched by what they say. A rule
        # that no longer decides is named as replaced, not checked criterion by criterion.
        decider = sb.rule if sb.rule is not None else sa.rule
        focus = [decider] if decider is not None else []
        ca, cb = _criteria(xa, focus), _criteria(xb, focus)
        crit = []
        for key in list(ca) + [k for k in cb if k not in ca]:
            x, y = ca.get(key), cb.get(key)
            if (x is None or y is None) and not (x or y).id.endswith(EXCLUSION_CRITERION):  # type: ignore[union-attr]
                continue  # (a verdict's own line, "given in combination with ...": the option's checklist only)
            if (x.status if x else None) != (y.status if y else None):
                crit.append(CriterionChange(id=(y or x).id, text=key[1], before=x.status if x else None,  # type: ignore[union-attr]
                                            after=y.status if y else None))
        miss_a, miss_b = (list(oa.missing) if oa else []), (list(ob.missing) if ob else [])
        # a caution gained or lost is often the lesson of a what-if (a co-mutation added)
        caut_a = [c.text for c in oa.cautions] if oa else []
        caut_b = [c.text for c in ob.cautions] if ob else []
        gained = [c for c in caut_b if c not in caut_a]
        # (an option no longer given, or excluded, has no cautions: its verdict is the news)
        lost = [c for c in caut_a if c not in caut_b] if ob is not None and ob.verdict in POSITIVE else []
        if sa == sb and not crit and miss_a == miss_b and not gained and not lost:
            continue
        name = (xb or xa).name
        verdict_a = sa.verdict.replace("_", " ") if sa.verdict else "no option"
        verdict_b = sb.verdict.replace("_", " ") if sb.verdict else "no option"
        parts = []
        if sa.verdict != sb.verdict:
            parts.append(f"{name}: {verdict_a} \u2192 {verdict_b}.")
        elif (sa.evidence, sa.oncokb_level) != (sb.evidence, sb.oncokb_level):
            parts.append(f"{name}: {sb.verdict}, evidence {sa.evidence} (OncoKB {sa.oncokb_level}) \u2192 {sb.evidence} (OncoKB {sb.oncokb_level}).")
        else:
            what = ["criteria changed"] if crit else []
            what += [f"{len(xs)} cautions {how}" if len(xs) > 1 else f"a caution {how}"
                     for xs, how in ((gained, "added"), (lost, "removed")) if xs]
            parts.append(f"{name}: still {verdict_b}" + (f", with {' and '.join(what)}." if what else "."))
        lead = ""
        if sb.rule is not None and sa.rule != sb.rule and ob is not None:
            # another rule decides: name it, and the date it holds from when the date changed
            title = next((r.title for r in (xb.rules if xb else []) if r.rule == sb.rule), sb.rule)
            dated = ra.evaluated_as_of != rb_.evaluated_as_of and ob.effective_from
            lead = f"Now decided by \u201c{title}\u201d" + (f", which holds from {ob.effective_from}" if dated else "") + "."
            parts.append(lead)
        if crit:
            # (a derived fact asked to be absent reads "KRAS G12C present: no": quoted before its status)
            parts.append(_capital("; ".join(f"{_quoted(c.text)}: {_change_words(c)}" for c in crit)) + ".")
        if ob is not None and miss_b and miss_a != miss_b:
            parts.append(f"To find out: {', '.join(miss_b)}"
                         + (f" (before: {', '.join(miss_a) or 'nothing'})." if oa is not None else "."))
        elif ob is not None and miss_a and not miss_b and not lead:
            parts.append(f"Nothing is left to find out (before: {', '.join(miss_a)}).")
        elif lead and ob is not None and ob.failed_criteria:
            # a new rule decides against the case: what it finds unmet, unchanged or not
            shown = {c.text for c in crit}
            rest = [f for f in ob.failed_criteria if f not in shown]
            if rest:
                parts.append(_capital("not met: " + "; ".join(rest)) + ".")
        parts.extend(f"Caution: {c}" for c in gained)
        parts.extend(f"No longer cautioned: {c}" for c in lost)
        if not crit and sa.verdict != sb.verdict and xa is not None and xb is not None:
            # none of the deciding rule's criteria changed: what changed is the case for another
            # rule about the therapy (a drug-class exclusion speaks only where a rule about the
            # therapy itself applies: BRAF tested negative takes encorafenib + cetuximab out of it)
            other = _other_change(xa, xb, {sa.rule, sb.rule})
            if other:
                parts.append(other)
        if ob is None and xb is not None and sa.rule is not None and not crit:
            # the option went and none of its rule's criteria changed: why the rule no longer
            # decides (it ended, or holds for another regulator, or speaks only beside another)
            gone = next((r for r in xb.rules if r.rule == sa.rule), None)
            if gone is not None and gone.reason:
                parts.append(f"\u201c{gone.title}\u201d {gone.reason}.")
        why = " ".join(p for p in parts if p)
        options.append(OptionChange(therapy=t, name=name, before=sa, after=sb, criteria=crit,
                                    cautions_gained=gained, cautions_lost=lost, why=why,
                                    summary=fit(" ".join(parts[:2]))))
    # a note is the lesson of many what-ifs (STK11 loss added to KRAS-mutant lung adenocarcinoma
    # changes no verdict, only the caution about PD-1 inhibitors): by rule and text
    na = [(n.rule, n.text) for n in ra.note_details]
    nb = [(n.rule, n.text) for n in rb_.note_details]
    return Comparison(before_id=ra.case_id, after_id=rb_.case_id, changes=changes, facts=facts, options=options,
                      notes_gained=[NoteChange(rule=r, text=t) for r, t in nb if (r, t) not in na],
                      notes_lost=[NoteChange(rule=r, text=t) for r, t in na if (r, t) not in nb])
