"""The semantics module (engine/semantics.py) on its own: the documented strength order, the
outcome table, resolution, and the README tables generated from them.

The expected values here are written out from rules/README.md's prose, not read from the module:
a change to the module's data that the documentation does not also make fails here."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine import semantics as sem

README = Path(__file__).resolve().parents[1] / "rules" / "README.md"


def test_verdict_strength_order_is_the_documented_one():
    # excluded > eligible > conditional > not_eligible > consider
    order = sorted(sem.VERDICTS, key=lambda v: -sem.VERDICT_RANK[v])
    assert order == ["excluded", "eligible", "conditional", "not_eligible", "consider"]
    assert sem.VERDICT_RANK["conditional"] > sem.VERDICT_RANK["not_eligible"]
    assert sem.VERDICT_RANK["excluded"] > sem.VERDICT_RANK["eligible"]


def test_evidence_strength_order_is_the_documented_one():
    # approved, resistance_standard > phase3 > clinical, resistance_clinical > preclinical, resistance_preclinical
    tiers = [{"approved", "resistance_standard"}, {"phase3"}, {"clinical", "resistance_clinical"},
             {"preclinical", "resistance_preclinical"}]
    for hi, lo in zip(tiers, tiers[1:], strict=False):
        for a in hi:
            for b in lo:
                assert sem.EVIDENCE_RANK[a] > sem.EVIDENCE_RANK[b], (a, b)
    for tier in tiers:
        assert len({sem.EVIDENCE_RANK[e] for e in tier}) == 1, tier


def test_options_are_listed_eligible_first():
    assert sem.LISTED == ("eligible", "conditional", "consider", "not_eligible", "excluded")
    assert [v for v, _ in sem.VERDICT_HEADINGS] == list(sem.LISTED)


@dataclass
class _Rule:
    id: str
    evidence: str
    overrides: tuple = ()
    conclude: object = None
    status: str = "regular"


@dataclass
class _CR:
    rule: _Rule


@dataclass
class _Ov:
    rule: str
    because: str = "a reason"


@dataclass(frozen=True)
class _Out:
    verdict: str
    when_true: bool = True
    missing: tuple = ()
    pending: bool = False


@dataclass
class _Conclude:
    verdict: str


def _c(rid, verdict, evidence="approved", overrides=(), when_true=True, missing=(), rule_verdict=None):
    """A candidate: its rule concludes ``rule_verdict`` (default: the outcome's verdict, eligible
    for a conditional outcome)."""
    concl = _Conclude(rule_verdict or ("eligible" if verdict == "conditional" else verdict))
    return _CR(_Rule(rid, evidence, tuple(_Ov(o) for o in overrides), concl)), _Out(verdict, when_true, tuple(missing))


@pytest.mark.parametrize("strong,weak", [
    (("A-002", "excluded"), ("A-001", "eligible")),
    (("A-002", "eligible"), ("A-001", "conditional")),
    (("A-002", "conditional"), ("A-001", "not_eligible")),
    (("A-002", "not_eligible"), ("A-001", "consider")),
])
def test_stronger_verdict_decides_whatever_the_rule_id(strong, weak):
    cands = [_c(*weak), _c(*strong)]
    best, out, _ = sem.choose(cands)
    assert best.rule.id == strong[0]
    best, out, _ = sem.choose(cands[::-1])
    assert best.rule.id == strong[0]


def test_evidence_then_rule_id_break_ties():
    best, _, _ = sem.choose([_c("A-001", "consider", "clinical"), _c("A-002", "consider", "phase3")])
    assert best.rule.id == "A-002"
    best, _, _ = sem.choose([_c("A-001", "excluded", "resistance_clinical"), _c("A-002", "excluded", "resistance_standard")])
    assert best.rule.id == "A-002"
    best, _, _ = sem.choose([_c("A-002", "consider", "clinical"), _c("A-001", "consider", "clinical")])
    assert best.rule.id == "A-001"


def test_override_counts_only_when_the_overriding_rule_holds():
    exclusion = _c("X-001", "excluded", "resistance_standard")
    holds = _c("E-001", "eligible", overrides=["X-001"])
    best, _, aside = sem.choose([exclusion, holds])
    assert best.rule.id == "E-001" and aside["X-001"][0] is holds[0]
    # one that may hold sets nothing aside, but the exclusion it would set aside is not sure: the
    # decision waits on what the overriding rule misses
    maybe = _c("E-001", "conditional", overrides=["X-001"], when_true=False, missing=("KRAS testing",))
    best_cr, best, aside = sem.choose([exclusion, maybe])
    assert best_cr.rule.id == "E-001" and aside == {} and best.verdict == "conditional" and best.missing == ("KRAS testing",)
    # a rule that may hold and names another rule decides nothing over the exclusion
    other = _c("E-002", "conditional", overrides=["X-009"], when_true=False, missing=("KRAS testing",))
    best_cr, best, aside = sem.choose([exclusion, other])
    assert best_cr.rule.id == "X-001" and aside == {} and best.verdict == "excluded"


def test_a_trial_rule_that_may_hold_makes_the_verdict_it_would_set_aside_wait_and_ranks_as_consider():
    exclusion = _c("X-001", "excluded", "resistance_standard")
    trial = _c("T-001", "conditional", "clinical", overrides=["X-001"], when_true=False, missing=("KRAS testing",),
               rule_verdict="consider")
    best_cr, best, _ = sem.choose([exclusion, trial])
    assert best_cr.rule.id == "T-001" and best.verdict == "conditional"
    # a label criterion another rule finds not met would decide over the consider once known:
    # the conditional does not decide over it either
    unmet = _c("N-001", "not_eligible", "approved")
    best_cr, _, _ = sem.choose([unmet, trial])
    assert best_cr.rule.id == "N-001"
    # an approval's conditional still ranks above a not_eligible
    approval = _c("E-001", "conditional", overrides=["X-001"], when_true=False, missing=("KRAS testing",))
    best_cr, _, _ = sem.choose([unmet, approval])
    assert best_cr.rule.id == "E-001"


def test_mutual_overrides_fall_back_to_strength():
    a = _c("A-001", "excluded", overrides=["A-002"])
    b = _c("A-002", "eligible", overrides=["A-001"])
    best, _, aside = sem.choose([a, b])
    assert best.rule.id == "A-001" and aside == {}


@pytest.mark.parametrize("when,req,verdict,code", [
    (False, True, "eligible", "silent"), (False, None, "excluded", "silent"),
    (True, True, "eligible", "verdict"), (True, True, "consider", "verdict"), (True, True, "excluded", "verdict"),
    (True, False, "eligible", "unmet"), (None, False, "excluded", "unmet"),
    (True, None, "eligible", "conditional"), (True, None, "consider", "stands"), (True, None, "excluded", "stands"),
    (None, True, "eligible", "conditional"), (None, None, "eligible", "conditional"),
    (None, True, "excluded", "pending"), (None, None, "excluded", "pending"),
    (None, True, "consider", "silent"), (None, True, "not_eligible", "silent"),
])
def test_outcome_table(when, req, verdict, code):
    assert sem.outcome_code(when, req, sem.rule_kind(verdict)) == code
    # a consider rule that sets another aside (the verdict it would set aside is then not sure), or
    # that says so (conclude.when_unknown), speaks while its gate is unknown (the rest of the table
    # is that of its verdict)
    asking = sem.outcome_code(when, req, sem.rule_kind(verdict, asks=True))
    assert asking == ("conditional" if when is None and req is not False and verdict == "consider" else code)


def _section(text: str, name: str) -> str:
    m = re.search(rf"<!-- generated: {name} -->\n(.*?)\n<!-- end: {name} -->", text, re.S)
    assert m, f"rules/README.md has no generated section {name!r}"
    return m.group(1)


def test_readme_tables_are_generated_from_the_semantics_module():
    """If this fails, paste the printed tables into rules/README.md (or run
    ``python -m engine.semantics --write-readme``)."""
    text = README.read_text()
    assert _section(text, "outcome-table") == sem.readme_outcome_table()
    assert _section(text, "check-codes") == sem.readme_check_table()


def test_check_codes_come_from_the_semantics_module():
    from engine.verify import CODES

    assert CODES == {c: (name, sev) for c, (name, sev, _) in sem.CHECK_CODES.items()}
