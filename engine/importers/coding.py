"""Which codon a substitution changes, from the coding exons of a transcript (``coding_exons.yaml``).

The hotspot table (:mod:`engine.importers.hotspots`) knows the reference bases of a few codons. For a
substitution elsewhere in a listed coding exon, :class:`CodingExons` finds the coding position and so
the codon, then reads the new amino acid from the codon's reference amino acid (the residues the
vocabulary keeps from the real MAF files): every codon encoding that amino acid with the row's own
reference base at the changed position is tried, and the change is decoded only when all of them
give the same new amino acid. It returns the same :class:`~engine.importers.hotspots.Decoded` as the
hotspot table.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine import ruleyaml
from engine.importers import hotspots as hs

EXONS_FILE = "coding_exons.yaml"
RESIDUES_FILE = "protein_residues.json"


@dataclass(frozen=True)
class _Exon:
    gene: str
    chrom: str
    first_c: int
    last_c: int
    first_base: int
    strand: str

    def c_of(self, pos: int) -> int | None:
        step = pos - self.first_base if self.strand == "+" else self.first_base - pos
        c = self.first_c + step
        return c if self.first_c <= c <= self.last_c else None


class CodingExons:
    def __init__(self, exons: dict[str, list[_Exon]], residues: dict[str, dict[int, str]], table: hs.HotspotTable):
        self._exons = exons  # assembly -> exons
        self.genes = frozenset(e.gene for rows in exons.values() for e in rows)
        self._residues = residues
        self._table = table

    @classmethod
    def load(cls, vocabulary_dir: Path, table: hs.HotspotTable) -> CodingExons:
        exons: dict[str, list[_Exon]] = {}
        path = vocabulary_dir / EXONS_FILE
        if path.exists():
            data = ruleyaml.load(path.read_text(encoding="utf-8")) or {}
            for tx in data.get("transcripts") or []:
                for asm, rows in (tx.get("exons") or {}).items():
                    for r in rows:
                        exons.setdefault(str(asm), []).append(_Exon(
                            str(tx["gene"]), hs._chrom(str(r["chromosome"])), int(r["first_c"]), int(r["last_c"]),
                            int(r["first_base"]), str(tx["strand"])))
        residues: dict[str, dict[int, str]] = {}
        rpath = vocabulary_dir / RESIDUES_FILE
        if rpath.exists():
            for gene, text in (json.loads(rpath.read_text(encoding="utf-8")).get("residues") or {}).items():
                residues[gene] = {int(tok[:-1]): tok[-1] for tok in str(text).split()}
        return cls(exons, residues, table)

    def locate(self, assembly: str, chrom: str, pos: int) -> tuple[_Exon, int] | None:
        chrom = hs._chrom(chrom)
        for ex in self._exons.get(assembly, ()):
            if ex.chrom == chrom:
                c = ex.c_of(pos)
                if c is not None:
                    return ex, c
        return None

    def genes_on(self, chrom: str) -> set[str]:
        """The genes with coding exons listed on chromosome ``chrom`` (any assembly)."""
        chrom = hs._chrom(chrom)
        return {ex.gene for rows in self._exons.values() for ex in rows if ex.chrom == chrom}

    def gene_at(self, assembly: str, chrom: str, start: int, end: int) -> str | None:
        for p in range(start, end + 1):
            hit = self.locate(assembly, chrom, p)
            if hit is not None:
                return hit[0].gene
        return None

    def decode(self, assembly: str, chrom: str, start: int, ref: str, alt: str) -> hs.Decoded:
        ref, alt = ref.upper(), alt.upper()
        if ref in ("", "-") or alt in ("", "-") or len(ref) != len(alt) or any(b not in "ACGT" for b in ref + alt):
            return hs.Decoded(hs.OUTSIDE, detail="not a substitution")
        changed = [(start + k, r, a) for k, (r, a) in enumerate(zip(ref, alt, strict=True)) if r != a]
        if not changed:
            return hs.Decoded(hs.SYNONYMOUS, detail="reference and alternative alleles are equal")
        found = [self.locate(assembly, chrom, p) for p, _, _ in changed]
        where = [w for w in found if w is not None]
        if len(where) < len(found):
            return hs.Decoded(hs.OUTSIDE, detail="a changed base lies outside the listed coding exons")
        genes = {w[0].gene for w in where}
        codons = {(w[1] - 1) // 3 + 1 for w in where}
        if len(genes) != 1 or len(codons) != 1:
            return hs.Decoded(hs.OUTSIDE, detail="the change spans more than one codon")
        gene, codon = genes.pop(), codons.pop()
        aa = self._residues.get(gene, {}).get(codon)
        if aa is None:
            return hs.Decoded(hs.OUTSIDE, gene=gene, detail=f"{gene} codon {codon}: reference amino acid not known")
        subs: dict[int, tuple[str, str]] = {}
        for (_, r, a), w in zip(changed, where, strict=True):
            ex, c = w
            if ex.strand == "-":
                r, a = hs.complement(r), hs.complement(a)
            subs[(c - 1) % 3] = (r, a)
        after = set()
        for bases in _codons_of(self._table, aa):
            if all(bases[i] == r for i, (r, _) in subs.items()):
                after.add(self._table.translate("".join(subs[i][1] if i in subs else b for i, b in enumerate(bases))))
        if not after:
            return hs.Decoded(hs.MISMATCH, gene=gene,
                              detail=f"{gene} codon {codon} ({aa}): the reference allele fits no codon of {aa} (wrong assembly?)")
        if len(after) != 1:
            return hs.Decoded(hs.AMBIGUOUS, gene=gene, detail=f"{gene} codon {codon}: the new amino acid depends on bases not known")
        new = after.pop()
        if new == aa:
            return hs.Decoded(hs.SYNONYMOUS, gene=gene, detail="synonymous")
        return hs.Decoded(hs.DECODED, gene=gene, protein=f"p.{aa}{codon}{new}")


def _codons_of(table: hs.HotspotTable, aa: str) -> list[str]:
    out = []
    for a in "TCAG":
        for b in "TCAG":
            for c in "TCAG":
                if table.translate(a + b + c) == aa:
                    out.append(a + b + c)
    return out
