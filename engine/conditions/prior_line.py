"""``prior_line: {classes, drugs, setting, outcome, outcome_not, progressed_after, min_weeks,
position}``: some single prior line matches every filter; ``position`` reads the history in the
case's order."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.conditions.base import (MISSING_SEP, NO_HISTORY, TV, ConditionKind, HistoryRole, Outcome, Setting, Strict,
                                    drugs_words, history_held, line_names, line_order, register)


class LinePattern(Strict):
    """Some single prior line matches every filter given."""

    classes: tuple[str, ...] = ()  # the line contains a drug of each class
    drugs: tuple[str, ...] = ()  # the line contains each drug
    setting: tuple[Setting, ...] | None = None
    outcome: tuple[Outcome, ...] | None = None  # the line ended with one of these outcomes
    min_weeks: int | None = Field(default=None, ge=0)
    outcome_not: tuple[Outcome, ...] | None = None  # the line did not end with any of these
    # the disease progressed on or after the line: true when the line, or a later one, ended in
    # progression; unknown otherwise (a line's outcome says how the line ended, not whether the
    # disease progressed after it ended)
    progressed_after: Literal[True] | None = None
    # first: the first line for advanced/metastatic disease (adjuvant/neoadjuvant lines are not
    # counted; lines are in the case's chronological order); last: the most recent line
    position: Literal["first", "last"] | None = None


class PriorLineCond(Strict):
    prior_line: LinePattern


_NOT_A_LINE = frozenset({"adjuvant", "neoadjuvant"})  # settings not counted as a line for advanced disease



def _positions(lines) -> list[TV]:
    """Per line: is it the first line for advanced/metastatic disease? Lines are chronological;
    adjuvant/neoadjuvant lines are not counted; a line of unknown setting makes what follows
    unknown (and is itself unknown)."""
    out: list[TV] = []
    before: TV = False  # some earlier line counted as a line for advanced disease
    for ln in lines:
        if ln.setting in _NOT_A_LINE:
            out.append(False)
            continue
        own: TV = None if ln.setting is None else True
        out.append(False if before is True else (None if before is None or own is None else True))
        if ln.setting is None:
            if before is False:
                before = None
        else:
            before = True
    return out


def build(cond, vocab) -> tuple:
    p = cond.prior_line
    classes, drugs = frozenset(p.classes), frozenset(vocab.drug(d).name for d in p.drugs)
    settings = frozenset(p.setting) if p.setting else None
    outcomes = frozenset(p.outcome) if p.outcome else None
    not_outcomes = frozenset(p.outcome_not) if p.outcome_not else None
    min_weeks = p.min_weeks
    position = p.position
    after = p.progressed_after is True

    def line_tv(ln, pos: TV = True, later: bool = False) -> TV:
        unsure = False
        if not (classes <= ln.classes and drugs <= ln.drugs):
            if not ln.open:
                return False
            unsure = True  # its drugs are not given: it may have held them
        if pos is False:
            return False
        unsure = unsure or pos is None
        if settings is not None:
            if ln.setting is None:
                unsure = True
            elif ln.setting not in settings:
                return False
        if outcomes is not None:
            if ln.outcome is None:
                unsure = True
            elif ln.outcome not in outcomes:
                return False
        if not_outcomes is not None:
            if ln.outcome is None:
                unsure = True
            elif ln.outcome in not_outcomes:
                return False
        if after and not later and ln.outcome != "progression":
            unsure = True
        if min_weeks is not None:
            if ln.weeks is None:
                unsure = True
            elif ln.weeks < min_weeks:
                return False
        return None if unsure else True

    def positions(lines) -> list[TV]:
        if position == "first":
            return _positions(lines)
        if position == "last":
            return [i == len(lines) - 1 for i in range(len(lines))]
        return [True] * len(lines)

    def chronological(lines):
        # lines are kept sorted (results do not depend on the order entries are listed in);
        # a position, or progression on a later line, needs them in the case's order
        return sorted(lines, key=line_order) if position is not None or after else lines

    def progressed_later(lines) -> list[bool]:
        """Per line (chronological): whether a later line ended in progression."""
        out, seen = [False] * len(lines), False
        for i in range(len(lines) - 1, -1, -1):
            out[i] = seen
            seen = seen or lines[i].outcome == "progression"
        return out

    def fn(case) -> TV:
        lines = case.lines
        if lines is None:
            return None
        if position is None and not after:  # (most patterns: any line, in any order, alone)
            unsure = False
            for ln in lines:
                v = line_tv(ln)
                if v:
                    return True
                if v is None:
                    unsure = True
            return None if unsure else False
        lines = chronological(lines)
        unsure = False
        later = progressed_later(lines) if after else [False] * len(lines)
        for ln, pos, lt in zip(lines, positions(lines), later, strict=True):
            v = line_tv(ln, pos, lt)
            if v:
                return True
            if v is None:
                unsure = True
        return None if unsure else False

    def missing(case) -> str:
        if case.lines is None:
            return NO_HISTORY
        # the lines that could match, each with what about it is not given (in the case's order)
        lines = sorted(case.lines, key=line_order)
        names = line_names(lines)
        later = progressed_later(lines) if after else [False] * len(lines)
        asks: list[str] = []
        for n, (ln, pos, lt) in enumerate(zip(lines, positions(lines), later, strict=True)):
            if line_tv(ln, pos, lt) is not None:
                continue
            if ln.open and not (classes <= ln.classes and drugs <= ln.drugs):
                asks.append(drugs_words([names[n]]))
            if pos is None:  # its place among the lines for advanced disease hangs on a setting not given
                asks.extend(f"the setting of {names[k]}" for k in range(n + 1) if lines[k].setting is None)
            if settings is not None and ln.setting is None:
                asks.append(f"the setting of {names[n]}")
            if (outcomes or not_outcomes or after) and ln.outcome is None:
                asks.append(f"how {names[n]} ended")
            elif after and not lt and ln.outcome != "progression":
                asks.append(f"whether the disease progressed after {names[n]}")
            if min_weeks is not None and ln.weeks is None:
                asks.append(f"how long {names[n]} lasted")
        asks = list(dict.fromkeys(asks))
        return MISSING_SEP.join(asks) if asks else "details of prior therapy"

    def describe(case) -> str:
        lines = sorted(case.lines or (), key=line_order)  # named in the case's (chronological) order
        later = progressed_later(lines) if after else [False] * len(lines)
        return "prior " + "; ".join(ln.describe() for ln, pos, lt in zip(lines, positions(lines), later, strict=True)
                                    if line_tv(ln, pos, lt))

    key = ("prior_line", classes, drugs, settings, outcomes, min_weeks, not_outcomes, position, after)
    return key, fn, missing, describe


_POSITION_WORDS = {None: "a prior line", "first": "a first line for advanced disease",
                   "last": "a most recent prior line"}


def label(cond, vocab=None) -> str:
    """Every filter of the pattern in words: "a prior line of fluoropyrimidine, oxaliplatin";
    "a most recent prior line ending in progression, of at least 6 weeks"."""
    p = cond.prior_line
    head = _POSITION_WORDS[p.position] + (" of " + ", ".join(p.classes + p.drugs) if p.classes or p.drugs else "")
    bits: list[str] = []
    if p.setting:
        bits.append("in the " + " or ".join(p.setting) + " setting")
    if p.outcome:
        bits.append("ending in " + " or ".join(p.outcome))
    if p.outcome_not:
        bits.append("not ending in " + " or ".join(p.outcome_not))
    if p.progressed_after:
        bits.append("followed by progression")
    if p.min_weeks is not None:
        bits.append(f"of at least {p.min_weeks} weeks")
    return " ".join([head, ", ".join(bits)]) if bits else head


def check_terms(cond, t) -> None:
    for i, c in enumerate(cond.prior_line.classes):
        t.klass(c, ("prior_line", "classes", i))
    for i, d in enumerate(cond.prior_line.drugs):
        t.term(t.vocab.drug, ("prior_line", "drugs", i), d)


def rule_terms(cond, vocab, acc) -> None:
    acc.rule_classes.update(cond.prior_line.classes)
    acc.rule_drugs.update(vocab.drug(x).name for x in cond.prior_line.drugs)


def case_terms(cond, positive, vocab, acc) -> None:
    spec = cond.prior_line
    outcomes = set(spec.outcome or ()) | set(spec.outcome_not or ()) | ({"progression"} if spec.progressed_after else set())
    settings = set(spec.setting or ()) | ({"adjuvant", "metastatic"} if spec.position == "first" else set())
    acc.history.append(acc.HistorySpec(
        frozenset(spec.classes),
        frozenset(vocab.drug(x).name for x in spec.drugs),
        frozenset(settings) if settings else None,
        frozenset(outcomes) if outcomes else None,
        spec.min_weeks,
        single_line=True,
    ))


def history(cond, vocab, terms) -> HistoryRole:
    pl = cond.prior_line
    terms.pattern(frozenset(pl.classes), frozenset(vocab.drug(d).name for d in pl.drugs))
    terms.settings |= set(pl.setting or ())
    terms.outcomes |= set(pl.outcome or ())
    if pl.min_weeks is not None:
        terms.weeks.add(pl.min_weeks)
    terms.outcomes |= set(pl.outcome_not or ())
    if pl.progressed_after:
        terms.outcomes.add("progression")
    if pl.position == "first":
        terms.settings |= {"adjuvant", "metastatic"}
    if pl.position == "first":
        terms.not_a_line, terms.a_line = _NOT_A_LINE, "metastatic"
    if pl.position == "last":  # the most recent line alone, with no line after it to progress on
        return HistoryRole("line", last=True)
    return HistoryRole("line", positional=pl.position == "first", carries=bool(pl.progressed_after))


KIND = register(ConditionKind("prior_line", PriorLineCond, build, label, check_terms, lambda cond: ("prior_therapies",),
                              "history", rule_terms, case_terms, history=history, held=history_held))
