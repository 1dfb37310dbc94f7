"""``stage: [STAGE, ...]``: the case's stage is one of these (unknown when stage is absent, except
for a non-invasive (in situ) cancer type, which is early by definition: cancer_types.yaml's
``non_invasive``, whose other stages are input errors)."""
from __future__ import annotations

from typing import Annotated, get_args

from pydantic import BeforeValidator, Field

from engine.conditions.base import TV, UNKNOWN, ConditionKind, FieldDimension, Stage, Strict, one_or_many, register


class StageCond(Strict):
    stage: Annotated[tuple[Stage, ...], BeforeValidator(one_or_many)] = Field(min_length=1)


IN_SITU = "early"  # the one stage a non-invasive type can have (engine.case refuses the others)


def _stage(case, in_situ: frozenset[str]) -> str | None:
    """The case's stage: given, or early for an in-situ type that gives none."""
    if case.stage is None and case.cancer.code in in_situ:
        return IN_SITU
    return case.stage


def build(cond, vocab) -> tuple:
    stages = frozenset(cond.stage)
    in_situ = vocab.cancers.non_invasive

    def fn(case) -> TV:
        stage = case.stage if case.stage is not None or not in_situ else _stage(case, in_situ)
        return None if stage is None else stage in stages

    def describe(case) -> str:
        if case.stage is None:
            return f"stage {IN_SITU} (an in-situ cancer type)"
        return f"stage {case.stage.replace('_', ' ')}"

    return ("stage", stages), fn, (lambda case: "stage"), describe


def case_terms(cond, positive, vocab, acc) -> None:
    acc.stages.update(cond.stage)


def held(atom, case, value) -> str:
    """The case's stage in words ("stage locally advanced"), or that it is unknown."""
    return UNKNOWN + "stage" if value is None else atom.describe(case)


DIMENSION = FieldDimension("stage", "stage", (None, *get_args(Stage)))

KIND = register(ConditionKind("stage", StageCond, build, lambda cond, vocab=None: "stage " + " or ".join(cond.stage), None,
                              lambda cond: ("stage",), DIMENSION, None, case_terms, held=held))
