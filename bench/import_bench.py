"""Import speed per input format: ``python bench/import_bench.py`` (``--markdown`` for the README).

Each reader runs in-process (the vocabulary loaded once, outside the timing) on the real public
files beside the repository (``../shared/data``, skipped where absent) and on files generated here
at a larger size: VCF with VEP annotation and three samples, phenopackets, FHIR bundles. Reported:
rows (VCF calls, CNA cells, fusion rows, document elements) per second of CPU time and of wall
time, best of ``--repeat`` runs. Not a test: nothing here fails on a slow machine.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"

from engine.importers import make_document_reader, make_importer  # noqa: E402
from engine.importers.api import load_vocabulary  # noqa: E402


def timed(setup, fn, repeat: int) -> tuple[float, float, object]:
    """Best CPU and wall time of ``fn(setup())`` over ``repeat`` runs; ``setup`` is not timed."""
    best_cpu = best_wall = float("inf")
    out = None
    for _ in range(repeat):
        obj = setup()
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn(obj)
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return best_cpu, best_wall, out


# ----------------------------------------------------------------------------- generated inputs

CSQ = "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|HGVSc|HGVSp|CANONICAL|PICK"
GENES = ["KRAS", "TP53", "APC", "EGFR", "STK11", "KEAP1", "PIK3CA", "SMAD4", "TTN", "MUC16", "OR4F5", "BRAF"]


def write_vcf(path: Path, records: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    lines = ["##fileformat=VCFv4.2", "##reference=GRCh37",
             f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: {CSQ}">',
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "T1", "T2", "T3"])]
    for i in range(records):
        g = rnd.choice(GENES)
        cons = rnd.choice(["missense_variant", "synonymous_variant", "intron_variant", "stop_gained"])
        prot = f"ENSP0001:p.Ala{rnd.randint(2, 150)}Thr" if cons == "missense_variant" and g not in ("KRAS", "BRAF") else ""
        csq = "|".join(["T", cons, "MODERATE", g, "ENSG", "Transcript", "ENST", "protein_coding", "", prot, "YES", "1"])
        gts = [rnd.choice(["0/1", "0/0", "0/1", "./."]) for _ in range(3)]
        lines.append("\t".join(["1", str(1000 + i * 10), ".", "C", "T", ".", "PASS", f"CSQ={csq}", "GT", *gts]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def phenopacket(i: int) -> dict:
    drugs = ("carboplatin", "pemetrexed", "pembrolizumab")
    return {
        "id": f"pp{i}", "subject": {"id": f"s{i}"},
        "diseases": [{"term": {"id": "NCIT:C3512", "label": "Lung Adenocarcinoma"},
                      "diseaseStage": [{"id": "NCIT:C27971", "label": "Stage IV"}]}],
        "interpretations": [{"id": "i", "progressStatus": "SOLVED", "diagnosis": {
            "disease": {"id": "NCIT:C3512", "label": "Lung Adenocarcinoma"},
            "genomicInterpretations": [{"subjectOrBiosampleId": "b", "interpretationStatus": "CAUSATIVE",
                                        "variantInterpretation": {"variationDescriptor": {
                                            "id": "v", "geneContext": {"valueId": "HGNC:6407", "symbol": "KRAS"},
                                            "expressions": [{"syntax": "hgvs.p", "value": "NP_004976.2:p.Gly12Cys"}]}}}]}}],
        "medicalActions": [{"treatment": {"agent": {"id": "NCIT:C0", "label": d},
                                          "doseIntervals": [{"interval": {"start": "2025-01-06T00:00:00Z", "end": "2025-06-23T00:00:00Z"}}]},
                            "responseToTreatment": {"id": "NCIT:C35571", "label": "Progressive Disease"}} for d in drugs],
        "metaData": {"created": "2025-07-01T00:00:00Z", "createdBy": "bench", "phenopacketSchemaVersion": "2.0"},
    }


def bundle(i: int) -> dict:
    subj = {"reference": f"Patient/p{i}"}
    loinc = lambda code: {"coding": [{"system": "http://loinc.org", "code": code}]}  # noqa: E731
    comp = lambda code, disp: {"code": loinc(code), "valueCodeableConcept": {"coding": [{"system": "x", "code": disp, "display": disp}]}}  # noqa: E731
    entries = [
        {"resourceType": "Patient", "id": f"p{i}"},
        {"resourceType": "Condition", "id": "c", "subject": subj,
         "code": {"coding": [{"system": "http://ncit.nci.nih.gov", "code": "C3512", "display": "Lung Adenocarcinoma"}]},
         "stage": [{"summary": {"text": "Stage IV"}}]},
        {"resourceType": "Observation", "id": "v", "status": "final", "subject": subj, "code": loinc("69548-6"),
         "component": [comp("48018-6", "KRAS"), comp("48005-3", "NP_004976.2:p.Gly12Cys")]},
        {"resourceType": "Observation", "id": "r", "status": "final", "subject": subj, "code": loinc("53041-0"),
         "component": [comp("48018-6", g) for g in ("KRAS", "NRAS", "BRAF", "EGFR", "ALK")]},
    ] + [{"resourceType": "MedicationStatement", "id": d, "status": "completed", "subject": subj,
          "medicationCodeableConcept": {"text": d}, "effectivePeriod": {"start": "2025-01-06", "end": "2025-06-23"}}
         for d in ("carboplatin", "pemetrexed", "pembrolizumab")]
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in entries]}


# ----------------------------------------------------------------------------- runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--vcf-records", type=int, default=20000)
    ap.add_argument("--documents", type=int, default=1000)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    vocab = load_vocabulary()
    rows: list[tuple[str, str, int, float, float]] = []

    def run_importer(label: str, unit: str, path: Path | None, count, **kw) -> None:
        """Copy-number and fusion files are read when the importer is made: those runs time
        make_importer (their clinical file included); mutation files and VCFs time imp.run."""
        extras = bool(kw.get("cna") or kw.get("fusions"))

        def setup():
            return None if extras else make_importer(vocab=vocab, on_error=lambda r: None, **kw)

        def go(imp):
            if imp is None:
                imp = make_importer(vocab=vocab, on_error=lambda r: None, **kw)
            for _ in imp.run(path):
                pass
            return count(imp)
        cpu, wall, n = timed(setup, go, args.repeat)
        rows.append((label, unit, int(n), cpu, wall))

    def run_docs(label: str, kind: str, paths: list[Path]) -> None:
        def go(r):
            for _ in r.run(paths):
                pass
            return r.summary.elements
        cpu, wall, n = timed(lambda: make_document_reader(kind, vocab=vocab, on_error=lambda r: None), go, args.repeat)
        rows.append((label, "elements", int(n), cpu, wall))

    lung = DATA / "cbioportal" / "lung_msk_2017"
    tcga = DATA / "tcga_mutations" / "Firehose_COAD.nonsilent.maf.tsv.gz"
    pcgr = DATA / "pcgr_examples" / "T001-COAD.grch37.vcf.gz"
    if tcga.exists():
        run_importer("MAF, TCGA Firehose COAD (gzip)", "rows", tcga, lambda i: i.summary.rows, cancer_type="COAD", assay="exome")
    if lung.exists():
        run_importer("MAF, lung_msk_2017 (coordinates only)", "rows", lung / "data_mutations_extended.txt", lambda i: i.summary.rows,
                     clinical=[lung / "data_clinical_sample.txt"], assay="panel", panels=[lung / "data_gene_matrix.txt"])
        run_importer("cBioPortal CNA, lung_msk_2017 data_CNA.txt", "cells", None, lambda i: sum(c.read for c in i.extras.counts),
                     clinical=[lung / "data_clinical_sample.txt"], cna=[lung / "data_CNA.txt"])
        run_importer("cBioPortal fusions, lung_msk_2017", "rows", None, lambda i: sum(c.read for c in i.extras.counts),
                     clinical=[lung / "data_clinical_sample.txt"], fusions=[lung / "data_fusions.txt"])
    if pcgr.exists():
        run_importer("VCF, PCGR T001-COAD (bgzip, no annotation)", "calls", pcgr, lambda i: i.summary.rows,
                     cancer_type="COAD", assembly="GRCh37", input_format="vcf")
        seg = DATA / "pcgr_examples" / "T001-COAD.grch37.cna.tsv"
        run_importer("PCGR CNA segments", "rows", None, lambda i: sum(c.read for c in i.extras.counts),
                     cancer_type="COAD", assembly="GRCh37", cna=[seg])
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        vcf = t / "gen.vcf"
        write_vcf(vcf, args.vcf_records)
        run_importer(f"VCF, generated ({args.vcf_records:,} records x 3 samples, VEP CSQ)", "calls", vcf, lambda i: i.summary.rows,
                     cancer_type="LUAD", assay="exome", input_format="vcf")
        pp = t / "pp.json"
        pp.write_text(json.dumps([phenopacket(i) for i in range(args.documents)]), encoding="utf-8")
        run_docs(f"Phenopackets, generated ({args.documents:,} in one file)", "phenopacket", [pp])
        real = sorted((DATA / "phenopackets").glob("*.json"))
        if real:
            run_docs("Phenopackets, the 2 real examples", "phenopacket", real)
        fh = t / "bundles.json"
        fh.write_text(json.dumps([bundle(i) for i in range(args.documents)]), encoding="utf-8")
        run_docs(f"FHIR bundles, generated ({args.documents:,}, 8 resources each)", "fhir", [fh])

    if args.markdown:
        print("| input | items | per CPU-second | per second (wall) |")
        print("| --- | --- | --- | --- |")
        for label, unit, n, cpu, wall in rows:
            print(f"| {label} | {n:,} {unit} | {n / cpu:,.0f} | {n / wall:,.0f} |")
    else:
        w = max(len(r[0]) for r in rows)
        for label, unit, n, cpu, wall in rows:
            print(f"{label:<{w}}  {n:>9,} {unit:<8}  {n / cpu:>10,.0f}/CPU-s  {n / wall:>10,.0f}/s")


if __name__ == "__main__":
    main()
