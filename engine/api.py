"""The Python API: what tutoring tools and batch scripts call.

>>> from engine.api import evaluate
>>> result = evaluate({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
...                    "prior_therapies": [{"regimen": "carboplatin/pemetrexed"}],
...                    "stage": "metastatic", "as_of": "2026-07-01"})
>>> [(o.therapy, o.verdict) for o in result.options][:2]    # doctest: +SKIP

``evaluate`` returns a :class:`~engine.result.Result`; ``kras-rules evaluate --format json`` prints
``result.to_json()``, the same object. Invalid input raises :class:`~engine.errors.CaseError`.
Educational decision support only: not medical advice.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from engine.case import CaseIn, NormalCase, normalise, parse_case
from engine.errors import CaseError, Problem, UsageError
from engine.evaluator import Program, infer
from engine.resolve import build_result
from engine.result import Result
from engine.rulebase import RuleBase, load_rulebase

Backend = Literal["default", "durable"]


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

    def normalise(self, case: dict | CaseIn, *, default_id: str = "case", today: dt.date | None = None) -> NormalCase:
        """Validate and normalise a case (a decoded JSON object or a CaseIn)."""
        if not isinstance(case, CaseIn):
            case = parse_case(case)
        norm = normalise(
            case,
            self.rulebase.vocab,
            default_id=default_id,
            today=today,
            default_jurisdiction=self.rulebase.meta.default_jurisdiction,
        )
        if norm.jurisdiction not in self.jurisdictions:
            import difflib

            close = difflib.get_close_matches(norm.jurisdiction, sorted(self.jurisdictions), n=1)
            raise CaseError(
                [Problem(f"unknown jurisdiction '{case.jurisdiction}'; the rules know: {', '.join(sorted(self.jurisdictions))}",
                         ("jurisdiction",), close[0] if close else None)]
            )
        return norm

    def evaluate(
        self,
        case: dict | CaseIn | NormalCase,
        *,
        as_of: dt.date | str | None = None,
        backend: Backend = "default",
        default_id: str = "case",
    ) -> Result:
        """Evaluate one case. ``as_of`` overrides the case's own date."""
        norm = case if isinstance(case, NormalCase) else self.normalise(case, default_id=default_id)
        if as_of is not None:
            norm = _with_as_of(norm, as_of)
        if backend == "default":
            return build_result(infer(self.program, norm))
        if backend == "durable":
            return self.durable().evaluate(norm)
        raise UsageError(f"unknown backend '{backend}' (use 'default' or 'durable')")

    def durable(self):
        """The durable-rules backend for this rule base (built on first use)."""
        if self._durable is None:
            from engine.durable import DurableBackend

            self._durable = DurableBackend(self.program)
        return self._durable


def _with_as_of(norm: NormalCase, as_of: dt.date | str) -> NormalCase:
    import dataclasses

    if isinstance(as_of, str):
        try:
            as_of = dt.date.fromisoformat(as_of)
        except ValueError:
            raise UsageError(f"as_of: not a date '{as_of}' (use YYYY-MM-DD)") from None
    return dataclasses.replace(norm, as_of=as_of)


_DEFAULT: Engine | None = None


def default_engine() -> Engine:
    """The engine for the shipped rules, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Engine()
    return _DEFAULT


def evaluate(case: dict | CaseIn, *, as_of: dt.date | str | None = None, backend: Backend = "default") -> Result:
    """Evaluate one case against the shipped rule base. See :class:`Engine`."""
    return default_engine().evaluate(case, as_of=as_of, backend=backend)


__all__ = ["Engine", "evaluate", "default_engine", "CaseError", "Result"]
