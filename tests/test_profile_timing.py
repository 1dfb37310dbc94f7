"""Whether the tumour profile is from testing after the prior therapy (``tested_after_prior_therapy``):
what a tumour acquired on a drug shows only on testing after it, so a profile that may predate the
drug leaves the exclusions that wait on an acquired allele open (see rules/README.md,
``acquired_on``)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings

from engine.api import default_engine
from engine.errors import CaseError
from engine.testing import cases

ENGINE = default_engine()
CASES = Path(__file__).resolve().parents[1] / "cases"
QUESTION = "whether the KRAS results are from testing after progression on the KRAS G12C inhibitor"
COMBINATIONS = ("adagrasib+tno155", "sotorasib+trametinib", "adagrasib+palbociclib", "adagrasib+rmc-4550", "lc-2")


def _after_adagrasib(**extra) -> dict:
    case = json.loads((CASES / "luad-g12c-after-adagrasib-retested.json").read_text())
    del case["tested_after_prior_therapy"]
    return {**case, **extra}


def _missing(case: dict) -> dict[str, list[str]]:
    return {o.therapy: list(o.missing) for o in ENGINE.evaluate(case).options}


def test_after_progression_on_a_g12c_inhibitor_a_profile_that_may_predate_it_leaves_the_acquired_allele_open():
    before = _missing(_after_adagrasib())
    assert _missing(_after_adagrasib(tested_after_prior_therapy=False)) == before  # (from earlier testing: not stated)
    after = _missing(_after_adagrasib(tested_after_prior_therapy=True))
    for t in COMBINATIONS:
        assert before[t] == [QUESTION], t
        assert after[t] == [], t
    result = ENGINE.evaluate(_after_adagrasib())
    option = result.option("adagrasib+tno155")
    assert option.verdict == "consider"
    # the exclusions still waiting are named, and the text says what settles them
    assert {"RES-001", "RES-005", "RES-007"} <= set(option.rules)
    assert QUESTION in option.explanation


def test_an_alteration_flagged_acquired_shows_the_profile_is_from_after_the_therapy():
    flagged = _missing(_after_adagrasib(alterations=[{"gene": "KRAS", "variant": "G12C"},
                                                     {"gene": "MET", "variant": "amplification", "acquired": True}]))
    assert all(QUESTION not in m for m in flagged.values()), flagged
    # unless the case says the profile is from earlier testing
    said = _missing(_after_adagrasib(alterations=[{"gene": "KRAS", "variant": "G12C"},
                                                  {"gene": "MET", "variant": "amplification", "acquired": True}],
                                     tested_after_prior_therapy=False))
    assert said["adagrasib+tno155"] == [QUESTION]


def test_a_g12c_inhibitor_stopped_for_intolerance_asks_nothing_of_the_profile():
    """Resistance is acquired where the tumour progressed on the drug: after adagrasib stopped for
    intolerance, sotorasib is eligible on the profile given, as its label reads."""
    case = _after_adagrasib()
    case["prior_therapies"][1]["outcome"] = "intolerance"
    option = ENGINE.evaluate(case).option("sotorasib")
    assert option.verdict == "eligible" and option.missing == []


def test_the_flag_is_read_strictly():
    with pytest.raises(CaseError) as e:
        ENGINE.normalise(_after_adagrasib(tested_after_prior_therapy="yes"))
    (p,) = e.value.problems
    assert p.path == ("tested_after_prior_therapy",) and p.suggestion == "true" and "did you mean true" in p.message


@settings(max_examples=300)
@given(cases(ENGINE))
def test_every_atom_reads_false_as_not_stated(case):
    """``check`` enumerates the flag as not stated and true only (FieldDimension.read): every atom
    reads false as it reads the flag absent."""
    case = {k: v for k, v in case.items() if k != "tested_after_prior_therapy"}
    absent = ENGINE.normalise(case)
    false = ENGINE.normalise({**case, "tested_after_prior_therapy": False})
    if absent.tested_after_prior_therapy is True:  # (an alteration flagged acquired implies it)
        return
    for a in ENGINE.program.atoms:
        assert a.fn(absent) is a.fn(false), (a.key, case)
