"""Mutation rows -> one case per sample, with error records and a summary.

:class:`Importer` reads a mutation file once, row by row. It never holds rows: each row is reduced
at once to what a case needs (the sample's alterations, and the genes whose status the row made
unknown), and that compact state is kept per sample. By default every sample's case is written at
the end, in order of first appearance (the ``#sequenced_samples:`` header and ``--samples`` list
first). With ``grouped=True`` a sample's case is written as soon as its rows end, so memory holds
one sample; a sample whose rows come back later is then an error record.
"""
from __future__ import annotations

import enum
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from engine.errors import TermError, UsageError, clean, quote
from engine.importers import hotspots as hs
from engine.importers.clinical import CANCER_COLUMNS, SITE_COLUMNS, CancerResolver, ClinicalIndex, FieldMap
from engine.importers.maf import (
    CUT_SHORT,
    CUT_SHORT_VARIANT,
    PROTEIN_COLUMNS,
    SKIP,
    SPLICE_SITE,
    STOP_GAINED,
    TRUNCATING,
    KeyCache,
    MutationColumns,
    alt_allele,
    classify,
    clean_protein,
    closest_classification,
    splice_change,
    stop_change,
)
from engine.importers.panels import PanelSet
from engine.importers.tabular import MAX_POSITION, DamagedFile, Table, is_missing, position, read_table

ASSAYS = ("exome", "panel", "none")

# Why a row does not become an alteration (summary keys).
R_GENE = "gene not in the vocabulary"
R_NO_GENE = "no gene symbol (Hugo_Symbol empty or NA)"
R_CLASS = "not an alteration (Variant_Classification)"
R_NOPROT = "no protein change, not at a hotspot codon of the table"
R_INDEL = "no protein change, insertion/deletion at a hotspot codon"
R_SYN = "synonymous change at a hotspot codon"
R_WILD = "Mutation_Status says no mutation"
R_ERROR = "error record"
R_COMMENT = "'#' comment line after the header"
R_HEADER = "the header row repeated (files joined)"

ErrorSink = Callable[[dict], None]


@dataclass
class ImportOptions:
    """What the command line (or a caller) says about the files."""

    cancer_type: str | None = None
    assay: str = "none"
    panels: PanelSet | None = None
    assembly: str | None = None
    grouped: bool = False
    samples: list[str] = field(default_factory=list)
    field_map: FieldMap | None = None


@dataclass
class Summary:
    """Counts for the stderr summary (and for tests)."""

    rows: int = 0
    samples: int = 0
    cases: int = 0
    alteration_rows: int = 0
    alterations: int = 0
    merged: int = 0  # rows naming an alteration the sample already has
    split: list = field(default_factory=list)  # "sample: G12V + G12C -> G12F": one change written as rows of one codon
    apart: list = field(default_factory=list)  # "sample: G12V + G12R": rows of one codon read as two changes
    without_case: int = 0  # alterations of samples whose case could not be written
    from_coordinates: int = 0
    from_transcript: int = 0  # of those, read through the coding exons of the transcript
    from_classification: int = 0  # rows with no protein change read as a truncating mutation from their classification
    recognised: Counter = field(default_factory=Counter)  # (gene, variant text) -> rows
    skipped: Counter = field(default_factory=Counter)
    classifications_skipped: Counter = field(default_factory=Counter)
    genes_skipped: set = field(default_factory=set)
    # gene -> cases that leave it out of tested_genes, as a row of it could not be read (unknown, not wild-type)
    genes_unknown: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    cancer_sources: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)  # FILTER value -> alteration rows read although flagged
    # cancer-type texts not known, passed over for a later column (the organ): text -> samples
    cancer_unknown_texts: Counter = field(default_factory=Counter)
    unmapped: Counter = field(default_factory=Counter)
    no_panel: int = 0
    clinical_only: int = 0
    # protein changes numbered on another transcript than the gene's reference, replaced by what the
    # coordinates decode to: how many, and the first one (for the summary)
    renumbered: int = 0
    renumbered_example: str = ""
    # "GENE TRANSCRIPT" -> protein changes read as written although numbered on another transcript
    other_transcript: Counter = field(default_factory=Counter)
    pick_replaced: int = 0  # VCF calls read from the gene's reference-transcript entry, not VEP's pick
    origin_germline: int = 0  # calls a VCF's matched normal also carries, written as germline
    origin_unknown: Counter = field(default_factory=Counter)  # why -> calls whose origin the normal could not tell
    # what became of the clinical significance (ClinVar) of VCF calls: outcome -> calls
    significance: Counter = field(default_factory=Counter)
    trimmed: int = 0  # rows with fewer fields than the header whose missing columns are not read
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def lines(self, source: str) -> list[str]:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        out = [f"{source}: {self.rows} rows in {self.seconds:.2f} s ({rate:,.0f} rows/s)"]
        out.append(f"samples: {self.samples}; cases written: {self.cases}")
        if self.cancer_sources:
            out.append("cancer type from: " + ", ".join(f"{k} {v}" for k, v in self.cancer_sources.most_common()))
        if self.flagged:
            out.append(f"alteration rows read although their FILTER is not PASS: {sum(self.flagged.values())} ("
                       + ", ".join(f"{k} {v}" for k, v in self.flagged.most_common(5)) + "; a MAF's FILTER is read "
                       "as a note, not a reason for doubt, unlike a VCF's: see the README)")
        if self.cancer_unknown_texts:
            out.append("cancer type texts not known, a later column used (often only the organ: its histology "
                       "stays unknown): " + ", ".join(f"'{k}' {v}" for k, v in self.cancer_unknown_texts.most_common(5))
                       + (f" and {len(self.cancer_unknown_texts) - 5} more" if len(self.cancer_unknown_texts) > 5 else ""))
        out.append(
            f"alterations: {self.alteration_rows} rows recognised ({self.from_coordinates} from coordinates); "
            f"{self.alterations} written ({self.merged} rows repeated an alteration of the same sample"
            + (f", {self.without_case} in samples with no case" if self.without_case else "")
            + ")"
        )
        if self.from_classification:
            out.append(f"rows with no protein change that the file classes as a stop gained or a frameshift, read as a "
                       f"'{CUT_SHORT_VARIANT}' of their gene: {self.from_classification}")
        if self.split:
            out.append(f"one change of a codon written as several rows (the same reads, or one row's change holding "
                       f"another's), read as one: {len(self.split)} (" + "; ".join(self.split[:3])
                       + (f"; and {len(self.split) - 3} more" if len(self.split) > 3 else "") + ")")
        if self.apart:
            out.append(f"changes of one codon on several rows read as that many changes, as the file gives no reads that "
                       f"show one change (it may be one two-base change): {len(self.apart)} (" + "; ".join(self.apart[:3])
                       + (f"; and {len(self.apart) - 3} more" if len(self.apart) > 3 else "") + ")")
        skipped = sum(self.skipped.values())
        out.append(f"rows skipped: {skipped}")
        for reason, n in self.skipped.most_common():
            extra = ""
            if reason == R_GENE:
                extra = f" ({len(self.genes_skipped)} genes)"
            elif reason == R_CLASS:
                extra = " (" + ", ".join(f"{k} {v}" for k, v in self.classifications_skipped.most_common()) + ")"
            out.append(f"  {reason}: {n}{extra}")
        if self.genes_unknown:
            out.append("genes left unknown in a case (out of tested_genes) as a row of them could not be read: "
                       + ", ".join(f"{k} in {v}" for k, v in self.genes_unknown.most_common(8))
                       + (f" and {len(self.genes_unknown) - 8} more genes" if len(self.genes_unknown) > 8 else ""))
        nerr = sum(self.errors.values())
        out.append(f"error records: {nerr}" + (" (" + ", ".join(f"{k} {v}" for k, v in self.errors.most_common()) + ")" if nerr else ""))
        if self.trimmed:
            out.append(f"rows with fewer fields than the header, read with their missing columns empty (no column "
                       f"read is missing: trailing empty cells trimmed): {self.trimmed}")
        if self.no_panel:
            out.append(f"samples without a gene panel in the matrix (no tested_genes written): {self.no_panel}")
        if self.clinical_only:
            out.append(
                f"clinical samples with no mutation rows, not written: {self.clinical_only} "
                "(list sequenced samples with --samples to write them)"
            )
        if self.renumbered:
            out.append(
                f"protein changes numbered on another transcript than the gene's reference, read from the coordinates "
                f"instead (hotspot table): {self.renumbered} (first: {self.renumbered_example})"
            )
        if self.other_transcript:
            out.append(
                "protein changes numbered on another transcript than the gene's reference, read as written (outside the "
                "hotspot table, so not checked; their positions may differ from the reference numbering the rules use): "
                + ", ".join(f"{k} {v}" for k, v in self.other_transcript.most_common(5))
                + (f" and {len(self.other_transcript) - 5} more" if len(self.other_transcript) > 5 else "")
            )
        if self.pick_replaced:
            out.append(
                "annotation entries read on the gene's reference transcript rather than the one VEP picked (PICK on "
                f"another transcript, whose protein numbering may differ from the reference the rules use): {self.pick_replaced}"
            )
        if self.origin_germline:
            out.append(f"calls the matched normal sample also carries, written as germline (origin): {self.origin_germline}")
        for k, v in self.origin_unknown.most_common():
            out.append(f"calls written as somatic although the normal sample could not tell their origin ({k}): {v}")
        if self.significance:
            out.append("clinical significance (ClinVar) of calls: " + ", ".join(f"{k} {v}" for k, v in self.significance.most_common()))
        for k, v in self.unmapped.most_common(10):
            out.append(f"value not in --map, field left unknown: {k} ({v} samples)")
        out.extend(self.notes)
        return [clean(line) for line in out]  # cell texts quoted here never drive a terminal


def gene_finder(vocab: Any) -> Callable[[str], str | None]:
    """A lookup of gene symbols that returns None for an unknown one.

    A MAF names ~20,000 genes and the vocabulary a few hundred; ``vocab.gene`` computes a "did you
    mean" for every unknown symbol (about a millisecond each), which would dominate an import, so
    the vocabulary's non-raising ``find_gene`` is used.
    """
    return vocab.find_gene


def misspelt_gene(vocab: Any, symbol: str) -> tuple[str | None, str]:
    """For a gene symbol with a character no gene symbol has (``symbol.isascii()`` is false: a
    letter of another alphabet that looks like a Latin one, a byte that is not UTF-8 read as
    Latin-1): the known gene it most probably stands for ("КRAS" with a Cyrillic К: KRAS), or
    None, and the error record's message. Importers make such a row an error record, never a row
    skipped as of a gene the rules do not read, and the gene named becomes unknown in its case."""
    try:
        vocab.gene(symbol)
        guess = None
    except TermError as exc:
        guess = exc.problems[0].suggestion
    text = f"gene symbol {quote(symbol)} has characters no gene symbol has (a letter of another alphabet, or a byte that is not UTF-8)"
    if guess is None:
        return None, text + ", and no known gene is near it: the row is not read"
    return guess, text + f": probably {guess}, whose status is therefore unknown; the row is not read"


#: the words an unspecified change is written with (see :func:`unread_marks`)
UNREAD = "mutation"
UNREAD_DETAIL = "a change of this gene in the input that could not be read (see the error records and the summary)"


def unread_marks(vocab: Any, alts: list[dict], unresolved: set[str]) -> list[dict]:
    """An unspecified ``mutation`` for each gene a row of which could not be read while another
    sequence change of it is listed: the engine counts a gene carrying a listed mutation as
    sequenced, so without the mark the unread change would be taken for wild-type at every codon
    but the listed one's. With it the gene's hotspots are unknown, as the row leaves them."""
    if not unresolved:
        return []
    out = []
    for gene in sorted(unresolved):
        listed = [a for a in alts if a["gene"] == gene and a.get("origin", "somatic") == "somatic"]
        if any(_is_mutation(vocab, gene, a["variant"]) for a in listed):
            out.append({"gene": gene, "variant": UNREAD, "detail": UNREAD_DETAIL})
    return out


def _is_mutation(vocab: Any, gene: str, text: str) -> bool:
    try:
        return vocab.variant(gene, text).kind == "mutation"
    except TermError:
        return False


@dataclass(frozen=True, slots=True)
class _Sub:
    """A row read as a one-residue substitution, with where it lies (plus-strand alleles) and its
    tumour reads: two rows of one codon may be one change (see Importer._merge_split_codons)."""

    key: tuple  # the alteration's key in the sample's alts
    label: str
    asm: str
    chrom: str
    start: int
    ref: str
    alt: str
    reads: int | None
    source: str

    def changed(self) -> dict[int, str]:
        return {self.start + k: b for k, (a, b) in enumerate(zip(self.ref, self.alt, strict=True)) if a != b}


class _Sample:
    __slots__ = ("id", "alts", "unresolved", "line", "truncated", "subs")

    def __init__(self, sid: str, line: int):
        self.id = sid
        self.alts: dict[tuple, dict] = {}
        self.subs: dict[tuple, list[_Sub]] = {}  # (gene, origin, codon) -> substitution rows (with coordinates)
        self.unresolved: set[str] = set()
        self.line = line
        # gene -> whether every unread row of it is classified as a truncating change (a stop, a
        # frameshift: never an activating hotspot change, so no unspecified mutation stands for it)
        self.truncated: dict[str, bool] = {}

    def unread(self, gene: str, truncating: bool = False) -> None:
        """A row of ``gene`` could not be read: its status is unknown for the sample."""
        self.unresolved.add(gene)
        self.truncated[gene] = self.truncated.get(gene, True) and truncating

    def may_activate(self) -> set[str]:
        """The genes of unread rows that may hold an activating change (not known truncating)."""
        return {g for g in self.unresolved if not self.truncated.get(g, False)}


class _Miss(enum.Enum):
    MISS = 0


_MISS: Final = _Miss.MISS  # "not cached yet" (None is a cached answer); an enum member, so types narrow on `is`


class Importer:
    """Turns one mutation file (plus clinical, panel and map files) into case dicts."""

    rules_vocabulary: Path | None = None  # the vocabulary folder (default: the shipped rules); make_importer sets it
    _ref_tx: dict[str, frozenset[str]] | None = None

    def __init__(
        self,
        vocab: Any,
        table: hs.HotspotTable,
        options: ImportOptions,
        clinical: ClinicalIndex | None = None,
        errors: ErrorSink | None = None,
    ):
        self.vocab = vocab
        self.table = table
        self.opt = options
        self.clinical = clinical or ClinicalIndex()
        self.summary = Summary()
        self._sink = errors or (lambda rec: None)
        self._cancer = CancerResolver(vocab, options.cancer_type)
        self._genes: dict[str, str | None] = {}
        self._find_gene = gene_finder(vocab)
        self._variants: dict[tuple[str, str], tuple[Any, TermError | None]] = {}
        self._builds: dict[str, str | None] = {}
        self._panel_genes: dict[str, tuple[str, ...]] = {}
        self._all_genes: tuple[str, ...] | None = None
        self._unread: set[str] = set()
        self._row_truncating = False  # (the row being read is classified as a truncating change)
        self._row_cut_short = False  # (... as one that surely cuts the protein short: CUT_SHORT)
        self._row_detail = ""  # (what an alteration read from the row's classification rests on)
        if options.assay == "exome":
            self._all_genes = tuple(sorted(vocab.genes))

    # ------------------------------------------------------------------ errors

    def error(self, kind: str, message: str, source: str, **extra: Any) -> None:
        """Count and emit one error record: ``{"error": {...}, "source": "file:line", ...}``."""
        self.summary.errors[kind] += 1
        err = {"kind": kind, "message": message}
        for k in ("field", "value", "suggestion"):
            if k in extra:
                err[k] = extra.pop(k)
        rec = {"error": err, "source": source}
        rec.update({k: v for k, v in extra.items() if v is not None})
        self._sink(rec)

    def damaged(self, exc: DamagedFile) -> None:
        """The input could not be read to its end (a truncated or corrupt gzip): one error record
        naming the file and its last line read. The cases of the rows before are still written, as
        ``evaluate`` keeps the records before the damage, but the rows lost may be about any gene of
        any sample: every gene is unknown in every case (never wild-type), and a sample known only
        from the lost rows has no case."""
        self.error("file", f"the file is damaged or truncated after line {exc.lines:,} ({exc.reason}): the lines "
                   "up to there are read and their cases written, the rest is lost, so every gene's status is unknown "
                   "in every case (a lost row may be about any gene of any sample) and a sample known only from the "
                   "lost rows has no case; get a whole copy of the file (gzip -t tests a gzip)", str(exc.path))
        self._unread.update(self.vocab.genes)
        self.summary.notes.append(f"{exc.path} ends early (damaged or truncated after line {exc.lines:,}): every gene "
                                  "is unknown in every case (see the error record)")

    def _rows(self, tab: Table) -> Iterator[tuple[int, list[str]]]:
        """The table's rows up to the end, or up to the damage of a file that cannot be read to the
        end (see :meth:`damaged`)."""
        try:
            yield from tab.rows
        except DamagedFile as exc:
            self.damaged(exc)

    def _short_row(self, tab: Table, f: list[str], read: tuple[int, ...], i_gene: int, line: int) -> bool:
        """A row with fewer fields than the header. It is cut short (True: an error record written)
        where it lacks a column the importer reads, or where it is the last line and has no line end
        (a truncated file: its last field may be cut too). Otherwise only trailing columns not read
        are missing (cells trimmed by an editor): they are read as empty, and counted.

        What the row was about is unknown: its gene is unknown for every sample of the file (the
        genes that start with its text where the gene cell itself may be cut; every gene where the
        row has no gene cell), never wild-type. No sample is made from it."""
        width = len(tab.header)
        missing = [i for i in read if i >= len(f)]
        open_end = line == tab.unterminated
        if not missing and not open_end:
            self.summary.trimmed += 1
            return False
        names = [tab.header[i] for i in missing]
        what = (f"missing {', '.join(names[:3])}" + (f" and {len(names) - 3} more read columns" if len(names) > 3 else "")
                if names else f"its last field ({tab.header[len(f) - 1]}) may be cut")
        end = "; the file ends here without a line end: it was probably truncated" if open_end else ""
        self.error("row", f"line cut short: {len(f)} of {width} fields ({what}){end}; the row is not read and its "
                   "gene's status is unknown in every case", f"{tab.path}:{line}",
                   field=names[0] if names else tab.header[len(f) - 1])
        self.summary.skipped[R_ERROR] += 1
        if i_gene >= len(f):
            self._unread.update(self.vocab.genes)
        elif open_end and i_gene == len(f) - 1:
            cut = f[i_gene].strip().upper()
            self._unread.update(g for g in self.vocab.genes if g.upper().startswith(cut))
        else:
            gene = self._gene(f[i_gene].strip())
            if gene is not None:
                self._unread.add(gene)
        return True

    # ------------------------------------------------------------------ lookups

    def _row_error(self, st: _Sample, gene: str, kind: str, message: str, source: str, **extra: Any) -> None:
        """A row of ``gene`` that cannot be read: an error record, and the gene's status for the
        sample becomes unknown (never wild-type)."""
        self.error(kind, message, source, sample=st.id, gene=gene, **extra)
        st.unread(gene, self._row_truncating)
        self.summary.skipped[R_ERROR] += 1

    def _misspelt_gene(self, st: _Sample, symbol: str, source: str, column: str) -> None:
        """A row whose gene symbol no gene symbol could be (see :func:`misspelt_gene`): an error
        record, and the gene it probably stands for is unknown in the sample, never wild-type."""
        guess, message = misspelt_gene(self.vocab, symbol)
        if guess is None:
            self.error("gene", message, source, sample=st.id, field=column, value=symbol)
            self.summary.skipped[R_ERROR] += 1
        else:
            self._row_error(st, guess, "gene", message, source, field=column, value=symbol, suggestion=guess)

    def _gene(self, symbol: str) -> str | None:
        g = self._genes.get(symbol, _MISS)
        if g is _MISS:
            g = self._find_gene(symbol.strip()) if symbol.strip() else None
            self._genes[symbol] = g
        return g

    def _variant(self, gene: str, text: str) -> tuple[Any, TermError | None]:
        key = (gene, text)
        hit = self._variants.get(key)
        if hit is None:
            try:
                hit = (self.vocab.variant(gene, text), None)
            except TermError as exc:
                hit = (None, exc)
            self._variants[key] = hit
        return hit

    def _build(self, text: str) -> str | None:
        b = self._builds.get(text, _MISS)
        if b is _MISS:
            b = self.table.assembly(text)
            self._builds[text] = b
        return b

    def _panel(self, sample: str) -> tuple[str, ...] | None:
        """The vocabulary genes of the sample's panel, sorted (None: no panel for this sample)."""
        ps = self.opt.panels
        panel = ps.panel_of(sample) if ps is not None else None
        if panel is None:
            return None
        genes = self._panel_genes.get(panel.stable_id)
        if genes is None:
            genes = tuple(sorted({g for g in (self._gene(s) for s in panel.genes) if g is not None}))
            self._panel_genes[panel.stable_id] = genes
        return genes

    def _reference_transcripts(self) -> dict[str, frozenset[str]]:
        """Per gene, the transcripts numbered as the clinical reference (vocabulary data)."""
        if self._ref_tx is None:
            vdir = self.rules_vocabulary
            if vdir is None:
                from engine.rulebase import default_rules_dir

                vdir = default_rules_dir() / "vocabulary"
            self._ref_tx = hs.reference_transcripts(Path(vdir), self.table)
        return self._ref_tx

    def _check_protein(self, st: _Sample, gene: str, text: str, field_name: str, transcript: str,
                       decoded: hs.Decoded | None, where: str, src: str) -> tuple[str, str, bool] | None:
        """Cross-check a protein change a row states against what its coordinates decode to.

        Returns the change to read, the field it comes from and whether it came from the coordinates;
        None when the two disagree and nothing says which is right (an error record is written and the
        gene's status becomes unknown). A protein numbered on a transcript that is not the gene's
        reference (GDC/VEP MANE numbering: BRAF p.V640E for V600E) is replaced by the coordinates'
        reading when they decode it unambiguously, and the summary says so."""
        refs = self._reference_transcripts().get(gene)
        tx = hs.transcript_key(transcript) if transcript and not is_missing(transcript) else ""
        other = bool(tx and refs and tx not in refs)
        if decoded is None or decoded.kind != hs.DECODED or decoded.gene != gene or not decoded.protein:
            if other:
                self.summary.other_transcript[f"{gene} {tx}"] += 1
            return text, field_name, False
        var, exc = self._variant(gene, text)
        dvar, dexc = self._variant(gene, decoded.protein)
        # a protein numbered on another transcript may not read on the reference at all (BRAF p.V640E:
        # residue 640 of the reference is Y): the coordinates' reading replaces it below
        if dexc is not None or (exc is not None and not other):  # the vocabulary's own error record
            return text, field_name, False
        if exc is None and getattr(var, "label", text) == getattr(dvar, "label", decoded.protein):
            return text, field_name, False
        if other:
            s = self.summary
            s.renumbered += 1
            if not s.renumbered_example:
                s.renumbered_example = (f"{src} {gene} {field_name} {text} on {tx}, coordinates {where}: "
                                        f"{decoded.protein}")
            return decoded.protein, "coordinates", True
        on = (f"transcript {tx} is numbered as the reference, " if tx and refs
              else f"transcript {tx} is not one the vocabulary knows for {gene}, " if tx
              else "no transcript is given, ")
        self._row_error(st, gene, "protein",
            f"{field_name} says {text} but the coordinates ({where}) are {gene} {decoded.protein} in the hotspot "
            f"table; {on}so which one is right cannot be told: the gene's status is left unknown (likely intended: "
            f"{decoded.protein}, what the coordinates say; correct the file's {field_name} or its coordinates)",
            src, field=field_name, value=text, suggestion=decoded.protein)
        return None

    def _decode_row(self, f: list[str], cols: MutationColumns) -> tuple[hs.Decoded, str] | None:
        """What a row's coordinates decode to, quietly (None where they cannot be read: no assembly,
        a position outside the table, ...); for checking a protein change the row also states."""
        site = self._row_site(f, cols)
        if site is None:
            return None
        asm, chrom, start, ref, alt = site
        return self.table.decode(asm, chrom, start, ref, alt), f"{chrom}:{start} {ref}>{alt} on {asm}"

    def _row_site(self, f: list[str], cols: MutationColumns) -> tuple[str, str, int, str, str] | None:
        """A row's assembly, chromosome, start and alleles where the hotspot table covers them."""
        i_chrom, i_start, i_ref = cols.chromosome, cols.start, cols.ref
        if i_chrom is None or i_start is None or i_ref is None or not cols.has_coordinates:
            return None
        build_text = f[cols.build].strip() if cols.build is not None else ""
        if build_text and not is_missing(build_text):
            asm = self._build(build_text)
            if asm is None or (self.opt.assembly is not None and asm != self.opt.assembly):
                return None
        elif self.opt.assembly is not None:
            asm = self.opt.assembly
        else:
            return None
        chrom = f[i_chrom].strip()
        try:
            start = int(f[i_start].strip())
        except ValueError:
            return None
        ref = f[i_ref].strip()
        alt = alt_allele(
            ref,
            f[cols.alt2] if cols.alt2 is not None else "",
            f[cols.alt1] if cols.alt1 is not None else "",
        )
        if ref in ("-", "") or not self.table.covers(asm, chrom, start, start + len(ref) - 1):
            return None
        return asm, chrom, start, ref, alt

    def _merge_split_codons(self, st: _Sample) -> None:
        """One change written as several rows: a caller of single-base changes writes a two-base
        change of one codon (KRAS c.34_35GG>TT, G12F) as two rows (c.34G>T G12C, c.35G>T G12V), and
        a file may list a two-base call beside a single-base call of its own part. Read apart, they
        would be two alleles, one of them a G12C the tumour does not have. Rows of one codon whose
        changes do not disagree are one change when the file shows it: the same count of tumour
        reads on every row, or one row's change holding another's. The change is then read from
        the coordinates together (the hotspot table); where it cannot be, the gene's status is
        unknown (an error record), never one of the rows' readings."""
        for (gene, origin, _codon), rows in st.subs.items():
            if len({r.key for r in rows}) < 2 or len({(r.asm, r.chrom) for r in rows}) != 1:
                continue
            changes: dict[int, str] = {}
            refs: dict[int, str] = {}
            agree = True
            for r in rows:
                for k, b in enumerate(r.ref):
                    refs[r.start + k] = b
                for pos, b in r.changed().items():
                    agree = agree and changes.setdefault(pos, b) == b
            sets = [frozenset(r.changed()) for r in rows]
            reads = {r.reads for r in rows}
            why = ("the same reads" if None not in reads and len(reads) == 1 else
                   "one row's change holds another's" if any(a < b for a in sets for b in sets) else None)
            if not agree or why is None:  # (two changes, as far as the file shows)
                if agree:
                    self.summary.apart.append(f"{st.id}: {gene} " + " + ".join(dict.fromkeys(r.label for r in rows)))
                continue
            asm, chrom = rows[0].asm, rows[0].chrom
            lo, hi = min(refs), max(refs)
            ref = "".join(refs.get(p) or self.table.reference_at(asm, chrom, p, 1) or "?" for p in range(lo, hi + 1))
            alt = "".join(changes.get(p, ref[p - lo]) for p in range(lo, hi + 1))
            labels = " + ".join(dict.fromkeys(r.label for r in rows))
            for r in rows:
                st.alts.pop(r.key, None)
            d = self.table.decode(asm, chrom, lo, ref, alt) if "?" not in ref else None
            text = d.protein if d is not None and d.kind == hs.DECODED and d.gene == gene else None
            var, exc = self._variant(gene, text) if text else (None, None)
            if text and var is not None and exc is None:
                key = (gene, var.label, origin)
                alt_rec = {"gene": gene, "variant": text,
                           "detail": f"one change written as {len(rows)} rows ({labels}: {why}), read together"}
                if origin != "somatic":
                    alt_rec["origin"] = origin
                st.alts.setdefault(key, alt_rec)
                self.summary.split.append(f"{st.id}: {gene} {labels} -> {var.label}")
                continue
            self._row_error(st, gene, "variant",
                            f"{gene} {labels}: one change written as {len(rows)} rows ({why}), whose change together "
                            f"({chrom}:{lo} {ref}>{alt} on {asm}) is not decoded: the gene's status is unknown",
                            rows[0].source)

    # ------------------------------------------------------------------ the run

    def run(self, path: Path | str) -> Iterator[dict]:
        """Yield the case of every sample of the mutation file ``path`` (a Path or a text)."""
        path = Path(path) if isinstance(path, str) else path
        t0 = time.perf_counter()
        name = str(path)
        tab = read_table(path)
        cols = MutationColumns.of(tab)
        if not cols.protein and not cols.has_coordinates:
            raise UsageError(
                f"{name}: no protein change column ({', '.join(PROTEIN_COLUMNS)}) and no coordinates "
                "(Chromosome, Start_Position, Reference_Allele, Tumor_Seq_Allele2)"
            )
        if cols.classification is None:
            self.summary.notes.append("no Variant_Classification column: every row in a vocabulary gene counts")
        if not cols.protein:
            self.summary.notes.append("no protein change column: protein changes read from coordinates (hotspot table)")

        samples: dict[str, _Sample] = {}
        order: list[str] = []
        for comment in tab.comments:
            if comment.startswith("#sequenced_samples:"):
                for sid in comment.split(":", 1)[1].split():
                    if sid not in samples:
                        samples[sid] = _Sample(sid, tab.header_line)
                        order.append(sid)
        for sid in self.opt.samples:
            if sid not in samples:
                samples[sid] = _Sample(sid, 0)
                order.append(sid)

        s = self.summary
        skipped = s.skipped
        width = len(tab.header)
        i_sample, i_gene, i_cls, i_status = cols.sample, cols.gene, cols.classification, cols.status
        prot_cols = cols.protein
        i_tx = cols.transcript
        read = cols.read
        current: _Sample | None = None
        grouped = self.opt.grouped
        finished: set[str] = set()
        classes: dict[str, Any] = {}
        vc_key = KeyCache()
        unread = self._unread = set()  # genes of rows that could not be read at all (unknown for every sample)

        for line, f in self._rows(tab):
            s.rows += 1
            if len(f) != width:
                if len(f) < width and self._short_row(tab, f, read, i_gene, line):
                    continue
                if len(f) > width and any(x.strip() for x in f[width:]):
                    self.error("row", f"{len(f)} fields, the header has {width}", f"{name}:{line}")
                    skipped[R_ERROR] += 1
                    # what the row called is unknown: its gene (where it can be read) is unknown for every
                    # sample of the file, never wild-type (a field too many may have shifted the sample
                    # cell: which sample it was about cannot be trusted)
                    gene_of = self._gene(f[i_gene].strip())
                    if gene_of is not None:
                        unread.add(gene_of)
                    continue
                f = (f + [""] * width)[:width]
            sid = f[i_sample].strip()
            if not sid:
                self.error("row", f"no {tab.header[i_sample]} on this row", f"{name}:{line}")
                skipped[R_ERROR] += 1
                continue
            if current is None or current.id != sid:
                if grouped and current is not None and current.id not in finished:
                    finished.add(current.id)
                    case = self._finish(current, name)
                    if case is not None:
                        yield case
                current = None
                if grouped and sid in finished:
                    self.error(
                        "order",
                        f"rows of sample '{sid}' come back after its case was written (the file is not grouped "
                        "by sample: import without --grouped)",
                        f"{name}:{line}",
                        sample=sid,
                    )
                    skipped[R_ERROR] += 1
                    continue
                current = samples.get(sid)
                if current is None:
                    current = samples[sid] = _Sample(sid, line)
                    order.append(sid)
            st = current

            symbol = f[i_gene]
            gene = self._genes.get(symbol, _MISS)
            if gene is _MISS:
                gene = self._gene(symbol)
            if gene is None:
                if is_missing(symbol):
                    skipped[R_NO_GENE] += 1
                    continue
                if not symbol.isascii():  # no gene symbol has such a character: whose row is it?
                    self._row_truncating = i_cls is not None and vc_key[f[i_cls]] in TRUNCATING
                    self._misspelt_gene(st, symbol, f"{name}:{line}", tab.header[i_gene])
                    continue
                skipped[R_GENE] += 1
                s.genes_skipped.add(symbol)
                continue

            row_class = vc_key[f[i_cls]] if i_cls is not None else None
            self._row_truncating = row_class in TRUNCATING
            self._row_cut_short = row_class in CUT_SHORT
            self._row_detail = ""
            if i_cls is not None:
                vc = f[i_cls]
                policy = classes.get(vc, _MISS)
                if policy is _MISS:
                    policy = classes[vc] = classify(vc)
                vc = vc.strip()
                if policy == SKIP:
                    skipped[R_CLASS] += 1
                    s.classifications_skipped[vc] += 1
                    continue
                if policy is None:
                    self._row_error(st, gene, "classification",
                        f"unknown Variant_Classification '{vc}' (the README lists the values read)",
                        f"{name}:{line}",
                        field="Variant_Classification",
                        value=vc,
                        suggestion=closest_classification(vc))
                    continue

            origin = "somatic"
            if i_status is not None:
                ms = f[i_status].strip().upper()
                if ms == "GERMLINE":
                    origin = "germline"
                elif ms in ("WILDTYPE", "WILD_TYPE", "NONE"):
                    skipped[R_WILD] += 1
                    continue

            text = ""
            pcol = ""
            for k, i in enumerate(prot_cols):
                v = f[i]
                if v and not is_missing(v):
                    text = clean_protein(v)
                    pcol = cols.protein_names[k]
                    if i_cls is not None:
                        if vc_key[f[i_cls]] == SPLICE_SITE:
                            text = splice_change(text)
                        elif vc_key[f[i_cls]] in STOP_GAINED:
                            text = stop_change(text)
                    break
            coords = False
            transcript = ""
            if not text:
                text = self._from_coordinates(f, cols, gene, st, name, line)
                if not text:
                    continue
                coords = True
                pcol = "coordinates"
            elif cols.has_coordinates or i_tx is not None:
                # a protein change and coordinates: they must say the same where the table decodes them
                got = self._decode_row(f, cols)
                transcript = f[i_tx].strip() if i_tx is not None else ""
                if got is not None or transcript:
                    checked = self._check_protein(st, gene, text, pcol, transcript, got[0] if got else None,
                                                  got[1] if got else "", f"{name}:{line}")
                    if checked is None:
                        continue
                    text, pcol, coords = checked

            var, exc = self._variant(gene, text)
            if exc is not None:
                p = exc.problems[0]
                message, hint = p.message, p.suggestion
                refs = self._reference_transcripts().get(gene)
                tx = hs.transcript_key(transcript) if transcript and not is_missing(transcript) else ""
                if not coords and tx and refs and tx not in refs:
                    # numbered on another transcript (GDC's MANE numbering) and not placed by coordinates:
                    # the reference's residue says nothing of what was meant
                    message += (f"; the row numbers {gene} on {tx}, not on its reference transcript "
                                f"({', '.join(sorted(refs))}), and its coordinates do not place the change")
                    hint = None
                self._row_error(st, gene, "variant",
                    message,
                    f"{name}:{line}",
                    field=pcol,
                    value=text,
                    suggestion=hint)
                continue
            s.alteration_rows += 1
            s.recognised[(gene, text)] += 1
            if cols.filter is not None:
                flt = f[cols.filter].strip()
                if flt and flt.upper() not in ("PASS", "."):
                    s.flagged[flt] += 1
            if self._row_detail:
                s.from_classification += 1
            elif coords:
                s.from_coordinates += 1
            label = getattr(var, "label", text)
            key = (gene, label, origin)
            if key in st.alts:
                s.merged += 1
                continue
            alt = {"gene": gene, "variant": text}
            if origin != "somatic":
                alt["origin"] = origin
            if self._row_detail:
                alt["detail"] = self._row_detail
            st.alts[key] = alt
            if var.kind == "mutation" and var.codon is not None and var.span is None and var.alt not in (None, "*"):
                site = self._row_site(f, cols)
                if site is not None:
                    st.subs.setdefault((gene, origin, var.codon), []).append(
                        _Sub(key, label, *site, cols.alt_reads(f), f"{name}:{line}"))

        if tab.comment_rows:
            s.rows += tab.comment_rows
            skipped[R_COMMENT] += tab.comment_rows
        if tab.header_rows:
            s.rows += tab.header_rows
            skipped[R_HEADER] += tab.header_rows
        if grouped and current is not None and current.id not in finished:
            finished.add(current.id)
            case = self._finish(current, name)
            if case is not None:
                yield case
        for sid in order:
            if sid not in finished:
                case = self._finish(samples[sid], name)
                if case is not None:
                    yield case
        s.samples = len(samples)
        if self.clinical.by_sample:
            s.clinical_only = sum(1 for k in self.clinical.by_sample if k not in samples and not self._patient_seen(k, samples))
        s.seconds = time.perf_counter() - t0

    def _patient_seen(self, clinical_sample: str, samples: dict[str, _Sample]) -> bool:
        patient = self.clinical.sample_patient.get(clinical_sample)
        return patient is not None and patient in samples

    def _from_coordinates(self, f: list[str], cols: MutationColumns, gene: str, st: _Sample, name: str, line: int) -> str:
        """The protein change a row's coordinates give, or "" (the row is then counted or an error)."""
        skipped = self.summary.skipped
        src = f"{name}:{line}"
        i_chrom, i_start, i_ref = cols.chromosome, cols.start, cols.ref
        if i_chrom is None or i_start is None or i_ref is None or not cols.has_coordinates:
            self._row_error(st, gene, "protein", "no protein change on this row and the file has no coordinates", src)
            return ""
        build_text = f[cols.build].strip() if cols.build is not None else ""
        if build_text and not is_missing(build_text):
            asm = self._build(build_text)
            if asm is None:
                self._row_error(st, gene, "assembly",
                    f"unknown NCBI_Build '{build_text}' (known: {', '.join(self.table.assemblies)})",
                    src, field="NCBI_Build", value=build_text)
                return ""
            if self.opt.assembly is not None and asm != self.opt.assembly:
                self._row_error(st, gene, "assembly",
                    f"NCBI_Build says {asm} but --assembly says {self.opt.assembly}: the row is not decoded",
                    src, field="NCBI_Build", value=build_text)
                return ""
        elif self.opt.assembly is not None:
            asm = self.opt.assembly
        else:
            self._row_error(st, gene, "assembly",
                "no protein change and no NCBI_Build on this row: give --assembly GRCh37 or GRCh38 to read coordinates",
                src, field="NCBI_Build")
            return ""
        chrom = f[i_chrom].strip()
        start = position(f[i_start])
        if start is None:
            self._row_error(st, gene, "row", f"Start_Position {quote(f[i_start].strip())} is not a position: expected "
                            f"a whole number from 1 to {MAX_POSITION:,}", src, field="Start_Position",
                            value=f[i_start].strip())
            return ""
        ref = f[i_ref].strip()
        alt = alt_allele(
            ref,
            f[cols.alt2] if cols.alt2 is not None else "",
            f[cols.alt1] if cols.alt1 is not None else "",
        )
        span = max(len(ref), 1) if ref not in ("-", "") else 1
        beyond = self.table.past_end(asm, chrom, start + span - 1)
        if beyond:
            self._row_error(st, gene, "coordinates", f"Start_Position {start:,} is {beyond}: a wrong position, or a "
                            f"row of another assembly? The row is not read", src, field="Start_Position",
                            value=f[i_start].strip())
            return ""
        if not self.table.covers(asm, chrom, start, start + span - 1):
            if self._row_cut_short:
                return self._cut_short(f, cols, chrom, start, ref, alt)
            skipped[R_NOPROT] += 1
            st.unread(gene, self._row_truncating)
            return ""
        d = self.table.decode(asm, chrom, start, ref, alt)
        if d.kind == hs.DECODED:
            if d.gene != gene:
                self._row_error(st, gene, "coordinates",
                    f"{chrom}:{start} {ref}>{alt} is {d.gene} {d.protein} in the hotspot table but the row's gene is {gene}",
                    src)
                return ""
            return d.protein or ""
        if d.kind == hs.SYNONYMOUS:
            skipped[R_SYN] += 1
            return ""
        if d.kind == hs.MISMATCH:
            self._row_error(st, gene, "coordinates", d.detail, src, field="Reference_Allele", value=ref)
            return ""
        if d.kind == hs.AMBIGUOUS:
            self._row_error(st, gene, "coordinates", d.detail, src)
            return ""
        if self._row_cut_short:
            return self._cut_short(f, cols, chrom, start, ref, alt)
        skipped[R_INDEL if ref in ("-", "") or alt in ("-", "") or len(ref) != len(alt) else R_NOPROT] += 1
        st.unread(gene, self._row_truncating)
        return ""

    def _cut_short(self, f: list[str], cols: MutationColumns, chrom: str, start: int, ref: str, alt: str) -> str:
        """A row the file classes as cutting the protein short (a stop gained, a frameshift) whose
        protein change neither the file nor the tables give: the gene carries a truncating
        mutation (a loss of function), whichever residue it cuts at. It is never an activating
        change, so the gene's hotspots stay known; the row's classification and place go into
        the alteration's ``detail``."""
        vc = f[cols.classification].strip() if cols.classification is not None else ""
        self._row_detail = f"{vc} at {chrom}:{start} {ref or '-'}>{alt or '-'} (the file gives no protein change)"
        return CUT_SHORT_VARIANT

    # ------------------------------------------------------------------ cases

    def _finish(self, st: _Sample, name: str) -> dict | None:
        for g in self._unread:
            st.unread(g)
        values = self.clinical.values(st.id)
        ct, where, tried = self._cancer.for_sample(values)
        src = f"{name}:{st.line}"
        if ct is None:
            why = "; ".join(tried) if tried else (
                "no clinical row for this sample" if values is None
                else "its cancer type cells are empty" if any(c in self.clinical.columns for c in CANCER_COLUMNS + SITE_COLUMNS)
                else "no cancer type column")
            self.error("cancer_type", f"no cancer type for sample '{st.id}' ({why}); give --cancer-type", src, sample=st.id)
            self.summary.without_case += len(st.alts)
            st.alts, st.unresolved, st.truncated, st.subs = {}, set(), {}, {}
            return None
        self.summary.cancer_sources[where] += 1
        for t in tried:  # ("column: why" of each text passed over; values hold them, as tried is not empty)
            col = t.split(": ", 1)[0]
            self.summary.cancer_unknown_texts[f"{col}: {(values or {}).get(col, '')}"] += 1
        case: dict[str, Any] = {"id": st.id, "cancer_type": ct}
        if self.opt.field_map is not None:
            mapped, unmapped, conflicts = self.opt.field_map.apply(values)
            for u in unmapped:
                self.summary.unmapped[u] += 1
            for c in conflicts:
                self.error("map", c, src, sample=st.id)
            if "stage" in mapped:
                case["stage"] = mapped["stage"]
        if st.subs:
            self._merge_split_codons(st)
        alts = list(st.alts.values())
        alts += unread_marks(self.vocab, alts, st.may_activate())
        alts.sort(key=lambda a: (a["gene"], a["variant"], a.get("origin", "")))
        case["alterations"] = alts
        self.summary.alterations += len(alts)
        tested: tuple[str, ...] | None = None
        if self.opt.assay == "exome":
            tested = self._all_genes
        elif self.opt.assay == "panel":
            tested = self._panel(st.id)
            if tested is None:
                self.summary.no_panel += 1
        if tested is not None:
            unknown = st.unresolved
            if unknown:
                case["tested_genes"] = [g for g in tested if g not in unknown]
                self.summary.genes_unknown.update(g for g in tested if g in unknown)
            else:
                case["tested_genes"] = list(tested)
        if self.opt.field_map is not None:
            for k in ("germline_tested", "multiagent_candidate", "prior_therapies", "tested_after_prior_therapy"):
                if k in mapped:
                    case[k] = mapped[k]
        self.summary.cases += 1
        st.alts, st.unresolved, st.truncated, st.subs = {}, set(), {}, {}  # the case is written: keep nothing of it
        return case
