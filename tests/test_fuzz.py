"""Fuzzing the batch: valid JSON Lines corrupted at the byte level and at the JSON level.

Whatever the input holds, ``evaluate`` writes exactly one output record per non-blank input line
(a result, or an error record with a code from :data:`engine.errors.ERROR_CODES`), never a
traceback, and exits 0 (every record evaluated) or 1 (some record was an error). And every
accepted spelling of one protein change gives one verdict (a metamorphic property).

Bounded for CI (100 examples a test under the ``ci`` profile, a few seconds each). The long run:
``KRAS_HYPOTHESIS_PROFILE=long python -m pytest tests/test_fuzz.py`` (100,000 examples a test,
over a million corrupted records in all; about an hour on one core). ``bench/fuzz.py`` pushes 100,000+ generated bad records
through the real command line with ``--jobs 1`` and ``--jobs 2``.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.batch.run import run_evaluate
from engine.errors import ERROR_CODES, CaseError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from fuzz import BASE_CASES, corrupt_json, expected_records  # noqa: E402

VALID = [json.dumps(c).encode() for c in BASE_CASES]
# ci: 100 examples a test (a few seconds each); long: the profile's 100,000 a test
_PROFILE = settings.default.max_examples
FUZZ = settings(max_examples=min(100, _PROFILE) if _PROFILE <= 1_000 else _PROFILE)


def _args(files, **kw) -> argparse.Namespace:
    base = dict(files=[str(f) for f in files], format="json", as_of=None, backend="default", jobs=1,
                summary=False, no_progress=True, output=None, resume=False)
    base.update(kw)
    return argparse.Namespace(**base)


def run_bytes(engine, data: bytes, where: str = "file") -> tuple[int, str, str]:
    """Evaluate ``data`` as a ``.jsonl`` file or as standard input (with a byte buffer)."""
    out, err = io.StringIO(), io.StringIO()
    if where == "stdin":
        stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        code = run_evaluate(_args(["-"], as_of="2026-07-01"), engine, stdin=stdin, out=out, err=err)
        return code, out.getvalue(), err.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "fuzz.jsonl"
        f.write_bytes(data)
        code = run_evaluate(_args([f], as_of="2026-07-01"), engine, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def check_output(code: int, out: str, err: str, n: int) -> None:
    recs = [json.loads(line) for line in out.splitlines()]
    assert len(recs) == n
    errors = [r for r in recs if "error" in r]
    assert code == (1 if errors else 0)
    for r in errors:
        assert r["code"] in ERROR_CODES and r["code"] != "internal_error", r
    assert "Traceback" not in err


# --------------------------------------------------------------------------- byte level

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.integers(1, 40)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.sampled_from(
        [b"\n", b"\r", b"\x00", b"\xff", b"\xef\xbb\xbf", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\\ud800", b'"',
         b"{", b"[" * 50, b"9" * 60, b"\x1b[2J", b"\\u0000", b",", b'"id":1,'])),
)


def apply(data: bytes, muts) -> bytes:
    buf = bytearray(data)
    for kind, pos, arg in muts:
        pos = pos % (len(buf) + 1)
        if kind == "flip" and buf:
            buf[min(pos, len(buf) - 1)] ^= arg
        elif kind == "insert":
            buf[pos:pos] = arg
        elif kind == "delete":
            del buf[pos:pos + arg]
    return bytes(buf)


@FUZZ
@given(picks=st.lists(st.integers(0, len(VALID) - 1), min_size=1, max_size=6),
       muts=st.lists(mutation, min_size=1, max_size=6), bom=st.booleans())
def test_byte_level_corruption_gives_one_record_per_line(engine, picks, muts, bom):
    data = b"\n".join(VALID[i] for i in picks) + b"\n"
    data = apply((b"\xef\xbb\xbf" if bom else b"") + data, muts)
    code, out, err = run_bytes(engine, data)
    check_output(code, out, err, expected_records(data))


@FUZZ
@given(picks=st.lists(st.integers(0, len(VALID) - 1), min_size=1, max_size=6),
       muts=st.lists(mutation, min_size=1, max_size=6))
def test_byte_level_corruption_on_stdin_gives_one_record_per_line(engine, picks, muts):
    # standard input is JSON Lines when its first line is one object; the rest is corrupted
    rest = apply(b"\n".join(VALID[i] for i in picks) + b"\n", muts)
    code, out, err = run_bytes(engine, VALID[0] + b"\n" + rest, "stdin")
    check_output(code, out, err, 1 + expected_records(rest, at_start=False))


# --------------------------------------------------------------------------- JSON level


@FUZZ
@given(st.data())
def test_json_level_corruption_gives_one_record_per_line(engine, data):
    lines = [corrupt_json(data.draw(st.randoms(use_true_random=False)), c) for c in BASE_CASES[:4]]
    payload = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    code, out, err = run_bytes(engine, payload)
    check_output(code, out, err, expected_records(payload))


# --------------------------------------------------------------------------- the real command line


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cli_with_corrupt_records_one_out_per_line_in(tmp_path, jobs, monkeypatch):
    from fuzz import make_file

    f = tmp_path / "bad.jsonl"
    n = make_file(f, records=1_500, seed=7)
    env = dict(os.environ, PYTHONPATH=str(REPO), KRAS_RULES_CACHE="off")
    r = subprocess.run([sys.executable, "-m", "engine", "evaluate", "--format", "json", "--jobs", jobs,
                        "--as-of", "2026-07-01", str(f)], capture_output=True, env=env, timeout=300)
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    assert len(r.stdout.splitlines()) == n


# --------------------------------------------------------------------------- metamorphic: one change, one verdict

THREE = {"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly", "H": "His",
         "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp",
         "Y": "Tyr", "V": "Val"}
CHANGES = [("KRAS", "G", 12, "C"), ("KRAS", "G", 12, "D"), ("KRAS", "G", 13, "D"), ("KRAS", "Q", 61, "H"),
           ("KRAS", "Y", 96, "D"), ("KRAS", "R", 68, "S"), ("KRAS", "H", 95, "Q"), ("NRAS", "Q", 61, "R"),
           ("BRAF", "V", 600, "E"), ("EGFR", "L", 858, "R"), ("KRAS", "A", 146, "T")]
DIGITS = ["\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19"]


@st.composite
def spelling(draw, change):
    gene, ref, pos, alt = change
    zeros = "0" * draw(st.integers(0, 3))
    digits = zeros + str(pos)
    if draw(st.integers(0, 9)) == 0:  # other digits: rejected, never read as another change
        table = draw(st.sampled_from(DIGITS))
        digits = "".join(table[int(c)] for c in digits)
    three = draw(st.booleans())
    r, a = (THREE[ref], THREE[alt]) if three else (ref, alt)
    case = draw(st.sampled_from([str.upper, str.lower, lambda s: s])) if not three else (lambda s: s)
    body = case(r) + digits + case(a)
    if draw(st.booleans()):
        body = f"({body})" if draw(st.booleans()) else body
        body = "p." + body
    if draw(st.booleans()):
        body = f"{gene}{draw(st.sampled_from([' ', ':', '_']))}{body}"
    return body


@FUZZ
@given(data=st.data(), acquired=st.booleans())
def test_every_accepted_spelling_of_a_change_gives_one_verdict(engine, data, acquired):
    change = data.draw(st.sampled_from(CHANGES))
    gene, ref, pos, alt = change
    canonical = f"{ref}{pos}{alt}"
    text = data.draw(spelling(change))
    base = {"cancer_type": data.draw(st.sampled_from(["LUAD", "COAD", "PAAD"])), "stage": "metastatic",
            "prior_therapies": [{"drugs": ["carboplatin", "pemetrexed"]}], "as_of": "2026-07-01"}
    alts = [{"gene": "KRAS", "variant": "G12C"}] if gene != "KRAS" or pos != 12 else []

    def verdicts(variant):
        case = base | {"alterations": alts + [{"gene": gene, "variant": variant, "acquired": acquired}]}
        return {o.therapy: (o.verdict, o.rules) for o in engine.evaluate(case).options}

    try:
        got = verdicts(text)
    except CaseError as exc:
        assert not text.isascii(), f"{text!r} rejected: {exc}"
        assert any("digits other than 0-9" in p.message for p in exc.problems)
        return
    assert text.isascii()
    assert got == verdicts(canonical)
