"""GA4GH Phenopackets and FHIR bundles: the two real example phenopackets (format only, no KRAS),
phenopackets and bundles written here for a KRAS G12C lung adenocarcinoma after chemo-immunotherapy,
each imported and evaluated end to end, and the same content as a case JSON giving the same result."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from engine.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
PHENO = ROOT.parent / "shared" / "data" / "phenopackets"
CASE = ROOT / "cases" / "luad-g12c-second-line.json"

pytest.importorskip("phenopackets", reason="phenopackets (the 'import' extra) is not installed")
pytest.importorskip("fhir.resources", reason="fhir.resources (the 'import' extra) is not installed")


def real(name: str) -> Path:
    p = PHENO / name
    if not p.exists():
        pytest.skip(f"shared data not available: phenopackets/{name}")
    return p


@pytest.fixture(scope="module")
def vocab():
    from engine.importers.api import load_vocabulary

    return load_vocabulary()


def read(vocab, kind: str, paths: list[Path], **kw):
    from engine.importers import make_document_reader

    errors: list[dict] = []
    r = make_document_reader(kind, vocab=vocab, on_error=errors.append, **kw)
    cases = list(r.run(paths))
    return cases, errors, r.summary


def accounted(s) -> None:
    assert s.elements == sum(s.used.values()) + sum(s.skipped.values())


def result_json(case: dict) -> dict:
    from engine.api import evaluate

    return json.loads(evaluate(case).model_dump_json())


# ----------------------------------------------------------------------------- phenopackets

INTERVAL = {"interval": {"start": "2025-01-06T00:00:00Z", "end": "2025-06-23T00:00:00Z"}}
PROGRESSION = {"id": "NCIT:C35571", "label": "Progressive Disease"}


def phenopacket(variant: dict | None = None, **over) -> dict:
    vd = {"id": "v1", "geneContext": {"valueId": "HGNC:6407", "symbol": "KRAS"},
          "expressions": [{"syntax": "hgvs.p", "value": "NP_004976.2:p.Gly12Cys"}]}
    if variant is not None:
        vd = variant
    p = {
        "id": "luad-g12c-pp",
        "subject": {"id": "patient-1"},
        "diseases": [{"term": {"id": "NCIT:C3512", "label": "Lung Adenocarcinoma"},
                      "diseaseStage": [{"id": "NCIT:C27971", "label": "Stage IV"}]}],
        "interpretations": [{"id": "i1", "progressStatus": "SOLVED", "diagnosis": {
            "disease": {"id": "NCIT:C3512", "label": "Lung Adenocarcinoma"},
            "genomicInterpretations": [{"subjectOrBiosampleId": "tumour-1", "interpretationStatus": "CAUSATIVE",
                                        "variantInterpretation": {"variationDescriptor": vd}}]}}],
        "medicalActions": [
            {"treatment": {"agent": {"id": cid, "label": name}, "doseIntervals": [INTERVAL]},
             "treatmentTarget": {"id": "NCIT:C3512", "label": "metastatic lung adenocarcinoma"},
             "responseToTreatment": PROGRESSION}
            for cid, name in (("NCIT:C1282", "carboplatin"), ("NCIT:C1520", "pemetrexed"), ("NCIT:C106432", "pembrolizumab"))
        ],
        "metaData": {"created": "2025-07-01T00:00:00Z", "createdBy": "tutor", "phenopacketSchemaVersion": "2.0"},
    }
    p.update(over)
    return p


def test_real_phenopackets_are_read_and_every_element_counted(vocab):
    cases, errors, s = read(vocab, "phenopacket", [real("phenopacket-tools_io_v2_phenopacket.json"),
                                                     real("phenopacket-tools_retinoblastoma.json")])
    accounted(s)
    assert s.documents == 2
    # a Pfeiffer syndrome phenopacket is not a cancer: an error record, no case
    assert [e["error"]["kind"] for e in errors if e["error"]["kind"] == "cancer_type"] == ["cancer_type"]
    assert "OMIM:101600" in next(e for e in errors if e["error"]["kind"] == "cancer_type")["error"]["message"]
    (rb,) = cases
    assert rb["cancer_type"] == "RBL"  # NCIT:C7541 through the OncoTree file's NCIt references
    # the variant interpretation's ACMG class is kept (a rule asking for a deleterious change reads it)
    assert rb["alterations"] == [{"gene": "RB1", "variant": "p.Arg320Ter", "classification": "pathogenic"}]
    # melphalan is unknown to the vocabulary: an error record with its path, and the history is then
    # unknown (never "none"), though the regimen "Carboplatin/Etoposide/Vincristine" is read
    paths = sorted(e["error"]["field"] for e in errors if e["error"]["kind"] == "therapy")
    assert paths == ["medicalActions[0].treatment.agent"]
    assert "prior_therapies" not in rb


def test_phenopacket_g12c_luad_after_chemo_immunotherapy_is_eligible_for_sotorasib(vocab, tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(phenopacket()), encoding="utf-8")
    cases, errors, s = read(vocab, "phenopacket", [path])
    assert errors == []
    (case,) = cases
    assert case["cancer_type"] == "LUAD" and case["stage"] == "metastatic"
    assert case["prior_therapies"] == [{"drugs": ["carboplatin", "pemetrexed", "pembrolizumab"], "setting": "metastatic",
                                        "outcome": "progression", "weeks": 24.0}]
    assert "tested_genes" not in case
    accounted(s)
    r = result_json(dict(case, as_of="2026-07-01"))
    soto = next(o for o in r["options"] if o["therapy"] == "sotorasib")
    assert soto["verdict"] == "eligible"


def test_phenopacket_acmg_class_of_a_germline_variant_is_kept(vocab, tmp_path):
    p = phenopacket({"id": "v", "geneContext": {"valueId": "HGNC:1101", "symbol": "BRCA2"},
                     "expressions": [{"syntax": "hgvs.p", "value": "NP_000050.3:p.Asn372His"}]})
    gi = p["interpretations"][0]["diagnosis"]["genomicInterpretations"][0]
    gi["subjectOrBiosampleId"] = "patient-1"  # the subject: a germline finding
    gi["variantInterpretation"]["acmgPathogenicityClassification"] = "BENIGN"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(p), encoding="utf-8")
    (case,), errors, _ = read(vocab, "phenopacket", [path])
    assert errors == []
    assert case["alterations"] == [{"gene": "BRCA2", "variant": "p.Asn372His", "origin": "germline", "classification": "benign"}]
    gi["variantInterpretation"]["acmgPathogenicityClassification"] = "NOT_PROVIDED"  # not stated: no field
    path.write_text(json.dumps(p), encoding="utf-8")
    (case,), _, _ = read(vocab, "phenopacket", [path])
    assert "classification" not in case["alterations"][0]
    # a deletion of the gene keeps its class too (a benign one is no deleterious loss)
    gi["variantInterpretation"]["acmgPathogenicityClassification"] = "BENIGN"
    gi["variantInterpretation"]["variationDescriptor"] = {
        "id": "cnv", "geneContext": {"valueId": "HGNC:1101", "symbol": "BRCA2"},
        "variation": {"copyNumber": {"number": {"value": "0"}}}}
    path.write_text(json.dumps(p), encoding="utf-8")
    (case,), _, _ = read(vocab, "phenopacket", [path])
    assert case["alterations"][0]["variant"] == "loss" and case["alterations"][0]["classification"] == "benign"


def test_phenopacket_yaml_and_variant_forms(vocab, tmp_path):
    forms = {
        "vcf": {"id": "v", "vcfRecord": {"genomeAssembly": "GRCh37", "chrom": "12", "pos": "25398285", "ref": "C", "alt": "A"}},
        "vrs": {"id": "v", "variation": {"allele": {
            "sequenceLocation": {"sequenceId": "refseq:NC_000012.12",
                                 "sequenceInterval": {"startNumber": {"value": "25245350"}, "endNumber": {"value": "25245351"}}},
            "literalSequenceExpression": {"sequence": "A"}}}},
        "hgvs.g": {"id": "v", "expressions": [{"syntax": "hgvs.g", "value": "NC_000012.11:g.25398285C>A"}]},
        "hgvs.c": {"id": "v", "geneContext": {"valueId": "HGNC:6407", "symbol": "KRAS"},
                   "expressions": [{"syntax": "hgvs.c", "value": "NM_004985.5:c.34G>T"}]},
    }
    for name, vd in forms.items():
        path = tmp_path / f"{name.replace('.', '_')}.yaml"
        path.write_text(yaml.safe_dump(phenopacket(vd)), encoding="utf-8")
        cases, errors, _ = read(vocab, "phenopacket", [path])
        assert errors == [], name
        (case,) = cases
        assert case["alterations"][0]["gene"] == "KRAS", name
        got = result_json(dict(case, as_of="2026-07-01"))
        assert next(o for o in got["options"] if o["therapy"] == "sotorasib")["verdict"] == "eligible", name


def test_phenopacket_position_past_its_chromosome_s_end_is_an_error_and_leaves_its_genes_unknown(vocab, tmp_path):
    """A genomic HGVS or VCF record past chromosome 12's end was "a variant with no gene named and
    not at a codon of the hotspot table" (a skip): it is an error naming the variant's path, and
    KRAS (the gene named, or the genes read from that chromosome) stays unknown, never wild-type."""
    forms = {
        "hgvs.g": {"id": "v", "expressions": [{"syntax": "hgvs.g", "value": "NC_000012.11:g.133851896C>A"}]},
        "vcf": {"id": "v", "geneContext": {"valueId": "HGNC:6407", "symbol": "KRAS"},
                "vcfRecord": {"genomeAssembly": "GRCh38", "chrom": "12", "pos": "133275310", "ref": "C", "alt": "A"}},
    }
    for name, vd in forms.items():
        path = tmp_path / f"{name.replace('.', '_')}.json"
        path.write_text(json.dumps(phenopacket(vd)), encoding="utf-8")
        cases, errors, _ = read(vocab, "phenopacket", [path], assay="exome")
        (e,) = errors
        assert e["error"]["kind"] == "coordinates" and "past the end of chromosome 12" in e["error"]["message"], name
        assert e["error"]["field"].endswith("variationDescriptor"), name
        (case,) = cases
        assert case["alterations"] == [], name
        assert "KRAS" not in case["tested_genes"] and "BRAF" in case["tested_genes"], name


def test_hand_written_yaml_with_unquoted_timestamps(vocab, tmp_path):
    text = yaml.safe_dump(phenopacket()).replace("'2025-07-01T00:00:00Z'", "2025-07-01T00:00:00Z")
    text = text.replace("'2025-01-06T00:00:00Z'", "2025-01-06T00:00:00Z").replace("'2025-06-23T00:00:00Z'", "2025-06-23")
    assert "'2025" not in text
    path = tmp_path / "p.yml"
    path.write_text(text, encoding="utf-8")
    cases, errors, _ = read(vocab, "phenopacket", [path])
    assert errors == [] and cases[0]["prior_therapies"][0]["weeks"] == 24.0


def test_phenopacket_unknowns_stay_unknown(vocab, tmp_path):
    p = phenopacket()
    del p["medicalActions"]
    p["diseases"][0]["diseaseStage"] = [{"id": "NCIT:C27970", "label": "Stage III"}]
    p["interpretations"][0]["diagnosis"]["genomicInterpretations"].append(
        {"subjectOrBiosampleId": "tumour-1", "interpretationStatus": "CANDIDATE", "gene": {"valueId": "HGNC:7989", "symbol": "NRAS"}})
    path = tmp_path / "p.json"
    path.write_text(json.dumps(p), encoding="utf-8")
    cases, errors, s = read(vocab, "phenopacket", [path], assay="exome")
    (case,) = cases
    assert "prior_therapies" not in case  # no medical actions: history unknown, not "none"
    assert "stage" not in case  # stage III is not definitional: unknown
    assert "NRAS" not in case["tested_genes"] and "KRAS" in case["tested_genes"]  # a gene without its change: unknown
    accounted(s)


def test_map_gives_what_a_document_does_not_say(vocab, tmp_path):
    p = phenopacket()
    p["diseases"][0]["diseaseStage"] = [{"id": "NCIT:C27970", "label": "Stage IIIB"}]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(p), encoding="utf-8")
    m = tmp_path / "map.yaml"
    m.write_text("stage: {column: diseaseStage, values: {Stage IIIB: locally_advanced}}\n", encoding="utf-8")
    cases, errors, s = read(vocab, "phenopacket", [path], field_map=m)
    assert errors == [] and cases[0]["stage"] == "locally_advanced"
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: {column: STAGE, values: {IV: metastatic}}\n", encoding="utf-8")
    with pytest.raises(UsageError, match="diseaseStage"):
        read(vocab, "phenopacket", [path], field_map=bad)
    case = json.loads(CASE.read_text(encoding="utf-8"))
    b = bundle_from_case(case)
    b["entry"] = [e for e in b["entry"] if "secondary" not in json.dumps(e)]
    b["entry"][1]["resource"]["stage"] = [{"summary": {"text": "IIIA"}}]
    for e in b["entry"]:
        e["resource"].pop("reasonReference", None)
    bp = tmp_path / "b.json"
    bp.write_text(json.dumps(b), encoding="utf-8")
    fm = tmp_path / "fmap.yaml"
    fm.write_text("stage: {column: stage, values: {IIIA: locally_advanced}}\n", encoding="utf-8")
    cases, errors, _ = read(vocab, "fhir", [bp], field_map=fm)
    assert errors == [] and cases[0]["stage"] == "locally_advanced"
    cases, _, s = read(vocab, "fhir", [bp])
    assert "stage" not in cases[0]


def test_invalid_phenopacket_is_an_error_record_and_the_others_are_read(vocab, tmp_path):
    good, bad = phenopacket(), phenopacket(id="bad")
    bad["subject"]["favouriteColour"] = "blue"
    path = tmp_path / "two.json"
    path.write_text(json.dumps([bad, good]), encoding="utf-8")
    cases, errors, s = read(vocab, "phenopacket", [path])
    assert [c["id"] for c in cases] == ["luad-g12c-pp"]
    (e,) = errors
    assert e["error"]["kind"] == "document" and "favouriteColour" in e["error"]["message"] and e["error"]["field"] == "[0]"
    accounted(s)


def test_revoked_oncotree_code_in_a_phenopacket(vocab, tmp_path):
    p = phenopacket(diseases=[{"term": {"id": "ONCOTREE:GBM", "label": "Glioblastoma"}}])
    path = tmp_path / "p.json"
    path.write_text(json.dumps(p), encoding="utf-8")
    cases, _, s = read(vocab, "phenopacket", [path])
    assert cases[0]["cancer_type"] == "GB"
    assert any("GBM -> GB" in n for n in s.notes)


# ----------------------------------------------------------------------------- FHIR

def coding(system: str, code: str, display: str = "") -> dict:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return {"coding": [c]}


def comp(code: str, value: dict) -> dict:
    return {"code": coding("http://loinc.org", code), **value}


def bundle_from_case(case: dict) -> dict:
    """A Genomics Reporting / mCODE bundle with the content of the case JSON (luad-g12c-second-line)."""
    pid = case["id"]
    subject = {"reference": f"Patient/{pid}"}
    entries = [
        {"resourceType": "Patient", "id": pid},
        {"resourceType": "Condition", "id": "primary", "subject": subject,
         "meta": {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"]},
         "code": coding("http://ncithesaurus-stage.nci.nih.gov", "C3512", "Lung Adenocarcinoma")},
        {"resourceType": "Condition", "id": "mets", "subject": subject,
         "meta": {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-secondary-cancer-condition"]},
         "code": coding("http://snomed.info/sct", "94391008", "Secondary malignant neoplasm of lung")},
        {"resourceType": "Observation", "id": "region", "status": "final", "subject": subject,
         "code": coding("http://loinc.org", "53041-0", "DNA region of interest panel"),
         "component": [comp("48018-6", {"valueCodeableConcept": coding("http://www.genenames.org/geneId", "HGNC:x", g)})
                       for g in case["tested_genes"]]},
    ]
    for i, alt in enumerate(case["alterations"]):
        entries.append({
            "resourceType": "Observation", "id": f"variant{i}", "status": "final", "subject": subject,
            "code": coding("http://loinc.org", "69548-6", "Genetic variant assessment"),
            "valueCodeableConcept": coding("http://loinc.org", "LA9633-4", "Present"),
            "component": [
                comp("48018-6", {"valueCodeableConcept": coding("http://www.genenames.org/geneId", "HGNC:6407", alt["gene"])}),
                comp("48005-3", {"valueCodeableConcept": coding("http://varnomen.hgvs.org", "NP_004976.2:" + alt["variant"])}),
                comp("48002-0", {"valueCodeableConcept": coding("http://loinc.org", "LA6684-0", "Somatic")}),
            ]})
    for line in case["prior_therapies"]:
        for drug in line["drugs"]:
            entries.append({
                "resourceType": "MedicationStatement", "id": f"med-{drug}", "status": "completed", "subject": subject,
                "medicationCodeableConcept": coding("http://www.nlm.nih.gov/research/umls/rxnorm", "0", drug),
                "effectivePeriod": {"start": "2025-01-06", "end": "2025-06-23"},
                "statusReason": [{"text": "Disease progression"}],
                "reasonReference": [{"reference": "Condition/mets"}]})
    entries.append({"resourceType": "Procedure", "id": "biopsy", "status": "completed", "subject": subject,
                    "code": {"text": "Lung biopsy"}})
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in entries]}


def test_fhir_variant_clinical_significance_is_the_classification(vocab, tmp_path):
    case = json.loads(CASE.read_text(encoding="utf-8"))
    bundle = bundle_from_case(case)
    variant = next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == "variant0")
    variant["component"].append(comp("53037-8", {"valueCodeableConcept": coding("http://loinc.org", "LA26333-7", "Uncertain significance")}))
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    (got,), errors, _ = read(vocab, "fhir", [path])
    assert errors == []
    assert got["alterations"][0]["classification"] == "uncertain_significance"
    # without the component: not stated, no field
    path.write_text(json.dumps(bundle_from_case(case)), encoding="utf-8")
    (got,), _, _ = read(vocab, "fhir", [path])
    assert all("classification" not in a for a in got["alterations"])


def test_fhir_bundle_gives_the_same_result_as_the_case_json(vocab, tmp_path):
    case = json.loads(CASE.read_text(encoding="utf-8"))
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle_from_case(case)), encoding="utf-8")
    cases, errors, s = read(vocab, "fhir", [path])
    assert errors == []
    (got,) = cases
    assert got["cancer_type"] == "LUAD" and got["stage"] == "metastatic"
    assert sorted(got["tested_genes"]) == sorted(case["tested_genes"])
    accounted(s)
    assert s.skipped["Procedure (not a systemic drug therapy)"] == 1
    expected = result_json(case)
    actual = result_json(dict(got, as_of=case["as_of"]))
    # the variant is written as the bundle says it (p.Gly12Cys): every result field agrees
    assert actual == expected


def test_fhir_invalid_resource_is_an_error_record_with_its_path(vocab, tmp_path):
    case = json.loads(CASE.read_text(encoding="utf-8"))
    b = bundle_from_case(case)
    bad = copy.deepcopy(b["entry"][4])
    bad["resource"]["id"] = "broken"
    bad["resource"]["component"][0]["valueBogus"] = 1
    b["entry"].append(bad)
    b["entry"].append({"resource": {"resourceType": "Specimen", "id": "s1", "subject": {"reference": f"Patient/{case['id']}"}}})
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(b), encoding="utf-8")
    cases, errors, s = read(vocab, "fhir", [path])
    (e,) = errors
    assert e["error"]["kind"] == "resource" and e["error"]["field"].startswith(f"entry[{len(b['entry']) - 2}].resource.component")
    assert len(cases) == 1 and {"gene": "KRAS", "variant": "p.G12C"} in cases[0]["alterations"]
    assert s.skipped["Specimen (not read)"] == 1
    accounted(s)


def test_fhir_without_medications_leaves_history_unknown_and_reads_cnv_and_fusion(vocab, tmp_path):
    case = json.loads(CASE.read_text(encoding="utf-8"))
    b = bundle_from_case(case)
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "MedicationStatement"]
    subject = {"reference": f"Patient/{case['id']}"}
    change = lambda so, name: comp("48019-4", {"valueCodeableConcept": coding("http://www.sequenceontology.org", so, name)})  # noqa: E731
    gene = lambda g: comp("48018-6", {"valueCodeableConcept": coding("http://www.genenames.org/geneId", "x", g)})  # noqa: E731
    b["entry"] += [
        {"resource": {"resourceType": "Observation", "id": "cnv", "status": "final", "subject": subject,
                      "code": coding("http://loinc.org", "69548-6"),
                      "component": [gene("MET"), change("SO:0001742", "copy_number_gain"),
                                    comp("82155-3", {"valueInteger": 12})]}},
        {"resource": {"resourceType": "Observation", "id": "fus", "status": "final", "subject": subject,
                      "code": coding("http://loinc.org", "69548-6"),
                      "component": [gene("ALK"), gene("EML4"), change("SO:0001565", "gene_fusion")]}},
    ]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(b), encoding="utf-8")
    cases, errors, s = read(vocab, "fhir", [path])
    assert errors == []
    (got,) = cases
    assert "prior_therapies" not in got
    alts = {(a["gene"], a["variant"], a.get("partner")) for a in got["alterations"]}
    assert ("MET", "amplification", None) in alts and ("ALK", "fusion", "EML4") in alts
    r = result_json(dict(got, as_of="2026-07-01"))
    assert any("Bypass" in n for n in r["notes"])
    soto = next(o for o in r["options"] if o["therapy"] == "sotorasib")
    # the ALK fusion read from the bundle is another driver: the G12C approval's evidence does not
    # reach the tumour, whatever the history (unknown here) would say
    assert soto["verdict"] == "not_eligible"
    assert any("no other oncogenic driver" in c for c in soto["failed_criteria"])


def test_cli_reads_documents(tmp_path):
    import argparse
    import io

    from engine.importers.cli import add_parser, run

    p = tmp_path / "p.json"
    p.write_text(json.dumps(phenopacket()), encoding="utf-8")
    b = tmp_path / "b.json"
    b.write_text(json.dumps(bundle_from_case(json.loads(CASE.read_text(encoding="utf-8")))), encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    for flag, path, cid in (("--phenopacket", p, "luad-g12c-pp"), ("--fhir", b, "luad-g12c-second-line")):
        out, err = io.StringIO(), io.StringIO()
        rc = run(parser.parse_args(["import", flag, str(path)]), stdout=out, stderr=err)
        assert rc == 0, err.getvalue()
        assert [json.loads(x)["id"] for x in out.getvalue().splitlines()] == [cid]
        assert "elements" in err.getvalue()
    with pytest.raises(UsageError, match="not --fhir"):
        run(parser.parse_args(["import", "--fhir", str(b), "--cna", str(b)]), stdout=io.StringIO(), stderr=io.StringIO())


def test_phenopacket_coordinates_that_contradict_the_reference_are_an_error_not_a_variant(vocab, tmp_path):
    # the reference base at chr12:25398285 (GRCh37, KRAS codon 12) is C: a record claiming G there
    # is reported, and KRAS is left unknown rather than given a variant
    vd = {"id": "v", "vcfRecord": {"genomeAssembly": "GRCh37", "chrom": "12", "pos": "25398285", "ref": "G", "alt": "A"}}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(phenopacket(vd)), encoding="utf-8")
    cases, errors, _ = read(vocab, "phenopacket", [path])
    assert len(errors) == 1 and errors[0]["error"]["kind"] == "coordinates", errors
    assert "disagrees with the hotspot table" in errors[0]["error"]["message"]
    (case,) = cases
    assert not any(a["gene"] == "KRAS" for a in case.get("alterations", []))
    assert "KRAS" not in case.get("tested_genes", [])


def _import(flag: str, paths: list[Path]) -> tuple[int, list[str], list[dict], str]:
    """`kras-rules import FLAG PATHS...`: exit code, the ids written, the error records, the summary."""
    import argparse
    import io

    from engine.importers.cli import PREFIX, add_parser, run

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out, err = io.StringIO(), io.StringIO()
    rc = run(parser.parse_args(["import", flag, *map(str, paths)]), stdout=out, stderr=err)
    lines = err.getvalue().splitlines()
    records = [json.loads(x) for x in lines if not x.startswith(PREFIX)]
    summary = "\n".join(x for x in lines if x.startswith(PREFIX))
    return rc, [json.loads(x)["id"] for x in out.getvalue().splitlines()], records, summary


def _bad_documents(tmp_path: Path, good: dict) -> dict[str, bytes]:
    text = json.dumps(good)
    return {
        "bigint.json": text[:-1].encode() + b', "n": ' + b"7" * 5000 + b"}",
        "deep.json": b"[" * 100_000,
        "truncated.json": text[: len(text) // 2].encode(),
        "empty.json": b"",
        "utf16.json": text.encode("utf-16"),
    }


def test_bad_fhir_documents_are_one_error_record_each_and_the_other_files_are_read(tmp_path):
    good = bundle_from_case(json.loads(CASE.read_text(encoding="utf-8")))
    files = _bad_documents(tmp_path, good)
    nope = copy.deepcopy(good)
    nope["entry"].append({"resource": {"resourceType": "Nope"}})
    junk = copy.deepcopy(good)
    junk["entry"] += ["a string", None]
    files["nope.json"] = json.dumps(nope).encode()
    files["junk.json"] = json.dumps(junk).encode()
    paths = [tmp_path / "ok1.json"]
    paths[0].write_text(json.dumps(good), encoding="utf-8")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    paths.append(paths[0])
    rc, ids, records, summary = _import("--fhir", paths)
    assert rc == 1
    # the good bundle at both ends, and the valid patients of the bundles with a bad entry
    assert ids == ["luad-g12c-second-line"] * 4
    by_file: dict[str, list[dict]] = {}
    for r in records:
        by_file.setdefault(Path(r["source"]).name, []).append(r["error"])
    assert sorted(by_file) == sorted(files)
    assert [e["field"] for e in by_file["junk.json"]] == [f"entry[{len(good['entry'])}]", f"entry[{len(good['entry']) + 1}]"]
    (e,) = by_file["nope.json"]
    assert e["kind"] == "resource" and "'Nope'" in e["message"] and e["field"].endswith(".resourceType")
    assert "5,000 digits" in by_file["bigint.json"][0]["message"] and "line 1, column" in by_file["bigint.json"][0]["message"]
    assert "nested deeper" in by_file["deep.json"][0]["message"] and "column 65" in by_file["deep.json"][0]["message"]
    assert "line 1, column" in by_file["truncated.json"][0]["message"]
    assert "empty" in by_file["empty.json"][0]["message"] and "UTF-16" in by_file["utf16.json"][0]["message"]
    assert "cases written: 4" in summary and "error records: 8" in summary


def test_bad_phenopacket_files_are_one_error_record_each_and_the_other_files_are_read(tmp_path):
    files = _bad_documents(tmp_path, phenopacket())
    files["bomb.yaml"] = (b'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
                          + b"".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n".encode()
                                     for p, c in zip("abcdefghijk", "bcdefghijkl", strict=True)))
    files["deep.yaml"] = b"id: x\nsubject: " + b"[" * 5000 + b"]" * 5000 + b"\n"
    files["bigint.yaml"] = b"id: x\nsubject: {id: s}\nn: " + b"7" * 5000 + b"\n"
    files["hexint.yaml"] = b"id: x\nsubject: {id: s}\nn: 0x" + b"f" * 3600 + b"\n"  # 4,335 decimal digits
    files["hexkey.yaml"] = b"id: x\nsubject: {id: s}\n? 0x" + b"f" * 5000 + b"\n: 1\n"
    # each line shallow, but each alias nests the one before: 100 levels the composer never saw
    files["aliasdeep.yaml"] = (b"id: x\nsubject: {id: s}\nl0: &l0 [1]\n"
                               + b"".join(f"l{i}: &l{i} [*l{i - 1}]\n".encode() for i in range(1, 100)))
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(phenopacket()), encoding="utf-8")
    paths = [ok]
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    paths.append(ok)
    rc, ids, records, summary = _import("--phenopacket", paths)
    assert rc == 1 and ids == ["luad-g12c-pp"] * 2
    assert [Path(r["source"]).name for r in records] == list(files)
    assert all(r["error"]["kind"] == "document" for r in records)
    messages = {Path(r["source"]).name: r["error"]["message"] for r in records}
    assert "aliases" in messages["bomb.yaml"] and "100,000 values" in messages["bomb.yaml"]
    assert "nested deeper" in messages["deep.yaml"] and "more than 4,300 digits" in messages["bigint.yaml"]
    assert "nested deeper than 64 levels" in messages["aliasdeep.yaml"]
    assert all("more than 4,300 digits" in messages[n] and "line 3" in messages[n] for n in ("hexint.yaml", "hexkey.yaml"))
    assert "cases written: 2" in summary


def test_yaml_aliases_that_share_a_value_are_read(vocab, tmp_path):
    """PyYAML writes a value used twice as an anchor and aliases: those are read as written."""
    path = tmp_path / "p.yaml"
    text = yaml.safe_dump(phenopacket())
    assert "*id00" in text
    path.write_text(text, encoding="utf-8")
    cases, errors, _ = read(vocab, "phenopacket", [path])
    assert [c["id"] for c in cases] == ["luad-g12c-pp"] and not errors
    assert len(cases[0]["prior_therapies"]) == len(read(vocab, "phenopacket", [_as_json(tmp_path, phenopacket())])[0][0]["prior_therapies"])


def _as_json(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- review findings F2, F3, F5, F6, F9

def _write(tmp_path: Path, doc: dict, name: str = "doc.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _lung_bundle() -> dict:
    return bundle_from_case(json.loads(CASE.read_text(encoding="utf-8")))


def _resources(b: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == kind]


def test_outcome_words_are_read_with_their_negation():
    from engine.importers.documents import read_outcome

    for text in ("No evidence of disease progression", "without progression", "has not progressed",
                 "Progression-free", "No response", "didn't progress"):
        assert read_outcome(text) == (None, True), text  # never the opposite; unknown, and said
    assert read_outcome("Stable disease, no progression") == ("stable", False)
    assert read_outcome("Partial response without progression") == ("response", False)
    assert read_outcome("Disease progression") == ("progression", False)
    assert read_outcome("Progressive Disease") == ("progression", False)
    assert read_outcome("Completed") == (None, False)


def test_fhir_negated_status_reason_is_not_progression(vocab, tmp_path):
    b = _lung_bundle()
    for m in _resources(b, "MedicationStatement"):
        m["statusReason"] = [{"text": "No evidence of disease progression"}]
    cases, errors, s = read(vocab, "fhir", [_write(tmp_path, b)])
    assert errors == []
    (line,) = cases[0]["prior_therapies"]
    assert "outcome" not in line
    assert any("outcome left unknown" in x and "No evidence of disease progression" in x for x in s.lines("f"))
    for m in _resources(b, "MedicationStatement"):
        m["statusReason"] = [{"text": "Stable disease, no progression"}]
    cases, _, _ = read(vocab, "fhir", [_write(tmp_path, b)])
    assert cases[0]["prior_therapies"][0]["outcome"] == "stable"


def test_phenopacket_negated_response_label_is_not_read(vocab, tmp_path):
    doc = phenopacket()
    for act in doc["medicalActions"]:
        act["responseToTreatment"] = {"id": "NCIT:x", "label": "No progression"}
    cases, errors, _ = read(vocab, "phenopacket", [_write(tmp_path, doc)])
    assert errors == [] and "outcome" not in cases[0]["prior_therapies"][0]


def _hgnc_only(b: dict) -> None:
    """Every gene-studied coding written as an HGNC id without a display (the Genomics Reporting IG form)."""
    for o in _resources(b, "Observation"):
        for c in o["component"]:
            if c["code"]["coding"][0]["code"] == "48018-6":
                c["valueCodeableConcept"]["coding"][0].pop("display", None)


def test_fhir_gene_coded_only_by_hgnc_id_is_an_error_record_never_dropped(vocab, tmp_path):
    b = _lung_bundle()
    _hgnc_only(b)
    cases, errors, s = read(vocab, "fhir", [_write(tmp_path, b)])
    (variant_error,) = [e for e in errors if "variant's gene" in e["error"]["message"]]
    i = next(i for i, e in enumerate(b["entry"]) if e["resource"].get("id") == "variant0")
    assert variant_error["error"]["kind"] == "gene"
    assert variant_error["error"]["field"] == f"entry[{i}].resource.component[0]"
    assert variant_error["error"]["value"] == "HGNC:6407" and "HGNC:6407" in variant_error["error"]["message"]
    assert cases[0]["alterations"] == []
    accounted(s)


def test_fhir_gene_coded_only_by_hgnc_id_is_read_where_the_bundle_pairs_the_id_with_its_symbol(vocab, tmp_path):
    b = _lung_bundle()
    _hgnc_only(b)
    region = next(o for o in _resources(b, "Observation") if o["id"] == "region")
    region["component"].append(comp("48018-6", {"valueCodeableConcept": coding("http://www.genenames.org/geneId",
                                                                               "HGNC:6407", "KRAS")}))
    cases, errors, _ = read(vocab, "fhir", [_write(tmp_path, b)])
    assert not [e for e in errors if "variant's gene" in e["error"]["message"]]
    assert [a["gene"] for a in cases[0]["alterations"]] == ["KRAS"]


def test_phenopacket_gene_given_only_by_hgnc_id(vocab, tmp_path):
    vd = {"id": "v1", "geneContext": {"valueId": "HGNC:6407", "symbol": ""},
          "expressions": [{"syntax": "hgvs.p", "value": "NP_004976.2:p.Gly12Cys"}]}
    cases, errors, _ = read(vocab, "phenopacket", [_write(tmp_path, phenopacket(vd))])
    (e,) = errors
    assert e["error"]["kind"] == "gene" and e["error"]["value"] == "HGNC:6407"
    assert e["error"]["field"].endswith("genomicInterpretations[0].variantInterpretation.variationDescriptor.geneContext.valueId")
    assert cases[0]["alterations"] == []


def _second_primary(b: dict) -> dict:
    colon = {"resourceType": "Condition", "id": "colon", "subject": _resources(b, "Condition")[0]["subject"],
             "meta": {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"]},
             "code": coding("http://ncithesaurus-stage.nci.nih.gov", "C2955", "Colon Adenocarcinoma")}
    b["entry"].insert(1, {"resource": colon})
    return b


def test_fhir_two_primary_cancers_are_an_error_record_naming_both(vocab, tmp_path):
    b = _second_primary(_lung_bundle())
    cases, errors, _ = read(vocab, "fhir", [_write(tmp_path, b)])
    assert cases == []
    (e,) = errors
    assert e["error"]["kind"] == "cancer_type"
    assert "COAD" in e["error"]["message"] and "LUAD" in e["error"]["message"]
    assert "entry[1].resource.code" in e["error"]["message"] and "entry[2].resource.code" in e["error"]["message"]


def test_fhir_two_primary_cancers_the_findings_tied_to_one_decide(vocab, tmp_path):
    b = _second_primary(_lung_bundle())
    for o in _resources(b, "Observation"):
        if o["id"].startswith("variant"):
            o["focus"] = [{"reference": "Condition/primary"}]
    for m in _resources(b, "MedicationStatement"):
        m["reasonReference"] = [{"reference": "Condition/primary"}]
    cases, errors, s = read(vocab, "fhir", [_write(tmp_path, b)])
    assert errors == []
    (case,) = cases
    assert case["cancer_type"] == "LUAD" and len(case["prior_therapies"]) == 1
    assert any("two primary cancers" in x for x in s.lines("f"))
    # a medication of the colon cancer is not the lung cancer's history
    for m in _resources(b, "MedicationStatement"):
        m["reasonReference"] = [{"reference": "Condition/colon"}]
    (case,) = read(vocab, "fhir", [_write(tmp_path, b)])[0]
    assert case["prior_therapies"] == []
    # with --cancer-type naming one, that one
    b = _second_primary(_lung_bundle())
    (case,) = read(vocab, "fhir", [_write(tmp_path, b)], cancer_type="LUAD")[0]
    assert case["cancer_type"] == "LUAD" and "prior_therapies" not in case  # history not tied to either: unknown


def test_phenopacket_two_diseases_read_as_the_one_the_interpretation_names(vocab, tmp_path):
    doc = phenopacket()
    doc["diseases"].insert(0, {"term": {"id": "NCIT:C2955", "label": "Colon Adenocarcinoma"}})
    cases, errors, _ = read(vocab, "phenopacket", [_write(tmp_path, doc)])
    assert errors == []
    (case,) = cases
    assert case["cancer_type"] == "LUAD"
    assert case["alterations"] == [{"gene": "KRAS", "variant": "p.Gly12Cys"}]
    # the interpretation names no disease: which cancer the findings belong to is not said
    del doc["interpretations"][0]["diagnosis"]["disease"]
    cases, errors, _ = read(vocab, "phenopacket", [_write(tmp_path, doc)])
    assert cases == []
    (e,) = errors
    assert e["error"]["kind"] == "cancer_type" and "diseases[0].term" in e["error"]["message"] and "diseases[1].term" in e["error"]["message"]


def test_phenopacket_two_diseases_one_a_finer_type_of_the_other_are_one_cancer(vocab, tmp_path):
    doc = phenopacket()
    doc["diseases"].insert(0, {"term": {"id": "ONCOTREE:NSCLC", "label": "Non-Small Cell Lung Cancer"}})
    cases, errors, _ = read(vocab, "phenopacket", [_write(tmp_path, doc)])
    assert errors == [] and cases[0]["cancer_type"] == "LUAD"


def _ffx_bundle(regimen_ref: bool) -> dict:
    b = _lung_bundle()
    meds = _resources(b, "MedicationStatement")
    for m in meds:
        m.pop("effectivePeriod")
        if regimen_ref:
            m["basedOn"] = [{"reference": "CarePlan/first-line"}]
    return b


def test_fhir_undated_drugs_of_one_regimen_are_one_line(vocab, tmp_path):
    cases, errors, s = read(vocab, "fhir", [_write(tmp_path, _ffx_bundle(True))])
    assert errors == []
    (line,) = cases[0]["prior_therapies"]
    assert line["drugs"] == ["carboplatin", "pemetrexed", "pembrolizumab"]
    assert not any("each read as a line of its own" in x for x in s.lines("f"))


def test_undated_drugs_nothing_groups_stay_separate_lines_and_the_summary_says_so(vocab, tmp_path):
    cases, _, s = read(vocab, "fhir", [_write(tmp_path, _ffx_bundle(False))])
    assert len(cases[0]["prior_therapies"]) == 3
    assert any("each read as a line of its own" in x for x in s.lines("f"))
    doc = phenopacket()
    for act in doc["medicalActions"]:
        del act["treatment"]["doseIntervals"]
    cases, _, s = read(vocab, "phenopacket", [_write(tmp_path, doc)])
    assert len(cases[0]["prior_therapies"]) == 3
    assert any("each read as a line of its own" in x for x in s.lines("p"))


def _two_lines_bundle(order: list[int]) -> dict:
    b = _lung_bundle()
    meds = _resources(b, "MedicationStatement")
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "MedicationStatement"]
    first, second = copy.deepcopy(meds[0]), copy.deepcopy(meds[0])
    first["effectivePeriod"] = {"start": "2024-01-01", "end": "2024-06-01"}
    second.update(id="med-docetaxel", medicationCodeableConcept=coding("http://www.nlm.nih.gov/research/umls/rxnorm", "0", "docetaxel"),
                  effectivePeriod={"start": "2024-07-01", "end": "2024-10-01"})
    b["entry"] += [{"resource": [first, second][i]} for i in order]
    return b


def test_fhir_lines_are_ordered_by_start_date_not_by_the_document(vocab, tmp_path):
    chrono = read(vocab, "fhir", [_write(tmp_path, _two_lines_bundle([0, 1]), "a.json")])[0][0]
    cases, _, s = read(vocab, "fhir", [_write(tmp_path, _two_lines_bundle([1, 0]), "b.json")])
    assert [ln["drugs"] for ln in cases[0]["prior_therapies"]] == [["carboplatin"], ["docetaxel"]]
    assert cases[0]["prior_therapies"] == chrono["prior_therapies"]
    assert any("order of their start dates" in x for x in s.lines("f"))


def test_phenopacket_lines_are_ordered_by_start_date_undated_keep_their_place(vocab, tmp_path):
    doc = phenopacket()
    acts = doc["medicalActions"]
    acts[0]["treatment"]["doseIntervals"] = [{"interval": {"start": "2025-03-01T00:00:00Z", "end": "2025-04-01T00:00:00Z"}}]
    acts[1]["treatment"].pop("doseIntervals")
    acts[2]["treatment"]["doseIntervals"] = [{"interval": {"start": "2024-03-01T00:00:00Z", "end": "2024-04-01T00:00:00Z"}}]
    cases, _, s = read(vocab, "phenopacket", [_write(tmp_path, doc)])
    assert [ln["drugs"] for ln in cases[0]["prior_therapies"]] == [["pembrolizumab"], ["pemetrexed"], ["carboplatin"]]
    text = s.lines("p")
    assert any("order of their start dates" in x for x in text)
    assert any("dated and undated" in x for x in text)


def _variant_entry(rid: str, subject: dict, hgnc: str, gene: str, components: list[dict]) -> dict:
    """A bundle entry: a variant Observation (present) of ``gene`` with ``components``."""
    return {"resource": {
        "resourceType": "Observation", "id": rid, "status": "final", "subject": subject,
        "code": coding("http://loinc.org", "69548-6", "Genetic variant assessment"),
        "valueCodeableConcept": coding("http://loinc.org", "LA9633-4", "Present"),
        "component": [comp("48018-6", {"valueCodeableConcept": coding("http://www.genenames.org/geneId", hgnc, gene)}),
                      *components]}}


def test_fhir_small_deletion_given_by_cdna_is_a_variant_not_a_copy_number_loss(vocab, tmp_path):
    """A 48019-4 'deletion' (SO:0000159) with a cDNA change is a sequence variant: read as one (here
    an error record, the cDNA is outside the hotspot tables, and the gene unknown), never skipped as
    a one-copy loss with the gene left 'tested' (wild-type)."""
    b = _lung_bundle()
    region = next(r for r in _resources(b, "Observation") if r["id"] == "region")
    region["component"].append(comp("48018-6", {"valueCodeableConcept": coding("http://www.genenames.org/geneId", "HGNC:3236", "EGFR")}))
    subject = region["subject"]
    b["entry"].append(_variant_entry("egfr-del", subject, "HGNC:3236", "EGFR", [
        comp("48004-6", {"valueCodeableConcept": coding("http://varnomen.hgvs.org", "NM_005228.5:c.2235_2249del")}),
        comp("48019-4", {"valueCodeableConcept": coding("http://www.sequenceontology.org", "SO:0000159", "deletion")})]))
    cases, errors, s = read(vocab, "fhir", [_write(tmp_path, b)])
    (case,) = cases
    assert "EGFR" not in case["tested_genes"]  # unknown, never wild-type
    assert any(e.get("gene") == "EGFR" and e["error"]["kind"] == "variant" for e in errors), errors
    assert "copy number loss of one copy (not an alteration)" not in "\n".join(s.lines("doc.json"))
    # a copy-number 'deletion' (no sequence change given) is still read as copy number
    b2 = _lung_bundle()
    b2["entry"].append(_variant_entry("cdkn2a-loss", subject, "HGNC:1787", "CDKN2A", [
        comp("48019-4", {"valueCodeableConcept": coding("http://www.sequenceontology.org", "SO:0001743", "copy number loss")}),
        comp("82155-3", {"valueQuantity": {"value": 0}})]))
    cases2, _, _ = read(vocab, "fhir", [_write(tmp_path, b2, "b2.json")])
    assert any(a.get("variant") == "loss" or a.get("kind") == "loss" for a in cases2[0]["alterations"]), cases2[0]["alterations"]



def test_fhir_a_plan_spanning_two_dated_lines_keeps_them_two_lines(vocab, tmp_path):
    """Two medications basedOn one CarePlan but started months apart are two lines (each with its
    own outcome), not one regimen; started the same day they are one."""
    b = _lung_bundle()
    meds = _resources(b, "MedicationStatement")
    for m in meds:
        m["basedOn"] = [{"reference": "CarePlan/treatment"}]
    meds[-1]["effectivePeriod"] = {"start": "2025-08-04", "end": "2025-12-01"}
    meds[-1]["statusReason"] = [{"text": "Stable disease"}]
    cases, errors, _ = read(vocab, "fhir", [_write(tmp_path, b)])
    assert errors == []
    lines = cases[0]["prior_therapies"]
    assert len(lines) == 2, lines
    assert lines[0]["outcome"] == "progression" and lines[1]["outcome"] == "stable"
    assert lines[1]["drugs"] == [meds[-1]["medicationCodeableConcept"]["coding"][0]["display"]]


def test_fhir_a_resolved_second_cancer_is_history_not_the_case_cancer(vocab, tmp_path):
    """A past cancer (clinicalStatus resolved, inactive or in remission) beside an active one: the
    active one is the case's cancer, and the summary says so; both active: an error record."""
    b = _second_primary(_lung_bundle())
    colon = next(r for r in _resources(b, "Condition") if r["id"] == "colon")
    colon["clinicalStatus"] = coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved")
    cases, errors, s = read(vocab, "fhir", [_write(tmp_path, b)])
    assert errors == []
    assert cases[0]["cancer_type"] == "LUAD"
    assert any("marked resolved, inactive or in remission" in x for x in s.lines("f"))
    colon["clinicalStatus"] = coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")
    cases, errors, _ = read(vocab, "fhir", [_write(tmp_path, b, "b2.json")])
    assert cases == [] and len(errors) == 1


def test_fhir_lines_dated_to_the_month_are_ordered_but_give_no_weeks(vocab, tmp_path):
    """FHIR allows a month ('2024-07') or a year: enough to order lines by, never to count weeks."""
    b = _lung_bundle()
    meds = _resources(b, "MedicationStatement")
    meds[0]["effectivePeriod"] = {"start": "2025-08", "end": "2025-11"}
    meds[0]["statusReason"] = [{"text": "Stable disease"}]
    for m in meds[1:]:
        m["effectivePeriod"] = {"start": "2025-01", "end": "2025-06"}
        m["basedOn"] = [{"reference": "CarePlan/first-line"}]
    cases, errors, s = read(vocab, "fhir", [_write(tmp_path, b)])
    assert errors == []
    lines = cases[0]["prior_therapies"]
    assert [ln["outcome"] for ln in lines] == ["progression", "stable"], lines  # the January line first
    assert all("weeks" not in ln for ln in lines)
    assert not any("without dates" in x for x in s.lines("f"))


def test_fhir_findings_tied_to_a_resolved_cancer_stay_with_it(vocab, tmp_path):
    """A resolved cancer whose variants are tied to it (Observation.focus) is the one they are
    evaluated for, not the active cancer beside it (its tumour was not tested)."""
    b = _second_primary(_lung_bundle())
    lung = next(r for r in _resources(b, "Condition") if r["id"] == "primary")
    lung["clinicalStatus"] = coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved")
    for r in _resources(b, "Observation"):
        if r["id"].startswith("variant"):
            r["focus"] = [{"reference": "Condition/primary"}]
    cases, errors, _ = read(vocab, "fhir", [_write(tmp_path, b)])
    assert errors == [] and cases[0]["cancer_type"] == "LUAD"


def test_fhir_a_plan_spanning_lines_dated_to_the_month_keeps_them_apart(vocab, tmp_path):
    b = _lung_bundle()
    meds = _resources(b, "MedicationStatement")
    for m in meds:
        m["basedOn"] = [{"reference": "CarePlan/treatment"}]
        m["effectivePeriod"] = {"start": "2025-01"}
    meds[-1]["effectivePeriod"] = {"start": "2025-08"}
    meds[-1]["statusReason"] = [{"text": "Stable disease"}]
    cases, _, _ = read(vocab, "fhir", [_write(tmp_path, b)])
    assert [ln["outcome"] for ln in cases[0]["prior_therapies"]] == ["progression", "stable"]


# ----------------------------------------------------------------------------- review: weeks, duplicate keys, encodings

def _evaluable(case: dict) -> None:
    """The case as ``evaluate`` reads it: the case format accepts every field the reader wrote."""
    from engine.case import CaseIn

    CaseIn.model_validate(dict(case, as_of="2026-07-01"))


@pytest.mark.parametrize("period,why", [
    ({"start": "1900-01-01", "end": "2026-01-01"}, "lasts 6,574.4 weeks, more than the 1000"),
    ({"start": "2025-06-23", "end": "2025-01-06"}, "ends (2025-01-06) before it starts (2025-06-23)"),
])
def test_fhir_period_weeks_a_case_cannot_hold_are_an_error_naming_the_field(vocab, tmp_path, period, why):
    """A period of 6,574 weeks (a year typed wrong) or one ending before it starts gives no weeks: an
    error record naming the resource's effectivePeriod, and the line is read without its weeks, never
    written as a value evaluate refuses (weeks <= 1000) nor dropped without a word."""
    b = _lung_bundle()
    meds = _resources(b, "MedicationStatement")
    meds[0]["effectivePeriod"] = period
    cases, errors, _ = read(vocab, "fhir", [_write(tmp_path, b)])
    (e,) = errors
    i = next(k for k, x in enumerate(b["entry"]) if x["resource"] is meds[0])
    assert e["error"]["kind"] == "therapy" and e["error"]["field"] == f"entry[{i}].resource.effectivePeriod"
    assert why in e["error"]["message"] and e["source"].endswith("doc.json") and e["sample"] == cases[0]["id"]
    lines = cases[0]["prior_therapies"]
    assert all(ln.get("weeks", 0) <= 1000 for ln in lines)
    drug = meds[0]["medicationCodeableConcept"]["coding"][0]["display"]
    assert any(drug in ln["drugs"] for ln in lines)  # the treatment is still read
    _evaluable(cases[0])


def test_phenopacket_dose_interval_weeks_a_case_cannot_hold_are_an_error_naming_the_field(vocab, tmp_path):
    doc = phenopacket()
    doc["medicalActions"][1]["treatment"]["doseIntervals"] = [
        {"interval": {"start": "1900-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}}]
    doc["medicalActions"][2]["treatment"]["doseIntervals"] = [
        {"interval": {"start": "2025-06-23T00:00:00Z", "end": "2025-01-06T00:00:00Z"}}]
    cases, errors, _ = read(vocab, "phenopacket", [_write(tmp_path, doc)])
    fields = {e["error"]["field"]: e["error"]["message"] for e in errors}
    assert set(fields) == {"medicalActions[1].treatment.doseIntervals[0].interval",
                           "medicalActions[2].treatment.doseIntervals[0].interval"}
    assert "6,574.4 weeks" in fields["medicalActions[1].treatment.doseIntervals[0].interval"]
    assert "before it starts" in fields["medicalActions[2].treatment.doseIntervals[0].interval"]
    assert all(ln.get("weeks", 0) <= 1000 for ln in cases[0]["prior_therapies"])
    assert sorted(d for ln in cases[0]["prior_therapies"] for d in ln["drugs"]) == ["carboplatin", "pembrolizumab", "pemetrexed"]
    _evaluable(cases[0])


def test_a_key_written_twice_is_refused_naming_the_key_and_its_line(tmp_path):
    """JSON and PyYAML keep the last value of a duplicated key without a word: the case reader
    refuses it, and so do the document readers (one error record, the other files read)."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(phenopacket()), encoding="utf-8")
    text = json.dumps(phenopacket(), indent=1)
    dup_json = tmp_path / "dup.json"
    dup_json.write_text(text.replace('"id": "luad-g12c-pp",', '"id": "luad-g12c-pp",\n "id": "other",', 1), encoding="utf-8")
    dup_yaml = tmp_path / "dup.yaml"
    dup_yaml.write_text(yaml.safe_dump(phenopacket(), sort_keys=False) + "id: other\n", encoding="utf-8")
    rc, ids, records, _ = _import("--phenopacket", [good, dup_json, dup_yaml, good])
    assert rc == 1 and ids == ["luad-g12c-pp"] * 2
    by = {Path(r["source"]).name: r["error"] for r in records}
    assert set(by) == {"dup.json", "dup.yaml"} and all(e["kind"] == "document" for e in by.values())
    assert "duplicate key 'id'" in by["dup.json"]["message"] and "line 3" in by["dup.json"]["message"]
    assert "first at line 2" in by["dup.json"]["message"]
    n = len(dup_yaml.read_text().splitlines())
    assert "duplicate key 'id'" in by["dup.yaml"]["message"] and f"line {n}," in by["dup.yaml"]["message"]
    # FHIR: a resource's key twice
    b = _lung_bundle()
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps(b).replace('"id": "primary",', '"id": "primary", "id": "other",', 1), encoding="utf-8")
    rc, ids, records, _ = _import("--fhir", [bundle])
    (r,) = records
    assert rc == 1 and ids == [] and "duplicate key 'id'" in r["error"]["message"] and "line 1, column" in r["error"]["message"]


def test_a_document_that_is_not_utf8_is_refused_not_read_with_replacement_characters(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps(phenopacket(id="caf\u00e9-1"), ensure_ascii=False).encode("latin-1"))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(phenopacket()), encoding="utf-8")
    rc, ids, records, _ = _import("--phenopacket", [path, good])
    assert rc == 1 and ids == ["luad-g12c-pp"]  # never "caf\ufffd-1"
    (r,) = records
    assert r["source"] == str(path) and "not UTF-8" in r["error"]["message"] and "0xe9" in r["error"]["message"]
    assert "save it as UTF-8" in r["error"]["message"] and "line 1, column" in r["error"]["message"]


def test_binary_documents_are_not_called_utf16(tmp_path):
    """A NUL among the first bytes is not UTF-16: gzip data compressed twice and other binary data
    say what they are; a UTF-16 text still says UTF-16."""
    import gzip
    import os

    text = json.dumps(phenopacket()).encode()
    files = {"twice.json": gzip.compress(gzip.compress(text)), "binary.json": b"P\x00K\x00" + os.urandom(2000),
             "utf16.json": text.decode().encode("utf-16"), "once.json": gzip.compress(text)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    rc, ids, records, _ = _import("--phenopacket", [tmp_path / n for n in files])
    by = {Path(r["source"]).name: r["error"]["message"] for r in records}
    assert ids == ["luad-g12c-pp"]  # gzip without a .gz name is read (by its content)
    assert "compressed twice" in by["twice.json"] and "UTF-16" not in by["twice.json"]
    assert "not a text file" in by["binary.json"] and "UTF-16" not in by["binary.json"]
    assert "UTF-16" in by["utf16.json"]


def test_a_reader_takes_one_document_as_a_text_path(vocab, tmp_path):
    """`run("doc.json")` failed with "'str' object has no attribute 'open'": only Path objects,
    in a list, were read. A text, a Path and a list of either read the same."""
    doc = tmp_path / "p.json"
    doc.write_text(json.dumps(phenopacket()), encoding="utf-8")
    by_list, _, _ = read(vocab, "phenopacket", [doc])
    assert by_list and read(vocab, "phenopacket", str(doc))[0] == by_list == read(vocab, "phenopacket", doc)[0]
    assert read(vocab, "phenopacket", [str(doc)])[0] == by_list


def test_a_mutation_importer_takes_its_files_as_texts_and_one_clinical_file_alone(vocab, tmp_path):
    from engine.importers import make_importer

    maf = tmp_path / "m.maf"
    maf.write_text("Hugo_Symbol\tTumor_Sample_Barcode\tHGVSp_Short\tVariant_Classification\n"
                   "KRAS\tS1\tp.G12C\tMissense_Mutation\n", encoding="utf-8")
    clin = tmp_path / "clinical.tsv"
    clin.write_text("SAMPLE_ID\tONCOTREE_CODE\nS1\tLUAD\n", encoding="utf-8")
    # (a clinical file given alone, as a text: one file, not its letters)
    cases = list(make_importer(vocab=vocab, clinical=str(clin), assay="exome").run(str(maf)))
    assert [(c["cancer_type"], c["alterations"][0]["variant"]) for c in cases] == [("LUAD", "p.G12C")]


def test_a_gene_symbol_no_gene_could_have_is_an_error_record_in_a_phenopacket_and_a_fhir_bundle(vocab, tmp_path):
    """A Cyrillic 'К' in KRAS: the variant was skipped as of a gene the rules do not read, and a
    panel listing KRAS then read it wild-type. Now an error record, and KRAS is unknown in the case."""
    vd = {"id": "v1", "geneContext": {"valueId": "HGNC:x", "symbol": "\u041aRAS"},
          "expressions": [{"syntax": "hgvs.p", "value": "p.G12C"}]}
    pp = tmp_path / "p.json"
    pp.write_text(json.dumps(phenopacket(vd)), encoding="utf-8")
    cases, errors, _ = read(vocab, "phenopacket", [pp], assay="exome")
    (rec,) = [e for e in errors if e["error"]["kind"] == "gene"]
    assert rec["error"]["suggestion"] == "KRAS" and "geneContext.symbol" in rec["error"]["field"]
    assert "KRAS" not in cases[0]["tested_genes"] and cases[0]["alterations"] == []
    case = json.loads(CASE.read_text())
    case["alterations"] = [dict(a, gene="\u041aRAS") if a["gene"] == "KRAS" else a for a in case["alterations"]]
    fb = tmp_path / "b.json"
    fb.write_text(json.dumps(bundle_from_case(case)), encoding="utf-8")
    cases, errors, _ = read(vocab, "fhir", [fb])
    (rec,) = [e for e in errors if e["error"]["kind"] == "gene"]
    assert rec["error"]["suggestion"] == "KRAS"
    assert "KRAS" not in cases[0].get("tested_genes", []) and not any(a["gene"] == "KRAS" for a in cases[0]["alterations"])
