"""Bad input: one clear message naming the field path and the likely intended value."""
from __future__ import annotations

import pytest

from engine.errors import CaseError, EngineError


def problems(engine, case) -> list[str]:
    with pytest.raises(CaseError) as info:
        engine.evaluate(case)
    return [p.render() for p in info.value.problems]


@pytest.mark.parametrize(
    "case,expected",
    [
        ({"cancer_type": "NSCLCC"}, "cancer_type: unknown cancer type 'NSCLCC' (did you mean 'NSCLC'?)"),
        ({"cancer_type": "LUAD", "alterations": [{"gene": "KRSA", "variant": "G12C"}]}, "alterations[0].gene: unknown gene 'KRSA'"),
        ({"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["sotorasb"]}]}, "prior_therapies[0].drugs[0]: unknown"),
        ({"cancer_type": "LUAD", "stage": "metastasis"}, "stage: "),
        ({"cancer_type": "LUAD", "as_of": "2021-13-45"}, "as_of: no such day: '2021-13-45'"),
        ({"cancer_type": "LUAD", "alteration": []}, "alteration: unknown field 'alteration' (did you mean 'alterations'?)"),
        ({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C", "aquired": True}]}, "alterations[0].aquired: unknown field 'aquired' (did you mean 'acquired'?)"),
        ({"cancer_type": "LUAD", "alterations": "KRAS G12C"}, "alterations: "),
        ({"alterations": []}, "cancer_type: required field is missing"),
        ({"cancer_type": "LUAD", "prior_therapies": [{"drugs": [], "setting": "metastatic"}]},
         "prior_therapies[0]: a prior therapy's 'drugs' is a non-empty list and its 'regimen' a name; leave both out"),
        ({"cancer_type": "PAAD", "multiagent_candidate": "yes"}, "multiagent_candidate: expected true or false, got the text 'yes' (did you mean true, without quotes?)"),
        ({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amplification", "cna": True}]},
         "alterations[0].cna: cna is a whole number from -2 to 2, got true"),
        ({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amplification", "cna": 2.0}]},
         "alterations[0].cna: cna is a whole number from -2 to 2, got 2.0"),
        ({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amplification", "copy_number": "3"}]},
         "alterations[0].copy_number: copy_number is a JSON number, got '3'"),
        ({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12X"}]},
         "alterations[0].variant: 'G12X': 'X' is read two ways"),
        ({"cancer_type": "PAAD", "multiagent_candidate": None, "multiagent_candidat": False},
         "multiagent_candidat: unknown field 'multiagent_candidat' (did you mean 'multiagent_candidate'?)"),
    ],
)
def test_message_names_path_and_suggestion(engine, case, expected):
    got = problems(engine, case)
    assert any(expected in g for g in got), got


def test_typo_in_drug_suggests_the_drug(engine):
    got = problems(engine, {"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["sotorasb"]}]})
    assert "sotorasib" in got[0]


def test_malformed_variant_is_an_error(engine):
    got = problems(engine, {"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12"}]})
    assert got[0].startswith("alterations[0].variant:")


def test_variant_not_belonging_to_gene(engine):
    got = problems(engine, {"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "V600E"}]})
    assert got[0].startswith("alterations[0].variant:") and "KRAS" in got[0]


def test_every_problem_is_reported_at_once(engine):
    got = problems(engine, {"cancer_type": "NSCLCC", "alterations": [{"gene": "KRSA", "variant": "G12C"}],
                            "prior_therapies": [{"drugs": ["sotorasb"]}]})
    assert len(got) == 3


def test_germline_contradiction(engine):
    got = problems(engine, {"cancer_type": "PAAD", "germline_tested": False,
                            "alterations": [{"gene": "BRCA2", "variant": "E1953*", "origin": "germline"}]})
    assert got[0].startswith("germline_tested:")


def test_not_an_object(engine):
    with pytest.raises(CaseError):
        engine.evaluate(["LUAD"])


def test_errors_are_engine_errors(engine):
    with pytest.raises(EngineError):
        engine.evaluate({"cancer_type": 12})


@pytest.mark.parametrize("cid, meant", [
    ("luad-1\x1b[2J", "luad-1[2J"),  # ESC: clears a terminal
    ("pt\u202e7-dua", "pt7-dua"),  # a bidi override: shows the rest reversed
    ("a\tb", "ab"), ("a\nb", "ab"), ("x\x7f", "x"), ("\x85case", "case"), ("\u2066id\u2069", "id"),
    ("\x1b", None),
])
def test_an_id_with_control_characters_is_an_error_suggesting_it_without_them(engine, cid, meant):
    with pytest.raises(CaseError) as info:
        engine.evaluate({"id": cid, "cancer_type": "LUAD"})
    (problem,) = info.value.problems
    assert problem.path == ("id",) and problem.suggestion == meant
    rendered = problem.render()
    assert rendered.startswith("id: ") and rendered.isprintable()


@pytest.mark.parametrize("cid", [
    "caf\u00e9 7", "\u6f22\u5b57-1", "a b:c/d",
    # invisible characters of ordinary writing: a zero-width non-joiner (Persian), a zero-width
    # joiner (Devanagari, an emoji sequence), directional marks (Hebrew, Arabic), a soft hyphen,
    # the tag characters of a subdivision flag, a no-break space
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0915\u094d\u200d\u0937", "pt-\U0001f469\u200d\U0001f52c",
    "\u05d7\u05d5\u05dc\u05d4\u200f-1", "\u0645\u0631\u064a\u0636\u061c-2", "pa\u00adtient",
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "a\u00a0b",
])
def test_an_id_of_printable_characters_and_spaces_is_accepted(engine, cid):
    assert engine.evaluate({"id": cid, "cancer_type": "LUAD"}).case_id == cid


def test_an_in_situ_cancer_type_cannot_have_spread(engine):
    """A non-invasive (in situ) type with a locally advanced or metastatic stage contradicts
    itself: the error names the stage, the type, the invasive type it belongs to and 'early'."""
    got = problems(engine, {"cancer_type": "CAIS", "stage": "metastatic", "tested_genes": ["KRAS", "NRAS"]})
    assert len(got) == 1 and got[0].startswith("stage: stage 'metastatic' contradicts cancer_type CAIS")
    assert "COADREAD" in got[0] and "did you mean 'early'" in got[0]
    for ok in ({"cancer_type": "CAIS", "stage": "early"}, {"cancer_type": "CAIS"}, {"cancer_type": "COADREAD", "stage": "metastatic"}):
        assert engine.evaluate(ok) is not None
