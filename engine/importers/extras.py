"""Copy number and fusions: alterations from the other files of a cohort, by sample.

Read formats (detected by their header):

- cBioPortal discrete copy number (``data_CNA.txt``, GISTIC -2..2): ``Hugo_Symbol`` (or ``Gene
  Symbol``), optional ``Entrez_Gene_Id`` / ``Locus ID`` / ``Cytoband``, one column per sample;
- the long form (``Tumor_Sample_Barcode``, ``Hugo_Symbol``, ``Copy_Number_Alteration``) with numbers
  or words (``Amplification``, ``Gain``, ``Loss``, ``Deletion``);
- PCGR-style allele-specific segments (``Chromosome``, ``Start``, ``End``, ``nMajor``, ``nMinor``),
  mapped to genes through ``rules/vocabulary/gene_loci.yaml`` or ``--gene-loci BED``;
- cBioPortal fusions (``Hugo_Symbol``, ``Tumor_Sample_Barcode``, ``Fusion``), the OncoKB annotator's
  fusion table (``Tumor_Sample_Barcode``, ``Fusion``), structural variants (``GeneA``/``GeneB`` or
  ``Site1_Hugo_Symbol``/``Site2_Hugo_Symbol``), and PCGR-style fusions (``FusionGene`` = ``5'--3'``).

What becomes an alteration: a copy-number call of 2 (or ``Amplification``; for segments, total copies
at or above the amplification threshold over the whole gene) is ``amplification``; -2 (``Deletion``;
for segments, no copy left anywhere in the gene) is ``loss`` (a homozygous deletion, so no function);
1, -1 (``Gain``, ``Loss``: low-level, one copy) and 0 are not alterations and are counted; ``NA`` or an
empty cell is counted as not measured. A fusion of two different genes is written under each gene the
vocabulary knows, with the other as ``partner`` when the vocabulary knows it too; an intragenic
rearrangement is counted, not written. Every alteration keeps what the file said: ``cna`` (the
discrete call), ``copy_number`` (total copies, segments) and ``detail`` (the file's own text).

Files without a sample column (PCGR) belong to the one case of the import: their alterations are
kept under no sample and added to the single case at the end (with several cases, an error record).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import ruleyaml
from engine.errors import UsageError
from engine.importers.calls import ExtraCounts, Extras
from engine.importers.importer import misspelt_gene
from engine.importers.tabular import is_missing, position, read_table

ErrorFn = Callable[..., None]

CNA_WORDS = {
    "amplification": 2, "amp": 2, "highlevelamplification": 2,
    "gain": 1, "lowlevelgain": 1,
    "loss": -1, "hetloss": -1, "shallowdeletion": -1,
    "deletion": -2, "homdel": -2, "deepdeletion": -2, "homozygousdeletion": -2,
    "neutral": 0, "diploid": 0,
}
NOT_SAMPLE_COLUMNS = {"hugo_symbol", "gene symbol", "entrez_gene_id", "locus id", "cytoband", "gene"}
DEFAULT_AMPLIFICATION_COPIES = 6  # PCGR's default total copy number for a gain to count as amplification
LOCI_FILE = "gene_loci.yaml"
UNNAMED = ""  # key of the alterations of files without a sample column


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


@dataclass
class GeneLoci:
    """Gene spans per assembly: (chromosome, start, end), 1-based inclusive."""

    loci: dict[str, dict[str, tuple[str, int, int]]] = field(default_factory=dict)

    @classmethod
    def load(cls, shipped: Path, bed: Path | None, vocab: Any, assembly: str | None,
             past_end: Callable[[str, str, int], str] | None = None) -> GeneLoci:
        """The shipped loci, and those of a BED file (``bed``) on ``assembly``: a BED line that is not
        chromosome, start, end and gene symbol, whose start is after its end, or which ends past its
        chromosome's end (``past_end``) stops the run naming the line."""
        out = cls()
        if shipped.exists():
            data = ruleyaml.load(shipped.read_text(encoding="utf-8")) or {}
            for asm, genes in (data.get("loci") or {}).items():
                for g, where in (genes or {}).items():
                    out.loci.setdefault(str(asm), {})[str(g)] = (_chrom(str(where["chromosome"])), int(where["start"]), int(where["end"]))
        if bed is not None:
            if assembly is None:
                raise UsageError("--gene-loci: say which assembly the loci are on with --assembly")
            table = out.loci.setdefault(assembly, {})
            try:
                text = bed.read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot read {bed}: {exc.strerror}") from None
            for n, line in enumerate(text.splitlines(), start=1):
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                f = line.split("\t")
                first, last = (position(f[1], lowest=0), position(f[2])) if len(f) >= 4 else (None, None)
                if first is None or last is None or not f[3].strip():
                    raise UsageError(f"{bed}:{n}: a BED line is chromosome, start, end, gene symbol (tab-separated, "
                                     "start and end whole numbers)")
                chrom, start, end, name = f[0], first + 1, last, f[3].strip()
                if start > end:
                    raise UsageError(f"{bed}:{n}: start {first:,} is not before end {end:,} (BED starts are 0-based)")
                beyond = past_end(assembly, chrom, end) if past_end is not None else ""
                if beyond:
                    raise UsageError(f"{bed}:{n}: end {end:,} is {beyond}: a wrong position, or loci of another "
                                     "assembly than --assembly?")
                gene = vocab.find_gene(name)
                if gene is not None:
                    table[gene] = (_chrom(chrom), start, end)
        return out


def _chrom(text: str) -> str:
    t = text.strip()
    return t[3:] if t[:3].lower() == "chr" else t


class _Reader:
    def __init__(self, vocab: Any, extras: Extras, error: ErrorFn):
        self.vocab = vocab
        self.extras = extras
        self.error = error
        self._genes: dict[str, str | None] = {}

    def misspelt(self, c: ExtraCounts, symbol: str, src: str, samples: list[str], column: str) -> None:
        """A gene symbol no gene symbol could be (:func:`misspelt_gene`): one error record, and the
        gene it probably stands for is unknown in each of ``samples``, never wild-type."""
        guess, message = misspelt_gene(self.vocab, symbol)
        c.errors += 1
        self.error("gene", message, src, field=column, value=symbol, **({"suggestion": guess} if guess else {}))
        if guess is not None:
            for sid in samples:
                self.extras.mark_unknown(sid, guess)

    def gene(self, symbol: str) -> str | None:
        g = self._genes.get(symbol, "")
        if g == "":
            g = self.vocab.find_gene(symbol.strip()) if symbol.strip() else None
            self._genes[symbol] = g
        return g

    # ------------------------------------------------------------------ copy number

    def cna_call(self, c: ExtraCounts, sample: str, gene: str, value: int, src: str, *, copies: float | None = None,
                 detail: str | None = None) -> None:
        if value >= 2:
            kind = "amplification"
        elif value <= -2:
            kind = "loss"
        else:
            c.skipped[{1: "gain (one copy, low level)", -1: "loss of one copy (low level)", 0: "no change"}[value]] += 1
            return
        alt: dict[str, Any] = {"gene": gene, "variant": kind, "cna": max(-2, min(2, value))}
        if copies is not None:
            alt["copy_number"] = copies
        if detail:
            alt["detail"] = detail
        if self.extras.add(sample, alt):
            c.written[kind] += 1
            if sample != UNNAMED:
                c.used += 1
        else:
            c.skipped["same call twice for the sample"] += 1

    def cna_value(self, text: str) -> int | None | str:
        """-2..2, None (not measured), or the text when unreadable."""
        t = text.strip()
        if is_missing(t):
            return None
        try:
            v = float(t)
        except ValueError:
            w = CNA_WORDS.get(_key(t))
            return w if w is not None else t
        if math.isnan(v):
            return None
        if v not in (-2, -1.5, -1, 0, 1, 2):
            return t
        return int(v) if v != -1.5 else -1

    def cna_matrix(self, path: Path, table: Any, c: ExtraCounts) -> None:
        name = str(path)
        gcol = table.require("Hugo_Symbol", "Gene Symbol")
        samples = [(i, h) for i, h in enumerate(table.header) if h.strip().lower() not in NOT_SAMPLE_COLUMNS]
        width = len(table.header)
        for line, f in table.rows:
            src = f"{name}:{line}"
            if len(f) != width:
                c.read += len(samples)
                c.errors += 1
                self.error("row", f"{len(f)} fields, the header has {width}", src)
                c.skipped["error record (every cell of the row)"] += len(samples)
                continue
            symbol = f[gcol].strip()
            gene = self.gene(symbol)
            if gene is None and not symbol.isascii():
                self.misspelt(c, symbol, src, [sid for _, sid in samples], table.header[gcol])
                c.read += len(samples)
                c.skipped["error record (every cell of the row)"] += len(samples)
                continue
            for i, sid in samples:
                c.read += 1
                if gene is None:
                    c.skipped["gene not in the vocabulary"] += 1
                    continue
                v = self.cna_value(f[i])
                if v is None:
                    c.skipped["not measured (NA)"] += 1
                elif isinstance(v, str):
                    c.errors += 1
                    c.skipped["error record"] += 1
                    self.error("copy_number", f"'{v}' is not a discrete copy-number call (-2, -1, 0, 1, 2)", src,
                               field=sid, value=v, sample=sid, gene=gene)
                    self.extras.mark_unknown(sid, gene)
                else:
                    self.cna_call(c, sid, gene, v, src)

    def cna_long(self, path: Path, table: Any, c: ExtraCounts) -> None:
        name = str(path)
        scol = table.require("Tumor_Sample_Barcode", "SAMPLE_ID")
        gcol = table.require("Hugo_Symbol")
        vcol = table.require("Copy_Number_Alteration", "CNA", "Alteration")
        for line, f in table.rows:
            src = f"{name}:{line}"
            c.read += 1
            sid = f[scol].strip() if scol < len(f) else ""
            if not sid:
                c.errors += 1
                c.skipped["error record"] += 1
                self.error("row", f"no {table.header[scol]} on this row", src)
                continue
            symbol = f[gcol] if gcol < len(f) else ""
            gene = self.gene(symbol)
            if gene is None and not symbol.isascii():
                self.misspelt(c, symbol.strip(), src, [sid], table.header[gcol])
                c.skipped["error record"] += 1
                continue
            if gene is None:
                c.skipped["gene not in the vocabulary"] += 1
                continue
            v = self.cna_value(f[vcol] if vcol < len(f) else "")
            if v is None:
                c.skipped["not measured (NA)"] += 1
            elif isinstance(v, str):
                c.errors += 1
                c.skipped["error record"] += 1
                self.error("copy_number", f"'{v}' is not a copy-number call (-2..2, Amplification, Gain, Loss, Deletion)",
                           src, field=table.header[vcol], value=v, sample=sid, gene=gene)
                self.extras.mark_unknown(sid, gene)
            else:
                self.cna_call(c, sid, gene, v, src)

    def cna_segments(self, path: Path, table: Any, c: ExtraCounts, loci: GeneLoci, assembly: str | None,
                     amp_copies: float, past_end: Callable[[str, str, int], str]) -> None:
        """Copy number by genomic segment, mapped to genes through ``loci``; ``past_end`` (the hotspot
        table's) says where a segment ends past its chromosome's end on ``assembly``."""
        name = str(path)
        cols = [table.require(n) for n in ("Chromosome", "Start", "End")]
        i_major, i_minor = table.col("nMajor"), table.col("nMinor")
        i_total = table.col("Total_CN", "total_cn", "CN")
        if i_total is None and (i_major is None or i_minor is None):
            raise UsageError(f"{name}: a segment table needs nMajor and nMinor, or Total_CN")
        if assembly is None:
            raise UsageError(f"{name}: copy-number segments need the assembly: give --assembly GRCh37 or GRCh38")
        genes = loci.loci.get(assembly, {})
        if not genes:
            raise UsageError(
                f"{name}: no gene loci for {assembly}: give a BED file of gene loci with --gene-loci "
                "(the shipped table lists GRCh37 only)"
            )
        segs: list[tuple[str, int, int, float, str]] = []
        for line, f in table.rows:
            c.read += 1
            src = f"{name}:{line}"
            try:
                chrom, start, end = _chrom(f[cols[0]]), position(f[cols[1]], lowest=0), position(f[cols[2]], lowest=0)
                total = float(f[i_total]) if i_total is not None else float(f[i_major]) + float(f[i_minor])
            except (IndexError, ValueError):
                start = end = None
            # what a bad segment covered is unknown: it is left out, so the genes it would reach
            # have no segment over them end to end (copy number unknown), never a call
            if start is None or end is None:
                why, where = "a segment needs Chromosome, whole-number Start and End, and numeric copy numbers", {}
            elif start > end:
                why, where = f"Start {start:,} is after End {end:,}", {"field": "Start"}
            else:
                beyond = past_end(assembly, chrom, end)
                if not beyond:
                    segs.append((chrom, start, end, total, src))
                    continue
                why, where = f"End {end:,} is {beyond}: a wrong position, or a file of another assembly?", {"field": "End"}
            c.errors += 1
            c.skipped["error record"] += 1
            self.error("row", why, src, **where)
        c.used += len(segs)
        calls: dict[str, int] = {}
        for gene, (chrom, gs, ge) in sorted(genes.items()):
            over = [(s, e, t) for ch, s, e, t, _ in segs if ch == chrom and s <= ge and e >= gs]
            if not over:
                calls["no segment over the gene (copy number unknown)"] = calls.get("no segment over the gene (copy number unknown)", 0) + 1
                continue
            totals = [t for _, _, t in over]
            detail = "segments " + ", ".join(f"{chrom}:{s}-{e} total {t:g}" for s, e, t in over)
            if min(totals) == 0:
                self.cna_call(c, UNNAMED, gene, -2, name, copies=0.0, detail=detail)
                why = "loss (no copy left)"
            elif _covers(over, gs, ge) and min(totals) >= amp_copies:
                self.cna_call(c, UNNAMED, gene, 2, name, copies=min(totals), detail=detail)
                why = f"amplification (at least {amp_copies:g} copies)"
            else:
                why = f"between 1 and {amp_copies:g} copies, or not covered end to end (not an alteration)"
            calls[why] = calls.get(why, 0) + 1
        c.notes.append(f"  genes with a locus on {assembly}: {len(genes)}: " + "; ".join(f"{k} {v}" for k, v in sorted(calls.items())))

    # ------------------------------------------------------------------ fusions

    def fusion(self, c: ExtraCounts, sample: str, a: str | None, b: str | None, text: str, src: str,
               only: str | None = None) -> None:
        """One fusion event between gene texts ``a`` and ``b`` (None: not named)."""
        sides = [x.strip() if x and x.strip() and not is_missing(x) else None for x in (a, b)]
        if sides[0] is not None and sides[0] == sides[1]:
            c.skipped["intragenic rearrangement (not a fusion)"] += 1
            return
        genes = [self.gene(x) if x else None for x in sides]
        for x, g in zip(sides, genes, strict=True):
            if x is not None and g is None and not x.isascii():
                self.misspelt(c, x, src, [sample], "gene")
        if genes[0] is not None and genes[0] == genes[1]:
            c.skipped["intragenic rearrangement (not a fusion)"] += 1
            return
        wrote = new = False
        for k in (0, 1):
            g = genes[k]
            if g is None or (only is not None and g != self.gene(only)):
                continue
            alt: dict[str, Any] = {"gene": g, "variant": "fusion"}
            other = genes[1 - k]
            if other is not None:
                alt["partner"] = other
            if text:
                alt["detail"] = text
            if self.extras.add(sample, alt):
                c.written["fusion"] += 1
                new = True
            wrote = True
        if not wrote:
            c.skipped["no gene of the fusion is in the vocabulary"] += 1
        elif new:
            c.used += 1
        else:
            c.skipped["the sample already has this fusion"] += 1

    def fusions(self, path: Path, table: Any, c: ExtraCounts) -> None:
        name = str(path)
        h = {x.lower(): i for i, x in enumerate(table.header)}
        i_fg = table.col("FusionGene")
        i_s = table.col("Tumor_Sample_Barcode", "Sample_Id", "SAMPLE_ID")
        i_fusion = table.col("Fusion")
        i_hugo = table.col("Hugo_Symbol")
        i_a, i_b = table.col("GeneA", "Site1_Hugo_Symbol"), table.col("GeneB", "Site2_Hugo_Symbol")
        if i_fg is None and i_s is None:
            raise UsageError(f"{name}: a fusion file needs Tumor_Sample_Barcode (or Sample_Id), or FusionGene")
        if i_fg is None and i_fusion is None and (i_a is None or i_b is None):
            raise UsageError(f"{name}: a fusion file needs a Fusion column, GeneA and GeneB, or FusionGene")
        del h
        for line, f in table.rows:
            src = f"{name}:{line}"
            c.read += 1

            def cell(i: int | None, f: list[str] = f) -> str:
                return f[i].strip() if i is not None and i < len(f) else ""

            if i_fg is not None:
                text = cell(i_fg)
                if "--" not in text:
                    c.errors += 1
                    c.skipped["error record"] += 1
                    self.error("fusion", f"FusionGene '{text}' is not 5'--3' (e.g. EML4--ALK)", src, field="FusionGene", value=text)
                    continue
                a, b = text.split("--", 1)
                self.fusion(c, cell(i_s) if i_s is not None else UNNAMED, a, b, text, src)
                continue
            sid = cell(i_s)
            if not sid:
                c.errors += 1
                c.skipped["error record"] += 1
                self.error("row", f"no {table.header[i_s]} on this row", src)
                continue
            if i_a is not None and i_b is not None and i_fusion is None:
                self.fusion(c, sid, cell(i_a), cell(i_b), f"{cell(i_a)}-{cell(i_b)}", src)
                continue
            text = cell(i_fusion)
            core = text[: -len(" fusion")] if text.lower().endswith(" fusion") else text
            hugo = cell(i_hugo)
            if core.lower().endswith("-intragenic") or core.lower() == "intragenic":
                c.skipped["intragenic rearrangement (not a fusion)"] += 1
                continue
            gene_a, gene_b = _split_fusion(core, hugo)
            if gene_a is None:
                c.errors += 1
                c.skipped["error record"] += 1
                self.error("fusion", f"cannot tell the two genes of fusion '{text}'", src, field="Fusion", value=text, sample=sid)
                continue
            self.fusion(c, sid, gene_a, gene_b, text, src, only=hugo or None)


def _covers(over: list[tuple[int, int, float]], start: int, end: int) -> bool:
    pos = start
    for s, e, _ in sorted(over):
        if s > pos:
            return False
        pos = max(pos, e + 1)
        if pos > end:
            return True
    return pos > end


def _split_fusion(text: str, hugo: str) -> tuple[str | None, str | None]:
    """``ALK-EML4`` -> (ALK, EML4), using the row's own gene to split names that hold a hyphen."""
    t = text.strip()
    if hugo:
        if t.upper().startswith(hugo.upper() + "-"):
            return hugo, t[len(hugo) + 1 :]
        if t.upper().endswith("-" + hugo.upper()):
            return t[: -len(hugo) - 1], hugo
    if t.count("-") == 1:
        a, b = t.split("-")
        return a, b
    return None, None


def _kind(table: Any) -> str:
    cols = {h.lower() for h in table.header}
    if "fusiongene" in cols or "fusion" in cols or {"genea", "geneb"} <= cols or {"site1_hugo_symbol", "site2_hugo_symbol"} <= cols:
        return "fusions"
    if {"chromosome", "start", "end"} <= cols:
        return "segments"
    if "copy_number_alteration" in cols:
        return "cna_long"
    if "hugo_symbol" in cols or "gene symbol" in cols:
        return "cna_matrix"
    return "?"


def load_extras(
    vocab: Any,
    cna: list[Path],
    fusions: list[Path],
    error: ErrorFn,
    *,
    rules_dir: Path,
    assembly: str | None,
    gene_loci: Path | None = None,
    past_end: Callable[[str, str, int], str],
    amplification_copies: float = DEFAULT_AMPLIFICATION_COPIES,
) -> Extras:
    """Read every copy-number and fusion file; bad files raise UsageError, bad rows are error records.
    ``past_end`` (:meth:`engine.importers.hotspots.HotspotTable.past_end`) says where a segment ends
    past its chromosome's end."""
    extras = Extras()
    reader = _Reader(vocab, extras, error)
    loci: GeneLoci | None = None
    for path in cna:
        table = read_table(path)
        kind = _kind(table)
        c = ExtraCounts("copy number", str(path))
        if kind == "cna_matrix":
            reader.cna_matrix(path, table, c)
        elif kind == "cna_long":
            reader.cna_long(path, table, c)
        elif kind == "segments":
            if loci is None:
                loci = GeneLoci.load(rules_dir / "vocabulary" / LOCI_FILE, gene_loci, vocab, assembly, past_end)
            c.label = "copy-number segments"
            reader.cna_segments(path, table, c, loci, assembly, amplification_copies, past_end)
        else:
            raise UsageError(
                f"{path}: not a copy-number file (a Hugo_Symbol column with one column per sample; "
                "Tumor_Sample_Barcode, Hugo_Symbol, Copy_Number_Alteration; or Chromosome, Start, End, nMajor, nMinor)"
            )
        extras.counts.append(c)
    for path in fusions:
        table = read_table(path)
        if _kind(table) != "fusions":
            raise UsageError(
                f"{path}: not a fusion file (Tumor_Sample_Barcode with Fusion or GeneA/GeneB, or FusionGene)"
            )
        c = ExtraCounts("fusions", str(path))
        reader.fusions(path, table, c)
        extras.counts.append(c)
    return extras
