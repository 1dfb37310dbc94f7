"""The result (output) format (README, "The case format" and "Schemas and versions"), as pydantic models.

The Python API returns a :class:`Result`; ``--format json`` prints ``result.to_json()``: the same
object, field for field.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticUndefined

from engine.rules_model import Evidence, Verdict

# The version of the case and result format (version 1 as first published). A minor version only adds
# fields: a reader of 1.0 can read any 1.x. Every result carries it (``contract_version``).
CONTRACT_VERSION = "1.1"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    @classmethod
    def fast(cls, **fields):
        """Build from values the engine produced itself (already valid), without re-validation.

        Every field without a default must be given (fields with one get a fresh copy of it).
        Equivalent to ``model_construct`` but several times faster, which matters on the
        per-option hot path. ``tests/test_result_model.py`` checks that the objects built here
        validate as the model."""
        size = _SIZES.get(cls)  # len(model_fields), read once per class (a slow property)
        if size is None:
            size = _SIZES[cls] = len(cls.model_fields)
        if len(fields) < size:
            tail = _tail(cls)
            n = size - len(fields)
            if 0 < n <= len(tail) and not any(k in fields for k, _ in tail[-n:]):
                for k, v in tail[-n:]:  # the common case: only the last defaulted fields left out
                    fields[k] = v if type(v) in _IMMUTABLE else copy.copy(v)
            else:
                fields = {**{k: copy.copy(v) for k, v in _defaults(cls).items() if k not in fields}, **fields}
                fields = {k: fields[k] for k in cls.model_fields if k in fields}  # in field order
        return made(cls, fields)


def made(cls, fields: dict) -> Any:
    """An instance of ``cls`` (an :class:`_Out` model) from ``fields``: every field, in field order,
    values the engine produced itself (``cls.fast(**fields)`` without its checks and defaults)."""
    m = _NEW(cls)
    _DICT(m, fields)
    _FIELDS_SET(m, set(fields))
    _EXTRA(m, None)
    _PRIVATE(m, None)
    return m


#: per model class: how many fields it has (``fast``), every field name (``lazy``); kept here,
#: not on the class: a module dict is read faster than a class's ``__dict__`` (a mapping proxy)
_SIZES: dict[type, int] = {}
_NAMES: dict[type, frozenset[str]] = {}
_NEW = object.__new__  # (BaseModel defines no __new__: ``cls.__new__`` is this, looked up)

_IMMUTABLE = frozenset({str, int, float, bool, type(None), tuple})


def _setter(name: str):
    """A function setting attribute ``name`` of a model instance as ``object.__setattr__`` does,
    through the descriptor of the slot pydantic's ``BaseModel`` declares (a third faster; the
    plain call where the descriptor is not there)."""
    slot = BaseModel.__dict__.get(name)
    if slot is not None and hasattr(slot, "__set__"):
        return slot.__set__
    return lambda m, value: object.__setattr__(m, name, value)


_DICT, _FIELDS_SET, _EXTRA, _PRIVATE = (_setter(n) for n in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))


def _tail(cls) -> tuple:
    """The trailing fields that have a default, in field order (as (name, default) pairs)."""
    t = cls.__dict__.get("_fast_tail")
    if t is None:
        out = []
        for k, f in reversed(list(cls.model_fields.items())):
            if f.default is PydanticUndefined:
                break
            out.append((k, f.default))
        t = tuple(reversed(out))
        type.__setattr__(cls, "_fast_tail", t)
    return t


def _defaults(cls) -> dict:
    d = cls.__dict__.get("_fast_defaults")
    if d is None:
        d = {k: f.default for k, f in cls.model_fields.items() if f.default is not PydanticUndefined}
        type.__setattr__(cls, "_fast_defaults", d)
    return d


class _Lazy(_Out):
    """A model some of whose texts may be rendered on demand (see :mod:`engine.evaluation.resolve`).

    ``Engine.evaluate`` decides a result (verdicts, levels, rules, criteria, citations) and leaves
    its prose (explanations, reasons, summaries, notes, trace, facts) to a renderer, which fills
    every text of the result at once the first time one is read, when :meth:`explain` is called,
    and before any serialisation, copy, comparison or pickling. Until then those fields are absent
    from the instance's ``__dict__`` and the renderer is held in the ``_pending`` slot (not a
    pydantic field or private attribute: it is never serialised, compared or copied)."""

    __slots__ = ("_pending",)
    _LAZY: ClassVar[frozenset[str]] = frozenset()

    def explain(self):
        """Render the texts now if they are still pending (idempotent, thread-safe); returns self."""
        try:
            r = _PENDING.__get__(self, type(self))
        except AttributeError:
            return self
        if r is not None:
            r.render()
        return self

    if not TYPE_CHECKING:  # keep static attribute checking: only missing attributes come here

        def __getattr__(self, name: str):
            if name in type(self)._LAZY:
                try:
                    r = _PENDING.__get__(self, type(self))
                except AttributeError:
                    r = None
                if r is not None:
                    r.render()
                    d = self.__dict__
                    if name in d:
                        return d[name]
            return super().__getattr__(name)

    def model_dump(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.explain()
        return super().model_dump(*args, **kwargs)

    def model_dump_json(self, *args: Any, **kwargs: Any) -> str:
        self.explain()
        return super().model_dump_json(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        self.explain()
        if isinstance(other, _Lazy):
            other.explain()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # as BaseModel: mutable, not hashable

    def __getstate__(self) -> dict[Any, Any]:
        self.explain()
        return super().__getstate__()

    def __copy__(self):
        self.explain()
        return super().__copy__()

    def __deepcopy__(self, memo: dict[int, Any] | None = None):
        self.explain()
        return super().__deepcopy__(memo)

    def __iter__(self):
        self.explain()
        return super().__iter__()

    def __repr_args__(self):
        self.explain()
        return super().__repr_args__()


_PENDING = _Lazy.__dict__["_pending"]  # the slot's descriptor (reading it never calls __getattr__)


def lazy(cls, fields: dict, renderer) -> Any:
    """An instance of ``cls`` (a :class:`_Lazy` model) holding ``fields`` (the decided ones, in
    field order; the lazy ones absent) whose texts ``renderer.render()`` will fill."""
    names = _NAMES.get(cls)  # every field name, read once per class (a slow property)
    if names is None:
        names = _NAMES[cls] = frozenset(cls.model_fields)
    m = _NEW(cls)
    _DICT(m, fields)
    _FIELDS_SET(m, set(names))
    _EXTRA(m, None)
    _PRIVATE(m, None)
    _PENDING.__set__(m, renderer)
    return m


def settled(m, fields: dict) -> None:
    """Give a lazy instance its full field dict (field order) and forget its renderer."""
    _DICT(m, fields)
    _PENDING.__set__(m, None)


class CitationOut(_Out):
    """A passage a rule cites. Immutable: the engine builds each citation once per rule base and
    every result that cites it holds the same object, so none may change it for the others."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    # few (one per rule and passage) and alive as long as the rule base: the JSON writer writes
    # each once and reuses its text (engine.streams.codec)
    WRITTEN_ONCE: ClassVar[bool] = True

    source: str  # the source id (readable, never a file name)
    title: str | None = None  # the source's title, what a reader is shown
    section: str | None = None
    quote: str
    rule: str | None = None  # the rule that cites it
    # the source's date (YYYY-MM-DD) where sources.yaml gives one: a source dated after the
    # evaluation date was not known on it (the rule may rest on earlier evidence it reports)
    date: str | None = None


class Considered(_Lazy):
    """A rule that also concluded about this therapy but did not decide it."""

    _LAZY = frozenset({"reason"})

    rule: str
    verdict: Verdict
    evidence: Evidence
    set_aside_by: str | None = None  # the rule whose explicit precedence set this one aside
    reason: str  # why it did not decide


class CautionOut(_Out):
    """A caution attached to an option: evidence that does not change the verdict but matters."""

    rule: str
    text: str


#: the end of the id of the criterion a pending exclusion adds to the options it would decide
#: ("RES-007/exclusion"): written by resolution, read by ``compare``
EXCLUSION_CRITERION = "/exclusion"


class Criterion(_Out):
    """One line of an option's checklist: a gate (the biomarker / cancer-type conditions of the
    deciding rule, in words) or a label criterion (each of its ``requires``). Immutable."""

    # the engine builds each (criterion, status) once per rule base and every option showing it
    # holds the same object, so none may change it for the others
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str  # stable: "<rule>/gate/<n>", "<rule>/requires/<n>", "<rule>/exclusion"
    text: str  # the criterion in words
    kind: Literal["gate", "label", "population"]  # population: an approval's criterion from its evidence, not its label
    status: Literal["met", "not_met", "unknown"]
    facts: tuple[str, ...]  # the case fields and derived facts it rests on (internal names; a JSON array)


class Option(_Lazy):
    _LAZY = frozenset({"explanation", "summary"})

    therapy: str  # therapy id from the catalogue, e.g. "adagrasib+cetuximab"
    name: str  # display name, e.g. "adagrasib + cetuximab"
    drugs: list[str]  # lowercase generic names, sorted
    verdict: Verdict
    evidence: Evidence
    oncokb_level: str | None  # None: no OncoKB level for this evidence (resistance_preclinical)
    rules: list[str]  # deciding rule first, then the derived-fact rules it rests on
    explanation: str
    citations: list[CitationOut]
    missing: list[str]
    failed_criteria: list[str] = []
    status: str  # status of the deciding rule (regular, accelerated, investigational, ...)
    jurisdiction: str | None = None
    effective_from: str
    considered: list[Considered] = []
    criteria: list[Criterion] = []  # the deciding rule's gate and label criteria, with status
    cautions: list[CautionOut] = []  # caution rules about this therapy that hold for the case
    summary: str = ""  # the option in at most 140 characters, for a list or a card


class NoteOut(_Out):
    rule: str
    text: str
    citations: list[CitationOut]


class Result(_Lazy):
    _LAZY = frozenset({"notes", "facts", "trace"})

    case_id: str
    evaluated_as_of: str
    knowledge_version: str
    jurisdiction: str
    cancer_type: str  # the resolved OncoTree code
    options: list[Option]
    notes: list[str]
    note_details: list[NoteOut] = []
    facts: dict[str, bool | None] = {}  # derived facts evaluated for this case (None = unknown)
    trace: list[str]
    disclaimer: str
    contract_version: str = CONTRACT_VERSION

    def to_json(self) -> str:
        return self.model_dump_json()  # renders pending texts first

    def option(self, therapy: str) -> Option | None:
        """The option for a therapy id, or None."""
        for o in self.options:
            if o.therapy == therapy:
                return o
        return None


class Decided(NamedTuple):
    """What decided one therapy for a case, without texts or lists: what a TSV row and a cohort
    summary read of an :class:`Option` (the same values, field by field)."""

    therapy: str
    verdict: str
    evidence: str
    oncokb_level: str | None
    missing: tuple[str, ...]
    rule: str | None  # the deciding rule (``Option.rules[0]``)
    gate_unknown: bool  # some condition of the deciding rule's gate is unknown for the case

    @classmethod
    def of(cls, o: Option) -> Decided:
        rule = o.rules[0] if o.rules else None
        prefix = f"{rule}/gate/"
        return cls(o.therapy, o.verdict, o.evidence, o.oncokb_level, tuple(o.missing), rule,
                   rule is not None and any(c.status == "unknown" and c.id.startswith(prefix) for c in o.criteria))


class Decisions(NamedTuple):
    """A result's decided fields without its texts, criteria or citations (``Engine.decide``):
    what a TSV row and a cohort summary read, the same values as :meth:`of` the full result
    gives. Its options are in the result's order."""

    case_id: str
    evaluated_as_of: str
    knowledge_version: str
    cancer_type: str
    options: tuple[Decided, ...]
    jurisdiction: str = ""  # the regulator whose approvals applied (Result.jurisdiction)

    @classmethod
    def of(cls, result: Result) -> Decisions:
        return cls(result.case_id, result.evaluated_as_of, result.knowledge_version, result.cancer_type,
                   tuple(Decided.of(o) for o in result.options), result.jurisdiction)
