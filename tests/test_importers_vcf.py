"""The VCF reader: the real PCGR example (one TCGA colon tumour, BRAF V600E, GRCh37 and GRCh38) and
small VCFs written here (VEP CSQ and SnpEff ANN annotation, several samples, genotypes, FILTER,
malformed lines, bgzip), each imported and evaluated end to end."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.importers import make_importer

ROOT = Path(__file__).resolve().parents[1]
PCGR = ROOT.parent / "shared" / "data" / "pcgr_examples"

vcfpy = pytest.importorskip("vcfpy", reason="vcfpy (the 'import' extra) is not installed")


def pcgr(name: str) -> Path:
    p = PCGR / name
    if not p.exists():
        pytest.skip(f"shared data not available: pcgr_examples/{name}")
    return p


@pytest.fixture(scope="module")
def vocab():
    from engine.importers.api import load_vocabulary

    return load_vocabulary()


def do_import(vocab, path: Path | None, **kw):
    errors: list[dict] = []
    imp = make_importer(vocab=vocab, on_error=errors.append, input_format=kw.pop("input_format", "vcf"), **kw)
    cases = list(imp.run(path))
    return cases, errors, imp.summary


def accounted(summary) -> None:
    """Every call is counted exactly once: recognised or skipped (error records are skipped rows)."""
    assert summary.rows == summary.alteration_rows + sum(summary.skipped.values())


def evaluate(engine, case: dict, **extra) -> dict:
    from engine.api import evaluate as ev

    data = dict(case, as_of="2026-07-01", **extra)
    r = ev(data)
    return {o.therapy: o for o in r.options}


def records_in(path: Path) -> int:
    with gzip.open(path, "rt") as fh:
        return sum(1 for line in fh if line.strip() and not line.startswith("#"))


# ----------------------------------------------------------------------------- the PCGR example


@pytest.mark.parametrize("name,assembly", [("T001-COAD.grch37.vcf.gz", "GRCh37"), ("T001-COAD.grch38.vcf.gz", "GRCh38")])
def test_pcgr_vcf_finds_braf_v600e_on_both_assemblies(vocab, name, assembly):
    path = pcgr(name)
    cases, errors, s = do_import(vocab, path, assembly=assembly, cancer_type="COAD", assay="exome")
    assert errors == []
    assert len(cases) == 1
    case = cases[0]
    assert case["id"] == "TCGA-A6-2686-01A-01D-1408-10_TCGA-A6-2686-10A-01D-2188-10"
    assert {"gene": "BRAF", "variant": "p.V600E"} in case["alterations"]
    if assembly == "GRCh37":
        # unannotated: records outside every known gene locus could lie in any other gene, so only
        # genes whose locus is known, and holds no record that could not be read, are tested
        import yaml

        loci = yaml.safe_load((ROOT / "rules" / "vocabulary" / "gene_loci.yaml").read_text())["loci"]["GRCh37"]
        holding = set()
        with gzip.open(path, "rt") as fh:
            for line in fh:
                if line.startswith("#"):
                    continue
                f = line.split("\t")
                for g, where in loci.items():
                    if where["chromosome"] == f[0] and where["start"] <= int(f[1]) <= where["end"]:
                        holding.add(g)
        assert holding  # the tumour has records inside some listed genes (BRAF V600E at least)
        assert set(case["tested_genes"]) == (set(loci) - holding) | {"BRAF"}  # BRAF: V600E, read
        assert "KRAS" in case["tested_genes"] and "NRAS" in case["tested_genes"]
    else:
        assert "tested_genes" not in case  # no GRCh38 loci shipped: no gene can be vouched for
    assert s.rows == records_in(path)
    accounted(s)
    assert s.from_coordinates == 1


def test_pcgr_vcf_decides_the_colorectal_anti_egfr_and_encorafenib_options(vocab, engine):
    cases, _, _ = do_import(vocab, pcgr("T001-COAD.grch37.vcf.gz"), assembly="GRCh37", cancer_type="COAD", assay="exome")
    opts = evaluate(engine, cases[0])
    for anti_egfr in ("cetuximab", "panitumumab"):
        assert opts[anti_egfr].verdict == "excluded"
        assert opts[anti_egfr].rules[0] == "BRAF-003"
    enco = opts["cetuximab+encorafenib"]
    assert enco.rules[0] == "BRAF-001"
    assert enco.verdict == "conditional"  # the VCF says nothing of stage or earlier treatment
    assert not any("BRAF" in m and not m.startswith("prior therapy history") for m in enco.missing)  # (BRAF is known)
    # the same case with the stage and a first line of FOLFOX for metastatic disease: eligible
    opts = evaluate(engine, cases[0], stage="metastatic",
                    prior_therapies=[{"regimen": "FOLFOX", "setting": "metastatic", "outcome": "progression"}])
    assert opts["cetuximab+encorafenib"].verdict == "eligible"
    assert opts["cetuximab"].verdict == "excluded"


def test_pcgr_vcf_with_its_copy_number_and_fusion_tables(vocab):
    cases, errors, s = do_import(
        vocab, pcgr("T001-COAD.grch37.vcf.gz"), assembly="GRCh37", cancer_type="COAD",
        cna=[pcgr("T001-COAD.grch37.cna.tsv")], fusions=[pcgr("T001-COAD.grch37.fusions.tsv")],
    )
    assert errors == []
    (case,) = cases
    alts = case["alterations"]
    amps = {a["gene"] for a in alts if a["variant"] == "amplification"}
    assert amps  # the segments above the threshold over a gene with a locus
    for a in alts:
        if a["variant"] == "amplification":
            assert a["copy_number"] >= 6 and a["cna"] == 2 and a["detail"].startswith("segments ")
    assert {"gene": "ALK", "variant": "fusion", "partner": "EML4", "detail": "EML4--ALK"} in alts
    assert {"gene": "ALK", "variant": "fusion", "detail": "--ALK"} in alts  # partner not named
    assert any("fusions" in n for n in s.notes)


def test_grch38_segments_need_loci(vocab, tmp_path):
    with pytest.raises(UsageError, match="gene-loci"):
        do_import(vocab, pcgr("T001-COAD.grch38.vcf.gz"), assembly="GRCh38", cancer_type="COAD",
                  cna=[pcgr("T001-COAD.grch38.cna.tsv")])
    bed = tmp_path / "loci.bed"
    bed.write_text("chr12\t25205245\t25250936\tKRAS\nchr7\t140719326\t140924929\tBRAF\n", encoding="utf-8")
    cases, errors, _ = do_import(vocab, pcgr("T001-COAD.grch38.vcf.gz"), assembly="GRCh38", cancer_type="COAD",
                                 cna=[pcgr("T001-COAD.grch38.cna.tsv")], gene_loci=bed)
    assert errors == [] and len(cases) == 1
    # a BED line past its chromosome's end, backwards, or not whole numbers stops the run naming the line
    for line, why in (("chr12\t25205245\t133275310\tKRAS", "end 133,275,310 is past the end of chromosome 12 on GRCh38"),
                      ("chr12\t25250936\t25205245\tKRAS", "is not before end"),
                      ("chr12\t25_205_245\t25250936\tKRAS", "start and end whole numbers")):
        bed.write_text("chr7\t140719326\t140924929\tBRAF\n" + line + "\n", encoding="utf-8")
        with pytest.raises(UsageError, match=f"loci.bed:2: .*{why}"):
            do_import(vocab, pcgr("T001-COAD.grch38.vcf.gz"), assembly="GRCh38", cancer_type="COAD",
                      cna=[pcgr("T001-COAD.grch38.cna.tsv")], gene_loci=bed)


# ----------------------------------------------------------------------------- small VCFs

CSQ_FORMAT = "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|HGVSc|HGVSp|CANONICAL|PICK"
HEADER = [
    "##fileformat=VCFv4.2",
    "##reference=GRCh37",
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: ' + CSQ_FORMAT + '">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FILTER=<ID=LowQual,Description="Low quality">',
]


def csq(allele: str, cons: str, gene: str, hgvsp: str = "", canonical: str = "YES", pick: str = "") -> str:
    return "|".join([allele, cons, "MODERATE", gene, "ENSG", "Transcript", "ENST", "protein_coding", "", hgvsp, canonical, pick])


def write_vcf(path: Path, samples: list[str], records: list[str], header: list[str] = HEADER) -> Path:
    cols = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"] + (["FORMAT", *samples] if samples else [])
    path.write_text("\n".join([*header, "\t".join(cols), *records]) + "\n", encoding="utf-8")
    return path


def rec(chrom, pos, ref, alt, info, gts, flt="PASS") -> str:
    f = [str(chrom), str(pos), ".", ref, alt, ".", flt, info]
    if gts:
        f += ["GT", *gts]
    return "\t".join(f)


@pytest.fixture()
def annotated(tmp_path) -> Path:
    g12c = "CSQ=" + ",".join([
        csq("A", "missense_variant", "KRAS", "ENSP00000256078.4:p.Gly12Cys", canonical="YES", pick="1"),
        csq("A", "missense_variant", "KRAS", "ENSP00000311936.3:p.Gly12Cys", canonical=""),
    ])
    records = [
        rec(12, 25398285, "C", "A", g12c, ["0/1", "0/0"]),                                     # 3: G12C in S1
        rec(12, 25398284, "C", "T", "CSQ=" + csq("T", "missense_variant", "KRAS", ""), ["0/0", "0/1"]),  # 4: G12D, no HGVSp
        rec(7, 55249071, "C", "T", "CSQ=" + csq("T", "synonymous_variant", "EGFR", "ENSP1:p.Thr790%3D"), ["0/1", "0/0"]),
        rec(17, 7577120, "C", "T", "CSQ=" + csq("T", "intron_variant", "TP53"), ["0/1", "0/1"]),
        rec(1, 1000, "G", "A", "CSQ=" + csq("A", "missense_variant", "NOTAGENE1", "ENSP:p.Ala1Thr"), ["0/1", "./."]),
        rec(1, 115256529, "T", "C", "CSQ=" + csq("C", "missense_variant", "NRAS", "ENSP:p.Gln61Arg"), ["0/1", "0/0"], flt="LowQual"),
        rec(19, 1220000, "G", "A", "CSQ=" + csq("A", "stop_gained", "STK11", "ENSP:p.Gln170Ter"), ["./.", "0/1"]),
        "12\tnotanumber\t.\tC\tA\t.\tPASS\t.\tGT\t0/1\t0/1",                                   # malformed
        rec(7, 140453136, "A", "T,G", "CSQ=" + ",".join([csq("T", "missense_variant", "BRAF", "ENSP:p.Val600Glu"),
                                                       csq("G", "missense_variant", "BRAF", "ENSP:p.Val600Ala")]),
            ["0/2", "0/1"]),
        rec(10, 43609950, "G", "A", "CSQ=" + csq("A", "weird_new_term", "RET", "ENSP:p.Ala1Thr"), ["0/1", "0/0"]),
    ]
    return write_vcf(tmp_path / "cohort.vcf", ["S1", "S2"], records)


def test_annotated_multi_sample_vcf(vocab, annotated):
    cases, errors, s = do_import(vocab, annotated, cancer_type="LUAD", assay="exome")
    by_id = {c["id"]: c for c in cases}
    assert list(by_id) == ["S1", "S2"]
    s1, s2 = by_id["S1"], by_id["S2"]
    v1 = {(a["gene"], a["variant"]) for a in s1["alterations"]}
    v2 = {(a["gene"], a["variant"]) for a in s2["alterations"]}
    assert ("KRAS", "p.Gly12Cys") in v1 and not any(g == "KRAS" for g, _ in v2 if _ == "p.Gly12Cys")
    assert ("KRAS", "p.G12D") in v2  # no HGVSp: read from the coordinates through the hotspot table
    assert ("BRAF", "p.Val600Ala") in v1 and ("BRAF", "p.Val600Glu") in v2  # each allele to its carrier (A>G at c.1799 is V600A)
    assert ("STK11", "p.Gln170Ter") in v2
    assert not any(g in ("EGFR", "TP53", "NRAS") for g, _ in v1 | v2)
    # a filtered NRAS call and a no-call at STK11: those genes are unknown, not wild-type
    assert "NRAS" not in s1["tested_genes"] and "NRAS" in s2["tested_genes"]
    assert "STK11" not in s1["tested_genes"]
    assert "RET" not in s1["tested_genes"]  # unknown consequence: error record, gene unknown
    assert "EGFR" in s1["tested_genes"] and "TP53" in s1["tested_genes"]
    kinds = sorted(e["error"]["kind"] for e in errors)
    assert kinds == ["classification", "row"]
    row_err = next(e for e in errors if e["error"]["kind"] == "row")
    assert row_err["source"].endswith("cohort.vcf:14")
    cls_err = next(e for e in errors if e["error"]["kind"] == "classification")
    assert cls_err["gene"] == "RET" and cls_err["sample"] == "S1" and cls_err["error"]["value"] == "weird_new_term"
    accounted(s)
    assert s.from_coordinates == 1


def test_annotated_vcf_end_to_end_g12c_after_chemo_immunotherapy(vocab, annotated, tmp_path, engine):
    clinical = tmp_path / "clinical.txt"
    clinical.write_text("SAMPLE_ID\tONCOTREE_CODE\tSTAGE\tPRIOR\nS1\tLUAD\tIV\tchemo-io\nS2\tLUAD\tIV\tnone\n", encoding="utf-8")
    fmap = tmp_path / "map.yaml"
    fmap.write_text(
        "stage: {column: STAGE, values: {IV: metastatic}}\n"
        "prior_therapies: {column: PRIOR, values: {chemo-io: [{drugs: [carboplatin, pemetrexed, pembrolizumab],"
        " outcome: progression}], none: []}}\n",
        encoding="utf-8",
    )
    cases, _, _ = do_import(vocab, annotated, clinical=[clinical], field_map=fmap, assay="exome")
    s1 = next(c for c in cases if c["id"] == "S1")
    assert evaluate(engine, s1)["sotorasib"].verdict == "eligible"


def test_snpeff_ann_and_bgzip_and_normal_column(vocab, tmp_path):
    header = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1,length=249250621>",
        "##tumor_sample=TUMOUR",
        "##normal_sample=NORMAL",
        "##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: 'Allele | Annotation | "
        "Annotation_Impact | Gene_Name | Gene_ID | Feature_Type | Feature_ID | Transcript_BioType | Rank | HGVS.c | "
        "HGVS.p | cDNA.pos / cDNA.length | CDS.pos / CDS.length | AA.pos / AA.length | Distance | ERRORS / WARNINGS / INFO'\">",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    ]
    ann = "ANN=A|missense_variant|MODERATE|KRAS|ENSG|transcript|ENST|protein_coding|2/6|c.34G>T|p.Gly12Cys|||||"
    plain = write_vcf(tmp_path / "pair.vcf", ["NORMAL", "TUMOUR"], [rec(12, 25398285, "C", "A", ann, ["0/0", "0/1"])], header)
    from vcfpy import bgzf

    gz = tmp_path / "pair.vcf.gz"
    with bgzf.BgzfWriter(str(gz), "wb") as fh:
        fh.write(plain.read_text(encoding="utf-8"))
    assert gz.read_bytes()[:4] == b"\x1f\x8b\x08\x04"  # BGZF: gzip with the extra field
    for path in (plain, gz):
        cases, errors, s = do_import(vocab, path, cancer_type="NSCLC")
        assert errors == []
        assert [c["id"] for c in cases] == ["TUMOUR"]
        assert cases[0]["alterations"] == [{"gene": "KRAS", "variant": "p.Gly12Cys"}]
        assert any("normal" in n for n in s.notes)


@pytest.mark.parametrize("key", ["CSQ", "ANN"])
@pytest.mark.parametrize("symbol", ["\u041aRAS", "KR\xffAS", "\u039aRAS"])  # Cyrillic K, a Latin-1 byte read as text, Greek K
def test_an_annotated_gene_symbol_no_gene_could_have_is_an_error_record_and_that_gene_unknown(vocab, tmp_path, engine, key, symbol):
    """A KRAS G12C record whose annotation's gene symbol was mangled was skipped as of a gene the
    rules do not read: with an exome, KRAS was then tested and wild-type, and the colorectal cancer
    was offered cetuximab and panitumumab."""
    if key == "CSQ":
        header, info = HEADER, "CSQ=" + csq("A", "missense_variant", symbol, "ENSP00000256078.4:p.Gly12Cys")
    else:
        header = [*HEADER[:2], "##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: 'Allele | "
                  "Annotation | Annotation_Impact | Gene_Name | Gene_ID | Feature_Type | Feature_ID | Transcript_BioType | "
                  "Rank | HGVS.c | HGVS.p | cDNA.pos / cDNA.length | CDS.pos / CDS.length | AA.pos / AA.length | Distance | "
                  "ERRORS / WARNINGS / INFO'\">", *HEADER[3:]]
        info = f"ANN=A|missense_variant|MODERATE|{symbol}|ENSG|transcript|ENST|protein_coding|2/6|c.34G>T|p.Gly12Cys|||||"
    path = write_vcf(tmp_path / "s.vcf", ["S1"], [rec(12, 25398285, "C", "A", info, ["0/1"]),
                                                   rec(17, 7577120, "C", "T", "CSQ=" + csq("T", "missense_variant", "TP53", "ENSP:p.Arg175His")
                                                       if key == "CSQ" else info.replace(symbol, "TP53").replace("Gly12Cys", "Arg175His"),
                                                       ["0/1"])], header)
    cases, errors, s = do_import(vocab, path, cancer_type="COAD", assay="exome")
    (case,) = cases
    assert "KRAS" not in case["tested_genes"] and "TP53" in case["tested_genes"]
    (err,) = errors
    assert err["error"]["kind"] == "gene" and err["gene"] == "KRAS" and err["error"]["suggestion"] == "KRAS"
    assert err["error"]["field"] == f"INFO/{key}:{'SYMBOL' if key == 'CSQ' else 'Gene_Name'}" and err["source"].endswith("s.vcf:7")
    accounted(s)
    verdicts = evaluate(engine, case)
    for t in ("cetuximab", "panitumumab"):  # conditional on KRAS testing, never on KRAS read as wild-type
        assert verdicts[t].verdict == "conditional" and "KRAS testing" in verdicts[t].missing


def test_sites_only_vcf_is_one_case_named_after_the_file(vocab, tmp_path):
    path = write_vcf(tmp_path / "patient7.vcf", [], [rec(12, 25398285, "C", "A", ".", [])])
    cases, errors, s = do_import(vocab, path, cancer_type="PAAD", assay="exome")
    assert [c["id"] for c in cases] == ["patient7"]
    assert cases[0]["alterations"] == [{"gene": "KRAS", "variant": "p.G12C"}]
    assert "tested_genes" in cases[0]  # every record was located: nothing makes a gene unknown
    accounted(s)


def test_unannotated_vcf_needs_an_assembly_and_a_vcf_needs_its_header(vocab, tmp_path):
    no_ref = write_vcf(tmp_path / "x.vcf", ["S"], [rec(12, 25398285, "C", "A", ".", ["0/1"])], HEADER[:1] + HEADER[3:])
    with pytest.raises(UsageError, match="--assembly"):
        do_import(vocab, no_ref, cancer_type="LUAD")
    cases, _, _ = do_import(vocab, no_ref, cancer_type="LUAD", assembly="GRCh37")
    assert cases[0]["alterations"] == [{"gene": "KRAS", "variant": "p.G12C"}]
    bad = tmp_path / "notvcf.vcf"
    bad.write_text("CHROM\tPOS\n1\t2\n", encoding="utf-8")
    with pytest.raises(UsageError, match="not a VCF"):
        do_import(vocab, bad, cancer_type="LUAD")
    with pytest.raises(UsageError, match="header says GRCh37"):
        do_import(vocab, write_vcf(tmp_path / "y.vcf", ["S"], [], HEADER), cancer_type="LUAD", assembly="GRCh38")


def test_wrong_reference_allele_is_an_error_record(vocab, tmp_path):
    path = write_vcf(tmp_path / "x.vcf", ["S"], [rec(12, 25398285, "G", "A", ".", ["0/1"])])
    cases, errors, s = do_import(vocab, path, cancer_type="LUAD", assay="exome")
    assert [e["error"]["kind"] for e in errors] == ["coordinates"]
    assert "KRAS" not in cases[0]["tested_genes"]
    accounted(s)


def test_cli_reads_a_vcf(annotated, tmp_path):
    import argparse
    import io

    from engine.importers.cli import add_parser, run

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out, err = io.StringIO(), io.StringIO()
    rc = run(parser.parse_args(["import", "--vcf", str(annotated), "--cancer-type", "LUAD"]), stdout=out, stderr=err)
    assert rc == 1  # two error records
    cases = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [c["id"] for c in cases] == ["S1", "S2"]
    assert "VCF records: 10" in err.getvalue()
    with pytest.raises(UsageError, match="not both"):
        run(parser.parse_args(["import", "--vcf", str(annotated), "--mutations", str(annotated)]), stdout=out, stderr=err)


def test_an_unreadable_record_leaves_the_genes_it_may_be_about_unknown(vocab, tmp_path):
    good = rec(7, 140453136, "A", "T", ".", ["0/1"])  # BRAF V600E
    for bad, unknown in (("12\tnotanumber\t.\tC\tA\t.\tPASS\t.\tGT\t0/1", {"KRAS"}),   # no position: its chromosome's genes
                         ("12\t25398285\t.\tC\tA\t.\tPASS\t.\tGT", {"KRAS"})):        # a position in KRAS codon 12
        path = write_vcf(tmp_path / "x.vcf", ["S"], [good, bad])
        cases, errors, s = do_import(vocab, path, cancer_type="COAD", assay="exome")
        assert [e["error"]["kind"] for e in errors] == ["row"]
        tested = set(cases[0]["tested_genes"])
        assert not unknown & tested and {"BRAF", "NRAS"} <= tested
        accounted(s)


def test_an_unreadable_record_s_own_annotation_names_its_gene_and_a_stray_line_names_none(vocab, tmp_path):
    good = rec(17, 7577120, "C", "T", "CSQ=" + csq("T", "missense_variant", "TP53", "ENSP:p.Arg175His"), ["0/1"])
    # no sample column: unreadable; its position is in no hotspot table of this assembly, its CSQ names KRAS
    bad = "\t".join(["12", "1000", ".", "C", "T", ".", "PASS", "CSQ=" + csq("T", "inframe_deletion", "KRAS", "ENSP:p.Gly12_Gly13del"), "GT"])
    cases, _, _ = do_import(vocab, write_vcf(tmp_path / "x.vcf", ["S"], [good, bad]), cancer_type="COAD", assay="exome")
    assert "KRAS" not in cases[0]["tested_genes"] and "TP53" in cases[0]["tested_genes"]
    cases, errors, _ = do_import(vocab, write_vcf(tmp_path / "y.vcf", ["S"], [good, "\x1a"]), cancer_type="COAD", assay="exome")
    assert [e["error"]["kind"] for e in errors] == ["row"] and "KRAS" in cases[0]["tested_genes"]


def test_a_record_whose_tabs_became_spaces_still_names_its_gene_and_an_annotated_one_names_only_its_own(vocab, tmp_path):
    good = rec(17, 7577120, "C", "T", "CSQ=" + csq("T", "missense_variant", "TP53", "ENSP:p.Arg175His"), ["0/1"])
    g12c = rec(12, 25398285, "C", "A", "CSQ=" + csq("A", "missense_variant", "KRAS", "ENSP:p.Gly12Cys"), ["0/1"]).replace("\t", " ")
    cases, _, _ = do_import(vocab, write_vcf(tmp_path / "x.vcf", ["S"], [good, g12c]), cancer_type="COAD", assay="exome")
    assert "KRAS" not in cases[0]["tested_genes"]
    # no ##reference (no gene loci): an unreadable record whose CSQ names a vocabulary gene makes
    # that gene unknown, not its whole chromosome; one whose annotation names no gene the
    # vocabulary knows (another gene, an empty or cut field) leaves its chromosome's genes unknown
    header = [h for h in HEADER if not h.startswith("##reference")]
    nras = "\t".join(["12", "109600000", ".", "C", "T", ".", "PASS", "CSQ=" + csq("T", "missense_variant", "NRAS", "ENSP:p.Gln61Lys"), "GT"])
    cases, _, _ = do_import(vocab, write_vcf(tmp_path / "y.vcf", ["S"], [good, nras], header), cancer_type="COAD", assay="exome")
    assert "NRAS" not in cases[0]["tested_genes"] and "KRAS" in cases[0]["tested_genes"]
    for gene in ("ACACB", ""):
        other = "\t".join(["12", "109600000", ".", "C", "T", ".", "PASS", "CSQ=" + csq("T", "missense_variant", gene, "ENSP:p.Ala100Thr"), "GT"])
        cases, _, _ = do_import(vocab, write_vcf(tmp_path / "z.vcf", ["S"], [good, other], header), cancer_type="COAD", assay="exome")
        assert "KRAS" not in cases[0]["tested_genes"], gene
    # a record cut after its chromosome, and an unannotated record whose tabs became spaces
    for line in ("12", rec(12, 25398285, "C", "A", ".", ["0/1"]).replace("\t", " ")):
        cases, _, _ = do_import(vocab, write_vcf(tmp_path / "w.vcf", ["S"], [good, line]), cancer_type="COAD", assay="exome")
        assert "KRAS" not in cases[0]["tested_genes"], line


# ----------------------------------------------------------------------------- transcripts (F1), normal samples (F4, F8)

MANE_FORMAT = "Allele|Consequence|IMPACT|SYMBOL|Feature|CANONICAL|HGVSc|HGVSp|PICK"
MANE_HEADER = [
    "##fileformat=VCFv4.2",
    "##reference=GRCh38",
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: ' + MANE_FORMAT + '">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
]
BRAF_MANE = "T|missense_variant|MODERATE|BRAF|ENST00000646891|YES|ENST00000646891.2:c.1919T>A|ENSP00000493543.1:p.Val640Glu|1"
BRAF_REF = "T|missense_variant|MODERATE|BRAF|ENST00000288602||ENST00000288602.11:c.1799T>A|ENSP00000288602.7:p.Val600Glu|"


def test_vep_pick_on_the_mane_transcript_gives_way_to_the_reference_transcript_entry(vocab, tmp_path):
    """VEP picked BRAF's MANE transcript (V600E numbered V640E); the CSQ also holds the entry on the
    reference transcript (ENST00000288602): that one is read, and the summary says so."""
    path = write_vcf(tmp_path / "mane.vcf", ["TUMOR"],
                     [rec("chr7", 140753336, "A", "T", f"CSQ={BRAF_MANE},{BRAF_REF}", ["0/1"])], MANE_HEADER)
    cases, errors, s = do_import(vocab, path, cancer_type="COAD", assay="exome")
    assert errors == []
    assert cases[0]["alterations"] == [{"gene": "BRAF", "variant": "p.Val600Glu"}]
    assert s.pick_replaced == 1
    assert any("rather than the one VEP picked" in x for x in s.lines("mane.vcf"))
    accounted(s)


def test_vep_protein_on_another_transcript_only_is_read_from_the_coordinates(vocab, tmp_path):
    path = write_vcf(tmp_path / "mane_only.vcf", ["TUMOR"],
                     [rec("chr7", 140753336, "A", "T", f"CSQ={BRAF_MANE}", ["0/1"])], MANE_HEADER)
    cases, errors, s = do_import(vocab, path, cancer_type="COAD", assay="exome")
    assert errors == []
    assert cases[0]["alterations"] == [{"gene": "BRAF", "variant": "p.V600E"}]
    assert s.renumbered == 1 and s.from_coordinates == 1
    assert any("read from the coordinates instead" in x and "p.Val640Glu" in x for x in s.lines("mane_only.vcf"))
    accounted(s)


def test_vep_protein_contradicting_the_coordinates_on_the_reference_transcript_is_an_error_record(vocab, tmp_path):
    entry = "T|missense_variant|MODERATE|KRAS|ENST00000256078|YES|c.35G>A|ENSP00000256078.4:p.Gly12Cys|1"
    path = write_vcf(tmp_path / "conflict.vcf", ["S1"], [rec(12, 25398284, "C", "T", f"CSQ={entry}", ["0/1"])],
                     [h.replace("GRCh38", "GRCh37") for h in MANE_HEADER])
    cases, errors, s = do_import(vocab, path, cancer_type="LUAD", assay="exome")
    assert cases[0]["alterations"] == [] and "KRAS" not in cases[0]["tested_genes"]
    [err] = errors
    assert err["source"] == f"{path}:6" and err["gene"] == "KRAS"
    assert err["error"]["kind"] == "protein" and err["error"]["field"] == "INFO/CSQ:HGVSp"
    assert err["error"]["value"] == "p.Gly12Cys" and err["error"]["suggestion"] == "p.G12D"
    accounted(s)


TN_HEADER = [
    "##fileformat=VCFv4.2",
    "##reference=GRCh37",
    "##normal_sample=NORMAL1",
    "##tumor_sample=TUMOR1",
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: ' + CSQ_FORMAT + '">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
]


def test_a_call_the_matched_normal_carries_is_germline(vocab, tmp_path):
    """Mutect2-style tumour-normal VCF: BRCA2 E1953* is 0/1 in the normal too (germline), KRAS G12D 0/0 in
    the normal (somatic); a no-call in the normal leaves the origin untold (somatic, counted)."""
    records = [
        rec(12, 25398284, "C", "T", "CSQ=" + csq("T", "missense_variant", "KRAS", "ENSP:p.Gly12Asp"), ["0/0", "0/1"]),
        rec(13, 32910356, "G", "T", "CSQ=" + csq("T", "stop_gained", "BRCA2", "ENSP:p.Glu1953Ter"), ["0/1", "0/1"]),
        rec(19, 1220000, "G", "A", "CSQ=" + csq("A", "stop_gained", "STK11", "ENSP:p.Gln170Ter"), ["./.", "0/1"]),
    ]
    path = write_vcf(tmp_path / "tn.vcf", ["NORMAL1", "TUMOR1"], records, TN_HEADER)
    cases, errors, s = do_import(vocab, path, cancer_type="PAAD")
    assert errors == [] and [c["id"] for c in cases] == ["TUMOR1"]
    assert cases[0]["alterations"] == [
        {"gene": "BRCA2", "variant": "p.Glu1953Ter", "origin": "germline"},
        {"gene": "KRAS", "variant": "p.Gly12Asp"},
        {"gene": "STK11", "variant": "p.Gln170Ter"},
    ]
    assert s.origin_germline == 1 and sum(s.origin_unknown.values()) == 1
    lines = s.lines("tn.vcf")
    assert any("written as germline" in x for x in lines) and any("could not tell their origin" in x for x in lines)
    accounted(s)


STRELKA_HEADER = [
    "##fileformat=VCFv4.1",
    "##contig=<ID=1,length=249250621>",
    '##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="Somatic mutation">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    '##FORMAT=<ID=AU,Number=2,Type=Integer,Description="A tier1,tier2">',
    '##FORMAT=<ID=CU,Number=2,Type=Integer,Description="C tier1,tier2">',
]


def _strelka(info: str, pos: int = 25398285) -> str:
    return "\t".join(["12", str(pos), ".", "C", "A", ".", "PASS", info, "DP:AU:CU", "40:0,0:40,40", "50:20,20:30,30"])


def test_strelka_normal_column_is_not_a_patient(vocab, tmp_path):
    """Strelka: columns NORMAL and TUMOR, no GT, no ##normal_sample header. The NORMAL column is the
    matched normal (not a case carrying the tumour's G12C); a record without the SOMATIC flag the header
    declares is germline."""
    path = write_vcf(tmp_path / "strelka.vcf", ["NORMAL", "TUMOR"], [_strelka("SOMATIC")], STRELKA_HEADER)
    cases, errors, s = do_import(vocab, path, cancer_type="LUAD", assay="exome")
    assert errors == [] and [c["id"] for c in cases] == ["TUMOR"]
    assert cases[0]["alterations"] == [{"gene": "KRAS", "variant": "p.G12C"}]
    assert any("'NORMAL' read as the matched normal" in n for n in s.notes)
    accounted(s)
    path = write_vcf(tmp_path / "strelka2.vcf", ["NORMAL", "TUMOR"], [_strelka(".")], STRELKA_HEADER)
    cases, errors, s = do_import(vocab, path, cancer_type="LUAD")
    assert [c["id"] for c in cases] == ["TUMOR"]
    assert cases[0]["alterations"] == [{"gene": "KRAS", "variant": "p.G12C", "origin": "germline"}]


# ----------------------------------------------------------------------------- clinical significance (ClinVar)

SIG_HEADER = [*TN_HEADER, '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance for this single variant">']


def tumour_alterations(vocab, path: Path, records: list[str], header: list[str] = SIG_HEADER):
    """The case of the tumour column of a tumour-normal VCF of ``records`` (no error record), and
    the import's summary (every call accounted for)."""
    cases, errors, s = do_import(vocab, write_vcf(path, ["NORMAL1", "TUMOR1"], records, header), cancer_type="PAAD")
    assert errors == [] and [c["id"] for c in cases] == ["TUMOR1"]
    accounted(s)
    return cases[0], s


@pytest.mark.parametrize("text,expected", [
    ("Pathogenic", ("pathogenic", "")),
    ("Likely_pathogenic", ("likely_pathogenic", "")),
    ("Pathogenic/Likely_pathogenic", ("likely_pathogenic", "")),  # the weaker of one side
    ("Pathogenic|drug_response", ("pathogenic", "")),  # a term that says nothing of pathogenicity is passed over
    ("Benign/Likely_benign", ("likely_benign", "")),
    ("Uncertain_significance", ("uncertain_significance", "")),
    ("pathogenic&likely_pathogenic", ("likely_pathogenic", "")),  # VEP's spelling
    ("Pathogenic/Pathogenic,_low_penetrance", ("pathogenic", "")),  # ClinVar's low-penetrance suffix
    ("Conflicting_classifications_of_pathogenicity", (None, "conflicting: left unclassified")),
    ("Conflicting_interpretations_of_pathogenicity", (None, "conflicting: left unclassified")),
    ("Pathogenic/Benign", (None, "conflicting: left unclassified")),
    ("Uncertain_significance/Likely_benign", (None, "conflicting: left unclassified")),
    ("not_provided", (None, "no pathogenicity term: left unclassified")),
])
def test_clinical_significance_terms(text, expected):
    from engine.importers.vcf import clinical_significance

    assert clinical_significance(text) == expected


def test_clinvar_significance_of_a_germline_call_is_its_classification(vocab, tmp_path):
    """A tumour-normal VCF annotated with ClinVar's CLNSIG: the germline BRCA2 N372H (a common benign
    polymorphism) is written `classification: benign`, and olaparib is then no option; a germline
    missense ClinVar calls pathogenic is; a conflicting one stays unclassified (decided by its
    change: a missense asks for its classification). A somatic call's significance is not written
    (the case's classification is a germline report's), and every call is counted in the summary."""
    records = [
        rec(13, 32906729, "A", "C", "CLNSIG=Benign;CSQ=" + csq("C", "missense_variant", "BRCA2", "ENSP:p.Asn372His"), ["0/1", "0/1"]),
        rec(17, 41245466, "G", "A", "CLNSIG=Pathogenic/Likely_pathogenic;CSQ=" + csq("A", "missense_variant", "BRCA1", "ENSP:p.Arg1699Trp"), ["0/1", "0/1"]),
        rec(13, 32914438, "T", "C", "CLNSIG=Conflicting_classifications_of_pathogenicity;CSQ=" + csq("C", "missense_variant", "BRCA2", "ENSP:p.Val2466Ala"), ["0/1", "0/1"]),
        rec(12, 25398284, "C", "T", "CLNSIG=Pathogenic;CSQ=" + csq("T", "missense_variant", "KRAS", "ENSP:p.Gly12Asp"), ["0/0", "0/1"]),
    ]
    case, s = tumour_alterations(vocab, tmp_path / "clinvar.vcf", records)
    assert case["alterations"] == [
        {"gene": "BRCA1", "variant": "p.Arg1699Trp", "origin": "germline", "classification": "likely_pathogenic"},
        {"gene": "BRCA2", "variant": "p.Asn372His", "origin": "germline", "classification": "benign"},
        {"gene": "BRCA2", "variant": "p.Val2466Ala", "origin": "germline"},
        {"gene": "KRAS", "variant": "p.Gly12Asp"},
    ]
    assert s.significance == {"germline calls classified likely_pathogenic": 1, "germline calls classified benign": 1,
                              "conflicting: left unclassified": 1,
                              "somatic calls, not written (the case's classification is a germline one)": 1}
    assert any("clinical significance (ClinVar) of calls" in x for x in s.lines("clinvar.vcf"))

    history = {"stage": "metastatic", "prior_therapies": [{"regimen": "FOLFIRINOX", "setting": "metastatic",
                                                             "outcome": "stable", "weeks": 18}]}
    benign_only = dict(case, alterations=[case["alterations"][1], case["alterations"][3]])
    assert "olaparib" not in evaluate(None, benign_only, **history)
    n372h = {k: v for k, v in benign_only["alterations"][0].items() if k != "classification"}
    unclassified = dict(benign_only, alterations=[n372h])
    assert evaluate(None, unclassified, **history)["olaparib"].verdict == "conditional"
    pathogenic = dict(case, alterations=[case["alterations"][0], case["alterations"][3]])
    assert evaluate(None, pathogenic, **history)["olaparib"].verdict == "eligible"


def test_clinvar_significance_from_vep_custom_annotation(vocab, tmp_path):
    """VEP's --custom ClinVar annotation (ClinVar_CLNSIG in CSQ) is read per allele: of a record with
    two alternative alleles, each allele's own; where it is empty, the record's INFO CLNSIG."""
    fmt = CSQ_FORMAT + "|ClinVar_CLNSIG"
    header = [h for h in SIG_HEADER if "ID=CSQ" not in h] + [
        '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: ' + fmt + '">']
    records = [
        rec(13, 32906729, "A", "C", "CSQ=" + csq("C", "missense_variant", "BRCA2", "ENSP:p.Asn372His") + "|Benign", ["0/1", "0/1"]),
        rec(17, 41245466, "G", "A,T", "CSQ=" + csq("A", "missense_variant", "BRCA1", "ENSP:p.Arg1699Trp") + "|Pathogenic"
            + "," + csq("T", "missense_variant", "BRCA1", "ENSP:p.Arg1699Gln") + "|Uncertain_significance", ["1/2", "1/2"]),
        rec(17, 41215920, "G", "A", "CLNSIG=Benign;CSQ=" + csq("A", "missense_variant", "BRCA1", "ENSP:p.Ser1613Gly") + "|", ["0/1", "0/1"]),
    ]
    case, _ = tumour_alterations(vocab, tmp_path / "custom.vcf", records, header)
    assert case["alterations"] == [
        {"gene": "BRCA1", "variant": "p.Arg1699Gln", "origin": "germline", "classification": "uncertain_significance"},
        {"gene": "BRCA1", "variant": "p.Arg1699Trp", "origin": "germline", "classification": "pathogenic"},
        {"gene": "BRCA1", "variant": "p.Ser1613Gly", "origin": "germline", "classification": "benign"},
        {"gene": "BRCA2", "variant": "p.Asn372His", "origin": "germline", "classification": "benign"},
    ]


def test_clinvar_significance_of_a_record_with_two_alleles_is_not_read(vocab, tmp_path):
    """An INFO CLNSIG on a record with two alternative alleles cannot be told apart per allele: not
    read (each call counted), and the variants stay unclassified."""
    records = [rec(17, 41245466, "G", "A,T", "CLNSIG=Pathogenic;CSQ=" + csq("A", "missense_variant", "BRCA1", "ENSP:p.Arg1699Trp")
                   + "," + csq("T", "missense_variant", "BRCA1", "ENSP:p.Arg1699Gln"), ["1/2", "1/2"])]
    case, s = tumour_alterations(vocab, tmp_path / "two.vcf", records)
    assert [a.get("classification") for a in case["alterations"]] == [None, None]
    assert s.significance == {"CLNSIG of a record with several alternative alleles: not read": 2}


# ----------------------------------------------------------------------------- review: positions, truncation


@pytest.mark.parametrize("pos", ["-1", "12345678901234567890123", "abc", "1_000", "2147483648"])
def test_a_pos_that_is_not_a_position_is_an_error_naming_the_field_not_a_record_outside_every_gene(vocab, tmp_path, pos):
    """-1 or a 23-digit POS was read as a record outside every gene (skipped), 'abc' gave Python's
    int() message: each is an error record naming the line and POS, with what is expected."""
    good = rec(7, 140453136, "A", "T", ".", ["0/1"])  # BRAF V600E
    bad = f"12\t{pos}\t.\tC\tA\t.\tPASS\t.\tGT\t0/1"
    cases, errors, s = do_import(vocab, write_vcf(tmp_path / "x.vcf", ["S"], [good, bad]), cancer_type="COAD",
                                 assay="exome")
    (e,) = errors
    assert e["source"] == f"{tmp_path / 'x.vcf'}:8" and e["error"]["field"] == "POS" and e["error"]["value"] == pos
    assert "is not a position: expected a whole number from 1 to 2,147,483,647" in e["error"]["message"]
    assert "\n" not in e["error"]["message"] and "int()" not in e["error"]["message"]
    assert s.skipped.get("no annotation, not decoded, outside every gene with a known locus", 0) == 0
    (case,) = cases
    assert {"gene": "BRAF", "variant": "p.V600E"} in case["alterations"]
    assert "KRAS" not in case["tested_genes"]  # what it called (chromosome 12) is unknown, never wild-type
    accounted(s)


def test_a_pos_past_its_chromosome_s_end_is_an_error_naming_the_field(vocab, tmp_path):
    """POS past chromosome 12's end on the file's assembly (GRCh37, from its header) was read as a
    record outside every gene: it is an error naming POS, and the genes of that chromosome are
    unknown (its position says nothing), never wild-type."""
    good = rec(7, 140453136, "A", "T", ".", ["0/1"])  # BRAF V600E
    bad = rec(12, 133851896, "C", "A", ".", ["0/1"])
    last = rec(12, 133851895, "C", "A", ".", ["0/1"])  # the chromosome's last base: a position
    cases, errors, s = do_import(vocab, write_vcf(tmp_path / "x.vcf", ["S"], [good, bad, last]), cancer_type="COAD",
                                 assay="exome")
    (e,) = errors
    assert e["source"] == f"{tmp_path / 'x.vcf'}:8" and e["error"]["field"] == "POS" and e["error"]["value"] == "133851896"
    assert "POS 133,851,896 is past the end of chromosome 12 on GRCh37 (133,851,895 bases)" in e["error"]["message"]
    (case,) = cases
    assert {"gene": "BRAF", "variant": "p.V600E"} in case["alterations"]
    assert "KRAS" not in case["tested_genes"] and "BRAF" in case["tested_genes"]
    accounted(s)


def test_a_pos_past_the_length_its_header_declares_for_a_contig_is_an_error(vocab, tmp_path):
    """A contig the assembly table does not list (GL000192.1) is held to the length its ##contig
    line declares; a record inside it is read as before (outside every gene)."""
    header = [*HEADER, "##contig=<ID=GL000192.1,assembly=b37,length=547496>"]
    good = rec(7, 140453136, "A", "T", ".", ["0/1"])
    inside = rec("GL000192.1", 547496, "C", "A", ".", ["0/1"])
    past = rec("GL000192.1", 547497, "C", "A", ".", ["0/1"])
    cases, errors, s = do_import(vocab, write_vcf(tmp_path / "x.vcf", ["S"], [good, inside, past], header=header),
                                 cancer_type="COAD", assay="exome")
    (e,) = errors
    assert e["source"].endswith(":10") and e["error"]["field"] == "POS" and e["error"]["kind"] == "coordinates"
    assert ("POS 547,497 is past the end of contig GL000192.1 as the header's ##contig line declares it (547,496 bases)"
            in e["error"]["message"])
    (case,) = cases
    assert {"gene": "BRAF", "variant": "p.V600E"} in case["alterations"]
    accounted(s)


def test_vcfpy_messages_are_one_line_and_a_truncated_last_record_says_so(vocab, tmp_path):
    good = rec(7, 140453136, "A", "T", ".", ["0/1"])
    path = write_vcf(tmp_path / "x.vcf", ["S"], [good, "12\t25398285\t.\tC\tA\t.\tPASS\t.\tGT\t0/1\textra"])
    path.write_text(path.read_text() + "12\t25398285\t.\tC\tA\t.\tPA", encoding="utf-8")  # cut: no line end
    cases, errors, _ = do_import(vocab, path, cancer_type="COAD")
    assert [e["source"].rsplit(":", 1)[1] for e in errors] == ["8", "9"]
    assert all("\n" not in e["error"]["message"] and "PASS" not in e["error"]["message"] for e in errors)
    assert "number of fields" in errors[0]["error"]["message"] and "truncated" not in errors[0]["error"]["message"]
    assert "without a line end: it was probably truncated" in errors[1]["error"]["message"]
    assert {"gene": "BRAF", "variant": "p.V600E"} in cases[0]["alterations"]


def test_a_truncated_bgzip_vcf_keeps_the_records_before_the_damage(vocab, tmp_path):
    records = [rec(7, 140453136, "A", "T", ".", ["0/1"])] + [rec(1, 1_000_000 + 17 * i, "G", "A", ".", ["0/1"])
                                                               for i in range(20_000)]
    plain = write_vcf(tmp_path / "x.vcf", ["S"], records)
    data = gzip.compress(plain.read_bytes())
    path = tmp_path / "x.vcf.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    cases, errors, s = do_import(vocab, path, cancer_type="COAD", assay="exome")
    (e,) = errors
    assert e["error"]["kind"] == "file" and e["source"] == str(path)
    assert "damaged or truncated after line" in e["error"]["message"]
    (case,) = cases
    assert {"gene": "BRAF", "variant": "p.V600E"} in case["alterations"]
    assert "BRAF" not in case.get("tested_genes", [])  # the lost records may be about any gene
    assert 0 < s.rows < len(records)
