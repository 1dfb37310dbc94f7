"""What the readers of clinical documents (GA4GH Phenopackets, FHIR bundles) share.

A document is not a table: its *elements* (a disease, a genomic interpretation, a medical action, a
bundle entry) are counted instead of rows, each exactly once, as used, skipped (with the reason) or an
error record. Error records name the file and the element's path (``interpretations[0].diagnosis.
genomicInterpretations[1]...``, ``entry[3].resource.component[2]``).

:class:`CaseDraft` collects one case; :class:`DocumentReader` turns what the documents say into case
fields through the vocabulary and the OncoTree index:

- cancer type: an OncoTree code (``ONCOTREE:LUAD`` or a coding whose system names OncoTree), an NCI
  Thesaurus concept mapped through the OncoTree file's NCIt references (``NCIT:C3512`` -> ``LUAD``),
  or a name the vocabulary knows (a revoked OncoTree code is read as its replacement, with a note);
- variants: a protein change (HGVS ``p.``), a cDNA change of a hotspot (``c.``), or genomic
  coordinates (a VCF record, a genomic HGVS ``NC_000012.11:g.25398285C>A``, a VRS allele) read through
  the hotspot table;
- prior therapies: drug or regimen names the vocabulary knows, grouped into lines by start date (or
  by what the document says groups them); lines are written in the order of their start dates, undated
  lines keeping their place in the document (a summary line says when that order is uncertain).
  A document that says nothing about treatment leaves ``prior_therapies`` out (unknown), never ``[]``;
- outcome words are read with their negation: "no evidence of progression" is not progression (and,
  saying nothing else, leaves the outcome unknown, with a summary line), never its opposite;
- two distinct primary cancers in one document give no case (an error record naming both) unless the
  document (or ``--cancer-type``) says which one the genomic findings belong to.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from engine.case import MAX_WEEKS  # (the readers never write weeks evaluate would refuse)
from engine.errors import TermError, UsageError, clean, quote
from engine.importers import hotspots as hs
from engine.importers.coding import CodingExons
from engine.importers.importer import unread_marks
from engine.importers.oncotree import OncoTreeIndex

ErrorSink = Callable[[dict], None]

# RefSeq chromosome accessions: NC_0000NN.V -> chromosome and assembly (versions of GRCh37 / GRCh38)
_REFSEQ_37 = {1: 10, 2: 11, 3: 11, 4: 11, 5: 9, 6: 11, 7: 13, 8: 10, 9: 11, 10: 10, 11: 9, 12: 11, 13: 10, 14: 8,
              15: 9, 16: 9, 17: 10, 18: 9, 19: 9, 20: 10, 21: 8, 22: 10, 23: 10, 24: 9}
_REFSEQ_38 = {1: 11, 2: 12, 3: 12, 4: 12, 5: 10, 6: 12, 7: 14, 8: 11, 9: 12, 10: 11, 11: 10, 12: 12, 13: 11, 14: 9,
              15: 10, 16: 10, 17: 11, 18: 10, 19: 10, 20: 11, 21: 9, 22: 11, 23: 11, 24: 10}
_NC = re.compile(r"^(?:refseq:)?NC_0*(\d+)\.(\d+)$", re.I)
_G_HGVS = re.compile(r"^(?:refseq:)?(NC_\d+\.\d+):g\.(\d+)([ACGT])>([ACGT])$", re.I)
_P_IN_TEXT = re.compile(r"\((p\.[A-Za-z0-9_*=?]+)\)")
_HGNC_ID = re.compile(r"^\s*(?:hgnc\s*:\s*)?(\d{1,7})\s*$", re.I)




def paths_of(paths) -> list[Path]:
    """The documents a reader's ``run`` is given: a list of paths or texts, or one of them."""
    if isinstance(paths, (str, Path)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def hgnc_id(system: str, code: str) -> str | None:
    """``HGNC:6407`` for a coding of the HGNC system (``http://www.genenames.org/geneId``, code
    ``HGNC:6407`` or ``6407``) or a CURIE ``HGNC:6407``; None for anything else."""
    code = str(code or "")
    sysl = str(system or "").lower()
    if not ("genenames" in sysl or "hgnc" in sysl or code.strip().upper().startswith("HGNC:")):
        return None
    m = _HGNC_ID.match(code)
    return f"HGNC:{int(m.group(1))}" if m else None


def refseq_chromosome(accession: str) -> tuple[str, str] | None:
    """``NC_000012.11`` -> ("12", "GRCh37"); None for an accession of another assembly or kind."""
    m = _NC.match(accession.strip())
    if not m:
        return None
    n, v = int(m.group(1)), int(m.group(2))
    chrom = {23: "X", 24: "Y"}.get(n, str(n))
    if _REFSEQ_37.get(n) == v:
        return chrom, "GRCh37"
    if _REFSEQ_38.get(n) == v:
        return chrom, "GRCh38"
    return None


@dataclass
class DocSummary:
    """Counts for the stderr summary: every element of every document once."""

    files: int = 0
    documents: int = 0
    cases: int = 0
    elements: int = 0
    used: Counter = field(default_factory=Counter)  # element kind -> used
    skipped: Counter = field(default_factory=Counter)  # reason -> elements
    errors: Counter = field(default_factory=Counter)  # kind -> error records
    alterations: int = 0
    cancer_sources: Counter = field(default_factory=Counter)
    unmapped: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    remarks: Counter = field(default_factory=Counter)  # a choice made or a thing left unknown -> cases
    remark_examples: dict[str, list[str]] = field(default_factory=dict)

    # the names the row importers' summary uses, so that callers can treat both alike
    @property
    def rows(self) -> int:
        return self.elements

    def lines(self, source: str) -> list[str]:
        rate = self.elements / self.seconds if self.seconds > 0 else 0.0
        out = [f"{source}: {self.files} files, {self.documents} documents, {self.elements} elements in "
               f"{self.seconds:.2f} s ({rate:,.0f} elements/s)"]
        out.append(f"cases written: {self.cases}")
        if self.cancer_sources:
            out.append("cancer type from: " + ", ".join(f"{k} {v}" for k, v in self.cancer_sources.most_common()))
        out.append(f"alterations written: {self.alterations}")
        out.append("elements used: " + (", ".join(f"{k} {v}" for k, v in sorted(self.used.items())) or "none"))
        out.append(f"elements skipped: {sum(self.skipped.values())}")
        for reason, n in self.skipped.most_common():
            out.append(f"  {reason}: {n}")
        nerr = sum(self.errors.values())
        out.append(f"error records: {nerr}" + (" (" + ", ".join(f"{k} {v}" for k, v in self.errors.most_common()) + ")" if nerr else ""))
        for k, v in self.unmapped.most_common(10):
            out.append(f"value not in --map, field left unknown: {k} ({v} documents)")
        for msg, n in self.remarks.most_common():
            ex = self.remark_examples.get(msg) or []
            out.append(f"{msg}: {n} case{'s' if n != 1 else ''}" + (f" (e.g. {'; '.join(ex)})" if ex else ""))
        out.extend(self.notes)
        return out


@dataclass
class CaseDraft:
    id: str
    source: str
    cancer: str | None = None
    cancer_from: str = ""
    cancer_tried: list[str] = field(default_factory=list)
    stage: str | None = None
    alts: dict[tuple, dict] = field(default_factory=dict)
    unresolved: set[str] = field(default_factory=set)
    tested: set[str] | None = None
    lines: list[dict] | None = None  # None: nothing said about treatment
    line_keys: dict[Any, int] = field(default_factory=dict)
    unknown_history: bool = False  # a treatment was given that cannot be read: history unknown
    values: dict[str, str] = field(default_factory=dict)  # texts --map can map (see MAP_FIELDS)
    primaries: list[tuple[str, str, str]] = field(default_factory=list)  # (OncoTree code, as written, path)
    cancer_conflict: tuple[str, str] | None = None  # (message, path): two primary cancers, none chosen


class DocumentReader:
    """Vocabulary look-ups, counting and error records for document readers."""

    coding: CodingExons | None = None  # the transcripts' coding exons, set by make_document_reader

    def __init__(self, vocab: Any, table: hs.HotspotTable, oncotree: OncoTreeIndex, *, assay: str = "none",
                 panel_genes: frozenset[str] | None = None, cancer_type: str | None = None,
                 assembly: str | None = None, errors: ErrorSink | None = None):
        self.vocab = vocab
        self.table = table
        self.oncotree = oncotree
        self.assay = assay
        self.panel_genes = panel_genes
        self.cancer_fallback = cancer_type
        self.assembly = assembly
        self.summary = DocSummary()
        self.field_map: Any = None  # a clinical.FieldMap over the document's MAP_FIELDS
        self._sink = errors or (lambda rec: None)
        self._t0 = time.perf_counter()
        self._revoked: Counter = Counter()

    # ------------------------------------------------------------------ counting

    def used(self, kind: str) -> None:
        self.summary.elements += 1
        self.summary.used[kind] += 1

    def skip(self, reason: str) -> None:
        self.summary.elements += 1
        self.summary.skipped[reason] += 1

    def error(self, kind: str, message: str, source: str, path: str, *, count: bool = True, **extra: Any) -> None:
        """One error record; ``count``: the element is counted here (as skipped: error record)."""
        self.summary.errors[kind] += 1
        if count:
            self.skip("error record")
        err: dict[str, Any] = {"kind": kind, "message": message, "field": path}
        for k in ("value", "suggestion"):
            if k in extra:
                err[k] = extra.pop(k)
        rec: dict[str, Any] = {"error": err, "source": source}
        rec.update({k: v for k, v in extra.items() if v is not None})
        self._sink(rec)

    def remark(self, message: str, case_id: str, example: str | None = None) -> None:
        """A summary line counting the cases where the reader made a choice or left a field unknown."""
        self.summary.remarks[message] += 1
        ex = self.summary.remark_examples.setdefault(message, [])
        if len(ex) < 3:
            ex.append(clean(case_id, 60) + (f": {quote(example, 60)}" if example is not None else ""))

    @contextlib.contextmanager
    def one_document(self, source: str, path: str) -> Iterator[None]:
        """The safety boundary of one document: whatever reading it raises (a bug, not a bad
        document: those are error records already) becomes one error record naming the document,
        and the next document is read. A usage error still ends the run."""
        try:
            yield
        except UsageError:
            raise
        except Exception as exc:
            self.error("document", f"internal error (a bug, please report it): {type(exc).__name__}: "
                       f"{clean(str(exc), 200)}", source, path)

    # ------------------------------------------------------------------ cancer type

    def cancer_from_coding(self, system: str, code: str, text: str) -> tuple[str | None, str]:
        """``(OncoTree code, where)`` from one coded or named diagnosis, or ``(None, why not)``."""
        shown = f"{system + '|' if system else ''}{code}" + (f" ({text})" if text else "")
        sysl = (system or "").lower()
        code = (code or "").strip()
        if ":" in code and not sysl:
            prefix, rest = code.split(":", 1)
            sysl, code = prefix.lower(), rest
        if "oncotree" in sysl and code:
            hit = self._cancer_text(code)
            if hit:
                return hit, "OncoTree code"
        if ("ncit" in sysl or "nci" in sysl or "thesaurus" in sysl) and code:
            hit = self.oncotree.from_ncit(code)
            if hit:
                return hit, "NCIt via OncoTree"
        if "umls" in sysl and code:
            hit = self.oncotree.from_umls(code)
            if hit:
                return hit, "UMLS via OncoTree"
        if text:
            hit = self._cancer_text(text)
            if hit:
                return hit, "name"
        return None, f"'{shown}' is not an OncoTree code, an NCIt concept the OncoTree file maps, or a cancer type name"

    def _cancer_text(self, text: str) -> str | None:
        try:
            return self.vocab.cancer(text).code
        except TermError:
            new = self.oncotree.revoked.get(text.strip().upper())
            if new is None:
                return None
            try:
                code = self.vocab.cancer(new).code
            except TermError:
                return None
            self._revoked[(text.strip().upper(), code)] += 1
            return code

    def add_primary(self, d: CaseDraft, code: str, shown: str, path: str) -> None:
        """One diagnosis that names a cancer type (the first sets the case's type until
        :meth:`settle_primaries` decides between distinct ones)."""
        d.primaries.append((code, shown, path))

    def lineage(self, code: str) -> tuple[str, ...]:
        try:
            return tuple(self.vocab.cancer_code(code).lineage)
        except TermError:
            return (code,)

    def related(self, a: str, b: str) -> bool:
        """One cancer type is the other or a finer/coarser type of it (LUAD and NSCLC): one cancer."""
        return a in self.lineage(b) or b in self.lineage(a)

    def distinct_primaries(self, d: CaseDraft) -> list[tuple[str, str, str]]:
        """The diagnoses naming distinct cancers, each as its most specific diagnosis."""
        out: list[tuple[str, str, str]] = []
        for p in d.primaries:
            for i, o in enumerate(out):
                if self.related(p[0], o[0]):
                    if len(self.lineage(p[0])) > len(self.lineage(o[0])):
                        out[i] = p
                    break
            else:
                out.append(p)
        return out

    def settle_primaries(self, d: CaseDraft, attributed: set[str] | None, how: str, hint: str,
                         where: str) -> str | None:
        """Set the case's cancer type from its diagnoses. Two distinct primary cancers: the one the
        genomic findings are ``attributed`` to (``how``: what says so), else the one ``--cancer-type``
        names, else none (``d.cancer_conflict``, an error record naming both; ``hint``: what the format
        would use to say it). The chosen code when there was a choice to make, else None."""
        cands = self.distinct_primaries(d)
        if not cands:
            return None
        if len(cands) == 1:
            if d.cancer is None:
                d.cancer, d.cancer_from = cands[0][0], where
            return None
        listed = " and ".join(f"{quote(shown)} = {code} ({path})" for code, shown, path in cands)
        chosen: tuple[str, str, str] | None = None
        if attributed:
            hits = {c for c in cands for a in attributed if self.related(a, c[0])}
            if len(hits) == 1 and all(any(self.related(a, c[0]) for c in cands) for a in attributed):
                chosen = hits.pop()
                self.remark(f"two primary cancers in one document: read as the one the genomic findings belong "
                            f"to ({how})", d.id, f"{chosen[0]} of " + ", ".join(c[0] for c in cands))
        if chosen is None and self.cancer_fallback is not None:
            fb = [c for c in cands if self.related(self.cancer_fallback, c[0])]
            if len(fb) == 1:
                chosen = fb[0]
                self.remark("two primary cancers in one document: read as the one --cancer-type names", d.id,
                            f"{chosen[0]} of " + ", ".join(c[0] for c in cands))
        if chosen is None:
            d.cancer = None
            d.cancer_conflict = (
                f"two primary cancers in '{clean(d.id, 80)}': {listed}; the document does not say which one the "
                f"genomic findings belong to ({hint}); give --cancer-type with the one meant, or one document "
                f"per cancer", cands[1][2])
            return None
        d.cancer, d.cancer_from = chosen[0], where
        return chosen[0]

    def revoked_note(self) -> None:
        if self._revoked:
            self.summary.notes.append("revoked OncoTree codes read as their replacement: " + ", ".join(
                f"{o} -> {n} ({self.oncotree.names.get(n, n)}) {k}" for (o, n), k in self._revoked.most_common()))

    # ------------------------------------------------------------------ variants

    def gene(self, text: str) -> str | None:
        return self.vocab.find_gene(text) if text and text.strip() else None

    def learn_hgnc_in(self, ids: dict[str, str | None], value: Any,
                      pair: Callable[[dict], tuple[str, str, str] | None]) -> None:
        """Every (system, id, symbol) that ``pair`` finds in a mapping anywhere in ``value`` (a whole
        document, walked), learned into ``ids`` (see :meth:`learn_hgnc`)."""
        stack = [value]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                hit = pair(v)
                if hit is not None:
                    self.learn_hgnc(ids, *hit)
                stack.extend(x for x in v.values() if isinstance(x, dict | list))
            elif isinstance(v, list):
                stack.extend(v)

    def learn_hgnc(self, ids: dict[str, str | None], system: str, code: str, symbol: str) -> None:
        """Note an HGNC id the document itself pairs with a symbol the vocabulary knows (an id the
        document pairs with two genes is not used)."""
        hid = hgnc_id(system, code)
        gene = self.gene(symbol) if hid else None
        if hid and gene:
            ids[hid] = gene if ids.get(hid, gene) == gene else None

    def gene_by_id(self, hid: str, ids: dict[str, str | None]) -> str | None:
        """The gene of an HGNC id: from the vocabulary (were it to list HGNC ids among a gene's names),
        else from the same document, where another element gives the id with its symbol."""
        return self.gene(hid) or ids.get(hid)

    def misspelt(self, d: CaseDraft, symbols: list[str], path: str) -> bool:
        """Whether one of the gene names ``symbols`` (none of them a known gene) has a character no
        gene symbol has (see :func:`engine.importers.importer.misspelt_gene`): then an error record,
        and the gene it probably stands for is unknown in the case, never wild-type."""
        from engine.importers.importer import misspelt_gene

        for symbol in symbols:
            if symbol and not symbol.isascii():
                guess, message = misspelt_gene(self.vocab, symbol)
                if guess is None:
                    self.error("gene", message, d.source, path, value=symbol, sample=d.id)
                else:
                    self.error("gene", message, d.source, path, value=symbol, sample=d.id, suggestion=guess, gene=guess)
                    d.unresolved.add(guess)
                return True
        return False

    def hgnc_error(self, d: CaseDraft, hids: list[str], path: str, what: str, *, count: bool = True) -> None:
        """An error record for genes coded only by HGNC ids that cannot be resolved."""
        shown = ", ".join(hids[:10]) + (f", ... ({len(hids)} ids)" if len(hids) > 10 else "")
        self.error("gene", f"{what} coded only by HGNC id ({shown}), with no symbol: the vocabulary does not list "
                   "HGNC ids and the document pairs none of these with a symbol, so the gene is not known; give the "
                   "HGNC symbol as well (the coding's display, the gene descriptor's symbol)", d.source, path,
                   count=count, value=hids[0] if len(hids) == 1 else shown, sample=d.id)

    def add_variant(self, d: CaseDraft, gene: str, text: str, path: str, origin: str = "somatic", **extra: Any) -> bool:
        try:
            var = self.vocab.variant(gene, text)
        except TermError as exc:
            p = exc.problems[0]
            self.error("variant", p.message, d.source, path, value=text, suggestion=p.suggestion, sample=d.id, gene=gene)
            d.unresolved.add(gene)
            return False
        key = (gene, var.label, origin, extra.get("partner"))
        if key not in d.alts:
            alt = {"gene": gene, "variant": text}
            if origin != "somatic":
                alt["origin"] = origin
            alt.update({k: v for k, v in extra.items() if v is not None})
            d.alts[key] = alt
        return True

    def decode(self, assembly: str | None, chrom: str, pos: int, ref: str | None, alt: str) -> tuple[str | None, hs.Decoded | None]:
        """Genomic coordinates through the hotspot table: ``(gene at the position, decoded)``."""
        asm = self.table.assembly(assembly) if assembly else self.assembly
        if asm is None:
            return None, None
        span = max(len(ref or alt), 1)
        beyond = self.table.past_end(asm, chrom, pos + span - 1)
        if beyond:  # what it called is unknown: the genes read from that chromosome stay so (settle_decoded)
            on = self.table.genes_on(chrom) | (self.coding.genes_on(chrom) if self.coding is not None else set())
            return None, hs.Decoded(hs.PAST_END, gene=",".join(sorted(on)) or None,
                                    detail=f"position {pos:,} is {beyond}: a wrong position or assembly?")
        gene = self.table.gene_at(asm, chrom, pos, pos + span - 1)
        coding = self.coding
        if gene is None and coding is not None:
            gene = coding.gene_at(asm, chrom, pos, pos + span - 1)
            if gene is None or ref is None:
                return gene, None
            return gene, coding.decode(asm, chrom, pos, ref, alt)
        if gene is None:
            return None, None
        if ref is None:
            ref = self.table.reference_at(asm, chrom, pos, len(alt))
            if ref is None:
                return gene, hs.Decoded(hs.AMBIGUOUS, gene=gene, detail="the reference allele is not given")
        return gene, self.table.decode(asm, chrom, pos, ref, alt)

    def settle_decoded(self, d, gene: str | None, dec: hs.Decoded | None, path: str, origin: str, add) -> bool:
        """Act on a call decoded from coordinates: add it (through ``add``), skip a synonymous change
        or report a mismatch (the gene then stays unresolved). False when coordinates decide nothing.
        A position past its chromosome's end is an error: the gene named stays unresolved, else
        every gene read from that chromosome (hotspots, coding exons: ``dec.gene`` lists them)."""
        if dec is not None and dec.kind == hs.PAST_END:
            self.error("coordinates", dec.detail, d.source, path, sample=d.id, gene=gene)
            if gene:
                d.unresolved.add(gene)
            elif dec.gene:
                d.unresolved.update(dec.gene.split(","))
            return True
        if dec is None or gene is None:
            return False
        if dec.kind == hs.DECODED and dec.gene == gene:
            add(d, gene, dec.protein or "", f"{path} (coordinates)", origin)
            return True
        if dec.kind == hs.SYNONYMOUS:
            self.skip("synonymous change at a hotspot codon")
            return True
        if dec.kind in (hs.MISMATCH, hs.AMBIGUOUS):
            self.error("coordinates", dec.detail, d.source, path, sample=d.id, gene=gene)
            d.unresolved.add(gene)
            return True
        return False

    def genomic_hgvs(self, text: str) -> tuple[str, str, int, str, str] | None:
        """``NC_000012.11:g.25398285C>A`` -> (assembly, chromosome, position, ref, alt)."""
        m = _G_HGVS.match(text.strip())
        if not m:
            return None
        where = refseq_chromosome(m.group(1))
        if where is None:
            return None
        return where[1], where[0], int(m.group(2)), m.group(3).upper(), m.group(4).upper()

    @staticmethod
    def protein_in_label(text: str) -> str | None:
        m = _P_IN_TEXT.search(text or "")
        return m.group(1) if m else None

    # ------------------------------------------------------------------ therapy

    def drugs(self, text: str) -> tuple[str, ...] | None:
        try:
            return self.vocab.therapy_word(text)
        except TermError:
            return None

    def add_line(self, d: CaseDraft, key: Any, words: list[str], *, regimen: str | None = None, setting: str | None = None,
                 outcome: str | None = None, start: dt.date | None = None, end: dt.date | None = None,
                 order: dt.date | None = None) -> None:
        """Add drugs to the line ``key`` (treatments started together are one line); ``key`` None: a line
        of its own, which nothing in the document groups with another (said in the summary when a case
        has several such lines)."""
        if d.lines is None:
            d.lines = []
        i = d.line_keys.get(key) if key is not None else None
        if i is None:
            d.line_keys[key if key is not None else object()] = len(d.lines)
            d.lines.append({"_start": start, "_end": end, "_order": order,
                            "_alone": key is None and start is None and order is None})
            i = len(d.lines) - 1
        line = d.lines[i]
        if regimen:
            line["regimen"] = regimen
        if words:
            line.setdefault("drugs", [])
            for w in words:
                if w not in line["drugs"]:
                    line["drugs"].append(w)
        if setting and "setting" not in line:
            line["setting"] = setting
        if outcome:
            line["outcome"] = outcome
        if end is not None and (line["_end"] is None or end > line["_end"]):
            line["_end"] = end
        if start is not None and (line["_start"] is None or start < line["_start"]):
            line["_start"] = start
        if order is not None and (line["_order"] is None or order < line["_order"]):
            line["_order"] = order  # a month or year only: for the order of the lines, never for weeks

    def period_end(self, d: CaseDraft, start: dt.date | None, end: dt.date | None, path: str) -> dt.date | None:
        """The end of one treatment period from ``start`` to ``end``, or None where the weeks between
        them cannot be a case's: an end before the start, or more weeks than the case format allows
        (:data:`MAX_WEEKS`: 1900 to 2026 is a date typed wrong, not 6,574 weeks of a drug). An error
        record names the field (``path``); the treatment is still read, its weeks left unknown."""
        if start is None or end is None:
            return end
        weeks = round((end - start).days / 7, 1)
        if 0 <= weeks <= MAX_WEEKS:
            return end
        why = (f"ends ({end}) before it starts ({start})" if weeks < 0
               else f"lasts {weeks:,} weeks, more than the {MAX_WEEKS:g} a line's weeks may be in a case")
        self.error("therapy", f"the treatment period {why}: a date is probably wrong; the treatment is read without "
                   "its weeks (unknown)", d.source, path, count=False, value=f"{start} to {end}", sample=d.id)
        return None

    def outcome(self, d: CaseDraft, text: str) -> str | None:
        """The outcome a text states (:func:`read_outcome`); a negated or unclear one is left unknown,
        and the summary says so."""
        got, unclear = read_outcome(text)
        if unclear:
            self.remark("outcome text negated or not understood, outcome left unknown", d.id, text)
        return got

    def mark_history_known(self, d: CaseDraft) -> None:
        if d.lines is None:
            d.lines = []

    # ------------------------------------------------------------------ the case

    def finish(self, d: CaseDraft) -> dict | None:
        s = self.summary
        if d.unknown_history:
            d.lines = None
        if d.cancer_conflict is not None:
            self.error("cancer_type", d.cancer_conflict[0], d.source, d.cancer_conflict[1], count=False, sample=d.id,
                       value=", ".join(c[0] for c in self.distinct_primaries(d)))
            return None
        ct, where = d.cancer, d.cancer_from
        if ct is None and self.cancer_fallback is not None:
            ct, where = self.cancer_fallback, "--cancer-type"
        if ct is None:
            why = "; ".join(d.cancer_tried) if d.cancer_tried else "no diagnosis in the document"
            self.error("cancer_type", f"no cancer type for '{d.id}' ({why}); give --cancer-type", d.source, "diseases",
                       count=False, sample=d.id)
            return None
        s.cancer_sources[where] += 1
        mapped: dict[str, Any] = {}
        if self.field_map is not None:
            mapped, unmapped, conflicts = self.field_map.apply(d.values)
            for u in unmapped:
                s.unmapped[u] += 1
            for c in conflicts:
                self.error("map", c, d.source, "--map", count=False, sample=d.id)
            if d.stage is None and "stage" in mapped:
                d.stage = mapped["stage"]
        case: dict[str, Any] = {"id": d.id, "cancer_type": ct}
        if d.stage:
            case["stage"] = d.stage
        alts = list(d.alts.values())
        alts += unread_marks(self.vocab, alts, d.unresolved)
        alts.sort(key=lambda a: (a["gene"], a["variant"], a.get("origin", "")))
        case["alterations"] = alts
        s.alterations += len(alts)
        tested: set[str] | None = d.tested
        if tested is None:
            if self.assay == "exome":
                tested = set(self.vocab.genes)
            elif self.assay == "panel" and self.panel_genes is not None:
                tested = set(self.panel_genes)
        if tested is not None:
            case["tested_genes"] = sorted(g for g in tested if g not in d.unresolved)
        if d.lines is not None:
            case["prior_therapies"] = self.ordered_lines(d)
        elif "prior_therapies" in mapped and not d.unknown_history:
            case["prior_therapies"] = mapped["prior_therapies"]
        for k in ("germline_tested", "multiagent_candidate", "tested_after_prior_therapy"):
            if k in mapped:
                case[k] = mapped[k]
        s.cases += 1
        return case

    def ordered_lines(self, d: CaseDraft) -> list[dict]:
        """The lines oldest first: dated lines by start date; an undated line keeps its place in the
        document (its slot), so undated lines keep their order among themselves."""
        kept: list[tuple[dt.date | None, dict]] = []
        alone = 0
        for line in d.lines or []:
            start, end, rough = line.pop("_start"), line.pop("_end"), line.pop("_order", None)
            alone += bool(line.pop("_alone", False))
            if not line.get("drugs") and not line.get("regimen"):
                continue
            if start is not None and end is not None:
                weeks = round((end - start).days / 7, 1)
                if 0 <= weeks <= MAX_WEEKS:
                    line["weeks"] = weeks
                else:  # (each resource's own period was checked: this is one line's several resources together)
                    self.remark("a line's resources together span no weeks a case can hold (an end before the start, "
                                f"or more than {MAX_WEEKS:g} weeks): its weeks left unknown", d.id, f"{start} to {end}")
            kept.append((start if start is not None else rough, line))
        dated = [i for i, (start, _) in enumerate(kept) if start is not None]
        by_date = sorted(dated, key=lambda i: kept[i][0])  # type: ignore[arg-type,return-value]  # dated: not None
        order = list(range(len(kept)))
        for slot, i in zip(dated, by_date, strict=True):
            order[slot] = i
        if order != list(range(len(kept))):
            self.remark("prior therapy lines put in the order of their start dates (the document lists them "
                        "otherwise)", d.id)
        if dated and len(dated) < len(kept):
            self.remark("dated and undated prior therapy lines mixed: undated lines keep their place in the "
                        "document, so their order relative to the dated lines is not certain", d.id)
        if alone > 1:
            self.remark("treatments without dates or anything grouping them, each read as a line of its own "
                        "(a regimen given this way counts as several lines; give its dates)", d.id)
        return [kept[i][1] for i in order]

    def done(self) -> None:
        self.revoked_note()
        self.summary.seconds = time.perf_counter() - self._t0


def parse_date(text: str | None, *, partial: bool = False) -> dt.date | None:
    """A full date (``2024-07-15``, or the date of a timestamp); with ``partial``, also a month or a
    year (``2024-07``, ``2024``: FHIR allows both) as its first day, which is good enough to order
    lines by and must never be used to count weeks."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        pass
    if partial:
        m = re.fullmatch(r"\s*(\d{4})(?:-(\d{2}))?\s*", str(text))
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2) or 1), 1)
            except ValueError:
                return None
    return None


SETTING_WORDS = (("neoadjuvant", "neoadjuvant"), ("adjuvant", "adjuvant"), ("maintenance", "maintenance"),
                 ("metasta", "metastatic"))


# outcome words (see OUTCOME_WORDS), each match a word or the start of one
_OUTCOME = re.compile(r"(?P<pre>\b(?:non|un)[- ]?|\b)(?P<word>progress\w*|complete response|partial response|"
                      r"respon(?:se|ses|ded|ding|sive)\b|stable|stabili[sz]\w*|toxicit\w*|adverse|intoleran\w*)")
#: outcome word prefixes and what they say, most decisive first
OUTCOME_WORDS = (("progress", "progression"), ("complete response", "response"), ("partial response", "response"),
                 ("respon", "response"), ("stabil", "stable"), ("stable", "stable"), ("toxicit", "intolerance"),
                 ("adverse", "intolerance"), ("intoleran", "intolerance"))
# a negation before the word in its clause, or right after it ("progression-free", "progression: none")
_NEG_BEFORE = re.compile(r"\b(?:no|not|without|never|none|nor|neither|absence of|absent|free of|negative for|"
                         r"lack of|lacking|denie[sd]|ruled out|rule out|excluded?)\b|n['’]t\b")
_NEG_AFTER = re.compile(r"^[\s:=-]*(?:free\b|(?:was|is|has|have|were|had been|has been)?\s*"
                        r"(?:not|no|none|absent|negative|ruled out|excluded)\b)")
_CLAUSE = re.compile(r"[,;.!?()\[\]/]|\b(?:but|and|then|with|however|after|followed by|although|though|while|"
                     r"whereas|until)\b")


def read_outcome(text: str) -> tuple[str | None, bool]:
    """``(outcome, unclear)`` from free text: each outcome word is read with its negation ("no evidence
    of disease progression", "not progressed", "without progression", "progression-free" are *not*
    progression). The most decisive outcome stated positively wins ("stable disease, no progression":
    stable); a text whose outcome words are all negated (or both said and negated) gives no outcome,
    ``unclear`` True: the case format has no value for "not progression", and a guess could be the
    opposite of what was meant. No outcome word: ``(None, False)``."""
    t = (text or "").lower()
    said: set[str] = set()
    negated: set[str] = set()
    start = 0
    for clause_end in [m.start() for m in _CLAUSE.finditer(t)] + [len(t)]:
        clause = t[start:clause_end]
        for m in _OUTCOME.finditer(clause):
            word = m.group("word")
            outcome = next(o for w, o in OUTCOME_WORDS if word.startswith(w))
            neg = bool(m.group("pre")) or bool(_NEG_BEFORE.search(clause[:m.start()])) or bool(
                _NEG_AFTER.match(clause[m.end():]))
            (negated if neg else said).add(outcome)
        start = clause_end + 1
    if not said and not negated:
        return None, False
    for outcome in dict.fromkeys(o for _, o in OUTCOME_WORDS):  # most decisive first
        if outcome in said and outcome not in negated:
            return outcome, False
    return None, True


def setting_of(text: str) -> str | None:
    t = (text or "").lower()
    for word, setting in SETTING_WORDS:
        if word in t:
            return setting
    return None


def stage_of(text: str) -> str | None:
    """Only what is definitional: stage IV (or M1) is metastatic disease. Anything else stays unknown."""
    t = (text or "").strip().lower()
    if re.search(r"\bstage\s*iv[abc]?\b", t) or t in ("iv", "iva", "ivb", "ivc", "4") or re.search(r"\b[cp]?m1[abc]?\b", t):
        return "metastatic"
    return None
