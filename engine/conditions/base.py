"""What every condition kind shares: the registry entry, three-valued truth, and the words the
conditions use (stages, settings, outcomes)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple
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
    ``None`` when the field stands alone; ``read``: where no atom tells some values apart, those
    it does (``None`` first; default: every value); ``written(value, alterations)``: where the
    case reader reads the field otherwise than it is written, what a case writes for the value
    the atoms read (``None``: the value itself). ``check`` enumerates them, writes them into its
    witness cases and needs nothing else from the kind; the case generators draw ``values``.
    """

    name: str
    field: str
    values: tuple
    implied: Callable | None = None
    read: tuple | None = None
    written: Callable | None = None

    @property
    def searched(self) -> tuple:
        """The values ``check`` enumerates."""
        return self.values if self.read is None else self.read


class HistoryRole(NamedTuple):
    """How an atom's value depends on the prior-therapy history (``check`` merges histories by it).

    ``role``: ``"count"`` (the number of lines, counting only those in ``settings`` when given;
    ``cap``: the count past which more lines change nothing), ``"line"`` (each line alone and,
    when ``positional``, its place among the lines for advanced disease), ``"history"`` (what the
    whole history holds) or ``"exposure"`` (exposure to, and progression on, the classes it adds
    to :attr:`HistoryTerms.acquired_on`: an alteration acquired on a drug class). ``carries``: a
    later line that ended in progression makes a line that otherwise matches true (a "line"
    atom asking for progression on or after the line). ``last``: a "line" atom that reads the
    most recent line only, so a later line replaces what it reads (where the others keep the
    best of every line).
    """

    role: str
    cap: int = 0
    settings: tuple | None = None
    positional: bool = False
    carries: bool = False
    last: bool = False


@dataclass
class HistoryTerms:
    """What the history kinds' ``history`` hooks tell ``check`` to build prior lines from: the drug
    classes and drugs named (and each pattern naming them together), settings, outcomes and week
    thresholds; the classes an alteration may be acquired on; and, for positional conditions,
    the settings that are not a line for advanced disease and one that is."""

    classes: set = field(default_factory=set)
    drugs: set = field(default_factory=set)
    patterns: list = field(default_factory=list)
    settings: set = field(default_factory=set)
    outcomes: set = field(default_factory=set)
    weeks: set = field(default_factory=set)
    acquired_on: set = field(default_factory=set)
    not_a_line: frozenset = frozenset()
    a_line: str | None = None

    def pattern(self, classes: frozenset, drugs: frozenset) -> None:
        self.classes |= classes
        self.drugs |= drugs
        self.patterns.append((classes, drugs))


@dataclass
class GeneTerms:
    """What ``check`` builds one gene's alterations from: the variant labels named (in order),
    codons, alteration kinds, origins, acquired flags and fusion partners, whether some
    pattern asks where an alteration was acquired, and whether some asks for a deleterious one
    (its classification matters)."""

    labels: list = field(default_factory=list)
    codons: set = field(default_factory=set)
    kinds: set = field(default_factory=set)
    origins: set = field(default_factory=set)
    acquired: set = field(default_factory=set)
    partners: set = field(default_factory=set)
    acquired_on: bool = False
    classified: bool = False


@dataclass
class DomainTerms:
    """What the structured dimensions of ``check``'s domain are built from, as the cancer and
    gene kinds' ``domain`` hooks report it: the cancer codes named, and per gene its
    :class:`GeneTerms`."""

    cancers: set = field(default_factory=set)
    genes: dict = field(default_factory=dict)

    def gene(self, name: str) -> GeneTerms:
        return self.genes.setdefault(name, GeneTerms())


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
    ``germline_tested``); ``history(cond, vocab, terms)``: for a kind whose value depends on the
    prior-therapy history, its :class:`HistoryRole` (``None``: it does not), adding what ``check``
    builds prior lines from to ``terms`` (:class:`HistoryTerms`); ``domain(key, terms)``: for a
    kind of the cancer or gene dimension, adds what its atom (by its key) names to ``terms``
    (:class:`DomainTerms`) and returns the gene it reads (``None``: none); ``rule_terms(cond, vocab, acc)`` and ``case_terms(cond,
    positive, vocab, acc)``: what the case generators of :mod:`engine.testing` draw from it.
    The durable backend needs nothing per kind: it receives atom values.

    What the explanations and ``check`` say of a leaf (each optional; the methods below give the
    default): ``negation``: the word before a false leaf of the kind ("no KRAS G12C"; default
    "not"); ``words(cond, vocab)``: the leaf in words for a student, with the vocabulary's names
    (default: its label); ``negated(cond, vocab)``: ``not`` over the leaf in those words (default:
    the negation word before them); ``held(atom, case, value)``: what the case holds for a leaf that is not
    true, in words (default: what is missing when unknown, else the case facts the leaf names);
    ``names(key)``: what a leaf names, by its atom's key (:class:`LeafNames`); ``brief(key)``: the
    leaf in ``check``'s findings (default: its label); ``may_match(key, alt)``: whether a case
    alteration is one the leaf could be about (the batch summary's alterations no rule knows);
    ``true_needs(key)``: a gene the case must list an alteration of for the leaf (by its atom's
    key) to be true, or None (inference skips a note rule that cannot be true, see
    :func:`engine.evaluation.evaluator.needs`); ``disjoint(a, b, vocab)``: whether two leaves of
    the kind can never both be true (two cancer types of separate subtrees): a rule whose `when`
    asks for both is refused when loading; ``found_only(cond)``: whether the leaf asks only
    whether something was found, as under an ``unmet`` (an alteration read as ``identified``):
    the property tests' generated cases then do not read it as data.
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
    history: Callable | None = None
    domain: Callable | None = None
    negation: str | None = None
    words: Callable | None = None
    negated: Callable | None = None
    held: Callable | None = None
    names: Callable | None = None
    brief: Callable | None = None
    may_match: Callable | None = None
    true_needs: Callable | None = None
    disjoint: Callable | None = None
    found_only: Callable | None = None

    def false_words(self, label: str) -> str:
        """A false leaf in a case's words: "no KRAS G12C", "not stage metastatic"."""
        return f"{self.negation or 'not'} {label}"

    def not_words(self, cond, label: str, vocab) -> str:
        """``not`` over a leaf of this kind in a rule's words: "no KRAS G12C", "not: stage early",
        or the kind's own words for it ("a cancer type other than ...")."""
        if self.negated is not None:
            return self.negated(cond, vocab)
        words = self.student_words(cond, label, vocab)
        return f"{self.negation} {words}" if self.negation else "not: " + words

    def student_words(self, cond, label: str, vocab) -> str:
        """The leaf in words for a student (``label``: its label, the default)."""
        return self.words(cond, vocab) if self.words is not None else label

    def case_words(self, atom, case, value: TV) -> str:
        """What ``case`` holds for the leaf of ``atom`` (a compiled atom: ``spec``, ``fn``,
        ``missing``, ``describe``) whose value is ``value``, in words."""
        if value is True:
            return atom.describe(case)
        if self.held is not None:
            return self.held(atom, case, value)
        return UNKNOWN + atom.missing(case) if value is None else atom.describe(case)

    def named(self, key: tuple) -> LeafNames:
        """What the leaf of an atom (by its key) names (nothing, by default)."""
        return self.names(key) if self.names is not None else _NOTHING

    def finding_words(self, key: tuple, label: str) -> str:
        """The leaf in ``check``'s findings (``label``: its label, the default)."""
        return self.brief(key) if self.brief is not None else label

    def could_match(self, key: tuple, alt) -> bool:
        """Whether the leaf (by its atom's key) could be about case alteration ``alt``."""
        return self.may_match is not None and self.may_match(key, alt)


class LeafNames(NamedTuple):
    """What one leaf names, read from its atom's key by its kind (``check`` and the batch summary
    ask): ``gene``: the gene whose alterations it reads; ``cancers``: the cancer codes it admits;
    ``acquired_on``: the drug class an alteration must have been acquired on; ``specific``: it
    names particular changes (variants or codons), not any alteration of the gene; ``variants``:
    the variant labels of ``gene`` it names (not those it excludes)."""

    gene: str | None = None
    cancers: frozenset = frozenset()
    acquired_on: str | None = None
    specific: bool = False
    variants: frozenset = frozenset()


_NOTHING = LeafNames()


def join_words(items: list[str], last: str = "or") -> str:
    """Items in a sentence: "A", "A or B", "A, B or C" (``last``: the word before the last)."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {last} " + items[-1]


def history_words(case) -> str:
    """A case's prior therapies in words, in the case's (chronological) order: the one way every
    prior-therapy leaf names the history, so an explanation names it once."""
    if not case.lines:
        return "no prior systemic therapy (treatment-naive)"
    return "prior " + "; ".join(ln.describe() for ln in sorted(case.lines, key=line_order))


def line_order(ln) -> int:
    """A prior line's place in the case's history (sort by it for the chronological order); a
    line the history leaves out (``Line.implied``) comes just before the entry it precedes."""
    return 2 * ln.seq + (not ln.implied)


#: what a prior-therapy leaf is missing when the case gives no history (with a history given, a
#: leaf names the lines and fields it is missing instead; a requirement's own ``missing`` text
#: then gives way to those words, see :func:`engine.evaluation.evaluator.history_words_apply`)
NO_HISTORY = "prior therapy history"
#: before what a case is missing for a leaf, in what the case holds ("unknown: KRAS testing")
UNKNOWN = "unknown: "


#: between the items of one leaf's missing words ("the setting of prior therapy 1 (FOLFOX); how
#: prior therapy 2 (FOLFIRI) ended"): each item is listed once in an outcome's ``missing``, however
#: many leaves ask it
MISSING_SEP = "; "


def line_names(lines) -> list[str]:
    """Each line by its place in the case's list and its regimen: "prior therapy 2 (FOLFIRI)"
    (not "line 2": adjuvant and maintenance entries have places too)."""
    # (a label is the case's own words: it must not hold the separator of missing items)
    return [f"the {ln.label.replace(MISSING_SEP, ', ')}" if ln.implied else
            f"prior therapy {ln.seq + 1} ({ln.label.replace(MISSING_SEP, ', ')})" for ln in lines]


def open_lines(lines) -> list[str]:
    """The names of the lines whose drugs are not given (:func:`line_names`), in the case's order."""
    shown = sorted((ln for ln in lines if ln.open), key=line_order)
    return line_names(shown)


def drugs_words(names: list[str], sep: str = MISSING_SEP) -> str:
    """What to find out about lines whose drugs are not given: "the drugs of prior therapy 2 (...)"
    (items of a missing text, or, with ``sep=", "``, words within one item)."""
    return sep.join(f"the drugs of {n}" for n in names)


def history_held(atom, case, value: TV) -> str:
    """What the case holds for a prior-therapy leaf that is not true: its history in words."""
    if case.lines is None:
        return UNKNOWN + NO_HISTORY
    return history_words(case)


KINDS: dict[str, ConditionKind] = {}
BY_MODEL: dict[type, ConditionKind] = {}
#: every scalar case field of ``check``'s domain and the case generators, by field: those of the
#: condition kinds (:attr:`ConditionKind.dimension`) and those only other kinds' atoms read
#: (:func:`register_field`), in the order registered
FIELD_DIMENSIONS: dict[str, FieldDimension] = {}


def register(kind: ConditionKind) -> ConditionKind:
    if kind.key in KINDS:
        raise ValueError(f"condition kind {kind.key!r} registered twice")
    KINDS[kind.key] = kind
    BY_MODEL[kind.model] = kind
    if isinstance(kind.dimension, FieldDimension):
        FIELD_DIMENSIONS.setdefault(kind.dimension.field, kind.dimension)
    return kind


def register_field(fd: FieldDimension) -> FieldDimension:
    """A scalar case field no condition kind of its own reads, only atoms of other kinds (their
    ``depends``): an alteration acquired on a drug reads whether the profile is from testing
    after the prior therapy."""
    if fd.field in FIELD_DIMENSIONS:
        raise ValueError(f"case field {fd.field!r} registered twice")
    FIELD_DIMENSIONS[fd.field] = fd
    return fd
