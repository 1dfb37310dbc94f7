"""Semantic verification of a rule base: the checks ``kras-rules check`` runs after the examples.

The rules mention finitely many things: cancer codes, alterations (named variants, codons,
kinds, origins), stages, prior-therapy patterns, dates and jurisdictions. Every case falls into
one *abstract profile* of that finite domain, and every case of a profile gets the same outcome
from every rule. :func:`verify` enumerates the profiles, for each therapy separately over only the
dimensions its rules (and the facts they use) mention, evaluates every rule with the engine's own
evaluator and resolution order, and reports what it finds. Nothing here knows a gene, drug or
date: the domain is built from the compiled rules and the vocabulary.

The domain, per dimension (values that give every relevant condition the same value are merged,
so the enumeration is exhaustive, not sampled):

* cancer type: each code a rule names (it stands for its whole OncoTree subtree) and one code
  outside all of them;
* each gene a rule names: not tested, tested wild-type, and every set of up to
  :data:`MAX_ALTERATIONS_PER_GENE` alterations from the gene's alphabet: each named variant, a
  concrete unnamed change at each named codon, a change at another codon, an unspecified
  ``mutation``, each named kind (amplification, fusion with each named partner, loss), each
  somatic or germline and acquired or not where a rule distinguishes it;
* each scalar case field a condition kind declares (its ``FieldDimension``: stage, germline
  testing, candidacy for multiagent therapy, ...): unknown or each value;
* prior therapy: unknown, none, and every history of up to :data:`MAX_LINES` lines built from the
  classes and drugs the rules name (all their combinations when there are few, otherwise each
  one, each pattern and all of them together), each named setting and outcome plus another one,
  and weeks on each side of each ``min_weeks``;
* date and jurisdiction: each ``effective_from`` / ``effective_to`` and the day before, in each
  jurisdiction a rule names, the default one and one no rule names.

Findings, each with a stable code, the rules concerned and a witness case (compact case JSON that
``kras-rules evaluate`` accepts and that reproduces the finding). The codes, their names,
severities and meanings are data in :data:`engine.semantics.CHECK_CODES` (rules/README.md's table
is generated from it): V001 conflict, V002 allele leak, V003 dead rule, V004 shadowed rule, V005
duplicate rule, V006 subsumed rule, V007 fact never produced, V008 fact never used, V009 cycle,
V010 coverage gap, V011 population and conditions disagree, V012 population not stated, V014 fact
read outside its derivations' dates.

Verdict compatibility (V001). Rules about one therapy may legitimately disagree: an approval
under one label and a failed criterion under another (``eligible`` and ``not_eligible``: any
indication met is enough), a trial option and a failed label criterion, an exclusion and a failed
criterion. Those are settled by the documented strength order. The one contradiction that must be
declared is an approval meeting an exclusion: strength alone would silently let the exclusion win,
so one of the two rules (or a third rule that applies) must say ``overrides``. Only rules whose
``when`` is true count: a rule that merely might apply (``conditional`` on an unknown biomarker)
asserts nothing yet, and the profile where the biomarker is known is examined anyway.

Allele gates (V002). A therapy is *gated* by an allele when one of its ``eligible`` rules needs,
in its ``when`` (directly or through derived facts), an alteration pattern that names variants or
codons: with that pattern false the rule cannot apply. A therapy also inherits the gates of every
catalogue therapy whose drugs it contains (an inhibitor's gate holds for its combinations). A
profile *lacks* the gate when the gene was tested and every gated approval is ruled out by it;
any rule giving the therapy a positive verdict there leaks.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, get_args
from collections.abc import Iterable

from engine.case import Alt, CaseIn, Line, NormalCase
from engine.errors import Problem, TermError
from engine.evaluation.evaluator import (
    AllNode,
    AnyNode,
    AtomNode,
    CompiledRule,
    Ctx,
    FactNode,
    Node,
    NotNode,
    Program,
    rule_outcome,
)
from engine.conditions import KINDS, DomainTerms, FieldDimension, HistoryRole, HistoryTerms, LeafNames
from engine.semantics import CHECK_CODES, POSITIVE, apply_pending, choose
from engine.rules_model import Outcome, Setting

MAX_ALTERATIONS_PER_GENE = 3
MAX_LINES = 4
POWERSET_ITEMS = 5  # prior-therapy classes/drugs up to which every combination is a line
OTHER_JURISDICTION = "OTHER"
_AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
_RANK = {False: 0, None: 1, True: 2}

CODES: dict[str, tuple[str, str]] = {code: (name, sev) for code, (name, sev, _) in CHECK_CODES.items()}
# rules whose evidence must state its population (V012): by verdict, evidence or kind
POPULATION_VERDICTS = frozenset({"excluded"})
POPULATION_EVIDENCE = frozenset({"resistance_standard", "resistance_clinical", "resistance_preclinical",
                                 "clinical", "preclinical", "phase3"})


# --------------------------------------------------------------------------- report


@dataclass
class Finding:
    """One thing found: its code, the rules concerned, a message and a witness case."""

    code: str
    rules: tuple[str, ...]
    message: str
    witness: dict | None = None
    therapy: str | None = None

    @property
    def name(self) -> str:
        return CODES[self.code][0]

    @property
    def severity(self) -> str:
        return CODES[self.code][1]

    def text(self) -> str:
        out = f"{self.code} {self.name}: {self.message}"
        if self.witness is not None:
            out += " Witness: " + json.dumps(self.witness, separators=(",", ":"))
        return out


@dataclass
class VerifyReport:
    """What :func:`verify` found. ``problems`` (the errors) fail ``check``; ``warnings`` do not.
    ``summary`` is shown by ``check --verbose``."""

    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    profiles: int = 0
    seconds: float = 0.0
    per_therapy: dict[str, int] = field(default_factory=dict)

    def codes(self, severity: str | None = None) -> set[str]:
        return {f.code for f in self.findings if severity is None or f.severity == severity}

    def find(self, code: str, rule: str | None = None) -> list[Finding]:
        return [f for f in self.findings if f.code == code and (rule is None or rule in f.rules)]


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class _GeneState:
    alts: tuple[Alt, ...]
    tested: bool
    germline: bool  # carries a germline alteration (germline testing is then done)


@dataclass(frozen=True)
class _Slice:
    as_of: dt.date
    jurisdiction: str


@dataclass
class _Dim:
    """One dimension of the domain: its values, and the atoms whose value depends only on it."""

    name: str
    atoms: tuple[int, ...]
    values: list  # representatives
    vectors: list[tuple]  # per value: the atoms' values (for dedupe per unit)
    default: Any  # the value used when no relevant atom depends on the dimension


class _When:
    """A duck-typed stand-in for a case in ``CompiledRule.in_effect``."""

    __slots__ = ("as_of", "jurisdiction")

    def __init__(self, as_of: dt.date, jurisdiction: str):
        self.as_of = as_of
        self.jurisdiction = jurisdiction


class _Domain:
    """The abstract domain of a compiled rule base, built from its atoms."""

    def __init__(self, program: Program):
        self.program = program
        rb = program.rb
        self.vocab = rb.vocab
        self.default_jurisdiction = rb.meta.default_jurisdiction.upper()
        atoms = program.atoms
        self.kind_atoms: dict[str, list[int]] = {}
        self.gene_atoms: dict[str, list[int]] = {}
        self.terms = DomainTerms()  # what the cancer and gene kinds' domain hooks name
        self.cancer_atoms: list[int] = []
        for a in atoms:
            self.kind_atoms.setdefault(a.kind, []).append(a.index)
            kind = KINDS[a.kind]
            gene = kind.domain(a.key, self.terms) if kind.domain is not None else None
            if kind.dimension == "gene" and gene is not None:
                self.gene_atoms.setdefault(gene, []).append(a.index)
            elif kind.dimension == "cancer":
                self.cancer_atoms.append(a.index)
        self.cancers = self._cancer_dim()
        self.fields = self._field_dims()
        self.unknown: tuple = tuple(None for _ in self.fields)  # every scalar field absent
        self._field_names = tuple(fd.field for fd, _ in self.fields)
        self._implied = [(k, fd.field, fd.implied) for k, (fd, _) in enumerate(self.fields) if fd.implied]

    # the search's dimensions, built when first used: ``check --quick`` needs only the cancers and fields
    @functools.cached_property
    def history(self) -> _Dim:
        return self._history_dim()

    @functools.cached_property
    def genes(self) -> dict[str, _Dim]:
        return {g: self._gene_dim(g) for g in sorted(self.gene_atoms)}

    @functools.cached_property
    def slices(self) -> list[_Slice]:
        return self._slices()

    # ---------------------------------------------------------------- case building

    def case(self, cancer: str, fields: tuple, genes: dict[str, _GeneState], lines, sl: _Slice) -> NormalCase:
        """``fields``: the values of the scalar field dimensions (:attr:`fields`), in order."""
        alts: list[Alt] = []
        tested: set[str] = set()
        for g, st in genes.items():
            alts.extend(st.alts)
            if st.tested:
                tested.add(g)
        kw = dict(zip(self._field_names, fields, strict=True))
        for k, name, implied in self._implied:
            kw[name] = implied(fields[k], alts)
        ct = self.vocab.cancer_types[cancer]
        return NormalCase(
            id="verify",
            cancer=ct,
            lineage=frozenset(ct.lineage),
            alterations=tuple(sorted(alts, key=lambda a: (a.gene, a.label, a.origin, -1 if a.acquired is None else int(a.acquired), a.partner or ""))),
            tested=frozenset(tested),
            tested_listed=bool(tested),
            lines=lines,
            as_of=sl.as_of,
            jurisdiction=sl.jurisdiction,
            **kw,
        )

    def _probe(self, **kw) -> NormalCase:
        base = dict(cancer=self.cancers.default, fields=self.unknown, genes={}, lines=None,
                    sl=_Slice(self.program.rb.meta.knowledge_version, self.default_jurisdiction))
        base.update(kw)
        return self.case(**base)

    def _values(self, idx: Iterable[int], case: NormalCase) -> tuple:
        atoms = self.program.atoms
        return tuple(atoms[i].fn(case) for i in idx)

    # ---------------------------------------------------------------- dimensions

    def _cancer_dim(self) -> _Dim:
        """Each code a rule names stands for its subtree (the deepest named code above a case's
        type decides every cancer condition), plus one type outside every named subtree."""
        idx = tuple(self.cancer_atoms)
        named: set[str] = set(self.terms.cancers)
        types = self.vocab.cancer_types
        outside = next((c for c in sorted(types, key=lambda c: (len(types[c].lineage) != 2, c))
                        if named.isdisjoint(types[c].lineage)), None)
        # a case coded less specifically than a named code (LUNG for NSCLC) is unknown for it
        coarser = sorted({a for c in named for a in types[c].lineage[1:]} - named)
        values = sorted(named) + coarser + ([outside] if outside else [])
        return _Dim("cancer", idx, values, [], outside if outside else values[-1] if values else sorted(types)[0])

    def _field_dims(self) -> list[tuple[FieldDimension, _Dim]]:
        """One dimension per scalar case field a condition kind declares (its
        :class:`~engine.conditions.FieldDimension`: stage, germline testing, ...), holding the
        atoms of its kinds and those of other kinds that depend on it (``depends``)."""
        own: dict[str, FieldDimension] = {}
        idx: dict[str, list[int]] = {}
        for key, kind in KINDS.items():
            if isinstance(kind.dimension, FieldDimension):
                fd = own.setdefault(kind.dimension.field, kind.dimension)
                idx.setdefault(fd.field, []).extend(self.kind_atoms.get(key, ()))
        self.coupled: dict[str, frozenset[int]] = {}
        extra: dict[str, list[int]] = {f: [] for f in own}
        for a in self.program.atoms:
            dep = KINDS[a.kind].depends
            for f in dep(a.spec) if dep is not None else ():
                if f in own:
                    extra[f].append(a.index)
        for f in own:
            self.coupled[f] = frozenset(extra[f])
        return [(fd, _Dim(fd.field, tuple(idx[f]) + tuple(extra[f]), list(fd.values), [], None)) for f, fd in own.items()]

    def _alt_fields(self, value) -> tuple:
        """The scalar fields all unknown but those the alterations imply (germline testing), set
        to ``value``."""
        out = list(self.unknown)
        for k, _name, _implied in self._implied:
            out[k] = value
        return tuple(out)

    # genes -------------------------------------------------------------

    def _variant(self, gene: str, text: str):
        try:
            return self.vocab.variant(gene, text)
        except TermError:
            return None

    def _change_at(self, gene: str, codon: int, avoid: set[str]):
        """A concrete protein change at ``codon`` whose label is not in ``avoid``."""
        for ref in _AMINO_ACIDS:
            for alt in _AMINO_ACIDS:
                if alt == ref:
                    continue
                v = self._variant(gene, f"{ref}{codon}{alt}")
                if v is None:
                    break  # wrong reference residue: try the next one
                if v.label not in avoid:
                    return v
        return None

    def _alphabet(self, gene: str) -> list[Alt]:
        t = self.terms.genes[gene]
        labels: list[str] = t.labels
        codons: set[int] = t.codons
        kinds: set[str] = t.kinds
        origins: set[str] = t.origins
        acquired: set[bool] = t.acquired
        partners: set[str] = t.partners
        acquired_on = t.acquired_on
        base: list[tuple[str, str, int | None, str | None]] = []
        named_codons: set[int] = set(codons)
        for lab in labels:
            v = self._variant(gene, lab)
            if v is not None:
                base.append((v.kind, v.label, v.codon, None))
                if v.codon is not None:
                    named_codons.add(v.codon)
        for c in sorted(codons):
            v = self._change_at(gene, c, set(labels))
            if v is not None:
                base.append((v.kind, v.label, v.codon, None))
        base.append(("mutation", "mutation", None, None))  # an unspecified change
        for c in [c + 1 for c in sorted(named_codons)] + list(range(2, 1000)):
            if c in named_codons:
                continue
            v = self._change_at(gene, c, set(labels))  # a change at a codon no rule names
            if v is not None:
                base.append((v.kind, v.label, v.codon, None))
                break
        for kind in sorted(kinds - {"mutation"}):
            base.append((kind, kind, None, None))
            if kind == "fusion":
                for p in sorted(partners):
                    base.append((kind, kind, None, p))
        out: list[Alt] = []
        for origin in ["somatic"] + (["germline"] if "germline" in origins else []):
            flags: list[bool | None] = [None]
            if origin == "somatic" and (acquired or acquired_on):
                flags.append(True)
            if origin == "somatic" and acquired_on:
                flags.append(False)
            for acq in flags:
                for kind, label, codon, partner in base:
                    out.append(Alt(gene, kind, label, codon, origin, acq, partner))
        return out

    def _gene_dim(self, gene: str) -> _Dim:
        idx = tuple(self.gene_atoms[gene])
        single: list[tuple[Alt, tuple]] = []
        seen: set[tuple] = set()
        # an alteration acquired on a drug class: what its flag means depends on the history, so
        # alterations are told apart under each exposure to the class too, not only without one
        expos = self._exposures(idx)
        width = len(idx) * (1 + len(expos))

        def effects(st: _GeneState, gt: bool | None) -> tuple:
            return self._values(idx, self._probe(genes={gene: st}, fields=self._alt_fields(gt)))

        def exposed(st: _GeneState) -> list[tuple]:
            return [self._values(idx, self._probe(genes={gene: st}, fields=self._alt_fields(True), lines=h))
                    for h in expos]

        for alt in self._alphabet(gene):
            st = _GeneState((alt,), True, alt.origin == "germline")
            vec = effects(st, True)
            for v in exposed(st):
                vec += v
            key = (alt.origin == "germline", vec)
            if key not in seen:
                seen.add(key)
                single.append((alt, vec))
        # every set of up to N alterations, merged by the union of their effects
        start = [_GeneState((), False, False), _GeneState((), True, False)]
        states: dict[tuple, _GeneState] = {}
        frontier: list[tuple[tuple, _GeneState, tuple]] = []
        for st in start:
            k = (st.tested, False, tuple(None for _ in range(width)))
            states[k] = st
            frontier.append((k, st, tuple(-1 for _ in range(width))))
        for _depth in range(MAX_ALTERATIONS_PER_GENE):
            nxt = []
            for _k, st, ranks in frontier:
                for alt, vec in single:
                    if alt in st.alts:
                        continue
                    r = tuple(max(a, _RANK[b]) for a, b in zip(ranks, vec, strict=True))
                    germ = st.germline or alt.origin == "germline"
                    tested = st.tested or alt.origin == "somatic"
                    k = (tested, germ, r)
                    if k in states:
                        continue
                    new = _GeneState(st.alts + (alt,), tested, germ)
                    states[k] = new
                    nxt.append((k, new, r))
            frontier = nxt
        dim = _Dim(gene, idx, [], [], start[0])
        for st in states.values():
            vecs: list[tuple | None] = []
            for gt in (True, False, None):
                if st.germline and gt is not True:
                    vecs.append(None)
                else:
                    vecs.append(effects(st, gt))
            vecs += exposed(st)  # (after the three above, which readers index)
            dim.values.append(st)
            dim.vectors.append(tuple(vecs))
        return dim

    def _exposures(self, idx: Iterable[int]) -> list[tuple]:
        """Histories that tell apart the ways an alteration may have been acquired on each drug
        class the atoms ``idx`` ask about: none given of the class, one line of it without an
        outcome, one ending in progression (with no history at all: the probe's default)."""
        classes = sorted({c for i in idx if (c := _names(self.program, i).acquired_on) is not None})
        out: list[tuple] = [()] if classes else []
        vocab = self.vocab
        for c in classes:
            d = min(vocab.drugs_in_class(c))
            for outcome in (None, "progression"):
                out.append((Line(frozenset({d}), frozenset(vocab.drug(d).classes), None, outcome, None, d),))
        return out

    # prior therapy ------------------------------------------------------

    def _history_dim(self) -> _Dim:
        kinds = tuple(k for k, kind in KINDS.items() if kind.dimension == "history")
        idx = tuple(i for k in kinds for i in self.kind_atoms.get(k, ()))
        dim = _Dim("history", idx, [None], [], None)
        vocab = self.vocab
        atoms_ = self.program.atoms
        # what each kind's history hook says (engine.conditions: HistoryRole, HistoryTerms): the
        # history kinds' atoms first, in order (their patterns order the lines), then the atoms
        # of other kinds that depend on exposure to a drug class (acquired on it)
        terms = HistoryTerms()
        roles: dict[int, HistoryRole] = {}
        for i in idx:
            hook = KINDS[atoms_[i].kind].history
            if hook is not None:
                roles[i] = hook(atoms_[i].spec, vocab, terms)
        exposure = []
        for a in atoms_:
            hook = KINDS[a.kind].history
            if a.index not in roles and hook is not None and hook(a.spec, vocab, terms) is not None:
                exposure.append(a.index)
        self.acquired_on_atoms = frozenset(exposure)
        if not idx and not self.acquired_on_atoms:
            return dim
        items_c: set[str] = terms.classes
        items_d: set[str] = terms.drugs
        settings: set[str] = terms.settings
        outcomes: set[str] = terms.outcomes
        weeks: set[int] = terms.weeks
        patterns: list[tuple[frozenset, frozenset]] = terms.patterns
        # drug classes an alteration may have been acquired on: exposure and progression matter
        acq_classes = sorted(terms.acquired_on)
        items_c |= set(acq_classes)
        if acq_classes:
            outcomes.add("progression")
        positional = any(r.positional for r in roles.values())
        items = items_c | items_d

        def expo(lines_: tuple) -> tuple:
            """Per acquired-on class: 0 never given, 1 given without progression, 2 progression."""
            return tuple(max((2 if ln.outcome == "progression" else 1 for ln in lines_ if c in ln.classes),
                             default=0) for c in acq_classes)

        def hits(drug: str) -> int:
            d = vocab.drug(drug)
            return len(d.classes & items_c) + (drug in items_d)

        def rep(cls: str) -> str:
            return min(vocab.drugs_in_class(cls), key=lambda d: (hits(d), len(vocab.drug(d).classes), d))

        other = min(vocab.drugs, key=lambda d: (hits(d), "chemotherapy" not in vocab.drug(d).classes, d))
        single = {c: rep(c) for c in sorted(items_c)} | {d: d for d in sorted(items_d)}
        drug_sets: list[frozenset[str]] = [frozenset({other})]
        ordered = sorted(items)
        if len(ordered) <= POWERSET_ITEMS:
            for n in range(1, len(ordered) + 1):
                for combo in itertools.combinations(ordered, n):
                    drug_sets.append(frozenset(single[x] for x in combo))
        else:
            drug_sets += [frozenset({single[x]}) for x in ordered]
            for cs, ds in patterns:
                drug_sets.append(frozenset(single[x] for x in cs | ds))
            drug_sets.append(frozenset(single.values()))
        set_values = [None] + sorted(settings) + [s for s in get_args(Setting) if s not in settings][:1] if settings else [None]
        out_values = [None] + sorted(outcomes) + [o for o in get_args(Outcome) if o not in outcomes][:1] if outcomes else [None]
        week_values: list = [None]
        for w in sorted(weeks):
            week_values += [float(w)] + ([float(w - 1)] if w >= 1 else [])
        line_idx = [i for i in idx if roles[i].role != "history"]
        lines: list[Line] = []
        seen: set[tuple] = set()
        for ds in dict.fromkeys(drug_sets):
            classes: set[str] = set()
            for d in ds:
                classes |= vocab.drug(d).classes
            for st, oc, wk in itertools.product(set_values, out_values, dict.fromkeys(week_values)):
                ln = Line(frozenset(ds), frozenset(classes), st, oc, wk, " + ".join(sorted(ds)))
                key = (frozenset((classes | ds) & items), self._values(line_idx, self._probe(lines=(ln,))),
                       expo((ln,)), st if positional else None)
                if key not in seen:
                    seen.add(key)
                    lines.append(ln)
        # histories: every sequence of up to MAX_LINES lines, merged by what later lines can change
        counts = [roles[i] for i in idx if roles[i].role == "count"]
        per_line = [i for i in idx if roles[i].role == "line"]
        caps = [r.cap for r in counts]
        line_info = {}
        for ln in lines:
            cnt = []
            for r in counts:
                st = r.settings
                sure = st is None or ln.setting in st
                cnt.append((int(sure), int(sure or (st is not None and ln.setting is None))))
            flags = self._values(per_line, self._probe(lines=(ln,)))
            line_info[ln] = (tuple(cnt), frozenset((ln.classes | ln.drugs) & items), flags)
        # a line's per-line values depend on what came before it only through "before": 0 no
        # line for advanced disease yet, 1 maybe (a line of unknown setting), 2 yes
        # only per-line atoms with a position depend on the lines before a line, and only through
        # "before": 0 no line for advanced disease yet, 1 maybe (a line of unknown setting), 2 yes
        pos_k = [k for k, i in enumerate(per_line) if roles[i].positional]
        pos_atoms = [per_line[k] for k in pos_k]
        neutral = {1: Line(frozenset({other}), vocab.drug(other).classes, None, None, None, other),
                   2: Line(frozenset({other}), vocab.drug(other).classes, terms.a_line, None, None, other)}
        neutral_ok = {b: all(v is False for v in self._values(pos_atoms, self._probe(lines=(neutral[b],))))
                      for b in neutral}
        positioned: dict[tuple, tuple] = {}

        def at_position(ln: Line, before: int, hist: tuple) -> tuple:
            key = (ln, before)
            hit = positioned.get(key)
            if hit is None:
                if before and not neutral_ok[before]:
                    return self._values(per_line, self._probe(lines=hist + (ln,)))
                prefix = (neutral[before],) if before else ()
                vals = list(line_info[ln][2])
                for k, v in zip(pos_k, self._values(pos_atoms, self._probe(lines=prefix + (ln,))), strict=True):
                    vals[k] = v
                hit = positioned[key] = tuple(vals)
            return hit

        line_fast = {ln: (lc, lg, tuple(_RANK[v] for v in lf), expo((ln,))) for ln, (lc, lg, lf) in line_info.items()}
        start_key: tuple = (tuple((0, 0) for _ in counts), frozenset(), tuple(-1 for _ in per_line), expo(()), 0)
        states: dict[tuple, tuple] = {start_key: ()}
        frontier: list[tuple[tuple, tuple]] = [(start_key, ())]
        for _depth in range(MAX_LINES):
            nxt = []
            for (cnt, got, flags, ex, before), hist in frontier:
                for ln in lines:
                    lc, lg, lfr, lex = line_fast[ln]
                    if positional:  # a line's position depends on the lines before it
                        lfr = tuple(_RANK[v] for v in at_position(ln, before, hist))
                        nb = before if ln.setting in terms.not_a_line else (
                            max(before, 1) if ln.setting is None else 2)
                    else:
                        nb = 0
                    k = (
                        tuple((min(a + c, m), min(b + d, m)) for (a, b), (c, d), m in zip(cnt, lc, caps, strict=True)) if caps else cnt,
                        got | lg,
                        tuple(map(max, flags, lfr)),
                        tuple(map(max, ex, lex)) if lex else ex,
                        nb,
                    )
                    if k in states:
                        continue
                    states[k] = hist + (ln,)
                    nxt.append((k, hist + (ln,)))
            frontier = nxt
        dim.values += list(states.values())
        dim.vectors = [self._values(idx, self._probe(lines=h)) + ((expo(h) if h is not None else None),)
                       for h in dim.values]
        return dim

    # dates and jurisdictions ------------------------------------------

    def _slices(self) -> list[_Slice]:
        dates: set[dt.date] = set()
        jurs = {self.default_jurisdiction}
        for cr in self.program.rules:
            if cr.rule.status == "retired":
                continue
            for d in (cr.start, cr.end):
                if d is not None:
                    dates |= {d, d - dt.timedelta(days=1)}
            if cr.jurisdiction:
                jurs.add(cr.jurisdiction)
        if len(jurs) > 1 or any(cr.jurisdiction for cr in self.program.rules):
            jurs.add(OTHER_JURISDICTION)
        dates.add(self.program.rb.meta.knowledge_version)
        ordered_j = [self.default_jurisdiction] + sorted(jurs - {self.default_jurisdiction})
        return [_Slice(d, j) for j in ordered_j for d in sorted(dates, reverse=True)]

    def gene_vector(self, dim: _Dim, k: int, positions: list[int]) -> tuple:
        return tuple(None if v is None else tuple(v[p] for p in positions) for v in dim.vectors[k])


# --------------------------------------------------------------------------- helpers over compiled rules


def _walk(node: Node, program: Program, atoms: set[int], facts: set[str]) -> None:
    if isinstance(node, AtomNode):
        atoms.add(node.i)
    elif isinstance(node, FactNode):
        if node.name in facts:
            return
        facts.add(node.name)
        for cr in program.derivers.get(node.name, ()):
            _walk(cr.when, program, atoms, facts)
    elif isinstance(node, NotNode):
        _walk(node.kid, program, atoms, facts)
    elif isinstance(node, AllNode):  # and AnyNode
        for k in node.kids:
            _walk(k, program, atoms, facts)


def _necessary(node: Node, program: Program, trail: frozenset = frozenset()) -> frozenset[int]:
    """Atoms that, when false, make ``node`` false (so a rule gated by them is silent)."""
    if isinstance(node, AtomNode):
        return frozenset({node.i})
    if isinstance(node, FactNode):
        if node.name in trail:
            return frozenset()
        ders = [cr for cr in program.derivers.get(node.name, ()) if cr.rule.status != "retired"]
        if not ders:
            return frozenset()
        sets = [_necessary(cr.when, program, trail | {node.name}) for cr in ders]
        return frozenset.intersection(*sets)
    if isinstance(node, NotNode):
        return frozenset()
    if isinstance(node, AnyNode):
        sets = [_necessary(k, program, trail) for k in node.kids]
        return frozenset.intersection(*sets)
    if isinstance(node, AllNode):
        out: frozenset[int] = frozenset()
        for k in node.kids:
            out |= _necessary(k, program, trail)
        return out
    return frozenset()


def _conditional(out, p_cr, p_out):
    return dataclasses.replace(out, verdict="conditional", pending=False)


def _cancer_probe(node: Node, ctx: Ctx, busy: set[str]):
    """The value of ``node`` when only the cancer type is known, looking through derived facts
    (False: no case of this cancer type makes it true or unknown)."""
    if isinstance(node, FactNode):
        if node.name in busy:
            return None
        vals = [_cancer_probe(cr.when, ctx, busy | {node.name}) for cr in ctx.program.derivers.get(node.name, ())]
        return True if True in vals else (None if None in vals else False)
    if isinstance(node, AnyNode):
        vals = [_cancer_probe(k, ctx, busy) for k in node.kids]
        return True if True in vals else (None if None in vals else False)
    if isinstance(node, AllNode):
        vals = [_cancer_probe(k, ctx, busy) for k in node.kids]
        return False if False in vals else (None if None in vals else True)
    if isinstance(node, NotNode):  # Not and Unmet: only a definite value can be negated
        v = _cancer_probe(node.kid, ctx, busy)
        return None if v is None else (not v if type(node) is NotNode else v is not True)
    return node.probe(ctx)


def _fact_refs(node: Node, out: set[str]) -> None:
    if isinstance(node, FactNode):
        out.add(node.name)
    elif isinstance(node, NotNode):
        _fact_refs(node.kid, out)
    elif isinstance(node, AllNode):
        for k in node.kids:
            _fact_refs(k, out)


def _describe_atom(program: Program, i: int) -> str:
    """An atom's leaf in the findings' words (as its kind words it: "KRAS G12C", "NRAS codon 12/13")."""
    a = program.atoms[i]
    return KINDS[a.kind].finding_words(a.key, a.label)


def _names(program: Program, i: int) -> LeafNames:
    """What an atom's leaf names (gene, cancer codes, acquired-on class), as its kind reads its key."""
    a = program.atoms[i]
    return KINDS[a.kind].named(a.key)


def _with_drugs(program: Program) -> dict[str, frozenset[str]]:
    vocab = program.rb.vocab
    return {t.id: frozenset(vocab.drug(d).name for d in t.drugs) for t in program.rb.therapies.values()}


# --------------------------------------------------------------------------- the search


class _Unit:
    """One exhaustive enumeration: the profiles of the dimensions some rules use."""

    def __init__(self, dom: _Domain, atoms: set[int], rules: list[CompiledRule]):
        self.dom = dom
        program = dom.program
        self.rules = rules
        facts: set[str] = set()
        for cr in rules:
            _walk(cr.when, program, atoms, facts)
            for r in cr.requires:
                _walk(r, program, atoms, facts)
        self.atoms = atoms
        self.derivers = [cr for f in sorted(facts) for cr in program.derivers.get(f, ())]
        # dimensions, each reduced to the values that differ on the atoms used here
        self.dims: list[tuple[str, list]] = []
        cancer = dom.cancers
        self.dims.append(("cancer", self._reduce_simple(cancer, lambda code: dom._probe(cancer=code))))
        # scalar fields: every value where an atom of another kind depends on the field (the
        # alterations imply it), otherwise the values that differ on the atoms used here
        self.implied_checks: list[tuple[int, Any, list]] = []
        for k, (fd, fdim) in enumerate(dom.fields):
            if atoms & dom.coupled[fd.field]:
                vals = list(fdim.values)
            else:
                vals = self._reduce_simple(fdim, lambda v, k=k: dom._probe(fields=dom.unknown[:k] + (v,) + dom.unknown[k + 1:]))
            self.dims.append((fd.field, vals))
            if fd.implied is not None and len(vals) > 1:
                self.implied_checks.append((k, fd.implied, vals))
        for g, gdim in dom.genes.items():
            pos = [p for p, i in enumerate(gdim.atoms) if i in atoms]
            if not pos:
                continue
            seen: dict[tuple, Any] = {}
            for k, st in enumerate(gdim.values):
                seen.setdefault(dom.gene_vector(gdim, k, pos), st)
            self.dims.append((g, list(seen.values())))
        hpos = [p for p, i in enumerate(dom.history.atoms) if i in atoms]
        if atoms & dom.acquired_on_atoms:  # exposure to a drug class matters too
            hpos.append(len(dom.history.atoms))
        if hpos:
            seen = {}
            for h, vec in zip(dom.history.values, dom.history.vectors, strict=True):
                seen.setdefault(tuple(vec[p] for p in hpos), h)
            self.dims.append(("history", list(seen.values())))
        else:
            self.dims.append(("history", [None]))
        # slices: dates and jurisdictions that put a different set of these rules in effect
        groups: dict[tuple, dict[tuple, _Slice]] = {}
        for sl in dom.slices:
            w = _When(sl.as_of, sl.jurisdiction)
            live = tuple(cr.in_effect(w) for cr in rules)
            if not any(live):
                continue
            dkey = tuple(cr.in_effect(w) for cr in self.derivers)
            groups.setdefault(dkey, {}).setdefault(live, sl)
        self.group_keys = [(dkey, live) for dkey, g in groups.items() for live in g]
        self.groups = [list(g.items()) for g in groups.values()]

    def _reduce_simple(self, dim: _Dim, probe) -> list:
        idx = [i for i in dim.atoms if i in self.atoms]
        if not idx:
            return [dim.default]
        seen: dict[tuple, Any] = {}
        for v in dim.values:
            seen.setdefault(self.dom._values(idx, probe(v)), v)
        return list(seen.values())

    def profiles(self):
        """Every data profile: (cancer, scalar field values, gene states, history); the dates
        and jurisdictions come from the slices."""
        names = [n for n, _ in self.dims]
        nf = len(self.dom.fields)
        gene_names = names[1 + nf:-1]
        checks = self.implied_checks
        for combo in itertools.product(*(vals for _, vals in self.dims)):
            fields = combo[1:1 + nf]
            genes = dict(zip(gene_names, combo[1 + nf:-1], strict=True))
            if checks:
                alts = [a for st in genes.values() for a in st.alts]
                # a field the alterations imply (a germline finding: germline testing done) is
                # that value: another value is invalid input or, unknown, the same profile as
                # the implied one when that is enumerated
                if any((w := implied(fields[k], alts)) != fields[k] and w in vals for k, implied, vals in checks):
                    continue
            yield (combo[0], fields, genes, combo[-1])


_CASE_ORDER = tuple(CaseIn.model_fields)


def _case_of(dom: _Domain, prof, sl: _Slice) -> NormalCase:
    cancer, fields, genes, lines = prof
    return dom.case(cancer, fields, genes, lines, sl)


def witness(dom: _Domain, prof, sl: _Slice) -> dict:
    """The profile as a case that ``kras-rules evaluate`` reads."""
    cancer, fields, genes, lines = prof
    out: dict[str, Any] = {"cancer_type": cancer}
    alts = []
    tested = []
    for g, st in sorted(genes.items()):
        if st.tested:
            tested.append(g)
        for a in st.alts:
            d: dict[str, Any] = {"gene": a.gene, "variant": a.label}
            if a.origin != "somatic":
                d["origin"] = a.origin
            if a.acquired is not None:
                d["acquired"] = a.acquired
            if a.partner:
                d["partner"] = a.partner
            alts.append(d)
    if alts:
        out["alterations"] = alts
    if tested:
        out["tested_genes"] = tested
    present = [a for st in genes.values() for a in st.alts]
    for (fd, _), v in zip(dom.fields, fields, strict=True):
        v = fd.implied(v, present) if fd.implied is not None else v
        if v is not None:
            out[fd.field] = v
    if lines is not None:
        hist = []
        for ln in lines:
            d = {"drugs": sorted(ln.drugs)}
            if ln.setting:
                d["setting"] = ln.setting
            if ln.outcome:
                d["outcome"] = ln.outcome
            if ln.weeks is not None:
                d["weeks"] = int(ln.weeks) if float(ln.weeks).is_integer() else ln.weeks
            hist.append(d)
        out["prior_therapies"] = hist
    out["as_of"] = sl.as_of.isoformat()
    if sl.jurisdiction != dom.default_jurisdiction:
        out["jurisdiction"] = sl.jurisdiction
    return {k: out[k] for k in _CASE_ORDER if k in out}  # in the case format's field order


# --------------------------------------------------------------------------- the checks


class _Verifier:
    def __init__(self, program: Program):
        self.program = program
        self.rb = program.rb
        self.findings: list[Finding] = []
        self.profiles = 0
        self.per_therapy: dict[str, int] = {}
        self.live_rules = [cr for cr in program.rules if cr.rule.status != "retired"]
        self.coverage_checked = 0
        self.cyclic: set[str] = set()
        self.skipped: list[str] = []

    def add(self, code: str, rules: Iterable[str], message: str, witness: dict | None = None, therapy: str | None = None):
        self.findings.append(Finding(code, tuple(rules), message, witness, therapy))

    # ---------------------------------------------------------------- structure

    def structure(self) -> None:
        program = self.program
        used: dict[str, set[str]] = {}
        for cr in self.live_rules:
            refs: set[str] = set()
            _fact_refs(cr.when, refs)
            for r in cr.requires:
                _fact_refs(r, refs)
            for f in refs:
                used.setdefault(f, set()).add(cr.rule.id)
        self.used_facts = used
        derived: dict[str, list[str]] = {}
        for cr in self.live_rules:
            if cr.rule.kind == "derivation" and cr.rule.derive is not None:
                derived.setdefault(cr.rule.derive, []).append(cr.rule.id)
        for f, rids in sorted(derived.items()):
            if f not in used:
                self.add("V008", rids, f"fact '{f}' is derived by {', '.join(rids)} but no rule uses it: "
                         f"use it in a condition or remove the derivation.")
        for f, users in sorted(used.items()):
            if f not in derived:
                self.add("V007", sorted(users), f"fact '{f}' is used by {', '.join(sorted(users))} "
                         f"but no rule in effect derives it.")
        # cycles among derived facts
        graph: dict[str, set[str]] = {}
        for cr in self.live_rules:
            if cr.rule.kind == "derivation" and cr.rule.derive is not None:
                refs = set()
                _fact_refs(cr.when, refs)
                graph.setdefault(cr.rule.derive, set()).update(refs)
        self.cyclic = set()
        for comp in _cycles(graph):
            self.cyclic |= set(comp)
            rules = sorted(cr.rule.id for f in comp for cr in program.derivers.get(f, ())
                           if cr.rule.status != "retired" and (set(comp) & _refs_of(cr)))
            chain = " -> ".join(comp + [comp[0]])
            self.add("V009", rules, f"derived facts depend on each other: {chain} (rules {', '.join(rules)}); "
                     f"a fact must not depend on itself.")
        # a fact read on a day no derivation of it holds is false there, silently: every rule
        # reading it must lie within the dates (and regulator) of its derivations
        for cr in self.live_rules:
            refs = _refs_of(cr)
            for r in cr.requires:
                _fact_refs(r, refs)
            for f in sorted(refs):
                gap = _undefined_day(cr, [d for d in program.derivers.get(f, ()) if d.rule.status != "retired"])
                if gap is not None:
                    self.add("V014", (cr.rule.id,), f"{cr.rule.id} reads fact '{f}' on {gap.isoformat()}"
                             f"{' for ' + cr.jurisdiction if cr.jurisdiction else ''}, when no rule deriving it "
                             f"is in effect: there the fact would read as false, not as unknown. Date the rule "
                             f"from its fact's derivation, or date the derivation earlier.")

    # ---------------------------------------------------------------- populations

    def populations(self, dom: _Domain) -> None:
        program = self.program
        types = dom.vocab.cancer_types
        for cr in self.live_rules:
            rule = cr.rule
            pop = rule.population
            if pop is None:
                if rule.kind == "caution" or (rule.kind == "conclusion" and rule.conclude is not None and (
                        rule.conclude.verdict in POPULATION_VERDICTS or rule.evidence in POPULATION_EVIDENCE)):
                    self.add("V012", (rule.id,), f"{rule.id} ({rule.kind}, {rule.evidence or 'caution'}) does not state "
                             "the population its evidence comes from: add 'population' (text, cancers, acquired_on).")
                continue
            if pop.cancers is not None and not pop.any_cancer:
                studied = frozenset(pop.cancers)
                above = {a for c in studied for a in types[c].lineage[1:]}
                for code in dom.cancers.values:
                    if not studied.isdisjoint(types[code].lineage) or code in above:
                        continue
                    case = dom._probe(cancer=code)
                    if _cancer_probe(cr.when, Ctx(program, case), set()) is not False:
                        self.add("V011", (rule.id,), f"{rule.id}: population.cancers is {', '.join(pop.cancers)} but "
                                 f"its conditions admit a {code} ({types[code].name}) tumour; restrict 'when' "
                                 "to the population's cancer types, or widen the population.",
                                 {"cancer_type": code})
                        break
            if pop.acquired_on is not None:
                atoms: set[int] = set()
                _walk(cr.when, program, atoms, set())
                if not any(_names(program, i).acquired_on == pop.acquired_on for i in atoms):
                    self.add("V011", (rule.id,), f"{rule.id}: the evidence comes from alterations acquired on "
                             f"{pop.acquired_on}, but no alteration condition of 'when' says "
                             f"'acquired_on: {pop.acquired_on}': the rule would apply the finding at baseline.")

    # ---------------------------------------------------------------- therapies

    def exclude_cycles(self) -> None:
        """Rules that depend on a fact in a cycle cannot be evaluated: leave them out of the search."""
        if not self.cyclic:
            return
        keep = []
        for cr in self.live_rules:
            atoms: set[int] = set()
            facts: set[str] = set()
            _walk(cr.when, self.program, atoms, facts)
            for r in cr.requires:
                _walk(r, self.program, atoms, facts)
            if facts & self.cyclic or (cr.rule.derive in self.cyclic):
                self.skipped.append(cr.rule.id)
            else:
                keep.append(cr)
        self.live_rules = keep

    def therapies(self, dom: _Domain) -> None:
        program = self.program
        by_therapy: dict[str, list[CompiledRule]] = {}
        for cr in self.live_rules:
            if cr.rule.kind == "conclusion":
                for t in cr.targets:
                    by_therapy.setdefault(t, []).append(cr)
        self.by_therapy = by_therapy
        gates = self._gates(by_therapy)
        self.fired: dict[str, tuple] = {}
        self.decided: set[str] = set()
        self.contradicted: dict[str, tuple] = {}
        self.fired_count: dict[str, int] = {}
        conflicts: dict[tuple, tuple] = {}
        leaks: dict[tuple, tuple] = {}
        pair_info: dict[tuple, dict] = {}
        for t in sorted(by_therapy):
            rules = by_therapy[t]
            t_gates = gates.get(t, [])
            gate_atoms = set().union(*t_gates) if t_gates else set()
            unit = _Unit(dom, set(gate_atoms), rules)
            n = self._run_therapy(dom, unit, t, rules, t_gates, conflicts, leaks, pair_info)
            self.per_therapy[t] = n
            self.profiles += n
        for (p, q), (t, prof, sl, others, _sure) in sorted(conflicts.items()):
            pr, qr = program.by_id[p].rule, program.by_id[q].rule
            assert pr.conclude is not None  # conflicts are between conclusion rules
            also = sorted(others - {t})
            self.add(
                "V001", (p, q),
                f"{t}: {p} ({pr.conclude.verdict}, {pr.evidence}) and {q} (excluded, {qr.evidence}) both apply "
                f"and no 'overrides' says which wins" + (f" (also for {', '.join(also)})" if also else "")
                + f"; declare in {p} or {q} which one sets the other aside, and why.",
                witness(dom, prof, sl), t,
            )
        for (rid, t), (verdict, gate_rules, desc, prof, sl) in sorted(leaks.items()):
            self.add(
                "V002", (rid, *gate_rules),
                f"{t}: {rid} gives '{verdict}' to a tumour shown to lack {desc}, which every approval of "
                f"{t} ({', '.join(gate_rules)}) requires; gate {rid} on the allele.",
                witness(dom, prof, sl), t,
            )
        self._pairs(dom, pair_info)

    def _gates(self, by_therapy: dict[str, list[CompiledRule]]) -> dict[str, list[frozenset]]:
        program = self.program
        own: dict[str, list[tuple[frozenset, str]]] = {}
        for t, rules in by_therapy.items():
            for cr in rules:
                if cr.rule.conclude is None or cr.rule.conclude.verdict != "eligible":
                    continue
                nec = _necessary(cr.when, program)
                g = frozenset(i for i in nec if _names(program, i).specific)
                if g:
                    own.setdefault(t, []).append((g, cr.rule.id))
        drugs = _with_drugs(program)
        out: dict[str, list] = {}
        for t in by_therapy:
            gl = list(own.get(t, []))
            for t0, g0 in own.items():
                if t0 != t and t in drugs and t0 in drugs and drugs[t0] < drugs[t]:
                    gl.extend(g0)
            if gl:
                out[t] = gl
        self.gate_rules = out
        return {t: [g for g, _ in gl] for t, gl in out.items()}

    def _run_therapy(self, dom, unit: _Unit, t, rules, t_gates, conflicts, leaks, pair_info) -> int:
        program = self.program
        ids = [cr.rule.id for cr in rules]
        gate_list = [tuple(sorted(g)) for g in t_gates]
        gate_rules = tuple(sorted({rid for _, rid in self.gate_rules.get(t, [])}))
        gate_desc = " or ".join(sorted({_describe_atom(program, i) for g in t_gates for i in g}))
        approval = [cr.rule.conclude is not None and cr.rule.conclude.verdict == "eligible" for cr in rules]
        # pairs of rules that may turn out duplicates or subsumed (same stated verdict)
        alive: dict[tuple[str, str], tuple[int, int]] = {}
        for ka, kb in itertools.permutations(range(len(rules)), 2):
            ca, cb = rules[ka].rule.conclude, rules[kb].rule.conclude
            if ca.verdict == cb.verdict and ca.unmet == cb.unmet:
                key = (ids[ka], ids[kb])
                info = pair_info.setdefault(key, {"sub": True, "eq": True, "both": 0, "a": 0, "therapies": set()})
                info["therapies"].add(t)
                alive[key] = (ka, kb)
        fired, decided, contradicted, fired_count = self.fired, self.decided, self.contradicted, self.fired_count
        index = {id(cr): k for k, cr in enumerate(rules)}
        count = 0
        for prof in unit.profiles():
            for group in unit.groups:
                ctx = Ctx(program, _case_of(dom, prof, group[0][1]))
                outs = [rule_outcome(cr, ctx) for cr in rules]
                pend = [k for k, o in enumerate(outs) if o is not None and o.pending]
                if pend:  # pending exclusions decide nothing: they only condition the others
                    pending_outs = outs
                    outs = [None if o is not None and o.pending else o for o in outs]
                hot = [k for k, o in enumerate(outs) if o is not None]
                lacks = bool(gate_list) and all(any(ctx.atom(i) is False for i in g) for g in gate_list)
                seen: set[tuple] = set()
                for live, sl in group:
                    count += 1
                    cand = tuple(k for k in hot if live[k])
                    for k in cand:
                        fired_count[ids[k]] = fired_count.get(ids[k], 0) + 1
                        if ids[k] not in fired:
                            fired[ids[k]] = (prof, sl)
                    if alive:
                        self._track_pairs(alive, pair_info, live, outs)
                    pcand = tuple(k for k in pend if live[k]) if pend else ()
                    if not cand or (cand, pcand) in seen:
                        continue  # the same outcomes as a slice already examined for this profile
                    seen.add((cand, pcand))
                    # resolution, exactly as engine.evaluation.resolve does it (engine.semantics)
                    pairs = [(rules[k], outs[k]) for k in cand] + [(rules[k], pending_outs[k]) for k in pcand]
                    decided_outs, _ = apply_pending(pairs, _conditional) if pcand else (pairs, [])
                    if not decided_outs:
                        continue
                    cand = tuple(index[id(cr)] for cr, _ in decided_outs)
                    outs_here = {index[id(cr)]: out for cr, out in decided_outs}
                    best_cr, _, aside = choose(decided_outs)
                    best = index[id(best_cr)]
                    livec = [k for k in cand if ids[k] not in aside]
                    bv = outs_here[best].verdict
                    decided.add(ids[best])
                    for k in cand:
                        if k != best and outs_here[k].verdict != bv and ids[k] not in decided:
                            old = contradicted.get(ids[k])
                            if old is None or (old[1] == "conditional" and bv != "conditional"):
                                contradicted[ids[k]] = (ids[best], bv, outs_here[k].verdict, t, prof, sl)
                    # V001: an approval and an exclusion that both apply, neither set aside
                    pos = [k for k in livec if outs_here[k].when_true and approval[k]
                           and outs_here[k].verdict in ("eligible", "conditional")]
                    if pos:
                        neg = [k for k in livec if outs_here[k].when_true and outs_here[k].verdict == "excluded"]
                        for kp in pos:
                            sure = outs_here[kp].verdict == "eligible"
                            for kq in neg:
                                hit = conflicts.get((ids[kp], ids[kq]))
                                if hit is None or (sure and not hit[4]):
                                    conflicts[(ids[kp], ids[kq])] = (t, prof, sl, (hit[3] if hit else set()) | {t}, sure)
                                else:
                                    hit[3].add(t)
                    # V002: a positive verdict for a tumour that lacks every allele gate
                    if lacks:
                        for k in cand:
                            v = outs_here[k].verdict
                            if v in POSITIVE:
                                old = leaks.get((ids[k], t))
                                if old is None or POSITIVE.index(v) < POSITIVE.index(old[0]):
                                    leaks[(ids[k], t)] = (v, gate_rules, gate_desc, prof, sl)
        return count

    @staticmethod
    def _track_pairs(alive, pair_info, live, outs) -> None:
        for key, (ka, kb) in list(alive.items()):
            info = pair_info[key]
            on_a, on_b = live[ka], live[kb]
            oa, ob = outs[ka], outs[kb]
            va = oa.verdict if on_a and oa is not None else None
            vb = ob.verdict if on_b and ob is not None else None
            if on_a and on_b:
                if va != vb:
                    info["eq"] = False
                elif va is not None:
                    info["both"] += 1
            if va is not None:
                info["a"] += 1
                if vb != va:
                    info["sub"] = False
            if not info["sub"] and not info["eq"]:
                del alive[key]

    def _pairs(self, dom, pair_info) -> None:
        reported: set[frozenset] = set()
        for (a, b), info in sorted(pair_info.items()):
            if info["eq"] and info["both"] and frozenset((a, b)) not in reported:
                reported.add(frozenset((a, b)))
                ts = ", ".join(sorted(info["therapies"]))
                self.add("V005", (a, b), f"{a} and {b} give {ts} the same outcome in every profile where both "
                         f"are in effect ({info['both']} profiles with an outcome): keep one, or make them differ.")
        for (a, b), info in sorted(pair_info.items()):
            if info["sub"] and info["a"] and frozenset((a, b)) not in reported:
                if pair_info.get((b, a), {}).get("sub") and a > b:
                    continue  # mutual: reported once
                ts = ", ".join(sorted(info["therapies"]))
                self.add("V006", (a, b), f"{a} adds no verdict of its own for {ts}: wherever it applies, {b} "
                         f"gives the same verdict.")

    # ---------------------------------------------------------------- derivations and notes

    def facts_and_notes(self, dom: _Domain) -> dict[str, bool]:
        program = self.program
        fact_true: dict[str, bool] = {}
        by_fact: dict[str, list[CompiledRule]] = {}
        for cr in self.live_rules:
            if cr.rule.kind == "derivation" and cr.rule.derive is not None:
                by_fact.setdefault(cr.rule.derive, []).append(cr)
        self.note_fired: dict[str, bool] = {}
        self.derivation_true: dict[str, bool] = {}
        for f, ders in sorted(by_fact.items()):
            unit = _Unit(dom, set(), ders)
            true_any = False
            vals_eq = {(a.rule.id, b.rule.id): True for a, b in itertools.permutations(ders, 2)}
            vals_sub = dict(vals_eq)
            both = {k: 0 for k in vals_eq}
            for prof in unit.profiles():
                for group in unit.groups:
                    case = _case_of(dom, prof, group[0][1])
                    ctx = Ctx(program, case)
                    vals = [cr.when.tv(ctx) for cr in ders]
                    for live, _sl in group:
                        self.profiles += 1
                        cur = {cr.rule.id: (v if on else False) for cr, v, on in zip(ders, vals, live, strict=False)}
                        for cr, on in zip(ders, live, strict=False):
                            if on and cur[cr.rule.id] is True:
                                self.derivation_true[cr.rule.id] = True
                                true_any = True
                        for (a, b) in vals_eq:
                            va, vb = cur[a], cur[b]
                            if va != vb:
                                vals_eq[(a, b)] = False
                            if va is True and vb is not True:
                                vals_sub[(a, b)] = False
                            if va is True and vb is True:
                                both[(a, b)] += 1
            fact_true[f] = true_any
            done: set[frozenset] = set()
            for (a, b), eq in sorted(vals_eq.items()):
                if eq and both[(a, b)] and frozenset((a, b)) not in done:
                    done.add(frozenset((a, b)))
                    self.add("V005", (a, b), f"{a} and {b} derive '{f}' with the same value in every profile: keep one.")
            for (a, b), sub in sorted(vals_sub.items()):
                if sub and not vals_eq[(a, b)] and self.derivation_true.get(a):
                    self.add("V006", (a, b), f"{a} adds nothing to '{f}': wherever it holds, {b} already derives it.")
        for cr in self.live_rules:
            if cr.rule.kind != "note":
                continue
            unit = _Unit(dom, set(), [cr])
            hit = False
            for prof in unit.profiles():
                for group in unit.groups:
                    ctx = Ctx(program, _case_of(dom, prof, group[0][1]))
                    self.profiles += len(group)
                    if cr.when.tv(ctx) is True:
                        hit = True
                        break
                if hit:
                    break
            self.note_fired[cr.rule.id] = hit
        return fact_true

    # ---------------------------------------------------------------- per-rule verdicts

    def rule_findings(self, dom: _Domain, fact_true: dict[str, bool]) -> None:
        for cr in self.live_rules:
            r = cr.rule
            rid = r.id
            window = f"{r.effective_from}" + (f" to {r.effective_to}" if r.effective_to else " onwards")
            if r.kind == "conclusion":
                if rid not in self.fired:
                    self.add("V003", (rid,), f"{rid} gives no outcome in any profile (in effect {window}"
                             + (f", {r.jurisdiction}" if r.jurisdiction else "") + "): its conditions can never hold together.")
                elif rid not in self.decided:
                    if rid in self.contradicted:
                        other, v_best, v_own, t, prof, sl = self.contradicted[rid]
                        self.add("V004", (rid, other), f"{t}: {rid} gives outcomes in {self.fired_count[rid]} profiles "
                                 f"but never decides; for example {other} ('{v_best}') wins over its '{v_own}'. "
                                 f"Declare precedence with 'overrides' or remove the rule.", witness(dom, prof, sl), t)
                    elif not any(f.code in ("V005", "V006") and rid in f.rules for f in self.findings):
                        prof, sl = self.fired[rid]
                        self.add("V006", (rid,), f"{rid} never decides its therapies: wherever it applies a stronger "
                                 f"rule gives the same verdict (it only appears under 'considered').", witness(dom, prof, sl))
            elif r.kind == "derivation":
                if not self.derivation_true.get(rid):
                    self.add("V003", (rid,), f"{rid} never makes '{r.derive}' true in any profile (in effect {window}).")
            elif r.kind == "note" and not self.note_fired.get(rid):
                self.add("V003", (rid,), f"note {rid} appears in no profile (in effect {window}).")
        for f, users in sorted(self.used_facts.items()):
            if f in fact_true and not fact_true[f]:
                ders = sorted(cr.rule.id for cr in self.program.derivers.get(f, ()) if cr.rule.status != "retired")
                self.add("V007", (*ders, *sorted(users)), f"fact '{f}' (derived by {', '.join(ders)}) is true in no "
                         f"profile, so {', '.join(sorted(users))} can never use it.")

    # ---------------------------------------------------------------- coverage

    def coverage(self, dom: _Domain) -> tuple[int, int]:
        """Each cancer type a conclusion rule names, with each alteration pattern a conclusion rule
        uses (directly or through facts): does a rule in effect at the knowledge version speak to a
        tumour of that type known to carry a matching alteration, the rest unknown?"""
        program = self.program
        kv = self.rb.meta.knowledge_version
        concl = [cr for cr in self.live_rules if cr.rule.kind == "conclusion"]
        rule_atoms: dict[str, set[int]] = {}
        for cr in concl:
            atoms: set[int] = set()
            facts: set[str] = set()
            _walk(cr.when, program, atoms, facts)
            for r in cr.requires:
                _walk(r, program, atoms, facts)
            rule_atoms[cr.rule.id] = atoms
        used = set().union(*rule_atoms.values()) if rule_atoms else set()
        cancers = sorted({c for i in used for c in _names(program, i).cancers})
        markers = sorted((i for i in used if _names(program, i).gene is not None),
                         key=lambda i: _describe_atom(program, i))
        reps: dict[int, tuple[str, _GeneState]] = {}
        for i in markers:
            g = _names(program, i).gene
            assert g is not None  # (markers name a gene)
            gdim = dom.genes[g]
            pos = gdim.atoms.index(i)
            best = None
            for st, vecs in zip(gdim.values, gdim.vectors, strict=True):
                vec = vecs[0]  # with germline testing done
                if len(st.alts) != 1 or vec is None or vec[pos] is not True:
                    continue
                score = sum(1 for v in vec if v is True)
                if best is None or score < best[0]:
                    best = (score, st)
            if best is not None:
                reps[i] = (g, best[1])
        jurs = sorted({sl.jurisdiction for sl in dom.slices})
        total = gaps = 0
        for code in cancers:
            missing: list[str] = []
            first = None
            for i in markers:
                if i not in reps:
                    continue
                g, st = reps[i]
                total += 1
                hit = False
                for j in jurs:
                    case = dom._probe(cancer=code, genes={g: st}, sl=_Slice(kv, j))
                    ctx = _GeneOnlyCtx(program, case, g)
                    for cr in concl:
                        if not cr.in_effect(case):
                            continue
                        if not any(_names(program, k).gene == g and ctx.atom(k) is True for k in rule_atoms[cr.rule.id]):
                            continue
                        if cr.when.tv(ctx) is not False:
                            hit = True
                            break
                    if hit:
                        break
                self.coverage_checked += 1
                if not hit:
                    gaps += 1
                    desc = _describe_atom(program, i)
                    if desc not in missing:
                        missing.append(desc)
                    if first is None:
                        first = witness(dom, (code, dom.unknown, {g: st}, None), _Slice(kv, dom.default_jurisdiction))
            if missing:
                self.add("V010", (), f"{code}: no conclusion rule in effect on {kv} speaks to a {code} tumour with "
                         f"{'; '.join(missing)} (each named by the rules).", first)
        return total, gaps


class _GeneOnlyCtx(Ctx):
    """Only the cancer type and one gene's alterations are known; the gene's atoms that the
    alteration does not make true are unknown (the rest of the tumour is not known)."""

    __slots__ = ("gene",)

    def __init__(self, program: Program, case: NormalCase, gene: str):
        super().__init__(program, case)
        self.gene = gene

    def atom(self, i: int):
        v = self.atoms[i]
        if v is not None and v is not True and v is not False:
            a = self.program.atoms[i]
            if KINDS[a.kind].dimension == "cancer":
                v = a.fn(self.case)
            elif _names(self.program, i).gene == self.gene:
                v = True if a.fn(self.case) is True else None
            else:
                v = None
            self.atoms[i] = v
        return v


def _undefined_day(cr: CompiledRule, derivers: list[CompiledRule]) -> dt.date | None:
    """The first day within ``cr``'s dates (and for its regulator) on which none of ``derivers``
    is in effect, or None. A gap can begin only on ``cr``'s first day or on a day a derivation
    ends, so only those days are looked at."""
    days = [cr.start] + [d.end for d in derivers if d.end is not None and cr.start < d.end
                         and (cr.end is None or d.end < cr.end)]
    for day in sorted(days):
        if not any(d.start <= day and (d.end is None or day < d.end)
                   and (d.jurisdiction is None or d.jurisdiction == cr.jurisdiction) for d in derivers):
            return day
    return None


def _refs_of(cr: CompiledRule) -> set[str]:
    out: set[str] = set()
    _fact_refs(cr.when, out)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with a cycle (Tarjan), each in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


# --------------------------------------------------------------------------- entry point


SEARCH_CODES = ("V001", "V002", "V003", "V004", "V005", "V006", "V010")  # found only by the search


def verify(engine, *, search: bool = True) -> VerifyReport:
    """Run every semantic check on ``engine``'s rule base (an :class:`engine.api.Engine` or a
    compiled :class:`~engine.evaluation.evaluator.Program`) and return the findings, errors and summary.

    ``search=False`` (``check --quick``) runs only the checks that need no enumeration of profiles
    (facts derived by no rule or used by none, cycles, facts read outside their derivations' dates,
    populations: V007, V008, V009, V014, V011, V012) and says so in the
    summary; the codes of :data:`SEARCH_CODES` are then not looked for."""
    program: Program = engine if isinstance(engine, Program) else engine.program
    t0 = time.perf_counter()
    v = _Verifier(program)
    v.structure()
    v.exclude_cycles()
    dom = _Domain(program)
    v.populations(dom)
    if not search:
        return _report(program, v, dom, time.perf_counter() - t0, None, None)
    t_dom = time.perf_counter() - t0
    v.therapies(dom)
    fact_true = v.facts_and_notes(dom)
    v.rule_findings(dom, fact_true)
    combos, gaps = v.coverage(dom)
    seconds = time.perf_counter() - t0
    return _report(program, v, dom, seconds, t_dom, (combos, gaps))


def _report(program: Program, v: _Verifier, dom: _Domain, seconds: float, t_dom: float | None,
            coverage: tuple[int, int] | None) -> VerifyReport:
    rep = VerifyReport(profiles=v.profiles, seconds=seconds, per_therapy=dict(v.per_therapy))
    order = {c: i for i, c in enumerate(CODES)}
    rep.findings = sorted(v.findings, key=lambda f: (order[f.code], f.rules, f.therapy or ""))
    for f in rep.findings:
        path = (program.rb.rule_files.get(f.rules[0], ""), f.rules[0]) if f.rules else ()
        p = Problem(f.text(), tuple(x for x in path if x))
        (rep.problems if f.severity == "error" else rep.warnings).append(p)
    if t_dom is None or coverage is None:  # the quick checks only
        rep.summary = [
            f"verify: quick: facts, cycles and populations checked in {seconds:.2f} s; the exhaustive "
            f"search of profiles was skipped ({', '.join(SEARCH_CODES)} not looked for: run check without --quick)",
            f"verify: {len(rep.problems)} error(s), {len(rep.warnings)} warning(s)",
        ]
        for w in rep.warnings:
            rep.summary.append("warning: " + w.render())
        return rep
    combos, gaps = coverage
    genes = ", ".join(f"{g} {len(d.values)}" for g, d in dom.genes.items())
    rep.summary = [
        f"verify: {rep.profiles:,} abstract profiles examined in {seconds:.2f} s "
        f"(domain built in {t_dom:.2f} s), exhaustive per therapy, derived fact and note",
        f"verify: domain: {len(dom.cancers.values)} cancer classes, "
        + "".join(f"{fd.name} {len(d.values)}, " for fd, d in dom.fields)
        + f"prior therapy {len(dom.history.values)} histories, "
        f"{len(dom.slices)} date/jurisdiction points; gene states (up to {MAX_ALTERATIONS_PER_GENE} alterations "
        f"per gene, histories up to {MAX_LINES} lines): {genes or 'none'}",
        "verify: profiles per therapy: " + ", ".join(f"{t} {n:,}" for t, n in sorted(rep.per_therapy.items())),
        f"verify: coverage: {combos} cancer/biomarker combinations, {gaps} spoken to by no rule",
        f"verify: {len(rep.problems)} error(s), {len(rep.warnings)} warning(s)",
    ]
    if v.skipped:
        rep.summary.insert(1, "verify: not searched (they depend on a cycle of facts): " + ", ".join(v.skipped))
    for w in rep.warnings:
        rep.summary.append("warning: " + w.render())
    return rep
