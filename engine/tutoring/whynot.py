"""Why (not) this therapy? An answer for every therapy of the catalogue, for one case.

A therapy in the result is explained by its option (verdict, explanation, criteria of the deciding
rule). A therapy no rule concluded about still gets an answer: every rule that could decide it is
looked at, and the answer names what keeps each one from applying (a gate not met, such as "a
different cancer type" or "no KRAS G12C", a date or a regulator), in words; the criteria shown are
those of the rule the case comes closest to.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from engine.conditions import UNKNOWN, join_words
from engine.evaluation.evaluator import Ctx, Inference, pending_missing
from engine.evaluation.resolve import ABSENT, KNOWN_TO_HOLD
from engine.result import Option, Verdict
from engine.semantics import STATUS_RANK, VERDICT_WORDS
from engine.tutoring.criteria import CriterionOut, option_criteria, rule_criteria
from engine.tutoring.short import fit

OFFER_RANK = {"eligible": 4, "conditional": 3, "consider": 2, "not_eligible": 1, "excluded": 0}


class RuleAnswer(BaseModel):
    """What one rule that can decide the therapy says for this case."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field(description="rule id")
    title: str = Field(description="the rule's title (it states the criterion)")
    concludes: str = Field(description="the verdict the rule gives when it applies")
    evidence: str = Field(description="the rule's evidence level")
    in_effect: bool = Field(description="whether the rule is in effect at the case's date and jurisdiction")
    outcome: Verdict | None = Field(description="the verdict this rule gave for the case (null: it did not conclude)")
    decided: bool = Field(description="whether this rule decided the therapy's option")
    reason: str = Field(description="in words: why the rule did or did not decide")
    criteria: list[CriterionOut] = Field(description="the rule's gate and label criteria for this case")


class TherapyAnswer(BaseModel):
    """The answer to "why (not) this therapy?" for one case."""

    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(description="the case's id")
    therapy: str = Field(description="therapy id from the catalogue")
    name: str = Field(description="display name of the therapy")
    drugs: list[str] = Field(description="lowercase generic drug names, sorted")
    in_result: bool = Field(description="whether the evaluation lists an option for this therapy")
    verdict: Verdict | None = Field(description="the option's verdict; null when no rule concluded about the therapy for this case")
    summary: str = Field(description="the answer in at most 140 characters")
    explanation: str = Field(description="the answer in full, for a student (rules and facts named in words, not by id)")
    criteria: list[CriterionOut] = Field(description="criteria of the deciding rule, or of the rule the case comes closest to")
    rules: list[RuleAnswer] = Field(description="every rule that can decide this therapy, deciding rule first")
    option: Option | None = Field(description="the option of the result, when there is one")


def _not_in_effect(cr, case, successor=None) -> str:
    """Why a rule says nothing at the case's date or for its regulator; for a rule that ended or
    was retired, the rule that took its place (``successor``: see :func:`_successor`), named."""
    r = cr.rule
    if r.status == "retired":
        return "the rule is retired" + (f", and \u201c{successor.rule.title}\u201d holds in its place" if successor else "")
    if cr.jurisdiction is not None and cr.jurisdiction != case.jurisdiction:
        # (when it holds there: the student learns the other regulator's date, not that a rule exists)
        when = (f", in effect there from {cr.start.isoformat()}" if cr.start <= case.as_of and (cr.end is None or case.as_of < cr.end)
                else f", in effect there from {cr.start.isoformat()} (after the evaluation date)" if case.as_of < cr.start
                else f", which ended there on {cr.end.isoformat()}")
        return f"it is an {cr.jurisdiction} rule{when}, and this evaluation is for {case.jurisdiction}"
    if case.as_of < cr.start:
        return f"it holds from {cr.start.isoformat()}, after the evaluation date {case.as_of.isoformat()}"
    # (``end`` is the first day the rule no longer holds: it may be the evaluation date itself)
    if case.as_of == cr.end:
        text = f"it ended on the evaluation date, {cr.end.isoformat()}"
    else:
        text = f"it ended on {cr.end.isoformat()}, before the evaluation date {case.as_of.isoformat()}"
    if successor is not None:
        text += f", and \u201c{successor.rule.title}\u201d holds from then"
    return text


def _successor(program, cr, case):
    """The rule that took the place of ``cr`` (its ``replaced_by``) once it ended or was retired,
    when that rule is in effect for the case (its date and regulator: the FDA approval that ended
    a trial option is not what an EU evaluation has in its place); else None."""
    r = cr.rule
    if not r.replaced_by or (r.status != "retired" and (cr.end is None or case.as_of < cr.end)):
        return None
    nxt = program.by_id.get(r.replaced_by)
    return nxt if nxt is not None and nxt.in_effect(case) else None


def _in_rule_time(cr, ctx: Ctx, made: dict) -> Ctx:
    """The case evaluated at a date and for a regulator where ``cr`` is in effect (its first day,
    or the last day before it ended), so that the criteria of a rule that does not apply read the
    case with the definitions that rule is written against. A derived fact whose definition
    holds from a later date than the case's (the germline BRCA fact from the first olaparib
    label) would otherwise read as not derived: a gate "not met" on a case that is not known to
    fail it. Only the rule's dates and regulator change; the case's facts are the same."""
    case = ctx.case
    day = case.as_of
    if day < cr.start:
        day = cr.start
    elif cr.end is not None and day >= cr.end:
        day = cr.end - dt.timedelta(days=1)
    where = cr.jurisdiction or case.jurisdiction
    key = (day, where)
    hit = made.get(key)
    if hit is None:
        if key == (case.as_of, case.jurisdiction):
            hit = ctx
        else:
            hit = Ctx(ctx.program, dataclasses.replace(case, as_of=day, jurisdiction=where))
        made[key] = hit
    return hit



def _gate_not_met(a) -> int:
    """How many gate criteria of a rule's answer the case does not meet."""
    return sum(c.status == "not_met" for c in a.criteria if c.kind == "gate")


def _label_not_met(a) -> int:
    """How many label criteria of a rule's answer the case does not meet, where its gate may hold
    (a rule about another population fails on its gate first: its label criteria say nothing)."""
    if _gate_not_met(a):
        return 0
    return sum(c.status == "not_met" for c in a.criteria if c.kind != "gate")

class WhyNot:
    """Answers for one program (one rule base)."""

    def __init__(self, program, catalogue):
        self.program = program
        self.catalogue = catalogue
        self.by_therapy: dict[str, list] = {}
        for cr in program.conclusions:
            for t in cr.targets:
                self.by_therapy.setdefault(t, []).append(cr)

    def answer(self, therapy: str, inf: Inference, result) -> TherapyAnswer:
        ctx: Ctx = inf.ctx
        case = ctx.case
        entry = self.catalogue.by_id[therapy]
        option = result.option(therapy)
        outcomes = {cr.rule.id: out for cr, out in inf.outcomes.get(therapy, ())}
        deciding = option.rules[0] if option is not None else None
        answers: list[RuleAnswer] = []
        in_scope = getattr(inf, "in_scope", None)
        dated: dict = {}
        waiting: set[str] = set()  # pending exclusions: they concluded nothing yet
        for cr in self.by_therapy.get(therapy, ()):
            rule = cr.rule
            live = cr.in_effect(case)
            if rule.id == deciding:
                crit = option_criteria(option, cr, ctx)
            elif live:
                crit = rule_criteria(cr, ctx)
            else:
                crit = rule_criteria(cr, _in_rule_time(cr, ctx, dated))
            out = outcomes.get(rule.id)
            if out is not None and in_scope is not None and getattr(cr, "selector", False) and therapy not in in_scope:
                out = None  # a class-wide conclusion outside the therapy's scope is not heard
            gate_not = [c for c in crit if c.kind == "gate" and c.status == "not_met"]
            label_not = [c for c in crit if c.kind != "gate" and c.status == "not_met"]
            if rule.id == deciding:
                reason = "decides the option"
            elif out is not None and getattr(out, "pending", False):
                waiting.add(rule.id)
                # (a pending outcome lists nothing itself: what its gate waits on is asked of the rule)
                miss = out.missing or pending_missing(cr, ctx)
                reason = (f"would conclude {VERDICT_WORDS[out.verdict]} if confirmed"
                          + (f"; to know, find out: {', '.join(miss)}" if miss else ""))
            elif out is not None:
                cons = next((c for c in option.considered if c.rule == rule.id), None) if option else None
                reason = f"concluded {VERDICT_WORDS[out.verdict]} but did not decide" + (f" ({cons.reason})" if cons else "")
            elif not live:
                reason = f"does not apply: {_not_in_effect(cr, case, _successor(self.program, cr, case))}"
                if cr.jurisdiction not in (None, case.jurisdiction) and cr.start <= case.as_of and (
                        cr.end is None or case.as_of < cr.end):
                    # another regulator's rule in effect there at this date: what it makes of the case
                    # (the student learns the approval is there and this case is in it, or not)
                    reason += "; there, " + (
                        "this case does not meet " + join_words([_crit_words(c) for c in gate_not + label_not], "and")
                        if gate_not or label_not else
                        "this case meets every criterion but what is not known" if any(c.status == "unknown" for c in crit)
                        else "this case meets every criterion")
            elif gate_not:
                reason = "does not apply: this case does not meet " + join_words([_crit_words(c) for c in gate_not], "and")
            elif label_not:
                reason = "does not apply: this case does not meet " + join_words([_crit_words(c) for c in label_not], "and")
            elif any(c.status == "unknown" for c in crit if c.kind == "gate"):
                open_gate = [c for c in crit if c.kind == "gate" and c.status == "unknown"]
                if all(c.text.endswith(KNOWN_TO_HOLD) for c in open_gate):
                    # silent by design until the condition is known (a BRAF option while BRAF is
                    # untested), unlike a rule whose unknown gate gives a conditional option
                    ask = [c.case.removeprefix(UNKNOWN) for c in open_gate if c.case]
                    reason = ("does not apply yet: it gives an option only once " + join_words(
                        [c.text[: -len(KNOWN_TO_HOLD)] for c in open_gate], "and") + " is confirmed, and the case "
                        "does not say" + (f" (to find out: {join_words(ask, 'and')})" if ask else ""))
                else:
                    reason = "does not decide: it is silent while it is unknown whether this case falls under it (" + join_words(
                        [c.text for c in open_gate], "and") + ")"
            elif getattr(cr, "selector", False):
                reason = (f"does not apply: it is about a whole drug class and speaks only where a rule about "
                          f"{entry.name} itself applies, and none does for this case")
            else:
                reason = "does not apply to this case"
            answers.append(RuleAnswer(
                rule=rule.id, title=rule.title, concludes=rule.conclude.verdict, evidence=rule.evidence,
                in_effect=live, outcome=out.verdict if out else None, decided=rule.id == deciding,
                reason=reason, criteria=crit,
            ))
        # the deciding rule first, then rules that concluded (a pending exclusion has not); then
        # the rule the case comes closest to: the fewest gate criteria not met (a trial option whose gate the case meets
        # before an approval for another cancer type; the colorectal exclusion of a label before
        # the label's tumour-agnostic rule that fails two gates), then a rule that would offer the
        # therapy (eligible, consider) before one that rules it out, a rule in effect before one
        # that is not, the stronger offer. A class-wide rule that did not conclude comes last: it
        # speaks only where a rule about the therapy itself applies, so it is never the closest;
        # nor is a retired rule (it says nothing at any date).
        selectors = {cr.rule.id for cr in self.by_therapy.get(therapy, ()) if getattr(cr, "selector", False)}
        retired = {cr.rule.id for cr in self.by_therapy.get(therapy, ()) if cr.rule.status == "retired"}
        status = {cr.rule.id: cr.rule.status for cr in self.by_therapy.get(therapy, ())}
        # another regulator's rule after this one's: under EMA, the EU authorisation not yet in
        # effect is the closest rule, not the FDA approval the evaluation cannot use
        foreign = {cr.rule.id for cr in self.by_therapy.get(therapy, ())
                   if cr.jurisdiction is not None and cr.jurisdiction != case.jurisdiction}
        answers.sort(key=lambda a: (not a.decided, a.outcome is None or a.rule in waiting, a.rule in retired,
                                    a.outcome is None and a.rule in selectors, a.rule in foreign,
                                    _gate_not_met(a),
                                    OFFER_RANK[a.concludes] < OFFER_RANK["consider"], not a.in_effect,
                                    -OFFER_RANK[a.concludes],
                                    # then, among rules whose gate the case may meet, the fewest label
                                    # criteria not met and a regular approval before an accelerated one
                                    # (as resolution ranks them)
                                    _label_not_met(a), -STATUS_RANK.get(status.get(a.rule, ""), 0) if not _gate_not_met(a) else 0,
                                    a.rule))
        if option is not None:
            top = answers[0] if answers and answers[0].decided else None
            return TherapyAnswer(
                case_id=case.id, therapy=therapy, name=entry.name, drugs=list(entry.drugs), in_result=True,
                verdict=option.verdict, summary=option.summary or fit(f"{entry.name}: {option.verdict}"),
                explanation=option.explanation, criteria=list(top.criteria) if top else [], rules=answers,
                option=option,
            )
        return self._no_option(entry, case, answers, result)

    def _no_option(self, entry, case, answers: list[RuleAnswer], result) -> TherapyAnswer:
        name = entry.name
        if not answers:
            text = f"No rule of the knowledge base concludes about {name}, for any case."
            return TherapyAnswer(case_id=case.id, therapy=entry.id, name=name, drugs=list(entry.drugs), in_result=False,
                                 verdict=None, summary=fit(f"{name}: no option. No rule concludes about it."),
                                 explanation=text, criteria=[], rules=[], option=None)
        top = answers[0]
        parts = [f"No rule gives an option for {name} in this case."]
        gate_not = [c for c in top.criteria if c.kind == "gate" and c.status == "not_met"]
        label_not = [c for c in top.criteria if c.kind != "gate" and c.status == "not_met"]
        if not top.in_effect:
            top_cr = self.program.by_id[top.rule]
            # (the rule in its place: in the explanation); a gate the case does not meet comes first,
            # whatever the date: "not in effect" alone reads as "an option once it is"
            short = ("not met: " + "; ".join(c.text for c in gate_not) + "; nor in effect on the evaluation date" if gate_not
                     else f"not in effect ({_not_in_effect(top_cr, case)})")
            parts.append(f"The closest rule, \u201c{top.title}\u201d, does not apply: {top.reason.removeprefix('does not apply: ')}"
                         + ("; nor does this case meet " + join_words([_crit_words(c) for c in gate_not], "and") if gate_not else "")
                         + ".")
            nxt = _successor(self.program, top_cr, case)
            # a rule ended with a note in its place: the note says why, where it applies to this case
            if (nxt is not None and top_cr.end is not None and nxt.rule.kind == "note"
                    and any(n.rule == nxt.rule.id for n in result.note_details)):
                parts.append(f"Since {top_cr.end.isoformat()}: {nxt.rule.note}")
        elif gate_not:
            short = "not met: " + "; ".join(c.text for c in gate_not)
            parts.append(f"The closest rule, \u201c{top.title}\u201d, is about tumours with "
                         + join_words([c.text for c in top.criteria if c.kind == "gate"], "and") + "; this case does not meet "
                         + join_words([_crit_words(c) for c in gate_not], "and") + ".")
        elif label_not:
            short = "not met: " + "; ".join(c.text for c in label_not)
            parts.append(f"The closest rule, \u201c{top.title}\u201d, needs " + join_words([_crit_words(c) for c in label_not], "and") + ".")
        else:
            short = top.reason.removeprefix("does not apply: ")
            parts.append(f"The closest rule, \u201c{top.title}\u201d, {top.reason}.")
        if all(any(c.kind == "gate" and c.status == "not_met" and "cancer_type" in c.facts for c in a.criteria)
               for a in answers):
            # no rule about it, at any date or for any regulator, is about this cancer type: the
            # use lies outside the knowledge base (BRAF V600E melanoma's own approvals), it is not
            # ruled out (as the colorectal exclusion of the tumour-agnostic label rules one out)
            parts.append(f"No rule of the knowledge base offers {name} for {case.cancer.name} ({case.cancer.code}): "
                         f"such a use, if there is one, is outside the knowledge base, not ruled out by it.")
        others = answers[1:4]
        if others:
            more = len(answers) - 1 - len(others)
            parts.append("Other rules about it: " + "; ".join(f"\u201c{a.title}\u201d {a.reason}" for a in others)
                         + (f"; and {more} more (see the rules listed)." if more else "."))
        return TherapyAnswer(
            case_id=case.id, therapy=entry.id, name=name, drugs=list(entry.drugs), in_result=False, verdict=None,
            summary=fit(f"{name}: no option, {short}"), explanation=" ".join(parts), criteria=list(top.criteria),
            rules=answers, option=None,
        )


def _crit_words(c: CriterionOut) -> str:
    # a derived fact asked to be absent reads "KRAS G12C present: no": quoted, so that "does not
    # meet" it is not a double negative
    text = f"\u201c{c.text}\u201d" if c.text.endswith(ABSENT) else c.text
    return f"{text} (the case: {c.case})" if c.case else text

