"""A case validated from its JSON text in one step (``engine.case.parse_case_text``) is exactly the
case that decoding the text strictly and validating the value give; every text it does not take
goes that way, and gets the value or the error it always got."""
from __future__ import annotations

import importlib.util
import json
import typing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.batch import run as batch
from engine.case import _FAST_MAX_CHARS, LIMITS, AlterationIn, CaseIn, PriorTherapyIn, parse_case, parse_case_text
from engine.errors import CaseError
from engine.streams.inputs import decode_json

REPO = Path(__file__).resolve().parents[1]
CASES = sorted((REPO / "cases").glob("*.json"))


def _bench():
    spec = importlib.util.spec_from_file_location("kras_bench", REPO / "bench" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def _usual(text: str) -> CaseIn | None:
    try:
        return parse_case(decode_json(text))
    except CaseError:
        return None


def _same(text: str) -> CaseIn | None:
    """``parse_case_text(text)``, checked: None, or the very model of the usual path (same values
    of the same types, same fields given)."""
    fast = parse_case_text(text)
    if fast is not None:
        usual = _usual(text)
        assert usual is not None, f"taken in one step, but the usual path rejects it: {text[:300]}"
        assert repr(fast.model_dump()) == repr(usual.model_dump())
        assert fast.model_fields_set == usual.model_fields_set
        for a, b in zip(fast.alterations, usual.alterations, strict=True):
            assert a.model_fields_set == b.model_fields_set
        for a, b in zip(fast.prior_therapies or (), usual.prior_therapies or (), strict=True):
            assert a.model_fields_set == b.model_fields_set
    return fast


def test_every_example_case_and_generated_case_is_taken_in_one_step_as_the_usual_path_reads_it(engine):
    for f in CASES:
        value = json.loads(f.read_text())
        for text in (f.read_text(), json.dumps(value), json.dumps(value, separators=(",", ":"))):
            assert _same(text) is not None, f.name
    gen = _bench().Generator(engine, seed=31)
    for case in gen.cases(600):
        assert _same(json.dumps(case, separators=(",", ":"))) is not None
        assert _same(json.dumps(case, indent=1)) is not None  # any JSON whitespace


BASE = {"id": "c1", "cancer_type": "LUAD", "stage": "metastatic",
        "alterations": [{"gene": "KRAS", "variant": "G12C"}], "tested_genes": ["KRAS", "EGFR"],
        "prior_therapies": [{"drugs": ["carboplatin", "pemetrexed"], "outcome": "progression", "weeks": 20}],
        "as_of": "2026-06-01"}


def _with(path: tuple, value, base: dict = BASE) -> str:
    case = json.loads(json.dumps(base))
    target = case
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(case)


# (field path, the limit's key): every text and list the strict checks bound
TEXTS = [(("id",), "id"), (("cancer_type",), "cancer_type"), (("jurisdiction",), "jurisdiction"),
         (("alterations", 0, "gene"), "gene"), (("alterations", 0, "variant"), "variant"),
         (("tested_genes", 1), "gene"), (("prior_therapies", 0, "drugs", 0), "drug"),
         (("prior_therapies", 0, "regimen"), "regimen")]
LISTS = [(("alterations",), "alterations", {"gene": "KRAS", "variant": "G12C"}), (("tested_genes",), "tested_genes", "KRAS"),
         (("prior_therapies",), "prior_therapies", {"drugs": ["carboplatin"]}), (("prior_therapies", 0, "drugs"), "drugs", "carboplatin")]


def test_every_limit_is_tried_here():
    """A limit added to LIMITS must be checked by parse_case_text and tried below."""
    literal_texts = {"stage", "origin", "setting", "outcome"}  # (see the test on Literal values)
    assert {k for _, k in TEXTS} | {k for _, k, _ in LISTS} | {"partner"} | literal_texts == set(LIMITS)


@pytest.mark.parametrize("path,key", TEXTS)
def test_a_text_over_its_limit_goes_the_usual_way(path, key):
    limit = LIMITS[key]
    assert _same(_with(path, "x" * limit)) is not None
    over = _with(path, "x" * (limit + 1))
    assert _usual(over) is None and parse_case_text(over) is None


def test_a_partner_over_its_limit_goes_the_usual_way():
    fusion = dict(BASE, alterations=[{"gene": "ALK", "variant": "fusion", "partner": "EML4"}])
    assert _same(json.dumps(fusion)) is not None
    for n, taken in ((LIMITS["partner"], True), (LIMITS["partner"] + 1, False)):
        text = _with(("alterations", 0, "partner"), "P" * n, fusion)
        assert (_same(text) is not None) is taken


@pytest.mark.parametrize("path,key,item", LISTS)
def test_a_list_over_its_limit_goes_the_usual_way(path, key, item):
    limit = LIMITS[key]
    at = _with(path, [item] * limit)
    if len(at) <= _FAST_MAX_CHARS:
        assert _same(at) is not None
    else:  # (a text too long for one step, as a full list of alterations is: the usual way takes it)
        assert parse_case_text(at) is None and _usual(at) is not None
    over = _with(path, [item] * (limit + 1))
    assert _usual(over) is None and parse_case_text(over) is None


def test_the_texts_left_unmeasured_are_a_literal_s_values_within_their_limits():
    """``parse_case_text`` measures every free text; the other text fields take a Literal's values,
    none longer than its limit."""
    fields = {"stage": CaseIn.model_fields["stage"], "origin": AlterationIn.model_fields["origin"],
              "setting": PriorTherapyIn.model_fields["setting"], "outcome": PriorTherapyIn.model_fields["outcome"]}
    def literal_values(tp) -> list:
        if typing.get_origin(tp) is typing.Literal:
            return list(typing.get_args(tp))
        return [v for arg in typing.get_args(tp) for v in literal_values(arg)]

    for key, f in fields.items():
        values = literal_values(f.annotation)
        assert values and all(isinstance(v, str) and len(v) <= LIMITS[key] for v in values), key
    free = {name for model in (CaseIn, AlterationIn, PriorTherapyIn) for name, f in model.model_fields.items()
            if str in (typing.get_args(f.annotation) or (f.annotation,))}
    assert free == {"id", "cancer_type", "jurisdiction", "gene", "variant", "partner", "detail", "regimen"}
    assert "detail" not in LIMITS  # (no limit of its own: the record's size bounds it)


EDGE = [
    # duplicate keys: the decoder rejects them, JSON's validator keeps the last
    '{"cancer_type": "LUAD", "cancer_type": "COAD"}', '{"id": "a", "cancer_type": "LUAD", "id": "b"}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C", "gene": "NRAS"}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": 3, "weeks": 4}]}',
    '{"cancer_type": "LUAD", "id": "a:b"}', '{"cancer_type": "LUAD", "id": "a:b", "id": "c"}',
    '{"cancer_type": "LUAD", "id": "c", "id": "a:b"}', '{"cancer_type": "LUAD", "id": "c:d", "id": "a:b"}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "chr12:g.25398284C>A", "detail": "a:b"}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "x:y", "variant": "G12C"}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a:b"], "regimen": "c:d"}], "tested_genes": ["K:RAS"], "jurisdiction": "F:DA"}',
    '{"cancer_type": "LU:AD", "alterations": [{"gene": "ALK", "variant": "fusion", "partner": "EM:L4"}]}',
    '{"cancer_type": "LUAD", "id": "a\\u003ab"}', '{"cancer_type": "LUAD", "id": "x\\u003a", "id": "y"}',
    # numbers
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": 12}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": 12.5}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": 1e2}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": -0.0}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": NaN}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": Infinity}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": 33.' + "0" * 70 + '}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": 0.' + "0" * 15 + '1}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": "12"}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "copy_number": 1e400}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "copy_number": 1e300}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "copy_number": 1' + "0" * 30 + '}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "copy_number": 1' + "0" * 29 + '}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "copy_number": 1' + "0" * 14 + '}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "copy_number": 6.5, "cna": 2}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "cna": 2.0}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "cna": "2"}]}',
    '{"cancer_type": "LUAD", "id": "1234567890123456789012345"}',
    # booleans and dates as the strict checks want them
    '{"cancer_type": "LUAD", "germline_tested": true}', '{"cancer_type": "LUAD", "germline_tested": "true"}',
    '{"cancer_type": "LUAD", "germline_tested": 1}', '{"cancer_type": "LUAD", "multiagent_candidate": "no"}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C", "acquired": 0}]}',
    '{"cancer_type": "LUAD", "as_of": "2026-12-01"}', '{"cancer_type": "LUAD", "as_of"  :  "2026-12-01"}',
    '{"cancer_type": "LUAD", "as_of": "2026-12-1"}', '{"cancer_type": "LUAD", "as_of": "2026-12-01T00:00:00"}',
    '{"cancer_type": "LUAD", "as_of": "20261201"}', '{"cancer_type": "LUAD", "as_of": 20261201}',
    '{"cancer_type": "LUAD", "as_of": "2026-02-30"}', '{"cancer_type": "LUAD", "as_of": null}',
    '{"id": "as_of", "cancer_type": "LUAD", "as_of": "2026-12-01"}',
    # texts: escapes, non-ASCII, control characters, surrogates
    '{"cancer_type": "LUAD", "id": "a\\"b"}', '{"cancer_type": "LUAD", "id": "a\\\\b"}', '{"cancer_type": "LU\\/AD"}',
    '{"cancer_type": "LUAD", "id": "caf\u00e9"}', '{"cancer_type": "LUAD", "id": "a\tb"}', '{"cancer_type": "LUAD", "id": "\\ud800"}',
    '{"cancer_type": "LUAD", "id": "\\u00e9"}', '{"cancer_type": "LUAD", "id": ""}', '{"cancer_type": ""}',
    # control characters in an id (an error): short escapes the one step would otherwise take
    '{"cancer_type": "LUAD", "id": "a\\tb"}', '{"cancer_type": "LUAD", "id": "a\\nb"}', '{"cancer_type": "LUAD", "id": "a\x7fb"}',
    '{"cancer_type": "LUAD", "id": "\\u001b[2J"}', '{"cancer_type": "LUAD", "id": "a\\u202eb"}',
    # not a case, or not JSON
    '', 'null', '[]', '{}', '"LUAD"', '{"cancer_type": "LUAD"} x', '{"cancer_type": "LUAD"}\x00', '\ufeff{"cancer_type": "LUAD"}',
    '{"cancer_type": "LUAD", "stage": "stage IV"}', '{"cancer_type": "LUAD", "unknown": 1}', '{"cancer_type": "LUAD",}',
    '{"cancer_type": "LUAD", "alterations": null}', '{"cancer_type": "LUAD", "tested_genes": []}',
    '{"cancer_type": "LUAD", "prior_therapies": []}', '{"cancer_type": "LUAD", "prior_therapies": [{"regimen": "FOLFOX"}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": []}]}', '{"cancer_type": "LUAD", "prior_therapies": [{}]}',
    '{"cancer_type": "LUAD", "jurisdiction": "ema"}', '{"cancer_type": "LUAD", "id": null, "stage": null}',
]
# of these, the texts the one step takes: plain cases whatever their spacing, numbers the decoder
# reads alike, colons in any text, escapes other than \\u
TAKEN = {
    '{"cancer_type": "LUAD", "id": "a:b"}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "chr12:g.25398284C>A", "detail": "a:b"}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a:b"], "regimen": "c:d"}], "tested_genes": ["K:RAS"], "jurisdiction": "F:DA"}',
    '{"cancer_type": "LU:AD", "alterations": [{"gene": "ALK", "variant": "fusion", "partner": "EM:L4"}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": 12}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": 12.5}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": 1e2}]}',
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": -0.0}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "copy_number": 1e300}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "copy_number": 1' + "0" * 14 + '}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "copy_number": 6.5, "cna": 2}]}',
    '{"cancer_type": "LUAD", "id": "1234567890123456789012345"}',
    '{"cancer_type": "LUAD", "germline_tested": true}', '{"cancer_type": "LUAD", "as_of": "2026-12-01"}',
    '{"cancer_type": "LUAD", "as_of"  :  "2026-12-01"}', '{"cancer_type": "LUAD", "as_of": null}',
    '{"id": "as_of", "cancer_type": "LUAD", "as_of": "2026-12-01"}',
    '{"cancer_type": "LUAD", "id": "a\\"b"}', '{"cancer_type": "LUAD", "id": "a\\\\b"}', '{"cancer_type": "LU\\/AD"}',
    '{"cancer_type": "LUAD", "tested_genes": []}', '{"cancer_type": "LUAD", "id": ""}',
    '{"cancer_type": "LUAD", "prior_therapies": []}', '{"cancer_type": "LUAD", "prior_therapies": [{"regimen": "FOLFOX"}]}',
    '{"cancer_type": "LUAD", "jurisdiction": "ema"}', '{"cancer_type": "LUAD", "id": null, "stage": null}',
    '{"cancer_type": "LUAD", "prior_therapies": [{}]}',  # a line whose drugs are not given
}


@pytest.mark.parametrize("text", EDGE)
def test_edge_cases_are_read_as_the_usual_path_reads_them(text):
    assert (_same(text) is not None) is (text in TAKEN)


# valid cases the one step leaves to the usual path, as it cannot tell them from invalid ones
LEFT = {
    '{"cancer_type": "LUAD", "id": "a\\u003ab"}', '{"cancer_type": "LUAD", "id": "\\u00e9"}',  # a \\u escape
    '{"cancer_type": "LUAD", "id": "caf\u00e9"}',  # not ASCII
    # a run of 16 digits in a number (a number the decoder might reject as too long)
    '{"cancer_type": "LUAD", "prior_therapies": [{"drugs": ["a"], "weeks": 0.' + "0" * 15 + '1}]}',
    '{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "amp", "copy_number": 1' + "0" * 29 + '}]}',
}
# (cna 2.0 and "2" were once taken by a lax validation; both are errors now: see test_case_errors)


def test_the_valid_cases_left_to_the_usual_path_are_those_it_cannot_tell():
    assert TAKEN <= set(EDGE) and LEFT <= set(EDGE)
    assert {t for t in EDGE if t not in TAKEN and _usual(t) is not None} == LEFT


def _spaced(value, rnd) -> str:
    """``value`` as JSON with random whitespace between tokens."""
    ws = lambda: rnd.choice(["", "", " ", "  ", "\t", "\n", "\r\n"])  # noqa: E731
    if isinstance(value, dict):
        return "{" + ws() + ("," + ws()).join(f"{json.dumps(k)}{ws()}:{ws()}{_spaced(v, rnd)}" for k, v in value.items()) + ws() + "}"
    if isinstance(value, list):
        return "[" + ws() + ("," + ws()).join(_spaced(v, rnd) for v in value) + ws() + "]"
    return json.dumps(value)


texts = st.sampled_from(["KRAS", "G12C", "p.G12C", "x" * 20, "x" * 21, "x" * 50, "x" * 51, "a:b", "a\"b", "", "LUAD", "x" * 201])
numbers = st.one_of(st.integers(-3, 1200), st.floats(allow_nan=False, allow_infinity=False), st.integers(10**14, 10**32))
alteration = st.fixed_dictionaries({"gene": texts, "variant": texts}, optional={
    "origin": st.sampled_from(["somatic", "germline", "other"]), "acquired": st.sampled_from([True, False, None, 1, "true"]),
    "partner": texts, "cna": numbers, "copy_number": numbers, "detail": texts})
therapy = st.fixed_dictionaries({}, optional={
    "drugs": st.lists(texts, max_size=3), "regimen": texts, "setting": st.sampled_from(["adjuvant", "metastatic", "later"]),
    "outcome": st.sampled_from(["progression", "response", "unknown"]), "weeks": numbers})
cases = st.fixed_dictionaries({"cancer_type": texts}, optional={
    "id": texts, "stage": st.sampled_from(["metastatic", "early", "IV"]), "alterations": st.lists(alteration, max_size=3),
    "tested_genes": st.lists(texts, max_size=4), "germline_tested": st.sampled_from([True, False, None, "yes"]),
    "prior_therapies": st.lists(therapy, max_size=3), "as_of": st.sampled_from(["2026-12-01", "2026-2-1", "2026-12-01T00:00:00"]),
    "jurisdiction": st.sampled_from(["FDA", "EMA", "x" * 21])})


@settings(max_examples=400)
@given(cases, st.randoms(use_true_random=False), st.sampled_from([None, "id", "cancer_type", "weeks", "gene"]))
def test_any_case_text_is_read_as_the_usual_path_reads_it(case, rnd, duplicate):
    text = _spaced(case, rnd)
    if duplicate:  # the same key once more, in the object that holds it
        if duplicate in ("id", "cancer_type"):
            text = text[:-1] + f', "{duplicate}": "DUP"}}'
        elif duplicate == "weeks" and case.get("prior_therapies"):
            text = text.replace('"weeks"', '"weeks": 1, "weeks"', 1)
        elif duplicate == "gene" and case.get("alterations"):
            text = text.replace('"gene"', '"gene": "NRAS", "gene"', 1)
    _same(text)


def test_the_batch_writes_the_same_with_and_without_the_one_step(engine, monkeypatch):
    gen = _bench().Generator(engine, seed=37)
    lines = [json.dumps(c, separators=(",", ":")) for c in gen.cases(300)] + [f.read_text() for f in CASES] + EDGE
    taken: list[str] = []
    for fmt in ("json", "tsv"):
        taken.clear()
        monkeypatch.setattr(batch, "parse_case_text", lambda t: taken.append(t) or parse_case_text(t))
        p = batch.Processor(engine, fmt)
        one_step = [p(f"in.jsonl:{i}", line) for i, line in enumerate(lines, 1)]
        assert len(taken) == len(lines)  # (every line is a text: each is tried)
        assert sum(parse_case_text(t) is not None for t in taken) >= 300  # the generated ones at least
        monkeypatch.setattr(batch, "parse_case_text", lambda t: None)
        p = batch.Processor(engine, fmt)
        usual = [p(f"in.jsonl:{i}", line) for i, line in enumerate(lines, 1)]
        assert one_step == usual
