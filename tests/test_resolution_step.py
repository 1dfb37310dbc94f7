"""The one resolution step of engine.semantics (apply_pending, choose) on hand-built candidates,
and the README renderer. Each case states the expected outcome from the candidates alone; the
rules are minimal stand-ins carrying only what resolution reads (id, evidence, verdict, overrides)."""
from __future__ import annotations

from types import SimpleNamespace as NS

from engine import semantics as sem
from engine.evaluator import RuleOutcome


def rule(rid, verdict="eligible", evidence="approved", overrides=()):
    return NS(rule=NS(id=rid, evidence=evidence, conclude=NS(verdict=verdict),
                      overrides=tuple(NS(rule=o, because=f"{rid} over {o}") for o in overrides)))


def outcome(rid, verdict, when_true=True, missing=(), pending=False):
    return RuleOutcome(rid, verdict, when_true, tuple(missing), (), pending)


def conditional(out, p_cr, p_out):
    """The conditional outcome ``out`` becomes under the pending exclusion ``p_cr``."""
    missing = tuple(sorted(set(out.missing) | set(p_out.missing)))
    return RuleOutcome(out.rule_id, "conditional", out.when_true, missing, out.failed)


def pending_exclusion(rid, missing, overrides=()):
    return rule(rid, "excluded", "resistance_clinical", overrides), outcome(rid, "excluded", None, missing, True)


def verdicts(live):
    return {cr.rule.id: (out.verdict, out.missing) for cr, out in live}


def test_pending_exclusion_with_overrides_makes_only_the_rules_it_names_conditional():
    a, b = rule("A"), rule("B")
    p = pending_exclusion("P", ["KRAS status"], overrides=["B"])
    live, applied = sem.apply_pending([(a, outcome("A", "eligible")), (b, outcome("B", "eligible")), p], conditional)
    assert verdicts(live) == {"A": ("eligible", ()), "B": ("conditional", ("KRAS status",))}
    assert [cr.rule.id for cr, _ in applied] == ["P"]


def test_pending_exclusion_whose_targets_are_not_candidates_is_not_applied():
    a = rule("A")
    p = pending_exclusion("P", ["KRAS status"], overrides=["Z"])
    live, applied = sem.apply_pending([(a, outcome("A", "eligible")), p], conditional)
    assert verdicts(live) == {"A": ("eligible", ())}
    assert applied == []


def test_a_pending_exclusion_set_aside_does_not_stop_the_next_one():
    a = rule("A", overrides=["P1"])
    p1 = pending_exclusion("P1", ["BRAF status"])
    p2 = pending_exclusion("P2", ["NRAS status"])
    live, applied = sem.apply_pending([(a, outcome("A", "eligible")), p1, p2], conditional)
    assert verdicts(live) == {"A": ("conditional", ("NRAS status",))}
    assert [cr.rule.id for cr, _ in applied] == ["P2"]


def test_a_conditional_eligibility_gains_the_missing_data_of_the_pending_exclusion():
    a = rule("A")
    p = pending_exclusion("P", ["NRAS status"])
    live, applied = sem.apply_pending([(a, outcome("A", "conditional", missing=["stage"])), p], conditional)
    assert verdicts(live) == {"A": ("conditional", ("NRAS status", "stage"))}
    assert [cr.rule.id for cr, _ in applied] == ["P"]


def test_pending_exclusion_passes_over_other_verdicts_and_reaches_the_eligibility_rules():
    c, a = rule("C", "consider", "clinical"), rule("D")
    p = pending_exclusion("P", ["NRAS status"])
    live, _ = sem.apply_pending([(c, outcome("C", "consider")), (a, outcome("D", "eligible")), p], conditional)
    assert verdicts(live) == {"C": ("consider", ()), "D": ("conditional", ("NRAS status",))}


def test_only_pending_exclusions_leave_nothing_to_decide():
    p = pending_exclusion("P", ["NRAS status"])
    assert sem.apply_pending([p], conditional) == ([], [])


def test_choose_prefers_the_stronger_verdict_then_evidence_then_the_lower_id():
    e, x = rule("B", "eligible"), rule("A", "excluded", "resistance_standard")
    best_cr, best, aside = sem.choose([(e, outcome("B", "eligible")), (x, outcome("A", "excluded"))])
    assert (best_cr.rule.id, best.verdict, aside) == ("A", "excluded", {})
    lo, hi = rule("B", "consider", "clinical"), rule("C", "consider", "phase3")
    assert sem.choose([(lo, outcome("B", "consider")), (hi, outcome("C", "consider"))])[0].rule.id == "C"
    one, two = rule("B"), rule("A")
    assert sem.choose([(one, outcome("B", "eligible")), (two, outcome("A", "eligible"))])[0].rule.id == "A"


def test_render_readme_replaces_each_generated_section_and_keeps_the_rest():
    stale = ("intro\n<!-- generated: outcome-table -->\n| old | table |\n| --- | --- |\n<!-- end: outcome-table -->\nmiddle\n"
             "<!-- generated: check-codes -->\nold codes\n<!-- end: check-codes -->\nend\n")
    text = sem.render_readme(stale)
    assert text == ("intro\n<!-- generated: outcome-table -->\n" + sem.readme_outcome_table()
                    + "\n<!-- end: outcome-table -->\nmiddle\n<!-- generated: check-codes -->\n"
                    + sem.readme_check_table() + "\n<!-- end: check-codes -->\nend\n")
    assert sem.render_readme(text) == text
