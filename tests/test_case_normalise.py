"""The case model and its normalisation (engine.case) on their own: the strict input checks and
size limits, every field of the normalised case, the problems collected with their paths, and
how alterations and prior lines are described to users."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine import case as case_module
from engine.case import _MEMO_LIMIT, LIMITS, MAX_PROBLEMS, Alt, Line, _line_key, _memo, _memos, normalise, parse_case, strict_problems
from engine.errors import CaseError
from engine.vocabulary import Vocabulary

VOCAB_DIR = Path(__file__).resolve().parents[1] / "rules" / "vocabulary"
DAY = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load(VOCAB_DIR)


def norm(vocab, **kw):
    return normalise(parse_case({"cancer_type": "LUAD", **kw}), vocab, today=DAY)


def problems(vocab, **kw) -> list[tuple]:
    with pytest.raises(CaseError) as info:
        norm(vocab, **kw)
    return [(p.path, p.message, p.suggestion) for p in info.value.problems]


def strict(data: dict) -> list[tuple]:
    return [(p.path, p.message, p.suggestion) for p in strict_problems(data)]


# --------------------------------------------------------------------------- descriptions


def test_an_alteration_is_described_with_its_origin_and_acquisition():
    def alt(kind="mutation", label="G12C", origin="somatic", acquired=None, partner=None, gene="KRAS"):
        return Alt(gene, kind, label, 12, origin, acquired, partner).describe()

    assert alt() == "KRAS G12C"
    assert alt(origin="germline") == "KRAS G12C (germline)"
    assert alt(acquired=True) == "KRAS G12C (acquired)"
    assert alt(acquired=False) == "KRAS G12C"
    assert alt(origin="germline", acquired=True) == "KRAS G12C (germline, acquired)"
    assert alt("fusion", "fusion", gene="ALK") == "ALK fusion"
    assert alt("fusion", "fusion", gene="ALK", partner="EML4") == "EML4-ALK fusion"
    assert alt("amplification", "amplification", gene="MET", partner="EML4") == "MET amplification"


def test_a_line_is_described_with_its_setting_weeks_and_outcome():
    def line(setting=None, weeks=None, outcome=None):
        return Line(frozenset({"carboplatin"}), frozenset(), setting, outcome, weeks, "carboplatin").describe()

    assert line() == "carboplatin"
    assert line("metastatic") == "carboplatin (metastatic)"
    assert line(weeks=0) == "carboplatin (0 weeks)"
    assert line(weeks=8.5) == "carboplatin (8.5 weeks)"
    assert line(outcome="progression") == "carboplatin (progression)"
    assert line("adjuvant", 12.0, "response") == "carboplatin (adjuvant, 12 weeks, response)"


def test_a_lines_label_names_its_regimen_then_its_drugs_in_one_order_whatever_the_listing(vocab):
    # texts name a line by its label ("how prior therapy 1 (carboplatin + pemetrexed) ended"): the
    # order drugs are listed in means nothing, so it must not change them
    a = norm(vocab, prior_therapies=[{"drugs": ["pemetrexed", "Carboplatin"]}]).lines
    b = norm(vocab, prior_therapies=[{"drugs": ["Carboplatin", "pemetrexed"]}]).lines
    assert a is not None and b is not None and a[0].label == b[0].label == "Carboplatin + pemetrexed"
    c = norm(vocab, prior_therapies=[{"regimen": "FOLFIRI", "drugs": ["cetuximab", "bevacizumab"]}]).lines
    assert c is not None and c[0].label == "FOLFIRI + bevacizumab + cetuximab"


# --------------------------------------------------------------------------- strict input


def test_text_fields_over_their_limit_are_reported_with_the_path():
    for key in ("id", "cancer_type", "stage", "jurisdiction"):
        limit = LIMITS[key]
        assert strict({key: "x" * limit}) == []
        ((path, message, suggestion),) = strict({key: "x" * (limit + 1)})
        assert path == (key,) and suggestion is None
        assert message.startswith(f"{limit + 1:,} characters, at most {limit} (got 'xxx")
    assert strict({"id": 5}) == []  # not text: left to the model


@pytest.mark.parametrize("value, meant", [
    ("yes", "true"), ("True", "true"), (" 1 ", "true"), (1, "true"), ("no", "false"), ("FALSE", "false"), (0, "false"),
    ("0", "false"), ("maybe", None), (2, None), (12345678, None), ("yes     ", None), (1.0, None),
])
def test_a_boolean_written_otherwise_is_an_error_with_the_likely_value(value, meant):
    ((path, message, suggestion),) = strict({"germline_tested": value})
    assert path == ("germline_tested",)
    assert message.startswith("expected true or false, got ")
    assert suggestion == meant
    ((path, _, suggestion),) = strict({"alterations": [{}, {"gene": "KRAS", "acquired": value}]})
    assert path == ("alterations", 1, "acquired") and suggestion == meant


def test_each_boolean_field_is_checked_and_the_message_quotes_the_value():
    got = strict({"germline_tested": "yes", "multiagent_candidate": 2, "alterations": [{"acquired": "no"}]})
    assert got == [(("germline_tested",), "expected true or false, got the text 'yes' (did you mean true, without quotes?)", "true"),
                   (("multiagent_candidate",), "expected true or false, got 2", None),
                   (("alterations", 0, "acquired"), "expected true or false, got the text 'no' (did you mean false, without quotes?)", "false")]
    assert strict({"multiagent_candidate": "No"}) == [(("multiagent_candidate",), "expected true or false, got the text 'No' (did you mean false, without quotes?)", "false")]
    assert strict({"multiagent_candidate": True, "germline_tested": False}) == []


def test_booleans_and_absent_values_pass():
    assert strict({"germline_tested": True, "alterations": [{"acquired": False}, {"acquired": None}, {}]}) == []
    assert strict({"germline_tested": None}) == []
    assert strict({"multiagent_candidate": None}) == []


def test_a_date_is_written_as_yyyy_mm_dd():
    assert strict({"as_of": "2021-01-31"}) == []
    # (with the date it reads as offered)
    assert strict({"as_of": "2021-1-31"}) == [(("as_of",), "a date is written YYYY-MM-DD, got '2021-1-31'", "2021-01-31")]
    assert strict({"as_of": "2021-01-31T00:00"}) == [(("as_of",), "a date is written YYYY-MM-DD, got '2021-01-31T00:00'", "2021-01-31")]
    assert strict({"as_of": 0}) == [(("as_of",), "a date is written YYYY-MM-DD, got 0", None)]


def test_alteration_fields_and_list_sizes():
    assert strict({"alterations": [{"gene": "x" * 50, "variant": "x" * 200, "origin": "x" * 20, "partner": "x" * 50}]}) == []
    got = strict({"alterations": ["KRAS", {"gene": "x" * 51, "variant": "x" * 201, "origin": "x" * 21, "partner": "x" * 51}]})
    assert [(p, m.split(" (got")[0]) for p, m, _ in got] == [
        (("alterations", 1, "gene"), "51 characters, at most 50"),
        (("alterations", 1, "variant"), "201 characters, at most 200"),
        (("alterations", 1, "origin"), "21 characters, at most 20"),
        (("alterations", 1, "partner"), "51 characters, at most 50"),
    ]
    # a hypermutated exome (thousands of coding mutations) is within the limit
    assert strict({"alterations": [{}] * 10_000}) == []
    # past the size limit the list is reported once, not entry by entry
    assert strict({"alterations": [{"gene": "x" * 51}] * 10_001}) == [
        (("alterations",), "10,001 entries, at most 10,000", None)]


def test_tested_genes_sizes():
    assert strict({"tested_genes": ["x" * 50] * 2000}) == []
    assert strict({"tested_genes": ["KRAS", "x" * 51, 7]}) == [
        (("tested_genes", 1), "51 characters, at most 50 (got '" + "x" * 51 + "')", None)]
    assert strict({"tested_genes": ["x" * 51] * 2001}) == [(("tested_genes",), "2,001 entries, at most 2,000", None)]


def test_prior_therapy_fields_and_sizes():
    ok = {"regimen": "x" * 500, "setting": "x" * 50, "outcome": "x" * 50, "drugs": ["x" * 200] * 50, "weeks": 12}
    assert strict({"prior_therapies": [ok] * 100}) == []
    assert strict({"prior_therapies": [{"weeks": 12.5}, {"weeks": None}, "FOLFOX"]}) == []
    assert strict({"prior_therapies": [{"drugs": [7, None, ["x" * 201]], "regimen": 5}]}) == []  # not text: left to the model
    got = strict({"prior_therapies": [{}, {"regimen": "x" * 501, "setting": "x" * 51, "outcome": "x" * 51,
                                           "drugs": ["carboplatin", "x" * 201], "weeks": "12"}]})
    assert [(p, m.split(" (got")[0]) for p, m, _ in got] == [
        (("prior_therapies", 1, "regimen"), "501 characters, at most 500"),
        (("prior_therapies", 1, "setting"), "51 characters, at most 50"),
        (("prior_therapies", 1, "outcome"), "51 characters, at most 50"),
        (("prior_therapies", 1, "drugs", 1), "201 characters, at most 200"),
        (("prior_therapies", 1, "weeks"), "a number of weeks is a JSON number, got '12' (did you mean 12, without quotes?)"),
    ]
    assert strict({"prior_therapies": [{"weeks": True}]}) == [
        (("prior_therapies", 0, "weeks"), "a number of weeks is a JSON number, got true", None)]
    # an entry that is not an object (left to the model) does not stop the check of the next ones
    assert [p for p, _, _ in strict({"prior_therapies": ["FOLFOX", {"weeks": "12"}, 7, {"setting": "x" * 51}]})] == [
        ("prior_therapies", 1, "weeks"), ("prior_therapies", 3, "setting")]
    assert strict({"prior_therapies": [{"drugs": ["x" * 201] * 51}]}) == [
        (("prior_therapies", 0, "drugs"), "51 entries, at most 50", None)]
    assert strict({"prior_therapies": [{"drugs": ["x" * 201]}] * 101}) == [
        (("prior_therapies",), "101 entries, at most 100", None)]


def test_parse_case_reports_strict_problems_first_then_the_models_elsewhere():
    with pytest.raises(CaseError) as info:
        parse_case(["LUAD"])
    assert [p.render() for p in info.value.problems] == ["a case is a JSON object, got list"]
    with pytest.raises(CaseError) as info:
        parse_case({"cancer_type": "LUAD", "germline_tested": "yes", "stage": "later"})
    # (the strict one first; the model's at other paths too, where it only hid them before)
    assert [p.path for p in info.value.problems] == [("germline_tested",), ("stage",)]
    with pytest.raises(CaseError) as info:
        parse_case({"cancer_type": "LUAD", "stage": "later"})
    assert [p.path for p in info.value.problems] == [("stage",)]
    assert parse_case({"cancer_type": "LUAD"}).cancer_type == "LUAD"


# --------------------------------------------------------------------------- normalisation


def test_every_field_of_a_normalised_case(vocab):
    c = normalise(parse_case({"cancer_type": "LUAD", "id": "p1", "stage": "metastatic", "jurisdiction": "ema",
                              "as_of": "2025-03-04", "germline_tested": False, "multiagent_candidate": True}), vocab,
                  today=DAY)
    assert (c.id, c.cancer.code, c.lineage, c.stage, c.as_of, c.jurisdiction, c.multiagent_candidate) == (
        "p1", "LUAD", frozenset({"LUAD", "NSCLC", "LUNG", "TISSUE"}), "metastatic", dt.date(2025, 3, 4), "EMA", True)
    assert norm(vocab, multiagent_candidate=False).multiagent_candidate is False
    assert norm(vocab).multiagent_candidate is None
    assert (c.alterations, c.tested, c.tested_listed, c.germline_tested, c.lines) == ((), frozenset(), False, False, None)
    c = normalise(parse_case({"cancer_type": "lung adenocarcinoma"}), vocab, default_id="row 7", today=DAY,
                  default_jurisdiction="pmda")
    assert (c.id, c.cancer.code, c.as_of, c.jurisdiction, c.germline_tested) == ("row 7", "LUAD", DAY, "PMDA", None)
    assert (norm(vocab).id, norm(vocab).jurisdiction) == ("case", "FDA")
    assert normalise(parse_case({"cancer_type": "LUAD"}), vocab).as_of == dt.date.today()


def test_alterations_are_resolved_deduplicated_and_sorted(vocab):
    c = norm(vocab, alterations=[
        {"gene": "ERBB1", "variant": "p.Leu858Arg"},
        {"gene": "KRAS", "variant": "G12C", "acquired": True},
        {"gene": "KRAS", "variant": "G12C"},
        {"gene": "KRAS", "variant": "p.Gly12Cys"},
        {"gene": "KRAS", "variant": "G12C", "acquired": False},
        {"gene": "ALK", "variant": "rearrangement", "partner": "eml4"},
        {"gene": "ALK", "variant": "fusion"},
        {"gene": "BRCA2", "variant": "E1953*", "origin": "germline"},
    ])
    assert c.alterations == (
        Alt("ALK", "fusion", "fusion", None, "somatic", None, None),
        Alt("ALK", "fusion", "fusion", None, "somatic", None, "EML4"),
        Alt("BRCA2", "mutation", "E1953*", 1953, "germline", None, None, ()),  # a stop: span ()
        Alt("EGFR", "mutation", "L858R", 858, "somatic", None, None),
        Alt("KRAS", "mutation", "G12C", 12, "somatic", None, None),
        Alt("KRAS", "mutation", "G12C", 12, "somatic", False, None),
        Alt("KRAS", "mutation", "G12C", 12, "somatic", True, None),
    )
    # somatic mutations make their gene tested; a germline one does not (tumour testing not stated),
    # nor does a fusion call (it says nothing of the gene's sequence)
    assert c.tested == frozenset({"EGFR", "KRAS"})
    assert c.germline_tested is True


def test_the_same_case_twice_gives_the_same_alterations(vocab):
    alts = [{"gene": "KRAS", "variant": "G12C"}, {"gene": "KRAS", "variant": "G12C"}, {"gene": "kras", "variant": "G12C"},
            {"gene": "NRAS", "variant": "Q61K"}]
    first = norm(vocab, alterations=alts)
    again = norm(vocab, alterations=alts)
    assert first.alterations == again.alterations == (
        Alt("KRAS", "mutation", "G12C", 12, "somatic", None, None), Alt("NRAS", "mutation", "Q61K", 61, "somatic", None, None))


def test_alteration_memo_is_per_vocabulary(vocab):
    other = Vocabulary.load(VOCAB_DIR)
    assert _memo(vocab) is _memo(vocab)
    assert _memo(other) is not _memo(vocab)
    norm(vocab, alterations=[{"gene": "KRAS", "variant": "G13D"}])
    assert _memo(vocab)[("KRAS", "G13D", "somatic", None, None, None)] == Alt("KRAS", "mutation", "G13D", 13, "somatic", None, None)


def test_the_alteration_memo_is_bounded(vocab):
    memo = _memo(vocab)
    kept = dict(memo)
    try:
        memo.clear()
        memo.update({("filler", i): None for i in range(_MEMO_LIMIT - 1)})
        norm(vocab, alterations=[{"gene": "KRAS", "variant": "G13D"}, {"gene": "KRAS", "variant": "G12V"}])
        assert len(memo) == _MEMO_LIMIT and ("KRAS", "G13D", "somatic", None, None, None) in memo
    finally:
        memo.clear()
        memo.update(kept)


def test_alteration_problems_name_their_path(vocab):
    got = problems(vocab, alterations=[
        {"gene": "KRSA", "variant": "G12C"},
        {"gene": "KRAS", "variant": "G12"},
        {"gene": "KRAS", "variant": "G12C", "partner": "EML4"},
        {"gene": "ALK", "variant": "fusion", "partner": "EML5"},
        {"gene": "KRAS", "variant": "G12D"},
        {"gene": "KRAS", "variant": "G13"},
    ])
    assert [p for p, _, _ in got] == [("alterations", 0, "gene"), ("alterations", 1, "variant"),
                                     ("alterations", 2, "partner"), ("alterations", 3, "partner"),
                                     ("alterations", 5, "variant")]
    assert got[0][2] == "KRAS"
    assert got[2][1:] == ("'partner' is only for a fusion", None)
    assert got[3][2] == "EML4"


def test_tested_genes(vocab):
    c = norm(vocab, tested_genes=["kras", "ERBB1"], alterations=[{"gene": "NRAS", "variant": "Q61K"}])
    assert c.tested == frozenset({"KRAS", "EGFR", "NRAS"}) and c.tested_listed is True
    c = norm(vocab, tested_genes=[])
    assert c.tested == frozenset() and c.tested_listed is True
    got = problems(vocab, tested_genes=["KRAS", "KRSA"])
    assert [(p, s) for p, _, s in got] == [(("tested_genes", 1), "KRAS")]


def test_a_germline_alteration_with_germline_testing_false_is_a_contradiction(vocab):
    got = problems(vocab, germline_tested=False, alterations=[
        {"gene": "KRAS", "variant": "G12C"}, {"gene": "BRCA2", "variant": "E1953*", "origin": "germline"},
        {"gene": "BRCA1", "variant": "loss", "origin": "germline"}])
    assert got == [(("germline_tested",), "germline_tested is false, but alterations[1] has origin 'germline'", "true")]
    assert norm(vocab, germline_tested=True, alterations=[{"gene": "BRCA2", "variant": "E1953*", "origin": "germline"}]).germline_tested is True
    assert norm(vocab, germline_tested=False, alterations=[{"gene": "KRAS", "variant": "G12C"}]).germline_tested is False


def test_prior_lines_are_expanded_classed_and_sorted(vocab):
    c = norm(vocab, prior_therapies=[
        {"regimen": "FOLFOX", "drugs": ["bevacizumab"], "setting": "metastatic", "weeks": 0, "outcome": "progression"},
        {"drugs": ["Lumakras"]},
        {"drugs": ["carboplatin", "pemetrexed"], "setting": "adjuvant"},
    ])
    assert c.lines == (
        Line(frozenset({"fluorouracil", "leucovorin", "oxaliplatin", "bevacizumab"}),
             frozenset({"folinic_acid", "targeted_therapy", "platinum", "chemotherapy", "anti_vegf", "fluoropyrimidine",
                        "oxaliplatin"}), "metastatic", "progression", 0.0, "FOLFOX + bevacizumab", 0),
        Line(frozenset({"sotorasib"}), frozenset({"targeted_therapy", "ras_inhibitor", "kras_g12c_inhibitor"}), None, None,
             None, "Lumakras", 1),
        Line(frozenset({"carboplatin", "pemetrexed"}), frozenset({"platinum", "chemotherapy", "pemetrexed"}), "adjuvant",
             None, None, "carboplatin + pemetrexed", 2),
    )
    assert norm(vocab, prior_therapies=[]).lines == ()
    assert norm(vocab).lines is None


def test_prior_line_problems_name_their_path(vocab):
    got = problems(vocab, prior_therapies=[{"regimen": "FOLFOXX", "drugs": ["carboplatin", "sotorasb"]},
                                           {"drugs": ["sotorasib"]}])
    assert [(p, s) for p, _, s in got] == [(("prior_therapies", 0, "regimen"), "FOLFOX"),
                                          (("prior_therapies", 0, "drugs", 1), "sotorasib")]
    # a line none of whose terms is known does not stop the check of the next lines
    got = problems(vocab, prior_therapies=[{"regimen": "FOLFOXX"}, {"drugs": ["sotorasb"]}])
    assert [(p, s) for p, _, s in got] == [(("prior_therapies", 0, "regimen"), "FOLFOX"),
                                          (("prior_therapies", 1, "drugs", 0), "sotorasib")]


def test_lines_sort_on_label_drugs_setting_outcome_and_weeks():
    def ln(label="a", drugs=("x",), setting=None, outcome=None, weeks=None):
        return Line(frozenset(drugs), frozenset(), setting, outcome, weeks, label)

    ordered = [ln(), ln(weeks=0), ln(weeks=3), ln(outcome="progression"), ln(outcome="stable"), ln(setting="adjuvant"),
               ln(setting="metastatic"), ln(drugs=("y",)), ln(drugs=("x", "y")), ln("b")]
    assert sorted(reversed(ordered), key=_line_key) == sorted(ordered, key=_line_key)
    assert [_line_key(x) for x in sorted(reversed(ordered), key=_line_key)] == sorted(_line_key(x) for x in ordered)
    assert sorted(reversed(ordered), key=_line_key) == [ordered[i] for i in (0, 1, 2, 3, 4, 5, 6, 8, 7, 9)]


def test_only_the_first_problems_are_checked(vocab):
    got = problems(vocab, tested_genes=[f"NOTAGENE{i}" for i in range(25)])
    assert len(got) == 21
    assert [p for p, _, _ in got[:20]] == [("tested_genes", i) for i in range(20)]
    assert got[20] == ((), "5 more term(s) not checked: the first 20 problems are reported", None)
    got = problems(vocab, tested_genes=[f"NOTAGENE{i}" for i in range(20)])
    assert len(got) == 20


def test_what_is_counted_unchecked_does_not_depend_on_the_cases_before(vocab, empty_memos):
    """Past the first problems, terms are counted as not checked, also those earlier cases have
    already resolved (kept in the memos): the error of a case is the same whatever came first."""
    bad = [{"gene": f"NOTAGENE{i}", "variant": "G12C"} for i in range(20)]
    panel = sorted(vocab.genes)[:case_module._LIST_MEMO_MIN_GENES]  # long enough to be kept as a whole
    good = {"alterations": [{"gene": "KRAS", "variant": "G12C"}, {"gene": "NRAS", "variant": "Q61K"}],
            "tested_genes": ["KRAS", "NRAS", "braf"], "prior_therapies": [{"drugs": ["carboplatin", "pemetrexed"]}]}
    cold = [problems(vocab, **{**good, "alterations": bad + good["alterations"], **more}) for more in ({}, {"tested_genes": panel})]
    norm(vocab, **good)  # resolves every term of `good` into the memos
    norm(vocab, tested_genes=panel)
    assert all(empty_memos)
    warm = [problems(vocab, **{**good, "alterations": bad + good["alterations"], **more}) for more in ({}, {"tested_genes": panel})]
    assert warm == cold
    assert cold[0][-1] == ((), "7 more term(s) not checked: the first 20 problems are reported", None)
    assert cold[1][-1] == ((), f"{2 + len(panel) + 2} more term(s) not checked: the first 20 problems are reported", None)


def test_tested_genes_and_prior_therapies_resolved_once_give_the_same_case(vocab, empty_memos):
    """Lists of tested genes, single gene names and prior therapies are kept once resolved; a
    case read from them equals one read afresh, and an entry with a problem is never kept."""
    panel = ["kras", "NRAS", "LKB1", *sorted(vocab.genes - {"KRAS", "NRAS", "STK11"})[:case_module._LIST_MEMO_MIN_GENES]]
    resolved = frozenset({"KRAS", "NRAS", "STK11", *panel[3:]})
    kw = {"tested_genes": panel,
          "prior_therapies": [{"regimen": "FOLFOX", "drugs": ["bevacizumab"], "outcome": "progression", "weeks": 20},
                              {"drugs": ["carboplatin", "pemetrexed"], "setting": "metastatic"}]}
    fresh = norm(vocab, **kw)
    _, lists, genes, lines, _ = _memos(vocab)
    assert lists == {tuple(panel): resolved}
    assert {"kras": "KRAS", "NRAS": "NRAS", "LKB1": "STK11"}.items() <= genes.items()
    assert set(lines) == {("FOLFOX", "bevacizumab"), (None, "carboplatin", "pemetrexed")}
    again = norm(vocab, **kw)
    assert again == fresh and again.tested == resolved
    # the same entries in another case: its own setting, outcome, weeks and place in the history;
    # a short list is read gene by gene (and not kept as a whole)
    other = norm(vocab, tested_genes=["LKB1", "kras"], prior_therapies=[
        {"drugs": ["carboplatin", "pemetrexed"], "outcome": "stable", "weeks": 3}])
    assert other.tested == frozenset({"KRAS", "STK11"}) and ("LKB1", "kras") not in lists
    (line,) = other.lines
    assert (line.outcome, line.weeks, line.setting, line.seq) == ("stable", 3, None, 0)
    assert line.drugs == next(ln.drugs for ln in fresh.lines if ln.label == "carboplatin + pemetrexed")
    # a problem is reported every time, and its entry is not kept
    for _ in range(2):
        assert [p for p, _, _ in problems(vocab, tested_genes=["KRSA"], prior_therapies=[{"drugs": ["carboplatinn"]}])] == [
            ("tested_genes", 0), ("prior_therapies", 0, "drugs", 0)]
    assert ("KRSA",) not in lists and "KRSA" not in genes and (None, "carboplatinn") not in lines


def test_the_memos_of_lists_and_lines_are_bounded(vocab, empty_memos, monkeypatch):
    monkeypatch.setattr(case_module, "_LIST_MEMO_LIMIT", 3)
    monkeypatch.setattr(case_module, "_LINE_MEMO_LIMIT", 2)
    base = sorted(vocab.genes - {"KRAS", "NRAS", "HRAS", "BRAF", "EGFR"})[:case_module._LIST_MEMO_MIN_GENES - 1]
    for g in ("KRAS", "NRAS", "HRAS", "BRAF", "EGFR"):
        norm(vocab, tested_genes=[*base, g])
    _, lists, _, lines, _ = _memos(vocab)
    assert len(lists) <= 3 and (*base, "EGFR") in lists
    for d in ("carboplatin", "cisplatin", "pemetrexed"):
        norm(vocab, prior_therapies=[{"drugs": [d]}])
    assert len(lines) <= 2 and (None, "pemetrexed") in lines
    # long lists are not kept at all
    norm(vocab, tested_genes=["KRAS"] * (case_module._LIST_MEMO_MAX_GENES + 1))
    assert ("KRAS",) * (case_module._LIST_MEMO_MAX_GENES + 1) not in lists


@pytest.fixture
def empty_memos(vocab):
    """The vocabulary's memos (alterations, tested-gene lists, gene names, prior therapies,
    cancer types),
    emptied for one test and given back their entries after it."""
    saved = [dict(m) for m in _memos(vocab)]
    for m in _memos(vocab):
        m.clear()
    yield _memos(vocab)
    for m, kept in zip(_memos(vocab), saved, strict=True):
        m.clear()
        m.update(kept)


def test_entries_resolved_once_are_not_looked_up_again(vocab, empty_memos, monkeypatch):
    """A case whose alterations, tested genes and prior therapies were resolved before asks the
    vocabulary nothing; a new list of tested genes asks only for the genes not seen before; a list
    seen before is answered whole, without its single gene names."""
    monkeypatch.setattr(case_module, "_LIST_MEMO_MIN_GENES", 1)  # short lists kept whole too
    asked = []
    for name in ("gene", "variant", "therapy_word", "drug"):
        look_up = getattr(vocab, name)
        monkeypatch.setattr(vocab, name, lambda *a, _f=look_up, _n=name: asked.append((_n, a[-1])) or _f(*a))
    kw = {"alterations": [{"gene": "KRAS", "variant": "G12C"}], "tested_genes": ["kras", "NRAS", "LKB1"],
          "prior_therapies": [{"regimen": "FOLFOX", "drugs": ["bevacizumab"], "weeks": 20}]}
    first = norm(vocab, **kw)
    assert ("variant", "G12C") in asked and ("gene", "LKB1") in asked and ("therapy_word", "FOLFOX") in asked
    asked.clear()
    assert norm(vocab, **kw) == first and asked == []
    assert norm(vocab, tested_genes=["NRAS", "BRAF", "kras"]).tested == frozenset({"NRAS", "BRAF", "KRAS"})
    assert asked == [("gene", "BRAF")]
    asked.clear()
    _, _, genes, _, _ = empty_memos
    genes.clear()
    assert norm(vocab, **kw) == first and asked == []


def test_a_cancer_type_resolved_once_is_not_looked_up_again(vocab, empty_memos, monkeypatch):
    """A cancer-type text resolved once gives the same type and lineage without asking the
    vocabulary again; a text that does not resolve reports its problem every time and is not
    kept; the store is bounded."""
    asked = []
    look_up = vocab.cancer
    monkeypatch.setattr(vocab, "cancer", lambda text: asked.append(text) or look_up(text))
    first = normalise(parse_case({"cancer_type": "non-small cell lung cancer"}), vocab, today=DAY)
    again = normalise(parse_case({"cancer_type": "non-small cell lung cancer"}), vocab, today=DAY)
    assert again == first and again.cancer is first.cancer and asked == ["non-small cell lung cancer"]
    assert first.lineage == frozenset(first.cancer.lineage) and "NSCLC" in first.lineage
    # another spelling of the same type is its own entry, with the same answer
    assert normalise(parse_case({"cancer_type": "nsclc"}), vocab, today=DAY).cancer is first.cancer
    assert asked == ["non-small cell lung cancer", "nsclc"]
    for _ in range(2):
        with pytest.raises(CaseError) as info:
            normalise(parse_case({"cancer_type": "LAUD"}), vocab, today=DAY)
        assert [p.path for p in info.value.problems] == [("cancer_type",)]
    assert asked.count("LAUD") == 2
    *_, cancers = empty_memos
    assert set(cancers) == {"non-small cell lung cancer", "nsclc"}
    monkeypatch.setattr(case_module, "_CANCER_MEMO_LIMIT", 2)
    for text in ("LUAD", "COADREAD", "PAAD"):
        normalise(parse_case({"cancer_type": text}), vocab, today=DAY)
    assert len(cancers) <= 2 and "PAAD" in cancers


def test_an_entry_with_a_problem_or_met_past_the_first_problems_is_not_kept(vocab, empty_memos):
    """A prior therapy with one unknown drug among known ones reports it every time; a list of
    tested genes or a prior therapy met past the first problems (their terms then not checked) is
    not kept, so a later case with the same entries gets them in full."""
    for _ in range(2):
        assert [p for p, _, _ in problems(vocab, prior_therapies=[{"drugs": ["carboplatin", "carboplatinn"]}])] == [
            ("prior_therapies", 0, "drugs", 1)]
    bad = [{"gene": f"NOTAGENE{i}", "variant": "G12C"} for i in range(MAX_PROBLEMS)]
    kw = {"tested_genes": ["KRAS", "NRAS"], "prior_therapies": [{"drugs": ["carboplatin"]}]}
    assert problems(vocab, alterations=bad, **kw)[-1][1] == "3 more term(s) not checked: the first 20 problems are reported"
    c = norm(vocab, **kw)
    assert c.tested == frozenset({"KRAS", "NRAS"}) and [ln.drugs for ln in c.lines] == [frozenset({"carboplatin"})]
    # the same for a list long enough to be kept as a whole (met past the first problems, none of
    # its genes was looked up: kept, it would give the later case no tested gene)
    panel = sorted(vocab.genes)[:case_module._LIST_MEMO_MIN_GENES]
    assert problems(vocab, alterations=bad, tested_genes=panel)[-1][1] == (
        f"{len(panel)} more term(s) not checked: the first 20 problems are reported")
    assert norm(vocab, tested_genes=panel).tested == frozenset(panel)
    _, lists, _, _, _ = empty_memos
    assert lists == {tuple(panel): frozenset(panel)}


def test_a_list_of_tested_genes_is_kept_whole_from_24_genes_on(vocab, empty_memos):
    """A list of 24 tested genes or more (a panel, repeated through a cohort) is kept as a whole
    once resolved; a list of 23 is read gene by gene, through the store of gene names, and is not
    kept as a whole."""
    _, lists, genes, _, _ = empty_memos
    known = sorted(vocab.genes)
    short, panel = known[:23], known[:24]
    assert norm(vocab, tested_genes=short).tested == frozenset(short)
    assert lists == {} and set(short) <= set(genes)
    assert norm(vocab, tested_genes=panel).tested == frozenset(panel)
    assert lists == {tuple(panel): frozenset(panel)}


def test_the_memos_keep_entries_up_to_their_limits_each_in_a_store_of_its_own(vocab, empty_memos, monkeypatch):
    alts, lists, genes, lines, _ = empty_memos
    monkeypatch.setattr(case_module, "_LIST_MEMO_LIMIT", 3)
    monkeypatch.setattr(case_module, "_LIST_MEMO_MIN_GENES", 1)
    monkeypatch.setattr(case_module, "_GENE_MEMO_LIMIT", 3)
    norm(vocab, alterations=[{"gene": "KRAS", "variant": "G12C"}])
    for g in ("KRAS", "NRAS", "HRAS", "BRAF", "EGFR"):
        norm(vocab, tested_genes=[g])
        assert (g,) in lists and len(lists) <= 3 and g in genes and len(genes) <= 3
    # emptying the stores of lists and gene names leaves the alterations
    assert list(alts) == [("KRAS", "G12C", "somatic", None, None, None)]
    # a list of as many genes as kept is kept, a longer one not
    monkeypatch.setattr(case_module, "_LIST_MEMO_MAX_GENES", 2)
    norm(vocab, tested_genes=["KRAS", "NRAS"])
    norm(vocab, tested_genes=["KRAS", "NRAS", "HRAS"])
    assert ("KRAS", "NRAS") in lists and ("KRAS", "NRAS", "HRAS") not in lists
    # a prior therapy of at most _LINE_MEMO_MAX_WORDS words (the regimen's place counts as one)
    # and a label as long as kept is kept, a longer one not
    n = case_module._LINE_MEMO_MAX_WORDS - 1
    for k in (n, n + 1):
        norm(vocab, prior_therapies=[{"drugs": ["carboplatin"] * k}])
    assert (None, *["carboplatin"] * n) in lines and (None, *["carboplatin"] * (n + 1)) not in lines
    monkeypatch.setattr(case_module, "_LINE_MEMO_MAX_CHARS", len("carboplatin + pemetrexed"))
    norm(vocab, prior_therapies=[{"drugs": ["carboplatin", "pemetrexed"]}, {"drugs": ["carboplatin", "bevacizumab"]}])
    assert (None, "carboplatin", "pemetrexed") in lines and (None, "carboplatin", "bevacizumab") not in lines


def test_an_unknown_cancer_type_is_reported_with_its_path_and_the_other_problems(vocab):
    assert problems(vocab, cancer_type="LAUD", tested_genes=["KRSA"]) == [
        (("cancer_type",), "unknown cancer type 'LAUD'", "LUAD"), (("tested_genes", 0), "unknown gene 'KRSA'", "KRAS")]


def test_each_gene_has_its_alterations_in_case_order(vocab):
    import dataclasses

    c = norm(vocab, alterations=[{"gene": "KRAS", "variant": "G12C"}, {"gene": "TP53", "variant": "R175H"},
                                 {"gene": "KRAS", "variant": "amplification"}, {"gene": "STK11", "variant": "mutation"}])
    assert list(c.by_gene) == list(dict.fromkeys(a.gene for a in c.alterations)) and len(c.by_gene) == 3
    assert c.by_gene["KRAS"] == tuple(a for a in c.alterations if a.gene == "KRAS") and len(c.by_gene["KRAS"]) == 2
    assert sum(len(v) for v in c.by_gene.values()) == len(c.alterations)
    # a copy with other alterations has its own index; the index is not part of equality
    tp53 = c.by_gene["TP53"]
    d = dataclasses.replace(c, alterations=tp53)
    assert d.by_gene == {"TP53": tp53}
    assert dataclasses.replace(c, id=c.id) == c and norm(vocab).by_gene == {}


@pytest.mark.parametrize("n", [2, 3])
def test_a_case_reads_the_same_whatever_the_order_of_its_alterations_and_prior_therapies(vocab, n):
    """Alterations and prior therapies are kept in one order (gene and label; regimen, then
    setting, outcome, weeks), whatever order the case gives them in: two cases listing the same
    entries are the same case (the results name them in that order), each line keeping its place
    in the history (``seq``)."""
    alts = [{"gene": "TP53", "variant": "R175H"}, {"gene": "KRAS", "variant": "G12C"}, {"gene": "BRAF", "variant": "V600E"}][:n]
    lines = [{"drugs": ["pemetrexed"], "outcome": "progression"}, {"drugs": ["carboplatin"], "setting": "metastatic"},
             {"drugs": ["docetaxel"]}][:n]
    given = norm(vocab, alterations=alts, prior_therapies=lines)
    backwards = norm(vocab, alterations=alts[::-1], prior_therapies=lines[::-1])
    assert [a.gene for a in given.alterations] == sorted(a["gene"] for a in alts)
    assert [ln.label for ln in given.lines] == sorted(ln["drugs"][0] for ln in lines)
    assert given.alterations == backwards.alterations
    assert [(ln.label, ln.seq) for ln in given.lines] == sorted((ln["drugs"][0], i) for i, ln in enumerate(lines))
    assert [ln.label for ln in backwards.lines] == [ln.label for ln in given.lines]


def test_a_cancer_type_that_is_not_a_text_is_reported_not_looked_up(vocab):
    """A case model made without validation (``model_construct``) may hold anything: a cancer
    type that is not a text is a problem at its path, never a look-up in the store of texts."""
    from engine.case import CaseIn

    for bad in (["LUAD"], None, 7):
        case = CaseIn.model_construct(cancer_type=bad)
        with pytest.raises(CaseError) as info:
            normalise(case, vocab, today=DAY)
        assert [p.path for p in info.value.problems] == [("cancer_type",)]


def test_evaluating_a_normalised_case_leaves_it_as_it_was(engine):
    """A normalised case and its lines are plain (not frozen) dataclasses, for speed: nothing may
    change one once made (plans' memos and the batch's reused records rely on it). Every example
    case, evaluated with every text rendered, decided, evaluated by the durable backend and
    explained for every therapy, keeps every field the same object it was."""
    import dataclasses
    import json

    seen = 0
    for path in sorted((Path(__file__).resolve().parents[1] / "cases").glob("*.json")):
        c = engine.normalise(json.loads(path.read_text()), default_id=path.stem)
        before = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}
        lines = [dataclasses.astuple(ln) for ln in c.lines or ()]
        by_gene = dict(c.by_gene)
        engine.evaluate(c).to_json()
        engine.decide(c)
        engine.explain(c, include_all=True)
        if seen < 3:
            engine.evaluate(c, backend="durable").to_json()
        assert {f.name: getattr(c, f.name) for f in dataclasses.fields(c)} == before, path.name
        assert all(getattr(c, k) is v for k, v in before.items()), path.name
        assert [dataclasses.astuple(ln) for ln in c.lines or ()] == lines and c.by_gene == by_gene, path.name
        seen += 1
    assert seen >= 60
