"""What a rule base's rules talk about, gathered once per rule base: the :class:`Domain` the
strategies draw from, each rule's :class:`Neighbourhood`, and lookups of it
(:func:`variant_spellings`, :func:`boundary_dates`, :func:`rules_concluding`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, get_args
from collections.abc import Callable, Iterable, Mapping

from engine.conditions import BY_MODEL, FIELD_DIMENSIONS, FieldDimension
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
#: The scalar case fields the atoms read (engine.conditions' FIELD_DIMENSIONS: a condition kind's
#: own, or one an alteration acquired on a drug reads) that no code of its own draws here (stage and germline testing are drawn with what they depend on):
#: drawn, reduced and completed generically, each value in turn.
FIELDS: tuple[FieldDimension, ...] = tuple(fd for f, fd in FIELD_DIMENSIONS.items() if f not in ("stage", "germline_tested"))
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
    deleterious: bool = False  # the pattern asks for a deleterious change (its classification matters)


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
    # patterns read only under 'unmet', or as 'identified': the rule asks only whether such an alteration was found
    # (an untested gene counts as none found), so finding one may turn a verdict reached without it
    found_only: frozenset[Pattern]
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
        bool(a.deleterious),
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


def _walk(cond: Any, positive: bool, out: list[tuple[Any, bool, bool]], found: bool = False) -> None:
    """Every leaf condition under ``cond`` with its polarity (False under an odd number of
    ``not`` / ``unmet``) and whether it is read under an ``unmet`` (only what was found counts)."""
    if isinstance(cond, All):
        for c in cond.all:
            _walk(c, positive, out, found)
    elif isinstance(cond, Any_):
        for c in cond.any:
            _walk(c, positive, out, found)
    elif isinstance(cond, Not):
        _walk(cond.not_, not positive, out, found)
    elif isinstance(cond, Unmet):
        _walk(cond.unmet, not positive, out, True)
    else:
        out.append((cond, positive, found))


def _neighbourhood(d: Domain, rule: Rule) -> Neighbourhood:
    rb, vocab = d.rulebase, d.vocab
    derivers: dict[str, list[Rule]] = {}
    for r in rb.rules:
        if r.kind == "derivation" and r.derive is not None and r.status != "retired":
            derivers.setdefault(r.derive, []).append(r)
    seen: list[Rule] = []
    leaves: list[tuple[Any, bool, bool]] = []
    done: set[tuple[str, bool, bool]] = set()
    todo: list[tuple[Rule, bool, bool]] = [(rule, True, False)] + [
        (rb.by_id[o.rule], True, False) for o in rule.overrides if o.rule in rb.by_id]
    while todo:
        r, positive, found = todo.pop()
        if (r.id, positive, found) in done:
            continue
        done.add((r.id, positive, found))
        if not any(r is s for s in seen):
            seen.append(r)
        mine: list[tuple[Any, bool, bool]] = []
        _walk(r.when, positive, mine, found)
        for req in r.requires:
            _walk(req.test, positive, mine, found)
        for cond, pol, under in mine:
            if isinstance(cond, FactCond):
                todo.extend((x, pol, under) for x in derivers.get(cond.fact, ()))
            else:
                leaves.append((cond, pol, under))

    acc = _Terms(vocab)
    as_data = _Terms(vocab)  # (the leaves read as data: not under an 'unmet')
    for cond, pol, under in leaves:
        kind = BY_MODEL.get(type(cond))
        if kind is not None and kind.case_terms is not None:
            kind.case_terms(cond, pol, vocab, acc)
            # (a leaf that asks only whether something was found, like one under an 'unmet': an
            # alteration read as 'identified')
            if not under and not (kind.found_only is not None and kind.found_only(cond)):
                kind.case_terms(cond, pol, vocab, as_data)
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
        found_only=frozenset(polarity) - frozenset(as_data.polarity),
        stages=tuple(sorted(stages)),
        history=tuple(history),
        germline=germline,
        fields=tuple(sorted((f, tuple(sorted(v))) for f, v in acc.fields.items())),
        dates=tuple(sorted(dates)),
        in_effect=tuple(sorted(set(in_effect))),
        names_in=tuple(name for name, code in d.names if code in inside),
    )


# --------------------------------------------------------------------------- utilities


def _invasive(vocab) -> dict:
    """The cancer types cases are generated with: every type but the non-invasive (in situ)
    ones, which contradict the locally advanced and metastatic stages drawn beside them."""
    skip = vocab.cancers.non_invasive
    return {c: ct for c, ct in vocab.cancer_types.items() if c not in skip}


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

