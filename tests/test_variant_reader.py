"""The variant reader (engine.vocabulary.variants) on its own: the HGVS grammar alone
(``VariantReader()``: no kind words, no hotspot table, no reference check), then the reader
loaded from the shipped files (kind words, cDNA hotspots, the protein reference), then loading
from broken files. Each message is checked in full: it is what a user reads."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.errors import RuleError, TermError
from engine.vocabulary import Genes, Variant, VariantReader, Vocabulary

VOCAB_DIR = Path(__file__).resolve().parents[1] / "rules" / "vocabulary"
FORMS = ("expected a protein change (G12C, p.Gly12Cys, E1953*, S1982Rfs*22, E746_A750del, X125_splice, "
         "exon 19 deletion), a hotspot cDNA change (c.34G>T) or one of: amplification, fusion, loss, mutation")


@pytest.fixture(scope="module")
def grammar() -> VariantReader:
    return VariantReader()


@pytest.fixture(scope="module")
def reader() -> VariantReader:
    return Vocabulary.load(VOCAB_DIR).variants


def error(reader, gene, text) -> tuple[str, str | None]:
    with pytest.raises(TermError) as info:
        reader.variant(gene, text)
    (p,) = info.value.problems
    return p.message, p.suggestion


def point(label, codon, ref, alt, span=None) -> Variant:
    return Variant("mutation", label, codon, ref, alt, f"p.{label}", span)


# --------------------------------------------------------------------------- the grammar alone


@pytest.mark.parametrize("text, expected", [
    ("G012C", point("G12C", 12, "G", "C")),
    ("G0000012C", point("G12C", 12, "G", "C")),
    ("G12*", point("G12*", 12, "G", "*", ())),  # a stop: no codon altered in place (span ())
    ("p.Gly12Ter", point("G12*", 12, "G", "*", ())),
    ("KRAS G12C", point("G12C", 12, "G", "C")),
    ("KRAS:p.G12C", point("G12C", 12, "G", "C")),
    ("kras_G12C", point("G12C", 12, "G", "C")),
    ("KRAS\tp.G12C", point("G12C", 12, "G", "C")),
    ("KRASp.G12C", point("G12C", 12, "G", "C")),
    ("p. G12 C", point("G12C", 12, "G", "C")),
    ("p.(Gly12Cys)", point("G12C", 12, "G", "C")),
    ("NP_004976.2:p.Gly12Cys", point("G12C", 12, "G", "C")),
    ("S1982Rfs*022", point("S1982Rfs*22", 1982, "S", None, ())),
    ("S1982Rfs*?", point("S1982Rfs*?", 1982, "S", None, ())),
    ("S1982fsX5", point("S1982fs*5", 1982, "S", None, ())),  # (after fs, X can only be the stop)
    ("S1982fs", point("S1982fs", 1982, "S", None, ())),
    ("*190Qext*?", point("*190Qext*?", 190, "*", "Q")),
    ("*190Qext*012", point("*190Qext*12", 190, "*", "Q")),
    ("*190Q", point("*190Q", 190, "*", "Q")),
    ("Ter190GlnextTer12", point("*190Qext*12", 190, "*", "Q")),
    ("M1?", Variant("mutation", "M1?", 1, "M", None, "p.M1?", ())),
    ("p.Met1?", Variant("mutation", "M1?", 1, "M", None, "p.M1?", ())),
    ("G12splice", point("G12_splice", 12, "G", None, ())),
    ("X125_splice", point("X125_splice", 125, None, None, ())),
    ("G12delins*", point("G12*", 12, "G", "*", ())),
    ("G12delinsC", point("G12C", 12, "G", "C")),
    ("G12del", point("G12del", 12, "G", None, (12, 12))),
    ("G12dup", point("G12dup", 12, "G", None, (12, 13))),  # the copy sits after G12 (G12_G13insG)
    ("A11_G12dup", point("A11_G12dup", 11, "A", None, (12, 13))),  # (G12_G13insAG)
    ("A11dup", point("A11dup", 11, "A", None, (11, 12))),  # the same protein as A11_G12insA
    ("A11_G12insA", point("A11_G12insA", 11, "A", None, (11, 12))),
    # (the grammar alone has no bound; with the rules' vocabulary, max_hotspot_residues in
    # variants.yaml, most of the protein deleted is no hotspot change: test_conditions)
    ("T2_M188del", point("T2_M188del", 2, "T", None, (2, 188))),
    ("G12_G13delinsA*", point("G12_G13delinsA*", 12, "G", None, ())),
    ("G12_G13ins*", point("G12_G13ins*", 12, "G", None, ())),
    ("G12_G13insAG", point("G12_G13insAG", 12, "G", None, (12, 13))),  # an insertion touches both neighbours
    ("G12delinsAC", point("G12delinsAC", 12, "G", None, (12, 12))),
    ("E746_T751delinsALA", point("E746_T751delinsALA", 746, "E", None, (746, 751))),  # one-letter residues spelling a three-letter code
    ("A1_G2del", point("A1_G2del", 1, "A", None, (1, 2))),
])
def test_the_grammar_reads_each_form(grammar, text, expected):
    assert grammar.variant("KRAS", text) == expected


@pytest.mark.parametrize("text", ["G12X", "p.Gly12X", "G12delinsX", "G12_G13delinsAX", "G12_G13insX"])
def test_x_as_a_new_residue_is_ambiguous_and_an_error(grammar, text):
    message, _ = error(grammar, "KRAS", text)
    assert "'X' is read two ways" in message and "stop" in message and "'mutation'" in message


@pytest.mark.parametrize("text, message", [
    ("G0C", "protein positions start at 1, got 'G0C'"),
    ("G1234567C", "position '1234567' is not a position in a protein (at most 6 digits)"),
    ("S1982fs*1234567", "position '1234567' is not a position in a protein (at most 6 digits)"),
    ("G12G", "'G12G' is a synonymous change (the amino acid stays the same): not an alteration"),
    ("p.Gly12Gly", "'p.Gly12Gly' is a synonymous change (the amino acid stays the same): not an alteration"),
    ("p.G12=", "'p.G12=' is a synonymous change (the amino acid stays the same): not an alteration"),
    ("G12delinsG", "'G12delinsG' is a synonymous change (the amino acid stays the same): not an alteration"),
    ("G12_G12del", "'G12_G12del': the range must run from the lower to the higher position"),
    ("G13_G12del", "'G13_G12del': the range must run from the lower to the higher position"),
    ("G12delA", "'G12delA': 'del' takes no residues after it"),
    ("G12_G13dupA", "'G12_G13dupA': 'dup' takes no residues after it"),
    ("G12insA", "'G12insA': an insertion names the two neighbouring residues and what is inserted "
                "(for example 'G12_G13insA')"),
    ("G12_G14insA", "'G12_G14insA': an insertion names the two neighbouring residues and what is inserted "
                    "(for example 'G12_G13insA')"),
    ("G12_G13ins", "'G12_G13ins': an insertion names the two neighbouring residues and what is inserted "
                   "(for example 'G12_G13insA')"),
    ("G12delins", "'G12delins': 'delins' needs the inserted residues"),
    ("G12_G13delins", "'G12_G13delins': 'delins' needs the inserted residues"),
    ("G12", "'G12' names a position, not a change: give the new amino acid (for example 'G12C') or write 'mutation'"),
    ("g12", "'g12' names a position, not a change: give the new amino acid (for example 'G12C') or write 'mutation'"),
    ("KRAS", f"cannot read variant 'KRAS' of KRAS: {FORMS}"),
    ("KRASG12C", f"cannot read variant 'KRASG12C' of KRAS: {FORMS}"),
    ("KRASX12_splice", f"cannot read variant 'KRASX12_splice' of KRAS: {FORMS}"),
    ("p.(G12C", f"cannot read variant 'p.(G12C' of KRAS: {FORMS}"),
    ("p.G12C)", f"cannot read variant 'p.G12C)' of KRAS: {FORMS}"),
    ("G12Ç", f"cannot read variant 'G12Ç' of KRAS: {FORMS}"),
    ("amplification", f"cannot read variant 'amplification' of KRAS: {FORMS}"),  # no kind words loaded
    ("NM_004985.4(NRAS):p.G12C", "'NM_004985.4(NRAS):p.G12C' names gene NRAS, not KRAS"),
    ("g.25398285C>A", "'g.25398285C>A' is not a protein change: give the protein change (for example 'p.G12C')"),
    ("m.1A>T", "'m.1A>T' is not a protein change: give the protein change (for example 'p.G12C')"),
    ("n.1A>T", "'n.1A>T' is not a protein change: give the protein change (for example 'p.G12C')"),
    ("r.1a>u", "'r.1a>u' is not a protein change: give the protein change (for example 'p.G12C')"),
    ("c.34G>T", "'c.34G>T': cDNA changes are read only for the hotspots of ; give the protein change the report "
                "gives with it (written alone, or after it: 'c.… (p.…)'), or the kind word 'mutation' with the "
                "report's classification"),
])
def test_the_grammar_rejects_with_a_message(grammar, text, message):
    assert error(grammar, "KRAS", text) == (message, None)


def test_the_gene_symbol_before_a_change_is_dropped(reader):
    for text in ("KRASc.35G>A", "KRAS c.35G>A", "kras:c.35G>A", "KRASp.G12D", "KRAS_G12D"):
        assert reader.variant("KRAS", text).label == "G12D", text
    assert reader.variant("KRAS", "KRAS X189_splice").label == "X189_splice"  # only separators go, not the X
    assert reader.variant("KRAS", "kras:X189_splice").label == "X189_splice"


def test_the_accession_may_name_the_gene_in_any_case(grammar):
    assert grammar.variant("KRAS", "NM_004985.4(kras):p.G12C").label == "G12C"
    assert grammar.variant("KRAS", "ENST00000256078.1:p.G12C").label == "G12C"


@pytest.mark.parametrize("text, meant", [("G١٢C", "G12C"), ("G¹²C", "G12C"), ("p.Ｇ１２C", "p.G12C"), ("Ｇ１２Ｃ", "G12C")])
def test_positions_in_other_digits_are_an_error_with_the_ascii_form(grammar, text, meant):
    # (full-width letters beside the digits are offered in their plain form too: 'Ｇ12Ｃ' was no change)
    assert error(grammar, "KRAS", text) == (f"'{text}' writes a position with digits other than 0-9", meant)


@pytest.mark.parametrize("text, meant", [("c.34G\uff1eT", "c.34G>T"), ("G12\u0421", "G12C"), ("p.\uff27ly12Cys", "p.Gly12Cys"),
                                         ("G12\u0414", None)])  # full-width >, Cyrillic C, full-width G; Cyrillic D
def test_look_alike_characters_are_an_error_offering_the_change_they_look_like(reader, text, meant):
    """A full-width '>' or a Cyrillic 'C' is never read as the change it looks like (nor as
    another): an error, offering the plain form where that reads as a change of the gene."""
    message, suggestion = error(reader, "KRAS", text)
    assert suggestion == meant
    assert ("only look like those of a variant" in message) == (meant is not None)


@pytest.mark.parametrize("text, message", [
    (12, "a variant is a non-empty text, got 12"),
    (None, "a variant is a non-empty text, got None"),
    ("  ", "a variant is a non-empty text, got '  '"),
    ("", "a variant is a non-empty text, got ''"),
])
def test_a_variant_must_be_text(grammar, text, message):
    assert error(grammar, "KRAS", text) == (message, None)


def test_the_gene_must_be_text_and_the_variant_not_too_long(grammar):
    assert error(grammar, 12, "G12C") == ("a gene is a text, got 12", None)
    message, _ = error(grammar, "KRAS", "G" * 501)
    assert message.startswith("a variant of 501 characters (at most 500): 'GGG")
    assert grammar.variant("KRAS", " " * 496 + "G12C").label == "G12C"  # 500 characters: read


def test_a_reader_reads_no_gene_it_was_not_given_reference_data_for(grammar):
    # the grammar alone accepts any well-formed change at any position
    assert grammar.variant("KRAS", "V600E").label == "V600E"
    assert grammar.variant("KRAS", "A12C").label == "A12C"


# --------------------------------------------------------------------------- the shipped files


@pytest.mark.parametrize("gene, text, label", [
    ("KRAS", "c.0034G>T", "G12C"), ("KRAS", "c.34g>t", "G12C"), ("KRAS", "c.34 G>T", "G12C"),
    ("KRAS", "NM_004985.5:c.34G>T", "G12C"), ("KRAS", "ENST00000256078:c.34G>T", "G12C"),
    ("KRAS", "NM_004985.4(kras):c.34G>T", "G12C"), ("KRAS", "KRAS c.34G>T", "G12C"),
    ("BRAF", "c.1798_1799delinsAA", "V600K"), ("BRAF", "c.1798_1799DELINSaa", "V600K"),
])
def test_cdna_hotspots(reader, gene, text, label):
    assert reader.variant(gene, text).label == label


@pytest.mark.parametrize("gene, text, message, suggestion", [
    ("KRAS", "c.xyz", "'c.xyz' is not in the KRAS cDNA hotspot table: give the protein change (for example 'p.G12C')", None),
    ("KRAS", "c.100A>G", "'c.100A>G' is not in the KRAS cDNA hotspot table: give the protein change (for example 'p.G12C')", None),
    ("NRAS", "c.100A>G", "'c.100A>G' is not in the NRAS cDNA hotspot table: give the protein change (for example 'p.G12C')", None),
    ("EGFR", "c.2573T>G", "'c.2573T>G': cDNA changes are read only for the hotspots of BRAF, KRAS, NRAS; give the "
                          "protein change the report gives with it (written alone, or after it: 'c.… (p.…)'), or the "
                          "kind word 'mutation' with the report's classification", None),
    ("KRAS", "NM_033333.1:c.34G>T", "'NM_033333.1:c.34G>T': the KRAS hotspot table uses NM_004985, NM_033360 "
                                    "numbering, not NM_033333", None),
    ("KRAS", "NM_004985.4(NRAS):c.34G>T", "'NM_004985.4(NRAS):c.34G>T' names gene NRAS, not KRAS", None),
    ("KRAS", "wild type", "'wild type' is not an alteration: a wild-type gene is written by listing it in "
                          "tested_genes without an alteration", None),
    ("KRAS", "deletion", "'deletion' is ambiguous: write 'loss' for a deleted (lost) gene, or the protein change "
                         "of an in-frame deletion (for example 'E746_A750del')", "loss"),
    ("KRAS", "insertion", "'insertion' is not specific: give the protein change (for example 'A767_V769dup' or "
                          "'exon 20 insertion')", None),
    ("KRAS", "amplifcation", f"cannot read variant 'amplifcation' of KRAS: {FORMS}", "amplification"),
    ("KRAS", "xyz", f"cannot read variant 'xyz' of KRAS: {FORMS}", None),
])
def test_cdna_and_word_errors(reader, gene, text, message, suggestion):
    assert error(reader, gene, text) == (message, suggestion)


@pytest.mark.parametrize("gene, text, label", [
    # a lab report's two notations of one change, either first
    ("KRAS", "c.34G>T (p.G12C)", "G12C"), ("KRAS", "p.G12C (c.34G>T)", "G12C"), ("KRAS", "c.35G>A(p.Gly12Asp)", "G12D"),
    ("KRAS", "NM_004985.5:c.34G>T (p.G12C)", "G12C"), ("KRAS", "KRAS c.183A>C (p.Q61H)", "Q61H"),
    # a cDNA change outside the hotspot table: the protein change is read (its codon checked for a substitution)
    ("BRCA1", "c.68_69delAG (p.Glu23ValfsTer17)", "E23Vfs*17"), ("EGFR", "c.2573T>G (p.L858R)", "L858R"),
    ("KRAS", "c.176C>G (p.A59G)", "A59G"),
    # the kind word every change carries, after it
    ("KRAS", "G12C mutation", "G12C"), ("KRAS", "KRAS p.G12C mutant", "G12C"), ("BRAF", "V600E mutation", "V600E"),
])
def test_a_change_written_twice_or_with_its_kind_word(reader, gene, text, label):
    assert reader.variant(gene, text).label == label


@pytest.mark.parametrize("gene, text, message", [
    ("KRAS", "c.34G>T (p.G12D)", "'c.34G>T (p.G12D)' names two different changes: 'c.34G>T' reads as G12C and "
                                 "'p.G12D' as G12D; give the one the report means"),
    ("EGFR", "c.2573T>G (p.T790M)", "'c.2573T>G (p.T790M)' names two different positions: 'c.2573T>G' changes "
                                    "codon 858, T790M codon 790; give the one the report means"),
    ("KRAS", "c.34G>T (p.Z12C)", f"'c.34G>T (p.Z12C)': cannot read variant 'p.Z12C' of KRAS: {FORMS}"),
    ("EGFR", "c.2573T>G (c.2573T>G)", "'c.2573T>G (c.2573T>G)': 'c.2573T>G': cDNA changes are read only for the "
                                      "hotspots of BRAF, KRAS, NRAS; give the protein change the report gives with it "
                                      "(written alone, or after it: 'c.… (p.…)'), or the kind word 'mutation' with "
                                      "the report's classification"),
])
def test_a_change_written_twice_must_agree(reader, gene, text, message):
    assert error(reader, gene, text) == (message, None)


def test_a_kind_word_after_a_change_of_another_kind_is_not_read_away(reader):
    assert error(reader, "KRAS", "G12C amplification") == (
        "'G12C amplification' names a change and a second finding ('amplification'): give them as two alterations of KRAS, one with "
        "variant 'G12C', one with variant 'amplification'", None)


@pytest.mark.parametrize("gene, text, label", [
    ("KRAS", "amp", "amplification"), ("KRAS", "Gene-Amplification", "amplification"),
    ("KRAS", "KRAS amplification", "amplification"),
    ("EGFR", "exon 019 deletion", "exon 19 deletion"), ("MET", "ex14 skip", "exon 14 skipping"),
    ("EGFR", "exon 20 insertions", "exon 20 insertion"), ("EGFR", "ex20ins", "exon 20 insertion"),
])
def test_kind_and_exon_words(reader, gene, text, label):
    v = reader.variant(gene, text)
    assert (v.label, v.codon, v.ref, v.alt, v.hgvs) == (label, None, None, None, None)
    assert v.kind == ("amplification" if label == "amplification" else "mutation")


@pytest.mark.parametrize("gene, text, message, suggestion", [
    ("KRAS", "*191Q", "KRAS has 189 residues: '*191Q' (position 191) is not a KRAS change", None),
    ("KRAS", "K185_M190del", "KRAS has 189 residues: 'K185_M190del' (position 190) is not a KRAS change", None),
    ("KRAS", "G12_M190del", "KRAS has 189 residues: 'G12_M190del' (position 190) is not a KRAS change", None),
    ("KRAS", "M190I", "KRAS has 189 residues: 'M190I' (position 190) is not a KRAS change", None),
    ("KRAS", "V600E", "KRAS has 189 residues: 'V600E' (position 600) is not a KRAS change; V600E is a known change "
                      "of BRAF", "BRAF"),
    ("KRAS", "A12C", "KRAS residue 12 is G (Gly), not A", "G12C"),
    ("KRAS", "Ala12Cys", "KRAS residue 12 is G (Gly), not A", "G12C"),
    ("KRAS", "A12G", "KRAS residue 12 is G (Gly), not A", None),
    ("KRAS", "A12fs", "KRAS residue 12 is G (Gly), not A", "G12fs"),
    ("KRAS", "E62_A63del", "KRAS residue 63 is E (Glu), not A", "E62_E63del"),
    ("KRAS", "G12_A13del", "KRAS residue 13 is G (Gly), not A", "G12_G13del"),
    ("EGFR", "E746_L748del", "EGFR residue 748 is R (Arg), not L", "E746_R748del"),
    # the RAS genes' whole sequences are known (UniProt), not only the residues the data files
    # report; digits written in the wrong order point to the gene's known change
    ("KRAS", "G21C", "KRAS residue 21 is I (Ile), not G", "G12C"),
    ("KRAS", "p.Gly21Cys", "KRAS residue 21 is I (Ile), not G", "G12C"),
    ("KRAS", "G31D", "KRAS residue 31 is E (Glu), not G", "G13D"),
    ("KRAS", "Q16H", "KRAS residue 16 is K (Lys), not Q", "Q61H"),
    # no known change at 46; the one known KRAS change from A to T is A146T
    ("KRAS", "A64T", "KRAS residue 64 is Y (Tyr), not A", "A146T"),
    # the same letters at another position: V600E numbered on BRAF's longer MANE transcript
    ("BRAF", "V640E", "BRAF residue 640 is Y (Tyr), not V", "V600E"),
    ("KRAS", "G22C", "KRAS residue 22 is Q (Gln), not G", "Q22C"),  # G12C or G13C: not guessed, the residue's own
    ("NRAS", "Q16K", "NRAS residue 16 is K (Lys), not Q", "Q61K"),
    ("NRAS", "G59T", "NRAS residue 59 is A (Ala), not G", "A59T"),  # 59: no data file reports it
    ("HRAS", "A12V", "HRAS residue 12 is G (Gly), not A", "G12V"),
    ("BRAF", "V601E", "BRAF residue 601 is K (Lys), not V", "V600E"),  # the gene's one known V-to-E change
    ("BRAF", "G599E", "BRAF residue 599 is T (Thr), not G", "T599E"),  # 599: from BRAF's sequence alone
    # a stop-codon reference (a stop lost, an extension) stands only at the stop codon (length + 1)
    ("KRAS", "*12Q", "KRAS residue 12 is G (Gly), not * (the stop codon, at position 190)", "G12Q"),
    ("KRAS", "p.Ter12Gln", "KRAS residue 12 is G (Gly), not * (the stop codon, at position 190)", "G12Q"),
    ("KRAS", "*12Qext*5", "KRAS residue 12 is G (Gly), not * (the stop codon, at position 190)", None),
    # a gene with known residues and no length (PTPN11: two isoforms in use): not where a residue is known
    ("PTPN11", "*58Q", "PTPN11 residue 58 is N (Asn), not * (the stop codon)", "N58Q"),
    ("PTPN11", "*58Qext*5", "PTPN11 residue 58 is N (Asn), not * (the stop codon)", None),
])
def test_the_protein_reference_rejects_changes_the_gene_cannot_have(reader, gene, text, message, suggestion):
    assert error(reader, gene, text) == (message, suggestion)


def test_changes_within_the_reference_are_read(reader):
    assert reader.variant("KRAS", "*190Qext*?").label == "*190Qext*?"  # the stop codon itself: length + 1
    assert reader.variant("KRAS", "M189I").label == "M189I"
    assert reader.variant("KRAS", "X189_splice").label == "X189_splice"  # no reference residue to check
    assert reader.variant("KRAS", "G12_G13del").label == "G12_G13del"
    assert reader.variant("KRAS", "I21T").label == "I21T"  # residue 21 from the sequence: no data file reports it
    assert reader.variant("KRAS", "R151G").label == "R151G"  # past 150 the isoforms differ: not checked
    assert reader.variant("ZFHX3", "A5000T").label == "A5000T"  # a gene without reference data


# --------------------------------------------------------------------------- loading


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "vocabulary"
    d.mkdir()
    for name in ("variants.yaml", "protein_reference.yaml", "protein_residues.json"):
        shutil.copy(VOCAB_DIR / name, d / name)
    return d


GENES = tuple(Genes.load(VOCAB_DIR).genes)


def _load_error(d: Path) -> RuleError:
    with pytest.raises(RuleError) as info:
        VariantReader.load(d, GENES)
    return info.value


def test_loading_small_files(tmp_path):
    d = tmp_path / "v"
    d.mkdir()
    (d / "variants.yaml").write_text(
        "kinds:\n  fusion: [fused, Gene Fusion]\n  loss: [LOF]\n"
        "not_alterations:\n  reason: \"is\n    not   one\"\n  words: [WT, none]\n"
        "ambiguous:\n  del:\n    reason: is  ambiguous\n    suggestion: loss\n"
        "cdna_hotspots:\n  KRAS:\n    transcripts: [nm_004985, ENST00000256078]\n"
        "    changes:\n      c.34G>T: G12C\n      'c.0035 g>a': G12D\n",
        encoding="utf-8")
    (d / "protein_reference.yaml").write_text("genes:\n  KRAS:\n    length: 20\n  NRAS: {length: 189}\n  EGFR:\n",
                                              encoding="utf-8")
    (d / "protein_residues.json").write_text(json.dumps({"residues": {"KRAS": "12G 13G", "TP53": "175R"},
                                                         "recurrent": {"V600E": ["BRAF", "KRAS", "NRAS"],
                                                                       "A12V": ["HRAS", "KRAS", "NRAS"]}}), encoding="utf-8")
    r = VariantReader.load(d, GENES)
    assert r.variant("ALK", "gene-fusion") == Variant("fusion", "fusion", None, None, None, None)
    assert r.variant("ALK", "lof").kind == "loss"
    assert error(r, "KRAS", "wt") == ("'wt' is not one", None)
    assert error(r, "KRAS", "None") == ("'None' is not one", None)
    assert error(r, "KRAS", "DEL") == ("'DEL' is ambiguous", "loss")
    assert r.variant("KRAS", "c.35G>A").label == "G12D"
    assert r.variant("KRAS", "NM_004985.5:c.34G>T").label == "G12C"
    assert error(r, "KRAS", "NM_033360.4:c.34G>T")[0] == (
        "'NM_033360.4:c.34G>T': the KRAS hotspot table uses NM_004985 numbering, not NM_033360")
    assert error(r, "KRAS", "V600E") == ("KRAS has 20 residues: 'V600E' (position 600) is not a KRAS change; "
                                         "V600E is a known change of BRAF, NRAS", "BRAF")
    assert error(r, "KRAS", "A13C") == ("KRAS residue 13 is G (Gly), not A", "G13C")
    # a wrong residue names the other genes the change is known in, as a change past the length does
    assert error(r, "KRAS", "A12V") == ("KRAS residue 12 is G (Gly), not A; A12V is a known change of HRAS, NRAS", "G12V")
    assert r.variant("KRAS", "A14C").label == "A14C"  # no residue known there
    # a stop-codon reference inside the protein where no residue is known: the message says where
    assert error(r, "KRAS", "*5Q") == ("KRAS position 5 is inside the protein, not * (the stop codon, at position 21)", None)
    assert r.variant("NRAS", "A12C").label == "A12C"  # a length, no residues
    assert error(r, "NRAS", "A190C")[0] == "NRAS has 189 residues: 'A190C' (position 190) is not a NRAS change"
    assert error(r, "TP53", "H175C") == ("TP53 residue 175 is R (Arg), not H", "R175C")  # residues, no length
    assert r.variant("TP53", "R100000C").label == "R100000C"
    assert error(r, "TP53", "*175Q") == ("TP53 residue 175 is R (Arg), not * (the stop codon)", "R175Q")
    assert r.variant("TP53", "*176Q").label == "*176Q"  # no length and no residue known there: may be the stop codon
    assert r.variant("EGFR", "A100000C").label == "A100000C"  # an entry with nothing in it
    assert error(r, "BRAF", "c.1799T>A")[0].startswith("'c.1799T>A': cDNA changes are read only for the hotspots of KRAS;")


def test_loading_reports_every_problem_of_the_variant_file(tmp_path):
    d = _copy(tmp_path)
    (d / "variants.yaml").write_text(
        "kinds:\n  mutation: [mutation]\n  gain: [gain]\n"
        "cdna_hotspots:\n  KRAZ:\n    changes: {c.34G>T: G12C}\n  KRAS:\n    changes: {c.34G>T: G12C, c.x: G12D, c.y: G12V}\n",
        encoding="utf-8")
    err = _load_error(d)
    assert err.source == str(d / "variants.yaml")
    assert [(p.message, p.path) for p in err.problems] == [
        ("unknown alteration kind 'gain'", ("kinds", "gain")),
        ("unknown gene 'KRAZ'", ("cdna_hotspots", "KRAZ")),
        ("not a cDNA change: 'c.x'", ("cdna_hotspots", "KRAS", "changes", "c.x")),
        ("not a cDNA change: 'c.y'", ("cdna_hotspots", "KRAS", "changes", "c.y")),
    ]


def test_a_hotspot_label_must_be_a_change_its_gene_can_have(tmp_path):
    d = _copy(tmp_path)
    (d / "variants.yaml").write_text(
        "cdna_hotspots:\n  KRAS:\n    changes: {c.34G>T: G12C, c.35G>A: A12D, c.1799T>A: V600E}\n", encoding="utf-8")
    err = _load_error(d)
    assert err.source == str(d / "variants.yaml")
    assert [(p.message, p.path) for p in err.problems] == [
        ("KRAS residue 12 is G (Gly), not A", ("cdna_hotspots", "KRAS", "changes", "c.35G>A")),
        ("KRAS has 189 residues: 'V600E' (position 600) is not a KRAS change; V600E is a known change of BRAF",
         ("cdna_hotspots", "KRAS", "changes", "c.1799T>A")),
    ]


def test_loading_reports_an_unknown_gene_of_the_protein_reference(tmp_path):
    d = _copy(tmp_path)
    (d / "protein_reference.yaml").write_text("genes:\n  KRAS: {length: 189}\n  KRAZ: {length: 10}\n  NRAZ:\n",
                                              encoding="utf-8")
    err = _load_error(d)
    assert err.source == str(d / "protein_reference.yaml")
    assert [(p.message, p.path) for p in err.problems] == [("unknown gene 'KRAZ'", ("genes", "KRAZ")),
                                                           ("unknown gene 'NRAZ'", ("genes", "NRAZ"))]


@pytest.mark.parametrize("text", [None, "{not json"])
def test_loading_without_the_generated_residues_says_how_to_make_them(tmp_path, text):
    d = _copy(tmp_path)
    target = d / "protein_residues.json"
    if text is None:
        target.unlink()
    else:
        target.write_text(text, encoding="utf-8")
    err = _load_error(d)
    assert err.source == str(target)
    (p,) = err.problems
    assert p.message.startswith("cannot read generated residues (")
    assert p.message.endswith("); run scripts/build_protein_reference.py")


def test_empty_sections_load(tmp_path):
    d = tmp_path / "v"
    d.mkdir()
    (d / "variants.yaml").write_text("kinds:\n  fusion:\nnot_alterations: {words: [WT]}\n"
                                     "ambiguous:\n  indel: {suggestion: loss}\n", encoding="utf-8")
    (d / "protein_reference.yaml").write_text("genes:\n  KRAS:\n", encoding="utf-8")
    (d / "protein_residues.json").write_text("{}", encoding="utf-8")
    r = VariantReader.load(d, GENES)
    assert error(r, "KRAS", "WT") == ("'WT' ", None)  # no reason given: none shown
    assert error(r, "KRAS", "indel") == ("'indel' ", "loss")
    assert r.variant("KRAS", "V600E").label == "V600E"
