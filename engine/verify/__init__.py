"""Semantic verification of a rule base: the checks ``kras-rules check`` runs after the examples.

The rules mention finitely many things: cancer codes, alterations (named variants, codons,
kinds, origins), stages, prior-therapy patterns, dates and jurisdictions. Every case falls into
one *abstract profile* of that finite domain, and every case of a profile gets the same outcome
from every rule. :func:`verify` enumerates the profiles, for each therapy separately over only the
dimensions its rules (and the facts they use) mention, evaluates every rule with the engine's own
evaluator and resolution order, and reports what it finds. Nothing here knows a gene, drug or
date: the domain is built from the compiled rules and the vocabulary.

The domain, per dimension (values that give every relevant condition the same value are merged,
so the enumeration is exhaustive, not sampled):

* cancer type: each code a rule names (it stands for its whole OncoTree subtree) and one code
  outside all of them;
* each gene a rule names: not tested, tested wild-type, and every set of up to
  :data:`MAX_ALTERATIONS_PER_GENE` alterations from the gene's alphabet: each named variant, a
  concrete unnamed change at each named codon, a change at another codon, an unspecified
  ``mutation``, each named kind (amplification, fusion with each named partner, loss), each
  somatic or germline and acquired or not where a rule distinguishes it;
* genes that the rules searched together read only through one derived fact, whose derivations
  read those genes and nothing else (RAS-mutant, from two genes, for example): one dimension, one
  combination of their states for each set of values the fact's derivations take (where the rules
  ask only whether the fact is true, under ``unmet``, false and unknown are one value). The rules
  see those genes only as the fact, so every other combination gives them the same outcomes;
  without this, each gene such a fact reads would multiply the search;
* each scalar case field a condition kind declares (its ``FieldDimension``: stage, germline
  testing, candidacy for multiagent therapy, ...): unknown or each value;
* prior therapy: unknown, none, and every history of up to :data:`MAX_LINES` lines built from the
  classes and drugs the rules name (all their combinations when there are few, otherwise each
  one, each pattern and all of them together), each named setting and outcome plus another one,
  and weeks on each side of each ``min_weeks``;
* date and jurisdiction: each ``effective_from`` / ``effective_to`` and the day before, in each
  jurisdiction a rule names, the default one and one no rule names.

Each dimension is reduced on its own, so where an atom reads two of them (an alteration acquired
on a drug reads the gene and the history's exposure to the drug) their product repeats profiles
that read every atom alike: a tenth of the largest units' profiles are distinct. The search
evaluates the first profile of each *signature* (the values of the unit's atoms) and counts it as
many times as profiles have it, so the findings, witnesses and counts are those of evaluating
every profile (:meth:`engine.verify.domain.Unit.distinct_profiles`).

Findings, each with a stable code, the rules concerned and a witness case (compact case JSON that
``kras-rules evaluate`` accepts and that reproduces the finding). The codes, their names,
severities and meanings are data in :data:`engine.semantics.CHECK_CODES` (rules/README.md's table
is generated from it): V001 conflict, V002 allele leak, V003 dead rule, V004 shadowed rule, V005
duplicate rule, V006 subsumed rule, V007 fact never produced, V008 fact never used, V009 cycle,
V010 coverage gap, V011 population and conditions disagree, V012 population not stated, V014 fact
read outside its derivations' dates.

Verdict compatibility (V001). Rules about one therapy may legitimately disagree: an approval
under one label and a failed criterion under another (``eligible`` and ``not_eligible``: any
indication met is enough), a trial option and a failed label criterion, an exclusion and a failed
criterion. Those are settled by the documented strength order. The one contradiction that must be
declared is an approval meeting an exclusion: strength alone would silently let the exclusion win,
so one of the two rules (or a third rule that applies) must say ``overrides``. Only rules whose
``when`` is true count: a rule that merely might apply (``conditional`` on an unknown biomarker)
asserts nothing yet, and the profile where the biomarker is known is examined anyway.

Allele gates (V002). A therapy is *gated* by an allele when one of its ``eligible`` rules needs,
in its ``when`` (directly or through derived facts), an alteration pattern that names variants or
codons: with that pattern false the rule cannot apply. A therapy also inherits the gates of every
catalogue therapy whose drugs it contains (an inhibitor's gate holds for its combinations). A
profile *lacks* the gate when the gene was tested and every gated approval is ruled out by it;
any rule giving the therapy a positive verdict there leaks.
"""
from __future__ import annotations

import time

from engine.errors import Problem
from engine.evaluation.evaluator import Program
from engine.verify.checks import Verifier
from engine.verify.domain import MAX_ALTERATIONS_PER_GENE, MAX_LINES, Domain
from engine.verify.report import CODES, SEARCH_CODES, Finding, VerifyReport

__all__ = ["CODES", "SEARCH_CODES", "Finding", "VerifyReport", "verify"]


def verify(engine, *, search: bool = True, domain: Domain | None = None, jobs: int = 1) -> VerifyReport:
    """Run every semantic check on ``engine``'s rule base (an :class:`engine.api.Engine` or a
    compiled :class:`~engine.evaluation.evaluator.Program`) and return the findings, errors and summary.

    ``search=False`` (``check --quick``) runs only the checks that need no enumeration of profiles
    (facts derived by no rule or used by none, cycles, facts read outside their derivations' dates,
    populations: V007, V008, V009, V014, V011, V012) and says so in the
    summary; the codes of :data:`SEARCH_CODES` are then not looked for.

    ``domain``: the abstract domain of the same program, built before (``Domain(program)``), for a
    caller that checks one rule base several times: its dimensions are then built once.

    ``jobs``: the search per therapy runs in that many forked processes (POSIX; the findings
    are the same as with one)."""
    program: Program = engine if isinstance(engine, Program) else engine.program
    t0 = time.perf_counter()
    v = Verifier(program)
    v.structure()
    v.exclude_cycles()
    if domain is not None and domain.program is not program:
        raise ValueError("verify: the domain given was built for another rule base")
    dom = domain if domain is not None else Domain(program)
    v.populations(dom)
    if not search:
        return _report(program, v, dom, time.perf_counter() - t0, None, None)
    _ = (dom.genes, dom.slices)  # (built when first used: built here, so the summary's figure for them is whole)
    t_dom = time.perf_counter() - t0
    v.therapies(dom, jobs=jobs)
    fact_true = v.facts_and_notes(dom)
    v.rule_findings(dom, fact_true)
    combos, gaps = v.coverage(dom)
    seconds = time.perf_counter() - t0
    return _report(program, v, dom, seconds, t_dom, (combos, gaps))


def _report(program: Program, v: Verifier, dom: Domain, seconds: float, t_dom: float | None,
            coverage: tuple[int, int] | None) -> VerifyReport:
    rep = VerifyReport(profiles=v.profiles, seconds=seconds, per_therapy=dict(v.per_therapy))
    order = {c: i for i, c in enumerate(CODES)}
    rep.findings = sorted(v.findings, key=lambda f: (order[f.code], f.rules, f.therapy or ""))
    for f in rep.findings:
        path = (program.rb.rule_files.get(f.rules[0], ""), f.rules[0]) if f.rules else ()
        p = Problem(f.text(), tuple(x for x in path if x))
        (rep.problems if f.severity == "error" else rep.warnings).append(p)
    if t_dom is None or coverage is None:  # the quick checks only
        rep.summary = [
            f"verify: quick: facts, cycles and populations checked in {seconds:.2f} s; the exhaustive "
            f"search of profiles was skipped ({', '.join(SEARCH_CODES)} not looked for: run check without --quick)",
            f"verify: {len(rep.problems)} error(s), {len(rep.warnings)} warning(s)",
        ]
        for w in rep.warnings:
            rep.summary.append("warning: " + w.render())
        return rep
    combos, gaps = coverage
    genes = ", ".join(f"{g} {len(d.values)}" for g, d in dom.genes.items())
    rep.summary = [
        f"verify: {rep.profiles:,} abstract profiles examined in {seconds:.2f} s "
        f"(domain built in {t_dom + dom.history_seconds:.2f} s, its prior-therapy histories in {dom.history_seconds:.2f} s), "
        "exhaustive per therapy, derived fact and note",
        f"verify: domain: {len(dom.cancers.values)} cancer classes, "
        + "".join(f"{fd.name} {len(d.values)}, " for fd, d in dom.fields)
        + f"prior therapy {sum(len(d.values) for d in dom.histories):,} histories in {len(dom.histories)} dimensions "
        "(one per set of history conditions a search reads), "
        f"{len(dom.slices)} date/jurisdiction points; gene states (up to {MAX_ALTERATIONS_PER_GENE} alterations "
        f"per gene, histories up to {MAX_LINES} lines): {genes or 'none'}",
        "verify: profiles per therapy: " + ", ".join(f"{t} {n:,}" for t, n in sorted(rep.per_therapy.items())),
        f"verify: coverage: {combos} cancer/biomarker combinations, {gaps} spoken to by no rule",
        f"verify: {len(rep.problems)} error(s), {len(rep.warnings)} warning(s)",
    ]
    if v.skipped:
        rep.summary.insert(1, "verify: not searched (they depend on a cycle of facts): " + ", ".join(v.skipped))
    for w in rep.warnings:
        rep.summary.append("warning: " + w.render())
    return rep
