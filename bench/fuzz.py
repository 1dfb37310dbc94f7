"""Fuzz the command line with generated bad records: records in = records out, no traceback, no hang.

Usage, from the repository root::

    python bench/fuzz.py                      # 100,000 records, --jobs 1 and --jobs 2
    python bench/fuzz.py --records 1000000 --jobs 2 --seed 3
    python bench/fuzz.py --emit 1000 > bad.jsonl   # the generated file, to try by hand

It writes one JSON Lines file of valid cases corrupted at the byte level (flipped, inserted and
deleted bytes, invalid UTF-8, BOMs, NULs, stray newlines and carriage returns) and at the JSON level
(duplicate keys, huge integers, deep nesting, lone surrogates, NaN, control characters, lossy
values such as ``"acquired": "yes"``, non-ASCII digits in variants, oversize strings and lists,
wrong types), runs ``python -m engine evaluate --format json --jobs N`` on it under a time limit,
and reports records in (non-blank lines, counted independently of the engine) against records
out, error records by code, tracebacks, exit code and time. Exit status 0 when every run held.

The same generators serve ``tests/test_fuzz.py`` (bounded by the hypothesis profile).
"""
from __future__ import annotations

import argparse
import codecs
import collections
import copy
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_RECORD_BYTES = 1 << 20  # the documented limit of one line (README, "Limits")

BASE_CASES = [
    {"id": "luad", "cancer_type": "LUAD", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "p.G12C"}],
     "tested_genes": ["KRAS", "EGFR", "ALK"], "prior_therapies": [{"drugs": ["carboplatin", "pemetrexed", "pembrolizumab"],
                                                                  "setting": "metastatic", "outcome": "progression", "weeks": 24}],
     "as_of": "2026-07-01"},
    {"id": "crc", "cancer_type": "colorectal cancer", "stage": "metastatic",
     "alterations": [{"gene": "KRAS", "variant": "G12D"}], "prior_therapies": [{"regimen": "FOLFOX"}, {"regimen": "FOLFIRI"}],
     "as_of": "2026-07-01"},
    {"id": "crc-g12c", "cancer_type": "COAD", "alterations": [{"gene": "KRAS", "variant": "p.Gly12Cys"}],
     "prior_therapies": [{"regimen": "FOLFOX + bevacizumab"}, {"drugs": ["irinotecan"]}], "as_of": "2026-07-01",
     "jurisdiction": "FDA"},
    {"id": "pdac", "cancer_type": "PDAC", "stage": "metastatic", "alterations": [{"gene": "KRAS", "variant": "G12D"}],
     "prior_therapies": [{"regimen": "gemcitabine/nab-paclitaxel"}], "germline_tested": True},
    {"id": "acq", "cancer_type": "NSCLC", "alterations": [{"gene": "KRAS", "variant": "G12C"},
                                                          {"gene": "KRAS", "variant": "Y96D", "acquired": True}],
     "prior_therapies": [{"drugs": ["sotorasib"], "outcome": "progression"}]},
    {"id": "braf", "cancer_type": "CRC", "alterations": [{"gene": "BRAF", "variant": "V600E"},
                                                         {"gene": "NRAS", "variant": "c.181C>A"}], "tested_genes": ["KRAS"]},
]

# --------------------------------------------------------------------------- JSON level

ODD_VALUES = [
    "yes", "no", "true", 1, 0, -1, True, False, None, 1e308, -0.0, "1e3", "", " ", [], {}, [[[]]],
    "\u0000", "\x1b[2J\x1b]0;x\x07", "\u202eevil", "\ud800", "\udfff", "G\u0661\u0662C", "G\uff11\uff12C",
    "p.G012C", "p.Gly0012Cys", "Y096D", "c.034G>T", "x" * 5000, "/".join(["carbo"] * 300), "+".join(["FOLFOX"] * 60),
    "1970-01-01", "2026-13-45", "2026-07-01T00:00", 20260701, "LUAD\n", "\t", "\U0001f9ec", "KRAS G12C",
]


def _random_value(rnd: random.Random, depth: int = 0):
    roll = rnd.random()
    if roll < 0.5 or depth > 3:
        return copy.deepcopy(rnd.choice(ODD_VALUES))  # never share a list or object between records
    if roll < 0.7:
        return [_random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    if roll < 0.85:
        return {rnd.choice(["gene", "variant", "drugs", "x", "", "\u0000"]): _random_value(rnd, depth + 1)
                for _ in range(rnd.randint(0, 3))}
    return rnd.randint(-(10 ** 20), 10 ** 20)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


def _set(root, path, value):
    if not path:
        return value
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return root


def corrupt_json(rnd: random.Random, case: dict) -> str:
    """One line: ``case`` with a few JSON-level corruptions (always a single line of text)."""
    case = json.loads(json.dumps(case))
    for _ in range(rnd.randint(1, 3)):
        kind = rnd.random()
        paths = list(_paths(case))
        path = rnd.choice(paths)
        if kind < 0.45:
            case = _set(case, path, _random_value(rnd))
        elif kind < 0.55 and isinstance(case, dict):
            case[rnd.choice(["stagee", "acquired", "as_of", "weeks", "id", "Cancer_Type"])] = _random_value(rnd)
        elif kind < 0.65 and len(json.dumps(case)) < 20_000:  # (bounded: wrapping twice squares the size)
            whole = json.loads(json.dumps(case))
            case = _set(case, path, [whole] if rnd.random() < 0.5 else {"x": _random_value(rnd)})
        elif kind < 0.75 and isinstance(case, dict) and case:
            del case[rnd.choice(list(case))]
        elif kind < 0.85 and isinstance(case, dict) and len(json.dumps(case)) < 20_000:
            case["alterations"] = [{"gene": "KRAS", "variant": "G12C"}] * rnd.choice([0, 1, 2, 2, 501])
        else:
            pass  # text-level below
    text = json.dumps(case, ensure_ascii=rnd.random() < 0.7)
    roll = rnd.random()
    if roll < 0.08 and text.startswith("{") and len(text) > 2:
        text = '{"cancer_type": "LUAD", ' + text[1:]  # a duplicate key (or a new one)
    elif roll < 0.14:
        text = text.replace("24", "9" * rnd.choice([31, 400, 5000]), 1)
    elif roll < 0.20:
        depth = rnd.choice([17, 17, 100, 100, 3000]) if rnd.random() < 0.98 else 20000
        text = text.replace("[]", "[" * depth + "]" * depth, 1) if "[]" in text else "[" * depth + text + "]" * depth
    elif roll < 0.24:
        text = text.replace("true", "NaN", 1) if "true" in text else text[:-1] + ', "weeks": Infinity}'
    elif roll < 0.28:
        text = text[: rnd.randint(0, len(text))]
    elif roll < 0.30:
        text = text + " " + text
    if len(text) > 100_000:  # keep the file small: cut (a cut record is invalid JSON)
        text = text[:100_000]
    return text.replace("\n", "\\n")


# --------------------------------------------------------------------------- byte level

_INSERTS = [b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\xef\xbb\xbf", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x80",
            b'"', b"{", b"}", b"[" * 40, b"9" * 50, b"\x1b[2J", b"\\ud800", b",", b'"id": 1, ', b"\t", b"\x85"]


def corrupt_bytes(rnd: random.Random, line: bytes) -> bytes:
    buf = bytearray(line)
    for _ in range(rnd.randint(1, 4)):
        pos = rnd.randint(0, len(buf))
        roll = rnd.random()
        if roll < 0.35 and buf:
            buf[min(pos, len(buf) - 1)] ^= rnd.randint(1, 255)
        elif roll < 0.7:
            buf[pos:pos] = rnd.choice(_INSERTS)
        elif roll < 0.9:
            del buf[pos:pos + rnd.randint(1, 30)]
        else:
            buf[pos:pos] = bytes(rnd.randint(0, 255) for _ in range(rnd.randint(1, 12)))
    return bytes(buf)


def generate(records: int, seed: int):
    """Yield ``records`` lines (bytes, no newline inside except where a byte mutation put one)."""
    rnd = random.Random(seed)
    for _ in range(records):
        case = rnd.choice(BASE_CASES)
        roll = rnd.random()
        if roll < 0.0005:  # a line over the size limit
            yield b'{"id": "' + b"x" * (MAX_RECORD_BYTES + rnd.randint(0, 1000)) + b'"}'
        elif roll < 0.1:
            yield json.dumps(case).encode()  # a valid record now and then
        elif roll < 0.55:
            yield corrupt_json(rnd, case).encode("utf-8", "surrogatepass")
        else:
            yield corrupt_bytes(rnd, json.dumps(case, ensure_ascii=rnd.random() < 0.5).encode())


def expected_records(data: bytes, at_start: bool = True) -> int:
    """Records a JSON Lines file should give, by the documented reading rules, counted without
    the engine: one per non-blank line (split on LF only); a line that is not UTF-8 or is over
    the size limit counts; a UTF-8 BOM at the start is dropped; a file starting as UTF-16 (a
    UTF-16 byte-order mark, or a NUL in the first four bytes) is one record. ``at_start``: the
    bytes begin the input (False: they follow other lines)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        return 0
    if at_start:
        head = lines[0][:4] if len(lines[0]) >= 4 or len(lines) == 1 else (lines[0] + b"\n")[:4]
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (len(head) >= 2 and b"\x00" in head[:4]):
            return 1
        if lines[0].startswith(codecs.BOM_UTF8):
            lines[0] = lines[0][3:]
    n = 0
    for raw in lines:
        if len(raw) + 1 > MAX_RECORD_BYTES:
            n += 1
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            n += 1
            continue
        if text.strip():
            n += 1
    return n


def make_file(path: Path, records: int, seed: int) -> int:
    """Write the generated records to ``path``; the records it should give (counted as written:
    each generated record ends with a newline, so each is counted on its own)."""
    expected = 0
    with open(path, "wb") as fh:
        for i, line in enumerate(generate(records, seed)):
            fh.write(line + b"\n")
            expected += expected_records(line + b"\n", at_start=i == 0)
    return expected


# --------------------------------------------------------------------------- the run


def run_cli(path: Path, jobs: int, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "engine", "evaluate", "--format", "json", "--no-progress", "--as-of", "2026-07-01",
           "--jobs", str(jobs), str(path)]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=err, env=env, timeout=timeout)
            code, hung = proc.returncode, False
        except subprocess.TimeoutExpired:
            code, hung = None, True
        seconds = time.perf_counter() - t0
        out.seek(0)
        codes: collections.Counter = collections.Counter()
        records = results = bad_json = 0
        digest = hashlib.sha256()
        for line in out:
            digest.update(line)
            records += 1
            try:
                rec = json.loads(line)
            except ValueError:
                bad_json += 1
                continue
            if "error" in rec:
                codes[rec.get("code")] += 1
            else:
                results += 1
        err.seek(0)
        stderr = err.read()
    return {"jobs": jobs, "exit": code, "hung": hung, "seconds": seconds, "records_out": records, "results": results,
            "error_codes": dict(codes.most_common()), "unparsable_output_lines": bad_json,
            "tracebacks": stderr.count(b"Traceback"), "stderr_bytes": len(stderr), "sha256": digest.hexdigest()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, action="append", help="default: 1 and 2")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds before a run counts as hung")
    ap.add_argument("--emit", type=int, metavar="N", help="write N generated lines to stdout and stop")
    args = ap.parse_args(argv)
    if args.emit:
        for line in generate(args.emit, args.seed):
            sys.stdout.buffer.write(line + b"\n")
        return 0
    ok = True
    digests = set()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.jsonl"
        expected = make_file(path, args.records, args.seed)
        print(f"generated {args.records:,} records (seed {args.seed}), {path.stat().st_size:,} bytes, "
              f"{expected:,} non-blank lines expected as records")
        for jobs in args.jobs or [1, 2]:
            r = run_cli(path, jobs, args.timeout)
            held = (not r["hung"] and r["records_out"] == expected and r["tracebacks"] == 0 and r["exit"] in (0, 1)
                    and r["unparsable_output_lines"] == 0 and r["error_codes"].get("internal_error", 0) == 0)
            ok &= held
            print(f"--jobs {jobs}: records in {expected:,}, out {r['records_out']:,} ({r['results']:,} results, "
                  f"{sum(r['error_codes'].values()):,} error records); exit {r['exit']}; tracebacks {r['tracebacks']}; "
                  f"hung: {'yes' if r['hung'] else 'no'}; {r['seconds']:.1f} s; {'OK' if held else 'FAILED'}")
            print(f"  error records by code: {json.dumps(r['error_codes'])}")
            digests.add(r["sha256"])
    if len(args.jobs or [1, 2]) > 1:
        same = len(digests) == 1
        ok &= same
        print(f"output identical across --jobs values: {'yes' if same else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
