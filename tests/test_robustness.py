"""Robustness: one odd record never costs a batch, a verdict or a minute.

One regression test (or a few) per numbered failure of the robustness review: (1) a record that
took the whole batch down, (2) a respelt variant that changed the verdict, (3) a parser that
stalled the batch, (4) decoding, (5) the importer, (6) the command line, (7) strictness and what
error messages echo. The generated corruptions are in ``tests/test_fuzz.py``.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.batch import run as batch
from engine.batch.run import Processor, run_evaluate
from engine.cli import main
from engine.errors import ERROR_CODES, CaseError, TermError, UsageError, quote
from engine.streams.inputs import MAX_DEPTH, MAX_INT_DIGITS, decode_json

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2026-07-01"
GOOD = {"id": "g", "cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12C"}],
        "prior_therapies": [{"drugs": ["carboplatin", "pemetrexed"], "setting": "metastatic", "outcome": "progression"}],
        "tested_genes": ["KRAS", "EGFR", "ALK", "ROS1", "BRAF", "MET", "RET", "NTRK1", "ERBB2", "STK11"],
        "as_of": AS_OF}


def good(i: int | str = 0, **kw) -> str:
    return json.dumps(GOOD | {"id": f"g{i}"} | kw)


def _args(files, **kw) -> argparse.Namespace:
    base = dict(files=[str(f) for f in files], format="json", as_of=None, backend="default", jobs=1,
                summary=False, no_progress=True, output=None, resume=False)
    base.update(kw)
    return argparse.Namespace(**base)


class _Stdin(io.TextIOWrapper):
    """A standard input with a byte buffer, as the real one has."""


def stdin_bytes(data: bytes) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def evaluate(engine, files, stdin=None, **kw) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_evaluate(_args(files, **kw), engine, stdin=stdin, out=out, err=err)
    recs = [json.loads(line) for line in out.getvalue().splitlines()]
    return code, recs, err.getvalue()


def cli(*argv: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), KRAS_RULES_CACHE="off")
    return subprocess.run([sys.executable, "-m", "engine", *argv], input=stdin, capture_output=True,
                          env=env, cwd=cwd or REPO, timeout=120)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(batch, "CHUNK", 4)


def verdicts(rec: dict) -> dict[str, str]:
    return {o["therapy"]: o["verdict"] for o in rec["options"]}


# --------------------------------------------------------------------------- 1. one record, one output record


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_the_record_size_limit_counts_the_record_not_its_line_ending(tmp_path, engine, ending):
    """A record of exactly the most bytes is read whether its line ends in LF or CRLF, from a
    file and from standard input; a byte more is too large, and the message counts the record's
    bytes alike for both endings."""
    from engine.streams.inputs import MAX_RECORD_BYTES

    def record(size: int, name: str) -> str:  # (padded with white space, which JSON allows)
        head = '{"cancer_type": "LUAD", "id": "' + name + '"'
        return head + " " * (size - len(head) - 1) + "}"

    lines = [record(MAX_RECORD_BYTES, "a"), record(MAX_RECORD_BYTES + 1, "b"), '{"cancer_type": "LUAD", "id": "c"}']
    assert [len(x) for x in lines[:2]] == [MAX_RECORD_BYTES, MAX_RECORD_BYTES + 1]
    data = ending.join(lines) + ending
    f = tmp_path / "c.jsonl"
    f.write_bytes(data.encode())
    for code, recs, _ in (evaluate(engine, [f]), evaluate(engine, ["-"], stdin=io.TextIOWrapper(io.BytesIO(data.encode())))):
        assert code == 1 and len(recs) == 3
        assert recs[0]["case_id"] == "a" and "options" in recs[0]
        assert recs[1]["code"] == "too_large"
        assert recs[1]["error"][0]["message"] == f"a line of {MAX_RECORD_BYTES + 1:,} bytes (at most {MAX_RECORD_BYTES:,})"
        assert recs[2]["case_id"] == "c"


BIG_INT = '{"id": "big", "cancer_type": "LUAD", "weeks": ' + "9" * 5000 + "}"
DEEP = "[" * 5000 + "]" * 5000
DEEP_ID = '{"id": ' + "[" * 3000 + "]" * 3000 + ', "cancer_type": "LUAD"}'
SURROGATE_ID = '{"id": "\\ud800", "cancer_type": "LUAD", "as_of": "2026-07-01"}'


@pytest.mark.parametrize("jobs", [1, 2])
def test_records_that_ended_the_batch_are_one_error_record_each(tmp_path, engine, small_chunks, jobs):
    bad = [BIG_INT, DEEP, DEEP_ID, SURROGATE_ID]
    lines = []
    for i in range(6):
        lines += [good(i)] + bad
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(lines) + "\n")
    code, recs, err = evaluate(engine, [f], jobs=jobs)
    assert code == 1 and len(recs) == len(lines)
    for rec, line in zip(recs, lines, strict=True):
        if line.startswith('{"id": "g'):
            assert "options" in rec and verdicts(rec)["sotorasib"] == "eligible"
        else:
            assert rec["code"] in ERROR_CODES and rec["code"] != "internal_error"
    assert [r["code"] for r in recs[1:5]] == ["too_large", "too_deep", "too_deep", "invalid_json"]
    assert "Traceback" not in err


def test_large_records_make_smaller_units_of_work():
    items = [(f"f:{i}", "x" * 1000) for i in range(50)]
    sizes = [len(b) for b in batch.chunks(items, 256, max_chars=10_000)]
    assert sizes == [10] * 5
    assert [len(b) for b in batch.chunks(items, 20)] == [20, 20, 10]


def test_a_result_that_cannot_be_written_is_an_error_record(engine):
    # a record named by a source the reader did not escape (a caller of the Processor): its id,
    # the source, holds a surrogate nothing checked before the result
    proc = Processor(engine, "json")
    text, msg, is_error = proc("api\udcff", {"cancer_type": "LUAD", "as_of": AS_OF})
    rec = json.loads(text)
    assert is_error and rec["code"] == "not_serialisable" and "cannot be written" in msg
    # a case's own id holding one is refused when the case is checked
    text, msg, is_error = proc("api", {"id": "\ud800", "cancer_type": "LUAD", "as_of": AS_OF})
    assert is_error and json.loads(text)["code"] == "invalid_case" and "a lone surrogate" in msg


@pytest.mark.parametrize("where", ["read", "evaluate"])
def test_a_bug_in_one_record_is_an_internal_error_record_and_the_batch_goes_on(engine, monkeypatch, where):
    """A bug met while a record's case is read (a chunk reads a group of cases before evaluating
    them) or while it is evaluated and written: that record's internal error, in its place; every
    other record of the chunk as it would be alone."""
    proc = Processor(engine, "json")
    lines = [good(i) for i in range(5)]
    if where == "read":
        real_parse = batch.parse_case_text
        monkeypatch.setattr(batch, "parse_case_text", lambda t: 1 / 0 if t == lines[2] else real_parse(t))
    else:
        real_evaluate = proc._evaluate
        monkeypatch.setattr(proc, "_evaluate", lambda s, n, c: 1 / 0 if s == "x:3" else real_evaluate(s, n, c))
    text, msg, is_error = proc("x:3", lines[2])
    assert is_error and json.loads(text)["code"] == "internal_error" and "ZeroDivisionError" in msg
    block = proc.chunk([(f"x:{i + 1}", line) for i, line in enumerate(lines)])
    recs = [json.loads(r) for r in block.data.splitlines()]
    assert (block.records, block.errors) == (5, 1) and block.messages == msg
    assert [r.get("code") for r in recs] == [None, None, "internal_error", None, None]
    assert [r["case_id"] for r in recs] == [json.loads(line)["id"] for line in lines]  # (the error record's too)
    alone = Processor(engine, "json")
    assert [recs[i] for i in (0, 1, 3, 4)] == [json.loads(alone("x", lines[i])[0]) for i in (0, 1, 3, 4)]


def test_a_crash_of_the_program_exits_3_without_a_traceback(monkeypatch, capsys, tmp_path):
    def boom(*a, **k):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(batch, "run_evaluate", boom)
    f = tmp_path / "c.jsonl"
    f.write_text(good() + "\n")
    assert main(["evaluate", str(f)]) == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "the disk caught fire" in err and "Traceback" not in err


def test_deep_record_in_the_parent_with_two_workers_loses_nothing(tmp_path):
    lines = [good(i) if i % 3 else DEEP_ID for i in range(60)]
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(lines) + "\n")
    r = cli("evaluate", "--format", "json", "--jobs", "2", str(f))
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    assert len(r.stdout.splitlines()) == 60


# --------------------------------------------------------------------------- 2. respelt variants


def _verdict(engine, variant: str, **alt) -> dict[str, str] | str:
    case = GOOD | {"alterations": [{"gene": "KRAS", "variant": variant, **alt}]}
    try:
        return {o.therapy: o.verdict for o in engine.evaluate(case).options}
    except CaseError as exc:
        return exc.problems[0].message


@pytest.mark.parametrize("spelling", ["p.G012C", "G0012C", "p.Gly012Cys", "p.(G012C)", "c.034G>T"])
def test_leading_zeros_are_the_same_change(engine, spelling):
    assert _verdict(engine, spelling) == _verdict(engine, "G12C")
    assert _verdict(engine, spelling)["sotorasib"] == "eligible"


def test_an_acquired_y096d_excludes_like_y96d(engine):
    base = {"alterations": [{"gene": "KRAS", "variant": "G12C"}, {"gene": "KRAS", "variant": "Y96D", "acquired": True}]}
    zero = {"alterations": [{"gene": "KRAS", "variant": "G12C"}, {"gene": "KRAS", "variant": "Y096D", "acquired": True}]}
    on_sotorasib = {"prior_therapies": [*GOOD["prior_therapies"], {"drugs": ["sotorasib"], "outcome": "progression"}]}
    base |= on_sotorasib
    zero |= on_sotorasib
    a = {o.therapy: o.verdict for o in engine.evaluate(GOOD | base).options}
    b = {o.therapy: o.verdict for o in engine.evaluate(GOOD | zero).options}
    assert a == b and a["sotorasib"] == "excluded"


@pytest.mark.parametrize("spelling", ["G\u0661\u0662C", "G\uff11\uff12C", "p.Gly\u0661\u0662Cys", "G12\u00b2C"])
def test_non_ascii_digits_are_an_error_naming_the_ascii_form(engine, spelling):
    with pytest.raises(CaseError) as info:
        engine.evaluate(GOOD | {"alterations": [{"gene": "KRAS", "variant": spelling}]})
    p = info.value.problems[0]
    assert p.path == ("alterations", 0, "variant") and "digits other than 0-9" in p.message
    assert p.suggestion and p.suggestion.isascii()


def test_the_variant_reader_works_on_its_own():
    from engine.vocabulary import Genes, VariantReader

    grammar = VariantReader()  # no data: the grammar alone
    assert grammar.variant("KRAS", "p.Gly012Cys").label == "G12C"
    assert grammar.variant("EGFR", "E0746_A750del").label == "E746_A750del"
    with pytest.raises(TermError, match="digits other than 0-9"):
        grammar.variant("KRAS", "G\u0661\u0662C")
    vdir = REPO / "rules" / "vocabulary"
    reader = VariantReader.load(vdir, Genes.load(vdir).genes)
    assert reader.variant("KRAS", "c.034G>T").label == "G12C"
    with pytest.raises(TermError, match="residue 12 is G"):
        reader.variant("KRAS", "A12C")


def test_a_position_of_thousands_of_digits_is_an_error_not_a_crash(engine):
    with pytest.raises(TermError, match="at most 6 digits"):
        engine.rulebase.vocab.variant("KRAS", "G" + "1" * 150 + "C")


# --------------------------------------------------------------------------- 3. bounded parsers


def test_regimen_parsing_is_linear_in_the_parts(engine, monkeypatch):
    drugs = engine.rulebase.vocab.drug_names
    calls = []
    real = drugs._one_therapy
    monkeypatch.setattr(drugs, "_one_therapy", lambda t: calls.append(t) or real(t))
    for n in (10, 20, 40):
        calls.clear()
        text = "/".join(["carbo", "pem"] * (n // 2))
        assert drugs._therapy_word(text) == ("carboplatin", "pemetrexed")
        assert len(calls) <= 1 + n * drugs._max_run
    with pytest.raises(TermError, match="at most 40"):
        drugs._therapy_word("/".join(["carbo"] * 41))


def test_a_case_full_of_unknown_terms_reports_its_first_problems_only(engine):
    # 5,000 unknown drug names each cost a "did you mean" search: 18 s for one record before
    lines = [{"drugs": [f"nodrug{i}x{j}" for j in range(50)]} for i in range(100)]
    with pytest.raises(CaseError) as info:
        engine.normalise({"cancer_type": "LUAD", "prior_therapies": lines})
    problems = info.value.problems
    assert len(problems) == 21 and "4,980 more term(s) not checked" in problems[-1].message
    assert problems[0].path == ("prior_therapies", 0, "drugs", 0)


@pytest.mark.parametrize("field, value", [
    ("gene", "KRASX\n"), ("variant", "G12Q\n\x1b[2J"), ("tested_genes", "FOO\r\n"), ("cancer_type", "LUADX\n"),
    ("drug", "xyzzy\u2028"), ("variant", "p.G12Cys\n")])
def test_an_unknown_term_with_a_control_character_is_named_escaped_in_one_line(engine, field, value):
    """Each message names the term as the other fields' messages do: escaped, so that a stderr
    line stays one line and a terminal is not driven by it."""
    from engine.errors import CaseError

    case = {"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C"}]}
    if field in ("gene", "variant"):
        case["alterations"] = [{"gene": "KRAS", "variant": "G12C", field: value}]
    elif field == "tested_genes":
        case["tested_genes"] = [value]
    elif field == "drug":
        case["prior_therapies"] = [{"drugs": [value]}]
    else:
        case[field] = value
    with pytest.raises(CaseError) as exc:
        engine.evaluate(case)
    for p in exc.value.problems:
        assert p.message.isprintable(), p.message


def test_long_terms_are_errors_before_any_work(engine):
    vocab = engine.rulebase.vocab
    for call in (lambda t: vocab.cancer(t), vocab.gene, vocab.drug, vocab.therapy_word, lambda t: vocab.variant("KRAS", t)):
        with pytest.raises(TermError, match="at most 500"):
            call("x/" * 100_000)


# --------------------------------------------------------------------------- 4. decoding


def test_an_invalid_byte_is_that_line_only(tmp_path, engine):
    lines = [good(i).encode() for i in range(10)]
    lines[4] = lines[4].replace(b'"g4"', b'"g\xff4"')
    f = tmp_path / "c.jsonl"
    f.write_bytes(b"\n".join(lines) + b"\n")
    code, recs, err = evaluate(engine, [f])
    assert code == 1 and len(recs) == 10
    assert recs[4]["code"] == "not_utf8" and "byte 0xff" in recs[4]["error"][0]["message"]
    assert all("options" in r for i, r in enumerate(recs) if i != 4)


def test_a_bad_first_line_on_stdin_is_one_record_of_five(engine):
    data = ("{bad\n" + "\n".join(good(i) for i in range(4)) + "\n").encode()
    code, recs, _ = evaluate(engine, ["-"], stdin=stdin_bytes(data))
    assert code == 1 and len(recs) == 5 and recs[0]["code"] == "invalid_json"
    assert [r["case_id"] for r in recs[1:]] == ["g0", "g1", "g2", "g3"]


def test_an_undecodable_line_on_stdin_is_that_line_only(engine):
    data = (good(0) + "\n").encode() + b"\xff\xfe{\n" + (good(1) + "\n").encode()
    code, recs, _ = evaluate(engine, ["-"], stdin=stdin_bytes(data))
    assert [r.get("code") for r in recs] == [None, "not_utf8", None]


@pytest.mark.parametrize("where", ["file", "stdin"])
def test_a_utf8_bom_is_accepted(tmp_path, engine, where):
    data = b"\xef\xbb\xbf" + "\n".join(good(i) for i in range(3)).encode() + b"\n"
    if where == "file":
        f = tmp_path / "c.jsonl"
        f.write_bytes(data)
        code, recs, _ = evaluate(engine, [f])
    else:
        code, recs, _ = evaluate(engine, ["-"], stdin=stdin_bytes(data))
    assert code == 0 and [r["case_id"] for r in recs] == ["g0", "g1", "g2"]


def test_a_bom_before_a_json_document_is_accepted(tmp_path, engine):
    f = tmp_path / "c.json"
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps([GOOD, GOOD | {"id": "h"}], indent=1).encode())
    code, recs, _ = evaluate(engine, [f])
    assert code == 0 and [r["case_id"] for r in recs] == ["g", "h"]


@pytest.mark.parametrize("name", ["c.jsonl", "c.json", "-"])
def test_utf16_gets_a_clear_message(tmp_path, engine, name):
    data = (good() + "\n").encode("utf-16")
    if name == "-":
        code, recs, err = evaluate(engine, ["-"], stdin=stdin_bytes(data))
    else:
        f = tmp_path / name
        f.write_bytes(data)
        code, recs, err = evaluate(engine, [f])
    assert code == 1 and len(recs) == 1 and recs[0]["code"] == "not_utf8"
    assert "UTF-16" in err and "save it as UTF-8" in err


def test_an_undecodable_byte_in_a_json_array_is_that_element_only(tmp_path, engine):
    f = tmp_path / "c.json"
    text = json.dumps([GOOD | {"id": "a"}, GOOD | {"id": "bXb"}, GOOD | {"id": "c"}]).encode()
    f.write_bytes(text.replace(b"bXb", b"b\xffb"))
    code, recs, _ = evaluate(engine, [f])
    assert [r.get("code") for r in recs] == [None, "not_utf8", None]
    assert recs[1]["error"][0]["path"] == "id"


ARRAY_BAD = {
    "duplicate_key": ('{"id": "a", "cancer_type": "LUAD", "id": "again"}', "duplicate_key"),
    "nan": ('{"id": "n", "cancer_type": "LUAD", "x": NaN}', "invalid_json"),
    "long_integer": ('{"id": "i", "cancer_type": "LUAD", "x": ' + "1" * (MAX_INT_DIGITS + 1) + "}", "too_large"),
    "deep": ('{"id": "d", "cancer_type": "LUAD", "x": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}", "too_deep"),
    "nested_duplicate": ('{"id": "x", "cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "gene": "NRAS"}]}',
                         "duplicate_key"),
    # nested deeper than the decoders' recursion reaches: the element is still found by its brackets
    "very_deep": ('{"id": "v", "x": "a]]},b\\"", "y": ' + "[" * 3000 + "]" * 3000 + "}", "too_deep"),
    # a string holding a case's text is a string, not a case
    "string": (json.dumps(json.dumps({"id": "s", "cancer_type": "LUAD", "as_of": "2026-07-01"})), "invalid_case"),
}


@pytest.mark.parametrize("text, path", [
    ('{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C", "variant": "G12D"}]}', "alterations[0].variant"),
    ('{"cancer_type": "LUAD", "prior_therapies": [{"regimen": "FOLFOX", "weeks": 1, "weeks": 2}]}', "prior_therapies[0].weeks"),
    ('{"cancer_type": "LUAD", "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI", "weeks": 1e400}]}',
     "prior_therapies[1].weeks"),
    ('{"cancer_type": "LUAD", "prior_therapies": [{"regimen": "FOLFOX", "weeks": NaN}]}', "prior_therapies[0].weeks"),
    ('{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C", "x": ' + "9" * (MAX_INT_DIGITS + 1) + "}]}",
     "alterations[0].x"),
    ('{"id": "a", "cancer_type": "LUAD", "id": "b"}', "id"),
    # a bad number inside an object is met before the object's duplicate key, as the decoder meets them
    ('{"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "weeks": -Infinity}], "alterations": []}', "alterations[0].weeks"),
])
def test_what_the_json_decoder_rejects_is_named_by_its_field_path(engine, text, path):
    """A duplicate key, a number out of range and NaN were named by the bare key, or by nothing."""
    from engine.errors import format_path
    from engine.streams.inputs import decode_json

    with pytest.raises(CaseError) as exc:
        decode_json(text)
    assert format_path(exc.value.problems[0].path) == path


def test_a_record_rejected_for_a_value_elsewhere_still_names_its_id(tmp_path, engine):
    """A duplicate key or NaN deep in a record left its error record's case_id null although its
    one id was readable; two ids, or broken syntax, name none."""
    lines = ['{"id": "d1", "cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C", "variant": "G12D"}]}',
             '{"id": "d2", "id": "d3", "cancer_type": "LUAD"}',
             '{"id": "n1", "cancer_type": "LUAD", "prior_therapies": [{"regimen": "FOLFOX", "weeks": NaN}]}',
             '{"id": "x", "cancer_type": LUAD}']
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(lines) + "\n")
    for jobs in (1, 2):
        _, recs, _ = evaluate(engine, [f], jobs=jobs)
        assert [r["case_id"] for r in recs] == ["d1", None, "n1", None]
        assert all("error" in r for r in recs)


@pytest.mark.parametrize("where", ["file", "stdin"])
@pytest.mark.parametrize("kind", sorted(ARRAY_BAD))
def test_a_bad_element_of_a_json_array_is_that_element_only(tmp_path, engine, kind, where):
    bad, code = ARRAY_BAD[kind]
    text = "[" + ", ".join([good(i) for i in range(5)] + [bad] + [good(i) for i in range(5, 10)]) + "]"
    if where == "file":
        f = tmp_path / "c.json"
        f.write_text(text)
        rc, recs, err = evaluate(engine, [f])
        name = str(f)
    else:
        rc, recs, err = evaluate(engine, ["-"], stdin=stdin_bytes(text.encode()))
        name = "<stdin>"
    assert rc == 1 and len(recs) == 11
    assert recs[5]["code"] == code and recs[5]["source"] == f"{name}[5]"
    assert f"{name}[5]: " in err and err.count("\n") == 1
    assert [r["case_id"] for r in recs[:5] + recs[6:]] == [f"g{i}" for i in range(10)]
    assert all(verdicts(r)["sotorasib"] == "eligible" for r in recs[:5] + recs[6:])


@pytest.mark.parametrize("tail", ["", "] x", "]]", ", ]"])  # no closing bracket, text after it, a comma before it
def test_a_json_array_with_broken_syntax_is_still_one_error(tmp_path, engine, tail):
    f = tmp_path / "c.json"
    f.write_text("[" + good(0) + ', {"id": "a", "id": "b"}, ' + good(1) + tail)
    rc, recs, err = evaluate(engine, [f])
    assert rc == 1 and len(recs) == 1 and recs[0]["code"] == "invalid_json" and recs[0]["source"] == str(f)
    assert "invalid JSON at line 1" in err


@pytest.mark.parametrize("first, code", [
    ('{"id": 1, "id": 2}', "duplicate_key"),
    ("x", "invalid_json"),
    ('{"id": ', "invalid_json"),
    ('{"id": NaN}', "invalid_json"),
])
def test_json_lines_in_a_json_file_with_a_bad_first_line_keep_the_other_lines(tmp_path, engine, first, code):
    f = tmp_path / "c.json"
    f.write_text(first + "\n" + "\n".join(good(i) for i in range(4)) + "\n")
    rc, recs, err = evaluate(engine, [f])
    assert rc == 1 and len(recs) == 5
    assert recs[0]["code"] == code and recs[0]["source"] == f"{f}:1" and err.startswith(f"{f}:1: ")
    assert [r["case_id"] for r in recs[1:]] == [f"g{i}" for i in range(4)]
    _, from_stdin, _ = evaluate(engine, ["-"], stdin=stdin_bytes(f.read_bytes()))
    assert [r.get("code") for r in from_stdin] == [r.get("code") for r in recs]


def test_a_broken_pretty_printed_json_file_is_one_error_naming_the_line(tmp_path, engine):
    f = tmp_path / "c.json"
    f.write_text(json.dumps(GOOD, indent=2)[:-2] + ",\n}\n")  # a trailing comma
    rc, recs, err = evaluate(engine, [f])
    assert rc == 1 and len(recs) == 1 and recs[0]["source"] == str(f)
    assert recs[0]["code"] == "invalid_json" and "line " in recs[0]["error"][0]["message"]


def test_a_damaged_gzip_keeps_what_was_read_and_says_so(tmp_path, engine):
    import gzip

    f = tmp_path / "c.jsonl.gz"
    f.write_bytes(gzip.compress(("\n".join(good(i) for i in range(50)) + "\n").encode())[:-30])
    g = tmp_path / "d.jsonl"
    g.write_text(good("after") + "\n")
    code, recs, err = evaluate(engine, [f, g])
    assert code == 1 and recs[-1]["case_id"] == "gafter" and recs[-2]["code"] == "unreadable"


# --------------------------------------------------------------------------- 5. the importer

MAF_HEADER = ["Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification", "HGVSp_Short"]
MAF_ROWS = [["KRAS", "S1", "Missense_Mutation", "p.G12C"], ["TP53", "S2", "Missense_Mutation", "p.R175H"]]


def _import(vocab, path: Path, **kw):
    from engine.importers import make_importer

    errors: list[dict] = []
    imp = make_importer(vocab=vocab, on_error=errors.append, cancer_type="LUAD", **kw)
    return list(imp.run(path)), errors, imp.summary


def _maf_text(sep: str = "\n") -> str:
    return sep.join("\t".join(r) for r in [MAF_HEADER, *MAF_ROWS]) + sep


@pytest.mark.parametrize("sep", ["\n", "\r\n", "\r"])
def test_maf_line_endings(tmp_path, engine, sep):
    f = tmp_path / "m.maf"
    f.write_bytes(_maf_text(sep).encode())
    cases, errors, summary = _import(engine.rulebase.vocab, f)
    assert summary.rows == 2 and [c["id"] for c in cases] == ["S1", "S2"] and not errors


def test_maf_bom_before_the_header(tmp_path, engine):
    f = tmp_path / "m.maf"
    f.write_bytes(b"\xef\xbb\xbf" + _maf_text().encode())
    cases, errors, summary = _import(engine.rulebase.vocab, f)
    assert [c["id"] for c in cases] == ["S1", "S2"]


def test_maf_comment_rows_after_the_header_are_counted(tmp_path, engine):
    f = tmp_path / "m.maf"
    f.write_text(_maf_text() + "# a note\n#another\n")
    _, _, summary = _import(engine.rulebase.vocab, f)
    from engine.importers.importer import R_COMMENT

    assert summary.rows == 4 and summary.skipped[R_COMMENT] == 2
    assert summary.rows == summary.alteration_rows + sum(summary.skipped.values())


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, "S1\nS2\n".encode("utf-16")])
def test_a_binary_samples_file_is_a_usage_error(tmp_path, engine, content):
    from engine.errors import UsageError

    f = tmp_path / "m.maf"
    f.write_text(_maf_text())
    s = tmp_path / "samples.txt"
    s.write_bytes(content)
    with pytest.raises(UsageError, match="UTF-16|not a text file"):
        _import(engine.rulebase.vocab, f, samples=s)
    r = cli("import", "--mutations", str(f), "--samples", str(s), "--cancer-type", "LUAD")
    assert r.returncode == 2 and not r.stdout and b"Traceback" not in r.stderr


# --------------------------------------------------------------------------- 6. the command line


@pytest.mark.parametrize("target", ["missing/out.jsonl", "folder", "afile/out.jsonl"])
def test_output_into_a_missing_folder_or_onto_a_folder_is_a_usage_error(tmp_path, target):
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("")
    f = tmp_path / "c.jsonl"
    f.write_text(good() + "\n")
    r = cli("evaluate", "-o", str(tmp_path / target), str(f))
    assert r.returncode == 2 and b"cannot write the output file" in r.stderr and b"Traceback" not in r.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file")
def test_output_onto_an_unwritable_file_is_a_usage_error(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("")
    out.chmod(0o444)
    f = tmp_path / "c.jsonl"
    f.write_text(good() + "\n")
    r = cli("evaluate", "-o", str(out), str(f))
    assert r.returncode == 2 and b"cannot write the output file" in r.stderr


def test_explain_an_unknown_rule_says_so(capsys):
    assert main(["explain", "NOPE-999"]) == 2
    err = capsys.readouterr().err
    assert "unknown rule id 'NOPE-999'" in err and "invalid" not in err
    assert main(["explain", "lng-00"]) == 2
    assert "did you mean 'LNG-" in capsys.readouterr().err


def test_an_empty_input_folder_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", str(tmp_path / "empty")]) == 2
    assert "no case files" in capsys.readouterr().err


def test_resume_of_a_header_only_tsv_writes_no_second_header(tmp_path, engine):
    from engine.formats import tsv_header

    out = tmp_path / "out.tsv"
    out.write_text(tsv_header() + "\n")
    f = tmp_path / "c.jsonl"
    f.write_text(good(1) + "\n" + good(2) + "\n")
    run_evaluate(_args([f], format="tsv", output=str(out), resume=True), engine, err=io.StringIO())
    lines = out.read_text().splitlines()
    assert lines[0] == tsv_header() and lines.count(tsv_header()) == 1 and len(lines) == 3


# --------------------------------------------------------------------------- 7. strictness and echoes


@pytest.mark.parametrize("text, code, path", [
    ('{"id": "d", "cancer_type": "LUAD", "cancer_type": "CRC"}', "duplicate_key", "cancer_type"),
    ('{"id": "n", "cancer_type": "LUAD", "weeks": NaN}', "invalid_json", "weeks"),
    ('{"id": "i", "cancer_type": "LUAD", "x": ' + "1" * (MAX_INT_DIGITS + 1) + "}", "too_large", "x"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "too_deep", ".".join(["0"] * MAX_DEPTH)),
])
def test_strict_json(text, code, path):
    with pytest.raises(CaseError) as info:
        decode_json(text)
    assert info.value.code == code
    assert ".".join(map(str, info.value.problems[0].path)) == path


@pytest.mark.parametrize("change, path, suggestion", [
    ({"alterations": [{"gene": "KRAS", "variant": "G12C", "acquired": "yes"}]}, ("alterations", 0, "acquired"), "true"),
    ({"germline_tested": 1}, ("germline_tested",), "true"),
    ({"multiagent_candidate": "no"}, ("multiagent_candidate",), "false"),
    ({"multiagent_candidate": 1}, ("multiagent_candidate",), "true"),
    ({"prior_therapies": [{"drugs": ["carboplatin"], "weeks": True}]}, ("prior_therapies", 0, "weeks"), None),
    ({"prior_therapies": [{"drugs": ["carboplatin"], "weeks": "1e3"}]}, ("prior_therapies", 0, "weeks"), None),
    ({"as_of": 0}, ("as_of",), None),
    ({"as_of": "2026-07-01T00:00"}, ("as_of",), "2026-07-01"),
    ({"as_of": "2026-07-\u0660\u0661"}, ("as_of",), None),
])
def test_lossy_coercions_are_errors_naming_the_field(engine, change, path, suggestion):
    with pytest.raises(CaseError) as info:
        engine.normalise(GOOD | change)
    p = info.value.problems[0]
    assert p.path == path and p.suggestion == suggestion


def test_oversize_values_are_errors_naming_the_field(engine):
    with pytest.raises(CaseError) as info:
        engine.normalise(GOOD | {"alterations": [{"gene": "KRAS", "variant": "G" * 1_000_000}]})
    p = info.value.problems[0]
    assert p.path == ("alterations", 0, "variant") and "1,000,000 characters" in p.message
    assert len(p.render()) < 300
    with pytest.raises(CaseError) as info:
        engine.normalise(GOOD | {"tested_genes": ["KRAS"] * 5000})
    assert info.value.problems[0].path == ("tested_genes",)


def test_messages_quote_values_shortened_and_escaped(tmp_path, engine):
    evil = "\x1b[2J\x1b]0;owned\x07" + "A" * 1_000_000
    lines = [json.dumps({"id": "e", "cancer_type": evil}), json.dumps({"id": "f", "cancer_type": "LU\u202eAD\x1b"}),
             json.dumps({"id": "h", "cancer_type": "LUAD", "stagee\x1b": 1})]
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(lines) + "\n")
    code, recs, err = evaluate(engine, [f])
    assert code == 1 and len(recs) == 3
    assert "\x1b" not in err and "\u202e" not in err and "\x07" not in err
    assert len(err) < 2_000 and "\\x1b" in err
    assert all(len(json.dumps(r)) < 2_000 for r in recs)


@pytest.mark.parametrize("fmt", ["text", "tsv", "json"])
def test_an_id_that_would_drive_a_terminal_is_an_error_record_in_every_format(tmp_path, engine, fmt):
    ids = ["\x1b[2J", "\u202e1", "\x9b31m", "\tcol", "\r"]  # each after the "g" of good()
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join([good(0)] + [good(cid) for cid in ids]) + "\n")
    out, err = io.StringIO(), io.StringIO()
    code = run_evaluate(_args([f], format=fmt), engine, out=out, err=err)
    assert code == 1
    written = out.getvalue() + err.getvalue()
    assert not any(c in written for c in "\x1b\u202e\x9b\r")
    assert err.getvalue().count(": id: control or invisible formatting characters") == len(ids)
    if fmt == "tsv":
        rows = out.getvalue().splitlines()
        assert len(rows) == 1 + 1 + len(ids) and all(r.count("\t") == rows[0].count("\t") for r in rows)
    assert "did you mean 'g[2J'?" in err.getvalue()


def test_quote():
    assert quote("a" * 1000).endswith("(1,000 characters)'") and len(quote("a" * 1000)) < 120
    assert quote("\x1b[31m") == "'\\x1b[31m'"
    assert quote(10 ** 5000).startswith("an integer of about 5,00")
    assert quote(True) == "true"


def test_a_stray_closing_brace_between_elements_is_one_error_for_the_file(tmp_path, engine):
    f = tmp_path / "c.json"
    f.write_text("[" + good(0) + "}" + good(1) + "]")
    rc, recs, err = evaluate(engine, [f])
    assert rc == 1 and len(recs) == 1 and recs[0]["code"] == "invalid_json" and recs[0]["source"] == str(f)


# --------------------------------------------------------------------------- (8) the second review
# One test per failure of the second robustness review: a case file the tutoring commands could not
# decode, file names a record cannot carry, inputs whose shape was guessed wrong as a whole.


@pytest.mark.parametrize("data, says", [
    (b"\xff\xfe{\x00}\x00", "the file is UTF-16 (or UTF-32) encoded: save it as UTF-8"),
    (b'{"cancer_type": "LUAD", "id": "caf\xe9"}', "id: not valid UTF-8 (byte 0xe9)"),
    (b"\x1f\x8b\x08\x00abcdef", "the file is gzip-compressed: decompress it, or give it a name ending .gz"),
    (b"\x00\x01\x02\x03\x04", "the file holds binary data (NUL bytes), not JSON text"),
])
def test_why_and_compare_name_a_case_file_that_is_not_utf8_text(tmp_path, capsys, data, says):
    """`why` and `compare` read their case as text and failed with "internal error ...
    UnicodeDecodeError" (exit 3) on a file that is not UTF-8; they now read it as evaluate does."""
    f = tmp_path / "c.json"
    f.write_bytes(data)
    other = tmp_path / "good.json"
    other.write_text(good())
    for argv in (["why", str(f), "sotorasib"], ["compare", str(other), str(f)]):
        code = main(argv)
        _, err = capsys.readouterr()
        assert code == 1, (argv, err)
        assert f"{f}: {says}" in err and "internal error" not in err
    # and evaluate says the same of it
    code = main(["evaluate", "--format", "tsv", str(f)])
    out, _ = capsys.readouterr()
    assert code == 1 and out.splitlines()[1].split("\t")[-2] == says


def test_a_case_file_named_with_bytes_or_controls_is_evaluated_under_a_name_that_can_be_written(tmp_path, capsys):
    """A valid case in a file whose name is not UTF-8 gave a not_serialisable record (its id, the
    file name, held a surrogate escape); a name holding ESC or a newline reached the TSV cell and
    the text line raw. The name is shown with those bytes and characters escaped."""
    if sys.platform != "linux":
        pytest.skip("file names of arbitrary bytes")
    folder = tmp_path / "in"
    folder.mkdir()
    names = {b"x\xff.json": "x\\xff.json", b"e\x1b[2J.json": "e\\x1b[2J.json", b"a\nb.json": "a\\nb.json"}
    for raw in names:
        with open(os.path.join(os.fsencode(folder), raw), "w") as fh:
            fh.write(json.dumps({"cancer_type": "LUAD", "stage": "metastatic", "as_of": AS_OF}))
    code = main(["evaluate", "--format", "json", str(folder)])
    out, err = capsys.readouterr()
    assert code == 0, err
    ids = sorted(json.loads(line)["case_id"] for line in out.splitlines())
    assert ids == sorted(f"{folder}/{shown}" for shown in names.values())
    code = main(["evaluate", "--format", "tsv", str(folder)])
    out, _ = capsys.readouterr()
    assert code == 0 and "\x1b" not in out and len(out.splitlines()) == 4


def test_an_id_holding_a_lone_surrogate_is_an_error_not_a_result_that_cannot_be_written(engine):
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "LUAD", "id": "a\ud800b"})
    assert "id: a lone surrogate is not a character" in info.value.render()
    assert info.value.problems[0].suggestion == "ab"


@pytest.mark.parametrize("text, ids", [
    # JSON Lines in a .json file whose first two records are broken: each line its own record
    ('{"id": "x1", "cancer_type": \n{"id": "x2" "cancer_type": "LUAD"}\n' + "".join(
        good(i) + "\n" for i in (3, 4, 5)), [None, None, "g3", "g4", "g5"]),
    # JSON Lines whose first line is an array (one error: a case is an object), not one error for all
    ('[' + good(1) + ']\n' + good(2) + "\n" + good(3) + "\n", [None, "g2", "g3"]),
    # records on lines ended by CR alone
    (good(1) + "\r" + good(2) + "\r" + good(3) + "\r", ["g1", "g2", "g3"]),
])
def test_records_whose_file_shape_was_guessed_wrong_are_still_one_record_each(tmp_path, capsys, text, ids):
    f = tmp_path / "cases.json"
    f.write_text(text, encoding="utf-8", newline="")
    main(["evaluate", "--format", "json", str(f)])
    out, _ = capsys.readouterr()
    assert [json.loads(line).get("case_id") for line in out.splitlines()] == ids


def test_an_empty_input_name_and_a_link_in_a_loop_are_named_as_such(tmp_path, capsys):
    assert main(["evaluate", ""]) == 2  # (it read the current folder)
    assert "an input is named by its path: got an empty name" in capsys.readouterr().err
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    assert main(["evaluate", "--format", "tsv", str(tmp_path / "a.json")]) == 1
    assert "a link that leads nowhere (to a missing file, or round in a loop)" in capsys.readouterr().out


@pytest.mark.parametrize("written, meant", [
    ("2026-7-1", "2026-07-01"), ("2026/07/01", "2026-07-01"), ("2026-07-01T00:00:00", "2026-07-01"),
    (" 2026-07-01", "2026-07-01"), ("2026.7.1", "2026-07-01"), ("20260701", "2026-07-01"), ("yesterday", None),
    ("2026/02/30", None), ("2026-W27-3", None),
])
def test_a_date_not_written_yyyy_mm_dd_is_offered_the_date_it_reads_as(engine, written, meant):
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "LUAD", "as_of": written})
    (p,) = info.value.problems
    assert p.path == ("as_of",) and p.suggestion == meant
    with pytest.raises(Exception) as info2:  # the API's as_of= says the same
        engine.evaluate({"cancer_type": "LUAD"}, as_of=written)
    assert info2.value.problems[0].suggestion == meant


def test_a_case_with_a_wrong_shape_also_names_its_unknown_terms(engine):
    """Only the first layer of problems was reported: a misspelt stage hid an unknown cancer type,
    a misspelt origin the unknown gene beside it, so each fix needed another run."""
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "LUADX", "stage": "metastasis"})
    assert [(p.path, p.suggestion) for p in info.value.problems] == [(("stage",), "metastatic"), (("cancer_type",), "LUAD")]
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "LUAD", "alterations": [{"gene": "KARS", "variant": "G12C", "origin": "somatc"}],
                         "tested_genes": ["KRAS", "EGRF"], "prior_therapies": [{"drugs": ["sotorasbi"], "outcome": "PD"}]})
    found = {p.path: p.suggestion for p in info.value.problems}
    assert found == {("alterations", 0, "origin"): "somatic", ("prior_therapies", 0, "outcome"): "progression",
                     ("alterations", 0, "gene"): "KRAS", ("tested_genes", 1): "EGFR",
                     ("prior_therapies", 0, "drugs", 0): "sotorasib"}
    # a text inside a value whose shape is wrong as a whole is not read
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "LUADX", "tested_genes": {"x": "EGRF"}})
    assert {p.path for p in info.value.problems} == {("tested_genes",), ("cancer_type",)}


@pytest.mark.parametrize("case, path, meant, says", [
    ({"tested_genes": "KRAS"}, ("tested_genes",), '["KRAS"]', "a valid list, even of one"),
    # (an empty text was offered [""], itself an error)
    ({"tested_genes": ""}, ("tested_genes",), None, 'list the values, ["..."], or leave the field out where none is known'),
    ({"cancer_type": ["LUAD"]}, ("cancer_type",), "LUAD", "a valid string, not a list"),
    ({"alterations": {"gene": "KRAS", "variant": "G12C"}}, ("alterations",), None, "a list holds even one, [{...}]"),
    ({"alterations": [["KRAS", "G12C"]]}, ("alterations", 0), None, 'an object is expected here ({"key": value, ...}), got a list'),
    ({"prior_therapies": [{"drugs": ["FOLFOX"], "weeks": "12"}]}, ("prior_therapies", 0, "weeks"), "12", "did you mean 12, without quotes?"),
])
def test_a_value_of_the_wrong_shape_is_offered_the_shape_meant(engine, case, path, meant, says):
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "LUAD"} | case)
    (p,) = info.value.problems
    assert p.path == path and p.suggestion == meant and says in p.message
    assert "instance of" not in p.message


def test_an_error_record_keeps_an_id_that_the_id_check_allows(capsys, monkeypatch):
    """A zero-width joiner or a soft hyphen may stand in an id (Persian, Devanagari, emoji); an
    error record of such a case dropped its case_id, as if it had none."""
    text = json.dumps({"id": "a\u200db\u00adc", "cancer_type": "LUADX"}) + "\n" + json.dumps({"id": "a\x1bb", "cancer_type": "LUADX"}) + "\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    main_code = main(["evaluate", "--format", "json", "-"])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main_code == 1 and [r["case_id"] for r in out] == ["a\u200db\u00adc", None]


@pytest.mark.parametrize("argv, says", [
    (["evaluate", "--format", "json", "--brief"], "--brief shapes the text format; --format json writes every field"),
    (["evaluate", "--format", "tsv", "--detail"], "--detail shapes the text format; --format tsv writes every field"),
    (["evaluate", "--brief", "--detail"], "--brief (a line an option) and --detail (every option in full): give one of them"),
    (["why", "--all"], "why: name a THERAPY ('sotorasib') or give --all, not both"),
])
def test_options_that_cannot_both_apply_are_a_usage_error_not_one_silently_ignored(capsys, argv, says):
    case = str(REPO / "cases" / "luad-g12c-second-line.json")
    argv = argv[:1] + [case] + (["sotorasib"] if argv[0] == "why" else []) + argv[1:]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert says in err and not out


def test_include_all_is_the_flag_itself(engine):
    with pytest.raises(UsageError) as info:
        engine.explain(GOOD, include_all="yes")
    assert "include_all is True or False, got 'yes'" in info.value.render()


def test_what_an_api_message_echoes_is_cut_and_nan_weeks_are_named(engine):
    """An unknown jurisdiction or therapy was echoed whole (3,000 characters); weeks=nan read
    "less than or equal to 1000 (got nan)"."""
    for call in (lambda: engine.evaluate(GOOD, jurisdiction="X" * 3000), lambda: engine.explain(GOOD, "Z" * 3000)):
        with pytest.raises(UsageError) as info:
            call()
        assert len(info.value.render()) < 300 and "(3,000 characters)" in info.value.render()
    with pytest.raises(CaseError) as info:
        engine.evaluate(GOOD | {"prior_therapies": [{"drugs": ["FOLFOX"], "weeks": float("nan")}]})
    assert "prior_therapies[0].weeks: a number of weeks is a finite number, got nan" in info.value.render()


@pytest.mark.parametrize("text, says", [
    ('{"id": "a\tb", "cancer_type": "LUAD"}', "a control character ('\\t') inside a text: write it escaped"),
    ("\x00\x00\x00", "a NUL byte: binary data, not JSON text"),
    ('\ufeff{"cancer_type": "LUAD"}', "a byte-order mark (U+FEFF) in the middle of the text (files joined?)"),
])
def test_a_json_syntax_error_says_what_is_there(text, says):
    """The decoder's own words were cut ("Invalid control character at") or said nothing of what
    was there ("Expecting value" for a NUL byte or a byte-order mark between records)."""
    with pytest.raises(CaseError) as info:
        decode_json(text)
    assert says in info.value.render()


def test_an_array_element_with_broken_syntax_is_named_in_words(tmp_path, capsys):
    f = tmp_path / "arr.json"
    f.write_text('[{"cancer_type": "LUAD"} x, {"cancer_type": "LUAD"}]', encoding="utf-8")
    main(["evaluate", "--format", "tsv", str(f)])
    _, err = capsys.readouterr()
    assert f"{f}[0]: invalid JSON in the element at column 25: Extra data" in err and "JSONDecodeError" not in err


@pytest.mark.parametrize("blocked, argv, says", [
    ("fastapi,uvicorn", ["serve", "--port", "1"], "serve needs FastAPI and uvicorn (fastapi): pip install 'kras-rules[serve]'"),
    ("dask,distributed", ["evaluate", "--dask", "local:1", str(REPO / "cases" / "luad-g12c-second-line.json")],
     "--dask needs Dask: pip install 'kras-rules[dask]'"),
])
def test_an_extra_not_installed_is_a_usage_error_with_the_install_command(blocked, argv, says):
    """serve and --dask without their extras were "internal error (a bug, please report it):
    ModuleNotFoundError" (exit 3)."""
    code = ("import sys\nfor m in sys.argv[1].split(','): sys.modules[m] = None\n"
            "from engine.cli import main\nsys.exit(main(sys.argv[2:]))\n")
    done = subprocess.run([sys.executable, "-c", code, blocked, *argv], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert done.returncode == 2 and says in done.stderr and "internal error" not in done.stderr


def test_gzip_data_is_named_whatever_its_header_holds(tmp_path, capsys):
    """`gzip -c a.json > b.json` stores the file name (header flag 0x08): no NUL in the first four
    bytes, so it was read as text ("Expecting value", or one not_utf8 record a line)."""
    import gzip

    named = tmp_path / "named.json"
    with open(named, "wb") as raw, gzip.GzipFile(filename="a.json", mode="wb", fileobj=raw) as gz:
        gz.write(good(1).encode() + b"\n")
    assert named.read_bytes()[3] == 0x08 and b"\x00" not in named.read_bytes()[:4]
    lines = tmp_path / "c.jsonl"
    lines.write_bytes(named.read_bytes())
    assert main(["evaluate", "--format", "tsv", str(named), str(lines)]) == 1
    rows = [row.split("\t") for row in capsys.readouterr().out.splitlines()[1:]]
    assert [(r[0], r[-2]) for r in rows] == [
        (str(named), "the file is gzip-compressed: decompress it, or give it a name ending .gz"),
        (f"{lines}:1", "the file is gzip-compressed: decompress it, or give it a name ending .gz")]


def test_a_clinicians_word_for_a_fixed_value_is_offered_that_value(engine):
    """"stage IV", "PD", "VUS", "1L", "inherited" got no suggestion: close spellings only."""
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "LUAD", "stage": "Stage IV",
                         "alterations": [{"gene": "BRCA2", "variant": "E1953*", "origin": "inherited", "classification": "VUS"}],
                         "prior_therapies": [{"drugs": ["FOLFOX"], "setting": "1L", "outcome": "PD"}]})
    assert {p.path: p.suggestion for p in info.value.problems} == {
        ("stage",): "metastatic", ("alterations", 0, "origin"): "germline",
        ("alterations", 0, "classification"): "uncertain_significance",
        ("prior_therapies", 0, "setting"): "metastatic", ("prior_therapies", 0, "outcome"): "progression"}
    assert "(got 'PD'; did you mean 'progression'?)" in info.value.render()


def test_one_broken_pretty_printed_case_is_one_error_from_a_file_and_from_stdin(tmp_path, capsys, monkeypatch):
    """A missing comma in a pretty-printed case whose alterations sit one a line: two indented
    whole objects in its first ten lines read it as JSON Lines (13 error records for one case);
    on standard input any broken pretty-printed case gave one error a line."""
    text = ('{\n  "id": "x",\n  "cancer_type": "LUAD"\n  "alterations": [\n    {"gene": "KRAS", "variant": "G12C"},\n'
            '    {"gene": "KRAS", "variant": "G13D", "acquired": true}\n  ],\n'
            '  "prior_therapies": [\n    {"drugs": ["Krazati"], "outcome": "progression"}\n  ]\n}\n')
    f = tmp_path / "case.json"
    f.write_text(text, encoding="utf-8")
    assert main(["evaluate", "--format", "json", str(f)]) == 1
    (rec,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "line 4, column 3: Expecting ',' delimiter" in rec["error"][0]["message"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert main(["evaluate", "--format", "json", "-"]) == 1
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_why_reads_a_gzip_case_file_as_evaluate_does(tmp_path, capsys):
    import gzip

    f = tmp_path / "c.json.gz"
    f.write_bytes(gzip.compress((REPO / "cases" / "luad-g12c-second-line.json").read_bytes()))
    assert main(["why", str(f), "sotorasib"]) == 0
    assert capsys.readouterr().out.startswith("sotorasib: eligible")
    f.write_bytes(f.read_bytes()[:60])  # (cut: cannot be read, exit 2 as for a missing file)
    assert main(["why", str(f), "sotorasib"]) == 2
    assert "cannot read: Compressed file ended" in capsys.readouterr().err


def test_suggestions_are_values_the_case_format_takes(engine):
    """Offers that would themselves be refused: "KRAS, NRAS" as one gene, "KRAS G12C" as a list
    of alterations (objects), weeks "0012" (not JSON) or "9999" (over 1000), a top-level
    "outcome" (an unknown field) offered 'progression' as if to rename it."""
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "LUAD", "tested_genes": "KRAS, NRAS", "alterations": "KRAS G12C", "outcome": "PD",
                         "prior_therapies": [{"drugs": ["FOLFOX"], "weeks": "0012"}, {"drugs": ["FOLFOX"], "weeks": "9999"}]})
    found = {p.path: p.suggestion for p in info.value.problems}
    assert found == {("tested_genes",): '["KRAS", "NRAS"]', ("alterations",): None, ("outcome",): None,
                     ("prior_therapies", 0, "weeks"): "12", ("prior_therapies", 1, "weeks"): None}


def test_a_bad_field_no_longer_hides_the_rest_and_the_problems_of_one_case_are_bounded(engine):
    """A bad as_of, weeks or yes/no hid every other problem (a second run was needed); ten
    thousand alterations wrong the same way gave ten thousand problems (an error record of 1.8 MB,
    more than an input line may be)."""
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "LUAD", "as_of": "2025/06/01", "stage": "Stage IV", "germline_tested": "yes"})
    assert {p.path for p in info.value.problems} == {("as_of",), ("stage",), ("germline_tested",)}
    with pytest.raises(CaseError) as info:
        engine.evaluate({"cancer_type": "LUAD", "alterations": [{"gene": "KRAS", "variant": "G12C", "origin": "x"}] * 10_000})
    assert len(info.value.problems) == 21 and info.value.problems[-1].message == (
        "9,980 more problem(s) not listed: the first 20 are reported")
    assert len(info.value.render()) < 5_000


@pytest.mark.parametrize("written", ["20250601", "2025-W23-1", "2025-6-1"])
def test_as_of_on_the_command_line_is_written_yyyy_mm_dd_as_in_a_case(capsys, written):
    """--as-of took what Python's ISO reader takes (20250601, a week date) where a case's as_of
    and why's --as-of refuse them."""
    assert main(["evaluate", "--as-of", written, str(REPO / "cases" / "luad-g12c-second-line.json")]) == 2
    assert f"not a date: '{written}'" in capsys.readouterr().err


def test_pretty_printed_cases_joined_are_a_record_each(tmp_path, capsys, monkeypatch):
    """jq '.[]' output or cat a.json b.json gave one error a line (18 for two cases); one valid
    case followed by a stray '}' was never evaluated; a case closed early by a '}' too many is one
    error, not one a line."""
    a, b = (json.loads((REPO / "cases" / n).read_text()) for n in ("luad-g12c-second-line.json", "pdac-g12d-second-line.json"))
    joined = json.dumps(a, indent=2) + "\n" + json.dumps(b, indent=2) + "\n"
    stray = json.dumps(a, indent=2) + "\n}\n"
    early = '{\n  "id": "x",\n  "cancer_type": "LUAD"\n}\n  "stage": "metastatic"\n}\n'
    # a broken case between two whole ones: the one after it was lost in the error "from line 5 on"
    middle = json.dumps(a, indent=2) + '\n{\n  "id": "q2",\n  "cancer_type": "LUAD",,\n}\n' + json.dumps(b, indent=2) + "\n"
    mid_line = json.dumps(a, indent=2).count("\n") + 2
    expect = {"joined.json": [(a["id"], None), (b["id"], None)],
              "stray.json": [(a["id"], None), (None, "no whole JSON value follows the 1 before it")],
              "early.json": [(None, "the object before it ended early and more of it follows")],
              "middle.json": [(a["id"], None), (None, f"invalid JSON from line {mid_line} to line {mid_line + 3}: not a whole "
                                                      "JSON value (the values before and after it are read)"), (b["id"], None)]}
    for name, text in (("joined.json", joined), ("stray.json", stray), ("early.json", early), ("middle.json", middle)):
        f = tmp_path / name
        f.write_text(text, encoding="utf-8")
        for argv in (["evaluate", "--format", "json", str(f)], ["evaluate", "--format", "json", "-"]):
            if argv[-1] == "-":
                monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
            main(argv)
            recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
            got = [(r.get("case_id") if "options" in r else None, None if "options" in r else r["error"][0]["message"])
                   for r in recs]
            assert [(cid, msg and next((m for _, m in expect[name] if m and m in msg), msg)) for cid, msg in got] \
                == expect[name], (name, argv[-1], got)


def test_what_the_reader_keeps_of_odd_files(tmp_path, capsys, monkeypatch):
    """A truncated .json.gz holding JSON Lines was one "cannot read" error (1,489 readable records
    lost); a .json file of JSON Lines with a raw tab in each record was one error; lines ended by
    CR alone in a .jsonl file or on stdin were one error; an error inside an array element named
    the line counted from the element."""
    import gzip

    def records(*argv):
        main(["evaluate", "--format", "json", *argv])
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    data = gzip.compress("".join(good(i) + "\n" for i in range(3000)).encode())
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(data[: len(data) * 6 // 10])
    recs = records(str(cut))
    assert len(recs) > 1_000 and all("options" in r for r in recs[:-1])
    assert recs[-1]["code"] == "unreadable" and "cannot read the rest of the file after" in recs[-1]["error"][0]["message"]
    tabs = tmp_path / "tabs.json"
    tabs.write_text("".join(f'{{"id": "t{i}", "cancer_type": "LUAD\t"}}\n' for i in range(5)), encoding="utf-8")
    assert [r["source"] for r in records(str(tabs))] == [f"{tabs}:{i}" for i in range(1, 6)]
    cut_first = tmp_path / "cut-first.json"  # JSON Lines whose first ten records were cut short: the rest read
    cut_first.write_text("".join(good(i)[:30] + "\n" for i in range(10)) + "".join(good(i) + "\n" for i in range(10, 15)))
    recs = records(str(cut_first))
    assert len(recs) == 15 and [r["source"] for r in recs[:10]] == [f"{cut_first}:{i}" for i in range(1, 11)]
    assert [r.get("case_id") for r in recs[10:]] == [f"g{i}" for i in range(10, 15)] and all("options" in r for r in recs[10:])
    cr = tmp_path / "cr.jsonl"
    cr.write_bytes("".join(good(i) + "\r" for i in range(3)).encode())
    assert [r["case_id"] for r in records(str(cr))] == ["g0", "g1", "g2"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(cr.read_bytes())))
    assert [r["case_id"] for r in records("-")] == ["g0", "g1", "g2"]
    arr = tmp_path / "arr.json"
    arr.write_text("[\n" + ",\n".join("  " + good(i) for i in range(4)) + ',\n  {"id": "bad" "x": 1}\n]\n', encoding="utf-8")
    bad = records(str(arr))[-1]
    assert bad["source"] == f"{arr}[4]" and "in the element at line 6, column" in bad["error"][0]["message"]


def test_a_shapes_offer_of_a_cancer_type_is_a_cancer_type(engine):
    """["LUADX"] was offered 'LUADX', itself unknown; the term's own offer is given instead."""
    said = {}
    for given, meant in ((["LUADX"], "LUAD"), (["LUAD"], "LUAD"), (["xyzzy"], None)):
        with pytest.raises(CaseError) as info:
            engine.evaluate({"cancer_type": given})
        (p,) = info.value.problems
        assert p.suggestion == meant, given
        said[given[0]] = p.message
    assert said["LUADX"].endswith("and 'LUADX' is no cancer type; did you mean 'LUAD'?)")
    assert said["xyzzy"].endswith("and 'xyzzy' is no cancer type)")
