"""Resolution: from the rules' outcomes to one option per therapy, with explanations.

Shared by every backend. For each therapy: explicit precedence (``overrides``) first, then the
strongest outcome decides (verdict, then evidence, then rule id); the rest are kept as
``considered``. The explanation names the case facts that mattered, the chain of derived facts,
the rule's sentence for a learner, failed criteria, missing data and any precedence applied.
"""
from __future__ import annotations

from functools import lru_cache

from engine.evaluator import CompiledRule, Ctx, Inference, RuleOutcome
from engine.result import CitationOut, Considered, NoteOut, Option, Result
from engine.rules_model import DEFAULT_ONCOKB

VERDICT_RANK = {"excluded": 5, "eligible": 4, "conditional": 3, "not_eligible": 2, "consider": 1}
EVIDENCE_RANK = {
    "approved": 4,
    "resistance_standard": 4,
    "phase3": 3,
    "clinical": 2,
    "resistance_clinical": 2,
    "preclinical": 1,
    "resistance_preclinical": 1,
}


def strength(cr: CompiledRule, out: RuleOutcome) -> tuple:
    """Which outcome decides a therapy when no explicit precedence does: verdict, then evidence,
    then the lower rule id (the one definition, used by resolution and by ``check``)."""
    return (VERDICT_RANK[out.verdict],) + _rule_rank(cr.rule.evidence, cr.rule.id)


@lru_cache(maxsize=None)
def _rule_rank(evidence: str, rule_id: str) -> tuple:
    # lower ids win ties: invert character codes so that max() prefers them
    return (EVIDENCE_RANK[evidence],) + tuple(-ord(ch) for ch in rule_id)


class _Static:
    """Per-program constants of the output (built once: citations, drug lists, levels)."""

    def __init__(self, program):
        rb = program.rb
        self.cites = {cr.rule.id: [
            CitationOut.fast(source=c.source, title=rb.sources[c.source].title, section=c.section, quote=c.quote,
                             rule=cr.rule.id)
            for c in cr.rule.citations
        ] for cr in program.rules}
        self.drugs = {t: sorted(rb.vocab.drug(d).name for d in th.drugs) for t, th in rb.therapies.items()}
        self.level = {
            cr.rule.id: cr.rule.conclude.oncokb_level or DEFAULT_ONCOKB[cr.rule.evidence] for cr in program.conclusions
        }
        self.since = {cr.rule.id: cr.rule.effective_from.isoformat() for cr in program.rules}


def _static(program) -> _Static:
    st = program.__dict__.get("_output_static")
    if st is None:
        st = program._output_static = _Static(program)
    return st


def _described(node, ctx: Ctx, want, depth: int = 0) -> tuple[list[str], list[str], list[CompiledRule]]:
    """The case facts behind ``node`` having value ``want``: atoms in words, and derived facts as
    the chain of derivation rules that produced them. Cached per case and node."""
    key = (id(node), want)
    hit = ctx.memo.get(key)
    if hit is not None:
        return hit
    texts: list[str] = []
    chain: list[str] = []
    rules: list[CompiledRule] = []
    leaves: list = []
    node.leaves(ctx, want, leaves)
    prog = ctx.program
    for kind, ref in leaves:
        if kind == "atom":
            atom = prog.atoms[ref]
            v = ctx.atom(ref)
            if v is True:
                texts.append(atom.describe(ctx.case))
            elif v is False:
                texts.append(("no " if atom.kind == "alteration" else "not ") + atom.label)
            continue
        v = ctx.fact(ref)
        if v is None or depth > 8:
            continue
        for cr in ctx.plan.derivers.get(ref, ()):
            if cr.when.tv(ctx) is not v:
                continue
            t, c, r = _described(cr.when, ctx, v, depth + 1)
            texts.extend(t)
            chain.extend(c)
            rules.extend(r)
            rules.append(cr)
            chain.append(f"{ref}={'true' if v else 'false'} ({cr.rule.id})")
            break
    hit = ctx.memo[key] = (texts, chain, rules)
    return hit


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for i in items:
        if i and i not in seen:
            seen.add(i)
            out.append(i)
    return out


def _explain_core(cr: CompiledRule, out: RuleOutcome, ctx: Ctx) -> tuple[str, list[str], list[CitationOut]]:
    """The explanation of one rule's outcome for this case (cached per case: an exclusion over a
    drug class decides many therapies with the same words), its derived-fact rule ids and citations."""
    key = ("core", cr.rule.id, out)
    hit = ctx.memo.get(key)
    if hit is not None:
        return hit
    rule = cr.rule
    texts, chain, chain_rules = _described(cr.when, ctx, True)  # the facts that hold; unknown ones are in `missing`
    if cr.requires:
        texts, chain, chain_rules = list(texts), list(chain), list(chain_rules)
        for node in cr.requires:
            if node.tv(ctx) is True:
                t, c, r = _described(node, ctx, True)
                texts.extend(t)
                chain.extend(c)
                chain_rules.extend(r)
    texts = _dedupe(texts)
    parts: list[str] = []
    if texts:
        parts.append("Case: " + "; ".join(texts) + ".")
    if chain:
        parts.append("Derived: " + ", ".join(_dedupe(chain)) + f"; so {rule.id} applies.")
    ex = rule.explain
    if out.missing:
        parts.append(ex.unknown or f"If the missing facts are confirmed: {ex.met}")
        parts.append("Cannot decide without: " + ", ".join(out.missing) + ".")
    elif out.failed:
        parts.append(ex.unmet or ex.met)
        parts.append("Criteria not met: " + "; ".join(out.failed) + ".")
    else:
        parts.append(ex.met)
    if rule.jurisdiction and rule.status in ("regular", "accelerated", "withdrawn"):
        parts.append(f"({rule.jurisdiction} {rule.status} approval, in effect from {rule.effective_from}.)")
    chain_ids = _dedupe([c.rule.id for c in chain_rules])
    st = _static(ctx.program)
    citations = list(st.cites[rule.id])
    for rid in chain_ids:
        citations.extend(st.cites[rid])
    hit = ctx.memo[key] = (" ".join(parts), chain_ids, citations)
    return hit


def resolve_option(therapy_id: str, cands: list[tuple[CompiledRule, RuleOutcome]], ctx: Ctx) -> Option:
    st = _static(ctx.program)
    considered: list[Considered] = []
    extra: list[str] = []
    if len(cands) == 1:
        best_cr, best = cands[0]
    else:
        cands = sorted(cands, key=lambda co: co[0].rule.id)  # independent of rule order
        aside: dict[str, tuple[CompiledRule, str]] = {}
        for cr, out in cands:
            if out.when_true and cr.rule.overrides:
                for ov in cr.rule.overrides:
                    aside.setdefault(ov.rule, (cr, ov.because))
        live = [co for co in cands if co[0].rule.id not in aside] if aside else cands
        if not live:  # mutual overrides: fall back to strength over all
            live = cands
            aside = {}
        best_cr, best = max(live, key=lambda co: strength(*co))
        for cr, out in cands:
            if cr is best_cr:
                continue
            by = aside.get(cr.rule.id)
            if by is not None and by[0] is best_cr:
                extra.append(f"Takes precedence over {cr.rule.id} ({cr.rule.title}): {by[1]}")
            considered.append(
                Considered.fast(
                    rule=cr.rule.id,
                    verdict=out.verdict,
                    evidence=cr.rule.evidence,
                    set_aside_by=by[0].rule.id if by else None,
                    reason=(f"set aside by {by[0].rule.id}: {by[1]}" if by else f"weaker than {best_cr.rule.id}"),
                )
            )
        extra.append("Also considered: " + "; ".join(f"{c.rule} ({c.verdict}, {c.evidence})" for c in considered) + ".")
    text, chain_ids, citations = _explain_core(best_cr, best, ctx)
    rule = best_cr.rule
    return Option.fast(
        therapy=therapy_id,
        name=ctx.program.rb.therapies[therapy_id].name,
        drugs=list(st.drugs[therapy_id]),
        verdict=best.verdict,
        evidence=rule.evidence,
        oncokb_level=st.level[rule.id],
        rules=[rule.id] + chain_ids,
        explanation=" ".join([text] + extra) if extra else text,
        citations=list(citations),
        missing=list(best.missing),
        failed_criteria=list(best.failed),
        status=rule.status,
        jurisdiction=rule.jurisdiction,
        effective_from=st.since[rule.id],
        considered=considered,
    )


OPTION_ORDER = {"eligible": 0, "conditional": 1, "consider": 2, "not_eligible": 3, "excluded": 4}


def build_result(inf: Inference) -> Result:
    ctx = inf.ctx
    case = ctx.case
    rb = ctx.program.rb
    options = [resolve_option(t, cands, ctx) for t, cands in inf.outcomes.items()]
    options.sort(key=lambda o: (OPTION_ORDER[o.verdict], -EVIDENCE_RANK[o.evidence], o.therapy))
    st = _static(ctx.program)
    note_details = [NoteOut.fast(rule=cr.rule.id, text=cr.rule.note, citations=list(st.cites[cr.rule.id])) for cr in inf.notes]
    notes = [f"{n.text} [{n.rule}]" for n in note_details]
    kv = rb.meta.knowledge_version
    if case.as_of > kv:
        notes.append(
            f"The knowledge base is current to {kv.isoformat()}; this evaluation is dated "
            f"{case.as_of.isoformat()}, so approvals, label changes or withdrawals after "
            f"{kv.isoformat()} are not reflected."
        )
    trace: list[str] = []
    for t in sorted(inf.outcomes):
        for cr, out in sorted(inf.outcomes[t], key=lambda co: co[0].rule.id):
            detail = ""
            if out.failed:
                detail = " (failed: " + "; ".join(out.failed) + ")"
            elif out.missing:
                detail = " (missing: " + ", ".join(out.missing) + ")"
            trace.append(f"{cr.rule.id} -> {t}: {out.verdict}{detail}")
    for cr in inf.notes:
        trace.append(f"{cr.rule.id}: note")
    facts = {name: ctx.fact(name) for name in ctx.plan.facts}
    for name, v in facts.items():
        trace.append(f"fact {name} = {'unknown' if v is None else str(v).lower()}")
    trace.extend(sorted(inf.skipped))
    return Result.fast(
        case_id=case.id,
        evaluated_as_of=case.as_of.isoformat(),
        knowledge_version=kv.isoformat(),
        jurisdiction=case.jurisdiction,
        cancer_type=case.cancer.code,
        options=options,
        notes=notes,
        note_details=note_details,
        facts=facts,
        trace=trace,
        disclaimer=rb.meta.disclaimer,
    )
