"""``multiagent_candidate: BOOL``: the patient is (true) / is not (false) a candidate for multiagent
systemic therapy, as the case records it (``multiagent_candidate``); unknown when the case does
not say. Some labels admit a patient first line only when combination chemotherapy is not an
option for them."""
from __future__ import annotations

from engine.conditions.base import TV, ConditionKind, FieldDimension, Strict, register

MISSING = "whether the patient is a candidate for multiagent systemic therapy"


class MultiagentCandidateCond(Strict):
    multiagent_candidate: bool


def _words(candidate: bool) -> str:
    return ("a candidate" if candidate else "not a candidate") + " for multiagent systemic therapy"


def build(cond, vocab) -> tuple:
    want = cond.multiagent_candidate

    def fn(case) -> TV:
        c = case.multiagent_candidate
        return None if c is None else (c is want)

    def describe(case) -> str:
        return "patient " + _words(bool(case.multiagent_candidate))

    return ("multiagent_candidate", want), fn, (lambda case: MISSING), describe


def label(cond, vocab=None) -> str:
    return _words(cond.multiagent_candidate)


def case_terms(cond, positive, vocab, acc) -> None:
    acc.fields.setdefault("multiagent_candidate", set()).add(cond.multiagent_candidate is positive)


DIMENSION = FieldDimension("multiagent candidacy", "multiagent_candidate", (None, True, False))

KIND = register(ConditionKind("multiagent_candidate", MultiagentCandidateCond, build, label, None,
                              lambda cond: ("multiagent_candidate",), DIMENSION, None, case_terms))
