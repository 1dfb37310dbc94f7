"""``germline_tested: BOOL``: germline testing was (true) / was not (false) done."""
from __future__ import annotations

from engine.conditions.base import TV, ConditionKind, FieldDimension, Strict, register


class GermlineTestedCond(Strict):
    germline_tested: bool


def build(cond, vocab) -> tuple:
    want = cond.germline_tested

    def fn(case) -> TV:
        g = case.germline_tested
        return None if g is None else (g is want)

    def describe(case) -> str:
        return "germline testing done" if case.germline_tested else "no germline testing"

    return ("germline_tested", want), fn, (lambda case: "germline testing"), describe


def label(cond, vocab=None) -> str:
    return "germline testing done" if cond.germline_tested else "no germline testing"


def case_terms(cond, positive, vocab, acc) -> None:
    acc.germline = True


def implied(value, alterations) -> bool | None:
    """A germline finding means germline testing was done (as the case reader decides)."""
    return True if any(a.origin == "germline" for a in alterations) else value


DIMENSION = FieldDimension("germline testing", "germline_tested", (None, True, False), implied)

KIND = register(ConditionKind("germline_tested", GermlineTestedCond, build, label, None,
                              lambda cond: ("germline_tested",), DIMENSION, None, case_terms))
