"""Protein changes from genomic coordinates, through the hotspot table in ``rules/vocabulary``.

Some mutation files (MSK-IMPACT's ``data_mutations_extended.txt`` for lung_msk_2017) have no protein
change column, only assembly, chromosome, position and alleles. :class:`HotspotTable` reads
``genomic_hotspots.yaml`` (codon segments: coding-strand reference in IUPAC codes and, per assembly,
chromosome, strand and the position of the first base) and translates a substitution whose changed
bases all lie in the table::

    >>> table = HotspotTable.load(Path("rules/vocabulary/genomic_hotspots.yaml"))
    >>> table.decode("GRCh37", "12", 25398285, "C", "A").protein
    'p.G12C'

Which genes and codons are covered is data; this module only knows the genetic code it is given.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine import ruleyaml
from engine.errors import Problem, RuleError

IUPAC: dict[str, frozenset[str]] = {
    "A": frozenset("A"),
    "C": frozenset("C"),
    "G": frozenset("G"),
    "T": frozenset("T"),
    "R": frozenset("AG"),
    "Y": frozenset("CT"),
    "S": frozenset("CG"),
    "W": frozenset("AT"),
    "K": frozenset("GT"),
    "M": frozenset("AC"),
    "B": frozenset("CGT"),
    "D": frozenset("AGT"),
    "H": frozenset("ACT"),
    "V": frozenset("ACG"),
    "N": frozenset("ACGT"),
}
_COMPLEMENT = str.maketrans("ACGTRYSWKMBDHVN", "TGCAYRSWMKVHDBN")

# Outcome kinds of HotspotTable.decode
DECODED = "decoded"  # a protein change (missense, nonsense or multi-residue delins)
SYNONYMOUS = "synonymous"  # every changed codon still encodes the same amino acid
OUTSIDE = "outside"  # some changed base is not in the table (or the row is not a substitution)
MISMATCH = "mismatch"  # the row's reference allele disagrees with the table
AMBIGUOUS = "ambiguous"  # an open reference base makes the amino acid undecidable
PAST_END = "past_end"  # the position lies past its chromosome's end (a reader's own check: see past_end)


def complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a substitution does at the hotspot codons."""

    kind: str
    gene: str | None = None
    protein: str | None = None  # HGVS protein change, e.g. "p.G12C", when kind == DECODED
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Base:
    gene: str
    codon: int
    offset: int  # 0, 1, 2 within the codon
    plus_ref: frozenset[str]  # reference base(s) read on the plus strand
    strand: str


class HotspotTable:
    """Codon segments by assembly and chromosome, with the genetic code used to translate them."""

    def __init__(self, code: dict[str, str], assemblies: dict[str, str], bases: dict, codons: dict, examples: list,
                 transcripts: dict[str, frozenset[str]] | None = None, lengths: dict[tuple[str, str], int] | None = None):
        self._code = code  # "TTT" -> "F"
        # gene -> the transcripts whose numbering the segments follow (their ``transcript`` keys)
        self.transcripts: dict[str, frozenset[str]] = transcripts or {}
        self._assembly_names = assemblies  # lower-cased spelling -> canonical name
        self._bases: dict[tuple[str, str, int], _Base] = bases  # (assembly, chrom, pos) -> base
        self._codons: dict[tuple[str, int], str] = codons  # (gene, codon) -> IUPAC reference codon
        self.examples: list[dict] = examples
        self.source: str = ""
        self._lengths: dict[tuple[str, str], int] = lengths or {}  # (assembly, chrom) -> its length in bases

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: Path) -> HotspotTable:
        """Read and check ``genomic_hotspots.yaml``; a bad table raises RuleError with the key path."""
        try:
            data = ruleyaml.load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RuleError(f"hotspot table not found: {path}") from None
        except yaml.YAMLError as exc:
            raise RuleError(f"invalid YAML: {exc}", source=str(path)) from None
        try:
            table = cls._from_data(data)
        except _TableError as exc:
            raise RuleError([Problem(exc.message, exc.path)], source=str(path)) from None
        table.source = str(path)
        return table

    @classmethod
    def _from_data(cls, data: Any) -> HotspotTable:
        if not isinstance(data, dict):
            raise _TableError("the table is a mapping with genetic_code, assemblies, segments", ())
        unknown = set(data) - {"genetic_code", "assemblies", "chromosome_lengths", "segments", "examples"}
        if unknown:
            raise _TableError(f"unknown key '{sorted(unknown)[0]}'", ())
        gc = _need(data, "genetic_code", dict, ())
        order = str(_need(gc, "bases", str, ("genetic_code",)))
        aas = str(_need(gc, "amino_acids", str, ("genetic_code",)))
        if sorted(order) != sorted("ACGT") or len(aas) != 64:
            raise _TableError("bases must be the four bases and amino_acids 64 letters", ("genetic_code",))
        code = {"".join(c): aa for c, aa in zip(itertools.product(order, repeat=3), aas, strict=True)}

        names: dict[str, str] = {}
        for canon, spellings in _need(data, "assemblies", dict, ()).items():
            if not isinstance(spellings, list):
                raise _TableError("a list of spellings", ("assemblies", canon))
            for s in [canon, *spellings]:
                names[str(s).lower()] = str(canon)

        lengths: dict[tuple[str, str], int] = {}
        for asm, per in (data.get("chromosome_lengths") or {}).items():
            at = ("chromosome_lengths", asm)
            if asm not in names.values():
                raise _TableError(f"unknown assembly '{asm}' (not under assemblies)", at)
            if not isinstance(per, dict):
                raise _TableError("a mapping of chromosome to its length", at)
            for chrom, n in per.items():
                if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                    raise _TableError("a length is a positive whole number of bases", (*at, chrom))
                lengths[(str(asm), _chrom(str(chrom)))] = n

        bases: dict[tuple[str, str, int], _Base] = {}
        codons: dict[tuple[str, int], str] = {}
        transcripts: dict[str, set[str]] = {}
        for i, seg in enumerate(_need(data, "segments", list, ())):
            path = ("segments", i)
            if not isinstance(seg, dict):
                raise _TableError("a segment is a mapping", path)
            extra = set(seg) - {"gene", "transcript", "exon", "first_codon", "reference", "positions"}
            if extra:
                raise _TableError(f"unknown key '{sorted(extra)[0]}'", path)
            gene = str(_need(seg, "gene", str, path))
            first = _need(seg, "first_codon", int, path)
            if seg.get("transcript"):
                transcripts.setdefault(gene, set()).add(transcript_key(str(seg["transcript"])))
            ref = "".join(str(_need(seg, "reference", str, path)).split()).upper()
            if not ref or len(ref) % 3 or any(b not in IUPAC for b in ref):
                raise _TableError("reference must be whole codons of IUPAC bases", (*path, "reference"))
            for k in range(len(ref) // 3):
                key = (gene, first + k)
                if key in codons:
                    raise _TableError(f"codon {gene} {first + k} is listed twice", (*path, "first_codon"))
                codons[key] = ref[3 * k : 3 * k + 3]
            for asm, where in _need(seg, "positions", dict, path).items():
                p = (*path, "positions", asm)
                if asm not in names.values():
                    raise _TableError(f"unknown assembly '{asm}' (not under assemblies)", p)
                if not isinstance(where, dict) or set(where) != {"chromosome", "strand", "first_base"}:
                    raise _TableError("needs exactly chromosome, strand, first_base", p)
                chrom = _chrom(str(where["chromosome"]))
                strand = where["strand"]
                start = where["first_base"]
                if strand not in ("+", "-") or not isinstance(start, int):
                    raise _TableError("strand is '+' or '-', first_base an integer", p)
                step = 1 if strand == "+" else -1
                for j, b in enumerate(ref):
                    pos = start + step * j
                    plus = IUPAC[b] if strand == "+" else IUPAC[complement(b)]
                    if (asm, chrom, pos) in bases:
                        raise _TableError(f"position {chrom}:{pos} is in two segments", p)
                    bases[(asm, chrom, pos)] = _Base(gene, first + j // 3, j % 3, plus, strand)
        examples = data.get("examples") or []
        if not isinstance(examples, list):
            raise _TableError("a list", ("examples",))
        return cls(code, names, bases, codons, examples, {g: frozenset(t) for g, t in transcripts.items()}, lengths)

    # ------------------------------------------------------------------ queries

    def assembly(self, text: str) -> str | None:
        """Canonical assembly name for an NCBI_Build spelling (``hg19`` -> ``GRCh37``), else None."""
        return self._assembly_names.get(text.strip().lower())

    @property
    def assemblies(self) -> list[str]:
        return sorted(set(self._assembly_names.values()))

    def past_end(self, assembly: str, chrom: str, end: int) -> str:
        """Why ``chrom:end`` cannot be on ``assembly`` (it lies past the chromosome's end), else ""
        (also where the table does not know the chromosome's length)."""
        chrom = _chrom(chrom)
        n = self._lengths.get((assembly, chrom))
        if n is None or end <= n:
            return ""
        return f"past the end of chromosome {chrom} on {assembly} ({n:,} bases)"

    def covers(self, assembly: str, chrom: str, start: int, end: int) -> bool:
        """True when any base of start..end is in the table (cheap pre-check)."""
        chrom = _chrom(chrom)
        return any((assembly, chrom, p) in self._bases for p in range(start, end + 1))

    def genes_on(self, chrom: str) -> set[str]:
        """The genes with hotspots on chromosome ``chrom`` (any assembly)."""
        chrom = _chrom(chrom)
        return {site.gene for (_, c, _), site in self._bases.items() if c == chrom}

    def gene_at(self, assembly: str, chrom: str, start: int, end: int) -> str | None:
        """The gene of the first base of start..end that is in the table (None: none is)."""
        chrom = _chrom(chrom)
        for p in range(start, end + 1):
            site = self._bases.get((assembly, chrom, p))
            if site is not None:
                return site.gene
        return None

    def reference_at(self, assembly: str, chrom: str, start: int, length: int) -> str | None:
        """The plus-strand reference of start..start+length-1 where the table fixes every base, else None
        (for descriptions that give only the new allele, such as a VRS allele)."""
        chrom = _chrom(chrom)
        out = []
        for p in range(start, start + length):
            site = self._bases.get((assembly, chrom, p))
            if site is None or len(site.plus_ref) != 1:
                return None
            out.append(next(iter(site.plus_ref)))
        return "".join(out)

    def decode(self, assembly: str, chrom: str, start: int, ref: str, alt: str) -> Decoded:
        """Translate the substitution ``ref`` -> ``alt`` at ``chrom:start`` (plus-strand alleles)."""
        chrom = _chrom(chrom)
        ref, alt = ref.upper(), alt.upper()
        if ref in ("", "-") or alt in ("", "-") or len(ref) != len(alt):
            return Decoded(OUTSIDE, detail="not a substitution (insertion or deletion)")
        if any(b not in "ACGT" for b in ref + alt):
            return Decoded(OUTSIDE, detail=f"alleles {ref}>{alt} are not plain bases")
        # every reference base the row states must agree with the table where the table has it
        for k, b in enumerate(ref):
            site = self._bases.get((assembly, chrom, start + k))
            if site is not None and b not in site.plus_ref:
                want = "/".join(sorted(site.plus_ref))
                return Decoded(
                    MISMATCH,
                    gene=site.gene,
                    detail=(
                        f"reference {b} at {chrom}:{start + k} disagrees with the hotspot table "
                        f"({want} on {assembly}, {site.gene} codon {site.codon}): wrong assembly or allele?"
                    ),
                )
        changed = [(start + k, r, a) for k, (r, a) in enumerate(zip(ref, alt, strict=True)) if r != a]
        if not changed:
            return Decoded(SYNONYMOUS, detail="reference and alternative alleles are equal")
        found = [self._bases.get((assembly, chrom, pos)) for pos, _, _ in changed]
        sites = [s for s in found if s is not None]
        if len(sites) < len(found):
            return Decoded(OUTSIDE, detail="a changed base lies outside the hotspot table")
        genes = {s.gene for s in sites}
        if len(genes) != 1:
            return Decoded(OUTSIDE, detail="the change spans two genes")
        gene = genes.pop()
        # per codon: the reference base sets, narrowed by the row's own reference, and the new bases
        per_codon: dict[int, tuple[list[frozenset[str]], dict[int, str]]] = {}
        for site in sites:
            if site.codon not in per_codon:
                per_codon[site.codon] = ([IUPAC[b] for b in self._codons[(gene, site.codon)]], {})
        for k, (r, a) in enumerate(zip(ref, alt, strict=True)):
            s = self._bases.get((assembly, chrom, start + k))
            if s is None or s.gene != gene or s.codon not in per_codon:
                continue
            ref_sets, subs = per_codon[s.codon]
            ref_sets[s.offset] = frozenset(r if s.strand == "+" else complement(r))
            if r != a:
                subs[s.offset] = a if s.strand == "+" else complement(a)
        changes: list[tuple[int, str, str]] = []
        for codon in sorted(per_codon):
            ref_sets, subs = per_codon[codon]
            before, after = set(), set()
            for bases in itertools.product(*ref_sets):
                before.add(self._code["".join(bases)])
                after.add(self._code["".join(subs.get(i, b) for i, b in enumerate(bases))])
            if len(before) != 1 or len(after) != 1:
                return Decoded(AMBIGUOUS, gene=gene, detail=f"{gene} codon {codon}: an open reference base decides the amino acid")
            changes.append((codon, before.pop(), after.pop()))
        altered = [c for c in changes if c[1] != c[2]]
        if not altered:
            return Decoded(SYNONYMOUS, gene=gene, detail="synonymous")
        if len(altered) == 1:
            codon, aa_ref, aa_alt = altered[0]
            return Decoded(DECODED, gene=gene, protein=f"p.{aa_ref}{codon}{aa_alt}")
        first, last = changes[0], changes[-1]
        if last[0] - first[0] != len(changes) - 1:
            return Decoded(OUTSIDE, gene=gene, detail="changes in codons that are not adjacent are not decoded")
        new = "".join(c[2] for c in changes)
        return Decoded(DECODED, gene=gene, protein=f"p.{first[1]}{first[0]}_{last[1]}{last[0]}delins{new}")

    def reference_codon(self, gene: str, codon: int) -> str | None:
        """The IUPAC reference codon listed for ``gene`` ``codon`` (None when not in the table)."""
        return self._codons.get((gene, codon))

    def translate(self, codon: str) -> str:
        return self._code[codon]


def transcript_key(text: str) -> str:
    """A transcript id as compared: upper case, without its version (``ENST00000288602.11`` ->
    ``ENST00000288602``, ``nm_004333.6`` -> ``NM_004333``)."""
    t = text.strip().upper()
    head, dot, version = t.rpartition(".")
    return head if dot and version.isdigit() else t


def reference_transcripts(vocab_dir: Path, table: HotspotTable | None = None) -> dict[str, frozenset[str]]:
    """Per gene, the transcripts whose protein numbering is the clinical reference the rules use.

    Read from the vocabulary's data (no transcript is named here): ``protein_reference.yaml``
    (``data_transcripts``), the cDNA hotspot tables of ``variants.yaml`` (``transcripts``) and the
    segments of the hotspot table (``transcript``). A gene none of them lists has no known reference
    (its rows are never judged by their transcript). Files that cannot be read add nothing: the
    vocabulary itself has already checked them."""
    out: dict[str, set[str]] = {}
    for name, section, key in (("protein_reference.yaml", "genes", "data_transcripts"),
                               ("variants.yaml", "cdna_hotspots", "transcripts")):
        try:
            data = ruleyaml.load((vocab_dir / name).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        block = data.get(section) if isinstance(data, dict) else None
        for gene, spec in (block or {}).items():
            ids = spec.get(key) if isinstance(spec, dict) else None
            for t in ids or []:
                out.setdefault(str(gene), set()).add(transcript_key(str(t)))
    if table is not None:
        for gene, ts in table.transcripts.items():
            out.setdefault(gene, set()).update(ts)
    return {g: frozenset(t) for g, t in out.items()}


class _TableError(Exception):
    def __init__(self, message: str, path: tuple):
        self.message, self.path = message, path


def _need(d: dict, key: str, typ: type, path: tuple):
    if key not in d:
        raise _TableError(f"'{key}' is required", path)
    v = d[key]
    if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
        raise _TableError(f"must be {typ.__name__}", (*path, key))
    return v


def _chrom(text: str) -> str:
    t = text.strip()
    return t[3:] if t[:3].lower() == "chr" else t
