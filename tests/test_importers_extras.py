"""Copy-number and fusion/SV files: lung_msk_2017 (data_CNA.txt, data_fusions.txt), the OncoKB
annotator's example CNA, fusion and SV tables, and small files written here; counts checked against
counts made here from the raw files."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.importers import make_importer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LUNG = DATA / "cbioportal" / "lung_msk_2017"
ONCOKB = DATA / "oncokb_annotator_examples"


def data(folder: Path, name: str) -> Path:
    p = folder / name
    if not p.exists():
        pytest.skip(f"shared data not available: {folder.name}/{name}")
    return p


@pytest.fixture(scope="module")
def vocab():
    from engine.importers.api import load_vocabulary

    return load_vocabulary()


def do_import(vocab, path: Path | None, **kw):
    errors: list[dict] = []
    imp = make_importer(vocab=vocab, on_error=errors.append, **kw)
    cases = list(imp.run(path))
    return cases, errors, imp.summary, imp


def table(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def lung(vocab):
    kw = dict(
        clinical=[data(LUNG, "data_clinical_sample.txt")],
        assay="panel",
        panels=[data(LUNG, "data_gene_matrix.txt")],
        cna=[data(LUNG, "data_CNA.txt")],
        fusions=[data(LUNG, "data_fusions.txt")],
    )
    return do_import(vocab, data(LUNG, "data_mutations_extended.txt"), **kw)


def test_lung_msk_kras_amplifications_reach_the_cases(lung, vocab):
    cases, errors, s, imp = lung
    assert errors == []
    header, rows = table(LUNG / "data_CNA.txt")
    kras = next(r for r in rows if r[0] == "KRAS")
    expect_amp = {header[i] for i, v in enumerate(kras) if i and v.strip() == "2"}
    expect_del = {header[i] for i, v in enumerate(kras) if i and v.strip() == "-2"}
    assert len(expect_amp) == 15  # counted independently of the importer
    got_amp = {c["id"] for c in cases for a in c["alterations"] if a["gene"] == "KRAS" and a["variant"] == "amplification"}
    got_del = {c["id"] for c in cases for a in c["alterations"] if a["gene"] == "KRAS" and a["variant"] == "loss"}
    assert got_amp == expect_amp and got_del == expect_del
    amp = next(a for c in cases for a in c["alterations"] if a["gene"] == "KRAS" and a["variant"] == "amplification")
    assert amp["cna"] == 2
    # every cell is accounted for, and the summary says how many amplifications were written
    counts = next(c for c in imp.extras.counts if c.source.endswith("data_CNA.txt"))
    assert counts.read == len(rows) * (len(header) - 1)
    assert counts.read == counts.used + sum(counts.skipped.values())
    assert counts.used == sum(counts.written.values())  # one alteration per cell
    known = {vocab.find_gene(r[0]) for r in rows} - {None}
    cells = Counter(v.strip() for r in rows if vocab.find_gene(r[0]) in known for v in r[1:])
    assert counts.written["amplification"] == cells["2"]
    assert counts.written["loss"] == cells["-2"]
    assert any(n.startswith(f"copy number {LUNG / 'data_CNA.txt'}") and "cells" in n for n in s.notes)
    assert any("amplification " + str(cells["2"]) in n for n in s.notes)


def test_lung_msk_fusions_reach_the_cases(lung):
    cases, _, s, imp = lung
    header, rows = table(LUNG / "data_fusions.txt")
    counts = next(c for c in imp.extras.counts if c.label == "fusions")
    assert counts.read == len(rows)
    assert counts.read == counts.used + sum(counts.skipped.values())
    assert counts.used == _rows_written(rows)
    by_id = {c["id"]: c for c in cases}
    p = by_id["P-0007125-T01-IM5"]
    alk = [a for a in p["alterations"] if a["gene"] == "ALK" and a["variant"] == "fusion"]
    assert alk and alk[0]["partner"] == "EML4" and alk[0]["detail"] == "ALK-EML4 fusion"
    intragenic = sum(1 for r in rows if "intragenic" in r[header.index("Fusion")].lower())
    assert counts.skipped["intragenic rearrangement (not a fusion)"] == intragenic
    alk_samples = {r[header.index("Tumor_Sample_Barcode")] for r in rows if r[0] == "ALK" and "intragenic" not in r[4].lower()}
    got = {c["id"] for c in cases if any(a["gene"] == "ALK" and a["variant"] == "fusion" for a in c["alterations"])}
    assert alk_samples <= got
    assert any("fusions" in n and "rows" in n for n in s.notes)


def _rows_written(rows: list[list[str]]) -> int:
    """Rows that named a fusion of a known gene (one alteration per row, as the file has one row a gene)."""
    from engine.importers.api import load_vocabulary

    v = load_vocabulary()
    n = 0
    for r in rows:
        if "intragenic" in r[4].lower():
            continue
        if v.find_gene(r[0]) is not None:
            n += 1
    return n


def test_lung_msk_cases_with_cna_and_fusions_are_valid_cases(lung, engine):
    from engine.api import evaluate

    cases, _, _, _ = lung
    picked = [c for c in cases if any(a["variant"] in ("amplification", "fusion", "loss") for a in c["alterations"])][:40]
    assert picked
    for c in picked:
        evaluate(dict(c, as_of="2026-07-01"))  # raises on an invalid case


def test_oncokb_example_tables(vocab):
    clinical = data(ONCOKB, "example_clinical.txt")
    cases, errors, s, imp = do_import(
        vocab, None, clinical=[clinical],
        cna=[data(ONCOKB, "example_cna.txt"), data(ONCOKB, "example_individual_cna.txt")],
        fusions=[data(ONCOKB, "example_fusions.txt"), data(ONCOKB, "example_sv.txt")],
    )
    assert errors == []
    by_id = {c["id"]: c for c in cases}
    # GBM was revoked by OncoTree (replaced by GB): read as GB, with a note
    assert by_id["TCGA-06-0155-01"]["cancer_type"] == "GB"
    assert any("GBM -> GB" in n for n in s.notes)
    # no mutation file: nobody said any gene was sequenced
    assert all("tested_genes" not in c for c in cases)
    a = {(x["gene"], x["variant"], x.get("partner")) for x in by_id["TCGA-05-4417-01"]["alterations"]}
    assert ("MET", "amplification", None) in a and ("CDK4", "loss", None) in a
    assert ("ALK", "fusion", "EML4") in a and ("EML4", "fusion", "ALK") in a
    b = {(x["gene"], x["variant"]) for x in by_id["TCGA-02-0033-01"]["alterations"]}
    assert ("ERBB2", "amplification") not in b  # a call of 1 is a low-level gain
    for c in imp.extras.counts:
        assert c.read == c.used + sum(c.skipped.values()), c.source


def test_bad_cells_are_error_records_with_line_and_sample(vocab, tmp_path):
    cna = tmp_path / "cna.txt"
    cna.write_text("Hugo_Symbol\tS1\tS2\nKRAS\t2\tlots\nMET\tNA\t-2\nFOO1\t2\t2\n", encoding="utf-8")
    cases, errors, _, imp = do_import(vocab, None, cancer_type="LUAD", cna=[cna])
    assert [(e["source"], e["sample"], e["gene"]) for e in errors] == [(f"{cna}:2", "S2", "KRAS")]
    by_id = {c["id"]: c for c in cases}
    assert by_id["S1"]["alterations"] == [{"gene": "KRAS", "variant": "amplification", "cna": 2}]
    assert by_id["S2"]["alterations"] == [{"gene": "MET", "variant": "loss", "cna": -2}]
    (c,) = imp.extras.counts
    assert c.read == 6 and c.skipped["not measured (NA)"] == 1 and c.skipped["gene not in the vocabulary"] == 2
    with pytest.raises(UsageError, match="not a copy-number file"):
        bad = tmp_path / "x.txt"
        bad.write_text("A\tB\n1\t2\n", encoding="utf-8")
        do_import(vocab, None, cancer_type="LUAD", cna=[bad])


def test_end_to_end_met_amplification_from_a_cna_file_is_a_bypass_note(vocab, tmp_path, engine):
    from engine.api import evaluate

    maf = tmp_path / "maf.txt"
    maf.write_text("Hugo_Symbol\tTumor_Sample_Barcode\tVariant_Classification\tHGVSp_Short\n"
                   "KRAS\tS1\tMissense_Mutation\tp.G12C\n", encoding="utf-8")
    cna = tmp_path / "cna.txt"
    cna.write_text("Hugo_Symbol\tS1\nMET\t2\n", encoding="utf-8")
    fus = tmp_path / "fus.txt"
    fus.write_text("Tumor_Sample_Barcode\tGeneA\tGeneB\tSv_Type\nS1\tEML4\tALK\tFUSION\n", encoding="utf-8")
    for extra in ({"cna": [cna]}, {"fusions": [fus]}):
        cases, errors, _, _ = do_import(vocab, maf, cancer_type="LUAD", **extra)
        assert errors == []
        r = evaluate(dict(cases[0], stage="metastatic", as_of="2026-07-01"))
        assert any("RES-009" in line for line in r.trace), extra
        assert any("Bypass" in n for n in r.notes), extra
        cases, _, _, _ = do_import(vocab, maf, cancer_type="LUAD")
        r = evaluate(dict(cases[0], stage="metastatic", as_of="2026-07-01"))
        assert not any("Bypass" in n for n in r.notes)


def test_segment_file_without_a_sample_needs_one_case(vocab, tmp_path):
    seg = tmp_path / "x.cna.tsv"
    seg.write_text("Chromosome\tStart\tEnd\tnMajor\tnMinor\n12\t25000000\t26000000\t7\t1\n", encoding="utf-8")
    maf = tmp_path / "maf.txt"
    maf.write_text("Hugo_Symbol\tTumor_Sample_Barcode\tHGVSp_Short\nKRAS\tS1\tp.G12C\nKRAS\tS2\tp.G12D\n", encoding="utf-8")
    cases, errors, _, _ = do_import(vocab, maf, cancer_type="LUAD", assembly="GRCh37", cna=[seg])
    assert [e["error"]["kind"] for e in errors] == ["sample"]
    assert all(a["variant"] != "amplification" for c in cases for a in c["alterations"])
    cases, errors, _, _ = do_import(vocab, None, cancer_type="LUAD", assembly="GRCh37", cna=[seg])
    assert errors == [] and [c["id"] for c in cases] == ["x"]
    assert cases[0]["alterations"][0]["gene"] == "KRAS" and cases[0]["alterations"][0]["copy_number"] == 8


def test_a_segment_past_its_chromosome_s_end_or_backwards_is_an_error_row_and_calls_nothing(vocab, tmp_path):
    """A segment ending past chromosome 7's end on GRCh37, one whose Start is after its End, and one
    whose Start is "1_000" (int() would read it) are error records naming the field; what they
    covered gets no call (MET's copy number stays unknown), while KRAS's good segment is read."""
    seg = tmp_path / "x.cna.tsv"
    seg.write_text("Chromosome\tStart\tEnd\tnMajor\tnMinor\n"
                   "12\t25000000\t26000000\t7\t1\n"
                   "7\t116000000\t159138664\t9\t1\n"      # chromosome 7 has 159,138,663 bases on GRCh37
                   "7\t117000000\t116000000\t9\t1\n"
                   "7\t1_000\t159000000\t9\t1\n", encoding="utf-8")
    cases, errors, _, _ = do_import(vocab, None, cancer_type="LUAD", assembly="GRCh37", cna=[seg])
    got = [(e["source"].rsplit(":", 1)[1], e["error"].get("field"), e["error"]["message"]) for e in errors]
    assert got[0] == ("3", "End", "End 159,138,664 is past the end of chromosome 7 on GRCh37 (159,138,663 bases): "
                                  "a wrong position, or a file of another assembly?")
    assert got[1] == ("4", "Start", "Start 117,000,000 is after End 116,000,000")
    assert got[2][0] == "5" and "whole-number Start and End" in got[2][2]
    (case,) = cases
    assert [(a["gene"], a["variant"]) for a in case["alterations"]] == [("KRAS", "amplification")]


def test_cli_summary_counts_copy_number_and_fusions_of_lung_msk():
    import argparse
    import io
    import json

    from engine.importers.cli import add_parser, run

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args([
        "import", "--mutations", str(data(LUNG, "data_mutations_extended.txt")),
        "--clinical", str(data(LUNG, "data_clinical_sample.txt")), "--assay", "panel",
        "--panel", str(data(LUNG, "data_gene_matrix.txt")),
        "--cna", str(data(LUNG, "data_CNA.txt")), "--fusions", str(data(LUNG, "data_fusions.txt")),
    ])
    out, err = io.StringIO(), io.StringIO()
    assert run(args, stdout=out, stderr=err) == 0
    cases = [json.loads(x) for x in out.getvalue().splitlines()]
    kras_amp = sum(1 for c in cases for a in c["alterations"] if a["gene"] == "KRAS" and a["variant"] == "amplification")
    fusions = sum(1 for c in cases for a in c["alterations"] if a["variant"] == "fusion")
    text = err.getvalue()
    assert kras_amp == 15
    assert f"alterations written: fusion {fusions}" in text
    assert "copy number" in text and "amplification " in text and "472140 cells" in text
    assert "intragenic rearrangement (not a fusion): 41" in text
