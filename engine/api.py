"""The Python API: what tutoring tools and batch scripts call.

>>> from engine.api import evaluate
>>> result = evaluate({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
...                    "prior_therapies": [{"regimen": "carboplatin/pemetrexed"}],
...                    "stage": "metastatic", "as_of": "2026-07-01"})
>>> [(o.therapy, o.verdict) for o in result.options][:2]    # doctest: +SKIP

``evaluate`` returns a :class:`~engine.result.Result`; ``kras-rules evaluate --format json`` prints
``result.to_json()``, the same object. Invalid input raises :class:`~engine.errors.CaseError`.
Educational decision support only: not medical advice.

For tutoring tools: ``Engine.explain(case, therapy)`` answers "why (not) this therapy?" for any
therapy of the catalogue; ``Engine.compare(before, after)`` says what changed between two cases;
``Engine.catalogue()`` lists therapies, genes, variants, cancer types, regimens, drugs and sources.

Thread safety: an :class:`Engine` holds no per-call state. One engine may be shared by any number
of threads (a web server's workers): each call gives exactly the result a serial call gives
(``tests/test_service.py`` checks this). Every result is a fresh object; the citations inside are
immutable and shared. ``Engine(rules_dir)`` reads the folder as it is now: an edited rule,
therapy, source or vocabulary file is seen by the next ``Engine`` built from it (the caches are
keyed by content, not by path).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.case import CaseIn, NormalCase, date_problems, normalise, parse_case, parse_date, term_problems, with_case_words
from engine.errors import CaseError, EngineError, Problem, UsageError, quote
from engine.evaluation.evaluator import Program, infer
from engine.evaluation.resolve import build_result, decisions
from engine.result import Decisions, Result
from engine.rulebase import RuleBase, load_rulebase

if TYPE_CHECKING:
    from engine.tutoring.whynot import WhyNot

Backend = Literal["default", "durable", "compiled", "interpreted"]
#: the default backend's inference: compiled plans once hot (None), always compiled, always
#: interpreted (the reference the compiled form is tested against)
_COMPILED = {"default": None, "compiled": True, "interpreted": False}


class Engine:
    """A loaded, validated and compiled rule base. Cheap to call, expensive to build: keep one."""

    def __init__(self, rules_dir: Path | str | None = None, rulebase: RuleBase | None = None):
        self.rulebase = rulebase if rulebase is not None else load_rulebase(rules_dir)
        self.program = Program(self.rulebase)
        self._durable = None
        rb = self.rulebase
        self.jurisdictions = frozenset(
            {rb.meta.default_jurisdiction.upper()} | {r.jurisdiction.upper() for r in rb.rules if r.jurisdiction}
        )
        self._summaries = None
        self._catalogue = None
        self._whynot: WhyNot | None = None

    def normalise(self, case: dict | CaseIn, *, default_id: str = "case", today: dt.date | None = None) -> NormalCase:
        """Validate and normalise a case (a decoded JSON object or a CaseIn)."""
        if not isinstance(case, CaseIn):
            try:
                case = parse_case(case)
            except CaseError as exc:
                if not isinstance(case, dict):
                    raise
                vocab = self.rulebase.vocab
                problems = with_case_words(case, vocab, exc.problems) + term_problems(case, vocab, exc.problems)
                if problems == exc.problems:
                    raise
                raise CaseError(problems, exc.source, code=exc.code) from None
        norm = normalise(
            case,
            self.rulebase.vocab,
            default_id=default_id,
            today=today,
            default_jurisdiction=self.rulebase.meta.default_jurisdiction,
        )
        if norm.jurisdiction not in self.jurisdictions:
            raise CaseError([self._unknown_jurisdiction(case.jurisdiction or "", norm.jurisdiction)])
        return norm

    def _unknown_jurisdiction(self, given: str, upper: str) -> Problem:
        import difflib

        names = {k.upper(): v for k, v in self.rulebase.meta.jurisdiction_names.items()}
        meant = names.get(upper.strip())  # another name of a known one ("EU" for the EMA)
        if meant is None:
            close = difflib.get_close_matches(upper, sorted(self.jurisdictions), n=1)
            meant = close[0] if close else None
        return Problem(f"unknown jurisdiction {quote(given)}; the rules know: {', '.join(sorted(self.jurisdictions))}",
                       ("jurisdiction",), meant)

    def jurisdiction(self, name: str) -> str:
        """``name`` as a case's ``jurisdiction`` is normalised (upper case), when the rules know it;
        else a :class:`UsageError` naming the ones they know (and the closest)."""
        if type(name) is not str:
            raise UsageError([Problem(f"a jurisdiction is named by a text (FDA or EMA), got {quote(name)}", ("jurisdiction",))])
        upper = name.upper()
        if upper not in self.jurisdictions:
            raise UsageError([self._unknown_jurisdiction(name, upper)])
        return upper

    def _dated(self, case: dict | CaseIn | NormalCase, as_of: dt.date | str | None, default_id: str,
               jurisdiction: str | None = None) -> NormalCase:
        """The normalised case, at ``as_of`` and under ``jurisdiction`` when given."""
        norm = case if isinstance(case, NormalCase) else self.normalise(case, default_id=default_id)
        if as_of is not None:
            norm = with_as_of(norm, as_of)
        if jurisdiction is not None:
            norm = with_jurisdiction(norm, self.jurisdiction(jurisdiction))
        return norm

    def evaluate(
        self,
        case: dict | CaseIn | NormalCase,
        *,
        as_of: dt.date | str | None = None,
        backend: Backend = "default",
        default_id: str = "case",
        jurisdiction: str | None = None,
    ) -> Result:
        """Evaluate one case. ``as_of`` overrides the case's own date, ``jurisdiction`` its
        regulator (``"EMA"``; an unknown one is a :class:`UsageError` with a "did you mean").

        The result's decided fields (verdicts, levels, rules, criteria, citations, missing) are
        there at once; its texts (explanations, reasons, summaries, notes, trace, facts) are
        rendered all together the first time one is read, by ``result.explain()``, or before any
        serialisation (``to_json``, ``model_dump``, ``model_dump_json``, pickling, copying,
        comparing): the same texts either way. A caller reading only decided fields never pays
        for the prose (and one reading only verdicts and levels, the TSV batch, calls
        :meth:`decide`)."""
        norm = self._dated(case, as_of, default_id, jurisdiction)
        if backend in _COMPILED:
            return build_result(infer(self.program, norm, compiled=_COMPILED[backend]), lazy_texts=True,
                                summary=self.summaries().of)
        if backend == "durable":
            result = self.durable().evaluate(norm)
        else:
            raise UsageError(f"unknown backend '{backend}' (use 'default' or 'durable')")
        self.summaries().fill(result)
        return result

    def decide(
        self,
        case: dict | CaseIn | NormalCase,
        *,
        as_of: dt.date | str | None = None,
        backend: Backend = "default",
        default_id: str = "case",
        jurisdiction: str | None = None,
    ) -> Decisions:
        """What :meth:`evaluate` decides for a case, without texts, criteria or citations: each
        option's therapy, verdict, evidence, OncoKB level, missing facts, deciding rule, and
        whether its gate is unknown (``Decisions.of(self.evaluate(case))``, the same values, at
        about half the cost of a result: what a TSV row and a cohort summary read, and all a
        property test of verdicts needs)."""
        norm = self._dated(case, as_of, default_id, jurisdiction)
        if backend in _COMPILED:
            return decisions(infer(self.program, norm, compiled=_COMPILED[backend]))
        return Decisions.of(self.evaluate(norm, backend=backend))

    def summaries(self):
        """The one-line summaries of this rule base's options (:class:`engine.tutoring.short.Summaries`,
        made once): ``.of(option fields)`` writes one, ``.fill(result)`` every option's of a result.
        The batch's store of reused records writes its records with them too."""
        if self._summaries is None:
            from engine.tutoring.short import Summaries

            self._summaries = Summaries(self.rulebase)
        return self._summaries

    def readings(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """Per conclusion rule, the reading sentences its explanations hold, ``(head,
        sentence)``: what the text format needs to print a reading several options share once
        (``engine.formats.text(result, readings=engine.readings())``)."""
        from engine.evaluation.resolve import reading_sentences

        return reading_sentences(self.program)

    # ------------------------------------------------------------------ tutoring

    def catalogue(self):
        """The public catalogue (:class:`engine.catalogue.Catalogue`): therapies with names and
        drugs, genes, variants the rules name, cancer types, regimens, drugs, sources."""
        return self._catalogue_index().catalogue

    def therapy(self, text: str):
        """A therapy of the catalogue by id, name, or its drugs in any order and by any name
        (``"Krazati + Erbitux"`` -> adagrasib+cetuximab); UsageError with a "did you mean"."""
        return self._catalogue_index().therapy(text)

    def _catalogue_index(self):
        if self._catalogue is None:
            from engine.catalogue import build_catalogue

            self._catalogue = build_catalogue(self.rulebase, self.jurisdictions)
        return self._catalogue

    def _answers(self, case, therapies=None, *, as_of=None, default_id: str = "case", jurisdiction=None):
        from engine.tutoring.whynot import WhyNot

        if self._whynot is None:
            self._whynot = WhyNot(self.program, self._catalogue_index())
        norm = self._dated(case, as_of, default_id, jurisdiction)
        inf = infer(self.program, norm)
        result = build_result(inf, summary=self.summaries().of)
        if therapies is None:
            therapies = [t.id for t in self.catalogue().therapies]
        return result, {t: self._whynot.answer(t, inf, result) for t in therapies}

    def explain(self, case, therapy: str | None = None, *, include_all: bool = False, as_of=None,
                default_id: str = "case", jurisdiction: str | None = None):
        """Why (not) ``therapy`` for this case: a :class:`~engine.tutoring.whynot.TherapyAnswer`
        with the verdict (None when no rule concluded about it), a summary, the explanation, the
        criteria met, not met or unknown, and every rule that could decide it. ``therapy`` is
        looked up like :meth:`therapy`. With ``include_all=True`` (and no therapy) the answers for
        every therapy of the catalogue, in catalogue order. ``as_of`` and ``jurisdiction`` as for
        :meth:`evaluate`."""
        if type(include_all) is not bool:  # ("yes", 1: a truthy value that is not the flag)
            raise UsageError([Problem(f"include_all is True or False, got {quote(include_all)}", ("include_all",))])
        if therapy is None and not include_all:
            raise UsageError("explain: name a therapy, or pass include_all=True")
        if include_all and therapy is not None:
            raise UsageError("explain: name a therapy or pass include_all=True, not both")
        if include_all:
            _, answers = self._answers(case, None, as_of=as_of, default_id=default_id, jurisdiction=jurisdiction)
            return list(answers.values())
        assert therapy is not None  # checked above
        tid = self.therapy(therapy).id
        _, answers = self._answers(case, [tid], as_of=as_of, default_id=default_id, jurisdiction=jurisdiction)
        return answers[tid]

    def compare(self, before, after, *, as_of=None, jurisdiction: str | None = None):
        """What changes from case ``before`` to case ``after`` (decoded JSON objects): the case
        fields, the derived facts and every option whose verdict, evidence, level or criteria
        changed, with why (:class:`~engine.tutoring.compare.Comparison`). Empty for equal cases.
        ``as_of`` and ``jurisdiction`` apply to both cases, as for :meth:`evaluate`."""
        if jurisdiction is not None:
            self.jurisdiction(jurisdiction)  # (unknown: a usage error, not a case error of one side)
        from engine.tutoring.compare import compare

        def result(side: str, case):
            try:
                return self._answers(case, [], as_of=as_of, default_id=side, jurisdiction=jurisdiction)[0]
            except CaseError as exc:  # the error names the side it is on (after.stage)
                raise exc.at(side) from None

        ra, rb = result("before", before), result("after", after)
        therapies = sorted({o.therapy for o in ra.options} | {o.therapy for o in rb.options})
        ra, aa = self._answers(before, therapies, as_of=as_of, default_id="before", jurisdiction=jurisdiction)
        rb, ab = self._answers(after, therapies, as_of=as_of, default_id="after", jurisdiction=jurisdiction)
        from engine.evaluation.resolve import fact_words

        words = fact_words(self.program)
        plain_a, plain_b = _plain(before), _plain(after)

        def swapped(x: dict, y: dict, field: str) -> bool:
            # case x with the field written as in y: the same case to the engine?
            try:
                base = self._dated(x, as_of, "case", jurisdiction)
                moved = self._dated({**x, field: y[field]} if field in y else {k: v for k, v in x.items() if k != field},
                                    as_of, "case", jurisdiction)
            except EngineError:
                return False
            return moved == base

        def same(field: str) -> bool:  # (both ways round: comparing B with A mirrors A with B)
            return swapped(plain_a, plain_b, field) and swapped(plain_b, plain_a, field)

        return compare(plain_a, plain_b, {"result": ra, "answers": aa}, {"result": rb, "answers": ab}, words, same)

    def durable(self):
        """The durable-rules backend for this rule base (built on first use)."""
        if self._durable is None:
            from engine.durable import DurableBackend

            self._durable = DurableBackend(self.program)
        return self._durable


def _plain(case) -> dict:
    if isinstance(case, dict):
        return case
    if isinstance(case, CaseIn):
        return case.model_dump(mode="json", exclude_none=True)
    return {"id": getattr(case, "id", None)}


def with_as_of(norm: NormalCase, as_of: dt.date | str) -> NormalCase:
    """The case evaluated on another date (``as_of``: a date, or a text ``YYYY-MM-DD`` as the
    case's own ``as_of`` is written; a datetime is read as its day); anything else is a
    :class:`UsageError` naming ``as_of``."""
    import dataclasses

    if isinstance(as_of, dt.datetime):  # (a date too, but one that cannot be compared with dates)
        as_of = as_of.date()
    day = parse_date(as_of) if isinstance(as_of, str) else as_of if isinstance(as_of, dt.date) else None
    if day is None:
        problems: list[Problem] = []
        date_problems(as_of, ("as_of",), problems)
        raise UsageError(problems)
    return dataclasses.replace(norm, as_of=day)


def with_jurisdiction(norm: NormalCase, jurisdiction: str) -> NormalCase:
    """The case evaluated under another regulator's approvals (``jurisdiction``, e.g. ``EMA``; as
    a case's own ``jurisdiction``, case-insensitive: the caller checks it is one the rules know,
    :meth:`Engine.jurisdiction`)."""
    import dataclasses

    return dataclasses.replace(norm, jurisdiction=jurisdiction.upper())


_DEFAULT: Engine | None = None


def default_engine() -> Engine:
    """The engine for the shipped rules, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Engine()
    return _DEFAULT


def evaluate(case: dict | CaseIn, *, as_of: dt.date | str | None = None, backend: Backend = "default",
             jurisdiction: str | None = None) -> Result:
    """Evaluate one case against the shipped rule base. See :class:`Engine`."""
    return default_engine().evaluate(case, as_of=as_of, backend=backend, jurisdiction=jurisdiction)


__all__ = ["Engine", "evaluate", "default_engine", "CaseError", "Result"]
