"""Importers: real mutation files (TCGA, cBioPortal, OncoKB examples) -> cases.

The real files live in ``../shared/data`` (relative to the repository root); tests that need them
skip with a reason when it is absent. Expected results are computed here from the raw files with
code independent of the importer's.
"""
from __future__ import annotations

import argparse
import gzip
import io
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml

from engine.errors import UsageError
from engine.importers import make_importer, read_sample_list
from engine.importers import hotspots as hs
from engine.importers.cli import add_parser, run
from engine.importers.hotspots import HotspotTable
from engine.importers.maf import COUNTED, NOT_COUNTED, classify

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TCGA = DATA / "tcga_mutations"
CBIO = DATA / "cbioportal"
LUNG = CBIO / "lung_msk_2017"
ONCOKB = DATA / "oncokb_annotator_examples"
PCGR = DATA / "pcgr_examples"
HOTSPOTS = ROOT / "rules" / "vocabulary" / "genomic_hotspots.yaml"

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data (the real public data) is not present")

RAS_CODONS = {12, 13, 59, 61, 117, 146}
MISSENSE = re.compile(r"^p\.([A-Z])(\d+)([A-Z])$")


# ----------------------------------------------------------------------------- reading files and running imports


@pytest.fixture(scope="module")
def vocab():
    try:
        from engine.vocabulary import Vocabulary
    except ImportError as exc:  # pragma: no cover - the vocabulary is part of the engine
        pytest.skip(f"engine.vocabulary is not importable: {exc}")
    return Vocabulary.load(ROOT / "rules" / "vocabulary")


@pytest.fixture(scope="module")
def table() -> HotspotTable:
    return HotspotTable.load(HOTSPOTS)


def do_import(vocab, mutations: Path, **kw):
    errors: list[dict] = []
    imp = make_importer(vocab=vocab, on_error=errors.append, **kw)
    cases = list(imp.run(Path(mutations)))
    return cases, errors, imp.summary


def raw_rows(path: Path):
    """Rows of a tab-separated file as dicts (independent of the importer's reader)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="latin-1") as fh:
        header = None
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t")
            if header is None:
                header = [h.strip() for h in parts]
                continue
            row = {}
            for h, v in zip(header, parts, strict=False):
                row.setdefault(h, v)
            yield row


def protein_of(row: dict) -> str:
    for col in ("HGVSp_Short", "Protein_Change", "Amino_Acid_Change"):
        if row.get(col, "").strip():
            return row[col].strip()
    return ""


def codon_of(variant: str) -> int | None:
    m = re.match(r"^(?:p\.)?[A-Z](\d+)[A-Z]$", variant)
    return int(m.group(1)) if m else None


def run_cli(argv: list[str]) -> tuple[int, list[dict], list[dict], list[str]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["import", *argv])
    out, err = io.StringIO(), io.StringIO()
    rc = run(args, stdout=out, stderr=err)
    cases = [json.loads(line) for line in out.getvalue().splitlines()]
    records = [json.loads(line) for line in err.getvalue().splitlines() if line.startswith("{")]
    summary = [line for line in err.getvalue().splitlines() if not line.startswith("{")]
    return rc, cases, records, summary


def _known(vocab, symbol: str) -> str | None:
    """The vocabulary's symbol for ``symbol`` (panels and MAFs use retired symbols), else None."""
    from engine.errors import TermError

    try:
        return vocab.gene(symbol)
    except TermError:
        return None


def write_maf(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- hotspot table


def test_hotspot_examples_decode_to_their_protein_change(table):
    assert len(table.examples) >= 8
    for ex in table.examples:
        d = table.decode(ex["assembly"], ex["chromosome"], ex["position"], ex["ref"], ex["alt"])
        assert (d.kind, d.gene, d.protein) == (hs.DECODED, ex["gene"], ex["protein"]), ex


def test_chromosome_lengths_hold_every_hotspot_and_a_bad_length_is_refused(table, tmp_path):
    """Every hotspot base lies on its chromosome (the lengths are those of the assembly the
    positions are on), one base past a chromosome's end is past it, and a bad entry is a RuleError
    naming its key path."""
    import yaml

    from engine.errors import RuleError

    for (asm, chrom, pos) in table._bases:
        assert table.past_end(asm, chrom, pos) == "", (asm, chrom, pos)
    assert table.past_end("GRCh37", "chr12", 133851895) == ""
    assert table.past_end("GRCh37", "12", 133851896) == "past the end of chromosome 12 on GRCh37 (133,851,895 bases)"
    assert table.past_end("GRCh38", "12", 133851895) != ""  # GRCh38's chromosome 12 is shorter
    assert table.past_end("GRCh37", "GL000192.1", 10**9) == ""  # a contig of unknown length: not judged
    data = yaml.safe_load(HOTSPOTS.read_text(encoding="utf-8"))
    for bad, where in (({"GRCh37": {"12": -5}}, "chromosome_lengths.GRCh37.12"),
                       ({"hg99": {"12": 5}}, "chromosome_lengths.hg99")):
        path = tmp_path / "hotspots.yaml"
        path.write_text(yaml.safe_dump({**data, "chromosome_lengths": bad}), encoding="utf-8")
        with pytest.raises(RuleError) as exc:
            HotspotTable.load(path)
        assert where in str(exc.value)


def test_given_g12c_coordinates_on_both_assemblies(table):
    assert table.decode("GRCh37", "chr12", 25398285, "C", "A").protein == "p.G12C"
    assert table.decode("GRCh38", "12", 25245351, "C", "A").protein == "p.G12C"
    # the GRCh37 position read as GRCh38 is not KRAS codon 12 (never mix assemblies)
    assert table.decode("GRCh38", "12", 25398285, "C", "A").kind == hs.OUTSIDE
    # a reference allele the table contradicts is flagged, not translated
    assert table.decode("GRCh37", "12", 25398285, "G", "A").kind == hs.MISMATCH


def test_hotspot_decoding_of_multi_base_changes(table):
    # lung_msk_2017 rows: GG>TT at codon 12 is G12F; codon-13 GC>TT is G13E
    assert table.decode("GRCh37", "12", 25398284, "CC", "AA").protein == "p.G12F"
    assert table.decode("GRCh37", "12", 25398280, "GC", "TT").protein == "p.G13E"
    # a change in two codons is a delins of both
    assert table.decode("GRCh37", "12", 25380279, "CCTG", "ACTC").protein == "p.A59_G60delinsGV"
    # insertion / deletion: not decoded
    assert table.decode("GRCh37", "12", 25398284, "-", "CCAGCT").kind == hs.OUTSIDE
    # synonymous third-base change of codon 60
    assert table.decode("GRCh37", "12", 25380278, "A", "T").kind == hs.SYNONYMOUS


def _files_with_coordinates_and_protein():
    """(path, default assembly) of every shared file with coordinates and a protein change column."""
    out = [(p, "GRCh37") for p in sorted(TCGA.glob("*.nonsilent.maf.tsv.gz"))]
    out += [
        (CBIO / "paad_cptac_2021" / "data_mutations.maf", "GRCh37"),
        (CBIO / "paad_utsw_2015" / "maf_cleaned.txt", "GRCh37"),
        (CBIO / "nsclc_unito_2016" / "data_mutations_extended.txt", "GRCh37"),
        (ONCOKB / "example_maf.txt", "GRCh37"),
        (ONCOKB / "example_maf_grch38.txt", "GRCh38"),
    ]
    return out


def _assembly(row: dict, default: str, table: HotspotTable) -> str | None:
    build = row.get("NCBI_Build", "").strip()
    return table.assembly(build) if build else default


def _alt(row: dict) -> str:
    ref = row.get("Reference_Allele", "").strip()
    for col in ("Tumor_Seq_Allele2", "Tumor_Seq_Allele1"):
        a = row.get(col, "").strip()
        if a and a != ref:
            return a
    return ""


@needs_data
def test_hotspot_table_agrees_with_every_annotated_row(table):
    """Every row with coordinates and a protein change that the table covers decodes to that change."""
    checked = Counter()
    for path, default in _files_with_coordinates_and_protein():
        for row in raw_rows(path):
            prot = protein_of(row)
            ref, alt = row.get("Reference_Allele", "").strip(), _alt(row)
            if not prot or not ref or not alt or not row.get("Start_Position", "").strip():
                continue
            asm = _assembly(row, default, table)
            start = int(row["Start_Position"])
            if not table.covers(asm, row["Chromosome"], start, start + max(len(ref), 1) - 1):
                continue
            d = table.decode(asm, row["Chromosome"], start, ref, alt)
            assert d.kind != hs.MISMATCH, (path.name, row["Hugo_Symbol"], start, ref, d.detail)
            if d.kind != hs.DECODED:
                continue
            assert d.gene == row["Hugo_Symbol"], (path.name, start)
            assert d.protein == prot, (path.name, row["Hugo_Symbol"], start, ref, alt, prot, d.protein)
            checked[(asm, d.gene)] += 1
    # the check really ran over the table's genes, on both assemblies
    assert checked[("GRCh37", "KRAS")] > 900
    assert checked[("GRCh37", "NRAS")] > 40
    assert checked[("GRCh37", "BRAF")] > 50
    assert checked[("GRCh38", "KRAS")] == 1


def _segments():
    data = yaml.safe_load(HOTSPOTS.read_text())
    return data


IUPAC = hs.IUPAC


@needs_data
def test_every_hotspot_codon_is_exactly_what_the_data_fix(table):
    """Derive each GRCh37 codon again from the real files and compare with the table.

    Evidence: reference bases (Reference_Allele of any row overlapping the codon, deletions
    included; HGVSc reference bases), the reference amino acids that protein changes name, and the
    amino acids the rows' substitutions produce. The candidate codons are all codons consistent with
    that evidence; the table must list exactly them (an IUPAC code where the data leave a base open).
    """
    data = _segments()
    code = {"".join(c): aa for c, aa in zip(itertools.product(data["genetic_code"]["bases"], repeat=3), data["genetic_code"]["amino_acids"], strict=True)}
    comp = str.maketrans("ACGT", "TGCA")
    genomic: dict[tuple[str, int], tuple[str, int, int, str]] = {}  # (chrom, pos) -> gene, codon, offset, strand
    codons: dict[tuple[str, int], str] = {}
    for seg in data["segments"]:
        ref = "".join(seg["reference"].split())
        for k in range(len(ref) // 3):
            codons[(seg["gene"], seg["first_codon"] + k)] = ref[3 * k : 3 * k + 3]
        where = seg["positions"]["GRCh37"]
        step = 1 if where["strand"] == "+" else -1
        for j in range(len(ref)):
            genomic[(str(where["chromosome"]), where["first_base"] + step * j)] = (
                seg["gene"], seg["first_codon"] + j // 3, j % 3, where["strand"],
            )
    genes = {g for g, _ in codons}
    span: dict[str, tuple[int, int]] = {}  # chromosome -> the first and last position of its segments
    for chrom, pos in genomic:
        lo, hi = span.get(chrom, (pos, pos))
        span[chrom] = (min(lo, pos), max(hi, pos))
    bases: dict[tuple[str, int], dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    ref_aa: dict[tuple[str, int], set[str]] = defaultdict(set)
    subs: list[tuple[str, dict[int, dict[int, str]], int, str]] = []  # gene, codon->{offset: base}, named codon, alt aa

    def coding(b: str, strand: str) -> str:
        return b if strand == "+" else b.translate(comp)

    for path, default in _files_with_coordinates_and_protein() + [(LUNG / "data_mutations_extended.txt", "GRCh37")]:
        if default != "GRCh37":
            continue
        for row in raw_rows(path):
            if _assembly(row, default, table) != "GRCh37" or not row.get("Start_Position", "").strip():
                continue
            chrom = row["Chromosome"].replace("chr", "")
            start, end = int(row["Start_Position"]), int(row.get("End_Position") or row["Start_Position"])
            gene = row["Hugo_Symbol"]
            lo, hi = span.get(chrom, (1, 0))
            if gene not in genes and not (lo <= end and start <= hi):
                continue  # (evidence of no codon of the table: another gene, away from every segment)
            ref = row.get("Reference_Allele", "").strip()
            if re.fullmatch(r"[ACGT]+", ref) and len(ref) == end - start + 1:
                for k, b in enumerate(ref):
                    site = genomic.get((chrom, start + k))
                    if site:
                        bases[(site[0], site[1])][site[2]].add(coding(b, site[3]))
            hgvsc = row.get("HGVSc", "").split(":")[-1]
            m = re.fullmatch(r"c\.(\d+)([ACGT])>[ACGT]", hgvsc) or re.fullmatch(r"c\.(\d+)_\d+(?:dup|del)([ACGT]+)", hgvsc)
            if m:
                for k, b in enumerate(m.group(2)):
                    c = int(m.group(1)) + k
                    if (gene, (c - 1) // 3 + 1) in codons:
                        bases[(gene, (c - 1) // 3 + 1)][(c - 1) % 3].add(b)
            prot = protein_of(row)
            m1 = MISSENSE.match(prot) or re.fullmatch(r"p\.([A-Z])(\d+)(\*)", prot)
            if m1:
                ref_aa[(gene, int(m1.group(2)))].add(m1.group(1))
            for a, n in re.findall(r"([A-Z])(\d+)(?=_[A-Z]\d+)", prot) + re.findall(r"_([A-Z])(\d+)", prot):
                ref_aa[(gene, int(n))].add(a)
            m2 = re.fullmatch(r"p\.([A-Z]{2,})(\d+)del", prot)
            if m2:
                for k, a in enumerate(m2.group(1)):
                    ref_aa[(gene, int(m2.group(2)) + k)].add(a)
            alt = _alt(row)
            if m1 and re.fullmatch(r"[ACGT]+", ref) and len(alt) == len(ref) and re.fullmatch(r"[ACGT]+", alt):
                change: dict[int, dict[int, str]] = defaultdict(dict)
                inside = True
                for k, (r, a) in enumerate(zip(ref, alt, strict=False)):
                    if r == a:
                        continue
                    site = genomic.get((chrom, start + k))
                    if site is None or site[0] != gene:
                        inside = False
                        break
                    change[site[1]][site[2]] = coding(a, site[3])
                if inside and change:
                    subs.append((gene, change, int(m1.group(2)), m1.group(3)))

    for (gene, codon), listed in codons.items():
        cands = set()
        for c in code:
            if any(c[o] not in seen for o, seen in bases[(gene, codon)].items()):
                continue
            if any(code[c] != a for a in ref_aa[(gene, codon)]):
                continue
            ok = True
            for g, change, named, alt_aa in subs:
                if g != gene or codon not in change:
                    continue
                mutated = "".join(change[codon].get(i, b) for i, b in enumerate(c))
                want = alt_aa if codon == named else code[c]
                if code[mutated] != want:
                    ok = False
                    break
            if ok:
                cands.add(c)
        expanded = {"".join(p) for p in itertools.product(*(sorted(IUPAC[b]) for b in listed))}
        assert cands, (gene, codon, "the data contradict each other")
        assert expanded == cands, (gene, codon, listed, sorted(cands))


@needs_data
def test_grch38_anchors_are_the_same_calls_as_on_grch37(table):
    (row,) = [r for r in raw_rows(ONCOKB / "example_maf_grch38.txt") if r["Hugo_Symbol"] == "KRAS"]
    assert row["NCBI_Build"] == "GRCh38" and row["HGVSp_Short"] == "p.G12C"
    assert table.decode("GRCh38", row["Chromosome"], int(row["Start_Position"]), row["Reference_Allele"], row["Tumor_Seq_Allele2"]).protein == "p.G12C"

    def vcf(path: Path) -> list[list[str]]:
        with gzip.open(path, "rt") as fh:
            return [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]

    b37 = {tuple(r[7:]): r for r in vcf(PCGR / "T001-COAD.grch37.vcf.gz")}
    decoded = 0
    for r in vcf(PCGR / "T001-COAD.grch38.vcf.gz"):
        if not table.covers("GRCh38", r[0], int(r[1]), int(r[1]) + len(r[3]) - 1):
            continue
        twin = b37[tuple(r[7:])]  # the same call: identical depths, allele counts, callers
        d38 = table.decode("GRCh38", r[0], int(r[1]), r[3], r[4])
        d37 = table.decode("GRCh37", twin[0], int(twin[1]), twin[3], twin[4])
        assert d38.kind == hs.DECODED and (d38.gene, d38.protein) == (d37.gene, d37.protein) == ("BRAF", "p.V600E")
        decoded += 1
    assert decoded == 1


# ----------------------------------------------------------------------------- classification policy


def test_classification_policy_is_explicit():
    for v in ("Missense_Mutation", "Nonsense_Mutation", "Frame_Shift_Del", "Splice_Site", "In_Frame_Ins", "nonsynonymous", "frameshift-deletion", "nonframeshift.deletion", "stopgain"):
        assert classify(v) == "count", v
    for v in ("Silent", "Intron", "3'UTR", "5'UTR", "3'Flank", "5'Flank", "IGR", "RNA", "lincRNA", "Splice_Region", "Targeted_Region"):
        assert classify(v) == "skip", v
    assert classify("Unknown") is None and classify("") is None
    assert not set(COUNTED) & set(NOT_COUNTED)
    readme = (ROOT / "README.md").read_text()
    for v in ("Missense_Mutation", "Splice_Site", "Translation_Start_Site", "Splice_Region", "Silent", "lincRNA", "Targeted_Region"):
        assert f"`{v}`" in readme, v


# ----------------------------------------------------------------------------- TCGA colorectal


def _expected_ras_mutant(path: Path) -> tuple[set[str], set[str]]:
    """(all samples, samples with a KRAS/NRAS missense change at codons 12, 13, 59, 61, 117, 146)."""
    samples, mutant = set(), set()
    for row in raw_rows(path):
        samples.add(row["Tumor_Sample_Barcode"])
        if row["Hugo_Symbol"] in ("KRAS", "NRAS"):
            m = MISSENSE.match(row["Protein_Change"])
            if m and int(m.group(2)) in RAS_CODONS and m.group(1) != m.group(3):
                mutant.add(row["Tumor_Sample_Barcode"])
    return samples, mutant


@pytest.fixture(scope="module")
def colorectal(vocab):
    if not DATA.is_dir():
        pytest.skip("../shared/data (the real public data) is not present")
    out = {}
    for study, code in (("COAD", "COAD"), ("READ", "READ")):
        maf = TCGA / f"Firehose_{study}.nonsilent.maf.tsv.gz"
        out[study] = (maf, *do_import(vocab, maf, clinical=[TCGA / f"Firehose_{study}.clinical.tsv"], assay="exome", cancer_type=code))
    return out


@needs_data
@pytest.mark.parametrize("study", ["COAD", "READ"])
def test_firehose_colorectal_one_case_per_sample_and_exact_ras_mutant_set(colorectal, vocab, study):
    maf, cases, errors, summary = colorectal[study]
    samples, expected = _expected_ras_mutant(maf)
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)) == len(samples)
    assert set(ids) == samples
    mutant = {
        c["id"]
        for c in cases
        for a in c["alterations"]
        if a["gene"] in ("KRAS", "NRAS") and codon_of(a["variant"]) in RAS_CODONS
    }
    assert mutant == expected
    assert 0.35 < len(mutant) / len(samples) < 0.65  # RAS-mutant colorectal cancer: about half
    # every case is a colorectal type and says what was tested
    for c in cases:
        assert vocab.cancer(c["cancer_type"]) is not None
        assert c["cancer_type"] in {"COAD", "READ", "COADREAD", "MACR"} or c["cancer_type"].startswith(("COAD", "READ"))
        assert "tested_genes" in c
    # nothing lost: every row is recognised or skipped for a counted reason
    assert summary.rows == summary.alteration_rows + sum(summary.skipped.values())
    assert sum(summary.errors.values()) == len(errors)
    assert all(re.search(r":\d+$", e["source"]) for e in errors)


@needs_data
def test_exome_tested_genes_are_the_vocabulary_minus_unreadable_rows(colorectal, vocab):
    _, cases, errors, _ = colorectal["COAD"]
    all_genes = sorted(vocab.genes)
    unreadable = defaultdict(set)
    for e in errors:
        if e.get("gene"):
            unreadable[e["sample"]].add(e["gene"])
    for c in cases:
        tested = set(c["tested_genes"])
        assert tested <= set(all_genes)
        assert unreadable[c["id"]].isdisjoint(tested)
    assert sum(1 for c in cases if c["tested_genes"] == all_genes) > len(cases) / 2


@needs_data
def test_lab_kras_result_is_not_read_the_calls_decide(colorectal):
    """The clinical tables' own KRAS test disagrees with the calls for a few patients: calls win."""
    disagree = 0
    for study in ("COAD", "READ"):
        maf, cases, _, _ = colorectal[study]
        by_id = {c["id"]: c for c in cases}
        calls = defaultdict(set)
        for row in raw_rows(maf):
            if row["Hugo_Symbol"] == "KRAS":
                calls[row["Tumor_Sample_Barcode"]].add(row["Protein_Change"])
        for row in raw_rows(TCGA / f"Firehose_{study}.clinical.tsv"):
            lab = row.get("kras_mutation_found")
            if lab not in ("YES", "NO"):
                continue
            called = {p for p in calls[row["Tumor_Sample_Barcode"]] if codon_of(p) in (12, 13)}
            if (lab == "YES") != bool(called):
                disagree += 1
            case = by_id[row["Tumor_Sample_Barcode"]]
            imported = {a["variant"] for a in case["alterations"] if a["gene"] == "KRAS" and MISSENSE.match(a["variant"])}
            assert imported == {p for p in calls[row["Tumor_Sample_Barcode"]] if MISSENSE.match(p)}
    assert disagree >= 4


# ----------------------------------------------------------------------------- MSK lung (coordinates)


@pytest.fixture(scope="module")
def lung(vocab):
    if not DATA.is_dir():
        pytest.skip("../shared/data (the real public data) is not present")
    return do_import(
        vocab,
        LUNG / "data_mutations_extended.txt",
        clinical=[LUNG / "data_clinical_sample.txt", LUNG / "data_clinical_patient.txt"],
        assay="panel",
        panels=[LUNG / "data_gene_matrix.txt"],
    )


@needs_data
def test_msk_lung_every_kras_g12c_from_coordinates(lung):
    cases, errors, summary = lung
    # independent count from the raw file, with the given fact c.34G>T = chr12:25398285 C>A (GRCh37)
    raw_g12c = {
        r["Tumor_Sample_Barcode"]
        for r in raw_rows(LUNG / "data_mutations_extended.txt")
        if r["Hugo_Symbol"] == "KRAS" and r["Start_Position"] == "25398285" and r["End_Position"] == "25398285"
        and r["Reference_Allele"] == "C" and r["Tumor_Seq_Allele2"] == "A" and r["NCBI_Build"] == "GRCh37"
    }
    # ... but for a sample whose two-base call (a DNP row, G12F) holds that base's change: one change
    # written twice (see test_one_codon_change_written_as_two_rows_is_read_as_one)
    in_dnp = {
        r["Tumor_Sample_Barcode"]
        for r in raw_rows(LUNG / "data_mutations_extended.txt")
        if r["Hugo_Symbol"] == "KRAS" and r["Start_Position"] == "25398284" and r["End_Position"] == "25398285"
        and r["Reference_Allele"] == "CC" and r["Tumor_Seq_Allele2"][1:] == "A"
    }
    assert in_dnp & raw_g12c == {"P-0009837-T01-IM5"}
    raw_g12c -= in_dnp
    g12c = {c["id"] for c in cases if {"gene": "KRAS", "variant": "p.G12C"} in c["alterations"]}
    assert g12c == raw_g12c and len(g12c) == 103
    assert summary.from_coordinates + summary.from_classification == summary.alteration_rows
    assert summary.from_coordinates > 250
    # a stop gained or a frameshift with no protein change is a truncating mutation of its gene: as
    # many samples carry one of STK11 as the raw file shows
    cut = {r["Tumor_Sample_Barcode"] for r in raw_rows(LUNG / "data_mutations_extended.txt")
           if r["Hugo_Symbol"] == "STK11" and r["Variant_Classification"] in ("Nonsense_Mutation", "Frame_Shift_Del",
                                                                              "Frame_Shift_Ins")}
    got = {c["id"] for c in cases if any(a["gene"] == "STK11" and a["variant"] == "truncating mutation"
                                         for a in c["alterations"])}
    assert got == cut and len(cut) > 50
    # independent evidence in the study files: the sign-out comment naming a KRAS p.G12C ...
    clinical = list(raw_rows(LUNG / "data_clinical_sample.txt"))
    named = {r["SAMPLE_ID"] for r in clinical if "KRAS p.G12C" in r.get("SO_COMMENTS", "")}
    assert named and named <= g12c
    # ... and the curated driver column: most G12C tumours are called KRAS-driven, none "No mutations"
    driver = {r["SAMPLE_ID"]: r.get("DRIVER_MUTATIONS", "") for r in clinical}
    assert sum("KRAS" in driver[s] for s in g12c) / len(g12c) > 0.85
    assert not any(driver[s] == "No mutations" for s in g12c)
    # G12C share of this lung adenocarcinoma cohort: ~11%, against ~13% of NSCLC (explainer)
    assert 0.08 < len(g12c) / len(cases) < 0.16


@needs_data
def test_msk_lung_cases_panels_and_sequenced_samples(lung, vocab):
    cases, errors, summary = lung
    sequenced = (LUNG / "data_mutations_extended.txt").read_text().splitlines()[0].split(":", 1)[1].split()
    assert [c["id"] for c in cases][: len(sequenced)] == sequenced and len(cases) == len(sequenced) == 915
    with_rows = {r["Tumor_Sample_Barcode"] for r in raw_rows(LUNG / "data_mutations_extended.txt")}
    assert sum(1 for c in cases if c["id"] not in with_rows) == 29
    panels = {}
    for name in ("impact341", "impact410"):
        text = (LUNG / f"data_gene_panel_{name}.txt").read_text()
        genes = re.search(r"^gene_list:(.*)$", text, re.M).group(1).split()
        panels[name.upper()] = {_known(vocab, g) for g in genes} - {None}
    matrix = {r["SAMPLE_ID"]: r["mutations"] for r in raw_rows(LUNG / "data_gene_matrix.txt")}
    unreadable = defaultdict(set)
    for r in raw_rows(LUNG / "data_mutations_extended.txt"):
        unreadable[r["Tumor_Sample_Barcode"]].add(_known(vocab, r["Hugo_Symbol"]))
    for c in cases:
        tested = set(c["tested_genes"])
        assert tested <= panels[matrix[c["id"]]]
        # only genes with a row of their own can have dropped out of the panel
        assert panels[matrix[c["id"]]] - tested <= unreadable[c["id"]]
    assert all(c["cancer_type"] == "LUAD" for c in cases)


@needs_data
def test_msk_lung_map_file_gives_stage_and_treatment_naive(vocab, tmp_path):
    m = tmp_path / "lung_map.yaml"
    m.write_text(
        "stage:\n  column: STAGE_AT_DIAGNOSIS\n"
        "  values: {IA: early, IB: early, IIA: early, IIB: early, IIIA: locally_advanced, IIIB: locally_advanced, IV: metastatic}\n"
        "prior_therapies:\n  column: LINES_OF_TX_PRIOR_IMPACT\n  values: {'0': []}\n"
    )
    cases, errors, summary = do_import(
        vocab,
        LUNG / "data_mutations_extended.txt",
        clinical=[LUNG / "data_clinical_sample.txt"],
        field_map=m,
    )
    raw = {r["SAMPLE_ID"]: r for r in raw_rows(LUNG / "data_clinical_sample.txt")}
    by_stage = Counter(c.get("stage") for c in cases)
    assert by_stage["metastatic"] == sum(1 for r in raw.values() if r["STAGE_AT_DIAGNOSIS"] == "IV")
    for c in cases:
        r = raw[c["id"]]
        assert ("prior_therapies" in c) == (r["LINES_OF_TX_PRIOR_IMPACT"] == "0")
        if r["STAGE_AT_DIAGNOSIS"] in ("II", "III", "IA L,IV R"):  # not in the map: unknown, never guessed
            assert "stage" not in c
        assert "tested_genes" not in c  # --assay none
    assert summary.unmapped  # the unmapped values are counted


def test_map_file_errors_are_usage_errors(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], [["KRAS", "S1", "p.G12C"]])
    clin = write_maf(tmp_path / "c.txt", ["SAMPLE_ID", "ONCOTREE_CODE", "STAGE"], [["S1", "LUAD", "IV"]])
    bad_field = tmp_path / "a.yaml"
    bad_field.write_text("stagee: {column: STAGE, values: {IV: metastatic}}\n")
    with pytest.raises(UsageError, match="did you mean 'stage'"):
        make_importer(vocab=vocab, clinical=[clin], field_map=bad_field)
    bad_col = tmp_path / "b.yaml"
    bad_col.write_text("stage: {column: STAGES, values: {IV: metastatic}}\n")
    with pytest.raises(UsageError, match="did you mean 'STAGE'"):
        make_importer(vocab=vocab, clinical=[clin], field_map=bad_col)
    bad_value = tmp_path / "c.yaml"
    bad_value.write_text("stage: {column: STAGE, values: {IV: stage4}}\n")
    with pytest.raises(UsageError, match="not a valid stage"):
        make_importer(vocab=vocab, clinical=[clin], field_map=bad_value)
    ok = tmp_path / "d.json"
    ok.write_text(json.dumps({"stage": {"column": "STAGE", "values": {"iv": "metastatic"}}}))
    cases, errors, _ = do_import(vocab, maf, clinical=[clin], field_map=ok)
    assert cases == [{"id": "S1", "cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "p.G12C"}]}]


def test_two_keys_of_a_map_that_are_one_cell_text_mapped_two_ways_are_a_usage_error(vocab, tmp_path):
    """Cells match in any case: {IV: metastatic, iv: early} would take the last for stage IV."""
    clin = write_maf(tmp_path / "c.txt", ["SAMPLE_ID", "ONCOTREE_CODE", "STAGE"], [["S1", "LUAD", "IV"]])
    both = tmp_path / "m.yaml"
    both.write_text('stage: {column: STAGE, values: {"IV": metastatic, "iv": early}}\n')
    with pytest.raises(UsageError, match=r"stage\[0\]\.values: 'IV' and 'iv' are one cell text .* mapped to \"metastatic\" and \"early\""):
        make_importer(vocab=vocab, clinical=[clin], field_map=both)
    same = tmp_path / "n.yaml"  # one text twice, to one value: no conflict
    same.write_text('stage: {column: STAGE, values: {"IV": metastatic, "iv": metastatic}}\n')
    make_importer(vocab=vocab, clinical=[clin], field_map=same)


def test_multiagent_candidate_is_mapped_as_the_readme_says(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], [["KRAS", "S1", "p.G12C"], ["KRAS", "S2", "p.G12C"]])
    clin = write_maf(tmp_path / "c.txt", ["SAMPLE_ID", "ONCOTREE_CODE", "MAC"], [["S1", "LUAD", "yes"], ["S2", "LUAD", "No"]])
    fm = tmp_path / "m.yaml"
    fm.write_text('multiagent_candidate: {column: MAC, values: {"yes": true, "no": false}}\n')
    cases, errors, _ = do_import(vocab, maf, clinical=[clin], field_map=fm)
    assert errors == [] and [c.get("multiagent_candidate") for c in cases] == [True, False]


def test_a_map_file_is_read_with_the_document_limits(vocab, tmp_path):
    clin = write_maf(tmp_path / "c.txt", ["SAMPLE_ID", "ONCOTREE_CODE", "STAGE"], [["S1", "LUAD", "IV"]])
    laughs = tmp_path / "laughs.yaml"  # nine lines standing for a billion values: must not hang
    rows = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    rows += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    laughs.write_text("\n".join(rows) + "\nstage: {column: STAGE, values: {IV: *a8}}\n")
    t0 = time.perf_counter()
    with pytest.raises(UsageError, match=r"laughs\.yaml: aliases \(\*name\) that repeat more than 100,000 values \(YAML, line \d+"):
        make_importer(vocab=vocab, clinical=[clin], field_map=laughs)
    assert time.perf_counter() - t0 < 5
    deep = tmp_path / "deep.json"
    deep.write_text('{"stage": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(UsageError, match=r"deep\.json: not valid JSON: nested deeper than"):
        make_importer(vocab=vocab, clinical=[clin], field_map=deep)
    shared = tmp_path / "shared.yaml"  # an alias or two, as PyYAML writes a value used twice, is fine
    shared.write_text("stage: {column: STAGE, values: &v {IV: metastatic}}\n")
    make_importer(vocab=vocab, clinical=[clin], field_map=shared)


# ----------------------------------------------------------------------------- pancreatic


@needs_data
@pytest.mark.parametrize(
    "maf, kwargs, min_kras",
    [
        (CBIO / "paad_cptac_2021" / "data_mutations.maf", {"cancer_type": "PAAD", "assay": "exome"}, 0.75),
        (CBIO / "paad_utsw_2015" / "maf_cleaned.txt", {"clinical": [CBIO / "paad_utsw_2015" / "tmb_output_data_clinical_sample.txt"], "assay": "exome"}, 0.5),
        (TCGA / "MC3_PAAD.nonsilent.maf.tsv.gz", {"clinical": [TCGA / "MC3_PAAD.clinical.tsv"], "samples": TCGA / "MC3_PAAD.all_samples.txt", "assay": "exome", "assembly": "GRCh37"}, 0.5),
        (TCGA / "Firehose_PAAD.nonsilent.maf.tsv.gz", {"clinical": [TCGA / "Firehose_PAAD.clinical.tsv"], "cancer_type": "PAAD", "assay": "exome"}, 0.5),
    ],
    ids=["cptac", "utsw", "mc3", "firehose"],
)
def test_pancreatic_mafs_import(vocab, maf, kwargs, min_kras):
    cases, errors, summary = do_import(vocab, maf, **kwargs)
    raw = list(raw_rows(maf))
    samples = {r["Tumor_Sample_Barcode"] for r in raw}
    if "samples" in kwargs:
        samples |= set(read_sample_list(kwargs["samples"]))
    assert {c["id"] for c in cases} == samples and len(cases) == len(samples)
    assert all(vocab.cancer(c["cancer_type"]) is not None for c in cases)
    assert not [e for e in errors if e["error"]["kind"] in ("assembly", "row", "cancer_type", "classification")]
    kras = {r["Tumor_Sample_Barcode"] for r in raw if r["Hugo_Symbol"] == "KRAS" and (m := MISSENSE.match(protein_of(r))) and int(m.group(2)) in (12, 13, 61)}
    imported = {c["id"] for c in cases for a in c["alterations"] if a["gene"] == "KRAS" and codon_of(a["variant"]) in (12, 13, 61)}
    assert imported == kras
    assert len(imported) / len(cases) > min_kras
    assert summary.rows == summary.alteration_rows + sum(summary.skipped.values())


@needs_data
def test_mc3_samples_without_rows_become_cases_with_no_alterations(vocab):
    cases, _, _ = do_import(
        vocab,
        TCGA / "MC3_PAAD.nonsilent.maf.tsv.gz",
        clinical=[TCGA / "MC3_PAAD.clinical.tsv"],
        samples=TCGA / "MC3_PAAD.all_samples.txt",
        assay="exome",
    )
    with_rows = {r["Tumor_Sample_Barcode"] for r in raw_rows(TCGA / "MC3_PAAD.nonsilent.maf.tsv.gz")}
    empty = [c for c in cases if c["id"] not in with_rows]
    assert len(empty) == 2 and all(c["alterations"] == [] and c["tested_genes"] for c in empty)
    assert all(c["cancer_type"] == "PAAD" for c in cases)  # from the MC3 'acronym' column


# ----------------------------------------------------------------------------- OncoKB examples


@needs_data
def test_oncokb_g12c_as_snv_and_as_delins_both_count(vocab, tmp_path):
    cases, errors, summary = do_import(vocab, ONCOKB / "example_maf.txt", clinical=[ONCOKB / "example_clinical.txt"])
    assert summary.recognised[("KRAS", "p.G12C")] == 2
    case = next(c for c in cases if c["id"] == "TCGA-05-4417-01")
    assert case["alterations"].count({"gene": "KRAS", "variant": "p.G12C"}) == 1
    # the same file with its protein columns emptied: both rows decode from coordinates
    lines = (ONCOKB / "example_maf.txt").read_text().splitlines()
    header = lines[0].split("\t")
    blank = {header.index("HGVSp_Short"), header.index("HGVSp")}
    stripped = tmp_path / "example_maf_coordinates_only.txt"
    stripped.write_text("\n".join([lines[0]] + ["\t".join("" if i in blank else v for i, v in enumerate(l.split("\t"))) for l in lines[1:]]) + "\n")
    cases, errors, summary = do_import(vocab, stripped, clinical=[ONCOKB / "example_clinical.txt"])
    assert summary.recognised[("KRAS", "p.G12C")] == 2 and summary.from_coordinates >= 2
    case = next(c for c in cases if c["id"] == "TCGA-05-4417-01")
    assert {"gene": "KRAS", "variant": "p.G12C"} in case["alterations"]


@needs_data
def test_oncokb_grch38_g12c_from_coordinates(vocab, tmp_path):
    lines = (ONCOKB / "example_maf_grch38.txt").read_text().splitlines()
    header = lines[0].split("\t")
    keep = [i for i, h in enumerate(header) if h not in ("HGVSp_Short", "HGVSp")]
    stripped = tmp_path / "grch38.txt"
    stripped.write_text("\n".join("\t".join(l.split("\t")[i] for i in keep) for l in lines) + "\n")
    cases, errors, summary = do_import(vocab, stripped, cancer_type="LUAD")
    case = next(c for c in cases if c["id"] == "TCGA-05-4417-01")
    assert {"gene": "KRAS", "variant": "p.G12C"} in case["alterations"]
    # the same rows claimed to be GRCh37 are not read as G12C: the build column decides
    cases, errors, summary = do_import(vocab, stripped, cancer_type="LUAD", assembly="GRCh37")
    assert summary.recognised[("KRAS", "p.G12C")] == 0
    assert any(e["error"]["kind"] == "assembly" and e["gene"] == "KRAS" for e in errors)


# ----------------------------------------------------------------------------- assembly and errors


HEADER = ["Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification", "NCBI_Build", "Chromosome",
          "Start_Position", "End_Position", "Reference_Allele", "Tumor_Seq_Allele2", "HGVSp_Short"]


def test_assembly_is_read_per_row_and_never_mixed(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", HEADER, [
        ["KRAS", "S37", "Missense_Mutation", "GRCh37", "12", "25398285", "25398285", "C", "A", ""],
        ["KRAS", "S19", "Missense_Mutation", "hg19", "chr12", "25398284", "25398284", "C", "T", ""],
        ["KRAS", "S38", "Missense_Mutation", "GRCh38", "12", "25245351", "25245351", "C", "A", ""],
        ["KRAS", "S38x", "Missense_Mutation", "GRCh38", "12", "25398285", "25398285", "C", "A", ""],
        ["KRAS", "Snone", "Missense_Mutation", "", "12", "25398285", "25398285", "C", "A", ""],
        ["KRAS", "Sbad", "Missense_Mutation", "NCBI36", "12", "25398285", "25398285", "C", "A", ""],
    ])
    cases, errors, summary = do_import(vocab, maf, cancer_type="LUAD", assay="exome")
    alts = {c["id"]: c["alterations"] for c in cases}
    tested = {c["id"]: c["tested_genes"] for c in cases}
    assert alts["S37"] == [{"gene": "KRAS", "variant": "p.G12C"}]
    assert alts["S19"] == [{"gene": "KRAS", "variant": "p.G12D"}]
    assert alts["S38"] == [{"gene": "KRAS", "variant": "p.G12C"}]
    for sid in ("S38x", "Snone", "Sbad"):  # not read; KRAS status unknown, never wild-type
        assert alts[sid] == [] and "KRAS" not in tested[sid]
    kinds = {e["sample"]: e["error"]["kind"] for e in errors}
    assert kinds == {"Snone": "assembly", "Sbad": "assembly"}
    assert summary.skipped["no protein change, not at a hotspot codon of the table"] == 1
    # --assembly fills rows without a build, and contradicts none silently
    cases, errors, _ = do_import(vocab, maf, cancer_type="LUAD", assembly="GRCh37")
    assert {c["id"]: c["alterations"] for c in cases}["Snone"] == [{"gene": "KRAS", "variant": "p.G12C"}]
    assert {e["sample"] for e in errors if e["error"]["kind"] == "assembly"} == {"S38", "S38x", "Sbad"}


def test_unreadable_rows_become_error_records_with_line_numbers(vocab, tmp_path):
    path = tmp_path / "bad.maf"
    path.write_text(
        "#version 2.4\n"
        + "\t".join(HEADER) + "\n"
        + "\t".join(["KRAS", "S1", "Missense_Mutation", "GRCh37", "12", "25398285", "25398285", "C", "A", "p.G12C"]) + "\n"
        + "\t".join(["KRAS", "S1", "Missense_Mutation", "GRCh37", "12", "1", "1", "C", "A", "p.G12C", "extra"]) + "\n"
        + "\t".join(["NRAS", "S2", "Weird_Class", "GRCh37", "1", "1", "1", "C", "A", "p.Q61K"]) + "\n"
        + "\t".join(["KRAS", "S2", "Missense_Mutation", "GRCh37", "12", "1", "1", "C", "A", "p.Gly12Zzz"]) + "\n"
        + "\t".join(["KRAS", "", "Missense_Mutation", "GRCh37", "12", "1", "1", "C", "A", "p.G12D"]) + "\n"
        + "\t".join(["NOTAGENE1", "S3", "Missense_Mutation", "GRCh37", "1", "1", "1", "C", "A", "p.A1T"]) + "\n"
        + "\t".join(["BRAF", "S3", "Silent", "GRCh37", "7", "1", "1", "C", "A", "p.V600V"]) + "\n"
    )
    rc, cases, records, summary = run_cli(["--mutations", str(path), "--cancer-type", "LUAD", "--assay", "exome"])
    assert rc == 1
    by_line = {int(r["source"].rsplit(":", 1)[1]): r for r in records}
    assert set(by_line) == {4, 5, 6, 7}
    assert by_line[4]["error"]["kind"] == "row"
    assert by_line[5]["error"] == {**by_line[5]["error"], "kind": "classification", "value": "Weird_Class"}
    assert by_line[6]["error"]["kind"] == "variant" and by_line[6]["gene"] == "KRAS" and by_line[6]["error"]["field"] == "HGVSp_Short"
    assert by_line[7]["error"]["kind"] == "row"
    assert all(r["source"].startswith(str(path)) for r in records)
    by_id = {c["id"]: c for c in cases}
    assert set(by_id) == {"S1", "S2", "S3"}
    # the KRAS row with an extra field could not be read: beside the G12C it is an unspecified KRAS
    # change, and KRAS is not listed as tested (its other codons are unknown, not wild-type)
    assert [a["variant"] for a in by_id["S1"]["alterations"]] == ["mutation", "p.G12C"]
    assert "KRAS" not in by_id["S1"]["tested_genes"]
    assert "KRAS" not in by_id["S2"]["tested_genes"] and "NRAS" not in by_id["S2"]["tested_genes"]
    assert "BRAF" in by_id["S3"]["tested_genes"]  # a silent change is not a reason for doubt
    text = "\n".join(summary)
    assert "rows/s" in text and "error records: 4" in text and "gene not in the vocabulary: 1" in text


def test_no_cancer_type_is_an_error_record_and_no_case(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], [["KRAS", "S1", "p.G12C"], ["KRAS", "S2", "p.G12D"]])
    clin = write_maf(tmp_path / "c.txt", ["SAMPLE_ID", "ONCOTREE_CODE"], [["S1", "LUADD"]])
    cases, errors, _ = do_import(vocab, maf, clinical=[clin])
    assert cases == []
    assert [e["sample"] for e in errors] == ["S1", "S2"]
    assert "LUAD" in errors[0]["error"]["message"]  # the vocabulary's suggestion travels along
    cases, errors, _ = do_import(vocab, maf, clinical=[clin], cancer_type="NSCLC")
    assert [c["cancer_type"] for c in cases] == ["NSCLC", "NSCLC"]


def test_grouped_streaming_writes_each_sample_when_it_ends(vocab, tmp_path):
    rows = [["KRAS", "S1", "p.G12C"], ["TP53", "S1", "p.R175H"], ["KRAS", "S2", "p.G12D"]]
    maf = write_maf(tmp_path / "g.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], rows)
    errors: list[dict] = []
    imp = make_importer(vocab=vocab, cancer_type="LUAD", grouped=True, on_error=errors.append)
    it = imp.run(maf)
    first = next(it)  # S1 is written once S2's first row is read, before the file ends
    assert first["id"] == "S1" and imp.summary.rows == 3
    assert [c["id"] for c in it] == ["S2"]
    ungrouped = write_maf(tmp_path / "u.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], rows + [["NRAS", "S1", "p.Q61K"]])
    cases, errors, _ = do_import(vocab, ungrouped, cancer_type="LUAD", grouped=True)
    assert [e["error"]["kind"] for e in errors] == ["order"]
    cases, errors, _ = do_import(vocab, ungrouped, cancer_type="LUAD")
    assert errors == [] and len(cases[0]["alterations"]) == 3


def test_panel_file_and_assay_arguments(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], [["KRAS", "S1", "p.G12C"]])
    panel = tmp_path / "data_gene_panel_x.txt"
    panel.write_text("stable_id: X\ndescription: test\ngene_list:\tKRAS\tNRAS\tNOTAGENE1\n")
    for argv in (["--assay", "panel", str(panel)], ["--assay", f"panel:{panel}"], ["--assay", "panel", "--panel", str(panel)], ["--panel", str(panel)]):
        rc, cases, records, _ = run_cli(["--mutations", str(maf), "--cancer-type", "LUAD", *argv])
        assert rc == 0 and cases[0]["tested_genes"] == ["KRAS", "NRAS"], argv
    rc, cases, _, _ = run_cli(["--mutations", str(maf), "--cancer-type", "LUAD"])
    assert "tested_genes" not in cases[0]
    with pytest.raises(UsageError):
        run_cli(["--mutations", str(maf), "--assay", "wes"])
    with pytest.raises(UsageError):
        run_cli(["--mutations", str(maf), "--assay", "exome", "--panel", str(panel)])
    with pytest.raises(UsageError, match="not found"):
        run_cli(["--mutations", str(tmp_path / "missing.maf"), "--cancer-type", "LUAD"])
    with pytest.raises(UsageError, match="it has 'Tumor_Sample_Barcod': if that is the column, rename it 'Tumor_Sample_Barcode'"):
        bad = write_maf(tmp_path / "b.maf", ["Hugo_Symbol", "Tumor_Sample_Barcod", "HGVSp_Short"], [["KRAS", "S1", "p.G12C"]])
        run_cli(["--mutations", str(bad), "--cancer-type", "LUAD"])


@needs_data
def test_imported_cases_are_valid_cases(vocab, lung, colorectal):
    """What import writes, the evaluator accepts: every case passes the case format and vocabulary."""
    from engine.case import normalise, parse_case

    for cases in (lung[0], colorectal["COAD"][1]):
        for c in cases:
            normalise(parse_case(c), vocab)


@needs_data
def test_import_speed(vocab):
    maf = TCGA / "Firehose_COAD.nonsilent.maf.tsv.gz"
    make_importer(vocab=vocab, cancer_type="COAD")  # warm caches outside the timing
    t = time.perf_counter()
    cases, _, summary = do_import(vocab, maf, cancer_type="COAD", assay="exome")
    rate = summary.rows / (time.perf_counter() - t)
    print(f"\nimport: {rate:,.0f} rows/s (measured with bench/, not asserted: machines differ)")
    assert summary.rows > 130_000


@needs_data
def test_fast_gene_lookup_agrees_with_the_vocabulary(vocab):
    from engine.errors import TermError
    from engine.importers.importer import gene_finder

    find = gene_finder(vocab)
    symbols = sorted({r["Hugo_Symbol"] for r in raw_rows(TCGA / "Firehose_READ.nonsilent.maf.tsv.gz")})
    sample = [s for s in symbols if find(s) is not None] + symbols[::40] + ["LKB1", "c-MET", "kras", "MLL2", ""]
    for s in sample:
        try:
            want = vocab.gene(s)
        except TermError:
            want = None
        assert find(s) == want, s


@pytest.mark.parametrize(
    "written, read",
    [
        ("p.G12C", "p.G12C"),
        ("ENSP00000256078:p.Gly12Cys", "p.Gly12Cys"),
        ("p.E746_A750delELREA", "p.E746_A750del"),  # older HGVS: deleted residues repeated
        ("p.E746_A750delELRE", "p.E746_A750delELRE"),  # they do not match the span: left for the vocabulary to judge
        ("p.N987delN", "p.N987del"),
        ("p.VKSR600del", "p.V600_R603del"),  # Oncotator (TCGA Firehose) in-frame deletion
        ("p.K550_K558delinsX", "p.K550_K558delinsX"),
    ],
)
def test_protein_change_notations_of_real_files(written, read):
    from engine.importers.maf import clean_protein

    assert clean_protein(written) == read


def test_oncotator_splice_site_rows_read_as_splice_changes(vocab, tmp_path):
    from engine.importers.maf import splice_change

    assert splice_change("p.G263G") == "p.X263_splice" and splice_change("p.X33_splice") == "p.X33_splice"
    maf = write_maf(tmp_path / "s.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification", "Protein_Change"], [
        ["ALK", "S1", "Splice_Site", "p.G263G"],  # TCGA Firehose writes the codon next to the site
        ["ALK", "S2", "Missense_Mutation", "p.G263G"],  # a synonymous text on a missense row stays an error
    ])
    cases, errors, _ = do_import(vocab, maf, cancer_type="LUAD")
    assert {c["id"]: c["alterations"] for c in cases} == {"S1": [{"gene": "ALK", "variant": "p.X263_splice"}], "S2": []}
    assert [(e["sample"], e["error"]["kind"]) for e in errors] == [("S2", "variant")]


def test_clinical_sample_and_patient_files_join_by_barcode_or_patient(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], [
        ["KRAS", "P-1-T01", "p.G12C"],  # a sample id
        ["KRAS", "P-2", "p.G12D"],  # a patient id with one sample row (TCGA Firehose barcodes)
    ])
    sample_file = tmp_path / "data_clinical_sample.txt"
    sample_file.write_text(
        "#Patient Identifier\tSample Identifier\tOncotree Code\n#x\tx\tx\n#STRING\tSTRING\tSTRING\n#1\t1\t1\n"
        "PATIENT_ID\tSAMPLE_ID\tONCOTREE_CODE\nP-1\tP-1-T01\tLUAD\nP-2\tP-2-T01\tPAAD\nP-3\tP-3-T01\tCOAD\n"
    )
    patient_file = write_maf(tmp_path / "data_clinical_patient.txt", ["PATIENT_ID", "LINES"], [["P-1", "0"], ["P-2", "2"]])
    m = tmp_path / "map.yaml"
    m.write_text("prior_therapies: {column: LINES, values: {'0': []}}\n")
    errors_file = tmp_path / "errors.jsonl"
    rc, cases, records, summary = run_cli([
        "--mutations", str(maf), "--clinical", str(sample_file), "--clinical", str(patient_file),
        "--map", str(m), "--errors", str(errors_file),
    ])
    assert rc == 0 and records == [] and errors_file.read_text() == ""
    assert cases == [
        {"id": "P-1-T01", "cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "p.G12C"}], "prior_therapies": []},
        {"id": "P-2", "cancer_type": "PAAD", "alterations": [{"gene": "KRAS", "variant": "p.G12D"}]},
    ]
    text = "\n".join(summary)
    assert "clinical samples with no mutation rows, not written: 1" in text
    assert "value not in --map, field left unknown: prior_therapies: LINES='2' (1 samples)" in text


def test_a_full_disk_is_a_usage_error_naming_the_output_not_a_crash(tmp_path):
    rows = [["KRAS", f"S{i}", "p.G12C" if i % 2 else "p.Z12C"] for i in range(4000)]
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], rows)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), KRAS_RULES_CACHE="off")
    base = [sys.executable, "-m", "engine", "import", "--mutations", str(maf), "--cancer-type", "LUAD"]
    for extra, stdout, named in ((["--errors", str(tmp_path / "e.jsonl")], "/dev/full", "standard output"),
                                 (["--errors", "/dev/full"], os.devnull, "the error file '/dev/full' (--errors)")):
        with open(stdout, "wb") as sink:
            proc = subprocess.run(base + extra, stdout=sink, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().endswith(f"cannot write {named}: No space left on device"), proc.stderr
        assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def test_error_records_can_go_to_a_file(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], [["KRAS", "S1", "p.Z12C"]])
    errors_file = tmp_path / "errors.jsonl"
    rc, cases, records, summary = run_cli(["--mutations", str(maf), "--cancer-type", "LUAD", "--errors", str(errors_file)])
    assert rc == 1 and records == [] and cases == [{"id": "S1", "cancer_type": "LUAD", "alterations": []}]
    (rec,) = [json.loads(line) for line in errors_file.read_text().splitlines()]
    assert rec["source"] == f"{maf}:2" and rec["error"]["kind"] == "variant" and rec["error"]["value"] == "p.Z12C"
    assert any("error records written to" in line for line in summary)


@pytest.mark.parametrize("flag", ["--mutations", "--clinical", "--samples", "--map"])
def test_an_error_file_that_is_one_of_the_inputs_is_refused_before_it_is_emptied(tmp_path, flag):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], [["KRAS", "S1", "p.G12C"]])
    other = tmp_path / "other.txt"
    other.write_text("SAMPLE_ID\tCANCER_TYPE\nS1\tLUAD\n" if flag == "--clinical" else "S1\n" if flag == "--samples" else "{}\n")
    target = maf if flag == "--mutations" else other
    before = target.read_bytes()
    argv = ["--mutations", str(maf), "--cancer-type", "LUAD"] + ([] if flag == "--mutations" else [flag, str(other)])
    with pytest.raises(UsageError) as exc:  # (another spelling of the same path is the same file)
        run_cli([*argv, "--errors", str(tmp_path / "." / target.name)])
    assert f"is also an input ({flag} '{target}')" in str(exc.value)
    assert target.read_bytes() == before


@pytest.mark.parametrize("symbol", ["\u041aRAS", "KR\xffAS", "\u039aRAS"])  # Cyrillic K, a Latin-1 byte, Greek K
def test_a_gene_symbol_no_gene_could_have_is_an_error_record_and_the_gene_it_looks_like_is_unknown(tmp_path, symbol):
    """A KRAS row whose symbol was mangled (another alphabet's letter, a byte that was not UTF-8)
    is not skipped as a gene the rules do not read: the exome would then show KRAS wild-type and a
    G12C colorectal cancer would be offered the anti-EGFR antibodies."""
    maf = tmp_path / "m.maf"
    maf.write_bytes(("Hugo_Symbol\tTumor_Sample_Barcode\tHGVSp_Short\n" + symbol + "\tS1\tp.G12C\nTP53\tS1\tp.R175H\n")
                    .encode("latin-1" if "\xff" in symbol else "utf-8"))
    rc, cases, records, summary = run_cli(["--mutations", str(maf), "--cancer-type", "COADREAD", "--assay", "exome"])
    assert rc == 1
    (case,) = cases
    assert "KRAS" not in case["tested_genes"] and "TP53" in case["tested_genes"]
    (rec,) = records
    assert rec["error"]["kind"] == "gene" and rec["error"]["suggestion"] == "KRAS" and rec["gene"] == "KRAS"
    assert rec["error"]["field"] == "Hugo_Symbol" and rec["source"] == f"{maf}:2"
    assert "probably KRAS, whose status is therefore unknown" in rec["error"]["message"]


def test_a_stray_nul_in_the_first_rows_is_that_rows_error_not_a_binary_file(tmp_path):
    """One NUL byte in row 2 rejected the whole file as binary ("not a text file"), its valid KRAS
    row with it; the same NUL after the first 4 KiB was one row's error record."""
    maf = tmp_path / "m.maf"
    maf.write_bytes(b"Hugo_Symbol\tTumor_Sample_Barcode\tHGVSp_Short\nKRAS\tS1\tp.G12C\nTP53\tS2\tp.R17\x00H\n")
    rc, cases, records, _ = run_cli(["--mutations", str(maf), "--cancer-type", "LUAD"])
    assert rc == 1 and [c["id"] for c in cases] == ["S1", "S2"]
    assert cases[0]["alterations"] == [{"gene": "KRAS", "variant": "p.G12C"}]
    (rec,) = records
    assert rec["source"] == f"{maf}:3" and rec["gene"] == "TP53"


def test_a_gene_symbol_of_another_alphabet_near_no_known_gene_is_an_error_record_too(tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], [["\u0416\u0416\u0416", "S1", "p.G12C"]])
    rc, cases, records, _ = run_cli(["--mutations", str(maf), "--cancer-type", "LUAD", "--assay", "exome"])
    assert rc == 1 and len(cases) == 1
    (rec,) = records
    assert "no known gene is near it" in rec["error"]["message"] and "suggestion" not in rec["error"]


@pytest.mark.parametrize("kind", ["cna", "fusions"])
def test_a_mangled_gene_symbol_in_a_copy_number_or_fusion_file_is_an_error_record(tmp_path, kind):
    f = tmp_path / "x.txt"
    if kind == "cna":
        f.write_text("Hugo_Symbol\tS1\n\u041aRAS\t2\n", encoding="utf-8")
    else:
        f.write_text("Sample_Id\tSite1_Hugo_Symbol\tSite2_Hugo_Symbol\tEvent_Info\nS1\tEML4\t\u0410LK\tEML4-ALK\n", encoding="utf-8")
    rc, cases, records, _ = run_cli([f"--{kind}", str(f), "--cancer-type", "LUAD"])
    assert rc == 1
    (rec,) = records
    assert rec["error"]["kind"] == "gene" and rec["error"]["suggestion"] == ("KRAS" if kind == "cna" else "ALK")
    assert not any(a["gene"] in ("KRAS", "ALK") for c in cases for a in c["alterations"])


@needs_data
@pytest.mark.parametrize("study", ["COAD", "READ"])
def test_firehose_colorectal_evaluates_anti_egfr_excluded_exactly_for_ras_mutant(colorectal, engine, study):
    """End to end: the imported cohort evaluates one result per sample; cetuximab and panitumumab are
    excluded by the RAS rule for exactly the RAS-mutant samples (computed from the raw file) and
    decided for every other sample (never left waiting for RAS testing: the assay is an exome). The
    only other exclusion is BRAF V600E (section J)."""
    maf, cases, _, _ = colorectal[study]
    _, expected = _expected_ras_mutant(maf)
    results = [engine.evaluate(dict(c, as_of="2026-06-30")) for c in cases]
    assert [r.case_id for r in results] == [c["id"] for c in cases]
    braf = {c["id"] for c in cases for a in c["alterations"] if a["gene"] == "BRAF" and a["variant"] in ("p.V600E", "V600E")}
    for t in ("cetuximab", "panitumumab"):
        by_ras = set()
        for r in results:
            opt = r.option(t)
            assert opt is not None, (r.case_id, t)
            ruling = [opt.rules[0]] + [c.rule for c in opt.considered if c.verdict == "excluded"]
            if "CRC-001" in ruling:
                by_ras.add(r.case_id)
            if r.case_id in expected:
                assert opt.verdict == "excluded" and r.facts["ras_mutant"] is True
                continue
            case = next(c for c in cases if c["id"] == r.case_id)
            if not {"KRAS", "NRAS"} <= set(case["tested_genes"]):
                # a KRAS/NRAS row the importer could not read (an error record): status unknown,
                # so the antibody waits for RAS testing instead of being called wild-type
                assert r.facts["ras_mutant"] is None and opt.verdict == "conditional", r.case_id
                assert any("KRAS" in m for m in opt.missing), opt.missing
                continue
            assert r.facts["ras_mutant"] is False, r.case_id
            assert not any("KRAS" in m or "NRAS" in m for m in opt.missing), (r.case_id, opt.missing)
            assert opt.verdict != "excluded" or r.case_id in braf, (r.case_id, opt.rules)
        assert by_ras == expected, t


def test_a_header_row_repeated_in_the_middle_is_skipped_and_counted_not_a_sample(vocab, tmp_path):
    """Two MAFs joined end to end: the second header is a header, not a sample named
    `Tumor_Sample_Barcode`; its row is counted as skipped, and the rows after it are read."""
    header = "Hugo_Symbol\tVariant_Classification\tTumor_Sample_Barcode\tHGVSp_Short\n"
    maf = tmp_path / "joined.maf"
    maf.write_text(header + "KRAS\tMissense_Mutation\tS1\tp.G12C\n"
                   + header.replace("\t", " \t") + "KRAS\tMissense_Mutation\tT1\tp.G12D\n")
    cases, errors, summary = do_import(vocab, maf, cancer_type="LUAD")
    assert [c["id"] for c in cases] == ["S1", "T1"] and not errors
    assert cases[1]["alterations"] == [{"gene": "KRAS", "variant": "p.G12D"}]
    assert summary.skipped["the header row repeated (files joined)"] == 1
    assert summary.rows == 3 == summary.alteration_rows + sum(summary.skipped.values())


def test_an_unread_row_of_a_gene_with_another_change_listed_leaves_its_hotspots_unknown(vocab, tmp_path):
    # a listed KRAS change makes the engine count KRAS as sequenced: an unreadable KRAS row of the same
    # sample is written as an unspecified mutation (so codon 12 is unknown, not wild-type)
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification", "HGVSp_Short"], [
        ["KRAS", "S1", "Missense_Mutation", "p.Q22K"],
        ["KRAS", "S1", "In_Frame_Ins", "p.Gly12Zzz"],
        ["KRAS", "S2", "In_Frame_Ins", "p.Gly12Zzz"],
        ["KRAS", "S3", "Missense_Mutation", "p.Q22K"],
        ["BRCA2", "S4", "Nonsense_Mutation", "p.W424X"],   # an older stop: read as W424*
        ["KRAS", "S5", "Missense_Mutation", "p.G12X"],      # no classification says it is a stop: ambiguous
    ])
    cases, errors, _ = do_import(vocab, maf, cancer_type="COAD", assay="exome")
    by_id = {c["id"]: c for c in cases}
    s1 = by_id["S1"]["alterations"]
    assert {"gene": "KRAS", "variant": "p.Q22K"} in s1 and any(a["variant"] == "mutation" and a["detail"] for a in s1)
    assert "KRAS" not in by_id["S1"]["tested_genes"]
    assert by_id["S2"]["alterations"] == [] and "KRAS" not in by_id["S2"]["tested_genes"]  # no change listed: no mark needed
    assert by_id["S3"]["alterations"] == [{"gene": "KRAS", "variant": "p.Q22K"}] and "KRAS" in by_id["S3"]["tested_genes"]
    assert vocab.variant("BRCA2", by_id["S4"]["alterations"][0]["variant"]).label == "W424*"
    assert "KRAS" not in by_id["S5"]["tested_genes"]
    assert any("'X' is read two ways" in e["error"]["message"] for e in errors if e.get("sample") == "S5")
    from engine.api import Engine

    engine = Engine()
    case = dict(by_id["S1"], stage="metastatic", prior_therapies=[], as_of="2026-07-01")
    opt = {o.therapy: o for o in engine.evaluate(case).options}
    assert opt["cetuximab"].verdict == "conditional" and "the exact KRAS variant" in opt["cetuximab"].missing


def test_a_row_with_too_many_fields_leaves_its_gene_unknown_for_every_sample(vocab, tmp_path):
    # (a field too many before the sample column shifts it: which sample the row is about is unknown)
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Center", "Tumor_Sample_Barcode", "HGVSp_Short"], [
        ["KRAS", "broad", "S1", "p.Q22K"], ["NRAS", "broad", "extra", "S1", "p.Q61K"], ["BRAF", "broad", "S2", "p.V600E"]])
    cases, errors, summary = do_import(vocab, maf, cancer_type="COAD", assay="exome")
    by_id = {c["id"]: c for c in cases}
    assert any(e["error"]["kind"] == "row" for e in errors)
    assert "NRAS" not in by_id["S1"]["tested_genes"] and "KRAS" in by_id["S1"]["tested_genes"]
    assert "NRAS" not in by_id["S2"]["tested_genes"] and "BRAF" in by_id["S2"]["tested_genes"]
    # the summary names the genes left unknown and in how many cases
    assert any(line.startswith("genes left unknown in a case") and "NRAS in 2" in line and "KRAS" not in line
               for line in summary.lines("m.maf")), summary.lines("m.maf")


def test_tcga_histology_texts_and_a_patient_keyed_file_beside_a_sample_keyed_one(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], [
        ["KRAS", "TCGA-XX-0001", "p.G12D"], ["KRAS", "TCGA-XX-0002", "p.G12D"], ["KRAS", "TCGA-XX-0003", "p.G12D"],
        ["KRAS", "TCGA-XX-0004", "p.G12D"]])
    firehose = write_maf(tmp_path / "fh.tsv", ["Tumor_Sample_Barcode", "histological_type", "tumor_tissue_site"], [
        ["TCGA-XX-0001", "Lung_Adenocarcinoma-_Not_Otherwise_Specified_(NOS)", "Lung"],
        ["TCGA-XX-0002", "Mucinous_(Colloid)_Carcinoma", "Lung"],
        ["TCGA-XX-0003", "Rectal_Mucinous_Adenocarcinoma", "Rectum"],  # (an organ alone names no cancer type)
        ["TCGA-XX-0004", "", ""]])
    cases, errors, summary = do_import(vocab, maf, clinical=[firehose])
    by_id = {c["id"]: c["cancer_type"] for c in cases}
    # a histology naming no organ is read with the site before it: a lung mucinous (colloid)
    # carcinoma is an adenocarcinoma
    assert by_id == {"TCGA-XX-0001": "LUAD", "TCGA-XX-0002": "LUAD", "TCGA-XX-0003": "MACR"}
    assert any("its cancer type cells are empty" in e["error"]["message"] for e in errors)
    assert not any("Mucinous_(Colloid)_Carcinoma" in line for line in summary.lines("m.maf"))
    # a cBioPortal file keyed by sample (its PATIENT_ID the barcode) adds its OncoTree code
    cbio = write_maf(tmp_path / "cb.txt", ["PATIENT_ID", "SAMPLE_ID", "ONCOTREE_CODE"], [["TCGA-XX-0003", "TCGA-XX-0003-01", "READ"]])
    cases, _, _ = do_import(vocab, maf, clinical=[firehose, cbio])
    assert {c["id"]: c["cancer_type"] for c in cases}["TCGA-XX-0003"] == "READ"
    # a histology the vocabulary knows with no site: the organ stays the reading (none here)
    bare = write_maf(tmp_path / "bare.tsv", ["Tumor_Sample_Barcode", "histological_type"],
                     [["TCGA-XX-0001", "Mucinous_(Colloid)_Carcinoma"]])
    _, errors, _ = do_import(vocab, maf, clinical=[bare])
    assert any("Mucinous_(Colloid)_Carcinoma" in e["error"]["message"] and "TCGA-XX-0001" in str(e) for e in errors), errors


def test_a_misspelt_classification_is_suggested_and_rules_goes_after_the_command_too(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification", "HGVSp_Short"],
                    [["KRAS", "A1", "Missense_Mutaton", "p.G12C"]])
    _, errors, _ = do_import(vocab, maf, cancer_type="COAD")
    assert errors[0]["error"]["suggestion"] == "Missense_Mutation"
    from engine.cli import build_parser

    args = build_parser().parse_args(["check", "--rules", "elsewhere"])
    assert args.rules == "elsewhere"
    assert build_parser().parse_args(["--rules", "before", "check"]).rules == "before"


def test_maf_filter_flags_are_read_as_calls_and_counted(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short", "FILTER"], [
        ["KRAS", "A1", "p.G12C", "wga"], ["NRAS", "A1", "p.Q61K", "PASS"]])
    cases, _, summary = do_import(vocab, maf, cancer_type="COAD", assay="exome")
    assert {a["variant"] for a in cases[0]["alterations"]} == {"p.G12C", "p.Q61K"}
    assert any("FILTER is not PASS: 1 (wga 1" in line for line in summary.lines("m.maf"))


def test_an_unread_truncating_row_needs_no_unspecified_mutation(vocab, tmp_path):
    """A stop gained or a frameshift whose protein change cannot be read is never an activating
    hotspot change: beside a listed KRAS G12V, it leaves G12C known absent (no mark)."""
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification", "HGVSp_Short"], [
        ["KRAS", "S1", "Missense_Mutation", "p.G12V"], ["KRAS", "S1", "Nonsense_Mutation", "p.Zzz3Ter"],
        ["KRAS", "S2", "Missense_Mutation", "p.G12V"], ["KRAS", "S2", "In_Frame_Ins", "p.Zzz3Ter"]])
    cases, _, _ = do_import(vocab, maf, cancer_type="LUAD", assay="exome")
    by_id = {c["id"]: [a["variant"] for a in c["alterations"]] for c in cases}
    assert by_id == {"S1": ["p.G12V"], "S2": ["mutation", "p.G12V"]}


def test_a_sample_barcode_finds_its_patient_s_row_in_a_file_keyed_by_patient_barcode(vocab, tmp_path):
    maf = write_maf(tmp_path / "m.maf", ["Hugo_Symbol", "Tumor_Sample_Barcode", "HGVSp_Short"], [["KRAS", "TCGA-XX-0001-01", "p.G12D"]])
    cbio = write_maf(tmp_path / "cb.txt", ["PATIENT_ID", "SAMPLE_ID", "SAMPLE_TYPE"], [["TCGA-XX-0001", "TCGA-XX-0001-01", "Primary"]])
    firehose = write_maf(tmp_path / "fh.tsv", ["Tumor_Sample_Barcode", "histological_type"],
                         [["TCGA-XX-0001", "Lung_Adenocarcinoma-_Not_Otherwise_Specified_(NOS)"]])
    cases, errors, _ = do_import(vocab, maf, clinical=[cbio, firehose])
    assert [c["cancer_type"] for c in cases] == ["LUAD"] and not errors


# ----------------------------------------------------------------------------- protein change vs coordinates (F1)

MAF_HEAD = ("Hugo_Symbol\tNCBI_Build\tChromosome\tStart_Position\tEnd_Position\tVariant_Classification\tVariant_Type\t"
            "Reference_Allele\tTumor_Seq_Allele2\tTumor_Sample_Barcode\tHGVSp_Short\tTranscript_ID\n")


def _maf_row(gene, build, chrom, pos, ref, alt, sample, protein, transcript="") -> str:
    return "\t".join([gene, build, chrom, str(pos), str(pos), "Missense_Mutation", "SNP", ref, alt, sample, protein,
                      transcript]) + "\n"


def test_protein_numbered_on_the_mane_transcript_is_read_from_the_coordinates(vocab, tmp_path):
    """GDC MAFs number BRAF on its MANE transcript (ENST00000646891, 806 residues): V600E is written p.V640E.
    The coordinates decode V600E, and the transcript is not the reference one: the coordinates are read, and
    the summary says so (no V640E that no rule knows)."""
    maf = tmp_path / "gdc.maf"
    maf.write_text(MAF_HEAD + _maf_row("BRAF", "GRCh38", "chr7", 140753336, "A", "T", "GDC-CRC-1", "p.V640E",
                                       "ENST00000646891"), encoding="utf-8")
    cases, errors, s = do_import(vocab, maf, cancer_type="COAD", assay="exome")
    assert errors == []
    assert cases[0]["alterations"] == [{"gene": "BRAF", "variant": "p.V600E"}]
    assert "BRAF" in cases[0]["tested_genes"]
    assert s.renumbered == 1 and s.from_coordinates == 1
    line = next(x for x in s.lines("gdc.maf") if "another transcript" in x)
    assert "p.V640E" in line and "ENST00000646891" in line and "p.V600E" in line and "gdc.maf:2" in line


def test_protein_on_the_mane_transcript_that_coordinates_do_not_place_is_an_error_saying_so(vocab, tmp_path):
    """BRAF p.V640M on the MANE transcript, at a position the hotspot table does not hold: the reference
    (766 residues, Y at 640) refuses it, and the error says the row numbers BRAF on another transcript
    (no suggestion taken from the reference's residue); BRAF stays unknown, never wild-type."""
    maf = tmp_path / "gdc.maf"
    maf.write_text(MAF_HEAD + _maf_row("BRAF", "GRCh38", "chr7", 140753000, "C", "T", "GDC-CRC-2", "p.V640M",
                                       "ENST00000646891"), encoding="utf-8")
    cases, errors, _ = do_import(vocab, maf, cancer_type="COAD", assay="exome")
    (e,) = errors
    assert e["error"]["kind"] == "variant" and e["error"]["field"] == "HGVSp_Short" and e["error"]["value"] == "p.V640M"
    assert e["error"]["message"].startswith("BRAF residue 640 is Y (Tyr), not V; the row numbers BRAF on ENST00000646891, "
                                            "not on its reference transcript (ENST00000288602, NM_004333)")
    assert e["error"].get("suggestion") is None
    assert cases[0]["alterations"] == [] and "BRAF" not in cases[0]["tested_genes"]


@pytest.mark.parametrize("transcript", ["", "ENST00000256078"])
def test_protein_contradicting_the_coordinates_is_an_error_record_naming_the_likely_change(vocab, tmp_path, transcript):
    """12:25398284 C>T is KRAS G12D; a protein column saying p.G12C on the same row (no transcript, or the
    reference one) cannot be resolved: an error record with both fields and the coordinates' reading, and
    KRAS unknown (neither G12C nor wild-type)."""
    maf = tmp_path / "conflict.maf"
    maf.write_text(MAF_HEAD + _maf_row("KRAS", "GRCh37", "12", 25398284, "C", "T", "S1", "p.G12C", transcript),
                   encoding="utf-8")
    cases, errors, s = do_import(vocab, maf, cancer_type="LUAD", assay="exome")
    assert cases[0]["alterations"] == []
    assert "KRAS" not in cases[0]["tested_genes"]
    [err] = errors
    assert err["source"] == f"{maf}:2" and err["gene"] == "KRAS" and err["sample"] == "S1"
    e = err["error"]
    assert e["kind"] == "protein" and e["field"] == "HGVSp_Short" and e["value"] == "p.G12C"
    assert e["suggestion"] == "p.G12D"
    assert "12:25398284 C>T" in e["message"] and "p.G12D" in e["message"]
    assert s.renumbered == 0


def test_protein_agreeing_with_the_coordinates_is_read_as_written(vocab, tmp_path):
    maf = tmp_path / "agree.maf"
    maf.write_text(MAF_HEAD + _maf_row("KRAS", "GRCh37", "12", 25398284, "C", "T", "S1", "p.G12D", "ENST00000256078"),
                   encoding="utf-8")
    cases, errors, s = do_import(vocab, maf, cancer_type="LUAD")
    assert errors == [] and cases[0]["alterations"] == [{"gene": "KRAS", "variant": "p.G12D"}]
    assert s.renumbered == 0 and s.from_coordinates == 0


def test_one_codon_change_written_as_two_rows_is_read_as_one(vocab, tmp_path):
    """A caller of single-base changes writes KRAS c.34_35GG>TT (G12F) as c.35G>T (G12V) and
    c.34G>T (G12C): read apart, the tumour would carry a G12C it does not have. Rows of one codon
    are one change where the file shows it (the same tumour reads; one row's change holding
    another's), and two where it does not."""
    head = HEADER + ["t_alt_count"]
    g12v = ["Missense_Mutation", "GRCh37", "12", "25398284", "25398284", "C", "A", "p.G12V"]
    g12c = ["Missense_Mutation", "GRCh37", "12", "25398285", "25398285", "C", "A", "p.G12C"]
    g12r = ["Missense_Mutation", "GRCh37", "12", "25398285", "25398285", "C", "G", "p.G12R"]
    dnp = ["Missense_Mutation", "GRCh37", "12", "25398284", "25398285", "CC", "AA", "p.G12F"]
    maf = write_maf(tmp_path / "m.maf", head, [
        ["KRAS", "same", *g12v, "14"], ["KRAS", "same", *g12c, "14"],  # the same 14 reads: one change
        ["KRAS", "apart", *g12v, "14"], ["KRAS", "apart", *g12c, "3"],  # 14 and 3 reads: two changes
        ["KRAS", "held", *dnp, ""], ["KRAS", "held", *g12c, ""],  # the two-base call holds the single-base one
        ["KRAS", "clash", *g12c, "9"], ["KRAS", "clash", *g12r, "9"],  # two new bases at one position: two changes
    ])
    cases, errors, summary = do_import(vocab, maf, cancer_type="LUAD", assay="exome")
    variants = {c["id"]: sorted(a["variant"] for a in c["alterations"]) for c in cases}
    assert variants == {"same": ["p.G12F"], "apart": ["p.G12C", "p.G12V"], "held": ["p.G12F"],
                        "clash": ["p.G12C", "p.G12R"]}
    assert not errors
    assert summary.split == ["same: KRAS G12V + G12C -> G12F", "held: KRAS G12F + G12C -> G12F"]
    assert summary.apart == ["apart: KRAS G12V + G12C"]
    (same,) = [c for c in cases if c["id"] == "same"]
    assert "one change written as 2 rows (G12V + G12C: the same reads)" in same["alterations"][0]["detail"]
    assert "KRAS" in same["tested_genes"]
    line = next(x for x in summary.lines("m.maf") if x.startswith("one change of a codon"))
    assert "same: KRAS G12V + G12C -> G12F" in line


@needs_data
def test_real_split_codon_changes_are_read_as_one(vocab):
    """The two-base KRAS changes of the TCGA files that a caller wrote as two rows: G12F (the same
    14 reads in MC3, the same 9 reads from t_depth x t_vaf in Firehose) and G12Y; no G12C remains."""
    cases, _, summary = do_import(vocab, TCGA / "Firehose_LUAD.nonsilent.maf.tsv.gz",
                                  clinical=[TCGA / "Firehose_LUAD.clinical.tsv"], assay="exome")
    kras = {c["id"]: sorted(a["variant"] for a in c["alterations"] if a["gene"] == "KRAS") for c in cases}
    assert kras["TCGA-78-7167"] == ["p.G12F"] and kras["TCGA-78-7145"] == ["p.G12Y"]
    assert "TCGA-78-7167: KRAS G12V + G12C -> G12F" in summary.split
    cases, _, _ = do_import(vocab, TCGA / "MC3_READ.nonsilent.maf.tsv.gz", clinical=[TCGA / "MC3_READ.clinical.tsv"],
                            samples=TCGA / "MC3_READ.all_samples.txt", assay="exome", assembly="GRCh37")
    kras = {c["id"]: sorted(a["variant"] for a in c["alterations"] if a["gene"] == "KRAS") for c in cases}
    assert kras["TCGA-AG-4008-01A-01W-1073-09"] == ["p.G12F"]


@needs_data
def test_msk_lung_map_writes_counted_lines_whose_drugs_are_not_given(vocab, tmp_path, engine):
    """LINES_OF_TX_PRIOR_IMPACT counts lines without naming drugs: mapped to lines whose drugs are
    not given, a pretreated metastatic KRAS G12C tumour meets the sotorasib label's prior line
    (it asked for the history before, which the file gives)."""
    m = tmp_path / "lung_map.yaml"
    m.write_text(
        "stage: {column: RECURRENT_METASTATIC_DISEASE, values: {'YES': metastatic}}\n"
        "prior_therapies:\n  column: LINES_OF_TX_PRIOR_IMPACT\n"
        "  values: {'0': [], '1': [{setting: metastatic}], '2': [{setting: metastatic}, {setting: metastatic}]}\n"
    )
    cases, errors, _ = do_import(vocab, LUNG / "data_mutations_extended.txt", clinical=[LUNG / "data_clinical_sample.txt"],
                                 field_map=m, assay="panel", panels=[LUNG / "data_gene_matrix.txt"])
    raw = {r["SAMPLE_ID"]: r for r in raw_rows(LUNG / "data_clinical_sample.txt")}
    treated = [c for c in cases if raw[c["id"]]["LINES_OF_TX_PRIOR_IMPACT"] in ("1", "2")
               and c.get("stage") == "metastatic" and {"gene": "KRAS", "variant": "p.G12C"} in c["alterations"]]
    assert treated and all(len(c["prior_therapies"]) == int(raw[c["id"]]["LINES_OF_TX_PRIOR_IMPACT"]) for c in treated)
    verdicts = Counter(engine.evaluate({**c, "as_of": "2026-12-01"}).option("sotorasib").verdict for c in treated)
    assert verdicts["eligible"] == len(treated), verdicts


def test_msk_lung_map_says_whether_the_sample_is_from_after_the_lines_it_counts(vocab, tmp_path):
    """SAMPLE_PRE_LUNG_THERAPY says whether the sequenced sample predates any lung therapy: mapped
    to tested_after_prior_therapy, a sample taken after the lines it counts says so, one taken
    before says not, and a cell the map does not name leaves it out."""
    m = tmp_path / "lung_map.yaml"
    m.write_text("tested_after_prior_therapy: {column: SAMPLE_PRE_LUNG_THERAPY, values: {'YES': false, 'NO': true}}\n")
    cases, errors, _ = do_import(vocab, LUNG / "data_mutations_extended.txt", clinical=[LUNG / "data_clinical_sample.txt"],
                                 field_map=m)
    raw = {r["SAMPLE_ID"]: r for r in raw_rows(LUNG / "data_clinical_sample.txt")}
    want = {"YES": False, "NO": True}
    seen = Counter()
    for c in cases:
        cell = raw[c["id"]]["SAMPLE_PRE_LUNG_THERAPY"].strip().upper()
        assert c.get("tested_after_prior_therapy") == want.get(cell), (c["id"], cell)
        seen[cell] += 1
    assert seen["YES"] and seen["NO"], seen
    with pytest.raises(UsageError, match="tested_after_prior_therapy"):
        bad = tmp_path / "bad.yaml"
        bad.write_text("tested_after_prior_therapy: {column: SAMPLE_PRE_LUNG_THERAPY, values: {'YES': 'no'}}\n")
        do_import(vocab, LUNG / "data_mutations_extended.txt", clinical=[LUNG / "data_clinical_sample.txt"], field_map=bad)
