"""The vocabulary: turns what people type into the engine's canonical terms.

Everything it knows is data in ``rules/vocabulary/`` (see the README there): the OncoTree
cancer-type hierarchy and the names people use for its codes, gene symbols and aliases, the
words and cDNA hotspots the variant reader accepts, protein reference data, drugs with their
classes, and regimens. This module is only the reader and the normalisers.

Typical use::

    vocab = Vocabulary.load(Path("rules/vocabulary"))
    vocab.cancer("PDAC").code                 # 'PAAD'
    "NSCLC" in vocab.cancer("LUAD").lineage   # True
    vocab.gene("LKB1")                        # 'STK11'
    vocab.variant("KRAS", "p.Gly12Cys").label # 'G12C'
    vocab.drug("AMG 510").name                # 'sotorasib'
    vocab.therapy_word("FOLFOX + bev")        # ('bevacizumab', 'fluorouracil', 'leucovorin', 'oxaliplatin')

Every unknown or malformed term raises :class:`~engine.errors.TermError` with the closest known
term as its suggestion; a broken vocabulary file raises :class:`~engine.errors.RuleError`
naming the file. Lookups are dictionary hits on a normalised key and are cached, since the
engine resolves the same strings many times.
"""
from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from engine.errors import Problem, RuleError, TermError

try:
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _YamlLoader = yaml.SafeLoader

_CACHE_SIZE = 1 << 16


# --------------------------------------------------------------------------- public records


@dataclass(frozen=True, slots=True)
class CancerType:
    """One OncoTree node. ``lineage`` is the code itself, then its parent, ... up to ``TISSUE``."""

    code: str
    name: str
    main_type: str | None
    lineage: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Variant:
    """One alteration of a gene, in canonical form.

    ``kind`` is ``mutation``, ``amplification``, ``fusion`` or ``loss``. ``label`` is the short
    canonical form: ``G12C``, ``E1953*``, ``S1982Rfs*22``, ``E746_A750del``, ``X125_splice``,
    ``exon 19 deletion``, or the kind word itself for an alteration given only by kind
    (``mutation`` then means an unspecified activating change). ``codon`` is the protein position
    (the first one for a range), ``ref`` the reference amino acid, ``alt`` the new one (``*`` for
    a stop; ``None`` for indels, frameshifts and kind words), ``hgvs`` the HGVS protein form.
    """

    kind: str
    label: str
    codon: int | None
    ref: str | None
    alt: str | None
    hgvs: str | None


@dataclass(frozen=True, slots=True)
class Drug:
    """A drug by lowercase generic name. ``classes`` includes every implied class
    (oxaliplatin: ``{"oxaliplatin", "platinum", "chemotherapy"}``)."""

    name: str
    classes: frozenset[str]


# --------------------------------------------------------------------------- normalisers


_NAME_PUNCT = re.compile(r"[-_,]+")
_SYMBOL_PUNCT = re.compile(r"[\s\-_./]+")
_DRUG_PUNCT = re.compile(r"[\s\-_./,'\u2019\u00ae\u2122()]+")
_REGIMEN_PUNCT = re.compile(r"[\s\-_.]+")
_REGIMEN_SEP = re.compile(r"[+&/]+")
_SPACES = re.compile(r"\s+")


def _name_key(text: str) -> str:
    """Names: ignore case, hyphens, underscores, commas and repeated spaces."""
    return " ".join(_NAME_PUNCT.sub(" ", text.casefold()).split()).rstrip(".")


def _symbol_key(text: str) -> str:
    """Gene symbols and aliases: ignore case, spaces, hyphens, dots, slashes, underscores."""
    return _SYMBOL_PUNCT.sub("", text.upper())


def _drug_key(text: str) -> str:
    """Drug names: ignore case, spaces, hyphens, dots, slashes, quotes and trademark signs."""
    return _DRUG_PUNCT.sub("", text.casefold())


def _regimen_key(text: str) -> str:
    """Regimen names: ignore case, spaces and hyphens; '+', '&' and '/' are one separator."""
    return _REGIMEN_SEP.sub("/", _REGIMEN_PUNCT.sub("", text.casefold())).strip("/")


def _closest(word: str, candidates: Mapping[str, str], cutoff: float = 0.6) -> str | None:
    """The display form of the candidate key closest to ``word`` (a key), if close enough."""
    if not word:
        return None
    hit = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return candidates[hit[0]] if hit else None


# --------------------------------------------------------------------------- HGVS grammar

_AA3 = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
    "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
    "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V", "TER": "*",
}
_AA_NAME = {one: three.title() for three, one in _AA3.items() if one != "*"}
_AA3_RX = re.compile("|".join(_AA3), re.IGNORECASE)
_AA = "ACDEFGHIKLMNPQRSTVWY"
_ACCESSION = re.compile(r"^((?:N[MPRC]|X[MP])_\d+|ENS[TP]\d+)(?:\.\d+)?(?:\(([^)]*)\))?:", re.IGNORECASE)
_SYNONYMOUS = re.compile(rf"^([{_AA}])(\d+)=$")
_MISSENSE = re.compile(rf"^([{_AA}])(\d+)([{_AA}*X])$")
_START_LOSS = re.compile(r"^M1\?$")
_FRAMESHIFT = re.compile(rf"^([{_AA}])(\d+)([{_AA}])?FS(?:[*X](\d+|\?))?$")
_RANGE = re.compile(rf"^([{_AA}])(\d+)(?:_([{_AA}])(\d+))?(DELINS|DEL|DUP|INS)([{_AA}*X]*)$")
_SPLICE = re.compile(rf"^([{_AA}X])(\d+)_?SPLICE$")
_STOP_LOSS = re.compile(rf"^\*(\d+)([{_AA}])(?:EXT[*X]?(\d+|\?))?$")
_EXON = re.compile(
    r"^ex(?:on)? ?(\d+) ?(deletion|deletions|del|insertion|insertions|ins|skipping|skip|"
    r"duplication|dup|mutation|mutations|mut)$"
)
_EXON_WORD = {
    "deletion": "deletion", "deletions": "deletion", "del": "deletion",
    "insertion": "insertion", "insertions": "insertion", "ins": "insertion",
    "skipping": "skipping", "skip": "skipping", "duplication": "duplication", "dup": "duplication",
    "mutation": "mutation", "mutations": "mutation", "mut": "mutation",
}
_COMBINATION = re.compile(r"\s*(?:\+|&|,|;|\bplus\b|\band\b|\bwith\b)\s*", re.IGNORECASE)
_POSITION_ONLY = re.compile(rf"^[{_AA}]\d+$")
_SECOND_RESIDUE = re.compile(rf"^[{_AA}]\d+_([{_AA}])(\d+)")
_CDNA = re.compile(r"^c\.(\d+(?:_\d+)?)([ACGT]*)(>|DELINS|DEL|DUP|INS)([ACGT]*)$", re.IGNORECASE)
_VARIANT_FORMS = (
    "expected a protein change (G12C, p.Gly12Cys, E1953*, S1982Rfs*22, E746_A750del, "
    "X125_splice, exon 19 deletion), a hotspot cDNA change (c.34G>T) or one of: "
    "amplification, fusion, loss, mutation"
)


@dataclass(frozen=True, slots=True)
class _Protein:
    """A gene's reference data: highest valid residue and known residues by position."""

    length: int | None
    residues: Mapping[int, str]


# --------------------------------------------------------------------------- the vocabulary


class Vocabulary:
    """Cancer types, genes, variants, drugs and regimens, read from ``rules/vocabulary``."""

    attribution: str

    def __init__(self) -> None:  # use Vocabulary.load
        self.attribution = ""
        self.oncotree_release = ""
        self._cancers: dict[str, CancerType] = {}
        self._cancer_names: dict[str, str] = {}  # name key -> code
        self._ambiguous_names: dict[str, tuple[str, ...]] = {}
        self._old_codes: dict[str, str] = {}
        self._tissue: dict[str, str] = {}
        self._cancer_suggest: dict[str, str] = {}
        self._genes: frozenset[str] = frozenset()
        self._gene_keys: dict[str, str] = {}
        self._panels: dict[str, frozenset[str]] = {}
        self._kinds: dict[str, str] = {}
        self._not_alterations: dict[str, str] = {}
        self._ambiguous_variants: dict[str, tuple[str, str | None]] = {}
        self._cdna: dict[str, dict[str, str]] = {}
        self._cdna_transcripts: dict[str, frozenset[str]] = {}
        self._protein_conf: dict[str, dict] = {}
        self._residue_text: dict[str, str] = {}
        self._proteins: dict[str, _Protein] = {}
        self._recurrent: dict[str, tuple[str, ...]] = {}
        self._classes: dict[str, str] = {}
        self._drugs: dict[str, Drug] = {}
        self._drug_display: dict[str, str] = {}
        self._drug_keys: dict[str, str] = {}
        self._drug_suggest: dict[str, str] = {}
        self._in_class: dict[str, frozenset[str]] = {}
        self._regimens: dict[str, tuple[str, ...]] = {}  # regimen key -> drugs
        self._regimen_names: dict[str, str] = {}  # regimen key -> name as written
        self._regimen_canon: dict[str, tuple[str, ...]] = {}  # regimen name -> drugs
        self._make_caches()

    def _make_caches(self) -> None:
        cache = functools.lru_cache(maxsize=_CACHE_SIZE)
        self._cached_cancer = cache(self._cancer)
        self._cached_gene = cache(self._gene)
        self._cached_variant = cache(self._variant)
        self._cached_drug = cache(self._drug)
        self._cached_therapy = cache(self._therapy_word)

    def __getstate__(self) -> dict:
        """Picklable (for worker processes): the caches are rebuilt on the other side."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_cached_")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._make_caches()

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, directory: Path) -> "Vocabulary":
        """Read every vocabulary file in ``directory`` (``rules/vocabulary``).

        Raises :class:`RuleError` naming the file and key path when a file is missing or
        inconsistent (a regimen naming an unknown drug, an alias of an unknown gene, ...).
        """
        directory = Path(directory)
        vocab = cls()
        vocab._load_cancers(directory)
        vocab._load_genes(directory)
        vocab._load_variants(directory)
        vocab._load_proteins(directory)
        vocab._load_drugs(directory)
        vocab._load_regimens(directory)
        return vocab

    @staticmethod
    def _read_yaml(path: Path) -> dict:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleError(f"cannot read vocabulary file: {exc.strerror}", source=str(path)) from None
        try:
            data = yaml.load(text, Loader=_YamlLoader)
        except yaml.YAMLError as exc:
            raise RuleError(f"not valid YAML: {exc}", source=str(path)) from None
        if not isinstance(data, dict):
            raise RuleError("expected a mapping at the top level", source=str(path))
        return data

    @staticmethod
    def _fail(path: Path, problems: list[Problem]) -> None:
        if problems:
            raise RuleError(problems, source=str(path))

    def _load_cancers(self, directory: Path) -> None:
        path = directory / "cancer_types.yaml"
        conf = self._read_yaml(path)
        tree_conf = conf.get("oncotree") or {}
        tree_path = directory / str(tree_conf.get("file", ""))
        try:
            tree = json.loads(tree_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuleError(f"cannot read the OncoTree file named in oncotree.file: {exc}", source=str(path)) from None
        self.attribution = " ".join(str(tree_conf.get("attribution", "")).split())
        self.oncotree_release = str(tree_conf.get("release", ""))

        parents: dict[str, str | None] = {}
        raw: dict[str, dict] = {}
        stack = list(tree.values())
        while stack:
            node = stack.pop()
            raw[node["code"]] = node
            parents[node["code"]] = node.get("parent")
            stack.extend((node.get("children") or {}).values())
        for code, node in raw.items():
            lineage = [code]
            parent = parents[code]
            while parent:
                lineage.append(parent)
                parent = parents.get(parent)
            self._cancers[code] = CancerType(code, node["name"], node.get("mainType"), tuple(lineage))
            self._tissue[code] = node.get("tissue") or node["name"]

        by_name: dict[str, set[str]] = {}
        for code, ct in self._cancers.items():
            by_name.setdefault(_name_key(ct.name), set()).add(code)
            self._cancer_suggest[code.casefold()] = code
            self._cancer_suggest.setdefault(_name_key(ct.name), ct.name)
        for key, codes in by_name.items():
            if len(codes) == 1:
                self._cancer_names[key] = next(iter(codes))
            else:
                self._ambiguous_names[key] = tuple(sorted(codes))
        for code, node in raw.items():
            for old in list(node.get("history") or []) + list(node.get("precursors") or []):
                if old not in self._cancers:
                    self._old_codes[old.upper()] = code

        problems: list[Problem] = []
        for code, names in (conf.get("names") or {}).items():
            if code not in self._cancers:
                problems.append(Problem(f"unknown OncoTree code '{code}'", ("names", code),
                                        _closest(str(code).casefold(), {c.casefold(): c for c in self._cancers})))
                continue
            for i, name in enumerate(names or []):
                key = _name_key(str(name))
                other = self._cancer_names.get(key)
                if key.upper() in self._cancers and key.upper() != code:
                    problems.append(Problem(f"'{name}' is the OncoTree code of another type", ("names", code, i)))
                elif other is not None and other != code:
                    problems.append(Problem(f"'{name}' is already the name of {other}", ("names", code, i)))
                else:
                    self._cancer_names[key] = code
                    self._ambiguous_names.pop(key, None)
                    self._cancer_suggest[key] = str(name)
        self._fail(path, problems)

    def _load_genes(self, directory: Path) -> None:
        path = directory / "genes.yaml"
        conf = self._read_yaml(path)
        renamed = {str(k): str(v) for k, v in (conf.get("renamed") or {}).items()}
        symbols: set[str] = set(map(str, conf.get("knowledge") or []))
        for name, panel in (conf.get("panels") or {}).items():
            members = frozenset(renamed.get(str(g), str(g)) for g in panel.get("genes") or [])
            self._panels[str(name)] = members
            symbols |= members
        symbols |= set(map(str, conf.get("fusion_partners") or []))
        self._genes = frozenset(symbols)

        problems: list[Problem] = []
        keys: dict[str, str] = {}

        def add(name: str, symbol: str, where: tuple) -> None:
            key = _symbol_key(name)
            if keys.get(key, symbol) != symbol:
                problems.append(Problem(f"'{name}' would mean both {keys[key]} and {symbol}", where))
            keys[key] = symbol

        for symbol in sorted(symbols):
            add(symbol, symbol, ("genes", symbol))
        for section, table in (("renamed", renamed), ("aliases", conf.get("aliases") or {})):
            for old, new in table.items():
                if str(new) not in symbols:
                    problems.append(Problem(f"'{old}' points to '{new}', which is not a known gene", (section, old)))
                    continue
                if _symbol_key(str(old)) in keys and keys[_symbol_key(str(old))] == str(old):
                    problems.append(Problem(f"'{old}' is itself a known gene symbol", (section, old)))
                    continue
                add(str(old), str(new), (section, old))
        self._gene_keys = keys
        self._fail(path, problems)

    def _load_variants(self, directory: Path) -> None:
        path = directory / "variants.yaml"
        conf = self._read_yaml(path)
        problems: list[Problem] = []
        for kind, words in (conf.get("kinds") or {}).items():
            if kind not in ("mutation", "amplification", "fusion", "loss"):
                problems.append(Problem(f"unknown alteration kind '{kind}'", ("kinds", kind)))
            for word in words or []:
                self._kinds[_name_key(str(word))] = str(kind)
        not_alt = conf.get("not_alterations") or {}
        for word in not_alt.get("words") or []:
            self._not_alterations[_name_key(str(word))] = " ".join(str(not_alt.get("reason", "")).split())
        for word, spec in (conf.get("ambiguous") or {}).items():
            self._ambiguous_variants[_name_key(str(word))] = (
                " ".join(str(spec.get("reason", "")).split()), spec.get("suggestion"))
        for gene, spec in (conf.get("cdna_hotspots") or {}).items():
            if gene not in self._genes:
                problems.append(Problem(f"unknown gene '{gene}'", ("cdna_hotspots", gene)))
                continue
            self._cdna_transcripts[gene] = frozenset(str(t).upper() for t in spec.get("transcripts") or [])
            table: dict[str, str] = {}
            for change, label in (spec.get("changes") or {}).items():
                key = self._cdna_key(str(change))
                if key is None:
                    problems.append(Problem(f"not a cDNA change: '{change}'", ("cdna_hotspots", gene, "changes", change)))
                    continue
                table[key] = str(label)
            self._cdna[gene] = table
        self._fail(path, problems)

    def _load_proteins(self, directory: Path) -> None:
        path = directory / "protein_reference.yaml"
        conf = self._read_yaml(path)
        problems: list[Problem] = []
        for gene, spec in (conf.get("genes") or {}).items():
            if gene not in self._genes:
                problems.append(Problem(f"unknown gene '{gene}'", ("genes", gene)))
                continue
            self._protein_conf[gene] = dict(spec or {})
        self._fail(path, problems)
        generated = directory / "protein_residues.json"
        try:
            data = json.loads(generated.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuleError(f"cannot read generated residues ({exc}); run scripts/build_protein_reference.py",
                            source=str(generated)) from None
        self._residue_text = dict(data.get("residues") or {})
        self._recurrent = {k: tuple(v) for k, v in (data.get("recurrent") or {}).items()}
        # every label of the cDNA tables must be a change its gene can have
        for gene, table in self._cdna.items():
            for change, label in table.items():
                try:
                    self._variant(gene, label)
                except TermError as err:
                    problems.append(Problem(err.problems[0].message, ("cdna_hotspots", gene, "changes", change)))
        self._fail(directory / "variants.yaml", problems)

    def _load_drugs(self, directory: Path) -> None:
        path = directory / "drugs.yaml"
        conf = self._read_yaml(path)
        problems: list[Problem] = []
        classes = conf.get("classes") or {}
        implies: dict[str, tuple[str, ...]] = {}
        for cid, spec in classes.items():
            spec = spec or {}
            if not re.fullmatch(r"[a-z][a-z0-9_]*", str(cid)):
                problems.append(Problem("class ids are snake_case", ("classes", cid)))
            self._classes[str(cid)] = str(spec.get("label") or cid)
            implies[str(cid)] = tuple(map(str, spec.get("implies") or ()))
        for cid, parents in implies.items():
            for p in parents:
                if p not in implies:
                    problems.append(Problem(f"implies unknown class '{p}'", ("classes", cid, "implies"),
                                            _closest(p, {c: c for c in implies})))
        self._fail(path, problems)

        closure: dict[str, frozenset[str]] = {}

        def close(cid: str, trail: tuple[str, ...] = ()) -> frozenset[str]:
            if cid in trail:
                raise RuleError([Problem(f"class cycle: {' -> '.join(trail + (cid,))}", ("classes", cid))], str(path))
            if cid not in closure:
                out = {cid}
                for parent in implies[cid]:
                    out |= close(parent, trail + (cid,))
                closure[cid] = frozenset(out)
            return closure[cid]

        members: dict[str, set[str]] = {cid: set() for cid in implies}
        for name, spec in (conf.get("drugs") or {}).items():
            name = str(name)
            spec = spec or {}
            where = ("drugs", name)
            if name != name.lower():
                problems.append(Problem("drug keys are lowercase", where))
            drug_classes: set[str] = set()
            for cid in spec.get("classes") or []:
                if cid not in implies:
                    problems.append(Problem(f"unknown class '{cid}'", where + ("classes",),
                                            _closest(str(cid), {c: c for c in implies})))
                    continue
                drug_classes |= close(str(cid))
            drug = Drug(name, frozenset(drug_classes))
            self._drugs[name] = drug
            self._drug_display[name] = str(spec.get("display") or name)
            for cid in drug_classes:
                members[cid].add(name)
            names = [name, self._drug_display[name]]
            for field in ("brands", "codes", "synonyms"):
                names += [str(x) for x in spec.get(field) or []]
            for alias in names:
                key = _drug_key(alias)
                if self._drug_keys.get(key, name) != name:
                    problems.append(Problem(f"'{alias}' is also a name of {self._drug_keys[key]}", where))
                self._drug_keys[key] = name
                self._drug_suggest.setdefault(key, alias)
        self._in_class = {cid: frozenset(v) for cid, v in members.items()}
        self._fail(path, problems)

    def _load_regimens(self, directory: Path) -> None:
        path = directory / "regimens.yaml"
        conf = self._read_yaml(path)
        problems: list[Problem] = []
        for name, spec in (conf.get("regimens") or {}).items():
            name = str(name)
            spec = spec or {}
            drugs = []
            for i, d in enumerate(spec.get("drugs") or []):
                if d not in self._drugs:
                    problems.append(Problem(f"unknown drug '{d}'", ("regimens", name, "drugs", i),
                                            self._suggest_drug(str(d))))
                drugs.append(str(d))
            if not drugs:
                problems.append(Problem("a regimen lists its drugs", ("regimens", name, "drugs")))
            expanded = tuple(sorted(set(drugs)))
            self._regimen_canon[name] = expanded
            for alias in [name] + [str(a) for a in spec.get("aliases") or []]:
                key = _regimen_key(alias)
                if key in self._regimens and self._regimens[key] != expanded:
                    problems.append(Problem(f"'{alias}' is already another regimen", ("regimens", name)))
                if _drug_key(alias) in self._drug_keys:
                    problems.append(Problem(f"'{alias}' is also a drug name", ("regimens", name)))
                self._regimens[key] = expanded
                self._regimen_names.setdefault(key, alias)
        self._fail(path, problems)

    # ------------------------------------------------------------------ cancer types

    def cancer(self, text: str) -> CancerType:
        """A cancer type from what people type: an OncoTree code in any case (``luad``), an
        OncoTree node name, a previous OncoTree code, or a common name (``PDAC``, ``mCRC``,
        ``non-small cell lung cancer``)."""
        if type(text) is not str or not text.strip():
            raise TermError(f"a cancer type is a non-empty text, got {text!r}")
        return self._cached_cancer(text)

    def _cancer(self, text: str) -> CancerType:
        code = text.strip().upper()
        hit = self._cancers.get(code)
        if hit is not None:
            return hit
        key = _name_key(text)
        found = self._cancer_names.get(key) or self._old_codes.get(code)
        if found is not None:
            return self._cancers[found]
        if key in self._ambiguous_names:
            codes = self._ambiguous_names[key]
            listed = ", ".join(f"{c} ({self._tissue[c]})" for c in codes)
            raise TermError(f"cancer type '{text}' is ambiguous: it names {listed}; give the OncoTree code",
                            codes[0])
        raise TermError(f"unknown cancer type '{text}'", _closest(key, self._cancer_suggest))

    def cancer_code(self, code: str) -> CancerType:
        """An exact OncoTree code (for rule files, where names are not allowed)."""
        if type(code) is str and code in self._cancers:
            return self._cancers[code]
        try:
            meant = self.cancer(code)
        except TermError as err:
            suggestion = err.problems[0].suggestion
            if suggestion:
                try:
                    suggestion = self.cancer(suggestion).code
                except TermError:
                    pass
            raise TermError(f"unknown OncoTree code '{code}'", suggestion) from None
        raise TermError(f"'{code}' is not an OncoTree code (it means {meant.code}, {meant.name})", meant.code)

    @property
    def cancer_types(self) -> Mapping[str, CancerType]:
        """Every OncoTree node by code."""
        return MappingProxyType(self._cancers)

    # ------------------------------------------------------------------ genes

    def gene(self, text: str) -> str:
        """The current HGNC symbol for a symbol (any case), a previous symbol or an alias
        (``LKB1`` -> ``STK11``, ``c-MET`` -> ``MET``, ``FAM123B`` -> ``AMER1``)."""
        if type(text) is not str or not text.strip():
            raise TermError(f"a gene is a non-empty text, got {text!r}")
        return self._cached_gene(text)

    def find_gene(self, text: str) -> str | None:
        """Like :meth:`gene`, but None for an unknown gene, with no suggestion worked out (fast:
        importers look up every gene of a mutation file, most of them unknown to the rules)."""
        if type(text) is not str:
            return None
        return self._gene_keys.get(_symbol_key(text))

    def _gene(self, text: str) -> str:
        symbol = self._gene_keys.get(_symbol_key(text))
        if symbol is not None:
            return symbol
        suggestion = _closest(_symbol_key(text), self._gene_keys, cutoff=0.7)
        raise TermError(f"unknown gene '{text}'", suggestion)

    @property
    def genes(self) -> frozenset[str]:
        """Every gene symbol the vocabulary knows (current HGNC symbols)."""
        return self._genes

    def panel(self, name: str) -> frozenset[str]:
        """The genes of a named panel (``IMPACT410``), as current symbols."""
        try:
            return self._panels[name]
        except KeyError:
            raise TermError(f"unknown gene panel '{name}'", _closest(name, {p: p for p in self._panels})) from None

    # ------------------------------------------------------------------ variants

    def variant(self, gene: str, text: str) -> Variant:
        """Read one alteration of ``gene`` (a canonical symbol): HGVS protein notation in one- or
        three-letter form, with or without ``p.`` or parentheses; a cDNA change from the hotspot
        table (``c.34G>T``); or a kind word (``amplification``, ``fusion``, ``loss``,
        ``mutation`` and their synonyms). A change that cannot belong to the gene (past its
        last residue, or naming the wrong reference residue) is an error."""
        if type(text) is not str or not text.strip():
            raise TermError(f"a variant is a non-empty text, got {text!r}")
        if type(gene) is not str:
            raise TermError(f"a gene is a text, got {gene!r}")
        return self._cached_variant(gene, text)

    def _variant(self, gene: str, text: str) -> Variant:
        s = text.strip()
        fast = _MISSENSE.match(s[2:] if s[:2] == "p." else s)  # the common case: p.G12C / G12C
        if fast and fast.group(3) not in (fast.group(1), "X"):
            ref, pos, alt = fast.groups()
            variant = self._point(ref, int(pos), alt, f"{ref}{pos}{alt}")
            self._check_reference(gene, variant, text)
            return variant
        n = len(gene)
        if n and len(s) > n + 1 and s[:n].upper() == gene.upper() and (s[n] in " :_\t" or s[n:n + 2].lower() in ("p.", "c.")):
            s = s[n:].lstrip(" :_\t")
        key = _name_key(s)
        kind = self._kinds.get(key)
        if kind is not None:
            return Variant(kind, kind, None, None, None, None)
        if key in self._not_alterations:
            raise TermError(f"'{text}' {self._not_alterations[key]}")
        if key in self._ambiguous_variants:
            reason, suggestion = self._ambiguous_variants[key]
            raise TermError(f"'{text}' {reason}", suggestion)
        exon = _EXON.match(key)
        if exon:
            label = f"exon {int(exon.group(1))} {_EXON_WORD[exon.group(2)]}"
            return Variant("mutation", label, None, None, None, None)

        accession = None
        acc = _ACCESSION.match(s)
        if acc:
            accession = acc.group(1).upper()
            if acc.group(2) and _symbol_key(acc.group(2)) != _symbol_key(gene):
                raise TermError(f"'{text}' names gene {acc.group(2)}, not {gene}")
            s = s[acc.end():]
        s = _SPACES.sub("", s)
        if s[:2].lower() == "c.":
            return self._cdna_variant(gene, text, s, accession)
        if s[:2].lower() in ("g.", "m.", "n.", "r."):
            raise TermError(f"'{text}' is not a protein change: give the protein change (for example 'p.G12C')")
        variant = self._protein_variant(gene, text, s)
        self._check_reference(gene, variant, text)
        return variant

    @staticmethod
    def _cdna_key(change: str) -> str | None:
        m = _CDNA.match(_SPACES.sub("", change))
        if not m:
            return None
        op = m.group(3).lower()
        return f"c.{m.group(1)}{m.group(2).upper()}{op}{m.group(4).upper()}"

    def _cdna_variant(self, gene: str, text: str, s: str, accession: str | None) -> Variant:
        table = self._cdna.get(gene)
        if not table:
            known = ", ".join(sorted(self._cdna))
            raise TermError(f"'{text}': cDNA changes are read only for the hotspots of {known}; "
                            f"give the protein change (for example 'p.G12C')")
        if accession and accession not in self._cdna_transcripts.get(gene, ()):
            listed = ", ".join(sorted(t for t in self._cdna_transcripts[gene] if t.startswith("NM_")))
            raise TermError(f"'{text}': the {gene} hotspot table uses {listed} numbering, not {accession}")
        key = self._cdna_key(s)
        label = table.get(key) if key else None
        if label is None:
            raise TermError(f"'{text}' is not in the {gene} cDNA hotspot table: give the protein change "
                            f"(for example 'p.{next(iter(table.values()))}')")
        return self._protein_variant(gene, text, label)

    def _protein_variant(self, gene: str, text: str, s: str) -> Variant:
        if s[:2].lower() == "p.":
            s = s[2:]
        if s.startswith("(") and s.endswith(")"):
            s = s[1:-1]
        if s[:3].upper() in _AA3 and s[3:4].isdigit():
            s = _AA3_RX.sub(lambda m: _AA3[m.group(0).upper()], s)
        u = s.upper()
        if _SYNONYMOUS.match(u):
            raise TermError(f"'{text}' is a synonymous change (the amino acid stays the same): not an alteration")
        m = _MISSENSE.match(u)
        if m:
            ref, pos, alt = m.group(1), int(m.group(2)), m.group(3).replace("X", "*")
            if alt == ref:
                raise TermError(f"'{text}' is a synonymous change (the amino acid stays the same): not an alteration")
            return self._point(ref, pos, alt, f"{ref}{pos}{alt}")
        if _START_LOSS.match(u):
            return Variant("mutation", "M1?", 1, "M", None, "p.M1?")
        m = _FRAMESHIFT.match(u)
        if m:
            ref, pos = m.group(1), int(m.group(2))
            label = f"{ref}{pos}{m.group(3) or ''}fs" + (f"*{m.group(4)}" if m.group(4) else "")
            return self._point(ref, pos, None, label)
        m = _RANGE.match(u)
        if m:
            return self._range(text, m)
        m = _SPLICE.match(u)
        if m:
            ref = None if m.group(1) == "X" else m.group(1)
            label = f"{m.group(1)}{int(m.group(2))}_splice"
            return self._point(ref, int(m.group(2)), None, label)
        m = _STOP_LOSS.match(u)
        if m:
            pos, alt = int(m.group(1)), m.group(2)
            label = f"*{pos}{alt}" + (f"ext*{m.group(3)}" if m.group(3) else "")
            return self._point("*", pos, alt, label)
        if _POSITION_ONLY.match(u):
            raise TermError(f"'{text}' names a position, not a change: give the new amino acid "
                            f"(for example '{u}C') or write 'mutation'")
        kind_word = _closest(_name_key(s), {**{k: k for k in self._kinds}})
        raise TermError(f"cannot read variant '{text}' of {gene}: {_VARIANT_FORMS}", kind_word)

    @staticmethod
    def _point(ref: str | None, pos: int, alt: str | None, label: str) -> Variant:
        if pos < 1:
            raise TermError(f"protein positions start at 1, got '{label}'")
        return Variant("mutation", label, pos, ref, alt, f"p.{label}")

    def _range(self, text: str, m: re.Match) -> Variant:
        ref1, pos1 = m.group(1), int(m.group(2))
        ref2, pos2 = m.group(3), int(m.group(4)) if m.group(4) else None
        op, inserted = m.group(5), m.group(6).replace("X", "*")
        if pos2 is not None and pos2 <= pos1:
            raise TermError(f"'{text}': the range must run from the lower to the higher position")
        if op in ("DEL", "DUP") and inserted:
            raise TermError(f"'{text}': '{op.lower()}' takes no residues after it")
        if op == "INS" and (pos2 is None or pos2 != pos1 + 1 or not inserted):
            raise TermError(f"'{text}': an insertion names the two neighbouring residues and what is "
                            f"inserted (for example 'G12_G13insA')")
        if op == "DELINS" and not inserted:
            raise TermError(f"'{text}': 'delins' needs the inserted residues")
        if op == "DELINS" and pos2 is None and len(inserted) == 1:
            if inserted == ref1:
                raise TermError(f"'{text}' is a synonymous change (the amino acid stays the same): not an alteration")
            return self._point(ref1, pos1, inserted, f"{ref1}{pos1}{inserted}")
        span = f"{ref1}{pos1}" + (f"_{ref2}{pos2}" if pos2 is not None else "")
        return self._point(ref1, pos1, None, f"{span}{op.lower()}{inserted}")

    def _protein(self, gene: str) -> _Protein | None:
        hit = self._proteins.get(gene)
        if hit is None:
            conf = self._protein_conf.get(gene)
            text = self._residue_text.get(gene)
            if conf is None and text is None:
                return None
            residues = {int(tok[:-1]): tok[-1] for tok in (text or "").split()}
            hit = _Protein((conf or {}).get("length"), residues)
            self._proteins[gene] = hit
        return hit

    def _check_reference(self, gene: str, v: Variant, text: str) -> None:
        if v.codon is None:
            return
        protein = self._protein(gene)
        if protein is None:
            return
        checks: list[tuple[int, str | None]] = [(v.codon, v.ref)]
        second = _SECOND_RESIDUE.match(v.label)
        if second:
            checks.append((int(second.group(2)), second.group(1)))
        for pos, ref in checks:
            limit = protein.length + 1 if (protein.length and ref == "*") else protein.length
            if limit and pos > limit:
                others = [g for g in self._recurrent.get(v.label, ()) if g != gene]
                known = f"; {v.label} is a known change of {', '.join(others)}" if others else ""
                raise TermError(
                    f"{gene} has {protein.length} residues: '{text}' (position {pos}) is not a {gene} change{known}",
                    others[0] if others else None,
                )
            actual = protein.residues.get(pos)
            if ref and ref != "*" and actual and actual != ref:
                meant = None
                if pos == v.codon:
                    candidate = actual + v.label[len(ref):]
                    if v.alt != actual:
                        meant = candidate
                else:
                    meant = v.label.replace(f"_{ref}{pos}", f"_{actual}{pos}")
                others = [g for g in self._recurrent.get(v.label, ()) if g != gene]
                known = f"; {v.label} is a known change of {', '.join(others)}" if others else ""
                raise TermError(f"{gene} residue {pos} is {actual} ({_AA_NAME[actual]}), not {ref}{known}", meant)

    # ------------------------------------------------------------------ drugs

    def _suggest_drug(self, text: str) -> str | None:
        return _closest(_drug_key(text), self._drug_suggest, cutoff=0.7)

    def _lookup_drug(self, text: str) -> Drug | None:
        name = self._drug_keys.get(_drug_key(text))
        return self._drugs[name] if name else None

    def drug(self, text: str) -> Drug:
        """A drug from its generic, brand or code name, in any case and spacing
        (``AMG 510``, ``AMG-510``, ``amg510``, ``Lumakras`` -> sotorasib)."""
        if type(text) is not str or not text.strip():
            raise TermError(f"a drug is a non-empty text, got {text!r}")
        return self._cached_drug(text)

    def _drug(self, text: str) -> Drug:
        hit = self._lookup_drug(text)
        if hit is not None:
            return hit
        drugs = self._regimens.get(_regimen_key(text))
        if drugs is not None:
            raise TermError(f"'{text}' is a regimen, not a drug: it expands to {', '.join(drugs)}")
        raise TermError(f"unknown drug '{text}'", self._suggest_drug(text))

    def drug_label(self, name: str) -> str:
        """How to show a drug (``rm-018`` -> ``RM-018``); accepts any of the drug's names."""
        return self._drug_display[self.drug(name).name]

    def class_label(self, cls: str) -> str:
        """The human label of a drug class (``kras_g12c_inhibitor`` -> ``KRAS G12C inhibitor``)."""
        try:
            return self._classes[cls]
        except (KeyError, TypeError):
            raise TermError(f"unknown drug class '{cls}'", _closest(str(cls), {c: c for c in self._classes})) from None

    @property
    def drug_classes(self) -> frozenset[str]:
        """Every drug class id."""
        return frozenset(self._classes)

    @property
    def drugs(self) -> frozenset[str]:
        """Every drug name (lowercase generic name or code name)."""
        return frozenset(self._drugs)

    def drugs_in_class(self, cls: str) -> frozenset[str]:
        """The drugs of a class, counting implied classes (``platinum`` includes oxaliplatin)."""
        self.class_label(cls)
        return self._in_class.get(cls, frozenset())

    # ------------------------------------------------------------------ regimens and therapy words

    def regimen(self, text: str) -> tuple[str, ...] | None:
        """The drugs of a named regimen (sorted), or ``None`` if ``text`` is not a regimen name."""
        if not isinstance(text, str):
            return None
        return self._regimens.get(_regimen_key(text))

    @property
    def regimens(self) -> Mapping[str, tuple[str, ...]]:
        """Every regimen by its name (aliases left out)."""
        return MappingProxyType(self._regimen_canon)

    def _one_therapy(self, text: str) -> tuple[str, ...] | None:
        drugs = self._regimens.get(_regimen_key(text))
        if drugs is not None:
            return drugs
        hit = self._lookup_drug(text)
        return (hit.name,) if hit else None

    def _slashed(self, text: str, whole: str) -> tuple[str, ...]:
        """Resolve 'a/b/c' where each part, or a run of parts, is a drug or regimen."""
        direct = self._one_therapy(text)
        if direct is not None:
            return direct
        parts = [p.strip() for p in text.split("/")]
        n = len(parts)
        best: list[tuple[int, tuple[str, ...]] | None] = [None] * (n + 1)
        best[0] = (0, ())
        for j in range(1, n + 1):
            for i in range(j):
                if best[i] is None or not all(parts[i:j]):
                    continue
                got = self._one_therapy("/".join(parts[i:j]))
                if got is not None:
                    cand = (best[i][0] + 1, best[i][1] + got)
                    if best[j] is None or cand[0] < best[j][0]:
                        best[j] = cand
        if best[n] is not None:
            return best[n][1]
        bad = next((p for p in parts if p and self._one_therapy(p) is None), text)
        raise self._unknown_therapy(bad, whole)

    def _unknown_therapy(self, part: str, whole: str) -> TermError:
        where = f" in '{whole}'" if part.strip() != whole.strip() else ""
        pool = {**self._drug_suggest, **{k.replace("/", ""): v for k, v in self._regimen_names.items()}}
        return TermError(f"unknown drug or regimen '{part.strip()}'{where}", _closest(_drug_key(part), pool, cutoff=0.7))

    def therapy_word(self, text: str) -> tuple[str, ...]:
        """The drugs of one prior-therapy word: a regimen (``FOLFOX``), a drug, or a combination
        of these written with ``/``, ``+``, ``&``, ``,``, ``plus``, ``and`` or ``with``
        (``FOLFOX + bevacizumab``, ``carbo/pem/pembro``). Sorted drug names."""
        if type(text) is not str or not text.strip():
            raise TermError(f"a therapy is a non-empty text, got {text!r}")
        return self._cached_therapy(text)

    def _therapy_word(self, text: str) -> tuple[str, ...]:
        whole = self._one_therapy(text)
        if whole is not None:
            return tuple(sorted(set(whole)))
        pieces = [p for p in _COMBINATION.split(text.strip()) if p]
        if not pieces:
            raise self._unknown_therapy(text, text)
        drugs: set[str] = set()
        for piece in pieces:
            drugs.update(self._slashed(piece, text))
        return tuple(sorted(drugs))

