"""Resolution: from the rules' outcomes to one option per therapy, with explanations.

Shared by every backend. For each therapy: explicit precedence (``overrides``) first, then the
strongest outcome decides (verdict, then evidence, then rule id); the rest are kept as
``considered``. The explanation names the case facts that mattered, the chain of derived facts,
the rule's sentence for a learner, failed criteria, missing data and any precedence applied.
"""
from __future__ import annotations

from engine.conditions import kind_of
from engine.evaluator import (
    AllNode,
    AnyNode,
    AtomNode,
    CompiledRule,
    Ctx,
    FactNode,
    Inference,
    NotNode,
    RuleOutcome,
    UnmetNode,
    pending_missing,
)
from engine.semantics import EVIDENCE_RANK, OPTION_ORDER, VERDICT_RANK, apply_pending, choose, strength  # noqa: F401
from engine.result import CautionOut, CitationOut, Considered, Criterion, NoteOut, Option, Result
from engine.rules_model import CLINICAL_IN_POPULATION, CLINICAL_OUTSIDE, DEFAULT_ONCOKB

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
        # clinical evidence without an explicit level: 3A within the rule's population, else 3B
        self.population_codes: dict[str, frozenset[str] | None] = {}
        for cr in program.conclusions:
            r = cr.rule
            if r.evidence == "clinical" and r.conclude.oncokb_level is None:
                pop = r.population
                self.population_codes[r.id] = (
                    None if pop is not None and pop.any_cancer
                    else frozenset(pop.cancers) if pop is not None else frozenset())
        self.since = {cr.rule.id: cr.rule.effective_from.isoformat() for cr in program.rules}
        # which reading of the label's wording each requirement applies (built once per rule)
        self.readings = {cr.rule.id: " ".join(f"Reading of \"{q.criterion}\": {q.reading}"
                                              for q in cr.rule.requires if q.reading)
                         for cr in program.conclusions if any(q.reading for q in cr.rule.requires)}
        self.program = program
        self._criteria: dict[str, tuple] = {}
        self._fact_words: dict[str, str] = {}
        for name, crs in program.derivers.items():
            self._fact_words[name] = sorted(crs, key=lambda c: c.rule.id)[0].rule.title
        self.vocab = rb.vocab

    def level_for(self, rule, case) -> str | None:
        if rule.id not in self.population_codes:
            return self.level[rule.id]
        codes = self.population_codes[rule.id]
        if codes is None or not codes.isdisjoint(case.lineage):
            return CLINICAL_IN_POPULATION
        return CLINICAL_OUTSIDE

    # criteria: built once per rule
    def criteria_of(self, cr: CompiledRule) -> tuple:
        hit = self._criteria.get(cr.rule.id)
        if hit is None:
            rule = cr.rule
            gate = cr.when.kids if type(cr.when) is AllNode else (cr.when,)
            items = [(f"{rule.id}/gate/{i}", self.words(n), "gate", n, self.facts_of(n)) for i, n in enumerate(gate)]
            for i, (req, node) in enumerate(zip(rule.requires, cr.requires, strict=True)):
                items.append((f"{rule.id}/requires/{i}", req.criterion, "label", node, self.facts_of(node)))
            hit = self._criteria[rule.id] = tuple(items)
        return hit

    def not_excluded(self, cr: CompiledRule) -> str:
        return f"not excluded by: {self.words(cr.when)}"

    def gate_facts(self, cr: CompiledRule) -> tuple[str, ...]:
        return self.facts_of(cr.when)

    def words(self, node, top: bool = True) -> str:
        """A condition in words a student understands (no rule or fact ids)."""
        kind = type(node)
        if kind is AtomNode:
            atom = self.program.atoms[node.i]
            if atom.kind == "cancer":
                names = []
                for code in atom.spec.cancer:
                    try:
                        names.append(f"{self.vocab.cancer_code(code).name} ({code})")
                    except Exception:  # pragma: no cover - codes are checked at load
                        names.append(code)
                return "cancer type: " + " or ".join(names)
            return atom.label
        if kind is FactNode:
            return self._fact_words.get(node.name, node.name.replace("_", " "))
        if kind is AllNode or kind is AnyNode:
            joined = (" and " if kind is AllNode else " or ").join(self.words(k, False) for k in node.kids)
            return joined if top else f"({joined})"
        if kind is UnmetNode:
            return "not shown: " + self.words(node.kid, False)
        if kind is NotNode:
            kid = node.kid
            if type(kid) is AtomNode and self.program.atoms[kid.i].kind == "alteration":
                return "no " + self.words(kid, False)
            return "not: " + self.words(kid, False)
        return str(node)  # pragma: no cover

    def facts_of(self, node) -> tuple[str, ...]:
        out: set[str] = set()
        todo = [node]
        while todo:
            n = todo.pop()
            kind = type(n)
            if kind is AtomNode:
                spec = self.program.atoms[n.i].spec
                out.update(kind_of(spec).fields(spec))
            elif kind is FactNode:
                out.add(n.name)
            elif kind is AllNode or kind is AnyNode:
                todo.extend(n.kids)
            else:
                todo.append(n.kid)
        return tuple(sorted(out))


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
    assert ex is not None  # options are decided by conclusion rules, which explain (the model checks it)
    if out.missing:
        parts.append(ex.unknown or f"If the missing facts are confirmed: {ex.met}")
        parts.append("Cannot decide without: " + ", ".join(out.missing) + ".")
    elif out.failed:
        parts.append(ex.unmet or ex.met)
        parts.append("Criteria not met: " + "; ".join(out.failed) + ".")
    else:
        parts.append(ex.met)
    st = _static(ctx.program)
    reading = st.readings.get(rule.id)
    if reading:
        parts.append(reading)
    if rule.jurisdiction and rule.status in ("regular", "accelerated", "withdrawn"):
        parts.append(f"({rule.jurisdiction} {rule.status} approval, in effect from {rule.effective_from}.)")
    chain_ids = _dedupe([c.rule.id for c in chain_rules])
    citations = list(st.cites[rule.id])
    for rid in chain_ids:
        citations.extend(st.cites[rid])
    hit = ctx.memo[key] = (" ".join(parts), chain_ids, citations)
    return hit


def _pending_applier(ctx: Ctx):
    def conditional(out: RuleOutcome, p_cr: CompiledRule, p_out: RuleOutcome) -> RuleOutcome:
        missing = tuple(sorted(set(out.missing) | set(pending_missing(p_cr, ctx))))
        return RuleOutcome(out.rule_id, "conditional", out.when_true, missing, out.failed)

    return conditional


def resolve_option(therapy_id: str, cands: list[tuple[CompiledRule, RuleOutcome]], ctx: Ctx) -> Option | None:
    st = _static(ctx.program)
    considered: list[Considered] = []
    extra: list[str] = []
    pending: list = []
    if len(cands) > 1 or cands[0][1].pending:
        cands, pending = apply_pending(cands, _pending_applier(ctx))
        if not cands:
            return None  # only exclusions that might apply: nothing is decided
        cands = sorted(cands, key=lambda co: co[0].rule.id)  # independent of rule order
    best_cr, best, aside = choose(cands)
    if len(cands) > 1:
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
    criteria = _criteria(best_cr, ctx, st)
    for p_cr, _ in pending:
        extra.append(f"Would be excluded by {p_cr.rule.id} ({p_cr.rule.title}) if confirmed; "
                     f"to know, find out: {', '.join(pending_missing(p_cr, ctx))}.")
        criteria.append(Criterion.fast(id=f"{p_cr.rule.id}/exclusion", text=st.not_excluded(p_cr),
                                       kind="gate", status="unknown", facts=list(st.gate_facts(p_cr))))
        citations = citations + st.cites[p_cr.rule.id]
    return Option.fast(
        therapy=therapy_id,
        name=ctx.program.rb.therapies[therapy_id].name,
        drugs=list(st.drugs[therapy_id]),
        verdict=best.verdict,
        evidence=rule.evidence,
        oncokb_level=st.level_for(rule, ctx.case),
        rules=[rule.id] + chain_ids + [p.rule.id for p, _ in pending],
        explanation=" ".join([text] + extra) if extra else text,
        citations=list(citations),
        missing=list(best.missing),
        failed_criteria=list(best.failed),
        status=rule.status,
        jurisdiction=rule.jurisdiction,
        effective_from=st.since[rule.id],
        considered=considered,
        criteria=criteria,
        cautions=[],
    )


_STATUS = {True: "met", False: "not_met", None: "unknown"}


def _criteria(cr: CompiledRule, ctx: Ctx, st: _Static) -> list[Criterion]:
    """The deciding rule's checklist for this case: texts built once per rule, statuses per case."""
    out = []
    for cid, text, kind, node, facts in st.criteria_of(cr):
        out.append(Criterion.fast(id=cid, text=text, kind=kind, status=_STATUS[node.tv(ctx)], facts=list(facts)))
    rule = cr.rule
    assert rule.conclude is not None  # the deciding rule is a conclusion rule
    if rule.conclude.verdict == "not_eligible" and not any(c.status == "not_met" for c in out):
        # the rule's own verdict is "not eligible": its statement is the criterion not met
        out.append(Criterion.fast(id=f"{rule.id}/verdict", text=rule.title, kind="label", status="not_met", facts=[]))
    return out


def build_result(inf: Inference) -> Result:
    ctx = inf.ctx
    case = ctx.case
    rb = ctx.program.rb
    in_scope = inf.in_scope
    outcomes: dict = {}
    for t, cands in inf.outcomes.items():
        if t not in in_scope:  # class-wide conclusions speak only within a therapy's own scope
            cands = [co for co in cands if not co[0].selector]
            if not cands:
                continue
        if all(out.pending for _, out in cands):
            continue  # only exclusions that might apply, and nothing for them to condition
        outcomes[t] = cands
    options = []
    for t, cands in outcomes.items():
        opt = resolve_option(t, cands, ctx)
        if opt is not None:
            options.append(opt)
    options.sort(key=lambda o: (OPTION_ORDER[o.verdict], -EVIDENCE_RANK[o.evidence], o.therapy))
    st = _static(ctx.program)
    note_details = []
    targets = rb.targets
    for cr in inf.notes:
        if cr.rule.kind == "caution":
            hit = False
            for o in options:
                if o.therapy in targets[cr.rule.id]:
                    o.cautions.append(CautionOut.fast(rule=cr.rule.id, text=cr.rule.caution))
                    o.explanation += f" Caution: {cr.rule.caution}"
                    o.citations.extend(st.cites[cr.rule.id])
                    hit = True
            if hit:
                continue
            note_details.append(NoteOut.fast(rule=cr.rule.id, text=cr.rule.caution, citations=list(st.cites[cr.rule.id])))
        else:
            note_details.append(NoteOut.fast(rule=cr.rule.id, text=cr.rule.note, citations=list(st.cites[cr.rule.id])))
    notes = [f"{n.text} [{n.rule}]" for n in note_details]
    kv = rb.meta.knowledge_version
    if case.as_of > kv:
        notes.append(
            f"The knowledge base is current to {kv.isoformat()}; this evaluation is dated "
            f"{case.as_of.isoformat()}, so approvals, label changes or withdrawals after "
            f"{kv.isoformat()} are not reflected."
        )
    trace: list[str] = []
    for t in sorted(outcomes):
        for cr, out in sorted(outcomes[t], key=lambda co: co[0].rule.id):
            detail = ""
            if out.failed:
                detail = " (failed: " + "; ".join(out.failed) + ")"
            elif out.pending:
                detail = " if confirmed (missing: " + ", ".join(pending_missing(cr, ctx)) + ")"
            elif out.missing:
                detail = " (missing: " + ", ".join(out.missing) + ")"
            trace.append(f"{cr.rule.id} -> {t}: {out.verdict}{detail}")
    for cr in inf.notes:
        trace.append(f"{cr.rule.id}: {cr.rule.kind}")
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
