"""Compiled evaluation plans (engine.evaluation.plancode) against the interpreter (engine.evaluation.evaluator).

Node by node on hand-built plans whose atoms are counted (every node kind, unknown values, a fact
derived from another fact, each atom computed at most once), rule by rule on the miniature rule
base (every outcome the outcome table gives, notes, class-wide conclusions limited to the scope),
and on the shipped example cases. The large comparison, with the durable backend too, is
tests/test_differential.py.
"""
from __future__ import annotations

import ast
import dataclasses
import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.evaluation import evaluator, plancode
from engine.api import Engine
from engine.evaluation.evaluator import (
    AllNode,
    AnyNode,
    AtomNode,
    Ctx,
    FactNode,
    NotNode,
    Plan,
    UnmetNode,
    infer,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASE_FILES = sorted((ROOT / "cases").glob("*.json"))
G12C = {"gene": "KRAS", "variant": "G12C"}

# --------------------------------------------------------------------------- node kinds

#: node shapes over atoms 0-2 and the derived facts "f" (from atom 3, or from "g"), "g" (from
#: atom 3 or atom 0), "e" (no derivation rule in effect: false) and "absent" (not derived at all: false)
_NODES = {
    "all": lambda: AllNode([AtomNode(0), AtomNode(1), AtomNode(2)]),
    "any": lambda: AnyNode([AtomNode(0), AtomNode(1), AtomNode(2)]),
    "not": lambda: NotNode(AtomNode(0)),
    "unmet": lambda: UnmetNode(AtomNode(0)),
    "not-unmet": lambda: NotNode(UnmetNode(AtomNode(1))),
    "fact": lambda: FactNode("f"),
    "fact-of-fact": lambda: AllNode([FactNode("f"), NotNode(AtomNode(3))]),
    "nested": lambda: AllNode([AtomNode(1), AnyNode([AtomNode(2), NotNode(AtomNode(3))]), UnmetNode(FactNode("f"))]),
    "repeated": lambda: AnyNode([AllNode([AtomNode(0), AtomNode(0)]), AtomNode(0), NotNode(AtomNode(1))]),
    "shared": lambda: AllNode([AnyNode([AtomNode(0), AtomNode(1)]), NotNode(AnyNode([AtomNode(1), AtomNode(2)]))]),
    "unknown-fact": lambda: AnyNode([NotNode(FactNode("g")), AtomNode(1)]),
    "not-not": lambda: NotNode(NotNode(AtomNode(0))),
    "fact-of-no-rule": lambda: AnyNode([FactNode("e"), AtomNode(0)]),
    "fact-not-derived": lambda: AnyNode([FactNode("absent"), AtomNode(1)]),
}


def _rule(when, **kw):
    kw.setdefault("needs", frozenset())
    return SimpleNamespace(when=when, requires=(), targets=(), selector=False, kind=None, order=0, rule=None, **kw)


def _tiny_plan(node) -> Plan:
    """A plan that derives the fact "probe" from ``node`` and reads it in a note rule: the
    compiled function stores every fact it computes in ``ctx.facts``."""
    derivers = {
        "probe": [_rule(node)],
        # f: any of (g, atom 3); g: any of (atom 3, atom 0): a fact derived from another fact
        "f": [_rule(FactNode("g")), _rule(AtomNode(3))],
        "g": [_rule(AtomNode(3)), _rule(AtomNode(0))],
        "e": [],
    }
    return Plan([], [_rule(FactNode("probe"))], derivers, [])


class _Counted:
    """Atoms reading a tuple of values, counting their calls."""

    def __init__(self, n: int):
        self.calls = [0] * n
        self.atoms = [SimpleNamespace(fn=self._fn(i)) for i in range(n)]

    def _fn(self, i):
        def fn(case):
            self.calls[i] += 1
            return case[i]
        return fn


def _ctx(program, plan, values) -> Ctx:
    ctx = Ctx.__new__(Ctx)
    ctx.program, ctx.case, ctx.plan = program, values, plan
    ctx.atoms, ctx.facts, ctx.memo = [evaluator._UNSET] * len(program.atoms), {}, {}
    ctx.trail = None
    return ctx


@pytest.mark.parametrize("record", [False, True], ids=["plain", "recording"])
@pytest.mark.parametrize("name", sorted(_NODES))
def test_each_node_kind_compiles_to_its_kleene_value_for_every_assignment(name, record):
    node = _NODES[name]()
    plan = _tiny_plan(node)
    atoms = _Counted(4)
    runtime = {"unset": evaluator._UNSET, "RuleOutcome": evaluator.RuleOutcome, "missing": evaluator.missing_of,
               "atoms": atoms.atoms, "conditional": "conditional"}
    run, src = plancode.build(plan, runtime, record)
    program = SimpleNamespace(atoms=atoms.atoms)
    seen = set()
    for values in itertools.product((True, False, None), repeat=4):
        ref = _ctx(program, plan, values)
        want = node.tv(ref)
        atoms.calls = [0] * 4
        ctx = _ctx(program, plan, values)
        if record:
            # a recording run reads each atom not read before it ran (here atom 1), once, and
            # records it with its value in the order it read them
            ctx.trail = []
            ctx.atoms[1] = values[1]
        outcomes, notes, scope = run(ctx, values)
        if record:
            assert atoms.calls[1] == 0
            assert ctx.trail == [(i, values[i]) for i, _ in ctx.trail]
            assert sorted(i for i, _ in ctx.trail) == [i for i in (0, 2, 3) if atoms.calls[i]], (values, src)
        assert ctx.facts["probe"] is want, (values, src)
        assert notes == ([plan.notes[0]] if want is True else []), values
        assert outcomes == {} and scope == set()
        # each atom computed at most once, and what was computed is stored where the interpreter
        # stores it (explanations read ctx.atoms and ctx.facts afterwards)
        assert max(atoms.calls) <= 1, (values, atoms.calls)
        for i, v in enumerate(ctx.atoms):
            assert v is evaluator._UNSET or v is values[i]
        for fact, v in ctx.facts.items():
            assert v is ref.fact(fact), (values, fact)
        seen.add(want)
    # the assignments reach every value (unmet is two-valued)
    assert seen == ({True, False} if "unmet" in name else {True, False, None})


def test_the_compiled_function_sees_only_the_builtins_it_uses():
    atoms = _Counted(4)
    runtime = {"unset": evaluator._UNSET, "RuleOutcome": evaluator.RuleOutcome, "missing": evaluator.missing_of,
               "atoms": atoms.atoms, "conditional": "conditional"}
    run, _ = plancode.build(_tiny_plan(_NODES["nested"]()), runtime)
    assert run.__globals__["__builtins__"] == {"set": set, "tuple": tuple}


def test_a_cycle_of_derived_facts_is_left_to_the_interpreter():
    plan = Plan([], [_rule(FactNode("a"))], {"a": [_rule(FactNode("b"))], "b": [_rule(FactNode("a"))]}, [])
    runtime = {"unset": evaluator._UNSET, "RuleOutcome": evaluator.RuleOutcome, "missing": evaluator.missing_of,
               "atoms": [], "conditional": "conditional"}
    with pytest.raises(plancode.Unsupported):
        plancode.build(plan, runtime)


def test_conditions_nested_up_to_the_depth_limit_compile_and_deeper_ones_are_left_to_the_interpreter():
    # each child of `all` after the first is one level deeper in the generated code
    def runtime(atoms):
        return {"unset": evaluator._UNSET, "RuleOutcome": evaluator.RuleOutcome, "missing": evaluator.missing_of,
                "atoms": atoms.atoms, "conditional": "conditional"}

    n = plancode.MAX_DEPTH
    atoms = _Counted(n)
    node = AllNode([AtomNode(i) for i in range(n)])
    plan = _tiny_plan(node)
    run, src = plancode.build(plan, runtime(atoms))
    assert max(len(line) - len(line.lstrip(" ")) for line in src.splitlines()) // 4 == n + 2  # (two defs around)
    for values in ((True,) * n, (True,) * (n - 1) + (None,), (False,) + (True,) * (n - 1)):
        ctx = _ctx(SimpleNamespace(atoms=atoms.atoms), plan, values)
        run(ctx, values)
        assert ctx.facts["probe"] is node.tv(_ctx(SimpleNamespace(atoms=atoms.atoms), plan, values))
    deeper = _Counted(n + 1)
    with pytest.raises(plancode.Unsupported):
        plancode.build(_tiny_plan(AllNode([AtomNode(i) for i in range(n + 1)])), runtime(deeper))


@pytest.mark.parametrize("kind, verdict", [("eligible", "eligible"), ("excluded", "excluded"), ("other", "consider")])
def test_a_rule_without_requirements_gives_the_interpreters_outcome_for_each_gate_value(kind, verdict):
    atoms = _Counted(1)
    for a in atoms.atoms:
        a.missing = lambda case: "finding 0"
    rule = SimpleNamespace(id="R1", requires=[], conclude=SimpleNamespace(verdict=verdict, unmet=None))
    cr = SimpleNamespace(when=AtomNode(0), requires=(), targets=("t1",), selector=False, kind=kind, order=1, rule=rule)
    # before it, a rule with no therapy (a class no therapy has): it gives nothing and stops nothing
    empty = SimpleNamespace(when=AtomNode(0), requires=(), targets=(), selector=False, kind=kind, order=0, rule=rule)
    plan = Plan([empty, cr], [], {}, [])
    runtime = {"unset": evaluator._UNSET, "RuleOutcome": evaluator.RuleOutcome, "missing": evaluator.missing_of,
               "atoms": atoms.atoms, "conditional": "conditional"}
    run, src = plancode.build(plan, runtime)
    program = SimpleNamespace(atoms=atoms.atoms)
    seen = set()
    for value in (True, None, False):
        want = evaluator.rule_outcome(cr, _ctx(program, plan, (value,)))
        outcomes, _, scope = run(_ctx(program, plan, (value,)), (value,))
        assert outcomes == ({"t1": [(cr, want)]} if want is not None else {}), (value, src)
        assert scope == ({"t1"} if value is not False else set())
        seen.add(want.verdict if want else None)
    assert verdict in seen


# --------------------------------------------------------------------------- rules (mini rule base)

#: cases reaching every outcome of the mini rule base's rules: eligible, not eligible (failed
#: criteria), conditional (missing), excluded (class-wide, limited to the scope), pending
#: exclusions, consider, notes and cautions, the other jurisdiction, dates before a rule
MINI_CASES = [
    {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C], "prior_therapies": [{"drugs": ["carboplatin"]}],
     "as_of": "2026-01-01"},
    {"cancer_type": "LUAD", "stage": "early", "alterations": [G12C], "prior_therapies": [], "as_of": "2026-01-01"},
    {"cancer_type": "LUAD", "alterations": [G12C], "as_of": "2026-01-01"},
    {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C], "as_of": "2020-01-01"},
    {"cancer_type": "LUAD", "jurisdiction": "EMA", "alterations": [G12C],
     "prior_therapies": [{"drugs": ["carboplatin"], "outcome": "progression"}], "as_of": "2026-01-01"},
    {"cancer_type": "LUAD", "stage": "metastatic", "prior_therapies": [{"drugs": ["carboplatin"]}, {"drugs": ["sotorasib"]}],
     "alterations": [G12C, {"gene": "KRAS", "variant": "Y96D", "acquired": True}], "as_of": "2026-01-01"},
    {"cancer_type": "LUAD", "stage": "metastatic", "prior_therapies": [{"drugs": ["carboplatin"]}],
     "alterations": [G12C, {"gene": "KRAS", "variant": "Y96D", "acquired": True}], "as_of": "2026-01-01"},
    {"cancer_type": "LUAD", "stage": "metastatic", "prior_therapies": [{"drugs": ["carboplatin"]}],
     "alterations": [G12C, {"gene": "KRAS", "variant": "Y96D"}], "as_of": "2026-01-01"},
    {"cancer_type": "LUAD", "stage": "metastatic", "tested_genes": ["KRAS"], "as_of": "2026-01-01"},
    {"cancer_type": "COADREAD", "alterations": [{"gene": "KRAS", "variant": "G12D"}], "as_of": "2026-01-01"},
    {"cancer_type": "COADREAD", "tested_genes": ["KRAS", "NRAS"], "as_of": "2026-01-01"},
    {"cancer_type": "COADREAD", "tested_genes": ["KRAS"], "as_of": "2026-01-01"},
    {"cancer_type": "COADREAD", "as_of": "2026-01-01"},
    {"cancer_type": "COADREAD", "alterations": [G12C], "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}],
     "as_of": "2026-01-01"},
    {"cancer_type": "COADREAD", "alterations": [G12C], "prior_therapies": [{"regimen": "FOLFOX"}], "as_of": "2026-01-01"},
    {"cancer_type": "COADREAD", "alterations": [G12C], "as_of": "2024-01-01"},
    {"cancer_type": "COADREAD", "alterations": [{"gene": "NRAS", "variant": "Q61K"}], "tested_genes": ["NRAS"],
     "as_of": "2026-01-01"},
    {"cancer_type": "PDAC", "as_of": "2026-01-01"},
    {"cancer_type": "PDAC", "germline_tested": True, "alterations": [{"gene": "BRCA2", "variant": "E1953*", "origin": "germline"}],
     "prior_therapies": [{"drugs": ["oxaliplatin"], "setting": "metastatic", "weeks": 18, "outcome": "stable"}],
     "as_of": "2026-01-01"},
    {"cancer_type": "PDAC", "alterations": [G12C], "prior_therapies": [{"drugs": ["gemcitabine"]}], "as_of": "2026-01-01"},
]


def _both(engine: Engine, case) -> tuple[dict, dict]:
    norm = engine.normalise(case)
    return (engine.evaluate(norm, backend="compiled").model_dump(),
            engine.evaluate(norm, backend="interpreted").model_dump())


@pytest.fixture(scope="module")
def mini_own():
    """A miniature engine of this module's own (plans are compiled in it)."""
    return Engine(FIXTURES / "mini")


@pytest.mark.parametrize("case", MINI_CASES, ids=range(len(MINI_CASES)))
def test_mini_cases_give_the_interpreters_result_when_compiled(mini_own, case):
    compiled, interpreted = _both(mini_own, case)
    assert compiled == interpreted


def test_the_mini_cases_reach_every_verdict_notes_and_pending_exclusions(mini_own):
    verdicts, notes, pending = set(), 0, 0
    for case in MINI_CASES:
        inf = infer(mini_own.program, mini_own.normalise(case), compiled=True)
        verdicts |= {out.verdict for outs in inf.outcomes.values() for _, out in outs}
        notes += len(inf.notes)
        pending += sum(out.pending for outs in inf.outcomes.values() for _, out in outs)
    assert verdicts >= {"eligible", "conditional", "consider", "not_eligible", "excluded"}
    assert notes and pending


def test_compiled_outcomes_stated_from_the_case(mini_own):
    """What the mini rules say, read from the case alone, on the compiled path."""
    second_line = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C],
                   "prior_therapies": [{"drugs": ["carboplatin"]}], "as_of": "2026-01-01"}
    assert mini_own.evaluate(second_line, backend="compiled").option("sotorasib").verdict == "eligible"
    first_line = {**second_line, "prior_therapies": []}
    opt = mini_own.evaluate(first_line, backend="compiled").option("sotorasib")
    assert opt.verdict == "not_eligible"
    unknown_history = {k: v for k, v in second_line.items() if k != "prior_therapies"}
    opt = mini_own.evaluate(unknown_history, backend="compiled").option("sotorasib")
    assert opt.verdict == "conditional" and "prior therapy history" in opt.missing
    ras = {"cancer_type": "COADREAD", "alterations": [{"gene": "KRAS", "variant": "G12D"}], "as_of": "2026-01-01"}
    assert mini_own.evaluate(ras, backend="compiled").option("cetuximab").verdict == "excluded"
    untested = {"cancer_type": "COADREAD", "tested_genes": ["KRAS"], "as_of": "2026-01-01"}
    opt = mini_own.evaluate(untested, backend="compiled").option("cetuximab")
    assert opt.verdict == "conditional" and opt.missing  # the derived fact is unknown: NRAS untested


def test_after_compiled_inference_atoms_and_facts_are_those_of_the_interpreter(mini_own):
    """Resolution, the tutoring code and the criteria read ctx afterwards: the values the
    compiled function stored are the interpreter's, and the rest are computed on demand."""
    for case in MINI_CASES:
        norm = mini_own.normalise(case)
        a = infer(mini_own.program, norm, compiled=True)
        b = infer(mini_own.program, norm, compiled=False)
        assert a.ctx.plan.code.run is not None
        for i, v in enumerate(a.ctx.atoms):
            if v is not evaluator._UNSET:
                assert v is b.ctx.atom(i), (case, i)
        assert {n: a.ctx.fact(n) for n in a.ctx.plan.facts} == {n: b.ctx.fact(n) for n in b.ctx.plan.facts}
        assert a.skipped == b.skipped and a.in_scope == b.in_scope and a.notes == b.notes
        assert a.outcomes == b.outcomes


def test_the_generated_code_follows_the_outcome_table(monkeypatch):
    """The compiled branches are generated from engine.semantics.OUTCOME_TABLE: change an entry
    and the compiled plans change with the interpreter."""
    from engine import semantics

    case = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [G12C], "as_of": "2026-01-01"}
    before = Engine(FIXTURES / "mini").evaluate(case, backend="compiled").option("sotorasib")
    assert before.verdict == "conditional"  # (true, unknown, eligible): conditional
    monkeypatch.setitem(semantics.OUTCOME_TABLE, (True, None, "eligible"), semantics.STANDS)
    eng = Engine(FIXTURES / "mini")
    compiled, interpreted = _both(eng, case)
    assert compiled == interpreted
    assert eng.evaluate(case, backend="compiled").option("sotorasib").verdict == "eligible"
    monkeypatch.delitem(semantics.OUTCOME_TABLE, (True, None, "eligible"))
    eng = Engine(FIXTURES / "mini")
    compiled, interpreted = _both(eng, case)
    assert compiled == interpreted
    assert eng.evaluate(case, backend="compiled").option("sotorasib") is None
    # silent when the gate is true, the same rule still speaks when it is unknown (KRAS untested)
    untested = {"cancer_type": "LUAD", "stage": "metastatic", "as_of": "2026-01-01"}
    compiled, interpreted = _both(eng, untested)
    assert compiled == interpreted
    assert eng.evaluate(untested, backend="compiled").option("sotorasib").verdict == "conditional"


# --------------------------------------------------------------------------- shipped rule base


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_example_case_gives_the_interpreters_result_when_compiled(engine, path):
    compiled, interpreted = _both(engine, json.loads(path.read_text(encoding="utf-8")))
    assert compiled == interpreted


def test_generated_source_holds_no_text_of_the_rule_base(engine):
    """Values of the rule base reach the compiled functions as constants, never as source text:
    the only literals in the source are integers (atom indices), True, False and None."""
    plans = {}
    for path in CASE_FILES:
        plan = engine.program.plan(engine.normalise(json.loads(path.read_text(encoding="utf-8"))))
        plans[plan.signature()] = plan
    sources = [plancode.generate(plan, engine.program._runtime)[0] for plan in plans.values()]
    assert len(sources) >= 5
    for src in sources:
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Constant):
                assert node.value is None or isinstance(node.value, (bool, int)), node.value


def test_plans_compile_when_hot_and_share_functions(mini_own, monkeypatch):
    monkeypatch.setattr(evaluator, "COMPILE_AFTER", 3)
    eng = Engine(FIXTURES / "mini")
    case = eng.normalise({"cancer_type": "LUAD", "alterations": [G12C], "as_of": "2026-01-01"})
    plan = eng.program.plan(case)
    for _ in range(3):
        infer(eng.program, case)
        assert plan.code.run is None  # interpreted while cold
    infer(eng.program, case)
    assert plan.code.run is not None
    # another cancer code whose plan holds the same rules has the same plan, compiled from its first use
    other = eng.normalise({"cancer_type": "LUSC", "alterations": [G12C], "as_of": "2026-01-01"})
    infer(eng.program, other)
    assert eng.program.plan(other) is plan
    # a plan of other content but the same rules to evaluate (here: the same rules in effect, one
    # rule fewer not in effect) runs the same function from its first use
    twin = dataclasses.replace(plan, not_in_effect=[], code=evaluator.PlanCode())
    assert twin.signature() == plan.signature()
    assert eng.program.compiled(twin) is plan.code.run
    assert len(eng.program._runs) <= evaluator.MAX_COMPILED


@pytest.mark.parametrize("record", [False, True], ids=["plain", "recording"])
def test_a_plan_is_hot_from_its_first_use_once_either_variant_of_its_rules_is_compiled(monkeypatch, record):
    """Either compiled variant of a plan's rules (plain or recording the case's reads) makes
    another plan with the same rules hot at once; a plan of other rules stays cold."""
    monkeypatch.setattr(evaluator, "COMPILE_AFTER", 3)
    eng = Engine(FIXTURES / "mini")
    program = eng.program
    lung = eng.normalise({"cancer_type": "LUAD", "alterations": [G12C], "as_of": "2026-01-01"})
    bowel = eng.normalise({"cancer_type": "COADREAD", "alterations": [G12C], "as_of": "2026-01-01"})
    plan = program.plan(lung)
    twin = dataclasses.replace(plan, not_in_effect=[], code=evaluator.PlanCode())
    assert program.hot(twin) is False  # first use, nothing compiled
    assert program.compiled(plan, record) is not None
    assert program.hot(twin) is True
    assert program.hot(program.plan(bowel)) is False


def test_a_note_needing_a_gene_the_case_does_not_list_is_not_evaluated():
    """A note rule's ``needs`` (genes the case must list an alteration of each for its `when` to
    be true): the compiled function reads the case's listed genes once (the runtime's
    ``listed``) and evaluates a note only when every gene it needs is listed."""
    atoms = _Counted(4)
    plan = Plan([], [_rule(AtomNode(0), needs=frozenset({"G"})), _rule(AtomNode(1), needs=frozenset({"G", "H"})),
                     _rule(AtomNode(2))], {}, [])
    listed: list = []  # the cases the function asked for their genes
    genes_now = [frozenset()]  # what it is told
    runtime = {"unset": evaluator._UNSET, "RuleOutcome": evaluator.RuleOutcome, "missing": evaluator.missing_of,
               "atoms": atoms.atoms, "conditional": "conditional", "listed": lambda case: listed.append(case) or genes_now[0]}
    run, src = plancode.build(plan, runtime)
    program = SimpleNamespace(atoms=atoms.atoms)
    values = (True, True, True, None)
    for genes, fired, called in ((frozenset(), [2], [0, 0, 1, 0]),
                                 (frozenset({"G"}), [0, 2], [1, 0, 1, 0]),
                                 (frozenset({"H", "G", "X"}), [0, 1, 2], [1, 1, 1, 0])):
        genes_now[0] = genes
        atoms.calls = [0] * 4
        listed.clear()
        _, notes, _ = run(_ctx(program, plan, values), values)
        assert [plan.notes.index(cr) for cr in notes] == fired, src
        assert atoms.calls == called and listed == [values]


@pytest.mark.parametrize("record", [False, True], ids=["plain", "recording"])
def test_an_atom_read_only_behind_a_notes_unmet_gene_guard_is_read_again_by_a_later_note(record):
    """Two notes on atom 0: the first needs a gene the case does not list (so it reads nothing),
    the second needs none. The second must read atom 0 itself, not take it as read."""
    atoms = _Counted(4)
    runtime = {"unset": evaluator._UNSET, "RuleOutcome": evaluator.RuleOutcome, "missing": evaluator.missing_of,
               "atoms": atoms.atoms, "conditional": "conditional", "listed": lambda case: frozenset()}
    guarded = _rule(AtomNode(0), needs=frozenset({"GENE"}))
    free = _rule(AtomNode(0))
    plan = Plan([], [guarded, free], {}, [])
    run, src = plancode.build(plan, runtime, record)
    program = SimpleNamespace(atoms=atoms.atoms)
    for values in itertools.product((True, False, None), repeat=4):
        ctx = _ctx(program, plan, values)
        ctx.memo["listed"] = frozenset()  # (the recording variant asks ctx.lists)
        if record:
            ctx.trail = []
        _, notes, _ = run(ctx, values)
        assert notes == ([free] if values[0] is True else []), (values, src)


# --------------------------------------------------------------------------- the store of compiled plans


@pytest.fixture
def compiles(monkeypatch):
    """The sources compiled by engine.evaluation.plancode from here on (the builtin, counted)."""
    seen: list[str] = []

    def counted(src, *args):
        seen.append(src)
        return compile(src, *args)

    monkeypatch.setattr(plancode, "compile", counted, raising=False)
    return seen


def _store_files(store: Path) -> list[Path]:
    return sorted(store.glob("plan-*.code")) if store.is_dir() else []


def test_a_compiled_plan_is_kept_in_the_cache_folder_and_read_back_by_another_process(tmp_path, monkeypatch, compiles):
    """A plan compiled once is kept beside the rule-base cache; a new program (as in another
    process) reads its code back instead of compiling it, and gives the interpreter's results."""
    monkeypatch.setenv("KRAS_RULES_CACHE", str(tmp_path / "cache"))
    store = tmp_path / "cache" / "plans"
    first = Engine(FIXTURES / "mini")
    norm = first.normalise(MINI_CASES[0])
    infer(first.program, norm, compiled=True)
    assert len(compiles) == 1 and len(_store_files(store)) == 1
    again = Engine(FIXTURES / "mini")
    assert again.program is not first.program
    for case in MINI_CASES:
        compiled, interpreted = _both(again, case)
        assert compiled == interpreted
    assert again.program.plan(again.normalise(MINI_CASES[0])).code.run is not None
    # every plan the cases used was compiled once, in the first program or the second, never twice
    assert len(compiles) == len(set(compiles)) == len(_store_files(store))
    # with the cache off, nothing is read or kept
    monkeypatch.setenv("KRAS_RULES_CACHE", "off")
    before = len(compiles)
    off = Engine(FIXTURES / "mini")
    infer(off.program, off.normalise(MINI_CASES[0]), compiled=True)
    assert len(compiles) == before + 1 and len(_store_files(store)) == len(compiles) - 1


def test_a_damaged_or_foreign_file_of_the_store_is_compiled_again_and_replaced(tmp_path, compiles):
    import hashlib
    import marshal

    store = tmp_path / "plans"
    src = "def _plan(K):\n    def run(ctx, case):\n        return K[0]\n    return run\n"
    code = plancode.code_of(src, store)
    (path,) = _store_files(store)
    good = path.read_bytes()
    assert plancode.code_of(src, store) == code and len(compiles) == 1
    damaged = bytearray(good)
    damaged[-3] ^= 0xFF  # a byte of the code changed: its hash no longer matches
    foreign = hashlib.sha256(marshal.dumps(42)).digest() + marshal.dumps(42)  # hash right, not code
    other = marshal.dumps(compile("def _plan(K):\n    return lambda ctx, case: 'other'\n", "<plan>", "exec"))
    unsigned = bytes(32) + other  # code that reads well, but not the bytes the hash was made of
    for bad in (bytes(damaged), foreign, unsigned, good[:40], b""):
        path.write_bytes(bad)
        namespace: dict = {}
        exec(plancode.code_of(src, store), namespace)
        assert namespace["_plan"](("value",))(None, None) == "value"
        assert path.read_bytes() == good  # written again, whole
    assert len(compiles) == 6


def test_the_store_keeps_the_most_recently_used_plans_and_an_unwritable_store_only_compiles(tmp_path, monkeypatch, compiles):
    import os

    monkeypatch.setattr(plancode, "MAX_STORED", 2)
    store = tmp_path / "plans"
    sources = [f"def _plan(K):\n    return {i}\n" for i in range(3)]
    files = []
    for src in sources[:2]:
        plancode.code_of(src, store)
        (new,) = set(_store_files(store)) - set(files)
        files.append(new)
    os.utime(files[1], (1_000_000, 1_000_000))  # the second written is the least recently used
    os.utime(files[0], (2_000_000, 2_000_000))
    plancode.code_of(sources[2], store)
    kept = _store_files(store)
    assert len(kept) == 2 and files[0] in kept and files[1] not in kept
    # reading a plan back marks it used: now the third is the oldest, and goes first
    (third,) = set(kept) - {files[0]}
    os.utime(third, (1_000_000, 1_000_000))
    os.utime(files[0], (500_000, 500_000))
    plancode.code_of(sources[0], store)  # read back (its time is now)
    plancode.code_of(sources[1], store)  # compiled again: one of the three goes
    assert set(_store_files(store)) == {files[0], files[1]}
    assert len(compiles) == 4
    # a write that fails half way (a full disk) leaves no part of a file behind
    from engine import cachedir

    real_open = open

    class HalfFile:  # writes half of what it is given, then finds the disk full
        def __init__(self, path, mode):
            self.fh = real_open(path, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    namespace = {}
    with monkeypatch.context() as m:
        m.setattr(cachedir, "open", HalfFile, raising=False)
        exec(plancode.code_of("def _plan(K):\n    return 3\n", store), namespace)
    assert namespace["_plan"](()) == 3 and not list(store.glob("*.tmp")) and len(_store_files(store)) == 2
    # a store that cannot be made (a file stands where its folder would be): the plan is compiled
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    namespace: dict = {}
    exec(plancode.code_of(sources[0], blocked / "plans"), namespace)
    assert namespace["_plan"](()) == 0 and len(compiles) == 6


def test_a_plan_kept_by_another_python_version_is_not_read(tmp_path, monkeypatch, compiles):
    """A file is named by the source and the bytecode magic of the Python that compiled it: under
    another version (another magic) the same source is compiled again, into a file of its own."""
    import importlib.util

    store = tmp_path / "plans"
    src = "def _plan(K):\n    return 1\n"
    plancode.code_of(src, store)
    monkeypatch.setattr(importlib.util, "MAGIC_NUMBER", b"\x00\x00\r\n")
    plancode.code_of(src, store)
    assert len(compiles) == 2 and len(_store_files(store)) == 2


def test_checks_compiled_outcome_vectors_are_the_interpreters_on_every_profile_of_the_mini_rules(mini_own):
    """``check`` evaluates each therapy's rules on every profile of its unit through one
    compiled function per group of dates (``Program.outcomes_function``): on every profile of
    the mini rule base, each rule's outcome is the one ``rule_outcome`` gives, whatever the
    rule's cancer type and dates, and the atoms it stored are the interpreter's."""
    from engine.verify.domain import Domain, Unit, case_of

    program = mini_own.program
    dom = Domain(program)
    by_therapy: dict[str, list] = {}
    for cr in program.conclusions:
        if cr.rule.status != "retired":
            for t in cr.targets:
                by_therapy.setdefault(t, []).append(cr)
    compared, verdicts, missing, pending = 0, set(), 0, 0
    for rules in by_therapy.values():
        unit = Unit(dom, set(), rules)
        for prof in unit.profiles():
            for group in unit.groups:
                case = case_of(dom, prof, group[0][1])
                ctx, ref = Ctx(program, case), Ctx(program, case)
                run = program.outcomes_function(rules, ctx.plan.derivers)
                assert run is not None
                got = run(ctx, case)
                want = [evaluator.rule_outcome(cr, ref) for cr in rules]
                assert got == want, (prof, group[0][1])
                for i, v in enumerate(ctx.atoms):
                    if v is not evaluator._UNSET:
                        assert v is ref.atom(i)
                compared += 1
                verdicts |= {o.verdict for o in got if o is not None}
                missing += sum(bool(o.missing) for o in got if o is not None)
                pending += sum(o.pending for o in got if o is not None)
    # the profiles reach every verdict, outcomes that list what is missing, and pending exclusions
    assert compared > 1000 and verdicts >= {"eligible", "conditional", "consider", "not_eligible", "excluded"}
    assert missing and pending
