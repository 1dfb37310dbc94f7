"""Deliberate breaks of the engine's semantics, each made on a scratch copy of the repository,
and the default-suite test that must catch it (a small, hand-picked mutation run).

    python tests/breaks.py          # every break
    python tests/breaks.py 3 7      # breaks 3 and 7

Each line says CAUGHT (the named test failed on the broken copy) or NOT CAUGHT, and how long the
catching test took. Add a break here whenever a semantic rule gains a test.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]
PY = sys.executable
BREAKS = [
    ("override applied when the overriding rule's gate is only unknown",
     "engine/semantics.py", "        if out.when_true and cr.rule.overrides:", "        if cr.rule.overrides:",
     ["tests/test_semantics.py::test_override_needs_its_own_gate_to_hold"]),
    ("prior_lines max: a line of unknown setting treated as meeting it",
     "engine/conditions/prior_lines.py", "            if maybe > hi:\n                return None", "            pass",
     ["tests/test_language.py::test_prior_lines_max_counts_a_line_of_unknown_setting_as_unknown"]),
    ("evidence order swapped (phase3 below clinical)",
     "engine/semantics.py", '    "phase3": 3,', '    "phase3": 1,',
     ["tests/test_semantics_data.py::test_evidence_strength_order_is_the_documented_one"]),
    ("conditional ranked below not_eligible",
     "engine/semantics.py", 'VERDICTS = ("excluded", "eligible", "conditional", "not_eligible", "consider")',
     'VERDICTS = ("excluded", "eligible", "not_eligible", "conditional", "consider")',
     ["tests/test_semantics_data.py::test_verdict_strength_order_is_the_documented_one"]),
    ("prior_lines min with a setting: a line of unknown setting counted as in it",
     "engine/conditions/prior_lines.py", "            if sure < lo:\n                return None", "            pass",
     ["tests/test_language.py::test_prior_lines_min_counts_only_lines_in_its_setting"]),
    ("verdict strength swapped (eligible above excluded)",
     "engine/semantics.py", 'VERDICTS = ("excluded", "eligible", "conditional", "not_eligible", "consider")',
     'VERDICTS = ("eligible", "excluded", "conditional", "not_eligible", "consider")',
     ["tests/test_semantics_data.py::test_verdict_strength_order_is_the_documented_one"]),
    ("effective_to dropped",
     "engine/evaluation/evaluator.py", "        self.end = self.rule.effective_to", "        self.end = None",
     ["tests/test_language.py::test_a_rule_is_silent_from_its_effective_to_date"]),
    ("RAS-mutant derivation broken (the property takes its precondition from the case)",
     "engine/evaluation/evaluator.py", "            if w:\n                v = True\n                break", "            if w:\n                v = False\n                break",
     ["tests/test_properties.py::test_ras_mutant_colorectal_never_gets_an_anti_egfr_antibody_without_a_g12c_inhibitor_as_anything_but_excluded"]),
    ("pending exclusion ignored (unknown-gated exclusion leaves the approval eligible)",
     "engine/semantics.py", "    if not pending or not live:\n        return live, []", "    return live, []",
     ["tests/test_language.py::test_unflagged_allele_exposed_without_outcome_makes_the_approval_conditional"]),
    ("class-wide exclusion not limited to the therapy's scope",
     "engine/evaluation/evaluator.py", "        if not cr.selector:\n            scope.update(cr.targets)", "        scope.update(cr.targets)",
     ["tests/test_semantics.py::test_class_exclusion_gives_no_option_outside_the_therapy_scope"]),
    ("acquired_on: unflagged allele after progression on the class not read as acquired",
     "engine/conditions/alteration.py", "                if ln.outcome == \"progression\":\n                    return True", "                pass",
     ["tests/test_language.py::test_unflagged_allele_after_progression_on_the_class_is_acquired"]),
    ("cancer code coarser than the rule read as false",
     "engine/conditions/cancer.py", "        return None if case.cancer.code in coarser else False", "        return False",
     ["tests/test_language.py::test_cancer_coded_less_specifically_than_the_rule_is_unknown"]),
    ("durable compiler drops the pending row of the outcome table",
     "engine/durable/compiler.py", "            if code == UNMET and concl.unmet is None:", "            if code == PENDING or (code == UNMET and concl.unmet is None):",
     ["tests/test_language.py::test_both_backends_agree_on_the_language_features"]),
    ("compiled plans: class-wide exclusion not limited to the therapy's scope",
     "engine/evaluation/plancode.py", "        if not cr.selector and cr.targets:", "        if cr.targets:",
     ["tests/test_plancode.py::test_mini_cases_give_the_interpreters_result_when_compiled"]),
    ("compiled plans: `not` of an unknown value read as true",
     "engine/evaluation/plancode.py", '                self.emit(f"{v} = None if {t} is None else not {t}")', '                self.emit(f"{v} = not {t}")',
     ["tests/test_plancode.py::test_each_node_kind_compiles_to_its_kleene_value_for_every_assignment"]),
    ("compiled plans: a requirement's unknown value read as met",
     "engine/evaluation/plancode.py", '                          ("elif " + " or ".join(f"{r} is None" for r in reqs), None),\n', "",
     ["tests/test_plancode.py::test_mini_cases_give_the_interpreters_result_when_compiled"]),
]
which = sys.argv[1:]
failed = 0
for i, (name, path, old, new, tests) in enumerate(BREAKS, 1):
    if which and str(i) not in which:
        continue
    scratch = Path(tempfile.mkdtemp(prefix="kras-rules-break-"))
    dst = scratch / "repo"
    shutil.copytree(SRC, dst, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", ".cache-*", ".hypothesis"))
    f = dst / path
    text = f.read_text()
    assert old in text, (i, name, old)
    f.write_text(text.replace(old, new, 1))
    env = dict(os.environ, PYTHONPATH=str(dst), KRAS_RULES_CACHE="off")
    t = time.perf_counter()
    r = subprocess.run([PY, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests], cwd=dst, env=env,
                       capture_output=True, text=True)
    dt = time.perf_counter() - t
    status = "CAUGHT" if r.returncode == 1 else f"NOT CAUGHT (exit {r.returncode})"
    failed += r.returncode != 1
    last = [l for l in r.stdout.splitlines() if l.strip()][-1:]
    print(f"{i:2d}. {name}: {status} in {dt:.1f} s by {', '.join(t.split('::')[-1] for t in tests)} [{last[0] if last else ''}]", flush=True)
    shutil.rmtree(scratch)
sys.exit(1 if failed else 0)
