"""The fast JSON path (engine.streams.codec) gives exactly what the plain path gives: the same bytes for
every result, the same value or the same error for every decoded text."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_serializer

from engine.streams import codec

orjson = pytest.importorskip("orjson")

REPO = Path(__file__).resolve().parents[1]
CASES = sorted((REPO / "cases").glob("*.json"))

try:  # the batch path's strict decoder, where the engine has one
    from engine.streams.inputs import decode_json as STRICT
except ImportError:
    STRICT = json.loads


def _bench():
    spec = importlib.util.spec_from_file_location("kras_bench", REPO / "bench" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_the_fast_path_is_there():
    assert codec.FAST  # orjson is declared in the test extra: a missing one would test nothing here


# --------------------------------------------------------------------------- results


def _same_result(res) -> None:
    assert codec.result_json(res) == res.model_dump_json()
    assert codec.encode_json(res) == res.model_dump_json().encode("utf-8")


def test_every_example_case_encodes_to_the_same_bytes(engine):
    for f in CASES:
        case = json.loads(f.read_text())
        _same_result(engine.evaluate(case))
        _same_result(engine.evaluate(case, as_of="2021-01-01"))


def test_generated_cases_encode_to_the_same_bytes(engine):
    gen = _bench().Generator(engine, seed=11)
    for case in gen.cases(1500):
        _same_result(engine.evaluate(case))


NON_ASCII = ["naïve-ü", "漢字", "emoji-😀", "line\u2028sep", "del\x7f", "tab\tnew\nline", 'quote"back\\slash',
             "nul\x00", "\ufeffbom", "é" * 150]


def _with_id(res, text: str):
    """``res`` naming the case ``text``: a case's id may hold no control characters (an error
    naming ``id``), so a text of any character is put into the result itself, as code that
    builds a result from Python may."""
    return res.model_copy(update={"case_id": text})


@pytest.mark.parametrize("text", NON_ASCII)
def test_non_ascii_and_control_characters_in_a_result(engine, text):
    case = json.loads(CASES[0].read_text())
    _same_result(_with_id(engine.evaluate(case), text))


@settings(max_examples=200)
@given(st.text(max_size=40))
def test_any_case_id_encodes_the_same_or_fails_the_same(text):
    from engine.api import default_engine

    case = json.loads(CASES[1].read_text())
    res = _with_id(default_engine().evaluate(case), text)
    try:
        want = ("ok", res.model_dump_json())
    except Exception as exc:  # a lone surrogate: the plain path's own error, unchanged
        want = ("error", type(exc))
    try:
        got = ("ok", codec.result_json(res))
    except Exception as exc:
        got = ("error", type(exc))
    assert got == want


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: float
    tags: list[str] = []


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    value: float
    maybe: float | None = None
    items: list[Inner] = []
    table: dict[str, float | None] = {}
    flag: bool = False
    count: int = 0


def _fast(cls, fields: dict, order: list[str]):
    """A model built the way the engine builds its results (no validation), fields in ``order``."""
    m = cls.__new__(cls)
    object.__setattr__(m, "__dict__", {k: fields[k] for k in order})
    object.__setattr__(m, "__pydantic_fields_set__", set(fields))
    object.__setattr__(m, "__pydantic_extra__", None)
    object.__setattr__(m, "__pydantic_private__", None)
    return m


floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e16, 1e-7, 0.1, 1 / 3, 5e-324, 1.7976931348623157e308, 123456789.125, 1e22, 2.5e-5])


@settings(max_examples=300)
@given(name=st.text(max_size=12), value=floats, maybe=st.none() | floats,
       xs=st.lists(floats, max_size=4), table=st.dictionaries(st.text(max_size=5), st.none() | floats, max_size=4),
       count=st.integers(-2**70, 2**70), flag=st.booleans(), shuffle=st.randoms())
def test_floats_and_nested_models_encode_as_pydantic_does(name, value, maybe, xs, table, count, flag, shuffle):
    fields = dict(name=name, value=value, maybe=maybe, items=[Inner(x=x, tags=[name]) for x in xs], table=table,
                  flag=flag, count=count)
    order = list(fields)
    shuffle.shuffle(order)
    partial = order[: shuffle.randint(1, len(order))]  # pydantic writes the fields present, in their order
    for m in (Outer(**fields), _fast(Outer, fields, order), _fast(Outer, fields, partial)):
        try:
            want = ("ok", m.model_dump_json())
        except Exception as exc:
            want = ("error", type(exc))
        try:
            got = ("ok", codec.result_json(m))
        except Exception as exc:
            got = ("error", type(exc))
        assert got == want


class WithComputed(BaseModel):
    a: int

    @computed_field
    @property
    def b(self) -> int:
        return self.a * 2


class WithSerializer(BaseModel):
    a: float

    @field_serializer("a")
    def _a(self, v):
        return round(v, 1)


class WithAlias(BaseModel):
    a: int = Field(serialization_alias="A")


class Holder(BaseModel):
    inner: WithComputed
    other: list[WithSerializer]
    aliased: WithAlias


def test_a_model_that_is_not_plain_data_goes_the_plain_way():
    m = Holder(inner=WithComputed(a=2), other=[WithSerializer(a=1.26)], aliased=WithAlias(a=3))
    assert codec.result_json(m) == m.model_dump_json()
    assert codec._learn(WithComputed) is None and codec._learn(WithSerializer) is None
    assert codec._learn(Inner) == {"x", "tags"}


class SharedLeaf(BaseModel):
    model_config = ConfigDict(frozen=True)
    WRITTEN_ONCE: ClassVar[bool] = True
    name: str
    size: int | None = None
    tags: tuple[str, ...] = ()


class MutableLeaf(BaseModel):
    model_config = ConfigDict(frozen=True)
    WRITTEN_ONCE: ClassVar[bool] = True
    name: str
    items: list[str] = []  # frozen, but its list can change: never written once for all


class Tree(BaseModel):
    leaves: list[SharedLeaf]
    loose: list[MutableLeaf] = []


class PlainFrozen(BaseModel):  # frozen and immutable, but its class does not ask to be written once
    model_config = ConfigDict(frozen=True)
    name: str


class Tree2(BaseModel):
    leaves: list[PlainFrozen]


def test_an_immutable_model_shared_between_results_is_written_once_and_always_right():
    """Frozen plain models whose every field is immutable and whose class says they are written
    once (the engine's citations) are written once and their text reused while the object lives;
    a frozen model holding a list is written afresh every time, as is one whose class does not say
    so (criteria: made per case profile, too many to keep); an object at an address a former one
    had gets its own text."""
    from engine.result import CitationOut, Criterion, Option

    for cls in (CitationOut, Criterion, Option):
        codec._learn(cls)
    assert CitationOut in codec._SHARED and Criterion not in codec._SHARED and Option not in codec._SHARED
    unmarked = Tree2(leaves=[PlainFrozen(name="p")])
    assert codec.result_json(unmarked) == unmarked.model_dump_json() and PlainFrozen not in codec._SHARED
    leaf = SharedLeaf(name="a", size=1, tags=("x", "y"))
    loose = MutableLeaf(name="m", items=["1"])
    tree = Tree(leaves=[leaf, leaf], loose=[loose])
    assert codec.result_json(tree) == tree.model_dump_json()
    assert SharedLeaf in codec._SHARED and MutableLeaf not in codec._SHARED
    assert codec._FRAGMENTS[id(leaf)][0] is leaf
    loose.items.append("2")
    assert codec.result_json(tree) == tree.model_dump_json()
    # an entry left by another object at the same address is not used
    other = SharedLeaf(name="b")
    stale = SharedLeaf(name="stale")
    codec._FRAGMENTS[id(other)] = (stale, orjson.Fragment(orjson.dumps({"name": "stale"})))
    t2 = Tree(leaves=[other])
    assert codec.result_json(t2) == t2.model_dump_json() and '"b"' in codec.result_json(t2)
    # the store is bounded
    kept = dict(codec._FRAGMENTS)
    try:
        codec._FRAGMENTS.update({-i: (None, None) for i in range(1, codec.MAX_FRAGMENTS - len(codec._FRAGMENTS) + 1)})
        fresh = SharedLeaf(name="c")
        assert codec.result_json(Tree(leaves=[fresh])) == Tree(leaves=[fresh]).model_dump_json()
        assert len(codec._FRAGMENTS) == 1 and id(fresh) in codec._FRAGMENTS
    finally:
        codec._FRAGMENTS.clear()
        codec._FRAGMENTS.update(kept)


class LooseLeaf(BaseModel):  # every field immutable, but the model is not frozen: it may be changed
    WRITTEN_ONCE: ClassVar[bool] = True
    name: str
    size: int | None = None


class MaybeListLeaf(BaseModel):
    model_config = ConfigDict(frozen=True)
    WRITTEN_ONCE: ClassVar[bool] = True
    name: str
    items: list[str] | None = None  # frozen, but a list may be there, and change


def test_a_model_that_may_change_is_written_afresh_every_time():
    """A model that is not frozen, or whose field may hold a list (even as one choice of a union),
    is not written once for all: a change made between two writings is in the second."""
    loose = LooseLeaf(name="a", size=1)
    maybe = MaybeListLeaf(name="m", items=["1"])
    assert codec.result_json(loose) == loose.model_dump_json()
    assert codec.result_json(maybe) == maybe.model_dump_json()
    assert LooseLeaf not in codec._SHARED and MaybeListLeaf not in codec._SHARED
    loose.size = 2
    maybe.items.append("2")
    assert codec.result_json(loose) == '{"name":"a","size":2}' == loose.model_dump_json()
    assert codec.result_json(maybe) == '{"name":"m","items":["1","2"]}' == maybe.model_dump_json()


def test_plain_models_and_shared_ones_are_written_by_orjson_not_by_the_plain_path(monkeypatch):
    """The plain path is only the fallback: a plain model, and a shared model written again (within
    one result and in the next), are written by orjson, the shared one from the text it was given
    the first time."""
    leaf = SharedLeaf(name="a", size=1, tags=("x",))
    tree = Tree(leaves=[leaf, leaf], loose=[MutableLeaf(name="m", items=["1"])])
    outer = Outer(name="n", value=0.5, maybe=None, items=[Inner(x=1.5, tags=["t"])], table={"k": None}, count=3)
    want_tree, want_outer = tree.model_dump_json(), outer.model_dump_json()

    def plain(self, **kw):
        raise AssertionError("written by the plain path")

    for cls in (Tree, Outer):
        monkeypatch.setattr(cls, "model_dump_json", plain)
    assert codec.result_json(outer) == want_outer
    assert codec.result_json(tree) == want_tree
    text = codec._FRAGMENTS[id(leaf)][1]
    assert codec.encode_json(tree) == want_tree.encode("utf-8")
    assert codec._FRAGMENTS[id(leaf)] == (leaf, text) and codec._FRAGMENTS[id(leaf)][1] is text


# --------------------------------------------------------------------------- decoding


def _outcome(fn, text):
    try:
        return "ok", repr(fn(text))  # repr: exact types (1 is not 1.0 nor True), key order
    except Exception as exc:
        return "error", type(exc).__name__, str(exc)


def _same_decode(text: str) -> None:
    assert _outcome(lambda t: codec.decode(t, STRICT), text) == _outcome(STRICT, text)


def test_every_example_case_and_generated_line_decodes_the_same(engine):
    for f in CASES:
        text = f.read_text()
        _same_decode(text)
        _same_decode(json.dumps(json.loads(text), ensure_ascii=False))
    gen = _bench().Generator(engine, seed=3)
    for case in gen.cases(1000):
        _same_decode(json.dumps(case, separators=(",", ":")) + "\n")
        _same_decode(json.dumps(case, ensure_ascii=False))


EDGE = [
    '{"a": 1, "a": 2}', '{"a": {"b": 1, "b": 1}}', '{"a": "x:y", "a": 3}', '{"a:b": 1}', '{"a": "\\u003a", "a": 1}',
    '{"weeks": 12.5}', '{"weeks": 1e2}', '{"weeks": 1E2}', '{"n": 12345678901234567890123}', '{"n": 18446744073709551616}',
    '{"n": -9223372036854775809}', '{"n": 1' + "0" * 40 + '}', '{"x": 1e400}', '{"x": NaN}', '{"x": -Infinity}',
    '"\\ud800"', '"\\udc80"', '"\\ud83d\\ude00"', '\ufeff{}', '{"a": "x\ty"}', '[1,]', '{"a":1}\x00', '{"a":1} {"b":2}',
    '{"a": "\udc80"}', '{"a": "\ud800"}', "", "   ", "null", "true", "[]", "{}", '"text"', "-0", "-0.0", "0", "1.0",
    "[" * 20 + "]" * 20, "[" * 17 + "]" * 17, "[" * 16 + "]" * 16, "[" * 2000 + "]" * 2000, '{"a":' * 30 + "1" + "}" * 30,
    '{"id": "gen-1e5"}', '{"id": "v2.0"}', '{"id": "x", "tested_genes": ["KRAS", "NRAS"]}', '{"a": "é", "b": "é"}',
    '{"é": 1, "é": 2}', '{"a": [1, 2, {"b": [3, {"c": null}]}]}', '{"a" : 1 , "a" : 2}', '{"a":1,\n"a":2}',
    '{"a": "\\\\u0041"}', '{"a": "\\"", "a": 1}',
    # texts that look like floats to the byte scan, beside floats at any depth
    '{"variant": "p.V600E"}', '{"variant": "p.V600E", "weeks": 12.5}', '[{"a": "G13E"}, [[{"b": [1e2]}]]]',
    '{"a": "1.5", "b": [2.5]}', '{"a": "x1e5", "b": {"c": -0.0}}', '[[0.1]]', '{"a": "9E9", "b": 1E400}',
    # an escaped colon in the value kept makes up for the colon of the duplicate dropped
    '{"a": 1, "a": "\\u003a"}',
    # duplicates inside a list
    '[{"a": 1, "a": 2}]', '[1, {"b": {"c": 1, "c": 2}}]',
]


@pytest.mark.parametrize("text", EDGE)
def test_edge_cases_decode_the_same_or_fail_the_same(text):
    _same_decode(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**80, 2**80) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400)
@given(json_values, st.booleans(), st.booleans())
def test_any_json_value_decodes_the_same(value, ascii_only, compact):
    text = json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":") if compact else None)
    _same_decode(text)


@settings(max_examples=400)
@given(st.text(alphabet=st.sampled_from(list('{}[]:,"\\u0123456789.eE-+ abnlrtfsux\x00\ud800é')), max_size=30))
def test_any_text_decodes_the_same_or_fails_the_same(text):
    _same_decode(text)


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(["a", "b", "c:d", "é"]), st.integers(0, 3) | st.text(max_size=3), min_size=1, max_size=3),
       st.sampled_from(["a", "b", "c:d", "é"]), st.integers(0, 3) | st.text(alphabet="x:é", max_size=3))
def test_a_duplicated_key_is_always_seen(obj, key, value):
    body = json.dumps(obj, ensure_ascii=False)[:-1]
    text = body + ", " + json.dumps(key, ensure_ascii=False) + ": " + json.dumps(value, ensure_ascii=False) + "}"
    _same_decode(text)


def test_the_batch_writes_the_same_bytes_with_and_without_the_fast_path(engine, monkeypatch):
    from engine.batch import run as batch

    gen = _bench().Generator(engine, seed=5)
    lines = [json.dumps(c, separators=(",", ":")) + "\n" for c in gen.cases(400)]
    lines += [f.read_text() for f in CASES] + EDGE + ['{"id": "x", "cancer_type": "LUAD", "id": "y"}\n']
    # (every line decoded: none validated from its text in one step, tests/test_case_text.py)
    monkeypatch.setattr(batch, "parse_case_text", lambda text: None)
    for fmt in ("json", "tsv"):
        p = batch.Processor(engine, fmt)
        fast = [p(f"in.jsonl:{i}", line) for i, line in enumerate(lines, 1)]
        with monkeypatch.context() as m:
            m.setattr(batch, "fast_decode", lambda text, plain: plain(text))
            m.setattr(batch, "encode_json", lambda res: res.model_dump_json().encode("utf-8"))
            plain = [p(f"in.jsonl:{i}", line) for i, line in enumerate(lines, 1)]
        assert fast == plain


def _fast_only(text: str):
    """``decode`` with a plain decoder that must not be called: the value orjson gave."""
    def plain(t):
        raise AssertionError("decoded by the plain decoder")

    return codec.decode(text, plain)


def test_plain_data_is_decoded_by_orjson_not_by_the_plain_decoder():
    """The plain decoder is only the fallback: a text with no escape, float, 19-digit integer or
    duplicate key, nested no deeper than MAX_DEPTH and no longer than MAX_TEXT is orjson's, with
    the strict decoder's value (more braces than MAX_DEPTH, a depth of exactly MAX_DEPTH and a text
    of exactly MAX_TEXT characters included)."""
    case = json.loads(CASES[0].read_text())
    case["alterations"] = [{"gene": "KRAS", "variant": f"G{i}C", "vaf": i} for i in range(codec.MAX_DEPTH + 2)]
    # nested exactly MAX_DEPTH deep, with more brackets than that
    deepest = "[" * (codec.MAX_DEPTH - 1) + '{"a": 1}, {"b": 2}' + "]" * (codec.MAX_DEPTH - 1)
    assert deepest.count("[") + deepest.count("{") > codec.MAX_DEPTH
    assert _outcome(STRICT, deepest)[0] == "ok" and _outcome(STRICT, "[" + deepest + "]")[0] == "error"  # one level more
    texts = [CASES[0].read_text(), json.dumps(case), json.dumps(case, separators=(",", ":"), ensure_ascii=False),
             deepest, "[" + ", ".join(["[" * 8 + "1" + "]" * 8] * 3) + "]", '["é", {"k": [1, -2, 123456789012345678]}]',
             '{"a": {}, "b": [], "c": "x:y"}', "[]", "{}", '{"n": 0, "m": -0}', '"' + "a" * (codec.MAX_TEXT - 2) + '"',
             # digits before ".", "e" or "E" in texts only: no float in the value
             '{"id": "v2.0", "alterations": [{"gene": "BRAF", "variant": "p.V600E"}, {"gene": "KRAS", "variant": "G13E"}]}',
             '[[["9e9", 1], {"k": "1.5"}], 3]', '"p.V600E"']
    for text in texts:
        assert repr(_fast_only(text)) == repr(STRICT(text)), text[:80]


@pytest.mark.parametrize("text", ['{"weeks": 12.5}', '[{"a": "G13E"}, [[{"b": [1e2]}]]]', '{"a": "x", "b": {"c": -0.0}}',
                                  '{"variant": "p.V600E", "weeks": 1E5}', "2.5", '[0.1]'])
def test_a_float_anywhere_goes_the_plain_way(text):
    """orjson's floats are never kept (whatever a string beside them looks like): the strict
    decoder has its own rules for them (length, range)."""
    got = []
    assert codec.decode(text, lambda t: got.append(t) or "plain") == "plain" and got == [text]


def test_a_text_too_long_to_check_goes_the_plain_way():
    """Past MAX_TEXT characters the plain decoder decodes (it gets the text itself), and a record
    past the strict decoder's size limit is its error, not a value."""
    text = '"' + "a" * (codec.MAX_TEXT - 1) + '"'
    got = []
    assert codec.decode(text, lambda t: got.append(t) or STRICT(t)) == STRICT(text) and got == [text]
    huge = '{"id": "' + "x" * (codec._MAX_BYTES + 1) + '"}'
    _same_decode(huge)
    assert _outcome(STRICT, huge)[0] == "error"
