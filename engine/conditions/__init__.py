"""Condition kinds: one registry entry per kind of leaf condition.

Each module of this package is one kind: its pydantic schema, the compiled leaf (an *atom*:
three-valued value, what is missing when unknown, the case facts that made it true), its label
in words, its vocabulary check, the case fields it reads, the dimension of ``check``'s abstract
domain it belongs to, what the case generators draw from it, and how explanations and ``check``
speak of it (the word before a false leaf, the leaf in a student's words, what the case holds for
it, what it names; see
:class:`~engine.conditions.base.ConditionKind`). A new criterion is one new module here (and its
import below); the rule model, the loader, both backends, ``check`` and the generators read the
registry. The combinators (``all``, ``any``, ``not``, ``unmet``) and ``fact`` are part of the
rule language itself (:mod:`engine.rules_model`).
"""
from engine.conditions.base import (  # noqa: F401
    BY_MODEL,
    KINDS,
    TV,
    UNKNOWN,
    AlterationKind,
    ConditionKind,
    DomainTerms,
    FIELD_DIMENSIONS,
    GeneTerms,
    FieldDimension,
    HistoryRole,
    HistoryTerms,
    LeafNames,
    MISSING_SEP,
    NO_HISTORY,
    Origin,
    Outcome,
    Setting,
    Stage,
    Strict,
    history_held,
    join_words,
    one_or_many,
    register_field,
)
from engine.conditions.cancer import CancerCond  # noqa: F401,E402
from engine.conditions.alteration import AlterationCond, AlterationPattern  # noqa: F401,E402
from engine.conditions.stage import StageCond  # noqa: F401,E402
from engine.conditions.prior_lines import PriorLinesCond, PriorLinesPattern  # noqa: F401,E402
from engine.conditions.received import ReceivedCond, ReceivedPattern  # noqa: F401,E402
from engine.conditions.prior_line import LinePattern, PriorLineCond  # noqa: F401,E402
from engine.conditions.germline import GermlineTestedCond  # noqa: F401,E402
from engine.conditions.multiagent import MultiagentCandidateCond  # noqa: F401,E402


def kind_of(cond) -> ConditionKind:
    """The registry entry of a leaf condition (a model instance)."""
    return BY_MODEL[type(cond)]
