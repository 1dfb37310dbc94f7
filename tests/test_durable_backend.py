"""The durable-rules backend gives exactly the default backend's results.

``Engine.evaluate(case, backend="durable")`` and ``kras-rules evaluate --backend durable`` run the
inference as a durable-rules ruleset compiled from the same rule base (``engine/durable/``);
resolution and explanations are shared. Every test here compares ``Result.model_dump()`` of the two
backends: on the example cases, on every rule example of the shipped and the miniature rule base,
at the date boundaries of every rule, on a rule base built to reach every branch of the
compilation, and on seeded generated profiles.

The large differential run (profiles, mismatches, crashes, time, cases/s of both backends on one
core) is this file run as a script::

    python tests/test_durable_backend.py --profiles 100000 --seed 1 --log differential.log
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

pytest.importorskip("durable", reason="the durable backend needs durable-rules")

from engine.durable import compiler as db, safe_host as dh  # noqa: E402
from engine.api import Engine, default_engine  # noqa: E402
from engine.check import example_case  # noqa: E402
from engine.cli import main  # noqa: E402
from engine.errors import CaseError  # noqa: E402
from engine.evaluation.evaluator import (  # noqa: E402
    AllNode,
    AnyNode,
    AtomNode,
    CompiledRule,
    Ctx,
    FactNode,
    NotNode,
    UnmetNode,
    infer,
)
from engine.rules_model import AlterationCond, CancerCond, PriorLineCond, ReceivedCond  # noqa: E402

CASE_FILES = sorted((ROOT / "cases").glob("*.json"))
MINI = Path(__file__).resolve().parent / "fixtures" / "mini"


def same_result(engine: Engine, case) -> dict:
    """Evaluate with both backends (the default one interpreted and with its plan compiled),
    assert the results are identical, return the result."""
    norm = case if not isinstance(case, dict) else engine.normalise(case)
    want = engine.evaluate(norm, backend="interpreted").model_dump()
    assert engine.evaluate(norm, backend="compiled").model_dump() == want
    got = engine.evaluate(norm, backend="durable").model_dump()
    assert got == want
    return got


def _examples(engine: Engine) -> list:
    return [(r, e) for r in engine.rulebase.rules for e in r.examples]


_SHIPPED = _examples(default_engine())


# --------------------------------------------------------------------------- example cases


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_example_case_gives_the_default_result(engine, path):
    result = same_result(engine, json.loads(path.read_text(encoding="utf-8")))
    assert result["case_id"] == path.stem


def test_there_are_example_cases_with_every_verdict(engine):
    verdicts = Counter()
    for path in CASE_FILES:
        res = engine.evaluate(json.loads(path.read_text(encoding="utf-8")), backend="durable")
        verdicts.update(o.verdict for o in res.options)
    assert set(verdicts) == {"eligible", "conditional", "consider", "not_eligible", "excluded"}


@pytest.mark.parametrize("rule,example", _SHIPPED, ids=[f"{r.id}_{e.name}" for r, e in _SHIPPED])
def test_rule_example_gives_the_default_result(engine, rule, example):
    same_result(engine, example_case(engine.rulebase, rule, example))


def _boundaries(cr: CompiledRule) -> list[dt.date]:
    one = dt.timedelta(days=1)
    days = [cr.start - one, cr.start]
    if cr.end is not None:
        days += [cr.end - one, cr.end]
    return days


_SHIPPED_RULES = [r for r in default_engine().rulebase.rules]


@pytest.mark.parametrize("rule", _SHIPPED_RULES, ids=[r.id for r in _SHIPPED_RULES])
def test_rule_examples_at_the_rule_date_boundaries_and_in_both_jurisdictions(engine, rule):
    """Examples at each of their rule's date boundaries, in both jurisdictions: one example of
    each outcome the rule's examples expect (the verdict and therapy or the fact, whether the rule
    decides, a note or caution), since the dates put the rule in or out of effect whatever the case; every
    example is compared at its own date above. A rule of one regulator is out of effect in the
    other's jurisdiction whatever the date, so there it is read on its first day only (a durable
    session takes 10 to 17 ms: the two together leave a third of the sessions reading every
    example at every boundary would take)."""
    cr = engine.program.by_id[rule.id]
    outcomes = set()
    for example in rule.examples:
        x = example.expect
        outcome = (x.verdict, x.therapy, x.fact, x.fact_unknown, x.no_option, x.decided_by_this_rule,
                   x.note is not None, x.caution is not None)
        if outcome in outcomes:
            continue
        outcomes.add(outcome)
        case = example_case(engine.rulebase, rule, example)
        for day, jurisdiction in itertools.product(_boundaries(cr), ("FDA", "EMA")):
            if cr.jurisdiction is not None and jurisdiction != cr.jurisdiction and day != cr.start:
                continue
            same_result(engine, dict(case, as_of=day.isoformat(), jurisdiction=jurisdiction))


def test_mini_rule_examples_give_the_default_result(mini):
    examples = _examples(mini)
    assert len(examples) >= 8
    for rule, example in examples:
        same_result(mini, example_case(mini.rulebase, rule, example))


# --------------------------------------------------------------------------- every branch

EDGE_RULES = """
rules:
  - id: TEDG-001
    title: KRAS hit from G12C
    kind: derivation
    derive: kras_hit
    rationale: One of three derivations of one fact, to combine them with Kleene any.
    status: literature
    effective_from: 2000-01-01
    when: {alteration: {gene: KRAS, variant: G12C}}
    citations: [{source: TEST-LABEL, quote: test quote}]
    examples: [{name: g12c, case: {cancer_type: LUAD, alterations: [{gene: KRAS, variant: G12C}]}, expect: {fact: true}}]
  - id: TEDG-002
    title: KRAS hit from codon 13 while the rule is in effect
    kind: derivation
    derive: kras_hit
    rationale: A derivation that holds only between two dates, so it is out of effect before and after.
    status: literature
    effective_from: 2020-01-01
    effective_to: 2025-01-01
    when: {alteration: {gene: KRAS, codons: [13]}}
    citations: [{source: TEST-LABEL, quote: test quote}]
    examples: [{name: g13d, case: {cancer_type: LUAD, alterations: [{gene: KRAS, variant: G13D}], as_of: "2021-01-01"}, expect: {fact: true}}]
  - id: TEDG-003
    title: A retired derivation
    kind: derivation
    derive: kras_hit
    rationale: A retired derivation never contributes to its fact, whatever its condition says.
    status: retired
    effective_from: 2000-01-01
    when: {cancer: PAAD}
    citations: [{source: TEST-LABEL, quote: test quote}]
    examples: [{name: pdac, case: {cancer_type: PAAD}, expect: {fact: false}}]
  - id: TEDG-004
    title: An EMA approval with an end date, a repeated gate and two criteria
    kind: conclusion
    rationale: Negated unmet, a requirement equal to part of the gate, a jurisdiction and an end date.
    status: regular
    jurisdiction: EMA
    effective_from: 2021-01-01
    effective_to: 2030-01-01
    evidence: approved
    when: {all: [{fact: kras_hit}, {not: {unmet: {stage: [metastatic, locally_advanced]}}}]}
    requires:
      - criterion: at least two prior lines
        test: {prior_lines: {min: 2}}
      - criterion: the KRAS hit again
        test: {fact: kras_hit}
    conclude: {therapy: sotorasib, verdict: eligible}
    explain: {met: Approved by the test agency after two lines., unmet: Only after two lines.}
    citations: [{source: TEST-LABEL, quote: test quote}]
    examples: [{name: two-lines, case: {cancer_type: LUAD, stage: metastatic, jurisdiction: EMA, alterations: [{gene: KRAS, variant: G12C}], prior_therapies: [{drugs: [carboplatin]}, {drugs: [docetaxel]}]}, expect: {verdict: eligible}}]
  - id: TEDG-005
    title: A trial option with duplicate parts and a silent unmet
    kind: conclusion
    rationale: Duplicate parts of an any, a requirement equal to part of the gate, unmet null.
    status: investigational
    effective_from: 2000-01-01
    evidence: clinical
    when:
      any:
        - alteration: {gene: KRAS, variant: G12C}
        - alteration: {gene: KRAS, variant: G12C}
        - germline_tested: false
    requires:
      - criterion: KRAS G12C itself
        test: {alteration: {gene: KRAS, variant: G12C}}
      - criterion: not treatment-naive
        test: {prior_lines: {min: 1}}
    conclude: {therapy: cetuximab, verdict: consider, unmet: null}
    explain: {met: A trial option for the test.}
    citations: [{source: TEST-LABEL, quote: test quote}]
    examples: [{name: g12c, case: {cancer_type: LUAD, alterations: [{gene: KRAS, variant: G12C}], prior_therapies: [{drugs: [carboplatin]}]}, expect: {verdict: consider}}]
  - id: TEDG-006
    title: A retired exclusion
    kind: conclusion
    rationale: A retired conclusion is silent and the trace says it is retired.
    status: retired
    effective_from: 2000-01-01
    evidence: resistance_standard
    when: {cancer: [NSCLC, COADREAD, PAAD]}
    conclude: {therapy: cetuximab, verdict: excluded}
    explain: {met: Retired for the test.}
    citations: [{source: TEST-LABEL, quote: test quote}]
    examples: [{name: any, case: {cancer_type: LUAD}, expect: {verdict: consider, decided_by_this_rule: false}}]
  - id: TEDG-007
    title: A note while the KRAS hit is decided
    kind: note
    rationale: A note that holds when the fact is known either way (any of the fact and its negation).
    status: guideline
    jurisdiction: EMA
    effective_from: 2022-01-01
    effective_to: 2028-01-01
    when: {any: [{fact: kras_hit}, {not: {fact: kras_hit}}]}
    note: The KRAS hit is decided.
    citations: [{source: TEST-LABEL, quote: test quote}]
    examples: [{name: tested, case: {cancer_type: LUAD, jurisdiction: EMA, tested_genes: [KRAS]}, expect: {note: true}}]
  - id: TEDG-008
    title: An exclusion silent when its gate is unknown
    kind: conclusion
    rationale: An excluded verdict with an unknown gate is silent; a known gate excludes.
    status: guideline
    effective_from: 2000-01-01
    evidence: resistance_clinical
    when: {all: [{cancer: [NSCLC, COADREAD]}, {fact: kras_hit}, {unmet: {germline_tested: true}}]}
    conclude: {therapy: adagrasib+cetuximab, verdict: excluded}
    explain: {met: Excluded for the test.}
    citations: [{source: TEST-LABEL, quote: test quote}]
    examples: [{name: g12c, case: {cancer_type: LUAD, alterations: [{gene: KRAS, variant: G12C}]}, expect: {verdict: excluded}}]
"""


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    rules = tmp_path_factory.mktemp("edge") / "rules"
    shutil.copytree(MINI, rules)
    (rules / "kb" / "edge.yaml").write_text(EDGE_RULES, encoding="utf-8")
    return Engine(rules)


def _edge_cases(rng: random.Random, n: int):
    choices = {
        "cancer_type": ["LUAD", "COADREAD", "PAAD"],
        "alterations": [[], [{"gene": "KRAS", "variant": "G12C"}], [{"gene": "KRAS", "variant": "G13D"}],
                        [{"gene": "KRAS", "variant": "mutation"}], [{"gene": "NRAS", "variant": "Q61K"}]],
        "tested_genes": [None, ["KRAS"], ["KRAS", "NRAS"]],
        "stage": [None, "early", "metastatic"],
        "prior_therapies": [None, [], [{"regimen": "FOLFOX"}], [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}]],
        "germline_tested": [None, True, False],
        "as_of": ["2019-12-31", "2020-01-01", "2021-01-01", "2024-12-31", "2025-01-01", "2029-12-31", "2030-01-01"],
        "jurisdiction": ["FDA", "EMA"],
    }
    for _ in range(n):
        case = {k: rng.choice(v) for k, v in choices.items()}
        yield {k: v for k, v in case.items() if v is not None}


_OUTCOME_LINE = re.compile(r"^(TEDG-\d+) -> \S+: (\w+)")
_OTHER_LINE = {"note": "note", "retired": "retired", "rule, evaluating for": "jurisdiction",
               "not yet in effect": "before", "no longer in effect": "ended"}


def _edge_trace(line: str) -> tuple[str, str] | None:
    m = _OUTCOME_LINE.match(line)
    if m:
        return m.group(1), m.group(2)
    if line.startswith("TEDG-"):
        rid, rest = line.split(": ", 1)
        return rid, next(v for k, v in _OTHER_LINE.items() if k in rest)
    return None


def test_a_rule_base_reaching_every_branch_gives_the_default_result(edge):
    seen: Counter = Counter()
    for case in _edge_cases(random.Random(7), 600):
        result = same_result(edge, case)
        seen.update(filter(None, map(_edge_trace, result["trace"])))
        seen.update(("fact", str(v)) for v in result["facts"].values())
    # the cases reach every outcome of the edge rules and every reason to be out of effect
    for want in [("TEDG-004", "eligible"), ("TEDG-004", "not_eligible"), ("TEDG-004", "conditional"),
                 ("TEDG-005", "consider"), ("TEDG-008", "excluded"), ("TEDG-004", "jurisdiction"),
                 ("TEDG-004", "before"), ("TEDG-004", "ended"), ("TEDG-006", "retired"),
                 ("TEDG-007", "note"), ("fact", "True"), ("fact", "False"), ("fact", "None")]:
        assert seen[want], f"no case reached {want}: {sorted(seen)}"


# --------------------------------------------------------------------------- Kleene logic

_KLEENE_NODES = {
    "all": lambda: AllNode([AtomNode(0), AtomNode(1), AtomNode(2)]),
    "any": lambda: AnyNode([AtomNode(0), AtomNode(1), FactNode("f")]),
    "not-unmet": lambda: NotNode(UnmetNode(AtomNode(0))),
    "all-any-not": lambda: AllNode([AtomNode(0), AnyNode([AtomNode(1), NotNode(AtomNode(2))]), UnmetNode(FactNode("f"))]),
    "duplicates": lambda: AnyNode([AllNode([AtomNode(0), AtomNode(0)]), AtomNode(0), NotNode(AtomNode(1))]),
    "shared": lambda: AllNode([AnyNode([AtomNode(0), AtomNode(1)]), NotNode(AnyNode([AtomNode(1), AtomNode(0)]))]),
}


@pytest.mark.parametrize("name", sorted(_KLEENE_NODES))
def test_compiled_conditions_follow_kleene_logic_for_every_assignment(name):
    node = _KLEENE_NODES[name]()
    rules = db._ProgramRules()
    ref = rules.ref(node)
    rules._put("read", {"all": [{"m": db._value_condition(ref, db._ALL_TV)}]}, db._Meaning("note"))
    ruleset = dh.register_ruleset(rules.rules, label=f"kleene-{name}")
    for values in itertools.product((True, False, None), repeat=4):
        ctx = Ctx.__new__(Ctx)
        ctx.atoms, ctx.facts = list(values[:3]), {"f": values[3]}
        facts = [{"t": "atom", "a": str(i), "v": db._TV_OF[v]} for i, v in enumerate(values[:3])]
        facts.append({"t": "fact", "f": "f", "v": db._TV_OF[values[3]]})
        session = dh.run_session(ruleset, facts)
        read = [f.facts["m"]["v"] for f in session.firings if f.rule == "read"]
        assert read == [db._TV_OF[node.tv(ctx)]], values
        # each derived value is asserted by exactly one firing
        assert len(session.derived) == sum(1 for f in session.firings if f.rule != "read")


# --------------------------------------------------------------------------- who decides


def test_inference_takes_no_truth_value_or_verdict_from_the_python_evaluator(engine, monkeypatch):
    cases = []
    for path in CASE_FILES:
        norm = engine.normalise(json.loads(path.read_text(encoding="utf-8")))
        inf = infer(engine.program, norm)
        if all(not out.missing for outs in inf.outcomes.values() for _, out in outs):
            facts = {name: inf.ctx.fact(name) for name in engine.program.derivers}
            cases.append((norm, inf, facts))
    assert len(cases) >= 10
    backend = engine.durable()

    def forbidden(*args, **kwargs):
        raise AssertionError("the durable backend evaluated a condition in Python")

    for cls in (AllNode, AnyNode, NotNode, UnmetNode, AtomNode, FactNode):
        monkeypatch.setattr(cls, "tv", forbidden)
    monkeypatch.setattr(CompiledRule, "in_effect", forbidden)
    monkeypatch.setattr("engine.evaluation.evaluator.rule_outcome", forbidden)
    for norm, want, facts in cases:
        got = backend.infer(norm)
        assert {t: [(cr.rule.id, o) for cr, o in outs] for t, outs in got.outcomes.items()} == {
            t: [(cr.rule.id, o) for cr, o in outs] for t, outs in want.outcomes.items()}
        assert [cr.rule.id for cr in got.notes] == [cr.rule.id for cr in want.notes]
        assert got.skipped == want.skipped
        assert got.ctx.facts == {name: facts[name] for name in backend.part(norm).rules.facts}


def test_verdicts_are_read_from_the_durable_firings(engine, monkeypatch):
    case = engine.normalise(json.loads((ROOT / "cases" / "luad-g12c-second-line.json").read_text()))
    before = engine.evaluate(case, backend="durable")
    decided = before.options[0]
    real = dh.run_session

    def without_outcomes_of_the_deciding_rule(ruleset, facts=(), events=(), on_fire=None, **kw):
        res = real(ruleset, facts, events, on_fire, **kw)
        kept = tuple(f for f in res.firings if not f.rule.startswith(decided.rules[0] + "/"))
        return dh.SessionResult(kept, res.derived)

    monkeypatch.setattr(db, "run_session", without_outcomes_of_the_deciding_rule)
    after = engine.evaluate(case, backend="durable")
    assert decided.rules[0] not in [o.rules[0] for o in after.options if o.therapy == decided.therapy]


def test_an_incomplete_durable_answer_is_an_error_not_a_result(engine, monkeypatch):
    monkeypatch.setattr(db, "run_session", lambda ruleset, facts=(), **kw: dh.SessionResult((), ()))
    with pytest.raises(dh.DurableBackendError, match="incomplete answer for case 'c1': fact .* was not derived"):
        engine.evaluate({"id": "c1", "cancer_type": "LUAD"}, backend="durable")


def test_each_cancer_types_candidate_rules_are_one_ruleset_registered_once(engine):
    """A ruleset per set of candidate rules (``Program.candidates``): cancer types with the same
    candidates share it, a second backend or Program of the same rule base reuses it, and it holds
    the candidates and the derivations of the facts they reach, not the rest of the rule base."""
    backend = engine.durable()
    assert engine.durable() is backend
    luad, nsclc, coad = (engine.normalise({"cancer_type": c}) for c in ("LUAD", "NSCLC", "COADREAD"))
    part = backend.part(luad)
    assert backend.part(luad) is part and db.DurableBackend(engine.program).part(luad) is part
    assert backend.part(coad).ruleset.name != part.ruleset.name
    assert (backend.part(nsclc) is part) == (engine.program.candidates(nsclc) == engine.program.candidates(luad))
    other = Engine()   # a second Program from the same files: same definition, same ruleset
    assert other.durable().part(luad).ruleset.name == part.ruleset.name
    conclusions, notes = engine.program.candidates(luad)
    chosen = {cr.order for cr in (*conclusions, *notes)}
    facts = db._reach(engine.program, (*conclusions, *notes))
    derivations = {cr.order for name in facts for cr in engine.program.derivers[name]}
    assert set(part.rules.facts) == facts and "nsclc_other_driver" in facts
    decided = {m.rule for m in part.rules.meaning.values() if m.rule >= 0}
    assert decided <= chosen | derivations and {cr.order for cr in conclusions} <= decided
    assert 0 < len(part.ruleset.rule_names) == len(part.rules.rules) < len(db._ProgramRules().compile(engine.program).rules)


def test_resolution_reads_only_facts_durable_derived(engine):
    """Every derived fact a durable result reports or explains was derived in the session: the
    facts the result is built from are the ruleset's, none computed after by the Python evaluator
    (which :class:`Ctx` would do for a fact it was not given)."""
    from engine.evaluation.resolve import build_result

    backend = engine.durable()
    for path in CASE_FILES:
        norm = engine.normalise(json.loads(path.read_text()))
        inference = backend.infer(norm)
        given = set(inference.ctx.facts)
        assert given == set(backend.part(norm).rules.facts) >= set(inference.ctx.plan.facts), path.name
        build_result(inference)
        assert set(inference.ctx.facts) == given, path.name


def test_the_durable_backend_uses_a_private_host_with_the_ruleset(engine):
    import durable.lang

    part = engine.durable().part(engine.normalise({"cancer_type": "LUAD"}))
    assert type(dh.host()) is dh._QuietHost and dh.host() is not durable.lang._main_host
    assert dh.host().get_ruleset(part.ruleset.name).get_definition()


# --------------------------------------------------------------------------- command line


@pytest.mark.parametrize("jobs", [[], ["--jobs", "1"]], ids=["default-jobs", "one-job"])
def test_cli_backend_durable_prints_the_default_backend_output(capsys, jobs):
    files = [str(p) for p in CASE_FILES]
    assert main(["evaluate", "--format", "json", *files]) == 0
    want = capsys.readouterr().out
    assert main(["evaluate", "--format", "json", "--backend", "durable", *jobs, *files]) == 0
    got = capsys.readouterr().out
    assert [json.loads(line) for line in got.splitlines()] == [json.loads(line) for line in want.splitlines()]
    assert len(got.splitlines()) == len(CASE_FILES)


def test_cli_backend_durable_reports_bad_cases_like_the_default(tmp_path, capsys):
    f = tmp_path / "batch.json"
    f.write_text(json.dumps([{"id": "ok", "cancer_type": "LUAD"}, {"id": "bad", "cancer_type": "NSCLCC"}]))
    assert main(["evaluate", "--format", "json", "--backend", "durable", "--jobs", "1", str(f)]) == 1
    out, err = capsys.readouterr()
    assert "unknown cancer type 'NSCLCC' (did you mean 'NSCLC'?)" in err
    assert [json.loads(line).get("case_id") for line in out.splitlines()] == ["ok", "bad"]


# --------------------------------------------------------------------------- generated profiles

_AMINO = "ACDEFGHIKLMNPQRSTVWY"


class ProfileGenerator:
    """Seeded random cases drawn from the rule base: the cancer types, alterations, drugs and
    dates its rules name (and their boundaries), the example cases' alterations, and some
    terms no rule mentions."""

    def __init__(self, engine: Engine, seed: int):
        self.rng = random.Random(seed)
        rb, vocab, program = engine.rulebase, engine.rulebase.vocab, engine.program
        other = random.Random(0)
        samples = [json.loads(p.read_text(encoding="utf-8")) for p in CASE_FILES]
        samples += [dict(e.case) for r in rb.rules for e in r.examples]
        cancers = {c for s in samples for c in [s.get("cancer_type")] if isinstance(c, str)}
        alterations = {json.dumps(a, sort_keys=True) for s in samples for a in s.get("alterations") or ()}
        drugs = {d for t in rb.therapies.values() for d in t.drugs}
        classes: set[str] = set()
        for atom in program.atoms:
            spec = atom.spec
            if isinstance(spec, CancerCond):
                cancers.update(spec.cancer)
            elif isinstance(spec, AlterationCond):
                alterations.update(json.dumps(a, sort_keys=True) for a in self._matching(vocab, spec.alteration))
            elif isinstance(spec, (ReceivedCond, PriorLineCond)):
                p = spec.received if isinstance(spec, ReceivedCond) else spec.prior_line
                drugs.update(p.drugs)
                classes.update(p.classes)
        for c in sorted(classes):
            drugs.update(sorted(vocab.drugs_in_class(c))[:4])
        cancers.update(other.sample(sorted(vocab.cancer_types), 20))
        drugs.update(other.sample(sorted(vocab.drugs), 10))
        self.cancers = sorted(cancers)
        self.alterations = [json.loads(a) for a in sorted(alterations)]
        self.genes = sorted({a["gene"] for a in self.alterations} | {"EGFR", "ALK", "TP53"})
        self.drugs = sorted(drugs)
        self.regimens = sorted(vocab.regimens)
        days = {rb.meta.knowledge_version}
        for cr in program.rules:
            days.update(_boundaries(cr))
        self.days = sorted(d.isoformat() for d in days)
        self.jurisdictions = sorted({cr.jurisdiction for cr in program.rules if cr.jurisdiction}
                                    | {rb.meta.default_jurisdiction})

    @staticmethod
    def _matching(vocab, a) -> list[dict]:
        texts = list(a.variants or ()) + ([a.variant] if a.variant else []) + list(a.exclude_variants or ())
        for codon in a.codons or ():
            for ref in _AMINO:
                try:
                    vocab.variant(a.gene, f"{ref}{codon}A")
                except Exception:
                    continue
                texts += [f"{ref}{codon}{alt}" for alt in "CDVR" if alt != ref]
                break
        if a.kind in ("amplification", "fusion", "loss") or not texts:
            texts.append(a.kind or "mutation")
        out = []
        for text in texts:
            alt = {"gene": a.gene, "variant": text}
            if a.origin == "germline":
                alt["origin"] = "germline"
            if a.acquired:
                alt["acquired"] = True
            if a.partner:
                alt["partner"] = a.partner
            out.append(alt)
        return out

    def case(self, i: int) -> dict:
        r = self.rng
        case: dict = {"id": f"p{i}", "cancer_type": r.choice(self.cancers)}
        if r.random() < 0.7:
            case["stage"] = r.choice(["early", "locally_advanced", "metastatic"])
        alts = [dict(a) for a in r.sample(self.alterations, r.choice([0, 1, 1, 2, 2, 3, 4]))]
        for a in alts:
            if r.random() < 0.1:
                a["acquired"] = not a.get("acquired", False)
            if r.random() < 0.05:
                a["origin"] = "germline"
        case["alterations"] = alts
        if r.random() < 0.6:
            case["tested_genes"] = r.sample(self.genes, r.randint(0, min(6, len(self.genes))))
        if r.random() < 0.6:   # a germline alteration means germline testing was done
            case["germline_tested"] = r.random() < 0.5 or any(a.get("origin") == "germline" for a in alts)
        roll = r.random()
        if roll < 0.25:
            pass   # history unknown
        elif roll < 0.4:
            case["prior_therapies"] = []
        else:
            case["prior_therapies"] = [self._line(r) for _ in range(r.randint(1, 3))]
        case["as_of"] = r.choice(self.days) if r.random() < 0.6 else (
            dt.date(2012, 1, 1) + dt.timedelta(days=r.randint(0, 365 * 16))).isoformat()
        if r.random() < 0.3:
            case["jurisdiction"] = r.choice(self.jurisdictions)
        return case

    def _line(self, r: random.Random) -> dict:
        line: dict = ({"regimen": r.choice(self.regimens)} if r.random() < 0.4
                      else {"drugs": r.sample(self.drugs, r.randint(1, 3))})
        if r.random() < 0.5:
            line["setting"] = r.choice(["adjuvant", "neoadjuvant", "metastatic", "maintenance"])
        if r.random() < 0.5:
            line["outcome"] = r.choice(["progression", "response", "stable", "intolerance"])
        if r.random() < 0.5:
            line["weeks"] = r.choice([4, 8, 12, 15, 16, 17, 24, 52])
        return line


_TRACE_OUTCOME = re.compile(r"^([A-Z]+-\d+)(?: -> \S+: (\w+)|: (note)$)")


class Differential:
    """Evaluates cases with both backends: counts profiles, invalid cases, mismatches and errors
    (a crash of either backend is counted, never hidden) and the CPU time of each backend."""

    def __init__(self, engine: Engine, log=None, every: int = 5000):
        self.engine, self.log, self.every = engine, log, every
        engine.durable()   # compiled and registered before timing
        self.stats: Counter = Counter()
        self.invalid: Counter = Counter()
        self.cpu = {"default": 0.0, "durable": 0.0}
        self.mismatches: list[dict] = []
        self.decided: set[tuple[str, str]] = set()   # (rule, verdict or "note") seen in traces
        self.started = time.perf_counter()

    def check(self, case: dict) -> None:
        self.stats["generated"] += 1
        try:
            norm = self.engine.normalise(case)
        except CaseError as exc:
            self.stats["invalid"] += 1
            self.invalid[exc.problems[0].message.split("'")[0][:50]] += 1
            return
        results = {}
        for backend in ("default", "durable"):
            t0 = time.process_time()
            try:
                results[backend] = self.engine.evaluate(norm, backend=backend).model_dump()
            except Exception as exc:
                results[backend] = f"{type(exc).__name__}: {exc}"
                self.stats[f"errors_{backend}"] += 1
            self.cpu[backend] += time.process_time() - t0
        self.stats["profiles"] += 1
        if isinstance(results["durable"], dict):
            for line in results["durable"]["trace"]:
                m = _TRACE_OUTCOME.match(line)
                if m:
                    self.decided.add((m.group(1), m.group(2) or m.group(3)))
        if results["default"] != results["durable"]:
            self.stats["mismatches"] += 1
            if len(self.mismatches) < 20:
                self.mismatches.append(case)
        if self.log is not None and self.stats["generated"] % self.every == 0:
            print(f"{self.stats['generated']} generated, {dict(self.stats)}, "
                  f"{time.perf_counter() - self.started:.0f} s", file=self.log, flush=True)

    def report(self) -> dict:
        report = {"mismatches": 0, "errors_default": 0, "errors_durable": 0, "invalid": 0, **self.stats}
        report["seconds"] = round(time.perf_counter() - self.started, 1)
        for backend, seconds in self.cpu.items():
            rate = self.stats["profiles"] / seconds if seconds else None
            report[f"{backend}_cases_per_cpu_second"] = round(rate, 1) if rate else None
        rules = [r for r in self.engine.rulebase.rules if r.kind != "derivation"]
        report["rules_with_an_outcome"] = f"{len({r for r, _ in self.decided})} of {len(rules)}"
        report["rule_outcomes_seen"] = len(self.decided)
        report["invalid_reasons"] = dict(self.invalid.most_common(10))
        report["mismatch_examples"] = self.mismatches
        return report


def differential(engine: Engine, n: int, seed: int, log=None, generator: str = "seeded") -> dict:
    """Compare the backends on ``n`` generated cases: from :class:`ProfileGenerator`
    (``seeded``) or from the hypothesis strategies of ``engine.testing`` (``testing``)."""
    diff = Differential(engine, log)
    if generator == "seeded":
        gen = ProfileGenerator(engine, seed)
        for i in range(2 * n):   # until n valid profiles were evaluated
            if diff.stats["profiles"] >= n:
                break
            diff.check(gen.case(i))
    else:
        from hypothesis import HealthCheck, Phase, given, settings, strategies as st
        from hypothesis import seed as fixed_seed

        from engine.testing import boundary_cases, cases

        @fixed_seed(seed)
        @settings(max_examples=n, phases=[Phase.generate], database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(st.one_of(cases(engine), boundary_cases(engine)))
        def run(case):
            diff.check(case)

        run()
    return diff.report()


def test_generated_profiles_give_the_default_result(engine):
    report = differential(engine, 300, seed=11)
    assert report["mismatches"] == 0, report["mismatch_examples"]
    assert report["errors_default"] == report["errors_durable"] == 0, report
    assert report["profiles"] == 300
    assert report["invalid"] <= 10, report["invalid_reasons"]   # the generator makes valid cases


def _script(argv=None) -> int:
    ap = argparse.ArgumentParser(description="differential run: default vs durable backend")
    ap.add_argument("--profiles", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--generator", choices=["seeded", "testing"], default="seeded",
                    help="this file's seeded generator, or the hypothesis strategies of engine.testing")
    ap.add_argument("--log", type=Path, default=None)
    args = ap.parse_args(argv)
    log = open(args.log, "a", encoding="utf-8") if args.log else sys.stderr
    print(f"differential: {args.profiles} profiles, {args.generator} generator, seed {args.seed}",
          file=log, flush=True)
    report = differential(default_engine(), args.profiles, args.seed, log, args.generator)
    print(json.dumps(report, indent=1), file=log, flush=True)
    if log is not sys.stderr:
        print(json.dumps({k: v for k, v in report.items() if k != "mismatch_examples"}))
    return 0 if not report.get("mismatches") and not report.get("errors_durable") else 1


if __name__ == "__main__":
    raise SystemExit(_script())


# --------------------------------------------------------------------------- the yardstick


def test_the_raw_yardstick_runs_the_same_rules_on_the_same_facts(engine):
    """``RawRuleset`` (the plain durable-rules program ``bench/bench.py`` compares the backend
    with) is equivalent: on the facts the backend posts for each example case, as many rules fire
    as in the backend's own session; and a session read without the matched facts names the same
    firings as one read with them."""
    backend = engine.durable()
    raws: dict[str, dh.RawRuleset] = {}
    for path in CASE_FILES:
        norm = engine.normalise(json.loads(path.read_text()))
        facts = backend.facts(Ctx(engine.program, norm))
        part = backend.part(norm)
        ruleset = part.ruleset
        if ruleset.name not in raws:
            raws[ruleset.name] = dh.RawRuleset(part.rules.rules, label="raw-test")
        raw = raws[ruleset.name]
        full = dh.run_session(ruleset, facts)
        bare = dh.run_session(ruleset, facts, matches=False)
        assert [f.rule for f in bare.firings] == [f.rule for f in full.firings]
        assert all(f.facts == {} for f in bare.firings) and any(f.facts for f in full.firings)
        before = raw.fired
        raw.run(facts)
        assert raw.fired - before == len(full.firings) > 0, path.name
