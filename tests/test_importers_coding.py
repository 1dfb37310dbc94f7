"""Codons from coordinates and the transcript's coding exons (rules/vocabulary/coding_exons.yaml),
checked against every KRAS substitution of the real GRCh37 MAF files that states its protein change."""
from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest

from engine.importers import hotspots as hs
from engine.importers import make_importer
from engine.importers.coding import CodingExons
from engine.importers.hotspots import HotspotTable

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
VOCAB = ROOT / "rules" / "vocabulary"
GRCH37_MAFS = [
    "tcga_mutations/Firehose_COAD.nonsilent.maf.tsv.gz", "tcga_mutations/Firehose_READ.nonsilent.maf.tsv.gz",
    "tcga_mutations/Firehose_LUAD.nonsilent.maf.tsv.gz", "tcga_mutations/Firehose_PAAD.nonsilent.maf.tsv.gz",
    "tcga_mutations/MC3_PAAD.nonsilent.maf.tsv.gz", "tcga_mutations/MC3_READ.nonsilent.maf.tsv.gz",
    "cbioportal/paad_utsw_2015/maf_cleaned.txt", "cbioportal/paad_cptac_2021/data_mutations.maf",
    "cbioportal/nsclc_unito_2016/data_mutations_extended.txt",
    "oncokb_annotator_examples/example_maf.txt",
]
MISSENSE = re.compile(r"^p\.([A-Z])(\d+)([A-Z*])$")


@pytest.fixture(scope="module")
def table():
    return HotspotTable.load(VOCAB / "genomic_hotspots.yaml")


@pytest.fixture(scope="module")
def coding(table):
    return CodingExons.load(VOCAB, table)


def kras_rows():
    for rel in GRCH37_MAFS:
        path = DATA / rel
        if not path.exists():
            continue
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="latin-1") as fh:
            header = None
            for line in fh:
                if line.startswith("#") or not line.strip():
                    continue
                f = line.rstrip("\r\n").split("\t")
                if header is None:
                    header = {h.strip().lower(): i for i, h in reversed(list(enumerate(f)))}
                    continue
                if f[header["hugo_symbol"]] != "KRAS":
                    continue
                prot = ""
                for col in ("hgvsp_short", "protein_change", "amino_acid_change"):
                    if col in header and f[header[col]].strip():
                        prot = f[header[col]].strip()
                        break
                alt = f[header["tumor_seq_allele2"]].strip()
                yield rel, f[header["chromosome"]], int(f[header["start_position"]]), f[header["reference_allele"]].strip(), alt, prot


def test_every_kras_substitution_of_the_real_files_lands_on_its_codon(coding, table):
    if not DATA.is_dir():
        pytest.skip("../shared/data (the real public data) is not present")
    checked = decoded = 0
    for rel, chrom, pos, ref, alt, prot in kras_rows():
        m = MISSENSE.match(prot if prot.startswith("p.") else "p." + prot)
        if not m or len(ref) != 1 or len(alt) != 1 or ref == alt:
            continue
        hit = coding.locate("GRCh37", chrom, pos)
        if hit is None:
            continue
        exon, c = hit
        assert (c - 1) // 3 + 1 == int(m.group(2)), (rel, pos, prot)  # the exon coordinates give the codon
        checked += 1
        d = coding.decode("GRCh37", chrom, pos, ref, alt)
        want = f"p.{m.group(1)}{m.group(2)}{m.group(3)}"
        if d.kind == hs.DECODED:
            assert d.protein == want, (rel, pos, ref, alt, prot, d)
            decoded += 1
        else:
            assert d.kind in (hs.OUTSIDE, hs.AMBIGUOUS), (rel, pos, prot, d)
    assert checked > 150 and decoded > 100, (checked, decoded)


def test_q22k_in_lung_msk_is_read_from_the_transcript(table):
    lung = DATA / "cbioportal" / "lung_msk_2017"
    if not lung.is_dir():
        pytest.skip("shared data not available: lung_msk_2017")
    errors: list[dict] = []
    imp = make_importer(clinical=[lung / "data_clinical_sample.txt"], assay="panel", panels=[lung / "data_gene_matrix.txt"],
                        on_error=errors.append)
    cases = {c["id"]: c for c in imp.run(lung / "data_mutations_extended.txt")}
    case = cases["P-0002524-T01-IM3"]  # chr12:25398255 G>T (c.64C>A), codon 22 outside the hotspot table
    assert {"gene": "KRAS", "variant": "p.Q22K"} in case["alterations"]
    assert "KRAS" in case["tested_genes"]
    assert any("coding exons" in n for n in imp.summary.notes)


def _without_residue(tmp_path: Path, gene: str, pos: int) -> Path:
    """A copy of the rules whose generated reference residues lack ``gene``'s residue ``pos``."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    path = rules / "vocabulary" / "protein_residues.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["residues"][gene] = " ".join(t for t in data["residues"][gene].split() if int(t[:-1]) != pos)
    path.write_text(json.dumps(data), encoding="utf-8")
    return rules


def test_unknown_residue_or_ambiguity_keeps_the_gene_unknown(tmp_path, coding, table):
    # codon 3 (E3): known from KRAS's sequence (no data file reports it), so GAA>TAA is read
    assert coding.decode("GRCh37", "12", 25398312, "C", "A").protein == "p.E3*"
    # where the residue is not known, the codon is not decoded
    rules = _without_residue(tmp_path, "KRAS", 3)
    assert CodingExons.load(rules / "vocabulary", table).decode("GRCh37", "12", 25398312, "C", "A").kind == hs.OUTSIDE
    # the row's reference base fixes the codon where it can: c.66A>C in Gln22 (CAA) is His
    assert coding.decode("GRCh37", "12", 25398253, "T", "G").protein == "p.Q22H"
    # Leu23 with A as third base is TTA or CTA; A>C gives Phe or Leu: undecidable, not guessed
    assert coding.decode("GRCh37", "12", 25398250, "T", "G").kind == hs.AMBIGUOUS
    # wrong reference base for Gln at c.64 (not C on the coding strand)
    assert coding.decode("GRCh37", "12", 25398255, "T", "A").kind == hs.MISMATCH
    maf = tmp_path / "m.maf"
    maf.write_text(
        "Hugo_Symbol\tTumor_Sample_Barcode\tVariant_Classification\tNCBI_Build\tChromosome\tStart_Position\tReference_Allele\tTumor_Seq_Allele2\n"
        "KRAS\tS1\tMissense_Mutation\tGRCh37\t12\t25398312\tC\tA\n"
        "KRAS\tS2\tMissense_Mutation\tGRCh37\t12\t25398255\tG\tT\n"
        "KRAS\tS3\tNonsense_Mutation\tGRCh37\t12\t25398312\tC\tA\n"
        "KRAS\tS4\tSplice_Site\tGRCh37\t12\t25398312\tC\tA\n", encoding="utf-8")
    imp = make_importer(cancer_type="LUAD", assay="exome", rules_dir=rules)
    cases = {c["id"]: c for c in imp.run(maf)}
    assert cases["S1"]["alterations"] == [] and "KRAS" not in cases["S1"]["tested_genes"]
    assert cases["S2"]["alterations"] == [{"gene": "KRAS", "variant": "p.Q22K"}] and "KRAS" in cases["S2"]["tested_genes"]
    # a row the file classes as a stop gained, whose residue the tables cannot give, is still a
    # truncating mutation (never an activating change: the gene's hotspots stay known) ...
    (s3,) = cases["S3"]["alterations"]
    assert s3["variant"] == "truncating mutation" and "Nonsense_Mutation at 12:25398312 C>A" in s3["detail"]
    assert "KRAS" in cases["S3"]["tested_genes"] and imp.summary.from_classification == 1
    # ... but a splice-site change may keep the protein (or activate it): unknown
    assert cases["S4"]["alterations"] == [] and "KRAS" not in cases["S4"]["tested_genes"]
