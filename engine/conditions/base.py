"""What every condition kind shares: the registry entry, three-valued truth, and the words the
conditions use (stages, settings, outcomes)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from collections.abc import Callable

from pydantic import ConfigDict

from engine.schema import StrictModel

TV = bool | None  # three-valued truth: True, False, None (unknown)

Stage = Literal["early", "locally_advanced", "metastatic"]
Setting = Literal["adjuvant", "neoadjuvant", "metastatic", "maintenance"]
Outcome = Literal["progression", "response", "stable", "intolerance"]
AlterationKind = Literal["mutation", "amplification", "fusion", "loss"]
Origin = Literal["somatic", "germline"]


class Strict(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def one_or_many(v):
    """``cancer: NSCLC`` means ``cancer: [NSCLC]``."""
    return (v,) if isinstance(v, str) else v


@dataclass(frozen=True)
class FieldDimension:
    """A dimension of ``check``'s abstract domain that is one optional scalar case field.

    ``name``: the dimension in words (``check --verbose``'s summary); ``field``: the case field,
    both its JSON key and its :class:`~engine.case.NormalCase` attribute; ``values``: every value
    the field can take, ``None`` (absent: unknown) first; ``implied(value, alterations)``: the
    value the rest of the case implies (a germline finding means germline testing was done), or
    ``None`` when the field stands alone. ``check`` enumerates the values, writes them into its
    witness cases and needs nothing else from the kind.
    """

    name: str
    field: str
    values: tuple
    implied: Callable | None = None


@dataclass(frozen=True)
class ConditionKind:
    """Everything the engine knows about one kind of leaf condition.

    ``key``: the YAML key; ``model``: its pydantic schema (a one-key model); ``build(cond,
    vocab)`` -> ``(key, fn, missing, describe)``: the compiled leaf (an *atom*: ``fn(case)`` is
    True/False/None, ``missing(case)`` what to find out when unknown, ``describe(case)`` the case
    facts that made it true; equal keys share one atom); ``label(cond, vocab=None)``: the criterion in words;
    ``check_terms(cond, terms)``: report unknown vocabulary (``terms`` is the rule loader's
    :class:`~engine.rulebase.TermCheck`); ``fields(cond)``: the case fields it reads;
    ``dimension``: the dimension of ``check``'s abstract domain its value depends on: a
    :class:`FieldDimension` (one scalar case field: stage, germline testing, ...) or the name of a
    structured one (cancer, gene, history); ``depends(cond)``: the fields of other kinds'
    :class:`FieldDimension` its value also depends on (a germline alteration pattern depends on
    ``germline_tested``); ``rule_terms(cond, vocab, acc)`` and ``case_terms(cond,
    positive, vocab, acc)``: what the case generators of :mod:`engine.testing` draw from it.
    The durable backend needs nothing per kind: it receives atom values.
    """

    key: str
    model: type
    build: Callable
    label: Callable
    check_terms: Callable | None
    fields: Callable
    dimension: str | FieldDimension
    rule_terms: Callable | None = None
    case_terms: Callable | None = None
    depends: Callable | None = None


KINDS: dict[str, ConditionKind] = {}
BY_MODEL: dict[type, ConditionKind] = {}


def register(kind: ConditionKind) -> ConditionKind:
    if kind.key in KINDS:
        raise ValueError(f"condition kind {kind.key!r} registered twice")
    KINDS[kind.key] = kind
    BY_MODEL[kind.model] = kind
    return kind
