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
class ConditionKind:
    """Everything the engine knows about one kind of leaf condition.

    ``key``: the YAML key; ``model``: its pydantic schema (a one-key model); ``build(cond,
    vocab)`` -> ``(key, fn, missing, describe)``: the compiled leaf (an *atom*: ``fn(case)`` is
    True/False/None, ``missing(case)`` what to find out when unknown, ``describe(case)`` the case
    facts that made it true; equal keys share one atom); ``label(cond, vocab=None)``: the criterion in words;
    ``check_terms(cond, terms)``: report unknown vocabulary (``terms`` is the rule loader's
    :class:`~engine.rulebase.TermCheck`); ``fields(cond)``: the case fields it reads;
    ``dimension``: the dimension of ``check``'s abstract domain its value depends on (cancer,
    stage, germline, gene, history); ``rule_terms(cond, vocab, acc)`` and ``case_terms(cond,
    positive, vocab, acc)``: what the case generators of :mod:`engine.testing` draw from it.
    The durable backend needs nothing per kind: it receives atom values.
    """

    key: str
    model: type
    build: Callable
    label: Callable
    check_terms: Callable | None
    fields: Callable
    dimension: str
    rule_terms: Callable | None = None
    case_terms: Callable | None = None


KINDS: dict[str, ConditionKind] = {}
BY_MODEL: dict[type, ConditionKind] = {}


def register(kind: ConditionKind) -> ConditionKind:
    if kind.key in KINDS:
        raise ValueError(f"condition kind {kind.key!r} registered twice")
    KINDS[kind.key] = kind
    BY_MODEL[kind.model] = kind
    return kind
