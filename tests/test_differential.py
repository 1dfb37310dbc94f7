"""The durable-rules backend against the default backend, and the default backend's compiled
plans (engine.evaluation.plancode) against its interpreter, on hypothesis-generated cases (and,
on the same cases, each alteration leaf read by a loop of its own against its general reading).

The three must give identical results, field for field, for every valid case (and
``Engine.decide``, by either inference, the decided fields of those results): the varied
cases of :func:`engine.testing.cases` and the cases on the edges of each rule of
:func:`engine.testing.boundary_cases`. The compiled and interpreted paths are compared whether or
not durable-rules can be used; the durable backend joins the comparison when it can. Under the
``ci`` profile (the default) this runs
``CI_EXAMPLES`` cases; under another profile, that profile's number (``long``: 100,000;
``--hypothesis-profile=long`` or ``KRAS_HYPOTHESIS_PROFILE=long``, see ``tests/conftest.py``).

The durable comparison is skipped, with the reason, while the durable backend cannot be used
(durable-rules not installed, or the backend not available).
"""
from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from engine.api import default_engine
from engine.errors import UsageError
from engine.result import Decisions
from engine.testing import boundary_cases, cases

ENGINE = default_engine()

CI_EXAMPLES = 5_000


def examples_for_this_profile() -> int:
    """``CI_EXAMPLES`` under the ``ci`` profile, otherwise the loaded profile's own number."""
    current = settings().max_examples
    try:
        ci = settings.get_profile("ci").max_examples
    except InvalidArgument:
        ci = None
    return CI_EXAMPLES if current == ci else current


PROBE = {"cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
         "prior_therapies": [{"drugs": ["carboplatin", "pemetrexed"]}], "as_of": "2026-07-01"}


def _durable_unusable() -> str | None:
    """Why the durable backend of the shipped rule base cannot be used, or None."""
    try:
        ENGINE.evaluate(PROBE, backend="durable")
    except (ImportError, NotImplementedError, UsageError) as exc:  # durable-rules absent or unusable
        return f"durable backend not available: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="module")
def durable_unusable():
    return _durable_unusable()


@pytest.fixture(scope="module")
def durable(durable_unusable):
    """The durable backend of the shipped rule base, or a skip saying why it cannot be used."""
    if durable_unusable:
        pytest.skip(durable_unusable)
    return ENGINE


def test_the_durable_backend_is_compared(durable):
    """Skips, saying why, when the differential test below cannot include the durable backend."""
    assert ENGINE.evaluate(PROBE, backend="durable").model_dump() == ENGINE.evaluate(PROBE).model_dump()


def differences(a: dict, b: dict, path: str = "") -> list[str]:
    """Where two JSON-like values differ, as readable paths (for the failure message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += differences(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}" if path else str(k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: default {json.dumps(a, default=str)[:200]} / durable {json.dumps(b, default=str)[:200]}"]


@pytest.mark.longest  # (two minutes: started first, on the worker the exhaustive check leaves)
@settings(max_examples=examples_for_this_profile())
@given(st.one_of(cases(ENGINE), boundary_cases(ENGINE)))
@example(PROBE)
@example({"cancer_type": "COADREAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
          "tested_genes": ["KRAS", "NRAS", "BRAF"], "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}],
          "as_of": "2024-06-21"})
@example({"cancer_type": "COADREAD", "stage": "metastatic", "tested_genes": ["KRAS", "NRAS"],
          "prior_therapies": [], "as_of": "2017-02-05"})
@example({"cancer_type": "PAAD", "stage": "metastatic", "germline_tested": True,
          "alterations": [{"gene": "BRCA2", "variant": "loss", "origin": "germline"}],
          "prior_therapies": [{"drugs": ["cisplatin"], "setting": "metastatic", "weeks": 16, "outcome": "stable"}],
          "as_of": "2026-07-01", "jurisdiction": "EMA"})
def test_compiled_interpreted_and_durable_give_the_same_result(durable_unusable, case):
    norm = ENGINE.normalise(case)
    _fast_leaves_read_as_their_general_reading(norm, case)
    default = ENGINE.evaluate(norm, backend="interpreted").model_dump()
    compiled_result = ENGINE.evaluate(norm, backend="compiled")
    compiled = compiled_result.model_dump()
    assert compiled == default, "compiled plan / interpreter:\n" + "\n".join(differences(default, compiled)[:20])
    # the decided fields alone (Engine.decide: what a TSV row reads), by either inference
    decided = Decisions.of(compiled_result)
    assert ENGINE.decide(norm, backend="interpreted") == decided == ENGINE.decide(norm, backend="compiled")
    if durable_unusable is None:
        other = ENGINE.evaluate(norm, backend="durable").model_dump()
        assert other == default, "\n".join(differences(default, other)[:20])


#: the leaves read by a loop of their own (engine.conditions.alteration: named variants, or a kind),
#: each keeping the general reading it stands for
FAST = [a for a in ENGINE.program.atoms if hasattr(a.fn, "reference")]


def test_the_commonest_alteration_leaves_have_a_reading_of_their_own():
    kinds = {(a.key[2] is not None, a.key[5], a.key[9] is not None) for a in FAST}  # (variants, kind, acquired on)
    assert {(True, None, False), (True, None, True), (False, "mutation", False), (False, "fusion", True),
            (False, "amplification", False)} <= kinds, kinds
    assert all(a.kind == "alteration" for a in FAST)


def _fast_leaves_read_as_their_general_reading(norm, case) -> None:
    for a in FAST:
        assert a.fn(norm) is a.fn.reference(norm), (a.key, case)


@pytest.mark.parametrize("case", [
    {"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "mutation"}, {"gene": "KRAS", "variant": "Y96D"}],
     "prior_therapies": [{"drugs": ["sotorasib"]}, {"setting": "metastatic"}]},
    {"cancer_type": "COADREAD", "tested_genes": ["KRAS"], "alterations": [
        {"gene": "KRAS", "variant": "amplification", "acquired": True}, {"gene": "BRAF", "variant": "fusion", "origin": "germline"}],
     "prior_therapies": [{"drugs": ["sotorasib", "panitumumab"], "outcome": "progression"}]}])
def test_each_fast_leaf_reads_as_its_general_reading(case):
    """Each leaf read by a loop of its own gives the general reading it stands for: on these
    cases, and on every generated case of the differential test above (the same draws, so the
    generation is paid once)."""
    _fast_leaves_read_as_their_general_reading(ENGINE.normalise(case), case)


def test_without_durable_rules_the_backend_raises_an_import_error(monkeypatch):
    """What the ``durable`` fixture relies on to skip: with durable-rules absent, asking for the
    backend raises an ImportError (that is also the engine's usage error, for the command line)."""
    import sys

    from engine.api import Engine

    for name in [m for m in sys.modules if m == "durable" or m.startswith(("durable.", "engine.durable"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "durable", None)  # as if not installed
    with pytest.raises(ImportError) as info:
        Engine(ENGINE.rulebase.directory).evaluate(PROBE, backend="durable")
    assert isinstance(info.value, UsageError) and "durable-rules" in str(info.value)
