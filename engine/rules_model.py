"""The rule language: pydantic models of the files in ``rules/``.

A rule file is YAML holding ``rules:``, a list of rules. Each rule is one of four kinds:

``conclusion``
    decides a verdict for one or more therapies (``conclude``);
``derivation``
    produces a named derived fact that other rules use (``derive``), e.g. ``ras_mutant``;
``note``
    adds context that is not a verdict (``note``), e.g. STK11 co-mutation and PD-1 inhibitors;
``caution``
    attaches a caution (``caution``) to the options of the therapies it is ``about``; never a verdict.

Conditions (``when`` and each ``requires[].test``) are three-valued: true, false or unknown. A
criterion about data the case lacks (a gene not tested, a history not given) is *unknown*, never
false. Condition forms, each a mapping with exactly one key::

    all: [C, ...]            every one holds (Kleene and)
    any: [C, ...]            at least one holds (Kleene or)
    not: C                   negation (unknown stays unknown)
    unmet: C                 C is not known to hold (false or unknown) -> true/false, never unknown
    cancer: [CODE, ...]      the case's cancer type lies in the OncoTree subtree of a listed code
    alteration: {...}        an alteration matching the pattern is present (see AlterationPattern)
    fact: NAME               a derived fact (from a derivation rule) holds
    stage: [STAGE, ...]      the case's stage is one of these (unknown when stage is absent)
    prior_lines: {min, max}  number of prior systemic therapy lines (unknown when history absent)
    received: {classes, drugs}  across the whole history every listed class/drug was given
    prior_line: {...}        some single prior line matches all the filters (LinePattern)
    germline_tested: BOOL    germline testing was (true) / was not (false) done
    multiagent_candidate: BOOL  the patient is (true) / is not (false) a candidate for multiagent therapy

The leaf kinds (every form but the combinators and ``fact``) are registered in
:mod:`engine.conditions`, one module each; their models are re-exported here.

Every model forbids unknown keys, so a misspelt key fails at load with its path.
"""
from __future__ import annotations

import datetime as dt
import re
import difflib
from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from engine.conditions import (  # noqa: F401  (the condition kinds; re-exported for the engine)
    KINDS,
    AlterationCond,
    AlterationKind,
    AlterationPattern,
    CancerCond,
    GermlineTestedCond,
    LinePattern,
    Origin,
    Outcome,
    PriorLineCond,
    PriorLinesCond,
    PriorLinesPattern,
    ReceivedCond,
    ReceivedPattern,
    Setting,
    Stage,
    StageCond,
    Strict,
    one_or_many,
)
from engine.semantics import CLINICAL_IN_POPULATION, CLINICAL_OUTSIDE, DEFAULT_ONCOKB, EVIDENCE, VERDICTS  # noqa: F401

Verdict = Literal[VERDICTS]  # type: ignore[valid-type]  # built from semantics.VERDICTS (one source); Any to mypy
Evidence = Literal[EVIDENCE]  # type: ignore[valid-type]  # built from semantics.EVIDENCE (one source); Any to mypy
OncoKBLevel = Literal["1", "2", "3A", "3B", "4", "R1", "R2"]
Status = Literal[
    "regular",  # regular (full) regulatory approval
    "accelerated",  # accelerated / conditional regulatory approval
    "withdrawn",  # the rule that says, from the day of a withdrawal, that an approval no longer holds
    # (the approval keeps its own status and ends that day: effective_to; rules/README.md)
    "guideline",  # professional guideline statement
    "investigational",  # trial / expanded access evidence, not approved
    "literature",  # published evidence (clinical or preclinical) from the source documents
    "retired",  # the rule no longer applies; its id is kept, never reused
]

_Strict = Strict


# --------------------------------------------------------------------------- conditions


class All(_Strict):
    all: tuple[Condition, ...] = Field(min_length=1)


class Any_(_Strict):
    any: tuple[Condition, ...] = Field(min_length=1)


class Not(_Strict):
    not_: Condition = Field(alias="not")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Unmet(_Strict):
    unmet: Condition


class FactCond(_Strict):
    fact: str


def _condition_tag(value) -> str | None:
    if isinstance(value, dict):
        keys = list(value)
        return keys[0] if len(keys) == 1 else None
    if isinstance(value, BaseModel):
        return _TAG_OF_MODEL.get(type(value))
    return None


def _check_condition_shape(value):
    """Give a precise message for a condition that is not a one-key mapping of a known form."""
    if isinstance(value, BaseModel):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "condition_type", "a condition is a mapping with one key, one of: {keys}", {"keys": ", ".join(CONDITION_KEYS)}
        )
    if len(value) != 1:
        raise PydanticCustomError(
            "condition_keys",
            "a condition has exactly one key, got {n}: {got}; to combine conditions use 'all' or 'any'",
            {"n": len(value), "got": ", ".join(map(str, value))},
        )
    (key,) = value
    if key not in CONDITION_KEYS:
        close = difflib.get_close_matches(str(key), CONDITION_KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PydanticCustomError(
            "condition_unknown",
            "unknown condition '{key}'{hint}; known: {keys}",
            {"key": str(key), "hint": hint, "keys": ", ".join(CONDITION_KEYS)},
        )
    return value


# the combinators and ``fact`` (the language itself), then every registered condition kind
_LANGUAGE: tuple[tuple[str, type], ...] = (("all", All), ("any", Any_), ("not", Not), ("unmet", Unmet), ("fact", FactCond))
_FORMS: tuple[tuple[str, type], ...] = _LANGUAGE + tuple((k, kind.model) for k, kind in KINDS.items())
CONDITION_KEYS = tuple(k for k, _ in _FORMS)
_TAG_OF_MODEL: dict[type, str] = {m: k for k, m in _FORMS}

if TYPE_CHECKING:  # the union is built from the registry at run time; statically, one of its models
    Condition = Strict
else:
    Condition = Annotated[
        Union[tuple(Annotated[m, Tag(k)] for k, m in _FORMS)],  # noqa: UP007 - a Union of a built tuple has no `|` form
        Discriminator(_condition_tag),
        BeforeValidator(_check_condition_shape),
    ]

# The recursive condition models resolve their forward references when first used
# (``defer_build``): a rule base loaded from the cache never pays for building validators.


# --------------------------------------------------------------------------- rule parts


class Citation(_Strict):
    """``source`` is a seed file name or a source id from ``rules/sources.yaml``."""

    source: str
    section: str | None = None
    quote: str = Field(min_length=3)


class Requirement(_Strict):
    """A label criterion: ``criterion`` says it in words (used when it fails or is unknown)."""

    criterion: str = Field(min_length=3)
    test: Condition
    missing: str | None = None  # what to find out when the test is unknown (default: derived)
    reading: str | None = Field(default=None, min_length=10)  # how the label's wording was read
    # "population": a criterion of the population the evidence comes from (a trial's), which an
    # approval rule adds to its label's words; the checklist says which it is
    kind: Literal["label", "population"] = "label"


class TherapySelector(_Strict):
    """Every therapy of the catalogue containing a drug of ``with_class``,
    optionally only those with no drug of ``without_class``."""

    with_class: str
    without_class: str | None = None


class Conclusion(_Strict):
    therapy: str | None = None
    therapies: tuple[str, ...] | TherapySelector | None = None
    verdict: Verdict
    unmet: Literal["not_eligible", "excluded"] | None = "not_eligible"
    # the option's OncoKB level where the evidence's default (engine.semantics.DEFAULT_ONCOKB) is not
    # it; "none": no level, for a label that names no biomarker (an OncoKB level grades a biomarker)
    oncokb_level: OncoKBLevel | Literal["none"] | None = None
    # a "not eligible" rule: the label criterion the case fails where it applies, in words (its
    # checklist line "<rule>/verdict"; default: the rule's title)
    criterion: str | None = None
    # a "consider" rule: what it gives while its `when` is unknown (default: nothing). "conditional",
    # naming what it misses, as an approval does: for an option that an approval elsewhere gives
    # whose biomarker test is worth asking for (a rule with `overrides` gives it anyway)
    when_unknown: Literal["conditional"] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Conclusion:
        if (self.therapy is None) == (self.therapies is None):
            raise ValueError("give exactly one of 'therapy' or 'therapies'")
        if self.criterion is not None and self.verdict != "not_eligible":
            raise ValueError("'criterion' names what a 'not_eligible' verdict fails: give it only with that verdict")
        if self.verdict == "conditional":
            raise ValueError("'conditional' is not a rule's verdict: it arises when a criterion is unknown")
        if self.when_unknown is not None and self.verdict != "consider":
            raise ValueError("'when_unknown' is for a 'consider' rule (an 'eligible' rule is conditional while its "
                             "'when' is unknown, an 'excluded' one pending, a 'not_eligible' one silent)")
        return self


class About(_Strict):
    """The therapies a caution is about: ``therapy``, a list ``therapies`` or a class selector."""

    therapy: str | None = None
    therapies: tuple[str, ...] | TherapySelector | None = None

    @model_validator(mode="after")
    def _one_target(self) -> About:
        if (self.therapy is None) == (self.therapies is None):
            raise ValueError("give exactly one of 'therapy' or 'therapies'")
        return self


class Population(_Strict):
    """The population the rule's evidence comes from, in plain words and as checkable fields.

    ``cancers``: OncoTree codes studied, or the literal ``any``; ``acquired_on``: the finding is an
    alteration acquired on this drug class; ``treatment``: the cancers studied had received prior
    systemic therapy (``previously_treated``) or none for advanced disease (``untreated``)
    (``check`` V011 compares these with ``when`` and ``requires``)."""

    text: str = Field(min_length=10)
    cancers: Annotated[tuple[str, ...], BeforeValidator(one_or_many)] | None = None
    acquired_on: str | None = None
    treatment: Literal["previously_treated", "untreated"] | None = None

    @property
    def any_cancer(self) -> bool:
        return self.cancers is None or "any" in self.cancers


class Override(_Strict):
    rule: str
    because: str = Field(min_length=10)


class Explain(_Strict):
    """Sentences for a learner. ``met`` when the rule's verdict holds; ``unmet`` when a
    requirement fails (the failed criteria are appended); ``unknown`` when one cannot be decided."""

    met: str = Field(min_length=10)
    unmet: str | None = None
    unknown: str | None = None


class ExampleExpect(_Strict):
    verdict: Verdict | None = None  # for conclusion rules: the verdict of the rule's therapy
    no_option: bool = False  # for conclusion rules: the case gets no option for that therapy at all
    therapy: str | None = None  # which therapy (default: the rule's only therapy; for a caution: any option)
    decided_by_this_rule: bool = True
    fact: bool | None = None  # for derivation rules: the fact's value (None = unknown)
    fact_unknown: bool = False
    note: bool | None = None  # for note rules: whether the note appears
    caution: bool | None = None  # for caution rules: whether the caution appears
    missing: tuple[str, ...] | None = None  # the option's missing list must contain these

    @model_validator(mode="after")
    def _one_expectation(self) -> ExampleExpect:
        if self.no_option and (self.verdict is not None or self.missing):
            raise ValueError("'no_option' expects no option: give no 'verdict' or 'missing' with it")
        return self


class Example(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    case: dict
    expect: ExampleExpect

    @field_validator("case", mode="before")
    @classmethod
    def _date_as_text(cls, v):
        # YAML reads an unquoted as_of: 2026-07-01 as a date, where a case (JSON) writes it as a
        # text: the same day, as effective_from is read either way
        if isinstance(v, dict) and type(v.get("as_of")) is dt.date:
            v = {**v, "as_of": v["as_of"].isoformat()}
        return v


class Rule(_Strict):
    id: str = Field(pattern=r"^[A-Z]{2,5}-[0-9]{3}$")
    title: str = Field(min_length=5)
    kind: Literal["conclusion", "derivation", "note", "caution"]
    rationale: str = Field(min_length=20)
    status: Status
    jurisdiction: str | None = None  # e.g. "FDA", "EMA"; None: not regulatory
    effective_from: dt.date
    effective_to: dt.date | None = None
    evidence: Evidence | None = None
    when: Condition
    requires: tuple[Requirement, ...] = ()
    conclude: Conclusion | None = None
    derive: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    note: str | None = None
    caution: str | None = None  # caution rules: the text attached to the options of `about`
    about: About | None = None  # caution rules: {therapy: X} or {therapies: [..] | selector}
    population: Population | None = None
    overrides: tuple[Override, ...] = ()
    explain: Explain | None = None
    citations: tuple[Citation, ...] = Field(min_length=1)
    examples: tuple[Example, ...] = Field(min_length=1)
    replaced_by: str | None = None

    @property
    def resistance_acquired_on(self) -> str | None:
        """For an exclusion whose evidence is resistance acquired on a drug class
        (``population.acquired_on``), that class: such an exclusion sets aside an approval of a
        drug of the class, never the reverse (checked when loading; V001 says so)."""
        if self.conclude is None or self.conclude.verdict != "excluded" or self.population is None:
            return None
        return self.population.acquired_on

    @model_validator(mode="after")
    def _kind_fields(self) -> Rule:
        k = self.kind
        if k == "conclusion":
            if self.conclude is None or self.evidence is None or self.explain is None:
                raise ValueError("a conclusion rule needs 'conclude', 'evidence' and 'explain'")
        else:
            if self.conclude is not None or self.overrides:
                raise ValueError(f"a {k} rule takes no 'conclude' or 'overrides'")
        if k == "derivation" and not self.derive:
            raise ValueError("a derivation rule needs 'derive' (the fact's name)")
        if k != "derivation" and self.derive:
            raise ValueError(f"a {k} rule takes no 'derive'")
        if k == "note" and not self.note:
            raise ValueError("a note rule needs 'note' (the text shown)")
        if (k == "caution") != bool(self.caution) or (k == "caution") != (self.about is not None):
            raise ValueError("a caution rule needs 'caution' (the text) and 'about' (its therapies); "
                             "other kinds take neither")
        if k != "conclusion" and self.requires:
            raise ValueError(f"a {k} rule takes no 'requires': put its conditions in 'when'")
        if (self.requires and self.explain is not None and not self.explain.unmet and self.conclude is not None
                and self.conclude.unmet is not None):  # (a rule silent when a criterion fails says nothing then)
            raise ValueError("a rule with criteria ('requires') needs 'explain.unmet': what a failed criterion "
                             "means, in words (the failed criteria are named after it)")
        names = [ex.name for ex in self.examples]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"example names must differ within a rule: {', '.join(repr(n) for n in twice)} "
                             f"given twice")
        for name in ("title", "rationale"):
            marker = _PLACEHOLDER.search(getattr(self, name))
            if marker:
                raise ValueError(f"'{name}' holds a placeholder ({marker.group(0)!r}): say it in plain words")
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError(f"'effective_to' ({self.effective_to}) must come after 'effective_from' "
                             f"({self.effective_from}): it is the first day the rule no longer holds")
        if self.status in ("regular", "accelerated", "withdrawn") and not self.jurisdiction:
            raise ValueError("a regulatory status needs a 'jurisdiction' (e.g. FDA)")
        if self.status == "withdrawn" and self.conclude is not None and self.conclude.verdict in ("eligible", "consider"):
            raise ValueError(
                f"a rule of status 'withdrawn' concludes '{self.conclude.verdict}': a withdrawn approval makes no "
                "therapy eligible. Keep the approval's own status (it held until then) and end it with "
                "'effective_to: <the withdrawal date>'; from that date a rule of status 'withdrawn' concludes "
                "'not_eligible' (rules/README.md, 'Recording a withdrawal')")
        return self


_PLACEHOLDER = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b|lorem ipsum", re.IGNORECASE)


class RuleFile(_Strict):
    rules: tuple[Rule, ...] = Field(min_length=1)


# --------------------------------------------------------------------------- catalogues


class Therapy(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9+_-]*$")
    name: str
    drugs: tuple[str, ...] = Field(min_length=1)


class TherapyFile(_Strict):
    therapies: tuple[Therapy, ...] = Field(min_length=1)


class Source(_Strict):
    """A citable source, shown to users by its title. A seed document keeps ``file`` only so that
    quotes can be checked against it; labels carry the ``revision`` they were checked against."""

    id: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]*$")  # readable: KRAS-EXPLAINER-2026, LUMAKRAS-LABEL
    title: str
    kind: Literal["label", "review", "explainer", "trial", "guideline", "publication", "knowledge_base",
                  "regulatory_record", "document"]
    file: str | None = None  # seed document file, for quote checking only (never shown)
    date: dt.date | None = None
    url: str | None = None
    pmid: str | None = Field(default=None, pattern=r"^[0-9]+$")
    nct: str | None = Field(default=None, pattern=r"^NCT[0-9]{8}$")
    revision: str | None = None  # labels: the revision checked against
    reference: str | None = None  # what the source says that the rules use, in plain words


class SourceFile(_Strict):
    sources: tuple[Source, ...] = Field(min_length=1)


class Meta(_Strict):
    knowledge_version: dt.date
    title: str
    disclaimer: str
    default_jurisdiction: str = "FDA"
    # the regulators the rules may name (absent: any); a rule naming another is a load error
    jurisdictions: tuple[str, ...] | None = None
    seeds_dir: str = "../shared/seeds"
    # how a regulator names a regulatory status in prose, where "<status> approval" is not its
    # word (the EU's conditional marketing authorisation is the FDA's accelerated approval's
    # counterpart): jurisdiction -> status -> words
    approval_words: dict[str, dict[Literal["regular", "accelerated", "withdrawn"], str]] = {}
    # other names people give a regulator's jurisdiction ("EU" for the EMA): offered as the value
    # probably meant when a case names one, never read in its place
    jurisdiction_names: dict[str, str] = {}

    def approval(self, jurisdiction: str, status: str) -> str:
        """A regulatory status in the regulator's words ("FDA accelerated approval", "EMA
        conditional marketing authorisation")."""
        words = self.approval_words.get(jurisdiction, {}).get(status)  # type: ignore[call-overload]  # (a status outside the three: none)
        return f"{jurisdiction} {words or f'{status} approval'}"
