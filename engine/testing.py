"""Hypothesis strategies for property-testing a rule base, and functions for writing such tests.

Everything here is derived from the rule base it is given: the cancer codes, genes, variants,
drug classes, dates and jurisdictions that its rules mention, widened with the rest of its
vocabulary (every OncoTree code and name, every gene and alias, kind words, cDNA hotspots, drug
brand and code names, regimens). Nothing names a therapy, gene or date of its own, so the same
strategies exercise the shipped rules, the miniature rule base of the tests, or a rule base of
your own::

    import pytest
    from hypothesis import given
    from engine.api import Engine
    from engine.errors import CaseError
    from engine.testing import cases, invalid_cases, rule_cases

    eng = Engine("my_rules/")

    @given(cases(eng))
    def test_every_option_is_cited(case):
        for option in eng.evaluate(case).options:
            assert option.citations

    @given(rule_cases(eng, "MY-001"))        # cases around one rule's dates, gates and criteria
    def test_my_rule(case):
        ...

    @given(invalid_cases(eng))
    def test_bad_input_is_reported(case):
        with pytest.raises(CaseError):
            eng.evaluate(case)

Strategies (each draws case dicts in the case format of the README, with ``as_of`` always set):

:func:`cases`
    varied valid cases: cancer types the rules name, their subtypes and neighbours, any OncoTree
    code or name; alterations of the genes the rules test in every notation the vocabulary reads
    (one- and three-letter HGVS, cDNA hotspots, kind words) and real variants of other genes;
    prior therapies by generic, brand or code name or by regimen; dates around every rule's
    ``effective_from`` / ``effective_to``.
:func:`boundary_cases`, :func:`rule_cases`
    cases on the edges of one rule (and the derived facts and rules it rests on): each
    alteration pattern present, just missed (a neighbouring codon, another kind), vague (an
    unspecified mutation), absent in a tested gene or untested; history unknown, treatment-naive,
    one line short of or exactly meeting a criterion; stage unknown or each stage; the day
    before, of and after each date of the rule.
:func:`alterations`, :func:`prior_therapies`
    the parts of a case, drawn the same way.
:func:`invalid_cases`, :func:`labelled_invalid_cases`
    cases with exactly one thing wrong (an unknown field, a misspelt code, gene, drug or
    regimen, an unreadable or impossible variant, a wrong type, a contradiction); the labelled
    form also gives the field path the error must name.

Also: :func:`domain` (what the strategies draw from), :func:`variant_spellings`,
:func:`boundary_dates`, :func:`rules_concluding`, :func:`at_date`, :func:`reduce_case`,
:func:`untest_gene`, :func:`completions` (the values removed data could have had),
:func:`case_genes`, :func:`shuffle_case`, :data:`REDUCTIONS`.

Needs hypothesis (``pip install 'kras-rules[test]'``). Nothing in the engine imports this module.
"""
from __future__ import annotations

import datetime as dt
import random as _random
import string
from dataclasses import dataclass, field
from typing import Any, get_args
from collections.abc import Callable, Iterable, Mapping, Sequence

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("engine.testing needs hypothesis: pip install 'kras-rules[test]'") from exc

from engine.case import AlterationIn, CaseIn, PriorTherapyIn
from engine.conditions import BY_MODEL, KINDS as CONDITION_KINDS, FieldDimension
from engine.errors import TermError
from engine.rulebase import RuleBase, rule_conditions
from engine.rules_model import (
    All,
    AlterationCond,
    AlterationKind,
    Any_,
    FactCond,
    Not,
    Outcome,
    Rule,
    Setting,
    Stage,
    Unmet,
)
from engine.vocabulary import Vocabulary

__all__ = [
    "Domain",
    "INVALID_KINDS",
    "Pattern",
    "REDUCTIONS",
    "alterations",
    "at_date",
    "boundary_cases",
    "boundary_dates",
    "case_genes",
    "cases",
    "completions",
    "domain",
    "invalid_cases",
    "labelled_invalid_cases",
    "prior_therapies",
    "reduce_case",
    "rule_cases",
    "rules_concluding",
    "shuffle_case",
    "untest_gene",
    "variant_spellings",
]

STAGES: tuple[str, ...] = get_args(Stage)
SETTINGS: tuple[str, ...] = get_args(Setting)
OUTCOMES: tuple[str, ...] = get_args(Outcome)
KINDS: tuple[str, ...] = get_args(AlterationKind)

# The amino-acid alphabet (the genetic code is not domain knowledge of any rule base).
AA = "ACDEFGHIKLMNPQRSTVWY"
AA3 = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly",
    "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
    "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter",
}

#: The kinds of data :func:`reduce_case` can remove (each becomes unknown, never false).
#: The scalar case fields a condition kind reads (engine.conditions' FieldDimension) that no
#: code of its own draws here (stage and germline testing are drawn with what they depend on):
#: drawn, reduced and completed generically, each value in turn.
FIELDS: tuple[FieldDimension, ...] = tuple(
    {k.dimension.field: k.dimension for k in CONDITION_KINDS.values() if isinstance(k.dimension, FieldDimension)
     and k.dimension.field not in ("stage", "germline_tested")}.values())
REDUCTIONS = ("history", "tested_genes", "stage", "germline_tested") + tuple(f.field for f in FIELDS)

DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------- what the rules talk about


@dataclass(frozen=True)
class Pattern:
    """An alteration pattern of a rule, with its variants in canonical labels."""

    gene: str
    labels: frozenset[str] | None
    codons: frozenset[int] | None
    exclude: frozenset[str]
    kind: str | None
    origin: str | None
    acquired: bool | None
    partner: str | None
    acquired_on: str | None = None


@dataclass(frozen=True)
class HistorySpec:
    """What a rule asks of the prior-therapy history (from received / prior_line / prior_lines)."""

    classes: frozenset[str] = frozenset()
    drugs: frozenset[str] = frozenset()
    settings: frozenset[str] | None = None
    outcomes: frozenset[str] | None = None
    min_weeks: int | None = None
    counts: frozenset[int] = frozenset()  # numbers of lines on either side of a min/max
    meets: int | None = None  # a number of lines that meets the min/max
    single_line: bool = False  # one line must hold everything (prior_line), not the history (received)


@dataclass(frozen=True)
class Neighbourhood:
    """Everything one rule depends on, directly or through derived facts and overridden rules."""

    rule: Rule
    rules: tuple[Rule, ...]  # the rule, the derivation rules of its facts, the rules it overrides
    cancers_in: tuple[str, ...]  # the codes the conditions name, and their subtypes
    cancers_out: tuple[str, ...]  # their parents and siblings, and codes named under 'not'
    patterns: tuple[tuple[Pattern, frozenset[bool]], ...]  # with polarity (False: under a 'not')
    stages: tuple[str, ...]
    history: tuple[HistorySpec, ...]
    germline: bool  # a condition asks about germline testing or a germline alteration
    fields: tuple[tuple[str, tuple], ...]  # per scalar field of FIELDS a condition reads: the values meeting it
    dates: tuple[dt.date, ...]  # the day before, of and after each date of these rules
    in_effect: tuple[dt.date, ...]  # days on which the rule itself is in effect, near its edges
    names_in: tuple[str, ...]  # names people type for the cancer types inside


@dataclass
class Domain:
    """What the strategies draw from, gathered once per rule base (see :func:`domain`)."""

    rulebase: RuleBase
    vocab: Vocabulary
    rule_codes: tuple[str, ...]
    near_codes: tuple[str, ...]
    all_codes: tuple[str, ...]
    names: tuple[tuple[str, str], ...]  # (name as typed, code)
    rule_genes: tuple[str, ...]
    genes: tuple[str, ...]
    gene_spellings: Mapping[str, tuple[str, ...]]
    patterns: tuple[Pattern, ...]
    kind_words: Mapping[str, tuple[str, ...]]
    named_variants: Mapping[str, tuple[str, ...]]  # gene -> the rules' variants, every spelling, cDNA
    rule_codons: Mapping[str, tuple[int, ...]]  # gene -> codons the rules name, and their neighbours
    codon_variants: Mapping[tuple[str, int], tuple[str, ...]]  # (gene, codon) -> missense there
    recurrent: Mapping[str, tuple[str, ...]]  # gene -> real recurrent changes of the gene
    drug_names: Mapping[str, tuple[str, ...]]  # drug -> every name people type for it
    rule_drugs: tuple[str, ...]  # drugs of the catalogue and of the classes the rules ask about
    rule_classes: tuple[str, ...]
    regimens: tuple[str, ...]
    dates: tuple[dt.date, ...]
    first_date: dt.date
    last_date: dt.date
    jurisdictions: tuple[str, ...]
    live_rules: tuple[str, ...]  # ids of the rules not retired
    all_drugs: tuple[str, ...]
    all_drug_names: tuple[str, ...]
    class_members: Mapping[str, tuple[str, ...]]  # drug class -> its drugs
    positions: Mapping[str, tuple[int, ...]]  # gene -> positions with a known reference residue
    neighbourhoods: dict[str, Neighbourhood] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)

    @property
    def name_texts(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.names)

    def regimens_with(self, classes: Iterable[str]) -> tuple[str, ...]:
        """The regimens containing a drug of at least one of ``classes``."""
        want = frozenset(classes)
        key = ("regimens_with", want)
        if key not in self.memo:
            self.memo[key] = tuple(
                r for r in self.regimens
                if want & {c for x in self.vocab.regimen(r) or () for c in self.vocab.drug(x).classes}
            )
        return self.memo[key]

    def neighbourhood(self, rule_id: str) -> Neighbourhood:
        hit = self.neighbourhoods.get(rule_id)
        if hit is None:
            rule = self.rulebase.rule(rule_id)  # RuleError with a suggestion when unknown
            hit = self.neighbourhoods[rule_id] = _neighbourhood(self, rule)
        return hit


_DOMAINS: dict[int, Domain] = {}  # by id of the rule base; the last few only
_DOMAINS_KEPT = 8


def _rulebase(engine: Any) -> RuleBase:
    rb = getattr(engine, "rulebase", engine)
    if not isinstance(rb, RuleBase):
        raise TypeError(f"expected an Engine or a RuleBase, got {type(engine).__name__}")
    return rb


def domain(engine: Any) -> Domain:
    """The :class:`Domain` of an :class:`~engine.api.Engine` (or :class:`~engine.rulebase.RuleBase`),
    built on first use and kept for the last few rule bases used."""
    rb = _rulebase(engine)
    hit = _DOMAINS.get(id(rb))
    if hit is not None and hit.rulebase is rb:
        return hit
    d = _build_domain(rb)
    while len(_DOMAINS) >= _DOMAINS_KEPT:
        _DOMAINS.pop(next(iter(_DOMAINS)))
    _DOMAINS[id(rb)] = d
    return d


def _private(obj: Any, name: str, default: Any) -> Any:
    """Vocabulary tables without a public accessor (read-only; absent ones degrade gracefully)."""
    value = getattr(obj, name, None)
    return default if value is None else value


def _leaves(rule: Rule) -> Iterable[Any]:
    for cond, _ in rule_conditions(rule):
        yield cond


class _Terms:
    """What the condition kinds' ``rule_terms`` / ``case_terms`` add to (engine.conditions)."""

    HistorySpec = HistorySpec

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.rule_codes: set[str] = set()
        self.patterns: list[Pattern] = []
        self.rule_classes: set[str] = set()
        self.rule_drugs: set[str] = set()
        self.pos_codes: set[str] = set()
        self.neg_codes: set[str] = set()
        self.polarity: dict[Pattern, set[bool]] = {}
        self.stages: set[str] = set()
        self.history: list[HistorySpec] = []
        self.germline = False
        self.fields: dict[str, set] = {}  # scalar field -> the values that meet a condition

    def pattern(self, cond) -> Pattern:
        return _pattern(cond, self.vocab)


def _pattern(cond: AlterationCond, vocab: Vocabulary) -> Pattern:
    a = cond.alteration
    labels = None
    if a.variant is not None:
        labels = frozenset({vocab.variant(a.gene, a.variant).label})
    elif a.variants is not None:
        labels = frozenset(vocab.variant(a.gene, v).label for v in a.variants)
    exclude = frozenset(vocab.variant(a.gene, v).label for v in a.exclude_variants or ())
    return Pattern(
        a.gene,
        labels,
        frozenset(a.codons) if a.codons is not None else None,
        exclude,
        a.kind,
        a.origin,
        a.acquired,
        a.partner,
        a.acquired_on,
    )


def _valid_variant(vocab: Vocabulary, gene: str, text: str):
    try:
        return vocab.variant(gene, text)
    except TermError:
        return None


def _spellings(vocab: Vocabulary, gene: str, label: str, cdna: Mapping[str, Mapping[str, str]]) -> tuple[str, ...]:
    v = _valid_variant(vocab, gene, label)
    if v is None:
        return ()
    out = [label, f"p.{label}", label.lower(), f"{gene} {label}", f"{gene} p.{label}"]
    if v.ref in AA3 and v.alt in AA3 and v.codon and label == f"{v.ref}{v.codon}{v.alt}":
        three = f"{AA3[v.ref]}{v.codon}{AA3[v.alt]}"
        out += [f"p.{three}", f"p.({three})", three]
    out += sorted(c for c, lab in (cdna.get(gene) or {}).items() if lab == label)
    keep = []
    for text in out:
        w = _valid_variant(vocab, gene, text)
        if w is not None and w.label == v.label and text not in keep:
            keep.append(text)
    return tuple(keep)


def _missense_at(vocab: Vocabulary, gene: str, codon: int) -> tuple[str, ...]:
    """Every missense change at ``codon`` that the vocabulary accepts for ``gene``."""
    if codon < 1:
        return ()
    known = _residues(vocab, gene).get(codon)
    for ref in [known] if known else AA:
        probe = "A" if ref != "A" else "C"
        if _valid_variant(vocab, gene, f"{ref}{codon}{probe}") is None:
            continue
        return tuple(f"{ref}{codon}{alt}" for alt in AA
                     if alt != ref and _valid_variant(vocab, gene, f"{ref}{codon}{alt}") is not None)
    return ()


def _protein_ref(vocab: Vocabulary, gene: str) -> tuple[Mapping[int, str], int | None]:
    protein = vocab._protein(gene) if hasattr(vocab, "_protein") else None
    return dict(getattr(protein, "residues", None) or {}), getattr(protein, "length", None)


def _residues(vocab: Vocabulary, gene: str) -> Mapping[int, str]:
    return _protein_ref(vocab, gene)[0]


def _build_domain(rb: RuleBase) -> Domain:
    vocab = rb.vocab
    rules = [r for r in rb.rules if r.status != "retired"]

    acc = _Terms(vocab)
    for rule in rules:
        for cond in _leaves(rule):
            kind = BY_MODEL.get(type(cond))
            if kind is not None and kind.rule_terms is not None:
                kind.rule_terms(cond, vocab, acc)
    rule_codes, patterns, rule_classes, rule_drugs = acc.rule_codes, acc.patterns, acc.rule_classes, acc.rule_drugs
    for cls in rule_classes:
        rule_drugs.update(vocab.drugs_in_class(cls))
    for therapy in rb.therapies.values():
        rule_drugs.update(vocab.drug(x).name for x in therapy.drugs)

    cancers = _invasive(vocab)  # (an in-situ type with a stage beyond early is an input error)
    all_codes = tuple(sorted(cancers))
    near: set[str] = set(rule_codes)
    for code, ct in cancers.items():
        if rule_codes.intersection(ct.lineage):
            near.add(code)
    for code in list(rule_codes):
        lineage = cancers[code].lineage
        if len(lineage) > 1:
            near.add(lineage[1])
    name_table: Mapping[str, str] = _private(vocab, "_cancer_names", {})
    shown: Mapping[str, str] = _private(vocab, "_cancer_suggest", {})
    names = {(shown.get(key, key), code) for key, code in name_table.items()}
    names |= {(ct.name, code) for code, ct in cancers.items() if (ct.name, code) not in names}
    names = {(n, c) for n, c in names if _resolves(vocab.cancer, n) == c and c in cancers}

    genes = tuple(sorted(vocab.genes))
    rule_genes = tuple(sorted({p.gene for p in patterns} | {p.partner for p in patterns if p.partner}))
    gene_keys: Mapping[str, str] = _private(vocab, "_gene_keys", {})
    spell: dict[str, list[str]] = {g: [g] for g in genes}
    for key, symbol in gene_keys.items():
        if key != symbol and symbol in spell:
            spell[symbol].append(key)
    for g in rule_genes:
        spell[g].append(g.lower())
    gene_spellings = {g: tuple(s for s in v if _resolves(vocab.gene, s) == g) or (g,) for g, v in spell.items()}

    kinds: dict[str, list[str]] = {k: [k] for k in KINDS}
    for word, kind in _private(vocab, "_kinds", {}).items():
        if kind in kinds and word not in kinds[kind]:
            kinds[kind].append(word)
    kind_words = {
        k: tuple(w for w in ws if (v := _valid_variant(vocab, "", w)) is not None and v.kind == k) or (k,)
        for k, ws in kinds.items()
    }

    cdna: Mapping[str, Mapping[str, str]] = _private(vocab, "_cdna", {})
    recurrent_by_label: Mapping[str, Iterable[str]] = _private(vocab, "_recurrent", {})
    recurrent: dict[str, list[str]] = {}
    for label, gs in recurrent_by_label.items():
        for g in gs:
            if g in vocab.genes and _valid_variant(vocab, g, label) is not None:
                recurrent.setdefault(g, []).append(label)

    named: dict[str, list[str]] = {}
    codons: dict[str, set[int]] = {}
    for p in patterns:
        texts = named.setdefault(p.gene, [])
        wanted = codons.setdefault(p.gene, set())
        for label in sorted((p.labels or frozenset()) | p.exclude):
            texts.extend(_spellings(vocab, p.gene, label, cdna))
            v = vocab.variant(p.gene, label)
            if v.codon:
                wanted.add(v.codon)
        wanted.update(p.codons or ())
    for gene, table in cdna.items():
        if gene in named:
            named[gene].extend(c for c in table)
    codon_variants: dict[tuple[str, int], tuple[str, ...]] = {}
    rule_codons: dict[str, tuple[int, ...]] = {}
    for gene, wanted in codons.items():
        around = sorted({c + k for c in wanted for k in (-1, 0, 1)})
        for c in around:
            codon_variants[(gene, c)] = _missense_at(vocab, gene, c)
        rule_codons[gene] = tuple(c for c in around if codon_variants[(gene, c)])

    names_of: dict[str, list[str]] = {d: [d] for d in vocab.drugs}
    drug_keys: Mapping[str, str] = _private(vocab, "_drug_keys", {})
    for key, alias in _private(vocab, "_drug_suggest", {}).items():
        d = drug_keys.get(key)
        if d in names_of and alias not in names_of[d]:
            names_of[d].append(alias)
    drug_names = {
        d: tuple(n for n in ns if _resolves(lambda t: vocab.drug(t).name, n) == d) or (d,)
        for d, ns in names_of.items()
    }

    dates: set[dt.date] = set()
    for rule in rules:
        for day in (rule.effective_from, rule.effective_to):
            if day is not None:
                dates.update((day - DAY, day, day + DAY))
    kv = rb.meta.knowledge_version
    dates.update((kv - DAY, kv, kv + DAY))
    first = min(dates) - dt.timedelta(days=3 * 365)
    last = max(dates) + dt.timedelta(days=3 * 365)

    jurisdictions = sorted({r.jurisdiction.upper() for r in rules if r.jurisdiction}
                           | {rb.meta.default_jurisdiction.upper()})

    return Domain(
        rulebase=rb,
        vocab=vocab,
        rule_codes=tuple(sorted(rule_codes)),
        near_codes=tuple(sorted(near)),
        all_codes=all_codes,
        names=tuple(sorted(names)),
        rule_genes=rule_genes,
        genes=genes,
        gene_spellings=gene_spellings,
        patterns=tuple(patterns),
        kind_words=kind_words,
        named_variants={g: tuple(dict.fromkeys(t for t in v if _valid_variant(vocab, g, t))) for g, v in named.items()},
        rule_codons=rule_codons,
        codon_variants=codon_variants,
        recurrent={g: tuple(v) for g, v in recurrent.items()},
        drug_names=drug_names,
        rule_drugs=tuple(sorted(rule_drugs)),
        rule_classes=tuple(sorted(rule_classes)),
        regimens=tuple(sorted(vocab.regimens)),
        dates=tuple(sorted(dates)),
        first_date=first,
        last_date=last,
        jurisdictions=tuple(jurisdictions),
        live_rules=tuple(r.id for r in rules),
        all_drugs=tuple(sorted(vocab.drugs)),
        all_drug_names=tuple(sorted({n for ns in drug_names.values() for n in ns})),
        class_members={c: tuple(sorted(vocab.drugs_in_class(c))) for c in sorted(vocab.drug_classes)},
        positions={g: tuple(sorted(_residues(vocab, g))) for g in genes if _residues(vocab, g)},
    )


def _resolves(fn: Callable[[str], Any], text: str) -> Any:
    try:
        out = fn(text)
    except TermError:
        return None
    return getattr(out, "code", out)


def _walk(cond: Any, positive: bool, out: list[tuple[Any, bool]]) -> None:
    """Every leaf condition under ``cond`` with its polarity (False under an odd number of
    ``not`` / ``unmet``)."""
    if isinstance(cond, All):
        for c in cond.all:
            _walk(c, positive, out)
    elif isinstance(cond, Any_):
        for c in cond.any:
            _walk(c, positive, out)
    elif isinstance(cond, Not):
        _walk(cond.not_, not positive, out)
    elif isinstance(cond, Unmet):
        _walk(cond.unmet, not positive, out)
    else:
        out.append((cond, positive))


def _neighbourhood(d: Domain, rule: Rule) -> Neighbourhood:
    rb, vocab = d.rulebase, d.vocab
    derivers: dict[str, list[Rule]] = {}
    for r in rb.rules:
        if r.kind == "derivation" and r.derive is not None and r.status != "retired":
            derivers.setdefault(r.derive, []).append(r)
    seen: list[Rule] = []
    leaves: list[tuple[Any, bool]] = []
    done: set[tuple[str, bool]] = set()
    todo: list[tuple[Rule, bool]] = [(rule, True)] + [(rb.by_id[o.rule], True) for o in rule.overrides if o.rule in rb.by_id]
    while todo:
        r, positive = todo.pop()
        if (r.id, positive) in done:
            continue
        done.add((r.id, positive))
        if not any(r is s for s in seen):
            seen.append(r)
        mine: list[tuple[Any, bool]] = []
        _walk(r.when, positive, mine)
        for req in r.requires:
            _walk(req.test, positive, mine)
        for cond, pol in mine:
            if isinstance(cond, FactCond):
                todo.extend((x, pol) for x in derivers.get(cond.fact, ()))
            else:
                leaves.append((cond, pol))

    acc = _Terms(vocab)
    for cond, pol in leaves:
        kind = BY_MODEL.get(type(cond))
        if kind is not None and kind.case_terms is not None:
            kind.case_terms(cond, pol, vocab, acc)
    pos_codes, neg_codes, polarity, stages = acc.pos_codes, acc.neg_codes, acc.polarity, acc.stages
    history, germline = acc.history, acc.germline
    cancers = _invasive(vocab)  # (an in-situ type with a stage beyond early is an input error)

    def subtree(codes: set[str]) -> set[str]:
        return {c for c, ct in cancers.items() if codes.intersection(ct.lineage)}

    excluded = subtree(neg_codes)
    inside = subtree(pos_codes) - excluded if pos_codes else set(d.near_codes) - excluded
    outside: set[str] = set(excluded)
    for code in pos_codes:
        lineage = cancers[code].lineage
        if len(lineage) > 1:
            parent = lineage[1]
            outside.add(parent)
            outside.update(c for c, ct in cancers.items() if len(ct.lineage) > 1 and ct.lineage[1] == parent)
    outside -= inside

    dates: set[dt.date] = set()
    for r in seen:
        for day in (r.effective_from, r.effective_to):
            if day is not None:
                dates.update((day - DAY, day, day + DAY))
    in_effect = [rule.effective_from, rule.effective_from + DAY]
    if rule.effective_to is not None:
        in_effect.append(rule.effective_to - DAY)
    in_effect = [x for x in in_effect if rule.effective_to is None or x < rule.effective_to]
    return Neighbourhood(
        rule=rule,
        rules=tuple(seen),
        cancers_in=tuple(sorted(inside)) or d.near_codes,
        cancers_out=tuple(sorted(outside)) or d.all_codes,
        patterns=tuple((p, frozenset(pols)) for p, pols in polarity.items()),
        stages=tuple(sorted(stages)),
        history=tuple(history),
        germline=germline,
        fields=tuple(sorted((f, tuple(sorted(v))) for f, v in acc.fields.items())),
        dates=tuple(sorted(dates)),
        in_effect=tuple(sorted(set(in_effect))),
        names_in=tuple(name for name, code in d.names if code in inside),
    )


# --------------------------------------------------------------------------- utilities


def variant_spellings(engine: Any, gene: str, variant: str) -> tuple[str, ...]:
    """Every way the vocabulary reads ``variant`` of ``gene`` that this module knows to write:
    one- and three-letter HGVS with and without ``p.``, with the gene in front, and the cDNA
    hotspot changes that give it. Empty when the variant is not valid for the gene."""
    d = domain(engine)
    v = _valid_variant(d.vocab, gene, variant)
    if v is None:
        return ()
    return _spellings(d.vocab, gene, v.label, _private(d.vocab, "_cdna", {}))


def boundary_dates(engine: Any, rule_id: str | None = None) -> tuple[dt.date, ...]:
    """The day before, of and after each ``effective_from`` / ``effective_to`` (of one rule and
    the rules it rests on, or of every rule) and of the knowledge version."""
    d = domain(engine)
    if rule_id is None:
        return d.dates
    return d.neighbourhood(rule_id).dates


def rules_concluding(engine: Any, therapy: str, verdict: str = "eligible", *, jurisdiction: str | None = None) -> tuple[Rule, ...]:
    """The conclusion rules that give ``therapy`` the verdict ``verdict`` (for one jurisdiction:
    its own rules and the rules without one)."""
    rb = _rulebase(engine)
    out = []
    for r in rb.rules:
        if r.kind != "conclusion" or r.conclude is None or r.status == "retired" or r.conclude.verdict != verdict:
            continue
        if therapy not in rb.targets.get(r.id, ()):
            continue
        if jurisdiction is not None and r.jurisdiction and r.jurisdiction.upper() != jurisdiction.upper():
            continue
        out.append(r)
    return tuple(out)


def at_date(case: Mapping[str, Any], day: dt.date | str) -> dict:
    """A copy of ``case`` evaluated at another date."""
    out = dict(case)
    out["as_of"] = day.isoformat() if isinstance(day, dt.date) else day
    return out


def reduce_case(case: Mapping[str, Any], what: str) -> dict:
    """A copy of ``case`` with one kind of data removed (one of :data:`REDUCTIONS`): the
    prior-therapy history, the list of tested genes, the stage or the germline-testing flag.
    Germline alterations are dropped with the germline flag (they imply germline testing)."""
    out = {k: v for k, v in case.items()}
    if what == "history":
        out.pop("prior_therapies", None)
    elif what == "tested_genes":
        out.pop("tested_genes", None)
    elif what == "stage":
        out.pop("stage", None)
    elif what == "germline_tested":
        out.pop("germline_tested", None)
        out["alterations"] = [a for a in case.get("alterations") or () if a.get("origin") != "germline"]
    elif what in REDUCTIONS:  # a scalar field of FIELDS
        out.pop(what, None)
    else:
        raise ValueError(f"unknown reduction '{what}' (one of {', '.join(REDUCTIONS)})")
    return out


def untest_gene(engine: Any, case: Mapping[str, Any], gene: str) -> dict:
    """A copy of ``case`` in which ``gene`` was not tested: its somatic alterations and its
    place in ``tested_genes`` removed (germline findings and fusion partners stay)."""
    vocab = _rulebase(engine).vocab
    target = vocab.gene(gene)
    out = dict(case)
    out["alterations"] = [
        a for a in case.get("alterations") or ()
        if a.get("origin") == "germline" or _resolves(vocab.gene, a["gene"]) != target
    ]
    if case.get("tested_genes") is not None:
        out["tested_genes"] = [g for g in case["tested_genes"] if _resolves(vocab.gene, g) != target]
    return out


def case_genes(engine: Any, case: Mapping[str, Any]) -> tuple[str, ...]:
    """The genes a case says something about (tested, or carrying a somatic alteration), as
    HGNC symbols."""
    vocab = _rulebase(engine).vocab
    names = list(case.get("tested_genes") or ())
    names += [a["gene"] for a in case.get("alterations") or () if a.get("origin") != "germline"]
    return tuple(sorted({g for g in (_resolves(vocab.gene, n) for n in names) if g}))


def completions(engine: Any, case: Mapping[str, Any], what: str, rule_id: str | None = None,
                gene: str | None = None) -> list[tuple[str, dict]]:
    """Cases that put back data ``case`` lacks, each with a label: for ``what`` one of
    :data:`REDUCTIONS` or ``"gene"`` (with ``gene``: that gene's test result). The values come
    from the rule ``rule_id`` and the facts it rests on (every rule when None): each stage; no
    prior therapy and histories meeting each history criterion; each gene tested wild-type and
    each alteration pattern present; germline testing done, not done, and each germline finding.

    A rule whose verdict holds while some data is unknown must hold for each completion (Kleene
    logic is monotone): use this to check that a rule does not decide on data it does not have.
    """
    d = domain(engine)
    hoods = [d.neighbourhood(rule_id)] if rule_id else [d.neighbourhood(r) for r in d.live_rules]
    patterns = list(dict.fromkeys(p for n in hoods for p, _ in n.patterns))
    base = dict(case)
    out: list[tuple[str, dict]] = []

    def hit(p: Pattern) -> dict:
        alt: dict[str, Any] = {"gene": p.gene, "variant": _hit_texts(d, p)[0]}
        if p.origin:
            alt["origin"] = p.origin
        if p.acquired is not None:
            alt["acquired"] = p.acquired
        if p.partner and d.vocab.variant(p.gene, alt["variant"]).kind == "fusion":
            alt["partner"] = p.partner
        return alt

    def with_alt(p: Pattern, extra: Mapping[str, Any] | None = None) -> tuple[str, dict]:
        alt = hit(p)
        filled = {**base, **(extra or {}), "alterations": list(base.get("alterations") or []) + [alt]}
        if alt.get("origin") == "germline" and filled.get("germline_tested") is False:
            filled["germline_tested"] = True
        return f"{p.gene} {alt['variant']}" + (" (germline)" if alt.get("origin") == "germline" else ""), filled

    if what == "stage":
        out += [(f"stage {s}", {**base, "stage": s}) for s in STAGES]
    elif what == "history":
        out.append(("no prior therapy", {**base, "prior_therapies": []}))
        for n in hoods:
            for spec in n.history:
                classes = sorted(spec.classes)
                drugs = [d.class_members[c][0] for c in classes if d.class_members.get(c)] + sorted(spec.drugs)
                line: dict[str, Any] = {"drugs": drugs or [d.all_drugs[0]]}
                if spec.settings:
                    line["setting"] = sorted(spec.settings)[0]
                if spec.outcomes:
                    line["outcome"] = sorted(spec.outcomes)[0]
                if spec.min_weeks is not None:
                    line["weeks"] = spec.min_weeks
                count = max(spec.meets or 1, 1)
                out.append((f"history {line}" + (f" x{count}" if count > 1 else ""),
                            {**base, "prior_therapies": [dict(line) for _ in range(count)]}))
    elif what == "tested_genes":
        known = set(case_genes(engine, base))
        genes = sorted({p.gene for p in patterns if p.origin != "germline"})
        out.append((f"{', '.join(genes) or 'no gene'} tested wild-type", {**base, "tested_genes": genes}))
        out += [with_alt(p) for p in patterns if p.origin != "germline" and p.gene not in known]
    elif what == "gene":
        if gene is None:
            raise ValueError("completions(..., 'gene') needs the gene")
        gene = d.vocab.gene(gene)
        tested = list(base.get("tested_genes") or []) + [gene]
        out.append((f"{gene} tested wild-type", {**base, "tested_genes": tested}))
        out += [with_alt(p) for p in patterns if p.gene == gene and p.origin != "germline"]
    elif what == "germline_tested":
        out += [("germline testing done", {**base, "germline_tested": True}),
                ("no germline testing", {**base, "germline_tested": False})]
        out += [with_alt(p, {"germline_tested": True}) for p in patterns if p.origin == "germline"]
    elif what in REDUCTIONS:  # a scalar field of FIELDS: each value
        fd = next(f for f in FIELDS if f.field == what)
        out += [(f"{fd.name}: {v}", {**base, what: v}) for v in fd.values if v is not None]
    else:
        raise ValueError(f"unknown kind of data '{what}' (one of {', '.join(REDUCTIONS)}, gene)")
    return out


def shuffle_case(case: Mapping[str, Any], rnd: _random.Random) -> dict:
    """A copy of ``case`` with every list in another order (alterations, tested genes and the
    drugs of each prior line) and the keys of every object in another order. The prior lines keep
    their order: it is chronological, and "first line" depends on it."""

    def mix(value, keep_order=False):
        if isinstance(value, dict):
            items = list(value.items())
            rnd.shuffle(items)
            return {k: mix(v, keep_order=(k == "prior_therapies")) for k, v in items}
        if isinstance(value, list):
            items = [mix(v) for v in value]
            if not keep_order:
                rnd.shuffle(items)
            return items
        return value

    return mix(dict(case))


# --------------------------------------------------------------------------- drawing
#
# Generators are plain functions of hypothesis' ``draw``: choices are drawn as indices (integers
# strategies are cached by hypothesis), so no strategy object is built per example. Lists put the
# simplest choice first, since hypothesis shrinks an index towards 0.


def _pick(draw, seq: Sequence[Any]) -> Any:
    if not seq:
        raise ValueError("nothing to choose from")
    return seq[draw(st.integers(0, len(seq) - 1))] if len(seq) > 1 else seq[0]


def _chance(draw, one_in: int) -> bool:
    return draw(st.integers(0, one_in - 1)) == 0


def _weighted(draw, *options: tuple[int, Callable[[], Any]]) -> Any:
    """Call one of the thunks, chosen with the given weights."""
    live = [(w, f) for w, f in options if w > 0]
    total = sum(w for w, _ in live)
    k = draw(st.integers(0, total - 1))
    for w, f in live:
        if k < w:
            return f()
        k -= w
    raise AssertionError("unreachable")


def _some(draw, lo: int, hi: int, make: Callable[[], Any]) -> list:
    return [make() for _ in range(draw(st.integers(lo, hi)))]


def _cancer_text(draw, d: Domain) -> str:
    near = d.near_codes or d.all_codes
    return _weighted(
        draw,
        (4, lambda: _pick(draw, near)),
        (2, lambda: _pick(draw, d.all_codes)),
        (2, lambda: _pick(draw, d.names)[0]),
        (1, lambda: _pick(draw, near).lower()),
    )


def _gene_text(draw, d: Domain, gene: str) -> str:
    spellings = d.gene_spellings.get(gene, (gene,))
    return gene if len(spellings) == 1 or draw(st.integers(0, 4)) else _pick(draw, spellings)


def _random_missense(draw, d: Domain, gene: str) -> str:
    residues, length = _protein_ref(d.vocab, gene)
    positions = d.positions.get(gene)
    if positions and draw(st.booleans()):
        pos = _pick(draw, positions)
    else:
        pos = draw(st.integers(1, length or 1200))
    ref = residues.get(pos) or _pick(draw, AA)
    alt = _pick(draw, [a for a in AA if a != ref])
    text = f"{ref}{pos}{alt}"
    if _valid_variant(d.vocab, gene, text) is None:
        return _pick(draw, d.kind_words["mutation"])  # a residue the reference data contradict
    return text


def _kind_word(draw, d: Domain, kinds: Sequence[str] = KINDS) -> str:
    return _pick(draw, d.kind_words[_pick(draw, kinds)])


def _variant_text(draw, d: Domain, gene: str) -> str:
    named, codons, recurrent = d.named_variants.get(gene), d.rule_codons.get(gene), d.recurrent.get(gene)
    return _weighted(
        draw,
        (4 if named else 0, lambda: _pick(draw, named or ())),  # (each thunk runs only if its weight is not 0)
        (3 if codons else 0, lambda: _pick(draw, d.codon_variants[(gene, _pick(draw, codons or ()))])),
        (2 if recurrent else 0, lambda: _pick(draw, recurrent or ())),
        (2, lambda: _kind_word(draw, d)),
        (1, lambda: _random_missense(draw, d, gene)),
    )


def _gene(draw, d: Domain) -> str:
    if d.rule_genes and draw(st.integers(0, 3)):
        return _pick(draw, d.rule_genes)
    return _pick(draw, d.genes)


_ORIGINS = (None, None, None, None, "somatic", "germline")
_ACQUIRED = (None, None, None, False, True)


def _alteration(draw, d: Domain, gene: str | None = None, text: str | None = None,
                origin: str | None = None, acquired: bool | None = None, partner: str | None = None,
                free: bool = True) -> dict:
    """One alteration; with ``free`` the unset origin / acquired flags are drawn too."""
    gene = gene or _gene(draw, d)
    text = text or _variant_text(draw, d, gene)
    alt: dict[str, Any] = {"gene": _gene_text(draw, d, gene), "variant": text}
    if origin is None and free:
        origin = _pick(draw, _ORIGINS)
    if origin is not None:
        alt["origin"] = origin
    if acquired is None and free:
        acquired = _pick(draw, _ACQUIRED)
    if acquired is not None:
        alt["acquired"] = acquired
    if d.vocab.variant(gene, text).kind == "fusion":
        if partner is None and free and draw(st.booleans()):
            partner = _pick(draw, d.rule_genes or d.genes)
        if partner is not None:
            alt["partner"] = _gene_text(draw, d, partner)
    return alt


def _drug_text(draw, d: Domain, drug: str) -> str:
    names = d.drug_names.get(drug, (drug,))
    return drug if len(names) == 1 or draw(st.integers(0, 2)) == 0 else _pick(draw, names)


def _any_drug(draw, d: Domain) -> str:
    if d.rule_drugs and draw(st.integers(0, 3)):
        return _pick(draw, d.rule_drugs)
    return _pick(draw, d.all_drugs)


def _line(draw, d: Domain, drugs: Iterable[str] | None = None, regimen: str | None = None,
          spec: HistorySpec | None = None, meet: bool = False) -> dict:
    """One prior-therapy line; near what ``spec`` asks (setting, outcome, weeks), or meeting it."""
    line: dict[str, Any] = {}
    if drugs is None and regimen is None:
        form = _pick(draw, ("drugs", "drugs", "regimen", "both") if d.regimens else ("drugs",))
        if form in ("regimen", "both"):
            regimen = _pick(draw, d.regimens)
        if form != "regimen":
            drugs = list(dict.fromkeys(_some(draw, 1, 3, lambda: _any_drug(draw, d))))
    if regimen is not None:
        line["regimen"] = regimen if draw(st.integers(0, 3)) else regimen.lower()
    if drugs:
        texts = [_drug_text(draw, d, x) for x in drugs]
        if len(texts) > 1 and _chance(draw, 6):
            joined = " + ".join(texts)  # one entry naming a combination, where the vocabulary reads it so
            if _resolves(d.vocab.therapy_word, joined) == tuple(sorted(set(drugs))):
                texts = [joined]
        line["drugs"] = texts
    settings = tuple(sorted(spec.settings)) if spec and spec.settings else ()
    outcomes = tuple(sorted(spec.outcomes)) if spec and spec.outcomes else ()
    min_weeks = spec.min_weeks if spec else None
    setting = _pick(draw, settings if meet and settings else (None, None, *settings, *settings, *SETTINGS))
    if setting is not None:
        line["setting"] = setting
    outcome = _pick(draw, outcomes if meet and outcomes else (None, None, *outcomes, *outcomes, *OUTCOMES))
    if outcome is not None:
        line["outcome"] = outcome
    near: list[int | str | None]
    if meet and min_weeks is not None:
        near = [min_weeks, min_weeks + 1, min_weeks + 52]
    else:
        near = [None, None, *[min_weeks + k for k in (0, -1, 1) if min_weeks + k >= 0], "any"] if min_weeks is not None \
            else [None, None, "any"]
    weeks = _pick(draw, near)
    if weeks == "any":
        weeks = draw(st.integers(0, 200)) if draw(st.booleans()) else round(draw(st.floats(0, 1000)), 1)
    if weeks is not None:
        line["weeks"] = weeks
    return line


def _date(draw, d: Domain, near: Sequence[dt.date] = ()) -> str:
    day = _weighted(
        draw,
        (6 if near else 0, lambda: _pick(draw, near)),
        (3, lambda: _pick(draw, d.dates)),
        (2, lambda: draw(st.dates(d.first_date, d.last_date))),
    )
    return day.isoformat()


def _jurisdiction(draw, d: Domain, own: str | None = None) -> str | None:
    options = [None, None] + ([own.upper()] * 2 if own else []) + list(d.jurisdictions)
    j = _pick(draw, options)
    return j if j is None or draw(st.integers(0, 3)) else j.lower()


_ID = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)


def _case_draw(draw, d: Domain) -> dict:
    case: dict[str, Any] = {"cancer_type": _cancer_text(draw, d)}
    if draw(st.booleans()):
        case["id"] = draw(_ID)
    alts = _some(draw, 0, 4, lambda: _alteration(draw, d))
    if alts or draw(st.booleans()):
        case["alterations"] = alts
    tested = _pick(draw, ("absent", "absent", "altered", "rules", "random"))
    if tested != "absent":
        genes = {a["gene"] for a in alts} if tested == "altered" else set()
        if tested == "rules" and d.rule_genes:
            genes |= set(_some(draw, 0, len(d.rule_genes), lambda: _pick(draw, d.rule_genes)))
        if tested == "random":
            genes |= set(_some(draw, 0, 6, lambda: _gene(draw, d)))
        case["tested_genes"] = sorted(genes)
    germline_alt = any(a.get("origin") == "germline" for a in alts)
    g = _pick(draw, (None, True) if germline_alt else (None, True, False))
    if g is not None:
        case["germline_tested"] = g
    history = _pick(draw, ("unknown", "naive", "lines", "lines", "lines"))
    if history == "naive":
        case["prior_therapies"] = []
    elif history == "lines":
        case["prior_therapies"] = _some(draw, 1, 4, lambda: _line(draw, d))
    stage = _pick(draw, (None, *STAGES))
    if stage is not None:
        case["stage"] = stage
    for fd in FIELDS:
        v = _pick(draw, fd.values)
        if v is not None:
            case[fd.field] = v
    case["as_of"] = _date(draw, d)
    j = _jurisdiction(draw, d)
    if j is not None:
        case["jurisdiction"] = j
    return case


@st.composite
def _case(draw, d: Domain) -> dict:
    return _case_draw(draw, d)


def cases(engine: Any) -> st.SearchStrategy[dict]:
    """Valid cases drawn from the rule base of ``engine`` (an Engine or a RuleBase)."""
    return _case(domain(engine))


@st.composite
def _alteration_st(draw, d: Domain, gene: str | None) -> dict:
    return _alteration(draw, d, gene)


def alterations(engine: Any, gene: str | None = None) -> st.SearchStrategy[dict]:
    """Valid entries of a case's ``alterations``: of ``gene`` (any name the vocabulary reads) or
    of any gene, the genes the rules test most often; variants the rules name in every notation,
    changes at and next to the codons they name, real recurrent changes, kind words."""
    d = domain(engine)
    return _alteration_st(d, d.vocab.gene(gene) if gene is not None else None)


@st.composite
def _lines_st(draw, d: Domain, min_size: int, max_size: int) -> list:
    return _some(draw, min_size, max_size, lambda: _line(draw, d))


def prior_therapies(engine: Any, min_size: int = 1, max_size: int = 4) -> st.SearchStrategy[list]:
    """Valid ``prior_therapies`` lists: lines of drugs (generic, brand or code names, the drugs of
    the classes the rules ask about most often) or regimens, with settings, outcomes and weeks."""
    return _lines_st(domain(engine), min_size, max_size)


# --------------------------------------------------------------------------- cases near a rule


def _hit_texts(d: Domain, p: Pattern) -> tuple[str, ...]:
    key = ("hit", p)
    hit = d.memo.get(key)
    if hit is not None:
        return hit
    vocab = d.vocab
    if p.labels:
        out = [t for label in sorted(p.labels) for t in _spellings(vocab, p.gene, label, _private(vocab, "_cdna", {}))]
    elif p.codons:
        out = [t for c in sorted(p.codons) for t in d.codon_variants.get((p.gene, c), ())]
    elif p.kind:
        out = list(d.kind_words[p.kind])
        if p.kind == "mutation":
            out += list(d.recurrent.get(p.gene, ()))
    else:
        out = list(d.recurrent.get(p.gene, ())) + [w for k in KINDS for w in d.kind_words[k][:1]]
    keep = []
    for t in out:
        v = _valid_variant(vocab, p.gene, t)
        if v is None or (p.kind and v.kind != p.kind) or v.label in p.exclude:
            continue
        keep.append(t)
    d.memo[key] = hit = tuple(keep) or d.kind_words[p.kind or "mutation"]
    return hit


def _miss_texts(d: Domain, p: Pattern) -> tuple[str, ...]:
    key = ("miss", p)
    hit = d.memo.get(key)
    if hit is not None:
        return hit
    out = list(d.named_variants.get(p.gene, ()))
    for c in d.rule_codons.get(p.gene, ()):
        out += d.codon_variants[(p.gene, c)]
    out += [w for k in KINDS if k != p.kind for w in d.kind_words[k][:2]]
    out += list(d.recurrent.get(p.gene, ()))
    out += sorted(p.exclude)
    d.memo[key] = hit = tuple(dict.fromkeys(out)) or d.kind_words["amplification"]
    return hit


_MODES = ("hit", "hit", "miss", "vague", "absent_tested", "absent_untested")


def _near_rule_draw(draw, d: Domain, rule_ids: Sequence[str]) -> dict:
    rule_id = _pick(draw, rule_ids)
    n = d.neighbourhood(rule_id)
    meet = draw(st.booleans())  # aim at every condition of the rule holding, or anywhere near
    case: dict[str, Any] = {}

    where = "in" if meet else _pick(draw, ("in", "in", "name", "out"))
    if where == "out":
        case["cancer_type"] = _pick(draw, n.cancers_out)
    elif where == "name":
        case["cancer_type"] = _pick(draw, n.names_in or n.cancers_in)
    else:
        case["cancer_type"] = _pick(draw, n.cancers_in)

    alts: list[dict] = []
    tested: set[str] = set()
    untested: set[str] = set()
    germline_known: bool | None = None
    for p, pols in n.patterns:
        if meet and len(pols) == 1:
            mode = "hit" if True in pols else "absent_tested"
        else:
            mode = _pick(draw, _MODES)
        origin = p.origin
        if mode == "hit":
            text = _pick(draw, _hit_texts(d, p))
            acquired, partner = p.acquired, p.partner
            if p.acquired_on is not None and acquired is None:  # acquired, at diagnosis or not stated
                acquired = _pick(draw, (None, True, False))
        elif mode == "miss":
            text = _pick(draw, _miss_texts(d, p))
            acquired = (not p.acquired) if p.acquired is not None and draw(st.booleans()) else p.acquired
            if p.origin is not None and draw(st.booleans()):
                origin = "somatic" if p.origin == "germline" else "germline"
            partner = None
        elif mode == "vague":
            text = _pick(draw, d.kind_words["mutation"])
            acquired, partner = p.acquired, None
        else:
            if p.origin == "germline":
                germline_known = True if mode == "absent_tested" else _pick(draw, (None, False))
            elif mode == "absent_tested":
                tested.add(p.gene)
            else:
                untested.add(p.gene)
            continue
        if origin == "germline" and germline_known is False:
            origin = None
        alts.append(_alteration(draw, d, p.gene, text, origin, acquired, partner, free=not meet))
    if not meet:
        alts += _some(draw, 0, 2, lambda: _alteration(draw, d))
    if alts or draw(st.booleans()):
        case["alterations"] = alts
    if draw(st.booleans()):
        tested |= {d.vocab.gene(a["gene"]) for a in alts if a.get("origin") != "germline"}
    tested -= untested
    if tested or draw(st.booleans()):
        extra = [g for g in _some(draw, 0, 3, lambda: _pick(draw, d.genes)) if g not in untested]
        case["tested_genes"] = sorted({_gene_text(draw, d, g) for g in tested} | set(extra))
    if any(a.get("origin") == "germline" for a in alts):
        germline_known = _pick(draw, (True, None)) if not meet else True
    elif germline_known is None and (n.germline or draw(st.booleans())):
        germline_known = _pick(draw, (True, None, False)) if not meet else True
    if germline_known is not None:
        case["germline_tested"] = germline_known

    history = _history(draw, d, n, meet)
    if history is not None:
        case["prior_therapies"] = history

    stage = _pick(draw, n.stages) if meet and n.stages else _pick(draw, (None, *n.stages, *STAGES))
    if stage is not None:
        case["stage"] = stage
    wanted = dict(n.fields)
    for fd in FIELDS:
        v = _pick(draw, wanted[fd.field]) if meet and wanted.get(fd.field) else _pick(draw, fd.values)
        if v is not None:
            case[fd.field] = v
    case["as_of"] = _pick(draw, n.in_effect).isoformat() if meet else _date(draw, d, n.dates)
    j = n.rule.jurisdiction.upper() if meet and n.rule.jurisdiction else _jurisdiction(draw, d, n.rule.jurisdiction)
    if j is not None:
        case["jurisdiction"] = j
    return case


def _history(draw, d: Domain, n: Neighbourhood, meet: bool) -> list | None:
    specs = [s for s in n.history if s.classes or s.drugs or s.single_line]
    counts = sorted({c for s in n.history for c in s.counts})
    meets = [s.meets for s in n.history if s.meets is not None]
    if meet:
        if not specs and not meets:
            return [] if draw(st.booleans()) else _some(draw, 1, 3, lambda: _line(draw, d))
        lines = []
        for spec in specs:
            lines += _lines_for(draw, d, spec, "all" if spec.single_line else _pick(draw, ("all", "spread", "regimen")), True)
        counting = [s for s in n.history if s.meets is not None]
        while counting and len(lines) < max(meets):
            lines.append(_line(draw, d, spec=_pick(draw, counting), meet=True))
    else:
        modes = ["unknown", "naive", "random"] + (["all", "spread", "short", "regimen"] if specs else [])
        modes += ["count", "count"] if counts else []
        mode = _pick(draw, modes)
        if mode == "unknown":
            return None
        if mode == "naive":
            return []
        if mode == "random":
            return _some(draw, 1, 4, lambda: _line(draw, d))
        if mode == "count":
            spec = _pick(draw, n.history)
            return [_line(draw, d, spec=spec) for _ in range(_pick(draw, counts))]
        lines = _lines_for(draw, d, _pick(draw, specs), mode, False)
        if draw(st.booleans()):
            lines += _some(draw, 0, 2, lambda: _line(draw, d, spec=_pick(draw, n.history)))
    order = draw(st.permutations(range(len(lines))))
    return [lines[i] for i in order]


def _lines_for(draw, d: Domain, spec: HistorySpec, mode: str, meet: bool) -> list[dict]:
    """Lines giving the drugs and classes ``spec`` asks for: all in one line, spread over two,
    by a regimen, or one short."""
    needed = [_pick(draw, d.class_members.get(c) or d.all_drugs) for c in sorted(spec.classes)] + sorted(spec.drugs)
    if not needed:
        return [_line(draw, d, spec=spec, meet=meet)]
    if mode == "regimen":
        fits = d.regimens_with(spec.classes)
        if fits:
            lines = [_line(draw, d, regimen=_pick(draw, fits), spec=spec, meet=meet)]
            covered = _regimen_classes(d, lines[0])
            missing = [x for x in needed if not (d.vocab.drug(x).classes & spec.classes & covered)]
            if missing and (meet or draw(st.booleans())):
                lines.append(_line(draw, d, drugs=dict.fromkeys(missing), spec=spec, meet=meet))
            return lines
        mode = "all"
    if mode == "short" and len(needed) > 1:
        needed.pop(draw(st.integers(0, len(needed) - 1)))
    if mode == "spread" and len(needed) > 1:
        cut = draw(st.integers(1, len(needed) - 1))
        groups = [needed[:cut], needed[cut:]]
    else:
        groups = [needed]
    return [_line(draw, d, drugs=dict.fromkeys(g), spec=spec, meet=meet) for g in groups if g]


def _regimen_classes(d: Domain, line: dict) -> frozenset[str]:
    drugs = d.vocab.therapy_word(line["regimen"])
    return frozenset(c for x in drugs for c in d.vocab.drug(x).classes)


@st.composite
def _near_rule(draw, d: Domain, rule_ids: tuple[str, ...]) -> dict:
    return _near_rule_draw(draw, d, rule_ids)


def boundary_cases(engine: Any, rules: Iterable[str] | None = None) -> st.SearchStrategy[dict]:
    """Valid cases on the edges of the rules: draws a rule (of ``rules``, ids, default every rule
    not retired), then a case around it (see :func:`rule_cases`)."""
    d = domain(engine)
    ids = tuple(rules) if rules is not None else d.live_rules
    if not ids:
        raise ValueError("boundary_cases needs at least one rule id")
    for rule_id in ids:
        d.neighbourhood(rule_id)  # RuleError with a suggestion for an unknown id
    return _near_rule(d, ids)


def rule_cases(engine: Any, rule_id: str) -> st.SearchStrategy[dict]:
    """Valid cases around one rule: half aim at every condition of the rule holding (its cancer
    types, each alteration it or a fact it uses needs, its history, stage, dates and
    jurisdiction), half wander near it: a pattern present, just missed, vague, absent in a tested
    gene or untested; history unknown, naive, one line or one drug class short; each stage or
    none; the day before, of and after each date. Raises RuleError for an unknown rule id."""
    return boundary_cases(engine, (rule_id,))


# --------------------------------------------------------------------------- invalid cases


def _typo(draw, word: str) -> str:
    if not word:
        return "x"
    i = draw(st.integers(0, len(word) - 1))
    op = _pick(draw, ("drop", "double", "swap", "replace", "append"))
    letter = _pick(draw, string.ascii_letters)
    if op == "drop" and len(word) > 1:
        return word[:i] + word[i + 1:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    if op == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == "replace" and word[i].lower() != letter.lower():
        return word[:i] + letter + word[i + 1:]
    return word + letter


def _misspelt(draw, words: Sequence[str], known: Callable[[str], bool]) -> str | None:
    """A misspelling of one of ``words`` that ``known`` rejects (None if none is found quickly)."""
    for _ in range(8):
        word = _typo(draw, _pick(draw, words))
        if word.strip() and not known(word):
            return word
    return None


def _is(fn: Callable[[str], Any]) -> Callable[[str], bool]:
    return lambda text: _resolves(fn, text) is not None


def _bad_variant(draw, d: Domain, gene: str) -> str:
    """A variant text the vocabulary rejects for ``gene``."""
    vocab = d.vocab
    residues, length = _protein_ref(vocab, gene)
    positions = d.positions.get(gene) or ()
    choices = ["junk", "position_only", "synonymous", "genomic", "cdna"]
    if positions:
        choices.append("wrong_reference")
    if length:
        choices.append("past_end")
    how = _pick(draw, choices)
    pos = _pick(draw, positions) if positions else draw(st.integers(1, length or 500))
    ref = residues.get(pos) or _pick(draw, AA)
    if how == "position_only":
        text = f"{ref}{pos}"
    elif how == "synonymous":
        text = _pick(draw, (f"{ref}{pos}{ref}", f"p.{ref}{pos}=", f"p.{AA3[ref]}{pos}{AA3[ref]}"))
    elif how == "genomic":
        text = f"g.{draw(st.integers(1, 10**8))}A>T"
    elif how == "cdna":
        text = f"c.{draw(st.integers(1, 5000))}{_pick(draw, 'ACGT')}>{_pick(draw, 'ACGT')}"
    elif how == "wrong_reference":
        wrong = _pick(draw, [a for a in AA if a != ref])
        alt = _pick(draw, [a for a in AA if a not in (ref, wrong)])
        text = f"{wrong}{pos}{alt}"
    elif how == "past_end":
        text = f"{_pick(draw, AA)}{length + draw(st.integers(2, 500))}{_pick(draw, AA)}"
    else:
        text = "".join(_some(draw, 1, 12, lambda: _pick(draw, string.ascii_letters + string.digits + " .>*_-")))
    if text.strip() and _valid_variant(vocab, gene, text) is None:
        return text
    return f"{ref}{pos}"  # a position without a change is never a variant


def _invasive(vocab) -> dict:
    """The cancer types cases are generated with: every type but the non-invasive (in situ)
    ones, which contradict the locally advanced and metastatic stages drawn beside them."""
    skip = vocab.cancers.non_invasive
    return {c: ct for c, ct in vocab.cancer_types.items() if c not in skip}


_INVALID_KINDS = (
    "not_object", "unknown_field", "unknown_field_nested", "missing_cancer", "cancer_type",
    "cancer_wrong_type", "stage", "gene", "variant", "variant_word", "origin", "acquired",
    "partner_not_fusion", "partner_unknown", "alterations_type", "tested_gene", "tested_type",
    "germline_contradiction", "in_situ_spread", "line_empty", "drug", "regimen", "setting", "outcome", "weeks",
    "history_type", "as_of", "id_type", "jurisdiction",
)


def _invalid_draw(draw, d: Domain, kind: str | None = None) -> tuple[Any, tuple]:
    vocab = d.vocab
    case = _case_draw(draw, d)
    alts = case.get("alterations") or []
    kind = kind or _pick(draw, _INVALID_KINDS)

    def with_alteration(**kw) -> int:
        alt = _alteration(draw, d, **kw)
        alt.pop("partner", None)
        alts.append(alt)
        case["alterations"] = alts
        return len(alts) - 1

    def with_line() -> int:
        lines = case.get("prior_therapies") or []
        lines.append(_line(draw, d))
        case["prior_therapies"] = lines
        return len(lines) - 1

    if kind == "not_object":
        return _pick(draw, ([case], "LUAD", None, 42, [], True)), ()
    if kind == "unknown_field":
        fields = tuple(CaseIn.model_fields)
        word: str | None = _misspelt(draw, fields, lambda w: w in fields) or "cancer-type"
        case[word] = _pick(draw, ("x", 1, None, [], "2026-01-01"))
        return case, ()
    if kind == "unknown_field_nested":
        if draw(st.booleans()):
            i = with_alteration()
            fields = tuple(AlterationIn.model_fields)
            case["alterations"][i][_misspelt(draw, fields, lambda w: w in fields) or "gen"] = "x"
            return case, ("alterations", i)
        i = with_line()
        fields = tuple(PriorTherapyIn.model_fields)
        case["prior_therapies"][i][_misspelt(draw, fields, lambda w: w in fields) or "drug"] = "x"
        return case, ("prior_therapies", i)
    if kind == "missing_cancer":
        del case["cancer_type"]
        return case, ("cancer_type",)
    if kind == "cancer_type":
        pool = d.near_codes if draw(st.booleans()) else d.name_texts
        word = _misspelt(draw, pool, _is(vocab.cancer))
        case["cancer_type"] = word if word is not None else "no such cancer"
        return case, ("cancer_type",)
    if kind == "cancer_wrong_type":
        case["cancer_type"] = _pick(draw, ("", "   ", 12, None, ["LUAD"], {"code": "LUAD"}))
        return case, ("cancer_type",)
    if kind == "stage":
        word = _misspelt(draw, STAGES, lambda w: w in STAGES)
        case["stage"] = _pick(draw, (word or "stage IV", "IV", "Metastatic", "advanced", 4, ""))
        return case, ("stage",)
    if kind == "gene":
        i = with_alteration()
        case["alterations"][i]["gene"] = _misspelt(draw, d.rule_genes or d.genes, _is(vocab.gene)) or "NOTAGENE1"
        return case, ("alterations", i, "gene")
    if kind == "variant":
        gene = _gene(draw, d)
        text = _bad_variant(draw, d, gene)
        i = with_alteration(gene=gene, text=_pick(draw, d.kind_words["mutation"]))
        case["alterations"][i]["variant"] = text
        return case, ("alterations", i, "variant")
    if kind == "variant_word":
        words = tuple(_private(vocab, "_not_alterations", {})) + tuple(_private(vocab, "_ambiguous_variants", {}))
        i = with_alteration()
        case["alterations"][i]["variant"] = _pick(draw, words or ("???",))
        return case, ("alterations", i, "variant")
    if kind == "origin":
        i = with_alteration()
        case["alterations"][i]["origin"] = _pick(draw, ("inherited", "Germline", "tumour", "", 1))
        return case, ("alterations", i, "origin")
    if kind == "acquired":
        i = with_alteration()
        case["alterations"][i]["acquired"] = _pick(draw, ("maybe", "unknown", 2, [], "acquired"))
        return case, ("alterations", i, "acquired")
    if kind == "partner_not_fusion":
        text = _kind_word(draw, d, tuple(k for k in KINDS if k != "fusion"))
        i = with_alteration(gene=_gene(draw, d), text=text)
        case["alterations"][i]["partner"] = _pick(draw, d.genes)
        return case, ("alterations", i, "partner")
    if kind == "partner_unknown":
        i = with_alteration(gene=_gene(draw, d), text=_pick(draw, d.kind_words["fusion"]))
        case["alterations"][i]["partner"] = _misspelt(draw, d.genes, _is(vocab.gene)) or "NOTAGENE2"
        return case, ("alterations", i, "partner")
    if kind == "alterations_type":
        case["alterations"] = _pick(draw, ("KRAS G12C", {"gene": "x"}, 1))
        return case, ("alterations",)
    if kind == "tested_gene":
        genes = list(case.get("tested_genes") or [])
        genes.append(_misspelt(draw, d.rule_genes or d.genes, _is(vocab.gene)) or "NOTAGENE3")
        case["tested_genes"] = genes
        return case, ("tested_genes", len(genes) - 1)
    if kind == "tested_type":
        case["tested_genes"] = _pick(draw, ("KRAS", 3, {"KRAS": True}))
        return case, ("tested_genes",)
    if kind == "in_situ_spread":
        if vocab.cancers.non_invasive:
            case["cancer_type"] = _pick(draw, sorted(vocab.cancers.non_invasive))
            case["stage"] = _pick(draw, ("locally_advanced", "metastatic"))
            return case, ("stage",)
        kind = "germline_contradiction"  # (a vocabulary without in-situ types)
    if kind == "germline_contradiction":
        with_alteration(origin="germline")
        case["germline_tested"] = False
        return case, ("germline_tested",)
    if kind == "line_empty":
        i = with_line()
        case["prior_therapies"][i] = _pick(draw, ({}, {"drugs": []}, {"setting": "metastatic"}))
        return case, ("prior_therapies", i)
    if kind == "drug":
        i = with_line()
        line = case["prior_therapies"][i]
        line["drugs"] = list(line.get("drugs") or []) + [
            _misspelt(draw, d.all_drug_names, _is(vocab.therapy_word)) or "notadrug"]
        return case, ("prior_therapies", i, "drugs", len(line["drugs"]) - 1)
    if kind == "regimen":
        i = with_line()
        word = _misspelt(draw, d.regimens or ("FOLFOX",), _is(vocab.therapy_word)) or "NOTAREGIMEN"
        case["prior_therapies"][i]["regimen"] = word
        return case, ("prior_therapies", i, "regimen")
    if kind in ("setting", "outcome"):
        i = with_line()
        allowed = SETTINGS if kind == "setting" else OUTCOMES
        word = _misspelt(draw, allowed, lambda w: w in allowed)
        case["prior_therapies"][i][kind] = _pick(draw, (word or "first-line", "", 3))
        return case, ("prior_therapies", i, kind)
    if kind == "weeks":
        i = with_line()
        case["prior_therapies"][i]["weeks"] = _pick(draw, (-1, -0.5, 1001, 1e6, "six", [], "nan", "inf"))
        return case, ("prior_therapies", i, "weeks")
    if kind == "history_type":
        case["prior_therapies"] = _pick(draw, ("FOLFOX", 2, {"regimen": "FOLFOX"}))
        return case, ("prior_therapies",)
    if kind == "as_of":
        case["as_of"] = _pick(draw, ("2026-02-30", "2021-13-45", "yesterday", "01/07/2026", "2026/07/01",
                                     "", "2026-7-1x", [], True))
        return case, ("as_of",)
    if kind == "id_type":
        case["id"] = _pick(draw, (5, 1.5, ["a"], {"id": "a"}, True))
        return case, ("id",)
    if kind == "jurisdiction":
        known = {j.upper() for j in d.jurisdictions}
        case["jurisdiction"] = _misspelt(draw, d.jurisdictions, lambda w: w.strip().upper() in known) or "F.D.A"
        return case, ("jurisdiction",)
    raise ValueError(f"unknown kind of invalid case '{kind}' (one of {', '.join(_INVALID_KINDS)})")


@st.composite
def _invalid(draw, d: Domain, kinds: tuple[str, ...] | None) -> tuple[Any, tuple]:
    return _invalid_draw(draw, d, _pick(draw, kinds) if kinds else None)


def labelled_invalid_cases(engine: Any, kinds: Iterable[str] | None = None) -> st.SearchStrategy[tuple[Any, tuple]]:
    """Pairs ``(case, path)``: a case with exactly one thing wrong, and the field path (a tuple
    like ``("alterations", 0, "variant")``) that the engine's error must name, or a prefix of it;
    ``()`` for a case that is not an object or has an unknown top-level field. ``kinds`` limits
    the faults to some of :data:`INVALID_KINDS`."""
    kinds = tuple(kinds) if kinds is not None else None
    for k in kinds or ():
        if k not in _INVALID_KINDS:
            raise ValueError(f"unknown kind of invalid case '{k}' (one of {', '.join(_INVALID_KINDS)})")
    return _invalid(domain(engine), kinds)


def invalid_cases(engine: Any, kinds: Iterable[str] | None = None) -> st.SearchStrategy[Any]:
    """Cases with exactly one thing wrong (see :func:`labelled_invalid_cases`); evaluating any of
    them must raise :class:`~engine.errors.CaseError`."""
    return labelled_invalid_cases(engine, kinds).map(lambda pair: pair[0])


INVALID_KINDS = _INVALID_KINDS
