"""GA4GH Phenopackets v2 (JSON or YAML; one phenopacket, a list, or a Cohort) -> one case each.

Documents are validated by the official ``phenopackets`` bindings (protobuf): an unknown field or a
wrong type is an error record naming the file and the field, and that document gives no case.

Read:

- ``id`` (else ``subject.id``) is the case id;
- cancer type: ``diseases[].term`` (not ``excluded``), else ``interpretations[].diagnosis.disease``;
  an OncoTree code, an NCIt concept the OncoTree file maps, or a name; stage from ``diseaseStage`` /
  ``clinicalTnmFinding`` only where it is definitional (stage IV, M1: metastatic). Two diseases naming
  distinct cancers (not one a finer type of the other) are two primary cancers: no case (an error
  record naming both) unless every interpretation with genomic findings names one of them as its
  ``diagnosis.disease`` (or ``--cancer-type`` names one); then interpretations and medical actions
  whose ``treatmentTarget`` names the other are skipped, and an action targeting neither makes the
  history unknown;
- alterations: ``interpretations[].diagnosis.genomicInterpretations[]`` whose status is not
  ``REJECTED``: the gene (``geneContext.symbol``), then the first of: an ``hgvs.p`` expression, a
  ``vcfRecord`` or genomic HGVS or VRS allele read through the hotspot table, an ``hgvs.c`` expression
  (hotspot cDNA), the ``(p.…)`` of the label; a VRS copy number of a named gene (0 copies: loss; at or
  above the amplification threshold: amplification); a gene-level interpretation (``gene``) gives no
  alteration (the change is not said) and makes that gene's status unknown. A gene given only by its
  HGNC id (``valueId`` ``HGNC:6407``, no symbol) is read through the vocabulary, else through another
  gene descriptor of the same phenopacket pairing that id with a symbol, else it is an error record
  naming the id. A variant of the subject
  (``subjectOrBiosampleId`` = the subject's id, not a biosample) is germline;
- prior therapies: ``medicalActions[]`` with a ``treatment`` (agent) or a ``therapeuticRegimen``;
  treatments whose first dose interval starts the same day are one line (a treatment without dose
  intervals is a line of its own: nothing in the format groups treatments; the summary says so); lines
  are ordered by start date; ``responseToTreatment`` and ``treatmentTerminationReason`` give the outcome
  (negation read), ``treatmentTarget`` / ``treatmentIntent`` the setting
  where their label says it (adjuvant, neoadjuvant, maintenance, metastatic). Radiation and procedures
  are counted, not prior systemic therapies. No ``medicalActions``: history unknown.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import yaml

from engine.case import Classification

from engine.importers.calls import needs
from engine.importers.documents import (
    paths_of,
    CaseDraft,
    DocumentReader,
    hgnc_id,
    parse_date,
    refseq_chromosome,
    setting_of,
    stage_of,
)
from engine.importers.limits import DocumentError, check_depth, load_json, load_yaml, read_document_text, yaml_message
from engine.importers.extras import DEFAULT_AMPLIFICATION_COPIES as AMPLIFICATION_COPIES

OTHER_FIELDS = ("phenotypicFeatures", "measurements", "biosamples", "files")
# what --map can map, by these names (the first label of the first disease that is a cancer)
MAP_FIELDS = ("diseaseStage", "clinicalTnmFinding")


def load_documents(path: Path) -> list[tuple[str, Any]]:
    """``(path in the file, document)`` for each phenopacket of a JSON/YAML file (list or Cohort too).
    A file that is neither (or empty, UTF-16, over a limit) is a :class:`DocumentError`."""
    text = read_document_text(path)
    try:
        data = load_json(text)
    except DocumentError as exc:
        if not isinstance(exc.__cause__, json.JSONDecodeError):
            raise  # JSON, over a limit
        json_error = exc
        try:
            data = load_yaml(text)
        except (yaml.YAMLError, ValueError) as yexc:  # (ValueError: a date such as 2020-13-45)
            if text.lstrip()[:1] in ("{", "["):  # meant as JSON: its own error is the clearer one
                raise json_error from None
            raise DocumentError(yaml_message(yexc)) from None
        # (load_json checked the nesting; YAML aliases can nest what the composer did not see)
        check_depth(data)
    data = _plain(data)
    if isinstance(data, list):
        return [(f"[{i}]", d) for i, d in enumerate(data)]
    if isinstance(data, dict) and "members" in data and "subject" not in data:
        members = data.get("members")
        if not isinstance(members, list):
            return [("members", members)] if members else []
        return [(f"members[{i}]", d) for i, d in enumerate(members)]
    return [("", data)]


def _plain(value: Any) -> Any:
    """YAML reads an unquoted timestamp as a datetime: write it back as the RFC 3339 text it was."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat() + "T00:00:00Z"
    return value


#: a VariantInterpretation's ACMG pathogenicity class -> the case's ``classification`` (the same
#: five words in upper case; NOT_PROVIDED is none)
_ACMG = {c.upper(): c for c in get_args(Classification)}


class PhenopacketReader(DocumentReader):
    """See the module docstring."""

    _classification: str | None = None  # the ACMG class of the genomic interpretation being read

    def run(self, paths: list[Path] | Path | str) -> Iterator[dict]:
        paths = paths_of(paths)
        needs("phenopackets", "GA4GH Phenopackets")
        from google.protobuf import json_format
        from phenopackets import Phenopacket

        for path in paths:
            self.summary.files += 1
            try:
                docs = load_documents(path)
            except DocumentError as exc:
                self.summary.documents += 1
                self.error("document", exc.message, str(path), exc.field)
                continue
            for where, doc in docs:
                self.summary.documents += 1
                src = f"{path}" + (f" {where}" if where else "")
                if not isinstance(doc, dict):
                    self.error("document", "a phenopacket is a JSON object", str(path), where or "$")
                    continue
                case = None
                with self.one_document(src, where or "$"):
                    try:
                        json_format.ParseDict(doc, Phenopacket())
                    except json_format.ParseError as exc:
                        self.error("document", f"not a valid GA4GH Phenopacket v2: {exc}", src, where or "$")
                        continue
                    case = self.read(doc, src, where)
                if case is not None:
                    yield case
        self.done()

    def read(self, p: dict, src: str, where: str) -> dict | None:
        pre = f"{where}." if where else ""
        subject = p.get("subject") or {}
        sid = p.get("id") or subject.get("id") or Path(src.split(" ")[0]).name.split(".")[0]
        d = CaseDraft(str(sid), src)
        subject_id = subject.get("id")
        biosamples = {b.get("id") for b in p.get("biosamples") or [] if isinstance(b, dict)}

        self._hgnc: dict[str, str | None] = {}
        self._learn_hgnc(p)
        from_where: dict[str, str] = {}
        for i, dis in enumerate(p.get("diseases") or []):
            path = f"{pre}diseases[{i}]"
            if dis.get("excluded"):
                self.skip("disease marked excluded")
                continue
            term = dis.get("term") or {}
            got, why = self.cancer_from_coding("", term.get("id", ""), term.get("label", ""))
            if got is None:
                d.cancer_tried.append(f"{path}.term: {why}")
                self.skip("disease that is not a cancer type the vocabulary knows")
                continue
            self.add_primary(d, got, term.get("label") or term.get("id") or got, f"{path}.term")
            from_where.setdefault(got, f"diseases ({'NCIt' if 'NCIT' in term.get('id', '').upper() else 'code or name'})")
            self.used("disease")
            for key in ("diseaseStage", "clinicalTnmFinding"):
                for st in dis.get(key) or []:
                    d.values.setdefault(key, st.get("label") or st.get("id") or "")
                    stage = stage_of(st.get("label", ""))
                    if stage:
                        d.stage = stage

        interps = [i for i in p.get("interpretations") or [] if isinstance(i, dict)]
        diag_of: list[tuple[str | None, str]] = []  # each interpretation's disease: (code, why not)
        for interp in interps:
            disease = (interp.get("diagnosis") or {}).get("disease")
            diag_of.append(self.cancer_from_coding("", disease.get("id", ""), disease.get("label", ""))
                           if disease else (None, "no diagnosis.disease"))
        with_findings = [c for interp, (c, _) in zip(interps, diag_of, strict=True)
                         if (interp.get("diagnosis") or {}).get("genomicInterpretations")]
        attributed = {c for c in with_findings if c} if with_findings and all(with_findings) else None
        chosen = self.settle_primaries(d, attributed, "interpretations[].diagnosis.disease",
                                       "each interpretation's diagnosis.disease", "diseases")
        if d.cancer is not None:
            d.cancer_from = from_where.get(d.cancer, d.cancer_from)

        for i, interp in enumerate(interps):
            diag = interp.get("diagnosis") or {}
            dpath = f"{pre}interpretations[{i}].diagnosis"
            got, why = diag_of[i]
            if diag.get("disease") and d.cancer is None and d.cancer_conflict is None:
                if got is not None:
                    d.cancer, d.cancer_from = got, "interpretations.diagnosis"
                else:
                    d.cancer_tried.append(f"{dpath}.disease: {why}")
            if chosen is not None and got is not None and not self.related(got, chosen):
                for _ in diag.get("genomicInterpretations") or []:
                    self.skip("genomic interpretation of another primary cancer of the subject")
                continue
            for j, gi in enumerate(diag.get("genomicInterpretations") or []):
                self.genomic(d, gi, f"{dpath}.genomicInterpretations[{j}]", subject_id, biosamples)

        actions = p.get("medicalActions")
        if actions is not None:
            self.mark_history_known(d)
        for i, act in enumerate(actions or []):
            if chosen is not None and not self._for_cancer(d, act, chosen):
                continue
            self.action(d, act, f"{pre}medicalActions[{i}]")

        for name in OTHER_FIELDS:
            for _ in p.get(name) or []:
                self.skip(f"{name} (not read: no rule uses them)")
        return self.finish(d)

    def _learn_hgnc(self, value: Any) -> None:
        """Every gene descriptor of the phenopacket pairing an HGNC id with a symbol."""
        self.learn_hgnc_in(self._hgnc, value, lambda g: ("", g["valueId"], str(g["symbol"]))
                           if isinstance(g.get("valueId"), str) and g.get("symbol") else None)

    def _gene(self, desc: dict) -> tuple[str | None, str | None]:
        """A gene descriptor: ``(gene, HGNC id)``; the id is given when the gene is given only by an HGNC
        id that cannot be resolved (an error for the caller to report)."""
        symbol = str(desc.get("symbol") or "")
        gene = self.gene(symbol)
        if gene is not None:
            return gene, None
        hid = hgnc_id("", str(desc.get("valueId") or ""))
        if hid is None:
            return None, None
        gene = self.gene_by_id(hid, self._hgnc)
        return gene, (hid if gene is None and not symbol.strip() else None)

    def _for_cancer(self, d: CaseDraft, act: dict, chosen: str) -> bool:
        """With two primary cancers: whether a medical action is read (its target is the chosen one)."""
        if not any(k in act for k in ("treatment", "therapeuticRegimen")):
            return True  # (radiation, procedures: counted as usual)
        target = act.get("treatmentTarget") or {}
        got = self.cancer_from_coding("", target.get("id", ""), target.get("label", ""))[0] if target else None
        if got is not None and self.related(got, chosen):
            return True
        if got is not None and any(self.related(got, c) for c, _, _ in d.primaries):
            self.skip("medical action for another primary cancer of the subject")
            return False
        if not d.unknown_history:
            self.remark("two primary cancers: a treatment whose treatmentTarget names neither makes the treatment "
                        "history unknown", d.id)
        d.unknown_history = True
        return True

    # ------------------------------------------------------------------ variants

    def genomic(self, d: CaseDraft, gi: dict, path: str, subject_id: str | None, biosamples: set) -> None:
        status = (gi.get("interpretationStatus") or "UNKNOWN_STATUS").upper()
        if status == "REJECTED":
            self.skip("genomic interpretation REJECTED")
            return
        origin = "germline" if subject_id and gi.get("subjectOrBiosampleId") == subject_id and gi.get("subjectOrBiosampleId") not in biosamples else "somatic"
        if "gene" in gi and "variantInterpretation" not in gi:
            gene, hid = self._gene(gi["gene"] or {})
            if hid is not None:
                self.hgnc_error(d, [hid], f"{path}.gene.valueId", "a gene")
            elif gene is None:
                if not self.misspelt(d, [str((gi["gene"] or {}).get("symbol") or "")], f"{path}.gene.symbol"):
                    self.skip("gene not in the vocabulary")
            else:
                d.unresolved.add(gene)
                self.skip("gene named without its change (gene status unknown)")
            return
        vi = gi.get("variantInterpretation") or {}
        vd = vi.get("variationDescriptor") or {}
        vpath = f"{path}.variantInterpretation.variationDescriptor"
        # the variant's ACMG class, kept as the case's ``classification`` (NOT_PROVIDED: not stated)
        self._classification = _ACMG.get(str(vi.get("acmgPathogenicityClassification") or "").upper())
        symbol = (vd.get("geneContext") or {}).get("symbol", "")
        gene, hid = self._gene(vd.get("geneContext") or {})
        if hid is not None:
            self.hgnc_error(d, [hid], f"{vpath}.geneContext.valueId", "the variant's gene")
            return
        exprs = {str(e.get("syntax", "")).lower(): str(e.get("value", "")) for e in vd.get("expressions") or []}
        variation = vd.get("variation") or {}

        cn = variation.get("copyNumber")
        if cn is not None:
            if gene is None:
                self.skip("copy number of a region with no gene the vocabulary knows")
                return
            try:
                n = float((cn.get("number") or {}).get("value"))  # type: ignore[arg-type]  # None: TypeError, caught
            except (TypeError, ValueError):
                self.error("copy_number", "a VRS copy number needs number.value", d.source, f"{vpath}.variation.copyNumber",
                           sample=d.id, gene=gene)
                d.unresolved.add(gene)
                return
            if n == 0:
                self.add_variant(d, gene, "loss", vpath, origin, cna=-2, copy_number=0.0, classification=self._classification)
                self.used("genomic interpretation")
            elif n >= AMPLIFICATION_COPIES:
                self.add_variant(d, gene, "amplification", vpath, origin, cna=2, copy_number=n,
                                 classification=self._classification)
                self.used("genomic interpretation")
            else:
                self.skip(f"copy number between 1 and {AMPLIFICATION_COPIES} (not an alteration)")
            return

        if gene is None and symbol:
            if not self.misspelt(d, [str(symbol)], f"{vpath}.geneContext.symbol"):
                self.skip("gene not in the vocabulary")
            return
        # 1. a protein change
        p_text = exprs.get("hgvs.p")
        if p_text and gene:
            self._variant(d, gene, p_text.split(":", 1)[-1], f"{vpath}.expressions", origin)
            return
        # 2. coordinates: VCF record, genomic HGVS, VRS allele
        coords = self._coordinates(vd, exprs, variation)
        if coords is not None:
            asm, chrom, pos, ref, alt = coords
            where_gene, dec = self.decode(asm, chrom, pos, ref, alt)
            gene = gene or where_gene
            if self.settle_decoded(d, gene, dec, vpath, origin, self._variant):
                return
        if gene is None:
            self.skip("variant with no gene named and not at a codon of the hotspot table")
            return
        # 3. a cDNA change (hotspot table), 4. the protein change in the label
        c_text = exprs.get("hgvs.c") or (exprs.get("hgvs") if ":c." in exprs.get("hgvs", "") else None)
        if c_text:
            try:
                self.vocab.variant(gene, c_text)
                self._variant(d, gene, c_text, f"{vpath}.expressions", origin)
                return
            except Exception:  # noqa: BLE001 - a TermError: try the label before giving up
                pass
        label_p = self.protein_in_label(vd.get("label", ""))
        if label_p:
            self._variant(d, gene, label_p, f"{vpath}.label", origin)
            return
        shown = c_text or vd.get("label") or json.dumps(exprs)
        self.error("variant", "no protein change, hotspot coordinates or hotspot cDNA change in this variant",
                   d.source, vpath, value=shown, sample=d.id, gene=gene)
        d.unresolved.add(gene)

    def _variant(self, d: CaseDraft, gene: str, text: str, path: str, origin: str) -> None:
        if self.add_variant(d, gene, text, path, origin, classification=self._classification):
            self.used("genomic interpretation")
        else:
            self.summary.elements += 1
            self.summary.skipped["error record"] += 1

    def _coordinates(self, vd: dict, exprs: dict, variation: dict) -> tuple[str | None, str, int, str | None, str] | None:
        rec = vd.get("vcfRecord")
        if rec and rec.get("pos") and rec.get("ref") and rec.get("alt"):
            chrom = str(rec.get("chrom", ""))
            asm = rec.get("genomeAssembly")
            ref_seq = refseq_chromosome(chrom)
            if ref_seq:
                chrom, asm = ref_seq[0], asm or ref_seq[1]
            try:
                return asm, chrom, int(rec["pos"]), str(rec["ref"]), str(rec["alt"])
            except ValueError:
                return None
        for key in ("hgvs.g", "hgvs"):
            g = self.genomic_hgvs(exprs.get(key, "")) if exprs.get(key) else None
            if g:
                return g
        allele = variation.get("allele")
        if allele:
            loc = allele.get("sequenceLocation") or {}
            where = refseq_chromosome(str(loc.get("sequenceId", "")))
            interval = loc.get("sequenceInterval") or {}
            seq = (allele.get("literalSequenceExpression") or {}).get("sequence")
            try:
                start = int((interval.get("startNumber") or {}).get("value"))  # type: ignore[arg-type]  # None: TypeError, caught
            except (TypeError, ValueError):
                return None
            if where and seq:
                ref = vd.get("vrsRefAlleleSeq") or None
                return where[1], where[0], start + 1, ref, str(seq)
        return None

    # ------------------------------------------------------------------ treatments

    def action(self, d: CaseDraft, act: dict, path: str) -> None:
        outcome = None
        for k in ("responseToTreatment", "treatmentTerminationReason"):
            outcome = outcome or self.outcome(d, (act.get(k) or {}).get("label", ""))
        setting = setting_of((act.get("treatmentTarget") or {}).get("label", "")) or setting_of(
            (act.get("treatmentIntent") or {}).get("label", ""))
        if "treatment" in act:
            agent = (act["treatment"] or {}).get("agent") or {}
            label = agent.get("label") or ""
            drugs = self.drugs(label) if label else None
            if not drugs:
                self.error("therapy", f"unknown drug '{label or agent.get('id', '')}'", d.source, f"{path}.treatment.agent",
                           value=label or agent.get("id"), sample=d.id)
                d.unknown_history = True
                return
            intervals = (act["treatment"] or {}).get("doseIntervals") or []
            start = end = None
            for j, di in enumerate(intervals):
                iv = di.get("interval") or {}
                s0 = parse_date(iv.get("start"))
                e0 = self.period_end(d, s0, parse_date(iv.get("end")), f"{path}.treatment.doseIntervals[{j}].interval")
                start = s0 if start is None or (s0 and s0 < start) else start
                end = e0 if end is None or (e0 and e0 > end) else end
            self.add_line(d, start, [label], setting=setting, outcome=outcome, start=start, end=end)
            self.used("medical action (treatment)")
        elif "therapeuticRegimen" in act:
            reg = act["therapeuticRegimen"] or {}
            oc = reg.get("ontologyClass") or reg.get("externalReference") or {}
            label = oc.get("label") or oc.get("description") or ""
            if not label or not self.drugs(label):
                self.error("therapy", f"unknown regimen '{label or oc.get('id', '')}'", d.source,
                           f"{path}.therapeuticRegimen", value=label or oc.get("id"), sample=d.id)
                d.unknown_history = True
                return
            start = parse_date(reg.get("startTime", {}).get("timestamp"))
            end = self.period_end(d, start, parse_date(reg.get("endTime", {}).get("timestamp")),
                                  f"{path}.therapeuticRegimen.endTime")
            self.add_line(d, ("regimen", label, start), [], regimen=label, setting=setting, outcome=outcome, start=start, end=end)
            self.used("medical action (regimen)")
        elif "radiationTherapy" in act:
            self.skip("radiation therapy (not a systemic drug therapy)")
        elif "procedure" in act:
            self.skip("procedure (not a systemic drug therapy)")
        else:
            self.skip("medical action with no treatment")
