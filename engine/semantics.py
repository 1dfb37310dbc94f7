"""The engine's semantics in one place, as data: verdicts, evidence, the outcome table and
resolution.

Everything that says what a verdict *means* lives here and only here; the default backend
(:mod:`engine.evaluation.evaluator`), the durable backend's compiler, ``check`` (:mod:`engine.verify`),
the output formats and the tables of ``rules/README.md`` all read it:

* :data:`VERDICTS` with their strength (:data:`VERDICT_RANK`), the order options are listed in
  (:data:`OPTION_ORDER`) and the headings of the text output (:data:`VERDICT_HEADINGS`);
* :data:`EVIDENCE` with their strength (:data:`EVIDENCE_RANK`) and default OncoKB levels;
* :data:`OUTCOME_TABLE`: what a conclusion rule says for each value of its ``when`` and of its
  requirements, by the kind of its verdict; :func:`outcome_code` reads it;
* :func:`strength`, :func:`choose` and :func:`apply_pending`: which outcome decides a therapy;
* :data:`CHECK_CODES`: the findings of ``kras-rules check``.

:func:`readme_outcome_table` and :func:`readme_check_table` render the tables that
``rules/README.md`` shows (a test keeps the README in step).
"""
from __future__ import annotations

from functools import cache

# --------------------------------------------------------------------------- verdicts

#: every verdict, strongest first (the documented strength order)
VERDICTS = ("excluded", "eligible", "conditional", "not_eligible", "consider")
VERDICT_RANK = {v: len(VERDICTS) - i for i, v in enumerate(VERDICTS)}
#: the order options are listed in (and the text output's sections)
OPTION_ORDER = {v: i for i, v in enumerate(("eligible", "conditional", "consider", "not_eligible", "excluded"))}
#: verdicts in the order options are listed
LISTED = tuple(OPTION_ORDER)
VERDICT_HEADINGS = (
    ("eligible", "ELIGIBLE (approved, every label criterion met)"),
    ("conditional", "CONDITIONAL (would be eligible or worth considering; data missing)"),
    ("consider", "CONSIDER (investigational: trial, expanded access, evidence short of approval)"),
    ("not_eligible", "NOT ELIGIBLE (a criterion of the approval, or of the population its evidence comes from, is not met)"),
    ("excluded", "EXCLUDED (the biomarkers predict no benefit or resistance)"),
)
POSITIVE = ("eligible", "conditional", "consider")
#: the verdicts of the rules a pending exclusion makes wait on what it is missing (apply_pending)
WAITS_ON_PENDING = ("eligible", "consider")
#: a verdict in a sentence
VERDICT_WORDS = {
    "eligible": "eligible",
    "conditional": "conditional",
    "consider": "consider",
    "not_eligible": "not eligible",
    "excluded": "excluded",
}

# --------------------------------------------------------------------------- evidence

EVIDENCE = ("approved", "phase3", "clinical", "preclinical",
            "resistance_standard", "resistance_clinical", "resistance_preclinical")
EVIDENCE_RANK = {
    "approved": 4,
    "resistance_standard": 4,
    "phase3": 3,
    "clinical": 2,
    "resistance_clinical": 2,
    "preclinical": 1,
    "resistance_preclinical": 1,
}

#: an evidence level in a sentence
EVIDENCE_WORDS = {
    "approved": "approved",
    "phase3": "phase 3 evidence",
    "clinical": "clinical evidence",
    "preclinical": "preclinical evidence",
    "resistance_standard": "standard-of-care resistance",
    "resistance_clinical": "clinical resistance evidence",
    "resistance_preclinical": "preclinical resistance evidence",
}

#: an option's OncoKB level when the deciding rule sets none
DEFAULT_ONCOKB: dict[str, str | None] = {
    "approved": "1",
    "phase3": "3A",
    "clinical": "3B",  # 3A within the rule's population (CLINICAL_IN_POPULATION), else 3B
    "preclinical": "4",
    "resistance_standard": "R1",
    "resistance_clinical": "R2",
    "resistance_preclinical": None,  # OncoKB's R2 is for clinical evidence: no preclinical level
}
CLINICAL_IN_POPULATION, CLINICAL_OUTSIDE = "3A", "3B"

# --------------------------------------------------------------------------- the outcome table

T, F, U = True, False, None
#: outcome codes: what a conclusion rule gives a therapy
SILENT = "silent"          # no outcome
VERDICT = "verdict"        # conclude.verdict
UNMET = "unmet"            # conclude.unmet (default not_eligible; null: silent); failed criteria named
CONDITIONAL = "conditional"  # "would be eligible": missing lists what to find out
STANDS = "stands"          # conclude.verdict, with what is missing listed
PENDING = "pending"        # an exclusion whose gate is unknown (resolution applies it)

#: the kinds of conclusion rule the outcome table tells apart: ``asking`` is a ``consider`` rule
#: that speaks while its gate is unknown ("would be worth considering", naming what it misses)
#: where ``other`` rules (consider, not_eligible) are silent: a rule that sets a rule aside
#: (``overrides``), since the verdict it sets aside is then not sure (a KRAS G12C trial
#: combination beside the RAS-mutant exclusion, KRAS untested), and a rule that says so
#: (``conclude.when_unknown: conditional``: an option an approval elsewhere gives, whose
#: biomarker test is worth asking for)
RULE_KINDS = ("eligible", "excluded", "asking", "other")

#: (when, requirements, rule kind) -> outcome code (absent: silent). ``requirements`` is the Kleene ``all`` of
#: ``requires`` (true when there are none); ``rule kind`` is one of :data:`RULE_KINDS`. Missing
#: combinations are silent.
OUTCOME_TABLE: dict[tuple, str] = {}
for _kind in RULE_KINDS:
    OUTCOME_TABLE[(T, T, _kind)] = VERDICT
    OUTCOME_TABLE[(T, F, _kind)] = UNMET
    OUTCOME_TABLE[(U, F, _kind)] = UNMET
    OUTCOME_TABLE[(T, U, _kind)] = CONDITIONAL if _kind == "eligible" else STANDS
    if _kind != "other":  # other verdicts are silent while the gate is unknown
        for _req in (T, U):
            OUTCOME_TABLE[(U, _req, _kind)] = PENDING if _kind == "excluded" else CONDITIONAL
del _kind, _req


def rule_kind(verdict: str, asks: bool = False) -> str:
    """The outcome table's kind of a conclusion rule of ``verdict`` (``asks``: it has ``overrides``
    or ``conclude.when_unknown``; a ``not_eligible`` rule's unknown gate never makes a positive
    verdict)."""
    if verdict in ("eligible", "excluded"):
        return verdict
    return "asking" if asks and verdict == "consider" else "other"


def outcome_code(when, requirements, kind: str) -> str:
    """The outcome table's entry for a conclusion rule of ``kind`` (:func:`rule_kind`)."""
    if when is False:
        return SILENT
    return OUTCOME_TABLE.get((when, requirements, kind), SILENT)


#: the table's rows for people (rules/README.md): labels of (when, requirements) cells that
#: the table gives the same outcomes
_ROWS = (
    ("false", "-", ((F, T),)),
    ("true", "all true (or none)", ((T, T),)),
    ("true or unknown", "one false", ((T, F), (U, F))),
    ("true", "none false, one unknown", ((T, U),)),
    ("unknown", "none false", ((U, T), (U, U))),
)
_PHRASES = {
    VERDICT: "`conclude.verdict`",
    UNMET: "`conclude.unmet` (default `not_eligible`; `null` makes the rule silent); the explanation names "
           "the failed criteria",
    CONDITIONAL: "`conditional` (\"would be eligible\", or worth considering); `missing` lists what to find out",
    STANDS: "the verdict stands; `missing` lists what to find out",
    PENDING: "*pending* (see below)",
    SILENT: "silent",
}
_KIND_WORDS = {"eligible": "`eligible` rules", "excluded": "`excluded` rules",
               "asking": "`consider` rules with `overrides` or `when_unknown: conditional`", "other": "other verdicts"}


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def readme_outcome_table() -> str:
    """The outcome table of rules/README.md, rendered from :data:`OUTCOME_TABLE`."""
    lines = ["| `when` | `requires` | outcome for each therapy in `conclude` |", "| --- | --- | --- |"]
    for when, req, cells in _ROWS:
        per_kind = {k: outcome_code(cells[0][0], cells[0][1], k) for k in RULE_KINDS}
        for w, r in cells[1:]:  # the cells of one row must agree
            assert all(outcome_code(w, r, k) == c for k, c in per_kind.items())
        if len(set(per_kind.values())) == 1:
            text = _PHRASES[per_kind["eligible"]]
        else:
            groups: dict[str, list[str]] = {}
            for k, c in per_kind.items():
                groups.setdefault(c, []).append(_KIND_WORDS[k])
            text = "; ".join(f"{_and(ks)}: {_PHRASES[c]}" for c, ks in groups.items())
        lines.append(f"| {when} | {req} | {text} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- resolution


#: among outcomes of one verdict and evidence, a regular approval decides before an accelerated one
#: (its population was confirmed), and both before rules of other statuses
STATUS_RANK = {"regular": 2, "accelerated": 1}


def strength(cr, out) -> tuple:
    """Which outcome decides a therapy when no explicit precedence does: verdict, then evidence,
    then a rule whose gate is known to hold before one whose gate is unknown, then status (a
    regular approval before an accelerated one), then the outcome missing fewer facts (the closer
    to a decision), then the lower rule id (the one definition, used by resolution and by
    ``check``). So a BRAF V600E lung adenocarcinoma is decided by the regular NSCLC approval, in
    any line, before the accelerated tumour-agnostic one, which asks for prior treatment; and a
    BRAF V600E "lung cancer" of unknown histology by the tumour-agnostic rule, whose gate holds.
    A conditional outcome ranks no higher than the verdict its rule gives once what it misses is
    known."""
    rule = cr.rule
    rank = VERDICT_RANK[out.verdict]
    if out.verdict == "conditional":
        # "would be worth considering" (the conditional of a consider rule with overrides, see
        # RULE_KINDS) is no stronger than the consider it would be once known: it decides over no
        # verdict that would decide over that consider
        rank = min(rank, VERDICT_RANK[rule.conclude.verdict])
    return (rank, EVIDENCE_RANK[rule.evidence], out.when_true, STATUS_RANK.get(rule.status, 0),
            -len(out.missing), *_id_rank(rule.id))


@cache
def _id_rank(rule_id: str) -> tuple:
    # lower ids win ties: invert character codes so that max() prefers them
    return tuple(-ord(ch) for ch in rule_id)


def choose(cands: list):
    """The one resolution step (every backend and ``check``): which outcome decides a therapy.

    ``cands`` are ``(compiled rule, outcome)`` pairs, none pending. Explicit precedence first (an
    ``overrides`` counts only when the overriding rule's ``when`` is true), then :func:`strength`.
    A rule whose ``when`` is unknown sets nothing aside, but where its outcome is positive and
    the rule it names would decide with a negative verdict, that verdict is not sure: the
    overriding rule's outcome (conditional, naming what it misses) decides, and the explanation
    says which verdict stands if it does not apply. Returns ``(best rule, best
    outcome, aside)``; ``aside`` maps a set-aside rule id to (the rule that set it aside,
    because): the deciding rule where it is one of the rules that set it aside, else the first of
    them by rule id."""
    if len(cands) == 1:
        return cands[0][0], cands[0][1], {}
    aside: dict = {}
    for cr, out in cands:
        if out.when_true and cr.rule.overrides:
            for ov in cr.rule.overrides:
                aside.setdefault(ov.rule, (cr, ov.because))
    live = [co for co in cands if co[0].rule.id not in aside] if aside else cands
    if not live:  # mutual overrides: fall back to strength over all
        live = cands
        aside = {}
    best_cr, best = max(live, key=lambda co: strength(*co))
    if best.verdict not in POSITIVE:
        # A rule that would set the deciding one aside, were its unknown gate shown to hold (a
        # KRAS G12C combination beside the RAS-mutant exclusion, KRAS untested): the decision
        # waits on what it misses, as an approval waits on a pending exclusion (apply_pending).
        waiting = [co for co in live if co[1].verdict in POSITIVE and not co[1].when_true
                   and any(ov.rule == best_cr.rule.id for ov in co[0].rule.overrides)]
        if waiting:
            best_cr, best = max(waiting, key=lambda co: strength(*co))
    if aside and best.when_true and best_cr.rule.overrides:
        # a rule set aside by several is set aside by the deciding rule, when that is one of them
        for ov in best_cr.rule.overrides:
            if ov.rule in aside:
                aside[ov.rule] = (best_cr, ov.because)
    return best_cr, best, aside


def apply_pending(cands: list, conditional):
    """Exclusions whose gate is unknown (``pending``): each makes the outcomes it would decide
    over once confirmed wait on what it is missing: the eligibility outcomes it would override
    (its ``overrides``, or every eligibility rule of the therapy when it lists none) become
    conditional, and the therapy's ``consider`` outcomes (an exclusion is the stronger verdict)
    stand with the exclusion's missing facts added, as a ``consider`` whose own requirements are
    unknown does. ``conditional(outcome, pending rule, pending outcome)`` builds the new outcome.
    A pending exclusion set aside by a rule whose ``when`` is true does nothing, and an outcome of
    a rule that would set it aside never waits on it. Returns the
    deciding candidates and the pending exclusions that applied."""
    pending = [co for co in cands if co[1].pending]
    live = [co for co in cands if not co[1].pending]
    if not pending or not live:
        return live, []
    aside = {ov.rule for cr, out in live if out.when_true for ov in cr.rule.overrides}
    applied = []
    for p_cr, p_out in pending:
        if p_cr.rule.id in aside:
            continue
        targets = {ov.rule for ov in p_cr.rule.overrides}
        hit = False
        for k, (cr, out) in enumerate(live):
            kind = cr.rule.conclude.verdict
            if kind not in WAITS_ON_PENDING or out.verdict not in POSITIVE:
                continue
            if any(ov.rule == p_cr.rule.id for ov in cr.rule.overrides):
                continue  # where its own gate holds it sets the exclusion aside; where not, it says nothing
            # an approval waits when the exclusion would set it aside; a consider always (once
            # confirmed, an exclusion decides over it by strength)
            if kind == "eligible" and targets and cr.rule.id not in targets:
                continue
            live[k] = (cr, conditional(out, p_cr, p_out))
            hit = True
        if hit:
            applied.append((p_cr, p_out))
    return live, applied


# --------------------------------------------------------------------------- check codes

#: code -> (name, severity, meaning for rules/README.md)
CHECK_CODES: dict[str, tuple[str, str, str]] = {
    "V001": ("conflict", "error",
             "conflict: an approval and an exclusion (or a rule whose own verdict is `not_eligible`) of one "
             "therapy both apply and no `overrides` settles it"),
    "V002": ("allele-leak", "error",
             "allele leak: a therapy gated on an allele gets a positive verdict for a tumour shown to lack it"),
    "V003": ("dead-rule", "error", "dead rule: no profile makes it give an outcome, or (a conclusion rule) its own "
                                   "verdict: its `when` and every requirement never hold together"),
    "V004": ("shadowed-rule", "error",
             "shadowed rule: it never decides, and a different verdict wins over it somewhere"),
    "V005": ("duplicate-rule", "error", "duplicate rule: the same outcome as another rule in every profile"),
    "V006": ("subsumed-rule", "warning", "subsumed rule: wherever it applies another rule gives the same verdict"),
    "V007": ("fact-never-produced", "error", "fact never produced"),
    "V008": ("fact-never-used", "error", "fact never used"),
    "V009": ("cycle", "error", "cycle among derived facts"),
    "V010": ("coverage-gap", "warning",
             "coverage gap: a cancer type and biomarker the rules name that no rule decides"),
    "V011": ("population-disagrees", "error",
             "population and conditions disagree: `population.cancers` given but `when` is not false for a "
             "cancer type outside them, `population.acquired_on: X` with no `acquired_on: X` alteration "
             "condition in `when`, or `population.treatment` that `when` and `requires` do not hold to (a "
             "case with the contrary history can still meet them)"),
    "V012": ("population-not-stated", "error",
             "population not stated: an exclusion, a rule with resistance, clinical, preclinical or phase3 "
             "evidence, or a caution without `population`"),
    "V014": ("fact-outside-its-dates", "error",
             "fact read outside its derivations' dates: a rule in effect on a day (or for a regulator) when no "
             "rule deriving a fact it reads is, so the fact would read as false there"),
}


def readme_check_table() -> str:
    lines = ["| code | finding | severity |", "| --- | --- | --- |"]
    lines += [f"| {code} | {text} | {sev} |" for code, (_, sev, text) in CHECK_CODES.items()]
    return "\n".join(lines)


GENERATED = {"outcome-table": readme_outcome_table, "check-codes": readme_check_table}


def render_readme(text: str) -> str:
    """``text`` (rules/README.md) with every generated section replaced by its current table."""
    import re

    for name, fn in GENERATED.items():
        text = re.sub(rf"(<!-- generated: {name} -->\n).*?(\n<!-- end: {name} -->)",
                      lambda m: m.group(1) + fn() + m.group(2), text, flags=re.S)  # noqa: B023 - called here, in this turn
    return text


if __name__ == "__main__":  # python -m engine.semantics --write-readme [PATH]
    import sys
    from pathlib import Path

    if sys.argv[1:2] == ["--write-readme"]:
        path = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parents[1] / "rules" / "README.md"
        path.write_text(render_readme(path.read_text()))
    else:
        print(readme_outcome_table() + "\n\n" + readme_check_table())
