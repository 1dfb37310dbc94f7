"""Mutation tables that are cut short or ambiguous: a truncated gzip, a last line cut in the middle, a
row without a gene symbol, a column named twice, a position that is not one, data compressed twice.

Each gives an error record (or a skip reason) that names the file, the line and the field, and every
other row is still read: nothing is lost without a word and one record never stops the rest.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.importers import make_importer
from engine.importers.cli import add_parser, run

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PAAD = DATA / "tcga_mutations" / "Firehose_PAAD.nonsilent.maf.tsv.gz"
LUNG = DATA / "cbioportal" / "lung_msk_2017" / "data_mutations_extended.txt"

HEADER = ["Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification", "HGVSp_Short", "Center", "Comment"]


@pytest.fixture(scope="module")
def vocab():
    from engine.importers.api import load_vocabulary

    return load_vocabulary()


def real(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not available: {path.name}")
    return path


def do_import(vocab, path: Path, **kw):
    errors: list[dict] = []
    imp = make_importer(vocab=vocab, on_error=errors.append, **kw)
    cases = list(imp.run(path))
    return cases, errors, imp.summary


def run_cli(argv: list[str]) -> tuple[int, list[dict], list[dict], list[str]]:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out, err = io.StringIO(), io.StringIO()
    rc = run(parser.parse_args(["import", *argv]), stdout=out, stderr=err)
    records = [json.loads(x) for x in err.getvalue().splitlines() if x.startswith("{")]
    summary = [x for x in err.getvalue().splitlines() if not x.startswith("{")]
    return rc, [json.loads(x) for x in out.getvalue().splitlines()], records, summary


def maf_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    return "\n".join("\t".join(r) for r in [header, *rows]) + "\n"


def accounted(s) -> None:
    assert s.rows == s.alteration_rows + sum(s.skipped.values())


# ----------------------------------------------------------------------------- a truncated gzip


def test_a_truncated_gzip_keeps_the_cases_before_the_damage_with_an_error_record_and_the_summary(vocab, tmp_path):
    """Cut in the middle of its gzip stream, the file used to give no case, no error record and no
    summary (exit 2). The rows before the damage are read; the damage is one error record naming the
    file and its last whole line; every gene is unknown in every case, as a lost row may be about any."""
    rows = [["KRAS", "S0", "Missense_Mutation", "p.G12C", "x", ""]]
    rows += [[f"GENE{i % 997}", f"S{i % 300}", "Missense_Mutation", f"p.A{i}T", "x", ""] for i in range(1, 40_000)]
    data = gzip.compress(maf_text(rows).encode())
    path = tmp_path / "cohort.maf.gz"
    path.write_bytes(data[: len(data) * 9 // 10])
    rc, cases, records, summary = run_cli(["--mutations", str(path), "--cancer-type", "PAAD", "--assay", "exome"])
    assert rc == 1
    (e,) = records
    assert e["error"]["kind"] == "file" and e["source"] == str(path)
    m = e["error"]["message"]
    assert "damaged or truncated after line" in m and "every gene's status is unknown" in m
    last = int(m.split("after line ", 1)[1].split(" ", 1)[0].replace(",", ""))
    assert 10_000 < last < 40_000
    ids = {c["id"] for c in cases}
    assert "S0" in ids and len(ids) == 300
    s0 = next(c for c in cases if c["id"] == "S0")
    assert {"gene": "KRAS", "variant": "p.G12C"} in s0["alterations"]
    assert all(not c["tested_genes"] for c in cases)  # never wild-type: the lost rows may be about any gene
    text = "\n".join(summary)
    assert f"{last - 1} rows" in text and "error records: 1 (file 1)" in text and "ends early" in text


def test_the_real_firehose_pancreatic_file_cut_to_nine_tenths(vocab, tmp_path):
    src = real(PAAD)
    data = src.read_bytes()
    path = tmp_path / src.name
    path.write_bytes(data[: len(data) * 9 // 10])
    cases, errors, s = do_import(vocab, path, cancer_type="PAAD")
    damaged = [e for e in errors if e["error"]["kind"] == "file"]
    assert len(damaged) == 1 and damaged[0]["source"] == str(path)
    assert 26_000 < s.rows < 29_268 and len(cases) > 100
    assert all(c["cancer_type"] == "PAAD" for c in cases)
    accounted(s)


# ----------------------------------------------------------------------------- a last line cut short


def test_a_last_line_cut_short_is_an_error_record_not_a_phantom_sample(vocab, tmp_path):
    path = tmp_path / "m.maf"
    path.write_text(maf_text([
        ["KRAS", "S1", "Missense_Mutation", "p.G12C", "x", "note"],
        ["BRAF", "S2", "Missense_Mutation", "p.V600E"],                   # trailing unread cells trimmed: read
        ["TP53", "S2"],                                                    # lacks columns read: an error
    ]) + "NRAS\tS3\tMissense_Mutation\tp.Q6", encoding="utf-8")          # cut: no line end, no S3 case
    cases, errors, s = do_import(vocab, path, cancer_type="COAD", assay="exome")
    by_line = {e["source"]: e["error"] for e in errors}
    assert set(by_line) == {f"{path}:4", f"{path}:5"}
    assert by_line[f"{path}:4"]["field"] == "Variant_Classification" and "2 of 6 fields" in by_line[f"{path}:4"]["message"]
    cut = by_line[f"{path}:5"]
    assert "line cut short: 4 of 6 fields" in cut["message"] and "without a line end" in cut["message"]
    assert cut["field"] == "HGVSp_Short"
    by_id = {c["id"]: c for c in cases}
    assert set(by_id) == {"S1", "S2"}
    assert {"gene": "BRAF", "variant": "p.V600E"} in by_id["S2"]["alterations"]
    for c in cases:  # what the cut rows were about is unknown, never wild-type
        assert "NRAS" not in c["tested_genes"] and "TP53" not in c["tested_genes"] and "KRAS" in c["tested_genes"]
    assert s.trimmed == 1 and any("fewer fields than the header" in x for x in s.lines("m.maf"))
    accounted(s)


def test_real_msk_lung_rows_cut_after_the_sample_column(vocab, tmp_path):
    lines = real(LUNG).read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "cut.txt"
    path.write_text("".join(lines[:300]) + "KRAS\t3845\tMSKCC\tGRCh37\t12\t25398285\t25398285\t+\tmissense_variant\t"
                    "Missense_Mutation\tSNP\tC\tC\tA\t\t\tP-9999999-T01-IM3\tP-99", encoding="utf-8")
    cases, errors, _ = do_import(vocab, path, cancer_type="LUAD")
    assert "P-9999999-T01-IM3" not in {c["id"] for c in cases}
    (e,) = [e for e in errors if e["source"] == f"{path}:301"]
    assert "18 of 37 fields" in e["error"]["message"] and e["error"]["field"] == "Mutation_Status"
    # the whole file has no row shorter than its header: nothing of it becomes an error of this kind
    _, errors, s = do_import(vocab, LUNG, cancer_type="LUAD")
    assert not any("cut short" in e["error"]["message"] for e in errors) and s.trimmed == 0


# ----------------------------------------------------------------------------- gene, columns, positions


def test_a_row_without_a_gene_symbol_has_its_own_skip_reason(vocab, tmp_path):
    path = tmp_path / "m.maf"
    path.write_text(maf_text([["", "S1", "Missense_Mutation", "p.G12C", "x", ""], ["NOTAGENE1", "S1", "Missense_Mutation",
                                                                                   "p.A1T", "x", ""]]), encoding="utf-8")
    cases, errors, s = do_import(vocab, path, cancer_type="LUAD")
    assert errors == [] and [c["id"] for c in cases] == ["S1"]
    assert s.skipped["no gene symbol (Hugo_Symbol empty or NA)"] == 1 and s.skipped["gene not in the vocabulary"] == 1
    assert s.genes_skipped == {"NOTAGENE1"}
    accounted(s)


def test_a_column_read_named_twice_is_a_usage_error_naming_it(vocab, tmp_path):
    path = tmp_path / "m.maf"
    header = ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short", "Comment", "hgvsp_short"]
    path.write_text(maf_text([["KRAS", "S1", "p.G12C", "", "p.G12D"]], header), encoding="utf-8")
    with pytest.raises(UsageError, match=r"'HGVSp_Short' is named 2 times in the header \(line 1, columns 3, 5\)"):
        do_import(vocab, path, cancer_type="LUAD")
    # a column the importer does not read may repeat (TCGA MC3 has two IMPACT columns)
    header = ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short", "Comment", "Comment"]
    path.write_text(maf_text([["KRAS", "S1", "p.G12C", "", ""]], header), encoding="utf-8")
    cases, errors, _ = do_import(vocab, path, cancer_type="LUAD")
    assert errors == [] and cases[0]["alterations"] == [{"gene": "KRAS", "variant": "p.G12C"}]


@pytest.mark.parametrize("start", ["-1", "12345678901234567890123", "abc"])
def test_a_start_position_that_is_not_a_position_is_an_error_naming_the_field(vocab, tmp_path, start):
    header = ["Hugo_Symbol", "Tumor_Sample_Barcode", "Chromosome", "Start_Position", "Reference_Allele",
              "Tumor_Seq_Allele2"]
    path = tmp_path / "m.maf"
    path.write_text(maf_text([["KRAS", "S1", "12", start, "C", "A"], ["KRAS", "S2", "12", "25398285", "C", "A"]], header),
                    encoding="utf-8")
    cases, errors, _ = do_import(vocab, path, cancer_type="LUAD", assembly="GRCh37")
    (e,) = errors
    assert e["source"] == f"{path}:2" and e["error"]["field"] == "Start_Position" and e["error"]["value"] == start
    assert "is not a position: expected a whole number from 1" in e["error"]["message"]
    assert {c["id"]: c["alterations"] for c in cases}["S2"] == [{"gene": "KRAS", "variant": "p.G12C"}]


@pytest.mark.parametrize(("assembly", "start", "end"), [("GRCh37", "133851896", "133,851,895"),
                                                         ("GRCh38", "133275310", "133,275,309")])
def test_a_start_position_past_its_chromosome_s_end_is_an_error_naming_the_field(vocab, tmp_path, assembly, start, end):
    """A position past chromosome 12's end on the row's assembly was read as a change outside the
    hotspots (counted, the gene unknown, no word of why): it is an error naming Start_Position."""
    header = ["Hugo_Symbol", "Tumor_Sample_Barcode", "Chromosome", "Start_Position", "Reference_Allele",
              "Tumor_Seq_Allele2"]
    path = tmp_path / "m.maf"
    last = {"GRCh37": "133851895", "GRCh38": "133275309"}[assembly]
    path.write_text(maf_text([["KRAS", "S1", "chr12", start, "C", "A"], ["KRAS", "S2", "12", last, "C", "A"]], header),
                    encoding="utf-8")
    cases, errors, s = do_import(vocab, path, cancer_type="LUAD", assembly=assembly, assay="exome")
    (e,) = errors
    assert e["source"] == f"{path}:2" and e["error"]["field"] == "Start_Position" and e["error"]["value"] == start
    assert e["error"]["kind"] == "coordinates" and e["sample"] == "S1" and e["gene"] == "KRAS"
    assert f"is past the end of chromosome 12 on {assembly} ({end} bases)" in e["error"]["message"]
    by_id = {c["id"]: c for c in cases}
    assert "KRAS" not in by_id["S1"]["tested_genes"]  # what the row called is unknown, never wild-type
    assert "KRAS" not in by_id["S2"]["tested_genes"] and "S2" in by_id  # the last base itself is a position
    accounted(s)


def test_a_clinical_last_line_cut_short_is_not_read_as_a_value(vocab, tmp_path):
    """A clinical file cut in its last line: "IV" may have been cut to "I". The cut field is an
    error naming it and is left unknown; the rest of the row and every other row are read."""
    maf = tmp_path / "m.maf"
    maf.write_text(maf_text([["KRAS", s, "Missense_Mutation", "p.G12C", "", ""] for s in ("S1", "S2", "S3")]),
                   encoding="utf-8")
    clin = tmp_path / "clinical.txt"
    clin.write_text("SAMPLE_ID\tONCOTREE_CODE\tLINES\nS1\tLUAD\t0\nS2\tCOAD\t2\nS3\tPA", encoding="utf-8")
    m = tmp_path / "map.yaml"
    m.write_text("prior_therapies: {column: LINES, values: {'0': []}}\n")
    cases, errors, _ = do_import(vocab, maf, clinical=[clin], field_map=m)
    e, no_type = errors
    assert e["source"] == f"{clin}:4" and e["error"]["field"] == "ONCOTREE_CODE" and e["error"]["value"] == "PA"
    assert "2 of 3 fields" in e["error"]["message"] and "probably truncated" in e["error"]["message"]
    # S3's cancer type is unknown (not "PA", pancreas, or anything else): the case cannot be written
    assert no_type["sample"] == "S3" and no_type["error"]["kind"] == "cancer_type"
    by_id = {c["id"]: c for c in cases}
    assert set(by_id) == {"S1", "S2"}
    assert by_id["S1"]["cancer_type"] == "LUAD" and by_id["S1"]["prior_therapies"] == []
    # a last line whose sample id itself may be cut is not read at all
    maf.write_text(maf_text([["KRAS", "S1", "Missense_Mutation", "p.G12C", "", ""]]), encoding="utf-8")
    clin.write_text("SAMPLE_ID\tONCOTREE_CODE\tLINES\nS1\tLUAD\t0\nS", encoding="utf-8")
    cases, errors, _ = do_import(vocab, maf, clinical=[clin], field_map=m)
    (e,) = errors
    assert e["source"] == f"{clin}:3" and e["error"]["field"] == "SAMPLE_ID"
    assert "its SAMPLE_ID may be cut, so the row is not read" in e["error"]["message"] and [c["id"] for c in cases] == ["S1"]
    # ... nor one cut before it (the id is the file's second column)
    clin.write_text("ONCOTREE_CODE\tSAMPLE_ID\tLINES\nLUAD\tS1\t0\nLUAD", encoding="utf-8")
    cases, errors, _ = do_import(vocab, maf, clinical=[clin], field_map=m)
    (e,) = errors
    assert e["error"]["field"] == "SAMPLE_ID" and "its SAMPLE_ID is missing, so the row is not read" in e["error"]["message"]
    # a last line with every field and no line end is an ordinary row
    clin.write_text("SAMPLE_ID\tONCOTREE_CODE\tLINES\nS1\tLUAD\t0", encoding="utf-8")
    cases, errors, _ = do_import(vocab, maf, clinical=[clin], field_map=m)
    assert errors == [] and cases[0]["prior_therapies"] == []


def test_a_table_compressed_twice_is_not_called_utf16(vocab, tmp_path):
    path = tmp_path / "m.maf.gz"
    path.write_bytes(gzip.compress(gzip.compress(maf_text([["KRAS", "S1", "Missense_Mutation", "p.G12C", "", ""]]).encode())))
    with pytest.raises(UsageError, match="compressed twice") as exc:
        do_import(vocab, path, cancer_type="LUAD")
    assert "UTF-16" not in str(exc.value)


def test_a_map_file_not_utf8_or_with_a_key_twice_is_a_usage_error_naming_it(vocab, tmp_path):
    maf = tmp_path / "m.maf"
    maf.write_text(maf_text([["KRAS", "S1", "Missense_Mutation", "p.G12C", "", ""]]), encoding="utf-8")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("stage: {column: STAGE, values: {IV\u00e9: metastatic}}\n".encode("latin-1"))
    with pytest.raises(UsageError, match=r"latin1.yaml: the map file is not UTF-8 \(byte 0xe9"):
        do_import(vocab, maf, cancer_type="LUAD", field_map=bad)
    twice = tmp_path / "twice.yaml"
    twice.write_text("stage: {column: STAGE, values: {IV: metastatic}}\nstage: {column: X, values: {}}\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"twice.yaml: duplicate key 'stage' \(first at line 1\).*line 2"):
        do_import(vocab, maf, cancer_type="LUAD", field_map=twice)
