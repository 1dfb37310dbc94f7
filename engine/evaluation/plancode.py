"""Evaluation plans compiled to straight-line Python (the default backend's fast path).

:mod:`engine.evaluation.evaluator` interprets a plan (the rules that can matter for one cancer type, date
interval and jurisdiction) by walking condition nodes. For a plan used often, this module
writes one Python function doing the same work without the walk: each atom the plan reads is
computed at most once (into ``ctx.atoms``, as the interpreter stores it), each derived fact is
computed where first needed (into ``ctx.facts``), every ``when`` and requirement is evaluated
inline with the nodes' three-valued, short-circuiting logic, and each conclusion rule's outcome
comes from branches generated from the entries of :data:`engine.semantics.OUTCOME_TABLE`.

The interpreter stays the reference: the tests run both (and the durable backend) on the same
cases and require the same results.

Safety: the generated source holds only identifiers made here from counters, integer indices,
``True``/``False``/``None`` and the names of the runtime helpers. Every value taken from the rule
base (rule ids, therapy ids, criteria, fact names, compiled rules, leaf functions) reaches the
function through a tuple of constants, never through its text. This module knows no gene, drug or
date; it reads the node classes by their ``op`` attribute, so it sits below the evaluator.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

from engine.cachedir import keep_file
from engine.semantics import CONDITIONAL, OUTCOME_TABLE, PENDING, STANDS, UNMET, VERDICT

#: the outcome codes the generator knows how to emit (a new code makes plans fall back to the
#: interpreter, see :class:`Unsupported`)
_KNOWN_CODES = {VERDICT, UNMET, CONDITIONAL, STANDS, PENDING}


#: deepest indentation generated (Python's tokenizer allows 100 levels)
MAX_DEPTH = 90


class Unsupported(Exception):
    """The plan cannot be compiled (a cycle of derived facts, an unknown outcome code): the
    interpreter evaluates it."""


class _Gen:
    """Writes the body of one plan's function."""

    def __init__(self, runtime: dict[str, Any], record: bool = False, slots: dict[int, int] | None = None):
        self.record = record
        # for a vector of outcomes (generate_outcomes): id of a rule -> its place in the vector
        self.slots = slots
        self.lines: list[str] = []
        self.depth = 1
        self.consts: list[Any] = []
        self._const_ids: dict[int, int] = {}
        self.rt = runtime
        self.n = 0
        self.atom_vars: dict[int, str] = {}  # atom index -> local
        self.fact_vars: dict[str, str] = {}  # fact name -> local
        self.fns: dict[int, str] = {}  # atom index -> local holding its function
        self.busy: set[str] = set()  # facts being inlined (a cycle is Unsupported)
        self.touched: set[str] = set()  # atom and fact locals assigned somewhere above (else still U)
        self.bools: set[str] = set()  # locals known to be True or False (never None)
        self.guarded: set[str] = set()  # locals read by an `is U` test (so set to U at the start)

    # ------------------------------------------------------------------ helpers

    def const(self, value: Any) -> str:
        """A reference to ``value`` through the constants tuple (never pasted into the text)."""
        k = self._const_ids.get(id(value))
        if k is None or self.consts[k] is not value:
            k = len(self.consts)
            self.consts.append(value)
            self._const_ids[id(value)] = k
        return f"K[{k}]"

    def tmp(self, prefix: str = "t") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def emit(self, line: str) -> None:
        if self.depth > MAX_DEPTH:
            raise Unsupported("conditions nested too deeply for generated code")
        self.lines.append("    " * self.depth + line)

    # ------------------------------------------------------------------ nodes

    def node(self, node, defined: set[str], derivers: dict) -> str:
        """Emit the statements computing ``node``; returns the local holding its value.
        ``defined`` is the set of locals certainly assigned here (updated)."""
        op = node.op
        if op == "atom":
            var = self.atom_vars.get(node.i)
            if var is None:
                var = self.atom_vars[node.i] = self.tmp("a")
                self.fns[node.i] = self.tmp("f")
            if var not in defined:
                i = int(node.i)
                call = f"{var} = A[{i}] = {self.fns[node.i]}(case)"
                if self.record:  # the atom may have been read before the plan ran: read it once, recorded
                    self.touched.add(var)
                    self.emit(f"{var} = A[{i}]")  # (A holds it if read before or on another path)
                    self.emit(f"if {var} is U:")
                    self.emit("    " + call)
                    self.emit(f"    T.append(({i}, {var}))")
                elif var in self.touched:  # computed on some paths before this one
                    self.guarded.add(var)
                    self.emit(f"if {var} is U:")
                    self.emit("    " + call)
                else:
                    self.emit(call)
                    self.touched.add(var)
                defined.add(var)
            return var
        if op == "fact":
            return self.fact(node.name, defined, derivers)
        if op in ("all", "any"):
            return self.junction(op, node.kids, defined, derivers)
        if op in ("not", "unmet"):
            t = self.node(node.kid, defined, derivers)
            v = self.tmp()
            if op == "unmet":
                self.emit(f"{v} = {t} is not True")
            elif t in self.bools:
                self.emit(f"{v} = not {t}")
            else:
                self.emit(f"{v} = None if {t} is None else not {t}")
            if op == "unmet" or t in self.bools:
                self.bools.add(v)
            defined.add(v)
            return v
        raise Unsupported(f"node kind {op!r}")

    def junction(self, op: str, kids, defined: set[str], derivers: dict, into: str | None = None) -> str:
        """Kleene ``all``/``any`` of ``kids``, evaluated left to right and stopping at the first
        false (all) or true (any) value, as the interpreter does."""
        stop = op == "any"  # the value that decides
        if not kids:
            v = into or self.tmp()
            self.emit(f"{v} = {not stop}")
            defined.add(v)
            return v
        t = self.node(kids[0], defined, derivers)
        if len(kids) == 1 and into is None:
            return t
        v = into or self.tmp()
        self.emit(f"{v} = {t}")
        inner = set(defined)
        for kid in kids[1:]:
            self.emit(f"if {v} is not {stop}:")
            self.depth += 1
            t = self.node(kid, inner, derivers)
            self.emit(f"if {t} is not {not stop}:")
            self.emit(f"    {v} = {t}")
        self.depth -= len(kids) - 1
        defined.add(v)
        return v

    def fact(self, name: str, defined: set[str], derivers: dict) -> str:
        """A derived fact: the Kleene ``any`` of its derivation rules' ``when`` (in effect),
        computed once, stored in ``ctx.facts``."""
        var = self.fact_vars.get(name)
        if var is None:
            var = self.fact_vars[name] = self.tmp("x")
        if var in defined:
            return var
        if name in self.busy:
            raise Unsupported("a cycle of derived facts")
        self.busy.add(name)
        guarded = var in self.touched
        self.touched.add(var)
        if guarded:
            self.guarded.add(var)
            self.emit(f"if {var} is U:")
            self.depth += 1
        inner = set(defined) if guarded else defined
        self.junction("any", [cr.when for cr in derivers.get(name, ())], inner, derivers, into=var)
        self.emit(f"F[{self.const(name)}] = {var}")
        if guarded:
            self.depth -= 1
        self.busy.discard(name)
        defined.add(var)
        return var

    # ------------------------------------------------------------------ rules

    def outcome(self, cr, w: str, reqs: list[str]) -> None:
        """Emit the outcome of a conclusion rule whose `when` local is ``w`` (not false) and
        requirement locals ``reqs``, branching on the outcome table's entries for its kind, and
        add it to the outcomes of its therapies."""
        if not reqs:  # the Kleene `all` of no requirements is true
            self.by_when(cr, w, True, reqs)
            return
        for head, req in (("if " + " or ".join(f"{r} is False" for r in reqs), False),
                          ("elif " + " or ".join(f"{r} is None" for r in reqs), None),
                          ("else", True)):
            self.emit(head + ":")
            self.depth += 1
            if not self.by_when(cr, w, req, reqs):
                self.emit("pass")
            self.depth -= 1

    def by_when(self, cr, w: str, req, reqs: list[str]) -> bool:
        """The branches for each value of `when` (true, unknown) the table gives an outcome;
        False when the rule is silent for both."""
        emitted = False
        for w_v in (True, None):
            code = OUTCOME_TABLE.get((w_v, req, cr.kind))
            if code is None or (code == UNMET and cr.rule.conclude.unmet is None):
                continue  # silent
            self.emit(f"{'elif' if emitted else 'if'} {w} is {w_v}:")
            self.depth += 1
            self.action(cr, code, w_v, reqs)
            self.store(cr)
            self.depth -= 1
            emitted = True
        return emitted

    def action(self, cr, code: str, w_v, reqs: list[str]) -> None:
        """``out = `` the rule's outcome for outcome code ``code`` (as engine.evaluation.evaluator.rule_outcome
        builds it)."""
        RO = self.rt["RuleOutcome"]
        rule = cr.rule
        concl = rule.conclude
        if code not in _KNOWN_CODES:
            raise Unsupported(f"outcome code {code!r}")
        when_true = w_v is True
        if code == VERDICT:
            self.emit(f"out = {self.const(RO(rule.id, concl.verdict, when_true, (), ()))}")
        elif code == UNMET:
            if len(reqs) == 1:
                failed = self.const((rule.requires[0].criterion,))
            else:
                self.emit("fl = []")
                for i, r in enumerate(reqs):
                    self.emit(f"if {r} is False:")
                    self.emit(f"    fl.append({self.const(rule.requires[i].criterion)})")
                failed = "tuple(fl)"
            self.emit(f"out = RO({self.const(rule.id)}, {self.const(concl.unmet)}, {when_true}, (), {failed})")
        elif code == PENDING:
            self.emit(f"out = {self.const(RO(rule.id, concl.verdict, False, (), (), True))}")
        else:  # conditional, or a verdict that stands: what is missing is listed
            verdict = self.rt["conditional"] if code == CONDITIONAL else concl.verdict
            self.emit("uk = []")
            for i, r in enumerate(reqs):
                self.emit(f"if {r} is None:")
                self.emit(f"    uk.append({i})")
            self.emit(f"out = RO({self.const(rule.id)}, {self.const(verdict)}, {when_true}, "
                      f"MISSING({self.const(cr)}, ctx, {w_v is None}, uk), ())")

    def store(self, cr) -> None:
        """Add ``out`` to the outcomes of the rule's therapies (``tg`` for a class-wide rule), or
        put it in the rule's place of a vector of outcomes."""
        if self.slots is not None:
            self.emit(f"O[{self.slots[id(cr)]}] = out")
            return
        self.emit(f"p = ({self.const(cr)}, out)")
        if cr.selector:
            self.emit("for x in tg:")
            self.emit("    o = outcomes.get(x)")
            self.emit("    if o is None:")
            self.emit("        outcomes[x] = [p]")
            self.emit("    else:")
            self.emit("        o.append(p)")
            return
        for t in cr.targets:
            c = self.const(t)
            self.emit(f"o = outcomes.get({c})")
            self.emit("if o is None:")
            self.emit(f"    outcomes[{c}] = [p]")
            self.emit("else:")
            self.emit("    o.append(p)")


def generate(plan, runtime: dict[str, Any], record: bool = False) -> tuple[str, tuple]:
    """The source of a factory ``_plan(K)`` returning the plan's function ``run(ctx, case)``, and
    the constants ``K`` to call it with. ``run`` returns ``(outcomes, fired notes, scope)`` as the
    interpreter's :func:`engine.evaluation.evaluator.infer` computes them. With ``record``, ``run`` reads
    each atom not yet read (in ``ctx.atoms``) and records it, and whether the case lists the genes
    a note needs, in ``ctx.trail`` as the interpreter does (see ``Ctx.trail``)."""
    g = _Gen(runtime, record)
    for k, name in enumerate(("unset", "RuleOutcome", "missing")):  # K[0], K[1], K[2]
        assert g.const(runtime[name]) == f"K[{k}]"
    derivers = plan.derivers
    defined: set[str] = set()
    g.emit("A = ctx.atoms")
    g.emit("F = ctx.facts")
    if record:
        g.emit("T = ctx.trail")
    body_start = len(g.lines)
    g.emit("outcomes = {}")
    g.emit("scope = set()")
    # first pass: every `when`, and the therapies in scope (named by rules not ruled out)
    whens: list[str] = []
    for cr in plan.conclusions:
        w = g.node(cr.when, defined, derivers)
        whens.append(w)
        if not cr.selector and cr.targets:
            g.emit(f"if {w} is not False:")
            g.emit(f"    scope.update({g.const(tuple(cr.targets))})")
    # second pass: the outcomes, in plan order
    for cr, w in zip(plan.conclusions, whens, strict=True):
        if not cr.targets:
            continue
        g.emit(f"if {w} is not False:")
        g.depth += 1
        inner = set(defined)
        if cr.selector:
            g.emit(f"tg = [x for x in {g.const(tuple(cr.targets))} if x in scope]")
            g.emit("if tg:")
            g.depth += 1
        reqs = [g.node(node, inner, derivers) for node in cr.requires]
        g.outcome(cr, w, reqs)
        g.depth -= 1 + (1 if cr.selector else 0)
    g.emit("notes = []")
    notes = plan.notes
    if any(cr.needs for cr in notes) and not record:
        g.emit(f"AG = {g.const(runtime['listed'])}(case)")
    k = 0
    while k < len(notes):
        cr = notes[k]
        group = [cr]  # consecutive notes that need the same genes share one test of them
        if cr.needs:
            while k + len(group) < len(notes) and notes[k + len(group)].needs == cr.needs:
                group.append(notes[k + len(group)])
        k += len(group)
        inner = defined
        if cr.needs:  # a note that cannot be true is not evaluated (engine.evaluation.evaluator.needs)
            g.emit(f"if ctx.lists({g.const(cr.needs)}):" if record else f"if {g.const(cr.needs)} <= AG:")
            g.depth += 1
            inner = set(defined)
        for note in group:
            t = g.node(note.when, inner, derivers)
            g.emit(f"if {t} is True:")
            g.emit(f"    notes.append({g.const(note)})")
        if cr.needs:
            g.depth -= 1
    g.emit("return outcomes, notes, scope")
    return _source(g, runtime, body_start)


def generate_outcomes(rules, derivers: dict, runtime: dict[str, Any]) -> tuple[str, tuple]:
    """The source of a factory ``_plan(K)`` returning a function ``run(ctx, case)`` that gives
    the outcome of each of ``rules`` for a case, as a list in their order: what
    :func:`engine.evaluation.evaluator.rule_outcome` gives for each (None where a rule is silent),
    with derived facts from ``derivers``, which must be those of the case's plan. For a caller
    that evaluates the same rules, whatever their cancer types and dates, on very many cases
    (``check``); no therapy scope is applied."""
    g = _Gen(runtime, slots={id(cr): k for k, cr in enumerate(rules)})
    for k, name in enumerate(("unset", "RuleOutcome", "missing")):  # K[0], K[1], K[2]
        assert g.const(runtime[name]) == f"K[{k}]"
    defined: set[str] = set()
    g.emit("A = ctx.atoms")
    g.emit("F = ctx.facts")
    body_start = len(g.lines)
    g.emit(f"O = [None] * {len(rules)}")
    for cr in rules:
        w = g.node(cr.when, defined, derivers)
        g.emit(f"if {w} is not False:")
        g.depth += 1
        inner = set(defined)
        reqs = [g.node(node, inner, derivers) for node in cr.requires]
        g.outcome(cr, w, reqs)
        g.depth -= 1
    g.emit("return O")
    return _source(g, runtime, body_start)


def _source(g: _Gen, runtime: dict[str, Any], body_start: int) -> tuple[str, tuple]:
    """The factory's source around the body ``g`` wrote, and its constants."""
    # (a local is read only where it is certainly assigned, or behind an `is U` test: only those
    # tested need a value at the start)
    unset = [v for v in (*g.atom_vars.values(), *g.fact_vars.values()) if v in g.guarded]
    if unset:
        g.lines.insert(body_start, "    " + " = ".join(unset) + " = U")
    head = ["def _plan(K):", "    U, RO, MISSING = K[0], K[1], K[2]"]
    head += [f"    {fn} = {g.const(runtime['atoms'][i].fn)}" for i, fn in g.fns.items()]
    head.append("    def run(ctx, case):")
    body = ["    " + line for line in g.lines]
    src = "\n".join([*head, *body, "    return run", ""])
    return src, tuple(g.consts)


def build(plan, runtime: dict[str, Any], record: bool = False, store: Path | None = None) -> tuple[Callable, str]:
    """Generate, compile and instantiate a plan's function; returns it and its source. With a
    ``store`` folder, the compiled code is read from it when it holds the code of the same source,
    and kept there otherwise (see :func:`code_of`)."""
    return instantiate(*generate(plan, runtime, record), store)


def instantiate(src: str, consts: tuple, store: Path | None = None) -> tuple[Callable, str]:
    """Compile a factory's source (see :func:`code_of`) and call it with its constants."""
    namespace: dict[str, Any] = {"__builtins__": {"set": set, "tuple": tuple}}
    exec(code_of(src, store), namespace)  # noqa: S102 - source made here from counters only
    return namespace["_plan"](consts), src


#: compiled plans kept in a store folder (the most recently used; 20-50 KB each)
MAX_STORED = 512


def code_of(src: str, store: Path | None = None) -> CodeType:
    """The code object of a plan's source: compiled (3 to 15 ms for a plan of a few hundred
    lines), or read back from ``store`` (a tenth of a millisecond), where a process that compiled
    the same source kept it. A file is named by a hash of the source and of the Python version's
    bytecode magic, so any change to the source, to this generator or to Python misses it; it
    holds a hash of its own bytes, checked before it is read, and is written whole (to a
    temporary name, then renamed). A file that cannot be read or written is no error: the source
    is compiled. The folder is trusted as the rule-base cache beside it is (whose pickles are
    loaded as they are): whoever may write there may change what the engine runs."""
    if store is None:
        return compile(src, "<plan>", "exec")
    import hashlib
    import marshal
    from importlib.util import MAGIC_NUMBER

    path = store / f"plan-{hashlib.sha256(MAGIC_NUMBER + src.encode('utf-8')).hexdigest()[:40]}.code"
    try:
        data = path.read_bytes()
        if data[:32] == hashlib.sha256(data[32:]).digest():
            code = marshal.loads(data[32:])
            if type(code) is CodeType:
                try:
                    os.utime(path)  # recently used: kept by the eviction below
                except OSError:
                    pass
                return code
    except (OSError, ValueError, EOFError, TypeError):
        pass
    code = compile(src, "<plan>", "exec")
    data = marshal.dumps(code)
    keep_file(path, lambda fh: fh.write(hashlib.sha256(data).digest() + data), "plan-*.code", MAX_STORED)
    return code
