"""The finite domain of abstract profiles that :func:`engine.verify.verify` searches exhaustively.

Built from the compiled rules and the vocabulary (see the package's documentation for each
dimension): :class:`Domain` holds the dimensions, :class:`Unit` enumerates the profiles of the
dimensions a group of rules reads, :func:`witness` writes a profile as a case that
``kras-rules evaluate`` accepts."""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import operator
import time
from dataclasses import dataclass
from typing import Any, get_args
from collections.abc import Iterable

from engine.case import A_FIRST_LINE, FOLLOWS_FIRST_LINE, Alt, CaseIn, Line, NormalCase, implied_lines, sequenced_genes
from engine.errors import TermError
from engine.evaluation.evaluator import (
    AllNode,
    AtomNode,
    CompiledRule,
    Ctx,
    FactNode,
    Node,
    NotNode,
    Program,
    UnmetNode,
)
from engine.conditions import FIELD_DIMENSIONS, KINDS, DomainTerms, FieldDimension, HistoryRole, HistoryTerms, LeafNames
from engine.rules_model import Outcome, Setting

MAX_ALTERATIONS_PER_GENE = 3
MAX_LINES = 4
_OPEN = "\x00open"  # a history's "items" mark for a line whose drugs are not given
_FIRST_GIVEN = (False, True, False)  # a history that lists a line which may be its first: nothing is implied


def _imp(imp: tuple, line: tuple) -> tuple:
    """(a line implying a first line, a line that may be one, a progression) after one more line,
    as engine.case.implied_lines reads a history: a line that may be the first, listed before any
    line that implies one, means none is implied, whatever else comes; a line that implies one,
    listed before any that may be it, means one is implied, whatever else comes."""
    if imp[0]:
        return (True, False, imp[2] or line[2])
    if line[1]:
        return _FIRST_GIVEN
    return (line[0], False, imp[2] or line[2])


def _flag_bits(ranks: tuple[int, ...]) -> int:
    """Ranks of -1 (no line yet), 0 (false), 1 (unknown) and 2 (true), three bits each, rank r
    setting the r + 1 lowest (-1 none): the higher of two ranks, place by place, is the two
    numbers or-ed (the search of histories merges millions of them so)."""
    bits = 0
    for p, r in enumerate(ranks):
        bits |= ((1 << (r + 1)) - 1) << (3 * p)
    return bits


class _Ids:
    """Small ints for the values of one part of a search state, in the order first seen."""

    __slots__ = ("ids", "values")

    def __init__(self) -> None:
        self.ids: dict = {}
        self.values: list = []

    def of(self, value) -> int:
        i = self.ids.get(value)
        if i is None:
            i = self.ids[value] = len(self.values)
            self.values.append(value)
        return i


POWERSET_ITEMS = 5  # prior-therapy classes/drugs up to which every combination is a line
_OPEN_LINE = Line.of_unknown_drugs(None)
OTHER_JURISDICTION = "OTHER"
_AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
_RANK = {False: 0, None: 1, True: 2}
_VALUE = (False, None, True)  # (a rank's value)
_FLAG_VALUE = {1: False, 3: None, 7: True}  # (a rank's bits in the search's per-line flags: its value)
_EACH_LINE_ALONE = HistoryRole("line")  # (an atom whose value is the best of its values on each line alone)


def leaf_names(program: Program, i: int) -> LeafNames:
    """What an atom's leaf names (gene, cancer codes, acquired-on class), as its kind reads its key."""
    a = program.atoms[i]
    return KINDS[a.kind].named(a.key)


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class GeneState:
    alts: tuple[Alt, ...]
    tested: bool  # listed in tested_genes (a listed somatic mutation shows sequencing too: see Domain.case)
    germline: bool  # carries a germline alteration (germline testing is then done)


@dataclass(frozen=True)
class Slice:
    as_of: dt.date
    jurisdiction: str


@dataclass
class Dim:
    """One dimension of the domain: its values, and the atoms whose value depends only on it."""

    name: str
    atoms: tuple[int, ...]
    values: list  # representatives
    vectors: list[tuple]  # per value: the atoms' values (for dedupe per unit)
    default: Any  # the value used when no relevant atom depends on the dimension


class When:
    """A duck-typed stand-in for a case in ``CompiledRule.in_effect``."""

    __slots__ = ("as_of", "jurisdiction")

    def __init__(self, as_of: dt.date, jurisdiction: str):
        self.as_of = as_of
        self.jurisdiction = jurisdiction


class Domain:
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
        self._histories: dict[tuple, Dim] = {}  # the history dimensions built, by the atoms each reads (see history_for)
        self.history_seconds = 0.0  # the time the history dimensions took to build
        # (the search builds millions of cases from a few hundred cancer codes: each code's type and lineage, once)
        self._cancer_types: dict[str, tuple] = {}
        self._first_histories: dict[tuple, tuple[Dim, list[int]]] = {}  # (see first_histories)

    # the search's dimensions, built when first used: ``check --quick`` needs only the cancers and fields
    @functools.cached_property
    def history(self) -> Dim:
        """The history dimension of every history atom of the rule base (the search reads
        :meth:`history_for` a unit's atoms)."""
        return self.history_for(None)

    def history_for(self, atoms: set[int] | frozenset[int] | None) -> Dim:
        """The history dimension of the history atoms among ``atoms`` (all: None), with the
        exposure of those that read an alteration acquired on a drug: the histories searched
        with only the drug classes, settings, outcomes and line counts those atoms name (see
        :meth:`_history_dim`). A unit reads the dimension of its own atoms: an atom of one
        cancer type's rules (a drug class only its rules name) does not multiply the histories
        of every other unit. Built once per set of atoms (for the shipped rules, a few hundred
        histories each, where one dimension of all their history atoms has millions)."""
        idx, _, _, exposure = self._history_atoms()
        if atoms is not None:
            idx = tuple(i for i in idx if i in atoms)
            exposure = [i for i in exposure if i in atoms]
        key = (idx, tuple(exposure))
        dim = self._histories.get(key)
        if dim is None:
            t0 = time.perf_counter()
            dim = self._histories[key] = self._history_dim(frozenset(idx) | frozenset(exposure))
            self.history_seconds += time.perf_counter() - t0
        return dim

    @property
    def histories(self) -> list[Dim]:
        """The history dimensions built so far."""
        return list(self._histories.values())

    @functools.cached_property
    def acquired_on_atoms(self) -> frozenset[int]:
        """The atoms (of other kinds) whose values depend on exposure to a drug class: an
        alteration acquired on it."""
        return frozenset(self._history_atoms()[3])

    @functools.cached_property
    def genes(self) -> dict[str, Dim]:
        return {g: self._gene_dim(g) for g in sorted(self.gene_atoms)}

    @functools.cached_property
    def slices(self) -> list[Slice]:
        return self._slices()

    @functools.cached_property
    def gene_of(self) -> dict[int, str]:
        """Each gene atom's gene."""
        return {i: g for g, ids in self.gene_atoms.items() for i in ids}

    # ---------------------------------------------------------------- case building

    def case(self, cancer: str, fields: tuple, genes: dict[str, GeneState], lines, sl: Slice, imply: bool = True) -> NormalCase:
        """``fields``: the values of the scalar field dimensions (:attr:`fields`), in order.
        ``imply``: add the first line a history leaves out, as normalise does (off: the lines
        alone, as the search of histories reads each line before merging them)."""
        alts: list[Alt] = []
        tested: set[str] = set()
        for g, st in genes.items():
            alts.extend(st.alts)
            if st.tested:
                tested.add(g)
        covered = frozenset(tested)  # (as normalise reads it: listed genes, then those a mutation shows sequenced)
        tested.update(sequenced_genes(alts))
        kw = dict(zip(self._field_names, fields, strict=True))
        for k, name, implied in self._implied:
            kw[name] = implied(fields[k], alts)
        if imply:
            lines = self.case_lines(lines)
        known = self._cancer_types.get(cancer)
        if known is None:
            ct = self.vocab.cancer_types[cancer]
            known = self._cancer_types[cancer] = (ct, frozenset(ct.lineage))
        return NormalCase(
            id="verify",
            cancer=known[0],
            lineage=known[1],
            alterations=tuple(sorted(alts, key=lambda a: (a.gene, a.label, a.origin, -1 if a.acquired is None else int(a.acquired), a.partner or ""))),
            tested=frozenset(tested),
            tested_listed=bool(covered),
            covered=covered,
            lines=lines,
            as_of=sl.as_of,
            jurisdiction=sl.jurisdiction,
            **kw,
        )

    @staticmethod
    def case_lines(lines):
        """A history's lines as normalise reads them: a maintenance line follows a first line it
        may leave out (added before it)."""
        if lines:
            extra = implied_lines(lines)
            if extra:
                return (*extra, *lines)
        return lines

    def _probe(self, **kw) -> NormalCase:
        base = dict(cancer=self.cancers.default, fields=self.unknown, genes={}, lines=None,
                    sl=Slice(self.program.rb.meta.knowledge_version, self.default_jurisdiction))
        base.update(kw)
        return self.case(**base)

    def _values(self, idx: Iterable[int], case: NormalCase) -> tuple:
        atoms = self.program.atoms
        return tuple(atoms[i].fn(case) for i in idx)

    # ---------------------------------------------------------------- dimensions

    def _cancer_dim(self) -> Dim:
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
        return Dim("cancer", idx, values, [], outside if outside else values[-1] if values else sorted(types)[0])

    def _field_dims(self) -> list[tuple[FieldDimension, Dim]]:
        """One dimension per scalar case field of the registry (``FIELD_DIMENSIONS``: a condition
        kind's :class:`~engine.conditions.FieldDimension`, stage, germline testing, ..., or one
        only other kinds' atoms read, testing after the therapy), holding the atoms of its kinds
        and those of other kinds that depend on it (``depends``)."""
        own: dict[str, FieldDimension] = dict(FIELD_DIMENSIONS)  # (a field no kind owns has only the atoms depending on it)
        idx: dict[str, list[int]] = {f: [] for f in own}
        for key, kind in KINDS.items():
            if isinstance(kind.dimension, FieldDimension):
                idx[kind.dimension.field].extend(self.kind_atoms.get(key, ()))
        self.coupled: dict[str, frozenset[int]] = {}
        extra: dict[str, list[int]] = {f: [] for f in own}
        for a in self.program.atoms:
            dep = KINDS[a.kind].depends
            for f in dep(a.spec) if dep is not None else ():
                if f in own:
                    extra[f].append(a.index)
        for f in own:
            self.coupled[f] = frozenset(extra[f])
        return [(fd, Dim(fd.field, tuple(idx[f]) + tuple(extra[f]), list(fd.searched), [], None)) for f, fd in own.items()]

    def _coupled_fields(self, value) -> tuple:
        """The scalar fields all unknown but those the alterations' atoms depend on (germline
        testing, testing after the therapy), set to ``value``."""
        out = list(self.unknown)
        for k, (fd, _) in enumerate(self.fields):
            if self.coupled[fd.field]:
                out[k] = value
        return tuple(out)

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
            if t.classified:
                # a change whose classification decides (unclassified, it is unknown): classified
                # deleterious, and classified not (the gene then tested, with no deleterious change)
                for kind, label, codon, partner in base:
                    if kind == "mutation" and codon is not None:
                        out += [Alt(gene, kind, label, codon, origin, None, partner, None, c)
                                for c in ("pathogenic", "benign")]
                        break
        return out

    def _gene_dim(self, gene: str) -> Dim:
        idx = tuple(self.gene_atoms[gene])
        single: list[tuple[Alt, tuple]] = []
        seen: set[tuple] = set()
        # an alteration acquired on a drug class: what its flag means depends on the history, so
        # alterations are told apart under each exposure to the class too, not only without one
        expos = self._exposures(idx)
        # under each exposure, with the fields the alterations imply set and not stated (whether
        # the profile is from testing after the therapy decides what an untested change reads as)
        exposures = [(self._coupled_fields(v), h) for v in (True, None) for h in expos]
        width = len(idx) * (1 + len(exposures))

        def effects(st: GeneState, gt: bool | None) -> tuple:
            return self._values(idx, self._probe(genes={gene: st}, fields=self._alt_fields(gt)))

        def exposed(st: GeneState) -> list[tuple]:
            return [self._values(idx, self._probe(genes={gene: st}, fields=f, lines=h)) for f, h in exposures]

        for alt in self._alphabet(gene):
            st = GeneState((alt,), True, alt.origin == "germline")
            vec = effects(st, True)
            for v in exposed(st):
                vec += v
            key = (alt.origin == "germline", vec)
            if key not in seen:
                seen.add(key)
                single.append((alt, vec))
        # every set of up to N alterations, merged by the union of their effects
        start = [GeneState((), False, False), GeneState((), True, False)]
        states: dict[tuple, GeneState] = {}
        frontier: list[tuple[tuple, GeneState, tuple]] = []
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
                    tested = st.tested  # (listed in tested_genes: a mutation shows sequencing, see case())
                    k = (tested, germ, r)
                    if k in states:
                        continue
                    new = GeneState(st.alts + (alt,), tested, germ)
                    states[k] = new
                    nxt.append((k, new, r))
            frontier = nxt
        dim = Dim(gene, idx, [], [], start[0])
        told: set[tuple] = set()
        for st in states.values():
            vecs: list[tuple | None] = []
            for gt in (True, False, None):
                if st.germline and gt is not True:
                    vecs.append(None)
                else:
                    vecs.append(effects(st, gt))
            vecs += exposed(st)  # (after the three above, which readers index)
            # states whose atoms read the same under every probe are one value of the dimension
            # (a gene listed in tested_genes or only sequenced, where no atom asks for its copy
            # number, for example): the first found stands for the others
            key = (st.germline, tuple(vecs))
            if key in told:
                continue
            told.add(key)
            dim.values.append(st)
            dim.vectors.append(tuple(vecs))
        return dim

    def _exposures(self, idx: Iterable[int]) -> list[tuple]:
        """Histories that tell apart the ways an alteration may have been acquired on each drug
        class the atoms ``idx`` ask about: none given of the class, one line of it without an
        outcome, one ending in progression (with no history at all: the probe's default)."""
        classes = sorted({c for i in idx if (c := leaf_names(self.program, i).acquired_on) is not None})
        out: list[tuple] = [()] if classes else []
        vocab = self.vocab
        for c in classes:
            d = min(vocab.drugs_in_class(c))
            for outcome in (None, "progression"):
                out.append((Line(frozenset({d}), frozenset(vocab.drug(d).classes), None, outcome, None, d),))
        if classes:  # a line whose drugs are not given may have held any class
            out.append((_OPEN_LINE,))
        return out

    # prior therapy ------------------------------------------------------

    def _history_atoms(self, among: frozenset[int] | None = None) -> tuple[tuple[int, ...], dict[int, HistoryRole], HistoryTerms, list[int]]:
        """The atoms a history dimension is made from: those of the history kinds (in order:
        their patterns order the lines), what each kind's history hook says of them
        (engine.conditions: HistoryRole, HistoryTerms), and the atoms of other kinds that depend
        on exposure to a drug class (acquired on it); all of the rule base's, or those ``among``."""
        kinds = tuple(k for k, kind in KINDS.items() if kind.dimension == "history")
        idx = tuple(i for k in kinds for i in self.kind_atoms.get(k, ()) if among is None or i in among)
        vocab = self.vocab
        atoms_ = self.program.atoms
        terms = HistoryTerms()
        roles: dict[int, HistoryRole] = {}
        for i in idx:
            hook = KINDS[atoms_[i].kind].history
            if hook is not None:
                roles[i] = hook(atoms_[i].spec, vocab, terms)
        exposure = []
        for a in atoms_:
            if among is not None and a.index not in among:
                continue
            hook = KINDS[a.kind].history
            if a.index not in roles and hook is not None and hook(a.spec, vocab, terms) is not None:
                exposure.append(a.index)
        return idx, roles, terms, exposure

    def _history_dim(self, among: frozenset[int] | None = None) -> Dim:
        idx, roles, terms, exposure = self._history_atoms(among)
        dim = Dim("history", idx, [None], [], None)
        vocab = self.vocab
        if not idx and not exposure:
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
            """Per acquired-on class: 0 never given, 1 maybe (a line whose drugs are not given),
            2 given without progression, 3 progression; then 1 where a line of it ended in
            progression or its end is not given (a profile may predate what was acquired on it),
            else 0. (Each the highest of the lines': states merge them so.)"""
            out: list[int] = []
            for c in acq_classes:
                on = [ln for ln in lines_ if c in ln.classes or ln.open]
                out.append(max(((3 if ln.outcome == "progression" else 2) if c in ln.classes else 1 for ln in on), default=0))
                out.append(int(any(c in ln.classes and (ln.outcome is None or ln.outcome == "progression") for ln in on)))
            return tuple(out)

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
        # (a setting that implies a first line the history leaves out changes what a history reads)
        settings |= FOLLOWS_FIRST_LINE
        set_values = [None] + sorted(settings) + [s for s in get_args(Setting) if s not in settings][:1]
        out_values = [None] + sorted(outcomes) + [o for o in get_args(Outcome) if o not in outcomes][:1] if outcomes else [None]
        week_values: list = [None]
        for w in sorted(weeks):
            week_values += [float(w)] + ([float(w - 1)] if w >= 1 else [])
        line_idx = [i for i in idx if roles[i].role != "history"]

        def implies(ln: Line) -> tuple:
            """What a line is to engine.case.implied_lines (a history that leaves out a first line
            reads as one that lists it): lines alike on the atoms but not in this are kept apart."""
            return (ln.setting in FOLLOWS_FIRST_LINE, ln.setting in A_FIRST_LINE, ln.outcome == "progression")

        lines: list[Line] = []
        seen: set[tuple] = set()
        for ds in dict.fromkeys(drug_sets):
            classes: set[str] = set()
            for d in ds:
                classes |= vocab.drug(d).classes
            for st, oc, wk in itertools.product(set_values, out_values, dict.fromkeys(week_values)):
                ln = Line(frozenset(ds), frozenset(classes), st, oc, wk, " + ".join(sorted(ds)))
                key = (frozenset((classes | ds) & items), self._values(line_idx, self._probe(imply=False, lines=(ln,))),
                       expo((ln,)), st if positional else None, implies(ln))
                if key not in seen:
                    seen.add(key)
                    lines.append(ln)
        if items or acq_classes:  # a line whose drugs are not given: it may have held any of them
            for st, oc, wk in itertools.product(set_values, out_values, dict.fromkeys(week_values)):
                ln = Line.of_unknown_drugs(st, oc, wk)
                key = (frozenset({_OPEN}), self._values(line_idx, self._probe(imply=False, lines=(ln,))), expo((ln,)),
                       st if positional else None, implies(ln))
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
            flags = self._values(per_line, self._probe(imply=False, lines=(ln,)))
            line_info[ln] = (tuple(cnt), frozenset((ln.classes | ln.drugs) & items) | ({_OPEN} if ln.open else frozenset()), flags)
        # a line's per-line values depend on what came before it only through "before": 0 no
        # line for advanced disease yet, 1 maybe (a line of unknown setting), 2 yes
        # only per-line atoms with a position depend on the lines before a line, and only through
        # "before": 0 no line for advanced disease yet, 1 maybe (a line of unknown setting), 2 yes
        pos_k = [k for k, i in enumerate(per_line) if roles[i].positional]
        pos_atoms = [per_line[k] for k in pos_k]
        # per-line atoms that a later line ending in progression makes true where the line matches
        # otherwise (progressed_after): the state keeps, per such atom, the best "would match had it
        # progressed" of the lines so far, and a line ending in progression lifts the atom to it
        carry_k = [k for k, i in enumerate(per_line) if roles[i].carries]
        # per-line atoms that read the most recent line only: a line replaces what the state holds
        last_k = frozenset(k for k, i in enumerate(per_line) if roles[i].last)
        carry_atoms = [per_line[k] for k in carry_k]
        would: dict[Line, tuple] = {}
        for ln in lines:
            if carry_k:
                as_progressed = dataclasses.replace(ln, outcome="progression")
                would[ln] = tuple(_RANK[v] for v in self._values(carry_atoms, self._probe(imply=False, lines=(as_progressed,))))
            else:
                would[ln] = ()
        neutral = {1: Line(frozenset({other}), vocab.drug(other).classes, None, None, None, other),
                   2: Line(frozenset({other}), vocab.drug(other).classes, terms.a_line, None, None, other)}
        neutral_ok = {b: all(v is False for v in self._values(pos_atoms, self._probe(imply=False, lines=(neutral[b],))))
                      for b in neutral}
        positioned: dict[tuple, tuple] = {}

        def at_position(ln: Line, before: int, hist: tuple) -> tuple:
            key = (ln, before)
            hit = positioned.get(key)
            if hit is None:
                if before and not neutral_ok[before]:
                    return self._values(per_line, self._probe(imply=False, lines=hist + (ln,)))
                prefix = (neutral[before],) if before else ()
                vals = list(line_info[ln][2])
                for k, v in zip(pos_k, self._values(pos_atoms, self._probe(imply=False, lines=prefix + (ln,))), strict=True):
                    vals[k] = v
                hit = positioned[key] = tuple(vals)
            return hit

        line_fast = {ln: (lc, lg, tuple(_RANK[v] for v in lf), expo((ln,))) for ln, (lc, lg, lf) in line_info.items()}
        # A state is what later lines can change: (counts, items received, per-line flags (the best
        # value of any line so far; the most recent line's for an atom reading only it), exposure,
        # "before", would-match-had-it-progressed, what decides an implied first line). The search
        # takes millions of steps over a few thousand distinct values of each part: each part is
        # interned as a small int, and each of its transitions under a line is computed once; the
        # per-line flags, whose distinct values are as many as the states, are bits (_flag_bits).
        cnt_ids, got_ids, ex_ids, mm_ids, imp_ids = _Ids(), _Ids(), _Ids(), _Ids(), _Ids()
        # per part: the state's id of it -> that part of the next state after each line (in the
        # lines' order), worked out once
        c_next: dict[int, list[int]] = {}
        g_next: dict[int, list[int]] = {}
        m_next: dict[int, list[int]] = {}
        e_next: dict[int, list[int]] = {}
        i_next: dict[int, list[int]] = {}
        lf_at: dict[int, list[int]] = {}  # "before" -> each line's per-line flags there
        nb_at: dict[int, list[int]] = {}  # "before" -> "before" after each line

        def counted(a: int, b: int) -> int:
            return cnt_ids.of(tuple((min(x + z, m), min(y + w, m))
                                    for (x, y), (z, w), m in zip(cnt_ids.values[a], cnt_ids.values[b], caps, strict=True)))

        def merged(ids: _Ids, a: int, b: int) -> int:
            return ids.of(tuple(map(max, ids.values[a], ids.values[b])))

        # the flags after a line: each the higher of the state's and the line's (bits or-ed), but the
        # most recent line's for an atom that reads only it
        last = _flag_bits(tuple(2 if k in last_k else -1 for k in range(len(per_line))))
        kept = ~last
        # a line ending in progression: every earlier line progressed after, too (the flags "would
        # match had it progressed" or-ed in at their atoms' places), by the id of those
        lift_bits: dict[int, int] = {}

        # what decides whether the history leaves out a first line (engine.case.implied_lines) and
        # what that line then reads: a line that implies one, a line that may be one, a progression
        imp_of = {ln: implies(ln) for ln in lines}
        first_given = imp_ids.of(_FIRST_GIVEN)
        # each line's parts, by kind, in the lines' order
        n_lines = len(lines)
        line_c, line_g, line_f, line_e, line_m, line_nb, line_imp = [], [], [], [], [], [], []
        for ln in lines:
            lc, lg, lfr, lex = line_fast[ln]
            line_c.append(cnt_ids.of(lc))
            line_g.append(got_ids.of(lg))
            line_f.append(_flag_bits(lfr))
            line_e.append(ex_ids.of(lex) if lex else -1)
            line_m.append(mm_ids.of(would[ln]))
            line_nb.append(0 if ln.setting in terms.not_a_line else 1 if ln.setting is None else 2)
            line_imp.append(imp_of[ln])
        progressed = [k for k, ln in enumerate(lines) if ln.outcome == "progression"] if carry_k else []
        start = (cnt_ids.of(tuple((0, 0) for _ in counts)), got_ids.of(frozenset()), 0,
                 ex_ids.of(expo(())), 0, mm_ids.of(tuple(-1 for _ in carry_k)), imp_ids.of((False, False, False)))
        states: dict[tuple, tuple] = {start: ()}
        frontier: list[tuple[tuple, tuple]] = [(start, ())]
        # (the loop below runs tens of millions of times, once a state and line: each state's next
        # states are put together from its parts' lists, in C, and only looked up here)
        for _depth in range(MAX_LINES):
            nxt = []
            for (ci, gi, fi, ei, before, mi, ii), hist in frontier:
                c_l = c_next.get(ci)
                if c_l is None:
                    c_l = c_next[ci] = [counted(ci, x) for x in line_c] if caps else [ci] * n_lines
                g_l = g_next.get(gi)
                if g_l is None:
                    g_l = g_next[gi] = [got_ids.of(got_ids.values[gi] | got_ids.values[x]) for x in line_g]
                m_l = m_next.get(mi)
                if m_l is None:
                    m_l = m_next[mi] = [merged(mm_ids, mi, x) for x in line_m] if carry_k else [mi] * n_lines
                e_l = e_next.get(ei)
                if e_l is None:
                    e_l = e_next[ei] = [merged(ex_ids, ei, x) if x >= 0 else ei for x in line_e]
                i_l = i_next.get(ii)
                if i_l is None:
                    i_l = i_next[ii] = ([imp_ids.of(_imp(imp_ids.values[ii], x)) for x in line_imp]
                                        if ii != first_given else [ii] * n_lines)
                nb_l = nb_at.get(before)
                if nb_l is None:  # (not positional: a line's position does not matter, "before" stays 0)
                    nb_l = nb_at[before] = ([before if r == 0 else 2 if r == 2 else max(before, 1) for r in line_nb]
                                            if positional else [0] * n_lines)
                if not positional:
                    lf_l = line_f
                elif before and not neutral_ok[before]:  # a line's flags depend on the whole history
                    lf_l = [_flag_bits(tuple(_RANK[v] for v in at_position(ln, before, hist))) for ln in lines]
                else:
                    known = lf_at.get(before)
                    if known is None:  # (at_position reads no more than "before" here)
                        known = lf_at[before] = [_flag_bits(tuple(_RANK[v] for v in at_position(ln, before, hist))) for ln in lines]
                    lf_l = known
                f_kept = fi & kept  # (a line's flags have bits at every place: ranks 0 to 2)
                f_l = [f_kept | x for x in lf_l]
                for k in progressed:
                    mk = m_l[k]
                    bits = lift_bits.get(mk)
                    if bits is None:
                        bits = lift_bits[mk] = _flag_bits(tuple(
                            mm_ids.values[mk][carry_k.index(p)] if p in carry_k else -1 for p in range(len(per_line))))
                    f_l[k] |= bits
                for key, ln in zip(zip(c_l, g_l, f_l, e_l, nb_l, m_l, i_l, strict=True), lines, strict=True):
                    if key in states:
                        continue
                    h = states[key] = hist + (ln,)
                    nxt.append((key, h))
            frontier = nxt
        dim.values += list(states.values())
        # (each history with its state in the search: what its atoms' values are read from, below)
        hist_items = [(None, None), *((h, key) for key, h in states.items())]
        parts = (cnt_ids.values, got_ids.values, ex_ids.values)
        dim.vectors = self._vectors(idx, roles, expo, per_line, parts, hist_items)
        return dim

    def _vectors(self, idx: tuple[int, ...], roles: dict[int, HistoryRole], expo, per_line: list[int],
                 parts_of: tuple[list, list, list], items: list[tuple]) -> list[tuple]:
        """Each history's atom values (in ``idx``'s order) and its exposure; ``items``: (history,
        its state in the search of histories, by the ids of its parts, whose values ``parts_of``
        holds: counts, items received, exposure).

        Most histories are read from their state, which holds what the search merges histories
        by (HistoryRole): a "line" atom's value is in the state's per-line flags (see
        _flag_bits); a "count" atom's depends only on the state's counts of lines, and a
        "history" atom's only on the drug classes and drugs received (each read on the first
        history with that part); the exposure is the state's. The search reads a history's lines
        as they are: a history that leaves out a first line (normalise adds it) is read as
        :meth:`_read_lines` reads it, and so is the history of no lines. An atom of another
        role reads each history whole."""
        atoms_ = self.program.atoms
        fn_of = [atoms_[i].fn for i in idx]
        case = self._probe()  # (one case, its lines replaced for each history: the atoms read nothing else of it)
        read = self._read_lines(idx, roles, fn_of, case, expo)
        flagged = [(k, 3 * per_line.index(i)) for k, i in enumerate(idx) if roles[i].role == "line"]
        counted = [k for k, i in enumerate(idx) if roles[i].role == "count"]
        held = [k for k, i in enumerate(idx) if roles[i].role == "history"]
        other = [(k, fn_of[k]) for k, i in enumerate(idx) if roles[i].role not in ("line", "count", "history")]
        counts_of: dict[int, tuple] = {}  # the state's counts (by id) -> the count atoms' values
        held_of: dict[int, tuple] = {}  # the items received (by id) -> the "history" atoms' values
        expo_of = parts_of[2]
        width = len(idx)
        out = []
        for h, state in items:
            if not h or implied_lines(h):
                out.append(read(h))
                continue
            ci, gi, fi, ei = state[:4]
            vals: list = [None] * width
            for k, at in flagged:
                vals[k] = _FLAG_VALUE[(fi >> at) & 7]
            c = counts_of.get(ci)
            g = held_of.get(gi)
            if c is None or g is None or other:
                case.lines = h
                if c is None:
                    c = counts_of[ci] = tuple(fn_of[k](case) for k in counted)
                if g is None:
                    g = held_of[gi] = tuple(fn_of[k](case) for k in held)
                for k, fn in other:
                    vals[k] = fn(case)
            for k, v in zip(counted, c, strict=True):
                vals[k] = v
            for k, v in zip(held, g, strict=True):
                vals[k] = v
            out.append((*vals, expo_of[ei]))
        return out

    def _read_lines(self, idx: tuple[int, ...], roles: dict[int, HistoryRole], fn_of: list, case: NormalCase, expo):
        """How :meth:`_vectors` reads a history of no lines, or one that leaves out a first line,
        on its lines (the implied first line included) as the atoms' roles say they read them: a
        "line" atom with no position, no progression after and not only the most recent line is
        the best of its values on each line alone, worked out once a line; a "count" atom depends
        only on how many lines are surely and maybe in its settings, and a "history" atom only on
        the drug classes and drugs the lines hold and whether one's drugs are not given, each read
        once per such key, on the first history that has it. Every other atom reads the history
        whole. None: no history given."""
        alone = [k for k, i in enumerate(idx) if roles[i] == _EACH_LINE_ALONE]
        counted = [(k, roles[i].settings) for k, i in enumerate(idx) if roles[i].role == "count"]
        held = [k for k, i in enumerate(idx) if roles[i].role == "history"]
        whole = [(k, fn_of[k]) for k in range(len(idx)) if k not in alone and k not in held
                 and roles[idx[k]].role != "count"]
        width = len(idx)
        bits: dict[str, int] = {}  # a drug class or drug -> its bit
        by_id: dict[int, tuple] = {}  # a history's own line (alive throughout) -> what it contributes
        by_value: dict[tuple, tuple] = {}  # an implied line (made afresh for each history), by its fields

        def info(ln: Line) -> tuple:
            """(its ranks for the "line alone" atoms, per count atom (sure, maybe), its items' bits, open)."""
            case.lines = (ln,)
            mask = 0
            for name in ln.classes | ln.drugs:
                mask |= 1 << bits.setdefault(name, len(bits))
            counts: list[int] = []
            for _, st in counted:  # (surely in the settings, maybe: a line of setting not given)
                counts += (1, 1) if st is None or ln.setting in st else (0, 1) if ln.setting is None else (0, 0)
            return tuple(_RANK[fn_of[k](case)] for k in alone), tuple(counts), mask, ln.open

        memo: dict[tuple, object] = {}  # (atom, key) -> value
        by_count: dict[tuple, tuple] = {}  # the lines' counts -> the count atoms' values
        nothing = (0,) * len(alone)

        def read(h) -> tuple:
            if h is None:
                case.lines = None
                return (*(fn(case) for fn in fn_of), None)
            vals: list = [None] * width
            extra = implied_lines(h) if h else []
            parts = []
            for ln in h:
                got = by_id.get(id(ln))
                if got is None:
                    got = by_id[id(ln)] = info(ln)
                parts.append(got)
            for ln in extra:
                vkey = (ln.setting, ln.outcome, ln.weeks, ln.open, ln.classes, ln.drugs)
                got = by_value.get(vkey)
                if got is None:
                    got = by_value[vkey] = info(ln)
                parts.append(got)
            case.lines = (*extra, *h) if extra else h
            for k, r in zip(alone, map(max, zip(nothing, *(p[0] for p in parts), strict=True)), strict=True):
                vals[k] = _VALUE[r]
            if counted:  # (every count atom's value, by the counts of all of them)
                key = tuple(map(sum, zip(*(p[1] for p in parts), strict=True))) if parts else ()
                got_c = by_count.get(key)
                if got_c is None:
                    got_c = by_count[key] = tuple(fn_of[k](case) for k, _ in counted)
                for (k, _), v in zip(counted, got_c, strict=True):
                    vals[k] = v
            if held:
                mask = 0
                opened = False
                for p in parts:
                    mask |= p[2]
                    opened = opened or p[3]
                for k in held:
                    key = (k, mask, opened)
                    v = memo.get(key, memo)
                    if v is memo:
                        v = memo[key] = fn_of[k](case)
                    vals[k] = v
            for k, fn in whole:
                vals[k] = fn(case)
            return (*vals, expo(h))

        return read

    # dates and jurisdictions ------------------------------------------

    def _slices(self) -> list[Slice]:
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
        return [Slice(d, j) for j in ordered_j for d in sorted(dates, reverse=True)]

    def first_histories(self, dim: Dim, positions: tuple[int, ...]) -> list[int]:
        """The first history of each vector of ``dim``'s ``positions``, by index, in the
        dimension's order (read in C, not a loop here; once for each dimension and set of
        positions: units of several therapies read the same atoms)."""
        key = (id(dim), positions)
        hit = self._first_histories.get(key)
        if hit is None or hit[0] is not dim:
            keys = list(map(operator.itemgetter(*positions), dim.vectors))
            first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
            hit = self._first_histories[key] = (dim, sorted(first.values()))
        return hit[1]

    def gene_vector(self, dim: Dim, k: int, positions: list[int]) -> tuple:
        return tuple(None if v is None else tuple(v[p] for p in positions) for v in dim.vectors[k])


# --------------------------------------------------------------------------- helpers over compiled rules


def _walk(node: Node, program: Program, atoms: set[int], facts: set[str]) -> None:
    """The atoms ``node`` reads, itself and through the facts (added to ``facts``) and theirs."""
    own: dict[str, set[bool]] = {}
    _reads(node, atoms, own)
    for name in own:
        if name not in facts:
            facts.add(name)
            for cr in program.derivers.get(name, ()):
                _walk(cr.when, program, atoms, facts)


def _reads(node: Node, atoms: set[int], facts: dict[str, set[bool]], truth_only: bool = False) -> None:
    """The atoms and facts ``node`` reads itself (not through the facts), each fact with whether
    each read asks only whether it is true: under an ``unmet`` through ``all`` and ``any`` alone
    (``unmet: C`` is true when C is not true; a ``not`` in between asks whether it is false)."""
    if isinstance(node, AtomNode):
        atoms.add(node.i)
    elif isinstance(node, FactNode):
        facts.setdefault(node.name, set()).add(truth_only)
    elif isinstance(node, UnmetNode):
        _reads(node.kid, atoms, facts, True)
    elif isinstance(node, NotNode):
        _reads(node.kid, atoms, facts, False)
    elif isinstance(node, AllNode):  # and AnyNode
        for k in node.kids:
            _reads(k, atoms, facts, truth_only)


#: the most combinations of gene states a fact's genes are read together over (see Unit._collapsible)
MAX_JOINT_STATES = 200_000


# --------------------------------------------------------------------------- the search


def unit_atoms(program: Program, atoms: set[int], rules: list[CompiledRule]) -> set[str]:
    """The atoms a unit of ``rules`` reads, added to ``atoms`` (those the caller keeps apart),
    themselves and through the derived facts they read; returns the facts."""
    facts: set[str] = set()
    for cr in rules:
        _walk(cr.when, program, atoms, facts)
        for r in cr.requires:
            _walk(r, program, atoms, facts)
    return facts


class Unit:
    """One exhaustive enumeration: the profiles of the dimensions some rules use."""

    def __init__(self, dom: Domain, atoms: set[int], rules: list[CompiledRule]):
        self.dom = dom
        program = dom.program
        self.rules = rules
        gates = set(atoms)  # (atoms the caller keeps apart: read as they are)
        facts = unit_atoms(program, atoms, rules)
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
        history = self.history = dom.history_for(atoms)
        per_gene: dict[str, list[tuple[tuple, Any]]] = {}
        for g, gdim in dom.genes.items():
            pos = [p for p, i in enumerate(gdim.atoms) if i in atoms]
            if not pos:
                continue
            seen: dict[tuple, Any] = {}
            for k, st in enumerate(gdim.values):
                seen.setdefault(dom.gene_vector(gdim, k, pos), st)
            per_gene[g] = list(seen.items())
        # genes read only through one derived fact: their states together, one per value of the fact
        # (fact, the atoms it stands for, whether only its being true is read)
        self.joint: list[tuple[str, tuple[int, ...], bool]] = []
        joint_dims = []
        for f, genes, f_atoms, truth_only in self._collapsible(rules, facts, gates, per_gene):
            joint_dims.append(("fact " + f, self._joint_states(f, genes, per_gene, truth_only)))
            self.joint.append((f, f_atoms, truth_only))
            for g in genes:
                del per_gene[g]
        for g, states in per_gene.items():
            self.dims.append((g, [st for _, st in states]))
        self.n_joint = len(joint_dims)
        self.dims.extend(joint_dims)
        hpos = [p for p, i in enumerate(history.atoms) if i in atoms]
        if atoms & dom.acquired_on_atoms:  # exposure to a drug class matters too
            hpos.append(len(history.atoms))
        if hpos:
            self._history_keys = dom.first_histories(history, tuple(hpos))
            self.dims.append(("history", [history.values[k] for k in self._history_keys]))
        else:
            self._history_keys = [0]  # (the first history of the dimension is None: none given)
            self.dims.append(("history", [None]))
        # slices: dates and jurisdictions that put a different set of these rules in effect
        groups: dict[tuple, dict[tuple, Slice]] = {}
        for sl in dom.slices:
            w = When(sl.as_of, sl.jurisdiction)
            live = tuple(cr.in_effect(w) for cr in rules)
            if not any(live):
                continue
            dkey = tuple(cr.in_effect(w) for cr in self.derivers)
            groups.setdefault(dkey, {}).setdefault(live, sl)
        self.group_keys = [(dkey, live) for dkey, g in groups.items() for live in g]
        self.groups = [list(g.items()) for g in groups.values()]

    def _collapsible(self, rules: list[CompiledRule], facts: set[str], gates: set[int],
                     per_gene: dict) -> list[tuple[str, list[str], tuple[int, ...], bool]]:
        """The derived facts through which alone this unit reads two or more genes: each as (fact,
        its genes, the atoms of its derivations). Every rule here sees those genes only as the
        fact's value, so the combinations of their states that give the fact the same value (in
        each of its derivations) give every rule the same outcome: one of them is enough (where
        the rules ask only whether the fact is true, false and unknown are one value). A fact
        whose derivations read anything but single-gene atoms (another fact, a scalar field, the
        history) is left as it is, as is one whose genes' joint states are too many to go through.
        Each comes with whether every read of it asks only whether it is true."""
        dom = self.dom
        program = dom.program
        direct = set(gates)
        fact_reads: dict[str, set[bool]] = {}  # (how each fact is read, by the rules and by the derivations)
        for cr in rules:
            _reads(cr.when, direct, fact_reads)
            for r in cr.requires:
                _reads(r, direct, fact_reads)
        gene_of = dom.gene_of
        coupled = frozenset().union(*dom.coupled.values()) | dom.acquired_on_atoms
        reads: dict[str, tuple[set[int], dict[str, set[bool]]]] = {}
        for f in sorted(facts):
            fa: set[int] = set()
            ff: dict[str, set[bool]] = {}
            for cr in program.derivers.get(f, ()):
                _reads(cr.when, fa, ff)
            reads[f] = (fa, ff)
            for g, how in ff.items():
                fact_reads.setdefault(g, set()).update(how)
        out = []
        for f, (fa, ff) in reads.items():
            if ff or not fa or any(i not in gene_of or i in coupled for i in fa):
                continue
            genes = sorted({gene_of[i] for i in fa})
            if len(genes) < 2 or any(g not in per_gene for g in genes):
                continue
            others = direct.union(*(a for h, (a, _) in reads.items() if h != f))
            used = {i for g in genes for i in dom.gene_atoms[g] if i in self.atoms}
            if not used <= fa or used & others:
                continue
            # (each state's atoms read the same under every probe of the fields and histories:
            # the fact's value is one of the gene states alone)
            if any(len({v for v in vec if v is not None}) != 1 for g in genes for vec, _ in per_gene[g]):
                continue
            n = 1
            for g in genes:
                n *= len(per_gene[g])
            if n > MAX_JOINT_STATES:
                continue
            out.append((f, genes, tuple(sorted(used)), fact_reads.get(f) == {True}))
        return out

    def _joint_states(self, f: str, genes: list[str], per_gene: dict, truth_only: bool) -> list[dict]:
        """One combination of the genes' states for each combination of values the fact's
        derivations take (as a dict gene -> state, in the order first met); with ``truth_only``
        (the rules ask only whether the fact is true) false and unknown are one value."""
        dom = self.dom
        program = dom.program
        ctx = Ctx(program, dom._probe())  # (its atoms are set below: the probe case is not read)
        derivers = program.derivers.get(f, ())
        used = {g: [i for i in dom.genes[g].atoms if i in self.atoms] for g in genes}  # (in the vectors' order)
        seen: dict[tuple, dict] = {}
        for combo in itertools.product(*(per_gene[g] for g in genes)):
            for g, (vec, _) in zip(genes, combo, strict=True):
                values = next(v for v in vec if v is not None)  # (the same under every probe, see _collapsible)
                for i, v in zip(used[g], values, strict=True):
                    ctx.atoms[i] = v
            key = _fact_key(tuple(cr.when.tv(ctx) for cr in derivers), truth_only)
            if key not in seen:
                seen[key] = {g: st for g, (_, st) in zip(genes, combo, strict=True)}
        return list(seen.values())

    def signature(self, case: NormalCase) -> tuple:
        """What this unit tells cases apart by: the value of each atom it reads, where those a
        fact stands for (see :meth:`_collapsible`) give way to the values of the fact's derivations."""
        return tuple(fn(case) for fn in self._signature_parts[1]) + self._fact_values(case)

    def _fact_values(self, case: NormalCase) -> tuple:
        """The signature's part that the facts standing for genes give (see :meth:`_collapsible`)."""
        _, _, facts, plan = self._signature_parts
        if not facts:
            return ()
        ctx = Ctx(self.dom.program, case, plan)  # (the derivations read atoms only: no plan is consulted)
        return tuple(_fact_key(tuple(w.tv(ctx) for w in whens), truth_only) for whens, truth_only in facts)

    @functools.cached_property
    def _signature_parts(self) -> tuple:
        """(the atoms read as they are, their functions, each fact's derivations and whether
        only its truth is read, the plan they are read with)"""
        program = self.dom.program
        stood_for = {i for _, f_atoms, _ in self.joint for i in f_atoms}
        idx = tuple(i for i in sorted(self.atoms) if i not in stood_for)
        facts = tuple((tuple(cr.when for cr in program.derivers.get(f, ())), truth_only) for f, _, truth_only in self.joint)
        return idx, tuple(program.atoms[i].fn for i in idx), facts, program.plan(self.dom._probe()) if facts else None

    def _reduce_simple(self, dim: Dim, probe) -> list:
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
        profile = self.profile
        for combo in itertools.product(*(vals for _, vals in self.dims)):
            prof = profile(combo)
            if prof is not None:
                yield prof

    def distinct_profiles(self) -> list[tuple[tuple, int]]:
        """The first profile of each :meth:`signature`, in the order of :meth:`profiles`, with
        how many profiles have that signature. Profiles with one signature read every atom of
        the unit alike (atoms do not read dates), so each rule's outcome is the same in all of
        them: the search evaluates the first and counts it that many times. (The dimensions are
        reduced one at a time; where an atom reads two of them, a gene's alteration acquired on
        a drug and the history's exposure to it, most of their combinations repeat a signature:
        a tenth of them are distinct for the shipped rules' largest units.)

        The histories vary fastest: each case of the other dimensions is built once, and only
        its lines and the atoms a history moves (the history's own and those of an alteration
        acquired on a drug) are worked out again for each history; those of an alteration
        acquired on a drug once for each state of the genes they read. A case of the other
        dimensions whose atoms read as those of one met before (and whose acquired alterations'
        genes are those) gives each history the signature that one gave it: it is counted there,
        not walked again."""
        if not self.groups:  # (no rule here is in effect anywhere: nothing to evaluate)
            return []
        dom = self.dom
        sl = self.groups[0][0][1]  # (any slice: the atoms read no date)
        history = self.history
        idx, fns = self._signature_parts[:2]
        fixed_fns = [fn for i, fn in zip(idx, fns, strict=True) if i not in history.atoms and i not in dom.acquired_on_atoms]
        acquired_fns = [fn for i, fn in zip(idx, fns, strict=True) if i in dom.acquired_on_atoms]
        histories = self.dims[-1][1]
        # the history's own atoms read its lines alone: their values are the dimension's vectors,
        # worked out once for every history (an atom of an alteration acquired on a drug reads the
        # case's genes as well, and is worked out for each case)
        own = [p for p, i in enumerate(history.atoms) if i in self.atoms]
        own_values = [tuple(history.vectors[k][p] for p in own) for k in self._history_keys]
        lines_of = [dom.case_lines(h) for h in histories] if acquired_fns else [None] * len(histories)
        # an alteration acquired on a drug reads its gene's state and the history (and, where a
        # field is coupled to the alterations, the fields): its values over the histories are
        # worked out once for each value of those (by the states' identity: each is one object)
        nf = len(dom.fields)
        gene_pos = {g: 1 + nf + k for k, g in enumerate(self._gene_names)}
        acq_genes = {dom.gene_of.get(i, "") for i in idx if i in dom.acquired_on_atoms}
        acq_pos = (list(range(1, 1 + nf)) + sorted(gene_pos[g] for g in acq_genes)
                   if acquired_fns and acq_genes <= gene_pos.keys() else None)  # (else each combination alone)
        acq_memo: dict[tuple, list[tuple]] = {}
        firsts: dict[tuple, list] = {}
        # combinations whose fixed atoms (and acquired-on values) are those of one met before give
        # each history the signature they gave it: counted in that combination's entries at the end
        groups: dict[tuple, list] = {}  # (fixed, acquired-on key) -> [the entries, one a history; repeats]
        # fields only the acquired-on atoms read (whether the profile is from after the therapy):
        # combinations that differ in them alone have the same fixed atoms, worked out once (per
        # cancer code, the dimension varied slowest, so that the memo stays small)
        moved = {1 + k for k, (fd, fdim) in enumerate(dom.fields)
                 if fdim.atoms and set(fdim.atoms) <= dom.acquired_on_atoms and len(self.dims[1 + k][1]) > 1}
        fixed_memo: dict[tuple, tuple] = {}
        known: tuple | None = None
        for combo in itertools.product(*(vals for _, vals in self.dims[:-1])):
            prof = self.profile(combo + (histories[0],))
            if prof is None:  # (the alterations and fields alone decide it)
                continue
            case = None
            if moved:
                base = tuple(None if p in moved else id(v) for p, v in enumerate(combo))
                known = fixed_memo.get(base)
                if known is None:
                    if fixed_memo and next(iter(fixed_memo))[0] != base[0]:
                        fixed_memo.clear()
                    case = case_of(dom, prof, sl)
                    # (the facts read single-gene atoms, no history: see _collapsible)
                    known = fixed_memo[base] = (tuple(fn(case) for fn in fixed_fns) + self._fact_values(case), case)
                fixed = known[0]
            else:
                case = case_of(dom, prof, sl)
                fixed = tuple(fn(case) for fn in fixed_fns) + self._fact_values(case)
            akey = (combo if acq_pos is None else tuple(id(combo[p]) for p in acq_pos)) if acquired_fns else ()
            gkey = (fixed, akey)
            group = groups.get(gkey)
            if group is not None:
                group[1] += 1
                continue
            entries: list = []
            groups[gkey] = [entries, 0]
            head = prof[:3]
            if acquired_fns:
                acq = acq_memo.get(akey)
                if acq is None:
                    if case is None:  # (another value of a field the fixed atoms do not read)
                        assert known is not None
                        case = dataclasses.replace(known[1], **{dom.fields[p - 1][0].field: combo[p] for p in moved})
                    acq = []
                    for lines in lines_of:
                        case.lines = lines  # (the case of this combination alone: its lines replaced for each history)
                        acq.append(tuple(fn(case) for fn in acquired_fns))
                    if acq_pos is not None:
                        acq_memo[akey] = acq
                sigs: Iterable = zip(itertools.repeat(fixed), own_values, acq)
            else:
                sigs = zip(itertools.repeat(fixed), own_values)
            for h, sig in zip(histories, sigs, strict=True):
                hit = firsts.get(sig)
                if hit is None:
                    hit = firsts[sig] = [head + (h,), 1]
                else:
                    hit[1] += 1
                entries.append(hit)
        for entries, repeats in groups.values():
            if repeats:
                for hit in entries:
                    hit[1] += repeats
        return [(prof, n) for prof, n in firsts.values()]

    def profile(self, combo: tuple):
        """The data profile of one value of each dimension (in the order of :attr:`dims`), or
        None where the combination is not a case (see below)."""
        nf = len(self.dom.fields)
        end = len(self.dims) - 1 - self.n_joint  # (then the genes read together, as dicts)
        fields = combo[1:1 + nf]
        genes = dict(zip(self._gene_names, combo[1 + nf:end], strict=True))
        for joint in combo[end:-1]:
            genes.update(joint)
        checks = self.implied_checks
        if checks:
            alts = [a for st in genes.values() for a in st.alts]
            # a field the alterations imply (a germline finding: germline testing done) is
            # that value: another value is invalid input or, unknown, the same profile as
            # the implied one when that is enumerated
            if any((w := implied(fields[k], alts)) != fields[k] and w in vals for k, implied, vals in checks):
                return None
        return (combo[0], fields, genes, combo[-1])

    @functools.cached_property
    def _gene_names(self) -> list[str]:
        nf = len(self.dom.fields)
        return [n for n, _ in self.dims[1 + nf:len(self.dims) - 1 - self.n_joint]]


_CASE_ORDER = tuple(CaseIn.model_fields)


def _fact_key(values: tuple, truth_only: bool) -> tuple:
    """The values of a fact's derivations as the rules can tell them apart."""
    return tuple(v is True for v in values) if truth_only else values


def case_of(dom: Domain, prof, sl: Slice, like: NormalCase | None = None) -> NormalCase:
    """The profile's case at the slice's date and jurisdiction; ``like``: the same profile's case
    at another slice (only the date and jurisdiction are changed)."""
    if like is not None:
        return dataclasses.replace(like, as_of=sl.as_of, jurisdiction=sl.jurisdiction)
    cancer, fields, genes, lines = prof
    return dom.case(cancer, fields, genes, lines, sl)


def witness(dom: Domain, prof, sl: Slice) -> dict:
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
        v = fd.written(v, present) if fd.written is not None else fd.implied(v, present) if fd.implied is not None else v
        if v is not None:
            out[fd.field] = v
    if lines is not None:
        hist = []
        for ln in lines:
            if ln.implied:  # (normalise adds it again)
                continue
            d = {} if ln.open else {"drugs": sorted(ln.drugs)}
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
