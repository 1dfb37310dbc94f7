"""A label's "deleterious or suspected deleterious" germline BRCA1/2 variant (olaparib in
pancreatic cancer): the variant's classification decides where the case gives one, else the change
itself; a missense change nobody classified is not taken for a pathogenic one (unknown is not
true), and a benign one shows germline testing was done."""
from __future__ import annotations

import json

import pytest

from engine.errors import CaseError

HISTORY = [{"regimen": "FOLFIRINOX", "setting": "metastatic", "outcome": "stable", "weeks": 18}]


def _pdac(brca: dict, **over) -> dict:
    case = {"id": "p", "cancer_type": "PAAD", "stage": "metastatic",
            "alterations": [{"gene": "KRAS", "variant": "G12D"}, dict(brca, origin="germline")],
            "prior_therapies": HISTORY, "as_of": "2026-07-01"}
    case.update(over)
    return case


def _olaparib(engine, case, backend: str = "default"):
    res = engine.evaluate(case, backend=backend)
    return res.option("olaparib")


@pytest.mark.parametrize("backend", ["default", "durable"])
@pytest.mark.parametrize("brca, verdict", [
    ({"gene": "BRCA2", "variant": "p.N372H"}, "conditional"),  # a common polymorphism, unclassified
    ({"gene": "BRCA2", "variant": "p.N372H", "classification": "benign"}, None),
    ({"gene": "BRCA2", "variant": "p.N372H", "classification": "uncertain_significance"}, None),
    ({"gene": "BRCA1", "variant": "p.C61G", "classification": "likely_pathogenic"}, "eligible"),
    ({"gene": "BRCA2", "variant": "p.E1953*"}, "eligible"),  # a stop gained: suspected deleterious
    ({"gene": "BRCA2", "variant": "p.S1982Rfs*22"}, "eligible"),  # a frameshift
    ({"gene": "BRCA2", "variant": "p.K3326*", "classification": "benign"}, None),  # the known benign stop
    ({"gene": "BRCA1", "variant": "loss"}, "eligible"),
    ({"gene": "BRCA1", "variant": "mutation"}, "eligible"),  # the report's word, not spelled out
])
def test_olaparib_reads_the_variant_classification_or_else_the_change(engine, brca, verdict, backend):
    if backend == "durable":
        pytest.importorskip("durable")
    opt = _olaparib(engine, _pdac(brca, germline_tested=True), backend)
    assert (opt.verdict if opt else None) == verdict
    if verdict == "conditional":
        assert opt.missing == ["whether BRCA2 N372H (germline) is pathogenic (its classification)"]
        assert "N372H" in opt.explanation


def test_a_classified_variant_shows_germline_testing_was_done(engine):
    # no germline_tested field: a benign germline BRCA2 variant listed says the testing was done
    case = _pdac({"gene": "BRCA2", "variant": "p.N372H", "classification": "benign"})
    assert _olaparib(engine, case) is None
    # nothing germline listed and germline_tested not given: unknown, as before
    case = _pdac({"gene": "KRAS", "variant": "G12D"})
    case["alterations"] = case["alterations"][:1]
    opt = _olaparib(engine, case)
    assert opt is not None and opt.verdict == "conditional" and opt.missing == ["germline testing"]


def test_a_classification_is_one_of_five_words_and_a_slip_is_named(engine):
    with pytest.raises(CaseError) as exc:
        engine.evaluate(_pdac({"gene": "BRCA2", "variant": "p.N372H", "classification": "Likely pathogenic"}))
    (p,) = exc.value.problems
    assert p.path == ("alterations", 1, "classification")
    assert "likely_pathogenic" in p.message


def test_text_names_the_classification(engine):
    from engine.formats import text as render_text

    res = engine.evaluate(_pdac({"gene": "BRCA1", "variant": "p.C61G", "classification": "pathogenic"}))
    text = render_text(res)
    assert "BRCA1 C61G (germline, pathogenic)" in text
    assert json.loads(res.to_json())["options"]  # (JSON unchanged in shape)
