"""VCF (plain or bgzipped; one, several or no sample columns; GRCh37 or GRCh38) -> cases.

Records are parsed by `vcfpy` one line at a time, so that a malformed line becomes an error record
with its line number and the rest of the file is still read. Each sample column is one case (a
``##normal_sample=`` header names a column that is not a tumour: it is left out; a
``##tumor_sample=`` header keeps only that column); a VCF without sample columns is one case named
after the file. Without a ``##normal_sample=`` header, a column with the conventional name of a
matched normal (``NORMAL``, as Strelka, VarScan and SomaticSniper write it) among several is the
normal, and the summary says so.

Origin: a call the matched normal also carries (its genotype holds the allele) is ``germline``; a
normal without a genotype (Strelka) defers to the INFO ``SOMATIC`` flag where the header declares
it (a record without the flag is germline); where the normal cannot tell (a no-call, no genotype
and no flag) the call is written as somatic and counted in the summary.

What a record means, per alternative allele and sample that carries it (a *call*):

- annotated VCFs (Ensembl VEP ``CSQ`` or SnpEff ``ANN`` in INFO): the gene symbol, the consequence
  (mapped to the MAF ``Variant_Classification`` the README lists, most severe term first) and the
  protein change (``HGVSp`` / ``HGVS.p``) of the entry on the gene's reference transcript (the
  vocabulary's ``protein_reference.yaml`` / cDNA hotspot transcripts), else the entry VEP picked
  (``PICK``), else the canonical transcript, else the first entry of the gene. A counted consequence
  without a protein change is read from the coordinates through the hotspot table, like a MAF row; a
  protein change at a position the table decodes is checked against it, as for a MAF row (see
  :meth:`~engine.importers.importer.Importer._check_protein`);
- VCFs without annotation: only the coordinates, through the hotspot table and the coding exons. A
  record they do not decode makes every gene whose locus (``gene_loci.yaml``) holds it unknown; a
  record outside every known locus may lie in any other gene, so such a sample's ``tested_genes`` is
  limited to the genes whose locus is known, and the summary says why.

Clinical significance: a germline call's ClinVar significance (``ClinVar_CLNSIG`` of VEP's
``--custom`` annotation, else the INFO ``CLNSIG`` of a record with one alternative allele) is its
``classification`` (:func:`clinical_significance`); VEP's own ``CLIN_SIG`` (known variants at the
position, of any allele) is not read.

A call whose genotype does not carry the allele (``0/0``) is not an alteration; a record whose FILTER
is not ``PASS`` is not one either, but its gene's status becomes unknown for the samples that carry it.
"""
from __future__ import annotations

import io
import re
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

from engine.case import Classification
from engine.errors import UsageError, clean, quote
from engine.importers import hotspots as hs
from engine.importers.calls import CallImporter, ExtrasMixin, needs
from engine.importers.importer import R_GENE, R_INDEL, R_NOPROT, R_SYN, _Sample
from engine.importers.maf import SKIP, classify, clean_protein
from engine.importers.tabular import MAX_POSITION, DamagedFile, iter_lines, position

R_NOT_CARRIED = "genotype does not carry the allele"
R_NO_CALL = "no genotype call for this sample"
R_FILTER = "FILTER not PASS (gene status unknown)"
R_UNLOCATED = "no annotation and no assembly (gene unknown)"
R_IN_LOCUS = "no annotation, not decoded, inside a gene with a known locus (that gene's status unknown)"
R_NO_LOCUS = "no annotation, not decoded, outside every gene with a known locus"
R_REF_ONLY = "no alternative allele"

#: ClinVar clinical significance terms (``CLNSIG``; lower case, ``_`` between words) that are a
#: ``classification`` of the case format, spelt the same; the other terms (drug response, risk
#: factor, not provided, ...) say nothing of pathogenicity and are passed over
SIGNIFICANCE = frozenset(get_args(Classification))
#: the weaker of two classifications on one side (``Pathogenic/Likely_pathogenic`` is likely pathogenic)
_WEAKER = {frozenset({"pathogenic", "likely_pathogenic"}): "likely_pathogenic",
           frozenset({"benign", "likely_benign"}): "likely_benign"}
#: ClinVar's words for submitters that disagree
CONFLICTING = ("conflicting_interpretations_of_pathogenicity", "conflicting_classifications_of_pathogenicity",
               "conflicting_data_from_submitters")


def clinical_significance(text: str) -> tuple[str | None, str]:
    """The case's ``classification`` from a ClinVar significance (``Pathogenic/Likely_pathogenic``,
    ``Benign|drug_response``, VEP's ``pathogenic&likely_pathogenic``), and what became of it: None
    where it says nothing of pathogenicity, or where the terms disagree (conflicting submitters, a
    pathogenic and a benign term, uncertain beside either)."""
    terms = {t.strip().strip("_").lower().replace(" ", "_") for t in re.split(r"[/|&,;]", text)}
    terms.discard("")
    if terms & set(CONFLICTING):
        return None, "conflicting: left unclassified"
    tiers = terms & SIGNIFICANCE
    if not tiers:
        return None, "no pathogenicity term: left unclassified"
    if len(tiers) == 1:
        return tiers.pop(), ""
    weaker = _WEAKER.get(frozenset(tiers))
    if weaker is None:
        return None, "conflicting: left unclassified"
    return weaker, ""


#: sample column names callers give the matched normal when they write no ``##normal_sample=`` header
#: (Strelka, VarScan somatic, SomaticSniper, Manta: columns NORMAL and TUMOR), compared without case
NORMAL_COLUMNS = ("NORMAL",)

# Sequence Ontology consequence terms (VEP, SnpEff) -> the MAF classification they amount to,
# most severe first (the order vcf2maf uses).
SO_TERMS: tuple[tuple[str, str], ...] = (
    ("transcript_ablation", "Splice_Site"),
    ("exon_loss_variant", "In_Frame_Del"),
    ("splice_acceptor_variant", "Splice_Site"),
    ("splice_donor_variant", "Splice_Site"),
    ("stop_gained", "Nonsense_Mutation"),
    ("frameshift_variant", "Frame_Shift_Del"),
    ("stop_lost", "Nonstop_Mutation"),
    ("start_lost", "Translation_Start_Site"),
    ("initiator_codon_variant", "Translation_Start_Site"),
    ("inframe_insertion", "In_Frame_Ins"),
    ("disruptive_inframe_insertion", "In_Frame_Ins"),
    ("conservative_inframe_insertion", "In_Frame_Ins"),
    ("inframe_deletion", "In_Frame_Del"),
    ("disruptive_inframe_deletion", "In_Frame_Del"),
    ("conservative_inframe_deletion", "In_Frame_Del"),
    ("missense_variant", "Missense_Mutation"),
    ("protein_altering_variant", "Missense_Mutation"),
    ("coding_sequence_variant", "Missense_Mutation"),
    ("splice_region_variant", "Splice_Region"),
    ("splice_donor_5th_base_variant", "Splice_Region"),
    ("splice_donor_region_variant", "Splice_Region"),
    ("splice_polypyrimidine_tract_variant", "Splice_Region"),
    ("incomplete_terminal_codon_variant", "Silent"),
    ("start_retained_variant", "Silent"),
    ("stop_retained_variant", "Silent"),
    ("synonymous_variant", "Silent"),
    ("NMD_transcript_variant", "Silent"),
    ("transcript_amplification", "Intron"),
    ("feature_elongation", "Intron"),
    ("feature_truncation", "Intron"),
    ("mature_miRNA_variant", "RNA"),
    ("5_prime_UTR_variant", "5'UTR"),
    ("5_prime_UTR_premature_start_codon_gain_variant", "5'UTR"),
    ("3_prime_UTR_variant", "3'UTR"),
    ("non_coding_transcript_exon_variant", "RNA"),
    ("non_coding_exon_variant", "RNA"),
    ("non_coding_transcript_variant", "RNA"),
    ("nc_transcript_variant", "RNA"),
    ("intron_variant", "Intron"),
    ("upstream_gene_variant", "5'Flank"),
    ("downstream_gene_variant", "3'Flank"),
    ("TF_binding_site_variant", "IGR"),
    ("TFBS_ablation", "IGR"),
    ("TFBS_amplification", "IGR"),
    ("regulatory_region_variant", "IGR"),
    ("regulatory_region_ablation", "IGR"),
    ("regulatory_region_amplification", "IGR"),
    ("intergenic_variant", "IGR"),
    ("intergenic_region", "IGR"),
    ("sequence_feature", "Intron"),
)
_SEVERITY = {term: i for i, (term, _) in enumerate(SO_TERMS)}
_AS_MAF = dict(SO_TERMS)

# Field names of SnpEff's ANN (fixed by its specification).
ANN_FIELDS = (
    "Allele", "Annotation", "Annotation_Impact", "Gene_Name", "Gene_ID", "Feature_Type", "Feature_ID",
    "Transcript_BioType", "Rank", "HGVS.c", "HGVS.p", "cDNA.pos / cDNA.length", "CDS.pos / CDS.length",
    "AA.pos / AA.length", "Distance", "ERRORS / WARNINGS / INFO",
)

# chr1 length per assembly: how a header's ##contig lines say which assembly the file is on.
_CHR1_LENGTH = {249250621: "GRCh37", 248956422: "GRCh38"}


def classification_of(terms: str) -> tuple[str | None, str]:
    """The MAF classification of an ``&``-joined consequence, and the term it came from.

    ``(None, term)`` for a term this reader does not know (an error record)."""
    best: tuple[int, str] | None = None
    for t in terms.split("&"):
        t = t.strip()
        if not t:
            continue
        if t not in _SEVERITY:
            return None, t
        if best is None or _SEVERITY[t] < best[0]:
            best = (_SEVERITY[t], t)
    if best is None:
        return None, terms
    return _AS_MAF[best[1]], best[1]


class _Annotation:
    """How to read the CSQ or ANN INFO field of this file."""

    def __init__(self, key: str, fields: list[str]):
        self.key = key
        self.fields = fields
        ix = {f: i for i, f in enumerate(fields)}
        vep = key == "CSQ"
        self.i_allele = ix.get("Allele")
        i_gene = ix.get("SYMBOL" if vep else "Gene_Name")
        i_cons = ix.get("Consequence" if vep else "Annotation")
        self.i_hgvsp = ix.get("HGVSp" if vep else "HGVS.p")
        self.i_pick = ix.get("PICK")
        self.i_canonical = ix.get("CANONICAL")
        self.i_allele_num = ix.get("ALLELE_NUM")
        self.i_feature = ix.get("Feature" if vep else "Feature_ID")  # the transcript of the entry
        # ClinVar's significance of this allele, as VEP's --custom annotation writes it (VEP's own
        # CLIN_SIG is not read: it describes known variants at the position, of any allele)
        self.i_clinvar = ix.get("ClinVar_CLNSIG", ix.get("CLNSIG"))
        if i_gene is None or i_cons is None:
            raise UsageError(f"the {key} INFO field names no gene symbol or consequence field ({'|'.join(fields)})")
        self.i_gene, self.i_cons = i_gene, i_cons


def _annotation(header: Any) -> _Annotation | None:
    for key in ("CSQ", "ANN"):
        if not header.has_header_line("INFO", key):
            continue
        try:
            line = header.get_info_field_info(key)
        except Exception:  # noqa: BLE001 - vcfpy raises a KeyError subclass, or returns a default
            line = None
        desc = getattr(line, "description", None) if line is not None else None
        if not desc or not header.has_header_line("INFO", key):
            continue
        if key == "ANN":
            return _Annotation(key, list(ANN_FIELDS))
        text = desc.split("Format:", 1)[1] if "Format:" in desc else desc
        return _Annotation(key, [f.strip() for f in text.strip().strip('"').split("|")])
    return None


def _vep_allele(ref: str, alt: str, alts: list[str]) -> str:
    """The allele as VEP writes it: a first base shared by the reference and every allele is dropped."""
    if all(a and ref and a[0] == ref[0] for a in alts) and (len(ref) > 1 or any(len(a) > 1 for a in alts)):
        return alt[1:] or "-"
    return alt


def _header_assembly(lines: list[str], table: hs.HotspotTable) -> str | None:
    for line in lines:
        low = line.lower()
        if low.startswith(("##reference=", "##assembly=", "##genome=")):
            for word in ("grch38", "hg38", "grch37", "hg19", "b37"):
                if word in low:
                    return table.assembly(word) or ("GRCh37" if word == "b37" else None)
        if low.startswith("##contig=") and "assembly=" in low:
            val = low.split("assembly=", 1)[1].split(",")[0].split(">")[0].strip('"')
            hit = table.assembly(val)
            if hit:
                return hit
        if low.startswith("##contig=<id=1,") or low.startswith("##contig=<id=chr1,"):
            if "length=" in low:
                try:
                    n = int(low.split("length=", 1)[1].split(",")[0].split(">")[0])
                except ValueError:
                    continue
                if n in _CHR1_LENGTH:
                    return _CHR1_LENGTH[n]
    return None


def _contig_lengths(lines: list[str]) -> dict[str, int]:
    """The lengths the header's ``##contig=<ID=...,length=...>`` lines declare, by chromosome name
    (``chr`` dropped); a line without a readable length declares none."""
    out: dict[str, int] = {}
    for line in lines:
        m = _CONTIG.match(line)
        if m is not None:
            n = position(m.group(2))
            if n is not None:
                out[hs._chrom(m.group(1))] = n
    return out


_CONTIG = re.compile(r"^##contig=<ID=([^,>]+),(?:[^>]*,)?length=([0-9]+)[,>]", re.I)


class VcfImporter(ExtrasMixin, CallImporter):
    """Reads one VCF; see the module docstring."""

    rules_vocabulary: Path | None = None  # where gene_loci.yaml is (default: the shipped rules)
    coding: Any = None  # engine.importers.coding.CodingExons, set by make_importer

    def _finish(self, st: _Sample, name: str) -> dict | None:
        case = super()._finish(st, name)
        if case is None or "tested_genes" not in case:
            return case
        if st.id in getattr(self, "_unplaced", set()):
            case.pop("tested_genes")  # a record no gene can be ruled out for
        elif st.id in getattr(self, "_unlocated", set()):
            # records outside every known locus may lie in any other gene: vouch only for genes whose
            # locus is known and holds no record that could not be read
            located = self._located_genes
            kept = [g for g in case["tested_genes"] if g in located]
            if kept:
                case["tested_genes"] = kept
            else:
                case.pop("tested_genes")
        return case

    def read(self, path: Path) -> Iterator[dict]:
        vcfpy = needs("vcfpy", "VCF")

        t0 = time.perf_counter()
        name = str(path)
        s = self.summary
        open_end: list[int] = []  # the number of a last line with no line end (it may be cut short)
        lines = iter_lines(path, open_end.append)
        header_lines: list[str] = []
        first_record: tuple[int, str] | None = None
        for n, text in lines:
            if text.startswith("#"):
                header_lines.append(text)
                if text.startswith("#CHROM"):
                    break
                continue
            if text.strip():
                first_record = (n, text)
                break
        if not header_lines or not header_lines[-1].startswith("#CHROM") or not header_lines[0].startswith("##fileformat=VCF"):
            raise UsageError(f"{name}: not a VCF (it must start with '##fileformat=VCF' and have a '#CHROM' header line)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                reader = vcfpy.Reader.from_stream(io.StringIO("\n".join(header_lines) + "\n"), path=name)
            except Exception as exc:  # noqa: BLE001 - vcfpy raises several kinds for a bad header
                raise UsageError(f"{name}: cannot read the VCF header: {exc}") from None
        header = reader.header
        ann = _annotation(header)
        columns = list(header.samples.names)
        tumour = normal = None
        for line in header_lines:
            if line.startswith("##tumor_sample="):
                tumour = line.split("=", 1)[1].strip()
            elif line.startswith("##normal_sample="):
                normal = line.split("=", 1)[1].strip()
        if normal is None and len(columns) > 1:
            conventional = [c for c in columns if c.upper() in NORMAL_COLUMNS and c != tumour]
            if len(conventional) == 1:
                normal = conventional[0]
                s.notes.append(
                    f"sample column '{normal}' read as the matched normal (its conventional name; the file has no "
                    "##normal_sample header): not a case, and a call it also carries is germline"
                )
        elif normal in columns:
            s.notes.append(f"sample column '{normal}' is the normal (##normal_sample): not a case, and a call it also "
                           "carries is germline")
        keep = [i for i, c in enumerate(columns) if c != normal and (tumour is None or c == tumour or tumour not in columns)]
        self._normal = columns.index(normal) if normal in columns else None
        self._somatic_flag = header.has_header_line("INFO", "SOMATIC")
        sites_only = not columns
        case_ids = [columns[i] for i in keep] if not sites_only else [Path(name).name.split(".vcf")[0]]

        asm = self.opt.assembly
        from_header = _header_assembly(header_lines, self.table)
        if asm is None:
            asm = from_header
        elif from_header is not None and from_header != asm:
            raise UsageError(f"{name}: the header says {from_header} but --assembly says {asm}")
        if ann is None:
            s.notes.append("no CSQ/ANN annotation: protein changes read from coordinates only (hotspot table, coding exons)")
            if asm is None:
                raise UsageError(
                    f"{name}: no CSQ/ANN annotation and no assembly in the header: give --assembly GRCh37 or GRCh38"
                )
        else:
            s.notes.append(f"annotation read from INFO {ann.key}")

        contigs = _contig_lengths(header_lines)  # what the header declares, for contigs the table does not know
        samples, order = self._open_samples()
        for sid in case_ids:
            if sid not in samples:
                samples[sid] = _Sample(sid, len(header_lines))
                order.append(sid)
        self._unlocated: set[str] = set()
        self._unplaced: set[str] = set()
        self._asm = asm
        self._loci: dict[str, list[tuple[int, int, str]]] = {}
        if asm is not None:
            from engine.importers.extras import LOCI_FILE, GeneLoci

            vdir = self.rules_vocabulary
            if vdir is None:
                from engine.rulebase import default_rules_dir

                vdir = default_rules_dir() / "vocabulary"
            loci = GeneLoci.load(vdir / LOCI_FILE, None, self.vocab, asm).loci.get(asm, {})
            for gene, (chrom, start, end) in loci.items():
                self._loci.setdefault(chrom, []).append((start, end, gene))
        self._located_genes = frozenset(g for rows in self._loci.values() for _, _, g in rows)

        def body() -> Iterator[tuple[int, str]]:
            if first_record is not None:
                yield first_record
            try:
                yield from lines
            except DamagedFile as exc:  # the records before are read (see Importer.damaged)
                self.damaged(exc)

        records = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # values not of their declared type are kept as text; unused here
            for n, text in body():
                if not text.strip() or text.startswith("#"):
                    continue
                records += 1
                src = f"{name}:{n}"
                cut = ("; the file ends here without a line end: it was probably truncated"
                       if open_end and n == open_end[0] else "")
                pos = text.split("\t", 2)[1].strip() if "\t" in text else None
                if pos is not None and position(pos, lowest=0) is None:
                    s.rows += 1
                    self.error_row("row", f"POS {quote(pos)} is not a position: expected a whole number from 1 to "
                                   f"{MAX_POSITION:,} (0 for a telomere){cut}", src, field="POS", value=pos)
                    self._unreadable(text, samples)
                    continue
                at = position(pos, lowest=0) if pos is not None else None
                chrom = text.split("\t", 1)[0]
                beyond = self.table.past_end(asm, chrom, at) if at is not None and asm else ""
                declared = contigs.get(hs._chrom(chrom))
                if not beyond and declared is not None and at is not None and at > declared:
                    beyond = f"past the end of contig {chrom} as the header's ##contig line declares it ({declared:,} bases)"
                if beyond:
                    s.rows += 1
                    self.error_row("coordinates", f"POS {at:,} is {beyond}: a wrong position, or a file of another "
                                   f"assembly?{cut}", src, field="POS", value=pos)
                    self._unreadable(text, samples, placed=False)
                    continue
                try:
                    rec = reader.parser.parse_line(text)
                except Exception as exc:  # noqa: BLE001 - vcfpy raises ValueError and its own exceptions
                    s.rows += 1
                    # (vcfpy's message may go on with the whole record, on lines of its own)
                    why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    self.error_row("row", f"cannot read this VCF record: {clean(why, 200)}{cut}", src)
                    self._unreadable(text, samples)
                    continue
                self._record(rec, keep, sites_only, case_ids, samples, ann, src)
        s.notes.insert(0, f"VCF records: {records}; calls (record x allele x sample) counted as rows")
        if self._unlocated:
            s.notes.append(
                f"samples with unannotated records outside every known gene locus: {len(self._unlocated)} (tested_genes "
                f"limited to the {len(self._located_genes)} genes whose locus is known: annotate the VCF with VEP or SnpEff "
                "to read it fully)"
            )
        if self._unplaced:
            s.notes.append(f"samples with unannotated records and no assembly: {len(self._unplaced)} (no tested_genes written)")
        yield from self.finish_all(samples, order, name)
        s.seconds = time.perf_counter() - t0

    def _record(self, rec: Any, keep: list[int], sites_only: bool, case_ids: list[str], samples: dict[str, _Sample],
                ann: _Annotation | None, src: str) -> None:
        s = self.summary
        alts = [getattr(a, "value", "") or "" for a in rec.ALT]
        ref = rec.REF
        passed = not rec.FILTER or rec.FILTER == ["PASS"]
        entries: list[list[str]] = []
        if ann is not None:
            raw = rec.INFO.get(ann.key)
            if isinstance(raw, str):
                raw = raw.split(",")
            for e in raw or []:
                entries.append(str(e).split("|"))
        if not alts or all(a in ("", ".", "*") for a in alts):
            s.rows += 1
            self.skip(R_REF_ONLY)
            return
        for ai, alt in enumerate(alts, start=1):
            carriers: list[tuple[_Sample, bool]] = []  # (sample, called)
            if sites_only:
                carriers.append((samples[case_ids[0]], True))
            else:
                for ci, sid in zip(keep, case_ids, strict=True):
                    call = rec.calls[ci]
                    gt = call.data.get("GT") if call.data else None
                    if gt is None:
                        carriers.append((samples[sid], True))
                        continue
                    alleles = str(gt).replace("|", "/").split("/")
                    if all(a == "." for a in alleles):
                        carriers.append((samples[sid], False))
                    elif str(ai) in alleles:
                        carriers.append((samples[sid], True))
                    else:
                        s.rows += 1
                        self.skip(R_NOT_CARRIED)
            if not carriers:
                continue
            origin = self._origin(rec, ai, sum(1 for _, called in carriers if called))
            mine = self._entries_for(entries, ann, ai, alt, alts, ref) if ann is not None else None
            sig, why = self._significance(rec, alts, mine, ann)
            if why and any(called for _, called in carriers):
                s.significance[why] += sum(1 for _, called in carriers if called)
            for st, called in carriers:
                self._call(st, rec, ref, alt, mine, ann, passed, called, src, origin, sig)

    def _origin(self, rec: Any, ai: int, calls: int) -> str:
        """``germline`` when the matched normal also carries allele ``ai`` of the record, else
        ``somatic``. A normal column without a genotype defers to the INFO ``SOMATIC`` flag when the
        header declares it (Strelka); where nothing tells, the call stays somatic and the summary
        counts it (``calls`` tumour calls)."""
        ni = self._normal
        if ni is None:
            return "somatic"
        call = rec.calls[ni]
        gt = call.data.get("GT") if call.data else None
        if gt is not None:
            alleles = str(gt).replace("|", "/").split("/")
            if str(ai) in alleles:
                self.summary.origin_germline += calls
                return "germline"
            if all(a == "." for a in alleles):
                self.summary.origin_unknown["no genotype call in the normal"] += calls
            return "somatic"
        if self._somatic_flag:
            if rec.INFO.get("SOMATIC"):
                return "somatic"
            self.summary.origin_germline += calls
            return "germline"  # a caller that flags somatic calls did not flag this one
        self.summary.origin_unknown["the normal has no genotype and the file no SOMATIC flag"] += calls
        return "somatic"

    def _significance(self, rec: Any, alts: list[str], mine: list[list[str]] | None,
                      ann: _Annotation | None) -> tuple[str | None, str]:
        """The allele's ``classification`` from its ClinVar significance: the annotation's
        ``ClinVar_CLNSIG`` where the file has one, else the INFO ``CLNSIG`` of a record with one
        alternative allele (ClinVar's own VCF, or one annotated from it); and, where it gives none,
        why (for the summary; empty where the file says nothing)."""
        if ann is not None and ann.i_clinvar is not None:
            i = ann.i_clinvar
            texts = {urllib.parse.unquote(e[i]) for e in mine or () if i < len(e) and e[i].strip()}
            if texts:
                return clinical_significance("/".join(sorted(texts)))
        raw = rec.INFO.get("CLNSIG")
        if not raw:
            return None, ""
        if len(alts) > 1:
            return None, "CLNSIG of a record with several alternative alleles: not read"
        return clinical_significance(",".join(map(str, raw)) if isinstance(raw, list) else str(raw))

    def _entries_for(self, entries: list[list[str]], ann: _Annotation, ai: int, alt: str, alts: list[str], ref: str) -> list[list[str]]:
        if len(alts) == 1:
            return entries
        want = {alt, _vep_allele(ref, alt, alts)}
        out = []
        for e in entries:
            if ann.i_allele_num is not None and ann.i_allele_num < len(e) and e[ann.i_allele_num]:
                if e[ann.i_allele_num] == str(ai):
                    out.append(e)
            elif ann.i_allele is not None and ann.i_allele < len(e) and e[ann.i_allele] in want:
                out.append(e)
        return out

    def _call(self, st: _Sample, rec: Any, ref: str, alt: str, entries: list[list[str]] | None, ann: _Annotation | None,
              passed: bool, called: bool, src: str, origin: str = "somatic", sig: str | None = None) -> None:
        s = self.summary
        if not entries:  # no annotation (in the file, or on this record): coordinates only
            s.rows += 1
            if self._asm is None:
                self._unplaced.add(st.id)
                self.skip(R_UNLOCATED)
                return
            self._from_coords(st, None, rec.CHROM, rec.POS, ref, alt, passed, called, src, unannotated=True, origin=origin,
                              classification=sig)
            return
        assert ann is not None
        by_gene: dict[str, list[str]] = {}
        picked: dict[str, list[str]] = {}  # the entry VEP picked, where it is not on the reference transcript
        other = False
        refs = self._reference_transcripts()
        misspelt: set[str] = set()
        for e in entries:
            sym = e[ann.i_gene] if ann.i_gene < len(e) else ""
            gene = self._gene(sym) if sym else None
            if gene is None:
                if not sym.isascii():  # no gene symbol has such a character: whose entry is it?
                    misspelt.add(sym)
                other = True
                continue
            best = by_gene.get(gene)
            if best is None or _rank(e, ann, refs.get(gene)) < _rank(best, ann, refs.get(gene)):
                by_gene[gene] = e
            if ann.i_pick is not None and ann.i_pick < len(e) and e[ann.i_pick] == "1":
                picked[gene] = e
        for sym in sorted(misspelt):  # an error record each, the gene it probably stands for unknown
            s.rows += 1
            self._misspelt_gene(st, sym, src, f"INFO/{ann.key}:{ann.fields[ann.i_gene]}")
        if misspelt and not by_gene:
            return
        if not by_gene:
            s.rows += 1
            if other or entries:
                self.skip(R_GENE)
                for e in entries:
                    sym = e[ann.i_gene] if ann.i_gene < len(e) else ""
                    if sym:
                        s.genes_skipped.add(sym)
            else:
                self.skip(R_UNLOCATED)
                self._unplaced.add(st.id)
            return
        for gene, e in by_gene.items():
            s.rows += 1
            if not passed:
                self.skip(R_FILTER)
                st.unresolved.add(gene)
                continue
            if not called:
                self.skip(R_NO_CALL)
                st.unresolved.add(gene)
                continue
            terms = e[ann.i_cons] if ann.i_cons < len(e) else ""
            cls, term = classification_of(terms)
            if cls is None:
                self._row_error(st, gene, "classification",
                                f"unknown consequence '{term}' in {ann.key} (the README lists the terms read)",
                                src, field=f"INFO/{ann.key}", value=terms)
                continue
            if classify(cls) == SKIP:
                self.skip(f"not an alteration (consequence {term})")
                continue
            i_p = ann.i_hgvsp
            hgvsp = e[i_p] if i_p is not None and i_p < len(e) else ""
            hgvsp = urllib.parse.unquote(hgvsp).strip()
            if gene in picked and picked[gene] is not e:
                s.pick_replaced += 1
            if hgvsp and i_p is not None:  # (a protein change implies the column)
                text, fname, coords = clean_protein(hgvsp), f"INFO/{ann.key}:{ann.fields[i_p]}", False
                transcript = e[ann.i_feature] if ann.i_feature is not None and ann.i_feature < len(e) else ""
                decoded, where = None, ""
                asm = self._asm
                if asm is not None and self.table.covers(asm, rec.CHROM, rec.POS, rec.POS + max(len(ref), 1) - 1):
                    decoded = self.table.decode(asm, rec.CHROM, rec.POS, ref, alt)
                    where = f"{rec.CHROM}:{rec.POS} {ref}>{alt} on {asm}"
                checked = self._check_protein(st, gene, text, fname, transcript, decoded, where, src)
                if checked is None:
                    continue
                text, fname, coords = checked
                self.add_call(st, gene, text, origin, src, fname, coords=coords, classification=sig)
                continue
            self._from_coords(st, gene, rec.CHROM, rec.POS, ref, alt, passed, called, src, unannotated=False, origin=origin,
                              classification=sig)

    def _from_coords(self, st: _Sample, gene: str | None, chrom: str, pos: int, ref: str, alt: str, passed: bool,
                     called: bool, src: str, *, unannotated: bool, origin: str = "somatic",
                     classification: str | None = None) -> None:
        asm = self._asm
        span = max(len(ref), 1)
        where = self.table.gene_at(asm, chrom, pos, pos + span - 1) if asm else None
        coding = self.coding
        if where is None and asm and coding is not None and coding.gene_at(asm, chrom, pos, pos + span - 1):
            tx_gene = coding.gene_at(asm, chrom, pos, pos + span - 1)
            gene = gene or tx_gene
            if gene != tx_gene:
                self.skip(R_NOPROT)
                st.unresolved.add(gene)
                return
            if not passed or not called:
                self.skip(R_FILTER if not passed else R_NO_CALL)
                st.unresolved.add(gene)
                return
            d = coding.decode(asm, chrom, pos, ref, alt)
            if d.kind == hs.DECODED:
                self.add_call(st, gene, d.protein or "", origin, src, "coordinates (transcript)", coords=True,
                              classification=classification)
            elif d.kind == hs.SYNONYMOUS:
                self.skip(R_SYN)
            else:
                self.skip(R_INDEL if len(ref) != len(alt) else R_NOPROT)
                st.unresolved.add(gene)
            return
        if where is None:
            if unannotated:
                inside = self._genes_at(chrom, pos, pos + span - 1)
                if inside:
                    self.skip(R_IN_LOCUS)
                    st.unresolved.update(inside)
                else:
                    self.skip(R_NO_LOCUS)
                    self._unlocated.add(st.id)
            else:
                self.skip(R_NOPROT)
                st.unresolved.add(gene)  # type: ignore[arg-type]  # an annotated row always names its gene
            return
        gene = gene or where
        if not passed or not called:
            self.skip(R_FILTER if not passed else R_NO_CALL)
            st.unresolved.add(gene)
            return
        d = self.table.decode(asm, chrom, pos, ref, alt)  # type: ignore[arg-type]  # a located row has an assembly
        if d.kind == hs.DECODED:
            if d.gene != gene:
                self._row_error(st, gene, "coordinates",
                                f"{chrom}:{pos} {ref}>{alt} is {d.gene} {d.protein} in the hotspot table but the annotation says {gene}", src)
                return
            self.add_call(st, gene, d.protein or "", origin, src, "coordinates", coords=True, classification=classification)
        elif d.kind == hs.SYNONYMOUS:
            self.skip(R_SYN)
        elif d.kind in (hs.MISMATCH, hs.AMBIGUOUS):
            self._row_error(st, gene, "coordinates", d.detail, src, field="REF", value=ref)
        else:
            self.skip(R_INDEL if len(ref) != len(alt) else R_NOPROT)
            st.unresolved.add(gene)


    def _unreadable(self, text: str, samples: dict[str, _Sample], placed: bool = True) -> None:
        """A record that cannot be read: what it called is unknown, so the genes it may be about
        (:meth:`_unread_genes`) are unknown for every sample, never wild-type. ``placed=False``: its
        position is not to be trusted (it lies past its chromosome's end)."""
        unread = self._unread_genes(text, placed)
        for st in samples.values():
            st.unresolved.update(unread)

    def _unread_genes(self, text: str, placed: bool = True) -> set[str]:
        """The genes a VCF record that could not be read may be about: those its own annotation
        names (a CSQ, ANN or SYMBOL field), and those whose locus or hotspots hold its position;
        with no readable position (or one past its chromosome's end), those on its chromosome; with
        no known chromosome either, every gene of the vocabulary, unless its annotation names its
        gene (then only the genes named).
        A line without tabs is no readable record: it is about the genes its text names, if any."""
        named = {g for g in (self.vocab.find_gene(t) for t in set(_TOKEN.findall(text)) if len(t) <= 20) if g is not None}
        parts = [p.strip() for p in text.split("\t")]
        if len(parts) < 2:  # tabs turned to spaces: its fields as spaces separate them
            parts = text.split()
            if len(parts) < 2 and not (parts and _CHROM.match(parts[0])):
                return named  # no record at all: what its text names, if anything
            parts += [""]  # (a record cut after its chromosome: no position)
        # its own annotation says which gene it is in, when it names a gene of the vocabulary (a
        # gene the vocabulary does not know, an empty or cut annotation: the position decides)
        annotated = bool(named) and _ANNOTATED.search(text) is not None
        chrom = hs._chrom(parts[0]) if parts[0] else ""
        pos = position(parts[1], lowest=0) if placed else None
        if pos is not None:  # (a POS that is no position, -1 or 23 digits, says only the chromosome)
            genes = set(self._genes_at(chrom, pos, pos)) | named
            for asm in self.table.assemblies:  # (the record's own assembly may be what is unreadable)
                hit = self.table.gene_at(asm, chrom, pos, pos)
                if hit is not None:
                    genes.add(hit)
            if genes or self._located_genes or annotated:
                return genes
        if annotated:
            return named
        on_chrom = {g for _, _, g in self._loci.get(chrom, ())} | self.table.genes_on(chrom) | named
        return on_chrom if on_chrom else set(self.vocab.genes)

    def _genes_at(self, chrom: str, start: int, end: int) -> list[str]:
        rows = self._loci.get(hs._chrom(chrom), ())
        return [g for s0, e0, g in rows if s0 <= end and e0 >= start]


#: gene-symbol-like words of a record's text (its annotation names genes as such)
_CHROM = re.compile(r"^(?:chr)?(?:[0-9]{1,2}|X|Y|MT?)$", re.I)
_ANNOTATED = re.compile(r"(?:^|[\t;])(?:CSQ|ANN|EFF|SYMBOL|GENE|GENEINFO)=")
_TOKEN = re.compile(r"(?<![A-Za-z0-9_.-])[A-Z][A-Z0-9-]{1,14}(?![A-Za-z0-9_.-])")


def _rank(e: list[str], ann: _Annotation, refs: frozenset[str] | None = None) -> tuple:
    """Which entry of a gene is read (lowest first): one on a transcript the vocabulary lists as the
    gene's reference numbering, then VEP's pick, the canonical transcript, one with a protein change."""
    def flag(i: int | None, yes: str) -> int:
        return 0 if i is not None and i < len(e) and e[i] == yes else 1

    on_ref = 1
    if refs and ann.i_feature is not None and ann.i_feature < len(e) and e[ann.i_feature]:
        on_ref = 0 if hs.transcript_key(e[ann.i_feature]) in refs else 1
    has_p = 0 if ann.i_hgvsp is not None and ann.i_hgvsp < len(e) and e[ann.i_hgvsp] else 1
    return (on_ref, flag(ann.i_pick, "1"), flag(ann.i_canonical, "YES"), has_p)
