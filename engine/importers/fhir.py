"""FHIR R4 bundles (Genomics Reporting IG, mCODE) -> one case per Patient.

Each entry's resource is validated with ``fhir.resources`` (R4B models, which read R4 resources): a
resource that does not validate is an error record naming the file and the entry's path
(``entry[3].resource.component.0.code``), and the rest of the bundle is still read.

Read, per patient (the resource's ``subject``/``patient`` reference; with one Patient, resources
without one belong to it):

- ``Condition``: the cancer type from ``code`` (an OncoTree coding, an NCIt coding mapped through the
  OncoTree file, or a name); ``stage[].summary`` where definitional (stage IV: metastatic). A condition
  with the mCODE secondary-cancer-condition profile is a metastasis: stage metastatic, not the type.
  Two Conditions naming distinct cancers (not one a finer type of the other) are two primary cancers:
  no case (an error record naming both) unless every variant Observation is tied to one of them
  (``Observation.focus`` or ``Condition.evidence.detail``) or ``--cancer-type`` names one; then
  variants and medications tied to the other are skipped, and a medication tied to neither makes the
  history unknown;
- ``Observation``, by LOINC code:
  - a variant (69548-6, or components 48018-6 gene studied with 48005-3 amino acid change, 48004-6 DNA
    change or 81290-9 genomic DNA change; value LA9633-4 present, LA9634-2 absent): the gene and the
    protein change, else the genomic change or the position and alleles (81254-5, 69547-8, 69551-0 with
    the assembly 62374-4 or reference sequence 48013-7) through the hotspot table, else a hotspot cDNA
    change; 48002-0 says germline (LA6683-2) or somatic; 53037-8 clinical significance (LA6668-3
    pathogenic, LA26332-9 likely pathogenic, LA26333-7 uncertain significance, LA26334-5 likely
    benign, LA6675-8 benign) gives the ``classification``; 48019-4 DNA change type copy number gain /
    loss or fusion, with 82155-3 copy number, gives amplification, loss or fusion (two genes studied:
    the second is the partner); a gene coded only by an HGNC id (``HGNC:6407``, no display) is read
    through the vocabulary, else through another coding of the same bundle that pairs that id with a
    symbol, else it is an error record naming the id;
  - a region studied (53041-0, with 48018-6 genes studied): ``tested_genes``;
  - stage group (21908-9, 21902-2, 21914-7) or distant metastasis (21907-1: M1) where definitional;
- ``MedicationStatement`` / ``MedicationAdministration`` (status completed, active or stopped): the
  drug (``medicationCodeableConcept``, or the referenced ``Medication``); statements starting the same
  day, sharing a ``basedOn`` or ``partOf`` reference (the regimen's CarePlan or RequestGroup; not
  when both are dated and start on different days, since one plan can span several lines), or
  ``partOf`` one another are one line; lines are ordered by start date; ``statusReason`` gives the
  outcome (negation read: "no evidence of progression" is not progression), a ``reasonReference`` to a
  secondary cancer condition or a treatment-intent extension the setting; the period gives the weeks;
- ``Procedure``, ``MedicationRequest`` and every other resource are counted, not read.

A patient with no medication resource has an unknown treatment history.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.errors import quote
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
from engine.importers.limits import DocumentError, load_json, read_document_text
from engine.importers.extras import DEFAULT_AMPLIFICATION_COPIES as AMPLIFICATION_COPIES

LOINC = "http://loinc.org"
VARIANT = "69548-6"
GENE = "48018-6"
PROTEIN = "48005-3"
CDNA = "48004-6"
GENOMIC = "81290-9"
SOURCE_CLASS = "48002-0"
ASSEMBLY = "62374-4"
REF_SEQ = "48013-7"
START_END = "81254-5"
REF_ALLELE = "69547-8"
ALT_ALLELE = "69551-0"
CHANGE_TYPE = "48019-4"
COPY_NUMBER = "82155-3"
REGION = "53041-0"
STAGE_CODES = ("21908-9", "21902-2", "21914-7", "21907-1")
ABSENT = "LA9634-2"
GERMLINE = "LA6683-2"
SIGNIFICANCE = "53037-8"  # genetic variation clinical significance: the case's ``classification``
CLASSIFICATIONS = {"LA6668-3": "pathogenic", "LA26332-9": "likely_pathogenic", "LA26333-7": "uncertain_significance",
                   "LA26334-5": "likely_benign", "LA6675-8": "benign"}
ASSEMBLIES = {"LA14029-5": "GRCh37", "LA26806-2": "GRCh38"}
GIVEN = ("completed", "active", "stopped")
# what --map can map: "stage", the text of a Condition's stage summary or of a stage observation's value
MAP_FIELDS = ("stage",)


#: Condition.clinicalStatus codes of a cancer that is not the one under treatment
_PAST_STATUS = frozenset({"resolved", "inactive", "remission"})


def _codings(cc: Any) -> list[dict]:
    return list((cc or {}).get("coding") or []) if isinstance(cc, dict) else []


def _has_code(cc: Any, code: str) -> bool:
    return any(c.get("code") == code for c in _codings(cc))


def _text(cc: Any) -> str:
    if not isinstance(cc, dict):
        return ""
    for c in _codings(cc):
        if c.get("display"):
            return str(c["display"])
    return str(cc.get("text") or (_codings(cc)[0].get("code") if _codings(cc) else "") or "")


def _value_text(comp: dict) -> str:
    if "valueCodeableConcept" in comp:
        cc = comp["valueCodeableConcept"]
        for c in _codings(cc):
            if c.get("code"):
                return str(c["code"])
        return str(cc.get("text") or "")
    for k in ("valueString", "valueInteger", "valueQuantity"):
        if k in comp:
            v = comp[k]
            return str(v.get("value")) if isinstance(v, dict) else str(v)
    return ""


def _profile(res: dict, word: str) -> bool:
    return any(word in str(p) for p in (res.get("meta") or {}).get("profile") or [])


class FhirReader(DocumentReader):
    """See the module docstring."""

    _classification: str | None = None  # the clinical significance (53037-8) of the variant being read

    def run(self, paths: list[Path] | Path | str) -> Iterator[dict]:
        paths = paths_of(paths)
        needs("fhir.resources", "FHIR bundles")
        from fhir.resources.R4B import get_fhir_model_class

        for path in paths:
            self.summary.files += 1
            try:
                data = load_json(read_document_text(path))
            except DocumentError as exc:
                self.summary.documents += 1
                self.error("document", exc.message, str(path), exc.field)
                continue
            bundles = data if isinstance(data, list) else [data]
            for bi, bundle in enumerate(bundles):
                self.summary.documents += 1
                where = f"[{bi}]." if isinstance(data, list) else ""
                if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
                    self.error("document", "not a FHIR Bundle (resourceType must be 'Bundle')", str(path), where + "resourceType")
                    continue
                with self.one_document(str(path), where.rstrip(".") or "$"):
                    yield from self.bundle(bundle, str(path), where, get_fhir_model_class)
        self.done()

    def bundle(self, bundle: dict, src: str, where: str, model_of: Any) -> Iterator[dict]:
        from pydantic import ValidationError

        resources: list[tuple[str, dict]] = []
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            self.error("document", "a Bundle's entry is a list of entries", src, f"{where}entry")
            entries = []
        for i, entry in enumerate(entries):
            path = f"{where}entry[{i}].resource"
            if not isinstance(entry, dict):
                self.error("resource", "an entry is a JSON object with a resource", src, f"{where}entry[{i}]")
                continue
            res = entry.get("resource")
            if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
                self.error("resource", "an entry needs a resource with a resourceType", src, path)
                continue
            try:
                model = model_of(res["resourceType"])
            except (KeyError, ValueError):  # (fhir.resources says ValueError: "... is not a valid FHIR Model")
                self.error("resource", f"unknown FHIR resource type {quote(res['resourceType'])}", src,
                           f"{path}.resourceType", value=res["resourceType"])
                continue
            try:
                model.model_validate(res)
            except ValidationError as exc:
                e = exc.errors(include_url=False)[0]
                loc = ".".join(str(x) for x in e["loc"])
                self.error("resource", f"not a valid FHIR {res['resourceType']}: {loc}: {e['msg']}", src,
                           f"{path}.{loc}" if loc else path)
                continue
            resources.append((path, res))

        patients = [(p, r) for p, r in resources if r["resourceType"] == "Patient"]
        by_ref = {f"Patient/{r.get('id')}": r.get("id") for _, r in patients}
        only = patients[0][1].get("id") if len(patients) == 1 else None
        drafts: dict[str, CaseDraft] = {}
        for _, r in patients:
            self.used("Patient")
            new_id = str(r.get("id") or f"patient{len(drafts) + 1}")
            drafts[new_id] = CaseDraft(new_id, src)
        index = {f"{r['resourceType']}/{r.get('id')}": r for _, r in resources if r.get("id")}
        if not drafts:
            drafts["bundle"] = CaseDraft(str(bundle.get("id") or Path(src).name.split(".")[0]), src)
            only = "bundle"
        med_seen: set[str] = set()
        self._hgnc: dict[str, str | None] = {}
        for _, r in resources:
            self._learn_hgnc(r)
        self._primary_ref: dict[str, str] = {}  # "Condition/id" -> OncoTree code, primary cancers only
        self._chosen: dict[str, str] = {}  # patient -> the primary cancer chosen among several
        self._tied: dict[str, str] = {}  # "Observation/id" -> the primary cancer code it is tied to
        self._past: set[str] = set()  # paths of cancer Conditions marked resolved, inactive or in remission
        self._meds: dict[str, list[dict]] = {}

        routed: list[tuple[str, dict, str | None]] = []
        for path, r in resources:
            rt = r["resourceType"]
            if rt == "Patient":
                continue
            ref = ((r.get("subject") or r.get("patient") or {}) or {}).get("reference")
            pid = by_ref.get(ref) if ref else only
            if pid is None and ref is None and len(drafts) == 1:
                pid = next(iter(drafts))
            routed.append((path, r, pid))
        # Conditions first: which cancer the case is must be known before its findings are read
        for path, r, pid in routed:
            if r["resourceType"] == "Condition" and pid is not None:
                self.condition(drafts[pid], r, path)
        for pid, d in drafts.items():
            self._settle_cancer(pid, d, [r for _, r, p in routed if p == pid])

        for path, r, pid in routed:
            rt = r["resourceType"]
            if pid is None:
                self.skip(f"{rt} of no patient in this bundle")
                continue
            d = drafts[pid]
            if rt == "Condition":
                continue  # read above
            elif rt == "Observation":
                other = self._tied.get(f"Observation/{r.get('id')}")
                if pid in self._chosen and other is not None and not self.related(other, self._chosen[pid]):
                    self.skip("Observation of another primary cancer of the patient")
                    continue
                self.observation(d, r, path)
            elif rt in ("MedicationStatement", "MedicationAdministration"):
                self.medication(d, r, path, index, pid)
                med_seen.add(pid)
            elif rt == "Medication":
                self.skip("Medication (read where a statement refers to it)")
            elif rt == "Procedure":
                self.skip("Procedure (not a systemic drug therapy)")
            elif rt == "MedicationRequest":
                self.skip("MedicationRequest (a request, not a therapy given)")
            else:
                self.skip(f"{rt} (not read)")
        for pid, d in drafts.items():
            self._lines(d, self._meds.get(pid, []))
            if pid in med_seen and d.lines is None and not d.unknown_history:
                d.lines = []
            case = self.finish(d)
            if case is not None:
                yield case

    def _learn_hgnc(self, value: Any) -> None:
        """Every coding of the bundle that pairs an HGNC id with a symbol (see ``gene_by_id``)."""
        self.learn_hgnc_in(self._hgnc, value, lambda c: (str(c.get("system") or ""), c["code"], str(c["display"]))
                           if isinstance(c.get("code"), str) and c.get("display") else None)

    def _gene(self, comp: dict) -> tuple[str | None, str, str | None]:
        """A gene-studied component: ``(gene, as named, HGNC id)``; the id is given when the gene is
        coded only by an HGNC id that cannot be resolved (an error for the caller to report)."""
        cc = comp.get("valueCodeableConcept")
        named = _text(cc) or _value_text(comp)
        gene = self.gene(named)
        if gene is not None:
            return gene, named, None
        ids = [h for h in (hgnc_id(str(c.get("system") or ""), str(c.get("code") or "")) for c in _codings(cc)) if h]
        if not ids and "valueString" in comp:
            ids = [h for h in [hgnc_id("", str(comp["valueString"]))] if h]
        for hid in ids:
            gene = self.gene_by_id(hid, self._hgnc)
            if gene is not None:
                return gene, gene, None
        said = any(c.get("display") for c in _codings(cc)) or (isinstance(cc, dict) and cc.get("text"))
        return None, named, (ids[0] if ids and not said else None)

    def _settle_cancer(self, pid: str, d: CaseDraft, mine: list[dict]) -> None:
        """The case's cancer type among its primary cancers (see the module docstring)."""
        if len(self.distinct_primaries(d)) > 1:
            for r in mine:
                if r["resourceType"] != "Condition" or f"Condition/{r.get('id')}" not in self._primary_ref:
                    continue
                code = self._primary_ref[f"Condition/{r.get('id')}"]
                for ev in r.get("evidence") or []:
                    for det in (ev or {}).get("detail") or []:
                        self._tied[str((det or {}).get("reference", ""))] = code
            for r in mine:
                if r["resourceType"] != "Observation":
                    continue
                for f in r.get("focus") or []:
                    focus = self._primary_ref.get(str((f or {}).get("reference", "")))
                    if focus is not None:
                        self._tied[f"Observation/{r.get('id')}"] = focus
            variants = [r for r in mine if r["resourceType"] == "Observation" and self._is_variant(r)]
            tied = [self._tied.get(f"Observation/{r.get('id')}") for r in variants]
            attributed = {t for t in tied if t is not None} if variants and all(tied) else None
            past = [p for p in d.primaries if p[2] in self._past]
            if (attributed is None and not any(tied) and past and len(past) < len(d.primaries)):
                # nothing ties the findings to a cancer: one the record marks resolved, inactive or
                # in remission is history, not the cancer evaluated, when another is active
                d.primaries[:] = [p for p in d.primaries if p[2] not in self._past]
                self.remark("a cancer Condition marked resolved, inactive or in remission was not taken as the "
                            "case's cancer (another is active, and nothing ties the findings to either)", d.id,
                            ", ".join(p[0] for p in past))
            chosen = self.settle_primaries(d, attributed, "Observation.focus or Condition.evidence",
                                           "an Observation.focus or Condition.evidence.detail tying the variant "
                                           "Observations to one Condition", "Condition")
            if chosen is not None:
                self._chosen[pid] = chosen
        else:
            self.settle_primaries(d, None, "", "", "Condition")

    @staticmethod
    def _is_variant(r: dict) -> bool:
        code = r.get("code")
        if any(_has_code(code, c) for c in (REGION, *STAGE_CODES)) or _profile(r, "region-studied"):
            return False
        comps = {str(cd.get("code")) for c in r.get("component") or [] for cd in _codings((c or {}).get("code"))}
        return _has_code(code, VARIANT) or _profile(r, "variant") or (
            GENE in comps and bool(comps & {PROTEIN, CDNA, GENOMIC}))

    def _lines(self, d: CaseDraft, meds: list[dict]) -> None:
        """Medications into lines: those starting the same day, sharing a basedOn / partOf reference
        (unless both are dated and start on different days: a plan can span lines) or part of one
        another are one line (see the module docstring)."""
        parent = list(range(len(meds)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        seen: dict[Any, int] = {}
        for i, m in enumerate(meds):
            tokens = [("ref", t) for t in m["refs"]] + ([("start", m["start"])] if m["start"] is not None else [])
            tokens += [("ref", m["own"])] if m["own"] else []
            for t in tokens:
                if t in seen:
                    o = meds[seen[t]]
                    # a shared plan (a CarePlan both are basedOn) spans lines: two medications of it
                    # started on different days are two lines; one part of the other is one line
                    a, b = m["start"] or m["rough"], o["start"] or o["rough"]  # (a month or year: its first day)
                    if t[0] == "ref" and t[1] not in (m["own"], o["own"]) and a is not None and b is not None and a != b:
                        continue
                    parent[root(i)] = root(seen[t])
                else:
                    seen[t] = i
        size: dict[int, int] = {}
        for i in range(len(meds)):
            size[root(i)] = size.get(root(i), 0) + 1
        for i, m in enumerate(meds):
            g = root(i)
            key = None if size[g] == 1 and m["start"] is None else ("line", g)
            self.add_line(d, key, [m["name"]], setting=m["setting"], outcome=m["outcome"], start=m["start"], end=m["end"],
                          order=m["rough"])

    # ------------------------------------------------------------------ resources

    def condition(self, d: CaseDraft, r: dict, path: str) -> None:
        secondary = _profile(r, "secondary-cancer-condition")
        for st in r.get("stage") or []:
            d.values.setdefault("stage", _text(st.get("summary")))
            stage = stage_of(_text(st.get("summary")))
            if stage:
                d.stage = stage
        if secondary:
            d.stage = "metastatic"
            self.used("Condition (metastasis)")
            return
        got, why = None, "no code"
        for c in _codings(r.get("code")):
            got, why = self.cancer_from_coding(str(c.get("system", "")), str(c.get("code", "")), str(c.get("display", "")))
            if got:
                break
        if got is None and (r.get("code") or {}).get("text"):
            got, why = self.cancer_from_coding("", "", r["code"]["text"])
        if got is None:
            d.cancer_tried.append(f"{path}.code: {why}")
            self.skip("Condition that is not a cancer type the vocabulary knows")
            return
        shown = _text(r.get("code")) or got
        if any(str(c.get("code", "")).lower() in _PAST_STATUS for c in _codings(r.get("clinicalStatus"))):
            self._past.add(f"{path}.code")
        self.add_primary(d, got, shown, f"{path}.code")
        if r.get("id"):
            self._primary_ref[f"Condition/{r['id']}"] = got
        self.used("Condition")

    def observation(self, d: CaseDraft, r: dict, path: str) -> None:
        code = r.get("code")
        comps: dict[str, list[dict]] = {}
        at: dict[int, int] = {}  # id(component) -> its index
        for j, c in enumerate(r.get("component") or []):
            at[id(c)] = j
            for cd in _codings(c.get("code")):
                comps.setdefault(str(cd.get("code")), []).append(c)
        read = [(c, self._gene(c)) for c in comps.get(GENE, [])]
        lost = [(c, hid) for c, (_, _, hid) in read if hid]
        if _has_code(code, REGION) or _profile(r, "region-studied"):
            if d.tested is None:
                d.tested = set()
            d.tested.update(g for _, (g, _, _) in read if g)
            if lost:  # their test status stays unknown (never wild-type); said, not dropped
                self.hgnc_error(d, [h for _, h in lost], f"{path}.component[{at[id(lost[0][0])]}]",
                                "genes studied", count=False)
            self.used("Observation (region studied)")
            return
        if any(_has_code(code, s) for s in STAGE_CODES):
            value = _text(r.get("valueCodeableConcept")) or str(r.get("valueString") or "")
            d.values.setdefault("stage", value)
            stage = stage_of(value) or (stage_of("M1") if _has_code(code, "21907-1") and value.upper().startswith(("M1", "CM1", "PM1")) else None)
            if stage:
                d.stage = stage
            self.used("Observation (stage)")
            return
        if not (_has_code(code, VARIANT) or _profile(r, "variant") or (GENE in comps and (PROTEIN in comps or CDNA in comps or GENOMIC in comps))):
            self.skip("Observation not about a variant, region studied or stage")
            return
        if _has_code(r.get("valueCodeableConcept"), ABSENT):
            self.skip("variant reported absent")
            return
        if lost:
            for _, (g, _, _) in read:
                if g:
                    d.unresolved.add(g)
            self.hgnc_error(d, [h for _, h in lost], f"{path}.component[{at[id(lost[0][0])]}]", "the variant's gene")
            return
        genes = [g for _, (g, _, _) in read if g]
        named = [n for _, (_, n, _) in read]
        origin = "germline" if any(_has_code(c.get("valueCodeableConcept"), GERMLINE) for c in comps.get(SOURCE_CLASS, [])) else "somatic"
        self._classification = next((CLASSIFICATIONS[str(cd.get("code"))] for c in comps.get(SIGNIFICANCE, [])
                                     for cd in _codings(c.get("valueCodeableConcept")) if str(cd.get("code")) in CLASSIFICATIONS), None)
        first = lambda k: _value_text(comps[k][0]) if comps.get(k) else ""  # noqa: E731
        change_type = " ".join(_text(c.get("valueCodeableConcept")).lower() for c in comps.get(CHANGE_TYPE, []))
        structural = any(w in change_type for w in ("copy", "amplif", "fusion"))
        # "deletion" (Sequence Ontology's small deletion) is a copy-number loss only where nothing
        # gives a sequence change, or a copy number is given: a cDNA or genomic deletion is a variant
        sequence = comps.get(PROTEIN) or comps.get(CDNA) or comps.get(GENOMIC)
        if change_type and (structural or ("deletion" in change_type and (not sequence or comps.get(COPY_NUMBER)))):
            self.structural(d, genes, named, change_type, first(COPY_NUMBER), origin, path)
            return
        if not genes:
            if named and any(named):
                if not self.misspelt(d, [str(n) for n in named if n], f"{path}.component({GENE})"):
                    self.skip("gene not in the vocabulary")
                return
        gene = genes[0] if genes else None
        p_text = first(PROTEIN)
        if gene and p_text:
            self._add(d, gene, p_text.split(":", 1)[-1], f"{path}.component({PROTEIN})", origin)
            return
        coords = self._coordinates(comps, first)
        if coords is not None:
            where_gene, dec = self.decode(*coords)
            gene = gene or where_gene
            if self.settle_decoded(d, gene, dec, path, origin, self._add):
                return
        if gene is None:
            self.skip("variant with no gene named and not at a codon of the hotspot table")
            return
        c_text = first(CDNA)
        if c_text:
            self._add(d, gene, c_text, f"{path}.component({CDNA})", origin)
            return
        self.error("variant", "no amino acid change (48005-3), hotspot coordinates or cDNA change (48004-6)",
                   d.source, path, sample=d.id, gene=gene)
        d.unresolved.add(gene)

    def structural(self, d: CaseDraft, genes: list[str], named: list[str], change_type: str, copies: str, origin: str,
                   path: str) -> None:
        if not genes:
            self.skip("gene not in the vocabulary")
            return
        n: float | None
        try:
            n = float(copies) if copies else None
        except ValueError:
            n = None
        if "fusion" in change_type:
            partner = genes[1] if len(genes) > 1 else None
            ok = self.add_variant(d, genes[0], "fusion", path, origin, partner=partner, classification=self._classification,
                                  detail="-".join(x for x in named if x) or None)
        elif "gain" in change_type or "amplif" in change_type:
            if n is not None and n < AMPLIFICATION_COPIES:
                self.skip(f"copy number gain below {AMPLIFICATION_COPIES} copies (not an amplification)")
                return
            ok = self.add_variant(d, genes[0], "amplification", path, origin, cna=2, copy_number=n,
                                  classification=self._classification)
        elif n == 0 or "homozygous" in change_type:
            ok = self.add_variant(d, genes[0], "loss", path, origin, cna=-2, copy_number=n,
                                  classification=self._classification)
        else:
            self.skip("copy number loss of one copy (not an alteration)")
            return
        if ok:
            self.used("Observation (variant)")
        else:
            self.summary.elements += 1
            self.summary.skipped["error record"] += 1

    def _add(self, d: CaseDraft, gene: str, text: str, path: str, origin: str) -> None:
        if self.add_variant(d, gene, text, path, origin, classification=self._classification):
            self.used("Observation (variant)")
        else:
            self.summary.elements += 1
            self.summary.skipped["error record"] += 1

    def _coordinates(self, comps: dict, first: Any) -> tuple[str | None, str, int, str | None, str] | None:
        asm = None
        for c in comps.get(ASSEMBLY, []):
            v = _value_text(c)
            asm = ASSEMBLIES.get(v) or self.table.assembly(_text(c.get("valueCodeableConcept")) or v) or asm
        g = first(GENOMIC)
        if g:
            hit = self.genomic_hgvs(g)
            if hit:
                return hit
        ref_seq = first(REF_SEQ)
        start = None
        for c in comps.get(START_END, []):
            low = ((c.get("valueRange") or {}).get("low") or {}).get("value")
            if low is not None:
                start = int(low)
        alt = first(ALT_ALLELE)
        if start is None or not alt:
            return None
        where = refseq_chromosome(ref_seq) if ref_seq else None
        if where is None:
            return None
        return asm or where[1], where[0], start, first(REF_ALLELE) or None, alt

    def medication(self, d: CaseDraft, r: dict, path: str, index: dict, pid: str) -> None:
        status = str(r.get("status") or "")
        if status not in GIVEN:
            self.skip(f"{r['resourceType']} with status '{status}' (not a therapy given)")
            return
        cc = r.get("medicationCodeableConcept")
        if cc is None and r.get("medicationReference"):
            med = index.get(str(r["medicationReference"].get("reference", "")))
            cc = (med or {}).get("code")
        name = _text(cc) if cc else ""
        drugs = self.drugs(name) if name else None
        if not drugs:
            for c in _codings(cc):
                if c.get("display") and self.drugs(str(c["display"])):
                    name, drugs = str(c["display"]), True  # type: ignore[assignment]  # only "found" matters below
                    break
        if not drugs and cc and cc.get("text") and self.drugs(cc["text"]):
            name, drugs = cc["text"], True  # type: ignore[assignment]  # only "found" matters below
        if not drugs:
            self.error("therapy", f"unknown drug '{name}'", d.source, f"{path}.medication", value=name, sample=d.id)
            d.unknown_history = True
            return
        chosen = self._chosen.get(pid)
        if chosen is not None:
            tied = [self._primary_ref[str((rr or {}).get("reference", ""))] for rr in r.get("reasonReference") or []
                    if str((rr or {}).get("reference", "")) in self._primary_ref]
            if tied and not any(self.related(t, chosen) for t in tied):
                self.skip(f"{r['resourceType']} for another primary cancer of the patient")
                return
            if not tied:
                self.remark("two primary cancers: a medication tied to neither (reasonReference) makes the "
                            "treatment history unknown", d.id)
                d.unknown_history = True
        period = r.get("effectivePeriod") or {}
        start = parse_date(period.get("start") or r.get("effectiveDateTime"))
        end = self.period_end(d, start, parse_date(period.get("end")), f"{path}.effectivePeriod")
        rough = None if start is not None else parse_date(period.get("start") or r.get("effectiveDateTime"), partial=True)
        outcome = None
        for sr in r.get("statusReason") or []:
            outcome = outcome or self.outcome(d, _text(sr))
        setting = None
        for rr in r.get("reasonReference") or []:
            target = index.get(str(rr.get("reference", "")))
            if target is not None and _profile(target, "secondary-cancer-condition"):
                setting = "metastatic"
        for ext in r.get("extension") or []:
            if "intent" in str(ext.get("url", "")).lower():
                setting = setting or setting_of(_text(ext.get("valueCodeableConcept")))
        refs = {str((x or {}).get("reference")) for k in ("basedOn", "partOf") for x in r.get(k) or []
                if isinstance(x, dict) and x.get("reference")}
        own = f"{r['resourceType']}/{r['id']}" if r.get("id") else None
        self._meds.setdefault(pid, []).append({"name": name, "start": start, "end": end, "rough": rough, "setting": setting,
                                               "outcome": outcome, "refs": refs, "own": own})
        self.used(r["resourceType"])
