"""Resolution: from the rules' outcomes to one option per therapy, with explanations.

Shared by every backend. Two steps:

* *deciding* (:func:`build_result`): for each therapy, explicit precedence (``overrides``) first,
  then the strongest outcome decides (verdict, then evidence, then rule id); the rest are kept as
  ``considered``. This gives every structured field: verdict, evidence, level, rules (the deciding
  rule and the derivation rules it rests on), citations, missing, failed criteria, criteria with
  their status, considered rules and what set them aside, cautions, note details.
* *rendering* (:class:`Rendering`): the prose. The explanation names the case facts that
  mattered, the derived facts (by the title of the rule deriving them), the rule's sentence for a
  learner, failed criteria, missing data and any precedence applied, every rule by its title:
  rule ids and fact names stay in the structured fields (and in ``trace``, the machine-oriented
  log). Also the considered rules' reasons, the summaries, ``notes``, ``facts`` and ``trace``.

``build_result(inf, lazy=True)`` (what ``Engine.evaluate`` does) leaves the rendering to the first
read of any text, to ``Result.explain()`` or to serialisation: a batch writing TSV, which reads only
decided fields, never renders. The output is the same either way. The sentences that depend only
on a rule (titles, met/unmet/unknown sentences, readings, approval sentence, criterion texts) are
built once per rule base (:class:`_Static`).
"""
from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable
from operator import itemgetter

from engine.conditions import KINDS, join_words, kind_of
from engine.evaluation.evaluator import (
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
    _UNSET,
    missing_list,
    pending_missing,
)
from engine.semantics import EVIDENCE_RANK, EVIDENCE_WORDS, OPTION_ORDER, POSITIVE, VERDICT_RANK, VERDICT_WORDS, apply_pending, choose, strength  # noqa: F401
from engine.result import (CautionOut, CitationOut, Considered, Criterion, Decided, Decisions, NoteOut, Option, Result,
                           lazy, made, settled)
from engine.result import CONTRACT_VERSION as _CONTRACT_VERSION
from engine.result import EXCLUSION_CRITERION
from engine.rules_model import CLINICAL_IN_POPULATION, CLINICAL_OUTSIDE, DEFAULT_ONCOKB

#: after a derived fact a gate asks to be absent, in a criterion's words ("KRAS G12C present: no")
ABSENT = ": no"
#: after a condition that must be known to hold (``not: {unmet: C}``): false, and the rule silent,
#: while C is unknown (``why`` reads it to say so)
KNOWN_TO_HOLD = " (confirmed)"


def _iso(day) -> str | None:
    return day.isoformat() if day is not None else None


class _Static:
    """Per-program constants of the output (built once: citations, drug lists, levels)."""

    def __init__(self, program):
        rb = program.rb
        self.cites = {cr.rule.id: [
            CitationOut.fast(source=c.source, title=rb.sources[c.source].title, section=c.section, quote=c.quote,
                             rule=cr.rule.id, date=_iso(rb.sources[c.source].date))
            for c in cr.rule.citations
        ] for cr in program.rules}
        self.drugs = {t: sorted(rb.vocab.drug(d).name for d in th.drugs) for t, th in rb.therapies.items()}
        self.names = {t: th.name for t, th in rb.therapies.items()}
        self.level = {
            cr.rule.id: None if cr.rule.conclude.oncokb_level == "none" else
            cr.rule.conclude.oncokb_level or DEFAULT_ONCOKB[cr.rule.evidence] for cr in program.conclusions
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
        self.kv_iso = rb.meta.knowledge_version.isoformat()
        # which reading of the label's wording each requirement applies (built once per rule), by
        # criterion: an outcome that fails criteria shows the readings of those only
        self.readings = {cr.rule.id: tuple((q.criterion, f"{reading_head(q.criterion)}: {q.reading}")
                                           for q in cr.rule.requires if q.reading)
                         for cr in program.conclusions if any(q.reading for q in cr.rule.requires)}
        self.program = program
        self._criteria: dict[str, tuple] = {}
        self._gates: dict[str, tuple] = {}
        self._fact_words = fact_words(program)
        self.vocab = rb.vocab
        # the sentences of each rule, built once: its title in quotes, the fact a derivation rule
        # derives in words ("X means Y" titles read as X), the explanation's sentences by outcome,
        # the approval sentence
        self.quoted = {cr.rule.id: f"\u201c{cr.rule.title}\u201d" for cr in program.rules}
        self.derived_words = {cr.rule.id: cr.rule.title.split(" means ", 1)[0]
                              for crs in program.derivers.values() for cr in crs}
        self.met: dict[str, str] = {}
        self.unmet: dict[str, str] = {}
        self.unknown: dict[str, str] = {}
        self.undecided: dict[str, str] = {}
        self.approval: dict[str, str] = {}
        for cr in program.conclusions:
            r = cr.rule
            ex = r.explain
            if ex is None:  # pragma: no cover - conclusion rules explain (the model checks it)
                continue
            self.met[r.id] = ex.met
            self.unmet[r.id] = ex.unmet or ex.met
            self.unknown[r.id] = ex.unknown or f"If the missing facts are confirmed: {ex.met}"
            self.undecided[r.id] = f"Whether {self.quoted[r.id]} applies to this case depends on what is missing."
            if r.jurisdiction and r.status in ("regular", "accelerated", "withdrawn"):
                self.approval[r.id] = f"({rb.meta.approval(r.jurisdiction, r.status)}; the rule holds from {r.effective_from}.)"
        self._has_fact: dict[int, bool] = {}
        self._gate_facts: dict[str, tuple[str, ...]] = {}
        # per plan: the atoms each deciding rule's checklist and derivation chain read, and what
        # was decided for each set of their values (see :meth:`decided`)
        self._plans: dict[int, tuple[object, dict, dict]] = {}
        self._stored = 0  # decided parts and skeletons kept, every plan's together
        self._exclusion: dict[str, Criterion] = {}

    def has_fact(self, node) -> bool:
        """Whether a derived fact occurs under ``node`` (else no derivation chain can come of it)."""
        hit = self._has_fact.get(id(node))
        if hit is None:
            hit = False
            todo = [node]
            while todo:
                n = todo.pop()
                kind = type(n)
                if kind is FactNode:
                    hit = True
                    break
                if kind is AllNode or kind is AnyNode:
                    todo.extend(n.kids)
                elif kind is NotNode or kind is UnmetNode:
                    todo.append(n.kid)
            self._has_fact[id(node)] = hit  # nodes live as long as the program that holds this
        return hit

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
            items = [(f"{rule.id}/gate/{i}", self.words(n), "gate", n, self.facts_of(n))
                     for i, n in enumerate(self.gate(cr))]
            for i, (req, node) in enumerate(zip(rule.requires, cr.requires, strict=True)):
                items.append((f"{rule.id}/requires/{i}", req.criterion, req.kind, node, self.facts_of(node)))
            hit = self._criteria[rule.id] = tuple(items)
        return hit

    def gate(self, cr: CompiledRule) -> tuple:
        """The conditions of ``cr``'s gate, one checklist line each (built once per rule)."""
        hit = self._gates.get(cr.rule.id)
        if hit is None:
            hit = self._gates[cr.rule.id] = tuple(cr.when.kids) if type(cr.when) is AllNode else (cr.when,)
        return hit

    def gate_unknown(self, cr: CompiledRule, ctx: Ctx) -> bool:
        """Whether some condition of ``cr``'s gate is unknown for the case (the status "unknown"
        of a gate line of its checklist)."""
        for node in self.gate(cr):
            if node.tv(ctx) is None:
                return True
        return False

    def not_excluded(self, cr: CompiledRule) -> str:
        return f"not excluded by \u201c{cr.rule.title}\u201d (it applies to {self.words(cr.when)})"

    def exclusion(self, cr: CompiledRule) -> Criterion:
        """The criterion a pending exclusion adds to the options it makes conditional (one
        immutable object per rule)."""
        hit = self._exclusion.get(cr.rule.id)
        if hit is None:
            hit = self._exclusion[cr.rule.id] = Criterion.fast(
                id=f"{cr.rule.id}{EXCLUSION_CRITERION}", text=self.not_excluded(cr), kind="gate", status="unknown",
                facts=self.gate_facts(cr))
        return hit

    def decided(self, cr: CompiledRule, ctx: Ctx) -> tuple:
        """What the deciding rule ``cr`` contributes to its option for this case: the ids of the
        derivation rules it rests on, their citations after its own, and its checklist (immutable
        :class:`Criterion` objects). All three are functions of the values of the atoms its
        ``when``, its ``requires`` and (through the plan's derivation rules, transitively) its
        derived facts read, so they are computed once per plan and set of those values and shared
        by every case that has them."""
        seen, key = self._key(cr, ctx)
        hit = seen.get(key)
        if hit is None:
            rid = cr.rule.id
            chain_ids = tuple(_chain_ids(cr, ctx, self))
            cites = list(self.cites[rid])
            for c in chain_ids:
                cites.extend(self.cites[c])
            self._room()
            hit = seen[key] = (chain_ids, tuple(cites), _criteria(cr, ctx, self))
        return hit

    def skeleton(self, cr: CompiledRule, ctx: Ctx) -> tuple:
        """What the explanation of ``cr`` names for this case, as a function of the same atom
        values as :meth:`decided` (so shared the same way): the atoms behind its gate and its
        met requirements as ``(index, value)`` (their words depend on the case: the renderer
        writes them), the derived facts in words, in order, without repeats, and the rest of the
        explanation by (verdict, missing, failed) of the outcome (filled by :func:`_explain_core`)."""
        seen, key = self._key(cr, ctx)
        key = ("skeleton", key)
        hit = seen.get(key)
        if hit is None:
            refs, chain = _described(cr.when, ctx, True, self)  # the facts that hold; unknown ones are in `missing`
            if cr.requires:
                refs, chain = list(refs), list(chain)
                for node in cr.requires:
                    if node.tv(ctx) is True:
                        r, c = _described(node, ctx, True, self)
                        refs.extend(r)
                        chain.extend(c)
            self._room()
            # the third part: the rest of the explanation by outcome, filled by _explain_core
            hit = seen[key] = (tuple(refs), tuple(_dedupe(chain)), {})
        return hit

    def _room(self) -> None:
        """Count one more decided part or skeleton kept; past :data:`_MAX_STORED` (every plan's
        together), empty every plan's store first, so memory stays flat however varied the cases."""
        if self._stored >= _MAX_STORED:
            for _, _, seen in self._plans.values():
                seen.clear()
            self._stored = 0
        self._stored += 1

    def _key(self, cr: CompiledRule, ctx: Ctx) -> tuple[dict, tuple]:
        """The plan's store of decided parts, and the key of ``cr`` and its atom values there
        (cached per case)."""
        memo = ctx.memo
        hit = memo.get(id(cr))  # (rules live as long as the program; no other memo key is an int)
        if hit is not None:
            return hit
        plan = ctx.plan
        entry = self._plans.get(id(plan))
        if entry is None or entry[0] is not plan:
            if len(self._plans) >= _MAX_PLANS:  # bounded (plans are too, but keep memory flat)
                self._plans.clear()
                self._stored = 0
            # the entry holds the plan: its id cannot be reused while the entry lives
            entry = self._plans[id(plan)] = (plan, {}, {})
        _, closures, seen = entry
        rid = cr.rule.id
        get = closures.get(rid)
        if get is None:
            get = closures[rid] = _getter(_closure(cr, plan))
        values = get(ctx.atoms)
        if _UNSET in values:  # atoms inference did not need: evaluate them now
            for i in _closure(cr, plan):
                ctx.atom(i)
            values = get(ctx.atoms)
        hit = memo[id(cr)] = (seen, (rid, values))
        return hit

    def gate_facts(self, cr: CompiledRule) -> tuple[str, ...]:
        hit = self._gate_facts.get(cr.rule.id)
        if hit is None:
            hit = self._gate_facts[cr.rule.id] = self.facts_of(cr.when)
        return hit

    def words(self, node, top: bool = True) -> str:
        """A condition in words a student understands (no rule or fact ids)."""
        kind = type(node)
        if kind is AtomNode:
            atom = self.program.atoms[node.i]
            return KINDS[atom.kind].student_words(atom.spec, atom.label, self.vocab)
        if kind is FactNode:
            return self._fact_words.get(node.name, node.name.replace("_", " "))
        if kind is AllNode or kind is AnyNode:
            joined = (" and " if kind is AllNode else " or ").join(self.words(k, False) for k in node.kids)
            return joined if top else f"({joined})"
        if kind is UnmetNode:
            return "not shown: " + self.words(node.kid, False)
        if kind is NotNode:
            kid = node.kid
            if type(kid) is AtomNode:
                atom = self.program.atoms[kid.i]
                return KINDS[atom.kind].not_words(atom.spec, atom.label, self.vocab)
            if type(kid) is UnmetNode:  # not "not shown": shown, the value known to hold
                return self.words(kid.kid, False) + KNOWN_TO_HOLD
            if type(kid) is FactNode:  # as the explanations say a derived fact's value
                text = self.words(kid, False) + ABSENT
                return text if top else f"({text})"  # (inside "A and B", "B: no" would read as the whole's answer)
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


def fact_words(program) -> dict[str, str]:
    """Each derived fact in words, from the title of the (first) rule that derives it: a
    definition "X means Y" reads "X (Y)", so that it reads in a sentence too ("this case does
    not meet RAS-mutant (an activating KRAS or NRAS mutation at codon ...)")."""
    out: dict[str, str] = {}
    for name, crs in program.derivers.items():
        head, sep, rest = sorted(crs, key=lambda c: c.rule.id)[0].rule.title.partition(" means ")
        out[name] = f"{head} ({rest})" if sep else head
    return out


_MAX_PLANS = 1024  # plans whose decided parts are kept, per program
#: decided parts and skeletons kept, every plan's together (each about 1 to 4 KB with its criteria
#: and texts: a bound per plan let a long batch of varied cases keep over 100 MB)
_MAX_STORED = 8192


def _closure(cr: CompiledRule, plan) -> tuple[int, ...]:
    """The atoms (sorted indices) whose values decide ``cr``'s gate, requirements and derived
    facts under ``plan`` (through the plan's derivation rules, transitively)."""
    atoms: set[int] = set()
    seen: set[str] = set()
    todo: list = [cr.when, *cr.requires]
    while todo:
        n = todo.pop()
        kind = type(n)
        if kind is AtomNode:
            atoms.add(n.i)
        elif kind is FactNode:
            if n.name not in seen:
                seen.add(n.name)
                todo.extend(d.when for d in plan.derivers.get(n.name, ()))
        elif kind is AllNode or kind is AnyNode:
            todo.extend(n.kids)
        else:
            todo.append(n.kid)
    return tuple(sorted(atoms))


def _getter(indices: tuple[int, ...]) -> Callable[[list], tuple]:
    """A function giving the values at ``indices`` of a list, as a tuple."""
    if len(indices) > 1:
        return itemgetter(*indices)
    if indices:
        i = indices[0]
        return lambda values: (values[i],)
    return lambda values: ()


def _static(program) -> _Static:
    st = program.__dict__.get("_output_static")
    if st is None:
        st = program._output_static = _Static(program)
    return st


# --------------------------------------------------------------------------- deciding


def _chain(node, ctx: Ctx, want, depth: int = 0) -> list[CompiledRule]:
    """The derivation rules behind ``node`` having value ``want``, in the order the explanation
    names them (see :func:`_described`). Cached per case, node and depth (a chain is cut at the
    same depth whichever reader reaches it first)."""
    key = ("chain", id(node), want, depth)
    hit = ctx.memo.get(key)
    if hit is not None:
        return hit
    rules: list[CompiledRule] = []
    leaves: list = []
    node.leaves(ctx, want, leaves)
    for kind, ref in leaves:
        if kind == "atom":
            continue
        v = ctx.fact(ref)
        if v is None or depth > 8:
            continue
        for cr in ctx.plan.derivers.get(ref, ()):
            if cr.when.tv(ctx) is not v:
                continue
            rules.extend(_chain(cr.when, ctx, v, depth + 1))
            rules.append(cr)
            break
    ctx.memo[key] = rules
    return rules


def _chain_ids(cr: CompiledRule, ctx: Ctx, st: _Static) -> list[str]:
    """The ids of the derivation rules the deciding rule ``cr`` rests on for this case (cached)."""
    key = ("chain-ids", cr.rule.id)
    hit = ctx.memo.get(key)
    if hit is not None:
        return hit
    rules: list[CompiledRule] = []
    if st.has_fact(cr.when):
        rules.extend(_chain(cr.when, ctx, True))
    for node in cr.requires:
        if st.has_fact(node) and node.tv(ctx) is True:
            rules.extend(_chain(node, ctx, True))
    hit = ctx.memo[key] = _dedupe([c.rule.id for c in rules]) if rules else []
    return hit


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for i in items:
        if i and i not in seen:
            seen.add(i)
            out.append(i)
    return out


def _case_items(texts: list[str]) -> list[str]:
    """The facts of a Case line, each once: a text may hold several ("prior FOLFOX (...);
    FOLFIRI (...)", the whole history) and another one of them ("prior FOLFOX (...)", the line a
    requirement reads), written with or without "prior" before it."""
    seen: set[str] = set()
    out = []
    for text in texts:
        for item in text.split("; "):
            key = item.removeprefix("prior ")
            if item and key not in seen:
                seen.add(key)
                out.append(item)
    return out


def pending_applier(ctx: Ctx):
    """How a pending exclusion makes a positive outcome wait on its facts for this case (for
    :func:`engine.semantics.apply_pending`): with the exclusion's missing facts added, so that
    resolution and ``check`` rank the outcome alike."""

    def conditional(out: RuleOutcome, p_cr: CompiledRule, p_out: RuleOutcome) -> RuleOutcome:
        missing = missing_list(set(out.missing) | set(pending_missing(p_cr, ctx)))
        # eligible becomes conditional; consider stands, waiting on the facts (as when its own are unknown)
        verdict = out.verdict if out.verdict == "consider" else "conditional"
        return RuleOutcome(out.rule_id, verdict, out.when_true, missing, out.failed)

    return conditional


_NO_CONSIDERED: tuple = ()


def _chosen(cands: list[tuple[CompiledRule, RuleOutcome]], ctx: Ctx) -> tuple | None:
    """The one choice of the rule deciding a therapy (:func:`resolve_option` and
    :func:`decisions`): pending exclusions applied, then :func:`choose`. ``(deciding candidates,
    pending exclusions applied, deciding rule, its outcome, what was set aside)``; None when only
    exclusions that might apply are left (nothing is decided)."""
    pending: list = []
    if len(cands) > 1 or cands[0][1].pending:
        for co in cands:
            if co[1].pending:  # (else apply_pending leaves the candidates as they are)
                cands, pending = apply_pending(cands, pending_applier(ctx))
                if not cands:
                    return None
                break
        cands = sorted(cands, key=_by_rule)  # independent of rule order
    best_cr, best, aside = choose(cands)
    return cands, pending, best_cr, best, aside


def resolve_option(therapy_id: str, cands: list[tuple[CompiledRule, RuleOutcome]], ctx: Ctx, renderer=None,
                   st: _Static | None = None):
    """The option deciding a therapy (None when nothing is decided), and what rendering its texts
    needs: ``(option, deciding rule, its outcome, considered [(Considered, rule, set aside by,
    verdict)], pending exclusions)``. The option's texts are absent until rendered."""
    if st is None:
        st = _static(ctx.program)
    chosen = _chosen(cands, ctx)
    if chosen is None:
        return None
    cands, pending, best_cr, best, aside = chosen
    if pending and best.verdict not in POSITIVE:
        # the exclusions waiting on facts made a candidate wait that did not decide: the option
        # (excluded, not eligible) is not waiting on them
        pending = []
    considered: list[Considered] = []
    parts: list | tuple = _NO_CONSIDERED
    if len(cands) > 1:
        parts = []
        for cr, out in cands:
            if cr is best_cr:
                continue
            by = aside.get(cr.rule.id)
            c = lazy(Considered, {"rule": cr.rule.id, "verdict": out.verdict, "evidence": cr.rule.evidence,
                                  "set_aside_by": by[0].rule.id if by else None}, renderer)
            considered.append(c)
            parts.append((c, cr, by, out.verdict, out.missing))
    rule = best_cr.rule
    chain_ids, cites, crits = st.decided(best_cr, ctx)
    citations = list(cites)
    criteria = list(crits)
    rules = [rule.id, *chain_ids]
    for p_cr, _ in pending:
        criteria.append(st.exclusion(p_cr))
        citations.extend(st.cites[p_cr.rule.id])
        rules.append(p_cr.rule.id)
    option = lazy(Option, {
        "therapy": therapy_id,
        "name": st.names[therapy_id],
        "drugs": list(st.drugs[therapy_id]),
        "verdict": best.verdict,
        "evidence": rule.evidence,
        "oncokb_level": st.level_for(rule, ctx.case),
        "rules": rules,
        "citations": citations,
        "missing": list(best.missing),
        # (a rule whose own verdict is "not eligible" fails on its statement: its /verdict criterion)
        "failed_criteria": list(best.failed) if best.failed or best.verdict != "not_eligible" else [
            c.text for c in crits if c.status == "not_met"],
        "status": rule.status,
        "jurisdiction": rule.jurisdiction,
        "effective_from": st.since[rule.id],
        "considered": considered,
        "criteria": criteria,
        "cautions": [],
    }, renderer)
    return option, best_cr, best, parts, pending


_STATUS = {True: "met", False: "not_met", None: "unknown"}


def _criteria(cr: CompiledRule, ctx: Ctx, st: _Static) -> tuple[Criterion, ...]:
    """The deciding rule's checklist for this case: texts built once per rule, statuses per case
    (shared through :meth:`_Static.decided`, hence immutable)."""
    out = []
    for cid, text, kind, node, facts in st.criteria_of(cr):
        out.append(Criterion.fast(id=cid, text=text, kind=kind, status=_STATUS[node.tv(ctx)], facts=facts))
    rule = cr.rule
    assert rule.conclude is not None  # the deciding rule is a conclusion rule
    if rule.conclude.verdict == "not_eligible" and not any(c.status == "not_met" for c in out):
        # the rule's own verdict is "not eligible": its statement is the criterion not met
        out.append(Criterion.fast(id=f"{rule.id}/verdict", text=rule.conclude.criterion or rule.title, kind="label",
                                  status="not_met", facts=()))
    return tuple(out)


def _deciding(inf: Inference) -> dict:
    """Each therapy's candidates that may decide it: class-wide conclusions only within a
    therapy's own scope, and a therapy only when some outcome about it is not pending."""
    in_scope = inf.in_scope
    outcomes: dict = {}
    for t, cands in inf.outcomes.items():
        if t not in in_scope:  # class-wide conclusions speak only within a therapy's own scope
            cands = [co for co in cands if not co[0].selector]
            if not cands:
                continue
        for _, out in cands:
            if not out.pending:
                outcomes[t] = cands
                break
        # (else: only exclusions that might apply, and nothing for them to condition)
    return outcomes


def decisions(inf: Inference) -> Decisions:
    """The decided fields of the result of one case's inference, without texts, criteria or
    citations (``Engine.decide``): equal to ``Decisions.of(build_result(inf))``, by the same
    choice (:func:`_chosen`), at a fraction of the cost (no option objects, derivation chains,
    checklists or citation lists are built)."""
    ctx = inf.ctx
    case = ctx.case
    st = _static(ctx.program)
    options = []
    for t, cands in _deciding(inf).items():
        chosen = _chosen(cands, ctx)
        if chosen is None:
            continue
        best_cr, best = chosen[2], chosen[3]
        rule = best_cr.rule
        options.append(Decided(t, best.verdict, rule.evidence, st.level_for(rule, case), best.missing, rule.id,
                               st.gate_unknown(best_cr, ctx)))
    if len(options) > 1:
        options.sort(key=_decided_order)
    return Decisions(case.id, case.as_of.isoformat(), st.kv_iso,
                     case.cancer.code, tuple(options), case.jurisdiction)


def _decided_order(d: Decided) -> tuple:
    return (OPTION_ORDER[d.verdict], -EVIDENCE_RANK[d.evidence], d.therapy)


def reading_head(criterion: str) -> str:
    """How a reading of a criterion begins ('Reading of "metastatic disease"')."""
    return f"Reading of \"{criterion}\""


def reading_sentences(program) -> dict[str, tuple[tuple[str, str], ...]]:
    """Per conclusion rule, its readings as explanations write them: ``(head, sentence)``, the
    head being :func:`reading_head` (the text output prints a sentence that several options of a
    case share once, and the head alone under the others)."""
    return {rid: tuple((reading_head(c), s) for c, s in pairs) for rid, pairs in _static(program).readings.items()}


def build_result(inf: Inference, *, lazy_texts: bool = False, summary=None) -> Result:
    """The result of one case's inference. Eager by default (every text rendered now); with
    ``lazy_texts`` the texts wait for their first read, ``Result.explain()`` or serialisation.
    ``summary(option fields)``, if given, writes each option's summary (``Engine`` gives one)."""
    ctx = inf.ctx
    case = ctx.case
    rb = ctx.program.rb
    outcomes = _deciding(inf)
    renderer = Rendering(inf, outcomes, summary)
    st = _static(ctx.program)
    decided = []
    for t, cands in outcomes.items():
        d = resolve_option(t, cands, ctx, renderer, st)
        if d is not None:
            decided.append(d)
    if len(decided) > 1:
        decided.sort(key=_option_order)
    options = [d[0] for d in decided]
    note_details = []
    targets = rb.targets
    for cr in inf.notes:
        if cr.rule.kind == "caution":
            hit = False
            for o in options:
                od = o.__dict__
                if od["therapy"] in targets[cr.rule.id]:
                    hit = True
                    if od["verdict"] in POSITIVE:  # a caution qualifies an option that may be given
                        od["cautions"].append(CautionOut.fast(rule=cr.rule.id, text=cr.rule.caution))
                        od["citations"].extend(st.cites[cr.rule.id])
            if hit:
                continue
            note_details.append(NoteOut.fast(rule=cr.rule.id, text=cr.rule.caution, citations=list(st.cites[cr.rule.id])))
        else:
            note_details.append(made(NoteOut, {"rule": cr.rule.id, "text": cr.rule.note, "citations": list(st.cites[cr.rule.id])}))
    result = lazy(Result, {
        "case_id": case.id,
        "evaluated_as_of": case.as_of.isoformat(),
        "knowledge_version": st.kv_iso,
        "jurisdiction": case.jurisdiction,
        "cancer_type": case.cancer.code,
        "options": options,
        "note_details": note_details,
        "disclaimer": rb.meta.disclaimer,
        "contract_version": _CONTRACT_VERSION,
    }, renderer)
    if lazy_texts:
        # the renderer holds the models weakly: they hold it, and no reference cycle may keep a
        # result (and its case) alive past its last use, which would make the memory of a long
        # batch depend on the cyclic garbage collector
        renderer.result = weakref.ref(result)
        renderer.decided = [(weakref.ref(o), cr, out, [(weakref.ref(c), *rest) for c, *rest in parts], pending)
                            for o, cr, out, parts, pending in decided]
    else:
        renderer.result = _strong(result)  # rendered now: no cycle outlives the call
        renderer.decided = [(_strong(o), cr, out, [(_strong(c), *rest) for c, *rest in parts], pending)
                            for o, cr, out, parts, pending in decided]
        renderer.render()
    return result


def _option_order(d: tuple) -> tuple:
    od = d[0].__dict__
    return (OPTION_ORDER[od["verdict"]], -EVIDENCE_RANK[od["evidence"]], od["therapy"])


def _strong(obj):
    return lambda: obj


# --------------------------------------------------------------------------- rendering

# One lock for every rendering: a result may be read by several threads at once, and rendering
# takes well under a millisecond (reentrant, so a text read while rendering cannot deadlock).
_LOCK = threading.RLock()


class Rendering:
    """The prose of one result, rendered once: holds the case's inference until then, and drops it
    after (so a result keeps no per-case evaluation state once its texts exist)."""

    __slots__ = ("inf", "outcomes", "summary", "result", "decided")

    def __init__(self, inf: Inference, outcomes: dict, summary):
        self.inf: Inference | None = inf
        self.outcomes = outcomes
        self.summary = summary
        self.result: Callable[[], Result | None] | None = None  # a weak (or, once rendered, plain) reference
        self.decided: list = []

    def render(self) -> None:
        if self.inf is None:
            return
        with _LOCK:
            inf = self.inf
            if inf is None:  # another thread rendered it meanwhile
                return
            try:
                self._render(inf)
            finally:
                self.inf = None
                self.outcomes = {}
                self.decided = []
                self.summary = None
                self.result = None

    def _render(self, inf: Inference) -> None:
        ctx = inf.ctx
        st = _static(ctx.program)
        summary = self.summary
        for ref, best_cr, best, parts, pending in self.decided:
            extra: list[str] = []
            if parts:
                best_title = st.quoted[best_cr.rule.id]
                also = []
                would: list[str] = []
                for cref, cr, by, verdict, missing in parts:
                    unless = None
                    if by is None and verdict not in POSITIVE and not best.when_true:
                        unless = next((o for o in best_cr.rule.overrides if o.rule == cr.rule.id), None)
                    if by is not None and by[0] is best_cr:
                        extra.append(f"Takes precedence over {st.quoted[cr.rule.id]}: {by[1]}")
                    elif unless is not None:
                        # the deciding rule waits on its gate: where it does not apply, this one decides
                        extra.append(f"If {' and '.join(best.missing) or 'what is missing'} showed that "
                                     f"{st.quoted[best_cr.rule.id]} does not apply, {st.quoted[cr.rule.id]} would decide "
                                     f"({VERDICT_WORDS[verdict]}); where it applies, it takes precedence: {unless.because}")
                    elif by is None and verdict == "conditional":
                        # a rule that would set the deciding one aside, were what it misses shown
                        ov = next((o for o in cr.rule.overrides if o.rule == best_cr.rule.id), None)
                        if ov is not None:
                            would.append(f"If {' and '.join(missing)} showed that {st.quoted[cr.rule.id]} "
                                         f"applies, it would take precedence over this verdict: {ov.because}")
                    # another way to decide it may wait on other facts than the deciding rule's
                    waits = f"; missing: {', '.join(missing)}" if missing and missing != best.missing else ""
                    also.append(f"{st.quoted[cr.rule.id]} ({VERDICT_WORDS[verdict]}, {EVIDENCE_WORDS[cr.rule.evidence]}{waits})")
                    c = cref()
                    if c is None:
                        continue
                    cd = c.__dict__
                    reason = cd["reason"] if "reason" in cd else (
                        f"set aside by {st.quoted[by[0].rule.id]}: {by[1]}" if by else
                        f"decides only where {best_title} does not apply, which is not known" if unless is not None
                        else f"weaker than {best_title}")
                    settled(c, {"rule": cd["rule"], "verdict": cd["verdict"], "evidence": cd["evidence"],
                                "set_aside_by": cd["set_aside_by"], "reason": reason})
                extra.append("Also considered: " + "; ".join(also) + ".")
                extra.extend(would)
            option = ref()
            if option is None:
                continue
            od = option.__dict__
            text = _explain_core(best_cr, best, ctx, st)
            if pending:  # one sentence per set of facts to find out (an untested gene may stand behind several)
                waiting: dict[tuple, list[str]] = {}
                for p_cr, _ in pending:
                    waiting.setdefault(pending_missing(p_cr, ctx), []).append(st.quoted[p_cr.rule.id])
                for miss, titles in waiting.items():
                    who = join_words(titles)
                    extra.append(_sentence(f"Would be excluded by {who} if confirmed; to know, find out: {', '.join(miss)}"))
            explanation = " ".join([text] + extra) if extra else text
            for c in od["cautions"]:
                explanation += f" Caution: {c.text}"
            settled(option, {
                "therapy": od["therapy"], "name": od["name"], "drugs": od["drugs"], "verdict": od["verdict"],
                "evidence": od["evidence"], "oncokb_level": od["oncokb_level"], "rules": od["rules"],
                "explanation": od.get("explanation", explanation), "citations": od["citations"],
                "missing": od["missing"], "failed_criteria": od["failed_criteria"], "status": od["status"],
                "jurisdiction": od["jurisdiction"], "effective_from": od["effective_from"],
                "considered": od["considered"], "criteria": od["criteria"], "cautions": od["cautions"],
                "summary": od["summary"] if "summary" in od else (summary(od) if summary is not None else ""),
            })
        result = self.result() if self.result is not None else None
        if result is None:  # only options were kept
            return
        rd = result.__dict__
        case = ctx.case
        notes = [n.text for n in rd["note_details"]]
        kv = ctx.program.rb.meta.knowledge_version
        if case.as_of > kv:
            notes.append(
                f"The knowledge base is current to {kv.isoformat()}; this evaluation is dated "
                f"{case.as_of.isoformat()}, so approvals, label changes or withdrawals after "
                f"{kv.isoformat()} are not reflected."
            )
        outcomes = self.outcomes
        trace: list[str] = []
        details: dict[int, str] = {}  # an outcome's detail, once (a class-wide rule has many targets)
        for t in sorted(outcomes):
            cands = outcomes[t]
            for cr, out in (sorted(cands, key=_by_rule) if len(cands) > 1 else cands):
                detail = details.get(id(out))
                if detail is None:
                    detail = ""
                    if out.failed:
                        detail = " (failed: " + "; ".join(out.failed) + ")"
                    elif out.pending:
                        detail = " if confirmed (missing: " + ", ".join(pending_missing(cr, ctx)) + ")"
                    elif out.missing:
                        detail = " (missing: " + ", ".join(out.missing) + ")"
                    details[id(out)] = detail
                trace.append(f"{cr.rule.id} -> {t}: {out.verdict}{detail}")
        for cr in inf.notes:
            trace.append(f"{cr.rule.id}: {cr.rule.kind}")
        facts = {name: ctx.fact(name) for name in ctx.plan.facts}
        for name, v in facts.items():
            trace.append(f"fact {name} = {'unknown' if v is None else str(v).lower()}")
        trace.extend(sorted(inf.skipped))
        settled(result, {
            "case_id": rd["case_id"], "evaluated_as_of": rd["evaluated_as_of"],
            "knowledge_version": rd["knowledge_version"], "jurisdiction": rd["jurisdiction"],
            "cancer_type": rd["cancer_type"], "options": rd["options"], "notes": rd.get("notes", notes),
            "note_details": rd["note_details"], "facts": rd.get("facts", facts), "trace": rd.get("trace", trace),
            "disclaimer": rd["disclaimer"], "contract_version": rd["contract_version"],
        })


def date_mentions(inf: Inference) -> int:
    """How many times the texts rendered for this inference name its evaluation date, besides
    ``evaluated_as_of``: once in the note on knowledge older than the date, once in each trace
    line of a rule not in effect at the date (:func:`engine.evaluation.evaluator.infer`). Every other text
    is the same at every date with the same rules in effect, for the same reasons (the store of
    reused records, :mod:`engine.batch.reuse`, writes another date in those places)."""
    case = inf.ctx.case
    iso = case.as_of.isoformat()
    older = case.as_of > inf.ctx.program.rb.meta.knowledge_version
    return sum(1 for line in inf.skipped if iso in line) + older


def _by_rule(co) -> str:
    return co[0].rule.id


def _described(node, ctx: Ctx, want, st: _Static, depth: int = 0) -> tuple[list[tuple], list[str]]:
    """The case facts behind ``node`` having value ``want``: the atoms, as ``(index, value)``
    (known values only), and derived facts in words (the chain of derivation rules that produced
    them, by what they derive). Cached per case, node and depth (see :func:`_chain`)."""
    key = (id(node), want, depth)
    hit = ctx.memo.get(key)
    if hit is not None:
        return hit
    texts: list[tuple] = []
    chain: list[str] = []
    leaves: list = []
    node.leaves(ctx, want, leaves)
    for kind, ref in leaves:
        if kind == "atom":
            v = ctx.atom(ref)
            if v is not None:
                texts.append((ref, v))
            continue
        v = ctx.fact(ref)
        if v is None or depth > 8:
            continue
        for cr in ctx.plan.derivers.get(ref, ()):
            if cr.when.tv(ctx) is not v:
                continue
            t, c = _described(cr.when, ctx, v, st, depth + 1)
            texts.extend(t)
            chain.extend(c)
            chain.append(f"{st.derived_words[cr.rule.id]}: {'yes' if v else 'no'}")
            break
    hit = ctx.memo[key] = (texts, chain)
    return hit


def _sentence(text: str) -> str:
    """``text`` ended as a sentence: a full stop, unless it ends with a question ("stage: is the
    cancer metastatic?") or a stop already."""
    return text if text.endswith(("?", ".")) else text + "."


def _failed_leaves(cr: CompiledRule, ctx: Ctx) -> tuple[tuple[int, bool], ...]:
    """The atoms behind the requirements of ``cr`` the case fails, in order, with their values
    (false, or true under a ``not``): their case words name what the case holds there (its
    stage, its prior therapies)."""
    leaves: list = []
    for node in cr.requires:
        if node.tv(ctx) is False:
            node.leaves(ctx, False, leaves)
    refs: list[int] = []
    _leaf_atoms(ctx, leaves, refs, frozenset())
    return tuple((ref, ctx.atom(ref) is True) for ref in refs)


def _open_leaves(cr: CompiledRule, ctx: Ctx) -> tuple[tuple[int, bool], ...]:
    """The known atoms behind the requirements of ``cr`` that are unknown for the case, with their
    values: what the case does hold there (daraxonrasib waiting on whether the patient can have
    multiagent therapy: the case is treatment-naive). The unknown atoms are named by what is
    missing."""
    leaves: list = []
    for node in cr.requires:
        if node.tv(ctx) is None:
            for want in (False, True, None):  # (None: an unknown derived fact, read through its rules)
                node.leaves(ctx, want, leaves)
    refs: list[int] = []
    _leaf_atoms(ctx, leaves, refs, frozenset())
    return tuple((ref, ctx.atom(ref) is True) for ref in dict.fromkeys(refs) if ctx.atom(ref) is not None)


def _leaf_atoms(ctx: Ctx, leaves: list, out: list[int], busy: frozenset) -> None:
    """The atoms among ``leaves``, a derived fact read through the rules that derive it (in
    effect): the leaves of their `when` that gave the fact its value ("prior fluoropyrimidine-,
    oxaliplatin- and irinotecan-based chemotherapy" fails on the prior lines the case lists)."""
    for kind, ref in leaves:
        if kind == "atom":
            out.append(ref)
        elif ref not in busy:  # (a cycle of facts: check reports it as V009)
            want = ctx.fact(ref)
            sub: list = []
            for d in ctx.plan.derivers.get(ref, ()):
                # (an unknown fact: what is known of its derivation too, "no KRAS mutation" while
                # NRAS is untested)
                for w in (want,) if want is not None else (None, True, False):
                    d.when.leaves(ctx, w, sub)
            _leaf_atoms(ctx, sub, out, busy | {ref})


def _unknown_gate_leaves(cr: CompiledRule, ctx: Ctx) -> tuple[int, ...]:
    """The atoms of ``cr``'s gate whose values are unknown for the case, in order (none when the
    gate is known): the Case line names what the case holds there."""
    if cr.when.tv(ctx) is not None:
        return ()
    leaves: list = []
    cr.when.leaves(ctx, None, leaves)
    return tuple(ref for kind, ref in leaves if kind == "atom")


def _explain_core(cr: CompiledRule, out: RuleOutcome, ctx: Ctx, st: _Static) -> str:
    """The explanation of one rule's outcome for this case (cached per case: an exclusion over a
    drug class decides many therapies with the same words)."""
    key = ("core", id(out))  # (the case's outcomes live as long as its memo)
    hit = ctx.memo.get(key)
    if hit is not None:
        return hit
    rule = cr.rule
    refs, chain, rests = st.skeleton(cr, ctx)
    held = _failed_leaves(cr, ctx) if out.failed else ()
    unsure = _unknown_gate_leaves(cr, ctx) if out.missing else ()
    known = _open_leaves(cr, ctx) if out.missing else ()
    parts: list[str] = []
    if refs or held or unsure or known:
        wkey = ("case-words", refs, held, unsure, known)  # (rules with the same gate atoms name the same case facts)
        words = ctx.memo.get(wkey)
        if words is None:
            atoms = ctx.program.atoms
            texts: list[str] = []
            later: list[str] = []
            for i in unsure:  # what the case holds where its gate is unknown ("LUNG (Lung)" for an NSCLC rule)
                w = ctx.words("unknown", i)
                if w.startswith("unknown"):  # nothing held (a gene not tested): "Cannot decide without" names it
                    continue
                w += f", not known to be {atoms[i].label}"
                (texts if KINDS[atoms[i].kind].dimension == "cancer" else later).append(w)  # the cancer first, as in a gate
            others: list[str] = []  # cancer types a gate leaves out: one text, after the case's own type
            other_at = -1
            for i, v in refs:
                if v is True:
                    texts.append(ctx.words("describe", i))
                    continue
                atom = atoms[i]
                kind = KINDS[atom.kind]
                codes = kind.named(atom.key).cancers if kind.dimension == "cancer" else None
                if codes:
                    if other_at < 0:
                        other_at = len(texts)
                        texts.append(ctx.words("held", i))
                    others.extend(c for c in sorted(codes) if c not in others)
                elif kind.dimension == "history":
                    # what the history holds (its lines, or "treatment-naive"), once: not "not a
                    # prior line in the maintenance setting, ending in progression" beside a listed
                    # line that did end in progression
                    texts.append(ctx.words("held", i))
                else:
                    w = kind.false_words(atom.label)
                    gene = kind.names(atom.key).gene if kind.names is not None else None
                    # the gene's own changes ("KRAS Q22K"), unless the line names them already;
                    # asked through the context, so that a batch reusing records knows this text
                    # depends on it (engine.batch.reuse)
                    if gene is not None and ctx.lists(frozenset((gene,))):
                        own = ctx.words("held", i)
                        if own not in texts:
                            w += f" (the case: {own})"
                    elif gene is not None:
                        # where the case lists nothing of the gene, what its kind adds to these
                        # words ("no ALK fusion identified (ALK not tested)": nothing identified is
                        # not a negative test); its other words for the gene are the criteria's
                        own = ctx.words("held", i)
                        if own.startswith(w) and own != w:
                            w = own
                    texts.append(w)
            if others:  # "PAAD (Pancreatic Adenocarcinoma), not Non-Small Cell Lung Cancer (NSCLC) or ..."
                cts = st.vocab.cancer_types
                words, others = st.vocab.cancers.outside_words(others)  # ("..., a solid tumour")
                texts[other_at] += "".join(", " + w for w in words)
                if others:
                    texts[other_at] += ", not " + join_words([f"{cts[c].name} ({c})" if c in cts else c for c in others])
            for i, v in held:  # what the case holds where it fails a requirement (its stage, its history)
                texts.append(ctx.words("describe" if v is True else "held", i))
            for i, v in known:  # and what it does hold behind a requirement left open
                kind = KINDS[atoms[i].kind]
                if v is not True and kind.names is not None and kind.names(atoms[i].key).gene is not None:
                    texts.append(kind.false_words(atoms[i].label))  # "no KRAS mutation at codon 12, ..." (tested)
                else:
                    texts.append(ctx.words("describe" if v is True else "held", i))
            texts.extend(later)
            texts = _case_items(texts)
            words = ctx.memo[wkey] = "Case: " + "; ".join(texts) + "." if texts else ""
        if words:
            parts.append(words)
    shape = (out.verdict, out.missing, out.failed)
    rest = rests.get(shape)
    if rest is None:
        more: list[str] = []
        rid = rule.id
        undecided = bool(out.missing) and st.gate_unknown(cr, ctx)
        if chain:
            # (with the rule's gate unknown, the next sentence says whether it applies is open)
            more.append("From the case: " + ", ".join(chain) + ("." if undecided else f"; so {st.quoted[rule.id]} applies."))
        if out.missing:
            # the rule's "unknown" sentence speaks of a case its gate holds for (the biomarker
            # known, a label criterion missing); with the gate itself unknown it would name a
            # biomarker the case is not known to carry; with every criterion of its own met, what
            # is missing is an exclusion's (pending), and its "met" sentence is the one that holds
            pending_only = False
            if undecided:
                more.append(st.undecided[rid])
            elif all(node.tv(ctx) is True for node in cr.requires):
                more.append(st.met[rid])
                pending_only = True  # the criteria are met: what is missing decides an exclusion
            else:
                more.append(st.unknown[rid])
            more.append(_sentence(("But an exclusion may still apply, and it waits on: "
                                   if pending_only else "Cannot decide without: ") + ", ".join(out.missing)))
        elif out.failed:
            more.append(st.unmet[rid])
            more.append("Criteria not met: " + "; ".join(out.failed) + ".")
        else:
            more.append(st.met[rid])
        readings = st.readings.get(rid)
        if readings:
            # the readings of the criteria that decided the outcome: every one where the rule's
            # verdict holds or waits on missing facts, the failed ones where it fails
            more.extend(text for criterion, text in readings if not out.failed or criterion in out.failed)
        approval = st.approval.get(rid)
        if approval:
            more.append(approval)
        if len(rests) >= 64:  # bounded (outcomes of one rule and atom values are few)
            rests.clear()
        # (interned: the same text recurs under many atom values, and each is kept)
        rest = rests[shape] = sys.intern(" ".join(more))
    parts.append(rest)
    if out.failed and st.gate_unknown(cr, ctx):
        # failed on a criterion while whether the case is one the rule is about is itself unknown
        # (an untested biomarker): say so, or the case reads as one that only lacks the criterion
        miss: set[str] = set()
        cr.when.missing(ctx, miss)
        if miss:
            parts.append(_sentence("Whether this case falls under the rule at all is not known either; that waits on: " + ", ".join(sorted(miss))))
    hit = ctx.memo[key] = " ".join(parts)
    return hit
