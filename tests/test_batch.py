"""Batch evaluation: one output record per input record in input order, the same bytes on one core
and on several, crashed workers retried or recorded, resume, the cohort summary, TSV levels and
the progress line."""
from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.batch import run as batch
from engine.batch.run import Processor, run_evaluate
from engine.errors import UsageError
from engine.formats import TSV_COLUMNS
from engine.batch.parallel import CRASH_ENV, CRASH_ONCE_ENV, WorkerPool
from engine.batch.summary import KnownVariants, Summary, cohort_of

REPO = Path(__file__).resolve().parents[1]
CASES = sorted((REPO / "cases").glob("*.json"))
AS_OF = "2026-07-01"


def _args(files, **kw) -> argparse.Namespace:
    base = dict(files=[str(f) for f in files], format="json", as_of=None, backend="default", jobs=1,
                summary=False, no_progress=True, output=None, resume=False)
    base.update(kw)
    return argparse.Namespace(**base)


def _run(engine, files, stdin: str | None = None, **kw) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_evaluate(_args(files, **kw), engine, stdin=io.StringIO(stdin) if stdin is not None else None, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _cohort(tmp_path: Path, n: int, extra: list[str] = (), name: str = "cohort.jsonl") -> tuple[Path, list[str]]:
    """``n`` example cases with unique ids (cycling through cases/), plus extra raw lines."""
    lines = []
    for i, f in zip(range(n), itertools.cycle(CASES)):
        case = json.loads(f.read_text())
        case["id"] = f"{case['id']}-{i}"
        lines.append(json.dumps(case))
    lines.extend(extra)
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p, lines


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 4 records, so a few dozen cases already spread over several workers."""
    monkeypatch.setattr(batch, "CHUNK", 4)


BAD_JSON = "{not json"
TYPO = json.dumps({"id": "typo", "cancer_type": "NSCLCC"})
UNKNOWN_FIELD = json.dumps({"id": "field", "cancer_type": "LUAD", "stagee": "metastatic"})


# --------------------------------------------------------------------------- nothing lost


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_input_line_gives_one_record_in_input_order(tmp_path, engine, small_chunks, jobs):
    f, lines = _cohort(tmp_path, 30, [BAD_JSON, TYPO, "", UNKNOWN_FIELD])
    f.write_text(f.read_text() + "\n\n" + json.dumps(json.loads(lines[0]) | {"id": "last"}) + "\n")
    code, out, err = _run(engine, [f], jobs=jobs)
    assert code == 1
    recs = [json.loads(l) for l in out.splitlines()]
    assert len(recs) == 30 + 3 + 1  # blank lines are not records
    assert [r["case_id"] for r in recs[:30]] == [json.loads(l)["id"] for l in lines[:30]]
    assert recs[30]["case_id"] is None and recs[30]["source"] == f"{f}:31" and "invalid JSON" in recs[30]["error"][0]["message"]
    assert recs[31]["case_id"] == "typo" and recs[31]["error"][0]["suggestion"] == "NSCLC"
    assert recs[32]["case_id"] == "field" and "unknown field 'stagee'" in recs[32]["error"][0]["message"]
    assert recs[33]["case_id"] == "last" and "options" in recs[33]
    assert f"{f}:32: cancer_type: unknown cancer type 'NSCLCC' (did you mean 'NSCLC'?)" in err
    assert err.count("\n") == 3  # one message per bad record, nothing else


@pytest.mark.parametrize("fmt", ["json", "tsv", "text"])
def test_parallel_output_is_byte_identical_to_one_core(tmp_path, engine, small_chunks, fmt):
    f, _ = _cohort(tmp_path, 45, [TYPO])
    one = _run(engine, [f], jobs=1, format=fmt, as_of=AS_OF)
    two = _run(engine, [f], jobs=2, format=fmt, as_of=AS_OF)
    assert one[0] == two[0] == 1
    assert one[1] == two[1] and one[1]
    assert one[2] == two[2]


def test_rerun_gives_the_same_bytes_and_json_is_the_api_object(tmp_path, engine):
    f, lines = _cohort(tmp_path, 2 * len(CASES))
    code, out, _ = _run(engine, [f], as_of=AS_OF)
    assert (code, out) == _run(engine, [f], as_of=AS_OF)[:2]
    for text, line in zip(out.splitlines(), lines, strict=True):
        assert text == engine.evaluate(json.loads(line), as_of=AS_OF).to_json()


def test_stdin_jsonl_and_json_array_files_mix(tmp_path, engine):
    arr = tmp_path / "arr.json"
    arr.write_text(json.dumps([json.loads(CASES[0].read_text()), {"cancer_type": "LUADD"}]))
    stdin = CASES[1].read_text().replace("\n", " ") + "\n" + BAD_JSON + "\n"
    code, out, err = _run(engine, [arr, "-"], stdin=stdin)
    recs = [json.loads(l) for l in out.splitlines()]
    assert code == 1 and len(recs) == 4
    assert [r.get("source") for r in recs] == [None, f"{arr}[1]", None, "<stdin>:2"]
    assert f"{arr}[1]: cancer_type: unknown cancer type 'LUADD'" in err


def test_an_unexpected_exception_is_one_error_record_and_the_batch_goes_on(tmp_path, engine, monkeypatch):
    f, lines = _cohort(tmp_path, 3)
    real = engine.normalise

    def flaky(payload, **kw):
        norm = real(payload, **kw)
        if norm.id.endswith("-1"):
            raise ZeroDivisionError("boom")
        return norm

    monkeypatch.setattr(engine, "normalise", flaky)
    code, out, err = _run(engine, [f])
    recs = [json.loads(l) for l in out.splitlines()]
    assert code == 1 and len(recs) == 3
    assert "options" in recs[0] and "options" in recs[2]
    assert recs[1]["error"][0]["message"] == "internal error: ZeroDivisionError: boom"


# --------------------------------------------------------------------------- crashed workers


def test_a_case_that_crashes_its_worker_twice_becomes_an_error_record(tmp_path, engine, small_chunks, monkeypatch):
    f, lines = _cohort(tmp_path, 24)
    marked = [i for i, l in enumerate(lines) if "crc-kras-g12d" in l]
    assert marked
    monkeypatch.setenv(CRASH_ENV, '"crc-kras-g12d-')
    code, out, err = _run(engine, [f], jobs=2, as_of=AS_OF)
    monkeypatch.delenv(CRASH_ENV)
    recs = [json.loads(l) for l in out.splitlines()]
    assert code == 1 and len(recs) == 24
    for i, r in enumerate(recs):
        if i in marked:
            assert r["case_id"] == json.loads(lines[i])["id"]
            assert r["error"][0]["message"].startswith("worker process died (SIGSEGV)")
        else:
            assert "options" in r, r
    assert "retrying those 4 records one at a time" in err
    assert "recorded as an error" in err
    # every other record is exactly what a run without crashes gives
    _, clean, _ = _run(engine, [f], jobs=1, as_of=AS_OF)
    assert [l for i, l in enumerate(out.splitlines()) if i not in marked] == [
        l for i, l in enumerate(clean.splitlines()) if i not in marked
    ]


def test_a_case_that_crashes_once_is_retried_and_evaluated(tmp_path, engine, small_chunks, monkeypatch):
    f, _ = _cohort(tmp_path, 20)
    monkeypatch.setenv(CRASH_ENV, '"crc-g12c-drug-names-')
    monkeypatch.setenv(CRASH_ONCE_ENV, str(tmp_path / "crashed-once"))
    code, out, err = _run(engine, [f], jobs=2, as_of=AS_OF)
    monkeypatch.delenv(CRASH_ENV)
    assert (tmp_path / "crashed-once").exists() and "SIGSEGV" in err
    assert code == 0
    assert out == _run(engine, [f], jobs=1, as_of=AS_OF)[1]


def test_a_crash_retries_only_the_chunk_being_evaluated(engine, monkeypatch):
    """A worker holds two chunks at once (the one it evaluates and the next): when it dies, only
    the first is suspect and retried record by record; the other was not started and is evaluated
    as a whole chunk, its records not counted as crashed."""
    line = CASES[0].read_text().replace("\n", " ")
    bad = line.replace('"id": "', '"id": "boom-', 1)
    assert bad != line
    chunks = [[("a:1", line), ("a:2", bad), ("a:3", line)], [("b:1", line), ("b:2", line)], [("c:1", line)]]
    monkeypatch.setenv(CRASH_ENV, '"boom-')
    err = io.StringIO()
    with WorkerPool(Processor(engine, "tsv"), 1, messages=err) as pool:  # one worker: it holds two chunks
        out = [[b.records for b in blocks] for blocks, _ in pool.map(iter(chunks))]
        assert pool.crashes == 3  # the chunk, then the record alone twice
    monkeypatch.delenv(CRASH_ENV)
    assert out == [[1, 1, 1], [2], [1]]  # the first chunk retried one record at a time, the second whole
    said = err.getvalue()
    assert "evaluating a:1 .. a:3: retrying those 3 records one at a time" in said
    assert "evaluating a:2 2 times: recorded as an error" in said
    assert "b:" not in said and "c:" not in said


def test_the_pool_reads_a_bounded_window_ahead(engine):
    pulled = 0
    line = CASES[0].read_text().replace("\n", " ")

    def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield [(f"x:{pulled}", line)]

    with WorkerPool(Processor(engine, "tsv"), 2, window=5) as pool:
        for done, (blocks, _) in enumerate(pool.map(endless()), 1):
            assert [b.records for b in blocks] == [1] and blocks[0].data.startswith(b"chol-kras-g12c\t")
            assert pulled - done <= 5
            if done == 40:
                break


# --------------------------------------------------------------------------- resume


def test_resume_keeps_complete_records_and_finishes_the_rest(tmp_path, engine, small_chunks):
    f, _ = _cohort(tmp_path, 25, [TYPO])
    for fmt in ("json", "tsv"):
        full = tmp_path / f"full.{fmt}"
        part = tmp_path / f"part.{fmt}"
        assert run_evaluate(_args([f], format=fmt, as_of=AS_OF, output=str(full)), engine, err=io.StringIO()) == 1
        text = full.read_text()
        # an interrupted run: 11 complete lines and half of the next
        cut = sum(len(l) + 1 for l in text.split("\n")[:11]) + 40
        part.write_text(text[:cut])
        err = io.StringIO()
        code = run_evaluate(_args([f], format=fmt, as_of=AS_OF, output=str(part), resume=True, jobs=2), engine, err=err)
        assert code == 1
        assert part.read_text() == text
        assert err.getvalue().count("NSCLCC") == 1  # only the records evaluated now are reported


def test_resume_of_a_finished_file_does_nothing(tmp_path, engine):
    f, _ = _cohort(tmp_path, 5)
    out = tmp_path / "out.jsonl"
    run_evaluate(_args([f], as_of=AS_OF, output=str(out)), engine, err=io.StringIO())
    before = out.read_text()
    assert run_evaluate(_args([f], as_of=AS_OF, output=str(out), resume=True), engine, err=io.StringIO()) == 0
    assert out.read_text() == before


@pytest.mark.parametrize("written, resumed", [("json", "tsv"), ("tsv", "json")])
def test_resume_of_an_output_of_the_other_format_is_a_usage_error_that_writes_nothing(tmp_path, engine, written, resumed):
    f, _ = _cohort(tmp_path, 6)
    out = tmp_path / "out"
    run_evaluate(_args([f], format=written, as_of=AS_OF, output=str(out)), engine, err=io.StringIO())
    out.write_bytes(out.read_bytes()[:-30])  # interrupted: a partial last line
    before = out.read_bytes()
    with pytest.raises(UsageError) as exc:
        run_evaluate(_args([f], format=resumed, as_of=AS_OF, output=str(out), resume=True), engine, err=io.StringIO())
    assert str(out) in str(exc.value) and f"--format {written}" in str(exc.value)
    assert out.read_bytes() == before


def test_resume_of_a_file_that_holds_no_records_of_ours_is_a_usage_error(tmp_path, engine):
    f, _ = _cohort(tmp_path, 2)
    # notes; a pretty-printed case (its first line "{" too); a blank first line before records
    records = run_evaluate(_args([f], format="json", output=str(tmp_path / "full.json")), engine, err=io.StringIO())
    assert records == 0
    full = (tmp_path / "full.json").read_text()
    for i, text in enumerate(("my notes\n", json.dumps({"id": "c", "cancer_type": "LUAD"}, indent=2) + "\n",
                              "\n" + full)):
        out = tmp_path / f"notes{i}.txt"
        out.write_text(text)
        for fmt in ("json", "tsv"):
            with pytest.raises(UsageError, match="neither JSON records nor TSV rows"):
                run_evaluate(_args([f], format=fmt, output=str(out), resume=True), engine, err=io.StringIO())
        assert out.read_text() == text


@pytest.mark.parametrize("fmt", ["json", "tsv"])
def test_resume_of_an_output_with_more_records_than_the_input_is_a_usage_error(tmp_path, engine, fmt):
    f, lines = _cohort(tmp_path, 6)
    out = tmp_path / "out"
    run_evaluate(_args([f], format=fmt, as_of=AS_OF, output=str(out)), engine, err=io.StringIO())
    out.write_bytes(out.read_bytes() + b'{"partial')
    before = out.read_bytes()
    fewer = tmp_path / "fewer.jsonl"
    fewer.write_text("\n".join(lines[:4]) + "\n")
    with pytest.raises(UsageError, match=r"holds 6 records, more than the input has \(4\)") as exc:
        run_evaluate(_args([fewer], format=fmt, as_of=AS_OF, output=str(out), resume=True), engine, err=io.StringIO())
    assert str(out) in str(exc.value)
    assert out.read_bytes() == before  # not even the partial line cut


@pytest.mark.parametrize("fmt", ["json", "tsv"])
@pytest.mark.parametrize("junk", ["garbage{", '{"foo": 1}', "a\tb", '{"case_id": "c1", "options": []'])
def test_resume_of_an_output_with_a_line_that_is_no_record_of_ours_is_a_usage_error(tmp_path, engine, fmt, junk):
    """A line changed after it was written (junk, another program's JSON, a row of other columns)
    would be kept as a finished record, and the input record it stood for never evaluated."""
    f, _ = _cohort(tmp_path, 6)
    out = tmp_path / "out"
    run_evaluate(_args([f], format=fmt, as_of=AS_OF, output=str(out)), engine, err=io.StringIO())
    lines = out.read_text().splitlines(keepends=True)
    lines[3] = junk + "\n"
    out.write_text("".join(lines[:5]))
    before = out.read_bytes()
    with pytest.raises(UsageError, match=r"its line 4 is not a (JSON record of this program|TSV row of 23 columns)") as exc:
        run_evaluate(_args([f], format=fmt, as_of=AS_OF, output=str(out), resume=True), engine, err=io.StringIO())
    assert str(out) in str(exc.value)
    assert out.read_bytes() == before


def test_resume_needs_an_output_file_and_a_line_format(tmp_path, engine):
    from engine.errors import UsageError

    with pytest.raises(UsageError, match="output file"):
        run_evaluate(_args([CASES[0]], resume=True), engine)
    with pytest.raises(UsageError, match="json or tsv"):
        run_evaluate(_args([CASES[0]], resume=True, output=str(tmp_path / "o.txt"), format="text"), engine)


# --------------------------------------------------------------------------- summary


def _unknown_gene(engine) -> str:
    known = KnownVariants(engine.program).genes
    return next(g for g in sorted(engine.rulebase.vocab.genes) if g not in known and g.isalnum())


def test_summary_counts_cancer_types_verdicts_errors_and_unknown_variants(tmp_path, engine, small_chunks):
    gene = _unknown_gene(engine)
    odd = json.dumps({"id": "odd", "cancer_type": "LUAD", "alterations": [{"gene": gene, "variant": "amplification"}]})
    f, lines = _cohort(tmp_path, 16, [odd, TYPO])
    results = [engine.evaluate(json.loads(l)) for l in lines[:17]]
    code, _, err = _run(engine, [f], jobs=1, summary=True, format="tsv")
    assert code == 1
    assert f"Summary of {f}: 18 cases, 17 evaluated, 1 error" in err
    counts = {}
    for r in results:
        counts[r.cancer_type] = counts.get(r.cancer_type, 0) + 1
    for code_, n in counts.items():
        assert any(l.split()[:2] == [code_, str(n)] for l in err.splitlines()), code_
    for therapy in {o.therapy for r in results for o in r.options}:
        row = next(l.split() for l in err.splitlines() if l.split()[:1] == [therapy])
        expected = [sum(1 for r in results for o in r.options if o.therapy == therapy and o.verdict == v)
                    for v in ("eligible", "conditional", "consider", "not_eligible", "excluded")]
        assert row[1:] == [str(n) if n else "-" for n in expected]
    assert "Variants no rule knows" in err and f"{gene} amplification" in err
    assert "unknown cancer type 'NSCLCC'" in err
    # the same summary from the worker pool
    assert _run(engine, [f], jobs=2, summary=True, format="tsv")[2] == err


def test_known_variants_come_from_the_rules(engine):
    known = KnownVariants(engine.program)
    norm = engine.normalise({"cancer_type": "LUAD", "alterations": [
        {"gene": "KRAS", "variant": "G12C"}, {"gene": _unknown_gene(engine), "variant": "amplification"}]})
    g12c, other = sorted(norm.alterations, key=lambda a: a.gene != "KRAS")
    assert known.known(g12c) and not known.known(other)


def test_summary_merges_and_survives_pickling(engine):
    import pickle

    r = engine.evaluate(json.loads(CASES[0].read_text()))
    a, b = Summary(engine), Summary(engine)
    a.add(r, cohort="c1")
    b.add(r, cohort="c1")
    b.add(None, {"source": "c2:3", "error": [{"path": "", "message": "broken", "suggestion": None}]})
    merged = pickle.loads(pickle.dumps(a)).merge(pickle.loads(pickle.dumps(b)))
    assert merged.cohorts["c1"].cases == 2 and merged.cohorts["c1"].cancer_types[r.cancer_type] == 2
    assert merged.cohorts["c2"].errors == 1
    text = merged.render()
    assert "Summary of all cohorts: 3 cases, 2 evaluated, 1 error" in text


def test_cohort_of_source():
    assert cohort_of("a/b.jsonl:12") == "a/b.jsonl"
    assert cohort_of("b.json[3]") == "b.json"
    assert cohort_of("<stdin>:4") == "<stdin>"
    assert cohort_of("c.json") == "c.json"


def test_a_directory_is_one_cohort(engine, tmp_path):
    _, _, err = _run(engine, [REPO / "cases"], summary=True)
    assert f"Summary of {REPO / 'cases'}: {len(CASES)} cases" in err
    assert err.count("Summary of") == 1


# --------------------------------------------------------------------------- TSV


_ORDER = ["R1", "1", "2", "3A", "3B", "4", "R2"]


def test_tsv_levels_follow_the_options(engine, tmp_path):
    code, out, _ = _run(engine, CASES, format="tsv")
    rows = [l.split("\t") for l in out.splitlines()]
    assert rows[0] == TSV_COLUMNS
    col = {c: i for i, c in enumerate(TSV_COLUMNS)}
    assert len(rows) == len(CASES) + 1
    seen_resistance = seen_both = False
    for row, f in zip(rows[1:], CASES, strict=True):
        res = engine.evaluate(json.loads(f.read_text()))
        assert row[col["case_id"]] == res.case_id
        leveled = {}
        for o in res.options:
            if any(c.kind == "gate" and c.status == "unknown" and c.id.startswith(o.rules[0] + "/") for c in o.criteria):
                continue  # no level while the deciding rule's biomarker gate is unknown
            if o.verdict in ("eligible", "conditional", "consider") and o.oncokb_level in _ORDER[1:6]:
                leveled.setdefault(o.oncokb_level, []).append(o.therapy)
            elif o.verdict == "excluded" and o.oncokb_level in ("R1", "R2"):
                leveled.setdefault(o.oncokb_level, []).append(o.therapy)
        for lv in _ORDER:
            assert sorted(filter(None, row[col[f"level_{lv}"]].split(","))) == sorted(leveled.get(lv, [])), (f.name, lv)
        first = next((lv for lv in _ORDER if lv in leveled), None)
        assert row[col["highest_level"]] == (f"LEVEL_{first}" if first else "")
        sens = next((lv for lv in _ORDER[1:6] if lv in leveled), None)
        assert row[col["highest_sensitive_level"]] == (f"LEVEL_{sens}" if sens else "")
        for v in ("eligible", "conditional", "consider", "not_eligible", "excluded"):
            assert (row[col[v]].split(",") if row[col[v]] else []) == [o.therapy for o in res.options if o.verdict == v]
        not_eligible = {o.therapy for o in res.options if o.verdict == "not_eligible"}
        in_levels = {t for lv in _ORDER for t in row[col[f"level_{lv}"]].split(",") if t}
        assert not (not_eligible & in_levels)
        seen_resistance |= "R1" in leveled
        seen_both |= "R1" in leveled and "1" in leveled
    assert seen_resistance and seen_both  # the example cases exercise the R1-over-1 ordering


def test_tsv_error_row_names_the_case_and_the_problem(engine):
    code, out, _ = _run(engine, ["-"], stdin=TYPO + "\n", format="tsv")
    row = dict(zip(TSV_COLUMNS, out.splitlines()[1].split("\t"), strict=True))
    assert code == 1 and row["case_id"] == "typo"
    assert row["error"].startswith("cancer_type: unknown cancer type 'NSCLCC'")
    assert row["highest_level"] == ""


# --------------------------------------------------------------------------- progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("no_progress", [False, True])
def test_progress_line_only_on_a_terminal_and_not_when_disabled(tmp_path, engine, no_progress):
    f, _ = _cohort(tmp_path, 5)
    err = _Tty()
    run_evaluate(_args([f], no_progress=no_progress), engine, out=io.StringIO(), err=err)
    if no_progress:
        assert err.getvalue() == ""
    else:
        assert "\r5 cases  0 errors" in err.getvalue() and "cases/s  100%" in err.getvalue()
        assert err.getvalue().endswith("\n")
    plain = io.StringIO()  # not a terminal: never a progress line
    run_evaluate(_args([f], no_progress=False), engine, out=io.StringIO(), err=plain)
    assert plain.getvalue() == ""


def test_jobs_must_be_positive(engine):
    from engine.errors import UsageError

    with pytest.raises(UsageError, match="at least 1"):
        run_evaluate(_args([CASES[0]], jobs=0), engine)


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_a_killed_run_resumes_to_the_same_output(tmp_path, engine):
    import signal
    import subprocess
    import sys
    import time

    f, _ = _cohort(tmp_path, 3000)
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    run_evaluate(_args([f], as_of=AS_OF, output=str(full), jobs=1), engine, err=io.StringIO())
    script = (
        "import argparse, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from engine.api import Engine\n"
        "from engine.batch.run import run_evaluate\n"
        f"ns = argparse.Namespace(files=[{str(f)!r}], format='json', as_of={AS_OF!r}, backend='default', jobs=2,\n"
        f"                        summary=False, no_progress=True, output={str(part)!r}, resume=False)\n"
        "run_evaluate(ns, Engine())\n"
    )
    p = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while p.poll() is None and time.monotonic() < deadline:
        if part.exists() and part.stat().st_size > 200_000:
            workers = _children(p.pid)
            p.send_signal(signal.SIGKILL)  # no chance to tidy up: workers are orphaned mid-chunk
            break
        time.sleep(0.01)
    p.wait()
    assert workers
    deadline = time.monotonic() + 20
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)], "orphaned workers did not exit"
    written = part.read_bytes()
    assert 0 < len(written) < full.stat().st_size
    code = run_evaluate(_args([f], as_of=AS_OF, output=str(part), resume=True, jobs=2), engine, err=io.StringIO())
    assert code == 0
    assert part.read_bytes() == full.read_bytes()


def test_the_benchmark_generator_makes_valid_cases_from_the_rules(engine):
    import importlib.util

    spec = importlib.util.spec_from_file_location("kras_bench", REPO / "bench" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    gen = bench.Generator(engine, seed=7)
    cases = gen.cases(400)
    assert bench.check(engine, cases) == 0
    assert len({c["cancer_type"] for c in cases}) > 10
    assert sum(1 for c in cases if c.get("alterations")) > 300
    # and the hand-written floor agrees with the engine where it gives a sure verdict
    agree = total = 0
    for c in gen.cases(8000, start=400):  # (about one case in fifty gets a sure verdict of the floor's)
        norm = engine.normalise(c)
        got = {o.therapy: o.verdict for o in engine.evaluate(norm).options}
        for therapy, verdict in bench.floor(norm).items():
            total += 1
            agree += got.get(therapy) == verdict
    assert total > 100 and agree / total > 0.9


def test_resume_from_the_command_line(tmp_path):
    """`evaluate -o FILE --resume` finishes a cut-off output file to the bytes of a full run."""
    from engine.cli import main

    src = tmp_path / "in.jsonl"
    cases = [{"id": f"c{i}", "cancer_type": "LUAD" if i % 2 else "COADREAD",
              "alterations": [{"gene": "KRAS", "variant": "G12C" if i % 3 else "G12D"}], "as_of": "2026-06-30"}
             for i in range(40)]
    src.write_text("".join(json.dumps(c) + "\n" for c in cases))
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    assert main(["evaluate", "--format", "json", "-o", str(full), str(src)]) == 0
    data = full.read_bytes()
    part.write_bytes(data[: len(data) // 3 + 17])  # a run killed mid-line
    assert main(["evaluate", "--format", "json", "-o", str(part), "--resume", str(src)]) == 0
    assert part.read_bytes() == data


def test_a_worker_connection_asks_for_a_buffer_that_holds_a_chunk_of_results(engine):
    """Each end of a worker's connection gets a socket buffer of PIPE_BUFFER where the system
    allows it (net.core.wmem_max), so a chunk's output crosses in a few reads."""
    import multiprocessing as mp
    import socket

    from engine.batch import parallel

    parent, child = mp.get_context("fork").Pipe(duplex=True)
    try:
        def size(conn, opt):
            s = socket.socket(fileno=os.dup(conn.fileno()))
            try:
                return s.getsockopt(socket.SOL_SOCKET, opt)
            finally:
                s.close()

        opts = (socket.SO_SNDBUF, socket.SO_RCVBUF)
        before = {(i, opt): size(end, opt) for i, end in enumerate((parent, child)) for opt in opts}
        for end in (parent, child):
            parallel._widen(end)
        after = {(i, opt): size(end, opt) for i, end in enumerate((parent, child)) for opt in opts}
        assert all(after[k] >= before[k] for k in before)  # never less than the system gave
        try:
            caps = [int(Path(f"/proc/sys/net/core/{n}").read_text()) for n in ("wmem_max", "rmem_max")]
        except (OSError, ValueError):
            caps = [0]
        if min(caps) >= parallel.PIPE_BUFFER:
            assert all(v >= parallel.PIPE_BUFFER > before[k] for k, v in after.items())
        parent.send_bytes(b"x" * 1000)  # still a working connection
        assert child.recv_bytes() == b"x" * 1000
    finally:
        parent.close()
        child.close()
    parallel._widen(parent)  # a closed connection: nothing happens, nothing raised
    if min(caps) >= parallel.PIPE_BUFFER:  # and the pool's connections are widened
        with WorkerPool(Processor(engine, "json"), 1) as pool:
            conn = pool.workers[0].conn
            assert size(conn, socket.SO_SNDBUF) >= parallel.PIPE_BUFFER and size(conn, socket.SO_RCVBUF) >= parallel.PIPE_BUFFER


@pytest.mark.parametrize("fmt", ["json", "tsv"])
def test_no_reuse_evaluates_every_case_and_writes_the_same(tmp_path, engine, monkeypatch, fmt):
    f, lines = _cohort(tmp_path, 3 * len(CASES))  # every example case three times, under new ids
    calls = []
    step = "decide" if fmt == "tsv" else "evaluate"  # (a TSV row reads only the decided fields)
    real = getattr(engine, step)
    monkeypatch.setattr(engine, step, lambda norm, **kw: (calls.append(1), real(norm, **kw))[1])
    code, reused, _ = _run(engine, [f], format=fmt)
    assert code == 0 and calls == []  # the store answers, or evaluates (recording) without evaluate
    code, evaluated, _ = _run(engine, [f], format=fmt, no_reuse=True)
    assert code == 0 and len(calls) == len(lines)
    assert reused == evaluated and len(reused.splitlines()) == len(lines) + (fmt == "tsv")  # (a header)


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf_8", "ascii", "latin-1"])
@pytest.mark.parametrize("fmt", ["json", "tsv"])
def test_a_chunk_is_its_records_in_the_output_streams_encoding(engine, encoding, fmt):
    """A chunk's bytes are its records' texts, joined and written in the output stream's encoding
    (characters it cannot show as backslash escapes), whether the records were kept as texts or, as
    JSON records are inside a batch, as UTF-8 bytes: results, error records (which are texts) and
    records reused from earlier cases mixed in one chunk."""
    cases = [json.loads(f.read_text()) for f in CASES]
    items = [(f"in:{i}", c) for i, c in enumerate(cases)]
    items += [(f"in:{i}", dict(c, id=f"again-{i}-é")) for i, c in enumerate(cases)]  # reused, a non-ASCII id
    items += [("bad:1", "{not json"), ("bad:2", {"id": "x", "cancer_type": ""}), ("bad:3", "[1, 2]")]
    p = Processor(engine, fmt)
    p.encoding = encoding
    block = p.chunk(items)
    texts = [Processor(engine, fmt, reuse=False)(s, x)[0] for s, x in items]
    assert block.data == "".join(texts).encode(encoding, "backslashreplace")
    assert block.records == len(items) and block.errors == 3
    assert p.reuse is None or p.reuse.total_reused >= len(cases) // 2


@pytest.mark.parametrize("fmt", ["json", "tsv", "text"])
def test_a_chunk_read_a_group_at_a_time_is_its_records_one_at_a_time(engine, monkeypatch, fmt):
    """A chunk reads the cases of a group of records (READ_AHEAD of them, fewer once their lines
    reach READ_AHEAD_CHARS) before evaluating each: its bytes, messages and counts, the summary
    (its order too) and the records the store reuses are those of the records taken one at a
    time, results and error records of every kind mixed, texts and decoded values."""
    monkeypatch.setattr(batch, "READ_AHEAD", 5)
    cases = [json.loads(f.read_text()) for f in CASES]
    items: list = []
    for i, c in enumerate(cases):
        items.append((f"a.jsonl:{i}", json.dumps(dict(c, id=f"a{i}"))))
        if i % 7 == 0:
            items.append((f"b.jsonl:{i}", BAD_JSON))
        if i % 11 == 0:
            items.append((f"b.jsonl:{i}", TYPO))
        if i % 13 == 0:
            items.append((f"b.jsonl:{i}", dict(c, id=f"d{i}")))  # a decoded value (the API's side)
    items += [(f"c.jsonl:{i}", json.dumps(dict(c, id=f"again{i}"))) for i, c in enumerate(cases)]  # reused
    items.insert(40, ("c.jsonl:long", json.dumps(dict(cases[0], id="x" * 150)) + " " * batch.READ_AHEAD_CHARS))
    grouped, single = Processor(engine, fmt, summary=True), Processor(engine, fmt, summary=True)
    block = grouped.chunk(items)
    expected = single.block([single.record(s, p) for s, p in items])
    assert block == expected and block.records == len(items) and block.errors == len(range(0, len(cases), 7)) + len(range(0, len(cases), 11))
    assert grouped.summary.render() == single.summary.render()
    if grouped.reuse is not None:
        assert (grouped.reuse.total_seen, grouped.reuse.total_reused) == (single.reuse.total_seen, single.reuse.total_reused)
        assert grouped.reuse.total_reused >= len(cases) // 2


@functools.cache
def _record_pool() -> tuple:
    """Records of every kind a batch meets (see the property below)."""
    cases = [json.loads(f.read_text()) for f in CASES[:12]]
    return (*[json.dumps(dict(c, id=f"p{i}")) for i, c in enumerate(cases)],  # results
            *[json.dumps(dict(c, id="same")) for c in cases[:3]],  # reused records, an id repeated
            dict(cases[0], id="decoded"), BAD_JSON, TYPO, UNKNOWN_FIELD, "[1, 2]", "",
            '{"id": ' + "[" * 3000 + "]" * 3000 + ', "cancer_type": "LUAD"}',  # too deep
            json.dumps(dict(cases[1], id="long")) + " " * 70_000)  # past the one-step parse's size


@settings(max_examples=25)
@given(picks=st.lists(st.integers(min_value=0, max_value=29), min_size=1, max_size=40),
       ahead=st.integers(min_value=1, max_value=9), fmt=st.sampled_from(["json", "tsv", "text"]))
def test_any_chunk_is_its_records_one_at_a_time(engine, picks, ahead, fmt):
    """Whatever records a chunk holds, in whatever order, and however many cases it reads ahead:
    its bytes, messages, counts and summary are those of its records taken one at a time."""
    pool = _record_pool()
    items = [(f"in.jsonl:{i + 1}", pool[k % len(pool)]) for i, k in enumerate(picks)]
    saved = batch.READ_AHEAD
    batch.READ_AHEAD = ahead  # (not monkeypatch: hypothesis runs many examples in one test call)
    try:
        grouped, single = Processor(engine, fmt, summary=True), Processor(engine, fmt, summary=True)
        block = grouped.chunk(items)
    finally:
        batch.READ_AHEAD = saved
    assert block == single.block([single.record(s, x) for s, x in items])
    assert grouped.summary.render() == single.summary.render()


# --------------------------------------------------------------------------- the output and the inputs


def test_an_output_file_that_is_an_input_is_a_usage_error_and_the_input_is_kept(tmp_path):
    """`-o x.jsonl x.jsonl` would empty the input before reading it (and `--resume` would count
    every line as done): a usage error before anything is opened for writing, however the same
    file is named (another spelling, a link, the folder holding it, standard input)."""
    from engine.cli import main

    src, _ = _cohort(tmp_path, 3)
    data = src.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(src)
    dangling = tmp_path / "dangling.jsonl"  # a link in the folder to a file outside it, not made yet
    dangling.symlink_to(tmp_path.parent / f"{tmp_path.name}-elsewhere.jsonl")
    for output, inputs in ((src, [src]), (src, [tmp_path / "." / src.name]), (link, [src]),
                           (src, [tmp_path]), (tmp_path / "new.jsonl", [tmp_path]), (dangling, [tmp_path])):
        for resume in ([], ["--resume"]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(["evaluate", "--format", "json", "-o", str(output), *resume, *map(str, inputs)])
            assert code == 2, (output, inputs, resume)
            assert "input" in err.getvalue() and str(output.name) in err.getvalue()
            assert src.read_bytes() == data and not (tmp_path / "new.jsonl").exists()
            assert not dangling.exists()  # (nothing written where the link leads)
    with src.open("rb") as fh:  # `-o x.jsonl - < x.jsonl`
        with pytest.raises(UsageError, match="standard input"):
            run_evaluate(_args(["-"], output=str(src)), None, stdin=io.TextIOWrapper(fh), out=io.StringIO())
    assert src.read_bytes() == data
    # another file of the folder is fine
    out = tmp_path / "elsewhere" / "out.jsonl"
    out.parent.mkdir()
    assert main(["evaluate", "--format", "json", "-o", str(out), str(src)]) == 0


def test_a_redirected_standard_output_that_is_an_input_is_a_usage_error(tmp_path):
    src, _ = _cohort(tmp_path, 2)
    data = src.read_bytes()
    with src.open("ab") as fh:  # `evaluate x.jsonl >> x.jsonl` would read its own results back
        proc = subprocess.run([sys.executable, "-m", "engine", "evaluate", "--format", "json", str(src)],
                              stdout=fh, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 2 and "standard output is also an input file" in proc.stderr
    assert src.read_bytes() == data


class _FillingDisk(io.RawIOBase):
    """A disk with room for ``room`` bytes."""

    def __init__(self, room: int):
        self.room, self.data = room, bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # what fits, then ENOSPC
        n = min(len(b), self.room - len(self.data))
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.data += bytes(b)[:n]
        return n


def test_a_full_disk_is_a_usage_error_naming_the_output_not_a_crash(tmp_path, engine):
    from engine.cli import main

    src, lines = _cohort(tmp_path, 40)
    for output in ("/dev/full",):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main(["evaluate", "--format", "json", "-o", output, str(src)]) == 2
        assert "cannot write the output file '/dev/full': No space left on device" in err.getvalue()
        assert "internal error" not in err.getvalue()
    # what was written before the disk filled up is whole records and a cut one, as a killed run
    _, full, _ = _run(engine, [src], as_of=AS_OF)
    disk = _FillingDisk(len(full) // 2)
    out = io.TextIOWrapper(io.BufferedWriter(disk, buffer_size=4096), encoding="utf-8")
    with pytest.raises(UsageError, match="cannot write standard output: No space left on device"):
        run_evaluate(_args([src], as_of=AS_OF), engine, out=out, err=io.StringIO())
    assert 0 < len(disk.data) <= len(full) // 2 and full.encode().startswith(bytes(disk.data))
    # standard output on a full disk: the same, from the command line, and nothing after it
    for fmt in ("json", "tsv", "text"):
        with open("/dev/full", "wb") as full_dev:
            proc = subprocess.run([sys.executable, "-m", "engine", "evaluate", "--format", fmt, str(src)],
                                  stdout=full_dev, stderr=subprocess.PIPE, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().endswith("cannot write standard output: No space left on device"), proc.stderr
        assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


def test_a_folder_gives_a_broken_link_its_error_record_and_leaves_out_sub_folders(tmp_path, engine):
    """A broken link named `*.json` in a folder is the "no such file" record it is when named, not
    skipped; sub-folders (not named as case files) and names not in lower case are left out, as the
    README says."""
    folder = tmp_path / "cohort"
    folder.mkdir()
    (folder / "a.json").write_text(CASES[0].read_text())
    (folder / "b.jsonl").symlink_to(tmp_path / "gone.jsonl")
    (folder / "sub").mkdir()
    (folder / "sub" / "c.json").write_text(CASES[0].read_text())
    (folder / "D.JSON").write_text(CASES[0].read_text())
    code, out, _ = _run(engine, [folder])
    records = [json.loads(x) for x in out.splitlines()]
    assert code == 1 and len(records) == 2
    assert records[1]["source"] == str(folder / "b.jsonl") and records[1]["code"] == "unreadable"
    _, named, _ = _run(engine, [folder / "b.jsonl"])
    assert json.loads(named)["error"] == records[1]["error"]


def test_a_folder_entry_with_a_case_files_name_that_is_no_file_is_an_error_record_and_nothing_is_opened(tmp_path, engine):
    """A sub-folder, a named pipe and a link to a device, each named `*.json` in an input folder:
    one error record each saying what it is (they were left out without a word). The pipe is not
    opened: reading it would wait for a writer. Named on the command line, a pipe is read."""
    folder = tmp_path / "cohort"
    folder.mkdir()
    (folder / "a.json").write_text(CASES[0].read_text())
    (folder / "b.json").mkdir()
    os.mkfifo(folder / "c.json")
    (folder / "d.json").symlink_to(os.devnull)
    code, out, _ = _run(engine, [folder])
    records = [json.loads(x) for x in out.splitlines()]
    assert code == 1 and [r["source"] if "error" in r else "case" for r in records] == [
        "case", str(folder / "b.json"), str(folder / "c.json"), str(folder / "d.json")]
    assert [r["code"] for r in records[1:]] == ["unreadable"] * 3
    words = [r["error"][0]["message"] for r in records[1:]]
    assert words[0].startswith("a folder with a case file's name") and "sub-folders of an input folder are not searched" in words[0]
    assert words[1].startswith("a named pipe, not a case file") and words[2].startswith("a device, not a case file")
    from engine.distributed.bag import partitions

    assert [p[0] for p in partitions([str(folder)])] == ["whole", "entry", "entry", "entry"]


def test_an_input_with_no_record_is_said_on_stderr_and_is_no_error(engine, tmp_path):
    empty = tmp_path / "cohort.jsonl"
    empty.write_text("", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(files=[str(empty)], format="json", as_of=None, backend="default", jobs=1, summary=False,
                              no_progress=True, no_reuse=False, output=None, resume=False, dask=None, brief=False,
                              detail=False)
    assert run_evaluate(args, engine, out=out, err=err) == 0
    assert out.getvalue() == "" and f"{empty}: no records" in err.getvalue()


def test_a_fusion_written_from_both_partners_is_not_a_variant_no_rule_knows(engine):
    from engine.batch.summary import Summary

    both = {"id": "f", "cancer_type": "LUAD", "alterations": [
        {"gene": "ALK", "variant": "fusion", "partner": "EML4"}, {"gene": "EML4", "variant": "fusion", "partner": "ALK"}]}
    alone = {"id": "g", "cancer_type": "LUAD", "alterations": [{"gene": "EML4", "variant": "fusion", "partner": "KIF5B"}]}
    s = Summary(engine)
    for case in (both, alone):
        s.add(engine.evaluate(case), case=engine.normalise(case))
    unknown = s.total().unknown_variants
    # the ALK fusion seen from EML4's side is the one the rules read; an EML4 fusion of another partner is not
    assert dict(unknown) == {"EML4 fusion": 1}, unknown  # (the case with KIF5B only)
