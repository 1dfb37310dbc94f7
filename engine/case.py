"""The case (input) format (README, "The case format"), and its normalised form.

:class:`CaseIn` is the pydantic model of a case file: unknown fields are errors. :func:`normalise`
turns it into a :class:`NormalCase` through the vocabulary: synonyms resolved, variants parsed,
regimens expanded to drugs, drugs to their classes. Every problem found is collected and raised
together as one :class:`~engine.errors.CaseError` naming the field paths.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from engine.conditions.alteration import profile_after_therapy
from engine.errors import CaseError, Problem, TermError, quote, showable
from engine.rules_model import Outcome, Setting, Stage
from engine.schema import PlainStrictModel as StrictModel, field_at, problems_from_validation
from engine.vocabulary import CancerType, Vocabulary


#: a variant's classification, ACMG/AMP's five tiers (pathogenic ... benign)
Classification = Literal["pathogenic", "likely_pathogenic", "uncertain_significance", "likely_benign", "benign"]
#: the classifications that make a variant deleterious ("deleterious or suspected deleterious")
DELETERIOUS = frozenset({"pathogenic", "likely_pathogenic"})


class AlterationIn(StrictModel):
    gene: str = Field(min_length=1)
    variant: str = Field(min_length=1)
    origin: Literal["somatic", "germline"] = "somatic"
    acquired: bool | None = None  # true: found at progression on therapy; false: at diagnosis; absent: not stated
    partner: str | None = None
    # the variant's clinical classification (ACMG/AMP's five tiers, as a germline report gives it);
    # absent: not stated (a rule asking for a deleterious change then reads the change itself)
    classification: Classification | None = None
    # details kept from copy-number and fusion files (informational: no rule reads them)
    cna: int | None = Field(default=None, ge=-2, le=2)  # discrete call, GISTIC style: -2 deep deletion .. 2 amplification
    copy_number: float | None = Field(default=None, ge=0)  # total copies, where the file gives them
    detail: str | None = None  # the file's own words for the alteration (e.g. "EML4--ALK", a segment)


MAX_WEEKS = 1000  # the most weeks a prior line may have (about 19 years)


class PriorTherapyIn(StrictModel):
    drugs: list[str] | None = None
    regimen: str | None = None
    setting: Setting | None = None
    outcome: Outcome | None = None
    weeks: float | None = Field(default=None, ge=0, le=MAX_WEEKS)

    @model_validator(mode="after")
    def _has_drugs(self) -> PriorTherapyIn:
        # neither given: a line whose drugs are not known (read as open, see ``Line.open``); one
        # given empty says nothing, and is more likely a slip than a way of saying so
        if not self.drugs and not self.regimen and (self.drugs is not None or self.regimen is not None):
            raise ValueError("a prior therapy's 'drugs' is a non-empty list and its 'regimen' a name; leave both "
                             "out for a line whose drugs are not known")
        return self


def _no_alterations() -> list:
    """The default of ``alterations`` (a Python function: the signature pydantic inspects of the
    builtin ``list`` costs a tokenizer start-up in every process)."""
    return []


class CaseIn(StrictModel):
    """One case, in the case format of the README ("The case format"), with the optional ``jurisdiction``."""

    id: str | None = None
    cancer_type: str = Field(min_length=1)
    stage: Stage | None = None
    alterations: list[AlterationIn] = Field(default_factory=_no_alterations)
    tested_genes: list[str] | None = None
    germline_tested: bool | None = None
    multiagent_candidate: bool | None = None  # a candidate for multiagent systemic therapy; absent: not stated
    prior_therapies: list[PriorTherapyIn] | None = None
    # the alterations and tested genes are from testing after the last prior therapy listed (true)
    # or from earlier testing (false); absent: not stated (an alteration flagged acquired implies true)
    tested_after_prior_therapy: bool | None = None
    as_of: dt.date | None = None
    jurisdiction: str | None = None


@dataclass(frozen=True, slots=True)
class Alt:
    gene: str
    kind: str
    label: str
    codon: int | None
    origin: str
    acquired: bool | None  # None: not stated
    partner: str | None
    # the codons the change alters in place (see engine.vocabulary.variants.Variant.span): None is
    # ``codon`` alone, () none (a truncating change), (first, last) an in-frame range
    span: tuple[int, ...] | None = None
    classification: str | None = None  # AlterationIn.classification (None: not stated)

    def deleterious(self) -> bool | None:
        """Whether the change is deleterious ("deleterious or suspected deleterious", as the
        labels of PARP inhibitors say): its classification decides where given (pathogenic or
        likely pathogenic: yes; of uncertain significance or benign: no); otherwise the change
        itself: a loss of the gene, a change that cuts the protein short (a stop gained, a
        frameshift, a lost start codon) or a "mutation" the report does not spell out is read as
        one; a change that keeps the protein whole (a missense or in-frame change) is unknown
        until it is classified."""
        c = self.classification
        if c is not None:
            return c in DELETERIOUS
        if self.kind == "loss" or self.span == () or (self.kind == "mutation" and self.codon is None):
            return True
        return None

    def at_codon(self, codons: frozenset[int]) -> bool:
        """Whether the change alters one of ``codons`` in place (what a rule's ``codons`` asks)."""
        span = self.span
        if span is None:
            return self.codon in codons
        return bool(span) and any(span[0] <= c <= span[1] for c in codons)

    def describe(self, acquired: bool = True) -> str:
        """In words: "KRAS G12C", "BRCA2 E1953* (germline)", "KRAS Y96D (acquired)" (without
        "acquired" when ``acquired`` is false: the caller says on what it was acquired)."""
        text = f"{self.gene} {self.label}" if self.kind != "fusion" else f"{self.gene} fusion"
        if self.kind == "fusion" and self.partner:
            text = f"{self.partner}-{self.gene} fusion" if self.partner else text
        extras = []
        if self.origin == "germline":
            extras.append("germline")
        if self.classification is not None:
            extras.append(self.classification.replace("_", " "))
        if self.acquired and acquired:
            extras.append("acquired")
        return text + (f" ({', '.join(extras)})" if extras else "")


# Line and NormalCase are made for every case (several lines each): plain slotted dataclasses,
# not frozen ones, whose __init__ sets each field through object.__setattr__ (3.5 µs of the 11.3 µs
# normalising a generated case took, measured). Never changed once made (cases, plans' memos and
# the batch's reused records rely on it): ``dataclasses.replace`` makes a changed copy. Hashable as
# before (check's domain keys on lines).
@dataclass(slots=True, unsafe_hash=True)
class Line:
    drugs: frozenset[str]
    classes: frozenset[str]
    setting: str | None
    outcome: str | None
    weeks: float | None
    label: str
    seq: int = 0  # the line's place in the case's history (chronological; lines are kept sorted)
    # its drugs are not given: the line may have held any drug (an entry without drugs or regimen,
    # or the first-line therapy a maintenance line implies); ``drugs``/``classes`` hold none then
    open: bool = False
    # not in the case's list: the first-line therapy before the maintenance line at ``seq``, which
    # the history does not list (see :func:`implied_lines`); it comes just before that line
    implied: bool = False

    @classmethod
    def of_unknown_drugs(cls, setting: str | None, outcome: str | None = None, weeks: float | None = None,
                         label: str | None = None, seq: int = 0, implied: bool = False) -> Line:
        """A line whose drugs are not given (``open``): an entry without drugs or regimen, or the
        first line a history leaves out (``implied``)."""
        return cls(frozenset(), frozenset(), setting, outcome, weeks, label or OPEN_LABEL, seq, open=True, implied=implied)

    def describe(self) -> str:
        if self.implied:  # (its label says what it is: a first line for metastatic disease)
            return self.label
        bits = [self.label]
        if self.setting:
            bits.append(self.setting)
        if self.weeks is not None:
            bits.append(f"{self.weeks:g} weeks")
        if self.outcome:
            bits.append(self.outcome)
        return bits[0] + (f" ({', '.join(bits[1:])})" if len(bits) > 1 else "")


@dataclass(slots=True, unsafe_hash=True)  # (not frozen: see Line)
class NormalCase:
    id: str
    cancer: CancerType
    lineage: frozenset[str]
    stage: str | None
    alterations: tuple[Alt, ...]
    tested: frozenset[str]  # genes known to be sequenced (listed, or carrying a listed mutation)
    tested_listed: bool  # tested_genes was given
    covered: frozenset[str]  # the genes tested_genes lists: tested for every kind of alteration
    germline_tested: bool | None
    lines: tuple[Line, ...] | None  # None: history unknown
    as_of: dt.date
    jurisdiction: str
    multiagent_candidate: bool | None = None  # None: not stated
    # CaseIn.tested_after_prior_therapy, true where an alteration is flagged acquired (None: not stated)
    tested_after_prior_therapy: bool | None = None
    # the alterations of each gene, in case order (made from ``alterations``: a condition on one
    # gene reads only its own, which matters for exomes of hundreds of alterations)
    by_gene: dict[str, tuple[Alt, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        alts = self.alterations
        if len(alts) < 2:  # (most cases: made per case, on the path of every evaluation)
            self.by_gene = {alts[0].gene: tuple(alts)} if alts else {}
            return
        index: dict[str, list[Alt]] = {}
        for a in alts:
            got = index.get(a.gene)
            if got is None:
                index[a.gene] = [a]
            else:
                got.append(a)
        self.by_gene = {g: tuple(own) for g, own in index.items()}


def _validation_problems(exc: ValidationError) -> list[Problem]:
    return problems_from_validation(exc, root=CaseIn)


# --------------------------------------------------------------------------- strict input
# What the case model would otherwise coerce without a word ("yes" -> true, true -> 1 week,
# "1e3" -> 1000 weeks, 0 -> 1970-01-01) and the size limits of each field (README, "Limits").

LIMITS = {
    "id": 200, "cancer_type": 200, "stage": 50, "jurisdiction": 20, "alterations": 10_000,
    "tested_genes": 2_000, "prior_therapies": 100, "gene": 50, "variant": 200, "origin": 20,
    "partner": 50, "drugs": 50, "drug": 200, "regimen": 500, "setting": 50, "outcome": 50,
}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


_LOOSE_DATE = re.compile(r"\s*([0-9]{4})(?:[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})|([0-9]{2})([0-9]{2}))"
                         r"(?:[T ][0-9:.]*(?:Z|[+-][0-9:]+)?)?\s*")


def date_problems(value: Any, path: tuple, out: list[Problem]) -> None:
    """The problem of a date that is not written ``YYYY-MM-DD`` or is no such day, with the date
    probably meant where the text reads as one ("2026/7/1", "2026-07-01T00:00:00" -> 2026-07-01)."""
    if type(value) is str and _DATE.fullmatch(value):
        if parse_date(value) is None:
            out.append(Problem(f"no such day: {quote(value)} (YYYY-MM-DD: a month from 01 to 12, a day the month has)", path))
        return
    m = _LOOSE_DATE.fullmatch(value) if type(value) is str and len(value) <= 40 else None
    meant = f"{m[1]}-{int(m[2] or m[4]):02d}-{int(m[3] or m[5]):02d}" if m else None  # (2026-7-1, 20260701)
    out.append(Problem(f"a date is written YYYY-MM-DD, got {quote(value)}", path,
                       meant if meant and parse_date(meant) else None))


def parse_date(text: str) -> dt.date | None:
    """A date written ``YYYY-MM-DD`` (as every date of the case format is), or None."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None
MAX_PROBLEMS = 20  # problems reported for one case (each unknown term costs a "did you mean")
_CASE_TEXT = ("id", "cancer_type", "stage", "jurisdiction")
_ALT_TEXT = ("gene", "variant", "origin", "partner")
_LINE_TEXT = ("regimen", "setting", "outcome")


def _text_too_long(value: Any, field: str, path: tuple, out: list[Problem]) -> None:
    if isinstance(value, str) and len(value) > LIMITS[field]:
        out.append(Problem(f"{len(value):,} characters, at most {LIMITS[field]:,} (got {quote(value)})", path))


def _list_too_long(value: Any, field: str, path: tuple, out: list[Problem]) -> bool:
    if isinstance(value, list) and len(value) > LIMITS[field]:
        out.append(Problem(f"{len(value):,} entries, at most {LIMITS[field]:,}", path))
        return True
    return False


def _strict_bool(d: dict, key: str, path: tuple, out: list[Problem]) -> None:
    v = d.get(key)
    if v is not None and type(v) is not bool:
        meant = {"yes": "true", "true": "true", "1": "true", "no": "false", "false": "false", "0": "false"}.get(str(v).strip().lower()) if isinstance(v, (str, int)) and len(str(v)) < 8 else None
        how = f" (did you mean {meant}, without quotes?)" if meant and isinstance(v, str) else ""
        out.append(Problem(f"expected true or false, got {'the text ' if isinstance(v, str) else ''}{quote(v)}{how}",
                           path + (key,), meant))


def _id_controls(cid: str, out: list[Problem]) -> None:
    """An id is an identifier, printed in every output format (text on a terminal, a TSV cell):
    one holding a character that moves the cursor, clears the screen, reverses the text shown,
    breaks a row or cannot be written (:func:`engine.errors.showable`) is an error, with the id
    without those characters as the suggestion."""
    kept = showable(cid)
    if len(kept) == len(cid):
        return
    if any(unicodedata.category(c) == "Cs" for c in cid):  # (from Python: JSON text cannot hold one)
        out.append(Problem(f"a lone surrogate is not a character, and an id holding one cannot be written: "
                           f"got {quote(cid)}", ("id",), kept or None))
        return
    out.append(Problem(f"control or invisible formatting characters are not allowed in an id, got {quote(cid)}",
                       ("id",), kept or None))


def strict_problems(data: dict) -> list[Problem]:
    """The problems of a decoded case that the model alone would let through: lossy coercions
    and values over the size limits. Linear in the size of the case."""
    out: list[Problem] = []
    for key in _CASE_TEXT:
        v = data.get(key)
        if type(v) is str and len(v) > LIMITS[key]:
            _text_too_long(v, key, (key,), out)
    cid = data.get("id")
    if type(cid) is str and not cid.isprintable():
        _id_controls(cid, out)
    if type(data.get("germline_tested")) is not bool:
        _strict_bool(data, "germline_tested", (), out)
    if type(data.get("multiagent_candidate")) is not bool:
        _strict_bool(data, "multiagent_candidate", (), out)
    if type(data.get("tested_after_prior_therapy")) is not bool:
        _strict_bool(data, "tested_after_prior_therapy", (), out)
    as_of = data.get("as_of")
    if as_of is not None and not (type(as_of) is str and _DATE.fullmatch(as_of) and parse_date(as_of)):
        date_problems(as_of, ("as_of",), out)
    alts = data.get("alterations")
    if type(alts) is list and not _list_too_long(alts, "alterations", ("alterations",), out):
        for i, a in enumerate(alts):
            if type(a) is dict:
                for key in _ALT_TEXT:
                    v = a.get(key)
                    if type(v) is str and len(v) > LIMITS[key]:
                        _text_too_long(v, key, ("alterations", i, key), out)
                if "acquired" in a and type(a["acquired"]) is not bool:
                    _strict_bool(a, "acquired", ("alterations", i), out)
                cna = a.get("cna")
                if cna is not None and type(cna) is not int:  # (not true, not 2.0, not "2")
                    out.append(Problem(f"cna is a whole number from -2 to 2, got {quote(cna)}", ("alterations", i, "cna")))
                cn = a.get("copy_number")
                if cn is not None and type(cn) is not int and type(cn) is not float:
                    out.append(Problem(f"copy_number is a JSON number, got {quote(cn)}", ("alterations", i, "copy_number")))
    genes = data.get("tested_genes")
    if type(genes) is list and not _list_too_long(genes, "tested_genes", ("tested_genes",), out):
        limit = LIMITS["gene"]
        for i, g in enumerate(genes):
            if type(g) is str and len(g) > limit:
                _text_too_long(g, "gene", ("tested_genes", i), out)
    lines = data.get("prior_therapies")
    if type(lines) is list and not _list_too_long(lines, "prior_therapies", ("prior_therapies",), out):
        for i, pt in enumerate(lines):
            if type(pt) is not dict:
                continue
            for key in _LINE_TEXT:
                v = pt.get(key)
                if type(v) is str and len(v) > LIMITS[key]:
                    _text_too_long(v, key, ("prior_therapies", i, key), out)
            drugs = pt.get("drugs")
            if type(drugs) is list and not _list_too_long(drugs, "drugs", ("prior_therapies", i, "drugs"), out):
                limit = LIMITS["drug"]
                for j, d in enumerate(drugs):
                    if type(d) is str and len(d) > limit:
                        _text_too_long(d, "drug", ("prior_therapies", i, "drugs", j), out)
            weeks = pt.get("weeks")
            if type(weeks) is float and not math.isfinite(weeks):  # (from Python: JSON has no NaN)
                out.append(Problem(f"a number of weeks is a finite number, got {quote(weeks)}", ("prior_therapies", i, "weeks")))
            elif weeks is not None and type(weeks) is not int and type(weeks) is not float:
                meant = None  # ("12" -> 12, written without quotes, where 12 is a number of weeks a line may have)
                if type(weeks) is str and re.fullmatch(r"\s*[0-9]{1,4}(\.[0-9]{1,3})?\s*", weeks):
                    number = float(weeks)
                    meant = f"{number:g}" if number <= MAX_WEEKS else None
                out.append(Problem(f"a number of weeks is a JSON number, got {quote(weeks)}"
                                   + (f" (did you mean {meant}, without quotes?)" if meant else ""),
                                   ("prior_therapies", i, "weeks"), meant))
    return out


def parse_case(data: Any) -> CaseIn:
    """Validate a decoded JSON value as a case; raise CaseError with field paths."""
    if not isinstance(data, dict):
        raise CaseError([Problem(f"a case is a JSON object, got {type(data).__name__}")])
    strict = strict_problems(data)
    if strict:
        # (with the model's own problems elsewhere in the case: one run shows both, a bad as_of
        # no longer hides a misspelt stage)
        taken = {p.path for p in strict}
        try:
            CaseIn.__pydantic_validator__.validate_python(data)
        except ValidationError as exc:
            strict += [p for p in _validation_problems(exc) if not any(p.path[:k] in taken for k in range(1, len(p.path) + 1))]
        raise CaseError(_capped(strict))
    try:
        # (what CaseIn.model_validate(data) runs, without its wrapper's keyword handling: a
        # microsecond or two of every case)
        return CaseIn.__pydantic_validator__.validate_python(data)
    except ValidationError as exc:
        raise CaseError(_capped(_validation_problems(exc))) from None


def _capped(problems: list[Problem]) -> list[Problem]:
    """At most :data:`MAX_PROBLEMS` problems of one case, and a last one counting the rest: ten
    thousand alterations all wrong the same way make an error record of a few kilobytes, not of
    megabytes (more than a line of input may be)."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return problems[:MAX_PROBLEMS] + [Problem(f"{rest:,} more problem(s) not listed: the first {MAX_PROBLEMS} are reported")]


_FAST_MAX_CHARS = 1 << 16
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_DIGIT_RUN = b"0" * 16
# the texts :func:`parse_case_text` measures against LIMITS: every text field but those whose
# values are a Literal's (stage, origin, setting, outcome: all within their limits)
_L_ID, _L_CANCER, _L_JURISDICTION = LIMITS["id"], LIMITS["cancer_type"], LIMITS["jurisdiction"]
_L_GENE, _L_VARIANT, _L_PARTNER = LIMITS["gene"], LIMITS["variant"], LIMITS["partner"]
_L_REGIMEN, _L_DRUG = LIMITS["regimen"], LIMITS["drug"]
_L_ALTS, _L_GENES, _L_LINES, _L_DRUGS = LIMITS["alterations"], LIMITS["tested_genes"], LIMITS["prior_therapies"], LIMITS["drugs"]


def parse_case_text(text: str) -> CaseIn | None:
    """The case of one JSON text, validated from the text in one step (pydantic's JSON
    validator, strict), where that gives exactly the model that decoding the text strictly
    (:func:`engine.streams.inputs.decode_json`) and :func:`parse_case` give; None otherwise: take that
    path, which gives the model or the error it always gave.

    Taken for ASCII text of at most 64 KiB with no ``\\u`` escape which validates in strict mode
    (JSON booleans, numbers, and dates only as ``YYYY-MM-DD`` texts, as :func:`strict_problems`
    demands), when the model shows nothing that decoder or those checks would reject: as many
    ``:`` in the text as keys in the model and colons in its texts (JSON's validator keeps the
    last of duplicate keys silently; the decoder rejects them), every text and list within
    :data:`LIMITS`, every number finite and, where the case has numbers, no run of 16 digits in
    the text (a number the decoder rejects as too long), an id of printable characters only (a
    ``\\t`` escape is a control character :func:`strict_problems` rejects).
    ``tests/test_case_text.py`` compares both on every kind of text this names."""
    if len(text) > _FAST_MAX_CHARS or not text.isascii():
        return None
    data = text.encode("ascii")
    if b"\\u" in data:
        return None
    try:
        case = CaseIn.__pydantic_validator__.validate_json(data, strict=True)
    except ValidationError:
        return None
    keys = len(case.__pydantic_fields_set__)
    numbers = False
    if ((case.id is not None and (len(case.id) > _L_ID or not case.id.isprintable())) or len(case.cancer_type) > _L_CANCER
            or (case.jurisdiction is not None and len(case.jurisdiction) > _L_JURISDICTION)):
        return None
    alts = case.alterations
    if len(alts) > _L_ALTS:
        return None
    for a in alts:
        keys += len(a.__pydantic_fields_set__)
        if len(a.gene) > _L_GENE or len(a.variant) > _L_VARIANT or (a.partner is not None and len(a.partner) > _L_PARTNER):
            return None
        if a.copy_number is not None:  # (``cna``, an integer from -2 to 2, is a short number)
            if not math.isfinite(a.copy_number):
                return None
            numbers = True
    genes = case.tested_genes
    if genes and (len(genes) > _L_GENES or max(map(len, genes)) > _L_GENE):
        return None
    lines = case.prior_therapies
    if lines is not None:
        if len(lines) > _L_LINES:
            return None
        for pt in lines:
            keys += len(pt.__pydantic_fields_set__)
            if pt.regimen is not None and len(pt.regimen) > _L_REGIMEN:
                return None
            drugs = pt.drugs
            if drugs and (len(drugs) > _L_DRUGS or max(map(len, drugs)) > _L_DRUG):
                return None
            if pt.weeks is not None:
                numbers = True  # (finite: within its bounds)
    colons = data.count(b":")
    if colons != keys and colons != keys + _text_colons(case):
        return None
    if numbers and _DIGIT_RUN in data.translate(_DIGITS):
        return None
    return case


def _text_colons(case: CaseIn) -> int:
    """The colons in the texts of a case (a genomic HGVS variant, ``chr12:g.25398284C>A``, an id):
    those of the JSON text besides one per key, when it has no ``\\u`` escape. Its free texts
    only (a Literal's values hold none); a text left out here would only send such a case the
    usual way (fewer colons counted cannot let a duplicate key through)."""
    n = sum(v.count(":") for v in (case.id, case.cancer_type, case.jurisdiction) if v is not None)
    for a in case.alterations:
        n += a.gene.count(":") + a.variant.count(":") + (a.partner or "").count(":") + (a.detail or "").count(":")
    n += sum(g.count(":") for g in case.tested_genes or ())
    for pt in case.prior_therapies or ():
        n += (pt.regimen or "").count(":") + sum(d.count(":") for d in pt.drugs or ())
    return n


_MEMO_LIMIT = 50_000
# lists of tested genes, single gene names and prior therapies resolved once are kept too, in
# stores of their own (emptied when full) and within size limits, since a key holds every gene or
# drug word of its entry; a list of tested genes is kept whole only from _LIST_MEMO_MIN_GENES on
# (a shorter one costs more to key than its genes cost to look up one by one, in the gene memo)
_LIST_MEMO_LIMIT, _LIST_MEMO_MIN_GENES, _LIST_MEMO_MAX_GENES = 256, 24, 500
_LINE_MEMO_LIMIT, _LINE_MEMO_MAX_WORDS, _LINE_MEMO_MAX_CHARS = 4096, 12, 300
_GENE_MEMO_LIMIT = 50_000  # single gene names (at most 50 characters each)
_CANCER_MEMO_LIMIT = 4096  # cancer-type texts (at most LIMITS["cancer_type"] characters each)
_MEMOS: dict[int, tuple[Vocabulary, dict, dict, dict, dict, dict]] = {}


def _memos(vocab: Vocabulary) -> tuple[dict, dict, dict, dict, dict]:
    """Entries already resolved with this vocabulary (cohorts repeat them a lot), each kept only
    when it resolved without a problem: alterations (by their five fields), lists of tested genes
    (by the list), single tested genes (by their text), prior therapies' drugs, classes and
    label (by the regimen and drug words) and cancer types with their lineage (by their text)."""
    hit = _MEMOS.get(id(vocab))
    if hit is None or hit[0] is not vocab:
        hit = _MEMOS[id(vocab)] = (vocab, {}, {}, {}, {}, {})
    return hit[1], hit[2], hit[3], hit[4], hit[5]


def _memo(vocab: Vocabulary) -> dict:
    """The alterations already resolved with this vocabulary (see :func:`_memos`)."""
    return _memos(vocab)[0]


_SPREAD = frozenset({"locally_advanced", "metastatic"})  # stages a non-invasive tumour cannot have


def with_case_words(data: dict, vocab: Vocabulary, problems: list[Problem]) -> list[Problem]:
    """``problems`` of a case, a fixed field's value that the vocabulary knows as a word for one of
    its values offered that value ("stage IV": did you mean 'metastatic'?, ``case_words.yaml``)."""
    out = []
    for p in problems:
        if p.path == ("cancer_type",) and p.suggestion is not None and f"did you mean {quote(p.suggestion)}" in p.message:
            # (a shape's offer, "LUADX" for ["LUADX"]: offered only as the term it should be)
            try:
                vocab.cancer(p.suggestion)
            except TermError as exc:
                term = exc.problems[0].suggestion
                p = Problem(p.message.replace(f"did you mean {quote(p.suggestion)}?",
                                              f"and {quote(p.suggestion)} is no cancer type"
                                              + (f"; did you mean {quote(term)}?" if term else "")), p.path, term)
            out.append(p)
            continue
        meant = None
        # (a field of the model: an unknown field named "outcome" at the top is offered no value)
        if p.path and field_at(CaseIn, p.path) is not None:
            value: Any = data
            for step in p.path:  # (the value the problem is about, as the case gives it)
                value = value.get(step) if isinstance(value, dict) else (
                    value[step] if isinstance(value, list) and isinstance(step, int) and step < len(value) else None)
            why = vocab.case_words.unclear(str(p.path[-1]), value) if type(value) is str else None
            if why is not None and p.message.endswith(")") and "(got " in p.message:
                # (no offer, not even a close spelling's: "advanced" is not 'locally_advanced')
                head = p.message[:p.message.rindex("(got ")]
                out.append(Problem(f"{head}(got {quote(value)}: {why})", p.path, None))
                continue
            if type(value) is str and p.suggestion is None:
                meant = vocab.case_words.meant(str(p.path[-1]), value)
        if meant:  # ("(got 'PD'; did you mean 'progression'?)", as a close spelling reads)
            msg = p.message[:-1] + f"; did you mean '{meant}'?)" if p.message.endswith(")") and "(got " in p.message \
                else f"{p.message} (did you mean '{meant}'?)"
            p = Problem(msg, p.path, meant)
        out.append(p)
    return out


def term_problems(data: dict, vocab: Vocabulary, shown: list[Problem]) -> list[Problem]:
    """The unknown terms of a case whose shape is wrong (``shown``: its shape's problems), for
    the same error: the cancer type, genes and drugs written as texts where the shape leaves them
    readable. One fix-and-run cycle then shows both (``"stage": "metastasis"`` no longer hides
    ``"cancer_type": "LUADX"``)."""
    wrong = {p.path for p in shown}
    found: list[Problem] = []

    def term(fn, path: tuple, *args) -> None:
        # (a text the shape rejected, or inside a list or object it rejected as a whole, is not read)
        if any(path[:k] in wrong for k in range(1, len(path) + 1)) or len(shown) + len(found) >= MAX_PROBLEMS:
            return
        try:
            fn(*args)
        except TermError as exc:
            found.extend(Problem(p.message, path + tuple(p.path), p.suggestion) for p in exc.problems)

    def items(key: str) -> list:
        v = data.get(key)
        return v if type(v) is list else []

    if type(data.get("cancer_type")) is str and len(data["cancer_type"]) <= LIMITS["cancer_type"]:
        term(vocab.cancer, ("cancer_type",), data["cancer_type"])
    for i, a in enumerate(items("alterations")):
        if type(a) is dict and type(a.get("gene")) is str and len(a["gene"]) <= LIMITS["gene"]:
            term(vocab.gene, ("alterations", i, "gene"), a["gene"])
    for i, g in enumerate(items("tested_genes")):
        if type(g) is str and len(g) <= LIMITS["gene"]:
            term(vocab.gene, ("tested_genes", i), g)
    for i, pt in enumerate(items("prior_therapies")):
        drugs = pt.get("drugs") if type(pt) is dict else None
        for j, d in enumerate(drugs if type(drugs) is list else ()):
            if type(d) is str and len(d) <= LIMITS["drug"]:
                term(vocab.therapy_word, ("prior_therapies", i, "drugs", j), d)
    return found


def normalise(
    case: CaseIn,
    vocab: Vocabulary,
    *,
    default_id: str = "case",
    today: dt.date | None = None,
    default_jurisdiction: str = "FDA",
) -> NormalCase:
    """Resolve every term of ``case`` through the vocabulary; collect all problems."""
    problems: list[Problem] = []

    unchecked = 0

    def term(fn, path, *args):
        nonlocal unchecked
        if len(problems) >= MAX_PROBLEMS:  # the case is rejected anyway: no more costly suggestions
            unchecked += 1
            return None
        try:
            return fn(*args)
        except TermError as exc:
            for p in exc.problems:
                problems.append(Problem(p.message, tuple(path) + tuple(p.path), p.suggestion))
            return None

    memo, tested_memo, gene_memo, line_memo, cancer_memo = _memos(vocab)
    known_cancer = cancer_memo.get(case.cancer_type) if type(case.cancer_type) is str else None
    if known_cancer is None:
        cancer = term(vocab.cancer, ("cancer_type",), case.cancer_type)
        if cancer is not None:
            if len(cancer_memo) >= _CANCER_MEMO_LIMIT:
                cancer_memo.clear()
            known_cancer = cancer_memo[case.cancer_type] = (cancer, frozenset(cancer.lineage))
    else:
        cancer = known_cancer[0]

    alts: list[Alt] = []
    seen_alts: set[tuple] = set()
    germ = -1  # the first alteration of germline origin (by its place in the case)
    for i, a in enumerate(case.alterations):
        if germ < 0 and a.origin == "germline":
            germ = i
        entry = (a.gene, a.variant, a.origin, a.acquired, a.partner, a.classification)
        alt = memo.get(entry) if len(problems) < MAX_PROBLEMS else None  # (past it, terms are counted unchecked)
        if alt is not None:
            key = (alt.gene, alt.label, alt.origin, alt.acquired, alt.partner, alt.classification)
            if key not in seen_alts:
                seen_alts.add(key)
                alts.append(alt)
            continue
        gene = term(vocab.gene, ("alterations", i, "gene"), a.gene)
        if gene is None:
            continue
        var = term(vocab.variant, ("alterations", i, "variant"), gene, a.variant)
        if var is None:
            continue
        partner = None
        if a.partner is not None:
            if var.kind != "fusion":
                problems.append(Problem("'partner' is only for a fusion", ("alterations", i, "partner")))
                continue
            partner = term(vocab.gene, ("alterations", i, "partner"), a.partner)
        if a.partner is not None and partner is None:
            continue
        alt = Alt(gene, var.kind, var.label, var.codon, a.origin, a.acquired, partner, var.span, a.classification)
        if len(memo) < _MEMO_LIMIT:
            memo[entry] = alt
        key = (alt.gene, alt.label, alt.origin, alt.acquired, alt.partner, alt.classification)
        if key not in seen_alts:
            seen_alts.add(key)
            alts.append(alt)

    tested: set[str] = set()
    if case.tested_genes is not None:
        # a long list (a gene panel, repeated through a cohort) is resolved once as a whole
        listed = tuple(case.tested_genes) if len(case.tested_genes) >= _LIST_MEMO_MIN_GENES else None
        hit = tested_memo.get(listed) if listed is not None and len(problems) < MAX_PROBLEMS else None
        if hit is not None:
            tested.update(hit)
        else:
            before = len(problems)
            for i, g in enumerate(case.tested_genes):
                gene = gene_memo.get(g) if len(problems) < MAX_PROBLEMS else None
                if gene is None:
                    gene = term(vocab.gene, ("tested_genes", i), g)
                    if gene is None:
                        continue
                    if len(gene_memo) >= _GENE_MEMO_LIMIT:
                        gene_memo.clear()
                    gene_memo[g] = gene
                tested.add(gene)
            if listed is not None and len(problems) == before < MAX_PROBLEMS and len(listed) <= _LIST_MEMO_MAX_GENES:  # (every term was looked up)
                if len(tested_memo) >= _LIST_MEMO_LIMIT:
                    tested_memo.clear()
                tested_memo[listed] = frozenset(tested)
    # a listed sequence change shows its gene was sequenced (for mutations: not for copy number or
    # rearrangements, which only a listing in tested_genes or a call of that kind shows); a
    # copy-number or fusion call does not show it was sequenced
    covered = frozenset(tested)
    sequenced = sequenced_genes(alts)

    germline_tested = case.germline_tested
    if germ >= 0:
        if germline_tested is False:
            problems.append(
                Problem(
                    f"germline_tested is false, but alterations[{germ}] has origin 'germline'",
                    ("germline_tested",),
                    "true",
                )
            )
        germline_tested = True

    lines: list[Line] | None = None
    if case.prior_therapies is not None:
        lines = []
        for i, pt in enumerate(case.prior_therapies):
            entry = (pt.regimen, *(pt.drugs or ()))  # what the drugs, classes and label come from
            known = line_memo.get(entry) if len(problems) < MAX_PROBLEMS else None
            if known is not None:
                lines.append(Line(known[0], known[1], pt.setting, pt.outcome, pt.weeks, known[2], i))
                continue
            before = len(problems)
            drugs: list[str] = []
            label_parts: list[str] = []
            if pt.regimen is not None:
                expanded = term(vocab.therapy_word, ("prior_therapies", i, "regimen"), pt.regimen)
                if expanded:
                    drugs.extend(expanded)
                    label_parts.append(pt.regimen)
            named: list[str] = []
            for j, d in enumerate(pt.drugs or ()):
                expanded = term(vocab.therapy_word, ("prior_therapies", i, "drugs", j), d)
                if expanded:
                    drugs.extend(expanded)
                    named.append(d)
            label_parts.extend(sorted(named, key=str.lower))  # (the order drugs are listed in means nothing)
            if not drugs:
                if pt.drugs is None and pt.regimen is None:  # a line whose drugs are not given
                    lines.append(Line.of_unknown_drugs(pt.setting, pt.outcome, pt.weeks, seq=i))
                continue
            classes: set[str] = set()
            for d in drugs:
                classes.update(vocab.drug(d).classes)
            known = (frozenset(drugs), frozenset(classes), " + ".join(label_parts))
            if len(problems) == before < MAX_PROBLEMS and len(entry) <= _LINE_MEMO_MAX_WORDS and len(known[2]) <= _LINE_MEMO_MAX_CHARS:  # (every term was looked up)
                if len(line_memo) >= _LINE_MEMO_LIMIT:
                    line_memo.clear()
                line_memo[entry] = known
            lines.append(Line(known[0], known[1], pt.setting, pt.outcome, pt.weeks, known[2], i))

    if lines:
        lines.extend(implied_lines(lines))
    if cancer is not None and case.stage in _SPREAD and cancer.code in vocab.cancers.non_invasive:
        parent = next((c for c in cancer.lineage[1:] if c not in vocab.cancers.non_invasive), None)
        problems.append(Problem(
            f"stage '{case.stage}' contradicts cancer_type {cancer.code} ({cancer.name}), a non-invasive (in situ) "
            f"type; if the tumour has spread, give its invasive cancer type" + (f" (such as {parent})" if parent else ""),
            ("stage",), "early"))
    if problems:
        if unchecked:
            problems.append(Problem(f"{unchecked:,} more term(s) not checked: the first {MAX_PROBLEMS} problems are reported"))
        raise CaseError(problems)
    assert cancer is not None and known_cancer is not None
    # (positional, in field order: a third of a microsecond less than keywords, on every case)
    return NormalCase(
        case.id or default_id,  # id
        cancer,
        known_cancer[1],  # lineage
        case.stage,
        tuple(sorted(alts, key=_alt_key)) if len(alts) > 1 else tuple(alts),  # alterations
        covered.union(sequenced) if sequenced else covered,  # tested
        case.tested_genes is not None,  # tested_listed
        covered,
        germline_tested,
        (tuple(sorted(lines, key=_line_key)) if len(lines) > 1 else tuple(lines)) if lines is not None else None,  # lines
        case.as_of or today or dt.date.today(),  # as_of
        (case.jurisdiction or default_jurisdiction).upper(),  # jurisdiction
        case.multiagent_candidate,
        profile_after_therapy(case.tested_after_prior_therapy, alts),
    )


#: the label of a prior therapy given without drugs or regimen
OPEN_LABEL = "drugs not given"
#: settings of a line for metastatic disease that is not the first one: a history listing one but
#: no line for metastatic disease (nor one of setting not given) leaves out the first line
FOLLOWS_FIRST_LINE = frozenset({"maintenance"})
A_FIRST_LINE = frozenset({"metastatic", None})


def implied_lines(lines: list[Line]) -> list[Line]:
    """The line a history leaves out: a maintenance line continues a first-line (induction)
    therapy for metastatic disease, so a history whose first maintenance line has no line for
    metastatic disease before it (nor one of setting not given, which may be it) leaves out that
    first line; a line for metastatic disease listed after the maintenance line is a later line,
    not the induction the maintenance continued. The missing line is read as an open line (drugs
    not given, outcome not given) just before the first maintenance line, so that whatever its
    drugs decide stays unknown (a verdict conditional on them), never read as "not given": an
    incomplete history is not a history without those drugs."""
    # (``lines`` in the order the history lists them, as normalise and check's domain pass them)
    at = next((k for k, ln in enumerate(lines) if ln.setting in FOLLOWS_FIRST_LINE), None)
    if at is None or any(ln.setting in A_FIRST_LINE for ln in lines[:at]):
        return []
    first = lines[at]
    label = f"first-line therapy (not listed) before prior therapy {first.seq + 1} ({first.label})"
    return [Line.of_unknown_drugs("metastatic", label=label, seq=first.seq, implied=True)]


def sequenced_genes(alts) -> list[str]:
    """The genes a case's alterations show were sequenced: those of a listed somatic mutation
    (not a copy-number or fusion call, nor a germline variant). ``normalise`` and ``check``'s
    domain read a case alike through this."""
    return [a.gene for a in alts if a.origin == "somatic" and a.kind == "mutation"]


def _alt_key(a: Alt) -> tuple:
    return (a.gene, a.label, a.origin, -1 if a.acquired is None else int(a.acquired), a.partner or "")


def _line_key(ln: Line) -> tuple:
    return (ln.label, sorted(ln.drugs), ln.setting or "", ln.outcome or "", ln.weeks if ln.weeks is not None else -1)
