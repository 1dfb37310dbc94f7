"""``prior_lines: {min, max, setting}``: the number of prior systemic therapy lines (only those
given in ``setting`` when set; a line without a setting may or may not count); unknown when the
history is absent."""
from __future__ import annotations

from pydantic import Field, model_validator

from engine.conditions.base import (MISSING_SEP, NO_HISTORY, TV, ConditionKind, HistoryRole, Setting, Strict, history_held, history_words,
                                    line_names, line_order, register)


class PriorLinesPattern(Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    setting: tuple[Setting, ...] | None = None  # count only lines given in these settings

    @model_validator(mode="after")
    def _can_hold(self) -> PriorLinesPattern:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is more than max {self.max}: no number of lines is both, so the "
                             "condition is never true")
        return self


class PriorLinesCond(Strict):
    prior_lines: PriorLinesPattern


def build(cond, vocab) -> tuple:
    p = cond.prior_lines
    lo, hi, settings = p.min, p.max, frozenset(p.setting) if p.setting else None

    def fn(case) -> TV:
        lines = case.lines
        if lines is None:
            return None
        if settings is None:
            sure = maybe = len(lines)
        else:
            sure = sum(1 for ln in lines if ln.setting in settings)
            maybe = sure + sum(1 for ln in lines if ln.setting is None)
        if lo is not None:
            if maybe < lo:
                return False
            if sure < lo:
                return None
        if hi is not None:
            if sure > hi:
                return False
            if maybe > hi:
                return None
        return True

    def missing(case) -> str:
        if case.lines is None:
            return NO_HISTORY
        lines = sorted(case.lines, key=line_order)
        asks = [f"the setting of {name}" for ln, name in zip(lines, line_names(lines), strict=True) if ln.setting is None]
        return MISSING_SEP.join(asks) if asks else "the setting of each prior line"

    def describe(case) -> str:
        return history_words(case)

    return ("prior_lines", lo, hi, settings), fn, missing, describe


def label(cond, vocab=None) -> str:
    p = cond.prior_lines
    if not p.min and p.max is None:  # (any number: what it asks is that the history be given)
        return "a prior-therapy history given (any number of lines, none included)" + (
            f" in the {' or '.join(p.setting)} setting" if p.setting else "")
    bits = [f"at least {p.min}" if p.min is not None else "", f"at most {p.max}" if p.max is not None else ""]
    return " and ".join(b for b in bits if b) + " prior systemic therapy line(s)"


def case_terms(cond, positive, vocab, acc) -> None:
    spec = cond.prior_lines
    counts = {n + k for n in (spec.min, spec.max) if n is not None for k in (-1, 0, 1)}
    acc.history.append(acc.HistorySpec(settings=frozenset(spec.setting) if spec.setting else None,
                                       counts=frozenset(c for c in counts if c >= 0),
                                       meets=spec.min if spec.min is not None else (spec.max or 0)))


def history(cond, vocab, terms) -> HistoryRole:
    p = cond.prior_lines
    terms.settings |= set(p.setting or ())
    return HistoryRole("count", cap=max(p.min or 0, (p.max + 1) if p.max is not None else 0), settings=p.setting)


KIND = register(ConditionKind("prior_lines", PriorLinesCond, build, label, None, lambda cond: ("prior_therapies",),
                              "history", None, case_terms, history=history, held=history_held))
