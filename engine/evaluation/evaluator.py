"""The default backend: compiles a validated rule base and evaluates normalised cases.

Compilation turns every leaf condition into an *atom*: a small function of the case giving
``True``, ``False`` or ``None`` (unknown). Identical leaves share one atom. Combinators (``all``,
``any``, ``not``, ``unmet``) and derived facts are evaluated over atoms with Kleene's three-valued
logic. The per-rule outcome (:class:`RuleOutcome`) is then turned into options by
:mod:`engine.evaluation.resolve`, which every backend shares.

Nothing here knows a gene, drug or date: all of it comes from the rule files.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol
from collections.abc import Callable

from engine.evaluation import plancode
from engine.case import NormalCase
from engine.cachedir import cache_dir
from engine.rulebase import RuleBase
from engine.conditions import KINDS, MISSING_SEP, NO_HISTORY, TV, kind_of
from engine.rules_model import All, Any_, FactCond, Not, Rule, TherapySelector, Unmet
from engine.semantics import CONDITIONAL, PENDING, UNMET, VERDICT, OUTCOME_TABLE, rule_kind
class Dated(Protocol):
    """What ``CompiledRule.in_effect`` reads of a case (``check`` passes a stand-in)."""

    @property
    def as_of(self) -> dt.date: ...

    @property
    def jurisdiction(self) -> str: ...


class _Unset(enum.Enum):
    UNSET = 0


_UNSET: Final = _Unset.UNSET  # an atom not evaluated yet (None is "unknown"); an enum member, so types narrow on `is`


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
    spec: Any  # the pydantic condition it came from (its model depends on kind)
    label: str  # the criterion in words, e.g. "KRAS G12C" (used when it is false)


# --------------------------------------------------------------------------- nodes


class Ctx:
    """Per-case evaluation state: atom values and derived facts, computed once each."""

    __slots__ = ("case", "atoms", "facts", "program", "memo", "plan", "trail")

    def __init__(self, program: Program, case: NormalCase, plan: Plan | None = None):
        self.program = program
        self.case = case
        self.atoms: list[TV | Literal[_Unset.UNSET]] = [_UNSET] * len(program.atoms)
        self.facts: dict[str, TV] = {}
        self.memo: dict = {}  # per-case cache for explanations
        self.plan = plan if plan is not None else program.plan(case)
        # when a list: every read of the case beyond its plan key, in order, as (what, value)
        # (engine.batch.reuse; a recording case runs the recording variant of its compiled plan)
        self.trail: list | None = None

    def atom(self, i: int) -> TV:
        v = self.atoms[i]
        if v is _UNSET:
            v = self.atoms[i] = self.program.atoms[i].fn(self.case)
            if self.trail is not None:
                self.trail.append((i, v))
        return v

    def words(self, what: str, i: int) -> str:
        """The case's words for atom ``i``: ``"describe"``, the facts that made it true,
        ``"missing"``, what to find out while it is unknown, ``"held"``, what the case holds
        for it while it is false, or ``"unknown"``, what it holds while it is unknown (once per
        case each; see :func:`atom_words`)."""
        key = (what, i)
        text = self.memo.get(key)
        if text is None:
            atom = self.program.atoms[i]
            if what == "unknown":  # (its words may say what is missing: read that once per case)
                atom = dataclasses.replace(atom, missing=lambda case: self.words("missing", i))
            text = self.memo[key] = atom_words(atom, what, self.case)
            if self.trail is not None:
                self.trail.append((key, text))
        return text

    def lists(self, genes: frozenset[str]) -> bool:
        """Does the case list an alteration of each of ``genes``? (once per case and set)"""
        hit = self.memo.get(genes)
        if hit is None:
            listed = self.memo.get("listed")
            if listed is None:
                listed = self.memo["listed"] = listed_genes(self.case)
            hit = self.memo[genes] = genes <= listed
            if self.trail is not None:
                self.trail.append((genes, hit))
        return hit

    def recorded(self, reads: list) -> None:
        """Take reads made on this case without it (``(what, value)`` pairs, as :attr:`trail`
        holds them: an atom's index, a ``(what, i)`` pair of :meth:`words`, a gene set of
        :meth:`lists`) as if made through it: none is made again."""
        atoms = self.atoms
        memo = self.memo
        for what, v in reads:
            if type(what) is int:
                atoms[what] = v
            else:
                memo[what] = v

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
    op = ""  # the node's kind, for the plan compiler (engine.evaluation.plancode)

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
    op = "atom"

    def __init__(self, i: int):
        self.i = i

    def tv(self, ctx: Ctx) -> TV:
        v = ctx.atoms[self.i]
        if v is _UNSET:
            v = ctx.atom(self.i)
        return v

    def missing(self, ctx: Ctx, out: set[str]) -> None:
        out.update(ctx.words("missing", self.i).split(MISSING_SEP))

    def leaves(self, ctx: Ctx, want: TV, out: list) -> None:
        if self.tv(ctx) is want:
            out.append(("atom", self.i))

    def probe(self, ctx: Ctx) -> TV:
        return ctx.atom(self.i) if ctx.program.atoms[self.i].kind == "cancer" else None


class FactNode(Node):
    __slots__ = ("name",)
    op = "fact"

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
    op = "all"

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
    op = "any"

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
    op = "not"

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
    op = "unmet"

    def tv(self, ctx: Ctx) -> TV:
        return self.kid.tv(ctx) is not True

    def leaves(self, ctx: Ctx, want: TV, out: list) -> None:
        if want is True:
            self.kid.leaves(ctx, False, out)
            self.kid.leaves(ctx, None, out)
        elif want is False and self.kid.tv(ctx) is True:  # C known to hold (``not: {unmet: C}``): C's reasons
            self.kid.leaves(ctx, True, out)

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
    selector: bool = field(init=False)
    kind: str | None = field(init=False)  # eligible, excluded or other (the outcome table's column)  # targets come from a class selector (scoped, see resolve)
    end: dt.date | None = field(init=False)
    jurisdiction: str | None = field(init=False)
    # genes the case must list an alteration of each for `when` to be true (see `needs`; set by
    # Program for note rules, which hold only when `when` is true)
    needs: frozenset[str] = field(init=False)

    def __post_init__(self):
        self.needs = frozenset()
        self.start = self.rule.effective_from
        self.end = self.rule.effective_to
        self.jurisdiction = self.rule.jurisdiction.upper() if self.rule.jurisdiction else None
        target = self.rule.conclude or self.rule.about
        self.selector = target is not None and isinstance(target.therapies, TherapySelector)
        self.kind = (rule_kind(self.rule.conclude.verdict,
                               bool(self.rule.overrides) or self.rule.conclude.when_unknown is not None)
                     if self.rule.conclude is not None else None)

    def in_effect(self, case: Dated) -> bool:
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
    """The three-valued outcome of a conclusion rule (the outcome table of
    :mod:`engine.semantics`), or None if silent."""
    if w is _NO_W:
        w = cr.when.tv(ctx)
    if w is False:
        return None
    rule = cr.rule
    failed: list[str] = []
    unknown: list[int] = []
    for i, node in enumerate(cr.requires):
        v = node.tv(ctx)
        if v is False:
            failed.append(rule.requires[i].criterion)
        elif v is None:
            unknown.append(i)
    code = OUTCOME_TABLE.get((w, False if failed else (None if unknown else True), cr.kind))
    if code is None:
        return None
    concl = rule.conclude
    assert concl is not None  # compiled conclusion rules have one (the rule model checks it)
    if code == VERDICT:
        return RuleOutcome(rule.id, concl.verdict, w is True, (), ())
    if code == UNMET:
        if concl.unmet is None:
            return None
        return RuleOutcome(rule.id, concl.unmet, w is True, (), tuple(failed))
    if code == PENDING:  # what it is missing is found only if it applies (engine.evaluation.resolve)
        return RuleOutcome(rule.id, concl.verdict, False, (), (), True)
    # conditional, or a verdict that stands: list what is missing
    verdict = "conditional" if code == CONDITIONAL else concl.verdict
    return RuleOutcome(rule.id, verdict, w is True, missing_of(cr, ctx, w is None, unknown), ())


def missing_of(cr: CompiledRule, ctx: Ctx, gate_unknown: bool, unknown) -> tuple[str, ...]:
    """What an outcome is missing: the unknown leaves of its gate (when unknown) and of its
    unknown requirements (``unknown``: their indices), in the leaves' words or a requirement's
    own ``missing`` text (see :func:`history_words_apply`)."""
    miss: set[str] = set()
    if gate_unknown:
        cr.when.missing(ctx, miss)
    rule = cr.rule
    for i in unknown:
        req = rule.requires[i]
        if req.missing and not history_words_apply(cr.requires[i], ctx):
            miss.add(req.missing)
        else:
            cr.requires[i].missing(ctx, miss)
    return missing_list(miss)


def missing_list(miss: set[str]) -> tuple[str, ...]:
    """A set of missing facts as an outcome lists them: sorted, without an item that another
    one names more closely ("prior therapy history" beside "prior therapy history (did the
    disease recur ...?)": finding out the second finds out the first)."""
    if len(miss) > 1:
        miss = {m for m in miss if not any(o.startswith(m + " (") for o in miss)}
    return tuple(sorted(miss))


def history_words_apply(node: Node, ctx: Ctx) -> bool:
    """Whether the unknown leaves of ``node`` are all prior-therapy leaves of a case that gives
    its history. Their own words then name the lines and what about them is not given ("how
    prior therapy 2 (FOLFIRI) ended"), which a requirement's ``missing`` text, written for a case
    without a history ("prior therapy history (first line? ...)"), would hide."""
    leaves: list = []
    node.leaves(ctx, None, leaves)
    atoms = ctx.program.atoms
    seen: set[str] = set()
    for what, i in leaves:  # (grows: a derived fact's unknown leaves are those of its unknown derivations)
        if what == "fact":
            if i not in seen:
                seen.add(i)
                for cr in ctx.plan.derivers.get(i, ()):
                    if cr.when.tv(ctx) is None:
                        cr.when.leaves(ctx, None, leaves)
            continue
        if what != "atom":
            return False
        kind = KINDS.get(atoms[i].kind)
        if kind is None or kind.dimension != "history" or ctx.words("missing", i) == NO_HISTORY:
            return False
    return bool(leaves)


def pending_missing(cr: CompiledRule, ctx: Ctx) -> tuple[str, ...]:
    """What a pending exclusion (gate unknown, no requirement false) is missing (cached per case)."""
    key = ("pending-missing", cr.rule.id)
    hit = ctx.memo.get(key)
    if hit is None:
        unknown = [i for i, node in enumerate(cr.requires) if node.tv(ctx) is None]
        hit = ctx.memo[key] = missing_of(cr, ctx, True, unknown)
    return hit


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
            if rule.kind == "derivation" and rule.derive is not None:  # (the model requires derive)
                self.derivers.setdefault(rule.derive, []).append(cr)
        self.conclusions = [cr for cr in self.rules if cr.rule.kind == "conclusion"]
        # notes and cautions both hold when their `when` is true (kept together as "notes")
        self.notes = [cr for cr in self.rules if cr.rule.kind in ("note", "caution")]
        self.by_id = {cr.rule.id: cr for cr in self.rules}
        for cr in self.notes:
            cr.needs = needs(cr.when, self.atoms, self.derivers)
        self._cancer_cache: dict[str, tuple[list[CompiledRule], list[CompiledRule]]] = {}
        self._plans: dict[tuple, Plan] = {}  # (cancer code, date interval, jurisdiction) -> plan
        self._shared: dict[tuple, Plan] = {}  # the plans by content (see plan)
        self._effects: dict[tuple, tuple] = {}  # (date interval, jurisdiction) -> rules in effect (see plan)
        self._masks: dict[str, tuple] = {}  # cancer code -> candidates and their masks (see plan)
        # compiled plan functions by what they evaluate (plans of many cancer types share one)
        self._runs: dict[tuple, Callable | None] = {}
        self._uses: dict[tuple, int] = {}  # interpreted uses per plan signature (see COMPILE_AFTER)
        self._vectors: dict[tuple, Callable | None] = {}  # see outcomes_function
        # trace lines of the rules a plan has not in effect, per (plan, date, jurisdiction): bounded
        self._skips: dict[tuple[int, dt.date, str], tuple[str, ...]] = {}
        self._runtime = {"unset": _UNSET, "RuleOutcome": RuleOutcome, "missing": missing_of,
                         "atoms": self.atoms, "conditional": "conditional", "listed": listed_genes}
        bounds = set()
        for cr in self.rules:
            bounds.add(cr.start.toordinal())
            if cr.end is not None:
                bounds.add(cr.end.toordinal())
        self._bounds = sorted(bounds)
        #: every date a rule starts or ends on, and the knowledge version: the dates the rule
        #: base's own fields and texts name (see engine.batch.reuse)
        self.dates = frozenset(dt.date.fromordinal(b) for b in bounds) | {rb.meta.knowledge_version}

    def interval(self, day: dt.date) -> int:
        """The date interval between rule boundaries ``day`` is in (every date of one has the
        same rules in effect, each for the same reason)."""
        return bisect_right(self._bounds, day.toordinal())

    def plan(self, case: NormalCase) -> Plan:
        """The rules that can matter for this case: those in effect at its date and jurisdiction
        and not ruled out by its cancer type. Cached per (cancer type, date interval between rule
        boundaries, jurisdiction).

        A new key costs a few integer operations: which rules are in effect is kept per (date
        interval, jurisdiction) and which conclusions and notes the cancer type leaves per cancer
        code, each as a bit mask of rule orders; their intersection is the plan's content."""
        key = (case.cancer.code, self.interval(case.as_of), case.jurisdiction)
        p = self._plans.get(key)
        if p is None:
            eff = self._effects.get(key[1:])
            if eff is None:
                if len(self._effects) >= MAX_PLAN_KEYS:  # bounded: any text can be a jurisdiction here
                    self._effects.clear()
                eff = self._effects[key[1:]] = self._effect(case)
            in_effect, derivers_key, derivers = eff
            conclusions, notes, conc_mask, note_mask = self._candidates(case)
            # Plans of equal content are one object: many cancer types and date intervals share
            # their rules, and whatever is kept per plan (its compiled function, the decided parts
            # of resolution, trace lines) is then made once for all of them.
            content = (conc_mask & in_effect, note_mask & in_effect, derivers_key, conc_mask & ~in_effect)
            p = self._shared.get(content)
            if p is None:
                live = [cr for cr in conclusions if in_effect >> cr.order & 1]
                live_notes = [cr for cr in notes if in_effect >> cr.order & 1]
                ended = [cr for cr in conclusions if not in_effect >> cr.order & 1]
                p = self._shared[content] = Plan(live, live_notes, derivers, ended, self._facts_reached(live + live_notes, derivers))
            if len(self._plans) >= MAX_PLAN_KEYS:  # bounded; the plans themselves stay (in _shared)
                self._plans.clear()
            self._plans[key] = p
        return p

    def _effect(self, case: Dated) -> tuple[int, int, dict[str, list[CompiledRule]]]:
        """The rules in effect at the case's date and jurisdiction (a mask of rule orders), the
        derivation rules among them (their mask, and by fact)."""
        mask = 0
        for cr in self.rules:
            if cr.in_effect(case):
                mask |= 1 << cr.order
        derivers = {name: [cr for cr in crs if mask >> cr.order & 1] for name, crs in self.derivers.items()}
        deriving = 0
        for crs in derivers.values():
            for cr in crs:
                deriving |= 1 << cr.order
        return mask, deriving, derivers

    def _candidates(self, case: NormalCase) -> tuple[list[CompiledRule], list[CompiledRule], int, int]:
        """:meth:`candidates`, with each list's mask of rule orders."""
        code = case.cancer.code
        hit = self._masks.get(code)
        if hit is None:
            conclusions, notes = self.candidates(case)
            hit = self._masks[code] = (conclusions, notes, _mask(conclusions), _mask(notes))
        return hit

    def hot(self, plan: Plan) -> bool:
        """Whether the plan is to be compiled: its function exists already (another plan with
        the same rules made it), or plans with its rules have been used COMPILE_AFTER times."""
        sig = plan.signature()
        if (sig, False) in self._runs or (sig, True) in self._runs:
            return True
        n = self._uses.get(sig, 0) + 1
        if n > COMPILE_AFTER:
            return True
        if len(self._uses) >= MAX_SKIPS:  # bounded (signatures are, but keep memory flat)
            self._uses.clear()
        self._uses[sig] = n
        return False

    def compiled(self, plan: Plan, record: bool = False) -> Callable | None:
        """The plan's compiled function (:mod:`engine.evaluation.plancode`), made on first call; None when
        the plan cannot be compiled (the interpreter then evaluates it). With ``record``, the
        function that records the case's reads (for a case whose ``Ctx.trail`` is a list)."""
        code = plan.code
        if not (code.rec_tried if record else code.tried):
            if record:
                code.rec_tried = True
            else:
                code.tried = True
            sig = (plan.signature(), record)
            if sig in self._runs:
                hit = self._runs[sig]
            else:
                cdir = cache_dir()  # compiled plans are kept beside the rule-base cache (off with it)
                try:
                    hit = plancode.build(plan, self._runtime, record, cdir / "plans" if cdir is not None else None)[0]
                except plancode.Unsupported:
                    hit = None
                if len(self._runs) >= MAX_COMPILED:  # bounded (plans are too, but keep memory flat)
                    self._runs.clear()
                self._runs[sig] = hit
            if record:
                code.rec = hit
            else:
                code.run = hit
        return code.rec if record else code.run

    def outcomes_function(self, rules: list[CompiledRule], derivers: dict[str, list[CompiledRule]]) -> Callable | None:
        """A compiled function ``run(ctx, case)`` giving ``[rule_outcome(cr, ctx) for cr in
        rules]`` for a case whose plan has these ``derivers``
        (:func:`plancode.generate_outcomes`), for a caller that evaluates the same rules on very
        many cases (``check``); None when they cannot be compiled. Made once per rules and
        derivers."""
        key = (tuple(cr.order for cr in rules), tuple((name, tuple(cr.order for cr in crs)) for name, crs in derivers.items()))
        if key not in self._vectors:
            try:
                hit = plancode.instantiate(*plancode.generate_outcomes(rules, derivers, self._runtime))[0]
            except plancode.Unsupported:
                hit = None
            if len(self._vectors) >= MAX_COMPILED:  # bounded
                self._vectors.clear()
            self._vectors[key] = hit
        return self._vectors[key]

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
        kind = kind_of(cond)
        key, fn, missing, describe = kind.build(cond, self.rb.vocab)
        i = self._atom_index.get(key)
        if i is None:
            i = len(self.atoms)
            self._atom_index[key] = i
            self.atoms.append(Atom(i, key, kind.key, fn, missing, describe, cond, kind.label(cond, self.rb.vocab)))
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


class PlanCode:
    """A plan's compiled function, made once the plan is hot (its source: ``plancode.generate``)."""

    __slots__ = ("run", "tried", "sig", "rec", "rec_tried")

    def __init__(self) -> None:
        self.run: Callable | None = None
        self.tried = False
        self.sig: tuple | None = None  # Plan.signature(), once asked
        self.rec: Callable | None = None  # the same, recording the case's reads (Ctx.trail)
        self.rec_tried = False


MAX_COMPILED: Final = 256  # distinct compiled plan functions kept per program (about 60 KB each)
MAX_SKIPS: Final = 4096  # cached trace lines of rules not in effect, per program
#: (cancer code, date interval, jurisdiction) keys of plans, and (date interval, jurisdiction) keys
#: of the rules in effect, kept per program: every cancer code on every date interval in both
#: jurisdictions is about 50,000 keys today (898 codes, 28 intervals), so a batch never reaches the
#: bound; ``Program.plan`` called directly takes any jurisdiction text
MAX_PLAN_KEYS: Final = 1 << 16
#: plans are compiled once plans with their rules have been used this many times (compiling one
#: costs about as much as interpreting several hundred cases, so rarely used plans stay
#: interpreted)
COMPILE_AFTER: Final = 200


@dataclass(frozen=True)
class Plan:
    conclusions: list[CompiledRule]  # in effect, not ruled out by the cancer type
    notes: list[CompiledRule]
    derivers: dict[str, list[CompiledRule]]  # fact -> derivation rules in effect
    not_in_effect: list[CompiledRule]  # candidate conclusions outside their dates/jurisdiction
    facts: tuple[str, ...] = ()  # the derived facts these rules use (reported in the result)
    code: PlanCode = field(default_factory=PlanCode, compare=False, repr=False)

    def signature(self) -> tuple:
        """What the plan evaluates (plans of equal signature compile to the same function)."""
        sig = self.code.sig
        if sig is None:
            sig = self.code.sig = (
                tuple(cr.order for cr in self.conclusions), tuple(cr.order for cr in self.notes),
                tuple((name, tuple(cr.order for cr in crs)) for name, crs in self.derivers.items()))
        return sig


def atom_words(atom: Atom, what: str, case: NormalCase) -> str:
    """An atom's words for a case: ``"describe"`` (what made it true), ``"missing"`` (what to
    find out while it is unknown), ``"held"`` (what the case holds for a leaf that is false:
    its stage, its prior therapies; the words of a requirement the case fails) or ``"unknown"``
    (what it holds for a leaf that is unknown: its cancer type where a rule names a subtype)."""
    if what == "describe":
        return atom.describe(case)
    if what == "missing":
        return atom.missing(case)
    return KINDS[atom.kind].case_words(atom, case, None if what == "unknown" else False)


def listed_genes(case: NormalCase) -> frozenset[str]:
    """The genes the case lists an alteration of."""
    return frozenset(case.by_gene)


def needs(node: Node, atoms: list[Atom], derivers: dict[str, list[CompiledRule]], _busy: frozenset = frozenset()) -> frozenset[str]:
    """Genes the case must list an alteration of each for ``node`` to be true, from the leaves'
    kinds (``true_needs``). Sound, not complete: ``all`` needs what any of its parts needs,
    ``any`` what every part needs, a derived fact what every rule deriving it needs (those in
    effect at any date: a plan's are among them), ``not`` and ``unmet`` nothing."""
    if isinstance(node, AtomNode):
        atom = atoms[node.i]
        need = kind_of(atom.spec).true_needs
        gene = need(atom.key) if need is not None else None
        return frozenset({gene}) if gene is not None else frozenset()
    if isinstance(node, AnyNode):  # (before AllNode: an AnyNode is one)
        parts = [needs(k, atoms, derivers, _busy) for k in node.kids]
        return frozenset.intersection(*parts) if parts else frozenset()
    if isinstance(node, AllNode):
        return frozenset().union(*(needs(k, atoms, derivers, _busy) for k in node.kids))
    if isinstance(node, FactNode):
        rules = derivers.get(node.name, ())
        if not rules or node.name in _busy:
            return frozenset()
        busy = _busy | {node.name}
        return frozenset.intersection(*(needs(cr.when, atoms, derivers, busy) for cr in rules))
    return frozenset()


def _mask(rules: list[CompiledRule]) -> int:
    """The rules as a bit mask of their orders."""
    mask = 0
    for cr in rules:
        mask |= 1 << cr.order
    return mask


_NO_PLAN = Plan([], [], {}, [])  # for the cancer-type probe, which evaluates no fact


def infer(program: Program, case: NormalCase, *, compiled: bool | None = None, ctx: Ctx | None = None) -> Inference:
    """Run every candidate rule on the case (the default backend's inference step).

    By default a plan is evaluated by its compiled function (:mod:`engine.evaluation.plancode`) once it
    has been used :data:`COMPILE_AFTER` times, by the interpreter until then; ``compiled=True``
    compiles at once, ``compiled=False`` always interprets. The interpreter is the reference the
    compiled form is tested against, and evaluates any plan that cannot be compiled."""
    if ctx is None:
        ctx = Ctx(program, case, program.plan(case))
    plan = ctx.plan
    code = plan.code
    if compiled is not False:
        record = ctx.trail is not None
        run = code.rec if record else code.run
        if run is None and not (code.rec_tried if record else code.tried):
            if compiled or program.hot(plan):
                run = program.compiled(plan, record)
        if run is not None:
            found, fired, live_scope = run(ctx, case)
            if plan.not_in_effect:
                # (plans are kept by the program: ids stay unique; one plan serves cases of several
                # jurisdictions, and a rule's line names the case's)
                key = (id(plan), case.as_of, case.jurisdiction)
                lines = program._skips.get(key)
                if lines is None:
                    if len(program._skips) >= MAX_SKIPS:
                        program._skips.clear()
                    lines = program._skips[key] = tuple(_not_in_effect(cr, case) for cr in plan.not_in_effect)
                skipped = list(lines)
            else:
                skipped = []
            return Inference(ctx, found, fired, skipped, frozenset(live_scope))
    outcomes: dict[str, list[tuple[CompiledRule, RuleOutcome]]] = {}
    scope: set[str] = set()
    live: list[tuple[CompiledRule, TV]] = []
    for cr in plan.conclusions:
        w = cr.when.tv(ctx)
        if w is False:
            continue
        if not cr.selector:
            scope.update(cr.targets)
        live.append((cr, w))
    for cr, w in live:
        # a class-wide conclusion speaks only of the therapies in scope (see engine.evaluation.resolve)
        targets = [t for t in cr.targets if t in scope] if cr.selector else cr.targets
        if not targets:
            continue
        out = rule_outcome(cr, ctx, w)
        if out is None:
            continue
        for t in targets:
            if t in outcomes:
                outcomes[t].append((cr, out))
            else:
                outcomes[t] = [(cr, out)]
    fired_notes = []
    for cr in plan.notes:
        if cr.needs and not ctx.lists(cr.needs):  # a note that cannot be true is not evaluated
            continue
        if cr.when.tv(ctx) is True:
            fired_notes.append(cr)
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
