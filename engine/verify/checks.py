"""The checks of :func:`engine.verify.verify`, each adding findings to a :class:`Verifier`: the
structure of the derived facts (V007, V008, V009, V014), populations (V011, V012) and, over the
profiles of :mod:`engine.verify.domain`, conflicts, leaks, dead, shadowed, duplicate and subsumed
rules and coverage (V001-V006, V010)."""
from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable

from engine.case import Line, NormalCase
from engine.evaluation.evaluator import (
    AllNode,
    AnyNode,
    AtomNode,
    CompiledRule,
    Ctx,
    FactNode,
    Node,
    NotNode,
    Plan,
    Program,
    pending_missing,
    rule_outcome,
)
from engine.conditions import KINDS, HistoryTerms
from engine.semantics import POSITIVE, apply_pending, choose
from engine.evaluation.resolve import pending_applier
from engine.verify.domain import leaf_names, Domain, GeneState, Slice, Unit, case_of, unit_atoms, witness, _walk
from engine.verify.report import Finding
# rules whose evidence must state its population (V012): by verdict, evidence or kind
POPULATION_VERDICTS = frozenset({"excluded"})
POPULATION_EVIDENCE = frozenset({"resistance_standard", "resistance_clinical", "resistance_preclinical",
                                 "clinical", "preclinical", "phase3"})


def _necessary(node: Node, program: Program, trail: frozenset = frozenset()) -> frozenset[int]:
    """Atoms that, when false, make ``node`` false (so a rule gated by them is silent)."""
    if isinstance(node, AtomNode):
        return frozenset({node.i})
    if isinstance(node, FactNode):
        if node.name in trail:
            return frozenset()
        ders = [cr for cr in program.derivers.get(node.name, ()) if cr.rule.status != "retired"]
        if not ders:
            return frozenset()
        sets = [_necessary(cr.when, program, trail | {node.name}) for cr in ders]
        return frozenset.intersection(*sets)
    if isinstance(node, NotNode):
        return frozenset()
    if isinstance(node, AnyNode):
        sets = [_necessary(k, program, trail) for k in node.kids]
        return frozenset.intersection(*sets)
    if isinstance(node, AllNode):
        out: frozenset[int] = frozenset()
        for k in node.kids:
            out |= _necessary(k, program, trail)
        return out
    return frozenset()


def _cancer_probe(node: Node, ctx: Ctx, busy: set[str]):
    """The value of ``node`` when only the cancer type is known, looking through derived facts
    (False: no case of this cancer type makes it true or unknown)."""
    if isinstance(node, FactNode):
        if node.name in busy:
            return None
        vals = [_cancer_probe(cr.when, ctx, busy | {node.name}) for cr in ctx.program.derivers.get(node.name, ())]
        return True if True in vals else (None if None in vals else False)
    if isinstance(node, AnyNode):
        vals = [_cancer_probe(k, ctx, busy) for k in node.kids]
        return True if True in vals else (None if None in vals else False)
    if isinstance(node, AllNode):
        vals = [_cancer_probe(k, ctx, busy) for k in node.kids]
        return False if False in vals else (None if None in vals else True)
    if isinstance(node, NotNode):  # Not and Unmet: only a definite value can be negated
        v = _cancer_probe(node.kid, ctx, busy)
        return None if v is None else (not v if type(node) is NotNode else v is not True)
    return node.probe(ctx)


def _fact_refs(node: Node, out: set[str]) -> None:
    if isinstance(node, FactNode):
        out.add(node.name)
    elif isinstance(node, NotNode):
        _fact_refs(node.kid, out)
    elif isinstance(node, AllNode):
        for k in node.kids:
            _fact_refs(k, out)


def _describe_atom(program: Program, i: int) -> str:
    """An atom's leaf in the findings' words (as its kind words it: "KRAS G12C", "NRAS codon 12/13")."""
    a = program.atoms[i]
    return KINDS[a.kind].finding_words(a.key, a.label)


def _with_drugs(program: Program) -> dict[str, frozenset[str]]:
    vocab = program.rb.vocab
    return {t.id: frozenset(vocab.drug(d).name for d in t.drugs) for t in program.rb.therapies.values()}


# --------------------------------------------------------------------------- the checks

#: the history that stands for each ``population.treatment`` it contradicts: none for
#: ``previously_treated``; for ``untreated``, one line for metastatic disease (its drugs not given)
#: that ended in progression
_TREATMENT_PROBES: dict[str, tuple[tuple[str, str], ...]] = {
    "previously_treated": (),
    "untreated": (("metastatic", "progression"),),
}


def _admits_history(cr: CompiledRule, program: Program, dom: Domain, treatment: str) -> bool:
    """Whether ``cr``'s ``when`` and every requirement can all hold for a case whose prior
    therapy contradicts ``treatment`` (:data:`_TREATMENT_PROBES`): each leaf that reads the history
    takes its value for that history, every other leaf is unknown, and the nodes' three-valued
    logic decides (a part that is false whatever the unknown leaves are rules the case out)."""
    lines = tuple(Line.of_unknown_drugs(setting, outcome, seq=k)
                  for k, (setting, outcome) in enumerate(_TREATMENT_PROBES[treatment]))
    case = dom._probe(lines=lines)
    ctx = Ctx(program, case, Plan([], [], program.derivers, []))  # (every derivation rule: any date)
    atoms: set[int] = set()
    for node in (cr.when, *cr.requires):
        _walk(node, program, atoms, set())
    vocab = program.rb.vocab
    for i in atoms:
        atom = program.atoms[i]
        hook = KINDS[atom.kind].history
        reads = hook is not None and hook(atom.spec, vocab, HistoryTerms()) is not None
        ctx.atoms[i] = atom.fn(case) if reads else None
    return all(node.tv(ctx) is not False for node in (cr.when, *cr.requires))


class Verifier:
    # a profile whose rules' outcomes repeat those of one examined before adds only its counts
    # (see _run_therapy); False examines every profile in full (the tests compare the two)
    reuse_outcomes = True

    def __init__(self, program: Program):
        self.program = program
        self.rb = program.rb
        self.findings: list[Finding] = []
        self.profiles = 0
        self.per_therapy: dict[str, int] = {}
        self.live_rules = [cr for cr in program.rules if cr.rule.status != "retired"]
        self.coverage_checked = 0
        self.cyclic: set[str] = set()
        self.skipped: list[str] = []

    def add(self, code: str, rules: Iterable[str], message: str, witness: dict | None = None, therapy: str | None = None):
        self.findings.append(Finding(code, tuple(rules), message, witness, therapy))

    # ---------------------------------------------------------------- structure

    def structure(self) -> None:
        program = self.program
        used: dict[str, set[str]] = {}
        for cr in self.live_rules:
            refs: set[str] = set()
            _fact_refs(cr.when, refs)
            for r in cr.requires:
                _fact_refs(r, refs)
            for f in refs:
                used.setdefault(f, set()).add(cr.rule.id)
        self.used_facts = used
        derived: dict[str, list[str]] = {}
        for cr in self.live_rules:
            if cr.rule.kind == "derivation" and cr.rule.derive is not None:
                derived.setdefault(cr.rule.derive, []).append(cr.rule.id)
        for f, rids in sorted(derived.items()):
            if f not in used:
                self.add("V008", rids, f"fact '{f}' is derived by {', '.join(rids)} but no rule uses it: "
                         f"use it in a condition or remove the derivation.")
        for f, users in sorted(used.items()):
            if f not in derived:
                self.add("V007", sorted(users), f"fact '{f}' is used by {', '.join(sorted(users))} "
                         f"but no rule in effect derives it.")
        # cycles among derived facts
        graph: dict[str, set[str]] = {}
        for cr in self.live_rules:
            if cr.rule.kind == "derivation" and cr.rule.derive is not None:
                refs = set()
                _fact_refs(cr.when, refs)
                graph.setdefault(cr.rule.derive, set()).update(refs)
        self.cyclic = set()
        for comp in _cycles(graph):
            self.cyclic |= set(comp)
            rules = sorted(cr.rule.id for f in comp for cr in program.derivers.get(f, ())
                           if cr.rule.status != "retired" and (set(comp) & _refs_of(cr)))
            chain = " -> ".join(comp + [comp[0]])
            self.add("V009", rules, f"derived facts depend on each other: {chain} (rules {', '.join(rules)}); "
                     f"a fact must not depend on itself.")
        # a fact read on a day no derivation of it holds is false there, silently: every rule
        # reading it must lie within the dates (and regulator) of its derivations
        for cr in self.live_rules:
            refs = _refs_of(cr)
            for r in cr.requires:
                _fact_refs(r, refs)
            for f in sorted(refs):
                gap = _undefined_day(cr, [d for d in program.derivers.get(f, ()) if d.rule.status != "retired"])
                if gap is not None:
                    self.add("V014", (cr.rule.id,), f"{cr.rule.id} reads fact '{f}' on {gap.isoformat()}"
                             f"{' for ' + cr.jurisdiction if cr.jurisdiction else ''}, when no rule deriving it "
                             f"is in effect: there the fact would read as false, not as unknown. Date the rule "
                             f"from its fact's derivation, or date the derivation earlier.")

    # ---------------------------------------------------------------- populations

    def populations(self, dom: Domain) -> None:
        program = self.program
        types = dom.vocab.cancer_types
        for cr in self.live_rules:
            rule = cr.rule
            pop = rule.population
            if pop is None:
                if rule.kind == "caution" or (rule.kind == "conclusion" and rule.conclude is not None and (
                        rule.conclude.verdict in POPULATION_VERDICTS or rule.evidence in POPULATION_EVIDENCE)):
                    self.add("V012", (rule.id,), f"{rule.id} ({rule.kind}, {rule.evidence or 'caution'}) does not state "
                             "the population its evidence comes from: add 'population' (text, cancers, acquired_on).")
                continue
            if pop.cancers is not None and not pop.any_cancer:
                studied = frozenset(pop.cancers)
                above = {a for c in studied for a in types[c].lineage[1:]}
                for code in dom.cancers.values:
                    if not studied.isdisjoint(types[code].lineage) or code in above:
                        continue
                    case = dom._probe(cancer=code)
                    if _cancer_probe(cr.when, Ctx(program, case), set()) is not False:
                        self.add("V011", (rule.id,), f"{rule.id}: population.cancers is {', '.join(f'{c} ({types[c].name})' for c in pop.cancers)} but "
                                 f"its conditions admit a {code} ({types[code].name}) tumour; restrict 'when' "
                                 "to the population's cancer types, or widen the population.",
                                 {"cancer_type": code})
                        break
            if pop.acquired_on is not None:
                atoms: set[int] = set()
                _walk(cr.when, program, atoms, set())
                if not any(leaf_names(program, i).acquired_on == pop.acquired_on for i in atoms):
                    self.add("V011", (rule.id,), f"{rule.id}: the evidence comes from alterations acquired on "
                             f"{pop.acquired_on}, but no alteration condition of 'when' says "
                             f"'acquired_on: {pop.acquired_on}': the rule would apply the finding at baseline.")
            if pop.treatment is not None and _admits_history(cr, program, dom, pop.treatment):
                treated = pop.treatment == "previously_treated"
                self.add("V011", (rule.id,), f"{rule.id}: the evidence comes from "
                         + ("previously treated cancers (population.treatment: previously_treated), but "
                            "its conditions can hold for a case given no prior systemic therapy: add a "
                            "requirement on the history (such as 'prior_lines: {min: 1}')." if treated else
                            "cancers given no systemic therapy for advanced disease (population.treatment: "
                            "untreated), but its conditions can hold for a case given a line for metastatic "
                            "disease: add a requirement on the history (such as 'prior_lines: {max: 0, "
                            "setting: [metastatic]}')."))

    # ---------------------------------------------------------------- therapies

    def exclude_cycles(self) -> None:
        """Rules that depend on a fact in a cycle cannot be evaluated: leave them out of the search."""
        if not self.cyclic:
            return
        keep = []
        for cr in self.live_rules:
            atoms: set[int] = set()
            facts: set[str] = set()
            _walk(cr.when, self.program, atoms, facts)
            for r in cr.requires:
                _walk(r, self.program, atoms, facts)
            if facts & self.cyclic or (cr.rule.derive in self.cyclic):
                self.skipped.append(cr.rule.id)
            else:
                keep.append(cr)
        self.live_rules = keep

    def therapies(self, dom: Domain, jobs: int = 1) -> None:
        """The search per therapy (V001, V002, V004 and what V003, V005 and V006 read).
        ``jobs`` > 1: the therapies are searched in that many forked processes, each from empty
        records, and their records merged in therapy order as one process would have made them
        (the findings are the same; see :meth:`_merge_therapy`)."""
        program = self.program
        by_therapy: dict[str, list[CompiledRule]] = {}
        for cr in self.live_rules:
            if cr.rule.kind == "conclusion":
                for t in cr.targets:
                    by_therapy.setdefault(t, []).append(cr)
        self.by_therapy = by_therapy
        gates = self._gates(by_therapy)
        self.fired: dict[str, tuple] = {}
        self.decided: set[str] = set()
        self.contradicted: dict[str, tuple] = {}
        self.fired_count: dict[str, int] = {}
        self.own_verdict: set[str] = set()  # rules that give their own verdict (all met) in some profile
        conflicts: dict[tuple, tuple] = {}
        leaks: dict[tuple, tuple] = {}
        pair_info: dict[tuple, dict] = {}
        order = sorted(by_therapy)
        parts = self._searched_apart(dom, order, by_therapy, gates, jobs) if jobs > 1 and len(order) > 1 else None
        for t in order:
            if parts is None:
                n = self._search(dom, t, by_therapy, gates, conflicts, leaks, pair_info)
            else:
                n = self._merge_therapy(parts[t], conflicts, leaks, pair_info)
            self.per_therapy[t] = n
            self.profiles += n
        for (p, q), (t, prof, sl, others, _sure) in sorted(conflicts.items()):
            pr, qr = program.by_id[p].rule, program.by_id[q].rule
            assert pr.conclude is not None and qr.conclude is not None  # conflicts are between conclusion rules
            also = sorted(others - {t})
            # an exclusion for resistance acquired on a drug sets aside an approval of that drug, never the reverse
            acquired = [r for r in (pr, qr) if r.resistance_acquired_on is not None]
            hint = (f"; {acquired[0].id} is about resistance acquired on a drug: list {(qr if acquired[0] is pr else pr).id} "
                    f"in {acquired[0].id}'s overrides (the exclusion sets the approval aside where it applies)."
                    if len(acquired) == 1 else f"; declare in {p} or {q} which one sets the other aside, and why.")
            self.add(
                "V001", (p, q),
                f"{t}: {p} ({pr.conclude.verdict}, {pr.evidence}) and {q} ({qr.conclude.verdict}, {qr.evidence}) both apply "
                f"and no 'overrides' says which wins" + (f" (also for {', '.join(also)})" if also else "") + hint,
                witness(dom, prof, sl), t,
            )
        for (rid, t), (verdict, gate_rules, desc, prof, sl) in sorted(leaks.items()):
            self.add(
                "V002", (rid, *gate_rules),
                f"{t}: {rid} gives '{verdict}' to a tumour shown to lack {desc}, which every approval of "
                f"{t} ({', '.join(gate_rules)}) requires; gate {rid} on the allele.",
                witness(dom, prof, sl), t,
            )
        self._pairs(dom, pair_info)

    def _searched_apart(self, dom: Domain, order: list[str], by_therapy: dict, gates: dict, jobs: int) -> dict:
        """Each therapy's search in a forked process of a pool of ``jobs``, the largest first:
        therapy -> its profile count and records (:meth:`_search_one`). The domain is built
        before the fork, so the processes share it."""
        import multiprocessing

        global _FORKED
        for t in order:  # (the histories each unit reads, built here: the processes share them)
            t_gates = gates.get(t, [])
            atoms: set[int] = set().union(*t_gates) if t_gates else set()
            unit_atoms(self.program, atoms, by_therapy[t])
            dom.history_for(atoms)
        _FORKED = (self, dom, by_therapy, gates)
        size = {t: len(by_therapy[t]) * (1 + sum(len(g) for g in gates.get(t, []))) for t in order}
        try:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(min(jobs, len(order))) as pool:
                done = pool.map(_search_forked, sorted(order, key=lambda t: -size[t]), chunksize=1)
        finally:
            _FORKED = None
        return {t: part for t, part in done}

    def _search_one(self, dom: Domain, t: str, by_therapy: dict, gates: dict) -> tuple:
        """One therapy's search from empty records (in a forked process): its profile count and
        the records it made."""
        self.fired, self.decided, self.contradicted, self.fired_count, self.own_verdict = {}, set(), {}, {}, set()
        conflicts: dict = {}
        leaks: dict = {}
        pair_info: dict = {}
        n = self._search(dom, t, by_therapy, gates, conflicts, leaks, pair_info)
        return (n, self.fired, self.decided, self.contradicted, self.fired_count, self.own_verdict, conflicts, leaks,
                pair_info)

    def _search(self, dom: Domain, t: str, by_therapy: dict, gates: dict, conflicts: dict, leaks: dict,
                pair_info: dict) -> int:
        """One therapy's search over its unit of profiles (its gates' atoms kept apart), into the
        records given; its profile count."""
        rules, t_gates = by_therapy[t], gates.get(t, [])
        unit = Unit(dom, set().union(*t_gates) if t_gates else set(), rules)
        return self._run_therapy(dom, unit, t, rules, t_gates, conflicts, leaks, pair_info)

    def _merge_therapy(self, part: tuple, conflicts: dict, leaks: dict, pair_info: dict) -> int:
        """One therapy's records, searched from empty ones, merged into those of the therapies
        before it as :meth:`_run_therapy` would have made them in one process: the first profile
        kept where it keeps the first; counts summed; a contradiction of a rule some earlier
        therapy decided dropped (it records only rules not decided yet), else the higher rank
        kept; a conflict's profile replaced only by a sure one; the pairs' flags and-ed."""
        n, fired, decided, contradicted, fired_count, own_verdict, t_conflicts, t_leaks, t_pairs = part
        for rid, first in fired.items():
            self.fired.setdefault(rid, first)
        for rid, c in fired_count.items():
            self.fired_count[rid] = self.fired_count.get(rid, 0) + c
        self.own_verdict |= own_verdict
        for rid, entry in contradicted.items():
            if rid in self.decided:
                continue
            old = self.contradicted.get(rid)
            if old is None or entry[6] > old[6]:
                self.contradicted[rid] = entry
        self.decided |= decided
        for key, (t, prof, sl, others, sure) in t_conflicts.items():
            hit = conflicts.get(key)
            if hit is None or (sure and not hit[4]):
                conflicts[key] = (t, prof, sl, (hit[3] if hit else set()) | others, sure)
            else:
                hit[3].update(others)
        leaks.update(t_leaks)
        for key, info in t_pairs.items():
            old = pair_info.get(key)
            if old is None:
                pair_info[key] = info
                continue
            old["sub"] = old["sub"] and info["sub"]
            old["eq"] = old["eq"] and info["eq"]
            old["both"] += info["both"]
            old["a"] += info["a"]
            old["therapies"] |= info["therapies"]
        return n

    def _gates(self, by_therapy: dict[str, list[CompiledRule]]) -> dict[str, list[frozenset]]:
        program = self.program
        own: dict[str, list[tuple[frozenset, str]]] = {}
        for t, rules in by_therapy.items():
            for cr in rules:
                if cr.rule.conclude is None or cr.rule.conclude.verdict != "eligible":
                    continue
                nec = _necessary(cr.when, program)
                g = frozenset(i for i in nec if leaf_names(program, i).specific)
                if g:
                    own.setdefault(t, []).append((g, cr.rule.id))
        drugs = _with_drugs(program)
        out: dict[str, list] = {}
        for t in by_therapy:
            gl = list(own.get(t, []))
            for t0, g0 in own.items():
                if t0 != t and t in drugs and t0 in drugs and drugs[t0] < drugs[t]:
                    gl.extend(g0)
            if gl:
                out[t] = gl
        self.gate_rules = out
        return {t: [g for g, _ in gl] for t, gl in out.items()}

    def _run_therapy(self, dom, unit: Unit, t, rules, t_gates, conflicts, leaks, pair_info) -> int:
        program = self.program
        ids = [cr.rule.id for cr in rules]
        gate_list = [tuple(sorted(g)) for g in t_gates]
        gate_rules = tuple(sorted({rid for _, rid in self.gate_rules.get(t, [])}))
        gate_desc = " or ".join(sorted({_describe_atom(program, i) for g in t_gates for i in g}))
        approval = [cr.rule.conclude is not None and cr.rule.conclude.verdict == "eligible" for cr in rules]
        # a rule whose own verdict is not_eligible (a use a label leaves out) contradicts an approval as an exclusion does
        stated_no = [cr.rule.conclude is not None and cr.rule.conclude.verdict == "not_eligible" for cr in rules]
        # pairs of rules that may turn out duplicates or subsumed (same stated verdict)
        alive: dict[tuple[str, str], tuple[int, int]] = {}
        for ka, kb in itertools.permutations(range(len(rules)), 2):
            ca, cb = rules[ka].rule.conclude, rules[kb].rule.conclude
            if ca.verdict == cb.verdict and ca.unmet == cb.unmet:
                key = (ids[ka], ids[kb])
                info = pair_info.setdefault(key, {"sub": True, "eq": True, "both": 0, "a": 0, "therapies": set()})
                info["therapies"].add(t)
                alive[key] = (ka, kb)
        overriding = [k for k, cr in enumerate(rules) if cr.rule.overrides]
        fired, decided, contradicted, fired_count = self.fired, self.decided, self.contradicted, self.fired_count
        own_verdict = self.own_verdict
        stated = [cr.rule.conclude.verdict if cr.rule.conclude is not None else None for cr in rules]
        index = {id(cr): k for k, cr in enumerate(rules)}
        count = 0
        # each group's rules' outcomes, compiled (the derived facts in effect are the group's)
        runs: dict[int, Callable | None] = {}
        # per group and rule: in how many of the group's slices the rule is in effect, and the first
        # of them (what a rule that speaks in a profile adds to the counts and witnesses of fired rules)
        in_effect = [[sum(1 for live, _ in group if live[k]) for k in range(len(rules))] for group in unit.groups]
        first_in_effect = [[next((sl for live, sl in group if live[k]), None) for k in range(len(rules))] for group in unit.groups]
        # per group: the outcomes already examined (with what a pending exclusion is missing there
        # and whether the tumour lacks every gate), each with what it added to the pairs' counts
        # per profile. A profile whose rules' outcomes repeat those of one examined before makes
        # every record below the same, but for its counts: those alone are added (the records keep
        # the first profile, or one of a higher rank, which a repeat cannot be; a pair's flags fall
        # once). Most profiles repeat one: the shipped rules' largest unit has about 350,000
        # distinct profiles and under 3,000 distinct outcomes.
        examined: list[dict[tuple, dict]] = [{} for _ in unit.groups]
        for prof, times in unit.distinct_profiles():
            case = None
            for gi, group in enumerate(unit.groups):
                case = case_of(dom, prof, group[0][1], case)
                ctx = Ctx(program, case)
                if gi in runs:
                    run = runs[gi]
                else:
                    run = runs[gi] = program.outcomes_function(rules, ctx.plan.derivers)
                outs = run(ctx, ctx.case) if run is not None else [rule_outcome(cr, ctx) for cr in rules]
                pend = [k for k, o in enumerate(outs) if o is not None and o.pending]
                if pend:  # pending exclusions decide nothing: they only condition the others
                    pending_outs = outs
                    outs = [None if o is not None and o.pending else o for o in outs]
                hot = [k for k, o in enumerate(outs) if o is not None]
                if not hot:  # no rule decides anything here: no slice of the group has anything to record
                    count += len(group) * times
                    continue
                lacks = bool(gate_list) and all(any(ctx.atom(i) is False for i in g) for g in gate_list)
                seen_key = (tuple(pending_outs if pend else outs), lacks,
                            tuple(pending_missing(rules[k], ctx) for k in pend))
                n_live, first_live = in_effect[gi], first_in_effect[gi]
                added = examined[gi].get(seen_key) if self.reuse_outcomes else None
                if added is not None:  # a repeat: its counts alone
                    count += len(group) * times
                    for k in hot:
                        if n_live[k]:
                            fired_count[ids[k]] = fired_count.get(ids[k], 0) + n_live[k] * times
                    for pair, (both, a) in added.items():
                        info = pair_info[pair]
                        info["both"] += both * times
                        info["a"] += a * times
                    continue
                added = examined[gi][seen_key] = {}
                for k in hot:  # each rule that speaks, fired in every slice of the group where it is in effect
                    if not n_live[k]:
                        continue
                    fired_count[ids[k]] = fired_count.get(ids[k], 0) + n_live[k] * times
                    if ids[k] not in fired:
                        fired[ids[k]] = (prof, first_live[k])
                    if ids[k] not in own_verdict:  # (its own verdict, every criterion known to be met)
                        o = outs[k]
                        if o is not None and o.when_true and not o.missing and not o.failed and o.verdict == stated[k]:
                            own_verdict.add(ids[k])
                # the rules whose overrides hold here (where in effect)
                holding = [k for k in overriding if _holds(outs[k])] if alive and overriding else ()
                seen: set[tuple] = set()
                for live, sl in group:
                    count += times
                    cand = tuple(k for k in hot if live[k])
                    if alive:
                        # a rule set aside by an override that holds gives no verdict there: it
                        # cannot stand in for the rule it seems to subsume (V005, V006)
                        lv = live
                        if holding:
                            gone = {ov.rule for k in holding if live[k] for ov in rules[k].rule.overrides}
                            if gone:
                                lv = tuple(on and ids[k] not in gone for k, on in enumerate(live))
                        self._track_pairs(alive, pair_info, lv, outs, times, added)
                    pcand = tuple(k for k in pend if live[k]) if pend else ()
                    if not cand or (cand, pcand) in seen:
                        continue  # the same outcomes as a slice already examined for this profile
                    seen.add((cand, pcand))
                    # resolution, exactly as engine.evaluation.resolve does it (engine.semantics)
                    pairs = [(rules[k], outs[k]) for k in cand] + [(rules[k], pending_outs[k]) for k in pcand]
                    decided_outs, _ = apply_pending(pairs, pending_applier(ctx)) if pcand else (pairs, [])
                    if not decided_outs:
                        continue
                    cand = tuple(index[id(cr)] for cr, _ in decided_outs)
                    outs_here = {index[id(cr)]: out for cr, out in decided_outs}
                    best_cr, _, aside = choose(decided_outs)
                    best = index[id(best_cr)]
                    livec = [k for k in cand if ids[k] not in aside]
                    bv = outs_here[best].verdict
                    decided.add(ids[best])
                    for k in cand:
                        if k != best and outs_here[k].verdict != bv and ids[k] not in decided:
                            # the example V004 gives: a rule stating the same verdict first (an
                            # overlapping approval is the rule to reconcile it with, not an
                            # exclusion that wins over both), then a definite verdict
                            rank = (stated[best] == stated[k], bv != "conditional")
                            old = contradicted.get(ids[k])
                            if old is None or rank > old[6]:
                                contradicted[ids[k]] = (ids[best], bv, outs_here[k].verdict, t, prof, sl, rank)
                    # V001: an approval and an exclusion (or a stated "not eligible") that both apply, neither set aside
                    pos = [k for k in livec if outs_here[k].when_true and approval[k]
                           and outs_here[k].verdict in ("eligible", "conditional")]
                    if pos:
                        neg = [k for k in livec if outs_here[k].when_true and (
                            outs_here[k].verdict == "excluded" or (stated_no[k] and outs_here[k].verdict == "not_eligible"))]
                        for kp in pos:
                            sure = outs_here[kp].verdict == "eligible"
                            for kq in neg:
                                hit = conflicts.get((ids[kp], ids[kq]))
                                if hit is None or (sure and not hit[4]):
                                    conflicts[(ids[kp], ids[kq])] = (t, prof, sl, (hit[3] if hit else set()) | {t}, sure)
                                else:
                                    hit[3].add(t)
                    # V002: a positive verdict for a tumour that lacks every allele gate
                    if lacks:
                        for k in cand:
                            v = outs_here[k].verdict
                            if v in POSITIVE:
                                old = leaks.get((ids[k], t))
                                if old is None or POSITIVE.index(v) < POSITIVE.index(old[0]):
                                    leaks[(ids[k], t)] = (v, gate_rules, gate_desc, prof, sl)
        return count

    @staticmethod
    def _track_pairs(alive, pair_info, live, outs, times: int, added: dict) -> None:
        """The pairs' flags and counts after one slice of a profile that stands for ``times``
        profiles (of one signature: see Unit.distinct_profiles); what it adds to each pair's
        counts per profile summed into ``added`` (pair -> [both, a])."""
        dead = []
        for key, (ka, kb) in alive.items():
            on_a, on_b = live[ka], live[kb]
            oa, ob = outs[ka], outs[kb]
            va = oa.verdict if on_a and oa is not None else None
            vb = ob.verdict if on_b and ob is not None else None
            if va is None and vb is None:  # neither speaks: nothing to compare
                continue
            info = pair_info[key]
            inc = added.get(key)
            if inc is None:
                inc = added[key] = [0, 0]
            if on_a and on_b:
                if va != vb:
                    info["eq"] = False
                elif va is not None:
                    info["both"] += times
                    inc[0] += 1
            if va is not None:
                info["a"] += times
                inc[1] += 1
                if vb != va:
                    info["sub"] = False
            if not info["sub"] and not info["eq"]:
                dead.append(key)
        for key in dead:
            del alive[key]

    def _pairs(self, dom, pair_info) -> None:
        reported: set[frozenset] = set()
        for (a, b), info in sorted(pair_info.items()):
            if info["eq"] and info["both"] and frozenset((a, b)) not in reported:
                reported.add(frozenset((a, b)))
                ts = ", ".join(sorted(info["therapies"]))
                self.add("V005", (a, b), f"{a} and {b} give {ts} the same outcome in every profile where both "
                         f"are in effect ({info['both']} profiles with an outcome): keep one, or make them differ.")
        for (a, b), info in sorted(pair_info.items()):
            if info["sub"] and info["a"] and frozenset((a, b)) not in reported:
                if pair_info.get((b, a), {}).get("sub") and a > b:
                    continue  # mutual: reported once
                ts = ", ".join(sorted(info["therapies"]))
                self.add("V006", (a, b), f"{a} adds no verdict of its own for {ts}: wherever it applies, {b} "
                         f"gives the same verdict.")

    # ---------------------------------------------------------------- derivations and notes

    def facts_and_notes(self, dom: Domain) -> dict[str, bool]:
        program = self.program
        fact_true: dict[str, bool] = {}
        by_fact: dict[str, list[CompiledRule]] = {}
        for cr in self.live_rules:
            if cr.rule.kind == "derivation" and cr.rule.derive is not None:
                by_fact.setdefault(cr.rule.derive, []).append(cr)
        self.note_fired: dict[str, bool] = {}
        self.derivation_true: dict[str, bool] = {}
        for f, ders in sorted(by_fact.items()):
            unit = Unit(dom, set(), ders)
            true_any = False
            vals_eq = {(a.rule.id, b.rule.id): True for a, b in itertools.permutations(ders, 2)}
            vals_sub = dict(vals_eq)
            both = {k: 0 for k in vals_eq}
            for prof in unit.profiles():
                for group in unit.groups:
                    case = case_of(dom, prof, group[0][1])
                    ctx = Ctx(program, case)
                    vals = [cr.when.tv(ctx) for cr in ders]
                    for live, _sl in group:
                        self.profiles += 1
                        cur = {cr.rule.id: (v if on else False) for cr, v, on in zip(ders, vals, live, strict=False)}
                        for cr, on in zip(ders, live, strict=False):
                            if on and cur[cr.rule.id] is True:
                                self.derivation_true[cr.rule.id] = True
                                true_any = True
                        for (a, b) in vals_eq:
                            va, vb = cur[a], cur[b]
                            if va != vb:
                                vals_eq[(a, b)] = False
                            if va is True and vb is not True:
                                vals_sub[(a, b)] = False
                            if va is True and vb is True:
                                both[(a, b)] += 1
            fact_true[f] = true_any
            done: set[frozenset] = set()
            for (a, b), eq in sorted(vals_eq.items()):
                if eq and both[(a, b)] and frozenset((a, b)) not in done:
                    done.add(frozenset((a, b)))
                    self.add("V005", (a, b), f"{a} and {b} derive '{f}' with the same value in every profile: keep one.")
            for (a, b), sub in sorted(vals_sub.items()):
                if sub and not vals_eq[(a, b)] and self.derivation_true.get(a):
                    self.add("V006", (a, b), f"{a} adds nothing to '{f}': wherever it holds, {b} already derives it.")
        for cr in self.live_rules:
            if cr.rule.kind != "note":
                continue
            unit = Unit(dom, set(), [cr])
            hit = False
            for prof in unit.profiles():
                for group in unit.groups:
                    ctx = Ctx(program, case_of(dom, prof, group[0][1]))
                    self.profiles += len(group)
                    if cr.when.tv(ctx) is True:
                        hit = True
                        break
                if hit:
                    break
            self.note_fired[cr.rule.id] = hit
        return fact_true

    # ---------------------------------------------------------------- per-rule verdicts

    def rule_findings(self, dom: Domain, fact_true: dict[str, bool]) -> None:
        for cr in self.live_rules:
            r = cr.rule
            rid = r.id
            window = f"{r.effective_from}" + (f" to {r.effective_to}" if r.effective_to else " onwards")
            if r.kind == "conclusion":
                if rid not in self.fired:
                    self.add("V003", (rid,), f"{rid} gives no outcome in any profile (in effect {window}"
                             + (f", {r.jurisdiction}" if r.jurisdiction else "") + "): its conditions can never hold together.")
                elif rid not in self.own_verdict and r.conclude is not None:
                    prof, sl = self.fired[rid]
                    self.add("V003", (rid,), f"{rid} never gives its own verdict '{r.conclude.verdict}' (in effect {window}"
                             + (f", {r.jurisdiction}" if r.jurisdiction else "") + "): in no profile are its 'when' and "
                             "every requirement met together, so it only ever says what a case fails or misses. Is a "
                             "requirement at odds with the 'when' or with another requirement?", witness(dom, prof, sl))
                elif rid not in self.decided:
                    if rid in self.contradicted:
                        other, v_best, v_own, t, prof, sl, _ = self.contradicted[rid]
                        self.add("V004", (rid, other), f"{t}: {rid} gives outcomes in {self.fired_count[rid]} profiles "
                                 f"but never decides; for example {other} ('{v_best}') wins over its '{v_own}'. "
                                 f"Declare precedence with 'overrides' or remove the rule.", witness(dom, prof, sl), t)
                    elif not any(f.code in ("V005", "V006") and rid in f.rules for f in self.findings):
                        prof, sl = self.fired[rid]
                        self.add("V006", (rid,), f"{rid} never decides its therapies: wherever it applies a stronger "
                                 f"rule gives the same verdict (it only appears under 'considered').", witness(dom, prof, sl))
            elif r.kind == "derivation":
                if not self.derivation_true.get(rid):
                    self.add("V003", (rid,), f"{rid} never makes '{r.derive}' true in any profile (in effect {window}).")
            elif r.kind == "note" and not self.note_fired.get(rid):
                self.add("V003", (rid,), f"note {rid} appears in no profile (in effect {window}).")
        for f, users in sorted(self.used_facts.items()):
            if f in fact_true and not fact_true[f]:
                ders = sorted(cr.rule.id for cr in self.program.derivers.get(f, ()) if cr.rule.status != "retired")
                self.add("V007", (*ders, *sorted(users)), f"fact '{f}' (derived by {', '.join(ders)}) is true in no "
                         f"profile, so {', '.join(sorted(users))} can never use it.")

    # ---------------------------------------------------------------- coverage

    def coverage(self, dom: Domain) -> tuple[int, int]:
        """Each cancer type a conclusion rule names, with each alteration pattern a conclusion rule
        uses (directly or through facts): does a rule in effect at the knowledge version speak to a
        tumour of that type known to carry a matching alteration, the rest unknown?"""
        program = self.program
        kv = self.rb.meta.knowledge_version
        concl = [cr for cr in self.live_rules if cr.rule.kind == "conclusion"]
        rule_atoms: dict[str, set[int]] = {}
        for cr in concl:
            atoms: set[int] = set()
            facts: set[str] = set()
            _walk(cr.when, program, atoms, facts)
            for r in cr.requires:
                _walk(r, program, atoms, facts)
            rule_atoms[cr.rule.id] = atoms
        used = set().union(*rule_atoms.values()) if rule_atoms else set()
        cancers = sorted({c for i in used for c in leaf_names(program, i).cancers})
        markers = sorted((i for i in used if leaf_names(program, i).gene is not None),
                         key=lambda i: _describe_atom(program, i))
        reps: dict[int, tuple[str, GeneState]] = {}
        for i in markers:
            g = leaf_names(program, i).gene
            assert g is not None  # (markers name a gene)
            gdim = dom.genes[g]
            pos = gdim.atoms.index(i)
            best = None
            for st, vecs in zip(gdim.values, gdim.vectors, strict=True):
                vec = vecs[0]  # with germline testing done
                if len(st.alts) != 1 or vec is None or vec[pos] is not True:
                    continue
                score = sum(1 for v in vec if v is True)
                if best is None or score < best[0]:
                    best = (score, st)
            if best is not None:
                reps[i] = (g, best[1])
        jurs = sorted({sl.jurisdiction for sl in dom.slices})
        total = gaps = 0
        for code in cancers:
            missing: list[str] = []
            first = None
            for i in markers:
                if i not in reps:
                    continue
                g, st = reps[i]
                total += 1
                hit = False
                for j in jurs:
                    case = dom._probe(cancer=code, genes={g: st}, sl=Slice(kv, j))
                    ctx = _GeneOnlyCtx(program, case, g)
                    for cr in concl:
                        if not cr.in_effect(case):
                            continue
                        if not any(leaf_names(program, k).gene == g and ctx.atom(k) is True for k in rule_atoms[cr.rule.id]):
                            continue
                        if cr.when.tv(ctx) is not False:
                            hit = True
                            break
                    if hit:
                        break
                self.coverage_checked += 1
                if not hit:
                    gaps += 1
                    desc = _describe_atom(program, i)
                    if desc not in missing:
                        missing.append(desc)
                    if first is None:
                        first = witness(dom, (code, dom.unknown, {g: st}, None), Slice(kv, dom.default_jurisdiction))
            if missing:
                self.add("V010", (), f"{code}: no conclusion rule in effect on {kv} speaks to a {code} tumour with "
                         f"{'; '.join(missing)} (each named by the rules).", first)
        return total, gaps


class _GeneOnlyCtx(Ctx):
    """Only the cancer type and one gene's alterations are known; the gene's atoms that the
    alteration does not make true are unknown (the rest of the tumour is not known)."""

    __slots__ = ("gene",)

    def __init__(self, program: Program, case: NormalCase, gene: str):
        super().__init__(program, case)
        self.gene = gene

    def atom(self, i: int):
        v = self.atoms[i]
        if v is not None and v is not True and v is not False:
            a = self.program.atoms[i]
            if KINDS[a.kind].dimension == "cancer":
                v = a.fn(self.case)
            elif leaf_names(self.program, i).gene == self.gene:
                v = True if a.fn(self.case) is True else None
            else:
                v = None
            self.atoms[i] = v
        return v


def _undefined_day(cr: CompiledRule, derivers: list[CompiledRule]) -> dt.date | None:
    """The first day within ``cr``'s dates (and for its regulator) on which none of ``derivers``
    is in effect, or None. A gap can begin only on ``cr``'s first day or on a day a derivation
    ends, so only those days are looked at."""
    days = [cr.start] + [d.end for d in derivers if d.end is not None and cr.start < d.end
                         and (cr.end is None or d.end < cr.end)]
    for day in sorted(days):
        if not any(d.start <= day and (d.end is None or day < d.end)
                   and (d.jurisdiction is None or d.jurisdiction == cr.jurisdiction) for d in derivers):
            return day
    return None


def _refs_of(cr: CompiledRule) -> set[str]:
    out: set[str] = set()
    _fact_refs(cr.when, out)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with a cycle (Tarjan), each in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _holds(out) -> bool:
    """Whether a rule outcome's ``when`` is definitely true (its ``overrides`` then apply)."""
    return out is not None and out.when_true


# the verifier and what its forked processes search (set by Verifier._searched_apart before it forks)
_FORKED: tuple | None = None


def _search_forked(t: str) -> tuple:
    verifier, dom, by_therapy, gates = _FORKED  # type: ignore[misc]
    return t, verifier._search_one(dom, t, by_therapy, gates)
