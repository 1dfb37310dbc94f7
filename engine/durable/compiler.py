"""The rule base as a durable ruleset: the ``durable`` backend of ``Engine.evaluate`` (the
compiler over :mod:`engine.durable.safe_host`, which alone talks to durable-rules)."""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Iterable, Sequence

from engine.durable.safe_host import DurableBackendError, DurableRuleset, one_of, register_ruleset, run_session
from engine.errors import RuleError
from engine.semantics import CONDITIONAL, OUTCOME_TABLE, PENDING, STANDS, UNMET, VERDICT

# ==============================================================================================
# The rule base as a durable ruleset: the ``durable`` backend of ``Engine.evaluate``
# ==============================================================================================
#
# The default backend (``engine.evaluation.evaluator``) evaluates a compiled :class:`Program` in Python. This
# backend hands the same inference to durable-rules; presentation (precedence, explanations,
# missing labels, trace layout) is the shared ``engine.evaluation.resolve.build_result``.
#
# Facts posted per case (leaf values from the shared atom code, ``Atom.fn``):
#
#   {"t": "ctx", "day": <as_of ordinal>, "jur": <jurisdiction>}
#   {"t": "atom", "a": "<atom index>", "v": "T" | "F" | "U"}
#
# Facts the ruleset derives, each with exactly one value per session:
#
#   {"t": "node", "n": "<k>", "v": ...}      a combinator (all, any, not, unmet), or a derivation
#                                            rule's contribution to its fact
#   {"t": "fact", "f": <name>, "v": ...}     a derived fact
#
# Whether a rule is in effect is a condition on the ctx fact (``$gte``/``$lt`` on the date
# ordinal, equality on the jurisdiction) inside every rule that needs it. A derivation rule
# contributes ``all(when, in effect)`` to its fact, which is Kleene ``any`` over the contributions
# (false when none is in effect). A conclusion rule has one durable rule per row of the outcome
# table in rules/README.md and one per requirement (failed, unknown); a note rule one; a rule out
# of effect one per reason (retired, jurisdiction, not yet, ended). Firings are read back by rule
# name (:class:`_Meaning`). Combinators are shared: equal sub-conditions are computed once.

from engine.evaluation.evaluator import (
    AllNode,
    AnyNode,
    AtomNode,
    CompiledRule,
    Ctx,
    FactNode,
    Inference,
    missing_of,
    Node,
    NotNode,
    Program,
    RuleOutcome,
    UnmetNode,
)

_T, _F, _U = "T", "F", "U"
_ALL_TV = frozenset((_T, _F, _U))
_TV_OF = {True: _T, False: _F, None: _U}
_VALUE_OF = {_T: True, _F: False, _U: None}

Ref = tuple[str, str]   # ("a", "<atom index>") | ("n", "<node>") | ("f", "<fact name>")
_REF_FIELDS = {"a": ("atom", "a"), "n": ("node", "n"), "f": ("fact", "f")}


def _value_fact(ref: Ref, value: str) -> dict:
    kind, field_name = _REF_FIELDS[ref[0]]
    return {"t": kind, field_name: ref[1], "v": value}


def _value_condition(ref: Ref, values: frozenset[str]) -> dict:
    kind, field_name = _REF_FIELDS[ref[0]]
    tests: list[dict] = [{"t": kind}, {field_name: ref[1]}]
    if values != _ALL_TV:
        tests.append(one_of("v", sorted(values)))
    return {"$and": tests}


@dataclass(frozen=True)
class _Meaning:
    """What a firing of one durable rule says.

    ``value``: ``ref`` has ``value``; ``out``: rule ``rule`` (index in ``program.rules``) gives
    ``verdict``, its ``when`` definitely true or not (``when_true``), with the data to find out
    listed (``missing``: some criterion, or the gate, is unknown); ``fail``/``unknown``: its
    requirement ``index`` failed / is unknown; ``note``: the note holds; ``off``: the rule is not
    in effect, ``value`` says why (retired, jurisdiction, before, ended).
    """

    kind: str
    ref: Ref | None = None
    value: str | None = None
    rule: int = -1
    verdict: str | None = None
    when_true: bool = False
    missing: bool = False
    index: int = -1
    pending: bool = False


class _ProgramRules:
    """Durable rules (data) computing the values of conditions, and what each firing means.

    ``ref(node)`` compiles a condition tree; :meth:`compile` a whole :class:`Program`.
    """

    def __init__(self) -> None:
        self.rules: dict[str, dict] = {}
        self.meaning: dict[str, _Meaning] = {}
        self._nodes: dict[tuple, Ref] = {}
        self.when: dict[int, Ref] = {}   # rule order (index in ``program.rules``) -> its `when`
        self.requires: dict[int, tuple[Ref, ...]] = {}
        self.facts: tuple[str, ...] = ()   # the derived facts these rules derive

    def compile(self, program: Program, chosen: Sequence[CompiledRule] | None = None) -> _ProgramRules:
        """The durable rules of ``program``, or of the conclusion and note rules ``chosen`` and the
        derivations of every fact they reach (see :func:`_reach`)."""
        rules = program.rules if chosen is None else chosen
        facts = set(program.derivers) if chosen is None else _reach(program, chosen)
        derivers = {name: crs for name, crs in program.derivers.items() if name in facts}
        self.facts = tuple(derivers)
        for cr in (*rules, *(cr for crs in derivers.values() for cr in crs)):
            if cr.order not in self.when:
                self.when[cr.order] = self.ref(cr.when)
                self.requires[cr.order] = tuple(self.ref(n) for n in cr.requires)
        for name, crs in derivers.items():
            if len(crs) == 1:   # the fact is the one contribution
                self._deriver_rules(crs[0], ("f", name))
                continue
            parts = []
            for cr in crs:
                part: Ref = ("n", f"d{len(self._nodes)}")
                self._nodes[("derive", cr.rule.id)] = part
                self._deriver_rules(cr, part)
                parts.append(part)
            self._emit_combinator("any", tuple(parts), ("f", name))
        for name in _facts_used(rules) - set(program.derivers):   # the loader rejects these
            self._put(f"f/{name}/F", {"all": [{"c": {"t": "ctx"}}],
                                      "assert": [_value_fact(("f", name), _F)]},
                      _Meaning("value", ("f", name), _F))
        for cr in rules:
            if cr.rule.kind == "conclusion":
                self._conclusion_rules(cr)
            elif cr.rule.kind in ("note", "caution") and cr.rule.status != "retired":
                self._add(f"{cr.rule.id}/note", _in_effect(cr), [(self.when[cr.order], {_T})],
                          _Meaning("note", rule=cr.order))
        return self

    # -- conditions --------------------------------------------------------------------------
    def ref(self, node: Node) -> Ref:
        """The ref whose value fact carries ``node``'s value (emitting its rules once)."""
        kind = type(node)
        if type(node) is AtomNode:
            return ("a", str(node.i))
        if type(node) is FactNode:
            return ("f", node.name)
        if type(node) is UnmetNode or type(node) is NotNode:
            return self._combine("unmet" if kind is UnmetNode else "not", (self.ref(node.kid),))
        if type(node) is AllNode or type(node) is AnyNode:
            return self._combine("all" if kind is AllNode else "any", tuple(self.ref(k) for k in node.kids))
        raise RuleError(f"the durable backend cannot compile a {kind.__name__} condition")

    def _combine(self, op: str, kids: tuple[Ref, ...]) -> Ref:
        if op in ("all", "any"):
            kids = tuple(dict.fromkeys(kids))   # Kleene all/any are idempotent
            if len(kids) == 1:
                return kids[0]
            key: tuple = (op, frozenset(kids))
        else:
            key = (op, kids[0])
        ref = self._nodes.get(key)
        if ref is None:
            ref = self._nodes[key] = ("n", str(len(self._nodes)))
            self._emit_combinator(op, kids, ref)
        return ref

    def _emit_combinator(self, op: str, kids: tuple[Ref, ...], target: Ref) -> None:
        label = "/".join(target)

        def give(name: str, conds: list, value: str) -> None:
            self._add(f"{label}/{name}", None, conds, _Meaning("value", target, value))

        if op == "not":
            (kid,) = kids
            for have, value in ((_T, _F), (_F, _T), (_U, _U)):
                give(value, [(kid, {have})], value)
            return
        if op == "unmet":
            (kid,) = kids
            give(_F, [(kid, {_T})], _F)
            give(_T, [(kid, {_F, _U})], _T)
            return
        # Kleene all: false if a part is false, true if all are, else unknown; any is the dual.
        # The value is given by the first part that decides it, so exactly one rule fires.
        decisive, total = (_F, _T) if op == "all" else (_T, _F)
        for j, kid in enumerate(kids):
            before = [(k, {total, _U}) for k in kids[:j]]
            give(f"{decisive}/{j}", before + [(kid, {decisive})], decisive)
        give(total, [(kid, {total}) for kid in kids], total)
        for j, kid in enumerate(kids):
            before = [(k, {total}) for k in kids[:j]]
            after = [(k, {total, _U}) for k in kids[j + 1:]]
            give(f"U/{j}", before + [(kid, {_U})] + after, _U)

    # -- rules -------------------------------------------------------------------------------
    def _off_rules(self, cr: CompiledRule, give: Ref | None) -> None:
        """Rules firing when ``cr`` is not in effect, one per reason; each asserts ``give`` false."""
        rid = cr.rule.id
        for why, condition in _not_in_effect(cr):
            rule: dict[str, Any] = {"all": [{"c": condition}]}
            if give is not None:
                rule["assert"] = [_value_fact(give, _F)]
            self._put(f"{rid}/off/{why}", rule, _Meaning("off", give, why, rule=cr.order))

    def _deriver_rules(self, cr: CompiledRule, target: Ref) -> None:
        """``target`` = all(when, in effect): what the derivation rule ``cr`` contributes."""
        when = self.when[cr.order]
        rid = cr.rule.id
        self._off_rules(cr, target)
        self._add(f"{rid}/derive/F", None, [(when, {_F})], _Meaning("value", target, _F))
        on = _in_effect(cr)
        if on is not None:
            for v in (_T, _U):
                self._add(f"{rid}/derive/{v}", on, [(when, {v})], _Meaning("value", target, v))

    def _conclusion_rules(self, cr: CompiledRule) -> None:
        rid, concl, order = cr.rule.id, cr.rule.conclude, cr.order
        assert concl is not None  # a conclusion rule (the rule model checks it)
        self._off_rules(cr, None)
        on = _in_effect(cr)
        if on is None:
            return
        when = self.when[order]
        reqs = self.requires[order]
        summary = self._combine("all", reqs) if reqs else None

        def met(values: set[str]) -> list:
            return [(summary, values)] if summary is not None else []

        def out(name: str, conds: list, verdict: str, when_true: bool, missing: bool = False,
                pending: bool = False) -> None:
            self._add(f"{rid}/{name}", on, conds, _Meaning("out", rule=order, verdict=verdict,
                                                            when_true=when_true, missing=missing,
                                                            pending=pending))

        if not cr.selector:   # the rule names its therapies: they are in scope when `when` is not false
            self._add(f"{rid}/scope", on, [(self.when[order], {_T, _U})], _Meaning("scope", rule=order))

        # the outcome table (engine.semantics), one durable rule per entry for the rule's kind
        for (w, r, kind), code in OUTCOME_TABLE.items():
            if kind != cr.kind or (summary is None and r is not True):
                continue
            if code == UNMET and concl.unmet is None:
                continue  # `unmet: null`: silent
            verdict = {VERDICT: concl.verdict, STANDS: concl.verdict, UNMET: concl.unmet,
                       CONDITIONAL: "conditional", PENDING: concl.verdict}[code]
            out(f"{code}/{_TV_OF[w]}{_TV_OF[r]}", [(when, {_TV_OF[w]})] + met({_TV_OF[r]}), verdict, w is True,
                code in (CONDITIONAL, STANDS), code == PENDING)
        for i, req in enumerate(reqs):
            assert summary is not None  # there are requirements
            self._add(f"{rid}/requires/{i}/F", on, [(when, {_T, _U}), (req, {_F})],
                      _Meaning("fail", rule=order, index=i))
            self._add(f"{rid}/requires/{i}/U", on, [(when, {_T, _U}), (summary, {_U}), (req, {_U})],
                      _Meaning("unknown", rule=order, index=i))

    # -- emitting ----------------------------------------------------------------------------
    def _add(self, name: str, ctx: dict | None, conds: list[tuple[Ref, set[str]]],
             meaning: _Meaning) -> None:
        """A rule over value facts (and the ctx fact). Conditions on one ref are merged: a fact
        never fills two aliases of a rule. A contradictory rule, which cannot fire, is left out."""
        merged: dict[Ref, frozenset[str]] = {}
        for ref, values in conds:
            merged[ref] = merged.get(ref, _ALL_TV) & frozenset(values)
        if not all(merged.values()):
            return
        aliases = [{"c": ctx}] if ctx is not None else []
        aliases += [{f"x{i}": _value_condition(ref, values)} for i, (ref, values) in enumerate(merged.items())]
        rule: dict[str, Any] = {"all": aliases}
        if meaning.kind == "value":
            assert meaning.ref is not None and meaning.value is not None  # a value meaning has both
            rule["assert"] = [_value_fact(meaning.ref, meaning.value)]
        self._put(name, rule, meaning)

    def _put(self, name: str, rule: dict, meaning: _Meaning) -> None:
        if name in self.rules:
            raise RuleError(f"durable rule name {name!r} generated twice")
        self.rules[name] = rule
        self.meaning[name] = meaning


def _in_effect(cr: CompiledRule) -> dict | None:
    """The condition on the ctx fact under which ``cr`` is in effect (None: never, retired)."""
    if cr.rule.status == "retired":
        return None
    tests: list[dict] = [{"t": "ctx"}]
    if cr.jurisdiction is not None:
        tests.append({"jur": cr.jurisdiction})
    tests.append({"$gte": {"day": cr.start.toordinal()}})
    if cr.end is not None:
        tests.append({"$lt": {"day": cr.end.toordinal()}})
    return {"$and": tests}


def _not_in_effect(cr: CompiledRule) -> list[tuple[str, dict]]:
    """(reason, ctx condition) for each way ``cr`` can be out of effect; they exclude each other."""
    if cr.rule.status == "retired":
        return [("retired", {"t": "ctx"})]
    ctx: list[dict] = [{"t": "ctx"}]
    out = []
    if cr.jurisdiction is not None:
        out.append(("jurisdiction", {"$and": ctx + [{"$neq": {"jur": cr.jurisdiction}}]}))
        ctx = ctx + [{"jur": cr.jurisdiction}]
    out.append(("before", {"$and": ctx + [{"$lt": {"day": cr.start.toordinal()}}]}))
    if cr.end is not None:
        out.append(("ended", {"$and": ctx + [{"$gte": {"day": cr.end.toordinal()}}]}))
    return out


def _off_line(cr: CompiledRule, why: str, case) -> str:
    """The trace line of a rule out of effect (the wording of the default backend)."""
    rid = cr.rule.id
    if why == "retired":
        return f"{rid}: retired"
    if why == "jurisdiction":
        return f"{rid}: {cr.jurisdiction} rule, evaluating for {case.jurisdiction}"
    if why == "before":
        return f"{rid}: not yet in effect on {case.as_of} (from {cr.start})"
    return f"{rid}: no longer in effect on {case.as_of} (ended {cr.end})"


def _atoms_under(node: Node, out: set[int]) -> None:
    if type(node) is AtomNode:
        out.add(node.i)
    for kid in getattr(node, "kids", ()):
        _atoms_under(kid, out)
    kid = getattr(node, "kid", None)
    if kid is not None:
        _atoms_under(kid, out)


def _facts_under(node: Node, out: set[str]) -> None:
    if type(node) is FactNode:
        out.add(node.name)
    for kid in getattr(node, "kids", ()) + ((node.kid,) if hasattr(node, "kid") else ()):
        _facts_under(kid, out)


def _facts_used(rules: Iterable[CompiledRule]) -> set[str]:
    names: set[str] = set()
    for cr in rules:
        for node in (cr.when, *cr.requires):
            _facts_under(node, names)
    return names


def _reach(program: Program, rules: Iterable[CompiledRule]) -> set[str]:
    """The derived facts ``rules`` read, and those their derivations read, and so on."""
    found: set[str] = set()
    todo = _facts_used(rules)
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo |= _facts_used(program.derivers.get(name, ())) - found
    return found


@dataclass(frozen=True)
class _Part:
    """The durable ruleset of the rules that can speak to one cancer type: its candidate
    conclusion and note rules (``Program.candidates``), the derivations of every fact they reach,
    and the atoms posted for a case of it (the atoms read under those rules)."""

    rules: _ProgramRules
    ruleset: DurableRuleset
    atoms: tuple[tuple[int, str, Callable], ...]


#: per Program: the parts compiled so far, by the orders of their candidate rules (cancer types
#: with the same candidates share one part)
_COMPILED: weakref.WeakKeyDictionary[Program, dict[tuple[int, ...], _Part]] = weakref.WeakKeyDictionary()
_COMPILED_LOCK = threading.Lock()


def _compiled(program: Program, chosen: Sequence[CompiledRule]) -> _Part:
    """The durable rules of the ``chosen`` conclusion and note rules of ``program``: compiled and
    registered once per Program and choice (and once per content: :func:`register_ruleset` shares
    identical definitions)."""
    key = tuple(cr.order for cr in chosen)
    with _COMPILED_LOCK:
        parts = _COMPILED.setdefault(program, {})
        hit = parts.get(key)
        if hit is None:
            rules = _ProgramRules().compile(program, chosen)
            wanted: set[int] = set()
            for name in rules.facts:
                for cr in program.derivers[name]:
                    _atoms_under(cr.when, wanted)
            for cr in chosen:
                for node in (cr.when, *cr.requires):
                    _atoms_under(node, wanted)
            atoms = program.atoms
            hit = parts[key] = _Part(
                rules, register_ruleset(rules.rules, label="kras-rules", source="durable ruleset"),
                tuple((i, str(i), atoms[i].fn) for i in sorted(wanted)))
        return hit


class DurableBackend:
    """Evaluates normalised cases of one compiled :class:`Program` with durable-rules.

    >>> from engine.api import Engine
    >>> engine = Engine()
    >>> result = engine.evaluate({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C"}]},
    ...                          backend="durable")                     # doctest: +SKIP

    ``Engine.evaluate(case, backend="durable")`` and ``kras-rules evaluate --backend durable`` use
    it. The leaf conditions (atoms) the case's rules need are computed by the shared atom code and
    posted as facts; durable decides which rules are in effect, every combinator, every derived
    fact and each rule's outcome; :func:`engine.evaluation.resolve.build_result` turns the outcomes into the
    same :class:`~engine.result.Result` the default backend gives.

    The rules are registered as one durable ruleset per set of candidate rules (the rules that can
    speak to a cancer type, :meth:`Program.candidates`), on first use: durable-rules' cost per
    session grows with the rules of its ruleset, fired or not, and a cancer type's candidates are
    a small part of the rule base. Which rules are in effect on the case's date and in its
    jurisdiction is still decided by durable.
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        self._parts: dict[str, _Part] = {}   # cancer code -> its part

    def part(self, case) -> _Part:
        """The durable ruleset (and the atoms to post) for a case of ``case``'s cancer type."""
        code = case.cancer.code
        hit = self._parts.get(code)
        if hit is None:
            conclusions, notes = self.program.candidates(case)
            hit = self._parts[code] = _compiled(self.program, (*conclusions, *notes))
        return hit

    def facts(self, ctx: Ctx) -> list[dict]:
        """The facts posted for a case: its context and the atom values its rules need (also
        stored in ``ctx``, which the shared explanations read)."""
        case = ctx.case
        values = ctx.atoms
        out: list[dict] = [{"t": "ctx", "day": case.as_of.toordinal(), "jur": case.jurisdiction}]
        for i, key, fn in self.part(case).atoms:
            v = values[i] = fn(case)
            out.append({"t": "atom", "a": key, "v": _TV_OF[v]})
        return out

    def infer(self, case) -> Inference:
        """One durable session for ``case``: the inference step that resolution consumes."""
        program = self.program
        ctx = Ctx(program, case)
        part = self.part(case)
        session = run_session(part.ruleset, self.facts(ctx), matches=False)  # which rules fired is enough
        meaning = part.rules.meaning
        facts: dict[str, str] = {}
        off: dict[int, str] = {}
        outs: dict[int, list[_Meaning]] = {}
        failed: dict[int, list[int]] = {}
        unknown: dict[int, list[int]] = {}
        noted: set[int] = set()
        scoped: set[int] = set()
        for firing in session.firings:
            m = meaning[firing.rule]
            kind = m.kind
            if kind == "value":
                assert m.ref is not None and m.value is not None  # a value meaning has both
                if m.ref[0] == "f" and facts.setdefault(m.ref[1], m.value) != m.value:
                    raise self._broken(case, f"fact {m.ref[1]} derived both {facts[m.ref[1]]} and {m.value}")
            elif kind == "out":
                outs.setdefault(m.rule, []).append(m)
            elif kind == "fail":
                failed.setdefault(m.rule, []).append(m.index)
            elif kind == "unknown":
                unknown.setdefault(m.rule, []).append(m.index)
            elif kind == "note":
                noted.add(m.rule)
            elif kind == "scope":
                scoped.add(m.rule)
            else:   # off: the rule is out of effect; a derivation rule then contributes false
                assert m.value is not None  # an off meaning says why
                off[m.rule] = m.value
                if m.ref is not None and m.ref[0] == "f" and facts.setdefault(m.ref[1], _F) != _F:
                    raise self._broken(case, f"fact {m.ref[1]} derived both {facts[m.ref[1]]} and F")
        for name in part.rules.facts:
            v = facts.get(name)
            if v is None:
                raise self._broken(case, f"fact {name} was not derived")
            ctx.facts[name] = _VALUE_OF[v]
        conclusions, notes = program.candidates(case)
        outcomes: dict[str, list[tuple[CompiledRule, RuleOutcome]]] = {}
        skipped: list[str] = []
        in_scope = {t for cr in conclusions if cr.order in scoped for t in cr.targets}
        for cr in conclusions:
            order = cr.order
            why = off.get(order)
            if why is not None:
                skipped.append(_off_line(cr, why, case))
                continue
            found = outs.get(order)
            if not found:
                continue   # silent
            if len(found) > 1:
                raise self._broken(case, f"rule {cr.rule.id} has {len(found)} outcomes")
            # a class-wide conclusion speaks only of the therapies in scope (see engine.evaluation.resolve)
            targets = [t for t in cr.targets if t in in_scope] if cr.selector else cr.targets
            if not targets:
                continue
            out = self._outcome(cr, ctx, found[0], failed.get(order, ()), unknown.get(order, ()))
            for t in targets:
                outcomes.setdefault(t, []).append((cr, out))
        fired_notes = [cr for cr in notes if cr.order in noted]
        return Inference(ctx, outcomes, fired_notes, skipped, frozenset(in_scope))

    def evaluate(self, case):
        """The :class:`~engine.result.Result` for a normalised case (``engine.case.NormalCase``)."""
        from engine.evaluation.resolve import build_result

        return build_result(self.infer(case))

    @staticmethod
    def _outcome(cr: CompiledRule, ctx: Ctx, m: _Meaning, failed: Iterable[int],
                 unknown: Iterable[int]) -> RuleOutcome:
        rule = cr.rule
        assert m.verdict is not None  # an out meaning has its verdict
        if m.missing:  # presentation: what to find out, in the shared words
            return RuleOutcome(rule.id, m.verdict, m.when_true, missing_of(cr, ctx, not m.when_true, sorted(set(unknown))), ())
        if m.pending:  # what it is missing is found by resolution, if it applies
            return RuleOutcome(rule.id, m.verdict, m.when_true, (), (), True)
        criteria = tuple(rule.requires[i].criterion for i in sorted(set(failed)))
        return RuleOutcome(rule.id, m.verdict, m.when_true, (), criteria)

    @staticmethod
    def _broken(case, what: str) -> DurableBackendError:
        return DurableBackendError(f"the durable ruleset gave an incomplete answer for case {case.id!r}: {what}")
