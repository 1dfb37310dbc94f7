"""``received: {classes, drugs}``: across the whole history every listed class and drug was
given; unknown when the history is absent, or when it is not met by the lines whose drugs are
given and a line's drugs are not."""
from __future__ import annotations

from pydantic import model_validator

from engine.conditions.base import (NO_HISTORY, TV, ConditionKind, HistoryRole, Strict, drugs_words, history_held, history_words,
                                    open_lines, register)


class ReceivedPattern(Strict):
    """Across the whole prior-therapy history, every listed drug class and drug was given."""

    classes: tuple[str, ...] = ()
    drugs: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _non_empty(self) -> ReceivedPattern:
        if not self.classes and not self.drugs:
            raise ValueError("'received' needs at least one of 'classes' or 'drugs'")
        return self


class ReceivedCond(Strict):
    received: ReceivedPattern


def build(cond, vocab) -> tuple:
    p = cond.received
    classes, drugs = frozenset(p.classes), frozenset(vocab.drug(d).name for d in p.drugs)

    def fn(case) -> TV:
        lines = case.lines
        if lines is None:
            return None
        got_c: set[str] = set()
        got_d: set[str] = set()
        unsure = False
        for ln in lines:
            got_c |= ln.classes
            got_d |= ln.drugs
            unsure = unsure or ln.open
        if classes <= got_c and drugs <= got_d:
            return True
        return None if unsure else False  # (a line whose drugs are not given may have held the rest)

    def missing(case) -> str:
        if case.lines is None:
            return NO_HISTORY
        return drugs_words(open_lines(case.lines)) or NO_HISTORY

    def describe(case) -> str:
        return history_words(case)

    return ("received", classes, drugs), fn, missing, describe


def label(cond, vocab=None) -> str:
    return "prior " + ", ".join(cond.received.classes + cond.received.drugs)


def check_terms(cond, t) -> None:
    for i, c in enumerate(cond.received.classes):
        t.klass(c, ("received", "classes", i))
    for i, d in enumerate(cond.received.drugs):
        t.term(t.vocab.drug, ("received", "drugs", i), d)


def rule_terms(cond, vocab, acc) -> None:
    acc.rule_classes.update(cond.received.classes)
    acc.rule_drugs.update(vocab.drug(x).name for x in cond.received.drugs)


def case_terms(cond, positive, vocab, acc) -> None:
    spec = cond.received
    acc.history.append(acc.HistorySpec(frozenset(spec.classes), frozenset(vocab.drug(x).name for x in spec.drugs)))


def history(cond, vocab, terms) -> HistoryRole:
    p = cond.received
    terms.pattern(frozenset(p.classes), frozenset(vocab.drug(d).name for d in p.drugs))
    return HistoryRole("history")


KIND = register(ConditionKind("received", ReceivedCond, build, label, check_terms, lambda cond: ("prior_therapies",),
                              "history", rule_terms, case_terms, history=history, held=history_held))
