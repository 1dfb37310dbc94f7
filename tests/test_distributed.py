"""The Dask integration on a LocalCluster of two worker processes: the same records as the local
batch (results and error records, in input order), the rule base loaded once per worker, the
``--dask`` command line. Every wait is bounded."""
from __future__ import annotations

import argparse
import io
import itertools
import json
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
import dask.bag as db  # noqa: E402

from engine.batch import run as batch  # noqa: E402
from engine.batch.run import run_evaluate  # noqa: E402
from engine.cli import build_parser  # noqa: E402
from engine.distributed import evaluate_bag, evaluate_files, partitions  # noqa: E402
from engine.distributed import pool as dpool  # noqa: E402
from engine.distributed import worker  # noqa: E402
from engine.formats import tsv_header  # noqa: E402
from engine.batch.parallel import CRASH_ENV  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CASES = sorted((REPO / "cases").glob("*.json"))
WAIT = 180  # seconds: no test waits longer for its cluster


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, timeout=WAIT) as c:
        c.wait_for_workers(2, timeout=WAIT)
        yield c


def _compute(client, bag) -> list[str]:
    return list(client.compute(bag).result(timeout=WAIT))


def _cohort(tmp_path: Path) -> Path:
    """Example cases, generated-looking variations and every kind of bad line, with blank lines,
    a CRLF line and non-ASCII text, in one JSON Lines file."""
    lines = []
    for i, f in zip(range(150), itertools.cycle(CASES)):
        case = json.loads(f.read_text())
        case["id"] = f"{case['id']}-{i}"
        if i % 7 == 0:
            case.pop("id")  # named after its source
        lines.append(json.dumps(case, ensure_ascii=i % 2 == 0))
    lines[3] = "{not json"
    lines[10] = json.dumps({"id": "typo", "cancer_type": "NSCLCC"})
    lines[11] = json.dumps({"id": "naïve-ü", "cancer_type": "LUAD", "stagee": "metastatic"}, ensure_ascii=False)
    lines[12] = "[1, 2]"
    lines[20] = ""
    lines[21] = "   "
    lines[30] = lines[30] + "\r"
    data = "\n".join(lines).encode("utf-8")
    data = data.replace(b'"NSCLCC"', b'"NSCLC\xff"', 1)  # a line that is not UTF-8
    p = tmp_path / "cohort.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + data)  # a BOM first, no line break last
    return p


def _args(files, **kw) -> argparse.Namespace:
    base = dict(files=[str(f) for f in files], format="json", as_of=None, backend="default", jobs=1,
                summary=False, no_progress=True, output=None, resume=False, rules=None, dask=None)
    base.update(kw)
    return argparse.Namespace(**base)


def _local(engine, files, **kw) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    remote = dpool.DaskPool if kw.get("dask") else None
    code = run_evaluate(_args(files, **kw), engine, out=out, err=err, remote=remote)
    return code, out.getvalue(), err.getvalue()


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_evaluate_files_gives_the_local_batch_records_in_order(client, engine, tmp_path):
    cohort = _cohort(tmp_path)
    files = [str(cohort), str(REPO / "cases"), str(tmp_path / "missing.json")]
    parts = partitions(files, lines=16)
    assert sum(p[0] == "lines" for p in parts) > 5  # the JSON Lines file is cut into many partitions
    got = _compute(client, evaluate_files(files, lines=16))
    code, out, _ = _local(engine, files)
    assert code == 1
    want = _lines(out)
    assert got == want
    assert len(want) == 150 - 2 + len(CASES) + 1  # every non-blank line, every case file, the missing one
    errors = [e for e in map(json.loads, got) if "error" in e]
    assert {e["source"].rsplit(":", 1)[-1] for e in errors if e["source"].startswith(str(cohort))} >= {"4", "11", "12", "13"}


def test_partitions_of_one_line_and_of_a_few(client, engine, tmp_path):
    cohort = _cohort(tmp_path)
    want = _lines(_local(engine, [cohort])[1])
    for n in (1, 7):
        parts = partitions([cohort], lines=n)
        assert [p[5] for p in parts] == list(range(1, 151, n))  # first line of each part
        assert parts[0][3] == 0 and all(a[4] == b[3] for a, b in zip(parts, parts[1:], strict=False))
        assert parts[-1][4] == cohort.stat().st_size
    assert _compute(client, evaluate_files([cohort], lines=1)) == want


def test_evaluate_files_tsv_at_a_date(client, engine, tmp_path):
    cohort = _cohort(tmp_path)
    got = _compute(client, evaluate_files([cohort], fmt="tsv", as_of="2024-06-21", lines=40))
    _, out, _ = _local(engine, [cohort], format="tsv", as_of=__import__("datetime").date(2024, 6, 21))
    assert [tsv_header()] + got == _lines(out)


def test_evaluate_files_under_another_jurisdiction(client, engine, tmp_path):
    cohort = _cohort(tmp_path)
    got = _compute(client, evaluate_files([cohort], fmt="tsv", jurisdiction="ema", lines=40))
    _, out, _ = _local(engine, [cohort], format="tsv", jurisdiction="EMA")
    assert [tsv_header()] + got == _lines(out)
    assert {row.rsplit("\t", 1)[-1] for row in got} == {"EMA", ""}  # (errors name none)
    with pytest.raises(Exception, match="unknown jurisdiction 'EU'"):
        evaluate_files([cohort], jurisdiction="EU")


def test_evaluate_bag_of_cases_and_pairs(client, engine, tmp_path):
    cohort = _cohort(tmp_path)
    pairs = list(batch.RawInput([str(cohort)]))  # (source, raw line or error) as the local batch reads them
    got = _compute(client, evaluate_bag(db.from_sequence(pairs, npartitions=7)))
    assert got == _lines(_local(engine, [cohort])[1])
    # plain case dicts: named <bag>:PARTITION:ITEM, records in the same order
    cases = [json.loads(f.read_text()) for f in CASES]
    for c in cases[:3]:
        c.pop("id", None)
    got = _compute(client, evaluate_bag(db.from_sequence(cases, npartitions=3)))
    assert len(got) == len(cases)
    want = [engine.evaluate(c, default_id="x").model_dump_json() for c in cases[3:]]
    assert got[3:] == want
    assert json.loads(got[0])["case_id"] == "<bag>:0:1"


def test_each_worker_loads_the_rule_base_once(client, engine, tmp_path):
    cohort = _cohort(tmp_path)
    for _ in range(2):
        _compute(client, evaluate_files([cohort], lines=8))
    loads = client.run(worker.loaded, wait=True)
    assert len(loads) == 2
    for keys in loads.values():
        assert len(keys) == len(set(keys)) and keys  # each rule base once per process


@pytest.mark.parametrize("fmt", ["json", "tsv", "text"])
def test_cli_dask_is_byte_identical_to_the_local_batch_with_its_summary(cluster, client, engine, tmp_path, fmt, monkeypatch):
    monkeypatch.setattr(batch, "CHUNK", 16)
    cohort = _cohort(tmp_path)
    files = [cohort, REPO / "cases"]
    want = _local(engine, files, format=fmt, summary=True)
    got = _local(engine, files, format=fmt, summary=True, dask=cluster.scheduler_address)
    assert got == want


def test_cli_dask_resumes_an_output_file(cluster, client, engine, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "CHUNK", 16)
    cohort = _cohort(tmp_path)
    full, part = tmp_path / "full.tsv", tmp_path / "part.tsv"
    _local(engine, [cohort], format="tsv", output=str(full))
    data = full.read_bytes()
    part.write_bytes(data[: len(data) // 2])
    _local(engine, [cohort], format="tsv", output=str(part), resume=True, dask=cluster.scheduler_address)
    assert part.read_bytes() == data


def test_cli_flag_is_parsed_and_the_local_address_form_checked():
    args = build_parser().parse_args(["evaluate", "--dask", "tcp://127.0.0.1:8786", "x.jsonl"])
    assert args.dask == "tcp://127.0.0.1:8786"
    from engine.errors import UsageError

    with pytest.raises(UsageError, match="number of workers"):
        dpool.connect("local:two")


def test_a_case_that_kills_its_worker_becomes_an_error_record(engine, tmp_path, monkeypatch):
    cohort = _cohort(tmp_path)
    lines = cohort.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b"{", b'{"crash_me": 1, ', 1)
    cohort.write_bytes(b"\n".join(lines))
    monkeypatch.setattr(batch, "CHUNK", 32)
    monkeypatch.setenv(CRASH_ENV, "crash_me")
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                      silence_logs=50) as cluster:
            code, out, err = _local(engine, [cohort], dask=cluster.scheduler_address)
    monkeypatch.delenv(CRASH_ENV)
    got = _lines(out)
    _, want, _ = _local(engine, [cohort])
    want = _lines(want)
    assert code == 1 and len(got) == len(want)
    bad = json.loads(got[5])
    assert bad["source"] == f"{cohort}:6" and "worker process died" in bad["error"][0]["message"]
    assert bad["code"] == "worker_crashed"
    assert got[:5] == want[:5] and got[6:] == want[6:]
    assert "retrying" in err


def test_a_worker_thread_keeps_its_store_of_reused_records_from_task_to_task():
    from engine.distributed.worker import Options, RuleSource, processor

    src = RuleSource("shipped")
    first, second = processor(src, Options("json")), processor(src, Options("json"))
    assert first is not second and first.reuse is second.reuse is not None
    tsv = processor(src, Options("tsv"))
    assert tsv.reuse is not None and tsv.reuse is not first.reuse
    assert processor(src, Options("json", reuse=False)).reuse is None
    # another thread has its own
    import threading

    got = []
    t = threading.Thread(target=lambda: got.append(processor(src, Options("json")).reuse))
    t.start()
    t.join()
    assert got[0] is not None and got[0] is not first.reuse


def test_a_worker_thread_keeps_one_store_and_a_task_without_reuse_leaves_it_alone():
    """A worker thread keeps the store of its latest options only (memory stays one store a
    thread); a task that does not reuse records gets none and leaves the thread's store as it is."""
    from engine.distributed.worker import Options, RuleSource, processor

    src = RuleSource("shipped")
    first = processor(src, Options("json")).reuse
    assert processor(src, Options("json", reuse=False)).reuse is None
    assert processor(src, Options("json")).reuse is first
    assert processor(src, Options("tsv")).reuse is not None
    again = processor(src, Options("json")).reuse
    assert again is not None and again is not first  # the tsv task's store replaced it
