"""``stage: [STAGE, ...]``: the case's stage is one of these (unknown when stage is absent)."""
from __future__ import annotations

from typing import Annotated, get_args

from pydantic import BeforeValidator, Field

from engine.conditions.base import TV, ConditionKind, FieldDimension, Stage, Strict, one_or_many, register


class StageCond(Strict):
    stage: Annotated[tuple[Stage, ...], BeforeValidator(one_or_many)] = Field(min_length=1)


def build(cond, vocab) -> tuple:
    stages = frozenset(cond.stage)

    def fn(case) -> TV:
        return None if case.stage is None else case.stage in stages

    return ("stage", stages), fn, (lambda case: "stage"), (lambda case: f"stage {case.stage.replace('_', ' ')}")


def case_terms(cond, positive, vocab, acc) -> None:
    acc.stages.update(cond.stage)


def held(atom, case, value) -> str:
    """The case's stage in words ("stage locally advanced"), or that it is unknown."""
    return f"stage {case.stage.replace('_', ' ')}" if case.stage else "unknown: stage"


DIMENSION = FieldDimension("stage", "stage", (None, *get_args(Stage)))

KIND = register(ConditionKind("stage", StageCond, build, lambda cond, vocab=None: "stage " + " or ".join(cond.stage), None,
                              lambda cond: ("stage",), DIMENSION, None, case_terms, held=held))
