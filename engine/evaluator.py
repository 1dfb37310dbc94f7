"""The default backend: compiles a validated rule base and evaluates normalised cases.

Compilation turns every leaf condition into an *atom*: a small function of the case giving
``True``, ``False`` or ``None`` (unknown). Identical leaves share one atom. Combinators (``all``,
``any``, ``not``, ``unmet``) and derived facts are evaluated over atoms with Kleene's three-valued
logic. The per-rule outcome (:class:`RuleOutcome`) is then turned into options by
:mod:`engine.resolve`, which every backend shares.

Nothing here knows a gene, drug or date: all of it comes from the rule files.
"""
from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Callable

from engine.case import NormalCase
from engine.rulebase import RuleBase
from engine.rules_model import (
    AlterationCond,
    All,
    Any_,
    CancerCond,
    FactCond,
    GermlineTestedCond,
    Not,
    PriorLineCond,
    PriorLinesCond,
    ReceivedCond,
    Rule,
    StageCond,
    TherapySelector,
    Unmet,
)

TV = bool | None  # three-valued truth: True, False, None (unknown)
_UNSET = object()


# --------------------------------------------------------------------------- atoms


@dataclass(frozen=True)
class Atom:
    """A compiled leaf predicate."""

    index: int
    key: tuple  # canonical description of the leaf (equal leaves share an atom)
    kind: str  # the condition key: cancer, alteration, stage, ...
    fn: Callable[[NormalCase], TV]
    missing: Callable[[NormalCase], str]  # what to find out when the atom is unknown
    describe: Callable[[NormalCase], str]  # the case facts that made it true
    spec: object  # the pydantic condition it came from
    label: str  # the criterion in words, e.g. "KRAS G12C" (used when it is false)


def _acquired_on(cls: str):
    """Whether one case alteration was acquired on drug class ``cls`` (three-valued, see
    rules/README.md): the alteration's own flag first, then the history."""

    def tv(alt, case: NormalCase) -> TV:
        if alt.acquired is not None:
            return alt.acquired
        lines = case.lines
        if lines is None:
            return None
        exposed = False
        for ln in lines:
            if cls in ln.classes:
                if ln.outcome == "progression":
                    return True
                exposed = True
        return None if exposed else False

    return tv


def _alteration_atom(cond: AlterationCond, vocab) -> tuple:
    a = cond.alteration
    gene = a.gene
    labels = None
    if a.variant is not None:
        labels = frozenset({vocab.variant(gene, a.variant).label})
    elif a.variants is not None:
        labels = frozenset(vocab.variant(gene, v).label for v in a.variants)
    exclude = frozenset(vocab.variant(gene, v).label for v in a.exclude_variants) if a.exclude_variants else frozenset()
    codons = frozenset(a.codons) if a.codons is not None else None
    kind, origin, acquired, partner = a.kind, a.origin, a.acquired, a.partner
    on = a.acquired_on
    acq_on = _acquired_on(on) if on is not None else None
    specific = labels is not None or codons is not None
    key = ("alteration", gene, labels, codons, exclude, kind, origin, acquired, partner, on)

    def matches(alt) -> bool:
        if alt.gene != gene:
            return False
        if origin is not None and alt.origin != origin:
            return False
        if acquired is not None and (alt.acquired is True) != acquired:
            return False
        if kind is not None and alt.kind != kind:
            return False
        if labels is not None and alt.label not in labels:
            return False
        if codons is not None and alt.codon not in codons:
            return False
        if exclude and alt.label in exclude:
            return False
        if partner is not None and alt.partner != partner:
            return False
        return True

    def vague(alt) -> bool:
        # an unspecified "mutation" of the gene could be the specific change the pattern names
        return (
            specific
            and alt.gene == gene
            and alt.codon is None
            and alt.kind == "mutation"
            and (kind is None or kind == "mutation")
            and (origin is None or alt.origin == origin)
            and (acquired is None or (alt.acquired is True) == acquired)
        )

    def fn(case: NormalCase) -> TV:
        unsure = False
        found = False
        for alt in case.alterations:
            if matches(alt):
                if acq_on is None:
                    return True
                v = acq_on(alt, case)
                if v:
                    return True
                found = True
                if v is None:
                    unsure = True
            elif not unsure and vague(alt):
                unsure = True
        if unsure:
            return None
        if found:
            return False
        if origin == "germline":
            return False if case.germline_tested else None
        return False if gene in case.tested else None

    label = _alteration_words(a)

    def missing(case: NormalCase) -> str:
        if any(vague(alt) for alt in case.alterations):
            return f"the exact {gene} variant"
        if on is not None and any(matches(alt) for alt in case.alterations):
            return (f"whether {label} was acquired on a {vocab.class_label(on)} "
                    "(prior therapy history or the alteration's 'acquired' flag)")
        if origin == "germline":
            return "germline testing"
        return f"{gene} testing"

    def describe(case: NormalCase) -> str:
        found = [alt for alt in case.alterations if matches(alt)]
        if acq_on is not None:
            found = [alt for alt in found if acq_on(alt, case)]
            return ", ".join(f"{alt.describe()} acquired on a {vocab.class_label(on)}" for alt in found)
        return ", ".join(alt.describe() for alt in found)

    return key, fn, missing, describe


def _alteration_words(a) -> str:
    what = a.variant or (", ".join(a.variants) if a.variants else None)
    if what is None and a.codons:
        what = f"{a.kind or 'change'} at codon {', '.join(map(str, a.codons))}"
    if what is None:
        what = a.kind or "alteration"
    return f"{a.gene} {what}"


def _cancer_atom(cond: CancerCond, vocab) -> tuple:
    codes = frozenset(cond.cancer)
    key = ("cancer", codes)
    # a case coded less specifically than a listed code (LUNG for NSCLC) may be of it: unknown
    coarser = frozenset(anc for c in codes for anc in vocab.cancer(c).lineage[1:]) - codes

    def fn(case: NormalCase) -> TV:
        if not codes.isdisjoint(case.lineage):
            return True
        return None if case.cancer.code in coarser else False

    def describe(case: NormalCase) -> str:
        within = sorted(codes & case.lineage)
        c = case.cancer
        if within and within != [c.code]:
            return f"{c.code} ({c.name}), a kind of {', '.join(within)}"
        return f"{c.code} ({c.name})"

    return key, fn, (lambda case: "cancer subtype (histology)"), describe


def _stage_atom(cond: StageCond, vocab) -> tuple:
    stages = frozenset(cond.stage)

    def fn(case: NormalCase) -> TV:
        return None if case.stage is None else case.stage in stages

    return ("stage", stages), fn, (lambda case: "stage"), (lambda case: f"stage {case.stage}")


def _germline_atom(cond: GermlineTestedCond, vocab) -> tuple:
    want = cond.germline_tested

    def fn(case: NormalCase) -> TV:
        g = case.germline_tested
        return None if g is None else (g is want)

    def describe(case: NormalCase) -> str:
        return "germline testing done" if case.germline_tested else "no germline testing"

    return ("germline_tested", want), fn, (lambda case: "germline testing"), describe


def _prior_lines_atom(cond: PriorLinesCond, vocab) -> tuple:
    p = cond.prior_lines
    lo, hi, settings = p.min, p.max, frozenset(p.setting) if p.setting else None

    def fn(case: NormalCase) -> TV:
        lines = case.lines
        if lines is None:
            return None
        if settings is None:
            sure = maybe = len(lines)
        else:
            sure = sum(1 for ln in lines if ln.setting in settings)
            maybe = sure + sum(1 for ln in lines if ln.setting is None)
        if lo is not None:
            if maybe < lo:
                return False
            if sure < lo:
                return None
        if hi is not None:
            if sure > hi:
                return False
            if maybe > hi:
                return None
        return True

    def missing(case: NormalCase) -> str:
        return "prior therapy history" if case.lines is None else "setting of each prior therapy"

    def describe(case: NormalCase) -> str:
        n = len(case.lines or ())
        if n == 0:
            return "no prior systemic therapy (treatment-naive)"
        return f"{n} prior systemic therapy line{'s' if n != 1 else ''}: " + "; ".join(
            ln.describe() for ln in case.lines or ()
        )

    return ("prior_lines", lo, hi, settings), fn, missing, describe


def _received_atom(cond: ReceivedCond, vocab) -> tuple:
    p = cond.received
    classes, drugs = frozenset(p.classes), frozenset(vocab.drug(d).name for d in p.drugs)

    def fn(case: NormalCase) -> TV:
        lines = case.lines
        if lines is None:
            return None
        got_c: set[str] = set()
        got_d: set[str] = set()
        for ln in lines:
            got_c |= ln.classes
            got_d |= ln.drugs
        return classes <= got_c and drugs <= got_d

    def describe(case: NormalCase) -> str:
        return "prior " + "; ".join(ln.describe() for ln in case.lines or ())

    return ("received", classes, drugs), fn, (lambda case: "prior therapy history"), describe


_NOT_A_LINE = frozenset({"adjuvant", "neoadjuvant"})  # settings not counted as a line for advanced disease


def _seq(ln) -> int:
    return ln.seq


def _positions(lines) -> list[TV]:
    """Per line: is it the first line for advanced/metastatic disease? Lines are chronological;
    adjuvant/neoadjuvant lines are not counted; a line of unknown setting makes what follows
    unknown (and is itself unknown)."""
    out: list[TV] = []
    before: TV = False  # some earlier line counted as a line for advanced disease
    for ln in lines:
        if ln.setting in _NOT_A_LINE:
            out.append(False)
            continue
        own: TV = None if ln.setting is None else True
        out.append(False if before is True else (None if before is None or own is None else True))
        if ln.setting is None:
            if before is False:
                before = None
        else:
            before = True
    return out


def _prior_line_atom(cond: PriorLineCond, vocab) -> tuple:
    p = cond.prior_line
    classes, drugs = frozenset(p.classes), frozenset(vocab.drug(d).name for d in p.drugs)
    settings = frozenset(p.setting) if p.setting else None
    outcomes = frozenset(p.outcome) if p.outcome else None
    not_outcomes = frozenset(p.outcome_not) if p.outcome_not else None
    min_weeks = p.min_weeks
    position = p.position

    def line_tv(ln, pos: TV = True) -> TV:
        if not (classes <= ln.classes and drugs <= ln.drugs):
            return False
        if pos is False:
            return False
        unsure = pos is None
        if settings is not None:
            if ln.setting is None:
                unsure = True
            elif ln.setting not in settings:
                return False
        if outcomes is not None:
            if ln.outcome is None:
                unsure = True
            elif ln.outcome not in outcomes:
                return False
        if not_outcomes is not None:
            if ln.outcome is None:
                unsure = True
            elif ln.outcome in not_outcomes:
                return False
        if min_weeks is not None:
            if ln.weeks is None:
                unsure = True
            elif ln.weeks < min_weeks:
                return False
        return None if unsure else True

    def positions(lines) -> list[TV]:
        if position == "first":
            return _positions(lines)
        if position == "last":
            return [i == len(lines) - 1 for i in range(len(lines))]
        return [True] * len(lines)

    def chronological(lines):
        # lines are kept sorted (results do not depend on the order entries are listed in);
        # a position needs them in the case's order
        return sorted(lines, key=_seq) if position is not None else lines

    def fn(case: NormalCase) -> TV:
        lines = case.lines
        if lines is None:
            return None
        lines = chronological(lines)
        unsure = False
        for ln, pos in zip(lines, positions(lines)):
            v = line_tv(ln, pos)
            if v:
                return True
            if v is None:
                unsure = True
        return None if unsure else False

    def missing(case: NormalCase) -> str:
        if case.lines is None:
            return "prior therapy history"
        wanted = [w for w, on in (("setting", settings or (position == "first" or None)),
                                  ("outcome", outcomes or not_outcomes), ("weeks", min_weeks)) if on is not None]
        return "details of prior therapy (" + ", ".join(wanted) + ")"

    def describe(case: NormalCase) -> str:
        lines = chronological(case.lines or ())
        return "prior " + "; ".join(ln.describe() for ln, pos in zip(lines, positions(lines)) if line_tv(ln, pos))

    key = ("prior_line", classes, drugs, settings, outcomes, min_weeks, not_outcomes, position)
    return key, fn, missing, describe


def atom_label(cond) -> str:
    """A leaf condition in words, for explanations ("KRAS G12C", "stage metastatic", ...)."""
    if isinstance(cond, AlterationCond):
        a = cond.alteration
        extra = [x for x in (a.origin if a.origin == "germline" else None, "acquired" if a.acquired else None,
                             f"acquired on {a.acquired_on}" if a.acquired_on else None) if x]
        return _alteration_words(a) + (f" ({', '.join(extra)})" if extra else "")
    if isinstance(cond, CancerCond):
        return "cancer type " + " or ".join(cond.cancer)
    if isinstance(cond, StageCond):
        return "stage " + " or ".join(cond.stage)
    if isinstance(cond, GermlineTestedCond):
        return "germline testing done" if cond.germline_tested else "no germline testing"
    if isinstance(cond, PriorLinesCond):
        p = cond.prior_lines
        bits = [f"at least {p.min}" if p.min is not None else "", f"at most {p.max}" if p.max is not None else ""]
        return " and ".join(b for b in bits if b) + " prior systemic therapy line(s)"
    if isinstance(cond, ReceivedCond):
        return "prior " + ", ".join(cond.received.classes + cond.received.drugs)
    if isinstance(cond, PriorLineCond):
        p = cond.prior_line
        return "a prior line of " + ", ".join(p.classes + p.drugs)
    return type(cond).__name__  # pragma: no cover


_ATOM_BUILDERS = {
    CancerCond: _cancer_atom,
    AlterationCond: _alteration_atom,
    StageCond: _stage_atom,
    GermlineTestedCond: _germline_atom,
    PriorLinesCond: _prior_lines_atom,
    ReceivedCond: _received_atom,
    PriorLineCond: _prior_line_atom,
}


# --------------------------------------------------------------------------- nodes


class Ctx:
    """Per-case evaluation state: atom values and derived facts, computed once each."""

    __slots__ = ("case", "atoms", "facts", "program", "memo", "plan")

    def __init__(self, program: "Program", case: NormalCase, plan: "Plan | None" = None):
        self.program = program
        self.case = case
        self.atoms = [_UNSET] * len(program.atoms)
        self.facts: dict[str, TV] = {}
        self.memo: dict = {}  # per-case cache for explanations
        self.plan = plan if plan is not None else program.plan(case)

    def atom(self, i: int) -> TV:
        v = self.atoms[i]
        if v is _UNSET:
            v = self.atoms[i] = self.program.atoms[i].fn(self.case)
        return v

    def fact(self, name: str) -> TV:
        try:
            return self.facts[name]
        except KeyError:
            pass
        self.facts[name] = None  # guards against cycles (check rejects them anyway)
        v: TV = False
        for cr in self.plan.derivers.get(name, ()):
            w = cr.when.tv(self)
            if w:
                v = True
                break
            if w is None:
                v = None
        self.facts[name] = v
        return v


class Node:
    __slots__ = ()

    def tv(self, ctx: Ctx) -> TV:  # pragma: no cover - abstract
        raise NotImplementedError

    def missing(self, ctx: Ctx, out: set[str]) -> None:
        """Add what to find out, for a node whose value is unknown."""

    def leaves(self, ctx: Ctx, want: TV, out: list) -> None:
        """Collect the leaves (atoms and facts) whose value is ``want`` and mattered."""

    def probe(self, ctx: Ctx) -> TV:
        """The value when only the cancer type is known: None means "depends on the rest"."""
        raise NotImplementedError  # pragma: no cover


class AtomNode(Node):
    __slots__ = ("i",)

    def __init__(self, i: int):
        self.i = i

    def tv(self, ctx: Ctx) -> TV:
        v = ctx.atoms[self.i]
        if v is _UNSET:
            v = ctx.atom(self.i)
        return v

    def missing(self, ctx: Ctx, out: set[str]) -> None:
        out.add(ctx.program.atoms[self.i].missing(ctx.case))

    def leaves(self, ctx: Ctx, want: TV, out: list) -> None:
        if self.tv(ctx) is want:
            out.append(("atom", self.i))

    def probe(self, ctx: Ctx) -> TV:
        return ctx.atom(self.i) if ctx.program.atoms[self.i].kind == "cancer" else None


class FactNode(Node):
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def tv(self, ctx: Ctx) -> TV:
        return ctx.fact(self.name)

    def missing(self, ctx: Ctx, out: set[str]) -> None:
        busy = ctx.memo.setdefault("missing-busy", set())
        if self.name in busy:  # a cycle of facts (check reports it as V009)
            return
        busy.add(self.name)
        for cr in ctx.plan.derivers.get(self.name, ()):
            if cr.when.tv(ctx) is None:
                cr.when.missing(ctx, out)
        busy.discard(self.name)

    def leaves(self, ctx: Ctx, want: TV, out: list) -> None:
        if self.tv(ctx) is want:
            out.append(("fact", self.name))

    def probe(self, ctx: Ctx) -> TV:
        return None


class AllNode(Node):
    __slots__ = ("kids",)

    def __init__(self, kids):
        self.kids = tuple(kids)

    def tv(self, ctx: Ctx) -> TV:
        res: TV = True
        for k in self.kids:
            v = k.tv(ctx)
            if v is False:
                return False
            if v is None:
                res = None
        return res

    def missing(self, ctx: Ctx, out: set[str]) -> None:
        for k in self.kids:
            if k.tv(ctx) is None:
                k.missing(ctx, out)

    def leaves(self, ctx: Ctx, want: TV, out: list) -> None:
        for k in self.kids:
            k.leaves(ctx, want, out)

    def probe(self, ctx: Ctx) -> TV:
        vals = [k.probe(ctx) for k in self.kids]
        return False if False in vals else (None if None in vals else True)


class AnyNode(AllNode):
    __slots__ = ()

    def tv(self, ctx: Ctx) -> TV:
        res: TV = False
        for k in self.kids:
            v = k.tv(ctx)
            if v is True:
                return True
            if v is None:
                res = None
        return res

    def leaves(self, ctx: Ctx, want: TV, out: list) -> None:
        if want is True:
            for k in self.kids:  # the first true branch is the reason
                if k.tv(ctx) is True:
                    k.leaves(ctx, want, out)
                    return
        for k in self.kids:
            k.leaves(ctx, want, out)

    def probe(self, ctx: Ctx) -> TV:
        vals = [k.probe(ctx) for k in self.kids]
        return True if True in vals else (None if None in vals else False)


class NotNode(Node):
    __slots__ = ("kid",)

    def __init__(self, kid: Node):
        self.kid = kid

    def tv(self, ctx: Ctx) -> TV:
        v = self.kid.tv(ctx)
        return None if v is None else not v

    def missing(self, ctx: Ctx, out: set[str]) -> None:
        self.kid.missing(ctx, out)

    def leaves(self, ctx: Ctx, want: TV, out: list) -> None:
        self.kid.leaves(ctx, None if want is None else not want, out)

    def probe(self, ctx: Ctx) -> TV:
        v = self.kid.probe(ctx)
        return None if v is None else not v


class UnmetNode(NotNode):
    __slots__ = ()

    def tv(self, ctx: Ctx) -> TV:
        return self.kid.tv(ctx) is not True

    def leaves(self, ctx: Ctx, want: TV, out: list) -> None:
        if want is True:
            self.kid.leaves(ctx, False, out)
            self.kid.leaves(ctx, None, out)

    def probe(self, ctx: Ctx) -> TV:
        v = self.kid.probe(ctx)
        return None if v is None else v is not True


# --------------------------------------------------------------------------- rules


@dataclass
class CompiledRule:
    rule: Rule
    when: Node
    requires: tuple[Node, ...]
    targets: tuple[str, ...]
    order: int
    start: dt.date = field(init=False)
    selector: bool = field(init=False)  # targets come from a class selector (scoped, see resolve)
    end: dt.date | None = field(init=False)
    jurisdiction: str | None = field(init=False)

    def __post_init__(self):
        self.start = self.rule.effective_from
        self.end = self.rule.effective_to
        self.jurisdiction = self.rule.jurisdiction.upper() if self.rule.jurisdiction else None
        target = self.rule.conclude or self.rule.about
        self.selector = target is not None and isinstance(target.therapies, TherapySelector)

    def in_effect(self, case: NormalCase) -> bool:
        d = case.as_of
        return (
            self.rule.status != "retired"
            and self.start <= d
            and (self.end is None or d < self.end)
            and (self.jurisdiction is None or self.jurisdiction == case.jurisdiction)
        )


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What one conclusion rule says about its therapies for one case."""

    rule_id: str
    verdict: str  # eligible, conditional, consider, not_eligible, excluded
    when_true: bool  # the rule's `when` was definitely true (needed for explicit precedence)
    missing: tuple[str, ...]
    failed: tuple[str, ...]  # the criteria that failed (for unmet verdicts)
    # an exclusion whose gate is unknown: it decides nothing, but makes the eligible outcomes it
    # would override conditional (resolution applies it)
    pending: bool = False


_NO_W = object()


def rule_outcome(cr: CompiledRule, ctx: Ctx, w=_NO_W) -> RuleOutcome | None:
    """The three-valued outcome of a conclusion rule (see rules/README.md), or None if silent."""
    if w is _NO_W:
        w = cr.when.tv(ctx)
    if w is False:
        return None
    rule = cr.rule
    concl = rule.conclude
    failed: list[str] = []
    unknown: list[int] = []
    for i, node in enumerate(cr.requires):
        v = node.tv(ctx)
        if v is False:
            failed.append(rule.requires[i].criterion)
        elif v is None:
            unknown.append(i)
    if failed:
        if concl.unmet is None:
            return None
        return RuleOutcome(rule.id, concl.unmet, w is True, (), tuple(failed))
    if w is True and not unknown:
        return RuleOutcome(rule.id, concl.verdict, True, (), ())
    if w is None and concl.verdict != "eligible" and concl.verdict != "excluded":
        return None
    miss: set[str] = set()
    if w is None:
        cr.when.missing(ctx, miss)
    for i in unknown:
        req = rule.requires[i]
        if req.missing:
            miss.add(req.missing)
        else:
            cr.requires[i].missing(ctx, miss)
    # "conditional" means "would be eligible": only an eligibility rule gives it. Any other
    # verdict stands, with what is missing listed (e.g. "consider, if previously treated"); an
    # exclusion whose gate is unknown is pending.
    verdict = "conditional" if concl.verdict == "eligible" else concl.verdict
    return RuleOutcome(rule.id, verdict, w is True, tuple(sorted(miss)), (), w is None and verdict == "excluded")


class Program:
    """A compiled rule base, ready to evaluate cases."""

    def __init__(self, rb: RuleBase):
        self.rb = rb
        self.atoms: list[Atom] = []
        self._atom_index: dict[tuple, int] = {}
        self.rules: list[CompiledRule] = []
        self.derivers: dict[str, list[CompiledRule]] = {}
        for order, rule in enumerate(sorted(rb.rules, key=lambda r: r.id)):  # canonical order
            cr = CompiledRule(
                rule,
                self.compile(rule.when),
                tuple(self.compile(r.test) for r in rule.requires),
                rb.targets.get(rule.id, ()),
                order,
            )
            self.rules.append(cr)
            if rule.kind == "derivation":
                self.derivers.setdefault(rule.derive, []).append(cr)
        self.conclusions = [cr for cr in self.rules if cr.rule.kind == "conclusion"]
        # notes and cautions both hold when their `when` is true (kept together as "notes")
        self.notes = [cr for cr in self.rules if cr.rule.kind in ("note", "caution")]
        self.by_id = {cr.rule.id: cr for cr in self.rules}
        self._cancer_cache: dict[str, tuple[list[CompiledRule], list[CompiledRule]]] = {}
        self._plans: dict[tuple, Plan] = {}
        bounds = set()
        for cr in self.rules:
            bounds.add(cr.start.toordinal())
            if cr.end is not None:
                bounds.add(cr.end.toordinal())
        self._bounds = sorted(bounds)

    def plan(self, case: NormalCase) -> "Plan":
        """The rules that can matter for this case: those in effect at its date and jurisdiction
        and not ruled out by its cancer type. Cached per (cancer type, date interval between rule
        boundaries, jurisdiction)."""
        key = (case.cancer.code, bisect_right(self._bounds, case.as_of.toordinal()), case.jurisdiction)
        p = self._plans.get(key)
        if p is None:
            conclusions, notes = self.candidates(case)
            derivers: dict[str, list[CompiledRule]] = {}
            for name, crs in self.derivers.items():
                derivers[name] = [cr for cr in crs if cr.in_effect(case)]
            live = [cr for cr in conclusions if cr.in_effect(case)]
            live_notes = [cr for cr in notes if cr.in_effect(case)]
            p = Plan(
                live,
                live_notes,
                derivers,
                [cr for cr in conclusions if not cr.in_effect(case)],
                self._facts_reached(live + live_notes, derivers),
            )
            self._plans[key] = p
        return p

    @staticmethod
    def _facts_reached(rules: list[CompiledRule], derivers: dict[str, list[CompiledRule]]) -> tuple[str, ...]:
        """The derived facts these rules use, directly or through other facts, sorted."""
        seen: set[str] = set()
        todo = [n for cr in rules for n in (cr.when, *cr.requires)]
        while todo:
            node = todo.pop()
            if isinstance(node, FactNode):
                if node.name not in seen:
                    seen.add(node.name)
                    todo.extend(cr.when for cr in derivers.get(node.name, ()))
            elif isinstance(node, AllNode):
                todo.extend(node.kids)
            elif isinstance(node, NotNode):
                todo.append(node.kid)
        return tuple(sorted(seen))

    def compile(self, cond) -> Node:
        if isinstance(cond, All):
            return AllNode(self.compile(c) for c in cond.all)
        if isinstance(cond, Any_):
            return AnyNode(self.compile(c) for c in cond.any)
        if isinstance(cond, Not):
            return NotNode(self.compile(cond.not_))
        if isinstance(cond, Unmet):
            return UnmetNode(self.compile(cond.unmet))
        if isinstance(cond, FactCond):
            return FactNode(cond.fact)
        key, fn, missing, describe = _ATOM_BUILDERS[type(cond)](cond, self.rb.vocab)
        i = self._atom_index.get(key)
        if i is None:
            i = len(self.atoms)
            self._atom_index[key] = i
            self.atoms.append(Atom(i, key, key[0], fn, missing, describe, cond, atom_label(cond)))
        return AtomNode(i)

    def candidates(self, case: NormalCase) -> tuple[list[CompiledRule], list[CompiledRule]]:
        """Conclusion and note rules whose `when` is not already false for the case's cancer type.

        Only the cancer type is known for sure of every case, so this is cached per cancer code.
        """
        code = case.cancer.code
        hit = self._cancer_cache.get(code)
        if hit is None:
            probe = Ctx(self, case, _NO_PLAN)
            hit = (
                [cr for cr in self.conclusions if cr.when.probe(probe) is not False],
                [cr for cr in self.notes if cr.when.probe(probe) is not False],
            )
            self._cancer_cache[code] = hit
        return hit


@dataclass
class Inference:
    """Everything the inference step found for one case (the input of resolution)."""

    ctx: Ctx
    outcomes: dict[str, list[tuple[CompiledRule, RuleOutcome]]]  # therapy id -> outcomes
    notes: list[CompiledRule]  # note and caution rules that hold
    skipped: list[str]  # trace lines for rules not in effect
    # therapies in scope: named explicitly by a rule in effect whose `when` is not false
    in_scope: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Plan:
    conclusions: list[CompiledRule]  # in effect, not ruled out by the cancer type
    notes: list[CompiledRule]
    derivers: dict[str, list[CompiledRule]]  # fact -> derivation rules in effect
    not_in_effect: list[CompiledRule]  # candidate conclusions outside their dates/jurisdiction
    facts: tuple[str, ...] = ()  # the derived facts these rules use (reported in the result)


_NO_PLAN = Plan([], [], {}, [])  # for the cancer-type probe, which evaluates no fact


def infer(program: Program, case: NormalCase) -> Inference:
    """Run every candidate rule on the case (the default backend's inference step)."""
    plan = program.plan(case)
    ctx = Ctx(program, case, plan)
    outcomes: dict[str, list[tuple[CompiledRule, RuleOutcome]]] = {}
    scope: set[str] = set()
    for cr in plan.conclusions:
        w = cr.when.tv(ctx)
        if w is False:
            continue
        if not cr.selector:
            scope.update(cr.targets)
        out = rule_outcome(cr, ctx, w)
        if out is None:
            continue
        for t in cr.targets:
            if t in outcomes:
                outcomes[t].append((cr, out))
            else:
                outcomes[t] = [(cr, out)]
    fired_notes = [cr for cr in plan.notes if cr.when.tv(ctx) is True]
    skipped = [_not_in_effect(cr, case) for cr in plan.not_in_effect] if plan.not_in_effect else []
    return Inference(ctx, outcomes, fired_notes, skipped, frozenset(scope))


_SKIP_LINES: dict[tuple, str] = {}


def _not_in_effect(cr: CompiledRule, case: NormalCase) -> str:
    key = (cr.rule.id, cr.rule.status, cr.start, cr.end, cr.jurisdiction, case.as_of, case.jurisdiction)
    line = _SKIP_LINES.get(key)
    if line is None:
        if len(_SKIP_LINES) > 100_000:
            _SKIP_LINES.clear()
        line = _SKIP_LINES[key] = _skip_line(cr, case)
    return line


def _skip_line(cr: CompiledRule, case: NormalCase) -> str:
    r = cr.rule
    if r.status == "retired":
        return f"{r.id}: retired"
    if cr.jurisdiction is not None and cr.jurisdiction != case.jurisdiction:
        return f"{r.id}: {cr.jurisdiction} rule, evaluating for {case.jurisdiction}"
    if case.as_of < cr.start:
        return f"{r.id}: not yet in effect on {case.as_of} (from {cr.start})"
    return f"{r.id}: no longer in effect on {case.as_of} (ended {cr.end})"
