"""The vocabulary: cancer types, genes, variants, drugs, classes and regimens."""
from __future__ import annotations

import csv
import gzip
import json
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import CaseError, RuleError, TermError
from engine.vocabulary import CancerType, Drug, Variant, Vocabulary

ROOT = Path(__file__).resolve().parents[1]
VOCAB_DIR = ROOT / "rules" / "vocabulary"
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="the shared data folder (../shared/data) is absent")


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load(VOCAB_DIR)


def term_error(call, *args) -> TermError:
    with pytest.raises(TermError) as info:
        call(*args)
    return info.value


# --------------------------------------------------------------------------- loading


def test_load_is_repeatable_and_timed(vocab):
    start = time.perf_counter()
    again = Vocabulary.load(VOCAB_DIR)
    elapsed = time.perf_counter() - start
    print(f"\nVocabulary.load: {elapsed * 1000:.1f} ms")
    assert again.genes == vocab.genes
    assert again.drug_classes == vocab.drug_classes
    assert again.cancer_types.keys() == vocab.cancer_types.keys()


def test_vocabulary_survives_pickling_for_worker_processes(vocab):
    copy = pickle.loads(pickle.dumps(vocab))
    assert copy.variant("KRAS", "p.Gly12Cys") == vocab.variant("KRAS", "G12C")
    assert copy.therapy_word("FOLFOX") == vocab.therapy_word("FOLFOX")
    assert term_error(copy.gene, "KRSA").problems[0].suggestion == "KRAS"


def test_attribution_credits_oncotree(vocab):
    assert "OncoTree" in vocab.attribution
    assert "Memorial Sloan Kettering" in vocab.attribution
    assert "CC BY 4.0" in vocab.attribution
    assert (VOCAB_DIR / "oncotree" / "LICENSE.md").read_text(encoding="utf-8").count("Attribution 4.0") >= 1


def test_broken_regimen_file_names_file_and_path(tmp_path):
    copy = tmp_path / "vocabulary"
    shutil.copytree(VOCAB_DIR, copy)
    path = copy / "regimens.yaml"
    path.write_text("regimens:\n  FOLFOX:\n    drugs: [fluorouracil, leucovorn, oxaliplatin]\n", encoding="utf-8")
    with pytest.raises(RuleError) as info:
        Vocabulary.load(copy)
    text = info.value.render()
    assert "regimens.yaml" in text
    assert "regimens.FOLFOX.drugs[1]: unknown drug 'leucovorn'" in text
    assert "did you mean 'leucovorin'?" in text


def _load_edited(tmp_path, name: str, old: str, new: str) -> str:
    """The load error of a copy of the vocabulary with ``old`` (which must be there) replaced by
    ``new`` in the file ``name``."""
    copy = tmp_path / "vocabulary"
    if not copy.exists():
        shutil.copytree(VOCAB_DIR, copy)
    path = copy / name
    text = (VOCAB_DIR / name).read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RuleError) as info:
        Vocabulary.load(copy)
    return info.value.render()


def test_drug_with_unknown_class_is_rejected(tmp_path):
    assert "drugs.sotorasib.classes: unknown class 'kras_g12c_inhibitr'" in _load_edited(
        tmp_path, "drugs.yaml", "classes: [kras_g12c_inhibitor]\n    brands: [Lumakras",
        "classes: [kras_g12c_inhibitr]\n    brands: [Lumakras")


def test_cancer_name_clashing_with_another_code_is_rejected(tmp_path):
    assert "already the name of LUAD" in _load_edited(tmp_path, "cancer_types.yaml", "\n  LUSC:\n",
                                                      "\n  LUSC:\n    - lung adenocarcinoma\n")


def test_a_group_of_cancer_types_left_out_together_must_name_known_codes(tmp_path):
    text = _load_edited(tmp_path, "cancer_types.yaml", "  - codes: [LYMPH, MYELOID]\n", "  - codes: [LYMPH, MYLOID]\n")
    assert "outside[0].codes[1]: unknown OncoTree code 'MYLOID'" in text
    assert "MYELOID" in text  # offered
    assert "outside[0]: an entry is {codes: [OncoTree code, ...], words: text}" in _load_edited(
        tmp_path, "cancer_types.yaml", "    words: a solid tumour\n", "")


# --------------------------------------------------------------------------- cancer types


@pytest.mark.parametrize(
    "text, code",
    [
        ("LUAD", "LUAD"), ("luad", "LUAD"), ("lung adenocarcinoma", "LUAD"),
        ("NSCLC", "NSCLC"), ("non-small cell lung cancer", "NSCLC"), ("Non small cell lung cancer", "NSCLC"),
        ("LUSC", "LUSC"), ("colorectal cancer", "COADREAD"), ("CRC", "COADREAD"), ("mCRC", "COADREAD"),
        ("colon", "COAD"), ("colon cancer", "COAD"), ("rectal", "READ"), ("rectal cancer", "READ"),
        ("PDAC", "PAAD"), ("pancreatic ductal adenocarcinoma", "PAAD"), ("pancreatic cancer", "PAAD"),
        ("endometrial cancer", "UCEC"), ("Mucinous Ovarian Cancer", "MOV"), ("biliary tract cancer", "BILIARY_TRACT"),
        ("cholangiocarcinoma", "CHOL"), ("melanoma", "MEL"), ("Colorectal Adenocarcinoma", "COADREAD"),
        # everyday organ names: the organ's node ("breast cancer" was offered "pancreas cancer")
        ("ovarian cancer", "OVARY"), ("breast cancer", "BREAST"), ("bladder cancer", "BLADDER"),
        ("gastric cancer", "STOMACH"), ("thyroid cancer", "THYROID"), ("prostate cancer", "PROSTATE"),
    ],
)
def test_cancer_names_people_type(vocab, text, code):
    assert vocab.cancer(text).code == code


def test_oncotree_hierarchy_as_shipped(vocab):
    assert vocab.cancer("LUAD").lineage == ("LUAD", "NSCLC", "LUNG", "TISSUE")
    assert vocab.cancer("COAD").lineage == ("COAD", "COADREAD", "BOWEL", "TISSUE")
    assert vocab.cancer("READ").lineage[1] == "COADREAD"
    assert vocab.cancer("PAAD").lineage == ("PAAD", "PANCREAS", "TISSUE")
    assert vocab.cancer("CHOL").lineage == ("CHOL", "IPN", "BILIARY_TRACT", "TISSUE")
    assert "NSCLC" not in vocab.cancer("lung cancer").lineage
    assert vocab.cancer("LUAD") == CancerType("LUAD", "Lung Adenocarcinoma", "Non-Small Cell Lung Cancer",
                                              ("LUAD", "NSCLC", "LUNG", "TISSUE"))


def test_every_oncotree_code_and_unshared_name_resolves(vocab):
    tree = json.loads((VOCAB_DIR / "oncotree" / "oncotree_2025_10_03.json").read_text(encoding="utf-8"))
    nodes, stack = [], list(tree.values())
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node["children"].values())
    assert len(nodes) == len(vocab.cancer_types) > 800
    names: dict[str, list[str]] = {}
    for node in nodes:
        assert vocab.cancer(node["code"]).code == node["code"]
        assert vocab.cancer_code(node["code"]).name == " ".join(node["name"].split())  # runs of spaces read as one
        names.setdefault(node["name"].casefold(), []).append(node["code"])
    for name, codes in names.items():
        if len(codes) == 1:
            assert vocab.cancer(name).code == codes[0]
        else:
            assert "ambiguous" in term_error(vocab.cancer, name).render()


def test_previous_oncotree_code_resolves(vocab):
    assert vocab.cancer("MFT").code == "FT"


@pytest.mark.parametrize(
    "text, suggestion",
    [("NSCLCC", "NSCLC"), ("colorectal cancr", "colorectal cancer"), ("LUADD", "LUAD"), ("pancreatic cancr", "pancreatic cancer")],
)
def test_cancer_typo_is_an_error_with_suggestion(vocab, text, suggestion):
    err = term_error(vocab.cancer, text)
    assert err.problems[0].message == f"unknown cancer type '{text}'"
    assert err.problems[0].suggestion == suggestion


@pytest.mark.parametrize(
    "text, suggestion",
    [("NSCLC adenocarcinoma", "Lung Adenocarcinoma"), ("CRC adenocarcinoma", "Colorectal Adenocarcinoma"),
     ("metastatic NSCLC", "Non-Small Cell Lung Cancer"), ("NSCLC squamous", "Lung Squamous Cell Carcinoma"),
     ("pancreatic adenocarcinoma metastatic", "Pancreatic Adenocarcinoma"), ("LUAD G12C", "LUAD")],
)
def test_a_text_naming_a_known_type_with_other_words_is_offered_a_type_of_that_organ(vocab, text, suggestion):
    """The closest spelling alone offered another organ ("NSCLC adenocarcinoma": Colon
    Adenocarcinoma; "metastatic NSCLC": metastatic colorectal cancer)."""
    err = term_error(vocab.cancer, text)
    assert err.problems[0].suggestion == suggestion
    assert vocab.cancer(suggestion).code in {c for c in vocab.cancer_types if "LUNG" in vocab.cancer_types[c].lineage
                                                 or "BOWEL" in vocab.cancer_types[c].lineage or "PANCREAS" in vocab.cancer_types[c].lineage}


def test_cancer_code_wants_exact_codes(vocab):
    assert vocab.cancer_code("NSCLC").code == "NSCLC"
    err = term_error(vocab.cancer_code, "PDAC")
    assert err.problems[0].suggestion == "PAAD"
    assert "not an OncoTree code" in err.problems[0].message
    assert term_error(vocab.cancer_code, "luad").problems[0].suggestion == "LUAD"
    assert term_error(vocab.cancer_code, "COADREADD").problems[0].suggestion == "COADREAD"


def test_cancer_rejects_non_text(vocab):
    assert "non-empty text" in term_error(vocab.cancer, "  ").render()
    assert "non-empty text" in term_error(vocab.cancer, None).render()


# --------------------------------------------------------------------------- genes


KNOWLEDGE_GENES = ("KRAS NRAS HRAS BRAF EGFR ALK MET RET RAF1 FGFR3 MAP2K1 NF1 PTEN STK11 TP53 KEAP1 "
                   "NFE2L2 BRCA1 BRCA2 ERBB2 PIK3CA").split()


def test_knowledge_genes_are_known(vocab):
    for gene in KNOWLEDGE_GENES:
        assert vocab.gene(gene) == gene
        assert gene in vocab.genes


@pytest.mark.parametrize(
    "alias, symbol",
    [("LKB1", "STK11"), ("MEK1", "MAP2K1"), ("HER2", "ERBB2"), ("NRF2", "NFE2L2"), ("c-MET", "MET"),
     ("K-RAS", "KRAS"), ("Ki-ras", "KRAS"), ("kras", "KRAS"), ("PD-L1", "CD274"), ("SHP2", "PTPN11"),
     ("FAM123B", "AMER1"), ("MLL2", "KMT2D"), ("HIST1H3B", "H3C2"), ("nkx2-1", "NKX2-1")],
)
def test_gene_aliases(vocab, alias, symbol):
    assert vocab.gene(alias) == symbol


def test_impact_panel_is_complete_with_current_symbols(vocab):
    panel = vocab.panel("IMPACT410")
    assert len(panel) == 410
    assert {"KRAS", "AMER1", "KMT2D", "H3-3A"} <= panel
    assert "FAM123B" not in panel
    assert panel <= vocab.genes


@needs_data
def test_impact_panel_matches_the_data_file(vocab):
    path = DATA / "cbioportal" / "lung_msk_2017" / "data_gene_panel_impact410.txt"
    listed = next(line for line in path.read_text().splitlines() if line.startswith("gene_list:")).split()[1:]
    assert {vocab.gene(g) for g in listed} == vocab.panel("IMPACT410")


def test_gene_typo_is_an_error_with_suggestion(vocab):
    err = term_error(vocab.gene, "KRSA")
    assert err.problems[0].message == "unknown gene 'KRSA'"
    assert err.problems[0].suggestion == "KRAS"
    assert term_error(vocab.gene, "STK1").problems[0].suggestion == "STK11"


# --------------------------------------------------------------------------- variants


@pytest.mark.parametrize(
    "text",
    ["G12C", "p.G12C", "p.(G12C)", "Gly12Cys", "p.Gly12Cys", "p.(Gly12Cys)", "g12c", "gly12cys", " p.G12C ",
     "KRAS G12C", "KRAS p.G12C", "c.34G>T", "NM_004985.5:c.34G>T", "NM_004985.4(KRAS):c.34G>T", "p.G12delinsC",
     "NP_004976.2:p.Gly12Cys"],
)
def test_every_notation_of_g12c_gives_one_label(vocab, text):
    assert vocab.variant("KRAS", text) == Variant("mutation", "G12C", 12, "G", "C", "p.G12C")


@pytest.mark.parametrize(
    "gene, text, label, codon, ref, alt",
    [
        ("BRCA2", "p.E1953*", "E1953*", 1953, "E", "*"),
        ("BRCA2", "p.Glu1953Ter", "E1953*", 1953, "E", "*"),
        ("BRCA2", "p.(Glu1953*)", "E1953*", 1953, "E", "*"),
        ("BRCA2", "S1982Rfs*22", "S1982Rfs*22", 1982, "S", None),
        ("BRCA2", "p.Ser1982ArgfsTer22", "S1982Rfs*22", 1982, "S", None),
        ("BRCA2", "S1982fs", "S1982fs", 1982, "S", None),
        ("EGFR", "E746_A750del", "E746_A750del", 746, "E", None),
        ("EGFR", "p.Glu746_Ala750del", "E746_A750del", 746, "E", None),
        ("EGFR", "E746_T751delinsA", "E746_T751delinsA", 746, "E", None),
        ("KRAS", "p.G12_G13insA", "G12_G13insA", 12, "G", None),
        ("KRAS", "A11_G12dup", "A11_G12dup", 11, "A", None),
        ("NF1", "p.X1445_splice", "X1445_splice", 1445, None, None),
        ("KRAS", "Y96D", "Y96D", 96, "Y", "D"),
        ("KRAS", "p.Gly12Ter", "G12*", 12, "G", "*"),
        ("MET", "D1228N", "D1228N", 1228, "D", "N"),
    ],
)
def test_protein_notations(vocab, gene, text, label, codon, ref, alt):
    v = vocab.variant(gene, text)
    assert (v.kind, v.label, v.codon, v.ref, v.alt, v.hgvs) == ("mutation", label, codon, ref, alt, f"p.{label}")


@pytest.mark.parametrize(
    "text, kind",
    [("amplification", "amplification"), ("amp", "amplification"), ("Amplified", "amplification"),
     ("fusion", "fusion"), ("rearrangement", "fusion"), ("loss", "loss"), ("loss of function", "loss"),
     ("loss-of-function", "loss"), ("LOF", "loss"), ("homozygous deletion", "loss"), ("mutation", "mutation"),
     ("mutant", "mutation"), ("mutated", "mutation"), ("activating mutation", "mutation")],
)
def test_kind_words(vocab, text, kind):
    assert vocab.variant("MET", text) == Variant(kind, kind, None, None, None, None)


def test_exon_level_changes(vocab):
    assert vocab.variant("EGFR", "exon 19 deletion").label == "exon 19 deletion"
    assert vocab.variant("EGFR", "ex19del").label == "exon 19 deletion"
    assert vocab.variant("MET", "exon 14 skipping").label == "exon 14 skipping"


@pytest.mark.parametrize("text", ["p.G12=", "G12G", "p.Gly12Gly", "G12delinsG"])
def test_synonymous_change_is_not_an_alteration(vocab, text):
    assert "synonymous" in term_error(vocab.variant, "KRAS", text).render()


def test_words_that_are_not_alterations(vocab):
    err = term_error(vocab.variant, "KRAS", "deletion")
    assert "ambiguous" in err.render() and err.problems[0].suggestion == "loss"
    assert "tested_genes" in term_error(vocab.variant, "KRAS", "wild type").render()
    assert "names a position" in term_error(vocab.variant, "KRAS", "G12").render()
    err = term_error(vocab.variant, "KRAS", "amplifcation")
    assert err.problems[0].suggestion == "amplification"
    assert "cannot read variant 'G12CC' of KRAS" in term_error(vocab.variant, "KRAS", "G12CC").render()
    assert "lower to the higher" in term_error(vocab.variant, "EGFR", "A750_E746del").render()
    assert "not a protein change" in term_error(vocab.variant, "KRAS", "g.25398285C>A").render()


KNOWLEDGE_KRAS_CDNA = [
    ("c.34G>T", "G12C"), ("c.35G>A", "G12D"), ("c.35G>T", "G12V"), ("c.34G>C", "G12R"), ("c.34G>A", "G12S"),
    ("c.35G>C", "G12A"), ("c.38G>A", "G13D"), ("c.183A>C", "Q61H"), ("c.183A>T", "Q61H"), ("c.182A>T", "Q61L"),
    ("c.181C>A", "Q61K"), ("c.182A>G", "Q61R"), ("c.436G>A", "A146T"),
]


@pytest.mark.parametrize("cdna, label", KNOWLEDGE_KRAS_CDNA)
def test_kras_cdna_hotspots_from_the_knowledge_catalogue(vocab, cdna, label):
    assert vocab.variant("KRAS", cdna).label == label


@pytest.mark.parametrize(
    "gene, cdna, label",
    [("NRAS", "c.34G>T", "G12C"), ("NRAS", "c.35G>A", "G12D"), ("NRAS", "c.38G>A", "G13D"),
     ("NRAS", "c.37G>C", "G13R"), ("NRAS", "c.181C>A", "Q61K"), ("NRAS", "c.182A>G", "Q61R"),
     ("NRAS", "c.182A>T", "Q61L"), ("NRAS", "c.183A>T", "Q61H"), ("BRAF", "c.1799T>A", "V600E"),
     ("BRAF", "c.1798_1799delinsAA", "V600K")],
)
def test_nras_and_braf_cdna_hotspots(vocab, gene, cdna, label):
    assert vocab.variant(gene, cdna).label == label


def test_unknown_cdna_asks_for_the_protein_change(vocab):
    assert "give the protein change" in term_error(vocab.variant, "KRAS", "c.100A>G").render()
    assert "give the protein change" in term_error(vocab.variant, "EGFR", "c.2573T>G").render()
    assert "NM_004985" in term_error(vocab.variant, "KRAS", "NM_033333.1:c.34G>T").render()


def _maf_rows(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        yield from csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")


@needs_data
def test_cdna_hotspot_tables_agree_with_the_real_maf_files(vocab):
    files = [DATA / "cbioportal/paad_utsw_2015/maf_cleaned.txt", DATA / "tcga_mutations/MC3_PAAD.nonsilent.maf.tsv.gz",
             DATA / "tcga_mutations/MC3_READ.nonsilent.maf.tsv.gz"]
    checked = 0
    for path in files:
        for row in _maf_rows(path):
            gene, cdna = row["Hugo_Symbol"], row["HGVSc"].split(":")[-1]
            if gene not in ("KRAS", "NRAS", "BRAF") or not cdna.startswith("c."):
                continue
            try:
                v = vocab.variant(gene, cdna)
            except TermError:
                continue  # not a hotspot in the table
            assert f"p.{v.label}" == row["HGVSp_Short"], (gene, cdna)
            checked += 1
    assert checked > 300


def test_change_past_the_end_of_the_gene_is_rejected(vocab):
    err = term_error(vocab.variant, "KRAS", "V600E")
    assert err.problems[0].message.startswith("KRAS has 189 residues")
    assert "known change of BRAF" in err.problems[0].message
    assert err.problems[0].suggestion == "BRAF"


def test_wrong_reference_residue_is_rejected(vocab):
    err = term_error(vocab.variant, "KRAS", "A12C")
    assert err.render() == "KRAS residue 12 is G (Gly), not A (did you mean 'G12C'?)"
    assert term_error(vocab.variant, "BRAF", "V601E").problems[0].message.startswith("BRAF residue 601 is")
    assert term_error(vocab.variant, "EGFR", "E746_L748del").problems[0].suggestion == "E746_R748del"


def test_gene_without_reference_data_accepts_any_well_formed_change(vocab):
    assert vocab.variant("ZFHX3", "A5000T").label == "A5000T"


def test_variant_parsing_is_cached(vocab):
    assert vocab.variant("KRAS", "p.Gly12Cys") is vocab.variant("KRAS", "p.Gly12Cys")


_ONE_TO_THREE = {"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly",
                 "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
                 "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter"}


@settings(max_examples=200, deadline=None)
@given(ref=st.sampled_from(sorted(set(_ONE_TO_THREE) - {"*"})), alt=st.sampled_from(sorted(_ONE_TO_THREE)),
       pos=st.integers(min_value=1, max_value=5000))
def test_one_and_three_letter_notations_agree(vocab, ref, alt, pos):
    forms = [f"{ref}{pos}{alt}", f"p.{ref}{pos}{alt}", f"p.({ref}{pos}{alt})",
             f"p.{_ONE_TO_THREE[ref]}{pos}{_ONE_TO_THREE[alt]}", f"{_ONE_TO_THREE[ref].upper()}{pos}{_ONE_TO_THREE[alt].lower()}"]
    if ref == alt:
        for form in forms:
            with pytest.raises(TermError):
                vocab.variant("ZFHX3", form)
        return
    span = () if alt == "*" else None  # a stop alters no codon in place
    assert {vocab.variant("ZFHX3", form) for form in forms} == {Variant("mutation", f"{ref}{pos}{alt}", pos, ref, alt, f"p.{ref}{pos}{alt}", span)}


@needs_data
def test_generated_residues_are_current():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_protein_reference.py"), "--check", "--quiet",
                           "--data", str(DATA)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_reference_sequence_is_checked_against_its_length_and_its_source_s_sha256():
    """The generator takes a gene's whole sequence only as its source names it: a letter changed, one
    missing, or no SHA-256 named stops it (a sequence copied wrong would reject true changes)."""
    import importlib.util

    import yaml

    spec = importlib.util.spec_from_file_location("build_protein_reference", ROOT / "scripts" / "build_protein_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    conf = yaml.safe_load((ROOT / "rules" / "vocabulary" / "protein_reference.yaml").read_text(encoding="utf-8"))
    kras = conf["genes"]["KRAS"]
    seq = mod.reference_sequence("KRAS", kras)
    assert len(seq) == 189 and seq[11] == "G" and seq[20] == "I" and seq[60] == "Q"
    for bad, why in (({**kras, "sequence": seq[:20] + "G" + seq[21:]}, "does not match the SHA-256"),
                     ({**kras, "sequence": seq[:-1]}, "has 188 residues, the length says 189"),
                     ({**kras, "sequence_source": "UniProtKB P01116"}, "needs a sequence_source naming its SHA-256 or MD5"),
                     ({**kras, "sequence": seq[:20] + "B" + seq[21:]}, "not amino acids")):
        with pytest.raises(SystemExit, match=why):
            mod.reference_sequence("KRAS", bad)
    assert mod.reference_sequence("TP53", conf["genes"]["TP53"]) == ""  # no sequence: the data alone
    braf = mod.reference_sequence("BRAF", conf["genes"]["BRAF"])  # its source gives an MD5
    assert len(braf) == 766 and braf[599] == "V" and braf[600] == "K"
    with pytest.raises(SystemExit, match="does not match the MD5"):
        mod.reference_sequence("BRAF", {**conf["genes"]["BRAF"], "sequence": braf[:599] + "E" + braf[600:]})


@needs_data
def test_real_protein_changes_of_configured_genes_pass_the_reference_check(vocab):
    """Every missense change the Ensembl-annotated files report on a configured transcript reads."""
    conf_transcripts = {"KRAS": "ENST00000256078", "TP53": "ENST00000269305", "BRAF": "ENST00000288602",
                        "PIK3CA": "ENST00000263967", "SMAD4": "ENST00000342988"}
    read = 0
    for path in (DATA / "tcga_mutations/MC3_PAAD.nonsilent.maf.tsv.gz", DATA / "tcga_mutations/MC3_READ.nonsilent.maf.tsv.gz"):
        for row in _maf_rows(path):
            if conf_transcripts.get(row["Hugo_Symbol"]) == row["Transcript_ID"] and row["Variant_Classification"] in (
                    "Missense_Mutation", "Nonsense_Mutation"):
                vocab.variant(row["Hugo_Symbol"], row["HGVSp_Short"])
                read += 1
    assert read > 400


# --------------------------------------------------------------------------- drugs and classes


@pytest.mark.parametrize(
    "text, name",
    [("sotorasib", "sotorasib"), ("AMG 510", "sotorasib"), ("AMG-510", "sotorasib"), ("amg510", "sotorasib"),
     ("Lumakras", "sotorasib"), ("LUMYKRAS", "sotorasib"), ("MRTX849", "adagrasib"), ("MRTX-849", "adagrasib"),
     ("Krazati", "adagrasib"), ("RMC-6236", "daraxonrasib"), ("D-1553", "garsorasib"), ("ARS-3248", "jnj-74699157"),
     ("JNJ-74699157", "jnj-74699157"), ("LY3499446", "ly3499446"), ("LY3537982", "olomorasib"), ("RM-018", "rm-018"),
     ("Erbitux", "cetuximab"), ("Vectibix", "panitumumab"), ("Lynparza", "olaparib"), ("TNO155", "tno155"),
     ("RMC-4550", "rmc-4550"), ("JAB-3068", "jab-3068"), ("RLY-1971", "migoprotafib"), ("SHP099", "shp099"),
     ("SHP-099", "shp099"), ("BI 1701963", "bi-1701963"), ("BI1701963", "bi-1701963"), ("BAY-293", "bay-293"),
     ("BAY293", "bay-293"), ("Mekinist", "trametinib"), ("Zelboraf", "vemurafenib"), ("tipifarnib", "tipifarnib"),
     ("lonafarnib", "lonafarnib"), ("salirasib", "salirasib"), ("AZD4785", "azd4785"), ("Ibrance", "palbociclib"),
     ("alisertib", "alisertib"), ("LC-2", "lc-2"), ("Keytruda", "pembrolizumab"), ("Opdivo", "nivolumab"),
     ("Imfinzi", "durvalumab"), ("Tecentriq", "atezolizumab"), ("Braftovi", "encorafenib"), ("Tafinlar", "dabrafenib"),
     ("binimetinib", "binimetinib"), ("5-FU", "fluorouracil"), ("5-fluorouracil", "fluorouracil"),
     ("Xeloda", "capecitabine"), ("nal-IRI", "irinotecan liposome"), ("Onivyde", "irinotecan liposome"),
     ("liposomal irinotecan", "irinotecan liposome"), ("levoleucovorin", "levoleucovorin"),
     ("Abraxane", "nab-paclitaxel"), ("nab-P", "nab-paclitaxel"), ("TAS-102", "trifluridine/tipiracil"),
     ("S-1", "s-1"), ("Avastin", "bevacizumab")],
)
def test_drug_names(vocab, text, name):
    assert vocab.drug(text).name == name


def test_drug_typo_is_an_error_with_suggestion(vocab):
    err = term_error(vocab.drug, "sotorasb")
    assert err.problems[0].message == "unknown drug 'sotorasb'"
    assert err.problems[0].suggestion == "sotorasib"
    assert "is a regimen, not a drug" in term_error(vocab.drug, "FOLFOX").render()


@pytest.mark.parametrize("text, suggestion", [
    ("osimertnib", "osimertinib"), ("cetuxmiab", "cetuximab"), ("panitumab", "panitumumab"), ("gemcitibine", "gemcitabine"),
    # a name that shares only its class's ending with a known drug is not offered that drug
    ("brigatinb", "brigatinib"), ("nazartinib", None), ("penpulimab", None), ("envafolimab", None), ("zalutumumab", None),
])
def test_a_drug_is_offered_only_for_a_name_alike_beyond_its_classs_ending(vocab, text, suggestion):
    """Unknown drugs were offered a drug of another class sharing an INN ending: lazertinib
    (EGFR) 'zongertinib' (HER2), sintilimab (PD-1) 'ipilimumab' (CTLA-4), necitumumab 'panitumumab'.
    The same offer for a drug named alone and in a case's prior therapy (a therapy word)."""
    assert term_error(vocab.drug, text).problems[0].suggestion == suggestion
    assert term_error(vocab.therapy_word, text).problems[0].suggestion == suggestion
    assert term_error(vocab.therapy_word, f"FOLFOX + {text}").problems[0].suggestion == suggestion


def test_drug_classes_include_implied_ones(vocab):
    assert vocab.drug("oxaliplatin") == Drug("oxaliplatin", frozenset({"oxaliplatin", "platinum", "chemotherapy"}))
    assert "kras_g12c_inhibitor" in vocab.drug("sotorasib").classes
    assert "chemotherapy" not in vocab.drug("leucovorin").classes
    assert "fluoropyrimidine" not in vocab.drug("trifluridine/tipiracil").classes
    assert vocab.drugs_in_class("platinum") == {"cisplatin", "carboplatin", "oxaliplatin"}
    assert vocab.drugs_in_class("taxane") == {"docetaxel", "paclitaxel", "nab-paclitaxel"}
    assert {"fluorouracil", "capecitabine"} <= vocab.drugs_in_class("fluoropyrimidine")
    assert vocab.drugs_in_class("irinotecan") == {"irinotecan", "irinotecan liposome"}
    assert vocab.drugs_in_class("anti_egfr_antibody") == {"cetuximab", "panitumumab", "amivantamab", "necitumumab"}
    assert "irinotecan" not in vocab.drug("topotecan").classes and "fluoropyrimidine" not in vocab.drug("raltitrexed").classes
    assert "fluoropyrimidine" in vocab.drug("UFT").classes and "anti_pd1_pdl1" in vocab.drug("tislelizumab").classes
    assert {"sotorasib", "adagrasib", "rm-018"} <= vocab.drugs_in_class("kras_g12c_inhibitor")
    assert "daraxonrasib" not in vocab.drugs_in_class("kras_g12c_inhibitor")
    assert {"chemotherapy", "targeted_therapy", "immunotherapy"} & vocab.drug("cetuximab").classes == {"targeted_therapy"}


BRIEF_CLASSES = ("kras_g12c_inhibitor ras_on_inhibitor anti_egfr_antibody parp_inhibitor shp2_inhibitor sos1_inhibitor "
                 "mek_inhibitor raf_inhibitor braf_inhibitor farnesyltransferase_inhibitor kras_antisense "
                 "cdk4_6_inhibitor aurka_inhibitor protac_degrader anti_pd1_pdl1 anti_ctla4 egfr_tki alk_tki anti_vegf "
                 "fluoropyrimidine oxaliplatin irinotecan platinum taxane gemcitabine pemetrexed chemotherapy "
                 "targeted_therapy immunotherapy").split()


def test_every_class_has_a_label_and_a_member(vocab):
    assert set(BRIEF_CLASSES) <= vocab.drug_classes
    for cls in vocab.drug_classes:
        assert vocab.class_label(cls)
        assert vocab.drugs_in_class(cls), cls
    assert vocab.class_label("kras_g12c_inhibitor") == "KRAS G12C inhibitor"
    assert term_error(vocab.class_label, "kras_g12c_inhibitr").problems[0].suggestion == "kras_g12c_inhibitor"


def test_drug_labels(vocab):
    assert vocab.drug_label("rm-018") == "RM-018"
    assert vocab.drug_label("AMG 510") == "sotorasib"
    assert vocab.drug_label("bi-1701963") == "BI 1701963"


# --------------------------------------------------------------------------- regimens and therapy words


@pytest.mark.parametrize(
    "text, drugs",
    [
        ("FOLFOX", {"fluorouracil", "leucovorin", "oxaliplatin"}),
        ("mFOLFOX6", {"fluorouracil", "leucovorin", "oxaliplatin"}),
        ("FOLFIRI", {"fluorouracil", "leucovorin", "irinotecan"}),
        ("FOLFOXIRI", {"fluorouracil", "leucovorin", "oxaliplatin", "irinotecan"}),
        ("FOLFIRINOX", {"fluorouracil", "leucovorin", "oxaliplatin", "irinotecan"}),
        ("mFOLFIRINOX", {"fluorouracil", "leucovorin", "oxaliplatin", "irinotecan"}),
        ("NALIRIFOX", {"irinotecan liposome", "fluorouracil", "leucovorin", "oxaliplatin"}),
        ("CAPOX", {"capecitabine", "oxaliplatin"}),
        ("XELOX", {"capecitabine", "oxaliplatin"}),
        ("xeliri", {"capecitabine", "irinotecan"}),
        ("gemcitabine/nab-paclitaxel", {"gemcitabine", "nab-paclitaxel"}),
        ("gem/nab-P", {"gemcitabine", "nab-paclitaxel"}),
        ("GnP", {"gemcitabine", "nab-paclitaxel"}),
        ("gemcitabine + nab-paclitaxel", {"gemcitabine", "nab-paclitaxel"}),
        ("carbo/pem", {"carboplatin", "pemetrexed"}),
    ],
)
def test_regimens_expand(vocab, text, drugs):
    assert vocab.regimen(text) == tuple(sorted(drugs))
    assert vocab.therapy_word(text) == tuple(sorted(drugs))


def test_regimen_of_a_drug_is_none(vocab):
    assert vocab.regimen("sotorasib") is None
    assert vocab.regimen("not a regimen") is None


@pytest.mark.parametrize(
    "text, drugs",
    [
        ("sotorasib", ("sotorasib",)),
        ("Lumakras", ("sotorasib",)),
        ("FOLFOX + bevacizumab", ("bevacizumab", "fluorouracil", "leucovorin", "oxaliplatin")),
        ("FOLFIRI/cetuximab", ("cetuximab", "fluorouracil", "irinotecan", "leucovorin")),
        ("carboplatin/pemetrexed/pembrolizumab", ("carboplatin", "pembrolizumab", "pemetrexed")),
        ("AMG 510 + panitumumab", ("panitumumab", "sotorasib")),
        ("adagrasib plus cetuximab", ("adagrasib", "cetuximab")),
        ("trifluridine/tipiracil + bevacizumab", ("bevacizumab", "trifluridine/tipiracil")),
        ("cisplatin, pemetrexed", ("cisplatin", "pemetrexed")),
    ],
)
def test_therapy_words(vocab, text, drugs):
    assert vocab.therapy_word(text) == drugs


def test_unknown_therapy_word_is_an_error_with_suggestion(vocab):
    err = term_error(vocab.therapy_word, "FOLFOXX")
    assert err.problems[0].message == "unknown drug or regimen 'FOLFOXX'"
    assert err.problems[0].suggestion == "FOLFOX"
    err = term_error(vocab.therapy_word, "FOLFOX + cetuximb")
    assert err.problems[0].message == "unknown drug or regimen 'cetuximb' in 'FOLFOX + cetuximb'"
    assert err.problems[0].suggestion == "cetuximab"


KNOWLEDGE_DRUG_WORDS = (
    "sotorasib adagrasib D-1553 JNJ-74699157 LY3499446 LY3537982 daraxonrasib RM-018 cetuximab panitumumab olaparib "
    "TNO155 RMC-4550 JAB-3068 RLY-1971 SHP099 BI-1701963 BAY-293 trametinib vemurafenib tipifarnib lonafarnib "
    "salirasib AZD4785 palbociclib alisertib LC-2 pembrolizumab nivolumab durvalumab atezolizumab 5-FU fluorouracil "
    "capecitabine oxaliplatin irinotecan cisplatin carboplatin docetaxel paclitaxel nab-paclitaxel gemcitabine "
    "pemetrexed encorafenib dabrafenib KRpep-2d KS-58 12VC1 BI-2852 ARS-1620 ARS-853"
).split()


def test_every_drug_the_sources_name_is_known(vocab):
    for word in KNOWLEDGE_DRUG_WORDS:
        vocab.drug(word)


def test_example_cases_use_known_drugs_and_regimens(vocab):
    """The drugs and regimens of the example cases resolve (a typo there would be caught)."""
    for path in sorted((ROOT / "cases").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for case in data if isinstance(data, list) else [data]:
            for line in case.get("prior_therapies") or []:
                for drug in line.get("drugs") or []:
                    vocab.therapy_word(drug)
                if line.get("regimen"):
                    vocab.therapy_word(line["regimen"])


# --------------------------------------------------------------------------- words for the case format's values


def test_the_case_words_name_the_case_models_own_values():
    """case_words.yaml may name only the values the case model takes (casewords.FIELDS keeps a
    copy, the module sitting below the model)."""
    from typing import get_args

    from engine.case import AlterationIn, PriorTherapyIn, CaseIn
    from engine.vocabulary.casewords import FIELDS

    def values(model, name):  # (the Literal's values, inside an Optional or not)
        ann = model.model_fields[name].annotation
        found = set(get_args(ann)) - {type(None)}
        return {v for a in found for v in get_args(a)} or {a for a in found if isinstance(a, str)}

    assert set(FIELDS["stage"]) == values(CaseIn, "stage")
    assert set(FIELDS["setting"]) == values(PriorTherapyIn, "setting")
    assert set(FIELDS["outcome"]) == values(PriorTherapyIn, "outcome")
    assert set(FIELDS["origin"]) == values(AlterationIn, "origin")
    assert set(FIELDS["classification"]) == values(AlterationIn, "classification")


@pytest.mark.parametrize("fld, word, meant", [
    ("stage", "Stage IV", "metastatic"), ("stage", "Locally-Advanced", "locally_advanced"), ("stage", "stage IIIB", None), ("stage", "IVA", None), ("stage", "IB", "early"),
    ("outcome", "PD", "progression"), ("outcome", "partial response", "response"), ("outcome", "SD", "stable"),
    ("setting", "1L", "metastatic"), ("setting", "post-operative", "adjuvant"), ("origin", "inherited", "germline"),
    ("classification", "VUS", "uncertain_significance"), ("stage", "advanced", None), ("outcome", "stage IV", None),
])
def test_the_value_a_word_probably_means(vocab, fld, word, meant):
    assert vocab.case_words.meant(fld, word) == meant


@pytest.mark.parametrize("word, start", [
    ("advanced", "'advanced' covers both 'metastatic'"), ("Advanced-Disease", "'advanced' covers both"),
    ("stage IIIB", "stage III is 'locally_advanced' for most cancers"), ("3", "stage III is"), ("IV", None),
])
def test_a_word_for_no_one_stage_says_why(vocab, word, start):
    why = vocab.case_words.unclear("stage", word)
    assert (why is None) if start is None else why.startswith(start)
    # an unclear word offers no value; "IV", a clear one, offers metastatic
    assert vocab.case_words.meant("stage", word) == ("metastatic" if start is None else None)


def test_an_unclear_word_is_offered_no_value_not_even_a_close_spelling(engine):
    """"advanced" was offered 'locally_advanced' (a close spelling): following it turned a
    metastatic colorectal case's sotorasib + panitumumab "not eligible"."""
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "COADREAD", "stage": "advanced"})
    (p,) = info.value.problems
    assert p.path == ("stage",) and p.suggestion is None
    assert p.message == ("Input should be 'early', 'locally_advanced' or 'metastatic' (got 'advanced': 'advanced' "
                         "covers both 'metastatic' (spread to distant sites) and 'locally_advanced' (grown into nearby "
                         "tissue or nodes, not spread far); give the one the report means)")


def test_a_case_word_for_no_value_or_two_values_is_refused(tmp_path):
    assert "'metastasis' is not a value of stage" in _load_edited(
        tmp_path, "case_words.yaml", "  metastatic: [stage IV,", "  metastasis: [stage IV,")
    assert "'IV' already means metastatic" in _load_edited(
        tmp_path, "case_words.yaml", "  early: [stage I,", "  early: [IV, stage I,")
    assert "'advanced' already means no one value (unclear)" in _load_edited(
        tmp_path, "case_words.yaml", "  early: [stage I,", "  early: [advanced, stage I,")


@pytest.mark.parametrize("call, meant", [
    (lambda v: v.cancer("ＬＵＡＤ"), "LUAD"), (lambda v: v.gene("ＫＲＡＳ"), "KRAS"),
    (lambda v: v.therapy_word("ｓｏｔｏｒａｓｉｂ"), "sotorasib"),
])
def test_a_term_typed_in_full_width_letters_is_offered_its_plain_form(vocab, call, meant):
    """"ＬＵＡＤ" (full-width, as some input methods type) got no suggestion."""
    with pytest.raises(TermError) as info:
        call(vocab)
    assert info.value.problems[0].suggestion == meant


def test_a_named_group_of_cancer_types_is_read_by_its_name_only_when_all_its_codes_are_listed(vocab):
    melanomas = ["MEL", "HNMUCM", "VMM", "ESMM", "ARMM", "URMM", "PCNSM", "OM"]
    name = "any melanoma (cutaneous, mucosal, ocular or of the central nervous system)"
    # in the place of its first code, once, the other codes kept in order
    assert vocab.cancers.grouped(["COADREAD", *melanomas, "LYMPH"]) == [("COADREAD", None), ("MEL", name), ("LYMPH", None)]
    # a part of the group is each code by itself
    assert vocab.cancers.grouped(["COADREAD", "MEL", "OM"]) == [("COADREAD", None), ("MEL", None), ("OM", None)]
