"""``kras-rules check``: load the rule base, verify citations, and run every rule's examples."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine import audit
from engine.api import Engine
from engine.errors import CaseError, Problem
from engine.rulebase import RuleBase, check_citations, seeds_dir_for
from engine.rules_model import Example, Rule


@dataclass
class ExampleResult:
    rule_id: str
    name: str
    ok: bool
    message: str = ""


@dataclass
class CheckReport:
    rules: int = 0
    examples: list[ExampleResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    quotes_verified: int = 0
    seeds_found: bool = False
    seeds_looked: str = ""  # where the seed documents were looked for (when not found)
    extra: list[str] = field(default_factory=list)  # lines for --verbose
    searched: bool = True  # False: the exhaustive search of profiles was skipped (check --quick)

    @property
    def ok(self) -> bool:
        return not self.problems and all(e.ok for e in self.examples)


def example_case(rb: RuleBase, rule: Rule, ex: Example) -> dict:
    case = dict(ex.case)
    case.setdefault("id", f"{rule.id}:{ex.name}")
    case.setdefault("as_of", rb.meta.knowledge_version.isoformat())
    return case


def run_example(engine: Engine, rule: Rule, ex: Example) -> ExampleResult:
    rb = engine.rulebase
    try:
        res = engine.evaluate(example_case(rb, rule, ex))
    except CaseError as exc:
        return ExampleResult(rule.id, ex.name, False, f"example case is invalid: {exc.render()}")
    exp = ex.expect
    if rule.kind == "conclusion":
        targets = rb.targets.get(rule.id, ())
        therapy = exp.therapy or (targets[0] if len(targets) == 1 else None)
        opt = res.option(therapy) if therapy else None
        got = opt.verdict if opt else "no option"
        if exp.no_option:
            if opt is None:
                return ExampleResult(rule.id, ex.name, True, "")
            return ExampleResult(rule.id, ex.name, False, f"{therapy}: expected no option, got {got} (decided by {opt.rules[0]})")
        if got != exp.verdict:
            why = f"; decided by {opt.rules[0]}" if opt else ""
            return ExampleResult(rule.id, ex.name, False, f"{therapy}: expected {exp.verdict}, got {got}{why}")
        assert opt is not None  # got == exp.verdict, and a verdict is never "no option"
        if exp.decided_by_this_rule and opt.rules[0] != rule.id:
            return ExampleResult(rule.id, ex.name, False, f"{therapy}: {got} as expected, but decided by {opt.rules[0]}, not {rule.id}")
        for m in exp.missing or ():
            if not any(m.lower() in x.lower() for x in opt.missing):
                return ExampleResult(rule.id, ex.name, False, f"{therapy}: missing should mention '{m}', got {opt.missing}")
    elif rule.kind == "derivation":
        from engine.evaluation.evaluator import Ctx

        want = None if exp.fact_unknown else exp.fact
        assert rule.derive is not None  # a derivation rule names its fact (the model checks it)
        # the fact itself, whether or not a rule of this case's cancer type uses it
        got = res.facts[rule.derive] if rule.derive in res.facts else Ctx(
            engine.program, engine.normalise(example_case(rb, rule, ex))
        ).fact(rule.derive)
        if got is not want:
            def show(v: bool | None) -> str:
                return "unknown" if v is None else str(v).lower()

            return ExampleResult(rule.id, ex.name, False, f"fact {rule.derive}: expected {show(want)}, got {show(got)}")
    elif rule.kind == "caution":
        if exp.therapy is not None:  # on that therapy's option
            on = res.option(exp.therapy)
            got_c = on is not None and any(c.rule == rule.id for c in on.cautions)
        else:
            got_c = any(c.rule == rule.id for o in res.options for c in o.cautions) or any(
                n.rule == rule.id for n in res.note_details)
        if got_c != exp.caution:
            where = f" on {exp.therapy}" if exp.therapy is not None else ""
            return ExampleResult(rule.id, ex.name, False, f"caution expected {'present' if exp.caution else 'absent'}{where}, "
                                 f"got {'present' if got_c else 'absent'}")
    else:
        got_note = any(n.rule == rule.id for n in res.note_details)
        if got_note != exp.note:
            return ExampleResult(rule.id, ex.name, False, f"note expected {'present' if exp.note else 'absent'}, got {'present' if got_note else 'absent'}")
    return ExampleResult(rule.id, ex.name, True)


def run_check(engine: Engine, *, seeds=None, search: bool = True, jobs: int = 1) -> CheckReport:
    """Citations, verification records, every rule's examples and the semantic checks of
    :func:`engine.verify.verify`; ``search=False`` (``check --quick``) leaves out its exhaustive
    search of profiles."""
    rb = engine.rulebase
    report = CheckReport(rules=len(rb.rules), searched=search)
    seeds = seeds or seeds_dir_for(rb.directory, rb.meta)
    report.seeds_found = seeds is not None
    if seeds is None:
        report.seeds_looked = os.environ.get("KRAS_SEEDS_DIR") or str((rb.directory.parent / rb.meta.seeds_dir).resolve())
    report.quotes_verified = check_citations(rb, report.problems, seeds)
    report.problems.extend(audit.unverified(rb))  # V013
    report.problems.extend(audit.inconsistent_records(rb))  # V013: a record that cannot verify its rules
    report.problems.extend(audit.id_ledger(rb))  # V015
    report.problems.extend(audit.internal_names(rb))  # V016
    for rule in rb.rules:
        if rule.status == "retired":
            continue
        for ex in rule.examples:
            report.examples.append(run_example(engine, rule, ex))
    try:
        from engine.verify import verify  # semantic checks over the whole rule base
    except ImportError:  # pragma: no cover - verification module absent
        pass
    else:
        vr = verify(engine, search=search, jobs=jobs)
        report.problems.extend(vr.problems)
        report.extra.extend(vr.summary)
    return report
