"""The condition kinds one at a time (engine.conditions): each compiled leaf on small normalised
cases (its three-valued value, what it says is missing, the case facts it names), its label, its
vocabulary check and what it gives the case generators. Each expectation is read from the case
and the condition alone, without an engine."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.case import normalise, parse_case
from engine.conditions import KINDS, ConditionKind, LeafNames, kind_of, one_or_many
from engine.conditions.base import BY_MODEL, DomainTerms, GeneTerms, HistoryRole, HistoryTerms, register
from engine.conditions.prior_line import _positions
from engine.errors import Problem
from engine.rulebase import TermCheck
from engine.testing.domain import HistorySpec, _Terms
from engine.vocabulary import Vocabulary

VOCAB_DIR = Path(__file__).resolve().parents[1] / "rules" / "vocabulary"


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load(VOCAB_DIR)


def cond(spec: dict):
    (key,) = spec
    return KINDS[key].model.model_validate(spec)


def leaf(vocab, spec: dict) -> SimpleNamespace:
    c = cond(spec)
    key, fn, missing, describe = kind_of(c).build(c, vocab)
    return SimpleNamespace(key=key, fn=fn, missing=missing, describe=describe)


def case(vocab, cancer="LUAD", *alts, **kw):
    data = {"cancer_type": cancer, "alterations": list(alts), **kw}
    return normalise(parse_case(data), vocab, today=dt.date(2026, 1, 1))


def alt(gene, variant, **kw):
    return {"gene": gene, "variant": variant, **kw}


def line(*drugs, **kw):
    return {"drugs": list(drugs), **kw}


def check(vocab, spec: dict) -> list[tuple]:
    problems: list[Problem] = []
    t = TermCheck(vocab, ("rules", 0), problems)
    t.path = ("when",)
    c = cond(spec)
    kind_of(c).check_terms(c, t)
    return [(p.path, p.message, p.suggestion) for p in problems]


# --------------------------------------------------------------------------- the registry


def test_one_or_many_wraps_a_single_text():
    assert one_or_many("NSCLC") == ("NSCLC",)
    assert one_or_many(["NSCLC", "LUAD"]) == ["NSCLC", "LUAD"]


def test_a_kind_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="'stage' registered twice"):
        register(ConditionKind("stage", object, None, None, None, None, "stage"))
    assert KINDS["stage"].model.__name__ == "StageCond"


def test_a_new_kind_is_one_registry_entry_found_by_key_and_by_model():
    class ProbeCond:
        pass

    kind = ConditionKind("probe_kind", ProbeCond, None, None, None, lambda c: (), "history")
    try:
        assert register(kind) is kind
        assert KINDS["probe_kind"] is kind
        assert kind_of(ProbeCond()) is kind
    finally:
        KINDS.pop("probe_kind", None)
        BY_MODEL.pop(ProbeCond, None)


def test_every_kind_names_the_case_fields_it_reads():
    assert KINDS["cancer"].fields(cond({"cancer": "NSCLC"})) == ("cancer_type",)
    assert KINDS["stage"].fields(cond({"stage": "metastatic"})) == ("stage",)
    assert KINDS["germline_tested"].fields(cond({"germline_tested": True})) == ("germline_tested",)
    assert KINDS["alteration"].fields(cond({"alteration": {"gene": "KRAS"}})) == ("alterations",)
    assert KINDS["alteration"].fields(cond({"alteration": {"gene": "KRAS", "acquired_on": "egfr_tki"}})) == (
        "alterations", "prior_therapies", "tested_after_prior_therapy")
    for key, spec in (("received", {"drugs": ["sotorasib"]}), ("prior_line", {"drugs": ["sotorasib"]}),
                      ("prior_lines", {"min": 1})):
        assert KINDS[key].fields(cond({key: spec})) == ("prior_therapies",)


# --------------------------------------------------------------------------- cancer


def test_cancer_is_true_within_the_subtree_unknown_when_coarser_false_elsewhere(vocab):
    nsclc = leaf(vocab, {"cancer": "NSCLC"})
    assert nsclc.fn(case(vocab, "LUAD")) is True
    assert nsclc.fn(case(vocab, "NSCLC")) is True
    assert nsclc.fn(case(vocab, "LUNG")) is None
    assert nsclc.fn(case(vocab, "COADREAD")) is False
    luad = leaf(vocab, {"cancer": ["LUAD"]})
    assert luad.fn(case(vocab, "NSCLC")) is None  # the parent of a listed code
    assert luad.fn(case(vocab, "LUNG")) is None  # and its grandparent
    assert luad.fn(case(vocab, "LUSC")) is False
    assert nsclc.missing(case(vocab, "LUNG")) == "cancer subtype (histology)"


def test_cancer_describes_the_case_type_and_the_listed_codes_it_falls_under(vocab):
    assert leaf(vocab, {"cancer": "NSCLC"}).describe(case(vocab, "LUAD")) == "LUAD (Lung Adenocarcinoma), a kind of NSCLC"
    assert leaf(vocab, {"cancer": ["NSCLC", "LUNG"]}).describe(case(vocab, "LUAD")) == (
        "LUAD (Lung Adenocarcinoma), a kind of LUNG, NSCLC")
    assert leaf(vocab, {"cancer": "NSCLC"}).describe(case(vocab, "NSCLC")) == "NSCLC (Non-Small Cell Lung Cancer)"


def test_cancer_key_label_and_terms(vocab):
    assert leaf(vocab, {"cancer": ["NSCLC", "LUAD"]}).key == leaf(vocab, {"cancer": ["LUAD", "NSCLC"]}).key
    assert leaf(vocab, {"cancer": "NSCLC"}).key != leaf(vocab, {"cancer": "LUAD"}).key
    assert KINDS["cancer"].label(cond({"cancer": ["NSCLC", "PAAD"]})) == "cancer type NSCLC or PAAD"
    got = check(vocab, {"cancer": ["NSCLC", "NSCLCC"]})
    assert [(p, s) for p, _, s in got] == [(("rules", 0, "when", "cancer", 1), "NSCLC")]
    acc = _Terms(vocab)
    KINDS["cancer"].rule_terms(cond({"cancer": ["NSCLC", "PAAD"]}), vocab, acc)
    assert acc.rule_codes == {"NSCLC", "PAAD"}
    KINDS["cancer"].case_terms(cond({"cancer": "NSCLC"}), True, vocab, acc)
    KINDS["cancer"].case_terms(cond({"cancer": "PAAD"}), False, vocab, acc)
    assert (acc.pos_codes, acc.neg_codes) == ({"NSCLC"}, {"PAAD"})


# --------------------------------------------------------------------------- stage, germline


def test_stage(vocab):
    adv = leaf(vocab, {"stage": ["metastatic", "locally_advanced"]})
    assert adv.fn(case(vocab, stage="metastatic")) is True
    assert adv.fn(case(vocab, stage="early")) is False
    assert adv.fn(case(vocab)) is None
    assert adv.missing(case(vocab)) == "stage"
    assert adv.describe(case(vocab, stage="metastatic")) == "stage metastatic"
    assert adv.key == ("stage", frozenset({"metastatic", "locally_advanced"}))
    acc = _Terms(vocab)
    KINDS["stage"].case_terms(cond({"stage": "early"}), True, vocab, acc)
    assert acc.stages == {"early"}


def test_an_in_situ_cancer_type_without_a_stage_is_early_and_with_one_is_as_given(vocab):
    """A non-invasive type can only be early (any other stage is an input error): asking for the
    stage would ask a question whose one other answer the engine refuses."""
    assert "CAIS" in vocab.cancers.non_invasive and "COAD" not in vocab.cancers.non_invasive
    adv, early = leaf(vocab, {"stage": ["metastatic", "locally_advanced"]}), leaf(vocab, {"stage": "early"})
    in_situ = case(vocab, "CAIS")
    assert (adv.fn(in_situ), early.fn(in_situ)) == (False, True)
    assert adv.describe(in_situ) == "stage early (an in-situ cancer type)"
    assert early.fn(case(vocab, "CAIS", stage="early")) is True
    assert (adv.fn(case(vocab, "COAD")), early.fn(case(vocab, "COAD"))) == (None, None)  # invasive: unknown


def test_germline_tested(vocab):
    done, not_done = leaf(vocab, {"germline_tested": True}), leaf(vocab, {"germline_tested": False})
    assert [done.fn(case(vocab, germline_tested=g)) for g in (True, False, None)] == [True, False, None]
    assert [not_done.fn(case(vocab, germline_tested=g)) for g in (True, False, None)] == [False, True, None]
    assert done.key != not_done.key
    assert done.missing(case(vocab)) == "germline testing"
    assert done.describe(case(vocab, germline_tested=True)) == "germline testing done"
    assert not_done.describe(case(vocab, germline_tested=False)) == "no germline testing"
    assert KINDS["germline_tested"].label(cond({"germline_tested": True})) == "germline testing done"
    assert KINDS["germline_tested"].label(cond({"germline_tested": False})) == "no germline testing"
    acc = _Terms(vocab)
    KINDS["germline_tested"].case_terms(cond({"germline_tested": False}), True, vocab, acc)
    assert acc.germline is True


def test_multiagent_candidate(vocab):
    yes, no = leaf(vocab, {"multiagent_candidate": True}), leaf(vocab, {"multiagent_candidate": False})
    assert [yes.fn(case(vocab, multiagent_candidate=c)) for c in (True, False, None)] == [True, False, None]
    assert [no.fn(case(vocab, multiagent_candidate=c)) for c in (True, False, None)] == [False, True, None]
    assert yes.key == ("multiagent_candidate", True) and no.key == ("multiagent_candidate", False)
    assert yes.missing(case(vocab)) == "whether the patient is a candidate for multiagent systemic therapy"
    assert yes.describe(case(vocab, multiagent_candidate=True)) == "patient a candidate for multiagent systemic therapy"
    assert no.describe(case(vocab, multiagent_candidate=False)) == "patient not a candidate for multiagent systemic therapy"
    kind = KINDS["multiagent_candidate"]
    assert kind.label(cond({"multiagent_candidate": True})) == "a candidate for multiagent systemic therapy"
    assert kind.label(cond({"multiagent_candidate": False})) == "not a candidate for multiagent systemic therapy"
    acc = _Terms(vocab)
    kind.case_terms(cond({"multiagent_candidate": False}), True, vocab, acc)
    assert acc.fields == {"multiagent_candidate": {False}}
    kind.case_terms(cond({"multiagent_candidate": False}), False, vocab, acc)
    kind.case_terms(cond({"multiagent_candidate": True}), True, vocab, acc)
    assert acc.fields == {"multiagent_candidate": {False, True}}
    acc = _Terms(vocab)
    kind.case_terms(cond({"multiagent_candidate": True}), False, vocab, acc)
    assert acc.fields == {"multiagent_candidate": {False}}
    assert kind.dimension.field == "multiagent_candidate"
    assert kind.dimension.values == (None, True, False)


# --------------------------------------------------------------------------- alteration


def test_alteration_matches_gene_and_variant_and_is_false_only_once_the_gene_is_tested(vocab):
    g12c = leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "G12C"}})
    assert g12c.fn(case(vocab, "LUAD", alt("KRAS", "G12C"))) is True
    assert g12c.fn(case(vocab, "LUAD", alt("KRAS", "G12D"))) is False
    assert g12c.fn(case(vocab, "LUAD", alt("NRAS", "G12C"))) is None  # KRAS not tested
    assert g12c.fn(case(vocab, "LUAD", alt("NRAS", "G12C"), tested_genes=["KRAS"])) is False
    assert g12c.fn(case(vocab, "LUAD", tested_genes=["NRAS"])) is None
    assert g12c.missing(case(vocab, "LUAD")) == "KRAS testing"
    assert g12c.describe(case(vocab, "LUAD", alt("KRAS", "G12C"), alt("KRAS", "G12D"))) == "KRAS G12C"


def test_an_identified_alteration_is_false_where_none_is_listed_tested_or_not_and_unknown_where_one_may_match(vocab):
    """``identified: true`` reads what the tests identified (a trial's "previously identified
    driver"): an untested gene identifies nothing; a change found but not named may be the one."""
    l858r = leaf(vocab, {"alteration": {"gene": "EGFR", "variant": "L858R", "identified": True}})
    fusion = leaf(vocab, {"alteration": {"gene": "ALK", "kind": "fusion", "identified": True}})
    assert l858r.fn(case(vocab, "LUAD", alt("EGFR", "L858R"))) is True
    assert l858r.fn(case(vocab, "LUAD", alt("KRAS", "G12C"))) is False  # EGFR not tested: nothing identified
    assert l858r.fn(case(vocab, "LUAD", alt("EGFR", "T790M"))) is False
    assert l858r.fn(case(vocab, "LUAD", alt("EGFR", "mutation"), tested_genes=["EGFR"])) is None  # may be L858R
    assert l858r.missing(case(vocab, "LUAD", alt("EGFR", "mutation"))) == "the exact EGFR variant"
    assert fusion.fn(case(vocab, "LUAD", alt("ALK", "fusion", partner="EML4"))) is True
    assert fusion.fn(case(vocab, "LUAD")) is False
    # (both are read by the loops of their own, which give the general reading)
    for lf, c in ((l858r, case(vocab, "LUAD", alt("KRAS", "G12C"))), (l858r, case(vocab, "LUAD", alt("EGFR", "mutation"))),
                  (fusion, case(vocab, "LUAD")), (fusion, case(vocab, "LUAD", alt("ALK", "mutation")))):
        assert lf.fn(c) is lf.fn.reference(c)
    # without it, the same cases read the tumour: an untested gene is unknown
    plain = leaf(vocab, {"alteration": {"gene": "EGFR", "variant": "L858R"}})
    assert plain.fn(case(vocab, "LUAD", alt("KRAS", "G12C"))) is None
    assert plain.key != l858r.key
    assert KINDS["alteration"].label(cond({"alteration": {"gene": "ALK", "kind": "fusion", "identified": True}})) == "ALK fusion identified"
    # what the case holds: an untested gene is said to be one, so that nothing identified is not
    # read as a negative test
    identified = {"alteration": {"gene": "ALK", "kind": "fusion", "identified": True}}
    assert held(vocab, identified, case(vocab, "LUAD")) == "no ALK fusion identified (ALK not tested)"
    assert held(vocab, identified, case(vocab, "LUAD", tested_genes=["ALK"])) == "no ALK fusion identified"


def test_alteration_variants_codons_and_excluded_variants(vocab):
    two = leaf(vocab, {"alteration": {"gene": "KRAS", "variants": ["G12C", "p.Gly12Asp"]}})
    assert two.fn(case(vocab, "LUAD", alt("KRAS", "G12D"))) is True
    assert two.fn(case(vocab, "LUAD", alt("KRAS", "G12V"))) is False
    codon = leaf(vocab, {"alteration": {"gene": "KRAS", "codons": [12, 13], "exclude_variants": ["G12C"]}})
    assert codon.fn(case(vocab, "LUAD", alt("KRAS", "G13D"))) is True
    assert codon.fn(case(vocab, "LUAD", alt("KRAS", "Q61H"))) is False
    assert codon.fn(case(vocab, "LUAD", alt("KRAS", "G12C"))) is False
    both = case(vocab, "LUAD", alt("KRAS", "G12C"), alt("KRAS", "G12V"))
    assert codon.fn(both) is True
    assert codon.describe(both) == "KRAS G12V"
    assert two.describe(case(vocab, "LUAD", alt("KRAS", "G12D"), alt("KRAS", "G12C"))) == "KRAS G12C, KRAS G12D"


def test_alteration_kind_origin_acquired_and_partner_narrow_the_match(vocab):
    amp = leaf(vocab, {"alteration": {"gene": "MET", "kind": "amplification"}})
    assert amp.fn(case(vocab, "LUAD", alt("MET", "amplification"))) is True
    assert amp.fn(case(vocab, "LUAD", alt("MET", "D1228N"), tested_genes=["MET"])) is False
    germ = leaf(vocab, {"alteration": {"gene": "BRCA2", "origin": "germline"}})
    assert germ.fn(case(vocab, "PAAD", alt("BRCA2", "E1953*", origin="germline"))) is True
    somatic = case(vocab, "PAAD", alt("BRCA2", "E1953*"))
    assert germ.fn(somatic) is None  # germline testing not stated
    assert germ.missing(somatic) == "germline testing"
    assert germ.fn(case(vocab, "PAAD", alt("BRCA2", "E1953*"), germline_tested=True)) is False
    assert germ.fn(case(vocab, "PAAD", tested_genes=["BRCA2"], germline_tested=False)) is None
    acquired = leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired": True}})
    assert acquired.fn(case(vocab, "LUAD", alt("KRAS", "Y96D", acquired=True))) is True
    assert acquired.fn(case(vocab, "LUAD", alt("KRAS", "Y96D"))) is False  # not stated: not acquired
    baseline = leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired": False}})
    assert baseline.fn(case(vocab, "LUAD", alt("KRAS", "Y96D"))) is True
    assert baseline.fn(case(vocab, "LUAD", alt("KRAS", "Y96D", acquired=True))) is False
    eml4 = leaf(vocab, {"alteration": {"gene": "ALK", "kind": "fusion", "partner": "EML4"}})
    assert eml4.fn(case(vocab, "LUAD", alt("ALK", "fusion", partner="EML4"))) is True
    assert eml4.fn(case(vocab, "LUAD", alt("ALK", "fusion", partner="KIF5B"))) is False
    assert eml4.describe(case(vocab, "LUAD", alt("ALK", "fusion", partner="EML4"))) == "EML4-ALK fusion"


def test_a_listed_mutation_shows_sequencing_not_copy_number_or_rearrangement(vocab):
    """Unknown is not false: sequencing that found KRAS G12C says nothing of KRAS copy number, so
    a KRAS amplification (or ALK fusion, PTEN loss) pattern stays unknown, naming the test that
    would tell, until the gene is listed in tested_genes or a call of that kind is listed."""
    amp = leaf(vocab, {"alteration": {"gene": "KRAS", "kind": "amplification"}})
    g12c = case(vocab, "LUAD", alt("KRAS", "G12C"))
    assert amp.fn(g12c) is None
    assert amp.missing(g12c) == "KRAS copy-number testing"
    assert amp.missing(case(vocab, "LUAD")) == "KRAS testing"  # not sequenced either
    assert amp.fn(case(vocab, "LUAD", alt("KRAS", "G12C"), tested_genes=["KRAS"])) is False
    assert amp.fn(case(vocab, "LUAD", alt("KRAS", "G12C"), alt("KRAS", "amplification"))) is True
    # the mutation still shows sequencing: another codon is known absent
    g12v = leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "G12V"}})
    assert g12v.fn(g12c) is False
    fusion = leaf(vocab, {"alteration": {"gene": "ALK", "kind": "fusion"}})
    assert fusion.fn(case(vocab, "LUAD", alt("ALK", "F1174L"))) is None
    assert fusion.missing(case(vocab, "LUAD", alt("ALK", "F1174L"))) == "ALK fusion testing"
    assert fusion.fn(case(vocab, "LUAD", alt("ALK", "F1174L"), tested_genes=["ALK"])) is False
    loss = leaf(vocab, {"alteration": {"gene": "PTEN", "kind": "loss"}})
    assert loss.fn(case(vocab, "LUAD", alt("PTEN", "R130Q"))) is None
    assert loss.missing(case(vocab, "LUAD", alt("PTEN", "R130Q"))) == "PTEN copy-number testing"
    # a call of the pattern's own kind shows the gene was assayed for it (an amplification of
    # another gene does not)
    acquired_amp = leaf(vocab, {"alteration": {"gene": "KRAS", "kind": "amplification", "acquired": True}})
    assert acquired_amp.fn(case(vocab, "LUAD", alt("KRAS", "G12C"), alt("KRAS", "amplification"))) is False
    assert amp.fn(case(vocab, "LUAD", alt("KRAS", "G12C"), alt("MET", "amplification"))) is None
    # acquired on a drug class: whether the class was given comes first, then the copy number
    on = leaf(vocab, {"alteration": {"gene": "KRAS", "kind": "amplification", "acquired_on": "kras_g12c_inhibitor"}})
    assert on.fn(g12c) is None
    assert on.missing(g12c) == "prior therapy history (whether a KRAS G12C inhibitor was given)"
    unnamed = case(vocab, "LUAD", alt("KRAS", "G12C"), prior_therapies=[{"outcome": "progression"}])
    assert on.fn(unnamed) is None and on.missing(unnamed) == "the drugs of prior therapy 1 (drugs not given)"
    after = case(vocab, "LUAD", alt("KRAS", "G12C"), prior_therapies=[line("sotorasib", outcome="progression")])
    assert on.fn(after) is None and on.missing(after) == "KRAS copy-number testing after progression on the KRAS G12C inhibitor"
    assert on.fn(case(vocab, "LUAD", alt("KRAS", "G12C"), prior_therapies=[line("carboplatin")])) is False  # never given
    assert on.fn(case(vocab, "LUAD", alt("KRAS", "G12C"), tested_genes=["KRAS"], tested_after_prior_therapy=True,
                      prior_therapies=[line("sotorasib", outcome="progression")])) is False
    # assayed, but perhaps before the drug: whether the results are from after it
    before = case(vocab, "LUAD", alt("KRAS", "G12C"), tested_genes=["KRAS"], prior_therapies=[line("sotorasib", outcome="progression")])
    assert on.fn(before) is None
    assert on.missing(before) == "whether the KRAS results are from testing after progression on the KRAS G12C inhibitor"


def test_an_unspecified_mutation_could_be_the_named_change(vocab):
    g12c = leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "G12C"}})
    vague = case(vocab, "LUAD", alt("KRAS", "mutation"))
    assert g12c.fn(vague) is None
    assert g12c.missing(vague) == "the exact KRAS variant"
    assert g12c.fn(case(vocab, "LUAD", alt("KRAS", "mutation"), alt("KRAS", "G12C"))) is True
    # an amplification call is not a mutation, and says nothing of the gene's sequence: unknown
    # until KRAS is known to be sequenced
    assert g12c.fn(case(vocab, "LUAD", alt("KRAS", "amplification"))) is None
    assert g12c.missing(case(vocab, "LUAD", alt("KRAS", "amplification"))) == "KRAS testing"
    assert g12c.fn(case(vocab, "LUAD", alt("KRAS", "amplification"), tested_genes=["KRAS"])) is False
    # a truncating change at codon 12 is no codon-12 mutation; an in-frame change touching it is
    codon12 = leaf(vocab, {"alteration": {"gene": "KRAS", "codons": [12], "kind": "mutation"}})
    assert codon12.fn(case(vocab, "LUAD", alt("KRAS", "G12*"))) is False
    assert codon12.fn(case(vocab, "LUAD", alt("KRAS", "G12fs"))) is False
    assert codon12.fn(case(vocab, "LUAD", alt("KRAS", "A11_G12dup"))) is True
    assert codon12.fn(case(vocab, "LUAD", alt("KRAS", "G10_A11dup"))) is True  # (= A11_G12insGA: its copy sits beside G12)
    assert codon12.fn(case(vocab, "LUAD", alt("KRAS", "G10dup"))) is False  # (between G10 and A11)
    # the same protein written two ways reads the same; a delins is narrowed to what it changes
    assert codon12.fn(case(vocab, "LUAD", alt("KRAS", "A11dup"))) is codon12.fn(case(vocab, "LUAD", alt("KRAS", "A11_G12insA"))) is True
    assert codon12.fn(case(vocab, "LUAD", alt("KRAS", "A11_G12delinsVG"))) is False  # = A11V
    assert codon12.fn(case(vocab, "LUAD", alt("KRAS", "T2_M188del"))) is False
    assert vocab.variant("KRAS", "T2_M188del").span == ()  # (max_hotspot_residues in rules/vocabulary/variants.yaml)
    # a long deletion-insertion whose residues the reference does not know stays as written: what it changes is unknown
    # (EGFR residue 857 is not in the reference); where it knows them all, it is narrowed (KRAS, BRAF: their sequences)
    assert vocab.variant("EGFR", "F856_L858delinsFGR").span == (856, 858)
    assert vocab.variant("KRAS", "G12_L23delinsCGVGKSALTIQL").label == "G12C"
    assert vocab.variant("BRAF", "L597_V600delinsLATE").label == "V600E"
    # equivalent spellings of one protein read alike (the reference narrows a delins)
    codon61 = leaf(vocab, {"alteration": {"gene": "KRAS", "codons": [61], "kind": "mutation"}})
    spellings = ("Q61_E62dup", "Q61_E62delinsQEQE", "E62_E63insQE", "Q61_E62insEQ", "Q61delinsQEQ")
    assert {codon61.fn(case(vocab, "LUAD", alt("KRAS", v))) for v in spellings} == {True}
    # in a run of repeated residues a change could be written at several places: each reads alike
    for one, other in (("A11_G12delinsAGG", "G12_G13delinsGGG"), ("A11_G12delinsA", "G12_G13delinsG"), ("G12del", "G13del")):
        assert vocab.variant("KRAS", one).span == vocab.variant("KRAS", other).span, (one, other)
    # three-letter residues after a one-letter position
    assert vocab.variant("KRAS", "p.G12_G13delinsCysGly").label == "G12C"
    assert vocab.variant("KRAS", "G12delinsTer").span == ()
    assert vocab.variant("BRAF", "V600_K601delinsEK").label == "V600E"  # named so for the rules that list variants
    assert vocab.variant("KRAS", "G12_G13delinsCG").label == "G12C"
    assert codon12.fn(case(vocab, "LUAD", alt("KRAS", "G12_G13insAG"))) is True
    assert g12c.fn(case(vocab, "LUAD", alt("NRAS", "mutation"), tested_genes=["KRAS"])) is False
    codon = leaf(vocab, {"alteration": {"gene": "KRAS", "codons": [12], "kind": "mutation"}})
    assert codon.fn(vague) is None
    # a pattern with no variant or codon is met by the unspecified mutation itself
    assert leaf(vocab, {"alteration": {"gene": "KRAS"}}).fn(vague) is True
    # the pattern's other filters still apply to the unspecified mutation (which is no loss: the
    # loss is then unknown only as long as KRAS copy number is)
    loss = leaf(vocab, {"alteration": {"gene": "KRAS", "codons": [12], "kind": "loss"}})
    assert loss.fn(vague) is None and loss.missing(vague) == "KRAS copy-number testing"
    assert loss.fn(case(vocab, "LUAD", alt("KRAS", "mutation"), tested_genes=["KRAS"])) is False
    germ = leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "G12C", "origin": "germline"}})
    assert germ.fn(case(vocab, "LUAD", alt("KRAS", "mutation"), germline_tested=True)) is False
    assert germ.fn(case(vocab, "LUAD", alt("KRAS", "mutation", origin="germline"))) is None
    acquired = leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired": True}})
    assert acquired.fn(vague) is False
    assert acquired.fn(case(vocab, "LUAD", alt("KRAS", "mutation", acquired=True))) is None


def test_nothing_is_acquired_on_a_class_the_given_history_never_held(vocab):
    """An alteration "acquired on a KRAS G12C inhibitor" is false for a case whose history is
    given and holds no such drug, even when KRAS was not tested or its variant is not given: no
    testing can make it true. The case's words for it name the history that settles it."""
    spec = {"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired_on": "kras_g12c_inhibitor"}}
    on = atom(vocab, spec)
    chemo = [line("gemcitabine", outcome="progression")]
    untested = case(vocab, "PAAD", prior_therapies=chemo)
    assert on.fn(untested) is False
    assert held(vocab, spec, untested) == "prior gemcitabine (progression)"
    vague = case(vocab, "PAAD", alt("KRAS", "mutation"), prior_therapies=chemo)
    assert on.fn(vague) is False  # the unspecified change could be Y96D, but not acquired on the class
    assert held(vocab, spec, vague) == "KRAS mutation; prior gemcitabine (progression)"
    # without a history, or with a line of the class, testing decides (or the history does)
    assert on.fn(case(vocab, "PAAD")) is None
    assert on.fn(case(vocab, "PAAD", prior_therapies=[line("sotorasib", outcome="progression")])) is None
    assert on.fn(case(vocab, "PAAD", prior_therapies=[line("sotorasib", outcome="progression")],
                      tested_genes=["KRAS"], tested_after_prior_therapy=True)) is False
    assert held(vocab, spec, case(vocab, "PAAD", tested_genes=["KRAS"], tested_after_prior_therapy=True, prior_therapies=[
        line("sotorasib", outcome="progression")])) == "KRAS tested, no such change"


def test_acquired_on_reads_the_flag_then_the_history(vocab):
    """``acquired: true`` says "found at progression on targeted therapy", not on which drug: the
    history says whether that drug was of the class."""
    on = leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired_on": "kras_g12c_inhibitor"}})
    y96d = alt("KRAS", "Y96D")
    flagged = alt("KRAS", "Y96D", acquired=True)
    assert on.fn(case(vocab, "LUAD", flagged)) is None  # history not given: on which drug is unknown
    assert on.missing(case(vocab, "LUAD", flagged)) == (
        "whether KRAS Y96D was acquired on a KRAS G12C inhibitor (prior therapy history)")
    assert on.fn(case(vocab, "LUAD", flagged, prior_therapies=[line("sotorasib", outcome="progression")])) is True
    assert on.fn(case(vocab, "LUAD", flagged, prior_therapies=[line("sotorasib")])) is True  # the flag: at progression
    assert on.fn(case(vocab, "LUAD", flagged, prior_therapies=[line("osimertinib", outcome="progression")])) is False
    assert on.fn(case(vocab, "LUAD", flagged, prior_therapies=[])) is False
    assert on.fn(case(vocab, "LUAD", alt("KRAS", "Y96D", acquired=False), tested_after_prior_therapy=True,
                      prior_therapies=[line("sotorasib", outcome="progression")])) is False
    assert on.fn(case(vocab, "LUAD", y96d)) is None  # history not given
    assert on.fn(case(vocab, "LUAD", y96d, prior_therapies=[])) is False
    assert on.fn(case(vocab, "LUAD", y96d, prior_therapies=[line("carboplatin", outcome="progression")])) is False
    exposed = case(vocab, "LUAD", y96d, prior_therapies=[line("sotorasib", outcome="stable")])
    assert on.fn(exposed) is None
    # the line's end is given (not progression): only the report's flag can settle it
    assert on.missing(exposed) == ("whether KRAS Y96D was acquired on a KRAS G12C inhibitor "
                                   "(whether the report marks the alteration as acquired)")
    two_open = case(vocab, "LUAD", y96d, prior_therapies=[line("sotorasib"), line("carboplatin"), line("adagrasib"),
                                                           line("sotorasib", outcome="stable")])
    assert on.fn(two_open) is None
    assert on.missing(two_open) == ("whether KRAS Y96D was acquired on a KRAS G12C inhibitor (how prior therapy 1 "
                                    "(sotorasib) and prior therapy 3 (adagrasib) ended, or whether the report marks "
                                    "the alteration as acquired)")
    assert on.describe(exposed) == ""
    later = case(vocab, "LUAD", y96d, prior_therapies=[line("sotorasib", outcome="stable"),
                                                        line("adagrasib", outcome="progression")])
    assert on.fn(later) is True
    # read from the history, not the report (the alteration is not flagged): the words say so
    assert on.describe(later) == ("KRAS Y96D taken as acquired on a KRAS G12C inhibitor (not flagged in the report; "
                                  "read so because a KRAS G12C inhibitor line ended in progression)")
    flagged = case(vocab, "LUAD", alt("KRAS", "Y96D", acquired=True), prior_therapies=[line("adagrasib", outcome="progression")])
    assert on.describe(flagged) == "KRAS Y96D acquired on a KRAS G12C inhibitor"
    two_on = leaf(vocab, {"alteration": {"gene": "KRAS", "variants": ["Y96D", "R68S"], "acquired_on": "kras_g12c_inhibitor"}})
    assert two_on.describe(case(vocab, "LUAD", alt("KRAS", "Y96D", acquired=True), alt("KRAS", "R68S", acquired=True), prior_therapies=[
        line("sotorasib", outcome="progression")])) == (
        "KRAS R68S acquired on a KRAS G12C inhibitor, KRAS Y96D acquired on a KRAS G12C inhibitor")
    assert on.fn(case(vocab, "LUAD", alt("KRAS", "G12C"), prior_therapies=[])) is False
    # a matching alteration not acquired decides false even where the gene is not listed as tested
    assert on.fn(case(vocab, "LUAD", alt("KRAS", "Y96D", origin="germline"), prior_therapies=[])) is False
    assert on.missing(case(vocab, "LUAD", alt("KRAS", "G12C"))) == "KRAS testing"
    # one matching alteration acquired is enough; one of unknown acquisition leaves it unknown
    two = case(vocab, "LUAD", alt("KRAS", "Y96D", acquired=False), alt("KRAS", "Y96D", acquired=True),
               prior_therapies=[line("adagrasib")])
    assert on.fn(two) is True
    assert on.fn(case(vocab, "LUAD", alt("KRAS", "Y96D", acquired=False), y96d,
                      prior_therapies=[line("sotorasib")])) is None


def test_none_acquired_on_a_drug_is_known_only_from_testing_after_it(vocab):
    """What a tumour acquired on a drug shows only on testing after the drug: after progression
    on a KRAS G12C inhibitor, KRAS tested with no Y96D says no Y96D was acquired only where the
    case says its profile is from testing after the last prior therapy (or an alteration flagged
    acquired shows it is). A line stopped for intolerance, or one that responded, is not where
    resistance was acquired; a line whose end is not given may be."""
    on = leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired_on": "kras_g12c_inhibitor"}})
    amp = leaf(vocab, {"alteration": {"gene": "KRAS", "kind": "amplification", "acquired_on": "kras_g12c_inhibitor"}})
    codons = leaf(vocab, {"alteration": {"gene": "KRAS", "codons": [12, 13], "exclude_variants": ["G12C"],
                                         "acquired_on": "kras_g12c_inhibitor"}})
    g12c = alt("KRAS", "G12C")
    progressed = [line("carboplatin", outcome="progression"), line("adagrasib", outcome="progression")]

    def profile(*alts, **kw):
        return case(vocab, "LUAD", g12c, *alts, tested_genes=["KRAS"], prior_therapies=progressed, **kw)

    for lf in (on, amp, codons):
        assert lf.fn(profile()) is None
        assert lf.missing(profile()) == ("whether the KRAS results are from testing after progression on the "
                                         "KRAS G12C inhibitor")
        assert lf.fn(profile(tested_after_prior_therapy=False)) is None  # (from earlier testing: the same)
        assert lf.fn(profile(tested_after_prior_therapy=True)) is False
        # a change flagged acquired shows the profile is from testing after the therapy
        assert lf.fn(profile(alt("MET", "amplification", acquired=True))) is False
        assert lf.fn(profile(alt("MET", "amplification", acquired=True), tested_after_prior_therapy=False)) is None
        # stopped for intolerance, or responding: nothing was acquired on it that testing before missed
        for outcome in ("intolerance", "response", "stable"):
            ended = case(vocab, "LUAD", g12c, tested_genes=["KRAS"], prior_therapies=[line("adagrasib", outcome=outcome)])
            assert lf.fn(ended) is False, outcome
        unsaid = case(vocab, "LUAD", g12c, tested_genes=["KRAS"], prior_therapies=[line("sotorasib"), line("docetaxel")])
        assert lf.fn(unsaid) is None
        assert lf.missing(unsaid) == "whether the KRAS results are from testing after prior therapy 1 (sotorasib)"
        # a line whose drugs are not given does not count against the rule (as for "no progression
        # on X given before")
        unnamed = case(vocab, "LUAD", g12c, tested_genes=["KRAS"], prior_therapies=[{"outcome": "progression"}])
        assert lf.fn(unnamed) is False
        # no history: the profile is read as the tumour's current one
        assert lf.fn(case(vocab, "LUAD", g12c, tested_genes=["KRAS"])) is False
        for c in (profile(), profile(tested_after_prior_therapy=True), unsaid, unnamed):
            if hasattr(lf.fn, "reference"):  # (the loops of their own give the general reading)
                assert lf.fn(c) is lf.fn.reference(c)
    # (a copy-number call alone: KRAS not sequenced, but its amplification was assayed)
    amp_at_diagnosis = case(vocab, "LUAD", alt("KRAS", "amplification", acquired=False), prior_therapies=progressed)
    assert amp.fn(amp_at_diagnosis) is None
    assert amp.missing(amp_at_diagnosis) == ("whether the KRAS results are from testing after progression on the "
                                             "KRAS G12C inhibitor")
    # a matching change listed as present at diagnosis says nothing of what the tumour acquired
    # after it: by a profile that may predate the drug, that is open the same way
    at_diagnosis = alt("KRAS", "Y96D", acquired=False)
    for lf in (on, codons):
        assert lf.fn(profile(at_diagnosis)) is None
        assert lf.missing(profile(at_diagnosis)) == ("whether the KRAS results are from testing after progression on "
                                                     "the KRAS G12C inhibitor")
        assert lf.fn(profile(at_diagnosis, tested_after_prior_therapy=True)) is False
        c = profile(at_diagnosis)
        if hasattr(lf.fn, "reference"):
            assert lf.fn(c) is lf.fn.reference(c)
    # found: the report's flag or the history says it was acquired, whenever the profile is from
    assert on.fn(profile(alt("KRAS", "Y96D"))) is True
    assert on.fn(profile(alt("KRAS", "Y96D"), tested_after_prior_therapy=False)) is True


def test_alteration_keys_differ_for_every_filter_and_agree_across_notations(vocab):
    specs = [{"gene": "KRAS"}, {"gene": "NRAS"}, {"gene": "KRAS", "variant": "G12C"}, {"gene": "KRAS", "codons": [12]},
             {"gene": "KRAS", "codons": [12], "exclude_variants": ["G12C"]}, {"gene": "KRAS", "kind": "mutation"},
             {"gene": "KRAS", "origin": "germline"}, {"gene": "KRAS", "acquired": True},
             {"gene": "KRAS", "acquired": False}, {"gene": "ALK", "partner": "EML4"},
             {"gene": "KRAS", "acquired_on": "kras_g12c_inhibitor"}]
    keys = [leaf(vocab, {"alteration": s}).key for s in specs]
    assert len(set(keys)) == len(specs)
    assert leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "p.Gly12Cys"}}).key == keys[2]
    assert leaf(vocab, {"alteration": {"gene": "KRAS", "variants": ["G12C"]}}).key == keys[2]


def test_alteration_labels(vocab):
    lab = KINDS["alteration"].label
    assert lab(cond({"alteration": {"gene": "KRAS", "variant": "G12C"}})) == "KRAS G12C"
    assert lab(cond({"alteration": {"gene": "KRAS", "variants": ["G12C", "G12D"]}})) == "KRAS G12C, G12D"
    assert lab(cond({"alteration": {"gene": "KRAS", "codons": [12, 13]}})) == "KRAS change at codon 12, 13"
    assert lab(cond({"alteration": {"gene": "KRAS", "codons": [12], "kind": "mutation"}})) == "KRAS mutation at codon 12"
    assert lab(cond({"alteration": {"gene": "MET", "kind": "amplification"}})) == "MET amplification"
    assert lab(cond({"alteration": {"gene": "KRAS"}})) == "KRAS alteration"
    assert lab(cond({"alteration": {"gene": "BRCA2", "origin": "germline"}})) == "BRCA2 alteration (germline)"
    assert lab(cond({"alteration": {"gene": "BRCA2", "origin": "somatic"}})) == "BRCA2 alteration"
    assert lab(cond({"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired": True}})) == "KRAS Y96D (acquired)"
    assert lab(cond({"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired": False}})) == "KRAS Y96D"
    on = cond({"alteration": {"gene": "KRAS", "variant": "Y96D", "origin": "germline", "acquired_on": "kras_g12c_inhibitor"}})
    assert lab(on, vocab) == "KRAS Y96D (germline, acquired on a KRAS G12C inhibitor)"
    assert lab(on) == "KRAS Y96D (germline, acquired on a kras g12c inhibitor)"


def test_alteration_term_check_names_each_path(vocab):
    assert check(vocab, {"alteration": {"gene": "KRAS", "variant": "G12C", "partner": "EML4",
                                        "acquired_on": "kras_g12c_inhibitor"}}) == []
    got = check(vocab, {"alteration": {"gene": "KRSA", "variant": "G12C"}})
    assert [p for p, _, _ in got] == [("rules", 0, "when", "alteration", "gene")]
    got = check(vocab, {"alteration": {"gene": "KRAS", "variants": ["G12C", "G12"], "exclude_variants": ["V600E"]}})
    assert [p for p, _, _ in got] == [("rules", 0, "when", "alteration", "variants", 1),
                                     ("rules", 0, "when", "alteration", "exclude_variants", 0)]
    got = check(vocab, {"alteration": {"gene": "KRAS", "variant": "G12"}})
    assert [p for p, _, _ in got] == [("rules", 0, "when", "alteration", "variant")]
    got = check(vocab, {"alteration": {"gene": "ALK", "partner": "EML5", "acquired_on": "kras_g12c_inhibitr"}})
    assert [(p, s) for p, _, s in got] == [(("rules", 0, "when", "alteration", "partner"), "EML4"),
                                          (("rules", 0, "when", "alteration", "acquired_on"), "kras_g12c_inhibitor")]
    # a gene written as an alias is reported, and its variants are still read with the symbol
    got = check(vocab, {"alteration": {"gene": "ERBB1", "variant": "L858R"}})
    assert [(p, s) for p, _, s in got] == [(("rules", 0, "when", "alteration", "gene"), "EGFR")]


def test_alteration_generator_terms(vocab):
    acc = _Terms(vocab)
    on = cond({"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired_on": "kras_g12c_inhibitor"}})
    plain = cond({"alteration": {"gene": "KRAS", "variant": "G12C"}})
    for c in (on, plain, plain):
        KINDS["alteration"].rule_terms(c, vocab, acc)
    assert acc.patterns == [acc.pattern(on), acc.pattern(plain)]
    assert acc.rule_classes == {"kras_g12c_inhibitor"}
    acc = _Terms(vocab)
    KINDS["alteration"].case_terms(plain, True, vocab, acc)
    KINDS["alteration"].case_terms(plain, False, vocab, acc)
    assert acc.polarity == {acc.pattern(plain): {True, False}}
    assert acc.germline is False and acc.history == []
    KINDS["alteration"].case_terms(on, True, vocab, acc)
    assert acc.history == [HistorySpec(frozenset({"kras_g12c_inhibitor"}), frozenset(),
                                       outcomes=frozenset({"progression"}), single_line=True)]
    KINDS["alteration"].case_terms(cond({"alteration": {"gene": "BRCA2", "origin": "germline"}}), True, vocab, acc)
    assert acc.germline is True
    KINDS["alteration"].case_terms(plain, True, vocab, acc)
    assert acc.germline is True


# --------------------------------------------------------------------------- received


def test_received_needs_every_class_and_drug_across_the_history(vocab):
    both = leaf(vocab, {"received": {"classes": ["platinum"], "drugs": ["Lumakras"]}})
    history = [line("carboplatin", "pemetrexed"), line("sotorasib", setting="metastatic")]
    assert both.fn(case(vocab, prior_therapies=history)) is True
    assert both.fn(case(vocab, prior_therapies=history[:1])) is False
    assert both.fn(case(vocab, prior_therapies=history[1:])) is False
    assert both.fn(case(vocab, prior_therapies=[])) is False
    assert both.fn(case(vocab)) is None
    assert both.missing(case(vocab)) == "prior therapy history"
    assert both.describe(case(vocab, prior_therapies=history)) == "prior carboplatin + pemetrexed; sotorasib (metastatic)"
    assert both.key == ("received", frozenset({"platinum"}), frozenset({"sotorasib"}))
    # a drug of an earlier line counts; exactly the classes and drugs given is enough
    assert leaf(vocab, {"received": {"drugs": ["docetaxel"]}}).fn(
        case(vocab, prior_therapies=[line("sotorasib"), line("docetaxel")])) is True
    assert leaf(vocab, {"received": {"classes": ["platinum", "chemotherapy"], "drugs": ["carboplatin"]}}).fn(
        case(vocab, prior_therapies=[line("carboplatin")])) is True
    assert KINDS["received"].label(cond({"received": {"classes": ["platinum"], "drugs": ["sotorasib"]}})) == (
        "prior platinum, sotorasib")


def test_received_terms(vocab):
    got = check(vocab, {"received": {"classes": ["platinum", "platinun"], "drugs": ["sotorasib", "sotorasb"]}})
    assert [(p, s) for p, _, s in got] == [(("rules", 0, "when", "received", "classes", 1), "platinum"),
                                          (("rules", 0, "when", "received", "drugs", 1), "sotorasib")]
    acc = _Terms(vocab)
    c = cond({"received": {"classes": ["platinum"], "drugs": ["Lumakras"]}})
    KINDS["received"].rule_terms(c, vocab, acc)
    assert (acc.rule_classes, acc.rule_drugs) == ({"platinum"}, {"sotorasib"})
    KINDS["received"].case_terms(c, True, vocab, acc)
    assert acc.history == [HistorySpec(frozenset({"platinum"}), frozenset({"sotorasib"}))]


# --------------------------------------------------------------------------- prior_lines


@pytest.mark.parametrize("spec, history, expected", [
    ({"min": 1}, [], False),
    ({"min": 1}, [line("carboplatin")], True),
    ({"max": 0}, [], True),
    ({"max": 0}, [line("carboplatin")], False),
    ({"min": 1, "max": 2}, [line("carboplatin"), line("docetaxel")], True),
    ({"min": 1, "max": 1}, [line("carboplatin"), line("docetaxel")], False),
    ({"min": 2, "setting": ["metastatic"]}, [line("carboplatin", setting="metastatic"), line("docetaxel", setting="adjuvant")], False),
    ({"min": 2, "setting": ["metastatic"]}, [line("carboplatin", setting="metastatic"), line("docetaxel")], None),
    ({"min": 2, "setting": ["metastatic"]}, [line("carboplatin", setting="metastatic"), line("docetaxel", setting="metastatic")], True),
    ({"min": 1, "setting": ["metastatic"]}, [line("carboplatin", setting="metastatic"), line("docetaxel")], True),
    ({"max": 1, "setting": ["metastatic"]}, [line("carboplatin", setting="metastatic"), line("docetaxel")], None),
    ({"max": 1, "setting": ["metastatic"]}, [line("carboplatin", setting="metastatic"), line("docetaxel", setting="adjuvant")], True),
    ({"max": 0, "setting": ["metastatic"]}, [line("carboplatin", setting="metastatic"), line("docetaxel")], False),
    ({"min": 3, "setting": ["metastatic"]}, [line("carboplatin", setting="metastatic"), line("docetaxel")], False),
])
def test_prior_lines_counts_sure_and_possible_lines(vocab, spec, history, expected):
    assert leaf(vocab, {"prior_lines": spec}).fn(case(vocab, prior_therapies=history)) is expected


def test_prior_lines_words(vocab):
    n = leaf(vocab, {"prior_lines": {"min": 1, "setting": ["metastatic"]}})
    assert n.fn(case(vocab)) is None
    assert n.missing(case(vocab)) == "prior therapy history"
    assert n.missing(case(vocab, prior_therapies=[line("carboplatin")])) == "the setting of prior therapy 1 (carboplatin)"
    # each line whose setting is not given, by its place in the case's order
    two = case(vocab, prior_therapies=[line("carboplatin", setting="metastatic"), line("docetaxel")])
    assert n.missing(two) == "the setting of prior therapy 2 (docetaxel)"
    assert n.describe(case(vocab, prior_therapies=[])) == "no prior systemic therapy (treatment-naive)"
    assert n.describe(case(vocab, prior_therapies=[line("carboplatin", weeks=12)])) == "prior carboplatin (12 weeks)"
    # in the case's order (chronological), the words every prior-therapy leaf gives the history
    assert n.describe(case(vocab, prior_therapies=[line("docetaxel"), line("carboplatin")])) == (
        "prior docetaxel; carboplatin")
    assert n.key == ("prior_lines", 1, None, frozenset({"metastatic"}))
    lab = KINDS["prior_lines"].label
    assert lab(cond({"prior_lines": {"min": 1, "max": 2}})) == "at least 1 and at most 2 prior systemic therapy line(s)"
    assert lab(cond({"prior_lines": {"max": 0}})) == "at most 0 prior systemic therapy line(s)"
    # (any number of lines: what it asks is that the history be given)
    assert lab(cond({"prior_lines": {"min": 0}})) == "a prior-therapy history given (any number of lines, none included)"
    assert lab(cond({"prior_lines": {"min": 0, "setting": ["metastatic"]}})) == (
        "a prior-therapy history given (any number of lines, none included) in the metastatic setting")


def test_prior_lines_generator_terms(vocab):
    acc = _Terms(vocab)
    KINDS["prior_lines"].case_terms(cond({"prior_lines": {"min": 2, "setting": ["metastatic"]}}), True, vocab, acc)
    KINDS["prior_lines"].case_terms(cond({"prior_lines": {"max": 0}}), True, vocab, acc)
    KINDS["prior_lines"].case_terms(cond({"prior_lines": {"min": 1, "max": 3}}), True, vocab, acc)
    KINDS["prior_lines"].case_terms(cond({"prior_lines": {}}), True, vocab, acc)
    KINDS["prior_lines"].case_terms(cond({"prior_lines": {"max": 2}}), True, vocab, acc)
    assert acc.history == [
        HistorySpec(settings=frozenset({"metastatic"}), counts=frozenset({1, 2, 3}), meets=2),
        HistorySpec(counts=frozenset({0, 1}), meets=0),
        HistorySpec(counts=frozenset({0, 1, 2, 3, 4}), meets=1),
        HistorySpec(counts=frozenset(), meets=0),
        HistorySpec(counts=frozenset({1, 2, 3}), meets=2),
    ]


# --------------------------------------------------------------------------- prior_line


def _lines(*settings):
    return [SimpleNamespace(setting=s) for s in settings]


@pytest.mark.parametrize("settings, expected", [
    ((), []),
    (("metastatic", "metastatic"), [True, False]),
    (("adjuvant", "neoadjuvant", "metastatic", "maintenance"), [False, False, True, False]),
    ((None, "metastatic"), [None, None]),
    (("metastatic", None), [True, False]),
    (("metastatic", None, "metastatic"), [True, False, False]),
    ((None, None), [None, None]),
    (("adjuvant", None, "metastatic", "metastatic"), [False, None, None, False]),
    ((None, "adjuvant", "metastatic"), [None, False, None]),
])
def test_first_line_positions(settings, expected):
    assert _positions(_lines(*settings)) == expected


def test_prior_line_filters(vocab):
    spec = {"classes": ["platinum"], "drugs": ["pemetrexed"], "setting": ["metastatic"],
            "outcome": ["stable", "response"], "min_weeks": 12}
    pl = leaf(vocab, {"prior_line": spec})

    def tv(**kw):
        ln = {"setting": "metastatic", "outcome": "stable", "weeks": 12, **kw}
        return pl.fn(case(vocab, prior_therapies=[line("carboplatin", "pemetrexed", **{k: v for k, v in ln.items() if v is not None})]))

    assert tv() is True
    assert tv(outcome="response", weeks=30) is True
    assert tv(setting="adjuvant") is False
    assert tv(setting=None) is None
    assert tv(outcome="progression") is False
    assert tv(outcome=None) is None
    assert tv(weeks=11) is False
    assert tv(weeks=None) is None
    assert tv(setting=None, outcome="progression") is False
    assert pl.fn(case(vocab, prior_therapies=[line("carboplatin", setting="metastatic", outcome="stable", weeks=20)])) is False
    assert pl.fn(case(vocab, prior_therapies=[line("pemetrexed", setting="metastatic", outcome="stable", weeks=20)])) is False
    assert pl.fn(case(vocab)) is None
    assert pl.fn(case(vocab, prior_therapies=[])) is False
    # one line must hold everything: two lines that each hold a part do not
    split = [line("carboplatin", "pemetrexed", setting="adjuvant", outcome="stable", weeks=20),
             line("carboplatin", "pemetrexed", setting="metastatic", outcome="progression", weeks=20)]
    assert pl.fn(case(vocab, prior_therapies=split)) is False
    # an unknown line and a true line: true; an unknown and a false line: unknown
    assert pl.fn(case(vocab, prior_therapies=[line("carboplatin", "pemetrexed", weeks=20),
                                              line("carboplatin", "pemetrexed", setting="metastatic", outcome="stable", weeks=20)])) is True
    assert pl.fn(case(vocab, prior_therapies=[line("carboplatin", "pemetrexed", setting="metastatic", weeks=20),
                                              line("docetaxel", setting="metastatic", outcome="stable", weeks=20)])) is None


def test_prior_line_outcome_not(vocab):
    pl = leaf(vocab, {"prior_line": {"classes": ["platinum"], "outcome_not": ["progression"]}})
    assert pl.fn(case(vocab, prior_therapies=[line("carboplatin", outcome="stable")])) is True
    assert pl.fn(case(vocab, prior_therapies=[line("carboplatin", outcome="progression")])) is False
    assert pl.fn(case(vocab, prior_therapies=[line("carboplatin")])) is None
    assert pl.missing(case(vocab, prior_therapies=[line("carboplatin")])) == "how prior therapy 1 (carboplatin) ended"


def test_prior_line_progressed_after_is_open_unless_the_line_ended_in_progression(vocab):
    """A line's outcome says how the line ended: progression shows the disease progressed on or
    after it; any other end (or none given) leaves later progression unknown; no line: false."""
    pl = leaf(vocab, {"prior_line": {"progressed_after": True}})
    assert pl.fn(case(vocab, prior_therapies=[line("carboplatin", outcome="progression")])) is True
    for outcome in ("response", "stable", "intolerance", None):
        kw = {"outcome": outcome} if outcome else {}
        assert pl.fn(case(vocab, prior_therapies=[line("carboplatin", **kw)])) is None, outcome
    assert pl.fn(case(vocab, prior_therapies=[line("carboplatin", outcome="response"),
                                              line("docetaxel", outcome="progression")])) is True
    assert pl.fn(case(vocab, prior_therapies=[])) is False
    assert pl.missing(case(vocab, prior_therapies=[line("carboplatin", outcome="response")])) == \
        "whether the disease progressed after prior therapy 1 (carboplatin)"
    assert pl.missing(case(vocab, prior_therapies=[line("carboplatin")])) == "how prior therapy 1 (carboplatin) ended"
    # progression on a later line is progression after this one too (the case's order decides)
    ox = leaf(vocab, {"prior_line": {"classes": ["oxaliplatin"], "progressed_after": True}})
    folfox_then_folfiri = [line("oxaliplatin", "fluorouracil", outcome="response"),
                           line("irinotecan", "fluorouracil", outcome="progression")]
    assert ox.fn(case(vocab, prior_therapies=folfox_then_folfiri)) is True
    assert ox.fn(case(vocab, prior_therapies=folfox_then_folfiri[::-1])) is None  # FOLFIRI first, then FOLFOX responding
    assert ox.describe(case(vocab, prior_therapies=folfox_then_folfiri)).startswith("prior fluorouracil + oxaliplatin")
    last = leaf(vocab, {"prior_line": {"position": "last", "progressed_after": True}})
    # the most recent line decides: an earlier progression does not make a responding line a failure
    assert last.fn(case(vocab, prior_therapies=[line("oxaliplatin", outcome="progression"),
                                                line("irinotecan", outcome="response")])) is None
    assert last.fn(case(vocab, prior_therapies=[line("oxaliplatin", outcome="response"),
                                                line("irinotecan", outcome="progression")])) is True


def test_prior_line_position_first_and_last_read_the_case_order(vocab):
    first = leaf(vocab, {"prior_line": {"drugs": ["oxaliplatin"], "position": "first"}})
    last = leaf(vocab, {"prior_line": {"drugs": ["oxaliplatin"], "position": "last"}})
    anywhere = leaf(vocab, {"prior_line": {"drugs": ["oxaliplatin"]}})
    # listed oxaliplatin first: the case's order differs from the sorted order (carboplatin first)
    ox_then_carbo = case(vocab, prior_therapies=[line("oxaliplatin", setting="metastatic"),
                                                 line("carboplatin", setting="metastatic")])
    carbo_then_ox = case(vocab, prior_therapies=[line("carboplatin", setting="metastatic"),
                                                 line("oxaliplatin", setting="metastatic")])
    assert (first.fn(ox_then_carbo), last.fn(ox_then_carbo), anywhere.fn(ox_then_carbo)) == (True, False, True)
    assert (first.fn(carbo_then_ox), last.fn(carbo_then_ox), anywhere.fn(carbo_then_ox)) == (False, True, True)
    assert first.describe(ox_then_carbo) == "prior oxaliplatin (metastatic)"
    assert last.describe(carbo_then_ox) == "prior oxaliplatin (metastatic)"
    assert first.describe(carbo_then_ox) == "prior "
    unset = case(vocab, prior_therapies=[line("carboplatin"), line("oxaliplatin", setting="metastatic")])
    assert first.fn(unset) is None
    assert first.missing(unset) == "the setting of prior therapy 1 (carboplatin)"  # the line before decides its place
    after_adjuvant = case(vocab, prior_therapies=[line("carboplatin", setting="adjuvant"),
                                                  line("oxaliplatin", setting="metastatic")])
    assert first.fn(after_adjuvant) is True
    assert leaf(vocab, {"prior_line": {"drugs": ["oxaliplatin"], "position": "first"}}).key != anywhere.key
    assert first.key != last.key


def test_a_label_holding_the_items_separator_stays_one_item(vocab):
    # a regimen written "FOLFOX; bevacizumab" is the case's own words: its name must not be cut
    # into two missing items where the items of one leaf are split
    from engine.conditions import MISSING_SEP

    pl = leaf(vocab, {"prior_line": {"classes": ["platinum"], "outcome": ["stable"], "min_weeks": 6}})
    text = pl.missing(case(vocab, prior_therapies=[{"regimen": "FOLFOX; bevacizumab", "drugs": ["carboplatin"]}]))
    items = text.split(MISSING_SEP)
    assert len(items) == 2 and all(i.count("(") == i.count(")") for i in items), items


def test_prior_line_missing_names_the_details_it_reads(vocab):
    hist = case(vocab, prior_therapies=[line("carboplatin")])
    full = leaf(vocab, {"prior_line": {"classes": ["platinum"], "setting": ["metastatic"], "outcome": ["stable"],
                                       "min_weeks": 6}})
    assert full.missing(hist) == ("the setting of prior therapy 1 (carboplatin); how prior therapy 1 (carboplatin) ended; "
                                  "how long prior therapy 1 (carboplatin) lasted")  # items (MISSING_SEP), each listed once
    # only the lines that could match are named, and only what about them is not given
    two = case(vocab, prior_therapies=[line("docetaxel"), line("carboplatin", setting="metastatic", outcome="stable")])
    assert full.missing(two) == "how long prior therapy 2 (carboplatin) lasted"
    assert full.missing(case(vocab)) == "prior therapy history"
    assert leaf(vocab, {"prior_line": {"classes": ["platinum"], "min_weeks": 0}}).missing(hist) == "how long prior therapy 1 (carboplatin) lasted"
    assert leaf(vocab, {"prior_line": {"classes": ["platinum"], "position": "last"}}).missing(hist) == "details of prior therapy"


def test_prior_line_describe_names_the_matching_lines(vocab):
    pl = leaf(vocab, {"prior_line": {"classes": ["platinum"]}})
    c = case(vocab, prior_therapies=[line("carboplatin", outcome="progression"), line("docetaxel"),
                                     line("oxaliplatin", setting="metastatic", weeks=8.5)])
    assert pl.describe(c) == "prior carboplatin (progression); oxaliplatin (metastatic, 8.5 weeks)"
    assert pl.describe(case(vocab)) == "prior "
    # the lines are named in the case's order: the history is chronological
    listed = case(vocab, prior_therapies=[line("oxaliplatin", setting="metastatic"), line("carboplatin")])
    assert pl.describe(listed) == "prior oxaliplatin (metastatic); carboplatin"
    # a line holding exactly the classes named
    assert leaf(vocab, {"prior_line": {"classes": ["platinum", "chemotherapy"], "drugs": ["carboplatin"]}}).fn(
        case(vocab, prior_therapies=[line("carboplatin")])) is True


def test_prior_line_keys_label_and_terms(vocab):
    specs = [{"classes": ["platinum"]}, {"drugs": ["sotorasib"]}, {"classes": ["platinum"], "setting": ["metastatic"]},
             {"classes": ["platinum"], "outcome": ["stable"]}, {"classes": ["platinum"], "outcome_not": ["stable"]},
             {"classes": ["platinum"], "min_weeks": 4}, {"classes": ["platinum"], "position": "first"}]
    assert len({leaf(vocab, {"prior_line": s}).key for s in specs}) == len(specs)
    assert leaf(vocab, {"prior_line": {"drugs": ["Lumakras"]}}).key == leaf(vocab, {"prior_line": {"drugs": ["sotorasib"]}}).key
    assert KINDS["prior_line"].label(cond({"prior_line": {"classes": ["platinum"], "drugs": ["pemetrexed"]}})) == (
        "a prior line of platinum, pemetrexed")
    # every filter is in the words, and a pattern naming no drug does not read "a prior line of "
    words = {
        "a prior line ending in progression": {"outcome": ["progression"]},
        "a prior line of platinum in the adjuvant or metastatic setting, ending in progression or intolerance": {
            "classes": ["platinum"], "setting": ["adjuvant", "metastatic"], "outcome": ["progression", "intolerance"]},
        "a first line for advanced disease of oxaliplatin": {"drugs": ["oxaliplatin"], "position": "first"},
        "a most recent prior line of platinum in the metastatic setting, not ending in progression or intolerance, "
        "of at least 6 weeks": {"classes": ["platinum"], "position": "last", "setting": ["metastatic"],
                                "outcome_not": ["progression", "intolerance"], "min_weeks": 6},
    }
    for text, spec in words.items():
        assert KINDS["prior_line"].label(cond({"prior_line": spec})) == text
    got = check(vocab, {"prior_line": {"classes": ["platinum", "platinun"], "drugs": ["sotorasb"]}})
    assert [(p, s) for p, _, s in got] == [(("rules", 0, "when", "prior_line", "classes", 1), "platinum"),
                                          (("rules", 0, "when", "prior_line", "drugs", 0), "sotorasib")]
    acc = _Terms(vocab)
    c = cond({"prior_line": {"classes": ["platinum"], "drugs": ["Lumakras"], "outcome": ["stable"],
                             "outcome_not": ["progression"], "min_weeks": 6}})
    KINDS["prior_line"].rule_terms(c, vocab, acc)
    assert (acc.rule_classes, acc.rule_drugs) == ({"platinum"}, {"sotorasib"})
    KINDS["prior_line"].case_terms(c, True, vocab, acc)
    KINDS["prior_line"].case_terms(cond({"prior_line": {"drugs": ["sotorasib"], "position": "first"}}), True, vocab, acc)
    KINDS["prior_line"].case_terms(cond({"prior_line": {"drugs": ["sotorasib"], "setting": ["maintenance"]}}), True, vocab, acc)
    assert acc.history == [
        HistorySpec(frozenset({"platinum"}), frozenset({"sotorasib"}), None, frozenset({"stable", "progression"}), 6,
                    single_line=True),
        HistorySpec(frozenset(), frozenset({"sotorasib"}), frozenset({"adjuvant", "metastatic"}), None, None,
                    single_line=True),
        HistorySpec(frozenset(), frozenset({"sotorasib"}), frozenset({"maintenance"}), None, None, single_line=True),
    ]


# --------------------------------------------------------------------------- check's hooks


def test_history_terms_collect_each_pattern_and_domain_terms_one_entry_per_gene():
    t = HistoryTerms()
    t.pattern(frozenset({"platinum"}), frozenset({"sotorasib"}))
    t.pattern(frozenset(), frozenset({"docetaxel"}))
    assert t.classes == {"platinum"} and t.drugs == {"sotorasib", "docetaxel"}
    assert t.patterns == [(frozenset({"platinum"}), frozenset({"sotorasib"})), (frozenset(), frozenset({"docetaxel"}))]
    d = DomainTerms()
    kras = d.gene("KRAS")
    kras.codons.add(12)
    assert d.gene("KRAS") is kras and d.gene("KRAS").codons == {12}
    assert isinstance(kras, GeneTerms) and d.gene("NRAS") is not kras
    assert set(d.genes) == {"KRAS", "NRAS"}


def test_prior_line_history_role_and_terms(vocab):
    t = HistoryTerms(settings={"adjuvant"}, outcomes={"response"}, weeks={4})  # terms of earlier conditions stay
    c = cond({"prior_line": {"classes": ["platinum"], "drugs": ["Lumakras"], "setting": ["maintenance"],
                             "outcome": ["stable"], "outcome_not": ["intolerance"], "min_weeks": 6}})
    assert KINDS["prior_line"].history(c, vocab, t) == HistoryRole("line", positional=False)
    assert t.patterns == [(frozenset({"platinum"}), frozenset({"sotorasib"}))]
    assert (t.settings, t.outcomes, t.weeks) == ({"adjuvant", "maintenance"}, {"response", "stable", "intolerance"}, {4, 6})
    assert (t.not_a_line, t.a_line) == (frozenset(), None)
    t = HistoryTerms(settings={"maintenance"})
    first = cond({"prior_line": {"drugs": ["sotorasib"], "position": "first"}})
    assert KINDS["prior_line"].history(first, vocab, t) == HistoryRole("line", positional=True)
    assert t.settings == {"maintenance", "adjuvant", "metastatic"} and t.outcomes == set() and t.weeks == set()
    assert (t.not_a_line, t.a_line) == (frozenset({"adjuvant", "neoadjuvant"}), "metastatic")
    t = HistoryTerms()
    last = cond({"prior_line": {"drugs": ["sotorasib"], "position": "last"}})
    # the most recent line: read alone (no place among lines for advanced disease, no later line)
    assert KINDS["prior_line"].history(last, vocab, t) == HistoryRole("line", last=True)
    assert t.settings == set()
    assert (t.not_a_line, t.a_line) == (frozenset(), None)
    last = cond({"prior_line": {"drugs": ["sotorasib"], "position": "last", "progressed_after": True}})
    assert KINDS["prior_line"].history(last, vocab, t) == HistoryRole("line", last=True)
    assert t.outcomes == {"progression"}


@pytest.mark.parametrize("spec, cap", [
    ({"min": 2}, 2), ({"max": 1}, 2), ({"min": 1, "max": 4}, 5), ({"max": 0}, 1), ({"min": 0}, 0), ({"min": 2, "max": 2}, 3),
])
def test_prior_lines_history_role_caps_the_count_past_which_nothing_changes(vocab, spec, cap):
    t = HistoryTerms()
    assert KINDS["prior_lines"].history(cond({"prior_lines": spec}), vocab, t) == HistoryRole("count", cap=cap)
    assert t.settings == set()


def test_prior_lines_history_role_with_settings(vocab):
    t = HistoryTerms(settings={"adjuvant"})
    role = KINDS["prior_lines"].history(cond({"prior_lines": {"min": 1, "setting": ["metastatic"]}}), vocab, t)
    assert role == HistoryRole("count", cap=1, settings=("metastatic",))
    assert t.settings == {"adjuvant", "metastatic"}


def test_received_history_role_and_terms(vocab):
    t = HistoryTerms()
    t.pattern(frozenset(), frozenset({"docetaxel"}))
    c = cond({"received": {"classes": ["platinum"], "drugs": ["Lumakras"]}})
    assert KINDS["received"].history(c, vocab, t) == HistoryRole("history")
    assert t.patterns == [(frozenset(), frozenset({"docetaxel"})), (frozenset({"platinum"}), frozenset({"sotorasib"}))]
    assert t.settings == set() and t.outcomes == set()


def test_alteration_history_depends_and_domain(vocab):
    kind = KINDS["alteration"]
    t = HistoryTerms()
    assert kind.history(cond({"alteration": {"gene": "KRAS", "variant": "G12C"}}), vocab, t) is None
    assert t.acquired_on == set()
    on = cond({"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired_on": "kras_g12c_inhibitor"}})
    assert kind.history(on, vocab, t) == HistoryRole("exposure")
    assert t.acquired_on == {"kras_g12c_inhibitor"}
    assert kind.depends(cond({"alteration": {"gene": "BRCA2", "origin": "germline"}})) == ("germline_tested",)
    assert kind.depends(cond({"alteration": {"gene": "BRCA2", "origin": "somatic"}})) == ()
    assert kind.depends(cond({"alteration": {"gene": "BRCA2"}})) == ()

    d = DomainTerms()
    assert kind.domain(leaf(vocab, {"alteration": {"gene": "KRAS", "variants": ["G13D", "G12C"]}}).key, d) == "KRAS"
    kras = d.gene("KRAS")
    assert kras.labels == ["G12C", "G13D"] and kras.acquired_on is False
    assert (kras.codons, kras.kinds, kras.origins, kras.acquired, kras.partners) == (set(), set(), set(), set(), set())
    kind.domain(leaf(vocab, {"alteration": {"gene": "KRAS", "codons": [12], "exclude_variants": ["G12C", "G12A"]}}).key, d)
    assert kras.labels == ["G12C", "G13D", "G12A"] and kras.codons == {12}
    kind.domain(on_key := leaf(vocab, {"alteration": {
        "gene": "KRAS", "variant": "Y96D", "acquired_on": "kras_g12c_inhibitor"}}).key, d)
    assert kras.acquired_on is True and on_key[1] == "KRAS"
    kind.domain(leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "G12C"}}).key, d)
    assert kras.acquired_on is True and kras.labels == ["G12C", "G13D", "G12A", "Y96D"]
    kind.domain(leaf(vocab, {"alteration": {"gene": "KRAS", "codons": [61]}}).key, d)
    assert kras.codons == {12, 61}
    assert kind.domain(leaf(vocab, {"alteration": {
        "gene": "ALK", "kind": "fusion", "partner": "EML4", "origin": "somatic", "acquired": False}}).key, d) == "ALK"
    alk = d.gene("ALK")
    assert (alk.kinds, alk.partners, alk.origins, alk.acquired) == ({"fusion"}, {"EML4"}, {"somatic"}, {False})
    assert alk.labels == [] and alk.acquired_on is False
    kind.domain(leaf(vocab, {"alteration": {"gene": "ALK", "acquired": True}}).key, d)
    assert alk.acquired == {False, True}


def test_cancer_domain_adds_the_codes_named(vocab):
    d = DomainTerms()
    assert KINDS["cancer"].domain(leaf(vocab, {"cancer": ["CRC", "LUAD"]}).key, d) is None
    KINDS["cancer"].domain(leaf(vocab, {"cancer": "PAAD"}).key, d)
    assert d.cancers == {"CRC", "LUAD", "PAAD"}


def test_germline_testing_is_implied_by_a_germline_finding(vocab):
    implied = KINDS["germline_tested"].dimension.implied
    germ = case(vocab, "LUAD", alt("BRCA2", "loss", origin="germline")).alterations
    som = case(vocab, "LUAD", alt("KRAS", "G12C")).alterations
    assert [implied(v, germ) for v in (None, True, False)] == [True, True, True]
    assert [implied(v, som) for v in (None, True, False)] == [None, True, False]
    assert [implied(v, ()) for v in (None, True, False)] == [None, True, False]
    assert KINDS["germline_tested"].dimension.field == "germline_tested"


# --------------------------------------------------------------------------- what the explanations and check say of a leaf


def atom(vocab, spec: dict) -> SimpleNamespace:
    """A compiled leaf as the engine holds it (its condition, label and compiled functions)."""
    c = cond(spec)
    a = leaf(vocab, spec)
    a.spec, a.label, a.kind = c, kind_of(c).label(c), kind_of(c)
    return a


def held(vocab, spec: dict, c) -> str:
    a = atom(vocab, spec)
    return a.kind.case_words(a, c, a.fn(c))


def test_a_false_leaf_is_negated_by_its_kind_in_words(vocab):
    alteration, stage, cancer = KINDS["alteration"], KINDS["stage"], KINDS["cancer"]
    assert alteration.false_words("KRAS G12C") == "no KRAS G12C"
    g12c = cond({"alteration": {"gene": "KRAS", "variant": "G12C"}})
    assert alteration.not_words(g12c, "KRAS G12C", vocab) == "no KRAS G12C"
    assert stage.false_words("stage metastatic") == "not stage metastatic"
    assert stage.not_words(cond({"stage": "early"}), "stage early", vocab) == "not: stage early"
    assert {k for k, kind in KINDS.items() if kind.negation is not None} == {"alteration"}
    # a kind with words of its own for `not`: the cancer types it leaves out, by name
    assert cancer.not_words(cond({"cancer": ["COADREAD"]}), "cancer type COADREAD", vocab) == (
        "a cancer type other than Colorectal Adenocarcinoma (COADREAD)")
    assert cancer.not_words(cond({"cancer": ["COADREAD", "MEL", "LYMPH"]}), "ignored", vocab) == (
        "a cancer type other than Colorectal Adenocarcinoma (COADREAD), Melanoma (MEL) or Lymphoid (LYMPH)")
    # a group the vocabulary names (cancer_types.yaml `outside`) reads as its words, whole or with the rest
    assert cancer.not_words(cond({"cancer": ["MYELOID", "LYMPH"]}), "ignored", vocab) == "a solid tumour"
    assert cancer.not_words(cond({"cancer": ["COADREAD", "LYMPH", "MYELOID"]}), "ignored", vocab) == (
        "a solid tumour other than Colorectal Adenocarcinoma (COADREAD)")
    assert {k for k, kind in KINDS.items() if kind.negated is not None} == {"cancer"}


def test_cancer_in_a_students_words_names_each_code_and_other_kinds_keep_their_label(vocab):
    c = cond({"cancer": ["NSCLC", "COADREAD"]})
    assert KINDS["cancer"].student_words(c, "ignored", vocab) == (
        "cancer type: Non-Small Cell Lung Cancer (NSCLC) or Colorectal Adenocarcinoma (COADREAD)")
    # a code the vocabulary does not know (a rule base's codes are checked when it is loaded) is kept as written
    assert KINDS["cancer"].student_words(cond({"cancer": ["NSCLC", "NOPE"]}), "ignored", vocab) == (
        "cancer type: Non-Small Cell Lung Cancer (NSCLC) or NOPE")
    s = cond({"stage": "metastatic"})
    assert KINDS["stage"].student_words(s, "stage metastatic", vocab) == "stage metastatic"


def test_what_the_case_holds_for_a_cancer_and_a_stage_leaf(vocab):
    assert held(vocab, {"cancer": "NSCLC"}, case(vocab, "PAAD")) == "PAAD (Pancreatic Adenocarcinoma)"
    # unknown (coded less specifically): the case's own type too
    assert held(vocab, {"cancer": "NSCLC"}, case(vocab, "LUNG")) == f"LUNG ({vocab.cancer_code('LUNG').name})"
    assert held(vocab, {"cancer": "NSCLC"}, case(vocab, "LUAD")) == "LUAD (Lung Adenocarcinoma), a kind of NSCLC"  # true: describe
    assert held(vocab, {"stage": "metastatic"}, case(vocab, stage="locally_advanced")) == "stage locally advanced"
    assert held(vocab, {"stage": "metastatic"}, case(vocab)) == "unknown: stage"
    assert held(vocab, {"stage": "metastatic"}, case(vocab, stage="metastatic")) == "stage metastatic"


def test_what_the_case_holds_for_an_alteration_leaf(vocab):
    g12c = {"alteration": {"gene": "KRAS", "variant": "G12C"}}
    assert held(vocab, g12c, case(vocab, "LUAD", alt("KRAS", "G12D"))) == "KRAS G12D"
    assert held(vocab, g12c, case(vocab, "LUAD", tested_genes=["KRAS"])) == "KRAS tested, no such change"
    assert held(vocab, g12c, case(vocab, "LUAD")) == "unknown: KRAS testing"
    assert held(vocab, g12c, case(vocab, "LUAD", alt("KRAS", "mutation"))) == "KRAS mutation"  # vague: listed
    assert held(vocab, g12c, case(vocab, "LUAD", alt("KRAS", "G12C"))) == "KRAS G12C"  # true: describe
    brca = {"alteration": {"gene": "BRCA2", "origin": "germline"}}
    assert held(vocab, brca, case(vocab, "PAAD", germline_tested=True)) == "germline testing found none"
    assert held(vocab, brca, case(vocab, "PAAD")) == "unknown: germline testing"
    # every alteration of the gene, in the case's sorted order
    assert held(vocab, g12c, case(vocab, "LUAD", alt("KRAS", "G13D"), alt("KRAS", "G12D"))) == "KRAS G12D, KRAS G13D"


def test_what_the_case_holds_for_scalar_fields_by_default_and_for_history_leaves(vocab):
    g = {"germline_tested": True}
    assert held(vocab, g, case(vocab)) == "unknown: germline testing"
    assert held(vocab, g, case(vocab, germline_tested=False)) == "no germline testing"
    m = {"multiagent_candidate": False}
    assert held(vocab, m, case(vocab, multiagent_candidate=True)) == "patient a candidate for multiagent systemic therapy"
    assert held(vocab, m, case(vocab)) == "unknown: whether the patient is a candidate for multiagent systemic therapy"
    assert KINDS["germline_tested"].held is None and KINDS["multiagent_candidate"].held is None
    for spec in ({"received": {"classes": ["kras_g12c_inhibitor"]}}, {"prior_line": {"classes": ["kras_g12c_inhibitor"]}},
                 {"prior_lines": {"min": 3}}):
        assert held(vocab, spec, case(vocab)) == "unknown: prior therapy history"
        assert held(vocab, spec, case(vocab, prior_therapies=[])) == "no prior systemic therapy (treatment-naive)"
        assert held(vocab, spec, case(vocab, prior_therapies=[line("carboplatin", outcome="progression"),
                                                              line("docetaxel")])) == (
            "prior carboplatin (progression); docetaxel")


def test_what_a_leaf_names_is_read_from_its_key_by_its_kind(vocab):
    def names(spec):
        return kind_of(cond(spec)).named(leaf(vocab, spec).key)

    assert names({"alteration": {"gene": "KRAS", "variant": "G12C"}}) == LeafNames(
        gene="KRAS", specific=True, variants=frozenset({"G12C"}))
    assert names({"alteration": {"gene": "KRAS", "variants": ["p.Gly12Asp", "G13D"], "exclude_variants": ["G12C"]}}).variants == (
        frozenset({"G12D", "G13D"}))  # by label, in any notation; not the excluded ones
    assert names({"alteration": {"gene": "NRAS", "codons": [12, 13]}}) == LeafNames(gene="NRAS", specific=True)
    assert names({"alteration": {"gene": "BRCA1", "origin": "germline"}}) == LeafNames(gene="BRCA1")
    assert names({"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired_on": "kras_g12c_inhibitor"}}) == LeafNames(
        gene="KRAS", acquired_on="kras_g12c_inhibitor", specific=True, variants=frozenset({"Y96D"}))
    assert names({"cancer": ["NSCLC", "PAAD"]}) == LeafNames(cancers=frozenset({"NSCLC", "PAAD"}))
    assert names({"stage": "metastatic"}) == LeafNames()
    assert names({"prior_lines": {"min": 1}}) == LeafNames()


def test_an_alteration_leaf_in_checks_findings_and_other_kinds_by_label(vocab):
    def brief(spec):
        a = atom(vocab, spec)
        return a.kind.finding_words(a.key, a.label)

    assert brief({"alteration": {"gene": "KRAS", "variants": ["G12D", "G12C"]}}) == "KRAS G12C/G12D"
    assert brief({"alteration": {"gene": "NRAS", "codons": [61, 12]}}) == "NRAS codon 12/61"
    assert brief({"alteration": {"gene": "BRCA1", "origin": "germline"}}) == "BRCA1 alteration (germline)"
    assert brief({"alteration": {"gene": "MET", "kind": "amplification", "acquired": True}}) == "MET amplification (acquired)"
    assert brief({"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired_on": "kras_g12c_inhibitor"}}) == (
        "KRAS Y96D (acquired on kras_g12c_inhibitor)")
    assert brief({"alteration": {"gene": "BRCA2", "origin": "somatic"}}) == "BRCA2 alteration"  # only germline is said
    assert brief({"alteration": {"gene": "BRCA2", "origin": "germline", "acquired": True}}) == (
        "BRCA2 alteration (germline, acquired)")
    assert brief({"stage": ["early", "metastatic"]}) == "stage early or metastatic"


def test_which_case_alterations_an_alteration_leaf_could_be_about(vocab):
    def could(spec, *alts):
        a = atom(vocab, spec)
        return [a.kind.could_match(a.key, x) for x in case(vocab, "LUAD", *alts).alterations]

    g12c = {"alteration": {"gene": "KRAS", "variant": "G12C"}}
    assert could(g12c, alt("KRAS", "G12C"), alt("KRAS", "G12D"), alt("NRAS", "G12C")) == [True, False, False]
    assert could(g12c, alt("KRAS", "mutation")) == [True]  # an unspecified change may be G12C
    codon12 = {"alteration": {"gene": "KRAS", "codons": [12], "exclude_variants": ["G12C"]}}
    assert could(codon12, alt("KRAS", "G12C"), alt("KRAS", "G12D"), alt("KRAS", "Q61H")) == [False, True, False]
    assert could(codon12, alt("KRAS", "mutation")) == [True]  # a codon pattern too
    amp = {"alteration": {"gene": "MET", "kind": "amplification"}}
    assert could(amp, alt("MET", "amplification"), alt("MET", "mutation")) == [True, False]
    assert could({"cancer": "NSCLC"}, alt("KRAS", "G12C")) == [False]


def test_a_new_kind_gets_the_default_words_and_names():
    kind = ConditionKind("probe_kind", object, None, None, None, lambda c: (), "history")
    a = SimpleNamespace(missing=lambda case: f"the probe{case or ''}", describe=lambda case: "probe positive")
    assert kind.false_words("probe") == "not probe"
    assert kind.not_words(None, "probe", None) == "not: probe"
    assert kind.student_words(None, "probe label", None) == "probe label"
    assert kind.case_words(a, None, None) == "unknown: the probe"
    assert kind.case_words(a, " of this case", None) == "unknown: the probe of this case"  # asked of the case
    assert kind.case_words(a, None, True) == kind.case_words(a, None, False) == "probe positive"
    assert kind.named(("probe_kind", 1)) == LeafNames()
    assert kind.finding_words(("probe_kind", 1), "probe label") == "probe label"
    assert kind.could_match(("probe_kind", 1), None) is False


# modules outside engine/conditions (and the importers, which read input formats) that still
# name a condition kind, each with why; a new entry here is a kind's semantics outside its module
KIND_BY_NAME_ALLOWED = {
    # the evaluator's AtomNode.probe (check's cancer-only probe, V011): left as it is for now
    ("engine/evaluation/evaluator.py", 'ctx.program.atoms[self.i].kind == "cancer"'),
    # an invalid-case generator's mutation named "stage" (a case field), not a condition kind
    ("engine/testing/invalid.py", 'if kind == "stage":'),
}


def test_no_module_outside_the_registry_tests_a_condition_kind_by_name():
    """By the kind's key, by its model's class or by reading its atoms' keys by position."""
    import re

    root = Path(__file__).resolve().parents[1]
    names = "|".join(re.escape(k) for k in KINDS)
    models = "|".join(m.__name__ for m in BY_MODEL)
    by_name = re.compile(rf"""\bkind\s*(==|!=)\s*["']({names})["']|["']({names})["']\s*(==|!=)\s*\S*kind\b"""
                         rf"""|\bKINDS\[\s*["']|\.key\[\s*\d|\batoms\[[^\]]+\]\.key\s*$"""
                         rf"""|\bisinstance\(.*\b({models})\b""")
    found = set()
    for path in sorted((root / "engine").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(("engine/conditions/", "engine/importers/")):
            continue
        for ln in path.read_text(encoding="utf-8").splitlines():
            if by_name.search(ln):
                found.add((rel, ln.strip()))
    def allowed(f: str, ln: str) -> bool:
        return any(f == ff and text in ln for ff, text in KIND_BY_NAME_ALLOWED)

    unexpected = sorted((f, ln) for f, ln in found if not allowed(f, ln))
    assert not unexpected, "a condition kind tested by name (or its key read by position) outside engine/conditions: " \
        "add a hook to the kind's registry entry instead: " + repr(unexpected)
    # each exception is still there (the pattern finds it), so a stale entry is noticed
    for ff, text in KIND_BY_NAME_ALLOWED:
        assert any(f == ff and text in ln for f, ln in found), (ff, text)


# --------------------------------------------------------------------------- lines whose drugs are not given


def test_an_entry_without_drugs_or_regimen_is_a_line_whose_drugs_are_not_given(vocab):
    c = case(vocab, prior_therapies=[line("carboplatin", setting="metastatic"), {"setting": "metastatic", "outcome": "progression"}])
    (known,) = [ln for ln in c.lines if not ln.open]
    (unknown,) = [ln for ln in c.lines if ln.open]
    assert (unknown.drugs, unknown.classes, unknown.setting, unknown.outcome, unknown.seq) == (
        frozenset(), frozenset(), "metastatic", "progression", 1)
    assert not known.open and not unknown.implied
    # it counts as a line; what its drugs would decide is unknown, never false
    assert leaf(vocab, {"prior_lines": {"min": 2}}).fn(c) is True
    got = leaf(vocab, {"received": {"classes": ["platinum", "taxane"]}})
    assert got.fn(c) is None
    assert got.missing(c) == "the drugs of prior therapy 2 (drugs not given)"
    assert leaf(vocab, {"received": {"classes": ["platinum"]}}).fn(c) is True  # (a line that is given decides)
    one = leaf(vocab, {"prior_line": {"classes": ["taxane"], "outcome": ["progression"]}})
    assert one.fn(c) is None
    assert one.missing(c) == "the drugs of prior therapy 2 (drugs not given)"
    # where its given fields rule it out, its drugs do not matter
    assert leaf(vocab, {"prior_line": {"classes": ["taxane"], "outcome": ["response"]}}).fn(c) is False
    assert leaf(vocab, {"received": {"classes": ["taxane"]}}).fn(case(vocab, prior_therapies=[line("docetaxel")])) is True
    assert leaf(vocab, {"received": {"classes": ["taxane"]}}).fn(case(vocab, prior_therapies=[line("carboplatin")])) is False


def test_a_line_whose_drugs_are_not_given_may_be_the_one_an_alteration_was_acquired_on(vocab):
    on = leaf(vocab, {"alteration": {"gene": "KRAS", "variant": "Y96D", "acquired_on": "kras_g12c_inhibitor"}})
    y96d = alt("KRAS", "Y96D", acquired=True)
    assert on.fn(case(vocab, "LUAD", y96d, prior_therapies=[line("carboplatin")])) is False  # never held
    c = case(vocab, "LUAD", y96d, prior_therapies=[line("carboplatin"), {"outcome": "progression"}])
    assert on.fn(c) is None
    assert on.missing(c) == ("whether KRAS Y96D was acquired on a KRAS G12C inhibitor "
                             "(the drugs of prior therapy 2 (drugs not given))")
    assert on.fn(case(vocab, "LUAD", alt("KRAS", "Y96D", acquired=False), prior_therapies=[{}])) is False  # present at diagnosis


def test_a_maintenance_line_without_a_first_line_implies_one_left_out(vocab):
    c = case(vocab, "COADREAD", prior_therapies=[line("capecitabine", "bevacizumab", setting="maintenance", outcome="progression")])
    (implied,) = [ln for ln in c.lines if ln.implied]
    assert implied.open and implied.setting == "metastatic" and implied.outcome is None
    assert implied.label == "first-line therapy (not listed) before prior therapy 1 (bevacizumab + capecitabine)"
    # the first line for metastatic disease is the one left out, not the maintenance line
    assert leaf(vocab, {"prior_lines": {"max": 0, "setting": ["metastatic"]}}).fn(c) is False
    assert leaf(vocab, {"prior_line": {"position": "first", "setting": ["maintenance"]}}).fn(c) is False
    iri = leaf(vocab, {"received": {"classes": ["irinotecan"]}})
    assert iri.fn(c) is None
    assert iri.missing(c) == "the drugs of the first-line therapy (not listed) before prior therapy 1 (bevacizumab + capecitabine)"
    assert "first-line therapy (not listed)" in leaf(vocab, {"prior_lines": {"min": 1}}).describe(c)
    # a line for metastatic disease, or one whose setting is not given (it may be the first line): none implied
    for first in (line("oxaliplatin", "capecitabine", setting="metastatic"), line("oxaliplatin", "capecitabine")):
        given = case(vocab, "COADREAD", prior_therapies=[first, line("capecitabine", setting="maintenance")])
        assert not any(ln.implied for ln in given.lines)
        assert iri.fn(given) is False
    # it comes just before the first maintenance line: after an adjuvant line
    c = case(vocab, "COADREAD", prior_therapies=[line("oxaliplatin", "capecitabine", setting="adjuvant"),
                                                 line("capecitabine", setting="maintenance"),
                                                 line("bevacizumab", setting="maintenance")])
    from engine.conditions.base import line_order
    order = [ln.label for ln in sorted(c.lines, key=line_order)]
    assert order == ["capecitabine + oxaliplatin", "first-line therapy (not listed) before prior therapy 2 (capecitabine)",
                     "capecitabine", "bevacizumab"]


def test_a_line_for_metastatic_disease_after_the_maintenance_line_is_not_its_first_line(vocab):
    """Maintenance capecitabine, then FOLFIRI for metastatic disease: FOLFIRI is a later line, not
    the induction the maintenance continued, so the first line is still left out and whether it
    held oxaliplatin stays unknown. (Listing FOLFIRI used to cancel the implied line, and the
    G12C combinations turned from conditional to not eligible: unknown read as false.)"""
    maint = line("capecitabine", setting="maintenance", outcome="progression")
    folfiri = line("fluorouracil", "leucovorin", "irinotecan", setting="metastatic", outcome="progression")
    ox = leaf(vocab, {"received": {"classes": ["oxaliplatin"]}})
    for later in (folfiri, line("fluorouracil", "leucovorin", "irinotecan")):  # (its setting given or not)
        c = case(vocab, "COADREAD", prior_therapies=[maint, later])
        (implied,) = [ln for ln in c.lines if ln.implied]
        assert implied.label == "first-line therapy (not listed) before prior therapy 1 (capecitabine)"
        assert ox.fn(c) is None
        assert ox.missing(c) == "the drugs of the first-line therapy (not listed) before prior therapy 1 (capecitabine)"
    # the same lines the other way round: FOLFIRI may be the first line, nothing is implied
    c = case(vocab, "COADREAD", prior_therapies=[folfiri, maint])
    assert not any(ln.implied for ln in c.lines) and ox.fn(c) is False


def test_the_g12c_combinations_wait_on_a_first_line_left_out_before_a_later_line(engine):
    case = {"cancer_type": "COAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
            "tested_genes": ["KRAS", "NRAS", "BRAF"], "as_of": "2026-07-01",
            "prior_therapies": [{"regimen": "capecitabine", "setting": "maintenance", "outcome": "progression"},
                                {"regimen": "FOLFIRI", "setting": "metastatic", "outcome": "progression"}]}
    res = engine.evaluate(case)
    for t in ("adagrasib+cetuximab", "panitumumab+sotorasib"):
        o = res.option(t)
        assert o.verdict == "conditional"
        assert o.missing == ["the drugs of the first-line therapy (not listed) before prior therapy 1 (capecitabine)"]
